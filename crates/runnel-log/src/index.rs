//! The two sparse per-segment indexes, kept as a `Vec` in memory and written through to their
//! files (append-only, never preallocated).
//!
//! ```text
//! .index      8 bytes/entry: relative_offset i32 | position i32      (big-endian)
//! .timeindex 12 bytes/entry: timestamp i64       | relative_offset i32
//! ```
//!
//! As in Kafka, an offset-index entry maps the LAST offset of a batch to the position where
//! that batch starts, so a lookup of offset `o` returns a position at or before the batch
//! holding `o`. A time-index entry records the segment's max timestamp so far and the last
//! offset of the batch that first reached it. Entries of both are strictly increasing.
//!
//! Indexes of segments that were trusted at open are read lazily, on first use: opening a
//! log with many segments must not read every index. An index that fails its sanity check
//! on a lazy load is replaced by an empty one (lookups then scan from the segment start,
//! slower but correct) and a warning is logged.

use std::io;
use std::sync::OnceLock;

use crate::storage::{FileSync, StorageFile};

/// What the owning segment knows, to check loaded entries against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IndexBounds {
    /// Bytes in the segment's log file.
    pub log_bytes: u64,
    /// Relative offset of the segment's last offset (`-1` when empty).
    pub last_relative_offset: i64,
}

pub(crate) trait IndexEntry: Copy + std::fmt::Debug + Send + Sync + 'static {
    const BYTES: usize;
    const KIND: &'static str;
    fn encode(&self, out: &mut [u8]);
    fn decode(bytes: &[u8]) -> Self;
    /// Checks `self` may follow `previous` in a sane index within `bounds`.
    fn follows(&self, previous: Option<&Self>, bounds: IndexBounds) -> bool;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OffsetEntry {
    pub relative_offset: i32,
    pub position: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeEntry {
    pub timestamp: i64,
    pub relative_offset: i32,
}

fn i32_at(bytes: &[u8], at: usize) -> i32 {
    let mut raw = [0u8; 4];
    raw.copy_from_slice(&bytes[at..at + 4]);
    i32::from_be_bytes(raw)
}

impl IndexEntry for OffsetEntry {
    const BYTES: usize = 8;
    const KIND: &'static str = "offset index";

    fn encode(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.relative_offset.to_be_bytes());
        out[4..8].copy_from_slice(&self.position.to_be_bytes());
    }

    fn decode(bytes: &[u8]) -> Self {
        Self { relative_offset: i32_at(bytes, 0), position: i32_at(bytes, 4) }
    }

    fn follows(&self, previous: Option<&Self>, bounds: IndexBounds) -> bool {
        let in_bounds = self.relative_offset >= 0
            && i64::from(self.relative_offset) <= bounds.last_relative_offset
            && self.position >= 0
            && (self.position as u64) < bounds.log_bytes;
        in_bounds
            && previous.is_none_or(|p| self.relative_offset > p.relative_offset && self.position > p.position)
    }
}

impl IndexEntry for TimeEntry {
    const BYTES: usize = 12;
    const KIND: &'static str = "time index";

    fn encode(&self, out: &mut [u8]) {
        out[0..8].copy_from_slice(&self.timestamp.to_be_bytes());
        out[8..12].copy_from_slice(&self.relative_offset.to_be_bytes());
    }

    fn decode(bytes: &[u8]) -> Self {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(&bytes[0..8]);
        Self { timestamp: i64::from_be_bytes(raw), relative_offset: i32_at(bytes, 8) }
    }

    fn follows(&self, previous: Option<&Self>, bounds: IndexBounds) -> bool {
        let in_bounds =
            self.relative_offset >= 0 && i64::from(self.relative_offset) <= bounds.last_relative_offset;
        in_bounds
            && previous.is_none_or(|p| self.timestamp > p.timestamp && self.relative_offset >= p.relative_offset)
    }
}

/// Position to start scanning from for `relative_offset`: the greatest entry at or below it.
pub(crate) fn lookup_position(entries: &[OffsetEntry], relative_offset: i64) -> u64 {
    let at = entries.partition_point(|e| i64::from(e.relative_offset) <= relative_offset);
    if at == 0 {
        0
    } else {
        entries[at - 1].position as u64
    }
}

/// Relative offset to start scanning from for `timestamp`: the entry with the greatest
/// timestamp at or below it, else `None` (scan from the segment start).
pub(crate) fn lookup_time(entries: &[TimeEntry], timestamp: i64) -> Option<i32> {
    let at = entries.partition_point(|e| e.timestamp <= timestamp);
    (at > 0).then(|| entries[at - 1].relative_offset)
}

