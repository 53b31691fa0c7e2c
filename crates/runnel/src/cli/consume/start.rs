//! Putting each partition at its starting offset.
//!
//! Owns: seeking a set of partitions to an [`OffsetSpec`] (looking up log start and end
//! offsets, or offsets by time), and, for a group, applying the spec to the partitions the
//! group assigns that have no committed offset. Committed offsets win, as they do for
//! kafka-console-consumer's `--from-beginning` and rpk's `--offset` with a group.
//!
//! The consumer looks up positions inside the same `poll()` that completes a rebalance, so
//! a group's partitions cannot be positioned before their first fetch. Instead the
//! rebalance listener notes the new partitions; after that `poll()` returns, those without
//! a commit are sought to the spec and the records it fetched for them are dropped unseen
//! (the seek fetches them again when the spec asks for them). No commit can slip in
//! between: auto-commit runs at the start of a `poll()`, and the first one after a
//! rebalance is an auto-commit interval away.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use runnel_client::consumer::{Consumer, ConsumerRecord, RebalanceListener, TopicPartition};

use super::offset::OffsetSpec;

/// Seeks every partition in `partitions` to `spec`.
pub async fn seek_all(consumer: &mut Consumer, partitions: &[TopicPartition], spec: OffsetSpec) -> anyhow::Result<()> {
    // The consumer's seek_to_* read an empty list as "every assigned partition".
    if partitions.is_empty() {
        return Ok(());
    }
    match spec {
        OffsetSpec::Start => consumer.seek_to_beginning(partitions)?,
        OffsetSpec::End => consumer.seek_to_end(partitions)?,
        OffsetSpec::Absolute(_) | OffsetSpec::FromEnd(_) => {
            let starts = consumer.beginning_offsets(partitions).await.context("looking up log start offsets")?;
            let ends = consumer.end_offsets(partitions).await.context("looking up log end offsets")?;
            for tp in partitions {
                let (Some(&start), Some(&end)) = (starts.get(tp), ends.get(tp)) else {
                    anyhow::bail!("no offsets found for partition {tp}");
                };
                consumer.seek(tp, offset_within(spec, start, end))?;
            }
        }
        OffsetSpec::Timestamp(timestamp_ms) => {
            // A duration reaching back before 1970 means "everything".
            let targets: BTreeMap<TopicPartition, i64> =
                partitions.iter().map(|tp| (tp.clone(), timestamp_ms.max(0))).collect();
            let found = consumer.offsets_for_times(&targets).await.context("looking up offsets by timestamp")?;
            let mut past_the_end = Vec::new();
            for tp in partitions {
                match found.get(tp).copied().flatten() {
                    Some(at) => consumer.seek(tp, at.offset)?,
                    None => past_the_end.push(tp.clone()),
                }
            }
            // An empty list would mean every assigned partition (as in Java).
            if !past_the_end.is_empty() {
                consumer.seek_to_end(&past_the_end)?;
            }
        }
    }
    Ok(())
}

/// The offset `spec` names in a partition whose log spans [start, end).
pub fn offset_within(spec: OffsetSpec, start: i64, end: i64) -> i64 {
    let end = end.max(start);
    match spec {
        OffsetSpec::Absolute(offset) => offset.clamp(start, end),
        OffsetSpec::FromEnd(back) => end.saturating_sub(back).max(start),
        OffsetSpec::Start => start,
        OffsetSpec::End | OffsetSpec::Timestamp(_) => end,
    }
}

/// For a group: applies a spec that `auto.offset.reset` cannot express to newly assigned
/// partitions without a committed offset.
pub struct GroupStarts {
    spec: OffsetSpec,
    assigned: Arc<Mutex<Vec<TopicPartition>>>,
}

/// The rebalance listener half of [`GroupStarts`].
pub struct NoteAssigned(Arc<Mutex<Vec<TopicPartition>>>);

impl RebalanceListener for NoteAssigned {
    fn on_partitions_revoked(&mut self, _partitions: &[TopicPartition]) {}

    fn on_partitions_assigned(&mut self, partitions: &[TopicPartition]) {
        lock(&self.0).extend_from_slice(partitions);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A list of partitions is valid after any push.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl GroupStarts {
    pub fn new(spec: OffsetSpec) -> (GroupStarts, NoteAssigned) {
        let assigned = Arc::new(Mutex::new(Vec::new()));
        (GroupStarts { spec, assigned: assigned.clone() }, NoteAssigned(assigned))
    }

    /// Positions the partitions assigned since the last call that have no committed offset,
    /// and returns `records` without the ones fetched for them.
    pub async fn apply(
        &self,
        consumer: &mut Consumer,
        mut records: Vec<ConsumerRecord>,
    ) -> anyhow::Result<Vec<ConsumerRecord>> {
        let noted: Vec<TopicPartition> = std::mem::take(&mut *lock(&self.assigned));
        if noted.is_empty() {
            return Ok(records);
        }
        let owned = consumer.assignment();
        let fresh: Vec<TopicPartition> =
            noted.into_iter().collect::<BTreeSet<_>>().into_iter().filter(|tp| owned.contains(tp)).collect();
        if fresh.is_empty() {
            return Ok(records);
        }
        let committed = consumer.committed(&fresh).await.context("fetching the group's committed offsets")?;
        let uncommitted: Vec<TopicPartition> =
            fresh.into_iter().filter(|tp| committed.get(tp).is_none_or(Option::is_none)).collect();
        seek_all(consumer, &uncommitted, self.spec).await?;
        let dropped: BTreeSet<&TopicPartition> = uncommitted.iter().collect();
        records.retain(|r| !dropped.contains(&TopicPartition::new(r.topic.clone(), r.partition)));
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_offsets_are_clamped_to_the_log() {
        assert_eq!(offset_within(OffsetSpec::Absolute(5), 0, 10), 5);
        assert_eq!(offset_within(OffsetSpec::Absolute(50), 0, 10), 10);
        assert_eq!(offset_within(OffsetSpec::Absolute(2), 4, 10), 4);
    }

    #[test]
    fn from_end_stops_at_the_log_start() {
        assert_eq!(offset_within(OffsetSpec::FromEnd(3), 0, 10), 7);
        assert_eq!(offset_within(OffsetSpec::FromEnd(30), 4, 10), 4);
        assert_eq!(offset_within(OffsetSpec::FromEnd(0), 0, 10), 10);
        assert_eq!(offset_within(OffsetSpec::FromEnd(i64::MAX), 0, 10), 0);
    }

    #[test]
    fn the_assignment_listener_collects_partitions() {
        let (starts, mut listener) = GroupStarts::new(OffsetSpec::FromEnd(1));
        listener.on_partitions_revoked(&[]);
        listener.on_partitions_assigned(&[TopicPartition::new("t", 0), TopicPartition::new("t", 1)]);
        assert_eq!(lock(&starts.assigned).len(), 2);
    }
}
