// A heartbeat target as data: the form's draft of its schedule (a period in a unit, or a cron
// expression in a time zone), grace time and slug ↔ the API's `HeartbeatSpec`, validated with
// the backend's bounds and keyed by the API's field paths (`spec.period_seconds`, `spec.cron`…);
// the schedule for people; the copy-ready ping commands (curl, start and finish, a crontab
// line, a job's output POSTed); what the target page says about the next ping.

import type { CheckResult, HeartbeatEvent, HeartbeatSpec, HeartbeatView } from '../api/model';
import { formatDuration, formatRunDuration, type Lang } from '../format';
import { translate, type MessageKey } from '../i18n';
import { canonicalTimeZone } from '../timeZones';

/** common::messages::heartbeat_bounds, checked again by the API. */
export const HEARTBEAT_BOUNDS = {
  periodSeconds: { min: 10, max: 31_536_000 },
  graceSeconds: { min: 1, max: 31_536_000 },
  cronBytes: 100,
  timezoneBytes: 64,
} as const;

/** A slug of the slug ping URL `/ping/{ping_key}/{slug}`. */
export const SLUG_PATTERN = /^[a-z0-9][a-z0-9_-]{0,99}$/;

/** The grace time the API takes when none is given. */
export const DEFAULT_GRACE_SECONDS = 300;

export type TimeUnit = 'seconds' | 'minutes' | 'hours' | 'days';

/** The units a period or grace time is typed in, smallest first. */
export const TIME_UNITS: readonly { unit: TimeUnit; seconds: number }[] = [
  { unit: 'seconds', seconds: 1 },
  { unit: 'minutes', seconds: 60 },
  { unit: 'hours', seconds: 3600 },
  { unit: 'days', seconds: 86400 },
];

const unitSeconds = (u: TimeUnit): number => TIME_UNITS.find((x) => x.unit === u)!.seconds;

/** `seconds` as an amount of the largest unit that holds it whole: 7200 → 2 hours, 90 → 90 seconds. */
export function splitSeconds(seconds: number): { amount: string; unit: TimeUnit } {
  for (const u of [...TIME_UNITS].reverse()) {
    if (seconds > 0 && seconds % u.seconds === 0) return { amount: String(seconds / u.seconds), unit: u.unit };
  }
  return { amount: String(seconds), unit: 'seconds' };
}

export type ScheduleMode = 'period' | 'cron';

/** The heartbeat part of the target form: numbers as typed; the mode picks the one schedule sent. */
export interface HeartbeatDraft {
  mode: ScheduleMode;
  period: string;
  periodUnit: TimeUnit;
  cron: string;
  timezone: string;
  grace: string;
  graceUnit: TimeUnit;
  slug: string;
}

/** A new heartbeat: every hour, 5 minutes' grace; a cron schedule would be read in `timezone`. */
export function emptyHeartbeatDraft(timezone = 'UTC'): HeartbeatDraft {
  return { mode: 'period', period: '1', periodUnit: 'hours', cron: '', timezone, grace: '5', graceUnit: 'minutes', slug: '' };
}

/**
 * The draft of a stored spec. `timezone` is the one a cron schedule gets if the user switches a
 * period to cron; a stored cron schedule without a time zone is read in UTC, and stays so.
 */
export function heartbeatDraft(spec: HeartbeatSpec, timezone = 'UTC'): HeartbeatDraft {
  const d = emptyHeartbeatDraft(timezone);
  // The API refuses both; an imported document with both shows the cron one (the one it names at fault).
  if (spec.cron !== undefined) {
    d.mode = 'cron';
    d.cron = spec.cron;
    d.timezone = spec.timezone ?? 'UTC';
  }
  if (spec.period_seconds !== undefined) {
    const p = splitSeconds(spec.period_seconds);
    d.period = p.amount;
    d.periodUnit = p.unit;
  }
  const g = splitSeconds(spec.grace_seconds ?? DEFAULT_GRACE_SECONDS);
  d.grace = g.amount;
  d.graceUnit = g.unit;
  d.slug = spec.slug ?? '';
  return d;
}

export type Problem = { key: MessageKey; vars?: Record<string, string | number> };

const bytes = (s: string): number => new TextEncoder().encode(s).length;

/** The five fields of a cron expression and the numbers each takes (the week's 7 is Sunday again). */
const CRON_FIELDS = [
  { min: 0, max: 59 },
  { min: 0, max: 23 },
  { min: 1, max: 31 },
  { min: 1, max: 12 },
  { min: 0, max: 7 },
] as const;

/**
 * What is wrong with a cron expression, or null. Five fields of cron's characters, and plain
 * numbers and ranges within their field's bounds; the rest (names, `L`, `W`, `#`, steps) the
 * API's parser judges, and its 422 shows beside the field.
 */
