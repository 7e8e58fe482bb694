// Why an AI member was seated (docs/experts.md, "Selection explains
// itself"): one line on its card, opening to the reasons in full. The basis
// (named in the request, matched the question, or no match: a generalist's
// pick), the question's words found in its profile, the organisation's
// preference, and how many of its domain were seated before it.

import { h } from './dom.js';
import { fmtNum } from './format.js';

/** Terms shown on the line itself; the rest are in the disclosure. */
const TERMS_ON_LINE = 5;

/** 2 → "2nd", 11 → "11th", 23 → "23rd". */
export function ordinal(n) {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : { 1: 'st', 2: 'nd', 3: 'rd' }[n % 10] || 'th';
  return `${n}${suffix}`;
}

const quoted = (terms) => terms.map((t) => `“${t}”`).join(', ');

/**
 * The question's own words for the server's terms, as it wrote them: its
 * tokenizer (src/catalog.rs) lower-cases, joins `510(k)` into `510k` (and
 * keeps `510` and `k`) and drops a plural's `s` (`zoonosis` → `zoonosi`).
 * A term with no such word stays as the server gave it. In the question's order.
 */
export function questionWords(terms, question) {
  const found = new Map();
  const alnum = (w) => w.toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');
  const tidy = (w) => {
    let t = w.replace(/^[-/]+|[-/]+$/g, '');
    if (!t.includes(')')) t = t.replace(/^\(+/, '');
    if (!t.includes('(')) t = t.replace(/\)+$/, '');
    return t;
  };
  const stems = (key) => [key, key.endsWith('s') ? key.slice(0, -1) : null].filter(Boolean);
  for (const raw of String(question || '').split(/[^\p{L}\p{N}()\-/]+/u)) {
    if (!raw) continue;
    const whole = alnum(raw);
    const candidates = [[whole, tidy(raw), null], ...raw.split(/[^\p{L}\p{N}]+/u).filter(Boolean).map((p) => [alnum(p), p, whole])];
    for (const [key, shown, within] of candidates) {
      for (const t of stems(key)) if (!found.has(t)) found.set(t, { shown, within: within && within !== key ? stems(within) : [] });
    }
  }
  const matched = new Set(terms);
  // A part of a word that matched whole (`510` and `k` of `510(k)`) says nothing more.
  const kept = terms.filter((t) => !(found.get(t) && found.get(t).within.some((w) => matched.has(w))));
  // In the question's order (the server's is alphabetical): they read as the question does.
  const order = [...found.keys()];
  const at = (t) => (order.includes(t) ? order.indexOf(t) : order.length);
  const words = kept.sort((a, b) => at(a) - at(b)).map((t) => (found.get(t) ? found.get(t).shown : t));
  return [...new Set(words)];
}

/**
 * The line and its reasons for `selection` ({basis, score, matched_terms,
 * same_domain_before, preferred}); null when there is none (humans, older
 * panels). `own`: the viewer belongs to the panel's organisation (not a
 * shared link); `question`: the panel's, whose words name the matched terms.
 */
export function whyChosen(selection, { own = true, question = '' } = {}) {
  if (!selection || typeof selection !== 'object') return null;
  const org = own ? 'your organisation' : 'its organisation';
  const terms = questionWords(Array.isArray(selection.matched_terms) ? selection.matched_terms.map(String) : [], question);
  const before = Number(selection.same_domain_before) || 0;
  const parts = [];
  const reasons = [];
  if (selection.basis === 'named') {
    parts.push('named when the panel was created');
  } else if (selection.basis === 'fallback') {
    parts.push('no match: a generalist’s pick');
    reasons.push('Nothing in the catalog matched the question’s words, so experts were seated in a generalist’s order of domains.');
  } else {
    const shown = terms.slice(0, TERMS_ON_LINE);
    const more = terms.length - shown.length;
    parts.push(shown.length ? `matched ${quoted(shown)}${more > 0 ? ` and ${more} more` : ''}` : 'matched the question');
    reasons.push(terms.length ? `The question’s words found in their profile: ${quoted(terms)}.` : 'Their profile matched the question.');
    if (selection.score != null) reasons.push(`Relevance ${fmtNum(Number(selection.score), 2)}${selection.preferred ? `, counted 1.5 times because ${org} prefers this expert` : ''}.`);
  }
  if (selection.preferred) {
    parts.push(`preferred by ${org}`);
    if (selection.basis !== 'relevance') reasons.push(`${org.charAt(0).toUpperCase()}${org.slice(1)} prefers this expert.`);
  }
  if (before > 0) {
    parts.push(`${ordinal(before + 1)} from its domain`);
    reasons.push(`${before} expert${before === 1 ? '' : 's'} of the same domain ${before === 1 ? 'was' : 'were'} seated first; each halved their score, so a panel spans domains.`);
  }
  const line = h('span', { class: 'card-why-line' }, h('span', { class: 'card-why-label', text: 'Why chosen: ' }), h('span', { class: 'card-why-text', text: parts.join(' · ') }));
  const data = { basis: String(selection.basis || ''), preferred: String(Boolean(selection.preferred)) };
  if (!reasons.length) return h('p', { class: 'card-why', dataset: data }, line);
  return h('details', { class: 'card-why', dataset: data }, h('summary', {}, line), h('ul', { class: 'card-why-reasons' }, reasons.map((r) => h('li', { text: r }))));
}
