#!/usr/bin/env python3
"""Report-card adapter for aiokafka: the driver behind adapterlib.py.

aiokafka is asyncio-only; every client object lives on one event loop running in a
background thread, and the blocking driver calls hand coroutines to it.
"""

from __future__ import annotations

import asyncio
import threading

import aiokafka
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.structs import OffsetAndMetadata

from adapterlib import (AUTO_COMMIT_INTERVAL_MS, HEARTBEAT_INTERVAL_MS, SESSION_TIMEOUT_MS, Msg,
                        Unsupported, main)

CALL_TIMEOUT_S = 60.0

_loop = asyncio.new_event_loop()
threading.Thread(target=_loop.run_forever, daemon=True, name="aio-loop").start()


def run(coro, timeout_s: float = CALL_TIMEOUT_S):
    return asyncio.run_coroutine_threadsafe(coro, _loop).result(timeout_s)


def _msgs(polled) -> list[Msg]:
    return [Msg(m.partition, m.offset, m.key, m.value, list(m.headers or []), m.timestamp)
            for recs in polled.values() for m in recs]


class Reader:
    def __init__(self, bootstrap, topic, reset, max_bytes):
        extra = {"fetch_max_bytes": max_bytes, "max_partition_fetch_bytes": max_bytes} if max_bytes else {}
        self.topic = topic

        async def make():
            c = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                 auto_offset_reset=reset, **extra)
            await c.start()
            return c
        self.c = run(make())

    def assign(self, parts):
        async def go():
            self.c.assign([TopicPartition(self.topic, p) for p in parts])
        run(go())

    def seek(self, p, off):
        async def go():
            self.c.seek(TopicPartition(self.topic, p), off)
        run(go())

    def position(self, p):
        try:
            return run(self.c.position(TopicPartition(self.topic, p)), 5)
        except (KafkaError, TimeoutError):
            return None

    def offset_for_time(self, p, ts):
        tp = TopicPartition(self.topic, p)
        res = run(self.c.offsets_for_times({tp: ts}))[tp]
        return None if res is None else res.offset

    def poll(self, timeout_s):
        return _msgs(run(self.c.getmany(timeout_ms=int(timeout_s * 1000))))

    def close(self):
        run(self.c.stop())


class Member:
    def __init__(self, bootstrap, topic, group, auto_commit, reset, instance_id):
        self.topic = topic

        async def make():
            c = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, group_instance_id=instance_id,
                                 enable_auto_commit=auto_commit, auto_commit_interval_ms=AUTO_COMMIT_INTERVAL_MS,
                                 auto_offset_reset=reset, session_timeout_ms=SESSION_TIMEOUT_MS,
                                 heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS, max_poll_interval_ms=20000)
            await c.start()
            return c
        self.c = run(make())

    def poll(self, timeout_s):
        return _msgs(run(self.c.getmany(timeout_ms=int(timeout_s * 1000))))

    def assignment(self):
        return [tp.partition for tp in self.c.assignment()]

    def commit(self, offsets=None, metadata=None):
        if offsets is None:
            run(self.c.commit())
        else:
            run(self.c.commit({TopicPartition(self.topic, p): OffsetAndMetadata(o, metadata or "")
                               for p, o in offsets.items()}))

    def committed(self, parts):
        # aiokafka's committed() returns the offset only, never the metadata.
        return {p: (run(self.c.committed(TopicPartition(self.topic, p))), None) for p in parts}

    def seek_to_beginning(self):
        run(self.c.seek_to_beginning())

    def close(self):
        run(self.c.stop())


