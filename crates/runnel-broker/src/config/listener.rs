//! Listeners: parsing `listeners` / `advertised.listeners` URIs and
//! `listener.security.protocol.map` the way Kafka does (`SocketServerConfigs.listenerListToEndPoints`,
//! `CoreUtils.listenerListToEndPoints`, `Csv.parseCsvMap`), and resolving wildcard hosts for
//! advertising.
//!
//! A listener is `NAME://host:port`; the name is upper-cased; IPv6 hosts may be bracketed; an
//! empty host means "bind every interface" and, when advertised, this machine's hostname.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::value::InvalidValue;

/// Kafka's security protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    pub const ALL: [SecurityProtocol; 4] =
        [SecurityProtocol::Plaintext, SecurityProtocol::Ssl, SecurityProtocol::SaslPlaintext, SecurityProtocol::SaslSsl];

    /// Kafka's name, e.g. `SASL_SSL`.
    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// Case-insensitive, as `SecurityProtocol.forName`.
    pub fn from_name(name: &str) -> Option<SecurityProtocol> {
        Self::ALL.into_iter().find(|protocol| protocol.name().eq_ignore_ascii_case(name))
    }
}

/// One listener endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// Upper-cased listener name, e.g. `PLAINTEXT`.
    pub name: String,
    /// `None` for an empty host: bind every interface; advertise this machine's hostname.
    pub host: Option<String>,
    /// 0 asks the OS for an ephemeral port (the broker must then advertise the bound port).
    pub port: u16,
    pub security_protocol: SecurityProtocol,
}

impl Listener {
    /// Address to bind: the host, or the IPv4 wildcard when the host is empty.
    pub fn bind_address(&self) -> String {
        format_address(self.host.as_deref().unwrap_or("0.0.0.0"), self.port)
    }

    /// `NAME://host:port` as Kafka prints it (`NAME://:port` for an empty host).
    pub fn connection_string(&self) -> String {
        match &self.host {
            Some(host) => format!("{}://{}", self.name, format_address(host, self.port)),
            None => format!("{}://:{}", self.name, self.port),
        }
    }

    /// This listener as clients should see it: an empty or blank host becomes `local_host`.
    pub fn with_wildcard_resolved(&self, local_host: &str) -> Listener {
        let blank = self.host.as_deref().is_none_or(|host| host.trim().is_empty());
        Listener { host: if blank { Some(local_host.to_string()) } else { self.host.clone() }, ..self.clone() }
    }
}

