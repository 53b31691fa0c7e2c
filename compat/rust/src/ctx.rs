//! What every scenario shares: the run's names, the admin client, and the building blocks of
//! adapterlib.py (`topic`, `records`, `produce`, `read_all`, `roundtrip`, committed offsets),
//! each on runnel-client's public API with the same bounds and checks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use runnel_client::admin::{Admin, ConfigResource, NewTopic, TopicPartition};
use runnel_client::consumer::{Consumer, ConsumerConfig, ConsumerRecord, OffsetReset};
use runnel_client::producer::{Acks, Compression, Producer, ProducerConfig, ProducerRecord};
use runnel_client::ClientConfig;
use tokio::time::Instant;

use crate::check;
use crate::outcome::{describe, wait_until, Outcome, Step};

/// adapterlib's WAIT_S: the bound of every "until it happens" wait.
pub const WAIT: Duration = Duration::from_secs(30);
/// adapterlib's POLL_S: one consumer poll.
pub const POLL: Duration = Duration::from_millis(200);
/// After the expected records arrived, how long a reader keeps polling for extras.
const QUIET: Duration = Duration::from_millis(300);
const QUIET_POLL: Duration = Duration::from_millis(100);
/// Records per scenario (adapterlib's COUNT) and partitions of a default topic.
pub const COUNT: usize = 10;
pub const PARTITIONS: i32 = 2;
/// Extra time a produce waits for its outcomes beyond the producer's own bound.
const PRODUCE_GRACE: Duration = Duration::from_secs(5);
const PRODUCER_CLOSE: Duration = Duration::from_secs(5);

/// One record's outcome: where it was written, or the error text.
#[derive(Debug, Clone)]
pub struct Acked {
    pub partition: i32,
    pub offset: i64,
    pub error: Option<String>,
}

/// How a produce call is made (adapterlib's produce keyword arguments).
#[derive(Debug, Clone, Copy)]
pub struct ProduceOpts {
    pub acks: Acks,
    pub compression: Compression,
    /// Some(true) asks for idempotence; None keeps the client's default (on for acks=all).
    pub idempotent: Option<bool>,
    pub timeout: Duration,
}

impl ProduceOpts {
    pub fn acks(acks: Acks) -> ProduceOpts {
        ProduceOpts { acks, compression: Compression::None, idempotent: None, timeout: WAIT }
    }
}

/// A reader's settings: `auto.offset.reset` and the fetch size limits (adapterlib's reader()).
#[derive(Debug, Clone, Copy)]
pub struct ReaderOpts {
    pub reset: OffsetReset,
    pub max_bytes: Option<i32>,
}

impl Default for ReaderOpts {
    fn default() -> ReaderOpts {
        ReaderOpts { reset: OffsetReset::Earliest, max_bytes: None }
    }
}

pub struct Ctx {
    pub bootstrap: String,
    pub run_id: String,
    pub admin: Admin,
    /// This adapter's binary, for group.crash's child member.
    pub exe: PathBuf,
}

impl Ctx {
    pub async fn connect(bootstrap: &str, run_id: &str) -> runnel_client::Result<Ctx> {
        let admin = Admin::new(ClientConfig::new(bootstrap)).await?.with_api_timeout(WAIT);
        let exe = std::env::current_exe()
            .map_err(|e| runnel_client::Error::Config(format!("cannot find this adapter's binary: {e}")))?;
        Ok(Ctx { bootstrap: bootstrap.to_string(), run_id: run_id.to_string(), admin, exe })
    }

    /// A unique name carrying the run id, as every adapter makes them.
    pub fn name(&self, stem: &str) -> String {
        let random = uuid::Uuid::new_v4().simple().to_string();
        format!("compat-{}-{stem}-{}-{}", crate::CLIENT_NAME, self.run_id, &random[..6])
    }

    // ---------------------------------------------------------------- admin

    /// Creates a topic; `Ok(None)` when created, `Ok(Some(error name))` when refused.
    pub async fn create_topic(&self, name: &str, partitions: i32, configs: &[(&str, &str)]) -> Step<Option<String>> {
        let mut topic = NewTopic::new(name).partitions(partitions);
        for (key, value) in configs {
            topic = topic.config(*key, *value);
        }
        let mut results = self.admin.create_topics(&[topic], false).await?;
        match results.remove(name) {
            Some(Ok(_)) => Ok(None),
            Some(Err(runnel_client::Error::Kafka { name, .. })) => Ok(Some(name)),
            Some(Err(other)) => Err(other.into()),
            None => Err(Outcome::Fail(format!("CreateTopics answered nothing for {name}"))),
        }
    }

    /// Partition -> leader of a topic; empty when the topic is unknown (or not ready).
    pub async fn topic_partitions(&self, name: &str) -> Step<BTreeMap<i32, Option<i32>>> {
        let mut described = self.admin.describe_topics(&[name.to_string()]).await?;
        Ok(match described.remove(name) {
            Some(Ok(topic)) => topic.partitions.iter().map(|p| (p.partition, p.leader)).collect(),
            _ => BTreeMap::new(),
        })
    }

