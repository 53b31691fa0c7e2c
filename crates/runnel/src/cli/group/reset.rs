//! `runnel group reset-offsets`: Kafka's reset scenarios, its dry run by default, and its
//! refusal to touch a group that has active members.
//!
//! Owns: choosing the partitions (`--topic`, `--all-topics`, `--from-file`), computing each
//! scenario's new offsets with Kafka's clamping to the log's start and end, the plan's
//! table and CSV (`--export`, readable again by `--from-file`), and applying it with the
//! admin's out-of-group commit (`--execute`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use clap::{ArgGroup, Args};
use runnel_client::admin::{Admin, OffsetAndMetadata, OffsetSpec, TopicPartition};
use serde_json::json;

use super::super::output::{note, print, print_json, Column, Table};
use super::super::time::{parse_datetime, parse_duration};
use super::super::Format;
use super::{consumer_group_ids, nonexistent_partitions, parse_topic_arg, resolve_topic_args};

const GROUP_ID_NOT_FOUND: i16 = 69;
/// States in which Kafka lets offsets be reset: no member can commit over the new ones.
const RESETTABLE_STATES: [&str; 2] = ["Empty", "Dead"];
/// Kafka 4.1's plan table: "%-30s %-30s %-10s %-15s".
const PLAN_GROUP_WIDTH: usize = 30;
const PLAN_TOPIC_WIDTH: usize = 30;
const PLAN_PARTITION_WIDTH: usize = 10;
const PLAN_OFFSET_WIDTH: usize = 15;

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("which").required(true).args(["groups", "all_groups"])))]
#[command(group(ArgGroup::new("scenario").required(true).args([
    "to_earliest", "to_latest", "to_offset", "shift_by", "to_datetime", "by_duration", "to_current", "from_file",
])))]
pub struct ResetArgs {
    /// A group to reset; repeatable.
    #[arg(long = "group", value_name = "GROUP")]
    pub groups: Vec<String>,
    /// Reset every consumer group.
    #[arg(long)]
    pub all_groups: bool,
    /// A topic, or topic:partition[,partition...]; repeatable.
    #[arg(long = "topic", value_name = "TOPIC[:PARTITIONS]", conflicts_with = "all_topics")]
    pub topics: Vec<String>,
    /// Every partition the group has committed offsets for.
    #[arg(long)]
    pub all_topics: bool,
    /// To the log start offset.
    #[arg(long)]
    pub to_earliest: bool,
    /// To the log end offset.
    #[arg(long)]
    pub to_latest: bool,
    /// To this offset (clamped to the log).
    #[arg(long, value_name = "OFFSET", allow_hyphen_values = true)]
    pub to_offset: Option<i64>,
    /// Move the committed offset by N (negative: back), clamped to the log.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub shift_by: Option<i64>,
    /// To the first offset at or after a time: YYYY-MM-DDTHH:mm:SS.sss[zone], UTC without a zone.
    #[arg(long, value_name = "DATETIME")]
    pub to_datetime: Option<String>,
    /// To the first offset at or after now minus an ISO-8601 duration: PnDTnHnMnS.
    #[arg(long, value_name = "DURATION")]
    pub by_duration: Option<String>,
    /// To the committed offsets (the log end where there is none): a plan to export.
    #[arg(long)]
    pub to_current: bool,
    /// To the offsets in a CSV file: topic,partition,offset (or group,topic,partition,offset).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["topics", "all_topics"])]
    pub from_file: Option<PathBuf>,
    /// Apply the plan; without it nothing changes.
    #[arg(long, conflicts_with = "dry_run")]
    pub execute: bool,
    /// Only print the plan (the default).
    #[arg(long)]
    pub dry_run: bool,
    /// Print the plan as CSV, the format --from-file reads.
    #[arg(long)]
    pub export: bool,
}

/// Where offsets are read from for one plan.
struct Logs {
    earliest: BTreeMap<TopicPartition, i64>,
    latest: BTreeMap<TopicPartition, i64>,
}

