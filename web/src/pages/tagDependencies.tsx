// Tag dependencies (`/dependencies`): for each tag the organisation uses, the targets every target
// carrying it depends on. Editors and above change them (the API's rule); a refused change shows
// its 422 beside the tag — a cycle named in the UI's language.

import { useState } from 'preact/hooks';
import { ApiError, api } from '../api/client';
import { ErrorBox, PageHead, Spinner, Table, errorMessage, useAsync, useBusy, useTitle, val } from '../components/ui';
import { t } from '../i18n';
import { role, toast } from '../session';
import { MAX_DEPENDS_ON, type Msg } from '../state/dependencies';
import { canEdit } from '../state/organisation';
import {
  MAX_DEPENDENCY_TAGS,
  applySaved,
  dependsOnError,
  saveError,
  tagDependencyBody,
  tagError,
  tagRows,
  tagsWithDependencies,
  type TagRow,
} from '../state/tagDependencies';
import { TargetPicker } from './escalation';

interface Loaded {
  rows: TagRow[];
  /** Names of the first 500 targets, for the chips. */
  names: Map<string, string>;
}

const say = (m: Msg) => t(m.key, m.vars);

export function TagDependenciesPage() {
  useTitle(t('tagdeps.title'));
  const editable = canEdit(role.value);
  const data = useAsync<Loaded>(async (signal) => {
    const [deps, targets] = await Promise.all([api.tagDependencies(), api.targets({ limit: 500, sort: 'name' }, { signal })]);
    return { rows: tagRows(deps.items, targets.items), names: new Map(targets.items.map((x) => [x.id, x.name])) };
  }, []);
  const [editing, setEditing] = useState<string | null>(null);
  const [draft, setDraft] = useState<string[]>([]);
  const [error, setError] = useState<{ tag: string; on: 'tag' | 'depends_on'; text: string } | null>(null);
  const [newTag, setNewTag] = useState('');
  const [newTagError, setNewTagError] = useState<string | null>(null);
  const [busy, whileBusy] = useBusy();

  if (data.error) return <ErrorBox error={data.error} onRetry={data.reload} />;
  if (!data.data) return <Spinner />;
  const { rows, names } = data.data;

  function edit(row: TagRow) {
    setEditing(row.tag);
    setDraft(row.dependsOn);
    setError(null);
  }

  async function save(tag: string) {
    const local = dependsOnError(draft);
    if (local) {
      setError({ tag, on: 'depends_on', text: say(local) });
      return;
    }
    await whileBusy(async () => {
      try {
        const saved = await api.setTagDependencies(tagDependencyBody(tag, draft));
        data.set({ rows: applySaved(rows, saved), names });
        setEditing(null);
        setError(null);
        toast(t('tagdeps.saved', { tag: saved.tag }));
      } catch (e) {
        if (e instanceof ApiError && e.status === 422) {
          const { on, msg } = saveError(e.field, e.message);
          setError({ tag, on, text: say(msg) });
        } else {
          setError({ tag, on: 'depends_on', text: errorMessage(e) });
        }
      }
    });
  }

  function addTag(e: Event) {
    e.preventDefault();
    const problem = tagError(newTag);
    if (problem) {
      setNewTagError(say(problem));
      return;
    }
    const tag = newTag.trim();
    setNewTagError(null);
    setNewTag('');
    const existing = rows.find((r) => r.tag === tag);
    if (existing) {
      edit(existing);
      return;
    }
    if (tagsWithDependencies(rows) >= MAX_DEPENDENCY_TAGS) {
      setNewTagError(t('tagdeps.maxTags', { max: MAX_DEPENDENCY_TAGS }));
      return;
    }
    // A row of its own until it is saved with dependencies (or the page reloads).
    data.set({ rows: [...rows, { tag, dependsOn: [], carriers: 0 }].sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0)), names });
    setEditing(tag);
    setDraft([]);
    setError(null);
  }

  return (
    <div class="page" data-testid="tag-deps-page">
      <PageHead title={t('tagdeps.title')}>
        <a class="btn" href="/">
          {t('common.back')}
        </a>
      </PageHead>
      <p class="muted">{t('tagdeps.intro')}</p>
      {!editable ? <p class="muted" data-testid="tag-deps-read-only">{t('tagdeps.readOnly')}</p> : null}
      <section class="card">
        {rows.length === 0 ? <div class="empty">{t('tagdeps.empty')}</div> : null}
        {rows.length ? (
          <Table testid="tag-deps" head={[t('tagdeps.tag'), t('tagdeps.carriers'), t('tagdeps.dependsOn'), '']}>
            {rows.map((r) => {
              const open = editing === r.tag;
              const err = error?.tag === r.tag ? error : null;
              return (
                <tr data-testid="tag-dep-row" data-tag={r.tag}>
                  <td>
                    <b>{r.tag}</b>
                    {err?.on === 'tag' ? (
                      <p class="error-text" role="alert" data-testid="tag-dep-error">
                        {err.text}
                      </p>
                    ) : null}
                  </td>
                  <td class="num">{r.carriers}</td>
                  <td class={err?.on === 'depends_on' ? 'invalid' : ''}>
                    {open ? (
                      <TargetPicker ids={draft} onChange={setDraft} max={MAX_DEPENDS_ON} testid="tag-dep-target" />
                    ) : r.dependsOn.length ? (
                      <span class="chips">
                        {r.dependsOn.map((id) => (
                          <span class="pill" data-testid="tag-dep-chip" data-target={id}>
                            {names.get(id) ?? `${id.slice(0, 8)}…`}
                          </span>
                        ))}
                      </span>
                    ) : (
                      <span class="muted">{t('tagdeps.nothing')}</span>
                    )}
                    {err?.on === 'depends_on' ? (
                      <p class="error-text" role="alert" data-testid="tag-dep-error">
                        {err.text}
                      </p>
                    ) : null}
                  </td>
                  <td class="num">
                    {editable && open ? (
                      <>
                        <button type="button" class="btn btn-primary btn-small" data-testid="tag-dep-save" disabled={busy} onClick={() => void save(r.tag)}>
                          {t('common.save')}
                        </button>{' '}
                        <button
                          type="button"
                          class="btn btn-small"
                          onClick={() => {
                            setEditing(null);
                            setError(null);
                          }}
                        >
                          {t('common.cancel')}
                        </button>
                      </>
                    ) : editable ? (
                      <button type="button" class="btn btn-small" data-testid="tag-dep-edit" disabled={editing !== null} onClick={() => edit(r)}>
                        {t('common.edit')}
                      </button>
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </Table>
        ) : null}
        {editable ? (
          <form class="row" onSubmit={addTag}>
            <input
              name="new-tag"
              class="grow"
              value={newTag}
              maxLength={200}
              aria-label={t('tagdeps.newTag')}
              placeholder={t('tagdeps.newTag')}
              onInput={(e) => setNewTag(val(e))}
              disabled={editing !== null}
            />
            <button class="btn" type="submit" data-testid="tag-dep-add" disabled={editing !== null}>
              {t('tagdeps.add')}
            </button>
            {newTagError ? (
              <p class="error-text" role="alert">
                {newTagError}
              </p>
            ) : null}
          </form>
        ) : null}
      </section>
    </div>
  );
}
