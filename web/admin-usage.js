// The Administration console's Usage and limits tab (admins): this month
// against the plan's monthly limits (tokens and panels, the figures the
// server enforces), tokens per day over the last 7, 30 or 90 days
// (optionally of one panel format) as a chart with its table, the totals,
// and the figures by panel format. One GET /v1/usage?from&to[&panel_type]
// (docs/administration.md, "Usage"); the range and format are kept in the
// address (#/admin/usage?days=30&panel_type=delphi).

import { appendAll, clear, h } from './dom.js';
import { PANEL_TYPES, TYPE_BY_ID } from './format.js';
import { api } from './api.js';
import { session } from './session.js';
import { fmtCount, fmtSpan, limitMeter, tokensPerDayChart } from './usage-chart.js';

const RANGES = [7, 30, 90];
const DAY_MS = 86_400_000;

/** YYYY-MM-DD of a time, in UTC (the server's days). */
const isoDay = (t) => new Date(t).toISOString().slice(0, 10);

function readFilters(params) {
  const days = Number.parseInt(params.get('days') || '', 10);
  const type = params.get('panel_type') || '';
  return { days: RANGES.includes(days) ? days : 30, panelType: TYPE_BY_ID[type] ? type : '' };
}

/** FIGURES as a definition list: panels, turns, tokens, time. */
function figuresList(f, id) {
  // Each pair in its own <div> (allowed in a <dl>) so the grid never splits a label from its figure.
  const row = (label, value, key) => h('div', { class: 'usage-figure-item' }, h('dt', { text: label }), h('dd', { dataset: { figure: key }, text: value }));
  return h(
    'dl',
    { class: 'usage-figures', id },
    row('Panels created', fmtCount(f.panels_created || 0), 'panels_created'),
    row('Panels completed', fmtCount(f.panels_completed || 0), 'panels_completed'),
    row('Turns', fmtCount(f.turns || 0), 'turns'),
    row('Tokens in', fmtCount(f.tokens_in || 0), 'tokens_in'),
    row('Tokens out', fmtCount(f.tokens_out || 0), 'tokens_out'),
    f.duration_ms !== undefined ? row('Time in finished panels', fmtSpan(f.duration_ms), 'duration_ms') : null,
  );
}

/** The figures by panel format: a row per format with activity, a total row. */
function byTypeTable(byType, totals) {
  const cols = ['Format', 'Panels created', 'Panels completed', 'Turns', 'Tokens in', 'Tokens out', 'Time'];
  const cells = (f) => [
    ['Panels created', fmtCount(f.panels_created || 0)],
    ['Panels completed', fmtCount(f.panels_completed || 0)],
    ['Turns', fmtCount(f.turns || 0)],
    ['Tokens in', fmtCount(f.tokens_in || 0)],
    ['Tokens out', fmtCount(f.tokens_out || 0)],
    ['Time', fmtSpan(f.duration_ms || 0)],
  ].map(([label, v]) => h('td', { class: 'num', dataset: { label }, text: v }));
  const types = Object.keys(byType || {}).sort((a, b) => (PANEL_TYPES.findIndex((t) => t.id === a) + 1 || 99) - (PANEL_TYPES.findIndex((t) => t.id === b) + 1 || 99));
  return h(
    'table',
    { class: 'data-table usage-types', id: 'usage-by-type' },
    h('caption', { class: 'visually-hidden', text: 'Usage by panel format' }),
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col', text: c })))),
    h('tbody', {}, types.map((t) => h('tr', { dataset: { type: t } }, h('th', { scope: 'row', dataset: { label: 'Format' }, text: TYPE_BY_ID[t] ? TYPE_BY_ID[t].label : t }), cells(byType[t])))),
    h('tfoot', {}, h('tr', { dataset: { type: 'total' } }, h('th', { scope: 'row', dataset: { label: 'Format' }, text: 'All formats' }), cells(totals || {}))),
  );
}

const monthFormat = new Intl.DateTimeFormat(undefined, { month: 'long', year: 'numeric', timeZone: 'UTC' });

/** "March 2025" for 2025-03; "This month" without one. */
function monthName(month) {
  const d = new Date(`${month}-01T00:00:00Z`);
  return month && !Number.isNaN(d.getTime()) ? monthFormat.format(d) : 'This month';
}

/** The month against the limits: `month` is this_month, `limits` the tenant's. */
function monthSection(month, limits, filtered) {
  const used = (Number(month.tokens_in) || 0) + (Number(month.tokens_out) || 0);
  const tier = session.tenant && session.tenant.tier;
  return [
    h('p', { class: 'help', text: `${monthName(month.month)} so far (UTC)${tier ? `, on the ${tier} plan` : ''}. A panel cannot start once a limit is reached, and running panels pause when the tokens run out, until the next month or a higher limit.${filtered ? ' These are every format’s figures: the limits count them all.' : ''}` }),
    h(
      'div',
      { class: 'limits' },
      limitMeter({ id: 'limit-tokens', label: 'Tokens (in and out)', used, limit: limits.tokens_per_month, what: 'tokens' }),
      limitMeter({ id: 'limit-panels', label: 'Panels created', used: Number(month.panels_created) || 0, limit: limits.max_panels_per_month, what: 'panels' }),
    ),
    limits.max_concurrent_panels ? h('p', { class: 'help', id: 'limit-concurrent', text: `At most ${fmtCount(limits.max_concurrent_panels)} panels run at once.` }) : null,
  ];
}

