"""SASL for the tests: broker settings, users, real-client user stories and wire-level helpers.

- Broker settings (Kafka's keys, for either broker): sasl_ssl_settings(certs) for a SASL_SSL
  listener with SCRAM-SHA-256/512, sasl_plaintext_settings() for a SASL_PLAINTEXT listener
  with PLAIN users PLAIN_USERS.
- Users: runnel_user(...) runs `runnel user ...`; config_command(...) runs Kafka's
  kafka.admin.ConfigCommand (one mechanism per call: Kafka refuses two in one request).
- Stories (the seed's user story of tls_clients over SASL): ck_sasl_story (confluent-kafka),
  kp_sasl_story (kafka-python), java_sasl_story (console producer/consumer, client.properties
  with sasl.jaas.config).
- Wire: sasl_handshake, sasl_authenticate, plain_token and ScramClient (RFC 5802 in Python),
  over a plain or TLS socket.
Every wait is bounded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from . import wire
from .certs import Certs, server_ssl_settings
from .java_tools import run_tool
from .paths import RUNNEL_BIN
from .tls_clients import (AUTO_COMMIT_INTERVAL_MS, COUNT, PARTITIONS, POLL_TIMEOUT_MS, STORY_TIMEOUT_S,
                          StoryResult, _deadline_left, java_properties_story, records)

SCRAM_LOGIN_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule"
PLAIN_LOGIN_MODULE = "org.apache.kafka.common.security.plain.PlainLoginModule"
PLAIN_USERS = {"alice": "alice-secret", "bob": "bob-secret"}
SCRAM_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")
CONFIG_COMMAND = "kafka.admin.ConfigCommand"
CLI_TIMEOUT_S = 60.0
USER_VISIBLE_TIMEOUT_S = 20.0
API_SASL_HANDSHAKE = 17
API_SASL_AUTHENTICATE = 36


def sasl_ssl_settings(certs: Certs, mechanisms: tuple[str, ...] = SCRAM_MECHANISMS, listener: str = "sasl_ssl") -> dict:
    """A SASL_SSL listener: the server certificate (no client certificates) and SCRAM."""
    prefix = f"listener.name.{listener}."
    return {
        **server_ssl_settings(certs, client_auth="none", prefix=prefix),
        f"{prefix}sasl.enabled.mechanisms": ",".join(mechanisms),
        **{f"{prefix}{m.lower()}.sasl.jaas.config": f"{SCRAM_LOGIN_MODULE} required;" for m in mechanisms},
    }


def plain_jaas(users: dict[str, str]) -> str:
    options = " ".join(f'user_{u}="{p}"' for u, p in users.items())
    return f"{PLAIN_LOGIN_MODULE} required {options};"


def sasl_plaintext_settings(users: dict[str, str] | None = None, listener: str = "sasl_plaintext",
                            mechanisms: tuple[str, ...] = ("PLAIN",)) -> dict:
    """A SASL_PLAINTEXT listener with PLAIN users (and any SCRAM mechanisms asked for)."""
    prefix = f"listener.name.{listener}."
    settings = {f"{prefix}sasl.enabled.mechanisms": ",".join(mechanisms),
                f"{prefix}plain.sasl.jaas.config": plain_jaas(users or PLAIN_USERS)}
    for m in mechanisms:
        if m.startswith("SCRAM"):
            settings[f"{prefix}{m.lower()}.sasl.jaas.config"] = f"{SCRAM_LOGIN_MODULE} required;"
    return settings


# ---------------------------------------------------------------------------- users

def runnel_user(bootstrap: str, *args: str, command_config: Path | None = None) -> subprocess.CompletedProcess:
    """`runnel user ARGS -b BOOTSTRAP` (runnel-client's admin calls), bounded."""
    cmd = [str(RUNNEL_BIN), "user", *args, "-b", bootstrap]
    if command_config is not None:
        cmd += ["--command-config", str(command_config)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, stdin=subprocess.DEVNULL)


def config_command(bootstrap: str, *args: str):
    """Kafka's kafka-configs.sh: kafka.admin.ConfigCommand --bootstrap-server BOOTSTRAP ARGS."""
    return run_tool(CONFIG_COMMAND, ["--bootstrap-server", bootstrap, *args], timeout_s=CLI_TIMEOUT_S)


def wait_for_scram_user(bootstrap: str, user: str, mechanism: str) -> None:
    """Kafka publishes credentials through its metadata log; wait until the broker lists them."""
    deadline = time.monotonic() + USER_VISIBLE_TIMEOUT_S
    while True:
        res = runnel_user(bootstrap, "list", user)
        if res.returncode == 0 and mechanism in res.stdout:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"user {user} ({mechanism}) not visible: {res.stdout}{res.stderr}")
        time.sleep(0.2)


