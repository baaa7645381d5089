//! The SMTP session: both directions of one connection, the pipelining
//! queue (replies paired with commands in order), the transaction state,
//! what each reply means for the command it answers, and the switch to TLS.
//!
//! The client's framing depends on the server (after `354` the client sends
//! a message, after `334` a SASL response), so feeds must come in capture
//! order across both directions.

use std::collections::VecDeque;

use crate::fields::{Expert, Field};
use crate::item::{Direction, Item, Pdu};
use crate::limits::Limits;
use crate::sasl::{self, Exchange, Side};
use crate::text::{
    command_during_sasl, flag_clear_after_accept, info_line, next_client_line, starts_command,
    starts_reply, strip_eol, StreamBuf, TextEngine, TlsSwitch,
};

use super::command::{self, Command, CommandLine, KNOWN_VERBS};
use super::data::Assembly;
use super::reply::{self, Framing, Reply};
use super::tree::{self, Answered};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum ClientMode {
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

/// SMTP session state for both directions of one connection.
#[derive(Clone, Debug)]
pub struct Smtp {
    pub(super) limits: Limits,
    pub(super) client: ClientMode,
    pub(super) tls: TlsSwitch,
    pub(super) bufs: [StreamBuf; 2],
    pub(super) pending: VecDeque<Answered>,
    /// More commands than `max_pending` are unanswered (said once per run).
    pub(super) pending_overflow: bool,
    pub(super) auth: Option<Box<Exchange>>,
    /// Client lines that are no command at all, flagged once per run.
    pub(super) not_commands: crate::text::NotCommands,
    pub(super) greeted: bool,
    pub(super) quit: bool,
    pub(super) transaction: u32,
    pub(super) in_transaction: bool,
    pub(super) recipients: u32,
    pub(super) message: Assembly,
    /// `finish` was called: what is open now stays open.
    pub(super) capture_ended: bool,
    /// Whole replies may have been lost in a gap (see `loss::replies_lost`).
    pub(super) reply_lost: bool,
}

impl Default for Smtp {
    fn default() -> Self {
        Smtp::new(Limits::default())
    }
}

impl Smtp {
    pub fn new(limits: Limits) -> Self {
        Smtp {
            limits,
            client: ClientMode::Command,
            tls: TlsSwitch::default(),
            bufs: Default::default(),
            pending: VecDeque::new(),
            pending_overflow: false,
            auth: None,
            not_commands: Default::default(),
            greeted: false,
            quit: false,
            transaction: 0,
            in_transaction: false,
            recipients: 0,
            message: Assembly::default(),
            capture_ended: false,
            reply_lost: false,
        }
    }

    /// The session inside TLS after STARTTLS: no new greeting comes (RFC 3207 4.2).
    pub fn after_starttls(limits: Limits) -> Self {
        Smtp {
            greeted: true,
            ..Smtp::new(limits)
        }
    }

    /// A STARTTLS awaits the server's answer: TLS may start after it.
    pub fn awaits_tls_answer(&self) -> bool {
        self.pending.iter().any(|p| p.verb == "STARTTLS")
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

    /// The connection is TLS from its first byte (implicit TLS).
    pub(crate) fn start_tls_now(&mut self) {
        self.tls.start_now();
    }

    /// Appends bytes in stream order; returns the PDUs they complete and whether they were TLS.
    pub fn feed(&mut self, direction: Direction, data: &[u8], frame: u64) -> (Vec<Pdu>, bool) {
        let (pdus, tls) = crate::text::feed(self, direction, data, frame);
        (pdus, tls != crate::text::TlsBytes::None)
    }

    /// As [`Self::feed`], saying which bytes were TLS.
    pub(crate) fn feed_tls(
        &mut self,
        direction: Direction,
        data: &[u8],
        frame: u64,
    ) -> (Vec<Pdu>, crate::text::TlsBytes) {
        crate::text::feed(self, direction, data, frame)
    }

    // ----- client side

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
                if !self.bufs[0].resync_after_gap(|d| starts_command(d, KNOWN_VERBS)) {
                    return None;
                }
                let mut pdu = next_client_line(&mut self.bufs[0], self.limits.max_line, frame)?;
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
                    sasl::client_line(self.auth.as_deref_mut(), &mut pdu, state);
                } else {
                    self.command(&mut pdu);
                }
                flag_clear_after_accept(&mut self.tls, &mut pdu, "STARTTLS");
                Some(pdu)
            }
        }
    }

    fn state_item(&self, len: usize) -> Item {
        Item::text(Field::SmtpState, 0, len, self.state_name())
    }

    pub(super) fn push_pending(&mut self, answered: Answered, pdu: &mut Pdu) {
        let max = self.limits.max_pending;
        if crate::text::push_bounded(&mut self.pending, answered, max, &mut self.pending_overflow) {
            pdu.anomaly(
                Expert::Violation,
                0,
                pdu.bytes.len(),
                format!(
                    "more than {max} commands without a reply: from here the oldest are forgotten \
                     (said once until the replies catch up)"
                ),
            );
        }
    }

    pub(super) fn reset_transaction(&mut self) {
        self.in_transaction = false;
        self.recipients = 0;
    }

    /// One command line: typed by `command::parse`, then applied to the session.
    fn command(&mut self, pdu: &mut Pdu) {
        let mut line = command::parse(strip_eol(&pdu.bytes));
        self.not_commands.line(&line.verb, &mut line.problems, pdu);
        pdu.info = info_line(
            Direction::ToServer,
            &crate::text::lossy(strip_eol(&pdu.bytes)),
        );
        let state = self.state_name();
        crate::text::report(pdu, &line.problems);
        let transaction = self.apply_command(&line, pdu);
        let mut request = tree::request(&line, state, transaction);
        if let Command::Auth { mechanism, initial } = &line.command {
            // The Info column names the mechanism, not the initial response's base64.
            pdu.info = format!("C: AUTH {}", mechanism.value.to_ascii_uppercase());
            request.push(self.start_auth(&line, mechanism, initial.as_ref(), pdu));
        }
        pdu.items.push(request);
        // The state shown is the one the command left.
        let after = self.state_name();
        crate::text::restate(pdu, Field::SmtpState, after);
        let answered = Answered {
            verb: line.verb.clone(),
            frame: pdu.frame,
            path: tree::named_path(&line),
            state_after: after,
            ends_content: false,
        };
        self.push_pending(answered, pdu);
    }

    /// What a command does to the session; the transaction to show with it.
    fn apply_command(&mut self, line: &CommandLine, pdu: &mut Pdu) -> Option<u32> {
        let violation =
            |pdu: &mut Pdu, message: &str| pdu.anomaly(Expert::Violation, 0, line.len, message);
        match &line.command {
            Command::Hello { .. } => self.reset_transaction(),
            Command::Mail { .. } => {
                if self.in_transaction {
                    violation(pdu, "MAIL FROM inside an open transaction");
                }
                self.transaction += 1;
                self.in_transaction = true;
                self.recipients = 0;
                return Some(self.transaction);
            }
            Command::Rcpt { .. } => {
                if !self.in_transaction {
                    violation(pdu, "RCPT TO without a MAIL FROM transaction");
                }
                self.recipients += 1;
                return Some(self.transaction);
            }
            Command::Data => {
                if !self.in_transaction {
                    violation(pdu, "DATA without a MAIL FROM transaction");
                }
                self.client = ClientMode::DataPending;
                self.message = Assembly::default();
                return Some(self.transaction);
            }
            Command::Bdat { size, last, .. } => {
                if !self.in_transaction {
                    violation(pdu, "BDAT without a MAIL FROM transaction");
                }
                let start = self.bufs[0].start;
                self.message.start_chunk(start);
                self.client = ClientMode::Bdat {
                    remaining: size.value,
                    last: *last,
                    size: size.value,
                };
                return Some(self.transaction);
            }
            Command::Rset => self.reset_transaction(),
            Command::Quit => self.quit = true,
            Command::Auth { .. } | Command::StartTls | Command::Other => {}
        }
        None
    }

    /// AUTH: a new exchange, and its initial response if the line carries one.
    fn start_auth(
        &mut self,
        line: &CommandLine,
        mechanism: &command::Spanned<String>,
        initial: Option<&command::Spanned<String>>,
        pdu: &mut Pdu,
    ) -> Item {
        let mut exchange = Exchange::new(&mechanism.value);
        let at = line.argument_offset();
        let mut auth = Item::tree(Field::Auth, at, line.len - at);
        match initial {
            Some(initial) => {
                let step = exchange.step(Side::Initial, &initial.value, initial.offset, pdu.frame);
                sasl::apply_step(pdu, &mut auth, step);
            }
            None => auth.push(Item::text(
                Field::AuthMechanism,
                mechanism.offset,
                mechanism.len,
                exchange.mechanism(),
            )),
        }
        self.auth = Some(Box::new(exchange));
        self.client = ClientMode::Auth;
        auth
    }

    // ----- server side

    fn next_server_pdu(&mut self, frame: u64) -> Option<Pdu> {
        if self.tls.is_tls(Direction::ToClient)
            || !self.bufs[1].resync_after_gap(starts_reply)
            || !self.bufs[1].skip_discarded()
        {
            return None;
        }
        if let Some(pdu) = self.message_ended_in_gap(frame) {
            return Some(pdu);
        }
        let max_line = self.limits.max_line;
        let max_lines = self.limits.max_reply_lines;
        let mut pdu = match reply::frame(&self.bufs[1].data, max_line, max_lines) {
            Framing::Incomplete => return None,
            Framing::EndlessLine => {
                // An endless line: hand it over as one cut line.
                let (offset, raw, _) = self.bufs[1].next_line(max_line)?;
                let mut pdu = Pdu::new(Direction::ToClient, frame, offset, raw);
                let len = pdu.bytes.len();
                pdu.anomaly(
                    Expert::LineTooLong,
                    0,
                    len,
                    format!("reply line longer than {max_line} bytes"),
                );
                pdu
            }
            Framing::Reply { end, cut } => {
                let (offset, raw) = self.bufs[1].take(end);
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
                pdu
            }
        };
        self.reply(&mut pdu);
        Some(pdu)
    }

    /// One reply: typed by `reply::parse`, paired with the command it answers.
    fn reply(&mut self, pdu: &mut Pdu) {
        let reply = reply::parse(&pdu.bytes);
        pdu.info = info_line(Direction::ToClient, &reply.first_text());
        crate::text::report(pdu, &reply.problems);
        let state = self.state_name();
        let Some(code) = reply.code else {
            pdu.items.push(tree::reply(&reply, state, None, false));
            return;
        };
        self.skip_lost_reply(code, pdu);
        // Which command this answers: 334 continues AUTH, 220 before anything
        // is the greeting, and a reply cut in pieces (at an over-long line or
        // the line count) answers with its last piece.
        let answered =
            if code == 334 || reply.continues || (!self.greeted && self.pending.is_empty()) {
                self.pending.front().cloned()
            } else {
                self.pending.pop_front()
            };
        let is_greeting = !self.greeted && answered.is_none();
        let mut tree = tree::reply(&reply, state, answered.as_ref(), is_greeting);
        if is_greeting {
            self.greeted = true;
        }
        let left = answered.as_ref().map(|c| c.state_after);
        // The reply to a message's end (RFC 2920: a client may pipeline the
        // next RSET, MAIL, RCPT and DATA behind the dot) answers no command.
        let verb = answered
            .filter(|c| !c.ends_content)
            .map(|c| c.verb)
            .unwrap_or_default();
        if code == 250 && matches!(verb.as_str(), "EHLO" | "LHLO") && reply.lines.len() > 1 {
            // The server's name and how many extensions it offers.
            let name = reply.lines[0].text.split(' ').next().unwrap_or("");
            let count = reply.lines.len() - 1;
            let plural = if count == 1 { "" } else { "s" };
            pdu.info = format!("S: 250 {name} ({count} extension{plural})");
        }
        if !reply.continues {
            self.apply_reply(&verb, code, &reply, pdu, &mut tree);
        }
        pdu.items.push(tree);
        // The state this reply left: the session's now, unless later
        // pipelined commands already moved it; then the state its own
        // command left.
        let state = match left {
            Some(left) if !self.pending.is_empty() => left,
            _ => self.state_name(),
        };
        crate::text::restate(pdu, Field::SmtpState, state);
    }

    /// What a reply means for the command it answers.
    fn apply_reply(
        &mut self,
        verb: &str,
        code: u16,
        reply: &Reply,
        pdu: &mut Pdu,
        tree: &mut Item,
    ) {
        let success = (200..300).contains(&code);
        let first_len = reply.first_line.len();
        match verb {
            "AUTH" if self.client == ClientMode::Auth || self.auth.is_some() => {
                let text_at = 4.min(first_len);
                if code == 334 {
                    let challenge = crate::text::lossy(&reply.first_line[text_at..]);
                    if let Some(exchange) = self.auth.as_mut() {
                        let mut auth = Item::tree(Field::Auth, text_at, first_len - text_at);
                        let step = exchange.step(Side::Server, &challenge, text_at, pdu.frame);
                        pdu.info = sasl::challenge_info("334", exchange.mechanism(), &step);
                        // A server message never completes the client's credential.
                        let step = sasl::StepOutput {
                            credential: None,
                            ..step
                        };
                        sasl::apply_step(pdu, &mut auth, step);
                        tree.push(auth);
                    }
                } else if let Some(mut exchange) = self.auth.take() {
                    let step = exchange.outcome(success, 0, first_len);
                    let mut auth = Item::tree(Field::Auth, 0, first_len);
                    sasl::apply_step(
                        pdu,
                        &mut auth,
                        sasl::StepOutput {
                            credential: None,
                            ..step
                        },
                    );
                    tree.push(auth);
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
                tree.push(Item::tree(Field::SmtpTls, 0, reply.len));
                pdu.anomaly(
                    Expert::Tls,
                    0,
                    reply.len,
                    "STARTTLS accepted: the session continues in TLS",
                );
                pdu.starts_tls = true;
                self.tls.accept();
            }
            _ => {}
        }
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
#[path = "session_tests.rs"]
mod tests;
