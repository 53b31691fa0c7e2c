"""Bad SASL input on a SASL_PLAINTEXT listener (PLAIN and SCRAM-SHA-256), against Runnel and
Kafka: each bad client gets Kafka's answer (or is closed, as Kafka closes it), nothing
crashes, and a client that was authenticated before carries on, as does a new one.

- wrong password, unknown user, malformed PLAIN tokens: SASL_AUTHENTICATION_FAILED (58) with
  Kafka's message (PLAIN names the failure; SCRAM hides it behind its generic one), then closed;
- an unknown or disabled mechanism: UNSUPPORTED_SASL_MECHANISM (33) listing the enabled ones;
- a request before authentication (first, after ApiVersions, after the handshake): closed;
- fuzzed frames: garbage first frames, random and truncated tokens, SaslAuthenticate before
  SaslHandshake, a second handshake (ILLEGAL_SASL_STATE, 34), a token larger than
  sasl.server.max.receive.size (closed without reading it);
- a client that never finishes: closed within connections.max.idle.ms (set low for that test);
- after authentication a SaslHandshake gets ILLEGAL_SASL_STATE and the connection stays;
- handshake v0 followed by a raw token authenticates (KIP-43), as Kafka 4.1 still serves it.
Runnel-only: the startup refusals of mechanisms it cannot serve.
"""

from __future__ import annotations

import os
import random
import struct
import time

import pytest

from harness import BrokerStartError, wire
from harness.ports import LOOPBACK
from harness.sasl_clients import (PLAIN_USERS, ScramClient, create_scram_user, plain_login, plain_token,
                                  sasl_authenticate, sasl_authenticate_frame, sasl_handshake,
                                  sasl_plaintext_settings, scram_login)

LISTENER = {"SASL_PLAINTEXT": "SASL_PLAINTEXT"}
IDLE_MS = 3000
CLOSE_WAIT_S = 15.0
SCRAM_USER, SCRAM_PASSWORD = "scrammer", "scram-pw"
MAX_RECEIVE_BYTES = 524288
FUZZ_SEED = 6
FUZZ_ROUNDS = 12
SCRAM_GENERIC = ("Authentication failed during authentication due to invalid credentials with SASL mechanism "
                 "SCRAM-SHA-256")


def _broker(broker_factory, kind: str, **extra):
    b = broker_factory(kind, {**sasl_plaintext_settings(mechanisms=("PLAIN", "SCRAM-SHA-256")), **extra},
                       extra_listeners=LISTENER)
    create_scram_user(b.bootstrap, SCRAM_USER, SCRAM_PASSWORD, "SCRAM-SHA-256")
    return b


@pytest.fixture
def sasl_broker(broker_factory, broker_kind):
    return _broker(broker_factory, broker_kind)


@pytest.fixture
def idle_bounded_broker(broker_factory, broker_kind):
    """connections.max.idle.ms set low: it bounds an unfinished exchange on both brokers."""
    return _broker(broker_factory, broker_kind, **{"connections.max.idle.ms": IDLE_MS})


def _sasl(b):
    return wire.connect(b.listener_bootstrap("SASL_PLAINTEXT"))


def _serves(b, sock) -> None:
    assert wire.metadata_v1(sock).brokers == [(1, LOOPBACK, b.listener_ports["SASL_PLAINTEXT"])]


def _closed(sock, timeout_s: float = CLOSE_WAIT_S) -> bytes:
    how, received = wire.read_until_closed(sock, timeout_s)
    assert how is not None, "the connection was left open"
    return received


def _others_carry_on(b, before) -> None:
    _serves(b, before)
    with _sasl(b) as fresh:
        assert plain_login(fresh, "alice", PLAIN_USERS["alice"]).error_code == 0
        _serves(b, fresh)


@pytest.fixture
def survivor(sasl_broker):
    """A client authenticated before the bad one; it must still be served after."""
    sock = _sasl(sasl_broker)
    assert plain_login(sock, "bob", PLAIN_USERS["bob"]).error_code == 0
    yield sock
    sock.close()


def test_a_wrong_plain_password_and_an_unknown_user_get_58_with_kafkas_message(sasl_broker, survivor):
    for user, password in (("alice", "wrong"), ("mallory", "x")):
        with _sasl(sasl_broker) as sock:
            res = plain_login(sock, user, password)
            assert (res.error_code, res.error_message) == (58, "Authentication failed: Invalid username or password")
            assert _closed(sock) == b""
    for token, message in ((b"no-nul-at-all", "Invalid SASL/PLAIN response: expected 3 tokens, got 1"),
                           (b"\0alice\0", "Authentication failed: password not specified")):
        with _sasl(sasl_broker) as sock:
            assert sasl_handshake(sock, "PLAIN").error_code == 0
            res = sasl_authenticate(sock, token)
            assert (res.error_code, res.error_message) == (58, message)
    _others_carry_on(sasl_broker, survivor)


