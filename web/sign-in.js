// The sign-in screen: a person signs in with their organisation, email and
// password (the first way); "Forgot password?" asks for a reset link; an
// organisation with single sign-on also gets a button that leaves for its
// identity provider (docs/accounts.md), whose failures come back here with a
// reason to say; an API key still signs in as before (the second way, folded
// away unless it was the last way used). The organisation's short name is
// remembered in localStorage (it is no secret); the password and key never are.

import { announcer, h, uid } from './dom.js';
import { api } from './api.js';
import { app } from './state.js';
import { fieldError, mountView, showFieldError } from './view.js';

const TENANT_STORAGE = 'askpanel.organisation';

/** What the page says when single sign-on comes back without a session (`#/sign-in?sso_error=CODE`). */
const SSO_ERRORS = {
  cancelled: 'Single sign-on was cancelled.',
  expired: 'The sign-in took too long or was started in another browser; try again.',
  provider: 'The identity provider could not be reached; try again or use your password.',
  no_account: 'No account here matches that identity. Ask an admin to invite you.',
};

/** How long the organisation field rests before its ways of signing in are looked up. */
const PROVIDERS_DEBOUNCE_MS = 300;

/** A tenant's short name as the server accepts one (src/routes/admin.rs, valid_slug). */
const SLUG_RE = /^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$/;

export function rememberedTenant() {
  try {
    return localStorage.getItem(TENANT_STORAGE) || '';
  } catch {
    return '';
  }
}

export function rememberTenant(slug) {
  try {
    localStorage.setItem(TENANT_STORAGE, slug);
  } catch {
    // Private modes may refuse storage: the field is simply empty next time.
  }
}

/** "30 s", "2 min": how long a 429 asks to wait. */
export function waitText(seconds) {
  if (seconds == null) return 'a moment';
  return seconds < 90 ? `${Math.max(1, seconds)} s` : `${Math.ceil(seconds / 60)} min`;
}

/** A labelled input with its help and error lines: { el, input, err }. */
function field(id, label, attrs, help) {
  const errId = `${id}-err`;
  const helpId = help ? `${id}-help` : null;
  const input = h('input', { id, name: id, spellcheck: 'false', 'aria-describedby': [helpId, errId].filter(Boolean).join(' '), ...attrs });
  const err = fieldError(errId);
  return { input, err, el: h('div', { class: 'field' }, h('label', { for: id, text: label }), input, help ? h('p', { class: 'help', id: helpId, text: help }) : null, err) };
}

/**
 * Mounts the sign-in screen. `message`: a notice on top (signed out, password
 * changed). `keyOpen`: show the API key form unfolded (the last sign-in used
 * a key). `prefill`: { tenant, email } for the password form. `ssoError`: why
 * single sign-on signed nobody in (a code of SSO_ERRORS), said on the form.
 */
