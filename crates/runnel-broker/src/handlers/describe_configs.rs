//! DescribeConfigs for topics and this broker, with sources, synonyms and documentation.
//! A topic needs DESCRIBE_CONFIGS on it, a broker or broker logger DESCRIBE_CONFIGS on the
//! cluster; a denied resource answers TOPIC_ / CLUSTER_AUTHORIZATION_FAILED and no configs.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};
use kafka_protocol::protocol::StrBytes;
use runnel_protocol::kafka_protocol;

use super::authorize::Authz;
use crate::acl::AclOperation::DescribeConfigs;
use crate::config::describe::{describe_broker_configs, describe_topic_configs, ConfigEntry};
use crate::context::BrokerContext;
use crate::session::Caller;

const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;
const RESOURCE_BROKER_LOGGER: i8 = 8;

pub fn handle(ctx: &BrokerContext, request: DescribeConfigsRequest, version: i16, caller: &Caller<'_>) -> DescribeConfigsResponse {
    let authz = Authz::new(ctx, caller);
    let include_synonyms = request.include_synonyms;
    let include_documentation = version >= 3 && request.include_documentation;
    let results = request
        .resources
        .into_iter()
        .map(|resource| {
            let result = DescribeConfigsResult::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name.clone());
            let denied = match resource.resource_type {
                RESOURCE_TOPIC if !authz.topic(DescribeConfigs, &resource.resource_name) => {
                    Some(ResponseError::TopicAuthorizationFailed)
                }
                RESOURCE_BROKER | RESOURCE_BROKER_LOGGER if !authz.cluster(DescribeConfigs) => {
                    Some(ResponseError::ClusterAuthorizationFailed)
                }
                _ => None,
            };
            if let Some(error) = denied {
                return result
                    .with_error_code(error.code())
                    .with_error_message(Some(StrBytes::from_string(error.to_string())));
            }
            let entries = match resource.resource_type {
                RESOURCE_TOPIC => match ctx.topics.get(&resource.resource_name) {
                    Some(topic) => Ok(describe_topic_configs(&ctx.config, &topic.configs)),
                    None => Err((ResponseError::UnknownTopicOrPartition, format!(
                        "Topic '{}' does not exist.",
                        resource.resource_name.as_str()
                    ))),
                },
                RESOURCE_BROKER => match resource.resource_name.as_str() {
                    // The empty name is the cluster-wide dynamic default, which Runnel has none of.
                    "" => Ok(Vec::new()),
                    name if name == ctx.node_id.to_string() => Ok(describe_broker_configs(&ctx.config)),
                    name => Err((ResponseError::InvalidRequest, format!("Unexpected broker id, expected {} but received {name}", ctx.node_id))),
                },
                RESOURCE_BROKER_LOGGER => Ok(Vec::new()),
                other => Err((ResponseError::InvalidRequest, format!("Unsupported resource type {other}"))),
            };
            match entries {
                Ok(entries) => {
                    let keys = resource.configuration_keys.as_deref();
                    let configs = entries
                        .into_iter()
                        .filter(|entry| keys.is_none_or(|keys| keys.iter().any(|k| k.as_str() == entry.name)))
                        .map(|entry| encode_entry(entry, include_synonyms, include_documentation, version))
                        .collect();
                    result.with_configs(configs)
                }
                Err((error, message)) => result
                    .with_error_code(error.code())
                    .with_error_message(Some(StrBytes::from_string(message))),
            }
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

fn encode_entry(
    entry: ConfigEntry,
    include_synonyms: bool,
    include_documentation: bool,
    version: i16,
) -> DescribeConfigsResourceResult {
    let synonyms = if include_synonyms {
        entry
            .synonyms
            .into_iter()
            .map(|synonym| {
                DescribeConfigsSynonym::default()
                    .with_name(StrBytes::from_string(synonym.name))
                    .with_value(synonym.value.map(StrBytes::from_string))
                    .with_source(synonym.source.code())
            })
            .collect()
    } else {
        Vec::new()
    };
    DescribeConfigsResourceResult::default()
        .with_name(StrBytes::from_string(entry.name))
        .with_value(entry.value.map(StrBytes::from_string))
        .with_read_only(entry.read_only)
        .with_config_source(entry.source.code())
        .with_is_sensitive(entry.is_sensitive)
        .with_synonyms(synonyms)
        .with_config_type(if version >= 3 { entry.config_type.code() } else { 0 })
        .with_documentation(if include_documentation { entry.documentation.map(StrBytes::from_string) } else { None })
}
