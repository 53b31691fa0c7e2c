//! Test-only global allocator that tracks, per thread, the peak of live heap bytes, so a
//! test can bound the memory one call takes while other tests run in parallel.
//!
//! Only Rust allocations are seen; the C libraries (zstd, lz4) allocate with `malloc`, and
//! their memory is bounded by the decoder limits the tests exercise instead.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Probe;

#[global_allocator]
static PROBE: Probe = Probe;

thread_local! {
    static LIVE_BYTES: Cell<isize> = const { Cell::new(0) };
    static PEAK_BYTES: Cell<isize> = const { Cell::new(0) };
}

fn record(delta: isize) {
    let _ = LIVE_BYTES.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK_BYTES.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator; the probe only counts.
unsafe impl GlobalAlloc for Probe {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            record(layout.size() as isize);
        }
        pointer
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let pointer = unsafe { System.alloc_zeroed(layout) };
        if !pointer.is_null() {
            record(layout.size() as isize);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        unsafe { System.dealloc(pointer, layout) };
        record(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            record(new_size as isize - layout.size() as isize);
        }
        moved
    }
}

/// Runs `work` and returns its result with the most heap bytes it held at once on this
/// thread, beyond what was live before it started.
pub(crate) fn peak_heap_growth<R>(work: impl FnOnce() -> R) -> (R, usize) {
    let baseline = LIVE_BYTES.with(Cell::get);
    PEAK_BYTES.with(|peak| peak.set(baseline));
    let result = work();
    let peak = PEAK_BYTES.with(Cell::get);
    (result, (peak - baseline).max(0) as usize)
}

#[test]
fn probe_sees_a_large_allocation() {
    let (_, peak) = peak_heap_growth(|| std::hint::black_box(vec![1u8; 4 << 20]).len());
    assert!(peak >= 4 << 20, "peak {peak}");
}
