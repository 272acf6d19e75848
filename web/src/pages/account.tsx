// Notifications (Telegram link, email; every other kind on the channels page), API tokens, import/export and settings.

import { useEffect, useState } from 'preact/hooks';
import { ApiError, api } from '../api/client';
import { QUOTA_KEYS, type Channel, type CreatedToken, type Me, type TelegramLink, type TokenScope } from '../api/model';
import { KindBadge } from './channels';
import { Check, CopyButton, ErrorBox, Field, RowDeleteButton, Section, Spinner, SubmitRow, Table, errorMessage, useAsync, useBusy, useTitle, val } from '../components/ui';
import { formatAgo, formatDateTime } from '../format';
import { lang, setLang, t, tn, type MessageKey } from '../i18n';
import { canEdit, canManage } from '../state/organisation';
import { role, serverConfig, setTheme, theme, toast, updateUser, user } from '../session';

// ---------------------------------------------------------------------------------------------
// Notifications
// ---------------------------------------------------------------------------------------------

export function NotificationsPage() {
  useTitle(t('notif.title'));
  const [link, setLink] = useState<TelegramLink | null>(null);
  const [linkError, setLinkError] = useState<unknown>(null);
  // While a link is out, poll so that the page shows "linked" as soon as the bot has it.
  const channels = useAsync(() => api.channels(), [], link ? 3000 : 30_000);
  const [email, setEmail] = useState('');
  const [emailError, setEmailError] = useState<string | null>(null);
  const list: Channel[] = channels.data?.items ?? [];
  const telegram = list.filter((c) => c.kind === 'telegram');
  const emails = list.filter((c) => c.kind === 'email');
  const botConfigured = serverConfig.value ? serverConfig.value.telegram_bot_username !== null : true;

  async function linkTelegram() {
    setLinkError(null);
    try {
      const l = await api.linkTelegram();
      setLink(l);
      // Open the bot at once (still within the click's user activation); the link stays shown.
      window.open(l.link, '_blank', 'noopener');
    } catch (e) {
      setLinkError(e);
    }
  }

  async function addEmail(e: Event) {
    e.preventDefault();
    setEmailError(null);
    try {
      await api.addEmail(email.trim());
      setEmail('');
      channels.reload();
    } catch (err) {
      setEmailError(errorMessage(err));
    }
  }

  async function remove(c: Channel) {
    if (!confirm(t('common.confirmDelete', { name: c.label || c.address }))) return;
    await api.deleteChannel(c.id).catch((e: unknown) => toast(errorMessage(e), 'error'));
    channels.reload();
  }

  return (
    <div class="page">
      <h1>{t('notif.title')}</h1>
      <ErrorBox error={channels.error} onRetry={channels.reload} />
      <div class="two-col">
        <Section title={t('notif.telegram')} id="telegram">
          {telegram.length ? (
            <div class="notice notice-ok" data-testid="telegram-linked">
              ✓ {t('notif.telegramLinked')}: {telegram.map((c) => c.label || c.address).join(', ')}
            </div>
          ) : (
            <p class="muted">{t('notif.telegramNotLinked')}</p>
          )}
          {!botConfigured ? <p class="muted">{t('notif.telegramUnavailable')}</p> : null}
          {canManage(role.value) ? (
            <p>
              <button type="button" class="btn btn-primary" data-testid="link-telegram" onClick={linkTelegram}>
                {t('notif.telegramLink')}
              </button>
            </p>
          ) : null}
          <ErrorBox error={linkError} />
          {link ? (
            <div class="notice" data-testid="telegram-link-box">
              <div>
                <a class="btn btn-primary" href={link.link} target="_blank" rel="noopener" data-testid="telegram-deeplink">
                  {t('notif.telegramOpen')} ↗
                </a>
                <p class="mono">{link.link}</p>
                <p class="muted">{t('notif.telegramExpires', { at: formatDateTime(link.expires_at, lang.value) })}</p>
              </div>
            </div>
          ) : null}
        </Section>
        <Section title={t('notif.email')} id="email">
          {canManage(role.value) ? (
          <form class="row" onSubmit={addEmail}>
            <input class="grow" type="email" required name="email" value={email} placeholder="ops@example.com" aria-label={t('notif.email')} onInput={(e) => setEmail(val(e))} />
            <button class="btn" type="submit" data-testid="add-email">
              {t('notif.addEmail')}
            </button>
          </form>
          ) : null}
          {emailError ? <p class="error-text">{emailError}</p> : null}
          {emails.length === 0 ? <p class="muted">{t('notif.noChannels')}</p> : null}
        </Section>
      </div>
      <Section title={t('notif.channels')}>
        {channels.loading && !channels.data ? <Spinner /> : null}
        {list.length === 0 && channels.data ? <p class="muted">{t('notif.noChannels')}</p> : null}
        <Table testid="channels-table">
          {list.map((c) => (
            <tr>
              <td>
                <KindBadge kind={c.kind} />
              </td>
              <td>
                <b>{c.label || c.address}</b>
              </td>
              <td>
                {c.disabled_reason
                  ? t('notif.disabled', { reason: c.disabled_reason })
                  : c.verified
                    ? `✓ ${t('notif.verified')}`
                    : t('notif.unverified')}
                {c.muted_until ? ` · ${t('notif.muted', { at: formatDateTime(c.muted_until, lang.value) })}` : ''}
              </td>
              <td class="num">{canManage(role.value) ? <RowDeleteButton onClick={() => remove(c)} /> : null}</td>
            </tr>
          ))}
        </Table>
        <p class="muted">{t('notif.perTarget')}</p>
        <p>
          <a class="btn" href="/channels" data-testid="manage-channels">
            {t('chan.manage')} →
          </a>
        </p>
      </Section>
    </div>
  );
}

