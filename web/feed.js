// Panel feed: one panel's subscription over the live connection, resumed
// with after_seq after any drop or `lagged`, token deltas merged in order,
// and who is watching (the latest presence, presence.js shows it).

import { TERMINAL, charLength, dropChars } from './format.js';
import { PanelModel } from './model.js';
import { debugStats } from './state.js';

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
export class PanelFeed {
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
    /** The latest presence: the snapshot's, then each `presence` frame's (null until the server sends one). */
    this.presence = null;
  }

  start() {
    this.conn.attach(this);
  }

  stop() {
    this.conn.detach(this);
  }

  /** Whether what the page shows is current: the socket is up and the subscription answered. */
  isConnected() {
    return this.conn.isOpen() && !this.waitingForSubscribed;
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
        if (f.snapshot && f.snapshot.presence) this.presence = f.snapshot.presence;
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
      case 'presence':
        this.presence = f;
        this.onChange({ kind: 'presence' });
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
