//! A borrowed view of one v2 record, and the parser that checks a record body into one.
//!
//! Record layout (after its varint length): attributes (int8), timestampDelta (varlong),
//! offsetDelta (varint), key (varint length, -1 or any negative = null), value (likewise),
//! header count (varint), then per header a key (varint length, never null) and a value
//! (varint length, negative = null). The body must be consumed exactly.

use super::error::{RecordDefect, RecordsError};
use super::varint::{Cursor, VarintError};
use super::DecodeLimits;
use crate::batch::BatchHeader;

/// One record of a batch. Slices borrow the batch (uncompressed) or the reader's one-record
/// buffer (compressed), so a record lives only until the next one is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Position inside the batch, from 0 (Kafka's `batchIndex`).
    pub index: i32,
    /// Bytes the record occupies in the (decompressed) records section, length prefix included.
    pub size_bytes: usize,
    /// Record attributes; unused by Kafka so far.
    pub attributes: i8,
    pub timestamp_delta: i64,
    pub offset_delta: i32,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub header_count: usize,
    headers_bytes: &'a [u8],
}

impl<'a> Record<'a> {
    /// Absolute offset once the batch sits at `header.base_offset`.
    pub fn offset(&self, header: &BatchHeader) -> i64 {
        header.base_offset.wrapping_add(i64::from(self.offset_delta))
    }

    /// The record's timestamp as Kafka reports it: the batch's max timestamp under
    /// LogAppendTime, else the base timestamp plus the delta (wrapping, as Java's `long` does).
    pub fn timestamp(&self, header: &BatchHeader) -> i64 {
        if header.is_log_append_time() {
            header.max_timestamp
        } else {
            header.base_timestamp.wrapping_add(self.timestamp_delta)
        }
    }

    pub fn key_len(&self) -> Option<usize> {
        self.key.map(<[u8]>::len)
    }

    pub fn value_len(&self) -> Option<usize> {
        self.value.map(<[u8]>::len)
    }

    /// The headers in wire order, duplicates kept.
    pub fn headers(&self) -> Headers<'a> {
        Headers { cursor: Cursor::new(self.headers_bytes), left: self.header_count }
    }
}

/// One record header. Keys are bytes: Kafka decodes them as UTF-8 lazily and never checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    pub key: &'a [u8],
    pub value: Option<&'a [u8]>,
}

/// Iterator over a record's headers, already checked when the record was parsed.
#[derive(Clone)]
pub struct Headers<'a> {
    cursor: Cursor<'a>,
    left: usize,
}

impl<'a> Iterator for Headers<'a> {
    type Item = Header<'a>;

    fn next(&mut self) -> Option<Header<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // Parsing already proved these reads succeed; `?` only guards the impossible.
        let key_length = usize::try_from(self.cursor.read_varint().ok()?).ok()?;
        let key = self.cursor.read_slice(key_length)?;
        let value = read_nullable(&mut self.cursor).ok()?;
        Some(Header { key, value })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}

/// Parses the body of record `index` (the bytes after its length varint), which must be
/// exactly `body.len()` bytes long. `size_bytes` is the body plus its length prefix.
pub(crate) fn parse_body<'a>(
    index: i32,
    body: &'a [u8],
    size_bytes: usize,
    limits: &DecodeLimits,
) -> Result<Record<'a>, RecordsError> {
    let invalid = |defect| RecordsError::InvalidRecord { index, defect };
    let mut cursor = Cursor::new(body);

    let attributes = cursor.read_u8().ok_or_else(|| invalid(RecordDefect::FieldOverrun))? as i8;
    let timestamp_delta = cursor.read_varlong().map_err(|e| varint_defect(e, index))?;
    let offset_delta = cursor.read_varint().map_err(|e| varint_defect(e, index))?;
    let key = read_nullable(&mut cursor).map_err(|e| field_defect(e, index))?;
    let value = read_nullable(&mut cursor).map_err(|e| field_defect(e, index))?;

    let header_count = cursor.read_varint().map_err(|e| varint_defect(e, index))?;
    let header_count = match usize::try_from(header_count) {
        Err(_) => return Err(invalid(RecordDefect::NegativeHeaderCount(header_count))),
        Ok(count) if count > cursor.remaining() => {
            return Err(invalid(RecordDefect::HeaderCountExceedsBody {
                count: header_count,
                remaining: cursor.remaining(),
            }))
        }
        Ok(count) if count > limits.max_header_count => {
            return Err(RecordsError::TooManyHeaders { index, count, limit: limits.max_header_count })
        }
        Ok(count) => count,
    };

    let headers_start = cursor.position();
    for _ in 0..header_count {
        let key_length = cursor.read_varint().map_err(|e| varint_defect(e, index))?;
        let key_length =
            usize::try_from(key_length).map_err(|_| invalid(RecordDefect::NegativeHeaderKeyLength(key_length)))?;
        cursor.read_slice(key_length).ok_or_else(|| invalid(RecordDefect::FieldOverrun))?;
        read_nullable(&mut cursor).map_err(|e| field_defect(e, index))?;
    }
    let headers_bytes = body.get(headers_start..cursor.position()).ok_or_else(|| invalid(RecordDefect::FieldOverrun))?;

    if cursor.remaining() != 0 {
        return Err(invalid(RecordDefect::LengthMismatch { declared: body.len(), read: cursor.position() }));
    }
    Ok(Record { index, size_bytes, attributes, timestamp_delta, offset_delta, key, value, header_count, headers_bytes })
}

/// Why a nullable byte field could not be read.
enum FieldError {
    Varint(VarintError),
    Overrun,
}

/// A varint length then that many bytes; any negative length is null, as in Kafka.
fn read_nullable<'a>(cursor: &mut Cursor<'a>) -> Result<Option<&'a [u8]>, FieldError> {
    let length = cursor.read_varint().map_err(FieldError::Varint)?;
    let Ok(length) = usize::try_from(length) else { return Ok(None) };
    cursor.read_slice(length).map(Some).ok_or(FieldError::Overrun)
}

fn varint_defect(error: VarintError, index: i32) -> RecordsError {
    let defect = match error {
        VarintError::Underflow => RecordDefect::FieldOverrun,
        VarintError::TooLong => RecordDefect::VarintTooLong,
    };
    RecordsError::InvalidRecord { index, defect }
}

fn field_defect(error: FieldError, index: i32) -> RecordsError {
    match error {
        FieldError::Varint(error) => varint_defect(error, index),
        FieldError::Overrun => RecordsError::InvalidRecord { index, defect: RecordDefect::FieldOverrun },
    }
}
