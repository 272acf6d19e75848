// The add/edit channel form as plain data: the fields of every kind in one table, drafts (the
// text typed), validation mirroring the backend's limits and keyed by the field paths the API
// names in `error.field` (`settings.url`, `secrets.token`, `routing.quiet_hours.start`…), and the
// POST / PATCH bodies. Secrets are write-only: a stored one shows as "set" and is sent only when
// replaced (its new value) or removed (null).

import {
  FORM_KINDS,
  ROUTED_EVENTS,
  type Channel,
  type ChannelKind,
  type ChannelPatch,
  type ChannelSettings,
  type ChannelTestResult,
  type FormKind,
  type NewChannel,
  type RoutedEvent,
  type Routing,
  type SettingValue,
  type Severity,
} from '../api/model';
import { splitList } from '../format';
import type { MessageKey } from '../i18n';
import type { PluralKey } from '../plural';

/** The backend's limits (crates/channels `limits`, `routing`, and the channel label). */
export const LIMITS = {
  url: 2048,
  short: 256,
  secret: 4096,
  template: 16 * 1024,
  headers: 20,
  tags: 20,
  label: 100,
  routingTags: 50,
  routingTag: 64,
} as const;

/** How a setting is typed: a URL, a line, a text block, a whole number, one of a list, a tag list. */
export type FieldType = 'url' | 'text' | 'textarea' | 'int' | 'choice' | 'tags';

/** One setting of a kind (not secret; the API returns it as stored). */
export interface SettingSpec {
  name: string;
  type: FieldType;
  label: MessageKey;
  required?: boolean;
  /** `int`: the range. */
  min?: number;
  max?: number;
  /** `choice`: the values. */
  options?: readonly string[];
  placeholder?: string;
}

/** One secret of a kind (write-only). */
export interface SecretSpec {
  name: string;
  label: MessageKey;
  required: boolean;
  /** The secret is a URL (a chat service's incoming webhook). */
  url?: boolean;
  placeholder?: string;
}

/** The form of one kind. */
export interface KindSpec {
  settings: readonly SettingSpec[];
  secrets: readonly SecretSpec[];
  /** Custom request headers, each a secret named `header:<Name>` (webhook). */
  headers?: boolean;
}

const webhookUrl = (required: boolean): SecretSpec => ({ name: 'url', label: 'chan.field.webhookUrl', required, url: true, placeholder: 'https://' });

/** Every form kind's settings and secrets, in the order the form shows them. */
export const KIND_FIELDS: Record<FormKind, KindSpec> = {
  webhook: {
    settings: [
      { name: 'url', type: 'url', label: 'chan.field.url', required: true, placeholder: 'https://example.com/hooks/pingtower' },
      { name: 'content_type', type: 'text', label: 'chan.field.content_type', placeholder: 'application/json' },
      { name: 'template', type: 'textarea', label: 'chan.field.template' },
    ],
    secrets: [{ name: 'secret', label: 'chan.field.signingSecret', required: false }],
    headers: true,
  },
  slack: { settings: [], secrets: [webhookUrl(true)] },
  mattermost: {
    settings: [
      { name: 'channel', type: 'text', label: 'chan.field.channel', placeholder: 'town-square' },
      { name: 'username', type: 'text', label: 'chan.field.username', placeholder: 'PingTower' },
      { name: 'icon_url', type: 'url', label: 'chan.field.icon_url' },
    ],
    secrets: [webhookUrl(true)],
  },
  discord: { settings: [], secrets: [webhookUrl(true)] },
  teams: { settings: [], secrets: [webhookUrl(true)] },
  google_chat: { settings: [], secrets: [webhookUrl(true)] },
  ntfy: {
    settings: [
      { name: 'url', type: 'url', label: 'chan.field.topicUrl', required: true, placeholder: 'https://ntfy.sh/my-alerts' },
      { name: 'priority', type: 'int', label: 'chan.field.priority', min: 1, max: 5 },
      { name: 'tags', type: 'tags', label: 'chan.field.tags' },
    ],
    secrets: [{ name: 'token', label: 'chan.field.accessToken', required: false }],
  },
  gotify: {
    settings: [
      { name: 'url', type: 'url', label: 'chan.field.serverUrl', required: true, placeholder: 'https://gotify.example.com' },
      { name: 'priority', type: 'int', label: 'chan.field.priority', min: 0, max: 10 },
    ],
    secrets: [{ name: 'token', label: 'chan.field.appToken', required: true }],
  },
  pushover: {
    settings: [
      { name: 'device', type: 'text', label: 'chan.field.device' },
      { name: 'sound', type: 'text', label: 'chan.field.sound' },
      { name: 'priority', type: 'int', label: 'chan.field.priority', min: -2, max: 2 },
      { name: 'api_url', type: 'url', label: 'chan.field.apiUrl', placeholder: 'https://api.pushover.net/1/messages.json' },
    ],
    secrets: [
      { name: 'token', label: 'chan.field.appToken', required: true },
      { name: 'user_key', label: 'chan.field.userKey', required: true },
    ],
  },
  pagerduty: {
    settings: [
      { name: 'source', type: 'text', label: 'chan.field.source', placeholder: 'pingtower' },
      { name: 'events_url', type: 'url', label: 'chan.field.eventsUrl', placeholder: 'https://events.pagerduty.com/v2/enqueue' },
    ],
    secrets: [{ name: 'routing_key', label: 'chan.field.routingKey', required: true }],
  },
  opsgenie: {
    settings: [
      { name: 'priority', type: 'choice', label: 'chan.field.priority', options: ['P1', 'P2', 'P3', 'P4', 'P5'] },
      { name: 'tags', type: 'tags', label: 'chan.field.tags' },
      { name: 'api_url', type: 'url', label: 'chan.field.apiUrl', placeholder: 'https://api.opsgenie.com/v2/alerts' },
    ],
    secrets: [{ name: 'api_key', label: 'chan.field.apiKey', required: true }],
  },
  matrix: {
    settings: [
      { name: 'homeserver', type: 'url', label: 'chan.field.homeserver', required: true, placeholder: 'https://matrix.org' },
      { name: 'room_id', type: 'text', label: 'chan.field.roomId', required: true, placeholder: '!abc:matrix.org' },
    ],
    secrets: [{ name: 'access_token', label: 'chan.field.accessToken', required: true }],
  },
};

