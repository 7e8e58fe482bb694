// askpanel browser client: the entry module (router and start-up).
//
// Plain ES modules, no dependencies, no build step, nothing loaded from the
// internet (the server's Content-Security-Policy allows only 'self'). Each
// module imports only modules below it in this list, never in a cycle:
//
//   app.js         this file: the router, sign in/out (key or person), the connection badge, start-up
//   shared-view.js a shared link's read-only panel view (no key), and the invalid-link view
//   shared-feed.js a shared link's feed: the log as JSON, then Server-Sent Events
//   panel-view.js  the live panel screen (cards, outcome or summary, activity, share, who is watching)
//   presence.js    who is watching a live panel; which human members are connected
//   human-turn.js  a human member's turn: countdown and answer box
//   moderation.js  the moderator bar; commands over the socket or HTTP
//   report-view.js a finished panel's summary from its report; downloads; print support
//   report-chart.js the consensus across rounds (inline SVG) from the report's figures
//   share.js       a moderator's read-only links to a panel: create, copy, list, revoke
//   follow-up.js   the parent and children of a panel; follow-up and re-run
//   timeline.js    the rounds: figures, charts and transcript
//   outcome.js     the live panel's outcome: recommendation, sources, agreement, dissent, verdict
//   citations.js   citation buttons in turns, evidence lines, sources, the passage dialog
//   forms.js       the create-panel form
//   doc-chooser.js the create form's documents chooser
//   list-view.js   the panel list: search, filters, load more
//   search-form.js the panel list's search box and filters (kept in the address)
//   documents.js   the Documents screen: library, storage, upload, paste, delete
//   doc-search.js  search over the documents, with the query's words marked
//   people.js      the People screen (admins): members, roles, reset links, removal
//   invitations.js invite, pending invitations, a one-time link shown with a copy button
//   audit-view.js  the Audit screen (admins): the trail, filters, load more
//   webhooks.js    the Webhooks screen (admins): endpoints, a test each, add one
//   webhook-endpoint.js one endpoint (admins): change, test, rotate, enable, delete
//   webhook-log.js an endpoint's delivery log: filter, payload, attempts, redeliver
//   webhook-parts.js what those share: the events chooser, the secret shown once
//   admin.js       the Administration console (admins): its tabs, and the experts' one
//   admin-keys.js  API keys: list, create (the key shown once, with a copy button), revoke
//   admin-branding.js name, colours and logo, previewed live in the top bar; cancel restores
//   admin-usage.js usage and limits: the month against the limits, tokens by day, by format
//   admin-defaults.js the defaults of new panels
//   experts.js     the Experts screen: the catalog, search and filters; admins hide, prefer and add
//   expert-view.js one expert's page: persona and the rest; admins' settings, change, delete (or archive)
//   expert-parts.js what those share: scope and badges, hide/prefer, the expert's form fields
//   why-chosen.js  why an AI member was seated, on its card in the panel view
//   panel-usage.js a finished panel's usage: tokens, turns, duration
//   account.js     the top bar's account menu; the Account screen (name, password, notification preferences)
//   notifications.js the top bar's bell: unread count, the list, live over the socket
//   links.js       one-time links: accept an invitation, reset a password
//   sign-in.js     the sign-in screen: password (and forgotten password), single sign-on, or an API key
//   view.js        mounting a view, field errors, a new password pair, not found, admins only
//   fresh.js       a list's loads that never show what was read before the view's own change was committed
//   chart.js       the ratings chart (inline SVG)
//   usage-chart.js tokens per day (inline SVG, with its table), a limit's meter, figures in words
//   feed.js        one panel's subscription: resume with after_seq, token merging
//   model.js       the panel model: the client's fold of durable events
//   socket.js      the one WebSocket: tokens, pings, reconnects
//   api.js         the HTTP API client (key or cookie with CSRF token) and its errors; who am I
//   session.js     the API key or the person's session, the caller's identity, branding
//   format.js      formatting and the labels of the server's enums
//   dom.js         DOM helpers and the live region
//   state.js       the shared `app` object and the debug counters
//
// Text from the server is only ever put into the page with textContent:
// never innerHTML, so panel text cannot inject markup. The server serves
// each file from a fixed table (src/routes/web.rs): a new module goes there too.

