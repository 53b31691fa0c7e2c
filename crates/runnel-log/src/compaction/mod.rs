//! Log compaction for `cleanup.policy=compact`: Kafka 4's log cleaner, run by the owner of
//! the log through [`PartitionLog::compact`] (the broker calls it periodically).
//!
//! ```text
//! plan        dirty section, dirty ratio, min/max compaction lag, segment groups
//! offset_map  key -> latest offset over the dirty section, memory-bounded
//! filter      per batch: keep as is, rebuild, empty, or drop (Kafka's record filter)
//! rebuild     writing rebuilt and empty v2 batches (original codec, offsets, producer fields)
//! swap        .cleaned -> .swap -> rename, and finishing an interrupted swap on open
//! checkpoint  cleaner.checkpoint: the first dirty offset, so restarts do not recompact
//! ```
//!
//! One round, as Kafka's `Cleaner.doClean`: map the keys of the dirty section
//! `[first dirty, first uncleanable)`, then rewrite every segment from the log start up to
//! where the map ends, in groups of consecutive segments each cleaned into one new segment
//! with the first one's base offset, keeping for each key only its latest record. Offsets
//! never change: a removed record leaves a gap, a fetch inside a gap gets the next surviving
//! batch, and batches keep their base and last offsets.
//!
//! Tombstones (null values) follow Kafka 4 (KIP-534): when the cleaner first rewrites a
//! batch that keeps a tombstone it stamps the batch with a delete horizon
//! `now + delete.retention.ms` (attribute bit 6, the base timestamp holds it); a later round
//! past the horizon removes the tombstone if it is still the latest record of its key. As in
//! Kafka, that later round runs only when the log is dirty enough again (or
//! max.compaction.lag.ms forces it), so a tombstone can outlive its horizon.
//!
//! Where Runnel differs, and why:
//! - Kafka keeps, as an empty batch, the last batch of each active producer and the last
//!   batch of the cleaning round; Runnel keeps the last batch of every cleaned segment
//!   group (at most one 61-byte header per segment). A cleaned segment so ends exactly
//!   where its group ended: segments stay contiguous, recovery keeps checking that, and a
//!   swap replaces exactly the segments its offsets cover.
//! - The key map holds whole keys, not MD5 digests (exact, see `offset_map`).
//! - Indexes of a cleaned segment are rebuilt from its log after the swap rather than
//!   written alongside it; its `lastModified` (only used when no batch has a timestamp) is
//!   the time of the swap.
//! - Control batches and transactional state: Runnel refuses both from clients, so control
//!   batches are copied unchanged and there is no aborted-transaction handling.
//!
//! Durability: before the first swap the log is flushed up to the first uncleanable offset
//! and the partition checkpoint's recovery point covers it, so on reopen every cleaned
//! segment lies below the recovery point, where recovery accepts gaps between batches. The
//! cleaner checkpoint is written after the last swap of a round; a crash before that only
//! makes the next round redo work.

mod checkpoint;
mod filter;
mod offset_map;
mod plan;
mod rebuild;
mod swap;

pub(crate) use checkpoint::read_cleaner_checkpoint;
pub use checkpoint::CLEANER_CHECKPOINT_FILE;
pub(crate) use swap::finish_interrupted_swaps;

use crate::layout::Checkpoint;
use crate::partition::PartitionLog;
use crate::scan::Scanned;
use crate::segment::Segment;
use crate::{LogConfig, LogError};
use filter::{CleanContext, FilterStats, Verdict};
use offset_map::OffsetMap;
use swap::CleanedWriter;

/// What one call of [`PartitionLog::compact`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct CompactionOutcome {
    /// A cleaning round ran. False when the topic is not compacted, or the log was not
    /// dirty enough (and no max.compaction.lag.ms was due).
    pub cleaned: bool,
    /// Dirty bytes over clean plus dirty bytes (whole segments), as Kafka computes it.
    pub dirty_ratio: f64,
    /// Where this round's key map started.
    pub first_dirty_offset: i64,
    /// The new cleaner checkpoint: everything below it has been deduplicated.
    pub next_dirty_offset: i64,
    /// Segments rewritten, and how many they became.
    pub segments_before: usize,
    pub segments_after: usize,
    /// Sizes of the cleaned range before and after the round.
    pub bytes_before: u64,
    pub bytes_after: u64,
    pub records_read: u64,
    /// Records removed for any reason (the three below and superseded values).
    pub records_removed: u64,
    pub tombstones_removed: u64,
    pub keyless_records_removed: u64,
    pub batches_removed: u64,
    /// Batches that could not be decoded and were kept unchanged.
    pub undecodable_batches: u64,
}

