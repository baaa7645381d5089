//! What SMTP and POP3 share as text protocols: line framing, line endings,
//! dot-terminated blocks, Info column text, the switch to TLS, and the loop
//! that feeds one direction's bytes to an engine. No SASL in here.

mod dot;
mod framing;
mod info;
mod resync;
mod spanned;
mod tls;

pub(crate) use dot::{extend_capped, find_end_of_data, unstuff_into};
pub(crate) use framing::{lossy, strip_eol, StreamBuf};
pub(crate) use info::{info_line, sasl_info};
pub(crate) use resync::{next_line_starting, starts_command, starts_reply, starts_with_any};
pub(crate) use spanned::{report, NotCommands};
pub use spanned::{Problem, Spanned, VerbLine};
pub(crate) use tls::TlsSwitch;

use crate::fields::Expert;
use crate::item::{Direction, Pdu};

/// What a text protocol engine offers the shared feeding loop.
pub(crate) trait TextEngine {
    fn tls(&mut self) -> &mut TlsSwitch;
    fn buf(&mut self, direction: Direction) -> &mut StreamBuf;
    /// The next PDU complete in `direction`'s buffer, if any.
    fn next_pdu(&mut self, direction: Direction, frame: u64) -> Option<Pdu>;
}

/// Appends bytes in stream order and frames the PDUs they complete; the flag
/// says the bytes were TLS (after STARTTLS or STLS).
/// Where the TLS bytes of one call to [`feed`] are.
#[derive(Debug, PartialEq, Eq)]
pub enum TlsBytes {
    /// None: all of it was text.
    None,
    /// All of the bytes given.
    All,
    /// These bytes, which followed the text that switched to TLS.
    Rest(Vec<u8>),
}

pub(crate) fn feed(
    engine: &mut impl TextEngine,
    direction: Direction,
    data: &[u8],
    frame: u64,
) -> (Vec<Pdu>, TlsBytes) {
    let mut pdus = Vec::new();
    if data.is_empty() {
        return (pdus, TlsBytes::None);
    }
    if engine.tls().classify(direction, data) {
        engine.buf(direction).start += data.len() as u64;
        return (pdus, TlsBytes::All);
    }
    engine.buf(direction).data.extend_from_slice(data);
    while let Some(pdu) = engine.next_pdu(direction, frame) {
        pdus.push(pdu);
        if engine.tls().is_tls(direction) {
            // Bytes after the switch that arrived with the handshake's first segment.
            let buf = engine.buf(direction);
            let rest = buf.data.len();
            let (_, bytes) = buf.take(rest);
            return (pdus, TlsBytes::Rest(bytes));
        }
    }
    (pdus, TlsBytes::None)
}

pub(crate) fn next_client_line(buf: &mut StreamBuf, max_line: usize, frame: u64) -> Option<Pdu> {
    let (offset, raw, too_long) = buf.next_line(max_line)?;
    let mut pdu = Pdu::new(Direction::ToServer, frame, offset, raw);
    if too_long {
        let len = pdu.bytes.len();
        pdu.anomaly(
            Expert::LineTooLong,
            0,
            len,
            format!("command line longer than {max_line} bytes; the rest of it is not kept"),
        );
    }
    Some(pdu)
}

/// Flags the first client line after an accepted `command` (STARTTLS, STLS)
/// that TLS never followed.
pub(crate) fn flag_clear_after_accept(tls: &mut TlsSwitch, pdu: &mut Pdu, command: &str) {
    if tls.take_clear_after_accept() {
        let len = pdu.bytes.len();
        pdu.anomaly(
            Expert::Violation,
            0,
            len,
            format!("{command} was accepted but the client continued in clear text"),
        );
    }
}

/// Bytes the capture lost: drops what `buf` held, moves past the hole, and
/// returns the PDU that reports it. Framing resumes at the next line.
pub(crate) fn gap_pdu(buf: &mut StreamBuf, direction: Direction, missing: u64, frame: u64) -> Pdu {
    let offset = buf.start;
    let lost_buffered = buf.data.len();
    buf.data.clear();
    buf.scanned = 0;
    buf.start += missing + lost_buffered as u64;
    gap_marker(direction, offset, missing, frame)
}

/// The PDU that reports `missing` bytes lost at stream `offset`, the buffer
/// left as it is (the bytes before the gap stay in the block they belong to).
pub(crate) fn gap_marker(direction: Direction, offset: u64, missing: u64, frame: u64) -> Pdu {
    let mut pdu = Pdu::new(direction, frame, offset, Vec::new());
    pdu.info = format!(
        "{}: [{} bytes missing from the capture]",
        direction.info_prefix(),
        missing
    );
    pdu.anomaly(
        Expert::Gap,
        0,
        0,
        format!("{missing} bytes missing from the capture"),
    );
    pdu
}

