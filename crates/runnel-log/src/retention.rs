//! Removing data: retention (Kafka's UnifiedLog.deleteOldSegments) and truncation to an
//! offset (the replication seam).
//!
//! Retention deletes a prefix of whole segments, oldest first, stopping at the first segment
//! that is not deletable and never deleting a last segment that is empty. Order as in Kafka 4:
//! segments wholly below the log start, then retention.bytes (delete while the log stays at
//! or above the limit without the segment), then retention.ms (a segment whose largest
//! timestamp is older than `now - retention.ms`). When every segment would go, a new active
//! segment is rolled first, so an expired active segment is deleted too. The log start offset
//! moves to the first remaining segment and is checkpointed before any file is removed.

use crate::layout::{offset_file_name, Checkpoint, SNAPSHOT_SUFFIX};
use crate::partition::PartitionLog;
use crate::recovery::remove_if_present;
use crate::segment::{remove_segment_files, Segment};
use crate::{LogError, RetentionOutcome};

impl PartitionLog {
    /// Applies retention.ms and retention.bytes (each disabled by -1) and expires idle
    /// producers.
    pub fn apply_retention(&mut self, now_ms: i64) -> Result<RetentionOutcome, LogError> {
        self.ensure_usable()?;
        self.last_now_ms = now_ms;
        self.expire_producers(now_ms);
        let mut outcome = RetentionOutcome::default();

        let log_start = self.log_start_offset;
        let below_start = self.deletable_prefix(|_, next| next.is_some_and(|n| n.base_offset <= log_start));
        self.delete_prefix(below_start, now_ms, &mut outcome)?;

        let retention_bytes = self.config.retention_bytes;
        let size = self.size_bytes();
        if retention_bytes >= 0 && size >= retention_bytes as u64 {
            let mut excess = size - retention_bytes as u64;
            let count = self.deletable_prefix(|segment, _| {
                let delete = excess >= segment.size_bytes();
                if delete {
                    excess -= segment.size_bytes();
                }
                delete
            });
            self.delete_prefix(count, now_ms, &mut outcome)?;
        }

        let retention_ms = self.config.retention_ms;
        if retention_ms >= 0 {
            let count =
                self.deletable_prefix(|segment, _| now_ms.saturating_sub(segment.largest_timestamp()) > retention_ms);
            self.delete_prefix(count, now_ms, &mut outcome)?;
        }
        Ok(outcome)
    }

    /// How many leading segments `deletable` accepts, never counting an empty last segment.
    fn deletable_prefix(&self, mut deletable: impl FnMut(&Segment, Option<&Segment>) -> bool) -> usize {
        let mut count = 0;
        for (i, segment) in self.segments.iter().enumerate() {
            let next = self.segments.get(i + 1);
            let last_and_empty = next.is_none() && segment.size_bytes() == 0;
            if last_and_empty || !deletable(segment, next) {
                break;
            }
            count += 1;
        }
        count
    }

    fn delete_prefix(&mut self, count: usize, now_ms: i64, outcome: &mut RetentionOutcome) -> Result<(), LogError> {
        if count == 0 {
            return Ok(());
        }
        if count == self.segments.len() {
            // A log always keeps one segment: roll a fresh one to take the place of the rest.
            self.roll(now_ms)?;
        }
        let new_start = self.segments[count].base_offset;
        self.log_start_offset = self.log_start_offset.max(new_start);
        self.recovery_point = self.recovery_point.max(self.log_start_offset);
        self.write_checkpoint(Checkpoint { log_start_offset: self.log_start_offset, recovery_point: self.persisted.recovery_point.max(self.log_start_offset) })?;
        for segment in self.segments.drain(..count) {
            outcome.segments_deleted += 1;
            outcome.bytes_deleted += segment.size_bytes();
            let base = segment.base_offset;
            drop(segment);
            // The checkpoint already moved the log start past this segment: if removal fails
            // the next open deletes it as below the log start.
            if let Err(e) = remove_segment_files(self.storage.as_ref(), &self.dir, base) {
                tracing::warn!(dir = %self.dir.display(), segment = base, "could not remove a retained-out segment: {e}");
            }
        }
        self.dir_dirty = true;
        self.remove_snapshots_where(|offset, first_base, _| offset < first_base);
        tracing::info!(
            dir = %self.dir.display(),
            "retention moved the log start offset to {} ({} segments, {} bytes deleted so far)",
            self.log_start_offset,
            outcome.segments_deleted,
            outcome.bytes_deleted
        );
        Ok(())
    }

