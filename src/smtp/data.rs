//! Message content: DATA (dot-terminated, dot-stuffed) and BDAT chunks
//! (counted), assembled into the bytes of one [`MailMessage`] under the
//! connection's message cap.

use crate::message::{note_gap, MailMessage, MessageGap, MessageSource};
use crate::text::{find_end_of_data, StreamBuf};

/// Where DATA content ends in the client's buffered bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataEnd {
    /// Content and terminator end after this many bytes.
    Found(usize),
    /// No end yet and more than the cap buffered: hand over this many bytes
    /// (all but the last few, where the terminator may begin).
    Cut(usize),
    Incomplete,
}

/// Finds the end of DATA content: CRLF "." CRLF, or "." CRLF at the very
/// start (an empty message). Remembers how far it searched.
pub fn find_end(buf: &mut StreamBuf, max_message: usize) -> DataEnd {
    if buf.data.starts_with(b".\r\n") {
        return DataEnd::Found(3);
    }
    if buf.data.starts_with(b".\n") {
        return DataEnd::Found(2);
    }
    let from = buf.scanned.saturating_sub(4);
    if let Some(end) = find_end_of_data(&buf.data[from..]) {
        return DataEnd::Found(from + end);
    }
    buf.scanned = buf.data.len();
    match buf.data.len().saturating_sub(4) {
        keep if buf.data.len() > max_message && keep > 0 => DataEnd::Cut(keep),
        _ => DataEnd::Incomplete,
    }
}

/// Length of `raw` without its terminating "." line (CRLF or LF).
pub fn body_len(raw: &[u8]) -> usize {
    let terminator = if raw.ends_with(b"\r\n.\r\n") || raw == b".\r\n" {
        3
    } else {
        2
    };
    raw.len().saturating_sub(terminator)
}

/// The message being received in the current transaction.
#[derive(Clone, Debug, Default)]
pub struct Assembly {
    pub content: Vec<u8>,
    pub truncated: bool,
    pub chunks: u32,
    pub first_frame: Option<u64>,
    pub stream_start: Option<u64>,
    /// The BDAT chunk being received: its bytes, where it started, and
    /// whether bytes of it are missing.
    pub chunk: Vec<u8>,
    pub chunk_start: u64,
    pub chunk_truncated: bool,
    /// Bytes the capture lost, if any (held apart: most messages lose none).
    pub lost: Option<Box<Lost>>,
}

/// Where bytes the capture lost were: in `content`, and (until the chunk is
/// kept) in the current BDAT chunk.
#[derive(Clone, Debug, Default)]
pub struct Lost {
    pub gaps: Vec<MessageGap>,
    pub chunk: Vec<MessageGap>,
    /// The bytes after the last gap were searched for the client's next
    /// command as far as that search goes.
    pub searched: bool,
}

impl Assembly {
    /// Notes where content starts (its first PDU or chunk).
    pub fn begin(&mut self, frame: u64, stream_offset: u64) {
        self.first_frame.get_or_insert(frame);
        self.stream_start.get_or_insert(stream_offset);
    }

    /// Keeps DATA content, dot-unstuffed on the way in, as long as the cap
    /// has room; returns how many lines were unstuffed.
    pub fn keep_unstuffed(&mut self, raw: &[u8], max_message: usize) -> u64 {
        let cap = if self.truncated { 0 } else { max_message };
        let (count, cut) = crate::text::unstuff_into(raw, &mut self.content, cap);
        self.truncated |= cut;
        count
    }

