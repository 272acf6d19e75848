// Pure formatting helpers: latency, uptime, durations, relative times, failure reasons.

import type { CheckResult, HttpHop, PhaseTimings, TargetStatus } from './api/model';

export type Lang = 'en' | 'ru';

let defaultLang: Lang = 'en';
/** The language formatters use when not told (the UI's, set by `setLang`). */
export function setFormatLang(l: Lang): void {
  defaultLang = l;
}

/** `12 ms`, `1.24 s` (`12 мс`, `1.24 с`); `—` when unknown. */
export function formatMs(ms: number | null | undefined, lang: Lang = defaultLang): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const [msU, sU] = lang === 'ru' ? ['мс', 'с'] : ['ms', 's'];
  if (ms < 10) return `${ms.toFixed(1)} ${msU}`;
  if (ms < 1000) return `${Math.round(ms)} ${msU}`;
  if (ms < 10_000) return `${(ms / 1000).toFixed(2)} ${sU}`;
  return `${(ms / 1000).toFixed(1)} ${sU}`;
}

/** Uptime ratio (0..1) as `99.95%`; `100%` only when exactly 1; `—` when null. */
export function formatUptime(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return '—';
  if (ratio >= 1) return '100%';
  const pct = Math.max(0, ratio) * 100;
  // Never round a failing period up to 100%.
  const digits = pct >= 99 ? 2 : pct >= 10 ? 1 : 2;
  const f = Math.pow(10, digits);
  return `${(Math.floor(pct * f) / f).toFixed(digits)}%`;
}

const UNITS: Record<Lang, { s: string; m: string; h: string; d: string }> = {
  en: { s: 's', m: 'm', h: 'h', d: 'd' },
  ru: { s: 'с', m: 'м', h: 'ч', d: 'д' },
};

/** A span of seconds as the two largest units: `3d 4h`, `5m 2s`, `0s`. */
export function formatDuration(seconds: number, lang: Lang = 'en'): string {
  const u = UNITS[lang];
  let s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const parts: string[] = [];
  if (d) parts.push(`${d}${u.d}`);
  if (h) parts.push(`${h}${u.h}`);
  if (m && parts.length < 2) parts.push(`${m}${u.m}`);
  if (s && parts.length < 2 && !d) parts.push(`${s}${u.s}`);
  return parts.length ? parts.slice(0, 2).join(' ') : `0${u.s}`;
}

/** How long ago an instant was: `5m ago` / `5м назад`; `—` when null. */
export function formatAgo(iso: string | null | undefined, now: number = Date.now(), lang: Lang = 'en'): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '—';
  const diff = (now - t) / 1000;
  if (diff < 5) return lang === 'ru' ? 'только что' : 'just now';
  if (diff < 0) return formatDateTime(iso, lang);
  const span = formatDuration(diff, lang);
  return lang === 'ru' ? `${span} назад` : `${span} ago`;
}

/** How far ahead an instant is: `in 5m` / `через 5м`; `now` once it has come; `—` when null. */
export function formatUntil(iso: string | null | undefined, now: number = Date.now(), lang: Lang = 'en'): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '—';
  const diff = (t - now) / 1000;
  if (diff < 1) return lang === 'ru' ? 'сейчас' : 'now';
  const span = formatDuration(diff, lang);
  return lang === 'ru' ? `через ${span}` : `in ${span}`;
}

/** A job's run time: `850 ms`, `14.0 s` under a minute, then `3m 20s`, `2h 5m`; `—` when unknown. */
export function formatRunDuration(ms: number | null | undefined, lang: Lang = defaultLang): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  return ms < 60_000 ? formatMs(ms, lang) : formatDuration(ms / 1000, lang);
}

