//! Line framing shared by the text protocols: one direction's unframed bytes,
//! line endings, dot-stuffed multi-line blocks, and Info column text.

use crate::fields::Expert;
use crate::item::{Direction, Pdu};

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
fn tls_record_start(data: &[u8]) -> bool {
    data.first().is_some_and(|b| (20..=23).contains(b))
}

/// Where one direction stands with the switch to TLS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum TlsStage {
    #[default]
    Clear,
    /// Accepted; the next bytes tell whether TLS really starts.
    Pending,
    Tls,
}

/// The switch to TLS that STARTTLS (SMTP) and STLS (POP3) announce. Once the
/// server accepts, each direction's next bytes tell whether TLS really starts
/// or (some middleboxes) the session goes on in clear text.
#[derive(Clone, Debug, Default)]
pub(crate) struct TlsSwitch {
    client: TlsStage,
    server: TlsStage,
    clear_after_accept: bool,
}

impl TlsSwitch {
    /// The server accepted STARTTLS or STLS.
    pub(crate) fn accept(&mut self) {
        self.client = TlsStage::Pending;
        self.server = TlsStage::Pending;
    }

    pub(crate) fn is_tls(&self, direction: Direction) -> bool {
        match direction {
            Direction::ToServer => self.client == TlsStage::Tls,
            Direction::ToClient => self.server == TlsStage::Tls,
        }
    }

    /// The client's text is not parsed from acceptance on (until clear text shows up).
    pub(crate) fn client_paused(&self) -> bool {
        self.client != TlsStage::Clear
    }

    /// True once, for the first client line after an acceptance that TLS never followed.
    pub(crate) fn take_clear_after_accept(&mut self) -> bool {
        std::mem::take(&mut self.clear_after_accept)
    }

    /// Whether `data`, the next bytes in `direction`, are TLS.
    pub(crate) fn classify(&mut self, direction: Direction, data: &[u8]) -> bool {
        let looks_tls = tls_record_start(data);
        match direction {
            Direction::ToServer => match self.client {
                TlsStage::Tls => true,
                TlsStage::Pending if looks_tls => {
                    self.client = TlsStage::Tls;
                    if self.server == TlsStage::Pending {
                        self.server = TlsStage::Tls;
                    }
                    true
                }
                TlsStage::Pending => {
                    *self = TlsSwitch {
                        clear_after_accept: true,
                        ..TlsSwitch::default()
                    };
                    false
                }
                TlsStage::Clear => false,
            },
            Direction::ToClient => match self.server {
                TlsStage::Tls => true,
                TlsStage::Pending if looks_tls => {
                    self.server = TlsStage::Tls;
                    true
                }
                _ => false,
            },
        }
    }
}

/// What a text protocol engine offers the shared feeding loop.
pub(crate) trait TextEngine {
    fn tls(&mut self) -> &mut TlsSwitch;
    fn buf(&mut self, direction: Direction) -> &mut StreamBuf;
    /// The next PDU complete in `direction`'s buffer, if any.
    fn next_pdu(&mut self, direction: Direction, frame: u64) -> Option<Pdu>;
}

/// Appends bytes in stream order and frames the PDUs they complete; the flag
/// says the bytes were TLS (after STARTTLS or STLS).
pub(crate) fn feed(
    engine: &mut impl TextEngine,
    direction: Direction,
    data: &[u8],
    frame: u64,
) -> (Vec<Pdu>, bool) {
    let mut pdus = Vec::new();
    if data.is_empty() {
        return (pdus, false);
    }
    if engine.tls().classify(direction, data) {
        engine.buf(direction).start += data.len() as u64;
        return (pdus, true);
    }
    engine.buf(direction).data.extend_from_slice(data);
    while let Some(pdu) = engine.next_pdu(direction, frame) {
        pdus.push(pdu);
        if engine.tls().is_tls(direction) {
            // Bytes after the switch that arrived with the handshake's first segment.
            let buf = engine.buf(direction);
            let rest = buf.data.len();
            buf.take(rest);
            return (pdus, true);
        }
    }
    (pdus, false)
}

/// Bytes the capture lost: drops what `buf` held, moves past the hole, and
/// returns the PDU that reports it. Framing resumes at the next line.
pub(crate) fn gap_pdu(buf: &mut StreamBuf, direction: Direction, missing: u64, frame: u64) -> Pdu {
    let offset = buf.start;
    let lost_buffered = buf.data.len();
    buf.data.clear();
    buf.scanned = 0;
    buf.start += missing + lost_buffered as u64;
    let mut pdu = Pdu::new(direction, frame, offset, Vec::new());
    pdu.info = format!(
        "{}: [{} bytes missing from the capture]",
        direction.info_prefix(),
        missing
    );
    pdu.anomaly(
        Expert::Gap,
        0,
        0,
        format!("{missing} bytes missing from the capture"),
    );
    pdu
}

/// A line inside a SASL exchange that cannot be a response (not base64) but
/// starts with one of the protocol's command verbs: the client did not wait.
pub(crate) fn command_during_sasl(raw: &[u8], known_verbs: &[&str]) -> bool {
    let line = lossy(strip_eol(raw));
    let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
    line.trim() != "*"
        && crate::codec::decode_base64(&line).is_err()
        && known_verbs.contains(&verb.as_str())
}

/// Helpers for the engines' unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::{feed, TextEngine};
    use crate::fields::Field;
    use crate::item::{Direction, Pdu};

    /// Feeds a scripted dialogue, one frame per line of the script.
    pub(crate) fn run<E: TextEngine + Default>(script: &[(Direction, &str)]) -> Vec<Pdu> {
        let mut engine = E::default();
        let mut out = Vec::new();
        for (frame, (direction, text)) in script.iter().enumerate() {
            out.extend(feed(&mut engine, *direction, text.as_bytes(), frame as u64 + 1).0);
        }
        out
    }

    /// Every value of `field` in the PDUs, in tree order.
    pub(crate) fn values(pdus: &[Pdu], field: Field) -> Vec<String> {
        pdus.iter()
            .flat_map(|p| p.flatten())
            .filter(|(i, _)| i.field == field)
            .map(|(i, _)| i.value.to_string())
            .collect()
    }
}
