// One target: state and uptime, the latency chart by phase and percentile over a chosen range,
// 90 daily uptime bars, recent results with their details, its incidents, its channels.

import { signal } from '@preact/signals';
import { lazy, Suspense } from 'preact/compat';
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api/client';
import type { CheckResult, DailyUptime, HeartbeatSpec, Incident, Ping, Target } from '../api/model';
import { ResultView, failureText } from '../components/result';
import { CopyButton, ErrorBox, Section, Spinner, StatusPill, Table, Tabs, errorMessage, useAsync, useTitle } from '../components/ui';
import {
  formatAgo,
  formatDate,
  formatDateTime,
  formatDuration,
  formatMs,
  formatRunDuration,
  formatUntil,
  formatUptime,
  resultSummary,
  stepFor,
} from '../format';
import { lang, t } from '../i18n';
import { navigate } from '../router';
import { role, theme, toast } from '../session';
import { canEdit } from '../state/organisation';
import type { PercentileKey } from '../components/latencyChart';
import { describeSchedule, eventTone, heartbeatSummary, nextPing, pingExamples, type NextPing } from '../state/heartbeat';
import { kindName } from './channels';
import { addressOf, kindLabel } from './overview';
import { IncidentRow } from './incidents';

const LatencyChart = lazy(() => import('../components/latencyChart'));

const RANGES = [
  { key: '1h', seconds: 3600 },
  { key: '6h', seconds: 6 * 3600 },
  { key: '24h', seconds: 86400 },
  { key: '7d', seconds: 7 * 86400 },
  { key: '30d', seconds: 30 * 86400 },
  { key: '90d', seconds: 90 * 86400 },
] as const;
type RangeKey = (typeof RANGES)[number]['key'];

