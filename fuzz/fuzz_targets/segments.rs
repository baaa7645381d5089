#![no_main]
//! TCP segments out of order, overlapping and lost, through reassembly into
//! an SMTP or POP3 engine: each chunk of the dialogue is sent at a sequence
//! number moved by the byte after its header.

#[path = "dialogue.rs"]
mod dialogue;

use mailscope::{Connection, Direction, Protocol};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&first, data)) = data.split_first() else {
        return;
    };
    let protocol = if first & 1 == 0 {
        Protocol::Smtp
    } else {
        Protocol::Pop3
    };
    let mut connection = Connection::new(protocol);
    connection.start_at(Direction::ToServer, 1000);
    connection.start_at(Direction::ToClient, 5000);
    let mut next = [1000u32, 5000u32];
    for (frame, (direction, chunk)) in dialogue::chunks(data).enumerate() {
        let jitter = chunk.first().map_or(0, |b| i32::from(*b as i8));
        let d = direction.index();
        let seq = next[d].wrapping_add_signed(jitter.clamp(-64, 64) * (i32::from(first >> 1) % 3));
        let ack = (first & 4 != 0).then_some(next[1 - d]);
        for pdu in connection
            .segment(direction, seq, ack, chunk, frame as u64 + 1)
            .pdus
        {
            dialogue::check(&pdu);
        }
        next[d] = next[d].wrapping_add(chunk.len() as u32);
    }
    for pdu in connection.finish(u64::MAX) {
        dialogue::check(&pdu);
    }
});
