//! Wireshark with the plugin, on traffic that is not mail and with mailscope
//! turned off: every frame shows as it does without the plugin.

mod common;
#[path = "../../harness/tests/common/not_mail.rs"]
mod not_mail;

use std::path::{Path, PathBuf};

use common::{fixtures, root, tshark};
use not_mail::NOT_MAIL;

fn not_mail_captures() -> Vec<PathBuf> {
    let mut out = vec![root().join("fixtures/not-mail-lookalikes/capture.pcap")];
    let shared = root().parent().unwrap().join("shared/pcaps");
    out.extend(
        NOT_MAIL
            .iter()
            .map(|p| shared.join(p))
            .filter(|p| p.exists()),
    );
    out
}

/// What users see of every frame, as the summary line shows it (from
/// Wireshark 4.4 on, `-e _ws.col.*` is taken before postdissectors run):
/// its number, protocols, Protocol and Info columns.
const COLUMNS: [&str; 4] = [
    "-T",
    "tabs",
    "-o",
    "gui.column.format:\"No.\",\"%m\",\"Protocols\",\"%Cus:frame.protocols\",\"Protocol\",\"%p\",\"Info\",\"%i\"",
];

fn with_and_without(capture: &Path, args: &[&str]) -> (String, String) {
    let ours = tshark().on(capture, args);
    let theirs = tshark().without_plugin(capture, args);
    assert_eq!(ours.status, 0, "{}: {}", capture.display(), ours.stderr);
    assert_eq!(theirs.status, 0, "{}: {}", capture.display(), theirs.stderr);
    (ours.stdout, theirs.stdout)
}

/// Claimed at an EHLO, then shown to be FTP by PASV and 227: from there on,
/// and on every frame of a second pass, Wireshark shows it as without the plugin.
#[test]
fn a_connection_shown_to_be_ftp_is_released() {
    let capture = root().join("fixtures/not-mail-released/capture.pcap");
    let mut two_pass = vec!["-2"];
    two_pass.extend(COLUMNS);
    let (ours, theirs) = with_and_without(&capture, &two_pass);
    assert_eq!(ours, theirs);
    assert_eq!(tshark().on(&capture, &["-2", "-Y", "mail"]).stdout, "");
    // One pass shows what it decided before the PASV (frame 14), nothing after.
    let (ours, theirs) = with_and_without(&capture, &COLUMNS);
    let from = |text: &str, frame: u64| -> Vec<String> {
        text.lines()
            .filter(|l| l.split('\t').next().unwrap().trim().parse::<u64>().unwrap() >= frame)
            .map(str::to_string)
            .collect()
    };
    assert_eq!(from(&ours, 14), from(&theirs, 14));
    assert_ne!(ours, theirs, "the EHLO frame was shown as SMTP");
}

#[test]
fn no_frame_of_another_protocol_is_relabelled() {
    for capture in not_mail_captures() {
        for passes in [&[][..], &["-2"][..]] {
            let mut args = passes.to_vec();
            args.extend(COLUMNS);
            let (ours, theirs) = with_and_without(&capture, &args);
            assert!(!ours.is_empty(), "{}: no frames", capture.display());
            assert_eq!(ours, theirs, "{} {passes:?}", capture.display());
        }
        let claimed = tshark().on(&capture, &["-2", "-Y", "mail"]);
        assert_eq!(
            claimed.stdout,
            "",
            "{}: frames with mail",
            capture.display()
        );
    }
}

/// Analyze > Enabled Protocols, or `--disable-protocol mail`: Wireshark's own
/// SMTP, POP and IMF show every frame exactly as without the plugin, also
/// inside TLS decrypted with a key log (465, 995, STARTTLS, STLS).
#[test]
fn with_mailscope_disabled_every_frame_dissects_as_without_it() {
    for capture in fixtures() {
        let keys = capture.with_file_name("keys.log");
        let keylog = keys
            .exists()
            .then(|| format!("tls.keylog_file:{}", tshark().stage(&keys).display()));
        let mut args = vec!["-V"];
        if let Some(keylog) = &keylog {
            args.extend(["-o", keylog.as_str()]);
        }
        let theirs = tshark().without_plugin(&capture, &args);
        args.extend(["--disable-protocol", "mail"]);
        let ours = tshark().on(&capture, &args);
        // A capture cut short ends with tshark's exit status 2 either way.
        assert_eq!(
            ours.status,
            theirs.status,
            "{}: {}",
            capture.display(),
            ours.stderr
        );
        assert!(!theirs.stdout.is_empty());
        assert_eq!(ours.stdout, theirs.stdout, "{}", capture.display());
    }
}

/// A frame mailscope shows names its protocol alone in the Protocol column
/// ("POP", not the "POP/POP" a fence left by IMF once made of it).
#[test]
fn the_protocol_column_names_the_protocol_once() {
    for capture in fixtures() {
        let columns = "gui.column.format:\"Protocol\",\"%p\"";
        let out = tshark().on(&capture, &["-Y", "mail", "-o", columns]);
        for column in out.stdout.lines().map(str::trim) {
            assert!(
                ["SMTP", "POP"].contains(&column),
                "{}: {column}",
                capture.display()
            );
        }
    }
}
