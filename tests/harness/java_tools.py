"""Kafka's own command-line tools (the Java classes behind kafka-consumer-groups.sh and
friends) run from the reference jars, with bounded waits.

- run_tool(main_class, args) -> ToolResult: one JVM, stdout and stderr kept apart.
- consumer_groups(bootstrap, *args): org.apache.kafka.tools.consumer.group.ConsumerGroupCommand.
- run_tool(..., input_text=...): feeds standard input (the console producer reads it).
- run_all(calls, workers): several independent invocations at once (JVM start-up costs a
  second or two each; on two cores a few in parallel roughly halve the wall time).

The JVM is tuned for short runs (C1 only, serial GC, small heap); log4j gets a config that
sends only WARN and above to stderr, so stdout is exactly what the tool prints.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .paths import JAVA_BIN, KAFKA_LIBS
from .process import _die_with_parent

CONSUMER_GROUP_COMMAND = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
DEFAULT_TOOL_TIMEOUT_S = 60.0
DEFAULT_WORKERS = 4
SHORT_RUN_JVM_OPTS = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xms64m", "-Xmx512m",
                      "-Djava.awt.headless=true"]

LOG4J2_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="warn">
  <Appenders>
    <Console name="stderr" target="SYSTEM_ERR">
      <PatternLayout pattern="%p %m (%c)%n"/>
    </Console>
  </Appenders>
  <Loggers>
    <Root level="WARN"><AppenderRef ref="stderr"/></Root>
  </Loggers>
</Configuration>
"""


@dataclass
class ToolResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    elapsed_s: float

    def describe(self) -> str:
        return (f"$ {' '.join(self.args)}\nexit {self.returncode} after {self.elapsed_s:.1f}s\n"
                f"--- stdout ---\n{self.stdout}--- stderr ---\n{self.stderr}")


def _log4j_config() -> Path:
    """The tools' log4j2 file: one file in the temp dir for every run and every xdist worker
    (written to a private name first, so a reader never sees half of it)."""
    path = Path(tempfile.gettempdir()) / f"runnel-tools-log4j2-{os.getuid()}.xml"
    if not path.exists() or path.read_text() != LOG4J2_XML:
        with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".tools-log4j2-", delete=False) as f:
            f.write(LOG4J2_XML)
        os.replace(f.name, path)
    return path


def tool_command(main_class: str, args: list[str]) -> list[str]:
    return [JAVA_BIN, *SHORT_RUN_JVM_OPTS, f"-Dlog4j2.configurationFile={_log4j_config()}",
            "-cp", str(KAFKA_LIBS / "*"), main_class, *[str(a) for a in args]]


def run_tool(main_class: str, args: list[str], *, timeout_s: float = DEFAULT_TOOL_TIMEOUT_S,
             input_text: str | None = None) -> ToolResult:
    """Run one tool to completion (bounded) and return what it printed; input_text, when
    given, is its standard input (e.g. lines for the console producer)."""
    if not any(KAFKA_LIBS.glob("kafka-tools-*.jar")):
        raise FileNotFoundError(f"no kafka-tools jar in {KAFKA_LIBS} (run scripts/setup)")
    cmd = tool_command(main_class, args)
    start = time.monotonic()
    try:
        stdin = {"input": input_text} if input_text is not None else {"stdin": subprocess.DEVNULL}
        res = subprocess.run(cmd, **stdin, capture_output=True, text=True,
                             timeout=timeout_s, preexec_fn=_die_with_parent)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        raise AssertionError(f"{main_class} {' '.join(map(str, args))} timed out after {timeout_s:.0f}s\n"
                             f"--- stdout ---\n{out}--- stderr ---\n{err}") from None
    return ToolResult([main_class.rsplit(".", 1)[-1], *map(str, args)], res.returncode, res.stdout,
                      res.stderr, time.monotonic() - start)


def consumer_groups(bootstrap: str, *args: str, timeout_s: float = DEFAULT_TOOL_TIMEOUT_S) -> ToolResult:
    """kafka-consumer-groups.sh --bootstrap-server BOOTSTRAP ARGS..."""
    return run_tool(CONSUMER_GROUP_COMMAND, ["--bootstrap-server", bootstrap, *args], timeout_s=timeout_s)


def run_all(calls: list, *, workers: int = DEFAULT_WORKERS) -> list[ToolResult]:
    """Run zero-argument callables (e.g. lambdas around consumer_groups) concurrently;
    results in the order given. Only for invocations that do not depend on each other."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(lambda call: call(), calls))
