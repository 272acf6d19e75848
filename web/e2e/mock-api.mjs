// An in-memory stand-in for the REST API (docs/API.md) serving web/dist with the SPA fallback.
// For front-end development and for `npm run bench -- --mock` while the backend is incomplete;
// the browser tests (`npm run test:e2e`) always run against the real suite.
//
//   node e2e/mock-api.mjs [port]

import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { WEB_DIR } from './lib.mjs';

const DIST = join(WEB_DIR, 'dist');
// The policy the backend sends with the dashboard: the mock sends it too, so that front-end work
// sees a violation at once.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
const QUOTA_DEFAULTS = {
  max_targets: 1000,
  min_interval_seconds: 30,
  max_timeout_seconds: 60,
  max_headers: 50,
  max_header_bytes: 16384,
  max_body_bytes: 65536,
  max_assertions: 20,
  max_spec_bytes: 65536,
  max_maintenance_windows: 100,
  max_status_pages: 20,
  max_targets_per_page: 100,
  max_channels: 20,
  test_now_per_minute: 10,
};
const TYPES = { '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html', '.svg': 'image/svg+xml', '.png': 'image/png' };

export function createMockApi() {
  const users = new Map(); // email -> user
  const sessions = new Map(); // sid -> user id
  const targets = new Map(); // id -> target
  const incidents = new Map();
  const channels = new Map();
  const tokens = new Map();
  const pages = new Map();
  const policies = new Map();
  const groups = new Map(); // id -> group incident {id, owner, cause, summary, opened_at, resolved_at}
  const tagDeps = new Map(); // `${owner} ${tag}` -> target ids
  const now = () => new Date().toISOString();
  const STATUS_ORDER = { down: 0, degraded: 1, flapping: 2, pending: 3, unknown: 4, up: 5, paused: 6 };

  function json(res, status, body, headers = {}) {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(body === undefined ? '' : JSON.stringify(body));
  }
  const err = (res, status, code, message, field) => json(res, status, { error: { code, message, ...(field ? { field } : {}) } });

  function userOf(req) {
    const m = /pt_session=([^;]+)/.exec(req.headers.cookie ?? '');
    return m ? sessions.get(m[1]) : undefined;
  }
  function login(res, u, status) {
    const sid = randomUUID();
    sessions.set(sid, u.id);
    json(res, status, u, { 'set-cookie': `pt_session=${sid}; HttpOnly; SameSite=Lax; Path=/` });
  }
  function page(items, url) {
    const limit = Math.min(500, Number(url.searchParams.get('limit') ?? 50));
    const off = Number(url.searchParams.get('cursor') ?? 0);
    const slice = items.slice(off, off + limit);
    return { items: slice, total: items.length, next_cursor: off + limit < items.length ? String(off + limit) : null };
  }
  function seeded(id, n, base) {
    // Deterministic pseudo-random numbers per target.
    let h = 0;
    for (const c of id) h = (h * 31 + c.charCodeAt(0)) | 0;
    return Array.from({ length: n }, (_, i) => base + Math.abs(Math.sin(h + i)) * base);
  }
  function validate(input) {
    if (!input || typeof input.name !== 'string' || !input.name.trim()) return ['name', 'name is required'];
    const s = input.spec ?? {};
    if (s.kind === 'http' && !/^https?:\/\/./.test(s.url ?? '')) return ['spec.url', 'the URL must be http or https'];
    // A heartbeat (a subset of the backend's checks): one schedule, a slug of the pattern; no interval.
    if (s.kind === 'heartbeat') {
      if ((s.period_seconds === undefined) === (s.cron === undefined)) return [s.cron === undefined ? 'spec.period_seconds' : 'spec.cron', 'give period_seconds or cron, not both'];
      if (s.period_seconds !== undefined && !(s.period_seconds >= 10 && s.period_seconds <= 31_536_000)) return ['spec.period_seconds', 'must be between 10 and 31536000 seconds'];
      if (s.cron !== undefined && s.cron.trim().split(/\s+/).length !== 5) return ['spec.cron', 'five fields are expected'];
      if (s.slug !== undefined && !/^[a-z0-9][a-z0-9_-]{0,99}$/.test(s.slug)) return ['spec.slug', 'lowercase letters, digits, - or _'];
      // The backend's uniqueness among the owner's heartbeats, imitated by one name.
      if (s.slug === 'taken') return ['spec.slug', 'another heartbeat of yours has this slug'];
      return null;
    }
    if (!(input.interval_seconds >= 30)) return ['interval_seconds', 'the interval must be at least 30 s'];
    return null;
  }
  // A heartbeat's ping URL and state, as the backend attaches them to its target.
  function heartbeatOf(t, origin) {
    if (t.spec.kind !== 'heartbeat') return {};
    const token = t.ping_url?.split('/').pop() ?? randomUUID();
    const last = Date.now() - 12 * 60_000;
    return {
      ping_url: `${origin}/ping/${token}`,
      heartbeat: {
        slug_url: t.spec.slug ? `${origin}/ping/mockpingkey/${t.spec.slug}` : null,
        last_ping_at: new Date(last).toISOString(),
        last_success_at: new Date(last).toISOString(),
        started_at: null,
        last_duration_ms: 14_250,
        expected_at: t.paused ? null : new Date(last + (t.spec.period_seconds ?? 3600) * 1000).toISOString(),
        alert_at: t.paused ? null : new Date(last + ((t.spec.period_seconds ?? 3600) + (t.spec.grace_seconds ?? 300)) * 1000).toISOString(),
        pings: 3,
      },
    };
  }
  function makeTarget(owner, input, origin) {
    const id = randomUUID();
    const status = input.paused ? 'paused' : ['up', 'up', 'up', 'up', 'degraded', 'down'][Math.floor(Math.random() * 6)];
    const t = {
      id,
      owner,
      ...input,
      kind: input.spec.kind,
      created_at: now(),
      updated_at: now(),
      state: { status, since: new Date(Date.now() - Math.random() * 864e5).toISOString(), last_checked_at: now(), last_latency_ms: Math.round(20 + Math.random() * 300) },
    };
    return Object.assign(t, heartbeatOf(t, origin));
  }
  function mockPings(t) {
    const at = (min) => new Date(Date.now() - min * 60_000).toISOString();
    const client = { method: 'POST', client_ip: '192.0.2.10', user_agent: 'curl/8.5.0' };
    return [
      { ...client, received_at: at(12), event: 'exit_status', exit_status: 0, body: 'backup done: 1.2 GiB\n<b>not bold</b>', duration_ms: 14_250, result_id: randomUUID() },
      { ...client, method: 'GET', received_at: at(12.3), event: 'start', body: null, user_agent: null },
      { ...client, received_at: at(72), event: 'exit_status', exit_status: 1, body: 'pg_dump: error: connection refused', duration_ms: 800, result_id: randomUUID() },
    ].map((p) => (t.paused ? { ...p, result_id: null } : p));
  }
  // The stored `baseline` is the input's settings; the API shows them with `active`.
  const baselineView = (b) => ({ enabled: b?.enabled ?? null, factor: b?.factor ?? 3, min_increase_ms: b?.min_increase_ms ?? 100, active: b?.enabled === true });
  const pub = ({ owner, ...t }) => ({ ...t, baseline: baselineView(t.baseline) });
  function fakeResult(targetId, spec, outcome = 'up') {
    const started = new Date(Date.now() - 800);
    if (spec.kind === 'heartbeat') {
      const schedule = spec.cron ? `${spec.cron} (${spec.timezone ?? 'UTC'})` : `every ${spec.period_seconds} s`;
      const down = outcome === 'down';
      return {
        result_id: randomUUID(), job_id: randomUUID(), target_id: targetId, region: 'heartbeat', pinger_id: 'heartbeat', check_kind: 'heartbeat',
        started_at: started.toISOString(), finished_at: now(), duration_ms: down ? 0 : 14_250, outcome, probe_degraded: false, hops: [],
        ...(down ? { failure: { kind: 'heartbeat_missed', phase: 'schedule', message: 'no ping came within 300 s of the expected time' } } : {}),
        heartbeat: down
          ? { event: 'missed', expected_at: new Date(Date.now() - 300_000).toISOString(), schedule }
          : { event: 'exit_status', exit_status: 0, run_duration_ms: 14_250, schedule, body: 'backup done: 1.2 GiB' },
      };
    }
    return {
      result_id: randomUUID(),
      job_id: randomUUID(),
      target_id: targetId,
      region: 'default',
      pinger_id: 'mock-pinger',
      check_kind: spec.kind,
      started_at: started.toISOString(),
      finished_at: now(),
      duration_ms: 87,
      outcome,
      ...(outcome === 'down' ? { failure: { kind: 'http_status', phase: 'validation', message: 'HTTP 503 Service Unavailable; expected 200-399' } } : {}),
      status_code: outcome === 'down' ? 503 : 200,
      hops: spec.kind === 'http' ? [{ url: spec.url, status: outcome === 'down' ? 503 : 200, resolved_ip: '127.0.0.1', http_version: 'HTTP/1.1', timings: { dns_ms: 1.2, connect_ms: 0.4, ttfb_ms: 80, transfer_ms: 5 } }] : [],
      resolved_ip: '127.0.0.1',
      probe_degraded: false,
    };
  }

  async function body(req) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const text = Buffer.concat(chunks).toString('utf8');
    return { text, json: () => (text ? JSON.parse(text) : undefined) };
  }

  async function handle(req, res) {
    const url = new URL(req.url, 'http://x');
    const p = url.pathname;
    const m = req.method;
    if (p === '/api/config') return json(res, 200, { registration_open: true, telegram_bot_username: 'pingtower_mock_bot', regions: ['default'], min_interval_seconds: 30, allow_private_targets: true });
    if (p === '/api/auth/register' && m === 'POST') {
      const b = (await body(req)).json();
      if (!/@/.test(b?.email ?? '')) return err(res, 422, 'validation', 'enter an email address', 'email');
      if ((b.password ?? '').length < 10) return err(res, 422, 'validation', 'at least 10 characters', 'password');
      if (users.has(b.email)) return err(res, 409, 'conflict', 'this email is registered');
      const u = { id: randomUUID(), email: b.email, is_admin: users.size === 0, language: 'en', created_at: now(), password: b.password };
      users.set(b.email, u);
      const { password: _p, ...pu } = u;
      return login(res, pu, 201);
    }
    if (p === '/api/auth/login' && m === 'POST') {
      const b = (await body(req)).json();
      const u = users.get(b?.email);
      if (!u || u.password !== b.password) return err(res, 401, 'unauthorized', 'wrong email or password');
      const { password: _p, ...pu } = u;
      return login(res, pu, 200);
    }
    if (p.startsWith('/status/')) {
      const sp = [...pages.values()].find((x) => x.slug === decodeURIComponent(p.slice(8)));
      if (!sp) return err(res, 404, 'not_found', 'no such page');
      const ts = sp.targets.map((x) => ({ x, t: targets.get(x.target_id) })).filter((y) => y.t);
      const days = Array.from({ length: 90 }, (_, i) => ({ date: new Date(Date.now() - (89 - i) * 864e5).toISOString().slice(0, 10), uptime: 1 }));
      return json(res, 200, {
        title: sp.title,
        description: sp.description,
        status: ts.some((y) => y.t.state.status === 'down') ? 'down' : 'up',
        targets: ts.map(({ x, t }) => ({ name: x.display_name, group: x.group ?? null, status: t.state.status, uptime_90d: 0.999, days })),
        incidents: [...incidents.values()].filter((i) => ts.some((y) => y.t.id === i.target_id)).map((i) => ({ name: i.target_name, opened_at: i.opened_at, resolved_at: i.resolved_at, severity: i.severity })),
      });
    }
    const ackMatch = /^\/api\/ack\/([^/]+)$/.exec(p);
    if (ackMatch) {
      // An alert's acknowledgement link, no session needed: the mock's token is the incident's
      // id; `expired` answers 410 and `limited` 429.
      const token = decodeURIComponent(ackMatch[1]);
      if (token === 'expired') return err(res, 410, 'gone', 'this acknowledgement link has expired');
      if (token === 'limited') return json(res, 429, { error: { code: 'rate_limited', message: 'too many requests' } }, { 'retry-after': '30' });
      const i = incidents.get(token);
      if (!i) return err(res, 404, 'not_found', 'this acknowledgement link is not valid');
      if (m === 'POST' && !i.acknowledged_at) i.acknowledged_at = now();
      return json(res, 200, { incident_id: i.id, target_name: i.target_name, severity: 'down', opened_at: i.opened_at, resolved_at: i.resolved_at, acknowledged_at: i.acknowledged_at });
    }
    if (!p.startsWith('/api/')) return false;

    const uid = userOf(req);
    if (!uid) return err(res, 401, 'unauthorized', 'log in first');
    const me = [...users.values()].find((u) => u.id === uid);
    const mine = () => [...targets.values()].filter((t) => t.owner === uid);
    let mm;

    if (p === '/api/auth/logout') return json(res, 204);
    const effective = (u) => ({ ...QUOTA_DEFAULTS, ...Object.fromEntries(Object.entries(u.quota_overrides ?? {}).filter(([, v]) => v !== null)) });
    const adminView = (u) => ({
      id: u.id,
      email: u.email,
      is_admin: u.is_admin,
      may_private_targets: u.is_admin || u.may_private_targets === true,
      quotas: effective(u),
      quota_overrides: Object.fromEntries(Object.keys(QUOTA_DEFAULTS).map((k) => [k, u.quota_overrides?.[k] ?? null])),
      target_count: [...targets.values()].filter((t) => t.owner === u.id).length,
      created_at: u.created_at,
    });
    if (p === '/api/auth/me' && m === 'GET') {
      return json(res, 200, { ...me, password: undefined, quota_overrides: undefined, may_private_targets: me.is_admin || me.may_private_targets === true, quotas: effective(me), organisation_id: me.id, role: 'owner' });
    }
    if (p === '/api/admin/users' && m === 'GET') {
      if (!me.is_admin) return err(res, 403, 'forbidden', 'admins only');
      return json(res, 200, page([...users.values()].map(adminView), url));
    }
    if ((mm = /^\/api\/admin\/users\/([^/]+)$/.exec(p)) && m === 'PATCH') {
      if (!me.is_admin) return err(res, 403, 'forbidden', 'admins only');
      const u = [...users.values()].find((x) => x.id === mm[1]);
      if (!u) return err(res, 404, 'not_found', 'no such user');
      const b = (await body(req)).json() ?? {};
      for (const [k, v] of Object.entries(b.quota_overrides ?? {})) {
        if (!(k in QUOTA_DEFAULTS)) return err(res, 422, 'validation', 'unknown quota', `quota_overrides.${k}`);
        if (v !== null && !(Number.isInteger(v) && v >= 0 && v <= 1_000_000)) return err(res, 422, 'validation', 'a whole number from 0 to 1000000', `quota_overrides.${k}`);
      }
      u.quota_overrides = { ...(u.quota_overrides ?? {}), ...(b.quota_overrides ?? {}) };
      if (typeof b.may_private_targets === 'boolean') u.may_private_targets = b.may_private_targets;
      return json(res, 200, adminView(u));
    }
    if (p === '/api/auth/me' && m === 'PATCH') {
      me.language = (await body(req)).json().language;
      return json(res, 200, { ...me, password: undefined });
    }
    if (p === '/api/targets' && m === 'GET') {
      const st = url.searchParams.get('status');
      const tag = url.searchParams.get('tag');
      const q = (url.searchParams.get('q') ?? '').toLowerCase();
      const sort = url.searchParams.get('sort') ?? 'name';
      const desc = url.searchParams.get('order') === 'desc' ? -1 : 1;
      let list = mine();
      if (st) list = list.filter((t) => t.state.status === st);
      if (tag) list = list.filter((t) => t.tags.includes(tag));
      if (q) list = list.filter((t) => t.name.toLowerCase().includes(q) || JSON.stringify(t.spec).toLowerCase().includes(q));
      list.sort((a, b) => {
        const k =
          sort === 'status'
            ? STATUS_ORDER[a.state.status] - STATUS_ORDER[b.state.status] || a.name.localeCompare(b.name)
            : sort === 'changed'
              ? Date.parse(a.state.since) - Date.parse(b.state.since)
              : a.name.localeCompare(b.name);
        return k * desc;
      });
      return json(res, 200, { ...page(list.map(pub), url) });
    }
    if (p === '/api/targets' && m === 'POST') {
      const input = (await body(req)).json();
      const bad = validate(input);
      if (bad) return err(res, 422, 'validation', bad[1], bad[0]);
      const t = makeTarget(uid, input, `http://${req.headers.host}`);
      targets.set(t.id, t);
      return json(res, 201, pub(t));
    }
    if (p === '/api/targets/test' && m === 'POST') {
      const input = (await body(req)).json();
      if (input?.spec?.kind === 'heartbeat') return err(res, 422, 'validation', 'a heartbeat is not checked by PingTower: your job pings its URL', 'spec.kind');
      const bad = validate(input);
      if (bad) return err(res, 422, 'validation', bad[1], bad[0]);
      return json(res, 200, fakeResult(randomUUID(), input.spec));
    }
    if (p === '/api/targets/import' && m === 'POST') {
      const doc = (await body(req)).json();
      let created = 0;
      for (const input of doc.targets) {
        const t = makeTarget(uid, input, `http://${req.headers.host}`);
        targets.set(t.id, t);
        created++;
      }
      return json(res, 200, { created, updated: 0 });
    }
    if (p === '/api/targets/export') return json(res, 200, { version: 1, targets: mine().map(({ id, owner, state, created_at, updated_at, ping_url, heartbeat, ...x }) => x) });
    if (p === '/api/overview/sparklines') {
      const ids = (url.searchParams.get('ids') ?? '').split(',').filter(Boolean);
      return json(res, 200, Object.fromEntries(ids.map((id) => [id, seeded(id, 24, 40)])));
    }
    if (p === '/api/overview/uptime') {
      const ids = (url.searchParams.get('ids') ?? '').split(',').filter((id) => targets.get(id)?.owner === uid);
      return json(res, 200, Object.fromEntries(ids.map((id) => [id, { h24: 0.9993, d30: 0.9971 }])));
    }
    if ((mm = /^\/api\/targets\/([^/]+)(\/.*)?$/.exec(p))) {
      const t = targets.get(mm[1]);
      if (!t || t.owner !== uid) return err(res, 404, 'not_found', 'no such target');
      const sub = mm[2] ?? '';
      if (!sub && m === 'GET') return json(res, 200, pub(t));
      if (!sub && m === 'PUT') {
        const input = (await body(req)).json();
        const bad = validate(input);
        if (bad) return err(res, 422, 'validation', bad[1], bad[0]);
        Object.assign(t, input, { kind: input.spec.kind, updated_at: now() });
        if (input.paused) t.state.status = 'paused';
        if (t.spec.kind === 'heartbeat') {
          Object.assign(t, heartbeatOf(t, `http://${req.headers.host}`));
        } else {
          delete t.ping_url;
          delete t.heartbeat;
        }
        return json(res, 200, pub(t));
      }
      if (!sub && m === 'DELETE') {
        targets.delete(t.id);
        return json(res, 204);
      }
      if (sub === '/test') {
        if (t.spec.kind === 'heartbeat') return err(res, 422, 'validation', 'a heartbeat is not checked by PingTower: your job pings its URL', 'spec.kind');
        return json(res, 200, fakeResult(t.id, t.spec));
      }
      if (sub === '/pings' || sub === '/ping-token') {
        if (t.spec.kind !== 'heartbeat') return err(res, 404, 'not_found', 'no heartbeat of yours has this id');
        if (sub === '/pings' && m === 'GET') return json(res, 200, { items: mockPings(t).slice(0, Number(url.searchParams.get('limit') ?? 20)) });
        if (sub === '/ping-token' && m === 'POST') {
          t.ping_url = `http://${req.headers.host}/ping/${randomUUID()}`;
          return json(res, 200, pub(t));
        }
      }
      if (sub === '/overview') return json(res, 200, { state: t.state.status, since: t.state.since, uptime: { h24: 0.9993, d7: 0.998, d30: 0.9971, d90: 0.9969 }, last_latency_ms: t.state.last_latency_ms });
      if (sub === '/results') return json(res, 200, { items: [fakeResult(t.id, t.spec, t.state.status === 'down' ? 'down' : 'up'), fakeResult(t.id, t.spec)], total: 2, next_cursor: null });
      if (sub === '/uptime/daily') return json(res, 200, { days: Array.from({ length: 90 }, (_, i) => ({ date: new Date(Date.now() - (89 - i) * 864e5).toISOString().slice(0, 10), uptime: i % 17 === 3 ? 0.97 : 1, downtime_seconds: i % 17 === 3 ? 2600 : 0, checks: 1440 })) });
      if (sub === '/latency') {
        const from = Date.parse(url.searchParams.get('from'));
        const to = Date.parse(url.searchParams.get('to'));
        const stepS = { '60s': 60, '5m': 300, '1h': 3600, '1d': 86400 }[url.searchParams.get('step')] ?? 300;
        const n = Math.min(2000, Math.floor((to - from) / 1000 / stepS));
        const v = seeded(t.id, n, 30);
        const pc = (x) => ({ p50: x, p95: x * 1.6, p99: x * 2.2 });
        return json(res, 200, {
          step_seconds: stepS,
          points: v.map((x, i) => ({ t: new Date(from + i * stepS * 1000).toISOString(), total: pc(x + 12), dns: pc(2), connect: pc(3), tls: pc(5), ttfb: pc(x), transfer: pc(2) })),
        });
      }
      if (sub === '/baseline') {
        // Usual latency around 40 ms at night and 70 ms by day (UTC), as the backend computes it hourly.
        const settings = baselineView(t.baseline);
        const hours = Array.from({ length: 168 }, (_, h) => {
          const p50 = (h % 24 >= 8 && h % 24 < 20 ? 70 : 40) + (h % 5);
          const p95 = p50 * 1.5;
          return { hour_of_week: h, p50_ms: p50, p95_ms: p95, limit_ms: Math.max(p95 * settings.factor, p95 + settings.min_increase_ms), samples: 48, fallback: false };
        });
        return json(res, 200, { settings, computed_at: now(), history_from: new Date(Date.now() - 28 * 864e5).toISOString(), all_hours: { p50_ms: 55, p95_ms: 82, samples: 8064 }, hours });
      }
      if (sub === '/incidents') return json(res, 200, { items: [...incidents.values()].filter((i) => i.target_id === t.id), total: 0, next_cursor: null });
      if (sub === '/channels') return json(res, 200, { channel_ids: m === 'PUT' ? (await body(req)).json().channel_ids : [] });
      if (sub === '/badge-token') return json(res, 200, { token: 'mockbadge' });
    }
    if (p === '/api/incidents') {
      const st = url.searchParams.get('status');
      const list = [...incidents.values()].filter((i) => i.owner === uid && (!st || (st === 'open') === !i.resolved_at));
      return json(res, 200, page(list, url));
    }
    if ((mm = /^\/api\/incidents\/([^/]+)(\/ack)?$/.exec(p))) {
      const i = incidents.get(mm[1]);
      if (!i || i.owner !== uid) return err(res, 404, 'not_found', 'no such incident');
      if (mm[2]) i.acknowledged_at = now();
      return json(res, 200, i);
    }
    if (p === '/api/incident-groups' && m === 'GET') {
      const st = url.searchParams.get('state') ?? 'all';
      if (!['open', 'resolved', 'all', ''].includes(st)) return err(res, 422, 'validation', 'state is open, resolved or all', 'state');
      const list = [...groups.values()]
        .filter((g) => g.owner === uid && (st === 'all' || st === '' || (st === 'open') === !g.resolved_at))
        .sort((a, b) => Date.parse(b.opened_at) - Date.parse(a.opened_at))
        .map(({ owner, ...g }) => {
          const members = [...incidents.values()].filter((i) => i.group_id === g.id);
          return {
            ...g,
            member_count: members.length,
            open_member_count: members.filter((i) => !i.resolved_at).length,
            first_members: members.slice(0, 5).map((i) => ({ incident_id: i.id, target_id: i.target_id, target_name: i.target_name })),
          };
        });
      return json(res, 200, { items: list, total: list.length, next_cursor: null });
    }
    if ((mm = /^\/api\/incident-groups\/([^/]+)$/.exec(p))) {
      const g = groups.get(mm[1]);
      if (!g || g.owner !== uid) return err(res, 404, 'not_found', 'no such group');
      const { owner, ...rest } = g;
      return json(res, 200, { ...rest, members: [...incidents.values()].filter((i) => i.group_id === g.id) });
    }
    if (p === '/api/tag-dependencies' && m === 'GET') {
      const items = [...tagDeps.entries()]
        .filter(([k]) => k.startsWith(`${uid} `))
        .map(([k, ids]) => ({ tag: k.slice(uid.length + 1), depends_on: ids }))
        .sort((a, b) => (a.tag < b.tag ? -1 : 1));
      return json(res, 200, { items, total: items.length, next_cursor: null });
    }
    if (p === '/api/tag-dependencies' && m === 'PUT') {
      const input = (await body(req)).json();
      const tag = String(input.tag ?? '').trim();
      if (!tag || tag.length > 64) return err(res, 422, 'validation', 'tag must be 1 to 64 characters', 'tag');
      const ids = [...new Set(input.depends_on ?? [])];
      for (const [i, id] of ids.entries()) {
        const t = targets.get(id);
        if (!t || t.owner !== uid) return err(res, 422, 'validation', 'no target of yours has this id', `depends_on[${i}]`);
        // The only cycle this imitation finds: a target carrying the tag depending on itself through it.
        if (t.tags.includes(tag)) return err(res, 422, 'validation', `a dependency cycle: ${t.name} → ${t.name} (through the tag “${tag}”)`, 'depends_on');
      }
      if (ids.length) tagDeps.set(`${uid} ${tag}`, ids);
      else tagDeps.delete(`${uid} ${tag}`);
      return json(res, 200, { tag, depends_on: ids });
    }
    if (p === '/api/mock/group') {
      // Test hook: the open incidents of the caller that stand alone become one group incident.
      const cause = url.searchParams.get('cause') ?? 'ip:192.0.2.1:connect_refused';
      const members = [...incidents.values()].filter((i) => i.owner === uid && !i.resolved_at && !i.group_id);
      const id = randomUUID();
      groups.set(id, { id, owner: uid, cause, summary: `all share ${cause}`, opened_at: members[0]?.opened_at ?? now(), resolved_at: null });
      for (const i of members) i.group_id = id;
      return json(res, 200, { group_id: id });
    }
    if (p === '/api/channels' && m === 'GET') return json(res, 200, { items: [...channels.values()].filter((c) => c.owner === uid).map((c) => ({ settings: {}, secrets: [], routing: { events: ['opened', 'resolved', 'report', 'certificate', 'flapping', 'reminder'], min_severity: 'info', tags_include: [], tags_exclude: [], quiet_hours: null }, enabled: c.disabled_reason === null, last_error: null, last_error_at: null, ...c, owner: undefined, secretValues: undefined, lastTest: undefined })), total: 0, next_cursor: null });
    if (p === '/api/channels/telegram/link') return json(res, 201, { token: randomUUID().replace(/-/g, ''), link: `https://t.me/pingtower_mock_bot?start=${randomUUID().replace(/-/g, '')}`, expires_at: new Date(Date.now() + 6e5).toISOString() });
    if (p === '/api/channels/email') {
      const c = { id: randomUUID(), owner: uid, kind: 'email', address: (await body(req)).json().address, label: null, verified: false, disabled_reason: null, muted_until: null, created_at: now() };
      channels.set(c.id, c);
      return json(res, 201, c);
    }
    // Channels of every kind (createChannel … testChannel of src/api/client.ts): secrets are kept by name only.
    const ALL_EVENTS = ['opened', 'resolved', 'report', 'certificate', 'flapping', 'reminder'];
    const defaultRouting = () => ({ events: ALL_EVENTS, min_severity: 'info', tags_include: [], tags_exclude: [], quiet_hours: null });
    const view = ({ owner, secretValues, lastTest, ...c }) => ({ settings: {}, secrets: [], routing: defaultRouting(), enabled: c.disabled_reason === null, last_error: null, last_error_at: null, ...c });
    if (p === '/api/channels/kinds' && m === 'GET') {
      const kinds = ['webhook', 'slack', 'mattermost', 'discord', 'teams', 'google_chat', 'ntfy', 'gotify', 'pushover', 'pagerduty', 'opsgenie', 'matrix'];
      return json(res, 200, kinds.map((kind) => ({ kind, secrets: [] })));
    }
    if (p === '/api/channels' && m === 'POST') {
      const b = (await body(req)).json();
      const settings = b.settings ?? {};
      const secretValues = Object.fromEntries(Object.entries(b.secrets ?? {}).filter(([, v]) => v));
      if (['webhook', 'ntfy', 'gotify'].includes(b.kind) && !/^https?:\/\//.test(settings.url ?? '')) return err(res, 422, 'validation', 'must be an http(s) URL', 'settings.url');
      const address = settings.url ?? settings.room_id ?? (secretValues.url ? new URL(secretValues.url).host : b.kind);
      const c = { id: randomUUID(), owner: uid, kind: b.kind, address, label: b.label ?? null, verified: true, disabled_reason: null, muted_until: null, created_at: now(), settings, secrets: Object.keys(secretValues), routing: b.routing ?? defaultRouting(), secretValues };
      channels.set(c.id, c);
      return json(res, 201, view(c));
    }
    if ((mm = /^\/api\/channels\/([^/]+)(\/test)?$/.exec(p))) {
      const c = channels.get(mm[1]);
      if (!c || c.owner !== uid) return err(res, 404, 'not_found', 'no such channel');
      if (mm[2] && m === 'POST') {
        if (c.lastTest && Date.now() - c.lastTest < 10_000) return json(res, 429, { error: { code: 'rate_limited', message: 'tested under 10 s ago' } }, { 'retry-after': String(Math.ceil((10_000 - (Date.now() - c.lastTest)) / 1000)) });
        c.lastTest = Date.now();
        const delivered = !String(c.label ?? '').includes('broken');
        if (!delivered) Object.assign(c, { last_error: 'HTTP 404: no_service', last_error_at: now() });
        return json(res, 200, { delivered, error: delivered ? null : 'HTTP 404: no_service' });
      }
      if (m === 'DELETE') {
        channels.delete(c.id);
        return json(res, 204);
      }
      if (m === 'PATCH') {
        const b = (await body(req)).json();
        if ('label' in b) c.label = b.label || null;
        if ('muted_until' in b) c.muted_until = b.muted_until;
        if (b.settings) c.settings = b.settings;
        if (b.routing) c.routing = b.routing;
        if (b.enabled) Object.assign(c, { disabled_reason: null });
        c.secretValues ??= {};
        for (const [k, v] of Object.entries(b.secrets ?? {})) {
          if (v === null) delete c.secretValues[k];
          else c.secretValues[k] = v;
        }
        c.secrets = Object.keys(c.secretValues);
        return json(res, 200, view(c));
      }
    }
    if (p === '/api/mock/disable-channel') {
      // Test hook: the notifier gave up on a channel.
      const c = channels.get(url.searchParams.get('id'));
      if (c) Object.assign(c, { disabled_reason: 'HTTP 404 five times in a row: the webhook is gone', last_error: 'HTTP 404: no_service', last_error_at: now() });
      return json(res, 204);
    }
    // Escalation policies: the backend's checks that name a field, a subset.
    const policyProblem = (b) => {
      if (typeof b?.name !== 'string' || !b.name.trim() || b.name.length > 100) return ['name', 'the name is 1 to 100 characters'];
      if (!Array.isArray(b.steps) || b.steps.length < 1 || b.steps.length > 10) return ['steps', '1 to 10 steps'];
      for (const [i, st] of b.steps.entries()) {
        if (!Number.isInteger(st.after_minutes) || st.after_minutes < 0 || st.after_minutes > 1440) return [`steps[${i}].after_minutes`, 'minutes from 0 to 1440'];
        if (i > 0 && st.after_minutes <= b.steps[i - 1].after_minutes) return [`steps[${i}].after_minutes`, `must be greater than steps[${i - 1}].after_minutes`];
        for (const [j, c] of (st.channel_ids ?? []).entries()) if (channels.get(c)?.owner !== uid) return [`steps[${i}].channel_ids[${j}]`, 'no such channel of yours'];
      }
      if (b.reminder_minutes !== null && b.reminder_minutes !== undefined && !(b.reminder_minutes >= 5 && b.reminder_minutes <= 1440)) return ['reminder_minutes', 'null or 5 to 1440'];
      return null;
    };
    const policyView = ({ owner: _o, ...x }) => x;
    if (p === '/api/escalation-policies' && m === 'GET') {
      const items = [...policies.values()].filter((x) => x.owner === uid).map(policyView);
      return json(res, 200, { items, total: items.length, next_cursor: null });
    }
    if (p === '/api/escalation-policies' && m === 'POST') {
      const b = (await body(req)).json();
      const bad = policyProblem(b);
      if (bad) return err(res, 422, 'validation', bad[1], bad[0]);
      const x = { id: randomUUID(), owner: uid, name: b.name, steps: b.steps, reminder_minutes: b.reminder_minutes ?? null, target_ids: b.target_ids ?? [], tags: b.tags ?? [], created_at: now(), updated_at: now() };
      policies.set(x.id, x);
      return json(res, 201, policyView(x));
    }
    if ((mm = /^\/api\/escalation-policies\/([^/]+)$/.exec(p))) {
      const x = policies.get(mm[1]);
      if (!x || x.owner !== uid) return err(res, 404, 'not_found', 'no such policy');
      if (m === 'DELETE') {
        policies.delete(x.id);
        return json(res, 204);
      }
      if (m === 'PUT') {
        const b = (await body(req)).json();
        const bad = policyProblem(b);
        if (bad) return err(res, 422, 'validation', bad[1], bad[0]);
        Object.assign(x, { name: b.name, steps: b.steps, reminder_minutes: b.reminder_minutes ?? null, target_ids: b.target_ids ?? [], tags: b.tags ?? [], updated_at: now() });
      }
      return json(res, 200, policyView(x));
    }
    if (p === '/api/tokens' && m === 'GET') return json(res, 200, { items: [...tokens.values()].filter((x) => x.owner === uid), total: 0, next_cursor: null });
    if (p === '/api/tokens' && m === 'POST') {
      const b = (await body(req)).json();
      const tk = { id: randomUUID(), owner: uid, name: b.name, scope: b.scope, prefix: 'pt_ab12', created_at: now(), last_used_at: null };
      tokens.set(tk.id, tk);
      return json(res, 201, { ...tk, token: `pt_ab12${randomUUID().replace(/-/g, '')}` });
    }
    if (p === '/api/status-pages' && m === 'GET') return json(res, 200, { items: [...pages.values()].filter((x) => x.owner === uid), total: 0, next_cursor: null });
    if (p === '/api/status-pages' && m === 'POST') {
      const sp = { id: randomUUID(), owner: uid, ...(await body(req)).json() };
      pages.set(sp.id, sp);
      return json(res, 201, sp);
    }
    if ((mm = /^\/api\/status-pages\/([^/]+)$/.exec(p))) {
      const sp = pages.get(mm[1]);
      if (!sp || sp.owner !== uid) return err(res, 404, 'not_found', 'no such page');
      if (m === 'PUT') Object.assign(sp, (await body(req)).json());
      return json(res, 200, sp);
    }
    if (p === '/api/mock/fail') {
      // Test hook: make a target fail and open an incident with a report.
      const t = targets.get(url.searchParams.get('id'));
      t.state.status = 'down';
      const id = randomUUID();
      const r = fakeResult(t.id, t.spec, 'down');
      incidents.set(id, {
        id, owner: uid, target_id: t.id, target_name: t.name, severity: 'critical', opened_at: now(), resolved_at: null, regions: ['default'], failure_kind: 'http_status', acknowledged_at: null,
        evidence: { results: [r], baseline_latency_ms: 42 },
        caused_by: null, notification: 'notified', effects: [], group_id: null,
        timeline: [{ at: now(), kind: 'opened', message: 'HTTP 503 twice in a row' }],
        reports: [{ incident_id: id, event_kind: 'opened', language: 'en', summary: `${t.name} answers HTTP 503.`, probable_cause: 'The application is overloaded or its database is down.', impact: 'Visitors see an error page.', recommended_actions: ['Check the application logs', 'Check the database'], source: 'rules', claims: [], generated_at: now() }],
        notes: [],
      });
      return json(res, 200, { incident_id: id });
    }
    return err(res, 404, 'not_found', `mock: no route ${m} ${p}`);
  }

  async function serveStatic(req, res) {
    const url = new URL(req.url, 'http://x');
    let file = normalize(join(DIST, decodeURIComponent(url.pathname)));
    if (!file.startsWith(DIST) || !extname(file)) file = join(DIST, 'index.html');
    try {
      const data = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-security-policy': CSP });
      res.end(data);
    } catch {
      const data = await readFile(join(DIST, 'index.html'));
      res.writeHead(200, { 'content-type': 'text/html', 'content-security-policy': CSP });
      res.end(data);
    }
  }

  return createServer((req, res) => {
    handle(req, res)
      .then((handled) => (handled === false ? serveStatic(req, res) : undefined))
      .catch((e) => {
        res.writeHead(500);
        res.end(String(e?.stack ?? e));
      });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.argv[2] ?? 8090);
  createMockApi().listen(port, '127.0.0.1', () => console.log(`mock API + dist on http://127.0.0.1:${port}`));
}
