//! Content detection for the shim: the core's detector per conversation,
//! and the connection it starts with the segments it held.

use std::panic::{catch_unwind, AssertUnwindSafe};

use mailscope::detect::{self, Detector, Verdict};
use mailscope::Direction;

use crate::{
    c_bytes, feed, registry, run, MsProtocol, MsResult, MsVerdict, MsVerdictKind, PluginConnection,
};

/// One conversation's detector; it lives until `mailscope_reset`.
pub struct PluginDetector {
    detector: Detector,
}

/// A detector for a conversation between `port_a` (the side that sent its
/// first payload) and `port_b`. It lives until `mailscope_reset`.
#[no_mangle]
pub extern "C" fn mailscope_detector_new(port_a: u16, port_b: u16) -> *mut PluginDetector {
    let mut detector = Box::new(PluginDetector {
        detector: Detector::new((port_a, port_b)),
    });
    let ptr: *mut PluginDetector = &mut *detector;
    registry().detectors.push(detector);
    ptr
}

fn verdict(verdict: Verdict) -> MsVerdict {
    match verdict {
        Verdict::Undecided => MsVerdict {
            kind: MsVerdictKind::Undecided,
            protocol: MsProtocol::None,
            server_is_a: false,
        },
        Verdict::NotMail => MsVerdict {
            kind: MsVerdictKind::NotMail,
            protocol: MsProtocol::None,
            server_is_a: false,
        },
        Verdict::Mail {
            protocol,
            server_is_a,
        } => MsVerdict {
            kind: MsVerdictKind::Mail,
            protocol: MsProtocol::from_core(Some(protocol)),
            server_is_a,
        },
    }
}

/// One payload of an undecided conversation, from side a or b, in capture
/// order; the detector keeps it until it decides.
///
/// # Safety
/// `detector` comes from `mailscope_detector_new`; `data` points to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn mailscope_detector_payload(
    detector: *mut PluginDetector,
    from_a: bool,
    seq: u32,
    ack: u32,
    has_ack: bool,
    data: *const u8,
    len: usize,
    frame: u32,
) -> MsVerdict {
    // SAFETY: the shim only passes pointers returned by `mailscope_detector_new` before the last reset.
    let Some(d) = (unsafe { detector.as_mut() }) else {
        return verdict(Verdict::NotMail);
    };
    // SAFETY: the caller passes `len` readable bytes (or null).
    let bytes = unsafe { c_bytes(data, len) };
    let found = catch_unwind(AssertUnwindSafe(|| {
        d.detector
            .payload(from_a, seq, has_ack.then_some(ack), bytes, u64::from(frame))
    }));
    verdict(found.unwrap_or(Verdict::NotMail))
}

/// Starts `conn` with what `detector` held once it found mail: the
/// segments from the dialogue's first line on, as one result for the
/// deciding frame. `reassemble` false feeds them in capture order without
/// sequence numbers, as `mailscope_conn_stream` does.
///
/// # Safety
/// `conn` comes from `mailscope_conn_new`, `detector` from `mailscope_detector_new`.
#[no_mangle]
pub unsafe extern "C" fn mailscope_conn_replay(
    conn: *mut PluginConnection,
    detector: *mut PluginDetector,
    reassemble: bool,
) -> *const MsResult {
    // SAFETY: as for `mailscope_detector_payload`.
    let Some(d) = (unsafe { detector.as_mut() }) else {
        return std::ptr::null();
    };
    let Verdict::Mail { server_is_a, .. } = d.detector.verdict() else {
        return std::ptr::null();
    };
    let replay = d.detector.take_replay();
    run(conn, |c| {
        c.connection.watch_for_other_protocols();
        feed(c, |c| {
            if reassemble {
                return c.replay(replay, server_is_a);
            }
            let mut out = mailscope::SegmentOutput::default();
            for held in replay.segments {
                let direction = if held.from_a == server_is_a {
                    Direction::ToClient
                } else {
                    Direction::ToServer
                };
                let mut one = c.stream_data(direction, &held.payload, held.frame);
                out.pdus.append(&mut one.pdus);
                out.encrypted |= one.encrypted;
            }
            out
        })
    })
}

/// Whether `conn`, found by its content, turned out to be another protocol
/// (FTP's `PASV`, `227`, `150`): it is then released, and shown as if
/// mailscope had never claimed it.
///
/// # Safety
/// `conn` comes from `mailscope_conn_new`.
#[no_mangle]
pub unsafe extern "C" fn mailscope_conn_released(conn: *const PluginConnection) -> bool {
    // SAFETY: the shim only passes pointers returned by `mailscope_conn_new` before the last reset.
    unsafe { conn.as_ref() }.is_some_and(|c| c.connection.contradiction().is_some())
}

/// A first guess from one payload, for a port the user named as mail
/// without a protocol: true if `data` opens an SMTP or POP3 dialogue;
/// `*to_server` tells which way it flowed, `*protocol` which one.
///
/// # Safety
/// `data` must point to `len` readable bytes; `to_server` and `protocol` must be writable.
#[no_mangle]
pub unsafe extern "C" fn mailscope_first_line_guess(
    data: *const u8,
    len: usize,
    to_server: *mut bool,
    protocol: *mut MsProtocol,
) -> bool {
    if data.is_null() || to_server.is_null() || protocol.is_null() {
        return false;
    }
    // SAFETY: the caller passes `len` readable bytes and writable outputs.
    let bytes = unsafe { std::slice::from_raw_parts(data, len) };
    match catch_unwind(|| detect::by_first_line(bytes)).ok().flatten() {
        Some((found, direction)) => {
            // SAFETY: checked non-null above.
            unsafe {
                *to_server = direction == Direction::ToServer;
                *protocol = MsProtocol::from_core(Some(found));
            }
            true
        }
        None => false,
    }
}
