//! Consumer lag: each group's committed offsets against its partitions' log end offsets, the
//! age of the oldest unconsumed record, and the sampler that keeps the last
//! [`LAG_HISTORY_MS`] of lag per group for `/api/groups/{group}/lag`.
//!
//! Committed offsets are read from the coordinator under its lock (one short pass over the
//! known partitions); log end offsets and record timestamps are read after it is released.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use runnel_coordinator::GroupCoordinator;
use runnel_protocol::batch::BatchHeader;
use runnel_protocol::records::{for_each_record, DecodeLimits};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::state::AdminState;
use crate::context::{now_ms, BrokerContext};
use crate::topics::Partition;

/// How often the sampler records every group's lag.
pub const LAG_SAMPLE_INTERVAL_MS: u64 = 5_000;
/// How much lag history is kept per group.
pub const LAG_HISTORY_MS: u64 = 600_000;
/// Samples kept per group: the history divided by the interval.
pub const LAG_SAMPLES_MAX: usize = (LAG_HISTORY_MS / LAG_SAMPLE_INTERVAL_MS) as usize;
/// Most groups the sampler keeps history for (the first in group-id order).
pub const LAG_GROUPS_MAX: usize = 1_000;
/// Most partitions recorded per group per sample.
pub const LAG_PARTITIONS_PER_SAMPLE_MAX: usize = 1_000;
/// Bytes read to find the record at a committed offset: with `min_one_batch`, one batch.
const FIRST_BATCH_READ_BYTES: usize = 1;

/// One committed offset of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// One committed partition with its lag.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: i32,
    pub committed_offset: i64,
    pub log_end_offset: i64,
    pub lag: i64,
    /// Age of the record at the committed offset (the oldest not yet consumed); 0 when
    /// caught up.
    pub lag_seconds: f64,
}

/// Every committed offset of `group_id` on a partition that exists now, by topic and partition.
pub fn committed_offsets(coordinator: &GroupCoordinator, ctx: &BrokerContext, group_id: &str) -> Vec<Committed> {
    let mut out = Vec::new();
    for topic in ctx.topics.all() {
        for partition in &topic.partitions {
            if let Some(value) = coordinator.committed_offset(group_id, &topic.name, partition.index) {
                out.push(Committed { topic: topic.name.clone(), partition: partition.index, offset: value.offset });
            }
        }
    }
    out.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    out
}

/// Timestamps of records already looked up, by (topic, partition, offset): groups at the same
/// offset share one read within a scrape.
pub type TimestampCache = HashMap<(String, i32, i64), Option<i64>>;

/// The lag of each committed offset; `with_seconds` also reads the oldest unconsumed record's
/// timestamp (one batch read per lagging partition).
pub fn lag_of(ctx: &BrokerContext, committed: &[Committed], now_ms: i64, with_seconds: bool) -> Vec<PartitionLag> {
    lag_with_cache(ctx, committed, now_ms, with_seconds, &mut TimestampCache::new())
}

/// [`lag_of`] sharing record timestamps through `cache`.
pub fn lag_with_cache(
    ctx: &BrokerContext,
    committed: &[Committed],
    now_ms: i64,
    with_seconds: bool,
    cache: &mut TimestampCache,
) -> Vec<PartitionLag> {
    committed
        .iter()
        .filter_map(|c| {
            let partition = ctx.topics.partition(&c.topic, c.partition)?;
            let log_end_offset = partition.high_watermark();
            let lag = (log_end_offset - c.offset.max(0)).max(0);
            let lag_seconds = if with_seconds && lag > 0 {
                let from = c.offset.max(partition.log_start_offset());
                let timestamp = *cache
                    .entry((c.topic.clone(), c.partition, from))
                    .or_insert_with(|| record_timestamp_at(&partition, from));
                timestamp.map_or(0.0, |timestamp| (now_ms - timestamp).max(0) as f64 / 1000.0)
            } else {
                0.0
            };
            Some(PartitionLag {
                topic: c.topic.clone(),
                partition: c.partition,
                committed_offset: c.offset,
                log_end_offset,
                lag,
                lag_seconds,
            })
        })
        .collect()
}

/// The timestamp of the first record at or after `offset`, if the log has one.
pub fn record_timestamp_at(partition: &Partition, offset: i64) -> Option<i64> {
    let read = partition.read(offset, FIRST_BATCH_READ_BYTES, true).ok()?;
    let mut rest = read.bytes.as_slice();
    let limits = DecodeLimits::default();
    while !rest.is_empty() {
        let header = BatchHeader::parse(rest).ok()?;
        let batch = rest.get(..header.total_bytes())?;
        rest = &rest[header.total_bytes()..];
        if header.is_control() || header.last_offset() < offset {
            continue;
        }
        let found = for_each_record(batch, &header, &limits, |record| {
            if record.offset(&header) >= offset {
                ControlFlow::Break(record.timestamp(&header))
            } else {
                ControlFlow::Continue(())
            }
        });
        if let Ok(Some(timestamp)) = found {
            return Some(timestamp);
        }
    }
    None
}

