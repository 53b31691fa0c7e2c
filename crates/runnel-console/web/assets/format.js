// How numbers, sizes, times and record fields are written on the page.

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function bytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '–';
  let v = n;
  let unit = 0;
  while (v >= 1024 && unit < BYTE_UNITS.length - 1) {
    v /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${BYTE_UNITS[unit]}`;
}

const numberFormat = new Intl.NumberFormat();

export function num(n) {
  return typeof n === 'number' && Number.isFinite(n) ? numberFormat.format(n) : '–';
}

export function pad2(n) {
  return String(n).padStart(2, '0');
}

/** Local wall-clock time, HH:MM:SS. */
export function clock(ms) {
  if (typeof ms !== 'number') return '–';
  const d = new Date(ms);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** Local date and time, YYYY-MM-DD HH:MM:SS. */
export function dateTime(ms) {
  if (typeof ms !== 'number') return '–';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${clock(ms)}`;
}

export function duration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${(ms / 1000).toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** A record key or value: text as is, bytes that are not UTF-8 marked as base64. */
export function recordField(v) {
  if (v === null || v === undefined) return { text: 'null', kind: 'null' };
  if (typeof v === 'object' && typeof v.base64 === 'string') return { text: v.base64, kind: 'base64' };
  return { text: String(v), kind: 'text' };
}
