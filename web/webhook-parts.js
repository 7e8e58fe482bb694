// What the Webhooks screens share (docs/webhooks.md): the endpoint's status
// badge and events in words, the fields of the add and change forms (the
// events chooser offers every type from GET /v1/webhooks/event-types, or
// all), and the signing secret shown once, after a create or a rotation,
// with a copy button.

import { copyField, h, uid } from './dom.js';
import { fmtDate } from './format.js';
import { fieldError, showFieldError } from './view.js';

export const HOOK_STATUS_LABEL = { enabled: 'Enabled', disabled: 'Disabled' };

export function hookStatusBadge(status) {
  return h('span', { class: 'badge hook-status', dataset: { status }, text: HOOK_STATUS_LABEL[status] || status });
}

/** "All events" or "panel.completed, panel.failed". */
export function eventsText(events) {
  const list = Array.isArray(events) ? events : [];
  if (list.includes('*')) return 'All events';
  return list.length ? list.join(', ') : 'No events';
}

/** "3 failed attempts in a row, since 3 Dec 2026, 10:00" ('' when it is not failing). */
export function failuresText(endpoint) {
  const n = Number(endpoint.consecutive_failures) || 0;
  if (!n) return '';
  return `${n} failed attempt${n === 1 ? '' : 's'} in a row${endpoint.failing_since ? `, since ${fmtDate(endpoint.failing_since)}` : ''}`;
}

/** The endpoint's URL, description and events from a form; null after saying what is wrong. */
export function endpointFields({ url, urlErr, description, descriptionErr, events }) {
  showFieldError(urlErr, url, null);
  showFieldError(descriptionErr, description, null);
  const body = { url: url.value.trim(), description: description.value.trim() };
  if (!body.url) {
    showFieldError(urlErr, url, 'Enter the address that receives the deliveries.');
    url.focus();
    return null;
  }
  body.events = events.value();
  return body.events ? body : null;
}

/** A 422's fields at their inputs; true when one was shown. */
export function refuseFields(ex, { url, urlErr, description, descriptionErr, events }) {
  const f = ex.fields || {};
  if (f.url) showFieldError(urlErr, url, `The address ${f.url}.`);
  if (f.description) showFieldError(descriptionErr, description, `The description ${f.description}.`);
  if (f.events) events.refuse(`The events ${f.events}.`);
  if (f.url) url.focus();
  else if (f.description) description.focus();
  return Boolean(f.url || f.description || f.events);
}

/** The URL and description fields (ids `${prefix}-url`, `${prefix}-description`) with their errors. */
export function endpointInputs(prefix, endpoint = {}) {
  const url = h('input', { type: 'text', inputmode: 'url', id: `${prefix}-url`, name: 'url', autocomplete: 'off', spellcheck: 'false', maxlength: 2048, value: endpoint.url || '', required: true, 'aria-describedby': `${prefix}-url-help ${prefix}-url-err` });
  const description = h('input', { type: 'text', id: `${prefix}-description`, name: 'description', autocomplete: 'off', maxlength: 500, value: endpoint.description || '', 'aria-describedby': `${prefix}-description-err` });
  const urlErr = fieldError(`${prefix}-url-err`);
  const descriptionErr = fieldError(`${prefix}-description-err`);
  const el = [
    h('div', { class: 'field' }, h('label', { for: url.id, text: 'Address (URL)' }), url, h('p', { class: 'help', id: `${prefix}-url-help`, text: 'https, to a public address. Deliveries are POSTed there as JSON, signed.' }), urlErr),
    h('div', { class: 'field' }, h('label', { for: description.id, text: 'Description (optional)' }), description, descriptionErr),
  ];
  return { el, url, urlErr, description, descriptionErr };
}

/**
 * The events an endpoint hears: "all" (and any type added later), or the
 * chosen ones. `types`: [{type, description}]; `selected`: an endpoint's
 * events (['*'] for all). `prefix` keeps its ids apart from another form's.
 * Returns { el, value() (the events, or null after saying what is wrong), refuse(message) }.
 */
