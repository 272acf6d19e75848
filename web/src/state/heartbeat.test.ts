import { describe, expect, it } from 'vitest';
import type { CheckResult, HeartbeatSpec, HeartbeatView } from '../api/model';
import {
  buildHeartbeatSpec,
  cronForPeriod,
  cronProblem,
  describeSchedule,
  emptyHeartbeatDraft,
  eventTone,
  heartbeatDraft,
  heartbeatSummary,
  nextPing,
  pingExamples,
  shellWord,
  splitSeconds,
  type HeartbeatDraft,
} from './heartbeat';

const draft = (over: Partial<HeartbeatDraft> = {}): HeartbeatDraft => ({ ...emptyHeartbeatDraft('Europe/Moscow'), ...over });

describe('the heartbeat draft and its spec', () => {
  it('starts as an hourly period with five minutes of grace, sent without a time zone', () => {
    const { spec, errors } = buildHeartbeatSpec(emptyHeartbeatDraft('Europe/Moscow'));
    expect(errors).toEqual({});
    expect(spec).toEqual({ period_seconds: 3600, grace_seconds: 300 });
  });

  it('splits seconds into the largest whole unit', () => {
    expect(splitSeconds(86400 * 2)).toEqual({ amount: '2', unit: 'days' });
    expect(splitSeconds(7200)).toEqual({ amount: '2', unit: 'hours' });
    expect(splitSeconds(5400)).toEqual({ amount: '90', unit: 'minutes' });
    expect(splitSeconds(90)).toEqual({ amount: '90', unit: 'seconds' });
  });

  it('brings a period spec into the form and back unchanged', () => {
    const spec: HeartbeatSpec = { period_seconds: 5400, grace_seconds: 120, slug: 'nightly-backup' };
    const d = heartbeatDraft(spec, 'Europe/Moscow');
    expect(d).toMatchObject({ mode: 'period', period: '90', periodUnit: 'minutes', grace: '2', graceUnit: 'minutes', slug: 'nightly-backup' });
    // The browser's zone waits for a switch to cron; the period is sent without it.
    expect(d.timezone).toBe('Europe/Moscow');
    expect(buildHeartbeatSpec(d)).toEqual({ spec, errors: {} });
  });

  it('brings a cron spec into the form and back unchanged, keeping UTC when it has no zone', () => {
    const spec: HeartbeatSpec = { cron: '0 2 * * 1-5', timezone: 'Asia/Tokyo', grace_seconds: 3600 };
    const d = heartbeatDraft(spec, 'Europe/Moscow');
    expect(d).toMatchObject({ mode: 'cron', cron: '0 2 * * 1-5', timezone: 'Asia/Tokyo', grace: '1', graceUnit: 'hours' });
    expect(buildHeartbeatSpec(d)).toEqual({ spec, errors: {} });
    // A stored cron without a zone is read in UTC: the browser's zone must not replace it.
    expect(heartbeatDraft({ cron: '0 2 * * *' }, 'Europe/Moscow')).toMatchObject({ timezone: 'UTC', grace: '5', graceUnit: 'minutes' });
  });

  it('sends exactly one schedule: the mode’s, whatever the other field still holds', () => {
    const both = draft({ period: '10', periodUnit: 'minutes', cron: '*/5 * * * *', timezone: 'UTC' });
    const period = buildHeartbeatSpec({ ...both, mode: 'period' }).spec;
    expect(period).toEqual({ period_seconds: 600, grace_seconds: 300 });
    expect(period).not.toHaveProperty('cron');
    expect(period).not.toHaveProperty('timezone');
    const cron = buildHeartbeatSpec({ ...both, mode: 'cron' }).spec;
    expect(cron).toEqual({ cron: '*/5 * * * *', timezone: 'UTC', grace_seconds: 300 });
    expect(cron).not.toHaveProperty('period_seconds');
    // An imported spec with both (which the API refuses, naming cron) opens as cron and is sent as cron alone.
    const imported = heartbeatDraft({ period_seconds: 60, cron: '0 * * * *', timezone: 'UTC' });
    expect(imported.mode).toBe('cron');
    expect(buildHeartbeatSpec(imported).spec).toEqual({ cron: '0 * * * *', timezone: 'UTC', grace_seconds: 300 });
    // The chosen schedule is required: an empty cron expression is not replaced by the period.
    expect(buildHeartbeatSpec(draft({ mode: 'cron', cron: '  ' })).errors).toEqual({ 'spec.cron': { key: 'valid.required' } });
    expect(buildHeartbeatSpec(draft({ mode: 'period', period: '' })).errors).toEqual({ 'spec.period_seconds': { key: 'hb.valid.periodRange' } });
  });

  it('keeps the period and the grace time within the API’s bounds', () => {
    const period = (period: string, periodUnit: HeartbeatDraft['periodUnit']) => buildHeartbeatSpec(draft({ period, periodUnit })).errors['spec.period_seconds'];
    expect(period('9', 'seconds')).toEqual({ key: 'hb.valid.periodRange' });
    expect(period('10', 'seconds')).toBeUndefined();
    expect(period('365', 'days')).toBeUndefined();
    expect(period('366', 'days')).toEqual({ key: 'hb.valid.periodRange' });
    expect(period('1.5', 'hours')).toEqual({ key: 'hb.valid.periodRange' });
    expect(period('-1', 'hours')).toEqual({ key: 'hb.valid.periodRange' });
    const grace = (g: string, graceUnit: HeartbeatDraft['graceUnit']) => buildHeartbeatSpec(draft({ grace: g, graceUnit })).errors['spec.grace_seconds'];
    expect(grace('0', 'seconds')).toEqual({ key: 'hb.valid.graceRange' });
    expect(grace('1', 'seconds')).toBeUndefined();
    expect(grace('366', 'days')).toEqual({ key: 'hb.valid.graceRange' });
  });

  it('reads a cron expression’s fields, leaving names and extensions to the API', () => {
    expect(cronProblem('*/15 * * * *')).toBeNull();
    expect(cronProblem('0 2 * * MON-FRI')).toBeNull();
    expect(cronProblem('0 0 L * *')).toBeNull();
    expect(cronProblem('0 9 * * 1#2')).toBeNull();
    expect(cronProblem('0,30 8-17 1,15 1-12 0-7')).toBeNull();
    expect(cronProblem('')).toEqual({ key: 'valid.required' });
    expect(cronProblem('@daily')).toEqual({ key: 'hb.valid.cronFields' });
    expect(cronProblem('0 2 * *')).toEqual({ key: 'hb.valid.cronFields' });
    expect(cronProblem('0 0 2 * * *')).toEqual({ key: 'hb.valid.cronFields' });
    expect(cronProblem('60 * * * *')).toEqual({ key: 'hb.valid.cronRange', vars: { n: 1, min: 0, max: 59 } });
    expect(cronProblem('0 24 * * *')).toEqual({ key: 'hb.valid.cronRange', vars: { n: 2, min: 0, max: 23 } });
    expect(cronProblem('0 0 0 * *')).toEqual({ key: 'hb.valid.cronRange', vars: { n: 3, min: 1, max: 31 } });
    expect(cronProblem('0 0 * 13 *')).toEqual({ key: 'hb.valid.cronRange', vars: { n: 4, min: 1, max: 12 } });
    expect(cronProblem('0 17-9 * * *')).toEqual({ key: 'hb.valid.cronRange', vars: { n: 2, min: 0, max: 23 } });
    expect(cronProblem('0 0 * * $')).toEqual({ key: 'hb.valid.cronSyntax', vars: { n: 5 } });
    expect(cronProblem(`0 0 * * ${'1,'.repeat(50)}1`)).toEqual({ key: 'hb.valid.cronLength', vars: { max: 100 } });
    // Extra spaces are the user's, not an error; the expression is sent with single ones.
    expect(buildHeartbeatSpec(draft({ mode: 'cron', cron: ' 0  2 * * * ', timezone: 'UTC' })).spec.cron).toBe('0 2 * * *');
  });

  it('checks the time zone and spells it as the zone database does', () => {
    const zone = (timezone: string) => buildHeartbeatSpec(draft({ mode: 'cron', cron: '0 2 * * *', timezone }));
    expect(zone('europe/moscow').spec.timezone).toBe('Europe/Moscow');
    expect(zone('europe/moscow').errors).toEqual({});
    expect(zone('').spec.timezone).toBe('UTC');
    expect(zone('Mars/Olympus').errors).toEqual({ 'spec.timezone': { key: 'hb.valid.timezone' } });
  });

  it('takes a slug of the API’s pattern, or none', () => {
    const slug = (s: string) => buildHeartbeatSpec(draft({ slug: s }));
    expect(slug(' nightly_backup-2 ').spec.slug).toBe('nightly_backup-2');
    expect(slug('').spec).not.toHaveProperty('slug');
    for (const bad of ['Nightly', '-backup', 'back up', 'x'.repeat(101), 'бэкап']) {
      expect(slug(bad).errors, bad).toEqual({ 'spec.slug': { key: 'hb.valid.slug' } });
    }
    expect(slug('x'.repeat(100)).errors).toEqual({});
  });

  it('describes the schedule for people', () => {
    expect(describeSchedule({ period_seconds: 3600 }, 'en')).toBe('every 1h');
    expect(describeSchedule({ period_seconds: 5400 }, 'ru')).toBe('раз в 1ч 30м');
    expect(describeSchedule({ cron: '0 2 * * *', timezone: 'Europe/Moscow' }, 'en')).toBe('0 2 * * * (Europe/Moscow)');
    expect(describeSchedule({ cron: '0 2 * * *' }, 'ru')).toBe('0 2 * * * (UTC)');
  });
});

