//! The blocks of multi-line responses: RETR and TOP content as a
//! [`MailMessage`], CAPA lines, AUTH mechanism lists and LIST/UIDL listings.

use crate::fields::{Expert, Field};
use crate::item::{Item, Pdu};
use crate::message::{MailMessage, MessageSource};
use crate::text::{lossy, strip_eol};

use super::response;
use super::session::Pop3;
use super::tree::{self, Answered};

/// Malformed listing lines reported one by one; the rest are counted.
const MAX_MALFORMED_SHOWN: usize = 10;

impl Pop3 {
    /// Items for the block of a multi-line response, which starts at `body_at`.
    pub(super) fn block_items(
        &mut self,
        pdu: &mut Pdu,
        tree: &mut Item,
        command: &Answered,
        body_at: usize,
        terminated: bool,
    ) {
        let first_frame = self.block_first_frame.take().unwrap_or(pdu.frame);
        let body_end = response::body_end(&pdu.bytes, body_at, terminated);
        let body = pdu.bytes[body_at..body_end].to_vec();
        let verb = command.verb.as_str();
        if matches!(verb, "RETR" | "TOP") {
            let (content, unstuffed, gaps) =
                super::loss::unstuff_around(&body, body_at, self.taken_gaps());
            let missing: u64 = gaps.iter().map(|g| g.missing).sum();
            tree.push(tree::content(body_at, body.len(), content.len(), unstuffed));

            let mut numbers = command
                .argument
                .split(' ')
                .filter(|w| !w.is_empty())
                .map(|n| n.parse::<u64>().unwrap_or(0));
            let number = numbers.next().unwrap_or(0);
            let source = if verb == "TOP" {
                MessageSource::Pop3Top {
                    number,
                    lines: numbers.next().unwrap_or(0),
                }
            } else {
                MessageSource::Pop3Retr { number }
            };
            // The message number and its size, as users look for them.
            let what = match source {
                MessageSource::Pop3Top { lines, .. } => {
                    format!("top {lines} lines of message {number}")
                }
                _ => format!("message {number}"),
            };
            pdu.info = format!("S: +OK {what}, {} bytes", content.len());
            pdu.message = Some(MailMessage {
                source,
                content,
                first_frame,
                last_frame: pdu.frame,
                stream_start: pdu.stream_offset + body_at as u64,
                stream_end: pdu.stream_offset + pdu.bytes.len() as u64 + missing,
                complete: terminated,
                truncated: !terminated || !gaps.is_empty(),
                gaps,
            });
            return;
        }
        let mut at = body_at;
        // At most `max_reply_lines` lines become items, and a few malformed
        // ones anomalies; the rest are counted and said once.
        let max_items = self.limits.max_reply_lines;
        let (mut shown, mut hidden, mut malformed) = (0usize, 0usize, 0usize);
        for line in body.split_inclusive(|b| *b == b'\n') {
            let text_line = strip_eol(line);
            if shown >= max_items {
                hidden += usize::from(!text_line.is_empty());
                at += line.len();
                continue;
            }
            shown += 1;
            match verb {
                "CAPA" => tree.push(Item::text(
                    Field::PopCapability,
                    at,
                    text_line.len(),
                    lossy(text_line),
                )),
                // AUTH with no mechanism: the server lists the ones it offers.
                "AUTH" if !text_line.is_empty() => tree.push(Item::text(
                    Field::AuthMechanism,
                    at,
                    text_line.len(),
                    lossy(text_line),
                )),
                "LIST" | "UIDL" => match response::listing_entry(verb, text_line, at) {
                    Some(entry) => {
                        self.remember_listed(&entry);
                        tree.push(tree::listing(&entry))
                    }
                    None if !text_line.is_empty() => {
                        malformed += 1;
                        if malformed <= MAX_MALFORMED_SHOWN {
                            pdu.anomaly(
                                Expert::BadReply,
                                at,
                                text_line.len(),
                                format!("{verb} line is not \"number value\""),
                            );
                        }
                    }
                    None => {}
                },
                _ => {}
            }
            at += line.len();
        }
        if malformed > MAX_MALFORMED_SHOWN {
            pdu.anomaly(
                Expert::BadReply,
                body_at,
                0,
                format!(
                    "{} more {verb} lines are not \"number value\"",
                    malformed - MAX_MALFORMED_SHOWN
                ),
            );
        }
        if hidden > 0 {
            pdu.anomaly(
                Expert::Truncated,
                body_at,
                0,
                format!(
                    "{verb} response of more than {max_items} lines: {hidden} more are not shown"
                ),
            );
        }
    }
}