/// `host:port`, bracketing IPv6 literals (Kafka's `Utils.formatAddress`).
fn format_address(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// This machine's hostname, used to advertise listeners bound to every interface. Kafka asks
/// Java for the canonical (DNS) host name; Runnel uses the kernel's hostname without a DNS
/// lookup, falling back to `localhost` when none can be read.
pub fn local_hostname() -> String {
    const SOURCES: [&str; 2] = ["/proc/sys/kernel/hostname", "/etc/hostname"];
    SOURCES
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .chain(std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_string())
        .find(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Kafka's `Csv.parseCsvList`: split on commas with surrounding whitespace, dropping empties.
pub(crate) fn csv_list(raw: &str) -> Vec<String> {
    raw.split(',').map(|item| item.trim().to_string()).filter(|item| !item.is_empty()).collect()
}

/// Parses `listener.security.protocol.map` (`NAME:PROTOCOL,...`); names are upper-cased.
pub(crate) fn parse_security_protocol_map(
    key: &str,
    raw: &str,
) -> Result<BTreeMap<String, SecurityProtocol>, InvalidValue> {
    let invalid = |reason: String| InvalidValue { name: key.to_string(), value: raw.to_string(), reason };
    let mut map = BTreeMap::new();
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Ok(map);
    }
    for entry in trimmed.split(',').map(str::trim) {
        let Some((name, protocol)) = entry.rsplit_once(':') else {
            return Err(invalid(format!(
                "Error parsing configuration property '{key}': entry '{entry}' is not of the form NAME:PROTOCOL"
            )));
        };
        let protocol_name = protocol.trim();
        let protocol = SecurityProtocol::from_name(protocol_name)
            .ok_or_else(|| invalid(format!("Invalid security protocol `{protocol_name}` defined in {key}")))?;
        map.insert(name.trim().to_ascii_uppercase(), protocol);
    }
    Ok(map)
}

/// Parses a listener list. `require_distinct_ports` is Kafka's rule for `listeners` (not for
/// `advertised.listeners`): two listeners may share a port only if one binds an IPv4 literal and
/// the other an IPv6 literal. Port 0 is exempt.
pub(crate) fn parse_listener_list(
    key: &str,
    raw: &str,
    protocols: &BTreeMap<String, SecurityProtocol>,
    require_distinct_ports: bool,
) -> Result<Vec<Listener>, InvalidValue> {
    let invalid = |reason: String| InvalidValue { name: key.to_string(), value: raw.to_string(), reason };
    let creating = |message: String| invalid(format!("Error creating broker listeners from '{raw}': {message}"));
    let mut listeners = Vec::new();
    for entry in csv_list(raw.trim()) {
        let (name, host, port) = parse_endpoint(&entry)
            .ok_or_else(|| creating(format!("Unable to parse {entry} to a broker endpoint")))?;
        let security_protocol = *protocols
            .get(&name)
            .ok_or_else(|| creating(format!("No security protocol defined for listener {name}")))?;
        listeners.push(Listener { name, host, port, security_protocol });
    }
    for (i, listener) in listeners.iter().enumerate() {
        if listeners[..i].iter().any(|other| other.name == listener.name) {
            return Err(invalid(format!("Each listener must have a different name, listeners: {raw}")));
        }
    }
    if require_distinct_ports {
        check_distinct_ports(&listeners).map_err(|message| invalid(format!("{message}, listeners: {raw}")))?;
    }
    Ok(listeners)
}

/// Kafka's endpoint grammar `^(.*)://\[?([0-9a-zA-Z\-%._:]*)\]?:(-?[0-9]+)$`; the port must also
/// fit 0..=65535 (Kafka would only fail later, when binding).
fn parse_endpoint(entry: &str) -> Option<(String, Option<String>, u16)> {
    let (name, rest) = entry.rsplit_once("://")?;
    let (host_part, port) = rest.rsplit_once(':')?;
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let port: u16 = port.parse().ok()?;
    let host = host_part.strip_prefix('[').unwrap_or(host_part);
    let host = host.strip_suffix(']').unwrap_or(host);
    let host_chars_ok = host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '%' | '.' | '_' | ':'));
    if !host_chars_ok {
        return None;
    }
    let host = (!host.is_empty()).then(|| host.to_string());
    Some((name.to_ascii_uppercase(), host, port))
}

fn ip_version(host: Option<&str>) -> Option<u8> {
    let host = host?;
    if host.parse::<Ipv4Addr>().is_ok() {
        Some(4)
    } else if host.split('%').next().is_some_and(|addr| addr.parse::<Ipv6Addr>().is_ok()) {
        Some(6)
    } else {
        None
    }
}

fn check_distinct_ports(listeners: &[Listener]) -> Result<(), String> {
    let mut by_port: BTreeMap<u16, Vec<&Listener>> = BTreeMap::new();
    for listener in listeners.iter().filter(|listener| listener.port != 0) {
        by_port.entry(listener.port).or_default().push(listener);
    }
    for (port, group) in by_port.into_iter().filter(|(_, group)| group.len() > 1) {
        let (with_ip, without_ip): (Vec<&Listener>, Vec<&Listener>) =
            group.into_iter().partition(|listener| ip_version(listener.host.as_deref()).is_some());
        if without_ip.len() > 1 {
            return Err("Each listener must have a different port".to_string());
        }
        match with_ip.as_slice() {
            [] => {}
            [a, b] => {
                let versions = (ip_version(a.host.as_deref()), ip_version(b.host.as_deref()));
                if versions.0 == versions.1 || !without_ip.is_empty() {
                    return Err(format!(
                        "If you have two listeners on the same port then one needs to be IPv4 and the other IPv6, port: {port}"
                    ));
                }
            }
            _ => {
                return Err(format!(
                    "Each listener must have a different port unless exactly one listener has an IPv4 address \
                     and the other IPv6 address, port: {port}"
                ))
            }
        }
    }
    Ok(())
}
