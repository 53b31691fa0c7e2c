//! The cleaner checkpoint: the first offset compaction has not deduplicated yet (Kafka's
//! `cleaner-offset-checkpoint` entry, kept per partition here), so a restart does not
//! recompact the whole log.
//!
//! `cleaner.checkpoint` (18 bytes, big-endian): magic `RNCL`, version u16 = 1,
//! first_dirty_offset i64, CRC-32C u32 of the 14 bytes before it. Replaced atomically like
//! every metadata file. A missing or corrupt file means "nothing cleaned yet": the next
//! compaction maps the log from its start, which costs time but never correctness.

use std::io;
use std::path::Path;

use crate::layout::{read_file, write_file_atomically};
use crate::storage::Storage;

/// File name of the cleaner checkpoint inside the partition directory.
pub const CLEANER_CHECKPOINT_FILE: &str = "cleaner.checkpoint";

const MAGIC: &[u8; 4] = b"RNCL";
const VERSION: u16 = 1;
const BYTES: usize = 18;
const CRC_AT: usize = 14;

fn encode(first_dirty_offset: i64) -> [u8; BYTES] {
    let mut out = [0u8; BYTES];
    out[0..4].copy_from_slice(MAGIC);
    out[4..6].copy_from_slice(&VERSION.to_be_bytes());
    out[6..14].copy_from_slice(&first_dirty_offset.to_be_bytes());
    let crc = crc32c::crc32c(&out[..CRC_AT]);
    out[CRC_AT..].copy_from_slice(&crc.to_be_bytes());
    out
}

fn decode(bytes: &[u8]) -> Option<i64> {
    if bytes.len() != BYTES || &bytes[0..4] != MAGIC {
        return None;
    }
    let version = u16::from_be_bytes(bytes[4..6].try_into().ok()?);
    let crc = u32::from_be_bytes(bytes[CRC_AT..].try_into().ok()?);
    if version != VERSION || crc != crc32c::crc32c(&bytes[..CRC_AT]) {
        return None;
    }
    Some(i64::from_be_bytes(bytes[6..14].try_into().ok()?))
}

/// The checkpointed first dirty offset, `None` when absent or corrupt (logged).
pub(crate) fn read_cleaner_checkpoint(storage: &dyn Storage, dir: &Path) -> io::Result<Option<i64>> {
    let Some(bytes) = read_file(storage, &dir.join(CLEANER_CHECKPOINT_FILE))? else { return Ok(None) };
    let decoded = decode(&bytes);
    if decoded.is_none() {
        tracing::warn!(dir = %dir.display(), "ignoring a corrupt {CLEANER_CHECKPOINT_FILE}; the next compaction starts at the log start");
    }
    Ok(decoded)
}

pub(crate) fn write_cleaner_checkpoint(storage: &dyn Storage, dir: &Path, first_dirty_offset: i64) -> io::Result<()> {
    write_file_atomically(storage, dir, CLEANER_CHECKPOINT_FILE, &encode(first_dirty_offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaner_checkpoint_round_trips_and_rejects_any_flipped_byte() {
        let bytes = encode(1234);
        assert_eq!(decode(&bytes), Some(1234));
        for i in 0..bytes.len() {
            let mut bad = bytes;
            bad[i] ^= 0x01;
            assert_eq!(decode(&bad), None, "flip at byte {i}");
        }
        assert_eq!(decode(&bytes[..BYTES - 1]), None);
    }
}