import { h, setText } from './dom.js';
import { applyBranding, session } from './session.js';
import { api, whoAmI } from './api.js';
import { LiveConnection } from './socket.js';
import { app, debugStats } from './state.js';
import { mountView, notFoundView } from './view.js';
import { createView } from './forms.js';
import { signInView, rememberTenant } from './sign-in.js';
import { LINK_PATHS, linkView, takeLinkToken } from './links.js';
import { accountView, closeAccountMenu, installAccountMenu, renderAccountMenu } from './account.js';
import { peopleView } from './people.js';
import { auditView } from './audit-view.js';
import { webhooksView } from './webhooks.js';
import { webhookView } from './webhook-endpoint.js';
import { expertsView } from './experts.js';
import { expertView } from './expert-view.js';
import { adminView } from './admin.js';
import { bellConnState, closeBell, installBell, startBell, stopBell } from './notifications.js';
import { listView } from './list-view.js';
import { documentsView } from './documents.js';
import { LiveView } from './panel-view.js';
import { invalidLinkView, sharedView } from './shared-view.js';
import { installPrintSupport } from './report-view.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The token of a shared link's address (`/shared/<token>`): '' when malformed, null for any other address. */
function sharedToken(path) {
  if (!path.startsWith('/shared/')) return null;
  let token = path.slice('/shared/'.length);
  try {
    token = decodeURIComponent(token);
  } catch {
    return '';
  }
  return /^[\x21-\x7e]{1,512}$/.test(token) && !token.includes('/') ? token : '';
}

/** The id after `prefix` in an address ('' when malformed: just not a panel or an endpoint). */
function idAfter(path, prefix) {
  try {
    return decodeURIComponent(path.slice(prefix.length));
  } catch {
    return '';
  }
}

const CONN_TEXT = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  open: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
};

