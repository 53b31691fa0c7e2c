"""What the card knows about Runnel's gaps: a cell that fails on Runnel and passes on Kafka
is a Runnel bug; the ones explained here are shown with what they wait for, every other one
as "under investigation" with Runnel's and Kafka's answers side by side.

A gap names the scenario, optionally the clients it applies to (None: all), what is missing
in Runnel, and what it waits for. Remove an entry when the card shows the cell passing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Gap:
    scenario: str
    missing: str
    waits_for: str
    clients: tuple[str, ...] | None = None

    def covers(self, scenario: str, client: str) -> bool:
        return scenario == self.scenario and (self.clients is None or client in self.clients)


KNOWN_GAPS: list[Gap] = []


def gap_for(scenario: str, client: str) -> Gap | None:
    return next((g for g in KNOWN_GAPS if g.covers(scenario, client)), None)
