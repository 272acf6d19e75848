// Latency baselines in the dashboard: the target form's baseline settings as plain data
// (numbers kept as typed, validated with the API's bounds and field names), and the band the
// latency chart draws — each chart point's hour of the week looked up in the 168 hours of
// `GET /api/targets/{id}/baseline`.

import type { BaselineBand, BaselineInput, BaselineView } from '../api/model';
import type { FieldErrors } from './targetForm';

/** The API's bounds (backend `baselines::settings`). */
export const BASELINE_FACTOR = { min: 1.5, max: 20, default: 3 } as const;
export const BASELINE_MIN_INCREASE_MS = { min: 0, max: 60000, default: 100 } as const;

/** `auto`: on once the target has a week of history (`enabled: null`). */
export type BaselineMode = 'auto' | 'on' | 'off';
export const BASELINE_MODES: BaselineMode[] = ['auto', 'on', 'off'];

export interface BaselineDraft {
  mode: BaselineMode;
  factor: string;
  minIncreaseMs: string;
}

export function emptyBaselineDraft(): BaselineDraft {
  return { mode: 'auto', factor: String(BASELINE_FACTOR.default), minIncreaseMs: String(BASELINE_MIN_INCREASE_MS.default) };
}

/** The draft of a saved target's (or an import entry's) settings; the defaults when absent. */
export function baselineDraft(b: BaselineView | BaselineInput | null | undefined): BaselineDraft {
  const d = emptyBaselineDraft();
  if (!b) return d;
  d.mode = b.enabled === true ? 'on' : b.enabled === false ? 'off' : 'auto';
  if (b.factor !== undefined && b.factor !== null) d.factor = String(b.factor);
  if (b.min_increase_ms !== undefined && b.min_increase_ms !== null) d.minIncreaseMs = String(b.min_increase_ms);
  return d;
}

/** The `baseline` of the API body; errors under `baseline.factor` / `baseline.min_increase_ms`. */
export function buildBaseline(d: BaselineDraft, errors: FieldErrors): BaselineInput {
  const factorText = d.factor.trim();
  const factor = Number(factorText);
  if (factorText === '' || !Number.isFinite(factor) || factor < BASELINE_FACTOR.min || factor > BASELINE_FACTOR.max) {
    errors['baseline.factor'] = { key: 'valid.range', vars: { min: BASELINE_FACTOR.min, max: BASELINE_FACTOR.max } };
  }
  const minText = d.minIncreaseMs.trim();
  const minIncrease = Number(minText);
  if (!/^\d+$/.test(minText) || minIncrease > BASELINE_MIN_INCREASE_MS.max) {
    errors['baseline.min_increase_ms'] = {
      key: 'valid.range',
      vars: { min: BASELINE_MIN_INCREASE_MS.min, max: BASELINE_MIN_INCREASE_MS.max },
    };
  }
  return {
    enabled: d.mode === 'auto' ? null : d.mode === 'on',
    factor: Number.isFinite(factor) ? factor : BASELINE_FACTOR.default,
    min_increase_ms: /^\d+$/.test(minText) ? minIncrease : BASELINE_MIN_INCREASE_MS.default,
  };
}

/** The hour of the week of a Unix time (seconds), in UTC: 0 = Monday 00:00, 167 = Sunday 23:00. */
export function hourOfWeek(seconds: number): number {
  const d = new Date(seconds * 1000);
  return ((d.getUTCDay() + 6) % 7) * 24 + d.getUTCHours();
}

/** `Tuesday 14:00 UTC` (in `lang`) for an hour of the week. */
export function describeHour(hour: number, lang: string): string {
  // 2024-01-01 was a Monday.
  const at = new Date(Date.UTC(2024, 0, 1) + (hour % 168) * 3600_000);
  const day = new Intl.DateTimeFormat(lang, { weekday: 'long', timeZone: 'UTC' }).format(at);
  const hh = String(at.getUTCHours()).padStart(2, '0');
  return `${day.charAt(0).toLocaleUpperCase(lang) + day.slice(1)} ${hh}:00 UTC`;
}

/**
 * The band at each time of `xs` (Unix seconds): the p50 and p95 of that hour of the week, null
 * where the baseline has none. Empty columns when the baseline is not computed yet.
 */
export function baselineBand(xs: number[], band: BaselineBand | null | undefined): { p50: (number | null)[]; p95: (number | null)[] } {
  const hours = band?.hours ?? [];
  const byHour = new Map(hours.map((h) => [h.hour_of_week, h]));
  const p50: (number | null)[] = [];
  const p95: (number | null)[] = [];
  for (const x of xs) {
    const h = byHour.get(hourOfWeek(x));
    p50.push(h?.p50_ms ?? null);
    p95.push(h?.p95_ms ?? null);
  }
  return { p50, p95 };
}

/** Whether a baseline has anything to draw. */
export function hasBand(band: BaselineBand | null | undefined): boolean {
  return !!band && band.hours.some((h) => h.p95_ms !== null);
}
