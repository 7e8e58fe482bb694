// Formatting (dates, numbers, durations, text offsets in code points) and the
// labels of the server's enums (statuses, panel types, methods, levels...).

import { h } from './dom.js';

/** Unicode code points: the server counts token offsets in Rust chars, not UTF-16 units. */
export function charLength(text) {
  const pairs = text.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g);
  return text.length - (pairs ? pairs.length : 0);
}

export function dropChars(text, count) {
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
export const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });

export function fmtDate(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateTime.format(d);
}

// Figures are rounded by the server's one rule (docs/records.md, "Figures"):
// at most two decimals, half away from zero, trailing zeros dropped, so the
// page, the report and the recommendation's text show the same numbers.
export function fmtNum(n, digits = 2) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  const scale = 10 ** digits;
  const rounded = (Math.sign(n) * Math.round(Math.abs(n) * scale)) / scale;
  return String(rounded === 0 ? 0 : Number(rounded.toFixed(digits)));
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** "just now", "5 minutes ago", "yesterday"; the date itself after a week. */
export function fmtAgo(iso, now = Date.now()) {
  const t = Date.parse(iso || '');
  if (Number.isNaN(t)) return iso || '';
  const s = Math.round((t - now) / 1000);
  if (Math.abs(s) < 45) return 'just now';
  const m = Math.round(s / 60);
  if (Math.abs(m) < 60) return relative.format(m, 'minute');
  const hours = Math.round(m / 60);
  if (Math.abs(hours) < 24) return relative.format(hours, 'hour');
  const d = Math.round(hours / 24);
  if (Math.abs(d) < 7) return relative.format(d, 'day');
  return fmtDate(iso);
}

export function fmtDuration(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const m = Math.floor(total / 60);
  const sec = total % 60;
  return `${m}:${String(sec).padStart(2, '0')}`;
}

export const STATUS_LABEL = {
  created: 'Created',
  running: 'Running',
  awaiting_human: 'Awaiting human',
  paused: 'Paused',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Cancelled',
};
export const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

export const PANEL_TYPES = [
  { id: 'structured', label: 'Structured', bounds: [3, 8], help: 'Fixed speaking order, everyone sees the full transcript; ends at consensus or the round limit.' },
  { id: 'open', label: 'Open', bounds: [3, 12], help: 'Brainstorming: members bid to speak or pass; ideas are collected until a round brings nothing new.' },
  { id: 'socratic', label: 'Socratic', bounds: [3, 8], help: 'A questioner probes the weakest point or widest disagreement each round; the others answer.' },
  { id: 'adversarial', label: 'Adversarial', bounds: [4, 10], help: 'Two teams, pro and con, argue through opening, rebuttal and closing; a judge gives a verdict.' },
  { id: 'delphi', label: 'Delphi', bounds: [5, 12], help: 'Anonymous rounds of ratings with rationales; stops at RAND/UCLA consensus, stability or the round limit.' },
  { id: 'hybrid', label: 'Hybrid', bounds: [3, 12], help: 'Human members take turns alongside AI experts, and moderators steer live.' },
];
export const TYPE_BY_ID = Object.fromEntries(PANEL_TYPES.map((t) => [t.id, t]));

export const ROLE_LABEL = { viewer: 'Viewer', member: 'Member', moderator: 'Moderator', admin: 'Admin' };
export const ROLES = ['viewer', 'member', 'moderator', 'admin'];

