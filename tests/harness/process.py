"""Lifecycle of one broker process under test: start, readiness, stop, kill -9, restart.

Owns the parts shared by Runnel and the reference Kafka: a fixed port and data dir that
survive restarts, output captured to a file for diagnostics, bounded waits everywhere,
and a process-wide registry so nothing is left running when the interpreter exits
(atexit) or when the test process dies (PR_SET_PDEATHSIG on Linux).
"""

from __future__ import annotations

import atexit
import ctypes
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from . import wire
from .ports import LOOPBACK, free_port, port_accepts

DEFAULT_STOP_TIMEOUT_S = 20.0
KILL_WAIT_S = 10.0
READY_POLL_INTERVAL_S = 0.2
PROBE_IO_TIMEOUT_S = 3.0
OUTPUT_TAIL_LINES = 60

_PR_SET_PDEATHSIG = 1
_BACKTRACE_FRAME = re.compile(r"^\s+(\d+: |at )")

_live: set["BrokerProcess"] = set()
_live_lock = threading.Lock()


class BrokerStartError(RuntimeError):
    """The broker exited or did not become ready within its start timeout."""


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: if pytest dies (even by SIGKILL), the
    # kernel kills the broker too. Linux only; harmless to skip elsewhere.
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def _kill_all_live() -> None:
    with _live_lock:
        procs = list(_live)
    for b in procs:
        try:
            b.kill()
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass


atexit.register(_kill_all_live)


