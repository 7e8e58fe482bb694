// HTTP API client: one fetch wrapper with a timeout, the API's error shape,
// and the identity look-up that needs a request.

import { session, identityFromToken } from './session.js';
import { app } from './state.js';

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

export async function api(method, path, body, { key = session.key, headers = {} } = {}) {
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
