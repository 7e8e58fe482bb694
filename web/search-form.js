// The panel list's search and filters: words (q), type, status, an expert
// seated on the panel, and created from/to (days). They live in the page's
// address (#/panels?q=...&status=...), so a search survives a reload, the back
// button and a shared bookmark. The words and dates apply on Search (or
// Enter); a choice in a list applies at once.

import { h } from './dom.js';
import { PANEL_TYPES, STATUS_LABEL } from './format.js';
import { api } from './api.js';

export const STATUS_FILTERS = ['', 'running', 'awaiting_human', 'paused', 'created', 'completed', 'failed', 'cancelled'];
const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;

/** The filters in `params` (the address's query), each '' when absent or not valid. */
export function readFilters(params) {
  const get = (k) => (params.get(k) || '').trim();
  const type = get('panel_type') || get('type');
  return {
    q: get('q').slice(0, 500),
    panel_type: PANEL_TYPES.some((t) => t.id === type) ? type : '',
    status: STATUS_FILTERS.includes(get('status')) ? get('status') : '',
    expert: get('expert').slice(0, 200),
    from: DAY_RE.test(get('from')) ? get('from') : '',
    to: DAY_RE.test(get('to')) ? get('to') : '',
  };
}

/** The filters that are set, as query parameters (the page's address and the API's are the same names). */
export function filterParams(filters) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v);
  return q;
}

/** Whether any filter is set. */
export function anyFilter(filters) {
  return Object.values(filters).some(Boolean);
}

// The control that last applied the form, to give it the keyboard back after the list redraws.
let lastControl = null;

/**
 * The form for `filters`. `apply(next)` is called with the new filters (the
 * list view puts them in the address, which redraws the list).
 */
export function searchForm(filters, apply) {
  const q = h('input', { type: 'search', id: 'panel-search', name: 'q', value: filters.q, autocomplete: 'off', 'aria-describedby': 'panel-search-help' });
  const type = h('select', { id: 'type-filter', name: 'panel_type' }, h('option', { value: '', text: 'All types' }), PANEL_TYPES.map((t) => h('option', { value: t.id, text: t.label, selected: t.id === filters.panel_type })));
  const status = h('select', { id: 'status-filter', name: 'status' }, STATUS_FILTERS.map((st) => h('option', { value: st, text: st ? STATUS_LABEL[st] : 'All statuses', selected: st === filters.status })));
  // Filled from the catalog once it answers; a chosen expert stays chosen meanwhile.
  const expert = h('select', { id: 'expert-filter', name: 'expert' }, h('option', { value: '', text: 'Any expert' }), filters.expert ? h('option', { value: filters.expert, text: 'The chosen expert', selected: true }) : null);
  const from = h('input', { type: 'date', id: 'from-filter', name: 'from', value: filters.from });
  const to = h('input', { type: 'date', id: 'to-filter', name: 'to', value: filters.to });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'panel-search-submit', text: 'Search' });
  const clearBtn = h('button', { type: 'button', class: 'btn btn-quiet', id: 'filters-clear', text: 'Clear', hidden: !anyFilter(filters) });
  const field = (control, label) => h('div', { class: 'field-inline' }, h('label', { for: control.id, text: label }), control);
  const form = h(
    'form',
    { class: 'search-form', role: 'search', 'aria-label': 'Panels', novalidate: true },
    h('div', { class: 'search-row' }, h('label', { for: 'panel-search', text: 'Search panels' }), h('div', { class: 'inline-row' }, q, submit)),
    h('p', { class: 'help', id: 'panel-search-help', text: 'Words from the question, the discussion or the recommendation; every word must match. Best matches come first.' }),
    h('div', { class: 'filter-grid' }, field(type, 'Type'), field(status, 'Status'), field(expert, 'Expert'), field(from, 'Created from'), field(to, 'Created until')),
    h('div', { class: 'actions' }, clearBtn),
  );
  const current = () => ({ q: q.value.trim(), panel_type: type.value, status: status.value, expert: expert.value, from: from.value, to: to.value });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    lastControl = document.activeElement === submit ? submit.id : q.id;
    apply(current());
  });
  for (const select of [type, status, expert]) {
    select.addEventListener('change', () => {
      lastControl = select.id;
      apply(current());
    });
  }
  clearBtn.addEventListener('click', () => {
    lastControl = q.id;
    apply({ q: '', panel_type: '', status: '', expert: '', from: '', to: '' });
  });
  loadExperts(expert, filters.expert);
  return form;
}

/** After the list redraws for new filters: the keyboard goes back where it was. */
export function restoreFocus() {
  const el = lastControl && document.getElementById(lastControl);
  lastControl = null;
  if (el) el.focus();
}

async function loadExperts(select, chosen) {
  try {
    const data = await api('GET', '/v1/experts?limit=200');
    const items = ((data && data.items) || []).slice().sort((a, b) => a.name.localeCompare(b.name));
    if (!select.isConnected) return;
    const keep = select.value || chosen;
    while (select.options.length > 1) select.remove(1);
    for (const ex of items) select.append(h('option', { value: ex.id, text: ex.name, selected: ex.id === keep }));
    // An expert no longer in the catalog (or past its first 200) stays chosen by id.
    if (keep && !items.some((ex) => ex.id === keep)) select.append(h('option', { value: keep, text: 'The chosen expert', selected: true }));
  } catch {
    // No catalog: the list can still be searched and filtered otherwise.
  }
}
