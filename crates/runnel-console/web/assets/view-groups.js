// The consumer groups list.

import { api } from './api.js';
import { h, table, swap, errorNotice, stateBadge, hashFor } from './dom.js';
import { num } from './format.js';

export const title = () => 'Consumer groups';

export function render(main, _params, ctx) {
  const listRegion = h('div');
  const filter = h('input', { type: 'search', id: 'group-filter', autocomplete: 'off' });
  let latest = null;

  function draw() {
    if (!latest) return;
    const needle = filter.value.trim().toLowerCase();
    const rows = latest.filter((g) => !needle || g.group_id.toLowerCase().includes(needle))
      .sort((a, b) => a.group_id.localeCompare(b.group_id));
    swap(listRegion, table({
      id: 'groups-table',
      caption: `${rows.length} of ${latest.length} groups`,
      columns: [{ label: 'Group', rowHeader: true }, { label: 'State' }, { label: 'Protocol' }, { label: 'Members', num: true },
        { label: 'Total lag', num: true }],
      rows: rows.map((g) => [h('a', { href: hashFor('groups', g.group_id) }, g.group_id), stateBadge(g.state),
        [g.protocol_type, g.protocol].filter(Boolean).join(' / ') || '–', num(g.members), num(g.lag_total)]),
      empty: needle ? 'No group matches the filter.' : 'No consumer groups yet.',
    }));
  }
  filter.addEventListener('input', draw);

  main.append(
    h('h1', {}, 'Consumer groups'),
    h('div', { class: 'filter' }, h('label', { for: 'group-filter' }, 'Filter by group id '), filter),
    listRegion);

  ctx.every(async (signal) => {
    try {
      latest = await api.groups(signal);
      draw();
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      swap(listRegion, errorNotice(e, 'Could not load the groups'));
    }
  });
}
