// The add/edit target form as plain data: drafts for every check kind (numbers kept as the
// text typed), conversion to the API's `TargetInput`, and client-side validation keyed by the
// same field paths the API uses in `error.field` (`spec.url`, `interval_seconds`…).

import type {
  Assertion,
  AssertionType,
  CheckKind,
  CheckSpec,
  DnsRecordType,
  DnsTransport,
  HttpHeader,
  HttpMethod,
  JsonValue,
  Resolver,
  Target,
  TargetInput,
} from '../api/model';
import { SECRET_MASK } from '../api/model';
import { formatStatusRanges, parseStatusRanges, splitList } from '../format';
import type { MessageKey } from '../i18n';
import { dependencyErrors, normalizeDependencies } from './dependencies';
import { baselineDraft, buildBaseline, emptyBaselineDraft, type BaselineDraft } from './baseline';
import { buildHeartbeatSpec, emptyHeartbeatDraft, heartbeatDraft, type HeartbeatDraft } from './heartbeat';

export interface AssertionDraft {
  type: AssertionType;
  /** body_contains / body_not_contains / header_equals value, json_path_equals JSON text. */
  value: string;
  pattern: string;
  path: string;
  name: string;
}

/**
 * A header row. A secret value comes back from the API as {@link SECRET_MASK}; the row then
 * holds `masked` (an empty input showing "unchanged") and sends the mask back — which keeps
 * the stored value — until the user types a new one.
 */
export interface HeaderDraft extends HttpHeader {
  /** The value is the stored secret, not shown; `value` is what the user typed instead (empty). */
  masked?: boolean;
  /** The name the stored secret belongs to (the mask keeps it only under that name). */
  originalName?: string;
}

/** Header names whose value is secret whatever the checkbox says (as `HttpHeader::is_secret`). */
export function isSecretHeaderName(name: string): boolean {
  const n = name.trim().toLowerCase();
  return n === 'authorization' || n === 'cookie' || n === 'proxy-authorization' || /key|token|secret/.test(n);
}

/** Whether `value` is the API's mask for a stored secret. */
export function isMask(value: string | undefined): boolean {
  return value === SECRET_MASK;
}

/** Whether `input` sends a stored secret back as the mask (only a saved target can resolve it). */
export function sendsMask(input: TargetInput): boolean {
  const s = input.spec;
  if (s.kind !== 'http') return false;
  const auth = s.auth;
  const authMasked = auth ? (auth.type === 'basic' ? isMask(auth.password) : isMask(auth.token)) : false;
  return authMasked || (s.headers ?? []).some((h) => isMask(h.value));
}

/** Index of header row `i` in the body sent (rows without a name are left out). */
export function sentHeaderIndex(headers: HeaderDraft[], i: number): number {
  return headers.slice(0, i).filter((h) => h.name.trim() !== '').length;
}

/** A TLS check's plaintext upgrade before the handshake: none (`''`), or the mail protocol's STARTTLS. */
export type StarttlsChoice = '' | 'smtp' | 'imap' | 'pop3';

/** The STARTTLS choices the form offers, with the port each protocol usually has. */
export const STARTTLS_CHOICES: { value: StarttlsChoice; port: string }[] = [
  { value: '', port: '443' },
  { value: 'smtp', port: '25' },
  { value: 'imap', port: '143' },
  { value: 'pop3', port: '110' },
];

