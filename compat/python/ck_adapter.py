#!/usr/bin/env python3
"""Report-card adapter for confluent-kafka (librdkafka): the driver behind adapterlib.py."""

from __future__ import annotations

import time

import confluent_kafka
from confluent_kafka import (OFFSET_BEGINNING, OFFSET_INVALID, Consumer, ConsumerGroupTopicPartitions, KafkaError,
                             KafkaException, Producer, TopicPartition)
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewPartitions,
                                   NewTopic, ResourceType)

from adapterlib import (AUTO_COMMIT_INTERVAL_MS, HEARTBEAT_INTERVAL_MS, SESSION_TIMEOUT_MS, Msg,
                        Unsupported, main)

OP_TIMEOUT_S = 30.0


def _msg(m) -> Msg:
    _ts_type, ts = m.timestamp()
    return Msg(m.partition(), m.offset(), m.key(), m.value(), list(m.headers() or []), ts)


def _poll(c, timeout_s) -> list[Msg]:
    out = []
    deadline = time.monotonic() + timeout_s
    while True:
        m = c.poll(max(0.0, deadline - time.monotonic()))
        if m is None:
            return out
        if m.error() is not None:
            if m.error().code() == KafkaError._PARTITION_EOF:
                continue
            raise KafkaException(m.error())
        out.append(_msg(m))
        if time.monotonic() >= deadline:
            return out


class Reader:
    def __init__(self, bootstrap, topic, reset, max_bytes):
        conf = {"bootstrap.servers": bootstrap, "group.id": f"unused-{topic}", "enable.auto.commit": False,
                "enable.auto.offset.store": False, "auto.offset.reset": reset}
        if max_bytes:
            # librdkafka insists on message.max.bytes <= fetch.max.bytes.
            conf.update({"fetch.max.bytes": max_bytes, "max.partition.fetch.bytes": max_bytes,
                         "message.max.bytes": max_bytes})
        self.topic = topic
        self.c = Consumer(conf)
        self.offsets: dict[int, int] = {}
        self.buffer: list[Msg] = []

    def _assign(self):
        self.c.assign([TopicPartition(self.topic, p, o) for p, o in sorted(self.offsets.items())])

    def assign(self, parts):
        self.offsets = {p: OFFSET_INVALID for p in parts}
        self._assign()

    def seek(self, p, off):
        self.offsets[p] = off
        self._assign()

    def position(self, p):
        # librdkafka reports a position only after a record was consumed; a fetcher that
        # has reset to latest has none. After a second of polling (the reset's ListOffsets
        # is done by then) the high watermark stands in; consume.latest still fails if the
        # reset came late, because the records produced next would then be skipped.
        tp = TopicPartition(self.topic, p)
        off = self.c.position([tp])[0].offset
        if off >= 0:
            return off
        self.buffer.extend(_poll(self.c, 1.0))
        off = self.c.position([tp])[0].offset
        if off >= 0:
            return off
        return self.c.get_watermark_offsets(tp, timeout=OP_TIMEOUT_S, cached=False)[1]

    def offset_for_time(self, p, ts):
        return self.c.offsets_for_times([TopicPartition(self.topic, p, ts)], timeout=OP_TIMEOUT_S)[0].offset

    def poll(self, timeout_s):
        out, self.buffer = self.buffer, []
        return out + _poll(self.c, timeout_s)

    def close(self):
        self.c.close()


class Member:
    def __init__(self, bootstrap, topic, group, auto_commit, reset, instance_id):
        conf = {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": auto_commit,
                "auto.commit.interval.ms": AUTO_COMMIT_INTERVAL_MS, "auto.offset.reset": reset,
                "session.timeout.ms": SESSION_TIMEOUT_MS, "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS,
                "max.poll.interval.ms": 20000}
        if instance_id is not None:
            conf["group.instance.id"] = instance_id
        self.topic = topic
        self.c = Consumer(conf)
        self.c.subscribe([topic])

    def poll(self, timeout_s):
        return _poll(self.c, timeout_s)

    def assignment(self):
        return [tp.partition for tp in self.c.assignment()]

    def commit(self, offsets=None, metadata=None):
        if offsets is None:
            self.c.commit(asynchronous=False)
        else:
            self.c.commit(offsets=[TopicPartition(self.topic, p, o, *([metadata] if metadata else []))
                                   for p, o in offsets.items()],
                          asynchronous=False)

    def committed(self, parts):
        res = self.c.committed([TopicPartition(self.topic, p) for p in parts], timeout=OP_TIMEOUT_S)
        return {tp.partition: (tp.offset, tp.metadata) for tp in res}

    def seek_to_beginning(self):
        for tp in self.c.assignment():
            self.c.seek(TopicPartition(tp.topic, tp.partition, OFFSET_BEGINNING))

    def close(self):
        self.c.close()


