//! Streaming decompression of a batch's records section, under a byte budget.
//!
//! Kafka's framing per codec (what its `wrapForInput` accepts for magic v2):
//! - gzip: one or more concatenated gzip members (Java's `GZIPInputStream`).
//! - snappy: xerial-snappy framing (`\x82SNAPPY\0`, version, compat, then blocks of a
//!   big-endian u32 length and a raw snappy block), or, as `SnappyInputStream` falls back
//!   to and librdkafka writes, one raw snappy block without framing.
//! - lz4: the standard LZ4 frame format (Kafka's `Lz4BlockInputStream`); input after the
//!   end mark is ignored, as Kafka does.
//! - zstd: one or more zstd frames.
//!
//! Memory per batch stays bounded whatever the input claims: gzip keeps a 32 KiB window;
//! lz4 at most one 4 MiB block; zstd a window no larger than `2^zstd_window_log_max`,
//! reserved but touched only as bytes are inflated; snappy one block, whose declared size is
//! checked against the remaining budget and snappy's maximum expansion before allocating.

use std::io::{self, Read};

use flate2::read::MultiGzDecoder;

use super::error::RecordsError;
use super::DecodeLimits;
use crate::batch::Compression;

/// Start of xerial-snappy framing; the 8 bytes after it are version and compatible version.
const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
const XERIAL_HEADER_BYTES: usize = 16;
const XERIAL_BLOCK_LENGTH_BYTES: usize = 4;

/// Snappy cannot inflate beyond this ratio (a 3-byte copy op emits at most 64 bytes), so a
/// block declaring more is corrupt and is refused before its buffer is allocated.
const SNAPPY_MAX_EXPANSION_RATIO: usize = 22;

/// Marks the io error raised when the decompressed budget runs out.
#[derive(Debug)]
struct BudgetExceeded;

impl std::fmt::Display for BudgetExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("decompressed size limit exceeded")
    }
}

impl std::error::Error for BudgetExceeded {}

fn budget_exceeded() -> io::Error {
    io::Error::other(BudgetExceeded)
}

/// Maps an error from a decompressing reader to the batch error it means.
pub(crate) fn classify(error: io::Error, codec: Compression, limits: &DecodeLimits) -> RecordsError {
    if error.get_ref().is_some_and(|inner| inner.is::<BudgetExceeded>()) {
        RecordsError::DecompressedTooLarge { limit_bytes: limits.max_decompressed_bytes }
    } else if error.kind() == io::ErrorKind::UnexpectedEof {
        RecordsError::TruncatedCompressedRecords { codec }
    } else {
        RecordsError::Decompression { codec, message: error.to_string() }
    }
}

/// A codec's streaming decoder over the compressed records section.
pub(crate) enum Decoder<'a> {
    Gzip(MultiGzDecoder<&'a [u8]>),
    Snappy(SnappyReader<'a>),
    Lz4(lz4::Decoder<&'a [u8]>),
    Zstd(zstd::stream::read::Decoder<'static, &'a [u8]>),
}

impl<'a> Decoder<'a> {
    /// A decoder for `codec`, or `None` for uncompressed records.
    pub(crate) fn new(
        codec: Compression,
        compressed: &'a [u8],
        limits: &DecodeLimits,
    ) -> Result<Option<Self>, RecordsError> {
        let fail = |error: io::Error| classify(error, codec, limits);
        let decoder = match codec {
            Compression::None => return Ok(None),
            Compression::Gzip => Self::Gzip(MultiGzDecoder::new(compressed)),
            Compression::Snappy => Self::Snappy(SnappyReader::new(compressed, limits.max_decompressed_bytes)),
            Compression::Lz4 => Self::Lz4(lz4::Decoder::new(compressed).map_err(fail)?),
            Compression::Zstd => {
                let mut decoder = zstd::stream::read::Decoder::with_buffer(compressed).map_err(fail)?;
                decoder.window_log_max(limits.zstd_window_log_max).map_err(fail)?;
                Self::Zstd(decoder)
            }
        };
        Ok(Some(decoder))
    }

    /// Checks, once the decompressed stream has ended, that the compressed stream ended
    /// properly rather than being cut short. gzip and zstd report truncation as read errors;
    /// the lz4 decoder reports it only here.
    pub(crate) fn finish(self) -> io::Result<()> {
        match self {
            Self::Lz4(decoder) => decoder
                .finish()
                .1
                .map_err(|_| io::Error::new(io::ErrorKind::UnexpectedEof, "lz4 frame ends before its end mark")),
            Self::Gzip(_) | Self::Snappy(_) | Self::Zstd(_) => Ok(()),
        }
    }
}

impl Read for Decoder<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Gzip(decoder) => decoder.read(buf),
            Self::Snappy(decoder) => decoder.read(buf),
            Self::Lz4(decoder) => decoder.read(buf),
            Self::Zstd(decoder) => decoder.read(buf),
        }
    }
}

