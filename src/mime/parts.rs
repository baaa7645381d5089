//! The walk over mail-parser's part tree: one [`MimePart`] per part in tree
//! order, raw bytes taken by mail-parser's offsets, limits applied.

use mail_parser::{
    Encoding, HeaderName, Message, MessageParser, MessagePart, MimeHeaders, PartType,
};
use std::borrow::Cow;

use memchr::memmem;

use super::body::{self, TextCharset, TransferEncoding};
use super::headers::{header_value, raw_charset, RawCharset, MAX_GUESS_BYTES};
use super::{
    MimeAnomaly, MimeMessage, MimePart, Options, PartKind, MAX_DEPTH, MAX_PARTS, MAX_TEXT_BYTES,
    MAX_TEXT_LINES,
};
use crate::fields::Expert;

mod evasion;

/// Bytes the encoding-evasion see-through parses again per message, in
/// all: four times the message's size, and at least this much, so that a
/// small message is seen through down to [`MAX_DEPTH`] and a huge one costs
/// at most four more parses (and holds at most that much decoded at once).
const MIN_SEE_THROUGH_BUDGET: usize = 16 << 20;

/// mail-parser over `bytes`. It is a parser of hostile input too: a panic
/// inside it (a debug assertion fires on some malformed trees) is caught
/// here and reported, never let through to the host.
fn parse(bytes: &[u8]) -> Result<Option<Message<'_>>, ()> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        MessageParser::default().parse(bytes)
    }))
    .map_err(|_| ())
}

/// Decodes `content`; `cut` says the message is not whole (TOP, truncated),
/// so a missing closing boundary is expected rather than an anomaly.
pub fn decode(content: &[u8], options: &Options, cut: bool) -> MimeMessage {
    let mut out = MimeMessage {
        size: content.len() as u64,
        sha1: body::sha1_hex(content),
        sha256: body::sha256_hex(content),
        ..Default::default()
    };
    if content.is_empty() {
        return out;
    }
    let failed = |out: &mut MimeMessage, why: &str| {
        out.anomalies.push(MimeAnomaly {
            expert: Expert::MimeMalformed,
            message: why.to_string(),
        });
    };
    // mail-parser needs a header block; a message that starts with its body
    // is read as one with an empty header block (and its spans are not shown).
    let prefixed: Vec<u8>;
    let (message, raw, spans) = match parse(content) {
        Err(()) => {
            failed(
                &mut out,
                "the MIME parser failed on this message; its parts are not described",
            );
            return out;
        }
        Ok(Some(message)) => (message, content, true),
        Ok(None) => {
            prefixed = [&b"\r\n"[..], content].concat();
            match parse(&prefixed[..]) {
                Ok(Some(message)) => (message, &prefixed[..], false),
                Ok(None) => {
                    failed(&mut out, "the message could not be read as RFC 5322");
                    return out;
                }
                Err(()) => {
                    failed(
                        &mut out,
                        "the MIME parser failed on this message; its parts are not described",
                    );
                    return out;
                }
            }
        }
    };
    let mut walker = Walker {
        see_through_budget: content.len().saturating_mul(4).max(MIN_SEE_THROUGH_BUDGET),
        options,
        cut,
        parts: Vec::new(),
        anomalies: Vec::new(),
        skipped: 0,
        too_deep: false,
        undeclared_text: Vec::new(),
    };
    walker.walk(&message, raw, 0, "0".to_string(), 0, spans.then_some(0));
    if let Some(root) = message.parts.first() {
        // Headers after the parts: the guess for raw 8-bit header text also
        // reads the charset-less text parts (a subject alone is often too
        // short to tell GBK from EUC-JP; the same client wrote both).
        let charset = raw_charset(
            &root.headers,
            raw,
            options.default_charset.as_deref(),
            &walker.undeclared_text,
        );
        if let Some(RawCharset::Guessed(name)) = charset {
            out.charset_guess = Some(name.to_string());
        }
        let mut header = |name: HeaderName<'static>| {
            root.headers
                .iter()
                .find(|h| h.name == name)
                .map(|h| header_value(h, raw, spans, &mut out.anomalies, charset))
        };
        out.subject = header(HeaderName::Subject);
        out.from = header(HeaderName::From);
        out.to = header(HeaderName::To);
        out.cc = header(HeaderName::Cc);
        out.date = header(HeaderName::Date);
        out.message_id = header(HeaderName::MessageId);
    }
    if walker.skipped > 0 {
        walker.anomaly(
            Expert::MimeLimit,
            format!(
                "more than {MAX_PARTS} MIME parts: {} more were not described",
                walker.skipped
            ),
        );
    }
    out.parts = walker.parts;
    out.anomalies.extend(walker.anomalies);
    out
}

