// The panel list: search and filters (search-form.js, kept in the address),
// newest first or, with words to search, best match first; load more with the cursor.

import { clear, h } from './dom.js';
import { STATUS_LABEL, TYPE_BY_ID, fmtDate, statusBadge } from './format.js';
import { api } from './api.js';
import { session } from './session.js';
import { anyFilter, filterParams, readFilters, restoreFocus, searchForm } from './search-form.js';
import { mountView } from './view.js';

const MATCH_LABEL = { query: 'the question', turn: 'a turn', recommendation: 'the recommendation' };

export function listView(params, { filterChanged = false } = {}) {
  const filters = readFilters(params);
  const limit = Math.min(100, Math.max(1, parseInt(params.get('limit') || '20', 10) || 20));
  const form = searchForm(filters, (next) => {
    const q = filterParams(next);
    if (params.get('limit')) q.set('limit', String(limit));
    const hash = `#/panels${q.toString() ? `?${q}` : ''}`;
    // The same search again (Search pressed twice): load it again, the index may have caught up.
    if (location.hash === hash) load(false);
    else location.hash = hash;
  });
  const list = h('ul', { class: 'panel-list', 'aria-labelledby': 'list-h' });
  const msg = h('p', { class: 'list-msg', id: 'list-msg', role: 'status' });
  const more = h('button', { type: 'button', class: 'btn', id: 'load-more', text: 'Load more', hidden: true });
  let cursor = null;
  let loading = false;
  /** A first page asked for (Refresh, the same search again) while a load was out: made after it, the out one not shown. */
  let again = false;
  const shownIds = new Set();

  function emptyText() {
    if (filters.q) return `No panels match “${filters.q}”${anyFilter({ ...filters, q: '' }) ? ' with these filters' : ''}.`;
    if (anyFilter(filters)) return filters.status && !anyFilter({ ...filters, status: '' }) ? `No ${STATUS_LABEL[filters.status].toLowerCase()} panels.` : 'No panels match these filters.';
    return 'No panels yet.';
  }

  async function load(append) {
    if (loading) {
      if (!append) again = true;
      return;
    }
    loading = true;
    more.disabled = true;
    msg.textContent = filters.q ? 'Searching…' : 'Loading panels…';
    const q = filterParams(filters);
    // Days are the viewer's own: their midnights, sent as instants (a
    // timestamp's `to` is exclusive, so the last day's end is the next midnight).
    for (const [name, after] of [['from', 0], ['to', 1]]) {
      const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(q.get(name) || '');
      if (m) q.set(name, new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + after).toISOString());
    }
    q.set('limit', String(limit));
    if (append && cursor) q.set('cursor', cursor);
    try {
      const data = await api('GET', `/v1/panels?${q}`);
      if (again) return;
      if (!append) {
        clear(list);
        shownIds.clear();
      }
      const firstNew = list.children.length;
      // A ranked search pages by offset: a panel the index moved between
      // pages is not listed twice.
      for (const p of data.items) {
        if (shownIds.has(p.id)) continue;
        shownIds.add(p.id);
        list.append(panelRow(p));
      }
      cursor = data.next_cursor || null;
      more.hidden = !cursor;
      const total = list.children.length;
      const shown = `${total} panel${total === 1 ? '' : 's'}`;
      msg.textContent = total === 0 ? emptyText() : `${filters.q ? `${shown} found, best match first` : `${shown} shown`}${cursor ? '; more available' : ''}.`;
      // Keyboard users who asked for more land on the first new row.
      if (append && list.children[firstNew]) list.children[firstNew].querySelector('a').focus();
    } catch (e) {
      if (again) return;
      // A search the server refuses says why (e.g. only common words).
      const why = e.fields ? Object.values(e.fields).join('; ') : '';
      msg.textContent = `Could not load panels: ${why || e.message}`;
    } finally {
      loading = false;
      more.disabled = false;
      if (again) {
        again = false;
        load(false);
      }
    }
  }
  more.addEventListener('click', () => load(true));

  mountView(
    'Panels',
    h(
      'section',
      { class: 'list-view' },
      h('div', { class: 'view-head' }, h('h1', { id: 'list-h', text: 'Panels' }), session.atLeast('member') ? h('a', { class: 'btn btn-primary', href: '#/new', text: 'New panel' }) : null),
      form,
      h('div', { class: 'list-tools' }, msg, h('button', { type: 'button', class: 'btn btn-quiet', id: 'list-refresh', text: 'Refresh', onclick: () => load(false) })),
      list,
      more,
    ),
  );
  // A new search or filter redraws the list: keep the keyboard where it was.
  if (filterChanged) restoreFocus();
  load(false);
}

function panelRow(p) {
  const type = TYPE_BY_ID[p.panel_type];
  return h(
    'li',
    { class: 'panel-row', dataset: p.match ? { id: p.id, status: p.status, match: p.match.kind } : { id: p.id, status: p.status } },
    h('a', { class: 'panel-link', href: `#/panels/${p.id}`, text: p.query }),
    h(
      'p',
      { class: 'panel-meta' },
      statusBadge(p.status),
      h('span', { class: 'badge type', text: type ? type.label : p.panel_type }),
      h('span', { class: 'when', text: `Created ${fmtDate(p.created_at)}` }),
      // With words to search, the server says where the best match is.
      p.match ? h('span', { class: 'match', text: `Matched in: ${MATCH_LABEL[p.match.kind] || p.match.kind}` }) : null,
    ),
  );
}
