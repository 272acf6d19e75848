import { describe, expect, it } from 'vitest';
import type { Target } from '../api/model';
import { apiFieldKey, buildInput, emptyAssertion, emptyForm, formFromTarget, isSocketAddr } from './targetForm';

describe('buildInput', () => {
  it('builds a minimal HTTP target with the documented defaults', () => {
    const f = emptyForm(30);
    f.name = ' Shop ';
    f.http.url = 'http://127.0.0.1:8000/health';
    f.tags = 'prod, shop';
    const { input, errors } = buildInput(f, 30);
    expect(errors).toEqual({});
    expect(input).toMatchObject({
      name: 'Shop',
      kind: 'http',
      interval_seconds: 60,
      tags: ['prod', 'shop'],
      regions: ['default'],
      failure_threshold: 3,
      success_threshold: 2,
      paused: false,
    });
    expect(input.spec).toEqual({
      kind: 'http',
      url: 'http://127.0.0.1:8000/health',
      method: 'GET',
      expected_status: [{ from: 200, to: 399 }],
      follow_redirects: true,
      max_redirects: 10,
      timeout_ms: 10000,
      verify_tls: true,
      tls_warn_days: 14,
      https_only: false,
    });
  });

  it('reports every invalid field by its API path', () => {
    const f = emptyForm();
    f.http.url = 'ftp://x';
    f.http.expectedStatus = 'abc';
    f.http.resolver = 'dns.google';
    f.interval = '5';
    f.http.assertions = [emptyAssertion('json_path_equals')];
    const { errors } = buildInput(f, 30);
    expect(buildInput({ ...f, interval: '10' }).errors['spec.timeout_ms']).toEqual({ key: 'valid.timeoutInterval' });
    expect(Object.keys(errors).sort()).toEqual(
      ['interval_seconds', 'name', 'spec.assertions[0].path', 'spec.assertions[0].value', 'spec.expected_status', 'spec.resolver', 'spec.url'].sort(),
    );
  });

  it('builds every HTTP option', () => {
    const f = emptyForm();
    f.name = 'api';
    Object.assign(f.http, {
      url: 'https://api.example.com/',
      method: 'POST',
      headers: [{ name: 'X-A', value: '1' }, { name: ' ', value: 'dropped' }],
      body: '{}',
      authType: 'bearer',
      token: 'tkn',
      expectedStatus: '200-299, 304',
      followRedirects: false,
      maxRedirects: '3',
      degradedAboveMs: '800',
      httpsOnly: true,
      expectedFinalUrl: 'https://api.example.com/ok',
      resolver: '1.1.1.1:53',
      resolverProtocol: 'tcp',
      assertions: [
        { ...emptyAssertion('json_path_equals'), path: '$.status', value: '"ok"' },
        { ...emptyAssertion('header_equals'), name: 'content-type', value: 'application/json' },
        { ...emptyAssertion('body_matches'), pattern: 'ok|fine' },
      ],
    });
    const { input, errors } = buildInput(f);
    expect(errors).toEqual({});
    expect(input.spec).toMatchObject({
      method: 'POST',
      headers: [{ name: 'X-A', value: '1' }],
      body: '{}',
      auth: { type: 'bearer', token: 'tkn' },
      expected_status: [
        { from: 200, to: 299 },
        { from: 304, to: 304 },
      ],
      follow_redirects: false,
      max_redirects: 3,
      degraded_above_ms: 800,
      https_only: true,
      expected_final_url: 'https://api.example.com/ok',
      resolver: { address: '1.1.1.1:53', protocol: 'tcp' },
      assertions: [
        { type: 'json_path_equals', path: '$.status', value: 'ok' },
        { type: 'header_equals', name: 'content-type', value: 'application/json' },
        { type: 'body_matches', pattern: 'ok|fine' },
      ],
    });
  });

  it('builds TCP, DNS and TLS specs', () => {
    const f = emptyForm();
    f.name = 'x';
    f.kind = 'tcp';
    f.tcp = { host: 'db', port: '5432', timeoutMs: '2000', expectedBanner: '' };
    expect(buildInput(f).input.spec).toEqual({ kind: 'tcp', host: 'db', port: 5432, timeout_ms: 2000 });
    f.kind = 'dns';
    f.dns = { name: 'example.com', recordType: 'MX', resolver: '', resolverProtocol: 'udp', expectedAnswers: '10 mx.example.com.\n\n', timeoutMs: '3000' };
    expect(buildInput(f).input.spec).toEqual({ kind: 'dns', name: 'example.com', record_type: 'MX', expected_answers: ['10 mx.example.com.'], timeout_ms: 3000 });
    f.kind = 'tls';
    f.tls = { host: 'example.com', port: '99999', sni: '', warnDays: '30', timeoutMs: '10000', starttls: '' };
    expect(buildInput(f).errors['spec.port']).toEqual({ key: 'valid.port' });
    f.tls = { host: 'mail.example.com', port: '25', sni: '', warnDays: '30', timeoutMs: '10000', starttls: 'smtp' };
    expect(buildInput(f).input.spec).toEqual({ kind: 'tls', host: 'mail.example.com', port: 25, warn_days: 30, timeout_ms: 10000, starttls: 'smtp' });
    f.tls.starttls = '';
    expect(buildInput(f).input.spec).not.toHaveProperty('starttls');
  });

  it('builds an ICMP spec within its bounds, naming every field out of them', () => {
    const f = emptyForm();
    f.name = 'ping';
    f.kind = 'icmp';
    f.icmp.host = ' 2001:db8::1 ';
    f.icmp.degradedLossPercent = '20';
    const { input, errors } = buildInput(f);
    expect(errors).toEqual({});
    expect(input.kind).toBe('icmp');
    expect(input.spec).toEqual({
      kind: 'icmp',
      host: '2001:db8::1',
      count: 3,
      interval_ms: 200,
      timeout_ms: 1000,
      payload_size: 56,
      degraded_loss_percent: 20,
    });
    expect(buildInput(formFromTarget(input)).input).toEqual(input);

    f.icmp = { host: '', count: '11', intervalMs: '9', timeoutMs: '10001', payloadSize: '1401', degradedLossPercent: '100', degradedAboveMs: '0' };
    expect(Object.keys(buildInput(f).errors).sort()).toEqual([
      'spec.count',
      'spec.degraded_above_ms',
      'spec.degraded_loss_percent',
      'spec.host',
      'spec.interval_ms',
      'spec.payload_size',
      'spec.timeout_ms',
    ]);

    // 10 × 5000 ms + 10 s does not fit in a 60-second interval.
    f.icmp = { host: 'example.com', count: '10', intervalMs: '5000', timeoutMs: '10000', payloadSize: '56', degradedLossPercent: '', degradedAboveMs: '' };
    expect(buildInput(f).errors['spec.timeout_ms']).toEqual({ key: 'valid.timeoutInterval' });
  });

  it('builds a heartbeat with its schedule alone: no interval, regions or thresholds', () => {
    const f = emptyForm(30, ['default', 'eu'], 'Europe/Moscow');
    f.name = 'nightly backup';
    f.kind = 'heartbeat';
    f.tags = 'backup';
    f.interval = '5'; // hidden for a heartbeat: never judged, never sent
    f.heartbeat = { ...f.heartbeat, mode: 'cron', cron: '30 2 * * *', grace: '1', graceUnit: 'hours', slug: 'nightly' };
    const { input, errors } = buildInput(f, 30);
    expect(errors).toEqual({});
    expect(input).toEqual({
      name: 'nightly backup',
      kind: 'heartbeat',
      spec: { kind: 'heartbeat', cron: '30 2 * * *', timezone: 'Europe/Moscow', grace_seconds: 3600, slug: 'nightly' },
      tags: ['backup'],
      paused: false,
      depends_on: [],
    });
    expect(buildInput(formFromTarget(input, 'UTC')).input).toEqual(input);

    // The fields at fault are the API's paths, so that its 422 `field` lands beside the same input.
    f.heartbeat = { ...f.heartbeat, mode: 'period', period: '5', periodUnit: 'seconds', grace: '0', slug: 'Nightly' };
    expect(Object.keys(buildInput(f).errors).sort()).toEqual(['spec.grace_seconds', 'spec.period_seconds', 'spec.slug']);
    expect(['spec.period_seconds', 'spec.cron', 'spec.timezone', 'spec.grace_seconds', 'spec.slug'].map(apiFieldKey)).toEqual([
      'spec.period_seconds',
      'spec.cron',
      'spec.timezone',
      'spec.grace_seconds',
      'spec.slug',
    ]);
  });

  it('opens a saved heartbeat with the check defaults kept aside, in case its kind changes', () => {
    const saved: Target = {
      id: '1',
      name: 'hb',
      kind: 'heartbeat',
      spec: { kind: 'heartbeat', period_seconds: 86400, grace_seconds: 300 },
      interval_seconds: 86400,
      timeout_seconds: 30,
      regions: ['heartbeat'],
      tags: [],
      failure_threshold: 1,
      success_threshold: 1,
      paused: false,
      created_at: '',
      updated_at: '',
      state: { status: 'up', since: '2026-01-01T00:00:00Z', last_checked_at: null, last_latency_ms: null },
      baseline: { enabled: null, factor: 3, min_increase_ms: 100, active: false },
      ping_url: 'http://pt.example/ping/0f6e2c1a-3b4d-4e5f-8a9b-0c1d2e3f4a5b',
      heartbeat: { pings: 0 },
    };
    const f = formFromTarget(saved, 'Asia/Tokyo');
    expect(f.heartbeat).toMatchObject({ mode: 'period', period: '1', periodUnit: 'days', timezone: 'Asia/Tokyo' });
    expect(buildInput(f).input.spec).toEqual(saved.spec);
    f.kind = 'http';
    f.http.url = 'https://a.example/';
    expect(buildInput(f).input).toMatchObject({ interval_seconds: 60, regions: ['default'], failure_threshold: 3, success_threshold: 2 });
  });

  it('round-trips a saved target through the form', () => {
    const f = emptyForm();
    f.name = 'rt';
    f.http.url = 'https://a.example/';
    f.http.assertions = [{ ...emptyAssertion('json_path_equals'), path: '$.n', value: '3' }];
    f.http.authType = 'basic';
    f.http.username = 'u';
    f.http.password = 'p';
    const { input } = buildInput(f);
    const back = formFromTarget({ ...input, id: '1', created_at: '', updated_at: '', state: { status: 'up', since: '2026-01-01T00:00:00Z', last_checked_at: null, last_latency_ms: null } } as Target);
    expect(buildInput(back).input).toEqual(input);
  });

  it('brings every assertion type back into the form with only its own fields', () => {
    const f = emptyForm();
    f.name = 'rt';
    f.http.url = 'https://a.example/';
    f.http.assertions = [
      { ...emptyAssertion('body_contains'), value: 'ok' },
      { ...emptyAssertion('body_not_contains'), value: 'error' },
      { ...emptyAssertion('body_matches'), pattern: 'o+k' },
      { ...emptyAssertion('json_path_equals'), path: '$.a', value: '{"b":[1,null]}' },
      { ...emptyAssertion('json_path_exists'), path: '$.c' },
      { ...emptyAssertion('header_equals'), name: 'x-a', value: '1' },
    ];
    const { input, errors } = buildInput(f);
    expect(errors).toEqual({});
    expect(formFromTarget(input).http.assertions).toEqual(f.http.assertions);
  });
});

describe('helpers', () => {
  it('recognises socket addresses', () => {
    expect(isSocketAddr('1.1.1.1:53')).toBe(true);
    expect(isSocketAddr('[2606:4700::1111]:53')).toBe(true);
    expect(isSocketAddr('1.1.1.1')).toBe(false);
    expect(isSocketAddr('300.1.1.1:53')).toBe(false);
  });
  it('maps API field paths onto form keys', () => {
    expect(apiFieldKey('spec.url')).toBe('spec.url');
    expect(apiFieldKey('spec.assertions.0.path')).toBe('spec.assertions[0].path');
    expect(apiFieldKey(undefined)).toBe('_form');
  });
});
