//! Listener URI and security protocol map parsing.

use std::collections::BTreeMap;

use crate::config::listener::{local_hostname, parse_listener_list, parse_security_protocol_map, Listener, SecurityProtocol};

fn default_map() -> BTreeMap<String, SecurityProtocol> {
    SecurityProtocol::ALL.iter().map(|p| (p.name().to_string(), *p)).collect()
}

fn parse(raw: &str) -> Result<Vec<Listener>, String> {
    parse_listener_list("listeners", raw, &default_map(), true).map_err(|e| e.to_string())
}

#[test]
fn parses_name_host_port_and_protocol() {
    let listeners = parse("PLAINTEXT://localhost:9092, SSL://10.0.0.1:9093").expect("valid");
    assert_eq!(
        listeners,
        vec![
            Listener { name: "PLAINTEXT".into(), host: Some("localhost".into()), port: 9092, security_protocol: SecurityProtocol::Plaintext },
            Listener { name: "SSL".into(), host: Some("10.0.0.1".into()), port: 9093, security_protocol: SecurityProtocol::Ssl },
        ]
    );
}

#[test]
fn names_are_upper_cased_and_an_empty_host_is_a_wildcard() {
    let listeners = parse("plaintext://:9092").expect("valid");
    assert_eq!(listeners[0].name, "PLAINTEXT");
    assert_eq!(listeners[0].host, None);
    assert_eq!(listeners[0].bind_address(), "0.0.0.0:9092");
    assert_eq!(listeners[0].connection_string(), "PLAINTEXT://:9092");
}

#[test]
fn ipv6_hosts_may_be_bracketed_and_print_bracketed() {
    let listeners = parse("PLAINTEXT://[::1]:9092").expect("valid");
    assert_eq!(listeners[0].host.as_deref(), Some("::1"));
    assert_eq!(listeners[0].connection_string(), "PLAINTEXT://[::1]:9092");
    assert_eq!(listeners[0].bind_address(), "[::1]:9092");
}

#[test]
fn unparsable_endpoints_are_rejected_with_kafkas_message() {
    let message = parse("localhost:9092").expect_err("no scheme");
    assert!(message.contains("Error creating broker listeners from 'localhost:9092': Unable to parse localhost:9092 to a broker endpoint"), "{message}");
    assert!(message.starts_with("Invalid value localhost:9092 for configuration listeners:"), "{message}");
    parse("PLAINTEXT://localhost").expect_err("no port");
    parse("PLAINTEXT://localhost:port").expect_err("port not a number");
    parse("PLAINTEXT://local/host:9092").expect_err("bad host character");
}

#[test]
fn ports_must_fit_in_sixteen_bits() {
    parse("PLAINTEXT://:65535").expect("max port");
    parse("PLAINTEXT://:65536").expect_err("port too large");
    parse("PLAINTEXT://:-1").expect_err("negative port");
}

#[test]
fn a_listener_name_must_have_a_security_protocol() {
    let message = parse("CLIENT://:9092").expect_err("unmapped name");
    assert!(message.contains("No security protocol defined for listener CLIENT"), "{message}");
    let map = parse_security_protocol_map("listener.security.protocol.map", "client:ssl, PLAINTEXT:PLAINTEXT").expect("valid map");
    let listeners = parse_listener_list("listeners", "CLIENT://:9093", &map, true).expect("mapped");
    assert_eq!(listeners[0].security_protocol, SecurityProtocol::Ssl);
}

#[test]
fn listener_names_and_ports_must_be_distinct() {
    let message = parse("PLAINTEXT://:9092,plaintext://:9093").expect_err("duplicate name");
    assert!(message.contains("Each listener must have a different name"), "{message}");
    let message = parse("PLAINTEXT://:9092,SSL://:9092").expect_err("duplicate port");
    assert!(message.contains("Each listener must have a different port"), "{message}");
    parse("PLAINTEXT://:0,SSL://:0").expect("ephemeral ports may repeat");
}

#[test]
fn one_ipv4_and_one_ipv6_listener_may_share_a_port() {
    parse("PLAINTEXT://127.0.0.1:9092,SSL://[::1]:9092").expect("v4 and v6 on one port");
    parse("PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.2:9092").expect_err("two v4 on one port");
    parse("PLAINTEXT://127.0.0.1:9092,SSL://[::1]:9092,SASL_SSL://host:9092").expect_err("a third listener on the port");
}

#[test]
fn advertised_lists_may_repeat_ports() {
    parse_listener_list("advertised.listeners", "PLAINTEXT://a:9092,SSL://a:9092", &default_map(), false).expect("repeated port");
}

#[test]
fn security_protocol_map_errors() {
    let message = parse_security_protocol_map("listener.security.protocol.map", "FOO").expect_err("no colon").to_string();
    assert!(message.contains("is not of the form NAME:PROTOCOL"), "{message}");
    let message = parse_security_protocol_map("listener.security.protocol.map", "A:BOGUS").expect_err("bad protocol").to_string();
    assert!(message.contains("Invalid security protocol `BOGUS` defined in listener.security.protocol.map"), "{message}");
    assert!(parse_security_protocol_map("listener.security.protocol.map", "").expect("empty").is_empty());
}

#[test]
fn wildcard_hosts_resolve_to_the_given_hostname_for_advertising() {
    let wildcard = parse("PLAINTEXT://:9092").expect("valid").remove(0);
    assert_eq!(wildcard.with_wildcard_resolved("box.example").host.as_deref(), Some("box.example"));
    let fixed = parse("PLAINTEXT://kafka1:9092").expect("valid").remove(0);
    assert_eq!(fixed.with_wildcard_resolved("box.example").host.as_deref(), Some("kafka1"));
}

#[test]
fn local_hostname_is_never_empty() {
    assert!(!local_hostname().trim().is_empty());
}
