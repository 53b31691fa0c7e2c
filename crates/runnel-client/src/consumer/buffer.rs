//! The fetched records waiting to be handed out, and the rules for handing them out.
//!
//! Owns: the queue of completed fetches (Kafka's `FetchBuffer`) and draining it into
//! `poll()` batches (Kafka's `FetchCollector`): a completed fetch is used only while its
//! partition's position is still where the fetch started (else it is stale and dropped),
//! records are handed out in offset order up to `max.poll.records` and move the position,
//! a fetch with only control batches still moves it past them, a decode error surfaces
//! after the records before it, and partition errors turn into an offset reset, a metadata
//! refresh, or an error for the application. Pure state: no network.

use std::collections::VecDeque;

use super::codes;
use super::config::OffsetReset;
use super::decode::Decoded;
use super::record::{ConsumerRecord, Records, TopicPartition};
use super::subscription::{FetchState, ResetTarget, SubscriptionState};
use crate::error::{Error, Result};

/// A partition's fetched records not yet handed out.
pub(crate) struct CompletedFetch {
    tp: TopicPartition,
    /// The position these records continue from: the fetch offset, then one past each
    /// record handed out.
    cursor: i64,
    records: VecDeque<ConsumerRecord>,
    next_fetch_offset: i64,
    error: Option<Error>,
    error_code: i16,
    high_watermark: Option<i64>,
}

impl CompletedFetch {
    pub fn data(tp: TopicPartition, fetch_offset: i64, decoded: Decoded, high_watermark: i64) -> CompletedFetch {
        CompletedFetch {
            tp,
            cursor: fetch_offset,
            records: decoded.records.into(),
            next_fetch_offset: decoded.next_fetch_offset,
            error: decoded.error,
            error_code: codes::NONE,
            high_watermark: Some(high_watermark),
        }
    }

    pub fn failed(tp: TopicPartition, fetch_offset: i64, error_code: i16) -> CompletedFetch {
        CompletedFetch {
            tp,
            cursor: fetch_offset,
            records: VecDeque::new(),
            next_fetch_offset: fetch_offset,
            error: None,
            error_code,
            high_watermark: None,
        }
    }
}

pub(crate) struct FetchBuffer {
    completed: VecDeque<CompletedFetch>,
    reset_policy: OffsetReset,
    /// A partition error said the leader moved.
    pub metadata_refresh_needed: bool,
}

impl FetchBuffer {
    pub fn new(reset_policy: OffsetReset) -> FetchBuffer {
        FetchBuffer { completed: VecDeque::new(), reset_policy, metadata_refresh_needed: false }
    }

    pub fn push(&mut self, fetch: CompletedFetch) {
        self.completed.push_back(fetch);
    }

    /// Partitions with something buffered (not to be fetched again yet).
    pub fn partitions(&self) -> impl Iterator<Item = &TopicPartition> {
        self.completed.iter().map(|c| &c.tp)
    }

    /// Hands out up to `max_records` buffered records, advancing positions. An error stored
    /// with a partition's data is returned once the records before it were handed out.
    pub fn drain(&mut self, subscriptions: &mut SubscriptionState, max_records: usize) -> Result<Records> {
        let mut out = Records::default();
        let mut budget = max_records;
        while budget > 0 {
            let Some(front) = self.completed.front_mut() else { break };
            let current = subscriptions.state(&front.tp).and_then(|s| match s.fetch {
                FetchState::Fetching { position, .. } if !s.paused => Some(position),
                _ => None,
            });
            if current != Some(front.cursor) {
                // Revoked, paused, reset or seeked since the fetch was sent: its data is stale.
                self.completed.pop_front();
                continue;
            }
            if front.error_code != codes::NONE {
                let Some(fetch) = self.completed.pop_front() else { break };
                self.handle_partition_error(subscriptions, &fetch)?;
                continue;
            }
            if let Some(hw) = front.high_watermark {
                subscriptions.set_high_watermark(&front.tp, hw);
            }
            let take = budget.min(front.records.len());
            let batch: Vec<ConsumerRecord> = front.records.drain(..take).collect();
            if let Some(last) = batch.last() {
                let (to, epoch) = (last.offset + 1, last.leader_epoch);
                subscriptions.advance(&front.tp, front.cursor, to, epoch);
                front.cursor = to;
                budget -= batch.len();
                out.push(front.tp.clone(), batch);
            }
            if !front.records.is_empty() {
                break;
            }
            if let Some(error) = front.error.take() {
                if out.is_empty() {
                    self.completed.pop_front();
                    return Err(error);
                }
                // Report it on the next drain, after these records were handed out.
                front.error = Some(error);
                break;
            }
            // Skip the offsets of control batches and records below the fetch offset.
            if front.next_fetch_offset > front.cursor {
                subscriptions.advance(&front.tp, front.cursor, front.next_fetch_offset, None);
            }
            self.completed.pop_front();
        }
        Ok(out)
    }

