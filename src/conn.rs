//! One TCP connection: reassembly of both directions feeding a protocol engine.
//!
//! This is the whole surface the hosts use. The harness calls it for every
//! TCP segment it reads from a capture; the Wireshark plugin calls it for
//! every segment the TCP dissector hands over on the first pass, and stores
//! what comes back per frame.

use crate::detect::{Protocol, Replay};
use crate::item::{Direction, Pdu};
use crate::limits::Limits;
use crate::mime;
use crate::pop3::Pop3;
use crate::reassembly::{Chunk, Reassembler};
use crate::smtp::Smtp;
use crate::text::TlsBytes;

/// What one segment produced.
#[derive(Debug, Default)]
pub struct SegmentOutput {
    /// PDUs completed by this segment, in stream order.
    pub pdus: Vec<Pdu>,
    /// Stream offset of the segment's first byte, if it was not all old.
    pub stream_offset: Option<u64>,
    /// The segment's bytes belong to a TLS session (after STARTTLS).
    pub encrypted: bool,
    /// Those TLS bytes, in stream order per direction, when the connection
    /// was asked to keep them ([`Connection::keep_tls_bytes`]): what a TLS
    /// decryptor needs.
    pub tls: Vec<(Direction, Vec<u8>)>,
}

/// The protocol engine of a connection.
#[derive(Clone, Debug)]
enum Engine {
    Smtp(Smtp),
    Pop3(Pop3),
}

impl Engine {
    /// `resumed`: the decrypted session after STARTTLS or STLS, where no greeting comes.
    fn new(protocol: Protocol, limits: Limits, resumed: bool) -> Self {
        match (protocol, resumed) {
            (Protocol::Smtp, false) => Engine::Smtp(Smtp::new(limits)),
            (Protocol::Smtp, true) => Engine::Smtp(Smtp::after_starttls(limits)),
            (Protocol::Pop3, false) => Engine::Pop3(Pop3::new(limits)),
            (Protocol::Pop3, true) => Engine::Pop3(Pop3::after_stls(limits)),
        }
    }

