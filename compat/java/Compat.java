// Report-card adapter for the Java client (kafka-clients 4.x): every scenario of
// compat/scenarios.py that the Java producer, consumer and Admin client can express, with the
// same checks as compat/python/adapterlib.py. Compiled by scripts/setup against the reference
// jars (.cache/kafka/libs); run as `java -cp BUILD:LIBS/* Compat --bootstrap B --scenarios ...`.
// Prints one JSON line per scenario (protocol in compat/scenarios.py).

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import java.util.function.*;

import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.*;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.*;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.*;
import org.apache.kafka.common.utils.AppInfoParser;

public class Compat {
    static final int SESSION_TIMEOUT_MS = 6000;
    static final int HEARTBEAT_INTERVAL_MS = 500;
    static final int AUTO_COMMIT_INTERVAL_MS = 500;
    static final long WAIT_MS = 30_000;
    static final long POLL_MS = 200;
    static final int COUNT = 10;
    static final int PARTITIONS = 2;
    static final long LEAVE_BOUND_MS = 5_000;
    static final int TOO_LARGE_TOPIC_MAX_BYTES = 16384;
    static final int TOO_LARGE_VALUE_BYTES = 64 * 1024;
    static final int MAX_BYTES_LIMIT = 15000;
    static final int MAX_BYTES_RECORDS = 20;
    static final int MAX_BYTES_VALUE_BYTES = 10 * 1024;
    static final int CONCURRENT_MEMBERS = 6;
    static final long TIMESTAMP_STEP_MS = 1000;
    static final long OP_TIMEOUT_S = 30;

    static String bootstrap;
    static String runId = "x";
    static Admin admin;
    static final Random random = new Random();

    static class Check extends RuntimeException { Check(String m) { super(m); } }
    static class Unsupported extends RuntimeException { Unsupported(String m) { super(m); } }

    static void check(boolean cond, String msg) { if (!cond) throw new Check(msg); }

    interface Cond<T> { T get() throws Exception; }

    static <T> T waitUntil(Cond<T> pred, long timeoutMs, String what) throws Exception {
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (true) {
            T v = pred.get();
            if (v != null && !(v instanceof Boolean && !((Boolean) v))) return v;
            if (System.currentTimeMillis() > deadline) throw new Check("not within " + timeoutMs / 1000 + "s: " + what);
            Thread.sleep(POLL_MS);
        }
    }

    // ------------------------------------------------------------------ helpers

    static String name(String stem) {
        return String.format("compat-java-%s-%s-%06x", stem, runId, random.nextInt(1 << 24));
    }

    static String topic(String stem, int partitions, Map<String, String> configs) throws Exception {
        String t = name(stem);
        admin.createTopics(List.of(new NewTopic(t, partitions, (short) 1).configs(configs))).all().get(OP_TIMEOUT_S, TimeUnit.SECONDS);
        waitUntil(() -> partitionsOf(t).size() == partitions, WAIT_MS, t + " has " + partitions + " partitions");
        return t;
    }

    static String topic(String stem, int partitions) throws Exception { return topic(stem, partitions, Map.of()); }

    static Map<Integer, Integer> partitionsOf(String t) throws Exception {
        try {
            TopicDescription d = admin.describeTopics(List.of(t)).allTopicNames().get(OP_TIMEOUT_S, TimeUnit.SECONDS).get(t);
            Map<Integer, Integer> out = new TreeMap<>();
            for (TopicPartitionInfo p : d.partitions()) out.put(p.partition(), p.leader() == null ? -1 : p.leader().id());
            return out;
        } catch (ExecutionException e) {
            if (e.getCause() instanceof UnknownTopicOrPartitionException) return Map.of();
            throw e;
        }
    }

    static Set<String> listTopics() throws Exception { return admin.listTopics().names().get(OP_TIMEOUT_S, TimeUnit.SECONDS); }

    static byte[] b(String s) { return s.getBytes(StandardCharsets.UTF_8); }
    static String s(byte[] b) { return b == null ? null : new String(b, StandardCharsets.UTF_8); }

    static class Rec {
        byte[] key, value; List<Header> headers = new ArrayList<>(); Integer partition; Long timestamp;
        Rec(byte[] k, byte[] v) { key = k; value = v; }
    }

    static List<Rec> records(int n, String tag) {
        List<Rec> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add(new Rec(b("key-" + (i % 5)), b(tag + "-" + i + "-" + runId)));
        return out;
    }

    static class Acked { Integer partition; Long offset; String error; }

