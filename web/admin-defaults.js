// The Administration console's Defaults tab (admins): what a new panel
// takes when its request leaves a field out: the format, the round limit,
// the consensus method and the human turn timeout (docs/experts.md,
// "Defaults for new panels"). Each may be "not set" (null: the server's own
// default). Saved as the whole set with PUT /v1/tenant/defaults; the
// server's word on a field (a 422's `fields`) is shown beside it.

import { announcer, h } from './dom.js';
import { METHOD_LABEL, PANEL_TYPES } from './format.js';
import { api } from './api.js';
import { fieldError, showFieldError } from './view.js';

const NOT_SET = 'Not set (the server’s default)';

// [field, label, kind, help]
const FIELDS = [
  ['panel_type', 'Panel format', 'select', 'The format of a panel whose request names none. With one set, the API may leave the format out.'],
  ['max_rounds', 'Round limit', 'number', '1 to 20 rounds. Empty: not set.'],
  ['consensus_method', 'Consensus method', 'select', 'How ratings become a level of agreement.'],
  ['human_turn_timeout_s', 'Human turn timeout (seconds)', 'number', '5 to 86400 seconds (a day) for a human member to answer. Empty: not set.'],
];
const OPTIONS = {
  panel_type: PANEL_TYPES.map((t) => [t.id, t.label]),
  consensus_method: Object.entries(METHOD_LABEL),
};
const LABEL = Object.fromEntries(FIELDS.map(([f, label]) => [f, label]));

/** Returns { el, destroy } for the console (admin.js). */
export function defaultsTab() {
  let destroyed = false;
  let saved = null;
  const inputs = {};
  const errs = {};
  const fields = FIELDS.map(([name, label, kind, help]) => {
    const id = `defaults-${name}`;
    const props = { id, name, 'aria-describedby': `${id}-help ${id}-err` };
    const input =
      kind === 'select'
        ? h('select', props, h('option', { value: '', text: NOT_SET }), OPTIONS[name].map(([v, text]) => h('option', { value: v, text })))
        : h('input', { ...props, type: 'text', inputmode: 'numeric', autocomplete: 'off', placeholder: 'Not set' });
    inputs[name] = input;
    errs[name] = fieldError(`${id}-err`);
    return h('div', { class: 'field', dataset: { field: name } }, h('label', { for: id, text: label }), input, h('p', { class: 'help', id: `${id}-help`, text: help }), errs[name]);
  });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'defaults-save', text: 'Save the defaults', disabled: true });
  const reset = h('button', { type: 'button', class: 'btn', id: 'defaults-cancel', text: 'Cancel', disabled: true });
  const msg = h('p', { class: 'list-msg', id: 'defaults-msg', role: 'status', text: 'Loading the defaults…' });

  function fill(d) {
    for (const [name] of FIELDS) inputs[name].value = d[name] === null || d[name] === undefined ? '' : String(d[name]);
  }

  function clearErrors() {
    for (const name of Object.keys(inputs)) showFieldError(errs[name], inputs[name], null);
  }

  /** The whole set as the form has it; null after marking a number that is not one. */
  function body() {
    const out = {};
    let first = null;
    for (const [name, , kind] of FIELDS) {
      const raw = inputs[name].value.trim();
      if (!raw) out[name] = null;
      else if (kind === 'number') {
        if (!/^\d+$/.test(raw)) {
          showFieldError(errs[name], inputs[name], `${LABEL[name]}: a whole number, or empty for not set.`);
          first = first || inputs[name];
        }
        out[name] = Number(raw);
      } else out[name] = raw;
    }
    if (first) {
      first.focus();
      return null;
    }
    return out;
  }

  const form = h('form', { class: 'defaults-form', id: 'defaults-form', novalidate: true, 'aria-labelledby': 'defaults-h' }, h('div', { class: 'grid2' }, fields), h('div', { class: 'actions' }, submit, reset), msg);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors();
    const b = body();
    if (!b) {
      msg.textContent = 'Not saved: see the marked fields.';
      return;
    }
    submit.disabled = true;
    msg.textContent = 'Saving…';
    try {
      saved = await api('PUT', '/v1/tenant/defaults', b);
      if (destroyed) return;
      fill(saved);
      const set = FIELDS.filter(([name]) => saved[name] !== null && saved[name] !== undefined).length;
      msg.textContent = `Saved: ${set ? `${set} default${set === 1 ? '' : 's'} set` : 'no defaults set'}. New panels take them from now on.`;
      announcer.say('Defaults saved.');
    } catch (ex) {
      if (destroyed) return;
      let first = null;
      const loose = [];
      for (const [field, message] of Object.entries(ex.fields || {})) {
        if (inputs[field]) {
          showFieldError(errs[field], inputs[field], `${LABEL[field]} ${message}.`);
          first = first || inputs[field];
        } else loose.push(`${field} ${message}`);
      }
      if (first) first.focus();
      msg.textContent = `Not saved: ${loose.length ? loose.join('; ') : first ? 'see the marked fields.' : ex.message}`;
    } finally {
      submit.disabled = false;
    }
  });
  reset.addEventListener('click', () => {
    clearErrors();
    if (saved) fill(saved);
    msg.textContent = 'Changes discarded.';
  });

  api('GET', '/v1/tenant/defaults')
    .then((d) => {
      if (destroyed) return;
      saved = d || {};
      fill(saved);
      submit.disabled = false;
      reset.disabled = false;
      msg.textContent = '';
    })
    .catch((ex) => {
      if (!destroyed) msg.textContent = `Could not load the defaults: ${ex.message}`;
    });

  const el = h(
    'div',
    { class: 'admin-defaults' },
    h('section', { class: 'people-section', 'aria-labelledby': 'defaults-h' }, h('h2', { id: 'defaults-h', text: 'Defaults for new panels' }), h('p', { class: 'help', text: 'What a new panel, a follow-up or a re-run takes when its request leaves a field out. What a request gives is kept.' }), form),
  );
  return {
    el,
    destroy() {
      destroyed = true;
    },
  };
}
