//! Property: whatever the operations and wherever the process dies (a write that fails, tears
//! or never happens), after a power loss and reopen the log holds a prefix of what it
//! accepted, containing at least everything it reported as flushed, with only whole valid
//! batches at contiguous offsets; and it accepts appends again.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::*;
use proptest::prelude::*;
use runnel_log::{FaultPlan, FaultStorage, LogConfig, MemStorage, PartitionLog, Storage};
use runnel_log::AppendOutcome;
use runnel_protocol::batch::{testing, BatchHeader};

const PRODUCER_ID: i64 = 1;

#[derive(Debug, Clone)]
enum Op {
    /// `idempotent` batches come from producer 1, epoch 0, with the next sequence.
    Append { records: i32, value_bytes: usize, timestamp_ms: i64, idempotent: bool },
    Flush,
    Tick { advance_ms: i64 },
    /// Clean close and reopen.
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (1..4i32, 0..300usize, 0..5_000i64, proptest::bool::ANY).prop_map(
            |(records, value_bytes, timestamp_ms, idempotent)| Op::Append { records, value_bytes, timestamp_ms, idempotent }
        ),
        1 => Just(Op::Flush),
        1 => (0..3_000i64).prop_map(|advance_ms| Op::Tick { advance_ms }),
        1 => Just(Op::Restart),
    ]
}

#[derive(Debug, Clone)]
enum Fault {
    /// The process dies at this write, which lands `tear` bytes first if given.
    Halt { at_write: u64, tear: Option<usize> },
    /// This write hits a full disk; the process carries on.
    FailWrite { at_write: u64 },
    /// This sync fails; the process carries on (the log refuses writes after it).
    FailSync { at_sync: u64 },
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        3 => (0..150u64, proptest::option::of(0..120usize)).prop_map(|(at_write, tear)| Fault::Halt { at_write, tear }),
        1 => (0..150u64).prop_map(|at_write| Fault::FailWrite { at_write }),
        1 => (0..40u64).prop_map(|at_sync| Fault::FailSync { at_sync }),
    ]
}

fn config() -> impl Strategy<Value = LogConfig> {
    (
        prop_oneof![Just(500u64), Just(1_200), Just(1 << 20)],
        0..300u64,
        prop_oneof![Just(1i64), Just(3), Just(i64::MAX)],
        prop_oneof![Just(2_000i64), Just(i64::MAX)],
    )
        .prop_map(|(segment_bytes, index_interval_bytes, flush_messages, segment_ms)| LogConfig {
            segment_bytes,
            index_interval_bytes,
            flush_messages,
            segment_ms,
            flush_ms: 5_000,
            retention_ms: -1,
            ..LogConfig::default()
        })
}

fn plan_for(fault: &Fault) -> FaultPlan {
    match *fault {
        Fault::Halt { at_write, tear } => FaultPlan {
            halt_at_write: Some(at_write),
            tear_write: tear.map(|bytes| (at_write, bytes)),
            ..FaultPlan::default()
        },
        Fault::FailWrite { at_write } => FaultPlan { fail_write: Some(at_write), ..FaultPlan::default() },
        Fault::FailSync { at_sync } => FaultPlan { fail_sync: Some(at_sync), ..FaultPlan::default() },
    }
}

