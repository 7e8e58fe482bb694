// The Administration console's Branding tab (admins): the organisation's
// display name, primary colour, an optional secondary colour and a logo
// (docs/administration.md, "Branding"). What the admin types or picks shows
// at once in the page's own header and colours (a live preview); Cancel, or
// leaving the tab without saving, puts the saved branding back. Save sends
// the name and colours (PATCH /v1/tenant), then the logo: a new file as the
// raw body of PUT /v1/tenant/logo, or its removal (DELETE). A logo is
// checked here first (type and size, as the server checks them) and shown
// from a data: address until it is saved (the page's CSP allows no blob:).

import { announcer, h } from './dom.js';
import { fmtBytes } from './format.js';
import { api } from './api.js';
import { applyBranding, session } from './session.js';
import { fieldError, showFieldError } from './view.js';

const HEX_RE = /^#[0-9a-fA-F]{6}$/;
/** What PUT /v1/tenant/logo takes: no SVG (it can carry script). */
const LOGO_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];
const LOGO_MAX_BYTES = 256 * 1024;
const DEFAULT_PRIMARY = '#2f5bea';

const savedBranding = () => (session.tenant && session.tenant.branding) || {};

/** A colour as a picker and its #rrggbb text, kept in step (ids `${id}` and `${id}-hex`). */
function colourField(id, label, help) {
  const picker = h('input', { type: 'color', id, name: id, 'aria-describedby': `${id}-help` });
  const hex = h('input', { type: 'text', id: `${id}-hex`, name: `${id}-hex`, class: 'hex-input', autocomplete: 'off', spellcheck: 'false', maxlength: 7, 'aria-label': `${label} as #rrggbb`, 'aria-describedby': `${id}-help ${id}-err` });
  const err = fieldError(`${id}-err`);
  picker.addEventListener('input', () => {
    hex.value = picker.value;
  });
  hex.addEventListener('input', () => {
    if (HEX_RE.test(hex.value.trim())) picker.value = hex.value.trim().toLowerCase();
  });
  const el = h('div', { class: 'field colour-field', dataset: { field: id } }, h('label', { for: id, text: label }), h('div', { class: 'inline-row colour-row' }, picker, hex), h('p', { class: 'help', id: `${id}-help`, text: help }), err);
  return {
    el,
    picker,
    hex,
    err,
    /** The colour typed or picked, lower case; null when it is not #rrggbb. */
    value() {
      const v = hex.value.trim();
      return HEX_RE.test(v) ? v.toLowerCase() : null;
    },
    set(color) {
      hex.value = color || '';
      picker.value = HEX_RE.test(color || '') ? color.toLowerCase() : DEFAULT_PRIMARY;
    },
  };
}

