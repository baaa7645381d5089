//! The public captures in `../shared/pcaps`, checked against the facts their
//! own projects' expected outputs state (Zeek logs, Suricata test.yaml,
//! Arkime session JSON). Values are read from those files, not restated here.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use base64::Engine;
use common::{analyze, credentials, shared, values};
use mailscope::Field;
use mailscope_harness::summarize;

/// Every capture under `../shared/pcaps` runs to the end without a panic, and the SMTP ones yield SMTP.
#[test]
fn every_shared_capture_runs_and_smtp_ones_are_found() {
    let Some(dir) = shared() else { return };
    let files = mailscope_harness::capture::find_captures(&dir);
    assert!(files.len() >= 30, "found only {} captures", files.len());
    for path in files {
        let report = analyze(&path);
        assert!(
            report.error.is_none(),
            "{}: {:?}",
            path.display(),
            report.error
        );
        let name = path.to_string_lossy();
        let smtp = name.contains("smtp")
            || name.contains("bdat")
            || name.contains("mail_sender")
            || name.contains("mime");
        if smtp {
            assert!(
                !report.connections.is_empty(),
                "no SMTP connection found in {name}"
            );
            // These two hold client payload only (the server's segments were not captured).
            let one_sided =
                name.contains("smtp-one-side-only") || name.contains("smtp-attachment-msg");
            assert_eq!(
                values(&report, Field::SmtpReplyCode).is_empty(),
                one_sided,
                "{name}: replies"
            );
        }
    }
}

/// Zeek's smtp.log rows: (helo, mailfrom, rcptto set) for each transaction.
fn zeek_smtp_log(path: &Path) -> Vec<(String, String, BTreeSet<String>)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut columns = Vec::new();
    let mut rows = Vec::new();
    for line in text.lines() {
        if let Some(fields) = line.strip_prefix("#fields\t") {
            columns = fields.split('\t').collect();
        } else if !line.starts_with('#') {
            let cells: Vec<&str> = line.split('\t').collect();
            let get =
                |name: &str| cells[columns.iter().position(|c| *c == name).unwrap()].to_string();
            let rcpts = get("rcptto")
                .split(',')
                .filter(|r| *r != "-")
                .map(str::to_string)
                .collect();
            rows.push((get("helo"), get("mailfrom"), rcpts));
        }
    }
    rows
}

#[test]
fn zeek_smtp_pcap_envelopes_and_outlook_auth_login() {
    let Some(dir) = shared() else { return };
    let report = analyze(&dir.join("zeek/Traces/smtp.pcap"));
    let expected = zeek_smtp_log(
        &dir.join("zeek/Traces/smtp.pcap.expected/scripts.base.protocols.smtp.basic/smtp.log"),
    );
    assert_eq!(expected.len(), 2);
    let helos = values(&report, Field::SmtpHelo);
    let summaries = summarize(&report);
    for (i, (helo, from, rcpts)) in expected.iter().enumerate() {
        assert_eq!(&helos[i], helo);
        let message = &summaries[i].messages[0];
        assert_eq!(message.mail_from.as_deref(), Some(from.as_str()));
        assert_eq!(
            &message.rcpt_to.iter().cloned().collect::<BTreeSet<_>>(),
            rcpts
        );
    }
    // Zeek's event trace carries the AUTH LOGIN answers as base64; they decode to our credential.
    let events = std::fs::read_to_string(
        dir.join("zeek/Traces/smtp.pcap.expected/scripts.policy.misc.dump-events/smtp-events.log"),
    )
    .unwrap();
    let decoded: Vec<String> = events
        .lines()
        .filter_map(|l| l.trim().strip_prefix("[3] arg: string        = "))
        .filter_map(|arg| {
            base64::engine::general_purpose::STANDARD
                .decode(arg.trim())
                .ok()
        })
        .filter_map(|b| String::from_utf8(b).ok())
        .collect();
    let cred = &credentials(&report)[0];
    assert_eq!(cred.mechanism, "LOGIN");
    assert!(
        decoded.contains(cred.username.as_ref().unwrap()),
        "{decoded:?}"
    );
    assert!(
        decoded.contains(cred.password.as_ref().unwrap()),
        "{decoded:?}"
    );
    assert_eq!(cred.success, Some(true));
}

