// askpanel browser client.
//
// One ES module, no dependencies, nothing loaded from the internet (the
// server's Content-Security-Policy allows only 'self'). Sections:
//   1. DOM and formatting helpers
//   2. Session: the API key, the caller's identity, branding
//   3. HTTP API client
//   4. Live connection: one WebSocket, reconnects by itself
//   5. Panel model: the client's fold of durable events (mirrors the server's)
//   6. Panel feed: one subscription, resumed with after_seq, token merging
//   7. Ratings chart (inline SVG)
//   8. Views: sign in, panel list, create, live panel, not found
//   9. Router and start-up
//
// Text from the server is only ever put into the page with textContent:
// never innerHTML, so panel text cannot inject markup.

'use strict';

/* ------------------------------------------------------------------ */
/* 1. DOM and formatting helpers                                       */
/* ------------------------------------------------------------------ */

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Builds an element. `props`: class, text, attrs via plain keys, on* handlers, dataset. */
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  applyProps(el, props);
  appendAll(el, ...children);
  return el;
}

/** Builds an SVG element (attributes only: the CSP forbids inline style attributes). */
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') el.textContent = String(v);
    else el.setAttribute(k, String(v));
  }
  appendAll(el, ...children);
  return el;
}

function applyProps(el, props) {
  if (!props) return;
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked' || k === 'disabled' || k === 'hidden' || k === 'selected' || k === 'open') el[k] = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function appendAll(el, ...children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

function setText(el, text) {
  const t = text == null ? '' : String(text);
  if (el.textContent !== t) el.textContent = t;
}

let idCounter = 0;
/** A page-unique id for label/aria wiring. */
function uid(prefix) {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/** Unicode code points: the server counts token offsets in Rust chars, not UTF-16 units. */
function charLength(text) {
  const pairs = text.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g);
  return text.length - (pairs ? pairs.length : 0);
}

function dropChars(text, count) {
  if (count <= 0) return text;
  let i = 0;
  let idx = 0;
  for (const ch of text) {
    if (i === count) break;
    idx += ch.length;
    i += 1;
  }
  return text.slice(idx);
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });

function fmtDate(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateTime.format(d);
}

function fmtNum(n, digits = 1) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  return Number.isInteger(n) ? String(n) : n.toFixed(digits);
}

function fmtDuration(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const m = Math.floor(total / 60);
  const sec = total % 60;
  return `${m}:${String(sec).padStart(2, '0')}`;
}

const STATUS_LABEL = {
  created: 'Created',
  running: 'Running',
  awaiting_human: 'Awaiting human',
  paused: 'Paused',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Cancelled',
};
const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

const PANEL_TYPES = [
  { id: 'structured', label: 'Structured', bounds: [3, 8], help: 'Fixed speaking order, everyone sees the full transcript; ends at consensus or the round limit.' },
  { id: 'open', label: 'Open', bounds: [3, 12], help: 'Brainstorming: members bid to speak or pass; ideas are collected until a round brings nothing new.' },
  { id: 'socratic', label: 'Socratic', bounds: [3, 8], help: 'A questioner probes the weakest point or widest disagreement each round; the others answer.' },
  { id: 'adversarial', label: 'Adversarial', bounds: [4, 10], help: 'Two teams, pro and con, argue through opening, rebuttal and closing; a judge gives a verdict.' },
  { id: 'delphi', label: 'Delphi', bounds: [5, 12], help: 'Anonymous rounds of ratings with rationales; stops at RAND/UCLA consensus, stability or the round limit.' },
  { id: 'hybrid', label: 'Hybrid', bounds: [3, 12], help: 'Human members take turns alongside AI experts, and moderators steer live.' },
];
const TYPE_BY_ID = Object.fromEntries(PANEL_TYPES.map((t) => [t.id, t]));

const METHOD_LABEL = {
  rand_ucla: 'RAND/UCLA',
  confidence_weighted: 'Confidence-weighted',
  majority: 'Majority',
};

const ABORT_REASON = {
  paused: 'the panel paused',
  interrupted: 'the server restarted',
  model_error: 'the model failed',
  round_ended: 'the round was ended',
  finished: 'the panel was finished',
  cancelled: 'the panel was cancelled',
};

const LEVEL_LABEL = {
  consensus: 'Consensus',
  majority: 'Majority',
  uncertain: 'Uncertain',
  disagreement: 'Disagreement',
};

const DECISION_LABEL = {
  continue: 'continues',
  consensus: 'consensus reached',
  stable: 'ratings stable',
  saturated: 'no new ideas',
  max_rounds: 'round limit reached',
  finished: 'finished by a moderator',
  too_few_members: 'too few members left',
};

const PHASE_LABEL = {
  opening: 'Opening positions',
  critique: 'Critique of the draft',
  brainstorm: 'Brainstorm',
  inquiry: 'Questions and answers',
  rebuttal: 'Rebuttal',
  closing: 'Closing statements',
  rating: 'Anonymous rating',
};

const DOMAIN_LABEL = { ai_ml: 'AI/ML', digital_health: 'Digital health', health_economics: 'Health economics' };

function domainLabel(domain) {
  if (!domain) return '';
  if (DOMAIN_LABEL[domain]) return DOMAIN_LABEL[domain];
  const words = domain.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function statusBadge(status) {
  return h('span', { class: 'badge status', dataset: { status }, text: STATUS_LABEL[status] || status });
}

/** One polite live region for the whole page: short status sentences only, never streamed text. */
const announcer = {
  el: null,
  last: '',
  say(text) {
    this.el = this.el || document.getElementById('announcer');
    if (!this.el || !text) return;
    // Re-announcing the same sentence needs a change in the node's text.
    this.el.textContent = text === this.last ? `${text}\u00a0` : text;
    this.last = text;
  },
};

/* ------------------------------------------------------------------ */
/* 2. Session: key, identity, branding                                 */
/* ------------------------------------------------------------------ */

const KEY_STORAGE = 'askpanel.key';

const session = {
  key: null,
  tenant: null,
  /** { role, keyId } learned from the WebSocket token's claims (see whoAmI). */
  identity: { role: null, keyId: null },

  load() {
    try {
      this.key = sessionStorage.getItem(KEY_STORAGE);
    } catch {
      this.key = null;
    }
    return this.key;
  },

  store(key) {
    this.key = key;
    try {
      sessionStorage.setItem(KEY_STORAGE, key);
    } catch {
      // Private modes may refuse storage: the key then lives for this page only.
    }
  },

  forget() {
    this.key = null;
    this.tenant = null;
    this.identity = { role: null, keyId: null };
    try {
      sessionStorage.removeItem(KEY_STORAGE);
    } catch {
      /* nothing stored */
    }
  },

  /** The dev start prints a sign-in link `/#key=...`: keep the key, and get it out of the address bar and history. */
  takeKeyFromFragment() {
    const m = /^#key=([^&]+)/.exec(location.hash);
    if (!m) return false;
    let key = m[1];
    try {
      key = decodeURIComponent(key);
    } catch {
      /* keep it raw */
    }
    this.store(key.trim());
    history.replaceState(null, '', `${location.pathname}${location.search}#/`);
    return true;
  },

  atLeast(role) {
    const rank = { viewer: 1, member: 2, moderator: 3, admin: 4 };
    // Unknown role: show the controls and let the server say no.
    if (!this.identity.role) return true;
    return (rank[this.identity.role] || 0) >= (rank[role] || 0);
  },
};

/**
 * The API has no "who am I": the WebSocket token's payload (base64url JSON
 * before the signature) names the key's id and role, so read it from there.
 * A server that adds `caller: {key_id, role}` to /v1/tenant wins.
 */
function identityFromToken(token) {
  try {
    const payload = token.split('.')[0].replace(/-/g, '+').replace(/_/g, '/');
    const json = JSON.parse(atob(payload + '==='.slice((payload.length + 3) % 4)));
    return { role: typeof json.r === 'string' ? json.r : null, keyId: typeof json.k === 'string' ? json.k : null };
  } catch {
    return { role: null, keyId: null };
  }
}

async function whoAmI() {
  const t = session.tenant;
  const caller = t && (t.caller || t.key);
  if (caller && caller.role) {
    session.identity = { role: caller.role, keyId: caller.key_id || caller.id || null };
    return;
  }
  try {
    const { token } = await api('POST', '/v1/ws-tokens');
    session.identity = identityFromToken(token);
  } catch {
    session.identity = { role: null, keyId: null };
  }
}

/** Relative luminance and contrast of #rrggbb colours (WCAG 2). */
function luminance(hex) {
  const rgb = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
  const lin = rgb.map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
}

function contrast(a, b) {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

function darken(hex, f) {
  const c = [1, 3, 5].map((i) => Math.round(parseInt(hex.slice(i, i + 2), 16) * (1 - f)));
  return `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

/** The tenant picks a colour; the page keeps text on and beside it readable (4.5:1). */
function applyBranding(branding) {
  const root = document.documentElement.style;
  const name = (branding && branding.display_name) || 'askpanel';
  setText(document.getElementById('brand-name'), name);
  const logo = document.getElementById('brand-logo');
  if (branding && branding.logo_url) {
    logo.src = branding.logo_url;
    logo.alt = '';
    logo.hidden = false;
  } else {
    logo.removeAttribute('src');
    logo.hidden = true;
  }
  let color = branding && /^#[0-9a-fA-F]{6}$/.test(branding.primary_color || '') ? branding.primary_color.toLowerCase() : null;
  if (!color) {
    root.removeProperty('--primary');
    root.removeProperty('--on-primary');
    root.removeProperty('--primary-text');
    return;
  }
  let text = color;
  for (let i = 0; i < 20 && contrast(text, '#ffffff') < 4.5; i += 1) text = darken(text, 0.12);
  const on = contrast(color, '#ffffff') >= 4.5 ? '#ffffff' : '#111111';
  // CSSOM custom properties are allowed under the CSP (inline style attributes are not).
  root.setProperty('--primary', color);
  root.setProperty('--on-primary', on);
  root.setProperty('--primary-text', text);
}

/* ------------------------------------------------------------------ */
/* 3. HTTP API client                                                  */
/* ------------------------------------------------------------------ */

class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `request failed (${status})`);
    this.status = status;
    this.code = err.code || (status === 0 ? 'network' : 'http_error');
    this.fields = err.fields || {};
  }
}

const REQUEST_TIMEOUT_MS = 20000;

async function api(method, path, body, { key = session.key, headers = {} } = {}) {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), REQUEST_TIMEOUT_MS);
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: {
        Accept: 'application/json',
        ...(key ? { Authorization: `Bearer ${key}` } : {}),
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        ...headers,
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal: ctrl.signal,
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, { error: { code: 'network', message: `The server could not be reached (${e.name === 'AbortError' ? 'timed out' : 'network error'}).` } });
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data);
    // A key that stopped working (revoked, expired tenant) signs the page out.
    if (res.status === 401 && key === session.key && session.key) app.signOut('Your key is no longer accepted. Sign in again.');
    throw err;
  }
  return data;
}

function randomId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // randomUUID needs a secure context; a LAN address over http is not one.
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/* ------------------------------------------------------------------ */
/* 4. Live connection                                                  */
/* ------------------------------------------------------------------ */

const PING_EVERY_MS = 20000;
const PONG_TIMEOUT_MS = 10000;
const ACK_TIMEOUT_MS = 15000;
const IDLE_CLOSE_MS = 30000;

/**
 * One WebSocket for the page. Each (re)connect fetches a fresh token (they
 * live minutes) and asks every attached feed to resubscribe from where it
 * is. Backoff with jitter so a restarted server is not stampeded.
 */
class LiveConnection {
  constructor({ onState }) {
    this.onState = onState;
    this.feeds = new Map();
    this.pending = new Map();
    this.ws = null;
    this.state = 'idle';
    this.attempt = 0;
    this.refSeq = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.stopped = false;
    this.connecting = false;
    this.lost = false;
    this.idleTimer = null;
    this.stats = { opens: 0, closes: 0 };
    this.onOnline = () => {
      if (this.state === 'reconnecting') this.connectNow();
    };
    window.addEventListener('online', this.onOnline);
  }

  setState(state, detail) {
    if (this.stopped && state !== 'idle') return;
    this.state = state;
    this.onState(state, detail);
  }

  nextRef() {
    this.refSeq += 1;
    return `r${this.refSeq}`;
  }

  attach(feed) {
    clearTimeout(this.idleTimer);
    this.feeds.set(feed.panelId, feed);
    if (this.ws && this.ws.readyState === WebSocket.OPEN) feed.resubscribe();
    else if (!this.ws && !this.retryTimer && !this.connecting) this.connectNow();
  }

  detach(feed) {
    if (this.feeds.get(feed.panelId) !== feed) return;
    this.feeds.delete(feed.panelId);
    if (!feed.ended) this.sendRaw({ type: 'unsubscribe', panel_id: feed.panelId });
    // Nothing watched for a while: give the server its socket back.
    if (this.feeds.size === 0) {
      clearTimeout(this.idleTimer);
      this.idleTimer = setTimeout(() => this.goIdle(), IDLE_CLOSE_MS);
    }
  }

  goIdle() {
    if (this.feeds.size) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.attempt = 0;
    this.lost = false;
    const ws = this.ws;
    this.ws = null;
    this.stopPings();
    if (ws) ws.close(1000, 'idle');
    this.setState('idle');
  }

  isOpen() {
    return Boolean(this.ws && this.ws.readyState === WebSocket.OPEN);
  }

  sendRaw(frame) {
    if (!this.isOpen()) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Sends a frame with a ref; resolves on its ack, rejects on its error frame or a timeout. */
  request(frame) {
    return new Promise((resolve, reject) => {
      if (!this.isOpen()) {
        reject(new Error('not connected'));
        return;
      }
      const ref = this.nextRef();
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(new Error('no answer from the server'));
      }, ACK_TIMEOUT_MS);
      this.pending.set(ref, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ ...frame, ref }));
    });
  }

  connectNow() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.connect();
  }

  async connect() {
    if (this.stopped || this.connecting) return;
    this.setState(this.lost ? 'reconnecting' : 'connecting', { attempt: this.attempt });
    let token;
    // One connect at a time: a view opened while the token is on its way must not start a second socket.
    this.connecting = true;
    try {
      ({ token } = await api('POST', '/v1/ws-tokens'));
    } catch (e) {
      this.connecting = false;
      if (e.status === 401 || e.status === 403) {
        this.setState('offline', { reason: e.message });
        return;
      }
      this.scheduleRetry();
      return;
    }
    this.connecting = false;
    if (this.stopped || this.feeds.size === 0) {
      if (!this.stopped) this.setState('idle');
      return;
    }
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let ws;
    try {
      ws = new WebSocket(`${proto}//${location.host}/v1/ws?token=${encodeURIComponent(token)}`);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.attempt = 0;
      this.lost = false;
      this.stats.opens += 1;
      this.setState('open');
      this.startPings();
      for (const feed of this.feeds.values()) feed.resubscribe();
    };
    ws.onmessage = (msg) => {
      if (this.ws !== ws) return;
      let frame;
      try {
        frame = JSON.parse(msg.data);
      } catch {
        return;
      }
      this.route(frame);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.stats.closes += 1;
      this.stopPings();
      for (const { reject, timer } of this.pending.values()) {
        clearTimeout(timer);
        reject(new Error('the connection closed'));
      }
      this.pending.clear();
      for (const feed of this.feeds.values()) feed.onDisconnect();
      if (this.stopped) {
        this.setState('idle');
        return;
      }
      this.scheduleRetry(ev.code);
    };
  }

  scheduleRetry(code) {
    if (this.stopped) return;
    this.lost = true;
    this.attempt += 1;
    // 0.5 s, 1 s, 2 s ... capped at 10 s, with jitter.
    const base = Math.min(10000, 500 * 2 ** (this.attempt - 1));
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.setState('reconnecting', { attempt: this.attempt, delay, code });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
  }

  // A half-open TCP connection never fires `close`; an unanswered ping tells.
  startPings() {
    this.stopPings();
    this.pingTimer = setInterval(() => {
      if (!this.sendRaw({ type: 'ping' })) return;
      clearTimeout(this.pongTimer);
      this.pongTimer = setTimeout(() => this.drop(), PONG_TIMEOUT_MS);
    }, PING_EVERY_MS);
  }

  stopPings() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.pingTimer = null;
    this.pongTimer = null;
  }

  route(frame) {
    if (frame.type === 'pong') {
      clearTimeout(this.pongTimer);
      return;
    }
    if ((frame.type === 'ack' || frame.type === 'error') && frame.ref !== undefined && this.pending.has(frame.ref)) {
      const p = this.pending.get(frame.ref);
      this.pending.delete(frame.ref);
      clearTimeout(p.timer);
      if (frame.type === 'ack') p.resolve(frame);
      else {
        const err = new Error(frame.message || frame.code);
        err.code = frame.code;
        p.reject(err);
      }
      return;
    }
    const feed = frame.panel_id && this.feeds.get(frame.panel_id);
    if (feed) feed.onFrame(frame);
  }

  /** Closes the socket as a network failure would; it reconnects by itself. */
  drop() {
    if (this.ws) this.ws.close(4000, 'dropped by the client');
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.onOnline);
    clearTimeout(this.retryTimer);
    clearTimeout(this.idleTimer);
    this.stopPings();
    if (this.ws) this.ws.close(1000, 'signed out');
    this.ws = null;
    this.feeds.clear();
    this.setState('idle');
  }
}

