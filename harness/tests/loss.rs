//! Captures that lost TCP segments: the message keeps its subject and the
//! parts the gap missed, says how many bytes it lacks, and the session keeps
//! its framing and its final state. The `loss-*` fixtures (the generator
//! leaves one segment out of each), and every multi-segment fixture with one
//! mid-message segment dropped here, before the analyzer sees it.

mod common;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use common::loss::{
    LossCase, BIN, BIN_SHA256, CASES, EML, FOXMAIL_SUBJECT, MIXED_SUBJECT, PDF, PDF_SHA256,
};
use common::{fixture, root};
use mailscope_harness::analyze::Analyzer;
use mailscope_harness::capture::{find_captures, read_capture};
use mailscope_harness::{sessions, Options, Report};
use serde_json::Value;

/// The capture analyzed with the segment of frame `drop` (if any) left
/// out; `None` when the file cannot be read to its end (`truncated-file`).
fn analyze_without(path: &Path, drop: Option<u64>) -> Option<Report> {
    let mut analyzer = Analyzer::new(Options::default());
    let frames = read_capture(
        path,
        |segment| {
            if Some(segment.frame) != drop {
                analyzer.segment(segment)
            }
        },
        |_| {},
    )
    .ok()?;
    Some(analyzer.finish(frames, None))
}

fn records(report: &Report) -> Vec<Value> {
    sessions::records(report, "capture")
}

fn the_record(name: &str) -> Value {
    let report = analyze_without(&fixture(name), None).unwrap();
    let [record] = &records(&report)[..] else {
        panic!("{name}: not one session")
    };
    record.clone()
}

fn subjects(record: &Value) -> Vec<&str> {
    record["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["subject"].as_str().unwrap_or(""))
        .collect()
}

/// Attachment name -> sha256 of one message of a record.
fn attachments(message: &Value) -> HashMap<&str, &str> {
    message["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["filename"].as_str().unwrap(),
                a["sha256"].as_str().unwrap(),
            )
        })
        .collect()
}

/// The expert infos of a record, by name.
fn anomaly_names(record: &Value) -> Vec<&str> {
    record["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect()
}

/// Each loss fixture's damaged message keeps its subject and the
/// attachments the gap missed, says what it lacks, the whole message after
/// it decodes, and the session ends in its state with a few expert infos.
#[test]
fn each_loss_fixture_keeps_its_messages_and_its_state() {
    for LossCase {
        fixture: name,
        missing,
        damaged,
        whole,
        final_state,
        experts,
    } in CASES
    {
        let record = the_record(name);
        let messages = record["messages"].as_array().unwrap();
        let [first, second] = &messages[..] else {
            panic!("{name}: {record}")
        };
        assert_eq!(first["subject"], MIXED_SUBJECT, "{name}");
        assert_eq!(first["complete"], false, "{name}");
        assert_eq!(first["missing"], missing, "{name}");
        let found = attachments(first);
        for (file, sha256) in whole {
            assert_eq!(found.get(file), Some(sha256), "{name}: {file}");
        }
        let damaged_sha = found
            .get(damaged)
            .unwrap_or_else(|| panic!("{name}: no {damaged}"));
        assert!(![PDF_SHA256, BIN_SHA256].contains(damaged_sha), "{name}");
        assert_eq!(second["subject"], FOXMAIL_SUBJECT, "{name}");
        assert_eq!(second["complete"], true, "{name}");
        assert!(second.get("missing").is_none(), "{name}");
        assert_eq!(record["state"], final_state, "{name}");
        assert_eq!(anomaly_names(&record), experts, "{name}");
        let incomplete = record["anomalies"].as_array().unwrap().last().unwrap();
        let part = format!("({damaged})");
        assert!(
            incomplete["message"].as_str().unwrap().contains(&part),
            "{name}: {incomplete}"
        );
    }
}

#[test]
fn a_lost_final_dot_is_proven_by_the_reply_that_answers_it() {
    let record = the_record("loss-smtp-final-dot");
    assert!(!attachments(&record["messages"][0]).contains_key(EML));
    let transactions = record["transactions"].as_array().unwrap();
    assert_eq!(transactions.len(), 2, "{record}");
    assert_eq!(transactions[0]["data_reply"]["code"], 250);
    assert_eq!(transactions[1]["message"]["subject"], FOXMAIL_SUBJECT);
}

#[test]
fn a_segment_lost_inside_a_bdat_chunk_keeps_the_count_framing() {
    let record = the_record("loss-bdat-chunk");
    assert_eq!(record["messages"][0]["source"], "smtp-bdat");
    let transaction = &record["transactions"][0];
    assert_eq!(transaction["message"]["subject"], MIXED_SUBJECT);
}

#[test]
fn a_segment_lost_inside_retr_keeps_the_next_retr_and_quit_in_step() {
    let record = the_record("loss-pop3-retr");
    let commands: Vec<(&str, &str)> = record["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["command"].as_str().unwrap(),
                c["response"].as_str().unwrap_or("none"),
            )
        })
        .collect();
    assert_eq!(
        commands,
        [
            ("USER", "+OK"),
            ("PASS", "+OK"),
            ("LIST", "+OK"),
            ("RETR", "+OK"),
            ("RETR", "+OK"),
            ("QUIT", "+OK")
        ]
    );
    assert_eq!(record["retrieved"], serde_json::json!([1, 2]));
}

