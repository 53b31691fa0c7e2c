//! Committed offsets by group, topic and partition (Kafka's `OffsetMetadataManager.Offsets`).
//! Kept apart from the groups: a group's offsets outlive its members, and a group can be
//! deleted only after its offsets are.

use std::collections::BTreeMap;

use crate::record::OffsetCommitValue;

pub(crate) type TopicOffsets = BTreeMap<String, BTreeMap<i32, OffsetCommitValue>>;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct OffsetStore {
    by_group: BTreeMap<String, TopicOffsets>,
}

impl OffsetStore {
    pub fn get(&self, group_id: &str, topic: &str, partition: i32) -> Option<&OffsetCommitValue> {
        self.by_group.get(group_id)?.get(topic)?.get(&partition)
    }

    pub fn group(&self, group_id: &str) -> Option<&TopicOffsets> {
        self.by_group.get(group_id)
    }

    pub fn put(&mut self, group_id: &str, topic: &str, partition: i32, value: OffsetCommitValue) {
        self.by_group
            .entry(group_id.to_owned())
            .or_default()
            .entry(topic.to_owned())
            .or_default()
            .insert(partition, value);
    }

    /// Removes the offset, and the topic and group entries it leaves empty.
    pub fn remove(&mut self, group_id: &str, topic: &str, partition: i32) {
        let Some(topics) = self.by_group.get_mut(group_id) else { return };
        if let Some(partitions) = topics.get_mut(topic) {
            partitions.remove(&partition);
            if partitions.is_empty() {
                topics.remove(topic);
            }
        }
        if topics.is_empty() {
            self.by_group.remove(group_id);
        }
    }

    pub fn len(&self) -> usize {
        self.by_group.values().flat_map(|t| t.values()).map(BTreeMap::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(offset: i64) -> OffsetCommitValue {
        OffsetCommitValue {
            offset,
            leader_epoch: -1,
            metadata: String::new(),
            commit_timestamp_ms: 0,
            expire_timestamp_ms: -1,
        }
    }

    #[test]
    fn removing_the_last_offset_removes_the_group_entry() {
        let mut store = OffsetStore::default();
        store.put("g", "t", 0, value(1));
        store.put("g", "t", 1, value(2));
        assert_eq!(store.get("g", "t", 1).map(|v| v.offset), Some(2));
        store.remove("g", "t", 0);
        assert!(store.group("g").is_some());
        store.remove("g", "t", 1);
        assert!(store.group("g").is_none());
        assert_eq!(store.len(), 0);
        store.remove("absent", "t", 0);
    }
}
