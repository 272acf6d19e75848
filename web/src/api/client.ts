// The one typed client of the REST API (docs/API.md). Every call goes through `request`, which
// sends the session cookie, parses `{error: {code, message, field}}` into an `ApiError` and
// lets the app react to 401 in one place.

import type {
  AckInfo,
  BaselineBand,
  AuditPage,
  IncidentGroup,
  IncidentGroupList,
  TagDependency,
  TagDependencyList,
  CreatedInvitation,
  Invitation,
  InvitationPreview,
  Member,
  Membership,
  Organisation,
  OrganisationPatch,
  AdminUser,
  AdminUserPatch,
  ApiToken,
  Channel,
  ChannelKindInfo,
  ChannelPatch,
  ChannelTestResult,
  CheckResult,
  CreatedToken,
  Credentials,
  DailyUptime,
  EscalationPolicy,
  EscalationPolicyBody,
  ErrorBody,
  ImportDocument,
  ImportSummary,
  Incident,
  LatencySeries,
  Language,
  LoginAnswer,
  RecoveryCodes,
  SecondFactor,
  TwoFactorCode,
  TwoFactorDisable,
  TwoFactorEnabled,
  TwoFactorSetup,
  TwoFactorStatus,
  LatencyStep,
  NewChannel,
  NewEmailChannel,
  NewToken,
  PasswordChange,
  MaintenanceWindow,
  Me,
  Page,
  PingList,
  PublicStatus,
  ServerConfig,
  Settings,
  Sparklines,
  StatusPage,
  StatusPageInput,
  Target,
  TargetInput,
  TargetChannels,
  TargetOverview,
  RowUptimes,
  TargetQuery,
  TelegramLink,
  TokenScope,
  UpdateMe,
  UptimeSummary,
  User,
  Uuid,
} from './model';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  get isValidation(): boolean {
    return this.status === 422 || this.code === 'validation';
  }
}

export type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

type Query = Record<string, string | number | boolean | null | undefined>;

/** Builds `?a=1&b=2`, leaving out empty values. */
export function queryString(q: Query): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null || v === '') continue;
    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

const seg = encodeURIComponent;

export interface ClientOptions {
  base?: string;
  fetch?: Fetch;
  onUnauthorized?: () => void;
  /** Every 403 with its message (the shell shows "enable two-factor sign-in" when an organisation requires it). */
  onForbidden?: (message: string) => void;
}

export class ApiClient {
  private readonly base: string;
  private readonly fetchFn: Fetch;
  onUnauthorized: (() => void) | undefined;
  onForbidden: ((message: string) => void) | undefined;

  constructor(opts: ClientOptions = {}) {
    this.base = opts.base ?? '';
    this.fetchFn = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.onUnauthorized = opts.onUnauthorized;
    this.onForbidden = opts.onForbidden;
  }

  async request<T>(method: string, path: string, body?: unknown, init: RequestInit = {}): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    let payload: BodyInit | undefined;
    if (typeof body === 'string') {
      payload = body;
      headers['content-type'] = (init.headers as Record<string, string> | undefined)?.['content-type'] ?? 'text/plain';
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    } else if (method !== 'GET' && method !== 'HEAD') {
      // The backend refuses cookie-authenticated writes of any other type (a cross-site form
      // cannot send this one), also when they carry no body.
      headers['content-type'] = 'application/json';
    }
    let res: Response;
    try {
      res = await this.fetchFn(this.base + path, {
        ...init,
        method,
        headers: { ...headers, ...((init.headers as Record<string, string>) ?? {}) },
        body: payload ?? null,
        credentials: 'same-origin',
      });
    } catch (e) {
      throw new ApiError(0, 'network', e instanceof Error ? e.message : String(e));
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    if (!res.ok) {
      throw parseError(res, text, path, this.onUnauthorized, this.onForbidden);
    }
    if (!text) return undefined as T;
    const type = res.headers.get('content-type') ?? '';
    if (type.includes('json') || text.startsWith('{') || text.startsWith('[')) {
      return JSON.parse(text) as T;
    }
    return text as unknown as T;
  }

