// UNTIL THE DOCUMENT HAS THEM: the channel routes of every kind (webhook, Slack, … Matrix) as
// the backend is gaining them, written by hand because `openapi.json` / `schema.d.ts` do not
// describe them yet. This is the ONE file to change when they do: replace each declaration
// below by an alias of the generated type (`Schemas['…']` from `model.ts`), move the calls of
// `channelsApi` into `ApiClient` (client.ts, where e2e/routes.test.mjs checks them against the
// document), and list the routes in `operations.ts`. `channels.test.ts` fails as soon as the
// committed document names one of these routes, to say so.

import { api, type ApiClient } from './client';
import type { Page, Timestamp, Uuid } from './model';

/** The kinds configured by a form (Telegram and email keep their own flows). */
export const FORM_KINDS = [
  'webhook',
  'slack',
  'mattermost',
  'discord',
  'teams',
  'google_chat',
  'ntfy',
  'gotify',
  'pushover',
  'pagerduty',
  'opsgenie',
  'matrix',
] as const;
export type FormKind = (typeof FORM_KINDS)[number];
/** Every kind of channel the API lists. */
export type ChannelKind = 'telegram' | 'email' | FormKind;

/** What a channel is notified about. */
export const ROUTED_EVENTS = ['opened', 'resolved', 'report', 'certificate', 'flapping', 'reminder'] as const;
export type RoutedEvent = (typeof ROUTED_EVENTS)[number];
export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Hours when everything but "down" is held: `HH:MM` local times in an IANA time zone. */
export interface QuietHours {
  start: string;
  end: string;
  timezone: string;
}

/** A channel's routing rules (the default takes every event of every severity, always). */
export interface Routing {
  events: RoutedEvent[];
  min_severity: Severity;
  tags_include: string[];
  tags_exclude: string[];
  quiet_hours: QuietHours | null;
}

/** A setting's value as stored (strings, numbers, tag lists). */
export type SettingValue = string | number | boolean | string[] | null;

/** A channel as `GET /api/channels` lists it, with the fields of the new kinds. */
export interface ChannelDetails {
  id: Uuid;
  kind: ChannelKind | (string & {});
  /** Chat id, email address, or a non-secret summary of a form kind's settings. */
  address: string;
  label: string | null;
  verified: boolean;
  enabled: boolean;
  disabled_reason: string | null;
  muted_until: Timestamp | null;
  created_at: Timestamp;
  settings: Record<string, SettingValue>;
  /** Names of the secrets that are set (never their values). */
  secrets: string[];
  routing: Routing;
  last_error: string | null;
  last_error_at: Timestamp | null;
}

/** `GET /api/channels/kinds`: the kinds this backend serves and the secrets each takes. */
export interface ChannelKindInfo {
  kind: string;
  secrets: { name: string; required: boolean }[];
}

/** Body of `POST /api/channels`. */
export interface NewChannel {
  kind: FormKind;
  label?: string;
  settings?: Record<string, SettingValue>;
  secrets?: Record<string, string>;
  routing?: Routing;
}

/** Body of `PATCH /api/channels/{id}`: an absent secret keeps its value, null removes it. */
export interface ChannelUpdate {
  label?: string | null;
  muted_until?: Timestamp | null;
  settings?: Record<string, SettingValue>;
  secrets?: Record<string, string | null>;
  routing?: Routing;
  enabled?: true;
}

/** `POST /api/channels/{id}/test` (429 when tested under 10 s ago, 503 when the notifier is silent). */
export interface ChannelTestResult {
  delivered: boolean;
  error: string | null;
}

/** The routes above, as calls through the one client (its errors, cookie and 401 handling). */
export function channelsFor(client: ApiClient) {
  const seg = encodeURIComponent;
  return {
    list(): Promise<Page<ChannelDetails>> {
      return client.request('GET', '/api/channels');
    },
    kinds(): Promise<ChannelKindInfo[]> {
      return client.request('GET', '/api/channels/kinds');
    },
    create(body: NewChannel): Promise<ChannelDetails> {
      return client.request('POST', '/api/channels', body);
    },
    update(id: Uuid, body: ChannelUpdate): Promise<ChannelDetails> {
      return client.request('PATCH', `/api/channels/${seg(id)}`, body);
    },
    test(id: Uuid): Promise<ChannelTestResult> {
      return client.request('POST', `/api/channels/${seg(id)}/test`);
    },
    remove(id: Uuid): Promise<void> {
      return client.request('DELETE', `/api/channels/${seg(id)}`);
    },
  };
}

/** The routes this file adds beside the document's, `METHOD /path` (see channels.test.ts). */
export const UNDOCUMENTED_CHANNEL_ROUTES = ['get /api/channels/kinds', 'post /api/channels', 'post /api/channels/{id}/test'] as const;

export const channelsApi = channelsFor(api);
