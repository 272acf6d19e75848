// Shared helpers of the browser tests and the benchmark: Debian's Chromium through
// playwright-core, a loopback HTTP server whose health can be switched, a JSON API client.

import { chromium } from 'playwright-core';
import { createServer } from 'node:http';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const ARTIFACTS = join(WEB_DIR, 'test-artifacts');

export async function launch() {
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  return chromium.launch({
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
  });
}

export function shotPath(name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  return join(ARTIFACTS, `${name}.png`);
}

/** A loopback HTTP server answering 200 "ok" until `fail()`, then 503. */
export async function flakyServer() {
  let healthy = true;
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    if (healthy) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok: all good');
    } else {
      res.writeHead(503, { 'content-type': 'text/html' });
      res.end('<h1>Service Unavailable</h1><p>database connection pool exhausted</p>');
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/health`,
    port,
    fail: () => (healthy = false),
    recover: () => (healthy = true),
    hits: () => hits,
    close: () => new Promise((r) => server.close(r)),
  };
}

/** A tiny cookie-keeping JSON client of the REST API (for seeding and cross-checks). */
export class Api {
  constructor(base) {
    this.base = base.replace(/\/$/, '');
    this.cookie = '';
  }
  async req(method, path, body, headers = {}) {
    const h = { accept: 'application/json', ...headers };
    if (this.cookie) h.cookie = this.cookie;
    let payload;
    if (typeof body === 'string') payload = body;
    else if (body !== undefined) {
      payload = JSON.stringify(body);
      h['content-type'] = 'application/json';
    }
    const res = await fetch(this.base + path, { method, headers: h, body: payload });
    const set = res.headers.getSetCookie?.() ?? [];
    for (const c of set) {
      const kv = c.split(';')[0];
      if (kv.startsWith('pt_session=')) this.cookie = kv;
    }
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    return { status: res.status, body: json };
  }
  async ok(method, path, body, headers) {
    const r = await this.req(method, path, body, headers);
    if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }
}

export function uniqueEmail(tag) {
  return `${tag}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@e2e.test`;
}

export async function waitFor(what, fn, { timeoutMs = 30_000, intervalMs = 500 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

/**
 * The URL to open in the browser: the backend itself when it serves web/dist (with the SPA
 * fallback), else a local server that serves web/dist and passes /api, /status and /badge to
 * the backend unchanged — said loudly, so that a missing route is never hidden.
 */
export async function dashboardBase(apiBase) {
  const looksLikeApp = async (path) => {
    try {
      const r = await fetch(apiBase + path);
      return r.ok && (await r.text()).includes('<div id="app">');
    } catch {
      return false;
    }
  };
  if ((await looksLikeApp('/')) && (await looksLikeApp('/s/some-page'))) return { base: apiBase, close: async () => undefined, proxied: false };
  const { request } = await import('node:http');
  const { readFile } = await import('node:fs/promises');
  const { extname, normalize } = await import('node:path');
  const dist = join(WEB_DIR, 'dist');
  const types = { '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html', '.svg': 'image/svg+xml' };
  const target = new URL(apiBase);
  const server = createServer((req, res) => {
    if (/^\/(api|status|badge)(\/|$)/.test(req.url)) {
      const up = request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
        (r) => {
          res.writeHead(r.statusCode, r.headers);
          r.pipe(res);
        },
      );
      up.on('error', (e) => {
        res.writeHead(502);
        res.end(String(e));
      });
      req.pipe(up);
      return;
    }
    const path = new URL(req.url, 'http://x').pathname;
    let file = normalize(join(dist, decodeURIComponent(path)));
    if (!file.startsWith(dist) || !extname(file)) file = join(dist, 'index.html');
    readFile(file)
      .catch(() => readFile(join(dist, 'index.html')))
      .then((data) => {
        res.writeHead(200, { 'content-type': types[extname(file)] ?? 'text/html' });
        res.end(data);
      });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  console.log(`NOTE: ${apiBase}/ does not serve web/dist with the SPA fallback yet; the browser uses ${base} (web/dist + /api, /status, /badge passed through to ${apiBase})`);
  return { base, close: () => new Promise((r) => server.close(r)), proxied: true };
}