/* ------------------------------------------------------------------ */
/* 5. Panel model                                                      */
/* ------------------------------------------------------------------ */

/**
 * The client folds durable events into the panel exactly as the server does
 * (actors/src/panel/state.rs), plus what a person wants to see that the
 * snapshot does not keep: the consensus of every round, and an activity log.
 */
class PanelModel {
  constructor(panel) {
    const p = JSON.parse(JSON.stringify(panel));
    p.rounds = p.rounds || [];
    p.current_turn = p.current_turn || null;
    p.pending_human = p.pending_human || null;
    p.ideas = p.ideas || [];
    this.panel = p;
    this.members = new Map(p.members.map((m) => [m.id, m]));
    this.roundConsensus = new Map();
    if (p.consensus) this.roundConsensus.set(p.consensus.round, p.consensus);
    this.activity = [];
    this.draftRound = null;
    this.completionReason = null;
    this.version = 0;
  }

  memberName(id) {
    const m = this.members.get(id);
    return m ? m.name : 'a member';
  }

  currentRound() {
    return this.panel.rounds[this.panel.rounds.length - 1] || null;
  }

  log(seq, ts, text) {
    this.activity.push({ seq, ts, text });
  }

  nextStatus(kind, data) {
    const status = this.panel.status;
    const pending = this.panel.pending_human ? this.panel.pending_human.member_id : null;
    if (TERMINAL.has(status)) return status;
    switch (kind) {
      case 'panel_started':
        return 'running';
      case 'human_turn_requested':
        return status === 'running' ? 'awaiting_human' : status;
      case 'turn_completed':
      case 'turn_skipped':
        return pending === data.member_id && status === 'awaiting_human' ? 'running' : status;
      case 'panel_paused':
        return 'paused';
      case 'panel_resumed':
        return pending ? 'awaiting_human' : 'running';
      case 'panel_completed':
        return 'completed';
      case 'panel_failed':
        return 'failed';
      case 'panel_cancelled':
        return 'cancelled';
      default:
        return status;
    }
  }

  closeTurn(memberId) {
    if (this.panel.current_turn && this.panel.current_turn.member_id === memberId) this.panel.current_turn = null;
  }

  clearPending(memberId) {
    if (this.panel.pending_human && this.panel.pending_human.member_id === memberId) this.panel.pending_human = null;
  }

  /** Applies event `seq` = head + 1 (the feed guarantees the order). Returns a short sentence worth announcing, or null. */
  apply(ev) {
    const p = this.panel;
    const d = ev.data || {};
    const name = (id) => this.memberName(id);
    let say = null;
    p.status = this.nextStatus(ev.kind, d);
    p.head_seq = ev.seq;
    p.updated_at = ev.ts;
    const round = this.currentRound();
    switch (ev.kind) {
      case 'panel_started':
        this.log(ev.seq, ev.ts, 'The panel started.');
        break;
      case 'round_started':
        p.rounds.push({ round: d.round, phase: d.phase, turns: [], stats: null, skipped: [], decision: null, order: d.order || [] });
        say = `Round ${d.round} started: ${PHASE_LABEL[d.phase] || d.phase}.`;
        this.log(ev.seq, ev.ts, say);
        break;
      case 'turn_started':
        p.current_turn = { member_id: d.member_id, round: d.round, turn_seq: ev.seq, text: '', chars: 0 };
        say = `${name(d.member_id)} is speaking.`;
        break;
      case 'turn_completed': {
        const ct = p.current_turn;
        if (ct && ct.member_id === d.member_id) this.checkStream(ct.text, d.text || '');
        this.closeTurn(d.member_id);
        this.clearPending(d.member_id);
        if (round) round.turns.push({ member_id: d.member_id, text: d.text || '', rating: d.rating ?? null, confidence: d.confidence ?? null, seq: ev.seq });
        if (Array.isArray(d.ideas)) p.ideas.push(...newIdeas(p.ideas, d.ideas));
        say = `${name(d.member_id)} finished${d.rating != null ? `, rating ${d.rating} of 9` : ''}.`;
        break;
      }
      case 'turn_skipped':
        this.closeTurn(d.member_id);
        this.clearPending(d.member_id);
        if (round) round.skipped.push({ member_id: d.member_id, reason: d.reason, seq: ev.seq });
        say = `${name(d.member_id)}'s turn was skipped (${d.reason}).`;
        this.log(ev.seq, ev.ts, say);
        break;
      case 'turn_aborted':
        // The streamed text of an aborted turn is void; the turn runs again later.
        this.closeTurn(d.member_id);
        this.log(ev.seq, ev.ts, `${name(d.member_id)}'s turn was interrupted (${ABORT_REASON[d.reason] || String(d.reason).replace(/_/g, ' ')}${d.error ? `: ${d.error}` : ''})${['paused', 'interrupted', 'model_error'].includes(d.reason) ? '; it will run again' : ''}.`);
        break;
      case 'human_turn_requested':
        p.pending_human = { member_id: d.member_id, round: d.round, deadline: d.deadline, request_seq: ev.seq };
        say = `Waiting for ${name(d.member_id)} to answer.`;
        this.log(ev.seq, ev.ts, say);
        break;
      case 'human_input':
        this.log(ev.seq, ev.ts, `${name(d.member_id)} answered.`);
        break;
      case 'moderator_action': {
        const what = { pause: 'paused the panel', resume: 'resumed the panel', skip_turn: 'skipped the turn', inject: 'injected', end_round: 'ended the round', finish: 'asked to finish', cancel: 'cancelled the panel' }[d.action] || d.action;
        this.log(ev.seq, ev.ts, `A moderator ${what}${d.text ? `: “${d.text}”` : '.'}`);
        break;
      }
      case 'round_completed':
        if (round) {
          round.stats = d.stats || null;
          round.decision = d.decision || null;
        }
        this.log(ev.seq, ev.ts, `Round ${d.round} completed${d.decision ? ` (${DECISION_LABEL[d.decision] || d.decision})` : ''}.`);
        break;
      case 'consensus_updated':
        p.consensus = d.consensus;
        if (d.consensus) this.roundConsensus.set(d.consensus.round, d.consensus);
        if (d.consensus) say = `Consensus level: ${LEVEL_LABEL[d.consensus.level] || d.consensus.level}.`;
        break;
      case 'draft_updated':
        p.draft = d.draft;
        this.draftRound = d.round;
        say = `The draft recommendation was updated after round ${d.round}.`;
        break;
      case 'feedback_updated':
        p.feedback = d.feedback;
        this.log(ev.seq, ev.ts, `The facilitator summarised the ${d.feedback ? d.feedback.rationales : ''} anonymous rationales of round ${d.round}.`);
        break;
      case 'panel_paused':
        p.paused_reason = d.reason;
        say = 'The panel is paused.';
        this.log(ev.seq, ev.ts, `The panel paused (${d.reason}).`);
        break;
      case 'panel_resumed':
        p.paused_reason = null;
        say = 'The panel resumed.';
        this.log(ev.seq, ev.ts, 'The panel resumed.');
        break;
      case 'panel_completed':
        p.recommendation = d.recommendation;
        if (d.consensus) {
          p.consensus = d.consensus;
          this.roundConsensus.set(d.consensus.round, d.consensus);
        }
        if (d.verdict) p.verdict = d.verdict;
        this.completionReason = d.reason || null;
        this.finish(ev);
        say = 'The panel completed: the final recommendation is ready.';
        this.log(ev.seq, ev.ts, 'The panel completed.');
        break;
      case 'panel_failed':
        p.error = d.error;
        this.finish(ev);
        say = 'The panel failed.';
        this.log(ev.seq, ev.ts, `The panel failed: ${d.error}`);
        break;
      case 'panel_cancelled':
        this.finish(ev);
        say = 'The panel was cancelled.';
        this.log(ev.seq, ev.ts, 'The panel was cancelled.');
        break;
      default:
        break;
    }
    this.version += 1;
    return say;
  }

