//! Opening a partition log: find the segments, decide which to trust, validate the rest,
//! truncate at the first bad batch, and rebuild the producer state.
//!
//! Trust: after a clean shutdown (`.clean-shutdown` present next to a valid checkpoint) every
//! segment is trusted. Otherwise segments wholly below the checkpoint's recovery point are
//! trusted and every later one, starting with the one holding the recovery point, is
//! recovered: each batch is validated (CRC, sizes) and must continue the offsets, the file is
//! cut at the first that does not, both indexes are rebuilt from the log, and any later
//! segment is deleted. A trusted segment whose files disagree (missing index, an index entry
//! past the log, a torn tail) is recovered too. One warning is logged per truncation.
//!
//! The marker is removed (durably) before anything else is written, so a crash after this
//! open can never be mistaken for a clean shutdown. Opening syncs nothing else: the recovery
//! point stays where the checkpoint put it and the next flush makes the rest durable.

use std::collections::BTreeSet;
use std::io;
use std::path::Path;
use std::sync::Arc;

use crate::layout::{
    parse_offset_file_name, read_file, Checkpoint, CHECKPOINT_FILE, CLEAN_SHUTDOWN_FILE, INDEX_SUFFIX, LOG_SUFFIX,
    SNAPSHOT_SUFFIX, TIME_INDEX_SUFFIX, TMP_SUFFIX,
};
use crate::partition::PartitionLog;
use crate::producer::ProducerStateManager;
use crate::segment::{remove_segment_files, Segment};
use crate::storage::Storage;
use crate::{LogConfig, LogError};

/// What the partition directory holds, by kind.
#[derive(Debug, Default)]
struct DirListing {
    segment_bases: Vec<i64>,
    snapshot_offsets: Vec<i64>,
}

fn list_partition_dir(storage: &dyn Storage, dir: &Path) -> io::Result<DirListing> {
    let mut listing = DirListing::default();
    let mut index_bases = BTreeSet::new();
    for name in storage.list_dir(dir)? {
        if name.ends_with(TMP_SUFFIX) {
            storage.remove_file(&dir.join(&name))?;
        } else if let Some(base) = parse_offset_file_name(&name, LOG_SUFFIX) {
            listing.segment_bases.push(base);
        } else if let Some(base) = parse_offset_file_name(&name, INDEX_SUFFIX) {
            index_bases.insert(base);
        } else if let Some(base) = parse_offset_file_name(&name, TIME_INDEX_SUFFIX) {
            index_bases.insert(base);
        } else if let Some(offset) = parse_offset_file_name(&name, SNAPSHOT_SUFFIX) {
            listing.snapshot_offsets.push(offset);
        }
    }
    listing.segment_bases.sort_unstable();
    listing.snapshot_offsets.sort_unstable();
    for base in index_bases {
        if listing.segment_bases.binary_search(&base).is_err() {
            // Indexes without their log: left by a crash mid-roll or mid-delete.
            remove_segment_files(storage, dir, base)?;
        }
    }
    Ok(listing)
}

