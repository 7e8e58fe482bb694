// What every view shares: mounting a view into the page, field errors, and
// the not-found view.

import { appendAll, clear, h } from './dom.js';
import { session } from './session.js';
import { app } from './state.js';

const viewRoot = () => document.getElementById('view');

/** Replaces the page's view and moves focus to its heading so screen readers announce the change. */
export function mountView(title, ...children) {
  const root = clear(viewRoot());
  appendAll(root, ...children);
  document.title = title ? `${title} · ${(session.tenant && session.tenant.branding && session.tenant.branding.display_name) || 'askpanel'}` : 'askpanel';
  const heading = root.querySelector('h1');
  if (heading) {
    heading.setAttribute('tabindex', '-1');
    // Not on the first load: the skip link and navigation come first there.
    if (app.routed > 1) heading.focus({ preventScroll: false });
  }
}

export function fieldError(id) {
  return h('p', { class: 'field-error', id, hidden: true });
}

export function showFieldError(el, input, message) {
  if (message) {
    el.textContent = message;
    el.hidden = false;
    if (input) input.setAttribute('aria-invalid', 'true');
  } else {
    el.textContent = '';
    el.hidden = true;
    if (input) input.removeAttribute('aria-invalid');
  }
}

export function notFoundView(title = 'Not found', text = 'There is nothing at this address.') {
  mountView(title, h('section', { class: 'not-found', id: 'not-found' }, h('h1', { text: title }), h('p', { text }), h('p', {}, h('a', { href: '#/panels', text: 'Back to the panels' }))));
}
