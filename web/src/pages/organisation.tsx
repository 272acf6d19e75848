// Organisations: the switcher in the top bar, a new organisation, the current one's settings,
// members and invitations, its audit log, and the invitation link's page `/invite/{token}`.

import { useState } from 'preact/hooks';
import { ApiError, api } from '../api/client';
import type { AuditEntry, CreatedInvitation, Member, Membership, Organisation } from '../api/model';
import { Check, CopyButton, ErrorBox, Field, PageHead, RowDeleteButton, Section, Spinner, SubmitRow, Table, errorMessage, useAsync, useTitle, val } from '../components/ui';
import { formatDateTime } from '../format';
import { lang, t, type MessageKey } from '../i18n';
import { navigate } from '../router';
import { role, toast, user } from '../session';
import { AUDIT_RESOURCES, auditFields, auditQuery, canManage, grantableRoles, memberActions, orgNameError, type AuditFilters, type Role } from '../state/organisation';

const roleName = (r: string) => t(`role.${r}` as MessageKey);

/** Reloads the app in the organisation the session now works in: every page's data is another's. */
function reloadInto(path: string): void {
  window.location.assign(path);
}

async function switchTo(id: string, path = '/'): Promise<void> {
  try {
    await api.switchOrganisation(id);
    reloadInto(path);
  } catch (e) {
    toast(errorMessage(e), 'error');
  }
}

/** The top bar's organisation select: memberships (the current one selected), then "New organisation…". */
export function OrgSwitcher() {
  const orgs = useAsync(() => api.organisations(), [user.value?.id]);
  const items = orgs.data?.items ?? [];
  if (!items.length) return null;
  const current = items.find((o) => o.current);
  return (
    <select
      class="org-switcher"
      data-testid="org-switcher"
      aria-label={t('org.switch')}
      title={t('org.switch')}
      value={current?.id ?? ''}
      onChange={(e) => {
        const v = val(e);
        if (v === '__new') {
          (e.currentTarget as HTMLSelectElement).value = current?.id ?? '';
          navigate('/organisations/new');
        } else if (v && v !== current?.id) void switchTo(v);
      }}
    >
      {items.map((o: Membership) => (
        <option value={o.id} data-current={o.current ? 'true' : undefined}>
          {o.personal ? t('org.personal') : o.name}
          {o.current ? ' ✓' : ''}
        </option>
      ))}
      <option value="__new">+ {t('org.new')}</option>
    </select>
  );
}

