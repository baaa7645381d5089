//! Bytes the capture lost, on the POP3 session's side: a multi-line block
//! keeps what came before and after its gap and still ends (its "." line,
//! or, when the gap ate that, the next status line once the client asked
//! for more or the announced size is used up); a status line lost whole
//! does not shift the pairing of the responses after it.

use std::collections::BTreeMap;

use crate::fields::Expert;
use crate::item::{Direction, Pdu};
use crate::message::{note_gap, push_gap, MessageGap};
use crate::text::{gap_marker, gap_pdu, next_line_starting, starts_with_any, unstuff_into};

use super::response::{ListingEntry, ListingValue};
use super::session::{Pop3, State};

/// What starts a response line.
const STATUS: &[&[u8]] = &[b"+OK", b"-ERR", b"+ "];

/// Commands only valid in the transaction state: a client that sends one
/// after a login whose answer was lost was logged in.
const TRANSACTION_VERBS: &[&str] = &[
    "STAT", "LIST", "RETR", "DELE", "TOP", "UIDL", "RSET", "NOOP",
];

/// LIST sizes remembered per connection, for a RETR whose "." line is lost.
const MAX_LISTED_SIZES: usize = 4096;

/// The session's memory of lost bytes in the server's direction.
#[derive(Clone, Debug, Default)]
pub(super) struct Loss {
    /// Gaps inside the block being received, at offsets of the server buffer.
    block: Vec<MessageGap>,
    /// Where the search for a status line after the block's last gap resumes.
    scanned: usize,
    /// The gaps of the block just taken, at offsets of its PDU's bytes.
    taken: Vec<MessageGap>,
    /// A gap where a response would start: the first line after it decides.
    response_gap: bool,
    /// A command whose response was lost whole, said on the next response.
    lost: Option<(String, u64)>,
    /// Message sizes LIST gave, by number (at most [`MAX_LISTED_SIZES`]).
    listed: BTreeMap<u64, u64>,
}

impl Pop3 {
    /// Bytes the capture lost: a block keeps what came before and after
    /// (see `loss`); a line resumes where the next line starts.
    pub fn gap(&mut self, direction: Direction, missing: u64, frame: u64) -> Vec<Pdu> {
        if direction == Direction::ToClient {
            if let Some(pdu) = self.block_gap(missing, frame) {
                return vec![pdu];
            }
        }
        let buf = &mut self.bufs[direction.index()];
        let at_line_start = buf.data.is_empty();
        let block_began = buf.data.starts_with(b"+OK");
        let pdu = gap_pdu(buf, direction, missing, frame);
        buf.after_gap = true;
        if direction == Direction::ToClient && !self.discard_block {
            if block_began && self.pending.front().is_some_and(|p| p.multiline) {
                // The gap cut the block's status line: the block is skipped to its end.
                self.pending.pop_front();
                self.discard_block = true;
                self.block_first_frame = None;
            } else if at_line_start {
                self.responses_lost();
            }
        }
        vec![pdu]
    }

    /// The loss memory, made when first needed.
    fn loss_mut(&mut self) -> &mut Loss {
        self.loss.get_or_insert_with(Default::default)
    }

    /// A gap in the server's bytes inside a block whose status line is here:
    /// the block keeps its bytes and notes the gap.
    pub(super) fn block_gap(&mut self, missing: u64, frame: u64) -> Option<Pdu> {
        let buf = &self.bufs[1];
        let in_block = !self.discard_block
            && self.pending.front().is_some_and(|p| p.multiline)
            && buf.data.starts_with(b"+OK")
            && buf.data.contains(&b'\n');
        if !in_block {
            return None;
        }
        let len = buf.data.len();
        let start = buf.start;
        let block = &mut self.loss_mut().block;
        let before: u64 = block.iter().map(|g| g.missing).sum();
        push_gap(block, len, missing);
        let offset = start + len as u64 + before;
        Some(gap_marker(Direction::ToClient, offset, missing, frame))
    }