  finish(ev) {
    this.panel.completed_at = ev.ts;
    this.panel.current_turn = null;
    this.panel.pending_human = null;
  }

  /**
   * What streamed must agree with the turn's final text (which may lack a
   * rating trailer the model streamed). Duplicated or lost deltas show here;
   * the e2e tests read these counters.
   */
  checkStream(streamed, final) {
    debugStats.turnsChecked += 1;
    if (!streamed) return;
    if (!(final.startsWith(streamed) || streamed.startsWith(final))) debugStats.streamMismatches += 1;
  }

  /** The member's latest completed turn, any round. */
  lastTurnOf(memberId) {
    const rounds = this.panel.rounds;
    for (let i = rounds.length - 1; i >= 0; i -= 1) {
      const turns = rounds[i].turns;
      for (let j = turns.length - 1; j >= 0; j -= 1) if (turns[j].member_id === memberId) return { ...turns[j], round: rounds[i].round };
    }
    return null;
  }
}

/* Open panels: the server's idea deduplication (actors/src/panel/ideas.rs),
   so a page that replays the log lists the same ideas as the snapshot. */
const IDEA_STOP_WORDS = new Set('a an and are as at be by for from in into is it its of on or our should that the their this to we with will would can could than'.split(' '));

function ideaWords(idea) {
  const words = new Set();
  for (const raw of idea.split(/[^\p{L}\p{N}]+/u)) {
    if (!raw) continue;
    let w = raw.toLowerCase();
    if (w.endsWith('s') && charLength(w) - 1 > 3) w = w.slice(0, -1);
    if (!IDEA_STOP_WORDS.has(w)) words.add(w);
  }
  return words;
}

function jaccard(a, b) {
  const union = new Set([...a, ...b]).size;
  if (union === 0) return 1;
  let inter = 0;
  for (const w of a) if (b.has(w)) inter += 1;
  return inter / union;
}

function newIdeas(known, candidates) {
  const seen = known.map(ideaWords);
  const fresh = [];
  for (const raw of candidates) {
    const idea = raw.trim();
    const words = ideaWords(idea);
    if (words.size === 0 || seen.some((k) => jaccard(k, words) > 0.6)) continue;
    seen.push(words);
    fresh.push(idea);
  }
  return fresh;
}

/** Counters the e2e tests read through window.__askpanel. */
const debugStats = { eventsApplied: 0, duplicateEvents: 0, gaps: 0, turnsChecked: 0, streamMismatches: 0, tokenGaps: 0, resubscribes: 0 };

/* ------------------------------------------------------------------ */
/* 6. Panel feed                                                       */
/* ------------------------------------------------------------------ */

/**
 * One panel's subscription. It always subscribes with after_seq = the last
 * seq it applied (0 at first, so the whole log replays and the page knows
 * every round's consensus and every moderator action), so after any drop or
 * `lagged` it continues exactly where it was: seq must be head + 1, older
 * frames are dropped, a gap resubscribes.
 *
 * Token frames for text the server's snapshot already holds are not sent
 * again after a resubscribe; that text comes from the `subscribed` snapshot's
 * current_turn and is merged in once its turn_started has been applied.
 */
class PanelFeed {
  constructor(conn, panelId, onChange) {
    this.conn = conn;
    this.panelId = panelId;
    this.onChange = onChange;
    this.model = null;
    this.lastSeq = 0;
    this.partial = null;
    this.subRef = null;
    this.waitingForSubscribed = false;
    this.notFound = false;
    this.error = null;
    this.ended = false;
    this.appliedSeqs = [];
    this.replayUntil = 0;
  }

  start() {
    this.conn.attach(this);
  }

  stop() {
    this.conn.detach(this);
  }

  resubscribe() {
    if (this.notFound) return;
    // A finished panel sends nothing more: no need to ask again after a reconnect.
    if (this.model && TERMINAL.has(this.model.panel.status)) return;
    this.subRef = this.conn.nextRef();
    this.waitingForSubscribed = true;
    this.ended = false;
    debugStats.resubscribes += 1;
    this.conn.sendRaw({ type: 'subscribe', panel_id: this.panelId, after_seq: this.lastSeq, ref: this.subRef });
  }

  onDisconnect() {
    this.waitingForSubscribed = true;
    this.onChange({ kind: 'connection' });
  }

  onFrame(f) {
    switch (f.type) {
      case 'subscribed':
        if (f.ref !== undefined && f.ref !== this.subRef) return;
        this.waitingForSubscribed = false;
        this.error = null;
        // Events up to here are history being replayed: show them, do not announce them.
        this.replayUntil = f.head_seq || 0;
        this.partial = f.snapshot && f.snapshot.current_turn ? { ...f.snapshot.current_turn } : null;
        this.mergePartial();
        this.onChange({ kind: 'subscribed' });
        break;
      case 'event':
        if (this.waitingForSubscribed) return;
        this.onEvent(f);
        break;
      case 'token':
        if (this.waitingForSubscribed) return;
        this.onToken(f);
        break;
      case 'lagged':
        this.resubscribe();
        break;
      case 'error':
        if (f.code === 'not_found') {
          this.notFound = true;
          this.ended = true;
          this.onChange({ kind: 'not_found' });
        } else if (f.ref === this.subRef) {
          this.error = f.message || f.code;
          this.onChange({ kind: 'error' });
          // A refused subscription (e.g. the log briefly unavailable): try again shortly.
          setTimeout(() => {
            if (this.conn.feeds.get(this.panelId) === this) this.resubscribe();
          }, 2000);
        }
        break;
      default:
        break;
    }
  }

  onEvent(f) {
    if (f.seq <= this.lastSeq) {
      debugStats.duplicateEvents += 1;
      return;
    }
    if (f.seq !== this.lastSeq + 1) {
      debugStats.gaps += 1;
      this.resubscribe();
      return;
    }
    const ev = { seq: f.seq, ts: f.ts, kind: f.kind, data: f.data || {} };
    let say = null;
    if (ev.kind === 'panel_created') {
      this.model = new PanelModel({ ...(ev.data.panel || {}), head_seq: ev.seq });
    } else if (this.model) {
      say = this.model.apply(ev);
    }
    this.lastSeq = f.seq;
    this.appliedSeqs.push(f.seq);
    debugStats.eventsApplied += 1;
    if (ev.kind === 'turn_started') this.mergePartial();
    if (this.model && TERMINAL.has(this.model.panel.status)) this.ended = true;
    this.onChange({ kind: 'event', event: ev, say: f.seq > this.replayUntil ? say : null });
  }

  mergePartial() {
    const ct = this.model && this.model.panel.current_turn;
    if (!ct || !this.partial || this.partial.turn_seq !== ct.turn_seq) return;
    const chars = charLength(this.partial.text || '');
    if (chars > ct.chars) {
      ct.text = this.partial.text;
      ct.chars = chars;
    }
    this.partial = null;
  }

  onToken(f) {
    const ct = this.model && this.model.panel.current_turn;
    if (!ct || ct.turn_seq !== f.turn_seq) return;
    const delta = f.delta || '';
    const end = f.offset + charLength(delta);
    if (end <= ct.chars) return; // already have it
    if (f.offset > ct.chars) {
      // Missing text; the turn's full text arrives with turn_completed.
      debugStats.tokenGaps += 1;
      return;
    }
    const fresh = dropChars(delta, ct.chars - f.offset);
    ct.text += fresh;
    ct.chars = end;
    this.onChange({ kind: 'token', memberId: ct.member_id });
  }
}

/* ------------------------------------------------------------------ */
/* 7. Ratings chart                                                    */
/* ------------------------------------------------------------------ */

