//! The mailscope Wireshark plugin: the Rust half.
//!
//! The shim (`src/shim/*.c`) does everything that touches epan (registration, trees, expert
//! infos, taps, conversations, per-frame data), because epan reports errors
//! by longjmp and a longjmp must never cross a Rust frame. This file exports
//! the few `mailscope_*` functions the shim calls: the field table, content
//! detection, and connections that turn TCP segments into flat, C-readable
//! PDU views. Every body runs under `catch_unwind`; a panic becomes an
//! internal-error expert info on the frame, never an abort of Wireshark.

use std::ffi::{c_char, c_int, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use credentials::{Logins, TapRecord};
use mailscope::{detect, Connection, Direction, Expert, Field, Item, Pdu, Protocol, Value};

mod abi;
mod credentials;
mod detection;
mod exports;
pub use abi::{
    MsAnomaly, MsExpertGroup, MsExpertInfo, MsExport, MsExports, MsFieldInfo, MsItem, MsItemKind,
    MsMessageSource, MsPdu, MsProtocol, MsResult, MsSeverity, MsTap, MsVerdict, MsVerdictKind,
};

// ----- plugin entry symbols, from the Wireshark version found at build time

const PLUGIN_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

const fn c_string<const N: usize>(text: &str) -> [u8; N] {
    let bytes = text.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = bytes[i];
        i += 1;
    }
    out
}

/// The plugin's own version, as Wireshark lists it in `tshark -G plugins`.
#[no_mangle]
pub static plugin_version: [u8; PLUGIN_VERSION.len()] = c_string(PLUGIN_VERSION);

/// Wireshark loads the plugin only into the major.minor it was built for.
#[no_mangle]
pub static plugin_want_major: c_int = wireshark_sys::WIRESHARK_VERSION_MAJOR as c_int;

#[no_mangle]
pub static plugin_want_minor: c_int = wireshark_sys::WIRESHARK_VERSION_MINOR as c_int;

/// What kind of plugin this is, for Wireshark 4.2 and later (`WS_PLUGIN_DESC_DISSECTOR`).
#[cfg(ws_plugin_describe)]
#[no_mangle]
pub extern "C" fn plugin_describe() -> u32 {
    1 << 0
}

extern "C" {
    fn mailscope_shim_register_plugin();
}

/// Called by Wireshark when it loads the plugin; registration itself is in C.
#[no_mangle]
pub extern "C" fn plugin_register() {
    // SAFETY: a plain C function of the shim with no arguments.
    unsafe { mailscope_shim_register_plugin() }
}

// ----- the field table

#[no_mangle]
pub extern "C" fn mailscope_field_count() -> u32 {
    Field::ALL.len() as u32
}

/// Fills `out` with field `index` of the table; false past the end.
///
/// # Safety
/// `out` must point to a writable `MsFieldInfo`.
#[no_mangle]
pub unsafe extern "C" fn mailscope_field_info(index: u32, out: *mut MsFieldInfo) -> bool {
    let Some(field) = Field::ALL.get(index as usize) else {
        return false;
    };
    if out.is_null() {
        return false;
    }
    out.write(MsFieldInfo {
        abbrev: field.abbrev_c().as_ptr(),
        name: field.name_c().as_ptr(),
        blurb: field.blurb_c().as_ptr(),
        kind: field.kind().into(),
    });
    true
}

#[no_mangle]
pub extern "C" fn mailscope_expert_count() -> u32 {
    Expert::ALL.len() as u32
}

/// Fills `out` with expert info `index` of the table; false past the end.
///
/// # Safety
/// `out` must point to a writable `MsExpertInfo`.
#[no_mangle]
pub unsafe extern "C" fn mailscope_expert_info(index: u32, out: *mut MsExpertInfo) -> bool {
    let Some(expert) = Expert::ALL.get(index as usize) else {
        return false;
    };
    if out.is_null() {
        return false;
    }
    out.write(MsExpertInfo {
        abbrev: expert.abbrev_c().as_ptr(),
        summary: expert.summary_c().as_ptr(),
        severity: expert.severity().into(),
        group: expert.group().into(),
    });
    true
}

/// Index of `mail.auth.result`, which a second pass adds to a credential's
/// frame once the server's answer to it is known.
#[no_mangle]
pub extern "C" fn mailscope_field_auth_result() -> u32 {
    Field::AuthResult as u32
}