  // Accounts -----------------------------------------------------------------------------------
  config(): Promise<ServerConfig> {
    return this.request('GET', '/api/config');
  }
  register(email: string, password: string): Promise<User> {
    const body: Credentials = { email, password };
    return this.request('POST', '/api/auth/register', body);
  }
  /**
   * Logs in. An account with two-factor sign-in answers a challenge and no session: the caller
   * continues with {@link loginSecondFactor}.
   */
  login(email: string, password: string): Promise<LoginAnswer> {
    const body: Credentials = { email, password };
    return this.request('POST', '/api/auth/login', body);
  }
  /** The login's second step: the challenge and a code or a recovery code (401 names the field at fault). */
  loginSecondFactor(body: SecondFactor): Promise<User> {
    return this.request('POST', '/api/auth/login/2fa', body);
  }
  twoFactorStatus(): Promise<TwoFactorStatus> {
    return this.request('GET', '/api/account/2fa');
  }
  /** A new pending secret with its otpauth URL and QR code (shown only here; 409 when enabled). */
  twoFactorSetup(): Promise<TwoFactorSetup> {
    return this.request('POST', '/api/account/2fa/setup');
  }
  /** Enables it with a first code (422 `field: code`); the 10 recovery codes, shown only here. */
  twoFactorEnable(code: string): Promise<TwoFactorEnabled> {
    const body: TwoFactorCode = { code };
    return this.request('POST', '/api/account/2fa/enable', body);
  }
  /** New recovery codes for a current code; the old ones stop working. */
  regenerateRecoveryCodes(code: string): Promise<RecoveryCodes> {
    const body: TwoFactorCode = { code };
    return this.request('POST', '/api/account/2fa/recovery-codes', body);
  }
  /** Turns it off (the password and a code or a recovery code; 401 `field: password`). */
  twoFactorDisable(body: TwoFactorDisable): Promise<void> {
    return this.request('POST', '/api/account/2fa/disable', body);
  }
  logout(): Promise<void> {
    return this.request('POST', '/api/auth/logout');
  }
  me(): Promise<Me> {
    return this.request('GET', '/api/auth/me');
  }
  setLanguage(language: Language): Promise<User> {
    const body: UpdateMe = { language };
    return this.request('PATCH', '/api/auth/me', body);
  }
  changePassword(current_password: string, new_password: string): Promise<void> {
    const body: PasswordChange = { current_password, new_password };
    return this.request('POST', '/api/auth/password', body);
  }
  tokens(): Promise<Page<ApiToken>> {
    return this.request<Page<ApiToken> | ApiToken[]>('GET', '/api/tokens').then(asPage);
  }
  createToken(name: string, scope: TokenScope): Promise<CreatedToken> {
    const body: NewToken = { name, scope };
    return this.request('POST', '/api/tokens', body);
  }
  deleteToken(id: Uuid): Promise<void> {
    return this.request('DELETE', `/api/tokens/${seg(id)}`);
  }
  adminSettings(registration_open: boolean): Promise<void> {
    const body: Settings = { registration_open };
    return this.request('PUT', '/api/admin/settings', body);
  }
  adminUsers(q: { limit?: number; cursor?: string | null } = {}): Promise<Page<AdminUser>> {
    return this.request('GET', `/api/admin/users${queryString(q)}`);
  }
  updateAdminUser(id: Uuid, patch: AdminUserPatch): Promise<AdminUser> {
    return this.request('PATCH', `/api/admin/users/${seg(id)}`, patch);
  }

  // Organisations ------------------------------------------------------------------------------
  /** The caller's organisations, personal first; `current` marks the one the session works in. */
  organisations(): Promise<Page<Membership>> {
    return this.request('GET', '/api/organisations');
  }
  /** A new team organisation with the caller as its owner (not switched to). */
  createOrganisation(name: string): Promise<Membership> {
    return this.request('POST', '/api/organisations', { name });
  }
  switchOrganisation(organisation_id: Uuid): Promise<Membership> {
    return this.request('PUT', '/api/session/organisation', { organisation_id });
  }
  organisation(): Promise<Organisation> {
    return this.request('GET', '/api/organisation');
  }
  updateOrganisation(patch: OrganisationPatch): Promise<Organisation> {
    return this.request('PATCH', '/api/organisation', patch);
  }
  deleteOrganisation(): Promise<void> {
    return this.request('DELETE', '/api/organisation');
  }
  transferOrganisation(user_id: Uuid): Promise<Organisation> {
    return this.request('POST', '/api/organisation/transfer', { user_id });
  }
  members(): Promise<Page<Member>> {
    return this.request('GET', '/api/organisation/members');
  }
  setMemberRole(user_id: Uuid, role: Member['role']): Promise<Member> {
    return this.request('PATCH', `/api/organisation/members/${seg(user_id)}`, { role });
  }
  /** Removes a member (admin+), or the caller themselves: leaving. */
  removeMember(user_id: Uuid): Promise<void> {
    return this.request('DELETE', `/api/organisation/members/${seg(user_id)}`);
  }
  invitations(): Promise<Page<Invitation>> {
    return this.request('GET', '/api/organisation/invitations');
  }
  invite(email: string, role: Member['role']): Promise<CreatedInvitation> {
    return this.request('POST', '/api/organisation/invitations', { email, role });
  }
  revokeInvitation(id: Uuid): Promise<void> {
    return this.request('DELETE', `/api/organisation/invitations/${seg(id)}`);
  }
  /** What an invitation link offers (404 unknown or used, 410 expired). */
  invitation(token: string): Promise<InvitationPreview> {
    return this.request('GET', `/api/invitations/${seg(token)}`);
  }
  /** Joins (403 another email's, 409 a member already); the session then works in that organisation. */
  acceptInvitation(token: string): Promise<Membership> {
    return this.request('POST', `/api/invitations/${seg(token)}/accept`);
  }
  audit(q: Record<string, string | number>): Promise<AuditPage> {
    return this.request('GET', `/api/organisation/audit${queryString(q)}`);
  }