/** Percentile by linear interpolation between closest ranks (type 7), as the server computes. */
function percentile(sorted, p) {
  const hIdx = (sorted.length - 1) * p;
  const lo = Math.floor(hIdx);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (hIdx - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * Each member's rating as a dot on the 1-9 scale, the interquartile band and
 * the median line, over the three RAND/UCLA tertiles.
 */
function ratingsChart({ ratings, stats, dissent, title }) {
  const W = 340;
  const pad = 18;
  const rowH = 12;
  const counts = new Map();
  const rows = ratings.map((r) => {
    const k = counts.get(r.rating) || 0;
    counts.set(r.rating, k + 1);
    return k;
  });
  const maxStack = Math.max(1, ...counts.values());
  const top = 8;
  const plotH = Math.max(36, maxStack * rowH + 14);
  const H = top + plotH + 22;
  const x = (v) => pad + ((v - 1) * (W - 2 * pad)) / 8;
  const sorted = ratings.map((r) => r.rating).sort((a, b) => a - b);
  const median = stats && stats.median != null ? stats.median : sorted.length ? percentile(sorted, 0.5) : null;
  const q1 = sorted.length ? percentile(sorted, 0.25) : null;
  const q3 = sorted.length ? percentile(sorted, 0.75) : null;
  const titleId = uid('chart-title');
  const descId = uid('chart-desc');
  const desc = ratings.map((r) => `${r.name}: ${r.rating}${dissent.has(r.memberId) ? ' (dissents)' : ''}`).join('; ');

  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': `${titleId} ${descId}`, focusable: 'false' });
  svg.append(s('title', { id: titleId, text: title }), s('desc', { id: descId, text: desc || 'No ratings.' }));
  // Tertile bands: disagree 1-3, uncertain 4-6, agree 7-9.
  [
    [1, 3.5, 'band-disagree'],
    [3.5, 6.5, 'band-uncertain'],
    [6.5, 9, 'band-agree'],
  ].forEach(([a, b, cls]) => svg.append(s('rect', { class: cls, x: x(a), y: top, width: x(b) - x(a), height: plotH })));
  if (q1 !== null) {
    svg.append(s('rect', { class: 'iqr', x: x(q1), y: top + 2, width: Math.max(2, x(q3) - x(q1)), height: plotH - 4 }, s('title', { text: `Interquartile range ${fmtNum(q1)} to ${fmtNum(q3)}` })));
  }
  if (median !== null) {
    svg.append(s('line', { class: 'median', x1: x(median), x2: x(median), y1: top, y2: top + plotH }, s('title', { text: `Median ${fmtNum(median)}` })));
  }
  ratings.forEach((r, i) => {
    const cy = top + plotH - 8 - rows[i] * rowH;
    svg.append(
      s('circle', { class: dissent.has(r.memberId) ? 'dot dissent' : 'dot', cx: x(r.rating), cy, r: 5 }, s('title', { text: `${r.name}: ${r.rating}${r.confidence != null ? `, confidence ${fmtNum(r.confidence, 2)}` : ''}${dissent.has(r.memberId) ? ', dissents' : ''}` })),
    );
  });
  const axisY = top + plotH;
  svg.append(s('line', { class: 'axis', x1: pad, x2: W - pad, y1: axisY, y2: axisY }));
  for (let v = 1; v <= 9; v += 1) {
    svg.append(s('line', { class: 'tick', x1: x(v), x2: x(v), y1: axisY, y2: axisY + 4 }));
    svg.append(s('text', { class: 'tick-label', x: x(v), y: axisY + 16, 'text-anchor': 'middle', text: v }));
  }
  return { svg, q1, q3, median };
}

/* ------------------------------------------------------------------ */
/* 8. Views                                                            */
/* ------------------------------------------------------------------ */

const viewRoot = () => document.getElementById('view');

/** Replaces the page's view and moves focus to its heading so screen readers announce the change. */
function mountView(title, ...children) {
  const root = clear(viewRoot());
  appendAll(root, ...children);
  document.title = title ? `${title} · ${(session.tenant && session.tenant.branding && session.tenant.branding.display_name) || 'askpanel'}` : 'askpanel';
  const heading = root.querySelector('h1');
  if (heading) {
    heading.setAttribute('tabindex', '-1');
    // Not on the first load: the skip link and navigation come first there.
    if (app.routed > 1) heading.focus({ preventScroll: false });
  }
}

function fieldError(id) {
  return h('p', { class: 'field-error', id, hidden: true });
}

function showFieldError(el, input, message) {
  if (message) {
    el.textContent = message;
    el.hidden = false;
    if (input) input.setAttribute('aria-invalid', 'true');
  } else {
    el.textContent = '';
    el.hidden = true;
    if (input) input.removeAttribute('aria-invalid');
  }
}

/* ---- Sign in ---- */

function signInView(message) {
  const errId = uid('key-err');
  const input = h('input', { id: 'key', name: 'key', type: 'password', autocomplete: 'current-password', spellcheck: 'false', required: true, 'aria-describedby': `key-help ${errId}` });
  const err = fieldError(errId);
  const button = h('button', { type: 'submit', class: 'btn btn-primary', text: 'Sign in' });
  const form = h(
    'form',
    { class: 'card-form signin', novalidate: true, 'aria-labelledby': 'signin-h' },
    h('h1', { id: 'signin-h', text: 'Sign in' }),
    message ? h('p', { class: 'notice', role: 'status', text: message }) : null,
    h('div', { class: 'field' }, h('label', { for: 'key', text: 'API key' }), input, h('p', { class: 'help', id: 'key-help', text: 'Your key stays in this browser tab only (session storage).' }), err),
    button,
  );
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
      button.textContent = 'Sign in';
    }
  });
  mountView('Sign in', form);
  input.focus();
}

/* ---- Panel list ---- */

const STATUS_FILTERS = ['', 'running', 'awaiting_human', 'paused', 'created', 'completed', 'failed', 'cancelled'];

function listView(params, { filterChanged = false } = {}) {
  const status = STATUS_FILTERS.includes(params.get('status') || '') ? params.get('status') || '' : '';
  const limit = Math.min(100, Math.max(1, parseInt(params.get('limit') || '20', 10) || 20));
  const select = h('select', { id: 'status-filter', name: 'status' }, STATUS_FILTERS.map((st) => h('option', { value: st, text: st ? STATUS_LABEL[st] : 'All statuses', selected: st === status })));
  select.addEventListener('change', () => {
    const q = new URLSearchParams();
    if (select.value) q.set('status', select.value);
    if (params.get('limit')) q.set('limit', String(limit));
    location.hash = `#/panels${q.toString() ? `?${q}` : ''}`;
  });
  const list = h('ul', { class: 'panel-list', 'aria-labelledby': 'list-h' });
  const msg = h('p', { class: 'list-msg', role: 'status' });
  const more = h('button', { type: 'button', class: 'btn', id: 'load-more', text: 'Load more', hidden: true });
  let cursor = null;
  let loading = false;

  async function load(append) {
    if (loading) return;
    loading = true;
    more.disabled = true;
    msg.textContent = 'Loading panels…';
    const q = new URLSearchParams({ limit: String(limit) });
    if (status) q.set('status', status);
    if (append && cursor) q.set('cursor', cursor);
    try {
      const data = await api('GET', `/v1/panels?${q}`);
      if (!append) clear(list);
      const firstNew = list.children.length;
      for (const p of data.items) list.append(panelRow(p));
      cursor = data.next_cursor || null;
      more.hidden = !cursor;
      const total = list.children.length;
      msg.textContent = total === 0 ? (status ? `No ${STATUS_LABEL[status].toLowerCase()} panels.` : 'No panels yet.') : `${total} panel${total === 1 ? '' : 's'} shown${cursor ? '; more available' : ''}.`;
      // Keyboard users who asked for more land on the first new row.
      if (append && list.children[firstNew]) list.children[firstNew].querySelector('a').focus();
    } catch (e) {
      msg.textContent = `Could not load panels: ${e.message}`;
    } finally {
      loading = false;
      more.disabled = false;
    }
  }
  more.addEventListener('click', () => load(true));

  mountView(
    'Panels',
    h(
      'section',
      { class: 'list-view' },
      h('div', { class: 'view-head' }, h('h1', { id: 'list-h', text: 'Panels' }), session.atLeast('member') ? h('a', { class: 'btn btn-primary', href: '#/new', text: 'New panel' }) : null),
      h('div', { class: 'filters' }, h('label', { for: 'status-filter', text: 'Status' }), select, h('button', { type: 'button', class: 'btn btn-quiet', text: 'Refresh', onclick: () => load(false) })),
      msg,
      list,
      more,
    ),
  );
  // Changing the filter re-renders the list: keep the keyboard where it was.
  if (filterChanged) select.focus();
  load(false);
}

function panelRow(p) {
  const type = TYPE_BY_ID[p.panel_type];
  return h(
    'li',
    { class: 'panel-row', dataset: { id: p.id, status: p.status } },
    h('a', { class: 'panel-link', href: `#/panels/${p.id}`, text: p.query }),
    h('p', { class: 'panel-meta' }, statusBadge(p.status), h('span', { class: 'badge type', text: type ? type.label : p.panel_type }), h('span', { class: 'when', text: `Created ${fmtDate(p.created_at)}` })),
  );
}

/* ---- Create ---- */

