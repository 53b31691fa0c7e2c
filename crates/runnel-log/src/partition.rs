//! [`PartitionLog`]: the segments of one partition, its offsets, appends, rolls and
//! flushes. Opening (recovery) lives in `recovery.rs`; reads in `read.rs`; retention and
//! truncation in `retention.rs`.
//!
//! Invariants, asserted where cheap: segments are sorted, never empty as a list, contiguous
//! (each segment's base offset is the previous one's next offset) and only the last one is
//! written; `log_start_offset <= recovery_point.max(log_start_offset) <= log_end_offset`.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use runnel_protocol::batch::{
    set_base_offset, set_log_append_time_in_header, set_partition_leader_epoch, BatchError, BatchHeader,
    BATCH_HEADER_BYTES, BATCH_LENGTH_PREFIX_BYTES, MAGIC_V2,
};

use crate::layout::{offset_file_name, write_file_atomically, Checkpoint, CHECKPOINT_FILE, SNAPSHOT_SUFFIX};
use crate::producer::{ProducerCheck, ProducerStateManager};
use crate::scan::last_offset;
use crate::segment::{AppendFailure, BatchParts, Segment};
use crate::storage::{FileSync, Storage};
use crate::{AppendOutcome, LogConfig, LogError};

/// How often `tick` looks for expired producers (Kafka's
/// producer.id.expiration.check.interval.ms default).
pub const PRODUCER_EXPIRATION_CHECK_INTERVAL_MS: i64 = 600_000;

/// One partition's log. Not internally synchronised: the owner wraps it in a lock; `read`
/// and the other `&self` methods may run concurrently with each other.
#[derive(Debug)]
pub struct PartitionLog {
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) dir: PathBuf,
    pub(crate) config: LogConfig,
    pub(crate) segments: Vec<Segment>,
    pub(crate) log_start_offset: i64,
    /// Every offset below this is synced, with the indexes of every segment before the one
    /// holding it (recovery rebuilds that segment's indexes, so group commit leaves them out).
    pub(crate) recovery_point: i64,
    /// The checkpoint as last written to disk.
    pub(crate) persisted: Checkpoint,
    pub(crate) producers: ProducerStateManager,
    /// Files were created or removed since the directory was last synced.
    pub(crate) dir_dirty: bool,
    pub(crate) last_flush_ms: i64,
    /// The latest clock reading seen, for calls that take none (`flush`).
    pub(crate) last_now_ms: i64,
    pub(crate) last_producer_expiry_ms: i64,
    /// Set when the files may no longer match memory (a failed rollback or a failed sync):
    /// writes are refused until the log is reopened, which runs recovery.
    pub(crate) failure: Option<String>,
    /// The cleaner checkpoint: compaction has deduplicated everything below this offset
    /// (`None` before the first compaction). See `compaction`.
    pub(crate) first_dirty_offset: Option<i64>,
    /// A [`PendingFlush`] was handed out and not yet finished: the dirty flags it cleared
    /// no longer mean "on disk", so an inline flush meanwhile syncs every file it covers.
    pub(crate) flush_in_flight: bool,
    /// Stamped as the partition leader epoch of every batch appended from now on (Kafka's
    /// appendAsLeader); `None` keeps the epoch each batch was sent with.
    pub(crate) leader_epoch: Option<i32>,
}

/// A sync taken by [`PartitionLog::begin_flush`]: run [`PendingFlush::sync`] without the
/// log's lock (appends carry on meanwhile), then hand the result to
/// [`PartitionLog::finish_flush`], which moves the recovery point.
#[derive(Debug)]
#[must_use = "a pending flush must be synced and finished, or the log's dirty flags lie"]
pub struct PendingFlush {
    target_offset: i64,
    files: Vec<Box<dyn FileSync>>,
}

impl PendingFlush {
    /// Every offset below this is durable once [`PendingFlush::sync`] succeeds.
    pub fn target_offset(&self) -> i64 {
        self.target_offset
    }

    /// fdatasyncs every file the flush covers; the slow part, meant to run unlocked.
    pub fn sync(&self) -> io::Result<()> {
        self.files.iter().try_for_each(|file| file.sync())
    }
}

