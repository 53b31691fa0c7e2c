//! Idempotent-producer state of one partition, as Kafka's ProducerStateManager keeps it:
//! per producer id its epoch and the metadata of its last [`PRODUCER_BATCHES_RETAINED`]
//! batches, so a retried batch is recognised and answered with its original offsets.
//!
//! Rules for a batch with a producer id (ids below zero bypass all of this), in order:
//! 1. same epoch and a cached batch with the same first and last sequence: a duplicate;
//! 2. epoch below the current one: `InvalidProducerEpoch`;
//! 3. epoch above the current one (a bump): the first sequence must be 0 (unless the entry
//!    has no epoch yet), else `OutOfOrderSequence`;
//! 4. same epoch: the first sequence must follow the last one (`i32::MAX` is followed by 0),
//!    else `OutOfOrderSequence`; a producer with no entry (new, or expired) may start anywhere.
//!
//! Expiry follows Kafka: an entry expires when `now - last_timestamp >= producer.id.expiration.ms`,
//! where `last_timestamp` is the max timestamp of the producer's last batch.
//!
//! Snapshot file `<offset>.snapshot` (big-endian): magic `RNPS`, version u16 = 1,
//! end_offset i64, producer_count u32, then per producer: producer_id i64, epoch i16,
//! last_timestamp i64, batch_count u8, and per batch (oldest first) first_seq i32,
//! last_seq i32, base_offset i64, last_offset i64, max_timestamp i64; then CRC-32C u32 of
//! everything before it. Unlike Kafka (which keeps only the last batch) all five batches are
//! saved, so the duplicate window survives a restart whole.

use std::collections::{HashMap, VecDeque};

use runnel_protocol::batch::{BatchHeader, NO_PRODUCER_EPOCH};

use crate::LogError;

/// Batches remembered per producer (Kafka's NUM_BATCHES_TO_RETAIN, matching the client's
/// max.in.flight.requests.per.connection limit for idempotence).
pub const PRODUCER_BATCHES_RETAINED: usize = 5;

const SNAPSHOT_MAGIC: &[u8; 4] = b"RNPS";
const SNAPSHOT_VERSION: u16 = 1;
const SNAPSHOT_HEADER_BYTES: usize = 4 + 2 + 8 + 4;
const SNAPSHOT_ENTRY_BYTES: usize = 8 + 2 + 8 + 1;
const SNAPSHOT_BATCH_BYTES: usize = 4 + 4 + 8 + 8 + 8;
const SNAPSHOT_CRC_BYTES: usize = 4;

/// What the log remembers of one appended batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMetadata {
    pub first_seq: i32,
    pub last_seq: i32,
    pub base_offset: i64,
    pub last_offset: i64,
    pub max_timestamp: i64,
}

/// One producer's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerEntry {
    pub epoch: i16,
    /// Max timestamp of the producer's last batch; drives expiry.
    pub last_timestamp: i64,
    batches: VecDeque<BatchMetadata>,
}

impl ProducerEntry {
    /// Cached batches, oldest first.
    pub fn batches(&self) -> impl Iterator<Item = &BatchMetadata> {
        self.batches.iter()
    }

    fn last_seq(&self) -> Option<i32> {
        self.batches.back().map(|b| b.last_seq)
    }

    fn add(&mut self, epoch: i16, batch: BatchMetadata) {
        if epoch != self.epoch {
            self.batches.clear();
            self.epoch = epoch;
        }
        if self.batches.len() == PRODUCER_BATCHES_RETAINED {
            self.batches.pop_front();
        }
        self.batches.push_back(batch);
        self.last_timestamp = batch.max_timestamp;
    }
}

/// The verdict on a batch before it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProducerCheck {
    Append,
    Duplicate { base_offset: i64, last_offset: i64 },
}

fn in_sequence(last_seq: i32, next_seq: i32) -> bool {
    i64::from(next_seq) == i64::from(last_seq) + 1 || (next_seq == 0 && last_seq == i32::MAX)
}

fn next_sequence(last_seq: i32) -> i32 {
    if last_seq == i32::MAX {
        0
    } else {
        last_seq + 1
    }
}

/// Producer id to state, for one partition.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ProducerStateManager {
    producers: HashMap<i64, ProducerEntry>,
}

