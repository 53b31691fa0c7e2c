//! IncrementalAlterConfigs: SET, DELETE, APPEND and SUBTRACT on single keys of a topic's
//! overrides (`config::alter` has the operations), answered per resource in request order.
//!
//! Kafka's order: repeated resources; repeated keys and null values (a DELETE may carry
//! null); the resource type; for a topic the operations (APPEND and SUBTRACT only on LIST
//! keys), its name, the resulting overrides validated as a whole, then whether it exists.
//! An unknown operation code gets INVALID_REQUEST "Unknown operations type N", Kafka's answer
//! for a BROKER resource; for a TOPIC resource Kafka 4.1 answers UNKNOWN_SERVER_ERROR (a null
//! pointer in its controller), which Runnel does not copy.
//!
//! Authorization: a BROKER_LOGGER resource needs ALTER_CONFIGS on the cluster before anything
//! else about it (Kafka's broker checks it first); a topic or broker needs ALTER_CONFIGS on
//! the topic or the cluster after the checks above, where Kafka's controller makes them.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::incremental_alter_configs_request::AlterConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};
use runnel_protocol::kafka_protocol;

use super::config_changes::{response_error, 
    may_alter_cluster, may_alter_topic,
    check_broker_name, check_keys, check_logger_node, check_topic_name, duplicate_resource, duplicated,
    invalid_config, refuse_broker_keys, topic_refusal, unknown_resource_type, Outcome, Refusal, RESOURCE_BROKER,
    RESOURCE_BROKER_LOGGER, RESOURCE_TOPIC,
};
use crate::config::alter::{apply_topic_ops, broker_key_kind, AlterOp, BrokerKeyKind, ConfigOp};
use crate::config::topic::validate_topic_configs_for;
use super::authorize::Authz;
use crate::context::BrokerContext;
use crate::session::Caller;
use crate::topics::TopicError;

pub fn handle(ctx: &BrokerContext, request: IncrementalAlterConfigsRequest, caller: &Caller<'_>) -> IncrementalAlterConfigsResponse {
    let authz = Authz::new(ctx, caller);
    let repeated = duplicated(request.resources.iter().map(|r| (r.resource_type, r.resource_name.as_str())));
    let responses = request
        .resources
        .iter()
        .zip(repeated)
        .map(|(resource, repeated)| {
            let outcome = if repeated { Err(duplicate_resource()) } else { alter(ctx, &authz, resource, request.validate_only) };
            let (code, message) = response_error(outcome);
            AlterConfigsResourceResponse::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name.clone())
                .with_error_code(code)
                .with_error_message(message)
        })
        .collect();
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

fn alter(ctx: &BrokerContext, authz: &Authz<'_>, resource: &AlterConfigsResource, validate_only: bool) -> Outcome {
    let names: Vec<&str> = resource.configs.iter().map(|config| config.name.as_str()).collect();
    let delete = AlterOp::Delete as i8;
    let nulls = resource
        .configs
        .iter()
        .filter(|config| config.config_operation != delete && config.value.is_none())
        .map(|config| config.name.as_str());
    check_keys(&names, nulls)?;
    let name = resource.resource_name.as_str();
    match resource.resource_type {
        RESOURCE_TOPIC => {
            let ops = parse_ops(resource)?;
            may_alter_topic(authz, name)?;
            ctx.topics
                .alter_configs(name, validate_only, |current| {
                    let updated = apply_topic_ops(current, &ops).map_err(invalid_config)?;
                    check_topic_name(name)?;
                    validate_topic_configs_for(&ctx.config, &updated).map_err(invalid_config)?;
                    Ok(updated)
                })
                .map_err(|error: TopicError| topic_refusal(name, error))
        }
        RESOURCE_BROKER => {
            check_broker_name(ctx, name)?;
            let ops = parse_ops(resource)?;
            for op in ops.iter().filter(|op| op.op.is_list_op()) {
                let verb = if op.op == AlterOp::Append { "append" } else { "subtract" };
                match broker_key_kind(&op.name) {
                    BrokerKeyKind::NotList => {
                        return Err(Refusal::new(
                            ResponseError::InvalidConfig,
                            format!("Config value {verb} is not allowed for config key: {}", op.name),
                        ))
                    }
                    BrokerKeyKind::Unknown => {
                        return Err(Refusal::new(ResponseError::InvalidConfig, format!("Unknown config name: {}", op.name)))
                    }
                    BrokerKeyKind::List | BrokerKeyKind::Untyped => {}
                }
            }
            let set: Vec<&str> = ops.iter().filter(|op| op.op != AlterOp::Delete).map(|op| op.name.as_str()).collect();
            refuse_broker_keys(&set)?;
            may_alter_cluster(authz)
        }
        RESOURCE_BROKER_LOGGER => {
            may_alter_cluster(authz)?;
            check_logger_node(ctx, name)?;
            resource.configs.iter().try_for_each(|config| {
                let logger = config.name.as_str();
                match AlterOp::from_code(config.config_operation) {
                    Some(AlterOp::Set | AlterOp::Delete) => {
                        Err(Refusal::new(ResponseError::InvalidConfig, format!("Logger {logger} does not exist!")))
                    }
                    Some(op) => Err(Refusal::new(
                        ResponseError::InvalidRequest,
                        format!("{} operation is not allowed for the BROKER_LOGGER resource", op.name()),
                    )),
                    None => Err(Refusal::new(
                        ResponseError::InvalidRequest,
                        format!(
                            "Unknown operation type {} is not allowed for the BROKER_LOGGER resource",
                            config.config_operation
                        ),
                    )),
                }
            })
        }
        other => Err(unknown_resource_type(other)),
    }
}

