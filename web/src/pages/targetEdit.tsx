// Add / edit a target: every option of every check kind, inline validation (ours first, then
// the API's `error.field`), and "Test now", which runs the unsaved spec and shows the result.

import { useEffect, useState } from 'preact/hooks';
import { ApiError, api } from '../api/client';
import {
  ASSERTION_TYPES,
  CHECK_KINDS,
  DNS_RECORD_TYPES,
  HTTP_METHODS,
  type AssertionType,
  type CheckResult,
  type DnsRecordType,
  type DnsTransport,
  type HttpMethod,
} from '../api/model';
import { ResultView } from '../components/result';
import { Check, ErrorBox, Field, PageHead, RowDeleteButton, Spinner, errorMessage, useBusy, useTitle, val } from '../components/ui';
import { t, type MessageKey } from '../i18n';
import { navigate } from '../router';
import { serverConfig, toast } from '../session';
import { slugify } from '../format';
import { BASELINE_FACTOR, BASELINE_MIN_INCREASE_MS, BASELINE_MODES, type BaselineMode } from '../state/baseline';
import { TIME_UNITS, type TimeUnit } from '../state/heartbeat';
import { browserTimeZone, knownTimeZones } from '../timeZones';
import { kindLabel } from './overview';
import { TargetPicker } from './escalation';
import { MAX_DEPENDS_ON, dependencyErrors, dependencyField } from '../state/dependencies';
import {
  apiFieldKey,
  buildInput,
  emptyAssertion,
  emptyForm,
  formFromTarget,
  isSecretHeaderName,
  sendsMask,
  sentHeaderIndex,
  STARTTLS_CHOICES,
  type FieldErrors,
  type FormState,
  type StarttlsChoice,
} from '../state/targetForm';