    fn feed(&mut self, direction: Direction, data: &[u8], frame: u64) -> (Vec<Pdu>, TlsBytes) {
        match self {
            Engine::Smtp(e) => e.feed_tls(direction, data, frame),
            Engine::Pop3(e) => e.feed_tls(direction, data, frame),
        }
    }
    fn gap(&mut self, direction: Direction, missing: u64, frame: u64) -> Vec<Pdu> {
        match self {
            Engine::Smtp(e) => e.gap(direction, missing, frame),
            Engine::Pop3(e) => e.gap(direction, missing, frame),
        }
    }
    fn finish(&mut self, frame: u64) -> Vec<Pdu> {
        match self {
            Engine::Smtp(e) => e.finish(frame),
            Engine::Pop3(e) => e.finish(frame),
        }
    }
    fn state_name(&self) -> &'static str {
        match self {
            Engine::Smtp(e) => e.state_name(),
            Engine::Pop3(e) => e.state_name(),
        }
    }
    fn awaits_tls_answer(&self) -> bool {
        match self {
            Engine::Smtp(e) => e.awaits_tls_answer(),
            Engine::Pop3(e) => e.awaits_tls_answer(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Connection {
    streams: [Reassembler; 2],
    engine: Engine,
    /// How messages are decoded.
    mime: mime::Options,
    /// Whether messages are decoded at all (on unless switched off).
    decode_messages: bool,
    /// Whether TLS bytes are handed back in [`SegmentOutput::tls`].
    keep_tls: bool,
    /// Found by content: watch for lines only another protocol sends.
    watch: bool,
    /// The first such line's description: the connection is not mail.
    contradiction: Option<String>,
}

impl Connection {
    pub fn new(protocol: Protocol) -> Self {
        Connection::with_limits(protocol, Limits::default())
    }

    pub fn with_limits(protocol: Protocol, limits: Limits) -> Self {
        Connection {
            streams: Default::default(),
            engine: Engine::new(protocol, limits, false),
            mime: mime::Options::default(),
            decode_messages: true,
            keep_tls: false,
            watch: false,
            contradiction: None,
        }
    }

    /// A connection that is TLS from its first byte (SMTP on 465, POP3 on
    /// 995): nothing is parsed as text, every byte comes back as TLS (see
    /// [`Connection::keep_tls_bytes`]).
    pub fn implicit_tls(protocol: Protocol) -> Self {
        let mut connection = Connection::new(protocol);
        match &mut connection.engine {
            Engine::Smtp(e) => e.start_tls_now(),
            Engine::Pop3(e) => e.start_tls_now(),
        }
        connection
    }

    /// The decrypted session that follows an accepted STARTTLS or STLS.
    pub fn after_starttls(protocol: Protocol) -> Self {
        Connection {
            streams: Default::default(),
            engine: Engine::new(protocol, Limits::default(), true),
            mime: mime::Options::default(),
            decode_messages: true,
            keep_tls: false,
            watch: false,
            contradiction: None,
        }
    }

    /// Text and raw headers that declare no charset and are not UTF-8 are
    /// read in `charset` (for example `gb18030`); `None` shows them as UTF-8.
    pub fn set_default_charset(&mut self, charset: Option<String>) {
        self.mime.default_charset = charset;
    }

    /// The direction's first payload byte has this sequence number (SYN + 1).
    pub fn start_at(&mut self, direction: Direction, first_seq: u32) {
        self.streams[direction.index()].start_at(first_seq);
    }

    /// The engine's state name now (for example `ready`, `auth`, `data`).
    pub fn state_name(&self) -> &'static str {
        self.engine.state_name()
    }

    /// A STARTTLS or STLS awaits the server's answer: a positive one starts TLS.
    pub fn awaits_tls_answer(&self) -> bool {
        self.engine.awaits_tls_answer()
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
        let chunks = self.streams[direction.index()].push(seq, payload);
        self.deliver(direction, chunks, frame, &mut out);
        out
    }

    /// The start of a connection found by content: the segments the
    /// [`Detector`](crate::detect::Detector) held, fed in as they came, as
    /// one output (the decision's frame shows what they completed).
    /// `server_is_a` says which of the detector's sides is the server.
    pub fn replay(&mut self, replay: Replay, server_is_a: bool) -> SegmentOutput {
        let direction = |from_a: bool| {
            if from_a == server_is_a {
                Direction::ToClient
            } else {
                Direction::ToServer
            }
        };
        for (side, start) in replay.starts.iter().enumerate() {
            if let Some(seq) = start {
                self.start_at(direction(side == 0), *seq);
            }
        }
        let mut out = SegmentOutput::default();
        let last = replay.segments.len().saturating_sub(1);
        for (i, held) in replay.segments.into_iter().enumerate() {
            let mut one = self.segment(
                direction(held.from_a),
                held.seq,
                held.ack,
                &held.payload,
                held.frame,
            );
            out.pdus.append(&mut one.pdus);
            out.tls.append(&mut one.tls);
            out.encrypted |= one.encrypted;
            // Offsets are the latest segment's, which the host shows; a
            // segment cut at the front is not shown from its own bytes.
            if i == last {
                out.stream_offset = one.stream_offset.filter(|_| last > 0 || replay.cut == 0);
            }
        }
        out
    }

    /// Found by content, the connection watches for lines only another
    /// protocol sends (FTP's `PASV`, `227`, `150`), which contradict it.
    pub fn watch_for_other_protocols(&mut self) {
        self.watch = true;
    }

    /// What showed the connection is not mail after all, if anything did.
    pub fn contradiction(&self) -> Option<&str> {
        self.contradiction.as_deref()
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
        let mut pdus = self.engine.finish(frame);
        self.decode_messages(&mut pdus);
        out.pdus.extend(pdus);
        out.pdus
    }

    /// Hand back the bytes that follow STARTTLS/STLS (see [`SegmentOutput::tls`]).
    pub fn keep_tls_bytes(&mut self, keep: bool) {
        self.keep_tls = keep;
    }

    /// Whether each message is decoded into its `mail.msg` tree (on by default).
    pub fn set_decode_messages(&mut self, enabled: bool) {
        self.decode_messages = enabled;
    }

    fn look_for_contradiction(&mut self, pdus: &[Pdu]) {
        if !self.watch || self.contradiction.is_some() {
            return;
        }
        use crate::Field;
        self.contradiction = pdus.iter().find_map(|pdu| {
            // Commands and replies only: message content may say anything.
            let first = pdu.items.first()?.field;
            let dialogue = [
                Field::SmtpRequest,
                Field::SmtpReply,
                Field::PopRequest,
                Field::PopResponse,
            ];
            if !dialogue.contains(&first) {
                return None;
            }
            let line = pdu.bytes.split(|b| *b == b'\n').next()?;
            crate::detect::contradiction(pdu.direction == Direction::ToServer, line)
        });
    }

    /// Each message a PDU completes, decoded into its `mail.msg` tree.
    fn decode_messages(&self, pdus: &mut [Pdu]) {
        if !self.decode_messages {
            return;
        }
        for pdu in pdus {
            mime::decode_pdu(pdu, &self.mime);
        }
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
                    let (mut pdus, tls) = self.engine.feed(direction, &data, frame);
                    self.look_for_contradiction(&pdus);
                    self.decode_messages(&mut pdus);
                    out.pdus.extend(pdus);
                    out.encrypted |= tls != TlsBytes::None;
                    match tls {
                        TlsBytes::All if self.keep_tls => out.tls.push((direction, data)),
                        TlsBytes::Rest(bytes) if self.keep_tls => out.tls.push((direction, bytes)),
                        _ => {}
                    }
                }
                Chunk::Gap(missing) => {
                    let mut pdus = self.engine.gap(direction, missing, frame);
                    self.decode_messages(&mut pdus);
                    out.pdus.extend(pdus);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64*: a small deterministic generator, so failures reproduce.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Pieces hostile input is made of: valid commands, SASL, replies, and junk.
    const WORDS: &[&[u8]] = &[
        b"EHLO x\r\n",
        b"AUTH PLAIN\r\n",
        b"AUTH LOGIN dXNlcg==\r\n",
        b"AUTH NTLM TlRMTVNTUAADAAAA\r\n",
        b"AUTH SCRAM-SHA-1 biwsbj11LHI9YQ==\r\n",
        b"AUTH DIGEST-MD5\r\n",
        b"MAIL FROM:<a@b>\r\n",
        b"RCPT TO:<c@d>\r\n",
        b"DATA\r\n",
        b"BDAT 5\r\n",
        b"BDAT 99999999999999999999 LAST\r\n",
        b"BDAT 3 LAST\r\n",
        b"STARTTLS\r\n",
        b".\r\n",
        b"..\r\n",
        b"*\r\n",
        b"=\r\n",
        b"334 \r\n",
        b"334 cj1hYixzPSx\r\n",
        b"235 ok\r\n",
        b"535 no\r\n",
        b"250-x\r\n",
        b"250 y\r\n",
        b"354 go\r\n",
        b"220 go\r\n",
        b"\x16\x03\x01",
        b"\r",
        b"\n",
        b"\0\xff\xfe",
        b"TlRMTVNTUAACAAAA////\r\n",
        b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        b"+OK\r\n",
        b"+OK <1.2@h>\r\n",
        b"-ERR no\r\n",
        b"+ \r\n",
        b"USER a\r\n",
        b"PASS b c\r\n",
        b"APOP a 0123\r\n",
        b"LIST\r\n",
        b"LIST 1\r\n",
        b"UIDL\r\n",
        b"RETR 1\r\n",
        b"TOP 1 0\r\n",
        b"CAPA\r\n",
        b"STLS\r\n",
        b"1 100\r\n",
        b"1 abc\r\n",
        b"QUIT\r\n",
    ];

    #[test]
    fn random_dialogues_never_panic_and_buffers_stay_bounded() {
        random_dialogues(Limits::new(256, 8, 4096, 16).unwrap(), 600);
    }

    /// The smallest caps `Limits::new` accepts: a message cap below the
    /// terminator's look-behind once made DATA subtract past zero.
    #[test]
    fn the_smallest_limits_never_panic() {
        random_dialogues(Limits::new(Limits::MIN_LINE, 1, 2, 1).unwrap(), 300);
        let mut conn = Connection::with_limits(Protocol::Smtp, Limits::new(64, 1, 2, 1).unwrap());
        let out = conn.stream_data(Direction::ToServer, b"DATA\r\n", 1);
        assert_eq!(out.pdus.len(), 1);
        conn.stream_data(Direction::ToClient, b"354 go\r\n", 2);
        let out = conn.stream_data(Direction::ToServer, b"abc", 3);
        assert!(out.pdus.iter().all(|p| p.bytes.len() <= 3));
        let out = conn.stream_data(Direction::ToServer, b"defgh\r\n.\r\n", 4);
        let message = out.pdus.iter().find_map(|p| p.message.as_ref()).unwrap();
        assert!(message.truncated);
    }

    fn random_dialogues(limits: Limits, seeds: u64) {
        for seed in 1..=seeds {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            let protocol = if seed % 2 == 0 {
                Protocol::Smtp
            } else {
                Protocol::Pop3
            };
            let mut conn = Connection::with_limits(protocol, limits);
            let mut seqs = [1000u32, 5000u32];
            for frame in 1..=200u64 {
                let direction = if rng.below(2) == 0 {
                    Direction::ToServer
                } else {
                    Direction::ToClient
                };
                let mut payload = Vec::new();
                for _ in 0..=rng.below(4) {
                    payload.extend_from_slice(WORDS[rng.below(WORDS.len() as u64) as usize]);
                }
                // Sometimes out of order, retransmitted or far ahead.
                let jitter = match rng.below(10) {
                    0 => -(rng.below(40) as i64),
                    1 => rng.below(40) as i64,
                    _ => 0,
                };
                let seq = (i64::from(seqs[direction.index()]) + jitter) as u32;
                let ack = (rng.below(3) == 0)
                    .then(|| seqs[1 - direction.index()].wrapping_add(rng.below(50) as u32));
                let out = conn.segment(direction, seq, ack, &payload, frame);
                for pdu in &out.pdus {
                    // Nothing piles up past a cap: at most the cap, a line, and this segment.
                    assert!(
                        pdu.bytes.len() <= limits.max_message + limits.max_line + payload.len(),
                        "seed {seed}: PDU of {} bytes",
                        pdu.bytes.len()
                    );
                    for (item, _) in pdu.flatten_wire() {
                        assert!(
                            item.offset + item.len <= pdu.bytes.len() || pdu.bytes.is_empty(),
                            "seed {seed}: {item:?} in {:?} {:?}",
                            String::from_utf8_lossy(&pdu.bytes),
                            pdu.info
                        );
                    }
                    let content = pdu.message.as_ref().map_or(0, |m| m.content.len());
                    for (item, _) in pdu.flatten_message() {
                        assert!(item.offset + item.len <= content, "seed {seed}: {item:?}");
                    }
                }
                if jitter == 0 {
                    seqs[direction.index()] =
                        seqs[direction.index()].wrapping_add(payload.len() as u32);
                }
            }
            conn.finish(201);
        }
    }
}