describe('ping commands', () => {
  const url = 'https://pt.example/ping/0f6e2c1a-3b4d-4e5f-8a9b-0c1d2e3f4a5b';

  it('quotes a shell word only when it must', () => {
    expect(shellWord(url)).toBe(url);
    expect(shellWord('http://h/ping/a b')).toBe("'http://h/ping/a b'");
    expect(shellWord("http://h/it's")).toBe(`'http://h/it'\\''s'`);
    expect(shellWord('http://h/?a=1&b=2')).toBe("'http://h/?a=1&b=2'");
  });

  it('finds a crontab schedule that runs at least as often as a period', () => {
    expect(cronForPeriod(10)).toBe('* * * * *');
    expect(cronForPeriod(60)).toBe('* * * * *');
    expect(cronForPeriod(300)).toBe('*/5 * * * *');
    expect(cronForPeriod(1200)).toBe('*/20 * * * *');
    expect(cronForPeriod(2700)).toBe('*/30 * * * *');
    expect(cronForPeriod(3600)).toBe('0 * * * *');
    expect(cronForPeriod(5400)).toBe('0 * * * *');
    expect(cronForPeriod(8 * 3600)).toBe('0 */8 * * *');
    expect(cronForPeriod(86400)).toBe('0 0 * * *');
    expect(cronForPeriod(2 * 86400)).toBe('0 0 * * *');
    expect(cronForPeriod(7 * 86400)).toBe('0 0 * * 0');
    expect(cronForPeriod(31_536_000)).toBe('0 0 * * 0');
  });

  it('builds curl, start/finish, crontab and output examples for a cron heartbeat', () => {
    const examples = pingExamples(url, { cron: '30 2 * * *', timezone: 'Europe/Moscow' });
    expect(Object.fromEntries(examples.map((e) => [e.key, e.command]))).toEqual({
      simple: `curl -fsS -m 10 --retry 5 -o /dev/null ${url}`,
      startFinish: `curl -fsS -m 10 --retry 5 -o /dev/null ${url}/start; /path/to/job.sh; curl -fsS -m 10 --retry 5 -o /dev/null ${url}/$?`,
      crontab: `30 2 * * * /path/to/job.sh; curl -fsS -m 10 --retry 5 -o /dev/null ${url}/$?`,
      output: `out=$(/path/to/job.sh 2>&1); rc=$?; printf '%s' "$out" | curl -fsS -m 10 --retry 5 -o /dev/null --data-binary @- ${url}/$rc`,
    });
  });

  it('gives a period heartbeat a crontab line on its nearest schedule, escaping cron’s %', () => {
    const [, , crontab] = pingExamples('http://pt.example/ping/key/backup%20db', { period_seconds: 900 }, 'backup.sh');
    expect(crontab).toEqual({
      key: 'crontab',
      command: '*/15 * * * * backup.sh; curl -fsS -m 10 --retry 5 -o /dev/null http://pt.example/ping/key/backup\\%20db/$?',
    });
  });
});

