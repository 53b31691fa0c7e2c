//! Reused buffers for fetch reads.
//!
//! A fetch reads each partition's batches into a buffer that the response then writes
//! straight to the socket (see `runnel_protocol::fetch_response`). Fresh buffers of a
//! megabyte each are fresh pages for the kernel to fault in and zero on every fetch, which
//! took a sixth of the broker's CPU for a consumer reading at full speed. Buffers come back
//! here when the last `Bytes` over them is dropped (after the write), bounded in count and
//! total size so an idle broker holds little.

use std::sync::{Arc, Mutex};

use bytes::Bytes;

/// Buffers kept for reuse at most.
const POOLED_BUFFERS_MAX: usize = 64;
/// The most a buffer reserves before the read (Kafka's default max.partition.fetch.bytes).
const RESERVE_BYTES_MAX: usize = 1024 * 1024;
/// Where read data starts in a buffer: a cache line.
const ALIGN_BYTES: usize = 64;
/// Bytes of capacity kept for reuse at most, over all pooled buffers.
const POOLED_BYTES_MAX: usize = 64 * 1024 * 1024;
/// A buffer larger than this is freed rather than kept (a one-off huge batch).
const POOLED_BUFFER_BYTES_MAX: usize = 16 * 1024 * 1024;

#[derive(Debug, Default)]
pub struct ReadBuffers {
    free: Mutex<Free>,
}

#[derive(Debug, Default)]
struct Free {
    buffers: Vec<Vec<u8>>,
    bytes: usize,
}

impl ReadBuffers {
    /// A buffer with room for `capacity` bytes, reused when one is free, whose data starts
    /// at an ALIGN_BYTES boundary: the kernel copies into a destination just past one at a
    /// fraction of the speed.
    pub fn take(&self, capacity: usize) -> ReadBuffer {
        let reused = {
            let mut free = self.free.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let reused = free.buffers.pop();
            free.bytes -= reused.as_ref().map_or(0, Vec::capacity);
            reused
        };
        let mut buffer = reused.unwrap_or_default();
        // Reserved up front so the data does not move (and lose its alignment) while read;
        // a larger read grows the buffer as usual.
        buffer.reserve(capacity.min(RESERVE_BYTES_MAX) + ALIGN_BYTES);
        let start = buffer.as_ptr().align_offset(ALIGN_BYTES).min(ALIGN_BYTES);
        buffer.resize(start, 0);
        ReadBuffer { buffer, start }
    }

    /// What was appended to `loan`, as `Bytes` that hand the buffer back here once dropped.
    pub fn freeze(self: &Arc<Self>, loan: ReadBuffer) -> Bytes {
        if loan.is_empty() {
            self.give_back(loan.buffer);
            return Bytes::new();
        }
        Bytes::from_owner(Pooled { buffer: loan.buffer, start: loan.start, pool: self.clone() })
    }

    fn give_back(&self, mut buffer: Vec<u8>) {
        let capacity = buffer.capacity();
        if capacity == 0 || capacity > POOLED_BUFFER_BYTES_MAX {
            return;
        }
        let mut free = self.free.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if free.buffers.len() < POOLED_BUFFERS_MAX && free.bytes + capacity <= POOLED_BYTES_MAX {
            buffer.clear();
            free.bytes += capacity;
            free.buffers.push(buffer);
        }
    }

    #[cfg(test)]
    fn pooled(&self) -> (usize, usize) {
        let free = self.free.lock().unwrap();
        (free.buffers.len(), free.bytes)
    }
}

/// A buffer from [`ReadBuffers::take`]: append to `buffer`; the data is what follows `start`.
pub struct ReadBuffer {
    pub buffer: Vec<u8>,
    start: usize,
}

impl ReadBuffer {
    pub fn is_empty(&self) -> bool {
        self.buffer.len() == self.start
    }

    pub fn len(&self) -> usize {
        self.buffer.len() - self.start
    }
}

/// A buffer on loan as `Bytes`.
struct Pooled {
    buffer: Vec<u8>,
    start: usize,
    pool: Arc<ReadBuffers>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buffer[self.start..]
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.buffer));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_comes_back_when_its_last_bytes_is_dropped_and_is_reused_empty() {
        let pool = Arc::new(ReadBuffers::default());
        let mut loan = pool.take(3);
        assert!(loan.is_empty());
        loan.buffer.extend_from_slice(&[1, 2, 3]);
        let pointer = loan.buffer.as_ptr();
        let bytes = pool.freeze(loan);
        assert_eq!(bytes.as_ptr() as usize % ALIGN_BYTES, 0, "the data starts aligned");
        assert_eq!(&bytes[..], &[1, 2, 3]);
        let slice = bytes.slice(1..);
        drop(bytes);
        assert_eq!(pool.pooled().0, 0, "still lent out through the slice");
        assert_eq!(&slice[..], &[2, 3]);
        drop(slice);
        assert_eq!(pool.pooled().0, 1);
        let again = pool.take(3);
        assert!(again.is_empty());
        assert_eq!(again.len(), 0);
        assert_eq!(again.buffer.as_ptr(), pointer, "the same allocation");
        assert_eq!(pool.pooled(), (0, 0));
    }

    #[test]
    fn the_pool_keeps_neither_huge_buffers_nor_more_than_its_bounds() {
        let pool = Arc::new(ReadBuffers::default());
        let filled = |bytes: usize| {
            let mut loan = pool.take(bytes);
            loan.buffer.resize(loan.buffer.len() + bytes, 1);
            pool.freeze(loan)
        };
        drop(filled(POOLED_BUFFER_BYTES_MAX + 1));
        assert_eq!(pool.pooled().0, 0);
        let big: Vec<Bytes> = (0..8).map(|_| filled(POOLED_BUFFER_BYTES_MAX / 2)).collect();
        drop(big);
        assert!(pool.pooled().1 <= POOLED_BYTES_MAX);
        let lent: Vec<Bytes> = (0..POOLED_BUFFERS_MAX + 10).map(|_| filled(4096)).collect();
        drop(lent);
        assert!(pool.pooled().0 <= POOLED_BUFFERS_MAX);
        assert!(pool.pooled().1 <= POOLED_BYTES_MAX);
    }
}
