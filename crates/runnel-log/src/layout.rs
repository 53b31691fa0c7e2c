//! The partition directory's file names and its small metadata files.
//!
//! ```text
//! 00000000000000000000.log        record batches, byte-exact, base offset in the name
//! 00000000000000000000.index      offset index: (relative_offset: i32, position: i32) BE
//! 00000000000000000000.timeindex  time index: (timestamp: i64, relative_offset: i32) BE
//! 00000000000000001234.snapshot   producer state as of offset 1234 (see producer.rs)
//! partition.checkpoint            log start offset + recovery point (below)
//! .clean-shutdown                 present only between close() and the next open()
//! *.tmp                           a metadata file being replaced; deleted on open
//! ```
//!
//! `partition.checkpoint` (26 bytes, big-endian): magic `RNCK`, version u16 = 1,
//! log_start_offset i64, recovery_point i64, CRC-32C u32 of the 22 bytes before it.
//! Every metadata file is replaced atomically: write `<name>.tmp`, sync it, rename it over
//! `<name>`, sync the directory.

use std::io;
use std::path::Path;

use crate::storage::Storage;

pub const LOG_SUFFIX: &str = ".log";
pub const INDEX_SUFFIX: &str = ".index";
pub const TIME_INDEX_SUFFIX: &str = ".timeindex";
pub const SNAPSHOT_SUFFIX: &str = ".snapshot";
pub const TMP_SUFFIX: &str = ".tmp";
pub const CHECKPOINT_FILE: &str = "partition.checkpoint";
pub const CLEAN_SHUTDOWN_FILE: &str = ".clean-shutdown";

/// Digits in a segment or snapshot file name, as Kafka pads them.
const OFFSET_DIGITS: usize = 20;
const CHECKPOINT_MAGIC: &[u8; 4] = b"RNCK";
const CHECKPOINT_VERSION: u16 = 1;
const CHECKPOINT_BYTES: usize = 26;

/// `00000000000000001234.log` for offset 1234 and suffix `.log`.
pub fn offset_file_name(offset: i64, suffix: &str) -> String {
    format!("{offset:0width$}{suffix}", width = OFFSET_DIGITS)
}

/// The offset in a name made by [`offset_file_name`] with this suffix, else `None`.
pub fn parse_offset_file_name(name: &str, suffix: &str) -> Option<i64> {
    let digits = name.strip_suffix(suffix)?;
    if digits.len() != OFFSET_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// What `partition.checkpoint` records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    pub log_start_offset: i64,
    /// Every offset below this is on disk (synced), with its segment's indexes.
    pub recovery_point: i64,
}

impl Checkpoint {
    pub fn encode(&self) -> [u8; CHECKPOINT_BYTES] {
        let mut out = [0u8; CHECKPOINT_BYTES];
        out[0..4].copy_from_slice(CHECKPOINT_MAGIC);
        out[4..6].copy_from_slice(&CHECKPOINT_VERSION.to_be_bytes());
        out[6..14].copy_from_slice(&self.log_start_offset.to_be_bytes());
        out[14..22].copy_from_slice(&self.recovery_point.to_be_bytes());
        let crc = crc32c::crc32c(&out[..22]);
        out[22..26].copy_from_slice(&crc.to_be_bytes());
        out
    }

    /// `None` unless the bytes are exactly a checkpoint with a matching CRC.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != CHECKPOINT_BYTES || &bytes[0..4] != CHECKPOINT_MAGIC {
            return None;
        }
        let version = u16::from_be_bytes(bytes[4..6].try_into().ok()?);
        let crc = u32::from_be_bytes(bytes[22..26].try_into().ok()?);
        if version != CHECKPOINT_VERSION || crc != crc32c::crc32c(&bytes[..22]) {
            return None;
        }
        Some(Self {
            log_start_offset: i64::from_be_bytes(bytes[6..14].try_into().ok()?),
            recovery_point: i64::from_be_bytes(bytes[14..22].try_into().ok()?),
        })
    }
}

/// Reads a whole file; `None` when it does not exist.
pub fn read_file(storage: &dyn Storage, path: &Path) -> io::Result<Option<Vec<u8>>> {
    let file = match storage.open_file(path, false) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let len = usize::try_from(file.len()?).map_err(|_| io::Error::other("file too large"))?;
    let mut bytes = vec![0u8; len];
    file.read_exact_at(&mut bytes, 0)?;
    Ok(Some(bytes))
}

/// Replaces `dir/name` with `bytes` so that a crash leaves either the old or the new file.
pub fn write_file_atomically(storage: &dyn Storage, dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!("{name}{TMP_SUFFIX}"));
    let mut file = storage.open_file(&tmp, true)?;
    file.truncate(0)?;
    file.write_all_at(bytes, 0)?;
    file.sync()?;
    drop(file);
    storage.rename(&tmp, &dir.join(name))?;
    storage.sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_twenty_digits_and_parse_back() {
        let name = offset_file_name(1234, LOG_SUFFIX);
        assert_eq!(name, "00000000000000001234.log");
        assert_eq!(parse_offset_file_name(&name, LOG_SUFFIX), Some(1234));
        assert_eq!(parse_offset_file_name(&name, INDEX_SUFFIX), None);
        assert_eq!(parse_offset_file_name("1234.log", LOG_SUFFIX), None);
        assert_eq!(parse_offset_file_name("0000000000000000123x.log", LOG_SUFFIX), None);
    }

    #[test]
    fn checkpoint_round_trips_and_rejects_any_flipped_byte() {
        let checkpoint = Checkpoint { log_start_offset: 7, recovery_point: 99 };
        let bytes = checkpoint.encode();
        assert_eq!(Checkpoint::decode(&bytes), Some(checkpoint));
        for i in 0..bytes.len() {
            let mut bad = bytes;
            bad[i] ^= 0x01;
            assert_eq!(Checkpoint::decode(&bad), None, "flip at byte {i}");
        }
        assert_eq!(Checkpoint::decode(&bytes[..25]), None);
    }
}
