// The Administration console's API keys tab (admins): the organisation's
// keys with their role, the first characters of each, when it was made and
// last used, and whether it is revoked; a new key is shown once, with a
// copy button, and never again (the server keeps only its hash); revoking
// asks first. Built on /v1/keys (API.md; prefix and last_used_at in
// docs/administration.md). On a phone the table's rows become cards.

import { announcer, appendAll, clear, copyField, h } from './dom.js';
import { ROLES, ROLE_LABEL, fmtAgo, fmtDate } from './format.js';
import { api } from './api.js';
import { session } from './session.js';
import { fieldError, showFieldError } from './view.js';

const COLUMNS = ['Name', 'Role', 'Key', 'Created', 'Last used', 'Status', 'Actions'];

/** A time cell: the moment in words, the exact one as its title. */
function when(iso, relative = false) {
  return h('time', { datetime: iso, title: fmtDate(iso), text: relative ? fmtAgo(iso) : fmtDate(iso) });
}

/**
 * The key just made, shown once: read-only with a copy button and the
 * warning. `onDone()` when the admin says they have it.
 */
function newKeyBox(made, onDone) {
  const { input, copy, copyMsg } = copyField({ id: 'key-secret', value: made.key, noun: 'key', button: 'Copy the key', describedBy: 'key-secret-warning key-secret-help' });
  const done = h('button', { type: 'button', class: 'btn btn-quiet', id: 'key-secret-done', text: 'I have copied it: hide the key', onclick: onDone });
  return h(
    'div',
    { class: 'secret-box', id: 'key-secret-box', role: 'region', 'aria-label': 'The new key', dataset: { key: made.id } },
    h('label', { for: 'key-secret', text: `The new key “${made.name}” (${ROLE_LABEL[made.role] || made.role})` }),
    h('div', { class: 'inline-row' }, input, copy),
    h('p', { class: 'secret-warning', id: 'key-secret-warning', text: 'Copy it now: you will not see it again. The server keeps only a fingerprint of it; a lost key cannot be shown again, only revoked and replaced.' }),
    h('p', { class: 'help', id: 'key-secret-help', text: 'A program sends it as “Authorization: Bearer <key>”; whoever holds it acts with its role.' }),
    copyMsg,
    h('div', { class: 'actions' }, done),
  );
}