export function TargetEditPage({ id }: { id?: string }) {
  const [form, setForm] = useState<FormState | null>(
    id ? null : emptyForm(serverConfig.value?.min_interval_seconds, serverConfig.value?.regions, browserTimeZone()),
  );
  const [loadError, setLoadError] = useState<unknown>(null);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [submitted, setSubmitted] = useState(false);
  const [busy, whileBusy] = useBusy();
  const [testing, whileTesting] = useBusy();
  const [testResult, setTestResult] = useState<CheckResult | null>(null);
  const [testError, setTestError] = useState<unknown>(null);
  useTitle(id ? t('target.editTitle', { name: form?.name ?? '' }) : t('target.new'));

  // The body the saved target gives: "Test now" with stored secrets runs the saved target itself.
  const [savedInput, setSavedInput] = useState<string | null>(null);
  // Whether the saved target's latency is judged against its baseline now.
  const [baselineActive, setBaselineActive] = useState<boolean | null>(null);
  useEffect(() => {
    if (!id) return;
    api.target(id).then((tg) => {
      const loaded = formFromTarget(tg, browserTimeZone());
      setBaselineActive(tg.baseline.active);
      setForm(loaded);
      setSavedInput(JSON.stringify(buildInput(loaded).input));
    }, setLoadError);
  }, [id]);

  if (loadError) return <ErrorBox error={loadError} />;
  if (!form) return <Spinner />;
  const f = form;
  const minInterval = serverConfig.value?.min_interval_seconds ?? 1;
  // A heartbeat is pinged, not checked: no interval, thresholds, regions or "Test now".
  const checked = f.kind !== 'heartbeat';

  function update(mut: (f: FormState) => void) {
    const next = structuredClone(f);
    mut(next);
    setForm(next);
    if (submitted) setErrors(buildInput(next, minInterval).errors);
  }

  function errText(field: string): string | undefined {
    const e = errors[field];
    if (!e) return undefined;
    return 'text' in e ? e.text : t(e.key, e.vars);
  }

  function validate() {
    setSubmitted(true);
    const { input, errors: errs } = buildInput(f, minInterval);
    // The dependencies' errors show under their picker.
    for (const [field, msg] of Object.entries({ ...errs, ...dependencyErrors(f.dependsOn, id) })) {
      const under = dependencyField(field);
      if (under) {
        delete errs[field];
        errs[under] = msg;
      }
    }
    setErrors(errs);
    return Object.keys(errs).length ? null : input;
  }

  function apiError(e: unknown) {
    if (e instanceof ApiError && e.isValidation) {
      const field = apiFieldKey(e.field);
      setErrors({ [dependencyField(field) ?? field]: { text: e.message } });
      return;
    }
    setErrors({ _form: { text: errorMessage(e) } });
  }

  async function save(e: Event) {
    e.preventDefault();
    const input = validate();
    if (!input) return;
    await whileBusy(async () => {
      try {
        const saved = id ? await api.updateTarget(id, input) : await api.createTarget(input);
        toast(t('common.saved'));
        navigate(`/targets/${saved.id}`);
      } catch (err) {
        apiError(err);
      }
    });
  }

  async function testNow() {
    const input = validate();
    if (!input) return;
    setTestError(null);
    setTestResult(null);
    await whileTesting(async () => {
      try {
        if (sendsMask(input)) {
          // A stored secret is not sent back to the browser, so an unsaved spec cannot be tested
          // with it: the saved target can (unchanged), else the secret must be typed again.
          if (!id || JSON.stringify(input) !== savedInput) {
            setTestError(new Error(t('spec.testNeedsSecret')));
            return;
          }
          setTestResult(await api.testTarget(id));
          return;
        }
        setTestResult(await api.testSpec(input));
      } catch (err) {
        if (err instanceof ApiError && err.isValidation) apiError(err);
        else setTestError(err);
      }
    });
  }

  const text = (field: string, label: string, value: string, set: (v: string) => void, extra: { type?: string; placeholder?: string; hint?: string; wide?: boolean } = {}) => (
    <Field label={label} error={errText(field)} hint={extra.hint} wide={extra.wide} name={field}>
      <input
        name={field}
        type={extra.type ?? 'text'}
        inputMode={extra.type === 'number' ? 'numeric' : undefined}
        placeholder={extra.placeholder}
        value={value}
        onInput={(e) => set(val(e))}
      />
    </Field>
  );

  return (
    <form class="page" onSubmit={save} noValidate data-testid="target-form">
      <PageHead title={id ? t('target.editTitle', { name: f.name }) : t('target.new')}>
        <div class="actions">
          <button type="button" class="btn" onClick={() => history.back()}>
            {t('common.cancel')}
          </button>
        </div>
      </PageHead>
      <section class="card">
        <div class="grid">
          {text('name', t('common.name'), f.name, (v) => update((x) => void (x.name = v)))}
          <Field label={t('target.kind')} name="kind">
            <select name="kind" value={f.kind} onChange={(e) => update((x) => void (x.kind = val(e) as FormState['kind']))}>
              {CHECK_KINDS.map((k) => (
                <option value={k}>{kindLabel(k)}</option>
              ))}
            </select>
          </Field>
          {checked
            ? text('interval_seconds', t('target.interval'), f.interval, (v) => update((x) => void (x.interval = v)), { type: 'number', hint: `≥ ${minInterval}` })
            : null}
          {text('tags', t('target.tags'), f.tags, (v) => update((x) => void (x.tags = v)))}
          {checked ? (
            <>
              {text('failure_threshold', t('target.failureThreshold'), f.failureThreshold, (v) => update((x) => void (x.failureThreshold = v)), { type: 'number' })}
              {text('success_threshold', t('target.successThreshold'), f.successThreshold, (v) => update((x) => void (x.successThreshold = v)), { type: 'number' })}
            </>
          ) : null}
          {checked && (serverConfig.value?.regions.length ?? 0) > 1 ? (
            <Field label={t('target.regions')} error={errText('regions')} wide>
              <div class="row">
                {serverConfig.value!.regions.map((r) => (
                  <Check
                    label={r}
                    checked={f.regions.includes(r)}
                    onChange={(on) => update((x) => void (x.regions = on ? [...x.regions, r] : x.regions.filter((y) => y !== r)))}
                  />
                ))}
              </div>
            </Field>
          ) : null}
          <Check label={t('target.paused')} name="paused" checked={f.paused} onChange={(v) => update((x) => void (x.paused = v))} />
          <div class={`wide field${errText('depends_on') ? ' invalid' : ''}`} data-field="depends_on">
            <span class="label">{t('deps.label')}</span>
            <TargetPicker ids={f.dependsOn} onChange={(ids) => update((x) => void (x.dependsOn = ids))} exclude={id} max={MAX_DEPENDS_ON} testid="dependency" />
            {errText('depends_on') ? (
              <span class="error-text" role="alert">
                {errText('depends_on')}
              </span>
            ) : (
              <span class="hint">{t('deps.hint')}</span>
            )}
          </div>
        </div>
      </section>
      {checked ? (
        <section class="card" data-testid="baseline-settings">
          <h2>{t('baseline.title')}</h2>
          <p class="muted">
            {t('baseline.intro')}
            {baselineActive === null ? null : ` ${t(baselineActive ? 'baseline.active' : 'baseline.inactive')}.`}
          </p>
          <div class="grid">
            <Field label={t('baseline.mode')} name="baseline.enabled" error={errText('baseline.enabled')}>
              <select
                name="baseline.enabled"
                value={f.baseline.mode}
                onChange={(e) => update((x) => void (x.baseline.mode = val(e) as BaselineMode))}
              >
                {BASELINE_MODES.map((m) => (
                  <option value={m}>{t(`baseline.mode.${m}`)}</option>
                ))}
              </select>
            </Field>
            {text('baseline.factor', t('baseline.factor'), f.baseline.factor, (v) => update((x) => void (x.baseline.factor = v)), {
              hint: `${BASELINE_FACTOR.min}–${BASELINE_FACTOR.max}`,
            })}
            {text(
              'baseline.min_increase_ms',
              t('baseline.minIncrease'),
              f.baseline.minIncreaseMs,
              (v) => update((x) => void (x.baseline.minIncreaseMs = v)),
              { type: 'number', hint: `${BASELINE_MIN_INCREASE_MS.min}–${BASELINE_MIN_INCREASE_MS.max}` },
            )}
          </div>
        </section>
      ) : null}
      <section class="card">
        {f.kind === 'http' ? <HttpFields f={f} update={update} errText={errText} text={text} /> : null}
        {f.kind === 'tcp' ? (
          <div class="grid">
            {text('spec.host', t('spec.host'), f.tcp.host, (v) => update((x) => void (x.tcp.host = v)))}
            {text('spec.port', t('spec.port'), f.tcp.port, (v) => update((x) => void (x.tcp.port = v)), { type: 'number' })}
            {text('spec.timeout_ms', t('target.timeout'), f.tcp.timeoutMs, (v) => update((x) => void (x.tcp.timeoutMs = v)), { type: 'number' })}
            {text('spec.expected_banner', t('spec.expectedBanner'), f.tcp.expectedBanner, (v) => update((x) => void (x.tcp.expectedBanner = v)))}
          </div>
        ) : null}
        {f.kind === 'dns' ? (
          <div class="grid">
            {text('spec.name', t('spec.dnsName'), f.dns.name, (v) => update((x) => void (x.dns.name = v)), { placeholder: 'example.com' })}
            <Field label={t('spec.recordType')}>
              <select name="spec.record_type" value={f.dns.recordType} onChange={(e) => update((x) => void (x.dns.recordType = val(e) as DnsRecordType))}>
                {DNS_RECORD_TYPES.map((r) => (
                  <option value={r}>{r}</option>
                ))}
              </select>
            </Field>
            {text('spec.resolver', t('spec.resolver'), f.dns.resolver, (v) => update((x) => void (x.dns.resolver = v)), { placeholder: '1.1.1.1:53' })}
            <Field label={t('spec.resolverProtocol')}>
              <select value={f.dns.resolverProtocol} onChange={(e) => update((x) => void (x.dns.resolverProtocol = val(e) as DnsTransport))}>
                <option value="udp">UDP</option>
                <option value="tcp">TCP</option>
              </select>
            </Field>
            {text('spec.timeout_ms', t('target.timeout'), f.dns.timeoutMs, (v) => update((x) => void (x.dns.timeoutMs = v)), { type: 'number' })}
            <Field label={t('spec.expectedAnswers')} error={errText('spec.expected_answers')} wide>
              <textarea rows={3} name="spec.expected_answers" value={f.dns.expectedAnswers} onInput={(e) => update((x) => void (x.dns.expectedAnswers = val(e)))} />
            </Field>
          </div>
        ) : null}
        {f.kind === 'tls' ? (
          <div class="grid">
            {text('spec.host', t('spec.host'), f.tls.host, (v) => update((x) => void (x.tls.host = v)))}
            {text('spec.port', t('spec.port'), f.tls.port, (v) => update((x) => void (x.tls.port = v)), { type: 'number' })}
            {text('spec.sni', t('spec.sni'), f.tls.sni, (v) => update((x) => void (x.tls.sni = v)))}
            <Field label={t('spec.starttls')}>
              <select
                name="spec.starttls"
                value={f.tls.starttls}
                onChange={(e) =>
                  update((x) => {
                    const choice = val(e) as StarttlsChoice;
                    // The usual port follows the protocol while the port is still another's default.
                    if (STARTTLS_CHOICES.some((c) => c.port === x.tls.port)) {
                      x.tls.port = STARTTLS_CHOICES.find((c) => c.value === choice)?.port ?? x.tls.port;
                    }
                    x.tls.starttls = choice;
                  })
                }
              >
                {STARTTLS_CHOICES.map((c) => (
                  <option value={c.value}>{c.value ? `STARTTLS (${c.value.toUpperCase()})` : t('spec.starttlsNone')}</option>
                ))}
              </select>
            </Field>
            {text('spec.warn_days', t('spec.warnDays'), f.tls.warnDays, (v) => update((x) => void (x.tls.warnDays = v)), { type: 'number' })}
            {text('spec.timeout_ms', t('target.timeout'), f.tls.timeoutMs, (v) => update((x) => void (x.tls.timeoutMs = v)), { type: 'number' })}
          </div>
        ) : null}
        {f.kind === 'icmp' ? (
          <div class="grid">
            {text('spec.host', t('spec.host'), f.icmp.host, (v) => update((x) => void (x.icmp.host = v)), { placeholder: 'example.com, 192.0.2.1, 2001:db8::1' })}
            {text('spec.count', t('spec.icmpCount'), f.icmp.count, (v) => update((x) => void (x.icmp.count = v)), { type: 'number', hint: '1–10' })}
            {text('spec.interval_ms', t('spec.icmpInterval'), f.icmp.intervalMs, (v) => update((x) => void (x.icmp.intervalMs = v)), { type: 'number', hint: '10–5000' })}
            {text('spec.timeout_ms', t('spec.icmpTimeout'), f.icmp.timeoutMs, (v) => update((x) => void (x.icmp.timeoutMs = v)), { type: 'number', hint: '1–10000' })}
            {text('spec.payload_size', t('spec.icmpPayload'), f.icmp.payloadSize, (v) => update((x) => void (x.icmp.payloadSize = v)), { type: 'number', hint: '0–1400' })}
            {text('spec.degraded_loss_percent', t('spec.icmpDegradedLoss'), f.icmp.degradedLossPercent, (v) => update((x) => void (x.icmp.degradedLossPercent = v)), { type: 'number', hint: '0–99' })}
            {text('spec.degraded_above_ms', t('spec.icmpDegradedRtt'), f.icmp.degradedAboveMs, (v) => update((x) => void (x.icmp.degradedAboveMs = v)), { type: 'number' })}
          </div>
        ) : null}
        {f.kind === 'heartbeat' ? <HeartbeatFields f={f} update={update} errText={errText} text={text} /> : null}
      </section>
      {Object.values(errors).some((e) => 'text' in e) ? (
        <div class="notice notice-error" role="alert" data-testid="api-errors">
          <ul>
            {Object.entries(errors).map(([k, e]) =>
              'text' in e ? (
                <li>
                  {k === '_form' ? '' : <code>{k}</code>} {e.text}
                </li>
              ) : null,
            )}
          </ul>
        </div>
      ) : Object.keys(errors).length ? (
        <div class="notice notice-error" role="alert" data-testid="form-invalid">
          {t('valid.fix')}
        </div>
      ) : null}
      <div class="form-actions">
        {checked ? (
          <button type="button" class="btn" data-testid="test-now" onClick={testNow} disabled={testing}>
            {testing ? t('target.testing') : t('target.testNow')}
          </button>
        ) : null}
        <button type="submit" class="btn btn-primary" data-testid="save-target" disabled={busy}>
          {t('common.save')}
        </button>
      </div>
      {testError ? <ErrorBox error={testError} /> : null}
      {testResult ? (
        <section class="card" data-testid="test-result">
          <header class="card-head">
            <h2>{t('target.testResult')}</h2>
          </header>
          <ResultView result={testResult} />
        </section>
      ) : null}
    </form>
  );
}

