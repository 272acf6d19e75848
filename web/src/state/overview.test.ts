import { describe, expect, it, vi } from 'vitest';
import { ApiClient } from '../api/client';
import type { Target } from '../api/model';
import { LOADING_ROWS, RowExtras, TargetWindow, parseQuery, querySearch, rowsToLayOut, sparkPath, stateCounts, visibleRange, DEFAULT_QUERY } from './overview';

function target(i: number): Target {
  return {
    id: `t${i}`,
    name: `target ${i}`,
    kind: 'http',
    spec: { kind: 'http', url: `http://127.0.0.1/${i}` },
    interval_seconds: 60,
    timeout_seconds: 10,
    regions: ['default'],
    tags: [],
    failure_threshold: 2,
    success_threshold: 1,
    paused: false,
    created_at: '',
    updated_at: '',
    state: { status: 'up', since: '2026-01-01T00:00:00Z', last_checked_at: null, last_latency_ms: 10 },
    baseline: { enabled: null, factor: 3, min_increase_ms: 100, active: false },
  };
}

/** A fake /api/targets over `n` rows whose cursor is the next offset. */
function fakeApi(n: number) {
  const urls: string[] = [];
  const fetch = vi.fn(async (url: string) => {
    urls.push(url);
    const u = new URL(url, 'http://x');
    if (u.pathname === '/api/targets') {
      const limit = Number(u.searchParams.get('limit'));
      const offset = Number(u.searchParams.get('cursor') ?? 0);
      const status = u.searchParams.get('status');
      const total = status ? 7 : n;
      const items = Array.from({ length: Math.max(0, Math.min(limit, total - offset)) }, (_, i) => target(offset + i));
      const next = offset + limit < total ? String(offset + limit) : null;
      return Response.json({ items, total, next_cursor: next });
    }
    if (u.pathname === '/api/overview/sparklines') {
      const ids = u.searchParams.get('ids')!.split(',');
      return Response.json(Object.fromEntries(ids.map((id) => [id, [1, 2, null, 4]])));
    }
    if (u.pathname === '/api/overview/uptime') {
      const ids = u.searchParams.get('ids')!.split(',');
      return Response.json(Object.fromEntries(ids.filter((id) => id !== 'gone').map((id) => [id, { h24: 1, d30: 0.99 }])));
    }
    return new Response('', { status: 404 });
  });
  return { api: new ApiClient({ fetch }), urls };
}

describe('query ↔ URL', () => {
  it('round-trips and drops defaults', () => {
    const q = { ...DEFAULT_QUERY, status: 'down' as const, q: 'shop', order: 'desc' as const };
    const s = querySearch(q);
    expect(s).toBe('?status=down&q=shop&order=desc');
    expect(parseQuery(new URLSearchParams(s))).toEqual(q);
    expect(querySearch(DEFAULT_QUERY)).toBe('');
  });
  it('ignores unknown values', () => {
    expect(parseQuery(new URLSearchParams('status=weird&sort=evil&order=up'))).toEqual(DEFAULT_QUERY);
  });
});

describe('rowsToLayOut', () => {
  it('draws skeletons only until the first page came: an empty list draws none', () => {
    expect(rowsToLayOut(false, 0)).toBe(LOADING_ROWS);
    expect(rowsToLayOut(true, 0)).toBe(0);
    expect(visibleRange(0, 800, 48, rowsToLayOut(true, 0))).toEqual([0, 0]);
    expect(rowsToLayOut(true, 7)).toBe(7);
  });
});

describe('visibleRange', () => {
  it('covers the viewport plus overscan, clamped', () => {
    expect(visibleRange(0, 480, 48, 10_000, 5)).toEqual([0, 15]);
    expect(visibleRange(4800, 480, 48, 10_000, 5)).toEqual([95, 115]);
    expect(visibleRange(1e9, 480, 48, 100, 5)).toEqual([100, 100]);
  });
});

