// Command franzgo-compat is the report-card adapter for franz-go (kgo + kadm): every scenario
// of compat/scenarios.py that franz-go can express, with the same checks as
// compat/python/adapterlib.py. Built by scripts/setup (`go build`) into .cache/compat/bin.
// Usage: franzgo-compat --bootstrap HOST:PORT --scenarios ID,ID --run-id RUN
// Prints one JSON line per scenario (protocol in compat/scenarios.py).
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	sessionTimeout      = 6 * time.Second
	heartbeatInterval   = 500 * time.Millisecond
	autoCommitInterval  = 500 * time.Millisecond
	waitBound           = 30 * time.Second
	pollEvery           = 200 * time.Millisecond
	count               = 10
	partitions          = 2
	leaveBound          = 5 * time.Second
	tooLargeTopicMax    = 16384
	tooLargeValueBytes  = 64 * 1024
	maxBytesLimit       = 15000
	maxBytesRecords     = 20
	maxBytesValueBytes  = 10 * 1024
	concurrentMembers   = 6
	timestampStepMillis = 1000
	detailChars         = 600
)

var (
	bootstrap string
	runID     string
	adm       *kadm.Client
	admCl     *kgo.Client
)

type checkErr struct{ msg string }

func (e checkErr) Error() string { return e.msg }

type unsupported struct{ msg string }

func (e unsupported) Error() string { return e.msg }

func check(cond bool, format string, args ...any) {
	if !cond {
		panic(checkErr{fmt.Sprintf(format, args...)})
	}
}

func must(err error, what string) {
	if err != nil {
		panic(fmt.Errorf("%s: %w", what, err))
	}
}

// ctx bounds one call; the timer releases the context's resources when it fires.
func ctx(d time.Duration) context.Context {
	c, cancel := context.WithTimeout(context.Background(), d)
	time.AfterFunc(d, cancel)
	return c
}

func waitUntil(d time.Duration, what string, pred func() bool) {
	deadline := time.Now().Add(d)
	for !pred() {
		if time.Now().After(deadline) {
			panic(checkErr{fmt.Sprintf("not within %.0fs: %s", d.Seconds(), what)})
		}
		time.Sleep(pollEvery)
	}
}

func name(stem string) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("compat-franz-go-%s-%s-%s", stem, runID, hex.EncodeToString(b))
}

func partitionsOf(t string) map[int32]int32 {
	out := map[int32]int32{}
	tds, err := adm.ListTopics(ctx(waitBound), t)
	if err != nil {
		return out
	}
	td, ok := tds[t]
	if !ok || td.Err != nil {
		return out
	}
	for p, pd := range td.Partitions {
		out[p] = pd.Leader
	}
	return out
}

func listTopics() map[string]bool {
	tds, err := adm.ListTopics(ctx(waitBound))
	must(err, "list topics")
	out := map[string]bool{}
	for t, td := range tds {
		if td.Err == nil {
			out[t] = true
		}
	}
	return out
}

func topic(stem string, n int32, configs map[string]string) string {
	t := name(stem)
	cfg := map[string]*string{}
	for k, v := range configs {
		v := v
		cfg[k] = &v
	}
	resp, err := adm.CreateTopic(ctx(waitBound), n, 1, cfg, t)
	must(err, "create topic")
	must(resp.Err, "create topic")
	waitUntil(waitBound, t+" has its partitions", func() bool { return len(partitionsOf(t)) == int(n) })
	return t
}

func records(n int, tag string) []*kgo.Record {
	out := make([]*kgo.Record, n)
	for i := range out {
		out[i] = &kgo.Record{Key: []byte(fmt.Sprintf("key-%d", i%5)), Value: []byte(fmt.Sprintf("%s-%d-%s", tag, i, runID))}
	}
	return out
}

type acked struct {
	partition int32
	offset    int64
	err       error
}

func produce(t string, recs []*kgo.Record, acks string, codec kgo.CompressionCodec, idempotent bool, timeout time.Duration) []acked {
	opts := []kgo.Opt{kgo.SeedBrokers(bootstrap), kgo.DefaultProduceTopic(t), kgo.ProducerLinger(5 * time.Millisecond),
		// No RecordDeliveryTimeout: franz-go measures it from the record's timestamp, and
		// consume.from_timestamp produces records stamped a minute ago. ProduceSync's
		// context bounds the wait instead.
		kgo.ProducerBatchCompression(codec), kgo.ProduceRequestTimeout(timeout)}
	switch acks {
	case "0":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()))
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
	default:
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	}
	if !idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	manual := manualPartitions(recs)
	if manual {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	cl, err := kgo.NewClient(opts...)
	must(err, "new producer")
	defer cl.Close()
	res := cl.ProduceSync(ctx(timeout+5*time.Second), recs...)
	// Results come in completion order, not input order: match them by record.
	byRec := map[*kgo.Record]acked{}
	for _, r := range res {
		byRec[r.Record] = acked{r.Record.Partition, r.Record.Offset, r.Err}
	}
	out := make([]acked, len(recs))
	for i, r := range recs {
		out[i] = byRec[r]
	}
	return out
}

