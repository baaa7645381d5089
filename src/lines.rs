//! Line framing shared by the text protocols: one direction's unframed bytes,
//! line endings, dot-stuffed multi-line blocks, and Info column text.

use crate::item::Direction;

/// One direction's bytes not yet framed into PDUs.
#[derive(Clone, Debug, Default)]
pub(crate) struct StreamBuf {
    pub(crate) data: Vec<u8>,
    /// Stream offset of `data[0]`.
    pub(crate) start: u64,
    /// Bytes of `data` already searched for a terminator.
    pub(crate) scanned: usize,
    /// Dropping bytes up to the next line end (after an over-long line).
    pub(crate) discard_line: bool,
}

impl StreamBuf {
    pub(crate) fn take(&mut self, n: usize) -> (u64, Vec<u8>) {
        let offset = self.start;
        let rest = self.data.split_off(n);
        let taken = std::mem::replace(&mut self.data, rest);
        self.start += n as u64;
        self.scanned = 0;
        (offset, taken)
    }

    /// Length of the first complete line (through its LF), if there is one.
    pub(crate) fn line_len(&mut self) -> Option<usize> {
        let from = self.scanned.min(self.data.len());
        match memchr::memchr(b'\n', &self.data[from..]) {
            Some(i) => Some(from + i + 1),
            None => {
                self.scanned = self.data.len();
                None
            }
        }
    }

    /// Drops bytes up to the next line end after a cut or lost line; false while still dropping.
    pub(crate) fn skip_discarded(&mut self) -> bool {
        if !self.discard_line {
            return true;
        }
        match self.line_len() {
            Some(n) => {
                self.take(n);
                self.discard_line = false;
                true
            }
            None => {
                let n = self.data.len();
                self.take(n);
                false
            }
        }
    }

    /// The next complete line, or the first `max_line` bytes of an endless one
    /// (then the rest of that line is dropped); the flag says it was cut.
    pub(crate) fn next_line(&mut self, max_line: usize) -> Option<(u64, Vec<u8>, bool)> {
        if !self.skip_discarded() {
            return None;
        }
        if let Some(n) = self.line_len() {
            if n <= max_line {
                let (offset, raw) = self.take(n);
                return Some((offset, raw, false));
            }
        }
        if self.data.len() > max_line {
            let (offset, raw) = self.take(max_line);
            self.discard_line = true;
            return Some((offset, raw, true));
        }
        None
    }
}

/// Trims the line ending (CRLF or bare LF).
pub(crate) fn strip_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Line bytes as text whose offsets are byte offsets (see `same_length_text`).
pub(crate) fn lossy(bytes: &[u8]) -> String {
    crate::item::same_length_text(bytes)
}

/// Info column text for a line: at most 120 characters of it.
pub(crate) fn info_line(direction: Direction, line: &str) -> String {
    let line = crate::item::escape_controls(line);
    let mut text: String = line.chars().take(120).collect();
    if line.chars().count() > 120 {
        text.push_str("...");
    }
    format!("{}: {}", direction.info_prefix(), text)
}

/// Position just past CRLF "." CRLF (or LF "." LF) in `data`.
pub(crate) fn find_end_of_data(data: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = memchr::memchr(b'\n', &data[from..]) {
        let at = from + i + 1;
        let rest = &data[at..];
        if rest.starts_with(b".\r\n") {
            return Some(at + 3);
        }
        if rest.starts_with(b".\n") {
            return Some(at + 2);
        }
        from = at;
    }
    None
}

/// Removes RFC 5321 4.5.2 dot-stuffing; returns the content and how many lines were unstuffed.
pub(crate) fn unstuff(raw: &[u8]) -> (Vec<u8>, u64) {
    let mut out = Vec::with_capacity(raw.len());
    let mut count = 0;
    let mut rest = raw;
    loop {
        if rest.len() > 1 && rest[0] == b'.' {
            rest = &rest[1..];
            count += 1;
        }
        match memchr::memchr(b'\n', rest) {
            Some(i) => {
                out.extend_from_slice(&rest[..=i]);
                rest = &rest[i + 1..];
            }
            None => {
                out.extend_from_slice(rest);
                return (out, count);
            }
        }
    }
}

/// Whether bytes that follow an accepted STARTTLS/STLS begin a TLS record: its
/// content type (20..23) is a control byte that never starts a text command,
/// so the first byte decides, however small the segment.
pub(crate) fn tls_record_start(data: &[u8]) -> bool {
    data.first().is_some_and(|b| (20..=23).contains(b))
}
