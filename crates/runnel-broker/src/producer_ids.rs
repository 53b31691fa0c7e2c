//! Allocation of producer ids for InitProducerId.
//!
//! Ids are handed out in blocks, as Kafka's ProducerIdManager does: the end of the current
//! block is persisted before any id in it is used, so a restart (clean or not) continues
//! after the block and never hands out an id twice.

use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use crate::durable_file::{read_if_exists, write_atomically};

/// Ids reserved per write of the block file.
pub const PRODUCER_ID_BLOCK_SIZE: i64 = 1000;
const FILE_NAME: &str = "producer-id-block";

#[derive(Debug)]
pub struct ProducerIdAllocator {
    path: PathBuf,
    state: Mutex<Block>,
}

#[derive(Debug)]
struct Block {
    next: i64,
    end: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum ProducerIdError {
    #[error("cannot persist the producer id block in {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} does not hold a producer id: {content:?}")]
    Invalid { path: PathBuf, content: String },
}

impl ProducerIdAllocator {
    pub fn open(log_dir: &Path) -> Result<Self, ProducerIdError> {
        let path = log_dir.join(FILE_NAME);
        let io = |source| ProducerIdError::Io { path: path.clone(), source };
        let end = match read_if_exists(&path).map_err(io)? {
            None => 0,
            Some(bytes) => {
                let content = String::from_utf8_lossy(&bytes).trim().to_string();
                content
                    .parse::<i64>()
                    .ok()
                    .filter(|end| *end >= 0)
                    .ok_or_else(|| ProducerIdError::Invalid { path: path.clone(), content })?
            }
        };
        Ok(Self { path, state: Mutex::new(Block { next: end, end }) })
    }

    /// A producer id never handed out before, by this broker or an earlier run of it.
    pub fn allocate(&self) -> Result<i64, ProducerIdError> {
        let mut block = self.state.lock();
        if block.next == block.end {
            let end = block.end + PRODUCER_ID_BLOCK_SIZE;
            write_atomically(&self.path, end.to_string().as_bytes())
                .map_err(|source| ProducerIdError::Io { path: self.path.clone(), source })?;
            block.end = end;
        }
        let id = block.next;
        block.next += 1;
        assert!(block.next <= block.end);
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let first = ProducerIdAllocator::open(dir.path()).unwrap();
        let a = first.allocate().unwrap();
        let b = first.allocate().unwrap();
        assert_ne!(a, b);
        drop(first);
        let second = ProducerIdAllocator::open(dir.path()).unwrap();
        let c = second.allocate().unwrap();
        assert!(c > b, "{c} must follow {b}");
    }

    #[test]
    fn corrupt_block_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "garbage").unwrap();
        assert!(ProducerIdAllocator::open(dir.path()).is_err());
    }
}
