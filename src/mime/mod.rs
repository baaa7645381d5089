//! MIME: every message decoded, every part described.
//!
//! [`analyze`] takes a [`MailMessage`] (the RFC 5322 message as carried) and
//! returns a [`MimeMessage`]: the decoded headers, the part tree in tree
//! order with each part's type, charset, transfer encoding, disposition,
//! decoded file name, decoded size and digests, and the anomalies found.
//! mail-parser does the parsing; `headers` corrects its whitespace handling
//! around encoded words, `parts` takes raw bytes by its offsets (and
//! `parts/evasion` sees through transfer encodings on message and multipart
//! parts), and `charset` reads text that names no charset in the one
//! chardetng guesses.
//!
//! Everything is bounded: at most [`MAX_PARTS`] parts are described, the
//! tree is followed [`MAX_DEPTH`] levels deep, text is shown up to
//! [`MAX_TEXT_BYTES`]; past a limit one anomaly says so.

mod body;
mod charset;
pub mod export;
mod gaps;
mod headers;
mod parts;
pub mod tree;

use crate::fields::Expert;
use crate::message::MailMessage;

pub use body::{sha1_hex, sha256_hex};

/// Most parts described per message; the rest are counted.
pub const MAX_PARTS: usize = 1000;
/// Deepest part nesting followed (multipart and message/rfc822 levels).
pub const MAX_DEPTH: usize = 32;
/// Most bytes of decoded text shown per text part.
pub const MAX_TEXT_BYTES: usize = 2048;
/// Most lines of decoded text shown per text part.
pub const MAX_TEXT_LINES: usize = 64;

/// A decoded header value and where its header line is in the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderValue {
    pub value: String,
    /// Span of the whole header field (name to end of value) in the message.
    pub offset: usize,
    pub len: usize,
}

/// What kind of node a part is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartKind {
    /// multipart/*: a container, with no body of its own.
    Multipart,
    /// message/rfc822 (or global): an attached message, whose root follows as `path.1`.
    Message,
    /// Anything else: a body.
    Leaf,
}

/// One MIME part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MimePart {
    /// "0" for the root; children "1", "2"; their children "1.1"; the root
    /// of the message inside message/rfc822 part `p` is "p.1".
    pub path: String,
    pub kind: PartKind,
    /// Lower-case type/subtype (text/plain when the part declares none).
    pub content_type: String,
    pub charset: Option<String>,
    /// The charset a text part's bytes were read in when it declares none,
    /// they are not UTF-8 and no default charset was set: chardetng's guess.
    pub charset_guess: Option<String>,
    /// As declared, lower case (7bit, 8bit, binary, base64, quoted-printable).
    pub transfer_encoding: Option<String>,
    /// inline or attachment, as declared.
    pub disposition: Option<String>,
    /// Content-Disposition filename, else Content-Type name, decoded.
    pub filename: Option<String>,
    /// Decoded size and digests; none for multipart containers.
    pub size: Option<u64>,
    pub md5: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    /// Decoded text of a text part, cut at the text limits.
    pub text: Vec<String>,
    pub text_cut: bool,
    /// Span of the part (headers and body) in the carried message, when the
    /// part lies in it (not inside a base64-encoded attached message).
    pub span: Option<(usize, usize)>,
    /// The decoded body, kept only when asked for (export).
    pub body: Option<Vec<u8>>,
}

/// Something wrong in a message that did not stop its decoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MimeAnomaly {
    pub expert: Expert,
    pub message: String,
}

/// A message, decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MimeMessage {
    pub subject: Option<HeaderValue>,
    pub from: Option<HeaderValue>,
    pub to: Option<HeaderValue>,
    pub cc: Option<HeaderValue>,
    pub date: Option<HeaderValue>,
    /// Without the angle brackets.
    pub message_id: Option<HeaderValue>,
    /// The message as carried: size, SHA-1 and SHA-256.
    pub size: u64,
    pub sha1: String,
    pub sha256: String,
    /// The charset raw 8-bit header text was read in when it is not UTF-8
    /// and no default charset was set: chardetng's guess.
    pub charset_guess: Option<String>,
    /// Only part of the message by design (POP3 TOP).
    pub partial: bool,
    /// Cut: at the size cap, by missing bytes, or by the end of the capture.
    pub truncated: bool,
    pub parts: Vec<MimePart>,
    pub anomalies: Vec<MimeAnomaly>,
    /// Bytes of the message missing from the capture, and the parts they
    /// fell in (see [`crate::message::MessageGap`]).
    pub missing: u64,
    pub damaged: Vec<DamagedPart>,
}

/// A part that bytes missing from the capture fell in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DamagedPart {
    pub path: String,
    pub missing: u64,
}

impl MimeMessage {
    /// Parts that carry a file name or are declared attachments: what users
    /// call attachments.
    pub fn attachments(&self) -> impl Iterator<Item = &MimePart> {
        self.parts.iter().filter(|p| p.is_attachment())
    }
}

impl MimePart {
    /// A part with a file name, or with disposition attachment (never a multipart container).
    pub fn is_attachment(&self) -> bool {
        self.kind != PartKind::Multipart
            && (self.filename.is_some() || self.disposition.as_deref() == Some("attachment"))
    }
}

/// How to decode.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Charset for text and raw 8-bit headers that declare none and are not
    /// UTF-8 (Chinese mail clients often omit it), e.g. `gb18030`.
    pub default_charset: Option<String>,
    /// Keep each part's decoded body (for export).
    pub keep_bodies: bool,
}

/// Decodes the message `pdu` completes, if any, into its `mail.msg` tree
/// and expert infos (what a [`crate::Connection`] does for each PDU unless
/// told not to: a host may do it later, on another thread).
pub fn decode_pdu(pdu: &mut crate::Pdu, options: &Options) {
    let Some(message) = &pdu.message else {
        return;
    };
    let decoded = analyze(message, options);
    pdu.message_items = vec![tree::items(&decoded, message.content.len())];
    for anomaly in &decoded.anomalies {
        pdu.anomaly(anomaly.expert, 0, 0, anomaly.message.clone());
    }
    pdu.mime = Some(Box::new(decoded));
}

/// Decodes `message`.
pub fn analyze(message: &MailMessage, options: &Options) -> MimeMessage {
    let partial = message.source.is_partial();
    let truncated = message.truncated || !message.complete;
    let mut out = parts::decode(&message.content, options, partial || truncated);
    out.partial = partial;
    out.truncated = truncated;
    gaps::place(&mut out, message);
    out
}

#[cfg(test)]
mod tests;
