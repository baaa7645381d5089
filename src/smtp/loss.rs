//! Bytes the capture lost, on the session's side: message content keeps
//! what came before and after a gap, its end is still found (the final dot,
//! the BDAT count, or the server's reply when the gap ate the dot), and a
//! reply lost whole does not shift the pairing of the replies after it.

use crate::fields::Expert;
use crate::item::{Direction, Pdu};
use crate::text::gap_pdu;

use super::content::PieceEnd;
use crate::text::find_end_of_data;

/// How far past a gap in DATA content the client's next command is looked for.
const COMMAND_SEARCH: usize = 8192;

/// Lines a client sends after a message, never inside one this close to a gap.
const AFTER_MESSAGE: &[&[u8]] = &[
    b"MAIL FROM:",
    b"RSET\r\n",
    b"QUIT\r\n",
    b"NOOP\r\n",
    b"EHLO ",
    b"HELO ",
];
use super::session::{ClientMode, Smtp};

impl Smtp {
    /// Bytes the capture lost. Message content keeps what came before and
    /// after (see `content::content_gap`); a command or reply line resumes
    /// where the next line starts.
    pub fn gap(&mut self, direction: Direction, missing: u64, frame: u64) -> Vec<Pdu> {
        let in_content = matches!(
            self.client,
            ClientMode::Data | ClientMode::DataPending | ClientMode::Bdat { .. }
        );
        if direction == Direction::ToServer && in_content {
            return self.content_gap(missing, frame);
        }
        let buf = &mut self.bufs[direction.index()];
        let at_line_start = buf.data.is_empty();
        let pdu = gap_pdu(buf, direction, missing, frame);
        buf.after_gap = true;
        if direction == Direction::ToClient && at_line_start {
            self.replies_lost();
        }
        vec![pdu]
    }

    /// A gap in the client's bytes while it sends message content.
    pub(super) fn content_gap(&mut self, missing: u64, frame: u64) -> Vec<Pdu> {
        let mut out = Vec::new();
        if let ClientMode::Bdat {
            remaining,
            last,
            size,
        } = self.client
        {
            // The chunk's count still frames it: the lost bytes are noted in it.
            let lost = missing.min(remaining);
            self.message.chunk_gap(lost);
            out.push(gap_pdu(
                &mut self.bufs[0],
                Direction::ToServer,
                missing,
                frame,
            ));
            self.client = ClientMode::Bdat {
                remaining: remaining - lost,
                last,
                size,
            };
            if remaining == lost {
                out.extend(self.end_chunk(frame));
                // The gap went on into the next command line.
                self.bufs[0].after_gap |= missing > lost;
            }
            return out;
        }
        // DATA: what is buffered goes into the message before the gap.
        let buf = &mut self.bufs[0];
        match buf.data.len() {
            0 => {
                let start = buf.start;
                self.message.begin(frame, start);
            }
            len => {
                let (offset, raw) = buf.take(len);
                out.push(self.data_piece(frame, offset, raw, PieceEnd::Open));
            }
        }
        out.push(gap_pdu(
            &mut self.bufs[0],
            Direction::ToServer,
            missing,
            frame,
        ));
        self.message.gap(missing, self.limits.max_message);
        out
    }

    /// DATA content that lost bytes, and the server replies: the reply
    /// proves the message ended (its final dot was in the gap). The message
    /// is handed over before the reply is framed, so the reply answers it.
    pub(super) fn message_ended_in_gap(&mut self, frame: u64) -> Option<Pdu> {
        if self.client != ClientMode::Data || !self.message.has_gaps() {
            return None;
        }
        let reply_ready = matches!(
            super::reply::frame(
                &self.bufs[1].data,
                self.limits.max_line,
                self.limits.max_reply_lines
            ),
            super::reply::Framing::Reply { .. }
        );
        if !reply_ready {
            return None;
        }
        let buf = &mut self.bufs[0];
        let len = buf.data.len();
        let (offset, raw) = buf.take(len);
        Some(self.data_piece(frame, offset, raw, PieceEnd::LostInGap))
    }

    /// DATA content that lost bytes, and a command line follows the gap
    /// (within [`COMMAND_SEARCH`] bytes, before any final dot): the gap ate
    /// the dot, and the client went on. The message ends where the command
    /// starts.
    pub(super) fn message_ended_before_command(&mut self, frame: u64) -> Option<Pdu> {
        if self.client != ClientMode::Data {
            return None;
        }
        let lost = self
            .message
            .lost
            .as_deref_mut()
            .filter(|l| !l.gaps.is_empty())?;
        if lost.searched {
            return None;
        }
        let data = &self.bufs[0].data;
        let window = &data[..data.len().min(COMMAND_SEARCH)];
        let mut at = 0;
        let command_at = loop {
            let rest = &window[at..];
            let command = AFTER_MESSAGE
                .iter()
                .any(|c| rest.len() >= c.len() && rest[..c.len()].eq_ignore_ascii_case(c));
            if command {
                break Some(at);
            }
            match memchr::memchr(b'\n', rest) {
                Some(i) => at += i + 1,
                None => break None,
            }
        };
        let Some(at) = command_at else {
            lost.searched = data.len() >= COMMAND_SEARCH;
            return None;
        };
        // A final dot before the command ends the message the usual way.
        if data.starts_with(b".\r\n") || find_end_of_data(&data[..at]).is_some() {
            return None;
        }
        let (offset, raw) = self.bufs[0].take(at);
        Some(self.data_piece(frame, offset, raw, PieceEnd::LostInGap))
    }

