//! Reads the records of one batch in order, one at a time, in place or through a decoder.
//!
//! Mirrors Kafka's `DefaultRecordBatch` iterators: exactly `recordsCount` records are read;
//! running out first is "premature EOF", and bytes left after the last one are "records
//! still remaining" (checked before the last record is handed out, as Kafka does). A batch
//! declaring no records is not inspected at all, again as in Kafka.
//!
//! A compressed record is read whole into one reusable buffer: its declared length is
//! checked against [`DecodeLimits::max_record_bytes`] first, and the buffer then grows only
//! as decompressed bytes actually arrive, so a length claiming 2 GiB costs nothing.

use std::io::{BufReader, Read};
use std::ops::ControlFlow;

use super::decompress::{classify, Budgeted, Decoder};
use super::error::{BatchDefect, RecordDefect, RecordsError};
use super::record::{parse_body, Record};
use super::varint::{read_stream_byte, read_stream_varint, Cursor, StreamVarintError, VarintError};
use super::DecodeLimits;
use crate::batch::{BatchError, BatchHeader, Compression, BATCH_HEADER_BYTES};

/// Decompressed bytes pulled from a codec per read call, so that varints can be read a byte
/// at a time without one codec call per byte.
const STREAM_BUFFER_BYTES: usize = 16 * 1024;

type Stream<'a> = BufReader<Budgeted<Decoder<'a>>>;

enum Source<'a> {
    Plain { cursor: Cursor<'a> },
    Compressed { codec: Compression, stream: Option<Box<Stream<'a>>>, body: Vec<u8> },
}

/// A lending reader over the records of one batch: each [`Record`] borrows the reader and
/// lives until the next call.
pub struct RecordReader<'a> {
    header: BatchHeader,
    limits: DecodeLimits,
    source: Source<'a>,
    /// Records handed out so far; also the index of the next one.
    read: i32,
    records_bytes: usize,
    failed: Option<RecordsError>,
}

impl<'a> RecordReader<'a> {
    /// A reader over `batch`, a whole batch whose header is `header` (as returned by
    /// [`crate::batch::validate_batch`]).
    pub fn new(batch: &'a [u8], header: &BatchHeader, limits: &DecodeLimits) -> Result<Self, RecordsError> {
        let records =
            batch.get(BATCH_HEADER_BYTES..).ok_or(RecordsError::InvalidBatch(BatchDefect::TooShort(batch.len())))?;
        if header.records_count < 0 {
            return Err(RecordsError::InvalidBatch(BatchDefect::NegativeCount(header.records_count)));
        }
        let codec = header.compression().map_err(|error| match error {
            BatchError::UnknownCompression(id) => RecordsError::UnknownCompression(id),
            _ => RecordsError::UnknownCompression(header.attributes),
        })?;
        let source = match Decoder::new(codec, records, limits)? {
            None => Source::Plain { cursor: Cursor::new(records) },
            Some(decoder) => {
                let budgeted = Budgeted::new(decoder, limits.max_decompressed_bytes);
                let stream = BufReader::with_capacity(STREAM_BUFFER_BYTES, budgeted);
                Source::Compressed { codec, stream: Some(Box::new(stream)), body: Vec::new() }
            }
        };
        Ok(Self { header: *header, limits: *limits, source, read: 0, records_bytes: 0, failed: None })
    }

    /// The next record, `None` after the last declared one. After an error the reader is
    /// spent: every later call returns the same error.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, RecordsError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        if self.read >= self.header.records_count {
            return Ok(None);
        }
        let index = self.read;
        let declared = self.header.records_count;
        let last = index == declared - 1;
        let limits = &self.limits;
        let outcome = match &mut self.source {
            Source::Plain { cursor } => next_plain(cursor, index, declared, limits).and_then(|record| {
                if last && cursor.remaining() != 0 {
                    return Err(RecordsError::TrailingBytes { declared });
                }
                Ok(record)
            }),
            Source::Compressed { codec, stream, body } => {
                next_compressed(stream, body, index, declared, last, *codec, limits)
            }
        };
        match outcome {
            Ok(record) => {
                self.read += 1;
                self.records_bytes += record.size_bytes;
                Ok(Some(record))
            }
            Err(error) => {
                self.failed = Some(error.clone());
                Err(error)
            }
        }
    }

    /// Bytes of the (decompressed) records section taken by the records read so far.
    pub fn records_bytes(&self) -> usize {
        self.records_bytes
    }
}

