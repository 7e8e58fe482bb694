// HTTP API client: one fetch wrapper with a timeout, a file download (the
// reports), an upload with progress (XMLHttpRequest: fetch reports no upload
// progress), the API's error shape, and the identity look-up that needs a request.
// A key goes in Authorization; a signed-in person's cookie goes by itself,
// and their state-changing requests carry the session's X-CSRF-Token.

import { session, identityFromToken } from './session.js';
import { app } from './state.js';

class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `request failed (${status})`);
    this.status = status;
    this.code = err.code || (status === 0 ? 'network' : 'http_error');
    this.fields = err.fields || {};
    /** Seconds from a 429's Retry-After (a locked account, a busy address); null without one. */
    this.retryAfter = null;
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The credential headers of a request: the key, else the person's CSRF token on a state-changing one. */
function authHeaders(method, key) {
  if (key) return { Authorization: `Bearer ${key}` };
  if (session.csrf && !SAFE_METHODS.has(method.toUpperCase())) return { 'X-CSRF-Token': session.csrf };
  return {};
}

/** A 401 means the page's own credential stopped working (not a wrong password, nor another key being tried). */
function credentialEnded(key) {
  if (key) return key === session.key;
  return session.mode === 'person';
}

function signOutEnded() {
  app.signOut(session.mode === 'person' ? 'Your session has ended. Sign in again.' : 'Your key is no longer accepted. Sign in again.');
}

function retryAfterOf(value) {
  const n = Number.parseInt(value || '', 10);
  return Number.isFinite(n) && n >= 0 ? n : null;
}

const REQUEST_TIMEOUT_MS = 20000;

/**
 * One request to the API; resolves with the JSON answer (null when empty).
 * `body` is sent as JSON, or as it is (a File or Blob: an uploaded logo)
 * when `contentType` names its type.
 */
export async function api(method, path, body, { key = session.key, headers = {}, contentType = null } = {}) {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), REQUEST_TIMEOUT_MS);
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: {
        Accept: 'application/json',
        ...authHeaders(method, key),
        ...(body !== undefined ? { 'Content-Type': contentType || 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : contentType ? body : JSON.stringify(body),
      signal: ctrl.signal,
      cache: 'no-store',
      credentials: 'same-origin',
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
    err.retryAfter = retryAfterOf(res.headers.get('Retry-After'));
    // A key that stopped working (revoked, expired tenant) or a session that
    // ended (signed out everywhere, removed) signs the page out.
    if (res.status === 401 && credentialEnded(key)) signOutEnded();
    // The cookie no longer matches the token held here: another tab signed in as someone else. Start again from the cookie.
    else if (res.status === 403 && !key && session.mode === 'person' && /X-CSRF-Token/i.test(err.message)) app.restart();
    throw err;
  }
  return data;
}

/**
 * GETs a file (a report as Markdown or PDF) with the same headers as api():
 * resolves with { blob, filename }, the name from Content-Disposition when
 * the server gives one, else `fallbackName`. Errors as api()'s.
 */
export async function fetchFile(path, fallbackName, { key = session.key } = {}) {
  const ctrl = new AbortController();
  // A PDF of a long panel takes the server a moment: more time than a JSON call.
  const timer = setTimeout(() => ctrl.abort(), 3 * REQUEST_TIMEOUT_MS);
  let res;
  let blob;
  try {
    res = await fetch(path, { headers: { Accept: '*/*', ...authHeaders('GET', key) }, signal: ctrl.signal, cache: 'no-store', credentials: 'same-origin' });
    blob = await res.blob();
  } catch (e) {
    throw new ApiError(0, { error: { code: 'network', message: `The server could not be reached (${e.name === 'AbortError' ? 'timed out' : 'network error'}).` } });
  } finally {
    clearTimeout(timer);
  }
  if (!res.ok) {
    if (res.status === 401 && credentialEnded(key)) signOutEnded();
    throw new ApiError(res.status, parseBody(await blob.text()));
  }
  return { blob, filename: dispositionName(res.headers.get('Content-Disposition')) || fallbackName };
}

/** The file name in `attachment; filename="x.md"` (or RFC 5987 `filename*=UTF-8''x.md`); null when absent. */
export function dispositionName(header) {
  if (!header) return null;
  const star = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(header);
  let name = null;
  if (star) {
    try {
      name = decodeURIComponent(star[1].trim());
    } catch {
      name = null;
    }
  }
  if (!name) {
    const plain = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/.exec(header);
    if (plain) name = (plain[1] !== undefined ? plain[1].replace(/\\(.)/g, '$1') : plain[2]) || null;
  }
  // Only a plain name: never a path.
  return name ? name.replace(/[\\/]/g, '_').trim() || null : null;
}

function parseBody(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * POSTs `form` (a FormData: the browser writes the multipart boundary) and
 * reports progress as onProgress(sent, total). Resolves with the JSON answer;
 * rejects with an ApiError like api() (status 0 and code `network` or
 * `cancelled`). Returns { promise, cancel }.
 */
export function upload(path, form, { onProgress = () => {}, key = session.key } = {}) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    const fail = (code, message) => reject(new ApiError(0, { error: { code, message } }));
    xhr.open('POST', path);
    xhr.setRequestHeader('Accept', 'application/json');
    for (const [name, value] of Object.entries(authHeaders('POST', key))) xhr.setRequestHeader(name, value);
    // No overall timeout: a large file on a slow link may take minutes; the person can cancel.
    xhr.upload.addEventListener('progress', (e) => onProgress(e.loaded, e.lengthComputable ? e.total : 0));
    xhr.addEventListener('load', () => {
      const data = parseBody(xhr.responseText);
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(data);
        return;
      }
      if (xhr.status === 401 && credentialEnded(key)) signOutEnded();
      reject(new ApiError(xhr.status, data));
    });
    xhr.addEventListener('error', () => fail('network', 'The server could not be reached (network error).'));
    xhr.addEventListener('abort', () => fail('cancelled', 'The upload was cancelled.'));
    xhr.send(form);
  });
  return { promise, cancel: () => xhr.abort() };
}

export function randomId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // randomUUID needs a secure context; a LAN address over http is not one.
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export async function whoAmI() {
  const t = session.tenant;
  const caller = t && (t.caller || t.key);
  if (caller && caller.role) {
    session.identity = { role: caller.role, keyId: caller.key_id || (caller.user_id ? null : caller.id) || null, userId: caller.user_id || null };
    if (session.user && caller.user_id === session.user.id) session.user = { ...session.user, role: caller.role };
    return;
  }
  try {
    const { token } = await api('POST', '/v1/ws-tokens');
    session.identity = identityFromToken(token);
  } catch {
    session.identity = { role: null, keyId: null, userId: null };
  }
}
