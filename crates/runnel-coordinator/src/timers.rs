//! A group's timers (Kafka's timer keys for one group): member session deadlines, the join
//! timer and the sync timer, indexed by deadline so `tick` finds what is due in O(log n).

use std::collections::{BTreeMap, BTreeSet};

/// What a timer is for. Kafka uses one key per member for both real and pending members, and
/// so does Runnel.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimerKey {
    /// A member's (or pending member's) session deadline.
    Heartbeat(String),
    /// The join phase's completion (initial delay or rebalance timeout).
    Join,
    /// The wait for every member's SyncGroup.
    Sync,
}

/// The join timer: either Kafka's `InitialDelayedJoin` step or the rebalance timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinTimer {
    pub deadline_ms: i64,
    pub kind: JoinTimerKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinTimerKind {
    /// The first rebalance of an empty group: wait `delay_ms`, then extend while new members
    /// keep arriving, for at most `remaining_ms` more.
    InitialDelay { delay_ms: i32, remaining_ms: i32 },
    /// Complete the join phase, dropping dynamic members that did not rejoin.
    Rebalance,
}

/// The sync timer, armed when the join phase completes; stale if the generation moved on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncTimer {
    pub deadline_ms: i64,
    pub generation_id: i32,
}

/// Deadlines by key, and keys by deadline. Timers with the same deadline fire in the order
/// they were set, as in Kafka's timing wheel (a bucket's tasks run in insertion order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timers {
    by_key: BTreeMap<TimerKey, (i64, u64)>,
    by_deadline: BTreeSet<(i64, u64, TimerKey)>,
    next_sequence: u64,
}

impl Timers {
    pub fn set(&mut self, key: TimerKey, deadline_ms: i64) {
        let sequence = self.next_sequence;
        self.next_sequence = self.next_sequence.wrapping_add(1);
        if let Some((old, old_sequence)) = self.by_key.insert(key.clone(), (deadline_ms, sequence)) {
            self.by_deadline.remove(&(old, old_sequence, key.clone()));
        }
        self.by_deadline.insert((deadline_ms, sequence, key));
    }

    pub fn cancel(&mut self, key: &TimerKey) {
        if let Some((old, old_sequence)) = self.by_key.remove(key) {
            self.by_deadline.remove(&(old, old_sequence, key.clone()));
        }
    }

    pub fn deadline(&self, key: &TimerKey) -> Option<i64> {
        self.by_key.get(key).map(|(deadline, _)| *deadline)
    }

    /// The earliest deadline.
    pub fn first_deadline_ms(&self) -> Option<i64> {
        self.by_deadline.first().map(|(deadline, _, _)| *deadline)
    }

    /// Keys due at `now_ms`, earliest first.
    pub fn due(&self, now_ms: i64) -> Vec<TimerKey> {
        self.by_deadline
            .iter()
            .take_while(|(deadline, _, _)| *deadline <= now_ms)
            .map(|(_, _, key)| key.clone())
            .collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&TimerKey, i64)> {
        self.by_key.iter().map(|(k, (d, _))| (k, *d))
    }

    /// Both indexes describe the same timers.
    pub fn is_consistent(&self) -> bool {
        self.by_key.len() == self.by_deadline.len()
            && self.by_deadline.iter().all(|(d, s, k)| self.by_key.get(k) == Some(&(*d, *s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rescheduling_moves_the_deadline_and_cancel_removes_it() {
        let mut timers = Timers::default();
        timers.set(TimerKey::Heartbeat("a".into()), 10);
        timers.set(TimerKey::Join, 5);
        timers.set(TimerKey::Heartbeat("a".into()), 20);
        assert_eq!(timers.first_deadline_ms(), Some(5));
        assert_eq!(timers.due(10), vec![TimerKey::Join]);
        assert_eq!(timers.due(20), vec![TimerKey::Join, TimerKey::Heartbeat("a".into())]);
        // Equal deadlines fire in the order they were set.
        timers.set(TimerKey::Sync, 20);
        timers.set(TimerKey::Heartbeat("b".into()), 20);
        timers.set(TimerKey::Join, 20);
        let due = timers.due(20);
        assert_eq!(due[1..], [TimerKey::Sync, TimerKey::Heartbeat("b".into()), TimerKey::Join]);
        timers.cancel(&TimerKey::Sync);
        timers.cancel(&TimerKey::Heartbeat("b".into()));
        timers.cancel(&TimerKey::Join);
        assert_eq!(timers.first_deadline_ms(), Some(20));
        assert!(timers.is_consistent());
        assert_eq!(timers.iter().count(), 1);
    }
}
