//! AlterConfigs (the legacy, non-incremental API): each TOPIC resource's configs replace the
//! topic's whole set of overrides, so a key left out goes back to the broker's value.
//!
//! Kafka's order: repeated resources; repeated keys and null values; the resource type; for a
//! topic its name, then the new set validated as a whole, then whether the topic exists. Every
//! resource gets its own answer, in request order. Kafka 4.1 fails to answer a request that
//! repeats a resource (its response map throws); Runnel answers each copy INVALID_REQUEST, as
//! Kafka's broker intends. BROKER_LOGGER is not a resource type of this API, as in Kafka.
//! Authorization comes after those checks, as Kafka's controller makes it: ALTER_CONFIGS on
//! the topic (TOPIC_AUTHORIZATION_FAILED) or on the cluster for a broker
//! (CLUSTER_AUTHORIZATION_FAILED).

use std::collections::BTreeMap;

use kafka_protocol::messages::alter_configs_request::AlterConfigsResource;
use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse};
use runnel_protocol::kafka_protocol;

use super::config_changes::{response_error, 
    may_alter_cluster, may_alter_topic,
    check_broker_name, check_keys, check_topic_name, duplicate_resource, duplicated, invalid_config,
    refuse_broker_keys, topic_refusal, unknown_resource_type, Outcome, RESOURCE_BROKER, RESOURCE_TOPIC,
};
use crate::config::topic::validate_topic_configs_for;
use super::authorize::Authz;
use crate::context::BrokerContext;
use crate::session::Caller;

pub fn handle(ctx: &BrokerContext, request: AlterConfigsRequest, caller: &Caller<'_>) -> AlterConfigsResponse {
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
    AlterConfigsResponse::default().with_responses(responses)
}

fn alter(ctx: &BrokerContext, authz: &Authz<'_>, resource: &AlterConfigsResource, validate_only: bool) -> Outcome {
    let names: Vec<&str> = resource.configs.iter().map(|config| config.name.as_str()).collect();
    let nulls = resource.configs.iter().filter(|config| config.value.is_none()).map(|config| config.name.as_str());
    check_keys(&names, nulls)?;
    let name = resource.resource_name.as_str();
    match resource.resource_type {
        RESOURCE_TOPIC => {
            may_alter_topic(authz, name)?;
            let configs: BTreeMap<String, String> = resource
                .configs
                .iter()
                .filter_map(|config| Some((config.name.to_string(), config.value.as_ref()?.to_string())))
                .collect();
            ctx.topics
                .alter_configs(name, validate_only, |_current| {
                    check_topic_name(name)?;
                    validate_topic_configs_for(&ctx.config, &configs).map_err(invalid_config)?;
                    Ok(configs)
                })
                .map_err(|error| topic_refusal(name, error))
        }
        RESOURCE_BROKER => {
            check_broker_name(ctx, name)?;
            refuse_broker_keys(&names)?;
            may_alter_cluster(authz)
        }
        other => Err(unknown_resource_type(other)),
    }
}

#[cfg(test)]
mod tests {
    use kafka_protocol::protocol::StrBytes;
    use kafka_protocol::error::ResponseError;
    use kafka_protocol::messages::alter_configs_request::AlterableConfig;

    use super::*;
    use crate::context::testing::context;
    use crate::context::now_ms;
    use crate::topics::NewTopic;

    const TOPIC: &str = "legacy";
    /// Not a resource type of the legacy API.
    const RESOURCE_BROKER_LOGGER_CODE: i8 = 8;

    fn resource(resource_type: i8, name: &str, pairs: &[(&str, Option<&str>)]) -> AlterConfigsResource {
        let configs = pairs
            .iter()
            .map(|(key, value)| {
                AlterableConfig::default()
                    .with_name(StrBytes::from_string(key.to_string()))
                    .with_value(value.map(|v| StrBytes::from_string(v.to_string())))
            })
            .collect();
        AlterConfigsResource::default()
            .with_resource_type(resource_type)
            .with_resource_name(StrBytes::from_string(name.to_string()))
            .with_configs(configs)
    }

    fn answers(ctx: &BrokerContext, resources: Vec<AlterConfigsResource>, validate_only: bool) -> Vec<(i16, Option<String>)> {
        let request = AlterConfigsRequest::default().with_resources(resources).with_validate_only(validate_only);
        let session = crate::handlers::authorize::testing::session(None);
        handle(ctx, request, &Caller { client_id: "test", session: &session })
            .responses
            .into_iter()
            .map(|r| (r.error_code, r.error_message.map(|m| m.to_string())))
            .collect()
    }

    fn with_topic(dir: &std::path::Path, configs: &[(&str, &str)]) -> BrokerContext {
        let ctx = context(dir);
        let configs = configs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        ctx.topics.create(NewTopic { name: TOPIC.into(), partitions: 2, configs }, false, now_ms()).unwrap();
        ctx
    }

    fn overrides(ctx: &BrokerContext) -> BTreeMap<String, String> {
        ctx.topics.get(TOPIC).unwrap().configs.clone()
    }