/// Index of the internal-error expert info, raised when a panic was caught.
#[no_mangle]
pub extern "C" fn mailscope_expert_internal() -> u32 {
    Expert::Internal as u32
}

/// The ports dissected without looking at content, as a Wireshark range string (`25,110,587,2525`).
#[no_mangle]
pub extern "C" fn mailscope_default_ports() -> *const c_char {
    static PORTS: std::sync::OnceLock<CString> = std::sync::OnceLock::new();
    PORTS
        .get_or_init(|| {
            let mut ports: Vec<u16> = detect::SMTP_PORTS
                .iter()
                .chain(detect::POP3_PORTS)
                .copied()
                .collect();
            ports.sort_unstable();
            let list: Vec<String> = ports.iter().map(u16::to_string).collect();
            CString::new(list.join(",")).unwrap_or_default()
        })
        .as_ptr()
}

/// The protocol served on `port` (inside TLS when `implicit_tls`), if any.
#[no_mangle]
pub extern "C" fn mailscope_protocol_for_port(port: u16, implicit_tls: bool) -> MsProtocol {
    let protocol = if implicit_tls {
        detect::IMPLICIT_TLS_PORTS
            .iter()
            .find(|(p, _)| *p == port)
            .map(|(_, protocol)| *protocol)
    } else {
        detect::by_port(port)
    };
    MsProtocol::from_core(protocol)
}

/// The `index`th implicit-TLS port (465, 995); false past the end.
///
/// # Safety
/// `port` must point to a writable u16.
#[no_mangle]
pub unsafe extern "C" fn mailscope_implicit_tls_port(index: u32, port: *mut u16) -> bool {
    match detect::IMPLICIT_TLS_PORTS.get(index as usize) {
        Some((p, _)) if !port.is_null() => {
            *port = *p;
            true
        }
        _ => false,
    }
}

/// Protocol column text for a protocol code: `SMTP` or `POP`, as Wireshark names them.
#[no_mangle]
pub extern "C" fn mailscope_protocol_column(protocol: MsProtocol) -> *const c_char {
    match protocol.to_core() {
        Protocol::Smtp => c"SMTP".as_ptr(),
        Protocol::Pop3 => c"POP".as_ptr(),
    }
}

/// Protocol name for the credentials tap: `SMTP` or `POP3`.
#[no_mangle]
pub extern "C" fn mailscope_protocol_name(protocol: MsProtocol) -> *const c_char {
    match protocol.to_core() {
        Protocol::Smtp => c"SMTP".as_ptr(),
        Protocol::Pop3 => c"POP3".as_ptr(),
    }
}

// ----- connections and their results

/// Everything allocated for the open capture file, dropped by `mailscope_reset`.
/// Boxed so the addresses handed to C stay put when the vectors grow.
#[allow(clippy::vec_box)]
pub(crate) struct Registry {
    pub(crate) connections: Vec<Box<PluginConnection>>,
    pub(crate) detectors: Vec<Box<detection::PluginDetector>>,
    results: Vec<Box<OwnedResult>>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    connections: Vec::new(),
    detectors: Vec::new(),
    results: Vec::new(),
});

pub(crate) fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub struct PluginConnection {
    pub(crate) connection: Connection,
    /// Logins awaiting the server's answer, for the credentials tap.
    logins: Logins,
    /// A panic left the connection in an unknown state: it is not parsed further.
    poisoned: bool,
}

/// Frees every connection and result; the shim calls it when the capture file is closed.
#[no_mangle]
pub extern "C" fn mailscope_reset() {
    let mut registry = registry();
    registry.connections.clear();
    registry.detectors.clear();
    registry.results.clear();
    *INTERNED.lock().unwrap_or_else(|p| p.into_inner()) = None;
}

/// A new connection of protocol `code`. It lives until `mailscope_reset`.
#[no_mangle]
pub extern "C" fn mailscope_conn_new(protocol: MsProtocol) -> *mut PluginConnection {
    register(Connection::new(protocol.to_core()))
}

/// The decrypted session inside TLS after STARTTLS or STLS. It lives until `mailscope_reset`.
#[no_mangle]
pub extern "C" fn mailscope_conn_new_after_starttls(protocol: MsProtocol) -> *mut PluginConnection {
    register(Connection::after_starttls(protocol.to_core()))
}

