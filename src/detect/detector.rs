//! Content detection for one connection: mail only on evidence no other
//! text protocol gives.
//!
//! The first payloads of a connection no port rule decides are held here
//! (bounded) and read line by line. A connection is SMTP once the client
//! says `EHLO`/`HELO`, once an ESMTP `220` greeting is followed by a mail
//! command, or once `MAIL FROM:` is answered `250`; it is POP3 once a `+OK`
//! greeting is followed by a POP3 command that the server answers with
//! `+OK`/`-ERR`, or once a client's `USER`/`APOP`/`CAPA`/`STLS` is answered
//! that way. A lone `220` (FTP greets so) or a lone `+OK` (Redis answers so)
//! proves nothing. When the evidence is complete, the held segments from
//! the first line of the mail dialogue on are handed back to be replayed
//! into a [`Connection`](crate::Connection), so nothing before the decision
//! is lost; what came before that line (a tunnel's set-up) is left out.

use super::lines::{client_line, server_line, ClientLine, ServerLine};
use super::{claimable_by_content, Protocol};

/// Payloads of a connection looked at before it is given up as not mail.
pub const DETECTION_PAYLOADS: u32 = 16;

/// Bytes of payload held while undecided; past it the connection is not mail.
pub const MAX_HELD_BYTES: usize = 64 * 1024;

/// Longest line read for evidence; a longer one counts as no evidence.
const MAX_LINE: usize = 1024;

/// A segment held while the connection was undecided, from side a (the
/// side the host calls so) or side b.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    pub from_a: bool,
    pub seq: u32,
    pub ack: Option<u32>,
    pub payload: Vec<u8>,
    pub frame: u64,
}

/// What the detector has concluded so far.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Undecided,
    NotMail,
    Mail {
        protocol: Protocol,
        /// The server is side a.
        server_is_a: bool,
    },
}

/// The held segments a decided connection starts with.
#[derive(Clone, Debug, Default)]
pub struct Replay {
    /// From the first byte of the mail dialogue on, in capture order.
    pub segments: Vec<Held>,
    /// Per side (a, b): where its stream starts when none of its segments
    /// is replayed (after what it sent before the mail dialogue began).
    pub starts: [Option<u32>; 2],
    /// Bytes cut from the front of the first segment (what preceded the
    /// dialogue's first line in it).
    pub cut: usize,
}

/// A place in the held segments: segment index and offset into its payload.
type At = (usize, usize);

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Kind {
    /// A `220` greeting; the client's next line decides.
    SmtpGreeting { esmtp: bool },
    /// A `+OK` greeting; then a POP3 command, then its answer.
    Pop3Greeting { asked: bool },
    /// A client's POP3 opening command awaiting the server's status.
    Pop3Opening,
    /// `MAIL FROM:` awaiting a 250.
    SmtpMail,
}

#[derive(Copy, Clone, Debug)]
struct Candidate {
    kind: Kind,
    /// Where its first line began.
    start: At,
    /// The side that would be the server (0: a, 1: b).
    server: usize,
}

/// One side's line being assembled.
#[derive(Clone, Debug, Default)]
struct LineBuf {
    bytes: Vec<u8>,
    start: Option<At>,
    overlong: bool,
}

#[derive(Clone, Debug)]
pub struct Detector {
    held: Vec<Held>,
    held_bytes: usize,
    payloads: u32,
    lines: [LineBuf; 2],
    candidate: Option<Candidate>,
    /// The side that sent the latest complete line.
    last_line_from: Option<usize>,
    /// Where the mail dialogue's first line began, once decided.
    start: At,
    verdict: Verdict,
}

impl Detector {
    /// A detector for a connection between these two ports; ports of other
    /// well-known protocols are never claimed by content.
    pub fn new(ports: (u16, u16)) -> Self {
        Detector {
            held: Vec::new(),
            held_bytes: 0,
            payloads: 0,
            lines: Default::default(),
            candidate: None,
            last_line_from: None,
            start: (0, 0),
            verdict: if claimable_by_content(ports.0) && claimable_by_content(ports.1) {
                Verdict::Undecided
            } else {
                Verdict::NotMail
            },
        }
    }

    pub fn verdict(&self) -> Verdict {
        self.verdict
    }

    /// One payload of the connection, in capture order.
    pub fn payload(
        &mut self,
        from_a: bool,
        seq: u32,
        ack: Option<u32>,
        payload: &[u8],
        frame: u64,
    ) -> Verdict {
        if self.verdict != Verdict::Undecided || payload.is_empty() {
            return self.verdict;
        }
        self.payloads += 1;
        self.held_bytes += payload.len();
        if self.payloads > DETECTION_PAYLOADS || self.held_bytes > MAX_HELD_BYTES {
            self.give_up();
            return self.verdict;
        }
        let index = self.held.len();
        self.held.push(Held {
            from_a,
            seq,
            ack,
            payload: payload.to_vec(),
            frame,
        });
        let side = usize::from(!from_a);
        // A partial line of binary bytes (a SOCKS handshake) does not run on
        // into the next payload.
        let buf = &mut self.lines[side];
        if buf
            .bytes
            .iter()
            .any(|b| *b < 0x20 && *b != b'\t' && *b != b'\r')
        {
            *buf = LineBuf::default();
        }
        let mut at = 0;
        while at < payload.len() && self.verdict == Verdict::Undecided {
            let buf = &mut self.lines[side];
            if buf.start.is_none() {
                buf.start = Some((index, at));
            }
            let end = memchr::memchr(b'\n', &payload[at..]).map(|i| at + i + 1);
            let piece = &payload[at..end.unwrap_or(payload.len())];
            if buf.bytes.len() + piece.len() > MAX_LINE {
                buf.overlong = true;
            } else {
                buf.bytes.extend_from_slice(piece);
            }
            let Some(end) = end else { break };
            at = end;
            let line = std::mem::take(&mut self.lines[side]);
            let start = line.start.unwrap_or((index, 0));
            let text = if line.overlong { &[][..] } else { &line.bytes };
            self.line(side, text, start);
            self.last_line_from = Some(side);
        }
        if self.verdict == Verdict::Undecided && self.payloads == DETECTION_PAYLOADS {
            self.give_up();
        }
        self.verdict
    }

