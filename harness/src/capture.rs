//! Reading pcap and pcapng files down to TCP segments.
//!
//! Link types: Ethernet (with VLAN tags), Linux cooked capture v1 and v2,
//! raw IPv4/IPv6, and BSD loopback (NULL and LOOP). A file that ends inside
//! a packet is reported as truncated after every whole packet was handed on.

use std::io::Read;
use std::net::IpAddr;
use std::path::Path;

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};
use pcap_parser::traits::PcapNGPacketBlock;
use pcap_parser::{create_reader, Block, Linktype, PcapBlockOwned, PcapError};

use crate::time::Timestamp;

mod input;
mod zstd;

pub use input::{open_input, Compression};
use input::{read_head, stream_fault, StopAtFault};

/// One TCP segment with its addresses, in capture order.
#[derive(Debug, Clone)]
pub struct TcpSegment<'a> {
    /// Wireshark's frame number: 1-based position in the file, counting every packet.
    pub frame: u64,
    /// When the packet was captured.
    pub ts: Timestamp,
    pub src: (IpAddr, u16),
    pub dst: (IpAddr, u16),
    pub seq: u32,
    pub ack: Option<u32>,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    pub payload: &'a [u8],
}

/// Why a capture could not be read to its end.
#[derive(Debug)]
pub enum CaptureError {
    Open(String),
    NotACapture(String),
    /// The file ends inside a packet or block at byte `byte` (of the
    /// decompressed capture); the `frames` before it were analysed.
    Truncated {
        frames: u64,
        byte: u64,
        detail: String,
    },
    Corrupt {
        frames: u64,
        byte: u64,
        detail: String,
    },
}

impl std::fmt::Display for CaptureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CaptureError::Open(e) => write!(f, "cannot open capture: {e}"),
            CaptureError::NotACapture(e) => write!(f, "not a pcap or pcapng file: {e}"),
            CaptureError::Truncated { frames, byte, detail } => write!(
                f,
                "capture truncated at byte {byte} ({detail}): the {frames} frames before it were analysed"
            ),
            CaptureError::Corrupt { frames, byte, detail } => write!(
                f,
                "capture corrupt at byte {byte} ({detail}): the {frames} frames before it were analysed"
            ),
        }
    }
}

impl CaptureError {
    /// Nothing of the capture could be read (missing, unreadable, not a capture).
    pub fn read_nothing(&self) -> bool {
        matches!(self, CaptureError::Open(_) | CaptureError::NotACapture(_))
    }

    /// Frames read before the fault.
    pub fn frames(&self) -> u64 {
        match self {
            CaptureError::Truncated { frames, .. } | CaptureError::Corrupt { frames, .. } => {
                *frames
            }
            _ => 0,
        }
    }
}

/// The first bytes of a file that is not a capture, for the error message.
fn describe_start(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "the file is empty".to_string();
    }
    let hex: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(16)]);
    if text
        .chars()
        .all(|c| !c.is_control() || c == '\n' || c == '\r' || c == '\t')
    {
        format!("it starts with {:?}", text.trim_end())
    } else {
        format!("it starts with bytes {}", hex.join(" "))
    }
}

const LINKTYPE_NULL: i32 = 0;
const LINKTYPE_ETHERNET: i32 = 1;
const LINKTYPE_RAW: i32 = 101;
const LINKTYPE_LOOP: i32 = 108;
const LINKTYPE_LINUX_SLL: i32 = 113;
const LINKTYPE_IPV4: i32 = 228;
const LINKTYPE_IPV6: i32 = 229;
const LINKTYPE_LINUX_SLL2: i32 = 276;
/// DLT_RAW as some BSDs number it.
const DLT_RAW_BSD: [i32; 2] = [12, 14];

/// A pcapng interface: its link type and how its timestamps count.
struct Interface {
    linktype: Linktype,
    /// Timestamp units per second.
    resolution: u64,
    /// Seconds added to every timestamp.
    offset: i64,
}

impl Interface {
    fn timestamp(&self, high: u32, low: u32) -> Timestamp {
        let units = (u64::from(high) << 32) | u64::from(low);
        let resolution = self.resolution.max(1);
        let secs = (units / resolution) as i64 + self.offset;
        let nanos =
            (u128::from(units % resolution) * 1_000_000_000 / u128::from(resolution)) as u32;
        Timestamp { secs, nanos }
    }
}