// manualPartitions: a record placed with toPartition (ProducerID -2 marks it; the client
// overwrites ProducerID when it produces) needs the manual partitioner.
func manualPartitions(recs []*kgo.Record) bool {
	for _, r := range recs {
		if r.ProducerID == -2 {
			return true
		}
	}
	return false
}

func toPartition(r *kgo.Record, p int32) *kgo.Record {
	r.Partition = p
	r.ProducerID = -2
	return r
}

func produceOK(t string, recs []*kgo.Record, acks string, codec kgo.CompressionCodec, idem bool) []acked {
	out := produce(t, recs, acks, codec, idem, waitBound)
	for _, a := range out {
		check(a.err == nil, "produce error: %v", a.err)
	}
	return out
}

func readFrom(t string, offsets map[int32]kgo.Offset, want int, opts ...kgo.Opt) []*kgo.Record {
	opts = append(opts, kgo.SeedBrokers(bootstrap), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{t: offsets}))
	cl, err := kgo.NewClient(opts...)
	must(err, "new consumer")
	defer cl.Close()
	return pollUntil(cl, want)
}

func pollUntil(cl *kgo.Client, want int) []*kgo.Record {
	var got []*kgo.Record
	deadline := time.Now().Add(waitBound)
	for len(got) < want && time.Now().Before(deadline) {
		got = append(got, pollOnce(cl, pollEvery)...)
	}
	quiet := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(quiet) {
		got = append(got, pollOnce(cl, 100*time.Millisecond)...)
	}
	return got
}

func pollOnce(cl *kgo.Client, d time.Duration) []*kgo.Record {
	c, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	fs := cl.PollFetches(c)
	for _, e := range fs.Errors() {
		if !errors.Is(e.Err, context.DeadlineExceeded) && !errors.Is(e.Err, context.Canceled) {
			panic(fmt.Errorf("fetch %s/%d: %w", e.Topic, e.Partition, e.Err))
		}
	}
	return fs.Records()
}

func readAll(t string, want int, opts ...kgo.Opt) []*kgo.Record {
	offs := map[int32]kgo.Offset{}
	for p := range partitionsOf(t) {
		offs[p] = kgo.NewOffset().AtStart()
	}
	return readFrom(t, offs, want, opts...)
}

func values(rs []*kgo.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r.Value)
	}
	sort.Strings(out)
	return out
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func roundtrip(t string, recs []*kgo.Record, ack []acked, checkOffsets bool) string {
	want := values(recs)
	got := readAll(t, len(recs))
	check(sameStrings(values(got), want), "read %d records, expected %d", len(got), len(recs))
	byKey := map[string]map[int32]bool{}
	for _, r := range got {
		if byKey[string(r.Key)] == nil {
			byKey[string(r.Key)] = map[int32]bool{}
		}
		byKey[string(r.Key)][r.Partition] = true
	}
	for k, ps := range byKey {
		check(len(ps) == 1, "key %s in several partitions", k)
	}
	if checkOffsets {
		have := map[string]string{}
		for _, r := range got {
			have[fmt.Sprintf("%d/%d", r.Partition, r.Offset)] = string(r.Value)
		}
		for i, a := range ack {
			at := fmt.Sprintf("%d/%d", a.partition, a.offset)
			check(have[at] == want0(recs, i), "offsets differ from acknowledgements: record %d acked at %s, read there %q", i, at, have[at])
		}
	}
	return fmt.Sprintf("%d records read back", len(got))
}

func want0(recs []*kgo.Record, i int) string { return string(recs[i].Value) }

func ends(ack []acked) map[int32]int64 {
	e := map[int32]int64{}
	for p := int32(0); p < partitions; p++ {
		e[p] = 0
	}
	for _, a := range ack {
		if a.offset+1 > e[a.partition] {
			e[a.partition] = a.offset + 1
		}
	}
	return e
}

func committed(g, t string) map[int32]int64 {
	out := map[int32]int64{}
	resps, err := adm.FetchOffsets(ctx(waitBound), g)
	must(err, "fetch offsets")
	for p := int32(0); p < partitions; p++ {
		out[p] = -1
		if r, ok := resps.Lookup(t, p); ok && r.Err == nil {
			out[p] = r.At
		}
	}
	return out
}

func eqOffsets(a, b map[int32]int64) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// ------------------------------------------------------------------ group members

