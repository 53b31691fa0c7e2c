//! Records waiting to be sent, grouped into one queue of batches per partition.
//!
//! Owns: batching (`batch.size`, `linger.ms`), which partitions have a sendable batch, the
//! drain of at most one batch per partition into a request for one broker (as Kafka's
//! `RecordAccumulator.drain`), re-queueing retries in sequence order, and the idempotent
//! producer's per-partition sequence numbers: a batch gets its base sequence when first
//! drained and keeps it on every retry, so that the broker can drop duplicates; a retried
//! batch goes out only when every earlier sequence of its partition has been resolved.
//! It also keeps the ids of incomplete records, which `flush` waits on.
//!
//! It never touches the network or the clock: callers pass `now`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{oneshot, OwnedSemaphorePermit};

use super::batch::{self, ProducerFields, RecordData, BATCH_HEADER_BYTES};
use super::config::{Compression, MAX_IN_FLIGHT_FOR_IDEMPOTENCE};
use super::partitioner::{StickyPartitioner, TopicLayout};
use super::record::RecordMetadata;
use crate::error::Result;

/// A topic and partition.
pub type TopicPartition = (String, i32);

/// The producer id and epoch an idempotent producer writes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerIdentity {
    pub producer_id: i64,
    pub producer_epoch: i16,
}

/// The batching settings.
#[derive(Debug, Clone, Copy)]
pub struct AccumulatorConfig {
    pub batch_size: usize,
    pub linger: Duration,
    pub delivery_timeout: Duration,
    pub compression: Compression,
    pub idempotent: bool,
    /// `max.in.flight.requests.per.connection == 1` without idempotence: one batch per
    /// partition in flight, so retries cannot reorder (Kafka's `guaranteeMessageOrder`).
    pub one_in_flight_per_partition: bool,
}

/// A record waiting for its outcome.
pub struct PendingRecord {
    pub data: RecordData,
    /// `None` once the outcome has been delivered.
    reply: Option<oneshot::Sender<Result<RecordMetadata>>>,
    /// For `flush`: records are numbered in the order `send` accepted them.
    pub id: u64,
    /// Holds the record's share of `buffer.memory` until its outcome is known.
    _memory: Option<OwnedSemaphorePermit>,
}

impl PendingRecord {
    pub fn new(
        data: RecordData,
        reply: oneshot::Sender<Result<RecordMetadata>>,
        memory: Option<OwnedSemaphorePermit>,
    ) -> PendingRecord {
        PendingRecord { data, reply: Some(reply), id: 0, _memory: memory }
    }
}

/// One batch of records for one partition.
pub struct ProducerBatch {
    pub topic: String,
    pub partition: i32,
    pub records: Vec<PendingRecord>,
    /// Uncompressed size, header included: what `batch.size` is compared with.
    pub size_bytes: usize,
    pub created_at: Instant,
    /// When the outcome must be reported at the latest (`delivery.timeout.ms`).
    pub deadline: Instant,
    /// Sends so far.
    pub attempts: u32,
    /// Not before this instant (retry backoff).
    pub retry_at: Option<Instant>,
    /// No more appends (a record did not fit, or the batch has been drained).
    pub closed: bool,
    /// Producer id, epoch and base sequence, fixed at the first drain of an idempotent batch.
    pub producer_fields: Option<ProducerFields>,
    /// The encoded batch and the producer fields it was encoded with.
    encoded: Option<(ProducerFields, Bytes)>,
}

impl ProducerBatch {
    fn new(topic: &str, partition: i32, now: Instant, delivery_timeout: Duration) -> ProducerBatch {
        ProducerBatch {
            topic: topic.to_string(),
            partition,
            records: Vec::new(),
            size_bytes: BATCH_HEADER_BYTES,
            created_at: now,
            deadline: super::later(now, delivery_timeout),
            attempts: 0,
            retry_at: None,
            closed: false,
            producer_fields: None,
            encoded: None,
        }
    }

    pub fn record_count(&self) -> usize {
        self.records.len()
    }

    pub fn base_sequence(&self) -> Option<i32> {
        self.producer_fields.map(|f| f.base_sequence)
    }

