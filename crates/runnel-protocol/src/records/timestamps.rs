//! Record-level timestamp look-ups inside one stored batch, for ListOffsets.
//!
//! Timestamps are Kafka's `record.timestamp()` (see [`Record::timestamp`]), offsets are
//! absolute (`baseOffset + offsetDelta`). Choosing which batches to search (by their header
//! max timestamp, as Kafka's `LogSegment.findOffsetByTimestamp` does) is the caller's job.

use std::ops::ControlFlow;

use super::error::RecordsError;
use super::reader::for_each_record;
use super::record::Record;
use super::DecodeLimits;
use crate::batch::BatchHeader;

/// The first record whose timestamp is at least `target_timestamp`, as
/// `(offset, timestamp)`; `None` when every record is earlier.
pub fn find_offset_for_timestamp(
    batch: &[u8],
    header: &BatchHeader,
    limits: &DecodeLimits,
    target_timestamp: i64,
) -> Result<Option<(i64, i64)>, RecordsError> {
    find_offset_for_timestamp_from(batch, header, limits, target_timestamp, i64::MIN)
}

/// As [`find_offset_for_timestamp`], skipping records below `min_offset` (Kafka passes the
/// log start offset, which may fall inside a batch after DeleteRecords).
pub fn find_offset_for_timestamp_from(
    batch: &[u8],
    header: &BatchHeader,
    limits: &DecodeLimits,
    target_timestamp: i64,
    min_offset: i64,
) -> Result<Option<(i64, i64)>, RecordsError> {
    for_each_record(batch, header, limits, |record: &Record<'_>| {
        let (offset, timestamp) = (record.offset(header), record.timestamp(header));
        if timestamp >= target_timestamp && offset >= min_offset {
            ControlFlow::Break((offset, timestamp))
        } else {
            ControlFlow::Continue(())
        }
    })
}

/// The record with the largest timestamp, the first of equals, as `(offset, timestamp)`;
/// `None` for a batch without records.
///
/// Kafka 4 answers ListOffsets MAX_TIMESTAMP with the first record whose timestamp equals
/// the batch header's max timestamp, which its validator has made the records' maximum;
/// searching for the maximum itself gives the same record without trusting the header.
pub fn max_timestamp_record(
    batch: &[u8],
    header: &BatchHeader,
    limits: &DecodeLimits,
) -> Result<Option<(i64, i64)>, RecordsError> {
    let mut best: Option<(i64, i64)> = None;
    for_each_record(batch, header, limits, |record: &Record<'_>| {
        let timestamp = record.timestamp(header);
        if best.is_none_or(|(_, max)| timestamp > max) {
            best = Some((record.offset(header), timestamp));
        }
        ControlFlow::<()>::Continue(())
    })?;
    Ok(best)
}
