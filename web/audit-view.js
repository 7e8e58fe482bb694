// The Audit screen (admins): who did what to what, when and from where
// (docs/audit.md), newest first, in the viewer's local time. Filters: an
// action or a kind of action ("auth."), who acted, from/to days; kept in
// the address so a reload shows the same. "Load more" follows next_cursor.
// People and keys are named from /v1/users and /v1/keys when those answer.

import { appendAll, clear, h } from './dom.js';
import { fmtDate } from './format.js';
import { api } from './api.js';
import { session } from './session.js';
import { adminsOnlyView, mountView } from './view.js';

const PAGE = 50;
const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;
const KINDS = ['auth.', 'user.', 'key.', 'tenant.', 'panel.', 'share.', 'document.', 'expert.'];
const ACTION_LABEL = {
  'auth.signed_in': 'signed in',
  'auth.sign_in_failed': 'failed to sign in',
  'auth.signed_out': 'signed out',
  'auth.signed_out_everywhere': 'signed out everywhere',
  'auth.password_reset_requested': 'asked for a password reset',
  'auth.password_reset': 'reset their password',
  'auth.password_changed': 'changed their password',
  'user.created': 'created an account',
  'user.invited': 'invited someone',
  'user.joined': 'joined',
  'user.invitation_revoked': 'revoked an invitation',
  'user.role_changed': 'changed a role',
  'user.removed': 'removed someone',
  'user.password_reset_issued': 'made a reset link',
  'key.created': 'created a key',
  'key.revoked': 'revoked a key',
  'tenant.created': 'created the organisation',
  'tenant.status_changed': 'changed the status',
  'tenant.tier_changed': 'changed the tier',
  'tenant.limits_changed': 'changed the limits',
  'tenant.branding_changed': 'changed the branding',
  'tenant.logo_changed': 'changed the logo',
  'expert.created': 'added an expert',
  'expert.updated': 'changed an expert',
  'expert.settings_changed': 'hid, showed or preferred an expert',
  'expert.archived': 'archived an expert',
  'expert.deleted': 'deleted an expert',
  'document.uploaded': 'uploaded a document',
  'document.deleted': 'deleted a document',
  'share.created': 'shared a panel',
  'share.revoked': 'revoked a share link',
  'panel.moderated': 'moderated a panel',
};

const when = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** The filters in the address's query, each '' when absent or not valid. */
function readFilters(params) {
  const get = (k) => (params.get(k) || '').trim().slice(0, 100);
  return { action: get('action'), actor: get('actor'), from: DAY_RE.test(get('from')) ? get('from') : '', to: DAY_RE.test(get('to')) ? get('to') : '' };
}

/** A detail object in one line: `email: a@b.c · role: admin · emailed: no`. */
export function summariseDetail(detail) {
  if (!detail || typeof detail !== 'object') return detail == null ? '' : String(detail);
  const value = (v) => {
    if (v === true) return 'yes';
    if (v === false) return 'no';
    if (v === null || v === undefined) return '–';
    // Instants in the viewer's time, like the Time column.
    if (typeof v === 'string' && ISO_INSTANT.test(v)) return fmtDate(v);
    if (typeof v === 'string') return v.length > 80 ? `${v.slice(0, 79)}…` : v;
    if (typeof v === 'number') return String(v);
    const json = JSON.stringify(v);
    return json.length > 80 ? `${json.slice(0, 79)}…` : json;
  };
  return Object.entries(detail)
    .map(([k, v]) => `${k.replace(/_/g, ' ')}: ${value(v)}`)
    .join(' · ');
}

