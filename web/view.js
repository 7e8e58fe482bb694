// What every view shares: mounting a view into the page, field errors, a
// new password with its confirmation, and the not-found and admins-only views.

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

/** For a screen only admins may use: the server refuses the rest anyway (403). */
export function adminsOnlyView(title) {
  mountView(title, h('section', { class: 'not-found', id: 'admins-only' }, h('h1', { text: `${title}: admins only` }), h('p', { text: 'Only an admin of your organisation can open this screen. Ask one if you need something changed.' }), h('p', {}, h('a', { href: '#/panels', text: 'Back to the panels' }))));
}

export const PASSWORD_RULES = 'At least 10 characters, with at least 4 different ones, and not your email address.';

/** A new password and its confirmation (ids `${prefix}-password`, `${prefix}-confirm`), with the rules and each one's error line. */
export function passwordPair(prefix, label = 'Password') {
  const make = (id, describedBy) => h('input', { type: 'password', id, name: id, autocomplete: 'new-password', required: true, 'aria-describedby': describedBy });
  const pw = make(`${prefix}-password`, `${prefix}-rules ${prefix}-password-err`);
  const confirm = make(`${prefix}-confirm`, `${prefix}-confirm-err`);
  const pwErr = fieldError(`${prefix}-password-err`);
  const confirmErr = fieldError(`${prefix}-confirm-err`);
  const el = [
    h('div', { class: 'field' }, h('label', { for: pw.id, text: label }), pw, h('p', { class: 'help', id: `${prefix}-rules`, text: PASSWORD_RULES }), pwErr),
    h('div', { class: 'field' }, h('label', { for: confirm.id, text: `Type the ${label.toLowerCase()} again` }), confirm, confirmErr),
  ];
  return {
    el,
    input: pw,
    /** The password, or null after showing what is wrong (with the focus on that field). */
    check() {
      showFieldError(pwErr, pw, pw.value ? null : 'Choose a password.');
      showFieldError(confirmErr, confirm, pw.value && confirm.value !== pw.value ? 'The two passwords are not the same.' : null);
      if (!pw.value) pw.focus();
      else if (confirm.value !== pw.value) confirm.focus();
      else return pw.value;
      return null;
    },
    /** The server's word on the password (a 422's fields). */
    refuse(message) {
      showFieldError(pwErr, pw, message);
      confirm.value = '';
      pw.focus();
    },
    clear() {
      pw.value = '';
      confirm.value = '';
      showFieldError(pwErr, pw, null);
      showFieldError(confirmErr, confirm, null);
    },
  };
}