    static List<Acked> produce(String topic, List<Rec> recs, String acks, String codec, boolean idempotent, long timeoutMs) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, acks);
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, String.valueOf(idempotent));
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, String.valueOf(timeoutMs));
        // delivery.timeout.ms must cover linger.ms + request.timeout.ms.
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, String.valueOf(timeoutMs));
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, String.valueOf(timeoutMs + 10));
        List<Acked> out = new ArrayList<>();
        try (KafkaProducer<byte[], byte[]> prod = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            List<Future<RecordMetadata>> futs = new ArrayList<>();
            List<String> sendErrors = new ArrayList<>();
            for (Rec r : recs) {
                try {
                    futs.add(prod.send(new ProducerRecord<>(topic, r.partition, r.timestamp, r.key, r.value, r.headers)));
                    sendErrors.add(null);
                } catch (KafkaException e) {
                    futs.add(null);
                    sendErrors.add(e.getClass().getSimpleName() + ": " + e.getMessage());
                }
            }
            prod.flush();
            for (int i = 0; i < futs.size(); i++) {
                Acked a = new Acked();
                if (futs.get(i) == null) a.error = sendErrors.get(i);
                else {
                    try {
                        RecordMetadata md = futs.get(i).get(timeoutMs + 5000, TimeUnit.MILLISECONDS);
                        a.partition = md.partition();
                        a.offset = md.hasOffset() ? md.offset() : null;
                    } catch (ExecutionException e) {
                        a.error = e.getCause().getClass().getSimpleName() + ": " + e.getCause().getMessage();
                    }
                }
                out.add(a);
            }
        }
        return out;
    }

    static List<Acked> produceOk(String topic, List<Rec> recs, String acks, String codec, boolean idem) throws Exception {
        List<Acked> out = produce(topic, recs, acks, codec, idem, 30000);
        for (Acked a : out) check(a.error == null, "produce error: " + a.error);
        return out;
    }

    static KafkaConsumer<byte[], byte[]> reader(String reset, Integer maxBytes) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, reset);
        if (maxBytes != null) {
            p.put(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, String.valueOf(maxBytes));
            p.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, String.valueOf(maxBytes));
        }
        return new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    static List<ConsumerRecord<byte[], byte[]>> pollUntil(KafkaConsumer<byte[], byte[]> c, int want) {
        List<ConsumerRecord<byte[], byte[]>> got = new ArrayList<>();
        long deadline = System.currentTimeMillis() + WAIT_MS;
        while (got.size() < want && System.currentTimeMillis() < deadline)
            for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(POLL_MS))) got.add(r);
        long quiet = System.currentTimeMillis() + 300;
        while (System.currentTimeMillis() < quiet)
            for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(100))) got.add(r);
        return got;
    }

    static List<ConsumerRecord<byte[], byte[]>> readAll(String t, int want, Integer maxBytes) throws Exception {
        try (KafkaConsumer<byte[], byte[]> c = reader("earliest", maxBytes)) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int p : partitionsOf(t).keySet()) tps.add(new TopicPartition(t, p));
            c.assign(tps);
            c.seekToBeginning(tps);
            return pollUntil(c, want);
        }
    }

    static List<String> values(Collection<ConsumerRecord<byte[], byte[]>> rs) {
        List<String> v = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : rs) v.add(s(r.value()));
        Collections.sort(v);
        return v;
    }

    static List<String> recValues(List<Rec> recs) {
        List<String> v = new ArrayList<>();
        for (Rec r : recs) v.add(s(r.value));
        Collections.sort(v);
        return v;
    }

    static String roundtrip(String t, List<Rec> recs, List<Acked> acked) throws Exception {
        List<ConsumerRecord<byte[], byte[]>> got = readAll(t, recs.size(), null);
        check(values(got).equals(recValues(recs)), "read " + got.size() + " records, expected " + recs.size());
        Map<String, Set<Integer>> byKey = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : got) byKey.computeIfAbsent(s(r.key()), k -> new HashSet<>()).add(r.partition());
        for (Set<Integer> ps : byKey.values()) check(ps.size() == 1, "a key in several partitions: " + byKey);
        if (acked != null) {
            Map<String, String> want = new TreeMap<>(), have = new TreeMap<>();
            for (int i = 0; i < recs.size(); i++) want.put(acked.get(i).partition + "/" + acked.get(i).offset, s(recs.get(i).value));
            for (ConsumerRecord<byte[], byte[]> r : got) have.put(r.partition() + "/" + r.offset(), s(r.value()));
            check(want.equals(have), "offsets differ from acknowledgements");
        }
        return got.size() + " records read back";
    }

    static Map<Integer, Long> ends(List<Acked> acked) {
        Map<Integer, Long> e = new TreeMap<>();
        for (int p = 0; p < PARTITIONS; p++) e.put(p, 0L);
        for (Acked a : acked) e.put(a.partition, Math.max(e.get(a.partition), a.offset + 1));
        return e;
    }

    static Map<Integer, Long> committed(String g, String t) throws Exception {
        Map<TopicPartition, OffsetAndMetadata> res = admin.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata().get(OP_TIMEOUT_S, TimeUnit.SECONDS);
        Map<Integer, Long> out = new TreeMap<>();
        for (int p = 0; p < PARTITIONS; p++) {
            OffsetAndMetadata om = res.get(new TopicPartition(t, p));
            out.put(p, om == null ? -1L : om.offset());
        }
        return out;
    }

    static Map<Integer, Long> none() {
        Map<Integer, Long> m = new TreeMap<>();
        for (int p = 0; p < PARTITIONS; p++) m.put(p, -1L);
        return m;
    }

    // ------------------------------------------------------------------ a group member polled in its own thread

    static class Loop {
        final String name;
        final List<ConsumerRecord<byte[], byte[]>> records = Collections.synchronizedList(new ArrayList<>());
        final List<List<Integer>> assignments = Collections.synchronizedList(new ArrayList<>());
        final BlockingQueue<FutureTask<Object>> calls = new LinkedBlockingQueue<>();
        volatile boolean stop = false;
        volatile Throwable error;
        final Thread thread;
        KafkaConsumer<byte[], byte[]> c;

        Loop(String topic, String group, String name, boolean autoCommit, String instanceId) {
            this.name = name;
            Properties p = new Properties();
            p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
            p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, String.valueOf(autoCommit));
            p.put(ConsumerConfig.AUTO_COMMIT_INTERVAL_MS_CONFIG, String.valueOf(AUTO_COMMIT_INTERVAL_MS));
            p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
            p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, String.valueOf(SESSION_TIMEOUT_MS));
            p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, String.valueOf(HEARTBEAT_INTERVAL_MS));
            p.put(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, "20000");
            if (instanceId != null) p.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, instanceId);
            thread = new Thread(() -> {
                try {
                    c = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
                    c.subscribe(List.of(topic));
                    while (!stop) {
                        FutureTask<Object> call;
                        while ((call = calls.poll()) != null) call.run();
                        for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(POLL_MS))) records.add(r);
                        List<Integer> a = new ArrayList<>();
                        for (TopicPartition tp : c.assignment()) a.add(tp.partition());
                        Collections.sort(a);
                        synchronized (assignments) {
                            if (assignments.isEmpty() || !assignments.get(assignments.size() - 1).equals(a)) assignments.add(a);
                        }
                    }
                } catch (Throwable e) {
                    error = e;
                } finally {
                    FutureTask<Object> call;
                    while ((call = calls.poll()) != null) call.cancel(false);
                }
            }, name);
            thread.setDaemon(true);
            thread.start();
        }

        Object call(Function<KafkaConsumer<byte[], byte[]>, Object> fn) throws Exception {
            FutureTask<Object> task = new FutureTask<>(() -> fn.apply(c));
            check(thread.isAlive(), name + " is not running: " + error);
            calls.add(task);
            try {
                return task.get(WAIT_MS, TimeUnit.MILLISECONDS);
            } catch (ExecutionException e) {
                if (e.getCause() instanceof Exception) throw (Exception) e.getCause();
                throw e;
            }
        }

        List<Integer> assignment() {
            synchronized (assignments) { return assignments.isEmpty() ? null : assignments.get(assignments.size() - 1); }
        }

        void alive() { if (error != null) throw new Check(name + " failed: " + error); }

        List<ConsumerRecord<byte[], byte[]>> got() { synchronized (records) { return new ArrayList<>(records); } }

        void close() throws Exception {
            try {
                if (thread.isAlive()) call(cc -> { cc.close(); return null; });
            } finally {
                stop = true;
                thread.join(WAIT_MS);
            }
        }
    }

    static boolean owns(Loop l, Integer... parts) { l.alive(); return Arrays.asList(parts).equals(l.assignment()); }

    static void readInGroup(Loop l, List<Rec> want) throws Exception {
        Set<String> w = new HashSet<>(recValues(want));
        waitUntil(() -> { l.alive(); return new HashSet<>(values(l.got())).containsAll(w); }, WAIT_MS, want.size() + " records read by " + l.name);
    }

    static Loop fullReadCommit(String t, String g, List<Rec> recs, String label) throws Exception {
        Loop a = new Loop(t, g, label, false, null);
        try {
            readInGroup(a, recs);
            a.call(c -> { c.commitSync(); return null; });
        } finally {
            a.close();
        }
        return a;
    }

    // ------------------------------------------------------------------ scenarios

    static String run(String id) throws Exception {
        switch (id) {
            case "admin.create_topic": {
                String t = topic("create", 3);
                try {
                    admin.createTopics(List.of(new NewTopic(t, 3, (short) 1))).all().get(OP_TIMEOUT_S, TimeUnit.SECONDS);
                    throw new Check("second create succeeded");
                } catch (ExecutionException e) {
                    check(e.getCause() instanceof TopicExistsException, "second create: " + e.getCause());
                }
                return "created; second create: TopicExistsException";
            }
            case "admin.describe_topic": {
                String t = topic("describe", 3);
                Map<Integer, Integer> parts = partitionsOf(t);
                check(parts.keySet().equals(Set.of(0, 1, 2)) && !parts.containsValue(-1), "partitions " + parts);
                check(listTopics().contains(t), "not listed");
                return "partitions/leaders " + parts;
            }
            case "admin.describe_configs": {
                String t = topic("configs", 1, Map.of("retention.ms", "3600000"));
                Config cfg = describeConfigs(t);
                check("3600000".equals(value(cfg, "retention.ms")), "retention.ms=" + value(cfg, "retention.ms"));
                check("delete".equals(value(cfg, "cleanup.policy")), "cleanup.policy=" + value(cfg, "cleanup.policy"));
                return cfg.entries().size() + " configs";
            }
            case "admin.alter_configs": {
                String t = topic("alter", 1);
                ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, t);
                admin.incrementalAlterConfigs(Map.of(r, List.of(new AlterConfigOp(new ConfigEntry("retention.ms", "7200000"), AlterConfigOp.OpType.SET))))
                        .all().get(OP_TIMEOUT_S, TimeUnit.SECONDS);
                waitUntil(() -> "7200000".equals(value(describeConfigs(t), "retention.ms")), 10_000, "retention.ms=7200000 visible");
                return "retention.ms=7200000";
            }
            case "admin.create_partitions": {
                String t = topic("grow", 1);
                admin.createPartitions(Map.of(t, NewPartitions.increaseTo(3))).all().get(OP_TIMEOUT_S, TimeUnit.SECONDS);
                waitUntil(() -> partitionsOf(t).size() == 3, WAIT_MS, "3 partitions");
                return "1 -> 3 partitions";
            }
            case "admin.delete_topic": {
                String t = topic("delete", 1);
                admin.deleteTopics(List.of(t)).all().get(OP_TIMEOUT_S, TimeUnit.SECONDS);
                waitUntil(() -> !listTopics().contains(t), 15_000, t + " gone");
                return "deleted";
            }
            case "produce.acks_0": return acks("0");
            case "produce.acks_1": return acks("1");
            case "produce.acks_all": return acks("all");
            case "produce.headers": {
                String t = topic("headers", 1);
                Rec r = new Rec(b("k"), b("v-headers"));
                r.headers.add(new RecordHeader("h", b("1")));
                r.headers.add(new RecordHeader("h", b("2")));
                r.headers.add(new RecordHeader("x", new byte[0]));
                produceOk(t, List.of(r), "all", "none", true);
                List<ConsumerRecord<byte[], byte[]>> got = readAll(t, 1, null);
                check(got.size() == 1, "read " + got.size());
                List<String> hs = new ArrayList<>();
                for (Header h : got.get(0).headers()) hs.add(h.key() + "=" + (h.value() == null ? "" : s(h.value())));
                check("k".equals(s(got.get(0).key())), "key " + s(got.get(0).key()));
                check(hs.equals(List.of("h=1", "h=2", "x=")), "headers read back " + hs);
                return "key and 3 headers (duplicate key h) intact";
            }
            case "produce.gzip": return codec("gzip");
            case "produce.snappy": return codec("snappy");
            case "produce.lz4": return codec("lz4");
            case "produce.zstd": return codec("zstd");
            case "produce.idempotent": {
                String t = topic("idem", PARTITIONS);
                List<Rec> recs = records(20, "r");
                return roundtrip(t, recs, produceOk(t, recs, "all", "none", true));
            }
            case "produce.record_too_large": {
                String t = topic("large", 1, Map.of("max.message.bytes", String.valueOf(TOO_LARGE_TOPIC_MAX_BYTES)));
                byte[] big = new byte[TOO_LARGE_VALUE_BYTES];
                random.nextBytes(big);
                List<Acked> out = produce(t, List.of(new Rec(b("big"), big)), "all", "none", true, 20000);
                String err = out.get(0).error;
                check(err != null, "64 KiB record accepted");
                check(err.contains("RecordTooLarge"), "error is not MESSAGE_TOO_LARGE: " + err);
                produceOk(t, List.of(new Rec(b("small"), b("fits"))), "all", "none", true);
                return "rejected: " + err;
            }
            case "produce.unknown_topic_autocreate": {
                String t = name("auto");
                List<Acked> a = produceOk(t, List.of(new Rec(b("k"), b("auto-created"))), "all", "none", true);
                check(listTopics().contains(t), "topic not listed after the produce");
                return "auto-created, record at " + a.get(0).offset;
            }
            case "produce.unknown_topic_no_autocreate": {
                String t = name("noauto");
                List<Acked> out = produce(t, List.of(new Rec(b("k"), b("nowhere"))), "all", "none", true, 8000);
                check(out.get(0).error != null, "produce to a missing topic succeeded");
                check(!listTopics().contains(t), "the topic was created anyway");
                return "refused: " + out.get(0).error;
            }
            case "consume.assign_seek": {
                String t = topic("seek", PARTITIONS);
                List<Rec> recs = new ArrayList<>();
                for (int i = 0; i < COUNT; i++) { Rec r = new Rec(b("k"), b("s-" + i)); r.partition = 0; recs.add(r); }
                produceOk(t, recs, "all", "none", true);
                try (KafkaConsumer<byte[], byte[]> c = reader("earliest", null)) {
                    TopicPartition tp = new TopicPartition(t, 0);
                    c.assign(List.of(tp));
                    c.seek(tp, 5);
                    List<ConsumerRecord<byte[], byte[]>> got = pollUntil(c, 5);
                    List<Long> offs = new ArrayList<>();
                    for (ConsumerRecord<byte[], byte[]> r : got) offs.add(r.offset());
                    check(offs.equals(List.of(5L, 6L, 7L, 8L, 9L)), "offsets read " + offs);
                }
                return "read offsets 5..9";
            }
            case "consume.from_timestamp": {
                String t = topic("ts", 1);
                long t0 = System.currentTimeMillis() - 60_000;
                List<Rec> recs = new ArrayList<>();
                for (int i = 0; i < 5; i++) { Rec r = new Rec(b("k"), b("t-" + i)); r.partition = 0; r.timestamp = t0 + i * TIMESTAMP_STEP_MS; recs.add(r); }
                produceOk(t, recs, "all", "none", true);
                try (KafkaConsumer<byte[], byte[]> c = reader("earliest", null)) {
                    TopicPartition tp = new TopicPartition(t, 0);
                    c.assign(List.of(tp));
                    OffsetAndTimestamp ot = c.offsetsForTimes(Map.of(tp, t0 + 2 * TIMESTAMP_STEP_MS)).get(tp);
                    check(ot != null && ot.offset() == 2, "offset for t0+2s: " + ot);
                    c.seek(tp, ot.offset());
                    List<ConsumerRecord<byte[], byte[]>> got = pollUntil(c, 3);
                    List<String> seen = new ArrayList<>();
                    for (ConsumerRecord<byte[], byte[]> r : got) seen.add(r.offset() + "@" + (r.timestamp() - t0));
                    check(seen.equals(List.of("2@2000", "3@3000", "4@4000")), "read " + seen);
                }
                return "offset 2 for t0+2s; read 2..4 with their timestamps";
            }
            case "consume.earliest": {
                String t = topic("earliest", PARTITIONS);
                List<Rec> recs = records(COUNT, "r");
                produceOk(t, recs, "all", "none", true);
                try (KafkaConsumer<byte[], byte[]> c = reader("earliest", null)) {
                    c.assign(List.of(new TopicPartition(t, 0), new TopicPartition(t, 1)));
                    check(values(pollUntil(c, COUNT)).equals(recValues(recs)), "did not read the 10 records");
                }
                return "10 records from the earliest offsets";
            }
            case "consume.latest": {
                String t = topic("latest", PARTITIONS);
                produceOk(t, records(COUNT, "old"), "all", "none", true);
                try (KafkaConsumer<byte[], byte[]> c = reader("latest", null)) {
                    TopicPartition p0 = new TopicPartition(t, 0), p1 = new TopicPartition(t, 1);
                    c.assign(List.of(p0, p1));
                    long sum = c.position(p0) + c.position(p1);
                    check(sum == COUNT, "positions are not the end offsets: " + sum);
                    List<Rec> fresh = records(5, "new");
                    produceOk(t, fresh, "all", "none", true);
                    check(values(pollUntil(c, 5)).equals(recValues(fresh)), "did not read exactly the 5 new records");
                }
                return "positioned at the end; read exactly the 5 new records";
            }
            case "consume.max_bytes": {
                String t = topic("maxbytes", 1);
                List<Rec> recs = new ArrayList<>();
                for (int i = 0; i < MAX_BYTES_RECORDS; i++) {
                    byte[] v = new byte[MAX_BYTES_VALUE_BYTES];
                    Arrays.fill(v, (byte) ('a' + i % 26));
                    Rec r = new Rec(b("k"), v);
                    r.partition = 0;
                    recs.add(r);
                    produceOk(t, List.of(r), "all", "none", true);
                }
                try (KafkaConsumer<byte[], byte[]> c = reader("earliest", MAX_BYTES_LIMIT)) {
                    c.assign(List.of(new TopicPartition(t, 0)));
                    List<ConsumerRecord<byte[], byte[]>> got = pollUntil(c, MAX_BYTES_RECORDS);
                    check(got.size() == MAX_BYTES_RECORDS, "read " + got.size());
                    for (int i = 0; i < got.size(); i++)
                        check(got.get(i).offset() == i && Arrays.equals(got.get(i).value(), recs.get(i).value), "record " + i + " differs");
                }
                return "20 x 10 KiB records with 15000-byte fetch limits";
            }
            case "group.auto_commit": {
                String t = topic("auto", PARTITIONS), g = t + "-g";
                List<Rec> recs = records(COUNT, "r");
                Map<Integer, Long> e = ends(produceOk(t, recs, "all", "none", true));
                Loop a = new Loop(t, g, "a", true, null);
                try {
                    readInGroup(a, recs);
                    waitUntil(() -> committed(g, t).equals(e), 15_000, "auto commit reaches " + e);
                } finally {
                    a.close();
                }
                return "committed " + e + " while running";
            }
            case "group.manual_commit": {
                String t = topic("manual", PARTITIONS), g = t + "-g";
                List<Rec> recs = records(COUNT, "r");
                Map<Integer, Long> e = ends(produceOk(t, recs, "all", "none", true));
                fullReadCommit(t, g, recs, "a");
                check(committed(g, t).equals(e), "committed " + committed(g, t) + ", expected " + e);
                return "committed " + e;
            }
            case "group.no_commit": {
                String t = topic("nocommit", PARTITIONS), g = t + "-g";
                List<Rec> recs = records(COUNT, "r");
                produceOk(t, recs, "all", "none", true);
                for (int run = 1; run <= 2; run++) {
                    Loop a = new Loop(t, g, "run" + run, false, null);
                    try { readInGroup(a, recs); } finally { a.close(); }
                }
                check(committed(g, t).equals(none()), "offsets were committed: " + committed(g, t));
                return "both runs read all 10; nothing committed";
            }
            case "group.reset": {
                String t = topic("reset", PARTITIONS), g = t + "-g";
                List<Rec> recs = records(COUNT, "r");
                Map<Integer, Long> e = ends(produceOk(t, recs, "all", "none", true));
                fullReadCommit(t, g, recs, "first");
                check(committed(g, t).equals(e), "first run did not commit the ends");
                Loop r = new Loop(t, g, "reset", false, null);
                try {
                    waitUntil(() -> owns(r, 0, 1), WAIT_MS, "reset member assigned");
                    r.call(c -> { c.seekToBeginning(c.assignment()); return null; });
                    r.call(c -> { c.commitSync(Map.of(new TopicPartition(t, 0), new OffsetAndMetadata(0), new TopicPartition(t, 1), new OffsetAndMetadata(0))); return null; });
                } finally {
                    r.close();
                }
                check(committed(g, t).equals(Map.of(0, 0L, 1, 0L)), "after reset " + committed(g, t));
                Loop again = fullReadCommit(t, g, recs, "again");
                check(values(again.got()).equals(recValues(recs)), "re-read differs");
                return "reset to 0 and re-read all 10";
            }
            case "group.join": {
                Loop[] ab = twoMembers("join", null);
                try { return "a " + ab[0].assignment() + ", b " + ab[1].assignment(); } finally { ab[1].close(); ab[0].close(); }
            }
            case "group.leave": {
                Loop[] ab = twoMembers("leave", null);
                try {
                    long closed = System.currentTimeMillis();
                    ab[1].close();
                    waitUntil(() -> owns(ab[0], 0, 1), WAIT_MS, "a owns both after b left");
                    long took = System.currentTimeMillis() - closed;
                    check(took < LEAVE_BOUND_MS, "a got both partitions only " + took + " ms after b closed");
                    return "a owns both " + took + " ms after b closed";
                } finally {
                    ab[0].close();
                }
            }
            case "group.crash": return crash();
            case "group.concurrent_joins": {
                String t = topic("concurrent", CONCURRENT_MEMBERS), g = t + "-g";
                List<Loop> loops = new ArrayList<>();
                for (int i = 0; i < CONCURRENT_MEMBERS; i++) loops.add(new Loop(t, g, "m" + i, false, null));
                try {
                    Object owned = waitUntil(() -> {
                        List<Integer> all = new ArrayList<>();
                        List<List<Integer>> each = new ArrayList<>();
                        for (Loop l : loops) {
                            l.alive();
                            List<Integer> a = l.assignment();
                            if (a == null || a.isEmpty()) return null;
                            all.addAll(a);
                            each.add(a);
                        }
                        Collections.sort(all);
                        List<Integer> want = new ArrayList<>();
                        for (int i = 0; i < CONCURRENT_MEMBERS; i++) want.add(i);
                        return all.equals(want) ? each : null;
                    }, 2 * WAIT_MS, CONCURRENT_MEMBERS + " members settle");
                    return "settled: " + owned;
                } finally {
                    for (Loop l : loops) l.close();
                }
            }
            case "group.static_membership": {
                String t = topic("static", PARTITIONS), g = t + "-g";
                Loop a = new Loop(t, g, "a", false, "static-a");
                Loop b = null;
                try {
                    waitUntil(() -> owns(a, 0, 1), WAIT_MS, "a owns both");
                    Loop b1 = new Loop(t, g, "b", false, "static-b");
                    b = b1;
                    waitUntil(() -> { a.alive(); b1.alive(); return a.assignment() != null && a.assignment().size() == 1 && b1.assignment() != null && b1.assignment().size() == 1; }, WAIT_MS, "one each");
                    List<Integer> mine = b1.assignment();
                    int before = a.assignments.size();
                    b1.close();
                    Loop b2 = new Loop(t, g, "b2", false, "static-b");
                    b = b2;
                    waitUntil(() -> { b2.alive(); return b2.assignment() != null && !b2.assignment().isEmpty(); }, WAIT_MS, "restarted b assigned");
                    Thread.sleep(1000);
                    check(mine.equals(b2.assignment()), "b came back with " + b2.assignment() + ", had " + mine);
                    check(a.assignments.size() == before, "a was rebalanced: " + a.assignments);
                    return "b got " + mine + " back; a kept " + a.assignment() + " throughout";
                } finally {
                    if (b != null) b.close();
                    a.close();
                }
            }
            case "offsets.commit": {
                String[] tg = commitExplicit(null);
                check(committed(tg[1], tg[0]).equals(Map.of(0, 3L, 1, 2L)), "admin sees " + committed(tg[1], tg[0]));
                return "admin sees {0=3, 1=2}";
            }
            case "offsets.fetch": {
                List<String> fetched = new ArrayList<>();
                commitExplicit(fetched);
                check(fetched.equals(List.of("0=3:m-compat", "1=2:m-compat")), "committed() " + fetched);
                return "committed() " + fetched;
            }
            case "offsets.reset": {
                String[] tg = committedGroup("oreset");
                admin.alterConsumerGroupOffsets(tg[1], Map.of(new TopicPartition(tg[0], 0), new OffsetAndMetadata(0), new TopicPartition(tg[0], 1), new OffsetAndMetadata(0)))
                        .all().get(OP_TIMEOUT_S, TimeUnit.SECONDS);
                check(committed(tg[1], tg[0]).equals(Map.of(0, 0L, 1, 0L)), "after reset " + committed(tg[1], tg[0]));
                return "reset to {0=0, 1=0}";
            }
            case "offsets.delete": {
                String[] tg = committedGroup("odelete");
                long keep = committed(tg[1], tg[0]).get(1);
                admin.deleteConsumerGroupOffsets(tg[1], Set.of(new TopicPartition(tg[0], 0))).all().get(OP_TIMEOUT_S, TimeUnit.SECONDS);
                Map<Integer, Long> got = committed(tg[1], tg[0]);
                check(got.get(0) == -1L && got.get(1) == keep, "after delete " + got);
                return "partition 0 gone, partition 1 kept at " + keep;
            }
            case "offsets.delete_group": {
                String[] tg = committedGroup("odelgroup");
                check(groups().contains(tg[1]), "group not listed before the delete");
                admin.deleteConsumerGroups(List.of(tg[1])).all().get(OP_TIMEOUT_S, TimeUnit.SECONDS);
                check(!groups().contains(tg[1]), "group still listed");
                check(committed(tg[1], tg[0]).equals(none()), "offsets left " + committed(tg[1], tg[0]));
                return "deleted; offsets gone";
            }
            default:
                throw new Unsupported("not in this adapter");
        }
    }

    static Config describeConfigs(String t) throws Exception {
        ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, t);
        return admin.describeConfigs(List.of(r)).all().get(OP_TIMEOUT_S, TimeUnit.SECONDS).get(r);
    }

    static String value(Config c, String k) { ConfigEntry e = c.get(k); return e == null ? null : e.value(); }

    static String acks(String acks) throws Exception {
        String t = topic("acks" + acks, PARTITIONS);
        List<Rec> recs = records(COUNT, "r");
        // Idempotence needs acks=all; the plain producer is the one to test acks 0 and 1 with.
        List<Acked> a = produceOk(t, recs, acks, "none", acks.equals("all"));
        return roundtrip(t, recs, acks.equals("0") ? null : a);
    }

    static String codec(String codec) throws Exception {
        String t = topic(codec, PARTITIONS);
        List<Rec> recs = records(COUNT, "r");
        return roundtrip(t, recs, produceOk(t, recs, "all", codec, true));
    }

    static Loop[] twoMembers(String stem, String instancePrefix) throws Exception {
        String t = topic(stem, PARTITIONS), g = t + "-g";
        Loop a = new Loop(t, g, "a", false, null);
        waitUntil(() -> owns(a, 0, 1), WAIT_MS, "a owns both partitions");
        Loop b = new Loop(t, g, "b", false, null);
        waitUntil(() -> { a.alive(); b.alive(); return a.assignment() != null && a.assignment().size() == 1 && b.assignment() != null && b.assignment().size() == 1; },
                WAIT_MS, "a and b own one partition each");
        return new Loop[] {a, b};
    }

    static String crash() throws Exception {
        String t = topic("crash", PARTITIONS), g = t + "-g";
        List<Rec> first = records(COUNT, "first");
        produceOk(t, first, "all", "none", true);
        String javaBin = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(javaBin, "-cp", System.getProperty("java.class.path")));
        for (String arg : java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()) cmd.add(1, arg);
        cmd.addAll(List.of("Compat", "--bootstrap", bootstrap, "--child-member", t + "," + g + "," + COUNT));
        Process child = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
            java.io.BufferedReader out = new java.io.BufferedReader(new java.io.InputStreamReader(child.getInputStream()));
            CompletableFuture<String> line = CompletableFuture.supplyAsync(() -> { try { return out.readLine(); } catch (Exception e) { return null; } });
            String said = line.get(WAIT_MS + 20_000, TimeUnit.MILLISECONDS);
            check("committed".equals(said), "child said " + said);
            child.destroyForcibly();
            long killed = System.currentTimeMillis();
            child.waitFor(10, TimeUnit.SECONDS);
            List<Rec> second = records(5, "second");
            produceOk(t, second, "all", "none", true);
            Loop b = new Loop(t, g, "b", false, null);
            long took;
            try {
                waitUntil(() -> owns(b, 0, 1), SESSION_TIMEOUT_MS + WAIT_MS, "b owns both partitions");
                took = System.currentTimeMillis() - killed;
                readInGroup(b, second);
                Thread.sleep(500);
                check(values(b.got()).equals(recValues(second)), "b read " + b.got().size() + " records, expected only the 5 new");
            } finally {
                b.close();
            }
            check(took >= SESSION_TIMEOUT_MS / 2, "b owned a's partitions " + took + " ms after the kill: before a's session expired");
            return "b owns both " + took + " ms after the kill; read only the 5 uncommitted";
        } finally {
            child.destroyForcibly();
        }
    }

    static void childMember(String spec) throws Exception {
        String[] p = spec.split(",");
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.GROUP_ID_CONFIG, p[1]);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, String.valueOf(SESSION_TIMEOUT_MS));
        props.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, String.valueOf(HEARTBEAT_INTERVAL_MS));
        KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        c.subscribe(List.of(p[0]));
        int got = 0;
        long deadline = System.currentTimeMillis() + WAIT_MS;
        while (got < Integer.parseInt(p[2]) && System.currentTimeMillis() < deadline) got += c.poll(Duration.ofMillis(POLL_MS)).count();
        c.commitSync();
        System.out.println("committed");
        System.out.flush();
        long end = System.currentTimeMillis() + 120_000;
        while (System.currentTimeMillis() < end) c.poll(Duration.ofMillis(POLL_MS));
    }

    static String[] commitExplicit(List<String> fetched) throws Exception {
        String t = topic("commit", PARTITIONS), g = t + "-g";
        produceOk(t, records(COUNT, "r"), "all", "none", true);
        Loop a = new Loop(t, g, "a", false, null);
        try {
            waitUntil(() -> owns(a, 0, 1), WAIT_MS, "a assigned");
            TopicPartition p0 = new TopicPartition(t, 0), p1 = new TopicPartition(t, 1);
            a.call(c -> { c.commitSync(Map.of(p0, new OffsetAndMetadata(3, "m-compat"), p1, new OffsetAndMetadata(2, "m-compat"))); return null; });
            if (fetched != null) {
                @SuppressWarnings("unchecked")
                Map<TopicPartition, OffsetAndMetadata> res = (Map<TopicPartition, OffsetAndMetadata>) a.call(c -> c.committed(Set.of(p0, p1)));
                for (TopicPartition tp : List.of(p0, p1)) {
                    OffsetAndMetadata om = res.get(tp);
                    fetched.add(tp.partition() + "=" + (om == null ? "none" : om.offset() + ":" + om.metadata()));
                }
            }
        } finally {
            a.close();
        }
        return new String[] {t, g};
    }

    static String[] committedGroup(String stem) throws Exception {
        String t = topic(stem, PARTITIONS), g = t + "-g";
        List<Rec> recs = records(COUNT, "r");
        Map<Integer, Long> e = ends(produceOk(t, recs, "all", "none", true));
        fullReadCommit(t, g, recs, "reader");
        check(committed(g, t).equals(e), "setup: ends not committed");
        return new String[] {t, g};
    }

    static Set<String> groups() throws Exception {
        Set<String> out = new HashSet<>();
        for (GroupListing l : admin.listGroups().all().get(OP_TIMEOUT_S, TimeUnit.SECONDS)) out.add(l.groupId());
        return out;
    }

    // ------------------------------------------------------------------ output

    static String json(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char ch : s.toCharArray()) {
            switch (ch) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                case '\r': b.append("\\r"); break;
                case '\t': b.append("\\t"); break;
                default:
                    if (ch < 0x20) b.append(String.format("\\u%04x", (int) ch)); else b.append(ch);
            }
        }
        return b.append('"').toString();
    }

    public static void main(String[] args) throws Exception {
        String scenarios = "", child = null;
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--bootstrap": bootstrap = args[i + 1]; break;
                case "--scenarios": scenarios = args[i + 1]; break;
                case "--run-id": runId = args[i + 1]; break;
                case "--child-member": child = args[i + 1]; break;
                default: throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        if (child != null) {
            childMember(child);
            System.exit(0);
        }
        Properties ap = new Properties();
        ap.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        admin = Admin.create(ap);
        System.out.println("{\"client\": \"java\", \"version\": " + json(AppInfoParser.getVersion()) + "}");
        System.out.flush();
        for (String id : scenarios.split(",")) {
            if (id.isEmpty()) continue;
            long start = System.nanoTime();
            String status, detail;
            try {
                detail = run(id);
                status = "pass";
            } catch (Unsupported e) {
                status = "skip"; detail = e.getMessage();
            } catch (Check e) {
                status = "fail"; detail = e.getMessage();
            } catch (Throwable e) {
                Throwable c = (e instanceof ExecutionException && e.getCause() != null) ? e.getCause() : e;
                status = "fail"; detail = c.getClass().getSimpleName() + ": " + c.getMessage();
                e.printStackTrace();
            }
            if (detail == null) detail = "";
            if (detail.length() > 600) detail = detail.substring(0, 600);
            System.out.printf("{\"scenario\": %s, \"status\": \"%s\", \"detail\": %s, \"elapsed_s\": %.2f}%n",
                    json(id), status, json(detail), (System.nanoTime() - start) / 1e9);
            System.out.flush();
        }
        admin.close(Duration.ofSeconds(5));
        System.exit(0);
    }
}