// The methods of the shared `app` object (state.js), which the views call.
Object.assign(app, {
  conn() {
    if (!this.connection) this.connection = new LiveConnection({ onState: (st, detail) => this.showConnState(st, detail) });
    return this.connection;
  },

  /** Closes the page's socket and the bell that kept it open (a new credential, or none). */
  dropConnection() {
    stopBell();
    if (this.connection) this.connection.stop();
    this.connection = null;
  },

  showConnState(state, detail = {}) {
    const el = document.getElementById('conn');
    // Only live views watch a panel; elsewhere (a person's socket kept open for
    // the bell) its state means nothing to a person: the bell says when it is not live.
    el.hidden = state === 'idle' || !(this.connection && this.connection.watching());
    el.dataset.state = state;
    let text = CONN_TEXT[state] || state;
    if (state === 'reconnecting' && detail.delay) text = `Connection lost; retrying in ${Math.max(1, Math.round(detail.delay / 1000))} s…`;
    if (state === 'offline' && detail.reason) text = `Offline: ${detail.reason}`;
    setText(document.getElementById('conn-text'), text);
    bellConnState();
  },

  async signIn(key) {
    const tenant = await api('GET', '/v1/tenant', undefined, { key });
    session.forget();
    session.store(key);
    session.tenant = tenant;
    await whoAmI();
    this.showSignedIn();
    this.route();
  },

  /**
   * A person is signed in (the answer of sign-in, of an accepted invitation,
   * or of GET /v1/auth/session after a reload): the cookie is set, the CSRF
   * token kept in memory. `route`: go on to the page's address.
   */
  async startPerson(body, { route = true } = {}) {
    if (session.key) session.forget(); // a key would win over the cookie on every request
    this.dropConnection(); // a socket opened with another credential (a key, someone else) is not this person's
    session.startPerson(body);
    rememberTenant(body.tenant.slug);
    session.tenant = await api('GET', '/v1/tenant');
    await whoAmI();
    this.showSignedIn();
    if (!route) return;
    // From the sign-in form or a link: on to the panels (a link's address means nothing now).
    const path = location.hash.replace(/^#/, '').split('?')[0];
    if (LINK_PATHS[path]) history.replaceState(null, '', `${location.pathname}${location.search}#/`);
    this.route();
  },

  showSignedIn() {
    applyBranding(session.tenant && session.tenant.branding);
    document.getElementById('nav').hidden = false;
    document.getElementById('sign-out').hidden = false;
    document.getElementById('nav-new').hidden = !session.atLeast('member');
    // Admin screens are listed for a known admin only; the server refuses the rest anyway.
    document.getElementById('nav-people').hidden = !session.isAdmin();
    document.getElementById('nav-audit').hidden = !session.isAdmin();
    document.getElementById('nav-webhooks').hidden = !session.isAdmin();
    document.getElementById('nav-admin').hidden = !session.isAdmin();
    // The catalog is read by everyone (the create form and the panel list's filter show it too); admins change it.
    document.getElementById('nav-experts').hidden = false;
    renderAccountMenu();
    // A person hears of their notifications over the page's socket, kept open; a key has none.
    if (session.mode === 'person') startBell(this.conn());
    else stopBell();
  },

  /**
   * A shared link's page is one panel and nothing else: no navigation, no
   * sign-out, no brand link into the page, whoever opens it. Leaving it
   * (another address in the same tab) brings them back for a signed-in person.
   */
  showShared(on) {
    const brand = document.getElementById('brand');
    document.body.dataset.mode = on ? 'shared' : '';
    if (on) {
      this.dropConnection();
      brand.removeAttribute('href');
      applyBranding(null);
      for (const id of ['nav', 'sign-out', 'conn', 'account', 'bell']) document.getElementById(id).hidden = true;
      return;
    }
    brand.setAttribute('href', '#/');
    applyBranding(null); // the link's organisation's, until the page's own is known
    if (session.signedIn() && session.tenant) this.showSignedIn();
  },

  /**
   * Forgets the page's credential and shows sign-in. The server is not told
   * here (a key is simply dropped; a session that ended needs no word):
   * signOutPerson() tells it first. `prefill`: the sign-in form's fields.
   */
  signOut(message, { prefill } = {}) {
    const byKey = session.mode === 'key';
    if (this.current && this.current.destroy) this.current.destroy();
    this.current = null;
    this.dropConnection();
    const email = session.user && session.user.email;
    session.forget();
    applyBranding(null);
    for (const id of ['nav', 'sign-out', 'conn', 'account', 'bell']) document.getElementById(id).hidden = true;
    if (location.hash && location.hash !== '#/') history.replaceState(null, '', `${location.pathname}${location.search}#/`);
    signInView(message, { keyOpen: byKey, prefill: prefill || { email } });
  },

  /** Starts the page again from whatever credential the browser holds now (another tab changed the cookie). */
  restart() {
    if (this.current && this.current.destroy) this.current.destroy();
    this.current = null;
    this.dropConnection();
    session.forget();
    this.boot();
  },

  /** Signs a person out on the server (`everywhere`: every session of theirs), then here. */
  async signOutPerson(everywhere = false) {
    try {
      await api('POST', '/v1/auth/sign-out', everywhere ? { everywhere: true } : {});
    } catch (e) {
      // A session that already ended is signed out; anything else is said on the sign-in screen.
      if (e.status !== 401 && session.signedIn()) {
        this.signOut(`Signed out of this page, but the server could not be told (${e.message}): your session may still be open until it expires.`);
        return;
      }
    }
    if (session.signedIn()) this.signOut(everywhere ? 'You are signed out everywhere.' : 'You are signed out.');
  },

  route() {
    this.routed += 1;
    closeAccountMenu();
    closeBell();
    if (session.takeKeyFromFragment()) {
      // A sign-in link opened in a signed-in tab: start over with the new key.
      this.dropConnection();
      this.boot();
      return;
    }
    // An in-page anchor (the skip link's #main) is not a route: the view
    // stays, and the anchor's target gets the focus.
    const anchor = location.hash.replace(/^#/, '');
    if (anchor && !anchor.startsWith('/')) {
      const target = document.getElementById(anchor);
      if (target) {
        if (!target.hasAttribute('tabindex')) target.setAttribute('tabindex', '-1');
        target.focus();
        return;
      }
    }
    if (this.current && this.current.destroy) this.current.destroy();
    this.current = null;
    const raw = location.hash.replace(/^#/, '') || '/';
    let [path, qs] = raw.split('?');
    // Single sign-on that signed nobody in comes back to `/sign-in?sso_error=`
    // (docs/accounts.md): the reason is said once, and the address becomes the plain one.
    let ssoError = null;
    if (path === '/sign-in') {
      ssoError = new URLSearchParams(qs || '').get('sso_error');
      history.replaceState(null, '', `${location.pathname}${location.search}#/`);
      [path, qs] = ['/', ''];
    }
    const params = new URLSearchParams(qs || '');
    // A shared link needs no key: it is its own credential.
    const token = sharedToken(path);
    if (token !== null) {
      this.showShared(true);
      if (token) this.current = sharedView(token);
      else invalidLinkView();
      return;
    }
    if (document.body.dataset.mode === 'shared') {
      this.showShared(false);
      // A tab that opened on a shared link has not looked for its key or session yet.
      if (!session.tenant) {
        this.boot();
        return;
      }
    }
    // A one-time link is for someone who may not be signed in (or is someone else).
    if (LINK_PATHS[path]) {
      takeLinkToken(LINK_PATHS[path], params);
      linkView(LINK_PATHS[path]);
      return;
    }
    if (!session.signedIn()) {
      signInView(undefined, { ssoError });
      return;
    }
    for (const a of document.querySelectorAll('#nav a')) a.removeAttribute('aria-current');
    const previous = this.lastPath;
    this.lastPath = path;
    if (path === '/' || path === '/panels') {
      document.getElementById('nav-panels').setAttribute('aria-current', 'page');
      // `/` and `/panels` are the same list: going from one to the other is a new search, not a new screen.
      listView(params, { filterChanged: previous === '/' || previous === '/panels' });
    } else if (path === '/documents') {
      document.getElementById('nav-documents').setAttribute('aria-current', 'page');
      this.current = documentsView();
    } else if (path === '/new') {
      document.getElementById('nav-new').setAttribute('aria-current', 'page');
      createView();
    } else if (path === '/people') {
      document.getElementById('nav-people').setAttribute('aria-current', 'page');
      this.current = peopleView();
    } else if (path === '/audit') {
      document.getElementById('nav-audit').setAttribute('aria-current', 'page');
      this.current = auditView(params);
    } else if (path === '/webhooks') {
      document.getElementById('nav-webhooks').setAttribute('aria-current', 'page');
      this.current = webhooksView();
    } else if (path.startsWith('/webhooks/')) {
      document.getElementById('nav-webhooks').setAttribute('aria-current', 'page');
      const id = idAfter(path, '/webhooks/');
      if (!UUID_RE.test(id)) notFoundView('Endpoint not found', 'There is no webhook endpoint with this address in your organisation.');
      else this.current = webhookView(id.toLowerCase(), params);
    } else if (path === '/experts') {
      document.getElementById('nav-experts').setAttribute('aria-current', 'page');
      this.current = expertsView(params);
    } else if (path.startsWith('/experts/')) {
      document.getElementById('nav-experts').setAttribute('aria-current', 'page');
      const id = idAfter(path, '/experts/');
      if (!UUID_RE.test(id)) notFoundView('Expert not found', 'There is no expert with this address in your organisation’s catalog.');
      else this.current = expertView(id.toLowerCase());
    } else if (path === '/admin' || path.startsWith('/admin/')) {
      document.getElementById('nav-admin').setAttribute('aria-current', 'page');
      this.current = adminView(path.slice('/admin/'.length), params);
    } else if (path === '/account') {
      accountView();
    } else if (path.startsWith('/panels/')) {
      const id = idAfter(path, '/panels/');
      if (!UUID_RE.test(id)) notFoundView('Panel not found', 'There is no panel with this address in your organisation.');
      else this.current = new LiveView(id.toLowerCase());
    } else notFoundView();
  },

  async boot() {
    session.takeKeyFromFragment();
    // A shared link opens without a key, and without the signed-in page around it.
    if (sharedToken((location.hash.replace(/^#/, '') || '/').split('?')[0]) !== null) {
      this.route();
      return;
    }
    const unreachable = (e) => mountView('Error', h('section', {}, h('h1', { text: 'The server could not be reached' }), h('p', { text: e.message }), h('button', { type: 'button', class: 'btn', text: 'Try again', onclick: () => this.boot() })));
    if (!session.load()) {
      // No key in this tab: a person's cookie session, if the browser has one (the CSRF token is read again here).
      let body = null;
      try {
        body = await api('GET', '/v1/auth/session', undefined, { key: null });
      } catch (e) {
        if (e.status !== 401) {
          unreachable(e);
          return;
        }
      }
      try {
        if (body) await this.startPerson(body, { route: false });
      } catch (e) {
        if (e.status !== 401) unreachable(e);
        return;
      }
      this.route();
      return;
    }
    try {
      session.tenant = await api('GET', '/v1/tenant');
    } catch (e) {
      if (e.status === 401) return; // api() already signed out
      if (e.status === 403) {
        this.signOut(e.message);
        return;
      }
      unreachable(e);
      return;
    }
    await whoAmI();
    this.showSignedIn();
    this.route();
  },
});

document.getElementById('sign-out').addEventListener('click', () => {
  if (session.mode === 'person') app.signOutPerson(false);
  else app.signOut('You are signed out.');
});
installAccountMenu();
installBell();
window.addEventListener('hashchange', () => app.route());
installPrintSupport();

// Hooks for the end-to-end tests (and for people debugging a stream): read-only
// counters, the applied seqs, and a way to drop the socket as a network failure would.
window.__askpanel = {
  stats: debugStats,
  dropSocket: () => app.connection && app.connection.drop(),
  connState: () => (app.connection ? app.connection.state : 'idle'),
  connStats: () => (app.connection ? { ...app.connection.stats } : null),
  appliedSeqs: () => (app.current && app.current.feed ? [...app.current.feed.appliedSeqs] : []),
  // As if the server had sent `lagged`: resubscribe on the same socket from the last applied seq.
  simulateLag: () => {
    const feed = app.current && app.current.feed;
    if (feed) feed.onFrame({ type: 'lagged', panel_id: feed.panelId, resume_after_seq: feed.lastSeq });
  },
  identity: () => ({ ...session.identity }),
  keptOpen: () => Boolean(app.connection && app.connection.kept),
  mode: () => session.mode,
};

app.boot();
