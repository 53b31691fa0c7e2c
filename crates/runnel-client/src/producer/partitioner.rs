//! Which partition a record goes to, exactly as Kafka's Java producer decides it.
//!
//! Owns: Kafka's `Utils.murmur2` and `toPositive`, so a keyed record lands on the partition
//! the Java client and kafka-python would pick, and the sticky choice for unkeyed records
//! (KIP-480 as rewritten by KIP-794's `BuiltInPartitioner`): stay on one partition until
//! `batch.size` bytes went to it and its batch is full (or twice `batch.size` regardless),
//! then pick another at random among partitions that have a leader. Kafka's adaptive
//! weighting by queue length is not implemented: the next partition is chosen uniformly.

use std::collections::HashMap;

/// Kafka's murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`), seed `0x9747b28c`.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let length = data.len();
    // Java works on an int length; only the low 32 bits enter the hash.
    let mut h: u32 = SEED ^ (length as u32);
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Kafka's `Utils.toPositive`: clears the sign bit (not `abs`, which overflows on MIN).
pub fn to_positive(number: i32) -> i32 {
    number & 0x7fff_ffff
}

/// The partition Kafka's default partitioner gives a serialized key among
/// `partition_count` partitions (all of them, available or not). `None` for zero partitions.
pub fn partition_for_key(key: &[u8], partition_count: usize) -> Option<i32> {
    let count = i32::try_from(partition_count).ok().filter(|&c| c > 0)?;
    Some(to_positive(murmur2(key)) % count)
}

/// What the partitioner knows of a topic when choosing a sticky partition.
#[derive(Debug, Clone, Copy)]
pub struct TopicLayout<'a> {
    /// Number of partitions.
    pub partition_count: usize,
    /// Partitions that currently have a leader; empty means "pick among all".
    pub available: &'a [i32],
}

/// The sticky partition per topic for unkeyed records.
#[derive(Debug)]
pub struct StickyPartitioner {
    /// `batch.size` (at least 1): bytes after which the partition may switch.
    sticky_batch_size: usize,
    topics: HashMap<String, Sticky>,
    random: XorShift,
}

#[derive(Debug, Clone, Copy)]
struct Sticky {
    partition: i32,
    produced_bytes: usize,
}

impl StickyPartitioner {
    pub fn new(batch_size: usize, seed: u64) -> StickyPartitioner {
        StickyPartitioner { sticky_batch_size: batch_size.max(1), topics: HashMap::new(), random: XorShift::new(seed) }
    }

    /// The current sticky partition of `topic`, choosing one if there is none yet or the
    /// topic shrank below it. `None` when the topic has no partitions.
    pub fn partition(&mut self, topic: &str, layout: TopicLayout<'_>) -> Option<i32> {
        let count = i32::try_from(layout.partition_count).ok().filter(|&c| c > 0)?;
        if let Some(sticky) = self.topics.get(topic) {
            if sticky.partition < count {
                return Some(sticky.partition);
            }
        }
        let partition = self.next_partition(layout)?;
        self.topics.insert(topic.to_string(), Sticky { partition, produced_bytes: 0 });
        Some(partition)
    }

    /// Counts `appended_bytes` against the sticky partition of `topic`, and moves on once
    /// `batch.size` bytes went there and `batch_full` (the partition's last batch can take
    /// no more), or twice `batch.size` in any case, as Kafka's `updatePartitionInfo` does.
    pub fn record_appended(&mut self, topic: &str, partition: i32, appended_bytes: usize, batch_full: bool, layout: TopicLayout<'_>) {
        let Some(sticky) = self.topics.get_mut(topic) else { return };
        if sticky.partition != partition {
            return;
        }
        sticky.produced_bytes = sticky.produced_bytes.saturating_add(appended_bytes);
        let produced = sticky.produced_bytes;
        let enough = produced >= self.sticky_batch_size && batch_full;
        let too_much = produced >= self.sticky_batch_size.saturating_mul(2);
        if enough || too_much {
            if let Some(next) = self.next_partition(layout) {
                self.topics.insert(topic.to_string(), Sticky { partition: next, produced_bytes: 0 });
            }
        }
    }

    /// Kafka's `nextPartition` without load statistics: uniform over partitions with a
    /// leader, or over all partitions when none has one. May pick the same partition again.
    fn next_partition(&mut self, layout: TopicLayout<'_>) -> Option<i32> {
        let random = to_positive(self.random.next() as i32);
        if !layout.available.is_empty() {
            let len = i32::try_from(layout.available.len()).ok()?;
            return layout.available.get(usize::try_from(random % len).ok()?).copied();
        }
        let count = i32::try_from(layout.partition_count).ok().filter(|&c| c > 0)?;
        Some(random % count)
    }
}