/// Fails a read that would take the decompressed total past `limit_bytes`.
pub(crate) struct Budgeted<R> {
    inner: R,
    limit_bytes: usize,
    read_bytes: usize,
}

impl<R: Read> Budgeted<R> {
    pub(crate) fn new(inner: R, limit_bytes: usize) -> Self {
        Self { inner, limit_bytes, read_bytes: 0 }
    }

    pub(crate) fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for Budgeted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let left = self.limit_bytes - self.read_bytes;
        if left == 0 {
            // A probe: one more byte means the stream is longer than the budget.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(budget_exceeded()),
            };
        }
        let wanted = buf.len().min(left);
        let got = self.inner.read(&mut buf[..wanted])?;
        self.read_bytes += got;
        Ok(got)
    }
}

/// Decodes Kafka's snappy payloads one block at a time.
pub(crate) struct SnappyReader<'a> {
    input: &'a [u8],
    framed: bool,
    /// The current decompressed block and how much of it has been handed out.
    block: Vec<u8>,
    block_position: usize,
    /// Decompressed bytes still allowed; a block declaring more is refused unallocated.
    budget_bytes: usize,
    decoder: snap::raw::Decoder,
}

impl<'a> SnappyReader<'a> {
    pub(crate) fn new(input: &'a [u8], budget_bytes: usize) -> Self {
        let framed = input.len() >= XERIAL_HEADER_BYTES && input.starts_with(XERIAL_MAGIC);
        let input = if framed { &input[XERIAL_HEADER_BYTES..] } else { input };
        Self { input, framed, block: Vec::new(), block_position: 0, budget_bytes, decoder: snap::raw::Decoder::new() }
    }

    /// Decodes the next block into `self.block`; false at the end of the input.
    fn next_block(&mut self) -> io::Result<bool> {
        if self.input.is_empty() {
            return Ok(false);
        }
        let compressed = if self.framed {
            let (length, rest) = self
                .input
                .split_first_chunk::<XERIAL_BLOCK_LENGTH_BYTES>()
                .ok_or_else(|| cut_short("snappy block length cut short"))?;
            let length = u32::from_be_bytes(*length) as usize;
            let block = rest.get(..length).ok_or_else(|| cut_short("snappy block cut short"))?;
            self.input = &rest[length..];
            block
        } else {
            std::mem::take(&mut self.input)
        };
        let declared = snap::raw::decompress_len(compressed).map_err(io::Error::other)?;
        if declared > compressed.len().saturating_mul(SNAPPY_MAX_EXPANSION_RATIO) {
            return Err(corrupt("snappy block declares more than snappy can expand to"));
        }
        if declared > self.budget_bytes {
            return Err(budget_exceeded());
        }
        self.budget_bytes -= declared;
        self.block.clear();
        self.block.resize(declared, 0);
        let written = self.decoder.decompress(compressed, &mut self.block).map_err(io::Error::other)?;
        self.block.truncate(written);
        self.block_position = 0;
        Ok(true)
    }
}

impl Read for SnappyReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.block_position == self.block.len() {
            if !self.next_block()? {
                return Ok(0);
            }
        }
        let available = &self.block[self.block_position..];
        let count = available.len().min(buf.len());
        buf[..count].copy_from_slice(&available[..count]);
        self.block_position += count;
        Ok(count)
    }
}

fn corrupt(message: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// A stream that ends early: reported as truncation (INVALID_RECORD), not corruption.
fn cut_short(message: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, message)
}
