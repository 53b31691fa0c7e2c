//! Helpers shared by the integration tests: a partition directory on either storage, small
//! configs, batch builders and a reader that checks everything it reads back.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use runnel_log::{AppendOutcome, FileStorage, LogConfig, MemStorage, PartitionLog, Storage};
use runnel_protocol::batch::{split_batches, testing, validate_batch, BatchHeader};

/// A partition directory on one storage.
pub struct TestDir {
    pub storage: Arc<dyn Storage>,
    pub dir: PathBuf,
    pub mem: Option<MemStorage>,
    pub name: &'static str,
    _tmp: Option<tempfile::TempDir>,
}

impl TestDir {
    pub fn file() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("topic-0");
        Self { storage: Arc::new(FileStorage::new()), dir, mem: None, name: "file", _tmp: Some(tmp) }
    }

    pub fn mem() -> Self {
        let mem = MemStorage::new();
        Self { storage: Arc::new(mem.clone()), dir: PathBuf::from("/data/topic-0"), mem: Some(mem), name: "mem", _tmp: None }
    }

    pub fn open(&self, config: &LogConfig, now_ms: i64) -> PartitionLog {
        PartitionLog::open(self.storage.clone(), &self.dir, config.clone(), now_ms).expect("open log")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Reads a whole file through the storage.
    pub fn read(&self, name: &str) -> Vec<u8> {
        let file = self.storage.open_file(&self.path(name), false).expect("open file");
        let mut bytes = vec![0u8; file.len().unwrap() as usize];
        file.read_exact_at(&mut bytes, 0).unwrap();
        bytes
    }

    /// Appends raw bytes to a file through the storage (and syncs them).
    pub fn append_raw(&self, name: &str, bytes: &[u8]) {
        let mut file = self.storage.open_file(&self.path(name), false).expect("open file");
        let len = file.len().unwrap();
        file.write_all_at(bytes, len).unwrap();
        file.sync().unwrap();
    }

    /// Overwrites bytes at `at` in a file through the storage (and syncs them).
    pub fn overwrite(&self, name: &str, at: u64, bytes: &[u8]) {
        let mut file = self.storage.open_file(&self.path(name), false).expect("open file");
        file.write_all_at(bytes, at).unwrap();
        file.sync().unwrap();
    }

    pub fn names(&self) -> Vec<String> {
        let mut names = self.storage.list_dir(&self.dir).unwrap();
        names.sort();
        names
    }

    /// Simulates a power loss on memory storage; on files, what was written stays.
    pub fn crash(&self) {
        if let Some(mem) = &self.mem {
            mem.crash();
        }
    }
}

/// Runs `f` once on a temporary directory and once in memory.
pub fn each_storage(f: impl Fn(&TestDir)) {
    f(&TestDir::file());
    f(&TestDir::mem());
}

/// Small segments and a dense index so few batches exercise rolls and lookups.
pub fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 1_000,
        index_interval_bytes: 100,
        retention_ms: -1,
        retention_bytes: -1,
        ..LogConfig::default()
    }
}

pub fn plain(records: i32, value_bytes: usize, timestamp_ms: i64) -> Vec<u8> {
    testing::plain_batch(records, value_bytes, timestamp_ms)
}

pub fn idempotent(producer_id: i64, epoch: i16, first_seq: i32, records: i32) -> Vec<u8> {
    testing::batch(records, 8, 1_000, producer_id, epoch, first_seq)
}

/// Appends `batch`; returns the outcome and, when it was appended, the bytes the log must
/// now hold for it: `batch` with the base offset (and LogAppendTime) the log gave its copy.
pub fn append(log: &mut PartitionLog, batch: &[u8], now_ms: i64) -> (AppendOutcome, Vec<u8>) {
    let outcome = log.append(batch, now_ms).expect("append");
    (outcome, as_stored(batch, outcome))
}

/// The bytes the log holds for `batch` after `outcome`: the batch with the base offset (and
/// LogAppendTime) the log gave its copy; unchanged when it was not appended.
pub fn as_stored(batch: &[u8], outcome: AppendOutcome) -> Vec<u8> {
    let mut bytes = batch.to_vec();
    if let AppendOutcome::Appended { base_offset, log_append_time_ms, .. } = outcome {
        runnel_protocol::batch::set_base_offset(&mut bytes, base_offset);
        if let Some(timestamp_ms) = log_append_time_ms {
            runnel_protocol::batch::set_log_append_time(&mut bytes, timestamp_ms);
        }
    }
    bytes
}

pub fn base_of(outcome: AppendOutcome) -> i64 {
    match outcome {
        AppendOutcome::Appended { base_offset, .. } | AppendOutcome::Duplicate { base_offset, .. } => base_offset,
    }
}

/// Reads the whole log in small fetches and checks what a consumer relies on: only whole,
/// valid batches, offsets contiguous from the log start to the log end.
pub fn read_all(log: &PartitionLog) -> Vec<Vec<u8>> {
    let mut batches = Vec::new();
    let mut offset = log.log_start_offset();
    let end = log.log_end_offset();
    while offset < end {
        let read = log.read(offset, 700, i64::MAX, true).expect("read");
        assert!(!read.bytes.is_empty(), "empty read at {offset} below the log end {end}");
        let (ranges, whole) = split_batches(&read.bytes);
        assert_eq!(whole, read.bytes.len(), "a read returned a partial batch");
        for range in ranges {
            let header = validate_batch(&read.bytes[range.clone()]).expect("served batch is valid");
            assert_eq!(header.base_offset, offset, "offsets are contiguous");
            offset = header.last_offset() + 1;
            batches.push(read.bytes[range].to_vec());
        }
    }
    assert_eq!(offset, end);
    batches
}

pub fn header(bytes: &[u8]) -> BatchHeader {
    BatchHeader::parse(bytes).unwrap()
}
