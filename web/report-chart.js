// The report's chart: the consensus across rounds as inline SVG (ratings on
// the 1-9 scale by round, each member a dot, the median a line, the
// interquartile range a band, over the RAND/UCLA tertiles), drawn from the
// report JSON's rounds so its figures are the report's rounded ones.

import { s, uid } from './dom.js';

/** Percentile by linear interpolation between closest ranks (type 7), as the server computes. */
function percentile(sorted, p) {
  const at = (sorted.length - 1) * p;
  const lo = Math.floor(at);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (at - lo) * (sorted[hi] - sorted[lo]);
}

/** A figure as the report writes it (already rounded by the server): 6.67, 4.5, 7. */
export function figure(v) {
  return v === null || v === undefined || Number.isNaN(v) ? '–' : String(v);
}

/**
 * `rounds`: the report's rounds ([{round, median, iqr, n, ratings: [{member_id, rating}]}]);
 * `nameOf(memberId)`; `dissent`: member ids outlined in round `dissentRound`.
 * Returns the <svg>, or null when no round was rated.
 */
export function consensusChart({ rounds, nameOf, dissent = new Set(), dissentRound = null, title }) {
  const rated = rounds.filter((r) => Array.isArray(r.ratings) && r.ratings.length);
  if (!rated.length) return null;
  const W = 360;
  const left = 26;
  const right = 8;
  const top = 8;
  const plotH = 180;
  const H = top + plotH + 24;
  const colW = (W - left - right) / rounds.length;
  const cx = (i) => left + colW * (i + 0.5);
  const y = (v) => top + ((9 - v) * plotH) / 8;
  const band = Math.min(colW * 0.55, 44);
  const titleId = uid('rchart-title');
  const descId = uid('rchart-desc');
  const desc = rounds
    .map((r) => (r.ratings && r.ratings.length ? `Round ${r.round}: median ${figure(r.median)}, IQR ${figure(r.iqr)}, ${r.ratings.length} rating${r.ratings.length === 1 ? '' : 's'}` : `Round ${r.round}: no ratings`))
    .join('; ');

  const svg = s('svg', { class: 'chart rounds-chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': `${titleId} ${descId}`, focusable: 'false' });
  svg.append(s('title', { id: titleId, text: title }), s('desc', { id: descId, text: desc }));
  // Tertile bands: disagree 1-3, uncertain 4-6, agree 7-9 (the scale runs upwards).
  [
    [1, 3.5, 'band-disagree'],
    [3.5, 6.5, 'band-uncertain'],
    [6.5, 9, 'band-agree'],
  ].forEach(([a, b, cls]) => svg.append(s('rect', { class: cls, x: left, y: y(b), width: W - left - right, height: y(a) - y(b) })));
  for (let v = 1; v <= 9; v += 1) {
    svg.append(s('line', { class: 'tick', x1: left - 4, x2: left, y1: y(v), y2: y(v) }));
    svg.append(s('text', { class: 'tick-label', x: left - 7, y: y(v) + 4, 'text-anchor': 'end', text: v }));
  }
  svg.append(s('line', { class: 'axis', x1: left, x2: left, y1: top, y2: top + plotH }));
  svg.append(s('line', { class: 'axis', x1: left, x2: W - right, y1: top + plotH, y2: top + plotH }));

  // The median's path across rounds, under the marks of each round.
  const medians = rounds.map((r, i) => (r.ratings && r.ratings.length && r.median != null ? `${cx(i)},${y(r.median)}` : null)).filter(Boolean);
  if (medians.length > 1) svg.append(s('polyline', { class: 'median-path', points: medians.join(' ') }));
  rounds.forEach((r, i) => {
    svg.append(s('text', { class: 'tick-label', x: cx(i), y: top + plotH + 17, 'text-anchor': 'middle', text: rounds.length > 6 ? r.round : `Round ${r.round}` }));
    const ratings = (r.ratings || []).map((p) => p.rating).sort((a, b) => a - b);
    if (!ratings.length) return;
    // The band's edges are the quartiles of the ratings; the figure named is the report's IQR.
    const q1 = percentile(ratings, 0.25);
    const q3 = percentile(ratings, 0.75);
    svg.append(s('rect', { class: 'iqr', x: cx(i) - band / 2, y: y(q3) - 1, width: band, height: Math.max(2, y(q1) - y(q3) + 2) }, s('title', { text: `Round ${r.round}: interquartile range ${figure(r.iqr)}` })));
    if (r.median != null) {
      svg.append(s('line', { class: 'median', x1: cx(i) - band / 2, x2: cx(i) + band / 2, y1: y(r.median), y2: y(r.median) }, s('title', { text: `Round ${r.round}: median ${figure(r.median)}` })));
    }
    // Members with the same rating stand side by side.
    const seen = new Map();
    const counts = new Map();
    for (const p of r.ratings) counts.set(p.rating, (counts.get(p.rating) || 0) + 1);
    for (const p of r.ratings) {
      const k = seen.get(p.rating) || 0;
      seen.set(p.rating, k + 1);
      const spread = Math.min(9, (colW * 0.8) / Math.max(1, counts.get(p.rating)));
      const dx = (k - (counts.get(p.rating) - 1) / 2) * spread;
      const dissents = r.round === dissentRound && dissent.has(p.member_id);
      svg.append(s('circle', { class: dissents ? 'dot dissent' : 'dot', cx: cx(i) + dx, cy: y(p.rating), r: 4.5 }, s('title', { text: `${nameOf(p.member_id)}, round ${r.round}: ${p.rating}${dissents ? ', dissents' : ''}` })));
    }
  });
  return svg;
}
