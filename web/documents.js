// The Documents screen: the tenant's library with its storage, uploading a
// file (with a progress bar) or pasted text, following each new document
// until it is ready or failed, deleting with a confirmation, and search.

import { announcer, appendAll, clear, h, setText } from './dom.js';
import { DOC_STATUS_LABEL, docTypeLabel, fmtBytes, fmtDate } from './format.js';
import { api, upload } from './api.js';
import { session } from './session.js';
import { searchSection } from './doc-search.js';
import { fieldError, mountView, showFieldError } from './view.js';

const ACCEPT = '.pdf,.md,.markdown,.txt,.html,.htm';
const ACCEPTED_EXT = /\.(pdf|md|markdown|txt|html?)$/i;
const POLL_MS = 1000;
const BUSY = new Set(['pending', 'extracting']);

/** Mounts the screen; returns { destroy } so the router stops its polling. */
export function documentsView() {
  const canWrite = session.atLeast('member');
  const rows = new Map();
  const watching = new Set();
  let destroyed = false;
  let pollTimer = 0;
  let cursor = null;

  const storage = h('p', { class: 'doc-storage', id: 'doc-storage' });
  const list = h('ul', { class: 'doc-list', id: 'doc-list', 'aria-labelledby': 'doc-list-h' });
  const listMsg = h('p', { class: 'list-msg', id: 'doc-list-msg', role: 'status' });
  const more = h('button', { type: 'button', class: 'btn', id: 'doc-load-more', text: 'Load more', hidden: true });
  const listHeading = h('h2', { id: 'doc-list-h', tabindex: '-1', text: 'Library' });

  function showStorage(s) {
    clear(storage);
    if (!s) return;
    const docs = s.max_documents ? `${s.documents} of ${s.max_documents} documents` : `${s.documents} document${s.documents === 1 ? '' : 's'}`;
    if (s.limit_bytes) {
      const pct = Math.round((100 * s.used_bytes) / s.limit_bytes);
      appendAll(storage, h('span', { text: 'Storage: ' }), h('meter', { min: 0, max: s.limit_bytes, value: s.used_bytes, high: s.limit_bytes * 0.9, 'aria-label': 'Storage used' }), ` ${fmtBytes(s.used_bytes)} of ${fmtBytes(s.limit_bytes)} used (${pct}%) · ${docs}`);
    } else appendAll(storage, `Storage: ${fmtBytes(s.used_bytes)} used · ${docs}`);
  }

  function showCount() {
    const n = rows.size;
    listMsg.textContent = n === 0 ? 'No documents yet.' : `${n} document${n === 1 ? '' : 's'} shown${cursor ? '; more available' : ''}.`;
  }

  async function load(append) {
    more.disabled = true;
    if (!append) listMsg.textContent = 'Loading documents…';
    const q = new URLSearchParams({ limit: '50' });
    if (append && cursor) q.set('cursor', cursor);
    try {
      const data = await api('GET', `/v1/documents?${q}`);
      if (destroyed) return;
      if (!append) {
        clear(list);
        rows.clear();
        watching.clear();
      }
      const firstNew = list.children.length;
      for (const doc of data.items || []) addRow(doc, false);
      cursor = data.next_cursor || null;
      more.hidden = !cursor;
      showStorage(data.storage);
      showCount();
      if (append && list.children[firstNew]) list.children[firstNew].querySelector('.doc-title').focus();
    } catch (e) {
      if (!destroyed) listMsg.textContent = `Could not load the documents: ${e.message}`;
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener('click', () => load(true));

  /** The storage figures change with every upload and delete; only the list answer carries them. */
  async function refreshStorage() {
    try {
      const data = await api('GET', '/v1/documents?limit=1');
      if (!destroyed) showStorage(data.storage);
    } catch {
      /* the figures stay as they were */
    }
  }

  function addRow(doc, atTop) {
    if (rows.has(doc.id)) {
      rows.get(doc.id).update(doc);
      return;
    }
    const row = docRow(doc, canWrite ? (r) => confirmDelete(r) : null);
    rows.set(doc.id, row);
    if (atTop) list.prepend(row.li);
    else list.append(row.li);
    if (BUSY.has(doc.status)) watch(doc.id);
  }

  /* Following documents while they are read: one request per document per second, never two at once. */
  function watch(id) {
    watching.add(id);
    if (!pollTimer && !destroyed) pollTimer = setTimeout(poll, POLL_MS);
  }

  async function poll() {
    await Promise.all(
      [...watching].map(async (id) => {
        try {
          const doc = await api('GET', `/v1/documents/${encodeURIComponent(id)}`);
          const row = rows.get(id);
          if (destroyed) return;
          if (!row) {
            watching.delete(id);
            return;
          }
          row.update(doc);
          if (BUSY.has(doc.status)) return;
          watching.delete(id);
          announcer.say(doc.status === 'ready' ? `“${doc.title}” is ready: ${doc.passages} passage${doc.passages === 1 ? '' : 's'}.` : `“${doc.title}” could not be read${doc.error ? `: ${doc.error}` : '.'}`);
          refreshStorage();
        } catch (e) {
          // Deleted meanwhile (here or elsewhere): nothing left to follow. Other errors: try again next tick.
          if (e.status === 404) {
            watching.delete(id);
            removeRow(id);
          }
        }
      }),
    );
    pollTimer = 0;
    if (watching.size && !destroyed) pollTimer = setTimeout(poll, POLL_MS);
  }

  function removeRow(id) {
    const row = rows.get(id);
    if (!row) return;
    row.li.remove();
    rows.delete(id);
    watching.delete(id);
    showCount();
  }

  function confirmDelete(row) {
    const doc = row.doc;
    const box = row.confirm;
    clear(box);
    const yes = h('button', { type: 'button', class: 'btn btn-danger btn-small doc-delete-yes', text: 'Yes, delete it' });
    const no = h('button', { type: 'button', class: 'btn btn-small', text: 'Keep it' });
    const msg = h('p', { class: 'doc-delete-msg', role: 'status' });
    appendAll(box, h('p', { text: `Delete “${doc.title}”? Its passages are gone at once; panels that were given them keep their labels.` }), yes, no, msg);
    box.hidden = false;
    yes.focus();
    no.addEventListener('click', () => {
      box.hidden = true;
      row.deleteBtn.focus();
    });
    yes.addEventListener('click', async () => {
      yes.disabled = true;
      no.disabled = true;
      msg.textContent = 'Deleting…';
      try {
        await api('DELETE', `/v1/documents/${encodeURIComponent(doc.id)}`);
      } catch (e) {
        if (e.status !== 404) {
          msg.textContent = `Not deleted: ${e.message}`;
          yes.disabled = false;
          no.disabled = false;
          return;
        }
      }
      removeRow(doc.id);
      announcer.say(`“${doc.title}” was deleted.`);
      listHeading.focus();
      refreshStorage();
    });
  }

  function added(doc) {
    addRow(doc, true);
    showCount();
    refreshStorage();
  }

  mountView(
    'Documents',
    h(
      'section',
      { class: 'documents-view' },
      h('div', { class: 'view-head' }, h('h1', { id: 'documents-h', text: 'Documents' })),
      h('p', { class: 'help', text: 'Panels can deliberate over these documents: each member is given the passages most relevant to its turn and cites them by label, like [D1:p3].' }),
      storage,
      canWrite ? uploadSection(added) : null,
      searchSection(),
      h('section', { class: 'doc-section', 'aria-labelledby': 'doc-list-h' }, h('div', { class: 'view-head' }, listHeading, h('button', { type: 'button', class: 'btn btn-quiet', text: 'Refresh', onclick: () => load(false) })), listMsg, list, more),
    ),
  );
  load(false);
  return {
    destroy() {
      destroyed = true;
      clearTimeout(pollTimer);
      pollTimer = 0;
    },
  };
}

/** One document's row, updated in place as it is read (so focus inside it survives). */
function docRow(doc, onDelete) {
  const title = h('h3', { class: 'doc-title', tabindex: '-1' });
  const badge = h('span', { class: 'badge doc-status' });
  const meta = h('p', { class: 'doc-meta' });
  const bar = h('progress', { class: 'doc-bar', max: 1 });
  const barText = h('span', { class: 'doc-bar-text' });
  const progress = h('p', { class: 'doc-progress', hidden: true }, bar, barText);
  const error = h('p', { class: 'doc-error', hidden: true });
  const confirm = h('div', { class: 'confirm doc-confirm', hidden: true, role: 'group', 'aria-label': 'Confirm deletion' });
  const deleteBtn = onDelete ? h('button', { type: 'button', class: 'btn btn-small btn-danger doc-delete', text: 'Delete' }) : null;
  const li = h('li', { class: 'doc-row' }, h('div', { class: 'doc-main' }, title, meta, progress, error), deleteBtn ? h('div', { class: 'doc-actions' }, deleteBtn) : null, confirm);
  const row = {
    li,
    confirm,
    deleteBtn,
    doc,
    update(d) {
      row.doc = d;
      li.dataset.id = d.id;
      li.dataset.status = d.status;
      setText(title, d.title || d.filename || 'Untitled document');
      badge.dataset.status = d.status;
      setText(badge, DOC_STATUS_LABEL[d.status] || d.status);
      if (deleteBtn) deleteBtn.setAttribute('aria-label', `Delete ${d.title || 'this document'}`);
      const facts = [docTypeLabel(d), fmtBytes(d.bytes)];
      if (d.status === 'ready') facts.push(`${d.passages ?? 0} passage${d.passages === 1 ? '' : 's'}`, d.pages ? `${d.pages} page${d.pages === 1 ? '' : 's'}` : null);
      facts.push(d.created_at ? `added ${fmtDate(d.created_at)}` : null);
      clear(meta);
      appendAll(meta, badge, facts.filter(Boolean).map((f) => h('span', { class: 'meta-item', text: f })));
      const busy = BUSY.has(d.status);
      progress.hidden = !busy;
      if (busy) {
        // Pending has no figure yet: an indeterminate bar.
        if (d.status === 'extracting' && typeof d.progress === 'number') bar.value = Math.max(0, Math.min(1, d.progress));
        else bar.removeAttribute('value');
        const pct = d.status === 'extracting' && typeof d.progress === 'number' ? ` ${Math.round(d.progress * 100)}%` : '';
        bar.setAttribute('aria-label', `Reading ${d.title || 'the document'}`);
        setText(barText, d.status === 'pending' ? 'Waiting to be read…' : `Reading…${pct}`);
      }
      error.hidden = d.status !== 'failed';
      setText(error, d.status === 'failed' ? `Could not be read: ${d.error || 'unknown reason'}` : '');
    },
  };
  if (deleteBtn) deleteBtn.addEventListener('click', () => onDelete(row));
  row.update(doc);
  return row;
}

/** "Add a document": a file with a progress bar, or pasted text. `added(doc)` gets each accepted document. */
function uploadSection(added) {
  const limits = (session.tenant && session.tenant.limits) || {};
  const maxMb = typeof limits.max_document_mb === 'number' ? limits.max_document_mb : null;
  const file = h('input', { type: 'file', id: 'doc-file', name: 'file', accept: ACCEPT, 'aria-describedby': 'doc-file-help err-doc-file' });
  const fileErr = fieldError('err-doc-file');
  const title = h('input', { type: 'text', id: 'doc-title', name: 'title', maxlength: 300, autocomplete: 'off', 'aria-describedby': 'doc-title-help' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'doc-upload', text: 'Upload' });
  const cancel = h('button', { type: 'button', class: 'btn btn-quiet', id: 'doc-upload-cancel', text: 'Cancel upload', hidden: true });
  const bar = h('progress', { id: 'upload-progress', max: 100, value: 0, 'aria-labelledby': 'upload-progress-text' });
  const barText = h('span', { id: 'upload-progress-text', class: 'doc-bar-text' });
  const barBox = h('p', { class: 'doc-progress upload-progress', hidden: true }, bar, barText);
  // Coarse steps only (a quarter at a time): a screen reader should not read every percent.
  const status = h('p', { class: 'upload-status', id: 'upload-status', 'aria-live': 'polite' });
  let current = null;

  const form = h(
    'form',
    { class: 'doc-upload-form', id: 'doc-upload-form', novalidate: true, 'aria-labelledby': 'doc-upload-h' },
    h('div', { class: 'field' }, h('label', { for: 'doc-file', text: 'File' }), file, h('p', { class: 'help', id: 'doc-file-help', text: `PDF, Markdown, plain text or HTML${maxMb ? `, up to ${maxMb} MB` : ''}.` }), fileErr),
    h('div', { class: 'field' }, h('label', { for: 'doc-title', text: 'Title (optional)' }), title, h('p', { class: 'help', id: 'doc-title-help', text: 'Leave it empty to let the server name the document from the file.' })),
    barBox,
    status,
    h('div', { class: 'actions' }, submit, cancel),
  );
  cancel.addEventListener('click', () => current && current.cancel());
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (current) return;
    showFieldError(fileErr, file, null);
    const f = file.files && file.files[0];
    let problem = null;
    if (!f) problem = 'Choose a file first.';
    else if (!ACCEPTED_EXT.test(f.name)) problem = 'Only PDF, Markdown (.md), text (.txt) and HTML files can be read.';
    else if (maxMb && f.size > maxMb * 1024 * 1024) problem = `This file is ${fmtBytes(f.size)}; the limit is ${maxMb} MB.`;
    if (problem) {
      showFieldError(fileErr, file, problem);
      file.focus();
      return;
    }
    const body = new FormData();
    if (title.value.trim()) body.append('title', title.value.trim());
    body.append('file', f, f.name);
    let step = -1;
    const progress = (sent, total) => {
      const frac = total ? sent / total : 0;
      bar.value = Math.round(frac * 100);
      setText(barText, total ? `${Math.round(frac * 100)}% (${fmtBytes(sent)} of ${fmtBytes(total)})` : `${fmtBytes(sent)} sent`);
      const s = Math.floor(frac * 4);
      if (s !== step && s < 4) {
        step = s;
        status.textContent = `Uploading ${f.name}: ${s * 25}%`;
      }
    };
    submit.disabled = true;
    cancel.hidden = false;
    barBox.hidden = false;
    progress(0, f.size);
    current = upload('/v1/documents', body, { onProgress: progress });
    try {
      const doc = await current.promise;
      progress(f.size, f.size);
      status.textContent = `Uploaded ${f.name}; it is being read.`;
      form.reset();
      added(doc);
    } catch (ex) {
      const why = { 413: 'The file is larger than your plan allows.', 415: 'This type of file cannot be read.', 429: 'Your library is full: delete a document first.' }[ex.status];
      status.textContent = ex.code === 'cancelled' ? 'Upload cancelled.' : `Not uploaded: ${why ? `${why} (${ex.message})` : ex.message}`;
      if (ex.code !== 'cancelled') showFieldError(fileErr, file, why || ex.message);
    } finally {
      current = null;
      submit.disabled = false;
      cancel.hidden = true;
      barBox.hidden = true;
    }
  });

  return h('section', { class: 'doc-section doc-add', 'aria-labelledby': 'doc-upload-h' }, h('h2', { id: 'doc-upload-h', text: 'Add a document' }), form, pasteForm(added));
}

