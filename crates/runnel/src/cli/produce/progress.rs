//! What `runnel produce` tells the operator on stderr: a progress line while a large input
//! is sent (only on a terminal), each failed record, and the closing summary.
//!
//! Owns: the counters (records delivered and failed, payload bytes, input bytes read), the
//! rendering of the progress line and of the summary, and keeping error lines from being
//! drawn over by the progress line. Rates use Kafka's producer-perf-test units (MB is
//! 1024 * 1024 bytes).

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Nothing is drawn for inputs sent faster than this: they are not "large".
pub const PROGRESS_DELAY_MS: u64 = 1_000;
/// How often the progress line is redrawn.
pub const PROGRESS_REDRAW_MS: u64 = 200;
/// Width of the bar itself, in characters.
const BAR_CHARS: usize = 30;
const BYTES_PER_MB: f64 = 1024.0 * 1024.0;
const BYTES_PER_KB: f64 = 1024.0;

/// The counts a summary is made of.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counts {
    pub delivered: u64,
    pub failed: u64,
    /// Key, value and header bytes of delivered records.
    pub delivered_bytes: u64,
    /// Input bytes consumed so far (lines and their terminators).
    pub input_bytes: u64,
}

struct State {
    counts: Counts,
    /// Size of the input when it is a file, for a percentage.
    total_input_bytes: Option<u64>,
    started: Instant,
    /// Whether a progress line may be drawn at all (stderr is a terminal, input is not).
    enabled: bool,
    /// Whether a progress line is on screen now (to be cleared before other output).
    drawn: bool,
}

/// The shared reporter: cheap to clone, used by the reading loop, the delivery collector
/// and the redraw ticker.
#[derive(Clone)]
pub struct Reporter {
    state: Arc<Mutex<State>>,
}

impl Reporter {
    pub fn new(total_input_bytes: Option<u64>, enabled: bool) -> Reporter {
        let state =
            State { counts: Counts::default(), total_input_bytes, started: Instant::now(), enabled, drawn: false };
        Reporter { state: Arc::new(Mutex::new(state)) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Counters stay meaningful even if a holder panicked.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn input_read(&self, bytes: u64) {
        self.lock().counts.input_bytes += bytes;
    }

    pub fn delivered(&self, payload_bytes: u64) {
        let mut state = self.lock();
        state.counts.delivered += 1;
        state.counts.delivered_bytes += payload_bytes;
    }

    /// Counts a failed record and prints its one-line reason.
    pub fn failed(&self, message: &str) {
        let mut state = self.lock();
        state.counts.failed += 1;
        clear(&mut state);
        eprintln!("runnel: {message}");
    }

    pub fn counts(&self) -> Counts {
        self.lock().counts
    }

    pub fn elapsed(&self) -> Duration {
        self.lock().started.elapsed()
    }

    /// Redraws the progress line when it is enabled and the input has taken long enough.
    pub fn redraw(&self) {
        let mut state = self.lock();
        let elapsed = state.started.elapsed();
        if !state.enabled || elapsed < Duration::from_millis(PROGRESS_DELAY_MS) {
            return;
        }
        let line = progress_line(&state.counts, state.total_input_bytes, elapsed);
        let mut stderr = std::io::stderr().lock();
        // \r and "erase to end of line": the line is rewritten in place.
        let _ = write!(stderr, "\r{line}\x1b[K");
        let _ = stderr.flush();
        state.drawn = true;
    }

    /// Removes the progress line for good.
    pub fn finish(&self) {
        let mut state = self.lock();
        clear(&mut state);
        state.enabled = false;
    }
}

fn clear(state: &mut State) {
    if state.drawn {
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "\r\x1b[K");
        let _ = stderr.flush();
        state.drawn = false;
    }
}

/// `[#######-------]  45%  12034 records  1.2 MB  8021 records/s  0.80 MB/s`; without a
/// known input size, only the counts and rates.
pub fn progress_line(counts: &Counts, total_input_bytes: Option<u64>, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64().max(f64::EPSILON);
    let done = counts.delivered + counts.failed;
    let rates = format!(
        "{done} records  {}  {:.0} records/s  {:.2} MB/s",
        human_bytes(counts.delivered_bytes),
        done as f64 / seconds,
        counts.delivered_bytes as f64 / BYTES_PER_MB / seconds
    );
    match total_input_bytes {
        Some(total) if total > 0 => {
            let fraction = (counts.input_bytes as f64 / total as f64).clamp(0.0, 1.0);
            let filled = ((fraction * BAR_CHARS as f64).round() as usize).min(BAR_CHARS);
            format!("[{}{}] {:>3.0}%  {rates}", "#".repeat(filled), "-".repeat(BAR_CHARS - filled), fraction * 100.0)
        }
        _ => rates,
    }
}

/// The closing line: `1000 records produced to t (0 failed): 45678 bytes in 0.41 s,
/// 2439.0 records/s, 0.11 MB/s`.
pub fn summary_line(topic: &str, counts: &Counts, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64().max(f64::EPSILON);
    format!(
        "{} records produced to {topic} ({} failed): {} bytes in {:.2} s, {:.1} records/s, {:.2} MB/s",
        counts.delivered,
        counts.failed,
        counts.delivered_bytes,
        elapsed.as_secs_f64(),
        counts.delivered as f64 / seconds,
        counts.delivered_bytes as f64 / BYTES_PER_MB / seconds
    )
}

fn human_bytes(bytes: u64) -> String {
    let bytes = bytes as f64;
    if bytes >= BYTES_PER_MB {
        format!("{:.1} MB", bytes / BYTES_PER_MB)
    } else if bytes >= BYTES_PER_KB {
        format!("{:.1} KB", bytes / BYTES_PER_KB)
    } else {
        format!("{bytes:.0} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(delivered: u64, failed: u64, delivered_bytes: u64, input_bytes: u64) -> Counts {
        Counts { delivered, failed, delivered_bytes, input_bytes }
    }

    #[test]
    fn summary_states_records_bytes_and_rates() {
        let line = summary_line("orders", &counts(1000, 2, 2 * 1024 * 1024, 0), Duration::from_secs(2));
        assert_eq!(
            line,
            "1000 records produced to orders (2 failed): 2097152 bytes in 2.00 s, 500.0 records/s, 1.00 MB/s"
        );
    }

    #[test]
    fn summary_of_an_empty_input_has_no_division_by_zero() {
        let line = summary_line("t", &Counts::default(), Duration::ZERO);
        assert!(line.starts_with("0 records produced to t (0 failed): 0 bytes in 0.00 s, 0.0 records/s"), "{line}");
    }

    #[test]
    fn progress_with_a_known_size_has_a_bar_and_percentage() {
        let line = progress_line(&counts(10, 0, 2048, 50), Some(100), Duration::from_secs(1));
        assert_eq!(
            line,
            format!("[{}{}]  50%  10 records  2.0 KB  10 records/s  0.00 MB/s", "#".repeat(15), "-".repeat(15))
        );
        let full = progress_line(&counts(1, 0, 1, 500), Some(100), Duration::from_secs(1));
        assert!(full.starts_with(&format!("[{}] 100%", "#".repeat(BAR_CHARS))), "{full}");
    }

    #[test]
    fn progress_without_a_size_shows_counts_only() {
        let line = progress_line(&counts(3, 1, 3 * 1024 * 1024, 0), None, Duration::from_secs(2));
        assert_eq!(line, "4 records  3.0 MB  2 records/s  1.50 MB/s");
    }
}
