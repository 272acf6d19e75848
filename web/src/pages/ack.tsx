// `/ack/{token}`: the page an alert's acknowledgement link opens, without signing in. Opening it
// only reads what the link names (mail scanners prefetch links); the "Acknowledge" button
// POSTs. What it shows for each answer lives in state/ack.ts.

import { useEffect, useState } from 'preact/hooks';
import { ApiError, api } from '../api/client';
import type { AckInfo } from '../api/model';
import { StatusPill, errorMessage, useBusy, useTitle } from '../components/ui';
import { formatDateTime } from '../format';
import { lang, t } from '../i18n';
import { ackFailure, ackPhase, type AckFailure } from '../state/ack';

function failureOf(e: unknown): AckFailure {
  return ackFailure({
    status: e instanceof ApiError ? e.status : 0,
    retryAfter: e instanceof ApiError ? e.retryAfter : undefined,
    message: errorMessage(e),
  });
}

export function AckPage({ token }: { token: string }) {
  useTitle(t('ack.title'));
  const [info, setInfo] = useState<AckInfo | null>(null);
  const [failure, setFailure] = useState<AckFailure | null>(null);
  const [tick, setTick] = useState(0);
  const [busy, whileBusy] = useBusy();

  // Read only: never acknowledge on load.
  useEffect(() => {
    let live = true;
    setFailure(null);
    api.ackInfo(token).then(
      (x) => live && setInfo(x),
      (e: unknown) => live && setFailure(failureOf(e)),
    );
    return () => {
      live = false;
    };
  }, [token, tick]);

  async function acknowledge() {
    setFailure(null);
    await whileBusy(async () => {
      try {
        setInfo(await api.acknowledgeByLink(token));
      } catch (e) {
        setFailure(failureOf(e));
      }
    });
  }

  const phase = info ? ackPhase(info) : null;
  return (
    <div class="auth">
      <div class="card auth-card" data-testid="ack-page" data-phase={phase ?? (failure ? failure.kind : 'loading')}>
        <h1 class="brand-big">
          <span class="logo" aria-hidden="true" /> PingTower
        </h1>
        <h2>{t('ack.title')}</h2>
        {failure ? (
          <div class="notice notice-error" role="alert" data-testid="ack-failure" data-kind={failure.kind}>
            {t(failure.key, failure.vars)}
            {failure.retry ? (
              <button type="button" class="btn btn-small" onClick={() => (info ? void acknowledge() : setTick((x) => x + 1))}>
                {t('common.retry')}
              </button>
            ) : null}
          </div>
        ) : null}
        {!info && !failure ? <div class="loading" aria-busy="true">{t('common.loading')}</div> : null}
        {info ? (
          <>
            <dl class="kv" data-testid="ack-info">
              <dt>{t('ack.target')}</dt>
              <dd>
                <b>{info.target_name}</b>
              </dd>
              <dt>{t('ack.severity')}</dt>
              <dd>
                <StatusPill status={info.severity} />
              </dd>
              <dt>{t('ack.opened')}</dt>
              <dd>{formatDateTime(info.opened_at, lang.value)}</dd>
              {info.resolved_at ? (
                <>
                  <dt>{t('ack.resolved')}</dt>
                  <dd>{formatDateTime(info.resolved_at, lang.value)}</dd>
                </>
              ) : null}
            </dl>
            {phase === 'acknowledged' ? (
              <div class="notice notice-ok" role="status" data-testid="ack-done">
                ✓ {t('ack.done', { at: formatDateTime(info.acknowledged_at, lang.value) })}
              </div>
            ) : phase === 'resolved' ? (
              <p class="muted" data-testid="ack-resolved">
                {t('ack.resolvedNothing')}
              </p>
            ) : (
              <>
                <p class="muted">{t('ack.hint')}</p>
                <button type="button" class="btn btn-primary" data-testid="ack-button" disabled={busy} onClick={() => void acknowledge()}>
                  {busy ? t('ack.sending') : t('ack.button')}
                </button>
              </>
            )}
            <a href={`/incidents/${encodeURIComponent(info.incident_id)}`}>{t('ack.openIncident')}</a>
          </>
        ) : failure && !failure.retry ? (
          <a href="/incidents">{t('ack.openDashboard')}</a>
        ) : null}
      </div>
    </div>
  );
}
