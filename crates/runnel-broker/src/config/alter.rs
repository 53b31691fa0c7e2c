//! Changing configs the way Kafka's AlterConfigs and IncrementalAlterConfigs do: the four
//! incremental operations applied to a topic's overrides (Kafka's controller,
//! `ConfigurationControlManager.incrementalAlterConfigResource`), and what a broker key is as
//! far as an APPEND or SUBTRACT on a BROKER resource is concerned (Kafka's broker,
//! `ConfigAdminManager.prepareIncrementalConfigs`).
//!
//! APPEND and SUBTRACT apply only to LIST keys. They start from the override, or else from
//! Kafka's topic default for the key: `LogConfig`'s default, not the broker's (Kafka 4.1
//! appends `delete` to `delete` even on a broker whose log.cleanup.policy is compact). The
//! current list loses its empty parts; the operand is split as Java's `String.split(",")`
//! splits (trailing empty parts dropped, so "" is one empty part). APPEND adds each part not
//! yet present, SUBTRACT removes the first occurrence of each. The result is then validated
//! like any other value, which is where an empty part is refused.

use std::collections::BTreeMap;

use super::catalog::{broker_key, classify_untyped, Untyped};
use super::topic::{topic_key_spec, TopicConfigError};
use super::value::ConfigType;

/// Kafka's `AlterConfigOp.OpType`, with its wire codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlterOp {
    Set,
    Delete,
    Append,
    Subtract,
}

impl AlterOp {
    pub fn from_code(code: i8) -> Option<AlterOp> {
        match code {
            0 => Some(AlterOp::Set),
            1 => Some(AlterOp::Delete),
            2 => Some(AlterOp::Append),
            3 => Some(AlterOp::Subtract),
            _ => None,
        }
    }

    /// The name Kafka prints (`OpType.toString`).
    pub fn name(self) -> &'static str {
        match self {
            AlterOp::Set => "SET",
            AlterOp::Delete => "DELETE",
            AlterOp::Append => "APPEND",
            AlterOp::Subtract => "SUBTRACT",
        }
    }

    /// APPEND and SUBTRACT combine with the current value; SET and DELETE replace it.
    pub fn is_list_op(self) -> bool {
        matches!(self, AlterOp::Append | AlterOp::Subtract)
    }
}

/// One requested change of one key. `value` is ignored by DELETE; the handler refuses a null
/// value for every other operation before it gets here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigOp {
    pub name: String,
    pub op: AlterOp,
    pub value: Option<String>,
}

/// The overrides `current` becomes under `ops`, applied in order, each to the stored value as
/// Kafka's controller does. Only the LIST check happens here; the caller validates the result
/// (names, values, cross-key rules) as a whole, as Kafka does next.
pub fn apply_topic_ops(
    current: &BTreeMap<String, String>,
    ops: &[ConfigOp],
) -> Result<BTreeMap<String, String>, TopicConfigError> {
    let mut updated = current.clone();
    for change in ops {
        let operand = change.value.as_deref().unwrap_or_default();
        match change.op {
            AlterOp::Set => {
                updated.insert(change.name.clone(), operand.to_string());
            }
            AlterOp::Delete => {
                updated.remove(&change.name);
            }
            AlterOp::Append | AlterOp::Subtract => {
                let spec = topic_key_spec(&change.name).filter(|key| key.ty == ConfigType::List);
                let Some(spec) = spec else {
                    return Err(TopicConfigError::NotAList { op: change.op.name(), name: change.name.clone() });
                };
                let base = current.get(&change.name).map_or(spec.default, String::as_str);
                let mut items: Vec<&str> = base.split(',').filter(|part| !part.is_empty()).collect();
                for part in java_split_on_comma(operand) {
                    if change.op == AlterOp::Append {
                        if !items.contains(&part) {
                            items.push(part);
                        }
                    } else if let Some(at) = items.iter().position(|item| *item == part) {
                        items.remove(at);
                    }
                }
                updated.insert(change.name.clone(), items.join(","));
            }
        }
    }
    Ok(updated)
}

/// Java's `String.split(",")`: no comma gives the whole string (even ""), otherwise the parts
/// with trailing empty ones removed.
fn java_split_on_comma(s: &str) -> Vec<&str> {
    if !s.contains(',') {
        return vec![s];
    }
    let mut parts: Vec<&str> = s.split(',').collect();
    while parts.last().is_some_and(|part| part.is_empty()) {
        parts.pop();
    }
    parts
}

/// What Runnel knows of a broker key's type, for an APPEND or SUBTRACT on a BROKER resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerKeyKind {
    /// A typed key of type LIST.
    List,
    /// A typed key of another type: Kafka refuses APPEND and SUBTRACT on it.
    NotList,
    /// A Kafka key Runnel accepts by name only; its type is not recorded.
    Untyped,
    /// Neither Kafka 4.x nor Runnel knows it.
    Unknown,
}

