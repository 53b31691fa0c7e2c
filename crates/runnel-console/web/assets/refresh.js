// Polite auto-refresh: one timer per view, paused by the reader or while the tab is hidden,
// and never overlapping a refresh still in flight.

export const REFRESH_INTERVAL_MS = 5000;

let paused = false;
const listeners = new Set();

export function isPaused() {
  return paused;
}

export function setPaused(value) {
  paused = value;
  for (const fn of listeners) fn(paused);
}

export function onPauseChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Calls task() now and then every intervalMs until stop(); task gets an AbortSignal that
 * fires when the view goes away. Returns {stop, now}. */
export function every(intervalMs, task, onUpdated) {
  const controller = new AbortController();
  let timer = null;
  let running = false;

  async function run(force) {
    if (controller.signal.aborted || running) return;
    if (!force && (paused || document.hidden)) return schedule();
    running = true;
    try {
      await task(controller.signal);
      onUpdated?.(Date.now());
    } catch (e) {
      if (e.name !== 'AbortError') console.error(e);
    } finally {
      running = false;
      schedule();
    }
  }

  function schedule() {
    clearTimeout(timer);
    if (!controller.signal.aborted) timer = setTimeout(() => run(false), intervalMs);
  }

  const onVisible = () => { if (!document.hidden && !paused) run(false); };
  document.addEventListener('visibilitychange', onVisible);
  run(true);
  return {
    now: () => run(true),
    stop() {
      controller.abort();
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
    },
    signal: controller.signal,
  };
}
