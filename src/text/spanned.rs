//! What the line parsers of both protocols return besides their typed
//! values: spans, and the problems a line alone shows.

use crate::fields::Expert;
use crate::item::Pdu;

/// A value and the bytes of the line it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spanned<T> {
    pub offset: usize,
    pub len: usize,
    pub value: T,
}

impl<T> Spanned<T> {
    pub fn new(offset: usize, len: usize, value: T) -> Self {
        Spanned { offset, len, value }
    }
}

/// Something wrong with a line that does not stop it from being a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub expert: Expert,
    pub offset: usize,
    pub len: usize,
    pub message: String,
}

/// A command line cut into its verb and its argument, as SMTP and POP3 both
/// write them: `VERB` or `VERB argument`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerbLine {
    /// Length of the line without its line ending.
    pub len: usize,
    /// The verb, upper-cased.
    pub verb: String,
    pub verb_len: usize,
    /// Where the argument starts (the line's end when there is none).
    pub argument_offset: usize,
    /// The argument's text ("" when there is none).
    pub argument_text: String,
}

impl VerbLine {
    pub fn split(line: &[u8]) -> Self {
        let len = line.len();
        let verb_len = line.iter().position(|b| *b == b' ').unwrap_or(len);
        let argument_offset = (verb_len + 1).min(len);
        VerbLine {
            len,
            verb: super::lossy(&line[..verb_len]).to_ascii_uppercase(),
            verb_len,
            argument_offset,
            argument_text: super::lossy(&line[argument_offset..]),
        }
    }

    /// The argument and its span, if there is one.
    pub fn argument(&self) -> Option<Spanned<String>> {
        (self.argument_offset < self.len).then(|| {
            Spanned::new(
                self.argument_offset,
                self.len - self.argument_offset,
                self.argument_text.clone(),
            )
        })
    }
}

/// Reports each problem a parser found as an anomaly of the PDU, in order.
pub(crate) fn report<'a>(pdu: &mut Pdu, problems: impl IntoIterator<Item = &'a Problem>) {
    for problem in problems {
        pdu.anomaly(
            problem.expert,
            problem.offset,
            problem.len,
            problem.message.clone(),
        );
    }
}

/// Runs of client lines that are no command at all (binary data on a mail
/// port, another protocol spoken to it): the first line of a run is
/// flagged, the rest (and unknown words among them, which random bytes
/// make) are counted, and the command that ends the run says how many there
/// were. Two expert infos per run, not one per line.
#[derive(Clone, Debug, Default)]
pub(crate) struct NotCommands {
    lines: u64,
    bytes: u64,
}

impl NotCommands {
    /// One client line, its verb and the problems its parser found (an
    /// unknown command among them); the line's bytes are the PDU's.
    pub(crate) fn line(&mut self, verb: &str, problems: &mut Vec<Problem>, pdu: &mut Pdu) {
        let unknown = problems.iter().any(|p| p.expert == Expert::UnknownCommand);
        if unknown && (self.lines > 0 || binary_line(verb, &pdu.bytes)) {
            self.lines += 1;
            self.bytes += pdu.bytes.len() as u64;
            if self.lines > 1 {
                problems.retain(|p| p.expert != Expert::UnknownCommand);
            }
            return;
        }
        if self.lines > 1 {
            let len = pdu.bytes.len();
            pdu.anomaly(
                Expert::UnknownCommand,
                0,
                len,
                format!(
                    "the {} lines ({} bytes) before this one were no commands; only the first was flagged",
                    self.lines, self.bytes
                ),
            );
        }
        self.lines = 0;
        self.bytes = 0;
    }
}

/// Whether a client line is no text command at all: its verb is no word (an
/// empty line, binary data), or the line holds control bytes or is not UTF-8.
fn binary_line(verb: &str, line: &[u8]) -> bool {
    let word = !verb.is_empty()
        && verb
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let text = std::str::from_utf8(line).is_ok_and(|t| {
        !t.bytes()
            .any(|b| (b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n')) || b == 0x7f)
    });
    !word || !text
}
