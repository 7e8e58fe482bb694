// The panel's rounds: each round's phase, outcome, figures, ratings chart and
// transcript, appended in seq order and never redrawn. Open while a panel
// runs; a panel opened after it finished shows them collapsed under its
// summary (the print stylesheet opens them again).

import { appendAll, clear, h, setText } from './dom.js';
import { DECISION_LABEL, LEVEL_LABEL, PHASE_LABEL, TERMINAL, fmtNum } from './format.js';
import { ratingsChart } from './chart.js';
import { citedNodes, evidenceLine } from './citations.js';

export class Timeline {
  /** `titleOf(documentId)` names a cited document. */
  constructor(titleOf) {
    this.titleOf = titleOf;
    this.roundEls = new Map();
    this.list = h('ol', { class: 'rounds', id: 'rounds' });
    this.empty = h('p', { class: 'help', id: 'rounds-empty', text: 'The first round has not started.' });
    this.heading = h('h2', { id: 'rounds-h', class: 'inline-h', text: 'Rounds' });
    this.details = h('details', { class: 'timeline-details', id: 'rounds-details', open: true }, h('summary', {}, this.heading), this.empty, this.list);
    this.el = h('section', { class: 'timeline', 'aria-labelledby': 'rounds-h' }, this.details);
  }

  /** A finished panel keeps its rounds and transcript one click away, below the summary. */
  collapse() {
    this.details.open = false;
    setText(this.heading, 'Rounds and full transcript');
  }

  update(model) {
    const p = model.panel;
    this.empty.hidden = p.rounds.length > 0;
    for (const r of p.rounds) {
      let el = this.roundEls.get(r.round);
      if (!el) {
        el = this.buildRound(r);
        this.roundEls.set(r.round, el);
        this.list.append(el.li);
      }
      this.updateRound(model, r, el);
    }
  }

  buildRound(r) {
    const hId = `round-h-${r.round}`;
    const meta = h('p', { class: 'round-meta' });
    const chart = h('div', { class: 'round-chart' });
    const transcript = h('ol', { class: 'transcript', dataset: { round: r.round } });
    const summary = h('summary', { text: 'Transcript' });
    const details = h('details', { open: true }, summary, transcript);
    const li = h('li', { class: 'round', dataset: { round: r.round }, 'aria-labelledby': hId }, h('h3', { id: hId, text: `Round ${r.round} · ${PHASE_LABEL[r.phase] || r.phase}` }), meta, chart, details);
    return { li, meta, chart, transcript, summary, entries: 0, sig: null };
  }

  updateRound(model, r, el) {
    const p = model.panel;
    const c = model.roundConsensus.get(r.round);
    const sig = [r.turns.length, r.skipped.length, r.decision, r.stats && r.stats.median, c && c.level, p.status].join('|');
    if (sig === el.sig) return;
    el.sig = sig;
    // Transcript entries are appended in seq order and never redrawn: nothing shown twice.
    const entries = [...r.turns.map((t) => ({ ...t, kind: 'turn' })), ...r.skipped.map((x) => ({ ...x, kind: 'skip' }))].sort((a, b) => (a.seq || 0) - (b.seq || 0));
    for (const e of entries.slice(el.entries)) {
      const m = model.members.get(e.member_id);
      const name = model.memberName(e.member_id);
      if (e.kind === 'turn') {
        el.transcript.append(
          h(
            'li',
            { class: 'turn', dataset: { seq: e.seq, member: e.member_id } },
            h('p', { class: 'turn-head' }, h('strong', { text: name }), m && m.kind === 'human' ? h('span', { class: 'tag human', text: 'Human' }) : m && m.model === 'simulated' ? h('span', { class: 'tag sim', text: 'Simulated' }) : null, e.rating != null ? h('span', { class: 'turn-rating', text: `Rating ${e.rating}/9${e.confidence != null ? `, confidence ${fmtNum(e.confidence, 2)}` : ''}` }) : null, e.flags && e.flags.includes('invented_citation') ? h('span', { class: 'tag warn', text: 'Unverified citation' }) : null),
            h('p', { class: 'turn-text' }, citedNodes(e.text, e.citations, this.titleOf)),
            evidenceLine(e.evidence),
          ),
        );
      } else {
        el.transcript.append(h('li', { class: 'turn skipped', dataset: { seq: e.seq || '', member: e.member_id } }, h('p', { class: 'turn-head' }, h('strong', { text: name }), ` — turn skipped (${String(e.reason).replace(/_/g, ' ')})`)));
      }
    }
    el.entries = entries.length;
    setText(el.summary, `Transcript (${r.turns.length} turn${r.turns.length === 1 ? '' : 's'}${r.skipped.length ? `, ${r.skipped.length} skipped` : ''})`);

    clear(el.meta);
    const parts = [];
    if (r.decision) parts.push(h('span', { class: 'meta-item', text: `Outcome: ${DECISION_LABEL[r.decision] || r.decision}` }));
    else if (r === model.currentRound() && !TERMINAL.has(p.status)) parts.push(h('span', { class: 'meta-item', text: 'In progress' }));
    if (r.stats) parts.push(h('span', { class: 'meta-item', text: `Median ${fmtNum(r.stats.median)}, IQR ${fmtNum(r.stats.iqr)}, n = ${r.stats.n}` }));
    if (c) parts.push(h('span', { class: 'meta-item' }, 'Consensus level: ', h('span', { class: 'level', dataset: { level: c.level }, text: LEVEL_LABEL[c.level] || c.level }), ` (${Math.round(c.agreement * 100)}% agreement)`));
    appendAll(el.meta, parts);

    const rated = r.turns.filter((t) => t.rating != null).map((t) => ({ memberId: t.member_id, name: model.memberName(t.member_id), rating: t.rating, confidence: t.confidence }));
    clear(el.chart);
    if (rated.length) {
      const dissent = new Set((c && c.dissent) || []);
      const title = `Ratings in round ${r.round}: ${rated.length} member${rated.length === 1 ? '' : 's'}${r.stats ? `, median ${fmtNum(r.stats.median)}, IQR ${fmtNum(r.stats.iqr)}` : ''}`;
      const { svg, q1, q3, median } = ratingsChart({ ratings: rated, stats: r.stats, dissent, title });
      el.chart.append(
        h(
          'figure',
          { class: 'chart-figure' },
          svg,
          h('figcaption', {}, `Dots: each member’s rating on 1–9 (outlined: dissent). Band: interquartile range ${fmtNum(q1)}–${fmtNum(q3)}. Line: median ${fmtNum(median)}.`),
        ),
      );
    }
  }
}
