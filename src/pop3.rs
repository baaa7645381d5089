//! POP3 (RFC 1939) with CAPA and STLS (RFC 2449, 2595) and AUTH (RFC 5034).
//!
//! [`Pop3`] owns both directions of one connection, like the SMTP engine. A
//! POP3 response can only be framed knowing the command it answers (`LIST`
//! with no argument, `UIDL`, `CAPA`, `RETR` and `TOP` are answered with a
//! dot-terminated block), so responses are paired with pending commands in
//! order, and the RFC 1939 state (authorization, transaction, update) moves
//! with the server's answers.

use std::collections::VecDeque;

use crate::fields::{Expert, Field};
use crate::item::{Credential, Direction, Item, Pdu};
use crate::limits::Limits;
use crate::message::{MailMessage, MessageSource};
use crate::sasl::{self, Exchange, Side};
use crate::text::{
    command_during_sasl, find_end_of_data, gap_pdu, info_line, lossy, strip_eol, unstuff,
    StreamBuf, TextEngine, TlsSwitch,
};

/// Commands of RFC 1939, 2449, 2595, 5034 and 6856, and old common ones.
const KNOWN_VERBS: &[&str] = &[
    "USER", "PASS", "APOP", "AUTH", "CAPA", "STLS", "STAT", "LIST", "RETR", "DELE", "NOOP", "RSET",
    "QUIT", "TOP", "UIDL", "LAST", "XTND", "UTF8", "LANG",
];

