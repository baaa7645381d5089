//! POP3 responses: where a status line and its multi-line block end in the
//! server's byte stream, and what they say. Pure: a response can only be
//! framed knowing the command it answers, so the session says whether a
//! block follows and whether it is message content.

use crate::fields::Expert;
use crate::output::item::display_text;
use crate::text::{find_end_of_data, lossy, strip_eol};
use crate::text::{Problem, Spanned};

/// The status indicator of a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Indicator {
    Ok,
    Err,
    /// `+ ` inside an AUTH exchange: a SASL challenge.
    Continue,
}

impl Indicator {
    pub fn as_str(self) -> &'static str {
        match self {
            Indicator::Ok => "+OK",
            Indicator::Err => "-ERR",
            Indicator::Continue => "+",
        }
    }
}

/// A status line, typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// The line as sent, without its line ending.
    pub line: Vec<u8>,
    /// `None` when the line starts with no indicator (see `problem`).
    pub indicator: Option<Indicator>,
    /// The text after the indicator and one space.
    pub text_offset: usize,
    pub text: String,
    pub problem: Option<Problem>,
}

impl Status {
    pub fn len(&self) -> usize {
        self.line.len()
    }
    pub fn is_empty(&self) -> bool {
        self.line.is_empty()
    }
    pub fn positive(&self) -> bool {
        self.indicator == Some(Indicator::Ok)
    }
    /// Whitespace-separated words of the text.
    pub fn words(&self) -> Vec<&str> {
        self.text.split(' ').filter(|w| !w.is_empty()).collect()
    }
}

/// Parses a status line; `in_auth` lets a bare `+` be a SASL challenge.
pub fn parse_status(line: &[u8], in_auth: bool) -> Status {
    let indicator = if line.starts_with(b"+OK") {
        Some(Indicator::Ok)
    } else if line.starts_with(b"-ERR") {
        Some(Indicator::Err)
    } else if line.starts_with(b"+") && in_auth {
        Some(Indicator::Continue)
    } else {
        None
    };
    let problem = indicator.is_none().then(|| Problem {
        expert: Expert::BadReply,
        offset: 0,
        len: line.len(),
        message: format!(
            "response \"{}\" does not start with +OK or -ERR",
            display_text(&line[..line.len().min(60)])
        ),
    });
    let text_offset = indicator.map_or(0, |i| (i.as_str().len() + 1).min(line.len()));
    Status {
        line: line.to_vec(),
        indicator,
        text_offset,
        text: lossy(&line[text_offset..]),
        problem,
    }
}

/// Where a multi-line block ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockEnd {
    /// The block (status line included) is `end` bytes; `terminated` when a
    /// "." line ended it rather than the next status line.
    Found { end: usize, terminated: bool },
    /// Not there yet: scanning may resume at `resume_at`.
    Incomplete { resume_at: usize },
}

/// End of message content (RETR, TOP) whose first line ends at `first_len`:
/// the "." line only, since message lines may look like anything.
pub fn content_end(data: &[u8], scanned: usize, first_len: usize) -> BlockEnd {
    let from = scanned.max(first_len).saturating_sub(4).max(first_len - 1);
    match find_end_of_data(&data[from..]) {
        Some(end) => BlockEnd::Found {
            end: from + end,
            terminated: true,
        },
        None => BlockEnd::Incomplete {
            resume_at: data.len(),
        },
    }
}

/// End of a LIST, UIDL or CAPA block whose lines start at `from`: its "."
/// line, or (crafted or broken servers) the next status line, which ends it
/// unterminated.
pub fn listing_end(data: &[u8], from: usize) -> BlockEnd {
    let mut at = from;
    while let Some(i) = memchr::memchr(b'\n', &data[at..]) {
        let line = &data[at..at + i + 1];
        if strip_eol(line) == b"." {
            return BlockEnd::Found {
                end: at + i + 1,
                terminated: true,
            };
        }
        if line.starts_with(b"+OK") || line.starts_with(b"-ERR") {
            return BlockEnd::Found {
                end: at,
                terminated: false,
            };
        }
        at += i + 1;
    }
    BlockEnd::Incomplete { resume_at: at }
}

/// Length of a block's body, from `body_at`, without its "." line.
pub fn body_end(bytes: &[u8], body_at: usize, terminated: bool) -> usize {
    let terminator = if !terminated {
        0
    } else if bytes.ends_with(b"\r\n.\r\n") || bytes[body_at..] == *b".\r\n" {
        3
    } else {
        2
    };
    bytes.len() - terminator
}

/// What a LIST or UIDL entry names besides the message number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListingValue {
    Size(Spanned<u64>),
    Uid(Spanned<String>),
}

/// One `n size` (LIST) or `n uid` (UIDL) entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListingEntry {
    pub offset: usize,
    pub len: usize,
    pub number: Spanned<u64>,
    pub value: ListingValue,
}

/// Parses an entry whose bytes start at `at`; `None` if it is not "number value".
pub fn listing_entry(verb: &str, entry_bytes: &[u8], at: usize) -> Option<ListingEntry> {
    let text = lossy(entry_bytes);
    let mut words = text.split(' ').filter(|w| !w.is_empty());
    let number = words.next()?;
    let value = words.next()?;
    let n = number.parse::<u64>().ok()?;
    let value_at = at + text.find(value).unwrap_or(0);
    let value = if verb == "LIST" {
        ListingValue::Size(Spanned {
            offset: value_at,
            len: value.len(),
            value: value.parse().ok()?,
        })
    } else {
        ListingValue::Uid(Spanned {
            offset: value_at,
            len: value.len(),
            value: value.to_string(),
        })
    };
    Some(ListingEntry {
        offset: at,
        len: text.len(),
        number: Spanned {
            offset: at + text.find(number).unwrap_or(0),
            len: number.len(),
            value: n,
        },
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_ends_at_its_dot_or_at_the_next_status_line() {
        let data = b"+OK\r\n1 100\r\n.\r\n";
        assert_eq!(
            listing_end(data, 5),
            BlockEnd::Found {
                end: 15,
                terminated: true
            }
        );
        let crafted = b"+OK\r\n1 100\r\n+OK next\r\n";
        assert_eq!(
            listing_end(crafted, 5),
            BlockEnd::Found {
                end: 12,
                terminated: false
            }
        );
        assert_eq!(
            listing_end(b"+OK\r\n1 1", 5),
            BlockEnd::Incomplete { resume_at: 5 }
        );
    }

    #[test]
    fn status_lines_and_entries_are_typed() {
        let status = parse_status(b"+OK 2 320", false);
        assert_eq!(status.words(), ["2", "320"]);
        assert!(parse_status(b"+ abc", false).problem.is_some());
        assert_eq!(
            parse_status(b"+ abc", true).indicator,
            Some(Indicator::Continue)
        );
        let entry = listing_entry("UIDL", b"2 000000026543a2c1", 20).unwrap();
        assert_eq!(entry.number.value, 2);
        assert!(matches!(
            entry.value,
            ListingValue::Uid(Spanned { offset: 22, .. })
        ));
    }
}
