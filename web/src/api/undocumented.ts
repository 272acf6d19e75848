// What the REST API says that its OpenAPI document cannot: the secret mask and the `secret`
// flag the API adds to a masked `auth`, the values of a channel's settings, the value of a
// JSON-path assertion (the document allows any JSON), the query parameters it gives as
// patterns, and the error codes it lists in words.
// Written by hand; `model.ts` re-exports them beside the generated aliases. Import from
// `model.ts`, not from here.

import type { components } from './schema';
import type { TargetStatus } from './model';

/** What the API returns instead of a secret value; sent back, it keeps the stored value. */
export const SECRET_MASK = '********';

/**
 * Credentials of an HTTP check. The API answers a stored one with its password / token as
 * {@link SECRET_MASK} and `secret: true`, a field the message type does not have.
 */
export type HttpAuth = components['schemas']['HttpAuth'] & { secret?: boolean };

/** A channel setting's value as stored (strings, whole numbers, tag lists). */
export type SettingValue = string | number | boolean | string[] | null;

/**
 * A channel's settings by name (each kind's are in docs/API.md; the document says only "an
 * object", which the generator reads as one with no keys).
 */
export type ChannelSettings = Record<string, SettingValue>;

/** Any JSON value (the `value` of a `json_path_equals` assertion). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

// Query parameters of GET /api/targets and its latency series (the document gives patterns) ---

export type TargetSort = 'name' | 'status' | 'changed';
export type SortOrder = 'asc' | 'desc';

export interface TargetQuery {
  status?: TargetStatus | '';
  tag?: string;
  q?: string;
  sort?: TargetSort;
  order?: SortOrder;
  limit?: number;
  cursor?: string | null;
}

/** `?step=` of the latency series. */
export type LatencyStep = '60s' | '5m' | '1h' | '1d';

// Errors (the document lists the codes in the description of `ErrorBody.error.code`) ----------

export type ErrorCode =
  | 'validation'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'gone'
  | 'conflict'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';
