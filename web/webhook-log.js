// One endpoint's delivery log (admins, docs/webhooks.md): newest first, a
// status filter kept in the address, "Load more" with next_cursor. A
// delivery opens to its payload and every attempt; a delivered or failed
// one can be sent again (the same webhook-id). While any shown delivery is
// still being tried, the log reads the newest page again every few seconds.

import { announcer, clear, h, setText } from './dom.js';
import { api } from './api.js';

const PAGE = 25;
const POLL_MS = 2000;
const COLUMNS = ['Time', 'Event', 'Status', 'Attempts', 'Last answer', 'Duration', 'Actions'];
export const DELIVERY_STATUS_LABEL = { pending: 'Pending', delivered: 'Delivered', failed: 'Failed' };
const STATUSES = ['pending', 'delivered', 'failed'];
// To the second: retries come seconds apart.
const instant = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const fmtDate = (iso) => (iso ? instant.format(new Date(iso)) : '');

/** "200", "500", "error: connection refused", or "–" before any attempt. */
function answerText(d) {
  if (d.last_status != null) return String(d.last_status);
  if (d.last_error) return `error: ${d.last_error}`;
  return '–';
}

function statusCell(d) {
  const badge = h('span', { class: 'badge delivery-status', dataset: { status: d.status }, text: DELIVERY_STATUS_LABEL[d.status] || d.status });
  if (d.status !== 'pending') return [badge];
  const next = d.next_attempt_at ? ` at ${fmtDate(d.next_attempt_at)}` : '';
  return [badge, h('span', { class: 'help', text: d.attempts ? ` retrying${next}` : ' about to be sent' })];
}

function attemptText(a) {
  const what = a.status_code != null ? `answered ${a.status_code}` : `failed: ${a.error || 'no answer'}`;
  const why = a.status_code != null && a.error ? ` (${a.error})` : '';
  return `${fmtDate(a.at)}: ${what}${why} in ${a.duration_ms} ms`;
}

/** The delivery's facts, attempts and payload (GET …/deliveries/{id}). */
function detailContent(d) {
  const fact = (dt, dd) => [h('dt', { text: dt }), h('dd', { text: dd || '–' })];
  const attempts = Array.isArray(d.attempts_log) ? d.attempts_log : [];
  return h(
    'div',
    { class: 'delivery-detail' },
    h(
      'dl',
      { class: 'endpoint-facts' },
      fact('Message id (webhook-id)', d.message_id),
      fact('Queued', fmtDate(d.created_at)),
      fact('First attempt', fmtDate(d.first_attempt_at)),
      d.status === 'pending' ? fact('Next attempt', d.next_attempt_at ? fmtDate(d.next_attempt_at) : 'now') : fact('Finished', fmtDate(d.finished_at)),
      d.panel_id ? [h('dt', { text: 'Panel' }), h('dd', {}, h('a', { href: `#/panels/${encodeURIComponent(d.panel_id)}`, text: d.panel_id }))] : null,
    ),
    h('h3', { text: `Attempts (${attempts.length})` }),
    attempts.length ? h('ol', { class: 'attempt-list' }, attempts.map((a) => h('li', { class: 'attempt', dataset: { status: a.status_code == null ? 'none' : String(a.status_code) }, text: attemptText(a) }))) : h('p', { class: 'help', text: 'Not tried yet.' }),
    h('h3', { text: 'Payload' }),
    h('pre', { class: 'payload', tabindex: '0', 'aria-label': 'Payload (JSON)', text: JSON.stringify(d.payload, null, 2) }),
  );
}

/**
 * The log of endpoint `endpointId`; `params`: the address's query (status);
 * `onActivity()` after a poll that found something new (the endpoint's
 * failure record may have moved). Returns { el, load(), add(delivery), destroy() }.
 */
