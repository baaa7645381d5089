//! Helpers shared by the harness's integration tests.
#![allow(dead_code)]

pub mod hostile;
pub mod loss;
pub mod not_mail;

use std::path::{Path, PathBuf};

use mailscope::mime::{self, MimeMessage};
use mailscope::{Credential, Field, MailMessage};
use mailscope_harness::{analyze_file, summarize, Options, Report};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn fixture(name: &str) -> PathBuf {
    let dir = root().join("fixtures").join(name);
    for file in ["capture.pcap", "capture.pcapng"] {
        if dir.join(file).exists() {
            return dir.join(file);
        }
    }
    panic!("fixture {name} has no capture file");
}

/// `../shared/pcaps`, when the checkout has it beside it.
pub fn shared() -> Option<PathBuf> {
    let dir = root().parent()?.join("shared").join("pcaps");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "note: {} is not there; shared-capture checks skipped",
            dir.display()
        );
        None
    }
}

pub fn analyze(path: &Path) -> Report {
    analyze_file(path, Options::default(), |_| {})
}

pub fn credentials(report: &Report) -> Vec<Credential> {
    summarize(report)
        .into_iter()
        .flat_map(|s| s.credentials)
        .collect()
}

/// Every value of `field` in the report, in frame order.
pub fn values(report: &Report, field: Field) -> Vec<String> {
    report
        .frames
        .iter()
        .flat_map(|f| f.pdus.iter())
        .flat_map(|p| {
            p.flatten()
                .into_iter()
                .map(|(i, _)| i.clone())
                .collect::<Vec<_>>()
        })
        .filter(|i| i.field == field)
        .map(|i| i.value.to_string())
        .collect()
}

/// The last SMTP command verb of the report: `QUIT` when a session ran to its end.
pub fn last_command(report: &Report) -> Option<String> {
    values(report, Field::SmtpCommand).pop()
}

/// Every message in a capture (including those only the end completed), decoded with bodies kept.
pub fn messages(path: &Path) -> Vec<(MailMessage, MimeMessage)> {
    let report = analyze(path);
    let options = mime::Options {
        keep_bodies: true,
        ..mime::Options::default()
    };
    report
        .frames
        .iter()
        .flat_map(|f| f.pdus.iter())
        .chain(report.at_end.iter().flat_map(|(_, pdus)| pdus.iter()))
        .filter_map(|p| p.message.clone())
        .map(|m| {
            let decoded = mime::analyze(&m, &options);
            (m, decoded)
        })
        .collect()
}

/// The first message of a capture as the harness decodes it with
/// `--default-charset CHARSET`.
pub fn first_message_with_default_charset(path: &Path, charset: &str) -> MimeMessage {
    let options = Options {
        default_charset: Some(charset.to_string()),
        ..Default::default()
    };
    let report = analyze_file(path, options, |_| {});
    report
        .frames
        .iter()
        .flat_map(|f| f.pdus.iter())
        .find_map(|p| p.mime.as_deref().cloned())
        .expect("a decoded message")
}
