"""Test harness for Runnel: real brokers (Runnel and reference Kafka) and client runners.

Public API:
- RunnelBroker, KafkaBroker: start()/stop()/kill()/restart()/revive()/close(), .bootstrap, .port,
  .data_dir, .config (Kafka server.properties keys, applied on every start), .output_tail();
  extra_listeners={"SSL": "SSL"} (name -> security protocol) adds listeners on their own ports
  beside the PLAINTEXT one, reached through .listener_bootstrap(name). RunnelBroker also has
  .admin_url, its admin HTTP listener on a free loopback port.
- certs.make_certs(dir): a throwaway CA and certificates; tls_clients: the user story over SSL.
- BROKER_KINDS and make_broker(kind, config, ...): either broker by name.
- run_client(...): run a tests/clients script in a venv and parse its JSON result.
- verify_roundtrip(...): the exactly-once / same-key-same-partition checks.
- wire: raw protocol helpers for bad-input tests.
- fixtures (imports pytest): track(), serve_shared() for shared brokers in fixtures.
"""

from __future__ import annotations

from . import wire
from .clients import ClientError, run_client, start_client
from .kafka import KafkaBroker
from .ports import free_port
from .process import BrokerProcess, BrokerStartError
from .runnel import RunnelBroker
from .verify import verify_roundtrip

BROKER_KINDS = ("runnel", "kafka")
_CLASSES = {"runnel": RunnelBroker, "kafka": KafkaBroker}


def make_broker(kind: str, config: dict[str, object] | None = None, **kwargs) -> BrokerProcess:
    """A not-yet-started broker of the given kind ("runnel" or "kafka")."""
    try:
        cls = _CLASSES[kind]
    except KeyError:
        raise ValueError(f"unknown broker kind {kind!r}; expected one of {BROKER_KINDS}") from None
    return cls(config, **kwargs)


__all__ = [
    "BROKER_KINDS", "BrokerProcess", "BrokerStartError", "ClientError", "KafkaBroker",
    "RunnelBroker", "free_port", "make_broker", "run_client", "start_client",
    "verify_roundtrip", "wire",
]
