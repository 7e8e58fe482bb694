// The People screen (admins): the organisation's members with their role,
// status, last sign-in and lock; change a role, make a password reset link,
// remove someone (after asking), and invitations (invitations.js). Built on
// /v1/users and /v1/invitations (docs/accounts.md). On a phone the table's
// rows become stacked cards (style.css, .data-table).

import { announcer, appendAll, clear, h } from './dom.js';
import { ROLES, ROLE_LABEL, USER_STATUS_LABEL, fmtDate } from './format.js';
import { api } from './api.js';
import { session } from './session.js';
import { app } from './state.js';
import { invitationsSection, oneTimeLink } from './invitations.js';
import { freshLoads } from './fresh.js';
import { adminsOnlyView, mountView } from './view.js';

const COLUMNS = ['Name', 'Email', 'Role', 'Status', 'Last sign-in', 'Locked until', 'Actions'];

/** Mounts the screen; returns { destroy } (nothing to stop, but the router expects it of views that load). */
export function peopleView() {
  if (!session.isAdmin()) {
    adminsOnlyView('People');
    return null;
  }
  let destroyed = false;
  const msg = h('p', { class: 'list-msg', id: 'people-msg', role: 'status' });
  const linkSlot = h('div', { class: 'onetime-slot', id: 'onetime-slot' });
  const tbody = h('tbody', { id: 'members-body' });
  const table = h(
    'table',
    { class: 'data-table members-table', id: 'members' },
    h('caption', { class: 'visually-hidden', text: 'Members of your organisation' }),
    h('thead', {}, h('tr', {}, COLUMNS.map((c) => h('th', { scope: 'col', text: c })))),
    tbody,
  );
  const membersHead = h('h2', { id: 'members-h', tabindex: '-1', text: 'Members' });
  const removedList = h('ul', { class: 'removed-list', id: 'removed-list' });
  const removedBox = h('details', { class: 'removed', id: 'removed', hidden: true }, h('summary', { id: 'removed-summary', text: 'Removed' }), removedList);

  function showLink(answer, purpose) {
    clear(linkSlot);
    linkSlot.append(oneTimeLink(answer, purpose));
    const input = linkSlot.querySelector('input');
    if (input) {
      input.focus();
      input.select();
    }
  }

  const invitations = invitationsSection({ showLink, onChange: () => load() });

  function rowFor(u) {
    const self = u.id === session.identity.userId;
    const label = u.name || u.email;
    const roleSelect = h('select', { id: `role-${u.id}`, class: 'role-select', 'aria-label': `Role of ${label}` }, ROLES.map((r) => h('option', { value: r, text: ROLE_LABEL[r], selected: r === u.role })));
    const reset = h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Password reset link for ${label}`, text: 'Reset link' });
    const remove = h('button', { type: 'button', class: 'btn btn-small btn-danger', 'aria-label': `Remove ${label}`, text: 'Remove' });
    const locked = u.locked_until && Date.parse(u.locked_until) > Date.now();
    const cell = (col, ...content) => h('td', { dataset: { label: col } }, h('div', { class: 'cell' }, ...content));
    const tr = h(
      'tr',
      { class: 'member-row', dataset: { id: u.id, role: u.role, status: u.status } },
      cell('Name', h('span', { class: 'member-name', text: u.name || '—' }), self ? h('span', { class: 'tag', text: 'you' }) : null, u.sso ? h('span', { class: 'tag', text: 'single sign-on' }) : null),
      cell('Email', u.email),
      cell('Role', roleSelect),
      cell('Status', h('span', { class: 'badge user-status', dataset: { status: u.status }, text: USER_STATUS_LABEL[u.status] || u.status })),
      cell('Last sign-in', u.last_sign_in_at ? h('time', { datetime: u.last_sign_in_at, text: fmtDate(u.last_sign_in_at) }) : 'Never'),
      cell('Locked until', locked ? h('time', { class: 'locked', datetime: u.locked_until, text: fmtDate(u.locked_until) }) : 'Not locked'),
      cell('Actions', h('div', { class: 'row-actions' }, u.sso ? null : reset, remove)),
    );
    const confirmRow = h('tr', { class: 'confirm-row', hidden: true }, h('td', { colspan: COLUMNS.length }));

    roleSelect.addEventListener('change', async () => {
      const to = roleSelect.value;
      roleSelect.disabled = true;
      msg.textContent = `Changing the role of ${label}…`;
      try {
        // A list read while the role changes is read again after it.
        const updated = await loads.write(api('PATCH', `/v1/users/${encodeURIComponent(u.id)}`, { role: to }));
        u.role = updated.role;
        tr.dataset.role = updated.role;
        msg.textContent = `${label} is now ${updated.role === 'admin' ? 'an admin' : `a ${updated.role}`}.`;
        if (self) {
          // One's own role: the page shows what the new one allows.
          session.identity = { ...session.identity, role: updated.role };
          if (session.user) session.user = { ...session.user, role: updated.role };
          app.showSignedIn();
          if (updated.role !== 'admin') app.route();
        }
      } catch (ex) {
        roleSelect.value = u.role;
        msg.textContent = `Role not changed: ${ex.message}`;
      } finally {
        roleSelect.disabled = false;
      }
    });

    reset.addEventListener('click', async () => {
      reset.disabled = true;
      msg.textContent = `Making a password reset link for ${label}…`;
      try {
        const answer = await api('POST', `/v1/users/${encodeURIComponent(u.id)}/password-reset`);
        msg.textContent = '';
        showLink(answer, 'reset');
      } catch (ex) {
        msg.textContent = `No reset link: ${ex.message}`;
      } finally {
        reset.disabled = false;
      }
    });

    remove.addEventListener('click', () => {
      const td = confirmRow.firstChild;
      clear(td);
      const yes = h('button', { type: 'button', class: 'btn btn-danger btn-small', id: 'remove-yes', text: `Yes, remove ${label}` });
      const no = h('button', { type: 'button', class: 'btn btn-small', text: 'Keep' });
      const status = h('p', { role: 'status' });
      td.append(h('div', { class: 'confirm', role: 'group', 'aria-label': 'Confirm removal' }, h('p', { text: `Remove ${label} (${u.email})? ${self ? 'That is you: you are signed out at once. ' : 'They are signed out at once and '}can no longer sign in. What they did stays in the record.` }), yes, no, status));
      confirmRow.hidden = false;
      yes.focus();
      no.addEventListener('click', () => {
        confirmRow.hidden = true;
        remove.focus();
      });
      yes.addEventListener('click', async () => {
        yes.disabled = true;
        no.disabled = true;
        status.textContent = 'Removing…';
        try {
          await loads.write(api('DELETE', `/v1/users/${encodeURIComponent(u.id)}`));
          announcer.say(`${label} was removed.`);
          await load();
          membersHead.focus();
        } catch (ex) {
          status.textContent = `Not removed: ${ex.message}`;
          yes.disabled = false;
          no.disabled = false;
        }
      });
    });
    return [tr, confirmRow];
  }

  // Loads never show a list read before a role change or removal made here was committed.
  const loads = freshLoads((fresh) => show(fresh));
  function load() {
    return loads.load();
  }

  async function show(fresh) {
    try {
      const data = await api('GET', '/v1/users');
      if (destroyed || !fresh()) return;
      const users = (data && data.items) || [];
      const members = users.filter((u) => u.status === 'active');
      const removed = users.filter((u) => u.status === 'removed');
      clear(tbody);
      appendAll(tbody, members.map(rowFor));
      clear(removedList);
      appendAll(removedList, removed.map((u) => h('li', { dataset: { id: u.id } }, h('strong', { text: u.name || u.email }), u.name ? ` · ${u.email}` : null)));
      removedBox.hidden = !removed.length;
      removedBox.querySelector('summary').textContent = `Removed (${removed.length})`;
      if (!msg.textContent || /^Loading/.test(msg.textContent)) msg.textContent = `${members.length} member${members.length === 1 ? '' : 's'}.`;
    } catch (ex) {
      if (destroyed) return;
      if (ex.status === 403) adminsOnlyView('People');
      else msg.textContent = `Could not load the members: ${ex.message}`;
    }
  }

  mountView(
    'People',
    h(
      'section',
      { class: 'people-view' },
      h('div', { class: 'view-head' }, h('h1', { id: 'people-h', text: 'People' })),
      h('p', { class: 'help', text: 'Everyone who signs in to your organisation. Roles take effect at their next request. API keys are for machines and are not listed here.' }),
      linkSlot,
      h('section', { class: 'people-section', 'aria-labelledby': 'members-h' }, h('div', { class: 'view-head' }, membersHead, h('button', { type: 'button', class: 'btn btn-quiet', id: 'members-refresh', text: 'Refresh', onclick: () => Promise.all([load(), invitations.load()]) })), msg, h('div', { class: 'table-wrap' }, table), removedBox),
      invitations.el,
    ),
  );
  msg.textContent = 'Loading members…';
  load();
  invitations.load();
  return {
    destroy() {
      destroyed = true;
    },
  };
}
