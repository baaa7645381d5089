//! One direction of a TCP connection turned back into a byte stream.
//!
//! Segments arrive with their sequence numbers, in capture order:
//! retransmitted and overlapping bytes are dropped, early segments wait
//! (bounded by [`MAX_PENDING_BYTES`]), and bytes the capture never saw are
//! reported as a gap once the peer acknowledges past them, the pending
//! buffer overflows, or the stream ends.

use std::collections::BTreeMap;

/// Out-of-order bytes held per direction before the hole is declared a gap.
pub const MAX_PENDING_BYTES: usize = 4 * 1024 * 1024;

/// What the reassembler hands on, in stream order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Chunk {
    Data(Vec<u8>),
    /// This many bytes are missing from the capture.
    Gap(u64),
}

#[derive(Clone, Debug, Default)]
pub struct Reassembler {
    /// Sequence number of the next byte to deliver.
    next_seq: Option<u32>,
    /// Early segments, keyed by their distance ahead of `next_seq` at arrival.
    pending: BTreeMap<u32, Vec<u8>>,
    pending_bytes: usize,
    /// Bytes delivered (data and gaps) so far: the stream offset of `next_seq`.
    delivered: u64,
}

/// `a - b` in sequence space, as a signed distance.
fn seq_diff(a: u32, b: u32) -> i64 {
    i64::from(a.wrapping_sub(b) as i32)
}

impl Reassembler {
    /// The stream starts at `first_seq` (SYN's sequence number plus one).
    pub fn start_at(&mut self, first_seq: u32) {
        if self.next_seq.is_none() {
            self.next_seq = Some(first_seq);
        }
    }

    /// Stream offset of the next byte to be delivered.
    pub fn offset(&self) -> u64 {
        self.delivered
    }

    /// Stream offset at which `seq` would land, if it is not behind the stream.
    /// Before any segment, the first one starts the stream.
    pub fn offset_of(&self, seq: u32) -> Option<u64> {
        let Some(next) = self.next_seq else {
            return Some(self.delivered);
        };
        let diff = seq_diff(seq, next);
        (diff >= 0).then(|| self.delivered + diff as u64)
    }

    /// Takes one segment and returns what is now deliverable.
    pub fn push(&mut self, seq: u32, data: &[u8]) -> Vec<Chunk> {
        let mut out = Vec::new();
        if data.is_empty() {
            return out;
        }
        let next = *self.next_seq.get_or_insert(seq);
        let diff = seq_diff(seq, next);
        if diff < 0 {
            // Retransmission or overlap: keep only what is new.
            let skip = diff.unsigned_abs();
            if skip >= data.len() as u64 {
                return out;
            }
            self.deliver(data[skip as usize..].to_vec(), &mut out);
        } else if diff == 0 {
            self.deliver(data.to_vec(), &mut out);
        } else {
            let seq_key = seq;
            let entry = self.pending.entry(seq_key).or_default();
            if entry.len() < data.len() {
                self.pending_bytes += data.len() - entry.len();
                *entry = data.to_vec();
            }
            if self.pending_bytes > MAX_PENDING_BYTES {
                self.skip_to_pending(&mut out);
            }
            return out;
        }
        self.drain_pending(&mut out);
        out
    }

    /// The peer acknowledged up to `ack`: whatever before it is still missing
    /// never made it into the capture. With nothing waiting behind the hole
    /// (the lost segment was the last one sent so far), the acknowledgement
    /// alone says how many bytes were lost; one byte past is a FIN, not data.
    pub fn acked(&mut self, ack: u32) -> Vec<Chunk> {
        let mut out = Vec::new();
        let Some(next) = self.next_seq else {
            return out;
        };
        let ahead = seq_diff(ack, next);
        if ahead <= 0 {
            return out;
        }
        let first = self
            .pending
            .keys()
            .copied()
            .min_by_key(|k| seq_diff(*k, next));
        match first {
            Some(first) if seq_diff(first, next) > 0 && seq_diff(ack, first) >= 0 => {
                self.skip_to_pending(&mut out);
            }
            Some(_) => {}
            None if ahead > 1 => {
                out.push(Chunk::Gap(ahead as u64));
                self.delivered += ahead as u64;
                self.next_seq = Some(ack);
            }
            None => {}
        }
        out
    }

