// Shapes of the REST API that the backend's OpenAPI document does not describe yet: the message
// types of crates/common/src/messages.rs (a check's spec and result, an incident's evidence and
// reports), which the document gives as untyped objects, and enums it gives as strings. Written
// by hand; field names and enum spellings follow serde's output exactly. `model.ts` re-exports them beside the generated aliases;
// `model.test.ts` fails once the document describes one of these responses, so that the shape
// here gives way to the generated one. Import from `model.ts`, not from here.

import type { Timestamp, Uuid } from './model';

// ---------------------------------------------------------------------------------------------
// CheckSpec — `#[serde(tag = "kind", rename_all = "snake_case")]`
// ---------------------------------------------------------------------------------------------

export type CheckKind = 'http' | 'tcp' | 'dns' | 'tls';
export const CHECK_KINDS: readonly CheckKind[] = ['http', 'tcp', 'dns', 'tls'];

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';
export const HTTP_METHODS: readonly HttpMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** What the API returns instead of a secret value; sent back, it keeps the stored value. */
export const SECRET_MASK = '********';

export interface HttpHeader {
  name: string;
  value: string;
  /** Marked secret (write-only): the API answers with {@link SECRET_MASK} as the value. */
  secret?: boolean;
}

export type HttpAuth = (
  | { type: 'basic'; username: string; password: string }
  | { type: 'bearer'; token: string }
) & {
  /** Set by the API when the password / token is returned as {@link SECRET_MASK}. */
  secret?: boolean;
};

