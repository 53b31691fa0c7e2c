//! Whether and how far to clean: Kafka's `LogCleanerManager.cleanableOffsets`,
//! `calculateCleanableBytes` and `maxCompactionDelay`, and `Cleaner.groupSegmentsBySize`.
//!
//! The dirty section runs from the first dirty offset (the cleaner checkpoint, reset to the
//! log start when it lies outside the log) to the first uncleanable offset: the active
//! segment's base, or earlier the base of the first dirty segment whose largest timestamp is
//! within min.compaction.lag.ms of now. The log is cleaned when its dirty ratio
//! (`cleanable / (clean + cleanable)` bytes, whole segments) exceeds
//! min.cleanable.dirty.ratio, or when some dirty segment's first batch is older than
//! max.compaction.lag.ms and there is something cleanable.

use crate::index::{max_entries, OffsetEntry, TimeEntry};
use crate::partition::PartitionLog;
use crate::segment::MAX_SEGMENT_BYTES;
use crate::LogError;

/// The decision for one call of `compact`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CleaningPlan {
    pub first_dirty_offset: i64,
    /// The checkpoint lay outside the log and was reset (Kafka's forceUpdateCheckpoint).
    pub checkpoint_reset: bool,
    /// A segment base offset: nothing at or after it is cleaned.
    pub first_uncleanable_offset: i64,
    pub cleanable_bytes: u64,
    pub total_bytes: u64,
    pub dirty_ratio: f64,
    /// max.compaction.lag.ms has passed for some dirty segment.
    pub compaction_due: bool,
}

impl CleaningPlan {
    pub fn should_clean(&self, min_cleanable_dirty_ratio: f64) -> bool {
        self.total_bytes > 0
            && ((self.compaction_due && self.cleanable_bytes > 0) || self.dirty_ratio > min_cleanable_dirty_ratio)
    }
}

impl PartitionLog {
    pub(crate) fn plan_cleaning(&self, now_ms: i64) -> Result<CleaningPlan, LogError> {
        let log_start_offset = self.log_start_offset;
        let log_end_offset = self.log_end_offset();
        let (first_dirty_offset, checkpoint_reset) = match self.first_dirty_offset {
            Some(offset) if offset < log_start_offset || offset > log_end_offset => (log_start_offset, true),
            Some(offset) => (offset, false),
            None => (log_start_offset, false),
        };
        let active = self.segments.len() - 1;
        let first_dirty_segment = self.segment_index_for(first_dirty_offset).unwrap_or(0);
        let dirty_non_active = first_dirty_segment.min(active)..active;

        let mut uncleanable = self.active().base_offset;
        let min_lag_ms = self.config.min_compaction_lag_ms.max(0);
        if min_lag_ms > 0 {
            let horizon_ms = now_ms.saturating_sub(min_lag_ms);
            if let Some(young) =
                self.segments[dirty_non_active.clone()].iter().find(|s| s.largest_timestamp() > horizon_ms)
            {
                uncleanable = uncleanable.min(young.base_offset);
            }
        }
        let uncleanable = uncleanable.max(first_dirty_offset);
        // Kafka's calculateCleanableBytes: round down to the base of the segment holding it.
        let first_uncleanable_segment = self.segment_index_for(uncleanable).unwrap_or(0).min(active);
        let first_uncleanable_offset = self.segments[first_uncleanable_segment].base_offset;
        let cleanable_from = self.segment_index_for(first_dirty_offset.min(first_uncleanable_offset)).unwrap_or(0);
        let cleanable_bytes: u64 = self.segments
            [cleanable_from.min(first_uncleanable_segment)..first_uncleanable_segment]
            .iter()
            .map(|s| s.size_bytes())
            .sum();
        let clean_bytes: u64 =
            self.segments.iter().take_while(|s| s.base_offset < first_dirty_offset).map(|s| s.size_bytes()).sum();
        let total_bytes = clean_bytes + cleanable_bytes;
        let dirty_ratio = if total_bytes == 0 { 0.0 } else { cleanable_bytes as f64 / total_bytes as f64 };

        let max_lag_ms = self.config.max_compaction_lag_ms.max(0);
        let clean_until_ms = now_ms.saturating_sub(max_lag_ms);
        let mut compaction_due = false;
        for segment in &self.segments[dirty_non_active] {
            // Kafka's getFirstBatchTimestamp: the first batch's max timestamp, if positive.
            let first = segment.find_batch(segment.base_offset)?.map(|(_, header)| header.max_timestamp);
            if first.is_some_and(|t| t > 0 && t < clean_until_ms) {
                compaction_due = true;
                break;
            }
        }
        Ok(CleaningPlan {
            first_dirty_offset,
            checkpoint_reset,
            first_uncleanable_offset,
            cleanable_bytes,
            total_bytes,
            dirty_ratio,
            compaction_due,
        })
    }

    /// Kafka's groupSegmentsBySize over the segments below `end_offset`: consecutive
    /// segments whose sizes add up to at most segment.bytes, whose rebuilt indexes fit
    /// segment.index.bytes and whose offsets stay within an index's i32 reach. Returns the
    /// base offsets of each group.
    pub(crate) fn group_segments(&self, end_offset: i64, first_uncleanable_offset: i64) -> Vec<Vec<i64>> {
        let count = self.segments.partition_point(|s| s.base_offset < end_offset);
        assert!(count < self.segments.len(), "the active segment is never cleaned");
        let max_bytes = self.config.segment_bytes.min(MAX_SEGMENT_BYTES);
        let max_index_entries = max_entries::<OffsetEntry>(self.config.segment_index_bytes)
            .min(max_entries::<TimeEntry>(self.config.segment_index_bytes)) as u64;
        let interval = self.config.index_interval_bytes.max(1);
        let mut groups = Vec::new();
        let mut i = 0;
        while i < count {
            let group_base = self.segments[i].base_offset;
            let mut group = vec![group_base];
            let mut bytes = self.segments[i].size_bytes();
            i += 1;
            while i < count {
                let next = &self.segments[i];
                let next_last_offset = self.segments.get(i + 1).map_or(first_uncleanable_offset, |s| s.base_offset) - 1;
                let grown = bytes + next.size_bytes();
                let fits = grown <= max_bytes
                    && grown / interval < max_index_entries
                    && (next.size_bytes() == 0 || next_last_offset - group_base <= i64::from(i32::MAX));
                if !fits {
                    break;
                }
                group.push(next.base_offset);
                bytes = grown;
                i += 1;
            }
            groups.push(group);
        }
        groups
    }
}
