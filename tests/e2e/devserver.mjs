// Development server for the web client: serves web/ from disk (the real
// server compiles its copy into the binary, so edits need no rebuild here)
// and proxies everything else, WebSocket upgrades included, to an askpanel
// server. `POST /__drop` cuts every proxied WebSocket at the TCP level, the
// way a network failure does, so tests can check that the page resumes.
//
//   node devserver.mjs --upstream http://127.0.0.1:8080 [--web ../../web] [--port 8090]
//
// Node's built-in modules only.

import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_WEB_DIR = path.resolve(HERE, '../../web');

// The same headers the server sends with its embedded files (src/routes/web.rs),
// so a page that breaks the CSP breaks here too.
const ASSET_HEADERS = {
  'Cache-Control': 'no-cache',
  'X-Content-Type-Options': 'nosniff',
  'Content-Security-Policy': "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' https: data:; style-src 'self'; script-src 'self'",
};

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/**
 * Starts the dev server. `webDir` null: the upstream's embedded files are
 * proxied too (a transparent proxy that can still drop sockets).
 */
export async function startDevServer({ upstream, webDir = DEFAULT_WEB_DIR, port = 0, host = '127.0.0.1', log = () => {} }) {
  const up = new URL(upstream);
  const upPort = Number(up.port || 80);
  const tunnels = new Set();

  async function serveStatic(req, res, name) {
    // Flat names only, like the server's fixed table: no path traversal.
    if (!/^[A-Za-z0-9._-]+$/.test(name) || name.startsWith('.')) return notFound(res);
    let body;
    try {
      body = await fs.readFile(path.join(webDir, name));
    } catch {
      return notFound(res);
    }
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(name)] || 'application/octet-stream', ...ASSET_HEADERS });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  function notFound(res) {
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'not_found', message: 'not found' } }));
  }

  function proxy(req, res) {
    // The page's origin is this proxy's; upstream, it stands for the server's own.
    // X-Forwarded-Host names the address the browser used, as a reverse proxy
    // does, so the addresses the server builds from a request (single sign-on's
    // callback, the links shown to an admin) bring the browser back here.
    const headers = {
      ...req.headers,
      host: up.host,
      ...(req.headers.host ? { 'x-forwarded-host': req.headers.host, 'x-forwarded-proto': 'http' } : {}),
      ...(req.headers.origin ? { origin: `http://${up.host}` } : {}),
    };
    // A fresh upstream connection per request: Node's default agent keeps
    // idle connections alive and reuses one the server is closing at that
    // moment (its keep-alive timeout), which a browser would retry and Node
    // reports as a 502.
    const preq = http.request({ host: up.hostname, port: upPort, method: req.method, path: req.url, headers, agent: false }, (pres) => {
      res.writeHead(pres.statusCode, pres.statusMessage, pres.headers);
      pres.pipe(res);
    });
    preq.on('error', (e) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'unavailable', message: `dev proxy: ${e.message}` } }));
      } else res.destroy();
    });
    req.pipe(preq);
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/__drop') {
      const n = drop();
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ dropped: n }));
      return;
    }
    if (webDir && (req.method === 'GET' || req.method === 'HEAD')) {
      if (url.pathname === '/') return serveStatic(req, res, 'index.html');
      if (url.pathname.startsWith('/assets/')) return serveStatic(req, res, decodeURIComponent(url.pathname.slice('/assets/'.length)));
    }
    return proxy(req, res);
  });

  // WebSocket upgrades: replay the request line and headers upstream, then splice the two TCP streams.
  server.on('upgrade', (req, client, head) => {
    const target = net.connect(upPort, up.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const [k, v] = [req.rawHeaders[i], req.rawHeaders[i + 1]];
        const name = k.toLowerCase();
        lines.push(`${k}: ${name === 'host' ? up.host : name === 'origin' ? `http://${up.host}` : v}`);
      }
      target.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head && head.length) target.write(head);
      target.pipe(client);
      client.pipe(target);
    });
    const pair = { client, target };
    tunnels.add(pair);
    const end = () => {
      tunnels.delete(pair);
      client.destroy();
      target.destroy();
    };
    client.on('error', end);
    target.on('error', end);
    client.on('close', end);
    target.on('close', end);
    log(`ws tunnel opened (${tunnels.size} open)`);
  });

  function drop() {
    const n = tunnels.size;
    for (const { client, target } of [...tunnels]) {
      client.destroy();
      target.destroy();
    }
    tunnels.clear();
    log(`dropped ${n} ws tunnel(s)`);
    return n;
  }

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const addr = server.address();
  return {
    url: `http://${addr.address}:${addr.port}`,
    drop,
    openSockets: () => tunnels.size,
    close: () =>
      new Promise((resolve) => {
        drop();
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}

// Standalone use.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : dflt;
  };
  const upstream = opt('upstream', process.env.ASKPANEL_URL);
  if (!upstream) {
    console.error('usage: node devserver.mjs --upstream http://127.0.0.1:8080 [--web DIR | --no-web] [--port N]');
    process.exit(2);
  }
  const webDir = args.includes('--no-web') ? null : path.resolve(opt('web', DEFAULT_WEB_DIR));
  const dev = await startDevServer({ upstream, webDir, port: Number(opt('port', 8090)), log: (m) => console.log(m) });
  console.log(`dev server on ${dev.url} (web: ${webDir || 'from upstream'}; upstream ${upstream}); POST ${dev.url}/__drop drops WebSockets`);
}
