// The usage charts of the Administration console: tokens per day as inline
// SVG (stacked bars, tokens in below and out above, each bar titled with
// its figures), described in words for screen readers and followed by the
// same figures as a table; and a month's use against a limit as a meter
// with its percentage. Drawn from GET /v1/usage (docs/administration.md).

import { h, s, uid } from './dom.js';

const count = new Intl.NumberFormat(undefined);
const compact = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });
const dayLabel = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', timeZone: 'UTC' });
const dayLong = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });

/** 12,345 (the reader's own grouping). */
export function fmtCount(n) {
  return n === null || n === undefined || Number.isNaN(Number(n)) ? '–' : count.format(Number(n));
}

/** A YYYY-MM-DD day (UTC, as the server counts) for a person: "12 Mar"; `long`: "Tue, 12 Mar 2025". */
export function fmtDay(date, long = false) {
  const d = new Date(`${date}T00:00:00Z`);
  if (Number.isNaN(d.getTime())) return date;
  return (long ? dayLong : dayLabel).format(d);
}

/** Milliseconds for a person: "under 1 s", "45 s", "12 min", "3 h 05 min". */
export function fmtSpan(ms) {
  const n = Math.max(0, Number(ms) || 0);
  if (n > 0 && n < 1000) return 'under 1 s';
  const sec = Math.round(n / 1000);
  if (sec < 60) return `${sec} s`;
  const min = Math.round(sec / 60);
  if (min < 60) return `${min} min`;
  return `${Math.floor(min / 60)} h ${String(min % 60).padStart(2, '0')} min`;
}

/** The smallest 1, 2 or 5 times a power of ten at or above `n` (at least 10): the chart's top. */
function niceCeil(n) {
  if (n <= 10) return 10;
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 5, 10]) if (m * p >= n) return m * p;
  return 10 * p;
}

const tokensOf = (d) => (Number(d.tokens_in) || 0) + (Number(d.tokens_out) || 0);

/**
 * Tokens per day: `days` as the server lists them ([{date, tokens_in,
 * tokens_out, turns, panels_created, …}], oldest first, zeros included).
 * `width`: the space it has, in CSS pixels (drawn at that scale, so its
 * labels keep their size on a phone). Returns a <figure> with the chart,
 * its legend and caption, and a disclosure holding the table of the same figures.
 */
