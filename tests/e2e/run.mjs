// End-to-end tests of the web client in headless Chromium against a real
// askpanel server.
//
//   ASKPANEL_BIN=/path/to/askpanel node run.mjs            # the binary's embedded web files
//   ASKPANEL_BIN=... WEB_DIR=../../web node run.mjs         # web files from disk, via the dev proxy
//
// Environment:
//   ASKPANEL_BIN   server binary (default: target/release/askpanel, then target/debug/askpanel)
//   WEB_DIR        serve the web files from this directory through the dev proxy
//   E2E_DIRECT=1   talk to the server directly, no proxy (the socket drop then uses the page's hook)
//   ASKPANEL_URL, ASKPANEL_KEY, ASKPANEL_ADMIN_KEY
//                  use a server that is already running instead of starting one
//                  (the single sign-on scenario is then skipped)
//   E2E_ONLY       run only scenarios whose name contains this text
//   E2E_DROP=page  drop the socket from the page's hook instead of the proxy
//   CHROMIUM       browser executable (default /usr/bin/chromium)
//
// The server always runs with a fresh data dir and is always killed, and so
// is the local OpenID Connect provider (tests/oidc/provider.mjs) started
// before it for single sign-on. By default a transparent proxy
// (devserver.mjs) sits in front of the server so the "dropped socket"
// scenario is a real TCP-level drop.
//
// Prints "N passed, M failed" (and ", K skipped" when a scenario could not
// run) and exits non-zero on any failure.

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startDevServer } from './devserver.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const SHOTS = path.join(HERE, 'screenshots');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SCENARIO_TIMEOUT_MS = 60_000;
const WAIT_MS = 20_000;

/* ---------------- small helpers ---------------- */

class TestFailure extends Error {}

function assert(cond, message) {
  if (!cond) throw new TestFailure(message);
}

function assertEqual(actual, expected, message) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new TestFailure(`${message}\n  expected: ${e.slice(0, 800)}\n  actual:   ${a.slice(0, 800)}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new TestFailure(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]);
}

/** Polls an async predicate until it returns a truthy value. */
async function eventually(fn, what, timeout = WAIT_MS, every = 200) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new TestFailure(`timed out waiting for ${what}${last instanceof Error ? ` (${last.message})` : ''}`);
    await sleep(every);
  }
}

/* ---------------- the server ---------------- */

function findBinary() {
  // A path is taken from where the runner was started (the server runs in the repo root);
  // a bare name is looked up on PATH.
  const bin = process.env.ASKPANEL_BIN;
  if (bin) return bin.includes('/') ? path.resolve(bin) : bin;
  for (const p of ['target/release/askpanel', 'target/debug/askpanel']) {
    const full = path.join(REPO, p);
    if (fs.existsSync(full)) return full;
  }
  throw new Error('set ASKPANEL_BIN to the askpanel server binary');
}

let serverProc = null;
let providerProc = null;
let dataDir = null;

const OIDC_DIR = path.join(REPO, 'tests/oidc');
/** The tenant whose people may use single sign-on: the demo tenant the server makes at its first start. */
const SSO_TENANT = 'demo';

/** Whether the provider's package is installed (.ci/run installs it; by hand, `npm ci` in tests/oidc). */
function providerInstalled() {
  return fs.existsSync(path.join(OIDC_DIR, 'node_modules', 'oauth2-mock-server'));
}

/** Starts the local OpenID Connect provider on a free port; resolves with the issuer URL it prints. */
async function startProvider() {
  providerProc = spawn(process.execPath, [path.join(OIDC_DIR, 'provider.mjs')], { cwd: OIDC_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  // Both streams are read to the end (an unread pipe would stall the provider once full).
  providerProc.stderr.on('data', (chunk) => {
    out += chunk.toString();
  });
  return withTimeout(
    new Promise((resolve, reject) => {
      providerProc.stdout.on('data', (chunk) => {
        out += chunk.toString();
        const issuer = /^ISSUER (http:\/\/\S+)$/m.exec(out);
        if (issuer) resolve(issuer[1]);
      });
      providerProc.on('exit', (code) => reject(new Error(`the identity provider exited (${code}) before listening; output:\n${out}`)));
    }),
    20_000,
    'identity provider start',
  );
}

/** A TCP port nobody listens on now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Starts `askpanel serve` on a free port with a fresh data dir; reads the keys
 * and address it prints. `issuer`: single sign-on through that provider for
 * the demo tenant (docs/accounts.md); null: none.
 */
async function startServer(issuer, { bind = '127.0.0.1:0', publicUrl }) {
  const bin = findBinary();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'askpanel-e2e-'));
  const args = ['--config', path.join(REPO, 'config'), 'serve', '--bind', bind, '--data-dir', dataDir];
  // A list from the environment is comma-separated (src/configuration.rs); no client secret: a public client with PKCE.
  // The page's address is configured (the provider's callback and the links start with it).
  const sso = issuer
    ? { ASKPANEL__ACCOUNTS__OIDC_ISSUER: issuer, ASKPANEL__ACCOUNTS__OIDC_CLIENT_ID: 'askpanel-e2e', ASKPANEL__ACCOUNTS__OIDC_TENANTS: SSO_TENANT, ASKPANEL__ACCOUNTS__PUBLIC_URL: publicUrl }
    : {};
  // Webhooks may go to the scenarios' own receiver on 127.0.0.1 (docs/webhooks.md: development and tests only).
  const env = { ...process.env, ASKPANEL__LOG__LEVEL: process.env.ASKPANEL__LOG__LEVEL || 'warn', ASKPANEL__WEBHOOKS__ALLOW_PRIVATE_TARGETS: 'true', ...sso };
  serverProc = spawn(bin, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  const logFile = path.join(dataDir, 'server.log');
  const log = fs.createWriteStream(logFile);
  serverProc.stderr.pipe(log);
  const found = await withTimeout(
    new Promise((resolve, reject) => {
      serverProc.stdout.on('data', (chunk) => {
        out += chunk.toString();
        log.write(chunk);
        const url = /listening on (http:\/\/\S+)/.exec(out);
        const demo = /demo tenant admin key[^:]*:\s*(ap_\S+)/.exec(out);
        const admin = /platform admin key[^:]*:\s*(ap_\S+)/.exec(out);
        if (url && demo) resolve({ url: url[1], key: demo[1], adminKey: admin ? admin[1] : null });
      });
      serverProc.on('exit', (code) => reject(new Error(`the server exited (${code}) before listening; output:\n${out}\nsee ${logFile}`)));
    }),
    20_000,
    'server start',
  );
  return found;
}

function stop(proc) {
  if (proc && proc.exitCode === null) {
    proc.kill('SIGTERM');
    setTimeout(() => {
      if (proc.exitCode === null) proc.kill('SIGKILL');
    }, 3000).unref();
  }
}

/** Stops the server and the identity provider. */
function stopServer() {
  stop(serverProc);
  stop(providerProc);
}

process.on('exit', () => {
  for (const proc of [serverProc, providerProc]) if (proc && proc.exitCode === null) proc.kill('SIGKILL');
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    stopServer();
    process.exit(130);
  });
}

/* ---------------- context shared by the scenarios ---------------- */

const env = {
  base: null, // what the browser opens
  api: null, // the server itself
  key: null,
  adminKey: null,
  drop: null, // drops the page's socket: the proxy's TCP drop, or the page hook
  proxy: null,
  tenant: null,
  issuer: null, // the identity provider's URL when the server has single sign-on
  noIssuer: null, // else why not
};

async function api(method, p, body, key = env.key) {
  const res = await fetch(`${env.api}${p}`, {
    method,
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: res.status, body: json };
}

async function createPanel(body, key = env.key) {
  const r = await api('POST', '/v1/panels', body, key);
  assert(r.status === 201 || r.status === 200, `POST /v1/panels answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

async function getPanel(id) {
  const r = await api('GET', `/v1/panels/${id}`);
  assert(r.status === 200, `GET /v1/panels/${id} answered ${r.status}`);
  return r.body;
}

const TERMINAL_STATUSES = ['completed', 'failed', 'cancelled'];
const QUESTION = 'Should our AI-based ECG triage device go through 510(k) or De Novo?';

/* ---------------- browser helpers ---------------- */

let browser;

/**
 * A fresh browser context (its own sessionStorage) and page that records page
 * errors and CSP violations. `offSite`: other origins the page may go to (the
 * identity provider of single sign-on); any other off-site request is a problem.
 */
async function newPage(t, viewport = { width: 1280, height: 900 }, { offSite = [] } = {}) {
  const context = await browser.newContext({ viewport });
  context.setDefaultTimeout(WAIT_MS);
  const page = await context.newPage();
  page.problems = [];
  page.tokenFrames = 0;
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    const text = m.text();
    // A refused request is the server's answer, not a fault of the page: so is a socket refused
    // because its session ended between its token and its upgrade (a person's socket is kept open).
    const refused = /Failed to load resource: the server responded with a status of (401|403|404|409|422|429)/.test(text) || /WebSocket connection to '.*' failed: HTTP Authentication failed/.test(text);
    if (m.type() === 'error' && !refused) page.problems.push(`console error: ${text}`);
    if (/Content Security Policy/i.test(text)) page.problems.push(`CSP: ${text}`);
  });
  page.on('request', (r) => {
    const url = r.url();
    // blob: URLs of the page's own origin are the reports it saves.
    if (!url.startsWith(env.base) && !url.startsWith('data:') && !url.startsWith(`blob:${env.base}`) && !url.startsWith(env.base.replace('http', 'ws')) && !offSite.some((o) => url.startsWith(`${o}/`))) page.problems.push(`request off-site: ${url}`);
  });
  page.on('websocket', (ws) => {
    ws.on('framereceived', (f) => {
      if (typeof f.payload === 'string' && f.payload.startsWith('{"type":"token"')) page.tokenFrames += 1;
    });
  });
  t.cleanup.push(() => context.close());
  t.pages.push(page);
  return page;
}

async function signIn(page, key = env.key) {
  await page.goto(`${env.base}/#key=${encodeURIComponent(key)}`);
  await page.locator('#sign-out').waitFor({ state: 'visible' });
}

async function shot(page, name, { fullPage = true } = {}) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage });
}

/** The transcript the page shows, per round: [{round, turns: [{member, seq, text}]}]. */
function pageTranscript(page) {
  return page.$$eval('#rounds > .round', (rounds) =>
    rounds.map((r) => ({
      round: Number(r.dataset.round),
      turns: [...r.querySelectorAll('.transcript > .turn:not(.skipped)')].map((t) => ({ member: t.dataset.member, seq: Number(t.dataset.seq), text: t.querySelector('.turn-text').textContent })),
    })),
  );
}

function apiTranscript(panel) {
  return panel.rounds.map((r) => ({ round: r.round, turns: r.turns.map((t) => ({ member: t.member_id, seq: t.seq, text: t.text })) }));
}

async function waitForFinal(page, timeout = 40_000) {
  await page.locator('#recommendation.final').waitFor({ state: 'visible', timeout });
}

/** A panel that had ended when the page opened it shows its rounds collapsed: open them. */
async function openRounds(page) {
  await page.locator('#rounds-details').waitFor({ state: 'attached' });
  if (!(await page.evaluate(() => document.querySelector('#rounds-details').open))) await page.click('#rounds-details > summary');
}

/** Polls the API until the panel has ended; returns it. */
async function waitForEnd(id, timeout = 40_000) {
  return eventually(async () => {
    const p = await getPanel(id);
    return TERMINAL_STATUSES.includes(p.status) ? p : null;
  }, `panel ${id} to end`, timeout);
}

/** Clicks `selector` and returns the file the page saved: { name, bytes }. */
async function download(page, selector) {
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: WAIT_MS }), page.click(selector)]);
  const file = await dl.path();
  assert(file, `the download from ${selector} failed: ${await dl.failure()}`);
  return { name: dl.suggestedFilename(), bytes: fs.readFileSync(file) };
}

/** Whether every element of `a` comes before `b` in the document and on the screen. */
function comesBefore(page, a, b) {
  return page.evaluate(
    ([x, y]) => {
      const ex = document.querySelector(x);
      const ey = document.querySelector(y);
      if (!ex || !ey) return false;
      return Boolean(ex.compareDocumentPosition(ey) & Node.DOCUMENT_POSITION_FOLLOWING) && ex.getBoundingClientRect().top < ey.getBoundingClientRect().top;
    },
    [a, b],
  );
}

/** Unlabelled fields, nameless buttons and links, images without alt, not one h1, text below WCAG AA contrast. */
function accessibilityProblems(page) {
  return page.evaluate(() => {
    const problems = [];
    const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length) && getComputedStyle(el).visibility !== 'hidden';
    for (const el of document.querySelectorAll('input, select, textarea')) {
      if (el.type === 'hidden' || !visible(el)) continue;
      const named = (el.labels && el.labels.length) || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
      if (!named) problems.push(`unlabelled ${el.tagName.toLowerCase()}#${el.id}`);
    }
    for (const el of document.querySelectorAll('button, a[href]')) {
      if (!visible(el)) continue;
      if (!(el.textContent.trim() || el.getAttribute('aria-label'))) problems.push(`nameless ${el.tagName.toLowerCase()}`);
    }
    for (const img of document.querySelectorAll('img')) if (!img.hasAttribute('alt')) problems.push('img without alt');
    if (document.querySelectorAll('main h1').length !== 1) problems.push(`${document.querySelectorAll('main h1').length} h1 elements`);
    // Text contrast (WCAG AA) against the nearest opaque background.
    const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
    const lum = ([r, g, b]) => {
      const f = (v) => {
        v /= 255;
        return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const bgOf = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length === 3 || (c.length === 4 && c[3] > 0.9)) return c.slice(0, 3);
      }
      return [255, 255, 255];
    };
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const checked = new Set();
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!n.textContent.trim() || checked.has(el) || !visible(el) || el.closest('[disabled], svg, .visually-hidden, .skip-link')) continue;
      checked.add(el);
      const st = getComputedStyle(el);
      const fg = rgb(st.color).slice(0, 3);
      const [a, b] = [lum(fg), lum(bgOf(el))].sort((x, y) => y - x);
      const ratio = (a + 0.05) / (b + 0.05);
      const size = parseFloat(st.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(st.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) problems.push(`contrast ${ratio.toFixed(2)} for "${n.textContent.trim().slice(0, 30)}"`);
    }
    if (!document.querySelector('[aria-live="polite"]#announcer')) problems.push('no polite live region');
    return problems;
  });
}

/* ---------------- scenarios ---------------- */

const scenarios = [];
const scenario = (name, fn) => scenarios.push({ name, fn });

scenario('sign in from the link, sign out, sign in with the form', async (t) => {
  const page = await newPage(t);
  await signIn(page);
  // The key left the address bar and sits in sessionStorage.
  assert(!page.url().includes('key='), `the key is still in the address bar: ${page.url()}`);
  assertEqual(await page.evaluate(() => sessionStorage.getItem('askpanel.key')), env.key, 'the key is kept in sessionStorage');
  const history = await page.evaluate(() => history.length);
  assert(history >= 1, 'history exists');
  // Branding from /v1/tenant.
  const b = env.tenant.branding;
  await page.locator('#brand-name', { hasText: b.display_name }).waitFor();
  const primary = await page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue('--primary').trim());
  assertEqual(primary.toLowerCase(), b.primary_color.toLowerCase(), 'the tenant primary colour is applied');
  await page.locator('h1', { hasText: 'Panels' }).waitFor();
  // A reload keeps the session.
  await page.reload();
  await page.locator('#sign-out').waitFor({ state: 'visible' });
  // Sign out clears it.
  await page.click('#sign-out');
  await page.locator('#key').waitFor({ state: 'visible' });
  assertEqual(await page.evaluate(() => sessionStorage.getItem('askpanel.key')), null, 'sign out forgets the key');
  assert(await page.locator('#nav').isHidden(), 'navigation hidden when signed out');
  // A wrong key is refused at the field.
  await page.fill('#key', 'ap_not_a_real_key_000000000000000');
  await page.keyboard.press('Enter');
  await page.locator('#key[aria-invalid="true"]').waitFor();
  assert((await page.locator('#signin-key .field-error').first().textContent()).includes('not accepted'), 'wrong key message');
  // The right key signs in.
  await page.fill('#key', env.key);
  await page.keyboard.press('Enter');
  await page.locator('#sign-out').waitFor({ state: 'visible' });
  await page.locator('h1', { hasText: 'Panels' }).waitFor();
  await shot(page, 'signed-in-panels');
});

scenario('create a structured panel: validation, streaming tokens, recommendation', async (t) => {
  const page = await newPage(t);
  await signIn(page);
  await page.click('#nav-new');
  await page.locator('#f-query').waitFor();
  // Server validation errors are shown at their fields.
  await page.fill('#f-query', 'abc');
  await page.fill('#f-max_rounds', '0');
  await page.click('#create-submit');
  await page.locator('#err-query:not([hidden])').waitFor();
  assert((await page.textContent('#err-query')).includes('10 to 5000'), 'query error text');
  assert((await page.getAttribute('#f-query', 'aria-invalid')) === 'true', 'query marked invalid');
  await page.locator('#err-max_rounds:not([hidden])').waitFor();
  assert(await page.evaluate(() => document.activeElement && document.activeElement.id === 'error-summary'), 'the error summary takes focus');
  await shot(page, 'create-validation-errors');
  // A valid panel.
  await page.fill('#f-query', QUESTION);
  await page.check('#type-structured');
  await page.fill('#f-expert_count', '3');
  await page.fill('#f-max_rounds', '2');
  await page.fill('#f-sim-seed', '7');
  await page.fill('#f-sim-pace', '30');
  await page.fill('#f-sim-tokens', '30');
  await page.click('#create-submit');
  await page.waitForURL(/#\/panels\/[0-9a-f-]{36}$/);
  const id = page.url().split('/').pop();
  await page.locator('#member-cards .card').nth(2).waitFor();
  assertEqual(await page.locator('#member-cards .card').count(), 3, 'one card per member');
  assertEqual(await page.locator('#member-cards .card .tag.sim').count(), 3, 'simulated experts are labelled');
  // Tokens stream into the speaking member's card: its text grows while the turn runs.
  const first = await page.waitForFunction(() => {
    const c = document.querySelector('#member-cards .card[data-state="speaking"] .card-text');
    return c && c.textContent.length > 5 ? { member: c.closest('.card').dataset.member, len: c.textContent.length } : null;
  }, null, { timeout: WAIT_MS });
  const seen = await first.jsonValue();
  await page.waitForFunction(
    ({ member, len }) => {
      const c = document.querySelector(`#member-cards .card[data-member="${member}"][data-state="speaking"] .card-text`);
      return c && c.textContent.length > len;
    },
    seen,
    { timeout: 5000 },
  );
  assert((await page.textContent('#speaking')).includes('is speaking'), 'who is speaking is shown');
  await shot(page, 'live-structured-streaming');
  await waitForFinal(page);
  const panel = await getPanel(id);
  assertEqual(panel.status, 'completed', 'the panel completed');
  assertEqual((await page.textContent('#recommendation')).trim(), panel.recommendation.trim(), 'the final recommendation is the server’s');
  assert(page.tokenFrames > 0, 'token frames arrived over the WebSocket');
  assertEqual(await pageTranscript(page), apiTranscript(panel), 'the transcript matches the server');
  // Round 2 has ratings: the chart with median and IQR band, and the consensus level.
  const rated = panel.rounds.find((r) => r.turns.some((tt) => tt.rating != null));
  assert(rated, 'the server has a rated round');
  const chart = page.locator(`.round[data-round="${rated.round}"] svg.chart`);
  await chart.waitFor();
  assertEqual(await chart.locator('circle.dot').count(), rated.turns.filter((tt) => tt.rating != null).length, 'one dot per rating');
  assertEqual(await chart.locator('rect.iqr').count(), 1, 'an IQR band');
  assertEqual(await chart.locator('line.median').count(), 1, 'a median line');
  if (panel.consensus) {
    await page.locator('#consensus').waitFor();
    assert((await page.textContent(`.round[data-round="${panel.consensus.round}"] .round-meta`)).includes('Consensus level'), 'the round shows its consensus level');
    const dissentNames = panel.consensus.dissent.map((mid) => panel.members.find((m) => m.id === mid).name);
    const shown = await page.textContent('#dissent');
    for (const n of dissentNames) assert(shown.includes(n), `dissenting member ${n} is listed`);
  }
  await shot(page, 'live-structured-completed');
  // Narrow screens: no sideways scrolling at 360 px.
  await page.setViewportSize({ width: 360, height: 800 });
  await sleep(200);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(overflow <= 360, `the page scrolls sideways at 360 px (scrollWidth ${overflow})`);
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, 'live-structured-mobile-360', { fullPage: false });
  await page.locator('.round').last().scrollIntoViewIfNeeded();
  await shot(page, 'live-structured-mobile-360-chart', { fullPage: false });
});

