// The Webhooks screen (admins, #/webhooks): the organisation's endpoints
// with their status and failures, a test message from each, and the form
// that adds one; its signing secret is shown once, right after. Each
// endpoint's own page (webhook-endpoint.js) changes it and shows its
// delivery log. Built on /v1/webhooks (docs/webhooks.md).

import { announcer, appendAll, clear, h } from './dom.js';
import { api } from './api.js';
import { session } from './session.js';
import { endpointFields, endpointInputs, eventsChooser, eventsText, failuresText, hookStatusBadge, refuseFields, secretBox } from './webhook-parts.js';
import { adminsOnlyView, mountView } from './view.js';

export function webhooksView() {
  if (!session.isAdmin()) {
    adminsOnlyView('Webhooks');
    return null;
  }
  let destroyed = false;
  let types = [];
  const secretSlot = h('div', { class: 'onetime-slot', id: 'secret-slot' });
  const msg = h('p', { class: 'list-msg', id: 'hooks-msg', role: 'status', text: 'Loading the endpoints…' });
  const list = h('ul', { class: 'endpoint-list', id: 'endpoints', 'aria-labelledby': 'endpoints-h' });
  const formSlot = h('div', { id: 'hook-form-slot' }, h('p', { class: 'list-msg', text: 'Loading the event types…' }));

  function row(e) {
    const test = h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Send a test message to ${e.url}`, text: 'Send test', disabled: e.status === 'disabled' });
    test.addEventListener('click', async () => {
      test.disabled = true;
      msg.textContent = `Sending a test message to ${e.url}…`;
      try {
        await api('POST', `/v1/webhooks/${encodeURIComponent(e.id)}/test`);
        msg.textContent = `A test message is on its way to ${e.url}: its endpoint’s page shows how it went.`;
      } catch (ex) {
        msg.textContent = `No test sent: ${ex.message}`;
      } finally {
        test.disabled = e.status === 'disabled';
      }
    });
    const failing = failuresText(e);
    return h(
      'li',
      { class: 'endpoint-row', dataset: { id: e.id, status: e.status } },
      h('p', {}, h('a', { class: 'endpoint-url', href: `#/webhooks/${encodeURIComponent(e.id)}`, text: e.url })),
      e.description ? h('p', { class: 'endpoint-description', text: e.description }) : null,
      h(
        'p',
        { class: 'endpoint-meta' },
        hookStatusBadge(e.status),
        h('span', { text: eventsText(e.events) }),
        e.disabled_reason ? h('span', { class: 'failing', text: ` · ${e.disabled_reason}` }) : null,
        failing ? h('span', { class: 'failing', text: ` · ${failing}` }) : null,
      ),
      h('div', { class: 'row-actions' }, h('a', { class: 'btn btn-small', href: `#/webhooks/${encodeURIComponent(e.id)}`, 'aria-label': `Deliveries and settings of ${e.url}`, text: 'Deliveries and settings' }), test),
    );
  }

  async function load() {
    try {
      const data = await api('GET', '/v1/webhooks');
      if (destroyed) return;
      const items = (data && data.items) || [];
      clear(list);
      appendAll(list, items.map(row));
      msg.textContent = items.length ? `${items.length} endpoint${items.length === 1 ? '' : 's'}.` : 'No endpoints yet: add one below.';
    } catch (ex) {
      if (destroyed) return;
      if (ex.status === 403) adminsOnlyView('Webhooks');
      else msg.textContent = `Could not load the endpoints: ${ex.message}`;
    }
  }

  function createForm() {
    const inputs = endpointInputs('hook');
    const events = eventsChooser(types, ['*'], 'hook');
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'hook-create', text: 'Add the endpoint' });
    const formMsg = h('p', { class: 'list-msg', id: 'hook-form-msg', role: 'status' });
    const form = h('form', { class: 'hook-form', id: 'hook-form', novalidate: true, 'aria-labelledby': 'hook-new-h' }, inputs.el, events.el, h('div', { class: 'actions' }, submit), formMsg);
    const parts = { ...inputs, events };
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = endpointFields(parts);
      if (!body) return;
      if (!body.description) delete body.description;
      submit.disabled = true;
      formMsg.textContent = 'Adding the endpoint…';
      try {
        const made = await api('POST', '/v1/webhooks', body);
        if (destroyed) return;
        formMsg.textContent = '';
        clear(secretSlot);
        secretSlot.append(secretBox(made), h('p', {}, h('a', { href: `#/webhooks/${encodeURIComponent(made.id)}`, id: 'hook-made-link', text: 'Open the endpoint: send a test, see its deliveries' })));
        const secret = secretSlot.querySelector('input');
        secret.focus();
        secret.select();
        announcer.say(`Endpoint added. Copy its signing secret now: it is shown only once.`);
        inputs.url.value = '';
        inputs.description.value = '';
        await load();
      } catch (ex) {
        refuseFields(ex, parts);
        formMsg.textContent = `Not added: ${ex.message}`;
      } finally {
        submit.disabled = false;
      }
    });
    return form;
  }

  mountView(
    'Webhooks',
    h(
      'section',
      { class: 'webhooks-view' },
      h('div', { class: 'view-head' }, h('h1', { id: 'hooks-h', text: 'Webhooks' })),
      h('p', { class: 'help', text: 'Your systems hear about your panels: each endpoint gets a signed POST for the events it chose. Failed deliveries are tried again for a day; an endpoint that keeps failing is disabled and admins are told.' }),
      secretSlot,
      h('section', { class: 'people-section', 'aria-labelledby': 'endpoints-h' }, h('div', { class: 'view-head' }, h('h2', { id: 'endpoints-h', text: 'Endpoints' }), h('button', { type: 'button', class: 'btn btn-quiet', id: 'hooks-refresh', text: 'Refresh', onclick: () => load() })), msg, list),
      h('section', { class: 'people-section', 'aria-labelledby': 'hook-new-h' }, h('h2', { id: 'hook-new-h', text: 'Add an endpoint' }), formSlot),
    ),
  );
  load();
  api('GET', '/v1/webhooks/event-types')
    .then((data) => {
      if (destroyed) return;
      types = (data && data.items) || [];
      clear(formSlot).append(createForm());
    })
    .catch((ex) => {
      if (destroyed) return;
      clear(formSlot).append(h('p', { class: 'form-problem', text: `Could not load the event types, so no endpoint can be added now: ${ex.message}` }));
    });
  return {
    destroy() {
      destroyed = true;
    },
  };
}
