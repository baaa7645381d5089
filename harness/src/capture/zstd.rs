//! zstd captures, read frame after frame, and cut short without losing what
//! was decompressed. ruzstd hands decoded bytes over only once they leave
//! its window (up to megabytes), so a file cut short would lose the frames
//! of its last window. The compressed stream is passed to the decoder one
//! whole block at a time (RFC 8878 3.1.1.2); where it ends inside a block,
//! an empty last block ends the frame instead, the decoder hands over all
//! it holds, and the cut is then reported as an early end of the stream.

use std::io::{Error, ErrorKind, Read};

use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

const MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// An empty raw block that is the frame's last: block header bit 0 set,
/// type 0 (raw), size 0.
const EMPTY_LAST_BLOCK: [u8; 3] = [1, 0, 0];
/// The largest block a frame may carry (RFC 8878 3.1.1.2.4), header included.
const MAX_BLOCK: usize = (128 << 10) + 3;

enum Place {
    /// Before a frame's magic number.
    FrameStart,
    /// Before a block header; whether the frame ends with a checksum.
    Block { checksum: bool },
    /// Bytes this reader cannot frame (another magic number, a reserved
    /// block type): handed on as they are, for the decoder to judge.
    Raw,
    /// The stream ended (or was cut and given its end).
    Ended,
}

/// The compressed stream, handed on whole block by whole block.
struct Blocks<R> {
    inner: R,
    place: Place,
    /// Bytes ready for the decoder, and how many of them it has taken.
    ready: Vec<u8>,
    taken: usize,
    /// The stream ended inside a frame.
    cut: bool,
}

/// Reads up to `n` bytes; fewer only at the end of `inner`.
fn read_up_to(inner: &mut impl Read, n: usize) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(n);
    inner.take(n as u64).read_to_end(&mut out)?;
    Ok(out)
}

impl<R: Read> Blocks<R> {
    /// The frame ends here: the bytes that end it in place of what is missing.
    fn end_frame_early(&mut self, checksum: bool) {
        self.cut = true;
        self.ready.extend_from_slice(&EMPTY_LAST_BLOCK);
        if checksum {
            // Not verified by the decoder: any four bytes do.
            self.ready.extend_from_slice(&[0; 4]);
        }
        self.place = Place::Ended;
    }

    /// Readies the next piece of the stream: a frame header, or a whole block.
    fn next_piece(&mut self) -> std::io::Result<()> {
        match self.place {
            Place::FrameStart => {
                let magic = read_up_to(&mut self.inner, 4)?;
                if magic.is_empty() {
                    self.place = Place::Ended;
                } else if magic != MAGIC {
                    self.ready.extend_from_slice(&magic);
                    self.place = Place::Raw;
                } else {
                    let descriptor = read_up_to(&mut self.inner, 1)?;
                    let Some(&d) = descriptor.first() else {
                        self.cut = true;
                        self.place = Place::Ended;
                        return Ok(());
                    };
                    let single_segment = d & 0x20 != 0;
                    let window = usize::from(!single_segment);
                    let dictionary = [0, 1, 2, 4][usize::from(d & 3)];
                    let content_size = match d >> 6 {
                        0 => usize::from(single_segment),
                        1 => 2,
                        2 => 4,
                        _ => 8,
                    };
                    let rest = read_up_to(&mut self.inner, window + dictionary + content_size)?;
                    if rest.len() < window + dictionary + content_size {
                        // Cut inside the frame header: nothing of this frame to save.
                        self.cut = true;
                        self.place = Place::Ended;
                        return Ok(());
                    }
                    self.ready.extend_from_slice(&MAGIC);
                    self.ready.push(d);
                    self.ready.extend_from_slice(&rest);
                    self.place = Place::Block {
                        checksum: d & 4 != 0,
                    };
                }
            }
            Place::Block { checksum } => {
                let header = read_up_to(&mut self.inner, 3)?;
                if header.len() < 3 {
                    self.end_frame_early(checksum);
                    return Ok(());
                }
                let bits =
                    u32::from(header[0]) | u32::from(header[1]) << 8 | u32::from(header[2]) << 16;
                let last = bits & 1 != 0;
                let size = match (bits >> 1) & 3 {
                    // RLE: one byte, repeated.
                    1 => 1,
                    3 => {
                        // Reserved: corrupt; the decoder says so.
                        self.ready.extend_from_slice(&header);
                        self.place = Place::Raw;
                        return Ok(());
                    }
                    _ => (bits >> 3) as usize,
                };
                let body = read_up_to(&mut self.inner, size.min(MAX_BLOCK))?;
                if body.len() < size {
                    self.end_frame_early(checksum);
                    return Ok(());
                }
                self.ready.extend_from_slice(&header);
                self.ready.extend_from_slice(&body);
                if last {
                    if checksum {
                        let sum = read_up_to(&mut self.inner, 4)?;
                        self.cut |= sum.len() < 4;
                        self.ready.extend_from_slice(&sum);
                        self.ready.resize(self.ready.len() + 4 - sum.len(), 0);
                    }
                    self.place = Place::FrameStart;
                }
            }
            Place::Raw => {
                let bytes = read_up_to(&mut self.inner, 1 << 16)?;
                if bytes.is_empty() {
                    self.place = Place::Ended;
                }
                self.ready.extend_from_slice(&bytes);
            }
            Place::Ended => {}
        }
        Ok(())
    }