/// `parent`'s `n`th child (from 1): "1" under the root, "1.2" under "1".
fn child_path(parent: &str, n: usize) -> String {
    if parent == "0" {
        n.to_string()
    } else {
        format!("{parent}.{n}")
    }
}

struct Walker<'o> {
    /// Bytes the encoding-evasion see-through may still parse again (see
    /// [`MIN_SEE_THROUGH_BUDGET`]).
    see_through_budget: usize,
    options: &'o Options,
    cut: bool,
    parts: Vec<MimePart>,
    anomalies: Vec<MimeAnomaly>,
    skipped: usize,
    too_deep: bool,
    /// The first bytes of text parts read in a guessed charset, for the
    /// header block's guess.
    undeclared_text: Vec<u8>,
}

impl Walker<'_> {
    fn anomaly(&mut self, expert: Expert, message: String) {
        self.anomalies.push(MimeAnomaly { expert, message });
    }

    /// Part `id` of `message` (whose offsets point into `raw`) and its
    /// subtree. `base` is where `raw` starts in the carried message, when it
    /// lies in it (spans are shown), and `None` when `raw` was decoded.
    fn walk(
        &mut self,
        message: &Message<'_>,
        raw: &[u8],
        id: usize,
        path: String,
        depth: usize,
        base: Option<usize>,
    ) {
        let Some(part) = message.parts.get(id) else {
            return;
        };
        if self.parts.len() >= MAX_PARTS {
            self.skipped += 1;
            return;
        }
        if depth > MAX_DEPTH {
            if !self.too_deep {
                self.too_deep = true;
                self.anomaly(
                    Expert::MimeLimit,
                    format!("MIME parts nested deeper than {MAX_DEPTH} levels are not described (from part {path})"),
                );
            }
            return;
        }
        let content_type = part.content_type();
        let mut described = MimePart {
            path: path.clone(),
            kind: PartKind::Leaf,
            content_type: content_type.map_or_else(
                || "text/plain".to_string(),
                |ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
                    None => ct.ctype().to_ascii_lowercase(),
                },
            ),
            charset: content_type
                .and_then(|ct| ct.attribute("charset"))
                .map(str::to_string),
            charset_guess: None,
            transfer_encoding: part
                .content_transfer_encoding()
                .map(|e| e.trim().to_ascii_lowercase()),
            disposition: part
                .content_disposition()
                .map(|d| d.ctype().to_ascii_lowercase()),
            filename: part
                .content_disposition()
                .and_then(|d| d.attribute("filename"))
                .or_else(|| content_type.and_then(|ct| ct.attribute("name")))
                .map(str::to_string),
            size: None,
            md5: None,
            sha1: None,
            sha256: None,
            text: Vec::new(),
            text_cut: false,
            span: None,
            body: None,
        };
        let start = (part.offset_header as usize).min(raw.len());
        let end = (part.offset_end as usize).clamp(start, raw.len());
        let body_start = (part.offset_body as usize).clamp(start, end);
        if let Some(base) = base {
            described.span = Some((base + start, end - start));
        }
        let raw_body = &raw[body_start..end];
        let evasion = evasion::forbidden_encoding(&described);
        match &part.body {
            PartType::Multipart(children) => {
                described.kind = PartKind::Multipart;
                if let Some(declared) = evasion {
                    self.evasion(&described, declared, evasion::READ_AS_SENT);
                }
                self.check_boundary(
                    &described,
                    content_type.and_then(|ct| ct.attribute("boundary")),
                    raw_body,
                );
                self.parts.push(described);
                for (n, child) in children.iter().enumerate() {
                    self.walk(
                        message,
                        raw,
                        *child as usize,
                        child_path(&path, n + 1),
                        depth + 1,
                        base,
                    );
                }
            }
            PartType::Message(inner) => {
                described.kind = PartKind::Message;
                // An attached message sent as is lies in the outer bytes; one
                // sent base64-encoded was parsed from its decoded bytes.
                let in_place = std::ptr::eq(inner.raw_message.as_ptr(), raw.as_ptr());
                let inner_raw: &[u8] = if in_place { raw } else { &inner.raw_message };
                let bytes = if in_place { raw_body } else { inner_raw };
                if let Some(declared) = evasion {
                    let how = if in_place {
                        evasion::READ_AS_SENT
                    } else {
                        evasion::DECODED
                    };
                    self.evasion(&described, declared, how);
                }
                self.describe_body(&mut described, bytes);
                self.parts.push(described);
                self.walk(
                    inner,
                    inner_raw,
                    0,
                    format!("{path}.1"),
                    depth + 1,
                    base.filter(|_| in_place),
                );
            }
            PartType::Binary(_)
            | PartType::InlineBinary(_)
            | PartType::Text(_)
            | PartType::Html(_) => {
                let boundary = content_type.and_then(|ct| ct.attribute("boundary"));
                let body_base = base.map(|b| b + body_start);
                let described = match evasion {
                    Some(declared) => {
                        let body = evasion::Body {
                            raw: raw_body,
                            base: body_base,
                            declared,
                            boundary,
                        };
                        match self.see_through(described, body, depth) {
                            Some(leaf) => leaf,
                            None => return,
                        }
                    }
                    None => described,
                };
                let mut described = described;
                let decoded = self.leaf_bytes(&described, part, raw_body);
                self.describe_body(&mut described, &decoded);
                if described.content_type.starts_with("text/")
                    || described.content_type.starts_with("multipart/")
                {
                    self.describe_text(&mut described, &decoded);
                }
                if described.content_type.starts_with("multipart/") && !self.cut {
                    self.anomaly(
                        Expert::MimeBoundary,
                        format!(
                            "part {}: {} with no part delimited by its boundary",
                            described.path, described.content_type
                        ),
                    );
                }
                self.parts.push(described);
            }
        }
    }

    /// A leaf's transfer-decoded bytes. mail-parser gives them for binary
    /// parts; text parts it hands over charset-converted, so their raw bytes
    /// are decoded again here. A body mail-parser could not decode (it then
    /// keeps it as sent) is decoded once more on its own, which succeeds for
    /// a body cut short by the end of the message; if that fails too, the
    /// part is malformed and kept as sent.
    fn leaf_bytes<'p>(
        &mut self,
        described: &MimePart,
        part: &'p MessagePart<'_>,
        raw_body: &'p [u8],
    ) -> Cow<'p, [u8]> {
        if let (PartType::Binary(bytes) | PartType::InlineBinary(bytes), false) =
            (&part.body, part.is_encoding_problem)
        {
            return Cow::Borrowed(bytes);
        }
        let applied = match part.encoding {
            Encoding::Base64 => TransferEncoding::Base64,
            Encoding::QuotedPrintable => TransferEncoding::QuotedPrintable,
            Encoding::None => TransferEncoding::Identity,
        };
        let declared = TransferEncoding::from_header(described.transfer_encoding.as_deref());
        if part.is_encoding_problem && applied == TransferEncoding::Identity && declared != applied
        {
            if let Some(decoded) = body::transfer_decode(raw_body, declared) {
                return decoded;
            }
            let name = described.transfer_encoding.as_deref().unwrap_or_default();
            self.anomaly(
                Expert::MimeEncoding,
                format!(
                    "part {}: malformed {name} body, kept as sent",
                    described.path
                ),
            );
            return Cow::Borrowed(raw_body);
        }
        body::transfer_decode(raw_body, applied).unwrap_or(Cow::Borrowed(raw_body))
    }

    fn describe_body(&self, part: &mut MimePart, decoded: &[u8]) {
        let digests = body::digests(decoded);
        part.size = Some(decoded.len() as u64);
        part.md5 = Some(digests.md5);
        part.sha1 = Some(digests.sha1);
        part.sha256 = Some(digests.sha256);
        if self.options.keep_bodies {
            part.body = Some(decoded.to_vec());
        }
    }

    fn describe_text(&mut self, part: &mut MimePart, decoded: &[u8]) {
        // Enough bytes for MAX_TEXT_BYTES of text in any charset (up to 4 bytes a character).
        let (text, how) = body::text(
            decoded,
            4 * MAX_TEXT_BYTES,
            part.charset.as_deref(),
            self.options.default_charset.as_deref(),
        );
        match how {
            TextCharset::Decoded => {}
            TextCharset::Unknown(charset) => self.anomaly(
                Expert::MimeCharset,
                format!(
                    "part {}: unknown charset {charset}, text shown as UTF-8",
                    part.path
                ),
            ),
            TextCharset::Guessed(guessed) => {
                let room = MAX_GUESS_BYTES.saturating_sub(self.undeclared_text.len());
                self.undeclared_text
                    .extend_from_slice(&decoded[..decoded.len().min(room)]);
                self.anomaly(
                    Expert::MimeCharsetGuess,
                    format!(
                        "part {}: no charset declared and the text is not UTF-8: read as {guessed} (guessed; set a default charset to choose another)",
                        part.path
                    ),
                );
                part.charset_guess = Some(guessed.to_string());
            }
        }
        (part.text, part.text_cut) = body::text_lines(&text, MAX_TEXT_BYTES, MAX_TEXT_LINES);
    }

    fn check_boundary(&mut self, part: &MimePart, boundary: Option<&str>, body: &[u8]) {
        let Some(boundary) = boundary else { return };
        let close = format!("--{boundary}--");
        if !self.cut && memmem::find(body, close.as_bytes()).is_none() {
            self.anomaly(
                Expert::MimeBoundary,
                format!("part {}: closing boundary {close} missing", part.path),
            );
        }
    }
}
