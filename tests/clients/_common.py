"""Shared plumbing for the client scenario scripts (stdlib only: runs in every venv).

Every scenario script takes --bootstrap and scenario arguments and prints exactly one JSON
object as its last stdout line:
  {"client", "client_version", "scenario", "topic", "produced": [...], "consumed": [...],
   "error": null | "Type: message", "traceback": ..., "elapsed_s"}
produced items: {"key", "value", "partition", "offset", "error"}; consumed items:
{"key", "value", "partition", "offset"}. Keys and values are decoded as UTF-8 text.
Checks are not made here: pytest (harness.verify) and the report card judge the JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback

DEFAULT_COUNT = 10
DEFAULT_PARTITIONS = 2
DEFAULT_TIMEOUT_S = 60.0
# Five distinct keys over ten records: every key repeats, so "same key -> same partition"
# is actually exercised.
DISTINCT_KEYS = 5


def base_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--bootstrap", required=True, help="host:port of the broker")
    p.add_argument("--topic", required=True)
    p.add_argument("--mode", choices=["roundtrip", "produce", "consume"], default="roundtrip")
    p.add_argument("--create-topic", action="store_true", help="create the topic first (admin API)")
    p.add_argument("--partitions", type=int, default=DEFAULT_PARTITIONS)
    p.add_argument("--count", type=int, default=DEFAULT_COUNT, help="records to produce")
    p.add_argument("--compression", default="none", help="none|gzip|snappy|lz4|zstd")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="bound on each phase, seconds")
    p.add_argument("--run-id", default="", help="added to every value, so repeated runs stay distinct")
    return p


def make_records(topic: str, count: int, client: str, run_id: str = "") -> list[tuple[str, str]]:
    """Keyed JSON records; each value is unique (per run_id) so it identifies its record."""
    return [(f"key-{i % DISTINCT_KEYS}",
             json.dumps({"seq": i, "topic": topic, "client": client, "run": run_id}, sort_keys=True))
            for i in range(count)]


def text(b) -> str | None:
    if b is None:
        return None
    return b.decode("utf-8", errors="replace") if isinstance(b, (bytes, bytearray)) else str(b)


def run(scenario, args, *, client: str, client_version: str) -> None:
    """Run scenario(result) and print the JSON result, recording any exception."""
    result = {"client": client, "client_version": client_version, "scenario": args.mode,
              "topic": args.topic, "compression": getattr(args, "compression", None),
              "produced": [], "consumed": [], "error": None}
    start = time.monotonic()
    code = 0
    try:
        scenario(result)
    except BaseException as e:  # noqa: BLE001 - the JSON must say what went wrong
        result["error"] = f"{type(e).__name__}: {e}"
        result["traceback"] = traceback.format_exc()
        code = 1
    result["elapsed_s"] = round(time.monotonic() - start, 3)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    sys.exit(code)


def log(msg: str) -> None:
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()
