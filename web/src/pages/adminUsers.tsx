// Admin "Users": every account with its target count, the private-address permission and the
// quota overrides (empty = the installation default). Shown to admins only; the API refuses
// everyone else with 403 anyway.

import { useEffect, useState } from 'preact/hooks';
import { ApiError, api } from '../api/client';
import { QUOTA_KEYS, type AdminUser, type Page } from '../api/model';
import { ErrorBox, Field, Spinner, SubmitRow, errorMessage, useBusy, useTitle, val } from '../components/ui';
import { formatDateTime } from '../format';
import { lang, t, tn, type MessageKey } from '../i18n';
import { toast, user } from '../session';
import { adminFieldKey, quotaDraft, quotaPatch, type QuotaDraft, type QuotaErrors } from '../state/adminUsers';

const PAGE_SIZE = 50;

export function AdminUsersPage() {
  useTitle(t('admin.users'));
  const [items, setItems] = useState<AdminUser[]>([]);
  const [page, setPage] = useState<Page<AdminUser> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);
  const isAdmin = user.value?.is_admin === true;

  async function load(cursor: string | null) {
    setLoading(true);
    setError(null);
    try {
      const p = await api.adminUsers({ limit: PAGE_SIZE, cursor });
      setPage(p);
      setItems((prev) => (cursor ? [...prev, ...p.items] : p.items));
    } catch (e) {
      setError(e);
    } finally {
      setLoading(false);
    }
  }

  useEffect(() => {
    if (isAdmin) void load(null);
  }, [isAdmin]);

  if (!isAdmin) {
    return (
      <div class="page">
        <h1>403</h1>
        <p>{t('common.notFound')}</p>
      </div>
    );
  }

  return (
    <div class="page" data-testid="admin-users">
      <h1>{t('admin.users')}</h1>
      <p class="muted">{t('admin.overridesHint')}</p>
      <ErrorBox error={error} onRetry={() => void load(null)} />
      {loading && !page ? <Spinner /> : null}
      {items.map((u) => (
        <UserCard
          key={u.id}
          user={u}
          onSaved={(next) => setItems((prev) => prev.map((x) => (x.id === next.id ? next : x)))}
        />
      ))}
      {page?.next_cursor ? (
        <p>
          <button type="button" class="btn" disabled={loading} onClick={() => void load(page.next_cursor ?? null)}>
            {t('admin.loadMore')}
          </button>
        </p>
      ) : null}
    </div>
  );
}

function UserCard({ user: u, onSaved }: { user: AdminUser; onSaved: (u: AdminUser) => void }) {
  const [draft, setDraft] = useState<QuotaDraft>(() => quotaDraft(u));
  const [mayPrivate, setMayPrivate] = useState(u.may_private_targets);
  const [errors, setErrors] = useState<QuotaErrors>({});
  const [busy, whileBusy] = useBusy();

  function errText(key: string): string | undefined {
    const e = errors[key];
    if (!e) return undefined;
    return 'text' in e ? e.text : t(e.key, e.vars);
  }

  async function save(e: Event) {
    e.preventDefault();
    const { patch, errors: errs } = quotaPatch(u, draft, mayPrivate);
    setErrors(errs);
    if (Object.keys(errs).length) return;
    if (!patch) {
      toast(t('admin.noChanges'));
      return;
    }
    await whileBusy(async () => {
      try {
        const saved = await api.updateAdminUser(u.id, patch);
        onSaved(saved);
        setDraft(quotaDraft(saved));
        setMayPrivate(saved.may_private_targets);
        toast(t('common.saved'));
      } catch (err) {
        setErrors({ [err instanceof ApiError ? adminFieldKey(err.field) : '_form']: { text: errorMessage(err) } });
      }
    });
  }

  return (
    <section class="card" data-testid="admin-user" data-email={u.email}>
      <header class="card-head">
        <h2>
          {u.email} {u.is_admin ? <span class="pill">{t('admin.admin')}</span> : null}
        </h2>
        <span class="muted">
          {tn('targets', u.target_count)} · {formatDateTime(u.created_at, lang.value)}
        </span>
      </header>
      <form class="grid" onSubmit={save}>
        <label class="check wide">
          <input
            type="checkbox"
            name="may_private_targets"
            checked={u.is_admin || mayPrivate}
            disabled={u.is_admin}
            onChange={(e) => setMayPrivate((e.currentTarget as HTMLInputElement).checked)}
          />
          <span>
            {t('admin.mayPrivate')}
            {u.is_admin ? <span class="muted"> — {t('admin.adminsAlways')}</span> : null}
          </span>
        </label>
        {errText('may_private_targets') ? <p class="error-text wide">{errText('may_private_targets')}</p> : null}
        {QUOTA_KEYS.map((k) => (
          <Field key={k} label={t(`quota.${k}` as MessageKey)} error={errText(`quota_overrides.${k}`)} name={`quota_overrides.${k}`}>
            <input
              type="number"
              min={0}
              step={1}
              inputMode="numeric"
              name={k}
              value={draft[k]}
              placeholder={String(u.quotas[k] ?? '')}
              onInput={(e) => setDraft({ ...draft, [k]: val(e) })}
            />
          </Field>
        ))}
        <SubmitRow label={t('common.save')} primary wide disabled={busy} testid="save-user" />
        {errText('_form') ? <div class="notice notice-error wide">{errText('_form')}</div> : null}
      </form>
    </section>
  );
}
