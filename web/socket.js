// Live connection: the page's one WebSocket (fresh token per connect, pings,
// backoff with jitter, reconnects by itself, closes when nothing is watched).
// Panel feeds (feed.js) attach to it and resubscribe on every open.

import { api } from './api.js';

const PING_EVERY_MS = 20000;
const PONG_TIMEOUT_MS = 10000;
const ACK_TIMEOUT_MS = 15000;
const IDLE_CLOSE_MS = 30000;

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