export function TargetPage({ id }: { id: string }) {
  const target = useAsync((s) => api.request<Target>('GET', `/api/targets/${encodeURIComponent(id)}`, undefined, { signal: s }), [id], 15_000);
  const overview = useAsync((s) => api.overview(id, { signal: s }), [id], 30_000);
  useTitle(target.data?.name ?? '');

  if (target.error) return <ErrorBox error={target.error} onRetry={target.reload} />;
  if (!target.data) return <Spinner />;
  const tg = target.data;
  const ov = overview.data;
  const status = tg.paused ? 'paused' : tg.state.status;
  const heartbeat = tg.spec.kind === 'heartbeat' ? tg.spec : null;

  async function togglePause() {
    const { id: _id, created_at: _c, updated_at: _u, state: _s, ping_url: _p, heartbeat: _h, ...input } = tg;
    try {
      target.set(await api.updateTarget(tg.id, { ...input, paused: !tg.paused }));
    } catch (e) {
      toast(String(e), 'error');
    }
  }

  async function remove() {
    if (!confirm(t('common.confirmDelete', { name: tg.name }))) return;
    await api.deleteTarget(tg.id);
    toast(t('target.deleted'));
    navigate('/');
  }

  return (
    <div class="page" data-testid="target-page" data-target-id={tg.id}>
      <div class="page-head">
        <div class="target-head">
          <h1 data-testid="target-title">{tg.name}</h1>
          <StatusPill status={status} />
          <span class="muted">
            {tg.state.since ? formatAgo(tg.state.since, Date.now(), lang.value) : ''} · {t('target.lastChecked', { ago: formatAgo(tg.state.last_checked_at, Date.now(), lang.value) })}
          </span>
        </div>
        <div class="actions">
          {canEdit(role.value) ? (
            <>
              {heartbeat ? null : <TestNowButton id={tg.id} />}
              <button type="button" class="btn" onClick={togglePause} data-testid="pause-target">
                {tg.paused ? t('target.resume') : t('target.pause')}
              </button>
              <a class="btn" href={`/targets/${tg.id}/edit`} data-testid="edit-target">
                {t('common.edit')}
              </a>
              <button type="button" class="btn btn-danger" onClick={remove} data-testid="delete-target">
                {t('common.delete')}
              </button>
            </>
          ) : (
            <span class="muted" data-testid="read-only">{t('org.readOnly')}</span>
          )}
        </div>
      </div>
      <div class="muted">
        <code>{addressOf(tg)}</code> · {kindLabel(tg.spec.kind)} ·{' '}
        {heartbeat
          ? t('hb.graceShort', { span: formatDuration(heartbeat.grace_seconds ?? 300, lang.value) })
          : formatDuration(tg.interval_seconds, lang.value)}
        {tg.tags.length ? ` · ${tg.tags.map((x) => `#${x}`).join(' ')}` : ''}
      </div>
      {tg.state.last_failure ? (
        <div class="notice notice-error">
          <b>{failureText(tg.state.last_failure.kind)}</b> {tg.state.last_failure.message}
        </div>
      ) : null}
      <div class="stats" data-testid="uptime-stats">
        {(['h24', 'd7', 'd30', 'd90'] as const).map((k) => (
          <div class="stat">
            <div class="v">{ov ? formatUptime(ov.uptime[k]) : '…'}</div>
            <div class="k">
              {t('target.uptime')} {k === 'h24' ? t('overview.col.uptime24') : t('target.days', { n: k.slice(1) })}
            </div>
          </div>
        ))}
        {heartbeat ? (
          <div class="stat">
            <div class="v">{formatRunDuration(tg.heartbeat?.last_duration_ms)}</div>
            <div class="k">{t('hb.lastDuration')}</div>
          </div>
        ) : (
          <div class="stat">
            <div class="v">{formatMs(tg.state.last_latency_ms)}</div>
            <div class="k">{t('target.latency')}</div>
          </div>
        )}
      </div>
      <TestNowResult />
      {heartbeat ? (
        <>
          <HeartbeatSection target={tg} spec={heartbeat} onRotated={target.set} />
          <PingExamplesSection target={tg} spec={heartbeat} />
          <PingsSection id={tg.id} />
        </>
      ) : null}
      <LatencySection id={tg.id} title={heartbeat ? t('hb.runDurations') : t('target.latency')} />
      <DailySection id={tg.id} />
      <ResultsSection id={tg.id} />
      <IncidentsSection id={tg.id} />
      <ChannelsSection id={tg.id} />
      <BadgeSection id={tg.id} />
    </div>
  );
}

/** A heartbeat's URLs, schedule and state (the next ping, the last ones), and the "new ping URL" action. */
function HeartbeatSection({ target, spec, onRotated }: { target: Target; spec: HeartbeatSpec; onRotated: (t: Target) => void }) {
  const hb = target.heartbeat;
  const now = Date.now();
  async function rotate() {
    if (!confirm(t('hb.rotateConfirm'))) return;
    try {
      onRotated(await api.rotatePingToken(target.id));
      toast(t('hb.rotated'));
    } catch (e) {
      toast(errorMessage(e), 'error');
    }
  }
  const when = (iso: string | null | undefined) => (iso ? `${formatDateTime(iso, lang.value)} (${formatAgo(iso, now, lang.value)})` : '—');
  return (
    <Section
      title={t('hb.section')}
      actions={
        <button type="button" class="btn btn-small" data-testid="rotate-ping-url" onClick={rotate}>
          {t('hb.rotate')}
        </button>
      }
    >
      <dl class="kv" data-testid="heartbeat-state">
        <dt>{t('hb.pingUrl')}</dt>
        <dd>
          {target.ping_url ? <UrlLine url={target.ping_url} testid="ping-url" /> : '—'}
        </dd>
        {hb?.slug_url ? (
          <>
            <dt>{t('hb.slugUrl')}</dt>
            <dd>
              <UrlLine url={hb.slug_url} testid="slug-url" />
            </dd>
          </>
        ) : null}
        <dt>{t('hb.schedule')}</dt>
        <dd>
          <span class="mono">{describeSchedule(spec, lang.value)}</span> · {t('hb.graceShort', { span: formatDuration(spec.grace_seconds ?? 300, lang.value) })}
        </dd>
        <dt>{t('hb.nextPing')}</dt>
        <NextPingText next={nextPing(target.paused, hb, now)} now={now} />
        <dt>{t('hb.lastPing')}</dt>
        <dd>{when(hb?.last_ping_at)}</dd>
        <dt>{t('hb.lastSuccess')}</dt>
        <dd>{when(hb?.last_success_at)}</dd>
        <dt>{t('hb.lastDuration')}</dt>
        <dd class="mono">{formatRunDuration(hb?.last_duration_ms)}</dd>
        <dt>{t('hb.pingCount')}</dt>
        <dd class="mono">{hb?.pings ?? 0}</dd>
      </dl>
      <p class="hint">{t('hb.urlHint')}</p>
    </Section>
  );
}

function UrlLine({ url, testid }: { url: string; testid: string }) {
  return (
    <span class="row">
      <code data-testid={testid}>{url}</code>
      <CopyButton text={url} />
    </span>
  );
}

function NextPingText({ next, now }: { next: NextPing; now: number }) {
  const at = (iso: string) => formatDateTime(iso, lang.value);
  let text: string;
  switch (next.kind) {
    case 'paused':
      text = t('hb.next.paused');
      break;
    case 'waiting':
      text = t('hb.next.waiting');
      break;
    case 'running':
      text = t('hb.next.running', { at: `${at(next.since)} (${formatAgo(next.since, now, lang.value)})` });
      break;
    case 'expected':
      text = t('hb.next.expected', { at: `${at(next.at)} (${formatUntil(next.at, now, lang.value)})` });
      break;
    case 'overdue':
      text = t('hb.next.overdue', { at: `${at(next.at)} (${formatAgo(next.at, now, lang.value)})` });
      break;
  }
  const alertAt = 'alertAt' in next ? next.alertAt : null;
  return (
    <dd data-testid="next-ping" data-next={next.kind}>
      {text}
      {alertAt ? <div class="muted">{t('hb.next.alertAt', { at: `${at(alertAt)} (${formatUntil(alertAt, now, lang.value)})` })}</div> : null}
    </dd>
  );
}

/** Copy-ready commands that ping the heartbeat, with its ping URL or its slug URL. */
function PingExamplesSection({ target, spec }: { target: Target; spec: HeartbeatSpec }) {
  const [which, setWhich] = useState<'ping' | 'slug'>('ping');
  const slugUrl = target.heartbeat?.slug_url;
  const url = which === 'slug' && slugUrl ? slugUrl : target.ping_url;
  if (!url) return null;
  return (
    <Section
      title={t('hb.examples')}
      actions={
        slugUrl ? (
          <Tabs
            value={which}
            options={[
              { value: 'ping', label: t('hb.pingUrl') },
              { value: 'slug', label: t('hb.slugUrl') },
            ]}
            onChange={setWhich}
          />
        ) : undefined
      }
    >
      {pingExamples(url, spec).map((e) => (
        <div class="snippet-block" data-testid="ping-example" data-example={e.key}>
          <div class="row">
            <h3 class="grow">{t(e.key === 'crontab' && spec.cron === undefined ? 'hb.example.crontabPeriod' : `hb.example.${e.key}`)}</h3>
            <CopyButton text={e.command} />
          </div>
          <pre class="snippet mono">{e.command}</pre>
          {e.key === 'crontab' && spec.cron !== undefined ? <p class="hint">{t('hb.example.crontabZone', { tz: spec.timezone ?? 'UTC' })}</p> : null}
        </div>
      ))}
    </Section>
  );
}

/** The heartbeat's last pings, newest first; a ping's body (untrusted text) opens as plain text. */
function PingsSection({ id }: { id: string }) {
  const data = useAsync((s) => api.pings(id, 50, { signal: s }), [id], 15_000);
  const [open, setOpen] = useState<string | null>(null);
  const items: Ping[] = data.data?.items ?? [];
  const keyOf = (p: Ping, i: number) => `${p.received_at}|${p.event}|${i}`;
  return (
    <Section title={t('hb.pings')}>
      <ErrorBox error={data.error} onRetry={data.reload} />
      {items.length === 0 && !data.loading ? <div class="empty">{t('hb.noPings')}</div> : null}
      {items.length ? (
        <Table testid="pings-table" head={[t('hb.col.time'), t('hb.col.event'), t('hb.col.exitStatus'), t('hb.col.duration'), t('hb.col.client'), t('hb.col.body')]}>
          {items.map((p, i) => {
            const key = keyOf(p, i);
            return (
              <>
                <tr data-event={p.event}>
                  <td class="muted">{formatDateTime(p.received_at, lang.value)}</td>
                  <td>
                    <span class={`pill pill-${eventTone(p.event, p.exit_status)}`}>
                      <span class="dot" aria-hidden="true" />
                      {t(`hb.event.${p.event}`)}
                    </span>
                  </td>
                  <td class="mono">{p.exit_status ?? ''}</td>
                  <td class="mono">{p.duration_ms === null || p.duration_ms === undefined ? '' : formatRunDuration(p.duration_ms, lang.value)}</td>
                  <td>
                    <span class="mono">{p.client_ip}</span> <span class="muted">{p.method}</span>
                    {p.user_agent ? <div class="muted ua">{p.user_agent}</div> : null}
                  </td>
                  <td>
                    {p.body ? (
                      <button type="button" class="btn btn-small" aria-expanded={open === key} data-testid="ping-body-toggle" onClick={() => setOpen(open === key ? null : key)}>
                        {open === key ? t('hb.hideBody') : t('hb.showBody')}
                      </button>
                    ) : null}
                  </td>
                </tr>
                {open === key && p.body ? (
                  <tr>
                    <td colSpan={6}>
                      <pre class="snippet mono" data-testid="ping-body">
                        {p.body}
                      </pre>
                    </td>
                  </tr>
                ) : null}
              </>
            );
          })}
        </Table>
      ) : null}
    </Section>
  );
}

const testNow = signal<{ busy: boolean; result: CheckResult | null; error: unknown }>({ busy: false, result: null, error: null });

function TestNowButton({ id }: { id: string }) {
  useEffect(() => () => void (testNow.value = { busy: false, result: null, error: null }), [id]);
  return (
    <button
      type="button"
      class="btn"
      data-testid="target-test-now"
      disabled={testNow.value.busy}
      onClick={async () => {
        testNow.value = { busy: true, result: null, error: null };
        try {
          testNow.value = { busy: false, result: await api.testTarget(id), error: null };
        } catch (e) {
          testNow.value = { busy: false, result: null, error: e };
        }
      }}
    >
      {testNow.value.busy ? t('target.testing') : t('target.testNow')}
    </button>
  );
}

function TestNowResult() {
  const { result, error } = testNow.value;
  if (!result && !error) return null;
  return (
    <Section
      title={t('target.testResult')}
      actions={
        <button type="button" class="btn btn-small" onClick={() => (testNow.value = { busy: false, result: null, error: null })}>
          ✕
        </button>
      }
    >
      <ErrorBox error={error} />
      {result ? <ResultView result={result} /> : null}
    </Section>
  );
}

function LatencySection({ id, title }: { id: string; title: string }) {
  const [range, setRange] = useState<RangeKey>('24h');
  const [pct, setPct] = useState<PercentileKey>('p50');
  const seconds = RANGES.find((r) => r.key === range)!.seconds;
  const [span, setSpan] = useState<[number, number]>([0, 0]);
  const data = useAsync(
    () => {
      const to = new Date();
      const from = new Date(to.getTime() - seconds * 1000);
      setSpan([from.getTime() / 1000, to.getTime() / 1000]);
      return api.latency(id, from.toISOString(), to.toISOString(), stepFor(seconds));
    },
    [id, range],
    60_000,
  );
  // The baseline changes hourly: fetched once per target, drawn behind every range.
  const baseline = useAsync(() => api.baseline(id), [id]);
  return (
    <Section
      title={title}
      actions={
        <>
          <Tabs value={range} options={RANGES.map((r) => ({ value: r.key, label: r.key }))} onChange={setRange} />
          <select aria-label={t('target.percentile')} value={pct} onChange={(e) => setPct(e.currentTarget.value as PercentileKey)}>
            <option value="p50">p50</option>
            <option value="p95">p95</option>
            <option value="p99">p99</option>
          </select>
        </>
      }
    >
      <ErrorBox error={data.error} onRetry={data.reload} />
      {data.data && data.data.points.length === 0 ? <div class="empty">{t('target.noData')}</div> : null}
      {data.data && data.data.points.length > 0 ? (
        <Suspense fallback={<div class="chart" />}>
          <LatencyChart
            points={data.data.points}
            pct={pct}
            themeKey={`${theme.value}${lang.value}`}
            from={span[0]}
            to={span[1]}
            band={baseline.data}
          />
        </Suspense>
      ) : null}
      {!data.data && !data.error ? <div class="chart" /> : null}
    </Section>
  );
}

export function dayTone(d: { uptime: number | null }): string {
  if (d.uptime === null) return '';
  if (d.uptime >= 0.9995) return 'b-up';
  if (d.uptime >= 0.99) return 'b-mostly';
  if (d.uptime >= 0.95) return 'b-degraded';
  return 'b-down';
}

export function UptimeBars({ days }: { days: { date: string; uptime: number | null; downtime_seconds?: number }[] }) {
  return (
    <>
      <div class="bars" data-testid="uptime-bars">
        {days.map((d) => (
          <span
            class={`bar ${dayTone(d)}`}
            title={`${formatDate(d.date, lang.value)}: ${formatUptime(d.uptime)}${d.downtime_seconds ? ` · ${formatDuration(d.downtime_seconds, lang.value)}` : ''}`}
          />
        ))}
      </div>
      <div class="bars-legend">
        <span>{days[0] ? formatDate(days[0].date, lang.value) : ''}</span>
        <span>{days.length ? formatDate(days[days.length - 1]!.date, lang.value) : ''}</span>
      </div>
    </>
  );
}

function DailySection({ id }: { id: string }) {
  const data = useAsync(() => api.dailyUptime(id, 90), [id]);
  const days: DailyUptime[] = data.data?.days ?? [];
  return (
    <Section title={t('target.daily')}>
      <ErrorBox error={data.error} onRetry={data.reload} />
      {days.length ? <UptimeBars days={days} /> : data.loading ? <div class="bars" /> : <div class="empty">{t('target.noData')}</div>}
    </Section>
  );
}

function ResultsSection({ id }: { id: string }) {
  const [extra, setExtra] = useState<CheckResult[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const first = useAsync(() => api.results(id, { limit: 25 }), [id], 15_000);
  const [open, setOpen] = useState<string | null>(null);
  useEffect(() => {
    setExtra([]);
    setCursor(null);
  }, [id]);
  const rows = [...(first.data?.items ?? []), ...extra];
  const next = extra.length ? cursor : (first.data?.next_cursor ?? null);
  return (
    <Section title={t('target.results')}>
      <ErrorBox error={first.error} onRetry={first.reload} />
      {rows.length === 0 && !first.loading ? <div class="empty">{t('target.noResults')}</div> : null}
      <Table testid="results-table">
        {rows.map((r) => (
          <>
            <tr class="clickable" onClick={() => setOpen(open === r.result_id ? null : r.result_id)} data-outcome={r.outcome}>
              <td>
                <StatusPill status={r.outcome} />
              </td>
              <td class="muted">{formatDateTime(r.started_at, lang.value)}</td>
              <td>{r.heartbeat ? heartbeatSummary(r, lang.value) : resultSummary(r)}</td>
              <td class="muted">{r.region}</td>
            </tr>
            {open === r.result_id ? (
              <tr>
                <td colSpan={4}>
                  <ResultView result={r} />
                </td>
              </tr>
            ) : null}
          </>
        ))}
      </Table>
      {next ? (
        <button
          type="button"
          class="btn"
          onClick={async () => {
            const page = await api.results(id, { limit: 50, cursor: next });
            setExtra([...extra, ...page.items]);
            setCursor(page.next_cursor ?? null);
          }}
        >
          {t('common.more')}
        </button>
      ) : null}
    </Section>
  );
}

function IncidentsSection({ id }: { id: string }) {
  const data = useAsync(() => api.targetIncidents(id), [id], 30_000);
  const items: Incident[] = data.data?.items ?? [];
  return (
    <Section title={t('target.incidents')}>
      <ErrorBox error={data.error} onRetry={data.reload} />
      {items.length === 0 && !data.loading ? <div class="empty">{t('target.noIncidents')}</div> : null}
      {items.length ? (
        <Table>
          {items.map((i) => (
            <IncidentRow incident={i} showTarget={false} showReport />
          ))}
        </Table>
      ) : null}
    </Section>
  );
}

function ChannelsSection({ id }: { id: string }) {
  const channels = useAsync(() => api.channels(), []);
  const chosen = useAsync(() => api.targetChannels(id), [id]);
  const list = channels.data?.items ?? [];
  if (!list.length) return null;
  const ids = chosen.data?.channel_ids ?? [];
  async function toggle(cid: string, on: boolean) {
    const next = on ? [...ids, cid] : ids.filter((x) => x !== cid);
    try {
      chosen.set(await api.setTargetChannels(id, next));
    } catch (e) {
      toast(String(e), 'error');
    }
  }
  return (
    <Section title={t('target.channels')}>
      <p class="muted">{t('target.channelsHint')}</p>
      <div class="row">
        {list.map((c) => (
          <label class="check">
            <input type="checkbox" checked={ids.includes(c.id)} disabled={!c.verified} onChange={(e) => toggle(c.id, e.currentTarget.checked)} />
            <span>
              {kindName(c.kind)} · {c.label || c.address}
            </span>
          </label>
        ))}
      </div>
    </Section>
  );
}

function BadgeSection({ id }: { id: string }) {
  const [token, setToken] = useState<string | null>(null);
  const origin = location.origin;
  return (
    <Section
      title={t('target.badge')}
      actions={
        <button
          type="button"
          class="btn btn-small"
          onClick={async () => {
            try {
              setToken((await api.badgeToken(id)).token);
            } catch (e) {
              toast(String(e), 'error');
            }
          }}
        >
          {t('target.badgeCreate')}
        </button>
      }
    >
      {token ? (
        <div class="row">
          {(['status', 'uptime', 'response'] as const).map((k) => {
            const url = `${origin}/badge/${token}/${k}.svg`;
            return (
              <span class="row">
                <img src={url} alt={k} height={20} />
                <CopyButton text={url} />
              </span>
            );
          })}
        </div>
      ) : null}
    </Section>
  );
}
