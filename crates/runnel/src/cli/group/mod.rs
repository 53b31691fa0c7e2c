//! `runnel group list|describe|reset-offsets|delete|delete-offsets`: consumer groups as
//! kafka-consumer-groups.sh shows and changes them.
//!
//! Owns: the group verbs' flags, `list`, `delete` and `delete-offsets`, and the `--topic
//! t[:p,...]` parsing they share with `reset-offsets`. `describe` (with its LAG-TIME column)
//! is in `describe`, `reset-offsets` in `reset`. Text output follows Kafka's tool line for
//! line; where Kafka prints an error and exits 0, this prints `runnel: <error>` and fails.

mod describe;
mod history;
mod reset;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::bail;
use clap::{ArgGroup, Args, Subcommand};
use runnel_client::admin::{Admin, TopicPartition};
use serde_json::json;

use super::output::{print, print_json, Column, Table, MISSING};
use super::{Format, GlobalArgs};

/// ListGroups lists every protocol; Kafka's tool shows consumer groups: protocol type
/// `consumer`, or empty for a group that only ever stored offsets.
const CONSUMER_PROTOCOL_TYPES: [&str; 2] = ["consumer", ""];
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  runnel group list --state\n  runnel group describe --group billing\n  \
    runnel group reset-offsets --group billing --topic orders --to-earliest --execute\n  \
    runnel group delete --group billing")]
pub struct GroupArgs {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: GroupCommand,
}

#[derive(Subcommand, Debug)]
pub enum GroupCommand {
    /// List consumer groups, optionally with their state and type.
    #[command(after_help = "Examples:\n  runnel group list\n  runnel group list --state\n  \
        runnel group list --state Stable,Empty --type\n  runnel group list --format json")]
    List(ListArgs),
    /// Offsets and lag (also in time), members, or state of groups.
    #[command(
        after_help = "Columns: GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG LAG-TIME CONSUMER-ID HOST CLIENT-ID,\n\
        as kafka-consumer-groups.sh --describe prints them, plus LAG-TIME: the age of the oldest\n\
        record the group has not consumed (now minus the timestamp of the record at the\n\
        committed offset), '-' when there is no lag.\n\n\
        Examples:\n  runnel group describe --group billing\n  runnel group describe --group billing --members --verbose\n  \
        runnel group describe --group billing --state\n  runnel group describe --all-groups --format json"
    )]
    Describe(DescribeArgs),
    /// Plan (by default) or apply (--execute) new committed offsets for an inactive group.
    #[command(
        after_help = "The group must be Empty (no active members) or unknown. Without --execute only the plan\n\
        is printed (GROUP TOPIC PARTITION NEW-OFFSET). Offsets beyond the log are clamped to its\n\
        start or end, as Kafka does.\n\n\
        Examples:\n  runnel group reset-offsets --group billing --all-topics --to-earliest\n  \
        runnel group reset-offsets --group billing --topic orders:0,1 --to-offset 42 --execute\n  \
        runnel group reset-offsets --group billing --topic orders --shift-by -100 --execute\n  \
        runnel group reset-offsets --group billing --topic orders --to-datetime 2024-05-01T00:00:00.000 --execute\n  \
        runnel group reset-offsets --group billing --topic orders --by-duration PT1H\n  \
        runnel group reset-offsets --group billing --all-topics --to-current --export > plan.csv\n  \
        runnel group reset-offsets --group billing --from-file plan.csv --execute"
    )]
    ResetOffsets(reset::ResetArgs),
    /// Delete groups that have no active members, with their committed offsets.
    #[command(
        after_help = "Examples:\n  runnel group delete --group billing\n  runnel group delete --group a --group b"
    )]
    Delete(DeleteArgs),
    /// Delete a group's committed offsets of some topics or partitions.
    #[command(after_help = "Kafka refuses while the group is subscribed to the topic.\n\n\
        Examples:\n  runnel group delete-offsets --group billing --topic orders\n  \
        runnel group delete-offsets --group billing --topic orders:0,1 --topic payments")]
    DeleteOffsets(DeleteOffsetsArgs),
    /// A group's rebalance history: generations, reasons, joins, leaves and partition moves.
    #[command(after_help = "Read from the broker's admin HTTP listener (--admin-url, env RUNNEL_ADMIN_URL), which\n\
        keeps the last 50 completed generations per group.\n\n\
        Examples:\n  runnel group history billing\n  runnel group history billing --admin-url http://10.0.0.5:9644 --format json")]
    History(history::HistoryArgs),
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Show each group's state; with a value, only groups in these states (comma separated).
    #[arg(long, value_name = "STATES", num_args = 0..=1, default_missing_value = "")]
    pub state: Option<String>,
    /// Show each group's type; with a value, only groups of these types (classic, consumer).
    #[arg(long = "type", value_name = "TYPES", num_args = 0..=1, default_missing_value = "")]
    pub group_type: Option<String>,
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("which").required(true).args(["groups", "all_groups"])))]
#[command(group(ArgGroup::new("view").args(["offsets", "members", "state"])))]
pub struct DescribeArgs {
    /// A group to describe; repeatable.
    #[arg(long = "group", value_name = "GROUP")]
    pub groups: Vec<String>,
    /// Describe every consumer group.
    #[arg(long)]
    pub all_groups: bool,
    /// Committed offsets, log end offsets and lag per partition (the default view).
    #[arg(long)]
    pub offsets: bool,
    /// Members: consumer id, host, client id and partition count.
    #[arg(long)]
    pub members: bool,
    /// Coordinator, assignment strategy, state and member count.
    #[arg(long)]
    pub state: bool,
    /// More columns: the leader epoch of offsets, the assignment of members, epochs of state.
    #[arg(long)]
    pub verbose: bool,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// A group to delete; repeatable.
    #[arg(long = "group", value_name = "GROUP", required = true)]
    pub groups: Vec<String>,
}

