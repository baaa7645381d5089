//! `--format sessions`: one JSON record per connection, the shape people
//! feed to jq, a SIEM or a notebook (after Zeek's smtp.log and Suricata's
//! eve.json). Built from the PDUs' items and events; the schema is
//! `docs/schema/sessions.schema.json`.

use mailscope::mime::MimeMessage;
use mailscope::{Field, Item, Pdu, Protocol, Value};
use serde_json::{json, Map, Value as Json};

use crate::analyze::{ConnectionInfo, Endpoint, Report};

/// Most anomalies listed per connection; the rest are counted.
pub const MAX_ANOMALIES: usize = 1000;

fn endpoint(e: &Endpoint) -> Json {
    json!({"ip": e.0.to_string(), "port": e.1})
}

/// The first value of `field` among `items`.
fn first<'a>(items: &[(&'a Item, usize)], field: Field) -> Option<&'a Value> {
    items
        .iter()
        .find(|(i, _)| i.field == field)
        .map(|(i, _)| &i.value)
}

fn text(items: &[(&Item, usize)], field: Field) -> Option<String> {
    first(items, field).map(|v| v.to_string())
}

fn number(items: &[(&Item, usize)], field: Field) -> Option<u64> {
    match first(items, field) {
        Some(Value::UInt(n)) => Some(*n),
        _ => None,
    }
}

/// A message as the record lists it: its decoded facts and attachments.
pub fn message_summary(
    frame: u64,
    source: &str,
    decoded: Option<&MimeMessage>,
    size: usize,
    complete: bool,
) -> Json {
    let header = |h: Option<&mailscope::mime::HeaderValue>| h.map(|h| h.value.clone());
    let mut out = json!({
        "frame": frame,
        "source": source,
        "size": size,
        "complete": complete,
    });
    if let Some(m) = decoded {
        out["subject"] = json!(header(m.subject.as_ref()));
        out["from"] = json!(header(m.from.as_ref()));
        out["to"] = json!(header(m.to.as_ref()));
        out["message_id"] = json!(header(m.message_id.as_ref()));
        out["sha256"] = json!(m.sha256);
        out["attachments"] = Json::Array(
            m.attachments()
                .map(|p| {
                    json!({
                        "filename": p.filename,
                        "content_type": p.content_type,
                        "size": p.size,
                        "sha256": p.sha256,
                        "part": p.path,
                    })
                })
                .collect(),
        );
    }
    out
}

fn source_name(pdu: &Pdu) -> &'static str {
    match pdu.message.as_ref().map(|m| m.source) {
        Some(mailscope::MessageSource::SmtpData { .. }) => "smtp-data",
        Some(mailscope::MessageSource::SmtpBdat { .. }) => "smtp-bdat",
        Some(mailscope::MessageSource::Pop3Retr { .. }) => "pop3-retr",
        Some(mailscope::MessageSource::Pop3Top { .. }) => "pop3-top",
        None => "",
    }
}

/// What one connection's PDUs add up to.
#[derive(Default)]
struct Record {
    greeting: Option<String>,
    helo: Option<String>,
    capabilities: Vec<String>,
    tls: Option<Json>,
    auth: Vec<Json>,
    transactions: Vec<Json>,
    messages: Vec<Json>,
    commands: Vec<Json>,
    listed: Vec<Json>,
    retrieved: Vec<u64>,
    deleted: Vec<u64>,
    reset: bool,
    committed: bool,
    state: Option<String>,
    anomalies: Vec<Json>,
    anomaly_count: usize,
    /// EHLO capabilities are replaced by the next EHLO's (after STARTTLS).
    capabilities_done: bool,
}

impl Record {
    fn pdu(&mut self, protocol: Protocol, pdu: &Pdu) {
        let items = pdu.flatten();
        for anomaly in &pdu.anomalies {
            self.anomaly_count += 1;
            if self.anomalies.len() < MAX_ANOMALIES {
                self.anomalies.push(json!({
                    "frame": pdu.frame,
                    "name": anomaly.expert.abbrev(),
                    "message": anomaly.message,
                }));
            }
        }
        if pdu.starts_tls {
            self.tls = Some(json!({
                "kind": match protocol { Protocol::Smtp => "starttls", Protocol::Pop3 => "stls" },
                "frame": pdu.frame,
                "decrypted": false,
            }));
        }
        if let Some(credential) = &pdu.credential {
            self.auth.push(json!({
                "mechanism": credential.mechanism,
                "username": credential.username,
                "secret": credential.password.clone().or_else(|| credential.token.clone()),
                "outcome": "unknown",
                "frames": [credential.frame],
            }));
        }
        if let Some((credential_frame, success)) = pdu.auth_outcome {
            if let Some(attempt) = self
                .auth
                .iter_mut()
                .rev()
                .find(|a| a["frames"][0] == json!(credential_frame))
            {
                attempt["outcome"] = json!(if success { "success" } else { "failure" });
                if let Some(frames) = attempt["frames"].as_array_mut() {
                    frames.push(json!(pdu.frame));
                }
            }
        }
        match protocol {
            Protocol::Smtp => self.smtp(pdu, &items),
            Protocol::Pop3 => self.pop3(pdu, &items),
        }
        if let Some(message) = &pdu.message {
            let summary = message_summary(
                pdu.frame,
                source_name(pdu),
                pdu.mime.as_deref(),
                message.content.len(),
                message.complete && !message.truncated,
            );
            if protocol == Protocol::Smtp {
                if let Some(t) = self.transactions.last_mut() {
                    t["message"] = summary.clone();
                }
            }
            self.messages.push(summary);
        }
    }