fn register(connection: Connection) -> *mut PluginConnection {
    let mut conn = Box::new(PluginConnection {
        connection,
        logins: Logins::default(),
        poisoned: false,
    });
    let ptr: *mut PluginConnection = &mut *conn;
    registry().connections.push(conn);
    ptr
}

/// A result and the storage its pointers point into: the views C reads,
/// the strings and the bytes they point to, and nothing else of the
/// analysis (a frame's result is kept until the file is closed, for every
/// re-dissection). The items and anomalies of all its PDUs are in one array
/// each, every PDU pointing at its run.
#[repr(C)]
struct OwnedResult {
    view: MsResult,
    pdu_views: Vec<MsPdu>,
    items: Vec<MsItem>,
    anomalies: Vec<MsAnomaly>,
    strings: Vec<CString>,
    taps: Vec<MsTap>,
    /// Each PDU's bytes and its message's, which `MsPdu::bytes` and
    /// `MsPdu::message` point into.
    buffers: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

/// What most segments give: nothing to show. One shared result for them
/// all instead of one allocation per frame.
struct EmptyResult(MsResult);

// SAFETY: its pointers are all null and it is never written.
unsafe impl Sync for EmptyResult {}

static EMPTY_RESULT: EmptyResult = EmptyResult(MsResult {
    pdus: std::ptr::null(),
    pdu_count: 0,
    encrypted: false,
    has_stream_offset: false,
    stream_offset: 0,
    internal_error: std::ptr::null(),
    taps: std::ptr::null(),
    tap_count: 0,
});

// SAFETY: the raw pointers in the views point only into heap storage owned by
// the same `OwnedResult` (its Vecs, CStrings and PDUs), which moves with it.
unsafe impl Send for OwnedResult {}

/// Short texts, which mostly recur (states, verbs, labels, reply codes'
/// texts), are kept once for the whole file, until `mailscope_reset`;
/// longer ones (addresses, Info lines) are mostly unique and kept with
/// their frame.
const INTERNED_MAX: usize = 16;

static INTERNED: Mutex<Option<std::collections::HashMap<Box<str>, CString>>> = Mutex::new(None);

fn c_text(strings: &mut Vec<CString>, text: &str) -> *const c_char {
    if text.len() > INTERNED_MAX {
        return c_text_owned(strings, text);
    }
    let mut interned = INTERNED.lock().unwrap_or_else(|p| p.into_inner());
    let table = interned.get_or_insert_with(Default::default);
    if let Some(existing) = table.get(text) {
        return existing.as_ptr();
    }
    let owned = to_c_string(text);
    // A CString's bytes stay where they are when the table grows.
    let ptr = owned.as_ptr();
    table.insert(text.into(), owned);
    ptr
}

/// `text` for C, a NUL in it written as `\0`.
fn to_c_string(text: &str) -> CString {
    CString::new(text.replace('\0', "\\0")).unwrap_or_default()
}

/// A text kept with its frame's result.
fn c_text_owned(strings: &mut Vec<CString>, text: &str) -> *const c_char {
    let owned = to_c_string(text);
    let ptr = owned.as_ptr();
    strings.push(owned);
    ptr
}

fn build_result(
    pdus: Vec<Pdu>,
    encrypted: bool,
    stream_offset: Option<u64>,
    error: Option<String>,
    taps: &[TapRecord],
) -> Box<OwnedResult> {
    let mut owned = Box::new(OwnedResult {
        view: MsResult {
            pdus: std::ptr::null(),
            pdu_count: 0,
            encrypted,
            has_stream_offset: stream_offset.is_some(),
            stream_offset: stream_offset.unwrap_or(0),
            internal_error: std::ptr::null(),
            taps: std::ptr::null(),
            tap_count: 0,
        },
        pdu_views: Vec::with_capacity(pdus.len()),
        items: Vec::new(),
        anomalies: Vec::new(),
        strings: Vec::new(),
        taps: Vec::new(),
        buffers: Vec::with_capacity(pdus.len()),
    });
    let OwnedResult {
        view,
        pdu_views,
        items,
        anomalies,
        strings,
        taps: tap_views,
        buffers,
    } = &mut *owned;
    for tap in taps {
        tap_views.push(MsTap {
            user: c_text(strings, &tap.user),
            info: c_text(strings, &tap.info),
            secret_field: tap.secret_field as u16,
            username_frame: u32::try_from(tap.username_frame).unwrap_or(u32::MAX),
        });
    }
    view.taps = tap_views.as_ptr();
    view.tap_count = tap_views.len() as u32;
    if let Some(error) = error {
        view.internal_error = c_text(strings, &error);
    }
    // Where each PDU's items, message items and anomalies start in the shared arrays.
    let mut starts = Vec::with_capacity(pdus.len());
    for pdu in pdus {
        starts.push((items.len(), anomalies.len()));
        let mut view = pdu_view(&pdu, strings, items, anomalies);
        // The rest of the PDU (its items, decoded message, credential) is in
        // the views now. A message carried as it is on the wire (no dot to
        // unstuff) is shown from the PDU's own bytes rather than kept twice.
        let mut content = pdu.message.map(|m| m.content);
        if let Some(c) = &content {
            if let Some(at) = subslice_at(&pdu.bytes, c) {
                view.message = pdu.bytes[at..].as_ptr();
                content = None;
            }
        }
        pdu_views.push(view);
        // Moving a Vec moves its handle, not its heap buffer: the pointers stay valid.
        buffers.push((pdu.bytes, content));
    }
    items.shrink_to_fit();
    anomalies.shrink_to_fit();
    strings.shrink_to_fit();
    // The arrays are complete and no longer move: point each PDU at its runs.
    for (view, (item_start, anomaly_start)) in pdu_views.iter_mut().zip(starts) {
        view.items = items[item_start..].as_ptr();
        let message_start = item_start + view.item_count as usize;
        view.message_items = items[message_start..].as_ptr();
        view.anomalies = anomalies[anomaly_start..].as_ptr();
    }
    view.pdus = pdu_views.as_ptr();
    view.pdu_count = pdu_views.len() as u32;
    owned
}

/// Where `part` sits in `whole`, if it is the rest of its first line or
/// all of it (a message after a POP3 status line, or SMTP content before
/// its final dot).
fn subslice_at(whole: &[u8], part: &[u8]) -> Option<usize> {
    if part.is_empty() {
        return None;
    }
    let after_first_line = whole.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
    [0, after_first_line]
        .into_iter()
        .find(|&at| whole.get(at..at + part.len()) == Some(part))
}

/// A PDU's one-line label for the tree: its direction and what it is
/// (`C: AUTH`, `S: 235`, `S: +OK`, `C: message content`).
fn label(pdu: &Pdu) -> String {
    let direction = pdu.direction.info_prefix();
    let mut step = None;
    for (item, _) in pdu.flatten() {
        match item.field {
            Field::SmtpCommand
            | Field::PopCommand
            | Field::SmtpReplyCode
            | Field::PopResponseIndicator => return format!("{direction}: {}", item.value),
            Field::SmtpData | Field::PopData => return format!("{direction}: message content"),
            Field::AuthStep if step.is_none() => step = Some(item.value.to_string()),
            _ => {}
        }
    }
    match step {
        Some(step) => format!("{direction}: AUTH {step}"),
        None if pdu.anomalies.iter().any(|a| a.expert == Expert::Gap) => {
            format!("{direction}: bytes missing")
        }
        None => format!("{direction}: line"),
    }
}

/// Items as C reads them, spans clamped to the `len` bytes they point into.
fn item_views<'a>(
    items: Vec<(&'a Item, usize)>,
    len: usize,
    strings: &'a mut Vec<CString>,
) -> impl Iterator<Item = MsItem> + 'a {
    items.into_iter().map(move |(item, depth)| {
        let offset = item.offset.min(len);
        let (text, number) = match &item.value {
            Value::Str(s) => (c_text(strings, s), 0),
            Value::UInt(n) => (std::ptr::null(), *n),
            Value::Bool(b) => (std::ptr::null(), u64::from(*b)),
            Value::None => (std::ptr::null(), 0),
        };
        MsItem {
            field: item.field as u16,
            depth: depth as u16,
            kind: item.field.kind().into(),
            offset: offset as u32,
            len: item.len.min(len - offset) as u32,
            text,
            number,
        }
    })
}

