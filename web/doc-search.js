// Search over the tenant's ready documents (GET /v1/documents/search): the
// hits best first, with the query's words marked in each passage.

import { clear, h } from './dom.js';
import { passagePlace } from './format.js';
import { api } from './api.js';

const MAX_QUERY = 500;

/** The query's words, lowercased and deduplicated, longest first (so "batteries" wins over "bat"). */
export function queryWords(query) {
  const words = new Set();
  for (const w of String(query).toLowerCase().split(/[^\p{L}\p{N}]+/u)) if (w.length >= 2) words.add(w);
  return [...words].sort((a, b) => b.length - a.length);
}

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * `text` as nodes with every word that starts with a query word in a <mark>
 * ("battery" marks "Battery" and "battery-powered"'s first half). Text nodes
 * only: the passage can never inject markup.
 */
export function highlighted(text, query) {
  const words = queryWords(query);
  if (!words.length || !text) return [document.createTextNode(text || '')];
  // A word start: not preceded by a letter or digit; the rest of the word is marked too.
  const re = new RegExp(`(?<![\\p{L}\\p{N}])(?:${words.map(escapeRe).join('|')})[\\p{L}\\p{N}]*`, 'giu');
  const out = [];
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (m.index > last) out.push(document.createTextNode(text.slice(last, m.index)));
    out.push(h('mark', { text: m[0] }));
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

/** The search section of the Documents screen. */
export function searchSection() {
  const input = h('input', { type: 'search', id: 'doc-search', name: 'q', maxlength: MAX_QUERY, autocomplete: 'off', 'aria-describedby': 'doc-search-help' });
  const button = h('button', { type: 'submit', class: 'btn', id: 'doc-search-submit', text: 'Search' });
  const msg = h('p', { class: 'list-msg', id: 'doc-search-msg', role: 'status' });
  const results = h('ol', { class: 'search-hits', id: 'doc-search-results', 'aria-label': 'Search results' });
  let seq = 0;

  async function run() {
    const q = input.value.trim();
    const mine = ++seq;
    clear(results);
    if (!q) {
      msg.textContent = 'Type a word or a phrase to search for.';
      input.focus();
      return;
    }
    msg.textContent = 'Searching…';
    button.disabled = true;
    try {
      const data = await api('GET', `/v1/documents/search?${new URLSearchParams({ q, limit: '10' })}`);
      if (mine !== seq) return; // a newer search is under way
      const hits = (data && data.items) || [];
      for (const hit of hits) results.append(hitItem(hit, q));
      msg.textContent = hits.length ? `${hits.length} passage${hits.length === 1 ? '' : 's'} found, best first.` : 'No passage matches. Only documents that are ready are searched.';
    } catch (e) {
      if (mine === seq) msg.textContent = `Could not search: ${e.message}`;
    } finally {
      if (mine === seq) button.disabled = false;
    }
  }

  const form = h(
    'form',
    { class: 'doc-search-form', role: 'search', novalidate: true, 'aria-label': 'Search the documents' },
    h('label', { for: 'doc-search', text: 'Words to find' }),
    h('div', { class: 'inline-row' }, input, button),
    h('p', { class: 'help', id: 'doc-search-help', text: 'Searches the passages of every ready document.' }),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    run();
  });
  return h('section', { class: 'doc-section', 'aria-labelledby': 'doc-search-h' }, h('h2', { id: 'doc-search-h', text: 'Search' }), form, msg, results);
}

function hitItem(hit, q) {
  const p = hit.passage || {};
  const place = [passagePlace(p), p.n != null ? `passage ${p.n}` : null].filter(Boolean).join(' · ');
  return h(
    'li',
    { class: 'search-hit', dataset: { document: hit.document_id || p.document_id || '', n: p.n ?? '' } },
    h('p', { class: 'hit-head' }, h('strong', { class: 'hit-title', text: hit.title || 'Untitled document' }), place ? h('span', { class: 'hit-place', text: place }) : null),
    h('blockquote', { class: 'hit-text' }, highlighted(p.text || '', q)),
  );
}
