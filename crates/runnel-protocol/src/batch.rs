//! A view of a Kafka record batch (magic v2) header, without decoding its records.
//!
//! Runnel keeps batches opaque: it validates the header, the sizes and the CRC, patches the
//! base offset, and stores the bytes exactly as received. The layout (all big-endian):
//!
//! ```text
//! offset  size  field
//!      0     8  baseOffset            -- outside the CRC, patched by the log
//!      8     4  batchLength           -- bytes after this field
//!     12     4  partitionLeaderEpoch  -- outside the CRC
//!     16     1  magic (= 2)
//!     17     4  crc (CRC-32C of bytes 21..end)
//!     21     2  attributes
//!     23     4  lastOffsetDelta
//!     27     8  baseTimestamp
//!     35     8  maxTimestamp
//!     43     8  producerId
//!     51     2  producerEpoch
//!     53     4  baseSequence
//!     57     4  recordsCount
//!     61     .. records
//! ```

use thiserror::Error;

/// Size of the fixed v2 batch header, in bytes.
pub const BATCH_HEADER_BYTES: usize = 61;
/// Bytes before `batchLength` counts: the base offset and the length field itself.
pub const BATCH_LENGTH_PREFIX_BYTES: usize = 12;
/// The only record batch format Kafka 4 accepts.
pub const MAGIC_V2: i8 = 2;
/// Producer id of a batch written without idempotence.
pub const NO_PRODUCER_ID: i64 = -1;
/// Producer epoch of a batch written without idempotence.
pub const NO_PRODUCER_EPOCH: i16 = -1;
/// Base sequence of a batch written without idempotence.
pub const NO_SEQUENCE: i32 = -1;

const CRC_OFFSET: usize = 17;
const CRC_START: usize = 21;
/// Attribute bits 0-2: the compression codec.
pub const ATTRIBUTES_COMPRESSION_MASK: i16 = 0x07;
/// Attribute bit 3: LogAppendTime rather than CreateTime.
pub const ATTRIBUTES_TIMESTAMP_TYPE_MASK: i16 = 0x08;
/// Attribute bit 4: written inside a transaction.
pub const ATTRIBUTES_TRANSACTIONAL_MASK: i16 = 0x10;
/// Attribute bit 5: a control batch (transaction markers).
pub const ATTRIBUTES_CONTROL_MASK: i16 = 0x20;
/// Attribute bit 6 (Kafka's `DELETE_HORIZON_FLAG_MASK`): the base timestamp holds the time
/// after which the batch's tombstones may be removed by compaction.
pub const ATTRIBUTES_DELETE_HORIZON_MASK: i16 = 0x40;

/// Why a byte range is not a valid record batch.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum BatchError {
    #[error("batch is {0} bytes, shorter than the {BATCH_HEADER_BYTES}-byte header")]
    TooShort(usize),
    #[error("batch length field says {declared} bytes but {available} are present")]
    LengthMismatch { declared: usize, available: usize },
    #[error("unsupported record batch magic {0} (only v2 is accepted)")]
    UnsupportedMagic(i8),
    #[error("record batch CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch { stored: u32, computed: u32 },
    #[error("record batch has {0} records")]
    InvalidRecordCount(i32),
    #[error("record batch last offset delta {last_offset_delta} does not fit {records_count} records")]
    InvalidOffsetDelta { last_offset_delta: i32, records_count: i32 },
    #[error("unknown compression codec {0}")]
    UnknownCompression(i16),
}

/// Compression codec of a batch, from the low three attribute bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Compression {
    fn from_attributes(attributes: i16) -> Result<Self, BatchError> {
        match attributes & ATTRIBUTES_COMPRESSION_MASK {
            0 => Ok(Self::None),
            1 => Ok(Self::Gzip),
            2 => Ok(Self::Snappy),
            3 => Ok(Self::Lz4),
            4 => Ok(Self::Zstd),
            other => Err(BatchError::UnknownCompression(other)),
        }
    }
}

/// The decoded fixed header of one record batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub records_count: i32,
}