#[derive(Args, Debug)]
pub struct DeleteOffsetsArgs {
    /// The group whose offsets to delete.
    #[arg(long, value_name = "GROUP")]
    pub group: String,
    /// A topic, or topic:partition[,partition...]; repeatable.
    #[arg(long = "topic", value_name = "TOPIC[:PARTITIONS]", required = true)]
    pub topics: Vec<String>,
}

pub async fn run(args: GroupArgs) -> anyhow::Result<()> {
    let format = args.global.format;
    // A malformed command line is refused before any connection is made.
    match &args.command {
        GroupCommand::ResetOffsets(reset) => reset::check(reset)?,
        GroupCommand::DeleteOffsets(delete) => {
            for topic in &delete.topics {
                parse_topic_arg(topic)?;
            }
        }
        GroupCommand::List(_) | GroupCommand::Describe(_) | GroupCommand::Delete(_) => {}
        GroupCommand::History(_) => {}
    }
    // The history comes from the admin HTTP listener, not a Kafka connection.
    let command = match args.command {
        GroupCommand::History(history) => return history::run(history, format).await,
        command => command,
    };
    let admin = args.global.admin().await?;
    match command {
        GroupCommand::List(list) => list_groups(&admin, list, format).await,
        GroupCommand::Describe(describe) => describe::run(&admin, describe, format).await,
        GroupCommand::ResetOffsets(reset) => reset::run(&admin, reset, format).await,
        GroupCommand::Delete(delete) => delete_groups(&admin, delete, format).await,
        GroupCommand::DeleteOffsets(delete) => delete_offsets(&admin, delete, format).await,
        GroupCommand::History(history) => history::run(history, format).await,
    }
}

/// The consumer groups' ids, sorted (what `--all-groups` means).
pub(crate) async fn consumer_group_ids(admin: &Admin) -> anyhow::Result<Vec<String>> {
    Ok(admin
        .list_groups()
        .await?
        .into_iter()
        .filter(|g| CONSUMER_PROTOCOL_TYPES.contains(&g.protocol_type.as_str()))
        .map(|g| g.group_id)
        .collect())
}

