import { describe, expect, it } from 'vitest';
import type { BaselineBand } from '../api/model';
import { baselineBand, baselineDraft, buildBaseline, describeHour, emptyBaselineDraft, hasBand, hourOfWeek } from './baseline';
import { buildInput, emptyForm, formFromTarget, type FieldErrors } from './targetForm';

/** A band whose hour h has p50 = h and p95 = 2h, hours 100.. without a baseline. */
function band(): BaselineBand {
  return {
    settings: { enabled: null, factor: 3, min_increase_ms: 100, active: true },
    computed_at: '2026-11-02T00:00:00Z',
    history_from: '2026-10-05T00:00:00Z',
    all_hours: null,
    hours: Array.from({ length: 168 }, (_, h) => ({
      hour_of_week: h,
      p50_ms: h < 100 ? h : null,
      p95_ms: h < 100 ? 2 * h : null,
      limit_ms: h < 100 ? 2 * h + 100 : null,
      samples: 12,
      fallback: false,
    })),
  };
}

const secs = (iso: string) => Date.parse(iso) / 1000;

describe('baseline band', () => {
  it('counts hours of the week from Monday 00:00 UTC', () => {
    expect(hourOfWeek(secs('2026-11-02T00:00:00Z'))).toBe(0); // a Monday
    expect(hourOfWeek(secs('2026-11-03T14:30:00Z'))).toBe(38);
    expect(hourOfWeek(secs('2026-11-08T23:59:59Z'))).toBe(167);
    expect(hourOfWeek(secs('2026-11-09T00:00:00Z'))).toBe(0);
    // Whatever the browser's time zone: the time is read in UTC.
    expect(hourOfWeek(secs('2026-11-03T01:00:00+03:00'))).toBe(22);
  });

  it('gives each chart point the p50 and p95 of its hour, null where there is none', () => {
    const xs = [secs('2026-11-03T14:10:00Z'), secs('2026-11-03T14:50:00Z'), secs('2026-11-05T10:00:00Z'), secs('2026-11-07T12:00:00Z')];
    const b = baselineBand(xs, band());
    expect(b.p50).toEqual([38, 38, 82, null]);
    expect(b.p95).toEqual([76, 76, 164, null]);
    expect(baselineBand(xs, null)).toEqual({ p50: [null, null, null, null], p95: [null, null, null, null] });
    expect(hasBand(band())).toBe(true);
    expect(hasBand({ ...band(), hours: band().hours.map((h) => ({ ...h, p50_ms: null, p95_ms: null })) })).toBe(false);
    expect(hasBand(undefined)).toBe(false);
  });

  it('names an hour of the week in the language', () => {
    expect(describeHour(38, 'en')).toBe('Tuesday 14:00 UTC');
    expect(describeHour(167, 'en')).toBe('Sunday 23:00 UTC');
    expect(describeHour(0, 'ru')).toBe('Понедельник 00:00 UTC');
  });
});

describe('baseline settings in the target form', () => {
  it('round-trips through the API body with the defaults', () => {
    const errors: FieldErrors = {};
    expect(buildBaseline(emptyBaselineDraft(), errors)).toEqual({ enabled: null, factor: 3, min_increase_ms: 100 });
    expect(errors).toEqual({});
    const d = baselineDraft({ enabled: false, factor: 2.5, min_increase_ms: 0, active: false });
    expect(d).toEqual({ mode: 'off', factor: '2.5', minIncreaseMs: '0' });
    expect(buildBaseline({ ...d, mode: 'on' }, errors)).toEqual({ enabled: true, factor: 2.5, min_increase_ms: 0 });
    expect(baselineDraft(undefined)).toEqual(emptyBaselineDraft());
  });

  it('refuses values out of the API bounds under its field names', () => {
    for (const [draft, field] of [
      [{ mode: 'auto', factor: '1.4', minIncreaseMs: '100' }, 'baseline.factor'],
      [{ mode: 'auto', factor: '21', minIncreaseMs: '100' }, 'baseline.factor'],
      [{ mode: 'auto', factor: 'x', minIncreaseMs: '100' }, 'baseline.factor'],
      [{ mode: 'auto', factor: '3', minIncreaseMs: '60001' }, 'baseline.min_increase_ms'],
      [{ mode: 'auto', factor: '3', minIncreaseMs: '-5' }, 'baseline.min_increase_ms'],
    ] as const) {
      const errors: FieldErrors = {};
      buildBaseline({ ...draft }, errors);
      expect(Object.keys(errors)).toEqual([field]);
    }
  });

  it('is part of the form of a checked target and left out for a heartbeat', () => {
    const f = emptyForm();
    f.name = 'api';
    f.http.url = 'https://api.example.com/';
    f.baseline = { mode: 'on', factor: '4', minIncreaseMs: '50' };
    const { input, errors } = buildInput(f);
    expect(errors).toEqual({});
    expect(input.baseline).toEqual({ enabled: true, factor: 4, min_increase_ms: 50 });
    expect(formFromTarget(input).baseline).toEqual(f.baseline);
    f.kind = 'heartbeat';
    f.heartbeat.period = '1';
    expect(buildInput(f).input.baseline).toBeUndefined();
  });
});
