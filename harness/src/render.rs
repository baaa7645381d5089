//! Text forms of a report: a tshark-like tree, JSON lines, a summary, and
//! the snapshot form that prints every item beside the bytes it covers.

use std::fmt::Write as _;

use mailscope::{FieldKind, Item, Pdu, Protocol, Severity, Value};
use serde_json::{json, Value as Json};

use crate::analyze::{ConnectionInfo, ConnectionSummary, FrameRecord, Report};
use crate::filter::Filter;
use crate::writer::{Form, Writer};

fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Chat => "Chat",
        Severity::Note => "Note",
        Severity::Warn => "Warning",
        Severity::Error => "Error",
    }
}

fn json_value(value: &Value) -> Json {
    match value {
        Value::None => Json::Null,
        Value::Str(s) => Json::String(s.clone()),
        Value::UInt(n) => json!(n),
        Value::Bool(b) => json!(b),
    }
}

fn endpoint(e: &(std::net::IpAddr, u16)) -> String {
    match e.0 {
        std::net::IpAddr::V6(ip) => format!("[{ip}]:{}", e.1),
        std::net::IpAddr::V4(ip) => format!("{ip}:{}", e.1),
    }
}

/// `connection 1: SMTP a -> b (frames 4-32)`, as the summary and the snapshot head each connection.
fn connection_header(c: &ConnectionInfo) -> String {
    format!(
        "connection {}: {} (frames {}-{})",
        c.id,
        connection_line(c),
        c.first_frame,
        c.last_frame
    )
}

fn connection_line(c: &ConnectionInfo) -> String {
    format!(
        "{} {} -> {}",
        c.protocol.name(),
        endpoint(&c.client),
        endpoint(&c.server)
    )
}

/// The label of one item as Wireshark would show it.
fn label(item: &Item) -> String {
    match (&item.value, item.field.kind()) {
        (Value::None, _) | (_, FieldKind::None) => item.field.name().to_string(),
        (value, _) => format!("{}: {}", item.field.name(), value),
    }
}

/// One JSON object per frame that carries mail fields; `file` names the capture.
pub fn json_lines(report: &Report, file: &str) -> String {
    replay(report, Form::Json, file)
}

/// `report` written in `form`, unfiltered.
fn replay(report: &Report, form: Form, file: &str) -> String {
    let mut writer = Writer::new(form, file, Filter::default(), Vec::new());
    writer.replay(report);
    writer.into_string()
}

/// The JSON line of one frame: the PDUs `keep` keeps.
pub(crate) fn json_frame(
    out: &mut String,
    file: &str,
    record: &FrameRecord,
    keep: impl Fn(&&Pdu) -> bool,
) {
    let mut fields = Vec::new();
    let mut info = Vec::new();
    let mut experts = Vec::new();
    for pdu in record.pdus.iter().filter(keep) {
        for (item, _) in pdu.flatten() {
            fields.push(json!({"name": item.field.abbrev(), "value": json_value(&item.value)}));
        }
        for anomaly in &pdu.anomalies {
            experts.push(json!({"name": anomaly.expert.abbrev(), "message": anomaly.message}));
        }
        info.push(Json::String(pdu.info.clone()));
    }
    if info.is_empty() {
        return;
    }
    let line = json!({
        "file": file,
        "frame": record.frame,
        "ts": record.ts.rfc3339(),
        "epoch": record.ts.epoch(),
        "src": {"ip": record.src.0.to_string(), "port": record.src.1},
        "dst": {"ip": record.dst.0.to_string(), "port": record.dst.1},
        "connection": record.connection,
        "info": info,
        "fields": fields,
        "experts": experts,
    });
    out.push_str(&line.to_string());
    out.push('\n');
}

fn tree_pdu(out: &mut String, pdu: &Pdu) {
    writeln!(out, "  {}", pdu.info).unwrap();
    for (item, depth) in pdu.flatten() {
        writeln!(out, "    {}{}", "    ".repeat(depth), label(item)).unwrap();
    }
    for anomaly in &pdu.anomalies {
        writeln!(
            out,
            "    [Expert Info ({}/{:?}): {}]",
            severity_name(anomaly.expert.severity()),
            anomaly.expert.group(),
            anomaly.message
        )
        .unwrap();
    }
}

