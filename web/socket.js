// Live connection: the page's one WebSocket (fresh token per connect, pings,
// backoff with jitter, reconnects by itself, closes when nothing is watched
// unless it is kept open). Panel feeds (feed.js) attach to it and resubscribe
// on every open; frames no panel carries (a person's notifications) go to
// whoever listens for their type.

import { api } from './api.js';

const PING_EVERY_MS = 20000;
const PONG_TIMEOUT_MS = 10000;
const ACK_TIMEOUT_MS = 15000;
const IDLE_CLOSE_MS = 30000;
// Retries back off to this; a socket kept open with no panel watched waits longer.
const RETRY_MAX_MS = 10000;
const RETRY_MAX_KEPT_MS = 30000;

/**
 * One WebSocket for the page. Each (re)connect fetches a fresh token (they
 * live minutes) and asks every attached feed to resubscribe from where it
 * is. Backoff with jitter so a restarted server is not stampeded.
 */
export class LiveConnection {
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
    this.detail = {};
    /** Kept open with no panel watched (a signed-in person's notifications arrive on it). */
    this.kept = false;
    /** type -> Set of fn(frame); `open` is called after every (re)connect. */
    this.listeners = new Map();
    this.stats = { opens: 0, closes: 0 };
    this.onOnline = () => {
      if (this.state === 'reconnecting') this.connectNow();
    };
    window.addEventListener('online', this.onOnline);
  }

  setState(state, detail) {
    if (this.stopped && state !== 'idle') return;
    this.state = state;
    this.detail = detail || {};
    this.onState(state, this.detail);
  }

  /** Whether a panel is watched (the connection badge means something only then). */
  watching() {
    return this.feeds.size > 0;
  }

  /**
   * Keeps the socket open, and reconnecting, while nothing is watched: a
   * signed-in person's notifications come over it whatever screen is open.
   */
  keepOpen(on) {
    if (this.stopped) return;
    this.kept = Boolean(on);
    if (this.kept) {
      clearTimeout(this.idleTimer);
      if (!this.ws && !this.retryTimer && !this.connecting) this.connectNow();
    } else if (this.feeds.size === 0) {
      clearTimeout(this.idleTimer);
      this.idleTimer = setTimeout(() => this.goIdle(), IDLE_CLOSE_MS);
    }
  }

  /** Calls `fn(frame)` for every frame of `type` no panel carries (`open`: after each connect). Returns the way to stop. */
  listen(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
    return () => {
      const set = this.listeners.get(type);
      if (set) set.delete(fn);
    };
  }

  emit(type, frame) {
    for (const fn of this.listeners.get(type) || []) {
      try {
        fn(frame);
      } catch (e) {
        // One listener's mistake must not cut the socket's frames off from the rest.
        setTimeout(() => {
          throw e;
        });
      }
    }
  }

  nextRef() {
    this.refSeq += 1;
    return `r${this.refSeq}`;
  }

  attach(feed) {
    clearTimeout(this.idleTimer);
    this.feeds.set(feed.panelId, feed);
    if (this.ws && this.ws.readyState === WebSocket.OPEN) feed.resubscribe();
    // Down and waiting to retry (a kept socket waits up to 30 s): a panel just opened is worth a try now.
    else if (!this.ws && !this.connecting) this.connectNow();
    // The badge shows while a panel is watched: say the state again now that one is.
    this.onState(this.state, this.detail);
  }

  detach(feed) {
    if (this.feeds.get(feed.panelId) !== feed) return;
    this.feeds.delete(feed.panelId);
    if (!feed.ended) this.sendRaw({ type: 'unsubscribe', panel_id: feed.panelId });
    if (this.feeds.size) return;
    this.onState(this.state, this.detail);
    // Nothing watched for a while: give the server its socket back (unless it is kept open).
    if (!this.kept) {
      clearTimeout(this.idleTimer);
      this.idleTimer = setTimeout(() => this.goIdle(), IDLE_CLOSE_MS);
    }
  }

  goIdle() {
    if (this.feeds.size || this.kept) return;
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
    if (this.stopped || (this.feeds.size === 0 && !this.kept)) {
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
      // Listeners catch up on what they may have missed while the socket was down.
      this.emit('open', null);
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
    // 0.5 s, 1 s, 2 s ... capped at 10 s (30 s with no panel watched), with jitter.
    const cap = this.feeds.size === 0 && this.kept ? RETRY_MAX_KEPT_MS : RETRY_MAX_MS;
    const base = Math.min(cap, 500 * 2 ** (Math.min(this.attempt, 10) - 1));
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
    else if (!frame.panel_id && frame.type !== 'open') this.emit(frame.type, frame);
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
    this.listeners.clear();
    this.kept = false;
    this.setState('idle');
  }
}
