//! tshark with the plugin on sessions that must keep their place: commands
//! pipelined behind a message's final dot, and over-long command and reply
//! lines (the same facts `harness/tests/resync.rs` checks in the harness).

mod common;

use common::{root, tshark};

/// The values of `fields` in every frame that has the first, one line per frame.
fn fields(fixture: &str, fields: &[&str]) -> Vec<String> {
    let capture = root().join("fixtures").join(fixture).join("capture.pcap");
    let mut args = vec!["-Y", fields[0], "-T", "fields"];
    for field in fields {
        args.extend(["-e", field]);
    }
    let out = tshark().on(&capture, &args);
    assert_eq!(out.status, 0, "{}", out.stderr);
    out.stdout.lines().map(str::to_string).collect()
}

fn s(v: &str) -> String {
    v.to_string()
}

#[test]
fn the_second_message_behind_a_pipelined_rset_sequence_is_decoded() {
    assert_eq!(
        fields(
            "smtp-pipelined-post-data-rset",
            &["mail.msg.subject", "mail.msg.from", "mail.msg.to"]
        ),
        [
            "First of two\talice@example.com\tbob@example.com",
            "Second of two, after RSET\tbob@example.com\talice@example.com",
        ]
    );
    // The envelope of each transaction, on its commands.
    assert_eq!(
        fields(
            "smtp-pipelined-post-data-rset",
            &[
                "mail.smtp.request",
                "mail.smtp.mail_from",
                "mail.smtp.rcpt_to"
            ]
        )
        .iter()
        .filter(|l| l.contains('@'))
        .collect::<Vec<_>>(),
        [
            "1,1,1\talice@example.com\tbob@example.com",
            "1,1,1,1\tbob@example.com\talice@example.com",
        ]
    );
    // Every reply answers its own request: no reply left over, no command lost.
    assert_eq!(
        fields(
            "smtp-pipelined-post-data-rset",
            &["mail.smtp.reply.command"]
        )
        .join(","),
        "EHLO,MAIL,RCPT,DATA,DATA,RSET,MAIL,RCPT,DATA,DATA,QUIT"
    );
    // No expert info on any mail frame (TCP's own, on the SYN and FIN, aside).
    let experts = fields(
        "smtp-pipelined-post-data-rset",
        &["mail", "_ws.expert.message"],
    );
    assert_eq!(experts.len(), 11);
    assert!(experts.iter().all(|l| l.ends_with('\t')), "{experts:?}");
}

#[test]
fn after_an_over_long_command_the_message_and_its_attachment_are_decoded() {
    assert_eq!(
        fields(
            "smtp-long-lines",
            &["mail.msg.subject", "mail.mime.filename"]
        ),
        [
            "MIME test\tfrontier-report.txt",
            "After a long reply line\t",
        ]
    );
    // One expert info per over-long line, not one per segment it came in.
    assert_eq!(
        fields(
            "smtp-long-lines",
            &["mail.expert.line_too_long", "frame.number"]
        ),
        ["1\t14", "1\t64"]
    );
    // Each reply answers its own command, the one cut in pieces (frame 64:
    // before the long line, the cut line) and the rest of it (frame 66) too.
    assert_eq!(
        fields("smtp-long-lines", &["mail.smtp.reply.command"]),
        [
            "EHLO",
            "HELO",
            "MAIL",
            "RCPT",
            "DATA",
            "DATA",
            "QUIT",
            "EHLO",
            "MAIL,MAIL",
            "MAIL,RCPT,DATA",
            "DATA",
            "QUIT",
        ]
    );
    // The cut EHLO keeps its first 8192 bytes; HELO after it is read whole.
    assert_eq!(
        fields("smtp-long-lines", &["mail.smtp.helo"]),
        [
            "A".repeat(8192 - "EHLO ".len()),
            s("adcdtest"),
            s("client.example.com")
        ]
    );
}
