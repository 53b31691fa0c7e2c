#!/usr/bin/env node
// Report-card adapter for kafkajs: every scenario of compat/scenarios.py that kafkajs can
// express, with the same checks as compat/python/adapterlib.py. Usage:
//   node compat/kafkajs/adapter.js --bootstrap HOST:PORT --scenarios ID,ID --run-id RUN
// Prints one JSON line per scenario (protocol in compat/scenarios.py); kafkajs' own log goes
// to stderr. kafkajs has no manual assignment (every consumer is a group member), so the
// consume scenarios run a one-member group and seek inside it.
'use strict'

const crypto = require('crypto')
const { spawn } = require('child_process')
const { Kafka, CompressionTypes, CompressionCodecs, ConfigResourceTypes, logLevel } = require('kafkajs')
const SnappyCodec = require('kafkajs-snappy')
const lz4js = require('lz4js')
const xxh32 = require('lz4js/xxh32.js')
const { ZstdCodec } = require('zstd-codec')

const SESSION_TIMEOUT_MS = 6000
const HEARTBEAT_INTERVAL_MS = 500
const AUTO_COMMIT_INTERVAL_MS = 500
const WAIT_MS = 30000
const POLL_MS = 200
const COUNT = 10
const PARTITIONS = 2
const LEAVE_BOUND_MS = 5000
const TOO_LARGE_TOPIC_MAX_BYTES = 16384
const TOO_LARGE_VALUE_BYTES = 64 * 1024
const MAX_BYTES_LIMIT = 15000
const MAX_BYTES_RECORDS = 20
const MAX_BYTES_VALUE_BYTES = 10 * 1024
const CONCURRENT_MEMBERS = 6
const TIMESTAMP_STEP_MS = 1000
const DETAIL_CHARS = 600

// kafkajs ships gzip only; the other codecs are plugins. lz4 and zstd here are pure-JS
// wrappers (lz4js: LZ4 frame format, as Kafka uses; zstd-codec: zstd compiled to JS).
CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec
// lz4js leaves the frame's block-independence flag clear, and Kafka refuses such frames
// ("Dependent block stream is unsupported"). A frame of one block is independent, so the
// flag is set and the header checksum recomputed; inputs past one block are refused.
const LZ4_BLOCK_BYTES = 4 * 1024 * 1024
const LZ4_FLG_BLOCK_INDEPENDENCE = 0x20
function lz4Frame (input) {
  if (input.length > LZ4_BLOCK_BYTES) throw new Error('lz4 wrapper: input larger than one frame block')
  const frame = Buffer.from(lz4js.compress(input))
  frame[4] |= LZ4_FLG_BLOCK_INDEPENDENCE
  frame[6] = (xxh32.hash(0, frame, 4, 2) >> 8) & 0xff
  return frame
}
CompressionCodecs[CompressionTypes.LZ4] = () => ({
  async compress (encoder) { return lz4Frame(encoder.buffer) },
  async decompress (buffer) { return Buffer.from(lz4js.decompress(buffer)) },
})
let zstd = null
const zstdReady = new Promise(resolve => ZstdCodec.run(z => { zstd = new z.Streaming(); resolve() }))
CompressionCodecs[CompressionTypes.ZSTD] = () => ({
  async compress (encoder) { await zstdReady; return Buffer.from(zstd.compress(encoder.buffer)) },
  async decompress (buffer) { await zstdReady; return Buffer.from(zstd.decompress(buffer)) },
})
const CODECS = { gzip: CompressionTypes.GZIP, snappy: CompressionTypes.Snappy, lz4: CompressionTypes.LZ4, zstd: CompressionTypes.ZSTD }

class Check extends Error {}
class Unsupported extends Error {}
function check (cond, msg) { if (!cond) throw new Check(msg) }
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

async function waitUntil (pred, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await pred()
    if (v) return v
    if (Date.now() > deadline) throw new Check(`not within ${Math.round(timeoutMs / 1000)}s: ${what}`)
    await sleep(POLL_MS)
  }
}