/** What a person can be told (docs/notifications.md), in the order the Account screen lists them. */
export const NOTIFICATION_KINDS = [
  { kind: 'human_turn', label: 'Your turn on a panel', help: 'A panel you sit on waits for your answer.' },
  { kind: 'human_turn_reminder', label: 'Reminder before your turn runs out', help: 'Once per turn, when a quarter of its time is left.' },
  { kind: 'panel_seat', label: 'A seat on a new panel', help: 'Someone created a panel with a seat for you.' },
  { kind: 'panel_completed', label: 'A panel you follow completed', help: 'Panels you created, sit on or moderated.' },
  { kind: 'panel_failed', label: 'A panel you follow failed', help: 'Panels you created, sit on or moderated.' },
  { kind: 'panel_cancelled', label: 'A panel you follow was cancelled', help: 'Panels you created, sit on or moderated.' },
  { kind: 'webhook_disabled', label: 'A webhook endpoint was disabled', help: 'Admins only: an endpoint kept failing and was turned off.' },
];

export const USER_STATUS_LABEL = { invited: 'Invited', active: 'Active', removed: 'Removed' };

export const METHOD_LABEL = {
  rand_ucla: 'RAND/UCLA',
  confidence_weighted: 'Confidence-weighted',
  majority: 'Majority',
};

export const ABORT_REASON = {
  paused: 'the panel paused',
  interrupted: 'the server restarted',
  model_error: 'the model failed',
  round_ended: 'the round was ended',
  finished: 'the panel was finished',
  cancelled: 'the panel was cancelled',
};

export const LEVEL_LABEL = {
  consensus: 'Consensus',
  majority: 'Majority',
  uncertain: 'Uncertain',
  disagreement: 'Disagreement',
};

export const DECISION_LABEL = {
  continue: 'continues',
  consensus: 'consensus reached',
  stable: 'ratings stable',
  saturated: 'no new ideas',
  max_rounds: 'round limit reached',
  finished: 'finished by a moderator',
  too_few_members: 'too few members left',
};

export const PHASE_LABEL = {
  opening: 'Opening positions',
  critique: 'Critique of the draft',
  brainstorm: 'Brainstorm',
  inquiry: 'Questions and answers',
  rebuttal: 'Rebuttal',
  closing: 'Closing statements',
  rating: 'Anonymous rating',
};

const DOMAIN_LABEL = { ai_ml: 'AI/ML', digital_health: 'Digital health', health_economics: 'Health economics' };

export function domainLabel(domain) {
  if (!domain) return '';
  if (DOMAIN_LABEL[domain]) return DOMAIN_LABEL[domain];
  const words = domain.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function statusBadge(status) {
  return h('span', { class: 'badge status', dataset: { status }, text: STATUS_LABEL[status] || status });
}

/** Bytes for a person: 0 B, 512 B, 1.2 KB, 48.3 MB (powers of 1024, as the server's limits in MB are). */
export function fmtBytes(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  const units = ['B', 'KB', 'MB', 'GB'];
  let v = Number(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return i === 0 ? `${v} ${units[i]}` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export const DOC_STATUS_LABEL = {
  pending: 'Waiting',
  extracting: 'Reading',
  ready: 'Ready',
  failed: 'Failed',
};

const DOC_TYPE_BY_MEDIA = { 'application/pdf': 'PDF', 'text/markdown': 'Markdown', 'text/x-markdown': 'Markdown', 'text/plain': 'Text', 'text/html': 'HTML' };
const DOC_TYPE_BY_EXT = { pdf: 'PDF', md: 'Markdown', markdown: 'Markdown', txt: 'Text', html: 'HTML', htm: 'HTML' };

/** "PDF", "Markdown", "Text", "HTML" from a document's media type, else its file name. */
export function docTypeLabel(doc) {
  const media = String(doc.media_type || '').split(';')[0].trim().toLowerCase();
  if (DOC_TYPE_BY_MEDIA[media]) return DOC_TYPE_BY_MEDIA[media];
  const ext = /\.([a-z0-9]+)$/i.exec(doc.filename || '');
  return (ext && DOC_TYPE_BY_EXT[ext[1].toLowerCase()]) || media || 'Document';
}

/** Where a passage sits: "page 4 · Battery safety" (either part may be missing). */
export function passagePlace(p) {
  return [p.page != null ? `page ${p.page}` : null, p.heading || null].filter(Boolean).join(' · ');
}
