// Overview state, kept out of components so that it can be unit-tested:
// - the filter/sort query and its URL form;
// - `TargetWindow`: a sparse, page-by-page view of a (possibly 10,000-row) target list, loaded
//   only as far as the user scrolls (the API pages by opaque cursor, so pages load in order);
// - `RowExtras`: sparklines and uptimes for the rows on screen, batched and cached.

import type { ApiClient } from '../api/client';
import type { RowUptime, SortOrder, Target, TargetQuery, TargetSort, TargetStatus, Uuid } from '../api/model';

export interface OverviewQuery {
  status: TargetStatus | '';
  tag: string;
  q: string;
  sort: TargetSort;
  order: SortOrder;
}

export const DEFAULT_QUERY: OverviewQuery = { status: '', tag: '', q: '', sort: 'status', order: 'asc' };

const STATUSES = new Set(['unknown', 'up', 'pending', 'degraded', 'down', 'flapping', 'paused']);
const SORTS = new Set(['name', 'status', 'changed']);

export function parseQuery(search: URLSearchParams): OverviewQuery {
  const status = search.get('status') ?? '';
  const sort = search.get('sort') ?? DEFAULT_QUERY.sort;
  const order = search.get('order');
  return {
    status: STATUSES.has(status) ? (status as TargetStatus) : '',
    tag: search.get('tag') ?? '',
    q: search.get('q') ?? '',
    sort: SORTS.has(sort) ? (sort as TargetSort) : DEFAULT_QUERY.sort,
    order: order === 'desc' || order === 'asc' ? order : DEFAULT_QUERY.order,
  };
}

/** The query as a URL search string, leaving defaults out (`''` when all are defaults). */
export function querySearch(q: OverviewQuery): string {
  const p = new URLSearchParams();
  if (q.status) p.set('status', q.status);
  if (q.tag) p.set('tag', q.tag);
  if (q.q) p.set('q', q.q);
  if (q.sort !== DEFAULT_QUERY.sort) p.set('sort', q.sort);
  if (q.order !== DEFAULT_QUERY.order) p.set('order', q.order);
  const s = p.toString();
  return s ? `?${s}` : '';
}

export function apiQuery(q: OverviewQuery): TargetQuery {
  return { status: q.status, tag: q.tag.trim(), q: q.q.trim(), sort: q.sort, order: q.order };
}

/** Which rows a scrolled list shows: [start, end) with overscan, clamped to the total. */
/** Skeleton rows drawn while the first page of a query loads. */
export const LOADING_ROWS = 30;

/** Rows the list lays out: skeletons until the first page came, then the query's rows (none for an empty one). */
export function rowsToLayOut(ready: boolean, total: number): number {
  return ready ? total : LOADING_ROWS;
}

export function visibleRange(scrollTop: number, viewport: number, rowHeight: number, total: number, overscan = 8): [number, number] {
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const count = Math.ceil(viewport / rowHeight);
  const end = Math.min(total, first + count + overscan);
  const start = Math.min(Math.max(0, first - overscan), end);
  return [start, end];
}

export class TargetWindow {
  readonly rows: (Target | undefined)[] = [];
  total = 0;
  /** Set once the first page has arrived. */
  ready = false;
  error: unknown = null;
  /** cursors[k] fetches page k; page 0 has no cursor. `undefined` = not known yet. */
  private readonly cursors: (string | null | undefined)[] = [null];
  private readonly pages = new Map<number, Promise<void>>();
  private readonly ctl = new AbortController();
  private exhaustedAt = Infinity;

  constructor(
    private readonly api: ApiClient,
    readonly query: TargetQuery,
    readonly pageSize = 200,
    private readonly onChange: () => void = () => undefined,
    /** A smaller first page paints sooner; later pages are larger so that far rows arrive in fewer requests. */
    readonly firstPageSize = pageSize,
  ) {}

  pageStart(k: number): number {
    return k === 0 ? 0 : this.firstPageSize + (k - 1) * this.pageSize;
  }

  pageOf(index: number): number {
    return index < this.firstPageSize ? 0 : 1 + Math.floor((index - this.firstPageSize) / this.pageSize);
  }

  private pageLimit(k: number): number {
    return k === 0 ? this.firstPageSize : this.pageSize;
  }

  dispose(): void {
    this.ctl.abort();
  }

  get disposed(): boolean {
    return this.ctl.signal.aborted;
  }

  /** Loads every page that holds a row of [start, end). Pages load in order (cursor chain). */
  async ensure(start: number, end: number): Promise<void> {
    const last = this.pageOf(Math.max(start, end - 1));
    const first = this.pageOf(start);
    for (let k = 0; k <= last && k < this.exhaustedAt; k++) {
      const needed = k >= first;
      if (!needed && this.cursors[k + 1] !== undefined) continue;
      await this.loadPage(k);
      if (this.disposed) return;
    }
  }