scenario('hybrid panel: the human answers in the page and it is in the transcript', async (t) => {
  const page = await newPage(t);
  await signIn(page);
  await page.click('#nav-new');
  await page.fill('#f-query', 'Should the hospital buy or build its sepsis early-warning model?');
  await page.check('#type-hybrid');
  await page.locator('#f-humans').waitFor({ state: 'visible' });
  await page.fill('#f-expert_count', '2');
  await page.fill('#human-name-1', 'Dr. Test Human');
  await page.fill('#f-human_turn_timeout_s', '120');
  await page.fill('#f-max_rounds', '2');
  await page.fill('#f-sim-seed', '1');
  await page.fill('#f-sim-pace', '40');
  await page.fill('#f-sim-tokens', '30');
  await page.click('#create-submit');
  await page.waitForURL(/#\/panels\/[0-9a-f-]{36}$/);
  const id = page.url().split('/').pop();
  // The human's turn: a focused box with a countdown.
  await page.locator('#human-turn textarea').waitFor({ state: 'visible', timeout: 30_000 });
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'human-text', null, { timeout: 3000 });
  const c1 = await page.textContent('#countdown');
  assert(/^\d+:\d\d$/.test(c1), `countdown shows m:ss (${c1})`);
  const secs = (s) => Number(s.split(':')[0]) * 60 + Number(s.split(':')[1]);
  assert(secs(c1) <= 120 && secs(c1) > 60, `countdown within the 120 s timeout (${c1})`);
  await sleep(2100);
  const c2 = await page.textContent('#countdown');
  assert(secs(c2) < secs(c1), `the countdown runs (${c1} then ${c2})`);
  assertEqual(await page.locator('#member-cards .card[data-state="human"]').count(), 1, 'the human card shows it is their turn');
  await shot(page, 'live-hybrid-human-turn');
  // Answer with the keyboard only.
  const answer = 'As the clinician on this panel I would buy, provided the vendor shares its validation data.';
  await page.keyboard.type(answer);
  await page.keyboard.press('Tab');
  assert(await page.evaluate(() => document.activeElement && document.activeElement.textContent === 'Send answer'), 'Tab moves from the answer to Send');
  await page.keyboard.press('Enter');
  await page.locator('#human-turn').waitFor({ state: 'hidden' });
  const turn = page.locator('.transcript .turn', { hasText: answer });
  await turn.waitFor();
  assertEqual(await turn.locator('.tag.human').count(), 1, 'the transcript marks the human turn');
  // Round 2 critiques the draft: the human rates it too.
  await page.locator('#human-turn #human-rating').waitFor({ state: 'visible', timeout: 30_000 });
  const critique = 'The draft is sound if the vendor contract covers recalibration on our own population.';
  await page.fill('#human-text', critique);
  await page.selectOption('#human-rating', '7');
  await page.selectOption('#human-confidence', '0.8');
  await page.click('#human-turn button[type=submit]');
  const rated = page.locator('.round[data-round="2"] .transcript .turn', { hasText: critique });
  await rated.waitFor();
  // Figures as docs/records.md rounds them (trailing zeros dropped: 0.8); an older page wrote 0.80.
  assert(/Rating 7\/9, confidence 0\.80?\b/.test(await rated.locator('.turn-rating').textContent()), 'the human rating is in the transcript');
  assert(!(await rated.locator('.turn-text').textContent()).includes('RATING'), 'the rating trailer is not part of the text');
  await waitForFinal(page);
  const panel = await getPanel(id);
  const human = panel.members.find((m) => m.kind === 'human');
  assert(panel.rounds.some((r) => r.turns.some((tt) => tt.member_id === human.id && tt.text === answer)), 'the server has the human turn');
  assert(panel.rounds[1].turns.some((tt) => tt.member_id === human.id && tt.rating === 7 && tt.confidence === 0.8), 'the server has the human rating');
  await page.locator(`.round[data-round="2"] svg.chart circle.dot`).nth(2).waitFor();
  assertEqual(await pageTranscript(page), apiTranscript(panel), 'the transcript matches the server');
  await shot(page, 'live-hybrid-completed');
});

scenario('a moderator pauses, resumes, skips a turn, ends a round, injects and finishes; a member key gets no moderator bar', async (t) => {
  const panel = await createPanel({ query: QUESTION, panel_type: 'structured', expert_count: 4, max_rounds: 3, simulation: { seed: 3, pace_tokens_per_s: 15, turn_tokens: 60 } });
  const page = await newPage(t);
  await signIn(page);
  await page.goto(`${env.base}/#/panels/${panel.id}`);
  await page.locator('#modbar').waitFor({ state: 'visible' });
  await page.locator('#member-cards .card[data-state="speaking"]').waitFor();
  await page.waitForFunction(() => document.querySelector('#member-cards .card[data-state="speaking"] .card-text').textContent.length > 10, null, { timeout: WAIT_MS });
  const speaker = await page.getAttribute('#member-cards .card[data-state="speaking"]', 'data-member');
  await page.click('#modbar button[data-action="pause"]');
  await page.locator('.live-meta .badge.status[data-status="paused"]').waitFor();
  await page.locator('.banner', { hasText: 'Paused' }).waitFor();
  assertEqual((await getPanel(panel.id)).status, 'paused', 'the server says paused');
  assert(await page.locator('#modbar button[data-action="pause"]').isDisabled(), 'Pause is disabled while paused');
  assert(await page.locator('#modbar button[data-action="resume"]').isEnabled(), 'Resume is enabled while paused');
  assertEqual(await page.locator('#member-cards .card[data-state="speaking"]').count(), 0, 'nobody speaks while paused');
  // The pause aborted the turn in flight: its streamed text is void.
  const paused = await getPanel(panel.id);
  const lastOfSpeaker = paused.rounds.flatMap((r) => r.turns).filter((tt) => tt.member_id === speaker).pop();
  assertEqual((await page.textContent(`#member-cards .card[data-member="${speaker}"] .card-text`)).trim(), lastOfSpeaker ? lastOfSpeaker.text.trim() : 'No turn yet.', 'the aborted turn’s partial text is gone');
  await shot(page, 'live-moderator-paused');
  await page.click('#modbar button[data-action="resume"]');
  await page.locator('.live-meta .badge.status[data-status="running"]').waitFor();
  await eventually(async () => (await getPanel(panel.id)).status === 'running', 'the server to say running');
  await page.locator('#member-cards .card[data-state="speaking"]').waitFor();
  // Skip the turn in progress: the log records it and the page says so.
  const skippedMember = await page.getAttribute('#member-cards .card[data-state="speaking"]', 'data-member');
  await page.click('#modbar button[data-action="skip_turn"]');
  await page.locator('.activity-list li', { hasText: 'skipped (moderator)' }).waitFor({ state: 'attached' });
  const logged = await api('GET', `/v1/panels/${panel.id}/events?limit=1000`);
  assert(logged.body.events.some((e) => e.kind === 'turn_skipped' && e.data.member_id === skippedMember && e.data.reason === 'moderator'), 'the skip is in the log');
  // End the round: the next one starts.
  const roundsBefore = (await getPanel(panel.id)).rounds.length;
  await page.click('#modbar button[data-action="end_round"]');
  await page.locator('.activity-list li', { hasText: 'ended the round' }).waitFor({ state: 'attached' });
  await eventually(async () => (await getPanel(panel.id)).rounds.length > roundsBefore, 'the next round to start');
  await page.locator('#member-cards .card[data-state="speaking"]').waitFor();
  // Inject a question; it shows in the activity log.
  await page.fill('#inject-text', 'Address the cost of post-market surveillance.');
  await page.click('#modbar button[data-action="inject"]');
  await page.locator('.activity-list li', { hasText: 'post-market surveillance' }).waitFor({ state: 'attached' });
  // Finish: straight to the final consensus.
  await page.click('#modbar button[data-action="finish"]');
  await waitForFinal(page, 30_000);
  await page.locator('#modbar').waitFor({ state: 'hidden' });
  const done = await getPanel(panel.id);
  assertEqual(done.status, 'completed', 'finished panel completed');
  assertEqual(await pageTranscript(page), apiTranscript(done), 'the transcript matches the server');

  // A member key sees the panel but no moderator controls.
  const created = await api('POST', '/v1/keys', { role: 'member', name: 'e2e member' });
  assert(created.status === 201, `POST /v1/keys answered ${created.status}`);
  const other = await createPanel({ query: QUESTION, panel_type: 'structured', expert_count: 3, max_rounds: 2, simulation: { seed: 4, pace_tokens_per_s: 10, turn_tokens: 60 } });
  const memberPage = await newPage(t);
  await signIn(memberPage, created.body.key);
  await memberPage.goto(`${env.base}/#/panels/${other.id}`);
  await memberPage.locator('#member-cards .card').first().waitFor();
  await sleep(300);
  assert(await memberPage.locator('#modbar').isHidden(), 'no moderator bar for a member key');
  // Cancel it (as the admin) through the in-page confirmation.
  await page.goto(`${env.base}/#/panels/${other.id}`);
  await page.locator('#modbar').waitFor({ state: 'visible' });
  await page.click('#modbar button[data-action="cancel"]');
  await page.locator('#confirm-cancel').waitFor({ state: 'visible' });
  assert(await page.evaluate(() => document.activeElement && document.activeElement.id === 'confirm-cancel'), 'the confirmation takes focus');
  await sleep(300);
  assert(!TERMINAL_STATUSES.includes((await getPanel(other.id)).status), 'the Cancel button only asks; nothing is sent yet');
  await page.click('#confirm-cancel');
  await page.locator('.live-meta .badge.status[data-status="cancelled"]').waitFor();
  await memberPage.locator('.live-meta .badge.status[data-status="cancelled"]').waitFor();
});

scenario('the socket drops mid-panel and the page resumes: nothing twice, nothing missing', async (t) => {
  const panel = await createPanel({ query: QUESTION, panel_type: 'structured', expert_count: 3, max_rounds: 2, simulation: { seed: 5, pace_tokens_per_s: 25, turn_tokens: 40 } });
  const page = await newPage(t);
  await signIn(page);
  await page.goto(`${env.base}/#/panels/${panel.id}`);
  await page.locator('#conn[data-state="open"]').waitFor();
  // First drop: in the middle of a streaming turn.
  await page.waitForFunction(() => {
    const c = document.querySelector('#member-cards .card[data-state="speaking"] .card-text');
    return c && c.textContent.length > 20;
  }, null, { timeout: WAIT_MS });
  const before = await page.evaluate(() => window.__askpanel.connStats().opens);
  await env.drop(page);
  await page.locator('#conn:not([data-state="open"])').waitFor({ timeout: 5000 });
  await shot(page, 'live-reconnecting');
  await page.waitForFunction((n) => window.__askpanel.connStats().opens > n, before, { timeout: 15_000 });
  await page.locator('#conn[data-state="open"]').waitFor();
  // Second drop: wait for another turn to be streaming, then drop again.
  const doneTurns = await page.locator('.transcript .turn').count();
  await page.waitForFunction((n) => document.querySelectorAll('.transcript .turn').length > n && document.querySelector('#member-cards .card[data-state="speaking"] .card-text'), doneTurns, { timeout: WAIT_MS });
  await env.drop(page);
  await page.waitForFunction((n) => window.__askpanel.connStats().opens > n + 1, before, { timeout: 15_000 });
  await shot(page, 'live-reconnected');
  // `lagged` mid-turn: the page resubscribes on the same socket from its last seq.
  await page.waitForFunction(() => {
    const c = document.querySelector('#member-cards .card[data-state="speaking"] .card-text');
    return c && c.textContent.length > 10;
  }, null, { timeout: WAIT_MS });
  const resubs = await page.evaluate(() => window.__askpanel.stats.resubscribes);
  await page.evaluate(() => window.__askpanel.simulateLag());
  assertEqual(await page.evaluate(() => window.__askpanel.stats.resubscribes), resubs + 1, 'lagged resubscribes');
  await waitForFinal(page);
  const done = await getPanel(panel.id);
  const seqs = await page.evaluate(() => window.__askpanel.appliedSeqs());
  assertEqual(seqs, Array.from({ length: done.head_seq }, (_, i) => i + 1), 'every event applied once, in order');
  const stats = await page.evaluate(() => ({ ...window.__askpanel.stats }));
  assertEqual(stats.streamMismatches, 0, 'streamed text always agrees with the final turn text (no duplicated or lost tokens)');
  assertEqual(stats.tokenGaps, 0, 'no gaps in the token stream');
  assertEqual(await pageTranscript(page), apiTranscript(done), 'the transcript matches the server');
  // Each card ends with its member's last turn.
  for (const m of done.members) {
    const last = done.rounds.flatMap((r) => r.turns).filter((tt) => tt.member_id === m.id).pop();
    if (last) assertEqual((await page.textContent(`#member-cards .card[data-member="${m.id}"] .card-text`)).trim(), last.text.trim(), `card of ${m.name}`);
  }
  assert(stats.turnsChecked > 0, 'streamed turns were checked');
});

scenario('every panel format renders: verdict, ideas, questioner, delphi', async (t) => {
  const q = 'Should we adopt a single EHR vendor across all hospitals?';
  const sim = { seed: 2, pace_tokens_per_s: 0, turn_tokens: 25 };
  const panels = {};
  for (const [type, n] of [['adversarial', 4], ['open', 4], ['socratic', 4], ['delphi', 5]]) panels[type] = await createPanel({ query: q, panel_type: type, expert_count: n, simulation: sim });
  const page = await newPage(t);
  await signIn(page);
  for (const [type, created] of Object.entries(panels)) {
    await eventually(async () => TERMINAL_STATUSES.includes((await getPanel(created.id)).status), `the ${type} panel to finish`);
    const panel = await getPanel(created.id);
    assertEqual(panel.status, 'completed', `${type} completed`);
    await page.goto(`${env.base}/#/panels/${created.id}`);
    await waitForFinal(page);
    assertEqual(await pageTranscript(page), apiTranscript(panel), `${type}: the transcript matches the server`);
    assertEqual((await page.textContent('#recommendation')).trim(), panel.recommendation.trim(), `${type}: recommendation`);
    if (type === 'adversarial') {
      assert(panel.verdict, 'the server gives a verdict');
      await page.locator('#verdict').waitFor();
      assertEqual(await page.locator('#member-cards .tag.team-pro').count(), panel.members.filter((m) => m.team === 'pro').length, 'pro team labelled');
      await shot(page, 'live-adversarial');
    }
    if (type === 'open') {
      assertEqual(await page.locator('.ideas li').count(), panel.ideas.length, 'the same ideas as the server');
    }
    if (type === 'socratic') {
      assertEqual(await page.locator('#member-cards .tag', { hasText: 'Questioner' }).count(), 1, 'the questioner is labelled');
    }
    if (type === 'delphi') await shot(page, 'live-delphi');
  }
});

scenario('another tenant’s panel URL shows "not found"', async (t) => {
  assert(env.adminKey, 'the platform admin key is needed to create a second tenant');
  const slug = `other-${Date.now().toString(36)}`;
  const created = await api('POST', '/v1/admin/tenants', { slug, name: 'Other Org' }, env.adminKey);
  assert(created.status === 201, `POST /v1/admin/tenants answered ${created.status}: ${JSON.stringify(created.body)}`);
  const foreign = await createPanel({ query: QUESTION, panel_type: 'structured', expert_count: 3, max_rounds: 1, simulation: { seed: 1, pace_tokens_per_s: 0, turn_tokens: 10 } }, created.body.api_key.key);
  assertEqual((await api('GET', `/v1/panels/${foreign.id}`)).status, 404, 'the API answers 404 across tenants');
  const page = await newPage(t);
  await signIn(page);
  await page.goto(`${env.base}/#/panels/${foreign.id}`);
  await page.locator('#not-found h1', { hasText: 'not found' }).waitFor();
  assertEqual(await page.locator('#member-cards').count(), 0, 'nothing of the panel is shown');
  await shot(page, 'not-found-other-tenant');
  // A well-formed id that exists nowhere, and a malformed one, too.
  await page.goto(`${env.base}/#/panels/00000000-0000-7000-8000-000000000000`);
  await page.locator('#not-found h1', { hasText: 'not found' }).waitFor();
  await page.goto(`${env.base}/#/panels/nope`);
  await page.locator('#not-found h1', { hasText: 'not found' }).waitFor();
});

