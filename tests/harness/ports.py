"""Free loopback TCP ports for brokers started by the tests and benchmarks.

Ports come from a block below Linux's default ephemeral range (32768-60999), so a client's
outgoing connection never takes a port that a broker is about to bind. Each pytest-xdist
worker (PYTEST_XDIST_WORKER=gwN) has its own block, so two workers never hand out the same
port (up to PORT_BLOCKS_MAX workers; more would share). A process outside xdist uses the first
block; a worker's subprocesses (bench/compare.py under tests/test_bench_smoke.py) inherit the
variable and so their worker's block, where the bind probe skips the worker's own brokers.

Within a block a process walks a cursor from a random start, so it hands a port out again
only after the whole block, and probes each port with a bind first: a port that a broker
still holds (or that has connections in TIME_WAIT) is skipped.
"""

from __future__ import annotations

import os
import random
import re
import socket
import threading

LOOPBACK = "127.0.0.1"

PORT_BLOCK_FIRST = 20000
PORT_BLOCK_PORTS = 2000
# 20000 + 6 x 2000 stays below 32768, where the ephemeral range begins.
PORT_BLOCKS_MAX = 6

_lock = threading.Lock()
_cursor: int | None = None


def worker_block_index(worker: str | None) -> int:
    """gwN -> N modulo the number of blocks; anything else (no xdist) -> 0."""
    m = re.fullmatch(r"gw(\d+)", worker or "")
    return int(m.group(1)) % PORT_BLOCKS_MAX if m else 0


def _block_first() -> int:
    return PORT_BLOCK_FIRST + worker_block_index(os.environ.get("PYTEST_XDIST_WORKER")) * PORT_BLOCK_PORTS


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    global _cursor
    first = _block_first()
    with _lock:
        if _cursor is None:
            _cursor = random.randrange(PORT_BLOCK_PORTS)
        for _ in range(PORT_BLOCK_PORTS):
            port = first + _cursor
            _cursor = (_cursor + 1) % PORT_BLOCK_PORTS
            if _bindable(port):
                return port
    raise RuntimeError(f"no free loopback port in {first}-{first + PORT_BLOCK_PORTS - 1}")


def port_accepts(port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout_s):
            return True
    except OSError:
        return False
