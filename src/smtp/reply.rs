//! SMTP replies: where one ends in the server's byte stream ([`frame`]) and
//! what its lines say ([`parse`]). Pure: which command a reply answers and
//! what it does to the session is the session's business.

use crate::fields::Expert;
use crate::output::item::display_text;
use crate::text::{lossy, strip_eol, Problem};

/// Where the next reply ends in the buffered server bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// A whole reply of `end` bytes; `cut` when it was stopped at the line cap.
    Reply { end: usize, cut: bool },
    /// The first line is longer than the line cap and has no end yet.
    EndlessLine,
    /// More bytes are needed.
    Incomplete,
}

/// Frames one reply: lines up to one whose code is followed by a space (or
/// nothing), at most `max_lines` of them, none longer than `max_line`.
pub fn frame(data: &[u8], max_line: usize, max_lines: usize) -> Framing {
    let mut end = 0;
    let mut lines = 0;
    loop {
        let rest = &data[end..];
        match memchr::memchr(b'\n', rest) {
            Some(i) if i < max_line => {
                let line = strip_eol(&rest[..=i]);
                end += i + 1;
                lines += 1;
                let continues =
                    line.len() >= 4 && line[..3].iter().all(u8::is_ascii_digit) && line[3] == b'-';
                if !continues {
                    return Framing::Reply { end, cut: false };
                }
                if lines >= max_lines {
                    return Framing::Reply { end, cut: true };
                }
            }
            _ if rest.len() > max_line => {
                return if end == 0 {
                    Framing::EndlessLine
                } else {
                    Framing::Reply { end, cut: false }
                };
            }
            _ => return Framing::Incomplete,
        }
    }
}

/// One line of a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyLine {
    /// Where the line starts in the reply, and its length without the line ending.
    pub offset: usize,
    pub len: usize,
    /// The line's three digits, if it starts with them.
    pub code: Option<u16>,
    /// The text after the code and its separator.
    pub text_offset: usize,
    pub text: String,
    /// An RFC 3463 enhanced status code at the start of the text.
    pub status: Option<String>,
}

/// A whole reply, typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The reply's code: the first line's, when it is a well-formed `NNN`, `NNN ` or `NNN-`.
    pub code: Option<u16>,
    pub lines: Vec<ReplyLine>,
    /// The first line as sent, without its line ending.
    pub first_line: Vec<u8>,
    /// The reply's length without its last line ending.
    pub len: usize,
    pub problems: Vec<Problem>,
    /// The last line says more lines follow (`NNN-`): a reply framed in
    /// pieces (cut at a long line or at the line count) is not over yet.
    pub continues: bool,
}

impl Reply {
    pub fn first_text(&self) -> String {
        lossy(&self.first_line)
    }
}

fn three_digits(line: &[u8]) -> Option<u16> {
    if line.len() >= 3 && line[..3].iter().all(u8::is_ascii_digit) {
        std::str::from_utf8(&line[..3]).ok()?.parse().ok()
    } else {
        None
    }
}

/// Parses the bytes of one framed reply.
pub fn parse(bytes: &[u8]) -> Reply {
    let mut lines = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[at..])
            .map(|i| at + i + 1)
            .unwrap_or(bytes.len());
        let line = strip_eol(&bytes[at..end]);
        let text_offset = (at + 4).min(at + line.len());
        let text = lossy(&line[text_offset - at..]);
        lines.push(ReplyLine {
            offset: at,
            len: line.len(),
            code: three_digits(line),
            text_offset,
            status: enhanced_status(&text).map(str::to_string),
            text,
        });
        at = end;
    }
    let first_line = lines
        .first()
        .map(|l| bytes[l.offset..l.offset + l.len].to_vec())
        .unwrap_or_default();
    let well_formed =
        first_line.len() == 3 || first_line.get(3).is_some_and(|b| matches!(b, b' ' | b'-'));
    let code = three_digits(&first_line).filter(|_| well_formed);
    let continues = lines
        .last()
        .is_some_and(|l| l.code.is_some() && bytes.get(l.offset + 3) == Some(&b'-'));
    let mut problems = Vec::new();
    match code {
        None => problems.push(Problem {
            expert: Expert::BadReply,
            offset: 0,
            len: first_line.len(),
            message: format!(
                "reply line \"{}\" does not start with a 3-digit code",
                display_text(&first_line[..first_line.len().min(60)])
            ),
        }),
        Some(code) => {
            for line in &lines {
                match line.code {
                    Some(c) if c != code => problems.push(Problem {
                        expert: Expert::BadReply,
                        offset: line.offset,
                        len: 3,
                        message: format!(
                            "reply line code {c} differs from the reply's code {code}"
                        ),
                    }),
                    Some(_) => {}
                    None => problems.push(Problem {
                        expert: Expert::BadReply,
                        offset: line.offset,
                        len: line.len,
                        message: "reply continuation line without a code".to_string(),
                    }),
                }
            }
        }
    }
    Reply {
        code,
        lines,
        first_line,
        len: strip_eol(bytes).len(),
        problems,
        continues,
    }
}

/// An RFC 3463 enhanced status code (`2.1.0`) at the start of reply text.
fn enhanced_status(text: &str) -> Option<&str> {
    let token = text.split(' ').next()?;
    let mut parts = token.split('.');
    let class = parts.next()?;
    let subject = parts.next()?;
    let detail = parts.next()?;
    let ok = parts.next().is_none()
        && matches!(class, "2" | "4" | "5")
        && (1..=3).contains(&subject.len())
        && (1..=3).contains(&detail.len())
        && subject
            .bytes()
            .chain(detail.bytes())
            .all(|b| b.is_ascii_digit());
    ok.then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_replies_end_at_the_line_without_a_dash() {
        let data = b"250-mx\r\n250-PIPELINING\r\n250 8BITMIME\r\n221 bye\r\n";
        assert_eq!(
            frame(data, 100, 10),
            Framing::Reply {
                end: 38,
                cut: false
            }
        );
        assert_eq!(frame(&data[..20], 100, 10), Framing::Incomplete);
        assert_eq!(frame(data, 100, 2), Framing::Reply { end: 24, cut: true });
        assert_eq!(frame(&[b'2'; 200], 100, 10), Framing::EndlessLine);
    }

    #[test]
    fn lines_carry_codes_texts_and_enhanced_status() {
        let reply = parse(b"550-5.1.1 no such user\r\n551 other\r\n");
        assert_eq!(reply.code, Some(550));
        assert_eq!(reply.lines[0].status.as_deref(), Some("5.1.1"));
        assert_eq!(reply.lines[1].text_offset, 28);
        assert_eq!(
            reply.problems[0].message,
            "reply line code 551 differs from the reply's code 550"
        );
        assert!(parse(b"hello\r\n").code.is_none());
        assert!(!reply.continues);
        // Cut at a long line: the piece ends on a line that says more follow.
        assert!(parse(b"250-mx\r\n250-XLONG AAAA").continues);
    }
}
