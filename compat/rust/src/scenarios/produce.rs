//! The Produce scenarios: acks, headers, codecs, idempotence, the size limit and topic
//! auto-creation.

use std::time::Duration;

use bytes::Bytes;
use runnel_client::producer::{Acks, Compression, ProducerRecord};

use crate::check;
use crate::ctx::{Ctx, ProduceOpts, ReaderOpts, COUNT, PARTITIONS, WAIT};
use crate::outcome::{wait_until, Step};

const TOO_LARGE_TOPIC_MAX_BYTES: usize = 16_384;
const TOO_LARGE_VALUE_BYTES: usize = 64 * 1024;
const TOO_LARGE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a produce to a topic that cannot be created may try (adapterlib: 8 s).
const NO_AUTOCREATE_TIMEOUT: Duration = Duration::from_secs(8);
/// How long an auto-created topic may take to show in the listing.
const AUTOCREATE_LISTED: Duration = Duration::from_secs(5);
const IDEMPOTENT_COUNT: usize = 20;
const ERROR_SHOWN_CHARS: usize = 120;

pub async fn acks(ctx: &Ctx, acks: Acks) -> Step<String> {
    let stem = match acks {
        Acks::None => "acks0",
        Acks::Leader => "acks1",
        Acks::All => "acks-1",
    };
    let t = ctx.topic(stem, PARTITIONS, &[]).await?;
    let recs = ctx.records(&t, COUNT, "r");
    let acked = ctx.produce_ok(&recs, ProduceOpts::acks(acks)).await?;
    let acked = (acks != Acks::None).then_some(&acked[..]);
    ctx.roundtrip(&t, &recs, acked).await
}

pub async fn headers(ctx: &Ctx) -> Step<String> {
    let t = ctx.topic("headers", 1, &[]).await?;
    let record = ProducerRecord::new(&t).key("k").value("v-headers").header("h", "1").header("h", "2").header("x", "");
    ctx.produce_ok(&[record], ProduceOpts::acks(Acks::All)).await?;
    let got = ctx.read_all(&t, 1, None, ReaderOpts::default()).await?;
    check!(got.len() == 1, "read {} records", got.len());
    let m = &got[0];
    let sent = [("h", &b"1"[..]), ("h", &b"2"[..]), ("x", &b""[..])];
    let read: Vec<(&str, &[u8])> =
        m.headers.iter().map(|h| (h.key.as_str(), h.value.as_deref().unwrap_or_default())).collect();
    check!(m.key.as_deref() == Some(&b"k"[..]), "key {:?}", m.key);
    check!(read == sent, "headers read back {:?}, sent {sent:?}", m.headers);
    Ok("key and 3 headers (duplicate key h) intact".into())
}

pub async fn codec(ctx: &Ctx, compression: Compression) -> Step<String> {
    let t = ctx.topic(compression.name(), PARTITIONS, &[]).await?;
    let recs = ctx.records(&t, COUNT, "r");
    let opts = ProduceOpts { compression, ..ProduceOpts::acks(Acks::All) };
    let acked = ctx.produce_ok(&recs, opts).await?;
    ctx.roundtrip(&t, &recs, Some(&acked)).await
}

pub async fn idempotent(ctx: &Ctx) -> Step<String> {
    let t = ctx.topic("idem", PARTITIONS, &[]).await?;
    let recs = ctx.records(&t, IDEMPOTENT_COUNT, "r");
    let opts = ProduceOpts { idempotent: Some(true), ..ProduceOpts::acks(Acks::All) };
    let acked = ctx.produce_ok(&recs, opts).await?;
    ctx.roundtrip(&t, &recs, Some(&acked)).await
}

pub async fn record_too_large(ctx: &Ctx) -> Step<String> {
    let limit = TOO_LARGE_TOPIC_MAX_BYTES.to_string();
    let t = ctx.topic("large", 1, &[("max.message.bytes", &limit)]).await?;
    let big = ProducerRecord::new(&t).key("big").value(noise(TOO_LARGE_VALUE_BYTES));
    let out = ctx.produce(&[big], ProduceOpts { timeout: TOO_LARGE_TIMEOUT, ..ProduceOpts::acks(Acks::All) }).await?;
    let error = out.first().and_then(|a| a.error.clone()).unwrap_or_default();
    check!(!error.is_empty(), "64 KiB record into max.message.bytes={limit} was accepted: {out:?}");
    check!(error.contains("MESSAGE_TOO_LARGE"), "error is not MESSAGE_TOO_LARGE: {error}");
    ctx.produce_ok(&[ProducerRecord::new(&t).key("small").value("fits")], ProduceOpts::acks(Acks::All)).await?;
    Ok(format!("rejected: {}", shorten(&error)))
}

pub async fn unknown_topic_autocreate(ctx: &Ctx) -> Step<String> {
    let t = ctx.name("auto");
    let record = ProducerRecord::new(&t).key("k").value("auto-created");
    let acked = ctx.produce_ok(&[record], ProduceOpts { timeout: WAIT, ..ProduceOpts::acks(Acks::All) }).await?;
    // Kafka lists a topic once its creation is complete; the produce only needed its leader.
    wait_until(AUTOCREATE_LISTED, "topic listed after the produce", || async {
        Ok(ctx.list_topics().await?.contains(&t).then_some(()))
    })
    .await?;
    Ok(format!("auto-created, record at {}", acked[0].offset))
}

pub async fn unknown_topic_no_autocreate(ctx: &Ctx) -> Step<String> {
    let t = ctx.name("noauto");
    let record = ProducerRecord::new(&t).key("k").value("nowhere");
    let out = ctx.produce(&[record], ProduceOpts { timeout: NO_AUTOCREATE_TIMEOUT, ..ProduceOpts::acks(Acks::All) }).await?;
    let error = out.first().and_then(|a| a.error.clone());
    check!(error.is_some(), "produce to a missing topic succeeded: {out:?}");
    check!(!ctx.list_topics().await?.contains(&t), "the topic was created anyway");
    Ok(format!("refused: {}", shorten(&error.unwrap_or_default())))
}

/// Incompressible bytes (xorshift64 over a random seed), like adapterlib's os.urandom.
fn noise(len: usize) -> Bytes {
    let mut state = uuid::Uuid::new_v4().as_u64_pair().0 | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

fn shorten(text: &str) -> String {
    text.chars().take(ERROR_SHOWN_CHARS).collect()
}
