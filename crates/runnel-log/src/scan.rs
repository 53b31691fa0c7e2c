//! Walking the batches of a segment file: a chunked scanner for recovery and index rebuilds
//! (few large reads, not one per batch), and a single-header read for lookups.

use std::io;

use runnel_protocol::batch::{BatchHeader, BATCH_HEADER_BYTES, BATCH_LENGTH_PREFIX_BYTES};

use crate::storage::StorageFile;

/// Bytes read per refill while scanning a segment.
pub(crate) const SCAN_CHUNK_BYTES: usize = 1 << 20;

/// One step of a scan.
pub(crate) enum Scanned<'b> {
    /// A whole batch (by its length field; its CRC is not checked here).
    Batch { position: u64, header: BatchHeader, bytes: &'b [u8] },
    /// The scan reached its end exactly at a batch boundary.
    End,
    /// From `position` on, the bytes do not hold a whole batch: a torn or garbage tail.
    Incomplete { position: u64, reason: String },
}

/// Reads batches from `start` up to `end` (exclusive) of one file.
pub(crate) struct BatchScanner<'a> {
    file: &'a dyn StorageFile,
    end: u64,
    position: u64,
    buf: Vec<u8>,
    buf_start: u64,
}

impl<'a> BatchScanner<'a> {
    pub fn new(file: &'a dyn StorageFile, start: u64, end: u64) -> Self {
        Self { file, end, position: start, buf: Vec::new(), buf_start: start }
    }

    /// Position of the next batch (the end of the last one returned).
    pub fn position(&self) -> u64 {
        self.position
    }

    fn fill(&mut self, len: usize) -> io::Result<()> {
        let buffered_end = self.buf_start + self.buf.len() as u64;
        if self.position >= self.buf_start && self.position + len as u64 <= buffered_end {
            return Ok(());
        }
        let remaining = self.end - self.position;
        let want = (len.max(SCAN_CHUNK_BYTES) as u64).min(remaining) as usize;
        self.buf.resize(want, 0);
        self.buf_start = self.position;
        self.file.read_exact_at(&mut self.buf, self.position)
    }

    pub fn next_batch(&mut self) -> io::Result<Scanned<'_>> {
        let position = self.position;
        let remaining = self.end.saturating_sub(position);
        if remaining == 0 {
            return Ok(Scanned::End);
        }
        if remaining < BATCH_LENGTH_PREFIX_BYTES as u64 {
            return Ok(Scanned::Incomplete { position, reason: format!("{remaining} trailing bytes") });
        }
        self.fill(BATCH_LENGTH_PREFIX_BYTES)?;
        let at = (position - self.buf_start) as usize;
        let mut raw = [0u8; 4];
        raw.copy_from_slice(&self.buf[at + 8..at + 12]);
        let batch_length = i32::from_be_bytes(raw);
        if batch_length < (BATCH_HEADER_BYTES - BATCH_LENGTH_PREFIX_BYTES) as i32 {
            return Ok(Scanned::Incomplete { position, reason: format!("batch length field {batch_length}") });
        }
        let total = BATCH_LENGTH_PREFIX_BYTES as u64 + batch_length as u64;
        if total > remaining {
            return Ok(Scanned::Incomplete {
                position,
                reason: format!("batch of {total} bytes but {remaining} remain"),
            });
        }
        self.fill(total as usize)?;
        let at = (position - self.buf_start) as usize;
        let bytes = &self.buf[at..at + total as usize];
        let header = match BatchHeader::parse(bytes) {
            Ok(header) => header,
            Err(e) => return Ok(Scanned::Incomplete { position, reason: e.to_string() }),
        };
        self.position = position + total;
        Ok(Scanned::Batch { position, header, bytes })
    }
}

/// Last offset of a batch, saturating: headers read back from disk are not trusted to add up.
pub(crate) fn last_offset(header: &BatchHeader) -> i64 {
    header.base_offset.saturating_add(i64::from(header.last_offset_delta))
}

/// The header of the batch at `position`, which must lie wholly before `end`.
pub(crate) fn read_header_at(file: &dyn StorageFile, position: u64, end: u64) -> io::Result<BatchHeader> {
    let corrupt = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
    if position + BATCH_HEADER_BYTES as u64 > end {
        return Err(corrupt(format!("no whole batch header at position {position} (segment ends at {end})")));
    }
    let mut raw = [0u8; BATCH_HEADER_BYTES];
    file.read_exact_at(&mut raw, position)?;
    let header = BatchHeader::parse(&raw).map_err(|e| corrupt(e.to_string()))?;
    if header.batch_length < (BATCH_HEADER_BYTES - BATCH_LENGTH_PREFIX_BYTES) as i32
        || position + header.total_bytes() as u64 > end
    {
        return Err(corrupt(format!("batch at position {position} overruns the segment end {end}")));
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{MemStorage, Storage};
    use runnel_protocol::batch::testing::plain_batch;
    use std::path::Path;

    #[test]
    fn scanner_yields_whole_batches_then_reports_a_torn_tail() {
        let storage = MemStorage::new();
        storage.create_dir_all(Path::new("/s")).unwrap();
        let mut file = storage.open_file(Path::new("/s/x.log"), true).unwrap();
        let one = plain_batch(2, 5, 0);
        let two = plain_batch(1, 3000, 0);
        let mut all = one.clone();
        all.extend_from_slice(&two);
        all.extend_from_slice(&two[..30]);
        file.write_all_at(&all, 0).unwrap();
        let mut scanner = BatchScanner::new(file.as_ref(), 0, all.len() as u64);
        match scanner.next_batch().unwrap() {
            Scanned::Batch { position, bytes, .. } => assert_eq!((position, bytes), (0, &one[..])),
            _ => panic!("expected the first batch"),
        }
        match scanner.next_batch().unwrap() {
            Scanned::Batch { position, bytes, .. } => assert_eq!((position, bytes.len()), (one.len() as u64, two.len())),
            _ => panic!("expected the second batch"),
        }
        match scanner.next_batch().unwrap() {
            Scanned::Incomplete { position, .. } => assert_eq!(position, (one.len() + two.len()) as u64),
            _ => panic!("expected a torn tail"),
        }
        let whole = (one.len() + two.len()) as u64;
        let mut exact = BatchScanner::new(file.as_ref(), 0, whole);
        assert!(matches!(exact.next_batch().unwrap(), Scanned::Batch { .. }));
        assert!(matches!(exact.next_batch().unwrap(), Scanned::Batch { .. }));
        assert!(matches!(exact.next_batch().unwrap(), Scanned::End));
        assert!(read_header_at(file.as_ref(), 0, whole).is_ok());
        assert!(read_header_at(file.as_ref(), whole, all.len() as u64).is_err());
    }
}