export interface FormState {
  name: string;
  kind: CheckKind;
  interval: string;
  regions: string[];
  tags: string;
  failureThreshold: string;
  successThreshold: string;
  paused: boolean;
  http: {
    url: string;
    method: HttpMethod;
    headers: HeaderDraft[];
    body: string;
    authType: 'none' | 'basic' | 'bearer';
    username: string;
    password: string;
    token: string;
    /** The stored password is kept (sent back as the mask) unless one is typed. */
    passwordMasked?: boolean;
    /** The stored token is kept (sent back as the mask) unless one is typed. */
    tokenMasked?: boolean;
    expectedStatus: string;
    followRedirects: boolean;
    maxRedirects: string;
    assertions: AssertionDraft[];
    timeoutMs: string;
    verifyTls: boolean;
    tlsWarnDays: string;
    degradedAboveMs: string;
    httpsOnly: boolean;
    expectedFinalUrl: string;
    resolver: string;
    resolverProtocol: DnsTransport;
  };
  tcp: { host: string; port: string; timeoutMs: string; expectedBanner: string };
  dns: { name: string; recordType: DnsRecordType; resolver: string; resolverProtocol: DnsTransport; expectedAnswers: string; timeoutMs: string };
  tls: { host: string; port: string; sni: string; warnDays: string; timeoutMs: string; starttls: StarttlsChoice };
  icmp: {
    host: string;
    count: string;
    intervalMs: string;
    timeoutMs: string;
    payloadSize: string;
    degradedLossPercent: string;
    degradedAboveMs: string;
  };
  /** A heartbeat's schedule, grace time and slug; it has no interval, regions or thresholds of its own. */
  heartbeat: HeartbeatDraft;
  /** Ids of the targets this one depends on (its incidents wait while one of them is down). */
  dependsOn: string[];
  /** Latency baseline settings (not for heartbeats). */
  baseline: BaselineDraft;
}

/** A new target's form; `timezone` (the browser's) is where a heartbeat's cron schedule is read. */
export function emptyForm(minInterval = 60, regions: string[] = ['default'], timezone = 'UTC'): FormState {
  return {
    name: '',
    kind: 'http',
    interval: String(Math.max(60, minInterval)),
    regions: [...regions],
    tags: '',
    failureThreshold: '3',
    successThreshold: '2',
    paused: false,
    http: {
      url: '',
      method: 'GET',
      headers: [],
      body: '',
      authType: 'none',
      username: '',
      password: '',
      token: '',
      expectedStatus: '200-399',
      followRedirects: true,
      maxRedirects: '10',
      assertions: [],
      timeoutMs: '10000',
      verifyTls: true,
      tlsWarnDays: '14',
      degradedAboveMs: '',
      httpsOnly: false,
      expectedFinalUrl: '',
      resolver: '',
      resolverProtocol: 'udp',
    },
    tcp: { host: '', port: '', timeoutMs: '10000', expectedBanner: '' },
    dns: { name: '', recordType: 'A', resolver: '', resolverProtocol: 'udp', expectedAnswers: '', timeoutMs: '10000' },
    tls: { host: '', port: '443', sni: '', warnDays: '14', timeoutMs: '10000', starttls: '' },
    icmp: { host: '', count: '3', intervalMs: '200', timeoutMs: '1000', payloadSize: '56', degradedLossPercent: '', degradedAboveMs: '' },
    heartbeat: emptyHeartbeatDraft(timezone),
    dependsOn: [],
    baseline: emptyBaselineDraft(),
  };
}

export function emptyAssertion(type: AssertionType = 'body_contains'): AssertionDraft {
  return { type, value: '', pattern: '', path: '', name: '' };
}

const str = (n: number | undefined | null, dflt = ''): string => (n === undefined || n === null ? dflt : String(n));

