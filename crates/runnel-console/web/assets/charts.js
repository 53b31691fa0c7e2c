// The group page's two drawings: partitions -> members (who owns what) and lag per
// partition over time. Both are plain SVG with a text alternative next to them.

import { h } from './dom.js';
import { clock, num } from './format.js';
import { s, clip, SERIES_COLOURS } from './svg.js';

const tpKey = (topic, partition) => `${topic}\u0000${partition}`;

/** Every partition the group has an offset for or owns, sorted, with its owner member. */
export function partitionOwners(group) {
  const owners = new Map();
  const members = [...(group.members ?? [])].sort((a, b) =>
    String(a.client_id).localeCompare(String(b.client_id)) || String(a.member_id).localeCompare(String(b.member_id)));
  members.forEach((m, index) => {
    for (const a of m.assignment ?? []) {
      for (const p of a.partitions ?? []) owners.set(tpKey(a.topic, p), { member: m, index });
    }
  });
  const seen = new Map();
  for (const o of group.offsets ?? []) seen.set(tpKey(o.topic, o.partition), { topic: o.topic, partition: o.partition });
  for (const m of members) {
    for (const a of m.assignment ?? []) {
      for (const p of a.partitions ?? []) seen.set(tpKey(a.topic, p), { topic: a.topic, partition: p });
    }
  }
  const partitions = [...seen.values()].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition)
    .map((tp) => ({ ...tp, owner: owners.get(tpKey(tp.topic, tp.partition)) ?? null }));
  return { members, partitions };
}

const D = { width: 680, left: 12, nodeW: 220, rowH: 30, boxH: 24, memberGap: 14, pad: 12 };