// ---------------------------------------------------------------------------------------------
// API tokens
// ---------------------------------------------------------------------------------------------

export function TokensPage() {
  useTitle(t('tokens.title'));
  const tokens = useAsync(() => api.tokens(), []);
  const [name, setName] = useState('');
  const [scope, setScope] = useState<TokenScope>('read');
  const [created, setCreated] = useState<CreatedToken | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function create(e: Event) {
    e.preventDefault();
    setError(null);
    try {
      setCreated(await api.createToken(name.trim(), scope));
      setName('');
      tokens.reload();
    } catch (err) {
      setError(errorMessage(err));
    }
  }

  return (
    <div class="page">
      <h1>{t('tokens.title')}</h1>
      <Section title={t('tokens.create')}>
        <form class="row" onSubmit={create}>
          <input class="grow" required name="token-name" value={name} placeholder={t('common.name')} aria-label={t('common.name')} onInput={(e) => setName(val(e))} />
          <select value={scope} aria-label={t('tokens.scope')} onChange={(e) => setScope(val(e) as TokenScope)}>
            <option value="read">{t('tokens.scope.read')}</option>
            <option value="write">{t('tokens.scope.write')}</option>
          </select>
          <button class="btn btn-primary" type="submit" data-testid="create-token">
            {t('common.create')}
          </button>
        </form>
        {error ? <p class="error-text">{error}</p> : null}
        {created ? (
          <div class="notice notice-warn" data-testid="new-token">
            <div class="grow">
              <p>{t('tokens.shownOnce')}</p>
              <div class="token-box">{created.token}</div>
            </div>
            <CopyButton text={created.token} />
          </div>
        ) : null}
      </Section>
      <section class="card">
        <ErrorBox error={tokens.error} onRetry={tokens.reload} />
        {tokens.data && tokens.data.items.length === 0 ? <p class="muted">{t('tokens.empty')}</p> : null}
        <Table head={[t('common.name'), t('tokens.scope'), t('tokens.prefix'), t('tokens.created'), t('tokens.lastUsed'), '']}>
          {(tokens.data?.items ?? []).map((tk) => (
            <tr>
              <td>{tk.name}</td>
              <td>{tk.scope === 'write' ? t('tokens.scope.write') : t('tokens.scope.read')}</td>
              <td class="mono">{tk.prefix}…</td>
              <td class="muted">{formatDateTime(tk.created_at, lang.value)}</td>
              <td class="muted">{tk.last_used_at ? formatAgo(tk.last_used_at, Date.now(), lang.value) : t('tokens.never')}</td>
              <td class="num">
                <RowDeleteButton
                  onClick={async () => {
                    if (!confirm(t('common.confirmDelete', { name: tk.name }))) return;
                    await api.deleteToken(tk.id).catch((e: unknown) => toast(errorMessage(e), 'error'));
                    tokens.reload();
                  }}
                />
              </td>
            </tr>
          ))}
        </Table>
      </section>
    </div>
  );
}

// ---------------------------------------------------------------------------------------------
// Import / export
// ---------------------------------------------------------------------------------------------

/** A document's format from its text: JSON when it starts like JSON, else YAML. */
export function detectFormat(text: string): 'json' | 'yaml' {
  const s = text.trimStart();
  return s.startsWith('{') || s.startsWith('[') ? 'json' : 'yaml';
}

