//! The C ABI between the Rust half and `shim.c`, owned here.
//!
//! Every type the shim sees is declared once, in this file; `build.rs` runs
//! cbindgen over the crate and the shim includes the generated
//! `mailscope.h`, so a change on either side that does not match the other
//! is a compile error. Enums travel as `u8` with named constants
//! (`MS_ITEM_KIND_STRING`), never as bare numbers.

use std::ffi::c_char;

use mailscope::{ExpertGroup, FieldKind, Protocol, Severity};

/// Value type of a field, and so of every item of it.
#[repr(u8)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MsItemKind {
    /// A subtree header with no value (`FT_NONE`).
    None = 0,
    /// UTF-8 text (`FT_STRING`).
    String = 1,
    /// Unsigned integer, up to 64 bits (`FT_UINT64`).
    Uint = 2,
    /// Boolean (`FT_BOOLEAN`).
    Bool = 3,
}

impl From<FieldKind> for MsItemKind {
    fn from(kind: FieldKind) -> Self {
        match kind {
            FieldKind::None => MsItemKind::None,
            FieldKind::String => MsItemKind::String,
            FieldKind::UInt => MsItemKind::Uint,
            FieldKind::Bool => MsItemKind::Bool,
        }
    }
}

/// Severity of an expert info (`PI_CHAT` .. `PI_ERROR`).
#[repr(u8)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MsSeverity {
    Chat = 0,
    Note = 1,
    Warn = 2,
    Error = 3,
}

impl From<Severity> for MsSeverity {
    fn from(severity: Severity) -> Self {
        match severity {
            Severity::Chat => MsSeverity::Chat,
            Severity::Note => MsSeverity::Note,
            Severity::Warn => MsSeverity::Warn,
            Severity::Error => MsSeverity::Error,
        }
    }
}

/// Group of an expert info (`PI_SECURITY`, `PI_MALFORMED`, ...).
#[repr(u8)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MsExpertGroup {
    Security = 0,
    Malformed = 1,
    Protocol = 2,
    Sequence = 3,
    Undecoded = 4,
}

impl From<ExpertGroup> for MsExpertGroup {
    fn from(group: ExpertGroup) -> Self {
        match group {
            ExpertGroup::Security => MsExpertGroup::Security,
            ExpertGroup::Malformed => MsExpertGroup::Malformed,
            ExpertGroup::Protocol => MsExpertGroup::Protocol,
            ExpertGroup::Sequence => MsExpertGroup::Sequence,
            ExpertGroup::Undecoded => MsExpertGroup::Undecoded,
        }
    }
}

/// The mail protocol of a conversation; `None` when a port or payload names none.
#[repr(u8)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MsProtocol {
    Smtp = 0,
    Pop3 = 1,
    None = 255,
}

impl MsProtocol {
    pub fn from_core(protocol: Option<Protocol>) -> Self {
        match protocol {
            Some(Protocol::Smtp) => MsProtocol::Smtp,
            Some(Protocol::Pop3) => MsProtocol::Pop3,
            None => MsProtocol::None,
        }
    }
    /// The core's protocol; a conversation without one is parsed as SMTP.
    pub fn to_core(self) -> Protocol {
        match self {
            MsProtocol::Pop3 => Protocol::Pop3,
            MsProtocol::Smtp | MsProtocol::None => Protocol::Smtp,
        }
    }
}

/// What content detection has concluded about a conversation.
#[repr(u8)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MsVerdictKind {
    Undecided = 0,
    NotMail = 1,
    Mail = 2,
}

/// Content detection's verdict: for `Mail`, the protocol and which side
/// (a: the side that sent the conversation's first payload) is the server.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct MsVerdict {
    pub kind: MsVerdictKind,
    pub protocol: MsProtocol,
    pub server_is_a: bool,
}

/// Where a message came from.
#[repr(u8)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MsMessageSource {
    SmtpData = 0,
    SmtpBdat = 1,
    Pop3Retr = 2,
    Pop3Top = 3,
}