class BrokerProcess:
    """Base class; subclasses provide the command line and any one-time preparation.

    config holds broker settings as Kafka server.properties keys (str -> str); both
    brokers accept the same keys, so a test can set e.g. message.max.bytes on either.
    """

    kind = "broker"
    default_start_timeout_s = 30.0

    def __init__(self, config: dict[str, object] | None = None, *, workdir: str | os.PathLike | None = None,
                 port: int | None = None, start_timeout_s: float | None = None,
                 env: dict[str, str] | None = None, extra_listeners: dict[str, str] | None = None):
        self.config = {k: str(v) for k, v in (config or {}).items()}
        self.port = port or free_port()
        # Listener name -> security protocol, besides the PLAINTEXT listener on self.port (which
        # readiness probes use); each gets its own free port, kept across restarts.
        self.extra_listeners = {name.upper(): proto.upper() for name, proto in (extra_listeners or {}).items()}
        self.listener_ports = {name: free_port() for name in self.extra_listeners}
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix=f"{self.kind}-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.workdir / "data"
        self.output_path = self.workdir / "output.log"
        self.start_timeout_s = start_timeout_s or self.default_start_timeout_s
        self.env = dict(env or {})
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        # True when the last stop() had to fall back to SIGKILL.
        self.last_stop_forced = False

    # ------------------------------------------------------------------ subclass hooks

    def command(self) -> list[str]:
        raise NotImplementedError

    def prepare(self) -> None:
        """One-time setup before the first start (e.g. formatting a KRaft log dir)."""

    # ------------------------------------------------------------------ public API

    @property
    def bootstrap(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def listener_bootstrap(self, name: str) -> str:
        """host:port of an extra listener (see extra_listeners)."""
        return f"{LOOPBACK}:{self.listener_ports[name.upper()]}"

    def extra_listener_uris(self) -> list[str]:
        return [f"{name}://{LOOPBACK}:{self.listener_ports[name]}" for name in self.extra_listeners]

    def extra_protocol_map(self) -> list[str]:
        return [f"{name}:{proto}" for name, proto in self.extra_listeners.items()]

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> "BrokerProcess":
        if self.running:
            raise RuntimeError(f"{self.kind} already running")
        if self.starts == 0:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.prepare()
        cmd = self.command()
        with open(self.output_path, "ab") as out:
            out.write(f"\n===== start #{self.starts + 1}: {' '.join(cmd)}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=self.workdir, env={**os.environ, **self.env},
                start_new_session=True, preexec_fn=_die_with_parent,
            )
        self.starts += 1
        with _live_lock:
            _live.add(self)
        try:
            self.wait_ready()
        except BaseException:
            self.kill()
            raise
        return self

    def wait_ready(self) -> None:
        """Bounded wait until the port accepts and ApiVersions + Metadata answer sensibly."""
        deadline = time.monotonic() + self.start_timeout_s
        last_error = "port never accepted"
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                code = None if self.proc is None else self.proc.returncode
                raise BrokerStartError(f"{self.kind} exited with {code} during start\n{self.output_tail()}")
            if port_accepts(self.port):
                try:
                    self.probe()
                    return
                except Exception as e:  # noqa: BLE001 - keep polling until the deadline
                    last_error = f"{type(e).__name__}: {e}"
            time.sleep(READY_POLL_INTERVAL_S)
        raise BrokerStartError(
            f"{self.kind} not ready on {self.bootstrap} after {self.start_timeout_s:.0f}s "
            f"(last probe: {last_error})\n{self.output_tail()}")

    def probe(self) -> None:
        """What a bootstrapping client does: ApiVersions, then Metadata listing this broker."""
        with wire.connect(self.bootstrap, PROBE_IO_TIMEOUT_S) as sock:
            av = wire.api_versions(sock, 0)
            if av.error_code != wire.ERROR_NONE or wire.API_METADATA not in av.api_keys:
                raise RuntimeError(f"ApiVersions v0: error {av.error_code}, keys {sorted(av.api_keys)}")
            md = wire.metadata_v1(sock)
            if not any(port == self.port for _, _, port in md.brokers):
                raise RuntimeError(f"Metadata does not advertise port {self.port}: {md.brokers}")

    def stop(self, timeout_s: float = DEFAULT_STOP_TIMEOUT_S) -> int | None:
        """Graceful stop: SIGTERM, bounded wait, then SIGKILL. Returns the exit code."""
        if self.proc is None:
            return None
        self.last_stop_forced = False
        if self.proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.last_stop_forced = True
                self._note(f"did not exit {timeout_s:.0f}s after SIGTERM; killing")
                self._signal(signal.SIGKILL)
                self.proc.wait(KILL_WAIT_S)
        return self._reap()

    def kill(self) -> int | None:
        """kill -9, as a crash would."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self._signal(signal.SIGKILL)
            self.proc.wait(KILL_WAIT_S)
        return self._reap()

    def restart(self, *, graceful: bool = True) -> "BrokerProcess":
        """Stop (or kill) and start again on the same port and data dir."""
        if graceful:
            self.stop()
        else:
            self.kill()
        return self.start()

    def revive(self) -> str | None:
        """If the process has died (crash, or a signal from outside), start it again on the
        same port and data dir and return what happened, for the report; else None."""
        if self.proc is None or self.running:
            return None
        code = self.proc.returncode
        tail = self.output_tail()
        self._reap()
        self._note(f"found exited with {code}; restarting")
        self.start()
        return f"{self.kind} broker on {self.bootstrap} had exited with code {code}; restarted.\n{tail}"

    def close(self, *, remove_workdir: bool | None = None) -> None:
        """Stop if running; remove a workdir the harness created itself."""
        try:
            self.stop()
        finally:
            if remove_workdir if remove_workdir is not None else self._own_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def output_tail(self, lines: int = OUTPUT_TAIL_LINES) -> str:
        try:
            text = self.output_path.read_text(errors="replace")
        except OSError:
            return "(no output captured)"
        # Backtrace frames would crowd the panic message out of a short tail; the file
        # keeps them.
        kept = [ln for ln in text.splitlines() if not _BACKTRACE_FRAME.match(ln)]
        tail = kept[-lines:] if lines > 0 else []
        return (f"--- last {len(tail)} lines of {self.output_path} (backtrace frames omitted) ---\n"
                + "\n".join(tail))

    def __enter__(self) -> "BrokerProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.bootstrap} running={self.running} dir={self.workdir}>"

    # ------------------------------------------------------------------ internals

    def _signal(self, sig: int) -> None:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def _reap(self) -> int | None:
        assert self.proc is not None
        code = self.proc.returncode
        with _live_lock:
            _live.discard(self)
        return code

    def _note(self, msg: str) -> None:
        with open(self.output_path, "ab") as out:
            out.write(f"===== harness: {msg}\n".encode())
