//! `runnel group describe`: the offsets view (with LAG-TIME), `--members` and `--state`,
//! laid out as kafka-consumer-groups.sh --describe prints them.
//!
//! Owns: collecting a group's rows the way Kafka's ConsumerGroupCommand does (members with
//! partitions first, largest assignment first, then committed partitions no member holds),
//! the log end offsets and lag, and LAG-TIME: for each lagging partition, now minus the
//! timestamp of the first record at the committed offset (at the log start when retention
//! already deleted that offset).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::bail;
use runnel_client::admin::{Admin, GroupDescription, OffsetAndMetadata, OffsetSpec, TopicPartition};
use serde_json::json;

use super::super::output::{or_missing, print, print_json, Column, Table, MISSING};
use super::super::time::format_age;
use super::super::Format;
use super::{consumer_group_ids, DescribeArgs};

const GROUP_ID_NOT_FOUND: i16 = 69;
const OFFSET_OUT_OF_RANGE: i16 = 1;
const REBALANCING_STATES: [&str; 4] = ["PreparingRebalance", "CompletingRebalance", "Assigning", "Reconciling"];

/// One partition row of the offsets view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OffsetRow {
    pub tp: TopicPartition,
    pub committed: Option<OffsetAndMetadata>,
    pub log_end: Option<i64>,
    pub lag_time_ms: Option<i64>,
    pub consumer_id: String,
    pub host: String,
    pub client_id: String,
}

impl OffsetRow {
    /// Kafka's lag: log end minus committed, when both are known.
    pub fn lag(&self) -> Option<i64> {
        Some(self.log_end? - self.committed.as_ref()?.offset)
    }
}

/// What describe learned about one group.
struct Described {
    group: GroupDescription,
    rows: Vec<OffsetRow>,
}