    pub async fn list_topics(&self) -> Step<BTreeSet<String>> {
        Ok(self.admin.list_topics(false).await?.into_iter().map(|t| t.name).collect())
    }

    pub async fn describe_configs(&self, topic: &str) -> Step<BTreeMap<String, String>> {
        let resource = ConfigResource::topic(topic);
        let mut described = self.admin.describe_configs(std::slice::from_ref(&resource), false, false).await?;
        let entries = described
            .remove(&resource)
            .ok_or_else(|| Outcome::Fail(format!("DescribeConfigs answered nothing for {topic}")))??;
        Ok(entries.into_iter().filter_map(|e| e.value.map(|v| (e.name, v))).collect())
    }

    /// A new topic with a unique name, once its partitions show in the metadata.
    pub async fn topic(&self, stem: &str, partitions: i32, configs: &[(&str, &str)]) -> Step<String> {
        let topic = self.name(stem);
        let refused = self.create_topic(&topic, partitions, configs).await?;
        check!(refused.is_none(), "create {topic}: {refused:?}");
        let want = usize::try_from(partitions).unwrap_or(0);
        wait_until(WAIT, &format!("{topic} has {partitions} partitions"), || async {
            Ok((self.topic_partitions(&topic).await?.len() == want).then_some(()))
        })
        .await?;
        Ok(topic)
    }

    /// The group's committed offsets of partitions 0 and 1 (-1: none), via the admin client.
    pub async fn committed(&self, group: &str, topic: &str) -> Step<BTreeMap<i32, i64>> {
        let partitions: Vec<TopicPartition> = (0..PARTITIONS).map(|p| TopicPartition::new(topic, p)).collect();
        let listed = self.admin.list_group_offsets(group, Some(&partitions)).await?;
        Ok((0..PARTITIONS)
            .map(|p| (p, listed.get(&TopicPartition::new(topic, p)).map_or(-1, |o| o.offset)))
            .collect())
    }

    pub async fn list_groups(&self) -> Step<BTreeSet<String>> {
        Ok(self.admin.list_groups().await?.into_iter().map(|g| g.group_id).collect())
    }

    // ---------------------------------------------------------------- produce

    /// `n` keyed records (`key-{i % 5}`), values tagged with the run id.
    pub fn records(&self, topic: &str, n: usize, tag: &str) -> Vec<ProducerRecord> {
        (0..n)
            .map(|i| ProducerRecord::new(topic).key(format!("key-{}", i % 5)).value(format!("{tag}-{i}-{}", self.run_id)))
            .collect()
    }

    /// Sends `records` with one producer and waits for each outcome, in input order.
    pub async fn produce(&self, records: &[ProducerRecord], opts: ProduceOpts) -> Step<Vec<Acked>> {
        let mut config = ProducerConfig::new(&self.bootstrap);
        config.acks = opts.acks;
        config.compression = opts.compression;
        config.enable_idempotence = opts.idempotent;
        let timeout_ms = u64::try_from(opts.timeout.as_millis()).unwrap_or(u64::MAX);
        config.max_block_ms = timeout_ms;
        config.delivery_timeout_ms = timeout_ms.max(config.linger_ms + config.client.request_timeout_ms);
        let producer = Producer::new(config).await?;
        let deadline = Instant::now() + opts.timeout + PRODUCE_GRACE;
        let mut pending = Vec::with_capacity(records.len());
        for record in records {
            pending.push(producer.send(record.clone()).await);
        }
        let mut out = Vec::with_capacity(records.len());
        for (record, sent) in records.iter().zip(pending) {
            let outcome = match sent {
                Err(error) => Err(describe(&error)),
                Ok(delivery) => match tokio::time::timeout_at(deadline, delivery).await {
                    Ok(Ok(metadata)) => Ok(metadata),
                    Ok(Err(error)) => Err(describe(&error)),
                    Err(_) => Err(format!("no outcome within {:.0}s", opts.timeout.as_secs_f64())),
                },
            };
            out.push(match outcome {
                Ok(metadata) => Acked { partition: metadata.partition, offset: metadata.offset, error: None },
                Err(error) => Acked { partition: record.partition.unwrap_or(-1), offset: -1, error: Some(error) },
            });
        }
        // Every outcome is known, so closing has nothing left to wait for.
        let _ = producer.close_timeout(PRODUCER_CLOSE).await;
        Ok(out)
    }

    /// As `produce`, failing the scenario on any record's error.
    pub async fn produce_ok(&self, records: &[ProducerRecord], opts: ProduceOpts) -> Step<Vec<Acked>> {
        let out = self.produce(records, opts).await?;
        let bad: Vec<&Acked> = out.iter().filter(|a| a.error.is_some()).take(3).collect();
        check!(bad.is_empty(), "produce errors: {bad:?}");
        Ok(out)
    }