impl PartitionLog {
    /// Opens (creating if absent) the log in `dir`, running recovery: every batch after the
    /// recovery point is validated, and the log is truncated at the first torn or corrupt one.
    pub fn open(storage: Arc<dyn Storage>, dir: &Path, config: LogConfig, now_ms: i64) -> Result<Self, LogError> {
        let store = storage.as_ref();
        store.create_dir_all(dir)?;
        // An interrupted compaction swap is finished (or rolled back) before anything else
        // looks at the segment files.
        crate::compaction::finish_interrupted_swaps(store, dir)?;
        let listing = list_partition_dir(store, dir)?;
        let checkpoint_path = dir.join(CHECKPOINT_FILE);
        let checkpoint = match read_file(store, &checkpoint_path)? {
            None => None,
            Some(bytes) => {
                let decoded = Checkpoint::decode(&bytes);
                if decoded.is_none() {
                    tracing::warn!(dir = %dir.display(), "ignoring a corrupt {CHECKPOINT_FILE}; recovering every segment");
                }
                decoded
            }
        };
        let marker = dir.join(CLEAN_SHUTDOWN_FILE);
        let clean = store.exists(&marker)?;
        if clean {
            store.remove_file(&marker)?;
            store.sync_dir(dir)?;
        }
        let trust_all = clean && checkpoint.is_some();
        let first_dirty_offset = crate::compaction::read_cleaner_checkpoint(store, dir)?;
        let gaps_below = crate::compaction::gaps_allowed_below(checkpoint.map(|c| c.recovery_point), first_dirty_offset, &config);
        let checkpoint_start = checkpoint.map_or(i64::MIN, |c| c.log_start_offset);
        // Segments wholly below the log start were being deleted by retention; a crash can
        // bring their names back. They are not part of the log: remove them first.
        let mut first = 0;
        while first + 1 < listing.segment_bases.len() && listing.segment_bases[first + 1] <= checkpoint_start {
            remove_segment_files(store, dir, listing.segment_bases[first])?;
            first += 1;
        }
        let bases = &listing.segment_bases[first..];
        let mut recover_from = match checkpoint {
            _ if trust_all => bases.len(),
            Some(c) => bases.partition_point(|&b| b <= c.recovery_point).saturating_sub(1),
            None => 0,
        };

        let mut segments: Vec<Segment> = Vec::with_capacity(bases.len().max(1));
        for (i, &base) in bases.iter().enumerate() {
            if let Some(previous) = segments.last() {
                if previous.next_offset() != base {
                    let why = format!("segment {base} does not continue offset {}", previous.next_offset());
                    let cut = Truncation {
                        segment: previous.base_offset,
                        kept_bytes: previous.size_bytes(),
                        log_end_offset: previous.next_offset(),
                        dropped_in_place: 0,
                        why: &why,
                    };
                    truncate_after(store, dir, cut, &bases[i..])?;
                    break;
                }
            }
            if i < recover_from {
                match Segment::open_trusted(store, dir, base, now_ms)? {
                    Ok(segment) => {
                        segments.push(segment);
                        continue;
                    }
                    Err(why) => {
                        tracing::warn!(dir = %dir.display(), segment = base, "recovering a segment below the recovery point: {why}");
                        recover_from = i;
                    }
                }
            }
            let (segment, report) = Segment::recover(store, dir, base, now_ms, config.index_interval_bytes, gaps_below)?;
            let cut = report.reason.as_deref().map(|why| Truncation {
                segment: base,
                kept_bytes: segment.size_bytes(),
                log_end_offset: segment.next_offset(),
                dropped_in_place: report.bytes_dropped,
                why,
            });
            segments.push(segment);
            if let Some(cut) = cut {
                truncate_after(store, dir, cut, &bases[i + 1..])?;
                break;
            }
        }
        if segments.last().is_some_and(|s| s.next_offset() < checkpoint_start) {
            // Recovery lost data up to and past the log start (it was never synced). Offsets
            // below the log start were handed out before: restart empty at the log start
            // rather than hand them out again.
            tracing::warn!(dir = %dir.display(), "recovered log ends below its log start {checkpoint_start}; restarting it empty there");
            for segment in segments.drain(..) {
                let base = segment.base_offset;
                drop(segment);
                remove_segment_files(store, dir, base)?;
            }
        }
        if segments.is_empty() {
            let base = checkpoint.map_or(0, |c| c.log_start_offset.max(0));
            segments.push(Segment::create(store, dir, base, now_ms)?);
        }
        let last = segments.len() - 1;
        if last < recover_from && !segments[last].load_indexes_checked()? {
            // The active segment is appended to, so its indexes must match their files.
            tracing::warn!(dir = %dir.display(), "rebuilding the active segment's indexes");
            let base = segments[last].base_offset;
            segments.pop();
            let (segment, report) = Segment::recover(store, dir, base, now_ms, config.index_interval_bytes, gaps_below)?;
            if let Some(why) = report.reason.as_deref() {
                let cut = Truncation {
                    segment: base,
                    kept_bytes: segment.size_bytes(),
                    log_end_offset: segment.next_offset(),
                    dropped_in_place: report.bytes_dropped,
                    why,
                };
                truncate_after(store, dir, cut, &[])?;
            }
            segments.push(segment);
        }
        segments[last].load_rolling_timestamp()?;

        let log_end_offset = segments[last].next_offset();
        let log_start_offset = checkpoint_start.max(segments[0].base_offset).min(log_end_offset);
        // What is known to be on disk: everything after a clean shutdown; otherwise what the
        // checkpoint said, never past what recovery kept. Recovered bytes past it may still
        // be only in the page cache of the process that died: they stay dirty (`recover`
        // marks them) and the next flush syncs them, as Kafka does, instead of this open
        // syncing every partition (four syncs each made restarts grow with partitions).
        let durable_below = match checkpoint {
            _ if trust_all => log_end_offset,
            Some(c) => c.recovery_point.min(log_end_offset),
            None => segments[0].base_offset,
        };
        let mut log = PartitionLog {
            storage,
            dir: dir.to_path_buf(),
            config,
            segments,
            log_start_offset,
            recovery_point: durable_below,
            persisted: Checkpoint { log_start_offset: i64::MIN, recovery_point: i64::MIN },
            producers: ProducerStateManager::new(),
            dir_dirty: true,
            last_flush_ms: now_ms,
            last_now_ms: now_ms,
            last_producer_expiry_ms: now_ms,
            failure: None,
            first_dirty_offset,
            flush_in_flight: false,
            leader_epoch: None,
        };
        log.delete_segments_below_log_start()?;
        log.load_producer_state(&listing.snapshot_offsets, now_ms)?;
        let target = Checkpoint { log_start_offset, recovery_point: durable_below };
        if checkpoint == Some(target) {
            // The usual open, clean or not: the checkpoint is already right. Whatever open
            // removed (temp files, stale snapshots, segments past a truncation) becomes
            // durable with the directory at the next flush (`dir_dirty` stays set); until
            // then a crash can only bring back files the next open removes again.
            log.persisted = target;
        } else {
            log.write_checkpoint(target)?;
        }
        Ok(log)
    }