    /// A gap in the server's bytes where a reply would start: the replies it
    /// held are gone. Before any greeting, it was the greeting; else the
    /// first reply after the gap decides (see [`Smtp::skip_lost_reply`]).
    pub(super) fn replies_lost(&mut self) {
        if !self.greeted && self.pending.is_empty() {
            self.greeted = true;
        } else {
            self.reply_lost = !self.pending.is_empty();
        }
    }

    /// The first reply after a gap in the server's bytes: when the client
    /// has sent more than one command since, the oldest one's reply was in
    /// the gap (a client waits for a reply before it goes on, or sent a
    /// pipelined group whose first reply was lost). It is taken as
    /// answered, so this reply pairs with the command it answers.
    pub(super) fn skip_lost_reply(&mut self, code: u16, pdu: &mut Pdu) {
        if !std::mem::take(&mut self.reply_lost) || self.pending.len() < 2 || code == 334 {
            return;
        }
        let Some(lost) = self.pending.pop_front() else {
            return;
        };
        if lost.verb == "DATA" && self.client == ClientMode::DataPending {
            // Its 354 was lost; the content the client sent told as much.
            self.client = ClientMode::Data;
        }
        pdu.anomaly(
            Expert::Gap,
            0,
            0,
            format!(
                "the reply to {} (frame {}) was lost in the capture",
                lost.verb, lost.frame
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{MailMessage, MessageGap};
    use crate::text::testing::{only, run_with_gaps, values, Step};

    use Direction::ToServer as C;

    /// After a greeting and an open transaction: the messages, every
    /// reply's "in reply to" verb, and the session as it was left.
    fn run(steps: &[Step]) -> (Vec<MailMessage>, Vec<String>, Smtp) {
        use Step::*;
        let mut script = vec![
            Server("220 hi\r\n"),
            Client("MAIL FROM:<a@b>\r\n"),
            Server("250 ok\r\n"),
            Client("RCPT TO:<c@d>\r\n"),
            Server("250 ok\r\n"),
        ];
        script.extend_from_slice(steps);
        let (pdus, smtp) = run_with_gaps(&script, Smtp::gap);
        let answered = values(&pdus, crate::Field::SmtpReplyCommand);
        let messages = pdus.into_iter().filter_map(|p| p.message).collect();
        (messages, answered, smtp)
    }

    #[test]
    fn data_keeps_the_bytes_around_a_gap_and_ends_at_its_dot() {
        use Step::*;
        let (messages, _, smtp) = run(&[
            Client("DATA\r\n"),
            Server("354 go\r\n"),
            Client("Subject: x\r\n\r\nfirst half of a li"),
            Lost(C, 40),
            Client("ne\r\n..dotted\r\n.\r\n"),
            Server("250 queued\r\n"),
            Client("QUIT\r\n"),
        ]);
        let message = only(&messages);
        assert!(message.complete && message.truncated);
        assert_eq!(
            message.content,
            b"Subject: x\r\n\r\nfirst half of a li\r\nne\r\n.dotted\r\n"
        );
        assert_eq!(
            message.gaps,
            [MessageGap {
                offset: 32,
                missing: 40
            }]
        );
        assert_eq!(smtp.state_name(), "quit");
    }

    #[test]
    fn the_reply_ends_a_message_whose_dot_was_lost_and_answers_it() {
        use Step::*;
        let (messages, answered, smtp) = run(&[
            Client("DATA\r\n"),
            Server("354 go\r\n"),
            Client("Subject: x\r\n\r\nbody\r\n"),
            Lost(C, 12),
            Server("250 queued\r\n"),
            Client("MAIL FROM:<a@b>\r\n"),
            Server("250 ok\r\n"),
        ]);
        let message = only(&messages);
        assert!(!message.complete && message.truncated);
        assert_eq!(message.content, b"Subject: x\r\n\r\nbody\r\n");
        assert_eq!(answered, ["MAIL", "RCPT", "DATA", "DATA", "MAIL"]);
        assert_eq!(smtp.state_name(), "mail");
    }

    #[test]
    fn the_client_s_next_command_ends_a_message_whose_dot_was_lost() {
        use Step::*;
        // A pipelining client sends its next transaction before the reply.
        let (messages, answered, smtp) = run(&[
            Client("DATA\r\n"),
            Server("354 go\r\n"),
            Client("Subject: x\r\n\r\nbody\r\n"),
            Lost(C, 12),
            Client("MAIL FROM:<a@b>\r\nRCPT TO:<e@f>\r\n"),
            Server("250 queued\r\n250 ok\r\n250 ok\r\n"),
        ]);
        let message = only(&messages);
        assert!(!message.complete && message.truncated);
        assert_eq!(message.content, b"Subject: x\r\n\r\nbody\r\n");
        assert_eq!(answered, ["MAIL", "RCPT", "DATA", "DATA", "MAIL", "RCPT"]);
        assert_eq!(smtp.state_name(), "rcpt");
    }

    #[test]
    fn a_bdat_chunk_counts_its_lost_bytes_and_the_next_command_resyncs() {
        use Step::*;
        let (messages, answered, smtp) = run(&[
            Client("BDAT 10 LAST\r\nabc"),
            // The chunk's last 7 bytes and the start of the next line.
            Lost(C, 9),
            Client("IT\r\nQUIT\r\n"),
            Server("250 ok\r\n221 bye\r\n"),
        ]);
        let message = only(&messages);
        assert_eq!(message.content, b"abc\r\n");
        assert_eq!(
            message.gaps,
            [MessageGap {
                offset: 3,
                missing: 7
            }]
        );
        assert_eq!(answered, ["MAIL", "RCPT", "BDAT", "QUIT"]);
        assert_eq!(smtp.state_name(), "quit");
    }
}
