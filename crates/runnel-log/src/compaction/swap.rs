//! Replacing a group of segments by their cleaned copy so that a crash at any point leaves
//! either the old segments or the new one, never both and never neither (Kafka's
//! `.cleaned` -> `.swap` -> rename).
//!
//! ```text
//! 1. write <base>.log.cleaned, sync it              crash: the .cleaned file is deleted on open
//! 2. rename it to <base>.log.swap, sync the dir     the commit point
//! 3. delete the other old segments of the group and the old <base> indexes, sync the dir
//! 4. rename <base>.log.swap over <base>.log, sync the dir
//! 5. rebuild <base>'s indexes from the new log
//! ```
//!
//! On open, [`finish_interrupted_swaps`] deletes every `*.cleaned` file and rolls each
//! `<base>.log.swap` forward by redoing steps 3 and 4 (idempotent): the old segments it
//! replaces are exactly those with a base in `[base, end)`, where `end` is the swap's next
//! offset, because a cleaned segment always keeps its group's last batch (see `filter`).
//! Indexes are never part of a swap: a swapped-in segment has none on disk until they are
//! rebuilt, so recovery can never pair a new log with an old index.

use std::io;
use std::path::{Path, PathBuf};

use runnel_protocol::batch::validate_batch;

use crate::layout::{offset_file_name, parse_offset_file_name, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX};
use crate::recovery::remove_if_present;
use crate::scan::{last_offset, BatchScanner, Scanned};
use crate::segment::{remove_segment_files, MAX_SEGMENT_BYTES};
use crate::storage::{Storage, StorageFile};

/// A cleaned segment log being written.
pub(crate) const CLEANED_LOG_SUFFIX: &str = ".log.cleaned";
/// A cleaned segment log that is committed to replace its group.
pub(crate) const SWAP_LOG_SUFFIX: &str = ".log.swap";
const CLEANED_SUFFIX: &str = ".cleaned";
const SWAP_SUFFIX: &str = ".swap";
/// Cleaned bytes buffered before each write to the `.cleaned` file.
pub(crate) const WRITE_CHUNK_BYTES: usize = 1 << 20;

pub(crate) fn cleaned_path(dir: &Path, base_offset: i64) -> PathBuf {
    dir.join(offset_file_name(base_offset, CLEANED_LOG_SUFFIX))
}

pub(crate) fn swap_path(dir: &Path, base_offset: i64) -> PathBuf {
    dir.join(offset_file_name(base_offset, SWAP_LOG_SUFFIX))
}

/// Writes the batches of one cleaned segment into `<base>.log.cleaned`, in large writes.
pub(crate) struct CleanedWriter {
    file: Box<dyn StorageFile>,
    buf: Vec<u8>,
    written_bytes: u64,
}

impl CleanedWriter {
    /// Creates (or empties a leftover) `<base>.log.cleaned`.
    pub fn create(storage: &dyn Storage, dir: &Path, base_offset: i64) -> io::Result<Self> {
        let mut file = storage.open_file(&cleaned_path(dir, base_offset), true)?;
        file.truncate(0)?;
        Ok(Self { file, buf: Vec::with_capacity(WRITE_CHUNK_BYTES), written_bytes: 0 })
    }

    /// Bytes of batches pushed so far.
    pub fn len_bytes(&self) -> u64 {
        self.written_bytes + self.buf.len() as u64
    }

    pub fn push(&mut self, batch: &[u8]) -> io::Result<()> {
        if self.len_bytes() + batch.len() as u64 > MAX_SEGMENT_BYTES {
            return Err(io::Error::other("cleaned segment would exceed what its indexes address"));
        }
        self.buf.extend_from_slice(batch);
        if self.buf.len() >= WRITE_CHUNK_BYTES {
            self.write_buffered()?;
        }
        Ok(())
    }

    fn write_buffered(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.file.write_all_at(&self.buf, self.written_bytes)?;
            self.written_bytes += self.buf.len() as u64;
            self.buf.clear();
        }
        Ok(())
    }

    /// Writes what is buffered and syncs the file; returns its size.
    pub fn finish(mut self) -> io::Result<u64> {
        self.write_buffered()?;
        self.file.sync()?;
        Ok(self.written_bytes)
    }
}

