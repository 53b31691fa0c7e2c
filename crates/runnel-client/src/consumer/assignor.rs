//! The partition assignors a group leader runs: Kafka's `range` and `roundrobin`.
//!
//! Owns: the strategy names sent in JoinGroup and the two algorithms, reproducing Java's
//! `RangeAssignor` (without rack awareness) and `RoundRobinAssignor` output exactly, so that a
//! group led by this client assigns what a group led by a Java or kafka-python consumer would.
//! Member order is Java's `MemberInfo` order: members with a `group.instance.id` first, by
//! instance id, then the others by member id.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use super::record::TopicPartition;
use crate::error::{Error, Result};

/// A `partition.assignment.strategy` this client can run as group leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssignmentStrategy {
    /// Per topic, contiguous ranges of partitions to the members subscribed to it.
    Range,
    /// All subscribed partitions dealt in turn to the members subscribed to their topic.
    RoundRobin,
}

impl AssignmentStrategy {
    /// The protocol name in JoinGroup, shared with every other Kafka client.
    pub fn name(self) -> &'static str {
        match self {
            AssignmentStrategy::Range => "range",
            AssignmentStrategy::RoundRobin => "roundrobin",
        }
    }

    /// Reads a protocol name or the Java class name of the same assignor.
    pub fn parse(value: &str) -> Result<AssignmentStrategy> {
        match value.trim() {
            "range" | "org.apache.kafka.clients.consumer.RangeAssignor" => Ok(AssignmentStrategy::Range),
            "roundrobin" | "org.apache.kafka.clients.consumer.RoundRobinAssignor" => Ok(AssignmentStrategy::RoundRobin),
            other => Err(Error::Config(format!(
                "partition.assignment.strategy: {other:?} is not supported (range and roundrobin are)"
            ))),
        }
    }

    /// The strategy a JoinGroup response chose, by protocol name.
    pub fn from_name(name: &str) -> Option<AssignmentStrategy> {
        [AssignmentStrategy::Range, AssignmentStrategy::RoundRobin].into_iter().find(|s| s.name() == name)
    }

    /// Assigns the partitions of the subscribed topics found in `partitions_per_topic`
    /// (topic -> partition count) to `members`. Every member gets an entry, possibly empty.
    pub fn assign(
        self,
        partitions_per_topic: &BTreeMap<String, i32>,
        members: &[MemberSubscription],
    ) -> BTreeMap<String, Vec<TopicPartition>> {
        let mut sorted: Vec<&MemberSubscription> = members.iter().collect();
        sorted.sort_by(|a, b| member_order(a, b));
        let mut assignment: BTreeMap<String, Vec<TopicPartition>> =
            members.iter().map(|m| (m.member_id.clone(), Vec::new())).collect();
        match self {
            AssignmentStrategy::Range => assign_range(partitions_per_topic, &sorted, &mut assignment),
            AssignmentStrategy::RoundRobin => assign_round_robin(partitions_per_topic, &sorted, &mut assignment),
        }
        assignment
    }
}

/// One member's subscription as the leader sees it in the JoinGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSubscription {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub topics: BTreeSet<String>,
}