impl From<&mailscope::MessageSource> for MsMessageSource {
    fn from(source: &mailscope::MessageSource) -> Self {
        match source {
            mailscope::MessageSource::SmtpData { .. } => MsMessageSource::SmtpData,
            mailscope::MessageSource::SmtpBdat { .. } => MsMessageSource::SmtpBdat,
            mailscope::MessageSource::Pop3Retr { .. } => MsMessageSource::Pop3Retr,
            mailscope::MessageSource::Pop3Top { .. } => MsMessageSource::Pop3Top,
        }
    }
}

/// One row of the field table.
#[repr(C)]
pub struct MsFieldInfo {
    pub abbrev: *const c_char,
    pub name: *const c_char,
    pub blurb: *const c_char,
    pub kind: MsItemKind,
}

/// One row of the expert-info table.
#[repr(C)]
pub struct MsExpertInfo {
    pub abbrev: *const c_char,
    pub summary: *const c_char,
    pub severity: MsSeverity,
    pub group: MsExpertGroup,
}

/// One item of a PDU's tree, in tree order; `depth` 0 hangs off the PDU's root.
#[repr(C)]
pub struct MsItem {
    /// Index into the field table.
    pub field: u16,
    pub depth: u16,
    /// Span within the PDU's bytes.
    pub offset: u32,
    pub len: u32,
    /// (After the spans, so that the item packs into 32 bytes.)
    pub kind: MsItemKind,
    /// The text of a `String` item, else null.
    pub text: *const c_char,
    /// The value of a `UInt` or `Bool` item.
    pub number: u64,
}

/// One expert info of a PDU.
#[repr(C)]
pub struct MsAnomaly {
    /// Index into the expert-info table.
    pub expert: u16,
    pub offset: u32,
    pub len: u32,
    pub message: *const c_char,
}

/// One PDU (a command, a reply, a SASL step or a message) as C reads it.
#[repr(C)]
pub struct MsPdu {
    pub to_server: bool,
    /// Offset of the PDU's first byte in its direction's stream.
    pub stream_offset: u64,
    pub bytes: *const u8,
    pub len: u32,
    /// The Info column text.
    pub info: *const c_char,
    /// The tree's one-line label: direction and command verb or reply code.
    pub label: *const c_char,
    pub items: *const MsItem,
    pub item_count: u32,
    pub anomalies: *const MsAnomaly,
    pub anomaly_count: u32,
    /// The server accepted STARTTLS/STLS here: TLS follows.
    pub starts_tls: bool,
    /// The message this PDU completes (dot-unstuffed, chunks joined), else null.
    pub message: *const u8,
    pub message_len: u32,
    pub message_source: MsMessageSource,
    /// The decoded message's items (`mail.msg`), spans within `message`.
    pub message_items: *const MsItem,
    pub message_item_count: u32,
    /// Frame of the credential this PDU completes (0: none).
    pub credential_frame: u32,
    /// Frame of the credential whose login this PDU answers (0: none), and
    /// whether the server accepted it.
    pub outcome_of: u32,
    pub outcome_success: bool,
}

/// One record for Wireshark's credentials tap.
#[repr(C)]
pub struct MsTap {
    pub user: *const c_char,
    /// Mechanism and outcome, e.g. `PLAIN authentication, failure`.
    pub info: *const c_char,
    /// Index of the field that carries the secret (password, token or response).
    pub secret_field: u16,
    /// Frame of the client message that completed the credential.
    pub username_frame: u32,
}

/// What one segment produced.
#[repr(C)]
pub struct MsResult {
    pub pdus: *const MsPdu,
    pub pdu_count: u32,
    /// The segment was TLS (after STARTTLS): hand it to the TLS dissector.
    pub encrypted: bool,
    pub has_stream_offset: bool,
    /// Stream offset of the segment's first byte.
    pub stream_offset: u64,
    /// Non-null if mailscope failed internally on this segment.
    pub internal_error: *const c_char,
    /// Credentials-tap records to queue on this frame.
    pub taps: *const MsTap,
    pub tap_count: u32,
}

/// One object for File > Export Objects > mail: a message (.eml) or an attachment.
#[repr(C)]
pub struct MsExport {
    /// The decoded file name, safe as one path component.
    pub filename: *const c_char,
    pub content_type: *const c_char,
    pub data: *const u8,
    pub len: usize,
}

/// The objects of one message; freed with `mailscope_exports_free`.
#[repr(C)]
pub struct MsExports {
    pub entries: *const MsExport,
    pub count: u32,
}
