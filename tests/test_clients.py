"""Real clients against each broker: create a 2-partition topic, produce keyed JSON
records, read every one back exactly once without a consumer group (assign + seek to
the beginning), same key -> same partition, offsets as acknowledged."""

from __future__ import annotations

import pytest

from harness import run_client, verify_roundtrip
from harness.paths import VENV_KP2_PYTHON

COUNT = 10
PARTITIONS = 2
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
MAX_PROBLEMS_SHOWN = 8


def roundtrip(script: str, broker, topic: str, *extra: str, python=None, check_offsets: bool = True) -> dict:
    args = ["--bootstrap", broker.bootstrap, "--topic", topic, "--create-topic",
            "--partitions", str(PARTITIONS), "--count", str(COUNT), *extra]
    result = run_client(script, args, python=python)
    problems = verify_roundtrip(result["produced"], result["consumed"], expected_count=COUNT,
                                partitions=PARTITIONS, check_offsets=check_offsets)
    assert not problems, "\n".join(problems[:MAX_PROBLEMS_SHOWN])
    assert len(result["consumed"]) == COUNT
    return result


def test_kafka_python3_default_idempotent_producer_roundtrip(broker, topic):
    result = roundtrip("kp_scenario.py", broker, topic)
    assert result["client_version"].startswith("3."), result["client_version"]
    # The default producer must have stayed idempotent: kafka-python 3 silently drops
    # idempotence when the broker's ApiVersions make it look older than 0.11.
    assert result["idempotent"] is True
    assert result["producer_acks"] == -1


def test_kafka_python2_roundtrip(broker, topic):
    result = roundtrip("kp_scenario.py", broker, topic, python=VENV_KP2_PYTHON)
    assert result["client_version"] == "2.0.2"


@pytest.mark.parametrize("codec", CODECS)
def test_confluent_kafka_roundtrip(broker, topic, codec):
    roundtrip("ck_scenario.py", broker, topic, "--compression", codec)


@pytest.mark.parametrize("codec", CODECS)
def test_aiokafka_roundtrip(broker, topic, codec):
    roundtrip("aio_scenario.py", broker, topic, "--compression", codec)


@pytest.mark.parametrize("codec", CODECS)
def test_kcat_roundtrip(broker, topic, codec):
    # kcat (Debian's, on an older librdkafka) reports no offsets for produced records;
    # exactly-once, keys, values and key -> partition are still checked.
    roundtrip("kcat_scenario.py", broker, topic, "--compression", codec)