/// Best-effort removal of a `.cleaned` file that will not be swapped in; a leftover is
/// deleted on the next open anyway.
pub(crate) fn discard_cleaned(storage: &dyn Storage, dir: &Path, base_offset: i64) {
    if let Err(e) = remove_if_present(storage, &cleaned_path(dir, base_offset)) {
        tracing::warn!(dir = %dir.display(), "could not remove an abandoned cleaned segment {base_offset}: {e}");
    }
}

/// Steps 3 and 4: `replaced` are the bases of the group's other old segments.
pub(crate) fn install_swap(storage: &dyn Storage, dir: &Path, base_offset: i64, replaced: &[i64]) -> io::Result<()> {
    for &old in replaced.iter().filter(|&&old| old != base_offset) {
        remove_segment_files(storage, dir, old)?;
    }
    for suffix in [INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
        remove_if_present(storage, &dir.join(offset_file_name(base_offset, suffix)))?;
    }
    // The removals must be durable before the new log takes the old one's name: otherwise
    // a crash could leave the new log next to old segments inside its offset range.
    storage.sync_dir(dir)?;
    storage.rename(&swap_path(dir, base_offset), &dir.join(offset_file_name(base_offset, LOG_SUFFIX)))?;
    storage.sync_dir(dir)
}

/// The next offset after the last batch of a swap file, `None` unless it holds only whole,
/// valid batches (it was synced before its rename, so anything else is media damage).
fn swap_end_offset(storage: &dyn Storage, path: &Path) -> io::Result<Option<i64>> {
    let file = storage.open_file(path, false)?;
    let len = file.len()?;
    let mut scanner = BatchScanner::new(file.as_ref(), 0, len);
    let mut end = None;
    loop {
        match scanner.next_batch()? {
            Scanned::Batch { header, bytes, .. } => {
                if validate_batch(bytes).is_err() {
                    return Ok(None);
                }
                end = Some(last_offset(&header).saturating_add(1));
            }
            Scanned::End => return Ok(end),
            Scanned::Incomplete { .. } => return Ok(None),
        }
    }
}

/// Run by `PartitionLog::open` before anything else reads the directory: deletes
/// `*.cleaned` files (a swap that never committed) and finishes every committed swap. Does
/// no IO beyond listing the directory when there is nothing to do.
pub(crate) fn finish_interrupted_swaps(storage: &dyn Storage, dir: &Path) -> io::Result<()> {
    let mut swaps = Vec::new();
    let mut log_bases = Vec::new();
    for name in storage.list_dir(dir)? {
        if name.ends_with(CLEANED_SUFFIX) {
            tracing::info!(dir = %dir.display(), "removing {name} left by an interrupted compaction");
            storage.remove_file(&dir.join(&name))?;
        } else if let Some(base) = parse_offset_file_name(&name, SWAP_LOG_SUFFIX) {
            swaps.push(base);
        } else if name.ends_with(SWAP_SUFFIX) {
            storage.remove_file(&dir.join(&name))?;
        } else if let Some(base) = parse_offset_file_name(&name, LOG_SUFFIX) {
            log_bases.push(base);
        }
    }
    swaps.sort_unstable();
    for base in swaps {
        let path = swap_path(dir, base);
        match swap_end_offset(storage, &path)? {
            Some(end) => {
                let replaced: Vec<i64> = log_bases.iter().copied().filter(|&b| b > base && b < end).collect();
                tracing::warn!(
                    dir = %dir.display(),
                    "finishing an interrupted compaction: segment {base} replaces the segments in [{base}, {end})"
                );
                install_swap(storage, dir, base, &replaced)?;
                log_bases.retain(|b| !replaced.contains(b));
            }
            None => {
                tracing::warn!(dir = %dir.display(), "discarding damaged compaction swap file {}", path.display());
                storage.remove_file(&path)?;
                storage.sync_dir(dir)?;
            }
        }
    }
    Ok(())
}
