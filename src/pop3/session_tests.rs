//! The POP3 session over scripted dialogues.

use super::*;
use Direction::{ToClient as S, ToServer as C};

use crate::fields::Field;
use crate::item::{Direction, Pdu};
use crate::limits::Limits;
use crate::text::testing::{expert_messages, values};

fn run(script: &[(Direction, &str)]) -> Vec<Pdu> {
    crate::text::testing::run::<Pop3>(script)
}

#[test]
fn user_pass_then_transaction_with_listing_and_retr() {
    let pdus = run(&[
        (S, "+OK POP3 ready <1896.697170952@dbc.mtview.ca.us>\r\n"),
        (C, "USER mrose\r\n"),
        (S, "+OK\r\n"),
        (C, "PASS tanstaaf\r\n"),
        (S, "+OK maildrop has 2 messages\r\n"),
        (C, "LIST\r\n"),
        (S, "+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n"),
        (C, "RETR 1\r\n"),
        (S, "+OK 120 octets\r\nSubject: x\r\n\r\n..dot\r\n.\r\n"),
        (C, "QUIT\r\n"),
        (S, "+OK bye\r\n"),
    ]);
    assert_eq!(
        values(&pdus, Field::PopApopTimestamp),
        ["<1896.697170952@dbc.mtview.ca.us>"]
    );
    assert_eq!(values(&pdus, Field::AuthPassword), ["tanstaaf"]);
    assert_eq!(values(&pdus, Field::AuthResult), ["success"]);
    assert_eq!(values(&pdus, Field::PopMessageSize), ["120", "200"]);
    let message = pdus.iter().find_map(|p| p.message.clone()).unwrap();
    assert_eq!(message.content, b"Subject: x\r\n\r\n.dot\r\n");
    let states = values(&pdus, Field::PopState);
    assert_eq!(states.first().map(String::as_str), Some("authorization"));
    assert_eq!(states.last().map(String::as_str), Some("update"));
}

#[test]
fn a_block_split_anywhere_gives_the_same_pdus() {
    let server = "+OK\r\n1 10\r\n2 20\r\n.\r\n";
    let mut whole = Pop3::default();
    whole.feed(S, b"+OK hi\r\n", 1);
    whole.feed(C, b"LIST\r\n", 2);
    let a = whole.feed(S, server.as_bytes(), 3).0;
    let mut split = Pop3::default();
    split.feed(S, b"+OK hi\r\n", 1);
    split.feed(C, b"LIST\r\n", 2);
    let b: Vec<Pdu> = server
        .as_bytes()
        .iter()
        .flat_map(|c| split.feed(S, &[*c], 3).0)
        .collect();
    assert_eq!(a, b);
}

#[test]
fn retr_in_several_segments_keeps_its_status_line() {
    let mut pop = Pop3::default();
    pop.feed(S, b"+OK hi\r\n", 1);
    pop.feed(C, b"RETR 1\r\n", 2);
    assert!(pop
        .feed(S, b"+OK 30 octets\r\nSubject: a\r\n", 3)
        .0
        .is_empty());
    assert!(pop.feed(S, b"\r\nbody line\r\n", 4).0.is_empty());
    let pdus = pop.feed(S, b".\r\n", 5).0;
    assert_eq!(values(&pdus, Field::PopResponseText), ["30 octets"]);
    assert_eq!(
        pdus[0].message.as_ref().unwrap().content,
        b"Subject: a\r\n\r\nbody line\r\n"
    );
}

#[test]
fn unterminated_listing_ends_at_the_next_status_line() {
    let pdus = run(&[
        (S, "+OK hi\r\n"),
        (C, "LIST\r\nRETR 1\r\n"),
        (S, "+OK\r\n1 10\r\n+OK 10 octets\r\nbody\r\n.\r\n"),
    ]);
    assert!(pdus
        .iter()
        .flat_map(|p| &p.anomalies)
        .any(|a| a.message.contains("not ended by a \".\" line")));
    assert_eq!(
        pdus.iter().find_map(|p| p.message.clone()).unwrap().content,
        b"body\r\n"
    );
}

#[test]
fn commands_past_the_pending_limit_raise_one_expert_info_per_run() {
    let mut pop3 = Pop3::new(Limits::new(64, 10, 1000, 2).unwrap());
    // 2,000 pipelined commands with a cap of 2: one expert info, not 1,998.
    let (pdus, _) = pop3.feed(C, "NOOP\r\n".repeat(2000).as_bytes(), 1);
    let forgotten: Vec<_> = pdus
        .iter()
        .flat_map(|p| &p.anomalies)
        .filter(|a| a.message.contains("the oldest are forgotten"))
        .collect();
    assert_eq!(forgotten.len(), 1);
    assert_eq!(
        forgotten[0].message,
        "more than 2 commands without a response: from here the oldest are forgotten \
         (said once until the responses catch up)"
    );
    assert_eq!(pdus.iter().position(|p| !p.anomalies.is_empty()), Some(2));
    // Once the responses catch up, a new run is said again.
    let (_, _) = pop3.feed(S, b"+OK\r\n+OK\r\n", 2);
    let (pdus, _) = pop3.feed(C, b"NOOP\r\nNOOP\r\nNOOP\r\n", 3);
    assert_eq!(pdus.iter().filter(|p| !p.anomalies.is_empty()).count(), 1);
}

