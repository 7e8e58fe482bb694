// The panel list: filter by status, load more with the cursor.

import { clear, h } from './dom.js';
import { STATUS_LABEL, TYPE_BY_ID, fmtDate, statusBadge } from './format.js';
import { api } from './api.js';
import { session } from './session.js';
import { mountView } from './view.js';

const STATUS_FILTERS = ['', 'running', 'awaiting_human', 'paused', 'created', 'completed', 'failed', 'cancelled'];

export function listView(params, { filterChanged = false } = {}) {
  const status = STATUS_FILTERS.includes(params.get('status') || '') ? params.get('status') || '' : '';
  const limit = Math.min(100, Math.max(1, parseInt(params.get('limit') || '20', 10) || 20));
  const select = h('select', { id: 'status-filter', name: 'status' }, STATUS_FILTERS.map((st) => h('option', { value: st, text: st ? STATUS_LABEL[st] : 'All statuses', selected: st === status })));
  select.addEventListener('change', () => {
    const q = new URLSearchParams();
    if (select.value) q.set('status', select.value);
    if (params.get('limit')) q.set('limit', String(limit));
    location.hash = `#/panels${q.toString() ? `?${q}` : ''}`;
  });
  const list = h('ul', { class: 'panel-list', 'aria-labelledby': 'list-h' });
  const msg = h('p', { class: 'list-msg', role: 'status' });
  const more = h('button', { type: 'button', class: 'btn', id: 'load-more', text: 'Load more', hidden: true });
  let cursor = null;
  let loading = false;

  async function load(append) {
    if (loading) return;
    loading = true;
    more.disabled = true;
    msg.textContent = 'Loading panels…';
    const q = new URLSearchParams({ limit: String(limit) });
    if (status) q.set('status', status);
    if (append && cursor) q.set('cursor', cursor);
    try {
      const data = await api('GET', `/v1/panels?${q}`);
      if (!append) clear(list);
      const firstNew = list.children.length;
      for (const p of data.items) list.append(panelRow(p));
      cursor = data.next_cursor || null;
      more.hidden = !cursor;
      const total = list.children.length;
      msg.textContent = total === 0 ? (status ? `No ${STATUS_LABEL[status].toLowerCase()} panels.` : 'No panels yet.') : `${total} panel${total === 1 ? '' : 's'} shown${cursor ? '; more available' : ''}.`;
      // Keyboard users who asked for more land on the first new row.
      if (append && list.children[firstNew]) list.children[firstNew].querySelector('a').focus();
    } catch (e) {
      msg.textContent = `Could not load panels: ${e.message}`;
    } finally {
      loading = false;
      more.disabled = false;
    }
  }
  more.addEventListener('click', () => load(true));

  mountView(
    'Panels',
    h(
      'section',
      { class: 'list-view' },
      h('div', { class: 'view-head' }, h('h1', { id: 'list-h', text: 'Panels' }), session.atLeast('member') ? h('a', { class: 'btn btn-primary', href: '#/new', text: 'New panel' }) : null),
      h('div', { class: 'filters' }, h('label', { for: 'status-filter', text: 'Status' }), select, h('button', { type: 'button', class: 'btn btn-quiet', text: 'Refresh', onclick: () => load(false) })),
      msg,
      list,
      more,
    ),
  );
  // Changing the filter re-renders the list: keep the keyboard where it was.
  if (filterChanged) select.focus();
  load(false);
}

function panelRow(p) {
  const type = TYPE_BY_ID[p.panel_type];
  return h(
    'li',
    { class: 'panel-row', dataset: { id: p.id, status: p.status } },
    h('a', { class: 'panel-link', href: `#/panels/${p.id}`, text: p.query }),
    h('p', { class: 'panel-meta' }, statusBadge(p.status), h('span', { class: 'badge type', text: type ? type.label : p.panel_type }), h('span', { class: 'when', text: `Created ${fmtDate(p.created_at)}` })),
  );
}
