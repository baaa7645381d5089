//! Part bodies: transfer decoding, digests and the text a reader sees.

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use std::borrow::Cow;

use super::charset;

use md5::{Digest as _, Md5};
use sha1::Sha1;
use sha2::Sha256;

/// The declared Content-Transfer-Encoding, lower case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferEncoding {
    Identity,
    Base64,
    QuotedPrintable,
}

impl TransferEncoding {
    pub fn from_header(value: Option<&str>) -> Self {
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            Some("base64") => TransferEncoding::Base64,
            Some("quoted-printable") => TransferEncoding::QuotedPrintable,
            _ => TransferEncoding::Identity,
        }
    }
}

/// `raw` transfer-decoded; `None` if it is not valid in its encoding.
pub fn transfer_decode(raw: &[u8], encoding: TransferEncoding) -> Option<Cow<'_, [u8]>> {
    match encoding {
        TransferEncoding::Identity => Some(Cow::Borrowed(raw)),
        TransferEncoding::Base64 => base64_decode(raw).map(Cow::Owned),
        TransferEncoding::QuotedPrintable => quoted_printable_decode(raw).map(Cow::Owned),
    }
}

/// The digests threat-intel lookups use (Zeek's files.log gives the same
/// three), lower-case hex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digests {
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
}

/// MD5, SHA-1 and SHA-256 of `bytes`.
pub fn digests(bytes: &[u8]) -> Digests {
    Digests {
        md5: hex(&Md5::digest(bytes)),
        sha1: sha1_hex(bytes),
        sha256: sha256_hex(bytes),
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub fn sha1_hex(bytes: &[u8]) -> String {
    hex(&Sha1::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// How a text part's bytes became text.
#[derive(Debug, PartialEq, Eq)]
pub enum TextCharset {
    /// Decoded by the declared (or default) charset, or valid UTF-8 with none declared.
    Decoded,
    /// The declared charset is one mailscope has no decoder for.
    Unknown(String),
    /// No charset declared, the bytes are not UTF-8 and no (known) default
    /// charset was set: read in the charset chardetng guessed, named here.
    Guessed(&'static str),
}

/// The text of a text part, decoded by `charset` (or, when none is declared
/// and the bytes are not UTF-8, by `default_charset`, else by a guessed
/// one), and how that went. Only the first `max_bytes` bytes are decoded
/// (a character cut at that end becomes a replacement character).
pub fn text(
    bytes: &[u8],
    max_bytes: usize,
    charset: Option<&str>,
    default_charset: Option<&str>,
) -> (String, TextCharset) {
    let bytes = &bytes[..bytes.len().min(max_bytes)];
    match charset {
        Some(name) => match charset::decode(bytes, name) {
            Some(text) => (text, TextCharset::Decoded),
            None => (
                String::from_utf8_lossy(bytes).into_owned(),
                TextCharset::Unknown(name.to_string()),
            ),
        },
        None => match std::str::from_utf8(bytes) {
            Ok(text) => (text.to_string(), TextCharset::Decoded),
            // Cut inside a character by `max_bytes`: still UTF-8.
            Err(e) if e.error_len().is_none() => (
                String::from_utf8_lossy(&bytes[..e.valid_up_to()]).into_owned(),
                TextCharset::Decoded,
            ),
            Err(_) => match default_charset.and_then(|name| charset::decode(bytes, name)) {
                Some(text) => (text, TextCharset::Decoded),
                None => {
                    let (text, guessed) = charset::decode_guessed(bytes);
                    (text, TextCharset::Guessed(guessed))
                }
            },
        },
    }
}

/// A decoder for charset `name`: mail-parser's, or UTF-8 (which mail-parser
/// leaves to the caller) read with replacement characters.
pub fn decoder(name: &str) -> Option<fn(&[u8]) -> String> {
    let name = name.trim().trim_matches('"');
    if ["utf-8", "utf8", "us-ascii", "ascii"]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n))
    {
        return Some(|bytes| String::from_utf8_lossy(bytes).into_owned());
    }
    charset_decoder(name.as_bytes())
}

/// At most `max_bytes` of `text` and at most `max_lines` lines, cut on a
/// character boundary, without the line breaks; and whether anything was cut.
pub fn text_lines(text: &str, max_bytes: usize, max_lines: usize) -> (Vec<String>, bool) {
    let mut lines = Vec::new();
    let mut used = 0;
    for line in text.lines().skip_while(|l| l.trim().is_empty()) {
        if lines.len() == max_lines || used >= max_bytes {
            return (lines, true);
        }
        let room = max_bytes - used;
        if line.len() > room {
            let mut cut = room;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            lines.push(line[..cut].to_string());
            return (lines, true);
        }
        used += line.len();
        lines.push(line.to_string());
    }
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    (lines, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_encodings_decode_and_fail_cleanly() {
        let b64 = transfer_decode(b"AAEC\r\nAw==\r\n", TransferEncoding::Base64);
        assert_eq!(b64.as_deref(), Some(&[0, 1, 2, 3][..]));
        let qp = transfer_decode(b"caf=C3=A9 =\r\nsoft", TransferEncoding::QuotedPrintable);
        assert_eq!(qp.as_deref(), Some("café soft".as_bytes()));
        assert_eq!(transfer_decode(b"!!@@", TransferEncoding::Base64), None);
        assert_eq!(
            TransferEncoding::from_header(Some(" Base64 ")),
            TransferEncoding::Base64
        );
    }

    #[test]
    fn digests_are_the_known_ones() {
        let abc = digests(b"abc");
        assert_eq!(
            abc.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // FIPS 180-1, appendix A.
        assert_eq!(abc.sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(abc.md5, "900150983cd24fb0d6963f7d28e17f72");
    }

    #[test]
    fn legacy_text_is_decoded_by_declared_or_default_charset() {
        let gb = b"\xc4\xe3\xba\xc3";
        assert_eq!(
            text(gb, 100, Some("GB2312"), None),
            ("你好".to_string(), TextCharset::Decoded)
        );
        assert_eq!(
            text(gb, 100, None, Some("gbk")),
            ("你好".to_string(), TextCharset::Decoded)
        );
        // Two characters are too few to tell GBK from EUC-KR; a sentence is not.
        let sentence = "附件是第三季度报表，请查收。";
        let (gbk, _, _) = encoding_rs::GBK.encode(sentence);
        assert_eq!(
            text(&gbk, 100, None, None),
            (sentence.to_string(), TextCharset::Guessed("GBK"))
        );
        let cut = text("你好".as_bytes(), 4, None, None);
        assert_eq!(cut, ("你".to_string(), TextCharset::Decoded));
        assert_eq!(
            text("é".as_bytes(), 100, Some("UTF-8"), None).1,
            TextCharset::Decoded
        );
        assert_eq!(
            text(b"x", 100, Some("x-unknown"), None).1,
            TextCharset::Unknown("x-unknown".to_string())
        );
    }

    #[test]
    fn text_is_cut_on_lines_and_characters() {
        let (lines, cut) = text_lines("ab\r\ncd\r\n\r\n", 100, 10);
        assert_eq!(
            (lines, cut),
            (vec!["ab".to_string(), "cd".to_string()], false)
        );
        let (lines, cut) = text_lines("你好你好", 7, 10);
        assert_eq!((lines, cut), (vec!["你好".to_string()], true));
        assert_eq!(
            text_lines("a\nb\nc", 100, 2),
            (vec!["a".into(), "b".into()], true)
        );
    }
}
