// Ratings chart: one round's ratings as inline SVG (dots on the 1-9 scale,
// the interquartile band, the median line, the RAND/UCLA tertiles).

import { s, uid } from './dom.js';
import { fmtNum } from './format.js';

/** Percentile by linear interpolation between closest ranks (type 7), as the server computes. */
function percentile(sorted, p) {
  const hIdx = (sorted.length - 1) * p;
  const lo = Math.floor(hIdx);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (hIdx - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * Each member's rating as a dot on the 1-9 scale, the interquartile band and
 * the median line, over the three RAND/UCLA tertiles.
 */
export function ratingsChart({ ratings, stats, dissent, title }) {
  const W = 340;
  const pad = 18;
  const rowH = 12;
  const counts = new Map();
  const rows = ratings.map((r) => {
    const k = counts.get(r.rating) || 0;
    counts.set(r.rating, k + 1);
    return k;
  });
  const maxStack = Math.max(1, ...counts.values());
  const top = 8;
  const plotH = Math.max(36, maxStack * rowH + 14);
  const H = top + plotH + 22;
  const x = (v) => pad + ((v - 1) * (W - 2 * pad)) / 8;
  const sorted = ratings.map((r) => r.rating).sort((a, b) => a - b);
  const median = stats && stats.median != null ? stats.median : sorted.length ? percentile(sorted, 0.5) : null;
  const q1 = sorted.length ? percentile(sorted, 0.25) : null;
  const q3 = sorted.length ? percentile(sorted, 0.75) : null;
  const titleId = uid('chart-title');
  const descId = uid('chart-desc');
  const desc = ratings.map((r) => `${r.name}: ${r.rating}${dissent.has(r.memberId) ? ' (dissents)' : ''}`).join('; ');

  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': `${titleId} ${descId}`, focusable: 'false' });
  svg.append(s('title', { id: titleId, text: title }), s('desc', { id: descId, text: desc || 'No ratings.' }));
  // Tertile bands: disagree 1-3, uncertain 4-6, agree 7-9.
  [
    [1, 3.5, 'band-disagree'],
    [3.5, 6.5, 'band-uncertain'],
    [6.5, 9, 'band-agree'],
  ].forEach(([a, b, cls]) => svg.append(s('rect', { class: cls, x: x(a), y: top, width: x(b) - x(a), height: plotH })));
  if (q1 !== null) {
    svg.append(s('rect', { class: 'iqr', x: x(q1), y: top + 2, width: Math.max(2, x(q3) - x(q1)), height: plotH - 4 }, s('title', { text: `Interquartile range ${fmtNum(q1)} to ${fmtNum(q3)}` })));
  }
  if (median !== null) {
    svg.append(s('line', { class: 'median', x1: x(median), x2: x(median), y1: top, y2: top + plotH }, s('title', { text: `Median ${fmtNum(median)}` })));
  }
  ratings.forEach((r, i) => {
    const cy = top + plotH - 8 - rows[i] * rowH;
    svg.append(
      s('circle', { class: dissent.has(r.memberId) ? 'dot dissent' : 'dot', cx: x(r.rating), cy, r: 5 }, s('title', { text: `${r.name}: ${r.rating}${r.confidence != null ? `, confidence ${fmtNum(r.confidence, 2)}` : ''}${dissent.has(r.memberId) ? ', dissents' : ''}` })),
    );
  });
  const axisY = top + plotH;
  svg.append(s('line', { class: 'axis', x1: pad, x2: W - pad, y1: axisY, y2: axisY }));
  for (let v = 1; v <= 9; v += 1) {
    svg.append(s('line', { class: 'tick', x1: x(v), x2: x(v), y1: axisY, y2: axisY + 4 }));
    svg.append(s('text', { class: 'tick-label', x: x(v), y: axisY + 16, 'text-anchor': 'middle', text: v }));
  }
  return { svg, q1, q3, median };
}