/// Reads the next record of an uncompressed batch in place.
fn next_plain<'a>(
    cursor: &mut Cursor<'a>,
    index: i32,
    declared: i32,
    limits: &DecodeLimits,
) -> Result<Record<'a>, RecordsError> {
    let start = cursor.position();
    let length = match cursor.read_varint() {
        Ok(length) => length,
        Err(VarintError::Underflow) => return Err(RecordsError::PrematureEnd { declared, read: index }),
        Err(VarintError::TooLong) => {
            return Err(RecordsError::InvalidRecord { index, defect: RecordDefect::VarintTooLong })
        }
    };
    let body_length = checked_length(length, index)?;
    let remaining = cursor.remaining();
    // Not ok_or(): the error would be built and dropped for every record.
    let Some(body) = cursor.read_slice(body_length) else {
        return Err(RecordsError::InvalidRecord { index, defect: RecordDefect::LengthBeyondBatch { length, remaining } });
    };
    let size_bytes = cursor.position() - start;
    check_record_size(size_bytes as u64, index, limits)?;
    parse_body(index, body, size_bytes, limits)
}

/// Reads the next record of a compressed batch into `body`; after the last one, checks
/// that both streams end there.
fn next_compressed<'b>(
    stream: &mut Option<Box<Stream<'_>>>,
    body: &'b mut Vec<u8>,
    index: i32,
    declared: i32,
    last: bool,
    codec: Compression,
    limits: &DecodeLimits,
) -> Result<Record<'b>, RecordsError> {
    let Some(input) = stream.as_mut() else { return Err(RecordsError::PrematureEnd { declared, read: index }) };
    let size_bytes = fill_body(input, body, index, declared, codec, limits)?;
    let record = parse_body(index, body, size_bytes, limits)?;
    if let Some(input) = stream.take_if(|_| last) {
        check_stream_end(*input, declared, codec, limits)?;
    }
    Ok(record)
}

/// Reads the length and body of the next compressed record into `body`; returns the
/// record's size including its length prefix.
fn fill_body(
    input: &mut Stream<'_>,
    body: &mut Vec<u8>,
    index: i32,
    declared: i32,
    codec: Compression,
    limits: &DecodeLimits,
) -> Result<usize, RecordsError> {
    let (length, length_bytes) = match read_stream_varint(input) {
        Ok(read) => read,
        Err(StreamVarintError::End | StreamVarintError::Truncated) => {
            return Err(RecordsError::PrematureEnd { declared, read: index })
        }
        Err(StreamVarintError::TooLong) => {
            return Err(RecordsError::InvalidRecord { index, defect: RecordDefect::VarintTooLong })
        }
        Err(StreamVarintError::Io(error)) => return Err(classify(error, codec, limits)),
    };
    let body_length = checked_length(length, index)?;
    let size_bytes = body_length + length_bytes;
    check_record_size(size_bytes as u64, index, limits)?;
    body.clear();
    // `take` + `read_to_end` grows the buffer with the bytes that really arrive, never to
    // the claimed length up front.
    input.by_ref().take(body_length as u64).read_to_end(body).map_err(|error| classify(error, codec, limits))?;
    if body.len() != body_length {
        return Err(RecordsError::InvalidRecord {
            index,
            defect: RecordDefect::LengthBeyondBatch { length, remaining: body.len() },
        });
    }
    Ok(size_bytes)
}

/// After the last declared record: the decompressed stream must be over, and the
/// compressed stream must have ended properly.
fn check_stream_end(
    mut input: Stream<'_>,
    declared: i32,
    codec: Compression,
    limits: &DecodeLimits,
) -> Result<(), RecordsError> {
    match read_stream_byte(&mut input) {
        Ok(Some(_)) => return Err(RecordsError::TrailingBytes { declared }),
        Ok(None) => {}
        Err(error) => return Err(classify(error, codec, limits)),
    }
    input.into_inner().into_inner().finish().map_err(|error| classify(error, codec, limits))
}

fn checked_length(length: i32, index: i32) -> Result<usize, RecordsError> {
    usize::try_from(length)
        .map_err(|_| RecordsError::InvalidRecord { index, defect: RecordDefect::NegativeLength(length) })
}

fn check_record_size(size_bytes: u64, index: i32, limits: &DecodeLimits) -> Result<(), RecordsError> {
    if size_bytes > limits.max_record_bytes as u64 {
        return Err(RecordsError::RecordTooLarge { index, size_bytes, limit_bytes: limits.max_record_bytes });
    }
    Ok(())
}

/// Calls `visit` with each record of `batch` in order until it breaks; returns the break
/// value, or `None` once every declared record was visited (and the batch was checked for
/// trailing bytes).
pub fn for_each_record<B>(
    batch: &[u8],
    header: &BatchHeader,
    limits: &DecodeLimits,
    mut visit: impl FnMut(&Record<'_>) -> ControlFlow<B>,
) -> Result<Option<B>, RecordsError> {
    let mut reader = RecordReader::new(batch, header, limits)?;
    while let Some(record) = reader.next_record()? {
        if let ControlFlow::Break(value) = visit(&record) {
            return Ok(Some(value));
        }
    }
    Ok(None)
}