async fn list_groups(admin: &Admin, args: ListArgs, format: Format) -> anyhow::Result<()> {
    let wanted = |filter: &Option<String>| -> BTreeSet<String> {
        filter
            .iter()
            .flat_map(|f| f.split(','))
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let (states, types) = (wanted(&args.state), wanted(&args.group_type));
    let groups: Vec<_> = admin
        .list_groups()
        .await?
        .into_iter()
        .filter(|g| CONSUMER_PROTOCOL_TYPES.contains(&g.protocol_type.as_str()))
        .map(|g| {
            let state = g.state.clone().unwrap_or_else(|| "Unknown".into());
            let group_type = g.group_type.clone().unwrap_or_else(|| "Unknown".into());
            (g.group_id, state, group_type)
        })
        .filter(|(_, state, kind)| {
            (states.is_empty() || states.contains(&state.to_ascii_lowercase()))
                && (types.is_empty() || types.contains(&kind.to_ascii_lowercase()))
        })
        .collect();
    if format == Format::Json {
        return print_json(&json!(groups
            .iter()
            .map(|(id, state, kind)| json!({ "group": id, "state": state, "type": kind }))
            .collect::<Vec<_>>()));
    }
    if args.state.is_none() && args.group_type.is_none() {
        return print(&groups.iter().map(|(id, _, _)| format!("{id}\n")).collect::<String>());
    }
    // Kafka: "%-Ns" with N = max(15, longest id) + 10, then " %-20s" per extra column.
    let group_width = groups.iter().map(|(id, _, _)| id.chars().count()).fold(15, usize::max) + 10;
    let mut header = vec!["GROUP"];
    let mut columns = vec![Column::fixed(group_width)];
    if args.group_type.is_some() {
        header.push("TYPE");
        columns.push(Column::fixed(20));
    }
    if args.state.is_some() {
        header.push("STATE");
        columns.push(Column::fixed(20));
    }
    let mut table = Table::new(&header, &columns).pad_last();
    for (id, state, kind) in &groups {
        let mut row = vec![id.clone()];
        if args.group_type.is_some() {
            row.push(kind.clone());
        }
        if args.state.is_some() {
            row.push(state.clone());
        }
        table.row(row);
    }
    print(&table.lines().iter().map(|l| format!("{l}\n")).collect::<String>())
}

async fn delete_groups(admin: &Admin, args: DeleteArgs, format: Format) -> anyhow::Result<()> {
    let results = admin.delete_groups(&args.groups).await?;
    let deleted: Vec<&String> = args.groups.iter().filter(|g| matches!(results.get(*g), Some(Ok(())))).collect();
    let failed: Vec<String> = args
        .groups
        .iter()
        .filter_map(|g| match results.get(g) {
            Some(Err(error)) => Some(format!("Group '{g}' could not be deleted due to: {}", kafka_reason(error))),
            _ => None,
        })
        .collect();
    let quoted = deleted.iter().map(|g| format!("'{g}'")).collect::<Vec<_>>().join(", ");
    match format {
        Format::Json => print_json(&json!({ "deleted": deleted }))?,
        Format::Text if failed.is_empty() => {
            print(&format!("Deletion of requested consumer groups ({quoted}) was successful.\n"))?
        }
        Format::Text if !deleted.is_empty() => {
            print(&format!("These consumer groups were deleted successfully: {quoted}\n"))?
        }
        Format::Text => {}
    }
    if failed.is_empty() {
        Ok(())
    } else {
        bail!("Deletion of some consumer groups failed: {}", failed.join("; "))
    }
}

async fn delete_offsets(admin: &Admin, args: DeleteOffsetsArgs, format: Format) -> anyhow::Result<()> {
    let (partitions, unknown_topics) = resolve_topic_args(admin, &args.topics).await?;
    let results = admin.delete_group_offsets(&args.group, &partitions).await?;
    // (topic, partition or "-", error)
    let mut rows: Vec<(String, String, Option<String>)> = unknown_topics
        .iter()
        .map(|t| {
            (
                t.clone(),
                MISSING.to_string(),
                Some(kafka_reason(&runnel_client::Error::kafka(UNKNOWN_TOPIC_OR_PARTITION, None, t.clone()))),
            )
        })
        .collect();
    for (tp, result) in &results {
        rows.push((tp.topic.clone(), tp.partition.to_string(), result.as_ref().err().map(kafka_reason)));
    }
    rows.sort();
    let failures = rows.iter().filter(|(_, _, e)| e.is_some()).count();
    match format {
        Format::Json => print_json(&json!({
            "group": args.group,
            "partitions": rows.iter().map(|(t, p, e)| json!({
                "topic": t,
                "partition": p.parse::<i32>().ok(),
                "error": e,
            })).collect::<Vec<_>>(),
        }))?,
        Format::Text => {
            let mut text = String::new();
            if failures == 0 {
                text += &format!("Request succeeded for deleting offsets from group {}.\n", args.group);
            }
            let topic_width = rows.iter().map(|(t, _, _)| t.chars().count()).fold(15, usize::max);
            let mut table = Table::new(
                &["TOPIC", "PARTITION", "STATUS"],
                &[Column::fixed(topic_width), Column::fixed(10), Column::fixed(15)],
            )
            .pad_last();
            for (topic, partition, error) in &rows {
                let status = error.as_ref().map_or_else(|| "Successful".to_string(), |e| format!("Error: {e}"));
                table.row(vec![topic.clone(), partition.clone(), status]);
            }
            text += &format!("\n{}\n", table.lines().join("\n"));
            print(&text)?;
        }
    }
    if failures > 0 {
        bail!("Encountered some partition-level error deleting offsets of group {}: see the STATUS column", args.group);
    }
    Ok(())
}

/// Kafka's own text for the errors these commands meet, for when the broker sends none
/// (DeleteGroups and OffsetDelete carry no error message).
const KAFKA_ERROR_TEXT: &[(i16, &str)] = &[
    (3, "This server does not host this topic-partition."),
    (24, "The configured groupId is invalid."),
    (25, "The coordinator is not aware of this member."),
    (68, "The group is not empty."),
    (69, "The group id does not exist."),
    (86, "Deleting offsets of a topic is forbidden while the consumer group is actively subscribed to it."),
];

/// A Kafka error as the tables show it: its code name and the broker's message (or Kafka's
/// text for the code), without the request context.
fn kafka_reason(error: &runnel_client::Error) -> String {
    match error {
        runnel_client::Error::Kafka { name, message: Some(m), .. } => format!("{name}: {m}"),
        runnel_client::Error::Kafka { name, code, .. } => match KAFKA_ERROR_TEXT.iter().find(|(c, _)| c == code) {
            Some((_, text)) => format!("{name}: {text}"),
            None => name.clone(),
        },
        other => other.to_string(),
    }
}

/// Parses `--topic` values: `topic` or `topic:p[,p...]`, as Kafka's tools write them.
pub(crate) fn parse_topic_arg(arg: &str) -> anyhow::Result<(String, Option<Vec<i32>>)> {
    let Some((topic, partitions)) = arg.split_once(':') else {
        if arg.is_empty() {
            bail!("Invalid topic arg '', expected a topic name");
        }
        return Ok((arg.to_string(), None));
    };
    if topic.is_empty() || partitions.contains(':') {
        bail!("Invalid topic arg '{arg}', expected topic name and partitions");
    }
    let parsed = partitions
        .split(',')
        .map(|p| {
            p.trim()
                .parse::<i32>()
                .map_err(|_| anyhow::anyhow!("Invalid partition '{p}' specified in topic arg '{arg}'"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((topic.to_string(), Some(parsed)))
}

/// The partitions named by `--topic` arguments: listed partitions as given, bare topics
/// expanded to all their partitions. Bare topics that do not exist come back separately.
pub(crate) async fn resolve_topic_args(
    admin: &Admin,
    args: &[String],
) -> anyhow::Result<(Vec<TopicPartition>, Vec<String>)> {
    let mut partitions = BTreeSet::new();
    let mut bare = Vec::new();
    for arg in args {
        match parse_topic_arg(arg)? {
            (topic, Some(listed)) => {
                partitions.extend(listed.into_iter().map(|p| TopicPartition::new(topic.clone(), p)))
            }
            (topic, None) => bare.push(topic),
        }
    }
    let mut unknown = Vec::new();
    if !bare.is_empty() {
        let described = admin.describe_topics(&bare).await?;
        for topic in &bare {
            match described.get(topic) {
                Some(Ok(description)) => partitions
                    .extend(description.partitions.iter().map(|p| TopicPartition::new(topic.clone(), p.partition))),
                Some(Err(error)) if error.code() == Some(UNKNOWN_TOPIC_OR_PARTITION) => unknown.push(topic.clone()),
                Some(Err(error)) => bail!("{error}"),
                None => unknown.push(topic.clone()),
            }
        }
    }
    Ok((partitions.into_iter().collect(), unknown))
}

/// Partitions that do not exist, spelled as Kafka does (`orders-7`), or an empty list.
pub(crate) async fn nonexistent_partitions(
    admin: &Admin,
    partitions: &[TopicPartition],
) -> anyhow::Result<Vec<TopicPartition>> {
    let topics: Vec<String> =
        partitions.iter().map(|tp| tp.topic.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let described = admin.describe_topics(&topics).await?;
    let existing: BTreeMap<&str, BTreeSet<i32>> = described
        .iter()
        .filter_map(|(t, d)| d.as_ref().ok().map(|d| (t.as_str(), d.partitions.iter().map(|p| p.partition).collect())))
        .collect();
    Ok(partitions
        .iter()
        .filter(|tp| !existing.get(tp.topic.as_str()).is_some_and(|ps| ps.contains(&tp.partition)))
        .cloned()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_args_parse_as_kafka_writes_them() {
        assert_eq!(parse_topic_arg("orders").unwrap(), ("orders".to_string(), None));
        assert_eq!(parse_topic_arg("orders:0,2").unwrap(), ("orders".to_string(), Some(vec![0, 2])));
        let error = parse_topic_arg("orders:x").unwrap_err().to_string();
        assert!(error.contains("Invalid partition 'x'"), "{error}");
        assert!(parse_topic_arg("a:1:2").is_err());
        assert!(parse_topic_arg(":1").is_err());
        assert!(parse_topic_arg("").is_err());
    }
}
