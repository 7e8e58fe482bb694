// Invitations on the People screen (admins): invite someone by email with a
// role, list the invitations not yet accepted (with their expiry), invite
// again (a new link voids the old one) or revoke. Without mail configured
// the server hands the one-time link back: oneTimeLink() shows it read-only
// with a copy button, for invitations and password resets alike.

import { announcer, appendAll, clear, copyField, h } from './dom.js';
import { ROLES, ROLE_LABEL, fmtDate } from './format.js';
import { api } from './api.js';
import { fieldError, showFieldError } from './view.js';

/**
 * What an admin is told about a new link: `answer` is the server's
 * {user, expires_at, emailed, link}; `purpose` "invitation" or "reset".
 */
export function oneTimeLink(answer, purpose) {
  const who = answer.user.name ? `${answer.user.name} (${answer.user.email})` : answer.user.email;
  const what = purpose === 'reset' ? 'password reset link' : 'invitation link';
  const until = fmtDate(answer.expires_at);
  if (answer.emailed || !answer.link) {
    return h('div', { class: 'onetime', id: 'onetime', dataset: { purpose, emailed: 'true' } }, h('p', { role: 'status', text: `The ${what} was emailed to ${who}. It works once, until ${until}.` }));
  }
  // The server builds the link from the address it was reached at; the page
  // shows it as given (a proxy in front should pass the public host on).
  const { input, copy, copyMsg } = copyField({ id: 'onetime-link', base: 'onetime', value: answer.link, noun: 'link', button: 'Copy link', describedBy: 'onetime-help', secret: false });
  return h(
    'div',
    { class: 'onetime', id: 'onetime', dataset: { purpose, emailed: 'false' } },
    h('label', { for: 'onetime-link', text: `The ${what} for ${who}` }),
    h('div', { class: 'inline-row' }, input, copy),
    h('p', { class: 'help', id: 'onetime-help', text: `No email was sent: pass it on privately. It works once, until ${until}, and it is shown only now.` }),
    copyMsg,
  );
}

/**
 * The invite form and the pending invitations. `showLink(answer, purpose)`
 * shows a new link where the screen keeps it; `onChange()` after any change.
 */
