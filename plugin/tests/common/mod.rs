//! Runs the real tshark with the freshly built plugin.
//!
//! tshark run as root ignores personal plugin folders and
//! WIRESHARK_PLUGIN_DIR, so when the tests run as root, tshark runs as
//! `nobody`. WIRESHARK_PLUGIN_DIR points at a throwaway tree holding only
//! the freshly built plugin (`<dir>/<major.minor>/epan/mailscope.so`): it
//! replaces the global plugin folder, so a mailscope installed system-wide
//! can neither shadow the build under test nor register `mail` twice.
//! Captures are copied into the same throwaway folder, so every parent
//! folder is readable.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub struct Tshark {
    home: PathBuf,
    as_nobody: bool,
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The cdylib cargo built beside this test binary.
fn plugin_library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let path = dir.join("libmailscope.so");
    assert!(
        path.exists(),
        "{} was not built: run `cargo build -p mailscope-plugin` first",
        path.display()
    );
    // `cargo test` does not rebuild a cdylib: refuse one older than its sources.
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).unwrap();
    let built = modified(&path);
    let mut sources = vec![root().join("fields.table")];
    let mut dirs = vec![root().join("src"), root().join("plugin/src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                sources.push(path);
            }
        }
    }
    for source in sources {
        assert!(
            modified(&source) <= built,
            "{} is older than {}: run `cargo build -p mailscope-plugin` first",
            path.display(),
            source.display()
        );
    }
    path
}

fn wireshark_series() -> String {
    let out = Command::new("tshark")
        .arg("--version")
        .output()
        .expect("tshark is installed");
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text
        .split_whitespace()
        .nth(2)
        .expect("tshark prints its version");
    let mut parts = version.split('.');
    format!("{}.{}", parts.next().unwrap(), parts.next().unwrap())
}

pub fn tshark() -> &'static Tshark {
    static TSHARK: OnceLock<Tshark> = OnceLock::new();
    TSHARK.get_or_init(|| {
        let uid = Command::new("id").arg("-u").output().unwrap();
        let as_nobody = String::from_utf8_lossy(&uid.stdout).trim() == "0";
        remove_stale_homes();
        let home = std::env::temp_dir().join(format!("mailscope-tshark-{}", std::process::id()));
        let plugins = home.join("plugins").join(wireshark_series()).join("epan");
        std::fs::create_dir_all(&plugins).unwrap();
        std::fs::create_dir_all(home.join("captures")).unwrap();
        std::fs::copy(plugin_library(), plugins.join("mailscope.so")).unwrap();
        if as_nobody {
            let status = Command::new("chmod")
                .arg("-R")
                .arg("a+rwX")
                .arg(&home)
                .status()
                .unwrap();
            assert!(status.success());
        }
        Tshark { home, as_nobody }
    })
}

/// The TCP settings under which TCP hands subdissectors every segment.
pub const TCP_PREFS: [&str; 4] = [
    "-o",
    "tcp.no_subdissector_on_error:FALSE",
    "-o",
    "tcp.desegment_tcp_streams:FALSE",
];

/// Removes the throwaway folders of earlier test runs whose process is gone.
fn remove_stale_homes() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("mailscope-tshark-") else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            std::fs::remove_dir_all(entry.path()).ok();
        }
    }
}

