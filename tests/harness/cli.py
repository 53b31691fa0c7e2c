"""Running the runnel CLI (target/release/runnel) from tests.

- cli(bootstrap, *args, stdin=None, env=None): one bounded run with `-b BOOTSTRAP` (unless
  None); stdout, stderr and the exit code in a CliResult. RUNNEL_BROKERS only from `env`.
- ok(...): a run that must exit 0 without a `runnel:` error line.
- failure_line(result): the one `runnel: <error>` line of a failed run (asserts the shape).
- eventually(what, check): a bounded poll for what brokers learn asynchronously.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass

from .paths import RUNNEL_BIN
from .process import _die_with_parent

CLI_TIMEOUT_S = 60.0
EVENTUALLY_S = 30.0
POLL_S = 0.2


@dataclass
class CliResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return (f"$ runnel {' '.join(self.args)}\nexit {self.returncode}\n--- stdout ---\n{self.stdout}"
                f"--- stderr ---\n{self.stderr}")


def cli(bootstrap: str | None, *args: str, stdin: str | bytes | None = None, env: dict[str, str] | None = None,
        timeout_s: float = CLI_TIMEOUT_S) -> CliResult:
    full = [*args] + (["-b", bootstrap] if bootstrap is not None else [])
    data = stdin.encode() if isinstance(stdin, str) else (stdin if stdin is not None else b"")
    run_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NO_COLOR": "1", **(env or {})}
    try:
        res = subprocess.run([str(RUNNEL_BIN), *full], input=data, capture_output=True, timeout=timeout_s,
                             env=run_env, preexec_fn=_die_with_parent)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"runnel {' '.join(full)} timed out after {timeout_s:.0f}s: {e.stdout!r} {e.stderr!r}") from None
    return CliResult(full, res.returncode, res.stdout.decode(errors="replace"), res.stderr.decode(errors="replace"))


def ok(bootstrap: str | None, *args: str, **kwargs) -> CliResult:
    res = cli(bootstrap, *args, **kwargs)
    assert res.returncode == 0, res.describe()
    assert "runnel:" not in res.stderr, res.describe()
    return res


def failure_line(res: CliResult) -> str:
    assert res.returncode != 0, res.describe()
    lines = [line for line in res.stderr.splitlines() if line.startswith("runnel: ")]
    assert len(lines) == 1, res.describe()
    return lines[0]


def eventually(what: str, check, timeout_s: float = EVENTUALLY_S):
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(POLL_S)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}; last: {last!r}")