scenario('panel list: newest first, status filter, pagination', async (t) => {
  // Enough panels for two pages of two.
  for (let i = 0; i < 3; i += 1) await createPanel({ query: `${QUESTION} (list ${i})`, panel_type: 'structured', expert_count: 3, max_rounds: 1, simulation: { seed: i, pace_tokens_per_s: 0, turn_tokens: 10 } });
  const expected = (await api('GET', '/v1/panels?limit=4')).body.items.map((p) => p.id);
  const page = await newPage(t);
  await signIn(page);
  await page.goto(`${env.base}/#/panels?limit=2`);
  await page.locator('.panel-row').nth(1).waitFor();
  assertEqual(await page.locator('.panel-row').count(), 2, 'first page of two');
  await page.click('#load-more');
  await page.locator('.panel-row').nth(3).waitFor();
  const ids = await page.$$eval('.panel-row', (rows) => rows.map((r) => r.dataset.id));
  assertEqual(ids.slice(0, 4), expected, 'newest first, pages joined in order');
  assert(await page.evaluate(() => document.activeElement && document.activeElement.closest('.panel-row') === document.querySelectorAll('.panel-row')[2]), 'focus moves to the first loaded row');
  await page.selectOption('#status-filter', 'completed');
  await page.waitForURL(/status=completed/);
  await page.locator('.panel-row').first().waitFor();
  await eventually(async () => (await page.$$eval('.panel-row', (rows) => rows.every((r) => r.dataset.status === 'completed'))) && (await page.locator('.panel-row').count()) > 0, 'only completed panels listed');
  await page.selectOption('#status-filter', 'paused');
  await page.locator('.list-msg', { hasText: 'No paused panels' }).waitFor();
  // The live link opens the panel.
  await page.selectOption('#status-filter', '');
  await page.locator('.panel-row a').first().click();
  await page.waitForURL(/#\/panels\/[0-9a-f-]{36}$/);
  await page.locator('#member-cards .card').first().waitFor();
  await shot(page, 'panel-list');
});

scenario('a finished panel opens on its summary: recommendation, agreement explained, dissent, chart, downloads, print', async (t) => {
  const created = await createPanel({ query: QUESTION, panel_type: 'structured', expert_count: 4, max_rounds: 3, simulation: { seed: 1, pace_tokens_per_s: 0, turn_tokens: 60 } });
  const panel = await waitForEnd(created.id);
  assertEqual(panel.status, 'completed', 'the panel completed');
  const got = await api('GET', `/v1/panels/${created.id}/report?format=json`);
  assert(got.status === 200, `GET .../report answered ${got.status}: ${JSON.stringify(got.body).slice(0, 300)}`);
  const report = got.body;
  assert(report.outcome, 'the report has an outcome');
  const page = await newPage(t);
  await signIn(page);
  await page.goto(`${env.base}/#/panels/${created.id}`);
  // The summary drawn from the report (its heading replaces the live outcome's).
  await page.locator('#summary #summary-h').waitFor();
  assertEqual((await page.textContent('#recommendation')).trim(), panel.recommendation.trim(), 'the recommendation is the panel’s');
  const conditions = (report.recommendation && report.recommendation.conditions) || [];
  if (conditions.length) assertEqual(await page.$$eval('#conditions li', (lis) => lis.map((li) => li.textContent)), conditions, 'the conditions are the report’s');
  else assertEqual(await page.locator('#conditions').count(), 0, 'no conditions listed when the recommendation states none');
  // The level in words, with the report's rounded figures.
  assertEqual((await page.textContent('#level-explanation')).trim(), report.outcome.explanation.trim(), 'the level is explained in the report’s words');
  const consensus = await page.textContent('#consensus');
  assert(consensus.includes(`${report.outcome.agreement_pct}% agreement`), `the agreement as the report rounds it (${consensus})`);
  assert(consensus.includes(`${report.outcome.median} of 9`) && consensus.includes(`IQR ${report.outcome.iqr}`), `the median and IQR as the report rounds them (${consensus})`);
  for (const d of report.dissent) {
    const li = page.locator(`#dissent li[data-member="${d.member_id}"]`);
    assert((await li.textContent()).includes(d.name), `dissenter ${d.name} is named`);
    assertEqual((await li.locator('.argument').textContent()).trim(), d.argument.trim(), `${d.name}’s strongest argument`);
  }
  if (!report.dissent.length) assertEqual(await page.locator('#dissent li').count(), 0, 'no dissenters listed');
  // The consensus across rounds: a dot per rating, and the report's figures round by round.
  const rated = report.rounds.filter((r) => r.ratings.length);
  assert(rated.length > 0, 'the report has rated rounds');
  await page.locator('#consensus-chart svg').waitFor();
  assertEqual(await page.locator('#consensus-chart circle.dot').count(), rated.reduce((n, r) => n + r.ratings.length, 0), 'a dot per rating in every round');
  assertEqual(await page.locator('#consensus-chart line.median').count(), rated.filter((r) => r.median != null).length, 'a median mark per rated round');
  const fig = (v) => (v === null || v === undefined ? '–' : String(v));
  const rows = await page.$$eval('#round-figures tbody tr', (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));
  assertEqual(
    rows.map((r) => [...r.slice(0, 5), r[6]]),
    report.rounds.map((r) => [
      String(r.round),
      fig(r.median),
      fig(r.iqr),
      r.n ? String(r.n) : '–',
      r.agreement_pct == null ? '–' : `${r.agreement_pct}%`,
      r.decision ? r.decision.replace(/_/g, ' ') : '–',
    ]),
    'the figures by round are the report’s rounded ones',
  );
  // Summary first; the rounds and the whole transcript collapsed below the member cards.
  assert(await comesBefore(page, '#summary', '#member-cards'), 'the summary comes before the member cards');
  assert(await comesBefore(page, '#consensus-chart', '#rounds'), 'the chart comes before the rounds');
  assertEqual(await page.evaluate(() => document.querySelector('#rounds-details').open), false, 'the rounds and transcript are collapsed');
  assert(await page.locator('.transcript .turn').first().isHidden(), 'no turn of the transcript shows until it is opened');
  await shot(page, 'report-summary');
  // Opened: the transcript is the server's, and the last round's turns are shown once (not again on the cards).
  await openRounds(page);
  assertEqual(await pageTranscript(page), apiTranscript(panel), 'the transcript is the server’s');
  const last = panel.rounds[panel.rounds.length - 1];
  for (const turn of last.turns) {
    const shown = await page.evaluate((text) => [...document.querySelectorAll('.card-text, .turn-text')].filter((el) => el.checkVisibility() && el.textContent.trim() === text.trim()).length, turn.text);
    assertEqual(shown, 1, `a turn of the last round is shown once (${turn.text.slice(0, 40)}…)`);
  }
  await page.click('#rounds-details > summary');

  // The report's files, with the key, saved through the page.
  const md = await download(page, '#download-md');
  assertEqual(md.bytes.subarray(0, 2).toString(), '# ', 'the Markdown report starts with a heading');
  assert(md.name.endsWith('.md'), `a .md file name (${md.name})`);
  const pdf = await download(page, '#download-pdf');
  assertEqual(pdf.bytes.subarray(0, 5).toString(), '%PDF-', 'the PDF report is a PDF');
  assert(pdf.name.endsWith('.pdf'), `a .pdf file name (${pdf.name})`);
  await page.locator('#report-msg', { hasText: 'Downloaded' }).waitFor();

  // Print: no navigation or buttons, every collapsed section open, and closed again after.
  await page.emulateMedia({ media: 'print' });
  const printed = await page.evaluate(() => {
    window.dispatchEvent(new Event('beforeprint'));
    const seen = {
      topbar: getComputedStyle(document.querySelector('#topbar')).display,
      buttons: getComputedStyle(document.querySelector('.report-actions')).display,
      closed: document.querySelectorAll('#view details:not([open])').length,
      transcript: document.querySelector('.transcript .turn').checkVisibility(),
    };
    window.dispatchEvent(new Event('afterprint'));
    seen.closedAfter = !document.querySelector('#rounds-details').open;
    return seen;
  });
  await page.emulateMedia({ media: 'screen' });
  assertEqual(printed, { topbar: 'none', buttons: 'none', closed: 0, transcript: true, closedAfter: true }, 'the print shows the panel alone, transcript open');

  // A phone: the recommendation is on the first screen, before the member cards.
  const phone = await newPage(t, { width: 390, height: 844 });
  await signIn(phone);
  await phone.goto(`${env.base}/#/panels/${created.id}`);
  await phone.locator('#summary #summary-h').waitFor();
  await phone.evaluate(() => window.scrollTo(0, 0));
  const where = await phone.evaluate(() => ({ rec: document.querySelector('#recommendation').getBoundingClientRect().top, cards: document.querySelector('#member-cards').getBoundingClientRect().top, height: innerHeight, width: document.documentElement.scrollWidth }));
  assert(where.rec < where.height, `the recommendation starts within the first screen at 390 px (top ${where.rec}, screen ${where.height})`);
  assert(where.rec < where.cards, 'the recommendation comes before the member cards at 390 px');
  assert(where.width <= 390, `the page scrolls sideways at 390 px (scrollWidth ${where.width})`);
  await shot(phone, 'report-summary-mobile-390', { fullPage: false });
});

scenario('sharing: a moderator makes a link, someone without a key reads the panel, a revoked link is not valid', async (t) => {
  const created = await createPanel({ query: `${QUESTION} (shared)`, panel_type: 'structured', expert_count: 3, max_rounds: 2, simulation: { seed: 2, pace_tokens_per_s: 0, turn_tokens: 40 } });
  const panel = await waitForEnd(created.id);
  const page = await newPage(t);
  await signIn(page);
  await page.goto(`${env.base}/#/panels/${created.id}`);
  await page.locator('#share').waitFor();
  await page.selectOption('#share-expiry', '86400');
  await page.fill('#share-label', 'For the board');
  await page.click('#share-create');
  await page.locator('#share-created').waitFor();
  const url = await page.inputValue('#share-url');
  assert(url.startsWith(`${env.base}/#/shared/`), `the link is the page’s absolute address (${url})`);
  const row = page.locator('#share-list li[data-state="active"]', { hasText: 'For the board' });
  await row.waitFor();
  const listed = await api('GET', `/v1/panels/${created.id}/shares`);
  assert(listed.status === 200, `GET .../shares answered ${listed.status}`);
  const share = listed.body.items.find((x) => x.label === 'For the board');
  assert(share && !share.token, 'the server lists the link, without its token');
  assert(Math.abs(Date.parse(share.expires_at) - Date.parse(share.created_at) - 86_400_000) < 120_000, `the link expires after a day (${share.created_at} .. ${share.expires_at})`);
  await page.locator('#share').scrollIntoViewIfNeeded();
  await shot(page, 'share-created', { fullPage: false });

  // Someone with the link and no key: the panel and its report, nothing else.
  const guest = await newPage(t);
  const withKey = [];
  guest.on('request', (r) => {
    if (r.headers().authorization) withKey.push(r.url());
  });
  await guest.goto(url);
  await guest.locator('#summary #summary-h').waitFor();
  assertEqual(await guest.evaluate(() => sessionStorage.getItem('askpanel.key')), null, 'the guest has no key');
  assertEqual((await guest.textContent('#recommendation')).trim(), panel.recommendation.trim(), 'the guest reads the recommendation');
  await guest.locator('#level-explanation').waitFor();
  assertEqual(await pageTranscript(guest), apiTranscript(panel), 'the guest’s transcript is the panel’s');
  assert(await guest.locator('#nav').isHidden(), 'no navigation');
  assert(await guest.locator('#modbar').isHidden(), 'no moderator bar');
  for (const sel of ['#share', '#follow-up', '#human-text', '#key', '.crumbs']) assertEqual(await guest.locator(sel).count(), 0, `nothing like ${sel} in the shared view`);
  assertEqual(await guest.evaluate(() => [...document.querySelectorAll('#topbar a[href], #view a[href]')].filter((a) => a.checkVisibility()).map((a) => a.getAttribute('href'))), [], 'no links into the rest of the page');
  const md = await download(guest, '#download-md');
  assertEqual(md.bytes.subarray(0, 2).toString(), '# ', 'the guest downloads the Markdown report');
  const pdf = await download(guest, '#download-pdf');
  assertEqual(pdf.bytes.subarray(0, 5).toString(), '%PDF-', 'the guest downloads the PDF report');
  assertEqual(withKey, [], 'the shared view sends no Authorization header');
  await shot(guest, 'shared-view');

  // Revoked in the page: the link stops working.
  await row.locator('button', { hasText: 'Revoke' }).click();
  await page.locator(`#share-list li[data-id="${share.id}"][data-state="revoked"]`).waitFor();
  const after = await api('GET', `/v1/panels/${created.id}/shares`);
  assert(after.body.items.find((x) => x.id === share.id).revoked_at, 'the server has the link revoked');
  await guest.reload();
  await guest.locator('#shared-invalid', { hasText: 'This link is not valid or has been revoked.' }).waitFor();
  assertEqual(await guest.locator('#recommendation').count(), 0, 'nothing of the panel shows');
  await shot(guest, 'shared-link-revoked');
});

scenario('a shared link follows a running panel live (Server-Sent Events)', async (t) => {
  const created = await createPanel({ query: `${QUESTION} (followed through a link)`, panel_type: 'structured', expert_count: 3, max_rounds: 2, simulation: { seed: 6, pace_tokens_per_s: 30, turn_tokens: 40 } });
  const made = await api('POST', `/v1/panels/${created.id}/shares`, { expires_in_s: 3600 });
  assert(made.status === 201, `POST .../shares answered ${made.status}: ${JSON.stringify(made.body)}`);
  assert(made.body.url.includes(made.body.token), 'the link carries the token');
  const guest = await newPage(t);
  let streams = 0;
  guest.on('request', (r) => {
    if (r.resourceType() === 'eventsource') streams += 1;
  });
  await guest.goto(`${env.base}${made.body.url}`);
  await guest.locator('#member-cards .card').first().waitFor();
  assert(!TERMINAL_STATUSES.includes((await getPanel(created.id)).status), 'the panel still runs when the guest opens it');
  // Turns arrive while the guest watches.
  await guest.locator('.transcript .turn').first().waitFor();
  await waitForFinal(guest);
  await guest.locator('#summary #summary-h').waitFor();
  const done = await getPanel(created.id);
  assertEqual(done.status, 'completed', 'the panel completed');
  assert(streams > 0, 'the page followed the panel through an event stream');
  assertEqual(await guest.evaluate(() => window.__askpanel.appliedSeqs()), Array.from({ length: done.head_seq }, (_, i) => i + 1), 'every event applied once, in order');
  assertEqual(await pageTranscript(guest), apiTranscript(done), 'the transcript is the server’s');
  assertEqual(await guest.evaluate(() => window.__askpanel.stats.duplicateEvents), 0, 'no event twice');
});

scenario('search: the words of one question find that panel alone; filters and the address keep the search', async (t) => {
  const stamp = Date.now().toString(36);
  const word = `quillback${stamp}`;
  const sim = { seed: 4, pace_tokens_per_s: 0, turn_tokens: 20 };
  const wanted = await createPanel({ query: `Should the ${word} lighthouse trust replace its diesel generator with tidal turbines?`, panel_type: 'structured', expert_count: 3, max_rounds: 1, simulation: sim });
  const other = await createPanel({ query: `Should the marrowind orchard cooperative move its apple trees to drip irrigation (${stamp})?`, panel_type: 'structured', expert_count: 3, max_rounds: 1, simulation: sim });
  // The index follows the log shortly after each commit.
  await eventually(async () => {
    const r = await api('GET', `/v1/panels?q=${encodeURIComponent(word)}`);
    return r.status === 200 && r.body.items.some((p) => p.id === wanted.id);
  }, 'the search index to have the new panel', 10_000);
  const page = await newPage(t);
  await signIn(page);
  await page.locator('#panel-search').waitFor();
  await page.fill('#panel-search', word);
  await page.keyboard.press('Enter');
  await page.waitForURL(new RegExp(`[?&]q=${word}`));
  const rowIds = () => page.$$eval('.panel-row', (rows) => rows.map((r) => r.dataset.id));
  await eventually(async () => {
    const ids = await rowIds();
    if (ids.length === 1 && ids[0] === wanted.id) return true;
    await page.click('#panel-search-submit'); // the same search again loads again
    return false;
  }, 'only the matching panel to be listed', 10_000, 1000);
  // The best match is the question, or a turn that quotes it.
  assert(/^Matched in: (the question|a turn|the recommendation)$/.test(await page.textContent(`.panel-row[data-id="${wanted.id}"] .match`)), 'where it matched');
  assertEqual(await page.inputValue('#panel-search'), word, 'the search box keeps the words');
  await shot(page, 'panel-search');
  // The address keeps the search: a reload shows the same.
  await page.reload();
  await page.locator(`.panel-row[data-id="${wanted.id}"]`).waitFor();
  assertEqual(await page.inputValue('#panel-search'), word, 'the words survive a reload');
  assertEqual(await rowIds(), [wanted.id], 'the same result after a reload');
  // A filter with the words: an open panel with them there is none.
  await page.selectOption('#type-filter', 'open');
  await page.waitForURL(/panel_type=open/);
  await page.locator('#list-msg', { hasText: 'No panels match' }).waitFor();
  assert(page.url().includes(`q=${word}`), 'the words stay with the filter');
  assert(await page.evaluate(() => document.activeElement && document.activeElement.id === 'type-filter'), 'the keyboard stays on the filter');
  // Cleared: both panels, newest first.
  await page.click('#filters-clear');
  await page.waitForURL(/#\/panels$/);
  await page.locator(`.panel-row[data-id="${other.id}"]`).waitFor();
  const all = await rowIds();
  assert(all.indexOf(other.id) < all.indexOf(wanted.id) && all.includes(wanted.id), 'without words, newest first');
  // An expert seated on the panel: the page lists what the API lists.
  const full = await getPanel(wanted.id);
  const expertId = full.members.find((m) => m.expert_id).expert_id;
  await page.locator(`#expert-filter option[value="${expertId}"]`).waitFor({ state: 'attached' });
  await page.selectOption('#expert-filter', expertId);
  await page.waitForURL(/expert=/);
  const byExpert = (await api('GET', `/v1/panels?expert=${encodeURIComponent(expertId)}&limit=20`)).body.items.map((p) => p.id);
  await eventually(async () => JSON.stringify(await rowIds()) === JSON.stringify(byExpert), 'the panels of that expert', 10_000);
  assert(byExpert.includes(wanted.id), 'the panel the expert sat on is among them');
  // Dates: nothing is created in the future.
  const later = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10);
  await page.fill('#from-filter', later);
  await page.click('#panel-search-submit');
  await page.waitForURL(new RegExp(`from=${later}`));
  await page.locator('#list-msg', { hasText: 'No panels match these filters' }).waitFor();
  assertEqual(await page.locator('.panel-row').count(), 0, 'no panel created after that day');
  // A phone: the form and the list fit the width.
  await page.goto(`${env.base}/#/panels?q=${word}`);
  await page.locator(`.panel-row[data-id="${wanted.id}"]`).waitFor();
  await page.setViewportSize({ width: 390, height: 844 });
  await sleep(200);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(overflow <= 390, `the panel list scrolls sideways at 390 px (scrollWidth ${overflow})`);
  await shot(page, 'panel-search-mobile-390');
});

scenario('follow-up and re-run from the page: the new panel names its parent, the parent lists it', async (t) => {
  const created = await createPanel({ query: `${QUESTION} (to follow up)`, panel_type: 'structured', expert_count: 3, max_rounds: 2, simulation: { seed: 3, pace_tokens_per_s: 0, turn_tokens: 30 } });
  const parent = await waitForEnd(created.id);
  assertEqual(parent.status, 'completed', 'the first panel completed');
  const page = await newPage(t);
  await signIn(page);
  await page.goto(`${env.base}/#/panels/${created.id}`);
  await page.locator('#follow-up-toggle').waitFor();
  await page.click('#follow-up-toggle');
  assert(await page.evaluate(() => document.activeElement && document.activeElement.id === 'follow-up-query'), 'the question box takes the keyboard');
  // Too short: said at the field, nothing sent.
  await page.fill('#follow-up-query', 'Why?');
  await page.click('#follow-up-submit');
  await page.locator('#follow-up-err:not([hidden])').waitFor();
  const question = 'What would change the recommendation if the device also monitored patients at home?';
  await page.fill('#follow-up-query', question);
  await page.click('#follow-up-submit');
  // waitForURL hands the predicate a URL.
  const isOtherPanel = (known) => (u) => /^#\/panels\/[0-9a-f-]{36}$/.test(u.hash) && !known.some((id) => u.hash.includes(id));
  await page.waitForURL(isOtherPanel([created.id]));
  const childId = page.url().split('/').pop();
  const parentLink = page.locator(`#lineage a[href="#/panels/${created.id}"]`);
  await parentLink.waitFor();
  assert((await page.textContent('#lineage')).startsWith('Follows up:'), 'the new panel says what it follows up');
  const child = await getPanel(childId);
  assertEqual([child.query, child.config.parent && child.config.parent.id, child.config.parent && child.config.parent.relation], [question, created.id, 'follow_up'], 'the server has the follow-up and its parent');
  await shot(page, 'follow-up-panel', { fullPage: false });
  // The parent lists it.
  await parentLink.click();
  await page.waitForURL(new RegExp(`#/panels/${created.id}$`));
  await page.locator(`#children a[href="#/panels/${childId}"]`).waitFor();
  // A re-run: the same question again.
  await page.click('#rerun');
  await page.waitForURL(isOtherPanel([created.id, childId]));
  const rerunId = page.url().split('/').pop();
  await page.locator('#lineage', { hasText: 'Re-run of:' }).waitFor();
  const rerun = await getPanel(rerunId);
  assertEqual([rerun.query, rerun.config.parent && rerun.config.parent.relation], [parent.query, 'rerun'], 'the server has the re-run');
  // A follow-up need not keep the simulation's pace: stop what still runs, for the scenarios after this one.
  for (const id of [childId, rerunId]) {
    if (!TERMINAL_STATUSES.includes((await getPanel(id)).status)) await api('POST', `/v1/panels/${id}/moderate`, { action: 'cancel' });
  }
});

scenario('documents: library, upload with progress, search, a grounded panel with citations and sources', async (t) => {
  // A Markdown document by JSON, through the API, read by the server off the request path.
  const markdown = [
    '# Infusion pump dossier',
    '',
    '## Battery safety',
    '',
    'The pump runs on a rechargeable lithium-ion battery pack rated for 8 hours of continuous infusion. Bench tests at 40 °C showed no thermal runaway over 500 charge cycles; the battery management system cuts the charge at 4.2 V per cell and raises an alarm when the pack temperature exceeds 50 °C.',
    '',
    '## Field incidents',
    '',
    'Post-market surveillance recorded 14 battery alarms in 2.1 million infusion hours. Two pumps shut down early because of worn batteries that had not been replaced at the 24-month service interval; no patient harm was reported.',
    '',
    '## Regulatory position',
    '',
    'The notified body accepted the battery risk analysis under ISO 14971. A field safety notice reminding hospitals of the battery replacement interval is considered sufficient; a recall is not required unless the alarm rate doubles.',
  ].join('\n');
  const created = await api('POST', '/v1/documents', { title: 'Infusion pump dossier', text: markdown, format: 'markdown' });
  assert(created.status === 202, `POST /v1/documents answered ${created.status}: ${JSON.stringify(created.body)}`);
  const readDoc = async (id) => {
    const r = await api('GET', `/v1/documents/${id}`);
    return r.status === 200 && ['ready', 'failed'].includes(r.body.status) ? r.body : null;
  };
  const doc = await eventually(() => readDoc(created.body.id), 'the Markdown document to be read');
  assertEqual(doc.status, 'ready', `the Markdown document is ready (error: ${doc.error})`);
  assert(doc.passages > 0, 'the document has passages');

  // The Documents screen lists it as ready, with its passages and the storage used.
  const page = await newPage(t);
  await signIn(page);
  await page.click('#nav-documents');
  await page.locator('#documents-h').waitFor();
  const mdRow = page.locator(`.doc-row[data-id="${doc.id}"][data-status="ready"]`);
  await mdRow.waitFor();
  assert((await mdRow.locator('.doc-meta').textContent()).includes(`${doc.passages} passage`), 'the row shows the passage count');
  await page.locator('#doc-storage', { hasText: 'Storage' }).waitFor();

  // A small .txt file through the file input: uploaded with a progress bar, then followed until ready.
  const notes = 'Field notes from the biomedical engineering team.\n\nEvery pump battery is replaced at the 24-month service interval. A swollen or hot battery pack is taken out of service at once.\n';
  // A title of its own, so a server reused across runs (ASKPANEL_URL) cannot offer an older row.
  const notesTitle = `Field notes ${Date.now().toString(36)}`;
  await page.setInputFiles('#doc-file', { name: 'field-notes.txt', mimeType: 'text/plain', buffer: Buffer.from(notes) });
  await page.fill('#doc-title', notesTitle);
  await page.click('#doc-upload');
  await page.locator('#upload-status', { hasText: 'Uploaded field-notes.txt' }).waitFor();
  const txtRow = page.locator('.doc-row', { has: page.locator('.doc-title', { hasText: notesTitle }) });
  await txtRow.waitFor();
  const txtId = await txtRow.getAttribute('data-id');
  await page.locator(`.doc-row[data-id="${txtId}"][data-status="ready"]`).waitFor();
  const txtDoc = (await api('GET', `/v1/documents/${txtId}`)).body;
  assertEqual([txtDoc.title, txtDoc.filename, txtDoc.status], [notesTitle, 'field-notes.txt', 'ready'], 'the server has the uploaded file');

  // Search: hits with the query's word marked.
  await page.fill('#doc-search', 'battery');
  await page.click('#doc-search-submit');
  const hit = page.locator('#doc-search-results .search-hit').first();
  await hit.waitFor();
  assert(/^batter/i.test((await hit.locator('mark').first().textContent()) || ''), 'the query word is marked in the hit');
  await shot(page, 'documents-library');
  await page.setViewportSize({ width: 390, height: 800 });
  await sleep(200);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(overflow <= 390, `the Documents screen scrolls sideways at 390 px (scrollWidth ${overflow})`);
  await shot(page, 'documents-library-mobile-390', { fullPage: false });
  await page.setViewportSize({ width: 1280, height: 900 });

  // A panel over every ready document, from the form.
  await page.click('#nav-new');
  await page.locator('#f-documents').waitFor({ state: 'visible' });
  assert(await page.isChecked('#docs-none'), 'no documents by default');
  await page.fill('#f-query', 'Is the battery of our infusion pump safe enough to keep it on the market without a recall?');
  await page.check('#type-structured');
  await page.check('#docs-all');
  await page.fill('#f-expert_count', '3');
  await page.fill('#f-max_rounds', '2');
  await page.fill('#f-sim-seed', '11');
  await page.fill('#f-sim-pace', '0');
  await page.fill('#f-sim-tokens', '60');
  await page.click('#create-submit');
  await page.waitForURL(/#\/panels\/[0-9a-f-]{36}$/);
  const id = page.url().split('/').pop();
  await waitForFinal(page);
  const panel = await getPanel(id);
  assertEqual(panel.status, 'completed', 'the grounded panel completed');
  const given = (panel.config.documents || []).map((d) => d.id);
  assert(given.includes(doc.id) && given.includes(txtId), `the panel was given both documents (${JSON.stringify(panel.config.documents)})`);
  await page.locator('#live-docs', { hasText: doc.title }).waitFor();
  // An instant panel has ended by the time the page opens it: its rounds are collapsed under the summary.
  await openRounds(page);

  // Citations: the server's valid ones are buttons, its invalid ones are marked, the text is unchanged.
  const log = await api('GET', `/v1/panels/${id}/events?limit=1000`);
  const completed = log.body.events.filter((e) => e.kind === 'turn_completed');
  assert(completed.some((e) => (e.data.citations || []).some((c) => c.valid)), 'the server found valid citations in the turns');
  const link = page.locator('.transcript .turn-text .cite-link').first();
  await link.waitFor();
  // Per turn, the labels shown as links are its valid citations and the marked ones its invalid ones (each label may occur more than once).
  const labelSet = (labels) => [...new Set(labels)].sort();
  const shown = await page.$$eval('.transcript .turn:not(.skipped)', (lis) =>
    lis.map((li) => ({ seq: Number(li.dataset.seq), links: [...li.querySelectorAll('.turn-text .cite-link')].map((b) => b.dataset.label), unverified: [...li.querySelectorAll('.turn-text .cite-unverified')].map((x) => x.dataset.label) })),
  );
  assertEqual(
    shown.map((x) => ({ seq: x.seq, links: labelSet(x.links), unverified: labelSet(x.unverified) })),
    completed.map((e) => ({ seq: e.seq, links: labelSet((e.data.citations || []).filter((c) => c.valid).map((c) => c.label)), unverified: labelSet((e.data.citations || []).filter((c) => !c.valid).map((c) => c.label)) })),
    'each turn links exactly its valid citations and marks its invalid ones, never as links',
  );
  assertEqual(await pageTranscript(page), apiTranscript(panel), 'the transcript text is the server’s, links and all');
  const withEvidence = log.body.events.filter((e) => e.kind === 'turn_completed' && e.data.evidence).length;
  assertEqual(await page.locator('.transcript .turn-evidence').count(), withEvidence, 'an evidence line under each turn given passages');

  // A citation opens its passage in the dialog; Escape closes it and focus returns.
  const target = await link.evaluate((b) => ({ document: b.dataset.document, n: b.dataset.n }));
  const passage = await api('GET', `/v1/documents/${target.document}/passages/${target.n}`);
  assert(passage.status === 200, `GET passage answered ${passage.status}`);
  await link.click();
  const dialog = page.locator('#passage-dialog[open]');
  await dialog.waitFor();
  await dialog.locator('#passage-text:not([hidden])').waitFor();
  assertEqual((await dialog.locator('#passage-text').textContent()).trim(), passage.body.text.trim(), 'the dialog shows the cited passage');
  assert((await dialog.locator('#passage-title').textContent()).trim().length > 0, 'the dialog names the document');
  await shot(page, 'documents-passage-dialog', { fullPage: false });
  await page.keyboard.press('Escape');
  await page.locator('#passage-dialog').waitFor({ state: 'hidden' });
  assert(await link.evaluate((b) => document.activeElement === b), 'focus returns to the citation');

  // Sources under the final recommendation, each opening its passage too.
  assert(Array.isArray(panel.sources) && panel.sources.length > 0, 'the server lists the sources');
  await page.locator('#sources li').first().waitFor();
  assertEqual(await page.$$eval('#sources li', (lis) => lis.map((li) => li.dataset.label)), panel.sources.map((s) => s.label), 'the sources, most cited first');
  await page.locator('#sources .cite-link').first().click();
  await page.locator('#passage-dialog[open] #passage-text:not([hidden])').waitFor();
  await page.keyboard.press('Escape');
  await page.locator('#sources').scrollIntoViewIfNeeded();
  await shot(page, 'documents-panel-citations');
});

scenario('accessibility basics: labels, names, focus order, contrast', async (t) => {
  const page = await newPage(t);
  await signIn(page);
  const audit = () => accessibilityProblems(page);
  // The first Tab reaches the skip link.
  await page.keyboard.press('Tab');
  assert(await page.evaluate(() => document.activeElement && document.activeElement.classList.contains('skip-link')), 'the skip link comes first');
  let problems = await audit();
  assertEqual(problems, [], 'panel list audit');
  await page.click('#nav-new');
  await page.locator('#f-query').waitFor();
  await page.check('#type-hybrid');
  await page.check('#mode-pick');
  await page.locator('#expert-results li').first().waitFor();
  problems = await audit();
  assertEqual(problems, [], 'create form audit');
  // Expert search and picking by keyboard.
  await page.fill('#f-expert-search', 'privacy');
  await page.locator('#expert-results-msg', { hasText: 'found' }).waitFor();
  await page.locator('#expert-results input[type=checkbox]').first().focus();
  await page.keyboard.press('Space');
  await page.locator('#picked-summary', { hasText: '1 expert chosen' }).waitFor();
  // A live panel.
  const p = await createPanel({ query: QUESTION, panel_type: 'structured', expert_count: 3, max_rounds: 2, simulation: { seed: 2, pace_tokens_per_s: 0, turn_tokens: 20 } });
  await page.goto(`${env.base}/#/panels/${p.id}`);
  await waitForFinal(page);
  problems = await audit();
  assertEqual(problems, [], 'live view audit');
});

/* ---------------- people: accounts and sessions (docs/accounts.md) ---------------- */

const PASSWORD = 'correct horse battery staple';
let personSeq = 0;

/** A person in a tenant (the demo one by default), made by the platform admin: active at once with a password. */
async function createPerson({ role = 'admin', name, password = PASSWORD, tenantId = env.tenant.id } = {}) {
  assert(env.adminKey, 'the platform admin key is needed to create people');
  personSeq += 1;
  const stamp = `${Date.now().toString(36)}${personSeq}`;
  const email = `${role}-${stamp}@example.org`;
  const r = await api('POST', `/v1/admin/tenants/${tenantId}/users`, { email, name: name || `${role[0].toUpperCase()}${role.slice(1)} ${stamp}`, role, password }, env.adminKey);
  assert(r.status === 201, `POST /v1/admin/tenants/../users answered ${r.status}: ${JSON.stringify(r.body)}`);
  return { ...r.body.user, password };
}

/** Signs `person` in through the form (the first screen when nothing is signed in). */
async function passwordSignIn(page, person, tenant = env.tenant.slug) {
  await page.goto(`${env.base}/#/`);
  await page.locator('#signin-form').waitFor();
  await page.fill('#signin-tenant', tenant);
  await page.fill('#signin-email', person.email);
  await page.fill('#signin-password', person.password);
  await page.click('#signin-submit');
  await page.locator('#account').waitFor({ state: 'visible' });
}

/** The page's one-time link, opened at the page's own address (the server names the address it was reached at). */
function atBase(link) {
  return `${env.base}/${new URL(link).hash}`;
}

scenario('password sign-in: the form, a panel made with the CSRF token, a reload, sign out; a wrong password; a member sees no admin screens', async (t) => {
  const ada = await createPerson({ role: 'admin', name: 'Ada Lovelace' });
  const page = await newPage(t);
  const sent = [];
  page.on('request', (r) => {
    if (r.url().includes('/v1/')) sent.push({ method: r.method(), path: new URL(r.url()).pathname, csrf: r.headers()['x-csrf-token'] || null, auth: r.headers().authorization || null });
  });
  await page.goto(`${env.base}/`);
  await page.locator('#signin-form').waitFor();
  assert(await page.locator('#key').isHidden(), 'the API key way is folded away');
  assertEqual(await accessibilityProblems(page), [], 'sign-in screen audit');
  await shot(page, 'sign-in');
  // A wrong password: said on the form, nothing signed in.
  await page.fill('#signin-tenant', env.tenant.slug);
  await page.fill('#signin-email', ada.email);
  await page.fill('#signin-password', 'not the password at all');
  await page.click('#signin-submit');
  await page.locator('#signin-error:not([hidden])').waitFor();
  assert((await page.textContent('#signin-error')).includes('Wrong email or password'), 'the wrong password is said');
  assert(await page.evaluate(() => document.activeElement && document.activeElement.id === 'signin-password'), 'the keyboard is back on the password');
  await shot(page, 'sign-in-wrong-password');
  // The right one.
  const signedIn = page.waitForResponse((r) => r.url().endsWith('/v1/auth/sign-in') && r.status() === 200);
  await page.fill('#signin-password', ada.password);
  await page.click('#signin-submit');
  const csrf = (await (await signedIn).json()).csrf_token;
  await page.locator('#account').waitFor({ state: 'visible' });
  await page.locator('h1', { hasText: 'Panels' }).waitFor();
  assertEqual((await page.textContent('#account-name')).trim(), 'Ada Lovelace', 'who is signed in');
  assertEqual((await page.textContent('#account-role')).trim(), 'Admin', 'their role');
  assert(await page.locator('#nav-people').isVisible(), 'an admin sees People');
  assert(await page.locator('#nav-audit').isVisible(), 'an admin sees Audit');
  // The cookie: HttpOnly (the page cannot read it), Secure, and kept by Chromium on http://127.0.0.1.
  assert(!(await page.evaluate(() => document.cookie)).includes('askpanel_session'), 'document.cookie has no askpanel_session');
  const cookie = (await page.context().cookies()).find((c) => c.name === 'askpanel_session');
  assert(cookie, 'Chromium kept the session cookie');
  assertEqual([cookie.httpOnly, cookie.secure, cookie.sameSite], [true, true, 'Lax'], 'the cookie is HttpOnly, Secure and SameSite=Lax');
  // The CSRF token is in memory only.
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  assert(!stored.includes(csrf), 'the CSRF token is in neither localStorage nor sessionStorage');
  // A panel from the form: a state-changing request with the cookie and the token, no key.
  await page.click('#nav-new');
  await page.fill('#f-query', `${QUESTION} (asked by a person)`);
  await page.check('#type-structured');
  await page.fill('#f-expert_count', '3');
  await page.fill('#f-max_rounds', '1');
  await page.fill('#f-sim-pace', '0');
  await page.fill('#f-sim-tokens', '20');
  await page.click('#create-submit');
  await page.waitForURL(/#\/panels\/[0-9a-f-]{36}$/);
  const id = page.url().split('/').pop();
  const create = sent.find((r) => r.method === 'POST' && r.path === '/v1/panels');
  assert(create && create.csrf === csrf && !create.auth, `POST /v1/panels carried the CSRF token and no key (${JSON.stringify(create)})`);
  assert(sent.every((r) => !r.auth), 'no request carried a key');
  await waitForFinal(page);
  // A reload: the cookie session is found again (and its token read again).
  await page.reload();
  await page.locator('#account').waitFor({ state: 'visible' });
  await page.locator(`article.live[data-panel-id="${id}"] #recommendation`).waitFor();
  assertEqual((await page.textContent('#account-name')).trim(), 'Ada Lovelace', 'still Ada after a reload');
  assert(sent.some((r) => r.path === '/v1/auth/session'), 'the page asked for its session');
  // The account menu, by keyboard.
  await page.focus('#account-button');
  await page.keyboard.press('Enter');
  await page.locator('#account-menu').waitFor({ state: 'visible' });
  await page.keyboard.press('Escape');
  await page.locator('#account-menu').waitFor({ state: 'hidden' });
  assert(await page.evaluate(() => document.activeElement && document.activeElement.id === 'account-button'), 'Escape gives the button the keyboard back');
  // Sign out: the server ends the session.
  await page.click('#sign-out');
  await page.locator('#signin-form').waitFor();
  assert(sent.some((r) => r.method === 'POST' && r.path === '/v1/auth/sign-out' && r.csrf === csrf), 'sign-out told the server, with the token');
  assertEqual(await page.evaluate(async () => (await fetch('/v1/auth/session', { credentials: 'same-origin' })).status), 401, 'no session after signing out');
  assert(await page.locator('#nav').isHidden(), 'no navigation when signed out');
  // A member: no People, no Audit; the addresses say admins only.
  const member = await createPerson({ role: 'member' });
  const other = await newPage(t);
  await passwordSignIn(other, member);
  assertEqual((await other.textContent('#account-role')).trim(), 'Member', 'the member’s role');
  assert(await other.locator('#nav-people').isHidden(), 'a member sees no People');
  assert(await other.locator('#nav-audit').isHidden(), 'a member sees no Audit');
  await other.goto(`${env.base}/#/people`);
  await other.locator('#admins-only').waitFor();
  await other.goto(`${env.base}/#/audit`);
  await other.locator('#admins-only', { hasText: 'admins only' }).waitFor();
  const refused = await other.evaluate(async () => (await fetch('/v1/audit', { credentials: 'same-origin' })).status);
  assertEqual(refused, 403, 'the server refuses the audit to a member');
  // Forgot password: a neutral answer, whether or not the address has an account.
  await page.click('#forgot-toggle');
  await page.locator('#forgot-email').waitFor();
  assertEqual(await page.inputValue('#forgot-tenant'), env.tenant.slug, 'the organisation is carried over');
  await page.fill('#forgot-email', 'nobody-here@example.org');
  await page.click('#forgot-submit');
  await page.locator('#forgot-status', { hasText: 'If nobody-here@example.org has an account' }).waitFor();
  // Five wrong passwords lock the account: even the right one then waits, and the page says how long.
  const locked = await createPerson({ role: 'viewer' });
  for (let i = 0; i < 5; i += 1) {
    const r = await fetch(`${env.api}/v1/auth/sign-in`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ tenant: env.tenant.slug, email: locked.email, password: `wrong password ${i}` }) });
    assert(r.status === 401 || r.status === 429, `a wrong password answered ${r.status}`);
  }
  await page.fill('#signin-email', locked.email);
  await page.fill('#signin-password', locked.password);
  await page.click('#signin-submit');
  await page.locator('#signin-error', { hasText: /Try again in \d+ (s|min)/ }).waitFor();
  // At 360 px the sign-in screen and the top bar fit.
  await page.setViewportSize({ width: 360, height: 740 });
  await sleep(200);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(overflow <= 360, `the sign-in screen scrolls sideways at 360 px (scrollWidth ${overflow})`);
  await shot(page, 'sign-in-mobile-360', { fullPage: false });
});

