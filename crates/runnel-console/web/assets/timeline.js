// The rebalance timeline from /api/groups/{g}/history: one entry per generation, newest
// first, saying why it happened, who joined or left and which partitions moved.

import { h, notice } from './dom.js';
import { clock, dateTime, duration } from './format.js';

export const REASONS = {
  new_member: 'A member joined',
  member_left: 'A member left',
  session_timeout: 'A member\'s session timed out',
  static_member_replaced: 'A static member was replaced',
  metadata_change: 'Subscribed topics changed',
  admin_action: 'Administrative action',
  rebalance_timeout: 'The rebalance timed out',
};

function who(m) {
  const name = m?.client_id || m?.member_id || 'unknown member';
  return m?.client_host ? `${name} (${m.client_host})` : name;
}

export function timelineView(history) {
  const generations = [...(history?.generations ?? [])].reverse();
  if (!generations.length) return h('p', { class: 'muted', id: 'rebalance-timeline-empty' }, 'No rebalances recorded for this group yet.');
  // Moves name members by id; the client id is what readers recognise.
  const names = new Map();
  for (const g of generations) {
    for (const m of [...(g.members ?? []), ...(g.joined ?? []), ...(g.left ?? [])]) {
      if (m?.member_id && m.client_id) names.set(m.member_id, m.client_id);
    }
  }
  const name = (id) => (id === null || id === undefined || id === '' ? 'unassigned' : names.get(id) ?? id);
  return h('ol', { id: 'rebalance-timeline', class: 'timeline', 'aria-label': 'Rebalances, newest first' },
    generations.map((g) => {
      const moves = g.moves ?? [];
      return h('li', { class: `reason-${g.reason}`, dataset: { generation: g.generation, reason: g.reason } },
        h('h3', {}, `Generation ${g.generation}: ${REASONS[g.reason] ?? g.reason ?? 'rebalance'}`),
        h('p', { class: 'when' },
          h('time', { datetime: new Date(g.started_at_ms ?? 0).toISOString(), title: dateTime(g.started_at_ms) }, clock(g.started_at_ms)),
          g.completed_at_ms ? ` · took ${duration(g.duration_ms ?? g.completed_at_ms - g.started_at_ms)}` : ' · in progress',
          ` · ${(g.members ?? []).length} member${(g.members ?? []).length === 1 ? '' : 's'}`),
        h('ul', {},
          (g.joined ?? []).map((m) => h('li', { class: 'joined', dataset: { clientId: m.client_id ?? '' } }, `Joined: ${who(m)}`)),
          (g.left ?? []).map((m) => h('li', { class: 'left', dataset: { clientId: m.client_id ?? '' } },
            `Left: ${who(m)}${m.reason ? ` (${String(m.reason).replace(/_/g, ' ')})` : ''}`)),
          g.left_omitted ? h('li', { class: 'left-omitted' }, `and ${g.left_omitted} more left`) : null,
          moves.length ? h('li', { class: 'moves' }, `Moved ${moves.length} partition${moves.length === 1 ? '' : 's'}: `,
            moves.map((mv) => `${mv.topic}-${mv.partition} ${name(mv.from)} → ${name(mv.to)}`).join('; ')) : null,
          g.moves_omitted ? h('li', { class: 'moves-omitted' }, `and ${g.moves_omitted} more partitions moved`) : null));
    }));
}

export function timelineUnavailable(err) {
  if (err.status === 404 || err.status === 501) {
    return notice('This broker does not record rebalance history (yet), so there is no timeline to show.', 'info', { id: 'rebalance-timeline-unavailable' });
  }
  return notice(`Could not load the rebalance history: ${err.message}`, 'error');
}
