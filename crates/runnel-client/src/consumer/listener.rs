//! The application's hooks into a rebalance: Kafka's `ConsumerRebalanceListener`.
//!
//! Owns: the trait and its calling contract. The hooks run inside `poll()` (and `close()`,
//! `unsubscribe()`), on the task that called it, never concurrently with another consumer
//! call. With the eager protocol every member gives up all its partitions before the group
//! forms a new generation, so across the whole group every `on_partitions_revoked` of a
//! rebalance runs before any `on_partitions_assigned` of the same rebalance.

use super::record::TopicPartition;

/// Called around rebalances of a subscribed consumer.
///
/// ```
/// use runnel_client::consumer::{RebalanceListener, TopicPartition};
///
/// #[derive(Default)]
/// struct Log(Vec<String>);
///
/// impl RebalanceListener for Log {
///     fn on_partitions_revoked(&mut self, partitions: &[TopicPartition]) {
///         self.0.push(format!("revoked {}", partitions.len()));
///     }
///     fn on_partitions_assigned(&mut self, partitions: &[TopicPartition]) {
///         self.0.push(format!("assigned {}", partitions.len()));
///     }
/// }
/// ```
pub trait RebalanceListener: Send {
    /// Before the consumer rejoins: the partitions it owned. With `enable.auto.commit` their
    /// positions were committed just before this call, as Java does. Called at the start of
    /// every rebalance, also with an empty list (Kafka's eager protocol contract).
    fn on_partitions_revoked(&mut self, partitions: &[TopicPartition]);

    /// After the group assigned partitions; positions are fetched afterwards (committed
    /// offset, else `auto.offset.reset`), so a `seek` on the consumer made by the application
    /// after `poll()` returns takes precedence. Called also with an empty list.
    fn on_partitions_assigned(&mut self, partitions: &[TopicPartition]);

    /// Instead of `on_partitions_revoked` when the partitions were already taken away (the
    /// member was expelled, or `max.poll.interval.ms` passed): nothing can be committed.
    /// Only called with a non-empty list. Defaults to `on_partitions_revoked`.
    fn on_partitions_lost(&mut self, partitions: &[TopicPartition]) {
        self.on_partitions_revoked(partitions);
    }
}

/// No hooks: `consumer.subscribe(["topic"], ())`.
impl RebalanceListener for () {
    fn on_partitions_revoked(&mut self, _partitions: &[TopicPartition]) {}
    fn on_partitions_assigned(&mut self, _partitions: &[TopicPartition]) {}
}

impl<L: RebalanceListener + ?Sized> RebalanceListener for Box<L> {
    fn on_partitions_revoked(&mut self, partitions: &[TopicPartition]) {
        (**self).on_partitions_revoked(partitions)
    }
    fn on_partitions_assigned(&mut self, partitions: &[TopicPartition]) {
        (**self).on_partitions_assigned(partitions)
    }
    fn on_partitions_lost(&mut self, partitions: &[TopicPartition]) {
        (**self).on_partitions_lost(partitions)
    }
}