    /// The size `record` would add as the next record of this batch.
    fn bytes_for(&self, record: &RecordData) -> usize {
        let offset_delta = i32::try_from(self.records.len()).unwrap_or(i32::MAX);
        let base = self.records.first().map_or(record.timestamp, |r| r.data.timestamp);
        batch::record_bytes(record, offset_delta, record.timestamp.wrapping_sub(base))
    }

    fn is_full(&self, batch_size: usize) -> bool {
        self.closed || self.size_bytes >= batch_size
    }

    /// The wire bytes, encoding (or re-encoding after an epoch bump) when needed.
    pub fn encoded(&mut self, compression: Compression) -> Result<Bytes> {
        let fields = self.producer_fields.unwrap_or(ProducerFields::NONE);
        if let Some((encoded_with, bytes)) = &self.encoded {
            if *encoded_with == fields {
                return Ok(bytes.clone());
            }
        }
        let data: Vec<RecordData> = self.records.iter().map(|r| r.data.clone()).collect();
        let bytes = batch::encode(&data, compression, fields)?;
        self.encoded = Some((fields, bytes.clone()));
        Ok(bytes)
    }

    /// Delivers an outcome to every record still waiting; `outcome(i)` for record `i`.
    pub fn complete(&mut self, mut outcome: impl FnMut(usize, &RecordData) -> Result<RecordMetadata>) {
        for (index, record) in self.records.iter_mut().enumerate() {
            if let Some(reply) = record.reply.take() {
                // The caller may have dropped its DeliveryFuture; that is its choice.
                let _ = reply.send(outcome(index, &record.data));
            }
        }
    }

    /// Whether every record already has its outcome (an expired in-flight batch).
    pub fn is_done(&self) -> bool {
        self.records.iter().all(|r| r.reply.is_none())
    }

    /// One batch per record, keeping the records' sequences (Kafka splits a batch the
    /// broker found too large the same way, with sequences carried over).
    fn split(self, now: Instant) -> Vec<ProducerBatch> {
        let ProducerBatch { topic, partition, records, created_at, deadline, producer_fields, .. } = self;
        records
            .into_iter()
            .enumerate()
            .map(|(index, record)| {
                let size_bytes = BATCH_HEADER_BYTES + batch::record_bytes(&record.data, 0, 0);
                let producer_fields = producer_fields.map(|f| ProducerFields {
                    base_sequence: increment_sequence(f.base_sequence, index as i32),
                    ..f
                });
                ProducerBatch {
                    topic: topic.clone(),
                    partition,
                    records: vec![record],
                    size_bytes,
                    created_at,
                    deadline,
                    attempts: 0,
                    retry_at: Some(now),
                    closed: true,
                    producer_fields,
                    encoded: None,
                }
            })
            .collect()
    }
}

/// Kafka's `DefaultRecordBatch.incrementSequence`: sequences wrap from `i32::MAX` to 0.
pub fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    if sequence > i32::MAX - increment {
        increment - (i32::MAX - sequence) - 1
    } else {
        sequence + increment
    }
}

/// A partition's queue. It is kept after it empties: it holds the partition's next sequence,
/// which must not restart while the producer id and epoch stay the same.
#[derive(Default)]
struct PartitionQueue {
    /// Oldest first; only the last batch may still be open for appends.
    batches: VecDeque<ProducerBatch>,
    /// Batches of this partition inside requests now.
    in_flight: usize,
    /// The base sequence the next new batch gets.
    next_sequence: i32,
    /// Base sequences handed out and not yet resolved (queued retries and in flight).
    unresolved: BTreeSet<i32>,
}

impl PartitionQueue {
    fn is_idle(&self) -> bool {
        self.batches.is_empty() && self.in_flight == 0 && self.unresolved.is_empty()
    }
}

/// What `append` did, for the caller's wake-up and sticky-partition decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendOutcome {
    pub partition: i32,
    /// A new batch was started (the sender must learn its linger deadline).
    pub new_batch: bool,
    /// A batch became full (it is sendable now).
    pub batch_full: bool,
}

/// Where a record should go.
#[derive(Debug, Clone, Copy)]
pub enum Placement<'a> {
    /// A partition the caller chose or derived from the key.
    Fixed(i32),
    /// The topic's sticky partition.
    Sticky(TopicLayout<'a>),
}