impl CompactionOutcome {
    fn add(&mut self, stats: FilterStats) {
        self.records_read += stats.records_read;
        self.records_removed += stats.records_removed;
        self.tombstones_removed += stats.tombstones_removed;
        self.keyless_records_removed += stats.keyless_records_removed;
        self.batches_removed += stats.batches_removed;
        self.undecodable_batches += stats.undecodable_batches;
    }
}

/// Where recovery on open may accept gaps between batches: below the checkpoint's recovery
/// point (synced data cannot have lost a write, so a gap there is compaction's). Without a
/// partition checkpoint, a compacted topic accepts gaps everywhere, as Kafka does, rather
/// than truncate the log at its first gap; other topics only below the cleaner checkpoint.
pub(crate) fn gaps_allowed_below(
    recovery_point: Option<i64>,
    first_dirty_offset: Option<i64>,
    config: &LogConfig,
) -> i64 {
    match recovery_point {
        Some(recovery_point) => recovery_point.max(first_dirty_offset.unwrap_or(i64::MIN)),
        None if config.compact => i64::MAX,
        None => first_dirty_offset.unwrap_or(i64::MIN),
    }
}

/// Copies the first `len` bytes of `segment` (batches kept unchanged) to `out`.
fn copy_prefix(segment: &Segment, len: u64, out: &mut CleanedWriter) -> Result<(), LogError> {
    let mut chunk = Vec::new();
    let mut position = 0;
    while position < len {
        let take = (len - position).min(swap::WRITE_CHUNK_BYTES as u64);
        chunk.clear();
        segment.read_bytes(position, take as usize, &mut chunk)?;
        out.push(&chunk)?;
        position += take;
    }
    Ok(())
}

/// Result of cleaning one group into its `.cleaned` file.
enum GroupResult {
    /// Every batch came out unchanged; nothing to swap.
    Unchanged {
        bytes: u64,
    },
    Written {
        bytes_before: u64,
        bytes_after: u64,
    },
}

impl PartitionLog {
    /// The cleaner checkpoint: the offset below which compaction has deduplicated the log
    /// (`None` until the first round).
    pub fn cleaner_checkpoint(&self) -> Option<i64> {
        self.first_dirty_offset
    }

