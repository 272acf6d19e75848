// One check result in full: outcome, failure, redirect chain with per-hop phases, TLS and DNS facts.

import type { CheckResult, HeartbeatInfo, HttpHop, PhaseTimings, TlsInfo } from '../api/model';
import { PHASES, formatDateTime, formatMs, formatRunDuration, humanizeCode, phaseMs } from '../format';
import { eventTone } from '../state/heartbeat';
import { dictionaries, lang, t, tn, type MessageKey } from '../i18n';
import { StatusPill } from './ui';

export function PhaseBar({ timings, scale }: { timings: PhaseTimings; scale?: number }) {
  const total = PHASES.reduce((s, p) => s + (phaseMs(timings, p) ?? 0), 0);
  const max = scale ?? total;
  return (
    <div class="phasebar" title={PHASES.map((p) => `${t(`phase.${p}`)} ${formatMs(phaseMs(timings, p) ?? null)}`).join(' · ')}>
      {PHASES.map((p) => {
        const v = phaseMs(timings, p);
        if (!v || max <= 0) return null;
        return <span class={`ph-${p}`} style={{ width: `${(v / max) * 100}%` }} />;
      })}
    </div>
  );
}

/** A phase's colour swatch and name in a `tag` element, as the legend and the phase table show it. */
function PhaseName({ phase, tag: Tag }: { phase: (typeof PHASES)[number]; tag: 'span' | 'dt' }) {
  return (
    <Tag>
      <span class={`swatch ph-${phase}`} />
      {t(`phase.${phase}`)}
    </Tag>
  );
}

export function PhaseLegend() {
  return (
    <div class="legend-row">
      {PHASES.map((p) => (
        <PhaseName phase={p} tag="span" />
      ))}
    </div>
  );
}

function PhaseTable({ timings }: { timings: PhaseTimings }) {
  return (
    <dl class="kv phase-table">
      {PHASES.map((p) => (
        <>
          <PhaseName phase={p} tag="dt" />
          <dd class="mono">{formatMs(phaseMs(timings, p) ?? null)}</dd>
        </>
      ))}
    </dl>
  );
}

function Hop({ hop, index, scale }: { hop: HttpHop; index: number; scale: number }) {
  return (
    <div class="hop" data-testid="hop">
      <div class="row">
        <b>{index + 1}.</b>
        <code class="grow">{hop.url}</code>
        {hop.status ? <b class="mono">{hop.status}</b> : null}
      </div>
      <div class="row muted">
        {hop.resolved_ip ? <span class="mono">{hop.resolved_ip}</span> : null}
        {hop.http_version ? <span>{hop.http_version}</span> : null}
        {hop.location ? <span>→ <code>{hop.location}</code></span> : null}
      </div>
      <PhaseBar timings={hop.timings} scale={scale} />
      <PhaseTable timings={hop.timings} />
    </div>
  );
}

export function TlsFacts({ tls }: { tls: TlsInfo }) {
  return (
    <dl class="kv" data-testid="tls-facts">
      <dt>{t('result.subject')}</dt>
      <dd class="mono">{tls.subject}</dd>
      <dt>{t('result.issuer')}</dt>
      <dd class="mono">{tls.issuer}</dd>
      <dt>{t('result.sans')}</dt>
      <dd class="mono">{tls.sans.join(', ') || '—'}</dd>
      <dt>{t('result.validUntil')}</dt>
      <dd>
        {formatDateTime(tls.not_after, lang.value)} ({tn('daysLeft', tls.days_left)})
      </dd>
      <dt>{t('result.chainValid')}</dt>
      <dd>{tls.chain_valid ? t('common.yes') : <b class="bad">{t('common.no')}</b>}</dd>
      <dt>{t('result.hostnameMatches')}</dt>
      <dd>{tls.hostname_matches ? t('common.yes') : <b class="bad">{t('common.no')}</b>}</dd>
      {tls.validation_error ? (
        <>
          <dt>{t('result.failure')}</dt>
          <dd>{tls.validation_error}</dd>
        </>
      ) : null}
      <dt>{t('result.protocol')}</dt>
      <dd>{[tls.version, tls.cipher].filter(Boolean).join(' · ') || '—'}</dd>
      <dt>{t('result.fingerprint')}</dt>
      <dd class="mono">{tls.fingerprint_sha256}</dd>
    </dl>
  );
}

/** What a heartbeat result records: the ping (or the deadline that passed), its run, its schedule. */
export function HeartbeatFacts({ info }: { info: HeartbeatInfo }) {
  // A missed or late result's expected time is the deadline that passed; a ping's, the next one.
  const passed = info.event === 'missed' || info.event === 'late';
  const row = (label: string, value: string | undefined, mono = false) =>
    value === undefined ? null : (
      <>
        <dt>{label}</dt>
        <dd class={mono ? 'mono' : undefined}>{value}</dd>
      </>
    );
  return (
    <div data-testid="heartbeat-facts">
      <h3>{t('result.heartbeat')}</h3>
      <dl class="kv">
        <dt>{t('result.hbEvent')}</dt>
        <dd>
          <span class={`pill pill-${eventTone(info.event, info.exit_status)}`} data-event={info.event}>
            <span class="dot" aria-hidden="true" />
            {t(`hb.event.${info.event}`)}
          </span>
        </dd>
        {row(t('result.hbExitStatus'), info.exit_status?.toString(), true)}
        {row(passed ? t('result.hbExpected') : t('result.hbNextExpected'), info.expected_at ? formatDateTime(info.expected_at, lang.value) : undefined)}
        {row(t('result.hbStartedAt'), info.started_at ? formatDateTime(info.started_at, lang.value) : undefined)}
        {row(t('result.hbRunDuration'), info.run_duration_ms !== undefined ? formatRunDuration(info.run_duration_ms, lang.value) : undefined, true)}
        {row(t('result.hbLastSuccess'), info.last_success_at ? formatDateTime(info.last_success_at, lang.value) : undefined)}
        {row(t('result.hbSchedule'), info.schedule, true)}
      </dl>
      <TextBlock title={t('result.hbBody')} text={info.body} preClass="mono excerpt" />
    </div>
  );
}

