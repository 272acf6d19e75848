// Notification channels of every kind: the list (state, disabled reason, last error, test,
// enable, delete), "Add channel" (a kind, then its form) and the edit form with its routing
// rules. The form's fields, checks and bodies live in state/channelForm.ts.

import { useState } from 'preact/hooks';
import { ApiError, api } from '../api/client';
import { ROUTED_EVENTS, SEVERITIES, type Channel, type ChannelKindInfo } from '../api/model';
import { Check, ErrorBox, Field, PageHead, RowDeleteButton, Section, Spinner, Table, errorMessage, useAsync, useBusy, useTitle, val } from '../components/ui';
import { formatAgo, formatDateTime } from '../format';
import { lang, t, tn, type MessageKey } from '../i18n';
import { navigate } from '../router';
import { role, toast } from '../session';
import { canManage } from '../state/organisation';
import { browserTimeZone, knownTimeZones } from '../timeZones';
import {
  HEADER_PREFIX,
  buildCreate,
  buildPatch,
  channelState,
  describeTest,
  draftFromChannel,
  emptyDraft,
  enableBody,
  isFormKind,
  kindSpec,
  offeredKinds,
  toggleEvent,
  validateDraft,
  type ChannelDraft,
  type FieldErrors,
  type HeaderDraft,
  type Msg,
  type RoutingDraft,
  type SecretDraft,
  type SecretSpec,
  type SettingSpec,
  type TestOutcome,
} from '../state/channelForm';

const ICONS: Record<string, string> = {
  telegram: '✈',
  email: '✉',
  webhook: '⇄',
  slack: '#',
  mattermost: '◈',
  discord: '◉',
  teams: '▦',
  google_chat: '◍',
  ntfy: '◔',
  gotify: '◕',
  pushover: '▲',
  pagerduty: '◆',
  opsgenie: '●',
  matrix: '▣',
};

/** A kind's name in the UI language (the kind itself when this build does not know it). */
export function kindName(kind: string): string {
  const key = `chan.kind.${kind}` as MessageKey;
  return kind === 'telegram' || kind === 'email' || isFormKind(kind) ? t(key) : kind;
}

/** The kind's icon and name. */
export function KindBadge({ kind }: { kind: string }) {
  return (
    <span class="kind-badge" data-kind={kind}>
      <span class="kind-icon" aria-hidden="true">
        {ICONS[kind] ?? '•'}
      </span>{' '}
      {kindName(kind)}
    </span>
  );
}

/** A message of the form module in the UI language. */
export function msgText(m: Msg): string {
  if ('text' in m) return m.text;
  if ('plural' in m) return tn(m.plural, m.n);
  return t(m.key, m.vars);
}

/** Runs "Send test message" for `id` and says how it went. */
async function runTest(id: string): Promise<TestOutcome> {
  try {
    return describeTest({ result: await api.testChannel(id) });
  } catch (e) {
    const status = e instanceof ApiError ? e.status : 0;
    const retryAfter = e instanceof ApiError ? e.retryAfter : undefined;
    return describeTest({ error: { status, retryAfter, message: errorMessage(e) } });
  }
}

function TestNotice({ outcome }: { outcome: TestOutcome | undefined }) {
  if (!outcome) return null;
  const tone = outcome.tone === 'ok' ? 'notice-ok' : outcome.tone === 'warn' ? 'notice-warn' : 'notice-error';
  return (
    <div class={`notice ${tone}`} role="status" data-testid="channel-test-result" data-tone={outcome.tone}>
      {msgText(outcome.msg)}
    </div>
  );
}

