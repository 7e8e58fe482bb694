// What the Experts screens share (docs/experts.md): an expert's scope and
// badges (hidden, preferred, archived), the organisation's settings for one
// (hide or prefer: PATCH {hidden} / {preferred}), the fields of the add and
// change forms (lists one item a line) with the server's word at each, and a
// sentence carried from one screen to the next (a deletion, then the list).

import { h } from './dom.js';
import { api } from './api.js';
import { fieldError, showFieldError } from './view.js';

export const SCOPE_LABEL = { platform: 'Platform', tenant: 'Your organisation' };

/** "Platform" or "Your organisation" (the expert's `scope`: platform or tenant). */
export function scopeTag(scope) {
  return h('span', { class: 'tag expert-scope', dataset: { scope }, text: SCOPE_LABEL[scope] || scope });
}

/** The badges of an expert's state for this organisation: hidden, preferred, archived (none when plain). */
export function expertBadges(ex) {
  const badge = (flag, text) => h('span', { class: 'badge expert-flag', dataset: { flag }, text });
  return [ex.archived ? badge('archived', 'Archived') : null, ex.hidden ? badge('hidden', 'Hidden') : null, ex.preferred ? badge('preferred', 'Preferred') : null];
}

/**
 * Hides or prefers an expert (admins): `change` is {hidden} or {preferred},
 * never both at once (the server refuses a hidden expert that is preferred).
 * Resolves with the expert as the server now has it, and what happened in words.
 */
export async function changeSetting(ex, change) {
  const updated = await api('PATCH', `/v1/experts/${encodeURIComponent(ex.id)}`, change);
  let said;
  if ('hidden' in change) {
    said = change.hidden
      ? `${ex.name} is hidden: never seated on a new panel, and left out of the list.${ex.preferred ? ' It is no longer preferred.' : ''}`
      : `${ex.name} is shown again and may be seated.`;
  } else {
    said = change.preferred ? `${ex.name} is preferred: their relevance to a question counts 1.5 times.` : `${ex.name} is no longer preferred.`;
  }
  return { expert: updated, said };
}

/**
 * The Prefer and Hide buttons of one expert (admins), labelled with its name.
 * A hidden expert is not preferred: Prefer waits until it is shown again.
 * `onChanged(expert, said)` after the server answered; `onError(message)`.
 */
/** `track`: given the change's request, e.g. a list's `freshLoads().write` (fresh.js). */
export function settingButtons(ex, { onChanged, onError, idPrefix = '', track = (request) => request }) {
  // Each says what it will do (like an endpoint's Enable/Disable), so no aria-pressed beside it.
  const prefer = h('button', { type: 'button', class: 'btn btn-small', id: idPrefix ? `${idPrefix}-prefer` : null });
  const hide = h('button', { type: 'button', class: 'btn btn-small', id: idPrefix ? `${idPrefix}-hide` : null });
  const show = (e) => {
    prefer.textContent = e.preferred ? 'Unprefer' : 'Prefer';
    prefer.setAttribute('aria-label', `${e.preferred ? 'Stop preferring' : 'Prefer'} ${e.name}`);
    hide.textContent = e.hidden ? 'Unhide' : 'Hide';
    hide.setAttribute('aria-label', `${e.hidden ? 'Show again' : 'Hide'} ${e.name}`);
    prefer.disabled = Boolean(e.hidden || e.archived);
    hide.disabled = Boolean(e.archived);
  };
  show(ex);
  const act = async (button, change) => {
    button.disabled = true;
    try {
      const { expert, said } = await track(changeSetting(ex, change));
      Object.assign(ex, expert);
      show(ex);
      onChanged(ex, said);
    } catch (e) {
      show(ex);
      onError(`${ex.name}: not changed: ${e.message}`);
    }
  };
  prefer.addEventListener('click', () => act(prefer, { preferred: !ex.preferred }));
  hide.addEventListener('click', () => act(hide, { hidden: !ex.hidden }));
  return { el: [prefer, hide], prefer, hide, update: show };
}

/** The lines of a textarea, trimmed, empty ones dropped. */
export function linesOf(text) {
  return String(text || '')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
}

// The form's fields: [name, label, kind, help]. Lists are one item a line.
const FIELDS = [
  ['name', 'Name', 'text', null],
  ['title', 'Title (optional)', 'text', 'What they do, for example “Hospital pharmacist”.'],
  ['domain', 'Domain', 'text', 'One word or two, for example “pharmacy” or “public health”: it spreads a panel across fields.'],
  ['persona', 'Persona', 'area', 'The text the model speaks from: who they are and how they argue.'],
  ['background', 'Background (optional)', 'area', 'Where their judgement comes from.'],
  ['weighs', 'What they weigh most (optional)', 'list', 'One a line, at most 10.'],
  ['sceptical_of', 'What they are sceptical of (optional)', 'list', 'One a line, at most 10.'],
  ['tags', 'Search tags (optional)', 'list', 'One a line: words a question about their field would use.'],
];
const REQUIRED = new Set(['name', 'domain', 'persona']);
const LABEL = { name: 'The name', title: 'The title', domain: 'The domain', persona: 'The persona', background: 'The background', weighs: 'What they weigh', sceptical_of: 'What they are sceptical of', tags: 'The tags' };

