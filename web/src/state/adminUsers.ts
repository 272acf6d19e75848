// The admin "Users" page as plain data: a user's quota overrides as the text of number inputs
// (empty = the installation default), and the PATCH body that changes only what was edited.

import { QUOTA_KEYS, type AdminUser, type AdminUserPatch, type QuotaKey, type QuotaOverrides } from '../api/model';
import type { MessageKey } from '../i18n';

/** The text of every override input: the override, or empty for the default. */
export type QuotaDraft = Record<QuotaKey, string>;

/** Largest override accepted by the form (the API stores 32-bit integers). */
export const MAX_QUOTA = 2_147_483_647;

/** The inputs of `u`'s overrides. */
export function quotaDraft(u: Pick<AdminUser, 'quota_overrides'>): QuotaDraft {
  const d = {} as QuotaDraft;
  for (const k of QUOTA_KEYS) {
    const v = u.quota_overrides[k];
    d[k] = v === null || v === undefined ? '' : String(v);
  }
  return d;
}

/** Errors keyed by the API's field path (`quota_overrides.max_targets`). */
export type QuotaErrors = Partial<Record<string, { key: MessageKey; vars?: Record<string, string | number> } | { text: string }>>;

/**
 * The PATCH body for `draft` against `u`: only the overrides that changed (`null` for one
 * emptied back to the default), and `may_private_targets` when `mayPrivate` differs. The body is
 * `null` when nothing changed; `errors` name each input that is not a whole number.
 */
export function quotaPatch(
  u: Pick<AdminUser, 'quota_overrides' | 'may_private_targets'>,
  draft: QuotaDraft,
  mayPrivate: boolean = u.may_private_targets,
): { patch: AdminUserPatch | null; errors: QuotaErrors } {
  const errors: QuotaErrors = {};
  const overrides: Partial<QuotaOverrides> = {};
  for (const k of QUOTA_KEYS) {
    const text = (draft[k] ?? '').trim();
    const before = u.quota_overrides[k] ?? null;
    let next: number | null;
    if (text === '') {
      next = null;
    } else if (/^\d+$/.test(text) && Number(text) <= MAX_QUOTA) {
      next = Number(text);
    } else {
      errors[`quota_overrides.${k}`] = { key: 'valid.number', vars: { min: 0 } };
      continue;
    }
    if (next !== before) overrides[k] = next;
  }
  const patch: AdminUserPatch = {};
  if (Object.keys(overrides).length) patch.quota_overrides = overrides;
  if (mayPrivate !== u.may_private_targets) patch.may_private_targets = mayPrivate;
  return { patch: Object.keys(patch).length ? patch : null, errors };
}

/** Where an API error's `field` is shown: its input when it names one, else the row. */
export function adminFieldKey(field: string | undefined): string {
  if (!field) return '_form';
  const f = field.replace(/^body\./, '');
  if (f === 'may_private_targets') return f;
  const m = /^quota_overrides[.[]"?(\w+)"?\]?$/.exec(f);
  if (m && (QUOTA_KEYS as readonly string[]).includes(m[1]!)) return `quota_overrides.${m[1]}`;
  return '_form';
}