type member struct {
	name    string
	cl      *kgo.Client
	mu      sync.Mutex
	recs    []*kgo.Record
	history [][]int32
	stop    chan struct{}
	done    chan struct{}
	err     error
}

func newMember(t, g, nm string, autoCommit bool, instance string) *member {
	m := &member{name: nm, stop: make(chan struct{}), done: make(chan struct{})}
	opts := []kgo.Opt{kgo.SeedBrokers(bootstrap), kgo.ConsumerGroup(g), kgo.ConsumeTopics(t),
		kgo.SessionTimeout(sessionTimeout), kgo.HeartbeatInterval(heartbeatInterval),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) { m.apply(true, ps) }),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) { m.apply(false, ps) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) { m.apply(false, ps) }),
	}
	if autoCommit {
		opts = append(opts, kgo.AutoCommitInterval(autoCommitInterval))
	} else {
		opts = append(opts, kgo.DisableAutoCommit())
	}
	if instance != "" {
		opts = append(opts, kgo.InstanceID(instance))
	}
	cl, err := kgo.NewClient(opts...)
	must(err, "new group member")
	m.cl = cl
	go func() {
		defer close(m.done)
		for {
			select {
			case <-m.stop:
				return
			default:
			}
			c, cancel := context.WithTimeout(context.Background(), pollEvery)
			fs := cl.PollFetches(c)
			cancel()
			m.mu.Lock()
			m.recs = append(m.recs, fs.Records()...)
			m.mu.Unlock()
		}
	}()
	return m
}

// apply keeps the member's partitions from the rebalance callbacks: assigned adds, revoked
// and lost remove (franz-go's default balancer is cooperative, so the callbacks are
// incremental; with an eager balancer revoke-all then assign-all gives the same result).
func (m *member) apply(add bool, ps map[string][]int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := map[int32]bool{}
	if len(m.history) > 0 {
		for _, p := range m.history[len(m.history)-1] {
			cur[p] = true
		}
	}
	for _, parts := range ps {
		for _, p := range parts {
			if add {
				cur[p] = true
			} else {
				delete(cur, p)
			}
		}
	}
	a := []int32{}
	for p := range cur {
		a = append(a, p)
	}
	sort.Slice(a, func(i, j int) bool { return a[i] < a[j] })
	if len(m.history) == 0 || fmt.Sprint(m.history[len(m.history)-1]) != fmt.Sprint(a) {
		m.history = append(m.history, a)
	}
}

func (m *member) assignment() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.history) == 0 {
		return nil
	}
	return m.history[len(m.history)-1]
}

func (m *member) changes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.history)
}

func (m *member) got() []*kgo.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*kgo.Record(nil), m.recs...)
}

func (m *member) owns(ps ...int32) bool { return fmt.Sprint(m.assignment()) == fmt.Sprint(ps) }

func (m *member) close() {
	select {
	case <-m.stop:
		return
	default:
	}
	close(m.stop)
	<-m.done
	m.cl.Close()
}

func readInGroup(m *member, want []*kgo.Record) {
	w := values(want)
	waitUntil(waitBound, fmt.Sprintf("%d records read by %s", len(want), m.name), func() bool {
		have := map[string]bool{}
		for _, v := range values(m.got()) {
			have[v] = true
		}
		for _, v := range w {
			if !have[v] {
				return false
			}
		}
		return true
	})
}

func fullReadCommit(t, g string, recs []*kgo.Record, label string) *member {
	m := newMember(t, g, label, false, "")
	defer m.close()
	readInGroup(m, recs)
	must(m.cl.CommitUncommittedOffsets(ctx(waitBound)), "commit")
	return m
}

func twoMembers(stem string) (*member, *member) {
	t := topic(stem, partitions, nil)
	g := t + "-g"
	a := newMember(t, g, "a", false, "")
	waitUntil(waitBound, "a owns both partitions", func() bool { return a.owns(0, 1) })
	b := newMember(t, g, "b", false, "")
	waitUntil(waitBound, "a and b own one partition each", func() bool {
		return len(a.assignment()) == 1 && len(b.assignment()) == 1
	})
	return a, b
}

func committedGroup(stem string) (string, string, map[int32]int64) {
	t := topic(stem, partitions, nil)
	g := t + "-g"
	recs := records(count, "r")
	e := ends(produceOK(t, recs, "all", kgo.NoCompression(), true))
	fullReadCommit(t, g, recs, "reader")
	check(eqOffsets(committed(g, t), e), "setup: ends not committed")
	return t, g, e
}

func groups() map[string]bool {
	lg, err := adm.ListGroups(ctx(waitBound))
	must(err, "list groups")
	out := map[string]bool{}
	for g := range lg {
		out[g] = true
	}
	return out
}