function createView() {
  const tenant = session.tenant || {};
  const features = tenant.features || {};
  const types = PANEL_TYPES.filter((t) => !features.panel_types || features.panel_types.includes(t.id));
  const methods = features.consensus_methods || Object.keys(METHOD_LABEL);
  const simulated = Boolean(features.llm && features.llm.simulated);
  const maxExperts = (tenant.limits && tenant.limits.max_experts_per_panel) || 12;
  const idempotencyKey = randomId();
  const errors = {};
  const err = (name) => {
    errors[name] = fieldError(`err-${name}`);
    return errors[name];
  };

  // Question
  const query = h('textarea', { id: 'f-query', name: 'query', rows: 4, 'aria-describedby': 'help-query err-query', maxlength: 5000 });
  const queryCount = h('span', { class: 'count', 'aria-hidden': 'true', text: '0 / 5000' });
  query.addEventListener('input', () => setText(queryCount, `${query.value.length} / 5000`));

  // Type
  const typeRadios = types.map((t, i) =>
    h(
      'div',
      { class: 'choice' },
      h('input', { type: 'radio', name: 'panel_type', id: `type-${t.id}`, value: t.id, checked: i === 0, 'aria-describedby': `type-help-${t.id}` }),
      h('label', { for: `type-${t.id}`, class: 'choice-title', text: t.label }),
      h('p', { class: 'choice-help', id: `type-help-${t.id}`, text: `${t.help} (${t.bounds[0]}–${t.bounds[1]} members${t.id === 'hybrid' ? ', at least one human' : ''})` }),
    ),
  );
  const typeFieldset = h('fieldset', { class: 'field', id: 'f-panel_type', 'aria-describedby': 'err-panel_type' }, h('legend', { text: 'Panel type' }), h('div', { class: 'choices' }, typeRadios), err('panel_type'));
  const selectedType = () => (typeFieldset.querySelector('input[name=panel_type]:checked') || {}).value || 'structured';

  // Experts
  const modeAuto = h('input', { type: 'radio', name: 'expert_mode', id: 'mode-auto', value: 'auto', checked: true });
  const modePick = h('input', { type: 'radio', name: 'expert_mode', id: 'mode-pick', value: 'pick' });
  const count = h('input', { type: 'number', id: 'f-expert_count', name: 'expert_count', min: 1, max: maxExperts, value: 4, inputmode: 'numeric', 'aria-describedby': 'help-count err-expert_count' });
  const countHelp = h('p', { class: 'help', id: 'help-count' });
  const search = h('input', { type: 'search', id: 'f-expert-search', name: 'expert_search', autocomplete: 'off', 'aria-describedby': 'help-search', 'aria-controls': 'expert-results' });
  const results = h('ul', { class: 'expert-results', id: 'expert-results', 'aria-label': 'Catalog experts' });
  const resultsMsg = h('p', { class: 'help', role: 'status', id: 'expert-results-msg' });
  const picked = new Map();
  const pickedList = h('ul', { class: 'picked', 'aria-label': 'Chosen experts' });
  const pickedSummary = h('p', { class: 'help', id: 'picked-summary', 'aria-live': 'polite' });
  const pickBox = h(
    'div',
    { class: 'pick-box', hidden: true },
    h('label', { for: 'f-expert-search', text: 'Search the catalog' }),
    search,
    h('p', { class: 'help', id: 'help-search', text: 'By name, domain or topic, for example “reimbursement” or “privacy”.' }),
    resultsMsg,
    results,
    pickedSummary,
    pickedList,
  );
  const autoBox = h('div', { class: 'auto-box' }, h('label', { for: 'f-expert_count', text: 'How many AI experts' }), count, countHelp);
  const expertsFieldset = h(
    'fieldset',
    { class: 'field', id: 'f-experts', 'aria-describedby': 'err-experts' },
    h('legend', { text: 'Experts' }),
    h('div', { class: 'choices inline' }, h('div', { class: 'choice' }, modeAuto, h('label', { for: 'mode-auto', text: 'Choose for me' })), h('div', { class: 'choice' }, modePick, h('label', { for: 'mode-pick', text: 'Pick from the catalog' }))),
    autoBox,
    pickBox,
    err('expert_count'),
    err('experts'),
  );

  function renderPicked() {
    clear(pickedList);
    for (const ex of picked.values()) {
      pickedList.append(h('li', {}, h('span', { text: ex.name }), h('button', { type: 'button', class: 'btn btn-small btn-quiet', 'aria-label': `Remove ${ex.name}`, text: 'Remove', onclick: () => togglePick(ex, false) })));
    }
    pickedSummary.textContent = `${picked.size} expert${picked.size === 1 ? '' : 's'} chosen.`;
    for (const cb of results.querySelectorAll('input[type=checkbox]')) cb.checked = picked.has(cb.value);
  }

  function togglePick(ex, on) {
    if (on) picked.set(ex.id, ex);
    else picked.delete(ex.id);
    renderPicked();
  }

  let searchTimer = null;
  let searchSeq = 0;
  async function runSearch() {
    const mySeq = ++searchSeq;
    resultsMsg.textContent = 'Searching…';
    const q = new URLSearchParams({ limit: '50' });
    if (search.value.trim()) q.set('q', search.value.trim());
    try {
      const data = await api('GET', `/v1/experts?${q}`);
      if (mySeq !== searchSeq) return; // an older search answered late
      clear(results);
      for (const ex of data.items) {
        const cbId = `ex-${ex.id}`;
        results.append(
          h(
            'li',
            { class: 'expert' },
            h('input', { type: 'checkbox', id: cbId, value: ex.id, checked: picked.has(ex.id), onchange: (e) => togglePick(ex, e.target.checked) }),
            h('label', { for: cbId }, h('span', { class: 'expert-name', text: ex.name }), h('span', { class: 'expert-title', text: [ex.title, domainLabel(ex.domain)].filter(Boolean).join(' · ') }), ex.scope === 'tenant' ? h('span', { class: 'tag', text: 'private' }) : null),
          ),
        );
      }
      resultsMsg.textContent = `${data.items.length} expert${data.items.length === 1 ? '' : 's'} found.`;
    } catch (e) {
      resultsMsg.textContent = `Could not search: ${e.message}`;
    }
  }
  search.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(runSearch, 250);
  });
  let searched = false;
  function syncMode() {
    const pick = modePick.checked;
    pickBox.hidden = !pick;
    autoBox.hidden = pick;
    if (pick && !searched) {
      searched = true;
      runSearch();
    }
  }
  modeAuto.addEventListener('change', syncMode);
  modePick.addEventListener('change', syncMode);

  // Humans (hybrid)
  const humansList = h('ol', { class: 'humans' });
  let humanCount = 0;
  function addHuman(name = '') {
    humanCount += 1;
    const n = humanCount;
    const nameInput = h('input', { type: 'text', id: `human-name-${n}`, class: 'human-name', value: name, autocomplete: 'off' });
    const keyInput = h('input', { type: 'text', id: `human-key-${n}`, class: 'human-key', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'help-human-key' });
    const li = h(
      'li',
      { class: 'human-row' },
      h('div', { class: 'field-inline' }, h('label', { for: `human-name-${n}`, text: 'Name' }), nameInput),
      h('div', { class: 'field-inline' }, h('label', { for: `human-key-${n}`, text: 'Key id (optional)' }), keyInput),
      h('button', {
        type: 'button',
        class: 'btn btn-small btn-quiet',
        text: 'Remove',
        'aria-label': `Remove human member ${n}`,
        onclick: () => {
          li.remove();
          addHumanBtn.focus();
        },
      }),
    );
    humansList.append(li);
    return nameInput;
  }
  const addHumanBtn = h('button', { type: 'button', class: 'btn btn-small', text: 'Add a human member', onclick: () => addHuman().focus() });
  const baseFlow = h('select', { id: 'f-base_flow', name: 'base_flow', 'aria-describedby': 'err-base_flow' }, ['structured', 'open', 'socratic', 'adversarial', 'delphi'].map((t) => h('option', { value: t, text: TYPE_BY_ID[t].label })));
  const timeout = h('input', { type: 'number', id: 'f-human_turn_timeout_s', name: 'human_turn_timeout_s', min: 10, placeholder: '300', inputmode: 'numeric', 'aria-describedby': 'err-human_turn_timeout_s' });
  const hybridBox = h(
    'fieldset',
    { class: 'field', id: 'f-humans', hidden: true, 'aria-describedby': 'err-humans' },
    h('legend', { text: 'Human members' }),
    h('p', { class: 'help', id: 'help-human-key', text: 'Without a key id any member key of your organisation may speak for them; moderators always can.' }),
    humansList,
    addHumanBtn,
    err('humans'),
    h('div', { class: 'field' }, h('label', { for: 'f-base_flow', text: 'Base format the humans join' }), baseFlow, err('base_flow')),
    h('div', { class: 'field' }, h('label', { for: 'f-human_turn_timeout_s', text: 'Seconds a human has for a turn' }), timeout, err('human_turn_timeout_s')),
  );
  addHuman('');

  // Rounds and method
  const rounds = h('input', { type: 'number', id: 'f-max_rounds', name: 'max_rounds', min: 1, max: 20, inputmode: 'numeric', 'aria-describedby': 'help-rounds err-max_rounds' });
  const method = h('select', { id: 'f-consensus_method', name: 'consensus_method', 'aria-describedby': 'err-consensus_method' }, methods.map((m) => h('option', { value: m, text: METHOD_LABEL[m] || m })));

  // Simulation knobs (only meaningful with the simulated model)
  const simSeed = h('input', { type: 'number', id: 'f-sim-seed', min: 0, value: 1, inputmode: 'numeric' });
  const simPace = h('input', { type: 'number', id: 'f-sim-pace', min: 0, step: 'any', value: 20, inputmode: 'decimal', 'aria-describedby': 'help-pace' });
  const simTokens = h('input', { type: 'number', id: 'f-sim-tokens', min: 1, value: 60, inputmode: 'numeric' });
  const simBox = simulated
    ? h(
        'fieldset',
        { class: 'field sim', id: 'f-simulation', 'aria-describedby': 'err-simulation' },
        h('legend', { text: 'Simulated experts' }),
        h('p', { class: 'help', text: 'This server runs simulated experts (no language model). Their text is labelled as simulated.' }),
        h('div', { class: 'grid3' }, h('div', { class: 'field-inline' }, h('label', { for: 'f-sim-seed', text: 'Seed' }), simSeed), h('div', { class: 'field-inline' }, h('label', { for: 'f-sim-pace', text: 'Tokens per second' }), simPace), h('div', { class: 'field-inline' }, h('label', { for: 'f-sim-tokens', text: 'Words per turn' }), simTokens)),
        h('p', { class: 'help', id: 'help-pace', text: '0 streams each turn at once.' }),
        err('simulation'),
      )
    : null;

  const summary = h('div', { class: 'error-summary', id: 'error-summary', tabindex: '-1', hidden: true, role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'create-submit', text: 'Start the panel' });

  function syncType() {
    const t = TYPE_BY_ID[selectedType()];
    const hybrid = t.id === 'hybrid';
    hybridBox.hidden = !hybrid;
    countHelp.textContent = hybrid ? `A hybrid panel has ${t.bounds[0]}–${t.bounds[1]} members in all, humans included.` : `A ${t.label.toLowerCase()} panel has ${t.bounds[0]}–${Math.min(t.bounds[1], maxExperts)} experts.`;
    const minAi = hybrid ? Math.max(1, t.bounds[0] - 1) : t.bounds[0];
    if (!count.dataset.touched) count.value = String(Math.max(minAi, hybrid ? 2 : 4));
    rounds.placeholder = t.id === 'delphi' ? '4' : '3';
  }
  count.addEventListener('input', () => {
    count.dataset.touched = '1';
  });
  typeFieldset.addEventListener('change', syncType);

  const form = h(
    'form',
    { class: 'create-form', novalidate: true, 'aria-labelledby': 'create-h' },
    h('h1', { id: 'create-h', text: 'New panel' }),
    summary,
    h('div', { class: 'field' }, h('label', { for: 'f-query', text: 'Question for the panel' }), query, h('p', { class: 'help', id: 'help-query' }, 'A clear, answerable question, 10 to 5000 characters. ', queryCount), err('query')),
    typeFieldset,
    expertsFieldset,
    hybridBox,
    h('div', { class: 'grid2' }, h('div', { class: 'field' }, h('label', { for: 'f-max_rounds', text: 'Rounds at most' }), rounds, h('p', { class: 'help', id: 'help-rounds', text: 'Leave empty for the format’s default.' }), err('max_rounds')), h('div', { class: 'field' }, h('label', { for: 'f-consensus_method', text: 'Consensus method' }), method, err('consensus_method'))),
    simBox,
    err('questioner'),
    h('div', { class: 'actions' }, submit, h('a', { href: '#/panels', class: 'btn btn-quiet', text: 'Cancel' })),
  );

  // Resolved when errors show: the human rows and expert mode change meanwhile.
  const fieldTargets = () => ({
    query,
    panel_type: typeFieldset.querySelector('input'),
    experts: modePick.checked ? search : count,
    expert_count: count,
    humans: humansList.querySelector('input') || addHumanBtn,
    max_rounds: rounds,
    consensus_method: method,
    human_turn_timeout_s: timeout,
    base_flow: baseFlow,
    simulation: simSeed,
    questioner: submit,
  });

  function clearErrors() {
    const targets = fieldTargets();
    for (const [name, el] of Object.entries(errors)) showFieldError(el, targets[name], null);
    search.removeAttribute('aria-invalid');
    summary.hidden = true;
    clear(summary);
  }

  function showErrors(e) {
    const shown = [];
    const loose = [];
    const targets = fieldTargets();
    for (const [field, message] of Object.entries(e.fields || {})) {
      const base = field.split(/[.[]/)[0];
      const target = targets[base];
      if (errors[base]) {
        showFieldError(errors[base], target, message);
        shown.push({ base, message, target });
      } else loose.push(`${field}: ${message}`);
    }
    // In the order of the form, not the server's.
    shown.sort((x, y) => (x.target && y.target && x.target.compareDocumentPosition(y.target) & Node.DOCUMENT_POSITION_PRECEDING ? 1 : -1));
    summary.append(h('h2', { text: shown.length + loose.length > 1 ? 'Please fix these problems' : 'Please fix this problem' }));
    const ul = h('ul');
    for (const { base, message, target } of shown) {
      const label = { query: 'Question', panel_type: 'Panel type', experts: 'Experts', expert_count: 'Experts', humans: 'Human members', max_rounds: 'Rounds', consensus_method: 'Consensus method', human_turn_timeout_s: 'Human turn time', base_flow: 'Base format', simulation: 'Simulation', questioner: 'Questioner' }[base] || base;
      ul.append(h('li', {}, h('a', { href: `#${target ? target.id : ''}`, onclick: (ev) => {
        ev.preventDefault();
        if (target) target.focus();
      }, text: `${label}: ${message}` })));
    }
    for (const text of loose) ul.append(h('li', { text }));
    if (!shown.length && !loose.length) ul.append(h('li', { text: e.message }));
    summary.append(ul);
    summary.hidden = false;
    summary.focus();
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors();
    const type = selectedType();
    const body = { query: query.value.trim(), panel_type: type };
    if (modePick.checked) body.experts = [...picked.keys()];
    else if (count.value !== '') body.expert_count = Number(count.value);
    if (type === 'hybrid') {
      body.humans = [...humansList.querySelectorAll('li')].map((li) => {
        const name = li.querySelector('.human-name').value.trim();
        const keyId = li.querySelector('.human-key').value.trim();
        return keyId ? { name, key_id: keyId } : { name };
      });
      body.base_flow = baseFlow.value;
      if (timeout.value !== '') body.human_turn_timeout_s = Number(timeout.value);
    }
    if (rounds.value !== '') body.max_rounds = Number(rounds.value);
    body.consensus_method = method.value;
    if (simBox) body.simulation = { seed: Number(simSeed.value || 1), pace_tokens_per_s: Number(simPace.value || 0), turn_tokens: Number(simTokens.value || 120) };
    submit.disabled = true;
    submit.textContent = 'Starting…';
    try {
      const panel = await api('POST', '/v1/panels', body, { headers: { 'Idempotency-Key': idempotencyKey } });
      location.hash = `#/panels/${panel.id}`;
    } catch (e) {
      if (e.status === 422) showErrors(e);
      else {
        summary.append(h('h2', { text: 'The panel was not created' }), h('p', { text: e.message }));
        summary.hidden = false;
        summary.focus();
      }
    } finally {
      submit.disabled = false;
      submit.textContent = 'Start the panel';
    }
  });

  mountView('New panel', form);
  syncType();
  syncMode();
}

