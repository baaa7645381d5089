//! SMTP (RFC 5321) with PIPELINING, CHUNKING, STARTTLS and AUTH.
//!
//! [`Smtp`] owns both directions of one connection's byte streams after
//! reassembly. Each call to [`Smtp::feed`] appends bytes in stream order and
//! returns the PDUs they complete. The client's framing depends on the
//! server (after `354` the client sends a message, after `334` a SASL
//! response), so feeds must come in capture order across both directions.

use std::collections::VecDeque;

use crate::fields::{Expert, Field};
use crate::item::{Direction, Item, Message, Pdu};
use crate::limits::Limits;
use crate::sasl::{self, Exchange, Side};
use crate::text::{
    command_during_sasl, find_end_of_data, gap_pdu, info_line, lossy, strip_eol, unstuff,
    StreamBuf, TextEngine, TlsSwitch,
};

/// Commands of RFC 5321 and its extensions, and common vendor ones.
const KNOWN_VERBS: &[&str] = &[
    "HELO",
    "EHLO",
    "MAIL",
    "RCPT",
    "DATA",
    "BDAT",
    "RSET",
    "NOOP",
    "VRFY",
    "EXPN",
    "HELP",
    "QUIT",
    "AUTH",
    "STARTTLS",
    "TURN",
    "ETRN",
    "ATRN",
    "XCLIENT",
    "XFORWARD",
    "XEXCH50",
    "X-ANONYMOUSTLS",
    "X-EXPS",
    "X-LINK2STATE",
    "SIZE",
    "SEND",
    "SOML",
    "SAML",
    "VERB",
    "ONEX",
    "LHLO",
    "BURL",
];

#[derive(Clone, Debug, PartialEq, Eq)]
enum ClientMode {
    Command,
    /// In a SASL exchange: lines are base64 responses.
    Auth,
    /// DATA sent, its reply not yet seen: what follows is taken as content.
    DataPending,
    Data,
    /// Inside a BDAT chunk with this many bytes still to come.
    Bdat {
        remaining: u64,
        last: bool,
        size: u64,
    },
}

#[derive(Clone, Debug)]
struct PendingCommand {
    verb: String,
    frame: u64,
    /// The path a MAIL or RCPT named, repeated under its reply.
    path: Option<(Field, String)>,
}

/// The message being received in the current transaction.
#[derive(Clone, Debug, Default)]
struct MessageBuf {
    content: Vec<u8>,
    truncated: bool,
    chunk: Vec<u8>,
    chunk_start: u64,
    chunk_truncated: bool,
}

/// SMTP session state for both directions of one connection.
#[derive(Clone, Debug)]
pub struct Smtp {
    limits: Limits,
    client: ClientMode,
    tls: TlsSwitch,
    bufs: [StreamBuf; 2],
    pending: VecDeque<PendingCommand>,
    auth: Option<Exchange>,
    greeted: bool,
    quit: bool,
    transaction: u32,
    in_transaction: bool,
    recipients: u32,
    message: MessageBuf,
    /// `finish` was called: what is open now stays open.
    capture_ended: bool,
}

impl Default for Smtp {
    fn default() -> Self {
        Smtp::new(Limits::default())
    }
}

/// `<a@b>` -> `a@b`; also accepts a bare path.
fn strip_angles(path: &str) -> &str {
    path.strip_prefix('<')
        .and_then(|p| p.strip_suffix('>'))
        .unwrap_or(path)
}

/// An RFC 3463 enhanced status code (`2.1.0`) at the start of reply text.
fn enhanced_status(text: &str) -> Option<&str> {
    let token = text.split(' ').next()?;
    let mut parts = token.split('.');
    let class = parts.next()?;
    let subject = parts.next()?;
    let detail = parts.next()?;
    let ok = parts.next().is_none()
        && matches!(class, "2" | "4" | "5")
        && (1..=3).contains(&subject.len())
        && (1..=3).contains(&detail.len())
        && subject
            .bytes()
            .chain(detail.bytes())
            .all(|b| b.is_ascii_digit());
    ok.then_some(token)
}

impl Smtp {
    pub fn new(limits: Limits) -> Self {
        Smtp {
            limits,
            client: ClientMode::Command,
            tls: TlsSwitch::default(),
            bufs: Default::default(),
            pending: VecDeque::new(),
            auth: None,
            greeted: false,
            quit: false,
            transaction: 0,
            in_transaction: false,
            recipients: 0,
            message: MessageBuf::default(),
            capture_ended: false,
        }
    }

