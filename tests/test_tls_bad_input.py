"""Bad TLS input on an SSL listener with ssl.client.auth=required, against Runnel and Kafka:
each bad client is refused, nothing crashes, and a good TLS client (connected before) and a
PLAINTEXT client carry on.

- a plaintext Kafka client on the TLS port: the handshake fails and the connection closes
  (Runnel: with exactly one log line);
- no client certificate, a certificate from an untrusted CA, an expired certificate: refused;
- a handshake that stalls: closed within the bound (connections.max.idle.ms is set low here,
  which bounds it on both brokers; Runnel also caps it at TLS_HANDSHAKE_TIMEOUT_MS);
- a JKS keystore gets a startup error saying how to convert it (SASL listeners, served since
  issue 6, are tested in test_sasl*.py).
"""

from __future__ import annotations

import ssl
import subprocess
import time

import pytest

from harness import BrokerStartError, wire
from harness.certs import make_certs, server_ssl_settings
from harness.ports import LOOPBACK
from harness.tls_clients import tls_socket

SSL = {"SSL": "SSL"}
# connections.max.idle.ms for these brokers: bounds a stalled handshake on both.
IDLE_MS = 3000
CLOSE_WAIT_S = 15.0
KEYTOOL_TIMEOUT_S = 60


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("tls-bad-certs"))


@pytest.fixture
def ssl_broker(broker_factory, broker_kind, certs):
    return broker_factory(broker_kind, {**server_ssl_settings(certs), "connections.max.idle.ms": IDLE_MS},
                          extra_listeners=SSL)


def _metadata_ok(sock, b, listener: str | None) -> None:
    port = b.listener_ports[listener] if listener else b.port
    assert wire.metadata_v1(sock).brokers == [(1, LOOPBACK, port)]


def _refused(make_sock) -> str:
    """Connect with make_sock and send Metadata; the broker must refuse, either in the
    handshake or (TLS 1.3: the client finishes first) by closing instead of answering."""
    try:
        sock = make_sock()
    except (ssl.SSLError, OSError) as e:
        return f"handshake refused: {e}"
    with sock:
        try:
            wire.metadata_v1(sock)
        except (ssl.SSLError, OSError, wire.ConnectionClosed) as e:
            return f"request refused: {e}"
    raise AssertionError("the broker answered a client it should have refused")


@pytest.fixture
def survivors(ssl_broker, certs):
    """A good TLS client and a PLAINTEXT client connected before the bad input, checked
    afterwards (unless the test outlasted connections.max.idle.ms, which closes them on
    purpose), then new good clients of both kinds."""
    good = tls_socket(ssl_broker.listener_bootstrap("SSL"), certs)
    plain = wire.connect(ssl_broker.bootstrap)
    _metadata_ok(good, ssl_broker, "SSL")
    started = time.monotonic()
    yield
    with good, plain:
        if time.monotonic() - started < IDLE_MS / 1000 / 2:
            _metadata_ok(good, ssl_broker, "SSL")
            _metadata_ok(plain, ssl_broker, None)
    with tls_socket(ssl_broker.listener_bootstrap("SSL"), certs) as fresh_tls, wire.connect(ssl_broker.bootstrap) as fresh:
        _metadata_ok(fresh_tls, ssl_broker, "SSL")
        _metadata_ok(fresh, ssl_broker, None)
    assert ssl_broker.running, ssl_broker.output_tail()


def test_plaintext_client_on_the_tls_port_is_closed_with_one_log_line(ssl_broker, survivors):
    with wire.connect(ssl_broker.listener_bootstrap("SSL")) as sock:
        local_port = sock.getsockname()[1]
        # A Kafka ApiVersions request where a TLS ClientHello should be.
        wire.send_all(sock, wire.request_frame(wire.API_API_VERSIONS, 0, b"")[1])
        how, received = wire.read_until_closed(sock, CLOSE_WAIT_S)
    assert how is not None, "the broker kept a plaintext client on its TLS port open"
    assert not received.startswith(b"\x00\x00"), f"the broker answered in plaintext: {received[:16]!r}"
    if ssl_broker.kind == "runnel":
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            lines = [ln for ln in ssl_broker.output_tail(500).splitlines() if f":{local_port}" in ln]
            if lines:
                break
            time.sleep(0.1)
        assert len(lines) == 1 and "TLS handshake failed" in lines[0], lines


def test_no_client_certificate_is_refused_when_required(ssl_broker, certs, survivors):
    _refused(lambda: tls_socket(ssl_broker.listener_bootstrap("SSL"), certs, with_client_cert=False))


def test_certificate_from_an_untrusted_ca_is_refused(ssl_broker, certs, survivors):
    _refused(lambda: tls_socket(ssl_broker.listener_bootstrap("SSL"), certs, cert=certs.rogue_cert,
                                key=certs.rogue_key))


def test_expired_client_certificate_is_refused(ssl_broker, certs, survivors):
    _refused(lambda: tls_socket(ssl_broker.listener_bootstrap("SSL"), certs, cert=certs.expired_cert,
                                key=certs.expired_key))


def test_stalled_tls_handshake_is_closed_within_the_bound(ssl_broker, survivors):
    started = time.monotonic()
    with wire.connect(ssl_broker.listener_bootstrap("SSL")) as sock:
        # The first bytes of a TLS record header, then nothing.
        sock.sendall(b"\x16\x03\x01")
        how, _ = wire.read_until_closed(sock, IDLE_MS / 1000 + CLOSE_WAIT_S)
    waited = time.monotonic() - started
    assert how is not None, f"a stalled handshake was still open after {waited:.1f}s"
    assert waited >= IDLE_MS / 1000 / 2, f"closed after {waited:.1f}s, before the bound"


def test_jks_keystore_gets_a_startup_error_saying_how_to_convert_it(broker_factory, certs, tmp_path):
    jks = tmp_path / "server.jks"
    res = subprocess.run(["keytool", "-importkeystore", "-srckeystore", str(certs.server_p12), "-srcstoretype",
                          "PKCS12", "-srcstorepass", "runnel-test", "-destkeystore", str(jks), "-deststoretype", "JKS",
                          "-deststorepass", "runnel-test", "-noprompt"],
                         capture_output=True, text=True, timeout=KEYTOOL_TIMEOUT_S)
    assert res.returncode == 0, res.stderr
    settings = {**server_ssl_settings(certs), "ssl.keystore.type": "JKS", "ssl.keystore.location": str(jks),
                "ssl.keystore.password": "runnel-test"}
    b = broker_factory("runnel", settings, extra_listeners=SSL, start=False)
    with pytest.raises(BrokerStartError):
        b.start()
    out = b.output_tail(40)
    assert "keytool -importkeystore" in out and "openssl pkcs12" in out, out


def test_a_plaintext_listener_is_not_served_as_tls_and_vice_versa(ssl_broker, certs):
    # A TLS client on the PLAINTEXT port fails its handshake; the port keeps serving.
    with pytest.raises((ssl.SSLError, OSError)):
        s = tls_socket(ssl_broker.bootstrap, certs)
        s.close()
    with wire.connect(ssl_broker.bootstrap) as sock:
        _metadata_ok(sock, ssl_broker, None)