    /// Runs one cleaning round if the topic is compacted and the log is due (see the module
    /// docs): returns what it did. Only segments below the active one are rewritten, and
    /// only when older than min.compaction.lag.ms. On an IO error before a swap commits the
    /// log is unchanged and stays usable; after, it refuses writes until reopened, and the
    /// reopen finishes the swap.
    pub fn compact(&mut self, now_ms: i64) -> Result<CompactionOutcome, LogError> {
        self.ensure_usable()?;
        self.last_now_ms = now_ms;
        let mut outcome = CompactionOutcome::default();
        if !self.config.compact {
            return Ok(outcome);
        }
        let plan = self.plan_cleaning(now_ms)?;
        outcome.dirty_ratio = plan.dirty_ratio;
        outcome.first_dirty_offset = plan.first_dirty_offset;
        outcome.next_dirty_offset = plan.first_dirty_offset;
        if plan.checkpoint_reset {
            self.set_cleaner_checkpoint(plan.first_dirty_offset)?;
        }
        if !plan.should_clean(self.config.min_cleanable_dirty_ratio) {
            return Ok(outcome);
        }
        self.make_durable_below(plan.first_uncleanable_offset)?;

        let map = self.build_offset_map(
            plan.first_dirty_offset,
            plan.first_uncleanable_offset,
            self.config.cleaner_dedupe_buffer_bytes,
        )?;
        let end_offset = (map.latest_offset() + 1).clamp(plan.first_dirty_offset, plan.first_uncleanable_offset);
        tracing::debug!(
            dir = %self.dir.display(),
            "compacting below offset {end_offset}: {} keys mapped from offset {}",
            map.len(),
            plan.first_dirty_offset
        );
        for group in self.group_segments(end_offset, plan.first_uncleanable_offset) {
            let mut stats = FilterStats::default();
            let result = self.clean_group(&group, &map, now_ms, &mut stats)?;
            outcome.add(stats);
            outcome.segments_before += group.len();
            outcome.segments_after += 1;
            match result {
                GroupResult::Unchanged { bytes } => {
                    outcome.bytes_before += bytes;
                    outcome.bytes_after += bytes;
                }
                GroupResult::Written { bytes_before, bytes_after } => {
                    self.swap_in(&group, now_ms)?;
                    outcome.bytes_before += bytes_before;
                    outcome.bytes_after += bytes_after;
                }
            }
        }
        outcome.cleaned = true;
        outcome.next_dirty_offset = end_offset;
        self.set_cleaner_checkpoint(end_offset)?;
        tracing::info!(
            dir = %self.dir.display(),
            "compacted {} segments into {} ({} -> {} bytes, {} of {} records removed); dirty from offset {end_offset}",
            outcome.segments_before,
            outcome.segments_after,
            outcome.bytes_before,
            outcome.bytes_after,
            outcome.records_removed,
            outcome.records_read
        );
        Ok(outcome)
    }

    /// Syncs everything below `offset` and makes the checkpoint's recovery point cover it,
    /// so that recovery trusts the gaps compaction is about to create there.
    fn make_durable_below(&mut self, offset: i64) -> Result<(), LogError> {
        self.flush_up_to(offset)?;
        if self.persisted.recovery_point < offset {
            self.write_checkpoint(Checkpoint {
                log_start_offset: self.log_start_offset,
                recovery_point: self.recovery_point,
            })?;
        }
        Ok(())
    }

    fn set_cleaner_checkpoint(&mut self, first_dirty_offset: i64) -> Result<(), LogError> {
        self.first_dirty_offset = Some(first_dirty_offset);
        checkpoint::write_cleaner_checkpoint(self.storage.as_ref(), &self.dir, first_dirty_offset)?;
        self.dir_dirty = false;
        Ok(())
    }

    /// Kafka's maybeTruncateCheckpoint: after a truncation the checkpoint may not lie past the
    /// new log end, or data appended later would count as already clean.
    pub(crate) fn truncate_cleaner_checkpoint(&mut self, log_end_offset: i64) -> Result<(), LogError> {
        match self.first_dirty_offset {
            Some(offset) if offset > log_end_offset => self.set_cleaner_checkpoint(log_end_offset),
            _ => Ok(()),
        }
    }