    #[test]
    fn legacy_alter_replaces_every_override_and_reaches_the_live_logs() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = with_topic(dir.path(), &[("retention.ms", "1000"), ("segment.ms", "2000")]);
        let answer = answers(&ctx, vec![resource(RESOURCE_TOPIC, TOPIC, &[("max.message.bytes", Some("4096"))])], false);
        assert_eq!(answer, vec![(0, None)]);
        assert_eq!(overrides(&ctx), BTreeMap::from([("max.message.bytes".to_string(), "4096".to_string())]));
        let topic = ctx.topics.get(TOPIC).unwrap();
        assert_eq!(topic.settings.max_message_bytes, 4096);
        assert_eq!(topic.settings.retention_ms, ctx.config.log_retention_ms);
        for partition in &topic.partitions {
            assert_eq!(partition.with_log(|log| log.config().retention_ms), ctx.config.log_retention_ms);
        }
    }

    #[test]
    fn legacy_alter_survives_reopening_the_registry() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = with_topic(dir.path(), &[]);
        assert_eq!(answers(&ctx, vec![resource(RESOURCE_TOPIC, TOPIC, &[("retention.ms", Some("5000"))])], false), vec![(0, None)]);
        ctx.topics.close_all();
        drop(ctx);
        let reopened = context(dir.path());
        let topic = reopened.topics.get(TOPIC).unwrap();
        assert_eq!(topic.configs.get("retention.ms").map(String::as_str), Some("5000"));
        assert_eq!(topic.partitions[0].with_log(|log| log.config().retention_ms), 5000);
    }

    #[test]
    fn validate_only_answers_as_a_real_alter_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = with_topic(dir.path(), &[("retention.ms", "1000")]);
        let good = resource(RESOURCE_TOPIC, TOPIC, &[("retention.ms", Some("5"))]);
        assert_eq!(answers(&ctx, vec![good], true), vec![(0, None)]);
        let bad = resource(RESOURCE_TOPIC, TOPIC, &[("retention.ms", Some("x"))]);
        assert_eq!(answers(&ctx, vec![bad], true)[0].0, ResponseError::InvalidConfig.code());
        assert_eq!(overrides(&ctx), BTreeMap::from([("retention.ms".to_string(), "1000".to_string())]));
    }

    #[test]
    fn topic_errors_come_in_kafkas_order_and_words() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = with_topic(dir.path(), &[]);
        let cases = [
            (resource(RESOURCE_TOPIC, "absent", &[("retention.ms", Some("1"))]), 3, "The topic 'absent' does not exist."),
            // Configs are validated before existence is checked.
            (resource(RESOURCE_TOPIC, "absent", &[("retention.mss", Some("1"))]), 40, "Unknown topic config name: retention.mss"),
            (
                resource(RESOURCE_TOPIC, TOPIC, &[("retention.ms", Some("abc"))]),
                40,
                "Invalid value abc for configuration retention.ms: Not a number of type LONG",
            ),
            (resource(RESOURCE_TOPIC, TOPIC, &[("retention.ms", None)]), 42, "Null value not supported for : retention.ms"),
            (
                resource(RESOURCE_TOPIC, TOPIC, &[("retention.ms", Some("1")), ("retention.ms", Some("2"))]),
                42,
                "Error due to duplicate config keys",
            ),
            (resource(RESOURCE_TOPIC, "", &[("retention.ms", Some("1"))]), 42, "Default topic resources are not allowed."),
            (resource(RESOURCE_TOPIC, "..", &[("retention.mss", Some("1"))]), 17, "Topic name is invalid: '..' is not allowed"),
            (resource(RESOURCE_BROKER_LOGGER_CODE, "1", &[("root", Some("INFO"))]), 42, "Unknown resource type 8"),
            (resource(99, "x", &[]), 42, "Unknown resource type 99"),
        ];
        for (request, code, message) in cases {
            let answer = answers(&ctx, vec![request], false);
            assert_eq!(answer, vec![(code, Some(message.to_string()))]);
        }
        assert!(overrides(&ctx).is_empty());
    }

    #[test]
    fn broker_keys_are_refused_as_kafka_refuses_non_dynamic_ones() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context(dir.path());
        let cases = [
            (resource(RESOURCE_BROKER, "1", &[]), 0, None),
            (
                resource(RESOURCE_BROKER, "1", &[("log.dirs", Some("/x"))]),
                42,
                Some("Cannot update these configs dynamically: Set(log.dirs)"),
            ),
            (
                resource(RESOURCE_BROKER, "", &[("log.retention.ms", Some("1"))]),
                42,
                Some("Cannot update these configs dynamically: Set(log.retention.ms)"),
            ),
            (resource(RESOURCE_BROKER, "2", &[]), 42, Some("Unexpected broker id, expected 1, but received 2")),
            (resource(RESOURCE_BROKER, "x", &[]), 42, Some("Node id must be an integer, but it is: x")),
        ];
        for (request, code, message) in cases {
            assert_eq!(answers(&ctx, vec![request], false), vec![(code, message.map(str::to_string))]);
        }
    }

    #[test]
    fn every_copy_of_a_repeated_resource_is_refused_and_the_rest_answered() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = with_topic(dir.path(), &[]);
        let change = |value| resource(RESOURCE_TOPIC, TOPIC, &[("retention.ms", Some(value))]);
        let answer = answers(&ctx, vec![change("1"), resource(RESOURCE_BROKER, "1", &[]), change("2")], false);
        let repeated = (42, Some("Each resource must appear at most once.".to_string()));
        assert_eq!(answer, vec![repeated.clone(), (0, None), repeated]);
        assert!(overrides(&ctx).is_empty());
    }
}