/** The buttons acting on a stored channel: test, enable (when disabled), delete. */
function ChannelActions(props: { channel: Channel; onChanged: () => void; onDeleted: () => void; edit?: boolean }) {
  const c = props.channel;
  const [outcome, setOutcome] = useState<TestOutcome | undefined>(undefined);
  const [testing, whileTesting] = useBusy();
  const disabled = channelState(c) === 'disabled';

  async function enable() {
    try {
      await api.updateChannel(c.id, enableBody());
      toast(t('chan.enabledToast'));
      props.onChanged();
    } catch (e) {
      toast(errorMessage(e), 'error');
    }
  }

  async function remove() {
    if (!confirm(t('common.confirmDelete', { name: c.label || c.address }))) return;
    try {
      await api.deleteChannel(c.id);
      toast(t('chan.deleted'));
      props.onDeleted();
    } catch (e) {
      toast(errorMessage(e), 'error');
    }
  }

  // Testing, enabling, editing and deleting a channel are the admins' (the server refuses others).
  if (!canManage(role.value)) return null;
  return (
    <div class="channel-actions">
      <div class="row">
        <button
          type="button"
          class="btn btn-small"
          data-testid="channel-test"
          disabled={testing}
          onClick={() => whileTesting(async () => setOutcome(await runTest(c.id)))}
        >
          {testing ? t('chan.test.sending') : t('chan.test.send')}
        </button>
        {disabled ? (
          <button type="button" class="btn btn-small btn-primary" data-testid="channel-enable" onClick={enable}>
            {t('chan.enable')}
          </button>
        ) : null}
        {props.edit ? (
          <a class="btn btn-small" href={`/channels/${encodeURIComponent(c.id)}`} data-testid="channel-edit">
            {t('common.edit')}
          </a>
        ) : null}
        <RowDeleteButton onClick={remove} />
      </div>
      <TestNotice outcome={outcome} />
    </div>
  );
}

/** A channel's state, its disabled reason shown in full. */
function ChannelStateCell({ channel: c }: { channel: Channel }) {
  const state = channelState(c);
  return (
    <div data-state={state}>
      {state === 'disabled' ? (
        <div class="notice notice-error" role="alert" data-testid="channel-disabled">
          <b>{t('chan.state.disabled')}</b>
          {c.disabled_reason ? <span>{c.disabled_reason}</span> : null}
        </div>
      ) : state === 'muted' && c.muted_until ? (
        <span class="pill pill-paused">{t('notif.muted', { at: formatDateTime(c.muted_until, lang.value) })}</span>
      ) : state === 'unverified' ? (
        <span class="pill pill-degraded">{t('chan.state.unverified')}</span>
      ) : (
        <span class="pill pill-up">✓ {t('chan.state.active')}</span>
      )}
    </div>
  );
}

function LastError({ channel: c }: { channel: Channel }) {
  if (!c.last_error) return <span class="muted">—</span>;
  const ago = c.last_error_at ? formatAgo(c.last_error_at, Date.now(), lang.value) : '';
  return (
    <span class="error-text" data-testid="channel-last-error" title={c.last_error_at ? formatDateTime(c.last_error_at, lang.value) : undefined}>
      {ago ? t('chan.lastErrorAt', { ago, error: c.last_error }) : c.last_error}
    </span>
  );
}

// ---------------------------------------------------------------------------------------------
// The list
// ---------------------------------------------------------------------------------------------

export function ChannelsPage() {
  useTitle(t('chan.title'));
  const channels = useAsync(() => api.channels(), [], 30_000);
  const list = channels.data?.items ?? [];
  return (
    <div class="page">
      <PageHead title={t('chan.title')}>
        {canManage(role.value) ? (
          <a class="btn btn-primary" href="/channels/new" data-testid="add-channel">
            + {t('chan.add')}
          </a>
        ) : null}
      </PageHead>
      <ErrorBox error={channels.error} onRetry={channels.reload} />
      {channels.loading && !channels.data ? <Spinner /> : null}
      <section class="card">
        {channels.data ? <p class="muted">{tn('channels', list.length)}</p> : null}
        {channels.data && list.length === 0 ? <p class="muted">{t('notif.noChannels')}</p> : null}
        <Table testid="all-channels" head={[t('chan.col.channel'), t('chan.col.address'), t('chan.col.state'), t('chan.col.lastError'), '']}>
          {list.map((c) => (
            <tr data-channel={c.id} data-kind={c.kind}>
              <td>
                <KindBadge kind={c.kind} />
              </td>
              <td>
                {c.label ? <b>{c.label}</b> : null}
                <div class="mono muted">{c.address}</div>
              </td>
              <td>
                <ChannelStateCell channel={c} />
              </td>
              <td>
                <LastError channel={c} />
              </td>
              <td class="num">
                <ChannelActions channel={c} edit onChanged={channels.reload} onDeleted={channels.reload} />
              </td>
            </tr>
          ))}
        </Table>
        <p class="muted">
          {t('chan.otherKinds')} <a href="/notifications">{t('nav.notifications')}</a>
        </p>
      </section>
    </div>
  );
}

