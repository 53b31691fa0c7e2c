//! `runnel topic create|list|describe|alter|delete`.
//!
//! Owns: the topic verbs' flags and their output. Text output follows kafka-topics.sh
//! (`describe` prints its `Topic: .. TopicId: .. PartitionCount: ..` block); JSON output
//! carries the same facts as one document.

use std::collections::BTreeMap;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use runnel_client::admin::{Admin, AlterConfigOp, ConfigResource, NewTopic, TopicDescription};
use serde_json::json;

use super::output::{self, print, print_json};
use super::props::parse_key_values;
use super::{Format, GlobalArgs};

const TOPIC_ALREADY_EXISTS: i16 = 36;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  runnel topic create orders --partitions 6 --config cleanup.policy=compact\n  \
    runnel topic list\n  runnel topic describe orders\n  runnel topic alter orders --partitions 12\n  \
    runnel topic delete orders")]
pub struct TopicArgs {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: TopicCommand,
}

#[derive(Subcommand, Debug)]
pub enum TopicCommand {
    /// Create topics.
    #[command(after_help = "Examples:\n  runnel topic create orders\n  \
        runnel topic create orders payments --partitions 6 --replication-factor 1\n  \
        runnel topic create events -c cleanup.policy=compact -c retention.ms=86400000 --if-not-exists")]
    Create(CreateArgs),
    /// List topic names, internal topics included unless --exclude-internal.
    #[command(after_help = "Examples:\n  runnel topic list\n  runnel topic list --exclude-internal --format json")]
    List(ListArgs),
    /// Show partitions, leaders, replicas, in-sync replicas and overridden configs.
    #[command(after_help = "Examples:\n  runnel topic describe orders\n  runnel topic describe   # every topic\n  \
        runnel topic describe orders --format json")]
    Describe(DescribeArgs),
    /// Add partitions, set or remove topic config overrides.
    #[command(after_help = "Examples:\n  runnel topic alter orders --partitions 12\n  \
        runnel topic alter orders --config retention.ms=3600000 --delete-config cleanup.policy")]
    Alter(AlterArgs),
    /// Delete topics.
    #[command(
        after_help = "Examples:\n  runnel topic delete orders\n  runnel topic delete orders payments --if-exists"
    )]
    Delete(DeleteArgs),
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Topics to create.
    #[arg(value_name = "TOPIC", required = true)]
    pub topics: Vec<String>,
    /// Partitions per topic [default: the broker's num.partitions].
    #[arg(short = 'p', long, value_name = "N")]
    pub partitions: Option<i32>,
    /// Replicas per partition [default: the broker's default.replication.factor].
    #[arg(short = 'r', long = "replication-factor", value_name = "N")]
    pub replication_factor: Option<i16>,
    /// A topic config override; repeatable.
    #[arg(short = 'c', long = "config", value_name = "KEY=VALUE")]
    pub configs: Vec<String>,
    /// Succeed quietly for topics that already exist.
    #[arg(long)]
    pub if_not_exists: bool,
    /// Ask the broker to check the request without creating anything.
    #[arg(long)]
    pub validate_only: bool,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Leave out internal topics (__consumer_offsets).
    #[arg(long)]
    pub exclude_internal: bool,
}

#[derive(Args, Debug)]
pub struct DescribeArgs {
    /// Topics to describe [default: every topic].
    #[arg(value_name = "TOPIC")]
    pub topics: Vec<String>,
    /// Leave out internal topics when describing every topic.
    #[arg(long)]
    pub exclude_internal: bool,
}

#[derive(Args, Debug)]
pub struct AlterArgs {
    /// The topic to change.
    #[arg(value_name = "TOPIC")]
    pub topic: String,
    /// The new partition count (Kafka only ever adds partitions).
    #[arg(short = 'p', long, value_name = "N")]
    pub partitions: Option<i32>,
    /// Set a topic config override; repeatable.
    #[arg(short = 'c', long = "config", value_name = "KEY=VALUE")]
    pub configs: Vec<String>,
    /// Remove a topic config override; repeatable.
    #[arg(long = "delete-config", value_name = "KEY")]
    pub delete_configs: Vec<String>,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Topics to delete.
    #[arg(value_name = "TOPIC", required = true)]
    pub topics: Vec<String>,
    /// Succeed quietly for topics that do not exist.
    #[arg(long)]
    pub if_exists: bool,
}

pub async fn run(args: TopicArgs) -> anyhow::Result<()> {
    let format = args.global.format;
    args.command.check()?;
    let admin = args.global.admin().await?;
    match args.command {
        TopicCommand::Create(create) => create_topics(&admin, create, format).await,
        TopicCommand::List(list) => list_topics(&admin, list, format).await,
        TopicCommand::Describe(describe) => describe_topics(&admin, describe, format).await,
        TopicCommand::Alter(alter) => alter_topic(&admin, alter, format).await,
        TopicCommand::Delete(delete) => delete_topics(&admin, delete, format).await,
    }
}