pub struct Accumulator {
    config: AccumulatorConfig,
    partitions: BTreeMap<TopicPartition, PartitionQueue>,
    sticky: StickyPartitioner,
    next_record_id: u64,
    /// Ids of records whose outcome is not delivered yet.
    incomplete: BTreeSet<u64>,
    /// `flush` calls in progress: while any, linger is ignored.
    flushes: usize,
    /// Closing: linger is ignored and appends are refused by the producer.
    closing: bool,
    /// Rotates the partition a drain starts from, so no partition starves.
    drain_start: usize,
}

impl Accumulator {
    pub fn new(config: AccumulatorConfig, seed: u64) -> Accumulator {
        Accumulator {
            sticky: StickyPartitioner::new(config.batch_size, seed),
            config,
            partitions: BTreeMap::new(),
            next_record_id: 0,
            incomplete: BTreeSet::new(),
            flushes: 0,
            closing: false,
            drain_start: 0,
        }
    }

    /// Adds a record to the open batch of its partition, or to a new batch when there is
    /// none or it cannot take the record. Returns the record's id too (for `flush`).
    pub fn append(&mut self, topic: &str, placement: Placement<'_>, mut record: PendingRecord, now: Instant) -> Option<(AppendOutcome, u64)> {
        let partition = match placement {
            Placement::Fixed(partition) => partition,
            Placement::Sticky(layout) => self.sticky.partition(topic, layout)?,
        };
        let id = self.next_record_id;
        self.next_record_id += 1;
        record.id = id;
        self.incomplete.insert(id);

        let config = self.config;
        let queue = self.partitions.entry((topic.to_string(), partition)).or_default();
        let mut outcome = AppendOutcome { partition, new_batch: false, batch_full: false };
        let open = queue.batches.back_mut().filter(|b| !b.closed);
        let fits = open.as_ref().is_some_and(|b| b.size_bytes + b.bytes_for(&record.data) <= config.batch_size);
        if !fits {
            if let Some(open) = queue.batches.back_mut().filter(|b| !b.closed) {
                open.closed = true;
                outcome.batch_full = true;
            }
            queue.batches.push_back(ProducerBatch::new(topic, partition, now, config.delivery_timeout));
            outcome.new_batch = true;
        }
        let batch = queue.batches.back_mut()?;
        let added = batch.bytes_for(&record.data);
        batch.size_bytes += added;
        batch.records.push(record);
        let last_full = batch.is_full(config.batch_size);
        outcome.batch_full |= last_full;
        if let Placement::Sticky(layout) = placement {
            self.sticky.record_appended(topic, partition, added, last_full, layout);
        }
        Some((outcome, id))
    }

    /// Marks records as having their outcome; `flush` callers watch this.
    pub fn records_completed(&mut self, ids: impl IntoIterator<Item = u64>) {
        for id in ids {
            self.incomplete.remove(&id);
        }
    }

    /// Whether every record accepted before record id `upto` (exclusive) has its outcome.
    pub fn completed_before(&self, upto: u64) -> bool {
        self.incomplete.first().is_none_or(|&first| first >= upto)
    }

    /// The id the next appended record will get.
    pub fn next_record_id(&self) -> u64 {
        self.next_record_id
    }

    pub fn begin_flush(&mut self) {
        self.flushes += 1;
    }

    pub fn end_flush(&mut self) {
        self.flushes = self.flushes.saturating_sub(1);
    }

    pub fn begin_close(&mut self) {
        self.closing = true;
    }

    pub fn is_closing(&self) -> bool {
        self.closing
    }

    /// Whether nothing is queued, in flight or unresolved.
    pub fn is_empty(&self) -> bool {
        self.partitions.values().all(PartitionQueue::is_idle)
    }

    /// Topics with queued batches (for metadata refreshes).
    pub fn topics(&self) -> BTreeSet<String> {
        self.partitions.iter().filter(|(_, q)| !q.batches.is_empty()).map(|((t, _), _)| t.clone()).collect()
    }

    #[cfg(test)]
    fn in_flight_batches(&self) -> usize {
        self.partitions.values().map(|q| q.in_flight).sum()
    }

