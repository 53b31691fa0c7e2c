//! Reading many records per call: librdkafka's rd_kafka_consume_batch_queue, which the
//! rdkafka crate does not wrap. Polling one record per call costs the client about a
//! microsecond each, which capped the consume rows near 1 GB/s for either broker.

use std::time::Duration;

use rdkafka::bindings as rd;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;

use crate::POLL_TIMEOUT_MS;

/// Records taken from librdkafka's queue per call.
const BATCH_RECORDS_MAX: usize = 4096;

/// The consumer's queue, released on drop.
struct Queue(*mut rd::rd_kafka_queue_t);

impl Drop for Queue {
    fn drop(&mut self) {
        // SAFETY: the pointer came from rd_kafka_queue_get_consumer and is released once.
        unsafe { rd::rd_kafka_queue_destroy(self.0) }
    }
}

/// Reads `records` records from the consumer's assigned partitions: (records, key + value
/// bytes). Fails on the first error a record carries.
pub fn read(consumer: &BaseConsumer, records: u64) -> Result<(u64, u64), String> {
    // SAFETY: the client pointer is valid while `consumer` lives, which outlives `queue`.
    let queue = Queue(unsafe { rd::rd_kafka_queue_get_consumer(consumer.client().native_ptr()) });
    if queue.0.is_null() {
        return Err("the consumer has no consumer queue".to_owned());
    }
    let mut batch: Vec<*mut rd::rd_kafka_message_t> = vec![std::ptr::null_mut(); BATCH_RECORDS_MAX];
    let timeout_ms = Duration::from_millis(POLL_TIMEOUT_MS).as_millis() as i32;
    let (mut received, mut bytes) = (0u64, 0u64);
    while received < records {
        // Never more than remain: librdkafka waits out the timeout for a batch it cannot fill.
        let wanted = batch.len().min((records - received) as usize);
        // SAFETY: `batch` has room for `wanted` pointers; librdkafka fills `count`.
        let count = unsafe { rd::rd_kafka_consume_batch_queue(queue.0, timeout_ms, batch.as_mut_ptr(), wanted) };
        if count < 0 {
            return Err(format!("consume failed after {received} records (librdkafka returned {count})"));
        }
        let mut failure = None;
        for &message in &batch[..count as usize] {
            // SAFETY: each of the first `count` entries is a message owned by us until destroyed.
            let (err, len, key_len) = unsafe { ((*message).err, (*message).len, (*message).key_len) };
            if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                failure.get_or_insert_with(|| format!("consume failed after {received} records: {:?}", RDKafkaErrorCode::from(err)));
            } else {
                received += 1;
                bytes += (len + key_len) as u64;
            }
            // SAFETY: destroyed exactly once, and not used afterwards.
            unsafe { rd::rd_kafka_message_destroy(message) }
        }
        if let Some(why) = failure {
            return Err(why);
        }
    }
    Ok((received, bytes))
}