/// The tree of one frame: the PDUs `keep` keeps.
pub(crate) fn tree_frame(
    out: &mut String,
    c: &ConnectionInfo,
    record: &FrameRecord,
    keep: impl Fn(&&Pdu) -> bool,
) {
    let heading = || {
        format!(
            "Frame {} (connection {}: {})",
            record.frame,
            c.id,
            connection_line(c)
        )
    };
    tree_block(out, heading, record.pdus.iter().filter(keep));
}

/// What only the end of connection `c` completed.
pub(crate) fn tree_end(
    out: &mut String,
    c: &ConnectionInfo,
    pdus: &[Pdu],
    keep: impl Fn(&&Pdu) -> bool,
) {
    let end = c.end.map_or("end of capture", |e| e.name());
    let heading = || format!("End of connection {} ({end})", c.id);
    tree_block(out, heading, pdus.iter().filter(keep));
}

/// A heading and the trees of `pdus`, if there are any.
fn tree_block<'a>(
    out: &mut String,
    heading: impl FnOnce() -> String,
    pdus: impl Iterator<Item = &'a Pdu>,
) {
    let mut pdus = pdus.peekable();
    if pdus.peek().is_none() {
        return;
    }
    writeln!(out, "{}", heading()).unwrap();
    for pdu in pdus {
        tree_pdu(out, pdu);
    }
    out.push('\n');
}

/// A readable tree per frame, like `tshark -V` limited to mail fields.
pub fn tree(report: &Report) -> String {
    replay(report, Form::Tree, "")
}

/// Credentials and messages per connection, in the order the connections ended.
pub fn summary(report: &Report) -> String {
    replay(report, Form::Summary, "")
}

/// The summary of one connection: its credentials and messages, and the
/// facts of its session record.
pub(crate) fn summary_block(
    out: &mut String,
    c: &ConnectionInfo,
    s: &ConnectionSummary,
    record: &Json,
) {
    writeln!(out, "{}", connection_header(c)).unwrap();
    if let Some(tls) = record["tls"].as_object() {
        let kind = tls["kind"].as_str().unwrap_or_default().to_uppercase();
        writeln!(
            out,
            "  {kind} frame {}: the session continues in TLS",
            tls["frame"]
        )
        .unwrap();
    }
    for cred in &s.credentials {
        let mut line = format!("  credential frame {}: {}", cred.frame, cred.mechanism);
        let parts = [
            ("user", &cred.username),
            ("password", &cred.password),
            ("authzid", &cred.authzid),
            ("token", &cred.token),
            ("domain", &cred.domain),
            ("host", &cred.host),
        ];
        for (name, value) in parts {
            if let Some(value) = value {
                write!(line, " {name}={value:?}").unwrap();
            }
        }
        let result = match cred.success {
            Some(true) => "success",
            Some(false) => "failure",
            None => "unknown",
        };
        writeln!(out, "{line} result={result}").unwrap();
    }
    for m in &s.messages {
        let incomplete = match (m.complete, m.missing) {
            (true, _) => String::new(),
            (false, 0) => " (incomplete)".to_string(),
            (false, missing) => format!(" (incomplete: {missing} bytes missing from the capture)"),
        };
        match c.protocol {
            Protocol::Smtp => writeln!(
                out,
                "  message frame {}: transaction {}, from {:?}, to {:?}, {} bytes{incomplete}",
                m.frame,
                m.transaction,
                m.mail_from.as_deref().unwrap_or(""),
                m.rcpt_to,
                m.size,
            ),
            // For POP3 the number is the message's number in the maildrop.
            Protocol::Pop3 => writeln!(
                out,
                "  message frame {}: retrieved message {}, {} bytes{incomplete}",
                m.frame, m.transaction, m.size
            ),
        }
        .unwrap();
        if let Some(subject) = &m.subject {
            writeln!(out, "    subject {subject:?}").unwrap();
        }
        for (name, size, sha256) in &m.attachments {
            writeln!(
                out,
                "    attachment {name:?}, {size} bytes, sha256 {sha256}"
            )
            .unwrap();
        }
    }
    if s.omitted > 0 {
        writeln!(
            out,
            "  {} more credentials and messages not listed",
            s.omitted
        )
        .unwrap();
    }
    summary_facts(out, record);
}

