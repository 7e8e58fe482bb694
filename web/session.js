// Session: how the page is signed in (an API key kept in session storage,
// or a person's HttpOnly cookie with its CSRF token held in memory only), the
// caller's identity, the tenant's branding.

import { setText } from './dom.js';

const KEY_STORAGE = 'askpanel.key';

const NO_IDENTITY = Object.freeze({ role: null, keyId: null, userId: null });

export const session = {
  key: null,
  /**
   * A signed-in person's CSRF token (docs/accounts.md). Never stored: the
   * cookie is HttpOnly and survives a reload, the token is read again from
   * GET /v1/auth/session.
   */
  csrf: null,
  /** The signed-in person ({id, email, name, role, ...}); null with a key. */
  user: null,
  tenant: null,
  /** { role, keyId, userId }: from /v1/tenant's caller, else the WebSocket token's claims (see whoAmI in api.js). */
  identity: { ...NO_IDENTITY },

  /** 'key', 'person' or null: how the page is signed in. */
  get mode() {
    if (this.key) return 'key';
    return this.csrf ? 'person' : null;
  },

  signedIn() {
    return this.mode !== null;
  },

  /** A person's session: the answer of sign-in, a redeemed invitation or GET /v1/auth/session. */
  startPerson(body) {
    this.csrf = body.csrf_token;
    this.user = body.user;
    this.identity = { role: body.user.role, keyId: null, userId: body.user.id };
  },

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
    this.csrf = null;
    this.user = null;
    this.tenant = null;
    this.identity = { ...NO_IDENTITY };
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

  /** Admin-only screens are shown only to a known admin (the server refuses the rest anyway). */
  isAdmin() {
    return this.identity.role === 'admin';
  },
};

/**
 * A fallback for a server whose /v1/tenant names no caller: the WebSocket
 * token's payload (base64url JSON before the signature) names the key's or
 * person's id and the role.
 */
export function identityFromToken(token) {
  try {
    const payload = token.split('.')[0].replace(/-/g, '+').replace(/_/g, '/');
    const json = JSON.parse(atob(payload + '==='.slice((payload.length + 3) % 4)));
    return { role: typeof json.r === 'string' ? json.r : null, keyId: typeof json.k === 'string' ? json.k : null, userId: typeof json.u === 'string' ? json.u : null };
  } catch {
    return { ...NO_IDENTITY };
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

const HEX_RE = /^#[0-9a-fA-F]{6}$/;

/** `hex` darkened step by step until it reaches `ratio` against white (at most 20 steps). */
function readableOnWhite(hex, ratio) {
  let c = hex;
  for (let i = 0; i < 20 && contrast(c, '#ffffff') < ratio; i += 1) c = darken(c, 0.12);
  return c;
}

/**
 * Sets `--${name}` (the colour as chosen), `--on-${name}` (text on it) and
 * `--${name}-text` (the colour darkened to 4.5:1 on white, for text), or
 * removes them when `color` is null so the stylesheet's own values stand.
 */
function setColour(root, name, color) {
  if (!color) {
    for (const p of [name, `on-${name}`, `${name}-text`]) root.removeProperty(`--${p}`);
    return;
  }
  // CSSOM custom properties are allowed under the CSP (inline style attributes are not).
  root.setProperty(`--${name}`, color);
  root.setProperty(`--on-${name}`, contrast(color, '#ffffff') >= 4.5 ? '#ffffff' : '#111111');
  root.setProperty(`--${name}-text`, readableOnWhite(color, 4.5));
}

/**
 * The tenant's (or a shared link's tenant's) branding on the page's header
 * and colours, or the page's own with `branding` null; the Administration
 * console calls it on every keystroke for its live preview. Text on and
 * beside a colour stays readable (4.5:1). The secondary colour tints a few
 * accents (style.css reads `--secondary` and falls back to the primary when
 * it is unset); as an accent beside white it is darkened to 3:1 if need be
 * (WCAG 1.4.11), so `--secondary` is the chosen colour only when it is dark enough.
 */
export function applyBranding(branding) {
  const root = document.documentElement.style;
  const name = (branding && branding.display_name) || 'askpanel';
  setText(document.getElementById('brand-name'), name);
  const logo = document.getElementById('brand-logo');
  if (branding && branding.logo_url) {
    if (logo.getAttribute('src') !== branding.logo_url) logo.src = branding.logo_url;
    logo.alt = '';
    logo.hidden = false;
  } else {
    logo.removeAttribute('src');
    logo.hidden = true;
  }
  const colourOf = (key) => (branding && HEX_RE.test(branding[key] || '') ? branding[key].toLowerCase() : null);
  setColour(root, 'primary', colourOf('primary_color'));
  const secondary = colourOf('secondary_color');
  setColour(root, 'secondary', secondary && readableOnWhite(secondary, 3));
}
