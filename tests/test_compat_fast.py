"""The fast slice of the compatibility report card (compat/): a few scenarios per client, each
client's own adapter against Runnel and against Kafka in the same run.

The full card (every client x every scenario, plus franz-go's kgo suite) is
`.venv/bin/python compat/report.py` and writes docs/compat.md; this slice keeps every
adapter (Python, Java, CLI tools, franz-go, kafkajs, kcat, runnel-client) from rotting
between card runs. The other clients run no group scenario here: the consumer-group suites
(test_groups*.py) cover their user story. Runnel's own client (compat/rust) runs its whole
user story here, every group.* scenario, on the shared session brokers, which keep Kafka's
default initial rebalance delay (a first join waits 3 s; the card's brokers set it to 0).
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "compat"))

from card import BY_NAME, run_adapter  # noqa: E402
from scenarios import BY_ID, SCENARIOS  # noqa: E402

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
    "runnel-client": ["produce.idempotent", "produce.record_too_large", "consume.from_timestamp"],
}
ADAPTER_TIMEOUT_S = 120.0
# The user story (every group scenario) for the clients whose group behaviour no other suite
# covers. group.crash waits out a 6 s session; each first join waits the 3 s initial delay.
STORY = {"runnel-client": [s.id for s in SCENARIOS if s.area == "Groups"]}
STORY_TIMEOUT_S = 300.0


def test_fast_slice_names_real_clients_and_card_scenarios():
    assert set(FAST) == set(BY_NAME)
    assert set(STORY) <= set(BY_NAME)
    for ids in [*FAST.values(), *STORY.values()]:
        assert all(BY_ID[s].broker == "card" for s in ids)


@pytest.mark.parametrize("client", sorted(FAST), ids=str)
def test_compat_fast_slice(broker, client):
    ids = FAST[client]
    run = run_adapter(BY_NAME[client], broker.bootstrap, ids, uuid.uuid4().hex[:6], timeout_s=ADAPTER_TIMEOUT_S)
    assert run.version != "unknown", f"{client} adapter did not start:\n{run.stderr_tail}"
    bad = {sid: r for sid, r in run.results.items() if r["status"] != "pass"}
    assert not bad, f"{client} {run.version} on {broker.kind}: {bad}\nadapter stderr tail:\n{run.stderr_tail}"
    print(f"{broker.kind}/{client} {run.version}: {', '.join(ids)} passed in {run.elapsed_s}s")


@pytest.mark.parametrize("client", sorted(STORY), ids=str)
def test_compat_user_story(broker, client):
    ids = STORY[client]
    run = run_adapter(BY_NAME[client], broker.bootstrap, ids, uuid.uuid4().hex[:6], timeout_s=STORY_TIMEOUT_S)
    assert run.version != "unknown", f"{client} adapter did not start:\n{run.stderr_tail}"
    bad = {sid: r for sid, r in run.results.items() if r["status"] != "pass"}
    assert not bad, f"{client} {run.version} on {broker.kind}: {bad}\nadapter stderr tail:\n{run.stderr_tail}"
    print(f"{broker.kind}/{client} {run.version}: {len(ids)} group scenarios passed in {run.elapsed_s}s")
