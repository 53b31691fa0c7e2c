"""Shared plumbing for the consumer-group scenario scripts (stdlib only: runs in every venv).

A group_*.py script runs --members consumers of one client library in one process (one
thread, or one asyncio task, each) and streams what happens as JSON lines on stdout, each
with "ev", the member index "m" where it applies, and a wall-clock "t" (time.time(), so
events of several processes on one host can be ordered):
  {"ev": "start", "m", "client_id"}
  {"ev": "assigned" | "revoked" | "lost", "m", "partitions": [p, ...]}
  {"ev": "positioned", "m", "positions": {"p": offset}}   after an assignment, once every
      assigned partition's fetch position is known (reset to earliest/latest done)
  {"ev": "records", "m", "records": [[partition, offset, key, value], ...]}  one poll's batch
  {"ev": "commit", "m", "offsets": {"p": offset}, "ok": bool, "error": str | None}
  {"ev": "client_error", "m", "error": str}   an error the client reported and survived
  {"ev": "client_log", "level", "logger", "message"}   a client library warning or error, or a
      log line about an unknown member, an illegal generation or a rebalance
  {"ev": "closed", "m"}
The last line is {"ev": "result", "client", "client_version", "error", "elapsed_s"}, so
harness.run_client can read it as the script's JSON result.

Stopping: SIGTERM (or --stop-after-records, or --reset-to-earliest finishing) makes every
member leave its poll loop and close() its consumer, which leaves the group the way the
client normally does; the tutorial's advice applies: the signal handler only sets a flag.
--max-runtime-s bounds the whole run (then the result carries an error).
GROUP_CLIENT_DEBUG=1 in the environment turns on the client library's debug logging
(to stderr, which the tests keep in a file per process).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
import traceback

DEFAULT_MAX_RUNTIME_S = 120.0
STOP_POLL_S = 0.2


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--group", default=None, help="group id; without it the members use --assign")
    p.add_argument("--members", type=int, default=1, help="consumers in this process")
    p.add_argument("--client-id", default="group-test", help="prefix; member i uses PREFIX-i")
    p.add_argument("--commit", choices=["auto", "batch", "none"], default="none",
                   help="auto: enable auto commit; batch: commit() after each non-empty poll, and "
                        "again after each empty one while the last commit failed (until the "
                        "assignment changes): an application that loses no commit when the "
                        "broker goes down under it")
    p.add_argument("--auto-commit-interval-ms", type=int, default=5000)
    p.add_argument("--offset-reset", choices=["earliest", "latest"], default="earliest")
    p.add_argument("--session-timeout-ms", type=int, default=10000)
    p.add_argument("--heartbeat-interval-ms", type=int, default=1000)
    p.add_argument("--max-poll-interval-ms", type=int, default=30000)
    p.add_argument("--max-poll-records", type=int, default=500)
    p.add_argument("--fetch-max-wait-ms", type=int, default=100)
    p.add_argument("--poll-timeout-ms", type=int, default=100)
    p.add_argument("--assign", default=None,
                   help="comma-separated partitions to assign manually (no group membership), "
                        "read from the beginning")
    p.add_argument("--reset-to-earliest", action="store_true",
                   help="join, seek every assigned partition to the beginning, commit that, close")
    p.add_argument("--stop-after-records", type=int, default=0,
                   help="close once the members together read this many records (0: never)")
    p.add_argument("--process-delay-ms", type=float, default=0.0, help="simulated work per record")
    p.add_argument("--max-runtime-s", type=float, default=DEFAULT_MAX_RUNTIME_S)
    return p


def debug_enabled() -> bool:
    return os.environ.get("GROUP_CLIENT_DEBUG", "") not in ("", "0")


def setup_logging() -> None:
    """Python client libraries log through `logging`: debug output on request."""
    if debug_enabled():
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                            format="%(asctime)s %(threadName)s %(name)s %(message)s")


class EventLogHandler(logging.Handler):
    """Client library log records worth a test's attention, as "client_log" events: every
    warning or error, and the coordinator errors a rebalance storm is judged by."""

    WATCHED = ("unknown member", "member_id was not recognized", "unknown_member_id",
               "illegal generation", "illegal_generation", "rebalance")

    def __init__(self, ctl: "Control"):
        super().__init__(logging.INFO)
        self.ctl = ctl

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad log call must not kill a member
            msg = str(record.msg)
        if record.levelno >= logging.WARNING or any(w in msg.lower() for w in self.WATCHED):
            self.ctl.emit("client_log", None, level=record.levelname, logger=record.name, message=msg[:500])


def watch_client_logs(ctl: "Control", logger_name: str) -> logging.Logger:
    """Route a client library's logger through EventLogHandler (besides debug output)."""
    logger = logging.getLogger(logger_name)
    logger.setLevel(logging.DEBUG if debug_enabled() else logging.INFO)
    logger.addHandler(EventLogHandler(ctl))
    return logger