/// What can be checked without a broker: the scope, times, `--topic` values and the plan
/// file (whose group column is checked against `--group` when the groups are named).
pub(super) fn check(args: &ResetArgs) -> anyhow::Result<()> {
    if args.from_file.is_none() && args.topics.is_empty() && !args.all_topics {
        bail!("One of the reset scopes should be defined: --all-topics, --topic.");
    }
    target_ms(args)?;
    for topic in &args.topics {
        parse_topic_arg(topic)?;
    }
    if let Some(path) = &args.from_file {
        read_plan(path, if args.all_groups { None } else { Some(&args.groups) })?;
    }
    Ok(())
}

/// The time `--to-datetime` or `--by-duration` names, in ms since the epoch.
fn target_ms(args: &ResetArgs) -> anyhow::Result<Option<i64>> {
    Ok(match (&args.to_datetime, &args.by_duration) {
        (Some(datetime), _) => Some(parse_datetime(datetime)?),
        (_, Some(duration)) => Some(now_ms().saturating_sub(parse_duration(duration)?)),
        _ => None,
    })
}

/// Reads a `--from-file` plan; with `groups` unknown (`--all-groups`) only lines that
/// name their group can be read.
fn read_plan(
    path: &std::path::Path,
    groups: Option<&[String]>,
) -> anyhow::Result<BTreeMap<String, BTreeMap<TopicPartition, i64>>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse_reset_plan(&text, groups.unwrap_or_default()).with_context(|| format!("in {}", path.display()))
}

pub(super) async fn run(admin: &Admin, args: ResetArgs, format: Format) -> anyhow::Result<()> {
    let groups = if args.all_groups { consumer_group_ids(admin).await? } else { args.groups.clone() };
    let file_plan = match &args.from_file {
        Some(path) => Some(read_plan(path, Some(&groups))?),
        None => None,
    };
    let target_ms = target_ms(&args)?;
    refuse_active_groups(admin, &groups).await?;

    let mut plans: BTreeMap<String, BTreeMap<TopicPartition, i64>> = BTreeMap::new();
    for group in &groups {
        let committed = admin.list_group_offsets(group, None).await?;
        let partitions: Vec<TopicPartition> = match &file_plan {
            Some(plan) => match plan.get(group) {
                Some(offsets) => offsets.keys().cloned().collect(),
                None => bail!("No reset plan for group {group} found."),
            },
            None if args.all_topics => committed.keys().cloned().collect(),
            None => {
                let (partitions, unknown) = resolve_topic_args(admin, &args.topics).await?;
                if let Some(topic) = unknown.first() {
                    bail!("Topic '{topic}' does not exist");
                }
                partitions
            }
        };
        let absent = nonexistent_partitions(admin, &partitions).await?;
        if !absent.is_empty() {
            let names = absent.iter().map(|tp| tp.to_string()).collect::<Vec<_>>().join(",");
            bail!("The partitions \"{names}\" do not exist");
        }
        let logs = log_bounds(admin, &partitions).await?;
        let committed: BTreeMap<TopicPartition, i64> = committed.into_iter().map(|(tp, o)| (tp, o.offset)).collect();
        let plan = if args.to_earliest {
            bounds_for(&partitions, &logs.earliest, "starting")?
        } else if args.to_latest {
            bounds_for(&partitions, &logs.latest, "ending")?
        } else if let Some(offset) = args.to_offset {
            clamp_all(partitions.iter().map(|tp| (tp.clone(), offset)).collect(), &logs)
        } else if let Some(shift) = args.shift_by {
            let mut requested = BTreeMap::new();
            for tp in &partitions {
                let Some(current) = committed.get(tp) else {
                    bail!("Cannot shift offset for partition {tp} since there is no current committed offset");
                };
                requested.insert(tp.clone(), current.saturating_add(shift));
            }
            clamp_all(requested, &logs)
        } else if let Some(timestamp) = target_ms {
            offsets_for_time(admin, &partitions, timestamp, &logs).await?
        } else if args.to_current {
            partitions
                .iter()
                .filter_map(|tp| Some((tp.clone(), committed.get(tp).or_else(|| logs.latest.get(tp)).copied()?)))
                .collect()
        } else if let Some(plan) = &file_plan {
            clamp_all(plan.get(group).cloned().unwrap_or_default(), &logs)
        } else {
            bail!("no reset scenario given");
        };
        plans.insert(group.clone(), plan);
    }

    if args.execute {
        for (group, plan) in &plans {
            let offsets = plan.iter().map(|(tp, o)| (tp.clone(), OffsetAndMetadata::new(*o))).collect();
            let results = admin.alter_group_offsets(group, &offsets).await?;
            let failed: Vec<String> =
                results.iter().filter_map(|(tp, r)| r.as_ref().err().map(|e| format!("{tp}: {e}"))).collect();
            if !failed.is_empty() {
                bail!("resetting offsets of group {group} failed: {}", failed.join("; "));
            }
        }
    } else if !args.dry_run {
        note("Dry run: no offsets were changed. Add --execute to apply this plan.");
    }
    match format {
        Format::Json => print_json(&json!({
            "executed": args.execute,
            "offsets": plans.iter().flat_map(|(group, plan)| plan.iter().map(move |(tp, offset)| json!({
                "group": group, "topic": tp.topic, "partition": tp.partition, "new_offset": offset,
            }))).collect::<Vec<_>>(),
        })),
        Format::Text if args.export => print(&export_csv(&plans, groups.len() == 1)),
        Format::Text => print(&plan_text(&plans)),
    }
}