impl ProducerStateManager {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.producers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    pub fn entry(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    /// Applies the rules in the module docs to a batch about to be appended.
    pub(crate) fn check(&self, header: &BatchHeader) -> Result<ProducerCheck, LogError> {
        if !header.has_producer_id() {
            return Ok(ProducerCheck::Append);
        }
        let Some(entry) = self.producers.get(&header.producer_id) else {
            return Ok(ProducerCheck::Append);
        };
        let (epoch, first_seq, last_seq) = (header.producer_epoch, header.base_sequence, header.last_sequence());
        if epoch == entry.epoch {
            if let Some(cached) = entry.batches.iter().find(|b| b.first_seq == first_seq && b.last_seq == last_seq) {
                return Ok(ProducerCheck::Duplicate { base_offset: cached.base_offset, last_offset: cached.last_offset });
            }
        }
        if epoch < entry.epoch {
            return Err(LogError::InvalidProducerEpoch {
                producer_id: header.producer_id,
                received: epoch,
                current: entry.epoch,
            });
        }
        if epoch != entry.epoch {
            if first_seq != 0 && entry.epoch != NO_PRODUCER_EPOCH {
                return Err(LogError::OutOfOrderSequence { producer_id: header.producer_id, expected: 0, received: first_seq });
            }
            return Ok(ProducerCheck::Append);
        }
        match entry.last_seq() {
            Some(last) if entry.epoch != NO_PRODUCER_EPOCH && !in_sequence(last, first_seq) => {
                Err(LogError::OutOfOrderSequence {
                    producer_id: header.producer_id,
                    expected: next_sequence(last),
                    received: first_seq,
                })
            }
            _ => Ok(ProducerCheck::Append),
        }
    }

    /// Records a batch written at its final offsets (live appends and log replay alike).
    /// `header` carries the stored base offset and max timestamp.
    pub(crate) fn record(&mut self, header: &BatchHeader) {
        if !header.has_producer_id() {
            return;
        }
        let batch = BatchMetadata {
            first_seq: header.base_sequence,
            last_seq: header.last_sequence(),
            base_offset: header.base_offset,
            last_offset: header.last_offset(),
            max_timestamp: header.max_timestamp,
        };
        self.producers
            .entry(header.producer_id)
            .or_insert_with(|| ProducerEntry {
                epoch: header.producer_epoch,
                last_timestamp: header.max_timestamp,
                batches: VecDeque::with_capacity(PRODUCER_BATCHES_RETAINED),
            })
            .add(header.producer_epoch, batch);
    }

    /// Drops producers idle for `expiration_ms` or more; returns how many.
    pub fn expire(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers.retain(|_, entry| now_ms.saturating_sub(entry.last_timestamp) < expiration_ms);
        before - self.producers.len()
    }

    /// Encodes the state as of `end_offset` in the snapshot format of the module docs.
    pub fn encode_snapshot(&self, end_offset: i64) -> Vec<u8> {
        let mut ids: Vec<i64> = self.producers.keys().copied().collect();
        ids.sort_unstable();
        let batches: usize = self.producers.values().map(|e| e.batches.len()).sum();
        let mut out = Vec::with_capacity(
            SNAPSHOT_HEADER_BYTES
                + ids.len() * SNAPSHOT_ENTRY_BYTES
                + batches * SNAPSHOT_BATCH_BYTES
                + SNAPSHOT_CRC_BYTES,
        );
        out.extend_from_slice(SNAPSHOT_MAGIC);
        out.extend_from_slice(&SNAPSHOT_VERSION.to_be_bytes());
        out.extend_from_slice(&end_offset.to_be_bytes());
        out.extend_from_slice(&(ids.len() as u32).to_be_bytes());
        for id in ids {
            let entry = &self.producers[&id];
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&entry.epoch.to_be_bytes());
            out.extend_from_slice(&entry.last_timestamp.to_be_bytes());
            out.push(entry.batches.len() as u8);
            for b in &entry.batches {
                out.extend_from_slice(&b.first_seq.to_be_bytes());
                out.extend_from_slice(&b.last_seq.to_be_bytes());
                out.extend_from_slice(&b.base_offset.to_be_bytes());
                out.extend_from_slice(&b.last_offset.to_be_bytes());
                out.extend_from_slice(&b.max_timestamp.to_be_bytes());
            }
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_be_bytes());
        out
    }