const args = {}
for (let i = 2; i + 1 < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1]
const bootstrap = args.bootstrap
const runId = args['run-id'] || 'x'

const stderrLog = () => ({ namespace, level, label, log }) => {
  process.stderr.write(`${label} [${namespace}] ${log.message} ${log.error || ''}\n`)
}
const kafka = new Kafka({ clientId: 'compat-kafkajs', brokers: [bootstrap], logLevel: logLevel.ERROR, logCreator: stderrLog, retry: { retries: 5 } })
let admin

const name = stem => `compat-kafkajs-${stem}-${runId}-${crypto.randomBytes(3).toString('hex')}`

async function partitionsOf (t) {
  try {
    const md = await admin.fetchTopicMetadata({ topics: [t] })
    const out = {}
    for (const p of md.topics[0].partitions) out[p.partitionId] = p.leader
    return out
  } catch (e) {
    return {}
  }
}

async function topic (stem, partitions, configs = {}) {
  const t = name(stem)
  const created = await admin.createTopics({
    topics: [{ topic: t, numPartitions: partitions, replicationFactor: 1, configEntries: Object.entries(configs).map(([n, v]) => ({ name: n, value: v })) }],
    waitForLeaders: true,
  })
  check(created, `create ${t}: already exists`)
  await waitUntil(async () => Object.keys(await partitionsOf(t)).length === partitions, WAIT_MS, `${t} has ${partitions} partitions`)
  // Metadata can name a leader before that broker serves the partition. kafkajs retries a
  // whole send when one partition fails, duplicating what the others already stored, so
  // wait until every partition answers ListOffsets before anything is produced.
  await waitUntil(async () => {
    try {
      return (await admin.fetchTopicOffsets(t)).length === partitions
    } catch (e) {
      return false
    }
  }, WAIT_MS, `${t}: every partition served`)
  return t
}

function records (n, tag) {
  return Array.from({ length: n }, (_, i) => ({ key: `key-${i % 5}`, value: `${tag}-${i}-${runId}` }))
}

// kafkajs acknowledges a whole send per partition (base offset); each record's offset is
// the base plus its position among that partition's records in the send.
async function produce (t, msgs, { acks = -1, codec = null, idempotent = false, timeoutMs = 30000, retries = 5 } = {}) {
  const producer = kafka.producer({ idempotent, maxInFlightRequests: idempotent ? 1 : undefined, allowAutoTopicCreation: true, retry: { retries } })
  await producer.connect()
  try {
    const md = await producer.send({ topic: t, acks, timeout: timeoutMs, compression: codec == null ? CompressionTypes.None : CODECS[codec], messages: msgs })
    return acks === 0 ? null : md
  } finally {
    await producer.disconnect()
  }
}

async function readAll (t, want, opts = {}) {
  const m = member(t, name('reader'), { autoCommit: false, ...opts })
  await m.start()
  try {
    await waitUntil(() => m.records.length >= want, WAIT_MS, `${want} records read`)
    await sleep(300)
    return m.records
  } finally {
    await m.close()
  }
}

const sorted = a => [...a].sort()
const same = (a, b) => JSON.stringify(sorted(a)) === JSON.stringify(sorted(b))

async function roundtrip (t, msgs, md) {
  const got = await readAll(t, msgs.length)
  check(same(got.map(r => r.value), msgs.map(m => m.value)), `read ${got.length} records, expected ${msgs.length}`)
  const byKey = {}
  for (const r of got) (byKey[r.key] = byKey[r.key] || new Set()).add(r.partition)
  for (const [k, ps] of Object.entries(byKey)) check(ps.size === 1, `key ${k} in several partitions`)
  if (md) {
    // Records of one partition sit at base, base+1, ... in send order.
    const base = {}
    for (const m of md) base[m.partition] = Number(m.baseOffset)
    const next = { ...base }
    const byPartition = {}
    for (const r of got) byPartition[`${r.partition}/${r.offset}`] = r.value
    for (const m of msgs) {
      const r = got.find(g => g.value === m.value)
      const at = `${r.partition}/${next[r.partition]++}`
      check(byPartition[at] === m.value, `offsets differ from acknowledgements at ${at}`)
    }
  }
  return `${got.length} records read back`
}