    /// The end offset of each partition (0 for one without records) from acknowledgements.
    pub fn ends(acked: &[Acked]) -> BTreeMap<i32, i64> {
        let mut ends: BTreeMap<i32, i64> = (0..PARTITIONS).map(|p| (p, 0)).collect();
        for a in acked {
            let end = ends.entry(a.partition).or_insert(0);
            *end = (*end).max(a.offset + 1);
        }
        ends
    }

    // ---------------------------------------------------------------- consume

    /// A consumer without a group (adapterlib's reader()).
    pub async fn reader(&self, opts: ReaderOpts) -> Step<Consumer> {
        let mut config = ConsumerConfig::new(&self.bootstrap, None);
        config.auto_offset_reset = opts.reset;
        config.default_api_timeout_ms = u64::try_from(WAIT.as_millis()).unwrap_or(u64::MAX);
        if let Some(limit) = opts.max_bytes {
            config.fetch_max_bytes = limit;
            config.max_partition_fetch_bytes = limit;
        }
        Ok(Consumer::new(config).await?)
    }

    /// Reads every partition (or the given ones) from offset 0 until `expect` records came,
    /// then a little longer to catch extras.
    pub async fn read_all(
        &self,
        topic: &str,
        expect: usize,
        partitions: Option<Vec<i32>>,
        opts: ReaderOpts,
    ) -> Step<Vec<ConsumerRecord>> {
        let partitions = match partitions {
            Some(p) => p,
            None => self.topic_partitions(topic).await?.into_keys().collect(),
        };
        let mut reader = self.reader(opts).await?;
        let read = async {
            reader.assign(partitions.iter().map(|p| TopicPartition::new(topic, *p)))?;
            for p in &partitions {
                reader.seek(&TopicPartition::new(topic, *p), 0)?;
            }
            let mut got = poll_until(&mut reader, expect).await?;
            let quiet = Instant::now() + QUIET;
            while Instant::now() < quiet {
                got.extend(reader.poll(QUIET_POLL).await?);
            }
            Ok::<_, Outcome>(got)
        }
        .await;
        let _ = reader.close().await;
        read
    }

    /// Reads back what `produce_ok` sent: the same values once each, every key in one
    /// partition, and (when every record was acknowledged with an offset) each value at the
    /// offset it was acknowledged at.
    pub async fn roundtrip(&self, topic: &str, sent: &[ProducerRecord], acked: Option<&[Acked]>) -> Step<String> {
        let got = self.read_all(topic, sent.len(), None, ReaderOpts::default()).await?;
        let mut values: Vec<Option<Bytes>> = got.iter().map(|m| m.value.clone()).collect();
        let mut want: Vec<Option<Bytes>> = sent.iter().map(|r| r.value.clone()).collect();
        values.sort();
        want.sort();
        let distinct: BTreeSet<&Option<Bytes>> = values.iter().collect();
        let missing: Vec<&Option<Bytes>> = want.iter().filter(|w| !distinct.contains(w)).take(3).collect();
        check!(
            values == want,
            "read {} records, expected {}; missing {missing:?}, extra/dup {}",
            got.len(),
            sent.len(),
            values.len() - distinct.len()
        );
        let mut by_key: BTreeMap<Option<Bytes>, BTreeSet<i32>> = BTreeMap::new();
        for m in &got {
            by_key.entry(m.key.clone()).or_default().insert(m.partition);
        }
        check!(by_key.values().all(|ps| ps.len() == 1), "a key in several partitions: {by_key:?}");
        if let Some(acked) = acked.filter(|a| a.iter().all(|a| a.offset >= 0)) {
            let want: BTreeMap<(i32, i64), Option<Bytes>> =
                sent.iter().zip(acked).map(|(r, a)| ((a.partition, a.offset), r.value.clone())).collect();
            let have: BTreeMap<(i32, i64), Option<Bytes>> =
                got.iter().map(|m| ((m.partition, m.offset), m.value.clone())).collect();
            check!(
                want == have,
                "offsets differ from acknowledgements: acked {:?}, read {:?}",
                want.keys().take(5).collect::<Vec<_>>(),
                have.keys().take(5).collect::<Vec<_>>()
            );
        }
        Ok(format!("{} records read back", got.len()))
    }
}

/// Polls until `want` records came or [`WAIT`] passed.
pub async fn poll_until(consumer: &mut Consumer, want: usize) -> Step<Vec<ConsumerRecord>> {
    let deadline = Instant::now() + WAIT;
    let mut got = Vec::new();
    while got.len() < want && Instant::now() < deadline {
        got.extend(consumer.poll(POLL).await?);
    }
    Ok(got)
}

pub fn values(records: &[ConsumerRecord]) -> Vec<Option<Bytes>> {
    let mut out: Vec<Option<Bytes>> = records.iter().map(|r| r.value.clone()).collect();
    out.sort();
    out
}

pub fn sent_values(records: &[ProducerRecord]) -> Vec<Option<Bytes>> {
    let mut out: Vec<Option<Bytes>> = records.iter().map(|r| r.value.clone()).collect();
    out.sort();
    out
}
