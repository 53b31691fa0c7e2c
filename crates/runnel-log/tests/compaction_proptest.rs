//! Property: whatever keyed appends, compactions, restarts and power losses happen, and
//! wherever the process dies (a halted or torn write, also in the middle of a compaction),
//! the log after reopening serves only records it accepted, at their original offsets,
//! strictly increasing, and its key -> latest value view equals the model's for everything
//! that survived the crash.

#[path = "compaction_support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::sync::Arc;

use proptest::prelude::*;
use runnel_log::{FaultPlan, FaultStorage, LogConfig, MemStorage, PartitionLog, Storage};
use runnel_protocol::kafka_protocol::records::Compression;
use support::*;

#[derive(Debug, Clone)]
enum Op {
    /// `records` records for keys `key, key + 1, ...` (mod 6); `value: None` writes tombstones.
    Append {
        key: u8,
        records: u8,
        value: Option<u16>,
        codec: u8,
    },
    Compact {
        advance_ms: i64,
    },
    Tick {
        advance_ms: i64,
    },
    /// Clean close and reopen.
    Restart,
    /// Power loss: whatever was not synced is gone.
    PowerLoss,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (0..6u8, 1..4u8, proptest::option::weighted(0.85, any::<u16>()), 0..5u8)
            .prop_map(|(key, records, value, codec)| Op::Append { key, records, value, codec }),
        3 => (0..2_000i64).prop_map(|advance_ms| Op::Compact { advance_ms }),
        1 => (0..1_000i64).prop_map(|advance_ms| Op::Tick { advance_ms }),
        1 => Just(Op::Restart),
        1 => Just(Op::PowerLoss),
    ]
}

fn config() -> impl Strategy<Value = LogConfig> {
    (
        prop_oneof![Just(300u64), Just(700), Just(1 << 20)],
        prop_oneof![Just(300i64), Just(i64::MAX)],
        0..200u64,
        prop_oneof![Just(0.0f64), Just(0.3)],
        prop_oneof![Just(0i64), Just(500), Just(5_000)],
        prop_oneof![Just(0i64), Just(400)],
        prop_oneof![Just(150u64), Just(128 << 20)],
        prop_oneof![Just(1i64), Just(i64::MAX)],
    )
        .prop_map(
            |(
                segment_bytes,
                segment_ms,
                index_interval_bytes,
                ratio,
                delete_retention_ms,
                min_lag,
                dedupe,
                flush_messages,
            )| {
                LogConfig {
                    compact: true,
                    segment_bytes,
                    segment_ms,
                    index_interval_bytes,
                    min_cleanable_dirty_ratio: ratio,
                    delete_retention_ms,
                    min_compaction_lag_ms: min_lag,
                    cleaner_dedupe_buffer_bytes: dedupe,
                    flush_messages,
                    retention_ms: -1,
                    ..LogConfig::default()
                }
            },
        )
}

fn codec(index: u8) -> Compression {
    [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd][index as usize % 5]
}

/// What the test knows the log accepted.
#[derive(Default)]
struct Model {
    records: Vec<Served>,
    /// Records of an append that failed: it may or may not have reached the disk.
    pending: Vec<Served>,
}

impl Model {
    fn end(&self) -> i64 {
        self.records.last().map_or(0, |r| r.offset + 1)
    }

    /// After a reopen: keep what survived (a prefix), and the failed append if it did.
    fn survive(&mut self, log_end_offset: i64) {
        if log_end_offset > self.end() {
            assert_eq!(
                self.pending.last().map(|r| r.offset + 1),
                Some(log_end_offset),
                "the log grew only by the failed append"
            );
            self.records.append(&mut self.pending);
        }
        self.pending.clear();
        self.records.retain(|r| r.offset < log_end_offset);
    }

    fn check(&self, log: &PartitionLog) -> Result<(), TestCaseError> {
        let served = read_records(log);
        for r in &served {
            prop_assert!(self.records.contains(r), "served {:?}, never accepted", r);
        }
        prop_assert_eq!(latest_values(&served), latest_values(&self.records));
        prop_assert_eq!(log.log_end_offset(), self.end().max(log.log_start_offset()));
        Ok(())
    }
}

