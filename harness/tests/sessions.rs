//! `--format sessions` and the per-frame JSON: valid against the schemas
//! that ship in `docs/schema/`, and stating per connection the facts other
//! projects' expected outputs state (Zeek's smtp.log, Suricata's pop3
//! events, nDPI's credentials).

mod common;

use std::path::Path;

use common::{analyze, fixture, root, shared};
use mailscope_harness::{render, sessions};
use serde_json::Value;

fn schema(name: &str) -> (boon::Schemas, boon::SchemaIndex) {
    let path = root().join("docs/schema").join(name);
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    let text = std::fs::read_to_string(&path).unwrap();
    let value: Value = serde_json::from_str(&text).unwrap();
    let url = format!("file://{}", path.display());
    compiler.add_resource(&url, value).unwrap();
    let index = compiler.compile(&url, &mut schemas).unwrap();
    (schemas, index)
}

fn every_capture() -> Vec<std::path::PathBuf> {
    let mut all = mailscope_harness::capture::find_captures(&root().join("fixtures"));
    if let Some(dir) = shared() {
        all.extend(mailscope_harness::capture::find_captures(&dir));
    }
    all
}

#[test]
fn every_record_of_every_capture_matches_its_schema() {
    let (session_schemas, session_index) = schema("sessions.schema.json");
    let (frame_schemas, frame_index) = schema("frames.schema.json");
    let mut records = 0;
    for path in every_capture() {
        let report = analyze(&path);
        for line in sessions::json_lines(&report, &path.display().to_string()).lines() {
            let value: Value = serde_json::from_str(line).unwrap();
            if let Err(error) = session_schemas.validate(&value, session_index) {
                panic!("{}: {error:#}\n{line}", path.display());
            }
            records += 1;
        }
        for line in render::json_lines(&report, &path.display().to_string()).lines() {
            let value: Value = serde_json::from_str(line).unwrap();
            if let Err(error) = frame_schemas.validate(&value, frame_index) {
                panic!("{}: {error:#}\n{line}", path.display());
            }
        }
    }
    assert!(records >= 40, "only {records} session records");
}

fn records(path: &Path) -> Vec<Value> {
    let report = analyze(path);
    sessions::records(&report, &path.display().to_string())
}

#[test]
fn smtp_session_record_of_a_fixture() {
    let path = fixture("pipelining-bdat");
    let [record] = &records(&path)[..] else {
        panic!()
    };
    assert_eq!(record["protocol"], "smtp");
    assert_eq!(
        record["client"],
        serde_json::json!({"ip": "192.0.2.10", "port": 50000})
    );
    assert_eq!(record["server"]["port"], 25);
    assert_eq!(record["detected_by"], "port");
    assert_eq!(record["helo"], "client.example.com");
    assert!(record["start"]
        .as_str()
        .unwrap()
        .starts_with("2023-11-14T22:13:20"));
    let transactions = record["transactions"].as_array().unwrap();
    assert_eq!(transactions.len(), 2);
    // The refused recipient of the second transaction, and the one accepted.
    let second = &transactions[1]["rcpt_to"];
    assert_eq!(second[0]["address"], "nobody@example.org");
    assert_eq!(second[0]["reply"], 550);
    assert_eq!(second[0]["accepted"], false);
    assert_eq!(second[1]["accepted"], true);
    assert_eq!(transactions[1]["message"]["subject"], "second");
    assert_eq!(transactions[0]["message"]["source"], "smtp-bdat");
}

