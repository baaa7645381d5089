//! The one event for every message that crosses the wire.
//!
//! SMTP DATA and BDAT and POP3 RETR and TOP all end in a [`MailMessage`]:
//! the RFC 5322 message as carried (dot-unstuffed, without the final `.`
//! line; BDAT chunks joined), where it came from, the frames and stream
//! offsets it spans, and whether it is complete. MIME decoding and every
//! host consume exactly this.

/// Where a message came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageSource {
    /// SMTP DATA in the session's `transaction`th mail transaction (from 1).
    SmtpData { transaction: u32 },
    /// SMTP BDAT chunks (RFC 3030), `chunks` of them joined.
    SmtpBdat { transaction: u32, chunks: u32 },
    /// POP3 `RETR number`.
    Pop3Retr { number: u64 },
    /// POP3 `TOP number lines`: the headers and the first `lines` body lines only.
    Pop3Top { number: u64, lines: u64 },
}

impl MessageSource {
    /// The SMTP transaction or POP3 message number it belongs to.
    pub fn number(&self) -> u64 {
        match *self {
            MessageSource::SmtpData { transaction }
            | MessageSource::SmtpBdat { transaction, .. } => u64::from(transaction),
            MessageSource::Pop3Retr { number } | MessageSource::Pop3Top { number, .. } => number,
        }
    }

    /// Only part of the message by design (POP3 TOP).
    pub fn is_partial(&self) -> bool {
        matches!(self, MessageSource::Pop3Top { .. })
    }
}

/// A message, as the bytes on the wire carried it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailMessage {
    pub source: MessageSource,
    /// The message bytes kept (at most the connection's message cap).
    pub content: Vec<u8>,
    /// Frame of the message's first content byte, and of its end.
    pub first_frame: u64,
    pub last_frame: u64,
    /// Stream offsets (in the sender's direction) of the content as it was on
    /// the wire: from the first content byte to just past the end marker.
    pub stream_start: u64,
    pub stream_end: u64,
    /// The end was seen (the final `.` line, or BDAT LAST with all its bytes).
    pub complete: bool,
    /// `content` is not the whole message: cut at the cap, bytes missing
    /// from the capture, or the capture ended inside it.
    pub truncated: bool,
    /// Where bytes the capture lost were, in content order (see [`MessageGap`]).
    pub gaps: Vec<MessageGap>,
}

/// Bytes of a message that the capture lost (a TCP segment never seen).
///
/// The content keeps the bytes before and after the hole, nothing in its
/// place but a line break when the bytes before did not end a line: what
/// follows the hole then starts a line of its own, where the MIME decoder
/// can find a header or a boundary again, and no invented byte is decoded
/// as content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageGap {
    /// Offset in [`MailMessage::content`] where the missing bytes were.
    pub offset: usize,
    /// How many bytes are missing there.
    pub missing: u64,
}

/// Most gaps noted one by one per message; later ones add to the last.
pub const MAX_GAPS: usize = 64;

impl MailMessage {
    /// Bytes of the message missing from the capture, all gaps together.
    pub fn missing(&self) -> u64 {
        self.gaps.iter().map(|g| g.missing).sum()
    }
}

/// Notes `missing` lost bytes at the end of `content` so far (see
/// [`MessageGap`]); the line break is kept only while `content` is under `cap`.
pub(crate) fn note_gap(
    content: &mut Vec<u8>,
    gaps: &mut Vec<MessageGap>,
    missing: u64,
    cap: usize,
) {
    if missing == 0 {
        return;
    }
    let offset = content.len();
    if !content.is_empty() && !content.ends_with(b"\n") {
        crate::text::extend_capped(content, b"\r\n", cap);
    }
    push_gap(gaps, offset, missing);
}

/// Adds a gap at `offset`: to the last one when it is at the same place or
/// the list is full.
pub(crate) fn push_gap(gaps: &mut Vec<MessageGap>, offset: usize, missing: u64) {
    let full = gaps.len() >= MAX_GAPS;
    match gaps.last_mut() {
        Some(last) if full || last.offset == offset => last.missing += missing,
        _ => gaps.push(MessageGap { offset, missing }),
    }
}
