//! `--format sessions`: one JSON record per connection, the shape people
//! feed to jq, a SIEM or a notebook (after Zeek's smtp.log and Suricata's
//! eve.json). Built from the PDUs' items and events; the schema is
//! `docs/schema/sessions.schema.json`.

use mailscope::mime::MimeMessage;
use mailscope::{Field, Item, Pdu, Protocol, Value};
use serde_json::{json, Map, Value as Json};

use crate::analyze::{ConnectionInfo, Endpoint, Report};
use crate::filter::Filter;
use crate::writer::{Form, Writer};

/// Most anomalies listed per connection; the rest are counted.
pub const MAX_ANOMALIES: usize = 1000;

/// Most entries in each other list of a record (logins, transactions, a
/// transaction's recipients, messages, POP3 commands, listed, retrieved and
/// deleted messages); the rest are counted under `omitted`.
pub const MAX_ENTRIES: usize = 1000;

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

/// `missing` bytes of the message were not in the capture: said when there are some.
fn with_missing(mut summary: Json, missing: u64) -> Json {
    if missing > 0 {
        summary["missing"] = json!(missing);
    }
    summary
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
        out["sha1"] = json!(m.sha1);
        out["attachments"] = Json::Array(
            m.attachments()
                .map(|p| {
                    json!({
                        "filename": p.filename,
                        "content_type": p.content_type,
                        "size": p.size,
                        "md5": p.md5,
                        "sha1": p.sha1,
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

/// What one connection's PDUs add up to. What every connection has is
/// inline; the lists, which an idle connection does not have, are
/// allocated when first used (a record is held per open connection).
#[derive(Default)]
pub struct Record {
    greeting: Option<String>,
    helo: Option<String>,
    capabilities: Vec<String>,
    state: Option<String>,
    reset: bool,
    committed: bool,
    anomaly_count: usize,
    /// EHLO capabilities are replaced by the next EHLO's (after STARTTLS).
    capabilities_done: bool,
    /// The transaction under way was left out: its recipients and replies are too.
    transaction_omitted: bool,
    lists: Option<Box<Lists>>,
}

#[derive(Default)]
struct Lists {
    tls: Option<Json>,
    auth: Vec<Json>,
    transactions: Vec<Json>,
    messages: Vec<Json>,
    commands: Vec<Json>,
    listed: Vec<Json>,
    retrieved: Vec<u64>,
    deleted: Vec<u64>,
    anomalies: Vec<Json>,
    /// Entries left out of each list past `MAX_ENTRIES`.
    omitted: Map<String, Json>,
    /// SMTP requests awaiting a reply, with their transactions.
    awaiting: crate::awaiting::Awaiting,
}

/// Pushes `value` onto `list` unless it is full; then counts it under `key`.
fn push_bounded<T>(
    list: &mut Vec<T>,
    value: T,
    omitted: &mut Map<String, Json>,
    key: &str,
) -> bool {
    if list.len() < MAX_ENTRIES {
        list.push(value);
        return true;
    }
    let count = omitted.get(key).and_then(Json::as_u64).unwrap_or(0);
    omitted.insert(key.to_string(), json!(count + 1));
    false
}

impl Record {
    fn lists(&mut self) -> &mut Lists {
        self.lists.get_or_insert_with(Box::default)
    }

    /// Adds what one PDU of a connection of `protocol` says; `items` are
    /// its wire items (`Pdu::flatten_wire`).
    pub fn pdu(&mut self, protocol: Protocol, pdu: &Pdu, items: &[(&Item, usize)]) {
        for anomaly in &pdu.anomalies {
            self.anomaly_count += 1;
            if self.lists().anomalies.len() < MAX_ANOMALIES {
                self.lists().anomalies.push(json!({
                    "frame": pdu.frame,
                    "name": anomaly.expert.abbrev(),
                    "message": anomaly.message,
                }));
            }
        }
        if pdu.starts_tls {
            self.lists().tls = Some(json!({
                "kind": match protocol { Protocol::Smtp => "starttls", Protocol::Pop3 => "stls" },
                "frame": pdu.frame,
                "decrypted": false,
            }));
        }
        if let Some(credential) = &pdu.credential {
            let attempt = json!({
                "mechanism": credential.mechanism,
                "username": credential.username,
                "secret": credential.password.clone().or_else(|| credential.token.clone()),
                "outcome": "unknown",
                "frames": [credential.frame],
            });
            let l = self.lists();
            push_bounded(&mut l.auth, attempt, &mut l.omitted, "auth");
        }
        if let Some((credential_frame, success)) = pdu.auth_outcome {
            if let Some(attempt) = self
                .lists()
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
            Protocol::Smtp => self.smtp(pdu, items),
            Protocol::Pop3 => self.pop3(pdu, items),
        }
        if let Some(message) = &pdu.message {
            let summary = message_summary(
                pdu.frame,
                source_name(pdu),
                pdu.mime.as_deref(),
                message.content.len(),
                message.complete && !message.truncated,
            );
            let summary = with_missing(summary, message.missing());
            if protocol == Protocol::Smtp && !self.transaction_omitted {
                if let Some(t) = self.lists().transactions.last_mut() {
                    t["message"] = summary.clone();
                }
                if message.complete || !message.gaps.is_empty() {
                    // The final dot is answered like a command (also when a
                    // gap took it: the reply that proved the end answers it).
                    self.await_reply(pdu.frame, "DATA");
                }
            }
            let l = self.lists();
            push_bounded(&mut l.messages, summary, &mut l.omitted, "messages");
        }
    }

    /// Remembers a request whose reply concerns the current transaction.
    fn await_reply(&mut self, frame: u64, verb: &str) {
        if self.transaction_omitted || !matches!(verb, "MAIL" | "RCPT" | "DATA" | "BDAT" | "RSET") {
            return;
        }
        let l = self.lists();
        if let Some(current) = l.transactions.len().checked_sub(1) {
            l.awaiting.push(frame, verb, current);
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
                "MAIL" => {
                    let transaction = json!({
                        "frame": pdu.frame,
                        "mail_from": text(items, Field::SmtpMailFrom),
                        "rcpt_to": [],
                    });
                    let l = self.lists();
                    let kept = push_bounded(
                        &mut l.transactions,
                        transaction,
                        &mut l.omitted,
                        "transactions",
                    );
                    self.transaction_omitted = !kept;
                }
                "RCPT" if !self.transaction_omitted => {
                    let l = self.lists();
                    if let (Some(t), Some(rcpt)) =
                        (l.transactions.last_mut(), text(items, Field::SmtpRcptTo))
                    {
                        if let Some(list) = t["rcpt_to"].as_array_mut() {
                            let entry = json!({"address": rcpt, "frame": pdu.frame});
                            push_bounded(list, entry, &mut l.omitted, "rcpt_to");
                        }
                    }
                }
                _ => {}
            }
            self.await_reply(pdu.frame, &command);
        }
        // A reply: its code goes to the command it answers, in that command's transaction.
        let (Some(code), Some(answers), Some(request)) = (
            number(items, Field::SmtpReplyCode),
            text(items, Field::SmtpReplyCommand),
            number(items, Field::SmtpReplyRequestFrame),
        ) else {
            return;
        };
        let reply_text = text(items, Field::SmtpReplyText);
        let l = self.lists();
        let Some(index) = l.awaiting.answer(request, &answers) else {
            return;
        };
        let Some(t) = l.transactions.get_mut(index) else {
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
            let entry = json!({
                "frame": pdu.frame,
                "command": command,
                "argument": argument,
                "state": text(items, Field::PopState),
            });
            let l = self.lists();
            push_bounded(&mut l.commands, entry, &mut l.omitted, "commands");
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
        if let Some(command) = self.lists().commands.iter_mut().rev().find(|c| {
            c["command"] == json!(answers) && request.is_none_or(|f| c["frame"] == json!(f))
        }) {
            command["response"] = json!(indicator);
            command["state_after"] = json!(text(items, Field::PopState));
        }
        if !ok {
            return;
        }
        let argument_number = self
            .lists()
            .commands
            .iter()
            .rev()
            .find(|c| c["command"] == json!(answers))
            .and_then(|c| c["argument"].as_str())
            .and_then(|a| a.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok());
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
            "RETR" => {
                if let Some(n) = argument_number {
                    let l = self.lists();
                    push_bounded(&mut l.retrieved, n, &mut l.omitted, "retrieved");
                }
            }
            "DELE" => {
                if let Some(n) = argument_number {
                    let l = self.lists();
                    push_bounded(&mut l.deleted, n, &mut l.omitted, "deleted");
                }
            }
            "RSET" => {
                self.lists().deleted.clear();
                self.reset = true;
            }
            "QUIT" => self.committed = text(items, Field::PopState).as_deref() == Some("update"),
            _ => {}
        }
    }

    /// A LIST line and a UIDL line of the same message become one entry.
    fn merge_listing(&mut self, entry: Map<String, Json>) {
        let number = entry.get("number").cloned();
        let l = self.lists();
        match l
            .listed
            .iter_mut()
            .find(|l| number.is_some() && l.get("number") == number.as_ref())
        {
            Some(existing) => {
                if let Some(obj) = existing.as_object_mut() {
                    obj.extend(entry);
                }
            }
            None => {
                push_bounded(&mut l.listed, Json::Object(entry), &mut l.omitted, "listed");
            }
        }
    }
}

/// One record per connection of `report`, read from `file`, in the order
/// the connections ended.
pub fn records(report: &Report, file: &str) -> Vec<Json> {
    let mut writer = Writer::new(Form::Records, file, Filter::default(), std::io::sink());
    writer.replay(report);
    writer.into_records()
}

impl Record {
    /// Whether the connection carried a login.
    pub fn has_login(&self) -> bool {
        self.lists.as_ref().is_some_and(|l| !l.auth.is_empty())
    }

    /// The record of connection `c`, read from `file`.
    pub fn finish(mut self, c: &ConnectionInfo, file: &str) -> Json {
        let mut l = self.lists.take().map(|l| *l).unwrap_or_default();
        if c.implicit_tls {
            l.tls = Some(
                json!({"kind": "implicit", "frame": c.first_frame, "decrypted": c.tls_decrypted}),
            );
        } else if let Some(tls) = l.tls.as_mut() {
            tls["decrypted"] = json!(c.tls_decrypted);
        }
        let r = self;
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
            "ended": c.end.map(|e| e.name()),
            "greeting": r.greeting,
            "capabilities": r.capabilities,
            "tls": l.tls,
            "auth": l.auth,
            "messages": l.messages,
            "state": r.state,
            "anomalies": l.anomalies,
            "anomaly_count": r.anomaly_count,
            "omitted": l.omitted,
        });
        match c.protocol {
            Protocol::Smtp => {
                out["helo"] = json!(r.helo);
                out["transactions"] = json!(l.transactions);
            }
            Protocol::Pop3 => {
                out["commands"] = json!(l.commands);
                out["listed"] = json!(l.listed);
                out["retrieved"] = json!(l.retrieved);
                out["deleted"] = json!(l.deleted);
                out["reset"] = json!(r.reset);
                out["committed"] = json!(r.committed);
            }
        }
        out
    }
}

/// The records as JSON lines.
pub fn json_lines(report: &Report, file: &str) -> String {
    let mut writer = Writer::new(Form::Sessions, file, Filter::default(), Vec::new());
    writer.replay(report);
    writer.into_string()
}
