"""The fast slice of the compatibility report card (compat/): a few scenarios per client, each
client's own adapter against Runnel and against Kafka in the same run.

The full card (every client x every scenario, plus franz-go's kgo suite) is
`.venv/bin/python compat/report.py` and writes docs/compat.md; this slice keeps every
adapter (Python, Java, CLI tools, franz-go, kafkajs, kcat) from rotting between card runs.
No group scenario here: the shared session brokers keep Kafka's default initial rebalance
delay, and the consumer-group suites (test_groups*.py) cover the user story.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "compat"))

from card import BY_NAME, run_adapter  # noqa: E402
from scenarios import BY_ID  # noqa: E402

# One adapter process per client and broker; every scenario here takes a second or two.
FAST = {
    "kafka-python3": ["produce.headers", "consume.from_timestamp"],
    "kafka-python2": ["produce.acks_1"],
    "confluent-kafka": ["produce.idempotent", "produce.record_too_large"],
    "aiokafka": ["consume.assign_seek"],
    "java": ["admin.create_partitions", "produce.record_too_large", "consume.from_timestamp"],
    "kafka-cli": ["admin.describe_configs"],
    "franz-go": ["produce.zstd", "consume.assign_seek"],
    "kafkajs": ["produce.lz4", "produce.headers"],
    "kcat": ["produce.headers", "consume.from_timestamp"],
}
ADAPTER_TIMEOUT_S = 120.0


def test_fast_slice_names_real_clients_and_card_scenarios():
    assert set(FAST) == set(BY_NAME)
    for ids in FAST.values():
        assert all(BY_ID[s].broker == "card" for s in ids)


@pytest.mark.parametrize("client", sorted(FAST), ids=str)
def test_compat_fast_slice(broker, client):
    ids = FAST[client]
    run = run_adapter(BY_NAME[client], broker.bootstrap, ids, uuid.uuid4().hex[:6], timeout_s=ADAPTER_TIMEOUT_S)
    assert run.version != "unknown", f"{client} adapter did not start:\n{run.stderr_tail}"
    bad = {sid: r for sid, r in run.results.items() if r["status"] != "pass"}
    assert not bad, f"{client} {run.version} on {broker.kind}: {bad}\nadapter stderr tail:\n{run.stderr_tail}"
    print(f"{broker.kind}/{client} {run.version}: {', '.join(ids)} passed in {run.elapsed_s}s")