#[test]
fn pop3_session_record_lists_logins_commands_and_deletions() {
    let [record] = &records(&fixture("pop3-user-pass"))[..] else {
        panic!()
    };
    let auth = record["auth"].as_array().unwrap();
    let outcomes: Vec<_> = auth
        .iter()
        .map(|a| {
            (
                a["username"].as_str(),
                a["secret"].as_str(),
                a["outcome"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            (Some("wendy"), Some("guess"), Some("failure")),
            (Some("wendy"), Some("hunter2"), Some("success"))
        ]
    );
    // RETR 1, DELE 1, then RSET: nothing stays deleted when QUIT commits.
    assert_eq!(record["retrieved"], serde_json::json!([1]));
    assert_eq!(record["deleted"], serde_json::json!([]));
    assert_eq!(record["reset"], true);
    assert_eq!(record["committed"], true);
    assert_eq!(record["state"], "update");
    let listed = record["listed"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed[0]["size"].is_u64() && listed[0]["uid"] == "000000016543a2c1");
    let pass = record["commands"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["command"] == "PASS" && c["response"] == "+OK")
        .unwrap();
    assert_eq!(
        pass["argument"],
        Value::Null,
        "the secret is listed under auth only"
    );
    assert_eq!(pass["state_after"], "transaction");
}

/// Zeek's smtp.log for `Traces/smtp.pcap`: per connection the HELO name,
/// MAIL FROM, RCPT TO set, Message-ID, subject and last reply.
#[test]
fn zeek_smtp_log_facts_per_connection() {
    let Some(dir) = shared() else { return };
    let log = std::fs::read_to_string(
        dir.join("zeek/Traces/smtp.pcap.expected/scripts.base.protocols.smtp.basic/smtp.log"),
    )
    .unwrap();
    let names: Vec<&str> = log
        .lines()
        .find_map(|l| l.strip_prefix("#fields\t"))
        .unwrap()
        .split('\t')
        .collect();
    let ours = records(&dir.join("zeek/Traces/smtp.pcap"));
    let mut rows = 0;
    for line in log.lines().filter(|l| !l.starts_with('#')) {
        let row: std::collections::HashMap<&str, &str> =
            names.iter().copied().zip(line.split('\t')).collect();
        let record = ours
            .iter()
            .find(|r| {
                r["client"]["ip"] == row["id.orig_h"]
                    && r["client"]["port"].as_u64() == row["id.orig_p"].parse().ok()
                    && r["server"]["ip"] == row["id.resp_h"]
            })
            .unwrap_or_else(|| panic!("no record for {line}"));
        assert_eq!(record["helo"], row["helo"]);
        let transaction = &record["transactions"][0];
        assert_eq!(transaction["mail_from"], row["mailfrom"]);
        let mut expected: Vec<&str> = row["rcptto"].split(',').collect();
        expected.sort_unstable();
        let mut got: Vec<&str> = transaction["rcpt_to"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["address"].as_str().unwrap())
            .collect();
        got.sort_unstable();
        assert_eq!(got, expected);
        let message = &transaction["message"];
        assert_eq!(message["subject"], row["subject"]);
        assert_eq!(
            format!("<{}>", message["message_id"].as_str().unwrap()),
            row["msg_id"]
        );
        let reply = &transaction["data_reply"];
        assert_eq!(
            format!("{} {}", reply["code"], reply["text"].as_str().unwrap()),
            row["last_reply"]
        );
        rows += 1;
    }
    assert_eq!(rows, 2);
}

/// Suricata's pop3 events for `tests/pop3`: the USER argument and the
/// commands that succeeded, counted as its test.yaml counts them.
#[test]
fn suricata_pop3_command_outcomes() {
    let Some(dir) = shared() else { return };
    let test = std::fs::read_to_string(dir.join("suricata-verify/tests/pop3/test.yaml")).unwrap();
    let user = test
        .lines()
        .find_map(|l| l.trim().strip_prefix("pop3.request.args[0]: "))
        .unwrap()
        .trim_matches('"');
    let [record] = &records(&dir.join("suricata-verify/tests/pop3/input.pcap"))[..] else {
        panic!()
    };
    let commands = record["commands"].as_array().unwrap();
    let user_command = commands.iter().find(|c| c["command"] == "USER").unwrap();
    assert_eq!(user_command["argument"], user);
    for verb in ["PASS", "STAT", "LIST", "RSET"] {
        let succeeded = commands
            .iter()
            .filter(|c| c["command"] == verb && c["response"] == "+OK")
            .count();
        assert_eq!(succeeded, 1, "{verb}");
    }
    assert_eq!(record["reset"], true);
    // Suricata counts 56 pop3 events: one per command, and the greeting.
    assert_eq!(commands.len() + 1, 56);
}

/// nDPI's flow summary for its pop3.pcap names a user and password per flow.
#[test]
fn ndpi_pop3_credentials() {
    let Some(dir) = shared() else { return };
    let out =
        std::fs::read_to_string(dir.join("ndpi/tests/cfgs/default/result/pop3.pcap.out")).unwrap();
    let ours = records(&dir.join("ndpi/tests/cfgs/default/pcap/pop3.pcap"));
    let mut checked = 0;
    for line in out.lines().filter(|l| l.contains("[User: ")) {
        let field = |key: &str| {
            let at = line.find(key).unwrap() + key.len();
            &line[at..at + line[at..].find(']').unwrap()]
        };
        let (user, password) = (field("[User: "), field("[Pwd: "));
        let found = ours.iter().any(|r| {
            r["auth"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["username"] == user && a["secret"] == password)
        });
        assert!(found, "no login {user}/{password}");
        checked += 1;
    }
    assert!(checked >= 1);
}

/// Suricata's smtp event for `smtp-eve` (its pcap is `bug-3616-smtp`):
/// endpoints, HELO, MAIL FROM, RCPT TO, the attachment's name, and the file's size.
#[test]
fn suricata_smtp_event_facts() {
    let Some(dir) = shared() else { return };
    let test =
        std::fs::read_to_string(dir.join("suricata-verify/tests/smtp-eve/test.yaml")).unwrap();
    // The first filter block is the smtp event; values as `key: value` lines.
    let value = |key: &str| -> String {
        test.lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{key}: ")))
            .unwrap_or_else(|| panic!("{key} not in test.yaml"))
            .trim_matches('\'')
            .to_string()
    };
    let [record] = &records(&dir.join("suricata-verify/tests/bug-3616-smtp/input.pcap"))[..] else {
        panic!()
    };
    assert_eq!(record["client"]["ip"], value("src_ip"));
    assert_eq!(record["client"]["port"].to_string(), value("src_port"));
    assert_eq!(record["server"]["ip"], value("dest_ip"));
    assert_eq!(record["server"]["port"].to_string(), value("dest_port"));
    assert_eq!(record["helo"], value("smtp.helo"));
    let transaction = &record["transactions"][0];
    assert_eq!(
        format!("<{}>", transaction["mail_from"].as_str().unwrap()),
        value("smtp.mail_from")
    );
    assert_eq!(
        format!(
            "<{}>",
            transaction["rcpt_to"][0]["address"].as_str().unwrap()
        ),
        value("smtp.rcpt_to[0]")
    );
    let attachment = &transaction["message"]["attachments"][0];
    assert_eq!(attachment["filename"], value("email.attachment[0]"));
    assert_eq!(attachment["size"].to_string(), value("fileinfo.size"));
    assert_eq!(
        transaction["message"]["from"],
        value("email.from").replace('"', "")
    );
}

/// Zeek's pop3 event trace for `Traces/pop3/pop3.pcap`: per session (known
/// by its greeting), every request and whether its reply was OK or ERR.
#[test]
fn zeek_pop3_requests_and_replies_per_session() {
    let Some(dir) = shared() else { return };
    let trace = std::fs::read_to_string(
        dir.join("zeek/Traces/pop3/pop3.pcap.expected/scripts.base.protocols.pop3.basic/out"),
    )
    .unwrap();
    // uid, greeting, [(command, status)]
    type Session = (String, String, Vec<(String, String)>);
    let mut sessions: Vec<Session> = Vec::new();
    let mut pending: Option<String> = None;
    for line in trace.lines().filter(|l| !l.starts_with('#')) {
        let parts: Vec<&str> = line.splitn(5, ", ").collect();
        let [uid, event, _, what, text] = parts[..] else {
            continue;
        };
        let at = match sessions.iter().position(|(u, _, _)| u == uid) {
            Some(at) => at,
            None => {
                sessions.push((uid.to_string(), text.to_string(), Vec::new()));
                pending = None;
                continue; // the greeting
            }
        };
        match event {
            "pop3_request" => pending = Some(what.to_string()),
            "pop3_reply" => {
                if let Some(command) = pending.take() {
                    sessions[at].2.push((command, what.to_string()));
                }
            }
            _ => {}
        }
    }
    let ours = records(&dir.join("zeek/Traces/pop3/pop3.pcap"));
    assert!(sessions.len() >= 5);
    for (_, greeting, exchanges) in &sessions {
        let record = ours
            .iter()
            .find(|r| {
                r["greeting"]
                    .as_str()
                    .is_some_and(|g| greeting.starts_with(g) || g.starts_with(greeting.as_str()))
            })
            .unwrap_or_else(|| panic!("no session greeted {greeting:?}"));
        let got: Vec<(String, String)> = record["commands"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["command"].as_str().unwrap().to_string(),
                    c["response"]
                        .as_str()
                        .unwrap_or("")
                        .trim_start_matches(['+', '-'])
                        .to_string(),
                )
            })
            .collect();
        assert_eq!(&got, exchanges, "session {greeting:?}");
    }
}