    /// The lowest unresolved base sequence of a partition.
    pub fn first_unresolved(&self, topic: &str, partition: i32) -> Option<i32> {
        self.partitions.get(&(topic.to_string(), partition))?.unresolved.first().copied()
    }

    /// Whether the head batch of a partition may be sent at `now`, ignoring the broker
    /// side; `Err(when)` if it will be at `when`; `Ok(false)` if it waits for something
    /// else (earlier sequences, the one-in-flight rule).
    fn head_sendable(&self, queue: &PartitionQueue, now: Instant) -> std::result::Result<bool, Instant> {
        let Some(head) = queue.batches.front() else { return Ok(false) };
        if let Some(at) = head.retry_at {
            if at > now {
                return Err(at);
            }
        }
        if self.config.one_in_flight_per_partition && queue.in_flight > 0 {
            return Ok(false);
        }
        if self.config.idempotent {
            if queue.in_flight >= MAX_IN_FLIGHT_FOR_IDEMPOTENCE {
                return Ok(false);
            }
            if let Some(sequence) = head.base_sequence() {
                // A retry goes only once every earlier sequence has been resolved.
                if queue.unresolved.first().is_some_and(|&first| first != sequence) {
                    return Ok(false);
                }
            }
        }
        let retry = head.attempts > 0;
        let full = queue.batches.len() > 1 || head.is_full(self.config.batch_size);
        let linger_due = super::later(head.created_at, self.config.linger);
        if retry || full || self.flushes > 0 || self.closing || linger_due <= now {
            Ok(true)
        } else {
            Err(linger_due)
        }
    }

    /// The partitions with a sendable batch now, and the earliest instant another becomes
    /// sendable by time alone (linger or backoff).
    pub fn ready(&self, now: Instant) -> (Vec<TopicPartition>, Option<Instant>) {
        let mut ready = Vec::new();
        let mut next: Option<Instant> = None;
        for (tp, queue) in &self.partitions {
            match self.head_sendable(queue, now) {
                Ok(true) => ready.push(tp.clone()),
                Ok(false) => {}
                Err(at) => next = Some(next.map_or(at, |n| n.min(at))),
            }
        }
        (ready, next)
    }

    /// Takes at most one sendable batch from each partition in `partitions` (all led by the
    /// same broker), up to `max_request_bytes` in total (the first batch always goes).
    /// New batches of an idempotent producer get their sequence from `identity`; without
    /// one, idempotent partitions are skipped.
    pub fn drain(
        &mut self,
        partitions: &[TopicPartition],
        max_request_bytes: usize,
        identity: Option<ProducerIdentity>,
        now: Instant,
    ) -> Vec<ProducerBatch> {
        let mut drained = Vec::new();
        let mut bytes = 0usize;
        if partitions.is_empty() {
            return drained;
        }
        let start = self.drain_start % partitions.len();
        self.drain_start = self.drain_start.wrapping_add(1);
        for tp in partitions[start..].iter().chain(&partitions[..start]) {
            let Some(queue) = self.partitions.get(tp) else { continue };
            if self.head_sendable(queue, now) != Ok(true) {
                continue;
            }
            if self.config.idempotent && identity.is_none() {
                continue;
            }
            let Some(queue) = self.partitions.get_mut(tp) else { continue };
            let Some(head) = queue.batches.front() else { continue };
            if !drained.is_empty() && bytes.saturating_add(head.size_bytes) > max_request_bytes {
                break;
            }
            let Some(mut batch) = queue.batches.pop_front() else { continue };
            batch.closed = true;
            if let (true, Some(identity), None) = (self.config.idempotent, identity, batch.producer_fields) {
                let sequence = queue.next_sequence;
                let count = i32::try_from(batch.record_count()).unwrap_or(i32::MAX);
                queue.next_sequence = increment_sequence(sequence, count);
                queue.unresolved.insert(sequence);
                batch.producer_fields = Some(ProducerFields {
                    producer_id: identity.producer_id,
                    producer_epoch: identity.producer_epoch,
                    base_sequence: sequence,
                });
            }
            batch.attempts += 1;
            queue.in_flight += 1;
            bytes = bytes.saturating_add(batch.size_bytes);
            drained.push(batch);
        }
        drained
    }