impl BatchHeader {
    /// Reads the header fields of the batch at the start of `bytes` without validating them.
    /// Needs at least [`BATCH_HEADER_BYTES`] bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, BatchError> {
        if bytes.len() < BATCH_HEADER_BYTES {
            return Err(BatchError::TooShort(bytes.len()));
        }
        Ok(Self {
            base_offset: i64_at(bytes, 0),
            batch_length: i32_at(bytes, 8),
            partition_leader_epoch: i32_at(bytes, 12),
            magic: bytes[16] as i8,
            crc: u32::from_be_bytes(bytes[CRC_OFFSET..CRC_START].try_into().unwrap()),
            attributes: i16_at(bytes, 21),
            last_offset_delta: i32_at(bytes, 23),
            base_timestamp: i64_at(bytes, 27),
            max_timestamp: i64_at(bytes, 35),
            producer_id: i64_at(bytes, 43),
            producer_epoch: i16_at(bytes, 51),
            base_sequence: i32_at(bytes, 53),
            records_count: i32_at(bytes, 57),
        })
    }

    /// Total size of the batch on the wire and on disk, including the offset and length fields.
    pub fn total_bytes(&self) -> usize {
        BATCH_LENGTH_PREFIX_BYTES + self.batch_length.max(0) as usize
    }

    pub fn last_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta)
    }

    pub fn compression(&self) -> Result<Compression, BatchError> {
        Compression::from_attributes(self.attributes)
    }

    /// True when timestamps were set by the broker (LogAppendTime) rather than the producer.
    pub fn is_log_append_time(&self) -> bool {
        self.attributes & ATTRIBUTES_TIMESTAMP_TYPE_MASK != 0
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes & ATTRIBUTES_TRANSACTIONAL_MASK != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes & ATTRIBUTES_CONTROL_MASK != 0
    }

    /// True when the batch was written by an idempotent or transactional producer.
    pub fn has_producer_id(&self) -> bool {
        self.producer_id >= 0
    }

    /// Sequence number of the last record, wrapping at `i32::MAX` as Kafka does.
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence == NO_SEQUENCE {
            return NO_SEQUENCE;
        }
        let last = i64::from(self.base_sequence) + i64::from(self.last_offset_delta);
        if last > i64::from(i32::MAX) {
            (last - i64::from(i32::MAX) - 1) as i32
        } else {
            last as i32
        }
    }
}

/// Validates one complete batch occupying exactly `bytes`: header, declared length, magic,
/// counts and CRC. Returns the parsed header.
pub fn validate_batch(bytes: &[u8]) -> Result<BatchHeader, BatchError> {
    let header = BatchHeader::parse(bytes)?;
    if header.magic != MAGIC_V2 {
        return Err(BatchError::UnsupportedMagic(header.magic));
    }
    let declared = header.total_bytes();
    if header.batch_length < (BATCH_HEADER_BYTES - BATCH_LENGTH_PREFIX_BYTES) as i32
        || declared != bytes.len()
    {
        return Err(BatchError::LengthMismatch { declared, available: bytes.len() });
    }
    header.compression()?;
    if header.records_count < 0 {
        return Err(BatchError::InvalidRecordCount(header.records_count));
    }
    if header.last_offset_delta < 0
        || (header.records_count > 0 && header.last_offset_delta < header.records_count - 1)
    {
        return Err(BatchError::InvalidOffsetDelta {
            last_offset_delta: header.last_offset_delta,
            records_count: header.records_count,
        });
    }
    let computed = crc32c::crc32c(&bytes[CRC_START..]);
    if computed != header.crc {
        return Err(BatchError::CrcMismatch { stored: header.crc, computed });
    }
    Ok(header)
}

/// Splits a concatenation of batches (a Produce `records` field, or a stretch of a segment)
/// into the byte ranges of whole batches. Stops at the first incomplete batch and reports
/// where the whole ones end, so a caller can tell a clean end from a torn tail.
pub fn split_batches(bytes: &[u8]) -> (Vec<std::ops::Range<usize>>, usize) {
    let mut ranges = Vec::new();
    let mut position = 0;
    while bytes.len() - position >= BATCH_LENGTH_PREFIX_BYTES {
        let batch_length = i32_at(bytes, position + 8);
        if batch_length < (BATCH_HEADER_BYTES - BATCH_LENGTH_PREFIX_BYTES) as i32 {
            break;
        }
        let end = position + BATCH_LENGTH_PREFIX_BYTES + batch_length as usize;
        if end > bytes.len() {
            break;
        }
        ranges.push(position..end);
        position = end;
    }
    (ranges, position)
}