    /// Decodes a snapshot: `(end_offset, state)`, or `None` if it is not a whole, intact one.
    pub fn decode_snapshot(bytes: &[u8]) -> Option<(i64, Self)> {
        let body_len = bytes.len().checked_sub(SNAPSHOT_CRC_BYTES)?;
        let (body, crc) = bytes.split_at(body_len);
        if u32::from_be_bytes(crc.try_into().ok()?) != crc32c::crc32c(body) {
            return None;
        }
        let mut reader = Reader { bytes: body };
        if reader.take(4)? != SNAPSHOT_MAGIC || reader.u16()? != SNAPSHOT_VERSION {
            return None;
        }
        let end_offset = reader.i64()?;
        let count = reader.u32()?;
        let mut producers = HashMap::new();
        for _ in 0..count {
            let id = reader.i64()?;
            let epoch = reader.u16()? as i16;
            let last_timestamp = reader.i64()?;
            let batch_count = usize::from(reader.take(1)?[0]);
            if batch_count > PRODUCER_BATCHES_RETAINED {
                return None;
            }
            let mut batches = VecDeque::with_capacity(PRODUCER_BATCHES_RETAINED);
            for _ in 0..batch_count {
                batches.push_back(BatchMetadata {
                    first_seq: reader.u32()? as i32,
                    last_seq: reader.u32()? as i32,
                    base_offset: reader.i64()?,
                    last_offset: reader.i64()?,
                    max_timestamp: reader.i64()?,
                });
            }
            producers.insert(id, ProducerEntry { epoch, last_timestamp, batches });
        }
        reader.bytes.is_empty().then_some((end_offset, Self { producers }))
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.bytes.len() < n {
            return None;
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Some(head)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runnel_protocol::batch::testing::batch;

    fn header(producer_id: i64, epoch: i16, first_seq: i32, records: i32, base_offset: i64) -> BatchHeader {
        let mut bytes = batch(records, 1, 1_000, producer_id, epoch, first_seq);
        runnel_protocol::batch::set_base_offset(&mut bytes, base_offset);
        BatchHeader::parse(&bytes).unwrap()
    }

    #[test]
    fn snapshot_round_trips_and_any_flipped_byte_is_rejected() {
        let mut state = ProducerStateManager::new();
        for i in 0..7 {
            state.record(&header(3, 1, i * 2, 2, i64::from(i) * 2));
        }
        state.record(&header(9, 0, 0, 1, 100));
        let bytes = state.encode_snapshot(101);
        let (end, decoded) = ProducerStateManager::decode_snapshot(&bytes).unwrap();
        assert_eq!(end, 101);
        assert_eq!(decoded, state);
        assert_eq!(decoded.entry(3).unwrap().batches().count(), PRODUCER_BATCHES_RETAINED);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            assert!(ProducerStateManager::decode_snapshot(&bad).is_none(), "flip at {i}");
        }
        assert!(ProducerStateManager::decode_snapshot(&bytes[..bytes.len() - 1]).is_none());
        assert!(ProducerStateManager::decode_snapshot(&[]).is_none());
    }

    #[test]
    fn sequence_after_i32_max_is_zero() {
        let mut state = ProducerStateManager::new();
        state.record(&header(1, 0, i32::MAX - 1, 2, 0));
        assert_eq!(state.check(&header(1, 0, 0, 1, 0)).unwrap(), ProducerCheck::Append);
        assert!(matches!(
            state.check(&header(1, 0, 1, 1, 0)),
            Err(LogError::OutOfOrderSequence { expected: 0, received: 1, .. })
        ));
    }

    #[test]
    fn expiry_uses_the_last_batch_timestamp() {
        let mut state = ProducerStateManager::new();
        state.record(&header(1, 0, 0, 1, 0)); // max timestamp 1_000
        assert_eq!(state.expire(1_000 + 499, 500), 0);
        assert_eq!(state.expire(1_000 + 500, 500), 1);
        assert!(state.is_empty());
    }
}