export function ImportExportPage() {
  useTitle(t('io.title'));
  const [text, setText] = useState('');
  const [result, setResult] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, whileBusy] = useBusy();

  async function doImport(e: Event) {
    e.preventDefault();
    setError(null);
    setResult(null);
    await whileBusy(async () => {
      try {
        const r = await api.importTargets(text, detectFormat(text));
        setResult(`${tn('targetsCreated', r.created)}, ${tn('targetsUpdated', r.updated)}.`);
      } catch (err) {
        setError(err instanceof ApiError && err.field ? `${err.field}: ${err.message}` : errorMessage(err));
      }
    });
  }

  return (
    <div class="page">
      <h1>{t('io.title')}</h1>
      <Section title={t('io.export')}>
        <div class="row">
          <a class="btn" href={api.exportUrl('yaml')} download="pingtower-targets.yaml" data-testid="export-yaml">
            {t('io.exportYaml')}
          </a>
          <a class="btn" href={api.exportUrl('json')} download="pingtower-targets.json" data-testid="export-json">
            {t('io.exportJson')}
          </a>
        </div>
      </Section>
      <Section title={t('io.import')}>
        <form onSubmit={doImport} class="page">
          <p class="muted">{t('io.importHint')}</p>
          <Field label={t('io.file')}>
            <input
              type="file"
              accept=".yaml,.yml,.json,application/json,application/yaml,text/yaml"
              onChange={async (e) => {
                const file = e.currentTarget.files?.[0];
                if (file) setText(await file.text());
              }}
            />
          </Field>
          <textarea rows={14} name="import" value={text} onInput={(e) => setText(val(e))} placeholder={'version: 1\ntargets:\n  - name: shop\n    kind: http\n    spec: {kind: http, url: "https://shop.example.com/health"}\n    interval_seconds: 60\n    regions: [default]\n    tags: []\n    failure_threshold: 2\n    success_threshold: 1\n    paused: false'} />
          <div class="form-actions">
            <span class="muted">
              {t('io.format')}: {text.trim() ? detectFormat(text).toUpperCase() : '—'}
            </span>
            <button class="btn btn-primary" type="submit" disabled={busy || !text.trim()} data-testid="do-import">
              {t('io.import')}
            </button>
          </div>
          {result ? <div class="notice notice-ok" data-testid="import-result">{result}</div> : null}
          {error ? <div class="notice notice-error">{error}</div> : null}
        </form>
      </Section>
    </div>
  );
}

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

export function SettingsPage() {
  useTitle(t('settings.title'));
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [pwMsg, setPwMsg] = useState<{ ok: boolean; text: string } | null>(null);
  const [regOpen, setRegOpen] = useState(serverConfig.value?.registration_open ?? true);
  useEffect(() => setRegOpen(serverConfig.value?.registration_open ?? true), [serverConfig.value]);
  const u = user.value;
  if (!u) return null;

  async function changePassword(e: Event) {
    e.preventDefault();
    try {
      await api.changePassword(current, next);
      setPwMsg({ ok: true, text: t('settings.passwordChanged') });
      setCurrent('');
      setNext('');
    } catch (err) {
      setPwMsg({ ok: false, text: errorMessage(err) });
    }
  }

  return (
    <div class="page">
      <h1>{t('settings.title')}</h1>
      <Section title={t('settings.account')}>
        <dl class="kv">
          <dt>{t('auth.email')}</dt>
          <dd>{u.email}</dd>
          <dt>{t('tokens.created')}</dt>
          <dd>{formatDateTime(u.created_at, lang.value)}</dd>
        </dl>
      </Section>
      <LimitsSection />
      <Section title={t('settings.appearance')}>
        <div class="grid">
          <Field label={t('lang.label')}>
            <select
              value={lang.value}
              data-testid="language-select"
              onChange={async (e) => {
                const l = val(e) === 'ru' ? 'ru' : 'en';
                setLang(l);
                try {
                  updateUser(await api.setLanguage(l));
                } catch (err) {
                  toast(errorMessage(err), 'error');
                }
              }}
            >
              <option value="en">English</option>
              <option value="ru">Русский</option>
            </select>
          </Field>
          <Field label={t('theme.toggle')}>
            <select value={theme.value} onChange={(e) => setTheme(val(e) === 'dark' ? 'dark' : 'light')}>
              <option value="light">{t('theme.light')}</option>
              <option value="dark">{t('theme.dark')}</option>
            </select>
          </Field>
        </div>
      </Section>
      <Section title={t('settings.password')}>
        <form class="grid" onSubmit={changePassword}>
          <Field label={t('settings.currentPassword')}>
            <input type="password" autocomplete="current-password" required value={current} onInput={(e) => setCurrent(val(e))} />
          </Field>
          <Field label={t('settings.newPassword')} hint={t('auth.passwordHint')}>
            <input type="password" autocomplete="new-password" required minLength={10} value={next} onInput={(e) => setNext(val(e))} />
          </Field>
          <SubmitRow label={t('common.save')} primary wide />
          {pwMsg ? <div class={`notice wide ${pwMsg.ok ? 'notice-ok' : 'notice-error'}`}>{pwMsg.text}</div> : null}
        </form>
      </Section>
      <MaintenanceSection />
      {u.is_admin ? (
        <Section title={t('settings.admin')}>
          <Check
            label={t('settings.registrationOpen')}
            checked={regOpen}
            onChange={async (v) => {
              setRegOpen(v);
              try {
                await api.adminSettings(v);
                if (serverConfig.value) serverConfig.value = { ...serverConfig.value, registration_open: v };
                toast(t('common.saved'));
              } catch (err) {
                setRegOpen(!v);
                toast(errorMessage(err), 'error');
              }
            }}
          />
        </Section>
      ) : null}
    </div>
  );
}

