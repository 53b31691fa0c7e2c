// The topics list, with a name filter and internal topics hidden unless asked for.

import { api } from './api.js';
import { h, table, swap, errorNotice, hashFor } from './dom.js';
import { bytes, num } from './format.js';

export const title = () => 'Topics';

export function render(main, _params, ctx) {
  const listRegion = h('div');
  const filter = h('input', { type: 'search', id: 'topic-filter', autocomplete: 'off' });
  const showInternal = h('input', { type: 'checkbox', id: 'show-internal' });
  let latest = null;

  function draw() {
    if (!latest) return;
    const needle = filter.value.trim().toLowerCase();
    const rows = latest
      .filter((t) => showInternal.checked || !t.internal)
      .filter((t) => !needle || t.name.toLowerCase().includes(needle))
      .sort((a, b) => a.name.localeCompare(b.name));
    swap(listRegion, table({
      id: 'topics-table',
      caption: `${rows.length} of ${latest.length} topics`,
      columns: [{ label: 'Topic', rowHeader: true }, { label: 'Partitions', num: true }, { label: 'Replication', num: true },
        { label: 'Size', num: true }, { label: 'Log end offsets (sum)', num: true }],
      rows: rows.map((t) => [h('a', { href: hashFor('topics', t.name) }, t.name, t.internal ? ' (internal)' : ''),
        num(t.partitions), num(t.replication_factor), bytes(t.size_bytes), num(t.log_end_offset_total)]),
      empty: needle ? 'No topic matches the filter.' : 'No topics yet.',
    }));
  }
  filter.addEventListener('input', draw);
  showInternal.addEventListener('change', draw);

  main.append(
    h('h1', {}, 'Topics'),
    h('div', { class: 'filter' },
      h('label', { for: 'topic-filter' }, 'Filter by name '), filter,
      h('label', {}, showInternal, ' Show internal topics')),
    listRegion);

  ctx.every(async (signal) => {
    try {
      latest = await api.topics(signal);
      draw();
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      swap(listRegion, errorNotice(e, 'Could not load the topics'));
    }
  });
}