/** The form of a saved target (or an import entry); `timezone` as in {@link emptyForm}. */
export function formFromTarget(t: Target | TargetInput, timezone = 'UTC'): FormState {
  const f = emptyForm(60, ['default'], timezone);
  f.name = t.name;
  f.kind = t.spec.kind;
  // An import entry may leave these out: the form shows the API's defaults then.
  f.interval = str(t.interval_seconds, '60');
  f.regions = [...(t.regions ?? [])];
  f.tags = (t.tags ?? []).join(', ');
  f.failureThreshold = str(t.failure_threshold, '3');
  f.successThreshold = str(t.success_threshold, '2');
  f.paused = t.paused ?? false;
  f.dependsOn = [...(t.depends_on ?? [])];
  f.baseline = baselineDraft(t.baseline);
  const s = t.spec;
  switch (s.kind) {
    case 'http':
      f.http = {
        url: s.url,
        method: s.method ?? 'GET',
        headers: (s.headers ?? []).map(headerDraft),
        body: s.body ?? '',
        authType: s.auth ? s.auth.type : 'none',
        username: s.auth?.type === 'basic' ? s.auth.username : '',
        password: s.auth?.type === 'basic' && !isMask(s.auth.password) ? s.auth.password : '',
        token: s.auth?.type === 'bearer' && !isMask(s.auth.token) ? s.auth.token : '',
        passwordMasked: s.auth?.type === 'basic' && isMask(s.auth.password),
        tokenMasked: s.auth?.type === 'bearer' && isMask(s.auth.token),
        expectedStatus: formatStatusRanges(s.expected_status),
        followRedirects: s.follow_redirects ?? true,
        maxRedirects: str(s.max_redirects, '10'),
        assertions: (s.assertions ?? []).map(assertionDraft),
        timeoutMs: str(s.timeout_ms, '10000'),
        verifyTls: s.verify_tls ?? true,
        tlsWarnDays: str(s.tls_warn_days, '14'),
        degradedAboveMs: str(s.degraded_above_ms),
        httpsOnly: s.https_only ?? false,
        expectedFinalUrl: s.expected_final_url ?? '',
        resolver: s.resolver?.address ?? '',
        resolverProtocol: s.resolver?.protocol ?? 'udp',
      };
      break;
    case 'tcp':
      f.tcp = { host: s.host, port: String(s.port), timeoutMs: str(s.timeout_ms, '10000'), expectedBanner: s.expected_banner ?? '' };
      break;
    case 'dns':
      f.dns = {
        name: s.name,
        recordType: s.record_type,
        resolver: s.resolver?.address ?? '',
        resolverProtocol: s.resolver?.protocol ?? 'udp',
        expectedAnswers: (s.expected_answers ?? []).join('\n'),
        timeoutMs: str(s.timeout_ms, '10000'),
      };
      break;
    case 'tls':
      f.tls = {
        host: s.host,
        port: str(s.port, '443'),
        sni: s.sni ?? '',
        warnDays: str(s.warn_days, '14'),
        timeoutMs: str(s.timeout_ms, '10000'),
        starttls: s.starttls ?? '',
      };
      break;
    case 'icmp':
      f.icmp = {
        host: s.host,
        count: str(s.count, '3'),
        intervalMs: str(s.interval_ms, '200'),
        timeoutMs: str(s.timeout_ms, '1000'),
        payloadSize: str(s.payload_size, '56'),
        degradedLossPercent: str(s.degraded_loss_percent),
        degradedAboveMs: str(s.degraded_above_ms),
      };
      break;
    case 'heartbeat':
      f.heartbeat = heartbeatDraft(s, timezone);
      // The API derives these for a heartbeat (its interval from the period, its own region, thresholds of 1):
      // the form keeps its defaults, in case the kind is changed.
      f.interval = '60';
      f.regions = [];
      f.failureThreshold = '3';
      f.successThreshold = '2';
      break;
  }
  return f;
}

function headerDraft(h: HttpHeader): HeaderDraft {
  if (isMask(h.value)) return { name: h.name, value: '', secret: true, masked: true, originalName: h.name };
  return h.secret ? { name: h.name, value: h.value, secret: true } : { name: h.name, value: h.value };
}

/** The header rows as sent: masked rows send the mask back, secret ones carry the mark. */
function buildHeaders(ctx: Ctx, rows: HeaderDraft[]): HttpHeader[] {
  const sent: HttpHeader[] = [];
  for (const row of rows) {
    const name = row.name.trim();
    if (!name) continue;
    const field = `spec.headers[${sent.length}].value`;
    let value = row.value;
    if (row.masked) {
      // The stored secret belongs to its header name; under another name it must be typed again.
      if (row.originalName !== undefined && row.originalName.trim().toLowerCase() !== name.toLowerCase()) {
        ctx.errors[field] = { key: 'valid.secretRetype' };
      }
      value = SECRET_MASK;
    }
    const header: HttpHeader = { name, value };
    if (row.secret || row.masked) header.secret = true;
    sent.push(header);
  }
  return sent;
}

