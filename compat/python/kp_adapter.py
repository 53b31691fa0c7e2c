#!/usr/bin/env python3
"""Report-card adapter for kafka-python: 3.x (in .venv) and 2.0.2 (in .venv-kp2), one file.

The scenarios are in adapterlib.py; this is the kafka-python driver. Where the two versions'
admin APIs differ (3.x renamed and added calls), the driver asks for the 3.x name first.
"""

from __future__ import annotations


import kafka
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewPartitions, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata

from adapterlib import (AUTO_COMMIT_INTERVAL_MS, HEARTBEAT_INTERVAL_MS, SESSION_TIMEOUT_MS, Msg, Unsupported,
                        main)

V3 = not kafka.__version__.startswith("2.")
CODECS = {None: None, "gzip": "gzip", "snappy": "snappy", "lz4": "lz4", "zstd": "zstd"}


def _offset_and_metadata(offset: int, metadata: str):
    # 3.x added leader_epoch to OffsetAndMetadata.
    try:
        return OffsetAndMetadata(offset, metadata, -1)
    except TypeError:
        return OffsetAndMetadata(offset, metadata)


def _msgs(polled) -> list[Msg]:
    out = []
    for _tp, recs in polled.items():
        for m in recs:
            out.append(Msg(m.partition, m.offset, m.key, m.value, list(m.headers or []), m.timestamp))
    return out


class Reader:
    def __init__(self, bootstrap, topic, reset, max_bytes):
        extra = {}
        if max_bytes:
            extra = {"fetch_max_bytes": max_bytes, "max_partition_fetch_bytes": max_bytes}
        self.topic = topic
        self.c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                               auto_offset_reset=reset, **extra)

    def assign(self, parts):
        self.c.assign([TopicPartition(self.topic, p) for p in parts])

    def seek(self, p, off):
        self.c.seek(TopicPartition(self.topic, p), off)

    def position(self, p):
        try:
            return self.c.position(TopicPartition(self.topic, p))
        except KafkaError:
            return None

    def offset_for_time(self, p, ts):
        tp = TopicPartition(self.topic, p)
        res = self.c.offsets_for_times({tp: ts})[tp]
        return None if res is None else res.offset

    def poll(self, timeout_s):
        return _msgs(self.c.poll(timeout_ms=int(timeout_s * 1000)))

    def close(self):
        self.c.close()


class Member:
    def __init__(self, bootstrap, topic, group, auto_commit, reset, instance_id):
        extra = {}
        if instance_id is not None:
            if not V3:
                raise Unsupported("kafka-python 2.0.2 has no group.instance.id (static membership)")
            extra["group_instance_id"] = instance_id
        self.topic = topic
        self.c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=auto_commit,
                               auto_commit_interval_ms=AUTO_COMMIT_INTERVAL_MS, auto_offset_reset=reset,
                               session_timeout_ms=SESSION_TIMEOUT_MS, heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
                               max_poll_interval_ms=20000, **extra)
        self.c.subscribe([topic])
        if V3:
            # A metadata round trip before the first poll(): kafka-python 3.0.x can otherwise
            # lose its own first rebalance (tests/clients/group_kp.py says how).
            self.c.topics()

    def poll(self, timeout_s):
        return _msgs(self.c.poll(timeout_ms=int(timeout_s * 1000)))

    def assignment(self):
        return [tp.partition for tp in self.c.assignment()]

    def commit(self, offsets=None, metadata=None):
        if offsets is None:
            self.c.commit()
        else:
            self.c.commit({TopicPartition(self.topic, p): _offset_and_metadata(o, metadata or "")
                           for p, o in offsets.items()})

    def committed(self, parts):
        out = {}
        for p in parts:
            tp = TopicPartition(self.topic, p)
            if V3:
                om = self.c.committed(tp, metadata=True)
                out[p] = (om.offset, om.metadata) if om is not None else (-1, None)
            else:
                out[p] = (self.c.committed(tp), None)
        return out

    def seek_to_beginning(self):
        self.c.seek_to_beginning()

    def close(self):
        self.c.close()