    /// Removes producer snapshots for which `remove(offset, first_segment_base, log_end)`.
    fn remove_snapshots_where(&self, remove: impl Fn(i64, i64, i64) -> bool) {
        let first_base = self.segments[0].base_offset;
        let log_end_offset = self.log_end_offset();
        let names = match self.storage.list_dir(&self.dir) {
            Ok(names) => names,
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), "could not list producer snapshots: {e}");
                return;
            }
        };
        for name in names {
            let Some(offset) = crate::layout::parse_offset_file_name(&name, SNAPSHOT_SUFFIX) else { continue };
            if remove(offset, first_base, log_end_offset) {
                let path = self.dir.join(offset_file_name(offset, SNAPSHOT_SUFFIX));
                if let Err(e) = remove_if_present(self.storage.as_ref(), &path) {
                    tracing::warn!(dir = %self.dir.display(), "could not remove producer snapshot {offset}: {e}");
                }
            }
        }
    }

    /// Removes every batch holding an offset at or above `offset`: the log then ends at the
    /// base offset of the batch that held `offset` (batches are never split). At or below the
    /// log start the log is emptied and restarts at `offset`. Producer state is rebuilt from
    /// the newest snapshot below the new end. This is the seam replication will use.
    pub fn truncate_to(&mut self, offset: i64) -> Result<(), LogError> {
        self.ensure_usable()?;
        if offset >= self.log_end_offset() {
            return Ok(());
        }
        let now_ms = self.last_now_ms;
        let store = self.storage.clone();
        if offset <= self.log_start_offset {
            let new_start = offset.max(0);
            let keep = match self.segments.iter().position(|s| s.base_offset == new_start) {
                Some(i) => {
                    // Reuse the segment that already has this base (and these file names).
                    self.truncate_segment_at(i, 0)?;
                    self.segments.swap_remove(i)
                }
                None => Segment::create(store.as_ref(), &self.dir, new_start, now_ms)?,
            };
            for segment in std::mem::take(&mut self.segments) {
                let base = segment.base_offset;
                drop(segment);
                remove_segment_files(store.as_ref(), &self.dir, base)?;
            }
            self.segments.push(keep);
            return self.finish_truncation(new_start, now_ms);
        }
        let index = self.segment_index_for(offset).expect("offset above the log start has a segment");
        for segment in self.segments.drain(index + 1..) {
            let base = segment.base_offset;
            drop(segment);
            remove_segment_files(store.as_ref(), &self.dir, base)?;
        }
        let position = match self.segments[index].find_batch(offset)? {
            Some((position, _)) => position,
            None => self.segments[index].size_bytes(),
        };
        self.truncate_segment_at(index, position)?;
        let log_start = self.log_start_offset;
        self.finish_truncation(log_start, now_ms)
    }

    /// Cuts segment `index` at `position` and rebuilds it from its log.
    fn truncate_segment_at(&mut self, index: usize, position: u64) -> Result<(), LogError> {
        self.segments[index].truncate_log(position)?;
        let base = self.segments[index].base_offset;
        let now_ms = self.last_now_ms;
        let gaps_below = self.recovery_point;
        let (segment, _) =
            Segment::recover(self.storage.as_ref(), &self.dir, base, now_ms, self.config.index_interval_bytes, gaps_below)?;
        self.segments[index] = segment;
        Ok(())
    }

    fn finish_truncation(&mut self, log_start_offset: i64, now_ms: i64) -> Result<(), LogError> {
        self.dir_dirty = true;
        self.log_start_offset = log_start_offset;
        let log_end_offset = self.log_end_offset();
        self.recovery_point = self.recovery_point.min(log_end_offset).max(log_start_offset);
        self.truncate_cleaner_checkpoint(log_end_offset)?;
        for segment in &mut self.segments {
            segment.sync()?;
        }
        self.storage.sync_dir(&self.dir)?;
        self.write_checkpoint(Checkpoint { log_start_offset, recovery_point: self.recovery_point })?;
        self.remove_snapshots_where(|offset, first_base, end| offset > end || offset < first_base);
        let mut snapshot_offsets: Vec<i64> = self
            .storage
            .list_dir(&self.dir)?
            .iter()
            .filter_map(|name| crate::layout::parse_offset_file_name(name, SNAPSHOT_SUFFIX))
            .collect();
        snapshot_offsets.sort_unstable();
        self.load_producer_state(&snapshot_offsets, now_ms)?;
        tracing::info!(dir = %self.dir.display(), "log truncated to end at offset {log_end_offset}");
        Ok(())
    }
}