function assertionDraft(a: Assertion): AssertionDraft {
  const d = emptyAssertion(a.type);
  // Each field the type has goes to its input; json_path_equals's value is any JSON, edited as text.
  if (a.type === 'json_path_equals') d.value = JSON.stringify(a.value);
  else if ('value' in a) d.value = a.value;
  if ('pattern' in a) d.pattern = a.pattern;
  if ('path' in a) d.path = a.path;
  if ('name' in a) d.name = a.name;
  return d;
}

export type FieldErrors = Record<string, { key: MessageKey; vars?: Record<string, string | number> } | { text: string }>;

interface Ctx {
  errors: FieldErrors;
}

function int(ctx: Ctx, field: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const t = text.trim();
  if (!/^\d+$/.test(t) || Number(t) < min || Number(t) > max) {
    ctx.errors[field] = { key: 'valid.number', vars: { min } };
    return undefined;
  }
  return Number(t);
}

function optInt(ctx: Ctx, field: string, text: string, min: number, max?: number): number | undefined {
  return text.trim() === '' ? undefined : int(ctx, field, text, min, max);
}

/** The longest an ICMP check takes: every echo's interval plus the wait for the last reply. */
export function icmpTotalMs(spec: { count?: number; interval_ms?: number; timeout_ms?: number }): number {
  return (spec.count ?? 3) * (spec.interval_ms ?? 200) + (spec.timeout_ms ?? 1000);
}

function port(ctx: Ctx, field: string, text: string): number {
  const t = text.trim();
  const n = Number(t);
  if (!/^\d+$/.test(t) || n < 1 || n > 65535) {
    ctx.errors[field] = { key: 'valid.port' };
    return 0;
  }
  return n;
}

function required(ctx: Ctx, field: string, text: string): string {
  const t = text.trim();
  if (!t) ctx.errors[field] = { key: 'valid.required' };
  return t;
}

/** `1.1.1.1:53`, `[::1]:53`. */
export function isSocketAddr(s: string): boolean {
  const m = /^(?:(\d{1,3}(?:\.\d{1,3}){3})|\[([0-9a-fA-F:.]+)\]):(\d{1,5})$/.exec(s.trim());
  if (!m) return false;
  const p = Number(m[3]);
  if (p < 1 || p > 65535) return false;
  if (m[1]) return m[1].split('.').every((o) => Number(o) <= 255);
  return true;
}

function resolver(ctx: Ctx, field: string, address: string, protocol: DnsTransport): Resolver | undefined {
  const a = address.trim();
  if (!a) return undefined;
  if (!isSocketAddr(a)) {
    ctx.errors[field] = { key: 'valid.resolver' };
    return undefined;
  }
  return { address: a, protocol };
}

export function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s.trim());
    return (u.protocol === 'http:' || u.protocol === 'https:') && !!u.hostname;
  } catch {
    return false;
  }
}

/** The `host` and `port` of a TCP or TLS check. */
function endpoint(ctx: Ctx, s: { host: string; port: string }): { host: string; port: number } {
  return { host: required(ctx, 'spec.host', s.host), port: port(ctx, 'spec.port', s.port) };
}

/** Every kind's `timeout_ms`, at least 100 (10 s stands in while the field is in error). */
function timeoutMs(ctx: Ctx, text: string): number {
  return int(ctx, 'spec.timeout_ms', text, 100) ?? 10000;
}