/// Kafka's refusal, with its wording, for any group that still has members.
async fn refuse_active_groups(admin: &Admin, groups: &[String]) -> anyhow::Result<()> {
    let described = admin.describe_groups(groups).await?;
    let mut refusals = Vec::new();
    for group in groups {
        match described.get(group) {
            Some(Ok(d)) if !RESETTABLE_STATES.contains(&d.state.as_str()) => refusals.push(format!(
                "Assignments can only be reset if the group '{group}' is inactive, but the current state is {}.",
                d.state
            )),
            Some(Err(error)) if error.code() != Some(GROUP_ID_NOT_FOUND) => bail!("{error}"),
            _ => {}
        }
    }
    if refusals.is_empty() {
        Ok(())
    } else {
        bail!("{}", refusals.join(" "))
    }
}

async fn log_bounds(admin: &Admin, partitions: &[TopicPartition]) -> anyhow::Result<Logs> {
    let earliest = listed(admin, partitions, OffsetSpec::Earliest).await?;
    let latest = listed(admin, partitions, OffsetSpec::Latest).await?;
    Ok(Logs { earliest, latest })
}

/// The offsets ListOffsets found; partitions it could not answer are left out.
async fn listed(
    admin: &Admin,
    partitions: &[TopicPartition],
    spec: OffsetSpec,
) -> anyhow::Result<BTreeMap<TopicPartition, i64>> {
    let specs = partitions.iter().map(|tp| (tp.clone(), spec)).collect();
    Ok(admin.list_offsets(&specs).await?.into_iter().filter_map(|(tp, r)| Some((tp, r.ok()?.offset?))).collect())
}

fn bounds_for(
    partitions: &[TopicPartition],
    bounds: &BTreeMap<TopicPartition, i64>,
    which: &str,
) -> anyhow::Result<BTreeMap<TopicPartition, i64>> {
    partitions
        .iter()
        .map(|tp| match bounds.get(tp) {
            Some(offset) => Ok((tp.clone(), *offset)),
            None => bail!("Error getting {which} offset of topic partition: {tp}"),
        })
        .collect()
}

/// Kafka's `checkOffsetsRange`: an offset past the log end becomes the end, one before the
/// log start becomes the start, each with a warning.
fn clamp_all(requested: BTreeMap<TopicPartition, i64>, logs: &Logs) -> BTreeMap<TopicPartition, i64> {
    requested
        .into_iter()
        .map(|(tp, offset)| {
            let (value, warning) = clamp(&tp, offset, logs.earliest.get(&tp).copied(), logs.latest.get(&tp).copied());
            if let Some(warning) = warning {
                note(&warning);
            }
            (tp, value)
        })
        .collect()
}

pub(crate) fn clamp(tp: &TopicPartition, offset: i64, start: Option<i64>, end: Option<i64>) -> (i64, Option<String>) {
    match (start, end) {
        (_, Some(end)) if offset > end => (
            end,
            Some(format!("New offset ({offset}) is higher than latest offset for topic partition {tp}. Value will be set to {end}.")),
        ),
        (Some(start), _) if offset < start => (
            start,
            Some(format!("New offset ({offset}) is lower than earliest offset for topic partition {tp}. Value will be set to {start}.")),
        ),
        _ => (offset, None),
    }
}

