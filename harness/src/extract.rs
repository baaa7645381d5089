//! `--extract DIR`: every message as an .eml, every part with a file name
//! under its decoded name, and `manifest.json` tying each file to where it
//! came from.

use std::io;
use std::path::{Path, PathBuf};

use mailscope::mime::export::{message_file_name, safe_name, UniqueNames};
use mailscope::mime::{self, Options as MimeOptions, PartKind};
use mailscope::{MessageSource, Pdu};
use serde_json::{json, Value as Json};

use crate::analyze::Report;

/// One file written.
#[derive(Debug, Clone)]
pub struct Written {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
}

fn source_name(source: &MessageSource) -> &'static str {
    match source {
        MessageSource::SmtpData { .. } => "smtp-data",
        MessageSource::SmtpBdat { .. } => "smtp-bdat",
        MessageSource::Pop3Retr { .. } => "pop3-retr",
        MessageSource::Pop3Top { .. } => "pop3-top",
    }
}

/// Writes every message and named part of `report` into `dir` (created if
/// needed), then `dir/manifest.json`. File names are single path components
/// made safe, so nothing is written outside `dir`.
pub fn extract(
    report: &Report,
    dir: &Path,
    default_charset: Option<&str>,
) -> io::Result<Vec<Written>> {
    std::fs::create_dir_all(dir)?;
    let options = MimeOptions {
        default_charset: default_charset.map(str::to_string),
        keep_bodies: true,
    };
    let mut names = UniqueNames::default();
    names.take("manifest.json");
    let mut written = Vec::new();
    let mut entries = Vec::new();
    for (connection, pdu) in report.pdus() {
        let Some(message) = &pdu.message else {
            continue;
        };
        let decoded = mime::analyze(message, &options);
        let index = entries
            .iter()
            .filter(|e: &&Json| e["kind"] == "message")
            .count()
            + 1;
        let common = |pdu: &Pdu| {
            json!({
                "connection": connection,
                "message": index,
                "source": source_name(&message.source),
                "number": message.source.number(),
                "first_frame": message.first_frame,
                "last_frame": message.last_frame,
                "frame": pdu.frame,
                "complete": message.complete && !message.truncated,
            })
        };
        let name = names.take(&message_file_name(&decoded));
        written.push(write(dir, &name, &message.content)?);
        let mut entry = common(pdu);
        entry["kind"] = json!("message");
        entry["file"] = json!(name);
        entry["size"] = json!(decoded.size);
        entry["sha256"] = json!(decoded.sha256);
        entry["subject"] = json!(decoded.subject.as_ref().map(|s| &s.value));
        entry["message_id"] = json!(decoded.message_id.as_ref().map(|s| &s.value));
        entries.push(entry);
        for part in decoded
            .parts
            .iter()
            .filter(|p| p.kind != PartKind::Multipart)
        {
            let (Some(filename), Some(body)) = (&part.filename, &part.body) else {
                continue;
            };
            let name = names.take(&safe_name(filename, "part"));
            written.push(write(dir, &name, body)?);
            let mut entry = common(pdu);
            entry["kind"] = json!("attachment");
            entry["file"] = json!(name);
            entry["filename"] = json!(filename);
            entry["part"] = json!(part.path);
            entry["content_type"] = json!(part.content_type);
            entry["size"] = json!(part.size);
            entry["sha256"] = json!(part.sha256);
            entries.push(entry);
        }
    }
    let manifest =
        serde_json::to_string_pretty(&json!({ "files": entries })).map_err(io::Error::other)?;
    std::fs::write(dir.join("manifest.json"), manifest + "\n")?;
    Ok(written)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<Written> {
    let path = dir.join(name);
    std::fs::write(&path, bytes)?;
    Ok(Written {
        path,
        size: bytes.len() as u64,
        sha256: mime::sha256_hex(bytes),
    })
}
