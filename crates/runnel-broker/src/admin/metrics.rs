//! The Prometheus text exposition (format 0.0.4) of /metrics: request counters from
//! `counters`, and the partition and consumer-group gauges under kafka_exporter's names
//! (`kafka_topic_partition_current_offset`, `kafka_consumergroup_lag`, ...) so existing
//! dashboards work. [`collect`] reads the broker; [`render`] is a pure function of that.

use std::fmt::Write;

use runnel_coordinator::GroupState;
use runnel_protocol::kafka_protocol::messages::ApiKey;

use super::counters::{ApiSnapshot, RequestMetrics, API_SLOTS, LATENCY_BUCKETS_SECONDS};
use super::lag::{committed_offsets, lag_with_cache, Committed, PartitionLag, TimestampCache};
use crate::context::BrokerContext;

/// Most consumer groups /metrics reports (the first in group-id order).
pub const METRICS_GROUPS_MAX: usize = 1_000;

#[derive(Debug, Clone, PartialEq)]
pub struct PartitionMetrics {
    pub partition: i32,
    pub current_offset: i64,
    pub oldest_offset: i64,
    pub size_bytes: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TopicMetrics {
    pub name: String,
    pub partitions: Vec<PartitionMetrics>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupMetrics {
    pub group_id: String,
    pub state: GroupState,
    pub members: usize,
    pub offsets: Vec<PartitionLag>,
}

/// Everything /metrics shows, read at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub apis: Vec<ApiSnapshot>,
    pub bytes_received: u64,
    pub bytes_sent: u64,
    pub brokers: usize,
    pub topics: Vec<TopicMetrics>,
    pub groups: Vec<GroupMetrics>,
}

/// Reads the broker's counters, partitions and groups.
pub fn collect(ctx: &BrokerContext, metrics: &RequestMetrics, now_ms: i64) -> Snapshot {
    let mut topics: Vec<TopicMetrics> = ctx
        .topics
        .all()
        .iter()
        .map(|topic| TopicMetrics {
            name: topic.name.clone(),
            partitions: topic
                .partitions
                .iter()
                .map(|p| PartitionMetrics {
                    partition: p.index,
                    current_offset: p.high_watermark(),
                    oldest_offset: p.log_start_offset(),
                    size_bytes: p.size_bytes(),
                })
                .collect(),
        })
        .collect();
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    let groups: Vec<(String, GroupState, usize, Vec<Committed>)> = ctx.groups.inspect(|coordinator| {
        let mut groups: Vec<_> = coordinator
            .groups()
            .map(|group| (group.group_id().to_string(), group.state(), group.num_members()))
            .collect();
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        groups.truncate(METRICS_GROUPS_MAX);
        groups
            .into_iter()
            .map(|(id, state, members)| {
                let committed = committed_offsets(coordinator, ctx, &id);
                (id, state, members, committed)
            })
            .collect()
    });
    let mut timestamps = TimestampCache::new();
    let groups = groups
        .into_iter()
        .map(|(group_id, state, members, committed)| GroupMetrics {
            offsets: lag_with_cache(ctx, &committed, now_ms, true, &mut timestamps),
            group_id,
            state,
            members,
        })
        .collect();
    Snapshot {
        apis: metrics.snapshot(),
        bytes_received: metrics.bytes_received(),
        bytes_sent: metrics.bytes_sent(),
        brokers: 1,
        topics,
        groups,
    }
}

/// A label value with Prometheus' escapes (backslash, double quote, newline).
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The API's name as Kafka's request metrics name it (`Produce`, `Fetch`, ...).
fn api_name(api_key: usize) -> String {
    i16::try_from(api_key)
        .ok()
        .filter(|_| api_key < API_SLOTS - 1)
        .and_then(|key| ApiKey::try_from(key).ok())
        .map_or_else(|| "Unknown".to_string(), |key| format!("{key:?}"))
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Seconds as Prometheus floats: shortest exact form, no exponent for ordinary values.
fn seconds(value: f64) -> String {
    format!("{value}")
}

pub fn render(snapshot: &Snapshot) -> String {
    let mut out = String::new();
    header(&mut out, "runnel_request_total", "counter", "Kafka requests answered, by API.");
    for api in &snapshot.apis {
        let _ = writeln!(out, "runnel_request_total{{api=\"{}\"}} {}", api_name(api.api_key), api.count);
    }
    header(&mut out, "runnel_request_latency_seconds", "histogram", "Time from a request's frame read to its response written to the buffer, by API.");
    for api in &snapshot.apis {
        let name = api_name(api.api_key);
        for (bound, count) in LATENCY_BUCKETS_SECONDS.iter().zip(&api.cumulative_buckets) {
            let _ = writeln!(out, "runnel_request_latency_seconds_bucket{{api=\"{name}\",le=\"{}\"}} {count}", seconds(*bound));
        }
        let _ = writeln!(out, "runnel_request_latency_seconds_bucket{{api=\"{name}\",le=\"+Inf\"}} {}", api.count);
        let _ = writeln!(out, "runnel_request_latency_seconds_sum{{api=\"{name}\"}} {}", seconds(api.latency_sum_seconds));
        let _ = writeln!(out, "runnel_request_latency_seconds_count{{api=\"{name}\"}} {}", api.count);
    }
    header(&mut out, "runnel_network_bytes_received_total", "counter", "Bytes of Kafka request frames received.");
    let _ = writeln!(out, "runnel_network_bytes_received_total {}", snapshot.bytes_received);
    header(&mut out, "runnel_network_bytes_sent_total", "counter", "Bytes of Kafka response frames sent.");
    let _ = writeln!(out, "runnel_network_bytes_sent_total {}", snapshot.bytes_sent);
    header(&mut out, "kafka_brokers", "gauge", "Number of brokers in the cluster.");
    let _ = writeln!(out, "kafka_brokers {}", snapshot.brokers);

    header(&mut out, "kafka_topic_partitions", "gauge", "Number of partitions of a topic.");
    for topic in &snapshot.topics {
        let _ = writeln!(out, "kafka_topic_partitions{{topic=\"{}\"}} {}", escape(&topic.name), topic.partitions.len());
    }
    type PartitionValue = fn(&PartitionMetrics) -> String;
    let partition_gauges: [(&str, &str, PartitionValue); 3] = [
        ("kafka_topic_partition_current_offset", "Log end offset (high watermark) of a partition.", |p| p.current_offset.to_string()),
        ("kafka_topic_partition_oldest_offset", "Log start offset of a partition.", |p| p.oldest_offset.to_string()),
        ("runnel_partition_size_bytes", "Bytes of a partition's log segments on disk.", |p| p.size_bytes.to_string()),
    ];
    for (name, help, value) in partition_gauges {
        header(&mut out, name, "gauge", help);
        for topic in &snapshot.topics {
            let topic_label = escape(&topic.name);
            for partition in &topic.partitions {
                let _ = writeln!(out, "{name}{{topic=\"{topic_label}\",partition=\"{}\"}} {}", partition.partition, value(partition));
            }
        }
    }

    header(&mut out, "runnel_consumergroup_state", "gauge", "1 for the state a consumer group is in, 0 for the others.");
    for group in &snapshot.groups {
        let id = escape(&group.group_id);
        for state in GroupState::ALL {
            let _ = writeln!(out, "runnel_consumergroup_state{{consumergroup=\"{id}\",state=\"{}\"}} {}", state.name(), u8::from(state == group.state));
        }
    }
    header(&mut out, "kafka_consumergroup_members", "gauge", "Members of a consumer group.");
    for group in &snapshot.groups {
        let _ = writeln!(out, "kafka_consumergroup_members{{consumergroup=\"{}\"}} {}", escape(&group.group_id), group.members);
    }
    type LagValue = fn(&PartitionLag) -> String;
    let group_gauges: [(&str, &str, LagValue); 3] = [
        ("kafka_consumergroup_current_offset", "Committed offset of a consumer group on a partition.", |p| p.committed_offset.to_string()),
        ("kafka_consumergroup_lag", "Records between a consumer group's committed offset and the log end offset.", |p| p.lag.to_string()),
        (
            "kafka_consumergroup_lag_seconds",
            "Age of the oldest record a consumer group has not consumed (now minus its timestamp); 0 when caught up.",
            |p| seconds(p.lag_seconds),
        ),
    ];
    for (name, help, value) in group_gauges {
        header(&mut out, name, "gauge", help);
        for group in &snapshot.groups {
            let id = escape(&group.group_id);
            for offset in &group.offsets {
                let _ = writeln!(
                    out,
                    "{name}{{consumergroup=\"{id}\",topic=\"{}\",partition=\"{}\"}} {}",
                    escape(&offset.topic),
                    offset.partition,
                    value(offset)
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        let metrics = RequestMetrics::default();
        metrics.start(&[0, 0, 0, 9]).finish(20);
        metrics.start(&[0, 1, 0, 9]).finish(30);
        Snapshot {
            apis: metrics.snapshot(),
            bytes_received: metrics.bytes_received(),
            bytes_sent: metrics.bytes_sent(),
            brokers: 1,
            topics: vec![TopicMetrics {
                name: "or\"ders".into(),
                partitions: vec![
                    PartitionMetrics { partition: 0, current_offset: 10, oldest_offset: 2, size_bytes: 700 },
                    PartitionMetrics { partition: 1, current_offset: 0, oldest_offset: 0, size_bytes: 0 },
                ],
            }],
            groups: vec![GroupMetrics {
                group_id: "g\\1".into(),
                state: GroupState::Stable,
                members: 2,
                offsets: vec![PartitionLag {
                    topic: "or\"ders".into(),
                    partition: 0,
                    committed_offset: 7,
                    log_end_offset: 10,
                    lag: 3,
                    lag_seconds: 1.5,
                }],
            }],
        }
    }

    fn lines(text: &str) -> Vec<&str> {
        text.lines().collect()
    }

    #[test]
    fn request_counters_render_per_api_with_a_full_histogram() {
        let text = render(&snapshot());
        let lines = lines(&text);
        assert!(lines.contains(&"runnel_request_total{api=\"Produce\"} 1"), "{text}");
        assert!(lines.contains(&"runnel_request_total{api=\"Fetch\"} 1"), "{text}");
        assert!(lines.contains(&"runnel_request_latency_seconds_bucket{api=\"Fetch\",le=\"+Inf\"} 1"), "{text}");
        assert!(lines.contains(&"runnel_request_latency_seconds_count{api=\"Produce\"} 1"), "{text}");
        let buckets = lines.iter().filter(|l| l.starts_with("runnel_request_latency_seconds_bucket{api=\"Produce\"")).count();
        assert_eq!(buckets, LATENCY_BUCKETS_SECONDS.len() + 1);
        assert!(lines.contains(&"runnel_network_bytes_received_total 16"), "{text}");
        assert!(lines.contains(&"runnel_network_bytes_sent_total 50"), "{text}");
        assert!(lines.contains(&"# TYPE runnel_request_latency_seconds histogram"), "{text}");
    }

    #[test]
    fn partitions_and_groups_render_with_escaped_labels() {
        let text = render(&snapshot());
        let lines = lines(&text);
        for expected in [
            "kafka_brokers 1",
            "kafka_topic_partitions{topic=\"or\\\"ders\"} 2",
            "kafka_topic_partition_current_offset{topic=\"or\\\"ders\",partition=\"0\"} 10",
            "kafka_topic_partition_oldest_offset{topic=\"or\\\"ders\",partition=\"0\"} 2",
            "runnel_partition_size_bytes{topic=\"or\\\"ders\",partition=\"0\"} 700",
            "runnel_consumergroup_state{consumergroup=\"g\\\\1\",state=\"Stable\"} 1",
            "runnel_consumergroup_state{consumergroup=\"g\\\\1\",state=\"Empty\"} 0",
            "kafka_consumergroup_members{consumergroup=\"g\\\\1\"} 2",
            "kafka_consumergroup_current_offset{consumergroup=\"g\\\\1\",topic=\"or\\\"ders\",partition=\"0\"} 7",
            "kafka_consumergroup_lag{consumergroup=\"g\\\\1\",topic=\"or\\\"ders\",partition=\"0\"} 3",
            "kafka_consumergroup_lag_seconds{consumergroup=\"g\\\\1\",topic=\"or\\\"ders\",partition=\"0\"} 1.5",
        ] {
            assert!(lines.contains(&expected), "missing {expected}\n{text}");
        }
    }

    #[test]
    fn every_sample_line_belongs_to_a_declared_metric() {
        let text = render(&snapshot());
        let declared: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("# TYPE ")).filter_map(|l| l.split(' ').next()).collect();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap_or_default();
            let base = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).filter(|b| declared.contains(b));
            assert!(declared.contains(&name) || base.is_some(), "undeclared sample {line}");
            let value = line.rsplit(' ').next().unwrap_or_default();
            assert!(value.parse::<f64>().is_ok(), "value of {line}");
        }
    }
}
