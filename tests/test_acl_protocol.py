"""The ACL APIs on the wire (CreateAcls, DescribeAcls, DeleteAcls v1), against Runnel and
Kafka alike: Kafka 4.1's answers to every kind of input.

- Without an authorizer: SECURITY_DISABLED with Kafka's messages.
- Validation: a code 0 (UNKNOWN) in any enum closes the connection; ANY/MATCH in a creation
  fails the whole request (UNKNOWN_SERVER_ERROR); unrecognised codes, a cluster named other
  than kafka-cluster, an empty name and a principal without a colon are refused per creation
  with INVALID_REQUEST in Kafka's words; Kafka checks neither hosts nor operation fit.
- Filters: ANY, MATCH and exact pattern types, null fields as wildcards, principal and host
  compared exactly; DeleteAcls answers each filter with what it matched (an ACL two filters
  match is listed by both) and refuses unknown filter codes.
- Authorization: the ACL APIs need DESCRIBE (describe) or ALTER (create, delete) on the
  cluster; a principal with ALTER on the cluster may create ACLs.
"""

from __future__ import annotations

import pytest

from harness import BROKER_KINDS, make_broker, wire
from harness.certs import make_certs
from harness.fixtures import serve_shared
from harness.tls_clients import tls_socket
from test_acl_support import (CLUSTER_AUTHORIZATION_FAILED, INVALID_REQUEST, LISTENERS, SECURITY_DISABLED,
                              UNKNOWN_SERVER_ERROR, acl_creation, acl_filter, clear_acls, create_acls_v1,
                              delete_acls_v1, describe_acls_v1, issue_client_cert, secured_settings, wait_acl_count)

# Kafka's codes.
ANY, MATCH, LITERAL, PREFIXED = 1, 2, 3, 4
TOPIC, GROUP, CLUSTER = 2, 3, 4
ALL, READ, WRITE, DESCRIBE, ALTER = 2, 3, 4, 8, 7
DENY, ALLOW = 2, 3
UNRECOGNISED = 99
CLOSE_WAIT_S = 5.0


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("acl-protocol-certs"))


@pytest.fixture(scope="module", params=BROKER_KINDS)
def broker_kind(request) -> str:
    """conftest's broker_kind, module-scoped so the secured broker is shared by the module."""
    return request.param


@pytest.fixture(scope="module")
def secured_broker(broker_kind, certs, tmp_path_factory):
    b = make_broker(broker_kind, secured_settings(certs), workdir=tmp_path_factory.mktemp(f"{broker_kind}-acl-wire"),
                    extra_listeners=LISTENERS)
    try:
        b.start()
        yield b
    finally:
        b.close(remove_workdir=False)


@pytest.fixture
def secured(request, secured_broker):
    clear_acls(secured_broker.bootstrap)
    yield from serve_shared(request, secured_broker)


def good(name: str = "t", principal: str = "User:alice", op: int = WRITE) -> bytes:
    return acl_creation(TOPIC, name, LITERAL, principal, "*", op, ALLOW)


def any_filter() -> bytes:
    return acl_filter(ANY, None, ANY, None, None, ANY, ANY)


def create(b, creations: list[bytes]) -> list[tuple[int, str | None]]:
    with wire.connect(b.bootstrap) as sock:
        return create_acls_v1(sock, creations)


def describe(b, *fields) -> set[tuple]:
    with wire.connect(b.bootstrap) as sock:
        code, message, resources = describe_acls_v1(sock, *fields)
    assert code == 0, (code, message)
    return {(rt, name, pt, *acl) for rt, name, pt, acls in resources for acl in acls}


def closes(b, api_key: int, body: bytes) -> bool:
    with wire.connect(b.bootstrap) as sock:
        _, frame = wire.request_frame(api_key, 1, body)
        wire.send_all(sock, frame)
        how, received = wire.read_until_closed(sock, CLOSE_WAIT_S)
    return how is not None and received == b""


def test_without_an_authorizer_the_acl_apis_answer_security_disabled(broker):
    with wire.connect(broker.bootstrap) as sock:
        assert describe_acls_v1(sock, ANY, None, ANY, None, None, ANY, ANY)[:2] == (
            SECURITY_DISABLED, "No Authorizer is configured on the broker")
        assert create_acls_v1(sock, [good(), good("u")]) == [(SECURITY_DISABLED, "No Authorizer is configured.")] * 2
        assert [r[:2] for r in delete_acls_v1(sock, [any_filter()])] == [(SECURITY_DISABLED, "No Authorizer is configured.")]