/// `key: value` lines of a suricata-verify test.yaml.
fn yaml_values(path: &Path, key: &str) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(&format!("{key}: ")))
        .map(|v| v.trim().trim_matches('"').replace("\\r", "\r"))
        .collect()
}

#[test]
fn suricata_outlook_session_matches_zeek_and_its_eve() {
    let Some(dir) = shared() else { return };
    let report = analyze(&dir.join("suricata-verify/tests/bug-3616-smtp/input.pcap"));
    let zeek = analyze(&dir.join("zeek/Traces/smtp.pcap"));
    assert_eq!(
        credentials(&report)[0].username,
        credentials(&zeek)[0].username
    );
    let eve = dir.join("suricata-verify/tests/smtp-eve/test.yaml");
    assert_eq!(
        values(&report, Field::SmtpHelo)[0],
        yaml_values(&eve, "smtp.helo")[0]
    );
    let from = yaml_values(&eve, "smtp.mail_from")[0]
        .trim_matches(['<', '>'])
        .to_string();
    assert_eq!(values(&report, Field::SmtpMailFrom)[0], from);
}

#[test]
fn suricata_long_ehlo_is_kept_whole() {
    let Some(dir) = shared() else { return };
    let test = dir.join("suricata-verify/tests/smtp-long-command");
    let report = analyze(&test.join("input.pcap"));
    let expected = yaml_values(&test.join("test.yaml"), "smtp.helo")[0]
        .trim_end_matches('\r')
        .to_string();
    assert!(expected.len() > 1000);
    assert_eq!(values(&report, Field::SmtpHelo)[0], expected);
}

#[test]
fn suricata_bdat_then_data_two_transactions() {
    let Some(dir) = shared() else { return };
    let report =
        analyze(&dir.join("suricata-verify/tests/smtp-bdat-pipelined-next-mail/input.pcap"));
    let s = &summarize(&report)[0];
    assert_eq!(s.messages.len(), 2);
    assert_eq!(
        s.messages[0].mail_from.as_deref(),
        Some("alice@example.com")
    );
    assert_eq!(s.messages[1].mail_from.as_deref(), Some("bob@example.com"));
    assert!(
        report
            .frames
            .iter()
            .flat_map(|f| &f.pdus)
            .all(|p| p.anomalies.is_empty()),
        "pipelined BDAT LAST then MAIL is legal"
    );
}

