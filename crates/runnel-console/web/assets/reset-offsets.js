// The offset reset form. The plan is always previewed first (a dry run); Execute is offered
// only for that exact previewed request, and only while the group is Empty, because the
// broker refuses to move the offsets of a group whose members are consuming.

import { api } from './api.js';
import { h, table, notice, errorNotice, announce } from './dom.js';
import { num } from './format.js';

const TARGETS = [
  ['earliest', 'Earliest offset'],
  ['latest', 'Latest offset'],
  ['offset', 'A specific offset'],
  ['timestamp', 'A point in time'],
  ['shift', 'Shift by N'],
];

function parsePartitions(text) {
  const t = text.trim();
  if (!t) return { partitions: undefined };
  const parts = t.split(/[\s,]+/).filter(Boolean).map((x) => Number(x));
  if (parts.some((p) => !Number.isInteger(p) || p < 0)) return { error: 'Partitions must be a comma-separated list of partition numbers.' };
  return { partitions: [...new Set(parts)].sort((a, b) => a - b) };
}

export function resetOffsetsForm(groupId) {
  let state = null;
  let previewed = null;
  const topicSelect = h('select', { id: 'reset-topic', name: 'topic', required: true });
  const partitionsInput = h('input', { id: 'reset-partitions', name: 'partitions', placeholder: 'all', 'aria-describedby': 'reset-partitions-hint', autocomplete: 'off' });
  const toSelect = h('select', { id: 'reset-to', name: 'to' }, TARGETS.map(([v, label]) => h('option', { value: v }, label)));
  const valueInput = h('input', { id: 'reset-value', name: 'value', autocomplete: 'off' });
  const valueLabel = h('span', {}, 'Value');
  const valueField = h('label', { for: 'reset-value', hidden: true }, valueLabel, valueInput);
  const errors = h('div', { id: 'reset-errors' });
  const planRegion = h('div', { id: 'reset-plan-region' });
  const executeRegion = h('div', { id: 'reset-execute-region' });

  function syncValueField() {
    const to = toSelect.value;
    valueField.hidden = !['offset', 'timestamp', 'shift'].includes(to);
    valueLabel.textContent = { offset: 'Offset', timestamp: 'Time (local)', shift: 'Shift by (negative moves back)' }[to] ?? 'Value';
    valueInput.type = to === 'timestamp' ? 'datetime-local' : 'number';
    if (to === 'timestamp') valueInput.step = '1';
    else valueInput.step = '1';
  }

  function invalidate() {
    previewed = null;
    planRegion.replaceChildren();
    executeRegion.replaceChildren();
    errors.replaceChildren();
  }

  function request() {
    const topic = topicSelect.value;
    if (!topic) return { error: 'Choose a topic.' };
    const { partitions, error } = parsePartitions(partitionsInput.value);
    if (error) return { error };
    const body = { topic, to: toSelect.value };
    if (partitions) body.partitions = partitions;
    if (body.to === 'timestamp') {
      const ms = new Date(valueInput.value).getTime();
      if (!Number.isFinite(ms)) return { error: 'Enter the date and time to reset to.' };
      body.value = ms;
    } else if (body.to === 'offset' || body.to === 'shift') {
      const n = Number(valueInput.value);
      if (valueInput.value.trim() === '' || !Number.isInteger(n) || (body.to === 'offset' && n < 0)) {
        return { error: body.to === 'offset' ? 'Enter a non-negative offset.' : 'Enter a whole number to shift by.' };
      }
      body.value = n;
    }
    return { body };
  }

  function drawExecute() {
    if (!previewed) return;
    if (state === 'Empty') {
      executeRegion.replaceChildren(h('p', {}, h('button', { type: 'button', class: 'danger', id: 'reset-execute', onclick: execute },
        `Execute: move ${previewed.plan.length} offset${previewed.plan.length === 1 ? '' : 's'}`)));
    } else {
      executeRegion.replaceChildren(notice(
        `Execute is offered only while the group is Empty; it is ${state ?? 'unknown'} now. Stop the group's consumers, then preview again.`,
        'warn', { id: 'reset-execute-unavailable' }));
    }
  }

  async function preview(e) {
    e.preventDefault();
    invalidate();
    const { body, error } = request();
    if (error) {
      errors.replaceChildren(notice(error, 'error'));
      return;
    }
    try {
      const res = await api.resetOffsets(groupId, { ...body, execute: false });
      previewed = { body, plan: res.plan ?? [] };
      planRegion.replaceChildren(h('h3', { id: 'reset-plan-heading' }, 'Dry run: what Execute would do'), table({
        id: 'reset-plan',
        caption: 'Nothing has changed yet.',
        columns: [{ label: 'Topic' }, { label: 'Partition', num: true }, { label: 'Current offset', num: true },
          { label: 'New offset', num: true }, { label: 'Change', num: true }],
        rows: previewed.plan.map((r) => {
          // No committed offset yet: null (or -1, as OffsetFetch says it).
          const committed = typeof r.current_offset === 'number' && r.current_offset >= 0;
          const change = r.new_offset - r.current_offset;
          return {
            cells: [r.topic, String(r.partition), committed ? num(r.current_offset) : 'none', num(r.new_offset),
              committed ? `${change >= 0 ? '+' : ''}${num(change)}` : '–'],
            attrs: { dataset: { topic: r.topic, partition: r.partition, current: committed ? r.current_offset : 'none', new: r.new_offset } },
          };
        }),
        empty: 'The plan is empty: nothing to reset for that choice.',
      }));
      announce(`Dry run: ${previewed.plan.length} partitions would be reset`);
      drawExecute();
    } catch (err) {
      errors.replaceChildren(errorNotice(err, 'The dry run failed'));
    }
  }

  async function execute() {
    if (!previewed) return;
    const body = previewed.body;
    try {
      const res = await api.resetOffsets(groupId, { ...body, execute: true });
      const n = (res.plan ?? []).length;
      executeRegion.replaceChildren(notice(`Done: ${n} offset${n === 1 ? '' : 's'} reset.`, 'info', { id: 'reset-done', role: 'status' }));
      previewed = null;
      announce(`Offsets reset for ${n} partitions`);
    } catch (err) {
      executeRegion.replaceChildren(errorNotice(err, 'The reset was refused'));
    }
  }

  for (const el of [topicSelect, partitionsInput, toSelect, valueInput]) {
    el.addEventListener('input', invalidate);
    el.addEventListener('change', invalidate);
  }
  toSelect.addEventListener('change', syncValueField);
  syncValueField();

  const form = h('form', { class: 'inline', id: 'reset-form', 'aria-label': 'Reset committed offsets', onsubmit: preview },
    h('label', { for: 'reset-topic' }, 'Topic', topicSelect),
    h('label', { for: 'reset-partitions' }, 'Partitions', partitionsInput),
    h('label', { for: 'reset-to' }, 'Reset to', toSelect),
    valueField,
    h('button', { type: 'submit', class: 'primary', id: 'reset-preview' }, 'Preview (dry run)'));

  return {
    element: h('div', {},
      h('p', { class: 'muted' }, 'The plan is shown first and nothing changes until you Execute it, which the broker allows only while the group is Empty.'),
      form,
      h('p', { id: 'reset-partitions-hint', class: 'muted' }, 'Partitions: comma-separated numbers, or leave empty for all of the topic\'s partitions.'),
      errors, planRegion, executeRegion),
    update(group) {
      const topics = [...new Set([...(group.offsets ?? []).map((o) => o.topic),
        ...(group.members ?? []).flatMap((m) => (m.assignment ?? []).map((a) => a.topic))])].sort();
      const current = [...topicSelect.options].map((o) => o.value);
      if (document.activeElement !== topicSelect && topics.join('\u0000') !== current.join('\u0000')) {
        const selected = topicSelect.value;
        topicSelect.replaceChildren(...topics.map((t) => h('option', { value: t }, t)));
        if (topics.includes(selected)) topicSelect.value = selected;
      }
      const changed = state !== group.state;
      state = group.state;
      if (changed && previewed) drawExecute();
    },
  };
}
