//! Over-long POP3 command and response lines: cut, flagged once, and the
//! session keeps pairing responses with commands.

use super::Pop3;
use crate::fields::{Expert, Field};
use crate::item::{Direction, Pdu};
use crate::text::testing::{expert_messages, values};
use Direction::{ToClient as S, ToServer as C};

fn run(script: &[(Direction, &str)]) -> Vec<Pdu> {
    crate::text::testing::run::<Pop3>(script)
}

#[test]
fn long_command_and_long_status_line_are_cut_and_the_session_goes_on() {
    let long_user = format!("USER {}\r\n", "A".repeat(10_000));
    let long_ok = format!(
        "+OK {}\r\nSubject: lost\r\n\r\nbody\r\n.\r\n",
        "B".repeat(10_000)
    );
    let pdus = run(&[
        (S, "+OK POP3 ready\r\n"),
        (C, &long_user),
        (S, "-ERR line too long\r\n"),
        (C, "USER mrose\r\n"),
        (S, "+OK\r\n"),
        (C, "PASS tanstaaf\r\n"),
        (S, "+OK 2 messages\r\n"),
        // Pipelined: the long status line's block must not answer the next RETR.
        (C, "RETR 1\r\nRETR 2\r\n"),
        (S, &long_ok),
        (S, "+OK 30 octets\r\nSubject: second\r\n\r\nbody\r\n.\r\n"),
        (C, "QUIT\r\n"),
        (S, "+OK bye\r\n"),
    ]);
    assert_eq!(
        expert_messages(&pdus, Expert::LineTooLong),
        [
            "command line longer than 8192 bytes; the rest of it is not kept",
            "response line longer than 8192 bytes; the block that follows it is skipped",
        ]
    );
    assert!(expert_messages(&pdus, Expert::BadReply).is_empty());
    assert_eq!(values(&pdus, Field::AuthPassword), ["tanstaaf"]);
    let messages: Vec<_> = pdus.iter().filter_map(|p| p.message.as_ref()).collect();
    assert_eq!(messages.len(), 1);
    assert!(messages[0].content.starts_with(b"Subject: second\r\n"));
    assert_eq!(values(&pdus, Field::PopState).last().unwrap(), "update");
}