def test_a_wrong_scram_password_and_an_unknown_scram_user_get_58_with_the_generic_message(sasl_broker, survivor):
    for user, password in ((SCRAM_USER, "wrong"), ("nobody", SCRAM_PASSWORD)):
        with _sasl(sasl_broker) as sock:
            res = scram_login(sock, "SCRAM-SHA-256", user, password)
            assert (res.error_code, res.error_message) == (58, SCRAM_GENERIC)
            assert _closed(sock) == b""
    with _sasl(sasl_broker) as sock:
        assert scram_login(sock, "SCRAM-SHA-256", SCRAM_USER, SCRAM_PASSWORD).error_code == 0
        _serves(sasl_broker, sock)
    _others_carry_on(sasl_broker, survivor)


@pytest.mark.parametrize("mechanism", ["GSSAPI", "SCRAM-SHA-512", "plain", "NOT-A-MECHANISM"])
def test_an_unknown_or_disabled_mechanism_gets_33_with_the_enabled_list(sasl_broker, survivor, mechanism):
    with _sasl(sasl_broker) as sock:
        res = sasl_handshake(sock, mechanism)
        assert res.error_code == 33
        assert sorted(res.mechanisms) == ["PLAIN", "SCRAM-SHA-256"]
        _closed(sock)
    _others_carry_on(sasl_broker, survivor)


def test_requests_before_authentication_close_the_connection(sasl_broker, survivor):
    metadata = wire.request_frame(wire.API_METADATA, 1, wire.array(None))[1]
    with _sasl(sasl_broker) as sock:  # first request
        wire.send_all(sock, metadata)
        assert _closed(sock) == b""
    with _sasl(sasl_broker) as sock:  # after ApiVersions
        assert wire.api_versions(sock, 0).error_code == 0
        wire.send_all(sock, metadata)
        assert _closed(sock) == b""
    with _sasl(sasl_broker) as sock:  # after the handshake
        assert sasl_handshake(sock, "PLAIN").error_code == 0
        wire.send_all(sock, metadata)
        _closed(sock)
    with _sasl(sasl_broker) as sock:  # SaslAuthenticate before SaslHandshake
        wire.send_all(sock, sasl_authenticate_frame(plain_token("alice", PLAIN_USERS["alice"]))[1])
        assert _closed(sock) == b""
    _others_carry_on(sasl_broker, survivor)


def test_api_versions_before_the_handshake_lists_the_sasl_apis(sasl_broker):
    with _sasl(sasl_broker) as sock:
        versions = wire.api_versions(sock, 0)
        assert versions.api_keys[17] == (0, 1) and versions.api_keys[36] == (0, 2)
        assert versions.api_keys[50] == (0, 0) and versions.api_keys[51] == (0, 0)
        assert plain_login(sock, "alice", PLAIN_USERS["alice"]).error_code == 0
        _serves(sasl_broker, sock)


def test_a_second_handshake_gets_illegal_sasl_state_and_is_closed(sasl_broker, survivor):
    with _sasl(sasl_broker) as sock:
        assert sasl_handshake(sock, "PLAIN").error_code == 0
        assert sasl_handshake(sock, "PLAIN").error_code == 34
        _closed(sock)
    _others_carry_on(sasl_broker, survivor)


def test_a_handshake_after_authentication_gets_illegal_sasl_state_and_the_connection_stays(sasl_broker):
    with _sasl(sasl_broker) as sock:
        assert plain_login(sock, "alice", PLAIN_USERS["alice"]).error_code == 0
        assert sasl_handshake(sock, "PLAIN").error_code == 34
        again = sasl_authenticate(sock, plain_token("alice", PLAIN_USERS["alice"]))
        assert (again.error_code, again.error_message) == (
            34, "SaslAuthenticate request received after successful authentication")
        _serves(sasl_broker, sock)


def test_handshake_v0_then_a_raw_token_authenticates(sasl_broker):
    with _sasl(sasl_broker) as sock:
        assert sasl_handshake(sock, "PLAIN", version=0).error_code == 0
        token = plain_token("alice", PLAIN_USERS["alice"])
        wire.send_all(sock, struct.pack(">i", len(token)) + token)
        # PLAIN's (empty) final token comes back size-prefixed, then requests are served.
        assert wire._recv_exact(sock, 4) == b"\0\0\0\0"
        _serves(sasl_broker, sock)
    with _sasl(sasl_broker) as sock:
        assert sasl_handshake(sock, "PLAIN", version=0).error_code == 0
        token = plain_token("alice", "wrong")
        wire.send_all(sock, struct.pack(">i", len(token)) + token)
        assert _closed(sock) == b""