/// The IP packet inside a link-layer frame. Lax slicing, as Wireshark does:
/// an IPv4 total length of 0 (TCP segmentation offload) means "to the end".
fn slice(linktype: Linktype, data: &[u8]) -> Option<LaxSlicedPacket<'_>> {
    let ether_type_at = |at: usize| {
        Some(EtherType(u16::from_be_bytes([
            *data.get(at)?,
            *data.get(at + 1)?,
        ])))
    };
    match linktype.0 {
        LINKTYPE_ETHERNET => LaxSlicedPacket::from_ethernet(data).ok(),
        // SLL: packet type, ARPHRD, address length, address (8), protocol type.
        LINKTYPE_LINUX_SLL => Some(LaxSlicedPacket::from_ether_type(
            ether_type_at(14)?,
            data.get(16..)?,
        )),
        // SLL2: protocol type (2), reserved (2), ifindex (4), ARPHRD (2), packet type, address length, address (8).
        LINKTYPE_LINUX_SLL2 => Some(LaxSlicedPacket::from_ether_type(
            ether_type_at(0)?,
            data.get(20..)?,
        )),
        LINKTYPE_NULL | LINKTYPE_LOOP => LaxSlicedPacket::from_ip(data.get(4..)?).ok(),
        LINKTYPE_RAW | LINKTYPE_IPV4 | LINKTYPE_IPV6 => LaxSlicedPacket::from_ip(data).ok(),
        other if DLT_RAW_BSD.contains(&other) => LaxSlicedPacket::from_ip(data).ok(),
        _ => None,
    }
}

fn tcp_segment(
    frame: u64,
    ts: Timestamp,
    linktype: Linktype,
    data: &[u8],
) -> Option<TcpSegment<'_>> {
    let packet = slice(linktype, data)?;
    let (src, dst) = match packet.net? {
        LaxNetSlice::Ipv4(ip) => {
            if ip.is_payload_fragmented() {
                return None;
            }
            (
                IpAddr::V4(ip.header().source_addr()),
                IpAddr::V4(ip.header().destination_addr()),
            )
        }
        LaxNetSlice::Ipv6(ip) => {
            if ip.is_payload_fragmented() {
                return None;
            }
            (
                IpAddr::V6(ip.header().source_addr()),
                IpAddr::V6(ip.header().destination_addr()),
            )
        }
        _ => return None,
    };
    let TransportSlice::Tcp(tcp) = packet.transport? else {
        return None;
    };
    Some(TcpSegment {
        frame,
        ts,
        src: (src, tcp.source_port()),
        dst: (dst, tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack: tcp.ack().then(|| tcp.acknowledgment_number()),
        syn: tcp.syn(),
        fin: tcp.fin(),
        rst: tcp.rst(),
        payload: tcp.payload(),
    })
}

