//! The decision table: each row is an ACL set, a request, and the expected answer.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::*;
use crate::acl::types::{AccessControlEntry, ResourcePattern};
use AclOperation::*;
use PatternType::{Literal, Prefixed};
use PermissionType::{Allow, Deny};
use ResourceType::{Cluster, Group, Topic, TransactionalId};

const ALICE_HOST: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));

fn acl(resource_type: ResourceType, name: &str, pattern_type: PatternType, principal: &str, host: &str, operation: AclOperation, permission: PermissionType) -> AclBinding {
    AclBinding {
        pattern: ResourcePattern::new(resource_type, name, pattern_type),
        entry: AccessControlEntry {
            principal: principal.into(),
            host: host.into(),
            operation,
            permission_type: permission,
        },
    }
}

fn allow(resource_type: ResourceType, name: &str, pattern_type: PatternType, principal: &str, operation: AclOperation) -> AclBinding {
    acl(resource_type, name, pattern_type, principal, "*", operation, Allow)
}

fn deny(resource_type: ResourceType, name: &str, pattern_type: PatternType, principal: &str, operation: AclOperation) -> AclBinding {
    acl(resource_type, name, pattern_type, principal, "*", operation, Deny)
}

fn authorizer(acls: Vec<AclBinding>) -> Authorizer {
    authorizer_with(acls, AuthorizerSettings::default())
}

fn authorizer_with(acls: Vec<AclBinding>, settings: AuthorizerSettings) -> Authorizer {
    Authorizer::new(Arc::new(settings), Arc::new(AclSet::new(acls)))
}

fn may(authorizer: &Authorizer, user: &str, operation: AclOperation, resource_type: ResourceType, name: &str) -> bool {
    let principal = KafkaPrincipal::user(user);
    authorizer.authorize(&Requester::new(&principal, ALICE_HOST), operation, resource_type, name)
}

#[test]
fn alice_may_write_but_not_read_a_topic_she_was_allowed_to_write() {
    let authz = authorizer(vec![allow(Topic, "t", Literal, "User:alice", Write)]);
    assert!(may(&authz, "alice", Write, Topic, "t"));
    assert!(!may(&authz, "alice", Read, Topic, "t"));
    assert!(!may(&authz, "bob", Write, Topic, "t"), "another principal");
    assert!(!may(&authz, "alice", Write, Topic, "t2"), "another topic with no ACL: denied by default");
}

#[test]
fn deny_beats_allow_whichever_pattern_carries_it() {
    let literal = authorizer(vec![
        allow(Topic, "t", Literal, "User:alice", Read),
        deny(Topic, "t", Literal, "User:alice", Read),
    ]);
    assert!(!may(&literal, "alice", Read, Topic, "t"));
    let prefixed_deny = authorizer(vec![
        allow(Topic, "t", Literal, "User:alice", Read),
        deny(Topic, "t", Prefixed, "User:alice", Read),
    ]);
    assert!(!may(&prefixed_deny, "alice", Read, Topic, "t"));
    let wildcard_deny = authorizer(vec![allow(Topic, "*", Literal, "User:*", All), deny(Topic, "*", Literal, "User:alice", Read)]);
    assert!(!may(&wildcard_deny, "alice", Read, Topic, "t"));
    assert!(may(&wildcard_deny, "alice", Write, Topic, "t"), "the deny is for READ only");
    assert!(may(&wildcard_deny, "bob", Read, Topic, "t"));
    let deny_all = authorizer(vec![allow(Topic, "t", Literal, "User:alice", Read), deny(Topic, "t", Literal, "User:alice", All)]);
    assert!(!may(&deny_all, "alice", Read, Topic, "t"));
    assert!(!may(&deny_all, "alice", Describe, Topic, "t"));
}