  private loadPage(k: number, force = false): Promise<void> {
    const existing = this.pages.get(k);
    if (existing && !force) return existing;
    const cursor = this.cursors[k];
    if (cursor === undefined) return Promise.resolve();
    const p = this.api
      .targets({ ...this.query, limit: this.pageLimit(k), cursor }, { signal: this.ctl.signal })
      .then((page) => {
        if (this.disposed) return;
        this.total = page.total;
        const base = this.pageStart(k);
        for (let i = 0; i < page.items.length; i++) this.rows[base + i] = page.items[i];
        if (force && page.items.length < this.pageLimit(k)) {
          // The list shrank: drop rows past its new end.
          this.rows.length = Math.min(this.rows.length, base + page.items.length);
        }
        this.cursors[k + 1] = page.next_cursor;
        if (!page.next_cursor) {
          this.exhaustedAt = k + 1;
          this.total = Math.min(this.total, base + page.items.length);
        } else if (this.exhaustedAt === k + 1) {
          this.exhaustedAt = Infinity;
        }
        this.ready = true;
        this.error = null;
        this.onChange();
      })
      .catch((e: unknown) => {
        this.pages.delete(k);
        if (this.disposed) return;
        this.error = e;
        this.ready = true;
        this.onChange();
      });
    this.pages.set(k, p);
    return p;
  }

  /** Re-fetches the loaded pages that cover [start, end), for polling. */
  async refresh(start: number, end: number): Promise<void> {
    const first = this.pageOf(start);
    const last = this.pageOf(Math.max(start, end - 1));
    for (let k = first; k <= last; k++) {
      if (this.cursors[k] === undefined) break;
      await this.loadPage(k, true);
      if (this.disposed) return;
    }
  }

  /** Rows loaded so far (for tests and for "jump" decisions). */
  get loaded(): number {
    let n = 0;
    for (const r of this.rows) if (r) n++;
    return n;
  }
}

interface Cached<T> {
  at: number;
  value: T;
}

/** Ids asked for in one call (the API takes up to 500). */
const BATCH = 100;

/** Sparklines and uptimes of the rows on screen: one call of each kind per batch of rows,
 *  cached for `ttlMs`. */
export class RowExtras {
  readonly sparks = new Map<Uuid, Cached<(number | null)[]>>();
  readonly uptimes = new Map<Uuid, Cached<RowUptime | null>>();
  private readonly inflight = new Set<Uuid>();

  constructor(
    private readonly api: ApiClient,
    private readonly onChange: () => void,
    private readonly ttlMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  private fresh<T>(c: Cached<T> | undefined): boolean {
    return !!c && this.now() - c.at < this.ttlMs;
  }

  /** Requests what the given rows miss. */
  want(ids: Uuid[]): void {
    const stale = ids.filter(
      (id) => !this.inflight.has(id) && !(this.fresh(this.sparks.get(id)) && this.fresh(this.uptimes.get(id))),
    );
    for (let i = 0; i < stale.length; i += BATCH) {
      const batch = stale.slice(i, i + BATCH);
      for (const id of batch) this.inflight.add(id);
      const sparks = this.api.sparklines(batch).then(
        (s) => {
          const at = this.now();
          for (const id of batch) this.sparks.set(id, { at, value: s[id] ?? [] });
          this.onChange();
        },
        () => {},
      );
      const uptimes = this.api.rowUptimes(batch).then(
        (u) => {
          const at = this.now();
          for (const id of batch) this.uptimes.set(id, { at, value: u[id] ?? null });
          this.onChange();
        },
        () => {
          // Shown as "no data" rather than loading forever; asked again after the TTL.
          const at = this.now();
          for (const id of batch) this.uptimes.set(id, { at, value: null });
          this.onChange();
        },
      );
      void Promise.all([sparks, uptimes]).then(() => {
        for (const id of batch) this.inflight.delete(id);
      });
    }
  }

  spark(id: Uuid): (number | null)[] | undefined {
    return this.sparks.get(id)?.value;
  }

  uptime(id: Uuid): RowUptime | null | undefined {
    return this.uptimes.get(id)?.value;
  }
}

/** Counts per state for the filter chips (one `limit=1` request each). */
export async function stateCounts(
  api: ApiClient,
  q: OverviewQuery,
  statuses: readonly TargetStatus[],
): Promise<Record<string, number>> {
  const base = apiQuery({ ...q, status: '' });
  const entries = await Promise.all(
    (['', ...statuses] as const).map(async (s) => {
      const page = await api.targets({ ...base, status: s, limit: 1 });
      return [s || 'all', page.total] as const;
    }),
  );
  return Object.fromEntries(entries);
}

/** SVG path of a sparkline; null points break the line. */
export function sparkPath(points: (number | null)[], width: number, height: number): string {
  const vals = points.filter((v): v is number => v !== null && Number.isFinite(v));
  if (!vals.length) return '';
  const max = Math.max(...vals);
  const min = Math.min(...vals);
  const span = max - min || 1;
  const dx = points.length > 1 ? width / (points.length - 1) : 0;
  let d = '';
  let pen = false;
  points.forEach((v, i) => {
    if (v === null || !Number.isFinite(v)) {
      pen = false;
      return;
    }
    const x = (i * dx).toFixed(1);
    const y = (height - 1 - ((v - min) / span) * (height - 2)).toFixed(1);
    d += `${pen ? 'L' : 'M'}${x} ${y}`;
    pen = true;
  });
  return d;
}