/// A capture file by its name: `.pcap`, `.pcapng` or `.cap`, possibly
/// followed by `.gz` or `.zst`.
fn is_capture_name(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let name = name
        .strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".zst"))
        .unwrap_or(&name);
    [".pcap", ".pcapng", ".cap"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

/// Every capture file below `dir` (see `is_capture_name`), sorted; unreadable folders are skipped.
pub fn find_captures(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if is_capture_name(&path) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Reads `path`, calling `on_segment` for every TCP segment and `on_progress`
/// with bytes read so far. Returns the number of frames read.
pub fn read_capture(
    path: &Path,
    mut on_segment: impl FnMut(TcpSegment<'_>),
    mut on_progress: impl FnMut(u64),
) -> Result<u64, CaptureError> {
    let (input, compression) = open_input(path)?;
    read_stream(input, compression, &mut on_segment, &mut on_progress)
}

pub fn read_from(
    input: impl Read + Send + 'static,
    on_segment: &mut dyn FnMut(TcpSegment<'_>),
    on_progress: &mut dyn FnMut(u64),
) -> Result<u64, CaptureError> {
    read_stream(input, Compression::None, on_segment, on_progress)
}

/// Reads `input` (decompressed, if `compression` says it was compressed)
/// to its end or to the fault that stops it.
fn read_stream(
    input: impl Read + Send + 'static,
    compression: Compression,
    on_segment: &mut dyn FnMut(TcpSegment<'_>),
    on_progress: &mut dyn FnMut(u64),
) -> Result<u64, CaptureError> {
    let (mut input, fault) = StopAtFault::new(input);
    let head = read_head(&mut input);
    // Why the stream stopped: a fault of its input (a cut or corrupt
    // compressed file) when there was one, else what the capture says.
    let stopped = |frames, byte, otherwise: CaptureError| match fault.take() {
        Some(error) => stream_fault(compression, frames, byte, &error),
        None => otherwise,
    };
    let start = describe_start(&head);
    let mut reader = match create_reader(1 << 20, std::io::Cursor::new(head).chain(input)) {
        Ok(reader) => reader,
        Err(_) => return Err(stopped(0, 0, CaptureError::NotACapture(start))),
    };
    let mut interfaces: Vec<Interface> = Vec::new();
    let mut legacy_linktype = Linktype(LINKTYPE_ETHERNET);
    let mut legacy_nanos = false;
    let mut frames = 0u64;
    let mut consumed = 0u64;
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                let packet: Option<(Linktype, Timestamp, &[u8])> = match &block {
                    PcapBlockOwned::LegacyHeader(header) => {
                        legacy_linktype = header.network;
                        legacy_nanos = header.is_nanosecond_precision();
                        None
                    }
                    PcapBlockOwned::Legacy(b) => {
                        let nanos = if legacy_nanos {
                            b.ts_usec
                        } else {
                            b.ts_usec.saturating_mul(1000)
                        };
                        let ts = Timestamp {
                            secs: i64::from(b.ts_sec),
                            nanos: nanos.min(999_999_999),
                        };
                        Some((legacy_linktype, ts, b.data))
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                        interfaces.clear();
                        None
                    }
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        interfaces.push(Interface {
                            linktype: idb.linktype,
                            resolution: idb.ts_resolution().unwrap_or(1_000_000),
                            offset: idb.ts_offset(),
                        });
                        None
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let interface = interfaces.get(epb.if_id as usize);
                        let linktype = interface.map_or(Linktype(-1), |i| i.linktype);
                        let ts = interface.map_or_else(Timestamp::default, |i| {
                            i.timestamp(epb.ts_high, epb.ts_low)
                        });
                        Some((linktype, ts, epb.packet_data()))
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        let linktype = interfaces.first().map_or(Linktype(-1), |i| i.linktype);
                        // A simple packet block carries no time.
                        Some((linktype, Timestamp::default(), spb.packet_data()))
                    }
                    PcapBlockOwned::NG(_) => None,
                };
                if let Some((linktype, ts, data)) = packet {
                    frames += 1;
                    if let Some(segment) = tcp_segment(frames, ts, linktype, data) {
                        on_segment(segment);
                    }
                }
                consumed += offset as u64;
                on_progress(consumed);
                reader.consume(offset);
            }
            Err(PcapError::Eof) => {
                // A fault right after a whole packet still stops the capture short.
                return match fault.take() {
                    Some(error) => Err(stream_fault(compression, frames, consumed, &error)),
                    None => Ok(frames),
                };
            }
            Err(PcapError::Incomplete(_)) => {
                if let Err(e) = reader.refill() {
                    let detail = format!("{e:?}");
                    let byte = consumed;
                    return Err(stopped(
                        frames,
                        byte,
                        CaptureError::Truncated {
                            frames,
                            byte,
                            detail,
                        },
                    ));
                }
            }
            Err(PcapError::UnexpectedEof) => {
                let detail = "the file ends inside a packet".to_string();
                let byte = consumed;
                return Err(stopped(
                    frames,
                    byte,
                    CaptureError::Truncated {
                        frames,
                        byte,
                        detail,
                    },
                ));
            }
            Err(e) => {
                let detail = describe_fault(&e);
                let byte = consumed;
                return Err(stopped(
                    frames,
                    byte,
                    CaptureError::Corrupt {
                        frames,
                        byte,
                        detail,
                    },
                ));
            }
        }
    }
}

/// What is wrong with a block the reader could not take.
fn describe_fault(error: &PcapError<&[u8]>) -> String {
    match error {
        PcapError::BufferTooSmall => {
            "a block claims more than the 1 MiB read at once: its length is likely corrupt".into()
        }
        PcapError::HeaderNotRecognized => "a block header is not recognised".into(),
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("a malformed block ({})", kind.description())
        }
        other => format!("{other:?}"),
    }
}