/// A line inside a SASL exchange that cannot be a response (not base64) but
/// starts with one of the protocol's command verbs: the client did not wait.
pub(crate) fn command_during_sasl(raw: &[u8], known_verbs: &[&str]) -> bool {
    let line = lossy(strip_eol(raw));
    let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
    line.trim() != "*"
        && crate::codec::decode_base64(&line).is_err()
        && known_verbs.contains(&verb.as_str())
}

/// Helpers for the engines' unit tests.
/// Pushes `item` onto a queue of commands awaiting answers, at most `max`
/// long: past that the oldest is forgotten. Returns true for the first
/// command of a run of overflow, the one that should say so: one expert
/// info per run, not one per forgotten command.
pub fn push_bounded<T>(
    queue: &mut std::collections::VecDeque<T>,
    item: T,
    max: usize,
    overflowing: &mut bool,
) -> bool {
    let report = if queue.len() >= max {
        queue.pop_front();
        !std::mem::replace(overflowing, true)
    } else {
        *overflowing = false;
        false
    };
    queue.push_back(item);
    report
}

/// Sets the first `field` item of `pdu` (in tree order) to `state`: the
/// session state is shown as the PDU left it, known only once it is applied.
pub fn restate(pdu: &mut crate::item::Pdu, field: crate::fields::Field, state: &str) {
    fn find(
        items: &mut [crate::item::Item],
        field: crate::fields::Field,
    ) -> Option<&mut crate::item::Item> {
        for item in items {
            if item.field == field {
                return Some(item);
            }
            if let Some(found) = find(&mut item.children, field) {
                return Some(found);
            }
        }
        None
    }
    if let Some(item) = find(&mut pdu.items, field) {
        item.value = crate::item::Value::Str(state.to_string());
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use super::{feed, TextEngine};
    use crate::fields::{Expert, Field};
    use crate::item::{Direction, Pdu};

    /// Feeds a scripted dialogue, one frame per line of the script.
    pub(crate) fn run<E: TextEngine + Default>(script: &[(Direction, &str)]) -> Vec<Pdu> {
        let mut engine = E::default();
        let mut out = Vec::new();
        for (frame, (direction, text)) in script.iter().enumerate() {
            out.extend(feed(&mut engine, *direction, text.as_bytes(), frame as u64 + 1).0);
        }
        out
    }

    /// One step of a scripted dialogue that loses bytes: a side's bytes, or
    /// how many bytes of a side the capture lost.
    #[derive(Clone, Copy)]
    pub(crate) enum Step<'a> {
        Client(&'a str),
        Server(&'a str),
        Lost(Direction, u64),
    }

    /// Plays `steps`, one frame each, gaps through the engine's `gap`; the
    /// PDUs and the engine as the dialogue left it.
    pub(crate) fn run_with_gaps<E: TextEngine + Default>(
        steps: &[Step],
        gap: impl Fn(&mut E, Direction, u64, u64) -> Vec<Pdu>,
    ) -> (Vec<Pdu>, E) {
        let mut engine = E::default();
        let mut out = Vec::new();
        for (frame, step) in steps.iter().enumerate() {
            let frame = frame as u64 + 1;
            out.extend(match step {
                Step::Client(text) => {
                    feed(&mut engine, Direction::ToServer, text.as_bytes(), frame).0
                }
                Step::Server(text) => {
                    feed(&mut engine, Direction::ToClient, text.as_bytes(), frame).0
                }
                Step::Lost(direction, missing) => gap(&mut engine, *direction, *missing, frame),
            });
        }
        (out, engine)
    }

    /// The one element of `items`.
    pub(crate) fn only<T: std::fmt::Debug>(items: &[T]) -> &T {
        match items {
            [item] => item,
            _ => panic!("not one: {items:?}"),
        }
    }

    /// The messages of every `expert` info in the PDUs, in order.
    pub(crate) fn expert_messages(pdus: &[Pdu], expert: Expert) -> Vec<&str> {
        pdus.iter()
            .flat_map(|p| &p.anomalies)
            .filter(|a| a.expert == expert)
            .map(|a| a.message.as_str())
            .collect()
    }

    /// Every value of `field` in the PDUs, in tree order.
    pub(crate) fn values(pdus: &[Pdu], field: Field) -> Vec<String> {
        pdus.iter()
            .flat_map(|p| p.flatten())
            .filter(|(i, _)| i.field == field)
            .map(|(i, _)| i.value.to_string())
            .collect()
    }
}