/// Runs `ops` until the storage halts; returns what the log accepted and how many of those
/// batches it reported durable.
fn run(
    fault_storage: &FaultStorage,
    storage: &Arc<dyn Storage>,
    dir: &std::path::Path,
    config: &LogConfig,
    ops: &[Op],
) -> (Vec<Vec<u8>>, usize) {
    let Ok(mut log) = PartitionLog::open(storage.clone(), dir, config.clone(), 0) else {
        return (Vec::new(), 0);
    };
    let mut accepted: Vec<Vec<u8>> = Vec::new();
    let mut now_ms = 0;
    let mut durable_end = 0;
    let mut next_sequence = 0;
    for op in ops {
        if fault_storage.is_halted() {
            break;
        }
        match op {
            Op::Append { records, value_bytes, timestamp_ms, idempotent } => {
                let before = log.log_end_offset();
                let mut batch = if *idempotent {
                    testing::batch(*records, *value_bytes, *timestamp_ms, PRODUCER_ID, 0, next_sequence)
                } else {
                    plain(*records, *value_bytes, *timestamp_ms)
                };
                let result = log.append(&batch, now_ms);
                if *idempotent && log.log_end_offset() > before {
                    next_sequence += *records;
                }
                // An append that errs after its bytes went in (a policy flush failed) is in
                // the log all the same, as a timed-out produce may be.
                if result.is_ok() || log.log_end_offset() > before {
                    assert_eq!(log.log_end_offset(), before + i64::from(*records));
                    // As the log stores it: the sent bytes with the base offset it was given.
                    runnel_protocol::batch::set_base_offset(&mut batch, before);
                    accepted.push(batch);
                }
            }
            Op::Flush => {
                let _ = log.flush();
            }
            Op::Tick { advance_ms } => {
                now_ms += advance_ms;
                let _ = log.tick(now_ms);
            }
            Op::Restart => {
                durable_end = durable_end.max(log.recovery_point());
                // A failed close leaves the files as a crash would; the reopen recovers them.
                let _ = log.close();
                if fault_storage.is_halted() {
                    return finish(accepted, durable_end);
                }
                log = match PartitionLog::open(storage.clone(), dir, config.clone(), now_ms) {
                    Ok(log) => log,
                    Err(_) => return finish(accepted, durable_end),
                };
                // No power was lost: everything accepted is still in the files.
                let accepted_end = accepted.last().map_or(log.log_start_offset(), |b| {
                    BatchHeader::parse(b).unwrap().last_offset() + 1
                });
                assert_eq!(log.log_end_offset(), accepted_end, "reopen without a crash lost batches");
            }
        }
        durable_end = durable_end.max(log.recovery_point());
    }
    finish(accepted, durable_end)
}

/// The accepted batches and how many of them end below the durable offset.
fn finish(accepted: Vec<Vec<u8>>, durable_end: i64) -> (Vec<Vec<u8>>, usize) {
    let durable = accepted
        .iter()
        .take_while(|b| BatchHeader::parse(b).unwrap().last_offset() < durable_end)
        .count();
    (accepted, durable)
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn recovered_log_is_a_prefix_of_accepted_batches_holding_all_flushed_ones(
        config in config(),
        ops in proptest::collection::vec(op(), 1..40),
        fault in fault(),
    ) {
        let fault_storage = FaultStorage::new(MemStorage::new());
        let storage: Arc<dyn Storage> = Arc::new(fault_storage.clone());
        let dir = PathBuf::from("/data/p-0");
        // Let the first open succeed; the plan counts from here.
        PartitionLog::open(storage.clone(), &dir, config.clone(), 0).expect("create").close().expect("close");
        fault_storage.set_plan(plan_for(&fault));
        let (accepted, durable) = run(&fault_storage, &storage, &dir, &config, &ops);
        fault_storage.crash();

        let mut log = PartitionLog::open(storage.clone(), &dir, config.clone(), 0).expect("reopen after crash");
        let recovered = read_all(&log);
        prop_assert!(recovered.len() <= accepted.len(), "recovered {} batches, accepted {}", recovered.len(), accepted.len());
        prop_assert!(recovered[..] == accepted[..recovered.len()], "recovered batches differ from the accepted ones");
        prop_assert!(recovered.len() >= durable, "lost flushed batches: kept {}, flushed {}", recovered.len(), durable);
        prop_assert_eq!(log.failure(), None);

        // The producer's last five surviving batches are still recognised as duplicates.
        let ours: Vec<BatchHeader> = recovered
            .iter()
            .map(|b| BatchHeader::parse(b).unwrap())
            .filter(|h| h.producer_id == PRODUCER_ID)
            .collect();
        for h in ours.iter().rev().take(runnel_log::PRODUCER_BATCHES_RETAINED) {
            let retry = testing::batch(h.records_count, 0, 0, PRODUCER_ID, 0, h.base_sequence);
            let outcome = log.append(&retry, 0).expect("retry");
            prop_assert_eq!(outcome, AppendOutcome::Duplicate { base_offset: h.base_offset, last_offset: h.last_offset() });
        }
        let next_sequence = ours.last().map_or(0, |h| h.last_sequence() + 1);
        let end = log.log_end_offset();
        let (outcome, _) = append(&mut log, &testing::batch(1, 3, 0, PRODUCER_ID, 0, next_sequence), 0);
        prop_assert_eq!(base_of(outcome), end);
        log.close().expect("close after recovery");
        let log = PartitionLog::open(storage, &dir, config, 0).expect("reopen after close");
        prop_assert_eq!(log.log_end_offset(), end + 1);
    }
}