/// Checks the batch's framing (the broker validated it in full; this guards the log's own
/// arithmetic): magic, declared length equal to the bytes given, a sane offset delta.
fn check_framing(batch: &[u8]) -> Result<BatchHeader, LogError> {
    let header = BatchHeader::parse(batch)?;
    if header.magic != MAGIC_V2 {
        return Err(BatchError::UnsupportedMagic(header.magic).into());
    }
    if header.batch_length < (BATCH_HEADER_BYTES - BATCH_LENGTH_PREFIX_BYTES) as i32 || header.total_bytes() != batch.len()
    {
        return Err(BatchError::LengthMismatch { declared: header.total_bytes(), available: batch.len() }.into());
    }
    if header.last_offset_delta < 0 {
        return Err(BatchError::InvalidOffsetDelta {
            last_offset_delta: header.last_offset_delta,
            records_count: header.records_count,
        }
        .into());
    }
    Ok(header)
}

impl PartitionLog {
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    pub fn log_end_offset(&self) -> i64 {
        self.active().next_offset()
    }

    pub fn size_bytes(&self) -> u64 {
        self.segments.iter().map(Segment::size_bytes).sum()
    }

    /// Offsets below this are durable (synced) on disk.
    pub fn recovery_point(&self) -> i64 {
        self.recovery_point
    }

