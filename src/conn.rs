//! One TCP connection: reassembly of both directions feeding a protocol engine.
//!
//! This is the whole surface the hosts use. The harness calls it for every
//! TCP segment it reads from a capture; the Wireshark plugin calls it for
//! every segment the TCP dissector hands over on the first pass, and stores
//! what comes back per frame.

use crate::detect::Protocol;
use crate::item::{Direction, Pdu};
use crate::reassembly::{Chunk, Reassembler};
use crate::smtp::{Limits, Smtp};

/// What one segment produced.
#[derive(Debug, Default)]
pub struct SegmentOutput {
    /// PDUs completed by this segment, in stream order.
    pub pdus: Vec<Pdu>,
    /// Stream offset of the segment's first byte, if it was not all old.
    pub stream_offset: Option<u64>,
    /// The segment's bytes belong to a TLS session (after STARTTLS).
    pub encrypted: bool,
}

#[derive(Debug)]
pub struct Connection {
    protocol: Protocol,
    streams: [Reassembler; 2],
    engine: Smtp,
}

impl Connection {
    pub fn new(protocol: Protocol) -> Self {
        Connection::with_limits(protocol, Limits::default())
    }

    pub fn with_limits(protocol: Protocol, limits: Limits) -> Self {
        Connection {
            protocol,
            streams: Default::default(),
            engine: Smtp::new(limits),
        }
    }

    /// The decrypted session that follows an accepted STARTTLS.
    pub fn after_starttls(protocol: Protocol) -> Self {
        Connection {
            protocol,
            streams: Default::default(),
            engine: Smtp::after_starttls(Limits::default()),
        }
    }

    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The direction's first payload byte has this sequence number (SYN + 1).
    pub fn start_at(&mut self, direction: Direction, first_seq: u32) {
        self.streams[direction.index()].start_at(first_seq);
    }

    /// The engine's state name now (for example `ready`, `auth`, `data`).
    pub fn state_name(&self) -> &'static str {
        self.engine.state_name()
    }

    /// One TCP segment with its payload. `ack` is the segment's acknowledgement
    /// number, used to notice bytes the other direction lost.
    pub fn segment(
        &mut self,
        direction: Direction,
        seq: u32,
        ack: Option<u32>,
        payload: &[u8],
        frame: u64,
    ) -> SegmentOutput {
        let mut out = SegmentOutput::default();
        if let Some(ack) = ack {
            let other = match direction {
                Direction::ToServer => Direction::ToClient,
                Direction::ToClient => Direction::ToServer,
            };
            let chunks = self.streams[other.index()].acked(ack);
            self.deliver(other, chunks, frame, &mut out);
        }
        out.stream_offset = self.streams[direction.index()].offset_of(seq);
        if out.stream_offset.is_none() && self.streams[direction.index()].offset() == 0 {
            out.stream_offset = Some(0);
        }
        let chunks = self.streams[direction.index()].push(seq, payload);
        self.deliver(direction, chunks, frame, &mut out);
        out
    }

    /// Bytes already in stream order (for example decrypted TLS records).
    pub fn stream_data(&mut self, direction: Direction, data: &[u8], frame: u64) -> SegmentOutput {
        let mut out = SegmentOutput::default();
        self.deliver(direction, vec![Chunk::Data(data.to_vec())], frame, &mut out);
        out
    }

    /// End of the capture: what waited for missing bytes, and open messages.
    pub fn finish(&mut self, frame: u64) -> Vec<Pdu> {
        let mut out = SegmentOutput::default();
        for direction in [Direction::ToServer, Direction::ToClient] {
            let chunks = self.streams[direction.index()].finish();
            self.deliver(direction, chunks, frame, &mut out);
        }
        out.pdus.extend(self.engine.finish(frame));
        out.pdus
    }

    fn deliver(
        &mut self,
        direction: Direction,
        chunks: Vec<Chunk>,
        frame: u64,
        out: &mut SegmentOutput,
    ) {
        for chunk in chunks {
            match chunk {
                Chunk::Data(data) => {
                    let (pdus, encrypted) = self.engine.feed(direction, &data, frame);
                    out.pdus.extend(pdus);
                    out.encrypted |= encrypted;
                }
                Chunk::Gap(missing) => out.pdus.extend(self.engine.gap(direction, missing, frame)),
            }
        }
    }
}
