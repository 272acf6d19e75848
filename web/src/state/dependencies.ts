// Explicit dependencies in the dashboard: the target form's `depends_on` (checked as the API
// checks it) and what the incident page says about an incident linked to its cause.

import type { Incident } from '../api/model';
import type { MessageKey } from '../i18n';

/** Most dependencies of one target (the API's limit). */
export const MAX_DEPENDS_ON = 20;

/** A message of the catalog with its variables. */
export interface Msg {
  key: MessageKey;
  vars?: Record<string, string | number>;
}

/** The dependencies as sent: duplicates dropped, in the order chosen. */
export function normalizeDependencies(ids: readonly string[]): string[] {
  return [...new Set(ids)];
}

/**
 * What is wrong with `ids` as the dependencies of the target `self` (none while it is new), by
 * the API's field names: the target itself (`depends_on[i]`), more than {@link MAX_DEPENDS_ON}
 * (`depends_on`). Cycles through other targets are the API's to find.
 */
export function dependencyErrors(ids: readonly string[], self?: string): Record<string, Msg> {
  const out: Record<string, Msg> = {};
  const list = normalizeDependencies(ids);
  const i = self ? list.indexOf(self) : -1;
  if (i >= 0) out[`depends_on[${i}]`] = { key: 'deps.self' };
  if (list.length > MAX_DEPENDS_ON) out['depends_on'] = { key: 'deps.max', vars: { max: MAX_DEPENDS_ON } };
  return out;
}

/** The form's field an API error on the dependencies belongs to (`depends_on[3]` → `depends_on`). */
export function dependencyField(field: string): string | null {
  return /^depends_on(_names)?(\[\d+\])?$/.test(field) ? 'depends_on' : null;
}

/** What the incident page says of how `i`'s notification went, given its cause; null: nothing to say. */
export function notificationNote(i: Pick<Incident, 'notification' | 'caused_by'>): Msg | null {
  const name = i.caused_by?.target_name ?? '—';
  switch (i.notification) {
    case 'held':
      return { key: 'deps.held', vars: { name } };
    case 'released':
      return { key: 'deps.released', vars: { name } };
    case 'silent':
      return { key: 'deps.silent', vars: { name } };
    default:
      return null;
  }
}
