// Grounded panels in the live view: citation labels in a turn's text made
// into buttons that open the cited passage, the evidence line under a turn,
// the recommendation's sources, and the one passage dialog they all open.
//
// A label becomes a button only when the server checked it (the turn's
// `citations`, `valid: true`): the text itself is never trusted to say what
// a member was given. Every piece of text goes in with textContent, and the
// turn's textContent stays exactly its text (the e2e tests compare it).

import { clear, h, setText, uid } from './dom.js';
import { passagePlace } from './format.js';
import { api } from './api.js';
import { session } from './session.js';

// What the server counts as a citation (actors/src/evidence.rs, cited_labels):
// a `D<n>:p<m>` token (either case, spaces allowed after the colon) inside
// square brackets or parentheses closed within 120 characters, so `[D1:p3]`,
// `[D1:p3, D2:p5]`, `(see D1:p3)`; normalised to `D1:p3` for the look-up.
const GROUP_WINDOW = 120;
const CITE_TOKEN_RE = /(?<![A-Za-z0-9])[Dd](\d{1,4}): *[Pp](\d{1,6})(?![A-Za-z0-9])/g;
const UNVERIFIED_TITLE = 'not among the passages this member was given';

/** The bracket groups of `text` as the server finds them: [{ start, end }] (end exclusive, brackets included). */
function citationGroups(text) {
  const groups = [];
  let i = 0;
  for (;;) {
    const a = text.indexOf('[', i);
    const b = text.indexOf('(', i);
    const open = a < 0 ? b : b < 0 ? a : Math.min(a, b);
    if (open < 0) return groups;
    const closer = text[open] === '[' ? ']' : ')';
    const windowText = [...text.slice(open + 1, open + 1 + 2 * GROUP_WINDOW)].slice(0, GROUP_WINDOW).join('');
    const close = windowText.indexOf(closer);
    if (close < 0) {
      i = open + 1;
      continue;
    }
    groups.push({ start: open, end: open + 1 + close + 1 });
    i = open + 1 + close + 1;
  }
}

/**
 * The nodes of `text` with its citation labels: a button for each label the
 * server found valid, an "unverified" mark for each it did not. `citations`
 * null (a turn of a panel without documents, or from an older server): the
 * text as it is. `titleOf(documentId)` names the document in the dialog.
 */
export function citedNodes(text, citations, titleOf = () => undefined) {
  if (!Array.isArray(citations) || !citations.length || !text) return [text || ''];
  const byLabel = new Map();
  // The server lists each label once; should it ever list one twice, a valid entry wins.
  for (const c of citations) if (c && c.label && (!byLabel.has(c.label) || c.valid)) byLabel.set(c.label, c);
  const out = [];
  let last = 0;
  for (const { start, end } of citationGroups(text)) {
    const group = text.slice(start, end);
    const parts = [];
    let pos = 0;
    for (const m of group.matchAll(CITE_TOKEN_RE)) {
      const label = `D${Number(m[1])}:p${Number(m[2])}`;
      parts.push(group.slice(pos, m.index), labelNode(m[0], label, byLabel.get(label), titleOf));
      pos = m.index + m[0].length;
    }
    if (!parts.length) continue; // brackets without a label: plain text
    parts.push(group.slice(pos));
    out.push(text.slice(last, start));
    // A short group stays on one line: no lone "[" at a line's end (a long one may still wrap).
    out.push(h('span', { class: group.length <= 42 ? 'cite-group' : null }, parts.filter((x) => x !== '')));
    last = end;
  }
  out.push(text.slice(last));
  return out.filter((x) => x !== '');
}

/** `written`: the token as the text has it; `label`: normalised, as the server lists it. */
function labelNode(written, label, cite, titleOf) {
  if (cite && cite.valid && cite.document_id) {
    const place = passagePlace(cite);
    const title = titleOf(cite.document_id);
    return h('button', {
      type: 'button',
      class: 'cite-link',
      'aria-haspopup': 'dialog',
      // The visible name stays the label; the accessible description says where it points.
      title: [title, place].filter(Boolean).join(' · ') || undefined,
      dataset: { document: cite.document_id, n: cite.n, label },
      text: written,
      onclick: (e) => openPassage({ documentId: cite.document_id, n: cite.n, label, title, page: cite.page, heading: cite.heading }, e.currentTarget),
    });
  }
  if (cite) return h('span', { class: 'cite-unverified', title: UNVERIFIED_TITLE, dataset: { label }, text: written });
  return written;
}

/**
 * A recommendation's text with the labels of its sources as buttons: the
 * server lists in `sources` the passages it rests on, so a label found there
 * is a real passage; any other label stays plain text (a draft's citations
 * are not checked one by one).
 */
export function recommendationNodes(text, sources) {
  if (!Array.isArray(sources) || !sources.length) return [text || ''];
  const cites = sources.filter((s) => s.document_id).map((s) => ({ ...s, valid: true }));
  const titles = new Map(sources.map((s) => [s.document_id, s.title]));
  // Every entry is valid, so a label not among them comes back as plain text, never marked.
  return citedNodes(text, cites, (id) => titles.get(id));
}

const filled = new WeakMap();

/**
 * Sets `el`'s content to `text` with its citations, redrawing only when
 * `key` (the turn's seq) changes, so a card patched on every animation frame
 * keeps its buttons (and their focus).
 */
export function fillCitedText(el, text, citations, key, titleOf) {
  if (!Array.isArray(citations) || !citations.length) {
    if (filled.has(el)) {
      filled.delete(el);
      clear(el);
    }
    setText(el, text);
    return;
  }
  const sig = `${key}|${text.length}`;
  if (filled.get(el) === sig) return;
  filled.set(el, sig);
  clear(el).append(...citedNodes(text, citations, titleOf).map((n) => (n instanceof Node ? n : document.createTextNode(n))));
}