/** Returns { el, destroy } for the console (admin.js); destroy puts the saved branding back on the page. */
export function brandingTab() {
  let destroyed = false;
  // A logo chosen but not saved: { file, dataUrl }; or `remove` the saved one.
  let pending = { file: null, dataUrl: null, remove: false };

  const name = h('input', { type: 'text', id: 'brand-display-name', name: 'display_name', autocomplete: 'off', maxlength: 100, required: true, 'aria-describedby': 'brand-display-name-help brand-display-name-err' });
  const nameErr = fieldError('brand-display-name-err');
  const primary = colourField('brand-primary', 'Primary colour', 'The top bar’s line and the main buttons. Text on and beside it is kept readable: a light colour gets dark text.');
  const secondaryOn = h('input', { type: 'checkbox', id: 'brand-secondary-on', name: 'secondary_on', 'aria-describedby': 'brand-secondary-on-help' });
  const secondary = colourField('brand-secondary', 'Secondary colour', 'Accents: the current navigation entry, the rounds of a panel, quoted passages. A light one is darkened for those so they stay visible.');
  const logoFile = h('input', { type: 'file', id: 'brand-logo-file', name: 'logo', accept: LOGO_TYPES.join(','), 'aria-describedby': 'brand-logo-help brand-logo-err' });
  const logoErr = fieldError('brand-logo-err');
  const logoPreview = h('img', { class: 'logo-preview', id: 'brand-logo-preview', alt: '', hidden: true });
  const logoNote = h('p', { class: 'help', id: 'brand-logo-note' });
  const logoRemove = h('button', { type: 'button', class: 'btn btn-small', id: 'brand-logo-remove', text: 'Remove the logo' });
  const save = h('button', { type: 'submit', class: 'btn btn-primary', id: 'branding-save', text: 'Save' });
  const cancel = h('button', { type: 'button', class: 'btn', id: 'branding-cancel', text: 'Cancel' });
  const status = h('p', { class: 'list-msg', id: 'branding-status', role: 'status' });

  /** What the form says now, as a branding object (what is unreadable is the saved value). */
  function draft() {
    const b = savedBranding();
    return {
      display_name: name.value.trim() || b.display_name,
      primary_color: primary.value() || b.primary_color,
      secondary_color: secondaryOn.checked ? secondary.value() || b.secondary_color || null : null,
      logo_url: pending.remove ? null : pending.dataUrl || b.logo_url || null,
    };
  }

  function changed() {
    const b = savedBranding();
    const d = draft();
    return d.display_name !== b.display_name || d.primary_color !== (b.primary_color || '').toLowerCase() || d.secondary_color !== ((b.secondary_color || '').toLowerCase() || null) || Boolean(pending.file) || (pending.remove && Boolean(b.logo_url));
  }

  function showLogo() {
    const d = draft();
    logoPreview.hidden = !d.logo_url;
    if (d.logo_url) logoPreview.src = d.logo_url;
    else logoPreview.removeAttribute('src');
    logoPreview.alt = d.logo_url ? (pending.file ? 'The new logo, not saved yet' : 'The current logo') : '';
    logoNote.textContent = pending.file ? `New: ${pending.file.name} (${fmtBytes(pending.file.size)}), shown in the top bar; saved with Save.` : pending.remove ? 'The logo will be removed when you save.' : d.logo_url ? 'The current logo.' : 'No logo: the top bar shows the name alone.';
    logoRemove.hidden = !d.logo_url;
  }

  /** The live preview: the page's header and colours as the form has them. */
  function preview() {
    secondary.picker.disabled = !secondaryOn.checked;
    secondary.hex.disabled = !secondaryOn.checked;
    applyBranding(draft());
    showLogo();
    const dirty = changed();
    if (dirty) status.textContent = 'Previewing unsaved changes in the top bar: Save keeps them, Cancel goes back.';
    else if (status.dataset.state === 'dirty') status.textContent = '';
    status.dataset.state = dirty ? 'dirty' : '';
  }

  function clearErrors() {
    showFieldError(nameErr, name, null);
    showFieldError(primary.err, primary.hex, null);
    showFieldError(secondary.err, secondary.hex, null);
    showFieldError(logoErr, logoFile, null);
  }

  /** The form as the server has the branding; the page too. */
  function fill() {
    const b = savedBranding();
    name.value = b.display_name || '';
    primary.set(b.primary_color || DEFAULT_PRIMARY);
    secondaryOn.checked = Boolean(b.secondary_color);
    secondary.set(b.secondary_color || b.primary_color || DEFAULT_PRIMARY);
    pending = { file: null, dataUrl: null, remove: false };
    logoFile.value = '';
    preview();
  }

  logoFile.addEventListener('change', () => {
    showFieldError(logoErr, logoFile, null);
    const f = logoFile.files && logoFile.files[0];
    if (!f) return;
    let problem = null;
    if (!LOGO_TYPES.includes(f.type)) problem = `“${f.name}” is not a PNG, JPEG, GIF or WebP image${f.type === 'image/svg+xml' ? ' (SVG is not accepted: it can carry script)' : ''}.`;
    else if (f.size > LOGO_MAX_BYTES) problem = `“${f.name}” is ${fmtBytes(f.size)}: a logo may be at most 256 KB.`;
    if (problem) {
      logoFile.value = '';
      showFieldError(logoErr, logoFile, problem);
      return;
    }
    const reader = new FileReader();
    reader.addEventListener('load', () => {
      if (destroyed) return;
      pending = { file: f, dataUrl: String(reader.result), remove: false };
      preview();
    });
    reader.addEventListener('error', () => showFieldError(logoErr, logoFile, `“${f.name}” could not be read.`));
    reader.readAsDataURL(f);
  });
  logoRemove.addEventListener('click', () => {
    pending = { file: null, dataUrl: null, remove: Boolean(savedBranding().logo_url) };
    logoFile.value = '';
    preview();
    logoFile.focus();
  });
  for (const input of [name, primary.picker, primary.hex, secondary.picker, secondary.hex]) input.addEventListener('input', preview);
  secondaryOn.addEventListener('change', preview);

  /** The server's word on a field (a 422's `fields`, named `branding.x` or `x`) at its input; true when one was shown. */
  function refuse(fields) {
    const at = { display_name: [nameErr, name, 'The name'], primary_color: [primary.err, primary.hex, 'The primary colour'], secondary_color: [secondary.err, secondary.hex, 'The secondary colour'] };
    let first = null;
    for (const [field, message] of Object.entries(fields || {})) {
      const spot = at[field.replace(/^branding\./, '')];
      if (!spot) continue;
      showFieldError(spot[0], spot[1], `${spot[2]} ${message}.`);
      first = first || spot[1];
    }
    if (first) first.focus();
    return Boolean(first);
  }

  /** What Save sends: only what differs from the saved branding; null after saying what is wrong. */
  function changes() {
    const b = savedBranding();
    const body = {};
    const bad = [];
    if (!name.value.trim()) bad.push([nameErr, name, 'Enter the name your people and share links see.']);
    if (!primary.value()) bad.push([primary.err, primary.hex, 'Enter a colour as #rrggbb, for example #2f5bea.']);
    if (secondaryOn.checked && !secondary.value()) bad.push([secondary.err, secondary.hex, 'Enter a colour as #rrggbb, or untick the secondary colour.']);
    for (const [err, input, text] of bad) showFieldError(err, input, text);
    if (bad.length) {
      bad[0][1].focus();
      return null;
    }
    if (name.value.trim() !== b.display_name) body.display_name = name.value.trim();
    if (primary.value() !== (b.primary_color || '').toLowerCase()) body.primary_color = primary.value();
    const second = secondaryOn.checked ? secondary.value() : null;
    if (second !== ((b.secondary_color || '').toLowerCase() || null)) body.secondary_color = second;
    return body;
  }

  async function submit(e) {
    e.preventDefault();
    clearErrors();
    const body = changes();
    if (!body) {
      status.textContent = 'Not saved: see the marked fields.';
      return;
    }
    const logo = pending;
    if (!Object.keys(body).length && !logo.file && !(logo.remove && savedBranding().logo_url)) {
      status.textContent = 'Nothing changed, so nothing was saved.';
      return;
    }
    save.disabled = true;
    cancel.disabled = true;
    status.textContent = 'Saving…';
    const keep = (tenant) => {
      if (tenant) session.tenant = { ...session.tenant, ...tenant };
    };
    let logoProblem = null;
    try {
      if (Object.keys(body).length) keep(await api('PATCH', '/v1/tenant', { branding: body }));
    } catch (ex) {
      save.disabled = false;
      cancel.disabled = false;
      if (destroyed) return;
      const marked = ex.status === 422 && refuse(ex.fields);
      status.textContent = `Not saved: ${marked ? 'see the marked fields.' : ex.message}`;
      return;
    }
    try {
      if (logo.file) keep(await api('PUT', '/v1/tenant/logo', logo.file, { contentType: logo.file.type }));
      else if (logo.remove && savedBranding().logo_url) keep(await api('DELETE', '/v1/tenant/logo'));
    } catch (ex) {
      logoProblem = ex.message;
    }
    save.disabled = false;
    cancel.disabled = false;
    if (destroyed) return;
    fill();
    if (logoProblem) {
      showFieldError(logoErr, logoFile, `The logo was not ${logo.file ? 'saved' : 'removed'}: ${logoProblem}`);
      status.textContent = Object.keys(body).length ? 'The name and colours were saved; the logo was not (see the logo field).' : 'Not saved: see the logo field.';
      logoFile.focus();
    } else {
      status.textContent = 'Saved: everyone sees the new branding from their next page load.';
      announcer.say('Branding saved.');
    }
  }

  cancel.addEventListener('click', () => {
    clearErrors();
    fill();
    status.textContent = 'Changes discarded: the saved branding is back.';
    announcer.say('Changes discarded.');
  });

  const form = h(
    'form',
    { class: 'branding-form', id: 'branding-form', novalidate: true, 'aria-labelledby': 'branding-h' },
    h('div', { class: 'field' }, h('label', { for: 'brand-display-name', text: 'Display name' }), name, h('p', { class: 'help', id: 'brand-display-name-help', text: 'In the top bar, the window title, share links and reports.' }), nameErr),
    h('div', { class: 'grid2 colours' }, primary.el, h('div', {}, h('div', { class: 'choice' }, secondaryOn, h('label', { for: 'brand-secondary-on', text: 'Use a secondary colour for accents' })), h('p', { class: 'help', id: 'brand-secondary-on-help', text: 'Without one, accents use the primary colour.' }), secondary.el)),
    h(
      'fieldset',
      { class: 'field logo-field', 'aria-describedby': 'brand-logo-note' },
      h('legend', { text: 'Logo' }),
      h('div', { class: 'logo-row' }, logoPreview, h('div', {}, logoNote, logoRemove)),
      h('label', { for: 'brand-logo-file', text: 'Choose a new logo' }),
      logoFile,
      h('p', { class: 'help', id: 'brand-logo-help', text: 'PNG, JPEG, GIF or WebP, at most 256 KB; about 32 pixels high in the top bar. SVG is not accepted.' }),
      logoErr,
    ),
    h('div', { class: 'actions' }, save, cancel),
    status,
  );
  form.addEventListener('submit', submit);

  const el = h('div', { class: 'admin-branding' }, h('section', { class: 'people-section', 'aria-labelledby': 'branding-h' }, h('h2', { id: 'branding-h', text: 'Branding' }), h('p', { class: 'help', text: 'Changes show in this page’s top bar as you make them. Nobody else sees them until you save.' }), form));
  fill();
  return {
    el,
    destroy() {
      destroyed = true;
      // Leaving without saving: the page wears the saved branding again.
      applyBranding(savedBranding());
    },
  };
}
