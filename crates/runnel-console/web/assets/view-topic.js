// One topic: its partitions with offsets and sizes, its configs, and the message browser.

import { api } from './api.js';
import { h, table, swap, errorNotice, notice, breadcrumb, section } from './dom.js';
import { bytes, num } from './format.js';
import { messageBrowser } from './messages.js';

export const title = ([name]) => `Topic ${name}`;

export function render(main, [name], ctx) {
  const summary = h('div');
  const partitionsRegion = h('div');
  const configsRegion = h('div');
  const browserRegion = h('div');
  let browser = null;
  main.append(
    breadcrumb(['Topics', '#/topics'], [name]),
    h('h1', {}, 'Topic ', h('span', { class: 'mono', id: 'topic-name' }, name)),
    summary,
    section('partitions', 'Partitions', partitionsRegion),
    section('messages', 'Messages', browserRegion),
    section('configs', 'Configuration', configsRegion));

  ctx.every(async (signal) => {
    let t;
    try {
      t = await api.topic(name, signal);
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      swap(summary, e.status === 404 ? notice(`There is no topic named ${name}.`, 'warn') : errorNotice(e, 'Could not load the topic'));
      return;
    }
    const parts = [...t.partitions].sort((a, b) => a.partition - b.partition);
    const size = parts.reduce((acc, p) => acc + (p.size_bytes ?? 0), 0);
    const records = parts.reduce((acc, p) => acc + Math.max(0, p.log_end_offset - p.log_start_offset), 0);
    swap(summary, h('dl', { class: 'cards' },
      h('div', { class: 'card' }, h('dt', {}, 'Partitions'), h('dd', {}, num(parts.length))),
      h('div', { class: 'card' }, h('dt', {}, 'Size on disk'), h('dd', {}, bytes(size))),
      h('div', { class: 'card' }, h('dt', {}, 'Records retained'), h('dd', {}, num(records))),
      t.internal ? h('div', { class: 'card' }, h('dt', {}, 'Kind'), h('dd', {}, 'Internal')) : null));
    swap(partitionsRegion, table({
      id: 'partitions-table',
      columns: [{ label: 'Partition', num: true }, { label: 'Leader', num: true }, { label: 'Replicas' },
        { label: 'Log start offset', num: true }, { label: 'Log end offset', num: true }, { label: 'High watermark', num: true },
        { label: 'Size', num: true }],
      rows: parts.map((p) => [String(p.partition), String(p.leader), (p.replicas ?? []).join(', '),
        num(p.log_start_offset), num(p.log_end_offset), num(p.high_watermark), bytes(p.size_bytes)]),
    }));
    const configs = [...(t.configs ?? [])].sort((a, b) => a.name.localeCompare(b.name));
    swap(configsRegion, table({
      id: 'configs-table',
      caption: 'Settings that differ from the default are marked.',
      columns: [{ label: 'Name', rowHeader: true, class: 'mono' }, { label: 'Value', class: 'value mono' }, { label: 'Source' }],
      rows: configs.map((c) => ({
        cells: [c.name, c.value ?? 'null', c.source],
        attrs: { class: /default/i.test(String(c.source)) ? undefined : 'changed' },
      })),
      empty: 'No configuration reported.',
    }));
    if (!browser) {
      browser = messageBrowser(name, parts);
      browserRegion.replaceChildren(browser.element);
    } else {
      browser.updatePartitions(parts);
    }
  });
}