type FieldsProps = { f: FormState; update: (m: (f: FormState) => void) => void; errText: (k: string) => string | undefined; text: TextFn };

/** A heartbeat's schedule (a period in a unit, or cron in a time zone), grace time and slug. */
function HeartbeatFields({ f, update, errText, text }: FieldsProps) {
  const h = f.heartbeat;
  const [zones] = useState(knownTimeZones);
  const set = (m: (d: FormState['heartbeat']) => void) => update((x) => m(x.heartbeat));
  // An amount and its unit in one field: the input is the field's control, the unit a select beside it.
  const amount = (field: string, label: string, hint: string, value: string, unit: TimeUnit, onAmount: (d: FormState['heartbeat'], v: string) => void, onUnit: (d: FormState['heartbeat'], u: TimeUnit) => void) => (
    <Field label={label} error={errText(field)} hint={hint} name={field}>
      <div class="row">
        <input class="grow" name={field} type="number" inputMode="numeric" min="1" value={value} onInput={(e) => set((d) => onAmount(d, val(e)))} />
        <select name={`${field}.unit`} aria-label={label} value={unit} onChange={(e) => set((d) => onUnit(d, val(e) as TimeUnit))}>
          {TIME_UNITS.map((u) => (
            <option value={u.unit}>{t(`hb.unit.${u.unit}`)}</option>
          ))}
        </select>
      </div>
    </Field>
  );
  return (
    <div class="grid" data-testid="heartbeat-fields">
      <p class="muted wide">{t('hb.formNote')}</p>
      <fieldset class="wide">
        <legend>{t('hb.schedule')}</legend>
        <div class="row hb-modes">
          {(['period', 'cron'] as const).map((mode) => (
            <label class="check">
              <input type="radio" name="heartbeat-mode" value={mode} checked={h.mode === mode} onChange={() => set((d) => void (d.mode = mode))} />
              <span>{t(`hb.mode.${mode}`)}</span>
            </label>
          ))}
        </div>
        <div class="grid">
          {h.mode === 'period' ? (
            amount('spec.period_seconds', t('hb.period'), t('hb.periodHint'), h.period, h.periodUnit, (d, v) => void (d.period = v), (d, u) => void (d.periodUnit = u))
          ) : (
            <>
              {text('spec.cron', t('hb.cron'), h.cron, (v) => set((d) => void (d.cron = v)), { placeholder: '0 2 * * *', hint: t('hb.cronHint') })}
              <Field label={t('hb.timezone')} error={errText('spec.timezone')} hint={t('hb.timezoneHint')} name="spec.timezone">
                <input name="spec.timezone" list="pt-heartbeat-zones" autocomplete="off" value={h.timezone} onInput={(e) => set((d) => void (d.timezone = val(e)))} />
                <datalist id="pt-heartbeat-zones">
                  {zones.map((z) => (
                    <option value={z} />
                  ))}
                </datalist>
              </Field>
            </>
          )}
        </div>
      </fieldset>
      {amount('spec.grace_seconds', t('hb.grace'), t('hb.graceHint'), h.grace, h.graceUnit, (d, v) => void (d.grace = v), (d, u) => void (d.graceUnit = u))}
      {text('spec.slug', t('hb.slug'), h.slug, (v) => set((d) => void (d.slug = v)), { placeholder: slugify(f.name) || 'nightly-backup', hint: t('hb.slugHint') })}
    </div>
  );
}

