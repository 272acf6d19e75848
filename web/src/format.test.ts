import { describe, expect, it } from 'vitest';
import {
  chainPhases,
  formatAgo,
  formatDuration,
  formatMs,
  formatRunDuration,
  formatStatusRanges,
  formatUntil,
  formatUptime,
  humanizeCode,
  parseStatusRanges,
  slugify,
  splitList,
  statusTone,
  stepFor,
} from './format';

describe('formatMs', () => {
  it.each([
    [null, '—'],
    [3.456, '3.5 ms'],
    [42.4, '42 ms'],
    [999.6, '1000 ms'],
    [1240, '1.24 s'],
    [12_500, '12.5 s'],
  ])('%s → %s', (v, out) => expect(formatMs(v, 'en')).toBe(out));
  it('speaks Russian', () => expect(formatMs(1240, 'ru')).toBe('1.24 с'));
});

describe('formatUptime', () => {
  it('never rounds a failing period up to 100%', () => {
    expect(formatUptime(0.99999)).toBe('99.99%');
    expect(formatUptime(1)).toBe('100%');
  });
  it('shows fewer digits for low values and a dash for no data', () => {
    expect(formatUptime(0.5)).toBe('50.0%');
    expect(formatUptime(0.0123)).toBe('1.23%');
    expect(formatUptime(null)).toBe('—');
  });
});

describe('formatDuration', () => {
  it('keeps the two largest units', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(59)).toBe('59s');
    expect(formatDuration(125)).toBe('2m 5s');
    expect(formatDuration(3 * 86400 + 4 * 3600 + 5 * 60)).toBe('3d 4h');
    expect(formatDuration(3600 + 1)).toBe('1h 1s');
  });
  it('speaks Russian', () => {
    expect(formatDuration(125, 'ru')).toBe('2м 5с');
  });
});

describe('formatAgo', () => {
  const now = Date.parse('2026-01-01T12:00:00Z');
  it('describes the past', () => {
    expect(formatAgo('2026-01-01T11:55:00Z', now)).toBe('5m ago');
    expect(formatAgo('2026-01-01T11:55:00Z', now, 'ru')).toBe('5м назад');
    expect(formatAgo('2026-01-01T11:59:58Z', now)).toBe('just now');
  });
  it('is a dash for nothing', () => {
    expect(formatAgo(null, now)).toBe('—');
    expect(formatAgo('garbage', now)).toBe('—');
  });
});

describe('statusTone', () => {
  it('groups states into four colours', () => {
    expect(statusTone('up')).toBe('up');
    expect(statusTone('pending')).toBe('degraded');
    expect(statusTone('flapping')).toBe('degraded');
    expect(statusTone('down')).toBe('down');
    expect(statusTone('paused')).toBe('paused');
    expect(statusTone('unknown')).toBe('unknown');
  });
});

describe('status ranges', () => {
  it('parses codes and ranges', () => {
    expect(parseStatusRanges('200-299, 301')).toEqual([
      { from: 200, to: 299 },
      { from: 301, to: 301 },
    ]);
  });
  it('rejects nonsense', () => {
    expect(parseStatusRanges('abc')).toBeNull();
    expect(parseStatusRanges('299-200')).toBeNull();
    expect(parseStatusRanges('')).toBeNull();
    expect(parseStatusRanges('700')).toBeNull();
  });
  it('round-trips', () => {
    expect(formatStatusRanges(parseStatusRanges('200-299,301')!)).toBe('200-299, 301');
    expect(formatStatusRanges(undefined)).toBe('200-399');
  });
});

describe('chainPhases', () => {
  it('sums every hop', () => {
    const p = chainPhases([
      { url: 'a', timings: { dns_ms: 1, connect_ms: 2, ttfb_ms: 3 } },
      { url: 'b', timings: { dns_ms: 1, tls_ms: 4, transfer_ms: 5 } },
    ]);
    expect(p).toEqual({ dns_ms: 2, connect_ms: 2, tls_ms: 4, ttfb_ms: 3, transfer_ms: 5 });
  });
});

describe('small helpers', () => {
  it('picks a chart step per range', () => {
    expect(stepFor(3600)).toBe('60s');
    expect(stepFor(86400)).toBe('5m');
    expect(stepFor(7 * 86400)).toBe('1h');
    expect(stepFor(90 * 86400)).toBe('1d');
  });
  it('humanizes codes', () => {
    expect(humanizeCode('http_status')).toBe('HTTP status');
    expect(humanizeCode('dns_nxdomain')).toBe('DNS nxdomain');
  });
  it('splits lists', () => {
    expect(splitList(' a, b,,a\nc ')).toEqual(['a', 'b', 'c']);
  });
  it('slugifies titles', () => {
    expect(slugify('  Shop — Status! ')).toBe('shop-status');
    expect(slugify('Café API')).toBe('cafe-api');
  });
});

describe('heartbeat times', () => {
  const now = Date.parse('2026-12-06T12:00:00Z');
  it('says how far ahead an instant is, and now once it has come', () => {
    expect(formatUntil('2026-12-06T12:05:00Z', now, 'en')).toBe('in 5m');
    expect(formatUntil('2026-12-06T14:30:00Z', now, 'ru')).toBe('через 2ч 30м');
    expect(formatUntil('2026-12-06T11:00:00Z', now, 'en')).toBe('now');
    expect(formatUntil(null, now, 'en')).toBe('—');
  });
  it('shows run durations in ms or s under a minute, then in minutes and hours', () => {
    expect(formatRunDuration(850, 'en')).toBe('850 ms');
    expect(formatRunDuration(14_000, 'en')).toBe('14.0 s');
    expect(formatRunDuration(200_000, 'en')).toBe('3m 20s');
    expect(formatRunDuration(2 * 3600_000 + 5 * 60_000, 'ru')).toBe('2ч 5м');
    expect(formatRunDuration(null, 'en')).toBe('—');
  });
});