fn parse_ops(resource: &AlterConfigsResource) -> Result<Vec<ConfigOp>, Refusal> {
    resource
        .configs
        .iter()
        .map(|config| match AlterOp::from_code(config.config_operation) {
            Some(op) => Ok(ConfigOp {
                name: config.name.to_string(),
                op,
                value: config.value.as_ref().map(|value| value.to_string()),
            }),
            None => Err(Refusal::new(
                ResponseError::InvalidRequest,
                format!("Unknown operations type {}", config.config_operation),
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use kafka_protocol::protocol::StrBytes;
    use std::collections::BTreeMap;

    use kafka_protocol::messages::incremental_alter_configs_request::AlterableConfig;

    use super::*;
    use crate::config::describe::{describe_topic_configs, ConfigSource};
    use crate::context::now_ms;
    use crate::context::testing::context;
    use crate::topics::NewTopic;

    const TOPIC: &str = "incremental";
    const SET: i8 = 0;
    const DELETE: i8 = 1;
    const APPEND: i8 = 2;
    const SUBTRACT: i8 = 3;

    fn resource(resource_type: i8, name: &str, ops: &[(&str, i8, Option<&str>)]) -> AlterConfigsResource {
        let configs = ops
            .iter()
            .map(|(key, operation, value)| {
                AlterableConfig::default()
                    .with_name(StrBytes::from_string(key.to_string()))
                    .with_config_operation(*operation)
                    .with_value(value.map(|v| StrBytes::from_string(v.to_string())))
            })
            .collect();
        AlterConfigsResource::default()
            .with_resource_type(resource_type)
            .with_resource_name(StrBytes::from_string(name.to_string()))
            .with_configs(configs)
    }

    fn answer(ctx: &BrokerContext, resource: AlterConfigsResource) -> (i16, Option<String>) {
        let request = IncrementalAlterConfigsRequest::default().with_resources(vec![resource]);
        let session = crate::handlers::authorize::testing::session(None);
        let response = handle(ctx, request, &Caller { client_id: "test", session: &session }).responses.remove(0);
        (response.error_code, response.error_message.map(|m| m.to_string()))
    }

    fn refused(code: i16, message: &str) -> (i16, Option<String>) {
        (code, Some(message.to_string()))
    }

    fn with_topic(dir: &std::path::Path, configs: &[(&str, &str)]) -> BrokerContext {
        let ctx = context(dir);
        let configs = configs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        ctx.topics.create(NewTopic { name: TOPIC.into(), partitions: 1, configs }, false, now_ms()).unwrap();
        ctx
    }

    fn overrides(ctx: &BrokerContext) -> BTreeMap<String, String> {
        ctx.topics.get(TOPIC).unwrap().configs.clone()
    }

    #[test]
    fn set_delete_append_subtract_change_only_the_named_keys() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = with_topic(dir.path(), &[("retention.ms", "1000"), ("segment.ms", "2000")]);
        let ops = [("retention.ms", SET, Some("3000")), ("segment.ms", DELETE, None), ("cleanup.policy", APPEND, Some("compact"))];
        assert_eq!(answer(&ctx, resource(RESOURCE_TOPIC, TOPIC, &ops)), (0, None));
        let expected = [("cleanup.policy", "delete,compact"), ("retention.ms", "3000")];
        assert_eq!(overrides(&ctx), expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        let topic = ctx.topics.get(TOPIC).unwrap();
        assert!(topic.settings.cleanup_policy.compact && topic.settings.cleanup_policy.delete);
        assert!(topic.partitions[0].with_log(|log| log.config().compact));

        assert_eq!(answer(&ctx, resource(RESOURCE_TOPIC, TOPIC, &[("cleanup.policy", SUBTRACT, Some("delete"))])), (0, None));
        assert_eq!(overrides(&ctx)["cleanup.policy"], "compact");
        // Retention no longer applies to a compact-only topic.
        assert_eq!(ctx.topics.get(TOPIC).unwrap().partitions[0].with_log(|log| log.config().retention_ms), -1);
    }

    #[test]
    fn a_deleted_key_is_described_with_the_brokers_value_again() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = with_topic(dir.path(), &[("retention.ms", "1000")]);
        assert_eq!(answer(&ctx, resource(RESOURCE_TOPIC, TOPIC, &[("retention.ms", DELETE, None)])), (0, None));
        let entries = describe_topic_configs(&ctx.config, &overrides(&ctx));
        let retention = entries.iter().find(|entry| entry.name == "retention.ms").unwrap();
        assert_eq!(retention.value.as_deref(), Some("604800000"));
        assert_eq!(retention.source, ConfigSource::DefaultConfig);
    }

    #[test]
    fn validate_only_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = with_topic(dir.path(), &[]);
        let request = IncrementalAlterConfigsRequest::default()
            .with_resources(vec![resource(RESOURCE_TOPIC, TOPIC, &[("retention.ms", SET, Some("5"))])])
            .with_validate_only(true);
        let session = crate::handlers::authorize::testing::session(None);
        assert_eq!(handle(&ctx, request, &Caller { client_id: "test", session: &session }).responses[0].error_code, 0);
        assert!(overrides(&ctx).is_empty());
    }

    #[test]
    fn topic_errors_come_in_kafkas_order_and_words() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = with_topic(dir.path(), &[]);
        let cases = [
            (resource(RESOURCE_TOPIC, "absent", &[("retention.ms", SET, Some("5"))]), refused(3, "The topic 'absent' does not exist.")),
            (resource(RESOURCE_TOPIC, "absent", &[("retention.ms", DELETE, None)]), refused(3, "The topic 'absent' does not exist.")),
            (resource(RESOURCE_TOPIC, TOPIC, &[("foo.bar", DELETE, None)]), (0, None)),
            (resource(RESOURCE_TOPIC, TOPIC, &[("foo.bar", SET, Some("1"))]), refused(40, "Unknown topic config name: foo.bar")),
            (
                resource(RESOURCE_TOPIC, TOPIC, &[("retention.ms", APPEND, Some("5"))]),
                refused(40, "Can't APPEND to key retention.ms because its type is not LIST."),
            ),
            (
                resource(RESOURCE_TOPIC, "absent", &[("foo.bar", SUBTRACT, Some("5"))]),
                refused(40, "Can't SUBTRACT to key foo.bar because its type is not LIST."),
            ),
            (
                resource(RESOURCE_TOPIC, TOPIC, &[("cleanup.policy", APPEND, Some("bogus"))]),
                refused(40, "Invalid value bogus for configuration cleanup.policy: String must be one of: compact, delete"),
            ),
            (
                resource(RESOURCE_TOPIC, TOPIC, &[("cleanup.policy", APPEND, Some(""))]),
                refused(40, "Invalid value  for configuration cleanup.policy: String must be one of: compact, delete"),
            ),
            (
                resource(RESOURCE_TOPIC, TOPIC, &[("segment.bytes", SET, Some("1000"))]),
                refused(40, "Invalid value 1000 for configuration segment.bytes: Value must be at least 1048576"),
            ),
            (
                resource(RESOURCE_TOPIC, TOPIC, &[("min.compaction.lag.ms", SET, Some("10")), ("max.compaction.lag.ms", SET, Some("5"))]),
                refused(40, "conflict topic config setting min.compaction.lag.ms (10) > max.compaction.lag.ms (5)"),
            ),
            (resource(RESOURCE_TOPIC, TOPIC, &[("retention.ms", SET, None)]), refused(42, "Null value not supported for : retention.ms")),
            (
                resource(RESOURCE_TOPIC, TOPIC, &[("retention.ms", SET, Some("1")), ("retention.ms", DELETE, None)]),
                refused(42, "Error due to duplicate config keys"),
            ),
            (resource(RESOURCE_TOPIC, TOPIC, &[("retention.ms", 7, Some("1"))]), refused(42, "Unknown operations type 7")),
            (resource(RESOURCE_TOPIC, "", &[("retention.ms", SET, Some("1"))]), refused(42, "Default topic resources are not allowed.")),
            (
                resource(RESOURCE_TOPIC, "bad name", &[("retention.ms", DELETE, None)]),
                refused(
                    17,
                    "Topic name is invalid: 'bad name' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'",
                ),
            ),
            (resource(32, "group", &[]), refused(42, "Unknown resource type 32")),
        ];
        for (request, expected) in cases {
            assert_eq!(answer(&ctx, request), expected);
        }
        assert!(overrides(&ctx).is_empty());
    }

    #[test]
    fn broker_resources_refuse_every_key_set_and_accept_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context(dir.path());
        let cases = [
            (resource(RESOURCE_BROKER, "1", &[("log.dirs", DELETE, None)]), (0, None)),
            (resource(RESOURCE_BROKER, "1", &[]), (0, None)),
            (
                resource(RESOURCE_BROKER, "1", &[("log.retention.ms", SET, Some("1")), ("log.dirs", DELETE, None)]),
                refused(42, "Cannot update these configs dynamically: Set(log.retention.ms)"),
            ),
            (
                resource(RESOURCE_BROKER, "1", &[("log.cleanup.policy", SUBTRACT, Some("delete"))]),
                refused(42, "Cannot update these configs dynamically: Set(log.cleanup.policy)"),
            ),
            (
                resource(RESOURCE_BROKER, "1", &[("log.dirs", APPEND, Some("/y"))]),
                refused(40, "Config value append is not allowed for config key: log.dirs"),
            ),
            (
                resource(RESOURCE_BROKER, "1", &[("listeners", SUBTRACT, Some("x"))]),
                refused(40, "Config value subtract is not allowed for config key: listeners"),
            ),
            (resource(RESOURCE_BROKER, "1", &[("foo.bar", APPEND, Some("x"))]), refused(40, "Unknown config name: foo.bar")),
            (resource(RESOURCE_BROKER, "1", &[("log.retention.ms", 9, Some("1"))]), refused(42, "Unknown operations type 9")),
            (
                resource(RESOURCE_BROKER, "2", &[("log.retention.ms", SET, Some("1"))]),
                refused(42, "Unexpected broker id, expected 1, but received 2"),
            ),
        ];
        for (request, expected) in cases {
            assert_eq!(answer(&ctx, request), expected);
        }
    }

    #[test]
    fn broker_loggers_are_checked_as_kafka_checks_them_and_none_exists() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context(dir.path());
        let logger = RESOURCE_BROKER_LOGGER;
        let cases = [
            (resource(logger, "1", &[]), (0, None)),
            (resource(logger, "1", &[("root", SET, Some("INFO"))]), refused(40, "Logger root does not exist!")),
            (resource(logger, "1", &[("root", DELETE, None)]), refused(40, "Logger root does not exist!")),
            (
                resource(logger, "1", &[("root", APPEND, Some("INFO"))]),
                refused(42, "APPEND operation is not allowed for the BROKER_LOGGER resource"),
            ),
            (
                resource(logger, "1", &[("root", 9, Some("INFO"))]),
                refused(42, "Unknown operation type 9 is not allowed for the BROKER_LOGGER resource"),
            ),
            (resource(logger, "1", &[("root", SET, None)]), refused(42, "Null value not supported for : root")),
            (resource(logger, "2", &[("root", SET, Some("INFO"))]), refused(42, "Unexpected node id. Expected 1, but received 2")),
            (resource(logger, "x", &[("root", SET, Some("INFO"))]), refused(42, "Node id must be an integer, but it is: x")),
        ];
        for (request, expected) in cases {
            assert_eq!(answer(&ctx, request), expected);
        }
    }
}