scenario('invitation: an admin invites in People, the link is shown; the invitee sets a password and is signed in; the admin changes their role', async (t) => {
  const admin = await createPerson({ role: 'admin', name: 'Grace Hopper' });
  const page = await newPage(t);
  await passwordSignIn(page, admin);
  await page.click('#nav-people');
  await page.locator('#people-h').waitFor();
  await page.locator(`#members tr[data-id="${admin.id}"]`).waitFor();
  // Invite: no mail configured, so the link comes back to be passed on.
  const email = `invitee-${Date.now().toString(36)}@example.org`;
  await page.fill('#invite-email', email);
  await page.fill('#invite-name', 'Katherine Johnson');
  await page.selectOption('#invite-role', 'member');
  await page.click('#invite-submit');
  await page.locator('#onetime-link').waitFor();
  const link = await page.inputValue('#onetime-link');
  assert(/#\/invitation\?token=/.test(link), `the invitation link (${link})`);
  assert(await page.getAttribute('#onetime-link', 'readonly') !== null, 'the link is read-only');
  assert((await page.textContent('#onetime-help')).includes('works once'), 'it says the link works once');
  assert(await page.evaluate(() => document.activeElement && document.activeElement.id === 'onetime-link'), 'the link takes the keyboard');
  await page.locator('#invitations li', { hasText: email }).waitFor();
  assertEqual(await accessibilityProblems(page), [], 'People screen audit');
  await shot(page, 'people');
  // The invitee, in a browser of their own.
  const guest = await newPage(t);
  await guest.goto(atBase(link));
  await guest.locator('#join-form').waitFor();
  assert(!guest.url().includes('token='), `the token left the address bar (${guest.url()})`);
  assertEqual((await guest.textContent('#link-email')).trim(), email, 'the link names the address');
  assertEqual(await guest.inputValue('#join-name'), 'Katherine Johnson', 'the name the admin gave');
  assertEqual(await accessibilityProblems(guest), [], 'invitation screen audit');
  // A weak password first: the server's reason at the field.
  await guest.fill('#join-password', 'aaaaaaaaaaaa');
  await guest.fill('#join-confirm', 'aaaaaaaaaaaa');
  await guest.click('#join-submit');
  await guest.locator('#join-password-err:not([hidden])').waitFor();
  assert((await guest.textContent('#join-password-err')).includes('4 different characters'), 'the weak password is explained');
  assertEqual(await guest.getAttribute('#join-password', 'aria-invalid'), 'true', 'the field is marked');
  await shot(guest, 'invitation-weak-password');
  // Mistyped confirmation: said before anything is sent.
  await guest.fill('#join-password', 'Hidden Figures 1962');
  await guest.fill('#join-confirm', 'Hidden Figures 1963');
  await guest.click('#join-submit');
  await guest.locator('#join-confirm-err:not([hidden])').waitFor();
  await guest.fill('#join-confirm', 'Hidden Figures 1962');
  await guest.click('#join-submit');
  await guest.locator('#account').waitFor({ state: 'visible' });
  await guest.locator('h1', { hasText: 'Panels' }).waitFor();
  assertEqual((await guest.textContent('#account-name')).trim(), 'Katherine Johnson', 'the invitee is signed in');
  assert(await guest.locator('#nav-people').isHidden(), 'a member sees no People');
  // The link is spent.
  const again = await newPage(t);
  await again.goto(atBase(link));
  await again.locator('#link-gone').waitFor();
  // The admin sees the new member, active, and makes them a moderator.
  await page.click('#members-refresh');
  const users = (await api('GET', '/v1/users')).body.items;
  const joined = users.find((u) => u.email === email);
  assertEqual(joined && joined.status, 'active', 'the server has the member active');
  const row = page.locator(`#members tr[data-id="${joined.id}"]`);
  await row.waitFor();
  assertEqual(await row.getAttribute('data-status'), 'active', 'the People view shows them active');
  await page.locator('#invitations li', { hasText: email }).waitFor({ state: 'detached' });
  await page.selectOption(`#role-${joined.id}`, 'moderator');
  await page.locator('#people-msg', { hasText: 'is now a moderator' }).waitFor();
  assertEqual((await api('GET', `/v1/users/${joined.id}`)).body.role, 'moderator', 'the server has the new role');
  // A reset link for them, shown the same way.
  await row.locator('button', { hasText: 'Reset link' }).click();
  await page.locator('#onetime[data-purpose="reset"] #onetime-link').waitFor();
  const resetLink = await page.inputValue('#onetime-link');
  assert(resetLink.includes('#/reset?token='), 'the reset link');
  // Katherine uses it: a new password, then sign-in with it (her open session ended).
  const resetter = await newPage(t);
  await resetter.goto(atBase(resetLink));
  await resetter.locator('#reset-form').waitFor();
  assert(!resetter.url().includes('token='), 'the reset token left the address bar');
  await resetter.fill('#reset-password', 'Orbital Mechanics 1969');
  await resetter.fill('#reset-confirm', 'Orbital Mechanics 1969');
  await resetter.click('#reset-submit');
  await resetter.locator('#signin-notice', { hasText: 'Your password was changed' }).waitFor();
  assertEqual(await resetter.inputValue('#signin-email'), email, 'the sign-in form has her address');
  await resetter.fill('#signin-password', 'Orbital Mechanics 1969');
  await resetter.click('#signin-submit');
  await resetter.locator('#account').waitFor({ state: 'visible' });
  // The session she had before the reset has ended: her first tab is signed out at its next request.
  await guest.reload();
  await guest.locator('#signin-form').waitFor();
  // At 360 px the table becomes cards and nothing scrolls sideways.
  await page.setViewportSize({ width: 360, height: 800 });
  await sleep(200);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(overflow <= 360, `the People screen scrolls sideways at 360 px (scrollWidth ${overflow})`);
  await shot(page, 'people-mobile-360');
  // The last admin of an organisation cannot be demoted: the page says why.
  const slug = `solo-${Date.now().toString(36)}`;
  const made = await api('POST', '/v1/admin/tenants', { slug, name: 'Solo Org' }, env.adminKey);
  assert(made.status === 201, `POST /v1/admin/tenants answered ${made.status}`);
  const solo = await createPerson({ role: 'admin', tenantId: made.body.id });
  const soloPage = await newPage(t);
  await passwordSignIn(soloPage, solo, slug);
  await soloPage.goto(`${env.base}/#/people`);
  await soloPage.locator(`#role-${solo.id}`).waitFor();
  await soloPage.selectOption(`#role-${solo.id}`, 'member');
  await soloPage.locator('#people-msg', { hasText: 'last admin' }).waitFor();
  assertEqual(await soloPage.inputValue(`#role-${solo.id}`), 'admin', 'the role stays admin');
});

/**
 * From now on, every GET `page` makes to `pattern` is taken from the server at
 * once, its JSON body pushed onto `reads`, and answered `ms` later: a read the
 * page made before a write of its own arrives after that write.
 */
async function holdReads(page, pattern, reads, ms = 1500) {
  await page.route(pattern, async (route) => {
    if (route.request().method() !== 'GET') return route.continue();
    const res = await route.fetch();
    reads.push(await res.json());
    await sleep(ms);
    await route.fulfill({ response: res });
  });
}

scenario('people and experts: a change made while the list is being read is not undone by that read', async (t) => {
  const admin = await createPerson({ role: 'admin', name: 'Lia List' });
  const member = await createPerson({ role: 'member', name: 'Rae Role' });
  const page = await newPage(t);
  await passwordSignIn(page, admin);
  // Every list read from here is taken from the server at once and answered 1.5 s later.
  const hold = (pattern, reads) => holdReads(page, pattern, reads);
  // People: Refresh, then the role changed while that read is out.
  await page.click('#nav-people');
  const row = `tr.member-row[data-id="${member.id}"]`;
  await page.locator(row).waitFor();
  const users = [];
  await hold('**/v1/users', users);
  await page.click('#members-refresh');
  await eventually(async () => users.length >= 1, 'the refresh at the server');
  await page.selectOption(`${row} select.role-select`, 'viewer');
  await eventually(async () => users.length >= 2, 'the list read again after the change');
  await sleep(1800);
  assertEqual(await page.getAttribute(row, 'data-role'), 'viewer', 'the row shows the new role');
  assertEqual(await page.inputValue(`${row} select.role-select`), 'viewer', 'and so does its select');
  assertEqual(users[0].items.find((u) => u.id === member.id).role, 'member', 'the refresh was read before the change');
  await page.unroute('**/v1/users');
  // Experts: Refresh, then an expert hidden while that read is out; it stays hidden.
  await page.click('#nav-experts');
  const first = page.locator('#experts li.expert-row').first();
  await first.waitFor();
  const id = await first.getAttribute('data-id');
  await page.check('#experts-all');
  const item = `#experts li.expert-row[data-id="${id}"]`;
  await page.locator(item).waitFor();
  const experts = [];
  await hold('**/v1/experts?*', experts);
  try {
    await page.click('#experts-refresh');
    await eventually(async () => experts.length >= 1, 'the refresh at the server');
    await page.locator(`${item} button`, { hasText: /^Hide$/ }).click();
    await eventually(async () => experts.length >= 2, 'the list read again after hiding');
    await sleep(1800);
    assertEqual(await page.getAttribute(item, 'data-hidden'), 'true', 'the expert stays hidden');
    await page.unroute('**/v1/experts?*');
  } finally {
    await api('PATCH', `/v1/experts/${id}`, { hidden: false });
  }
});

scenario('audit: an admin sees sign-ins and invitations, newest first; "auth." narrows it', async (t) => {
  const admin = await createPerson({ role: 'admin', name: 'Audit Admin' });
  const invited = await api('POST', '/v1/invitations', { email: `audited-${Date.now().toString(36)}@example.org`, role: 'viewer' });
  assert(invited.status === 201, `POST /v1/invitations answered ${invited.status}: ${JSON.stringify(invited.body)}`);
  const page = await newPage(t);
  await passwordSignIn(page, admin);
  await page.click('#nav-audit');
  await page.locator('#audit-h').waitFor();
  await page.locator('#audit tr.audit-row').first().waitFor();
  const actions = () => page.$$eval('#audit tr.audit-row', (rows) => rows.map((r) => r.dataset.action));
  const all = await actions();
  assert(all.includes('auth.signed_in'), `a sign-in is listed (${all.slice(0, 12)})`);
  assert(all.includes('user.invited'), 'the invitation is listed');
  const times = await page.$$eval('#audit tr.audit-row time', (ts) => ts.map((x) => Date.parse(x.getAttribute('datetime'))));
  assert(times.every((x, i) => i === 0 || times[i - 1] >= x), 'newest first');
  // The signed-in admin is named, not an id.
  const mine = page.locator('#audit tr.audit-row[data-action="auth.signed_in"]', { hasText: 'Audit Admin' });
  assert((await mine.count()) > 0, 'the actor is shown by name');
  assertEqual(await accessibilityProblems(page), [], 'Audit screen audit');
  await shot(page, 'audit');
  // A kind of action.
  await page.fill('#audit-action', 'auth.');
  await page.click('#audit-apply');
  await eventually(async () => {
    const shown = await actions();
    return shown.length > 0 && shown.every((a) => a.startsWith('auth.'));
  }, 'only auth. entries');
  assert(page.url().includes('action=auth.'), 'the filter is in the address');
  assert((await actions()).length < all.length || all.every((a) => a.startsWith('auth.')), 'the filter narrowed the list');
  // Kept across a reload.
  await page.reload();
  await page.locator('#audit tr.audit-row').first().waitFor();
  assertEqual(await page.inputValue('#audit-action'), 'auth.', 'the filter survives a reload');
  assert((await actions()).every((a) => a.startsWith('auth.')), 'still only auth. entries');
  // Who: the admin alone.
  await page.selectOption('#audit-actor', admin.id);
  await eventually(async () => (await page.$$eval('#audit tr.audit-row', (rows) => rows.length)) > 0 && page.url().includes(`actor=${admin.id}`), 'the actor filter');
  const whoCells = await page.$$eval('#audit tr.audit-row td[data-label="Who"]', (tds) => tds.map((td) => td.textContent));
  assert(whoCells.every((x) => x.includes('Audit Admin')), `only the admin’s entries (${whoCells})`);
  // A filter changed while the list is being read is not lost: the answer for the one before is not shown.
  await holdReads(page, '**/v1/audit?*', [], 1000);
  await page.fill('#audit-action', 'user.');
  await page.click('#audit-apply');
  await page.fill('#audit-action', 'auth.');
  await page.click('#audit-apply');
  await eventually(async () => page.url().includes('action=auth.') && (await page.textContent('#audit-msg')).includes('shown'), 'the later filter’s list');
  await sleep(1500);
  const after = await actions();
  assert(after.length > 0 && after.every((a) => a.startsWith('auth.')), `the later filter’s entries, not the earlier one’s (${after})`);
  await page.unroute('**/v1/audit?*');
  await page.setViewportSize({ width: 360, height: 800 });
  await sleep(200);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(overflow <= 360, `the Audit screen scrolls sideways at 360 px (scrollWidth ${overflow})`);
});

scenario('account: a person changes their name and password', async (t) => {
  const person = await createPerson({ role: 'member', name: 'Old Name' });
  const page = await newPage(t);
  await passwordSignIn(page, person);
  await page.click('#account-button');
  await page.click('#account-link');
  await page.locator('#account-h').waitFor();
  await page.fill('#me-name', 'New Name');
  await page.click('#me-name-save');
  await page.locator('#me-name-msg', { hasText: 'Saved' }).waitFor();
  assertEqual((await page.textContent('#account-name')).trim(), 'New Name', 'the top bar shows the new name');
  // A wrong current password is said at its field.
  await page.fill('#me-current', 'not my password');
  await page.fill('#me-new-password', 'a much better passphrase');
  await page.fill('#me-new-confirm', 'a much better passphrase');
  await page.click('#me-password-save');
  await page.locator('#me-current-err:not([hidden])').waitFor();
  await page.fill('#me-current', person.password);
  await page.fill('#me-new-password', 'a much better passphrase');
  await page.fill('#me-new-confirm', 'a much better passphrase');
  await page.click('#me-password-save');
  await page.locator('#me-password-msg', { hasText: 'Password changed' }).waitFor();
  assertEqual(await accessibilityProblems(page), [], 'Account screen audit');
  await shot(page, 'account');
  // The new password signs in; this page's session survived the change.
  const r = await fetch(`${env.api}/v1/auth/sign-in`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ tenant: env.tenant.slug, email: person.email, password: 'a much better passphrase' }) });
  assertEqual(r.status, 200, 'the new password works');
  await page.reload();
  await page.locator('#account').waitFor({ state: 'visible' });
  // Signing out everywhere ends the other browser's session too.
  const elsewhere = await newPage(t);
  await passwordSignIn(elsewhere, { ...person, password: 'a much better passphrase' });
  await page.click('#account-sign-out-everywhere');
  await page.locator('#signin-notice', { hasText: 'signed out everywhere' }).waitFor();
  // The other browser hears it: the server closes its socket, and its next
  // request (the socket's reconnect, or a click, whichever comes first) is
  // refused, so it shows the sign-in screen with the reason.
  const ended = elsewhere.locator('#signin-notice', { hasText: 'Your session has ended' });
  await Promise.race([ended.waitFor(), elsewhere.click('#nav-documents').catch(() => {})]);
  await ended.waitFor();
});

