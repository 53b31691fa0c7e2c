"""pytest fixtures: real brokers (Runnel and reference Kafka) for every client scenario.

- kafka_broker / runnel_broker: one of each per session, started on first use.
- broker: parametrized over BROKER_KINDS, so each scenario runs against both brokers in
  the same run and shows up as test_x[runnel] and test_x[kafka]. A shared broker that
  dies during a test fails that test (at teardown) and is restarted for the next.
- broker_kind: just the kind name, for tests that start private brokers.
- broker_factory: make(kind, config=None, start=True) -> a private broker with custom
  settings (for restart / kill tests); stopped at test end.
- topic: a unique topic name per test.
`--broker kafka` (or runnel) restricts a run to one broker.
When a test fails, the tail of each broker's output it used is attached to the report.
Every broker is stopped by its fixture's finalizer; the harness also kills any survivor
at interpreter exit and the kernel kills brokers if pytest itself dies (PDEATHSIG).
"""

from __future__ import annotations

import re
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import BROKER_KINDS, BrokerProcess, make_broker  # noqa: E402
from harness.fixtures import serve_shared, track  # noqa: E402

FAILURE_TAIL_LINES = 40
TOPIC_NAME_STEM_CHARS = 60
# Fixtures whose parameter is a broker kind; --broker filters on them.
KIND_PARAM_FIXTURES = ("broker", "broker_kind", "limited_broker")


def pytest_addoption(parser):
    parser.addoption("--broker", action="append", choices=BROKER_KINDS, default=None,
                     help="run broker scenarios only against this broker (repeatable; default: all)")


def pytest_collection_modifyitems(config, items):
    chosen = config.getoption("--broker")
    if not chosen:
        return
    keep, drop = [], []
    for item in items:
        params = getattr(item, "callspec", None)
        kinds = {params.params[f] for f in KIND_PARAM_FIXTURES if params and f in params.params}
        (drop if kinds - set(chosen) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _session_broker(kind: str, tmp_path_factory: pytest.TempPathFactory):
    broker = make_broker(kind, workdir=tmp_path_factory.mktemp(f"{kind}-session"))
    try:
        broker.start()
        yield broker
    finally:
        broker.close(remove_workdir=False)


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory):
    yield from _session_broker("kafka", tmp_path_factory)


@pytest.fixture(scope="session")
def runnel_broker(tmp_path_factory):
    yield from _session_broker("runnel", tmp_path_factory)


@pytest.fixture(params=BROKER_KINDS)
def broker(request):
    yield from serve_shared(request, request.getfixturevalue(f"{request.param}_broker"))


@pytest.fixture(params=BROKER_KINDS)
def broker_kind(request) -> str:
    return request.param


@pytest.fixture
def broker_factory(request, tmp_path):
    made: list[BrokerProcess] = []

    def make(kind: str, config: dict[str, object] | None = None, *, start: bool = True, **kwargs) -> BrokerProcess:
        b = make_broker(kind, config, workdir=tmp_path / f"{kind}-{len(made)}", **kwargs)
        made.append(b)
        track(request, b)
        if start:
            b.start()
        return b

    yield make
    for b in made:
        b.close(remove_workdir=False)


@pytest.fixture
def topic(request) -> str:
    stem = re.sub(r"[^a-zA-Z0-9._-]+", "-", request.node.name).strip("-")[:TOPIC_NAME_STEM_CHARS]
    return f"{stem}-{uuid.uuid4().hex[:8]}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for b in getattr(item, "_brokers_used", []):
            report.sections.append((f"{b.kind} broker output ({b.bootstrap})", b.output_tail(FAILURE_TAIL_LINES)))