export function cronProblem(expression: string): Problem | null {
  const text = expression.trim();
  if (!text) return { key: 'valid.required' };
  if (bytes(text) > HEARTBEAT_BOUNDS.cronBytes) return { key: 'hb.valid.cronLength', vars: { max: HEARTBEAT_BOUNDS.cronBytes } };
  const fields = text.split(/\s+/);
  if (fields.length !== 5) return { key: 'hb.valid.cronFields' };
  for (const [i, field] of fields.entries()) {
    if (!/^[0-9A-Za-z*?,/#-]+$/.test(field)) return { key: 'hb.valid.cronSyntax', vars: { n: i + 1 } };
    const bounds = CRON_FIELDS[i]!;
    for (const part of field.split(',')) {
      const m = /^(\d+)(?:-(\d+))?(?:\/(\d+))?$/.exec(part);
      if (!m) continue;
      const nums = [m[1], m[2]].filter((x): x is string => x !== undefined).map(Number);
      if (nums.some((n) => n < bounds.min || n > bounds.max) || (nums.length === 2 && nums[1]! < nums[0]!)) {
        return { key: 'hb.valid.cronRange', vars: { n: i + 1, min: bounds.min, max: bounds.max } };
      }
    }
  }
  return null;
}

/** Seconds of `amount` `unit`s within `bounds`, else the problem. */
function seconds(amount: string, unit: TimeUnit, bounds: { min: number; max: number }, key: MessageKey): number | Problem {
  const t = amount.trim();
  const n = /^\d+$/.test(t) ? Number(t) * unitSeconds(unit) : NaN;
  if (!(n >= bounds.min && n <= bounds.max)) return { key };
  return n;
}

/**
 * The spec of a draft and what is wrong with it, by API field path. Exactly one schedule is
 * sent, the mode's: a period never carries a time zone (the API refuses one), a cron expression
 * carries its zone.
 */
export function buildHeartbeatSpec(d: HeartbeatDraft): { spec: HeartbeatSpec; errors: Record<string, Problem> } {
  const errors: Record<string, Problem> = {};
  const grace = seconds(d.grace, d.graceUnit, HEARTBEAT_BOUNDS.graceSeconds, 'hb.valid.graceRange');
  if (typeof grace !== 'number') errors['spec.grace_seconds'] = grace;
  const spec: HeartbeatSpec = {};
  if (d.mode === 'period') {
    const period = seconds(d.period, d.periodUnit, HEARTBEAT_BOUNDS.periodSeconds, 'hb.valid.periodRange');
    if (typeof period === 'number') spec.period_seconds = period;
    else errors['spec.period_seconds'] = period;
  } else {
    const problem = cronProblem(d.cron);
    if (problem) errors['spec.cron'] = problem;
    spec.cron = d.cron.trim().split(/\s+/).join(' ');
    const typed = d.timezone.trim() || 'UTC';
    const zone = canonicalTimeZone(typed);
    if (!zone || bytes(zone) > HEARTBEAT_BOUNDS.timezoneBytes) errors['spec.timezone'] = { key: 'hb.valid.timezone' };
    spec.timezone = zone ?? typed;
  }
  spec.grace_seconds = typeof grace === 'number' ? grace : DEFAULT_GRACE_SECONDS;
  const slug = d.slug.trim();
  if (slug) {
    if (!SLUG_PATTERN.test(slug)) errors['spec.slug'] = { key: 'hb.valid.slug' };
    spec.slug = slug;
  }
  return { spec, errors };
}

/** The schedule for people: `every 1h` (`раз в 1ч`) or `0 2 * * * (Europe/Moscow)`. */
export function describeSchedule(spec: HeartbeatSpec, lang: Lang): string {
  if (spec.cron !== undefined) return `${spec.cron} (${spec.timezone ?? 'UTC'})`;
  if (spec.period_seconds !== undefined) return translate(lang, 'hb.every', { span: formatDuration(spec.period_seconds, lang) });
  return '—';
}

// Ping commands ---------------------------------------------------------------------------------

/** curl as a job should ping: fail on HTTP errors but quietly, give up after 10 s, retry 5 times. */
export const CURL = 'curl -fsS -m 10 --retry 5';

/** The placeholder for the user's job in the examples. */
export const JOB = '/path/to/job.sh';

/** `s` as one word of a POSIX shell: as is when it holds only safe characters, else single-quoted. */
export function shellWord(s: string): string {
  if (/^[A-Za-z0-9_@%+=:,./~-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * A crontab schedule that runs at least as often as `period` seconds: the period itself when
 * cron can say it (every N minutes or hours dividing the hour or day, daily, weekly), else the
 * longest of those shorter than it (an early ping is harmless: only silence alarms).
 */
export function cronForPeriod(period: number): string {
  const m = period / 60;
  const h = period / 3600;
  if (Number.isInteger(m) && m >= 1 && m < 60 && 60 % m === 0) return m === 1 ? '* * * * *' : `*/${m} * * * *`;
  if (Number.isInteger(h) && h >= 1 && h < 24 && 24 % h === 0) return h === 1 ? '0 * * * *' : `0 */${h} * * *`;
  if (period === 86400) return '0 0 * * *';
  if (period === 7 * 86400) return '0 0 * * 0';
  const ladder: [number, string][] = [
    [7 * 86400, '0 0 * * 0'],
    [86400, '0 0 * * *'],
    [43200, '0 */12 * * *'],
    [21600, '0 */6 * * *'],
    [10800, '0 */3 * * *'],
    [7200, '0 */2 * * *'],
    [3600, '0 * * * *'],
    [1800, '*/30 * * * *'],
    [900, '*/15 * * * *'],
    [600, '*/10 * * * *'],
    [300, '*/5 * * * *'],
    [120, '*/2 * * * *'],
  ];
  return ladder.find(([s]) => s <= period)?.[1] ?? '* * * * *';
}

export type PingExampleKey = 'simple' | 'startFinish' | 'crontab' | 'output';

export interface PingExample {
  key: PingExampleKey;
  command: string;
}

/**
 * The commands that ping `url` (the ping URL or the slug URL): a bare success; a start, the job,
 * and its exit status as the finish; a crontab line on the spec's schedule (a period's nearest
 * cron schedule); the job's output POSTed with its exit status (the API keeps the first 10 KiB).
 */
export function pingExamples(url: string, spec: HeartbeatSpec, job = JOB): PingExample[] {
  const u = shellWord(url);
  const quiet = `${CURL} -o /dev/null`;
  const schedule = spec.cron ?? cronForPeriod(spec.period_seconds ?? 3600);
  // In a crontab line an unescaped % ends the command.
  const crontabCommand = `${job}; ${quiet} ${u}/$?`.replace(/%/g, '\\%');
  return [
    { key: 'simple', command: `${quiet} ${u}` },
    { key: 'startFinish', command: `${quiet} ${u}/start; ${job}; ${quiet} ${u}/$?` },
    { key: 'crontab', command: `${schedule} ${crontabCommand}` },
    // `job | curl …/$?` would send the status of the command before the pipeline, not the job's:
    // the output and the status are kept first, then sent.
    { key: 'output', command: `out=$(${job} 2>&1); rc=$?; printf '%s' "$out" | ${quiet} --data-binary @- ${u}/$rc` },
  ];
}

// The next ping -----------------------------------------------------------------------------------

/** What the target page says about the next ping. */
export type NextPing =
  | { kind: 'paused' }
  /** A run pinged /start and has not finished: late (down) at `alertAt`. */
  | { kind: 'running'; since: string; alertAt: string | null }
  /** No ping yet: no deadline until the first. */
  | { kind: 'waiting' }
  | { kind: 'expected'; at: string; alertAt: string | null }
  /** The expected time has passed; down at `alertAt` unless a ping comes. */
  | { kind: 'overdue'; at: string; alertAt: string | null };

export function nextPing(paused: boolean, view: HeartbeatView | undefined, now: number): NextPing {
  if (paused) return { kind: 'paused' };
  const alertAt = view?.alert_at ?? null;
  if (view?.started_at) return { kind: 'running', since: view.started_at, alertAt };
  if (!view?.expected_at) return { kind: 'waiting' };
  const at = view.expected_at;
  return Date.parse(at) <= now ? { kind: 'overdue', at, alertAt } : { kind: 'expected', at, alertAt };
}

// Pings and results -------------------------------------------------------------------------------

/** The colour of a ping or heartbeat event: a success (or exit status 0) up, a failure down, the rest neutral. */
export function eventTone(event: HeartbeatEvent, exitStatus?: number | null): 'up' | 'down' | 'paused' {
  switch (event) {
    case 'success':
      return 'up';
    case 'exit_status':
      return exitStatus === 0 ? 'up' : 'down';
    case 'fail':
    case 'missed':
    case 'late':
      return 'down';
    case 'start':
    case 'log':
      return 'paused';
  }
}

/** A heartbeat result in a line: `Success · exit 0 · 14.0 s`, `Missed · <why>`. */
export function heartbeatSummary(r: CheckResult, lang: Lang): string {
  const info = r.heartbeat;
  if (!info) return '';
  const bits = [translate(lang, `hb.event.${info.event}`)];
  if (info.exit_status !== undefined) bits.push(translate(lang, 'hb.exit', { n: info.exit_status }));
  if (info.run_duration_ms !== undefined && info.event !== 'missed') bits.push(formatRunDuration(info.run_duration_ms, lang));
  if (r.failure) bits.push(r.failure.message);
  return bits.join(' · ');
}