    /// Cleans the segments whose bases are `group` into `<first base>.log.cleaned` (synced).
    /// On error the `.cleaned` file is removed and the log is untouched.
    fn clean_group(
        &self,
        group: &[i64],
        map: &OffsetMap,
        now_ms: i64,
        stats: &mut FilterStats,
    ) -> Result<GroupResult, LogError> {
        let base_offset = group[0];
        let store = self.storage.as_ref();
        let result = (|| -> Result<GroupResult, LogError> {
            let context = CleanContext {
                map,
                producers: &self.producers,
                now_ms,
                delete_retention_ms: self.config.delete_retention_ms,
            };
            let first = self.segment_position(base_offset)?;
            let segments = &self.segments[first..first + group.len()];
            // A lone segment is often left as it was (its keys were not superseded): its
            // `.cleaned` copy is only started at the first batch that changes.
            let mut writer =
                if group.len() > 1 { Some(CleanedWriter::create(store, &self.dir, base_offset)?) } else { None };
            let mut bytes_before = 0;
            for (i, segment) in segments.iter().enumerate() {
                assert_eq!(segment.base_offset, group[i], "groups are consecutive segments");
                bytes_before += segment.size_bytes();
                let last_segment = i + 1 == segments.len();
                let mut scanner = segment.scanner(0);
                loop {
                    let (position, header, bytes) = match scanner.next_batch()? {
                        Scanned::Batch { position, header, bytes } => (position, header, bytes),
                        Scanned::End => break,
                        Scanned::Incomplete { position, reason } => {
                            return Err(LogError::Corrupt(
                                self.dir.display().to_string(),
                                format!("segment {} unreadable at position {position}: {reason}", segment.base_offset),
                            ))
                        }
                    };
                    let last_of_group = last_segment && position + bytes.len() as u64 == segment.size_bytes();
                    let verdict = context.filter(bytes, &header, last_of_group, stats)?;
                    let out = match (&mut writer, &verdict) {
                        (Some(out), _) => out,
                        (None, Verdict::Keep) => continue,
                        (None, _) => {
                            let mut out = CleanedWriter::create(store, &self.dir, base_offset)?;
                            copy_prefix(segment, position, &mut out)?;
                            writer.insert(out)
                        }
                    };
                    match verdict {
                        Verdict::Keep => out.push(bytes)?,
                        Verdict::Replace(new) => out.push(&new)?,
                        Verdict::Drop => {}
                    }
                }
            }
            let Some(writer) = writer else { return Ok(GroupResult::Unchanged { bytes: bytes_before }) };
            let bytes_after = writer.finish()?;
            Ok(GroupResult::Written { bytes_before, bytes_after })
        })();
        if result.is_err() {
            swap::discard_cleaned(store, &self.dir, base_offset);
        }
        result
    }

    /// Index in `segments` of the segment with this base offset.
    fn segment_position(&self, base_offset: i64) -> Result<usize, LogError> {
        self.segments.binary_search_by_key(&base_offset, |s| s.base_offset).map_err(|_| {
            LogError::Corrupt(self.dir.display().to_string(), format!("no segment at base offset {base_offset}"))
        })
    }

    /// Commits the cleaned copy of `group` and replaces the group's segments by it (see
    /// `swap`). Fails the log on any error after the commit point.
    fn swap_in(&mut self, group: &[i64], now_ms: i64) -> Result<(), LogError> {
        let base_offset = group[0];
        let store = self.storage.clone();
        let dir = self.dir.clone();
        if let Err(e) = store.rename(&swap::cleaned_path(&dir, base_offset), &swap::swap_path(&dir, base_offset)) {
            swap::discard_cleaned(store.as_ref(), &dir, base_offset);
            return Err(e.into());
        }
        if let Err(e) = store.sync_dir(&dir) {
            // The swap may or may not be durable: only a reopen can tell.
            self.fail(format!("directory sync failed while committing a compaction swap: {e}"));
            return Err(e.into());
        }
        let installed =
            swap::install_swap(store.as_ref(), &dir, base_offset, group).map_err(LogError::from).and_then(|()| {
                let gaps_below = self.recovery_point;
                let interval = self.config.index_interval_bytes;
                let (mut segment, report) =
                    Segment::recover(store.as_ref(), &dir, base_offset, now_ms, interval, gaps_below)?;
                if let Some(why) = report.reason {
                    return Err(LogError::Corrupt(
                        dir.display().to_string(),
                        format!("cleaned segment {base_offset}: {why}"),
                    ));
                }
                segment.sync()?;
                Ok(segment)
            });
        let segment = match installed {
            Ok(segment) => segment,
            Err(e) => {
                self.fail(format!("compaction swap of segment {base_offset} did not finish: {e}"));
                return Err(e);
            }
        };
        let first = self.segment_position(base_offset)?;
        let last = first + group.len() - 1;
        assert_eq!(self.segments[last].base_offset, group[group.len() - 1], "the swapped group is still in place");
        let next_base = self.segments[last + 1].base_offset;
        if segment.next_offset() != next_base {
            // The filter keeps every group's last batch, so this means the files changed
            // under the log; recovery on reopen decides what is left.
            let why =
                format!("cleaned segment {base_offset} ends at {} where {next_base} was due", segment.next_offset());
            self.fail(why.clone());
            return Err(LogError::Corrupt(dir.display().to_string(), why));
        }
        self.segments.splice(first..=last, [segment]);
        self.dir_dirty = true;
        Ok(())
    }
}