func describeConfigs(t string) map[string]string {
	rcs, err := adm.DescribeTopicConfigs(ctx(waitBound), t)
	must(err, "describe configs")
	out := map[string]string{}
	for _, rc := range rcs {
		must(rc.Err, "describe configs")
		for _, c := range rc.Configs {
			if c.Value != nil {
				out[c.Key] = *c.Value
			}
		}
	}
	return out
}

// ------------------------------------------------------------------ scenarios

var codecs = map[string]kgo.CompressionCodec{"gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
	"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression()}

func run(id string) string {
	switch id {
	case "admin.create_topic":
		t := topic("create", 3, nil)
		resp, err := adm.CreateTopic(ctx(waitBound), 3, 1, nil, t)
		if err == nil {
			err = resp.Err
		}
		check(errors.Is(err, kerr.TopicAlreadyExists), "second create: %v", err)
		return "created; second create: TOPIC_ALREADY_EXISTS"
	case "admin.describe_topic":
		t := topic("describe", 3, nil)
		ps := partitionsOf(t)
		check(len(ps) == 3 && ps[0] >= 0 && ps[1] >= 0 && ps[2] >= 0, "partitions %v", ps)
		check(listTopics()[t], "not listed")
		return fmt.Sprintf("partitions/leaders %v", ps)
	case "admin.describe_configs":
		t := topic("configs", 1, map[string]string{"retention.ms": "3600000"})
		c := describeConfigs(t)
		check(c["retention.ms"] == "3600000", "retention.ms=%q", c["retention.ms"])
		check(c["cleanup.policy"] == "delete", "cleanup.policy=%q", c["cleanup.policy"])
		return fmt.Sprintf("%d configs", len(c))
	case "admin.alter_configs":
		t := topic("alter", 1, nil)
		v := "7200000"
		resps, err := adm.AlterTopicConfigs(ctx(waitBound), []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: &v}}, t)
		must(err, "alter configs")
		for _, r := range resps {
			must(r.Err, "alter configs")
		}
		waitUntil(10*time.Second, "retention.ms=7200000 visible", func() bool { return describeConfigs(t)["retention.ms"] == v })
		return "retention.ms=7200000"
	case "admin.create_partitions":
		t := topic("grow", 1, nil)
		resps, err := adm.UpdatePartitions(ctx(waitBound), 3, t)
		must(err, "create partitions")
		for _, r := range resps {
			must(r.Err, "create partitions")
		}
		waitUntil(waitBound, "3 partitions", func() bool { return len(partitionsOf(t)) == 3 })
		return "1 -> 3 partitions"
	case "admin.delete_topic":
		t := topic("delete", 1, nil)
		resps, err := adm.DeleteTopics(ctx(waitBound), t)
		must(err, "delete topic")
		for _, r := range resps {
			must(r.Err, "delete topic")
		}
		waitUntil(15*time.Second, t+" gone", func() bool { return !listTopics()[t] })
		return "deleted"
	case "produce.acks_0", "produce.acks_1", "produce.acks_all":
		acks := strings.TrimPrefix(id, "produce.acks_")
		t := topic("acks"+acks, partitions, nil)
		recs := records(count, "r")
		ack := produceOK(t, recs, acks, kgo.NoCompression(), acks == "all")
		return roundtrip(t, recs, ack, acks != "0")
	case "produce.headers":
		t := topic("headers", 1, nil)
		r := &kgo.Record{Key: []byte("k"), Value: []byte("v-headers"), Headers: []kgo.RecordHeader{
			{Key: "h", Value: []byte("1")}, {Key: "h", Value: []byte("2")}, {Key: "x", Value: []byte{}}}}
		produceOK(t, []*kgo.Record{r}, "all", kgo.NoCompression(), true)
		got := readAll(t, 1)
		check(len(got) == 1, "read %d", len(got))
		var hs []string
		for _, h := range got[0].Headers {
			hs = append(hs, h.Key+"="+string(h.Value))
		}
		check(string(got[0].Key) == "k", "key %q", got[0].Key)
		check(fmt.Sprint(hs) == "[h=1 h=2 x=]", "headers read back %v", hs)
		return "key and 3 headers (duplicate key h) intact"
	case "produce.gzip", "produce.snappy", "produce.lz4", "produce.zstd":
		c := strings.TrimPrefix(id, "produce.")
		t := topic(c, partitions, nil)
		recs := records(count, "r")
		return roundtrip(t, recs, produceOK(t, recs, "all", codecs[c], true), true)
	case "produce.idempotent":
		t := topic("idem", partitions, nil)
		recs := records(20, "r")
		return roundtrip(t, recs, produceOK(t, recs, "all", kgo.NoCompression(), true), true)
	case "produce.record_too_large":
		t := topic("large", 1, map[string]string{"max.message.bytes": strconv.Itoa(tooLargeTopicMax)})
		big := make([]byte, tooLargeValueBytes)
		_, _ = rand.Read(big)
		out := produce(t, []*kgo.Record{{Key: []byte("big"), Value: big}}, "all", kgo.NoCompression(), true, 20*time.Second)
		check(out[0].err != nil, "64 KiB record accepted")
		check(errors.Is(out[0].err, kerr.MessageTooLarge), "error is not MESSAGE_TOO_LARGE: %v", out[0].err)
		produceOK(t, []*kgo.Record{{Key: []byte("small"), Value: []byte("fits")}}, "all", kgo.NoCompression(), true)
		return fmt.Sprintf("rejected: %v", out[0].err)
	case "produce.unknown_topic_autocreate":
		t := name("auto")
		// franz-go asks for auto creation only when told to (kgo.AllowAutoTopicCreation).
		cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.AllowAutoTopicCreation(), kgo.RecordDeliveryTimeout(waitBound))
		must(err, "new producer")
		defer cl.Close()
		res := cl.ProduceSync(ctx(waitBound+5*time.Second), &kgo.Record{Topic: t, Key: []byte("k"), Value: []byte("auto-created")})
		must(res.FirstErr(), "produce")
		waitUntil(5*time.Second, "topic listed after the produce", func() bool { return listTopics()[t] })
		return fmt.Sprintf("auto-created, record at %d", res[0].Record.Offset)
	case "produce.unknown_topic_no_autocreate":
		t := name("noauto")
		cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.AllowAutoTopicCreation(), kgo.RecordDeliveryTimeout(8*time.Second))
		must(err, "new producer")
		defer cl.Close()
		res := cl.ProduceSync(ctx(15*time.Second), &kgo.Record{Topic: t, Key: []byte("k"), Value: []byte("nowhere")})
		check(res.FirstErr() != nil, "produce to a missing topic succeeded")
		check(!listTopics()[t], "the topic was created anyway")
		return fmt.Sprintf("refused: %v", res.FirstErr())
	case "consume.assign_seek":
		t := topic("seek", partitions, nil)
		var recs []*kgo.Record
		for i := 0; i < count; i++ {
			recs = append(recs, toPartition(&kgo.Record{Key: []byte("k"), Value: []byte(fmt.Sprintf("s-%d", i))}, 0))
		}
		produceOK(t, recs, "all", kgo.NoCompression(), true)
		got := readFrom(t, map[int32]kgo.Offset{0: kgo.NewOffset().At(5)}, 5)
		var offs []int64
		for _, r := range got {
			offs = append(offs, r.Offset)
		}
		check(fmt.Sprint(offs) == "[5 6 7 8 9]", "offsets read %v", offs)
		return "read offsets 5..9"
	case "consume.from_timestamp":
		t := topic("ts", 1, nil)
		t0 := time.Now().Add(-time.Minute).UnixMilli()
		var recs []*kgo.Record
		for i := 0; i < 5; i++ {
			recs = append(recs, toPartition(&kgo.Record{Key: []byte("k"), Value: []byte(fmt.Sprintf("t-%d", i)),
				Timestamp: time.UnixMilli(t0 + int64(i)*timestampStepMillis)}, 0))
		}
		produceOK(t, recs, "all", kgo.NoCompression(), true)
		lo, err := adm.ListOffsetsAfterMilli(ctx(waitBound), t0+2*timestampStepMillis, t)
		must(err, "list offsets after milli")
		o, ok := lo.Lookup(t, 0)
		check(ok && o.Err == nil && o.Offset == 2, "offset for t0+2s: %+v", o)
		got := readFrom(t, map[int32]kgo.Offset{0: kgo.NewOffset().At(o.Offset)}, 3)
		var seen []string
		for _, r := range got {
			seen = append(seen, fmt.Sprintf("%d@%d", r.Offset, r.Timestamp.UnixMilli()-t0))
		}
		check(fmt.Sprint(seen) == "[2@2000 3@3000 4@4000]", "read %v", seen)
		return "offset 2 for t0+2s; read 2..4 with their timestamps"
	case "consume.earliest":
		t := topic("earliest", partitions, nil)
		recs := records(count, "r")
		produceOK(t, recs, "all", kgo.NoCompression(), true)
		got := readFrom(t, map[int32]kgo.Offset{0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart()}, count)
		check(sameStrings(values(got), values(recs)), "did not read the 10 records")
		return "10 records from the earliest offsets"
	case "consume.latest":
		t := topic("latest", partitions, nil)
		produceOK(t, records(count, "old"), "all", kgo.NoCompression(), true)
		cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
			t: {0: kgo.NewOffset().AtEnd(), 1: kgo.NewOffset().AtEnd()}}))
		must(err, "new consumer")
		defer cl.Close()
		// franz-go exposes no position; a second of polling lets it resolve "latest". If it
		// resolved after the next produce, the new records would be skipped and this fails.
		pollOnce(cl, time.Second)
		fresh := records(5, "new")
		produceOK(t, fresh, "all", kgo.NoCompression(), true)
		check(sameStrings(values(pollUntil(cl, 5)), values(fresh)), "did not read exactly the 5 new records")
		return "positioned at the end; read exactly the 5 new records"
	case "consume.max_bytes":
		t := topic("maxbytes", 1, nil)
		var recs []*kgo.Record
		for i := 0; i < maxBytesRecords; i++ {
			v := []byte(strings.Repeat(string(rune('a'+i%26)), maxBytesValueBytes))
			r := toPartition(&kgo.Record{Key: []byte("k"), Value: v}, 0)
			recs = append(recs, r)
			produceOK(t, []*kgo.Record{r}, "all", kgo.NoCompression(), true)
		}
		got := readFrom(t, map[int32]kgo.Offset{0: kgo.NewOffset().AtStart()}, maxBytesRecords,
			kgo.FetchMaxBytes(maxBytesLimit), kgo.FetchMaxPartitionBytes(maxBytesLimit))
		check(len(got) == maxBytesRecords, "read %d", len(got))
		for i, r := range got {
			check(r.Offset == int64(i) && string(r.Value) == string(recs[i].Value), "record %d differs", i)
		}
		return "20 x 10 KiB records with 15000-byte fetch limits"
	case "group.auto_commit":
		t := topic("auto", partitions, nil)
		g := t + "-g"
		recs := records(count, "r")
		e := ends(produceOK(t, recs, "all", kgo.NoCompression(), true))
		a := newMember(t, g, "a", true, "")
		defer a.close()
		readInGroup(a, recs)
		waitUntil(15*time.Second, fmt.Sprintf("auto commit reaches %v", e), func() bool { return eqOffsets(committed(g, t), e) })
		return fmt.Sprintf("committed %v while running", e)
	case "group.manual_commit":
		t := topic("manual", partitions, nil)
		g := t + "-g"
		recs := records(count, "r")
		e := ends(produceOK(t, recs, "all", kgo.NoCompression(), true))
		fullReadCommit(t, g, recs, "a")
		check(eqOffsets(committed(g, t), e), "committed %v, expected %v", committed(g, t), e)
		return fmt.Sprintf("committed %v", e)
	case "group.no_commit":
		t := topic("nocommit", partitions, nil)
		g := t + "-g"
		recs := records(count, "r")
		produceOK(t, recs, "all", kgo.NoCompression(), true)
		for run := 1; run <= 2; run++ {
			a := newMember(t, g, fmt.Sprintf("run%d", run), false, "")
			readInGroup(a, recs)
			a.close()
		}
		check(eqOffsets(committed(g, t), map[int32]int64{0: -1, 1: -1}), "offsets were committed: %v", committed(g, t))
		return "both runs read all 10; nothing committed"
	case "group.reset":
		t := topic("reset", partitions, nil)
		g := t + "-g"
		recs := records(count, "r")
		e := ends(produceOK(t, recs, "all", kgo.NoCompression(), true))
		fullReadCommit(t, g, recs, "first")
		check(eqOffsets(committed(g, t), e), "first run did not commit the ends")
		r := newMember(t, g, "reset", false, "")
		waitUntil(waitBound, "reset member assigned", func() bool { return r.owns(0, 1) })
		zero := map[string]map[int32]kgo.EpochOffset{t: {0: {Epoch: -1, Offset: 0}, 1: {Epoch: -1, Offset: 0}}}
		r.cl.SetOffsets(zero)
		var commitErr error
		r.cl.CommitOffsetsSync(ctx(waitBound), zero, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, _ *kmsg.OffsetCommitResponse, err error) { commitErr = err })
		r.close()
		must(commitErr, "commit zero")
		check(eqOffsets(committed(g, t), map[int32]int64{0: 0, 1: 0}), "after reset %v", committed(g, t))
		again := fullReadCommit(t, g, recs, "again")
		check(sameStrings(values(again.got()), values(recs)), "re-read differs")
		return "reset to 0 and re-read all 10"
	case "group.join":
		a, b := twoMembers("join")
		defer a.close()
		defer b.close()
		return fmt.Sprintf("a %v, b %v", a.assignment(), b.assignment())
	case "group.leave":
		a, b := twoMembers("leave")
		defer a.close()
		closed := time.Now()
		b.close()
		waitUntil(waitBound, "a owns both after b left", func() bool { return a.owns(0, 1) })
		took := time.Since(closed)
		check(took < leaveBound, "a got both partitions only %.1fs after b closed", took.Seconds())
		return fmt.Sprintf("a owns both %.1fs after b closed", took.Seconds())
	case "group.crash":
		return crash()
	case "group.concurrent_joins":
		t := topic("concurrent", concurrentMembers, nil)
		g := t + "-g"
		var ms []*member
		for i := 0; i < concurrentMembers; i++ {
			ms = append(ms, newMember(t, g, fmt.Sprintf("m%d", i), false, ""))
		}
		defer func() {
			for _, m := range ms {
				m.close()
			}
		}()
		var owned [][]int32
		waitUntil(2*waitBound, "6 members settle", func() bool {
			owned = nil
			seen := map[int32]bool{}
			for _, m := range ms {
				a := m.assignment()
				if len(a) == 0 {
					return false
				}
				owned = append(owned, a)
				for _, p := range a {
					if seen[p] {
						return false
					}
					seen[p] = true
				}
			}
			return len(seen) == concurrentMembers
		})
		return fmt.Sprintf("settled: %v", owned)
	case "group.static_membership":
		t := topic("static", partitions, nil)
		g := t + "-g"
		a := newMember(t, g, "a", false, "static-a")
		defer a.close()
		waitUntil(waitBound, "a owns both", func() bool { return a.owns(0, 1) })
		b := newMember(t, g, "b", false, "static-b")
		waitUntil(waitBound, "one each", func() bool { return len(a.assignment()) == 1 && len(b.assignment()) == 1 })
		mine := fmt.Sprint(b.assignment())
		before := a.changes()
		b.close()
		b2 := newMember(t, g, "b2", false, "static-b")
		defer b2.close()
		waitUntil(waitBound, "restarted b assigned", func() bool { return len(b2.assignment()) > 0 })
		time.Sleep(time.Second)
		check(fmt.Sprint(b2.assignment()) == mine, "b came back with %v, had %s", b2.assignment(), mine)
		check(a.changes() == before, "a was rebalanced: %v", a.history)
		return fmt.Sprintf("b got %s back; a kept %v throughout", mine, a.assignment())
	case "offsets.commit":
		t := topic("commit", partitions, nil)
		g := t + "-g"
		produceOK(t, records(count, "r"), "all", kgo.NoCompression(), true)
		a := newMember(t, g, "a", false, "")
		waitUntil(waitBound, "a assigned", func() bool { return a.owns(0, 1) })
		var commitErr error
		a.cl.CommitOffsetsSync(ctx(waitBound), map[string]map[int32]kgo.EpochOffset{t: {0: {Epoch: -1, Offset: 3}, 1: {Epoch: -1, Offset: 2}}},
			func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, _ *kmsg.OffsetCommitResponse, err error) { commitErr = err })
		a.close()
		must(commitErr, "commit")
		check(eqOffsets(committed(g, t), map[int32]int64{0: 3, 1: 2}), "admin sees %v", committed(g, t))
		return "admin sees {0: 3, 1: 2}"
	case "offsets.fetch":
		// kgo's group commits carry no metadata; kadm commits (generation -1, for an empty
		// group) do, and FetchOffsets returns it.
		t := topic("fetch", partitions, nil)
		g := t + "-g"
		os := kadm.Offsets{}
		os.Add(kadm.Offset{Topic: t, Partition: 0, At: 3, LeaderEpoch: -1, Metadata: "m-compat"})
		os.Add(kadm.Offset{Topic: t, Partition: 1, At: 2, LeaderEpoch: -1, Metadata: "m-compat"})
		resps, err := adm.CommitOffsets(ctx(waitBound), g, os)
		must(err, "commit offsets")
		must(resps.Error(), "commit offsets")
		fetched, err := adm.FetchOffsets(ctx(waitBound), g)
		must(err, "fetch offsets")
		var got []string
		for p := int32(0); p < partitions; p++ {
			r, _ := fetched.Lookup(t, p)
			got = append(got, fmt.Sprintf("%d=%d:%s", p, r.At, r.Metadata))
		}
		check(fmt.Sprint(got) == "[0=3:m-compat 1=2:m-compat]", "fetched %v", got)
		return fmt.Sprintf("fetched %v", got)
	case "offsets.reset":
		t, g, _ := committedGroup("oreset")
		os := kadm.Offsets{}
		os.Add(kadm.Offset{Topic: t, Partition: 0, At: 0, LeaderEpoch: -1})
		os.Add(kadm.Offset{Topic: t, Partition: 1, At: 0, LeaderEpoch: -1})
		resps, err := adm.CommitOffsets(ctx(waitBound), g, os)
		must(err, "reset offsets")
		must(resps.Error(), "reset offsets")
		check(eqOffsets(committed(g, t), map[int32]int64{0: 0, 1: 0}), "after reset %v", committed(g, t))
		return "reset to {0: 0, 1: 0}"
	case "offsets.delete":
		t, g, e := committedGroup("odelete")
		resps, err := adm.DeleteOffsets(ctx(waitBound), g, kadm.TopicsSet{t: {0: {}}})
		must(err, "delete offsets")
		must(resps.Error(), "delete offsets")
		got := committed(g, t)
		check(got[0] == -1 && got[1] == e[1], "after delete %v", got)
		return fmt.Sprintf("partition 0 gone, partition 1 kept at %d", e[1])
	case "offsets.delete_group":
		t, g, _ := committedGroup("odelgroup")
		check(groups()[g], "group not listed before the delete")
		resp, err := adm.DeleteGroup(ctx(waitBound), g)
		must(err, "delete group")
		must(resp.Err, "delete group")
		check(!groups()[g], "group still listed")
		check(eqOffsets(committed(g, t), map[int32]int64{0: -1, 1: -1}), "offsets left %v", committed(g, t))
		return "deleted; offsets gone"
	}
	panic(unsupported{"not in this adapter"})
}

