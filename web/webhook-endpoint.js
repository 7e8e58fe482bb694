// One webhook endpoint (admins, #/webhooks/{id}): what it is and how it is
// doing, a test message, a new signing secret (shown once), disable or
// enable, delete (after asking), change its address, description and
// events, and its delivery log (webhook-log.js). docs/webhooks.md.

import { announcer, appendAll, clear, h, setText } from './dom.js';
import { fmtDate } from './format.js';
import { api } from './api.js';
import { session } from './session.js';
import { deliveryLog } from './webhook-log.js';
import { endpointFields, endpointInputs, eventsChooser, eventsText, failuresText, hookStatusBadge, refuseFields, secretBox } from './webhook-parts.js';
import { adminsOnlyView, mountView, notFoundView } from './view.js';

const NOT_FOUND = ['Endpoint not found', 'There is no webhook endpoint with this address in your organisation.'];

export function webhookView(id, params) {
  if (!session.isAdmin()) {
    adminsOnlyView('Webhooks');
    return null;
  }
  const path = `/v1/webhooks/${encodeURIComponent(id)}`;
  let destroyed = false;
  let endpoint = null;
  let types = [];
  /** An action is out: its buttons stay as it left them until it ends. */
  let busy = false;
  const log = deliveryLog(id, params, { onActivity: () => refresh() });
  const urlText = h('code', { id: 'hook-url-text' });
  const facts = h('dl', { class: 'endpoint-facts', id: 'hook-facts' });
  const msg = h('p', { class: 'list-msg', id: 'hook-msg', role: 'status', text: 'Loading the endpoint…' });
  const secretSlot = h('div', { class: 'onetime-slot', id: 'secret-slot' });
  const confirmSlot = h('div', { id: 'hook-confirm-slot' });
  const button = (idName, text, cls = 'btn') => h('button', { type: 'button', class: cls, id: idName, text, disabled: true });
  const test = button('hook-test', 'Send test');
  const rotate = button('hook-rotate', 'Rotate the secret');
  const toggle = button('hook-toggle', 'Disable');
  const remove = button('hook-delete', 'Delete', 'btn btn-danger');
  const editSlot = h('div', { id: 'hook-edit-slot' });

  const say = (text, problem = false) => {
    msg.textContent = text;
    msg.classList.toggle('log-msg-error', problem);
  };

  function show(e) {
    endpoint = e;
    setText(urlText, e.url);
    const failing = failuresText(e);
    const fact = (dt, ...dd) => [h('dt', { text: dt }), h('dd', {}, ...dd)];
    clear(facts);
    appendAll(
      facts,
      fact('Status', hookStatusBadge(e.status), e.disabled_reason ? h('span', { class: 'failing', id: 'hook-disabled-reason', text: e.disabled_reason }) : null),
      fact('Events', eventsText(e.events)),
      fact('Description', e.description || '–'),
      fact('Failures', failing ? h('span', { class: 'failing', text: failing }) : 'None: the last attempt succeeded, or none failed yet'),
      fact('Added', fmtDate(e.created_at)),
      fact('Changed', fmtDate(e.updated_at)),
    );
    const off = e.status === 'disabled';
    setText(toggle, off ? 'Enable' : 'Disable');
    toggle.setAttribute('aria-label', off ? `Enable ${e.url}` : `Disable ${e.url}`);
    for (const b of [test, rotate, toggle, remove]) b.disabled = false;
    // A disabled endpoint is sent nothing, tests included (409).
    test.disabled = off;
  }

  /** The endpoint read again: its failure record moves as deliveries are tried. */
  async function refresh() {
    if (busy || !endpoint) return;
    try {
      const e = await api('GET', path);
      if (!destroyed && !busy) show(e);
    } catch {
      // The facts stay as they were; the next activity or a reload reads them again.
    }
  }

  async function act(buttonEl, doing, fn) {
    busy = true;
    buttonEl.disabled = true;
    say(doing);
    try {
      await fn();
    } catch (ex) {
      if (destroyed) return;
      say(`${ex.status === 409 ? 'Refused' : 'It did not work'}: ${ex.message}`, true);
    } finally {
      busy = false;
      if (!destroyed && endpoint) show(endpoint);
    }
  }

  test.addEventListener('click', () =>
    act(test, 'Sending a test message…', async () => {
      const d = await api('POST', `${path}/test`);
      if (destroyed) return;
      log.add(d);
      say('A test message was queued: its delivery is first in the log below.');
      announcer.say('Test message queued.');
    }),
  );

  rotate.addEventListener('click', () =>
    act(rotate, 'Making a new signing secret…', async () => {
      const e = await api('POST', `${path}/rotate-secret`);
      if (destroyed) return;
      clear(secretSlot).append(secretBox(e, { rotated: true }));
      const input = secretSlot.querySelector('input');
      input.focus();
      input.select();
      endpoint = e;
      say('A new signing secret: copy it now.');
      announcer.say('New signing secret made. Copy it now: it is shown only once.');
    }),
  );

  toggle.addEventListener('click', () => {
    const enable = endpoint.status === 'disabled';
    act(toggle, enable ? 'Enabling…' : 'Disabling…', async () => {
      const e = await api('PATCH', path, { enabled: enable });
      if (destroyed) return;
      endpoint = e;
      say(enable ? 'Enabled: deliveries are sent again, and its failure record is cleared. Redeliver what failed from the log.' : 'Disabled: nothing is sent to it, and its pending deliveries failed.');
      log.load(false);
      toggle.focus();
    });
  });

  remove.addEventListener('click', () => {
    const yes = h('button', { type: 'button', class: 'btn btn-danger btn-small', id: 'hook-delete-yes', text: 'Yes, delete the endpoint' });
    const no = h('button', { type: 'button', class: 'btn btn-small', id: 'hook-delete-no', text: 'Keep it' });
    const status = h('p', { role: 'status' });
    clear(confirmSlot).append(h('div', { class: 'confirm', role: 'group', 'aria-label': 'Confirm deletion' }, h('p', { text: `Delete ${endpoint.url}? Nothing more is sent to it, and its delivery log goes with it. This cannot be undone.` }), yes, no, status));
    yes.focus();
    no.addEventListener('click', () => {
      clear(confirmSlot);
      remove.focus();
    });
    yes.addEventListener('click', async () => {
      yes.disabled = true;
      no.disabled = true;
      status.textContent = 'Deleting…';
      try {
        await api('DELETE', path);
        announcer.say(`The endpoint ${endpoint.url} was deleted.`);
        location.hash = '#/webhooks';
      } catch (ex) {
        status.textContent = `Not deleted: ${ex.message}`;
        yes.disabled = false;
        no.disabled = false;
      }
    });
  });

  function editForm() {
    const inputs = endpointInputs('edit', endpoint);
    const events = eventsChooser(types, endpoint.events, 'edit');
    const parts = { ...inputs, events };
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'hook-save', text: 'Save the changes' });
    const formMsg = h('p', { class: 'list-msg', id: 'hook-edit-msg', role: 'status' });
    const form = h('form', { class: 'hook-form', id: 'hook-edit-form', novalidate: true, 'aria-label': 'Change the endpoint' }, inputs.el, events.el, h('div', { class: 'actions' }, submit), formMsg);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = endpointFields(parts);
      if (!body) return;
      submit.disabled = true;
      formMsg.textContent = 'Saving…';
      try {
        const e = await api('PATCH', path, body);
        if (destroyed) return;
        show(e);
        formMsg.textContent = 'Saved.';
        announcer.say('Endpoint saved.');
      } catch (ex) {
        refuseFields(ex, parts);
        formMsg.textContent = `Not saved: ${ex.message}`;
      } finally {
        submit.disabled = false;
      }
    });
    return h('details', { class: 'people-section', id: 'hook-edit' }, h('summary', { text: 'Change the address, description or events' }), form);
  }

  mountView(
    'Webhook endpoint',
    h(
      'section',
      { class: 'webhook-view' },
      h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/webhooks', text: '← Webhooks' })),
      h('div', { class: 'view-head' }, h('h1', { id: 'hook-h', text: 'Webhook endpoint' })),
      h('p', { class: 'endpoint-head' }, urlText),
      h('section', { class: 'people-section', 'aria-label': 'The endpoint' }, facts, h('div', { class: 'mod-buttons' }, test, rotate, toggle, remove), confirmSlot, msg),
      secretSlot,
      editSlot,
      log.el,
    ),
  );

  Promise.all([api('GET', path), api('GET', '/v1/webhooks/event-types').catch(() => null)])
    .then(([e, t]) => {
      if (destroyed) return;
      types = (t && t.items) || [];
      show(e);
      say('');
      // Without the types the events cannot be offered: the rest still works.
      if (t) editSlot.append(editForm());
      else editSlot.append(h('p', { class: 'form-problem', text: 'Could not load the event types, so the endpoint cannot be changed now. Reload to try again.' }));
      log.load(false);
    })
    .catch((ex) => {
      if (destroyed) return;
      if (ex.status === 403) adminsOnlyView('Webhooks');
      else if (ex.status === 404) notFoundView(...NOT_FOUND);
      else say(`Could not load the endpoint: ${ex.message}`, true);
    });

  return {
    destroy() {
      destroyed = true;
      log.destroy();
    },
  };
}