def create_scram_user(bootstrap: str, user: str, password: str, mechanism: str = "SCRAM-SHA-256") -> None:
    res = runnel_user(bootstrap, "create", user, "--password", password, "--mechanism", mechanism)
    assert res.returncode == 0, res.stderr
    wait_for_scram_user(bootstrap, user, mechanism)


# ---------------------------------------------------------------------------- client settings

def ck_sasl(protocol: str, mechanism: str, user: str, password: str, certs: Certs | None = None) -> dict:
    settings = {"security.protocol": protocol, "sasl.mechanism": mechanism, "sasl.username": user,
                "sasl.password": password}
    if certs is not None:
        settings["ssl.ca.location"] = str(certs.ca)
    return settings


def kp_sasl(protocol: str, mechanism: str, user: str, password: str, certs: Certs | None = None) -> dict:
    settings = dict(security_protocol=protocol, sasl_mechanism=mechanism, sasl_plain_username=user,
                    sasl_plain_password=password)
    if certs is not None:
        settings["ssl_cafile"] = str(certs.ca)
    return settings


def java_sasl_properties(path: Path, protocol: str, mechanism: str, user: str, password: str,
                         certs: Certs | None = None) -> Path:
    """A Java client.properties: security.protocol, sasl.mechanism, sasl.jaas.config (and the
    PEM truststore for SASL_SSL). runnel's --command-config reads the same file."""
    module = PLAIN_LOGIN_MODULE if mechanism == "PLAIN" else SCRAM_LOGIN_MODULE
    lines = [f"security.protocol={protocol}", f"sasl.mechanism={mechanism}",
             f'sasl.jaas.config={module} required username="{user}" password="{password}";']
    if certs is not None:
        lines += ["ssl.truststore.type=PEM", f"ssl.truststore.location={certs.ca}"]
    path.write_text("\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------------------- stories

def ck_sasl_story(bootstrap: str, client: dict, topic: str, group: str) -> StoryResult:
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    deadline = time.monotonic() + STORY_TIMEOUT_S
    result = StoryResult(produced=records(topic))
    base = {"bootstrap.servers": bootstrap, **client}
    admin = AdminClient(base)  # kept referenced: a collected client cancels its futures
    for future in admin.create_topics([NewTopic(topic, PARTITIONS, 1)]).values():
        future.result(timeout=_deadline_left(deadline))
    producer = Producer(base)
    errors: list[str] = []
    for k, v in result.produced:
        producer.produce(topic, key=k, value=v, on_delivery=lambda err, _msg: err and errors.append(str(err)))
    if producer.flush(_deadline_left(deadline)) != 0 or errors:
        raise AssertionError(f"confluent-kafka produce failed: {errors}")
    consumer = Consumer({**base, "group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": True,
                         "auto.commit.interval.ms": AUTO_COMMIT_INTERVAL_MS})
    try:
        consumer.subscribe([topic])
        while len(result.consumed) < COUNT:
            msg = consumer.poll(min(POLL_TIMEOUT_MS / 1000, _deadline_left(deadline)))
            if msg is None:
                continue
            if msg.error():
                raise AssertionError(f"confluent-kafka consume error: {msg.error()}")
            result.consumed.append((msg.key().decode(), msg.value().decode(), msg.partition(), msg.offset()))
    finally:
        consumer.close()
    reader = Consumer({**base, "group.id": group, "enable.auto.commit": False})
    try:
        committed = reader.committed([TopicPartition(topic, p) for p in range(PARTITIONS)],
                                     timeout=_deadline_left(deadline))
    finally:
        reader.close()
    result.committed = {tp.partition: tp.offset for tp in committed if tp.offset >= 0}
    return result


def kp_sasl_story(bootstrap: str, client: dict, topic: str, group: str) -> StoryResult:
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import NewTopic

    deadline = time.monotonic() + STORY_TIMEOUT_S
    result = StoryResult(produced=records(topic))
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(STORY_TIMEOUT_S * 1000), **client)
    try:
        admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, **client)
    try:
        for f in [producer.send(topic, key=k.encode(), value=v.encode()) for k, v in result.produced]:
            f.get(timeout=_deadline_left(deadline))
    finally:
        producer.close(timeout=10)
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                             enable_auto_commit=True, auto_commit_interval_ms=AUTO_COMMIT_INTERVAL_MS, **client)
    try:
        while len(result.consumed) < COUNT:
            _deadline_left(deadline)
            for batch in consumer.poll(timeout_ms=POLL_TIMEOUT_MS).values():
                result.consumed += [(r.key.decode(), r.value.decode(), r.partition, r.offset) for r in batch]
    finally:
        consumer.close()
    reader = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, **client)
    try:
        for p in range(PARTITIONS):
            offset = reader.committed(TopicPartition(topic, p))
            if offset is not None:
                result.committed[p] = offset
    finally:
        reader.close()
    return result