pub(super) async fn run(admin: &Admin, args: DescribeArgs, format: Format) -> anyhow::Result<()> {
    let groups = if args.all_groups { consumer_group_ids(admin).await? } else { args.groups.clone() };
    let descriptions = admin.describe_groups(&groups).await?;
    let mut described = Vec::new();
    let mut missing_groups = Vec::new();
    for group in groups.iter().collect::<BTreeSet<_>>() {
        match descriptions.get(group) {
            Some(Ok(d)) if d.state != "Dead" => described.push(d.clone()),
            Some(Err(error)) if error.code() != Some(GROUP_ID_NOT_FOUND) => bail!("{error}"),
            _ => missing_groups.push(group.clone()),
        }
    }
    let offsets_view = !(args.members || args.state);
    let mut full = Vec::new();
    for group in described {
        let rows = if offsets_view || format == Format::Json { offset_rows(admin, &group).await? } else { Vec::new() };
        full.push(Described { group, rows });
    }
    match format {
        Format::Json => print_json(&json!(full.iter().map(describe_json).collect::<Vec<_>>()))?,
        Format::Text => {
            let mut text = String::new();
            for d in &full {
                state_notice(&d.group);
                text += &if args.members {
                    members_text(&d.group, args.verbose)
                } else if args.state {
                    state_text(&d.group, args.verbose)
                } else {
                    offsets_text(&d.group.group_id, &d.rows, args.verbose)
                };
            }
            print(&text)?;
        }
    }
    match &missing_groups[..] {
        [] => Ok(()),
        [one] => bail!("Consumer group '{one}' does not exist."),
        many => bail!(
            "Consumer groups {} do not exist.",
            many.iter().map(|g| format!("'{g}'")).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Kafka's notices on stderr for a group with no members or in a rebalance.
fn state_notice(group: &GroupDescription) {
    if group.state == "Empty" {
        eprintln!("\nConsumer group '{}' has no active members.", group.group_id);
    } else if REBALANCING_STATES.contains(&group.state.as_str()) {
        eprintln!("\nWarning: Consumer group '{}' is rebalancing.", group.group_id);
    }
}

/// The offsets view's rows, as Kafka's tool collects them.
async fn offset_rows(admin: &Admin, group: &GroupDescription) -> anyhow::Result<Vec<OffsetRow>> {
    let committed = admin.list_group_offsets(&group.group_id, None).await?;
    let mut members: Vec<_> = group.members.iter().filter(|m| !m.assignment.is_empty()).collect();
    members.sort_by_key(|m| std::cmp::Reverse(m.assignment.len()));
    let mut rows = Vec::new();
    let mut assigned = BTreeSet::new();
    for member in members {
        for tp in &member.assignment {
            assigned.insert(tp.clone());
            rows.push(OffsetRow {
                tp: tp.clone(),
                committed: committed.get(tp).cloned(),
                log_end: None,
                lag_time_ms: None,
                consumer_id: member.member_id.clone(),
                host: member.host.clone(),
                client_id: member.client_id.clone(),
            });
        }
    }
    for (tp, offset) in &committed {
        if !assigned.contains(tp) {
            rows.push(OffsetRow {
                tp: tp.clone(),
                committed: Some(offset.clone()),
                log_end: None,
                lag_time_ms: None,
                consumer_id: MISSING.into(),
                host: MISSING.into(),
                client_id: MISSING.into(),
            });
        }
    }
    let specs: BTreeMap<TopicPartition, OffsetSpec> = rows.iter().map(|r| (r.tp.clone(), OffsetSpec::Latest)).collect();
    let log_ends = admin.list_offsets(&specs).await?;
    for row in &mut rows {
        row.log_end = log_ends.get(&row.tp).and_then(|r| r.as_ref().ok()).and_then(|l| l.offset);
    }
    fill_lag_times(admin, &mut rows, now_ms()).await?;
    Ok(rows)
}

/// LAG-TIME of every lagging row: the age of the first record at its committed offset.
async fn fill_lag_times(admin: &Admin, rows: &mut [OffsetRow], now_ms: i64) -> anyhow::Result<()> {
    let lagging: BTreeMap<TopicPartition, i64> = rows
        .iter()
        .filter(|r| r.lag().is_some_and(|lag| lag > 0))
        .filter_map(|r| Some((r.tp.clone(), r.committed.as_ref()?.offset)))
        .collect();
    if lagging.is_empty() {
        return Ok(());
    }
    let mut found = admin.first_records_at(&lagging).await?;
    // Retention may have deleted the committed offset: the oldest unconsumed record is
    // then the first one still in the log.
    let deleted: Vec<TopicPartition> = found
        .iter()
        .filter(|(_, r)| r.as_ref().is_err_and(|e| e.code() == Some(OFFSET_OUT_OF_RANGE)))
        .map(|(tp, _)| tp.clone())
        .collect();
    if !deleted.is_empty() {
        let specs = deleted.iter().map(|tp| (tp.clone(), OffsetSpec::Earliest)).collect();
        let starts: BTreeMap<TopicPartition, i64> = admin
            .list_offsets(&specs)
            .await?
            .into_iter()
            .filter_map(|(tp, r)| Some((tp, r.ok()?.offset?)))
            .filter(|(tp, start)| lagging.get(tp).is_some_and(|committed| start > committed))
            .collect();
        if !starts.is_empty() {
            found.extend(admin.first_records_at(&starts).await?);
        }
    }
    for row in rows.iter_mut() {
        if let Some(Ok(Some(record))) = found.get(&row.tp) {
            row.lag_time_ms = Some(now_ms.saturating_sub(record.timestamp).max(0));
        }
    }
    Ok(())
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The offsets view: Kafka's columns with LAG-TIME after LAG (and LEADER-EPOCH with
/// --verbose). Nothing when the group has no rows, as Kafka prints nothing then.
pub(crate) fn offsets_text(group: &str, rows: &[OffsetRow], verbose: bool) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut header = vec!["GROUP", "TOPIC", "PARTITION"];
    let mut columns = vec![Column::growing(15), Column::growing(15), Column::fixed(10)];
    if verbose {
        header.push("LEADER-EPOCH");
        columns.push(Column::fixed(15));
    }
    header.extend(["CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "LAG-TIME", "CONSUMER-ID", "HOST", "CLIENT-ID"]);
    columns.extend([
        Column::fixed(15),
        Column::fixed(15),
        Column::fixed(15),
        Column::fixed(15),
        Column::growing(15),
        Column::growing(15),
        Column::fixed(0),
    ]);
    let mut table = Table::new(&header, &columns);
    for row in rows {
        let mut cells = vec![group.to_string(), row.tp.topic.clone(), row.tp.partition.to_string()];
        if verbose {
            cells.push(or_missing(row.committed.as_ref().and_then(|c| c.leader_epoch)));
        }
        let lag = row.lag();
        let lag_time = match (lag, row.lag_time_ms) {
            (Some(lag), Some(age)) if lag > 0 => format_age(age),
            _ => MISSING.to_string(),
        };
        cells.extend([
            or_missing(row.committed.as_ref().map(|c| c.offset)),
            or_missing(row.log_end),
            or_missing(lag),
            lag_time,
            row.consumer_id.clone(),
            row.host.clone(),
            row.client_id.clone(),
        ]);
        table.row(cells);
    }
    format!("\n{}\n", table.lines().join("\n"))
}

/// `--members`: Kafka prints the header even for a group without members.
pub(crate) fn members_text(group: &GroupDescription, verbose: bool) -> String {
    let with_instance_ids = group.members.iter().any(|m| m.group_instance_id.is_some());
    let mut header = vec!["GROUP", "CONSUMER-ID"];
    let mut columns = vec![Column::growing(15), Column::growing(15)];
    if with_instance_ids {
        header.push("GROUP-INSTANCE-ID");
        columns.push(Column::growing(17));
    }
    header.extend(["HOST", "CLIENT-ID", "#PARTITIONS"]);
    columns.extend([Column::growing(15), Column::growing(15), Column::fixed(15)]);
    if verbose {
        header.extend(["CURRENT-EPOCH", "CURRENT-ASSIGNMENT", "TARGET-EPOCH", "TARGET-ASSIGNMENT"]);
        columns.extend([Column::fixed(15), Column::growing(20), Column::fixed(15), Column::growing(20)]);
    }
    let mut table = Table::new(&header, &columns).pad_last();
    for member in &group.members {
        let mut cells = vec![group.group_id.clone(), member.member_id.clone()];
        if with_instance_ids {
            cells.push(member.group_instance_id.clone().unwrap_or_default());
        }
        cells.extend([member.host.clone(), member.client_id.clone(), member.assignment.len().to_string()]);
        if verbose {
            // Classic groups have no member epochs or target assignment (KIP-848 only).
            let assignment =
                if member.assignment.is_empty() { MISSING.to_string() } else { assignment_string(&member.assignment) };
            cells.extend([MISSING.to_string(), assignment, MISSING.to_string(), MISSING.to_string()]);
        }
        table.row(cells);
    }
    // Kafka's format for this view ends in "%-15s " (#PARTITIONS and one more space); the
    // verbose columns follow that space and end padded.
    let tail = if verbose { "" } else { " " };
    format!("\n{}\n", table.lines().iter().map(|l| format!("{l}{tail}")).collect::<Vec<_>>().join("\n"))
}

/// Kafka's assignment spelling: `topic:0,1;other:2`, topics and partitions sorted.
pub(crate) fn assignment_string(assignment: &[TopicPartition]) -> String {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in assignment {
        by_topic.entry(&tp.topic).or_default().push(tp.partition);
    }
    by_topic
        .into_iter()
        .map(|(topic, mut partitions)| {
            partitions.sort_unstable();
            format!("{topic}:{}", partitions.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(","))
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// `--state`: one row; the coordinator as `host:port  (id)` (two spaces, as Kafka).
pub(crate) fn state_text(group: &GroupDescription, verbose: bool) -> String {
    let coordinator = format!("{}  ({})", group.coordinator_addr, group.coordinator_id);
    let strategy = if group.assignor.is_empty() { MISSING.to_string() } else { group.assignor.clone() };
    let mut header = vec!["GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE"];
    let mut columns = vec![Column::growing(15), Column::growing(25), Column::fixed(20), Column::fixed(20)];
    let mut cells = vec![group.group_id.clone(), coordinator, strategy, group.state.clone()];
    if verbose {
        header.extend(["GROUP-EPOCH", "TARGET-ASSIGNMENT-EPOCH"]);
        columns.extend([Column::fixed(15), Column::fixed(25)]);
        cells.extend([MISSING.to_string(), MISSING.to_string()]);
    }
    header.push("#MEMBERS");
    columns.push(Column::fixed(0));
    cells.push(group.members.len().to_string());
    let mut table = Table::new(&header, &columns);
    table.row(cells);
    format!("\n{}\n", table.lines().join("\n"))
}

fn describe_json(d: &Described) -> serde_json::Value {
    let g = &d.group;
    json!({
        "group": g.group_id,
        "state": g.state,
        "protocol_type": g.protocol_type,
        "assignment_strategy": g.assignor,
        "coordinator": { "id": g.coordinator_id, "address": g.coordinator_addr },
        "members": g.members.iter().map(|m| json!({
            "consumer_id": m.member_id,
            "group_instance_id": m.group_instance_id,
            "host": m.host,
            "client_id": m.client_id,
            "assignment": m.assignment.iter().map(|tp| json!({ "topic": tp.topic, "partition": tp.partition })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "offsets": d.rows.iter().map(|r| json!({
            "topic": r.tp.topic,
            "partition": r.tp.partition,
            "current_offset": r.committed.as_ref().map(|c| c.offset),
            "leader_epoch": r.committed.as_ref().and_then(|c| c.leader_epoch),
            "log_end_offset": r.log_end,
            "lag": r.lag(),
            "lag_time_ms": r.lag_time_ms.filter(|_| r.lag().is_some_and(|l| l > 0)),
            "consumer_id": r.consumer_id,
            "host": r.host,
            "client_id": r.client_id,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use runnel_client::admin::MemberDescription;

    use super::*;

    fn row(topic: &str, partition: i32, committed: Option<i64>, log_end: Option<i64>, consumer: &str) -> OffsetRow {
        OffsetRow {
            tp: TopicPartition::new(topic, partition),
            committed: committed.map(OffsetAndMetadata::new),
            log_end,
            lag_time_ms: Some(90_000),
            consumer_id: consumer.into(),
            host: if consumer == MISSING { MISSING.into() } else { "/127.0.0.1".into() },
            client_id: if consumer == MISSING { MISSING.into() } else { "c1".into() },
        }
    }

    #[test]
    fn offsets_view_has_kafkas_columns_plus_lag_time() {
        let rows = [row("orders", 0, Some(3), Some(5), MISSING), row("events", 0, None, Some(10), MISSING)];
        assert_eq!(
            offsets_text("g1", &rows, false),
            "\nGROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG             LAG-TIME        CONSUMER-ID     HOST            CLIENT-ID\n\
             g1              orders          0          3               5               2               1m30s           -               -               -\n\
             g1              events          0          -               10              -               -               -               -               -\n"
        );
        assert_eq!(offsets_text("g1", &[], false), "");
    }

    #[test]
    fn no_lag_means_no_lag_time() {
        let text = offsets_text("g", &[row("t", 0, Some(5), Some(5), MISSING)], false);
        let line = text.lines().nth(2).unwrap();
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(&cells[3..7], ["5", "5", "0", "-"]);
    }

    fn group(members: Vec<MemberDescription>, state: &str) -> GroupDescription {
        GroupDescription {
            group_id: "g2".into(),
            state: state.into(),
            protocol_type: "consumer".into(),
            assignor: "range".into(),
            members,
            coordinator_id: 1,
            coordinator_addr: "127.0.0.1:38219".into(),
        }
    }

    fn member(id: &str, assignment: Vec<TopicPartition>) -> MemberDescription {
        MemberDescription {
            member_id: id.into(),
            group_instance_id: None,
            client_id: "cli-g2".into(),
            host: "/127.0.0.1".into(),
            assignment,
            subscribed_topics: vec!["orders".into()],
            raw_metadata: Default::default(),
            raw_assignment: Default::default(),
        }
    }

    #[test]
    fn members_view_is_kafkas_byte_for_byte() {
        // Captured from Kafka 4.1.1's kafka-consumer-groups --describe --members [--verbose].
        let id = "cli-g2-7696c6fa-e4b1-4caa-942a-40408d015687";
        let g =
            group(vec![member(id, vec![TopicPartition::new("orders", 1), TopicPartition::new("orders", 0)])], "Stable");
        assert_eq!(
            members_text(&g, false),
            format!("\nGROUP           CONSUMER-ID                                 HOST            CLIENT-ID       #PARTITIONS     \n\
                     g2              {id} /127.0.0.1      cli-g2          2               \n")
        );
        assert_eq!(
            members_text(&g, true),
            format!("\nGROUP           CONSUMER-ID                                 HOST            CLIENT-ID       #PARTITIONS     CURRENT-EPOCH   CURRENT-ASSIGNMENT   TARGET-EPOCH    TARGET-ASSIGNMENT   \n\
                     g2              {id} /127.0.0.1      cli-g2          2               -               orders:0,1           -               -                   \n")
        );
        assert_eq!(
            members_text(&group(vec![], "Empty"), false),
            "\nGROUP           CONSUMER-ID     HOST            CLIENT-ID       #PARTITIONS     \n"
        );
    }

    #[test]
    fn state_view_is_kafkas_byte_for_byte() {
        assert_eq!(
            state_text(&group(vec![member("m", vec![])], "Stable"), false),
            "\nGROUP           COORDINATOR (ID)          ASSIGNMENT-STRATEGY  STATE                #MEMBERS\n\
             g2              127.0.0.1:38219  (1)      range                Stable               1\n"
        );
    }

    #[test]
    fn assignment_string_sorts_topics_and_partitions() {
        let assignment = [TopicPartition::new("b", 2), TopicPartition::new("a", 1), TopicPartition::new("b", 0)];
        assert_eq!(assignment_string(&assignment), "a:1;b:0,2");
    }
}