describe('the next ping', () => {
  const now = Date.parse('2026-12-06T12:00:00Z');
  const view = (over: Partial<HeartbeatView>): HeartbeatView => ({ pings: 3, ...over });

  it('says paused first, then a run in progress, then waiting, expected or overdue', () => {
    const expected = view({ expected_at: '2026-12-06T13:00:00Z', alert_at: '2026-12-06T13:05:00Z' });
    expect(nextPing(true, expected, now)).toEqual({ kind: 'paused' });
    expect(nextPing(false, { ...expected, started_at: '2026-12-06T11:58:00Z' }, now)).toEqual({ kind: 'running', since: '2026-12-06T11:58:00Z', alertAt: '2026-12-06T13:05:00Z' });
    expect(nextPing(false, view({ pings: 0, expected_at: null }), now)).toEqual({ kind: 'waiting' });
    expect(nextPing(false, undefined, now)).toEqual({ kind: 'waiting' });
    expect(nextPing(false, expected, now)).toEqual({ kind: 'expected', at: '2026-12-06T13:00:00Z', alertAt: '2026-12-06T13:05:00Z' });
    expect(nextPing(false, view({ expected_at: '2026-12-06T11:59:00Z', alert_at: '2026-12-06T12:04:00Z' }), now)).toEqual({
      kind: 'overdue',
      at: '2026-12-06T11:59:00Z',
      alertAt: '2026-12-06T12:04:00Z',
    });
  });
});