// ---------------------------------------------------------------------------------------------
// Add: choose a kind, then its form
// ---------------------------------------------------------------------------------------------

export function ChannelNewPage({ search }: { search: URLSearchParams }) {
  const kind = search.get('kind') ?? '';
  useTitle(isFormKind(kind) ? t('chan.newTitle', { kind: kindName(kind) }) : t('chan.add'));
  const kinds = useAsync<ChannelKindInfo[] | undefined>(() => api.channelKinds().catch(() => undefined), []);
  if (!isFormKind(kind)) {
    return (
      <div class="page">
        <PageHead title={t('chan.add')}>
          <a class="btn" href="/channels">
            {t('common.back')}
          </a>
        </PageHead>
        <Section title={t('chan.chooseKind')}>
          {kinds.loading && !kinds.data ? <Spinner /> : null}
          <div class="kind-grid" data-testid="kind-chooser">
            {(kinds.loading && !kinds.data ? [] : offeredKinds(kinds.data)).map((k) => (
              <a class="kind-card" href={`/channels/new?kind=${k}`} data-testid={`kind-${k}`}>
                <KindBadge kind={k} />
                <span class="muted">{t(`chan.kindHint.${k}` as MessageKey)}</span>
              </a>
            ))}
          </div>
          <p class="muted">
            {t('chan.otherKinds')} <a href="/notifications">{t('nav.notifications')}</a>
          </p>
        </Section>
      </div>
    );
  }
  return (
    <div class="page">
      <PageHead title={t('chan.newTitle', { kind: kindName(kind) })}>
        <a class="btn" href="/channels/new">
          {t('common.back')}
        </a>
      </PageHead>
      <ChannelForm key={kind} initial={emptyDraft(kind, browserTimeZone())} onSaved={() => navigate('/channels')} />
    </div>
  );
}

// ---------------------------------------------------------------------------------------------
// Edit
// ---------------------------------------------------------------------------------------------

export function ChannelEditPage({ id }: { id: string }) {
  const channels = useAsync(() => api.channels(), [id]);
  const channel = channels.data?.items.find((c) => c.id === id);
  useTitle(channel ? t('chan.editTitle', { name: channel.label || channel.address }) : t('chan.title'));
  if (channels.error) return <ErrorBox error={channels.error} onRetry={channels.reload} />;
  if (!channels.data) return <Spinner />;
  if (!channel) {
    return (
      <div class="page">
        <p>{t('common.notFound')}</p>
        <a href="/channels">{t('common.back')}</a>
      </div>
    );
  }
  return (
    <div class="page">
      <PageHead title={t('chan.editTitle', { name: channel.label || channel.address })}>
        <a class="btn" href="/channels">
          {t('common.back')}
        </a>
      </PageHead>
      <section class="card">
        <div class="row">
          <KindBadge kind={channel.kind} />
          <span class="mono muted">{channel.address}</span>
        </div>
        <ChannelStateCell channel={channel} />
        <p>
          <b>{t('chan.col.lastError')}:</b> <LastError channel={channel} />
        </p>
        <ChannelActions channel={channel} onChanged={channels.reload} onDeleted={() => navigate('/channels')} />
      </section>
      <ChannelForm
        key={`${channel.id}:${channel.created_at}`}
        channel={channel}
        initial={draftFromChannel(channel, browserTimeZone())}
        onSaved={(saved) => {
          channels.set({ ...channels.data!, items: channels.data!.items.map((c) => (c.id === saved.id ? saved : c)) });
          toast(t('common.saved'));
        }}
      />
    </div>
  );
}

// ---------------------------------------------------------------------------------------------
// The form
// ---------------------------------------------------------------------------------------------

