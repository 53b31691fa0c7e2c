"""Run the standalone client scenario scripts in tests/clients/ and collect their JSON.

Each script prints one JSON object as its last stdout line (see tests/clients/_common.py).
Scripts run in a chosen venv's interpreter, so kafka-python 2.0.2 (.venv-kp2) and 3.x
(.venv) can both be exercised in one pytest run.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from .paths import CLIENTS_DIR, VENV_PYTHON
from .process import _die_with_parent

DEFAULT_CLIENT_TIMEOUT_S = 120.0
STDERR_TAIL_CHARS = 4000


class ClientError(AssertionError):
    """A client script crashed, timed out, printed no JSON, or reported an error."""


def _cmd(script: str, args: list[str], python: str | os.PathLike | None) -> list[str]:
    interpreter = Path(python) if python is not None else VENV_PYTHON
    if not interpreter.exists():
        raise ClientError(f"interpreter {interpreter} missing (run scripts/setup)")
    return [str(interpreter), str(CLIENTS_DIR / script), *[str(a) for a in args]]


def run_client(script: str, args: list[str], *, python: str | os.PathLike | None = None,
               timeout_s: float = DEFAULT_CLIENT_TIMEOUT_S, check: bool = True) -> dict:
    """Run a scenario script to completion (bounded) and return its JSON result.

    With check=True a reported error, a non-zero exit or a missing result raises
    ClientError carrying the script's stderr tail.
    """
    cmd = _cmd(script, args, python)
    try:
        res = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             timeout=timeout_s, preexec_fn=_die_with_parent)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        raise ClientError(f"{script} timed out after {timeout_s:.0f}s\nstdout tail:\n{out[-STDERR_TAIL_CHARS:]}"
                          f"\nstderr tail:\n{err[-STDERR_TAIL_CHARS:]}") from None
    lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
    result = None
    if lines:
        try:
            result = json.loads(lines[-1])
        except json.JSONDecodeError:
            result = None
    stderr_tail = res.stderr[-STDERR_TAIL_CHARS:]
    if result is None:
        raise ClientError(f"{script} exited {res.returncode} without a JSON result\n"
                          f"stdout tail:\n{res.stdout[-STDERR_TAIL_CHARS:]}\nstderr tail:\n{stderr_tail}")
    result["exit_code"] = res.returncode
    result["stderr_tail"] = stderr_tail
    if check and (result.get("error") or res.returncode != 0):
        raise ClientError(f"{script} failed (exit {res.returncode}): {result.get('error')}\n"
                          f"stderr tail:\n{stderr_tail}")
    return result


def start_client(script: str, args: list[str], *, python: str | os.PathLike | None = None,
                 stderr_path: str | os.PathLike | None = None) -> subprocess.Popen:
    """Start a streaming scenario script; its stdout is a pipe of JSON lines.

    The caller owns the process and must bound every read and wait on it.
    """
    cmd = _cmd(script, args, python)
    err = open(stderr_path, "ab") if stderr_path is not None else subprocess.DEVNULL
    try:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                                text=True, bufsize=1, preexec_fn=_die_with_parent)
    finally:
        if stderr_path is not None:
            err.close()
