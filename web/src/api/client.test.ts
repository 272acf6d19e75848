import { describe, expect, it, vi } from 'vitest';
import { ApiClient, ApiError, asPage, queryString } from './client';

type Call = { url: string; init: RequestInit };

function mockFetch(status: number, body: unknown, headers: Record<string, string> = {}) {
  const calls: Call[] = [];
  const fetch = vi.fn(async (url: string, init?: RequestInit) => {
    calls.push({ url, init: init ?? {} });
    const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
    return new Response(status === 204 ? null : text, {
      status,
      headers: { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json', ...headers },
    });
  });
  return { fetch, calls };
}

describe('queryString', () => {
  it('leaves out empty values and encodes the rest', () => {
    expect(queryString({ status: '', tag: 'a b', q: undefined, limit: 50, cursor: null })).toBe('?tag=a%20b&limit=50');
  });
  it('is empty when nothing is set', () => {
    expect(queryString({ a: '' })).toBe('');
  });
});

describe('ApiClient', () => {
  it('lists targets with the filter, sort and cursor in the query', async () => {
    const { fetch, calls } = mockFetch(200, { items: [], total: 0, next_cursor: null });
    const c = new ApiClient({ fetch });
    await c.targets({ status: 'down', tag: 'prod', q: 'shop', sort: 'name', order: 'desc', limit: 200, cursor: 'abc' });
    expect(calls[0]!.url).toBe('/api/targets?status=down&tag=prod&q=shop&sort=name&order=desc&limit=200&cursor=abc');
    expect(calls[0]!.init.method).toBe('GET');
    expect(calls[0]!.init.credentials).toBe('same-origin');
  });

  it('sends JSON bodies with a JSON content type', async () => {
    const { fetch, calls } = mockFetch(201, { id: 'u1', email: 'a@b.c', is_admin: true, language: 'en', created_at: 'x' });
    const c = new ApiClient({ fetch });
    const u = await c.register('a@b.c', 'secret123');
    expect(u.email).toBe('a@b.c');
    expect(calls[0]!.url).toBe('/api/auth/register');
    expect(calls[0]!.init.method).toBe('POST');
    expect((calls[0]!.init.headers as Record<string, string>)['content-type']).toBe('application/json');
    expect(JSON.parse(calls[0]!.init.body as string)).toEqual({ email: 'a@b.c', password: 'secret123' });
  });

  it('turns the error body into an ApiError with code, message and field', async () => {
    const { fetch } = mockFetch(422, { error: { code: 'validation', message: 'must be http or https', field: 'spec.url' } });
    const c = new ApiClient({ fetch });
    const err = await c.createTarget({} as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    const e = err as ApiError;
    expect(e.status).toBe(422);
    expect(e.code).toBe('validation');
    expect(e.field).toBe('spec.url');
    expect(e.message).toBe('must be http or https');
    expect(e.isValidation).toBe(true);
  });

  it('reads a body that is not the document\'s ErrorBody as the status alone', async () => {
    const { fetch } = mockFetch(422, { error: 'must be http or https', field: 'settings.url' });
    const e = (await new ApiClient({ fetch }).createTarget({} as never).catch((x: unknown) => x)) as ApiError;
    expect(e.code).toBe('validation');
    expect(e.field).toBeUndefined();
    expect(e.isValidation).toBe(true);
  });

  it('reads Retry-After on 429', async () => {
    const { fetch } = mockFetch(429, { error: { code: 'rate_limited', message: 'slow down' } }, { 'retry-after': '30' });
    const e = (await new ApiClient({ fetch }).login('a@b.c', 'x').catch((x: unknown) => x)) as ApiError;
    expect(e.code).toBe('rate_limited');
    expect(e.retryAfter).toBe(30);
  });

  it('falls back to the status when the error body is not JSON', async () => {
    const { fetch } = mockFetch(404, 'nope');
    const e = (await new ApiClient({ fetch }).target('x').catch((x: unknown) => x)) as ApiError;
    expect(e.code).toBe('not_found');
    expect(e.message).toBe('nope');
  });

  it('calls onUnauthorized on 401 outside the auth routes', async () => {
    const onUnauthorized = vi.fn();
    const { fetch } = mockFetch(401, { error: { code: 'unauthorized', message: 'log in' } });
    const c = new ApiClient({ fetch, onUnauthorized });
    await c.targets().catch(() => undefined);
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    await c.me().catch(() => undefined);
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
  });

  it('answers the two-factor challenge of a login as is, and posts the second step', async () => {
    const { fetch } = mockFetch(200, { two_factor_required: true, challenge: 'ch1' });
    const answer = await new ApiClient({ fetch }).login('a@b.c', 'pw');
    expect(answer).toEqual({ two_factor_required: true, challenge: 'ch1' });
    const second = mockFetch(200, { id: 'u1', email: 'a@b.c', is_admin: false, language: 'en', created_at: 'x' });
    const u = await new ApiClient({ fetch: second.fetch }).loginSecondFactor({ challenge: 'ch1', code: '123456' });
    expect(u.id).toBe('u1');
    expect(second.calls[0]!.url).toBe('/api/auth/login/2fa');
    expect(JSON.parse(second.calls[0]!.init.body as string)).toEqual({ challenge: 'ch1', code: '123456' });
  });

  it('keeps the session on a 401 that names a field (a wrong password or code)', async () => {
    const onUnauthorized = vi.fn();
    const { fetch } = mockFetch(401, { error: { code: 'unauthorized', message: 'wrong password', field: 'password' } });
    const c = new ApiClient({ fetch, onUnauthorized });
    const e = (await c.twoFactorDisable({ password: 'x', code: '123456' }).catch((x: unknown) => x)) as ApiError;
    expect(e.field).toBe('password');
    expect(onUnauthorized).not.toHaveBeenCalled();
  });

  it('tells onForbidden the message of every 403', async () => {
    const onForbidden = vi.fn();
    const { fetch } = mockFetch(403, { error: { code: 'forbidden', message: 'this organisation requires two-factor sign-in' } });
    await new ApiClient({ fetch, onForbidden }).targets().catch(() => undefined);
    expect(onForbidden).toHaveBeenCalledWith('this organisation requires two-factor sign-in');
  });

  it('returns undefined for 204', async () => {
    const { fetch, calls } = mockFetch(204, undefined);
    await expect(new ApiClient({ fetch }).deleteTarget('a/b')).resolves.toBeUndefined();
    expect(calls[0]!.url).toBe('/api/targets/a%2Fb');
    expect(calls[0]!.init.method).toBe('DELETE');
  });

  it('wraps network failures', async () => {
    const fetch = vi.fn(async () => {
      throw new TypeError('Failed to fetch');
    });
    const e = (await new ApiClient({ fetch }).config().catch((x: unknown) => x)) as ApiError;
    expect(e.status).toBe(0);
    expect(e.code).toBe('network');
  });

  it('imports YAML with the YAML content type', async () => {
    const { fetch, calls } = mockFetch(200, { created: 2, updated: 1 });
    const r = await new ApiClient({ fetch }).importTargets('version: 1\ntargets: []\n', 'yaml');
    expect(r).toEqual({ created: 2, updated: 1 });
    expect((calls[0]!.init.headers as Record<string, string>)['content-type']).toBe('application/yaml');
    expect(calls[0]!.init.body).toBe('version: 1\ntargets: []\n');
  });

  it('asks for sparklines of many ids in one call', async () => {
    const { fetch, calls } = mockFetch(200, { a: [1, null, 3] });
    const s = await new ApiClient({ fetch }).sparklines(['a', 'b']);
    expect(calls[0]!.url).toBe('/api/overview/sparklines?ids=a%2Cb');
    expect(s.a).toEqual([1, null, 3]);
  });

  it('builds latency and daily-uptime queries', async () => {
    const { fetch, calls } = mockFetch(200, { step_seconds: 60, points: [] });
    const c = new ApiClient({ fetch });
    await c.latency('t1', '2026-01-01T00:00:00Z', '2026-01-01T01:00:00Z', '60s');
    expect(calls[0]!.url).toBe('/api/targets/t1/latency?from=2026-01-01T00%3A00%3A00Z&to=2026-01-01T01%3A00%3A00Z&step=60s');
    await c.dailyUptime('t1');
    expect(calls[1]!.url).toBe('/api/targets/t1/uptime/daily?days=90');
  });

  it('acknowledges an incident and links Telegram with POSTs', async () => {
    const { fetch, calls } = mockFetch(200, {});
    const c = new ApiClient({ fetch });
    await c.acknowledge('i1');
    await c.linkTelegram();
    expect(calls.map((x) => `${x.init.method} ${x.url}`)).toEqual(['POST /api/incidents/i1/ack', 'POST /api/channels/telegram/link']);
  });
});

describe('channels of every kind', () => {
  it('calls each route with its method, path and JSON body', async () => {
    const calls: [string, string, string | null][] = [];
    const client = new ApiClient({
      fetch: async (url, init) => {
        calls.push([init?.method ?? '', url, (init?.body as string | null) ?? null]);
        const answer = url.endsWith('/test') ? '{"delivered":true,"error":null}' : url.endsWith('/kinds') ? '[{"kind":"slack","secrets":[{"name":"url","required":true}]}]' : '{}';
        return new Response(answer, { status: 200, headers: { 'content-type': 'application/json' } });
      },
    });
    expect(await client.channelKinds()).toEqual([{ kind: 'slack', secrets: [{ name: 'url', required: true }] }]);
    await client.createChannel({ kind: 'slack', secrets: { url: 'https://hooks.slack.com/x' } });
    await client.updateChannel('a/b', { secrets: { url: null }, enabled: true });
    expect(await client.testChannel('c1')).toEqual({ delivered: true, error: null });
    await client.deleteChannel('c1');
    expect(calls).toEqual([
      ['GET', '/api/channels/kinds', null],
      ['POST', '/api/channels', '{"kind":"slack","secrets":{"url":"https://hooks.slack.com/x"}}'],
      ['PATCH', '/api/channels/a%2Fb', '{"secrets":{"url":null},"enabled":true}'],
      ['POST', '/api/channels/c1/test', null],
      ['DELETE', '/api/channels/c1', null],
    ]);
  });

  it('gives a refused test its Retry-After', async () => {
    const { fetch } = mockFetch(429, { error: { code: 'rate_limited', message: 'tested under 10 s ago' } }, { 'retry-after': '6' });
    await expect(new ApiClient({ fetch }).testChannel('c1')).rejects.toMatchObject({ status: 429, code: 'rate_limited', retryAfter: 6 });
  });

  it('names the setting a 422 refuses', async () => {
    const { fetch } = mockFetch(422, { error: { code: 'validation', message: 'must be an http(s) URL', field: 'settings.url' } });
    const e = (await new ApiClient({ fetch }).createChannel({ kind: 'ntfy', settings: { url: 'ftp://x' } }).catch((x: unknown) => x)) as ApiError;
    expect(e).toMatchObject({ status: 422, code: 'validation', field: 'settings.url', message: 'must be an http(s) URL' });
    expect(e.isValidation).toBe(true);
  });
});

describe('admin and CSRF-safe writes', () => {
  it('sends the JSON content type on writes without a body, and none on reads', async () => {
    const { fetch, calls } = mockFetch(200, {});
    const c = new ApiClient({ fetch });
    await c.acknowledge('i1');
    await c.deleteToken('k1');
    await c.incidents();
    const type = (i: number) => (calls[i]!.init.headers as Record<string, string>)['content-type'];
    expect(type(0)).toBe('application/json');
    expect(type(1)).toBe('application/json');
    expect(type(2)).toBeUndefined();
  });

  it('lists users page by page and patches one', async () => {
    const { fetch, calls } = mockFetch(200, { items: [], total: 0, next_cursor: null });
    const c = new ApiClient({ fetch });
    await c.adminUsers({ limit: 50, cursor: 'abc' });
    await c.updateAdminUser('u 1', { may_private_targets: true, quota_overrides: { max_targets: null } });
    expect(calls.map((x) => `${x.init.method} ${x.url}`)).toEqual(['GET /api/admin/users?limit=50&cursor=abc', 'PATCH /api/admin/users/u%201']);
    expect(JSON.parse(calls[1]!.init.body as string)).toEqual({ may_private_targets: true, quota_overrides: { max_targets: null } });
  });

  it('names the field of a refused quota override', async () => {
    const { fetch } = mockFetch(422, { error: { code: 'validation', message: 'at most 100000', field: 'quota_overrides.max_targets' } });
    const err = await new ApiClient({ fetch }).updateAdminUser('u1', { quota_overrides: { max_targets: 1e9 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).field).toBe('quota_overrides.max_targets');
  });
});

describe('asPage', () => {
  it('accepts bare arrays', () => {
    expect(asPage([1, 2])).toEqual({ items: [1, 2], total: 2, next_cursor: null });
  });
  it('passes pages through', () => {
    const p = { items: [1], total: 9, next_cursor: 'c' };
    expect(asPage(p)).toBe(p);
  });
});