function ChannelForm(props: { initial: ChannelDraft; channel?: Channel; onSaved: (c: Channel) => void }) {
  const [d, setDraft] = useState<ChannelDraft>(props.initial);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [submitted, setSubmitted] = useState(false);
  // Once the form was submitted, each change re-checks it so that a fixed field loses its error.
  const setD = (next: ChannelDraft) => {
    setDraft(next);
    if (!submitted) return;
    const errs = validateDraft(next);
    setErrors(errs);
    if (!Object.keys(errs).length) setFormError(null);
  };
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, whileBusy] = useBusy();
  const spec = kindSpec(d.kind);
  const err = (field: string) => (errors[field] ? msgText(errors[field]) : undefined);

  function apiError(e: unknown) {
    if (e instanceof ApiError && e.isValidation && e.field) {
      const field = e.field.replace(/^body\./, '');
      setErrors({ [field]: { text: e.message } });
      setFormError(t('chan.fieldError', { field, msg: e.message }));
    } else {
      setFormError(errorMessage(e));
    }
  }

  async function submit(ev: Event) {
    ev.preventDefault();
    setFormError(null);
    setSubmitted(true);
    await whileBusy(async () => {
      try {
        if (props.channel) {
          const { body, errors: errs } = buildPatch(props.channel, d);
          setErrors(errs);
          if (Object.keys(errs).length) return setFormError(t('valid.fix'));
          if (!body) return setFormError(t('chan.nothingChanged'));
          const saved = await api.updateChannel(props.channel.id, body);
          setD(draftFromChannel(saved, d.routing.timezone));
          props.onSaved(saved);
        } else {
          const { body, errors: errs } = buildCreate(d);
          setErrors(errs);
          if (!body) return setFormError(t('valid.fix'));
          const saved = await api.createChannel(body);
          toast(t('chan.created'));
          props.onSaved(saved);
        }
      } catch (e) {
        apiError(e);
      }
    });
  }

  const setSetting = (name: string, v: string) => setD({ ...d, settings: { ...d.settings, [name]: v } });
  const setSecret = (name: string, s: SecretDraft) => setD({ ...d, secrets: { ...d.secrets, [name]: s } });
  const setHeader = (i: number, h: HeaderDraft | null) =>
    setD({ ...d, headers: h ? d.headers.map((x, j) => (j === i ? h : x)) : d.headers.filter((_, j) => j !== i) });

  return (
    <form class="page" onSubmit={submit} data-testid="channel-form" data-kind={d.kind} novalidate>
      <Section title={t('chan.settings')}>
        <div class="grid">
          <Field label={t('chan.label')} hint={t('chan.labelHint')} error={err('label')} name="label">
            <input name="label" value={d.label} maxLength={200} onInput={(e) => setD({ ...d, label: val(e) })} />
          </Field>
          {spec.settings.map((f) => (
            <SettingInput field={f} value={d.settings[f.name] ?? ''} error={err(`settings.${f.name}`)} onChange={(v) => setSetting(f.name, v)} />
          ))}
        </div>
      </Section>
      {spec.secrets.length || spec.headers ? (
        <Section title={t('chan.secrets')}>
          <p class="muted">{t('chan.secretsHint')}</p>
          <div class="grid">
            {spec.secrets.map((s) => (
              <SecretInput
                spec={s}
                draft={d.secrets[s.name] ?? { stored: false, action: 'set', value: '' }}
                error={err(`secrets.${s.name}`)}
                onChange={(x) => setSecret(s.name, x)}
              />
            ))}
          </div>
          {spec.headers ? (
            <div class="wide" data-testid="channel-headers">
              <h3>{t('chan.headers')}</h3>
              {err('headers') ? <p class="error-text">{err('headers')}</p> : null}
              {d.headers.map((h, i) => (
                <HeaderRow header={h} error={err(`headers.${i}`) ?? err(`secrets.${HEADER_PREFIX}${h.name.trim()}`)} onChange={(x) => setHeader(i, x)} />
              ))}
              <button type="button" class="btn btn-small" data-testid="add-channel-header" onClick={() => setD({ ...d, headers: [...d.headers, { name: '', stored: false, action: 'set', value: '' }] })}>
                + {t('chan.addHeader')}
              </button>
            </div>
          ) : null}
        </Section>
      ) : null}
      <RoutingEditor draft={d.routing} errors={errors} onChange={(r) => setD({ ...d, routing: r })} />
      {formError ? (
        <div class="notice notice-error" role="alert" data-testid="channel-form-error">
          {formError}
        </div>
      ) : null}
      <div class="form-actions">
        <button class="btn btn-primary" type="submit" disabled={busy} data-testid="save-channel">
          {props.channel ? t('common.save') : t('common.create')}
        </button>
      </div>
    </form>
  );
}