export function auditView(params) {
  if (!session.isAdmin()) {
    adminsOnlyView('Audit');
    return null;
  }
  const filters = readFilters(params);
  let destroyed = false;
  let cursor = null;
  let loading = false;
  let again = false;
  const names = { user: new Map(), key: new Map() };

  const action = h('input', { type: 'text', id: 'audit-action', name: 'action', list: 'audit-actions', value: filters.action, autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'audit-action-help' });
  const actions = h('datalist', { id: 'audit-actions' }, KINDS.map((k) => h('option', { value: k, text: `every ${k.slice(0, -1)} action` })), Object.keys(ACTION_LABEL).map((a) => h('option', { value: a, text: ACTION_LABEL[a] })));
  const actor = h('select', { id: 'audit-actor', name: 'actor' }, h('option', { value: '', text: 'Anyone' }), h('option', { value: 'admin', text: 'The platform admin', selected: filters.actor === 'admin' }), filters.actor && filters.actor !== 'admin' ? h('option', { value: filters.actor, text: 'The chosen one', selected: true }) : null);
  const from = h('input', { type: 'date', id: 'audit-from', name: 'from', value: filters.from });
  const to = h('input', { type: 'date', id: 'audit-to', name: 'to', value: filters.to });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'audit-apply', text: 'Show' });
  const clearBtn = h('button', { type: 'button', class: 'btn btn-quiet', id: 'audit-clear', text: 'Clear' });
  const fieldOf = (control, label, help) => h('div', { class: 'field-inline' }, h('label', { for: control.id, text: label }), control, help ? h('p', { class: 'help', id: `${control.id}-help`, text: help }) : null);
  const form = h(
    'form',
    { class: 'search-form audit-filters', role: 'search', 'aria-label': 'Audit trail', novalidate: true },
    h('div', { class: 'filter-grid' }, fieldOf(action, 'Action', 'One (user.invited) or a kind, ending in a dot (auth.).'), actions, fieldOf(actor, 'Who'), fieldOf(from, 'From'), fieldOf(to, 'To')),
    h('div', { class: 'actions' }, submit, clearBtn),
  );
  const msg = h('p', { class: 'list-msg', id: 'audit-msg', role: 'status' });
  const tbody = h('tbody', { id: 'audit-body' });
  const table = h(
    'table',
    { class: 'data-table audit-table', id: 'audit' },
    h('caption', { class: 'visually-hidden', text: 'Audit trail, newest first' }),
    h('thead', {}, h('tr', {}, ['Time', 'Who', 'Action', 'Target', 'Address', 'Detail'].map((c) => h('th', { scope: 'col', text: c })))),
    tbody,
  );
  const more = h('button', { type: 'button', class: 'btn', id: 'audit-more', text: 'Load more', hidden: true });

  function current() {
    return { action: action.value.trim(), actor: actor.value, from: from.value, to: to.value };
  }

  function actorLabel(a) {
    if (!a) return '–';
    if (a.kind === 'platform') return 'The platform admin';
    if (a.kind === 'anonymous') return 'Someone not signed in';
    if (a.kind === 'user') return names.user.get(a.id) || `A person (${a.id.slice(-8)})`;
    if (a.kind === 'key') return names.key.has(a.id) ? `Key “${names.key.get(a.id)}”` : `A key (${a.id.slice(-8)})`;
    return `${a.kind} ${a.id}`;
  }

  function targetCell(t) {
    if (!t) return '–';
    if (t.kind === 'panel') return h('a', { href: `#/panels/${encodeURIComponent(t.id)}`, text: `Panel ${t.id.slice(-8)}` });
    if (t.kind === 'user') return names.user.get(t.id) || `Person ${t.id.slice(-8)}`;
    if (t.kind === 'key') return names.key.has(t.id) ? `Key “${names.key.get(t.id)}”` : `Key ${t.id.slice(-8)}`;
    if (t.kind === 'tenant') return 'The organisation';
    return `${t.kind.charAt(0).toUpperCase()}${t.kind.slice(1)} ${t.id.slice(-8)}`;
  }

  function row(e) {
    const cell = (label, ...content) => h('td', { dataset: { label } }, h('div', { class: 'cell' }, ...content));
    const summary = summariseDetail(e.detail);
    return h(
      'tr',
      { class: 'audit-row', dataset: { id: e.id, action: e.action } },
      cell('Time', h('time', { datetime: e.at, text: when.format(new Date(e.at)) })),
      cell('Who', actorLabel(e.actor)),
      cell('Action', h('code', { text: e.action }), ACTION_LABEL[e.action] ? h('span', { class: 'action-words', text: ` ${ACTION_LABEL[e.action]}` }) : null),
      cell('Target', targetCell(e.target)),
      cell('Address', e.address || '–'),
      cell('Detail', h('span', { class: 'audit-detail', text: summary || '–' })),
    );
  }

  async function load(append) {
    // A filter changed while a load was out: that one is not shown; this one is made after it.
    if (loading) {
      if (!append) again = true;
      return;
    }
    loading = true;
    more.disabled = true;
    msg.textContent = 'Loading the audit trail…';
    const f = current();
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (f.action) q.set('action', f.action);
    if (f.actor) q.set('actor', f.actor);
    // Days are the viewer's own: their midnights, sent as instants (`to` the next midnight, exclusive).
    for (const [name, after] of [['from', 0], ['to', 1]]) {
      const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(f[name]);
      if (m) q.set(name, new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + after).toISOString());
    }
    if (append && cursor) q.set('cursor', cursor);
    try {
      const data = await api('GET', `/v1/audit?${q}`);
      if (destroyed || again) return;
      if (!append) clear(tbody);
      const firstNew = tbody.children.length;
      appendAll(tbody, (data.items || []).map(row));
      cursor = data.next_cursor || null;
      more.hidden = !cursor;
      const n = tbody.children.length;
      const filtered = Object.values(f).some(Boolean);
      msg.textContent = n === 0 ? (filtered ? 'Nothing recorded matches these filters.' : 'Nothing recorded yet.') : `${n} entr${n === 1 ? 'y' : 'ies'} shown, newest first${cursor ? '; more available' : ''}.`;
      const first = tbody.children[firstNew];
      if (append && first) {
        first.setAttribute('tabindex', '-1');
        first.focus();
      }
    } catch (e) {
      if (destroyed || again) return;
      if (e.status === 403) adminsOnlyView('Audit');
      else msg.textContent = `Could not load the audit trail: ${Object.keys(e.fields).length ? Object.entries(e.fields).map(([k, v]) => `${k} ${v}`).join('; ') : e.message}`;
    } finally {
      loading = false;
      more.disabled = false;
      if (again && !destroyed) {
        again = false;
        cursor = null;
        load(false);
      }
    }
  }

  /** The filters go in the address without a new route (the table stays, and the keyboard with it). */
  function apply() {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(current())) if (v) q.set(k, v);
    history.replaceState(null, '', `${location.pathname}${location.search}#/audit${q.toString() ? `?${q}` : ''}`);
    cursor = null;
    load(false);
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    apply();
  });
  actor.addEventListener('change', apply);
  clearBtn.addEventListener('click', () => {
    action.value = '';
    actor.value = '';
    from.value = '';
    to.value = '';
    apply();
    action.focus();
  });
  more.addEventListener('click', () => load(true));

  /** Names for ids, and the people and keys to pick from; the table is redrawn with them. */
  async function loadNames() {
    const [users, keys] = await Promise.all([api('GET', '/v1/users').catch(() => null), api('GET', '/v1/keys').catch(() => null)]);
    if (destroyed) return;
    const emails = new Map();
    for (const u of (users && users.items) || []) {
      names.user.set(u.id, u.name || u.email);
      emails.set(u.id, u.email);
    }
    for (const k of (keys && keys.items) || []) names.key.set(k.id, k.name || k.prefix);
    const chosen = actor.value;
    for (const o of [...actor.options].slice(2)) o.remove();
    const option = (value, text) => h('option', { value, text, selected: value === chosen });
    appendAll(
      actor,
      h('optgroup', { label: 'People' }, [...names.user].map(([id, text]) => option(id, text === emails.get(id) ? text : `${text} (${emails.get(id)})`))),
      h('optgroup', { label: 'API keys' }, [...names.key].map(([id, text]) => option(id, `Key “${text}”`))),
    );
    if (chosen && actor.value !== chosen) actor.append(option(chosen, 'The chosen one'));
  }

  mountView(
    'Audit',
    h(
      'section',
      { class: 'audit-view' },
      h('div', { class: 'view-head' }, h('h1', { id: 'audit-h', text: 'Audit' })),
      h('p', { class: 'help', text: 'What was done in your organisation, by whom and from where. Times are yours (local time). Nothing here can be changed or deleted.' }),
      form,
      h('div', { class: 'list-tools' }, msg, h('button', { type: 'button', class: 'btn btn-quiet', id: 'audit-refresh', text: 'Refresh', onclick: () => load(false) })),
      h('div', { class: 'table-wrap' }, table),
      more,
    ),
  );
  // The names arrive first when they can, so rows are not drawn twice.
  loadNames().finally(() => load(false));
  return {
    destroy() {
      destroyed = true;
    },
  };
}
