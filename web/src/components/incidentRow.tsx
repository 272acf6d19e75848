// One incident as a row of a list (the incidents page, a target's page, a group's page) and the
// helpers it shares with the incident page.

import type { Incident, IncidentReport } from '../api/model';
import { formatDateTime, formatDuration } from '../format';
import { lang, t } from '../i18n';
import { navigate } from '../router';
import { failureText } from './result';
import { StatusPill } from './ui';

export function incidentDuration(i: Pick<Incident, 'opened_at' | 'resolved_at'>, now = Date.now()): number {
  const end = i.resolved_at ? Date.parse(i.resolved_at) : now;
  return Math.max(0, (end - Date.parse(i.opened_at)) / 1000);
}

export function IncidentRow({ incident: i, showTarget = true, showReport = false }: { incident: Incident; showTarget?: boolean; showReport?: boolean }) {
  const report = showReport ? pickReport(i.reports, lang.value) : undefined;
  return (
    <>
    <tr class="clickable" data-testid="incident-row" data-incident-id={i.id} onClick={() => navigate(`/incidents/${i.id}`)}>
      <td>
        <StatusPill status={i.resolved_at ? 'up' : 'down'} />
      </td>
      {showTarget ? (
        <td>
          <b>{i.target_name}</b>
        </td>
      ) : null}
      <td>{i.failure_kind ? failureText(i.failure_kind) : i.severity}</td>
      <td class="muted">{formatDateTime(i.opened_at, lang.value)}</td>
      <td class="muted">{i.resolved_at ? formatDuration(incidentDuration(i), lang.value) : t('incidents.ongoing')}</td>
      <td class="muted">{i.acknowledged_at ? '✓' : ''}</td>
    </tr>
    {report ? (
      <tr class="report-row">
        <td colSpan={showTarget ? 6 : 5} class="muted">
          {report.summary} <i>{report.probable_cause}</i>
        </td>
      </tr>
    ) : null}
    </>
  );
}

/** The report to show: the newest in the user's language, else the newest. */
export function pickReport(reports: IncidentReport[], language: string): IncidentReport | undefined {
  const sorted = [...reports].sort((a, b) => Date.parse(b.generated_at) - Date.parse(a.generated_at));
  return sorted.find((r) => r.language === language) ?? sorted[0];
}
