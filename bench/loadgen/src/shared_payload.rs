//! Producing one payload many times without librdkafka copying it per record.
//!
//! The rdkafka crate's `send` passes RD_KAFKA_MSG_F_COPY, so librdkafka copies every payload
//! into a fresh allocation before copying it again into the request, and it turns the topic
//! name into a new CString per record. Against a broker that keeps up, that was a fifth of
//! the produce client's CPU (memmove 17%, malloc and the CString besides), on the one core
//! the client has. Here the topic handle is made once and records point at one payload that
//! outlives every delivery, the use librdkafka documents for msgflags 0.

use std::ffi::CString;

use rdkafka::bindings as rd;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{Producer, ProducerContext, ThreadedProducer};

/// librdkafka's RD_KAFKA_PARTITION_UA: let the configured partitioner choose.
const PARTITION_UNASSIGNED: i32 = -1;
/// msgflags without RD_KAFKA_MSG_F_COPY or F_FREE: librdkafka reads the caller's bytes.
const MSG_FLAGS_BORROW: libc::c_int = 0;

/// A topic handle of one producer, released on drop.
pub struct Topic<'p, C: ProducerContext + 'static> {
    handle: *mut rd::rd_kafka_topic_t,
    _producer: &'p ThreadedProducer<C>,
}

impl<'p, C: ProducerContext + 'static> Topic<'p, C> {
    pub fn new(producer: &'p ThreadedProducer<C>, name: &str) -> Result<Self, String> {
        let name_c = CString::new(name).map_err(|_| format!("topic name {name:?} has a NUL byte"))?;
        // SAFETY: the client pointer is valid while `producer` lives, which outlives the handle;
        // a null configuration means the producer's defaults.
        let handle = unsafe { rd::rd_kafka_topic_new(producer.client().native_ptr(), name_c.as_ptr(), std::ptr::null_mut()) };
        if handle.is_null() {
            // SAFETY: reads librdkafka's thread-local last error.
            let why = RDKafkaErrorCode::from(unsafe { rd::rd_kafka_last_error() });
            return Err(format!("cannot make a handle for topic {name}: {why:?}"));
        }
        Ok(Topic { handle, _producer: producer })
    }

    /// Queues one record of `payload` (no key, no delivery opaque, which a `()` opaque reads
    /// as). librdkafka reads `payload` until the record's delivery report, so the caller keeps
    /// it alive and unchanged until the producer has flushed.
    pub fn send_borrowed(&self, payload: &[u8]) -> Result<(), RDKafkaErrorCode> {
        // SAFETY: the handle is live; librdkafka only reads the payload without F_FREE, and
        // the caller's contract keeps it alive until delivery.
        let rc = unsafe {
            rd::rd_kafka_produce(
                self.handle,
                PARTITION_UNASSIGNED,
                MSG_FLAGS_BORROW,
                payload.as_ptr() as *mut libc::c_void,
                payload.len(),
                std::ptr::null(),
                0,
                std::ptr::null_mut(),
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            // SAFETY: reads librdkafka's thread-local last error, set by the failed call.
            Err(RDKafkaErrorCode::from(unsafe { rd::rd_kafka_last_error() }))
        }
    }
}

impl<C: ProducerContext + 'static> Drop for Topic<'_, C> {
    fn drop(&mut self) {
        // SAFETY: the handle came from rd_kafka_topic_new and is released once.
        unsafe { rd::rd_kafka_topic_destroy(self.handle) }
    }
}
