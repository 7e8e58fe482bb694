// Who is signed in: the account button in the top bar (name and role) with
// its menu (your account, sign out everywhere), and the Account screen
// (#/account): change my name, change my password, choose what I am told
// in the page and by email (docs/notifications.md). A key has no account:
// its menu only says which key-role the page runs as.

import { announcer, clear, h, setText } from './dom.js';
import { NOTIFICATION_KINDS, ROLE_LABEL, fmtDate } from './format.js';
import { api } from './api.js';
import { session } from './session.js';
import { app } from './state.js';
import { fieldError, mountView, passwordPair, showFieldError } from './view.js';

const byId = (id) => document.getElementById(id);

function setMenuOpen(open) {
  const button = byId('account-button');
  byId('account-menu').hidden = !open;
  button.setAttribute('aria-expanded', String(open));
}

export function closeAccountMenu() {
  if (byId('account-button').getAttribute('aria-expanded') === 'true') setMenuOpen(false);
}

/** Fills the top bar's account button and menu for whoever is signed in (app.showSignedIn calls it). */
export function renderAccountMenu() {
  const box = byId('account');
  const menu = clear(byId('account-menu'));
  const role = ROLE_LABEL[session.identity.role] || session.identity.role || '';
  const tenantName = (session.tenant && (session.tenant.name || (session.tenant.branding && session.tenant.branding.display_name))) || '';
  if (session.mode === 'person' && session.user) {
    setText(byId('account-name'), session.user.name || session.user.email);
    menu.append(
      h('p', { class: 'account-who' }, h('span', { class: 'account-email', text: session.user.email }), tenantName ? h('span', { text: ` · ${tenantName}` }) : null),
      h('ul', { class: 'account-items' }, h('li', {}, h('a', { href: '#/account', id: 'account-link', text: 'Your account' })), h('li', {}, h('button', { type: 'button', class: 'btn btn-quiet btn-small', id: 'sign-out-everywhere', text: 'Sign out everywhere', onclick: () => app.signOutPerson(true) }))),
    );
  } else {
    setText(byId('account-name'), 'API key');
    menu.append(h('p', { class: 'account-who', text: `Signed in with an API key${tenantName ? ` of ${tenantName}` : ''}. Keys have no account settings.` }));
  }
  setText(byId('account-role'), role);
  box.hidden = false;
  setMenuOpen(false);
}

/** The menu opens on its button, and closes on Escape (focus back on the button), a click elsewhere, or a route. */
export function installAccountMenu() {
  const button = byId('account-button');
  const menu = byId('account-menu');
  button.addEventListener('click', () => {
    const open = menu.hidden;
    setMenuOpen(open);
    if (open) {
      const first = menu.querySelector('a, button');
      if (first) first.focus();
    }
  });
  byId('account').addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !menu.hidden) {
      setMenuOpen(false);
      button.focus();
    }
  });
  document.addEventListener('click', (e) => {
    if (!menu.hidden && !byId('account').contains(e.target)) setMenuOpen(false);
  });
  menu.addEventListener('click', (e) => {
    if (e.target.closest('a')) setMenuOpen(false);
  });
}

/** The Account screen: name and password of the signed-in person. */
export function accountView() {
  if (session.mode !== 'person' || !session.user) {
    mountView('Account', h('section', { class: 'not-found', id: 'account-key' }, h('h1', { text: 'Your account' }), h('p', { text: 'This page is signed in with an API key, which has no account. Sign out and sign in with your email and password to change your name or password.' })));
    return;
  }
  const u = session.user;
  const role = ROLE_LABEL[session.identity.role] || session.identity.role;
  mountView(
    'Your account',
    h(
      'section',
      { class: 'account-view' },
      h('h1', { id: 'account-h', text: 'Your account' }),
      h('p', { id: 'account-facts', text: `${u.email}, ${role ? `${role.toLowerCase()} of` : 'in'} ${(session.tenant && session.tenant.name) || 'your organisation'}${u.last_sign_in_at ? `. Signed in ${fmtDate(u.last_sign_in_at)}` : ''}.` }),
      nameForm(u),
      passwordForm(),
      preferencesForm(),
      h('section', { class: 'people-section', 'aria-labelledby': 'everywhere-h' }, h('h2', { id: 'everywhere-h', text: 'Signed in elsewhere?' }), h('p', { class: 'help', text: 'Signing out everywhere ends every session of yours, on every device, this one included.' }), h('button', { type: 'button', class: 'btn', id: 'account-sign-out-everywhere', text: 'Sign out everywhere', onclick: () => app.signOutPerson(true) })),
    ),
  );
}

