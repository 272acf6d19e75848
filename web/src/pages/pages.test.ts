import { describe, expect, it } from 'vitest';
import type { IncidentReport, PublicStatus } from '../api/model';
import { detectFormat, localToIso } from './account';
import { kindName, msgText } from './channels';
import { incidentDuration, pickReport } from './incidents';
import { addressOf, kindLabel } from './overview';
import { overallTone } from './statusPages';
import { dayTone } from './target';

const report = (language: string, at: string, summary = ''): IncidentReport => ({
  incident_id: 'i',
  event_kind: 'opened',
  language,
  summary,
  probable_cause: '',
  impact: '',
  recommended_actions: [],
  source: 'rules',
  claims: [],
  generated_at: at,
});

describe('page logic', () => {
  it('picks the newest report in the user language, else the newest', () => {
    const rs = [report('en', '2026-01-01T00:00:00Z', 'old en'), report('ru', '2026-01-01T00:01:00Z', 'ru'), report('en', '2026-01-01T00:02:00Z', 'new en')];
    expect(pickReport(rs, 'ru')!.summary).toBe('ru');
    expect(pickReport(rs, 'en')!.summary).toBe('new en');
    expect(pickReport(rs, 'de')!.summary).toBe('new en');
    expect(pickReport([], 'en')).toBeUndefined();
  });

  it('measures incidents, ongoing ones up to now', () => {
    expect(incidentDuration({ opened_at: '2026-01-01T00:00:00Z', resolved_at: '2026-01-01T00:05:00Z' })).toBe(300);
    expect(incidentDuration({ opened_at: '2026-01-01T00:00:00Z', resolved_at: null }, Date.parse('2026-01-01T00:01:00Z'))).toBe(60);
  });

  it('derives the public page banner from its targets', () => {
    const page = (statuses: string[]): PublicStatus => ({
      title: '',
      description: '',
      status: 'up',
      targets: statuses.map((s) => ({ name: s, group: null, status: s as 'up', uptime_90d: 1, days: [] })),
      incidents: [],
    });
    expect(overallTone(page(['up', 'up']))).toBe('up');
    expect(overallTone(page(['up', 'degraded']))).toBe('degraded');
    expect(overallTone(page(['degraded', 'down']))).toBe('down');
    expect(overallTone(page(['paused']))).toBe('up');
  });

  it('colours daily bars by uptime', () => {
    expect(dayTone({ uptime: null })).toBe('');
    expect(dayTone({ uptime: 1 })).toBe('b-up');
    expect(dayTone({ uptime: 0.995 })).toBe('b-mostly');
    expect(dayTone({ uptime: 0.96 })).toBe('b-degraded');
    expect(dayTone({ uptime: 0.5 })).toBe('b-down');
  });

  it('detects import formats and converts local times', () => {
    expect(detectFormat('  {"version":1}')).toBe('json');
    expect(detectFormat('version: 1')).toBe('yaml');
    expect(localToIso('2026-01-01T10:00')).toMatch(/^2026-01-01T\d\d:00:00\.000Z$/);
    expect(localToIso('nonsense')).toBe('');
  });

  it('shows each kind of target by its address', () => {
    expect(addressOf({ spec: { kind: 'http', url: 'https://a/' } })).toBe('https://a/');
    expect(addressOf({ spec: { kind: 'tcp', host: 'db', port: 5432 } })).toBe('db:5432');
    expect(addressOf({ spec: { kind: 'dns', name: 'a.example', record_type: 'MX' } })).toBe('MX a.example');
    expect(addressOf({ spec: { kind: 'tls', host: 'a.example' } })).toBe('a.example:443');
    expect(addressOf({ spec: { kind: 'icmp', host: '192.0.2.1' } })).toBe('192.0.2.1');
    expect(addressOf({ spec: { kind: 'heartbeat', period_seconds: 86400 } })).toBe('every 1d');
    expect(addressOf({ spec: { kind: 'heartbeat', cron: '0 2 * * *', timezone: 'Europe/Moscow', slug: 'backup' } })).toBe('backup · 0 2 * * * (Europe/Moscow)');
    expect(kindLabel('heartbeat')).toBe('Heartbeat');
    expect(kindLabel('icmp')).toBe('ICMP');
  });
  it('names channel kinds, and shows an unknown kind as the API spells it', () => {
    expect(kindName('slack')).toBe('Slack');
    expect(kindName('google_chat')).toBe('Google Chat');
    expect(kindName('email')).toBe('Email');
    expect(kindName('carrier_pigeon')).toBe('carrier_pigeon');
    expect(msgText({ key: 'chan.valid.range', vars: { min: 1, max: 5 } })).toBe('A whole number from 1 to 5.');
    expect(msgText({ plural: 'maxTags', n: 20 })).toBe('At most 20 tags.');
    expect(msgText({ text: 'must be https' })).toBe('must be https');
  });
});