/// Mechanism name under which USER/PASS logins are reported.
pub const USER_PASS: &str = "USER/PASS";

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum State {
    Authorization,
    Transaction,
    Update,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum ClientMode {
    Command,
    /// In a SASL exchange: lines are base64 responses.
    Auth,
}

#[derive(Clone, Debug)]
struct PendingCommand {
    verb: String,
    frame: u64,
    argument: String,
    /// A positive answer carries a dot-terminated block.
    multiline: bool,
}

impl PendingCommand {
    /// The generated items that say which command, sent in which frame, a response answers.
    fn answer_items(&self) -> [Item; 2] {
        [
            Item::text(Field::PopResponseCommand, 0, 0, self.verb.clone()),
            Item::uint(Field::PopResponseRequestFrame, 0, 0, self.frame),
        ]
    }
}

/// POP3 session state for both directions of one connection.
#[derive(Clone, Debug)]
pub struct Pop3 {
    limits: Limits,
    client: ClientMode,
    tls: TlsSwitch,
    bufs: [StreamBuf; 2],
    pending: VecDeque<PendingCommand>,
    state: State,
    greeted: bool,
    /// The greeting's `<...>` timestamp, which APOP digests.
    timestamp: Option<String>,
    /// The name sent with USER, for the PASS that follows.
    user: Option<String>,
    /// A USER/PASS or APOP login awaiting the server's answer.
    login: Option<Credential>,
    auth: Option<Exchange>,
    /// Dropping an over-long multi-line block up to its terminating dot.
    discard_block: bool,
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
            state: State::Authorization,
            greeted: false,
            timestamp: None,
            user: None,
            login: None,
            auth: None,
            discard_block: false,
        }
    }

    /// The session inside TLS after STLS: no new greeting comes (RFC 2595 4).
    pub fn after_stls(limits: Limits) -> Self {
        Pop3 {
            greeted: true,
            ..Pop3::new(limits)
        }
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

    /// Appends bytes in stream order; returns the PDUs they complete and whether they were TLS.
    pub fn feed(&mut self, direction: Direction, data: &[u8], frame: u64) -> (Vec<Pdu>, bool) {
        crate::text::feed(self, direction, data, frame)
    }

    /// Bytes the capture lost: framing resumes at the next line.
    pub fn gap(&mut self, direction: Direction, missing: u64, frame: u64) -> Vec<Pdu> {
        let buf = &mut self.bufs[direction.index()];
        let pdu = gap_pdu(buf, direction, missing, frame);
        buf.discard_line = true;
        if direction == Direction::ToClient && self.pending.front().is_some_and(|p| p.multiline) {
            // The block that was being answered lost its middle: skip to its end.
            self.pending.pop_front();
            self.discard_block = true;
        }
        vec![pdu]
    }

    /// End of capture: a multi-line response still open (RETR or TOP without
    /// its final dot, a listing) is emitted as far as it goes, marked truncated.
    pub fn finish(&mut self, frame: u64) -> Vec<Pdu> {
        let buf = &mut self.bufs[1];
        let open_block = self.pending.front().is_some_and(|p| p.multiline)
            && buf.data.starts_with(b"+OK")
            && !self.discard_block
            && !buf.discard_line;
        let Some(first_len) = memchr::memchr(b'\n', &buf.data).map(|i| i + 1) else {
            return Vec::new();
        };
        if !open_block {
            return Vec::new();
        }
        let len = buf.data.len();
        let (offset, raw) = buf.take(len);
        let mut pdu = Pdu::new(Direction::ToClient, frame, offset, raw);
        self.response(&mut pdu, Some((first_len, false)));
        if let Some(message) = pdu.message.as_mut() {
            message.truncated = true;
        }
        pdu.anomaly(
            Expert::Truncated,
            0,
            0,
            format!(
                "the capture ends inside this response; {} bytes of it were seen",
                len
            ),
        );
        vec![pdu]
    }

    fn state_item(&self, len: usize) -> Item {
        Item::text(Field::PopState, 0, len, self.state_name())
    }

    // ----- client side

    fn next_client_pdu(&mut self, frame: u64) -> Option<Pdu> {
        if self.tls.client_paused() {
            return None;
        }
        let (offset, raw, too_long) = self.bufs[0].next_line(self.limits.max_line)?;
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
        if self.client == ClientMode::Auth && !command_during_sasl(&pdu.bytes, KNOWN_VERBS) {
            let state = self.state_item(strip_eol(&pdu.bytes).len());
            sasl::client_line(self.auth.as_mut(), &mut pdu, state);
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
        if self.tls.take_clear_after_accept() {
            let len = pdu.bytes.len();
            pdu.anomaly(
                Expert::Violation,
                0,
                len,
                "STLS was accepted but the client continued in clear text",
            );
        }
        Some(pdu)
    }

    fn command(&mut self, pdu: &mut Pdu) {
        let line = strip_eol(&pdu.bytes).to_vec();
        let text = lossy(&line);
        let line_len = line.len();
        let verb_len = line.iter().position(|b| *b == b' ').unwrap_or(line_len);
        let verb = lossy(&line[..verb_len]).to_ascii_uppercase();
        let arg_offset = (verb_len + 1).min(line_len);
        let argument = lossy(&line[arg_offset..]);
        let arg_len = line_len - arg_offset;
        pdu.info = info_line(Direction::ToServer, &text);

        let mut request = Item::tree(Field::PopRequest, 0, line_len);
        request.push(self.state_item(line_len));
        request.push(Item::text(Field::PopCommand, 0, verb_len, verb.clone()));
        if arg_offset < line_len {
            request.push(Item::text(
                Field::PopArgument,
                arg_offset,
                arg_len,
                argument.clone(),
            ));
        }
        if !KNOWN_VERBS.contains(&verb.as_str()) {
            let printable =
                !verb.is_empty() && verb.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            pdu.anomaly(
                Expert::UnknownCommand,
                0,
                verb_len,
                if printable {
                    format!("unknown POP3 command \"{verb}\"")
                } else {
                    "client sent a line that is not a POP3 command".to_string()
                },
            );
        }
        let frame = pdu.frame;
        let words: Vec<&str> = argument.split(' ').filter(|w| !w.is_empty()).collect();
        match verb.as_str() {
            "USER" => {
                let mut auth = Item::tree(Field::Auth, arg_offset, arg_len);
                auth.push(Item::text(
                    Field::AuthMechanism,
                    arg_offset,
                    arg_len,
                    USER_PASS,
                ));
                auth.push(Item::text(
                    Field::AuthUsername,
                    arg_offset,
                    arg_len,
                    argument.clone(),
                ));
                request.push(auth);
                self.user = Some(argument.clone());
            }
            "PASS" => {
                let mut auth = Item::tree(Field::Auth, arg_offset, arg_len);
                auth.push(Item::text(
                    Field::AuthMechanism,
                    arg_offset,
                    arg_len,
                    USER_PASS,
                ));
                if let Some(user) = &self.user {
                    auth.push(Item::text(
                        Field::AuthUsername,
                        arg_offset,
                        arg_len,
                        user.clone(),
                    ));
                    pdu.info.push_str(&format!(" (user: {user})"));
                }
                auth.push(Item::text(
                    Field::AuthPassword,
                    arg_offset,
                    arg_len,
                    argument.clone(),
                ));
                request.push(auth);
                let credential = Credential {
                    mechanism: USER_PASS.to_string(),
                    username: self.user.clone(),
                    password: Some(argument.clone()),
                    frame,
                    ..Credential::default()
                };
                pdu.anomaly(
                    Expert::Cleartext,
                    arg_offset,
                    arg_len,
                    "USER/PASS credentials in clear text",
                );
                pdu.credential = Some(credential.clone());
                self.login = Some(credential);
            }
            "APOP" => {
                let mut auth = Item::tree(Field::Auth, arg_offset, arg_len);
                auth.push(Item::text(
                    Field::AuthMechanism,
                    arg_offset,
                    arg_len,
                    "APOP",
                ));
                match words.as_slice() {
                    [name, digest] => {
                        auth.push(Item::text(
                            Field::AuthUsername,
                            arg_offset,
                            name.len(),
                            *name,
                        ));
                        if let Some(timestamp) = &self.timestamp {
                            auth.push(Item::text(Field::AuthChallenge, 0, 0, timestamp.clone()));
                        }
                        let digest_at = arg_offset + argument.rfind(digest).unwrap_or(0);
                        auth.push(Item::text(
                            Field::AuthResponse,
                            digest_at,
                            digest.len(),
                            *digest,
                        ));
                        pdu.info.push_str(&format!(" (user: {name})"));
                        let credential = Credential {
                            mechanism: "APOP".to_string(),
                            username: Some(name.to_string()),
                            frame,
                            ..Credential::default()
                        };
                        pdu.credential = Some(credential.clone());
                        self.login = Some(credential);
                    }
                    _ => pdu.anomaly(
                        Expert::Violation,
                        arg_offset,
                        arg_len,
                        "APOP needs a name and a digest",
                    ),
                }
                if self.timestamp.is_none() {
                    pdu.anomaly(
                        Expert::Violation,
                        0,
                        line_len,
                        "APOP but the greeting carried no <timestamp>",
                    );
                }
                request.push(auth);
            }
            "AUTH" if !words.is_empty() => {
                let mechanism = words[0];
                let mut exchange = Exchange::new(mechanism);
                let mut auth = Item::tree(Field::Auth, arg_offset, arg_len);
                match argument.split_once(' ') {
                    Some((_, initial)) => {
                        let initial_offset = arg_offset + mechanism.len() + 1;
                        let step = exchange.step(Side::Initial, initial, initial_offset, frame);
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
            "RETR" | "DELE" | "LIST" | "UIDL" | "TOP" => {
                let mut at = arg_offset;
                for (index, word) in words.iter().enumerate().take(2) {
                    let word_at = at + argument[at - arg_offset..].find(word).unwrap_or(0);
                    at = word_at + word.len();
                    match (index, word.parse::<u64>()) {
                        (0, Ok(n)) => request.push(Item::uint(
                            Field::PopMessageNumber,
                            word_at,
                            word.len(),
                            n,
                        )),
                        (0, Err(_)) => pdu.anomaly(
                            Expert::Violation,
                            word_at,
                            word.len(),
                            format!("{verb} message number \"{word}\" is not a number"),
                        ),
                        _ => {}
                    }
                }
                if verb == "TOP" && words.len() != 2 {
                    pdu.anomaly(
                        Expert::Violation,
                        0,
                        line_len,
                        "TOP needs a message number and a line count",
                    );
                }
            }
            "QUIT" if self.state == State::Transaction => self.state = State::Update,
            _ => {}
        }
        let multiline = match verb.as_str() {
            "CAPA" | "RETR" | "TOP" => true,
            "LIST" | "UIDL" | "AUTH" => words.is_empty(),
            _ => false,
        };
        pdu.items.push(request);
        if self.pending.len() >= self.limits.max_pending {
            // The forgotten command's response will be paired with the next one.
            self.pending.pop_front();
            pdu.anomaly(
                Expert::Violation,
                0,
                line_len,
                format!(
                    "more than {} commands without a response; the oldest is forgotten",
                    self.limits.max_pending
                ),
            );
        }
        self.pending.push_back(PendingCommand {
            verb,
            frame,
            argument,
            multiline,
        });
    }

    // ----- server side

    fn next_server_pdu(&mut self, frame: u64) -> Option<Pdu> {
        if self.tls.is_tls(Direction::ToClient) {
            return None;
        }
        if self.discard_block && !self.skip_block() {
            return None;
        }
        let max_line = self.limits.max_line;
        let buf = &mut self.bufs[1];
        if !buf.skip_discarded() {
            return None;
        }
        // The status line is found from the start: `scanned` belongs to the block scan.
        let head = &buf.data[..buf.data.len().min(max_line + 1)];
        let Some(first_len) = memchr::memchr(b'\n', head)
            .map(|i| i + 1)
            .filter(|n| *n <= max_line)
        else {
            let (offset, raw, _) = buf.next_line(max_line)?;
            let mut pdu = Pdu::new(Direction::ToClient, frame, offset, raw);
            let len = pdu.bytes.len();
            pdu.anomaly(
                Expert::LineTooLong,
                0,
                len,
                format!("response line longer than {max_line} bytes"),
            );
            self.response(&mut pdu, None);
            return Some(pdu);
        };
        let positive = buf.data.starts_with(b"+OK");
        // A capture may start after the greeting: a pending command decides, not the greeting.
        let block = positive && self.pending.front().is_some_and(|p| p.multiline);
        if !block {
            let (offset, raw) = buf.take(first_len);
            let mut pdu = Pdu::new(Direction::ToClient, frame, offset, raw);
            self.response(&mut pdu, None);
            return Some(pdu);
        }
        let content = matches!(
            self.pending.front().map(|p| p.verb.as_str()),
            Some("RETR" | "TOP")
        );
        let end = if content {
            let from = buf
                .scanned
                .max(first_len)
                .saturating_sub(4)
                .max(first_len - 1);
            let found = find_end_of_data(&buf.data[from..]).map(|e| from + e);
            if found.is_none() {
                buf.scanned = buf.data.len();
            }
            found.map(|e| (e, true))
        } else {
            match block_end_by_lines(&buf.data, buf.scanned.max(first_len)) {
                Ok(end) => Some(end),
                Err(resume_at) => {
                    buf.scanned = resume_at;
                    None
                }
            }
        };
        match end {
            Some((end, terminated)) => {
                let (offset, raw) = buf.take(end);
                let mut pdu = Pdu::new(Direction::ToClient, frame, offset, raw);
                if !terminated {
                    let len = pdu.bytes.len();
                    pdu.anomaly(
                        Expert::BadReply,
                        first_len,
                        len - first_len,
                        "multi-line response not ended by a \".\" line",
                    );
                }
                self.response(&mut pdu, Some((first_len, terminated)));
                Some(pdu)
            }
            None if buf.data.len() > self.limits.max_message => {
                let keep = self.limits.max_message.max(first_len);
                let (offset, raw) = buf.take(keep);
                let mut pdu = Pdu::new(Direction::ToClient, frame, offset, raw);
                pdu.anomaly(
                    Expert::Truncated,
                    0,
                    0,
                    format!("multi-line response over {keep} bytes is not kept"),
                );
                self.response(&mut pdu, Some((first_len, false)));
                self.discard_block = true;
                Some(pdu)
            }
            None => None,
        }
    }

    /// Drops the rest of a block that was cut; true once its terminating dot went by.
    fn skip_block(&mut self) -> bool {
        let buf = &mut self.bufs[1];
        let from = buf.scanned.saturating_sub(4);
        let probe_from = from.saturating_sub(1);
        match find_end_of_data(&buf.data[probe_from..]) {
            Some(end) => {
                buf.take(probe_from + end);
                self.discard_block = false;
                true
            }
            None => {
                // Keep only the last bytes, where a terminator could begin.
                let keep = buf.data.len().min(4);
                let drop = buf.data.len() - keep;
                buf.take(drop);
                buf.scanned = buf.data.len();
                false
            }
        }
    }

    /// `block`: the status line's length and whether a dot ended the block.
    fn response(&mut self, pdu: &mut Pdu, block: Option<(usize, bool)>) {
        let total = pdu.bytes.len();
        let status_end = block.map(|(n, _)| n).unwrap_or(total);
        let first = strip_eol(&pdu.bytes[..status_end]).to_vec();
        let first_text = lossy(&first);
        pdu.info = info_line(Direction::ToClient, &first_text);
        let mut response = Item::tree(Field::PopResponse, 0, strip_eol(&pdu.bytes).len());
        response.push(self.state_item(first.len()));
        let indicator = if first.starts_with(b"+OK") {
            "+OK"
        } else if first.starts_with(b"-ERR") {
            "-ERR"
        } else if first.starts_with(b"+") && self.auth.is_some() {
            "+"
        } else {
            pdu.anomaly(
                Expert::BadReply,
                0,
                first.len(),
                format!(
                    "response \"{}\" does not start with +OK or -ERR",
                    crate::item::display_text(&first[..first.len().min(60)])
                ),
            );
            response.push(Item::text(
                Field::PopResponseText,
                0,
                first.len(),
                first_text.clone(),
            ));
            pdu.items.push(response);
            return;
        };
        let text_at = (indicator.len() + 1).min(first.len());
        let text = lossy(&first[text_at..]);
        let positive = indicator == "+OK";

        if indicator == "+" {
            // A SASL challenge: the AUTH command stays pending.
            if let Some(command) = self.pending.front() {
                response.children.extend(command.answer_items());
            }
            response.push(Item::text(Field::PopResponseIndicator, 0, 1, indicator));
            let frame = pdu.frame;
            if let Some(exchange) = self.auth.as_mut() {
                let mut auth = Item::tree(Field::Auth, text_at, first.len() - text_at);
                let step = exchange.step(Side::Server, &text, text_at, frame);
                sasl::apply_step(pdu, &mut auth, step);
                response.push(auth);
            }
            pdu.items.push(response);
            return;
        }

        let answered = if !self.greeted && self.pending.is_empty() {
            None
        } else {
            self.pending.pop_front()
        };
        if let Some(command) = &answered {
            response.children.extend(command.answer_items());
        }
        response.push(Item::text(
            Field::PopResponseIndicator,
            0,
            indicator.len(),
            indicator,
        ));
        if text_at < first.len() {
            response.push(Item::text(
                Field::PopResponseText,
                text_at,
                first.len() - text_at,
                text.clone(),
            ));
        }
        if answered.is_none() && !self.greeted {
            self.greeted = true;
            if positive {
                response.push(Item::text(
                    Field::PopGreeting,
                    text_at,
                    first.len() - text_at,
                    text.clone(),
                ));
                if let (Some(start), Some(end)) = (text.find('<'), text.rfind('>')) {
                    if start < end {
                        let stamp = &text[start..=end];
                        response.push(Item::text(
                            Field::PopApopTimestamp,
                            text_at + start,
                            stamp.len(),
                            stamp,
                        ));
                        self.timestamp = Some(stamp.to_string());
                    }
                }
            }
            pdu.items.push(response);
            return;
        }
        let Some(command) = answered else {
            pdu.items.push(response);
            return;
        };
        let words: Vec<&str> = text.split(' ').filter(|w| !w.is_empty()).collect();
        match command.verb.as_str() {
            "STAT" if positive => {
                if let [count, size, ..] = words.as_slice() {
                    if let (Ok(c), Ok(s)) = (count.parse::<u64>(), size.parse::<u64>()) {
                        response.push(Item::uint(Field::PopMessageCount, text_at, count.len(), c));
                        let size_at = text_at + text.find(size).unwrap_or(0);
                        response.push(Item::uint(Field::PopMessageSize, size_at, size.len(), s));
                    }
                }
            }
            "LIST" | "UIDL" if positive && !command.multiline => {
                if let Some(entry) = listing_entry(&command.verb, &first[text_at..], text_at) {
                    response.push(entry);
                }
            }
            "USER" => {}
            "PASS" | "APOP" => self.login_outcome(pdu, &mut response, positive, first.len()),
            "AUTH" if !command.multiline => {
                if let Some(mut exchange) = self.auth.take() {
                    let step = exchange.outcome(positive, 0, first.len());
                    let mut auth = Item::tree(Field::Auth, 0, first.len());
                    sasl::apply_step(pdu, &mut auth, step);
                    response.push(auth);
                    pdu.auth_outcome = exchange.credential_frame().map(|f| (f, positive));
                    if positive {
                        self.state = State::Transaction;
                    }
                }
                self.client = ClientMode::Command;
            }
            "STLS" if positive => {
                let len = first.len();
                response.push(Item::tree(Field::PopTls, 0, len));
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
        if let Some((body_at, terminated)) = block.filter(|_| positive) {
            self.block_items(pdu, &mut response, &command, body_at, terminated);
        }
        pdu.items.push(response);
    }

    fn login_outcome(&mut self, pdu: &mut Pdu, response: &mut Item, success: bool, len: usize) {
        let Some(mut credential) = self.login.take() else {
            return;
        };
        credential.success = Some(success);
        let mut auth = Item::tree(Field::Auth, 0, len);
        auth.push(Item::text(
            Field::AuthMechanism,
            0,
            len,
            credential.mechanism.clone(),
        ));
        if let Some(user) = &credential.username {
            auth.push(Item::text(Field::AuthUsername, 0, len, user.clone()));
            pdu.info.push_str(&format!(" (user: {user})"));
        }
        auth.push(Item::text(
            Field::AuthResult,
            0,
            len,
            if success { "success" } else { "failure" },
        ));
        response.push(auth);
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

    /// Items for the block of a multi-line response, which starts at `body_at`.
    fn block_items(
        &mut self,
        pdu: &mut Pdu,
        response: &mut Item,
        command: &PendingCommand,
        body_at: usize,
        terminated: bool,
    ) {
        let total = pdu.bytes.len();
        let terminator = if !terminated {
            0
        } else if pdu.bytes.ends_with(b"\r\n.\r\n") || pdu.bytes[body_at..] == *b".\r\n" {
            3
        } else {
            2
        };
        let body_end = total - terminator;
        let body = pdu.bytes[body_at..body_end].to_vec();
        match command.verb.as_str() {
            "RETR" | "TOP" => {
                let (content, unstuffed) = unstuff(&body);
                let mut data = Item::tree(Field::PopData, body_at, body.len());
                data.push(Item::uint(
                    Field::PopDataSize,
                    body_at,
                    body.len(),
                    content.len() as u64,
                ));
                data.push(Item::uint(
                    Field::PopDataUnstuffedLines,
                    body_at,
                    body.len(),
                    unstuffed,
                ));
                response.push(data);
                pdu.info = format!("{}, message {} bytes", pdu.info, content.len());
                let mut numbers = command
                    .argument
                    .split(' ')
                    .filter(|w| !w.is_empty())
                    .map(|n| n.parse::<u64>().unwrap_or(0));
                let number = numbers.next().unwrap_or(0);
                let source = if command.verb == "TOP" {
                    MessageSource::Pop3Top {
                        number,
                        lines: numbers.next().unwrap_or(0),
                    }
                } else {
                    MessageSource::Pop3Retr { number }
                };
                pdu.message = Some(MailMessage {
                    source,
                    content,
                    first_frame: pdu.frame,
                    last_frame: pdu.frame,
                    stream_start: pdu.stream_offset + body_at as u64,
                    stream_end: pdu.stream_offset + total as u64,
                    complete: terminated,
                    truncated: !terminated,
                });
            }
            verb => {
                let mut at = body_at;
                for line in body.split_inclusive(|b| *b == b'\n') {
                    let text_line = strip_eol(line);
                    match verb {
                        "CAPA" => {
                            let capability = lossy(text_line);
                            response.push(Item::text(
                                Field::PopCapability,
                                at,
                                text_line.len(),
                                capability,
                            ));
                        }
                        // AUTH with no mechanism: the server lists the ones it offers.
                        "AUTH" if !text_line.is_empty() => {
                            let mechanism = lossy(text_line);
                            response.push(Item::text(
                                Field::AuthMechanism,
                                at,
                                text_line.len(),
                                mechanism,
                            ));
                        }
                        "LIST" | "UIDL" => {
                            if let Some(entry) = listing_entry(verb, text_line, at) {
                                response.push(entry);
                            } else if !text_line.is_empty() {
                                pdu.anomaly(
                                    Expert::BadReply,
                                    at,
                                    text_line.len(),
                                    format!("{verb} line is not \"number value\""),
                                );
                            }
                        }
                        _ => {}
                    }
                    at += line.len();
                }
            }
        }
    }
}

/// One `n size` (LIST) or `n uid` (UIDL) entry: its bytes, which start at `at` in the PDU.
fn listing_entry(verb: &str, entry_bytes: &[u8], at: usize) -> Option<Item> {
    let text = lossy(entry_bytes);
    let mut words = text.split(' ').filter(|w| !w.is_empty());
    let number = words.next()?;
    let value = words.next()?;
    let n = number.parse::<u64>().ok()?;
    let value_at = at + text.find(value).unwrap_or(0);
    let mut entry = Item::tree(Field::PopListing, at, text.len());
    entry.push(Item::uint(
        Field::PopMessageNumber,
        at + text.find(number).unwrap_or(0),
        number.len(),
        n,
    ));
    if verb == "LIST" {
        entry.push(Item::uint(
            Field::PopMessageSize,
            value_at,
            value.len(),
            value.parse::<u64>().ok()?,
        ));
    } else {
        entry.push(Item::text(
            Field::PopMessageUid,
            value_at,
            value.len(),
            value,
        ));
    }
    Some(entry)
}

/// End of a LIST, UIDL or CAPA block whose lines start at `from`: its "."
/// line, or (crafted or broken servers) the next status line, which ends it
/// unterminated. Not there yet: where the last incomplete line starts.
fn block_end_by_lines(data: &[u8], from: usize) -> Result<(usize, bool), usize> {
    let mut at = from;
    while let Some(i) = memchr::memchr(b'\n', &data[at..]) {
        let line = &data[at..at + i + 1];
        if strip_eol(line) == b"." {
            return Ok((at + i + 1, true));
        }
        if line.starts_with(b"+OK") || line.starts_with(b"-ERR") {
            return Ok((at, false));
        }
        at += i + 1;
    }
    Err(at)
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
mod tests {
    use super::*;
    use Direction::{ToClient as S, ToServer as C};

    use crate::text::testing::values;

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
    fn commands_past_the_pending_limit_raise_an_expert_info() {
        let mut pop3 = Pop3::new(Limits::new(64, 10, 1000, 2).unwrap());
        let (pdus, _) = pop3.feed(C, b"NOOP\r\nNOOP\r\nSTAT\r\n", 1);
        let forgotten: Vec<_> = pdus
            .iter()
            .flat_map(|p| &p.anomalies)
            .filter(|a| a.message.contains("the oldest is forgotten"))
            .collect();
        assert_eq!(forgotten.len(), 1);
        assert_eq!(
            forgotten[0].message,
            "more than 2 commands without a response; the oldest is forgotten"
        );
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
}
