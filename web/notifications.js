// The notification bell in the top bar, for a signed-in person (a key has
// no notifications, docs/notifications.md): the unread count, and a panel
// listing them newest first with "Mark all read" and "Show more". Opening
// one marks it read and goes to its panel when it has one. Live: the page's
// socket, kept open while a person is signed in (socket.js), carries
// `notification` frames whatever it watches; after every (re)connect the
// first page is read again for what came while it was down.

import { announcer, appendAll, clear, h, setText } from './dom.js';
import { fmtAgo, fmtDate } from './format.js';
import { api } from './api.js';
import { session } from './session.js';

const PAGE = 20;
const byId = (id) => document.getElementById(id);

const bell = {
  conn: null,
  unlisten: [],
  /** Newest first. */
  items: [],
  unread: 0,
  cursor: null,
  loaded: false,
  loading: false,
  /** A push or a reconnect while a load was out: that load may be stale, so load again after it. */
  again: false,
  /**
   * Bumped when a read is shown and again when the server answers it; `pending`
   * counts the reads not answered yet. A load that saw `writes` change, or
   * lands while a read is out, may have been read before that read was
   * committed: it is not shown but made again, once no read is out
   * (`redo`: which load, 'first' or 'more').
   */
  writes: 0,
  pending: 0,
  redo: null,
  /** Bumped on stop: answers for a bell that was stopped are dropped. */
  generation: 0,
  message: '',
};

function isOpen() {
  return byId('bell-button').getAttribute('aria-expanded') === 'true';
}

function setOpen(open) {
  byId('bell-panel').hidden = !open;
  byId('bell-button').setAttribute('aria-expanded', String(open));
}

export function closeBell() {
  if (isOpen()) setOpen(false);
}

/** Where opening a notification leads: its panel, a disabled endpoint's page for an admin, else nowhere. */
function targetOf(n) {
  if (n.panel_id) return `#/panels/${encodeURIComponent(n.panel_id)}`;
  if (n.kind === 'webhook_disabled' && n.data && typeof n.data.endpoint_id === 'string' && session.isAdmin()) return `#/webhooks/${encodeURIComponent(n.data.endpoint_id)}`;
  return null;
}

function say(text) {
  bell.message = text;
  const status = byId('bell-status');
  if (status) setText(status, text);
}

function writeStarted() {
  bell.writes += 1;
  bell.pending += 1;
}

/** A read was answered: a load held back for it is made now. */
function writeEnded() {
  bell.writes += 1;
  bell.pending = Math.max(0, bell.pending - 1);
  if (bell.pending === 0 && bell.redo && !bell.loading) {
    const more = bell.redo === 'more';
    bell.redo = null;
    load(more);
  }
}

async function markRead(n) {
  if (n.read_at) return;
  const gen = bell.generation;
  // Shown read at once; the server's answer confirms it.
  n.read_at = new Date().toISOString();
  bell.unread = Math.max(0, bell.unread - 1);
  writeStarted();
  render();
  try {
    const answer = await api('POST', `/v1/notifications/${encodeURIComponent(n.id)}/read`);
    if (gen !== bell.generation) return;
    writeEnded();
    Object.assign(n, answer);
  } catch (e) {
    if (gen !== bell.generation) return;
    writeEnded();
    n.read_at = null;
    bell.unread += 1;
    say(`Could not mark “${n.title}” read: ${e.message}`);
  }
  render();
}

async function markAll() {
  const gen = bell.generation;
  say('Marking everything read…');
  writeStarted();
  try {
    const { marked } = await api('POST', '/v1/notifications/read-all');
    if (gen !== bell.generation) return;
    writeEnded();
    const now = new Date().toISOString();
    for (const n of bell.items) if (!n.read_at) n.read_at = now;
    bell.unread = 0;
    render();
    say(marked ? `Marked ${marked} notification${marked === 1 ? '' : 's'} read.` : 'Nothing was unread.');
    announcer.say('All notifications marked read.');
  } catch (e) {
    if (gen !== bell.generation) return;
    writeEnded();
    say(`Not marked read: ${e.message}`);
  }
  // The button is disabled now: the panel's heading keeps the keyboard in the panel.
  const head = byId('bell-h');
  if (head && isOpen()) head.focus();
}