/// One partition's lag in a sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SampledLag {
    pub topic: String,
    pub partition: i32,
    pub lag: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LagSample {
    pub t_ms: i64,
    pub partitions: Vec<SampledLag>,
}

/// The last [`LAG_SAMPLES_MAX`] samples of at most [`LAG_GROUPS_MAX`] groups.
#[derive(Debug, Default)]
pub struct LagHistory {
    by_group: BTreeMap<String, VecDeque<LagSample>>,
}

impl LagHistory {
    /// Adds one round of samples; groups missing from `round` are forgotten.
    pub fn record(&mut self, round: Vec<(String, LagSample)>) {
        let mut kept = BTreeMap::new();
        for (group_id, mut sample) in round.into_iter().take(LAG_GROUPS_MAX) {
            sample.partitions.truncate(LAG_PARTITIONS_PER_SAMPLE_MAX);
            let mut samples = self.by_group.remove(&group_id).unwrap_or_default();
            samples.push_back(sample);
            while samples.len() > LAG_SAMPLES_MAX {
                samples.pop_front();
            }
            kept.insert(group_id, samples);
        }
        self.by_group = kept;
    }

    pub fn samples(&self, group_id: &str) -> Vec<LagSample> {
        self.by_group.get(group_id).map(|samples| samples.iter().cloned().collect()).unwrap_or_default()
    }
}

/// One sampling round: every group's lag now, in group-id order.
pub fn sample_round(ctx: &BrokerContext, now_ms: i64) -> Vec<(String, LagSample)> {
    let committed: Vec<(String, Vec<Committed>)> = ctx.groups.inspect(|coordinator| {
        let mut ids: Vec<String> = coordinator.groups().map(|group| group.group_id().to_string()).collect();
        ids.sort();
        ids.truncate(LAG_GROUPS_MAX);
        ids.into_iter().map(|id| {
            let offsets = committed_offsets(coordinator, ctx, &id);
            (id, offsets)
        }).collect()
    });
    committed
        .into_iter()
        .map(|(group_id, offsets)| {
            let partitions = lag_of(ctx, &offsets, now_ms, false)
                .into_iter()
                .map(|p| SampledLag { topic: p.topic, partition: p.partition, lag: p.lag })
                .collect();
            (group_id, LagSample { t_ms: now_ms, partitions })
        })
        .collect()
}

/// Samples every group's lag every [`LAG_SAMPLE_INTERVAL_MS`] until shutdown.
pub async fn sample_lag(state: Arc<AdminState>, shutdown: CancellationToken) {
    let mut interval = tokio::time::interval(Duration::from_millis(LAG_SAMPLE_INTERVAL_MS));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        let Some(ctx) = state.broker().cloned() else { continue };
        let sampling = state.clone();
        let sampled = tokio::task::spawn_blocking(move || {
            let round = sample_round(&ctx, now_ms());
            sampling.lag.lock().record(round);
        });
        if let Err(error) = sampled.await {
            tracing::error!(%error, "lag sampling failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t_ms: i64, lag: i64) -> LagSample {
        LagSample { t_ms, partitions: vec![SampledLag { topic: "t".into(), partition: 0, lag }] }
    }

    #[test]
    fn history_keeps_the_last_ten_minutes_per_group() {
        let mut history = LagHistory::default();
        for i in 0..(LAG_SAMPLES_MAX as i64 + 7) {
            history.record(vec![("g".into(), sample(i, i))]);
        }
        let kept = history.samples("g");
        assert_eq!(kept.len(), LAG_SAMPLES_MAX);
        assert_eq!(kept.first().map(|s| s.t_ms), Some(7));
        assert_eq!(kept.last().map(|s| s.t_ms), Some(LAG_SAMPLES_MAX as i64 + 6));
    }

    #[test]
    fn groups_gone_from_a_round_are_forgotten_and_groups_are_bounded() {
        let mut history = LagHistory::default();
        history.record(vec![("a".into(), sample(1, 1)), ("b".into(), sample(1, 2))]);
        history.record(vec![("b".into(), sample(2, 3))]);
        assert!(history.samples("a").is_empty());
        assert_eq!(history.samples("b").len(), 2);
        let many = (0..LAG_GROUPS_MAX + 5).map(|i| (format!("g{i:05}"), sample(3, 0))).collect();
        history.record(many);
        assert_eq!(history.by_group.len(), LAG_GROUPS_MAX);
    }
}
