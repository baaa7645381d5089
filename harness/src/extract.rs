//! `--extract DIR`: every message as an .eml, every part with a file name
//! under its decoded name, and `manifest.json` tying each file to where it
//! came from.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use mailscope::mime::export::{message_file_name, safe_name, UniqueNames};
use mailscope::mime::{self, Options as MimeOptions};
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
    let mut extractor = Extractor::new(dir, default_charset)?;
    let mut written = Vec::new();
    for (connection, pdu) in report.pdus() {
        written.extend(extractor.pdu(connection, pdu)?);
    }
    extractor.finish()?;
    Ok(written)
}

/// Writes messages and their named parts into a directory as they come,
/// and the manifest at the end.
pub struct Extractor {
    dir: PathBuf,
    options: MimeOptions,
    names: UniqueNames,
    /// `manifest.json`, written an entry at a time.
    manifest: io::BufWriter<std::fs::File>,
    entries: usize,
    messages: usize,
}

impl Extractor {
    /// An extractor into `dir`, created if needed.
    pub fn new(dir: &Path, default_charset: Option<&str>) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut names = UniqueNames::default();
        names.take("manifest.json");
        let mut manifest = io::BufWriter::new(std::fs::File::create(dir.join("manifest.json"))?);
        manifest.write_all(b"{\n  \"files\": [")?;
        Ok(Extractor {
            dir: dir.to_path_buf(),
            options: MimeOptions {
                default_charset: default_charset.map(str::to_string),
                keep_bodies: true,
            },
            names,
            manifest,
            entries: 0,
            messages: 0,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes the message `pdu` of `connection` completes, if any, and its
    /// attachments (parts with a file name or declared attachments).
    pub fn pdu(&mut self, connection: usize, pdu: &Pdu) -> io::Result<Vec<Written>> {
        let mut written = Vec::new();
        let Some(message) = &pdu.message else {
            return Ok(written);
        };
        let decoded = mime::analyze(message, &self.options);
        self.messages += 1;
        let common = json!({
            "connection": connection,
            "message": self.messages,
            "source": source_name(&message.source),
            "number": message.source.number(),
            "first_frame": message.first_frame,
            "last_frame": message.last_frame,
            "frame": pdu.frame,
            "complete": message.complete && !message.truncated,
        });
        let name = self.names.take(&message_file_name(&decoded));
        written.push(write(&self.dir, &name, &message.content)?);
        let mut entry = common.clone();
        entry["kind"] = json!("message");
        entry["file"] = json!(name);
        entry["size"] = json!(decoded.size);
        entry["sha256"] = json!(decoded.sha256);
        entry["sha1"] = json!(decoded.sha1);
        entry["subject"] = json!(decoded.subject.as_ref().map(|s| &s.value));
        entry["message_id"] = json!(decoded.message_id.as_ref().map(|s| &s.value));
        if decoded.missing > 0 {
            // Bytes the capture lost: the file holds what came before and after.
            entry["missing"] = json!(decoded.missing);
        }
        self.entry(&entry)?;
        for part in decoded.attachments() {
            let Some(body) = &part.body else {
                continue;
            };
            let filename = part.filename.as_deref().unwrap_or_default();
            let name = self.names.take(&safe_name(filename, "part"));
            written.push(write(&self.dir, &name, body)?);
            let mut entry = common.clone();
            entry["kind"] = json!("attachment");
            entry["file"] = json!(name);
            entry["filename"] = json!(part.filename);
            entry["part"] = json!(part.path);
            entry["content_type"] = json!(part.content_type);
            entry["size"] = json!(part.size);
            entry["md5"] = json!(part.md5);
            entry["sha1"] = json!(part.sha1);
            entry["sha256"] = json!(part.sha256);
            if let Some(missing) = decoded.part_missing(&part.path) {
                entry["missing"] = json!(missing);
            }
            self.entry(&entry)?;
        }
        Ok(written)
    }

    /// Adds one entry to the manifest, laid out as `serde_json`'s pretty
    /// printer lays out the whole.
    fn entry(&mut self, entry: &Json) -> io::Result<()> {
        let text = serde_json::to_string_pretty(entry).map_err(io::Error::other)?;
        let separator: &[u8] = if self.entries == 0 { b"\n" } else { b",\n" };
        self.manifest.write_all(separator)?;
        for (i, line) in text.lines().enumerate() {
            if i > 0 {
                self.manifest.write_all(b"\n")?;
            }
            self.manifest.write_all(b"    ")?;
            self.manifest.write_all(line.as_bytes())?;
        }
        self.entries += 1;
        Ok(())
    }

    /// Ends `manifest.json`.
    pub fn finish(mut self) -> io::Result<()> {
        let end: &[u8] = if self.entries == 0 {
            b"]\n}\n"
        } else {
            b"\n  ]\n}\n"
        };
        self.manifest.write_all(end)?;
        self.manifest.flush()
    }
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