/// Writes `base_offset` into the batch's first eight bytes. The field lies outside the CRC.
pub fn set_base_offset(batch: &mut [u8], base_offset: i64) {
    assert!(batch.len() >= BATCH_HEADER_BYTES, "set_base_offset on a {}-byte batch", batch.len());
    batch[0..8].copy_from_slice(&base_offset.to_be_bytes());
}

/// Writes the partition leader epoch. The field lies outside the CRC.
pub fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) {
    assert!(batch.len() >= BATCH_HEADER_BYTES);
    batch[12..16].copy_from_slice(&epoch.to_be_bytes());
}

/// Sets LogAppendTime: the timestamp-type attribute bit and the max timestamp, then
/// recomputes the CRC, since both lie inside it.
pub fn set_log_append_time(batch: &mut [u8], timestamp_ms: i64) {
    assert!(batch.len() >= BATCH_HEADER_BYTES);
    let (header, records) = batch.split_at_mut(BATCH_HEADER_BYTES);
    set_log_append_time_in_header(header, records, timestamp_ms);
}

/// [`set_log_append_time`] for a batch held as its header and, apart, the records that
/// follow it: only `header` changes; its CRC covers both.
pub fn set_log_append_time_in_header(header: &mut [u8], records: &[u8], timestamp_ms: i64) {
    assert_eq!(header.len(), BATCH_HEADER_BYTES, "a batch header is {BATCH_HEADER_BYTES} bytes");
    let attributes = i16_at(header, 21) | ATTRIBUTES_TIMESTAMP_TYPE_MASK;
    header[21..23].copy_from_slice(&attributes.to_be_bytes());
    header[35..43].copy_from_slice(&timestamp_ms.to_be_bytes());
    update_crc_in_header(header, records);
}

/// Recomputes the CRC after a change to the bytes it covers (attributes onwards).
pub fn update_crc(batch: &mut [u8]) {
    assert!(batch.len() >= BATCH_HEADER_BYTES, "update_crc on a {}-byte batch", batch.len());
    let (header, records) = batch.split_at_mut(BATCH_HEADER_BYTES);
    update_crc_in_header(header, records);
}

/// [`update_crc`] for a header held apart from the records that follow it.
fn update_crc_in_header(header: &mut [u8], records: &[u8]) {
    let crc = crc32c::crc32c_append(crc32c::crc32c(&header[CRC_START..]), records);
    header[CRC_OFFSET..CRC_START].copy_from_slice(&crc.to_be_bytes());
}

fn i16_at(bytes: &[u8], at: usize) -> i16 {
    i16::from_be_bytes(bytes[at..at + 2].try_into().unwrap())
}

fn i32_at(bytes: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(bytes[at..at + 4].try_into().unwrap())
}

fn i64_at(bytes: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(bytes[at..at + 8].try_into().unwrap())
}

/// Builds valid batches for tests in this and other crates.
pub mod testing {
    use super::*;
    use crate::records::put_varint;

