//! One segment: a `.log` file of batches with its offset and time indexes, plus what the log
//! keeps in memory about it (size, next offset, max timestamp, roll clock).
//!
//! Appends are all-or-nothing: the batch is written at the known end position, then any index
//! entries; if a write fails, every file is truncated back and memory is left untouched. Only
//! when that rollback fails too is the segment unusable (the caller fails the log). Reads are
//! bounded by the in-memory size, so bytes of a failed append are never served.

use std::io;
use std::path::{Path, PathBuf};

use runnel_protocol::batch::{validate_batch, BatchHeader};

use crate::index::{
    lookup_position, lookup_time, max_entries, IndexBounds, IndexFile, OffsetEntry, TimeEntry,
};
use crate::layout::{offset_file_name, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX};
use crate::scan::{last_offset, read_header_at, BatchScanner, Scanned};
use crate::storage::{FileSync, Storage, StorageFile};
use crate::LogConfig;

/// Largest segment the indexes can address: positions are i32 on disk.
pub(crate) const MAX_SEGMENT_BYTES: u64 = i32::MAX as u64;
/// Kafka's RecordBatch.NO_TIMESTAMP.
pub(crate) const NO_TIMESTAMP: i64 = -1;

/// The three file paths of the segment at `base_offset`.
pub(crate) fn segment_paths(dir: &Path, base_offset: i64) -> [PathBuf; 3] {
    [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX].map(|suffix| dir.join(offset_file_name(base_offset, suffix)))
}

/// Removes the segment's files; a missing file is not an error. Returns the log file's size.
pub(crate) fn remove_segment_files(storage: &dyn Storage, dir: &Path, base_offset: i64) -> io::Result<u64> {
    let paths = segment_paths(dir, base_offset);
    let bytes = match storage.open_file(&paths[0], false) {
        Ok(file) => file.len()?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
        Err(e) => return Err(e),
    };
    for path in &paths {
        match storage.remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(bytes)
}

/// An append that failed; `rolled_back` says whether the files were restored.
#[derive(Debug)]
pub(crate) struct AppendFailure {
    pub error: io::Error,
    pub rolled_back: bool,
}

/// What recovering one segment found.
#[derive(Debug)]
pub(crate) struct RecoveryReport {
    pub bytes_dropped: u64,
    /// Why the scan stopped early; `None` when every byte was a valid batch.
    pub reason: Option<String>,
}

/// A batch as an append writes it: the header the log patched (base offset, epoch,
/// LogAppendTime), then the records exactly as the producer sent them, never copied.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchParts<'a> {
    pub header: &'a [u8],
    pub records: &'a [u8],
}

impl BatchParts<'_> {
    pub fn len(&self) -> usize {
        self.header.len() + self.records.len()
    }
}

#[derive(Debug)]
pub(crate) struct Segment {
    pub base_offset: i64,
    log: Box<dyn StorageFile>,
    offset_index: IndexFile<OffsetEntry>,
    time_index: IndexFile<TimeEntry>,
    size_bytes: u64,
    next_offset: i64,
    max_timestamp: i64,
    offset_of_max_timestamp: i64,
    /// Max timestamp of the segment's first batch (Kafka's rollingBasedTimestamp).
    rolling_timestamp: Option<i64>,
    created_ms: i64,
    /// Stands in for the file's mtime when the segment holds no timestamps.
    last_modified_ms: i64,
    bytes_since_last_index_entry: u64,
    log_dirty: bool,
}

/// Accumulates a segment's indexes and max timestamp while its batches are walked in order.
struct IndexBuilder {
    base_offset: i64,
    interval_bytes: u64,
    offsets: Vec<OffsetEntry>,
    times: Vec<TimeEntry>,
    max_timestamp: i64,
    offset_of_max_timestamp: i64,
    bytes_since_last_entry: u64,
}