def test_creations_are_validated_in_kafkas_order_and_words(secured):
    ok = (0, "")
    no_colon = "Could not parse principal from `alice` (no colon is present separating the principal type from the principal name)"
    assert create(secured, [acl_creation(UNRECOGNISED, "t", LITERAL, "User:a", "*", WRITE, ALLOW), good()]) == [
        (INVALID_REQUEST, "Invalid resourceType UNKNOWN"), ok]
    assert create(secured, [acl_creation(TOPIC, "t", UNRECOGNISED, "User:a", "*", WRITE, ALLOW)]) == [
        (INVALID_REQUEST, "Invalid patternType UNKNOWN")]
    assert create(secured, [acl_creation(TOPIC, "t", LITERAL, "User:a", "*", UNRECOGNISED, UNRECOGNISED)]) == [
        (INVALID_REQUEST, "Invalid operation UNKNOWN")]
    assert create(secured, [acl_creation(TOPIC, "t", LITERAL, "User:a", "*", WRITE, UNRECOGNISED)]) == [
        (INVALID_REQUEST, "Invalid permissionType UNKNOWN")]
    assert create(secured, [good(principal="alice")]) == [(INVALID_REQUEST, no_colon)]
    assert create(secured, [acl_creation(CLUSTER, "other", LITERAL, "User:a", "*", ALTER, ALLOW),
                            acl_creation(CLUSTER, "", LITERAL, "User:a", "*", ALTER, ALLOW),
                            acl_creation(TOPIC, "", LITERAL, "User:a", "*", WRITE, ALLOW)]) == [
        (INVALID_REQUEST, "The only valid name for the CLUSTER resource is kafka-cluster")] * 2 + [
        (INVALID_REQUEST, "Invalid empty resource name")]
    # Kafka checks neither hosts nor whether the operation suits the resource.
    assert create(secured, [acl_creation(TOPIC, "h", LITERAL, "User:a", "not a host", WRITE, ALLOW),
                            acl_creation(CLUSTER, "kafka-cluster", LITERAL, "User:a", "*", READ, ALLOW)]) == [ok, ok]
    assert create(secured, [good(), good()]) == [ok, ok], "an ACL that exists is created again without error"
    wait_acl_count(secured.bootstrap, 3)


@pytest.mark.parametrize("creation", [
    acl_creation(ANY, "t", LITERAL, "User:a", "*", WRITE, ALLOW),
    acl_creation(TOPIC, "t", MATCH, "User:a", "*", WRITE, ALLOW),
    acl_creation(TOPIC, "t", ANY, "User:a", "*", WRITE, ALLOW),
    acl_creation(TOPIC, "t", LITERAL, "User:a", "*", ANY, ALLOW),
    acl_creation(TOPIC, "t", LITERAL, "User:a", "*", WRITE, ANY),
], ids=["resource-any", "pattern-match", "pattern-any", "operation-any", "permission-any"])
def test_a_creation_no_binding_can_hold_fails_the_whole_request(secured, creation):
    assert create(secured, [creation, good()]) == [(UNKNOWN_SERVER_ERROR, None)] * 2
    assert describe(secured, ANY, None, ANY, None, None, ANY, ANY) == set()


@pytest.mark.parametrize("api_key,body", [
    (30, wire.array([acl_creation(0, "t", LITERAL, "User:a", "*", WRITE, ALLOW)])),
    (30, wire.array([acl_creation(TOPIC, "t", LITERAL, "User:a", "*", WRITE, 0)])),
    (29, acl_filter(0, None, ANY, None, None, ANY, ANY)),
    (29, acl_filter(ANY, None, 0, None, None, ANY, ANY)),
    (31, wire.array([acl_filter(ANY, None, ANY, None, None, 0, ANY)])),
], ids=["create-resource", "create-permission", "describe-resource", "describe-pattern", "delete-operation"])
def test_a_code_zero_closes_the_connection_as_kafkas_parser_does(secured, api_key, body):
    assert closes(secured, api_key, body)
    assert describe(secured, ANY, None, ANY, None, None, ANY, ANY) == set(), "the broker carries on"