func crash() string {
	t := topic("crash", partitions, nil)
	g := t + "-g"
	produceOK(t, records(count, "first"), "all", kgo.NoCompression(), true)
	child := exec.Command(os.Args[0], "--bootstrap", bootstrap, "--child-member", fmt.Sprintf("%s,%s,%d", t, g, count))
	out, err := child.StdoutPipe()
	must(err, "child stdout")
	must(child.Start(), "start child")
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case said := <-line:
		check(said == "committed", "child said %q", said)
	case <-time.After(waitBound + 10*time.Second):
		panic(checkErr{"child printed nothing"})
	}
	_ = child.Process.Kill()
	killed := time.Now()
	second := records(5, "second")
	produceOK(t, second, "all", kgo.NoCompression(), true)
	b := newMember(t, g, "b", false, "")
	defer b.close()
	waitUntil(sessionTimeout+waitBound, "b owns both partitions", func() bool { return b.owns(0, 1) })
	took := time.Since(killed)
	readInGroup(b, second)
	time.Sleep(500 * time.Millisecond)
	check(sameStrings(values(b.got()), values(second)), "b read %d records, expected only the 5 new", len(b.got()))
	check(took >= sessionTimeout/2, "b owned a's partitions %.1fs after the kill: before a's session expired", took.Seconds())
	return fmt.Sprintf("b owns both %.1fs after the kill; read only the 5 uncommitted", took.Seconds())
}

