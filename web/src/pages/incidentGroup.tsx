// Group incidents (cause correlation), loaded when opened: the incidents page's "Grouped
// outages" list and a group's page (`/incidents/groups/{id}`) with every member incident.

import { useState } from 'preact/hooks';
import { api } from '../api/client';
import type { IncidentGroupSummary } from '../api/model';
import { failureText } from '../components/result';
import { ErrorBox, Section, Spinner, StatusPill, Table, useAsync, useTitle } from '../components/ui';
import { formatDateTime, formatDuration } from '../format';
import { lang, t, tn } from '../i18n';
import { describeCause, groupPhase, groupState, unnamedMembers } from '../state/groups';
import { IncidentRow, incidentDuration } from '../components/incidentRow';
import { ReportView } from '../components/report';
import type { IncidentFilter } from './incidents';

/** A group's shared cause in the UI's language. */
function causeText(g: { cause: string; summary: string }): string {
  const m = describeCause(g.cause, g.summary, failureText);
  return t(m.key, m.vars);
}

/** The group incidents of the status tab (open: a member still down), newest first, a page at a time. */
export function GroupList({ filter }: { filter: IncidentFilter }) {
  const state = groupState(filter);
  const [more, setMore] = useState<IncidentGroupSummary[]>([]);
  const [cursor, setCursor] = useState<string | null | undefined>(undefined);
  const data = useAsync((signal) => api.incidentGroups({ state, limit: 50 }, { signal }), [state], 15_000);
  const items = [...(data.data?.items ?? []), ...more];
  const next = cursor === undefined ? data.data?.next_cursor : cursor;
  return (
    <>
      <ErrorBox error={data.error} onRetry={data.reload} />
      <section class="card">
        {items.length === 0 && !data.loading ? (
          <div class="empty" data-testid="groups-empty">
            {t('groups.empty')}
          </div>
        ) : null}
        {data.loading && !data.data ? <Spinner /> : null}
        {items.length ? (
          <Table testid="groups-table" head={['', t('groups.cause'), t('groups.members'), t('incidents.opened'), t('incidents.duration'), '']}>
            {items.map((g) => (
              <GroupRow group={g} />
            ))}
          </Table>
        ) : null}
        {next ? (
          <button
            type="button"
            class="btn"
            onClick={async () => {
              const page = await api.incidentGroups({ state, limit: 50, cursor: next });
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

/** One group: its state, cause in words, its first members (links to their incidents) and when it opened. */
function GroupRow({ group: g }: { group: IncidentGroupSummary }) {
  const phase = groupPhase(g);
  const rest = unnamedMembers(g);
  return (
    <tr data-testid="group-row" data-group-id={g.id} data-state={phase}>
      <td>
        <StatusPill status={phase === 'resolved' ? 'up' : 'down'} />
      </td>
      <td>
        <a href={`/incidents/groups/${encodeURIComponent(g.id)}`} data-testid="group-cause">
          <b>{causeText(g)}</b>
        </a>
        <div class="muted">
          {tn('targets', g.member_count)} · {phase === 'resolved' ? t('groups.resolved') : t('groups.openOf', { open: g.open_member_count, n: g.member_count })}
        </div>
      </td>
      <td>
        {g.first_members.map((m, n) => (
          <>
            {n ? ', ' : ''}
            <a href={`/incidents/${encodeURIComponent(m.incident_id)}`} data-testid="group-member">
              {m.target_name}
            </a>
          </>
        ))}
        {rest ? <span class="muted"> {t('groups.more', { n: rest })}</span> : null}
      </td>
      <td class="muted">{formatDateTime(g.opened_at, lang.value)}</td>
      <td class="muted">{g.resolved_at ? formatDuration(incidentDuration(g), lang.value) : t('incidents.ongoing')}</td>
      <td>
        <a class="btn btn-small" href={`/incidents/groups/${encodeURIComponent(g.id)}`}>
          {t('groups.details')}
        </a>
      </td>
    </tr>
  );
}

/** A group incident: its shared cause, state and every member incident. */
export function GroupPage({ id }: { id: string }) {
  const data = useAsync(() => api.incidentGroup(id), [id], 15_000);
  useTitle(t('groups.title'));
  if (data.error) return <ErrorBox error={data.error} onRetry={data.reload} />;
  if (!data.data) return <Spinner />;
  const g = data.data;
  const open = g.members.filter((m) => !m.resolved_at).length;
  return (
    <div class="page" data-testid="group-page">
      <div class="page-head">
        <div class="target-head">
          <h1>{causeText(g)}</h1>
          <StatusPill status={g.resolved_at ? 'up' : 'down'} />
        </div>
        <a class="btn" href="/incidents?view=groups&status=">
          {t('common.back')}
        </a>
      </div>
      <dl class="kv card">
        <dt>{t('incidents.summary')}</dt>
        <dd data-testid="group-summary">{g.summary}</dd>
        <dt>{t('groups.signal')}</dt>
        <dd class="mono">{g.cause}</dd>
        <dt>{t('incidents.opened')}</dt>
        <dd>{formatDateTime(g.opened_at, lang.value)}</dd>
        <dt>{t('incidents.resolvedAt')}</dt>
        <dd>{g.resolved_at ? formatDateTime(g.resolved_at, lang.value) : t('incidents.ongoing')}</dd>
        <dt>{t('incidents.duration')}</dt>
        <dd>{formatDuration(incidentDuration(g), lang.value)}</dd>
        <dt>{t('groups.members')}</dt>
        <dd>
          {tn('targets', g.members.length)}
          {g.resolved_at ? '' : ` · ${t('groups.openOf', { open, n: g.members.length })}`}
        </dd>
      </dl>
      <Section title={t('incidents.report')}>
        {g.report ? (
          <ReportView report={g.report} />
        ) : (
          <p class="muted" data-testid="group-report-pending">
            {t('incidents.reportPending')}
          </p>
        )}
      </Section>
      <Section title={t('groups.memberIncidents')}>
        <Table testid="group-members" head={['', t('incidents.target'), t('result.failure'), t('incidents.opened'), t('incidents.duration'), '']}>
          {g.members.map((i) => (
            <IncidentRow incident={i} />
          ))}
        </Table>
      </Section>
    </div>
  );
}