// A group member: kafkajs runs its fetch loop itself; records and the assignment (from
// GROUP_JOIN events) are collected as they come.
function member (t, g, { autoCommit = false, fromBeginning = true, commitEach = false, maxBytes = null, seekTo = null, label = 'm' } = {}) {
  const opts = { groupId: g, sessionTimeout: SESSION_TIMEOUT_MS, heartbeatInterval: HEARTBEAT_INTERVAL_MS, rebalanceTimeout: 20000, maxWaitTimeInMs: 100 }
  if (maxBytes) Object.assign(opts, { maxBytes, maxBytesPerPartition: maxBytes })
  const consumer = kafka.consumer(opts)
  const m = {
    label, consumer, records: [], history: [], error: null, fetched: false,
    assignment () { return this.history.length ? this.history[this.history.length - 1] : null },
    owns (...ps) { return JSON.stringify(this.assignment()) === JSON.stringify(ps) },
    async start () {
      consumer.on(consumer.events.GROUP_JOIN, e => {
        const a = (e.payload.memberAssignment[t] || []).slice().sort((x, y) => x - y)
        this.history.push(a)
      })
      consumer.on(consumer.events.FETCH_START, () => { this.fetched = true })
      consumer.on(consumer.events.CRASH, e => { this.error = e.payload.error })
      await consumer.connect()
      await consumer.subscribe({ topics: [t], fromBeginning })
      await consumer.run({
        autoCommit,
        autoCommitInterval: AUTO_COMMIT_INTERVAL_MS,
        eachMessage: async ({ partition, message }) => {
          const headers = []
          for (const [k, v] of Object.entries(message.headers || {})) {
            for (const one of (Array.isArray(v) ? v : [v])) headers.push(`${k}=${one == null ? '' : one.toString()}`)
          }
          this.records.push({ partition, offset: Number(message.offset), key: message.key && message.key.toString(), value: message.value && message.value.toString(), headers, timestamp: Number(message.timestamp) })
          if (commitEach) await consumer.commitOffsets([{ topic: t, partition, offset: String(Number(message.offset) + 1) }])
        },
      })
      if (seekTo) {
        await waitUntil(() => this.assignment() !== null, WAIT_MS, 'assigned before seek')
        for (const [p, off] of Object.entries(seekTo)) consumer.seek({ topic: t, partition: Number(p), offset: String(off) })
      }
    },
    alive () { if (this.error) throw new Check(`${label} crashed: ${this.error}`) },
    async close () { await consumer.disconnect() },
  }
  return m
}

async function committed (g, t) {
  const res = await admin.fetchOffsets({ groupId: g, topics: [t] })
  const out = {}
  for (let p = 0; p < PARTITIONS; p++) out[p] = -1
  for (const part of res[0].partitions) out[part.partition] = Number(part.offset)
  return out
}

async function endOffsets (t) {
  const out = {}
  for (const o of await admin.fetchTopicOffsets(t)) out[o.partition] = Number(o.high)
  return out
}

const eq = (a, b) => JSON.stringify(a) === JSON.stringify(b)

async function readInGroup (m, msgs) {
  const want = new Set(msgs.map(x => x.value))
  await waitUntil(() => { m.alive(); const have = new Set(m.records.map(r => r.value)); return [...want].every(v => have.has(v)) }, WAIT_MS, `${msgs.length} records read by ${m.label}`)
}

async function fullReadCommit (t, g, msgs, label) {
  const m = member(t, g, { commitEach: true, label })
  await m.start()
  try { await readInGroup(m, msgs) } finally { await m.close() }
  return m
}

async function twoMembers (stem) {
  const t = await topic(stem, PARTITIONS)
  const g = t + '-g'
  const a = member(t, g, { label: 'a' })
  await a.start()
  await waitUntil(() => { a.alive(); return a.owns(0, 1) }, WAIT_MS, 'a owns both partitions')
  const b = member(t, g, { label: 'b' })
  await b.start()
  await waitUntil(() => a.assignment() && b.assignment() && a.assignment().length === 1 && b.assignment().length === 1, WAIT_MS, 'a and b own one partition each')
  return [t, g, a, b]
}