def _result(futures):
    return {k: f.result(timeout=OP_TIMEOUT_S) for k, f in futures.items()}


class Driver:
    def __init__(self, bootstrap):
        self.bs = bootstrap
        self.admin = AdminClient({"bootstrap.servers": bootstrap})

    def version(self):
        return f"{confluent_kafka.__version__} (librdkafka {confluent_kafka.libversion()[0]})"

    def close(self):
        pass

    def create_topic(self, name, partitions, configs=None):
        fut = self.admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1,
                                                 config=configs or {})], operation_timeout=OP_TIMEOUT_S)[name]
        try:
            fut.result(timeout=OP_TIMEOUT_S)
        except KafkaException as e:
            return e.args[0].name()
        return None

    def topic_partitions(self, name):
        md = self.admin.list_topics(timeout=OP_TIMEOUT_S)
        t = md.topics.get(name)
        if t is None or t.error is not None:
            return {}
        return {p: pm.leader for p, pm in t.partitions.items()}

    def list_topics(self):
        return set(self.admin.list_topics(timeout=OP_TIMEOUT_S).topics)

    def describe_configs(self, name):
        res = _result(self.admin.describe_configs([ConfigResource(ResourceType.TOPIC, name)]))
        cfg = next(iter(res.values()))
        return {k: e.value for k, e in cfg.items()}

    def alter_configs(self, name, configs):
        entries = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in configs.items()]
        _result(self.admin.incremental_alter_configs([ConfigResource(ResourceType.TOPIC, name,
                                                                     incremental_configs=entries)]))

    def create_partitions(self, name, total):
        _result(self.admin.create_partitions([NewPartitions(name, total)], operation_timeout=OP_TIMEOUT_S))

    def delete_topic(self, name):
        _result(self.admin.delete_topics([name], operation_timeout=OP_TIMEOUT_S))

    def produce(self, topic, recs, acks=-1, codec=None, idempotent=False, timeout_s=30):
        p = Producer({"bootstrap.servers": self.bs, "acks": acks, "compression.type": codec or "none",
                      "enable.idempotence": bool(idempotent), "linger.ms": 5,
                      "message.timeout.ms": int(timeout_s * 1000)})
        out = [{"partition": None, "offset": None, "error": None} for _ in recs]

        def report(i):
            def cb(err, msg):
                if err is not None:
                    out[i]["error"] = f"{err.name()}: {err.str()}"
                else:
                    out[i]["partition"], out[i]["offset"] = msg.partition(), msg.offset()
            return cb

        for i, r in enumerate(recs):
            kw = {}
            if r.partition is not None:
                kw["partition"] = r.partition
            if r.timestamp_ms is not None:
                kw["timestamp"] = r.timestamp_ms
            try:
                p.produce(topic, key=r.key, value=r.value, headers=r.headers or None, on_delivery=report(i), **kw)
            except (KafkaException, BufferError) as e:
                out[i]["error"] = f"{type(e).__name__}: {e}"
        left = p.flush(timeout_s + 5)
        for o in out:
            if left and o["offset"] is None and o["error"] is None:
                o["error"] = "not delivered before the flush timeout"
        return out

    def reader(self, topic, reset="earliest", max_bytes=None):
        return Reader(self.bs, topic, reset, max_bytes)

    def member(self, topic, group, auto_commit=False, reset="earliest", instance_id=None):
        return Member(self.bs, topic, group, auto_commit, reset, instance_id)

    def group_offsets(self, group, topic, parts):
        req = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in parts])
        res = _result(self.admin.list_consumer_group_offsets([req]))[group]
        return {tp.partition: tp.offset for tp in res.topic_partitions}

    def alter_group_offsets(self, group, topic, offsets):
        req = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p, o) for p, o in offsets.items()])
        res = _result(self.admin.alter_consumer_group_offsets([req]))[group]
        bad = [tp for tp in res.topic_partitions if tp.error is not None]
        if bad:
            raise RuntimeError(f"alter offsets: {bad}")

    def delete_group_offsets(self, group, topic, parts):
        raise Unsupported("confluent-kafka's AdminClient has no OffsetDelete call")

    def delete_group(self, group):
        _result(self.admin.delete_consumer_groups([group], request_timeout=OP_TIMEOUT_S))

    def list_groups(self):
        res = self.admin.list_consumer_groups(request_timeout=OP_TIMEOUT_S).result(timeout=OP_TIMEOUT_S)
        return {g.group_id for g in res.valid}


if __name__ == "__main__":
    main(Driver, "confluent-kafka")
