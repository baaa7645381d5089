//! The SMTP session over scripted dialogues.

use super::*;

use crate::fields::{Expert, Field};
use crate::item::{Direction, Pdu};
use crate::text::testing::{expert_messages, values};

fn run(script: &[(Direction, &str)]) -> Vec<Pdu> {
    crate::text::testing::run::<Smtp>(script)
}

use Direction::{ToClient as S, ToServer as C};

#[test]
fn pipelined_commands_pair_with_replies_in_order() {
    let pdus = run(&[
        (S, "220 mx ESMTP\r\n"),
        (C, "EHLO me\r\n"),
        (S, "250-mx\r\n250-PIPELINING\r\n250 8BITMIME\r\n"),
        (
            C,
            "MAIL FROM:<a@x> SIZE=10\r\nRCPT TO:<b@y>\r\nDATA\r\nhi\r\n..dot\r\n.\r\n",
        ),
        (
            S,
            "250 2.1.0 ok\r\n550 5.1.1 no\r\n354 go\r\n250 2.0.0 queued\r\n",
        ),
    ]);
    assert_eq!(
        values(&pdus, Field::SmtpCapability),
        ["PIPELINING", "8BITMIME"]
    );
    // Once on the command, once on the reply that answers it.
    assert_eq!(values(&pdus, Field::SmtpMailFrom), ["a@x", "a@x"]);
    assert_eq!(values(&pdus, Field::SmtpRcptTo), ["b@y", "b@y"]);
    assert_eq!(values(&pdus, Field::SmtpParameter), ["SIZE=10"]);
    assert_eq!(
        values(&pdus, Field::SmtpReplyCommand),
        ["EHLO", "MAIL", "RCPT", "DATA", "DATA"]
    );
    let message = pdus.iter().find_map(|p| p.message.clone()).unwrap();
    assert_eq!(message.content, b"hi\r\n.dot\r\n");
    assert_eq!(values(&pdus, Field::SmtpDataUnstuffedLines), ["1"]);
}

#[test]
fn one_byte_at_a_time_gives_the_same_pdus() {
    let client = "EHLO me\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nQUIT\r\n";
    let mut whole = Smtp::default();
    let a = whole.feed(C, client.as_bytes(), 1).0;
    let mut split = Smtp::default();
    let b: Vec<Pdu> = client
        .as_bytes()
        .iter()
        .flat_map(|b| split.feed(C, &[*b], 1).0)
        .collect();
    assert_eq!(a, b);
    assert_eq!(values(&a, Field::AuthPassword), ["secret"]);
}

#[test]
fn data_rejected_keeps_command_mode() {
    let pdus = run(&[
        (C, "MAIL FROM:<a@x>\r\n"),
        (S, "250 ok\r\n"),
        (C, "DATA\r\n"),
        (S, "521 no\r\n"),
        (C, "QUIT\r\n"),
    ]);
    assert_eq!(values(&pdus, Field::SmtpCommand), ["MAIL", "DATA", "QUIT"]);
}

#[test]
fn bdat_chunks_join_into_one_message() {
    let pdus = run(&[(
        C,
        "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nBDAT 5\r\nhelloBDAT 6 LAST\r\n world",
    )]);
    let message = pdus.iter().find_map(|p| p.message.clone()).unwrap();
    assert_eq!(message.content, b"hello world");
    assert_eq!(values(&pdus, Field::SmtpBdatSize), ["5", "6"]);
}

#[test]
fn bad_bdat_size_is_flagged_with_the_value() {
    let pdus = run(&[(C, "BDAT 12x\r\n")]);
    assert!(pdus[0]
        .anomalies
        .iter()
        .any(|a| a.message == "BDAT size \"12x\" is not a number"));
}

#[test]
fn bdat_with_bad_arguments_announces_no_chunk() {
    let pdus = run(&[
        (C, "BDAT 5 X\r\n"),
        (S, "501 5.5.4 Syntax: BDAT count [LAST]\r\n"),
        (C, "MAIL FROM:<alice@example.com>\r\n"),
    ]);
    assert_eq!(values(&pdus, Field::SmtpCommand), ["BDAT", "MAIL"]);
    assert_eq!(values(&pdus, Field::SmtpMailFrom), ["alice@example.com"]);
    assert!(values(&pdus, Field::SmtpBdatSize).is_empty());
}