function SettingInput(props: { field: SettingSpec; value: string; error: string | undefined; onChange: (v: string) => void }) {
  const f = props.field;
  const label = f.required ? t(f.label) : `${t(f.label)} (${t('chan.optional')})`;
  const hint = f.type === 'int' ? t('chan.field.rangeHint', { min: f.min ?? '', max: f.max ?? '' }) : undefined;
  const name = `settings.${f.name}`;
  let input;
  if (f.type === 'textarea') {
    input = <textarea name={name} rows={6} class="mono" value={props.value} onInput={(e) => props.onChange(val(e))} />;
  } else if (f.type === 'choice') {
    input = (
      <select name={name} value={props.value} onChange={(e) => props.onChange(val(e))}>
        <option value="">—</option>
        {(f.options ?? []).map((o) => (
          <option value={o}>{o}</option>
        ))}
      </select>
    );
  } else {
    input = (
      <input
        name={name}
        type={f.type === 'url' ? 'url' : f.type === 'int' ? 'number' : 'text'}
        min={f.min}
        max={f.max}
        placeholder={f.placeholder}
        value={props.value}
        onInput={(e) => props.onChange(val(e))}
      />
    );
  }
  return (
    <Field label={label} error={props.error} hint={hint} wide={f.type === 'textarea'} name={name}>
      {input}
    </Field>
  );
}

/** A write-only secret: "set" with Replace (and Remove when optional), or an empty password input. */
function SecretInput(props: { spec: SecretSpec; draft: SecretDraft; error: string | undefined; onChange: (d: SecretDraft) => void }) {
  const { spec: s, draft } = props;
  const label = s.required ? t(s.label) : `${t(s.label)} (${t('chan.optional')})`;
  const name = `secrets.${s.name}`;
  return (
    <Field label={label} error={props.error} name={name}>
      <SecretControl draft={draft} name={name} removable={!s.required} placeholder={s.placeholder} onChange={props.onChange} />
    </Field>
  );
}

function SecretControl(props: { draft: SecretDraft; name: string; removable: boolean; placeholder?: string | undefined; onChange: (d: SecretDraft) => void }) {
  const { draft } = props;
  if (draft.stored && draft.action === 'keep') {
    return (
      <div class="row" data-secret={props.name} data-secret-state="set">
        <span class="pill pill-up">✓ {t('chan.secret.set')}</span>
        <button type="button" class="btn btn-small" data-testid="secret-replace" onClick={() => props.onChange({ ...draft, action: 'set', value: '' })}>
          {t('chan.secret.replace')}
        </button>
        {props.removable ? (
          <button type="button" class="btn btn-small btn-danger" data-testid="secret-remove" onClick={() => props.onChange({ ...draft, action: 'remove', value: '' })}>
            {t('chan.secret.remove')}
          </button>
        ) : null}
      </div>
    );
  }
  if (draft.stored && draft.action === 'remove') {
    return (
      <div class="row" data-secret={props.name} data-secret-state="removed">
        <span class="pill pill-down">{t('chan.secret.removed')}</span>
        <button type="button" class="btn btn-small" onClick={() => props.onChange({ ...draft, action: 'keep', value: '' })}>
          {t('chan.secret.undo')}
        </button>
      </div>
    );
  }
  return (
    <div class="row" data-secret={props.name} data-secret-state="typing">
      <input
        class="grow"
        type="password"
        name={props.name}
        autocomplete="off"
        placeholder={props.placeholder}
        value={draft.value}
        onInput={(e) => props.onChange({ ...draft, value: val(e) })}
      />
      {draft.stored ? (
        <button type="button" class="btn btn-small" onClick={() => props.onChange({ ...draft, action: 'keep', value: '' })}>
          {t('chan.secret.keep')}
        </button>
      ) : null}
    </div>
  );
}