export function tokensPerDayChart(days, { title, width = 640 }) {
  const W = Math.round(Math.max(300, Math.min(960, width)));
  const left = 48;
  const right = 8;
  const top = 10;
  const plotH = 180;
  const H = top + plotH + 26;
  const n = Math.max(1, days.length);
  const slot = (W - left - right) / n;
  const barW = Math.max(1.5, Math.min(28, slot * 0.72));
  const max = niceCeil(Math.max(0, ...days.map(tokensOf)));
  const y = (v) => top + plotH - (v * plotH) / max;
  const titleId = uid('uchart-title');
  const descId = uid('uchart-desc');
  const total = days.reduce((a, d) => a + tokensOf(d), 0);
  const busiest = days.reduce((best, d) => (tokensOf(d) > tokensOf(best || { tokens_in: -1 }) ? d : best), null);
  const active = days.filter((d) => tokensOf(d) > 0).length;
  const desc = days.length
    ? `${fmtCount(total)} tokens from ${fmtDay(days[0].date, true)} to ${fmtDay(days[days.length - 1].date, true)}, on ${active} of ${days.length} days${busiest && tokensOf(busiest) > 0 ? `; the busiest day was ${fmtDay(busiest.date, true)} with ${fmtCount(tokensOf(busiest))}` : ''}. The table below gives every day.`
    : 'No days in this range.';

  const svg = s('svg', { class: 'chart usage-chart', id: 'usage-svg', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': `${titleId} ${descId}`, focusable: 'false' });
  svg.append(s('title', { id: titleId, text: title }), s('desc', { id: descId, text: desc }));
  for (let i = 0; i <= 4; i += 1) {
    const v = (max * i) / 4;
    svg.append(s('line', { class: i ? 'grid' : 'axis', x1: left, x2: W - right, y1: y(v), y2: y(v) }));
    svg.append(s('text', { class: 'tick-label', x: left - 6, y: y(v) + 4, 'text-anchor': 'end', text: compact.format(v) }));
  }
  // A date under the last bar and, going back, every so many (about one per 70 pixels).
  const every = Math.max(1, Math.ceil(n / Math.max(2, Math.floor((W - left) / 70))));
  days.forEach((d, i) => {
    const x = left + slot * i + (slot - barW) / 2;
    const tin = Number(d.tokens_in) || 0;
    const tout = Number(d.tokens_out) || 0;
    const g = s('g', { class: 'day', 'data-date': d.date, 'data-tokens': tin + tout }, s('title', { text: `${fmtDay(d.date, true)}: ${fmtCount(tin)} tokens in, ${fmtCount(tout)} out, ${fmtCount(d.turns)} turns` }));
    if (tin > 0) g.append(s('rect', { class: 'bar-in', x, y: y(tin), width: barW, height: Math.max(1, y(0) - y(tin)) }));
    if (tout > 0) g.append(s('rect', { class: 'bar-out', x, y: y(tin + tout), width: barW, height: Math.max(1, y(tin) - y(tin + tout)) }));
    svg.append(g);
    // Counted back from the last day (today, usually), which is always named.
    const last = i === days.length - 1;
    if ((n - 1 - i) % every === 0) {
      svg.append(s('text', { class: 'tick-label', x: last && every > 1 ? left + slot * (i + 1) : left + slot * i + slot / 2, y: top + plotH + 18, 'text-anchor': last && every > 1 ? 'end' : 'middle', text: fmtDay(d.date) }));
    }
  });

  const swatch = (cls, text) => h('li', {}, h('span', { class: `swatch ${cls}`, 'aria-hidden': 'true' }), text);
  const table = h(
    'table',
    { class: 'data-table usage-days', id: 'usage-days' },
    h('caption', { class: 'visually-hidden', text: `${title}, by day` }),
    h('thead', {}, h('tr', {}, ['Day', 'Tokens in', 'Tokens out', 'Turns', 'Panels created', 'Panels completed'].map((c) => h('th', { scope: 'col', text: c })))),
    h(
      'tbody',
      {},
      days.map((d) =>
        h(
          'tr',
          { dataset: { date: d.date } },
          h('th', { scope: 'row', dataset: { label: 'Day' } }, h('time', { datetime: d.date, text: fmtDay(d.date, true) })),
          [
            ['Tokens in', d.tokens_in],
            ['Tokens out', d.tokens_out],
            ['Turns', d.turns],
            ['Panels created', d.panels_created],
            ['Panels completed', d.panels_completed],
          ].map(([label, v]) => h('td', { class: 'num', dataset: { label } }, fmtCount(v || 0))),
        ),
      ),
    ),
  );
  return h(
    'figure',
    { class: 'usage-figure', id: 'usage-figure' },
    svg,
    h('figcaption', {}, h('ul', { class: 'legend', 'aria-label': 'Legend' }, swatch('bar-in', 'Tokens in (the prompts)'), swatch('bar-out', 'Tokens out (the answers)')), h('span', { class: 'help', text: 'Days in UTC.' })),
    h('details', { class: 'usage-table', id: 'usage-table' }, h('summary', { text: 'The figures by day, as a table' }), h('div', { class: 'table-wrap' }, table)),
  );
}

/**
 * One month's use against a limit: `used` of `limit` `what` ("tokens"),
 * a meter (amber from 75 %, red from 90 %) with the percentage in words.
 */
export function limitMeter({ id, label, used, limit, what }) {
  const has = Number(limit) > 0;
  const pct = has ? (Number(used) / Number(limit)) * 100 : 0;
  let pctText = 'no limit';
  if (has) pctText = pct > 0 && pct < 0.1 ? 'under 0.1 %' : `${pct >= 10 || pct === 0 ? Math.round(pct) : pct.toFixed(1)} %`;
  const meter = has ? h('meter', { id: `${id}-meter`, min: 0, max: limit, value: Math.min(Number(used), Number(limit)), low: limit * 0.75, high: limit * 0.9, optimum: 0, 'aria-labelledby': `${id}-label`, 'aria-describedby': `${id}-text` }) : null;
  return h(
    'div',
    { class: 'limit', id, dataset: { used: String(used), limit: has ? String(limit) : '', pct: has ? pct.toFixed(2) : '', over: String(has && pct >= 100) } },
    h('p', { class: 'limit-head' }, h('span', { class: 'limit-label', id: `${id}-label`, text: label }), h('strong', { class: 'limit-pct', text: pctText })),
    meter,
    h('p', { class: 'help limit-text', id: `${id}-text`, text: has ? `${fmtCount(used)} of ${fmtCount(limit)} ${what}${pct >= 100 ? ': the limit is reached' : ''}` : `${fmtCount(used)} ${what}; your plan sets no limit` }),
  );
}
