// The public acknowledgement page (`/ack/{token}`, linked from alerts) as plain data: what it
// shows for the incident the link names, and for each way the link can fail. Opening the page
// only reads (`GET /api/ack/{token}`): mail scanners prefetch links, so acknowledging is the
// button's POST, never the page load.

import type { AckInfo } from '../api/model';
import type { MessageKey } from '../i18n';

/** Where the incident stands: acknowledged (by anyone), resolved without, or open. */
export type AckPhase = 'acknowledged' | 'resolved' | 'open';

export function ackPhase(info: Pick<AckInfo, 'acknowledged_at' | 'resolved_at'>): AckPhase {
  if (info.acknowledged_at) return 'acknowledged';
  if (info.resolved_at) return 'resolved';
  return 'open';
}

/** Whether the page offers "Acknowledge": only for an open, unacknowledged incident. */
export function canAcknowledge(info: Pick<AckInfo, 'acknowledged_at' | 'resolved_at'>): boolean {
  return ackPhase(info) === 'open';
}

/** Why the link does not work, as the page says it. */
export interface AckFailure {
  kind: 'invalid' | 'expired' | 'rate_limited' | 'error';
  key: MessageKey;
  vars?: Record<string, string | number>;
  /** Whether trying again may help (a "Retry" button). */
  retry: boolean;
}

/** The failure of a GET or POST on the link: its status (0: no answer), Retry-After and message. */
export function ackFailure(e: { status: number; retryAfter?: number | undefined; message: string }): AckFailure {
  switch (e.status) {
    case 404:
      return { kind: 'invalid', key: 'ack.invalid', retry: false };
    case 410:
      return { kind: 'expired', key: 'ack.expired', retry: false };
    case 429:
      return e.retryAfter && e.retryAfter > 0
        ? { kind: 'rate_limited', key: 'ack.rateLimitedIn', vars: { s: e.retryAfter }, retry: true }
        : { kind: 'rate_limited', key: 'ack.rateLimited', retry: true };
    default:
      return { kind: 'error', key: 'common.error', vars: { msg: e.message }, retry: true };
  }
}