    /// A v2 batch with `records_count` minimal records (empty key, `value_bytes` of value),
    /// uncompressed, with the given producer fields, and a correct CRC.
    pub fn batch(
        records_count: i32,
        value_bytes: usize,
        base_timestamp: i64,
        producer_id: i64,
        producer_epoch: i16,
        base_sequence: i32,
    ) -> Vec<u8> {
        assert!(records_count > 0);
        let mut records = Vec::new();
        for delta in 0..records_count {
            let mut body = Vec::new();
            body.push(0); // attributes
            put_varint(&mut body, 0); // timestamp delta
            put_varint(&mut body, i64::from(delta)); // offset delta
            put_varint(&mut body, -1); // null key
            put_varint(&mut body, value_bytes as i64);
            body.extend(std::iter::repeat_n(b'v', value_bytes));
            put_varint(&mut body, 0); // no headers
            put_varint(&mut records, body.len() as i64);
            records.extend_from_slice(&body);
        }
        let mut out = vec![0u8; BATCH_HEADER_BYTES];
        out.extend_from_slice(&records);
        let batch_length = (out.len() - BATCH_LENGTH_PREFIX_BYTES) as i32;
        out[8..12].copy_from_slice(&batch_length.to_be_bytes());
        out[16] = MAGIC_V2 as u8;
        out[23..27].copy_from_slice(&(records_count - 1).to_be_bytes());
        out[27..35].copy_from_slice(&base_timestamp.to_be_bytes());
        out[35..43].copy_from_slice(&base_timestamp.to_be_bytes());
        out[43..51].copy_from_slice(&producer_id.to_be_bytes());
        out[51..53].copy_from_slice(&producer_epoch.to_be_bytes());
        out[53..57].copy_from_slice(&base_sequence.to_be_bytes());
        out[57..61].copy_from_slice(&records_count.to_be_bytes());
        update_crc(&mut out);
        out
    }

    /// A plain (non-idempotent) batch.
    pub fn plain_batch(records_count: i32, value_bytes: usize, base_timestamp: i64) -> Vec<u8> {
        batch(records_count, value_bytes, base_timestamp, NO_PRODUCER_ID, NO_PRODUCER_EPOCH, NO_SEQUENCE)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn built_batch_validates_and_reports_its_fields() {
        let bytes = batch(3, 10, 1_000, 7, 1, 5);
        let header = validate_batch(&bytes).unwrap();
        assert_eq!(header.records_count, 3);
        assert_eq!(header.last_offset_delta, 2);
        assert_eq!(header.producer_id, 7);
        assert_eq!(header.last_sequence(), 7);
        assert_eq!(header.total_bytes(), bytes.len());
    }

    #[test]
    fn base_offset_patch_keeps_crc_valid() {
        let mut bytes = plain_batch(2, 4, 0);
        set_base_offset(&mut bytes, 42);
        assert_eq!(validate_batch(&bytes).unwrap().base_offset, 42);
    }

    #[test]
    fn flipped_payload_byte_is_a_crc_mismatch() {
        let mut bytes = plain_batch(2, 4, 0);
        let last = bytes.len() - 2;
        bytes[last] ^= 0xff;
        assert!(matches!(validate_batch(&bytes), Err(BatchError::CrcMismatch { .. })));
    }

    #[test]
    fn log_append_time_recomputes_crc() {
        let mut bytes = plain_batch(1, 1, 5);
        set_log_append_time(&mut bytes, 99);
        let header = validate_batch(&bytes).unwrap();
        assert!(header.is_log_append_time());
        assert_eq!(header.max_timestamp, 99);
    }

    #[test]
    fn log_append_time_in_a_separate_header_gives_the_whole_batch_crc() {
        let mut whole = plain_batch(3, 4, 5);
        let (mut header, records) = (whole[..BATCH_HEADER_BYTES].to_vec(), whole[BATCH_HEADER_BYTES..].to_vec());
        set_log_append_time(&mut whole, 99);
        set_log_append_time_in_header(&mut header, &records, 99);
        assert_eq!([header, records].concat(), whole);
    }

    #[test]
    fn last_sequence_wraps_at_i32_max() {
        let bytes = batch(3, 1, 0, 1, 0, i32::MAX - 1);
        assert_eq!(BatchHeader::parse(&bytes).unwrap().last_sequence(), 0);
    }

    #[test]
    fn split_batches_stops_at_torn_tail() {
        let one = plain_batch(1, 3, 0);
        let two = plain_batch(2, 3, 0);
        let mut all = one.clone();
        all.extend_from_slice(&two);
        let whole = all.len();
        all.extend_from_slice(&two[..20]);
        let (ranges, end) = split_batches(&all);
        assert_eq!(ranges, vec![0..one.len(), one.len()..whole]);
        assert_eq!(end, whole);
    }

    proptest::proptest! {
        #[test]
        fn validate_never_panics_on_garbage(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = validate_batch(&bytes);
            let _ = split_batches(&bytes);
        }
    }
}