    fn give_up(&mut self) {
        self.verdict = Verdict::NotMail;
        self.held = Vec::new();
        self.lines = Default::default();
    }

    fn decide(&mut self, protocol: Protocol, server: usize, start: At) {
        self.start = start;
        self.verdict = Verdict::Mail {
            protocol,
            server_is_a: server == 0,
        };
    }

    /// One complete line from `side`, which began at `start`.
    fn line(&mut self, side: usize, line: &[u8], start: At) {
        let Some(candidate) = self.candidate else {
            return self.opening(side, line, start);
        };
        let from_server = side == candidate.server;
        let client = (!from_server).then(|| client_line(line));
        let server = from_server.then(|| server_line(line));
        let keep = match (candidate.kind, client, server) {
            (Kind::SmtpGreeting { .. }, _, Some(_)) => true,
            (Kind::SmtpGreeting { esmtp }, Some(c), _) => {
                let mail = matches!(c, ClientLine::MailFrom | ClientLine::SmtpCommand);
                if c == ClientLine::Ehlo || (esmtp && mail) {
                    return self.decide(Protocol::Smtp, candidate.server, candidate.start);
                }
                false
            }
            (Kind::Pop3Greeting { asked: false }, Some(c), _) => {
                let pop3 = matches!(c, ClientLine::Pop3Opening | ClientLine::Pop3Command);
                if pop3 {
                    self.candidate = Some(Candidate {
                        kind: Kind::Pop3Greeting { asked: true },
                        ..candidate
                    });
                }
                pop3
            }
            (Kind::Pop3Greeting { asked: true } | Kind::Pop3Opening, Some(c), _) => {
                matches!(c, ClientLine::Pop3Opening | ClientLine::Pop3Command)
            }
            (Kind::Pop3Greeting { asked: false }, _, Some(ServerLine::Pop3Status { .. })) => true,
            (Kind::Pop3Greeting { asked: true }, _, Some(ServerLine::Pop3Status { .. }))
            | (Kind::Pop3Opening, _, Some(ServerLine::Pop3Status { ok: true })) => {
                return self.decide(Protocol::Pop3, candidate.server, candidate.start)
            }
            (Kind::SmtpMail, Some(c), _) => c != ClientLine::Other,
            (Kind::SmtpMail, _, Some(ServerLine::Smtp250)) => {
                return self.decide(Protocol::Smtp, candidate.server, candidate.start)
            }
            _ => false,
        };
        if !keep {
            self.candidate = None;
            self.opening(side, line, start);
        }
    }

    /// A line read with no candidate: whether it could open a mail dialogue.
    /// A client's opening command starts its turn: after a line of the
    /// other side, or as the connection's first line (an `EHLO` line in the
    /// body of an HTTP request opens nothing).
    fn opening(&mut self, side: usize, line: &[u8], start: At) {
        let other = 1 - side;
        let turn = self.last_line_from != Some(side);
        let kind = match client_line(line) {
            _ if !turn && server_line(line) == ServerLine::Other => None,
            ClientLine::Ehlo => return self.decide(Protocol::Smtp, other, start),
            ClientLine::MailFrom => Some((Kind::SmtpMail, other)),
            ClientLine::Pop3Opening => Some((Kind::Pop3Opening, other)),
            _ => match server_line(line) {
                ServerLine::Smtp220 { esmtp } => Some((Kind::SmtpGreeting { esmtp }, side)),
                // A greeting, not the answer to something the other side said.
                ServerLine::Pop3Status { ok: true } if self.last_line_from != Some(other) => {
                    Some((Kind::Pop3Greeting { asked: false }, side))
                }
                _ => None,
            },
        };
        self.candidate = kind.map(|(kind, server)| Candidate {
            kind,
            start,
            server,
        });
    }

    /// The held segments from the first line of the mail dialogue on, once
    /// the verdict is mail; the detector holds nothing after it.
    pub fn take_replay(&mut self) -> Replay {
        let held = std::mem::take(&mut self.held);
        if !matches!(self.verdict, Verdict::Mail { .. }) {
            return Replay::default();
        }
        let (first, offset) = self.start;
        let mut replay = Replay::default();
        for (i, mut segment) in held.into_iter().enumerate() {
            if i < first {
                let side = usize::from(!segment.from_a);
                replay.starts[side] = Some(segment.seq.wrapping_add(segment.payload.len() as u32));
                continue;
            }
            if i == first && offset > 0 {
                replay.cut = offset;
                segment.payload.drain(..offset);
                segment.seq = segment.seq.wrapping_add(offset as u32);
            }
            replay.segments.push(segment);
        }
        replay
    }
}

#[cfg(test)]
mod tests {
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
}
