// DOM helpers: building elements (HTML and SVG), replacing text, page-unique
// ids, and the page's one polite live region. No imports.
//
// Text from the server is only ever put into the page with textContent:
// never innerHTML, so panel text cannot inject markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Builds an element. `props`: class, text, attrs via plain keys, on* handlers, dataset. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  applyProps(el, props);
  appendAll(el, ...children);
  return el;
}

/** Builds an SVG element (attributes only: the CSP forbids inline style attributes). */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') el.textContent = String(v);
    else el.setAttribute(k, String(v));
  }
  appendAll(el, ...children);
  return el;
}

function applyProps(el, props) {
  if (!props) return;
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked' || k === 'disabled' || k === 'hidden' || k === 'selected' || k === 'open') el[k] = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

export function appendAll(el, ...children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function setText(el, text) {
  const t = text == null ? '' : String(text);
  if (el.textContent !== t) el.textContent = t;
}

let idCounter = 0;
/** A page-unique id for label/aria wiring. */
export function uid(prefix) {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/** One polite live region for the whole page: short status sentences only, never streamed text. */
export const announcer = {
  el: null,
  last: '',
  say(text) {
    this.el = this.el || document.getElementById('announcer');
    if (!this.el || !text) return;
    // Re-announcing the same sentence needs a change in the node's text.
    this.el.textContent = text === this.last ? `${text}\u00a0` : text;
    this.last = text;
  },
};

/**
 * A read-only field holding a secret or a link shown once, with a Copy
 * button and a status line: `{ input, copy, copyMsg }`. `id` names the
 * input, `base` (default `id`) the others (`${base}-copy`,
 * `${base}-copy-msg`); `noun` is what is copied ("key", "link"), for the
 * fallback message.
 */
export function copyField({ id, base = id, value, noun, button, describedBy, secret = true }) {
  const attrs = { type: 'text', id, readonly: true, value, 'aria-describedby': describedBy };
  if (secret) Object.assign(attrs, { spellcheck: 'false', autocomplete: 'off' });
  const input = h('input', attrs);
  const copyMsg = h('p', { class: 'help', id: `${base}-copy-msg`, role: 'status' });
  const copy = h('button', {
    type: 'button',
    class: 'btn',
    id: `${base}-copy`,
    text: button,
    onclick: async () => {
      input.select();
      try {
        await navigator.clipboard.writeText(input.value);
        copyMsg.textContent = 'Copied.';
      } catch {
        copyMsg.textContent = `The ${noun} is selected: copy it with Ctrl+C (⌘C on a Mac).`;
      }
    },
  });
  return { input, copy, copyMsg };
}
