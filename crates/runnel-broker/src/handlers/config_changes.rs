//! What AlterConfigs and IncrementalAlterConfigs share: the checks Kafka's broker makes on each
//! resource before anything changes (`ConfigAdminManager.preprocess`), the topic name checks
//! of Kafka's controller (`ControllerConfigurationValidator`), and each resource's answer in
//! Kafka's words.
//!
//! Runnel has no dynamic broker configs, so a BROKER resource is answered as Kafka answers a
//! key it cannot update dynamically: INVALID_REQUEST "Cannot update these configs
//! dynamically: Set(...)" for every key set, while deleting (a no-op, nothing is ever set)
//! succeeds. Runnel cannot change its log levels at run time and describes no loggers, so every
//! logger a BROKER_LOGGER resource names does not exist. Group and client-metrics resources,
//! which Kafka stores for features Runnel lacks, are unknown resource types here.

use std::collections::HashMap;

use kafka_protocol::protocol::StrBytes;

use kafka_protocol::error::ResponseError;
use runnel_protocol::kafka_protocol;

use super::authorize::Authz;
use crate::acl::AclOperation::AlterConfigs;
use crate::config::topic::TopicConfigError;
use crate::context::BrokerContext;
use crate::topics::{validate_topic_name, TopicError};

/// Kafka's `ConfigResource.Type` codes.
pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;
pub const RESOURCE_BROKER_LOGGER: i8 = 8;

/// Scala prints a `Set` of up to this many elements as `Set(...)` and a larger one as
/// `HashSet(...)`; Kafka's "Cannot update these configs dynamically" message shows one.
const SCALA_SMALL_SET_MAX: usize = 4;

/// Why one resource of the request was not altered: its error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: i16,
    pub message: String,
}

impl Refusal {
    pub fn new(error: ResponseError, message: impl Into<String>) -> Refusal {
        Refusal { code: error.code(), message: message.into() }
    }

    fn invalid_request(message: impl Into<String>) -> Refusal {
        Refusal::new(ResponseError::InvalidRequest, message)
    }
}

/// One resource's answer: success, or a refusal.
pub type Outcome = Result<(), Refusal>;

/// The error code and message a resource's response carries for `outcome`: (0, null) when
/// the change was made (or would be, with validate_only).
pub fn response_error(outcome: Outcome) -> (i16, Option<StrBytes>) {
    match outcome {
        Ok(()) => (0, None),
        Err(refusal) => (refusal.code, Some(StrBytes::from_string(refusal.message))),
    }
}

/// For each resource in request order, whether another one has the same type and name; Kafka
/// refuses every copy with "Each resource must appear at most once.".
pub fn duplicated<'a>(resources: impl Iterator<Item = (i8, &'a str)> + Clone) -> Vec<bool> {
    let mut counts: HashMap<(i8, &str), usize> = HashMap::new();
    for resource in resources.clone() {
        *counts.entry(resource).or_default() += 1;
    }
    resources.map(|resource| counts.get(&resource).is_some_and(|count| *count > 1)).collect()
}

pub fn duplicate_resource() -> Refusal {
    Refusal::invalid_request("Each resource must appear at most once.")
}

/// Kafka's first checks of a resource's keys: none named twice, and no null value except
/// where the operation is a DELETE (`nulls` names the offending keys in request order).
pub fn check_keys<'a>(names: &[&str], nulls: impl Iterator<Item = &'a str>) -> Outcome {
    let mut seen = std::collections::HashSet::new();
    if !names.iter().all(|name| seen.insert(*name)) {
        return Err(Refusal::invalid_request("Error due to duplicate config keys"));
    }
    let nulls: Vec<&str> = nulls.collect();
    if !nulls.is_empty() {
        return Err(Refusal::invalid_request(format!("Null value not supported for : {}", nulls.join(", "))));
    }
    Ok(())
}

/// ALTER_CONFIGS on the topic, or TOPIC_AUTHORIZATION_FAILED in Kafka's words.
pub fn may_alter_topic(authz: &Authz<'_>, name: &str) -> Outcome {
    authz.topic(AlterConfigs, name).then_some(()).ok_or_else(|| authorization_failed(ResponseError::TopicAuthorizationFailed))
}

/// ALTER_CONFIGS on the cluster (for brokers and their loggers), or CLUSTER_AUTHORIZATION_FAILED.
pub fn may_alter_cluster(authz: &Authz<'_>) -> Outcome {
    authz.cluster(AlterConfigs).then_some(()).ok_or_else(|| authorization_failed(ResponseError::ClusterAuthorizationFailed))
}

/// Kafka's `ApiError(error)`: the error's own description as the message.
fn authorization_failed(error: ResponseError) -> Refusal {
    Refusal::new(error, error.to_string())
}

