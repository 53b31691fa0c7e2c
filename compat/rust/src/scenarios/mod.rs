//! The scenario table: each id of compat/scenarios.py mapped to its implementation. An id
//! this adapter does not know is reported as a skip, as adapterlib does.

mod admin;
mod consume;
pub mod groups;
mod offsets;
mod produce;

use runnel_client::producer::{Acks, Compression};

use crate::ctx::Ctx;
use crate::outcome::{Outcome, Step};

/// Runs one scenario; its detail text when it passes.
pub async fn run(ctx: &Ctx, id: &str) -> Step<String> {
    match id {
        "admin.create_topic" => admin::create_topic(ctx).await,
        "admin.describe_topic" => admin::describe_topic(ctx).await,
        "admin.describe_configs" => admin::describe_configs(ctx).await,
        "admin.alter_configs" => admin::alter_configs(ctx).await,
        "admin.create_partitions" => admin::create_partitions(ctx).await,
        "admin.delete_topic" => admin::delete_topic(ctx).await,
        "produce.acks_0" => produce::acks(ctx, Acks::None).await,
        "produce.acks_1" => produce::acks(ctx, Acks::Leader).await,
        "produce.acks_all" => produce::acks(ctx, Acks::All).await,
        "produce.headers" => produce::headers(ctx).await,
        "produce.gzip" => produce::codec(ctx, Compression::Gzip).await,
        "produce.snappy" => produce::codec(ctx, Compression::Snappy).await,
        "produce.lz4" => produce::codec(ctx, Compression::Lz4).await,
        "produce.zstd" => produce::codec(ctx, Compression::Zstd).await,
        "produce.idempotent" => produce::idempotent(ctx).await,
        "produce.record_too_large" => produce::record_too_large(ctx).await,
        "produce.unknown_topic_autocreate" => produce::unknown_topic_autocreate(ctx).await,
        "produce.unknown_topic_no_autocreate" => produce::unknown_topic_no_autocreate(ctx).await,
        "consume.assign_seek" => consume::assign_seek(ctx).await,
        "consume.from_timestamp" => consume::from_timestamp(ctx).await,
        "consume.earliest" => consume::earliest(ctx).await,
        "consume.latest" => consume::latest(ctx).await,
        "consume.max_bytes" => consume::max_bytes(ctx).await,
        "group.auto_commit" => groups::auto_commit(ctx).await,
        "group.manual_commit" => groups::manual_commit(ctx).await,
        "group.no_commit" => groups::no_commit(ctx).await,
        "group.reset" => groups::reset(ctx).await,
        "group.join" => groups::join(ctx).await,
        "group.leave" => groups::leave(ctx).await,
        "group.crash" => groups::crash(ctx).await,
        "group.concurrent_joins" => groups::concurrent_joins(ctx).await,
        "group.static_membership" => groups::static_membership(ctx).await,
        "offsets.commit" => offsets::commit(ctx).await,
        "offsets.fetch" => offsets::fetch(ctx).await,
        "offsets.reset" => offsets::reset(ctx).await,
        "offsets.delete" => offsets::delete(ctx).await,
        "offsets.delete_group" => offsets::delete_group(ctx).await,
        _ => Err(Outcome::Skip("not in this adapter".into())),
    }
}
