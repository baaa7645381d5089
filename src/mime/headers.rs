//! Header values as a reader wants them: RFC 2047 encoded words decoded in
//! any charset, the whitespace around them as the RFC says, addresses as
//! `Name <address>`.
//!
//! mail-parser decodes encoded words too, but its unstructured-text parser
//! rebuilds the value from tokens: it collapses runs of whitespace next to
//! an encoded word and puts spaces around punctuation (`(=?..?=)` becomes
//! `( a )`). Unstructured values are therefore decoded here from the raw
//! header bytes, with mail-parser's own encoded-word and charset decoders.

use mail_parser::parsers::MessageStream;
use mail_parser::{Addr, Address, Header, HeaderName, HeaderValue as ParsedValue};

use super::{HeaderValue, MimeAnomaly};
use crate::fields::Expert;

/// Longest header value decoded; longer ones are cut (and flagged).
pub const MAX_HEADER_BYTES: usize = 4096;

/// Most bytes of raw 8-bit header text the charset guess reads.
pub const MAX_GUESS_BYTES: usize = 16 * 1024;

/// The charset raw 8-bit header text (RFC 6532 allows UTF-8 only; older
/// clients send their local charset) is read in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawCharset<'a> {
    /// The default charset the user set.
    Default(&'a str),
    /// chardetng's guess over the header block's non-UTF-8 values.
    Guessed(&'static str),
}

impl<'a> RawCharset<'a> {
    pub fn name(self) -> &'a str {
        match self {
            RawCharset::Default(name) => name,
            RawCharset::Guessed(name) => name,
        }
    }
}

/// The charset for the raw 8-bit text of a header block: `default` when
/// set; else, if some value is not UTF-8, the charset guessed from all such
/// values together (one header alone is often too short to tell) and the
/// message's charset-less text (`undeclared_text`); else none.
pub fn raw_charset<'a>(
    headers: &[Header<'_>],
    raw: &[u8],
    default: Option<&'a str>,
    undeclared_text: &[u8],
) -> Option<RawCharset<'a>> {
    if let Some(name) = default {
        return Some(RawCharset::Default(name));
    }
    let mut legacy = Vec::new();
    for header in headers {
        let start = (header.offset_start as usize).min(raw.len());
        let end = (header.offset_end as usize).clamp(start, raw.len());
        let value = &raw[start..end.min(start + MAX_HEADER_BYTES)];
        if std::str::from_utf8(value).is_err() && legacy.len() < MAX_GUESS_BYTES {
            legacy.extend_from_slice(value);
            legacy.push(b' ');
        }
    }
    if legacy.is_empty() {
        return None;
    }
    legacy.extend_from_slice(undeclared_text);
    Some(RawCharset::Guessed(super::charset::guess(&legacy).name()))
}

/// A header value decoded from `raw` (the bytes after the colon, folded
/// lines and all), and the charsets its encoded words named that mailscope
/// cannot decode.
/// Raw 8-bit bytes that are not UTF-8 are read in `raw_charset` when one is
/// given (the default charset, else the one guessed for the header block).
pub fn decode_unstructured(
    raw: &[u8],
    unknown_charsets: &mut Vec<String>,
    raw_charset: Option<&str>,
) -> String {
    let unfolded = unfold(raw);
    let mut out = String::with_capacity(unfolded.len());
    let mut plain_start = 0;
    let mut last_word_end = None;
    let mut i = 0;
    while i < unfolded.len() {
        let word = (unfolded[i] == b'=' && unfolded.get(i + 1) == Some(&b'?'))
            .then(|| encoded_word(&unfolded[i..]))
            .flatten();
        let Some((text, used, unknown)) = word else {
            i += 1;
            continue;
        };
        let between = &unfolded[plain_start..i];
        // Only whitespace between two encoded words is dropped (RFC 2047 6.2).
        let joined =
            last_word_end == Some(plain_start) && between.iter().all(|b| *b == b' ' || *b == b'\t');
        if !joined {
            push_raw(&mut out, between, raw_charset);
        }
        if let Some(charset) = unknown {
            if !unknown_charsets.contains(&charset) {
                unknown_charsets.push(charset);
            }
        }
        out.push_str(&text);
        i += used;
        plain_start = i;
        last_word_end = Some(i);
    }
    push_raw(&mut out, &unfolded[plain_start..], raw_charset);
    out.trim().to_string()
}

/// One encoded word at the start of `bytes`: its text, the bytes it used,
/// and its charset if mailscope has no decoder for it.
fn encoded_word(bytes: &[u8]) -> Option<(String, usize, Option<String>)> {
    let mut stream = MessageStream::new(&bytes[1..]);
    let text = stream.decode_rfc2047()?;
    let used = 1 + stream.offset();
    let charset_end = bytes[2..].iter().position(|b| *b == b'?')? + 2;
    let charset = &bytes[2..charset_end];
    // RFC 2231 language suffix: `UTF-8*en`.
    let charset = charset.split(|b| *b == b'*').next().unwrap_or(charset);
    let unknown = std::str::from_utf8(charset)
        .map_or(true, |name| super::body::decoder(name).is_none())
        .then(|| String::from_utf8_lossy(charset).into_owned());
    Some((text, used, unknown))
}

