//! The host-neutral output: PDUs carrying item trees and anomalies.
//!
//! The Wireshark plugin turns an `Item` into a `proto_tree` item and an
//! `Anomaly` into an expert info; the harness renders the same values. Spans
//! (`offset`, `len`) are relative to the PDU's own bytes.

use crate::fields::{Expert, Field};

/// Which way the bytes flowed.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client to server: commands and client SASL responses.
    ToServer = 0,
    /// Server to client: replies, greetings, challenges.
    ToClient = 1,
}

impl Direction {
    pub fn index(self) -> usize {
        self as usize
    }
    /// The prefix Wireshark's mail dissectors put in the Info column.
    pub fn info_prefix(self) -> &'static str {
        match self {
            Direction::ToServer => "C",
            Direction::ToClient => "S",
        }
    }
}

/// A field's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    None,
    Str(String),
    UInt(u64),
    Bool(bool),
}

impl Value {
    /// The string inside, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::None => Ok(()),
            Value::Str(s) => f.write_str(s),
            Value::UInt(n) => write!(f, "{n}"),
            Value::Bool(b) => write!(f, "{}", if *b { "True" } else { "False" }),
        }
    }
}

/// Text with control characters written as `\0` or `\xNN`.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for ch in text.chars() {
        push_escaped(&mut out, ch);
    }
    out
}

/// Appends `ch`, a control character written as `\0` or `\xNN`.
pub(crate) fn push_escaped(out: &mut String, ch: char) {
    match ch {
        '\0' => out.push_str("\\0"),
        c if c.is_control() => {
            use std::fmt::Write as _;
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => out.push(c),
    }
}

/// Wire bytes as text of the same length: valid UTF-8 as it is, each invalid
/// byte as `?`. Offsets into the text are then offsets into the bytes, which
/// is what item spans need.
pub fn same_length_text(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        out.extend(std::iter::repeat_n('?', chunk.invalid().len()));
    }
    out
}

/// Wire bytes as display text: lossy UTF-8 with control characters escaped.
pub fn display_text(bytes: &[u8]) -> String {
    escape_controls(&String::from_utf8_lossy(bytes))
}

/// One field occurrence, with the bytes it covers and its children.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub field: Field,
    pub offset: usize,
    pub len: usize,
    pub value: Value,
    pub children: Vec<Item>,
}

impl Item {
    pub fn new(field: Field, offset: usize, len: usize, value: Value) -> Self {
        Item {
            field,
            offset,
            len,
            value,
            children: Vec::new(),
        }
    }
    /// A text item. Control characters are escaped (`\0`, `\x1b`) so that every
    /// host shows the same characters: the harness prints them as given and
    /// Wireshark would otherwise escape them its own way.
    pub fn text(field: Field, offset: usize, len: usize, value: impl Into<String>) -> Self {
        let value = value.into();
        let value = if value.chars().any(char::is_control) {
            escape_controls(&value)
        } else {
            value
        };
        Item::new(field, offset, len, Value::Str(value))
    }
    pub fn uint(field: Field, offset: usize, len: usize, value: u64) -> Self {
        Item::new(field, offset, len, Value::UInt(value))
    }
    pub fn flag(field: Field, offset: usize, len: usize, value: bool) -> Self {
        Item::new(field, offset, len, Value::Bool(value))
    }
    pub fn tree(field: Field, offset: usize, len: usize) -> Self {
        Item::new(field, offset, len, Value::None)
    }
    pub fn push(&mut self, child: Item) {
        self.children.push(child);
    }

    /// Depth-first walk in tree order, with each item's depth.
    pub fn walk<'a>(&'a self, depth: usize, visit: &mut dyn FnMut(&'a Item, usize)) {
        visit(self, depth);
        for child in &self.children {
            child.walk(depth + 1, visit);
        }
    }
}

/// Something wrong or notable that did not stop parsing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anomaly {
    pub expert: Expert,
    pub offset: usize,
    pub len: usize,
    pub message: String,
}

/// A credential as a user wants it listed: who, how, with what secret.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credential {
    pub mechanism: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub authzid: Option<String>,
    pub token: Option<String>,
    pub domain: Option<String>,
    pub host: Option<String>,
    /// `Some(true)` once the server accepted it, `Some(false)` if it refused.
    pub success: Option<bool>,
    /// Frame in which the secret (or the final client step) was sent.
    pub frame: u64,
}

impl Credential {
    /// The field that carries the secret, for the credentials tap.
    pub fn secret_field(&self) -> Field {
        if self.password.is_some() {
            Field::AuthPassword
        } else if self.token.is_some() {
            Field::AuthToken
        } else {
            Field::AuthResponse
        }
    }
}

/// One protocol data unit: a command, a reply, a SASL step or a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pdu {
    pub direction: Direction,
    /// The frame whose bytes completed this PDU.
    pub frame: u64,
    /// Offset of the PDU's first byte in its direction's byte stream.
    pub stream_offset: u64,
    /// The PDU's bytes as they were on the wire (possibly cut at a cap).
    pub bytes: Vec<u8>,
    /// The Info column text, e.g. `C: AUTH PLAIN (alice)`.
    pub info: String,
    pub items: Vec<Item>,
    pub anomalies: Vec<Anomaly>,
    /// Set on the PDU whose bytes complete a credential.
    pub credential: Option<Credential>,
    /// Set on the PDU that completes a message.
    pub message: Option<crate::message::MailMessage>,
    /// That message decoded (headers, parts, digests).
    pub mime: Option<Box<crate::mime::MimeMessage>>,
    /// The `mail.msg` tree of that message; spans are offsets in `message.content`.
    pub message_items: Vec<Item>,
    /// Set on the reply that ends an exchange: (frame of the credential, accepted).
    pub auth_outcome: Option<(u64, bool)>,
    /// The bytes that follow this PDU in its direction are TLS.
    pub starts_tls: bool,
}

impl Pdu {
    pub fn new(direction: Direction, frame: u64, stream_offset: u64, bytes: Vec<u8>) -> Self {
        Pdu {
            direction,
            frame,
            stream_offset,
            bytes,
            info: String::new(),
            items: Vec::new(),
            anomalies: Vec::new(),
            credential: None,
            message: None,
            mime: None,
            message_items: Vec::new(),
            auth_outcome: None,
            starts_tls: false,
        }
    }

    pub fn anomaly(
        &mut self,
        expert: Expert,
        offset: usize,
        len: usize,
        message: impl Into<String>,
    ) {
        self.anomalies.push(Anomaly {
            expert,
            offset,
            len,
            message: message.into(),
        });
    }

    /// Every item in tree order, with its depth: the PDU's own, then its message's.
    pub fn flatten(&self) -> Vec<(&Item, usize)> {
        let mut out = Self::walk_all(&self.items);
        out.extend(Self::walk_all(&self.message_items));
        out
    }

    /// The items whose spans are offsets in `bytes`.
    pub fn flatten_wire(&self) -> Vec<(&Item, usize)> {
        Self::walk_all(&self.items)
    }

    /// The items whose spans are offsets in the message's content.
    pub fn flatten_message(&self) -> Vec<(&Item, usize)> {
        Self::walk_all(&self.message_items)
    }

    fn walk_all(items: &[Item]) -> Vec<(&Item, usize)> {
        let mut out = Vec::new();
        for item in items {
            item.walk(0, &mut |it, depth| out.push((it, depth)));
        }
        out
    }
}