/// The rest of what a session record says, a line each: refused
/// recipients, POP3 deletions and whether they took effect, the final
/// state, anomalies.
fn summary_facts(out: &mut String, record: &Json) {
    let list = |key: &str| record[key].as_array().cloned().unwrap_or_default();
    for transaction in list("transactions") {
        for rcpt in transaction["rcpt_to"].as_array().into_iter().flatten() {
            if rcpt["accepted"] == false {
                writeln!(
                    out,
                    "  recipient refused frame {}: {} ({})",
                    rcpt["frame"],
                    rcpt["address"].as_str().unwrap_or_default(),
                    rcpt["reply"]
                )
                .unwrap();
            }
        }
    }
    if record["protocol"] == "pop3" {
        let numbers = |key: &str| {
            list(key)
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let deleted = numbers("deleted");
        if !deleted.is_empty() || record["reset"] == true {
            let effect = if record["committed"] == true {
                "committed by QUIT"
            } else {
                "not committed (no QUIT reached the update state)"
            };
            let reset = if record["reset"] == true {
                ", after RSET"
            } else {
                ""
            };
            let deleted = if deleted.is_empty() {
                "none".to_string()
            } else {
                deleted
            };
            writeln!(out, "  deleted messages: {deleted}{reset}, {effect}").unwrap();
        }
    }
    if let Some(state) = record["state"].as_str() {
        writeln!(out, "  final state: {state}").unwrap();
    }
    let count = record["anomaly_count"].as_u64().unwrap_or(0);
    if count > 0 {
        let first = &record["anomalies"][0];
        writeln!(
            out,
            "  {count} anomal{}, first frame {}: {}",
            if count == 1 { "y" } else { "ies" },
            first["frame"],
            first["message"].as_str().unwrap_or_default()
        )
        .unwrap();
    }
}

/// At most `max` bytes shown as escaped text.
fn show_bytes(bytes: &[u8], max: usize) -> String {
    let mut out = String::new();
    for &b in bytes.iter().take(max) {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => write!(out, "\\x{b:02x}").unwrap(),
        }
    }
    if bytes.len() > max {
        write!(out, "...(+{})", bytes.len() - max).unwrap();
    }
    out
}

fn snapshot_pdu(out: &mut String, pdu: &Pdu) {
    writeln!(
        out,
        "  {} @{}+{}",
        pdu.info,
        pdu.stream_offset,
        pdu.bytes.len()
    )
    .unwrap();
    let message = pdu.message.as_ref().map_or(&[][..], |m| &m.content[..]);
    let wire = pdu.flatten_wire().into_iter().map(|i| (i, &pdu.bytes[..]));
    let carried = pdu.flatten_message().into_iter().map(|i| (i, message));
    for ((item, depth), bytes) in wire.chain(carried) {
        let end = (item.offset + item.len).min(bytes.len());
        let covered = &bytes[item.offset.min(end)..end];
        let value = match &item.value {
            Value::None => String::new(),
            Value::Str(s) => format!(" = {s:?}"),
            other => format!(" = {other}"),
        };
        writeln!(
            out,
            "    {}{}{}  [{}+{}] \"{}\"",
            "  ".repeat(depth),
            item.field.abbrev(),
            value,
            item.offset,
            item.len,
            show_bytes(covered, 48)
        )
        .unwrap();
    }
    for anomaly in &pdu.anomalies {
        writeln!(
            out,
            "    ! {}: {}  [{}+{}]",
            anomaly.expert.abbrev(),
            anomaly.message,
            anomaly.offset,
            anomaly.len
        )
        .unwrap();
    }
}

/// The snapshot form: every item with its span and the bytes under it.
pub fn snapshot(report: &Report) -> String {
    let mut out = String::new();
    for c in &report.connections {
        if c.end != Some(crate::analyze::End::Released) {
            writeln!(out, "{}", connection_header(c)).unwrap();
        }
    }
    for record in &report.frames {
        writeln!(
            out,
            "frame {} (connection {})",
            record.frame, record.connection
        )
        .unwrap();
        for pdu in &record.pdus {
            snapshot_pdu(&mut out, pdu);
        }
    }
    for (id, pdus) in &report.at_end {
        writeln!(out, "end of capture (connection {id})").unwrap();
        for pdu in pdus {
            snapshot_pdu(&mut out, pdu);
        }
    }
    out.push_str("\nsummary\n");
    out.push_str(&summary(report));
    if let Some(error) = &report.error {
        writeln!(out, "error: {error}").unwrap();
    }
    out
}