#[test]
fn a_lost_reply_does_not_shift_the_replies_after_it() {
    let record = the_record("loss-server-reply");
    assert_eq!(subjects(&record), [FOXMAIL_SUBJECT]);
    assert_eq!(record["messages"][0]["complete"], true);
    assert_eq!(record["state"], "quit");
    assert_eq!(
        anomaly_names(&record),
        ["mail.expert.gap", "mail.expert.gap"],
        "the gap, then the reply it took"
    );
    assert!(record["anomalies"][1]["message"]
        .as_str()
        .unwrap()
        .contains("reply to MAIL"));
    // RCPT's reply pairs with RCPT, DATA's with DATA: the transaction went through.
    let transaction = &record["transactions"][0];
    let rcpt = &transaction["rcpt_to"][0];
    assert_eq!(
        (&rcpt["address"], &rcpt["reply"]),
        (&"bob@example.org".into(), &250.into())
    );
    assert_eq!(transaction["data_reply"]["code"], 250);
    assert_eq!(transaction["message"]["subject"], FOXMAIL_SUBJECT);
}

/// The payload segments of a capture: frame -> sender.
fn senders(path: &Path) -> HashMap<u64, (IpAddr, u16)> {
    let mut out = HashMap::new();
    read_capture(
        path,
        |s| {
            if !s.payload.is_empty() {
                out.insert(s.frame, s.src);
            }
        },
        |_| {},
    )
    .unwrap();
    out
}

/// For each message that spans three segments or more, the frame of a
/// segment in its middle.
fn mid_message_frames(path: &Path, report: &Report) -> Vec<u64> {
    let senders = senders(path);
    let mut out = Vec::new();
    for (_, pdu) in report.pdus() {
        let Some(message) = &pdu.message else {
            continue;
        };
        let Some(sender) = senders.get(&message.first_frame) else {
            continue;
        };
        let mut inside: Vec<u64> = senders
            .iter()
            .filter(|(f, s)| **f > message.first_frame && **f < message.last_frame && *s == sender)
            .map(|(f, _)| *f)
            .collect();
        inside.sort();
        if !inside.is_empty() {
            out.push(inside[inside.len() / 2]);
        }
    }
    out
}

#[test]
fn one_mid_message_segment_dropped_from_each_fixture_keeps_every_subject_and_the_final_state() {
    let mut tried = 0;
    for path in find_captures(&root().join("fixtures")) {
        if path.to_string_lossy().contains("/loss-") {
            continue;
        }
        let Some(intact) = analyze_without(&path, None) else {
            continue;
        };
        let intact_records = records(&intact);
        for drop in mid_message_frames(&path, &intact) {
            tried += 1;
            let damaged = records(&analyze_without(&path, Some(drop)).unwrap());
            let what = format!("{} without frame {drop}", path.display());
            assert_eq!(damaged.len(), intact_records.len(), "{what}: sessions");
            for (ours, whole) in damaged.iter().zip(&intact_records) {
                assert_eq!(subjects(ours), subjects(whole), "{what}: subjects");
                assert_eq!(ours["state"], whole["state"], "{what}: final state");
                let (n, m) = (&ours["anomaly_count"], &whole["anomaly_count"]);
                assert!(
                    n.as_u64().unwrap() <= m.as_u64().unwrap() + 3,
                    "{what}: {n} anomalies, {m} without the loss: {:?}",
                    ours["anomalies"]
                );
            }
        }
    }
    assert!(tried >= 6, "only {tried} multi-segment messages");
}

/// `--extract` writes the damaged message and its attachments too, and the
/// manifest says how many bytes each lacks; the intact ones say nothing.
#[test]
fn extract_marks_what_the_capture_lost() {
    let dir = std::env::temp_dir().join(format!("mailscope-loss-extract-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_mailscope"))
        .arg("--extract")
        .arg(&dir)
        .arg(fixture("loss-smtp-attachment"))
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let missing: Vec<(String, Option<u64>)> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let name = f["filename"]
                .as_str()
                .or(f["subject"].as_str())
                .unwrap_or("");
            (name.to_string(), f["missing"].as_u64())
        })
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        missing,
        [
            (MIXED_SUBJECT.to_string(), Some(1400)),
            (PDF.to_string(), Some(1400)),
            (BIN.to_string(), None),
            (EML.to_string(), None),
            (FOXMAIL_SUBJECT.to_string(), None),
        ]
    );
}
