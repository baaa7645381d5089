//! Sessions that keep their place: commands pipelined behind a message's
//! final dot (shaped like Suricata-verify's
//! smtp-pipelined-post-data-rset-sequence), and over-long command and reply
//! lines (shaped like Arkime's smtp-moloch-bof).

mod common;

use common::{analyze, fixture};
use serde_json::Value;

fn records(name: &str) -> Vec<Value> {
    mailscope_harness::sessions::records(&analyze(&fixture(name)), name)
}

/// (mail from, recipients, subject, data reply code) of each transaction.
fn transactions(record: &Value) -> Vec<(String, Vec<String>, String, u64)> {
    record["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let rcpts = t["rcpt_to"].as_array().unwrap();
            (
                t["mail_from"].as_str().unwrap().to_string(),
                rcpts
                    .iter()
                    .map(|r| r["address"].as_str().unwrap().to_string())
                    .collect(),
                t["message"]["subject"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                t["data_reply"]["code"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

fn s(v: &str) -> String {
    v.to_string()
}

#[test]
fn the_message_after_a_pipelined_rset_sequence_is_decoded() {
    let records = records("smtp-pipelined-post-data-rset");
    assert_eq!(records.len(), 1);
    assert_eq!(
        transactions(&records[0]),
        [
            (
                s("alice@example.com"),
                vec![s("bob@example.com")],
                s("First of two"),
                250
            ),
            (
                s("bob@example.com"),
                vec![s("alice@example.com")],
                s("Second of two, after RSET"),
                250
            ),
        ]
    );
    let second = &records[0]["messages"][1];
    assert_eq!(
        (second["from"].as_str(), second["to"].as_str()),
        (Some("bob@example.com"), Some("alice@example.com"))
    );
    assert_eq!(records[0]["anomaly_count"], 0);
    assert_eq!(records[0]["state"], "quit");
}

#[test]
fn after_an_over_long_command_the_transaction_and_its_attachment_are_decoded() {
    let records = records("smtp-long-lines");
    let long_command = &records[0];
    assert_eq!(long_command["helo"], "adcdtest");
    assert_eq!(
        transactions(long_command),
        [(
            s("ibmuser@zpdt.example.com"),
            vec![s("mattenuttall@example.com")],
            s("MIME test"),
            250
        )]
    );
    let attachments = &long_command["messages"][0]["attachments"];
    assert_eq!(attachments[0]["filename"], "frontier-report.txt");
    assert_eq!(attachments.as_array().unwrap().len(), 1);
    // Flagged once, though the line came in ten segments.
    assert_eq!(long_command["anomaly_count"], 1);
    assert_eq!(
        long_command["anomalies"][0]["message"],
        "command line longer than 8192 bytes; the rest of it is not kept"
    );
    assert_eq!(
        long_command["anomalies"][0]["name"],
        "mail.expert.line_too_long"
    );

    // The long line inside the EHLO reply: MAIL, RCPT and DATA still get their own replies.
    let long_reply = &records[1];
    assert_eq!(
        transactions(long_reply),
        [(
            s("carol@example.com"),
            vec![s("dave@example.org")],
            s("After a long reply line"),
            250
        )]
    );
    let transaction = &long_reply["transactions"][0];
    assert_eq!(transaction["mail_reply"], 250);
    assert_eq!(transaction["rcpt_to"][0]["reply"], 250);
    assert_eq!(long_reply["anomaly_count"], 1);
    assert_eq!(
        long_reply["anomalies"][0]["message"],
        "reply line longer than 8192 bytes"
    );
}