    /// End of capture: deliver what waits, with gaps before it.
    pub fn finish(&mut self) -> Vec<Chunk> {
        let mut out = Vec::new();
        while !self.pending.is_empty() {
            self.skip_to_pending(&mut out);
        }
        out
    }

    fn deliver(&mut self, data: Vec<u8>, out: &mut Vec<Chunk>) {
        let len = data.len();
        self.next_seq = Some(self.next_seq.unwrap_or(0).wrapping_add(len as u32));
        self.delivered += len as u64;
        out.push(Chunk::Data(data));
    }

    fn skip_to_pending(&mut self, out: &mut Vec<Chunk>) {
        let next = self.next_seq.unwrap_or(0);
        let Some(first) = self
            .pending
            .keys()
            .copied()
            .min_by_key(|k| seq_diff(*k, next))
        else {
            return;
        };
        let missing = seq_diff(first, next);
        if missing > 0 {
            out.push(Chunk::Gap(missing as u64));
            self.delivered += missing as u64;
            self.next_seq = Some(first);
        }
        self.drain_pending(out);
    }

    fn drain_pending(&mut self, out: &mut Vec<Chunk>) {
        loop {
            let next = self.next_seq.unwrap_or(0);
            let ready: Vec<u32> = self
                .pending
                .keys()
                .copied()
                .filter(|k| seq_diff(*k, next) <= 0)
                .collect();
            if ready.is_empty() {
                return;
            }
            for key in ready {
                let data = self.pending.remove(&key).unwrap_or_default();
                self.pending_bytes -= data.len();
                let next = self.next_seq.unwrap_or(0);
                let skip = seq_diff(next, key) as u64;
                if skip < data.len() as u64 {
                    self.deliver(data[skip as usize..].to_vec(), out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(chunks: Vec<Chunk>) -> Vec<u8> {
        chunks
            .into_iter()
            .flat_map(|c| match c {
                Chunk::Data(d) => d,
                Chunk::Gap(n) => vec![b'#'; n as usize],
            })
            .collect()
    }

    #[test]
    fn reorders_and_drops_retransmissions() {
        let mut r = Reassembler::default();
        r.start_at(100);
        assert!(r.push(105, b"world").is_empty());
        assert_eq!(bytes(r.push(100, b"hello")), b"helloworld");
        assert!(r.push(100, b"hello").is_empty());
        assert_eq!(bytes(r.push(108, b"ldXY")), b"XY");
    }

    #[test]
    fn ack_past_a_hole_reports_the_gap() {
        let mut r = Reassembler::default();
        r.start_at(0);
        r.push(0, b"ab");
        assert!(r.push(5, b"fg").is_empty());
        assert_eq!(r.acked(7), vec![Chunk::Gap(3), Chunk::Data(b"fg".to_vec())]);
        assert_eq!(r.offset(), 7);
    }

    #[test]
    fn an_ack_past_the_last_segment_reports_it_lost_but_not_a_fin() {
        let mut r = Reassembler::default();
        r.start_at(0);
        r.push(0, b"ab");
        assert!(r.acked(3).is_empty(), "a FIN takes one sequence number");
        assert_eq!(r.acked(7), vec![Chunk::Gap(5)]);
        assert_eq!(bytes(r.push(7, b"hi")), b"hi");
        assert_eq!(r.offset(), 9);
    }

    #[test]
    fn sequence_wraparound() {
        let mut r = Reassembler::default();
        r.start_at(u32::MAX - 1);
        assert_eq!(bytes(r.push(u32::MAX - 1, b"abcd")), b"abcd");
        assert_eq!(bytes(r.push(2, b"ef")), b"ef");
    }
}
