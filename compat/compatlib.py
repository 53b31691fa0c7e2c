"""Shared plumbing of the compatibility report card (compat/): paths, brokers, versions.

The card reuses the test harness in tests/harness (RunnelBroker, KafkaBroker, ports and
process hygiene), so a broker started here is the same broker the pytest suite uses.
- REPO, COMPAT_DIR, RESULTS_DIR: where things live; results are scratch (under .cache).
- card_broker(kind, workdir, auto_create=True): a not-yet-started broker tuned for the card.
- FRANZ_GO_VERSION: the one franz-go release the scenario program and the kgo suite use.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMPAT_DIR = REPO / "compat"
TESTS_DIR = REPO / "tests"
RESULTS_DIR = Path(os.environ.get("RUNNEL_COMPAT_RESULTS", REPO / ".cache" / "compat"))

if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

from harness import make_broker  # noqa: E402
from harness.process import BrokerProcess  # noqa: E402

# Groups settle at once on both brokers (the same key the group suites set); everything
# else stays at each broker's defaults, auto topic creation included.
CARD_BROKER_CONFIG = {"group.initial.rebalance.delay.ms": 0}


def card_broker(kind: str, workdir: Path, *, auto_create: bool = True) -> BrokerProcess:
    config = dict(CARD_BROKER_CONFIG)
    if not auto_create:
        config["auto.create.topics.enable"] = "false"
    return make_broker(kind, config, workdir=workdir)


def _go_mod_version(module: str) -> str:
    text = (COMPAT_DIR / "franzgo" / "go.mod").read_text()
    m = re.search(rf"^\s*{re.escape(module)}\s+(v\S+)", text, re.M)
    if not m:
        raise RuntimeError(f"{module} not pinned in compat/franzgo/go.mod")
    return m.group(1)


FRANZ_GO_VERSION = _go_mod_version("github.com/twmb/franz-go")
