"""pytest helpers shared by conftest.py and test modules (imports pytest; the rest of the
harness does not)."""

from __future__ import annotations

import pytest

from .process import BrokerProcess


def track(request: pytest.FixtureRequest, broker: BrokerProcess) -> None:
    """Remember that this test used the broker, so a failure report shows its output."""
    used = getattr(request.node, "_brokers_used", None)
    if used is None:
        used = []
        request.node._brokers_used = used
    if broker not in used:
        used.append(broker)


def serve_shared(request: pytest.FixtureRequest, broker: BrokerProcess):
    """Generator fixture body handing a shared (session/module) broker to one test.

    If the broker dies during the test (crash, or a signal from outside), that test fails
    at teardown with the broker's output and the broker is restarted on the same port and
    data dir, so later tests report their own results instead of "connection refused".
    """
    broker.revive()  # only if a restart at an earlier teardown failed
    track(request, broker)
    yield broker
    died = broker.revive()
    if died is not None:
        pytest.fail(f"the broker died during this test\n{died}", pytrace=False)
