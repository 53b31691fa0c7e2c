//! The Consume scenarios: assign and seek, offsets for times, the reset policies and the
//! fetch size limits, all without a group.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use runnel_client::consumer::{ConsumerRecord, OffsetReset, TopicPartition};
use runnel_client::producer::{Acks, ProducerRecord};
use tokio::time::Instant;

use crate::check;
use crate::ctx::{poll_until, sent_values, values, Ctx, ProduceOpts, ReaderOpts, COUNT, PARTITIONS};
use crate::outcome::{Outcome, Step};

const SEEK_TO: i64 = 5;
const TIMESTAMP_COUNT: i64 = 5;
const TIMESTAMP_STEP_MS: i64 = 1000;
/// How far in the past the first timestamped record is.
const TIMESTAMP_AGE_MS: i64 = 60_000;
const LATEST_NEW: usize = 5;
const MAX_BYTES_LIMIT: i32 = 15_000;
const MAX_BYTES_RECORDS: usize = 20;
const MAX_BYTES_VALUE_BYTES: usize = 10 * 1024;
/// After the new records arrived, how long the latest reader keeps polling for extras.
const QUIET: Duration = Duration::from_millis(300);
const QUIET_POLL: Duration = Duration::from_millis(100);

fn all_acks() -> ProduceOpts {
    ProduceOpts::acks(Acks::All)
}

pub async fn assign_seek(ctx: &Ctx) -> Step<String> {
    let t = ctx.topic("seek", PARTITIONS, &[]).await?;
    let recs: Vec<ProducerRecord> =
        (0..COUNT).map(|i| ProducerRecord::new(&t).key("k").value(format!("s-{i}")).partition(0)).collect();
    ctx.produce_ok(&recs, all_acks()).await?;
    let mut reader = ctx.reader(ReaderOpts::default()).await?;
    let tp = TopicPartition::new(&t, 0);
    let read = async {
        reader.assign([tp.clone()])?;
        reader.seek(&tp, SEEK_TO)?;
        poll_until(&mut reader, COUNT - 5).await
    }
    .await;
    let _ = reader.close().await;
    let got = read?;
    let offsets: Vec<i64> = got.iter().map(|m| m.offset).collect();
    check!(offsets == [5, 6, 7, 8, 9], "offsets read {offsets:?}");
    let want: Vec<Vec<u8>> = (5..COUNT).map(|i| format!("s-{i}").into_bytes()).collect();
    check!(got.iter().map(|m| m.value.as_deref().unwrap_or_default().to_vec()).collect::<Vec<_>>() == want, "values differ");
    Ok("read offsets 5..9".into())
}

pub async fn from_timestamp(ctx: &Ctx) -> Step<String> {
    let t = ctx.topic("ts", 1, &[]).await?;
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let t0 = now_ms - TIMESTAMP_AGE_MS;
    let recs: Vec<ProducerRecord> = (0..TIMESTAMP_COUNT)
        .map(|i| {
            ProducerRecord::new(&t).key("k").value(format!("t-{i}")).partition(0).timestamp(t0 + i * TIMESTAMP_STEP_MS)
        })
        .collect();
    ctx.produce_ok(&recs, all_acks()).await?;
    let mut reader = ctx.reader(ReaderOpts::default()).await?;
    let tp = TopicPartition::new(&t, 0);
    let read = async {
        reader.assign([tp.clone()])?;
        let found = reader.offsets_for_times(&BTreeMap::from([(tp.clone(), t0 + 2 * TIMESTAMP_STEP_MS)])).await?;
        let offset = found.get(&tp).copied().flatten().map(|o| o.offset);
        check!(offset == Some(2), "offset for t0+2s is {offset:?}, expected 2");
        reader.seek(&tp, 2)?;
        poll_until(&mut reader, 3).await
    }
    .await;
    let _ = reader.close().await;
    let got = read?;
    let offsets: Vec<i64> = got.iter().map(|m| m.offset).collect();
    check!(offsets == [2, 3, 4], "offsets read {offsets:?}");
    let stamps: Vec<i64> = got.iter().map(|m| m.timestamp - t0).collect();
    check!(stamps == [2000, 3000, 4000], "timestamps (from t0) {stamps:?}");
    Ok("offset 2 for t0+2s; read 2..4 with their timestamps".into())
}

