//! The session's side of message content: DATA pieces and BDAT chunks as
//! PDUs, the message they complete, and what is still open when the capture
//! ends. Framing and the cap live in `data`; items in `tree`.

use crate::fields::Expert;
use crate::item::{Direction, Pdu};
use crate::message::{MailMessage, MessageSource};

use super::data::{self, DataEnd};
use super::session::{ClientMode, Smtp};
use super::tree::{self, Answered, ContentFacts};

/// How a piece of DATA content ends the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PieceEnd {
    /// It does not: more content follows.
    Open,
    /// With the final "." line.
    Dot,
    /// The final "." line was lost in a gap; the server's reply proves the end.
    LostInGap,
}

impl Smtp {
    /// End of capture: a message still open (DATA without its final dot, a
    /// BDAT chunk not all there) is emitted as a truncated message.
    pub fn finish(&mut self, frame: u64) -> Vec<Pdu> {
        self.capture_ended = true;
        let mut pdu = match self.client {
            ClientMode::Data | ClientMode::DataPending => {
                let len = self.bufs[0].data.len();
                if len == 0 && self.message.content.is_empty() {
                    return Vec::new();
                }
                let (offset, raw) = self.bufs[0].take(len);
                let mut pdu = self.data_piece(frame, offset, raw, PieceEnd::Open);
                self.message.truncated = true;
                pdu.info = format!(
                    "C: message, {} bytes, cut short by the end of the capture",
                    self.message.content.len()
                );
                let end = pdu.stream_offset + pdu.bytes.len() as u64;
                pdu.message = Some(self.take_message(
                    MessageSource::SmtpData {
                        transaction: self.transaction,
                    },
                    frame,
                    end,
                    false,
                ));
                pdu
            }
            ClientMode::Bdat { .. } => {
                self.message.chunk_truncated = true;
                let Some(mut pdu) = self.end_chunk(frame) else {
                    return Vec::new();
                };
                if pdu.message.is_none() {
                    self.message.truncated = true;
                    let end = pdu.stream_offset + pdu.bytes.len() as u64;
                    let source = self.bdat_source();
                    pdu.message = Some(self.take_message(source, frame, end, false));
                }
                pdu
            }
            _ => return Vec::new(),
        };
        let kept = pdu.message.as_ref().map_or(0, |m| m.content.len());
        pdu.anomaly(
            Expert::Truncated,
            0,
            0,
            format!("the capture ends inside this message; {kept} bytes of it were seen"),
        );
        vec![pdu]
    }

    pub(super) fn next_data_pdu(&mut self, frame: u64) -> Option<Pdu> {
        if let Some(pdu) = self.message_ended_before_command(frame) {
            return Some(pdu);
        }
        let max = self.limits.max_message;
        if !self.bufs[0].data.is_empty() {
            self.message.first_frame.get_or_insert(frame);
        }
        match data::find_end(&mut self.bufs[0], max) {
            DataEnd::Found(end) => {
                let (offset, raw) = self.bufs[0].take(end);
                Some(self.data_piece(frame, offset, raw, PieceEnd::Dot))
            }
            DataEnd::Cut(keep) => {
                let (offset, raw) = self.bufs[0].take(keep);
                // Kept up to the cap, then marked: the rest is counted, not kept.
                let mut pdu = self.data_piece(frame, offset, raw, PieceEnd::Open);
                self.message.truncated = true;
                pdu.anomaly(
                    Expert::Truncated,
                    0,
                    0,
                    format!("message content over {max} bytes is not kept"),
                );
                Some(pdu)
            }
            DataEnd::Incomplete => None,
        }
    }

    /// A piece of DATA content, and how it ends the message if it does.
    pub(super) fn data_piece(
        &mut self,
        frame: u64,
        offset: u64,
        raw: Vec<u8>,
        end: PieceEnd,
    ) -> Pdu {
        let mut pdu = Pdu::new(Direction::ToServer, frame, offset, raw);
        let len = pdu.bytes.len();
        let body_len = if end == PieceEnd::Dot {
            data::body_len(&pdu.bytes)
        } else {
            len
        };
        self.message.begin(frame, offset);
        let unstuffed = self
            .message
            .keep_unstuffed(&pdu.bytes[..body_len], self.limits.max_message);
        let size = self.message.content.len() as u64;
        let facts = ContentFacts {
            state: "data",
            transaction: self.transaction,
            chunk_size: len as u64,
            unstuffed: Some((unstuffed, body_len)),
            end: match end {
                PieceEnd::Open => None,
                PieceEnd::Dot => Some((size, true)),
                PieceEnd::LostInGap => Some((size, false)),
            },
        };
        pdu.items.push(tree::content(&facts, len));
        match end {
            PieceEnd::Open => pdu.info = format!("C: message fragment, {len} bytes"),
            PieceEnd::Dot => {
                pdu.info = format!("C: message, {size} bytes");
                self.end_data(&mut pdu, frame, offset + len as u64, true);
            }
            PieceEnd::LostInGap => {
                pdu.info = format!("C: message, {size} bytes (its end was lost in the capture)");
                self.end_data(&mut pdu, frame, offset + len as u64, false);
            }
        }
        pdu
    }

