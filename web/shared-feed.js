// A shared link's panel feed: what PanelFeed (feed.js) is to the panel view,
// without a key. The log comes from GET /v1/shared/{token}/events (JSON
// pages), then, while the panel runs, live as Server-Sent Events from the
// same address; each event is applied once, in seq order, to the same
// PanelModel. No call carries the Authorization header: the token in the
// path is the only credential, and it opens this one panel.

import { TERMINAL } from './format.js';
import { PanelModel } from './model.js';
import { api } from './api.js';
import { debugStats } from './state.js';

const PAGE = 500;
const RETRY_MS = [1000, 2000, 5000, 10000];
// Events arrive named by their kind, and EventSource hands a named event only
// to a listener for that name. A kind missing here shows as a gap in seq,
// which the JSON log fills.
const KINDS = [
  'panel_created',
  'panel_started',
  'round_started',
  'turn_started',
  'turn_completed',
  'turn_skipped',
  'turn_aborted',
  'human_turn_requested',
  'human_input',
  'moderator_action',
  'round_completed',
  'consensus_updated',
  'draft_updated',
  'feedback_updated',
  'panel_paused',
  'panel_resumed',
  'panel_completed',
  'panel_failed',
  'panel_cancelled',
];

export class SharedFeed {
  /** `onOpened(data)`: the link's answer (GET /v1/shared/{token}: the panel, its expiry, the organisation's branding). */
  constructor(token, onChange, { onOpened = () => {} } = {}) {
    this.base = `/v1/shared/${encodeURIComponent(token)}`;
    this.onChange = onChange;
    this.onOpened = onOpened;
    /** The sharing organisation's branding ({display_name, primary_color, secondary_color, logo_url}); null until known. */
    this.branding = null;
    this.model = null;
    this.lastSeq = 0;
    // The head when the page opened: events up to it are history, shown but not announced.
    this.replayUntil = 0;
    this.appliedSeqs = [];
    this.expiresAt = null;
    this.notFound = false;
    this.error = null;
    this.ended = false;
    this.interrupted = false;
    this.source = null;
    this.reading = false;
    this.attempt = 0;
    this.timer = 0;
    this.stopped = false;
  }

  async start() {
    let data;
    try {
      data = await api('GET', this.base, undefined, { key: null });
    } catch (e) {
      this.failed(e, () => this.start());
      return;
    }
    if (this.stopped) return;
    this.expiresAt = data.expires_at || null;
    this.branding = data.branding || null;
    this.onOpened(data);
    this.replayUntil = (data.panel && data.panel.head_seq) || 0;
    this.follow();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.closeSource();
  }

  /** Whether what the page shows is current (the stale line says otherwise). */
  isConnected() {
    return !this.error && !this.interrupted;
  }

  /** Reads the log after the last applied event, then follows it live while the panel runs. */
  async follow() {
    if (this.reading || this.stopped) return;
    this.reading = true;
    try {
      for (;;) {
        const data = await api('GET', `${this.base}/events?after=${this.lastSeq}&limit=${PAGE}`, undefined, { key: null });
        if (this.stopped) return;
        const events = (data && data.events) || [];
        for (const ev of events) this.apply(ev);
        if (!events.length || this.lastSeq >= (data.head_seq || 0)) break;
      }
    } catch (e) {
      this.failed(e, () => this.follow());
      return;
    } finally {
      this.reading = false;
    }
    this.error = null;
    this.interrupted = false;
    // The backoff is reset only when a stream opens (es.onopen): a stream
    // that keeps being refused must not retry every second forever.
    if (this.ended) this.onChange({ kind: 'caught_up' });
    else this.listen();
  }

  listen() {
    this.closeSource();
    const es = new EventSource(`${this.base}/events?after=${this.lastSeq}`);
    this.source = es;
    const onMessage = (msg) => {
      if (this.source === es) this.onMessage(msg);
    };
    for (const kind of KINDS) es.addEventListener(kind, onMessage);
    es.addEventListener('message', onMessage);
    es.onopen = () => {
      if (this.source !== es) return;
      this.interrupted = false;
      this.attempt = 0;
      this.onChange({ kind: 'connection' });
    };
    es.onerror = () => {
      if (this.source !== es) return;
      this.interrupted = true;
      this.onChange({ kind: 'connection' });
      // CONNECTING: the browser reconnects by itself and Last-Event-ID resumes.
      // CLOSED: it gave up (a revoked or expired link answers 404): ask why.
      if (es.readyState === EventSource.CLOSED) {
        this.closeSource();
        this.retry(() => this.recheck());
      }
    };
  }

  onMessage(msg) {
    let f;
    try {
      f = JSON.parse(msg.data);
    } catch {
      return;
    }
    if (!f || typeof f.seq !== 'number') return;
    if (f.seq <= this.lastSeq) {
      debugStats.duplicateEvents += 1;
      return;
    }
    if (f.seq !== this.lastSeq + 1) {
      // A kind this page does not listen for: read the missing events from the log.
      debugStats.gaps += 1;
      this.closeSource();
      this.follow();
      return;
    }
    this.apply(f);
    // A finished panel sends nothing more.
    if (this.ended) this.closeSource();
  }

  apply(f) {
    if (f.seq <= this.lastSeq) return;
    const ev = { seq: f.seq, ts: f.ts, kind: f.kind, data: f.data || {} };
    let say = null;
    if (ev.kind === 'panel_created') this.model = new PanelModel({ ...(ev.data.panel || {}), head_seq: ev.seq });
    else if (this.model) say = this.model.apply(ev);
    this.lastSeq = ev.seq;
    this.appliedSeqs.push(ev.seq);
    debugStats.eventsApplied += 1;
    if (this.model && TERMINAL.has(this.model.panel.status)) this.ended = true;
    this.onChange({ kind: 'event', event: ev, say: ev.seq > this.replayUntil ? say : null });
  }

  /** The stream gave up: a link that is gone says so; anything else tries again. */
  async recheck() {
    try {
      await api('GET', this.base, undefined, { key: null });
    } catch (e) {
      this.failed(e, () => this.recheck());
      return;
    }
    this.follow();
  }

  failed(e, again) {
    if (this.stopped) return;
    if (e.status === 404) {
      this.notFound = true;
      this.ended = true;
      this.closeSource();
      this.onChange({ kind: 'not_found' });
      return;
    }
    this.error = e.message;
    this.onChange({ kind: 'error' });
    this.retry(again);
  }

  retry(fn) {
    clearTimeout(this.timer);
    const delay = RETRY_MS[Math.min(this.attempt, RETRY_MS.length - 1)];
    this.attempt += 1;
    this.timer = setTimeout(() => {
      if (!this.stopped) fn();
    }, delay);
  }

  closeSource() {
    if (this.source) this.source.close();
    this.source = null;
  }
}
