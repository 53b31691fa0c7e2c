// End-to-end latency at a fixed rate, open loop, for bench/compare.py (built by it with javac
// against the harness's Kafka jars; the same tool runs against Runnel and Kafka).
//
// One producer thread sends on a fixed schedule (send i is due at start + i / rate); each
// payload carries its scheduled send time. One consumer (assigned every partition, positioned
// at the end before the first send) records, per record, now - scheduled time in an HDR
// histogram. Measuring from the scheduled time rather than the actual send means a stalled
// producer or broker shows up as latency instead of silently lowering the rate (no
// coordinated omission). Records scheduled during the warm-up are received but not recorded.
// Prints one JSON object on stdout; exits 0 whenever it could measure, the caller judges the
// counts (sent, acked, received, errors).
//
// Usage: LatencyBench --bootstrap H:P --topic T --rate MSG_PER_S --duration-s S
//            [--warmup-s S] [--record-size B] [--acks A] [--drain-timeout-s S]
//            [--producer-prop k=v ...]

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

import org.HdrHistogram.Histogram;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class LatencyBench {
    // Payload header: scheduled send time (System.nanoTime) and sequence number.
    private static final int HEADER_BYTES = 16;
    private static final long START_DELAY_NS = TimeUnit.MILLISECONDS.toNanos(200);
    private static final Duration POLL_TIMEOUT = Duration.ofMillis(100);
    // Three significant digits, as HdrHistogram's usual setting; values in microseconds.
    private static final int SIGNIFICANT_DIGITS = 3;

    public static void main(String[] argv) throws Exception {
        String bootstrap = null;
        String topic = null;
        double rate = 0;
        double durationS = 0;
        double warmupS = 2;
        int recordSize = 1024;
        String acks = "1";
        double drainTimeoutS = 30;
        List<String> producerProps = new ArrayList<>();
        for (int i = 0; i + 1 < argv.length; i += 2) {
            String v = argv[i + 1];
            switch (argv[i]) {
                case "--bootstrap": bootstrap = v; break;
                case "--topic": topic = v; break;
                case "--rate": rate = Double.parseDouble(v); break;
                case "--duration-s": durationS = Double.parseDouble(v); break;
                case "--warmup-s": warmupS = Double.parseDouble(v); break;
                case "--record-size": recordSize = Integer.parseInt(v); break;
                case "--acks": acks = v; break;
                case "--drain-timeout-s": drainTimeoutS = Double.parseDouble(v); break;
                case "--producer-prop": producerProps.add(v); break;
                default: usage("unknown option " + argv[i]);
            }
        }
        if (argv.length % 2 != 0) usage("options come in pairs");
        if (bootstrap == null || topic == null || rate <= 0 || durationS <= 0 || warmupS < 0) {
            usage("--bootstrap, --topic, --rate > 0 and --duration-s > 0 are required");
        }
        if (recordSize < HEADER_BYTES) usage("--record-size must be at least " + HEADER_BYTES);

        Properties cprops = new Properties();
        cprops.put("bootstrap.servers", bootstrap);
        cprops.put("key.deserializer", ByteArrayDeserializer.class.getName());
        cprops.put("value.deserializer", ByteArrayDeserializer.class.getName());
        cprops.put("enable.auto.commit", "false");
        KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(cprops);
        List<TopicPartition> partitions = new ArrayList<>();
        for (PartitionInfo p : consumer.partitionsFor(topic)) {
            partitions.add(new TopicPartition(topic, p.partition()));
        }
        consumer.assign(partitions);
        consumer.seekToEnd(partitions);
        for (TopicPartition tp : partitions) {
            consumer.position(tp); // resolve now, so no record sent later is skipped
        }

        Properties pprops = new Properties();
        pprops.put("bootstrap.servers", bootstrap);
        pprops.put("acks", acks);
        pprops.put("key.serializer", ByteArraySerializer.class.getName());
        pprops.put("value.serializer", ByteArraySerializer.class.getName());
        for (String kv : producerProps) {
            int eq = kv.indexOf('=');
            if (eq <= 0) usage("--producer-prop wants key=value, got " + kv);
            pprops.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(pprops);

        long intervalNs = Math.max(1, Math.round(1e9 / rate));
        long total = Math.max(1, Math.round(rate * (warmupS + durationS)));
        long startNs = System.nanoTime() + START_DELAY_NS;
        long measureFromNs = startNs + Math.round(warmupS * 1e9);

        Histogram histogram = new Histogram(SIGNIFICANT_DIGITS);
        AtomicLong received = new AtomicLong();
        AtomicLong measured = new AtomicLong();
        AtomicLong acked = new AtomicLong();
        AtomicLong errors = new AtomicLong();
        AtomicLong sentOk = new AtomicLong(-1); // set when the producer is done: how many to wait for
        AtomicReference<String> firstError = new AtomicReference<>();
        long drainTimeoutNs = Math.round(drainTimeoutS * 1e9);

        Thread consumerThread = new Thread(() -> {
            long doneSendingAt = 0;
            while (true) {
                ConsumerRecords<byte[], byte[]> records = consumer.poll(POLL_TIMEOUT);
                long now = System.nanoTime();
                for (ConsumerRecord<byte[], byte[]> r : records) {
                    byte[] v = r.value();
                    if (v == null || v.length < HEADER_BYTES) continue;
                    long scheduled = ByteBuffer.wrap(v).getLong(0);
                    received.incrementAndGet();
                    if (scheduled >= measureFromNs) {
                        histogram.recordValue(Math.max(0, (now - scheduled) / 1000));
                        measured.incrementAndGet();
                    }
                }
                long target = sentOk.get();
                if (target >= 0) {
                    if (doneSendingAt == 0) doneSendingAt = now;
                    if (received.get() >= target || now - doneSendingAt > drainTimeoutNs) break;
                }
            }
        }, "latency-consumer");
        consumerThread.start();

        byte[] payload = new byte[recordSize];
        ByteBuffer header = ByteBuffer.wrap(payload);
        long maxSendLagNs = 0;
        for (long i = 0; i < total; i++) {
            long scheduled = startNs + i * intervalNs;
            long now;
            while ((now = System.nanoTime()) < scheduled) {
                LockSupport.parkNanos(scheduled - now);
            }
            maxSendLagNs = Math.max(maxSendLagNs, now - scheduled);
            header.putLong(0, scheduled);
            header.putLong(8, i);
            // send() copies the value into its batch before returning, so the buffer is reused.
            producer.send(new ProducerRecord<>(topic, payload), (md, e) -> {
                if (e == null) {
                    acked.incrementAndGet();
                } else {
                    errors.incrementAndGet();
                    firstError.compareAndSet(null, e.toString());
                }
            });
        }
        producer.flush();
        producer.close(Duration.ofSeconds(30));
        sentOk.set(acked.get());
        consumerThread.join(Math.round((drainTimeoutS + 10) * 1000));
        if (consumerThread.isAlive()) {
            firstError.compareAndSet(null, "consumer did not finish within the drain timeout");
        }

        // After join the consumer's writes are visible; after a drain timeout the figures are
        // best effort and first_error says so.
        String json = String.format(Locale.ROOT,
                "{\"rate_msg_s\": %.1f, \"duration_s\": %.1f, \"warmup_s\": %.1f, \"record_size\": %d, "
                    + "\"partitions\": %d, \"sent\": %d, \"acked\": %d, \"errors\": %d, \"received\": %d, "
                    + "\"measured\": %d, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"p999_ms\": %.3f, \"max_ms\": %.3f, "
                    + "\"max_send_lag_ms\": %.3f, \"first_error\": %s}",
                rate, durationS, warmupS, recordSize, partitions.size(), total, acked.get(), errors.get(),
                received.get(), measured.get(), ms(histogram.getValueAtPercentile(50.0)),
                ms(histogram.getValueAtPercentile(99.0)), ms(histogram.getValueAtPercentile(99.9)),
                ms(histogram.getMaxValue()), maxSendLagNs / 1e6, quote(firstError.get()));
        System.out.println(json);
        System.out.flush();
        // The consumer may still be blocked in poll if the drain timed out; do not wait for it.
        System.exit(0);
    }

    private static double ms(long micros) {
        return micros / 1000.0;
    }

    private static String quote(String s) {
        if (s == null) return "null";
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }

    private static void usage(String why) {
        System.err.println("LatencyBench: " + why);
        System.err.println("usage: LatencyBench --bootstrap H:P --topic T --rate MSG_PER_S --duration-s S "
            + "[--warmup-s S] [--record-size B] [--acks A] [--drain-timeout-s S] [--producer-prop k=v ...]");
        System.exit(2);
    }
}
