"""Helpers for the ACL suites (test_acl.py, test_acl_protocol.py); no tests of its own.

- A secured broker's settings (either kind): the StandardAuthorizer, super users
  User:ANONYMOUS (the PLAINTEXT listener, which Kafka's own controller traffic also uses, so
  the tests manage ACLs through it) and User:admin, an SSL listener that requires client
  certificates and maps their subject to User:<CN>, and a SASL_PLAINTEXT listener with PLAIN
  users (User:<name>).
- issue_client_cert(certs, cn): another client certificate from the test CA.
- Clients: ck_conf(...) for confluent-kafka as a certificate or SASL identity.
- ACL management: kafka_acls(...) (Kafka's AclCommand) and runnel_acl(...) (`runnel acl`),
  parse_listing(text) for comparing their listings, wait_acls(...) until the broker's
  authorizer shows what was written (Kafka applies ACLs from its metadata log, so a write is
  visible a moment after it returns).
- Wire: hand-encoded CreateAcls/DescribeAcls/DeleteAcls v1 (wire.py's non-flexible encoding).
Every wait is bounded.
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from harness import wire
from harness.certs import Certs, server_ssl_settings
from harness.java_tools import run_tool
from harness.paths import RUNNEL_BIN
from harness.sasl_clients import sasl_plaintext_settings

STANDARD_AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
ACL_COMMAND = "org.apache.kafka.tools.AclCommand"
ADMIN_CN = "admin"
SASL_USERS = {"carol": "carol-secret", "dave": "dave-secret"}
# The CN of the subject (CN=alice,OU=test,O=runnel) is the principal's name.
MAPPING_RULES = "RULE:^CN=([a-zA-Z0-9]*).*$/$1/,DEFAULT"
LISTENERS = {"SSL": "SSL", "SASL_PLAINTEXT": "SASL_PLAINTEXT"}
CLI_TIMEOUT_S = 60.0
ACL_VISIBLE_TIMEOUT_S = 20.0
POLL_INTERVAL_S = 0.2
OPENSSL_TIMEOUT_S = 30
CERT_DAYS = 2

API_DESCRIBE_ACLS = 29
API_CREATE_ACLS = 30
API_DELETE_ACLS = 31

TOPIC_AUTHORIZATION_FAILED = 29
GROUP_AUTHORIZATION_FAILED = 30
CLUSTER_AUTHORIZATION_FAILED = 31
SECURITY_DISABLED = 54
INVALID_REQUEST = 42
UNKNOWN_SERVER_ERROR = -1


def secured_settings(certs: Certs, **extra: str) -> dict[str, str]:
    return {
        "authorizer.class.name": STANDARD_AUTHORIZER,
        "super.users": f"User:ANONYMOUS;User:{ADMIN_CN}",
        **server_ssl_settings(certs, prefix="listener.name.ssl."),
        "listener.name.ssl.ssl.principal.mapping.rules": MAPPING_RULES,
        **sasl_plaintext_settings(SASL_USERS),
        **extra,
    }


@dataclass(frozen=True)
class Identity:
    cn: str
    cert: Path
    key: Path

    @property
    def principal(self) -> str:
        return f"User:{self.cn}"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=OPENSSL_TIMEOUT_S)


def issue_client_cert(certs: Certs, cn: str) -> Identity:
    """A client certificate for CN=<cn>,OU=test,O=runnel signed by the certs' CA."""
    d = certs.dir
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{cn}.raw.key",
             "-out", f"{cn}.csr", "-subj", f"/O=runnel/OU=test/CN={cn}", cwd=d)
    _openssl("pkcs8", "-topk8", "-nocrypt", "-in", f"{cn}.raw.key", "-out", f"{cn}.key", cwd=d)
    (d / f"{cn}.ext").write_text("extendedKeyUsage=clientAuth\n")
    _openssl("x509", "-req", "-in", f"{cn}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", f"{cn}.pem", "-days", str(CERT_DAYS), "-extfile", f"{cn}.ext", cwd=d)
    return Identity(cn, d / f"{cn}.pem", d / f"{cn}.key")


def ck_conf(broker, certs: Certs, who: Identity | str | None) -> dict:
    """confluent-kafka settings: a certificate identity on SSL, a SASL user (name) on
    SASL_PLAINTEXT, or None for the PLAINTEXT listener (User:ANONYMOUS, a super user)."""
    if who is None:
        return {"bootstrap.servers": broker.bootstrap}
    if isinstance(who, str):
        return {"bootstrap.servers": broker.listener_bootstrap("SASL_PLAINTEXT"), "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanism": "PLAIN", "sasl.username": who, "sasl.password": SASL_USERS[who]}
    return {"bootstrap.servers": broker.listener_bootstrap("SSL"), "security.protocol": "SSL",
            "ssl.ca.location": str(certs.ca), "ssl.certificate.location": str(who.cert),
            "ssl.key.location": str(who.key)}


def kp_ssl(certs: Certs, who: Identity) -> dict:
    return dict(security_protocol="SSL", ssl_cafile=str(certs.ca), ssl_certfile=str(who.cert), ssl_keyfile=str(who.key))


