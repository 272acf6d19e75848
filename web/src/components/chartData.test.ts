import { describe, expect, it } from 'vitest';
import { chartData } from './chartData';

describe('chartData', () => {
  it('stacks the phases at the chosen percentile and keeps the total percentiles', () => {
    const pc = (x: number | null) => ({ p50: x, p95: x === null ? null : x * 2, p99: x === null ? null : x * 3 });
    const data = chartData(
      [
        { t: '2026-01-01T00:00:00Z', total: pc(10), dns: pc(1), connect: pc(2), tls: null, ttfb: pc(5), transfer: pc(2) },
        { t: '2026-01-01T00:01:00Z', total: null, dns: null, connect: null, tls: null, ttfb: null, transfer: null },
      ],
      'p95',
    );
    expect(data[0]).toEqual([Date.parse('2026-01-01T00:00:00Z') / 1000, Date.parse('2026-01-01T00:01:00Z') / 1000]);
    // dns, connect, tls, ttfb, transfer stacked at p95: 2, 6, 6, 16, 20
    expect(data.slice(1, 6).map((c) => c[0])).toEqual([2, 6, 6, 16, 20]);
    expect(data.slice(1, 6).map((c) => c[1])).toEqual([null, null, null, null, null]);
    expect(data.slice(6).map((c) => c[0])).toEqual([10, 20, 30]);
  });
});
