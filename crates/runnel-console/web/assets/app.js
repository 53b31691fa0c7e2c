// The console's entry point: hash routes to views, the navigation state, the auto-refresh
// switch and focus management on navigation.

import { h } from './dom.js';
import { clock } from './format.js';
import { every, isPaused, setPaused, REFRESH_INTERVAL_MS } from './refresh.js';
import * as overview from './view-overview.js';
import * as topics from './view-topics.js';
import * as topic from './view-topic.js';
import * as groups from './view-groups.js';
import * as group from './view-group.js';

const ROUTES = [
  { pattern: /^\/?$/, view: overview, nav: 'overview' },
  { pattern: /^\/topics\/?$/, view: topics, nav: 'topics' },
  { pattern: /^\/topics\/(.+)$/, view: topic, nav: 'topics' },
  { pattern: /^\/groups\/?$/, view: groups, nav: 'groups' },
  { pattern: /^\/groups\/(.+)$/, view: group, nav: 'groups' },
];

let current = null;

function route() {
  const hash = location.hash;
  // In-page anchors (not routes) leave the current view alone.
  if (hash && !hash.startsWith('#/')) return;
  const path = hash.slice(1) || '/';
  const match = ROUTES.map((r) => ({ r, m: r.pattern.exec(path) })).find((x) => x.m);
  current?.cleanup?.();
  current = null;
  const main = document.getElementById('main');
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (match && a.dataset.nav === match.r.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  main.replaceChildren();
  if (!match) {
    main.append(h('h1', { tabindex: '-1' }, 'Not found'), h('p', {}, 'No page at ', h('code', {}, path), '. ', h('a', { href: '#/' }, 'Go to the overview')));
    focusHeading(main);
    return;
  }
  const timers = [];
  const ctx = {
    every(task, intervalMs = REFRESH_INTERVAL_MS) {
      const t = every(intervalMs, task, markUpdated);
      timers.push(t);
      return t;
    },
  };
  let params;
  try {
    params = match.m.slice(1).map(decodeURIComponent);
  } catch {
    params = match.m.slice(1);
  }
  const cleanup = match.r.view.render(main, params, ctx);
  current = { cleanup: () => { timers.forEach((t) => t.stop()); cleanup?.(); } };
  document.title = `${match.r.view.title(params)} · Runnel console`;
  focusHeading(main);
}

function focusHeading(main) {
  // Only on navigation (never on refresh), so keyboard and screen-reader users land on the
  // new page's heading.
  if (!document.body.dataset.navigated) {
    document.body.dataset.navigated = 'yes';
    return;
  }
  const h1 = main.querySelector('h1');
  if (h1) {
    h1.setAttribute('tabindex', '-1');
    h1.focus({ preventScroll: false });
  }
}

function markUpdated(ms) {
  const el = document.getElementById('updated');
  if (el) el.textContent = `Updated ${clock(ms)}`;
}

function setupRefreshToggle() {
  const btn = document.getElementById('refresh-toggle');
  btn.addEventListener('click', () => {
    setPaused(!isPaused());
    btn.setAttribute('aria-pressed', String(isPaused()));
    btn.textContent = isPaused() ? 'Resume auto-refresh' : 'Pause auto-refresh';
  });
}

function setupSkipLink() {
  const skip = document.querySelector('[data-skip]');
  skip.addEventListener('click', (e) => {
    e.preventDefault();
    document.getElementById('main').focus();
  });
}

setupRefreshToggle();
setupSkipLink();
window.addEventListener('hashchange', route);
route();