#[test]
fn apop_and_failed_pass() {
    let pdus = run(&[
        (S, "+OK <42.1@host>\r\n"),
        (C, "USER bob\r\n"),
        (S, "+OK\r\n"),
        (C, "PASS wrong\r\n"),
        (S, "-ERR [AUTH] invalid password\r\n"),
        (C, "APOP bob c4c9334bac560ecc979e58001b3e22fb\r\n"),
        (S, "+OK\r\n"),
    ]);
    assert_eq!(values(&pdus, Field::AuthResult), ["failure", "success"]);
    assert_eq!(values(&pdus, Field::AuthChallenge), ["<42.1@host>"]);
    assert_eq!(
        values(&pdus, Field::AuthResponse),
        ["c4c9334bac560ecc979e58001b3e22fb"]
    );
}

#[test]
fn auth_plain_with_continuation() {
    let pdus = run(&[
        (S, "+OK hi\r\n"),
        (C, "AUTH PLAIN\r\n"),
        (S, "+ \r\n"),
        (C, "AGFsaWNlAHNlY3JldA==\r\n"),
        (S, "+OK\r\n"),
        (C, "STAT\r\n"),
        (S, "+OK 3 300\r\n"),
    ]);
    assert_eq!(values(&pdus, Field::AuthUsername), ["alice", "alice"]);
    assert_eq!(values(&pdus, Field::PopMessageCount), ["3"]);
    assert_eq!(
        values(&pdus, Field::PopState).last().map(String::as_str),
        Some("transaction")
    );
}

#[test]
fn a_listing_that_never_ends_is_cut_and_shown_and_long_listings_are_bounded() {
    let mut pop3 = Pop3::new(Limits::default());
    let mut out = Vec::new();
    let (pdus, _) = pop3.feed(S, b"+OK ready\r\n", 1);
    out.extend(pdus);
    let (pdus, _) = pop3.feed(C, b"LIST\r\n", 2);
    out.extend(pdus);
    let (pdus, _) = pop3.feed(S, b"+OK\r\n", 3);
    out.extend(pdus);
    // 3 MB of listing lines and no terminating dot: shown once the listing
    // cap is passed, not held to the end of the capture.
    let mut frame = 4;
    for chunk in 0..300 {
        let mut lines = String::new();
        for n in 0..1000 {
            lines.push_str(&format!("{} 1234\r\n", chunk * 1000 + n + 1));
        }
        let (pdus, _) = pop3.feed(S, lines.as_bytes(), frame);
        out.extend(pdus);
        frame += 1;
    }
    let listing = out
        .iter()
        .find(|p| values(std::slice::from_ref(p), Field::PopResponseCommand) == ["LIST"])
        .expect("the listing is shown before the capture ends");
    assert!(listing.bytes.len() <= 1 << 20);
    let entries = listing
        .flatten()
        .iter()
        .filter(|(i, _)| i.field == Field::PopListing)
        .count();
    assert_eq!(entries, 1000);
    let said: Vec<_> = listing
        .anomalies
        .iter()
        .map(|a| a.message.as_str())
        .collect();
    assert_eq!(said.len(), 2, "{said:?}");
    assert!(
        said[0].starts_with("multi-line response over 10485"),
        "{said:?}"
    );
    assert!(
        said[0].ends_with(" bytes: shown up to here, the rest is skipped"),
        "{said:?}"
    );
    assert!(
        said[1].starts_with("LIST response of more than 1000 lines: "),
        "{said:?}"
    );
    // The rest of the listing is skipped; the dialogue goes on after its dot.
    let (pdus, _) = pop3.feed(S, b".\r\n", frame);
    assert!(pdus.is_empty());
    let (_, _) = pop3.feed(C, b"STAT\r\n", frame + 1);
    let (pdus, _) = pop3.feed(S, b"+OK 2 320\r\n", frame + 2);
    assert_eq!(values(&pdus, Field::PopMessageCount), ["2"]);
}

#[test]
fn binary_lines_are_flagged_once_per_run_and_counted() {
    let garbage = "\u{1}\u{2}\r\n".repeat(300);
    let pdus = run(&[(S, "+OK ready\r\n"), (C, &garbage), (C, "USER alice\r\n")]);
    let flagged = expert_messages(&pdus, Expert::UnknownCommand);
    assert_eq!(flagged.len(), 2, "{flagged:?}");
    assert_eq!(
        flagged[1],
        "the 300 lines (1200 bytes) before this one were no commands; only the first was flagged"
    );
    assert_eq!(values(&pdus, Field::PopCommand).last().unwrap(), "USER");
}