    /// The session inside TLS after STARTTLS: no new greeting comes (RFC 3207 4.2).
    pub fn after_starttls(limits: Limits) -> Self {
        Smtp {
            greeted: true,
            ..Smtp::new(limits)
        }
    }

    /// The session state as users name it, at this moment.
    pub fn state_name(&self) -> &'static str {
        if self.tls.is_tls(Direction::ToServer) {
            return "tls";
        }
        match self.client {
            ClientMode::Auth => "auth",
            ClientMode::Data | ClientMode::DataPending => "data",
            ClientMode::Bdat { .. } => "bdat",
            _ if self.quit => "quit",
            _ if self.in_transaction && self.recipients > 0 => "rcpt",
            _ if self.in_transaction => "mail",
            _ if self.greeted => "ready",
            _ => "greeting",
        }
    }

    /// Appends bytes in stream order; returns the PDUs they complete and whether they were TLS.
    pub fn feed(&mut self, direction: Direction, data: &[u8], frame: u64) -> (Vec<Pdu>, bool) {
        crate::text::feed(self, direction, data, frame)
    }

    /// Bytes the capture lost: framing resumes at the next line (or after the chunk).
    pub fn gap(&mut self, direction: Direction, missing: u64, frame: u64) -> Vec<Pdu> {
        let pdu = gap_pdu(&mut self.bufs[direction.index()], direction, missing, frame);
        let mut out = vec![pdu];
        if direction == Direction::ToServer {
            match self.client.clone() {
                ClientMode::Bdat {
                    remaining,
                    last,
                    size,
                } => {
                    let lost = missing.min(remaining);
                    self.message.chunk_truncated = true;
                    self.client = ClientMode::Bdat {
                        remaining: remaining - lost,
                        last,
                        size,
                    };
                    if remaining == lost {
                        out.extend(self.finish_bdat_chunk(frame));
                    }
                }
                // The content lost its middle; the terminator still ends it.
                ClientMode::Data | ClientMode::DataPending => self.message.truncated = true,
                _ => self.bufs[0].discard_line = true,
            }
        } else {
            self.bufs[1].discard_line = true;
        }
        out
    }

    /// End of capture: a message still open (DATA without its final dot, a
    /// BDAT chunk not all there) is emitted as a truncated message.
    pub fn finish(&mut self, frame: u64) -> Vec<Pdu> {
        let mut out = Vec::new();
        self.capture_ended = true;
        match self.client {
            ClientMode::Data | ClientMode::DataPending => {
                let len = self.bufs[0].data.len();
                let (offset, raw) = self.bufs[0].take(len);
                let seen_before = self.message.content.len();
                let mut pdu = self.data_pdu(frame, offset, raw, false);
                if len > 0 || seen_before > 0 {
                    self.message.truncated = true;
                    pdu.info = format!(
                        "C: message, {} bytes, cut short by the end of the capture",
                        self.message.content.len()
                    );
                    let message = self.take_message();
                    Self::end_of_capture_anomaly(&mut pdu, message.content.len());
                    pdu.message = Some(message);
                    out.push(pdu);
                }
            }
            ClientMode::Bdat { .. } => {
                self.message.chunk_truncated = true;
                if let Some(mut pdu) = self.finish_bdat_chunk(frame) {
                    if pdu.message.is_none() {
                        self.message.truncated = true;
                        let message = self.take_message();
                        Self::end_of_capture_anomaly(&mut pdu, message.content.len());
                        pdu.message = Some(message);
                    } else {
                        let kept = pdu.message.as_ref().map_or(0, |m| m.content.len());
                        Self::end_of_capture_anomaly(&mut pdu, kept);
                    }
                    out.push(pdu);
                }
            }
            _ => {}
        }
        out
    }

    fn end_of_capture_anomaly(pdu: &mut Pdu, kept: usize) {
        if let Some(message) = pdu.message.as_mut() {
            message.truncated = true;
        }
        pdu.anomaly(
            Expert::Truncated,
            0,
            0,
            format!("the capture ends inside this message; {kept} bytes of it were seen"),
        );
    }

    // ----- client side -----

    fn next_client_pdu(&mut self, frame: u64) -> Option<Pdu> {
        if self.tls.client_paused() {
            return None;
        }
        match self.client.clone() {
            ClientMode::Data | ClientMode::DataPending => self.next_data_pdu(frame),
            ClientMode::Bdat {
                remaining,
                last,
                size,
            } => self.next_bdat_pdu(frame, remaining, last, size),
            ClientMode::Command | ClientMode::Auth => {
                let (offset, raw, too_long) = self.next_line(Direction::ToServer)?;
                let mut pdu = Pdu::new(Direction::ToServer, frame, offset, raw);
                if too_long {
                    let len = pdu.bytes.len();
                    pdu.anomaly(
                        Expert::LineTooLong,
                        0,
                        len,
                        format!(
                            "command line longer than {} bytes; the rest of it is not kept",
                            self.limits.max_line
                        ),
                    );
                }
                if self.client == ClientMode::Auth && command_during_sasl(&pdu.bytes, KNOWN_VERBS) {
                    // Not base64 but a command: the client did not wait for the exchange's end.
                    self.client = ClientMode::Command;
                    self.command(&mut pdu);
                    let len = pdu.bytes.len();
                    pdu.anomaly(
                        Expert::Violation,
                        0,
                        len,
                        "command sent before the AUTH exchange ended",
                    );
                } else if self.client == ClientMode::Auth {
                    let state = self.state_item(strip_eol(&pdu.bytes).len());
                    sasl::client_line(self.auth.as_mut(), &mut pdu, state);
                } else {
                    self.command(&mut pdu);
                }
                if self.tls.take_clear_after_accept() {
                    let len = pdu.bytes.len();
                    pdu.anomaly(
                        Expert::Violation,
                        0,
                        len,
                        "STARTTLS was accepted but the client continued in clear text",
                    );
                }
                Some(pdu)
            }
        }
    }

    fn skip_discarded(&mut self, direction: Direction) -> bool {
        self.bufs[direction.index()].skip_discarded()
    }

    fn next_line(&mut self, direction: Direction) -> Option<(u64, Vec<u8>, bool)> {
        self.bufs[direction.index()].next_line(self.limits.max_line)
    }

    fn state_item(&self, len: usize) -> Item {
        Item::text(Field::SmtpState, 0, len, self.state_name())
    }

    fn push_pending(&mut self, verb: &str, frame: u64, pdu: &mut Pdu) {
        if self.pending.len() >= self.limits.max_pending {
            self.pending.pop_front();
            pdu.anomaly(
                Expert::Violation,
                0,
                pdu.bytes.len(),
                format!(
                    "more than {} commands without a reply; the oldest is forgotten",
                    self.limits.max_pending
                ),
            );
        }
        self.pending.push_back(PendingCommand {
            verb: verb.to_string(),
            frame,
            path: None,
        });
    }

    fn command(&mut self, pdu: &mut Pdu) {
        let line = strip_eol(&pdu.bytes).to_vec();
        let text = lossy(&line);
        let line_len = line.len();
        let verb_len = line.iter().position(|b| *b == b' ').unwrap_or(line_len);
        let verb = lossy(&line[..verb_len]).to_ascii_uppercase();
        let arg_offset = (verb_len + 1).min(line_len);
        let argument = lossy(&line[arg_offset..]);
        pdu.info = info_line(Direction::ToServer, &text);

        let mut request = Item::tree(Field::SmtpRequest, 0, line_len);
        request.push(self.state_item(line_len));
        request.push(Item::text(Field::SmtpCommand, 0, verb_len, verb.clone()));
        if arg_offset < line_len {
            request.push(Item::text(
                Field::SmtpArgument,
                arg_offset,
                line_len - arg_offset,
                argument.clone(),
            ));
        }
        if !KNOWN_VERBS.contains(&verb.as_str()) {
            let printable = verb
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            pdu.anomaly(
                Expert::UnknownCommand,
                0,
                verb_len,
                if printable && !verb.is_empty() {
                    format!("unknown SMTP command \"{verb}\"")
                } else {
                    "client sent a line that is not an SMTP command".to_string()
                },
            );
        }
        let frame = pdu.frame;
        match verb.as_str() {
            "HELO" | "EHLO" | "LHLO" => {
                request.push(Item::text(
                    Field::SmtpHelo,
                    arg_offset,
                    line_len - arg_offset,
                    argument.clone(),
                ));
                self.reset_transaction();
            }
            "MAIL" => self.mail_or_rcpt(
                &mut request,
                pdu,
                &argument,
                arg_offset,
                "FROM:",
                Field::SmtpMailFrom,
            ),
            "RCPT" => self.mail_or_rcpt(
                &mut request,
                pdu,
                &argument,
                arg_offset,
                "TO:",
                Field::SmtpRcptTo,
            ),
            "DATA" => {
                if !self.in_transaction {
                    pdu.anomaly(
                        Expert::Violation,
                        0,
                        line_len,
                        "DATA without a MAIL FROM transaction",
                    );
                }
                request.push(Item::uint(
                    Field::SmtpTransaction,
                    0,
                    line_len,
                    u64::from(self.transaction),
                ));
                self.client = ClientMode::DataPending;
                self.message = MessageBuf::default();
            }
            "BDAT" => self.bdat(&mut request, pdu, &argument, arg_offset),
            "RSET" => self.reset_transaction(),
            "QUIT" => self.quit = true,
            "AUTH" => {
                let (mechanism, initial) = match argument.split_once(' ') {
                    Some((m, i)) => (m.to_string(), Some(i.to_string())),
                    None => (argument.clone(), None),
                };
                if mechanism.is_empty() {
                    pdu.anomaly(Expert::Violation, 0, line_len, "AUTH without a mechanism");
                } else {
                    let mut exchange = Exchange::new(&mechanism);
                    let auth_offset = arg_offset;
                    let mut auth = Item::tree(Field::Auth, auth_offset, line_len - auth_offset);
                    match initial {
                        Some(initial) => {
                            let initial_offset = arg_offset + mechanism.len() + 1;
                            let step =
                                exchange.step(Side::Initial, &initial, initial_offset, frame);
                            sasl::apply_step(pdu, &mut auth, step);
                        }
                        None => auth.push(Item::text(
                            Field::AuthMechanism,
                            arg_offset,
                            mechanism.len(),
                            exchange.mechanism(),
                        )),
                    }
                    request.push(auth);
                    self.auth = Some(exchange);
                    self.client = ClientMode::Auth;
                }
            }
            _ => {}
        }
        let path = request
            .children
            .iter()
            .find(|i| matches!(i.field, Field::SmtpMailFrom | Field::SmtpRcptTo))
            .map(|i| (i.field, i.value.to_string()));
        pdu.items.push(request);
        self.push_pending(&verb, frame, pdu);
        if let Some(pending) = self.pending.back_mut() {
            pending.path = path;
        }
    }

    fn reset_transaction(&mut self) {
        self.in_transaction = false;
        self.recipients = 0;
    }

    fn mail_or_rcpt(
        &mut self,
        request: &mut Item,
        pdu: &mut Pdu,
        argument: &str,
        arg_offset: usize,
        keyword: &str,
        field: Field,
    ) {
        let line_len = strip_eol(&pdu.bytes).len();
        let Some(prefix) = argument
            .get(..keyword.len())
            .filter(|p| p.eq_ignore_ascii_case(keyword))
        else {
            pdu.anomaly(
                Expert::Violation,
                arg_offset,
                line_len - arg_offset,
                format!("argument does not start with \"{keyword}\""),
            );
            return;
        };
        let after = &argument[prefix.len()..];
        let spaces = after.len() - after.trim_start().len();
        let rest = after.trim_start();
        let path_len = if rest.starts_with('<') {
            rest.find('>').map(|i| i + 1).unwrap_or(rest.len())
        } else {
            rest.find(' ').unwrap_or(rest.len())
        };
        let path_offset = arg_offset + prefix.len() + spaces;
        request.push(Item::text(
            field,
            path_offset,
            path_len,
            strip_angles(&rest[..path_len]),
        ));
        let mut cursor = path_offset + path_len;
        for param in rest[path_len..].split(' ') {
            if !param.is_empty() {
                let at = pdu.bytes[cursor..line_len]
                    .windows(param.len())
                    .position(|w| w == param.as_bytes());
                let at = at.map(|i| cursor + i).unwrap_or(cursor);
                request.push(Item::text(Field::SmtpParameter, at, param.len(), param));
                cursor = at + param.len();
            }
        }
        if field == Field::SmtpMailFrom {
            if self.in_transaction {
                pdu.anomaly(
                    Expert::Violation,
                    0,
                    line_len,
                    "MAIL FROM inside an open transaction",
                );
            }
            self.transaction += 1;
            self.in_transaction = true;
            self.recipients = 0;
        } else {
            if !self.in_transaction {
                pdu.anomaly(
                    Expert::Violation,
                    0,
                    line_len,
                    "RCPT TO without a MAIL FROM transaction",
                );
            }
            self.recipients += 1;
        }
        request.push(Item::uint(
            Field::SmtpTransaction,
            0,
            line_len,
            u64::from(self.transaction),
        ));
    }

    fn bdat(&mut self, request: &mut Item, pdu: &mut Pdu, argument: &str, arg_offset: usize) {
        let line_len = strip_eol(&pdu.bytes).len();
        let mut words = argument.split(' ').filter(|w| !w.is_empty());
        let size_text = words.next().unwrap_or("");
        let last_word = words.next();
        let size = match size_text.parse::<u64>() {
            Ok(size) => size,
            Err(_) => {
                let shown = if size_text.is_empty() {
                    "missing".to_string()
                } else {
                    format!("\"{size_text}\" is not a number")
                };
                pdu.anomaly(
                    Expert::Violation,
                    arg_offset,
                    line_len.saturating_sub(arg_offset),
                    format!("BDAT size {shown}"),
                );
                return;
            }
        };
        let last = match last_word {
            None => false,
            Some(word) if word.eq_ignore_ascii_case("LAST") => true,
            Some(word) => {
                // Arguments that do not parse announce no chunk (the server
                // answers 501 and reads the next line as a command).
                pdu.anomaly(
                    Expert::Violation,
                    arg_offset,
                    line_len - arg_offset,
                    format!("BDAT parameter \"{word}\" is not LAST; no chunk follows"),
                );
                return;
            }
        };
        request.push(Item::uint(
            Field::SmtpBdatSize,
            arg_offset,
            size_text.len(),
            size,
        ));
        request.push(Item::flag(
            Field::SmtpBdatLast,
            arg_offset,
            line_len - arg_offset,
            last,
        ));
        request.push(Item::uint(
            Field::SmtpTransaction,
            0,
            line_len,
            u64::from(self.transaction),
        ));
        if !self.in_transaction {
            pdu.anomaly(
                Expert::Violation,
                0,
                line_len,
                "BDAT without a MAIL FROM transaction",
            );
        }
        self.message.chunk.clear();
        self.message.chunk_truncated = false;
        self.message.chunk_start = self.bufs[0].start;
        self.client = ClientMode::Bdat {
            remaining: size,
            last,
            size,
        };
    }

    fn next_data_pdu(&mut self, frame: u64) -> Option<Pdu> {
        let max = self.limits.max_message;
        let buf = &mut self.bufs[0];
        // The content ends with CRLF "." CRLF; an empty message is just "." CRLF.
        let end = if buf.data.starts_with(b".\r\n") {
            Some(3)
        } else if buf.data.starts_with(b".\n") {
            Some(2)
        } else {
            let from = buf.scanned.saturating_sub(4);
            let found = find_end_of_data(&buf.data[from..]).map(|e| from + e);
            if found.is_none() {
                buf.scanned = buf.data.len();
            }
            found
        };
        match end {
            Some(end) => {
                let (offset, raw) = buf.take(end);
                Some(self.data_pdu(frame, offset, raw, true))
            }
            None if buf.data.len() > max => {
                // Hand over all but the last bytes, where the terminator may begin.
                let keep = buf.data.len().saturating_sub(4);
                if keep == 0 {
                    return None;
                }
                let (offset, raw) = buf.take(keep);
                self.message.truncated = true;
                let mut pdu = self.data_pdu(frame, offset, raw, false);
                pdu.anomaly(
                    Expert::Truncated,
                    0,
                    0,
                    format!("message content over {max} bytes is not kept"),
                );
                Some(pdu)
            }
            None => None,
        }
    }

    fn data_pdu(&mut self, frame: u64, offset: u64, raw: Vec<u8>, complete: bool) -> Pdu {
        let mut pdu = Pdu::new(Direction::ToServer, frame, offset, raw);
        let body_len = if complete {
            let term = if pdu.bytes.ends_with(b"\r\n.\r\n") || pdu.bytes == b".\r\n" {
                3
            } else {
                2
            };
            pdu.bytes.len() - term
        } else {
            pdu.bytes.len()
        };
        let (content, unstuffed) = unstuff(&pdu.bytes[..body_len]);
        if !self.message.truncated {
            let room = self
                .limits
                .max_message
                .saturating_sub(self.message.content.len());
            if content.len() > room {
                self.message.truncated = true;
            }
            self.message
                .content
                .extend_from_slice(&content[..content.len().min(room)]);
        }
        let len = pdu.bytes.len();
        let mut data = Item::tree(Field::SmtpData, 0, len);
        data.push(Item::text(Field::SmtpState, 0, len, "data"));
        data.push(Item::uint(
            Field::SmtpTransaction,
            0,
            len,
            u64::from(self.transaction),
        ));
        data.push(Item::uint(Field::SmtpDataChunkSize, 0, len, len as u64));
        data.push(Item::uint(
            Field::SmtpDataUnstuffedLines,
            0,
            body_len,
            unstuffed,
        ));
        if complete {
            data.push(Item::uint(
                Field::SmtpDataSize,
                0,
                body_len,
                self.message.content.len() as u64,
            ));
            data.push(Item::flag(
                Field::SmtpDataComplete,
                body_len,
                len - body_len,
                true,
            ));
            pdu.info = format!("C: message, {} bytes", self.message.content.len());
            pdu.message = Some(self.take_message());
            self.client = ClientMode::Command;
            let frame = pdu.frame;
            self.push_pending("DATA", frame, &mut pdu);
        } else {
            data.push(Item::flag(Field::SmtpDataComplete, 0, len, false));
            pdu.info = format!("C: message fragment, {} bytes", len);
        }
        pdu.items.push(data);
        pdu
    }

    /// The content is complete: from the client's side the transaction is over
    /// (a pipelining client may send the next MAIL before the reply).
    fn take_message(&mut self) -> Message {
        self.reset_transaction();
        let message = std::mem::take(&mut self.message);
        Message {
            transaction: self.transaction,
            content: message.content,
            truncated: message.truncated,
        }
    }

    fn next_bdat_pdu(&mut self, frame: u64, remaining: u64, last: bool, size: u64) -> Option<Pdu> {
        let buf = &mut self.bufs[0];
        if remaining > 0 && buf.data.is_empty() {
            return None;
        }
        let n = (buf.data.len() as u64).min(remaining) as usize;
        let (_, bytes) = buf.take(n);
        let room = self
            .limits
            .max_message
            .saturating_sub(self.message.chunk.len());
        if bytes.len() > room {
            self.message.chunk_truncated = true;
        }
        self.message
            .chunk
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
        let remaining = remaining - n as u64;
        self.client = ClientMode::Bdat {
            remaining,
            last,
            size,
        };
        if remaining > 0 {
            return None;
        }
        self.finish_bdat_chunk(frame)
    }

    fn finish_bdat_chunk(&mut self, frame: u64) -> Option<Pdu> {
        let ClientMode::Bdat { last, size, .. } = self.client else {
            return None;
        };
        self.client = ClientMode::Command;
        let chunk = std::mem::take(&mut self.message.chunk);
        let mut pdu = Pdu::new(Direction::ToServer, frame, self.message.chunk_start, chunk);
        let len = pdu.bytes.len();
        let room = self
            .limits
            .max_message
            .saturating_sub(self.message.content.len());
        if len > room || self.message.chunk_truncated {
            self.message.truncated = true;
        }
        self.message
            .content
            .extend_from_slice(&pdu.bytes[..len.min(room)]);
        let mut data = Item::tree(Field::SmtpData, 0, len);
        data.push(Item::text(Field::SmtpState, 0, len, "bdat"));
        data.push(Item::uint(
            Field::SmtpTransaction,
            0,
            len,
            u64::from(self.transaction),
        ));
        data.push(Item::uint(Field::SmtpDataChunkSize, 0, len, size));
        if self.message.chunk_truncated {
            pdu.anomaly(
                Expert::Truncated,
                0,
                len,
                format!("BDAT chunk of {size} bytes is incomplete in the capture"),
            );
        }
        if last {
            data.push(Item::uint(
                Field::SmtpDataSize,
                0,
                len,
                self.message.content.len() as u64,
            ));
            // At the end of the capture a LAST chunk not all there did not end the message.
            let complete = !(self.capture_ended && self.message.chunk_truncated);
            data.push(Item::flag(Field::SmtpDataComplete, 0, len, complete));
            pdu.info = format!(
                "C: BDAT chunk, {size} bytes, last; message, {} bytes",
                self.message.content.len()
            );
            pdu.message = Some(self.take_message());
        } else {
            pdu.info = format!("C: BDAT chunk, {size} bytes");
        }
        pdu.items.push(data);
        Some(pdu)
    }

    // ----- server side -----

    fn next_server_pdu(&mut self, frame: u64) -> Option<Pdu> {
        if self.tls.is_tls(Direction::ToClient) {
            return None;
        }
        // Frame a whole reply: lines up to one whose code is followed by a space (or nothing).
        let max_line = self.limits.max_line;
        let max_lines = self.limits.max_reply_lines;
        if !self.skip_discarded(Direction::ToClient) {
            return None;
        }
        let buf = &mut self.bufs[1];
        let mut end = 0;
        let mut lines = 0;
        let mut cut = false;
        loop {
            let rest = &buf.data[end..];
            match rest.iter().position(|b| *b == b'\n') {
                Some(i) if i < max_line => {
                    let line = strip_eol(&rest[..=i]);
                    end += i + 1;
                    lines += 1;
                    let continues = line.len() >= 4
                        && line[..3].iter().all(u8::is_ascii_digit)
                        && line[3] == b'-';
                    if !continues {
                        break;
                    }
                    if lines >= max_lines {
                        cut = true;
                        break;
                    }
                }
                _ if rest.len() > max_line => {
                    // An endless line: hand it over as one cut line.
                    if end == 0 {
                        let (offset, raw, _) = self.next_line(Direction::ToClient)?;
                        let mut pdu = Pdu::new(Direction::ToClient, frame, offset, raw);
                        let len = pdu.bytes.len();
                        pdu.anomaly(
                            Expert::LineTooLong,
                            0,
                            len,
                            format!("reply line longer than {max_line} bytes"),
                        );
                        self.reply(&mut pdu);
                        return Some(pdu);
                    }
                    break;
                }
                _ => return None,
            }
        }
        let (offset, raw) = buf.take(end);
        let mut pdu = Pdu::new(Direction::ToClient, frame, offset, raw);
        if cut {
            let len = pdu.bytes.len();
            pdu.anomaly(
                Expert::BadReply,
                0,
                len,
                format!("reply of more than {max_lines} lines; the rest is framed anew"),
            );
        }
        self.reply(&mut pdu);
        Some(pdu)
    }

    fn reply(&mut self, pdu: &mut Pdu) {
        let total = pdu.bytes.len();
        let mut lines: Vec<(usize, Vec<u8>)> = Vec::new();
        let mut at = 0;
        while at < total {
            let end = pdu.bytes[at..]
                .iter()
                .position(|b| *b == b'\n')
                .map(|i| at + i + 1)
                .unwrap_or(total);
            lines.push((at, strip_eol(&pdu.bytes[at..end]).to_vec()));
            at = end;
        }
        let first = lines.first().map(|(_, l)| l.clone()).unwrap_or_default();
        pdu.info = info_line(Direction::ToClient, &lossy(&first));
        let code = if first.len() >= 3
            && first[..3].iter().all(u8::is_ascii_digit)
            && (first.len() == 3 || matches!(first[3], b' ' | b'-'))
        {
            std::str::from_utf8(&first[..3])
                .ok()
                .and_then(|c| c.parse::<u16>().ok())
        } else {
            None
        };
        let mut response = Item::tree(Field::SmtpReply, 0, strip_eol(&pdu.bytes).len());
        response.push(self.state_item(strip_eol(&pdu.bytes).len()));
        let Some(code) = code else {
            pdu.anomaly(
                Expert::BadReply,
                0,
                first.len(),
                format!(
                    "reply line \"{}\" does not start with a 3-digit code",
                    crate::item::display_text(&first[..first.len().min(60)])
                ),
            );
            response.push(Item::text(
                Field::SmtpReplyText,
                0,
                first.len(),
                lossy(&first),
            ));
            pdu.items.push(response);
            return;
        };

        // Which command this answers: 334 continues AUTH, 220 before anything is the greeting.
        let answered = if code == 334 || (!self.greeted && self.pending.is_empty()) {
            self.pending.front().cloned()
        } else {
            self.pending.pop_front()
        };
        let is_greeting = !self.greeted && answered.is_none();
        if let Some(command) = &answered {
            response.push(Item::text(
                Field::SmtpReplyCommand,
                0,
                0,
                command.verb.clone(),
            ));
            response.push(Item::uint(
                Field::SmtpReplyRequestFrame,
                0,
                0,
                command.frame,
            ));
            if let Some((field, path)) = &command.path {
                response.push(Item::text(*field, 0, 0, path.clone()));
            }
        }
        for (index, (line_at, line)) in lines.iter().enumerate() {
            let text_at = (line_at + 4).min(line_at + line.len());
            let text = lossy(&line[(text_at - line_at)..]);
            let line_code = if line.len() >= 3 && line[..3].iter().all(u8::is_ascii_digit) {
                std::str::from_utf8(&line[..3])
                    .ok()
                    .and_then(|c| c.parse::<u16>().ok())
            } else {
                None
            };
            match line_code {
                Some(c) => {
                    response.push(Item::uint(Field::SmtpReplyCode, *line_at, 3, u64::from(c)));
                    if c != code {
                        pdu.anomaly(
                            Expert::BadReply,
                            *line_at,
                            3,
                            format!("reply line code {c} differs from the reply's code {code}"),
                        );
                    }
                }
                None => pdu.anomaly(
                    Expert::BadReply,
                    *line_at,
                    line.len(),
                    "reply continuation line without a code",
                ),
            }
            if let Some(status) = enhanced_status(&text) {
                response.push(Item::text(
                    Field::SmtpReplyStatus,
                    text_at,
                    status.len(),
                    status,
                ));
            }
            response.push(Item::text(
                Field::SmtpReplyText,
                text_at,
                line.len() - (text_at - line_at),
                text.clone(),
            ));
            let verb = answered.as_ref().map(|c| c.verb.as_str());
            if index > 0 && code == 250 && matches!(verb, Some("EHLO" | "LHLO")) {
                response.push(Item::text(
                    Field::SmtpCapability,
                    text_at,
                    text.len(),
                    text.clone(),
                ));
            }
            if index == 0 && is_greeting && code == 220 {
                response.push(Item::text(
                    Field::SmtpGreeting,
                    text_at,
                    text.len(),
                    text.clone(),
                ));
            }
        }
        let frame = pdu.frame;
        if is_greeting {
            self.greeted = true;
        }
        let verb = answered.map(|c| c.verb).unwrap_or_default();
        let success = (200..300).contains(&code);
        match verb.as_str() {
            "AUTH" if self.client == ClientMode::Auth || self.auth.is_some() => {
                let first_len = first.len();
                let text_at = 4.min(first_len);
                if code == 334 {
                    let challenge = lossy(&first[text_at..]);
                    if let Some(exchange) = self.auth.as_mut() {
                        let mut auth = Item::tree(Field::Auth, text_at, first_len - text_at);
                        let step = exchange.step(Side::Server, &challenge, text_at, frame);
                        if let Some(user) = &step.username {
                            pdu.info.push_str(&format!(" (user: {user})"));
                        }
                        auth.children.extend(step.items);
                        pdu.anomalies.extend(step.anomalies);
                        response.push(auth);
                    }
                } else if let Some(mut exchange) = self.auth.take() {
                    let step = exchange.outcome(success, 0, first_len);
                    if let Some(user) = &step.username {
                        pdu.info.push_str(&format!(" (user: {user})"));
                    }
                    let mut auth = Item::tree(Field::Auth, 0, first_len);
                    auth.children.extend(step.items);
                    pdu.anomalies.extend(step.anomalies);
                    response.push(auth);
                    pdu.auth_outcome = exchange.credential_frame().map(|f| (f, success));
                    self.client = ClientMode::Command;
                }
            }
            "DATA" if self.client == ClientMode::DataPending => {
                self.client = if code == 354 {
                    ClientMode::Data
                } else {
                    ClientMode::Command
                };
            }
            "MAIL" if !success => self.in_transaction = false,
            "RCPT" if !success => self.recipients = self.recipients.saturating_sub(1),
            "STARTTLS" if code == 220 => {
                let len = strip_eol(&pdu.bytes).len();
                response.push(Item::tree(Field::SmtpTls, 0, len));
                pdu.anomaly(
                    Expert::Tls,
                    0,
                    len,
                    "STARTTLS accepted: the session continues in TLS",
                );
                pdu.starts_tls = true;
                self.tls.accept();
            }
            _ => {}
        }
        pdu.items.push(response);
    }
}

impl TextEngine for Smtp {
    fn tls(&mut self) -> &mut TlsSwitch {
        &mut self.tls
    }
    fn buf(&mut self, direction: Direction) -> &mut StreamBuf {
        &mut self.bufs[direction.index()]
    }
    fn next_pdu(&mut self, direction: Direction, frame: u64) -> Option<Pdu> {
        match direction {
            Direction::ToServer => self.next_client_pdu(frame),
            Direction::ToClient => self.next_server_pdu(frame),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::text::testing::values;

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
}