/// Entries a full index of `index_bytes` bytes holds (Kafka's maxEntries); at least one, so
/// a tiny setting cannot make every segment "full" before its first batch.
pub(crate) fn max_entries<E: IndexEntry>(index_bytes: u64) -> usize {
    usize::try_from(index_bytes / E::BYTES as u64).unwrap_or(usize::MAX).max(1)
}

/// One index file and its entries.
#[derive(Debug)]
pub(crate) struct IndexFile<E: IndexEntry> {
    file: Box<dyn StorageFile>,
    entries: OnceLock<Vec<E>>,
    dirty: bool,
}

impl<E: IndexEntry> IndexFile<E> {
    /// An index whose entries are already known (a new segment, or one just rebuilt).
    pub fn loaded(file: Box<dyn StorageFile>, entries: Vec<E>) -> Self {
        Self { file, entries: OnceLock::from(entries), dirty: false }
    }

    /// An index read from its file on first use.
    pub fn lazy(file: Box<dyn StorageFile>) -> Self {
        Self { file, entries: OnceLock::new(), dirty: false }
    }

    /// Reads and checks the file: `Ok(None)` when its contents are not a sane index.
    pub fn read_checked(file: &dyn StorageFile, bounds: IndexBounds) -> io::Result<Option<Vec<E>>> {
        let len = file.len()?;
        if len % E::BYTES as u64 != 0 {
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| io::Error::other("index file too large"))?;
        let mut bytes = vec![0u8; len];
        file.read_exact_at(&mut bytes, 0)?;
        let mut entries: Vec<E> = Vec::with_capacity(len / E::BYTES);
        for chunk in bytes.chunks_exact(E::BYTES) {
            let entry = E::decode(chunk);
            if !entry.follows(entries.last(), bounds) {
                return Ok(None);
            }
            entries.push(entry);
        }
        Ok(Some(entries))
    }

    /// The entries, loading them (once) if needed.
    pub fn entries(&self, bounds: IndexBounds) -> io::Result<&[E]> {
        if let Some(entries) = self.entries.get() {
            return Ok(entries);
        }
        let entries = match Self::read_checked(self.file.as_ref(), bounds)? {
            Some(entries) => entries,
            None => {
                tracing::warn!(kind = E::KIND, "ignoring an index that fails its sanity check; lookups scan the segment");
                Vec::new()
            }
        };
        // A concurrent reader may have loaded it first; both loads read the same file.
        Ok(self.entries.get_or_init(|| entries))
    }

    /// The entries if loaded; the last entry is read from the file otherwise (no full load).
    pub fn last_entry(&self) -> io::Result<Option<E>> {
        if let Some(entries) = self.entries.get() {
            return Ok(entries.last().copied());
        }
        let len = self.file.len()?;
        if len < E::BYTES as u64 || len % E::BYTES as u64 != 0 {
            return Ok(None);
        }
        let mut raw = [0u8; 16];
        let raw = &mut raw[..E::BYTES];
        self.file.read_exact_at(raw, len - E::BYTES as u64)?;
        Ok(Some(E::decode(raw)))
    }

    fn loaded_mut(&mut self) -> &mut Vec<E> {
        // Only segments that were rebuilt or created (always loaded) are ever written.
        self.entries.get_mut().expect("a written index is loaded")
    }

    pub fn file(&self) -> &dyn StorageFile {
        self.file.as_ref()
    }

    /// Installs entries already checked against this file.
    pub fn install(&mut self, entries: Vec<E>) {
        self.entries = OnceLock::from(entries);
    }

    pub fn is_loaded(&self) -> bool {
        self.entries.get().is_some()
    }

    pub fn len(&self) -> Option<usize> {
        self.entries.get().map(Vec::len)
    }

    pub fn last(&self) -> Option<E> {
        self.entries.get().and_then(|e| e.last().copied())
    }

    /// Writes one entry through to the file, then records it. On error the file may hold a
    /// partial entry: the caller truncates with [`IndexFile::truncate_entries`].
    pub fn append(&mut self, entry: E) -> io::Result<()> {
        let count = self.loaded_mut().len();
        let mut raw = [0u8; 16];
        let raw = &mut raw[..E::BYTES];
        entry.encode(raw);
        self.dirty = true;
        self.file.write_all_at(raw, (count * E::BYTES) as u64)?;
        self.loaded_mut().push(entry);
        Ok(())
    }

    /// Drops entries beyond `count`, in memory and in the file.
    pub fn truncate_entries(&mut self, count: usize) -> io::Result<()> {
        self.dirty = true;
        self.file.truncate((count * E::BYTES) as u64)?;
        self.loaded_mut().truncate(count);
        Ok(())
    }