class Driver:
    def __init__(self, bootstrap):
        self.bs = bootstrap

        async def make():
            a = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="compat-admin")
            await a.start()
            return a
        self.admin = run(make())

    def version(self):
        return aiokafka.__version__

    def close(self):
        run(self.admin.close())

    def create_topic(self, name, partitions, configs=None):
        resp = run(self.admin.create_topics([NewTopic(name, partitions, 1, topic_configs=configs or {})]))
        for t in resp.topic_errors:
            if t[0] == name and t[1] != 0:
                return "TOPIC_ALREADY_EXISTS" if t[1] == TopicAlreadyExistsError.errno else f"error {t[1]}"
        return None

    def topic_partitions(self, name):
        try:
            topics = run(self.admin.describe_topics([name]))
        except KafkaError:
            return {}
        for t in topics:
            if t.get("topic") == name and not t.get("error_code"):
                return {p["partition"]: p["leader"] for p in t["partitions"]}
        return {}

    def list_topics(self):
        return set(run(self.admin.list_topics()))

    def describe_configs(self, name):
        resp = run(self.admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)]))
        rows = resp[0].resources[0][4]
        return {r[0]: r[1] for r in rows}

    def alter_configs(self, name, configs):
        resp = run(self.admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, name, configs=configs)]))
        for r in resp[0].resources:
            if r[0] != 0:
                raise RuntimeError(f"AlterConfigs error {r[0]}: {r[1]}")

    def create_partitions(self, name, total):
        resp = run(self.admin.create_partitions({name: NewPartitions(total)}))
        for r in resp.topic_errors:
            if r[1] != 0:
                raise RuntimeError(f"CreatePartitions error {r[1]}: {r[2]}")

    def delete_topic(self, name):
        run(self.admin.delete_topics([name]))

    def produce(self, topic, recs, acks=-1, codec=None, idempotent=False, timeout_s=30):
        async def go():
            p = AIOKafkaProducer(bootstrap_servers=self.bs, acks=("all" if acks == -1 else acks),
                                 compression_type=codec, enable_idempotence=bool(idempotent), linger_ms=5,
                                 request_timeout_ms=int(timeout_s * 1000))
            await p.start()
            out = []
            try:
                futs = []
                for r in recs:
                    try:
                        futs.append(await p.send(topic, key=r.key, value=r.value, partition=r.partition,
                                                 timestamp_ms=r.timestamp_ms, headers=r.headers or None))
                    except Exception as e:  # noqa: BLE001 - recorded per record
                        futs.append(e)
                for f in futs:
                    if isinstance(f, Exception):
                        out.append({"partition": None, "offset": None, "error": f"{type(f).__name__}: {f}"})
                        continue
                    try:
                        md = await asyncio.wait_for(f, timeout_s)
                        # acks=0: the future resolves to None (the broker sends no answer).
                        out.append({"partition": getattr(md, "partition", None), "offset": getattr(md, "offset", None),
                                    "error": None})
                    except Exception as e:  # noqa: BLE001
                        out.append({"partition": None, "offset": None, "error": f"{type(e).__name__}: {e}"})
            finally:
                await p.stop()
            return out
        return run(go(), timeout_s * 2 + 10)

    def reader(self, topic, reset="earliest", max_bytes=None):
        return Reader(self.bs, topic, reset, max_bytes)

    def member(self, topic, group, auto_commit=False, reset="earliest", instance_id=None):
        return Member(self.bs, topic, group, auto_commit, reset, instance_id)

    def group_offsets(self, group, topic, parts):
        tps = [TopicPartition(topic, p) for p in parts]
        res = run(self.admin.list_consumer_group_offsets(group, partitions=tps))
        return {p: (res[TopicPartition(topic, p)].offset if TopicPartition(topic, p) in res else -1) for p in parts}

    def group_offsets_metadata(self, group, topic, parts):
        res = run(self.admin.list_consumer_group_offsets(group, partitions=[TopicPartition(topic, p) for p in parts]))
        return {tp.partition: (om.offset, om.metadata) for tp, om in res.items() if tp.topic == topic}

    def alter_group_offsets(self, group, topic, offsets):
        raise Unsupported("aiokafka's admin client cannot alter group offsets")

    def delete_group_offsets(self, group, topic, parts):
        raise Unsupported("aiokafka has no OffsetDelete")

    def delete_group(self, group):
        raise Unsupported("aiokafka's admin client cannot delete groups")

    def list_groups(self):
        return {g[0] for g in run(self.admin.list_consumer_groups())}


if __name__ == "__main__":
    main(Driver, "aiokafka")