/** "Paste text instead": JSON {title, text, format}. */
function pasteForm(added) {
  const title = h('input', { type: 'text', id: 'paste-title', name: 'title', maxlength: 300, autocomplete: 'off', required: true, 'aria-describedby': 'err-paste-title' });
  const format = h('select', { id: 'paste-format', name: 'format' }, [['text', 'Plain text'], ['markdown', 'Markdown'], ['html', 'HTML']].map(([v, t]) => h('option', { value: v, text: t })));
  const text = h('textarea', { id: 'paste-text', name: 'text', rows: 8, required: true, 'aria-describedby': 'err-paste-text' });
  const errs = { title: fieldError('err-paste-title'), text: fieldError('err-paste-text') };
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'paste-submit', text: 'Add the text' });
  const status = h('p', { class: 'upload-status', id: 'paste-status', role: 'status' });
  const form = h(
    'form',
    { class: 'doc-paste-form', novalidate: true },
    h('div', { class: 'grid2' }, h('div', { class: 'field' }, h('label', { for: 'paste-title', text: 'Title' }), title, errs.title), h('div', { class: 'field' }, h('label', { for: 'paste-format', text: 'Format' }), format)),
    h('div', { class: 'field' }, h('label', { for: 'paste-text', text: 'Text' }), text, errs.text),
    status,
    h('div', { class: 'actions' }, submit),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    showFieldError(errs.title, title, title.value.trim() ? null : 'Give the text a title.');
    showFieldError(errs.text, text, text.value.trim() ? null : 'Paste the text first.');
    if (!title.value.trim() || !text.value.trim()) {
      (title.value.trim() ? text : title).focus();
      return;
    }
    submit.disabled = true;
    status.textContent = 'Adding…';
    try {
      const doc = await api('POST', '/v1/documents', { title: title.value.trim(), text: text.value, format: format.value });
      status.textContent = `Added “${doc.title}”; it is being read.`;
      form.reset();
      added(doc);
    } catch (ex) {
      const fields = ex.fields || {};
      if (fields.title) showFieldError(errs.title, title, fields.title);
      if (fields.text) showFieldError(errs.text, text, fields.text);
      status.textContent = `Not added: ${ex.message}`;
    } finally {
      submit.disabled = false;
    }
  });
  return h('details', { class: 'doc-paste', id: 'doc-paste' }, h('summary', { text: 'Or paste text instead' }), form);
}