/// A small non-cryptographic generator (xorshift64*) for partition choice; no dependency.
#[derive(Debug)]
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> XorShift {
        // Zero is xorshift's one fixed point.
        XorShift(seed | 1)
    }

    fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kafka's own `UtilsTest.testMurmur2` vectors.
    #[test]
    fn murmur2_matches_kafkas_test_vectors() {
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
            (b"abc", 479_470_107),
        ];
        for (key, expected) in cases {
            assert_eq!(murmur2(key), expected, "{}", String::from_utf8_lossy(key));
        }
    }

    /// Expected values computed independently with kafka-python 3.0.12
    /// (`kafka.partitioner.default.murmur2`), including bytes with the high bit set, which
    /// Java reads as negative and masks with `& 0xff`.
    #[test]
    fn murmur2_matches_kafka_python() {
        let cases: [(&[u8], u32); 4] =
            [(b"", 275_646_681), (b"key-0", 29_210_041), (b"\xff\xfe\x80", 4_134_240_899), (b"user-42", 1_459_644_460)];
        for (key, expected) in cases {
            assert_eq!(murmur2(key) as u32, expected, "{key:?}");
        }
    }

    /// Partitions kafka-python's DefaultPartitioner gives for 3, 7 and 100 partitions.
    #[test]
    fn keyed_partition_matches_java_and_kafka_python() {
        let cases: [(&[u8], [i32; 3]); 8] = [
            (b"21", [0, 3, 40]),
            (b"foobar", [0, 0, 66]),
            (b"a-little-bit-long-string", [2, 1, 12]),
            (b"abc", [0, 4, 7]),
            (b"", [0, 2, 81]),
            (b"key-0", [1, 0, 41]),
            (b"\xff\xfe\x80", [0, 3, 51]),
            (b"user-42", [1, 1, 60]),
        ];
        for (key, expected) in cases {
            for (count, want) in [3, 7, 100].into_iter().zip(expected) {
                assert_eq!(partition_for_key(key, count), Some(want), "{key:?} over {count}");
            }
        }
        assert_eq!(partition_for_key(b"k", 0), None);
    }

    #[test]
    fn to_positive_clears_only_the_sign_bit() {
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(-1), i32::MAX);
        assert_eq!(to_positive(5), 5);
    }

    fn layout(count: usize) -> TopicLayout<'static> {
        TopicLayout { partition_count: count, available: &[] }
    }

    #[test]
    fn sticky_switches_after_batch_size_once_the_batch_is_full() {
        let only_zero = TopicLayout { partition_count: 2, available: &[0] };
        let only_one = TopicLayout { partition_count: 2, available: &[1] };
        let mut sticky = StickyPartitioner::new(100, 7);
        assert_eq!(sticky.partition("t", only_zero), Some(0));
        sticky.record_appended("t", 0, 150, false, only_one);
        assert_eq!(sticky.partition("t", only_one), Some(0), "past batch.size, batch not full: stays");
        sticky.record_appended("t", 0, 10, true, only_one);
        assert_eq!(sticky.partition("t", only_zero), Some(1), "past batch.size and full: moves");
        // The byte count restarted with the new partition.
        sticky.record_appended("t", 1, 99, true, only_zero);
        assert_eq!(sticky.partition("t", only_zero), Some(1));
    }

    #[test]
    fn sticky_switches_at_twice_batch_size_even_if_not_full() {
        let only_zero = TopicLayout { partition_count: 2, available: &[0] };
        let only_one = TopicLayout { partition_count: 2, available: &[1] };
        let mut sticky = StickyPartitioner::new(100, 7);
        assert_eq!(sticky.partition("t", only_zero), Some(0));
        sticky.record_appended("t", 0, 199, false, only_one);
        assert_eq!(sticky.partition("t", only_one), Some(0));
        sticky.record_appended("t", 0, 1, false, only_one);
        assert_eq!(sticky.partition("t", only_zero), Some(1));
        // Appends reported for a partition that is no longer sticky do not count.
        sticky.record_appended("t", 0, 1000, true, only_zero);
        assert_eq!(sticky.partition("t", only_zero), Some(1));
    }

    #[test]
    fn sticky_picks_only_available_partitions() {
        let mut sticky = StickyPartitioner::new(1, 99);
        let available = [3, 5];
        let layout = TopicLayout { partition_count: 8, available: &available };
        for _ in 0..200 {
            let p = sticky.partition("t", layout).unwrap();
            assert!(available.contains(&p), "{p}");
            sticky.record_appended("t", p, 10, true, layout);
        }
    }

    #[test]
    fn sticky_spreads_over_partitions_when_switching() {
        let mut sticky = StickyPartitioner::new(1, 12345);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..500 {
            let p = sticky.partition("t", layout(4)).unwrap();
            seen.insert(p);
            sticky.record_appended("t", p, 1, true, layout(4));
        }
        assert_eq!(seen.len(), 4, "{seen:?}");
        assert_eq!(sticky.partition("empty", layout(0)), None);
    }
}