async function committedGroup (stem) {
  const t = await topic(stem, PARTITIONS)
  const g = t + '-g'
  const msgs = records(COUNT, 'r')
  await produce(t, msgs)
  const e = await endOffsets(t)
  await fullReadCommit(t, g, msgs, 'reader')
  check(eq(await committed(g, t), e), 'setup: ends not committed')
  return [t, g, e]
}

async function groups () {
  return new Set((await admin.listGroups()).groups.map(x => x.groupId))
}

async function describeConfigs (t) {
  const res = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: t }], includeSynonyms: false })
  const out = {}
  for (const e of res.resources[0].configEntries) out[e.configName] = e.configValue
  return out
}

const scenarios = {
  'admin.create_topic': async () => {
    const t = await topic('create', 3)
    const again = await admin.createTopics({ topics: [{ topic: t, numPartitions: 3, replicationFactor: 1 }] })
    check(again === false, `second create answered ${again}`)
    return 'created; second create: already exists (createTopics returned false)'
  },
  'admin.describe_topic': async () => {
    const t = await topic('describe', 3)
    const ps = await partitionsOf(t)
    check(eq(Object.keys(ps), ['0', '1', '2']) && Object.values(ps).every(l => l >= 0), `partitions ${JSON.stringify(ps)}`)
    check((await admin.listTopics()).includes(t), 'not listed')
    return `partitions/leaders ${JSON.stringify(ps)}`
  },
  'admin.describe_configs': async () => {
    const t = await topic('configs', 1, { 'retention.ms': '3600000' })
    const c = await describeConfigs(t)
    check(c['retention.ms'] === '3600000', `retention.ms=${c['retention.ms']}`)
    check(c['cleanup.policy'] === 'delete', `cleanup.policy=${c['cleanup.policy']}`)
    return `${Object.keys(c).length} configs`
  },
  'admin.alter_configs': async () => {
    const t = await topic('alter', 1)
    await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: t, configEntries: [{ name: 'retention.ms', value: '7200000' }] }] })
    await waitUntil(async () => (await describeConfigs(t))['retention.ms'] === '7200000', 10000, 'retention.ms=7200000 visible')
    return 'retention.ms=7200000 (legacy AlterConfigs)'
  },
  'admin.create_partitions': async () => {
    const t = await topic('grow', 1)
    await admin.createPartitions({ topicPartitions: [{ topic: t, count: 3 }] })
    await waitUntil(async () => Object.keys(await partitionsOf(t)).length === 3, WAIT_MS, '3 partitions')
    return '1 -> 3 partitions'
  },
  'admin.delete_topic': async () => {
    const t = await topic('delete', 1)
    await admin.deleteTopics({ topics: [t] })
    await waitUntil(async () => !(await admin.listTopics()).includes(t), 15000, `${t} gone`)
    return 'deleted'
  },
  'produce.acks_0': async () => acks(0),
  'produce.acks_1': async () => acks(1),
  'produce.acks_all': async () => acks(-1),
  'produce.headers': async () => {
    const t = await topic('headers', 1)
    await produce(t, [{ key: 'k', value: 'v-headers', headers: { h: ['1', '2'], x: '' } }])
    const got = await readAll(t, 1)
    check(got.length === 1, `read ${got.length}`)
    check(got[0].key === 'k', `key ${got[0].key}`)
    check(eq(got[0].headers, ['h=1', 'h=2', 'x=']), `headers read back ${got[0].headers}`)
    return 'key and 3 headers (duplicate key h) intact'
  },
  'produce.gzip': async () => codec('gzip'),
  'produce.snappy': async () => codec('snappy'),
  'produce.lz4': async () => codec('lz4'),
  'produce.zstd': async () => codec('zstd'),
  'produce.idempotent': async () => {
    const t = await topic('idem', PARTITIONS)
    const msgs = records(20, 'r')
    return roundtrip(t, msgs, await produce(t, msgs, { idempotent: true }))
  },
  'produce.record_too_large': async () => {
    const t = await topic('large', 1, { 'max.message.bytes': String(TOO_LARGE_TOPIC_MAX_BYTES) })
    let err = null
    try {
      await produce(t, [{ key: 'big', value: crypto.randomBytes(TOO_LARGE_VALUE_BYTES) }], { retries: 0 })
    } catch (e) { err = e }
    check(err, '64 KiB record accepted')
    check(err.type === 'MESSAGE_TOO_LARGE' || /too large/i.test(err.message), `error is not MESSAGE_TOO_LARGE: ${err.type} ${err.message}`)
    await produce(t, [{ key: 'small', value: 'fits' }])
    return `rejected: ${err.type}`
  },
  'produce.unknown_topic_autocreate': async () => {
    const t = name('auto')
    const md = await produce(t, [{ key: 'k', value: 'auto-created' }])
    await waitUntil(async () => (await admin.listTopics()).includes(t), 5000, 'topic listed after the produce')
    return `auto-created, record at ${md[0].baseOffset}`
  },
  'produce.unknown_topic_no_autocreate': async () => {
    const t = name('noauto')
    let err = null
    try {
      await produce(t, [{ key: 'k', value: 'nowhere' }], { retries: 2, timeoutMs: 8000 })
    } catch (e) { err = e }
    check(err, 'produce to a missing topic succeeded')
    check(!(await admin.listTopics()).includes(t), 'the topic was created anyway')
    return `refused: ${err.type || err.name}: ${err.message}`
  },
  'consume.assign_seek': async () => {
    const t = await topic('seek', PARTITIONS)
    await produce(t, Array.from({ length: COUNT }, (_, i) => ({ key: 'k', value: `s-${i}`, partition: 0 })))
    const m = member(t, name('seek'), { seekTo: { 0: 5, 1: 0 } })
    await m.start()
    try {
      await waitUntil(() => m.records.length >= 5, WAIT_MS, '5 records')
      await sleep(300)
    } finally { await m.close() }
    const offs = m.records.filter(r => r.partition === 0).map(r => r.offset)
    // The member may have fetched from 0 before the seek took hold; what counts is that
    // after the seek it read 5..9 in order.
    const fromSeek = offs.slice(offs.lastIndexOf(5))
    check(eq(fromSeek, [5, 6, 7, 8, 9]), `offsets read ${offs}`)
    return 'read offsets 5..9 after seek (kafkajs: group member + seek, it has no assign)'
  },
  'consume.from_timestamp': async () => {
    const t = await topic('ts', 1)
    const t0 = Date.now() - 60000
    await produce(t, Array.from({ length: 5 }, (_, i) => ({ key: 'k', value: `t-${i}`, partition: 0, timestamp: String(t0 + i * TIMESTAMP_STEP_MS) })))
    const offs = await admin.fetchTopicOffsetsByTimestamp(t, t0 + 2 * TIMESTAMP_STEP_MS)
    const off = Number(offs.find(o => o.partition === 0).offset)
    check(off === 2, `offset for t0+2s: ${off}`)
    const m = member(t, name('ts'), { fromBeginning: false, seekTo: { 0: off } })
    await m.start()
    try {
      await waitUntil(() => m.records.length >= 3, WAIT_MS, '3 records')
      await sleep(300)
    } finally { await m.close() }
    const seen = m.records.map(r => `${r.offset}@${r.timestamp - t0}`)
    check(eq(seen.slice(-3), ['2@2000', '3@3000', '4@4000']), `read ${seen}`)
    return 'offset 2 for t0+2s; read 2..4 with their timestamps'
  },
  'consume.earliest': async () => {
    const t = await topic('earliest', PARTITIONS)
    const msgs = records(COUNT, 'r')
    await produce(t, msgs)
    const got = await readAll(t, COUNT)
    check(same(got.map(r => r.value), msgs.map(m => m.value)), 'did not read the 10 records')
    return '10 records from the earliest offsets (fromBeginning: true)'
  },
  'consume.latest': async () => {
    const t = await topic('latest', PARTITIONS)
    await produce(t, records(COUNT, 'old'))
    const m = member(t, name('latest'), { fromBeginning: false })
    await m.start()
    try {
      await waitUntil(() => m.owns(0, 1) && m.fetched, WAIT_MS, 'joined and fetching')
      await sleep(500)
      const fresh = records(5, 'new')
      await produce(t, fresh)
      await waitUntil(() => m.records.length >= 5, WAIT_MS, '5 records')
      await sleep(300)
      check(same(m.records.map(r => r.value), fresh.map(x => x.value)), `read ${m.records.map(r => r.value)}`)
    } finally { await m.close() }
    return 'positioned at the end; read exactly the 5 new records'
  },
  'consume.max_bytes': async () => {
    const t = await topic('maxbytes', 1)
    const msgs = []
    for (let i = 0; i < MAX_BYTES_RECORDS; i++) {
      const msg = { key: 'k', value: String.fromCharCode(97 + i % 26).repeat(MAX_BYTES_VALUE_BYTES), partition: 0 }
      msgs.push(msg)
      await produce(t, [msg])
    }
    const got = await readAll(t, MAX_BYTES_RECORDS, { maxBytes: MAX_BYTES_LIMIT })
    check(got.length === MAX_BYTES_RECORDS, `read ${got.length}`)
    got.forEach((r, i) => check(r.offset === i && r.value === msgs[i].value, `record ${i} differs`))
    return '20 x 10 KiB records with 15000-byte fetch limits'
  },
  'group.auto_commit': async () => {
    const t = await topic('auto', PARTITIONS)
    const g = t + '-g'
    const msgs = records(COUNT, 'r')
    await produce(t, msgs)
    const e = await endOffsets(t)
    const a = member(t, g, { autoCommit: true, label: 'a' })
    await a.start()
    try {
      await readInGroup(a, msgs)
      await waitUntil(async () => eq(await committed(g, t), e), 15000, `auto commit reaches ${JSON.stringify(e)}`)
    } finally { await a.close() }
    return `committed ${JSON.stringify(e)} while running`
  },
  'group.manual_commit': async () => {
    const t = await topic('manual', PARTITIONS)
    const g = t + '-g'
    const msgs = records(COUNT, 'r')
    await produce(t, msgs)
    const e = await endOffsets(t)
    await fullReadCommit(t, g, msgs, 'a')
    const c = await committed(g, t)
    check(eq(c, e), `committed ${JSON.stringify(c)}, expected ${JSON.stringify(e)}`)
    return `committed ${JSON.stringify(e)}`
  },
  'group.no_commit': async () => {
    const t = await topic('nocommit', PARTITIONS)
    const g = t + '-g'
    const msgs = records(COUNT, 'r')
    await produce(t, msgs)
    for (const run of [1, 2]) {
      const a = member(t, g, { label: `run${run}` })
      await a.start()
      try { await readInGroup(a, msgs) } finally { await a.close() }
    }
    const c = await committed(g, t)
    check(eq(c, { 0: -1, 1: -1 }), `offsets were committed: ${JSON.stringify(c)}`)
    return 'both runs read all 10; nothing committed'
  },
  'group.reset': async () => {
    const t = await topic('reset', PARTITIONS)
    const g = t + '-g'
    const msgs = records(COUNT, 'r')
    await produce(t, msgs)
    const e = await endOffsets(t)
    await fullReadCommit(t, g, msgs, 'first')
    check(eq(await committed(g, t), e), 'first run did not commit the ends')
    const r = member(t, g, { label: 'reset' })
    await r.start()
    try {
      await waitUntil(() => r.owns(0, 1), WAIT_MS, 'reset member assigned')
      await r.consumer.commitOffsets([{ topic: t, partition: 0, offset: '0' }, { topic: t, partition: 1, offset: '0' }])
    } finally { await r.close() }
    check(eq(await committed(g, t), { 0: 0, 1: 0 }), `after reset ${JSON.stringify(await committed(g, t))}`)
    const again = await fullReadCommit(t, g, msgs, 'again')
    check(same(again.records.map(x => x.value), msgs.map(x => x.value)), 're-read differs')
    return 'reset to 0 and re-read all 10'
  },
  'group.join': async () => {
    const [, , a, b] = await twoMembers('join')
    try { return `a ${JSON.stringify(a.assignment())}, b ${JSON.stringify(b.assignment())}` } finally { await b.close(); await a.close() }
  },
  'group.leave': async () => {
    const [, , a, b] = await twoMembers('leave')
    try {
      const closed = Date.now()
      await b.close()
      await waitUntil(() => a.owns(0, 1), WAIT_MS, 'a owns both after b left')
      const took = Date.now() - closed
      check(took < LEAVE_BOUND_MS, `a got both partitions only ${took} ms after b closed`)
      return `a owns both ${took} ms after b closed`
    } finally { await a.close() }
  },
  'group.crash': async () => {
    const t = await topic('crash', PARTITIONS)
    const g = t + '-g'
    await produce(t, records(COUNT, 'first'))
    const child = spawn(process.execPath, [__filename, '--bootstrap', bootstrap, '--child-member', `${t},${g},${COUNT}`], { stdio: ['ignore', 'pipe', 'ignore'] })
    try {
      const said = await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Check('child printed nothing')), WAIT_MS + 10000)
        let buf = ''
        child.stdout.on('data', d => { buf += d; if (buf.includes('\n')) { clearTimeout(timer); resolve(buf.trim()) } })
      })
      check(said === 'committed', `child said ${said}`)
      child.kill('SIGKILL')
      const killed = Date.now()
      const second = records(5, 'second')
      await produce(t, second)
      const b = member(t, g, { label: 'b' })
      await b.start()
      let took
      try {
        await waitUntil(() => { b.alive(); return b.owns(0, 1) }, SESSION_TIMEOUT_MS + WAIT_MS, 'b owns both partitions')
        took = Date.now() - killed
        await readInGroup(b, second)
        await sleep(500)
        check(same(b.records.map(r => r.value), second.map(x => x.value)), `b read ${b.records.length} records, expected only the 5 new`)
      } finally { await b.close() }
      check(took >= SESSION_TIMEOUT_MS / 2, `b owned a's partitions ${took} ms after the kill: before a's session expired`)
      return `b owns both ${took} ms after the kill; read only the 5 uncommitted`
    } finally { child.kill('SIGKILL') }
  },
  'group.concurrent_joins': async () => {
    const t = await topic('concurrent', CONCURRENT_MEMBERS)
    const g = t + '-g'
    const ms = Array.from({ length: CONCURRENT_MEMBERS }, (_, i) => member(t, g, { label: `m${i}` }))
    await Promise.all(ms.map(m => m.start()))
    try {
      const owned = await waitUntil(() => {
        const each = ms.map(m => m.assignment())
        if (each.some(a => !a || a.length === 0)) return null
        const flat = each.flat().sort((x, y) => x - y)
        return eq(flat, [...Array(CONCURRENT_MEMBERS).keys()]) ? each : null
      }, 2 * WAIT_MS, `${CONCURRENT_MEMBERS} members settle`)
      return `settled: ${JSON.stringify(owned)}`
    } finally { await Promise.all(ms.map(m => m.close())) }
  },
  'group.static_membership': async () => { throw new Unsupported('kafkajs has no group.instance.id (static membership)') },
  'offsets.commit': async () => {
    const [t, g] = await commitExplicit()
    const c = await committed(g, t)
    check(eq(c, { 0: 3, 1: 2 }), `admin sees ${JSON.stringify(c)}`)
    return 'admin sees {0: 3, 1: 2}'
  },
  'offsets.fetch': async () => {
    const [t, g] = await commitExplicit()
    const res = await admin.fetchOffsets({ groupId: g, topics: [t] })
    const got = res[0].partitions.map(p => `${p.partition}=${p.offset}:${p.metadata}`).sort()
    check(eq(got, ['0=3:m-compat', '1=2:m-compat']), `fetched ${got}`)
    return `fetched ${got}`
  },
  'offsets.reset': async () => {
    const [t, g] = await committedGroup('oreset')
    // admin.resetOffsets({earliest: true}) would store the sentinel -2 (on Kafka too);
    // setOffsets stores real offsets.
    await admin.setOffsets({ groupId: g, topic: t, partitions: [{ partition: 0, offset: '0' }, { partition: 1, offset: '0' }] })
    const c = await committed(g, t)
    check(eq(c, { 0: 0, 1: 0 }), `after reset ${JSON.stringify(c)}`)
    return 'setOffsets -> {0: 0, 1: 0}'
  },
  'offsets.delete': async () => { throw new Unsupported('kafkajs has no OffsetDelete') },
  'offsets.delete_group': async () => {
    const [t, g] = await committedGroup('odelgroup')
    check((await groups()).has(g), 'group not listed before the delete')
    await admin.deleteGroups([g])
    check(!(await groups()).has(g), 'group still listed')
    const c = await committed(g, t)
    check(eq(c, { 0: -1, 1: -1 }), `offsets left ${JSON.stringify(c)}`)
    return 'deleted; offsets gone'
  },
}