/// One PDU as C reads it: its items (wire, then message) and anomalies are
/// appended to `items` and `anomalies`, and its pointers to them are set by
/// the caller once those arrays are complete; spans are clamped to the
/// bytes they point into (the PDU's, or its message's).
fn pdu_view(
    pdu: &Pdu,
    strings: &mut Vec<CString>,
    items: &mut Vec<MsItem>,
    anomalies: &mut Vec<MsAnomaly>,
) -> MsPdu {
    let len = pdu.bytes.len();
    let clamp = |offset: usize, span: usize| {
        let offset = offset.min(len);
        (offset as u32, span.min(len - offset) as u32)
    };
    let before = items.len();
    items.extend(item_views(pdu.flatten_wire(), len, strings));
    let item_count = items.len() - before;
    let message_len = pdu.message.as_ref().map_or(0, |m| m.content.len());
    items.extend(item_views(pdu.flatten_message(), message_len, strings));
    let message_item_count = items.len() - before - item_count;
    for anomaly in &pdu.anomalies {
        let (offset, span) = clamp(anomaly.offset, anomaly.len);
        anomalies.push(MsAnomaly {
            expert: anomaly.expert as u16,
            offset,
            len: span,
            message: c_text(strings, &anomaly.message),
        });
    }
    let (message, message_len, message_source) = match &pdu.message {
        Some(m) => (
            m.content.as_ptr(),
            m.content.len() as u32,
            (&m.source).into(),
        ),
        None => (std::ptr::null(), 0, MsMessageSource::SmtpData),
    };
    MsPdu {
        to_server: pdu.direction == Direction::ToServer,
        stream_offset: pdu.stream_offset,
        bytes: pdu.bytes.as_ptr(),
        len: len as u32,
        info: c_text_owned(strings, &pdu.info),
        label: c_text(strings, &label(pdu)),
        items: std::ptr::null(),
        item_count: item_count as u32,
        anomalies: std::ptr::null(),
        anomaly_count: pdu.anomalies.len() as u32,
        starts_tls: pdu.starts_tls,
        message,
        message_len,
        message_source,
        message_items: std::ptr::null(),
        message_item_count: message_item_count as u32,
        credential_frame: pdu.credential.as_ref().map_or(0, |c| c.frame as u32),
        outcome_of: pdu.auth_outcome.map_or(0, |(frame, _)| frame as u32),
        outcome_success: pdu.auth_outcome.is_some_and(|(_, success)| success),
    }
}