    /// A gap in the server's bytes where a line would start.
    pub(super) fn responses_lost(&mut self) {
        if !self.greeted && self.pending.is_empty() {
            self.greeted = true;
        }
        if !self.pending.is_empty() {
            self.loss_mut().response_gap = true;
        }
    }

    /// After a gap in the server's bytes: framing resumes at a status line.
    /// A status line with more than one command waiting answers a later
    /// one (the oldest one's response was in the gap); other bytes are the
    /// rest of a block whose start was lost (skipped to its "." line) or of
    /// a line (skipped to its end). False until the first bytes tell.
    pub(super) fn resync_responses(&mut self) -> bool {
        let buf = &mut self.bufs[1];
        if !buf.after_gap {
            return true;
        }
        let starts = match starts_with_any(&buf.data, STATUS) {
            None if buf.data.contains(&b'\n') => false,
            None => return false,
            Some(starts) => starts,
        };
        buf.after_gap = false;
        let response_gap = self
            .loss
            .as_mut()
            .is_some_and(|l| std::mem::take(&mut l.response_gap));
        if starts {
            if response_gap && self.pending.len() > 1 {
                self.response_lost();
            }
        } else if response_gap && self.pending.front().is_some_and(|p| p.multiline) {
            self.pending.pop_front();
            self.discard_block = true;
            self.block_first_frame = None;
        } else {
            self.bufs[1].discard_line = true;
        }
        true
    }

    /// The oldest pending command's response was lost whole.
    fn response_lost(&mut self) {
        let Some(lost) = self.pending.pop_front() else {
            return;
        };
        let next_is_transaction = self
            .pending
            .front()
            .is_some_and(|p| TRANSACTION_VERBS.contains(&p.verb.as_str()));
        if matches!(lost.verb.as_str(), "PASS" | "APOP" | "AUTH") && next_is_transaction {
            // The client went on as a logged-in client does.
            self.login = None;
            self.auth = None;
            self.client = super::session::ClientMode::Command;
            self.state = State::Transaction;
        }
        self.loss_mut().lost = Some((lost.verb, lost.frame));
    }

    /// Says on `pdu` which command's response was lost before it.
    pub(super) fn report_lost_response(&mut self, pdu: &mut Pdu) {
        if let Some((verb, frame)) = self.loss.as_mut().and_then(|l| l.lost.take()) {
            pdu.anomaly(
                Expert::Gap,
                0,
                0,
                format!("the response to {verb} (frame {frame}) was lost in the capture"),
            );
        }
    }

    /// A LIST entry's size, remembered for the RETR of that message.
    pub(super) fn remember_listed(&mut self, entry: &ListingEntry) {
        let ListingValue::Size(size) = &entry.value else {
            return;
        };
        let (number, size) = (entry.number.value, size.value);
        let listed = &mut self.loss_mut().listed;
        if listed.len() < MAX_LISTED_SIZES || listed.contains_key(&number) {
            listed.insert(number, size);
        }
    }

    /// In a block that lost bytes, where the next response starts when the
    /// gap ate the block's "." line: a status line after the last gap, once
    /// the client asked for more than this block or the message's size (as
    /// the status line announced it, or LIST did) is used up. `found` is
    /// where the "." line search ended the block, if it did.
    pub(super) fn block_end_in_gap(
        &mut self,
        first_len: usize,
        found: Option<usize>,
    ) -> Option<usize> {
        let retr = self
            .pending
            .front()
            .filter(|p| p.verb == "RETR")
            .and_then(|p| p.argument.trim().parse::<u64>().ok());
        let asked_more = self.pending.len() > 1;
        let loss = self.loss.as_deref_mut()?;
        let last_gap = loss.block.last()?.offset;
        let data = &self.bufs[1].data;
        let limit = found.unwrap_or(data.len());
        let from = loss.scanned.max(last_gap).min(limit);
        let Some(at) = next_line_starting(&data[..limit], from, STATUS) else {
            // Resume at the last line start: the line after it may not be whole yet.
            loss.scanned =
                memchr::memrchr(b'\n', &data[from..limit]).map_or(from, |i| from + i + 1);
            return None;
        };
        let missing: u64 = loss.block.iter().map(|g| g.missing).sum();
        let size = announced_size(&data[..first_len])
            .or_else(|| retr.and_then(|n| loss.listed.get(&n).copied()));
        let used_up = size.is_some_and(|n| at.saturating_sub(first_len) as u64 + missing >= n);
        (asked_more || used_up).then_some(at)
    }