async function acks (n) {
  const t = await topic(`acks${n}`, PARTITIONS)
  const msgs = records(COUNT, 'r')
  const md = await produce(t, msgs, { acks: n })
  return roundtrip(t, msgs, n === 0 ? null : md)
}

async function codec (c) {
  const t = await topic(c, PARTITIONS)
  const msgs = records(COUNT, 'r')
  return roundtrip(t, msgs, await produce(t, msgs, { codec: c }))
}

async function commitExplicit () {
  const t = await topic('commit', PARTITIONS)
  const g = t + '-g'
  await produce(t, records(COUNT, 'r'))
  const a = member(t, g, { label: 'a' })
  await a.start()
  try {
    await waitUntil(() => a.owns(0, 1), WAIT_MS, 'a assigned')
    await sleep(500)
    await a.consumer.commitOffsets([{ topic: t, partition: 0, offset: '3', metadata: 'm-compat' }, { topic: t, partition: 1, offset: '2', metadata: 'm-compat' }])
  } finally { await a.close() }
  return [t, g]
}

async function childMember (spec) {
  const [t, g, n] = spec.split(',')
  const m = member(t, g, { commitEach: true, label: 'child' })
  await m.start()
  await waitUntil(() => m.records.length >= Number(n), WAIT_MS, 'child read its records')
  await sleep(500)
  process.stdout.write('committed\n')
  await sleep(120000)
}

async function main () {
  if (args['child-member']) {
    await childMember(args['child-member'])
    process.exit(0)
  }
  admin = kafka.admin()
  await admin.connect()
  const { version } = require('kafkajs/package.json')
  process.stdout.write(JSON.stringify({ client: 'kafkajs', version }) + '\n')
  for (const id of (args.scenarios || '').split(',').filter(Boolean)) {
    const start = Date.now()
    let status, detail
    try {
      const fn = scenarios[id]
      if (!fn) throw new Unsupported('not in this adapter')
      detail = await fn()
      status = 'pass'
    } catch (e) {
      if (e instanceof Unsupported) status = 'skip'
      else status = 'fail'
      detail = e instanceof Check || e instanceof Unsupported ? e.message : `${e.name}: ${e.message}`
      if (!(e instanceof Check || e instanceof Unsupported)) process.stderr.write(`${id}: ${e.stack}\n`)
    }
    process.stdout.write(JSON.stringify({ scenario: id, status, detail: String(detail).slice(0, DETAIL_CHARS), elapsed_s: (Date.now() - start) / 1000 }) + '\n')
  }
  await admin.disconnect()
  process.exit(0)
}

main().catch(e => { process.stderr.write(`${e.stack}\n`); process.exit(2) })