function HeaderRow(props: { header: HeaderDraft; error: string | undefined; onChange: (h: HeaderDraft | null) => void }) {
  const h = props.header;
  return (
    <div class={`channel-header-row${props.error ? ' invalid' : ''}`} data-testid="channel-header-row">
      <input
        aria-label={t('chan.headerName')}
        placeholder={t('chan.headerName')}
        value={h.name}
        readOnly={h.stored}
        onInput={(e) => props.onChange({ ...h, name: val(e) })}
      />
      <SecretControl draft={h} name={`${HEADER_PREFIX}${h.name}`} removable placeholder={t('chan.headerValue')} onChange={(x) => props.onChange({ ...h, ...x })} />
      {!h.stored ? <RowDeleteButton label={t('common.remove')} onClick={() => props.onChange(null)} /> : null}
      {props.error ? <span class="error-text">{props.error}</span> : null}
    </div>
  );
}

/** Events, least severity, tags to include / exclude and quiet hours. */
export function RoutingEditor(props: { draft: RoutingDraft; errors: FieldErrors; onChange: (d: RoutingDraft) => void }) {
  const r = props.draft;
  const err = (f: string) => (props.errors[f] ? msgText(props.errors[f]) : undefined);
  const set = (patch: Partial<RoutingDraft>) => props.onChange({ ...r, ...patch });
  const zones = knownTimeZones();
  return (
    <Section title={t('chan.routing')}>
      <div class="grid" data-testid="routing-editor">
        <fieldset class="wide routing-events" data-field="routing.events">
          <legend class="label">{t('chan.routing.events')}</legend>
          <div class="row">
            {ROUTED_EVENTS.map((e) => (
              <Check
                name={`event-${e}`}
                label={t(`chan.event.${e}` as MessageKey)}
                checked={r.events.includes(e)}
                onChange={(on) => props.onChange(toggleEvent(r, e, on))}
              />
            ))}
          </div>
          {err('routing.events') ? <span class="error-text">{err('routing.events')}</span> : null}
        </fieldset>
        <Field label={t('chan.routing.minSeverity')} name="routing.min_severity">
          <select name="min_severity" value={r.minSeverity} onChange={(e) => set({ minSeverity: val(e) as RoutingDraft['minSeverity'] })}>
            {SEVERITIES.map((s) => (
              <option value={s}>{t(`chan.severity.${s}` as MessageKey)}</option>
            ))}
          </select>
        </Field>
        <Field label={t('chan.routing.tagsInclude')} error={err('routing.tags_include')} name="routing.tags_include">
          <input name="tags_include" value={r.tagsInclude} onInput={(e) => set({ tagsInclude: val(e) })} />
        </Field>
        <Field label={t('chan.routing.tagsExclude')} error={err('routing.tags_exclude')} name="routing.tags_exclude">
          <input name="tags_exclude" value={r.tagsExclude} onInput={(e) => set({ tagsExclude: val(e) })} />
        </Field>
        <div class="wide">
          <Check name="quiet" label={t('chan.routing.quiet')} checked={r.quiet} onChange={(quiet) => set({ quiet })} />
        </div>
        {r.quiet ? (
          <>
            <Field label={t('chan.routing.quietStart')} error={err('routing.quiet_hours.start')} name="routing.quiet_hours.start">
              <input name="quiet_start" type="time" value={r.quietStart} onInput={(e) => set({ quietStart: val(e) })} />
            </Field>
            <Field label={t('chan.routing.quietEnd')} error={err('routing.quiet_hours.end')} name="routing.quiet_hours.end">
              <input name="quiet_end" type="time" value={r.quietEnd} onInput={(e) => set({ quietEnd: val(e) })} />
            </Field>
            <Field label={t('chan.routing.timezone')} error={err('routing.quiet_hours.timezone')} name="routing.quiet_hours.timezone">
              <input name="timezone" list="pt-time-zones" value={r.timezone} onInput={(e) => set({ timezone: val(e) })} />
              <datalist id="pt-time-zones">
                {zones.map((z) => (
                  <option value={z} />
                ))}
              </datalist>
            </Field>
          </>
        ) : null}
      </div>
    </Section>
  );
}
