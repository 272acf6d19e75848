// An incident report (LLM or rules) as the incident and group pages show it.

import type { IncidentReport } from '../api/model';
import { formatDateTime } from '../format';
import { lang, t } from '../i18n';

export function ReportView({ report }: { report: IncidentReport }) {
  return (
    <div class="report" data-testid="incident-report" lang={report.language}>
      <h3>{t('incidents.summary')}</h3>
      <p data-testid="report-summary">{report.summary}</p>
      <h3>{t('incidents.cause')}</h3>
      <p>{report.probable_cause}</p>
      <h3>{t('incidents.impact')}</h3>
      <p>{report.impact}</p>
      {report.recommended_actions.length ? (
        <>
          <h3>{t('incidents.actions')}</h3>
          <ol>
            {report.recommended_actions.map((a) => (
              <li>{a}</li>
            ))}
          </ol>
        </>
      ) : null}
      <p class="muted">
        {t('incidents.source', { source: report.source })} · {formatDateTime(report.generated_at, lang.value)}
      </p>
    </div>
  );
}