struct Harness {
    fault: FaultStorage,
    storage: Arc<dyn Storage>,
    dir: PathBuf,
    config: LogConfig,
    now_ms: i64,
}

impl Harness {
    fn open(&self) -> PartitionLog {
        PartitionLog::open(self.storage.clone(), &self.dir, self.config.clone(), self.now_ms)
            .expect("reopen after a crash")
    }

    fn power_loss(&self, log: PartitionLog, model: &mut Model) -> PartitionLog {
        drop(log);
        self.fault.crash();
        let log = self.open();
        model.survive(log.log_end_offset());
        log
    }
}

fn run(config: LogConfig, ops: Vec<Op>, halt: Option<(u64, Option<usize>)>) -> Result<(), TestCaseError> {
    let fault = FaultStorage::new(MemStorage::new());
    let mut h =
        Harness { storage: Arc::new(fault.clone()), fault, dir: PathBuf::from("/data/prop-0"), config, now_ms: 1_000 };
    let mut log = h.open();
    let mut model = Model::default();
    if let Some((at_write, tear)) = halt {
        h.fault.set_plan(FaultPlan {
            halt_at_write: Some(at_write),
            tear_write: tear.map(|bytes| (at_write, bytes)),
            ..FaultPlan::default()
        });
    }
    for op in ops {
        let result = match op {
            Op::Append { key, records, value, codec: c } => {
                let keys: Vec<String> = (0..records).map(|i| format!("key-{}", (key + i) % 6)).collect();
                let value = value.map(|v| format!("value-{v}"));
                let kvs: Vec<KeyValue<'_>> =
                    keys.iter().map(|k| (Some(k.as_bytes()), value.as_ref().map(|v| v.as_bytes()))).collect();
                let batch = keyed_batch(&kvs, h.now_ms, codec(c));
                let base = log.log_end_offset();
                let appended: Vec<Served> = keys
                    .iter()
                    .enumerate()
                    .map(|(i, k)| Served {
                        offset: base + i as i64,
                        timestamp: h.now_ms + i as i64,
                        key: Some(k.clone().into_bytes()),
                        value: value.clone().map(String::into_bytes),
                    })
                    .collect();
                let result = log.append(&batch, h.now_ms).map(|_| ());
                if result.is_ok() {
                    model.records.extend(appended);
                } else {
                    model.pending = appended;
                }
                result
            }
            Op::Compact { advance_ms } => {
                h.now_ms += advance_ms;
                log.compact(h.now_ms).map(|_| ())
            }
            Op::Tick { advance_ms } => {
                h.now_ms += advance_ms;
                log.tick(h.now_ms)
            }
            Op::Restart => match log.close() {
                Ok(()) => {
                    log = h.open();
                    Ok(())
                }
                Err(e) => {
                    // The close failed part way: treat it as the crash it is.
                    prop_assert!(h.fault.is_halted(), "close failed without a fault: {}", e);
                    log = {
                        h.fault.crash();
                        let log = h.open();
                        model.survive(log.log_end_offset());
                        log
                    };
                    Ok(())
                }
            },
            Op::PowerLoss => {
                log = h.power_loss(log, &mut model);
                Ok(())
            }
        };
        if let Err(e) = result {
            prop_assert!(h.fault.is_halted(), "an operation failed without a fault: {}", e);
            log = h.power_loss(log, &mut model);
        }
        model.check(&log)?;
    }
    if h.fault.is_halted() {
        // The process died in a write whose failure nothing reported (a producer snapshot).
        log = h.power_loss(log, &mut model);
        model.check(&log)?;
    }
    h.fault.set_plan(FaultPlan::default());
    // Whatever happened, a final round and a restart keep the same view.
    log.compact(h.now_ms + 1).map_err(|e| TestCaseError::fail(e.to_string()))?;
    model.check(&log)?;
    log.close().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let log = h.open();
    model.check(&log)?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn compaction_keeps_the_latest_value_of_every_key_through_crashes(
        config in config(),
        ops in proptest::collection::vec(op(), 1..60),
        halt in proptest::option::of((0..120u64, proptest::option::of(0..80usize))),
    ) {
        run(config, ops, halt)?;
    }
}