func childMember(spec string) {
	p := strings.Split(spec, ",")
	n, _ := strconv.Atoi(p[2])
	m := newMember(p[0], p[1], "child", false, "")
	deadline := time.Now().Add(waitBound)
	for len(m.got()) < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	must(m.cl.CommitUncommittedOffsets(ctx(waitBound)), "commit")
	fmt.Println("committed")
	time.Sleep(2 * time.Minute)
}

func runOne(id string) (status, detail string) {
	defer func() {
		if r := recover(); r != nil {
			switch e := r.(type) {
			case checkErr:
				status, detail = "fail", e.msg
			case unsupported:
				status, detail = "skip", e.msg
			case error:
				status, detail = "fail", e.Error()
				fmt.Fprintf(os.Stderr, "%s: %v\n%s\n", id, e, debug.Stack())
			default:
				status, detail = "fail", fmt.Sprint(e)
				fmt.Fprintf(os.Stderr, "%s: %v\n%s\n", id, e, debug.Stack())
			}
		}
	}()
	return "pass", run(id)
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/twmb/franz-go" {
				return d.Version
			}
		}
	}
	return "unknown"
}

func main() {
	scenarios := flag.String("scenarios", "", "comma-separated scenario ids")
	child := flag.String("child-member", "", "internal: group.crash's member a")
	flag.StringVar(&bootstrap, "bootstrap", "", "host:port")
	flag.StringVar(&runID, "run-id", "x", "added to every name")
	flag.Parse()
	if *child != "" {
		childMember(*child)
		return
	}
	var err error
	admCl, err = kgo.NewClient(kgo.SeedBrokers(bootstrap))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	adm = kadm.NewClient(admCl)
	enc := json.NewEncoder(os.Stdout)
	_ = enc.Encode(map[string]string{"client": "franz-go", "version": version()})
	for _, id := range strings.Split(*scenarios, ",") {
		if id == "" {
			continue
		}
		start := time.Now()
		status, detail := runOne(id)
		if len(detail) > detailChars {
			detail = detail[:detailChars]
		}
		_ = enc.Encode(map[string]any{"scenario": id, "status": status, "detail": detail,
			"elapsed_s": float64(time.Since(start).Milliseconds()) / 1000})
	}
	admCl.Close()
	os.Exit(0)
}