  // Targets ------------------------------------------------------------------------------------
  targets(q: TargetQuery = {}, init?: RequestInit): Promise<Page<Target>> {
    return this.request<Page<Target>>('GET', `/api/targets${queryString({ ...q })}`, undefined, init);
  }
  target(id: Uuid): Promise<Target> {
    return this.request('GET', `/api/targets/${seg(id)}`);
  }
  createTarget(input: TargetInput): Promise<Target> {
    return this.request('POST', '/api/targets', input);
  }
  updateTarget(id: Uuid, input: TargetInput): Promise<Target> {
    return this.request('PUT', `/api/targets/${seg(id)}`, input);
  }
  deleteTarget(id: Uuid): Promise<void> {
    return this.request('DELETE', `/api/targets/${seg(id)}`);
  }
  testSpec(input: TargetInput): Promise<CheckResult> {
    return this.request('POST', '/api/targets/test', input);
  }
  testTarget(id: Uuid): Promise<CheckResult> {
    return this.request('POST', `/api/targets/${seg(id)}/test`);
  }
  /** A heartbeat's last pings, newest first (`limit` 1–100, default 20). */
  pings(id: Uuid, limit = 20, init?: RequestInit): Promise<PingList> {
    return this.request('GET', `/api/targets/${seg(id)}/pings${queryString({ limit })}`, undefined, init);
  }
  /** A heartbeat with a new ping URL: the old one stops working (the slug URL, by the account's ping key, stays). */
  rotatePingToken(id: Uuid): Promise<Target> {
    return this.request('POST', `/api/targets/${seg(id)}/ping-token`);
  }
  exportUrl(format: 'yaml' | 'json'): string {
    return `${this.base}/api/targets/export${queryString({ format })}`;
  }
  exportTargets(format: 'yaml' | 'json'): Promise<string> {
    return this.request<unknown>('GET', `/api/targets/export${queryString({ format })}`).then((v) =>
      typeof v === 'string' ? v : JSON.stringify(v, null, 2),
    );
  }
  importTargets(doc: string | ImportDocument, format: 'yaml' | 'json'): Promise<ImportSummary> {
    const text = typeof doc === 'string' ? doc : JSON.stringify(doc);
    const type = format === 'yaml' ? 'application/yaml' : 'application/json';
    return this.request('POST', '/api/targets/import', text, { headers: { 'content-type': type } });
  }

  // History ------------------------------------------------------------------------------------
  overview(id: Uuid, init?: RequestInit): Promise<TargetOverview> {
    return this.request('GET', `/api/targets/${seg(id)}/overview`, undefined, init);
  }
  results(id: Uuid, q: { from?: string; to?: string; limit?: number; cursor?: string | null } = {}): Promise<Page<CheckResult>> {
    return this.request('GET', `/api/targets/${seg(id)}/results${queryString(q)}`);
  }
  uptime(id: Uuid, from: string, to: string): Promise<UptimeSummary> {
    return this.request('GET', `/api/targets/${seg(id)}/uptime${queryString({ from, to })}`);
  }
  dailyUptime(id: Uuid, days = 90): Promise<{ days: DailyUptime[] }> {
    return this.request('GET', `/api/targets/${seg(id)}/uptime/daily${queryString({ days })}`);
  }
  latency(id: Uuid, from: string, to: string, step: LatencyStep): Promise<LatencySeries> {
    return this.request('GET', `/api/targets/${seg(id)}/latency${queryString({ from, to, step })}`);
  }
  baseline(id: Uuid): Promise<BaselineBand> {
    return this.request('GET', `/api/targets/${seg(id)}/baseline`);
  }
  targetIncidents(id: Uuid): Promise<Page<Incident>> {
    return this.request<Page<Incident> | Incident[]>('GET', `/api/targets/${seg(id)}/incidents`).then(asPage);
  }
  sparklines(ids: Uuid[], init?: RequestInit): Promise<Sparklines> {
    return this.request('GET', `/api/overview/sparklines${queryString({ ids: ids.join(',') })}`, undefined, init);
  }
  rowUptimes(ids: Uuid[], init?: RequestInit): Promise<RowUptimes> {
    return this.request('GET', `/api/overview/uptime${queryString({ ids: ids.join(',') })}`, undefined, init);
  }