describe('TargetWindow', () => {
  it('loads only the first page for the top of a 10,000-row list', async () => {
    const { api, urls } = fakeApi(10_000);
    const w = new TargetWindow(api, { sort: 'name' }, 200);
    await w.ensure(0, 30);
    expect(urls).toHaveLength(1);
    expect(urls[0]).toContain('limit=200');
    expect(w.total).toBe(10_000);
    expect(w.loaded).toBe(200);
    expect(w.rows[199]!.id).toBe('t199');
  });

  it('follows the cursor chain to reach a far row, each page once', async () => {
    const { api, urls } = fakeApi(10_000);
    const w = new TargetWindow(api, {}, 500);
    await Promise.all([w.ensure(2400, 2450), w.ensure(2400, 2450)]);
    expect(urls).toHaveLength(5);
    expect(w.rows[2449]!.id).toBe('t2449');
    await w.ensure(0, 10);
    expect(urls).toHaveLength(5);
  });

  it('takes a small first page, then large ones', async () => {
    const { api, urls } = fakeApi(10_000);
    const w = new TargetWindow(api, {}, 500, () => undefined, 100);
    await w.ensure(0, 20);
    expect(urls).toEqual([expect.stringContaining('limit=100')]);
    expect(w.pageOf(99)).toBe(0);
    expect(w.pageOf(100)).toBe(1);
    expect(w.pageOf(600)).toBe(2);
    await w.ensure(5000, 5030);
    // pages 1..10 (500 each) after the first: row 5000 lies in page 10 (4600..5099)
    expect(urls).toHaveLength(11);
    expect(urls[1]).toContain('limit=500&cursor=100');
    expect(w.rows[5029]!.id).toBe('t5029');
    expect(w.rows[4599]!.id).toBe('t4599');
  });

  it('stops at the end of the list', async () => {
    const { api, urls } = fakeApi(250);
    const w = new TargetWindow(api, {}, 200);
    await w.ensure(0, 1000);
    expect(urls).toHaveLength(2);
    expect(w.total).toBe(250);
  });

  it('refreshes the pages on screen by their cursors', async () => {
    const { api, urls } = fakeApi(1000);
    const onChange = vi.fn();
    const w = new TargetWindow(api, {}, 200, onChange);
    await w.ensure(400, 450);
    urls.length = 0;
    await w.refresh(400, 450);
    expect(urls).toHaveLength(1);
    expect(urls[0]).toContain('cursor=400');
    expect(onChange).toHaveBeenCalled();
  });

  it('does nothing after dispose', async () => {
    const { api } = fakeApi(1000);
    const w = new TargetWindow(api, {}, 200);
    w.dispose();
    await w.ensure(0, 10);
    expect(w.loaded).toBe(0);
  });

  it('keeps the error and lets a retry succeed', async () => {
    let fail = true;
    const fetch = vi.fn(async () => (fail ? new Response('{"error":{"code":"internal","message":"boom"}}', { status: 500 }) : Response.json({ items: [target(0)], total: 1, next_cursor: null })));
    const w = new TargetWindow(new ApiClient({ fetch }), {}, 200);
    await w.ensure(0, 10);
    expect(w.error).toBeTruthy();
    fail = false;
    await w.ensure(0, 10);
    expect(w.error).toBeNull();
    expect(w.total).toBe(1);
  });
});

describe('RowExtras', () => {
  it('asks for the rows in one sparkline and one uptime call per batch and caches', async () => {
    const { api, urls } = fakeApi(100);
    let changed = 0;
    const x = new RowExtras(api, () => changed++, 60_000);
    x.want(['t1', 't2', 't3', 'gone']);
    await vi.waitFor(() => expect(x.uptime('t3')).toBeDefined());
    await vi.waitFor(() => expect(x.spark('t3')).toBeDefined());
    expect(urls.filter((u) => u.includes('/sparklines'))).toHaveLength(1);
    expect(urls.filter((u) => u.includes('/api/overview/uptime'))).toEqual(['/api/overview/uptime?ids=t1%2Ct2%2Ct3%2Cgone']);
    expect(urls.filter((u) => u.endsWith('/overview'))).toHaveLength(0);
    expect(x.spark('t2')).toEqual([1, 2, null, 4]);
    expect(x.uptime('t1')).toEqual({ h24: 1, d30: 0.99 });
    expect(x.uptime('gone')).toBeNull();
    const before = urls.length;
    x.want(['t1', 't2', 't3']);
    expect(urls.length).toBe(before);
    expect(changed).toBeGreaterThan(0);
  });

  it('splits many rows into batches of 100 and asks again after the TTL', async () => {
    const { api, urls } = fakeApi(1000);
    let clock = 0;
    const x = new RowExtras(api, () => {}, 1_000, () => clock);
    const ids = Array.from({ length: 250 }, (_, i) => `t${i}`);
    x.want(ids);
    await vi.waitFor(() => expect(x.uptime('t249')).toBeDefined());
    await vi.waitFor(() => expect(urls.filter((u) => u.includes('/sparklines'))).toHaveLength(3));
    expect(urls.filter((u) => u.includes('/api/overview/uptime'))).toHaveLength(3);
    clock = 2_000;
    await vi.waitFor(() => {
      x.want(['t0']);
      expect(urls.filter((u) => u.includes('/api/overview/uptime'))).toHaveLength(4);
    });
  });
});

describe('stateCounts', () => {
  it('asks for the total of each state with limit=1', async () => {
    const { api, urls } = fakeApi(10_000);
    const c = await stateCounts(api, { ...DEFAULT_QUERY, q: 'x' }, ['up', 'down']);
    expect(c).toEqual({ all: 10_000, up: 7, down: 7 });
    expect(urls.every((u) => u.includes('limit=1') && u.includes('q=x'))).toBe(true);
  });
});

describe('sparkPath', () => {
  it('draws a line and breaks it on nulls', () => {
    expect(sparkPath([], 10, 10)).toBe('');
    expect(sparkPath([null, null], 10, 10)).toBe('');
    const d = sparkPath([0, 10, null, 5], 30, 11);
    expect(d).toBe('M0.0 10.0L10.0 1.0M30.0 5.5');
  });
});