/** Returns { el, destroy } for the console (admin.js); `params` the address's query. */
export function usageTab(params) {
  let destroyed = false;
  let seq = 0;
  const filters = readFilters(params);
  const range = h('select', { id: 'usage-range', name: 'days' }, RANGES.map((d) => h('option', { value: String(d), text: `Last ${d} days`, selected: d === filters.days })));
  const type = h('select', { id: 'usage-type', name: 'panel_type' }, h('option', { value: '', text: 'Every format' }), PANEL_TYPES.map((t) => h('option', { value: t.id, text: t.label, selected: t.id === filters.panelType })));
  const msg = h('p', { class: 'list-msg', id: 'usage-msg', role: 'status', text: 'Loading the usage…' });
  const month = h('div', { id: 'usage-month' });
  const chart = h('div', { id: 'usage-chart-slot' });
  const totals = h('div', { id: 'usage-totals-slot' });
  const byType = h('div', { class: 'table-wrap', id: 'usage-by-type-slot' });
  const chartHead = h('h2', { id: 'usage-chart-h', text: 'Tokens per day' });

  function current() {
    return { days: Number(range.value), panelType: type.value };
  }

  async function load() {
    const mySeq = ++seq;
    const f = current();
    const to = isoDay(Date.now());
    const from = isoDay(Date.now() - (f.days - 1) * DAY_MS);
    const query = new URLSearchParams({ from, to });
    if (f.panelType) query.set('panel_type', f.panelType);
    msg.textContent = 'Loading the usage…';
    try {
      const data = await api('GET', `/v1/usage?${query}`);
      if (destroyed || mySeq !== seq) return;
      render(data, f);
    } catch (ex) {
      if (destroyed || mySeq !== seq) return;
      msg.textContent = `Could not load the usage: ${ex.message}`;
    }
  }

  function render(data, f) {
    const limits = data.limits || (session.tenant && session.tenant.limits) || {};
    clear(month);
    appendAll(month, monthSection(data.this_month || data, limits, Boolean(f.panelType)));
    clear(chart);
    clear(totals);
    clear(byType);
    const label = f.panelType ? `${TYPE_BY_ID[f.panelType].label} panels` : 'Every format';
    chartHead.textContent = `Tokens per day: ${label.toLowerCase()}, last ${f.days} days`;
    if (!Array.isArray(data.days)) {
      // A server that answers only the month (before this version) itemises no days.
      msg.textContent = 'This server gives the month’s figures only, not usage by day.';
      return;
    }
    chart.append(tokensPerDayChart(data.days, { title: `Tokens per day, ${label.toLowerCase()}, ${data.from} to ${data.to}`, width: chart.clientWidth || 640 }));
    totals.append(h('h3', { id: 'usage-totals-h', text: `Totals, ${label.toLowerCase()}` }), figuresList(data.totals || {}, 'usage-totals'));
    const types = data.by_panel_type || {};
    byType.append(Object.keys(types).length ? byTypeTable(types, data.totals) : h('p', { class: 'help', id: 'usage-by-type-none', text: 'No panel activity in this range.' }));
    const t = data.totals || {};
    const made = t.panels_created || 0;
    msg.textContent = `${fmtCount((t.tokens_in || 0) + (t.tokens_out || 0))} tokens and ${fmtCount(made)} panel${made === 1 ? '' : 's'} created in the last ${f.days} days${f.panelType ? ` (${TYPE_BY_ID[f.panelType].label} only)` : ''}.`;
  }

  function apply() {
    const f = current();
    const query = new URLSearchParams();
    if (f.days !== 30) query.set('days', String(f.days));
    if (f.panelType) query.set('panel_type', f.panelType);
    history.replaceState(null, '', `${location.pathname}${location.search}#/admin/usage${query.toString() ? `?${query}` : ''}`);
    load();
  }
  range.addEventListener('change', apply);
  type.addEventListener('change', apply);

  const el = h(
    'div',
    { class: 'admin-usage' },
    h('section', { class: 'people-section', 'aria-labelledby': 'usage-month-h' }, h('h2', { id: 'usage-month-h', text: 'This month against your limits' }), month),
    h(
      'section',
      { class: 'people-section', 'aria-labelledby': 'usage-chart-h' },
      h('div', { class: 'view-head' }, chartHead, h('button', { type: 'button', class: 'btn btn-quiet', id: 'usage-refresh', text: 'Refresh', onclick: () => load() })),
      h('form', { class: 'usage-filters', 'aria-label': 'Usage range', onsubmit: (e) => e.preventDefault() }, h('div', { class: 'field-inline' }, h('label', { for: 'usage-range', text: 'Range' }), range), h('div', { class: 'field-inline' }, h('label', { for: 'usage-type', text: 'Panel format' }), type)),
      msg,
      chart,
      totals,
    ),
    h('section', { class: 'people-section', 'aria-labelledby': 'usage-types-h' }, h('h2', { id: 'usage-types-h', text: 'By panel format' }), byType),
  );
  load();
  return {
    el,
    destroy() {
      destroyed = true;
    },
  };
}