impl TopicCommand {
    /// Refuses a malformed command line before any connection is made.
    fn check(&self) -> anyhow::Result<()> {
        match self {
            TopicCommand::Create(create) => parse_key_values("--config", &create.configs).map(drop),
            TopicCommand::Alter(alter) => {
                let sets = parse_key_values("--config", &alter.configs)?;
                if alter.partitions.is_none() && sets.is_empty() && alter.delete_configs.is_empty() {
                    bail!("nothing to alter: give --partitions, --config or --delete-config");
                }
                Ok(())
            }
            TopicCommand::List(_) | TopicCommand::Describe(_) | TopicCommand::Delete(_) => Ok(()),
        }
    }
}

/// Fails with every collected error on one line, after the successes were printed.
fn finish(errors: Vec<String>) -> anyhow::Result<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        bail!("{}", errors.join("; "))
    }
}

async fn create_topics(admin: &Admin, args: CreateArgs, format: Format) -> anyhow::Result<()> {
    let configs = parse_key_values("--config", &args.configs)?;
    let topics: Vec<NewTopic> = args
        .topics
        .iter()
        .map(|name| NewTopic {
            name: name.clone(),
            partitions: args.partitions,
            replication_factor: args.replication_factor,
            configs: configs.clone(),
        })
        .collect();
    let results = admin.create_topics(&topics, args.validate_only).await?;
    let (mut text, mut json, mut errors) = (String::new(), Vec::new(), Vec::new());
    for name in &args.topics {
        let Some(result) = results.get(name) else { continue };
        match result {
            Ok(created) => {
                text += &if args.validate_only {
                    format!("Topic {name} is valid (not created: --validate-only).\n")
                } else {
                    format!("Created topic {name}.\n")
                };
                json.push(json!({
                    "topic": name,
                    "status": if args.validate_only { "valid" } else { "created" },
                    "topic_id": created.topic_id.as_ref().map(output::topic_id),
                    "partitions": created.partitions,
                    "replication_factor": created.replication_factor,
                }));
            }
            Err(error) if args.if_not_exists && error.code() == Some(TOPIC_ALREADY_EXISTS) => {
                json.push(json!({ "topic": name, "status": "exists" }));
            }
            Err(error) => errors.push(error.to_string()),
        }
    }
    match format {
        Format::Text => print(&text)?,
        Format::Json => print_json(&json!(json))?,
    }
    finish(errors)
}

async fn list_topics(admin: &Admin, args: ListArgs, format: Format) -> anyhow::Result<()> {
    let topics = admin.list_topics(!args.exclude_internal).await?;
    match format {
        Format::Text => print(&topics.iter().map(|t| format!("{}\n", t.name)).collect::<String>()),
        Format::Json => print_json(&json!(topics
            .iter()
            .map(|t| json!({
                "topic": t.name,
                "topic_id": output::topic_id(&t.topic_id),
                "internal": t.internal,
                "partitions": t.partitions,
                "replication_factor": t.replication_factor,
            }))
            .collect::<Vec<_>>())),
    }
}

async fn describe_topics(admin: &Admin, args: DescribeArgs, format: Format) -> anyhow::Result<()> {
    let names = if args.topics.is_empty() {
        admin.list_topics(!args.exclude_internal).await?.into_iter().map(|t| t.name).collect()
    } else {
        args.topics.clone()
    };
    let descriptions = admin.describe_topics(&names).await?;
    let resources: Vec<ConfigResource> = names.iter().map(ConfigResource::topic).collect();
    let configs = admin.describe_configs(&resources, false, false).await?;
    let (mut text, mut json, mut errors) = (String::new(), Vec::new(), Vec::new());
    for name in &names {
        let description = match descriptions.get(name) {
            Some(Ok(description)) => description,
            Some(Err(error)) if error.code() == Some(UNKNOWN_TOPIC_OR_PARTITION) => {
                errors.push(format!("Topic '{name}' does not exist"));
                continue;
            }
            Some(Err(error)) => {
                errors.push(error.to_string());
                continue;
            }
            None => continue,
        };
        // Kafka's Configs: every value not at its built-in default, in the broker's order.
        let overrides: Vec<(String, String)> = match configs.get(&ConfigResource::topic(name)) {
            Some(Ok(entries)) => entries
                .iter()
                .filter(|e| !e.is_default())
                .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
                .collect(),
            Some(Err(error)) => {
                errors.push(error.to_string());
                continue;
            }
            None => Vec::new(),
        };
        text += &describe_text(description, &overrides);
        json.push(describe_json(description, &overrides));
    }
    match format {
        Format::Text => print(&text)?,
        Format::Json => print_json(&json!(json))?,
    }
    finish(errors)
}

/// kafka-topics.sh --describe's block for one topic.
fn describe_text(topic: &TopicDescription, overrides: &[(String, String)]) -> String {
    let configs = overrides.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
    let mut out = format!("Topic: {}", topic.name);
    if !topic.topic_id.is_nil() {
        out += &format!("\tTopicId: {}", output::topic_id(&topic.topic_id));
    }
    out += &format!(
        "\tPartitionCount: {}\tReplicationFactor: {}\tConfigs: {configs}\n",
        topic.partitions.len(),
        topic.replication_factor()
    );
    let ids = |ids: &[i32]| ids.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    for p in &topic.partitions {
        let leader = p.leader.map_or_else(|| "none".to_string(), |l| l.to_string());
        out += &format!(
            "\tTopic: {}\tPartition: {}\tLeader: {leader}\tReplicas: {}\tIsr: {}\n",
            topic.name,
            p.partition,
            ids(&p.replicas),
            ids(&p.isr)
        );
    }
    out
}

