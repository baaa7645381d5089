//! The content detector on dialogues of mail and of the protocols that look like it.

use super::*;

/// Feeds `(from_a, text)` payloads with running sequence numbers.
fn run(ports: (u16, u16), payloads: &[(bool, &str)]) -> (Detector, Vec<Verdict>) {
    let mut d = Detector::new(ports);
    let mut seqs = [100u32, 900u32];
    let mut verdicts = Vec::new();
    for (frame, (from_a, text)) in payloads.iter().enumerate() {
        let side = usize::from(!*from_a);
        verdicts.push(d.payload(*from_a, seqs[side], None, text.as_bytes(), frame as u64 + 1));
        seqs[side] = seqs[side].wrapping_add(text.len() as u32);
    }
    (d, verdicts)
}

const SMTP: Verdict = Verdict::Mail {
    protocol: Protocol::Smtp,
    server_is_a: false,
};
const POP3: Verdict = Verdict::Mail {
    protocol: Protocol::Pop3,
    server_is_a: false,
};

#[test]
fn ftp_is_never_mail() {
    let (d, _) = run(
        (50003, 2121),
        &[
            (false, "220 ProFTPD 1.3.5 Server ready.\r\n"),
            (true, "USER anonymous\r\n"),
            (false, "331 Guest login ok, type your name as password.\r\n"),
            (true, "PASS test\r\n"),
            (false, "230 Guest login ok, access restrictions apply.\r\n"),
            (true, "SYST\r\n"),
            (false, "215 UNIX Type: L8\r\n"),
            (true, "PASV\r\n"),
            (
                false,
                "227 Entering Passive Mode (199,233,217,249,221,90)\r\n",
            ),
            (true, "RETR robots.txt\r\n"),
            (false, "150 Opening BINARY mode data connection\r\n"),
            (false, "226 Transfer complete.\r\n"),
            (true, "QUIT\r\n"),
            (false, "221 Goodbye.\r\n"),
        ],
    );
    assert_ne!(d.verdict(), SMTP);
    assert_ne!(d.verdict(), POP3);
    let (d, _) = run(
        (50003, 21),
        &[(false, "220 mail ESMTP\r\n"), (true, "EHLO x\r\n")],
    );
    assert_eq!(d.verdict(), Verdict::NotMail, "port 21 is FTP's");
}

#[test]
fn a_bare_ok_is_not_pop3() {
    // Redis answers +OK; a client's QUIT after it proves nothing.
    let (d, _) = run(
        (40000, 16379),
        &[
            (true, "*2\r\n$4\r\nAUTH\r\n$3\r\nfoo\r\n"),
            (false, "+OK\r\n"),
            (true, "SET k v\r\n"),
            (false, "+OK\r\n"),
            (true, "QUIT\r\n"),
            (false, "+OK\r\n"),
        ],
    );
    assert_eq!(d.verdict(), Verdict::Undecided);
    let (d, _) = run((40000, 6379), &[(false, "+OK ready\r\n")]);
    assert_eq!(d.verdict(), Verdict::NotMail, "port 6379 is Redis's");
}

#[test]
fn irc_is_not_mail() {
    let (d, _) = run(
        (49170, 16667),
        &[
            (true, "NICK bro\r\nUSER bro 0 * :bro\r\n"),
            (
                false,
                ":irc.example NOTICE * :*** Looking up your hostname\r\n",
            ),
            (false, ":irc.example 001 bro :Welcome\r\n"),
        ],
    );
    assert_eq!(d.verdict(), Verdict::Undecided);
}

#[test]
fn smtp_needs_the_client_to_speak() {
    let (mut d, verdicts) = run(
        (40000, 10025),
        &[
            (false, "220-mx.example ESMTP\r\n"),
            (false, "220 more\r\n"),
            (true, "EHLO client\r\n"),
        ],
    );
    assert_eq!(verdicts, [Verdict::Undecided, Verdict::Undecided, SMTP]);
    let replay = d.take_replay();
    assert_eq!(replay.segments.len(), 3, "from the greeting on");
    assert_eq!(replay.segments[0].frame, 1);
    // An ESMTP greeting followed by a mail command is enough.
    let (d, _) = run(
        (40000, 10025),
        &[(false, "220 mx ESMTP\r\n"), (true, "MAIL FROM:<a@b>\r\n")],
    );
    assert_eq!(d.verdict(), SMTP);
    // MAIL FROM answered 250 in a capture that starts mid-session.
    let (d, _) = run(
        (40000, 10025),
        &[(true, "MAIL FROM:<a@b>\r\n"), (false, "250 2.1.0 Ok\r\n")],
    );
    assert_eq!(
        d.verdict(),
        Verdict::Mail {
            protocol: Protocol::Smtp,
            server_is_a: false
        }
    );
}