export function deliveryLog(endpointId, params, { onActivity = () => {} } = {}) {
  const base = `/v1/webhooks/${encodeURIComponent(endpointId)}/deliveries`;
  let destroyed = false;
  let cursor = null;
  let loading = false;
  let again = false;
  let pollTimer = null;
  /** id -> { d, tr, detailTr, button, open } */
  const rows = new Map();
  const initial = params.get('status');
  const status = h('select', { id: 'log-status', name: 'status' }, h('option', { value: '', text: 'Every delivery' }), STATUSES.map((s) => h('option', { value: s, text: DELIVERY_STATUS_LABEL[s], selected: s === initial })));
  const msg = h('p', { class: 'list-msg', id: 'log-msg', role: 'status' });
  const tbody = h('tbody', { id: 'log-body' });
  const table = h('table', { class: 'data-table log-table', id: 'log' }, h('caption', { class: 'visually-hidden', text: 'Deliveries, newest first' }), h('thead', {}, h('tr', {}, COLUMNS.map((c) => h('th', { scope: 'col', text: c })))), tbody);
  const more = h('button', { type: 'button', class: 'btn', id: 'log-more', text: 'Load more', hidden: true });

  const say = (text, problem = false) => {
    msg.textContent = text;
    msg.classList.toggle('log-msg-error', problem);
  };

  async function openDetail(r) {
    const td = r.detailTr.firstChild;
    clear(td).append(h('p', { class: 'help', text: 'Loading the delivery…' }));
    try {
      const full = await api('GET', `${base}/${encodeURIComponent(r.d.id)}`);
      if (destroyed || !r.open) return;
      clear(td).append(detailContent(full));
    } catch (ex) {
      if (!destroyed) clear(td).append(h('p', { class: 'log-msg-error', text: `Could not load the delivery: ${ex.message}` }));
    }
  }

  async function redeliver(r, button) {
    button.disabled = true;
    say(`Sending the ${r.d.event_type} delivery again…`);
    try {
      const again = await api('POST', `${base}/${encodeURIComponent(r.d.id)}/redeliver`);
      if (destroyed) return;
      update(again);
      say(`Sent again, with the same webhook-id (${again.message_id}).`);
      announcer.say('Delivery sent again.');
      schedulePoll();
    } catch (ex) {
      if (destroyed) return;
      // 409: still pending, or the endpoint is disabled: the server says which.
      say(`Not sent again: ${ex.message}`, true);
      button.disabled = false;
    }
  }

  function fill(r) {
    const d = r.d;
    const cell = (label, ...content) => h('td', { dataset: { label } }, h('div', { class: 'cell' }, ...content));
    const toggle = h('button', { type: 'button', class: 'btn btn-small', 'aria-expanded': String(r.open), 'aria-controls': `delivery-${d.id}`, 'aria-label': `Details of the ${d.event_type} delivery of ${fmtDate(d.created_at)}`, text: r.open ? 'Hide' : 'Details' });
    toggle.addEventListener('click', () => {
      r.open = !r.open;
      r.detailTr.hidden = !r.open;
      toggle.setAttribute('aria-expanded', String(r.open));
      setText(toggle, r.open ? 'Hide' : 'Details');
      if (r.open) openDetail(r);
    });
    const again = d.status === 'pending' ? null : h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Redeliver the ${d.event_type} delivery of ${fmtDate(d.created_at)}`, text: 'Redeliver' });
    if (again) again.addEventListener('click', () => redeliver(r, again));
    clear(r.tr);
    Object.assign(r.tr.dataset, { status: d.status, messageId: d.message_id || '', attempts: String(d.attempts) });
    r.tr.append(
      cell('Time', h('time', { datetime: d.created_at, text: fmtDate(d.created_at) })),
      cell('Event', h('code', { text: d.event_type })),
      cell('Status', ...statusCell(d)),
      cell('Attempts', String(d.attempts)),
      cell('Last answer', h('span', { class: 'last-answer', text: answerText(d) })),
      cell('Duration', d.last_duration_ms != null ? `${d.last_duration_ms} ms` : '–'),
      cell('Actions', h('div', { class: 'row-actions' }, toggle, again)),
    );
  }

  function rowFor(d) {
    const tr = h('tr', { class: 'delivery-row', dataset: { id: d.id } });
    const detailTr = h('tr', { class: 'confirm-row detail-row', id: `delivery-${d.id}`, hidden: true }, h('td', { colspan: COLUMNS.length }));
    const r = { d, tr, detailTr, open: false };
    rows.set(d.id, r);
    fill(r);
    return r;
  }

  /** A delivery's new state, in its row (the open detail read again); true when it changed. */
  function update(d) {
    const r = rows.get(d.id);
    if (!r) return false;
    const changed = JSON.stringify(r.d) !== JSON.stringify(d);
    r.d = d;
    if (!changed) return false;
    const focused = r.tr.contains(document.activeElement) ? [...r.tr.querySelectorAll('button')].indexOf(document.activeElement) : -1;
    fill(r);
    if (focused >= 0) {
      const buttons = r.tr.querySelectorAll('button');
      const again = buttons[focused] || buttons[0];
      if (again) again.focus();
    }
    if (r.open) openDetail(r);
    return true;
  }

  function wanted(d) {
    return !status.value || d.status === status.value;
  }

  /** A delivery the page just made (a test): first in the log. */
  function add(d) {
    if (rows.has(d.id)) update(d);
    else if (wanted(d)) {
      const r = rowFor(d);
      tbody.prepend(r.tr, r.detailTr);
      say(`${rows.size} deliver${rows.size === 1 ? 'y' : 'ies'} shown, newest first${cursor ? '; more available' : ''}.`);
    }
    schedulePoll();
  }

  function schedulePoll() {
    clearTimeout(pollTimer);
    if (destroyed) return;
    pollTimer = setTimeout(poll, POLL_MS);
  }

  /** The newest deliveries again: rows shown are brought up to date, new ones go first. */
  async function poll() {
    if (destroyed || loading) return;
    try {
      const data = await api('GET', `${base}?limit=50`);
      if (destroyed) return;
      const fresh = [];
      let changed = false;
      for (const d of data.items || []) {
        if (rows.has(d.id)) changed = update(d) || changed;
        else if (wanted(d) && (!rows.size || d.created_at >= [...rows.values()][0].d.created_at)) fresh.push(d);
      }
      for (const d of fresh.reverse()) {
        const r = rowFor(d);
        tbody.prepend(r.tr, r.detailTr);
      }
      if (changed || fresh.length) onActivity();
    } catch {
      // The next poll, or Refresh, tries again.
    }
    if ([...rows.values()].some((r) => r.d.status === 'pending')) schedulePoll();
  }

  async function load(append = false) {
    // The filter changed while a load was out: that one is not shown; this one is made after it.
    if (loading) {
      if (!append) again = true;
      return;
    }
    loading = true;
    more.disabled = true;
    say('Loading the deliveries…');
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (status.value) q.set('status', status.value);
    if (append && cursor) q.set('cursor', cursor);
    try {
      const data = await api('GET', `${base}?${q}`);
      if (destroyed || again) return;
      if (!append) {
        clear(tbody);
        rows.clear();
      }
      let first = null;
      for (const d of data.items || []) {
        if (rows.has(d.id)) continue;
        const r = rowFor(d);
        tbody.append(r.tr, r.detailTr);
        first = first || r;
      }
      cursor = data.next_cursor || null;
      more.hidden = !cursor;
      const n = rows.size;
      say(n ? `${n} deliver${n === 1 ? 'y' : 'ies'} shown, newest first${cursor ? '; more available' : ''}.` : status.value ? `No ${DELIVERY_STATUS_LABEL[status.value].toLowerCase()} deliveries.` : 'Nothing sent yet: send a test.');
      if (append && first) {
        first.tr.setAttribute('tabindex', '-1');
        first.tr.focus();
      }
    } catch (ex) {
      if (!destroyed && !again) say(`Could not load the deliveries: ${ex.message}`, true);
    } finally {
      loading = false;
      more.disabled = false;
    }
    if (again && !destroyed) {
      again = false;
      cursor = null;
      load(false);
      return;
    }
    if ([...rows.values()].some((r) => r.d.status === 'pending')) schedulePoll();
  }

  status.addEventListener('change', () => {
    // The filter goes in the address without a new route (the table stays, and the keyboard with it).
    const q = new URLSearchParams();
    if (status.value) q.set('status', status.value);
    history.replaceState(null, '', `${location.pathname}${location.search}#/webhooks/${encodeURIComponent(endpointId)}${q.toString() ? `?${q}` : ''}`);
    cursor = null;
    load(false);
  });
  more.addEventListener('click', () => load(true));

  const el = h(
    'section',
    { class: 'people-section', 'aria-labelledby': 'log-h' },
    h('h2', { id: 'log-h', text: 'Deliveries' }),
    h('p', { class: 'help', text: 'Every message sent to this endpoint, newest first, kept 30 days. A failed attempt is tried again after 5 s, then four times longer each time, for a day.' }),
    h('div', { class: 'log-filters' }, h('div', { class: 'field-inline' }, h('label', { for: 'log-status', text: 'Show' }), status), h('button', { type: 'button', class: 'btn btn-quiet', id: 'log-refresh', text: 'Refresh', onclick: () => load(false) })),
    msg,
    h('div', { class: 'table-wrap' }, table),
    more,
  );
  return {
    el,
    load,
    add,
    destroy() {
      destroyed = true;
      clearTimeout(pollTimer);
    },
  };
}