export function NewOrganisationPage() {
  useTitle(t('org.new'));
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function submit(e: Event) {
    e.preventDefault();
    const bad = orgNameError(name);
    if (bad) return setError(t(bad === 'required' ? 'org.nameRequired' : 'org.nameTooLong'));
    setBusy(true);
    setError(null);
    try {
      const m = await api.createOrganisation(name.trim());
      await switchTo(m.id, '/organisation');
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <div class="page">
      <h1>{t('org.new')}</h1>
      <Section title={t('org.new')}>
        <form class="grid" onSubmit={submit} data-testid="new-org-form">
          <Field label={t('common.name')} error={error ?? undefined}>
            <input name="org-name" maxLength={100} value={name} onInput={(e) => setName(val(e))} />
          </Field>
          <SubmitRow label={t('common.create')} primary disabled={busy} testid="create-org" />
        </form>
        <p class="muted">{t('org.newHint')}</p>
      </Section>
    </div>
  );
}

export function OrganisationPage() {
  useTitle(t('org.title'));
  const org = useAsync(() => api.organisation(), []);
  const members = useAsync(() => api.members(), []);
  const o = org.data;
  if (org.error) return <div class="page"><ErrorBox error={org.error} onRetry={org.reload} /></div>;
  if (!o) return <Spinner />;
  const manage = canManage(o.role);
  const owner = o.role === 'owner';
  const me = { user_id: user.value?.id ?? '', role: o.role };
  return (
    <div class="page" data-testid="org-page" data-role={o.role} data-personal={o.personal ? 'true' : 'false'}>
      <PageHead title={o.personal ? t('org.personal') : o.name}>
        {manage ? (
          <a class="btn" href="/organisation/audit" data-testid="open-audit">
            {t('audit.title')}
          </a>
        ) : null}
      </PageHead>
      <p class="muted">
        {t('org.yourRole')}: <b data-testid="org-role">{roleName(o.role)}</b> · {t('org.created', { at: formatDateTime(o.created_at, lang.value) })}
      </p>
      <OrgSettings org={o} manage={manage} onSaved={org.set} />
      <Section title={`${t('org.members')} (${o.members})`}>
        <ErrorBox error={members.error} onRetry={members.reload} />
        <Table head={[t('auth.email'), t('org.role'), t('org.joined'), '']} testid="members-table">
          {(members.data?.items ?? []).map((m) => (
            <MemberRow member={m} actions={memberActions(me, m, o.personal)} onChange={members.reload} />
          ))}
        </Table>
      </Section>
      {manage && !o.personal ? <Invitations myRole={o.role} /> : null}
      {owner && !o.personal ? <OwnerZone members={(members.data?.items ?? []).filter((m) => m.user_id !== me.user_id)} name={o.name} /> : null}
    </div>
  );
}

function OrgSettings({ org, manage, onSaved }: { org: Organisation; manage: boolean; onSaved: (o: Organisation) => void }) {
  const [name, setName] = useState(org.name);
  const [language, setLanguage] = useState(org.language);
  const [require2fa, setRequire2fa] = useState(org.require_2fa);
  const [error, setError] = useState<ApiError | string | null>(null);
  async function save(e: Event) {
    e.preventDefault();
    setError(null);
    try {
      const patch = { ...(org.personal ? {} : { name: name.trim() }), language, require_2fa: require2fa };
      onSaved(await api.updateOrganisation(patch));
      toast(t('common.saved'));
    } catch (err) {
      setError(err instanceof ApiError ? err : errorMessage(err));
    }
  }
  const fieldError = (f: string) => (error instanceof ApiError && error.field === f ? error.message : undefined);
  return (
    <Section title={t('org.settings')}>
      <form class="grid" onSubmit={save} data-testid="org-settings">
        <Field label={t('common.name')} error={fieldError('name')}>
          <input name="org-name" value={name} maxLength={100} disabled={!manage || org.personal} onInput={(e) => setName(val(e))} />
        </Field>
        <Field label={t('org.language')} error={fieldError('language')}>
          <select name="org-language" value={language} disabled={!manage} onChange={(e) => setLanguage(val(e))}>
            <option value="en">English</option>
            <option value="ru">Русский</option>
          </select>
        </Field>
        {manage ? (
          <>
            <Check name="require_2fa" label={t('org.require2fa')} checked={require2fa} onChange={setRequire2fa} />
            <SubmitRow label={t('common.save')} primary testid="save-org" />
          </>
        ) : (
          <p class="muted wide">{require2fa ? t('org.require2faOn') : t('org.require2faOff')}</p>
        )}
        {error && !(error instanceof ApiError && error.field && ['name', 'language'].includes(error.field)) ? (
          <p class="error-text wide" role="alert">
            {error instanceof ApiError ? error.message : error}
          </p>
        ) : null}
      </form>
    </Section>
  );
}

function MemberRow({ member: m, actions, onChange }: { member: Member; actions: ReturnType<typeof memberActions>; onChange: () => void }) {
  async function setRole(r: string) {
    try {
      await api.setMemberRole(m.user_id, r as Member['role']);
      toast(t('common.saved'));
    } catch (e) {
      toast(errorMessage(e), 'error');
    }
    onChange();
  }
  async function remove() {
    if (!confirm(t('org.confirmRemove', { email: m.email }))) return;
    try {
      await api.removeMember(m.user_id);
    } catch (e) {
      toast(errorMessage(e), 'error');
    }
    onChange();
  }
  async function leave() {
    if (!confirm(t('org.confirmLeave'))) return;
    try {
      await api.removeMember(m.user_id);
      reloadInto('/');
    } catch (e) {
      toast(errorMessage(e), 'error');
    }
  }
  return (
    <tr data-testid="member-row" data-email={m.email} data-role={m.role}>
      <td>{m.email}</td>
      <td>
        {actions.roles.length ? (
          <select name="member-role" aria-label={t('org.role')} value={m.role} onChange={(e) => void setRole(val(e))}>
            {actions.roles.map((r) => (
              <option value={r}>{roleName(r)}</option>
            ))}
          </select>
        ) : (
          roleName(m.role)
        )}
      </td>
      <td class="muted">{formatDateTime(m.joined_at, lang.value)}</td>
      <td class="num">
        {actions.remove ? <RowDeleteButton label={t('common.remove')} onClick={() => void remove()} /> : null}
        {actions.leave ? (
          <button type="button" class="btn btn-small btn-danger" data-testid="leave-org" onClick={() => void leave()}>
            {t('org.leave')}
          </button>
        ) : null}
      </td>
    </tr>
  );
}

function Invitations({ myRole }: { myRole: Role | string }) {
  const list = useAsync(() => api.invitations(), []);
  const roles = grantableRoles(myRole);
  const [email, setEmail] = useState('');
  const [inviteRole, setInviteRole] = useState<string>('viewer');
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<CreatedInvitation | null>(null);
  async function invite(e: Event) {
    e.preventDefault();
    setError(null);
    try {
      setCreated(await api.invite(email.trim(), inviteRole as Member['role']));
      setEmail('');
      list.reload();
    } catch (err) {
      setError(errorMessage(err));
    }
  }
  return (
    <Section title={t('org.invitations')}>
      <form class="row" onSubmit={invite} data-testid="invite-form">
        <input class="grow" type="email" name="invite-email" required placeholder="colleague@example.com" aria-label={t('auth.email')} value={email} onInput={(e) => setEmail(val(e))} />
        <select name="invite-role" aria-label={t('org.role')} value={inviteRole} onChange={(e) => setInviteRole(val(e))}>
          {roles.map((r) => (
            <option value={r}>{roleName(r)}</option>
          ))}
        </select>
        <button class="btn btn-primary" type="submit" data-testid="invite">
          {t('org.invite')}
        </button>
      </form>
      {error ? (
        <p class="error-text" role="alert">
          {error}
        </p>
      ) : null}
      {created ? (
        <div class="notice notice-warn" data-testid="invite-link-box">
          <p>{t('org.linkOnce', { email: created.email })}</p>
          <div class="row">
            <code class="token-box grow" data-testid="invite-link">
              {created.link}
            </code>
            <CopyButton text={created.link} />
          </div>
        </div>
      ) : null}
      <ErrorBox error={list.error} onRetry={list.reload} />
      {list.data && list.data.items.length === 0 ? <p class="muted">{t('org.noInvitations')}</p> : null}
      <Table testid="invitations-table">
        {(list.data?.items ?? []).map((i) => (
          <tr data-testid="invitation-row" data-email={i.email}>
            <td>{i.email}</td>
            <td>{roleName(i.role)}</td>
            <td class="muted">{t('org.expires', { at: formatDateTime(i.expires_at, lang.value) })}</td>
            <td class="num">
              <RowDeleteButton
                label={t('org.revoke')}
                onClick={async () => {
                  await api.revokeInvitation(i.id).catch((e: unknown) => toast(errorMessage(e), 'error'));
                  list.reload();
                }}
              />
            </td>
          </tr>
        ))}
      </Table>
    </Section>
  );
}

function OwnerZone({ members, name }: { members: Member[]; name: string }) {
  const [to, setTo] = useState('');
  async function transfer() {
    const m = members.find((x) => x.user_id === to);
    if (!m || !confirm(t('org.confirmTransfer', { email: m.email }))) return;
    try {
      await api.transferOrganisation(m.user_id);
      reloadInto('/organisation');
    } catch (e) {
      toast(errorMessage(e), 'error');
    }
  }
  async function remove() {
    if (prompt(t('org.confirmDelete', { name })) !== name) return;
    try {
      await api.deleteOrganisation();
      reloadInto('/');
    } catch (e) {
      toast(errorMessage(e), 'error');
    }
  }
  return (
    <Section title={t('org.dangerZone')}>
      <div class="row">
        <select name="transfer-to" aria-label={t('org.transfer')} value={to} onChange={(e) => setTo(val(e))}>
          <option value="">{t('org.transferTo')}</option>
          {members.map((m) => (
            <option value={m.user_id}>{m.email}</option>
          ))}
        </select>
        <button type="button" class="btn" data-testid="transfer-org" disabled={!to} onClick={() => void transfer()}>
          {t('org.transfer')}
        </button>
      </div>
      <p>
        <button type="button" class="btn btn-danger" data-testid="delete-org" onClick={() => void remove()}>
          {t('org.delete')}
        </button>
      </p>
      <p class="muted">{t('org.deleteHint')}</p>
    </Section>
  );
}

export function AuditPage() {
  useTitle(t('audit.title'));
  const members = useAsync(() => api.members(), []);
  const [filters, setFilters] = useState<AuditFilters>({ user_id: '', resource: '' });
  const [pages, setPages] = useState<AuditEntry[][]>([]);
  const [next, setNext] = useState<number | null>(null);
  const first = useAsync(
    async () => {
      const p = await api.audit(auditQuery(filters, null));
      setPages([p.items]);
      setNext(p.next_cursor ?? null);
      return p;
    },
    [filters.user_id, filters.resource],
  );
  const [loadingMore, setLoadingMore] = useState(false);
  async function older() {
    if (next === null) return;
    setLoadingMore(true);
    try {
      const p = await api.audit(auditQuery(filters, next));
      setPages((ps) => [...ps, p.items]);
      setNext(p.next_cursor ?? null);
    } catch (e) {
      toast(errorMessage(e), 'error');
    } finally {
      setLoadingMore(false);
    }
  }
  if (!canManage(role.value) && role.value !== undefined) {
    return (
      <div class="page">
        <h1>{t('audit.title')}</h1>
        <p class="notice notice-error" role="alert">{t('org.adminOnly')}</p>
      </div>
    );
  }
  const rows = pages.flat();
  return (
    <div class="page" data-testid="audit-page">
      <PageHead title={t('audit.title')}>
        <a class="btn" href="/organisation">
          {t('org.title')}
        </a>
      </PageHead>
      <div class="toolbar">
        <select name="audit-user" aria-label={t('audit.member')} value={filters.user_id} onChange={(e) => setFilters({ ...filters, user_id: val(e) })}>
          <option value="">{t('audit.allMembers')}</option>
          {(members.data?.items ?? []).map((m) => (
            <option value={m.user_id}>{m.email}</option>
          ))}
        </select>
        <select name="audit-resource" aria-label={t('audit.resource')} value={filters.resource} onChange={(e) => setFilters({ ...filters, resource: val(e) })}>
          <option value="">{t('audit.allResources')}</option>
          {AUDIT_RESOURCES.map((r) => (
            <option value={r}>{r}</option>
          ))}
        </select>
      </div>
      <ErrorBox error={first.error} onRetry={first.reload} />
      {first.loading && !rows.length ? <Spinner /> : null}
      {!first.loading && !rows.length && !first.error ? <p class="muted">{t('audit.empty')}</p> : null}
      <Table head={[t('audit.at'), t('audit.member'), t('audit.action'), t('audit.status'), t('audit.fields')]} testid="audit-table">
        {rows.map((a) => (
          <tr data-testid="audit-row" data-resource={a.resource}>
            <td class="muted">{formatDateTime(a.at, lang.value)}</td>
            <td>
              {a.actor_email}
              {a.token_id ? <span class="muted"> · {t('audit.token')}</span> : null}
            </td>
            <td>
              <code>{a.action}</code>
              {a.resource_id ? <span class="muted"> {a.resource_id}</span> : null}
            </td>
            <td class={a.status >= 400 ? 'error-text' : ''}>{a.status}</td>
            <td class="muted mono">{auditFields(a.fields)}</td>
          </tr>
        ))}
      </Table>
      {next !== null ? (
        <p>
          <button type="button" class="btn" data-testid="audit-older" disabled={loadingMore} onClick={() => void older()}>
            {t('audit.older')}
          </button>
        </p>
      ) : null}
    </div>
  );
}

/** `/invite/{token}`: what the invitation offers, and a button that accepts it (signed in; the app sends others to sign in first). */
export function InvitePage({ token }: { token: string }) {
  useTitle(t('invite.title'));
  const info = useAsync(() => api.invitation(token), [token]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function accept() {
    setBusy(true);
    setError(null);
    try {
      await api.acceptInvitation(token);
      reloadInto('/');
    } catch (e) {
      const status = e instanceof ApiError ? e.status : 0;
      setError(status === 403 ? t('invite.otherEmail') : status === 409 ? t('invite.already') : status === 410 ? t('invite.expired') : errorMessage(e));
      setBusy(false);
    }
  }
  const status = info.error instanceof ApiError ? info.error.status : 0;
  return (
    <div class="page" data-testid="invite-page">
      <h1>{t('invite.title')}</h1>
      {info.loading && !info.data ? <Spinner /> : null}
      {status === 404 ? <p class="notice notice-error" role="alert">{t('invite.notFound')}</p> : null}
      {status === 410 ? <p class="notice notice-error" role="alert">{t('invite.expired')}</p> : null}
      {info.error && status !== 404 && status !== 410 ? <ErrorBox error={info.error} onRetry={info.reload} /> : null}
      {info.data ? (
        <Section title={info.data.organisation}>
          <p data-testid="invite-summary">
            {t('invite.summary', { org: info.data.organisation, role: roleName(info.data.role), by: info.data.invited_by ?? '—' })}
          </p>
          <p class="muted">
            {t('invite.for', { email: info.data.email })} · {t('org.expires', { at: formatDateTime(info.data.expires_at, lang.value) })}
          </p>
          {user.value && user.value.email !== info.data.email ? <p class="notice notice-warn">{t('invite.otherEmail')}</p> : null}
          <button type="button" class="btn btn-primary" data-testid="accept-invite" disabled={busy} onClick={() => void accept()}>
            {t('invite.accept')}
          </button>
          {error ? (
            <p class="error-text" role="alert">
              {error}
            </p>
          ) : null}
        </Section>
      ) : null}
    </div>
  );
}