function buildSpec(ctx: Ctx, f: FormState): CheckSpec {
  switch (f.kind) {
    case 'http': {
      const h = f.http;
      const url = required(ctx, 'spec.url', h.url);
      if (url && !isHttpUrl(url)) ctx.errors['spec.url'] = { key: 'valid.url' };
      const ranges = parseStatusRanges(h.expectedStatus);
      if (!ranges) ctx.errors['spec.expected_status'] = { key: 'valid.statusRanges' };
      const spec: CheckSpec = {
        kind: 'http',
        url,
        method: h.method,
        expected_status: ranges ?? [],
        follow_redirects: h.followRedirects,
        max_redirects: int(ctx, 'spec.max_redirects', h.maxRedirects, 0, 255) ?? 10,
        timeout_ms: timeoutMs(ctx, h.timeoutMs),
        verify_tls: h.verifyTls,
        tls_warn_days: int(ctx, 'spec.tls_warn_days', h.tlsWarnDays, 0) ?? 14,
        https_only: h.httpsOnly,
      };
      const headers = buildHeaders(ctx, h.headers);
      if (headers.length) spec.headers = headers;
      if (h.body !== '') spec.body = h.body;
      if (h.authType === 'basic') {
        spec.auth = { type: 'basic', username: h.username, password: h.passwordMasked ? SECRET_MASK : h.password };
      }
      if (h.authType === 'bearer') {
        spec.auth = { type: 'bearer', token: h.tokenMasked ? SECRET_MASK : required(ctx, 'spec.auth.token', h.token) };
      }
      const degraded = optInt(ctx, 'spec.degraded_above_ms', h.degradedAboveMs, 1);
      if (degraded !== undefined) spec.degraded_above_ms = degraded;
      const finalUrl = h.expectedFinalUrl.trim();
      if (finalUrl) {
        if (!isHttpUrl(finalUrl)) ctx.errors['spec.expected_final_url'] = { key: 'valid.url' };
        spec.expected_final_url = finalUrl;
      }
      const r = resolver(ctx, 'spec.resolver', h.resolver, h.resolverProtocol);
      if (r) spec.resolver = r;
      const assertions = h.assertions.map((a, i) => buildAssertion(ctx, `spec.assertions[${i}]`, a));
      if (assertions.length) spec.assertions = assertions;
      return spec;
    }
    case 'tcp': {
      const s = f.tcp;
      const spec: CheckSpec = { kind: 'tcp', ...endpoint(ctx, s), timeout_ms: timeoutMs(ctx, s.timeoutMs) };
      if (s.expectedBanner) spec.expected_banner = s.expectedBanner;
      return spec;
    }
    case 'dns': {
      const s = f.dns;
      const spec: CheckSpec = {
        kind: 'dns',
        name: required(ctx, 'spec.name', s.name),
        record_type: s.recordType,
        timeout_ms: timeoutMs(ctx, s.timeoutMs),
      };
      const r = resolver(ctx, 'spec.resolver', s.resolver, s.resolverProtocol);
      if (r) spec.resolver = r;
      const answers = s.expectedAnswers
        .split('\n')
        .map((x) => x.trim())
        .filter(Boolean);
      if (answers.length) spec.expected_answers = answers;
      return spec;
    }
    case 'tls': {
      const s = f.tls;
      const spec: CheckSpec = {
        kind: 'tls',
        ...endpoint(ctx, s),
        warn_days: int(ctx, 'spec.warn_days', s.warnDays, 0) ?? 14,
        timeout_ms: timeoutMs(ctx, s.timeoutMs),
      };
      if (s.sni.trim()) spec.sni = s.sni.trim();
      if (s.starttls) spec.starttls = s.starttls;
      return spec;
    }
    case 'icmp': {
      // The bounds of common::messages::icmp_bounds, checked again by the API.
      const s = f.icmp;
      const spec: CheckSpec = {
        kind: 'icmp',
        host: required(ctx, 'spec.host', s.host),
        count: int(ctx, 'spec.count', s.count, 1, 10) ?? 3,
        interval_ms: int(ctx, 'spec.interval_ms', s.intervalMs, 10, 5000) ?? 200,
        timeout_ms: int(ctx, 'spec.timeout_ms', s.timeoutMs, 1, 10000) ?? 1000,
        payload_size: int(ctx, 'spec.payload_size', s.payloadSize, 0, 1400) ?? 56,
      };
      const loss = optInt(ctx, 'spec.degraded_loss_percent', s.degradedLossPercent, 0, 99);
      if (loss !== undefined) spec.degraded_loss_percent = loss;
      const slow = optInt(ctx, 'spec.degraded_above_ms', s.degradedAboveMs, 1);
      if (slow !== undefined) spec.degraded_above_ms = slow;
      return spec;
    }
    case 'heartbeat': {
      const { spec, errors } = buildHeartbeatSpec(f.heartbeat);
      Object.assign(ctx.errors, errors);
      return { kind: 'heartbeat', ...spec };
    }
  }
}