impl IndexBuilder {
    fn new(base_offset: i64, interval_bytes: u64) -> Self {
        Self {
            base_offset,
            interval_bytes,
            offsets: Vec::new(),
            times: Vec::new(),
            max_timestamp: NO_TIMESTAMP,
            offset_of_max_timestamp: base_offset,
            bytes_since_last_entry: 0,
        }
    }

    fn add(&mut self, position: u64, header: &BatchHeader) {
        if header.max_timestamp > self.max_timestamp {
            self.max_timestamp = header.max_timestamp;
            self.offset_of_max_timestamp = last_offset(header);
        }
        if self.bytes_since_last_entry > self.interval_bytes {
            self.offsets.push(OffsetEntry {
                relative_offset: (last_offset(header) - self.base_offset) as i32,
                position: position as i32,
            });
            self.push_time(self.max_timestamp, self.offset_of_max_timestamp);
            self.bytes_since_last_entry = 0;
        }
        self.bytes_since_last_entry += header.total_bytes() as u64;
    }

    fn push_time(&mut self, timestamp: i64, offset: i64) {
        if self.times.last().is_none_or(|last| timestamp > last.timestamp) {
            self.times.push(TimeEntry { timestamp, relative_offset: (offset - self.base_offset) as i32 });
        }
    }
}

