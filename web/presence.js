// Presence on a live panel: who is watching it ("Watching: you, Ada, ci key
// and 2 people with a share link") and which human members are connected.
// From the `subscribed` snapshot's `presence` and the `presence` frames the
// server sends whenever it changes (feed.js keeps the latest).
//
// presence (docs/presence.md): { viewers: [{kind: "user"|"key", id, name}],
//   viewers_total, anonymous, members_connected: [member_id] }
// `viewers_total` counts the people and keys watching, of which `viewers`
// names at most 100; `anonymous` counts share-link streams, apart.

import { h, setText } from './dom.js';
import { session } from './session.js';

/** "a", "a and b", "a, b and c". */
export function listWords(items) {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

function viewerLabel(v) {
  const name = String(v.name || '').trim();
  if (v.kind === 'key') return /\bkey$/i.test(name) ? name : `${name || 'an API'} key`;
  return name || 'someone';
}

function isSelf(v) {
  const me = session.identity;
  return (v.kind === 'user' && Boolean(me.userId) && v.id === me.userId) || (v.kind === 'key' && Boolean(me.keyId) && v.id === me.keyId);
}

/** The line's text; '' when the presence names nobody. Sorted, so it changes only when the watchers do. */
export function watchingText(presence) {
  const viewers = Array.isArray(presence.viewers) ? presence.viewers : [];
  const self = viewers.some(isSelf);
  const names = viewers
    .filter((v) => !isSelf(v))
    .map(viewerLabel)
    .sort((a, b) => a.localeCompare(b));
  const parts = self ? ['you', ...names] : names;
  const unnamed = Math.max(0, (Number(presence.viewers_total) || 0) - viewers.length);
  if (unnamed) parts.push(`${unnamed} other${unnamed === 1 ? '' : 's'}`);
  const anonymous = Number(presence.anonymous) || 0;
  if (anonymous) parts.push(`${anonymous} ${anonymous === 1 ? 'person' : 'people'} with a share link`);
  if (!parts.length) return '';
  if (self && parts.length === 1) return 'Watching: only you.';
  return `Watching: ${listWords(parts)}.`;
}

/** The "Watching" line and the set of connected members, updated from a presence (null: none known yet). */
export class PresenceLine {
  constructor() {
    // Polite and only rewritten when the sentence changes: a watcher coming or going is said once.
    this.el = h('p', { class: 'presence', id: 'presence', 'aria-live': 'polite', hidden: true });
    this.connected = new Set();
    this.last = null;
  }

  update(presence) {
    if (!presence || presence === this.last) return;
    this.last = presence;
    const text = watchingText(presence);
    setText(this.el, text);
    this.el.hidden = !text;
    this.connected = new Set(Array.isArray(presence.members_connected) ? presence.members_connected : []);
  }
}