pub struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Tshark {
    /// Copies a capture where tshark's user can read it.
    pub fn stage(&self, capture: &Path) -> PathBuf {
        let name = capture.to_string_lossy().replace(['/', '\\'], "_");
        let dest = self.home.join("captures").join(name);
        if !dest.exists() {
            std::fs::copy(capture, &dest).unwrap();
            if self.as_nobody {
                Command::new("chmod")
                    .arg("a+r")
                    .arg(&dest)
                    .status()
                    .unwrap();
            }
        }
        dest
    }

    /// The private global plugin folder: only the plugin under test is in it.
    fn plugin_dir(&self) -> PathBuf {
        self.home.join("plugins")
    }

    /// Runs tshark with no plugin at all (Wireshark as it comes), on a capture.
    pub fn without_plugin(&self, capture: &Path, args: &[&str]) -> Output {
        let empty = self.home.join("no-plugins");
        std::fs::create_dir_all(&empty).unwrap();
        let staged = self.stage(capture);
        let path = staged.to_string_lossy().into_owned();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-r", &path]);
        self.run_with_plugin_dir(&empty, &all)
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with_plugin_dir(&self.plugin_dir(), args)
    }

    fn run_with_plugin_dir(&self, plugin_dir: &Path, args: &[&str]) -> Output {
        let mut command = if self.as_nobody {
            let mut c = Command::new("runuser");
            c.args(["-u", "nobody", "--", "env"])
                .arg(format!("HOME={}", self.home.display()))
                .arg(format!("WIRESHARK_PLUGIN_DIR={}", plugin_dir.display()))
                .arg("tshark");
            c
        } else {
            let mut c = Command::new("tshark");
            c.env("HOME", &self.home)
                .env("WIRESHARK_PLUGIN_DIR", plugin_dir);
            c
        };
        let out = command
            .args(args)
            .current_dir(&self.home)
            .output()
            .expect("tshark runs");
        Output {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs tshark on a capture (staged first) at Wireshark's default
    /// preferences, as users meet it; `args` come before `-r`.
    pub fn on(&self, capture: &Path, args: &[&str]) -> Output {
        let staged = self.stage(capture);
        let mut all: Vec<&str> = args.to_vec();
        let path = staged.to_string_lossy().into_owned();
        all.extend(["-r", &path]);
        self.run(&all)
    }

    /// As `on`, with TCP told to hand subdissectors every segment
    /// (out-of-order, retransmitted and "spurious retransmission" ones too).
    pub fn on_every_segment(&self, capture: &Path, args: &[&str]) -> Output {
        let mut all: Vec<&str> = TCP_PREFS.to_vec();
        all.extend(args);
        self.on(capture, &all)
    }
}

/// Every fixture capture of the project.
pub fn fixtures() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root().join("fixtures")).unwrap() {
        let dir = entry.unwrap().path();
        for name in ["capture.pcap", "capture.pcapng"] {
            if dir.join(name).exists() {
                out.push(dir.join(name));
            }
        }
    }
    out.sort();
    out
}

/// Every capture in `../shared/pcaps`, when it is there.
pub fn shared_captures() -> Vec<PathBuf> {
    let dir = root().parent().unwrap().join("shared/pcaps");
    mailscope_harness::capture::find_captures(&dir)
}

fn unescape_xml(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let end = rest[at..]
            .find(';')
            .map(|e| at + e)
            .unwrap_or(rest.len() - 1);
        let entity = &rest[at + 1..end];
        match entity {
            "quot" => out.push('"'),
            "amp" => out.push('&'),
            "lt" => out.push('<'),
            "gt" => out.push('>'),
            "apos" => out.push('\''),
            e if e.starts_with("#x") => out.extend(
                u32::from_str_radix(&e[2..], 16)
                    .ok()
                    .and_then(char::from_u32),
            ),
            e if e.starts_with('#') => {
                out.extend(e[1..].parse::<u32>().ok().and_then(char::from_u32))
            }
            other => out.push_str(&format!("&{other};")),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = start + tag[start..].find('"')?;
    Some(unescape_xml(&tag[start..end]))
}

/// PDML shows a boolean as `1`/`0` up to Wireshark 4.2 and as
/// `True`/`False` from 4.4 on; the tests compare the 4.0 form.
fn normalise_bool(abbrev: &str, shown: String) -> String {
    let is_bool = mailscope::Field::ALL
        .iter()
        .any(|f| f.abbrev() == abbrev && f.kind() == mailscope::FieldKind::Bool);
    match shown.as_str() {
        "True" if is_bool => "1".to_string(),
        "False" if is_bool => "0".to_string(),
        _ => shown,
    }
}

/// `(frame, [(field, shown value)])` for every frame with `mail.*` fields, from `-T pdml`.
pub fn pdml_mail_fields(pdml: &str) -> Vec<(u64, Vec<(String, String)>)> {
    let mut out = Vec::new();
    for packet in pdml.split("<packet>").skip(1) {
        let mut frame = 0;
        let mut fields = Vec::new();
        for tag in packet.split('<').filter(|t| t.starts_with("field ")) {
            let Some(name) = attribute(tag, "name") else {
                continue;
            };
            if name == "frame.number" {
                frame = attribute(tag, "show")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
            }
            if name.starts_with("mail.") {
                let shown = attribute(tag, "show").unwrap_or_default();
                let shown = normalise_bool(&name, shown);
                fields.push((name, shown));
            }
        }
        if !fields.is_empty() {
            out.push((frame, fields));
        }
    }
    out
}
