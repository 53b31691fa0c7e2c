//! The Offsets scenarios: a member's explicit commit with metadata, and the admin client's
//! group offset listing, reset, deletion and group deletion.

use std::collections::BTreeMap;

use runnel_client::admin::{OffsetAndMetadata, TopicPartition};
use runnel_client::producer::Acks;

use crate::check;
use crate::ctx::{Ctx, ProduceOpts, COUNT, PARTITIONS, WAIT};
use crate::member::MemberOpts;
use crate::outcome::{wait_until, Outcome, Step};
use crate::scenarios::groups::{finish, full_read_commit};

const METADATA: &str = "m-compat";

fn all_acks() -> ProduceOpts {
    ProduceOpts::acks(Acks::All)
}

/// A topic with 10 records and an empty group that committed the end offsets.
async fn committed_group(ctx: &Ctx, stem: &str) -> Step<(String, String, BTreeMap<i32, i64>)> {
    let t = ctx.topic(stem, PARTITIONS, &[]).await?;
    let g = format!("{t}-g");
    let recs = ctx.records(&t, COUNT, "r");
    let ends = Ctx::ends(&ctx.produce_ok(&recs, all_acks()).await?);
    full_read_commit(ctx, &t, &g, &recs, "reader").await?;
    check!(ctx.committed(&g, &t).await? == ends, "setup: ends not committed");
    Ok((t, g, ends))
}

/// A member commits {p0: 3, p1: 2} with metadata and reads them back with committed().
async fn commit_explicit(ctx: &Ctx) -> Step<(String, String, BTreeMap<i32, Option<OffsetAndMetadata>>)> {
    let t = ctx.topic("commit", PARTITIONS, &[]).await?;
    let g = format!("{t}-g");
    ctx.produce_ok(&ctx.records(&t, COUNT, "r"), all_acks()).await?;
    let mut a = ctx.member(&t, &g, "a", MemberOpts::default());
    let body = async {
        wait_until(WAIT, "a assigned", || async {
            a.check_alive()?;
            Ok(a.owns(&[0, 1]).then_some(()))
        })
        .await?;
        a.commit_offsets(BTreeMap::from([(0, 3), (1, 2)]), METADATA).await?;
        a.committed(vec![0, 1]).await
    }
    .await;
    let fetched = finish(body, std::slice::from_mut(&mut a)).await?;
    Ok((t, g, fetched))
}

pub async fn commit(ctx: &Ctx) -> Step<String> {
    let (t, g, _) = commit_explicit(ctx).await?;
    let got = ctx.committed(&g, &t).await?;
    check!(got == BTreeMap::from([(0, 3), (1, 2)]), "admin sees {got:?}");
    Ok("admin sees {0: 3, 1: 2}".into())
}

pub async fn fetch(ctx: &Ctx) -> Step<String> {
    let (_t, _g, fetched) = commit_explicit(ctx).await?;
    let offsets: BTreeMap<i32, Option<i64>> = fetched.iter().map(|(p, o)| (*p, o.as_ref().map(|o| o.offset))).collect();
    check!(offsets == BTreeMap::from([(0, Some(3)), (1, Some(2))]), "committed() {fetched:?}");
    let metas: BTreeMap<i32, Option<&str>> =
        fetched.iter().map(|(p, o)| (*p, o.as_ref().map(|o| o.metadata.as_str()))).collect();
    check!(metas.values().all(|m| *m == Some(METADATA)), "metadata {metas:?}");
    Ok(format!("committed(): {offsets:?} with metadata {METADATA:?}"))
}

pub async fn reset(ctx: &Ctx) -> Step<String> {
    let (t, g, _ends) = committed_group(ctx, "oreset").await?;
    let zero: BTreeMap<TopicPartition, OffsetAndMetadata> =
        (0..PARTITIONS).map(|p| (TopicPartition::new(&t, p), OffsetAndMetadata::new(0))).collect();
    for (tp, result) in ctx.admin.alter_group_offsets(&g, &zero).await? {
        result.map_err(|e| Outcome::Fail(format!("reset {tp}: {e}")))?;
    }
    let got = ctx.committed(&g, &t).await?;
    check!(got == BTreeMap::from([(0, 0), (1, 0)]), "after reset {got:?}");
    Ok("reset to {0: 0, 1: 0}".into())
}

pub async fn delete(ctx: &Ctx) -> Step<String> {
    let (t, g, ends) = committed_group(ctx, "odelete").await?;
    for (tp, result) in ctx.admin.delete_group_offsets(&g, &[TopicPartition::new(&t, 0)]).await? {
        result.map_err(|e| Outcome::Fail(format!("delete {tp}: {e}")))?;
    }
    let got = ctx.committed(&g, &t).await?;
    check!(got.get(&0).is_some_and(|o| *o < 0) && got.get(&1) == ends.get(&1), "after delete {got:?} (ends {ends:?})");
    Ok(format!("partition 0 gone, partition 1 kept at {}", ends[&1]))
}

pub async fn delete_group(ctx: &Ctx) -> Step<String> {
    let (t, g, _ends) = committed_group(ctx, "odelgroup").await?;
    check!(ctx.list_groups().await?.contains(&g), "group not listed before the delete");
    let mut results = ctx.admin.delete_groups(std::slice::from_ref(&g)).await?;
    results.remove(&g).ok_or_else(|| Outcome::Fail("DeleteGroups answered nothing".into()))??;
    check!(!ctx.list_groups().await?.contains(&g), "group still listed");
    let got = ctx.committed(&g, &t).await?;
    check!(got.values().all(|o| *o < 0), "offsets left {got:?}");
    Ok("deleted; offsets gone".into())
}