/** Reads the first page again (the unread count with it); `append`: the next page instead. */
async function load(append = false) {
  if (bell.loading) {
    if (!append) bell.again = true;
    return;
  }
  const gen = bell.generation;
  const writes = bell.writes;
  let stale = false;
  bell.loading = true;
  bell.again = false;
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (append && bell.cursor) q.set('cursor', bell.cursor);
  if (append) say('Loading more…');
  try {
    const data = await api('GET', `/v1/notifications?${q}`);
    if (gen !== bell.generation) return;
    // A read was shown, answered or out while this was: this page may not have it yet.
    if (writes !== bell.writes || bell.pending > 0) {
      stale = true;
      return;
    }
    const items = (data && data.items) || [];
    if (append) {
      const known = new Set(bell.items.map((n) => n.id));
      bell.items.push(...items.filter((n) => !known.has(n.id)));
    } else bell.items = items;
    bell.cursor = (data && data.next_cursor) || null;
    bell.unread = Number(data && data.unread) || 0;
    bell.loaded = true;
    if (bell.message.startsWith('Loading') || bell.message.startsWith('Could not load')) say('');
    render();
    if (append) {
      const first = byId('bell-list') && byId('bell-list').querySelector(`li[data-id="${CSS.escape(items[0] ? items[0].id : '')}"] .notice-link`);
      if (first) first.focus();
    }
  } catch (e) {
    if (gen !== bell.generation) return;
    // A key is refused (403): the bell is for people only and should not have started.
    say(`Could not load the notifications: ${e.message}`);
    render();
  } finally {
    if (gen === bell.generation) {
      bell.loading = false;
      // A load not shown is made again (a first page wanted wins over a next one);
      // one shown is what a redo of its kind wanted (a first page makes a next one moot).
      if (stale) bell.redo = !append || bell.redo === 'first' ? 'first' : 'more';
      else if (!append || bell.redo === 'more') bell.redo = null;
      if (bell.redo && bell.pending === 0) {
        const more = bell.redo === 'more';
        bell.redo = null;
        load(more);
      } else if (!bell.redo && bell.again) load(false);
    }
  }
}

function onPush(frame) {
  const n = frame && frame.notification;
  if (!n || typeof n.id !== 'string') return;
  // A load out now may have read the list before this one was recorded: its count would be stale.
  if (bell.loading) bell.again = true;
  if (bell.items.some((x) => x.id === n.id)) return;
  // Newest first as the server lists them (by id: time-ordered, and two made in the same
  // millisecond, a seat and its first turn, still keep the order they were made in).
  const i = bell.items.findIndex((x) => x.id < n.id);
  if (i === -1) bell.items.push(n);
  else bell.items.splice(i, 0, n);
  if (!n.read_at) bell.unread += 1;
  render();
  announcer.say(`New notification: ${n.title}`);
}

function itemRow(n, now) {
  const unread = !n.read_at;
  const href = targetOf(n);
  const content = [
    unread ? h('span', { class: 'visually-hidden', text: 'Unread: ' }) : null,
    h('span', { class: 'notice-title', text: n.title || n.kind }),
    n.body ? h('span', { class: 'notice-body', text: n.body }) : null,
    h('time', { class: 'notice-when', datetime: n.created_at, title: fmtDate(n.created_at), text: fmtAgo(n.created_at, now) }),
  ];
  const open = () => {
    setOpen(false);
    // After the click: the list is redrawn when it is marked, and the link must navigate first.
    setTimeout(() => markRead(n));
  };
  // A link when it leads somewhere (it can open in a new tab too), else a button that marks it read.
  const control = href ? h('a', { class: 'notice-link', href, onclick: open }, content) : h('button', { type: 'button', class: 'notice-link', onclick: () => markRead(n) }, content);
  return h('li', { class: 'notice-item', dataset: { id: n.id, kind: n.kind, unread: String(unread) } }, control);
}