    fn handle_partition_error(&mut self, subscriptions: &mut SubscriptionState, fetch: &CompletedFetch) -> Result<()> {
        let tp = &fetch.tp;
        match fetch.error_code {
            codes::OFFSET_OUT_OF_RANGE => {
                let target = match self.reset_policy {
                    OffsetReset::Earliest => ResetTarget::Earliest,
                    OffsetReset::Latest => ResetTarget::Latest,
                    OffsetReset::None => {
                        return Err(Error::kafka(
                            codes::OFFSET_OUT_OF_RANGE,
                            Some(format!("offset {} is out of range and auto.offset.reset=none", fetch.cursor)),
                            format!("fetch {tp}"),
                        ))
                    }
                };
                tracing::info!(partition = %tp, offset = fetch.cursor, "fetch offset out of range, resetting to {target:?}");
                subscriptions.request_reset(tp, target)?;
                Ok(())
            }
            code if codes::is_stale_metadata(code) => {
                tracing::debug!(partition = %tp, code, "fetch: leader moved, refreshing metadata");
                self.metadata_refresh_needed = true;
                Ok(())
            }
            code => {
                let error = Error::kafka(code, None, format!("fetch {tp}"));
                if error.is_retriable() {
                    tracing::debug!(partition = %tp, "fetch: {error}; retrying");
                    Ok(())
                } else {
                    Err(error)
                }
            }
        }
    }

    /// Drops everything buffered for partitions no longer assigned.
    pub fn retain_assigned(&mut self, subscriptions: &SubscriptionState) {
        self.completed.retain(|c| subscriptions.is_assigned(&c.tp));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::consumer::record::TimestampType;

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("t", p)
    }

    fn record(p: i32, offset: i64) -> ConsumerRecord {
        ConsumerRecord {
            topic: "t".into(),
            partition: p,
            offset,
            timestamp: 0,
            timestamp_type: TimestampType::CreateTime,
            key: None,
            value: None,
            headers: vec![],
            leader_epoch: Some(4),
        }
    }

    fn data(p: i32, from: i64, offsets: std::ops::Range<i64>, next: i64) -> CompletedFetch {
        let decoded = Decoded { records: offsets.map(|o| record(p, o)).collect(), next_fetch_offset: next, error: None };
        CompletedFetch::data(tp(p), from, decoded, next)
    }

    fn subscriptions(positions: &[(i32, i64)]) -> SubscriptionState {
        let mut state = SubscriptionState::default();
        state.assign_manual(positions.iter().map(|(p, _)| tp(*p)).collect::<BTreeSet<_>>()).unwrap();
        for (p, o) in positions {
            state.seek(&tp(*p), *o, None).unwrap();
        }
        state
    }

    fn offsets(records: &Records) -> Vec<(i32, i64)> {
        records.iter().map(|r| (r.partition, r.offset)).collect()
    }

    #[test]
    fn drain_honours_max_records_and_moves_positions() {
        let mut subs = subscriptions(&[(0, 0), (1, 5)]);
        let mut buffer = FetchBuffer::new(OffsetReset::Latest);
        buffer.push(data(0, 0, 0..4, 4));
        buffer.push(data(1, 5, 5..7, 7));
        let first = buffer.drain(&mut subs, 3).unwrap();
        assert_eq!(offsets(&first), vec![(0, 0), (0, 1), (0, 2)]);
        assert_eq!(subs.position(&tp(0)), Some(3));
        assert_eq!(subs.all_consumed()[&tp(0)], (3, Some(4)));
        let second = buffer.drain(&mut subs, 3).unwrap();
        assert_eq!(offsets(&second), vec![(0, 3), (1, 5), (1, 6)]);
        assert_eq!((subs.position(&tp(0)), subs.position(&tp(1))), (Some(4), Some(7)));
        assert!(buffer.drain(&mut subs, 3).unwrap().is_empty());
        assert_eq!(buffer.partitions().count(), 0);
    }