const NO_FIELDS: KindSpec = { settings: [], secrets: [] };

/** Whether `kind` is configured by this form (not Telegram or email). */
export function isFormKind(kind: string): kind is FormKind {
  return (FORM_KINDS as readonly string[]).includes(kind);
}

/** The fields of `kind` (none for Telegram and email: their form holds the label and routing only). */
export function kindSpec(kind: string): KindSpec {
  return isFormKind(kind) ? KIND_FIELDS[kind] : NO_FIELDS;
}

/**
 * The kinds "Add channel" offers: the form's, in its order, less those the backend does not list
 * (`GET /api/channels/kinds`; a kind this build has no form for is left out).
 */
export function offeredKinds(server: readonly { kind: string }[] | undefined): FormKind[] {
  if (!server) return [...FORM_KINDS];
  const served = new Set(server.map((k) => k.kind));
  return FORM_KINDS.filter((k) => served.has(k));
}

// Drafts ---------------------------------------------------------------------------------------

/** What happens to a secret: `keep` the stored value, `set` the one typed, `remove` it. */
export type SecretAction = 'keep' | 'set' | 'remove';

/** A secret input: `stored` says one is set (shown as "set" with Replace), never its value. */
export interface SecretDraft {
  stored: boolean;
  action: SecretAction;
  value: string;
}

/** A webhook header row; a stored one keeps its name (remove it and add another to rename). */
export interface HeaderDraft extends SecretDraft {
  name: string;
}

/** The routing editor's inputs (tags as the comma-separated text typed). */
export interface RoutingDraft {
  events: RoutedEvent[];
  minSeverity: Severity;
  tagsInclude: string;
  tagsExclude: string;
  quiet: boolean;
  quietStart: string;
  quietEnd: string;
  timezone: string;
}

export interface ChannelDraft {
  kind: ChannelKind;
  label: string;
  /** Each setting's text, by name. */
  settings: Record<string, string>;
  /** Each secret of the kind, by name. */
  secrets: Record<string, SecretDraft>;
  headers: HeaderDraft[];
  routing: RoutingDraft;
}

/** The prefix of a webhook header's secret name. */
export const HEADER_PREFIX = 'header:';

/** The text an input shows for a stored setting. */
export function settingText(v: SettingValue | undefined): string {
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.join(', ');
  return String(v);
}

/**
 * The routing editor's state for `r`. An absent field takes the API's default: every event,
 * `info`, no tags, no quiet hours, and UTC for quiet hours without a time zone; `timezone` is
 * only the zone offered when quiet hours are first ticked.
 */