export function formatDateTime(iso: string | null | undefined, lang: Lang = 'en'): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  return d.toLocaleString(lang === 'ru' ? 'ru-RU' : 'en-GB', {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

export function formatDate(iso: string, lang: Lang = 'en'): string {
  const d = new Date(iso.length === 10 ? `${iso}T00:00:00Z` : iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleDateString(lang === 'ru' ? 'ru-RU' : 'en-GB', { month: 'short', day: 'numeric', timeZone: 'UTC' });
}

/** The displayed class of a target state: the four the dashboard colours, and the rest. */
export function statusTone(s: TargetStatus | string): 'up' | 'degraded' | 'down' | 'paused' | 'unknown' {
  switch (s) {
    case 'up':
      return 'up';
    case 'degraded':
    case 'pending':
    case 'flapping':
      return 'degraded';
    case 'down':
      return 'down';
    case 'paused':
      return 'paused';
    default:
      return 'unknown';
  }
}

export const PHASES = ['dns', 'connect', 'tls', 'ttfb', 'transfer'] as const;
export type TimedPhase = (typeof PHASES)[number];

export function phaseMs(t: PhaseTimings, p: TimedPhase): number | undefined {
  return t[`${p}_ms`];
}

/** Sum of the phases of one hop. */
export function hopTotal(hop: HttpHop): number {
  let sum = 0;
  for (const p of PHASES) sum += phaseMs(hop.timings, p) ?? 0;
  return sum;
}

/** Phase timings summed over every hop of a chain. */
export function chainPhases(hops: HttpHop[] | undefined): Required<PhaseTimings> {
  const out = { dns_ms: 0, connect_ms: 0, tls_ms: 0, ttfb_ms: 0, transfer_ms: 0 };
  for (const h of hops ?? []) {
    for (const p of PHASES) out[`${p}_ms`] += phaseMs(h.timings, p) ?? 0;
  }
  return out;
}

/** `http_status` → `HTTP status`: a readable fallback when no translation exists. */
export function humanizeCode(code: string): string {
  const s = code.replace(/_/g, ' ');
  return s
    .replace(/\bhttp\b/gi, 'HTTP')
    .replace(/\btls\b/gi, 'TLS')
    .replace(/\bdns\b/gi, 'DNS')
    .replace(/\burl\b/gi, 'URL')
    .replace(/^./, (c) => c.toUpperCase());
}

/** A one-line summary of a result: `HTTP 503 · 812 ms` or the failure message. */
export function resultSummary(r: CheckResult): string {
  const bits: string[] = [];
  if (r.status_code) bits.push(`HTTP ${r.status_code}`);
  bits.push(formatMs(r.duration_ms));
  if (r.failure) bits.push(r.failure.message);
  return bits.join(' · ');
}

/** Latency chart step for a range, so that a chart has at most a few hundred points. */
export function stepFor(rangeSeconds: number): '60s' | '5m' | '1h' | '1d' {
  if (rangeSeconds <= 6 * 3600) return '60s';
  if (rangeSeconds <= 2 * 86400) return '5m';
  if (rangeSeconds <= 31 * 86400) return '1h';
  return '1d';
}

/** Parses `200-299, 301` into status ranges; null when malformed. */
export function parseStatusRanges(text: string): { from: number; to: number }[] | null {
  const out: { from: number; to: number }[] = [];
  for (const raw of text.split(',')) {
    const part = raw.trim();
    if (!part) continue;
    const m = /^(\d{3})(?:\s*-\s*(\d{3}))?$/.exec(part);
    if (!m) return null;
    const from = Number(m[1]);
    const to = m[2] ? Number(m[2]) : from;
    if (from < 100 || to > 599 || to < from) return null;
    out.push({ from, to });
  }
  return out.length ? out : null;
}

export function formatStatusRanges(ranges: { from: number; to: number }[] | undefined): string {
  return (ranges ?? [{ from: 200, to: 399 }]).map((r) => (r.from === r.to ? `${r.from}` : `${r.from}-${r.to}`)).join(', ');
}

/** Splits `a, b ,c` into trimmed, non-empty, distinct items. */
export function splitList(text: string): string[] {
  const seen = new Set<string>();
  for (const s of text.split(/[,\n]/)) {
    const t = s.trim();
    if (t) seen.add(t);
  }
  return [...seen];
}

/** A URL-safe slug from a title. */
export function slugify(title: string): string {
  return title
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);
}