export function assignmentDiagram(group) {
  const { members, partitions } = partitionOwners(group);
  if (!partitions.length && !members.length) {
    return h('p', { class: 'muted', id: 'assignment-diagram-empty' }, 'The group has no members and no committed offsets.');
  }
  const memberH = D.boxH + 16;
  const partsH = partitions.length * D.rowH;
  const membersH = members.length * memberH + Math.max(0, members.length - 1) * D.memberGap;
  const height = Math.max(partsH, membersH, D.rowH) + 2 * D.pad;
  const rightX = D.width - D.left - D.nodeW;
  const partY = (i) => D.pad + (height - 2 * D.pad - partsH) / 2 + i * D.rowH + D.rowH / 2;
  const memberY = (i) => D.pad + (height - 2 * D.pad - membersH) / 2 + i * (memberH + D.memberGap) + memberH / 2;

  const summary = members.map((m) => {
    const owned = partitions.filter((p) => p.owner?.member === m).map((p) => `${p.topic}-${p.partition}`);
    return `${m.client_id} owns ${owned.length ? owned.join(', ') : 'no partitions'}`;
  });
  const unowned = partitions.filter((p) => !p.owner).map((p) => `${p.topic}-${p.partition}`);
  if (unowned.length) summary.push(`unassigned: ${unowned.join(', ')}`);

  const edges = partitions.filter((p) => p.owner).map((p) => {
    const i = partitions.indexOf(p);
    const y1 = partY(i);
    const y2 = memberY(p.owner.index);
    const x1 = D.left + D.nodeW;
    const x2 = rightX;
    const mid = (x1 + x2) / 2;
    return s('path', {
      class: `edge s${p.owner.index % SERIES_COLOURS}`,
      d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`,
      dataset: { topic: p.topic, partition: p.partition, memberId: p.owner.member.member_id, clientId: p.owner.member.client_id },
    }, s('title', {}, `${p.topic}-${p.partition} → ${p.owner.member.client_id}`));
  });

  const partNodes = partitions.map((p, i) => s('g', {
    class: `node partition${p.owner ? '' : ' unassigned'}`,
    dataset: { topic: p.topic, partition: p.partition, owner: p.owner?.member.client_id ?? '' },
    transform: `translate(${D.left},${partY(i) - D.boxH / 2})`,
  },
  s('rect', { width: D.nodeW, height: D.boxH, rx: 5 }),
  s('text', { x: 8, y: D.boxH / 2 + 4 }, clip(`${p.topic}-${p.partition}`, 30)),
  p.owner ? null : s('text', { x: D.nodeW - 8, y: D.boxH / 2 + 4, 'text-anchor': 'end', class: 'muted' }, 'unassigned')));

  const memberNodes = members.map((m, i) => s('g', {
    class: 'node member',
    dataset: { memberId: m.member_id, clientId: m.client_id },
    transform: `translate(${rightX},${memberY(i) - memberH / 2})`,
  },
  s('rect', { width: D.nodeW, height: memberH, rx: 6 }),
  s('line', { x1: 4, x2: 4, y1: 4, y2: memberH - 4, class: `s${i % SERIES_COLOURS}`, 'stroke-width': 5, 'stroke-linecap': 'round' }),
  s('text', { x: 14, y: 16 }, clip(m.client_id || m.member_id, 28)),
  s('text', { x: 14, y: 32, class: 'muted' }, clip(m.client_host ?? '', 30))));

  const desc = summary.join('; ') || 'no assignments';
  return h('figure', {},
    s('svg', {
      id: 'assignment-diagram', class: 'chart', viewBox: `0 0 ${D.width} ${height}`, role: 'img',
      'aria-labelledby': 'assignment-diagram-title assignment-diagram-desc',
    },
    s('title', { id: 'assignment-diagram-title' }, 'Partitions and the members that own them'),
    s('desc', { id: 'assignment-diagram-desc' }, desc),
    s('g', {}, edges), s('g', {}, partNodes), s('g', {}, memberNodes)),
    h('figcaption', {}, `${partitions.length} partition${partitions.length === 1 ? '' : 's'} (left) → ${members.length} member${members.length === 1 ? '' : 's'} (right). ${desc}.`));
}

const LAG_TICKS = 5;

function niceMax(v) {
  if (v <= LAG_TICKS) return LAG_TICKS;
  const mag = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= v) return m * mag;
  return 10 * mag;
}

const C = { width: 680, height: 250, left: 58, right: 14, top: 14, bottom: 30 };

/** Lag per partition from /api/groups/{g}/lag: one line per partition. */
export function lagChart(lag) {
  const samples = [...(lag?.samples ?? [])].sort((a, b) => a.t_ms - b.t_ms);
  if (!samples.length) {
    return h('p', { class: 'muted', id: 'lag-chart-empty' }, 'No lag samples yet: the broker samples each group\'s lag every few seconds.');
  }
  const series = new Map();
  for (const sample of samples) {
    for (const p of sample.partitions ?? []) {
      const key = tpKey(p.topic, p.partition);
      if (!series.has(key)) series.set(key, { topic: p.topic, partition: p.partition, points: [] });
      series.get(key).points.push([sample.t_ms, p.lag]);
    }
  }
  const list = [...series.values()].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  const t1 = samples[samples.length - 1].t_ms;
  const t0 = Math.min(samples[0].t_ms, t1 - (lag.interval_ms ?? 5000));
  const maxLag = niceMax(Math.max(0, ...list.flatMap((se) => se.points.map(([, v]) => v))));
  const plotW = C.width - C.left - C.right;
  const plotH = C.height - C.top - C.bottom;
  const x = (t) => C.left + ((t - t0) / (t1 - t0)) * plotW;
  const y = (v) => C.top + plotH - (v / maxLag) * plotH;

  const grid = [];
  for (let i = 0; i <= LAG_TICKS; i++) {
    const v = (maxLag / LAG_TICKS) * i;
    grid.push(s('line', { class: 'gridline', x1: C.left, x2: C.width - C.right, y1: y(v), y2: y(v) }),
      s('text', { x: C.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, num(Math.round(v))));
  }
  for (const t of [t0, (t0 + t1) / 2, t1]) {
    grid.push(s('text', { x: x(t), y: C.height - 10, 'text-anchor': t === t0 ? 'start' : t === t1 ? 'end' : 'middle' }, clock(t)));
  }
  const lines = list.map((se, i) => {
    const cls = `series s${i % SERIES_COLOURS}`;
    const data = { topic: se.topic, partition: se.partition, latest: se.points[se.points.length - 1][1] };
    if (se.points.length === 1) {
      const [t, v] = se.points[0];
      return s('circle', { class: cls, cx: x(t), cy: y(v), r: 3, dataset: data });
    }
    return s('polyline', { class: cls, points: se.points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' '), dataset: data },
      s('title', {}, `${se.topic}-${se.partition}`));
  });
  const total = list.reduce((acc, se) => acc + se.points[se.points.length - 1][1], 0);
  const minutes = Math.max(1, Math.round((t1 - t0) / 60000));
  const label = `Lag per partition over the last ${minutes} minute${minutes === 1 ? '' : 's'}; total lag now ${num(total)}`;
  return h('figure', {},
    s('svg', { id: 'lag-chart', class: 'chart', viewBox: `0 0 ${C.width} ${C.height}`, role: 'img', 'aria-label': label, dataset: { samples: samples.length } },
      s('g', { class: 'axis' }, grid), s('g', {}, lines)),
    h('figcaption', {}, `${label}. Sampled every ${Math.round((lag.interval_ms ?? 5000) / 1000)} s by the broker.`),
    h('ul', { class: 'legend', 'aria-label': 'Latest lag per partition' }, list.map((se, i) =>
      h('li', {}, h('span', { class: `swatch s${i % SERIES_COLOURS}`, 'aria-hidden': 'true' }),
        `${se.topic}-${se.partition}: ${num(se.points[se.points.length - 1][1])}`))));
}
