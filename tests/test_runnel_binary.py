"""The `runnel serve` command itself: configuration errors, warnings, and graceful shutdown.

These are Runnel's own promises (Kafka's startup script behaves differently), so they run
against Runnel only.
"""

from __future__ import annotations

import subprocess

from harness import RunnelBroker, wire
from harness.paths import RUNNEL_BIN

START_FAILURE_TIMEOUT_S = 20


def run_serve(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(RUNNEL_BIN), "serve", *args], capture_output=True, text=True,
                          timeout=START_FAILURE_TIMEOUT_S, env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"})


def test_invalid_value_is_a_clear_error_and_a_non_zero_exit(tmp_path):
    result = run_serve("--override", "num.partitions=zero", "--override", f"log.dirs={tmp_path}")
    assert result.returncode != 0
    assert "num.partitions" in result.stderr and "zero" in result.stderr, result.stderr


def test_malformed_override_is_a_clear_error(tmp_path):
    result = run_serve("--override", "no-equals-sign", "--override", f"log.dirs={tmp_path}")
    assert result.returncode != 0
    assert "no-equals-sign" in result.stderr, result.stderr


def test_missing_config_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "absent.properties"
    result = run_serve("--config", str(missing))
    assert result.returncode != 0
    assert str(missing) in result.stderr, result.stderr


def test_unknown_key_warns_and_still_serves(tmp_path):
    broker = RunnelBroker({"no.such.key": "1"}, workdir=tmp_path)
    try:
        broker.start()
        assert "no.such.key" in broker.output_tail(200)
    finally:
        broker.close()


def test_config_file_keys_are_honoured_and_overrides_win(tmp_path):
    config = tmp_path / "server.properties"
    config.write_text("# Kafka format\nnum.partitions=3\nauto.create.topics.enable = true\n")
    broker = RunnelBroker({"num.partitions": "4"}, workdir=tmp_path / "b", config_file=config)
    try:
        broker.start()
        with wire.connect(broker.bootstrap) as sock:
            # Metadata v1 creates an unknown topic when auto creation is on.
            created = wire.metadata_v1(sock, ["auto-created"]).topics["auto-created"]
        assert created["error"] == 0
        assert sorted(created["partitions"]) == [0, 1, 2, 3]
    finally:
        broker.close()


def test_sigterm_exits_zero_and_marks_logs_clean(tmp_path):
    broker = RunnelBroker(workdir=tmp_path)
    try:
        broker.start()
        code = broker.stop()
        assert code == 0, broker.output_tail()
        assert not broker.last_stop_forced
        assert "shutdown complete" in broker.output_tail(50)
    finally:
        broker.close()


def test_max_connections_holds_extra_clients_until_a_slot_frees(tmp_path):
    broker = RunnelBroker({"max.connections": "2"}, workdir=tmp_path)
    try:
        broker.start()
        first, second = wire.connect(broker.bootstrap), wire.connect(broker.bootstrap)
        assert wire.api_versions(first).error_code == 0
        assert wire.api_versions(second).error_code == 0
        third = wire.connect(broker.bootstrap)
        third.settimeout(1.0)
        _, frame = wire.request_frame(wire.API_API_VERSIONS, 0, b"", correlation_id=7)
        wire.send_all(third, frame)
        try:
            third.recv(4)
            raise AssertionError("a third connection was served beyond max.connections=2")
        except TimeoutError:
            pass
        first.close()
        third.settimeout(10.0)
        assert wire.recv_response(third, 7) is not None
        second.close()
        third.close()
    finally:
        broker.close()