impl Segment {
    /// Creates the files of a new, empty segment.
    pub fn create(storage: &dyn Storage, dir: &Path, base_offset: i64, now_ms: i64) -> io::Result<Self> {
        let [log_path, index_path, time_path] = segment_paths(dir, base_offset);
        let log = storage.open_file(&log_path, true)?;
        if log.len()? != 0 {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("segment {} already holds data", log_path.display()),
            ));
        }
        let mut index = storage.open_file(&index_path, true)?;
        index.truncate(0)?;
        let mut time = storage.open_file(&time_path, true)?;
        time.truncate(0)?;
        Ok(Self::new(base_offset, log, IndexFile::loaded(index, Vec::new()), IndexFile::loaded(time, Vec::new()), now_ms))
    }

    fn new(
        base_offset: i64,
        log: Box<dyn StorageFile>,
        offset_index: IndexFile<OffsetEntry>,
        time_index: IndexFile<TimeEntry>,
        now_ms: i64,
    ) -> Self {
        Self {
            base_offset,
            log,
            offset_index,
            time_index,
            size_bytes: 0,
            next_offset: base_offset,
            max_timestamp: NO_TIMESTAMP,
            offset_of_max_timestamp: base_offset,
            rolling_timestamp: None,
            created_ms: now_ms,
            last_modified_ms: now_ms,
            bytes_since_last_index_entry: 0,
            log_dirty: false,
        }
    }

    /// Opens a segment below the recovery point without reading its whole log: the indexes
    /// load lazily, and only the batches after the last offset-index entry are scanned to
    /// find the next offset and the max timestamp. `Ok(Err(reason))` means the files do not
    /// agree (missing index, entries past the log, a torn tail) and the segment needs recovery.
    pub fn open_trusted(
        storage: &dyn Storage,
        dir: &Path,
        base_offset: i64,
        now_ms: i64,
    ) -> io::Result<Result<Self, String>> {
        let [log_path, index_path, time_path] = segment_paths(dir, base_offset);
        let log = storage.open_file(&log_path, false)?;
        let (index, time) = match (storage.open_file(&index_path, false), storage.open_file(&time_path, false)) {
            (Ok(index), Ok(time)) => (index, time),
            (Err(e), _) | (_, Err(e)) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Err("an index file is missing".to_owned()))
            }
            (Err(e), _) | (_, Err(e)) => return Err(e),
        };
        let mut segment = Self::new(base_offset, log, IndexFile::lazy(index), IndexFile::lazy(time), now_ms);
        segment.size_bytes = segment.log.len()?;
        if segment.size_bytes > MAX_SEGMENT_BYTES {
            return Ok(Err(format!("log file of {} bytes is beyond what an index addresses", segment.size_bytes)));
        }
        let last_entry = segment.offset_index.last_entry()?;
        let (start, first_last_offset) = match last_entry {
            Some(e) if e.relative_offset >= 0 && e.position >= 0 && (e.position as u64) < segment.size_bytes => {
                (e.position as u64, Some(base_offset + i64::from(e.relative_offset)))
            }
            Some(_) => return Ok(Err("the last offset-index entry lies outside the log".to_owned())),
            None => (0, None),
        };
        let mut scanner = BatchScanner::new(segment.log.as_ref(), start, segment.size_bytes);
        let mut expected_base = (start == 0).then_some(base_offset);
        let mut first = true;
        let (mut max_timestamp, mut offset_of_max) = (NO_TIMESTAMP, base_offset);
        loop {
            match scanner.next_batch()? {
                Scanned::Batch { header, .. } => {
                    // Offsets only increase: a compacted segment has gaps between batches.
                    let consistent = match (first, first_last_offset) {
                        (true, Some(indexed)) => last_offset(&header) == indexed,
                        _ => expected_base.is_some_and(|expected| header.base_offset >= expected),
                    };
                    if !consistent || header.last_offset_delta < 0 {
                        return Ok(Err(format!("batch at offset {} does not follow the index", header.base_offset)));
                    }
                    first = false;
                    expected_base = Some(last_offset(&header).saturating_add(1));
                    if header.max_timestamp > max_timestamp {
                        max_timestamp = header.max_timestamp;
                        offset_of_max = last_offset(&header);
                    }
                }
                Scanned::End => break,
                Scanned::Incomplete { position, reason } => {
                    return Ok(Err(format!("unreadable batch at position {position}: {reason}")))
                }
            }
        }
        segment.next_offset = expected_base.unwrap_or(base_offset);
        if let Some(entry) = segment.time_index.last_entry()? {
            let offset = base_offset + i64::from(entry.relative_offset);
            if entry.relative_offset < 0 || offset >= segment.next_offset.max(base_offset + 1) {
                return Ok(Err("the last time-index entry lies outside the log".to_owned()));
            }
            if entry.timestamp >= max_timestamp {
                (max_timestamp, offset_of_max) = (entry.timestamp, offset);
            }
        }
        segment.max_timestamp = max_timestamp;
        segment.offset_of_max_timestamp = offset_of_max;
        Ok(Ok(segment))
    }

    /// Validates every batch from the start of the log file (CRC, sizes, contiguous offsets
    /// from `base_offset`), truncates the file at the first bad one and rebuilds both indexes.
    /// A batch starting below `gaps_below` may follow a gap in the offsets (compaction removed
    /// what was there); at or above it offsets must be contiguous, so a lost write shows.
    pub fn recover(
        storage: &dyn Storage,
        dir: &Path,
        base_offset: i64,
        now_ms: i64,
        index_interval_bytes: u64,
        gaps_below: i64,
    ) -> io::Result<(Self, RecoveryReport)> {
        let [log_path, index_path, time_path] = segment_paths(dir, base_offset);
        let mut log = storage.open_file(&log_path, false)?;
        let file_bytes = log.len()?;
        let mut builder = IndexBuilder::new(base_offset, index_interval_bytes);
        let mut expected = base_offset;
        let mut reason = None;
        let valid_bytes = {
            let mut scanner = BatchScanner::new(log.as_ref(), 0, file_bytes);
            loop {
                match scanner.next_batch()? {
                    Scanned::Batch { position, header, bytes } => {
                        let problem = match validate_batch(bytes) {
                            Err(e) => Some(e.to_string()),
                            Ok(_) if header.base_offset < expected
                                || (header.base_offset > expected && header.base_offset >= gaps_below) =>
                            {
                                Some(format!("batch offset {} where {expected} was due", header.base_offset))
                            }
                            Ok(_) if last_offset(&header) - base_offset > i64::from(i32::MAX)
                                || position + bytes.len() as u64 > MAX_SEGMENT_BYTES =>
                            {
                                Some("batch beyond what the segment's indexes address".to_owned())
                            }
                            Ok(_) => None,
                        };
                        if let Some(problem) = problem {
                            reason = Some(format!("at position {position}: {problem}"));
                            break position;
                        }
                        builder.add(position, &header);
                        expected = last_offset(&header) + 1;
                    }
                    Scanned::End => break scanner.position(),
                    Scanned::Incomplete { position, reason: why } => {
                        reason = Some(format!("at position {position}: {why}"));
                        break position;
                    }
                }
            }
        };
        if valid_bytes < file_bytes {
            log.truncate(valid_bytes)?;
        }
        let (max_timestamp, offset_of_max) = (builder.max_timestamp, builder.offset_of_max_timestamp);
        if valid_bytes > 0 {
            // As Kafka: the last time-index entry always carries the segment's max timestamp.
            builder.push_time(max_timestamp, offset_of_max);
        }
        let bytes_since_last_entry = builder.bytes_since_last_entry;
        let mut index = IndexFile::loaded(storage.open_file(&index_path, true)?, Vec::new());
        index.replace_all(builder.offsets)?;
        let mut time = IndexFile::loaded(storage.open_file(&time_path, true)?, Vec::new());
        time.replace_all(builder.times)?;
        let mut segment = Self::new(base_offset, log, index, time, now_ms);
        segment.size_bytes = valid_bytes;
        segment.next_offset = expected;
        segment.max_timestamp = max_timestamp;
        segment.offset_of_max_timestamp = offset_of_max;
        segment.bytes_since_last_index_entry = bytes_since_last_entry;
        // The bytes may still sit in the page cache of a process that died or never synced
        // them: a recovered segment counts as unsynced until the log syncs it.
        segment.log_dirty = true;
        segment.load_rolling_timestamp()?;
        Ok((segment, RecoveryReport { bytes_dropped: file_bytes - valid_bytes, reason }))
    }

    /// Loads both indexes now, checked against the log; `false` if either is not sane.
    /// The active segment needs this: it is appended to, so its entries must match its files.
    pub fn load_indexes_checked(&mut self) -> io::Result<bool> {
        let bounds = self.bounds();
        let offsets = IndexFile::<OffsetEntry>::read_checked(self.offset_index.file(), bounds)?;
        let times = IndexFile::<TimeEntry>::read_checked(self.time_index.file(), bounds)?;
        match (offsets, times) {
            (Some(offsets), Some(times)) => {
                self.offset_index.install(offsets);
                self.time_index.install(times);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Cuts the log file at `position` (a batch boundary); the caller rebuilds the segment
    /// with [`Segment::recover`] afterwards.
    pub fn truncate_log(&mut self, position: u64) -> io::Result<()> {
        assert!(position <= self.size_bytes, "truncation past the segment end");
        self.log.truncate(position)?;
        self.log.sync()
    }

    /// Reads the first batch's max timestamp, which drives time-based rolls.
    pub fn load_rolling_timestamp(&mut self) -> io::Result<()> {
        self.rolling_timestamp = if self.size_bytes == 0 {
            None
        } else {
            Some(read_header_at(self.log.as_ref(), 0, self.size_bytes)?.max_timestamp)
        };
        Ok(())
    }

    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }

    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }

    /// Kafka's LogSegment.largestTimestamp: the max record timestamp, or the file's last
    /// modification when the segment holds none.
    pub fn largest_timestamp(&self) -> i64 {
        if self.max_timestamp >= 0 {
            self.max_timestamp
        } else {
            self.last_modified_ms
        }
    }

    fn bounds(&self) -> IndexBounds {
        IndexBounds { log_bytes: self.size_bytes, last_relative_offset: self.next_offset - 1 - self.base_offset }
    }

    /// Kafka's LogSegment.timeWaitedForRoll.
    fn time_waited_for_roll(&self, now_ms: i64, message_timestamp: i64) -> i64 {
        match self.rolling_timestamp {
            Some(first) if first >= 0 => message_timestamp.saturating_sub(first),
            _ => now_ms.saturating_sub(self.created_ms),
        }
    }

    /// Kafka's LogSegment.shouldRoll, for a batch of `batch_bytes` reaching `last_offset` with
    /// max timestamp `max_timestamp`. An empty segment never rolls: it takes any batch.
    pub fn should_roll(&self, config: &LogConfig, batch_bytes: u64, max_timestamp: i64, last_offset: i64, now_ms: i64) -> bool {
        if self.size_bytes == 0 {
            return false;
        }
        let segment_bytes = config.segment_bytes.min(MAX_SEGMENT_BYTES);
        self.size_bytes + batch_bytes > segment_bytes
            || self.time_waited_for_roll(now_ms, max_timestamp) > config.segment_ms
            || self.offset_index.len().unwrap_or(0) >= max_entries::<OffsetEntry>(config.segment_index_bytes)
            || self.time_index.len().unwrap_or(0) >= max_entries::<TimeEntry>(config.segment_index_bytes)
            || last_offset - self.base_offset > i64::from(i32::MAX)
    }

    /// Time-based roll check with no batch at hand (a tick).
    pub fn time_to_roll(&self, config: &LogConfig, now_ms: i64) -> bool {
        self.size_bytes > 0 && self.time_waited_for_roll(now_ms, now_ms) > config.segment_ms
    }

    /// Appends one batch (already carrying its final base offset). See the module docs.
    pub fn append(
        &mut self,
        batch: BatchParts<'_>,
        header: &BatchHeader,
        index_interval_bytes: u64,
        now_ms: i64,
    ) -> Result<(), AppendFailure> {
        assert_eq!(header.base_offset, self.next_offset, "append out of order");
        assert_eq!(header.total_bytes(), batch.len(), "header and batch length disagree");
        let position = self.size_bytes;
        let (max_timestamp, offset_of_max) = if header.max_timestamp > self.max_timestamp {
            (header.max_timestamp, last_offset(header))
        } else {
            (self.max_timestamp, self.offset_of_max_timestamp)
        };
        let index_entry = self.bytes_since_last_index_entry > index_interval_bytes;
        let offset_entries = self.offset_index.len().unwrap_or(0);
        let time_entries = self.time_index.len().unwrap_or(0);
        let written = self.write_batch(batch, position, last_offset(header), index_entry, max_timestamp, offset_of_max);
        if let Err(error) = written {
            let rolled_back = self.rollback(position, offset_entries, time_entries).is_ok();
            return Err(AppendFailure { error, rolled_back });
        }
        debug_assert_eq!(self.log.len().ok(), Some(position + batch.len() as u64), "log file length after append");
        if position == 0 {
            self.rolling_timestamp = Some(header.max_timestamp);
        }
        self.size_bytes = position + batch.len() as u64;
        self.next_offset = last_offset(header) + 1;
        self.max_timestamp = max_timestamp;
        self.offset_of_max_timestamp = offset_of_max;
        self.last_modified_ms = now_ms;
        if index_entry {
            self.bytes_since_last_index_entry = 0;
        }
        self.bytes_since_last_index_entry += batch.len() as u64;
        Ok(())
    }

    fn write_batch(
        &mut self,
        batch: BatchParts<'_>,
        position: u64,
        last_offset: i64,
        index_entry: bool,
        max_timestamp: i64,
        offset_of_max: i64,
    ) -> io::Result<()> {
        self.log_dirty = true;
        self.log.write_all_vectored_at(&[batch.header, batch.records], position)?;
        if index_entry {
            let entry = OffsetEntry {
                relative_offset: (last_offset - self.base_offset) as i32,
                position: position as i32,
            };
            if let Some(last) = self.offset_index.last() {
                assert!(entry.relative_offset > last.relative_offset && entry.position > last.position);
            }
            self.offset_index.append(entry)?;
            self.maybe_append_time(max_timestamp, offset_of_max)?;
        }
        Ok(())
    }

    fn maybe_append_time(&mut self, timestamp: i64, offset: i64) -> io::Result<()> {
        let grows = self.time_index.last().is_none_or(|last| timestamp > last.timestamp);
        if grows {
            self.time_index.append(TimeEntry { timestamp, relative_offset: (offset - self.base_offset) as i32 })?;
        }
        Ok(())
    }

    fn rollback(&mut self, log_bytes: u64, offset_entries: usize, time_entries: usize) -> io::Result<()> {
        self.log.truncate(log_bytes)?;
        self.offset_index.truncate_entries(offset_entries)?;
        self.time_index.truncate_entries(time_entries)
    }

    /// Kafka's onBecomeInactiveSegment: the last time-index entry gets the max timestamp, so
    /// a reopen reads it from there. Also run before a clean close.
    pub fn seal_time_index(&mut self) -> io::Result<()> {
        if self.size_bytes == 0 || !self.time_index.is_loaded() {
            return Ok(());
        }
        let count = self.time_index.len().unwrap_or(0);
        let result = self.maybe_append_time(self.max_timestamp, self.offset_of_max_timestamp);
        if result.is_err() {
            // Leave no partial entry behind; the entry is an optimisation, the error is not.
            let _ = self.time_index.truncate_entries(count);
        }
        result
    }

    /// Makes the log file and indexes durable, skipping files with nothing new.
    pub fn sync(&mut self) -> io::Result<()> {
        if self.log_dirty {
            self.log.sync()?;
            self.log_dirty = false;
        }
        self.offset_index.sync()?;
        self.time_index.sync()
    }

    /// Syncs every file of the segment whatever its flags say: while a group-commit sync is
    /// in flight, the flags it cleared no longer mean "on disk".
    pub fn sync_all(&mut self) -> io::Result<()> {
        let mut handles = Vec::new();
        self.take_sync_handles(true, true, &mut handles);
        handles.iter().try_for_each(|handle| handle.sync())
    }

    /// Handles that sync, later and outside the log's lock, every file of this segment with
    /// unsynced changes (every file, with `force`); those files then count as clean, so the
    /// caller must run the handles or fail the log. Without `with_indexes` only the log file
    /// is taken and the indexes stay dirty: see [`crate::PartitionLog::begin_flush`].
    pub fn take_sync_handles(&mut self, force: bool, with_indexes: bool, out: &mut Vec<Box<dyn FileSync>>) {
        if std::mem::take(&mut self.log_dirty) || force {
            out.push(self.log.sync_handle());
        }
        if with_indexes {
            out.extend(self.offset_index.take_sync(force));
            out.extend(self.time_index.take_sync(force));
        }
    }

    /// The batch holding `offset` (or the first after it): its position and header.
    pub fn find_batch(&self, offset: i64) -> io::Result<Option<(u64, BatchHeader)>> {
        if offset >= self.next_offset {
            return Ok(None);
        }
        let entries = self.offset_index.entries(self.bounds())?;
        let mut position = lookup_position(entries, offset - self.base_offset);
        while position < self.size_bytes {
            let header = read_header_at(self.log.as_ref(), position, self.size_bytes)?;
            if last_offset(&header) >= offset {
                return Ok(Some((position, header)));
            }
            position += header.total_bytes() as u64;
        }
        Ok(None)
    }

    /// The end of the whole batches from `start` (a batch boundary) that end by `limit` and
    /// have base offsets below `max_offset`, and whether they run to the segment's end.
    pub fn whole_batches_end(&self, start: u64, limit: u64, max_offset: i64) -> io::Result<(u64, bool)> {
        let mut end = limit.min(self.size_bytes);
        if max_offset < self.next_offset {
            // Batches are taken while their base offset is below max_offset, so the one
            // holding it is taken when it starts below it.
            if let Some((position, header)) = self.find_batch(max_offset)? {
                let boundary = if header.base_offset >= max_offset { position } else { position + header.total_bytes() as u64 };
                end = end.min(boundary);
            }
        }
        if end == self.size_bytes {
            return Ok((end, true));
        }
        // `end` may fall inside a batch: walk the headers from the last index entry at or
        // before it (entries are batch starts) to the last boundary at or before it.
        let entries = self.offset_index.entries(self.bounds())?;
        let at = entries.partition_point(|e| u64::try_from(e.position).is_ok_and(|p| p <= end));
        let mut position = at.checked_sub(1).map_or(start, |i| (entries[i].position as u64).max(start));
        while position < end {
            let header = read_header_at(self.log.as_ref(), position, self.size_bytes)?;
            let next = position + header.total_bytes() as u64;
            if next > end {
                break;
            }
            position = next;
        }
        Ok((position, false))
    }

    /// The log file itself, when the storage can share it (see [`StorageFile::shared_file`]).
    pub fn shared_file(&self) -> Option<std::sync::Arc<std::fs::File>> {
        self.log.shared_file()
    }

    /// The first batch whose max timestamp is at least `timestamp`, not before `min_offset`.
    pub fn find_batch_by_timestamp(&self, timestamp: i64, min_offset: i64) -> io::Result<Option<(u64, BatchHeader)>> {
        if self.max_timestamp < timestamp {
            return Ok(None);
        }
        let entries = self.time_index.entries(self.bounds())?;
        let from = lookup_time(entries, timestamp).map_or(self.base_offset, |rel| self.base_offset + i64::from(rel));
        let Some((mut position, _)) = self.find_batch(from.max(min_offset))? else { return Ok(None) };
        while position < self.size_bytes {
            let header = read_header_at(self.log.as_ref(), position, self.size_bytes)?;
            if header.max_timestamp >= timestamp && last_offset(&header) >= min_offset {
                return Ok(Some((position, header)));
            }
            position += header.total_bytes() as u64;
        }
        Ok(None)
    }

    /// The batch whose max timestamp is the segment's max, if the segment has timestamps.
    pub fn find_batch_with_max_timestamp(&self) -> io::Result<Option<(u64, BatchHeader)>> {
        if self.max_timestamp == NO_TIMESTAMP || self.size_bytes == 0 {
            return Ok(None);
        }
        let Some((mut position, _)) = self.find_batch(self.offset_of_max_timestamp)? else { return Ok(None) };
        // The tracked offset is exact, but scan on in case it came from an older index format.
        while position < self.size_bytes {
            let header = read_header_at(self.log.as_ref(), position, self.size_bytes)?;
            if header.max_timestamp == self.max_timestamp {
                return Ok(Some((position, header)));
            }
            position += header.total_bytes() as u64;
        }
        Ok(None)
    }

    /// Appends the bytes `[position, position + len)` of the log to `out`.
    pub fn read_bytes(&self, position: u64, len: usize, out: &mut Vec<u8>) -> io::Result<()> {
        assert!(position + len as u64 <= self.size_bytes, "read past the segment's committed size");
        self.log.read_exact_append(out, len, position)
    }

    /// A scanner over the whole batches of the log file from `position` to the segment end.
    pub(crate) fn scanner(&self, position: u64) -> BatchScanner<'_> {
        BatchScanner::new(self.log.as_ref(), position, self.size_bytes)
    }

    /// Calls `f` with the header of each batch holding an offset at or after `from_offset`.
    pub fn for_each_header_from(&self, from_offset: i64, mut f: impl FnMut(&BatchHeader)) -> io::Result<()> {
        let Some((position, _)) = self.find_batch(from_offset)? else { return Ok(()) };
        let mut scanner = BatchScanner::new(self.log.as_ref(), position, self.size_bytes);
        loop {
            match scanner.next_batch()? {
                Scanned::Batch { header, .. } => f(&header),
                Scanned::End => return Ok(()),
                Scanned::Incomplete { position, reason } => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("segment {} unreadable at position {position}: {reason}", self.base_offset),
                    ))
                }
            }
        }
    }
}