describe('pings and results', () => {
  it('colours events: successes up, failures down, starts and logs neutral', () => {
    expect(eventTone('success')).toBe('up');
    expect(eventTone('exit_status', 0)).toBe('up');
    expect(eventTone('exit_status', 2)).toBe('down');
    expect(eventTone('fail')).toBe('down');
    expect(eventTone('missed')).toBe('down');
    expect(eventTone('late')).toBe('down');
    expect(eventTone('start')).toBe('paused');
    expect(eventTone('log')).toBe('paused');
  });

  it('sums up a heartbeat result in a line', () => {
    const base = { result_id: 'r', outcome: 'down', duration_ms: 0 } as unknown as CheckResult;
    const failed: CheckResult = {
      ...base,
      heartbeat: { event: 'exit_status', exit_status: 3, run_duration_ms: 125_000, schedule: 'every 3600 s' },
      failure: { kind: 'heartbeat_failed', phase: 'schedule', message: 'the job exited with status 3' },
    };
    expect(heartbeatSummary(failed, 'en')).toBe('Exit status · exit 3 · 2m 5s · the job exited with status 3');
    expect(heartbeatSummary(failed, 'ru')).toBe('Код завершения · код 3 · 2м 5с · the job exited with status 3');
    const missed: CheckResult = { ...base, heartbeat: { event: 'missed', run_duration_ms: 1000, schedule: 'every 3600 s' } };
    expect(heartbeatSummary(missed, 'en')).toBe('Missed');
    expect(heartbeatSummary({ ...base }, 'en')).toBe('');
  });
});