/** The signed-in user's permission for private addresses and quotas, fresh from `/api/auth/me`. */
function LimitsSection() {
  const me = useAsync<Me>(() => api.me(), []);
  const u = me.data;
  return (
    <Section title={t('settings.quotas')} id="limits">
      <ErrorBox error={me.error} onRetry={me.reload} />
      {me.loading && !u ? <Spinner /> : null}
      {u ? (
        <>
          <p data-testid="may-private" data-value={String(u.may_private_targets === true)}>
            <b>{t('settings.privateTargets')}:</b> {u.may_private_targets ? t('settings.privateYes') : t('settings.privateNo')}
          </p>
          {u.quotas ? (
            <dl class="kv" data-testid="quotas">
              {QUOTA_KEYS.map((k) => (
                <>
                  <dt>{t(`quota.${k}` as MessageKey)}</dt>
                  <dd class="num" data-quota={k}>
                    {u.quotas[k]}
                  </dd>
                </>
              ))}
            </dl>
          ) : null}
        </>
      ) : null}
    </Section>
  );
}

/** `datetime-local` value (local time) → RFC 3339 UTC. */
export function localToIso(v: string): string {
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

function MaintenanceSection() {
  const list = useAsync(() => api.maintenance(), []);
  const [name, setName] = useState('');
  const [tag, setTag] = useState('');
  const [start, setStart] = useState('');
  const [end, setEnd] = useState('');
  const [recurrence, setRecurrence] = useState<'' | 'daily' | 'weekly'>('');
  const [error, setError] = useState<string | null>(null);

  async function add(e: Event) {
    e.preventDefault();
    setError(null);
    try {
      await api.createMaintenance({
        name: name.trim(),
        tag: tag.trim() || null,
        target_id: null,
        starts_at: localToIso(start),
        ends_at: localToIso(end),
        recurrence: recurrence || null,
      });
      setName('');
      list.reload();
    } catch (err) {
      setError(errorMessage(err));
    }
  }

  return (
    <Section title={t('settings.maintenance')}>
      {canEdit(role.value) ? (
      <form class="grid" onSubmit={add}>
        <Field label={t('common.name')}>
          <input required value={name} onInput={(e) => setName(val(e))} />
        </Field>
        <Field label={t('settings.mwTag')}>
          <input value={tag} onInput={(e) => setTag(val(e))} />
        </Field>
        <Field label={t('settings.mwStart')}>
          <input type="datetime-local" required value={start} onInput={(e) => setStart(val(e))} />
        </Field>
        <Field label={t('settings.mwEnd')}>
          <input type="datetime-local" required value={end} onInput={(e) => setEnd(val(e))} />
        </Field>
        <Field label={t('settings.mwRecurrence')}>
          <select value={recurrence} onChange={(e) => setRecurrence(val(e) as '' | 'daily' | 'weekly')}>
            <option value="">{t('settings.mwOnce')}</option>
            <option value="daily">{t('settings.mwDaily')}</option>
            <option value="weekly">{t('settings.mwWeekly')}</option>
          </select>
        </Field>
        <SubmitRow label={t('common.add')} />
        {error ? <p class="error-text wide">{error}</p> : null}
      </form>
      ) : null}
      <ErrorBox error={list.error} />
      <table>
        <tbody>
          {(list.data?.items ?? []).map((w) => (
            <tr>
              <td>{w.name}</td>
              <td class="muted">{w.tag ? `#${w.tag}` : t('common.all')}</td>
              <td class="muted">
                {formatDateTime(w.starts_at, lang.value)} → {formatDateTime(w.ends_at, lang.value)}
              </td>
              <td class="muted">{w.recurrence === 'daily' ? t('settings.mwDaily') : w.recurrence === 'weekly' ? t('settings.mwWeekly') : t('settings.mwOnce')}</td>
              <td class="num">
                {canEdit(role.value) ? <RowDeleteButton
                  onClick={async () => {
                    await api.deleteMaintenance(w.id).catch((e: unknown) => toast(errorMessage(e), 'error'));
                    list.reload();
                  }}
                /> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}