function buildAssertion(ctx: Ctx, field: string, a: AssertionDraft): Assertion {
  switch (a.type) {
    case 'body_contains':
    case 'body_not_contains':
      if (!a.value) ctx.errors[`${field}.value`] = { key: 'valid.required' };
      return { type: a.type, value: a.value };
    case 'body_matches':
      if (!a.pattern) ctx.errors[`${field}.pattern`] = { key: 'valid.required' };
      return { type: a.type, pattern: a.pattern };
    case 'json_path_equals': {
      let value: JsonValue = a.value;
      try {
        value = JSON.parse(a.value) as JsonValue;
      } catch {
        // A bare word is taken as a string, like `ok`; anything else that looks like JSON must parse.
        if (/^[[{"]/.test(a.value.trim()) || a.value.trim() === '') ctx.errors[`${field}.value`] = { key: 'valid.json' };
      }
      if (!a.path.trim()) ctx.errors[`${field}.path`] = { key: 'valid.required' };
      return { type: a.type, path: a.path.trim(), value };
    }
    case 'json_path_exists':
      if (!a.path.trim()) ctx.errors[`${field}.path`] = { key: 'valid.required' };
      return { type: a.type, path: a.path.trim() };
    case 'header_equals':
      if (!a.name.trim()) ctx.errors[`${field}.name`] = { key: 'valid.required' };
      return { type: a.type, name: a.name.trim(), value: a.value };
  }
}

/** The API body for the form, and what is wrong with it (empty when valid). */
export function buildInput(f: FormState, minInterval = 1): { input: TargetInput; errors: FieldErrors } {
  const ctx: Ctx = { errors: {} };
  const name = required(ctx, 'name', f.name);
  const spec = buildSpec(ctx, f);
  const dependsOn = normalizeDependencies(f.dependsOn);
  Object.assign(ctx.errors, dependencyErrors(dependsOn));
  if (spec.kind === 'heartbeat') {
    // Its schedule is in its spec: no interval, timeout, regions or thresholds (the API ignores them).
    return { input: { name, kind: 'heartbeat', spec, tags: splitList(f.tags), paused: f.paused, depends_on: dependsOn }, errors: ctx.errors };
  }
  const interval = int(ctx, 'interval_seconds', f.interval, Math.max(1, minInterval)) ?? 60;
  const input: TargetInput = {
    name,
    kind: f.kind,
    spec,
    interval_seconds: interval,
    regions: f.regions.length ? f.regions : ['default'],
    tags: splitList(f.tags),
    failure_threshold: int(ctx, 'failure_threshold', f.failureThreshold, 1, 100) ?? 3,
    success_threshold: int(ctx, 'success_threshold', f.successThreshold, 1, 100) ?? 2,
    paused: f.paused,
    depends_on: dependsOn,
    baseline: buildBaseline(f.baseline, ctx.errors),
  };
  // An ICMP check's time is its echoes' schedule plus the last reply's wait.
  const timeout = spec.kind === 'icmp' ? icmpTotalMs(spec) : spec.timeout_ms;
  if (timeout !== undefined && !ctx.errors['interval_seconds'] && !ctx.errors['spec.timeout_ms'] && timeout >= interval * 1000) {
    ctx.errors['spec.timeout_ms'] = { key: 'valid.timeoutInterval' };
  }
  return { input, errors: ctx.errors };
}

/** Maps an API validation error's field onto the form (`spec.url` stays, unknown → `_form`). */
export function apiFieldKey(field: string | undefined): string {
  if (!field) return '_form';
  return field.replace(/^body\./, '').replace(/\.(\d+)(?=\.|$)/g, '[$1]');
}
