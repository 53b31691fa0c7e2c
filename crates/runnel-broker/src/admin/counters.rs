//! Request counters the connection loop updates on every request: per Kafka API a count, a
//! latency histogram and the latency sum, plus bytes received and sent. Plain relaxed atomics
//! in fixed arrays indexed by API key, so recording takes no lock and allocates nothing;
//! `metrics` reads them when /metrics is scraped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// API keys below this get their own slot (Kafka's highest is below 100); the rest share the
/// last slot, shown as `api="Unknown"`.
pub const API_SLOTS: usize = 128;

/// Upper bounds (seconds) of the latency histogram buckets; `+Inf` is the count.
pub const LATENCY_BUCKETS_SECONDS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

const NANOS_PER_SECOND: f64 = 1e9;

/// One API's counters. Bucket counts are per bucket (not cumulative); rendering adds them up.
#[derive(Default)]
pub struct ApiCounters {
    count: AtomicU64,
    latency_sum_nanos: AtomicU64,
    buckets: [AtomicU64; LATENCY_BUCKETS_SECONDS.len()],
}

/// A consistent-enough copy of one API's counters for rendering.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiSnapshot {
    pub api_key: usize,
    pub count: u64,
    pub latency_sum_seconds: f64,
    /// Cumulative, one per bucket of [`LATENCY_BUCKETS_SECONDS`].
    pub cumulative_buckets: Vec<u64>,
}

pub struct RequestMetrics {
    apis: Box<[ApiCounters]>,
    bytes_received: AtomicU64,
    bytes_sent: AtomicU64,
}

impl std::fmt::Debug for RequestMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestMetrics").finish_non_exhaustive()
    }
}

impl Default for RequestMetrics {
    fn default() -> Self {
        Self {
            apis: (0..API_SLOTS).map(|_| ApiCounters::default()).collect(),
            bytes_received: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
        }
    }
}

/// A request being timed: made when its frame has been read, finished once answered.
#[must_use]
pub struct RequestTimer<'a> {
    metrics: &'a RequestMetrics,
    slot: usize,
    started: Instant,
}

impl RequestMetrics {
    /// Starts timing the request in `frame` (a frame body, size prefix excluded) and counts its
    /// bytes, size prefix included. The API key is the frame's first two bytes.
    pub fn start(&self, frame: &[u8]) -> RequestTimer<'_> {
        self.bytes_received.fetch_add(frame.len() as u64 + 4, Ordering::Relaxed);
        let api_key = match frame {
            [high, low, ..] => i16::from_be_bytes([*high, *low]),
            _ => -1,
        };
        RequestTimer { metrics: self, slot: slot_of(api_key), started: Instant::now() }
    }

    fn record(&self, slot: usize, elapsed_nanos: u64, sent_bytes: usize) {
        self.bytes_sent.fetch_add(sent_bytes as u64, Ordering::Relaxed);
        let Some(api) = self.apis.get(slot) else { return };
        api.count.fetch_add(1, Ordering::Relaxed);
        api.latency_sum_nanos.fetch_add(elapsed_nanos, Ordering::Relaxed);
        let seconds = elapsed_nanos as f64 / NANOS_PER_SECOND;
        if let Some(bucket) = LATENCY_BUCKETS_SECONDS.iter().position(|bound| seconds <= *bound) {
            api.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn bytes_received(&self) -> u64 {
        self.bytes_received.load(Ordering::Relaxed)
    }

    pub fn bytes_sent(&self) -> u64 {
        self.bytes_sent.load(Ordering::Relaxed)
    }

    /// Every API that has answered at least one request, by API key.
    pub fn snapshot(&self) -> Vec<ApiSnapshot> {
        self.apis
            .iter()
            .enumerate()
            .filter_map(|(api_key, api)| {
                let count = api.count.load(Ordering::Relaxed);
                (count > 0).then(|| {
                    let mut running = 0;
                    let cumulative_buckets = api
                        .buckets
                        .iter()
                        .map(|bucket| {
                            running += bucket.load(Ordering::Relaxed);
                            // Read after the count: never let a bucket exceed +Inf.
                            running.min(count)
                        })
                        .collect();
                    let latency_sum_seconds = api.latency_sum_nanos.load(Ordering::Relaxed) as f64 / NANOS_PER_SECOND;
                    ApiSnapshot { api_key, count, latency_sum_seconds, cumulative_buckets }
                })
            })
            .collect()
    }
}

impl RequestTimer<'_> {
    /// Records the request as answered with a response frame of `sent_bytes` (0 if none).
    pub fn finish(self, sent_bytes: usize) {
        let elapsed_nanos = u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.metrics.record(self.slot, elapsed_nanos, sent_bytes);
    }
}

/// The slot of an API key: its own below [`API_SLOTS`] - 1, else the shared last slot.
pub fn slot_of(api_key: i16) -> usize {
    usize::try_from(api_key).ok().filter(|key| *key < API_SLOTS - 1).unwrap_or(API_SLOTS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_per_api_with_bytes_both_ways() {
        let metrics = RequestMetrics::default();
        metrics.start(&[0, 0, 0, 9, 1, 2]).finish(100);
        metrics.start(&[0, 0, 0, 9]).finish(50);
        metrics.start(&[0, 3]).finish(7);
        let snapshot = metrics.snapshot();
        let counts: Vec<_> = snapshot.iter().map(|api| (api.api_key, api.count)).collect();
        assert_eq!(counts, [(0, 2), (3, 1)]);
        assert_eq!(metrics.bytes_received(), (6 + 4) + (4 + 4) + (2 + 4));
        assert_eq!(metrics.bytes_sent(), 157);
    }

    #[test]
    fn odd_api_keys_share_the_last_slot() {
        assert_eq!(slot_of(-1), API_SLOTS - 1);
        assert_eq!(slot_of(i16::MAX), API_SLOTS - 1);
        assert_eq!(slot_of(18), 18);
        let metrics = RequestMetrics::default();
        metrics.start(&[0xff]).finish(0);
        assert_eq!(metrics.snapshot()[0].api_key, API_SLOTS - 1);
    }

    #[test]
    fn latencies_fill_cumulative_buckets_up_to_the_count() {
        let metrics = RequestMetrics::default();
        metrics.record(1, 100_000, 0); // 0.1 ms: first bucket
        metrics.record(1, 30_000_000, 0); // 30 ms: the 0.05 s bucket
        metrics.record(1, 60_000_000_000, 0); // a minute: only +Inf
        let api = &metrics.snapshot()[0];
        assert_eq!(api.count, 3);
        assert_eq!(api.cumulative_buckets[0], 1);
        let at_50ms = LATENCY_BUCKETS_SECONDS.iter().position(|b| *b == 0.05).expect("bucket");
        assert_eq!(api.cumulative_buckets[at_50ms - 1], 1);
        assert_eq!(api.cumulative_buckets[at_50ms], 2);
        assert_eq!(*api.cumulative_buckets.last().expect("buckets"), 2);
        assert!((api.latency_sum_seconds - 60.0301).abs() < 1e-9);
    }
}
