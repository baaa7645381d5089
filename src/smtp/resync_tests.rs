//! The session keeps its place: commands pipelined behind a message's end
//! (RFC 2920), and over-long command and reply lines, which are cut,
//! flagged once, and skipped to their end.

use super::Smtp;
use crate::fields::{Expert, Field};
use crate::item::{Direction, Pdu};
use crate::text::testing::{expert_messages, values};
use Direction::{ToClient as S, ToServer as C};

fn run(script: &[(Direction, &str)]) -> Vec<Pdu> {
    crate::text::testing::run::<Smtp>(script)
}

fn subjects(pdus: &[Pdu]) -> Vec<String> {
    pdus.iter()
        .filter_map(|p| p.message.as_ref())
        .map(|m| {
            let text = String::from_utf8_lossy(&m.content).into_owned();
            let line = text.lines().find(|l| l.starts_with("Subject: ")).unwrap();
            line["Subject: ".len()..].to_string()
        })
        .collect()
}

#[test]
fn commands_pipelined_behind_the_final_dot_start_the_next_transaction() {
    let pdus = run(&[
        (S, "220 mx ESMTP\r\n"),
        (C, "EHLO me\r\n"),
        (S, "250-mx\r\n250 PIPELINING\r\n"),
        (C, "MAIL FROM:<alice@x>\r\nRCPT TO:<bob@y>\r\nDATA\r\n"),
        (S, "250 ok\r\n250 ok\r\n354 go\r\n"),
        (
            C,
            "Subject: one\r\n\r\nbody\r\n.\r\nRSET\r\nMAIL FROM:<bob@y>\r\nRCPT TO:<alice@x>\r\nDATA\r\n",
        ),
        (
            S,
            "250 queued\r\n250 reset\r\n250 ok\r\n250 ok\r\n354 go\r\n",
        ),
        (C, "Subject: two\r\n\r\nbody 2\r\n.\r\nQUIT\r\n"),
        (S, "250 queued\r\n221 bye\r\n"),
    ]);
    assert_eq!(subjects(&pdus), ["one", "two"]);
    assert_eq!(
        values(&pdus, Field::SmtpReplyCommand),
        ["EHLO", "MAIL", "RCPT", "DATA", "DATA", "RSET", "MAIL", "RCPT", "DATA", "DATA", "QUIT"]
    );
    // Once on the command, once on its reply.
    assert_eq!(
        values(&pdus, Field::SmtpMailFrom),
        ["alice@x", "alice@x", "bob@y", "bob@y"]
    );
    assert!(pdus.iter().all(|p| p.anomalies.is_empty()), "{pdus:?}");
}

#[test]
fn commands_pipelined_behind_a_last_bdat_chunk_are_read_as_commands() {
    let pdus = run(&[
        (S, "220 mx ESMTP\r\n"),
        (
            C,
            "MAIL FROM:<alice@x>\r\nRCPT TO:<bob@y>\r\nBDAT 14 LAST\r\nSubject: one\r\n\
             RSET\r\nMAIL FROM:<bob@y>\r\nRCPT TO:<alice@x>\r\nDATA\r\n",
        ),
        (
            S,
            "250 ok\r\n250 ok\r\n250 14 bytes\r\n250 reset\r\n250 ok\r\n250 ok\r\n354 go\r\n",
        ),
        (C, "Subject: two\r\n\r\n.\r\n"),
        (S, "250 queued\r\n"),
    ]);
    assert_eq!(subjects(&pdus), ["one", "two"]);
    assert_eq!(
        values(&pdus, Field::SmtpReplyCommand),
        ["MAIL", "RCPT", "BDAT", "RSET", "MAIL", "RCPT", "DATA", "DATA"]
    );
}

#[test]
fn an_over_long_command_is_cut_once_and_the_session_goes_on() {
    let long = format!(
        "EHLO {}\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n",
        "A".repeat(10_000)
    );
    let mut smtp = Smtp::default();
    let mut pdus = smtp.feed(S, b"220 mx ESMTP\r\n", 1).0;
    // In 1024-byte segments, as the client sent it.
    for (i, segment) in long.as_bytes().chunks(1024).enumerate() {
        pdus.extend(smtp.feed(C, segment, 2 + i as u64).0);
    }
    let replies = "500 5.5.2 line too long\r\n250 ok\r\n250 ok\r\n354 go\r\n";
    pdus.extend(smtp.feed(S, replies.as_bytes(), 20).0);
    pdus.extend(smtp.feed(C, b"Subject: after\r\n\r\nbody\r\n.\r\n", 21).0);
    pdus.extend(smtp.feed(S, b"250 queued\r\n", 22).0);
    assert_eq!(
        expert_messages(&pdus, Expert::LineTooLong),
        ["command line longer than 8192 bytes; the rest of it is not kept"]
    );
    let cut = pdus.iter().find(|p| !p.anomalies.is_empty()).unwrap();
    assert_eq!(cut.bytes.len(), 8192);
    assert_eq!(
        values(&pdus, Field::SmtpReplyCommand),
        ["EHLO", "MAIL", "RCPT", "DATA", "DATA"]
    );
    assert_eq!(subjects(&pdus), ["after"]);
}

#[test]
fn an_over_long_line_inside_a_multi_line_reply_keeps_the_pairing() {
    let ehlo = format!(
        "250-mx\r\n250-XLONG {}\r\n250 8BITMIME\r\n250 ok\r\n250 ok\r\n354 go\r\n",
        "A".repeat(10_000)
    );
    let pdus = run(&[
        (S, "220 mx ESMTP\r\n"),
        (C, "EHLO me\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n"),
        (S, &ehlo),
        (C, "Subject: after a long reply\r\n\r\nbody\r\n.\r\n"),
        (S, "250 queued\r\n"),
    ]);
    assert_eq!(
        expert_messages(&pdus, Expert::LineTooLong),
        ["reply line longer than 8192 bytes"]
    );
    // The reply comes in three pieces (before, the cut line, after), all answering EHLO.
    assert_eq!(
        values(&pdus, Field::SmtpReplyCommand),
        ["EHLO", "EHLO", "EHLO", "MAIL", "RCPT", "DATA", "DATA"]
    );
    assert_eq!(subjects(&pdus), ["after a long reply"]);
    // An over-long single-line reply answers its command.
    let long = format!("500 5.5.2 {}\r\n250 ok\r\n", "B".repeat(10_000));
    let pdus = run(&[(C, "XLONG\r\nNOOP\r\n"), (S, &long)]);
    assert_eq!(values(&pdus, Field::SmtpReplyCommand), ["XLONG", "NOOP"]);
}