export interface StatusRange {
  from: number;
  to: number;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

export type Assertion =
  | { type: 'body_contains'; value: string }
  | { type: 'body_not_contains'; value: string }
  | { type: 'body_matches'; pattern: string }
  | { type: 'json_path_equals'; path: string; value: JsonValue }
  | { type: 'json_path_exists'; path: string }
  | { type: 'header_equals'; name: string; value: string };
export type AssertionType = Assertion['type'];
export const ASSERTION_TYPES: readonly AssertionType[] = [
  'body_contains',
  'body_not_contains',
  'body_matches',
  'json_path_equals',
  'json_path_exists',
  'header_equals',
];

export type DnsTransport = 'udp' | 'tcp';

export interface Resolver {
  /** `ip:port`, e.g. `1.1.1.1:53` or `[2606:4700::1111]:53`. */
  address: string;
  protocol?: DnsTransport;
}

export interface HttpSpec {
  url: string;
  method?: HttpMethod;
  headers?: HttpHeader[];
  body?: string;
  auth?: HttpAuth;
  expected_status?: StatusRange[];
  follow_redirects?: boolean;
  max_redirects?: number;
  assertions?: Assertion[];
  timeout_ms?: number;
  verify_tls?: boolean;
  tls_warn_days?: number;
  degraded_above_ms?: number;
  https_only?: boolean;
  expected_final_url?: string;
  resolver?: Resolver;
}

export interface TcpSpec {
  host: string;
  port: number;
  timeout_ms?: number;
  expected_banner?: string;
}

export type DnsRecordType = 'A' | 'AAAA' | 'CNAME' | 'MX' | 'TXT' | 'NS' | 'SOA';
export const DNS_RECORD_TYPES: readonly DnsRecordType[] = ['A', 'AAAA', 'CNAME', 'MX', 'TXT', 'NS', 'SOA'];

export interface DnsSpec {
  name: string;
  record_type: DnsRecordType;
  resolver?: Resolver;
  expected_answers?: string[];
  timeout_ms?: number;
}

export interface TlsSpec {
  host: string;
  port?: number;
  sni?: string;
  warn_days?: number;
  timeout_ms?: number;
}

export type CheckSpec =
  | ({ kind: 'http' } & HttpSpec)
  | ({ kind: 'tcp' } & TcpSpec)
  | ({ kind: 'dns' } & DnsSpec)
  | ({ kind: 'tls' } & TlsSpec);

// ---------------------------------------------------------------------------------------------
// CheckResult
// ---------------------------------------------------------------------------------------------

export type Outcome = 'up' | 'degraded' | 'down';

export type FailureKind =
  | 'dns_nxdomain'
  | 'dns_servfail'
  | 'dns_timeout'
  | 'dns_no_records'
  | 'dns_unexpected_answer'
  | 'dns_error'
  | 'connect_refused'
  | 'connect_timeout'
  | 'connect_error'
  | 'tls_expired'
  | 'tls_not_yet_valid'
  | 'tls_untrusted'
  | 'tls_hostname'
  | 'tls_expiring'
  | 'tls_handshake'
  | 'http_status'
  | 'http_protocol'
  | 'assertion_failed'
  | 'redirect_loop'
  | 'too_many_redirects'
  | 'insecure_redirect'
  | 'unexpected_final_url'
  | 'slow_response'
  | 'banner_mismatch'
  | 'timeout'
  | 'blocked_address'
  | 'internal'
  | 'other';

export type Phase = 'dns' | 'connect' | 'tls' | 'ttfb' | 'transfer' | 'redirect' | 'validation' | 'setup';

export interface Failure {
  kind: FailureKind;
  phase: Phase;
  message: string;
}

export interface PhaseTimings {
  dns_ms?: number;
  connect_ms?: number;
  tls_ms?: number;
  ttfb_ms?: number;
  transfer_ms?: number;
}

export interface HttpHop {
  url: string;
  status?: number;
  resolved_ip?: string;
  location?: string;
  http_version?: string;
  timings: PhaseTimings;
}

export interface TlsInfo {
  subject: string;
  issuer: string;
  sans: string[];
  not_before: Timestamp;
  not_after: Timestamp;
  days_left: number;
  fingerprint_sha256: string;
  version?: string;
  cipher?: string;
  chain_valid: boolean;
  hostname_matches: boolean;
  validation_error?: string;
}

export interface DnsAnswer {
  record_type: string;
  value: string;
  ttl: number;
}

export interface DnsInfo {
  rcode?: string;
  resolver: string;
  answers: DnsAnswer[];
  duration_ms: number;
}

export interface CheckResult {
  result_id: Uuid;
  job_id: Uuid;
  target_id: Uuid;
  region: string;
  pinger_id: string;
  check_kind: CheckKind;
  started_at: Timestamp;
  finished_at: Timestamp;
  duration_ms: number;
  outcome: Outcome;
  failure?: Failure;
  status_code?: number;
  hops?: HttpHop[];
  resolved_ip?: string;
  tls?: TlsInfo;
  dns?: DnsInfo;
  banner?: string;
  body_excerpt?: string;
  probe_degraded?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Incidents and reports
// ---------------------------------------------------------------------------------------------

export type IncidentEventKind = 'opened' | 'resolved' | 'cert_expiring' | 'flapping' | 'probe_degraded';

export interface ReportClaim {
  text: string;
  result_ids: Uuid[];
}

export interface IncidentReport {
  incident_id: Uuid;
  event_kind: IncidentEventKind;
  language: string;
  summary: string;
  probable_cause: string;
  impact: string;
  recommended_actions: string[];
  /** `llm:<model>` or `rules`. */
  source: string;
  claims?: ReportClaim[];
  generated_at: Timestamp;
}

export interface Evidence {
  results?: CheckResult[];
  last_good?: CheckResult;
  baseline_latency_ms?: number;
  failure_kinds_by_region?: Record<string, FailureKind[]>;
  certificate?: TlsInfo;
  threshold_days?: number;
}

// ---------------------------------------------------------------------------------------------
// Targets and history
// ---------------------------------------------------------------------------------------------

export type TargetStatus = 'unknown' | 'up' | 'pending' | 'degraded' | 'down' | 'flapping' | 'paused';
export const TARGET_STATUSES: readonly TargetStatus[] = ['up', 'degraded', 'down', 'paused', 'pending', 'flapping', 'unknown'];

export type TargetSort = 'name' | 'status' | 'changed';
export type SortOrder = 'asc' | 'desc';

export interface TargetQuery {
  status?: TargetStatus | '';
  tag?: string;
  q?: string;
  sort?: TargetSort;
  order?: SortOrder;
  limit?: number;
  cursor?: string | null;
}

/** `?step=` of the latency series. */
export type LatencyStep = '60s' | '5m' | '1h' | '1d';

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

export type ErrorCode =
  | 'validation'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';