    /// Adds a whole BDAT chunk to the message, as long as the cap has room;
    /// each chunk counts on its own, so one lost chunk does not hide the next.
    /// The bytes its gaps lost are noted where they were.
    pub fn keep_chunk(&mut self, bytes: &[u8], max_message: usize) {
        let mut at = 0;
        let chunk_gaps = self.lost.as_mut().map(|l| std::mem::take(&mut l.chunk));
        for gap in chunk_gaps.unwrap_or_default() {
            let upto = gap.offset.clamp(at, bytes.len());
            self.truncated |=
                crate::text::extend_capped(&mut self.content, &bytes[at..upto], max_message);
            self.gap(gap.missing, max_message);
            at = upto;
        }
        self.truncated |= crate::text::extend_capped(&mut self.content, &bytes[at..], max_message);
    }

    /// `missing` bytes of DATA content the capture lost, after what was kept.
    pub fn gap(&mut self, missing: u64, max_message: usize) {
        let lost = self.lost.get_or_insert_with(Default::default);
        lost.searched = false;
        note_gap(&mut self.content, &mut lost.gaps, missing, max_message);
    }

    /// `missing` bytes of the current BDAT chunk the capture lost, after what it holds.
    pub fn chunk_gap(&mut self, missing: u64) {
        let lost = self.lost.get_or_insert_with(Default::default);
        crate::message::push_gap(&mut lost.chunk, self.chunk.len(), missing);
    }

    /// Keeps `bytes` of the current BDAT chunk, as long as the cap has room.
    pub fn keep_chunk_bytes(&mut self, bytes: &[u8], max_message: usize) {
        self.chunk_truncated |= crate::text::extend_capped(&mut self.chunk, bytes, max_message);
    }

    /// Bytes of the DATA content were lost.
    pub fn has_gaps(&self) -> bool {
        self.lost.as_ref().is_some_and(|l| !l.gaps.is_empty())
    }

    /// A new BDAT chunk starts at `stream_offset`.
    pub fn start_chunk(&mut self, stream_offset: u64) {
        self.chunk.clear();
        if let Some(lost) = self.lost.as_mut() {
            lost.chunk.clear();
        }
        self.chunk_truncated = false;
        self.chunk_start = stream_offset;
    }

    /// The message, ended in `frame` at `stream_end`.
    pub fn into_message(
        self,
        source: MessageSource,
        frame: u64,
        stream_end: u64,
        complete: bool,
    ) -> MailMessage {
        let gaps = self.lost.map(|l| l.gaps).unwrap_or_default();
        MailMessage {
            source,
            content: self.content,
            first_frame: self.first_frame.unwrap_or(frame),
            last_frame: frame,
            stream_start: self.stream_start.unwrap_or(stream_end),
            stream_end,
            complete,
            truncated: self.truncated || !complete || !gaps.is_empty(),
            gaps,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_of_data_is_found_across_feeds_and_long_content_is_cut() {
        let mut buf = StreamBuf::default();
        buf.data.extend_from_slice(b"hello\r\n.");
        assert_eq!(find_end(&mut buf, 100), DataEnd::Incomplete);
        buf.data.extend_from_slice(b"\r\n");
        assert_eq!(find_end(&mut buf, 100), DataEnd::Found(10));
        let mut buf = StreamBuf::default();
        buf.data.extend_from_slice(&[b'x'; 20]);
        assert_eq!(find_end(&mut buf, 10), DataEnd::Cut(16));
        assert_eq!(body_len(b"hi\r\n.\r\n"), 4);
        assert_eq!(body_len(b".\r\n"), 0);
    }

    #[test]
    fn the_cap_keeps_the_first_bytes_and_marks_the_rest_lost() {
        let mut assembly = Assembly::default();
        // Unstuffed on the way in: ".." at a line's start is one dot.
        assert_eq!(assembly.keep_unstuffed(b"ab\r\n..c", 6), 1);
        assert_eq!(assembly.keep_unstuffed(b"gh", 6), 0);
        assert_eq!(assembly.content, b"ab\r\n.c");
        let message =
            assembly.into_message(MessageSource::SmtpData { transaction: 1 }, 9, 50, true);
        assert!(message.truncated && message.complete);
        assert_eq!((message.first_frame, message.stream_start), (9, 50));
    }
}