export function invitationsSection({ showLink, onChange = () => {} }) {
  const email = h('input', { type: 'email', id: 'invite-email', name: 'email', autocomplete: 'off', required: true, 'aria-describedby': 'invite-email-err' });
  const name = h('input', { type: 'text', id: 'invite-name', name: 'name', autocomplete: 'off', maxlength: 100, 'aria-describedby': 'invite-name-err' });
  const role = h('select', { id: 'invite-role', name: 'role', 'aria-describedby': 'invite-role-help' }, ROLES.map((r) => h('option', { value: r, text: ROLE_LABEL[r], selected: r === 'member' })));
  const errs = { email: fieldError('invite-email-err'), name: fieldError('invite-name-err') };
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'invite-submit', text: 'Invite' });
  const formMsg = h('p', { class: 'list-msg', id: 'invite-msg', role: 'status' });
  const form = h(
    'form',
    { class: 'invite-form', id: 'invite-form', novalidate: true, 'aria-labelledby': 'invite-h' },
    h(
      'div',
      { class: 'grid3' },
      h('div', { class: 'field' }, h('label', { for: 'invite-email', text: 'Email' }), email, errs.email),
      h('div', { class: 'field' }, h('label', { for: 'invite-name', text: 'Name (optional)' }), name, errs.name),
      h('div', { class: 'field' }, h('label', { for: 'invite-role', text: 'Role' }), role, h('p', { class: 'help', id: 'invite-role-help', text: 'Viewers read; members start panels; moderators steer them; admins manage people.' })),
    ),
    h('div', { class: 'actions' }, submit),
    formMsg,
  );
  const listMsg = h('p', { class: 'list-msg', id: 'invitations-msg', role: 'status' });
  const list = h('ul', { class: 'invitation-list', id: 'invitations', 'aria-labelledby': 'pending-h' });
  const pendingHead = h('h2', { id: 'pending-h', tabindex: '-1', text: 'Pending invitations' });

  async function invite(body) {
    const answer = await api('POST', '/v1/invitations', body);
    showLink(answer, 'invitation');
    announcer.say(answer.emailed ? `Invitation emailed to ${body.email}.` : `Invitation made for ${body.email}: copy the link and pass it on.`);
    await load();
    onChange();
    return answer;
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    for (const [k, el] of Object.entries(errs)) showFieldError(el, k === 'email' ? email : name, null);
    const body = { email: email.value.trim(), role: role.value };
    if (name.value.trim()) body.name = name.value.trim();
    if (!body.email) {
      showFieldError(errs.email, email, 'Enter the email address to invite.');
      email.focus();
      return;
    }
    submit.disabled = true;
    formMsg.textContent = 'Inviting…';
    try {
      await invite(body);
      formMsg.textContent = '';
      form.reset();
      role.value = 'member';
    } catch (ex) {
      if (ex.status === 422) {
        if (ex.fields.email) showFieldError(errs.email, email, `The email ${ex.fields.email}.`);
        if (ex.fields.name) showFieldError(errs.name, name, `The name ${ex.fields.name}.`);
        (ex.fields.email ? email : name).focus();
      }
      formMsg.textContent = `Not invited: ${ex.message}`;
    } finally {
      submit.disabled = false;
    }
  });

  function row(item) {
    const u = item.user;
    const label = u.name ? `${u.name} (${u.email})` : u.email;
    const again = h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `New invitation link for ${label}`, text: 'New link' });
    const revoke = h('button', { type: 'button', class: 'btn btn-small btn-danger', 'aria-label': `Revoke the invitation of ${label}`, text: 'Revoke' });
    again.addEventListener('click', async () => {
      again.disabled = true;
      listMsg.textContent = `Making a new link for ${u.email}…`;
      try {
        const body = { email: u.email, role: u.role };
        if (u.name) body.name = u.name;
        await invite(body);
        listMsg.textContent = `A new link for ${u.email}; the old one no longer works.`;
      } catch (ex) {
        listMsg.textContent = `No new link: ${ex.message}`;
        again.disabled = false;
      }
    });
    revoke.addEventListener('click', async () => {
      revoke.disabled = true;
      listMsg.textContent = `Revoking the invitation of ${u.email}…`;
      try {
        await api('DELETE', `/v1/invitations/${encodeURIComponent(u.id)}`);
        await load();
        listMsg.textContent = `Revoked: the link sent to ${u.email} no longer works.`;
        pendingHead.focus();
        onChange();
      } catch (ex) {
        listMsg.textContent = `Not revoked: ${ex.message}`;
        revoke.disabled = false;
      }
    });
    const expiry = item.expired ? 'expired' : `expires ${fmtDate(item.expires_at)}`;
    return h(
      'li',
      { class: 'invitation-row', dataset: { id: u.id, expired: String(Boolean(item.expired)) } },
      h('p', { class: 'invitation-who' }, h('strong', { text: u.email }), u.name ? ` · ${u.name}` : null),
      h('p', { class: 'invitation-meta' }, h('span', { class: 'badge role', text: ROLE_LABEL[u.role] || u.role }), ' ', h('span', { class: item.expired ? 'expired' : 'when', text: `Link ${expiry}` })),
      h('div', { class: 'row-actions' }, again, revoke),
    );
  }

  async function load() {
    try {
      const data = await api('GET', '/v1/invitations');
      const items = (data && data.items) || [];
      clear(list);
      appendAll(list, items.map(row));
      listMsg.textContent = items.length ? `${items.length} invitation${items.length === 1 ? '' : 's'} not yet accepted.` : 'No pending invitations.';
    } catch (ex) {
      listMsg.textContent = `Could not load the invitations: ${ex.message}`;
    }
  }

  const el = h(
    'div',
    { class: 'invitations' },
    h('section', { class: 'people-section', 'aria-labelledby': 'invite-h' }, h('h2', { id: 'invite-h', text: 'Invite someone' }), h('p', { class: 'help', text: 'They get a link to choose their name and password. It works once, until the date shown with it.' }), form),
    h('section', { class: 'people-section', 'aria-labelledby': 'pending-h' }, pendingHead, listMsg, list),
  );
  return { el, load };
}
