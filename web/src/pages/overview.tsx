// Overview: every target with its state, virtualised (only the rows on screen are rendered,
// only the pages scrolled to are fetched), filtered and sorted by the API, polled every 15 s.

import { useEffect, useLayoutEffect, useMemo, useReducer, useRef, useState } from 'preact/hooks';
import { api } from '../api/client';
import type { CheckKind, RowUptime, Target, TargetStatus } from '../api/model';
import { ErrorBox, NewLink, PageHead, StatusPill, useTitle, val } from '../components/ui';
import { formatAgo, formatMs, formatUptime } from '../format';
import { lang, t, tn, type MessageKey } from '../i18n';
import { navigate, useLocation } from '../router';
import { describeSchedule } from '../state/heartbeat';
import { canEdit } from '../state/organisation';
import { role } from '../session';
import {
  RowExtras,
  TargetWindow,
  apiQuery,
  parseQuery,
  querySearch,
  rowsToLayOut,
  sparkPath,
  stateCounts,
  visibleRange,
  type OverviewQuery,
} from '../state/overview';

const POLL_MS = 15_000;
const CHIPS: readonly TargetStatus[] = ['up', 'degraded', 'down', 'paused'];

function useRowHeight(): number {
  const mq = useMemo(() => window.matchMedia('(max-width: 700px)'), []);
  const [narrow, setNarrow] = useState(mq.matches);
  useEffect(() => {
    const f = () => setNarrow(mq.matches);
    mq.addEventListener('change', f);
    return () => mq.removeEventListener('change', f);
  }, [mq]);
  return narrow ? 68 : 48;
}

