//! The POP3 session: both directions of one connection, responses paired
//! with pending commands in order (a response can only be framed knowing
//! the command it answers), the RFC 1939 state moved by the server's
//! answers, logins (USER/PASS, APOP, AUTH), and the switch to TLS.

use std::collections::VecDeque;

use crate::fields::{Expert, Field};
use crate::item::{Credential, Direction, Item, Pdu};
use crate::limits::Limits;
use crate::sasl::{self, Exchange, Side};
use crate::text::{
    command_during_sasl, flag_clear_after_accept, info_line, lossy, next_client_line,
    starts_command, strip_eol, StreamBuf, TextEngine, TlsSwitch,
};

use super::command::{self, Command, CommandLine, KNOWN_VERBS};
use super::response::{self, Indicator, Status};
use super::tree::{self, Answered};
use super::USER_PASS;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum State {
    Authorization,
    Transaction,
    Update,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum ClientMode {
    Command,
    /// In a SASL exchange: lines are base64 responses.
    Auth,
}

/// POP3 session state for both directions of one connection.
#[derive(Clone, Debug)]
pub struct Pop3 {
    pub(super) limits: Limits,
    pub(super) client: ClientMode,
    pub(super) tls: TlsSwitch,
    pub(super) bufs: [StreamBuf; 2],
    pub(super) pending: VecDeque<Answered>,
    /// More commands than `max_pending` are unanswered (said once per run).
    pub(super) pending_overflow: bool,
    pub(super) state: State,
    pub(super) greeted: bool,
    /// The greeting's `<...>` timestamp, which APOP digests.
    pub(super) timestamp: Option<String>,
    /// The name sent with USER, for the PASS that follows.
    pub(super) user: Option<String>,
    /// A USER/PASS or APOP login awaiting the server's answer.
    pub(super) login: Option<Box<Credential>>,
    pub(super) auth: Option<Box<Exchange>>,
    /// Client lines that are no command at all, flagged once per run.
    pub(super) not_commands: crate::text::NotCommands,
    /// Dropping an over-long multi-line block up to its terminating dot.
    pub(super) discard_block: bool,
    /// Frame in which the block being received began, for its message.
    pub(super) block_first_frame: Option<u64>,
    /// Bytes the server's direction lost (see `loss`), once some were.
    pub(super) loss: Option<Box<super::loss::Loss>>,
}

impl Default for Pop3 {
    fn default() -> Self {
        Pop3::new(Limits::default())
    }
}

impl Pop3 {
    pub fn new(limits: Limits) -> Self {
        Pop3 {
            limits,
            client: ClientMode::Command,
            tls: TlsSwitch::default(),
            bufs: Default::default(),
            pending: VecDeque::new(),
            pending_overflow: false,
            state: State::Authorization,
            greeted: false,
            timestamp: None,
            user: None,
            login: None,
            auth: None,
            not_commands: Default::default(),
            discard_block: false,
            block_first_frame: None,
            loss: None,
        }
    }

    /// The session inside TLS after STLS: no new greeting comes (RFC 2595 4).
    pub fn after_stls(limits: Limits) -> Self {
        Pop3 {
            greeted: true,
            ..Pop3::new(limits)
        }
    }

    /// An STLS awaits the server's answer: TLS may start after it.
    pub fn awaits_tls_answer(&self) -> bool {
        self.pending.iter().any(|p| p.verb == "STLS")
    }

    /// The RFC 1939 state as users name it, at this moment.
    pub fn state_name(&self) -> &'static str {
        if self.tls.is_tls(Direction::ToServer) {
            return "tls";
        }
        match self.state {
            State::Authorization => "authorization",
            State::Transaction => "transaction",
            State::Update => "update",
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

    fn state_item(&self, len: usize) -> Item {
        Item::text(Field::PopState, 0, len, self.state_name())
    }

    // ----- client side

    fn next_client_pdu(&mut self, frame: u64) -> Option<Pdu> {
        if self.tls.client_paused() {
            return None;
        }
        if !self.bufs[0].resync_after_gap(|d| starts_command(d, KNOWN_VERBS)) {
            return None;
        }
        let mut pdu = next_client_line(&mut self.bufs[0], self.limits.max_line, frame)?;
        if self.client == ClientMode::Auth && !command_during_sasl(&pdu.bytes, KNOWN_VERBS) {
            let state = self.state_item(strip_eol(&pdu.bytes).len());
            sasl::client_line(self.auth.as_deref_mut(), &mut pdu, state);
        } else {
            if self.client == ClientMode::Auth {
                self.client = ClientMode::Command;
                let len = pdu.bytes.len();
                pdu.anomaly(
                    Expert::Violation,
                    0,
                    len,
                    "command sent before the AUTH exchange ended",
                );
            }
            self.command(&mut pdu);
        }
        flag_clear_after_accept(&mut self.tls, &mut pdu, "STLS");
        Some(pdu)
    }

    /// One command line: typed by `command::parse`, then applied to the session.
    fn command(&mut self, pdu: &mut Pdu) {
        let mut line = command::parse(strip_eol(&pdu.bytes));
        self.not_commands.line(&line.verb, &mut line.problems, pdu);
        pdu.info = info_line(Direction::ToServer, &lossy(strip_eol(&pdu.bytes)));
        let mut request = tree::request(&line, self.state_name());
        crate::text::report(pdu, &line.problems);
        if let Some(auth) = self.apply_command(&line, pdu) {
            request.push(auth);
        }
        pdu.items.push(request);
        let answered = Answered {
            verb: line.verb.clone(),
            frame: pdu.frame,
            argument: line.argument_text.clone(),
            multiline: line.multiline,
        };
        let max = self.limits.max_pending;
        // A forgotten command's response will be paired with the next one.
        if crate::text::push_bounded(&mut self.pending, answered, max, &mut self.pending_overflow) {
            pdu.anomaly(
                Expert::Violation,
                0,
                line.len,
                format!(
                    "more than {max} commands without a response: from here the oldest are \
                     forgotten (said once until the responses catch up)"
                ),
            );
        }
    }

    /// What a command does to the session; the `mail.auth` subtree it carries.
    fn apply_command(&mut self, line: &CommandLine, pdu: &mut Pdu) -> Option<Item> {
        let frame = pdu.frame;
        match &line.command {
            Command::User { name } => {
                self.user = Some(name.value.clone());
                Some(tree::user(line, name))
            }
            Command::Pass { password } => {
                if let Some(user) = &self.user {
                    pdu.info.push_str(&format!(" (user: {user})"));
                }
                let credential = Credential {
                    mechanism: USER_PASS.to_string(),
                    username: self.user.clone(),
                    password: Some(password.value.clone()),
                    frame,
                    ..Credential::default()
                };
                pdu.anomaly(
                    Expert::Cleartext,
                    line.argument_offset,
                    line.argument_len(),
                    "USER/PASS credentials in clear text",
                );
                pdu.credential = Some(credential.clone());
                self.login = Some(Box::new(credential));
                Some(tree::pass(line, self.user.as_deref(), password))
            }
            Command::Apop { login } => {
                if let Some((name, _)) = login {
                    pdu.info.push_str(&format!(" (user: {})", name.value));
                    let credential = Credential {
                        mechanism: "APOP".to_string(),
                        username: Some(name.value.clone()),
                        frame,
                        ..Credential::default()
                    };
                    pdu.credential = Some(credential.clone());
                    self.login = Some(Box::new(credential));
                }
                if self.timestamp.is_none() {
                    pdu.anomaly(
                        Expert::Violation,
                        0,
                        line.len,
                        "APOP but the greeting carried no <timestamp>",
                    );
                }
                Some(tree::apop(line, login.as_ref(), self.timestamp.as_deref()))
            }
            Command::Auth { mechanism, initial } => {
                // The Info column names the mechanism, not the initial response's base64.
                pdu.info = format!("C: AUTH {}", mechanism.value.to_ascii_uppercase());
                let mut exchange = Exchange::new(&mechanism.value);
                let mut auth = Item::tree(Field::Auth, line.argument_offset, line.argument_len());
                match initial {
                    Some(initial) => {
                        let step =
                            exchange.step(Side::Initial, &initial.value, initial.offset, frame);
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
                Some(auth)
            }
            Command::Quit if self.state == State::Transaction => {
                self.state = State::Update;
                None
            }
            Command::Numbered { .. } | Command::Quit | Command::Other => None,
        }
    }

    // ----- server side

    /// `block`: the status line's length and whether a dot ended the block.
    pub(super) fn response(&mut self, pdu: &mut Pdu, block: Option<(usize, bool)>) {
        let status_end = block.map(|(n, _)| n).unwrap_or(pdu.bytes.len());
        let status =
            response::parse_status(strip_eol(&pdu.bytes[..status_end]), self.auth.is_some());
        pdu.info = info_line(Direction::ToClient, &lossy(&status.line));
        let total = strip_eol(&pdu.bytes).len();
        let state = self.state_name();
        crate::text::report(pdu, &status.problem);
        self.report_lost_response(pdu);
        match status.indicator {
            None => pdu.items.push(tree::response(&status, total, state, None)),
            Some(Indicator::Continue) => {
                // A SASL challenge: the AUTH command stays pending.
                let mut tree = tree::response(&status, total, state, self.pending.front());
                if let Some(exchange) = self.auth.as_mut() {
                    let at = status.text_offset;
                    let mut auth = Item::tree(Field::Auth, at, status.len() - at);
                    let step = exchange.step(Side::Server, &status.text, at, pdu.frame);
                    pdu.info = sasl::challenge_info("+", exchange.mechanism(), &step);
                    sasl::apply_step(pdu, &mut auth, step);
                    tree.push(auth);
                }
                pdu.items.push(tree);
            }
            Some(_) => self.final_response(pdu, &status, total, state, block),
        }
        // The state shown is the one this response left (PASS +OK: transaction).
        crate::text::restate(pdu, Field::PopState, self.state_name());
    }

    /// A `+OK` or `-ERR`: what it answers and what that changes.
    fn final_response(
        &mut self,
        pdu: &mut Pdu,
        status: &Status,
        total: usize,
        state: &str,
        block: Option<(usize, bool)>,
    ) {
        let answered = if !self.greeted && self.pending.is_empty() {
            None
        } else {
            self.pending.pop_front()
        };
        let mut tree = tree::response(status, total, state, answered.as_ref());
        let Some(command) = answered else {
            if !self.greeted {
                self.greeted = true;
                if status.positive() {
                    if let Some(stamp) = tree::greeting(status, &mut tree) {
                        self.timestamp = Some(stamp);
                    }
                }
            }
            pdu.items.push(tree);
            return;
        };
        self.apply_response(&command, status, pdu, &mut tree);
        if let Some((body_at, terminated)) = block.filter(|_| status.positive()) {
            self.block_items(pdu, &mut tree, &command, body_at, terminated);
        }
        pdu.items.push(tree);
    }

    /// What a response means for the command it answers.
    fn apply_response(
        &mut self,
        command: &Answered,
        status: &Status,
        pdu: &mut Pdu,
        tree: &mut Item,
    ) {
        let positive = status.positive();
        let len = status.len();
        match command.verb.as_str() {
            "STAT" if positive => tree::stat(status, tree),
            "LIST" | "UIDL" if positive && !command.multiline => {
                let text = &status.line[status.text_offset..];
                if let Some(entry) =
                    response::listing_entry(&command.verb, text, status.text_offset)
                {
                    self.remember_listed(&entry);
                    tree.push(tree::listing(&entry));
                }
            }
            "PASS" | "APOP" => self.login_outcome(pdu, tree, positive, len),
            "AUTH" if !command.multiline => {
                if let Some(mut exchange) = self.auth.take() {
                    let step = exchange.outcome(positive, 0, len);
                    let mut auth = Item::tree(Field::Auth, 0, len);
                    sasl::apply_step(pdu, &mut auth, step);
                    tree.push(auth);
                    pdu.auth_outcome = exchange.credential_frame().map(|f| (f, positive));
                    if positive {
                        self.state = State::Transaction;
                    }
                }
                self.client = ClientMode::Command;
            }
            "STLS" if positive => {
                tree.push(Item::tree(Field::PopTls, 0, len));
                pdu.anomaly(
                    Expert::Tls,
                    0,
                    len,
                    "STLS accepted: the session continues in TLS",
                );
                pdu.starts_tls = true;
                self.tls.accept();
            }
            _ => {}
        }
    }

    fn login_outcome(&mut self, pdu: &mut Pdu, tree: &mut Item, success: bool, len: usize) {
        let Some(mut credential) = self.login.take() else {
            return;
        };
        credential.success = Some(success);
        if let Some(user) = &credential.username {
            pdu.info.push_str(&format!(" (user: {user})"));
        }
        tree.push(tree::login_outcome(&credential, success, len));
        pdu.auth_outcome = Some((credential.frame, success));
        if success {
            self.state = State::Transaction;
        } else {
            let who = credential.username.as_deref().unwrap_or("an unnamed user");
            pdu.anomaly(
                Expert::AuthFailed,
                0,
                len,
                format!("{} authentication failed for {who}", credential.mechanism),
            );
        }
    }
}

impl TextEngine for Pop3 {
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