export function signInView(message, { keyOpen = false, prefill = {}, ssoError = null } = {}) {
  const tenant = field('signin-tenant', 'Organisation', { type: 'text', autocomplete: 'organization', required: true, value: prefill.tenant || rememberedTenant(), autocapitalize: 'none' }, 'Its short name, as in your invitation (for example “acme”).');
  const email = field('signin-email', 'Email', { type: 'email', autocomplete: 'username', required: true, value: prefill.email || '' });
  const password = field('signin-password', 'Password', { type: 'password', autocomplete: 'current-password', required: true });
  const problem = h('p', { class: 'form-problem', id: 'signin-error', role: 'alert', hidden: true });
  const button = h('button', { type: 'submit', class: 'btn btn-primary', id: 'signin-submit', text: 'Sign in' });
  const forgotToggle = h('button', { type: 'button', class: 'btn btn-quiet btn-small', id: 'forgot-toggle', 'aria-expanded': 'false', 'aria-controls': 'forgot', text: 'Forgot password?' });
  const forgot = forgotSection(tenant.input, email.input);
  const sso = ssoSection(tenant.input, email.input);
  const form = h(
    'form',
    { class: 'signin-form', id: 'signin-form', novalidate: true, 'aria-labelledby': 'signin-h' },
    tenant.el,
    email.el,
    password.el,
    problem,
    h('div', { class: 'actions' }, button, forgotToggle),
    sso,
  );
  const key = keySection(keyOpen);
  const notice = message ? h('p', { class: 'notice', id: 'signin-notice', role: 'status', text: message }) : null;
  const card = h('div', { class: 'card-form signin' }, h('h1', { id: 'signin-h', text: 'Sign in' }), notice, form, forgot.el, key);

  forgotToggle.addEventListener('click', () => {
    const open = forgot.el.hidden;
    forgot.el.hidden = !open;
    forgotToggle.setAttribute('aria-expanded', String(open));
    if (open) forgot.open();
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    problem.hidden = true;
    const values = { tenant: tenant.input.value.trim().toLowerCase(), email: email.input.value.trim(), password: password.input.value };
    const missing = [
      [tenant, values.tenant, 'Enter your organisation’s short name.'],
      [email, values.email, 'Enter your email address.'],
      [password, values.password, 'Enter your password.'],
    ];
    for (const [f, v, text] of missing) showFieldError(f.err, f.input, v ? null : text);
    const first = missing.find(([, v]) => !v);
    if (first) {
      first[0].input.focus();
      return;
    }
    button.disabled = true;
    button.textContent = 'Signing in…';
    try {
      const body = await api('POST', '/v1/auth/sign-in', values, { key: null });
      rememberTenant(body.tenant.slug);
      password.input.value = '';
      await app.startPerson(body);
      announcer.say(`Signed in to ${body.tenant.name} as ${body.user.name || body.user.email}.`);
    } catch (ex) {
      let text = ex.message;
      if (ex.status === 401) text = 'Wrong email or password (or no such organisation). Check all three and try again.';
      else if (ex.status === 429) text = `Too many attempts: this account or address is locked for now. Try again in ${waitText(ex.retryAfter)}.`;
      else if (ex.status === 422) {
        for (const [name, f] of Object.entries({ tenant, email, password })) if (ex.fields[name]) showFieldError(f.err, f.input, `${f.input.labels[0].textContent} ${ex.fields[name]}.`);
      }
      problem.textContent = text;
      problem.hidden = false;
      password.input.value = '';
      password.input.focus();
    } finally {
      button.disabled = false;
      button.textContent = 'Sign in';
    }
  });

  if (ssoError) {
    problem.textContent = SSO_ERRORS[ssoError] || 'Single sign-on did not sign you in; try again or use your password.';
    problem.hidden = false;
  }
  mountView('Sign in', card);
  const start = keyOpen ? key.querySelector('#key') : !tenant.input.value ? tenant.input : !email.input.value ? email.input : password.input;
  start.focus();
}

/**
 * The single sign-on button, shown only while the organisation field names a
 * tenant whose people may use it (GET /v1/auth/providers, asked once the
 * field holds a short name and rests, and at once for a prefilled one). It
 * leaves the page for the identity provider, with the typed email as a hint;
 * the server brings the browser back signed in (`#/`) or with a reason.
 */
function ssoSection(tenantInput, emailInput) {
  const button = h('button', { type: 'button', class: 'btn', id: 'signin-sso', 'aria-describedby': 'signin-sso-help', text: 'Sign in with single sign-on' });
  const el = h('div', { class: 'signin-sso', id: 'signin-sso-box', hidden: true }, button, h('p', { class: 'help', id: 'signin-sso-help', text: 'Through your organisation’s identity provider, without a password here.' }));
  // Answers per slug: they change only with the server's settings, so one look-up per screen is enough.
  const known = new Map();
  let shownFor = null;
  let timer = null;
  const slugOf = () => tenantInput.value.trim().toLowerCase();
  const show = (slug) => {
    shownFor = slug;
    el.hidden = !slug;
  };

  async function check() {
    clearTimeout(timer);
    const slug = slugOf();
    if (!SLUG_RE.test(slug)) {
      show(null);
      return;
    }
    if (!known.has(slug)) {
      try {
        const body = await api('GET', `/v1/auth/providers?tenant=${encodeURIComponent(slug)}`, undefined, { key: null });
        known.set(slug, Boolean(body && body.oidc));
      } catch {
        // Not known now (offline, a busy server): no button; the password still works.
        return;
      }
    }
    // The field may have changed while the answer was on its way: only the current slug counts.
    if (slugOf() === slug) show(known.get(slug) ? slug : null);
  }

  const later = () => {
    // Never a button for an organisation the field no longer names, not even until the look-up.
    if (shownFor && slugOf() !== shownFor) show(null);
    clearTimeout(timer);
    timer = setTimeout(check, PROVIDERS_DEBOUNCE_MS);
  };
  tenantInput.addEventListener('input', later);
  tenantInput.addEventListener('change', later);
  tenantInput.addEventListener('blur', later);
  if (tenantInput.value.trim()) check();

  button.addEventListener('click', () => {
    const slug = slugOf();
    if (slug !== shownFor) return;
    rememberTenant(slug);
    const query = new URLSearchParams({ tenant: slug });
    const hint = emailInput.value.trim();
    if (hint) query.set('login_hint', hint);
    announcer.say('Opening your organisation’s identity provider…');
    location.assign(`/v1/auth/oidc/start?${query}`);
  });
  return el;
}