    #[test]
    fn a_fetch_for_an_old_position_is_dropped() {
        let mut subs = subscriptions(&[(0, 0)]);
        let mut buffer = FetchBuffer::new(OffsetReset::Latest);
        buffer.push(data(0, 0, 0..4, 4));
        subs.seek(&tp(0), 2, None).unwrap();
        assert!(buffer.drain(&mut subs, 10).unwrap().is_empty());
        assert_eq!(subs.position(&tp(0)), Some(2));
        // Revoked partitions lose their buffered data too.
        buffer.push(data(0, 2, 2..4, 4));
        subs.assign_manual(BTreeSet::from([tp(1)])).unwrap();
        buffer.retain_assigned(&subs);
        assert_eq!(buffer.partitions().count(), 0);
    }

    #[test]
    fn control_batches_alone_still_move_the_position() {
        let mut subs = subscriptions(&[(0, 10)]);
        let mut buffer = FetchBuffer::new(OffsetReset::Latest);
        buffer.push(data(0, 10, 0..0, 12));
        assert!(buffer.drain(&mut subs, 10).unwrap().is_empty());
        assert_eq!(subs.position(&tp(0)), Some(12));
    }

    #[test]
    fn out_of_range_resets_by_policy_or_fails_without_one() {
        for (policy, target) in [(OffsetReset::Earliest, ResetTarget::Earliest), (OffsetReset::Latest, ResetTarget::Latest)] {
            let mut subs = subscriptions(&[(0, 50)]);
            let mut buffer = FetchBuffer::new(policy);
            buffer.push(CompletedFetch::failed(tp(0), 50, codes::OFFSET_OUT_OF_RANGE));
            assert!(buffer.drain(&mut subs, 10).unwrap().is_empty());
            assert_eq!(subs.awaiting_reset(), vec![(tp(0), target)]);
        }
        let mut subs = subscriptions(&[(0, 50)]);
        let mut buffer = FetchBuffer::new(OffsetReset::None);
        buffer.push(CompletedFetch::failed(tp(0), 50, codes::OFFSET_OUT_OF_RANGE));
        let error = buffer.drain(&mut subs, 10).unwrap_err();
        assert_eq!(error.code(), Some(codes::OFFSET_OUT_OF_RANGE));
        assert_eq!(subs.position(&tp(0)), Some(50));
        // An answer for a position the application has since left is not acted on.
        let mut buffer = FetchBuffer::new(OffsetReset::Earliest);
        buffer.push(CompletedFetch::failed(tp(0), 40, codes::OFFSET_OUT_OF_RANGE));
        assert!(buffer.drain(&mut subs, 10).unwrap().is_empty());
        assert!(subs.awaiting_reset().is_empty());
    }

    #[test]
    fn moved_leaders_ask_for_metadata_and_fatal_codes_fail() {
        let mut subs = subscriptions(&[(0, 0), (1, 0)]);
        let mut buffer = FetchBuffer::new(OffsetReset::Latest);
        buffer.push(CompletedFetch::failed(tp(0), 0, codes::NOT_LEADER_OR_FOLLOWER));
        assert!(buffer.drain(&mut subs, 10).unwrap().is_empty());
        assert!(buffer.metadata_refresh_needed);
        buffer.push(CompletedFetch::failed(tp(1), 0, 29)); // TOPIC_AUTHORIZATION_FAILED
        assert_eq!(buffer.drain(&mut subs, 10).unwrap_err().code(), Some(29));
    }

    #[test]
    fn a_decode_error_comes_after_the_records_before_it() {
        let mut subs = subscriptions(&[(0, 0)]);
        let mut buffer = FetchBuffer::new(OffsetReset::Latest);
        let decoded = Decoded {
            records: (0..2).map(|o| record(0, o)).collect(),
            next_fetch_offset: 2,
            error: Some(Error::Protocol("bad batch at 2".into())),
        };
        buffer.push(CompletedFetch::data(tp(0), 0, decoded, 9));
        assert_eq!(offsets(&buffer.drain(&mut subs, 10).unwrap()), vec![(0, 0), (0, 1)]);
        assert!(matches!(buffer.drain(&mut subs, 10), Err(Error::Protocol(_))));
        assert_eq!(subs.position(&tp(0)), Some(2), "the position stays at the bad batch");
        assert!(buffer.drain(&mut subs, 10).unwrap().is_empty());
    }
}
