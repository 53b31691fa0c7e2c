//! The Admin scenarios: create, describe, configs, partitions and deletion of topics.

use std::collections::BTreeMap;
use std::time::Duration;

use runnel_client::admin::{AlterConfigOp, ConfigResource};

use crate::check;
use crate::ctx::{Ctx, WAIT};
use crate::outcome::{wait_until, Outcome, Step};

/// How long an altered config may take to show (adapterlib: 10 s).
const ALTER_VISIBLE: Duration = Duration::from_secs(10);
/// How long a deleted topic may stay listed (the scenario's 15 s).
const DELETE_GONE: Duration = Duration::from_secs(15);

pub async fn create_topic(ctx: &Ctx) -> Step<String> {
    let t = ctx.topic("create", 3, &[]).await?;
    let again = ctx.create_topic(&t, 3, &[]).await?;
    check!(
        again.as_deref() == Some("TOPIC_ALREADY_EXISTS"),
        "second create answered {again:?}, expected TOPIC_ALREADY_EXISTS"
    );
    Ok("created; second create: TOPIC_ALREADY_EXISTS".into())
}

pub async fn describe_topic(ctx: &Ctx) -> Step<String> {
    let t = ctx.topic("describe", 3, &[]).await?;
    let parts = ctx.topic_partitions(&t).await?;
    check!(
        parts.keys().copied().collect::<Vec<_>>() == [0, 1, 2] && parts.values().all(|l| l.is_some_and(|l| l >= 0)),
        "{parts:?}"
    );
    check!(ctx.list_topics().await?.contains(&t), "topic not listed");
    Ok(format!("partitions/leaders {parts:?}"))
}

pub async fn describe_configs(ctx: &Ctx) -> Step<String> {
    let t = ctx.topic("configs", 1, &[("retention.ms", "3600000")]).await?;
    let cfg = ctx.describe_configs(&t).await?;
    check!(cfg.get("retention.ms").map(String::as_str) == Some("3600000"), "retention.ms={:?}", cfg.get("retention.ms"));
    check!(
        cfg.get("cleanup.policy").map(String::as_str) == Some("delete"),
        "cleanup.policy={:?}",
        cfg.get("cleanup.policy")
    );
    Ok(format!("{} configs", cfg.len()))
}

pub async fn alter_configs(ctx: &Ctx) -> Step<String> {
    let t = ctx.topic("alter", 1, &[]).await?;
    let resource = ConfigResource::topic(&t);
    let changes = BTreeMap::from([(resource.clone(), vec![AlterConfigOp::Set("retention.ms".into(), "7200000".into())])]);
    let mut results = ctx.admin.incremental_alter_configs(&changes, false).await?;
    results.remove(&resource).ok_or_else(|| Outcome::Fail("IncrementalAlterConfigs answered nothing".into()))??;
    wait_until(ALTER_VISIBLE, "retention.ms=7200000 visible", || async {
        Ok((ctx.describe_configs(&t).await?.get("retention.ms").map(String::as_str) == Some("7200000")).then_some(()))
    })
    .await?;
    Ok("retention.ms=7200000".into())
}

pub async fn create_partitions(ctx: &Ctx) -> Step<String> {
    let t = ctx.topic("grow", 1, &[]).await?;
    let mut results = ctx.admin.create_partitions(&BTreeMap::from([(t.clone(), 3)]), false).await?;
    results.remove(&t).ok_or_else(|| Outcome::Fail("CreatePartitions answered nothing".into()))??;
    wait_until(WAIT, "3 partitions in metadata", || async { Ok((ctx.topic_partitions(&t).await?.len() == 3).then_some(())) })
        .await?;
    Ok("1 -> 3 partitions".into())
}

pub async fn delete_topic(ctx: &Ctx) -> Step<String> {
    let t = ctx.topic("delete", 1, &[]).await?;
    let mut results = ctx.admin.delete_topics(std::slice::from_ref(&t)).await?;
    results.remove(&t).ok_or_else(|| Outcome::Fail("DeleteTopics answered nothing".into()))??;
    wait_until(DELETE_GONE, &format!("{t} gone from the listing"), || async {
        Ok((!ctx.list_topics().await?.contains(&t)).then_some(()))
    })
    .await?;
    Ok("deleted".into())
}