export function routingDraft(r?: Routing | null, timezone = 'UTC'): RoutingDraft {
  const events = r?.events;
  const quiet = r?.quiet_hours;
  return {
    events: events ? ROUTED_EVENTS.filter((e) => events.includes(e)) : [...ROUTED_EVENTS],
    minSeverity: r?.min_severity ?? 'info',
    tagsInclude: (r?.tags_include ?? []).join(', '),
    tagsExclude: (r?.tags_exclude ?? []).join(', '),
    quiet: Boolean(quiet),
    quietStart: quiet?.start ?? '22:00',
    quietEnd: quiet?.end ?? '08:00',
    timezone: quiet ? (quiet.timezone ?? 'UTC') : timezone,
  };
}

/** `d` with `event` ticked (`on`) or not, the events kept in their canonical order. */
export function toggleEvent(d: RoutingDraft, event: RoutedEvent, on: boolean): RoutingDraft {
  const set = new Set(d.events);
  if (on) set.add(event);
  else set.delete(event);
  return { ...d, events: ROUTED_EVENTS.filter((e) => set.has(e)) };
}

/** A blank form for a new channel of `kind`; quiet hours default to the browser's time zone. */
export function emptyDraft(kind: FormKind, timezone = 'UTC'): ChannelDraft {
  const spec = KIND_FIELDS[kind];
  return {
    kind,
    label: '',
    settings: Object.fromEntries(spec.settings.map((f) => [f.name, ''])),
    secrets: Object.fromEntries(spec.secrets.map((s) => [s.name, { stored: false, action: 'set' as const, value: '' }])),
    headers: [],
    routing: routingDraft(null, timezone),
  };
}

/** The form for editing `ch`: its settings as text, its secrets as "set" or not, never a value. */
export function draftFromChannel(ch: Channel, timezone = 'UTC'): ChannelDraft {
  const spec = kindSpec(ch.kind);
  const stored = new Set(ch.secrets ?? []);
  const secret = (name: string): SecretDraft =>
    stored.has(name) ? { stored: true, action: 'keep', value: '' } : { stored: false, action: 'set', value: '' };
  return {
    kind: ch.kind,
    label: ch.label ?? '',
    settings: Object.fromEntries(spec.settings.map((f) => [f.name, settingText(ch.settings?.[f.name])])),
    secrets: Object.fromEntries(spec.secrets.map((s) => [s.name, secret(s.name)])),
    headers: spec.headers
      ? [...stored]
          .filter((n) => n.startsWith(HEADER_PREFIX))
          .sort()
          .map((n) => ({ name: n.slice(HEADER_PREFIX.length), stored: true, action: 'keep' as const, value: '' }))
      : [],
    routing: routingDraft(ch.routing, timezone),
  };
}

// Validation -----------------------------------------------------------------------------------

/** A message: a translated one (`key`), one with a count (`plural`), or the API's own `text`. */
export type Msg = { key: MessageKey; vars?: Record<string, string | number> } | { plural: PluralKey; n: number } | { text: string };

/** Errors keyed by the API's field path (`settings.url`), `headers.<i>` for a header row. */
export type FieldErrors = Record<string, Msg>;

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;

/** Why `text` is not an http(s) URL of at most {@link LIMITS.url} characters, or null. */
export function urlProblem(text: string): Msg | null {
  if (text.length > LIMITS.url) return { plural: 'maxChars', n: LIMITS.url };
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return { key: 'valid.url' };
  }
  return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname ? null : { key: 'valid.url' };
}