function nameForm(u) {
  const input = h('input', { type: 'text', id: 'me-name', name: 'name', autocomplete: 'name', maxlength: 100, value: u.name || '', required: true, 'aria-describedby': 'me-name-err' });
  const err = fieldError('me-name-err');
  const status = h('p', { class: 'list-msg', id: 'me-name-msg', role: 'status' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'me-name-save', text: 'Save the name' });
  const form = h('form', { class: 'people-section account-form', id: 'me-name-form', novalidate: true, 'aria-labelledby': 'me-name-h' }, h('h2', { id: 'me-name-h', text: 'Name' }), h('div', { class: 'field' }, h('label', { for: 'me-name', text: 'Your name' }), input, err), h('div', { class: 'actions' }, submit), status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = input.value.trim();
    showFieldError(err, input, name ? null : 'Enter the name others should see.');
    if (!name) {
      input.focus();
      return;
    }
    submit.disabled = true;
    status.textContent = 'Saving…';
    try {
      const updated = await api('PATCH', '/v1/me', { name });
      session.user = { ...session.user, name: updated.name };
      renderAccountMenu();
      status.textContent = `Saved: you are “${updated.name}”.`;
    } catch (ex) {
      if (ex.fields.name) showFieldError(err, input, `The name ${ex.fields.name}.`);
      status.textContent = `Not saved: ${ex.message}`;
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function passwordForm() {
  const current = h('input', { type: 'password', id: 'me-current', name: 'current_password', autocomplete: 'current-password', required: true, 'aria-describedby': 'me-current-err' });
  const currentErr = fieldError('me-current-err');
  const pair = passwordPair('me-new', 'New password');
  const status = h('p', { class: 'list-msg', id: 'me-password-msg', role: 'status' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'me-password-save', text: 'Change the password' });
  const form = h(
    'form',
    { class: 'people-section account-form', id: 'me-password-form', novalidate: true, 'aria-labelledby': 'me-password-h' },
    h('h2', { id: 'me-password-h', text: 'Password' }),
    h('div', { class: 'field' }, h('label', { for: 'me-current', text: 'Current password' }), current, currentErr),
    pair.el,
    h('p', { class: 'help', text: 'Your other sessions are signed out; this one stays.' }),
    h('div', { class: 'actions' }, submit),
    status,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    showFieldError(currentErr, current, current.value ? null : 'Enter your current password.');
    if (!current.value) {
      current.focus();
      return;
    }
    const next = pair.check();
    if (!next) return;
    submit.disabled = true;
    status.textContent = 'Changing the password…';
    try {
      await api('POST', '/v1/me/password', { current_password: current.value, new_password: next });
      current.value = '';
      pair.clear();
      status.textContent = 'Password changed. Your other sessions were signed out.';
      announcer.say('Password changed.');
    } catch (ex) {
      status.textContent = `Not changed: ${ex.message}`;
      if (ex.fields.current_password) {
        showFieldError(currentErr, current, `The current password ${ex.fields.current_password}.`);
        current.focus();
      } else if (ex.fields.new_password) pair.refuse(`The new password ${ex.fields.new_password}.`);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

const CHANNELS = [
  { channel: 'in_app', label: 'In the page' },
  { channel: 'email', label: 'By email' },
];

/** What the person is told, per kind, in the page and by email: GET and PATCH /v1/notifications/preferences. */
function preferencesForm() {
  const msg = h('p', { class: 'list-msg', id: 'prefs-msg', role: 'status' });
  const noEmail = h('p', { class: 'notice', id: 'prefs-no-email', hidden: true, text: 'This server sends no email: nothing is emailed, whatever is chosen here. Notifications still show in the page.' });
  const tbody = h('tbody', { id: 'prefs-body' });
  const table = h(
    'table',
    { class: 'data-table prefs-table', id: 'prefs' },
    h('caption', { class: 'visually-hidden', text: 'What you are told, and how' }),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Notification' }), CHANNELS.map((c) => h('th', { scope: 'col', text: c.label })))),
    tbody,
  );
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'prefs-save', text: 'Save the preferences', disabled: true });
  const retry = h('button', { type: 'button', class: 'btn', id: 'prefs-retry', text: 'Try again', hidden: true });
  const form = h(
    'form',
    { class: 'people-section account-form', id: 'prefs-form', novalidate: true, 'aria-labelledby': 'prefs-h' },
    h('h2', { id: 'prefs-h', text: 'Notifications' }),
    h('p', { class: 'help', text: 'What you are told about panels, in the page (the bell at the top) and by email.' }),
    noEmail,
    h('div', { class: 'table-wrap' }, table),
    h('div', { class: 'actions' }, submit, retry),
    msg,
  );
  /** The server's last answer: { kinds: {kind: {in_app, email}}, email_available }. */
  let saved = null;
  /** The status line; a problem is drawn as one (red, bordered). */
  const say = (text, problem = false) => {
    msg.textContent = text;
    msg.classList.toggle('form-problem', problem);
  };

  function kindsShown(kinds) {
    const known = NOTIFICATION_KINDS.filter((k) => k.kind in kinds && (k.kind !== 'webhook_disabled' || session.isAdmin()));
    // A kind this page does not know yet is still listed, by its name.
    const unknown = Object.keys(kinds)
      .filter((k) => !NOTIFICATION_KINDS.some((x) => x.kind === k))
      .map((kind) => ({ kind, label: kind.replace(/_/g, ' '), help: '' }));
    return [...known, ...unknown];
  }

  function render(prefs) {
    saved = prefs;
    const emailOk = Boolean(prefs.email_available);
    noEmail.hidden = emailOk;
    clear(tbody);
    for (const k of kindsShown(prefs.kinds || {})) {
      const now = prefs.kinds[k.kind] || {};
      const box = (c) => {
        const off = c.channel === 'email' && !emailOk;
        return h(
          'td',
          { dataset: { label: c.label } },
          h('input', { type: 'checkbox', id: `pref-${k.kind}-${c.channel}`, name: `${k.kind}.${c.channel}`, checked: now[c.channel] !== false, disabled: off, 'aria-label': `${k.label}: ${c.label.toLowerCase()}${off ? ' (this server sends no email)' : ''}`, dataset: { kind: k.kind, channel: c.channel } }),
        );
      };
      tbody.append(h('tr', { class: 'pref-row', dataset: { kind: k.kind } }, h('th', { scope: 'row' }, k.label, k.help ? h('span', { class: 'help', text: k.help }) : null), CHANNELS.map(box)));
    }
    submit.disabled = false;
  }

  async function load() {
    say('Loading your notification preferences…');
    retry.hidden = true;
    try {
      render(await api('GET', '/v1/notifications/preferences'));
      say('');
    } catch (ex) {
      say(`Could not load your notification preferences: ${ex.message}`, true);
      retry.hidden = false;
    }
  }
  retry.addEventListener('click', load);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!saved) return;
    // Only what changed is sent (a channel the server does not offer is never touched).
    const kinds = {};
    for (const input of tbody.querySelectorAll('input[type=checkbox]:not(:disabled)')) {
      const { kind, channel } = input.dataset;
      const was = (saved.kinds[kind] || {})[channel] !== false;
      if (input.checked !== was) kinds[kind] = { ...kinds[kind], [channel]: input.checked };
    }
    if (!Object.keys(kinds).length) {
      say('Nothing changed: your preferences are as saved.');
      return;
    }
    submit.disabled = true;
    say('Saving…');
    try {
      render(await api('PATCH', '/v1/notifications/preferences', { kinds }));
      say('Saved: your notification preferences are in effect.');
      announcer.say('Notification preferences saved.');
    } catch (ex) {
      const fields = Object.entries(ex.fields || {}).map(([k, v]) => `${k} ${v}`);
      say(`Not saved: ${ex.message}${fields.length ? ` (${fields.join('; ')})` : ''}`, true);
    } finally {
      submit.disabled = false;
    }
  });
  load();
  return form;
}
