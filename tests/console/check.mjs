// Drives the Runnel web console in the system Chromium and checks what the page shows
// against what the test knows happened (tests/test_console.py writes the expectations).
//
//   node check.mjs EXPECT.json
//
// EXPECT.json: {admin_url, phase: "live"|"empty", topic, group, out_dir, docs_dir?, expect: {...}}
// Exit 0 when every check passes; otherwise 1, with one line per failure on stderr.
// Screenshots always go to out_dir; with docs_dir (RUNNEL_CONSOLE_DOCS=1 in the pytest test)
// the light and dark screenshots of the README are written there too.

import { readFileSync, mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM = process.env.RUNNEL_CHROMIUM ?? '/usr/bin/chromium';
// Never let Chromium phone home or fetch components: the test machine has no Internet.
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const WAIT_MS = 20000;
const ACTION_TIMEOUT_MS = 5000;
// The whole run stays inside this, so a broken page fails with a report rather than being
// killed by the caller's timeout.
const RUN_BUDGET_MS = Number(process.env.RUNNEL_CONSOLE_BUDGET_MS ?? 60000);
const runDeadline = Date.now() + RUN_BUDGET_MS;
const waitMs = () => Math.max(1000, Math.min(WAIT_MS, runDeadline - Date.now()));
const VIEWPORT = { width: 1280, height: 900 };

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const failures = [];
const seen = {};

function check(ok, message) {
  if (!ok) failures.push(message);
  return ok;
}

function sameSet(a, b) {
  const x = [...a].sort();
  const y = [...b].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

async function withBrowser(fn) {
  const profile = mkdtempSync(join(tmpdir(), 'runnel-console-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: VIEWPORT,
    timeout: WAIT_MS,
  });
  const pageErrors = [];
  context.on('weberror', (e) => pageErrors.push(`page error: ${e.error().message}`));
  try {
    await fn(context, pageErrors);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
  return pageErrors;
}

async function open(context, pageErrors, hash, colorScheme = 'light') {
  const page = context.pages()[0] ?? await context.newPage();
  await page.emulateMedia({ colorScheme });
  page.removeAllListeners('console');
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    // A missing /history is a documented state the page renders; any other error is a bug.
    if (/Failed to load resource.*404/.test(msg.text()) && /\/history$/.test(msg.location()?.url ?? '')) return;
    pageErrors.push(`console error on ${hash}: ${msg.text()} (${msg.location()?.url ?? ''})`);
  });
  // Every element is waited for (waitInPage) before it is used; an action never waits long.
  page.setDefaultTimeout(ACTION_TIMEOUT_MS);
  const res = await page.goto(`${config.admin_url}/${hash}`, { waitUntil: 'load', timeout: WAIT_MS });
  // A hash change within the loaded page is a same-document navigation: no response.
  if ((res && !res.ok()) || await page.locator('main#main').count() !== 1) {
    throw new Error(`${config.admin_url}/ is not the console (HTTP ${res?.status()}): ${(await page.content()).slice(0, 300)}`);
  }
  return page;
}

async function shoot(page, name) {
  mkdirSync(config.out_dir, { recursive: true });
  await page.screenshot({ path: join(config.out_dir, `${name}.png`), fullPage: true });
  if (config.docs_dir) {
    mkdirSync(config.docs_dir, { recursive: true });
    await page.screenshot({ path: join(config.docs_dir, `${name}.png`), fullPage: true });
  }
}

/** Polls fn in the page until it returns a truthy value (or fails with what it last saw). */
async function waitInPage(page, what, fn, arg) {
  try {
    const handle = await page.waitForFunction(fn, arg, { timeout: waitMs(), polling: 250 });
    return await handle.jsonValue();
  } catch (e) {
    failures.push(`${what}: not in time (${e.message.split('\n')[0]})`);
    return null;
  }
}

async function checkOverview(page) {
  const cards = await waitInPage(page, 'overview cards', () => {
    const el = document.getElementById('cluster-cards');
    return el && el.innerText;
  });
  seen.overview = cards;
  check(cards && /Ready/.test(cards), `overview: broker not shown as Ready: ${cards}`);
  const listeners = await page.locator('#listeners-table tbody tr').count();
  check(listeners >= 1, 'overview: no listener rows');
  const groupLink = page.locator('#glance-groups a', { hasText: config.group });
  check(await groupLink.count() === 1, `overview: group ${config.group} not listed`);
}

async function checkTopic(page) {
  const rows = await waitInPage(page, 'topic partitions table', () => {
    const trs = [...document.querySelectorAll('#partitions-table tbody tr')];
    return trs.length ? trs.map((tr) => [...tr.cells].map((c) => c.innerText.trim())) : null;
  });
  seen.topic_partitions = rows;
  if (rows) {
    check(rows.length === config.expect.topic_partitions, `topic: ${rows?.length} partition rows, want ${config.expect.topic_partitions}`);
    for (const [p, leo] of Object.entries(config.expect.log_end_offsets ?? {})) {
      const row = rows.find((r) => r[0] === p);
      check(row && row[4].replace(/\D/g, '') === String(leo), `topic: partition ${p} log end offset ${row?.[4]}, want ${leo}`);
    }
  }
  check(await page.locator('#configs-table tbody tr').count() > 0, 'topic: no configs shown');
  // The message browser: the first records of partition 0 from offset 0.
  const first = config.expect.first_record;
  if (first) {
    await page.selectOption('#mb-partition', String(first.partition));
    await page.fill('#mb-offset', '0');
    await page.click('#mb-load');
    const cells = await waitInPage(page, 'message browser rows', () => {
      const tr = document.querySelector('#messages-table tbody tr');
      return tr && [...tr.cells].map((c) => c.innerText.trim());
    });
    seen.first_record = cells;
    check(cells && cells[0] === '0' && cells[2] === first.key && cells[3] === first.value,
      `topic: first record of partition ${first.partition} shows ${JSON.stringify(cells)}, want key ${first.key} value ${first.value}`);
  }
}

async function groupSnapshot(page) {
  return page.evaluate(() => {
    const text = (sel) => document.querySelector(sel)?.textContent.trim() ?? null;
    return {
      state: text('#group-state'),
      members: [...document.querySelectorAll('#members-table tbody tr')].map((tr) => ({
        client_id: tr.dataset.clientId, host: tr.cells[1]?.innerText.trim(), partitions: tr.cells[4]?.innerText.trim(),
      })),
      diagram: [...document.querySelectorAll('#assignment-diagram .node.partition')].map((g) => ({
        partition: `${g.dataset.topic}-${g.dataset.partition}`, owner: g.dataset.owner,
      })),
      edges: [...document.querySelectorAll('#assignment-diagram path.edge')].map((e) => ({
        partition: `${e.dataset.topic}-${e.dataset.partition}`, client_id: e.dataset.clientId,
      })),
      lagChart: document.getElementById('lag-chart') ? {
        samples: Number(document.getElementById('lag-chart').dataset.samples),
        series: [...document.querySelectorAll('#lag-chart .series')].map((s) => `${s.dataset.topic}-${s.dataset.partition}`),
      } : null,
      timeline: [...document.querySelectorAll('#rebalance-timeline > li')].map((li) => ({
        generation: Number(li.dataset.generation), reason: li.dataset.reason,
        joined: [...li.querySelectorAll('li.joined')].map((x) => x.dataset.clientId),
        left: [...li.querySelectorAll('li.left')].map((x) => x.dataset.clientId),
      })),
      timelineUnavailable: !!document.getElementById('rebalance-timeline-unavailable'),
    };
  });
}

function ownersMatch(snap, owners) {
  const want = Object.entries(owners).map(([p, c]) => `${p}=${c}`);
  const nodes = snap.diagram.map((d) => `${d.partition}=${d.owner}`);
  const edges = snap.edges.map((e) => `${e.partition}=${e.client_id}`);
  return sameSet(nodes, want) && sameSet(edges, want);
}

/** The timeline holds, newest first, each expected event (reason + who joined/left) in order. */
function timelineMatches(timeline, events) {
  const oldestFirst = [...timeline].reverse();
  let from = 0;
  for (const ev of events) {
    const i = oldestFirst.findIndex((g, idx) => idx >= from && g.reason === ev.reason
      && (ev.joined ?? []).every((c) => g.joined.includes(c)) && (ev.left ?? []).every((c) => g.left.includes(c)));
    if (i < 0) return false;
    from = i + 1;
  }
  return true;
}

async function checkGroupLive(page) {
  const want = config.expect;
  // Auto-refresh brings the page to the group's settled state; wait for it rather than sleep.
  const settled = await waitInPage(page, 'group page settles', (arg) => {
    const state = document.querySelector('#group-state')?.textContent.trim();
    const members = [...document.querySelectorAll('#members-table tbody tr')].map((tr) => tr.dataset.clientId).sort();
    const owners = Object.fromEntries([...document.querySelectorAll('#assignment-diagram .node.partition')]
      .map((g) => [`${g.dataset.topic}-${g.dataset.partition}`, g.dataset.owner]));
    const chart = document.getElementById('lag-chart');
    const timelineReady = !arg.timeline || document.querySelectorAll('#rebalance-timeline > li').length >= arg.timeline.length;
    return state === arg.state && JSON.stringify(members) === JSON.stringify([...arg.members].sort())
      && JSON.stringify(Object.keys(owners).sort()) === JSON.stringify(Object.keys(arg.owners).sort())
      && Object.entries(arg.owners).every(([p, c]) => owners[p] === c)
      && chart && document.querySelectorAll('#lag-chart .series').length >= arg.lagSeries && timelineReady;
  }, { state: want.group_state, members: want.members, owners: want.owners, lagSeries: want.lag_series, timeline: want.timeline });
  const snap = await groupSnapshot(page);
  seen.group = snap;
  if (!settled) {
    failures.push(`group page: want state ${want.group_state}, members ${JSON.stringify(want.members)}, owners ${JSON.stringify(want.owners)}; saw ${JSON.stringify(snap)}`);
  }
  check(snap.state === want.group_state, `group: state ${snap.state}, want ${want.group_state}`);
  check(sameSet(snap.members.map((m) => m.client_id), want.members), `group: members ${JSON.stringify(snap.members)}, want ${want.members}`);
  check(snap.members.every((m) => m.host && m.host !== '–'), `group: a member without a host: ${JSON.stringify(snap.members)}`);
  check(ownersMatch(snap, want.owners), `group diagram: ${JSON.stringify(snap.diagram)} / edges ${JSON.stringify(snap.edges)}, want ${JSON.stringify(want.owners)}`);
  check(snap.lagChart && snap.lagChart.samples >= 1, `group: no lag chart: ${JSON.stringify(snap.lagChart)}`);
  check(snap.lagChart && sameSet(new Set(snap.lagChart.series), Object.keys(want.owners)),
    `group lag chart series ${JSON.stringify(snap.lagChart?.series)}, want ${Object.keys(want.owners)}`);
  if (want.timeline) {
    check(timelineMatches(snap.timeline, want.timeline), `group timeline ${JSON.stringify(snap.timeline)} lacks, in order, ${JSON.stringify(want.timeline)}`);
  } else {
    check(snap.timelineUnavailable, 'group: history endpoint missing but the page does not say so');
  }
}

async function dryRun(page, to) {
  await page.selectOption('#reset-topic', config.topic);
  await page.selectOption('#reset-to', to);
  await page.click('#reset-preview');
  const rows = await waitInPage(page, 'dry-run plan', () => {
    const trs = [...document.querySelectorAll('#reset-plan tbody tr')];
    return trs.length ? trs.map((tr) => ({ topic: tr.dataset.topic, partition: Number(tr.dataset.partition),
      current: Number(tr.dataset.current), new: Number(tr.dataset.new) })) : null;
  });
  seen.plan = rows;
  const want = config.expect.plan;
  check(rows && sameSet(rows.map((r) => `${r.partition}:${r.current}->${r.new}`), want.map((r) => `${r.partition}:${r.current}->${r.new}`)),
    `dry-run plan ${JSON.stringify(rows)}, want ${JSON.stringify(want)}`);
  return rows;
}

/** Auto-refresh rebuilds the offsets table every few seconds; a reader tabbed onto one of
 * its links must still be on that link afterwards. */
async function checkRefreshKeepsFocus(page) {
  const link = page.locator('#offsets-table a').first();
  if (!check(await link.count() === 1, 'group: no link in the offsets table')) return;
  await link.focus();
  const href = await link.getAttribute('href');
  const before = await page.textContent('#updated');
  await waitInPage(page, 'an auto-refresh', (b) => document.getElementById('updated').textContent !== b, before);
  const focused = await page.evaluate(() => {
    const a = document.activeElement;
    return a?.closest('#offsets-table') ? a.getAttribute('href') : `${a?.tagName} outside the table`;
  });
  seen.focus_after_refresh = focused;
  check(focused === href, `auto-refresh moved the focus: ${focused}, want the link ${href}`);
}

async function phaseLive(context, pageErrors) {
  let page = await open(context, pageErrors, '#/');
  await checkOverview(page);
  await shoot(page, 'overview-light');
  page = await open(context, pageErrors, `#/topics/${encodeURIComponent(config.topic)}`);
  await checkTopic(page);
  await shoot(page, 'topic-light');
  page = await open(context, pageErrors, `#/groups/${encodeURIComponent(config.group)}`);
  await checkGroupLive(page);
  await dryRun(page, 'earliest');
  check(await page.locator('#reset-execute').count() === 0, 'reset: Execute offered while the group is not Empty');
  check(await page.locator('#reset-execute-unavailable').count() === 1, 'reset: no explanation why Execute is not offered');
  await checkRefreshKeepsFocus(page);
  await shoot(page, 'group-light');
  for (const [hash, name] of [['#/', 'overview-dark'], [`#/topics/${encodeURIComponent(config.topic)}`, 'topic-dark'],
    [`#/groups/${encodeURIComponent(config.group)}`, 'group-dark']]) {
    page = await open(context, pageErrors, hash, 'dark');
    await waitInPage(page, `${name} loaded`, () => !!document.querySelector('#cluster-cards, #partitions-table, #lag-chart'));
    await shoot(page, name);
  }
}

async function phaseEmpty(context, pageErrors) {
  const page = await open(context, pageErrors, `#/groups/${encodeURIComponent(config.group)}`);
  const state = await waitInPage(page, 'group shown Empty', () => document.querySelector('#group-state')?.textContent.trim() === 'Empty' && 'Empty');
  seen.state = state;
  await dryRun(page, 'earliest');
  const exec = page.locator('#reset-execute');
  if (check(await exec.count() === 1, 'reset: Execute not offered for an Empty group')) {
    await exec.focus();
    await page.keyboard.press('Enter');
    const done = await waitInPage(page, 'reset done', () => document.getElementById('reset-done')?.textContent);
    seen.done = done;
    check(done && done.includes(`${config.expect.plan.length} offset`), `reset: result ${done}`);
  }
  await shoot(page, 'group-empty-reset-light');
}

const pageErrors = await withBrowser(async (context, errors) => {
  if (config.phase === 'empty') await phaseEmpty(context, errors);
  else await phaseLive(context, errors);
}).catch((e) => {
  failures.push(`browser run failed: ${e.stack ?? e}`);
  return [];
});
for (const e of pageErrors) failures.push(e);
console.log(JSON.stringify(seen));
if (failures.length) {
  for (const f of failures) console.error(`FAIL ${f}`);
  process.exit(1);
}
