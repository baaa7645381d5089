//! Opening a capture (a file or standard input, gzip and zstd decompressed
//! on the fly) and saying why a stream stopped: a compressed file cut short
//! is a truncated capture like a cut file, anything else a corrupt one.

use std::fs::File;
use std::io::{BufRead, Read};
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::CaptureError;

/// How a capture file is compressed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    fn name(self) -> &'static str {
        match self {
            Compression::None => "file",
            Compression::Gzip => "gzip stream",
            Compression::Zstd => "zstd stream",
        }
    }
}

/// Opens a capture: a path, or `-` for standard input. gzip and zstd are
/// decompressed on the fly, recognised by their first bytes, whatever the
/// file is called.
pub fn open_input(path: &Path) -> Result<(Box<dyn Read + Send>, Compression), CaptureError> {
    let raw: Box<dyn Read + Send> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(File::open(path).map_err(|e| CaptureError::Open(e.to_string()))?)
    };
    let mut buffered = std::io::BufReader::with_capacity(1 << 16, raw);
    let head = buffered
        .fill_buf()
        .map_err(|e| CaptureError::Open(e.to_string()))?;
    Ok(match head {
        [0x1f, 0x8b, ..] => (
            Box::new(flate2::read::MultiGzDecoder::new(buffered)),
            Compression::Gzip,
        ),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => (
            Box::new(super::zstd::ZstdReader::new(buffered)),
            Compression::Zstd,
        ),
        _ => (Box::new(buffered), Compression::None),
    })
}

/// The bytes read before the capture's header is checked: enough for any
/// header, even when a decompressor hands them over a few at a time.
const HEAD_BYTES: usize = 4096;

/// The first bytes of `input`, up to [`HEAD_BYTES`] (fewer if it ends).
pub(super) fn read_head(input: &mut impl Read) -> Vec<u8> {
    let mut head = vec![0; HEAD_BYTES];
    let mut filled = 0;
    while filled < head.len() {
        match input.read(&mut head[filled..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => filled += n,
        }
    }
    head.truncate(filled);
    head
}

/// Why reading stopped at `byte` of the decompressed capture, `frames` read:
/// a compressed stream cut short is a truncated capture like a cut file,
/// anything else a corrupt one.
pub(super) fn stream_fault(
    compression: Compression,
    frames: u64,
    byte: u64,
    error: &std::io::Error,
) -> CaptureError {
    let what = compression.name();
    if error.kind() == std::io::ErrorKind::UnexpectedEof {
        return CaptureError::Truncated {
            frames,
            byte,
            detail: format!("the {what} ends early"),
        };
    }
    let detail = match compression {
        Compression::None => format!("read error: {error}"),
        _ => format!("the {what} is corrupt: {error}"),
    };
    CaptureError::Corrupt {
        frames,
        byte,
        detail,
    }
}

/// A reader that ends where its input fails, remembering why. pcap-parser
/// would stop at a read error with whole packets still unread in its buffer,
/// and keep only "read error"; ended this way, every whole packet before the
/// fault is read, and the decompressor's own words say whether the file was
/// cut short or corrupt.
pub(super) struct StopAtFault<R> {
    inner: R,
    fault: Arc<Mutex<Option<std::io::Error>>>,
    stopped: bool,
}

/// Why a [`StopAtFault`] reader ended early, if it did.
pub(super) struct Fault(Arc<Mutex<Option<std::io::Error>>>);

impl Fault {
    pub(super) fn take(&self) -> Option<std::io::Error> {
        self.0.lock().ok()?.take()
    }
}

impl<R: Read> StopAtFault<R> {
    pub(super) fn new(inner: R) -> (Self, Fault) {
        let fault = Arc::default();
        let shared = Fault(Arc::clone(&fault));
        let reader = StopAtFault {
            inner,
            fault,
            stopped: false,
        };
        (reader, shared)
    }
}

impl<R: Read> Read for StopAtFault<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while !self.stopped {
            match self.inner.read(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    if let Ok(mut slot) = self.fault.lock() {
                        *slot = Some(e);
                    }
                    self.stopped = true;
                }
                read => return read,
            }
        }
        Ok(0)
    }
}
