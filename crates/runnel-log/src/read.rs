//! Reads: which bytes of which segments hold the whole batches a fetch returns
//! ([`PartitionLog::plan_read`]), then either copying them into a buffer
//! ([`PartitionLog::read_into`]) or handing them out as [`FileSlice`]s
//! ([`PartitionLog::read_file_slices`]) for a connection that sends them with `sendfile`, so
//! they go from the page cache to the socket without passing through the broker's memory.
//!
//! Planning reads no record bytes: batch boundaries come from the offset index (its entries
//! are batch starts) and the few batch headers after the nearest entry.

use std::fs::File;
use std::io;
use std::sync::Arc;

use crate::partition::PartitionLog;
use crate::storage::pread_append;
use crate::{LogError, ReadResult};

/// Whole batches in one segment's log file: `len` bytes from `position`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegmentRange {
    pub segment: usize,
    pub position: u64,
    pub len: usize,
}

/// Whole batches, as stored, in one segment file, which the slice keeps open (a segment
/// deleted meanwhile by retention or compaction stays readable through it).
///
/// The bytes are committed, and committed bytes are never rewritten in place; only
/// [`PartitionLog::truncate_to`] could cut a file below a slice handed out earlier, and then
/// the file ends early: reading it or sending it fails rather than returning other bytes.
#[derive(Debug, Clone)]
pub struct FileSlice {
    file: Arc<File>,
    position: u64,
    len: usize,
}

impl FileSlice {
    /// `len` bytes of `file` from `position` (the log makes these; tests of senders too).
    pub fn new(file: Arc<File>, position: u64, len: usize) -> Self {
        Self { file, position, len }
    }

    pub fn file(&self) -> &File {
        &self.file
    }

    /// Where the slice starts in the file.
    pub fn position(&self) -> u64 {
        self.position
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends the slice's bytes to `out` (for a transport that cannot send from a file).
    pub fn read_append(&self, out: &mut Vec<u8>) -> io::Result<()> {
        pread_append(&self.file, out, self.len, self.position)
    }
}

impl PartitionLog {
    /// Whole batches from the one containing `offset`; see [`PartitionLog::read_into`].
    pub fn read(&self, offset: i64, max_bytes: usize, max_offset: i64, min_one_batch: bool) -> Result<ReadResult, LogError> {
        let mut bytes = Vec::new();
        self.read_into(offset, max_bytes, max_offset, min_one_batch, &mut bytes)?;
        Ok(ReadResult { bytes })
    }

    /// Appends to `out` the batches [`PartitionLog::plan_read`] picks, as stored. Lets the
    /// caller reuse its buffer.
    pub fn read_into(
        &self,
        offset: i64,
        max_bytes: usize,
        max_offset: i64,
        min_one_batch: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), LogError> {
        let before = out.len();
        for range in self.plan_read(offset, max_bytes, max_offset, min_one_batch)? {
            if let Err(error) = self.segments[range.segment].read_bytes(range.position, range.len, out) {
                out.truncate(before);
                return Err(error.into());
            }
        }
        Ok(())
    }

    /// The batches [`PartitionLog::plan_read`] picks as slices of their segment files, or
    /// `None` when the storage has no files to share (in memory, fault injection).
    pub fn read_file_slices(
        &self,
        offset: i64,
        max_bytes: usize,
        max_offset: i64,
        min_one_batch: bool,
    ) -> Result<Option<Vec<FileSlice>>, LogError> {
        let plan = self.plan_read(offset, max_bytes, max_offset, min_one_batch)?;
        Ok(plan
            .into_iter()
            .map(|range| {
                let file = self.segments[range.segment].shared_file()?;
                Some(FileSlice::new(file, range.position, range.len))
            })
            .collect())
    }

    /// Where the whole batches lie, from the one containing `offset`, that a read returns:
    /// batches are taken while their total stays within `max_bytes` and their base offset is
    /// below `max_offset`; with `min_one_batch` a first batch larger than `max_bytes` comes
    /// alone. Reading continues into later segments. `offset == log end` reads nothing;
    /// outside `[log start, log end]` is `OffsetOutOfRange`.
    pub(crate) fn plan_read(
        &self,
        offset: i64,
        max_bytes: usize,
        max_offset: i64,
        min_one_batch: bool,
    ) -> Result<Vec<SegmentRange>, LogError> {
        let log_end_offset = self.log_end_offset();
        if offset < self.log_start_offset || offset > log_end_offset {
            return Err(LogError::OffsetOutOfRange { offset, log_start_offset: self.log_start_offset, log_end_offset });
        }
        let mut plan = Vec::new();
        let Some(mut index) = self.segment_index_for(offset) else { return Ok(plan) };
        let mut planned_bytes = 0usize;
        let mut from_offset = offset;
        while index < self.segments.len() {
            let segment = &self.segments[index];
            let Some((start, first)) = segment.find_batch(from_offset)? else {
                index += 1;
                continue;
            };
            if first.base_offset >= max_offset {
                break;
            }
            let first_bytes = first.total_bytes();
            if planned_bytes + first_bytes > max_bytes {
                if planned_bytes == 0 && min_one_batch {
                    plan.push(SegmentRange { segment: index, position: start, len: first_bytes });
                }
                break;
            }
            let budget_end = start.saturating_add((max_bytes - planned_bytes) as u64);
            let (end, to_segment_end) = segment.whole_batches_end(start, budget_end, max_offset)?;
            assert!(end >= start + first_bytes as u64, "the first batch fits, so the range holds it");
            let len = (end - start) as usize;
            plan.push(SegmentRange { segment: index, position: start, len });
            planned_bytes += len;
            if !to_segment_end {
                break;
            }
            index += 1;
            from_offset = segment.next_offset();
        }
        Ok(plan)
    }
}