# The console tools take SASL settings the way they take TLS ones: a client.properties.
java_sasl_story = java_properties_story


# ---------------------------------------------------------------------------- wire

@dataclass
class Handshake:
    error_code: int
    mechanisms: list[str]


@dataclass
class Authenticate:
    error_code: int
    error_message: str | None
    auth_bytes: bytes
    session_lifetime_ms: int


def sasl_handshake(sock, mechanism: str, version: int = 1) -> Handshake:
    r = wire.call(sock, API_SASL_HANDSHAKE, version, wire.string(mechanism))
    return Handshake(r.int16(), r.array(lambda rr: rr.string()) or [])


def sasl_authenticate_frame(token: bytes, version: int = 1) -> tuple[int, bytes]:
    """A SaslAuthenticate v0/v1 request (non-flexible: the token as int32-length bytes)."""
    return wire.request_frame(API_SASL_AUTHENTICATE, version, wire.nullable_bytes(token))


def sasl_authenticate(sock, token: bytes, version: int = 1) -> Authenticate:
    cid, frame = sasl_authenticate_frame(token, version)
    wire.send_all(sock, frame)
    r = wire.recv_response(sock, cid)
    code, message = r.int16(), r.string()
    size = r.int32()
    token = r.take(size) if size > 0 else b""
    return Authenticate(code, message, token, r.int64())


def plain_token(user: str, password: str, authzid: str = "") -> bytes:
    return f"{authzid}\0{user}\0{password}".encode()


class ScramClient:
    """The client side of RFC 5802, enough to drive a broker from a raw socket."""

    def __init__(self, mechanism: str, user: str, password: str):
        self.hash = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}[mechanism]
        self.user, self.password = user, password
        self.nonce = base64.b64encode(os.urandom(18)).decode()
        self.first_bare = f"n={user},r={self.nonce}"
        self.server_signature = b""

    def first(self) -> bytes:
        return f"n,,{self.first_bare}".encode()

    def final(self, server_first: bytes) -> bytes:
        text = server_first.decode()
        attrs = dict(part.split("=", 1) for part in text.split(","))
        salted = hashlib.pbkdf2_hmac(self.hash, self.password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
        client_key = hmac.new(salted, b"Client Key", self.hash).digest()
        stored_key = hashlib.new(self.hash, client_key).digest()
        without_proof = f"c=biws,r={attrs['r']}"
        auth = f"{self.first_bare},{text},{without_proof}".encode()
        signature = hmac.new(stored_key, auth, self.hash).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        server_key = hmac.new(salted, b"Server Key", self.hash).digest()
        self.server_signature = hmac.new(server_key, auth, self.hash).digest()
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def verify(self, server_final: bytes) -> bool:
        return server_final.decode() == "v=" + base64.b64encode(self.server_signature).decode()


def scram_login(sock, mechanism: str, user: str, password: str) -> Authenticate:
    """Handshake and the two SCRAM round trips; returns the last SaslAuthenticate answer."""
    hs = sasl_handshake(sock, mechanism)
    assert hs.error_code == 0, hs
    client = ScramClient(mechanism, user, password)
    first = sasl_authenticate(sock, client.first())
    if first.error_code != 0:
        return first
    last = sasl_authenticate(sock, client.final(first.auth_bytes))
    if last.error_code == 0:
        assert client.verify(last.auth_bytes), "the server's signature does not match"
    return last


def plain_login(sock, user: str, password: str) -> Authenticate:
    hs = sasl_handshake(sock, "PLAIN")
    assert hs.error_code == 0, hs
    return sasl_authenticate(sock, plain_token(user, password))