/** Whether `tz` is an IANA time zone this browser knows. */
export function isTimeZone(tz: string): boolean {
  if (!tz || tz.length > LIMITS.short) return false;
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function settingProblem(f: SettingSpec, raw: string): Msg | null {
  const text = f.type === 'textarea' ? raw : raw.trim();
  if (text.trim() === '') return f.required ? { key: 'valid.required' } : null;
  switch (f.type) {
    case 'url':
      return urlProblem(text);
    case 'int': {
      const n = Number(text);
      const ok = /^-?\d+$/.test(text) && n >= (f.min ?? -Infinity) && n <= (f.max ?? Infinity);
      return ok ? null : { key: 'chan.valid.range', vars: { min: f.min ?? '', max: f.max ?? '' } };
    }
    case 'choice':
      return (f.options ?? []).includes(text) ? null : { key: 'chan.valid.choice', vars: { options: (f.options ?? []).join(', ') } };
    case 'tags': {
      const tags = splitList(text);
      if (tags.length > LIMITS.tags) return { plural: 'maxTags', n: LIMITS.tags };
      return tags.some((t) => t.length > LIMITS.short) ? { plural: 'maxChars', n: LIMITS.short } : null;
    }
    case 'textarea':
      return text.length > LIMITS.template ? { plural: 'maxChars', n: LIMITS.template } : null;
    case 'text':
      return text.length > LIMITS.short ? { plural: 'maxChars', n: LIMITS.short } : null;
  }
}

function secretProblem(s: Pick<SecretSpec, 'required' | 'url'>, d: SecretDraft): Msg | null {
  const typed = d.action === 'set' ? d.value.trim() : '';
  const kept = d.stored && d.action !== 'remove';
  if (!typed) return s.required && !kept ? { key: 'valid.required' } : null;
  if (s.url) return urlProblem(typed);
  return typed.length > LIMITS.secret ? { plural: 'maxChars', n: LIMITS.secret } : null;
}

function tagListProblem(text: string): Msg | null {
  const tags = splitList(text);
  if (tags.length > LIMITS.routingTags) return { plural: 'maxTags', n: LIMITS.routingTags };
  return tags.some((t) => t.length > LIMITS.routingTag) ? { key: 'chan.valid.tagLength', vars: { max: LIMITS.routingTag } } : null;
}

/** The routing rules `d` says, and what is wrong with them (keyed `routing.…`). */
export function buildRouting(d: RoutingDraft): { routing: Routing; errors: FieldErrors } {
  const errors: FieldErrors = {};
  if (d.events.length === 0) errors['routing.events'] = { key: 'chan.valid.noEvents' };
  for (const [field, text] of [
    ['routing.tags_include', d.tagsInclude],
    ['routing.tags_exclude', d.tagsExclude],
  ] as const) {
    const p = tagListProblem(text);
    if (p) errors[field] = p;
  }
  if (d.quiet) {
    const start = d.quietStart.trim();
    const end = d.quietEnd.trim();
    if (!HHMM.test(start)) errors['routing.quiet_hours.start'] = { key: 'chan.valid.time' };
    if (!HHMM.test(end)) errors['routing.quiet_hours.end'] = { key: 'chan.valid.time' };
    else if (start === end) errors['routing.quiet_hours.end'] = { key: 'chan.valid.sameTime' };
    if (!isTimeZone(d.timezone.trim())) errors['routing.quiet_hours.timezone'] = { key: 'chan.valid.timezone' };
  }
  const routing: Routing = {
    events: ROUTED_EVENTS.filter((e) => d.events.includes(e)),
    min_severity: d.minSeverity,
    tags_include: splitList(d.tagsInclude),
    tags_exclude: splitList(d.tagsExclude),
    quiet_hours: d.quiet ? { start: d.quietStart.trim(), end: d.quietEnd.trim(), timezone: d.timezone.trim() } : null,
  };
  return { routing, errors };
}

/** Everything wrong with `d`, keyed by the API's field path. */
export function validateDraft(d: ChannelDraft): FieldErrors {
  const errors: FieldErrors = {};
  const spec = kindSpec(d.kind);
  const label = d.label.trim();
  if (label.length > LIMITS.label) errors['label'] = { plural: 'maxChars', n: LIMITS.label };
  else if (CONTROL.test(label)) errors['label'] = { key: 'chan.valid.control' };
  for (const f of spec.settings) {
    const p = settingProblem(f, d.settings[f.name] ?? '');
    if (p) errors[`settings.${f.name}`] = p;
  }
  for (const s of spec.secrets) {
    const p = secretProblem(s, d.secrets[s.name] ?? { stored: false, action: 'set', value: '' });
    if (p) errors[`secrets.${s.name}`] = p;
  }
  if (spec.headers) {
    const live = d.headers.filter((h) => !(h.stored && h.action === 'remove'));
    if (live.length > LIMITS.headers) errors['headers'] = { plural: 'maxHeaders', n: LIMITS.headers };
    const seen = new Set<string>();
    d.headers.forEach((h, i) => {
      if (h.stored && h.action === 'remove') return;
      const name = h.name.trim();
      const lower = name.toLowerCase();
      let p: Msg | null = null;
      if (!name) p = { key: 'valid.required' };
      else if (!HEADER_NAME.test(name) || name.length > LIMITS.short) p = { key: 'chan.valid.headerName' };
      else if (seen.has(lower)) p = { key: 'chan.valid.headerDuplicate' };
      else p = secretProblem({ required: true }, h);
      seen.add(lower);
      if (p) errors[`headers.${i}`] = p;
    });
  }
  Object.assign(errors, buildRouting(d.routing).errors);
  return errors;
}

// Bodies ---------------------------------------------------------------------------------------

/** The settings object `texts` says for `spec` (empty optional fields left out). */
export function buildSettings(spec: KindSpec, texts: Record<string, string>): ChannelSettings {
  const out: ChannelSettings = {};
  for (const f of spec.settings) {
    const raw = texts[f.name] ?? '';
    if (raw.trim() === '') continue;
    if (f.type === 'int') out[f.name] = Number(raw.trim());
    else if (f.type === 'tags') out[f.name] = splitList(raw);
    else if (f.type === 'textarea') out[f.name] = raw;
    else out[f.name] = raw.trim();
  }
  return out;
}

/** The secrets to send: typed values, null for removed stored ones; kept ones are left out. */
export function secretChanges(d: ChannelDraft): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  const put = (name: string, s: SecretDraft) => {
    if (s.action === 'set' && s.value.trim()) out[name] = s.value.trim();
    else if (s.action === 'remove' && s.stored) out[name] = null;
  };
  for (const s of kindSpec(d.kind).secrets) {
    const draft = d.secrets[s.name];
    if (draft) put(s.name, draft);
  }
  if (kindSpec(d.kind).headers) for (const h of d.headers) put(HEADER_PREFIX + h.name.trim(), h);
  return out;
}