def test_fuzzed_sasl_frames_never_authenticate_and_never_crash_the_broker(sasl_broker, survivor):
    rng = random.Random(FUZZ_SEED)
    for _ in range(FUZZ_ROUNDS):
        # A garbage first frame.
        with _sasl(sasl_broker) as sock:
            body = rng.randbytes(rng.randrange(0, 64))
            wire.send_all(sock, struct.pack(">i", len(body)) + body)
            _closed(sock)
        # Random PLAIN and SCRAM tokens after a good handshake.
        for mechanism in ("PLAIN", "SCRAM-SHA-256"):
            with _sasl(sasl_broker) as sock:
                assert sasl_handshake(sock, mechanism).error_code == 0
                res = sasl_authenticate(sock, rng.randbytes(rng.randrange(0, 200)))
                if mechanism == "PLAIN" or res.error_code != 0:
                    assert res.error_code == 58, res
                else:  # a random client-first cannot be followed by a valid proof
                    assert sasl_authenticate(sock, rng.randbytes(60)).error_code == 58
                _closed(sock)
    # A SaslAuthenticate frame cut short (its size says more than follows, then EOF).
    cid, frame = sasl_authenticate_frame(plain_token("alice", PLAIN_USERS["alice"]))
    with _sasl(sasl_broker) as sock:
        assert sasl_handshake(sock, "PLAIN").error_code == 0
        wire.send_all(sock, frame[:-5])
        sock.shutdown(1)  # SHUT_WR
        assert _closed(sock) == b""
    # A SCRAM exchange cut after client-first, with a mangled client-final.
    with _sasl(sasl_broker) as sock:
        assert sasl_handshake(sock, "SCRAM-SHA-256").error_code == 0
        client = ScramClient("SCRAM-SHA-256", SCRAM_USER, SCRAM_PASSWORD)
        first = sasl_authenticate(sock, client.first())
        assert first.error_code == 0
        final = client.final(first.auth_bytes)
        assert sasl_authenticate(sock, final[:-8] + b"AAAAAAA=").error_code == 58
    _others_carry_on(sasl_broker, survivor)


def test_a_token_larger_than_sasl_server_max_receive_size_is_refused_unread(sasl_broker, survivor):
    with _sasl(sasl_broker) as sock:
        assert sasl_handshake(sock, "PLAIN").error_code == 0
        # Only the size prefix and a little of the body are sent: the broker must not wait for more.
        wire.send_all(sock, struct.pack(">i", MAX_RECEIVE_BYTES + 1) + os.urandom(64))
        started = time.monotonic()
        assert _closed(sock) == b""
        assert time.monotonic() - started < CLOSE_WAIT_S / 2, "not closed when the size was read"
    _others_carry_on(sasl_broker, survivor)


def test_a_client_that_never_finishes_is_closed_within_the_bound(idle_bounded_broker):
    sasl_broker = idle_bounded_broker
    with _sasl(sasl_broker) as sock:
        assert sasl_handshake(sock, "SCRAM-SHA-256").error_code == 0
        client = ScramClient("SCRAM-SHA-256", SCRAM_USER, SCRAM_PASSWORD)
        assert sasl_authenticate(sock, client.first()).error_code == 0
        started = time.monotonic()
        _closed(sock, IDLE_MS / 1000 + CLOSE_WAIT_S)  # no client-final ever comes
        waited = time.monotonic() - started
        assert waited >= IDLE_MS / 1000 / 2, f"closed after {waited:.1f}s, before the bound"
    # An authenticated client idle that long is closed too (connections.max.idle.ms): a new one is served.
    with _sasl(sasl_broker) as fresh:
        assert plain_login(fresh, "alice", PLAIN_USERS["alice"]).error_code == 0
        _serves(sasl_broker, fresh)


@pytest.mark.parametrize("settings, expected", [
    ({}, "GSSAPI (Kerberos) is not supported"),
    ({"sasl.enabled.mechanisms": "PLAIN"}, "listener.name.sasl_plaintext.plain.sasl.jaas.config"),
    ({"sasl.enabled.mechanisms": "OAUTHBEARER"}, "OAUTHBEARER is not supported"),
])
def test_runnel_refuses_mechanisms_it_cannot_serve_at_startup(broker_factory, settings, expected):
    b = broker_factory("runnel", settings, extra_listeners=LISTENER, start=False)
    with pytest.raises(BrokerStartError):
        b.start()
    out = b.output_tail(40)
    assert expected in out, out


def test_runnel_logs_one_line_per_refused_sasl_client(broker_factory):
    b = broker_factory("runnel", sasl_plaintext_settings(), extra_listeners=LISTENER)
    with wire.connect(b.listener_bootstrap("SASL_PLAINTEXT")) as sock:
        wire.send_all(sock, wire.request_frame(wire.API_METADATA, 1, wire.array(None))[1])
        _closed(sock)
    with wire.connect(b.listener_bootstrap("SASL_PLAINTEXT")) as sock:
        assert plain_login(sock, "alice", "wrong").error_code == 58
        _closed(sock)
    log = b.output_tail(200)
    assert log.count("Unexpected Kafka request of type Metadata during SASL handshake.") == 1, log
    assert log.count("SASL/PLAIN authentication failed: Authentication failed: Invalid username or password") == 1, log