    /// A drained batch was written (or deliberately given up): its sequence is resolved.
    pub fn batch_resolved(&mut self, batch: &ProducerBatch) {
        if let Some(queue) = self.partitions.get_mut(&(batch.topic.clone(), batch.partition)) {
            queue.in_flight = queue.in_flight.saturating_sub(1);
            if let Some(sequence) = batch.base_sequence() {
                queue.unresolved.remove(&sequence);
            }
        }
        self.records_completed(batch.records.iter().map(|r| r.id));
    }

    /// A drained batch failed retriably: it goes back to the front of its queue (in
    /// sequence order among other retries), not before `retry_at`.
    pub fn reenqueue(&mut self, mut batch: ProducerBatch, retry_at: Instant) {
        batch.retry_at = Some(retry_at);
        let queue = self.partitions.entry((batch.topic.clone(), batch.partition)).or_default();
        queue.in_flight = queue.in_flight.saturating_sub(1);
        insert_in_sequence_order(&mut queue.batches, batch);
    }

    /// A drained batch of several records was too large for the broker: its records go
    /// back as single-record batches, keeping their sequences.
    pub fn split_and_reenqueue(&mut self, batch: ProducerBatch, now: Instant) {
        let key = (batch.topic.clone(), batch.partition);
        let queue = self.partitions.entry(key).or_default();
        queue.in_flight = queue.in_flight.saturating_sub(1);
        if let Some(sequence) = batch.base_sequence() {
            queue.unresolved.remove(&sequence);
        }
        let parts = batch.split(now);
        for part in parts.into_iter().rev() {
            if let Some(sequence) = part.base_sequence() {
                queue.unresolved.insert(sequence);
            }
            insert_in_sequence_order(&mut queue.batches, part);
        }
    }

    /// Removes and returns queued batches whose delivery timeout has passed. The caller
    /// reports their records as timed out.
    pub fn expire(&mut self, now: Instant) -> Vec<ProducerBatch> {
        let mut expired = Vec::new();
        for queue in self.partitions.values_mut() {
            let mut index = 0;
            while index < queue.batches.len() {
                if queue.batches[index].deadline <= now {
                    if let Some(batch) = queue.batches.remove(index) {
                        if let Some(sequence) = batch.base_sequence() {
                            queue.unresolved.remove(&sequence);
                        }
                        expired.push(batch);
                    }
                } else {
                    index += 1;
                }
            }
        }
        for batch in &expired {
            let ids: Vec<u64> = batch.records.iter().map(|r| r.id).collect();
            self.records_completed(ids);
        }
        expired
    }

    /// The earliest delivery deadline among queued batches.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.partitions.values().filter_map(|q| q.batches.iter().map(|b| b.deadline).min()).min()
    }

    /// Removes every queued batch (closing without waiting, or a fatal error).
    pub fn take_all(&mut self) -> Vec<ProducerBatch> {
        let mut all = Vec::new();
        for queue in self.partitions.values_mut() {
            all.extend(queue.batches.drain(..));
            queue.unresolved.clear();
        }
        for batch in &all {
            let ids: Vec<u64> = batch.records.iter().map(|r| r.id).collect();
            self.records_completed(ids);
        }
        all
    }

    /// After an epoch bump (nothing in flight): every partition starts again at sequence
    /// 0 under `identity`, and queued retries are renumbered in order.
    pub fn restart_sequences(&mut self, identity: ProducerIdentity) {
        for queue in self.partitions.values_mut() {
            let mut sequence = 0;
            queue.unresolved.clear();
            for batch in queue.batches.iter_mut() {
                if batch.producer_fields.is_none() {
                    continue;
                }
                batch.producer_fields = Some(ProducerFields {
                    producer_id: identity.producer_id,
                    producer_epoch: identity.producer_epoch,
                    base_sequence: sequence,
                });
                queue.unresolved.insert(sequence);
                sequence = increment_sequence(sequence, i32::try_from(batch.record_count()).unwrap_or(i32::MAX));
            }
            queue.next_sequence = sequence;
        }
    }

}