    /// Whether the stream has more frames: bytes ready or to come.
    fn at_end(&mut self) -> std::io::Result<bool> {
        while self.taken == self.ready.len() && !matches!(self.place, Place::Ended) {
            self.ready.clear();
            self.taken = 0;
            self.next_piece()?;
        }
        Ok(self.taken == self.ready.len())
    }
}

impl<R: Read> Read for Blocks<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.at_end()? {
            return Ok(0);
        }
        let n = buf.len().min(self.ready.len() - self.taken);
        buf[..n].copy_from_slice(&self.ready[self.taken..self.taken + n]);
        self.taken += n;
        Ok(n)
    }
}

/// A zstd stream decompressed: every frame in turn, and a stream cut short
/// ends with an [`ErrorKind::UnexpectedEof`] after all it held.
pub(super) struct ZstdReader<R> {
    source: Blocks<R>,
    decoder: FrameDecoder,
    in_frame: bool,
}

impl<R: Read> ZstdReader<R> {
    pub(super) fn new(inner: R) -> Self {
        ZstdReader {
            source: Blocks {
                inner,
                place: Place::FrameStart,
                ready: Vec::new(),
                taken: 0,
                cut: false,
            },
            decoder: FrameDecoder::new(),
            in_frame: false,
        }
    }

    fn fault(&self, error: impl std::fmt::Display) -> Error {
        if self.source.cut {
            Error::new(ErrorKind::UnexpectedEof, "the stream ends inside a frame")
        } else {
            Error::other(error.to_string())
        }
    }
}

impl<R: Read> Read for ZstdReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if !self.in_frame {
                if self.source.at_end()? {
                    return match self.source.cut {
                        true => Err(self.fault("")),
                        false => Ok(0),
                    };
                }
                self.decoder
                    .init(&mut self.source)
                    .map_err(|e| self.fault(e))?;
                self.in_frame = true;
            }
            while self.decoder.can_collect() < buf.len() && !self.decoder.is_finished() {
                let wanted = buf.len() - self.decoder.can_collect();
                self.decoder
                    .decode_blocks(&mut self.source, BlockDecodingStrategy::UptoBytes(wanted))
                    .map_err(|e| self.fault(e))?;
            }
            let n = self.decoder.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            // This frame is over: the next one, if there is one.
            self.in_frame = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decompress(compressed: &[u8]) -> (Vec<u8>, Option<ErrorKind>) {
        let mut reader = ZstdReader::new(compressed);
        let mut out = Vec::new();
        let mut buf = [0; 1000];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => return (out, None),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => return (out, Some(e.kind())),
            }
        }
    }

    #[test]
    fn frames_in_turn_and_a_cut_stream_keeps_its_whole_blocks() {
        let text: Vec<u8> = (0..400_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let one = ruzstd::encoding::compress_to_vec(
            &text[..],
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        assert_eq!(decompress(&one), (text.clone(), None));
        // Two frames one after the other are one stream.
        let two = [one.clone(), one.clone()].concat();
        let (both, error) = decompress(&two);
        assert_eq!((both.len(), error), (text.len() * 2, None));
        assert_eq!(&both[text.len()..], &text[..]);
        // Cut in the middle: what the whole blocks before the cut hold, then the early end.
        let (some, error) = decompress(&one[..one.len() / 2]);
        assert_eq!(error, Some(ErrorKind::UnexpectedEof));
        assert!(
            some.len() > text.len() / 4,
            "{} of {}",
            some.len(),
            text.len()
        );
        assert_eq!(&text[..some.len()], &some[..]);
    }
}