scenario('presence: a second viewer appears in the first one’s "Watching" line; a connected human member is marked; the seat’s person answers', async (t) => {
  const ada = await createPerson({ role: 'moderator', name: 'Ada Watcher' });
  const bob = await createPerson({ role: 'member', name: 'Bob Seat' });
  const panel = await createPanel({
    query: `${QUESTION} (watched)`,
    panel_type: 'hybrid',
    expert_count: 2,
    humans: [{ name: 'Bob Seat', email: bob.email }],
    base_flow: 'structured',
    human_turn_timeout_s: 120,
    max_rounds: 2,
    simulation: { seed: 9, pace_tokens_per_s: 20, turn_tokens: 40 },
  });
  const first = await newPage(t);
  await passwordSignIn(first, ada);
  await first.goto(`${env.base}/#/panels/${panel.id}`);
  await first.locator('#member-cards .card').first().waitFor();
  await first.locator('#presence:not([hidden])').waitFor();
  assertEqual(await first.getAttribute('#presence', 'aria-live'), 'polite', 'the line is a polite live region');
  assertEqual((await first.textContent('#presence')).trim(), 'Watching: only you.', 'alone at first');
  const second = await newPage(t);
  await passwordSignIn(second, bob);
  await second.goto(`${env.base}/#/panels/${panel.id}`);
  await second.locator('#member-cards .card').first().waitFor();
  await first.locator('#presence', { hasText: 'Watching: you and Bob Seat.' }).waitFor();
  await second.locator('#presence', { hasText: 'Watching: you and Ada Watcher.' }).waitFor();
  const seat = (await getPanel(panel.id)).members.find((m) => m.kind === 'human');
  await first.locator(`#member-cards .card[data-member="${seat.id}"] .card-online:not([hidden])`).waitFor();
  // Someone with a share link is counted, never named.
  const made = await api('POST', `/v1/panels/${panel.id}/shares`, { expires_in_s: 3600 });
  assert(made.status === 201, `POST .../shares answered ${made.status}`);
  const guest = await newPage(t);
  await guest.goto(`${env.base}${made.body.url}`);
  await guest.locator('#member-cards .card').first().waitFor();
  await first.locator('#presence', { hasText: 'Watching: you, Bob Seat and 1 person with a share link.' }).waitFor();
  assertEqual(await guest.locator('#presence').count(), 0, 'the shared view shows no presence');
  await shot(first, 'live-presence', { fullPage: false });
  // Bob's seat is his: the page lets him answer it (Ada could only as a moderator, on his behalf).
  await second.locator('#human-turn textarea').waitFor({ state: 'visible', timeout: 30_000 });
  assert((await second.textContent('#human-turn-h')).startsWith('Your turn'), 'the seat’s person is told it is their turn');
  await first.locator('#human-turn #human-help', { hasText: 'on their behalf' }).waitFor();
  const answer = 'Speaking for myself: De Novo, because no predicate device matches the intended use.';
  await second.fill('#human-text', answer);
  await second.click('#human-turn button[type=submit]');
  await first.locator('.transcript .turn', { hasText: answer }).waitFor();
  // Bob leaves: the line drops him and his seat is no longer connected.
  await second.goto(`${env.base}/#/panels`);
  await eventually(async () => !(await first.textContent('#presence')).includes('Bob Seat'), 'Bob to leave the “Watching” line', 40_000);
  await first.locator(`#member-cards .card[data-member="${seat.id}"] .card-online`).waitFor({ state: 'hidden' });
  await api('POST', `/v1/panels/${panel.id}/moderate`, { action: 'cancel' });
});

/* ---------------- single sign-on (docs/accounts.md) ---------------- */

scenario('single sign-on: a member signs in through the identity provider; an unknown address is told why; an organisation without it has no button', async (t) => {
  if (!env.issuer) {
    t.skip(`no identity provider: ${env.noIssuer}`);
    return;
  }
  assertEqual(env.tenant.slug, SSO_TENANT, 'the demo tenant is the one given single sign-on');
  const sam = await createPerson({ role: 'member', name: 'Sam Single' });
  const page = await newPage(t, undefined, { offSite: [env.issuer] });
  const provider = [];
  page.on('request', (r) => {
    if (r.url().startsWith(`${env.issuer}/`)) provider.push(new URL(r.url()));
  });
  await page.goto(`${env.base}/#/`);
  await page.locator('#signin-form').waitFor();
  assert(await page.locator('#signin-sso').isHidden(), 'no single sign-on button before an organisation is named');
  await page.fill('#signin-tenant', SSO_TENANT);
  await page.locator('#signin-sso').waitFor({ state: 'visible' });
  await page.fill('#signin-email', sam.email);
  assertEqual(await accessibilityProblems(page), [], 'sign-in screen with single sign-on audit');
  // No password: the button leaves for the provider, which sends the browser straight back.
  await page.click('#signin-sso');
  await page.locator('#account').waitFor({ state: 'visible' });
  await page.locator('h1', { hasText: 'Panels' }).waitFor();
  assertEqual((await page.textContent('#account-name')).trim(), 'Sam Single', 'the member is signed in');
  assertEqual((await page.textContent('#account-role')).trim(), 'Member', 'with their role');
  assertEqual(new URL(page.url()).hash, '#/', 'back at the panel list');
  assertEqual(await page.evaluate(() => window.__askpanel.mode()), 'person', 'a person’s session (the cookie), no key');
  const authorize = provider.find((u) => u.pathname === '/authorize');
  assert(authorize, `the browser went to the provider (${provider.map(String)})`);
  assertEqual(authorize.searchParams.get('login_hint'), sam.email, 'the typed address went as the hint');
  assertEqual(authorize.searchParams.get('code_challenge_method'), 'S256', 'PKCE');
  const trail = await api('GET', `/v1/audit?action=auth.signed_in&actor=${sam.id}`);
  assert(trail.status === 200 && trail.body.items.some((e) => e.detail && e.detail.method === 'oidc'), `the sign-in is audited as single sign-on (${JSON.stringify(trail.body).slice(0, 300)})`);
  // An address with no account here: back on the sign-in screen with the reason, signed in as nobody.
  const stranger = await newPage(t, undefined, { offSite: [env.issuer] });
  await stranger.goto(`${env.base}/#/`);
  await stranger.locator('#signin-form').waitFor();
  await stranger.fill('#signin-tenant', SSO_TENANT);
  await stranger.locator('#signin-sso').waitFor({ state: 'visible' });
  await stranger.fill('#signin-email', `nobody-${Date.now().toString(36)}@example.org`);
  await stranger.click('#signin-sso');
  await stranger.locator('#signin-error', { hasText: 'No account here matches that identity. Ask an admin to invite you.' }).waitFor();
  assertEqual(await stranger.getAttribute('#signin-error', 'role'), 'alert', 'the reason is announced');
  assert(await stranger.locator('#account').isHidden(), 'nobody is signed in');
  assertEqual(new URL(stranger.url()).hash, '#/', 'the reason left the address (a reload does not say it again)');
  assertEqual(await stranger.evaluate(async () => (await fetch('/v1/auth/session', { credentials: 'same-origin' })).status), 401, 'no session on the server');
  // The organisation was remembered, so the button is back for another try.
  assertEqual(await stranger.inputValue('#signin-tenant'), SSO_TENANT, 'the organisation is remembered');
  await stranger.locator('#signin-sso').waitFor({ state: 'visible' });
  assertEqual(await accessibilityProblems(stranger), [], 'sign-in screen with a single sign-on error audit');
  await shot(stranger, 'sign-in-sso');
  // An organisation without single sign-on: the server says password only, and the page shows no button.
  const slug = `nosso-${Date.now().toString(36)}`;
  const made = await api('POST', '/v1/admin/tenants', { slug, name: 'Passwords Only' }, env.adminKey);
  assert(made.status === 201, `POST /v1/admin/tenants answered ${made.status}`);
  const answered = stranger.waitForResponse((r) => r.url().includes(`/v1/auth/providers?tenant=${slug}`));
  await stranger.fill('#signin-tenant', slug);
  const ways = await (await answered).json();
  assertEqual([ways.password, ways.oidc], [true, false], 'the server’s answer for that organisation: password only');
  await sleep(300);
  assert(await stranger.locator('#signin-sso').isHidden(), 'no single sign-on button for an organisation without it');
  // And back: the demo organisation shows it again.
  await stranger.fill('#signin-tenant', SSO_TENANT);
  await stranger.locator('#signin-sso').waitFor({ state: 'visible' });
  await stranger.setViewportSize({ width: 360, height: 740 });
  await sleep(200);
  const overflow = await stranger.evaluate(() => document.documentElement.scrollWidth);
  assert(overflow <= 360, `the sign-in screen with single sign-on scrolls sideways at 360 px (scrollWidth ${overflow})`);
});

/* ---------------- notifications and webhooks (docs/notifications.md, docs/webhooks.md) ---------------- */

/** The signed-in person's notifications, read by the page's own session (a key is refused them). */
function myNotifications(page, query = '') {
  return page.evaluate(async (q) => (await fetch(`/v1/notifications${q}`, { credentials: 'same-origin' })).json(), query);
}

/** A one-round hybrid panel that seats `person` (a seat, then a turn, notified), instant, with `turnTokens` a turn. */
function seatPanel(person, label, seed, turnTokens = 15) {
  return createPanel({
    query: `${QUESTION} (${label})`,
    panel_type: 'hybrid',
    humans: [{ user_id: person.id }],
    expert_count: 2,
    max_rounds: 1,
    human_turn_timeout_s: 300,
    simulation: { seed, pace_tokens_per_s: 0, turn_tokens: turnTokens },
  });
}