#[test]
fn prefixed_patterns_cover_names_that_start_with_them_literal_ones_only_their_own() {
    let authz = authorizer(vec![
        allow(Topic, "orders-", Prefixed, "User:alice", Read),
        allow(Topic, "audit", Literal, "User:alice", Read),
    ]);
    assert!(may(&authz, "alice", Read, Topic, "orders-"));
    assert!(may(&authz, "alice", Read, Topic, "orders-eu"));
    assert!(!may(&authz, "alice", Read, Topic, "orders"));
    assert!(may(&authz, "alice", Read, Topic, "audit"));
    assert!(!may(&authz, "alice", Read, Topic, "audit-log"), "a literal is not a prefix");
    assert!(!may(&authz, "alice", Read, Group, "orders-eu"), "another resource type");
}

#[test]
fn the_wildcard_literal_covers_every_name_and_only_as_a_literal() {
    let authz = authorizer(vec![allow(Topic, "*", Literal, "User:alice", Read)]);
    assert!(may(&authz, "alice", Read, Topic, "anything"));
    assert!(may(&authz, "alice", Read, Topic, "*"));
    let prefixed_star = authorizer(vec![allow(Topic, "*", Prefixed, "User:alice", Read)]);
    assert!(!may(&prefixed_star, "alice", Read, Topic, "anything"));
    assert!(may(&prefixed_star, "alice", Read, Topic, "*x"));
}

#[test]
fn the_wildcard_principal_is_user_star_only() {
    let authz = authorizer(vec![allow(Topic, "t", Literal, "User:*", Read)]);
    assert!(may(&authz, "alice", Read, Topic, "t"));
    assert!(may(&authz, "ANONYMOUS", Read, Topic, "t"));
    let other_type = KafkaPrincipal { principal_type: "Group".into(), name: "ops".into() };
    assert!(authz.authorize(&Requester::new(&other_type, ALICE_HOST), Read, Topic, "t"), "User:* matches any principal");
    let typed = authorizer(vec![allow(Topic, "t", Literal, "Group:ops", Read)]);
    assert!(!may(&typed, "ops", Read, Topic, "t"), "User:ops is not Group:ops");
    assert!(typed.authorize(&Requester::new(&other_type, ALICE_HOST), Read, Topic, "t"));
    let star_name = authorizer(vec![allow(Topic, "t", Literal, "User:al*", Read)]);
    assert!(!may(&star_name, "alice", Read, Topic, "t"), "no globbing in principal names");
}

#[test]
fn hosts_match_exactly_or_by_wildcard() {
    let authz = authorizer(vec![acl(Topic, "t", Literal, "User:alice", "10.0.0.1", Read, Allow)]);
    assert!(may(&authz, "alice", Read, Topic, "t"));
    let principal = KafkaPrincipal::user("alice");
    let elsewhere = Requester::new(&principal, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)));
    assert!(!authz.authorize(&elsewhere, Read, Topic, "t"));
    let denied_host = authorizer(vec![
        allow(Topic, "t", Literal, "User:alice", Read),
        acl(Topic, "t", Literal, "User:alice", "10.0.0.2", Read, Deny),
    ]);
    assert!(may(&denied_host, "alice", Read, Topic, "t"));
    assert!(!denied_host.authorize(&elsewhere, Read, Topic, "t"));
}

#[test]
fn java_prints_addresses_uncompressed_and_mapped_ipv4_as_ipv4() {
    assert_eq!(java_host_address(IpAddr::V4(Ipv4Addr::LOCALHOST)), "127.0.0.1");
    assert_eq!(java_host_address(IpAddr::V6(Ipv6Addr::LOCALHOST)), "0:0:0:0:0:0:0:1");
    assert_eq!(java_host_address("2001:db8::ff00:42".parse().unwrap()), "2001:db8:0:0:0:0:ff00:42");
    assert_eq!(java_host_address("::ffff:10.1.2.3".parse().unwrap()), "10.1.2.3");
}

