// The overview page: what this broker is, its listeners, and a glance at groups and topics.

import { api } from './api.js';
import { h, table, swap, errorNotice, stateBadge, section, hashFor } from './dom.js';
import { bytes, num, duration, dateTime } from './format.js';

export const title = () => 'Overview';

const GLANCE_ROWS = 8;

function card(label, value) {
  return h('div', { class: 'card' }, h('dt', {}, label), h('dd', {}, value));
}

export function render(main, _params, ctx) {
  const summary = h('div');
  const listeners = h('div');
  const groupsRegion = h('div');
  const topicsRegion = h('div');
  main.append(
    h('h1', {}, 'Cluster overview'),
    summary,
    section('listeners', 'Listeners', listeners),
    h('div', { class: 'panel-grid' },
      section('glance-groups', 'Consumer groups', groupsRegion),
      section('glance-topics', 'Largest topics', topicsRegion)),
  );
  ctx.every(async (signal) => {
    const [cluster, topicList, groupList] = await Promise.allSettled([api.cluster(signal), api.topics(signal), api.groups(signal)]);
    if (cluster.status === 'fulfilled') {
      const c = cluster.value;
      swap(summary, h('div', {},
        h('dl', { class: 'cards', id: 'cluster-cards' },
          card('Broker', `#${c.broker_id}`),
          card('Status', c.ready ? 'Ready' : 'Starting'),
          card('Uptime', duration(c.now_ms - c.started_at_ms)),
          card('Topics', h('a', { href: '#/topics' }, num(c.topics))),
          card('Partitions', num(c.partitions)),
          card('Consumer groups', h('a', { href: '#/groups' }, num(c.groups)))),
        h('dl', { class: 'facts' },
          h('dt', {}, 'Cluster id'), h('dd', { class: 'mono', id: 'cluster-id' }, c.cluster_id),
          h('dt', {}, 'Version'), h('dd', {}, `Runnel ${c.version}`),
          h('dt', {}, 'Started'), h('dd', {}, dateTime(c.started_at_ms)))));
      swap(listeners, table({
        id: 'listeners-table',
        columns: [{ label: 'Name', rowHeader: true }, { label: 'Host' }, { label: 'Port', num: true }, { label: 'Security protocol' }],
        rows: (c.listeners ?? []).map((l) => [l.name, l.host, String(l.port), l.security_protocol]),
      }));
    } else {
      swap(summary, errorNotice(cluster.reason, 'Could not load the cluster'));
    }
    if (groupList.status === 'fulfilled') {
      const rows = [...groupList.value].sort((a, b) => (b.lag_total ?? 0) - (a.lag_total ?? 0)).slice(0, GLANCE_ROWS);
      swap(groupsRegion, table({
        columns: [{ label: 'Group', rowHeader: true }, { label: 'State' }, { label: 'Members', num: true }, { label: 'Lag', num: true }],
        rows: rows.map((g) => [h('a', { href: hashFor('groups', g.group_id) }, g.group_id), stateBadge(g.state), num(g.members), num(g.lag_total)]),
        empty: 'No consumer groups yet.',
      }));
    } else {
      swap(groupsRegion, errorNotice(groupList.reason, 'Could not load the groups'));
    }
    if (topicList.status === 'fulfilled') {
      const rows = topicList.value.filter((t) => !t.internal).sort((a, b) => b.size_bytes - a.size_bytes).slice(0, GLANCE_ROWS);
      swap(topicsRegion, table({
        columns: [{ label: 'Topic', rowHeader: true }, { label: 'Partitions', num: true }, { label: 'Size', num: true }],
        rows: rows.map((t) => [h('a', { href: hashFor('topics', t.name) }, t.name), num(t.partitions), bytes(t.size_bytes)]),
        empty: 'No topics yet.',
      }));
    } else {
      swap(topicsRegion, errorNotice(topicList.reason, 'Could not load the topics'));
    }
  });
}