fn keep(result: Box<OwnedResult>) -> *const MsResult {
    let view = &result.view;
    if view.pdu_count == 0 && view.tap_count == 0 && view.internal_error.is_null() {
        return &EMPTY_RESULT.0;
    }
    let ptr: *const MsResult = &result.view;
    registry().results.push(result);
    ptr
}

pub(crate) fn run(
    conn: *mut PluginConnection,
    work: impl FnOnce(&mut PluginConnection) -> (Vec<Pdu>, bool, Option<u64>, Vec<TapRecord>),
) -> *const MsResult {
    // SAFETY: the shim only passes pointers returned by `mailscope_conn_new` before the last reset.
    let Some(conn) = (unsafe { conn.as_mut() }) else {
        return std::ptr::null();
    };
    if conn.poisoned {
        return std::ptr::null();
    }
    match catch_unwind(AssertUnwindSafe(|| work(conn))) {
        Ok((pdus, encrypted, offset, taps)) => {
            keep(build_result(pdus, encrypted, offset, None, &taps))
        }
        Err(panic) => {
            conn.poisoned = true;
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            keep(build_result(
                Vec::new(),
                false,
                None,
                Some(format!("mailscope stopped parsing this connection: {what}")),
                &[],
            ))
        }
    }
}

/// Runs bytes through the connection; the logins answered become tap records.
pub(crate) fn feed(
    conn: &mut PluginConnection,
    work: impl FnOnce(&mut Connection) -> mailscope::SegmentOutput,
) -> (Vec<Pdu>, bool, Option<u64>, Vec<TapRecord>) {
    let out = work(&mut conn.connection);
    let taps = conn.logins.observe(&out.pdus);
    (out.pdus, out.encrypted, out.stream_offset, taps)
}