/// RFC 5322 unfolding: a line break followed by whitespace is removed.
fn unfold(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'\r' if raw.get(i + 1) == Some(&b'\n') => i += 2,
            b'\n' => i += 1,
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Raw header bytes: UTF-8 as it is (RFC 6532); anything else in the
/// given charset (the default or the guessed one), or byte by byte with
/// the replacement character.
fn push_raw(out: &mut String, bytes: &[u8], charset: Option<&str>) {
    match std::str::from_utf8(bytes) {
        Ok(text) => out.push_str(text),
        Err(_) => match charset.and_then(|name| super::charset::decode(bytes, name)) {
            Some(text) => out.push_str(&text),
            None => out.push_str(&String::from_utf8_lossy(bytes)),
        },
    }
}

/// One header's value as shown, with its span.
pub fn header_value(
    header: &Header<'_>,
    raw: &[u8],
    spans: bool,
    anomalies: &mut Vec<MimeAnomaly>,
    charset: Option<RawCharset>,
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
            let text =
                decode_unstructured(value_bytes, &mut unknown, charset.map(RawCharset::name));
            match header.name {
                HeaderName::MessageId => text
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string(),
                _ => text,
            }
        }
    };
    if let (Some(RawCharset::Guessed(guessed)), Err(_)) =
        (charset, std::str::from_utf8(value_bytes))
    {
        anomalies.push(MimeAnomaly {
            expert: Expert::MimeCharsetGuess,
            message: format!(
                "{} header: raw 8-bit text in no declared charset, read as {guessed} (guessed; set a default charset to choose another)",
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

/// `Name <address>`, or the address alone, for each address; groups are listed member by member.
pub fn format_addresses(address: &Address<'_>) -> String {
    let one = |a: &Addr<'_>| match (a.name(), a.address()) {
        (Some(name), Some(address)) => format!("{name} <{address}>"),
        (None, Some(address)) => address.to_string(),
        (Some(name), None) => name.to_string(),
        (None, None) => String::new(),
    };
    let list: Vec<String> = match address {
        Address::List(list) => list.iter().map(one).collect(),
        Address::Group(groups) => groups
            .iter()
            .flat_map(|g| {
                let members: Vec<String> = g.addresses.iter().map(one).collect();
                match &g.name {
                    Some(name) => vec![format!("{name}: {};", members.join(", "))],
                    None => members,
                }
            })
            .collect(),
    };
    list.into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(raw: &str) -> String {
        decode_unstructured(raw.as_bytes(), &mut Vec::new(), None)
    }

    #[test]
    fn whitespace_next_to_encoded_words_is_kept_as_sent() {
        assert_eq!(decode(" =?UTF-8?Q?a?=   b\r\n"), "a   b");
        assert_eq!(decode(" x   =?UTF-8?Q?a?=\r\n"), "x   a");
        assert_eq!(decode(" (=?UTF-8?Q?a?=) x\r\n"), "(a) x");
        assert_eq!(decode(" =?utf-8?q?a?=, b\r\n"), "a, b");
    }

    #[test]
    fn adjacent_encoded_words_are_joined_across_folds() {
        assert_eq!(decode(" =?UTF-8?Q?a?= \r\n =?UTF-8?Q?b?=  c\r\n"), "ab  c");
        assert_eq!(decode(" =?UTF-8?B?w6k=?=\t=?UTF-8?Q?_x?=\r\n"), "é x");
    }

    #[test]
    fn legacy_charsets_decode_to_utf8() {
        assert_eq!(decode(" =?GB2312?B?xOO6ww==?=\r\n"), "你好");
        assert_eq!(decode(" =?big5?B?pKSk5Q==?=\r\n"), "中文");
        assert_eq!(decode(" =?KOI8-R?B?8NLJ18XU?=\r\n"), "Привет");
        assert_eq!(decode(" =?ISO-8859-1?Q?caf=E9?= ok\r\n"), "café ok");
        assert_eq!(decode(" =?Shift_JIS?B?k/qWe4zq?=\r\n"), "日本語");
    }

    #[test]
    fn raw_utf8_is_kept_and_unknown_charsets_are_reported() {
        assert_eq!(decode(" 你好 raw\r\n"), "你好 raw");
        let mut unknown = Vec::new();
        let text = decode_unstructured(b" =?x-klingon?Q?abc?= d\r\n", &mut unknown, None);
        assert_eq!(text, "abc d");
        assert_eq!(unknown, ["x-klingon"]);
        assert_eq!(decode(" =?UTF-8?Q?broken\r\n"), "=?UTF-8?Q?broken");
        let gb = decode_unstructured(b" \xc4\xe3\xba\xc3\r\n", &mut unknown, Some("gb18030"));
        assert_eq!(gb, "你好");
    }
}