    fn smtp(&mut self, pdu: &Pdu, items: &[(&Item, usize)]) {
        if self.greeting.is_none() {
            self.greeting = text(items, Field::SmtpGreeting);
        }
        if let Some(helo) = text(items, Field::SmtpHelo) {
            self.helo = Some(helo);
        }
        let capabilities: Vec<String> = items
            .iter()
            .filter(|(i, _)| i.field == Field::SmtpCapability)
            .map(|(i, _)| i.value.to_string())
            .collect();
        if !capabilities.is_empty() {
            self.capabilities = capabilities;
            self.capabilities_done = true;
        }
        if let Some(state) = text(items, Field::SmtpState) {
            self.state = Some(state);
        }
        if let Some(command) = text(items, Field::SmtpCommand) {
            match command.as_str() {
                "MAIL" => self.transactions.push(json!({
                    "frame": pdu.frame,
                    "mail_from": text(items, Field::SmtpMailFrom),
                    "rcpt_to": [],
                })),
                "RCPT" => {
                    if let (Some(t), Some(rcpt)) =
                        (self.transactions.last_mut(), text(items, Field::SmtpRcptTo))
                    {
                        if let Some(list) = t["rcpt_to"].as_array_mut() {
                            list.push(json!({"address": rcpt, "frame": pdu.frame}));
                        }
                    }
                }
                _ => {}
            }
        }
        // A reply: its code goes to the command it answers.
        let (Some(code), Some(answers)) = (
            number(items, Field::SmtpReplyCode),
            text(items, Field::SmtpReplyCommand),
        ) else {
            return;
        };
        let reply_text = text(items, Field::SmtpReplyText);
        let Some(t) = self.transactions.last_mut() else {
            return;
        };
        match answers.as_str() {
            "MAIL" => t["mail_reply"] = json!(code),
            "RCPT" => {
                let rcpt = text(items, Field::SmtpRcptTo);
                if let Some(entry) = t["rcpt_to"].as_array_mut().and_then(|list| {
                    list.iter_mut().find(|r| {
                        r.get("reply").is_none()
                            && rcpt.as_ref().is_none_or(|a| r["address"] == json!(a))
                    })
                }) {
                    entry["reply"] = json!(code);
                    entry["accepted"] = json!((200..300).contains(&code));
                }
            }
            "DATA" | "BDAT" if code != 354 => {
                t["data_reply"] = json!({"code": code, "text": reply_text, "frame": pdu.frame});
            }
            "RSET" => t["reset"] = json!(true),
            _ => {}
        }
    }