#[test]
fn super_users_may_do_anything_even_against_a_deny() {
    let settings = AuthorizerSettings { super_users: ["User:admin".to_string()].into(), allow_everyone_if_no_acl_found: false };
    let authz = authorizer_with(vec![deny(Topic, "*", Literal, "User:*", All)], settings);
    assert!(may(&authz, "admin", Write, Topic, "t"));
    assert!(may(&authz, "admin", Alter, Cluster, "kafka-cluster"));
    assert!(!may(&authz, "alice", Write, Topic, "t"));
    let decision = authz.decide(&Requester::new(&KafkaPrincipal::user("admin"), ALICE_HOST), Read, Group, "g");
    assert_eq!(decision, Decision::SuperUser);
}

#[test]
fn allowing_read_write_delete_or_alter_implies_describe_and_alter_configs_implies_describe_configs() {
    for implying in [Read, Write, Delete, Alter, Describe] {
        let authz = authorizer(vec![allow(Topic, "t", Literal, "User:alice", implying)]);
        assert!(may(&authz, "alice", Describe, Topic, "t"), "{implying:?} implies DESCRIBE");
    }
    for not_implying in [Create, DescribeConfigs, AlterConfigs, ClusterAction, IdempotentWrite] {
        let authz = authorizer(vec![allow(Topic, "t", Literal, "User:alice", not_implying)]);
        assert!(!may(&authz, "alice", Describe, Topic, "t"), "{not_implying:?} does not imply DESCRIBE");
    }
    let configs = authorizer(vec![allow(Topic, "t", Literal, "User:alice", AlterConfigs)]);
    assert!(may(&configs, "alice", DescribeConfigs, Topic, "t"));
    assert!(!may(&configs, "alice", Describe, Topic, "t"));
    let read_only = authorizer(vec![allow(Topic, "t", Literal, "User:alice", Read)]);
    assert!(!may(&read_only, "alice", Write, Topic, "t"), "implication goes one way");
}

#[test]
fn a_deny_implies_nothing() {
    let authz = authorizer(vec![allow(Topic, "t", Literal, "User:alice", Describe), deny(Topic, "t", Literal, "User:alice", Read)]);
    assert!(may(&authz, "alice", Describe, Topic, "t"), "DENY READ does not deny DESCRIBE");
    assert!(!may(&authz, "alice", Read, Topic, "t"));
    let configs = authorizer(vec![
        allow(Topic, "t", Literal, "User:alice", DescribeConfigs),
        deny(Topic, "t", Literal, "User:alice", AlterConfigs),
    ]);
    assert!(may(&configs, "alice", DescribeConfigs, Topic, "t"));
}

#[test]
fn allow_everyone_if_no_acl_found_applies_only_to_resources_no_acl_covers() {
    let settings = AuthorizerSettings { super_users: Default::default(), allow_everyone_if_no_acl_found: true };
    let authz = authorizer_with(vec![allow(Topic, "t", Literal, "User:alice", Read)], settings.clone());
    assert!(may(&authz, "bob", Write, Topic, "other"), "no ACL names topic other");
    assert!(!may(&authz, "bob", Read, Topic, "t"), "topic t has ACLs, none for bob");
    assert!(!may(&authz, "alice", Write, Topic, "t"), "topic t has ACLs, none for alice's WRITE");
    assert!(may(&authz, "bob", Read, Group, "g"));
    let covered_by_prefix = authorizer_with(vec![allow(Topic, "o", Prefixed, "User:alice", Read)], settings);
    assert!(!may(&covered_by_prefix, "bob", Read, Topic, "orders"));
    let closed = authorizer(vec![]);
    assert!(!may(&closed, "bob", Read, Topic, "t"), "the default is to deny");
    let principal = KafkaPrincipal::user("bob");
    assert_eq!(closed.decide(&Requester::new(&principal, ALICE_HOST), Read, Topic, "t"), Decision::NoAcls { allowed: false });
}