/// `--to-datetime` / `--by-duration`: the first offset at or after the time; a partition
/// with no record that late falls back to its log end, as Kafka does.
async fn offsets_for_time(
    admin: &Admin,
    partitions: &[TopicPartition],
    timestamp: i64,
    logs: &Logs,
) -> anyhow::Result<BTreeMap<TopicPartition, i64>> {
    let found = listed(admin, partitions, OffsetSpec::Timestamp(timestamp)).await?;
    let mut plan = BTreeMap::new();
    for tp in partitions {
        let offset = match found.get(tp) {
            Some(offset) => *offset,
            None => {
                note(&format!(
                    "Warn: Partition {} from topic {} is empty. Falling back to latest known offset.",
                    tp.partition, tp.topic
                ));
                match logs.latest.get(tp) {
                    Some(end) => *end,
                    None => bail!("Error getting offset by timestamp of topic partition: {tp}"),
                }
            }
        };
        plan.insert(tp.clone(), offset);
    }
    Ok(plan)
}

/// Reads a plan as Kafka's `--export` writes it: `topic,partition,offset` lines for one
/// group, or `group,topic,partition,offset` lines.
pub(crate) fn parse_reset_plan(
    text: &str,
    groups: &[String],
) -> anyhow::Result<BTreeMap<String, BTreeMap<TopicPartition, i64>>> {
    let mut plan: BTreeMap<String, BTreeMap<TopicPartition, i64>> = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields = csv_fields(line).with_context(|| format!("line {}", index + 1))?;
        let fields: Vec<&str> = fields.iter().map(|f| f.trim()).collect();
        let (group, topic, partition, offset) = match fields[..] {
            [topic, partition, offset] => match groups {
                [group] => (group.as_str(), topic, partition, offset),
                _ => bail!("line {}: topic,partition,offset lines need exactly one --group", index + 1),
            },
            [group, topic, partition, offset] => (group, topic, partition, offset),
            _ => bail!(
                "line {}: expected topic,partition,offset or group,topic,partition,offset, got {line:?}",
                index + 1
            ),
        };
        let partition: i32 =
            partition.parse().with_context(|| format!("line {}: partition {partition:?}", index + 1))?;
        let offset: i64 = offset.parse().with_context(|| format!("line {}: offset {offset:?}", index + 1))?;
        if topic.is_empty() {
            bail!("line {}: empty topic", index + 1);
        }
        plan.entry(group.to_string()).or_default().insert(TopicPartition::new(topic, partition), offset);
    }
    Ok(plan)
}

/// The fields of one CSV line. Kafka's tool writes them with Jackson, which quotes long
/// values (`"a-long-topic-name",0,42`) and doubles quotes inside quoted ones.
pub(crate) fn csv_fields(line: &str) -> anyhow::Result<Vec<String>> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => bail!("unterminated quoted field"),
                }
            }
            if !matches!(chars.peek(), None | Some(',')) {
                bail!("text after a quoted field");
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                field.push(c);
                chars.next();
            }
        }
        fields.push(field);
        if chars.next().is_none() {
            return Ok(fields);
        }
    }
}