pub fn broker_key_kind(name: &str) -> BrokerKeyKind {
    match broker_key(name) {
        Some(key) if key.ty == ConfigType::List => BrokerKeyKind::List,
        Some(_) => BrokerKeyKind::NotList,
        None => match classify_untyped(name) {
            Untyped::NoEffect(_) => BrokerKeyKind::Untyped,
            Untyped::Unknown => BrokerKeyKind::Unknown,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(name: &str, op: AlterOp, value: Option<&str>) -> ConfigOp {
        ConfigOp { name: name.into(), op, value: value.map(str::to_string) }
    }

    fn overrides(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn cleanup_after(current: &[(&str, &str)], change: AlterOp, operand: &str) -> String {
        let updated = apply_topic_ops(&overrides(current), &[op("cleanup.policy", change, Some(operand))]).unwrap();
        updated["cleanup.policy"].clone()
    }

    #[test]
    fn set_and_delete_replace_the_override() {
        let current = overrides(&[("retention.ms", "1"), ("segment.ms", "2")]);
        let ops = [op("retention.ms", AlterOp::Set, Some("5")), op("segment.ms", AlterOp::Delete, None)];
        assert_eq!(apply_topic_ops(&current, &ops).unwrap(), overrides(&[("retention.ms", "5")]));
    }

    #[test]
    fn deleting_an_absent_key_changes_nothing() {
        let current = overrides(&[("retention.ms", "1")]);
        assert_eq!(apply_topic_ops(&current, &[op("foo.bar", AlterOp::Delete, None)]).unwrap(), current);
    }

    #[test]
    fn append_starts_from_kafkas_topic_default_and_skips_present_parts() {
        assert_eq!(cleanup_after(&[], AlterOp::Append, "compact"), "delete,compact");
        assert_eq!(cleanup_after(&[], AlterOp::Append, "delete"), "delete");
        assert_eq!(cleanup_after(&[("cleanup.policy", "delete,compact")], AlterOp::Append, "compact,delete"), "delete,compact");
    }

    #[test]
    fn subtract_removes_parts_down_to_the_empty_list() {
        assert_eq!(cleanup_after(&[("cleanup.policy", "delete,compact")], AlterOp::Subtract, "delete"), "compact");
        assert_eq!(cleanup_after(&[("cleanup.policy", "compact")], AlterOp::Subtract, "compact"), "");
        assert_eq!(cleanup_after(&[], AlterOp::Subtract, "delete"), "");
        assert_eq!(cleanup_after(&[("cleanup.policy", "delete")], AlterOp::Subtract, ""), "delete");
    }

    #[test]
    fn append_of_an_empty_part_leaves_it_for_validation_to_refuse() {
        assert_eq!(cleanup_after(&[], AlterOp::Append, ""), "delete,");
        assert_eq!(cleanup_after(&[], AlterOp::Append, ",compact"), "delete,,compact");
        assert_eq!(cleanup_after(&[], AlterOp::Append, "compact,"), "delete,compact");
    }

    #[test]
    fn append_or_subtract_on_a_non_list_or_unknown_key_is_refused_in_kafkas_words() {
        let error = apply_topic_ops(&BTreeMap::new(), &[op("retention.ms", AlterOp::Append, Some("5"))]).unwrap_err();
        assert_eq!(error.to_string(), "Can't APPEND to key retention.ms because its type is not LIST.");
        let error = apply_topic_ops(&BTreeMap::new(), &[op("foo.bar", AlterOp::Subtract, Some("5"))]).unwrap_err();
        assert_eq!(error.to_string(), "Can't SUBTRACT to key foo.bar because its type is not LIST.");
    }

    #[test]
    fn java_split_keeps_leading_and_inner_empty_parts() {
        assert_eq!(java_split_on_comma(""), vec![""]);
        assert_eq!(java_split_on_comma("a"), vec!["a"]);
        assert_eq!(java_split_on_comma(",a,,b,,"), vec!["", "a", "", "b"]);
        assert!(java_split_on_comma(",,").is_empty());
    }

    #[test]
    fn op_codes_are_kafkas() {
        assert_eq!(AlterOp::from_code(0), Some(AlterOp::Set));
        assert_eq!(AlterOp::from_code(3), Some(AlterOp::Subtract));
        assert_eq!(AlterOp::from_code(4), None);
        assert_eq!(AlterOp::from_code(-1), None);
    }

    #[test]
    fn broker_key_kinds() {
        assert_eq!(broker_key_kind("log.cleanup.policy"), BrokerKeyKind::List);
        assert_eq!(broker_key_kind("log.retention.ms"), BrokerKeyKind::NotList);
        assert_eq!(broker_key_kind("listeners"), BrokerKeyKind::NotList);
        assert_eq!(broker_key_kind("ssl.cipher.suites"), BrokerKeyKind::Untyped);
        assert_eq!(broker_key_kind("foo.bar"), BrokerKeyKind::Unknown);
    }
}