fn describe_json(topic: &TopicDescription, overrides: &[(String, String)]) -> serde_json::Value {
    json!({
        "topic": topic.name,
        "topic_id": output::topic_id(&topic.topic_id),
        "internal": topic.internal,
        "partition_count": topic.partitions.len(),
        "replication_factor": topic.replication_factor(),
        "configs": overrides.iter().cloned().collect::<BTreeMap<_, _>>(),
        "partitions": topic.partitions.iter().map(|p| json!({
            "partition": p.partition,
            "leader": p.leader,
            "leader_epoch": p.leader_epoch,
            "replicas": p.replicas,
            "isr": p.isr,
        })).collect::<Vec<_>>(),
    })
}

async fn alter_topic(admin: &Admin, args: AlterArgs, format: Format) -> anyhow::Result<()> {
    let sets = parse_key_values("--config", &args.configs)?;
    let mut text = String::new();
    let mut json = serde_json::Map::new();
    json.insert("topic".into(), json!(args.topic));
    if let Some(count) = args.partitions {
        let totals = BTreeMap::from([(args.topic.clone(), count)]);
        let results = admin.create_partitions(&totals, false).await?;
        if let Some(Err(error)) = results.get(&args.topic) {
            bail!("{error}");
        }
        text += &format!("Topic {} now has {count} partitions.\n", args.topic);
        json.insert("partitions".into(), json!(count));
    }
    if !sets.is_empty() || !args.delete_configs.is_empty() {
        let mut ops: Vec<AlterConfigOp> = sets.iter().map(|(k, v)| AlterConfigOp::Set(k.clone(), v.clone())).collect();
        ops.extend(args.delete_configs.iter().map(|k| AlterConfigOp::Delete(k.clone())));
        let resource = ConfigResource::topic(&args.topic);
        let results = admin
            .incremental_alter_configs(&BTreeMap::from([(resource.clone(), ops)]), false)
            .await
            .context("altering configs")?;
        if let Some(Err(error)) = results.get(&resource) {
            bail!("{error}");
        }
        text += &format!("Completed updating config for topic {}.\n", args.topic);
        json.insert("set".into(), json!(sets));
        json.insert("deleted".into(), json!(args.delete_configs));
    }
    match format {
        Format::Text => print(&text),
        Format::Json => print_json(&serde_json::Value::Object(json)),
    }
}

async fn delete_topics(admin: &Admin, args: DeleteArgs, format: Format) -> anyhow::Result<()> {
    let results = admin.delete_topics(&args.topics).await?;
    let (mut text, mut json, mut errors) = (String::new(), Vec::new(), Vec::new());
    for name in &args.topics {
        match results.get(name) {
            Some(Ok(())) => {
                text += &format!("Deleted topic {name}.\n");
                json.push(json!({ "topic": name, "status": "deleted" }));
            }
            Some(Err(error)) if args.if_exists && error.code() == Some(UNKNOWN_TOPIC_OR_PARTITION) => {
                json.push(json!({ "topic": name, "status": "absent" }));
            }
            Some(Err(error)) => errors.push(error.to_string()),
            None => {}
        }
    }
    match format {
        Format::Text => print(&text)?,
        Format::Json => print_json(&json!(json))?,
    }
    finish(errors)
}

#[cfg(test)]
mod tests {
    use runnel_client::admin::PartitionDescription;

    use super::*;

    #[test]
    fn describe_block_is_kafka_topics_layout() {
        let topic = TopicDescription {
            name: "orders".into(),
            topic_id: uuid::Uuid::from_u64_pair(1, 1),
            internal: false,
            partitions: vec![
                PartitionDescription {
                    partition: 0,
                    leader: Some(1),
                    leader_epoch: 0,
                    replicas: vec![1, 2],
                    isr: vec![1, 2],
                    offline_replicas: vec![],
                },
                PartitionDescription {
                    partition: 1,
                    leader: None,
                    leader_epoch: 0,
                    replicas: vec![2, 1],
                    isr: vec![],
                    offline_replicas: vec![],
                },
            ],
        };
        let overrides = vec![
            ("cleanup.policy".to_string(), "compact".to_string()),
            ("min.insync.replicas".to_string(), "1".to_string()),
        ];
        assert_eq!(
            describe_text(&topic, &overrides),
            "Topic: orders\tTopicId: AAAAAAAAAAEAAAAAAAAAAQ\tPartitionCount: 2\tReplicationFactor: 2\t\
             Configs: cleanup.policy=compact,min.insync.replicas=1\n\
             \tTopic: orders\tPartition: 0\tLeader: 1\tReplicas: 1,2\tIsr: 1,2\n\
             \tTopic: orders\tPartition: 1\tLeader: none\tReplicas: 2,1\tIsr: \n"
        );
    }
}
