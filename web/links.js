// One-time links (docs/accounts.md): #/invitation?token=... lets an invited
// person choose their name and password and signs them in; #/reset?token=...
// sets a new password and leads back to sign-in. The token leaves the
// address (and the history) as soon as it is read, and lives in this module
// only: a reload asks for the link again rather than keeping it anywhere.

import { announcer, h } from './dom.js';
import { ROLE_LABEL, fmtDate } from './format.js';
import { api } from './api.js';
import { session } from './session.js';
import { app } from './state.js';
import { rememberTenant, signInView } from './sign-in.js';
import { mountView, passwordPair } from './view.js';

export const LINK_PATHS = { '/invitation': 'invitation', '/reset': 'reset' };

// The token read from the address, per kind, until it is used.
const tokens = { invitation: null, reset: null };

/** Keeps the link's token from `params` and takes it out of the address bar and history. */
export function takeLinkToken(kind, params) {
  const token = (params.get('token') || '').trim();
  if (!token) return;
  tokens[kind] = token;
  history.replaceState(null, '', `${location.pathname}${location.search}#/${kind}`);
}

function linkGoneView(kind) {
  mountView(
    'Link not valid',
    h(
      'section',
      { class: 'not-found link-gone', id: 'link-gone', dataset: { kind } },
      h('h1', { text: 'This link no longer works' }),
      h('p', { text: `It was used already, revoked or has expired${kind === 'reset' ? ' (a reset link lasts an hour)' : ''}.` }),
      h('p', { class: 'help', text: kind === 'invitation' ? 'Ask an admin of your organisation to invite you again.' : 'Ask for a new link from the sign-in page, or ask an admin of your organisation for one.' }),
      h('p', {}, h('a', { href: '#/', text: 'Go to sign-in' })),
    ),
  );
}

/** Mounts the view of a one-time link of `kind`: inspects it, then offers its form. */
export async function linkView(kind) {
  const token = tokens[kind];
  if (!token) {
    linkGoneView(kind);
    return;
  }
  mountView('Checking the link', h('section', { class: 'link-view' }, h('h1', { text: 'Checking the link…' }), h('p', { class: 'loading', role: 'status', text: 'One moment.' })));
  let info;
  try {
    info = await api('POST', '/v1/auth/links/inspect', { token }, { key: null });
  } catch (e) {
    if (e.status === 404 || e.status === 422) {
      tokens[kind] = null;
      linkGoneView(kind);
    } else mountView('Error', h('section', {}, h('h1', { text: 'The link could not be checked' }), h('p', { text: e.message }), h('button', { type: 'button', class: 'btn', text: 'Try again', onclick: () => linkView(kind) })));
    return;
  }
  // The link may be of the other kind than the address says: the server knows.
  if (info.kind === 'invitation') invitationForm(token, info);
  else resetForm(token, info);
}

function linkFacts(info) {
  return h(
    'dl',
    { class: 'link-facts', id: 'link-facts' },
    h('dt', { text: 'Organisation' }),
    h('dd', { text: info.tenant.name }),
    h('dt', { text: 'Email' }),
    h('dd', { id: 'link-email', text: info.email }),
    info.kind === 'invitation' ? [h('dt', { text: 'Role' }), h('dd', { text: ROLE_LABEL[info.role] || info.role })] : null,
    h('dt', { text: 'Link valid until' }),
    h('dd', { text: fmtDate(info.expires_at) }),
  );
}

function failure(problem, e, pair, kind, token) {
  if (e.status === 422 && e.fields.password) {
    pair.refuse(`The password ${e.fields.password}.`);
    return;
  }
  if (e.status === 404) {
    if (tokens[kind] === token) tokens[kind] = null;
    linkGoneView(kind);
    return;
  }
  problem.textContent = e.message;
  problem.hidden = false;
}

