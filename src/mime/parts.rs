//! The walk over mail-parser's part tree: one [`MimePart`] per part in tree
//! order, raw bytes taken by mail-parser's offsets, limits applied.

use mail_parser::{
    Encoding, Header, HeaderName, HeaderValue as ParsedValue, Message, MessageParser, MessagePart,
    MimeHeaders, PartType,
};
use std::borrow::Cow;

use memchr::memmem;

use super::body::{self, TextCharset, TransferEncoding};
use super::headers::{decode_unstructured, format_addresses};
use super::{
    HeaderValue, MimeAnomaly, MimeMessage, MimePart, Options, PartKind, MAX_DEPTH, MAX_PARTS,
    MAX_TEXT_BYTES, MAX_TEXT_LINES,
};
use crate::fields::Expert;

/// Longest header value decoded; longer ones are cut (and flagged).
pub const MAX_HEADER_BYTES: usize = 4096;

/// Decodes `content`; `cut` says the message is not whole (TOP, truncated),
/// so a missing closing boundary is expected rather than an anomaly.
pub fn decode(content: &[u8], options: &Options, cut: bool) -> MimeMessage {
    let mut out = MimeMessage {
        size: content.len() as u64,
        sha256: body::sha256_hex(content),
        ..Default::default()
    };
    if content.is_empty() {
        return out;
    }
    let parser = MessageParser::default();
    // mail-parser is a parser of hostile input too: a panic inside it (a
    // debug assertion fires on some malformed trees) is caught here and
    // reported, never let through to the host.
    let parse = |bytes| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser.parse(bytes)))
            .map_err(|_| ())
    };
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
        options,
        cut,
        parts: Vec::new(),
        anomalies: Vec::new(),
        skipped: 0,
        too_deep: false,
    };
    if let Some(root) = message.parts.first() {
        let mut header = |name: HeaderName<'static>| {
            root.headers
                .iter()
                .find(|h| h.name == name)
                .map(|h| header_value(h, raw, spans, &mut out.anomalies, options))
        };
        out.subject = header(HeaderName::Subject);
        out.from = header(HeaderName::From);
        out.to = header(HeaderName::To);
        out.cc = header(HeaderName::Cc);
        out.date = header(HeaderName::Date);
        out.message_id = header(HeaderName::MessageId);
    }
    walker.walk(&message, raw, 0, "0".to_string(), 0, spans);
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

/// One header's value as shown, with its span.
fn header_value(
    header: &Header<'_>,
    raw: &[u8],
    spans: bool,
    anomalies: &mut Vec<MimeAnomaly>,
    options: &Options,
) -> HeaderValue {
    let start = header.offset_start as usize;
    let end = (header.offset_end as usize).min(raw.len()).max(start);
    let mut value_bytes = raw.get(start..end).unwrap_or_default();
    if value_bytes.len() > MAX_HEADER_BYTES {
        anomalies.push(MimeAnomaly {
            expert: Expert::MimeLimit,
            message: format!(
                "{} header of {} bytes: the first {MAX_HEADER_BYTES} are decoded",
                header.name.as_str(),
                value_bytes.len()
            ),
        });
        value_bytes = &value_bytes[..MAX_HEADER_BYTES];
    }
    let mut unknown = Vec::new();
    let value = match (&header.name, &header.value) {
        (HeaderName::From | HeaderName::To | HeaderName::Cc, ParsedValue::Address(address))
            if value_bytes.len() == end - start =>
        {
            format_addresses(address)
        }
        (HeaderName::MessageId, ParsedValue::Text(id)) => id.to_string(),
        _ => {
            let text = decode_unstructured(
                value_bytes,
                &mut unknown,
                options.default_charset.as_deref(),
            );
            match header.name {
                HeaderName::MessageId => text
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string(),
                _ => text,
            }
        }
    };
    if options.default_charset.is_none() && std::str::from_utf8(value_bytes).is_err() {
        anomalies.push(MimeAnomaly {
            expert: Expert::MimeCharset,
            message: format!(
                "{} header: raw 8-bit text that is not UTF-8 (set a default charset)",
                header.name.as_str()
            ),
        });
    }
    for charset in unknown {
        anomalies.push(MimeAnomaly {
            expert: Expert::MimeCharset,
            message: format!(
                "{} header: unknown charset {charset}, shown as UTF-8",
                header.name.as_str()
            ),
        });
    }
    let field_start = header.offset_field as usize;
    let field_end = end - trailing_line_break(&raw[..end]);
    let (offset, len) = if spans && field_start <= field_end {
        (field_start, field_end - field_start)
    } else {
        (0, 0)
    };
    HeaderValue { value, offset, len }
}

fn trailing_line_break(bytes: &[u8]) -> usize {
    if bytes.ends_with(b"\r\n") {
        2
    } else if bytes.ends_with(b"\n") {
        1
    } else {
        0
    }
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
    options: &'o Options,
    cut: bool,
    parts: Vec<MimePart>,
    anomalies: Vec<MimeAnomaly>,
    skipped: usize,
    too_deep: bool,
}

impl Walker<'_> {
    fn anomaly(&mut self, expert: Expert, message: String) {
        self.anomalies.push(MimeAnomaly { expert, message });
    }

    /// Part `id` of `message` (whose offsets point into `raw`) and its subtree.
    fn walk(
        &mut self,
        message: &Message<'_>,
        raw: &[u8],
        id: usize,
        path: String,
        depth: usize,
        spans: bool,
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
            sha256: None,
            text: Vec::new(),
            text_cut: false,
            span: None,
            body: None,
        };
        let start = (part.offset_header as usize).min(raw.len());
        let end = (part.offset_end as usize).clamp(start, raw.len());
        let body_start = (part.offset_body as usize).clamp(start, end);
        if spans {
            described.span = Some((start, end - start));
        }
        let raw_body = &raw[body_start..end];
        match &part.body {
            PartType::Multipart(children) => {
                described.kind = PartKind::Multipart;
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
                        spans,
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
                self.describe_body(&mut described, bytes);
                self.parts.push(described);
                self.walk(
                    inner,
                    inner_raw,
                    0,
                    format!("{path}.1"),
                    depth + 1,
                    spans && in_place,
                );
            }
            PartType::Binary(_)
            | PartType::InlineBinary(_)
            | PartType::Text(_)
            | PartType::Html(_) => {
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
        let (sha256, md5) = body::digests(decoded);
        part.size = Some(decoded.len() as u64);
        part.sha256 = Some(sha256);
        part.md5 = Some(md5);
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
                format!("part {}: unknown charset {charset}, text shown as UTF-8", part.path),
            ),
            TextCharset::Undeclared => self.anomaly(
                Expert::MimeCharset,
                format!(
                    "part {}: no charset declared and the text is not UTF-8 (set a default charset)",
                    part.path
                ),
            ),
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
