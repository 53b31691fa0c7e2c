// One consumer group: state, members, who owns which partition, lag over time, committed
// offsets, the rebalance timeline and the offset reset form, refreshed every few seconds.

import { api } from './api.js';
import { h, table, swap, errorNotice, notice, stateBadge, breadcrumb, section, announce, hashFor } from './dom.js';
import { duration, num } from './format.js';
import { assignmentDiagram, lagChart, partitionOwners } from './charts.js';
import { timelineView, timelineUnavailable } from './timeline.js';
import { resetOffsetsForm } from './reset-offsets.js';

export const title = ([id]) => `Group ${id}`;

function assignmentText(member) {
  const parts = (member.assignment ?? []).flatMap((a) => (a.partitions ?? []).map((p) => `${a.topic}-${p}`));
  return parts.length ? parts.join(', ') : h('span', { class: 'muted' }, 'none');
}

export function render(main, [groupId], ctx) {
  const badge = h('span', { id: 'group-state-badge' });
  const facts = h('div');
  const membersRegion = h('div');
  const diagramRegion = h('div');
  const lagRegion = h('div');
  const offsetsRegion = h('div');
  const timelineRegion = h('div');
  const reset = resetOffsetsForm(groupId);
  let lastState = null;

  main.append(
    breadcrumb(['Consumer groups', '#/groups'], [groupId]),
    h('h1', {}, 'Group ', h('span', { class: 'mono', id: 'group-id' }, groupId), ' ', badge),
    facts,
    section('members', 'Members', membersRegion),
    h('div', { class: 'panel-grid' },
      section('assignment', 'Partition assignment', diagramRegion),
      section('lag', 'Lag', lagRegion)),
    section('offsets', 'Committed offsets', offsetsRegion),
    section('timeline', 'Rebalance timeline', timelineRegion),
    section('reset', 'Reset offsets', reset.element));

  ctx.every(async (signal) => {
    let group;
    try {
      group = await api.group(groupId, signal);
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      swap(facts, e.status === 404 ? notice(`There is no consumer group named ${groupId}.`, 'warn', { id: 'group-missing' }) : errorNotice(e, 'Could not load the group'));
      return;
    }
    if (lastState !== null && lastState !== group.state) announce(`Group ${groupId} is now ${group.state}`);
    lastState = group.state;
    badge.replaceChildren(stateBadge(group.state));
    const members = partitionOwners(group).members;
    const leader = members.find((m) => m.member_id === group.leader);
    const totalLag = (group.offsets ?? []).reduce((acc, o) => acc + Math.max(0, o.lag ?? 0), 0);
    swap(facts, h('dl', { class: 'facts', id: 'group-facts' },
      h('dt', {}, 'State'), h('dd', { id: 'group-state' }, group.state),
      h('dt', {}, 'Generation'), h('dd', { id: 'group-generation' }, String(group.generation)),
      h('dt', {}, 'Protocol'), h('dd', {}, [group.protocol_type, group.protocol].filter(Boolean).join(' / ') || '–'),
      h('dt', {}, 'Leader'), h('dd', {}, leader ? leader.client_id : (group.leader || '–')),
      h('dt', {}, 'Members'), h('dd', {}, String(members.length)),
      h('dt', {}, 'Total lag'), h('dd', { id: 'group-lag-total' }, num(totalLag))));
    swap(membersRegion, table({
      id: 'members-table',
      columns: [{ label: 'Client id', rowHeader: true }, { label: 'Host' }, { label: 'Member id', class: 'mono' },
        { label: 'Instance id' }, { label: 'Partitions' }],
      rows: members.map((m) => ({
        cells: [m.client_id, m.client_host, m.member_id, m.group_instance_id ?? '–', assignmentText(m)],
        attrs: { dataset: { memberId: m.member_id, clientId: m.client_id } },
      })),
      empty: 'No members: the group is not consuming right now.',
    }));
    swap(diagramRegion, assignmentDiagram(group));
    const owners = new Map(partitionOwners(group).partitions.map((p) => [`${p.topic}\u0000${p.partition}`, p.owner?.member.client_id]));
    const offsets = [...(group.offsets ?? [])].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
    swap(offsetsRegion, table({
      id: 'offsets-table',
      columns: [{ label: 'Topic' }, { label: 'Partition', num: true }, { label: 'Committed', num: true },
        { label: 'Log end', num: true }, { label: 'Lag', num: true }, { label: 'Lag (time)', num: true }, { label: 'Owner' }],
      rows: offsets.map((o) => [h('a', { href: hashFor('topics', o.topic) }, o.topic), String(o.partition),
        o.committed_offset < 0 ? 'none' : num(o.committed_offset), num(o.log_end_offset), num(o.lag),
        typeof o.lag_seconds === 'number' ? duration(o.lag_seconds * 1000) : '–', owners.get(`${o.topic}\u0000${o.partition}`) ?? '–']),
      empty: 'The group has committed no offsets.',
    }));
    reset.update(group);

    const [lag, history] = await Promise.allSettled([api.groupLag(groupId, signal), api.groupHistory(groupId, signal)]);
    if (signal.aborted) return;
    swap(lagRegion, lag.status === 'fulfilled' ? lagChart(lag.value) : errorNotice(lag.reason, 'Could not load the lag samples'));
    swap(timelineRegion, history.status === 'fulfilled' ? timelineView(history.value) : timelineUnavailable(history.reason));
  });
}
