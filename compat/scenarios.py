"""The one fixed list of report-card scenarios, in card order.

Every client adapter implements the scenarios its client can express, under these ids, with
these checks, and judges its own result (the adapters live in compat/<client>/). A scenario
a client has no API for is reported as "skip" with the reason; one the card runs but the
adapter does not report is "missing" (a broken adapter, shown as a failure).

Adapter protocol (every language): `ADAPTER --bootstrap HOST:PORT --scenarios ID,ID,...
--run-id RUN` prints JSON lines on stdout:
  {"client": NAME, "version": CLIENT_VERSION}                      first
  {"scenario": ID, "status": "pass"|"fail"|"skip", "detail": TEXT, "elapsed_s": SECONDS}
Each scenario makes its own topics and groups (names carry the run id) and bounds every wait.
Group scenarios use session.timeout.ms 6000 (Kafka's minimum) and heartbeats every 500 ms.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    id: str
    area: str
    checks: str
    # Which broker the scenario needs: "card" (auto topic creation on, the default) or
    # "noauto" (auto.create.topics.enable=false).
    broker: str = "card"


SCENARIOS = [
    # ---------------------------------------------------------------- admin
    Scenario("admin.create_topic", "Admin",
             "create a 3-partition topic; creating it again fails with TOPIC_ALREADY_EXISTS"),
    Scenario("admin.describe_topic", "Admin",
             "describe (or list/metadata) shows the new topic with 3 partitions, each with a leader"),
    Scenario("admin.describe_configs", "Admin",
             "topic created with retention.ms=3600000: DescribeConfigs returns that value and cleanup.policy=delete"),
    Scenario("admin.alter_configs", "Admin",
             "set retention.ms=7200000 on a topic (incremental or legacy alter); DescribeConfigs then returns it"),
    Scenario("admin.create_partitions", "Admin",
             "a 1-partition topic grows to 3 partitions; metadata then shows 3"),
    Scenario("admin.delete_topic", "Admin",
             "delete a topic; it disappears from the topic listing within 15 s"),
    # ---------------------------------------------------------------- produce
    Scenario("produce.acks_0", "Produce", "10 keyed records with acks=0, all read back once, same key same partition"),
    Scenario("produce.acks_1", "Produce", "10 keyed records with acks=1, read back once with the acknowledged offsets"),
    Scenario("produce.acks_all", "Produce", "10 keyed records with acks=all, read back once with the acknowledged offsets"),
    Scenario("produce.headers", "Produce",
             "a keyed record with headers [h=1, h=2, x=''] reads back with the key and all three headers in order"),
    Scenario("produce.gzip", "Produce", "10 records compressed with gzip read back intact"),
    Scenario("produce.snappy", "Produce", "10 records compressed with snappy read back intact"),
    Scenario("produce.lz4", "Produce", "10 records compressed with lz4 read back intact"),
    Scenario("produce.zstd", "Produce", "10 records compressed with zstd read back intact"),
    Scenario("produce.idempotent", "Produce",
             "an idempotent producer (acks=all) sends 20 records; each is read back exactly once"),
    Scenario("produce.record_too_large", "Produce",
             "topic max.message.bytes=16384: a 64 KiB record fails with MESSAGE_TOO_LARGE; a small one then succeeds"),
    Scenario("produce.unknown_topic_autocreate", "Produce",
             "broker auto-creates topics: producing to a new topic name succeeds and the topic then exists"),
    Scenario("produce.unknown_topic_no_autocreate", "Produce",
             "auto.create.topics.enable=false: producing to a new topic name fails (unknown topic or timeout) "
             "and the topic is not created", broker="noauto"),
    # ---------------------------------------------------------------- consume
    Scenario("consume.assign_seek", "Consume",
             "10 records in partition 0; assign it, seek to offset 5, read exactly offsets 5..9"),
    Scenario("consume.from_timestamp", "Consume",
             "5 records with timestamps t0, t0+1s, ...; offsets-for-times(t0+2s) is offset 2 and reading from it gives 2..4"),
    Scenario("consume.earliest", "Consume",
             "a consumer without committed offsets and auto.offset.reset=earliest reads all 10 existing records"),
    Scenario("consume.latest", "Consume",
             "auto.offset.reset=latest: positioned at the end, reads exactly the 5 records produced afterwards"),
    Scenario("consume.max_bytes", "Consume",
             "20 x 10 KiB records in separate batches, fetch.max.bytes=max.partition.fetch.bytes=15000: all read in order"),
    # ---------------------------------------------------------------- groups
    Scenario("group.auto_commit", "Groups",
             "group with auto commit every 500 ms reads 10 records; the committed offsets reach the end while it runs"),
    Scenario("group.manual_commit", "Groups",
             "commit after each poll; after close the committed offsets are the end offsets"),
    Scenario("group.no_commit", "Groups",
             "auto commit off and no commits: two runs of the group both read all 10 records, nothing committed"),
    Scenario("group.reset", "Groups",
             "after a full read and commit, a member seeks to the beginning and commits 0; the next run re-reads all 10"),
    Scenario("group.join", "Groups",
             "member a owns both partitions; member b joins; they settle on one partition each"),
    Scenario("group.leave", "Groups",
             "a and b own one partition each; b closes; a owns both within 5 s (not after the 6 s session timeout)"),
    Scenario("group.crash", "Groups",
             "member a (a child process) commits and is killed with SIGKILL; b joins, gets both partitions only "
             "after a's session expires, and reads only the records a had not committed"),
    Scenario("group.concurrent_joins", "Groups",
             "6 members start at once on a 6-partition topic; they settle with one partition each"),
    Scenario("group.static_membership", "Groups",
             "static members a and b (group.instance.id) own one partition each; b restarts with the same instance "
             "id within the session timeout and gets its partition back with no rebalance of a"),
    # ---------------------------------------------------------------- offsets
    Scenario("offsets.commit", "Offsets",
             "commit {p0: 3, p1: 2} with metadata for a group; an admin offset listing (or a new consumer) sees them"),
    Scenario("offsets.fetch", "Offsets",
             "committed() / OffsetFetch returns the committed offsets and the metadata string"),
    Scenario("offsets.reset", "Offsets",
             "an empty group that committed the end offsets is reset to earliest by the client's admin API or tool; "
             "committed offsets are then 0"),
    Scenario("offsets.delete", "Offsets",
             "OffsetDelete of partition 0 for an empty group: its committed offset is gone, partition 1's is kept"),
    Scenario("offsets.delete_group", "Offsets",
             "delete an empty group: it is no longer listed and its committed offsets are gone"),
]

BY_ID = {s.id: s for s in SCENARIOS}
AREAS = ["Admin", "Produce", "Consume", "Groups", "Offsets"]
STATUSES = ("pass", "fail", "skip")


def ids(broker: str | None = None) -> list[str]:
    return [s.id for s in SCENARIOS if broker is None or s.broker == broker]
