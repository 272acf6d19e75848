// Status pages: list, create/edit (choose targets by search — there may be 10,000), and the
// public page at /s/{slug}, which needs no login.

import { useEffect, useState } from 'preact/hooks';
import { ApiError, api } from '../api/client';
import type { PublicStatus, StatusPage, StatusPageTarget, Target } from '../api/model';
import { ErrorBox, Field, NewLink, PageHead, RowDeleteButton, Section, Spinner, StatusPill, SubmitRow, Table, errorMessage, useAsync, useTitle, val } from '../components/ui';
import { formatDateTime, formatDuration, formatUptime, slugify, statusTone } from '../format';
import { lang, t } from '../i18n';
import { navigate } from '../router';
import { role, toast } from '../session';
import { canEdit } from '../state/organisation';
import { incidentDuration } from './incidents';
import { UptimeBars } from './target';

export function StatusPagesPage() {
  useTitle(t('sp.title'));
  const pages = useAsync(() => api.statusPages(), []);
  return (
    <div class="page">
      <PageHead title={t('sp.title')}>
        {canEdit(role.value) ? <NewLink href="/status-pages/new" testid="new-status-page" label={t('sp.create')} /> : null}
      </PageHead>
      <ErrorBox error={pages.error} onRetry={pages.reload} />
      <section class="card">
        {pages.data && pages.data.items.length === 0 ? <p class="muted">{t('sp.empty')}</p> : null}
        <Table>
          {(pages.data?.items ?? []).map((p) => (
            <tr>
              <td>
                <a href={`/status-pages/${p.id}`}>
                  <b>{p.title}</b>
                </a>
              </td>
              <td class="mono">/s/{p.slug}</td>
              <td class="muted">{p.targets.length}</td>
              <td class="num">
                <a class="btn btn-small" href={`/s/${p.slug}`} target="_blank" rel="noopener">
                  {t('sp.open')} ↗
                </a>
              </td>
            </tr>
          ))}
        </Table>
      </section>
    </div>
  );
}

export function StatusPageEdit({ id }: { id?: string }) {
  const [page, setPage] = useState<Omit<StatusPage, 'id'> | null>(id ? null : { slug: '', title: '', description: '', targets: [] });
  const [loadError, setLoadError] = useState<unknown>(null);
  const [slugTouched, setSlugTouched] = useState(!!id);
  const [q, setQ] = useState('');
  const [found, setFound] = useState<Target[]>([]);
  const [error, setError] = useState<{ field?: string; text: string } | null>(null);
  useTitle(page?.title || t('sp.create'));

  useEffect(() => {
    if (!id) return;
    api.statusPage(id).then(({ id: _i, ...rest }) => setPage(rest), setLoadError);
  }, [id]);

  useEffect(() => {
    const h = setTimeout(() => {
      api.targets({ q: q.trim(), limit: 20, sort: 'name' }).then(
        (p) => setFound(p.items),
        () => setFound([]),
      );
    }, 150);
    return () => clearTimeout(h);
  }, [q]);

  if (loadError) return <ErrorBox error={loadError} />;
  if (!page) return <Spinner />;
  const p = page;
  const chosen = new Set(p.targets.map((x) => x.target_id));

  function setTargets(targets: StatusPageTarget[]) {
    setPage({ ...p, targets: targets.map((x, i) => ({ ...x, position: i })) });
  }

  async function save(e: Event) {
    e.preventDefault();
    setError(null);
    try {
      const saved = id ? await api.updateStatusPage(id, p) : await api.createStatusPage(p);
      toast(t('common.saved'));
      navigate(`/status-pages/${saved.id}`, true);
    } catch (err) {
      setError({ field: err instanceof ApiError ? err.field : undefined, text: errorMessage(err) });
    }
  }

  return (
    <form class="page" onSubmit={save} data-testid="status-page-form">
      <PageHead title={p.title || t('sp.create')}>
        <div class="actions">
          {id ? (
            <>
              <a class="btn" href={`/s/${p.slug}`} target="_blank" rel="noopener" data-testid="open-public">
                {t('sp.open')} ↗
              </a>
              {canEdit(role.value) ? <button
                type="button"
                class="btn btn-danger"
                onClick={async () => {
                  if (!confirm(t('common.confirmDelete', { name: p.title }))) return;
                  await api.deleteStatusPage(id);
                  navigate('/status-pages');
                }}
              >
                {t('common.delete')}
              </button> : null}
            </>
          ) : null}
        </div>
      </PageHead>
      <section class="card grid">
        <Field label={t('sp.pageTitle')} error={error?.field === 'title' ? error.text : undefined}>
          <input
            name="title"
            required
            value={p.title}
            onInput={(e) => setPage({ ...p, title: val(e), slug: slugTouched ? p.slug : slugify(val(e)) })}
          />
        </Field>
        <Field label={t('sp.slug')} hint={`${location.origin}/s/${p.slug}`} error={error?.field === 'slug' ? error.text : undefined}>
          <input
            name="slug"
            required
            pattern="[a-z0-9][a-z0-9-]*"
            value={p.slug}
            onInput={(e) => {
              setSlugTouched(true);
              setPage({ ...p, slug: val(e) });
            }}
          />
        </Field>
        <Field label={t('sp.description')} wide>
          <textarea rows={2} name="description" value={p.description ?? ''} onInput={(e) => setPage({ ...p, description: val(e) })} />
        </Field>
      </section>
      <Section title={t('sp.targets')}>
        <Table>
          {p.targets.map((x, i) => (
            <tr data-testid="sp-target">
              <td>
                <input aria-label={t('sp.displayName')} value={x.display_name ?? ''} onInput={(e) => setTargets(p.targets.map((y, j) => (j === i ? { ...y, display_name: val(e) } : y)))} />
              </td>
              <td>
                <input aria-label={t('sp.group')} placeholder={t('sp.group')} value={x.group ?? ''} onInput={(e) => setTargets(p.targets.map((y, j) => (j === i ? { ...y, group: val(e) || null } : y)))} />
              </td>
              <td class="num">
                <button type="button" class="btn btn-small" disabled={i === 0} onClick={() => setTargets(swap(p.targets, i, i - 1))}>
                  ↑
                </button>
                <button type="button" class="btn btn-small" disabled={i === p.targets.length - 1} onClick={() => setTargets(swap(p.targets, i, i + 1))}>
                  ↓
                </button>
                <RowDeleteButton label={t('common.remove')} onClick={() => setTargets(p.targets.filter((_, j) => j !== i))} />
              </td>
            </tr>
          ))}
        </Table>
        <h3>{t('sp.addTargets')}</h3>
        <input type="search" name="sp-search" value={q} placeholder={t('common.search')} aria-label={t('sp.addTargets')} onInput={(e) => setQ(val(e))} />
        <div class="row" style={{ marginTop: '8px' }}>
          {found
            .filter((x) => !chosen.has(x.id))
            .map((x) => (
              <button
                type="button"
                class="chip"
                data-testid="sp-candidate"
                onClick={() => setTargets([...p.targets, { target_id: x.id, display_name: x.name, position: p.targets.length, group: null }])}
              >
                + {x.name}
              </button>
            ))}
        </div>
      </Section>
      {error && !error.field ? <div class="notice notice-error">{error.text}</div> : null}
      <SubmitRow label={t('common.save')} primary testid="save-status-page" />
    </form>
  );
}