  // Incidents ----------------------------------------------------------------------------------
  incidents(q: { status?: 'open' | 'resolved' | ''; target_id?: Uuid; limit?: number; cursor?: string | null } = {}): Promise<Page<Incident>> {
    return this.request('GET', `/api/incidents${queryString(q)}`);
  }
  incident(id: Uuid): Promise<Incident> {
    return this.request('GET', `/api/incidents/${seg(id)}`);
  }
  incidentGroup(id: Uuid): Promise<IncidentGroup> {
    return this.request('GET', `/api/incident-groups/${seg(id)}`);
  }
  /** The organisation's group incidents, newest first (keyset pages of at most 100). */
  incidentGroups(q: { state?: 'open' | 'resolved' | 'all'; limit?: number; cursor?: string | null } = {}, init: RequestInit = {}): Promise<IncidentGroupList> {
    return this.request('GET', `/api/incident-groups${queryString(q)}`, undefined, init);
  }
  /** The tags with dependencies, by tag. */
  tagDependencies(): Promise<TagDependencyList> {
    return this.request('GET', '/api/tag-dependencies');
  }
  /** Replaces a tag's dependencies (`[]` removes them); 422 names `tag` or `depends_on` (a cycle in the message). */
  setTagDependencies(body: TagDependency): Promise<TagDependency> {
    return this.request('PUT', '/api/tag-dependencies', body);
  }
  acknowledge(id: Uuid): Promise<Incident> {
    return this.request('POST', `/api/incidents/${seg(id)}/ack`);
  }
  addNote(id: Uuid, text: string): Promise<Incident> {
    return this.request('POST', `/api/incidents/${seg(id)}/notes`, { text });
  }

  // Maintenance --------------------------------------------------------------------------------
  maintenance(): Promise<Page<MaintenanceWindow>> {
    return this.request<Page<MaintenanceWindow> | MaintenanceWindow[]>('GET', '/api/maintenance').then(asPage);
  }
  createMaintenance(w: Omit<MaintenanceWindow, 'id'>): Promise<MaintenanceWindow> {
    return this.request('POST', '/api/maintenance', w);
  }
  deleteMaintenance(id: Uuid): Promise<void> {
    return this.request('DELETE', `/api/maintenance/${seg(id)}`);
  }

  // Notification channels ----------------------------------------------------------------------
  channels(): Promise<Page<Channel>> {
    return this.request<Page<Channel> | Channel[]>('GET', '/api/channels').then(asPage);
  }
  linkTelegram(): Promise<TelegramLink> {
    return this.request('POST', '/api/channels/telegram/link');
  }
  addEmail(address: string): Promise<Channel> {
    const body: NewEmailChannel = { address };
    return this.request('POST', '/api/channels/email', body);
  }
  /** The kinds this backend serves and the secrets each takes. */
  channelKinds(): Promise<ChannelKindInfo[]> {
    return this.request('GET', '/api/channels/kinds');
  }
  /** A channel of an HTTP kind (webhook, Slack, … Matrix); 422 names the field at fault. */
  createChannel(body: NewChannel): Promise<Channel> {
    return this.request('POST', '/api/channels', body);
  }
  deleteChannel(id: Uuid): Promise<void> {
    return this.request('DELETE', `/api/channels/${seg(id)}`);
  }
  updateChannel(id: Uuid, patch: ChannelPatch): Promise<Channel> {
    return this.request('PATCH', `/api/channels/${seg(id)}`, patch);
  }
  /** Sends a test message (429 with Retry-After within 10 s of the last, 503 when the notifier is silent). */
  testChannel(id: Uuid): Promise<ChannelTestResult> {
    return this.request('POST', `/api/channels/${seg(id)}/test`);
  }
  targetChannels(id: Uuid): Promise<TargetChannels> {
    return this.request('GET', `/api/targets/${seg(id)}/channels`);
  }
  setTargetChannels(id: Uuid, channel_ids: Uuid[]): Promise<TargetChannels> {
    const body: TargetChannels = { channel_ids };
    return this.request('PUT', `/api/targets/${seg(id)}/channels`, body);
  }