def test_filters_select_as_kafkas(secured):
    created = [acl_creation(TOPIC, "orders", LITERAL, "User:alice", "*", READ, ALLOW),
               acl_creation(TOPIC, "orders", PREFIXED, "User:bob", "10.0.0.1", WRITE, DENY),
               acl_creation(TOPIC, "*", LITERAL, "User:*", "*", DESCRIBE, ALLOW),
               acl_creation(TOPIC, "ord", PREFIXED, "User:carol", "*", ALL, ALLOW),
               acl_creation(GROUP, "orders", LITERAL, "User:alice", "*", READ, ALLOW)]
    assert all(code == 0 for code, _ in create(secured, created))
    wait_acl_count(secured.bootstrap, 5)
    o_lit = (TOPIC, "orders", LITERAL, "User:alice", "*", READ, ALLOW)
    o_pre = (TOPIC, "orders", PREFIXED, "User:bob", "10.0.0.1", WRITE, DENY)
    star = (TOPIC, "*", LITERAL, "User:*", "*", DESCRIBE, ALLOW)
    ord_pre = (TOPIC, "ord", PREFIXED, "User:carol", "*", ALL, ALLOW)
    group = (GROUP, "orders", LITERAL, "User:alice", "*", READ, ALLOW)
    assert describe(secured, ANY, None, ANY, None, None, ANY, ANY) == {o_lit, o_pre, star, ord_pre, group}
    assert describe(secured, TOPIC, "orders", ANY, None, None, ANY, ANY) == {o_lit, o_pre}
    assert describe(secured, TOPIC, "orders-eu", MATCH, None, None, ANY, ANY) == {o_pre, star, ord_pre}
    assert describe(secured, TOPIC, "orders", MATCH, None, None, ANY, ANY) == {o_lit, o_pre, star, ord_pre}
    assert describe(secured, TOPIC, "orders", LITERAL, None, None, ANY, ANY) == {o_lit}
    assert describe(secured, TOPIC, None, PREFIXED, None, None, ANY, ANY) == {o_pre, ord_pre}
    assert describe(secured, ANY, None, ANY, "User:alice", None, ANY, ANY) == {o_lit, group}
    assert describe(secured, ANY, None, ANY, "User:*", None, ANY, ANY) == {star}, "User:* is compared exactly"
    assert describe(secured, ANY, None, ANY, None, "10.0.0.1", ANY, DENY) == {o_pre}
    assert describe(secured, ANY, None, ANY, None, None, READ, ANY) == {o_lit, group}
    assert describe(secured, UNRECOGNISED, None, ANY, None, None, ANY, ANY) == set()
    assert describe(secured, ANY, None, ANY, None, None, UNRECOGNISED, ANY) == set()

    with wire.connect(secured.bootstrap) as sock:
        results = delete_acls_v1(sock, [
            acl_filter(TOPIC, "orders", ANY, None, None, ANY, ANY),
            acl_filter(TOPIC, "orders", LITERAL, None, None, ANY, ANY),
            acl_filter(UNRECOGNISED, None, ANY, None, None, ANY, ANY),
            acl_filter(ANY, None, ANY, None, None, UNRECOGNISED, ANY),
        ])
    matched = [(code, message, {(m[2], m[3], m[4], m[5], m[6], m[7], m[8]) for m in acls}) for code, message, acls in results]
    assert matched == [(0, None, {o_lit, o_pre}), (0, None, {o_lit}),
                       (INVALID_REQUEST, "Unknown patternFilter.", set()), (INVALID_REQUEST, "Unknown entryFilter.", set())]
    assert all(m[0] == 0 and m[1] is None for _, _, acls in results for m in acls)
    wait_acl_count(secured.bootstrap, 3)
    assert describe(secured, ANY, None, ANY, None, None, ANY, ANY) == {star, ord_pre, group}


def test_the_acl_apis_need_the_cluster(secured, certs):
    bob = issue_client_cert(certs, "bob")
    with tls_socket(secured.listener_bootstrap("SSL"), certs, cert=bob.cert, key=bob.key) as sock:
        code, _, resources = describe_acls_v1(sock, ANY, None, ANY, None, None, ANY, ANY)
        assert (code, resources) == (CLUSTER_AUTHORIZATION_FAILED, [])
        assert [code for code, _ in create_acls_v1(sock, [good(), good("u")])] == [CLUSTER_AUTHORIZATION_FAILED] * 2
        assert [r[0] for r in delete_acls_v1(sock, [any_filter()])] == [CLUSTER_AUTHORIZATION_FAILED]
    assert create(secured, [acl_creation(CLUSTER, "kafka-cluster", LITERAL, "User:bob", "*", ALTER, ALLOW)]) == [(0, "")]
    wait_acl_count(secured.bootstrap, 1)
    with tls_socket(secured.listener_bootstrap("SSL"), certs, cert=bob.cert, key=bob.key) as sock:
        assert create_acls_v1(sock, [good()]) == [(0, "")]
        assert describe_acls_v1(sock, ANY, None, ANY, None, None, ANY, ANY)[0] == 0, "ALTER implies DESCRIBE"
    wait_acl_count(secured.bootstrap, 2)
