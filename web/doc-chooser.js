// The create form's documents chooser: none (the default), every ready
// document (`documents: "all"`), or a chosen few (`documents: [ids]`).
// Hidden until the tenant turns out to have ready documents.

import { clear, h } from './dom.js';
import { docTypeLabel } from './format.js';
import { api } from './api.js';

const MAX_PAGES = 10;

/**
 * Builds the fieldset (hidden) and starts loading the ready documents.
 * `errorEl` is the form's field error for `documents`. Returns
 * { el, value(), check(), focusTarget() }: value() is what to send (undefined
 * for none), check() a message when the choice cannot be sent as it is.
 */
export function documentsChooser(errorEl) {
  const radio = (value, label, checked = false) => {
    const input = h('input', { type: 'radio', name: 'documents_mode', id: `docs-${value}`, value, checked });
    return { input, el: h('div', { class: 'choice' }, input, h('label', { for: `docs-${value}`, text: label })) };
  };
  const none = radio('none', 'No documents', true);
  const all = radio('all', 'All ready documents');
  const pick = radio('pick', 'Choose documents');
  const list = h('ul', { class: 'expert-results doc-choices', id: 'doc-choices', 'aria-label': 'Ready documents' });
  const pickSummary = h('p', { class: 'help', id: 'doc-picked-summary', 'aria-live': 'polite' });
  const pickBox = h('div', { class: 'pick-box', hidden: true }, list, pickSummary);
  const el = h(
    'fieldset',
    { class: 'field', id: 'f-documents', hidden: true, 'aria-describedby': 'help-documents err-documents' },
    h('legend', { text: 'Documents' }),
    h('p', { class: 'help', id: 'help-documents', text: 'Members are given the passages most relevant to each turn and cite them; the server checks every citation.' }),
    h('div', { class: 'choices inline' }, none.el, all.el, pick.el),
    pickBox,
    errorEl,
  );

  const chosen = () => [...list.querySelectorAll('input[type=checkbox]:checked')].map((cb) => cb.value);
  const sync = () => {
    pickBox.hidden = !pick.input.checked;
    const n = chosen().length;
    pickSummary.textContent = `${n} document${n === 1 ? '' : 's'} chosen.`;
  };
  el.addEventListener('change', sync);

  (async () => {
    const docs = [];
    let cursor = null;
    try {
      for (let page = 0; page < MAX_PAGES; page += 1) {
        const q = new URLSearchParams({ status: 'ready', limit: '100' });
        if (cursor) q.set('cursor', cursor);
        const data = await api('GET', `/v1/documents?${q}`);
        // Filter too: a server that ignored `status` must not offer a document that is still being read.
        docs.push(...(data.items || []).filter((d) => d.status === 'ready'));
        cursor = data.next_cursor || null;
        if (!cursor) break;
      }
    } catch {
      // No library (an older server, a failed request): the form works without documents.
      return;
    }
    if (!docs.length || !el.isConnected) return;
    clear(list);
    for (const d of docs) {
      const id = `doc-pick-${d.id}`;
      list.append(
        h(
          'li',
          { class: 'expert' },
          h('input', { type: 'checkbox', id, value: d.id }),
          h('label', { for: id }, h('span', { class: 'expert-name', text: d.title || d.filename || 'Untitled document' }), h('span', { class: 'expert-title', text: `${docTypeLabel(d)} · ${d.passages ?? 0} passages` })),
        ),
      );
    }
    all.el.querySelector('label').textContent = `All ready documents (${docs.length})`;
    el.hidden = false;
    sync();
  })();

  return {
    el,
    value() {
      if (el.hidden || none.input.checked) return undefined;
      if (all.input.checked) return 'all';
      return chosen();
    },
    check() {
      if (!el.hidden && pick.input.checked && chosen().length === 0) return 'Choose at least one document, or pick “No documents”.';
      return null;
    },
    focusTarget() {
      return pick.input.checked ? list.querySelector('input') || pick.input : none.input;
    },
  };
}
