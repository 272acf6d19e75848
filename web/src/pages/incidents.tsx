// Incidents: the list (open / resolved) or the grouped outages (./incidentGroup.tsx, loaded
// when chosen), and one incident with its timeline, evidence, report, notes and the acknowledge
// button.

import { lazy, Suspense } from 'preact/compat';
import { useState } from 'preact/hooks';
import { api } from '../api/client';
import type { Incident } from '../api/model';
import { ResultView, failureText } from '../components/result';
import { ErrorBox, PageHead, Section, Spinner, StatusPill, Table, Tabs, errorMessage, useAsync, useBusy, useTitle, val } from '../components/ui';
import { formatAgo, formatDateTime, formatDuration, formatMs } from '../format';
import { lang, t } from '../i18n';
import { navigate } from '../router';
import { describeHour } from '../state/baseline';
import { toast, user } from '../session';
import { notificationNote } from '../state/dependencies';
import { IncidentRow, incidentDuration, pickReport } from '../components/incidentRow';
import { ReportView } from '../components/report';

type Filter = 'open' | 'resolved' | '';
type View = 'incidents' | 'groups';
export type { Filter as IncidentFilter };

// The grouped outages list, loaded when its tab is chosen.
const GroupList = lazy(() => import('./incidentGroup').then((m) => ({ default: m.GroupList })));

// The target and status pages take these from here.
export { IncidentRow, incidentDuration, pickReport, ReportView };

export function IncidentsPage({ search }: { search: URLSearchParams }) {
  useTitle(t('incidents.title'));
  const filter = (search.get('status') ?? 'open') as Filter;
  const view: View = search.get('view') === 'groups' ? 'groups' : 'incidents';
  const go = (v: View, f: Filter) => navigate(`/incidents?${v === 'groups' ? 'view=groups&' : ''}status=${f}`, true);
  return (
    <div class="page">
      <PageHead title={t('incidents.title')}>
        <Tabs<Filter>
          value={filter}
          options={[
            { value: 'open', label: t('incidents.open') },
            { value: 'resolved', label: t('incidents.resolved') },
            { value: '', label: t('incidents.all') },
          ]}
          onChange={(v) => go(view, v)}
        />
      </PageHead>
      <Tabs<View>
        value={view}
        options={[
          { value: 'incidents', label: t('incidents.viewIncidents') },
          { value: 'groups', label: t('incidents.viewGroups') },
        ]}
        onChange={(v) => go(v, filter)}
      />
      {view === 'groups' ? (
        <Suspense fallback={<Spinner />}>
          <GroupList filter={filter} key={`g-${filter}`} />
        </Suspense>
      ) : (
        <IncidentList filter={filter} key={`i-${filter}`} />
      )}
    </div>
  );
}

/** The incidents of the status tab, newest first, a page at a time. */
function IncidentList({ filter }: { filter: Filter }) {
  const [more, setMore] = useState<Incident[]>([]);
  const [cursor, setCursor] = useState<string | null | undefined>(undefined);
  const data = useAsync(() => api.incidents({ status: filter, limit: 50 }), [filter], 15_000);
  const items = [...(data.data?.items ?? []), ...more];
  const next = cursor === undefined ? data.data?.next_cursor : cursor;
  return (
    <>
      <ErrorBox error={data.error} onRetry={data.reload} />
      <section class="card">
        {items.length === 0 && !data.loading ? <div class="empty">{t('incidents.empty')}</div> : null}
        {data.loading && !data.data ? <Spinner /> : null}
        {items.length ? (
          <Table testid="incidents-table" head={['', t('incidents.target'), t('result.failure'), t('incidents.opened'), t('incidents.duration'), '']}>
            {items.map((i) => (
              <IncidentRow incident={i} />
            ))}
          </Table>
        ) : null}
        {next ? (
          <button
            type="button"
            class="btn"
            onClick={async () => {
              const page = await api.incidents({ status: filter, limit: 50, cursor: next });
              setMore([...more, ...page.items]);
              setCursor(page.next_cursor);
            }}
          >
            {t('common.more')}
          </button>
        ) : null}
      </section>
    </>
  );
}

/** The group incident an incident belongs to: what its members share, and each member. */
function GroupCard(props: { id: string; current: string }) {
  const group = useAsync(() => api.incidentGroup(props.id), [props.id], 15_000);
  const g = group.data;
  if (!g) return null;
  return (
    <Section title={t('incidents.group')}>
      <p data-testid="incident-group">{t('incidents.groupMembers', { n: g.members.length, summary: g.summary })}</p>
      <p>
        <a href={`/incidents/groups/${encodeURIComponent(g.id)}`} data-testid="incident-group-link">
          {t('incidents.groupDetails')}
        </a>
      </p>
      <ul class="chips">
        {g.members.map((m) => (
          <li class={m.id === props.current ? 'pill pill-down' : 'pill'}>
            <a href={`/incidents/${encodeURIComponent(m.id)}`}>{m.target_name}</a>
            {m.resolved_at ? '' : ` · ${t('incidents.groupOpen')}`}
          </li>
        ))}
      </ul>
    </Section>
  );
}