def assigned_partitions(args) -> list[int]:
    return [int(p) for p in args.assign.split(",") if p.strip()] if args.assign else []


class Control:
    """What the members of one process share: the output stream, the stop flag, counters."""

    def __init__(self, args, client: str, client_version: str):
        self.args = args
        self.client = client
        self.client_version = client_version
        self._out_lock = threading.Lock()
        self._done_output = False
        self.stop_event = threading.Event()
        self._count_lock = threading.Lock()
        self.records_read = 0
        self.error: str | None = None
        self.started = time.monotonic()

    def emit(self, ev: str, m: int | None = None, **fields) -> None:
        obj = {"ev": ev, "t": time.time()}
        if m is not None:
            obj["m"] = m
        obj.update(fields)
        line = json.dumps(obj) + "\n"
        with self._out_lock:
            if self._done_output:
                return
            sys.stdout.write(line)
            sys.stdout.flush()

    def stopping(self) -> bool:
        return self.stop_event.is_set()

    def request_stop(self) -> None:
        self.stop_event.set()

    def fail(self, m: int | None, exc: BaseException) -> None:
        msg = f"{type(exc).__name__}: {exc}"
        self.emit("member_error", m, error=msg, traceback=traceback.format_exc())
        if self.error is None:
            self.error = f"member {m}: {msg}"
        self.request_stop()

    def add_records(self, n: int) -> None:
        with self._count_lock:
            self.records_read += n
            limit = self.args.stop_after_records
            if limit and self.records_read >= limit:
                self.request_stop()

    def install_sigterm(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self.request_stop())

    def check_runtime(self) -> None:
        if not self.stopping() and time.monotonic() - self.started > self.args.max_runtime_s:
            if self.error is None:
                self.error = f"still running after --max-runtime-s {self.args.max_runtime_s}"
            self.request_stop()

    def finish(self) -> int:
        """Print the result line (the last line of output) and return the exit code."""
        result = {"ev": "result", "t": time.time(), "client": self.client,
                  "client_version": self.client_version, "error": self.error,
                  "records_read": self.records_read,
                  "elapsed_s": round(time.monotonic() - self.started, 3)}
        with self._out_lock:
            sys.stdout.write(json.dumps(result) + "\n")
            sys.stdout.flush()
            self._done_output = True
        return 1 if self.error else 0


def run_threads(ctl: Control, member_fn, close_wait_s: float = 30.0) -> None:
    """Run member_fn(ctl, m) for every member in its own thread until all return; the main
    thread keeps handling signals and the runtime bound."""
    ctl.install_sigterm()
    threads = [threading.Thread(target=_guarded, args=(ctl, member_fn, m), daemon=True, name=f"member-{m}")
               for m in range(ctl.args.members)]
    for t in threads:
        t.start()
    deadline = None
    while any(t.is_alive() for t in threads):
        ctl.check_runtime()
        if ctl.stopping() and deadline is None:
            deadline = time.monotonic() + close_wait_s
        if deadline is not None and time.monotonic() > deadline:
            if ctl.error is None:
                ctl.error = f"members still closing {close_wait_s}s after the stop request"
            break
        for t in threads:
            t.join(STOP_POLL_S / max(1, len(threads)))
    sys.exit(ctl.finish())


def _guarded(ctl: Control, member_fn, m: int) -> None:
    try:
        member_fn(ctl, m)
    except BaseException as e:  # noqa: BLE001 - reported in the output, never silent
        ctl.fail(m, e)


def batch_offsets(records: list[list]) -> dict[str, int]:
    """{partition: next offset} after one poll's records, as a commit of them would store."""
    out: dict[str, int] = {}
    for p, off, _k, _v in records:
        out[str(p)] = max(out.get(str(p), 0), off + 1)
    return out


def text(b) -> str | None:
    if b is None:
        return None
    return b.decode("utf-8", errors="replace") if isinstance(b, (bytes, bytearray)) else str(b)
