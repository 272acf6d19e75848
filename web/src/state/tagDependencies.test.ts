import { describe, expect, it, vi } from 'vitest';
import { ApiClient, ApiError } from '../api/client';
import { translate } from '../i18n';
import { MAX_DEPENDS_ON } from './dependencies';
import { MAX_TAG, applySaved, dependsOnError, parseCycle, saveError, tagDependencyBody, tagError, tagRows, tagsWithDependencies } from './tagDependencies';

const DB = '00000000-0000-7000-8000-0000000000d1';
const CACHE = '00000000-0000-7000-8000-0000000000c1';

describe('the tag dependencies editor', () => {
  it('lists each tag once: those with dependencies and those on targets, by tag, counting carriers', () => {
    const rows = tagRows(
      [
        { tag: 'backend', depends_on: [DB] },
        { tag: 'gone', depends_on: [CACHE] },
      ],
      [{ tags: ['backend', 'eu'] }, { tags: ['backend', 'backend'] }, { tags: [] }, { tags: ['api'] }],
    );
    expect(rows).toEqual([
      { tag: 'api', dependsOn: [], carriers: 1 },
      { tag: 'backend', dependsOn: [DB], carriers: 2 },
      { tag: 'eu', dependsOn: [], carriers: 1 },
      { tag: 'gone', dependsOn: [CACHE], carriers: 0 },
    ]);
    expect(tagsWithDependencies(rows)).toBe(2);
    expect(tagRows([], [])).toEqual([]);
  });

  it('checks a typed tag as the API does', () => {
    expect(tagError('  backend ')).toBeNull();
    expect(tagError('   ')).toEqual({ key: 'tagdeps.tagEmpty' });
    expect(tagError('x'.repeat(MAX_TAG))).toBeNull();
    expect(tagError('я'.repeat(MAX_TAG))).toBeNull();
    expect(tagError('x'.repeat(MAX_TAG + 1))).toEqual({ key: 'tagdeps.tagLong', vars: { max: MAX_TAG } });
    expect(tagError('a\u0000b')).toEqual({ key: 'tagdeps.tagControl' });
    expect(tagError('a\u0085b')).toEqual({ key: 'tagdeps.tagControl' });
  });

  it('sends the trimmed tag and each dependency once; none removes them', () => {
    expect(tagDependencyBody(' backend ', [DB, CACHE, DB])).toEqual({ tag: 'backend', depends_on: [DB, CACHE] });
    expect(tagDependencyBody('backend', [])).toEqual({ tag: 'backend', depends_on: [] });
    const many = Array.from({ length: MAX_DEPENDS_ON + 1 }, (_, i) => `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`);
    expect(dependsOnError(many)).toEqual({ key: 'deps.max', vars: { max: MAX_DEPENDS_ON } });
    expect(dependsOnError([...many.slice(0, MAX_DEPENDS_ON), many[0]!])).toBeNull();
  });

  it('puts a saved tag in place, and drops one no target carries once it has none', () => {
    const rows = tagRows([{ tag: 'gone', depends_on: [CACHE] }], [{ tags: ['backend'] }]);
    const saved = applySaved(rows, { tag: 'backend', depends_on: [DB] });
    expect(saved).toEqual([
      { tag: 'backend', dependsOn: [DB], carriers: 1 },
      { tag: 'gone', dependsOn: [CACHE], carriers: 0 },
    ]);
    expect(applySaved(saved, { tag: 'gone', depends_on: [] })).toEqual([{ tag: 'backend', dependsOn: [DB], carriers: 1 }]);
    expect(applySaved(saved, { tag: 'backend', depends_on: [] })).toEqual([
      { tag: 'backend', dependsOn: [], carriers: 1 },
      { tag: 'gone', dependsOn: [CACHE], carriers: 0 },
    ]);
    expect(applySaved([], { tag: 'new', depends_on: [DB] })).toEqual([{ tag: 'new', dependsOn: [DB], carriers: 0 }]);
  });

  it('reads the cycle a 422 names, with the tags it goes through', () => {
    expect(parseCycle('a dependency cycle: api → db → api')).toEqual({ path: 'api → db → api', tags: [] });
    expect(parseCycle('a dependency cycle: api → db → api (through the tag “backend”)')).toEqual({ path: 'api → db → api', tags: ['backend'] });
    expect(parseCycle('a dependency cycle: a → b → c → a (through the tag “x”, “y (z)”)')).toEqual({ path: 'a → b → c → a', tags: ['x', 'y (z)'] });
    expect(parseCycle('no target of yours has this id')).toBeNull();
  });

  it('shows a refused save beside the tag or its dependencies, a cycle in the UI’s language', () => {
    const cycle = saveError('depends_on', 'a dependency cycle: api → db → api (through the tag “backend”)');
    expect(cycle.on).toBe('depends_on');
    expect(translate('en', cycle.msg.key, cycle.msg.vars)).toBe('This would close a dependency cycle: api → db → api (through the tag “backend”)');
    expect(translate('ru', cycle.msg.key, cycle.msg.vars)).toBe('Так получится цикл зависимостей: api → db → api (через тег “backend”)');
    const plain = saveError('depends_on', 'a dependency cycle: api → api');
    expect(translate('en', plain.msg.key, plain.msg.vars)).toBe('This would close a dependency cycle: api → api');
    const foreign = saveError('depends_on[0]', 'no target of yours has this id');
    expect(foreign.on).toBe('depends_on');
    expect(translate('en', foreign.msg.key, foreign.msg.vars)).toBe('no target of yours has this id');
    expect(saveError('tag', 'at most 100 tags may have dependencies').on).toBe('tag');
  });

  it('reads and replaces a tag’s dependencies through the client; a cycle is an ApiError on depends_on', async () => {
    const calls: { url: string; init: RequestInit }[] = [];
    let answer: [number, unknown] = [200, { items: [{ tag: 'backend', depends_on: [DB] }], total: 1, next_cursor: null }];
    const fetch = vi.fn(async (url: string, init?: RequestInit) => {
      calls.push({ url, init: init ?? {} });
      return new Response(JSON.stringify(answer[1]), { status: answer[0], headers: { 'content-type': 'application/json' } });
    });
    const c = new ApiClient({ fetch });
    const list = await c.tagDependencies();
    expect(list.items[0]!.depends_on).toEqual([DB]);
    expect(calls[0]!.url).toBe('/api/tag-dependencies');
    answer = [422, { error: { code: 'validation', message: 'a dependency cycle: db → db (through the tag “backend”)', field: 'depends_on' } }];
    const err = await c.setTagDependencies(tagDependencyBody('backend', [DB])).catch((e: unknown) => e);
    expect(calls[1]!.init.method).toBe('PUT');
    expect(JSON.parse(calls[1]!.init.body as string)).toEqual({ tag: 'backend', depends_on: [DB] });
    expect(err).toBeInstanceOf(ApiError);
    const shown = saveError((err as ApiError).field, (err as ApiError).message);
    expect(shown.msg.key).toBe('tagdeps.cycleThrough');
  });
});
