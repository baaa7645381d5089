//! What a user meets at the edges: filters that must not change what is
//! computed, compressed captures cut short or corrupt, files that cannot be
//! read, and the README's examples run as written.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{run, run_with_stdin};
use crate::common::{self, fixture};

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn credentials_only_filters_what_is_printed_not_what_is_computed() {
    let path = fixture("auth-plain-two-step-failure");
    let (_, all, _) = run(&["--format", "summary", arg(&path)]);
    let (code, logins, _) = run(&["--format", "summary", "--credentials-only", arg(&path)]);
    assert_eq!(code, 0);
    // The session ended in QUIT, whatever the filter shows.
    assert!(all.contains("  final state: quit\n"), "{all}");
    assert_eq!(all, logins);
    let state = |args: &[&str]| {
        let mut all = vec!["--format", "sessions"];
        all.extend(args);
        all.push(arg(&path));
        let (_, out, _) = run(&all);
        let record: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        (record["state"].clone(), record["anomaly_count"].clone())
    };
    assert_eq!(state(&["--credentials-only"]), state(&[]));
    assert_eq!(state(&[]).0, "quit");

    // A session with a message: its logins are listed, its message is not.
    let pop = fixture("pop3-user-pass");
    let (_, all, _) = run(&["--format", "summary", arg(&pop)]);
    let (_, logins, _) = run(&["--format", "summary", "--credentials-only", arg(&pop)]);
    let final_state = |s: &str| {
        s.lines()
            .find(|l| l.contains("final state"))
            .map(str::to_string)
    };
    assert!(all.contains("message frame"), "{all}");
    assert!(!logins.contains("message frame"), "{logins}");
    assert!(logins.contains("credential frame"), "{logins}");
    assert_eq!(final_state(&logins), final_state(&all));
    assert!(final_state(&all).is_some(), "{all}");
}

