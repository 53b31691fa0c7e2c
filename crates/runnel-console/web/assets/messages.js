// The message browser: read a page of records from one partition, starting at an offset
// or at the first record at or after a time, and page forward.

import { api } from './api.js';
import { h, table, errorNotice, announce } from './dom.js';
import { dateTime, num, recordField } from './format.js';

export const DEFAULT_LIMIT = 20;
export const MAX_LIMIT = 500;

function fieldCell(v) {
  const f = recordField(v);
  if (f.kind === 'null') return h('span', { class: 'muted' }, 'null');
  if (f.kind === 'base64') return h('span', {}, h('span', { class: 'badge', title: 'Not UTF-8: shown as base64' }, 'base64'), ' ', f.text);
  return f.text;
}

function headersCell(headers) {
  if (!headers?.length) return h('span', { class: 'muted' }, '–');
  return h('ul', { class: 'plain' }, headers.map((hd) => h('li', {}, h('code', {}, recordField(hd.key).text), ': ', fieldCell(hd.value))));
}

function toLocalInput(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 19);
}

export function messageBrowser(topic, initialPartitions) {
  let partitions = initialPartitions;
  const partitionSelect = h('select', { id: 'mb-partition', name: 'partition' });
  const modeOffset = h('input', { type: 'radio', name: 'mode', value: 'offset', id: 'mb-mode-offset', checked: true });
  const modeTime = h('input', { type: 'radio', name: 'mode', value: 'timestamp', id: 'mb-mode-time' });
  const offsetInput = h('input', { type: 'number', id: 'mb-offset', name: 'offset', min: '0', step: '1', inputmode: 'numeric' });
  const timeInput = h('input', { type: 'datetime-local', id: 'mb-time', name: 'timestamp', step: '1', value: toLocalInput(Date.now() - 3600000) });
  const limitInput = h('input', { type: 'number', id: 'mb-limit', name: 'limit', min: '1', max: String(MAX_LIMIT), value: String(DEFAULT_LIMIT) });
  const offsetField = h('label', { for: 'mb-offset' }, 'Start offset', offsetInput);
  const timeField = h('label', { for: 'mb-time', hidden: true }, 'Start time (local)', timeInput);
  const results = h('div', { id: 'mb-results' });
  const more = h('div');

  function fillPartitions() {
    const selected = partitionSelect.value;
    partitionSelect.replaceChildren(...partitions.map((p) =>
      h('option', { value: String(p.partition) }, `${p.partition} (offsets ${num(p.log_start_offset)}–${num(p.log_end_offset)})`)));
    if (selected) partitionSelect.value = selected;
  }
  function startOffsetDefault() {
    const p = partitions.find((x) => String(x.partition) === partitionSelect.value) ?? partitions[0];
    if (p) offsetInput.value = String(p.log_start_offset);
  }
  function syncMode() {
    const byTime = modeTime.checked;
    offsetField.hidden = byTime;
    timeField.hidden = !byTime;
  }
  fillPartitions();
  startOffsetDefault();
  partitionSelect.addEventListener('change', startOffsetDefault);
  modeOffset.addEventListener('change', syncMode);
  modeTime.addEventListener('change', syncMode);

  async function load(query) {
    results.setAttribute('aria-busy', 'true');
    more.replaceChildren();
    try {
      const page = await api.messages(topic, query);
      const recs = page.records ?? [];
      results.replaceChildren(table({
        id: 'messages-table',
        caption: `Partition ${page.partition}: ${recs.length} record${recs.length === 1 ? '' : 's'}`,
        columns: [{ label: 'Offset', num: true }, { label: 'Timestamp' }, { label: 'Key', class: 'value mono' },
          { label: 'Value', class: 'value mono' }, { label: 'Headers' }],
        rows: recs.map((r) => [String(r.offset), dateTime(r.timestamp_ms), fieldCell(r.key), fieldCell(r.value), headersCell(r.headers)]),
        empty: 'No records from there (the end of the partition, or before its log start).',
      }));
      announce(`Loaded ${recs.length} records from partition ${page.partition}`);
      if (recs.length) {
        const next = recs[recs.length - 1].offset + 1;
        more.replaceChildren(h('button', {
          type: 'button',
          id: 'mb-next',
          onclick: () => {
            modeOffset.checked = true;
            syncMode();
            offsetInput.value = String(next);
            load({ partition: query.partition, offset: next, limit: query.limit });
          },
        }, `Next ${query.limit} from offset ${num(next)}`));
      }
    } catch (e) {
      results.replaceChildren(errorNotice(e, 'Could not read the messages'));
    } finally {
      results.removeAttribute('aria-busy');
    }
  }

  const form = h('form', {
    class: 'inline',
    'aria-label': 'Browse messages',
    onsubmit: (e) => {
      e.preventDefault();
      const limit = Math.min(MAX_LIMIT, Math.max(1, Number.parseInt(limitInput.value, 10) || DEFAULT_LIMIT));
      const query = { partition: partitionSelect.value, limit };
      if (modeTime.checked) {
        const ms = new Date(timeInput.value).getTime();
        if (!Number.isFinite(ms)) {
          results.replaceChildren(errorNotice(new Error('enter a date and time'), 'Start time'));
          return;
        }
        query.timestamp = ms;
      } else {
        const off = Number.parseInt(offsetInput.value, 10);
        query.offset = Number.isFinite(off) && off >= 0 ? off : 0;
      }
      load(query);
    },
  },
  h('label', { for: 'mb-partition' }, 'Partition', partitionSelect),
  h('fieldset', {}, h('legend', {}, 'Start from'),
    h('label', {}, modeOffset, ' Offset'), h('label', {}, modeTime, ' Time')),
  offsetField, timeField,
  h('label', { for: 'mb-limit' }, 'Records', limitInput),
  h('button', { type: 'submit', class: 'primary', id: 'mb-load' }, 'Show messages'));

  return {
    element: h('div', {}, form, results, more),
    updatePartitions(next) {
      partitions = next;
      // Rebuilding the options while the list is open would close it under the reader.
      if (document.activeElement !== partitionSelect) fillPartitions();
    },
  };
}