  // Escalation policies ------------------------------------------------------------------------
  escalationPolicies(): Promise<EscalationPolicy[]> {
    return this.request<Page<EscalationPolicy> | EscalationPolicy[]>('GET', '/api/escalation-policies')
      .then(asPage)
      .then((p) => p.items);
  }
  escalationPolicy(id: Uuid): Promise<EscalationPolicy> {
    return this.request('GET', `/api/escalation-policies/${seg(id)}`);
  }
  /** 422 names the field at fault (`steps[1].after_minutes`). */
  createEscalationPolicy(body: EscalationPolicyBody): Promise<EscalationPolicy> {
    return this.request('POST', '/api/escalation-policies', body);
  }
  updateEscalationPolicy(id: Uuid, body: EscalationPolicyBody): Promise<EscalationPolicy> {
    return this.request('PUT', `/api/escalation-policies/${seg(id)}`, body);
  }
  deleteEscalationPolicy(id: Uuid): Promise<void> {
    return this.request('DELETE', `/api/escalation-policies/${seg(id)}`);
  }

  // Acknowledgement links (no session needed) --------------------------------------------------
  /** What the link names; changes nothing (404 invalid, 410 expired, 429 too many). */
  ackInfo(token: string): Promise<AckInfo> {
    return this.request('GET', `/api/ack/${seg(token)}`);
  }
  /** Acknowledges the incident the link names. */
  acknowledgeByLink(token: string): Promise<AckInfo> {
    return this.request('POST', `/api/ack/${seg(token)}`);
  }

  // Status pages and badges --------------------------------------------------------------------
  statusPages(): Promise<Page<StatusPage>> {
    return this.request<Page<StatusPage> | StatusPage[]>('GET', '/api/status-pages').then(asPage);
  }
  statusPage(id: Uuid): Promise<StatusPage> {
    return this.request('GET', `/api/status-pages/${seg(id)}`);
  }
  createStatusPage(input: StatusPageInput): Promise<StatusPage> {
    return this.request('POST', '/api/status-pages', input);
  }
  updateStatusPage(id: Uuid, input: StatusPageInput): Promise<StatusPage> {
    return this.request('PUT', `/api/status-pages/${seg(id)}`, input);
  }
  deleteStatusPage(id: Uuid): Promise<void> {
    return this.request('DELETE', `/api/status-pages/${seg(id)}`);
  }
  publicStatus(slug: string): Promise<PublicStatus> {
    return this.request('GET', `/status/${seg(slug)}`);
  }
  badgeToken(id: Uuid): Promise<{ token: string }> {
    return this.request('POST', `/api/targets/${seg(id)}/badge-token`);
  }
}

/** Lists are `{items, total, next_cursor}`; a bare array is accepted too, to be lenient. */
export function asPage<T>(v: Page<T> | T[]): Page<T> {
  if (Array.isArray(v)) return { items: v, total: v.length, next_cursor: null };
  return v;
}

function parseError(res: Response, text: string, path: string, onUnauthorized?: () => void, onForbidden?: (message: string) => void): ApiError {
  let code = statusCode(res.status);
  let message = res.statusText || `HTTP ${res.status}`;
  let field: string | undefined;
  try {
    // Every failure is the document's `ErrorBody`: `{error: {code, message, field?}}`.
    const body = JSON.parse(text) as Partial<ErrorBody> | null;
    const error = body?.error;
    if (error && typeof error === 'object') {
      code = error.code ?? code;
      message = error.message ?? message;
      field = error.field ?? undefined;
    }
  } catch {
    if (text && text.length < 300) message = text;
  }
  const ra = res.headers.get('retry-after');
  const retryAfter = ra && /^\d+$/.test(ra) ? Number(ra) : undefined;
  // A 401 that names a field (a wrong password or code) is about the input, not the session.
  if (res.status === 401 && onUnauthorized && !path.startsWith('/api/auth/') && !field) onUnauthorized();
  if (res.status === 403 && onForbidden) onForbidden(message);
  return new ApiError(res.status, code, message, field, retryAfter);
}

function statusCode(status: number): string {
  switch (status) {
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 409:
      return 'conflict';
    case 422:
      return 'validation';
    case 429:
      return 'rate_limited';
    case 503:
    case 504:
      return 'unavailable';
    default:
      return 'internal';
  }
}

export const api = new ApiClient();