/* ---- Live panel ---- */

/** The view of one panel, patched in place as its feed changes (rendering is batched per animation frame). */
class LiveView {
  constructor(panelId) {
    this.panelId = panelId;
    this.feed = new PanelFeed(app.conn(), panelId, (change) => this.onChange(change));
    this.frame = 0;
    this.cards = new Map();
    this.roundEls = new Map();
    this.activityCount = 0;
    this.humanSig = null;
    this.tick = setInterval(() => this.updateCountdown(), 1000);
    this.announcedAt = new Set();
    this.build();
    this.feed.start();
  }

  destroy() {
    clearInterval(this.tick);
    cancelAnimationFrame(this.frame);
    this.feed.stop();
  }

  onChange(change) {
    if (change.say) announcer.say(change.say);
    if (!this.frame) {
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.render();
      });
    }
  }

  build() {
    this.title = h('h1', { class: 'live-title', id: 'live-title', text: 'Loading panel…' });
    this.meta = h('p', { class: 'live-meta' });
    this.speaking = h('p', { class: 'speaking', id: 'speaking', 'aria-live': 'off' });
    this.banner = h('p', { class: 'banner', hidden: true, role: 'status' });
    this.stale = h('p', { class: 'stale', hidden: true, text: 'Live updates are interrupted; reconnecting. What you see may be behind.' });
    this.humanBox = h('section', { class: 'human-turn', id: 'human-turn', hidden: true, 'aria-labelledby': 'human-turn-h' });
    this.modBar = this.buildModBar();
    this.cardList = h('ul', { class: 'cards', id: 'member-cards' });
    this.members = h('section', { class: 'members', 'aria-labelledby': 'members-h' }, h('h2', { id: 'members-h', text: 'Members' }), this.cardList);
    this.outcome = h('section', { class: 'outcome', id: 'outcome', 'aria-labelledby': 'outcome-h' });
    this.roundList = h('ol', { class: 'rounds', id: 'rounds' });
    this.timeline = h('section', { class: 'timeline', 'aria-labelledby': 'rounds-h' }, h('h2', { id: 'rounds-h', text: 'Rounds' }), h('p', { class: 'help', id: 'rounds-empty', text: 'The first round has not started.' }), this.roundList);
    this.activityList = h('ol', { class: 'activity-list' });
    this.activity = h('section', { class: 'activity', 'aria-labelledby': 'activity-h' }, h('details', {}, h('summary', {}, h('h2', { id: 'activity-h', class: 'inline-h', text: 'Activity' })), this.activityList));
    this.loading = h('p', { class: 'loading', role: 'status', text: 'Connecting to the panel…' });
    this.root = h(
      'article',
      { class: 'live', 'aria-labelledby': 'live-title', dataset: { panelId: this.panelId } },
      h('header', { class: 'live-head' }, h('p', { class: 'crumbs' }, h('a', { href: '#/panels', text: '← All panels' })), this.title, this.meta, this.speaking, this.banner, this.stale),
      this.loading,
      this.humanBox,
      this.modBar,
      h('div', { class: 'live-grid' }, this.members, h('div', { class: 'live-side' }, this.outcome, this.activity), this.timeline),
    );
    mountView('Panel', this.root);
  }

  buildModBar() {
    const msg = h('p', { class: 'mod-msg', role: 'status', id: 'mod-msg' });
    const btn = (action, label, cls = '', onclick = () => this.moderate(action)) => h('button', { type: 'button', class: `btn ${cls}`, dataset: { action }, text: label, onclick });
    this.modButtons = {
      pause: btn('pause', 'Pause'),
      resume: btn('resume', 'Resume'),
      skip_turn: btn('skip_turn', 'Skip turn'),
      end_round: btn('end_round', 'End round'),
      finish: btn('finish', 'Finish now'),
      // Cancelling is final: the button only asks; the confirmation sends.
      cancel: btn('cancel', 'Cancel panel', 'btn-danger', () => {
        confirmBox.hidden = false;
        confirmBox.querySelector('#confirm-cancel').focus();
      }),
    };
    const confirmBox = h(
      'div',
      { class: 'confirm', hidden: true, role: 'group', 'aria-labelledby': 'confirm-cancel-q' },
      h('p', { id: 'confirm-cancel-q', text: 'Cancel this panel? It stops for good and gives no recommendation.' }),
      h('button', {
        type: 'button',
        class: 'btn btn-danger',
        id: 'confirm-cancel',
        text: 'Yes, cancel the panel',
        onclick: () => {
          confirmBox.hidden = true;
          this.moderate('cancel');
        },
      }),
      h('button', {
        type: 'button',
        class: 'btn',
        text: 'Keep it running',
        onclick: () => {
          confirmBox.hidden = true;
          this.modButtons.cancel.focus();
        },
      }),
    );
    const injectInput = h('input', { type: 'text', id: 'inject-text', maxlength: 2000, autocomplete: 'off' });
    const injectForm = h(
      'form',
      { class: 'inject', novalidate: true },
      h('label', { for: 'inject-text', text: 'Question or instruction for the next turns' }),
      h('div', { class: 'inline-row' }, injectInput, h('button', { type: 'submit', class: 'btn', dataset: { action: 'inject' }, text: 'Inject' })),
    );
    injectForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      const text = injectInput.value.trim();
      if (!text) {
        msg.textContent = 'Write the question or instruction to inject first.';
        injectInput.focus();
        return;
      }
      if (await this.moderate('inject', text)) injectInput.value = '';
    });
    this.modMsg = msg;
    this.injectForm = injectForm;
    return h(
      'section',
      { class: 'modbar', id: 'modbar', hidden: true, 'aria-labelledby': 'modbar-h' },
      h('h2', { id: 'modbar-h', class: 'inline-h small', text: 'Moderate' }),
      h('div', { class: 'mod-buttons', role: 'group', 'aria-label': 'Moderator actions' }, Object.values(this.modButtons)),
      confirmBox,
      injectForm,
      msg,
    );
  }

  /** Sends over the socket when it is up (the ack is immediate), else over HTTP. */
  async command(frame, path, body) {
    if (app.conn().isOpen()) {
      try {
        return await app.conn().request(frame);
      } catch (e) {
        if (e.code) throw e; // the server refused: HTTP would refuse too
      }
    }
    return api('POST', path, body);
  }

  async moderate(action, text) {
    const label = { pause: 'Pause', resume: 'Resume', skip_turn: 'Skip', end_round: 'End round', finish: 'Finish', cancel: 'Cancel', inject: 'Inject' }[action];
    this.modMsg.textContent = `${label}: sending…`;
    try {
      const body = text ? { action, text } : { action };
      await this.command({ type: 'moderate', panel_id: this.panelId, ...body }, `/v1/panels/${this.panelId}/moderate`, body);
      this.modMsg.textContent = `${label}: done.`;
      return true;
    } catch (e) {
      this.modMsg.textContent = `${label} failed: ${e.message}`;
      return false;
    }
  }

  canSpeakFor(member) {
    if (!member || member.kind !== 'human') return false;
    if (session.atLeast('moderator')) return true;
    if (!session.atLeast('member')) return false;
    return !member.key_id || member.key_id === session.identity.keyId;
  }

  render() {
    const feed = this.feed;
    if (feed.notFound) {
      this.destroy();
      notFoundView('Panel not found', 'There is no panel with this address in your organisation.');
      return;
    }
    const model = feed.model;
    if (!model) {
      this.loading.textContent = feed.error ? `Could not load the panel: ${feed.error}` : 'Connecting to the panel…';
      return;
    }
    this.loading.hidden = true;
    const p = model.panel;
    this.stale.hidden = TERMINAL.has(p.status) || (app.conn().isOpen() && !feed.waitingForSubscribed);
    // A question may run to 5000 characters: the heading shows its start, the rest stays one click away.
    setText(this.title, p.query.length > 240 ? `${p.query.slice(0, 220).trimEnd()}…` : p.query);
    if (p.query.length > 240 && !this.fullQuery) {
      this.fullQuery = h('details', { class: 'full-query' }, h('summary', { text: 'Full question' }), h('p', { text: p.query }));
      this.title.after(this.fullQuery);
    }
    document.title = `${p.query.slice(0, 60)} · ${(session.tenant && session.tenant.branding && session.tenant.branding.display_name) || 'askpanel'}`;
    this.root.dataset.status = p.status;
    this.renderMeta(model);
    this.renderSpeaking(model);
    this.renderBanner(model);
    this.renderHuman(model);
    this.renderModBar(model);
    this.renderCards(model);
    this.renderOutcome(model);
    this.renderRounds(model);
    this.renderActivity(model);
  }

  renderMeta(model) {
    const p = model.panel;
    const type = TYPE_BY_ID[p.panel_type];
    const cfg = p.config || {};
    const roundNow = model.currentRound();
    const simulated = p.members.some((m) => m.model === 'simulated');
    const sig = [p.status, roundNow && roundNow.round, cfg.max_rounds, simulated].join('|');
    if (this.metaSig === sig) return;
    this.metaSig = sig;
    clear(this.meta);
    appendAll(
      this.meta,
      statusBadge(p.status),
      h('span', { class: 'badge type', text: type ? type.label : p.panel_type }),
      p.panel_type === 'hybrid' && cfg.base_flow ? h('span', { class: 'meta-item', text: `on ${TYPE_BY_ID[cfg.base_flow] ? TYPE_BY_ID[cfg.base_flow].label.toLowerCase() : cfg.base_flow}` }) : null,
      h('span', { class: 'meta-item', text: roundNow ? `Round ${roundNow.round} of at most ${cfg.max_rounds || '?'}` : `Up to ${cfg.max_rounds || '?'} rounds` }),
      cfg.consensus_method ? h('span', { class: 'meta-item', text: METHOD_LABEL[cfg.consensus_method] || cfg.consensus_method }) : null,
      simulated ? h('span', { class: 'tag sim', text: 'Simulated experts' }) : null,
    );
  }

  renderSpeaking(model) {
    const p = model.panel;
    let text;
    if (p.current_turn) text = `${model.memberName(p.current_turn.member_id)} is speaking…`;
    else if (p.pending_human) text = `Waiting for ${model.memberName(p.pending_human.member_id)} (human member) to answer.`;
    else if (p.status === 'paused') text = 'Paused.';
    else if (p.status === 'completed') text = 'The panel has finished.';
    else if (p.status === 'failed') text = 'The panel failed.';
    else if (p.status === 'cancelled') text = 'The panel was cancelled.';
    else if (p.status === 'created') text = 'Starting…';
    else text = 'Deliberating…';
    setText(this.speaking, text);
    this.speaking.dataset.active = p.current_turn ? 'speaking' : p.pending_human ? 'human' : '';
  }

  renderBanner(model) {
    const p = model.panel;
    let text = '';
    if (p.status === 'paused') text = `Paused${p.paused_reason ? ` (${p.paused_reason.replace(/_/g, ' ')})` : ''}. A moderator can resume it.`;
    else if (p.status === 'failed') text = `The panel failed: ${p.error || 'unknown error'}`;
    else if (p.status === 'cancelled') text = 'This panel was cancelled.';
    this.banner.hidden = !text;
    this.banner.dataset.kind = p.status;
    setText(this.banner, text);
  }

  renderHuman(model) {
    const p = model.panel;
    const pending = p.pending_human;
    const sig = pending ? `${pending.request_seq}|${p.status}` : null;
    if (sig === this.humanSig) return;
    const hadFocus = this.humanBox.contains(document.activeElement);
    const keepText = this.humanText && pending && this.humanFor === pending.member_id ? this.humanText.value : '';
    this.humanSig = sig;
    clear(this.humanBox);
    this.humanText = null;
    if (!pending) {
      this.humanBox.hidden = true;
      if (hadFocus) this.title.focus();
      return;
    }
    const member = model.members.get(pending.member_id);
    const name = member ? member.name : 'the human member';
    const round = model.currentRound();
    this.deadline = Date.parse(pending.deadline);
    this.countdown = h('span', { class: 'countdown', role: 'timer', 'aria-live': 'off', id: 'countdown' });
    this.announcedAt = new Set();
    this.humanBox.hidden = false;
    this.humanFor = pending.member_id;
    const paused = p.status === 'paused';
    const deadlineLine = h('p', { class: 'deadline' }, paused ? 'The panel is paused; the deadline starts again when it resumes. ' : `Answer by ${timeOnly.format(new Date(this.deadline))} · `, paused ? null : this.countdown, paused ? null : ' left');
    if (!this.canSpeakFor(member)) {
      appendAll(this.humanBox, h('h2', { id: 'human-turn-h', text: `${name}’s turn` }), h('p', { text: `Waiting for ${name} to answer.` }), deadlineLine);
      this.updateCountdown();
      return;
    }
    const textId = 'human-text';
    const ratingId = 'human-rating';
    const confId = 'human-confidence';
    const errEl = h('p', { class: 'field-error', id: 'human-err', role: 'alert', hidden: true });
    const text = h('textarea', { id: textId, rows: 5, maxlength: 20000, required: true, 'aria-describedby': 'human-help human-err', value: keepText });
    const rating = h('select', { id: ratingId }, h('option', { value: '', text: 'No rating' }), [1, 2, 3, 4, 5, 6, 7, 8, 9].map((v) => h('option', { value: v, text: `${v}${v <= 3 ? ' (disagree)' : v >= 7 ? ' (agree)' : ' (uncertain)'}` })));
    const conf = h('select', { id: confId }, h('option', { value: '', text: 'Not given' }), ['0.5', '0.6', '0.7', '0.8', '0.9', '1'].map((v) => h('option', { value: v, text: v })));
    const asksRating = round && (round.round >= 2 || round.phase === 'rating' || round.phase === 'critique');
    const send = h('button', { type: 'submit', class: 'btn btn-primary', text: 'Send answer' });
    const form = h(
      'form',
      { class: 'human-form', novalidate: true },
      h('label', { for: textId, text: `What ${name} says` }),
      text,
      h('p', { class: 'help', id: 'human-help', text: member.key_id && member.key_id !== session.identity.keyId ? 'You answer as a moderator on their behalf.' : 'Your words go into the transcript as this member’s turn.' }),
      asksRating
        ? h(
            'div',
            { class: 'grid2' },
            // Round 1 has no draft yet: its ratings are of the question as asked.
            h('div', { class: 'field-inline' }, h('label', { for: ratingId, text: p.draft ? 'Your rating of the draft (1–9)' : 'Your rating of the question as asked (1–9)' }), rating),
            h('div', { class: 'field-inline' }, h('label', { for: confId, text: 'Confidence' }), conf),
          )
        : null,
      errEl,
      h('div', { class: 'actions' }, send),
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      let body = text.value.trim();
      if (!body) {
        showFieldError(errEl, text, 'Write an answer first.');
        text.focus();
        return;
      }
      // The server reads a rating trailer from a human turn just as from a model's.
      if (asksRating && rating.value) body += `\n\nRATING: ${rating.value}/9${conf.value ? ` CONFIDENCE: ${conf.value}` : ''}`;
      send.disabled = true;
      send.textContent = 'Sending…';
      showFieldError(errEl, text, null);
      try {
        const payload = { member_id: pending.member_id, text: body };
        await this.command({ type: 'input', panel_id: this.panelId, ...payload }, `/v1/panels/${this.panelId}/input`, payload);
        send.textContent = 'Sent';
        announcer.say('Your answer was sent.');
      } catch (ex) {
        showFieldError(errEl, text, `Not sent: ${ex.message}`);
        send.disabled = false;
        send.textContent = 'Send answer';
        text.focus();
      }
    });
    const own = member.key_id && member.key_id === session.identity.keyId;
    appendAll(this.humanBox, h('h2', { id: 'human-turn-h', text: own ? `Your turn: ${name}` : `${name}’s turn: you can answer` }), deadlineLine, form);
    this.humanText = text;
    this.updateCountdown();
    // The person whose turn it is should be able to type at once, unless they are typing elsewhere.
    const active = document.activeElement;
    const typingElsewhere = active && active !== document.body && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName);
    const focusIt = !paused && (!typingElsewhere || hadFocus);
    if (focusIt) text.focus();
    announcer.say(`It is ${name}’s turn${focusIt ? '; the answer box has focus' : ''}.`);
  }

  updateCountdown() {
    if (!this.countdown || !this.deadline || this.humanBox.hidden) return;
    const left = this.deadline - Date.now();
    setText(this.countdown, left > 0 ? fmtDuration(left) : '0:00');
    this.countdown.dataset.urgent = left < 30000 ? 'true' : 'false';
    for (const mark of [60, 30, 10]) {
      if (left <= mark * 1000 && left > (mark - 2) * 1000 && !this.announcedAt.has(mark)) {
        this.announcedAt.add(mark);
        announcer.say(`${mark} seconds left to answer.`);
      }
    }
  }

  renderModBar(model) {
    const p = model.panel;
    const show = session.atLeast('moderator') && !TERMINAL.has(p.status);
    this.modBar.hidden = !show;
    if (!show) return;
    const live = p.status === 'running' || p.status === 'awaiting_human';
    const b = this.modButtons;
    b.pause.disabled = !live;
    b.resume.disabled = p.status !== 'paused';
    // The server also skips a waiting human while paused.
    b.skip_turn.disabled = !((live && p.current_turn) || ((live || p.status === 'paused') && p.pending_human));
    b.end_round.disabled = !(live || p.status === 'paused');
    b.finish.disabled = p.status === 'created';
    b.cancel.disabled = false;
  }

  renderCards(model) {
    const p = model.panel;
    const dissent = new Set((p.consensus && p.consensus.dissent) || []);
    const round = model.currentRound();
    for (const m of p.members) {
      let card = this.cards.get(m.id);
      if (!card) {
        card = this.buildCard(m);
        this.cards.set(m.id, card);
        this.cardList.append(card.li);
      }
      const ct = p.current_turn && p.current_turn.member_id === m.id ? p.current_turn : null;
      const waiting = p.pending_human && p.pending_human.member_id === m.id;
      const last = model.lastTurnOf(m.id);
      let state = 'idle';
      let stateText = 'Waiting';
      const skipped = round && round.skipped.find((x) => x.member_id === m.id);
      const doneThisRound = round && round.turns.some((t) => t.member_id === m.id);
      if (ct) {
        state = 'speaking';
        stateText = 'Speaking…';
      } else if (waiting) {
        state = 'human';
        stateText = 'Their turn: waiting for input';
      } else if (doneThisRound) {
        state = 'done';
        stateText = `Spoke in round ${round.round}`;
      } else if (skipped) {
        state = 'skipped';
        stateText = `Skipped (${skipped.reason.replace(/_/g, ' ')})`;
      } else if (TERMINAL.has(p.status)) {
        state = 'done';
        stateText = last ? `Last spoke in round ${last.round}` : 'Did not speak';
      }
      card.li.dataset.state = state;
      card.li.setAttribute('aria-busy', ct ? 'true' : 'false');
      setText(card.state, stateText);
      const text = ct ? ct.text : last ? last.text : '';
      setText(card.text, text || (ct ? '' : 'No turn yet.'));
      card.text.dataset.empty = text ? 'false' : 'true';
      card.text.dataset.streaming = ct ? 'true' : 'false';
      const ratingText = !ct && last && last.rating != null ? `Rating ${last.rating}/9${last.confidence != null ? ` · confidence ${fmtNum(last.confidence, 2)}` : ''}` : '';
      setText(card.rating, ratingText);
      card.rating.hidden = !ratingText;
      card.dissent.hidden = !dissent.has(m.id);
    }
  }

  buildCard(m) {
    const nameId = `card-name-${m.id}`;
    const tags = [];
    if (m.kind === 'human') tags.push(h('span', { class: 'tag human', text: 'Human' }));
    if (m.model === 'simulated') tags.push(h('span', { class: 'tag sim', text: 'Simulated' }));
    else if (m.model) tags.push(h('span', { class: 'tag', text: m.model }));
    if (m.team) tags.push(h('span', { class: `tag team-${m.team}`, text: m.team === 'pro' ? 'Pro team' : 'Con team' }));
    if (m.role === 'questioner') tags.push(h('span', { class: 'tag', text: 'Questioner' }));
    const state = h('p', { class: 'card-state' });
    const text = h('p', { class: 'card-text' });
    const rating = h('p', { class: 'card-rating', hidden: true });
    const dissent = h('p', { class: 'card-dissent', hidden: true, text: 'Dissents from the panel' });
    const li = h(
      'li',
      { class: 'card', dataset: { member: m.id, kind: m.kind }, 'aria-labelledby': nameId },
      h('div', { class: 'card-head' }, h('h3', { class: 'card-name', id: nameId, text: m.name }), m.domain ? h('p', { class: 'card-domain', text: domainLabel(m.domain) }) : null, h('p', { class: 'card-tags' }, tags)),
      state,
      text,
      rating,
      dissent,
    );
    return { li, state, text, rating, dissent };
  }

  renderOutcome(model) {
    const p = model.panel;
    const c = p.consensus;
    const sig = [p.status, p.draft, p.recommendation, c && JSON.stringify([c.round, c.level, c.agreement, c.dissent]), p.verdict && p.verdict.winner, p.ideas.length, p.error].join('|');
    if (sig === this.outcomeSig) return;
    this.outcomeSig = sig;
    clear(this.outcome);
    const final = p.recommendation != null;
    this.outcome.append(h('h2', { id: 'outcome-h', text: final ? 'Final recommendation' : 'Recommendation' }));
    if (final) {
      this.outcome.append(h('div', { class: 'recommendation final', id: 'recommendation' }, h('p', { text: p.recommendation })));
      if (model.completionReason) this.outcome.append(h('p', { class: 'help', text: `The panel ended: ${DECISION_LABEL[model.completionReason] || model.completionReason}.` }));
    } else if (p.draft) {
      this.outcome.append(h('div', { class: 'recommendation draft', id: 'draft' }, h('p', { class: 'draft-label', text: `Draft${model.draftRound ? ` after round ${model.draftRound}` : ''}, still under discussion` }), h('p', { text: p.draft })));
      if (p.feedback) this.outcome.append(renderFeedback(p.feedback));
    } else if (TERMINAL.has(p.status)) {
      this.outcome.append(h('p', { class: 'help', text: 'This panel ended without a recommendation.' }));
    } else {
      this.outcome.append(h('p', { class: 'help', text: 'The first draft comes after round 1.' }));
    }
    if (c) {
      const pct = Math.round((c.agreement || 0) * 100);
      this.outcome.append(
        h('h3', { text: 'Agreement' }),
        h(
          'dl',
          { class: 'consensus', id: 'consensus' },
          h('dt', { text: 'Level' }),
          h('dd', {}, h('span', { class: 'level', dataset: { level: c.level }, text: LEVEL_LABEL[c.level] || c.level }), ` (round ${c.round})`),
          h('dt', { text: 'Agreement' }),
          h('dd', {}, h('meter', { min: 0, max: 1, value: c.agreement || 0, 'aria-label': 'Agreement' }), ` ${pct}%`),
          h('dt', { text: 'Median rating' }),
          h('dd', { text: `${fmtNum(c.median)} of 9 (IQR ${fmtNum(c.iqr)}, n = ${c.n})` }),
          h('dt', { text: 'Method' }),
          h('dd', { text: METHOD_LABEL[c.method] || c.method }),
        ),
      );
      const dissent = c.dissent || [];
      this.outcome.append(h('h3', { text: 'Dissenting members' }));
      // Dissent is the other side of the scale from the panel's position (none when it took no side).
      if (dissent.length) this.outcome.append(h('ul', { class: 'dissent', id: 'dissent' }, dissent.map((id) => h('li', { text: model.memberName(id) }))));
      else this.outcome.append(h('p', { class: 'help', id: 'dissent', text: c.level === 'uncertain' ? 'None: the panel took no side, so nobody is on the other side of it.' : 'None: nobody rated on the other side of the panel’s position.' }));
    }
    if (p.verdict) {
      const v = p.verdict;
      this.outcome.append(
        h('h3', { text: 'Verdict' }),
        h('p', { class: 'verdict', id: 'verdict' }, h('strong', { text: v.winner === 'tie' ? 'A tie' : `${v.winner === 'pro' ? 'Pro' : 'Con'} team wins` }), ` · pro ${fmtNum(v.pro_score)}, con ${fmtNum(v.con_score)}, margin ${fmtNum(v.margin)} of 10`),
        v.rationale ? h('p', { text: v.rationale }) : null,
      );
    }
    if (p.ideas && p.ideas.length) {
      this.outcome.append(h('h3', { text: `Ideas collected (${p.ideas.length})` }), h('ul', { class: 'ideas' }, p.ideas.map((i) => h('li', { text: i }))));
    }
  }

  renderRounds(model) {
    const p = model.panel;
    document.getElementById('rounds-empty').hidden = p.rounds.length > 0;
    for (const r of p.rounds) {
      let el = this.roundEls.get(r.round);
      if (!el) {
        el = this.buildRound(r);
        this.roundEls.set(r.round, el);
        this.roundList.append(el.li);
      }
      this.updateRound(model, r, el);
    }
  }

  buildRound(r) {
    const hId = `round-h-${r.round}`;
    const meta = h('p', { class: 'round-meta' });
    const chart = h('div', { class: 'round-chart' });
    const transcript = h('ol', { class: 'transcript', dataset: { round: r.round } });
    const summary = h('summary', { text: 'Transcript' });
    const details = h('details', { open: true }, summary, transcript);
    const li = h('li', { class: 'round', dataset: { round: r.round }, 'aria-labelledby': hId }, h('h3', { id: hId, text: `Round ${r.round} · ${PHASE_LABEL[r.phase] || r.phase}` }), meta, chart, details);
    return { li, meta, chart, transcript, summary, entries: 0, sig: null };
  }

  updateRound(model, r, el) {
    const p = model.panel;
    const c = model.roundConsensus.get(r.round);
    const sig = [r.turns.length, r.skipped.length, r.decision, r.stats && r.stats.median, c && c.level, p.status].join('|');
    if (sig === el.sig) return;
    el.sig = sig;
    // Transcript entries are appended in seq order and never redrawn: nothing shown twice.
    const entries = [...r.turns.map((t) => ({ ...t, kind: 'turn' })), ...r.skipped.map((x) => ({ ...x, kind: 'skip' }))].sort((a, b) => (a.seq || 0) - (b.seq || 0));
    for (const e of entries.slice(el.entries)) {
      const m = model.members.get(e.member_id);
      const name = model.memberName(e.member_id);
      if (e.kind === 'turn') {
        el.transcript.append(
          h(
            'li',
            { class: 'turn', dataset: { seq: e.seq, member: e.member_id } },
            h('p', { class: 'turn-head' }, h('strong', { text: name }), m && m.kind === 'human' ? h('span', { class: 'tag human', text: 'Human' }) : m && m.model === 'simulated' ? h('span', { class: 'tag sim', text: 'Simulated' }) : null, e.rating != null ? h('span', { class: 'turn-rating', text: `Rating ${e.rating}/9${e.confidence != null ? `, confidence ${fmtNum(e.confidence, 2)}` : ''}` }) : null),
            h('p', { class: 'turn-text', text: e.text }),
          ),
        );
      } else {
        el.transcript.append(h('li', { class: 'turn skipped', dataset: { seq: e.seq || '', member: e.member_id } }, h('p', { class: 'turn-head' }, h('strong', { text: name }), ` — turn skipped (${String(e.reason).replace(/_/g, ' ')})`)));
      }
    }
    el.entries = entries.length;
    setText(el.summary, `Transcript (${r.turns.length} turn${r.turns.length === 1 ? '' : 's'}${r.skipped.length ? `, ${r.skipped.length} skipped` : ''})`);

    clear(el.meta);
    const parts = [];
    if (r.decision) parts.push(h('span', { class: 'meta-item', text: `Outcome: ${DECISION_LABEL[r.decision] || r.decision}` }));
    else if (r === model.currentRound() && !TERMINAL.has(p.status)) parts.push(h('span', { class: 'meta-item', text: 'In progress' }));
    if (r.stats) parts.push(h('span', { class: 'meta-item', text: `Median ${fmtNum(r.stats.median)}, IQR ${fmtNum(r.stats.iqr)}, n = ${r.stats.n}` }));
    if (c) parts.push(h('span', { class: 'meta-item' }, 'Consensus level: ', h('span', { class: 'level', dataset: { level: c.level }, text: LEVEL_LABEL[c.level] || c.level }), ` (${Math.round(c.agreement * 100)}% agreement)`));
    appendAll(el.meta, parts);

    const rated = r.turns.filter((t) => t.rating != null).map((t) => ({ memberId: t.member_id, name: model.memberName(t.member_id), rating: t.rating, confidence: t.confidence }));
    clear(el.chart);
    if (rated.length) {
      const dissent = new Set((c && c.dissent) || []);
      const title = `Ratings in round ${r.round}: ${rated.length} member${rated.length === 1 ? '' : 's'}${r.stats ? `, median ${fmtNum(r.stats.median)}, IQR ${fmtNum(r.stats.iqr)}` : ''}`;
      const { svg, q1, q3, median } = ratingsChart({ ratings: rated, stats: r.stats, dissent, title });
      el.chart.append(
        h(
          'figure',
          { class: 'chart-figure' },
          svg,
          h('figcaption', {}, `Dots: each member’s rating on 1–9 (outlined: dissent). Band: interquartile range ${fmtNum(q1)}–${fmtNum(q3)}. Line: median ${fmtNum(median)}.`),
        ),
      );
    }
  }

  renderActivity(model) {
    const items = model.activity;
    for (const a of items.slice(this.activityCount)) {
      this.activityList.append(h('li', {}, h('time', { datetime: a.ts, text: timeOnly.format(new Date(a.ts)) }), ' ', a.text));
    }
    this.activityCount = items.length;
  }
}