/** "evidence: 3 passages, 2810/3000 chars" (and why none, when retrieval failed), or null for a turn of a panel without documents. */
export function evidenceLine(evidence) {
  if (!evidence || !Array.isArray(evidence.passages)) return null;
  const n = evidence.passages.length;
  return h('p', {
    class: 'turn-evidence',
    dataset: evidence.error ? { failed: 'true' } : undefined,
    title: n ? `Given: ${evidence.passages.join(', ')}` : undefined,
    text: `evidence: ${n} passage${n === 1 ? '' : 's'}, ${evidence.chars ?? 0}${evidence.budget != null ? `/${evidence.budget}` : ''} chars${evidence.error ? ` (none could be given: ${evidence.error})` : ''}`,
  });
}

/** The "Sources" list under a recommendation: each source opens its passage. */
export function sourcesList(sources) {
  if (!Array.isArray(sources) || !sources.length) return null;
  const hId = uid('sources-h');
  return h(
    'div',
    { class: 'sources', id: 'sources', role: 'group', 'aria-labelledby': hId },
    h('h3', { id: hId, text: 'Sources' }),
    h(
      'ol',
      { class: 'source-list' },
      sources.map((s) => {
        const place = passagePlace(s);
        return h(
          'li',
          { class: 'source', dataset: { label: s.label, document: s.document_id || '', n: s.n ?? '' } },
          s.document_id
            ? h('button', {
                type: 'button',
                class: 'cite-link',
                'aria-haspopup': 'dialog',
                dataset: { document: s.document_id, n: s.n, label: s.label },
                text: s.label,
                onclick: (e) => openPassage({ documentId: s.document_id, n: s.n, label: s.label, title: s.title, page: s.page, heading: s.heading }, e.currentTarget),
              })
            : h('span', { class: 'source-label', text: s.label }),
          ' ',
          h('span', { class: 'source-title', text: s.title || 'Untitled document' }),
          place ? h('span', { class: 'source-place', text: ` · ${place}` }) : null,
          s.cited != null ? h('span', { class: 'source-cited', text: ` · cited ${s.cited}×` }) : null,
        );
      }),
    ),
  );
}

/* ---- The passage dialog (one per page, built on first use) ---- */

const passageCache = new Map();
let dialog = null;
let opener = null;
let openSeq = 0;

function buildDialog() {
  const title = h('h2', { id: 'passage-title', class: 'passage-title' });
  const place = h('p', { class: 'passage-place', id: 'passage-place' });
  const status = h('p', { class: 'passage-status', role: 'status' });
  const text = h('blockquote', { class: 'passage-text', id: 'passage-text' });
  const close = h('button', { type: 'button', class: 'btn btn-small', text: 'Close', onclick: () => el.close() });
  const el = h('dialog', { class: 'passage-dialog', id: 'passage-dialog', 'aria-labelledby': 'passage-title', 'aria-describedby': 'passage-place' }, h('div', { class: 'passage-head' }, title, close), place, status, text);
  // A click on the backdrop (outside the dialog's box) closes it, as Escape does.
  el.addEventListener('click', (e) => {
    if (e.target !== el) return;
    const r = el.getBoundingClientRect();
    if (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom) el.close();
  });
  el.addEventListener('close', () => {
    openSeq += 1;
    if (opener && opener.isConnected) opener.focus();
    opener = null;
  });
  // Another screen (the back button, a link elsewhere) takes the dialog away with the view it belonged to.
  window.addEventListener('hashchange', () => el.open && el.close());
  document.body.append(el);
  return { el, title, place, status, text };
}

/**
 * Opens passage `n` of document `documentId` in the dialog; focus returns to
 * `from` when it closes. `title`, `page`, `heading` show at once; the
 * passage's own page and heading replace them when it arrives.
 */
export async function openPassage({ documentId, n, label, title, page, heading }, from) {
  if (!dialog || !dialog.el.isConnected) dialog = buildDialog();
  const d = dialog;
  const seq = ++openSeq;
  opener = from || document.activeElement;
  setText(d.title, title || label || 'Passage');
  const showPlace = (p) => setText(d.place, [label, passagePlace(p), p.n != null ? `passage ${p.n}` : null].filter(Boolean).join(' · '));
  showPlace({ page, heading, n });
  setText(d.text, '');
  d.text.hidden = true;
  d.status.hidden = false;
  setText(d.status, 'Loading the passage…');
  if (!d.el.open) d.el.showModal();
  // A shared link opens one panel, never the organisation's documents: not
  // even in a tab signed in to some organisation (its key is not for this).
  if (!session.key || document.body.dataset.mode === 'shared') {
    setText(d.status, 'The passage itself is shown only to people signed in to the organisation that ran this panel.');
    return;
  }
  const key = `${documentId}:${n}`;
  try {
    let passage = passageCache.get(key);
    if (!passage) {
      passage = await api('GET', `/v1/documents/${encodeURIComponent(documentId)}/passages/${encodeURIComponent(n)}`);
      passageCache.set(key, passage);
    }
    if (seq !== openSeq) return; // closed, or another passage opened meanwhile
    showPlace(passage);
    setText(d.text, passage.text);
    d.text.hidden = false;
    d.status.hidden = true;
    setText(d.status, '');
  } catch (e) {
    if (seq !== openSeq) return;
    setText(d.status, e.status === 404 ? 'This passage is no longer available: its document was deleted.' : `Could not load the passage: ${e.message}`);
  }
}