/// The `len` bytes at `data`; none when `data` is null.
///
/// # Safety
/// `data` is null or points to `len` readable bytes that outlive the slice.
pub(crate) unsafe fn c_bytes<'a>(data: *const u8, len: usize) -> &'a [u8] {
    if data.is_null() {
        &[]
    } else {
        // SAFETY: as the caller promises.
        unsafe { std::slice::from_raw_parts(data, len) }
    }
}

/// One TCP segment (relative sequence numbers from the TCP dissector).
///
/// # Safety
/// `conn` comes from `mailscope_conn_new`; `data` points to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn mailscope_conn_segment(
    conn: *mut PluginConnection,
    to_server: bool,
    seq: u32,
    ack: u32,
    has_ack: bool,
    data: *const u8,
    len: usize,
    frame: u32,
) -> *const MsResult {
    // SAFETY: the caller passes `len` readable bytes (or null).
    let bytes = unsafe { c_bytes(data, len) };
    let direction = if to_server {
        Direction::ToServer
    } else {
        Direction::ToClient
    };
    run(conn, |c| {
        feed(c, |c| {
            c.segment(
                direction,
                seq,
                has_ack.then_some(ack),
                bytes,
                u64::from(frame),
            )
        })
    })
}

/// Bytes already in stream order (capture order without reassembly, or decrypted TLS).
///
/// # Safety
/// As for `mailscope_conn_segment`.
#[no_mangle]
pub unsafe extern "C" fn mailscope_conn_stream(
    conn: *mut PluginConnection,
    to_server: bool,
    data: *const u8,
    len: usize,
    frame: u32,
) -> *const MsResult {
    // SAFETY: the caller passes `len` readable bytes (or null).
    let bytes = unsafe { c_bytes(data, len) };
    let direction = if to_server {
        Direction::ToServer
    } else {
        Direction::ToClient
    };
    run(conn, |c| {
        feed(c, |c| c.stream_data(direction, bytes, u64::from(frame)))
    })
}

/// What the end of the capture would complete for `conn` now (a message
/// still open, bytes that waited behind a hole), shown on `frame`. Computed
/// on a copy: the connection itself goes on if more segments come (a live
/// capture). The shim asks on later passes, at the conversation's last frame.
///
/// # Safety
/// `conn` comes from `mailscope_conn_new`.
#[no_mangle]
pub unsafe extern "C" fn mailscope_conn_at_end(
    conn: *mut PluginConnection,
    frame: u32,
) -> *const MsResult {
    run(conn, |c| {
        let pdus = c.connection.clone().finish(u64::from(frame));
        (pdus, false, None, c.logins.unanswered())
    })
}

/// Text and raw headers that declare no charset and are not UTF-8 are read
/// in `charset` (a NUL-terminated name such as `gb18030`; empty or null: none).
///
/// # Safety
/// `conn` comes from `mailscope_conn_new`; `charset` is null or a C string.
#[no_mangle]
pub unsafe extern "C" fn mailscope_conn_set_default_charset(
    conn: *mut PluginConnection,
    charset: *const c_char,
) {
    // SAFETY: the shim only passes pointers returned by `mailscope_conn_new` before the last reset.
    let Some(conn) = (unsafe { conn.as_mut() }) else {
        return;
    };
    let name = if charset.is_null() {
        None
    } else {
        // SAFETY: a C string from the preference.
        let text = unsafe { std::ffi::CStr::from_ptr(charset) }.to_string_lossy();
        let text = text.trim();
        (!text.is_empty()).then(|| text.to_string())
    };
    conn.connection.set_default_charset(name);
}

/// Whether `conn` has a STARTTLS or STLS awaiting the server's answer.
///
/// # Safety
/// `conn` comes from `mailscope_conn_new`.
#[no_mangle]
pub unsafe extern "C" fn mailscope_conn_awaits_tls(conn: *const PluginConnection) -> bool {
    // SAFETY: the shim only passes pointers returned by `mailscope_conn_new` before the last reset.
    unsafe { conn.as_ref() }.is_some_and(|c| !c.poisoned && c.connection.awaits_tls_answer())
}