/** The create form: a name and a role. `onCreated(made)` with the server's answer (which holds the key). */
function createForm(onCreated) {
  const name = h('input', { type: 'text', id: 'key-name', name: 'name', autocomplete: 'off', maxlength: 100, required: true, 'aria-describedby': 'key-name-help key-name-err' });
  const role = h('select', { id: 'key-role', name: 'role', 'aria-describedby': 'key-role-help' }, ROLES.map((r) => h('option', { value: r, text: ROLE_LABEL[r], selected: r === 'member' })));
  const nameErr = fieldError('key-name-err');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'key-create', text: 'Create the key' });
  const formMsg = h('p', { class: 'list-msg', id: 'key-form-msg', role: 'status' });
  const form = h(
    'form',
    { class: 'key-form', id: 'key-form', novalidate: true, 'aria-labelledby': 'key-new-h' },
    h(
      'div',
      { class: 'grid3' },
      h('div', { class: 'field' }, h('label', { for: 'key-name', text: 'Name' }), name, h('p', { class: 'help', id: 'key-name-help', text: 'What uses it, for example “CI pipeline” or “Reporting job”.' }), nameErr),
      h('div', { class: 'field' }, h('label', { for: 'key-role', text: 'Role' }), role, h('p', { class: 'help', id: 'key-role-help', text: 'Give a program the least it needs: viewers read, members start panels, moderators steer them, admins change everything here.' })),
    ),
    h('div', { class: 'actions' }, submit),
    formMsg,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    showFieldError(nameErr, name, null);
    const body = { name: name.value.trim(), role: role.value };
    if (!body.name) {
      showFieldError(nameErr, name, 'Name the key: what will use it?');
      name.focus();
      return;
    }
    submit.disabled = true;
    formMsg.textContent = 'Creating the key…';
    try {
      const made = await api('POST', '/v1/keys', body);
      formMsg.textContent = '';
      name.value = '';
      role.value = 'member';
      await onCreated(made);
    } catch (ex) {
      if (ex.status === 422 && ex.fields.name) {
        showFieldError(nameErr, name, `The name ${ex.fields.name}.`);
        name.focus();
      }
      formMsg.textContent = `Not created: ${ex.message}`;
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** Mounts nothing itself: returns { el, destroy } for the console (admin.js). */
export function keysTab() {
  let destroyed = false;
  const secretSlot = h('div', { class: 'onetime-slot', id: 'key-secret-slot' });
  const msg = h('p', { class: 'list-msg', id: 'keys-msg', role: 'status', text: 'Loading the keys…' });
  const tbody = h('tbody', { id: 'keys-body' });
  const keysHead = h('h2', { id: 'keys-h', tabindex: '-1', text: 'API keys' });
  const table = h(
    'table',
    { class: 'data-table keys-table', id: 'keys' },
    h('caption', { class: 'visually-hidden', text: 'API keys of your organisation' }),
    h('thead', {}, h('tr', {}, COLUMNS.map((c) => h('th', { scope: 'col', text: c })))),
    tbody,
  );

  function rowFor(k) {
    const mine = Boolean(session.identity.keyId) && k.id === session.identity.keyId;
    const revoked = Boolean(k.revoked_at);
    const cell = (col, ...content) => h('td', { dataset: { label: col } }, h('div', { class: 'cell' }, ...content));
    const revoke = revoked ? null : h('button', { type: 'button', class: 'btn btn-small btn-danger', 'aria-label': `Revoke the key ${k.name}`, text: 'Revoke' });
    const tr = h(
      'tr',
      { class: 'key-row', dataset: { id: k.id, state: revoked ? 'revoked' : 'active', role: k.role } },
      cell('Name', h('span', { class: 'key-name', text: k.name }), mine ? h('span', { class: 'tag', text: 'this page' }) : null),
      cell('Role', ROLE_LABEL[k.role] || k.role),
      cell('Key', k.prefix ? h('code', { class: 'key-prefix', title: 'The first characters of the key', text: `${k.prefix}…` }) : ''),
      cell('Created', when(k.created_at)),
      cell('Last used', k.last_used_at ? h('span', { class: 'last-used' }, when(k.last_used_at, true)) : h('span', { class: 'last-used', text: 'Never' })),
      cell('Status', h('span', { class: 'badge key-state', dataset: { state: revoked ? 'revoked' : 'active' }, text: revoked ? 'Revoked' : 'Active' }), revoked ? h('span', { class: 'key-revoked-at' }, ' ', when(k.revoked_at)) : null),
      cell('Actions', revoke ? h('div', { class: 'row-actions' }, revoke) : ''),
    );
    const confirmRow = h('tr', { class: 'confirm-row', hidden: true }, h('td', { colspan: COLUMNS.length }));
    if (revoke) {
      revoke.addEventListener('click', () => {
        const td = clear(confirmRow.firstChild);
        const yes = h('button', { type: 'button', class: 'btn btn-danger btn-small', id: 'key-revoke-yes', text: `Yes, revoke ${k.name}` });
        const no = h('button', { type: 'button', class: 'btn btn-small', id: 'key-revoke-no', text: 'Keep it' });
        const status = h('p', { role: 'status' });
        const warning = mine ? 'This page is signed in with it: you are signed out here at once. ' : '';
        td.append(h('div', { class: 'confirm', role: 'group', 'aria-label': 'Confirm revocation' }, h('p', { text: `Revoke the key ${k.name}? ${warning}Every program using it is refused from its next request, and a revoked key cannot be used again.` }), yes, no, status));
        confirmRow.hidden = false;
        yes.focus();
        no.addEventListener('click', () => {
          confirmRow.hidden = true;
          revoke.focus();
        });
        yes.addEventListener('click', async () => {
          yes.disabled = true;
          no.disabled = true;
          status.textContent = 'Revoking…';
          try {
            await api('DELETE', `/v1/keys/${encodeURIComponent(k.id)}`);
            if (destroyed) return;
            msg.textContent = `The key ${k.name} is revoked.`;
            announcer.say(`The key ${k.name} is revoked.`);
            await load({ keepMessage: true });
            keysHead.focus();
          } catch (ex) {
            status.textContent = `Not revoked: ${ex.message}`;
            yes.disabled = false;
            no.disabled = false;
          }
        });
      });
    }
    return [tr, confirmRow];
  }

  async function load({ keepMessage = false } = {}) {
    try {
      const data = await api('GET', '/v1/keys');
      if (destroyed) return;
      const keys = (data && data.items) || [];
      clear(tbody);
      appendAll(tbody, keys.map(rowFor));
      const active = keys.filter((k) => !k.revoked_at).length;
      if (!keepMessage) msg.textContent = `${active} active key${active === 1 ? '' : 's'}${keys.length > active ? `, ${keys.length - active} revoked` : ''}.`;
    } catch (ex) {
      if (!destroyed) msg.textContent = `Could not load the keys: ${ex.message}`;
    }
  }

  async function created(made) {
    if (destroyed) return;
    clear(secretSlot).append(
      newKeyBox(made, () => {
        clear(secretSlot);
        keysHead.focus();
      }),
    );
    const input = secretSlot.querySelector('input');
    input.focus();
    input.select();
    announcer.say(`Key created. Copy it now: it is shown only once.`);
    await load();
  }

  const el = h(
    'div',
    { class: 'admin-keys' },
    h('p', { class: 'help', text: 'Keys let programs use the API as your organisation, each with a role. People sign in with their own accounts instead (People).' }),
    secretSlot,
    h('section', { class: 'people-section', 'aria-labelledby': 'keys-h' }, h('div', { class: 'view-head' }, keysHead, h('button', { type: 'button', class: 'btn btn-quiet', id: 'keys-refresh', text: 'Refresh', onclick: () => load() })), msg, h('div', { class: 'table-wrap' }, table)),
    h('section', { class: 'people-section', 'aria-labelledby': 'key-new-h' }, h('h2', { id: 'key-new-h', text: 'Create a key' }), createForm(created)),
  );
  load();
  return {
    el,
    destroy() {
      destroyed = true;
    },
  };
}