function invitationForm(token, info) {
  const name = h('input', { type: 'text', id: 'join-name', name: 'name', autocomplete: 'name', maxlength: 100, value: info.name || '', 'aria-describedby': 'join-name-help' });
  const pair = passwordPair('join');
  const problem = h('p', { class: 'form-problem', id: 'join-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'join-submit', text: 'Join and sign in' });
  const form = h(
    'form',
    { class: 'card-form link-form', id: 'join-form', novalidate: true, 'aria-labelledby': 'join-h' },
    h('h1', { id: 'join-h', text: `Join ${info.tenant.name}` }),
    h('p', { text: 'You were invited to askpanel. Choose the name others will see and a password.' }),
    linkFacts(info),
    h('div', { class: 'field' }, h('label', { for: 'join-name', text: 'Your name' }), name, h('p', { class: 'help', id: 'join-name-help', text: 'Shown to the people you deliberate with.' })),
    pair.el,
    problem,
    h('div', { class: 'actions' }, submit),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    problem.hidden = true;
    const password = pair.check();
    if (!password) return;
    submit.disabled = true;
    submit.textContent = 'Joining…';
    try {
      const body = { token, password };
      if (name.value.trim()) body.name = name.value.trim();
      const signed = await api('POST', '/v1/auth/links/redeem', body, { key: null });
      tokens.invitation = null;
      rememberTenant(signed.tenant.slug);
      history.replaceState(null, '', `${location.pathname}${location.search}#/`);
      await app.startPerson(signed);
      announcer.say(`Welcome, ${signed.user.name || signed.user.email}. You are signed in to ${signed.tenant.name}.`);
    } catch (ex) {
      failure(problem, ex, pair, 'invitation', token);
    } finally {
      submit.disabled = false;
      submit.textContent = 'Join and sign in';
    }
  });
  mountView('Join', form);
  (name.value ? pair.input : name).focus();
}

function resetForm(token, info) {
  const pair = passwordPair('reset', 'New password');
  const problem = h('p', { class: 'form-problem', id: 'reset-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'reset-submit', text: 'Set the new password' });
  const form = h(
    'form',
    { class: 'card-form link-form', id: 'reset-form', novalidate: true, 'aria-labelledby': 'reset-h' },
    h('h1', { id: 'reset-h', text: 'Choose a new password' }),
    linkFacts(info),
    pair.el,
    h('p', { class: 'help', text: 'Every place where you are signed in is signed out.' }),
    problem,
    h('div', { class: 'actions' }, submit),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    problem.hidden = true;
    const password = pair.check();
    if (!password) return;
    submit.disabled = true;
    submit.textContent = 'Saving…';
    try {
      await api('POST', '/v1/auth/links/redeem', { token, password }, { key: null });
      tokens.reset = null;
      rememberTenant(info.tenant.slug);
      passwordWasReset(info);
    } catch (ex) {
      failure(problem, ex, pair, 'reset', token);
      submit.disabled = false;
      submit.textContent = 'Set the new password';
    }
  });
  mountView('New password', form);
  pair.input.focus();
}

/** After a reset the person's sessions are gone: this tab's too when it was theirs. */
function passwordWasReset(info) {
  const message = 'Your password was changed. Sign in with the new one.';
  const someoneElse = session.signedIn() && !(session.user && session.user.email === info.email && session.tenant && session.tenant.id === info.tenant.id);
  if (someoneElse) {
    mountView('Password changed', h('section', { class: 'link-done', id: 'link-done' }, h('h1', { text: 'Password changed' }), h('p', { role: 'status', text: `${info.email} can now sign in with the new password.` }), h('p', {}, h('a', { href: '#/panels', text: 'Back to the panels' }))));
    return;
  }
  history.replaceState(null, '', `${location.pathname}${location.search}#/`);
  if (session.signedIn()) app.signOut(message, { prefill: { tenant: info.tenant.slug, email: info.email } });
  else signInView(message, { prefill: { tenant: info.tenant.slug, email: info.email } });
}
