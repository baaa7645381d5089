// Shared by the stream targets: the input is a dialogue, a sequence of
// chunks each led by one byte: bit 0 the direction (0 client, 1 server),
// bits 1-7 the chunk's length (0-127). `scripts/fuzz.sh` seeds it from the
// fixture generator's dialogues (`fixtures/generate.py --seeds`).

use mailscope::{Connection, Direction, Pdu, Protocol};

pub fn chunks(data: &[u8]) -> impl Iterator<Item = (Direction, &[u8])> {
    let mut rest = data;
    std::iter::from_fn(move || {
        let (&head, tail) = rest.split_first()?;
        let len = usize::from(head >> 1).min(tail.len());
        let (chunk, after) = tail.split_at(len);
        rest = after;
        let direction = if head & 1 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        Some((direction, chunk))
    })
}

/// Every item's span lies within the bytes it points into.
pub fn check(pdu: &Pdu) {
    for (item, _) in pdu.flatten_wire() {
        assert!(
            item.offset + item.len <= pdu.bytes.len() || pdu.bytes.is_empty(),
            "{item:?}"
        );
    }
    let content = pdu.message.as_ref().map_or(0, |m| m.content.len());
    for (item, _) in pdu.flatten_message() {
        assert!(item.offset + item.len <= content, "{item:?}");
    }
}

pub fn run(protocol: Protocol, data: &[u8]) {
    let mut connection = Connection::new(protocol);
    for (frame, (direction, chunk)) in chunks(data).enumerate() {
        for pdu in connection
            .stream_data(direction, chunk, frame as u64 + 1)
            .pdus
        {
            check(&pdu);
        }
    }
    for pdu in connection.finish(u64::MAX) {
        check(&pdu);
    }
}
