//! Which partitions the consumer reads and where it is in each: Kafka's `SubscriptionState`.
//!
//! Owns: the subscription mode (topics through the group, or partitions assigned by hand),
//! the assigned partitions, and each partition's fetch state: waiting for its committed
//! offset, waiting for an offset reset, or fetching from a known position. The position is
//! the offset of the next record `poll()` will return; it moves only when records are
//! handed out or on seek/reset, so "commit the positions" commits exactly what the
//! application has seen. Pure state: no network, no clock.

use std::collections::{BTreeMap, BTreeSet};

use super::record::TopicPartition;
use crate::error::{Error, Result};

/// How the partitions were chosen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    None,
    /// `subscribe(topics)`: the group assigns partitions of these topics.
    Topics(BTreeSet<String>),
    /// `assign(partitions)`: no group membership.
    Manual,
}

/// Where a partition's next offset comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetTarget {
    Earliest,
    Latest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FetchState {
    /// Needs the group's committed offset (or the reset policy when there is none).
    Initializing,
    AwaitReset(ResetTarget),
    Fetching { position: i64, leader_epoch: Option<i32> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartitionState {
    pub fetch: FetchState,
    pub paused: bool,
    pub high_watermark: Option<i64>,
}

impl PartitionState {
    fn new() -> PartitionState {
        PartitionState { fetch: FetchState::Initializing, paused: false, high_watermark: None }
    }
}

#[derive(Debug, Default)]
pub(crate) struct SubscriptionState {
    mode: Mode,
    assignment: BTreeMap<TopicPartition, PartitionState>,
}

impl SubscriptionState {
    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    pub fn subscribed_topics(&self) -> Option<&BTreeSet<String>> {
        match &self.mode {
            Mode::Topics(topics) => Some(topics),
            _ => None,
        }
    }

    /// Subscribes to `topics`. Kafka forbids mixing with manual assignment.
    pub fn subscribe(&mut self, topics: BTreeSet<String>) -> Result<()> {
        if self.mode == Mode::Manual {
            return Err(Error::Config("subscribe() after assign(): call unsubscribe() first".into()));
        }
        if let Some(empty) = topics.iter().find(|t| t.trim().is_empty()) {
            return Err(Error::Config(format!("topic name {empty:?} is not valid")));
        }
        self.mode = Mode::Topics(topics);
        Ok(())
    }

    /// Assigns partitions by hand; partitions kept from the previous assignment keep their
    /// positions, as Java's `assignFromUser` does.
    pub fn assign_manual(&mut self, partitions: BTreeSet<TopicPartition>) -> Result<()> {
        if matches!(self.mode, Mode::Topics(_)) {
            return Err(Error::Config("assign() after subscribe(): call unsubscribe() first".into()));
        }
        if let Some(bad) = partitions.iter().find(|tp| tp.topic.trim().is_empty() || tp.partition < 0) {
            return Err(Error::Config(format!("cannot assign {bad}")));
        }
        self.mode = if partitions.is_empty() { Mode::None } else { Mode::Manual };
        self.set_assignment(partitions);
        Ok(())
    }

    /// Applies the group's assignment (after the eager protocol revoked everything).
    pub fn assign_from_group(&mut self, partitions: BTreeSet<TopicPartition>) {
        self.set_assignment(partitions);
    }

    fn set_assignment(&mut self, partitions: BTreeSet<TopicPartition>) {
        let mut previous = std::mem::take(&mut self.assignment);
        self.assignment =
            partitions.into_iter().map(|tp| (tp.clone(), previous.remove(&tp).unwrap_or_else(PartitionState::new))).collect();
    }

    pub fn unsubscribe(&mut self) {
        self.mode = Mode::None;
        self.assignment.clear();
    }

    pub fn assigned(&self) -> BTreeSet<TopicPartition> {
        self.assignment.keys().cloned().collect()
    }

    pub fn is_assigned(&self, tp: &TopicPartition) -> bool {
        self.assignment.contains_key(tp)
    }

    pub(crate) fn state(&self, tp: &TopicPartition) -> Option<&PartitionState> {
        self.assignment.get(tp)
    }

    fn state_mut(&mut self, tp: &TopicPartition) -> Result<&mut PartitionState> {
        self.assignment.get_mut(tp).ok_or_else(|| Error::Config(format!("partition {tp} is not assigned to this consumer")))
    }

    /// The position, when known.
    pub fn position(&self, tp: &TopicPartition) -> Option<i64> {
        match self.assignment.get(tp)?.fetch {
            FetchState::Fetching { position, .. } => Some(position),
            _ => None,
        }
    }

    pub fn seek(&mut self, tp: &TopicPartition, offset: i64, leader_epoch: Option<i32>) -> Result<()> {
        if offset < 0 {
            return Err(Error::Config(format!("seek offset must not be negative, got {offset} for {tp}")));
        }
        self.state_mut(tp)?.fetch = FetchState::Fetching { position: offset, leader_epoch };
        Ok(())
    }

    pub fn request_reset(&mut self, tp: &TopicPartition, target: ResetTarget) -> Result<()> {
        self.state_mut(tp)?.fetch = FetchState::AwaitReset(target);
        Ok(())
    }

    /// Moves the position forward after records were handed out or skipped (control batches).
    /// Does nothing when the partition was revoked or repositioned meanwhile.
    pub fn advance(&mut self, tp: &TopicPartition, from: i64, to: i64, leader_epoch: Option<i32>) -> bool {
        let Some(state) = self.assignment.get_mut(tp) else { return false };
        if let FetchState::Fetching { position, leader_epoch: epoch } = &mut state.fetch {
            if *position == from && to >= from {
                *position = to;
                if leader_epoch.is_some() {
                    *epoch = leader_epoch;
                }
                return true;
            }
        }
        false
    }

    pub fn set_high_watermark(&mut self, tp: &TopicPartition, high_watermark: i64) {
        if let Some(state) = self.assignment.get_mut(tp) {
            state.high_watermark = Some(high_watermark);
        }
    }

    pub fn pause(&mut self, tp: &TopicPartition) -> Result<()> {
        self.state_mut(tp)?.paused = true;
        Ok(())
    }

    pub fn resume(&mut self, tp: &TopicPartition) -> Result<()> {
        self.state_mut(tp)?.paused = false;
        Ok(())
    }

    pub fn paused(&self) -> BTreeSet<TopicPartition> {
        self.assignment.iter().filter(|(_, s)| s.paused).map(|(tp, _)| tp.clone()).collect()
    }

    /// Partitions waiting for their committed offset.
    pub fn initializing(&self) -> Vec<TopicPartition> {
        self.matching(|s| s.fetch == FetchState::Initializing)
    }

    /// Partitions waiting for a reset, with where to.
    pub fn awaiting_reset(&self) -> Vec<(TopicPartition, ResetTarget)> {
        self.assignment
            .iter()
            .filter_map(|(tp, s)| match s.fetch {
                FetchState::AwaitReset(target) => Some((tp.clone(), target)),
                _ => None,
            })
            .collect()
    }

    /// Partitions that may be fetched now, with their positions.
    pub fn fetchable(&self) -> Vec<(TopicPartition, i64)> {
        self.assignment
            .iter()
            .filter(|(_, s)| !s.paused)
            .filter_map(|(tp, s)| match s.fetch {
                FetchState::Fetching { position, .. } => Some((tp.clone(), position)),
                _ => None,
            })
            .collect()
    }

    /// The positions of every partition that has one: what auto-commit and `commit()` store.
    pub fn all_consumed(&self) -> BTreeMap<TopicPartition, (i64, Option<i32>)> {
        self.assignment
            .iter()
            .filter_map(|(tp, s)| match s.fetch {
                FetchState::Fetching { position, leader_epoch } => Some((tp.clone(), (position, leader_epoch))),
                _ => None,
            })
            .collect()
    }

    fn matching(&self, keep: impl Fn(&PartitionState) -> bool) -> Vec<TopicPartition> {
        self.assignment.iter().filter(|(_, s)| keep(s)).map(|(tp, _)| tp.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("t", p)
    }

    fn set(ps: &[i32]) -> BTreeSet<TopicPartition> {
        ps.iter().map(|p| tp(*p)).collect()
    }

    #[test]
    fn new_partitions_start_initializing_then_fetch_after_seek() {
        let mut state = SubscriptionState::default();
        state.assign_manual(set(&[0, 1])).unwrap();
        assert_eq!(state.initializing(), vec![tp(0), tp(1)]);
        assert!(state.fetchable().is_empty());
        state.seek(&tp(0), 5, None).unwrap();
        state.request_reset(&tp(1), ResetTarget::Earliest).unwrap();
        assert_eq!(state.fetchable(), vec![(tp(0), 5)]);
        assert_eq!(state.awaiting_reset(), vec![(tp(1), ResetTarget::Earliest)]);
        assert_eq!(state.all_consumed(), BTreeMap::from([(tp(0), (5, None))]));
    }

    #[test]
    fn manual_reassignment_keeps_positions_of_kept_partitions() {
        let mut state = SubscriptionState::default();
        state.assign_manual(set(&[0, 1])).unwrap();
        state.seek(&tp(0), 7, None).unwrap();
        state.assign_manual(set(&[0, 2])).unwrap();
        assert_eq!(state.position(&tp(0)), Some(7));
        assert_eq!(state.position(&tp(2)), None);
        assert!(!state.is_assigned(&tp(1)));
    }

    #[test]
    fn advance_only_moves_from_the_expected_position() {
        let mut state = SubscriptionState::default();
        state.assign_manual(set(&[0])).unwrap();
        state.seek(&tp(0), 10, None).unwrap();
        assert!(state.advance(&tp(0), 10, 13, Some(2)));
        assert_eq!(state.all_consumed()[&tp(0)], (13, Some(2)));
        // A fetch answered for the old position (the app seeked meanwhile) is stale.
        assert!(!state.advance(&tp(0), 10, 20, None));
        assert_eq!(state.position(&tp(0)), Some(13));
        assert!(!state.advance(&tp(9), 0, 1, None));
    }

    #[test]
    fn subscribe_and_assign_do_not_mix() {
        let mut state = SubscriptionState::default();
        state.subscribe(["a".to_string()].into()).unwrap();
        assert!(state.assign_manual(set(&[0])).is_err());
        state.unsubscribe();
        state.assign_manual(set(&[0])).unwrap();
        assert!(state.subscribe(["a".to_string()].into()).is_err());
        state.assign_manual(BTreeSet::new()).unwrap();
        state.subscribe(["a".to_string()].into()).unwrap();
    }

    #[test]
    fn group_assignment_replaces_everything_and_seek_needs_assignment() {
        let mut state = SubscriptionState::default();
        state.subscribe(["t".to_string()].into()).unwrap();
        state.assign_from_group(set(&[1]));
        assert!(state.seek(&tp(0), 1, None).is_err());
        assert!(state.seek(&tp(1), -1, None).is_err());
        state.pause(&tp(1)).unwrap();
        state.seek(&tp(1), 1, None).unwrap();
        assert!(state.fetchable().is_empty());
        state.resume(&tp(1)).unwrap();
        assert_eq!(state.fetchable(), vec![(tp(1), 1)]);
    }
}