/** The body of `POST /api/channels` for `d`, or null and the errors. */
export function buildCreate(d: ChannelDraft): { body: NewChannel | null; errors: FieldErrors } {
  const errors = validateDraft(d);
  if (!isFormKind(d.kind) || Object.keys(errors).length) return { body: null, errors };
  const body: NewChannel = { kind: d.kind };
  const label = d.label.trim();
  if (label) body.label = label;
  const settings = buildSettings(KIND_FIELDS[d.kind], d.settings);
  if (Object.keys(settings).length) body.settings = settings;
  const secrets = secretChanges(d) as Record<string, string>;
  if (Object.keys(secrets).length) body.secrets = secrets;
  body.routing = buildRouting(d.routing).routing;
  return { body, errors };
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * The body of `PATCH /api/channels/{id}` that turns `ch` into `d`: only what changed (settings
 * whole, secrets by name, unchanged ones left out). `body` is null when nothing changed.
 */
export function buildPatch(ch: Channel, d: ChannelDraft): { body: ChannelPatch | null; errors: FieldErrors } {
  const errors = validateDraft(d);
  if (Object.keys(errors).length) return { body: null, errors };
  const spec = kindSpec(ch.kind);
  const body: ChannelPatch = {};
  const label = d.label.trim();
  if (label !== (ch.label ?? '')) body.label = label;
  const before = buildSettings(spec, draftFromChannel(ch).settings);
  const after = buildSettings(spec, d.settings);
  if (!same(before, after)) body.settings = after;
  const secrets = secretChanges(d);
  if (Object.keys(secrets).length) body.secrets = secrets;
  const routing = buildRouting(d.routing).routing;
  if (!same(buildRouting(routingDraft(ch.routing)).routing, routing)) body.routing = routing;
  return { body: Object.keys(body).length ? body : null, errors };
}

/** The body that re-enables a channel the notifier disabled. */
export function enableBody(): ChannelPatch {
  return { enabled: true };
}

// The list and the test button -----------------------------------------------------------------

/** How the list shows a channel: the first of disabled, unverified, muted, active. */
export type ChannelState = 'disabled' | 'unverified' | 'muted' | 'active';

export function channelState(ch: Pick<Channel, 'enabled' | 'disabled_reason' | 'verified' | 'muted_until'>, now = Date.now()): ChannelState {
  if (ch.enabled === false || ch.disabled_reason) return 'disabled';
  if (!ch.verified) return 'unverified';
  if (ch.muted_until && Date.parse(ch.muted_until) > now) return 'muted';
  return 'active';
}

/** What "Send test message" says: its tone and message. */
export interface TestOutcome {
  tone: 'ok' | 'warn' | 'error';
  msg: Msg;
}

/** The seconds the API asks to wait between two tests of a channel. */
export const TEST_INTERVAL_SECONDS = 10;

/** The outcome of a test: its answer, or the error it failed with (status, Retry-After, message). */
export function describeTest(
  outcome: { result: ChannelTestResult } | { error: { status: number; retryAfter?: number | undefined; message: string } },
): TestOutcome {
  if ('result' in outcome) {
    const r = outcome.result;
    if (r.delivered) return { tone: 'ok', msg: { key: 'chan.test.delivered' } };
    return { tone: 'error', msg: { key: 'chan.test.failed', vars: { error: r.error ?? '—' } } };
  }
  const e = outcome.error;
  if (e.status === 429) return { tone: 'warn', msg: { plural: 'retryIn', n: Math.max(1, e.retryAfter ?? TEST_INTERVAL_SECONDS) } };
  if (e.status === 503) return { tone: 'error', msg: { key: 'chan.test.unavailable' } };
  return { tone: 'error', msg: { key: 'common.error', vars: { msg: e.message } } };
}