/// Java's `MemberInfo.compareTo`.
fn member_order(a: &MemberSubscription, b: &MemberSubscription) -> Ordering {
    match (&a.group_instance_id, &b.group_instance_id) {
        (Some(x), Some(y)) => x.cmp(y).then_with(|| a.member_id.cmp(&b.member_id)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.member_id.cmp(&b.member_id),
    }
}

fn assign_range(
    partitions_per_topic: &BTreeMap<String, i32>,
    sorted: &[&MemberSubscription],
    assignment: &mut BTreeMap<String, Vec<TopicPartition>>,
) {
    for (topic, &count) in partitions_per_topic {
        let consumers: Vec<&&MemberSubscription> = sorted.iter().filter(|m| m.topics.contains(topic)).collect();
        if count <= 0 || consumers.is_empty() {
            continue;
        }
        let count = count as usize;
        let per_consumer = count / consumers.len();
        let with_extra = count % consumers.len();
        let mut next = 0usize;
        for (i, member) in consumers.iter().enumerate() {
            let length = per_consumer + usize::from(i < with_extra);
            if let Some(list) = assignment.get_mut(&member.member_id) {
                list.extend((next..next + length).map(|p| TopicPartition::new(topic.clone(), p as i32)));
            }
            next += length;
        }
    }
}

fn assign_round_robin(
    partitions_per_topic: &BTreeMap<String, i32>,
    sorted: &[&MemberSubscription],
    assignment: &mut BTreeMap<String, Vec<TopicPartition>>,
) {
    if sorted.is_empty() {
        return;
    }
    let subscribed: BTreeSet<&String> = sorted.iter().flat_map(|m| m.topics.iter()).collect();
    let mut cursor = 0usize;
    for topic in subscribed {
        let Some(&count) = partitions_per_topic.get(topic) else { continue };
        for partition in 0..count.max(0) {
            // The topic is in someone's subscription, so one full turn always finds a taker.
            let Some(offset) = (0..sorted.len()).find(|k| sorted[(cursor + k) % sorted.len()].topics.contains(topic))
            else {
                break;
            };
            let member = sorted[(cursor + offset) % sorted.len()];
            cursor = (cursor + offset + 1) % sorted.len();
            if let Some(list) = assignment.get_mut(&member.member_id) {
                list.push(TopicPartition::new(topic.clone(), partition));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, instance: Option<&str>, topics: &[&str]) -> MemberSubscription {
        MemberSubscription {
            member_id: id.into(),
            group_instance_id: instance.map(String::from),
            topics: topics.iter().map(|t| t.to_string()).collect(),
        }
    }

    fn tps(list: &[(&str, i32)]) -> Vec<TopicPartition> {
        list.iter().map(|(t, p)| TopicPartition::new(*t, *p)).collect()
    }

    fn counts(list: &[(&str, i32)]) -> BTreeMap<String, i32> {
        list.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    fn sorted(mut v: Vec<TopicPartition>) -> Vec<TopicPartition> {
        v.sort();
        v
    }

    // Cases from Java's RangeAssignorTest.

    #[test]
    fn range_one_consumer_only_gets_subscribed_topics() {
        let result = AssignmentStrategy::Range
            .assign(&counts(&[("topic1", 3), ("other", 3)]), &[member("consumer1", None, &["topic1"])]);
        assert_eq!(result["consumer1"], tps(&[("topic1", 0), ("topic1", 1), ("topic1", 2)]));
    }

    #[test]
    fn range_two_consumers_one_partition_leaves_the_second_idle() {
        let result = AssignmentStrategy::Range.assign(
            &counts(&[("topic1", 1)]),
            &[member("consumer1", None, &["topic1"]), member("consumer2", None, &["topic1"])],
        );
        assert_eq!(result["consumer1"], tps(&[("topic1", 0)]));
        assert_eq!(result["consumer2"], vec![]);
    }

    #[test]
    fn range_multiple_consumers_mixed_topics() {
        let result = AssignmentStrategy::Range.assign(
            &counts(&[("topic1", 3), ("topic2", 2)]),
            &[
                member("consumer1", None, &["topic1"]),
                member("consumer2", None, &["topic1", "topic2"]),
                member("consumer3", None, &["topic1"]),
            ],
        );
        assert_eq!(result["consumer1"], tps(&[("topic1", 0)]));
        assert_eq!(sorted(result["consumer2"].clone()), tps(&[("topic1", 1), ("topic2", 0), ("topic2", 1)]));
        assert_eq!(result["consumer3"], tps(&[("topic1", 2)]));
    }

    #[test]
    fn range_two_consumers_two_topics_six_partitions() {
        let result = AssignmentStrategy::Range.assign(
            &counts(&[("topic1", 3), ("topic2", 3)]),
            &[member("consumer1", None, &["topic1", "topic2"]), member("consumer2", None, &["topic1", "topic2"])],
        );
        assert_eq!(result["consumer1"], tps(&[("topic1", 0), ("topic1", 1), ("topic2", 0), ("topic2", 1)]));
        assert_eq!(result["consumer2"], tps(&[("topic1", 2), ("topic2", 2)]));
    }

    #[test]
    fn range_orders_static_members_by_instance_id_before_dynamic_ones() {
        let both_static = AssignmentStrategy::Range.assign(
            &counts(&[("topic1", 3), ("topic2", 3)]),
            &[
                member("consumer-b", Some("instance1"), &["topic1", "topic2"]),
                member("consumer-a", Some("instance2"), &["topic1", "topic2"]),
            ],
        );
        assert_eq!(both_static["consumer-b"], tps(&[("topic1", 0), ("topic1", 1), ("topic2", 0), ("topic2", 1)]));
        assert_eq!(both_static["consumer-a"], tps(&[("topic1", 2), ("topic2", 2)]));

        let one_static = AssignmentStrategy::Range.assign(
            &counts(&[("topic1", 3), ("topic2", 3)]),
            &[
                member("consumer-b", Some("instance1"), &["topic1", "topic2"]),
                member("consumer-a", None, &["topic1", "topic2"]),
            ],
        );
        assert_eq!(one_static["consumer-b"], tps(&[("topic1", 0), ("topic1", 1), ("topic2", 0), ("topic2", 1)]));
        assert_eq!(one_static["consumer-a"], tps(&[("topic1", 2), ("topic2", 2)]));
    }

    #[test]
    fn range_skips_topics_missing_from_metadata_and_members_without_topics() {
        let result = AssignmentStrategy::Range
            .assign(&counts(&[]), &[member("consumer1", None, &["gone"]), member("consumer2", None, &[])]);
        assert_eq!(result.len(), 2);
        assert!(result.values().all(Vec::is_empty));
    }

    // Cases from Java's RoundRobinAssignorTest.

    #[test]
    fn round_robin_multiple_consumers_mixed_topics() {
        let result = AssignmentStrategy::RoundRobin.assign(
            &counts(&[("topic1", 3), ("topic2", 2)]),
            &[
                member("consumer1", None, &["topic1"]),
                member("consumer2", None, &["topic1", "topic2"]),
                member("consumer3", None, &["topic1"]),
            ],
        );
        assert_eq!(result["consumer1"], tps(&[("topic1", 0)]));
        assert_eq!(result["consumer2"], tps(&[("topic1", 1), ("topic2", 0), ("topic2", 1)]));
        assert_eq!(result["consumer3"], tps(&[("topic1", 2)]));
    }

    #[test]
    fn round_robin_two_consumers_two_topics_six_partitions() {
        let result = AssignmentStrategy::RoundRobin.assign(
            &counts(&[("topic1", 3), ("topic2", 3)]),
            &[member("consumer1", None, &["topic1", "topic2"]), member("consumer2", None, &["topic1", "topic2"])],
        );
        assert_eq!(result["consumer1"], tps(&[("topic1", 0), ("topic1", 2), ("topic2", 1)]));
        assert_eq!(result["consumer2"], tps(&[("topic1", 1), ("topic2", 0), ("topic2", 2)]));
    }

    #[test]
    fn round_robin_static_members_keep_their_partitions_when_a_dynamic_member_is_replaced() {
        let statics = [
            member("consumer1", Some("instance1"), &["topic1", "topic2"]),
            member("consumer2", Some("instance2"), &["topic1", "topic2"]),
            member("consumer3", Some("instance3"), &["topic1", "topic2"]),
        ];
        let partitions = counts(&[("topic1", 3), ("topic2", 3)]);
        for dynamic in ["consumer4", "consumer5"] {
            let mut members = statics.to_vec();
            members.push(member(dynamic, None, &["topic1", "topic2"]));
            let result = AssignmentStrategy::RoundRobin.assign(&partitions, &members);
            assert_eq!(result["consumer1"], tps(&[("topic1", 0), ("topic2", 1)]));
            assert_eq!(result["consumer2"], tps(&[("topic1", 1), ("topic2", 2)]));
            assert_eq!(result["consumer3"], tps(&[("topic1", 2)]));
            assert_eq!(result[dynamic], tps(&[("topic2", 0)]));
        }
    }

    #[test]
    fn round_robin_static_members_order_by_instance_id() {
        let result = AssignmentStrategy::RoundRobin.assign(
            &counts(&[("topic1", 3), ("topic2", 3)]),
            &[
                member("consumer-b", Some("instance1"), &["topic1", "topic2"]),
                member("consumer-a", Some("instance2"), &["topic1", "topic2"]),
            ],
        );
        assert_eq!(result["consumer-b"], tps(&[("topic1", 0), ("topic1", 2), ("topic2", 1)]));
        assert_eq!(result["consumer-a"], tps(&[("topic1", 1), ("topic2", 0), ("topic2", 2)]));
    }

    #[test]
    fn strategies_parse_protocol_and_java_class_names() {
        assert_eq!(AssignmentStrategy::parse("range").unwrap(), AssignmentStrategy::Range);
        assert_eq!(
            AssignmentStrategy::parse("org.apache.kafka.clients.consumer.RoundRobinAssignor").unwrap(),
            AssignmentStrategy::RoundRobin
        );
        assert!(AssignmentStrategy::parse("org.apache.kafka.clients.consumer.CooperativeStickyAssignor").is_err());
        assert_eq!(AssignmentStrategy::from_name("roundrobin"), Some(AssignmentStrategy::RoundRobin));
        assert_eq!(AssignmentStrategy::from_name("cooperative-sticky"), None);
    }
}
