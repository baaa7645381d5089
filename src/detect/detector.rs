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
#[path = "detector_tests.rs"]
mod tests;