    /// Kafka's deleteLogStartOffsetBreachedSegments: segments wholly below the log start.
    pub(crate) fn delete_segments_below_log_start(&mut self) -> Result<(), LogError> {
        while self.segments.len() > 1 && self.segments[1].base_offset <= self.log_start_offset {
            let segment = self.segments.remove(0);
            remove_segment_files(self.storage.as_ref(), &self.dir, segment.base_offset)?;
            self.dir_dirty = true;
        }
        Ok(())
    }

    /// Loads the newest intact snapshot at or below the log end (deleting newer ones, and any
    /// corrupt one met on the way), then replays batch headers from its offset to the log end.
    /// Without a usable snapshot the state is rebuilt from the log start.
    pub(crate) fn load_producer_state(&mut self, snapshot_offsets: &[i64], now_ms: i64) -> Result<(), LogError> {
        let store = self.storage.as_ref();
        let log_end_offset = self.log_end_offset();
        let first_base = self.segments[0].base_offset;
        let mut loaded = None;
        for &offset in snapshot_offsets.iter().rev() {
            let path = self.dir.join(crate::layout::offset_file_name(offset, SNAPSHOT_SUFFIX));
            if offset > log_end_offset || offset < first_base {
                // Past the recovered end it describes lost data; below the first segment it
                // cannot be replayed forward.
                remove_if_present(store, &path)?;
                continue;
            }
            if loaded.is_some() {
                continue;
            }
            let Some(bytes) = read_file(store, &path)? else { continue };
            match ProducerStateManager::decode_snapshot(&bytes) {
                Some((end_offset, state)) if end_offset == offset => loaded = Some((offset, state)),
                _ => {
                    tracing::warn!(dir = %self.dir.display(), "ignoring corrupt producer snapshot {}", path.display());
                    remove_if_present(store, &path)?;
                }
            }
        }
        let (from, state) = loaded.unwrap_or((first_base, ProducerStateManager::new()));
        self.producers = state;
        for segment in &self.segments {
            if segment.next_offset() <= from {
                continue;
            }
            let producers = &mut self.producers;
            segment.for_each_header_from(from.max(segment.base_offset), |header| producers.record(header))?;
        }
        self.producers.expire(now_ms, self.config.producer_id_expiration_ms);
        Ok(())
    }
}

pub(crate) fn remove_if_present(storage: &dyn Storage, path: &Path) -> io::Result<()> {
    match storage.remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Where recovery cut the log, for the one warning it logs.
struct Truncation<'a> {
    segment: i64,
    kept_bytes: u64,
    log_end_offset: i64,
    dropped_in_place: u64,
    why: &'a str,
}

/// Deletes `later_bases` (every segment after the truncation point) and logs the truncation.
fn truncate_after(storage: &dyn Storage, dir: &Path, cut: Truncation<'_>, later_bases: &[i64]) -> io::Result<()> {
    let mut later_bytes = 0;
    for &base in later_bases {
        later_bytes += remove_segment_files(storage, dir, base)?;
    }
    tracing::warn!(
        dir = %dir.display(),
        "recovery truncated the log at offset {} (segment {}, {} bytes kept): dropped {} bytes \
         ({} in place, {later_bytes} in {} later segments): {}",
        cut.log_end_offset,
        cut.segment,
        cut.kept_bytes,
        cut.dropped_in_place + later_bytes,
        cut.dropped_in_place,
        later_bases.len(),
        cut.why
    );
    Ok(())
}
