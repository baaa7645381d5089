//! Encoding evasion: a message/rfc822 or multipart/* part that declares
//! base64 or quoted-printable, which RFC 2045 6.4 and RFC 2046 5.2.1 forbid
//! for them (only 7bit, 8bit and binary). Mail clients and mail-parser then
//! disagree on what the part holds, and filters that trust the declared
//! encoding miss what is inside (Suricata's smtp-mime-encap-8649: an
//! attached message "in base64" that is plain text carries `malware.exe`).
//! The part is seen through: decoded if it really is in the declared
//! encoding, read as sent if not, its inner parts described either way,
//! and an expert info says so.

use std::borrow::Cow;

use mail_parser::PartType;

use super::super::body::{self, TransferEncoding};
use super::super::{MimePart, PartKind};
use super::{child_path, parse, Walker};
use crate::fields::Expert;

pub const READ_AS_SENT: &str = "read as sent";
pub const DECODED: &str = "decoded";

/// The forbidden transfer encoding `part` declares, if it declares one.
/// message/global is left out: RFC 6532 allows it any encoding.
pub fn forbidden_encoding(part: &MimePart) -> Option<TransferEncoding> {
    let identity_only = part.content_type.starts_with("multipart/")
        || matches!(
            part.content_type.as_str(),
            "message/rfc822" | "message/partial" | "message/external-body"
        );
    let declared = TransferEncoding::from_header(part.transfer_encoding.as_deref());
    (identity_only && declared != TransferEncoding::Identity).then_some(declared)
}

/// The body of a part to see through, and where it lies.
pub struct Body<'r> {
    pub raw: &'r [u8],
    /// Its offset in the carried message, when it lies there.
    pub base: Option<usize>,
    pub declared: TransferEncoding,
    /// The multipart boundary, for a multipart/* part.
    pub boundary: Option<&'r str>,
}

impl Walker<'_> {
    pub(super) fn evasion(&mut self, part: &MimePart, declared: TransferEncoding, how: &str) {
        let name = match declared {
            TransferEncoding::Base64 => "base64",
            TransferEncoding::QuotedPrintable => "quoted-printable",
            TransferEncoding::Identity => "7bit",
        };
        self.anomaly(
            Expert::MimeEvasion,
            format!(
                "part {}: {} part declares {name}, which RFC 2045 forbids for it: {how}",
                part.path, part.content_type
            ),
        );
    }

    /// Describes `described` and what it holds, seeing through its forbidden
    /// encoding; gives it back (to be described as a leaf) when it cannot be
    /// seen through: no boundary for a multipart, or the copy would pass the
    /// message's budget.
    pub(super) fn see_through(
        &mut self,
        mut described: MimePart,
        body: Body<'_>,
        depth: usize,
    ) -> Option<MimePart> {
        let multipart = described.content_type.starts_with("multipart/");
        if !multipart && described.content_type != "message/rfc822" {
            self.evasion(&described, body.declared, READ_AS_SENT);
            return Some(described);
        }
        let boundary = match (multipart, body.boundary) {
            (true, None) => return Some(described),
            (true, Some(boundary)) => Some(boundary),
            (false, _) => None,
        };
        if body.raw.len() > self.see_through_budget {
            self.anomaly(
                Expert::MimeLimit,
                format!(
                    "part {}: encoding evasion not seen through (nested past the message's see-through budget)",
                    described.path
                ),
            );
            return Some(described);
        }
        self.see_through_budget -= body.raw.len();
        let (bytes, how, base) = match body::transfer_decode(body.raw, body.declared) {
            Some(Cow::Owned(decoded)) if decoded != body.raw => {
                (Cow::Owned(decoded), DECODED, None)
            }
            _ => (Cow::Borrowed(body.raw), READ_AS_SENT, body.base),
        };
        self.evasion(&described, body.declared, how);
        let path = described.path.clone();
        match boundary {
            None => {
                described.kind = PartKind::Message;
                self.describe_body(&mut described, &bytes);
                self.parts.push(described);
                if let Ok(Some(inner)) = parse(&bytes) {
                    self.walk(&inner, &bytes, 0, format!("{path}.1"), depth + 1, base);
                }
            }
            Some(boundary) => {
                described.kind = PartKind::Multipart;
                self.check_boundary(&described, Some(boundary), &bytes);
                self.parts.push(described);
                // The body alone is no message: it is parsed under a header
                // that declares only its type and boundary (spans are not shown).
                let header =
                    format!("Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n");
                let whole = [header.as_bytes(), &bytes].concat();
                let Ok(Some(inner)) = parse(&whole) else {
                    return None;
                };
                if let Some(PartType::Multipart(children)) = inner.parts.first().map(|p| &p.body) {
                    for (n, child) in children.iter().enumerate() {
                        let child_path = child_path(&path, n + 1);
                        self.walk(&inner, &whole, *child as usize, child_path, depth + 1, None);
                    }
                }
            }
        }
        None
    }
}