fn arkime_sessions(path: &Path) -> Vec<serde_json::Value> {
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["sessions3"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["body"].clone())
        .collect()
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn arkime_auth_plain_users() {
    let Some(dir) = shared() else { return };
    for name in ["smtp-data-250", "smtp-data-521"] {
        let pcap = dir.join(format!("arkime/tests/pcap/{name}.pcap"));
        let expected: Vec<String> = arkime_sessions(&pcap.with_extension("test"))
            .iter()
            .flat_map(|s| strings(&s["user"]))
            .collect();
        let creds = credentials(&analyze(&pcap));
        let users: Vec<String> = creds.iter().filter_map(|c| c.username.clone()).collect();
        assert_eq!(users, expected, "{name}");
        assert!(creds
            .iter()
            .all(|c| c.mechanism == "PLAIN" && c.password.is_some() && c.success == Some(true)));
    }
}

#[test]
fn arkime_ntlm_user_domain_host() {
    let Some(dir) = shared() else { return };
    let pcap = dir.join("arkime/tests/pcap/ntlm_synthetic.pcap");
    let smtp = arkime_sessions(&pcap.with_extension("test"))
        .into_iter()
        .find(|s| s["destination"]["port"] == 25)
        .expect("Arkime's SMTP session");
    let report = analyze(&pcap);
    let cred = &credentials(&report)[0];
    assert_eq!(cred.mechanism, "NTLM");
    assert_eq!(vec![cred.username.clone().unwrap()], strings(&smtp["user"]));
    assert_eq!(
        vec![cred.domain.clone().unwrap()],
        strings(&smtp["ntlm"]["domain"])
    );
    assert_eq!(
        vec![cred.host.clone().unwrap()],
        strings(&smtp["ntlm"]["host"])
    );
    // The target name of the SMTP connection (the capture also holds POP3 NTLM).
    let smtp_id = report
        .connections
        .iter()
        .find(|c| c.protocol == mailscope::Protocol::Smtp)
        .unwrap()
        .id;
    let targets: Vec<String> = report
        .frames
        .iter()
        .filter(|f| f.connection == smtp_id)
        .flat_map(|f| f.pdus.iter().flat_map(|p| p.flatten()))
        .filter(|(i, _)| i.field == Field::AuthNtlmTarget)
        .map(|(i, _)| i.value.to_string())
        .collect();
    assert_eq!(targets, strings(&smtp["ntlm"]["targetName"]));
}

#[test]
fn arkime_bdat_on_port_1224_found_by_content() {
    let Some(dir) = shared() else { return };
    let report = analyze(&dir.join("arkime/tests/pcap/wireshark-bdat.pcap"));
    assert_eq!(report.connections[0].server.1, 1224);
    assert_eq!(values(&report, Field::SmtpBdatSize), ["295", "8380"]);
    let s = &summarize(&report)[0];
    assert_eq!(s.messages[0].size, 295 + 8380);
}

#[test]
fn arkime_starttls_in_clear_keeps_parsing() {
    let Some(dir) = shared() else { return };
    let report = analyze(&dir.join("arkime/tests/pcap/smtp-decrypted.pcap"));
    let anomalies: Vec<_> = report
        .frames
        .iter()
        .flat_map(|f| &f.pdus)
        .flat_map(|p| &p.anomalies)
        .collect();
    assert!(anomalies
        .iter()
        .any(|a| a.message.contains("continued in clear text")));
    let expected: Vec<String> = arkime_sessions(&dir.join("arkime/tests/pcap/smtp-decrypted.test"))
        .iter()
        .flat_map(|s| strings(&s["email"]["src"]))
        .collect();
    let mut ours: Vec<String> = summarize(&report)
        .iter()
        .flat_map(|s| s.messages.iter().filter_map(|m| m.mail_from.clone()))
        .collect();
    ours.dedup();
    for sender in &expected {
        assert!(ours.contains(sender), "{sender} not among {ours:?}");
    }
}

#[test]
fn zeek_bdat_gap_is_reported_and_the_session_continues() {
    let Some(dir) = shared() else { return };
    let report = analyze(&dir.join("zeek/Traces/smtp/smtp-bdat-gap.pcap"));
    let gap = report
        .frames
        .iter()
        .flat_map(|f| &f.pdus)
        .flat_map(|p| &p.anomalies)
        .find(|a| a.expert.abbrev() == "mail.expert.gap");
    let files = std::fs::read_to_string(dir.join("zeek/Traces/smtp/smtp-bdat-gap.pcap.expected/scripts.base.protocols.smtp.bdat-gap/files.log.cut"))
        .ok();
    let gap = gap.expect("the gap is an expert info");
    if let Some(files) = files {
        // Zeek's missing_bytes column for the BDAT entity.
        let missing = files
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split('\t').next_back())
            .collect::<Vec<_>>();
        assert!(
            missing.iter().any(|m| gap.message.starts_with(m)),
            "{missing:?} vs {}",
            gap.message
        );
    }
    assert_eq!(common::last_command(&report).as_deref(), Some("QUIT"));
}

#[test]
fn segmentation_offload_frames_with_ip_length_zero_are_read() {
    let Some(dir) = shared() else { return };
    // Captured on the sender: 4 KB frames whose IPv4 total length is 0 (TSO).
    let report = analyze(&dir.join("chrissanders-packets/mail_sender_attachment.pcapng"));
    let message = &summarize(&report)[0].messages[0];
    assert!(message.complete && message.size > 76_000, "{message:?}");
    let content = report
        .frames
        .iter()
        .flat_map(|f| &f.pdus)
        .find_map(|p| p.message.clone())
        .unwrap();
    assert!(String::from_utf8_lossy(&content.content).contains("newguy.jpg"));
    assert!(report
        .frames
        .iter()
        .flat_map(|f| &f.pdus)
        .all(|p| p.anomalies.is_empty()));
}

