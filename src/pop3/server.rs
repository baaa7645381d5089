//! The server's side of the stream: status lines and the blocks of
//! multi-line responses, framed by the command they answer; and what is
//! still open when the capture ends.

use crate::fields::Expert;
use crate::item::{Direction, Pdu};
use crate::text::find_end_of_data;

use super::response::{self, BlockEnd};
use super::session::Pop3;

impl Pop3 {
    pub(super) fn next_server_pdu(&mut self, frame: u64) -> Option<Pdu> {
        if self.tls.is_tls(Direction::ToClient) {
            return None;
        }
        if self.discard_block && !self.skip_block() {
            return None;
        }
        if !self.resync_responses() {
            return None;
        }
        let max_line = self.limits.max_line;
        let buf = &mut self.bufs[1];
        if !buf.skip_discarded() {
            return None;
        }
        // The status line is found from the start: `scanned` belongs to the block scan.
        let head = &buf.data[..buf.data.len().min(max_line + 1)];
        let Some(first_len) = memchr::memchr(b'\n', head)
            .map(|i| i + 1)
            .filter(|n| *n <= max_line)
        else {
            let (offset, raw, _) = buf.next_line(max_line)?;
            // A +OK to RETR, LIST...: its block follows the cut line. It is
            // skipped to its dot, so its lines are not taken for responses.
            let block =
                raw.starts_with(b"+OK") && self.pending.front().is_some_and(|p| p.multiline);
            let mut pdu = Pdu::new(Direction::ToClient, frame, offset, raw);
            let len = pdu.bytes.len();
            let skipped = if block {
                "; the block that follows it is skipped"
            } else {
                ""
            };
            pdu.anomaly(
                Expert::LineTooLong,
                0,
                len,
                format!("response line longer than {max_line} bytes{skipped}"),
            );
            self.response(&mut pdu, None);
            if block {
                // The block's scan starts in the rest of the cut line: no line to drop first.
                self.bufs[1].discard_line = false;
                self.discard_block = true;
            }
            return Some(pdu);
        };
        let positive = buf.data.starts_with(b"+OK");
        // A capture may start after the greeting: a pending command decides, not the greeting.
        let block = positive && self.pending.front().is_some_and(|p| p.multiline);
        if !block {
            let (offset, raw) = buf.take(first_len);
            let mut pdu = Pdu::new(Direction::ToClient, frame, offset, raw);
            self.response(&mut pdu, None);
            return Some(pdu);
        }
        self.block_first_frame.get_or_insert(frame);
        self.next_block_pdu(frame, first_len)
    }

    /// A status line and its block, once the block's end is there.
    fn next_block_pdu(&mut self, frame: u64, first_len: usize) -> Option<Pdu> {
        let content = matches!(
            self.pending.front().map(|p| p.verb.as_str()),
            Some("RETR" | "TOP")
        );
        let buf = &mut self.bufs[1];
        let end = if content {
            response::content_end(&buf.data, buf.scanned, first_len)
        } else {
            response::listing_end(&buf.data, buf.scanned.max(first_len))
        };
        // A block that lost bytes may have lost its "." line too.
        let found = match end {
            BlockEnd::Found { end, .. } => Some(end),
            BlockEnd::Incomplete { .. } => None,
        };
        let end_in_gap = if content {
            self.block_end_in_gap(first_len, found)
        } else {
            None
        };
        let end = match end_in_gap {
            Some(end) if found.is_none_or(|found| end < found) => BlockEnd::Found {
                end,
                terminated: false,
            },
            _ => end,
        };
        let buf = &mut self.bufs[1];
        match end {
            BlockEnd::Found { end, terminated } => {
                let (offset, raw) = buf.take(end);
                let mut pdu = Pdu::new(Direction::ToClient, frame, offset, raw);
                let end_lost = !terminated && end_in_gap == Some(end);
                if !terminated && !end_lost {
                    let len = pdu.bytes.len();
                    pdu.anomaly(
                        Expert::BadReply,
                        first_len,
                        len - first_len,
                        "multi-line response not ended by a \".\" line",
                    );
                }
                self.take_block_gaps(end);
                self.response(&mut pdu, Some((first_len, terminated)));
                self.clear_taken_gaps();
                Some(pdu)
            }
            // A message is held up to the message cap; a listing (LIST,
            // UIDL, CAPA) only up to the listing cap: one that never ends is
            // cut and shown, not held to the end of the capture.
            BlockEnd::Incomplete { resume_at }
                if buf.data.len()
                    > if content {
                        self.limits.max_message
                    } else {
                        self.limits.max_listing
                    } =>
            {
                buf.scanned = resume_at;
                let cap = if content {
                    self.limits.max_message
                } else {
                    self.limits.max_listing
                };
                // Cut at a line end, so the last line shown is whole.
                let cut = memchr::memrchr(b'\n', &buf.data[..cap.min(buf.data.len())])
                    .map_or(cap, |i| i + 1);
                let keep = cut.max(first_len);
                let (offset, raw) = buf.take(keep);
                self.take_block_gaps(keep);
                let mut pdu = Pdu::new(Direction::ToClient, frame, offset, raw);
                pdu.anomaly(
                    Expert::Truncated,
                    0,
                    0,
                    format!("multi-line response over {keep} bytes: shown up to here, the rest is skipped"),
                );
                self.response(&mut pdu, Some((first_len, false)));
                self.clear_taken_gaps();
                self.discard_block = true;
                Some(pdu)
            }
            BlockEnd::Incomplete { resume_at } => {
                buf.scanned = resume_at;
                None
            }
        }
    }

    /// Drops the rest of a block that was cut; true once its terminating dot went by.
    fn skip_block(&mut self) -> bool {
        let buf = &mut self.bufs[1];
        let from = buf.scanned.saturating_sub(4);
        let probe_from = from.saturating_sub(1);
        match find_end_of_data(&buf.data[probe_from..]) {
            Some(end) => {
                buf.take(probe_from + end);
                self.discard_block = false;
                true
            }
            None => {
                // Keep only the last bytes, where a terminator could begin.
                let keep = buf.data.len().min(4);
                let drop = buf.data.len() - keep;
                buf.take(drop);
                buf.scanned = buf.data.len();
                false
            }
        }
    }

    /// End of capture: a multi-line response still open (RETR or TOP without
    /// its final dot, a listing) is emitted as far as it goes, marked truncated.
    pub fn finish(&mut self, frame: u64) -> Vec<Pdu> {
        let buf = &mut self.bufs[1];
        let open_block = self.pending.front().is_some_and(|p| p.multiline)
            && buf.data.starts_with(b"+OK")
            && !self.discard_block
            && !buf.discard_line;
        let Some(first_len) = memchr::memchr(b'\n', &buf.data).map(|i| i + 1) else {
            return Vec::new();
        };
        if !open_block {
            return Vec::new();
        }
        let len = buf.data.len();
        let (offset, raw) = buf.take(len);
        let mut pdu = Pdu::new(Direction::ToClient, frame, offset, raw);
        self.take_block_gaps(len);
        self.response(&mut pdu, Some((first_len, false)));
        self.clear_taken_gaps();
        pdu.anomaly(
            Expert::Truncated,
            0,
            0,
            format!("the capture ends inside this response; {len} bytes of it were seen"),
        );
        vec![pdu]
    }
}