pub fn unknown_resource_type(resource_type: i8) -> Refusal {
    Refusal::invalid_request(format!("Unknown resource type {resource_type}"))
}

/// A BROKER resource names this broker (or is empty, the cluster-wide default).
pub fn check_broker_name(ctx: &BrokerContext, name: &str) -> Outcome {
    if name.is_empty() {
        return Ok(());
    }
    match parse_java_int(name) {
        None => Err(Refusal::invalid_request(format!("Node id must be an integer, but it is: {name}"))),
        Some(id) if id != ctx.node_id => Err(Refusal::invalid_request(format!(
            "Unexpected broker id, expected {}, but received {name}",
            ctx.node_id
        ))),
        Some(_) => Ok(()),
    }
}

/// A BROKER_LOGGER resource names this broker (Kafka words this check differently).
pub fn check_logger_node(ctx: &BrokerContext, name: &str) -> Outcome {
    match parse_java_int(name) {
        None => Err(Refusal::invalid_request(format!("Node id must be an integer, but it is: {name}"))),
        Some(id) if id != ctx.node_id => Err(Refusal::invalid_request(format!(
            "Unexpected node id. Expected {}, but received {name}",
            ctx.node_id
        ))),
        Some(_) => Ok(()),
    }
}

/// Runnel's answer to setting `keys` on a BROKER resource: none can change while it runs.
pub fn refuse_broker_keys(keys: &[&str]) -> Outcome {
    if keys.is_empty() {
        return Ok(());
    }
    let set = if keys.len() <= SCALA_SMALL_SET_MAX { "Set" } else { "HashSet" };
    Err(Refusal::invalid_request(format!("Cannot update these configs dynamically: {set}({})", keys.join(", "))))
}

/// Kafka's check of a TOPIC resource's name, made before its configs are validated.
pub fn check_topic_name(name: &str) -> Result<(), TopicError> {
    if name.is_empty() {
        return Err(TopicError::InvalidRequest("Default topic resources are not allowed.".into()));
    }
    validate_topic_name(name).map_err(TopicError::InvalidName)
}

pub fn invalid_config(error: TopicConfigError) -> TopicError {
    TopicError::InvalidConfig(error.to_string())
}

/// A failed topic alteration as Kafka's controller reports it.
pub fn topic_refusal(name: &str, error: TopicError) -> Refusal {
    match error {
        TopicError::UnknownTopic => {
            Refusal::new(ResponseError::UnknownTopicOrPartition, format!("The topic '{name}' does not exist."))
        }
        other => Refusal { code: other.code(), message: other.to_string() },
    }
}

/// Java's `Integer.parseInt`: an optional sign, then ASCII digits that fit an `int`.
fn parse_java_int(s: &str) -> Option<i32> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_copy_of_a_repeated_resource_is_marked() {
        let resources = [(2, "a"), (4, "a"), (2, "a"), (2, "b")];
        assert_eq!(duplicated(resources.iter().copied()), vec![true, false, true, false]);
    }

    #[test]
    fn repeated_keys_come_before_null_values() {
        let refusal = check_keys(&["a", "a"], ["a"].into_iter()).unwrap_err();
        assert_eq!(refusal.message, "Error due to duplicate config keys");
        let refusal = check_keys(&["a", "b"], ["a", "b"].into_iter()).unwrap_err();
        assert_eq!(refusal.message, "Null value not supported for : a, b");
        assert!(check_keys(&["a", "b"], std::iter::empty()).is_ok());
    }

    #[test]
    fn broker_keys_are_refused_in_kafkas_set_notation() {
        assert!(refuse_broker_keys(&[]).is_ok());
        let refusal = refuse_broker_keys(&["log.dirs", "node.id"]).unwrap_err();
        assert_eq!(refusal.code, ResponseError::InvalidRequest.code());
        assert_eq!(refusal.message, "Cannot update these configs dynamically: Set(log.dirs, node.id)");
        let refusal = refuse_broker_keys(&["a", "b", "c", "d", "e"]).unwrap_err();
        assert_eq!(refusal.message, "Cannot update these configs dynamically: HashSet(a, b, c, d, e)");
    }

    #[test]
    fn topic_names_are_checked_as_kafkas_controller_does() {
        assert!(matches!(check_topic_name(""), Err(TopicError::InvalidRequest(_))));
        assert!(matches!(check_topic_name(".."), Err(TopicError::InvalidName(_))));
        assert!(check_topic_name("fine").is_ok());
    }

    #[test]
    fn node_ids_parse_as_java_ints() {
        assert_eq!(parse_java_int("1"), Some(1));
        assert_eq!(parse_java_int("+01"), Some(1));
        assert_eq!(parse_java_int("-3"), Some(-3));
        assert_eq!(parse_java_int(" 1"), None);
        assert_eq!(parse_java_int("x"), None);
        assert_eq!(parse_java_int("99999999999"), None);
    }
}