scenario('notifications: the bell hears a seat and a turn live, opens the panel and marks it read; mark all read clears it', async (t) => {
  const bea = await createPerson({ role: 'member', name: 'Bea Bell' });
  const page = await newPage(t);
  const pushed = [];
  page.on('websocket', (ws) => {
    ws.on('framereceived', (f) => {
      if (typeof f.payload !== 'string' || !f.payload.includes('"notification"')) return;
      const frame = JSON.parse(f.payload);
      if (frame.type === 'notification') pushed.push(frame.notification);
    });
  });
  await passwordSignIn(page, bea);
  await page.locator('#bell').waitFor({ state: 'visible' });
  assert(await page.locator('#bell-count').isHidden(), 'nothing unread at first');
  assertEqual(await page.getAttribute('#bell-button', 'aria-label'), 'Notifications, none unread', 'the bell’s name says the count');
  // A person's socket is open on the panel list, no panel watched; the connection badge stays out of the way there.
  await page.waitForFunction(() => window.__askpanel.connState() === 'open');
  assert(await page.evaluate(() => window.__askpanel.keptOpen()), 'the socket is kept open for the bell');
  assert(await page.locator('#conn').isHidden(), 'no connection badge where no panel is watched');
  await page.evaluate(() => {
    window.__sameDocument = true;
  });
  const panel = await seatPanel(bea, 'heard through the bell', 4);
  try {
    // The seat, then the turn: the count rises while the page stays where it is.
    await page.locator('#bell-count:not([hidden])').waitFor();
    await page.locator('#bell-count', { hasText: /^2$/ }).waitFor({ timeout: 30_000 });
    assert(await page.evaluate(() => window.__sameDocument === true), 'no reload: the count rose in place');
    assertEqual(pushed.map((n) => n.kind).sort(), ['human_turn', 'panel_seat'], 'both came over the socket');
    assert(pushed.every((n) => n.panel_id === panel.id), 'both name the panel');
    assertEqual(await page.getAttribute('#bell-button', 'aria-label'), 'Notifications, 2 unread', 'the bell’s name follows');
    await page.locator('h1', { hasText: 'Panels' }).waitFor();
    // The list: newest first, both unread, with their text and a relative time.
    await page.click('#bell-button');
    await page.locator('#bell-panel').waitFor({ state: 'visible' });
    await page.locator('#bell-list li').nth(1).waitFor();
    assertEqual(await page.$$eval('#bell-list li', (els) => els.map((e) => [e.dataset.kind, e.dataset.unread])), [['human_turn', 'true'], ['panel_seat', 'true']], 'newest first, both unread');
    const turn = pushed.find((n) => n.kind === 'human_turn');
    const item = page.locator('#bell-list li[data-kind="human_turn"]');
    assertEqual((await item.locator('.notice-title').textContent()).trim(), turn.title, 'the title');
    assertEqual((await item.locator('.notice-body').textContent()).trim(), turn.body, 'the body');
    assertEqual((await item.locator('.notice-when').textContent()).trim(), 'just now', 'when, relative');
    assert(await page.evaluate(() => document.activeElement && document.activeElement.closest('#bell-list li') !== null), 'the keyboard is on the first notification');
    assertEqual(await accessibilityProblems(page), [], 'the bell’s panel audit');
    await shot(page, 'notifications-bell', { fullPage: false });
    // Escape closes it and gives the bell the keyboard back.
    await page.keyboard.press('Escape');
    await page.locator('#bell-panel').waitFor({ state: 'hidden' });
    assert(await page.evaluate(() => document.activeElement && document.activeElement.id === 'bell-button'), 'Escape returns to the bell');
    // Opening the turn's notification, by keyboard: its panel opens and it is read.
    await page.keyboard.press('Enter');
    await page.locator('#bell-panel').waitFor({ state: 'visible' });
    await page.locator('#bell-list li[data-kind="human_turn"] .notice-link:focus').waitFor();
    await page.keyboard.press('Enter');
    await page.waitForURL(new RegExp(`#/panels/${panel.id}$`));
    await page.locator(`article.live[data-panel-id="${panel.id}"]`).waitFor();
    await page.locator('#bell-count', { hasText: /^1$/ }).waitFor();
    await page.locator('#human-turn textarea').waitFor({ state: 'visible' });
    await eventually(async () => {
      const mine = await myNotifications(page);
      return mine.unread === 1 && mine.items.find((n) => n.id === turn.id).read_at !== null;
    }, 'the server to have the turn read');
    // On a panel the connection badge is back.
    await page.locator('#conn[data-state="open"]').waitFor();
    // Mark all read: the badge goes.
    await page.click('#bell-button');
    await page.locator('#bell-list li[data-kind="human_turn"][data-unread="false"]').waitFor();
    await page.click('#bell-read-all');
    await page.locator('#bell-count').waitFor({ state: 'hidden' });
    await page.locator('#bell-status', { hasText: 'Marked 1 notification read.' }).waitFor();
    assertEqual(await page.$$eval('#bell-list li', (els) => els.map((e) => e.dataset.unread)), ['false', 'false'], 'nothing unread in the list');
    assert(await page.locator('#bell-read-all').isDisabled(), 'nothing left to mark');
    const after = await myNotifications(page, '?unread=true');
    assertEqual([after.unread, after.items.length], [0, 0], 'nothing unread on the server');
    // At 360 px the open list fits the screen.
    await page.setViewportSize({ width: 360, height: 740 });
    await sleep(200);
    const box = await page.locator('#bell-panel').boundingBox();
    assert(box && box.x >= 0 && box.x + box.width <= 360, `the list fits at 360 px (${JSON.stringify(box)})`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
    assert(overflow <= 360, `the page scrolls sideways at 360 px with the list open (scrollWidth ${overflow})`);
    await shot(page, 'notifications-bell-mobile-360', { fullPage: false });
    // A key has no notifications: no bell.
    const keyed = await newPage(t);
    await signIn(keyed);
    assert(await keyed.locator('#bell').isHidden(), 'no bell for an API key');
    assert(!(await keyed.evaluate(() => window.__askpanel.keptOpen())), 'a key’s page keeps no socket open');
  } finally {
    await api('POST', `/v1/panels/${panel.id}/moderate`, { action: 'cancel' });
  }
});

scenario('notifications: two pushed with the same time are listed newest first, as the server lists them', async (t) => {
  const bea = await createPerson({ role: 'member', name: 'Bea Tie' });
  const page = await newPage(t);
  // A seat and its first turn announced in one step share created_at; make every push share it.
  await page.routeWebSocket(/\/v1\/ws/, (ws) => {
    const server = ws.connectToServer();
    server.onMessage((message) => {
      if (typeof message === 'string' && message.includes('"notification"')) {
        const frame = JSON.parse(message);
        if (frame.type === 'notification') {
          frame.notification.created_at = '2026-01-01T00:00:00Z';
          return ws.send(JSON.stringify(frame));
        }
      }
      ws.send(message);
    });
  });
  await passwordSignIn(page, bea);
  await page.locator('#bell').waitFor({ state: 'visible' });
  await page.waitForFunction(() => window.__askpanel.connState() === 'open');
  const panel = await seatPanel(bea, 'two at one time', 5);
  try {
    await page.locator('#bell-count', { hasText: /^2$/ }).waitFor({ timeout: 30_000 });
    await page.click('#bell-button');
    await page.locator('#bell-list li').nth(1).waitFor();
    assertEqual(await page.$$eval('#bell-list li', (els) => els.map((e) => e.dataset.kind)), ['human_turn', 'panel_seat'], 'the turn, made after the seat, first');
  } finally {
    await api('POST', `/v1/panels/${panel.id}/moderate`, { action: 'cancel' });
  }
});

scenario('notifications: a list read while one is being marked read does not bring it back unread', async (t) => {
  const ida = await createPerson({ role: 'member', name: 'Ida Race' });
  const page = await newPage(t);
  await passwordSignIn(page, ida);
  await page.locator('#bell').waitFor({ state: 'visible' });
  await page.waitForFunction(() => window.__askpanel.connState() === 'open');
  const panel = await seatPanel(ida, 'read while the list is read', 6);
  try {
    await page.locator('#bell-count', { hasText: /^2$/ }).waitFor({ timeout: 30_000 });
    // From here every list read is taken from the server at once but answered a while later:
    // the one the bell's opening starts holds the count from before the read below.
    const held = [];
    await holdReads(page, '**/v1/notifications?*', held);
    // Every count the bell shows from here on.
    await page.evaluate(() => {
      const count = document.getElementById('bell-count');
      window.__counts = [count.textContent];
      new MutationObserver(() => window.__counts.push(count.textContent)).observe(count, { childList: true, characterData: true, subtree: true });
    });
    await page.click('#bell-button');
    // The list read the opening started has reached the server before the read is made.
    await eventually(async () => held.length >= 1, 'the opening’s list read at the server');
    await page.locator('#bell-list li[data-kind="human_turn"] .notice-link').click();
    await page.waitForURL(new RegExp(`#/panels/${panel.id}$`));
    await page.locator('#bell-count', { hasText: /^1$/ }).waitFor();
    // The list read before the read came back saying 2 unread; it is not shown, and one read after it is.
    await eventually(async () => held.length >= 2 && held[held.length - 1].unread === 1, 'a list read after the read');
    await sleep(1800);
    assertEqual(held[0].unread, 2, 'the first list read was taken before the read');
    assertEqual((await page.textContent('#bell-count')).trim(), '1', 'the count the read left');
    const counts = await page.evaluate(() => window.__counts);
    assert(!counts.slice(counts.indexOf('1')).includes('2'), `never 2 again after the read (${counts.join(' ')})`);
    assertEqual(await page.getAttribute('#bell-button', 'aria-label'), 'Notifications, 1 unread', 'the bell’s name');
    const mine = await myNotifications(page);
    assertEqual(mine.unread, 1, 'the server agrees');
    await page.unroute('**/v1/notifications?*');
    // Now the read is held on its way and the list is read while it is out: that list still has it unread.
    await page.route('**/v1/notifications/*/read', async (route) => {
      await sleep(1500);
      await route.continue();
    });
    await page.click('#bell-button');
    await page.evaluate(() => {
      window.__counts = [];
    });
    await page.locator('#bell-list li[data-kind="panel_seat"] .notice-link').click();
    await page.locator('#bell-count').waitFor({ state: 'hidden' });
    await page.click('#bell-button');
    await page.locator('#bell-panel').waitFor({ state: 'visible' });
    await eventually(async () => (await myNotifications(page)).unread === 0, 'the server to have the seat read');
    await sleep(1000);
    const later = await page.evaluate(() => window.__counts);
    assert(later.includes('0') && !later.slice(later.indexOf('0')).includes('1'), `never 1 again after the read (${later.join(' ')})`);
    assert(await page.locator('#bell-count').isHidden(), 'nothing unread');
    await page.unroute('**/v1/notifications/*/read');
  } finally {
    await api('POST', `/v1/panels/${panel.id}/moderate`, { action: 'cancel' });
  }
});

scenario('notifications: more than a page shows with "Show more", newest first, nothing twice', async (t) => {
  const ned = await createPerson({ role: 'member', name: 'Ned Many' });
  // Each panel seats Ned and is cancelled at once: a seat and a cancellation each (a turn too, when it opened first).
  for (let i = 0; i < 11; i += 1) {
    const p = await seatPanel(ned, `page ${i}`, i, 5);
    await api('POST', `/v1/panels/${p.id}/moderate`, { action: 'cancel' });
  }
  const page = await newPage(t);
  await passwordSignIn(page, ned);
  const total = await eventually(async () => {
    const all = await myNotifications(page, '?limit=100');
    return all.items.length >= 22 && all.items.filter((n) => n.kind === 'panel_cancelled').length === 11 ? all.items.length : null;
  }, 'every notification to be recorded', 30_000);
  await page.click('#bell-button');
  await page.locator('#bell-list li').nth(19).waitFor();
  assertEqual(await page.locator('#bell-list li').count(), 20, 'one page first');
  await page.locator('#bell-more').waitFor({ state: 'visible' });
  await page.click('#bell-more');
  await page.locator('#bell-list li').nth(total - 1).waitFor();
  assert(await page.locator('#bell-more').isHidden(), 'no more after the last page');
  const ids = await page.$$eval('#bell-list li', (els) => els.map((e) => e.dataset.id));
  assertEqual(new Set(ids).size, total, 'each notification once');
  const all = await myNotifications(page, '?limit=100');
  assertEqual(ids, all.items.map((n) => n.id), 'in the server’s order, newest first');
  assert(await page.evaluate(() => document.activeElement && document.activeElement.closest('#bell-list li:nth-child(21)') !== null), 'the keyboard is on the first of the new ones');
});

scenario('notification preferences: email off for completed panels stays off after a reload; a server without mail says so', async (t) => {
  const pia = await createPerson({ role: 'member', name: 'Pia Prefs' });
  const page = await newPage(t);
  await passwordSignIn(page, pia);
  await page.click('#account-button');
  await page.click('#account-link');
  await page.locator('#prefs-body tr[data-kind="panel_completed"]').waitFor();
  // Every kind a member can get, in words (webhook_disabled is for admins).
  assertEqual(await page.$$eval('#prefs-body tr', (rows) => rows.map((r) => r.dataset.kind)), ['human_turn', 'human_turn_reminder', 'panel_seat', 'panel_completed', 'panel_failed', 'panel_cancelled'], 'one row per kind');
  assert((await page.textContent('#prefs-body tr[data-kind="panel_completed"] th')).includes('A panel you follow completed'), 'a readable label');
  // This server has no mail: it says so, and the email boxes cannot be changed.
  await page.locator('#prefs-no-email', { hasText: 'This server sends no email' }).waitFor();
  assert(await page.locator('#pref-panel_completed-email').isDisabled(), 'no email box to tick without mail');
  assert(await page.locator('#pref-panel_completed-in_app').isEnabled(), 'the page’s boxes work');
  assertEqual(await accessibilityProblems(page), [], 'Account screen with preferences audit');
  // A server with mail: its answers say so (the choices themselves go to this server and are read back from it).
  await page.route('**/v1/notifications/preferences', async (route) => {
    const res = await route.fetch();
    const body = await res.json();
    await route.fulfill({ response: res, json: { ...body, email_available: true } });
  });
  await page.reload();
  await page.locator('#pref-panel_completed-email:not([disabled])').waitFor();
  assert(await page.locator('#prefs-no-email').isHidden(), 'no "no email" notice when the server sends email');
  assert(await page.isChecked('#pref-panel_completed-email'), 'email is on by default');
  await page.uncheck('#pref-panel_completed-email');
  await page.click('#prefs-save');
  await page.locator('#prefs-msg', { hasText: 'Saved' }).waitFor();
  await shot(page, 'account-notifications');
  await page.reload();
  await page.locator('#pref-panel_completed-email:not([disabled])').waitFor();
  assert(!(await page.isChecked('#pref-panel_completed-email')), 'still off after a reload');
  assert(await page.isChecked('#pref-panel_failed-email'), 'the other kinds are untouched');
  await page.unroute('**/v1/notifications/preferences');
  const prefs = await page.evaluate(async () => (await fetch('/v1/notifications/preferences', { credentials: 'same-origin' })).json());
  const channels = (k) => [prefs.kinds[k].in_app, prefs.kinds[k].email];
  assertEqual(channels('panel_completed'), [true, false], 'the server has email off for completed panels (in the page on)');
  assertEqual(channels('panel_failed'), [true, true], 'and the rest as they were');
  // Nothing changed: said, and nothing sent.
  await page.reload();
  await page.locator('#prefs-body tr[data-kind="panel_completed"]').waitFor();
  await page.click('#prefs-save');
  await page.locator('#prefs-msg', { hasText: 'Nothing changed' }).waitFor();
});

/** An HTTP receiver on 127.0.0.1 that records every request and answers with the status it is told. */
async function startReceiver(t) {
  const received = [];
  let status = 200;
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      received.push({ method: req.method, path: req.url, headers: req.headers, body, answered: status });
      res.writeHead(status, { 'Content-Type': 'text/plain' });
      res.end(status < 300 ? 'ok' : 'not now');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.cleanup.push(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return {
    url: `http://127.0.0.1:${server.address().port}/hooks/askpanel`,
    received,
    answer: (code) => {
      status = code;
    },
  };
}

/** The Standard Webhooks signature of a received request with `secret` (whsec_ and base64). */
function webhookSignature(secret, req) {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${crypto.createHmac('sha256', key).update(`${req.headers['webhook-id']}.${req.headers['webhook-timestamp']}.${req.body}`).digest('base64')}`;
}

scenario('webhooks: an admin adds an endpoint, sees its secret once, tests it, reads the log, redelivers; a member is told it is for admins', async (t) => {
  const receiver = await startReceiver(t);
  const page = await newPage(t);
  await signIn(page);
  assert(await page.locator('#bell').isHidden(), 'a key has no bell');
  await page.click('#nav-webhooks');
  await page.locator('#hooks-h').waitFor();
  await page.locator('#hook-form').waitFor();
  await page.locator('#hooks-msg', { hasText: /No endpoints yet|endpoint/ }).waitFor();
  // The server's word on a bad address is at its field.
  await page.fill('#hook-url', 'ftp://example.org/hooks');
  await page.click('#hook-create');
  await page.locator('#hook-url-err:not([hidden])', { hasText: 'must be https' }).waitFor();
  assertEqual(await page.getAttribute('#hook-url', 'aria-invalid'), 'true', 'the address is marked');
  // Some events only: none chosen is said before anything is sent.
  await page.fill('#hook-url', receiver.url);
  await page.fill('#hook-description', 'The e2e receiver');
  await page.check('#hook-events-some');
  await page.click('#hook-create');
  await page.locator('#hook-events-err:not([hidden])', { hasText: 'Choose at least one event' }).waitFor();
  await page.check('#hook-event-boxes input[data-type="panel.completed"]');
  await page.check('#hook-event-boxes input[data-type="panel.failed"]');
  await page.click('#hook-create');
  // The secret, once, with a copy button and the warning.
  await page.locator('#hook-secret-box').waitFor();
  let secret = await page.inputValue('#hook-secret');
  assert(/^whsec_[A-Za-z0-9+/=]+$/.test(secret), `a Standard Webhooks secret (${secret})`);
  assert((await page.textContent('#hook-secret-box')).includes('you will not see it again'), 'the page says it is shown once');
  assert(await page.locator('#hook-secret-copy').isVisible(), 'a copy button');
  assert(await page.evaluate(() => document.activeElement && document.activeElement.id === 'hook-secret'), 'the keyboard is on the secret');
  const row = page.locator('#endpoints li.endpoint-row');
  await row.first().waitFor();
  const id = await row.first().getAttribute('data-id');
  assertEqual((await row.first().locator('.endpoint-url').textContent()).trim(), receiver.url, 'the endpoint is listed');
  assert((await row.first().textContent()).includes('panel.completed, panel.failed'), 'with its events');
  const listed = await api('GET', '/v1/webhooks');
  assertEqual(listed.body.items.map((e) => [e.id, e.url, e.description, e.events, e.status, 'secret' in e]), [[id, receiver.url, 'The e2e receiver', ['panel.completed', 'panel.failed'], 'enabled', false]], 'the server has it, and lists no secret');
  assertEqual(await accessibilityProblems(page), [], 'Webhooks screen audit');
  await shot(page, 'webhooks');
  // Its page: the secret is not shown again.
  await page.click('#hook-made-link');
  await page.waitForURL(new RegExp(`#/webhooks/${id}$`));
  await page.locator('#hook-facts .hook-status', { hasText: 'Enabled' }).waitFor();
  assertEqual(await page.locator('#hook-secret-box').count(), 0, 'the secret is not shown again');
  await page.locator('#log-msg', { hasText: 'Nothing sent yet' }).waitFor();
  // A test: delivered, 200, signed with the secret shown.
  await page.click('#hook-test');
  const delivered = page.locator('#log-body tr.delivery-row[data-status="delivered"]');
  await delivered.waitFor();
  assertEqual((await delivered.locator('.last-answer').textContent()).trim(), '200', 'the receiver’s 200 is in the log');
  const firstMessage = await delivered.getAttribute('data-message-id');
  const firstId = await delivered.getAttribute('data-id');
  const got = receiver.received.find((r) => r.headers['webhook-id'] === firstMessage);
  assert(got, `the receiver got ${firstMessage} (${receiver.received.map((r) => r.headers['webhook-id'])})`);
  assertEqual(JSON.parse(got.body).type, 'webhook.test', 'a test message');
  assert(got.headers['webhook-signature'].split(' ').includes(webhookSignature(secret, got)), 'signed with the secret the page showed');
  // The receiver fails: the next test is pending, tried again, with the 500 in its attempts.
  receiver.answer(500);
  await page.click('#hook-test');
  const retrying = page.locator('#log-body tr.delivery-row[data-status="pending"]:not([data-attempts="0"])');
  await retrying.waitFor();
  assertEqual((await retrying.locator('.last-answer').textContent()).trim(), '500', 'the 500 is in the log');
  assert((await retrying.textContent()).includes('retrying'), 'it says it is tried again');
  const retryingId = await retrying.getAttribute('data-id');
  await page.locator('#hook-facts .failing', { hasText: /failed attempts? in a row/ }).waitFor();
  assertEqual(await retrying.getByRole('button', { name: /Redeliver/ }).count(), 0, 'no redelivery while it is pending');
  await retrying.getByRole('button', { name: /Details/ }).click();
  await page.locator(`#delivery-${retryingId} .attempt[data-status="500"]`).first().waitFor();
  assert((await page.textContent(`#delivery-${retryingId} .payload`)).includes('"type": "webhook.test"'), 'the payload is shown');
  assertEqual(await accessibilityProblems(page), [], 'delivery log audit');
  await shot(page, 'webhook-log');
  // On a phone the log's rows become cards and nothing scrolls sideways.
  await page.setViewportSize({ width: 390, height: 844 });
  await sleep(200);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(overflow <= 390, `the endpoint's page scrolls sideways at 390 px (scrollWidth ${overflow})`);
  await shot(page, 'webhook-log-mobile-390');
  await page.setViewportSize({ width: 1280, height: 900 });
  // A new secret, shown once: the old one still signs beside it.
  await page.click('#hook-rotate');
  await page.locator('#hook-secret-box', { hasText: 'The new signing secret' }).waitFor();
  const oldSecret = secret;
  secret = await page.inputValue('#hook-secret');
  assert(secret !== oldSecret && secret.startsWith('whsec_'), 'a new secret');
  // The receiver is fixed; the first delivery is sent again with the same webhook-id.
  receiver.answer(200);
  await page.locator(`#log-body tr.delivery-row[data-id="${firstId}"]`).getByRole('button', { name: /Redeliver/ }).click();
  await page.locator('#log-msg', { hasText: `the same webhook-id (${firstMessage})` }).waitFor();
  const again = await eventually(() => receiver.received.filter((r) => r.headers['webhook-id'] === firstMessage)[1], 'the redelivery to arrive');
  assertEqual(again.body, got.body, 'the same message');
  const sigs = again.headers['webhook-signature'].split(' ');
  assert(sigs.includes(webhookSignature(secret, again)) && sigs.includes(webhookSignature(oldSecret, again)), `signed with the new secret and the old (${sigs})`);
  await page.locator(`#log-body tr.delivery-row[data-id="${firstId}"][data-status="delivered"]`).waitFor();
  // Disabled: a redelivery is refused, and the page says why.
  await page.click('#hook-toggle');
  await page.locator('#hook-facts .hook-status', { hasText: 'Disabled' }).waitFor();
  assert(await page.locator('#hook-test').isDisabled(), 'no test to a disabled endpoint');
  await page.locator(`#log-body tr.delivery-row[data-id="${firstId}"]`).getByRole('button', { name: /Redeliver/ }).click();
  await page.locator('#log-msg.log-msg-error', { hasText: 'the endpoint is disabled; enable it first' }).waitFor();
  await page.click('#hook-toggle');
  await page.locator('#hook-facts .hook-status', { hasText: 'Enabled' }).waitFor();
  // The filter, kept in the address.
  await page.selectOption('#log-status', 'delivered');
  await page.waitForURL(new RegExp(`#/webhooks/${id}\\?status=delivered$`));
  await eventually(async () => (await page.$$eval('#log-body tr.delivery-row', (rows) => rows.map((r) => r.dataset.status))).every((s) => s === 'delivered'), 'only delivered deliveries');
  // A change: every event.
  await page.click('#hook-edit > summary');
  await page.check('#edit-events-all');
  await page.click('#hook-save');
  await page.locator('#hook-edit-msg', { hasText: 'Saved' }).waitFor();
  assertEqual((await api('GET', `/v1/webhooks/${id}`)).body.events, ['*'], 'the server has every event');
  // A member sees no link, and the addresses say it is for admins.
  const member = await createPerson({ role: 'member' });
  const other = await newPage(t);
  await passwordSignIn(other, member);
  assert(await other.locator('#nav-webhooks').isHidden(), 'a member sees no Webhooks');
  await other.goto(`${env.base}/#/webhooks`);
  await other.locator('#admins-only', { hasText: 'Webhooks: admins only' }).waitFor();
  await other.goto(`${env.base}/#/webhooks/${id}`);
  await other.locator('#admins-only', { hasText: 'admins only' }).waitFor();
  assertEqual(await other.evaluate(async () => (await fetch('/v1/webhooks', { credentials: 'same-origin' })).status), 403, 'the server refuses a member');
  // Delete, after asking.
  await page.click('#hook-delete');
  await page.locator('#hook-delete-yes').waitFor();
  await page.click('#hook-delete-yes');
  await page.waitForURL(/#\/webhooks$/);
  await page.locator('#hooks-msg', { hasText: 'No endpoints yet' }).waitFor();
  assertEqual((await api('GET', `/v1/webhooks/${id}`)).status, 404, 'gone from the server');
});

/* ---------------- experts (docs/experts.md) ---------------- */

/** The row of the expert named `name` on the Experts screen. */
function expertRow(page, name) {
  return page.locator('#experts li.expert-row', { has: page.locator('.expert-link', { hasText: name }) });
}

scenario('experts: an admin adds, changes and prefers an expert, a panel says why it seated them; hiding, deleting and archiving; a member only reads', async (t) => {
  const stamp = Date.now().toString(36);
  const name = `Dr Wren Calloway ${stamp}`;
  const page = await newPage(t);
  await signIn(page);
  await page.click('#nav-experts');
  await page.waitForURL(/#\/experts$/);
  await page.locator('#experts-h').waitFor();
  await page.locator('#experts-msg', { hasText: /^\d+ experts\.$/ }).waitFor();
  const listed = (await api('GET', '/v1/experts?limit=200')).body.items;
  assertEqual(await page.locator('#experts li.expert-row').count(), listed.length, 'every expert the server lists is shown');
  assert(listed.length >= 136, `the catalog is listed (${listed.length})`);
  assert((await page.locator('#experts li.expert-row').first().textContent()).includes('Platform'), 'a platform expert says so');

  // Add a private expert: what is missing is said before anything is sent, the server's word at its field.
  await page.click('#new-expert-summary');
  await page.click('#new-expert-submit');
  await page.locator('#new-expert-name-err:not([hidden])', { hasText: 'The name is needed' }).waitFor();
  assert(await page.evaluate(() => document.activeElement && document.activeElement.id === 'new-expert-name'), 'the keyboard is on the name');
  await page.fill('#new-expert-name', name);
  await page.fill('#new-expert-domain', 'veterinary medicine');
  await page.fill('#new-expert-persona', 'A farm veterinarian who has run zoonosis surveillance for regional livestock herds. Argues from outbreak records and asks who will act on an alert at three in the morning.');
  await page.fill('#new-expert-weighs', Array.from({ length: 11 }, (_, i) => `consideration ${i + 1}`).join('\n'));
  await page.click('#new-expert-submit');
  await page.locator('#new-expert-weighs-err:not([hidden])', { hasText: 'at most 10 items' }).waitFor();
  assertEqual(await page.getAttribute('#new-expert-weighs', 'aria-invalid'), 'true', 'the list is marked');
  assert(await page.evaluate(() => document.activeElement && document.activeElement.id === 'new-expert-weighs'), 'the keyboard is on the list the server refused');
  await page.fill('#new-expert-weighs', 'outbreak records\n\n  time to act on an alert  \nfarmers’ trust');
  await page.fill('#new-expert-sceptical_of', 'alerts nobody answers at night\ndashboards without a vet behind them');
  await page.fill('#new-expert-tags', 'veterinary\nzoonosis\nlivestock');
  await page.click('#new-expert-submit');
  await page.locator('#new-expert-link').waitFor();
  assert(await page.locator('#new-expert-weighs-err').isHidden(), 'the error is gone');
  let mine = (await api('GET', '/v1/experts?limit=200')).body.items.find((e) => e.name === name);
  assert(mine, 'the server has the new expert');
  assertEqual([mine.scope, mine.domain, mine.weighs, mine.sceptical_of, mine.tags, mine.hidden, mine.preferred], ['tenant', 'veterinary_medicine', ['outbreak records', 'time to act on an alert', 'farmers’ trust'], ['alerts nobody answers at night', 'dashboards without a vet behind them'], ['veterinary', 'zoonosis', 'livestock'], false, false], 'one item a line, as typed');
  await expertRow(page, name).waitFor();
  assert((await expertRow(page, name).textContent()).includes('Your organisation'), 'listed as the organisation’s own');

  // Its page: everything about them; changed there.
  await page.click('#new-expert-link');
  await page.waitForURL(new RegExp(`#/experts/${mine.id}$`));
  await page.locator('#expert-h', { hasText: name }).waitFor();
  await page.locator('[data-part="weighs"] li', { hasText: 'time to act on an alert' }).waitFor();
  assertEqual(await page.$$eval('[data-part="sceptical_of"] li', (li) => li.map((x) => x.textContent)), mine.sceptical_of, 'what they are sceptical of');
  assertEqual(await page.$$eval('[data-part="tags"] .tag', (x) => x.map((e) => e.textContent)), mine.tags, 'their tags');
  assert((await page.textContent('[data-part="persona"]')).includes('zoonosis surveillance'), 'their persona');
  await page.click('#expert-edit > summary');
  await page.fill('#edit-expert-title', 'Farm veterinarian');
  await page.fill('#edit-expert-tags', 'veterinary\nzoonosis\nlivestock\nherd health');
  await page.click('#edit-expert-submit');
  await page.locator('#edit-expert-msg', { hasText: 'Saved' }).waitFor();
  await page.locator('#expert-sub', { hasText: 'Farm veterinarian · Veterinary medicine' }).waitFor();
  mine = (await api('GET', `/v1/experts/${mine.id}`)).body;
  assertEqual([mine.title, mine.tags], ['Farm veterinarian', ['veterinary', 'zoonosis', 'livestock', 'herd health']], 'the change is on the server');
  await page.click('#edit-expert-submit');
  await page.locator('#edit-expert-msg', { hasText: 'Nothing changed' }).waitFor();
  // Preferred.
  assertEqual((await page.textContent('#expert-prefer')).trim(), 'Prefer', 'not preferred yet');
  await page.click('#expert-prefer');
  await page.locator('#expert-sub .expert-flag[data-flag="preferred"]').waitFor();
  assertEqual([(await page.textContent('#expert-prefer')).trim(), await page.getAttribute('#expert-prefer', 'aria-label')], ['Unprefer', `Stop preferring ${name}`], 'the button now undoes it');
  assertEqual((await api('GET', `/v1/experts/${mine.id}`)).body.preferred, true, 'preferred on the server');
  assertEqual(await accessibilityProblems(page), [], 'expert page audit');
  await shot(page, 'expert');

  // A panel on a question in their field seats them, and each AI card says why.
  const panel = await createPanel({ query: 'Should our zoonosis alerts for livestock farms go to the veterinary practice first?', panel_type: 'structured', expert_count: 3, max_rounds: 1, simulation: { seed: 3, pace_tokens_per_s: 0, turn_tokens: 20 } });
  const member = panel.members.find((m) => m.name === name);
  assert(member, `the preferred expert was seated (${panel.members.map((m) => m.name)})`);
  assertEqual([member.selection.basis, member.selection.preferred], ['relevance', true], 'chosen for the question, preferred');
  // The server's terms are lower-cased, a plural's "s" dropped; the page shows the question's own words.
  for (const term of ['livestock', 'veterinary', 'zoonosi']) assert(member.selection.matched_terms.includes(term), `"${term}" matched (${member.selection.matched_terms})`);
  await page.goto(`${env.base}/#/panels/${panel.id}`);
  await waitForFinal(page);
  const card = page.locator(`#member-cards .card[data-member="${member.id}"]`);
  const why = card.locator('.card-why');
  await why.waitFor();
  const line = (await why.locator('.card-why-line').textContent()).trim();
  assert(line.startsWith('Why chosen: matched'), `the line says it matched (${line})`);
  for (const term of ['livestock', 'veterinary', 'zoonosis']) assert(line.includes(`“${term}”`), `the line names "${term}" (${line})`);
  assert(line.includes('preferred by your organisation'), `the line says it is preferred (${line})`);
  for (const m of panel.members.filter((x) => x.kind === 'ai')) {
    const w = page.locator(`#member-cards .card[data-member="${m.id}"] .card-why`);
    assertEqual(await w.getAttribute('data-basis'), m.selection.basis, `${m.name}'s basis`);
    // "2nd from its domain" (3rd, ...) only when others of its domain were seated first.
    const said = (await w.locator('.card-why-line').textContent()).includes('from its domain');
    assertEqual(said, m.selection.same_domain_before > 0, `${m.name} says whether others of its domain came first`);
  }
  // The reasons open from the keyboard.
  await why.locator('summary').focus();
  await page.keyboard.press('Enter');
  await why.locator('.card-why-reasons', { hasText: 'counted 1.5 times because your organisation prefers this expert' }).waitFor();
  assertEqual(await accessibilityProblems(page), [], 'panel with reasons audit');
  await shot(page, 'panel-why-chosen');

  // Hide a platform expert: it leaves the list, and comes back with the toggle, flagged.
  const platform = (await api('GET', '/v1/experts?domain=privacy&limit=200')).body.items.find((e) => e.scope === 'platform' && !e.hidden);
  assert(platform, 'a platform privacy expert');
  t.cleanup.push(() => api('PATCH', `/v1/experts/${platform.id}`, { hidden: false }));
  await page.goto(`${env.base}/#/experts`);
  await page.locator('#experts-msg', { hasText: /^\d+ experts\.$/ }).waitFor();
  await page.selectOption('#experts-domain', 'privacy');
  await page.waitForURL(/#\/experts\?domain=privacy$/);
  await eventually(async () => (await page.$$eval('#experts li.expert-row', (rows) => rows.length)) === (await api('GET', '/v1/experts?domain=privacy&limit=200')).body.items.length, 'only the privacy experts');
  const row = expertRow(page, platform.name);
  await row.getByRole('button', { name: `Prefer ${platform.name}` }).click();
  await row.locator('.expert-flag[data-flag="preferred"]').waitFor();
  await row.getByRole('button', { name: `Hide ${platform.name}` }).click();
  await page.locator('#experts-msg', { hasText: `${platform.name} is hidden` }).waitFor();
  assert((await page.textContent('#experts-msg')).includes('no longer preferred'), 'hiding drops the preference, and says so');
  await row.waitFor({ state: 'detached' });
  let server = (await api('GET', `/v1/experts/${platform.id}`)).body;
  assertEqual([server.hidden, server.preferred], [true, false], 'hidden and no longer preferred on the server');
  assert(!(await api('GET', '/v1/experts?limit=200')).body.items.some((e) => e.id === platform.id), 'the server leaves it out of the list');
  await page.check('#experts-all');
  await page.waitForURL(/#\/experts\?domain=privacy&include_hidden=true$/);
  await row.locator('.expert-flag[data-flag="hidden"]').waitFor();
  assertEqual(await row.getAttribute('data-hidden'), 'true', 'flagged hidden');
  assert(await row.getByRole('button', { name: `Prefer ${platform.name}` }).isDisabled(), 'a hidden expert is not preferred');
  // The address keeps the filters across a reload.
  await page.reload();
  await row.locator('.expert-flag[data-flag="hidden"]').waitFor();
  assert(await page.isChecked('#experts-all'), 'the toggle is kept');
  assertEqual(await page.inputValue('#experts-domain'), 'privacy', 'the domain is kept');
  await row.getByRole('button', { name: `Show again ${platform.name}` }).click();
  await page.locator('#experts-msg', { hasText: `${platform.name} is shown again` }).waitFor();
  assertEqual(await row.locator('.expert-flag').count(), 0, 'no flags left');
  assertEqual((await api('GET', `/v1/experts/${platform.id}`)).body.hidden, false, 'shown again on the server');
  assertEqual(await accessibilityProblems(page), [], 'Experts screen audit');
  await shot(page, 'experts');
  // Searching by words ranks them: the new expert first for its own field.
  await page.uncheck('#experts-all');
  await page.selectOption('#experts-domain', '');
  await page.fill('#experts-q', 'zoonosis livestock');
  await page.press('#experts-q', 'Enter');
  await page.waitForURL(/#\/experts\?q=zoonosis\+livestock$/);
  await eventually(async () => (await page.locator('#experts li.expert-row .expert-link').first().textContent()) === name, 'the new expert first');
  // A platform expert's page: settings, nothing to change or delete.
  await page.goto(`${env.base}/#/experts/${platform.id}`);
  await page.locator('#expert-platform-note').waitFor();
  assertEqual(await page.locator('#expert-edit, #expert-delete').count(), 0, 'a platform expert is not changed or deleted');

  // An expert no panel seated is deleted: gone.
  const unused = (await api('POST', '/v1/experts', { name: `Unused Expert ${stamp}`, domain: 'veterinary_medicine', persona: 'Seated by no panel: deleted outright.' })).body;
  await page.goto(`${env.base}/#/experts/${unused.id}`);
  await page.locator('#expert-h', { hasText: unused.name }).waitFor();
  await page.click('#expert-delete');
  await page.locator('#expert-delete-no').waitFor();
  await page.click('#expert-delete-no');
  assert(await page.evaluate(() => document.activeElement && document.activeElement.id === 'expert-delete'), 'Keep gives the button the keyboard back');
  await page.click('#expert-delete');
  await page.click('#expert-delete-yes');
  await page.waitForURL(/#\/experts$/);
  await page.locator('#experts-notice', { hasText: `${unused.name} was deleted.` }).waitFor();
  assertEqual((await api('GET', `/v1/experts/${unused.id}`)).status, 404, 'gone from the server');
  // One a panel seated is archived instead, and the page says so.
  await page.goto(`${env.base}/#/experts/${mine.id}`);
  await page.locator('#expert-h', { hasText: name }).waitFor();
  await page.click('#expert-delete');
  await page.click('#expert-delete-yes');
  await page.locator('#expert-archived:not([hidden])', { hasText: 'archived, not deleted' }).waitFor();
  await page.locator('#expert-sub .expert-flag[data-flag="archived"]').waitFor();
  assertEqual(await page.locator('#expert-edit, #expert-delete').count(), 0, 'an archived expert is not changed or deleted again');
  server = (await api('GET', `/v1/experts/${mine.id}`)).body;
  assertEqual(server.archived, true, 'archived on the server');
  await page.goto(`${env.base}/#/experts?include_hidden=true`);
  await expertRow(page, name).locator('.expert-flag[data-flag="archived"]').waitFor();
  await page.uncheck('#experts-all');
  await expertRow(page, name).waitFor({ state: 'detached' });
  // On a phone, nothing scrolls sideways.
  await page.setViewportSize({ width: 390, height: 844 });
  await sleep(200);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(overflow <= 390, `the Experts screen scrolls sideways at 390 px (scrollWidth ${overflow})`);
  await shot(page, 'experts-mobile-390', { fullPage: false });

  // A member browses the catalog, with no admin controls.
  const reader = await createPerson({ role: 'member' });
  const other = await newPage(t);
  await passwordSignIn(other, reader);
  assert(await other.locator('#nav-experts').isVisible(), 'a member sees Experts');
  await other.click('#nav-experts');
  await other.locator('#experts li.expert-row').first().waitFor();
  assertEqual(await other.locator('#new-expert').count(), 0, 'no form to add one');
  assertEqual(await other.locator('#experts .row-actions, #experts button').count(), 0, 'no buttons on the rows');
  await other.goto(`${env.base}/#/experts/${platform.id}`);
  await other.locator('#expert-h', { hasText: platform.name }).waitFor();
  await other.locator('[data-part="persona"]').waitFor();
  assertEqual(await other.locator('#expert-prefer, #expert-hide, #expert-edit, #expert-delete, #expert-platform-note').count(), 0, 'no settings, no changes');
  const memberKey = (await api('POST', '/v1/keys', { role: 'member', name: `e2e experts member ${stamp}` })).body;
  assertEqual((await api('PATCH', `/v1/experts/${platform.id}`, { hidden: true }, memberKey.key)).status, 403, 'the server refuses a member');
});

/* ---------------- administration (docs/administration.md) ---------------- */

/** A small PNG made here: `width` x `height` pixels of one colour (RGB, no filter, deflated). */
function pngBytes(width = 16, height = 16, rgb = [11, 110, 79]) {
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // truecolour
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: width }, () => rgb).flat())]);
  const pixels = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', header), chunk('IDAT', zlib.deflateSync(pixels)), chunk('IEND', Buffer.alloc(0))]);
}

/** A custom property of the page's root, as the page set it ('' when unset). */
function rootProperty(page, name) {
  return page.evaluate((n) => document.documentElement.style.getPropertyValue(n).trim(), name);
}

/** The page scrolls sideways at its current width: the scroll width when it does, else 0. */
async function sidewaysAt(page, width) {
  const w = await page.evaluate(() => document.documentElement.scrollWidth);
  return w > width ? w : 0;
}

/** Puts the demo tenant's branding back as it was (`before`), logo included. */
async function restoreBranding(before) {
  // Name and primary first: they are accepted by every server; the rest after.
  await api('PATCH', '/v1/tenant', { branding: { display_name: before.display_name, primary_color: before.primary_color } });
  await api('PATCH', '/v1/tenant', { branding: { secondary_color: before.secondary_color || null } });
  if (!before.logo_url) await api('DELETE', '/v1/tenant/logo');
}

scenario('administration: an admin creates an API key, sees it once and copies it, and revokes it', async (t) => {
  const stamp = Date.now().toString(36);
  const name = `E2E reporting job ${stamp}`;
  const page = await newPage(t);
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: env.base });
  await signIn(page);
  assert(await page.locator('#nav-admin').isVisible(), 'an admin sees Administration');
  await page.click('#nav-admin');
  await page.waitForURL(/#\/admin$/);
  await page.locator('#admin-h').waitFor();
  assertEqual(await page.getAttribute('#nav-admin', 'aria-current'), 'page', 'the navigation marks Administration');
  assertEqual(await page.getAttribute('#admin-tab-keys', 'aria-current'), 'page', 'the keys tab comes first');
  assertEqual(await page.$$eval('#admin-tabs a', (a) => a.map((x) => x.getAttribute('href'))), ['#/admin/keys', '#/admin/branding', '#/admin/usage', '#/admin/defaults', '#/admin/experts'], 'a tab for each part');
  await page.locator('#keys-msg', { hasText: /active keys?/ }).waitFor();
  const before = (await api('GET', '/v1/keys')).body.items;
  assertEqual(await page.locator('#keys-body tr.key-row').count(), before.length, 'every key the server lists is shown');
  const mine = (await api('GET', '/v1/tenant')).body.caller.key_id;
  assert((await page.locator(`#keys-body tr.key-row[data-id="${mine}"]`).textContent()).includes('this page'), 'the page’s own key says so');

  // A name is needed, said before anything is sent.
  await page.click('#key-create');
  await page.locator('#key-name-err:not([hidden])').waitFor();
  assertEqual(await page.getAttribute('#key-name', 'aria-invalid'), 'true', 'the name is marked');
  await page.fill('#key-name', name);
  await page.selectOption('#key-role', 'viewer');
  await page.click('#key-create');
  // The key, once: read-only, a copy button, the warning, the keyboard on it.
  await page.locator('#key-secret-box').waitFor();
  const key = await page.inputValue('#key-secret');
  assert(/^ap_\S{20,}$/.test(key), `a key (${key})`);
  assert((await page.textContent('#key-secret-box')).includes('you will not see it again'), 'the page says it is shown once');
  assert(await page.evaluate(() => document.activeElement && document.activeElement.id === 'key-secret'), 'the keyboard is on the key');
  await page.click('#key-secret-copy');
  await page.locator('#key-secret-copy-msg', { hasText: 'Copied.' }).waitFor();
  assertEqual(await page.evaluate(() => navigator.clipboard.readText()), key, 'the clipboard holds the key');
  const row = page.locator('#keys-body tr.key-row', { has: page.locator('.key-name', { hasText: name }) });
  await row.waitFor();
  let made = (await api('GET', '/v1/keys')).body.items.find((k) => k.name === name);
  assert(made, 'the server has the new key');
  assertEqual([await row.getAttribute('data-id'), await row.getAttribute('data-state'), made.role, 'key' in made], [made.id, 'active', 'viewer', false], 'listed as an active viewer key, and the server lists no key');
  assert(typeof made.prefix === 'string' && made.prefix.length >= 4 && key.startsWith(made.prefix), `the server lists the key’s first characters (${made.prefix})`);
  assertEqual((await row.locator('.key-prefix').textContent()).trim(), `${made.prefix}…`, 'the page shows them');
  assertEqual(made.last_used_at, null, 'never used yet');
  assertEqual((await row.locator('.last-used').textContent()).trim(), 'Never', 'the page says never');

  // It works, as a viewer; its use is recorded.
  assertEqual((await api('GET', '/v1/tenant', undefined, key)).status, 200, 'the new key works');
  assertEqual((await api('PUT', '/v1/tenant/defaults', {}, key)).status, 403, 'as a viewer');
  made = await eventually(async () => (await api('GET', '/v1/keys')).body.items.find((k) => k.id === made.id && k.last_used_at), 'the key’s last use to be recorded');
  // Hidden once copied, and never shown again.
  await page.click('#key-secret-done');
  await page.locator('#key-secret-box').waitFor({ state: 'detached' });
  await page.reload();
  await row.waitFor();
  assert(!(await page.content()).includes(key), 'the key is nowhere on the page after a reload');
  assert(!/Never/.test(await row.locator('.last-used').textContent()), 'its last use is shown');
  assertEqual(await row.locator('.last-used time').getAttribute('datetime'), made.last_used_at, 'the time the server gives');
  assertEqual(await accessibilityProblems(page), [], 'API keys tab audit');
  await shot(page, 'admin-keys');

  // Revoke: asked first; Keep gives the keyboard back.
  const revoke = row.getByRole('button', { name: `Revoke the key ${name}` });
  await revoke.click();
  await page.click('#key-revoke-no');
  assert(await revoke.evaluate((b) => b === document.activeElement), 'Keep gives the button the keyboard back');
  assertEqual((await api('GET', '/v1/tenant', undefined, key)).status, 200, 'not revoked yet');
  await revoke.click();
  await page.click('#key-revoke-yes');
  await page.locator('#keys-msg', { hasText: `The key ${name} is revoked.` }).waitFor();
  await row.locator('.key-state[data-state="revoked"]').waitFor();
  assertEqual(await row.getByRole('button', { name: /Revoke/ }).count(), 0, 'a revoked key has no Revoke button');
  assertEqual((await api('GET', '/v1/tenant', undefined, key)).status, 401, 'the server refuses the revoked key');
  assert((await api('GET', '/v1/keys')).body.items.find((k) => k.id === made.id).revoked_at, 'revoked on the server');
  // On a phone the table's rows become cards; nothing scrolls sideways.
  await page.setViewportSize({ width: 390, height: 844 });
  await sleep(200);
  assertEqual(await sidewaysAt(page, 390), 0, 'the keys tab does not scroll sideways at 390 px');
  await shot(page, 'admin-keys-mobile-390', { fullPage: false });
});

scenario('administration: branding previewed live, cancelled, saved and kept after a reload; a logo checked, refused, uploaded and removed', async (t) => {
  const original = (await api('GET', '/v1/tenant')).body.branding;
  t.cleanup.push(() => restoreBranding(original));
  const page = await newPage(t);
  const sent = [];
  page.on('request', (r) => {
    if (['PATCH', 'PUT', 'DELETE'].includes(r.method())) sent.push(`${r.method()} ${new URL(r.url()).pathname}`);
  });
  await signIn(page);
  await page.goto(`${env.base}/#/admin/branding`);
  await page.locator('#branding-form').waitFor();
  assertEqual([await page.inputValue('#brand-display-name'), await page.inputValue('#brand-primary-hex')], [original.display_name, original.primary_color.toLowerCase()], 'the form shows the saved branding');

  // The header follows the form as the admin types, before anything is saved.
  await page.fill('#brand-display-name', 'Preview Health');
  await page.locator('#brand-name', { hasText: 'Preview Health' }).waitFor();
  await page.fill('#brand-primary-hex', '#0b6e4f');
  assertEqual(await rootProperty(page, '--primary'), '#0b6e4f', 'the primary colour is previewed');
  await page.check('#brand-secondary-on');
  await page.fill('#brand-secondary-hex', '#7a1f5c');
  assertEqual(await rootProperty(page, '--secondary'), '#7a1f5c', 'the secondary colour is previewed');
  assert((await page.evaluate(() => getComputedStyle(document.getElementById('admin-tab-branding')).boxShadow)).includes('rgb(122, 31, 92)'), 'the current tab is marked in the secondary colour');
  await page.locator('#branding-status', { hasText: 'Previewing unsaved changes' }).waitFor();
  assertEqual(sent, [], 'nothing was sent while previewing');
  // Cancel: the saved branding is back, on the page and in the form.
  await page.click('#branding-cancel');
  await page.locator('#brand-name', { hasText: original.display_name }).waitFor();
  assertEqual([await rootProperty(page, '--primary'), await rootProperty(page, '--secondary')], [original.primary_color.toLowerCase(), ''], 'the saved colours are back');
  assertEqual(await page.inputValue('#brand-display-name'), original.display_name, 'the form too');
  // Leaving without saving restores it as well.
  await page.fill('#brand-display-name', 'Left Unsaved');
  await page.locator('#brand-name', { hasText: 'Left Unsaved' }).waitFor();
  await page.click('#admin-tab-keys');
  await page.locator('#keys-msg', { hasText: /active key/ }).waitFor();
  assertEqual((await page.textContent('#brand-name')).trim(), original.display_name, 'leaving the tab restores the saved name');
  assertEqual(sent, [], 'still nothing sent');

  // A colour that is not one is said at its field; then saved for real.
  await page.click('#admin-tab-branding');
  await page.locator('#branding-form').waitFor();
  await page.fill('#brand-primary-hex', 'green');
  await page.click('#branding-save');
  await page.locator('#brand-primary-err:not([hidden])', { hasText: '#rrggbb' }).waitFor();
  await page.fill('#brand-display-name', 'Acme Health Panels');
  await page.fill('#brand-primary-hex', '#0b6e4f');
  await page.check('#brand-secondary-on');
  await page.fill('#brand-secondary-hex', '#7a1f5c');
  await page.click('#branding-save');
  await page.locator('#branding-status', { hasText: /^Saved/ }).waitFor();
  let branding = (await api('GET', '/v1/tenant')).body.branding;
  assertEqual([branding.display_name, branding.primary_color.toLowerCase(), (branding.secondary_color || '').toLowerCase()], ['Acme Health Panels', '#0b6e4f', '#7a1f5c'], 'the server has the new branding');
  await page.reload();
  await page.locator('#brand-name', { hasText: 'Acme Health Panels' }).waitFor();
  assertEqual([await rootProperty(page, '--primary'), await rootProperty(page, '--secondary')], ['#0b6e4f', '#7a1f5c'], 'kept after a reload');
  assert((await page.title()).endsWith('· Acme Health Panels'), `the window title names it (${await page.title()})`);

  // A logo: checked here first (type, size), so nothing is sent for those.
  sent.length = 0;
  await page.setInputFiles('#brand-logo-file', { name: 'logo.svg', mimeType: 'image/svg+xml', buffer: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>') });
  await page.locator('#brand-logo-err:not([hidden])', { hasText: 'SVG is not accepted' }).waitFor();
  const big = Buffer.concat([pngBytes(), Buffer.alloc(300 * 1024)]);
  await page.setInputFiles('#brand-logo-file', { name: 'huge.png', mimeType: 'image/png', buffer: big });
  await page.locator('#brand-logo-err:not([hidden])', { hasText: 'at most 256 KB' }).waitFor();
  assertEqual(sent, [], 'nothing sent for a logo refused in the page');
  // Bytes that are not a PNG: the server refuses, and its words are shown.
  const fake = Buffer.from('this is not a picture at all');
  const refusal = await fetch(`${env.api}/v1/tenant/logo`, { method: 'PUT', headers: { Authorization: `Bearer ${env.key}`, 'Content-Type': 'image/png' }, body: fake });
  const refusalBody = await refusal.json().catch(() => null);
  assertEqual(refusal.status, 422, `the server refuses bytes that are not a PNG (${JSON.stringify(refusalBody)})`);
  await page.setInputFiles('#brand-logo-file', { name: 'fake.png', mimeType: 'image/png', buffer: fake });
  await page.locator('#brand-logo-note', { hasText: 'fake.png' }).waitFor();
  await page.click('#branding-save');
  await page.locator('#brand-logo-err:not([hidden])', { hasText: refusalBody.error.message }).waitFor();
  assertEqual(sent, ['PUT /v1/tenant/logo'], 'the page sent it once');
  assert(await page.locator('#brand-logo').isHidden(), 'no logo in the header');

  // A real one: previewed in the header, saved under its hash, kept after a reload.
  const png = pngBytes(24, 16);
  const sha = crypto.createHash('sha256').update(png).digest('hex');
  await page.setInputFiles('#brand-logo-file', { name: 'acme.png', mimeType: 'image/png', buffer: png });
  await page.locator('#brand-logo:not([hidden])').waitFor();
  assert((await page.getAttribute('#brand-logo', 'src')).startsWith('data:image/png'), 'previewed from the chosen file');
  await page.click('#branding-save');
  await page.locator('#branding-status', { hasText: /^Saved/ }).waitFor();
  branding = (await api('GET', '/v1/tenant')).body.branding;
  assertEqual(branding.logo_url, `/v1/logos/${sha}`, 'the server names the logo by its hash');
  await page.reload();
  await page.locator('#brand-logo:not([hidden])').waitFor();
  assertEqual(await page.getAttribute('#brand-logo', 'src'), `/v1/logos/${sha}`, 'the header shows the saved logo');
  await eventually(() => page.evaluate(() => document.getElementById('brand-logo').complete && document.getElementById('brand-logo').naturalWidth === 24), 'the logo to load');
  const logo = await fetch(`${env.api}/v1/logos/${sha}`);
  assertEqual([logo.status, logo.headers.get('content-type'), logo.headers.get('x-content-type-options')], [200, 'image/png', 'nosniff'], 'served without a key, with its type');
  assertEqual(logo.headers.get('cache-control'), 'public, max-age=86400', 'cached a day (a removed logo does not stay long)');
  assertEqual(Buffer.from(await logo.arrayBuffer()).equals(png), true, 'the same bytes');
  assertEqual(await accessibilityProblems(page), [], 'branding tab audit');
  await shot(page, 'admin-branding');

  // Removed: previewed, then gone once saved.
  await page.click('#brand-logo-remove');
  assert(await page.locator('#brand-logo').isHidden(), 'the removal is previewed');
  await page.click('#branding-save');
  await page.locator('#branding-status', { hasText: /^Saved/ }).waitFor();
  assertEqual((await api('GET', '/v1/tenant')).body.branding.logo_url, null, 'no logo on the server');
  // No secondary colour: the accents fall back to the primary.
  await page.uncheck('#brand-secondary-on');
  assertEqual(await rootProperty(page, '--secondary'), '', 'previewed without a secondary colour');
  assert((await page.evaluate(() => getComputedStyle(document.getElementById('admin-tab-branding')).boxShadow)).includes('rgb(11, 110, 79)'), 'the current tab falls back to the primary colour');
  await page.click('#branding-save');
  await page.locator('#branding-status', { hasText: /^Saved/ }).waitFor();
  assertEqual((await api('GET', '/v1/tenant')).body.branding.secondary_color, null, 'cleared on the server');
});

scenario('administration: usage by day and the month against the limits after a panel ran; the panel’s own usage; a shared link wears the branding', async (t) => {
  const original = (await api('GET', '/v1/tenant')).body.branding;
  t.cleanup.push(() => restoreBranding(original));
  const created = await createPanel({ query: 'Should our clinic count the tokens its panels spend?', panel_type: 'structured', expert_count: 3, max_rounds: 1, simulation: { seed: 11, pace_tokens_per_s: 0, turn_tokens: 30 } });
  await waitForEnd(created.id);
  const page = await newPage(t);
  const usageCalls = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === `/v1/panels/${created.id}/usage`) usageCalls.push(r.url());
  });
  await signIn(page);

  // The finished panel says what it cost: the API's figures, asked once.
  const pu = await api('GET', `/v1/panels/${created.id}/usage`);
  assertEqual(pu.status, 200, `GET /v1/panels/{id}/usage answered ${pu.status}`);
  assert(pu.body.tokens_in > 0 && pu.body.tokens_out > 0 && pu.body.turns > 0, `a panel that ran spent tokens (${JSON.stringify(pu.body)})`);
  await page.goto(`${env.base}/#/panels/${created.id}`);
  await waitForFinal(page);
  await page.locator('#panel-usage:not([hidden])').waitFor();
  assertEqual(await page.$eval('#panel-usage', (el) => [el.dataset.tokensIn, el.dataset.tokensOut, el.dataset.turns]), [pu.body.tokens_in, pu.body.tokens_out, pu.body.turns].map(String), 'the panel’s usage as the API gives it');
  const figure = (key) => page.$eval(`#panel-usage-line [data-figure="${key}"]`, (li) => li.textContent);
  assertEqual((await figure('tokens_in')).replace(/\D/g, ''), String(pu.body.tokens_in), 'tokens in, in words');
  assertEqual(await figure('turns'), `${pu.body.turns} turns`, 'turns, in words');
  await sleep(500);
  assertEqual(usageCalls.length, 1, 'asked once');
  await page.click('#panel-usage-members > summary');
  assertEqual(await page.locator('#panel-usage-members tbody tr').count(), pu.body.by_member.filter((m) => m.turns || m.tokens_in || m.tokens_out).length, 'a row per member who spoke');
  await page.locator('#panel-usage').scrollIntoViewIfNeeded();
  await shot(page, 'panel-usage', { fullPage: false });

  // The usage tab: the month against the limits, tokens by day, by format.
  await page.goto(`${env.base}/#/admin/usage`);
  await page.locator('#usage-svg').waitFor();
  const to = new Date().toISOString().slice(0, 10);
  const from = new Date(Date.now() - 29 * 86_400_000).toISOString().slice(0, 10);
  const usage = await eventually(async () => {
    const r = await api('GET', `/v1/usage?from=${from}&to=${to}`);
    return r.status === 200 && r.body.days && r.body.days[r.body.days.length - 1].tokens_in >= pu.body.tokens_in ? r.body : null;
  }, 'today’s figures to count the panel');
  assertEqual([usage.from, usage.to, usage.days.length], [from, to, 30], 'thirty days, today last');
  await eventually(async () => {
    await page.click('#usage-refresh');
    await page.locator('#usage-svg').waitFor();
    return Number(await page.locator(`#usage-svg g.day[data-date="${to}"]`).getAttribute('data-tokens')) >= pu.body.tokens_in + pu.body.tokens_out;
  }, 'today’s bar to show the panel', WAIT_MS, 1000);
  assertEqual(await page.locator('#usage-svg g.day').count(), 30, 'a bar slot for each day');
  assert((await page.textContent('#usage-svg > title')).startsWith('Tokens per day'), 'the chart has a title');
  assert((await page.textContent('#usage-svg > desc')).includes('tokens from'), 'and a description');
  assertEqual(await page.locator('#usage-days tbody tr').count(), 30, 'the table gives every day');
  // The month against the limits: the API's figures and percentages.
  const month = usage.this_month;
  const limits = usage.limits;
  const tokens = month.tokens_in + month.tokens_out;
  assertEqual(await page.$eval('#limit-tokens', (el) => [el.dataset.used, el.dataset.limit]), [String(tokens), String(limits.tokens_per_month)], 'tokens this month against the limit');
  assertEqual(await page.$eval('#limit-panels', (el) => [el.dataset.used, el.dataset.limit]), [String(month.panels_created), String(limits.max_panels_per_month)], 'panels this month against the limit');
  // The percentage as the page words it: whole from 10 %, one decimal below, "under 0.1 %" for a trace.
  const percent = (used, limit) => {
    const p = (used / limit) * 100;
    return p > 0 && p < 0.1 ? 'under 0.1 %' : `${p >= 10 || p === 0 ? Math.round(p) : p.toFixed(1)} %`;
  };
  assertEqual([(await page.textContent('#limit-tokens .limit-pct')).trim(), (await page.textContent('#limit-panels .limit-pct')).trim()], [percent(tokens, limits.tokens_per_month), percent(month.panels_created, limits.max_panels_per_month)], 'the percentages');
  assertEqual(await page.getAttribute('#limit-tokens-meter', 'max'), String(limits.tokens_per_month), 'a meter up to the limit');
  const tenantLimits = (await api('GET', '/v1/tenant')).body.limits;
  assertEqual([limits.tokens_per_month, limits.max_panels_per_month], [tenantLimits.tokens_per_month, tenantLimits.max_panels_per_month], 'the limits are the tenant’s');
  await page.locator('#usage-by-type tr[data-type="structured"]').waitFor();
  // Seven days, then one format: kept in the address, figures as the API gives them.
  await page.selectOption('#usage-range', '7');
  await page.waitForURL(/#\/admin\/usage\?days=7$/);
  await eventually(async () => (await page.locator('#usage-svg g.day').count()) === 7, 'seven days');
  await page.selectOption('#usage-type', 'structured');
  await page.waitForURL(/#\/admin\/usage\?days=7&panel_type=structured$/);
  await page.locator('#usage-chart-h', { hasText: 'structured panels, last 7 days' }).waitFor();
  const week = (await api('GET', `/v1/usage?from=${new Date(Date.now() - 6 * 86_400_000).toISOString().slice(0, 10)}&to=${to}&panel_type=structured`)).body;
  assertEqual(week.panel_type, 'structured', 'the server filtered by format');
  await eventually(async () => (await page.textContent('#usage-totals dd[data-figure="turns"]')).replace(/\D/g, '') === String(week.totals.turns), 'the week’s structured turns');
  await page.reload();
  await page.locator('#usage-svg').waitFor();
  assertEqual([await page.inputValue('#usage-range'), await page.inputValue('#usage-type')], ['7', 'structured'], 'the address keeps them');
  await page.selectOption('#usage-type', '');
  await page.selectOption('#usage-range', '30');
  await page.waitForURL(/#\/admin\/usage$/);
  await eventually(async () => (await page.locator('#usage-svg g.day').count()) === 30, 'thirty days again');
  assertEqual(await accessibilityProblems(page), [], 'usage tab audit');
  await shot(page, 'admin-usage');
  // On a phone (opened there: the chart is drawn for the width it has).
  await page.setViewportSize({ width: 390, height: 844 });
  await page.reload();
  await page.locator('#usage-svg').waitFor();
  assertEqual(await sidewaysAt(page, 390), 0, 'the usage tab does not scroll sideways at 390 px');
  await page.evaluate(() => document.getElementById('usage-chart-h').scrollIntoView());
  await shot(page, 'admin-usage-mobile-390', { fullPage: false });

  // A shared link shows the sharing organisation's name, colours and logo; no usage.
  const png = pngBytes(20, 20, [122, 31, 92]);
  assertEqual((await api('PATCH', '/v1/tenant', { branding: { display_name: 'Shared Clinic', primary_color: '#0b6e4f', secondary_color: '#7a1f5c' } })).status, 200, 'branding set');
  const up = await fetch(`${env.api}/v1/tenant/logo`, { method: 'PUT', headers: { Authorization: `Bearer ${env.key}`, 'Content-Type': 'image/png' }, body: png });
  assertEqual(up.status, 200, 'logo set');
  const share = await api('POST', `/v1/panels/${created.id}/shares`, { expires_in_s: 86400 });
  assertEqual(share.status, 201, `a share link (${JSON.stringify(share.body)})`);
  const token = new URL(share.body.url, env.base).hash.replace('#/shared/', '');
  const shared = { body: await (await fetch(`${env.api}/v1/shared/${token}`)).json() };
  assertEqual(shared.body.branding && [shared.body.branding.display_name, shared.body.branding.primary_color.toLowerCase(), (shared.body.branding.secondary_color || '').toLowerCase()], ['Shared Clinic', '#0b6e4f', '#7a1f5c'], 'the link’s answer carries the branding');
  const guest = await newPage(t);
  await guest.goto(new URL(share.body.url, env.base).href);
  await guest.locator('#summary #summary-h').waitFor();
  await guest.locator('#brand-name', { hasText: 'Shared Clinic' }).waitFor();
  assertEqual([await rootProperty(guest, '--primary'), await rootProperty(guest, '--secondary')], ['#0b6e4f', '#7a1f5c'], 'in the organisation’s colours');
  assertEqual(await guest.getAttribute('#brand-logo', 'src'), shared.body.branding.logo_url, 'with its logo');
  await eventually(() => guest.evaluate(() => document.getElementById('brand-logo').naturalWidth === 20), 'the logo to load without a key');
  assertEqual(await guest.locator('#panel-usage').count(), 0, 'no usage on a share link');
  assertEqual(await guest.evaluate(() => [...document.querySelectorAll('#topbar a[href]')].filter((a) => a.checkVisibility()).map((a) => a.getAttribute('href'))), [], 'the top bar links nowhere');
  await shot(guest, 'shared-view-branded', { fullPage: false });
});

scenario('administration: the defaults of new panels are saved and kept; a bad one is said at its field', async (t) => {
  const original = (await api('GET', '/v1/tenant/defaults')).body;
  t.cleanup.push(() => api('PUT', '/v1/tenant/defaults', original));
  const page = await newPage(t);
  await signIn(page);
  await page.goto(`${env.base}/#/admin/defaults`);
  await page.locator('#defaults-save:not([disabled])').waitFor();
  assertEqual(await page.inputValue('#defaults-max_rounds'), original.max_rounds == null ? '' : String(original.max_rounds), 'the form shows the saved defaults');
  await page.selectOption('#defaults-panel_type', 'delphi');
  await page.fill('#defaults-max_rounds', '99');
  await page.selectOption('#defaults-consensus_method', 'majority');
  await page.fill('#defaults-human_turn_timeout_s', '600');
  await page.click('#defaults-save');
  // The server's word, beside its field; nothing saved.
  await page.locator('#defaults-max_rounds-err:not([hidden])', { hasText: 'must be 1 to 20' }).waitFor();
  assertEqual(await page.getAttribute('#defaults-max_rounds', 'aria-invalid'), 'true', 'the field is marked');
  assert(await page.evaluate(() => document.activeElement && document.activeElement.id === 'defaults-max_rounds'), 'the keyboard is on it');
  assertEqual((await api('GET', '/v1/tenant/defaults')).body, original, 'nothing saved');
  await page.fill('#defaults-max_rounds', '4');
  await page.click('#defaults-save');
  await page.locator('#defaults-msg', { hasText: 'Saved: 4 defaults set' }).waitFor();
  assert(await page.locator('#defaults-max_rounds-err').isHidden(), 'the error is gone');
  assertEqual((await api('GET', '/v1/tenant/defaults')).body, { panel_type: 'delphi', max_rounds: 4, consensus_method: 'majority', human_turn_timeout_s: 600 }, 'the server has them');
  await page.reload();
  await page.locator('#defaults-save:not([disabled])').waitFor();
  assertEqual(await page.$$eval('#defaults-form select, #defaults-form input', (els) => els.map((e) => e.value)), ['delphi', '4', 'majority', '600'], 'kept after a reload');
  assertEqual(await accessibilityProblems(page), [], 'defaults tab audit');
  await shot(page, 'admin-defaults');
  // The new-panel form starts from them.
  await page.goto(`${env.base}/#/new`);
  await page.waitForFunction(() => { const r = document.querySelector('#f-max_rounds'); return r && r.value === '4'; });
  assert(await page.isChecked('#type-delphi'), 'the default format is chosen in the form');
  assertEqual(await page.inputValue('#f-consensus_method'), 'majority', 'the default method in the form');
  await page.goto(`${env.base}/#/admin/defaults`);
  await page.locator('#defaults-save:not([disabled])').waitFor();
  // "Not set" clears one: null on the server.
  await page.selectOption('#defaults-panel_type', '');
  await page.fill('#defaults-max_rounds', '');
  await page.click('#defaults-save');
  await page.locator('#defaults-msg', { hasText: 'Saved: 2 defaults set' }).waitFor();
  assertEqual((await api('GET', '/v1/tenant/defaults')).body, { panel_type: null, max_rounds: null, consensus_method: 'majority', human_turn_timeout_s: 600 }, 'cleared on the server');
  // The Experts tab leads to the Experts screen.
  await page.click('#admin-tab-experts');
  await page.locator('#admin-experts-facts', { hasText: 'experts may be seated' }).waitFor();
  await page.click('#admin-experts-open');
  await page.waitForURL(/#\/experts$/);
  await page.locator('#experts-h').waitFor();
});

scenario('administration: a moderator sees no Administration, its addresses say admins only, and the server refuses them (403)', async (t) => {
  const before = (await api('GET', '/v1/tenant')).body.branding;
  const moderator = await createPerson({ role: 'moderator' });
  const page = await newPage(t);
  await passwordSignIn(page, moderator);
  assert(await page.locator('#nav-admin').isHidden(), 'a moderator sees no Administration');
  for (const tab of ['', '/keys', '/branding', '/usage', '/defaults', '/experts']) {
    await page.goto(`${env.base}/#/admin${tab}`);
    await page.locator('#admins-only', { hasText: 'Administration: admins only' }).waitFor();
    assertEqual(await page.locator('#admin-tabs, #key-form, #branding-form, #defaults-form, #usage-svg').count(), 0, `no console at #/admin${tab}`);
  }
  await shot(page, 'admin-admins-only', { fullPage: false });
  // Straight to the server, with the session's CSRF token: refused for the role.
  const answers = await page.evaluate(async () => {
    const { csrf_token: csrf } = await (await fetch('/v1/auth/session', { credentials: 'same-origin' })).json();
    const send = async (method, path, body, type = 'application/json') => {
      const r = await fetch(path, { method, credentials: 'same-origin', headers: { Accept: 'application/json', 'Content-Type': type, 'X-CSRF-Token': csrf }, body });
      const json = await r.json().catch(() => null);
      return [`${method} ${path}`, r.status, json && json.error && json.error.code];
    };
    return [
      await send('PATCH', '/v1/tenant', JSON.stringify({ branding: { display_name: 'Not an admin' } })),
      await send('PUT', '/v1/tenant/defaults', JSON.stringify({ max_rounds: 3 })),
      await send('PUT', '/v1/tenant/logo', new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]), 'image/png'),
      await send('DELETE', '/v1/tenant/logo'),
      await send('POST', '/v1/keys', JSON.stringify({ role: 'admin', name: 'a way in' })),
      await send('GET', '/v1/keys'),
    ];
  });
  assertEqual(answers.map(([what, status, code]) => [what, status, code]), answers.map(([what]) => [what, 403, 'forbidden']), 'every change is refused as forbidden');
  assertEqual((await api('GET', '/v1/tenant')).body.branding, before, 'the branding is untouched');
  // A viewer key's page too.
  const viewer = (await api('POST', '/v1/keys', { role: 'viewer', name: `e2e admin viewer ${Date.now().toString(36)}` })).body;
  const other = await newPage(t);
  await signIn(other, viewer.key);
  assert(await other.locator('#nav-admin').isHidden(), 'a viewer key sees no Administration');
  await other.goto(`${env.base}/#/admin/branding`);
  await other.locator('#admins-only', { hasText: 'Administration: admins only' }).waitFor();
  assertEqual(await other.evaluate(async (k) => (await fetch('/v1/tenant', { method: 'PATCH', headers: { Authorization: `Bearer ${k}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ branding: { primary_color: '#000000' } }) })).status, viewer.key), 403, 'the server refuses the viewer key');
});

/* ---------------- runner ---------------- */

async function main() {
  const only = process.env.E2E_ONLY;
  let server;
  if (process.env.ASKPANEL_URL) {
    server = { url: process.env.ASKPANEL_URL.replace(/\/$/, ''), key: process.env.ASKPANEL_KEY, adminKey: process.env.ASKPANEL_ADMIN_KEY || null };
    if (!server.key) throw new Error('ASKPANEL_URL needs ASKPANEL_KEY (a tenant admin key)');
    env.noIssuer = 'ASKPANEL_URL is set: the harness did not start the server, so it cannot give it an identity provider';
  } else {
    // Single sign-on needs the local provider; CI (which installs it) fails without it, a developer's run skips the scenario.
    if (providerInstalled() || process.env.CI) env.issuer = await startProvider();
    else env.noIssuer = 'tests/oidc is not installed (npm ci there)';
    // The page's port is chosen first: the server is told its public address.
    env.pagePort = await freePort();
    const publicUrl = `http://127.0.0.1:${env.pagePort}`;
    const bind = process.env.E2E_DIRECT === '1' ? `127.0.0.1:${env.pagePort}` : '127.0.0.1:0';
    server = await startServer(env.issuer, { bind, publicUrl });
  }
  env.api = server.url;
  env.key = server.key;
  env.adminKey = server.adminKey;
  const webDir = process.env.WEB_DIR ? path.resolve(process.env.WEB_DIR) : null;
  if (process.env.E2E_DIRECT === '1') {
    if (webDir) throw new Error('WEB_DIR needs the dev proxy: unset E2E_DIRECT');
    env.base = server.url;
    env.drop = (page) => page.evaluate(() => window.__askpanel.dropSocket());
  } else {
    env.proxy = await startDevServer({ upstream: server.url, webDir, port: env.pagePort || 0 });
    env.base = env.proxy.url;
    env.drop = async () => {
      const r = await fetch(`${env.base}/__drop`, { method: 'POST' });
      const { dropped } = await r.json();
      assert(dropped >= 1, 'the proxy had a WebSocket to drop');
    };
  }
  // E2E_DROP=page: close the socket from the page (window.__askpanel.dropSocket) even behind the proxy.
  if (process.env.E2E_DROP === 'page') env.drop = (page) => page.evaluate(() => window.__askpanel.dropSocket());
  const tenant = await api('GET', '/v1/tenant');
  assert(tenant.status === 200, `GET /v1/tenant answered ${tenant.status}`);
  env.tenant = tenant.body;
  console.log(`server ${env.api}; page from ${env.base} (${webDir ? `web files from ${webDir}` : 'the binary’s embedded web files'}${env.proxy ? ', through the dev proxy' : ''}); ${env.issuer ? `single sign-on through ${env.issuer}` : 'no single sign-on'}`);

  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: CHROMIUM_ARGS });
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const sc of scenarios) {
    if (only && !sc.name.includes(only)) continue;
    // `t.skip(why)`, then return: a scenario that cannot run here says so and neither passes nor fails.
    const t = { cleanup: [], pages: [], skipped: null, skip: (why) => (t.skipped = why) };
    const started = Date.now();
    try {
      await withTimeout(sc.fn(t), SCENARIO_TIMEOUT_MS, `scenario "${sc.name}"`);
      const problems = t.pages.flatMap((p) => p.problems);
      assertEqual(problems, [], 'no page errors, CSP violations or off-site requests');
      if (t.skipped) {
        skipped += 1;
        console.log(`skip ${sc.name}\n     ${t.skipped}`);
        continue;
      }
      passed += 1;
      console.log(`ok   ${sc.name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    } catch (e) {
      failed += 1;
      console.log(`FAIL ${sc.name} (${((Date.now() - started) / 1000).toFixed(1)} s)\n     ${String(e.stack || e).split('\n').slice(0, 6).join('\n     ')}`);
      for (const p of t.pages) if (p.problems.length) console.log(`     page problems: ${p.problems.join(' | ')}`);
      const safe = sc.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 40);
      for (const [i, p] of t.pages.entries()) {
        await withTimeout(p.screenshot({ path: path.join(SHOTS, `failure-${safe}-${i}.tmp.png`), fullPage: true }), 5000, 'failure screenshot').catch(() => {});
      }
    } finally {
      for (const c of t.cleanup) await withTimeout(Promise.resolve().then(c), 5000, 'cleanup').catch(() => {});
    }
  }
  await browser.close();
  if (env.proxy) await env.proxy.close();
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  return failed === 0 && passed > 0;
}

let ok = false;
try {
  fs.mkdirSync(SHOTS, { recursive: true });
  ok = await main();
} catch (e) {
  console.error(`e2e setup failed: ${e.stack || e}`);
} finally {
  if (browser) await browser.close().catch(() => {});
  stopServer();
}
process.exit(ok ? 0 : 1);
