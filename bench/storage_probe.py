"""A short storage probe, so a benchmark run can say what the disk was doing at the time
(on this class of machine fdatasync speed changes about tenfold over minutes).

Public API: probe(directory, write_bytes, syncs) -> dict with
- write_mib_s: a write_bytes sequential write in 1 MiB chunks plus one fdatasync, timed together;
- sync_p50_ms / sync_max_ms: 4 KiB append + fdatasync, `syncs` times.
The probe file is removed afterwards.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

CHUNK_BYTES = 1024 * 1024
SMALL_WRITE_BYTES = 4096
MIB = 1024 * 1024


def probe(directory: Path, write_bytes: int, syncs: int) -> dict[str, float]:
    path = directory / "storage-probe.bin"
    chunk = os.urandom(CHUNK_BYTES)
    small = os.urandom(SMALL_WRITE_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        start = time.perf_counter()
        written = 0
        while written < write_bytes:
            written += os.write(fd, chunk[:min(CHUNK_BYTES, write_bytes - written)])
        os.fdatasync(fd)
        write_s = time.perf_counter() - start
        sync_ms = []
        for _ in range(syncs):
            t0 = time.perf_counter()
            os.write(fd, small)
            os.fdatasync(fd)
            sync_ms.append((time.perf_counter() - t0) * 1000)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    return {"write_mib": write_bytes / MIB, "write_mib_s": write_bytes / MIB / write_s,
            "sync_p50_ms": statistics.median(sync_ms) if sync_ms else 0.0,
            "sync_max_ms": max(sync_ms) if sync_ms else 0.0, "syncs": syncs}


def describe(result: dict[str, float]) -> str:
    return (f"{result['write_mib']:.0f} MiB write + fdatasync at {result['write_mib_s']:.0f} MiB/s; "
            f"4 KiB write + fdatasync p50 {result['sync_p50_ms']:.2f} ms, max {result['sync_max_ms']:.1f} ms "
            f"({result['syncs']} syncs)")