#[test]
fn messages_open_at_the_end_of_the_capture_are_emitted_truncated() {
    let mut smtp = Smtp::default();
    smtp.feed(C, b"MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n", 1);
    smtp.feed(S, b"250 ok\r\n250 ok\r\n354 go\r\n", 2);
    smtp.feed(C, b"Subject: cut\r\n\r\nhalf a", 3);
    let pdus = smtp.finish(3);
    let message = pdus[0].message.as_ref().expect("the open message");
    assert_eq!(message.content, b"Subject: cut\r\n\r\nhalf a");
    assert!(message.truncated);
    assert_eq!(pdus[0].anomalies[0].expert, Expert::Truncated);

    let mut smtp = Smtp::default();
    smtp.feed(C, b"MAIL FROM:<a@x>\r\nBDAT 5000000000 LAST\r\nabc", 1);
    let pdus = smtp.finish(1);
    let message = pdus[0].message.as_ref().expect("the open chunk");
    assert_eq!(message.content, b"abc");
    assert!(message.truncated);
    assert_eq!(values(&pdus, Field::SmtpDataComplete), ["False"]);
    assert_eq!(values(&pdus, Field::SmtpDataChunkSize), ["5000000000"]);
}

#[test]
fn endless_line_is_cut_and_memory_stays_bounded() {
    let mut smtp = Smtp::default();
    let chunk = vec![b'A'; 100_000];
    let mut pdus = Vec::new();
    for _ in 0..20 {
        pdus.extend(smtp.feed(C, &chunk, 1).0);
        assert!(smtp.bufs[0].data.len() <= smtp.limits.max_line * 2);
    }
    assert_eq!(pdus.len(), 1);
    assert_eq!(pdus[0].anomalies[0].expert, Expert::LineTooLong);
}

#[test]
fn starttls_then_tls_stops_parsing() {
    let mut smtp = Smtp::default();
    smtp.feed(C, b"STARTTLS\r\n", 1);
    let (pdus, _) = smtp.feed(S, b"220 go ahead\r\n", 2);
    assert!(pdus[0].starts_tls);
    let (pdus, tls) = smtp.feed(C, &[0x16, 3, 1, 0, 5, 1, 2, 3, 4, 5], 3);
    assert!(pdus.is_empty() && tls);
    assert_eq!(smtp.state_name(), "tls");
}

#[test]
fn starttls_followed_by_clear_text_keeps_parsing() {
    let pdus = run(&[
        (C, "STARTTLS\r\n"),
        (S, "220 go\r\n"),
        (C, "EHLO again\r\n"),
    ]);
    assert_eq!(values(&pdus, Field::SmtpHelo), ["again"]);
}

#[test]
fn each_pdu_shows_the_state_it_left_even_when_replies_are_pipelined() {
    let pdus = run(&[
        (S, "220 mx ESMTP\r\n"),
        (C, "EHLO me\r\n"),
        (S, "250 mx\r\n"),
        (C, "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n"),
        (S, "250 ok\r\n250 ok\r\n354 go\r\n"),
        (C, "hi\r\n.\r\n"),
        (S, "250 queued\r\n"),
        (C, "QUIT\r\n"),
    ]);
    assert_eq!(
        values(&pdus, Field::SmtpState),
        [
            "ready", // 220: greeted
            "ready", // EHLO
            "ready", // 250
            "mail",  // MAIL
            "rcpt",  // RCPT
            "data",  // DATA (awaiting 354)
            "mail",  // 250 to MAIL, while RCPT and DATA are unanswered
            "rcpt",  // 250 to RCPT, while DATA is unanswered
            "data",  // 354
            "data",  // the message content
            "ready", // 250 queued
            "quit",  // QUIT
        ]
    );
}

#[test]
fn binary_lines_are_flagged_once_per_run_and_counted() {
    let mut garbage = String::new();
    for i in 0..500 {
        garbage.push_str(&format!("\u{1}\u{7f}{i}\u{2}\r\n"));
    }
    let pdus = run(&[
        (S, "220 mx ESMTP\r\n"),
        (C, "XYZZY\r\n"),
        (C, &garbage),
        (C, "RSET\r\n"),
        (C, "\u{1}\r\n"),
        (C, "NOOP\r\n"),
    ]);
    let flagged = expert_messages(&pdus, Expert::UnknownCommand);
    assert_eq!(
        flagged,
        [
            "unknown SMTP command \"XYZZY\"",
            "client sent a line that is not an SMTP command",
            "the 500 lines (3890 bytes) before this one were no commands; only the first was flagged",
            "client sent a line that is not an SMTP command",
        ]
    );
    // Every line is still a PDU of its own, and the commands after are read.
    assert_eq!(pdus.iter().filter(|p| p.direction == C).count(), 504);
    assert_eq!(values(&pdus, Field::SmtpCommand).last().unwrap(), "NOOP");
}
