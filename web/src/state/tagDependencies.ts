// Tag dependencies as data (`GET|PUT /api/tag-dependencies`): every target carrying a tag depends
// on the tag's targets. The editor lists the tags the organisation uses (on its targets, or with
// dependencies already), checks a tag as the API does, builds the PUT body and says what a 422
// means — a cycle is shown in the UI's language, naming the targets it goes through.

import type { TagDependency } from '../api/model';
import { MAX_DEPENDS_ON, normalizeDependencies, type Msg } from './dependencies';

/** Longest tag, in characters (the API's limit). */
export const MAX_TAG = 64;
/** Most tags with dependencies (the API's limit). */
export const MAX_DEPENDENCY_TAGS = 100;

/** One row of the editor: a tag, its dependencies and how many of the loaded targets carry it. */
export interface TagRow {
  tag: string;
  dependsOn: string[];
  carriers: number;
}

/**
 * The editor's rows: each tag with dependencies and each tag on `targets` (the first page the
 * dashboard loaded), once, by tag (as the API lists them).
 */
export function tagRows(deps: readonly TagDependency[], targets: readonly { tags: readonly string[] }[]): TagRow[] {
  const rows = new Map<string, TagRow>();
  for (const d of deps) rows.set(d.tag, { tag: d.tag, dependsOn: [...d.depends_on], carriers: 0 });
  for (const x of targets) {
    for (const tag of new Set(x.tags)) {
      const row = rows.get(tag) ?? { tag, dependsOn: [], carriers: 0 };
      row.carriers += 1;
      rows.set(tag, row);
    }
  }
  return [...rows.values()].sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
}

/** How many tags have dependencies. */
export function tagsWithDependencies(rows: readonly TagRow[]): number {
  return rows.filter((r) => r.dependsOn.length > 0).length;
}

/** What is wrong with a typed tag, as the API checks it (trimmed: 1–64 characters, no control characters). */
export function tagError(raw: string): Msg | null {
  const tag = raw.trim();
  if (!tag) return { key: 'tagdeps.tagEmpty' };
  if ([...tag].length > MAX_TAG) return { key: 'tagdeps.tagLong', vars: { max: MAX_TAG } };
  if (/[\u0000-\u001f\u007f-\u009f]/.test(tag)) return { key: 'tagdeps.tagControl' };
  return null;
}

/** What is wrong with a tag's chosen dependencies before they are sent; null when nothing. */
export function dependsOnError(ids: readonly string[]): Msg | null {
  return normalizeDependencies(ids).length > MAX_DEPENDS_ON ? { key: 'deps.max', vars: { max: MAX_DEPENDS_ON } } : null;
}

/** The PUT body: the trimmed tag and its dependencies without repeats (`[]` removes them). */
export function tagDependencyBody(tag: string, ids: readonly string[]): TagDependency {
  return { tag: tag.trim(), depends_on: normalizeDependencies(ids) };
}

/** `rows` with `saved` in place (a new tag added in order; a tag of no target left with none dropped). */
export function applySaved(rows: readonly TagRow[], saved: TagDependency): TagRow[] {
  const out = rows.filter((r) => r.tag !== saved.tag);
  const carriers = rows.find((r) => r.tag === saved.tag)?.carriers ?? 0;
  if (saved.depends_on.length || carriers) out.push({ tag: saved.tag, dependsOn: [...saved.depends_on], carriers });
  return out.sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
}

/** A cycle the API refused: its targets in order (`api → db → api`) and the tags it goes through. */
export interface Cycle {
  path: string;
  tags: string[];
}

/** The cycle a 422's message names (`a dependency cycle: api → db → api (through the tag “backend”)`); null for another message. */
export function parseCycle(message: string): Cycle | null {
  const m = /^a dependency cycle: (.+?)(?: \(through the tag (.+)\))?$/.exec(message.trim());
  if (!m) return null;
  const tags = m[2] ? [...m[2].matchAll(/“([^”]*)”/g)].map((x) => x[1]!) : [];
  return { path: m[1]!, tags };
}

/** Where a 422 of the PUT shows and what it says: on the tag or on its dependencies; a cycle in words. */
export function saveError(field: string | undefined, message: string): { on: 'tag' | 'depends_on'; msg: Msg } {
  const on = field === 'tag' ? 'tag' : 'depends_on';
  const cycle = parseCycle(message);
  if (cycle) {
    return cycle.tags.length
      ? { on, msg: { key: 'tagdeps.cycleThrough', vars: { cycle: cycle.path, tags: cycle.tags.map((x) => `“${x}”`).join(', ') } } }
      : { on, msg: { key: 'tagdeps.cycle', vars: { cycle: cycle.path } } };
  }
  return { on, msg: { key: 'tagdeps.refused', vars: { message } } };
}