/**
 * The fields of an expert (ids `${prefix}-${field}`), filled from `ex` when
 * changing one; `domains` offered as suggestions. Returns { el, body(), refuse(ex), reset() }.
 */
export function expertFields(prefix, ex = {}, domains = []) {
  const inputs = {};
  const errs = {};
  const listId = `${prefix}-domains`;
  const el = FIELDS.map(([name, label, kind, help]) => {
    const id = `${prefix}-${name}`;
    const describedBy = [help ? `${id}-help` : null, `${id}-err`].filter(Boolean).join(' ');
    let value = ex[name];
    if (kind === 'list') value = Array.isArray(value) ? value.join('\n') : '';
    const props = { id, name, autocomplete: 'off', 'aria-describedby': describedBy, value: value || '', required: REQUIRED.has(name) };
    const input =
      kind === 'text'
        ? h('input', { type: 'text', ...props, spellcheck: name === 'domain' ? 'false' : null, list: name === 'domain' ? listId : null })
        : h('textarea', { ...props, rows: kind === 'list' ? 3 : name === 'persona' ? 5 : 3, spellcheck: kind === 'list' ? 'false' : null });
    inputs[name] = input;
    errs[name] = fieldError(`${id}-err`);
    return h('div', { class: 'field', dataset: { field: name } }, h('label', { for: id, text: label }), input, help ? h('p', { class: 'help', id: `${id}-help`, text: help }) : null, errs[name]);
  });
  el.push(h('datalist', { id: listId }, domains.map((d) => h('option', { value: d }))));
  const valueOf = (name) => {
    const kind = FIELDS.find((f) => f[0] === name)[2];
    return kind === 'list' ? linesOf(inputs[name].value) : inputs[name].value.trim();
  };
  const clearErrors = () => {
    for (const name of Object.keys(inputs)) showFieldError(errs[name], inputs[name], null);
  };
  return {
    el,
    inputs,
    /**
     * The body to send, or null after saying what is missing (the keyboard on
     * the first such field). Creating: every filled field. Changing (`ex`
     * given): only what differs from it; {} when nothing does.
     */
    body(changing = null) {
      clearErrors();
      const missing = FIELDS.map((f) => f[0]).filter((n) => REQUIRED.has(n) && !valueOf(n));
      for (const n of missing) showFieldError(errs[n], inputs[n], `${LABEL[n]} is needed.`);
      if (missing.length) {
        inputs[missing[0]].focus();
        return null;
      }
      const body = {};
      for (const [name, , kind] of FIELDS) {
        const v = valueOf(name);
        if (changing) {
          const before = kind === 'list' ? (changing[name] || []) : changing[name] || '';
          if (JSON.stringify(before) !== JSON.stringify(v)) body[name] = v;
        } else if (kind === 'list' ? v.length : v) body[name] = v;
      }
      return body;
    },
    /** A 422's fields at their inputs (the keyboard on the first); the rest (`body`) in words, returned. */
    refuse(e) {
      const fields = e.fields || {};
      let first = null;
      const loose = [];
      for (const [field, message] of Object.entries(fields)) {
        if (inputs[field]) {
          showFieldError(errs[field], inputs[field], `${LABEL[field]}: ${message}.`);
          if (!first || first.compareDocumentPosition(inputs[field]) & Node.DOCUMENT_POSITION_PRECEDING) first = inputs[field];
        } else loose.push(field === 'body' ? message : `${field}: ${message}`);
      }
      if (first) first.focus();
      return loose.join('; ');
    },
    /** The fields as `e` has them. */
    fill(e) {
      for (const [name, , kind] of FIELDS) inputs[name].value = kind === 'list' ? (e[name] || []).join('\n') : e[name] || '';
    },
    reset() {
      clearErrors();
      for (const input of Object.values(inputs)) input.value = '';
    },
  };
}

/** The domains of `experts`, sorted, each once. */
export function domainsOf(experts) {
  return [...new Set(experts.map((e) => e.domain).filter(Boolean))].sort();
}

// A sentence for the next screen (after a deletion the list says what happened).
let carried = '';

export function carryMessage(text) {
  carried = text;
}

export function takeCarriedMessage() {
  const text = carried;
  carried = '';
  return text;
}