    /// DATA content ended with `pdu` (its end at stream offset `end`): the
    /// message, and the reply to it awaited.
    /// `seen`: the final dot was there (not lost in a gap).
    pub(super) fn end_data(&mut self, pdu: &mut Pdu, frame: u64, end: u64, seen: bool) {
        let source = MessageSource::SmtpData {
            transaction: self.transaction,
        };
        pdu.message = Some(self.take_message(source, frame, end, seen));
        self.client = ClientMode::Command;
        let answered = Answered {
            verb: "DATA".to_string(),
            frame,
            path: None,
            state_after: self.state_name(),
            ends_content: true,
        };
        self.push_pending(answered, pdu);
    }

    /// The content is complete: from the client's side the transaction is over
    /// (a pipelining client may send the next MAIL before the reply).
    pub(super) fn take_message(
        &mut self,
        source: MessageSource,
        frame: u64,
        stream_end: u64,
        complete: bool,
    ) -> MailMessage {
        self.reset_transaction();
        std::mem::take(&mut self.message).into_message(source, frame, stream_end, complete)
    }

    pub(super) fn bdat_source(&self) -> MessageSource {
        MessageSource::SmtpBdat {
            transaction: self.transaction,
            chunks: self.message.chunks,
        }
    }

    pub(super) fn next_bdat_pdu(
        &mut self,
        frame: u64,
        remaining: u64,
        last: bool,
        size: u64,
    ) -> Option<Pdu> {
        let buf = &mut self.bufs[0];
        if remaining > 0 && buf.data.is_empty() {
            return None;
        }
        let n = (buf.data.len() as u64).min(remaining) as usize;
        let (_, bytes) = buf.take(n);
        self.message.first_frame.get_or_insert(frame);
        self.message
            .keep_chunk_bytes(&bytes, self.limits.max_message);
        let remaining = remaining - n as u64;
        self.client = ClientMode::Bdat {
            remaining,
            last,
            size,
        };
        if remaining > 0 {
            return None;
        }
        self.end_chunk(frame)
    }

    /// The current BDAT chunk is over (all its bytes seen, lost, or the capture ended).
    pub(super) fn end_chunk(&mut self, frame: u64) -> Option<Pdu> {
        let ClientMode::Bdat { last, size, .. } = self.client else {
            return None;
        };
        self.client = ClientMode::Command;
        let chunk = std::mem::take(&mut self.message.chunk);
        let start = self.message.chunk_start;
        let mut pdu = Pdu::new(Direction::ToServer, frame, start, chunk);
        let len = pdu.bytes.len();
        self.message.begin(frame, start);
        self.message.chunks += 1;
        let lost_bytes = self.message.chunk_truncated;
        self.message.keep_chunk(&pdu.bytes, self.limits.max_message);
        if lost_bytes {
            self.message.truncated = true;
            pdu.anomaly(
                Expert::Truncated,
                0,
                len,
                format!("BDAT chunk of {size} bytes is incomplete in the capture"),
            );
        }
        // At the end of the capture a LAST chunk not all there did not end the message.
        let complete = !(self.capture_ended && lost_bytes);
        let message_size = self.message.content.len() as u64;
        let facts = ContentFacts {
            state: "bdat",
            transaction: self.transaction,
            chunk_size: size,
            unstuffed: None,
            end: last.then_some((message_size, complete)),
        };
        pdu.items.push(tree::content(&facts, len));
        if last {
            pdu.info = format!("C: BDAT chunk, {size} bytes, last; message, {message_size} bytes");
            let source = self.bdat_source();
            pdu.message = Some(self.take_message(source, frame, start + len as u64, complete));
        } else {
            pdu.info = format!("C: BDAT chunk, {size} bytes");
        }
        Some(pdu)
    }
}