export function OverviewPage() {
  useTitle(t('overview.title'));
  const loc = useLocation();
  const query = parseQuery(loc.search);
  const key = querySearch(query);
  const [text, setText] = useState(query.q);
  const [tagText, setTagText] = useState(query.tag);
  const [, bump] = useReducer((x: number) => x + 1, 0);
  const redraw = () => bump(undefined);
  const rowHeight = useRowHeight();
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(800);
  const [counts, setCounts] = useState<Record<string, number> | null>(null);
  const [updatedAt, setUpdatedAt] = useState(Date.now());

  const extras = useMemo(() => new RowExtras(api, redraw), []);
  const win = useMemo(() => new TargetWindow(api, apiQuery(query), 500, redraw, 100), [key]);
  // While a new query loads, keep showing the previous result instead of an empty list.
  const lastRef = useRef<TargetWindow | null>(null);
  const prevRef = useRef<TargetWindow | null>(null);
  if (lastRef.current !== win) {
    if (lastRef.current?.ready) {
      prevRef.current?.dispose();
      prevRef.current = lastRef.current;
    } else {
      lastRef.current?.dispose();
    }
    lastRef.current = win;
  }
  if (win.ready && prevRef.current) {
    prevRef.current.dispose();
    prevRef.current = null;
  }
  const shown = win.ready || !prevRef.current ? win : prevRef.current;
  useEffect(
    () => () => {
      lastRef.current?.dispose();
      prevRef.current?.dispose();
    },
    [],
  );

  // Apply the typed filters to the URL after a short pause.
  useEffect(() => {
    if (text === query.q && tagText === query.tag) return;
    const id = setTimeout(() => setQuery({ ...query, q: text, tag: tagText }), 150);
    return () => clearTimeout(id);
  }, [text, tagText]);
  useEffect(() => {
    setText(query.q);
    setTagText(query.tag);
    if (scroller.current) scroller.current.scrollTop = 0;
    setScrollTop(0);
  }, [key]);

  // "/" focuses the filter, as in most dashboards.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const el = e.target as HTMLElement | null;
      if (e.key !== '/' || e.ctrlKey || e.metaKey || el?.closest('input, textarea, select')) return;
      e.preventDefault();
      document.querySelector<HTMLInputElement>('input[name=q]')?.focus();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);

  function setQuery(q: OverviewQuery) {
    navigate(`/${querySearch(q)}`, true);
  }

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setViewport(el.clientHeight));
    ro.observe(el);
    setViewport(el.clientHeight);
    return () => ro.disconnect();
  }, []);

  const total = shown.ready ? shown.total : 0;
  const [start, end] = visibleRange(scrollTop, viewport, rowHeight, rowsToLayOut(shown.ready, total));

  // Fetch the pages of the rows on screen.
  useEffect(() => {
    void win.ensure(start, Math.max(end, 1));
  }, [win, start, end]);

  // Sparklines and uptimes of the rows on screen, once scrolling settles.
  const visibleIds: string[] = [];
  for (let i = start; i < end; i++) {
    const r = shown.rows[i];
    if (r) visibleIds.push(r.id);
  }
  const idsKey = visibleIds.join(',');
  useEffect(() => {
    if (!visibleIds.length) return;
    const id = setTimeout(() => extras.want(visibleIds), 120);
    return () => clearTimeout(id);
  }, [idsKey]);

  // State counts for the chips.
  useEffect(() => {
    let live = true;
    stateCounts(api, query, CHIPS).then(
      (c) => live && setCounts(c),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [query.q, query.tag, updatedAt]);

  // Polling: refresh what is on screen.
  const range = useRef<[number, number]>([start, end]);
  range.current = [start, end];
  useEffect(() => {
    const id = setInterval(() => {
      if (document.visibilityState !== 'visible') return;
      const [s, e] = range.current;
      void win.refresh(s, Math.max(e, 1)).then(() => setUpdatedAt(Date.now()));
    }, POLL_MS);
    return () => clearInterval(id);
  }, [win]);

  // Marks for the benchmark and the browser tests.
  useEffect(() => {
    if (win.ready) {
      const w = window as unknown as { __ptOverviewReady?: number };
      w.__ptOverviewReady ??= performance.now();
    }
  }, [win.ready]);

  const rows = [];
  for (let i = start; i < end; i++) {
    const tg = shown.rows[i];
    // Row data goes in as props: @preact/signals skips re-rendering a signal-reading component whose props are unchanged.
    rows.push(<Row key={i} index={i} top={i * rowHeight} height={rowHeight} target={tg} uptime={tg ? extras.uptime(tg.id) : undefined} spark={tg ? extras.spark(tg.id) : undefined} />);
  }

  return (
    <div class="page overview">
      <PageHead title={t('overview.title')}>
        <div class="actions">
          <a class="btn" href="/dependencies" data-testid="tag-deps-link">
            {t('tagdeps.title')}
          </a>
          {canEdit(role.value) ? <NewLink href="/targets/new" testid="add-target" label={t('overview.addTarget')} /> : null}
        </div>
      </PageHead>
      <div class="toolbar">
        <div class="chips" role="group">
          <button
            type="button"
            class={`chip${query.status === '' ? ' active' : ''}`}
            onClick={() => setQuery({ ...query, status: '' })}
          >
            {t('common.all')} {counts ? <b>{counts.all}</b> : null}
          </button>
          {CHIPS.map((s) => (
            <button
              type="button"
              data-chip={s}
              class={`chip chip-${s}${query.status === s ? ' active' : ''}`}
              onClick={() => setQuery({ ...query, status: query.status === s ? '' : s })}
            >
              <span class="dot" /> {t(`status.${s}` as MessageKey)} {counts ? <b>{counts[s] ?? 0}</b> : null}
            </button>
          ))}
        </div>
        <input
          type="search"
          class="grow"
          name="q"
          placeholder={`${t('overview.filterText')}  /`}
          aria-label={t('overview.filterText')}
          value={text}
          onInput={(e) => setText(val(e))}
        />
        <input
          type="search"
          name="tag"
          class="tag-input"
          placeholder={t('overview.tag')}
          aria-label={t('overview.tag')}
          value={tagText}
          onInput={(e) => setTagText(val(e))}
        />
        <select
          aria-label={t('overview.sort')}
          name="sort"
          value={query.sort}
          onChange={(e) => setQuery({ ...query, sort: val(e) as OverviewQuery['sort'] })}
        >
          <option value="status">{t('overview.sort.status')}</option>
          <option value="name">{t('overview.sort.name')}</option>
          <option value="changed">{t('overview.sort.changed')}</option>
        </select>
        <button
          type="button"
          class="btn"
          title={query.order === 'asc' ? t('overview.order.asc') : t('overview.order.desc')}
          aria-label={query.order === 'asc' ? t('overview.order.asc') : t('overview.order.desc')}
          onClick={() => setQuery({ ...query, order: query.order === 'asc' ? 'desc' : 'asc' })}
        >
          {query.order === 'asc' ? '↑' : '↓'}
        </button>
      </div>
      <ErrorBox error={win.error} onRetry={() => void win.ensure(start, end)} />
      <div class="list-meta muted">
        <span data-testid="target-count">{shown.ready ? tn('targets', total) : t('common.loading')}</span>
        <span>{t('overview.updated', { ago: formatAgo(new Date(updatedAt).toISOString(), Date.now(), lang.value) })}</span>
      </div>
      <div class="vlist-head" aria-hidden="true">
        <span>{t('overview.col.target')}</span>
        <span>{t('overview.col.state')}</span>
        <span>{t('overview.col.since')}</span>
        <span class="num">{t('overview.col.uptime24')}</span>
        <span class="num">{t('overview.col.uptime30')}</span>
        <span class="num">{t('overview.col.latency')}</span>
        <span>{t('overview.col.trend')}</span>
      </div>
      <div
        class="vlist"
        ref={scroller}
        role="list"
        data-testid="target-list"
        data-total={total}
        data-query={shown.query.q ?? ''}
        data-ready={shown.ready ? '1' : '0'}
        onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
      >
        <div class="vlist-inner" style={{ height: `${total * rowHeight}px` }}>
          {rows}
        </div>
        {shown.ready && total === 0 ? (
          <div class="empty">{query.q || query.tag || query.status ? t('overview.noMatch') : t('overview.empty')}</div>
        ) : null}
      </div>
    </div>
  );
}

function Row({
  index,
  top,
  height,
  target,
  uptime,
  spark,
}: {
  index: number;
  top: number;
  height: number;
  target: Target | undefined;
  uptime: RowUptime | null | undefined;
  spark: (number | null)[] | undefined;
}) {
  const style = { transform: `translateY(${top}px)`, height: `${height}px` };
  if (!target) {
    return (
      <div class="vrow placeholder" style={style} role="listitem" data-index={index}>
        <span class="skeleton" />
      </div>
    );
  }
  const st = target.state;
  return (
    <a class="vrow" style={style} role="listitem" href={`/targets/${target.id}`} data-index={index} data-target-id={target.id} data-status={st.status}>
      <span class="cell name">
        <b class="target-name">{target.name}</b>
        <small class="muted addr">{addressOf(target)}</small>
      </span>
      <span class="cell">
        <StatusPill status={target.paused ? 'paused' : st.status} />
      </span>
      <span class="cell muted since">{formatAgo(st.since, Date.now(), lang.value)}</span>
      <span class="cell num" data-testid="uptime24">{uptime === undefined ? '…' : formatUptime(uptime?.h24)}</span>
      <span class="cell num">{uptime === undefined ? '…' : formatUptime(uptime?.d30)}</span>
      <span class="cell num">{formatMs(st.last_latency_ms)}</span>
      <span class="cell spark">{spark ? <Sparkline points={spark} /> : null}</span>
    </a>
  );
}

export function Sparkline({ points, width = 96, height = 24 }: { points: (number | null)[]; width?: number; height?: number }) {
  const d = sparkPath(points, width, height);
  return (
    <svg class="sparkline" width={width} height={height} viewBox={`0 0 ${width} ${height}`} aria-hidden="true">
      {d ? <path d={d} /> : null}
    </svg>
  );
}

/** A check kind's name: the protocols' acronyms, a heartbeat's word. */
export function kindLabel(kind: CheckKind): string {
  return kind === 'heartbeat' ? t('target.kind.heartbeat') : kind.toUpperCase();
}

/** What a target watches, in a line: its URL or host, a DNS query, a heartbeat's schedule. */
export function addressOf(target: Pick<Target, 'spec'>): string {
  const s = target.spec;
  switch (s.kind) {
    case 'http':
      return s.url;
    case 'tcp':
      return `${s.host}:${s.port}`;
    case 'dns':
      return `${s.record_type} ${s.name}`;
    case 'tls':
      return `${s.host}:${s.port ?? 443}`;
    case 'icmp':
      return s.host;
    case 'heartbeat':
      // A heartbeat has no address: its schedule, and its slug when it has one.
      return [s.slug, describeSchedule(s, lang.value)].filter(Boolean).join(' · ');
  }
}