# ---------------------------------------------------------------------------- ACL management

def kafka_acls(bootstrap: str, *args: str):
    """kafka-acls.sh --bootstrap-server BOOTSTRAP ARGS (Kafka's AclCommand)."""
    return run_tool(ACL_COMMAND, ["--bootstrap-server", bootstrap, *args], timeout_s=CLI_TIMEOUT_S)


def runnel_acl(bootstrap: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """`runnel acl ARGS -b BOOTSTRAP`, bounded."""
    cmd = [str(RUNNEL_BIN), "acl", *args, "-b", bootstrap]
    extra = {"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, **extra)


_HEADER = re.compile(r"^Current ACLs for resource `(.*)`:$")


def parse_listing(text: str) -> dict[str, frozenset[str]]:
    """kafka-acls' --list output as {resource pattern: entries}; Kafka prints both in hash
    order, so listings are compared as sets."""
    listing: dict[str, set[str]] = {}
    current = None
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            current = listing.setdefault(header.group(1), set())
        elif line.startswith("\t") and current is not None:
            current.add(line.strip())
        elif line.strip():
            current = None
    return {resource: frozenset(entries) for resource, entries in listing.items()}


def acl_entries(bootstrap: str) -> set[tuple[str, str]]:
    """Every (resource, entry) the broker lists, through kafka-acls --list."""
    res = kafka_acls(bootstrap, "--list")
    assert res.returncode == 0, res.describe()
    return {(resource, entry) for resource, entries in parse_listing(res.stdout).items() for entry in entries}


def describe_all(bootstrap: str) -> set[tuple]:
    """Every ACL as (type, name, pattern, principal, host, operation, permission) codes, over
    DescribeAcls v1 on the PLAINTEXT listener."""
    with wire.connect(bootstrap) as sock:
        code, message, resources = describe_acls_v1(sock, 1, None, 1, None, None, 1, 1)
    assert code == 0, (code, message)
    return {(rt, name, pt, *acl) for rt, name, pt, acls in resources for acl in acls}


def wait_acls(bootstrap: str, predicate, what: str) -> set[tuple]:
    """Polls DescribeAcls until predicate(acls) holds."""
    deadline = time.monotonic() + ACL_VISIBLE_TIMEOUT_S
    while True:
        acls = describe_all(bootstrap)
        if predicate(acls):
            return acls
        if time.monotonic() > deadline:
            raise AssertionError(f"ACLs never showed {what}: {sorted(acls)}")
        time.sleep(POLL_INTERVAL_S)


def wait_acl_count(bootstrap: str, count: int) -> set[tuple]:
    return wait_acls(bootstrap, lambda acls: len(acls) == count, f"{count} ACLs")


def clear_acls(bootstrap: str) -> None:
    with wire.connect(bootstrap) as sock:
        results = delete_acls_v1(sock, [acl_filter(1, None, 1, None, None, 1, 1)])
    assert results[0][0] == 0, results
    wait_acl_count(bootstrap, 0)


# ---------------------------------------------------------------------------- wire (v1)

def acl_creation(rt: int, name: str, pt: int, principal: str, host: str, op: int, perm: int) -> bytes:
    return (wire.int8(rt) + wire.string(name) + wire.int8(pt) + wire.string(principal) + wire.string(host)
            + wire.int8(op) + wire.int8(perm))


def acl_filter(rt: int, name: str | None, pt: int, principal: str | None, host: str | None, op: int, perm: int) -> bytes:
    return (wire.int8(rt) + wire.string(name) + wire.int8(pt) + wire.string(principal) + wire.string(host)
            + wire.int8(op) + wire.int8(perm))


def create_acls_v1(sock, creations: list[bytes]) -> list[tuple[int, str | None]]:
    r = wire.call(sock, API_CREATE_ACLS, 1, wire.array(creations))
    r.int32()  # throttle
    return [(r.int16(), r.string()) for _ in range(r.int32())]


def describe_acls_v1(sock, rt, name, pt, principal, host, op, perm):
    r = wire.call(sock, API_DESCRIBE_ACLS, 1, acl_filter(rt, name, pt, principal, host, op, perm))
    r.int32()  # throttle
    code, message = r.int16(), r.string()
    resources = []
    for _ in range(r.int32()):
        rt_, nm, pt_ = r.int8(), r.string(), r.int8()
        acls = [(r.string(), r.string(), r.int8(), r.int8()) for _ in range(r.int32())]
        resources.append((rt_, nm, pt_, acls))
    return code, message, resources


def delete_acls_v1(sock, filters: list[bytes]):
    r = wire.call(sock, API_DELETE_ACLS, 1, wire.array(filters))
    r.int32()  # throttle
    results = []
    for _ in range(r.int32()):
        code, message = r.int16(), r.string()
        matched = [(r.int16(), r.string(), r.int8(), r.string(), r.int8(), r.string(), r.string(), r.int8(), r.int8())
                   for _ in range(r.int32())]
        results.append((code, message, matched))
    return results
