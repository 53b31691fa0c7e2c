//! The persisted list of topics: `topics.json` in the log directory.
//!
//! Partition data lives in `<topic>-<partition>` directories beside it, in Kafka's layout;
//! this file is what says which of those directories are topics. It is rewritten
//! atomically on every change, before partition directories are removed and after new
//! ones are created, so a crash leaves at worst a stray directory, never a topic whose
//! partitions are missing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::durable_file::{read_if_exists, write_atomically};

pub const TOPICS_FILE_NAME: &str = "topics.json";
const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredTopic {
    pub name: String,
    pub id: Uuid,
    pub partitions: i32,
    #[serde(default)]
    pub configs: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct TopicsFile {
    version: u32,
    topics: Vec<StoredTopic>,
}

#[derive(Debug)]
pub struct TopicStore {
    path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum TopicStoreError {
    #[error("cannot read or write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a valid topics file: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

impl TopicStore {
    pub fn new(log_dir: &Path) -> Self {
        Self { path: log_dir.join(TOPICS_FILE_NAME) }
    }

    pub fn load(&self) -> Result<Vec<StoredTopic>, TopicStoreError> {
        let io = |source| TopicStoreError::Io { path: self.path.clone(), source };
        let Some(bytes) = read_if_exists(&self.path).map_err(io)? else {
            return Ok(Vec::new());
        };
        let invalid = |reason: String| TopicStoreError::Invalid { path: self.path.clone(), reason };
        let file: TopicsFile = serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
        if file.version != FORMAT_VERSION {
            return Err(invalid(format!("unsupported version {}", file.version)));
        }
        Ok(file.topics)
    }

    pub fn save(&self, topics: &[StoredTopic]) -> Result<(), TopicStoreError> {
        let file = TopicsFile { version: FORMAT_VERSION, topics: topics.to_vec() };
        let bytes = serde_json::to_vec_pretty(&file).expect("topics serialize");
        write_atomically(&self.path, &bytes).map_err(|source| TopicStoreError::Io { path: self.path.clone(), source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_round_trip_and_absent_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let store = TopicStore::new(dir.path());
        assert!(store.load().unwrap().is_empty());
        let topic = StoredTopic {
            name: "t".into(),
            id: Uuid::new_v4(),
            partitions: 3,
            configs: [("retention.ms".to_string(), "1000".to_string())].into(),
        };
        store.save(std::slice::from_ref(&topic)).unwrap();
        assert_eq!(store.load().unwrap(), vec![topic]);
    }

    #[test]
    fn corrupt_topics_file_is_an_error_not_an_empty_broker() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(TOPICS_FILE_NAME), b"{not json").unwrap();
        assert!(matches!(TopicStore::new(dir.path()).load(), Err(TopicStoreError::Invalid { .. })));
    }
}
