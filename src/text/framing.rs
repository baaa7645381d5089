//! One direction's unframed bytes, cut into lines; line endings.

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
    /// Bytes the capture lost came just before `data`: see [`StreamBuf::resync_after_gap`].
    pub(crate) after_gap: bool,
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

    /// After a gap, framing resumes where a line starts: the bytes that follow
    /// the gap are kept when `starts_line` recognises the start of a line in
    /// them (a reply code, a command verb), else dropped up to the next line
    /// end. `starts_line` answers `None` while it needs more bytes to tell;
    /// false until it can.
    pub(crate) fn resync_after_gap(&mut self, starts_line: impl Fn(&[u8]) -> Option<bool>) -> bool {
        if !self.after_gap {
            return true;
        }
        let verdict = match starts_line(&self.data) {
            // A line end already there is as far as anyone needs to look.
            None if self.data.contains(&b'\n') => Some(false),
            verdict => verdict,
        };
        match verdict {
            None => false,
            Some(starts) => {
                self.after_gap = false;
                self.discard_line |= !starts;
                true
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