// ----- POP3

#[test]
fn ndpi_pop3_cleartext_user_and_password() {
    let Some(dir) = shared() else { return };
    let expected =
        std::fs::read_to_string(dir.join("ndpi/tests/cfgs/default/result/pop3.pcap.out")).unwrap();
    let (user, password) = {
        let user_at = expected.find("[User: ").expect("nDPI names the user") + 7;
        let user = &expected[user_at..user_at + expected[user_at..].find(']').unwrap()];
        let pwd_at = expected.find("[Pwd: ").expect("nDPI names the password") + 6;
        let pwd = &expected[pwd_at..pwd_at + expected[pwd_at..].find(']').unwrap()];
        (user.to_string(), pwd.to_string())
    };
    let creds = credentials(&analyze(
        &dir.join("ndpi/tests/cfgs/default/pcap/pop3.pcap"),
    ));
    let user_pass = creds
        .iter()
        .find(|c| c.mechanism == mailscope::pop3::USER_PASS)
        .unwrap();
    assert_eq!(user_pass.username.as_deref(), Some(user.as_str()));
    assert_eq!(user_pass.password.as_deref(), Some(password.as_str()));
    assert_eq!(user_pass.success, Some(true));
}

/// Zeek's pop3_request / pop3_reply event trace, connection by connection,
/// equals our commands and status lines (SASL continuation lines aside). Each
/// direction is compared in order on its own: Zeek reports a multi-line reply
/// at its first line, mailscope once its block is complete.
#[test]
fn zeek_pop3_request_reply_trace() {
    let Some(dir) = shared() else { return };
    let out = std::fs::read_to_string(
        dir.join("zeek/Traces/pop3/pop3.pcap.expected/scripts.base.protocols.pop3.basic/out"),
    )
    .unwrap();
    let mut zeek: Vec<(String, Vec<String>)> = Vec::new();
    for line in out.lines().filter(|l| !l.starts_with('#')) {
        let cells: Vec<&str> = line.splitn(5, ", ").collect();
        let [uid, event, _orig, verb, arg] = cells[..] else {
            continue;
        };
        let entry = match event {
            "pop3_request" => format!("C {verb} {arg}"),
            _ => format!("S {verb} {arg}"),
        };
        match zeek.iter_mut().find(|(u, _)| u == uid) {
            Some((_, list)) => list.push(entry.trim_end().to_string()),
            None => zeek.push((uid.to_string(), vec![entry.trim_end().to_string()])),
        }
    }
    let report = analyze(&dir.join("zeek/Traces/pop3/pop3.pcap"));
    let mut ours: Vec<Vec<String>> = vec![Vec::new(); report.connections.len()];
    for record in &report.frames {
        for pdu in &record.pdus {
            let items = pdu.flatten();
            let get = |field| {
                items
                    .iter()
                    .find(|(i, _)| i.field == field)
                    .map(|(i, _)| i.value.to_string())
            };
            if let Some(verb) = get(Field::PopCommand) {
                let arg = get(Field::PopArgument).unwrap_or_default();
                ours[record.connection - 1].push(format!("C {verb} {arg}").trim_end().to_string());
            } else if let Some(indicator) = get(Field::PopResponseIndicator).filter(|i| i != "+") {
                let text = get(Field::PopResponseText).unwrap_or_default();
                let kind = indicator.trim_start_matches(['+', '-']);
                ours[record.connection - 1].push(format!("S {kind} {text}").trim_end().to_string());
            }
        }
    }
    assert_eq!(zeek.len(), ours.len());
    let side = |list: &[String], prefix: &str| {
        list.iter()
            .filter(|e| e.starts_with(prefix))
            .cloned()
            .collect::<Vec<_>>()
    };
    for ((uid, theirs), mine) in zeek.iter().zip(&ours) {
        assert_eq!(
            side(theirs, "C "),
            side(mine, "C "),
            "Zeek connection {uid}: requests"
        );
        assert_eq!(
            side(theirs, "S "),
            side(mine, "S "),
            "Zeek connection {uid}: replies"
        );
    }
}