/** A failure kind in the UI language; unknown kinds (from newer pingers) humanized. */
export function failureText(kind: string): string {
  const key = `failure.${kind}` as MessageKey;
  return key in dictionaries.en ? t(key) : humanizeCode(kind);
}

/** A titled block of text as the check received it (a banner, a body); nothing when there is none. */
function TextBlock(props: { title: string; text: string | undefined; preClass: string }) {
  if (!props.text) return null;
  return (
    <div>
      <h3>{props.title}</h3>
      <pre class={props.preClass}>{props.text}</pre>
    </div>
  );
}

export function ResultView({ result }: { result: CheckResult }) {
  const hops = result.hops ?? [];
  const scale = Math.max(1, ...hops.map((h) => PHASES.reduce((s, p) => s + (phaseMs(h.timings, p) ?? 0), 0)));
  return (
    <div class="result-view" data-testid="result-view" data-outcome={result.outcome}>
      <dl class="kv">
        <dt>{t('result.outcome')}</dt>
        <dd>
          <StatusPill status={result.outcome} />
        </dd>
        <dt>{t('result.time')}</dt>
        <dd>{formatDateTime(result.started_at, lang.value)}</dd>
        {/* A heartbeat's run time is among its facts, and it is not checked from a region. */}
        {result.heartbeat ? null : (
          <>
            <dt>{t('result.duration')}</dt>
            <dd class="mono">{formatMs(result.duration_ms)}</dd>
          </>
        )}
        {result.status_code ? (
          <>
            <dt>{t('result.status')}</dt>
            <dd class="mono">{result.status_code}</dd>
          </>
        ) : null}
        {result.resolved_ip ? (
          <>
            <dt>{t('result.ip')}</dt>
            <dd class="mono">{result.resolved_ip}</dd>
          </>
        ) : null}
        {result.heartbeat ? null : (
          <>
            <dt>{t('result.region')}</dt>
            <dd>
              {result.region} · <span class="muted">{result.pinger_id}</span>
            </dd>
          </>
        )}
      </dl>
      {result.probe_degraded ? <div class="notice notice-warn">{t('result.probeDegraded')}</div> : null}
      {result.failure ? (
        <div class="notice notice-error" data-testid="failure">
          <div>
            <b>{failureText(result.failure.kind)}</b> · {t(`phase.${result.failure.phase}` as MessageKey)}
            <div>{result.failure.message}</div>
          </div>
        </div>
      ) : null}
      {hops.length ? (
        <div>
          <h3>
            {hops.length > 1 ? t('result.chain') : t('result.phases')} <PhaseLegend />
          </h3>
          {hops.map((h, i) => (
            <Hop hop={h} index={i} scale={scale} />
          ))}
        </div>
      ) : null}
      {result.tls ? (
        <div>
          <h3>{t('result.tls')}</h3>
          <TlsFacts tls={result.tls} />
        </div>
      ) : null}
      {result.dns ? (
        <div>
          <h3>{t('result.dns')}</h3>
          <dl class="kv">
            <dt>{t('result.resolver')}</dt>
            <dd class="mono">{result.dns.resolver}</dd>
            <dt>{t('result.rcode')}</dt>
            <dd class="mono">{result.dns.rcode ?? '—'}</dd>
            <dt>{t('result.duration')}</dt>
            <dd class="mono">{formatMs(result.dns.duration_ms)}</dd>
          </dl>
          <table>
            <tbody>
              {result.dns.answers.map((a) => (
                <tr>
                  <td class="mono">{a.record_type}</td>
                  <td class="mono">{a.value}</td>
                  <td class="mono muted">TTL {a.ttl}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {result.icmp ? (
        <div>
          <h3>{t('result.icmp')}</h3>
          <dl class="kv">
            <dt>{t('result.icmpLoss')}</dt>
            <dd class="mono">
              {`${Math.round(result.icmp.loss_percent)} % (${result.icmp.received}/${result.icmp.sent})`}
            </dd>
            <dt>{t('result.icmpRtt')}</dt>
            <dd class="mono">
              {[result.icmp.rtt_min_ms, result.icmp.rtt_avg_ms, result.icmp.rtt_max_ms].map((v) => formatMs(v)).join(' / ')}
            </dd>
            <dt>{t('result.icmpSocket')}</dt>
            <dd class="mono">{result.icmp.socket}</dd>
          </dl>
          <table>
            <tbody>
              {result.icmp.echoes.map((e) => (
                <tr>
                  <td class="mono">seq {e.seq}</td>
                  <td class="mono">{formatMs(e.rtt_ms)}</td>
                  <td class="mono muted">{e.error ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {result.heartbeat ? <HeartbeatFacts info={result.heartbeat} /> : null}
      <TextBlock title={t('result.banner')} text={result.banner} preClass="mono" />
      <TextBlock title={t('result.body')} text={result.body_excerpt} preClass="mono excerpt" />
    </div>
  );
}