    fn pop3(&mut self, pdu: &Pdu, items: &[(&Item, usize)]) {
        if self.greeting.is_none() {
            self.greeting = text(items, Field::PopGreeting);
        }
        let capabilities: Vec<String> = items
            .iter()
            .filter(|(i, _)| i.field == Field::PopCapability)
            .map(|(i, _)| i.value.to_string())
            .collect();
        if !capabilities.is_empty() {
            self.capabilities = capabilities;
        }
        if let Some(state) = text(items, Field::PopState) {
            self.state = Some(state);
        }
        if let Some(command) = text(items, Field::PopCommand) {
            // Secrets are listed under `auth`, not repeated here.
            let argument = match command.as_str() {
                "PASS" | "APOP" | "AUTH" => None,
                _ => text(items, Field::PopArgument),
            };
            self.commands.push(json!({
                "frame": pdu.frame,
                "command": command,
                "argument": argument,
                "state": text(items, Field::PopState),
            }));
            return;
        }
        let (Some(indicator), Some(answers)) = (
            text(items, Field::PopResponseIndicator),
            text(items, Field::PopResponseCommand),
        ) else {
            return;
        };
        let request = number(items, Field::PopResponseRequestFrame);
        let ok = indicator == "+OK";
        if let Some(command) = self.commands.iter_mut().rev().find(|c| {
            c["command"] == json!(answers) && request.is_none_or(|f| c["frame"] == json!(f))
        }) {
            command["response"] = json!(indicator);
            command["state_after"] = json!(text(items, Field::PopState));
        }
        if !ok {
            return;
        }
        let argument_number = || {
            self.commands
                .iter()
                .rev()
                .find(|c| c["command"] == json!(answers))
                .and_then(|c| c["argument"].as_str())
                .and_then(|a| a.split_whitespace().next())
                .and_then(|n| n.parse::<u64>().ok())
        };
        match answers.as_str() {
            "LIST" | "UIDL" => {
                for (listing, _) in items.iter().filter(|(i, _)| i.field == Field::PopListing) {
                    let mut entry = Map::new();
                    for child in &listing.children {
                        match (child.field, &child.value) {
                            (Field::PopMessageNumber, Value::UInt(n)) => {
                                entry.insert("number".into(), json!(n));
                            }
                            (Field::PopMessageSize, Value::UInt(n)) => {
                                entry.insert("size".into(), json!(n));
                            }
                            (Field::PopMessageUid, Value::Str(uid)) => {
                                entry.insert("uid".into(), json!(uid));
                            }
                            _ => {}
                        }
                    }
                    self.merge_listing(entry);
                }
            }
            "RETR" => self.retrieved.extend(argument_number()),
            "DELE" => self.deleted.extend(argument_number()),
            "RSET" => {
                self.deleted.clear();
                self.reset = true;
            }
            "QUIT" => self.committed = text(items, Field::PopState).as_deref() == Some("update"),
            _ => {}
        }
    }

    /// A LIST line and a UIDL line of the same message become one entry.
    fn merge_listing(&mut self, entry: Map<String, Json>) {
        let number = entry.get("number").cloned();
        match self
            .listed
            .iter_mut()
            .find(|l| number.is_some() && l.get("number") == number.as_ref())
        {
            Some(existing) => {
                if let Some(obj) = existing.as_object_mut() {
                    obj.extend(entry);
                }
            }
            None => self.listed.push(Json::Object(entry)),
        }
    }
}

/// One record per connection of `report`, read from `file`.
pub fn records(report: &Report, file: &str) -> Vec<Json> {
    let mut built: Vec<Record> = report
        .connections
        .iter()
        .map(|_| Record::default())
        .collect();
    for (id, pdu) in report.pdus() {
        let protocol = report.connections[id - 1].protocol;
        built[id - 1].pdu(protocol, pdu);
    }
    report
        .connections
        .iter()
        .zip(built)
        .filter(|(c, _)| !report.hidden.contains(&c.id))
        .map(|(c, r)| record(c, r, file))
        .collect()
}

fn record(c: &ConnectionInfo, mut r: Record, file: &str) -> Json {
    if c.implicit_tls {
        r.tls =
            Some(json!({"kind": "implicit", "frame": c.first_frame, "decrypted": c.tls_decrypted}));
    } else if let Some(tls) = r.tls.as_mut() {
        tls["decrypted"] = json!(c.tls_decrypted);
    }
    let mut out = json!({
        "file": file,
        "connection": c.id,
        "protocol": match c.protocol { Protocol::Smtp => "smtp", Protocol::Pop3 => "pop3" },
        "detected_by": c.detected_by.name(),
        "client": endpoint(&c.client),
        "server": endpoint(&c.server),
        "start": c.first_ts.rfc3339(),
        "end": c.last_ts.rfc3339(),
        "start_epoch": c.first_ts.epoch(),
        "end_epoch": c.last_ts.epoch(),
        "first_frame": c.first_frame,
        "last_frame": c.last_frame,
        "greeting": r.greeting,
        "capabilities": r.capabilities,
        "tls": r.tls,
        "auth": r.auth,
        "messages": r.messages,
        "state": r.state,
        "anomalies": r.anomalies,
        "anomaly_count": r.anomaly_count,
    });
    match c.protocol {
        Protocol::Smtp => {
            out["helo"] = json!(r.helo);
            out["transactions"] = json!(r.transactions);
        }
        Protocol::Pop3 => {
            out["commands"] = json!(r.commands);
            out["listed"] = json!(r.listed);
            out["retrieved"] = json!(r.retrieved);
            out["deleted"] = json!(r.deleted);
            out["reset"] = json!(r.reset);
            out["committed"] = json!(r.committed);
        }
    }
    out
}

/// The records as JSON lines.
pub fn json_lines(report: &Report, file: &str) -> String {
    let mut out = String::new();
    for record in records(report, file) {
        out.push_str(&record.to_string());
        out.push('\n');
    }
    out
}
