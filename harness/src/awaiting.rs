//! Which SMTP transaction a reply belongs to. A PIPELINING client may send
//! the next transaction's RSET, MAIL, RCPT and DATA before the reply to the
//! last message's final dot (RFC 2920), so the latest transaction is not
//! always the one a reply answers: each request is remembered with its
//! transaction until the reply that names it (by frame and verb) comes.

use std::collections::VecDeque;

/// Most requests remembered (the core's pipelining cap): past it the oldest
/// are forgotten, so a server that never answers costs bounded memory.
const MAX_AWAITING: usize = 1000;

/// Requests awaiting their reply: (frame, verb, transaction index), in the
/// order sent. A message's final dot is a request of its own, verb `DATA`.
#[derive(Default)]
pub(crate) struct Awaiting(VecDeque<(u64, String, usize)>);

impl Awaiting {
    pub(crate) fn push(&mut self, frame: u64, verb: &str, transaction: usize) {
        if self.0.len() >= MAX_AWAITING {
            self.0.pop_front();
        }
        self.0.push_back((frame, verb.to_string(), transaction));
    }

    /// The transaction of the first request sent in `frame` with `verb`
    /// still awaiting its reply; the requests before it are done with.
    pub(crate) fn answer(&mut self, frame: u64, verb: &str) -> Option<usize> {
        let at = self
            .0
            .iter()
            .position(|(f, v, _)| *f == frame && v == verb)?;
        self.0
            .drain(..=at)
            .next_back()
            .map(|(_, _, transaction)| transaction)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_finds_its_request_among_pipelined_ones() {
        let mut awaiting = Awaiting::default();
        // Frame 5: DATA and its content in one segment; frame 7: the final
        // dot of message 0, then RSET and the next MAIL pipelined behind it.
        awaiting.push(5, "DATA", 0);
        awaiting.push(7, "DATA", 0);
        awaiting.push(7, "RSET", 0);
        awaiting.push(7, "MAIL", 1);
        assert_eq!(awaiting.answer(5, "DATA"), Some(0)); // 354
        assert_eq!(awaiting.answer(7, "DATA"), Some(0)); // 250 for the message
        assert_eq!(awaiting.answer(7, "MAIL"), Some(1)); // RSET's reply was not seen
        assert_eq!(awaiting.answer(7, "RSET"), None);
    }
}
