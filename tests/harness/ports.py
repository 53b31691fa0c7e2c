"""Free loopback TCP ports for brokers started by the tests.

The OS picks an unused port; the process-wide set keeps one pytest run from handing the
same port to two brokers even if the OS recycles it between the probe and the bind.
"""

from __future__ import annotations

import socket
import threading

LOOPBACK = "127.0.0.1"

_handed_out: set[int] = set()
_lock = threading.Lock()
# The OS may hand back a recently used port; bounded retries before giving up.
MAX_PORT_ATTEMPTS = 50


def free_port() -> int:
    with _lock:
        for _ in range(MAX_PORT_ATTEMPTS):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind((LOOPBACK, 0))
                port = s.getsockname()[1]
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise RuntimeError("no free loopback port found")


def port_accepts(port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout_s):
            return True
    except OSError:
        return False