export function IncidentPage({ id }: { id: string }) {
  const data = useAsync((s) => api.request<Incident>('GET', `/api/incidents/${encodeURIComponent(id)}`, undefined, { signal: s }), [id], 10_000);
  const [note, setNote] = useState('');
  const [busy, whileBusy] = useBusy();
  useTitle(data.data ? data.data.target_name : t('incidents.title'));
  if (data.error) return <ErrorBox error={data.error} onRetry={data.reload} />;
  if (!data.data) return <Spinner />;
  const inc = data.data;
  const report = pickReport(inc.reports, user.value?.language ?? lang.value);
  const ev = inc.evidence;
  const notice = notificationNote(inc);

  async function ack() {
    await whileBusy(async () => {
      try {
        data.set(await api.acknowledge(inc.id));
      } catch (e) {
        toast(errorMessage(e), 'error');
      }
    });
  }

  async function addNote(e: Event) {
    e.preventDefault();
    if (!note.trim()) return;
    try {
      data.set(await api.addNote(inc.id, note.trim()));
      setNote('');
    } catch (err) {
      toast(errorMessage(err), 'error');
    }
  }

  return (
    <div class="page" data-testid="incident-page">
      <div class="page-head">
        <div class="target-head">
          <h1>
            <a href={`/targets/${inc.target_id}`}>{inc.target_name}</a>
          </h1>
          <StatusPill status={inc.resolved_at ? 'up' : inc.severity === 'degraded' ? 'degraded' : 'down'} />
          <span class="muted">{inc.failure_kind ? failureText(inc.failure_kind) : ''}</span>
        </div>
        <div class="actions">
          {inc.acknowledged_at ? (
            <span class="pill pill-paused" data-testid="acknowledged">
              {t('incidents.acknowledged', { ago: formatAgo(inc.acknowledged_at, Date.now(), lang.value) })}
            </span>
          ) : (
            <button type="button" class="btn btn-primary" data-testid="ack" onClick={ack} disabled={busy}>
              {t('incidents.acknowledge')}
            </button>
          )}
        </div>
      </div>
      <dl class="kv card">
        <dt>{t('incidents.opened')}</dt>
        <dd>{formatDateTime(inc.opened_at, lang.value)}</dd>
        <dt>{t('incidents.resolvedAt')}</dt>
        <dd>{inc.resolved_at ? formatDateTime(inc.resolved_at, lang.value) : t('incidents.ongoing')}</dd>
        <dt>{t('incidents.duration')}</dt>
        <dd>{formatDuration(incidentDuration(inc), lang.value)}</dd>
        <dt>{t('incidents.severity')}</dt>
        <dd>{inc.severity}</dd>
        <dt>{t('incidents.regions')}</dt>
        <dd>{inc.regions.join(', ') || '—'}</dd>
        {inc.caused_by ? (
          <>
            <dt>{t('deps.causedBy')}</dt>
            <dd data-testid="incident-cause">
              <a href={`/incidents/${inc.caused_by.incident_id}`}>{inc.caused_by.target_name}</a>
              {notice ? <span class="muted"> · {t(notice.key, notice.vars)}</span> : null}
            </dd>
          </>
        ) : null}
        {inc.effects.length ? (
          <>
            <dt>{t('deps.effects')}</dt>
            <dd data-testid="incident-effects">
              {inc.effects.map((e, n) => (
                <>
                  {n ? ', ' : ''}
                  <a href={`/incidents/${e.incident_id}`}>{e.target_name}</a>
                </>
              ))}
            </dd>
          </>
        ) : null}
      </dl>
      {inc.group_id ? <GroupCard id={inc.group_id} current={inc.id} /> : null}
      <div class="two-col">
        <Section title={t('incidents.report')}>
          {report ? <ReportView report={report} /> : <p class="muted" data-testid="report-pending">{t('incidents.reportPending')}</p>}
        </Section>
        <Section title={t('incidents.timeline')}>
          <ul class="timeline" data-testid="timeline">
            {[...inc.timeline]
              .sort((a, b) => Date.parse(a.at) - Date.parse(b.at))
              .map((e) => (
                <li>
                  <div class="muted">{formatDateTime(e.at, lang.value)}</div>
                  <div>
                    <b>{e.kind}</b> {e.message}
                  </div>
                </li>
              ))}
          </ul>
          <h3>{t('incidents.notes')}</h3>
          {inc.notes.map((n) => (
            <p>
              <span class="muted">
                {formatDateTime(n.at, lang.value)} · {n.author}:
              </span>{' '}
              {n.text}
            </p>
          ))}
          <form class="row" onSubmit={addNote}>
            <input class="grow" value={note} onInput={(e) => setNote(val(e))} aria-label={t('incidents.addNote')} placeholder={t('incidents.addNote')} />
            <button class="btn" type="submit">
              {t('common.add')}
            </button>
          </form>
        </Section>
      </div>
      <Section title={t('incidents.evidence')} id="evidence">
        {ev?.baseline_latency_ms !== undefined ? (
          <p>
            {t('incidents.baseline')}: <b>{formatMs(ev.baseline_latency_ms)}</b>
          </p>
        ) : null}
        {ev?.latency_baseline ? (
          <p data-testid="latency-baseline">
            {t('incidents.latencyBaseline', {
              hour: ev.latency_baseline.hour_of_week === undefined ? t('incidents.allHours') : describeHour(ev.latency_baseline.hour_of_week, lang.value),
              p95: formatMs(ev.latency_baseline.p95_ms),
              limit: formatMs(ev.latency_baseline.limit_ms),
              latency: formatMs(ev.latency_baseline.latency_ms),
              checks: ev.latency_baseline.checks,
            })}
          </p>
        ) : null}
        {ev?.certificate ? <p class="mono">{ev.certificate.subject} · {ev.certificate.days_left}d</p> : null}
        {(ev?.results ?? []).map((r) => (
          <details open={false} class="evidence-item">
            <summary>
              {formatDateTime(r.started_at, lang.value)} · {r.outcome} · {r.failure?.message ?? formatMs(r.duration_ms)}
            </summary>
            <ResultView result={r} />
          </details>
        ))}
        {ev?.last_good ? (
          <details>
            <summary>{t('incidents.lastGood')}</summary>
            <ResultView result={ev.last_good} />
          </details>
        ) : null}
      </Section>
    </div>
  );
}
