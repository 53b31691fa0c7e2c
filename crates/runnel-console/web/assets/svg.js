// An SVG element builder (the console draws its charts as plain SVG, no library).

export const SVG_NS = 'http://www.w3.org/2000/svg';

export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const SERIES_COLOURS = 8;

/** Shortens text to at most max characters, with an ellipsis. */
export function clip(text, max) {
  const t = String(text);
  return t.length <= max ? t : `${t.slice(0, Math.max(1, max - 1))}…`;
}