#[test]
fn pop3_needs_a_greeting_a_command_and_its_answer() {
    let (mut d, verdicts) = run(
        (40000, 1110),
        &[
            (false, "+OK POP3 ready\r\n"),
            (true, "CAPA\r\n"),
            (false, "+OK\r\nUSER\r\n.\r\n"),
        ],
    );
    assert_eq!(verdicts, [Verdict::Undecided, Verdict::Undecided, POP3]);
    assert_eq!(d.take_replay().segments.len(), 3);
    // A capture that starts after the greeting.
    let (d, _) = run(
        (40000, 1110),
        &[(true, "USER alice\r\n"), (false, "+OK\r\n")],
    );
    assert_eq!(d.verdict(), POP3);
}

#[test]
fn a_tunnel_set_up_is_left_out_of_the_replay() {
    let (mut d, _) = run(
        (40000, 3128),
        &[
            (true, "CONNECT mail.example.org:25 HTTP/1.1\r\n\r\n"),
            (false, "HTTP/1.1 200 Connection established\r\n\r\n"),
            (false, "220 mail.example.org ESMTP\r\n"),
            (true, "EHLO client\r\n"),
        ],
    );
    assert_eq!(d.verdict(), SMTP);
    let replay = d.take_replay();
    assert_eq!(replay.segments.len(), 2);
    assert!(replay.segments[0].payload.starts_with(b"220 "));
    let connect = "CONNECT mail.example.org:25 HTTP/1.1\r\n\r\n".len() as u32;
    assert_eq!(replay.starts[0], Some(100 + connect), "the client's stream");
}

#[test]
fn lines_split_anywhere_are_read_whole() {
    let mut d = Detector::new((40000, 10025));
    let text = b"220 mx ESMTP\r\n";
    for (i, byte) in text.iter().enumerate() {
        d.payload(false, 900 + i as u32, None, &[*byte], i as u64 + 1);
    }
    d.payload(true, 100, None, b"EH", 20);
    assert_eq!(d.payload(true, 102, None, b"LO x\r\n", 21), SMTP);
    let replay = d.take_replay();
    assert_eq!(replay.segments.len(), text.len() + 2);
    // A SOCKS reply (binary, no line end) does not run into the greeting.
    let mut d = Detector::new((40000, 1080));
    d.payload(false, 900, None, b"\x05\x00", 1);
    d.payload(false, 902, None, b"220 mx ESMTP\r\n", 2);
    assert_eq!(d.payload(true, 100, None, b"EHLO x\r\n", 3), SMTP);
    assert_eq!(d.take_replay().segments[0].seq, 902);
    // A greeting in the middle of a payload starts the replay there.
    let mut d = Detector::new((40000, 3128));
    let reply = b"HTTP/1.1 200 OK\r\n\r\n220 mx ESMTP\r\n";
    d.payload(false, 900, None, reply, 1);
    d.payload(true, 100, None, b"EHLO x\r\n", 2);
    let replay = d.take_replay();
    assert!(replay.segments[0].payload.starts_with(b"220 mx"));
    assert_eq!(replay.segments[0].seq, 900 + 19);
}

#[test]
fn commands_inside_another_protocol_are_not_openings() {
    let (d, _) = run(
        (40000, 8080),
        &[(
            true,
            "POST /notes HTTP/1.1\r\nHost: example\r\n\r\nEHLO world\r\nMAIL FROM:<x@y>\r\n",
        )],
    );
    assert_eq!(d.verdict(), Verdict::Undecided);
}

#[test]
fn held_bytes_are_bounded() {
    let mut d = Detector::new((40000, 10025));
    let big = vec![b'x'; 40_000];
    d.payload(true, 0, None, &big, 1);
    assert_eq!(d.payload(true, 40_000, None, &big, 2), Verdict::NotMail);
    let mut d = Detector::new((40000, 10025));
    for i in 0..DETECTION_PAYLOADS {
        d.payload(true, i, None, b"?", u64::from(i));
    }
    assert_eq!(d.verdict(), Verdict::NotMail);
}
