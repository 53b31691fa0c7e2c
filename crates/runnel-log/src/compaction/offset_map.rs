//! The key -> latest offset map of one cleaning round (Kafka's `SkimpyOffsetMap`), built from
//! the dirty section of the log.
//!
//! Kafka stores a 16-byte MD5 of each key and accepts that a collision may drop a record;
//! this map stores the keys themselves, so it is exact, and bounds its memory by counting
//! each key's bytes plus [`ENTRY_OVERHEAD_BYTES`] against `log.cleaner.dedupe.buffer.size`.
//! When the budget is reached the map stops at a batch boundary and the round cleans only up
//! to there (as Kafka does when its map fills); the next round continues from that offset.

use std::collections::HashMap;
use std::ops::ControlFlow;

use runnel_protocol::batch::{validate_batch, BatchHeader};
use runnel_protocol::records::{for_each_record, DecodeLimits};

use crate::partition::PartitionLog;
use crate::scan::{last_offset, Scanned};
use crate::LogError;

/// Bytes one map entry costs beyond its key: the key's `Vec` header, the offset, and the
/// hash table's control byte and spare capacity, rounded up.
pub(crate) const ENTRY_OVERHEAD_BYTES: u64 = 48;

/// Keys to the offset of their latest record in the mapped range.
#[derive(Debug)]
pub(crate) struct OffsetMap {
    offsets: HashMap<Vec<u8>, i64>,
    bytes: u64,
    budget_bytes: u64,
    /// The last offset the map covers (Kafka's `latestOffset`); -1 when empty.
    latest_offset: i64,
}

impl OffsetMap {
    pub fn new(budget_bytes: u64) -> Self {
        Self { offsets: HashMap::new(), bytes: 0, budget_bytes, latest_offset: -1 }
    }

    /// Full once the budget is spent; an empty map never is, so every round makes progress.
    pub fn is_full(&self) -> bool {
        !self.offsets.is_empty() && self.bytes >= self.budget_bytes
    }

    pub fn put(&mut self, key: &[u8], offset: i64) {
        if let Some(existing) = self.offsets.get_mut(key) {
            *existing = (*existing).max(offset);
        } else {
            self.bytes += key.len() as u64 + ENTRY_OVERHEAD_BYTES;
            self.offsets.insert(key.to_vec(), offset);
        }
        self.update_latest_offset(offset);
    }

    /// The latest offset of `key`, or -1 when the key is not mapped (Kafka's `get`): every
    /// record of an unmapped key is then "latest".
    pub fn get(&self, key: &[u8]) -> i64 {
        self.offsets.get(key).copied().unwrap_or(-1)
    }

    pub fn update_latest_offset(&mut self, offset: i64) {
        self.latest_offset = self.latest_offset.max(offset);
    }

    pub fn latest_offset(&self) -> i64 {
        self.latest_offset
    }

    pub fn len(&self) -> usize {
        self.offsets.len()
    }
}

/// Limits for decoding the records of one stored batch: the defaults, scaled up for a batch
/// larger than the default message.max.bytes (the topic allowed it when it was produced).
pub(crate) fn decode_limits_for(batch_bytes: usize) -> DecodeLimits {
    DecodeLimits::for_message_max_bytes(batch_bytes.max(runnel_protocol::records::DEFAULT_MESSAGE_MAX_BYTES))
}

/// Calls `visit(offset, key)` for each record of a data batch; `Err(why)` when the batch or
/// its records cannot be decoded (the caller then treats the batch as opaque).
pub(crate) fn for_each_key(
    bytes: &[u8],
    header: &BatchHeader,
    mut visit: impl FnMut(i64, Option<&[u8]>),
) -> Result<(), String> {
    validate_batch(bytes).map_err(|e| e.to_string())?;
    let limits = decode_limits_for(bytes.len());
    for_each_record(bytes, header, &limits, |record| {
        visit(record.offset(header), record.key);
        ControlFlow::<()>::Continue(())
    })
    .map(|_| ())
    .map_err(|e| e.to_string())
}

impl PartitionLog {
    /// Kafka's `buildOffsetMap`: maps the keys of records in `[start, end)` segment by
    /// segment, stopping (at a batch boundary) when the map is full. Control batches and
    /// batches that cannot be decoded contribute no keys; undecodable ones are later copied
    /// unchanged, so nothing they hold is ever lost.
    pub(crate) fn build_offset_map(&self, start: i64, end: i64, budget_bytes: u64) -> Result<OffsetMap, LogError> {
        let mut map = OffsetMap::new(budget_bytes);
        let Some(first) = self.segment_index_for(start.max(self.segments[0].base_offset)) else {
            return Ok(map);
        };
        let last = self.segments.partition_point(|s| s.base_offset < end);
        for i in first..last {
            let segment = &self.segments[i];
            let next_segment_start = self.segments.get(i + 1).map_or(end, |s| s.base_offset).min(end);
            if let Some((position, _)) = segment.find_batch(start)? {
                let mut scanner = segment.scanner(position);
                loop {
                    let (header, bytes) = match scanner.next_batch()? {
                        Scanned::Batch { header, bytes, .. } => (header, bytes),
                        Scanned::End => break,
                        Scanned::Incomplete { position, reason } => {
                            return Err(LogError::Corrupt(
                                self.dir.display().to_string(),
                                format!("segment {} unreadable at position {position}: {reason}", segment.base_offset),
                            ))
                        }
                    };
                    if header.base_offset >= end {
                        break;
                    }
                    if map.is_full() {
                        tracing::debug!(dir = %self.dir.display(), "offset map full at offset {}", header.base_offset);
                        return Ok(map);
                    }
                    if !header.is_control() {
                        let mapped = for_each_key(bytes, &header, |offset, key| {
                            if let Some(key) = key.filter(|_| offset >= start) {
                                map.put(key, offset);
                            }
                        });
                        if let Err(why) = mapped {
                            tracing::warn!(dir = %self.dir.display(), "compaction skips the keys of undecodable batch at offset {}: {why}", header.base_offset);
                        }
                    }
                    if last_offset(&header) >= start {
                        map.update_latest_offset(last_offset(&header));
                    }
                }
            }
            // As Kafka: the map covers the whole segment even if its tail offsets are gaps.
            map.update_latest_offset(next_segment_start - 1);
        }
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_keeps_the_highest_offset_and_counts_memory_once_per_key() {
        let mut map = OffsetMap::new(1 << 20);
        map.put(b"a", 3);
        map.put(b"a", 7);
        map.put(b"bb", 5);
        assert_eq!((map.get(b"a"), map.get(b"bb"), map.get(b"c")), (7, 5, -1));
        assert_eq!(map.bytes, 1 + 2 + 2 * ENTRY_OVERHEAD_BYTES);
        assert_eq!(map.latest_offset(), 7);
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn empty_map_is_never_full_so_a_round_always_progresses() {
        let mut map = OffsetMap::new(0);
        assert!(!map.is_full());
        map.put(b"k", 0);
        assert!(map.is_full());
    }
}