#[test]
fn decisions_name_the_acl_that_decided() {
    let allowing = allow(Topic, "orders", Prefixed, "User:alice", Read);
    let denying = deny(Topic, "orders-secret", Literal, "User:*", Read);
    let authz = authorizer(vec![allowing.clone(), denying.clone()]);
    let principal = KafkaPrincipal::user("alice");
    let who = Requester::new(&principal, ALICE_HOST);
    assert_eq!(authz.decide(&who, Read, Topic, "orders-eu"), Decision::Allowed(allowing));
    assert_eq!(authz.decide(&who, Read, Topic, "orders-secret"), Decision::Denied(denying));
    assert_eq!(authz.decide(&who, Write, Topic, "orders-eu"), Decision::NoMatch);
}

#[test]
fn authorize_by_resource_type_finds_any_allowed_topic_unless_denied() {
    let who_alice = KafkaPrincipal::user("alice");
    let alice = Requester::new(&who_alice, ALICE_HOST);
    let literal = authorizer(vec![allow(Topic, "t", Literal, "User:alice", Write)]);
    assert!(literal.authorize_by_resource_type(&alice, Write, Topic));
    assert!(!literal.authorize_by_resource_type(&alice, Read, Topic));
    let denied_same = authorizer(vec![allow(Topic, "t", Literal, "User:alice", Write), deny(Topic, "t", Literal, "User:alice", Write)]);
    assert!(!denied_same.authorize_by_resource_type(&alice, Write, Topic));
    let denied_prefix = authorizer(vec![allow(Topic, "tx", Prefixed, "User:alice", Write), deny(Topic, "t", Prefixed, "User:alice", Write)]);
    assert!(!denied_prefix.authorize_by_resource_type(&alice, Write, Topic));
    let other_deny = authorizer(vec![allow(Topic, "a", Literal, "User:alice", Write), deny(Topic, "b", Literal, "User:alice", Write)]);
    assert!(other_deny.authorize_by_resource_type(&alice, Write, Topic));
    let wildcard_deny = authorizer(vec![allow(Topic, "a", Literal, "User:alice", Write), deny(Topic, "*", Literal, "User:alice", All)]);
    assert!(!wildcard_deny.authorize_by_resource_type(&alice, Write, Topic));
    let open = authorizer_with(vec![], AuthorizerSettings { super_users: Default::default(), allow_everyone_if_no_acl_found: true });
    assert!(open.authorize_by_resource_type(&alice, Write, Topic), "allow-by-default passes the named check");
    assert!(!authorizer(vec![]).authorize_by_resource_type(&alice, Write, Topic));
    let other_principal = authorizer(vec![allow(TransactionalId, "x", Literal, "User:bob", Write)]);
    assert!(!other_principal.authorize_by_resource_type(&alice, Write, TransactionalId));
}

#[test]
fn authorized_operations_are_the_allowed_supported_operations() {
    let authz = authorizer(vec![
        allow(Topic, "t", Literal, "User:alice", Read),
        allow(Topic, "t", Literal, "User:alice", AlterConfigs),
        allow(Group, "g", Literal, "User:alice", All),
    ]);
    let principal = KafkaPrincipal::user("alice");
    let who = Requester::new(&principal, ALICE_HOST);
    let topic = authz.authorized_operations(&who, Topic, "t");
    let expected = [Read, Describe, DescribeConfigs, AlterConfigs].iter().fold(0, |bits, op| bits | operation_bit(*op));
    assert_eq!(topic, expected);
    assert_eq!(authz.authorized_operations(&who, Group, "g"), all_operations(Group));
    assert_eq!(authz.authorized_operations(&who, Cluster, "kafka-cluster"), 0);
    assert_eq!(all_operations(Cluster), [5, 7, 8, 9, 10, 11, 12].iter().fold(0, |bits, code| bits | (1 << code)));
    assert_eq!(all_operations(Group), [3, 6, 8, 10, 11].iter().fold(0, |bits, code| bits | (1 << code)));
}
