//! `meta.properties` in the log directory: the cluster id and node id this data belongs to.
//!
//! Kafka writes the same file; keeping its name and keys lets an operator read it the same
//! way. A log directory formatted for another node id is refused rather than mixed.

use std::path::Path;

use crate::durable_file::{read_if_exists, write_atomically};

pub const META_FILE_NAME: &str = "meta.properties";

#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("cannot read or write {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path} belongs to node.id {found}, but this broker is node.id {configured}")]
    NodeMismatch { path: String, found: String, configured: i32 },
    #[error("{path} has no cluster.id")]
    MissingClusterId { path: String },
}

/// Returns the cluster id stored in `log_dir`, creating the file with a new id if absent.
pub fn load_or_create(log_dir: &Path, node_id: i32) -> Result<String, MetaError> {
    let path = log_dir.join(META_FILE_NAME);
    let shown = path.display().to_string();
    let io = |source| MetaError::Io { path: shown.clone(), source };
    if let Some(bytes) = read_if_exists(&path).map_err(io)? {
        let text = String::from_utf8_lossy(&bytes);
        let value = |key: &str| {
            text.lines()
                .filter_map(|line| line.split_once('='))
                .find(|(k, _)| k.trim() == key)
                .map(|(_, v)| v.trim().to_string())
        };
        if let Some(found) = value("node.id") {
            if found != node_id.to_string() {
                return Err(MetaError::NodeMismatch { path: shown, found, configured: node_id });
            }
        }
        return value("cluster.id").ok_or(MetaError::MissingClusterId { path: shown });
    }
    let cluster_id = new_cluster_id();
    let contents = format!("#Written by Runnel\nversion=1\ncluster.id={cluster_id}\nnode.id={node_id}\n");
    write_atomically(&path, contents.as_bytes()).map_err(io)?;
    Ok(cluster_id)
}

/// A random id in Kafka's format: a UUID as 22 characters of unpadded URL-safe base64.
fn new_cluster_id() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let mut bits: u32 = 0;
    let mut count = 0;
    let mut id = String::with_capacity(22);
    for byte in bytes {
        bits = (bits << 8) | u32::from(byte);
        count += 8;
        while count >= 6 {
            count -= 6;
            id.push(ALPHABET[((bits >> count) & 0x3f) as usize] as char);
        }
    }
    if count > 0 {
        id.push(ALPHABET[((bits << (6 - count)) & 0x3f) as usize] as char);
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_id_is_stable_and_kafka_shaped() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path(), 1).unwrap();
        assert_eq!(first.len(), 22);
        assert_eq!(load_or_create(dir.path(), 1).unwrap(), first);
    }

    #[test]
    fn log_dir_of_another_node_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        load_or_create(dir.path(), 1).unwrap();
        assert!(matches!(load_or_create(dir.path(), 2), Err(MetaError::NodeMismatch { .. })));
    }
}
