// The live panel's outcome section: the draft or final recommendation and
// the sources it rests on, the Delphi facilitator's feedback, agreement,
// dissent, verdict and ideas.

import { appendAll, h } from './dom.js';
import { recommendationNodes, sourcesList } from './citations.js';
import { DECISION_LABEL, LEVEL_LABEL, METHOD_LABEL, TERMINAL, fmtNum } from './format.js';

/** Fills the (cleared) outcome section `el` from the model. */
export function renderOutcomeInto(el, model) {
  const p = model.panel;
  const c = p.consensus;
  const final = p.recommendation != null;
  el.append(h('h2', { id: 'outcome-h', text: final ? 'Final recommendation' : 'Recommendation' }));
  if (final) {
    el.append(h('div', { class: 'recommendation final', id: 'recommendation' }, h('p', {}, recommendationNodes(p.recommendation, p.sources))));
    const sources = sourcesList(p.sources);
    if (sources) el.append(sources);
    if (model.completionReason) el.append(h('p', { class: 'help', text: `The panel ended: ${DECISION_LABEL[model.completionReason] || model.completionReason}.` }));
  } else if (p.draft) {
    el.append(h('div', { class: 'recommendation draft', id: 'draft' }, h('p', { class: 'draft-label', text: `Draft${model.draftRound ? ` after round ${model.draftRound}` : ''}, still under discussion` }), h('p', {}, recommendationNodes(p.draft, p.sources))));
    const sources = sourcesList(p.sources);
    if (sources) el.append(sources);
    if (p.feedback) el.append(renderFeedback(p.feedback));
  } else if (TERMINAL.has(p.status)) {
    el.append(h('p', { class: 'help', text: 'This panel ended without a recommendation.' }));
  } else {
    el.append(h('p', { class: 'help', text: 'The first draft comes after round 1.' }));
  }
  if (c) {
    const pct = Math.round((c.agreement || 0) * 100);
    el.append(
      h('h3', { text: 'Agreement' }),
      h(
        'dl',
        { class: 'consensus', id: 'consensus' },
        h('dt', { text: 'Level' }),
        h('dd', {}, h('span', { class: 'level', dataset: { level: c.level }, text: LEVEL_LABEL[c.level] || c.level }), ` (round ${c.round})`),
        h('dt', { text: 'Agreement' }),
        h('dd', {}, h('meter', { min: 0, max: 1, value: c.agreement || 0, 'aria-label': 'Agreement' }), ` ${pct}%`),
        h('dt', { text: 'Median rating' }),
        h('dd', { text: `${fmtNum(c.median)} of 9 (IQR ${fmtNum(c.iqr)}, n = ${c.n})` }),
        h('dt', { text: 'Method' }),
        h('dd', { text: METHOD_LABEL[c.method] || c.method }),
      ),
    );
    const dissent = c.dissent || [];
    el.append(h('h3', { text: 'Dissenting members' }));
    // Dissent is the other side of the scale from the panel's position (none when it took no side).
    if (dissent.length) el.append(h('ul', { class: 'dissent', id: 'dissent' }, dissent.map((id) => h('li', { text: model.memberName(id) }))));
    else el.append(h('p', { class: 'help', id: 'dissent', text: c.level === 'uncertain' ? 'None: the panel took no side, so nobody is on the other side of it.' : 'None: nobody rated on the other side of the panel’s position.' }));
  }
  if (p.verdict) appendAll(el, verdictNodes(p.verdict));
  if (p.ideas && p.ideas.length) appendAll(el, ideasNodes(p.ideas));
}

/** Adversarial panels: the judge's verdict (a heading and its lines). */
export function verdictNodes(v) {
  return [
    h('h3', { text: 'Verdict' }),
    h('p', { class: 'verdict', id: 'verdict' }, h('strong', { text: v.winner === 'tie' ? 'A tie' : `${v.winner === 'pro' ? 'Pro' : 'Con'} team wins` }), ` · pro ${fmtNum(v.pro_score)}, con ${fmtNum(v.con_score)}, margin ${fmtNum(v.margin)} of 10`),
    v.rationale ? h('p', { text: v.rationale }) : null,
  ];
}

/** Open panels: the ideas collected (a heading and the list). */
export function ideasNodes(ideas) {
  return [h('h3', { text: `Ideas collected (${ideas.length})` }), h('ul', { class: 'ideas' }, ideas.map((i) => h('li', { text: i })))];
}

/** Delphi: the facilitator's synthesis of a round's anonymous rationales, as members see it. */
function renderFeedback(f) {
  const list = (title, items) => (items && items.length ? [h('p', { class: 'draft-label', text: title }), h('ul', {}, items.map((a) => h('li', { text: a })))] : []);
  return h(
    'div',
    { class: 'recommendation draft', id: 'feedback' },
    h('p', { class: 'draft-label', text: `Facilitator’s synthesis of the ${f.rationales} anonymous rationales of round ${f.round}` }),
    ...list('Arguments for', f.arguments_for),
    ...list('Arguments against', f.arguments_against),
    ...list('Open questions', f.open_questions),
    f.condensed ? h('p', { class: 'help', text: `${f.condensed} similar or overlong arguments were merged or shortened.` }) : null,
  );
}
