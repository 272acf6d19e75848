import { describe, expect, it } from 'vitest';
import { ackFailure, ackPhase, canAcknowledge } from './ack';

const OPEN = { acknowledged_at: null, resolved_at: null };

describe('the acknowledgement page', () => {
  it('offers the button only for an open, unacknowledged incident', () => {
    expect(ackPhase(OPEN)).toBe('open');
    expect(canAcknowledge(OPEN)).toBe(true);
    const acked = { acknowledged_at: '2026-12-06T01:00:00Z', resolved_at: null };
    expect(ackPhase(acked)).toBe('acknowledged');
    expect(canAcknowledge(acked)).toBe(false);
    const resolved = { acknowledged_at: null, resolved_at: '2026-12-06T01:00:00Z' };
    expect(ackPhase(resolved)).toBe('resolved');
    expect(canAcknowledge(resolved)).toBe(false);
    expect(ackPhase({ acknowledged_at: '2026-12-06T01:00:00Z', resolved_at: '2026-12-06T02:00:00Z' })).toBe('acknowledged');
  });

  it('says why a link fails, from the status', () => {
    expect(ackFailure({ status: 404, message: 'x' })).toEqual({ kind: 'invalid', key: 'ack.invalid', retry: false });
    expect(ackFailure({ status: 410, message: 'x' })).toEqual({ kind: 'expired', key: 'ack.expired', retry: false });
    expect(ackFailure({ status: 429, retryAfter: 30, message: 'x' })).toEqual({ kind: 'rate_limited', key: 'ack.rateLimitedIn', vars: { s: 30 }, retry: true });
    expect(ackFailure({ status: 429, message: 'x' })).toEqual({ kind: 'rate_limited', key: 'ack.rateLimited', retry: true });
    expect(ackFailure({ status: 503, message: 'database down' })).toEqual({ kind: 'error', key: 'common.error', vars: { msg: 'database down' }, retry: true });
    expect(ackFailure({ status: 0, message: 'offline' }).kind).toBe('error');
  });
});