    /// Base offsets of the segments, oldest first.
    pub fn segment_base_offsets(&self) -> Vec<i64> {
        self.segments.iter().map(|s| s.base_offset).collect()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// The idempotent-producer state (read-only; the log updates it on append).
    pub fn producer_state(&self) -> &ProducerStateManager {
        &self.producers
    }

    /// Why the log refuses writes, if it does (see [`PartitionLog::append`]).
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    pub(crate) fn active(&self) -> &Segment {
        self.segments.last().expect("a log always has a segment")
    }

    pub(crate) fn active_mut(&mut self) -> &mut Segment {
        self.segments.last_mut().expect("a log always has a segment")
    }

    /// Index of the segment holding `offset`: the last one whose base is at or below it.
    pub(crate) fn segment_index_for(&self, offset: i64) -> Option<usize> {
        self.segments.partition_point(|s| s.base_offset <= offset).checked_sub(1)
    }

    pub(crate) fn ensure_usable(&self) -> Result<(), LogError> {
        match &self.failure {
            None => Ok(()),
            Some(why) => Err(LogError::Io(io::Error::other(format!(
                "partition log {} refuses writes after a storage failure ({why}); reopen it to recover",
                self.dir.display()
            )))),
        }
    }

    pub(crate) fn fail(&mut self, why: String) {
        tracing::error!(dir = %self.dir.display(), "partition log failed: {why}");
        self.failure.get_or_insert(why);
    }

    /// The partition leader epoch to stamp on every batch appended from now on.
    pub fn set_leader_epoch(&mut self, epoch: i32) {
        self.leader_epoch = Some(epoch);
    }

    /// Appends one batch. After producer-state checks (a retry of a cached batch returns
    /// `Duplicate` and writes nothing), a copy of its header gets the log end as base
    /// offset (and the leader epoch, and the LogAppendTime when configured), the active
    /// segment rolls if due, and that header and the batch's records, never copied nor
    /// changed, are written as one write plus the odd index entry. On an IO error nothing is
    /// kept: the files are truncated back and the log stays usable; if even that fails, or a
    /// policy flush fails to sync, the log refuses writes until reopened.
    pub fn append(&mut self, batch: &[u8], now_ms: i64) -> Result<AppendOutcome, LogError> {
        let outcome = self.append_deferring_flush(batch, now_ms)?;
        if self.flush_due() {
            self.flush()?;
        }
        Ok(outcome)
    }

    /// Whether flush.messages asks for a sync now: at least that many offsets are not yet
    /// known durable.
    pub fn flush_due(&self) -> bool {
        self.log_end_offset().saturating_sub(self.recovery_point) >= self.config.flush_messages
    }

    /// [`PartitionLog::append`] without its policy flush: the batch reaches the page cache
    /// only. The caller checks [`PartitionLog::flush_due`] and, if set, gets the batch synced
    /// (group commit: [`PartitionLog::begin_flush`]) before it acknowledges it.
    pub fn append_deferring_flush(&mut self, batch: &[u8], now_ms: i64) -> Result<AppendOutcome, LogError> {
        self.ensure_usable()?;
        self.last_now_ms = now_ms;
        let header = check_framing(batch)?;
        if let ProducerCheck::Duplicate { base_offset, last_offset } = self.producers.check(&header)? {
            return Ok(AppendOutcome::Duplicate { base_offset, last_offset });
        }
        let base_offset = self.log_end_offset();
        let (sent_header, records) = batch.split_at(BATCH_HEADER_BYTES);
        let mut stored_header: [u8; BATCH_HEADER_BYTES] = sent_header.try_into().expect("framing checked the header");
        set_base_offset(&mut stored_header, base_offset);
        if let Some(epoch) = self.leader_epoch {
            set_partition_leader_epoch(&mut stored_header, epoch);
        }
        let log_append_time_ms = self.config.log_append_time.then(|| {
            set_log_append_time_in_header(&mut stored_header, records, now_ms);
            now_ms
        });
        let header = BatchHeader::parse(&stored_header)?;
        let last = last_offset(&header);
        let roll = self.active().should_roll(&self.config, batch.len() as u64, header.max_timestamp, last, now_ms);
        if roll {
            self.roll(now_ms)?;
        }
        let interval = self.config.index_interval_bytes;
        let parts = BatchParts { header: &stored_header, records };
        if let Err(AppendFailure { error, rolled_back }) = self.active_mut().append(parts, &header, interval, now_ms) {
            if !rolled_back {
                self.fail(format!("could not roll back a failed append: {error}"));
            }
            return Err(error.into());
        }
        self.producers.record(&header);
        Ok(AppendOutcome::Appended { base_offset, last_offset: last, log_append_time_ms })
    }

    /// Starts a new active segment at the log end. The old one gets its final time-index
    /// entry; a producer snapshot is written at the new base offset (as Kafka does), so
    /// recovery replays at most one segment of producer state.
    pub(crate) fn roll(&mut self, now_ms: i64) -> Result<(), LogError> {
        let base_offset = self.log_end_offset();
        assert!(self.active().size_bytes() > 0, "rolling an empty segment");
        self.active_mut().seal_time_index()?;
        let segment = match Segment::create(self.storage.as_ref(), &self.dir, base_offset, now_ms) {
            Ok(segment) => segment,
            Err(e) => {
                // Leave no half-made segment behind; a leftover would be an empty one that
                // recovery handles anyway, so a failure here is only logged.
                if let Err(cleanup) = crate::segment::remove_segment_files(self.storage.as_ref(), &self.dir, base_offset) {
                    tracing::warn!(dir = %self.dir.display(), "could not remove a half-created segment: {cleanup}");
                }
                return Err(e.into());
            }
        };
        self.segments.push(segment);
        self.dir_dirty = true;
        if let Err(e) = self.write_producer_snapshot(base_offset) {
            tracing::warn!(dir = %self.dir.display(), "producer snapshot at {base_offset} not written: {e}");
        }
        Ok(())
    }

    pub(crate) fn write_producer_snapshot(&self, offset: i64) -> io::Result<()> {
        let bytes = self.producers.encode_snapshot(offset);
        write_file_atomically(self.storage.as_ref(), &self.dir, &offset_file_name(offset, SNAPSHOT_SUFFIX), &bytes)
    }

    pub(crate) fn write_checkpoint(&mut self, checkpoint: Checkpoint) -> Result<(), LogError> {
        write_file_atomically(self.storage.as_ref(), &self.dir, CHECKPOINT_FILE, &checkpoint.encode())?;
        self.persisted = checkpoint;
        self.dir_dirty = false;
        Ok(())
    }

    /// Syncs every segment from the one holding the recovery point up to (not including)
    /// `offset`'s data, then the directory, and moves the recovery point to `offset`. The
    /// checkpoint file is rewritten only when the recovery point enters a new segment or the
    /// log start moved: recovery rescans the whole segment holding the recovery point anyway,
    /// so a finer checkpoint would cost two more syncs per flush and save nothing.
    pub(crate) fn flush_up_to(&mut self, offset: i64) -> Result<(), LogError> {
        self.ensure_usable()?;
        if offset <= self.recovery_point && !self.dir_dirty {
            return Ok(());
        }
        let from = self.segment_index_for(self.recovery_point).unwrap_or(0);
        let whole_log = offset >= self.log_end_offset();
        for i in from..self.segments.len() {
            if self.segments[i].base_offset >= offset && !whole_log {
                break;
            }
            let synced = if self.flush_in_flight { self.segments[i].sync_all() } else { self.segments[i].sync() };
            if let Err(e) = synced {
                // After a failed fsync the kernel may have dropped the dirty pages: nothing
                // written since the last good sync can be trusted to be on disk.
                self.fail(format!("sync failed: {e}"));
                return Err(e.into());
            }
        }
        self.sync_dir_if_dirty()?;
        self.advance_recovery_point(offset)
    }

    /// Directory entries (new segments, removed ones) are durable only once the directory
    /// itself is synced; a failure fails the log like a failed file sync.
    fn sync_dir_if_dirty(&mut self) -> Result<(), LogError> {
        if self.dir_dirty {
            if let Err(e) = self.storage.sync_dir(&self.dir) {
                self.fail(format!("directory sync failed: {e}"));
                return Err(e.into());
            }
            self.dir_dirty = false;
        }
        Ok(())
    }

    /// After a successful sync up to `offset`: the recovery point moves there, and the
    /// checkpoint file is rewritten only when that enters a new segment or the log start
    /// moved (see `flush_up_to`).
    fn advance_recovery_point(&mut self, offset: i64) -> Result<(), LogError> {
        self.recovery_point = self.recovery_point.max(offset);
        self.last_flush_ms = self.last_now_ms;
        let moved_segment =
            self.segment_index_for(self.persisted.recovery_point) != self.segment_index_for(self.recovery_point);
        if moved_segment || self.persisted.log_start_offset != self.log_start_offset {
            self.write_checkpoint(Checkpoint {
                log_start_offset: self.log_start_offset,
                recovery_point: self.recovery_point,
            })?;
        }
        Ok(())
    }

    /// Syncs everything appended so far (segments, indexes, new directory entries) and
    /// advances the recovery point to the log end.
    pub fn flush(&mut self) -> Result<(), LogError> {
        self.flush_up_to(self.log_end_offset())
    }

    /// Group commit, first half: takes sync handles for every file with data not yet durable,
    /// up to the current log end (`None` when everything is). New directory entries (after a
    /// roll) are synced here, under the lock: rare and small. The caller runs
    /// [`PendingFlush::sync`] without the lock and then must call
    /// [`PartitionLog::finish_flush`].
    ///
    /// The active segment's indexes are left out (they stay dirty): recovery rebuilds the
    /// indexes of every segment from the one holding the recovery point on, so they carry no
    /// durability; they are synced once the segment is no longer active, by the next flush.
    /// That makes a group commit one fdatasync per partition instead of three.
    pub fn begin_flush(&mut self) -> Result<Option<PendingFlush>, LogError> {
        self.ensure_usable()?;
        let target_offset = self.log_end_offset();
        if target_offset <= self.recovery_point && !self.dir_dirty {
            return Ok(None);
        }
        self.sync_dir_if_dirty()?;
        // From the segment holding the last durable offset: when the recovery point sits on a
        // segment boundary, the segment before it may still have unsynced indexes.
        let from = self.segment_index_for(self.recovery_point.saturating_sub(1)).unwrap_or(0);
        let force = self.flush_in_flight;
        let active = self.segments.len() - 1;
        let mut files = Vec::new();
        for (i, segment) in self.segments.iter_mut().enumerate().skip(from) {
            segment.take_sync_handles(force, i != active, &mut files);
        }
        self.flush_in_flight = true;
        Ok(Some(PendingFlush { target_offset, files }))
    }

    /// Group commit, second half: on success the recovery point moves to the flush's target
    /// (and the checkpoint when that enters a new segment); a failed sync fails the log, as
    /// an inline flush does.
    pub fn finish_flush(&mut self, flush: PendingFlush, synced: io::Result<()>) -> Result<(), LogError> {
        self.flush_in_flight = false;
        if let Err(e) = synced {
            self.fail(format!("sync failed: {e}"));
            return Err(e.into());
        }
        self.ensure_usable()?;
        // A truncation meanwhile may have cut the log below the target.
        self.advance_recovery_point(flush.target_offset.min(self.log_end_offset()))
    }

    /// Periodic work: rolls the active segment when segment.ms has passed since its first
    /// batch's timestamp; syncs segments that rolled since the last flush (Kafka flushes a
    /// segment after it rolls, which bounds recovery to the active segment); flushes when
    /// flush.ms is due; expires idle producers every
    /// [`PRODUCER_EXPIRATION_CHECK_INTERVAL_MS`].
    pub fn tick(&mut self, now_ms: i64) -> Result<(), LogError> {
        self.ensure_usable()?;
        self.last_now_ms = now_ms;
        if self.active().time_to_roll(&self.config, now_ms) {
            self.roll(now_ms)?;
        }
        let active_base = self.active().base_offset;
        if self.recovery_point < active_base {
            self.flush_up_to(active_base)?;
        }
        let due = now_ms.saturating_sub(self.last_flush_ms) >= self.config.flush_ms;
        if due && self.log_end_offset() > self.recovery_point {
            self.flush()?;
        }
        if now_ms.saturating_sub(self.last_producer_expiry_ms) >= PRODUCER_EXPIRATION_CHECK_INTERVAL_MS {
            self.expire_producers(now_ms);
        }
        Ok(())
    }

    /// Drops producers idle for producer.id.expiration.ms; returns how many.
    pub fn expire_producers(&mut self, now_ms: i64) -> usize {
        self.last_producer_expiry_ms = now_ms;
        self.producers.expire(now_ms, self.config.producer_id_expiration_ms)
    }

    /// Applies new topic settings from the next append on.
    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    /// The first batch whose max timestamp is at least `timestamp_ms`, as stored.
    pub fn batch_for_timestamp(&self, timestamp_ms: i64) -> Result<Option<Vec<u8>>, LogError> {
        for segment in &self.segments {
            if segment.max_timestamp() < timestamp_ms || segment.next_offset() <= self.log_start_offset {
                continue;
            }
            if let Some((position, header)) = segment.find_batch_by_timestamp(timestamp_ms, self.log_start_offset)? {
                let mut out = Vec::with_capacity(header.total_bytes());
                segment.read_bytes(position, header.total_bytes(), &mut out)?;
                return Ok(Some(out));
            }
        }
        Ok(None)
    }

    /// The batch holding the log's largest timestamp (the earliest such batch), as stored.
    pub fn batch_with_max_timestamp(&self) -> Result<Option<Vec<u8>>, LogError> {
        let mut best: Option<&Segment> = None;
        for segment in &self.segments {
            if segment.size_bytes() > 0 && best.is_none_or(|b| segment.max_timestamp() > b.max_timestamp()) {
                best = Some(segment);
            }
        }
        let Some(segment) = best else { return Ok(None) };
        let Some((position, header)) = segment.find_batch_with_max_timestamp()? else { return Ok(None) };
        let mut out = Vec::with_capacity(header.total_bytes());
        segment.read_bytes(position, header.total_bytes(), &mut out)?;
        Ok(Some(out))
    }

    /// Flushes, then writes what makes the next open fast: the final time-index entry, a
    /// producer snapshot at the log end, the checkpoint and the clean-shutdown marker.
    pub fn close(mut self) -> Result<(), LogError> {
        self.ensure_usable()?;
        self.active_mut().seal_time_index()?;
        self.flush()?;
        // The sealed entry may have made the active segment's time index dirty again.
        self.active_mut().sync()?;
        let log_end_offset = self.log_end_offset();
        self.write_producer_snapshot(log_end_offset)?;
        self.write_checkpoint(Checkpoint { log_start_offset: self.log_start_offset, recovery_point: log_end_offset })?;
        let marker = self.dir.join(crate::layout::CLEAN_SHUTDOWN_FILE);
        let mut file = self.storage.open_file(&marker, true)?;
        file.sync()?;
        self.storage.sync_dir(&self.dir)?;
        Ok(())
    }

    /// Removes the whole partition directory.
    pub fn delete(self) -> Result<(), LogError> {
        self.storage.remove_dir_all(&self.dir)?;
        Ok(())
    }
}