/* ---- Not found ---- */

function notFoundView(title = 'Not found', text = 'There is nothing at this address.') {
  mountView(title, h('section', { class: 'not-found', id: 'not-found' }, h('h1', { text: title }), h('p', { text }), h('p', {}, h('a', { href: '#/panels', text: 'Back to the panels' }))));
}

/* ------------------------------------------------------------------ */
/* 9. Router and start-up                                              */
/* ------------------------------------------------------------------ */

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const CONN_TEXT = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  open: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
};

const app = {
  connection: null,
  current: null,
  routed: 0,

  conn() {
    if (!this.connection) this.connection = new LiveConnection({ onState: (st, detail) => this.showConnState(st, detail) });
    return this.connection;
  },

  showConnState(state, detail = {}) {
    const el = document.getElementById('conn');
    // Only live views use the socket; elsewhere its state means nothing to a person.
    el.hidden = state === 'idle';
    el.dataset.state = state;
    let text = CONN_TEXT[state] || state;
    if (state === 'reconnecting' && detail.delay) text = `Connection lost; retrying in ${Math.max(1, Math.round(detail.delay / 1000))} s…`;
    if (state === 'offline' && detail.reason) text = `Offline: ${detail.reason}`;
    setText(document.getElementById('conn-text'), text);
  },

  async signIn(key) {
    const tenant = await api('GET', '/v1/tenant', undefined, { key });
    session.store(key);
    session.tenant = tenant;
    await whoAmI();
    this.showSignedIn();
    this.route();
  },

  showSignedIn() {
    applyBranding(session.tenant && session.tenant.branding);
    document.getElementById('nav').hidden = false;
    document.getElementById('sign-out').hidden = false;
    document.getElementById('nav-new').hidden = !session.atLeast('member');
  },

  signOut(message) {
    if (this.current && this.current.destroy) this.current.destroy();
    this.current = null;
    if (this.connection) this.connection.stop();
    this.connection = null;
    session.forget();
    applyBranding(null);
    document.getElementById('nav').hidden = true;
    document.getElementById('sign-out').hidden = true;
    document.getElementById('conn').hidden = true;
    if (location.hash && location.hash !== '#/') history.replaceState(null, '', `${location.pathname}${location.search}#/`);
    signInView(message);
  },

  route() {
    this.routed += 1;
    if (session.takeKeyFromFragment()) {
      // A sign-in link opened in a signed-in tab: start over with the new key.
      if (this.connection) this.connection.stop();
      this.connection = null;
      this.boot();
      return;
    }
    if (this.current && this.current.destroy) this.current.destroy();
    this.current = null;
    if (!session.key) {
      signInView();
      return;
    }
    const raw = location.hash.replace(/^#/, '') || '/';
    const [path, qs] = raw.split('?');
    const params = new URLSearchParams(qs || '');
    for (const a of document.querySelectorAll('#nav a')) a.removeAttribute('aria-current');
    const previous = this.lastPath;
    this.lastPath = path;
    if (path === '/' || path === '/panels') {
      document.getElementById('nav-panels').setAttribute('aria-current', 'page');
      listView(params, { filterChanged: previous === path });
    } else if (path === '/new') {
      document.getElementById('nav-new').setAttribute('aria-current', 'page');
      createView();
    } else if (path.startsWith('/panels/')) {
      const id = decodeURIComponent(path.slice('/panels/'.length));
      if (!UUID_RE.test(id)) notFoundView('Panel not found', 'There is no panel with this address in your organisation.');
      else this.current = new LiveView(id.toLowerCase());
    } else notFoundView();
  },

  async boot() {
    session.takeKeyFromFragment();
    if (!session.load()) {
      signInView();
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
      mountView('Error', h('section', {}, h('h1', { text: 'The server could not be reached' }), h('p', { text: e.message }), h('button', { type: 'button', class: 'btn', text: 'Try again', onclick: () => this.boot() })));
      return;
    }
    await whoAmI();
    this.showSignedIn();
    this.route();
  },
};

document.getElementById('sign-out').addEventListener('click', () => app.signOut('You are signed out.'));
window.addEventListener('hashchange', () => app.route());

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
};

app.boot();

/** Delphi: the facilitator's synthesis of a round's anonymous rationales, as members see it. */
function renderFeedback(f) {
  const list = (title, items) => (items && items.length ? [h('p', { class: 'draft-label', text: title }), h('ul', {}, items.map((a) => h('li', { text: a })))] : []);
  return h(
    'div',
    { class: 'recommendation draft', id: 'feedback' },
    h('p', { class: 'draft-label', text: `Facilitator’s synthesis of the ${f.rationales} anonymous rationales of round ${f.round}` }),
    ...list('Arguments for', f.arguments_for),
    ...list('Arguments against', f.arguments_against),
    ...list('Open questions', f.open_questions),
    f.condensed ? h('p', { class: 'help', text: `${f.condensed} similar or overlong arguments were merged or shortened.` }) : null,
  );
}