export function eventsChooser(types, selected, prefix) {
  const chosen = new Set(selected || ['*']);
  const all = chosen.has('*');
  const err = fieldError(`${prefix}-events-err`);
  const allRadio = h('input', { type: 'radio', name: `${prefix}-events-mode`, id: `${prefix}-events-all`, value: 'all', checked: all });
  const someRadio = h('input', { type: 'radio', name: `${prefix}-events-mode`, id: `${prefix}-events-some`, value: 'some', checked: !all });
  const boxes = h(
    'ul',
    { class: 'event-boxes', id: `${prefix}-event-boxes`, 'aria-label': 'Event types' },
    types.map((t) => {
      const id = uid(`${prefix}-event`);
      return h(
        'li',
        {},
        h('input', { type: 'checkbox', id, value: t.type, checked: !all && chosen.has(t.type), 'aria-describedby': `${id}-help`, dataset: { type: t.type } }),
        h('label', { for: id }, h('code', { text: t.type })),
        h('p', { class: 'help', id: `${id}-help`, text: t.description || '' }),
      );
    }),
  );
  const sync = () => {
    const off = allRadio.checked;
    boxes.dataset.disabled = String(off);
    for (const box of boxes.querySelectorAll('input')) box.disabled = off;
  };
  allRadio.addEventListener('change', sync);
  someRadio.addEventListener('change', () => {
    sync();
    const first = boxes.querySelector('input');
    if (first && !boxes.querySelector('input:checked')) first.focus();
  });
  sync();
  const el = h(
    'fieldset',
    { class: 'field events-choice', id: `${prefix}-events`, 'aria-describedby': `${prefix}-events-err` },
    h('legend', { text: 'Events to send' }),
    h(
      'div',
      { class: 'choices inline' },
      h('div', { class: 'choice' }, allRadio, h('label', { for: allRadio.id, text: 'All events, and any added later' })),
      h('div', { class: 'choice' }, someRadio, h('label', { for: someRadio.id, text: 'Only the ones chosen' })),
    ),
    boxes,
    err,
  );
  return {
    el,
    value() {
      if (allRadio.checked) {
        showFieldError(err, null, null);
        return ['*'];
      }
      const events = [...boxes.querySelectorAll('input:checked')].map((b) => b.value);
      showFieldError(err, null, events.length ? null : 'Choose at least one event, or all of them.');
      if (!events.length) {
        const first = boxes.querySelector('input');
        if (first) first.focus();
        return null;
      }
      return events;
    },
    refuse(message) {
      showFieldError(err, null, message);
    },
  };
}

/**
 * The signing secret, shown once: after a create (`rotated` false) or a
 * rotation. Read-only with a copy button; the page keeps it nowhere else.
 */
export function secretBox(endpoint, { rotated = false } = {}) {
  const { input, copy, copyMsg } = copyField({ id: 'hook-secret', value: endpoint.secret, noun: 'secret', button: 'Copy the secret', describedBy: 'hook-secret-warning hook-secret-help' });
  return h(
    'div',
    { class: 'secret-box', id: 'hook-secret-box', dataset: { endpoint: endpoint.id } },
    h('label', { for: 'hook-secret', text: `${rotated ? 'The new signing secret' : 'The signing secret'} of ${endpoint.url}` }),
    h('div', { class: 'inline-row' }, input, copy),
    h('p', { class: 'secret-warning', id: 'hook-secret-warning', text: 'Copy it now: you will not see it again. If it is lost, rotate the secret to get a new one.' }),
    h(
      'p',
      { class: 'help', id: 'hook-secret-help', text: rotated ? 'For a day, deliveries carry a second signature made with the old secret, so your receiver can switch without losing a message.' : 'Your receiver checks each delivery’s webhook-signature with it (Standard Webhooks: HMAC-SHA256 over the webhook-id, webhook-timestamp and body).' },
    ),
    copyMsg,
  );
}