class Driver:
    def __init__(self, bootstrap):
        self.bs = bootstrap
        self.admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="compat-admin")

    def version(self):
        return kafka.__version__

    def close(self):
        self.admin.close()

    # admin
    def create_topic(self, name, partitions, configs=None):
        try:
            if V3:
                self.admin.create_topics({name: {"num_partitions": partitions, "replication_factor": 1,
                                                 "configs": configs or {}}})
            else:
                self.admin.create_topics([NewTopic(name, partitions, 1, topic_configs=configs or {})])
        except TopicAlreadyExistsError:
            return "TOPIC_ALREADY_EXISTS"
        return None

    def topic_partitions(self, name):
        try:
            topics = self.admin.describe_topics([name])
        except KafkaError:
            return {}
        for t in topics:
            if t.get("topic", t.get("name")) == name and not t.get("error_code"):
                return {p["partition"] if "partition" in p else p["partition_index"]: p.get("leader", p.get("leader_id"))
                        for p in t["partitions"]}
        return {}

    def list_topics(self):
        return set(self.admin.list_topics())

    def describe_configs(self, name):
        res = ConfigResource(ConfigResourceType.TOPIC, name)
        if V3:
            out = self.admin.describe_configs([res], config_filter="all")
        else:
            out = self.admin.describe_configs([res])
        resp = out[0] if isinstance(out, list) else out
        if isinstance(resp, dict):
            # 3.x: {"topic": {name: {key: {"value": ..., ...}}}}
            cfg = resp.get("topic", {}).get(name, {})
            return {k: (v.get("value") if isinstance(v, dict) else v) for k, v in cfg.items()}
        rows = resp.resources[0][4]
        return {r[0]: r[1] for r in rows}

    def alter_configs(self, name, configs):
        self.admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, name, configs=configs)])

    def create_partitions(self, name, total):
        self.admin.create_partitions({name: NewPartitions(total)})

    def delete_topic(self, name):
        self.admin.delete_topics([name])

    # produce / consume
    def produce(self, topic, recs, acks=-1, codec=None, idempotent=False, timeout_s=30):
        extra = {}
        if V3:
            extra["enable_idempotence"] = bool(idempotent)
        elif idempotent:
            raise Unsupported("kafka-python 2.0.2 has no idempotent producer")
        p = KafkaProducer(bootstrap_servers=self.bs, acks=("all" if acks == -1 else acks), compression_type=CODECS[codec],
                          max_block_ms=int(timeout_s * 1000), request_timeout_ms=int(timeout_s * 1000), linger_ms=5,
                          **extra)
        out = []
        try:
            futs = []
            for r in recs:
                try:
                    futs.append(p.send(topic, key=r.key, value=r.value, headers=r.headers or None,
                                       partition=r.partition, timestamp_ms=r.timestamp_ms))
                except Exception as e:  # noqa: BLE001 - recorded per record
                    futs.append(e)
            p.flush(timeout=timeout_s)
            for f in futs:
                if isinstance(f, Exception):
                    out.append({"partition": None, "offset": None, "error": f"{type(f).__name__}: {f}"})
                    continue
                try:
                    md = f.get(timeout=timeout_s)
                    out.append({"partition": md.partition, "offset": md.offset, "error": None})
                except Exception as e:  # noqa: BLE001
                    out.append({"partition": None, "offset": None, "error": f"{type(e).__name__}: {e}"})
        finally:
            p.close(timeout=5)
        return out

    def reader(self, topic, reset="earliest", max_bytes=None):
        return Reader(self.bs, topic, reset, max_bytes)

    def member(self, topic, group, auto_commit=False, reset="earliest", instance_id=None):
        return Member(self.bs, topic, group, auto_commit, reset, instance_id)

    # group admin
    def group_offsets(self, group, topic, parts):
        tps = [TopicPartition(topic, p) for p in parts]
        if V3:
            res = self.admin.list_group_offsets({group: tps})[group]
        else:
            res = self.admin.list_consumer_group_offsets(group, partitions=tps)
        return {tp.partition: (om.offset if om is not None else -1) for tp, om in res.items() if tp.topic == topic} | {
            p: -1 for p in parts if TopicPartition(topic, p) not in res}

    def group_offsets_metadata(self, group, topic, parts):
        tps = [TopicPartition(topic, p) for p in parts]
        if V3:
            res = self.admin.list_group_offsets({group: tps})[group]
        else:
            res = self.admin.list_consumer_group_offsets(group, partitions=tps)
        return {tp.partition: (om.offset, om.metadata) for tp, om in res.items() if tp.topic == topic}

    def alter_group_offsets(self, group, topic, offsets):
        if not V3:
            raise Unsupported("kafka-python 2.0.2's admin client cannot alter group offsets")
        self.admin.alter_group_offsets(group, {TopicPartition(topic, p): _offset_and_metadata(o, "")
                                               for p, o in offsets.items()})

    def delete_group_offsets(self, group, topic, parts):
        if not V3:
            raise Unsupported("kafka-python 2.0.2 has no OffsetDelete")
        self.admin.delete_group_offsets(group, [TopicPartition(topic, p) for p in parts])

    def delete_group(self, group):
        if V3:
            res = self.admin.delete_groups([group])
        else:
            res = self.admin.delete_consumer_groups([group])
        for item in (res if isinstance(res, list) else list(res.items()) if isinstance(res, dict) else []):
            err = item[1] if isinstance(item, tuple) else None
            if err not in (None, 0) and getattr(err, "errno", 0):
                raise RuntimeError(f"delete group: {err}")

    def list_groups(self):
        if V3:
            return {g["group_id"] if isinstance(g, dict) else g[0] for g in self.admin.list_groups()}
        return {g[0] for g in self.admin.list_consumer_groups()}


if __name__ == "__main__":
    main(Driver, "kafka-python")
