//! What the cleaner does with one stored batch: Kafka's `Cleaner.cleanInto` record filter
//! and `MemoryRecords.filterTo`, for magic v2 and without transactions (Runnel refuses
//! transactional and control batches from clients, so control batches are copied as they
//! are).
//!
//! A record is kept when its offset lies past the map, or when it is the latest of its key
//! and either has a value or is a tombstone whose batch carries no expired delete horizon.
//! Records without a key (a compacted topic refuses them, but the policy may have changed)
//! are dropped, as Kafka does. Then, per batch:
//! - nothing removed and no delete horizon to add: the original bytes, untouched;
//! - something kept: a rebuilt batch (see `rebuild`); a batch that keeps a tombstone and has
//!   no horizon yet gets `now + delete.retention.ms`;
//! - nothing kept: dropped, unless it is the last batch of an active producer (its sequence
//!   and epoch must survive) or the last batch of the segment group being cleaned (so the
//!   cleaned segment ends where the group ended); those become an empty batch.
//!
//! A batch whose CRC or records cannot be decoded is kept byte for byte: the cleaner never
//! discards what it cannot read.

use std::io;
use std::ops::ControlFlow;

use runnel_protocol::batch::{validate_batch, BatchHeader};
use runnel_protocol::records::for_each_record;

use super::offset_map::{decode_limits_for, OffsetMap};
use super::rebuild::{delete_horizon_ms, empty_batch, rebuild_batch, RetainedRecord};
use crate::producer::ProducerStateManager;
use crate::scan::last_offset;

/// The inputs of one cleaning round that every batch is judged against.
pub(crate) struct CleanContext<'a> {
    pub map: &'a OffsetMap,
    pub producers: &'a ProducerStateManager,
    pub now_ms: i64,
    pub delete_retention_ms: i64,
}

/// What to write for one batch.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// The original bytes.
    Keep,
    /// New bytes (rebuilt or empty) at the same offsets.
    Replace(Vec<u8>),
    Drop,
}

/// Counters of one round, reported in the outcome.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FilterStats {
    pub records_read: u64,
    pub records_removed: u64,
    pub tombstones_removed: u64,
    pub keyless_records_removed: u64,
    pub batches_removed: u64,
    pub undecodable_batches: u64,
}

impl CleanContext<'_> {
    /// Kafka's `isBatchLastRecordOfProducer` for data batches.
    fn is_last_batch_of_active_producer(&self, header: &BatchHeader) -> bool {
        header.has_producer_id()
            && self
                .producers
                .entry(header.producer_id)
                .and_then(|entry| entry.batches().last().copied())
                .is_some_and(|last| last.last_offset == last_offset(header))
    }

    /// Decides one batch; `last_of_group` marks the last batch of the segments being cleaned
    /// into one. IO errors come only from recompression.
    pub fn filter(
        &self,
        bytes: &[u8],
        header: &BatchHeader,
        last_of_group: bool,
        stats: &mut FilterStats,
    ) -> io::Result<Verdict> {
        if header.is_control() {
            return Ok(Verdict::Keep);
        }
        let horizon = delete_horizon_ms(header);
        let deletes_expired = horizon.is_some_and(|h| self.now_ms >= h);
        let mut retained = Vec::new();
        let mut read = 0u64;
        let mut removed = FilterStats::default();
        let decoded = validate_batch(bytes).map_err(|e| e.to_string()).and_then(|_| {
            let limits = decode_limits_for(bytes.len());
            for_each_record(bytes, header, &limits, |record| {
                read += 1;
                let offset = record.offset(header);
                let keep = if offset > self.map.latest_offset() {
                    true
                } else if let Some(key) = record.key {
                    let latest = offset >= self.map.get(key);
                    let keeps_value = record.value.is_some() || !deletes_expired;
                    if latest && !keeps_value {
                        removed.tombstones_removed += 1;
                    }
                    latest && keeps_value
                } else {
                    removed.keyless_records_removed += 1;
                    false
                };
                if keep {
                    retained.push(RetainedRecord::copy_of(record, header));
                }
                ControlFlow::<()>::Continue(())
            })
            .map_err(|e| e.to_string())
        });
        if let Err(why) = decoded {
            stats.undecodable_batches += 1;
            tracing::warn!("compaction keeps undecodable batch at offset {} unchanged: {why}", header.base_offset);
            return Ok(Verdict::Keep);
        }
        stats.records_read += read;
        stats.records_removed += read - retained.len() as u64;
        stats.tombstones_removed += removed.tombstones_removed;
        stats.keyless_records_removed += removed.keyless_records_removed;

        if retained.is_empty() {
            if self.is_last_batch_of_active_producer(header) || last_of_group {
                let empty = empty_batch(header)?;
                // A batch emptied by an earlier round is already exactly this.
                return Ok(if empty == bytes { Verdict::Keep } else { Verdict::Replace(empty) });
            }
            stats.batches_removed += 1;
            return Ok(Verdict::Drop);
        }
        let needs_horizon = horizon.is_none() && retained.iter().any(|r| r.is_tombstone);
        if retained.len() as u64 == read && !needs_horizon {
            return Ok(Verdict::Keep);
        }
        let horizon = if needs_horizon { Some(self.now_ms.saturating_add(self.delete_retention_ms)) } else { horizon };
        Ok(Verdict::Replace(rebuild_batch(header, &retained, horizon)?))
    }
}