pub async fn earliest(ctx: &Ctx) -> Step<String> {
    let t = ctx.topic("earliest", PARTITIONS, &[]).await?;
    let recs = ctx.records(&t, COUNT, "r");
    ctx.produce_ok(&recs, all_acks()).await?;
    let mut reader = ctx.reader(ReaderOpts { reset: OffsetReset::Earliest, max_bytes: None }).await?;
    let read = async {
        reader.assign((0..PARTITIONS).map(|p| TopicPartition::new(&t, p)))?;
        poll_until(&mut reader, COUNT).await
    }
    .await;
    let _ = reader.close().await;
    let got = read?;
    check!(values(&got) == sent_values(&recs), "read {} of {COUNT}", got.len());
    Ok(format!("{} records from the earliest offsets", got.len()))
}

pub async fn latest(ctx: &Ctx) -> Step<String> {
    let t = ctx.topic("latest", PARTITIONS, &[]).await?;
    ctx.produce_ok(&ctx.records(&t, COUNT, "old"), all_acks()).await?;
    let mut reader = ctx.reader(ReaderOpts { reset: OffsetReset::Latest, max_bytes: None }).await?;
    let fresh = ctx.records(&t, LATEST_NEW, "new");
    let read = async {
        let tps: Vec<TopicPartition> = (0..PARTITIONS).map(|p| TopicPartition::new(&t, p)).collect();
        reader.assign(tps.clone())?;
        let mut ends = Vec::new();
        for tp in &tps {
            ends.push(reader.position(tp).await?);
        }
        check!(ends.iter().sum::<i64>() == COUNT as i64, "positions {ends:?} are not the end offsets (total {COUNT})");
        ctx.produce_ok(&fresh, all_acks()).await?;
        let mut got = poll_until(&mut reader, LATEST_NEW).await?;
        let quiet = Instant::now() + QUIET;
        while Instant::now() < quiet {
            got.extend(reader.poll(QUIET_POLL).await?);
        }
        Ok::<Vec<ConsumerRecord>, Outcome>(got)
    }
    .await;
    let _ = reader.close().await;
    let got = read?;
    check!(values(&got) == sent_values(&fresh), "read {:?}", values(&got));
    Ok("positioned at the end; read exactly the 5 new records".into())
}

pub async fn max_bytes(ctx: &Ctx) -> Step<String> {
    let t = ctx.topic("maxbytes", 1, &[]).await?;
    let mut recs = Vec::with_capacity(MAX_BYTES_RECORDS);
    for i in 0..MAX_BYTES_RECORDS {
        let fill = char::from(b'a' + (i % 26) as u8);
        let mut value = format!("{i:04}");
        value.extend(std::iter::repeat_n(fill, MAX_BYTES_VALUE_BYTES - value.len()));
        let record = ProducerRecord::new(&t).key("k").value(value).partition(0);
        // One produce each, so every record is its own batch and the limits cut between them.
        ctx.produce_ok(std::slice::from_ref(&record), all_acks()).await?;
        recs.push(record);
    }
    let opts = ReaderOpts { reset: OffsetReset::Earliest, max_bytes: Some(MAX_BYTES_LIMIT) };
    let got = ctx.read_all(&t, MAX_BYTES_RECORDS, Some(vec![0]), opts).await?;
    let offsets: Vec<i64> = got.iter().map(|m| m.offset).collect();
    check!(offsets == (0..MAX_BYTES_RECORDS as i64).collect::<Vec<_>>(), "offsets {offsets:?}");
    check!(got.iter().zip(&recs).all(|(m, r)| m.value == r.value), "values differ");
    Ok(format!("{} x 10 KiB records with 15000-byte fetch limits", got.len()))
}