/// Whether field `index` carries a secret the "show passwords" preference hides.
#[no_mangle]
pub extern "C" fn mailscope_field_is_secret(index: u32) -> bool {
    matches!(
        Field::ALL.get(index as usize),
        Some(Field::AuthPassword | Field::AuthToken)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailscope::FieldKind;

    /// The registry is the process's, as in Wireshark: tests that use it
    /// take turns, so one's `mailscope_reset` frees nothing another holds.
    static REGISTRY_USERS: Mutex<()> = Mutex::new(());

    fn registry_turn() -> std::sync::MutexGuard<'static, ()> {
        REGISTRY_USERS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    #[test]
    fn views_point_into_owned_storage_and_spans_are_clamped() {
        let _turn = registry_turn();
        let conn = mailscope_conn_new(MsProtocol::Smtp);
        let line = b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n";
        // SAFETY: valid connection and buffer.
        let result = unsafe {
            &*mailscope_conn_segment(conn, true, 1, 0, false, line.as_ptr(), line.len(), 3)
        };
        assert_eq!(result.pdu_count, 1);
        let pdu = unsafe { &*result.pdus };
        let items = unsafe { std::slice::from_raw_parts(pdu.items, pdu.item_count as usize) };
        let password = items
            .iter()
            .find(|i| i.field == Field::AuthPassword as u16)
            .unwrap();
        let text = unsafe { std::ffi::CStr::from_ptr(password.text) };
        assert_eq!(text.to_str().unwrap(), "secret");
        assert!(items.iter().all(|i| i.offset + i.len <= pdu.len));
        assert_eq!(result.tap_count, 0, "no answer yet");
        let reply = b"235 2.7.0 ok\r\n";
        let answered = unsafe {
            &*mailscope_conn_segment(conn, false, 1, 0, false, reply.as_ptr(), reply.len(), 4)
        };
        assert_eq!(answered.tap_count, 1);
        let tap = unsafe { &*answered.taps };
        let info = unsafe { std::ffi::CStr::from_ptr(tap.info) };
        assert_eq!(info.to_str().unwrap(), "PLAIN authentication, success");
        assert_eq!(tap.username_frame, 3);
        mailscope_reset();
    }

    #[test]
    fn a_panic_becomes_an_internal_error_and_retires_the_connection() {
        let _turn = registry_turn();
        let conn = mailscope_conn_new(MsProtocol::Smtp);
        let result = unsafe { &*run(conn, |_| panic!("boom at frame 7")) };
        let message = unsafe { std::ffi::CStr::from_ptr(result.internal_error) };
        assert_eq!(
            message.to_str().unwrap(),
            "mailscope stopped parsing this connection: boom at frame 7"
        );
        assert_eq!(result.pdu_count, 0);
        let line = b"EHLO x\r\n";
        let next = unsafe {
            mailscope_conn_segment(conn, true, 1, 0, false, line.as_ptr(), line.len(), 8)
        };
        assert!(
            next.is_null(),
            "a poisoned connection is not parsed further"
        );
    }

    #[test]
    fn the_shim_declares_nothing_of_the_rust_side_by_hand() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/shim");
        let header = std::fs::read_to_string(dir.join("mail.h")).unwrap();
        assert!(header.contains("#include \"mailscope.h\""));
        let mut files = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            files += 1;
            for (number, line) in text.lines().enumerate() {
                // A prototype at file level naming a Rust export, or a Rust type.
                let prototype = !line.starts_with(' ')
                    && line.contains("mailscope_")
                    && line.trim_end().ends_with(';');
                let declares_rust = prototype || (line.contains("typedef") && line.contains(" Ms"));
                assert!(
                    !declares_rust,
                    "{}:{}: `{line}` belongs in the generated header",
                    path.display(),
                    number + 1
                );
            }
        }
        assert!(files >= 2);
    }

    #[test]
    fn field_table_is_exported_whole() {
        let mut info = MsFieldInfo {
            abbrev: std::ptr::null(),
            name: std::ptr::null(),
            blurb: std::ptr::null(),
            kind: MsItemKind::None,
        };
        for i in 0..mailscope_field_count() {
            assert!(unsafe { mailscope_field_info(i, &mut info) });
            assert!(!info.abbrev.is_null());
        }
        assert!(!unsafe { mailscope_field_info(mailscope_field_count(), &mut info) });
        assert_eq!(MsItemKind::from(FieldKind::String), MsItemKind::String);
    }
}