const ADVANCED = ['spec.max_redirects', 'spec.expected_final_url', 'spec.tls_warn_days', 'spec.resolver', 'spec.body', 'spec.headers', 'spec.auth.token', 'spec.auth.username', 'spec.auth.password'];

type TextFn = (field: string, label: string, value: string, set: (v: string) => void, extra?: { type?: string; placeholder?: string; hint?: string; wide?: boolean }) => preact.JSX.Element;

function HttpFields({ f, update, errText, text }: { f: FormState; update: (m: (f: FormState) => void) => void; errText: (k: string) => string | undefined; text: TextFn }) {
  const h = f.http;
  // A stored secret comes back masked: its input stays empty, says "unchanged", and typing replaces the secret.
  const secret = (field: string, label: string, value: string, masked: boolean | undefined, set: (x: FormState['http'], v: string) => void) =>
    text(field, label, value, (v) => update((x) => set(x.http, v)), { type: 'password', placeholder: masked ? t('spec.secretUnchanged') : undefined });
  return (
    <div class="grid">
      {text('spec.url', t('spec.url'), h.url, (v) => update((x) => void (x.http.url = v)), { type: 'url', placeholder: 'https://example.com/health', wide: true })}
      <Field label={t('spec.method')}>
        <select name="spec.method" value={h.method} onChange={(e) => update((x) => void (x.http.method = val(e) as HttpMethod))}>
          {HTTP_METHODS.map((m) => (
            <option value={m}>{m}</option>
          ))}
        </select>
      </Field>
      {text('spec.expected_status', t('spec.expectedStatus'), h.expectedStatus, (v) => update((x) => void (x.http.expectedStatus = v)), { hint: t('spec.expectedStatusHint') })}
      {text('spec.timeout_ms', t('target.timeout'), h.timeoutMs, (v) => update((x) => void (x.http.timeoutMs = v)), { type: 'number' })}
      {text('spec.degraded_above_ms', t('spec.degradedAbove'), h.degradedAboveMs, (v) => update((x) => void (x.http.degradedAboveMs = v)), { type: 'number' })}
      <fieldset class="wide">
        <legend>{t('spec.assertions')}</legend>
        {h.assertions.map((a, i) => {
          const k = `spec.assertions[${i}]`;
          const set = (m: (a: FormState['http']['assertions'][number]) => void) => update((x) => m(x.http.assertions[i]!));
          return (
            <div class="row assertion" data-testid="assertion">
              <select value={a.type} aria-label={t('spec.assertions')} onChange={(e) => set((y) => void (y.type = val(e) as AssertionType))}>
                {ASSERTION_TYPES.map((ty) => (
                  <option value={ty}>{t(`spec.assert.${ty}` as MessageKey)}</option>
                ))}
              </select>
              {a.type === 'json_path_equals' || a.type === 'json_path_exists' ? (
                <Field label={t('spec.jsonPath')} error={errText(`${k}.path`)}>
                  <input value={a.path} placeholder="$.status" onInput={(e) => set((y) => void (y.path = val(e)))} />
                </Field>
              ) : null}
              {a.type === 'header_equals' ? (
                <Field label={t('spec.headerName')} error={errText(`${k}.name`)}>
                  <input value={a.name} onInput={(e) => set((y) => void (y.name = val(e)))} />
                </Field>
              ) : null}
              {a.type === 'body_matches' ? (
                <Field label={t('spec.pattern')} error={errText(`${k}.pattern`)}>
                  <input value={a.pattern} onInput={(e) => set((y) => void (y.pattern = val(e)))} />
                </Field>
              ) : a.type !== 'json_path_exists' ? (
                <Field label={t('spec.value')} error={errText(`${k}.value`)}>
                  <input value={a.value} placeholder={a.type === 'json_path_equals' ? '"ok"' : ''} onInput={(e) => set((y) => void (y.value = val(e)))} />
                </Field>
              ) : null}
              <RowDeleteButton label={t('common.remove')} onClick={() => update((x) => void x.http.assertions.splice(i, 1))} />
            </div>
          );
        })}
        <button type="button" class="btn btn-small" onClick={() => update((x) => void x.http.assertions.push(emptyAssertion()))}>
          + {t('spec.addAssertion')}
        </button>
      </fieldset>
      <details class="wide" open={ADVANCED.some((k) => errText(k) !== undefined) || h.headers.some((_, i) => errText(`spec.headers[${i}].value`) !== undefined) || undefined}>
        <summary>{t('spec.advanced')}</summary>
        <div class="grid">
          <Check label={t('spec.followRedirects')} checked={h.followRedirects} onChange={(v) => update((x) => void (x.http.followRedirects = v))} />
          {text('spec.max_redirects', t('spec.maxRedirects'), h.maxRedirects, (v) => update((x) => void (x.http.maxRedirects = v)), { type: 'number' })}
          <Check label={t('spec.httpsOnly')} checked={h.httpsOnly} onChange={(v) => update((x) => void (x.http.httpsOnly = v))} />
          {text('spec.expected_final_url', t('spec.expectedFinalUrl'), h.expectedFinalUrl, (v) => update((x) => void (x.http.expectedFinalUrl = v)), { type: 'url' })}
          <Check label={t('spec.verifyTls')} checked={h.verifyTls} onChange={(v) => update((x) => void (x.http.verifyTls = v))} />
          {text('spec.tls_warn_days', t('spec.tlsWarnDays'), h.tlsWarnDays, (v) => update((x) => void (x.http.tlsWarnDays = v)), { type: 'number' })}
          {text('spec.resolver', t('spec.resolver'), h.resolver, (v) => update((x) => void (x.http.resolver = v)), { placeholder: '1.1.1.1:53' })}
          <Field label={t('spec.resolverProtocol')}>
            <select value={h.resolverProtocol} onChange={(e) => update((x) => void (x.http.resolverProtocol = val(e) as DnsTransport))}>
              <option value="udp">UDP</option>
              <option value="tcp">TCP</option>
            </select>
          </Field>
          <fieldset class="wide">
            <legend>{t('spec.headers')}</legend>
            {h.headers.map((hd, i) => {
              const byName = isSecretHeaderName(hd.name);
              const secret = byName || hd.secret === true || hd.masked === true;
              const err = errText(`spec.headers[${sentHeaderIndex(h.headers, i)}].value`);
              return (
                <div class="header-row" data-testid="header-row">
                  <div class="row">
                    <input aria-label={t('spec.headerName')} placeholder={t('spec.headerName')} value={hd.name} onInput={(e) => update((x) => void (x.http.headers[i]!.name = val(e)))} />
                    <input
                      class="grow"
                      aria-label={t('spec.headerValue')}
                      type={secret ? 'password' : 'text'}
                      autocomplete="off"
                      data-masked={hd.masked ? 'true' : undefined}
                      placeholder={hd.masked ? t('spec.secretUnchanged') : t('spec.headerValue')}
                      value={hd.value}
                      onInput={(e) =>
                        update((x) => {
                          const row = x.http.headers[i]!;
                          row.value = val(e);
                          row.masked = false;
                        })
                      }
                    />
                    <label class="check" title={byName ? t('spec.secretAlways') : undefined}>
                      <input
                        type="checkbox"
                        name={`header-secret-${i}`}
                        checked={secret}
                        disabled={byName || hd.masked === true}
                        onChange={(e) => update((x) => void (x.http.headers[i]!.secret = (e.currentTarget as HTMLInputElement).checked))}
                      />
                      <span>{t('spec.secret')}</span>
                    </label>
                    <RowDeleteButton label={t('common.remove')} onClick={() => update((x) => void x.http.headers.splice(i, 1))} />
                  </div>
                  {err ? (
                    <span class="error-text" role="alert">
                      {err}
                    </span>
                  ) : null}
                </div>
              );
            })}
            <button type="button" class="btn btn-small" onClick={() => update((x) => void x.http.headers.push({ name: '', value: '' }))}>
              + {t('spec.addHeader')}
            </button>
          </fieldset>
          <Field label={t('spec.body')} wide error={errText('spec.body')}>
            <textarea rows={3} value={h.body} onInput={(e) => update((x) => void (x.http.body = val(e)))} />
          </Field>
          <Field label={t('spec.auth')}>
            <select value={h.authType} onChange={(e) => update((x) => void (x.http.authType = val(e) as FormState['http']['authType']))}>
              <option value="none">{t('spec.auth.none')}</option>
              <option value="basic">{t('spec.auth.basic')}</option>
              <option value="bearer">{t('spec.auth.bearer')}</option>
            </select>
          </Field>
          {h.authType === 'basic' ? (
            <>
              {text('spec.auth.username', t('spec.username'), h.username, (v) => update((x) => void (x.http.username = v)))}
              {secret('spec.auth.password', t('spec.password'), h.password, h.passwordMasked, (x, v) => {
                x.password = v;
                x.passwordMasked = false;
              })}
            </>
          ) : null}
          {h.authType === 'bearer'
            ? secret('spec.auth.token', t('spec.token'), h.token, h.tokenMasked, (x, v) => {
                x.token = v;
                x.tokenMasked = false;
              })
            : null}
        </div>
      </details>
    </div>
  );
}