function swap<T>(xs: T[], i: number, j: number): T[] {
  const out = [...xs];
  [out[i], out[j]] = [out[j]!, out[i]!];
  return out;
}

/** Overall state of a public page from its targets. */
export function overallTone(s: PublicStatus): 'up' | 'degraded' | 'down' {
  const tones = s.targets.map((x) => statusTone(x.status));
  if (tones.includes('down') || statusTone(s.status) === 'down') return 'down';
  if (tones.includes('degraded') || statusTone(s.status) === 'degraded') return 'degraded';
  return 'up';
}

export function PublicStatusPage({ slug }: { slug: string }) {
  const data = useAsync(() => api.publicStatus(slug), [slug], 30_000);
  useTitle(data.data?.title ?? '');
  if (data.error) {
    return (
      <div class="public">
        <ErrorBox error={data.error} onRetry={data.reload} />
      </div>
    );
  }
  if (!data.data) return <Spinner />;
  const s = data.data;
  const tone = overallTone(s);
  const groups = new Map<string, typeof s.targets>();
  for (const x of s.targets) {
    const g = x.group ?? '';
    groups.set(g, [...(groups.get(g) ?? []), x]);
  }
  return (
    <div class="public" data-testid="public-status">
      <h1>{s.title}</h1>
      {s.description ? <p class="muted">{s.description}</p> : null}
      <div class={`banner banner-${tone}`} data-testid="overall" data-tone={tone}>
        {tone === 'up' ? t('sp.public.allUp') : tone === 'down' ? t('sp.public.someDown') : t('sp.public.degraded')}
      </div>
      {[...groups.entries()].map(([g, targets]) => (
        <section class="card">
          {g ? <h2>{g}</h2> : null}
          {targets.map((x) => (
            <div class="public-target" data-testid="public-target" data-status={x.status}>
              <div class="row">
                <b class="grow">{x.name}</b>
                <StatusPill status={x.status} />
              </div>
              {x.days.length ? <UptimeBars days={x.days} /> : null}
              <p class="muted">{t('sp.public.uptime90', { pct: formatUptime(x.uptime_90d) })}</p>
            </div>
          ))}
        </section>
      ))}
      <Section title={t('sp.public.incidents')}>
        {s.incidents.length === 0 ? <p class="muted">{t('sp.public.noIncidents')}</p> : null}
        {s.incidents.map((i) => (
          <div class="row public-incident" data-testid="public-incident">
            <StatusPill status={i.resolved_at ? 'up' : 'down'} />
            <b>{i.name}</b>
            <span class="muted">
              {formatDateTime(i.opened_at, lang.value)} · {i.resolved_at ? formatDuration(incidentDuration(i), lang.value) : t('incidents.ongoing')}
            </span>
          </div>
        ))}
      </Section>
      <p class="muted" style={{ textAlign: 'center' }}>
        {t('sp.public.poweredBy')}
      </p>
    </div>
  );
}