/// Retries (batches with a sequence) go to the front in sequence order; a batch without a
/// sequence (a non-idempotent retry) goes to the very front.
fn insert_in_sequence_order(batches: &mut VecDeque<ProducerBatch>, batch: ProducerBatch) {
    let Some(sequence) = batch.base_sequence() else {
        batches.push_front(batch);
        return;
    };
    let position = batches
        .iter()
        .position(|b| b.base_sequence().is_none_or(|s| s > sequence))
        .unwrap_or(batches.len());
    batches.insert(position, batch);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(batch_size: usize, linger_ms: u64, idempotent: bool) -> AccumulatorConfig {
        AccumulatorConfig {
            batch_size,
            linger: Duration::from_millis(linger_ms),
            delivery_timeout: Duration::from_secs(120),
            compression: Compression::None,
            idempotent,
            one_in_flight_per_partition: false,
        }
    }

    fn pending(value_bytes: usize) -> (PendingRecord, oneshot::Receiver<Result<RecordMetadata>>) {
        let (tx, rx) = oneshot::channel();
        let data = RecordData { key: None, value: Some(Bytes::from(vec![b'x'; value_bytes])), headers: vec![], timestamp: 1 };
        (PendingRecord::new(data, tx, None), rx)
    }

    fn tp(topic: &str, partition: i32) -> TopicPartition {
        (topic.to_string(), partition)
    }

    const ID: ProducerIdentity = ProducerIdentity { producer_id: 9, producer_epoch: 0 };

    #[test]
    fn batches_fill_to_batch_size_then_a_new_one_starts() {
        let now = Instant::now();
        let mut acc = Accumulator::new(config(300, 1000, false), 1);
        let mut outcomes = Vec::new();
        for _ in 0..6 {
            let (record, _rx) = pending(100);
            outcomes.push(acc.append("t", Placement::Fixed(0), record, now).unwrap().0);
        }
        // 61 + two records of ~106 bytes fit in 300; the third does not.
        assert!(outcomes[0].new_batch && !outcomes[1].new_batch && outcomes[2].new_batch);
        let queue = &acc.partitions[&tp("t", 0)];
        assert_eq!(queue.batches.iter().map(|b| b.record_count()).collect::<Vec<_>>(), vec![2, 2, 2]);
        assert!(queue.batches.iter().all(|b| b.size_bytes <= 300));
    }

    #[test]
    fn a_record_larger_than_batch_size_gets_a_batch_of_its_own() {
        let now = Instant::now();
        let mut acc = Accumulator::new(config(100, 1000, false), 1);
        let (small, _a) = pending(10);
        let (big, _b) = pending(500);
        acc.append("t", Placement::Fixed(0), small, now);
        let (outcome, _) = acc.append("t", Placement::Fixed(0), big, now).unwrap();
        assert!(outcome.new_batch && outcome.batch_full);
        assert_eq!(acc.partitions[&tp("t", 0)].batches.len(), 2);
    }

    #[test]
    fn linger_holds_a_batch_until_due_unless_full_or_flushing() {
        let now = Instant::now();
        let mut acc = Accumulator::new(config(16_384, 50, false), 1);
        let (record, _rx) = pending(10);
        acc.append("t", Placement::Fixed(0), record, now);
        let (ready, next) = acc.ready(now);
        assert!(ready.is_empty());
        assert_eq!(next, Some(now + Duration::from_millis(50)));
        assert_eq!(acc.ready(now + Duration::from_millis(50)).0, vec![tp("t", 0)]);
        acc.begin_flush();
        assert_eq!(acc.ready(now).0, vec![tp("t", 0)], "flush ignores linger");
        acc.end_flush();
        acc.begin_close();
        assert_eq!(acc.ready(now).0, vec![tp("t", 0)], "closing ignores linger");
    }

    #[test]
    fn full_batches_are_ready_at_once() {
        let now = Instant::now();
        let mut acc = Accumulator::new(config(200, 10_000, false), 1);
        for _ in 0..2 {
            let (record, _rx) = pending(100);
            acc.append("t", Placement::Fixed(1), record, now);
        }
        assert_eq!(acc.ready(now).0, vec![tp("t", 1)]);
    }

    #[test]
    fn drain_takes_one_batch_per_partition_within_the_request_size() {
        let now = Instant::now();
        let mut acc = Accumulator::new(config(200, 0, false), 1);
        for partition in 0..3 {
            for _ in 0..4 {
                let (record, _rx) = pending(100);
                acc.append("t", Placement::Fixed(partition), record, now);
            }
        }
        let all = vec![tp("t", 0), tp("t", 1), tp("t", 2)];
        let drained = acc.drain(&all, 10_000, None, now);
        assert_eq!(drained.len(), 3);
        let partitions: BTreeSet<i32> = drained.iter().map(|b| b.partition).collect();
        assert_eq!(partitions.len(), 3, "one batch per partition");
        // A request limit smaller than two batches: only the first goes.
        let drained = acc.drain(&all, 200, None, now);
        assert_eq!(drained.len(), 1);
        assert_eq!(acc.in_flight_batches(), 4);
    }

    #[test]
    fn idempotent_batches_get_consecutive_sequences_and_keep_them_on_retry() {
        let now = Instant::now();
        let mut acc = Accumulator::new(config(200, 0, true), 1);
        for _ in 0..6 {
            let (record, _rx) = pending(50);
            acc.append("t", Placement::Fixed(0), record, now);
        }
        let parts = vec![tp("t", 0)];
        assert!(acc.drain(&parts, 10_000, None, now).is_empty(), "no producer id yet: nothing goes");
        let first = acc.drain(&parts, 10_000, Some(ID), now).pop().unwrap();
        let second = acc.drain(&parts, 10_000, Some(ID), now).pop().unwrap();
        assert_eq!(first.base_sequence(), Some(0));
        assert_eq!(second.base_sequence(), Some(first.record_count() as i32));
        assert_eq!(first.producer_fields.unwrap().producer_id, 9);

        // The first fails retriably: it goes back ahead of new batches and keeps sequence 0.
        acc.reenqueue(first, now);
        let again = acc.drain(&parts, 10_000, Some(ID), now).pop().unwrap();
        assert_eq!(again.base_sequence(), Some(0));
        assert_eq!(again.attempts, 2);
        // The second fails too; it must wait until sequence 0 is resolved.
        acc.reenqueue(second, now);
        assert!(acc.drain(&parts, 10_000, Some(ID), now).is_empty());
        acc.batch_resolved(&again);
        let retried = acc.drain(&parts, 10_000, Some(ID), now).pop().unwrap();
        assert_eq!(retried.base_sequence(), Some(again.record_count() as i32));
    }

    #[test]
    fn sequences_continue_after_the_partition_queue_empties() {
        let now = Instant::now();
        let mut acc = Accumulator::new(config(16_384, 0, true), 1);
        let parts = vec![tp("t", 0)];
        let mut sequences = Vec::new();
        for _ in 0..3 {
            let (record, _rx) = pending(10);
            acc.append("t", Placement::Fixed(0), record, now);
            let batch = acc.drain(&parts, 10_000, Some(ID), now).pop().unwrap();
            sequences.push(batch.base_sequence().unwrap());
            acc.batch_resolved(&batch);
            assert!(acc.is_empty());
        }
        // A restart at 0 would make the broker drop the later batches as duplicates.
        assert_eq!(sequences, vec![0, 1, 2]);
    }

    #[test]
    fn one_in_flight_per_partition_keeps_order_without_idempotence() {
        let now = Instant::now();
        let mut acc = Accumulator::new(AccumulatorConfig { one_in_flight_per_partition: true, ..config(100, 0, false) }, 1);
        for _ in 0..4 {
            let (record, _rx) = pending(50);
            acc.append("t", Placement::Fixed(0), record, now);
        }
        let parts = vec![tp("t", 0)];
        let first = acc.drain(&parts, 10_000, None, now).pop().unwrap();
        assert!(acc.drain(&parts, 10_000, None, now).is_empty(), "the partition is muted while a batch is in flight");
        acc.reenqueue(first, now);
        let retried = acc.drain(&parts, 10_000, None, now).pop().unwrap();
        assert_eq!(retried.attempts, 2, "the retry goes before the later batches");
    }

    #[test]
    fn retries_wait_for_their_backoff() {
        let now = Instant::now();
        let mut acc = Accumulator::new(config(16_384, 0, false), 1);
        let (record, _rx) = pending(10);
        acc.append("t", Placement::Fixed(0), record, now);
        let batch = acc.drain(&[tp("t", 0)], 10_000, None, now).pop().unwrap();
        let later = now + Duration::from_millis(100);
        acc.reenqueue(batch, later);
        let (ready, next) = acc.ready(now);
        assert!(ready.is_empty());
        assert_eq!(next, Some(later));
        assert_eq!(acc.ready(later).0.len(), 1);
    }

    #[test]
    fn split_keeps_sequences_per_record() {
        let now = Instant::now();
        let mut acc = Accumulator::new(config(16_384, 0, true), 1);
        for _ in 0..3 {
            let (record, _rx) = pending(10);
            acc.append("t", Placement::Fixed(0), record, now);
        }
        let parts = vec![tp("t", 0)];
        let batch = acc.drain(&parts, 10_000, Some(ID), now).pop().unwrap();
        assert_eq!(batch.record_count(), 3);
        acc.split_and_reenqueue(batch, now);
        let mut sequences = Vec::new();
        while let Some(single) = acc.drain(&parts, 10_000, Some(ID), now).pop() {
            assert_eq!(single.record_count(), 1);
            sequences.push(single.base_sequence().unwrap());
            acc.batch_resolved(&single);
        }
        assert_eq!(sequences, vec![0, 1, 2]);
        assert!(acc.is_empty());
        assert!(acc.completed_before(acc.next_record_id()));
    }

    #[test]
    fn restart_sequences_renumbers_queued_retries_from_zero() {
        let now = Instant::now();
        let mut acc = Accumulator::new(config(100, 0, true), 1);
        for _ in 0..2 {
            let (record, _rx) = pending(30);
            acc.append("t", Placement::Fixed(0), record, now);
        }
        let parts = vec![tp("t", 0)];
        let a = acc.drain(&parts, 10_000, Some(ID), now).pop().unwrap();
        let b = acc.drain(&parts, 10_000, Some(ID), now).pop().unwrap();
        assert_eq!((a.base_sequence(), b.base_sequence()), (Some(0), Some(1)));
        // a failed for good (its sequence is resolved); b is retried under a new epoch.
        acc.batch_resolved(&a);
        acc.reenqueue(b, now);
        let bumped = ProducerIdentity { producer_id: 9, producer_epoch: 1 };
        acc.restart_sequences(bumped);
        let mut b = acc.drain(&parts, 10_000, Some(bumped), now).pop().unwrap();
        assert_eq!(b.producer_fields, Some(ProducerFields { producer_id: 9, producer_epoch: 1, base_sequence: 0 }));
        let bytes = b.encoded(Compression::None).unwrap();
        let header = runnel_protocol::batch::validate_batch(&bytes).unwrap();
        assert_eq!((header.producer_epoch, header.base_sequence), (1, 0), "re-encoded with the new fields");
    }

    #[test]
    fn expired_batches_are_removed_and_counted_complete() {
        let now = Instant::now();
        let mut acc = Accumulator::new(config(16_384, 10_000, false), 1);
        let (record, _rx) = pending(10);
        acc.append("t", Placement::Fixed(0), record, now);
        assert!(acc.expire(now).is_empty());
        let expired = acc.expire(now + Duration::from_secs(120));
        assert_eq!(expired.len(), 1);
        assert!(acc.is_empty());
        assert!(acc.completed_before(acc.next_record_id()));
    }

    #[test]
    fn sequences_wrap_like_kafka() {
        assert_eq!(increment_sequence(5, 3), 8);
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
    }

    #[test]
    fn completing_a_batch_answers_each_record_once() {
        let now = Instant::now();
        let mut acc = Accumulator::new(config(16_384, 0, false), 1);
        let (record, mut rx) = pending(10);
        acc.append("t", Placement::Fixed(0), record, now);
        let mut batch = acc.drain(&[tp("t", 0)], 10_000, None, now).pop().unwrap();
        batch.complete(|i, _| Ok(RecordMetadata { topic: "t".into(), partition: 0, offset: 10 + i as i64, timestamp: 1 }));
        assert!(batch.is_done());
        batch.complete(|_, _| Err(crate::error::Error::Closed));
        assert_eq!(rx.try_recv().unwrap().unwrap().offset, 10);
    }
}