/// A CSV field, quoted when it holds a separator, a quote or blanks at its ends.
fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) || value.trim() != value {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// `--export`: Kafka's CSV, with the group column only when several groups were asked for
/// (and the blank line Kafka's tool ends it with).
pub(crate) fn export_csv(plans: &BTreeMap<String, BTreeMap<TopicPartition, i64>>, single_group: bool) -> String {
    let mut out = String::new();
    for (group, plan) in plans {
        for (tp, offset) in plan {
            if single_group {
                out += &format!("{},{},{offset}\n", csv_field(&tp.topic), tp.partition);
            } else {
                out += &format!("{},{},{},{offset}\n", csv_field(group), csv_field(&tp.topic), tp.partition);
            }
        }
    }
    out.push('\n');
    out
}

/// Kafka 4.1's plan table: the header only when there is a group, each line after a
/// newline, and a final newline.
pub(crate) fn plan_text(plans: &BTreeMap<String, BTreeMap<TopicPartition, i64>>) -> String {
    if plans.is_empty() {
        return "\n".into();
    }
    let mut table = Table::new(
        &["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"],
        &[
            Column::fixed(PLAN_GROUP_WIDTH),
            Column::fixed(PLAN_TOPIC_WIDTH),
            Column::fixed(PLAN_PARTITION_WIDTH),
            Column::fixed(PLAN_OFFSET_WIDTH),
        ],
    )
    .pad_last();
    for (group, plan) in plans {
        for (tp, offset) in plan {
            table.row(vec![group.clone(), tp.topic.clone(), tp.partition.to_string(), offset.to_string()]);
        }
    }
    format!("\n{}\n", table.lines().join("\n"))
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(topic: &str, partition: i32) -> TopicPartition {
        TopicPartition::new(topic, partition)
    }

    #[test]
    fn clamping_follows_kafkas_check_offsets_range() {
        let t = tp("orders", 0);
        assert_eq!(clamp(&t, 3, Some(0), Some(5)), (3, None));
        let (value, warning) = clamp(&t, 100, Some(0), Some(5));
        assert_eq!(value, 5);
        assert_eq!(
            warning.unwrap(),
            "New offset (100) is higher than latest offset for topic partition orders-0. Value will be set to 5."
        );
        let (value, warning) = clamp(&t, -3, Some(2), Some(5));
        assert_eq!(value, 2);
        assert!(warning.unwrap().contains("lower than earliest"));
        assert_eq!(clamp(&t, 7, None, None), (7, None));
    }

    #[test]
    fn plan_table_is_kafka_41s() {
        // Captured from Kafka 4.1.1: --reset-offsets --group g1 --topic orders:0,1 --to-offset 100.
        let plans = BTreeMap::from([("g1".to_string(), BTreeMap::from([(tp("orders", 0), 5), (tp("orders", 1), 5)]))]);
        assert_eq!(
            plan_text(&plans),
            "\nGROUP                          TOPIC                          PARTITION  NEW-OFFSET     \n\
             g1                             orders                         0          5              \n\
             g1                             orders                         1          5              \n"
        );
        assert_eq!(plan_text(&BTreeMap::new()), "\n");
    }

    #[test]
    fn exported_plans_read_back() {
        let plans = BTreeMap::from([("g1".to_string(), BTreeMap::from([(tp("orders", 0), 3), (tp("orders", 1), 5)]))]);
        let single = export_csv(&plans, true);
        assert_eq!(single, "orders,0,3\norders,1,5\n\n");
        assert_eq!(parse_reset_plan(&single, &["g1".to_string()]).unwrap(), plans);
        let multi = export_csv(&plans, false);
        assert_eq!(multi, "g1,orders,0,3\ng1,orders,1,5\n\n");
        assert_eq!(parse_reset_plan(&multi, &[]).unwrap(), plans);
    }

    #[test]
    fn plans_exported_by_kafka_with_quotes_read_back() {
        // Kafka's --export (Jackson) quotes values longer than 24 characters.
        let text = "\"a-topic-name-longer-than-24-chars\",0,2\n\"a-topic-name-longer-than-24-chars\",1,4\n\n";
        let plan = parse_reset_plan(text, &["g".to_string()]).unwrap();
        assert_eq!(
            plan["g"],
            BTreeMap::from([
                (tp("a-topic-name-longer-than-24-chars", 0), 2),
                (tp("a-topic-name-longer-than-24-chars", 1), 4)
            ])
        );
        assert_eq!(csv_fields("\"a,\"\"b\"\"\",1").unwrap(), ["a,\"b\"", "1"]);
        assert!(csv_fields("\"open,1").is_err());
        assert!(csv_fields("\"a\"x,1").is_err());
        let group = "odd,group".to_string();
        let plans = BTreeMap::from([(group.clone(), BTreeMap::from([(tp("t", 0), 1)]))]);
        let exported = export_csv(&plans, false);
        assert_eq!(exported, "\"odd,group\",t,0,1\n\n");
        assert_eq!(parse_reset_plan(&exported, &[]).unwrap(), plans);
    }

    #[test]
    fn bad_plans_name_the_line() {
        let groups = ["g".to_string()];
        for (text, expected) in [("t,x,1", "line 1"), ("t,0,1\nt,1", "line 2"), ("t,0,1", "exactly one --group")] {
            let given: &[String] = if expected.contains("--group") { &[] } else { &groups };
            let error = format!("{:#}", parse_reset_plan(text, given).unwrap_err());
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }
}