#[test]
fn suricata_pop3_failed_then_successful_login() {
    let Some(dir) = shared() else { return };
    let test = dir.join("suricata-verify/tests/pop3-02-bug-7709");
    // Suricata logs an empty header for a bare "+OK"; those have no text field here.
    let failure_text: Vec<String> = yaml_values(&test.join("test.yaml"), "pop3.response.header")
        .into_iter()
        .filter(|t| !t.is_empty())
        .collect();
    let report = analyze(&test.join("input.pcap"));
    let creds = credentials(&report);
    assert_eq!(
        creds.iter().map(|c| c.success).collect::<Vec<_>>(),
        [Some(false), Some(true)]
    );
    let texts = values(&report, Field::PopResponseText);
    assert!(
        failure_text.iter().all(|t| texts.contains(t)),
        "{failure_text:?} not among {texts:?}"
    );
    // RETR 5: the message with the GB2312 subject arrives whole.
    let message = report
        .frames
        .iter()
        .flat_map(|f| &f.pdus)
        .find_map(|p| p.message.clone())
        .unwrap();
    assert!(String::from_utf8_lossy(&message.content).contains("Subject: =?"));
}

#[test]
fn suricata_pop3_xoauth2_blob_decodes_to_the_user() {
    let Some(dir) = shared() else { return };
    let test = dir.join("suricata-verify/tests/pop3-auth-01");
    // pop3.syn describes the traffic; its AUTH response is the SASL blob Suricata logs as <SASL DATA>.
    let syn = std::fs::read_to_string(test.join("pop3.syn")).unwrap();
    let blob_line = syn
        .lines()
        .find(|l| l.contains("content:\"dXNlcj"))
        .unwrap();
    let blob = blob_line
        .split("content:\"")
        .nth(1)
        .unwrap()
        .split("\\x0d")
        .next()
        .unwrap();
    let decoded = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(blob)
            .unwrap(),
    )
    .unwrap();
    let user = decoded
        .strip_prefix("user=")
        .unwrap()
        .split('\u{1}')
        .next()
        .unwrap();
    let creds = credentials(&analyze(&test.join("input.pcap")));
    assert_eq!(
        (creds[0].mechanism.as_str(), creds[0].username.as_deref()),
        ("XOAUTH2", Some(user))
    );
}

#[test]
fn arkime_pop3_ntlm_user_domain_host() {
    let Some(dir) = shared() else { return };
    let pcap = dir.join("arkime/tests/pcap/ntlm_synthetic.pcap");
    let pop = arkime_sessions(&pcap.with_extension("test"))
        .into_iter()
        .find(|s| s["destination"]["port"] == 110)
        .unwrap();
    let creds = credentials(&analyze(&pcap));
    let ntlm = creds
        .iter()
        .find(|c| c.mechanism == "NTLM" && c.domain.as_deref() != Some("SMTPDOM"))
        .unwrap();
    assert_eq!(vec![ntlm.username.clone().unwrap()], strings(&pop["user"]));
    assert_eq!(
        vec![ntlm.domain.clone().unwrap()],
        strings(&pop["ntlm"]["domain"])
    );
    assert_eq!(
        vec![ntlm.host.clone().unwrap()],
        strings(&pop["ntlm"]["host"])
    );
}

#[test]
fn crafted_pop3_listing_and_garbage_do_not_derail_the_session() {
    let Some(dir) = shared() else { return };
    let report = analyze(&dir.join("zeek/Traces/pop3/bad-list-retr-crafted.pcap"));
    let anomalies: Vec<_> = report
        .frames
        .iter()
        .flat_map(|f| &f.pdus)
        .flat_map(|p| &p.anomalies)
        .collect();
    assert!(anomalies
        .iter()
        .any(|a| a.message.contains("not ended by a \".\" line")));
    assert_eq!(
        values(&report, Field::PopCommand)
            .last()
            .map(String::as_str),
        Some("QUIT")
    );
}