    /// The block's first `end` bytes were taken: its gaps go with them, and
    /// the stream offset moves past the bytes they lost.
    pub(super) fn take_block_gaps(&mut self, end: usize) {
        let Some(loss) = self.loss.as_deref_mut() else {
            return;
        };
        let gaps = std::mem::take(&mut loss.block);
        loss.scanned = 0;
        self.bufs[1].start += gaps.iter().map(|g| g.missing).sum::<u64>();
        loss.taken = gaps.into_iter().filter(|g| g.offset <= end).collect();
    }

    /// The gaps of the block just taken, at offsets of its PDU's bytes.
    pub(super) fn taken_gaps(&self) -> &[MessageGap] {
        self.loss.as_ref().map_or(&[], |l| &l.taken)
    }

    /// The block just taken is shown: its gaps are done with.
    pub(super) fn clear_taken_gaps(&mut self) {
        if let Some(loss) = self.loss.as_mut() {
            loss.taken.clear();
        }
    }
}

/// The size a status line announces: `+OK 1234 octets` (RFC 1939 examples).
fn announced_size(status: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(status).ok()?;
    let mut words = text.split_whitespace().skip(1);
    let size = words.next()?.parse().ok()?;
    words
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("octets"))
        .then_some(size)
}

/// Message content from a block body that starts at `body_at` in its PDU and
/// lost bytes at `gaps` (PDU offsets): dot-unstuffed around the gaps, each
/// noted where it was in the content. Returns the content, the lines
/// unstuffed and the gaps in the content.
pub(super) fn unstuff_around(
    body: &[u8],
    body_at: usize,
    gaps: &[MessageGap],
) -> (Vec<u8>, u64, Vec<MessageGap>) {
    let mut content = Vec::with_capacity(body.len());
    let mut content_gaps = Vec::new();
    let (mut unstuffed, mut at) = (0, 0);
    for gap in gaps {
        let upto = gap.offset.saturating_sub(body_at).clamp(at, body.len());
        unstuffed += unstuff_into(&body[at..upto], &mut content, usize::MAX).0;
        note_gap(&mut content, &mut content_gaps, gap.missing, usize::MAX);
        at = upto;
    }
    unstuffed += unstuff_into(&body[at..], &mut content, usize::MAX).0;
    (content, unstuffed, content_gaps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::MailMessage;

    use crate::text::testing::{expert_messages, only, run_with_gaps, values, Step};
    use Direction::ToClient as S;

    /// After a greeting: the messages, and the session as it was left.
    fn retrieved(steps: &[Step]) -> (Vec<MailMessage>, Pop3) {
        let mut script = vec![Step::Server("+OK ready\r\n")];
        script.extend_from_slice(steps);
        let (pdus, pop) = run_with_gaps(&script, Pop3::gap);
        (pdus.into_iter().filter_map(|p| p.message).collect(), pop)
    }

    #[test]
    fn a_status_line_inside_a_message_after_a_gap_does_not_end_it() {
        use Step::*;
        let (messages, pop) = retrieved(&[
            Client("RETR 1\r\n"),
            Server("+OK 100 octets\r\nSubject: a\r\n\r\nline\r\n"),
            Lost(S, 10),
            Server("+OK looks like a status line\r\nmore\r\n.\r\n"),
        ]);
        let message = only(&messages);
        assert!(message.complete);
        assert_eq!(
            message.content,
            b"Subject: a\r\n\r\nline\r\n+OK looks like a status line\r\nmore\r\n"
        );
        assert_eq!(
            message.gaps,
            [MessageGap {
                offset: 20,
                missing: 10
            }]
        );
        assert!(pop.pending.is_empty());
    }

    #[test]
    fn a_lost_answer_to_pass_followed_by_stat_is_a_login() {
        use Step::*;
        let (pdus, pop) = run_with_gaps(
            &[
                Server("+OK ready\r\n"),
                Client("USER bob\r\n"),
                Server("+OK\r\n"),
                Client("PASS s3cret\r\n"),
                Lost(S, 16),
                Client("STAT\r\n"),
                Server("+OK 2 320\r\n"),
            ],
            Pop3::gap,
        );
        assert_eq!(pop.state_name(), "transaction");
        assert_eq!(
            values(&pdus, crate::Field::PopResponseCommand),
            ["USER", "STAT"]
        );
        assert_eq!(
            expert_messages(&pdus, Expert::Gap),
            [
                "16 bytes missing from the capture",
                "the response to PASS (frame 4) was lost in the capture"
            ]
        );
    }

    #[test]
    fn a_gap_in_a_block_s_status_line_skips_the_block_not_the_session() {
        use Step::*;
        let (pdus, pop) = run_with_gaps(
            &[
                Server("+OK ready\r\n"),
                Client("RETR 1\r\n"),
                Server("+OK 120 oc"),
                Lost(S, 30),
                Server("line\r\n+OK not a status\r\nmore\r\n.\r\n"),
                Client("QUIT\r\n"),
                Server("+OK bye\r\n"),
            ],
            Pop3::gap,
        );
        assert!(pdus.iter().all(|p| p.message.is_none()));
        assert_eq!(values(&pdus, crate::Field::PopResponseCommand), ["QUIT"]);
        assert!(expert_messages(&pdus, Expert::BadReply).is_empty());
        assert!(pop.pending.is_empty());
    }

    #[test]
    fn the_listed_size_ends_a_message_whose_dot_was_lost() {
        use Step::*;
        let (messages, _) = retrieved(&[
            Client("LIST\r\n"),
            Server("+OK 1 message\r\n1 20\r\n.\r\n"),
            Client("RETR 1\r\n"),
            Server("+OK\r\nSubject: a\r\n\r\nab"),
            Lost(S, 9),
            Server("+OK 1 20\r\n"),
        ]);
        let message = only(&messages);
        assert_eq!(message.content, b"Subject: a\r\n\r\nab\r\n");
        // With no size to go by, the status line is content: the block waits for its dot.
        let (messages, pop) = retrieved(&[
            Client("RETR 1\r\n"),
            Server("+OK\r\nSubject: a\r\n\r\nab"),
            Lost(S, 9),
            Server("+OK 1 20\r\n"),
        ]);
        assert!(messages.is_empty() && pop.pending.len() == 1);
    }

    #[test]
    fn the_announced_octets_end_a_message_whose_dot_was_lost() {
        use Step::*;
        // The client's next command was lost too: only the size says the message is over.
        let (messages, _) = retrieved(&[
            Client("RETR 1\r\n"),
            Server("+OK 20 octets\r\nSubject: a\r\n\r\nab"),
            Lost(S, 9),
            Server("+OK 2 0\r\n"),
        ]);
        let message = only(&messages);
        assert!(!message.complete && message.truncated);
        assert_eq!(message.content, b"Subject: a\r\n\r\nab\r\n");
        assert_eq!(
            message.gaps,
            [MessageGap {
                offset: 16,
                missing: 9
            }]
        );
    }

    #[test]
    fn the_announced_size_and_content_around_a_gap() {
        assert_eq!(announced_size(b"+OK 8911 octets\r\n"), Some(8911));
        assert_eq!(announced_size(b"+OK 2 messages\r\n"), None);
        let body = b"Subject: x\r\n\r\nab..c";
        let gaps = [MessageGap {
            offset: 4 + 16,
            missing: 10,
        }];
        let (content, unstuffed, at) = unstuff_around(body, 4, &gaps);
        assert_eq!(content, b"Subject: x\r\n\r\nab\r\n.c");
        assert_eq!(unstuffed, 1);
        assert_eq!(
            at,
            [MessageGap {
                offset: 16,
                missing: 10
            }]
        );
    }
}