/// `capture truncated|corrupt at byte B (...): the K frames before it were
/// analysed` without the file name and the words in parentheses.
fn fault(stderr: &str) -> (String, u64, u64) {
    let line = stderr.lines().next().unwrap_or_default();
    let kind = if line.contains(": capture truncated at byte ") {
        "truncated"
    } else if line.contains(": capture corrupt at byte ") {
        "corrupt"
    } else {
        panic!("not a truncated or corrupt capture: {stderr}");
    };
    let number_after = |word: &str| -> u64 {
        let at = line.find(word).unwrap() + word.len();
        let digits: String = line[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().unwrap()
    };
    let frames = number_after("): the ");
    assert!(line.ends_with(" frames before it were analysed"), "{line}");
    (kind.to_string(), number_after(" at byte "), frames)
}

/// The bytes a decompressor hands over before it fails.
fn readable_prefix(mut decoder: impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = decoder.read(&mut buf) {
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// A capture of several hundred KB (zstd cuts it into several blocks): the
/// packets of a fixture ten times over.
fn large_capture() -> Vec<u8> {
    let one = std::fs::read(fixture("smtp-long-lines")).unwrap();
    let mut out = one.clone();
    for _ in 1..10 {
        out.extend_from_slice(&one[24..]);
    }
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, bytes).unwrap();
    gz.finish().unwrap()
}

fn zstd(bytes: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(bytes, ruzstd::encoding::CompressionLevel::Fastest)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A compressed capture cut in the middle gives what the same capture cut
/// where the decompressed bytes end gives: the frames before the cut, and
/// the same kind of message, exit 1.
fn assert_cut_like_a_plain_file(dir: &Path, name: &str, cut: &[u8], readable: &[u8], words: &str) {
    assert!(
        readable.len() > 1000,
        "{name}: the cut leaves something to read"
    );
    let compressed = write(dir, name, cut);
    let plain = write(dir, &format!("{name}.plain.pcap"), readable);
    let (code, out, err) = run(&["--format", "summary", arg(&compressed)]);
    let (plain_code, plain_out, plain_err) = run(&["--format", "summary", arg(&plain)]);
    assert_eq!((code, plain_code), (1, 1), "{err}");
    assert_eq!(out, plain_out, "{name}");
    assert!(out.starts_with("connection 1: SMTP"), "{name}: {out}");
    let (kind, byte, frames) = fault(&err);
    assert_eq!((kind.as_str(), byte, frames), {
        let (k, b, f) = fault(&plain_err);
        (if k == "truncated" { "truncated" } else { "?" }, b, f)
    });
    assert!(frames > 10, "{err}");
    assert!(err.contains(words), "{err}");
    assert!(
        err.starts_with(&format!(
            "mailscope: {}: capture truncated at byte ",
            compressed.display()
        )),
        "{err}"
    );
    // From standard input the same.
    let (code, stdin_out, stdin_err) = run_with_stdin(&["--format", "summary", "-"], cut);
    assert_eq!((code, stdin_out), (1, out));
    assert_eq!(fault(&stdin_err), fault(&err));
}

#[test]
fn truncated_gzip_and_zstd_captures_give_the_frames_before_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    let capture = large_capture();

    let gz = gzip(&capture);
    let cut = &gz[..gz.len() / 2];
    let readable = readable_prefix(flate2::read::MultiGzDecoder::new(cut));
    assert!(readable.len() < capture.len());
    assert_cut_like_a_plain_file(
        dir.path(),
        "cut.pcap.gz",
        cut,
        &readable,
        "(the gzip stream ends early)",
    );

    // zstd: every whole block before the cut is read (ruzstd alone would
    // keep its last window back): the frames are those of the capture's
    // first bytes, as far as the error message says.
    let zst = zstd(&capture);
    let cut = write(dir.path(), "cut.pcap.zst", &zst[..zst.len() * 2 / 3]);
    let (code, out, err) = run(&["--format", "summary", arg(&cut)]);
    assert_eq!(code, 1);
    assert!(err.contains("(the zstd stream ends early)"), "{err}");
    let (kind, byte, frames) = fault(&err);
    assert_eq!(kind, "truncated");
    assert!(byte as usize > capture.len() / 3 && frames > 200, "{err}");
    let first = write(dir.path(), "first.pcap", &capture[..byte as usize]);
    let (first_code, first_out, _) = run(&["--format", "summary", arg(&first)]);
    assert_eq!((first_code, first_out), (0, out));

    // A small gzip file cut short: the decompressor fails in its first
    // read; the frames before the cut are still there.
    let small = std::fs::read(fixture("auth-plain-two-step-failure")).unwrap();
    let gz = gzip(&small);
    let cut = &gz[..gz.len() * 4 / 5];
    let readable = readable_prefix(flate2::read::MultiGzDecoder::new(cut));
    assert_cut_like_a_plain_file(
        dir.path(),
        "small.pcap.gz",
        cut,
        &readable,
        "(the gzip stream ends early)",
    );
}

#[test]
fn corrupt_gzip_reports_every_frame_before_the_fault() {
    let dir = tempfile::tempdir().unwrap();
    let path = fixture("auth-plain-two-step-failure");
    let mut gz = gzip(&std::fs::read(&path).unwrap());
    // The CRC in the trailer: every byte decompresses, the check fails.
    let crc = gz.len() - 8;
    gz[crc] ^= 0xff;
    let corrupt = write(dir.path(), "crc.pcap.gz", &gz);
    let (code, out, err) = run(&["--format", "summary", arg(&corrupt)]);
    let (_, whole, _) = run(&["--format", "summary", arg(&path)]);
    assert_eq!(code, 1);
    assert_eq!(out, whole);
    // All 36 frames of the file were read: the fault is after the last one.
    assert_eq!(fault(&err), ("corrupt".to_string(), 3127, 36));
    assert!(err.contains("(the gzip stream is corrupt: "), "{err}");

    // zstd whose first block has the reserved type: corrupt before any frame.
    let mut zst = zstd(&std::fs::read(&path).unwrap());
    let descriptor = zst[4];
    let single_segment = descriptor & 0x20 != 0;
    let content_size = match descriptor >> 6 {
        0 => usize::from(single_segment),
        1 => 2,
        2 => 4,
        _ => 8,
    };
    let dictionary = [0, 1, 2, 4][usize::from(descriptor & 3)];
    let first_block = 5 + usize::from(!single_segment) + dictionary + content_size;
    zst[first_block] |= 0b110;
    let corrupt = write(dir.path(), "reserved.pcap.zst", &zst);
    let (code, out, err) = run(&["--format", "summary", arg(&corrupt)]);
    assert_eq!(
        (code, out.as_str()),
        (1, "no SMTP or POP3 connection in this capture\n")
    );
    assert_eq!(fault(&err), ("corrupt".to_string(), 0, 0));
    assert!(err.contains("(the zstd stream is corrupt: "), "{err}");
}

#[test]
fn a_file_that_cannot_be_read_puts_nothing_on_standard_output() {
    let gone = "/nonexistent/gone.pcap";
    for format in ["tree", "json", "summary", "sessions"] {
        let (code, out, err) = run(&["--format", format, gone]);
        assert_eq!((code, out.as_str()), (1, ""), "--format {format}");
        assert_eq!(
            err,
            "mailscope: /nonexistent/gone.pcap: cannot open capture: No such file or directory (os error 2)\n"
        );
    }
    let readme = common::root().join("fixtures/auth-plain/README.md");
    let (code, out, err) = run(&["--format", "summary", arg(&readme)]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(err.contains(": not a pcap or pcapng file: "), "{err}");
    // Among several, the readable one is reported under its heading, the
    // missing one only on standard error.
    let good = fixture("auth-plain");
    let (code, out, err) = run(&["--format", "summary", "-j", "1", gone, arg(&good)]);
    assert_eq!(code, 1);
    assert!(
        out.starts_with(&format!("== {}\nconnection 1: SMTP", good.display())),
        "{out}"
    );
    assert!(
        !out.contains("gone.pcap") && !out.contains("no SMTP or POP3"),
        "{out}"
    );
    assert!(err.contains("gone.pcap: cannot open capture"), "{err}");
}

/// Every example of the README's harness section, run as written, with
/// `mailscope` the command set-up installs and the placeholders filled.
#[test]
fn the_readme_harness_examples_run_as_written() {
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    let section = &readme[readme.find("## The harness").unwrap()..];
    let block = section
        .split("```sh\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let capture = fixture("starttls-decryptable");
    std::fs::create_dir(dir.path().join("captures")).unwrap();
    std::fs::copy(fixture("auth-plain"), dir.path().join("captures/a.pcap")).unwrap();
    let bytes = std::fs::read(fixture("pop3-user-pass")).unwrap();
    std::fs::write(dir.path().join("day2.pcap.gz"), gzip(&bytes)).unwrap();
    std::fs::copy(
        capture.with_file_name("keys.log"),
        dir.path().join("keys.log"),
    )
    .unwrap();
    let mut examples = 0;
    for line in block.lines() {
        let command = line.split(" # ").next().unwrap().trim();
        let Some(args) = command.strip_prefix("mailscope ") else {
            panic!("an example that is not a mailscope command: {line}");
        };
        let args: Vec<&str> = args
            .split_whitespace()
            .map(|a| if a == "CAPTURE" { arg(&capture) } else { a })
            .collect();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mailscope"))
            .args(&args)
            .current_dir(dir.path())
            .stdin(std::fs::File::open(fixture("auth-plain")).unwrap())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{line}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        examples += 1;
    }
    assert!(examples >= 15, "{block}");
}