/** "Forgot password?": a reset link by email; the answer never says whether the address has an account. */
function forgotSection(tenantInput, emailInput) {
  const tenant = field('forgot-tenant', 'Organisation', { type: 'text', autocomplete: 'organization', autocapitalize: 'none' });
  const email = field('forgot-email', 'Email', { type: 'email', autocomplete: 'username' });
  const status = h('p', { class: 'notice', id: 'forgot-status', role: 'status', hidden: true });
  const submit = h('button', { type: 'submit', class: 'btn', id: 'forgot-submit', text: 'Send me a reset link' });
  const form = h('form', { class: 'forgot-form', novalidate: true, 'aria-labelledby': 'forgot-h' }, tenant.el, email.el, h('div', { class: 'actions' }, submit));
  const el = h('section', { class: 'forgot', id: 'forgot', hidden: true, 'aria-labelledby': 'forgot-h' }, h('h2', { id: 'forgot-h', class: 'small-h', text: 'Reset your password' }), h('p', { class: 'help', text: 'We email a link to choose a new password. It works once, for an hour.' }), form, status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { tenant: tenant.input.value.trim().toLowerCase(), email: email.input.value.trim() };
    showFieldError(tenant.err, tenant.input, body.tenant ? null : 'Enter your organisation’s short name.');
    showFieldError(email.err, email.input, body.email ? null : 'Enter your email address.');
    if (!body.tenant || !body.email) {
      (body.tenant ? email : tenant).input.focus();
      return;
    }
    submit.disabled = true;
    status.hidden = false;
    status.textContent = 'Sending…';
    try {
      await api('POST', '/v1/auth/password-reset', body, { key: null });
      status.textContent = `If ${body.email} has an account in “${body.tenant}”, a link to choose a new password is on its way. No email? An admin of your organisation can give you a reset link.`;
    } catch (ex) {
      status.textContent = ex.status === 429 ? `Too many requests from here. Try again in ${waitText(ex.retryAfter)}.` : `Could not ask for a link: ${ex.message}`;
    } finally {
      submit.disabled = false;
    }
  });
  return {
    el,
    open() {
      tenant.input.value = tenant.input.value || tenantInput.value.trim();
      email.input.value = email.input.value || emailInput.value.trim();
      (tenant.input.value ? email.input : tenant.input).focus();
    },
  };
}

/** The second way in: an API key (kept in this tab's session storage), as before people had accounts. */
function keySection(open) {
  const errId = uid('key-err');
  const input = h('input', { id: 'key', name: 'key', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, 'aria-describedby': `key-help ${errId}` });
  const err = fieldError(errId);
  const button = h('button', { type: 'submit', class: 'btn', id: 'key-submit', text: 'Sign in with the key' });
  const form = h('form', { class: 'key-form', novalidate: true, 'aria-label': 'Sign in with an API key' }, h('div', { class: 'field' }, h('label', { for: 'key', text: 'API key' }), input, h('p', { class: 'help', id: 'key-help', text: 'For automation and shared screens. The key stays in this browser tab only (session storage).' }), err), button);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const key = input.value.trim();
    if (!key) {
      showFieldError(err, input, 'Enter your API key.');
      input.focus();
      return;
    }
    button.disabled = true;
    button.textContent = 'Signing in…';
    try {
      await app.signIn(key);
    } catch (ex) {
      showFieldError(err, input, ex.status === 401 ? 'This key was not accepted.' : ex.message);
      input.focus();
    } finally {
      button.disabled = false;
      button.textContent = 'Sign in with the key';
    }
  });
  return h('details', { class: 'signin-key', id: 'signin-key', open }, h('summary', { text: 'Use an API key instead' }), form);
}