    /// Replaces the whole index (recovery and truncation rebuild it from the log).
    pub fn replace_all(&mut self, entries: Vec<E>) -> io::Result<()> {
        let mut bytes = vec![0u8; entries.len() * E::BYTES];
        for (entry, out) in entries.iter().zip(bytes.chunks_exact_mut(E::BYTES)) {
            entry.encode(out);
        }
        self.dirty = true;
        self.file.truncate(0)?;
        self.file.write_all_at(&bytes, 0)?;
        self.entries = OnceLock::from(entries);
        Ok(())
    }

    pub fn sync(&mut self) -> io::Result<()> {
        if self.dirty {
            self.file.sync()?;
            self.dirty = false;
        }
        Ok(())
    }

    /// A handle to sync the file later, outside the log's lock, if it has unsynced changes
    /// (or always, with `force`); the index then counts as clean.
    pub fn take_sync(&mut self, force: bool) -> Option<Box<dyn FileSync>> {
        let dirty = std::mem::take(&mut self.dirty);
        (dirty || force).then(|| self.file.sync_handle())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{MemStorage, Storage};
    use std::path::Path;

    fn file(storage: &MemStorage, name: &str) -> Box<dyn StorageFile> {
        storage.create_dir_all(Path::new("/i")).unwrap();
        storage.open_file(&Path::new("/i").join(name), true).unwrap()
    }

    const BOUNDS: IndexBounds = IndexBounds { log_bytes: 10_000, last_relative_offset: 1_000 };

    #[test]
    fn offset_lookup_returns_greatest_entry_at_or_below() {
        let entries = [
            OffsetEntry { relative_offset: 9, position: 100 },
            OffsetEntry { relative_offset: 19, position: 200 },
        ];
        assert_eq!(lookup_position(&entries, 0), 0);
        assert_eq!(lookup_position(&entries, 8), 0);
        assert_eq!(lookup_position(&entries, 9), 100);
        assert_eq!(lookup_position(&entries, 18), 100);
        assert_eq!(lookup_position(&entries, 50), 200);
    }

    #[test]
    fn time_lookup_returns_greatest_timestamp_at_or_below() {
        let entries = [TimeEntry { timestamp: 10, relative_offset: 3 }, TimeEntry { timestamp: 20, relative_offset: 8 }];
        assert_eq!(lookup_time(&entries, 9), None);
        assert_eq!(lookup_time(&entries, 10), Some(3));
        assert_eq!(lookup_time(&entries, 25), Some(8));
    }

    #[test]
    fn appended_entries_are_written_big_endian_and_read_back() {
        let storage = MemStorage::new();
        let mut index = IndexFile::loaded(file(&storage, "a.index"), Vec::new());
        index.append(OffsetEntry { relative_offset: 1, position: 2 }).unwrap();
        index.append(OffsetEntry { relative_offset: 3, position: 400 }).unwrap();
        let bytes = storage.file_bytes(Path::new("/i/a.index")).unwrap();
        assert_eq!(bytes, [0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 1, 144]);
        let lazy: IndexFile<OffsetEntry> = IndexFile::lazy(file(&storage, "a.index"));
        assert_eq!(lazy.last_entry().unwrap(), Some(OffsetEntry { relative_offset: 3, position: 400 }));
        assert_eq!(lazy.entries(BOUNDS).unwrap().len(), 2);
    }

    #[test]
    fn insane_index_loads_as_empty() {
        let storage = MemStorage::new();
        let mut index = IndexFile::loaded(file(&storage, "b.index"), Vec::new());
        // Positions going backwards cannot come from an append-only log.
        index.append(OffsetEntry { relative_offset: 1, position: 500 }).unwrap();
        index.append(OffsetEntry { relative_offset: 2, position: 100 }).unwrap();
        let lazy: IndexFile<OffsetEntry> = IndexFile::lazy(file(&storage, "b.index"));
        assert!(lazy.entries(BOUNDS).unwrap().is_empty());
        let past_log = IndexBounds { log_bytes: 300, last_relative_offset: 1_000 };
        assert_eq!(IndexFile::<OffsetEntry>::read_checked(lazy.file.as_ref(), past_log).unwrap(), None);
    }

    #[test]
    fn truncated_index_drops_file_bytes_too() {
        let storage = MemStorage::new();
        let mut index = IndexFile::loaded(file(&storage, "t.timeindex"), Vec::new());
        index.append(TimeEntry { timestamp: 1, relative_offset: 0 }).unwrap();
        index.append(TimeEntry { timestamp: 2, relative_offset: 1 }).unwrap();
        index.truncate_entries(1).unwrap();
        assert_eq!(storage.file_bytes(Path::new("/i/t.timeindex")).unwrap().len(), 12);
        assert_eq!(index.last(), Some(TimeEntry { timestamp: 1, relative_offset: 0 }));
    }
}