function render() {
  const count = byId('bell-count');
  const button = byId('bell-button');
  if (!count || !button) return;
  setText(count, bell.unread > 99 ? '99+' : String(bell.unread));
  count.hidden = bell.unread === 0;
  button.dataset.unread = String(bell.unread);
  button.setAttribute('aria-label', `Notifications, ${bell.unread ? `${bell.unread} unread` : 'none unread'}`);
  const list = byId('bell-list');
  if (!list) return;
  const focusedId = document.activeElement && list.contains(document.activeElement) ? document.activeElement.closest('li').dataset.id : null;
  const now = Date.now();
  clear(list);
  appendAll(list, bell.items.map((n) => itemRow(n, now)));
  if (focusedId) {
    const again = list.querySelector(`li[data-id="${CSS.escape(focusedId)}"] .notice-link`);
    if (again) again.focus();
  }
  byId('bell-empty').hidden = !bell.loaded || bell.items.length > 0;
  byId('bell-more').hidden = !bell.cursor;
  byId('bell-read-all').disabled = bell.unread === 0;
  const live = bell.conn ? bell.conn.state : 'idle';
  const offline = byId('bell-offline');
  offline.hidden = live === 'open' || !bell.conn;
  setText(offline, live === 'offline' ? 'Not live: new notifications show when you reopen this list.' : 'Not live right now: new notifications show once the page reconnects.');
}

/** The socket's state changed (app.showConnState): the panel says whether it is live. */
export function bellConnState() {
  if (bell.conn) render();
}

/** Builds the panel's fixed parts once; the list is redrawn by render(). */
function buildPanel() {
  const panel = clear(byId('bell-panel'));
  appendAll(
    panel,
    h(
      'div',
      { class: 'bell-head' },
      h('h2', { id: 'bell-h', tabindex: '-1', text: 'Notifications' }),
      h('button', { type: 'button', class: 'btn btn-quiet btn-small', id: 'bell-read-all', text: 'Mark all read', onclick: () => markAll() }),
    ),
    h('p', { class: 'bell-offline', id: 'bell-offline', hidden: true }),
    h('p', { class: 'bell-status', id: 'bell-status', role: 'status', text: bell.message }),
    h('p', { class: 'bell-empty', id: 'bell-empty', hidden: true, text: 'Nothing yet. You are told here when a panel needs you or ends.' }),
    h('ul', { class: 'notice-list', id: 'bell-list', 'aria-labelledby': 'bell-h' }),
    h('button', { type: 'button', class: 'btn btn-small', id: 'bell-more', text: 'Show more', hidden: true, onclick: () => load(true) }),
  );
}

/**
 * Shows the bell for a signed-in person and keeps `conn` open for their
 * notifications (app.showSignedIn calls it; again for the same connection is nothing).
 */
export function startBell(conn) {
  byId('bell').hidden = false;
  if (bell.conn === conn) return;
  stopBell();
  byId('bell').hidden = false;
  bell.conn = conn;
  bell.unlisten = [conn.listen('notification', onPush), conn.listen('open', () => load(false))];
  conn.keepOpen(true);
  buildPanel();
  render();
  load(false);
}

/** Hides the bell and forgets its notifications (signed out, a key, a shared link). */
export function stopBell() {
  for (const off of bell.unlisten) off();
  if (bell.conn) bell.conn.keepOpen(false);
  Object.assign(bell, { conn: null, unlisten: [], items: [], unread: 0, cursor: null, loaded: false, loading: false, again: false, pending: 0, redo: null, message: '' });
  bell.generation += 1;
  setOpen(false);
  byId('bell').hidden = true;
  clear(byId('bell-panel'));
  render();
}

/** The bell opens its panel (the list read again) and closes on Escape (focus back on it), a click elsewhere, or a route. */
export function installBell() {
  const button = byId('bell-button');
  const panel = byId('bell-panel');
  button.addEventListener('click', () => {
    const open = panel.hidden;
    setOpen(open);
    if (!open) return;
    render();
    // Another tab may have read some: the count is made right again.
    load(false);
    const first = panel.querySelector('.notice-link') || byId('bell-h');
    if (first) first.focus();
  });
  byId('bell').addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !panel.hidden) {
      setOpen(false);
      button.focus();
    }
  });
  document.addEventListener('click', (e) => {
    if (!panel.hidden && !byId('bell').contains(e.target)) setOpen(false);
  });
}
