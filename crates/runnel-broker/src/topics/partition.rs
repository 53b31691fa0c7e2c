//! One partition as the broker sees it: its log, its high watermark, and the wake-up that
//! long-polling fetches wait on.
//!
//! `append` is the replication seam. On a single node a batch is committed once the local
//! log has it, so the high watermark is the log end offset. The cluster stage replaces the
//! body of `append` with a proposal to the partition's Raft group and derives the high
//! watermark from the commit index; callers do not change.

use parking_lot::RwLock;
use runnel_log::{AppendOutcome, FileSlice, LogConfig, LogError, PartitionLog, ReadResult};
use runnel_protocol::kafka_protocol::error::ResponseError;
use tokio::sync::Notify;

/// The only leader epoch a single node ever has: it is leader from the start, forever.
pub const LEADER_EPOCH: i32 = 0;

/// Kafka's answer to a request that names the leader epoch it believes is current (-1 names
/// none): an older epoch is fenced, a newer one is unknown to this leader.
pub fn check_leader_epoch(current_leader_epoch: i32) -> Result<(), ResponseError> {
    match current_leader_epoch {
        epoch if epoch < 0 => Ok(()),
        epoch if epoch < LEADER_EPOCH => Err(ResponseError::FencedLeaderEpoch),
        epoch if epoch > LEADER_EPOCH => Err(ResponseError::UnknownLeaderEpoch),
        _ => Ok(()),
    }
}

/// What [`Partition::append_deferring_flush`] did.
#[derive(Debug, Clone, Copy)]
pub struct Appended {
    pub outcome: AppendOutcome,
    /// The batch must be synced before it is acknowledged.
    pub flush_due: bool,
}

#[derive(Debug)]
pub struct Partition {
    pub topic: String,
    pub index: i32,
    log: RwLock<PartitionLog>,
    appended: Notify,
}

impl Partition {
    pub fn new(topic: String, index: i32, mut log: PartitionLog) -> Self {
        log.set_leader_epoch(LEADER_EPOCH);
        Self { topic, index, log: RwLock::new(log), appended: Notify::new() }
    }

    /// Appends one validated batch and wakes every fetch waiting on this partition.
    pub fn append(&self, batch: &[u8], now_ms: i64) -> Result<AppendOutcome, LogError> {
        let outcome = self.log.write().append(batch, now_ms)?;
        if matches!(outcome, AppendOutcome::Appended { .. }) {
            self.appended.notify_waiters();
        }
        Ok(outcome)
    }

    /// Appends one validated batch to the page cache only (see
    /// [`PartitionLog::append_deferring_flush`]) and wakes waiting fetches. `flush_due` is
    /// set when the topic's flush policy wants the batch synced before it is acknowledged:
    /// the caller then waits on [`super::GroupCommit`].
    pub fn append_deferring_flush(&self, batch: &[u8], now_ms: i64) -> Result<Appended, LogError> {
        let (outcome, flush_due) = {
            let mut log = self.log.write();
            let outcome = log.append_deferring_flush(batch, now_ms)?;
            (outcome, log.flush_due())
        };
        if matches!(outcome, AppendOutcome::Appended { .. }) {
            self.appended.notify_waiters();
        }
        Ok(Appended { outcome, flush_due })
    }

    /// Syncs everything appended so far, holding the log's lock only to take the files'
    /// sync handles and to move the recovery point, never during the fdatasync itself.
    pub fn sync_appended(&self) -> Result<(), LogError> {
        let Some(pending) = self.log.write().begin_flush()? else { return Ok(()) };
        let synced = pending.sync();
        self.log.write().finish_flush(pending, synced)
    }

    /// Offsets below this are durable.
    pub fn recovery_point(&self) -> i64 {
        self.log.read().recovery_point()
    }

    /// Reads whole batches below the high watermark.
    pub fn read(&self, offset: i64, max_bytes: usize, min_one_batch: bool) -> Result<ReadResult, LogError> {
        let log = self.log.read();
        let high_watermark = log.log_end_offset();
        log.read(offset, max_bytes, high_watermark, min_one_batch)
    }

    /// [`Partition::read`] into the caller's buffer (appended), so buffers can be reused.
    pub fn read_into(&self, offset: i64, max_bytes: usize, min_one_batch: bool, out: &mut Vec<u8>) -> Result<(), LogError> {
        let log = self.log.read();
        let high_watermark = log.log_end_offset();
        log.read_into(offset, max_bytes, high_watermark, min_one_batch, out)
    }

    /// [`Partition::read`] as slices of the log's files (`None` when the storage has none):
    /// the lock is held only to find them, not while their bytes are read or sent.
    pub fn read_file_slices(&self, offset: i64, max_bytes: usize, min_one_batch: bool) -> Result<Option<Vec<FileSlice>>, LogError> {
        let log = self.log.read();
        let high_watermark = log.log_end_offset();
        log.read_file_slices(offset, max_bytes, high_watermark, min_one_batch)
    }

    /// A future that completes at the next append. Create it before reading, so an append
    /// between the read and the wait is not missed.
    pub fn appended(&self) -> tokio::sync::futures::Notified<'_> {
        self.appended.notified()
    }

    pub fn high_watermark(&self) -> i64 {
        self.log.read().log_end_offset()
    }

    pub fn log_end_offset(&self) -> i64 {
        self.log.read().log_end_offset()
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log.read().log_start_offset()
    }

    pub fn size_bytes(&self) -> u64 {
        self.log.read().size_bytes()
    }

    /// Runs `f` with shared access to the log, for lookups that need several calls.
    pub fn with_log<T>(&self, f: impl FnOnce(&PartitionLog) -> T) -> T {
        f(&self.log.read())
    }

    /// Runs `f` with exclusive access to the log (retention, ticks, config changes).
    pub fn with_log_mut<T>(&self, f: impl FnOnce(&mut PartitionLog) -> T) -> T {
        f(&mut self.log.write())
    }

    pub fn set_config(&self, config: LogConfig) {
        self.log.write().set_config(config);
    }

    /// Takes the log out to close or delete it; the partition must no longer be shared.
    pub fn into_log(self) -> PartitionLog {
        self.log.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leader_epoch_claims_are_fenced_unknown_or_accepted() {
        assert!(check_leader_epoch(-1).is_ok());
        assert!(check_leader_epoch(LEADER_EPOCH).is_ok());
        assert_eq!(check_leader_epoch(LEADER_EPOCH + 1), Err(ResponseError::UnknownLeaderEpoch));
    }
}
