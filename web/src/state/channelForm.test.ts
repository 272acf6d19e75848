import { describe, expect, it } from 'vitest';
import { FORM_KINDS, ROUTED_EVENTS, type Channel, type ChannelKindInfo, type FormKind, type Routing } from '../api/model';
import { dictionaries } from '../i18n';
import {
  KIND_FIELDS,
  LIMITS,
  buildCreate,
  buildPatch,
  buildRouting,
  channelState,
  describeTest,
  draftFromChannel,
  emptyDraft,
  enableBody,
  offeredKinds,
  routingDraft,
  toggleEvent,
  validateDraft,
  type ChannelDraft,
} from './channelForm';

const ALL: Routing = { events: [...ROUTED_EVENTS], min_severity: 'info', tags_include: [], tags_exclude: [], quiet_hours: null };

/** A stored channel as `GET /api/channels` lists it. */
function stored(kind: FormKind, settings: Channel['settings'], secrets: string[], routing: Routing = ALL): Channel {
  return {
    id: 'c1',
    kind,
    address: 'summary',
    label: 'ops',
    verified: true,
    enabled: true,
    disabled_reason: null,
    muted_until: null,
    created_at: '2026-01-01T00:00:00Z',
    settings,
    secrets,
    routing,
    last_error: null,
    last_error_at: null,
  };
}

/** A blank draft of `kind` with `patch` applied to its settings and typed secrets. */
function draft(kind: FormKind, settings: Record<string, string> = {}, secrets: Record<string, string> = {}): ChannelDraft {
  const d = emptyDraft(kind);
  Object.assign(d.settings, settings);
  for (const [name, value] of Object.entries(secrets)) d.secrets[name] = { stored: false, action: 'set', value };
  return d;
}

describe('the fields of each kind', () => {
  it('has a form for each of the twelve kinds, with a label in both languages for each field', () => {
    expect(Object.keys(KIND_FIELDS).sort()).toEqual([...FORM_KINDS].sort());
    expect(FORM_KINDS).toHaveLength(12);
    for (const [kind, spec] of Object.entries(KIND_FIELDS)) {
      for (const f of [...spec.settings, ...spec.secrets]) {
        expect(dictionaries.en[f.label], `${kind}.${f.name}`).toBeTruthy();
        expect(dictionaries.ru[f.label], `${kind}.${f.name}`).toBeTruthy();
      }
      expect(dictionaries.en[`chan.kind.${kind as FormKind}`], kind).toBeTruthy();
    }
  });

  it('names the settings and secrets the API takes per kind', () => {
    const names = (k: FormKind) => ({
      settings: KIND_FIELDS[k].settings.map((f) => f.name).sort(),
      secrets: KIND_FIELDS[k].secrets.map((s) => `${s.name}${s.required ? '' : '?'}`).sort(),
    });
    expect(names('webhook')).toEqual({ settings: ['content_type', 'template', 'url'], secrets: ['secret?'] });
    expect(KIND_FIELDS.webhook.headers).toBe(true);
    for (const k of ['slack', 'discord', 'teams', 'google_chat'] as const) expect(names(k)).toEqual({ settings: [], secrets: ['url'] });
    expect(names('mattermost')).toEqual({ settings: ['channel', 'icon_url', 'username'], secrets: ['url'] });
    expect(names('ntfy')).toEqual({ settings: ['priority', 'tags', 'url'], secrets: ['token?'] });
    expect(names('gotify')).toEqual({ settings: ['priority', 'url'], secrets: ['token'] });
    expect(names('pushover')).toEqual({ settings: ['api_url', 'device', 'priority', 'sound'], secrets: ['token', 'user_key'] });
    expect(names('pagerduty')).toEqual({ settings: ['events_url', 'source'], secrets: ['routing_key'] });
    expect(names('opsgenie')).toEqual({ settings: ['api_url', 'priority', 'tags'], secrets: ['api_key'] });
    expect(names('matrix')).toEqual({ settings: ['homeserver', 'room_id'], secrets: ['access_token'] });
  });

  it('offers the kinds the backend lists, in the form order, and all of them when it could not say', () => {
    expect(offeredKinds(undefined)).toEqual([...FORM_KINDS]);
    // A newer backend may list a kind this build has no form for.
    const served = JSON.parse('[{"kind":"matrix","secrets":[]},{"kind":"slack","secrets":[]},{"kind":"carrier_pigeon","secrets":[]}]') as ChannelKindInfo[];
    expect(offeredKinds(served)).toEqual(['slack', 'matrix']);
  });
});

describe('validation', () => {
  it('names each missing required field by its API path', () => {
    expect(validateDraft(draft('matrix'))).toEqual({
      'settings.homeserver': { key: 'valid.required' },
      'settings.room_id': { key: 'valid.required' },
      'secrets.access_token': { key: 'valid.required' },
    });
    expect(Object.keys(validateDraft(draft('pushover'))).sort()).toEqual(['secrets.token', 'secrets.user_key']);
    expect(validateDraft(draft('ntfy'))).toEqual({ 'settings.url': { key: 'valid.required' } });
  });

  it('takes only http(s) URLs of at most 2048 characters', () => {
    const bad = (url: string) => validateDraft(draft('slack', {}, { url }))['secrets.url'];
    expect(bad('https://hooks.slack.com/services/T/B/x')).toBeUndefined();
    expect(bad('ftp://hooks.slack.com/x')).toEqual({ key: 'valid.url' });
    expect(bad('not a url')).toEqual({ key: 'valid.url' });
    expect(bad(`https://a.example/${'x'.repeat(LIMITS.url)}`)).toEqual({ plural: 'maxChars', n: 2048 });
    expect(validateDraft(draft('webhook', { url: 'javascript:alert(1)' }))['settings.url']).toEqual({ key: 'valid.url' });
  });

  it('keeps priorities in their kind range', () => {
    const p = (kind: FormKind, priority: string, secrets: Record<string, string> = {}) =>
      validateDraft(draft(kind, { url: 'https://x.example', priority }, secrets))['settings.priority'];
    expect(p('ntfy', '5')).toBeUndefined();
    expect(p('ntfy', '0')).toEqual({ key: 'chan.valid.range', vars: { min: 1, max: 5 } });
    expect(p('gotify', '10', { token: 't' })).toBeUndefined();
    expect(p('gotify', '11', { token: 't' })).toEqual({ key: 'chan.valid.range', vars: { min: 0, max: 10 } });
    expect(p('pushover', '-2')).toBeUndefined();
    expect(p('pushover', '-3')).toEqual({ key: 'chan.valid.range', vars: { min: -2, max: 2 } });
    expect(p('pushover', '1.5')).toEqual({ key: 'chan.valid.range', vars: { min: -2, max: 2 } });
    expect(p('opsgenie', 'P3')).toBeUndefined();
    expect(p('opsgenie', 'P6')).toEqual({ key: 'chan.valid.choice', vars: { options: 'P1, P2, P3, P4, P5' } });
  });

  it('takes at most 20 message tags', () => {
    const tags = (n: number) => Array.from({ length: n }, (_, i) => `t${i}`).join(', ');
    expect(validateDraft(draft('ntfy', { url: 'https://ntfy.sh/a', tags: tags(20) }))['settings.tags']).toBeUndefined();
    expect(validateDraft(draft('ntfy', { url: 'https://ntfy.sh/a', tags: tags(21) }))['settings.tags']).toEqual({ plural: 'maxTags', n: 20 });
  });

  it('checks the label and webhook header rows', () => {
    const d = draft('webhook', { url: 'https://h.example/' });
    d.label = 'x'.repeat(101);
    d.headers = [
      { name: 'X-Api-Key', stored: false, action: 'set', value: 'k' },
      { name: 'x-api-key', stored: false, action: 'set', value: 'k2' },
      { name: 'Bad Name', stored: false, action: 'set', value: 'v' },
      { name: 'X-Empty', stored: false, action: 'set', value: '' },
    ];
    expect(validateDraft(d)).toEqual({
      label: { plural: 'maxChars', n: 100 },
      'headers.1': { key: 'chan.valid.headerDuplicate' },
      'headers.2': { key: 'chan.valid.headerName' },
      'headers.3': { key: 'valid.required' },
    });
  });
});

describe('the create body', () => {
  it('sends typed settings as their JSON types, secrets by name, and the routing', () => {
    const d = draft('ntfy', { url: ' https://ntfy.sh/alerts ', priority: '4', tags: 'warning, skull, warning' }, { token: 'tk_1' });
    d.label = ' phone ';
    expect(buildCreate(d)).toEqual({
      body: {
        kind: 'ntfy',
        label: 'phone',
        settings: { url: 'https://ntfy.sh/alerts', priority: 4, tags: ['warning', 'skull'] },
        secrets: { token: 'tk_1' },
        routing: ALL,
      },
      errors: {},
    });
  });

  it('leaves out empty optional settings and secrets, and sends webhook headers as header:<Name>', () => {
    const d = draft('webhook', { url: 'https://h.example/in' });
    d.headers = [{ name: 'X-Api-Key', stored: false, action: 'set', value: 'abc' }];
    const { body } = buildCreate(d);
    expect(body).toEqual({ kind: 'webhook', settings: { url: 'https://h.example/in' }, secrets: { 'header:X-Api-Key': 'abc' }, routing: ALL });
  });

  it('sends nothing while a field is wrong', () => {
    const { body, errors } = buildCreate(draft('gotify', { url: 'https://g.example' }));
    expect(body).toBeNull();
    expect(errors).toEqual({ 'secrets.token': { key: 'valid.required' } });
  });
});

describe('the patch body', () => {
  const ch = stored('pushover', { device: 'phone', priority: 1 }, ['token', 'user_key']);

  it('shows stored secrets as set, never a value, and sends nothing when nothing changed', () => {
    const d = draftFromChannel(ch);
    expect(d.secrets).toEqual({ token: { stored: true, action: 'keep', value: '' }, user_key: { stored: true, action: 'keep', value: '' } });
    expect(d.settings).toEqual({ device: 'phone', sound: '', priority: '1', api_url: '' });
    expect(validateDraft(d)).toEqual({});
    expect(buildPatch(ch, d)).toEqual({ body: null, errors: {} });
  });

  it('keeps a secret whose Replace was opened but left empty', () => {
    const d = draftFromChannel(ch);
    d.secrets['token'] = { stored: true, action: 'set', value: '  ' };
    expect(buildPatch(ch, d).body).toBeNull();
  });

  it('sends only the replaced secret', () => {
    const d = draftFromChannel(ch);
    d.secrets['user_key'] = { stored: true, action: 'set', value: 'new-user' };
    expect(buildPatch(ch, d).body).toEqual({ secrets: { user_key: 'new-user' } });
  });

  it('sends null for a removed optional secret and refuses to remove a required one', () => {
    const ntfy = stored('ntfy', { url: 'https://ntfy.sh/a' }, ['token']);
    const d = draftFromChannel(ntfy);
    d.secrets['token']!.action = 'remove';
    expect(buildPatch(ntfy, d).body).toEqual({ secrets: { token: null } });

    const p = draftFromChannel(ch);
    p.secrets['token']!.action = 'remove';
    expect(buildPatch(ch, p)).toEqual({ body: null, errors: { 'secrets.token': { key: 'valid.required' } } });
  });

  it('sends the whole settings object when one setting changed, and a changed label', () => {
    const d = draftFromChannel(ch);
    d.settings['sound'] = 'siren';
    d.label = '';
    expect(buildPatch(ch, d).body).toEqual({ label: '', settings: { device: 'phone', sound: 'siren', priority: 1 } });
  });

  it('removes, replaces and adds webhook headers by their secret names', () => {
    const hook = stored('webhook', { url: 'https://h.example/' }, ['secret', 'header:X-A', 'header:X-B']);
    const d = draftFromChannel(hook);
    expect(d.headers.map((h) => [h.name, h.stored, h.action])).toEqual([
      ['X-A', true, 'keep'],
      ['X-B', true, 'keep'],
    ]);
    d.headers[0]!.action = 'remove';
    d.headers[1] = { ...d.headers[1]!, action: 'set', value: 'b2' };
    d.headers.push({ name: 'X-C', stored: false, action: 'set', value: 'c' });
    expect(buildPatch(hook, d).body).toEqual({ secrets: { 'header:X-A': null, 'header:X-B': 'b2', 'header:X-C': 'c' } });
  });

  it('edits Telegram and email channels by label and routing only', () => {
    const tg: Channel = { ...stored('slack', {}, []), kind: 'telegram', settings: {}, secrets: [] };
    const d = draftFromChannel(tg);
    expect(d.settings).toEqual({});
    d.routing = toggleEvent(d.routing, 'report', false);
    expect(buildPatch(tg, d).body).toEqual({ routing: { ...ALL, events: ['opened', 'resolved', 'certificate', 'flapping', 'reminder'] } });
  });

  it('re-enables with enabled: true', () => {
    expect(enableBody()).toEqual({ enabled: true });
  });
});

describe('the routing editor', () => {
  it('starts from every event, info, no tags and no quiet hours', () => {
    const d = routingDraft(null, 'Europe/Moscow');
    expect(d).toMatchObject({ events: [...ROUTED_EVENTS], minSeverity: 'info', tagsInclude: '', tagsExclude: '', quiet: false, timezone: 'Europe/Moscow' });
    expect(buildRouting(d)).toEqual({ routing: ALL, errors: {} });
  });

  it('reads the defaults of absent fields: every event, info, no tags, UTC quiet hours', () => {
    expect(routingDraft({}, 'Europe/Moscow')).toMatchObject({ events: [...ROUTED_EVENTS], minSeverity: 'info', tagsInclude: '', quiet: false, timezone: 'Europe/Moscow' });
    const d = routingDraft({ events: ['opened'], quiet_hours: { start: '22:00', end: '07:00' } }, 'Europe/Moscow');
    expect(d).toMatchObject({ events: ['opened'], quiet: true, timezone: 'UTC' });
    expect(buildRouting(d).routing).toEqual({ ...ALL, events: ['opened'], quiet_hours: { start: '22:00', end: '07:00', timezone: 'UTC' } });
  });

  it('round-trips stored rules and keeps events in their order however they are ticked', () => {
    const r: Routing = { events: ['resolved', 'opened'], min_severity: 'critical', tags_include: ['prod'], tags_exclude: ['noisy', 'lab'], quiet_hours: { start: '22:00', end: '07:30', timezone: 'Europe/Moscow' } };
    const d = routingDraft(r);
    expect(d.events).toEqual(['opened', 'resolved']);
    expect(buildRouting(d).routing).toEqual({ ...r, events: ['opened', 'resolved'] });
    let e = toggleEvent(d, 'reminder', true);
    e = toggleEvent(e, 'opened', false);
    e = toggleEvent(e, 'certificate', true);
    expect(e.events).toEqual(['resolved', 'certificate', 'reminder']);
  });

  it('names what is wrong: no event, bad times, same times, unknown zone, too many or too long tags', () => {
    let d = routingDraft(null);
    for (const ev of ROUTED_EVENTS) d = toggleEvent(d, ev, false);
    d = { ...d, quiet: true, quietStart: '24:00', quietEnd: '7:00', timezone: 'Mars/Olympus', tagsInclude: 'x'.repeat(65) };
    d.tagsExclude = Array.from({ length: 51 }, (_, i) => `t${i}`).join(',');
    expect(buildRouting(d).errors).toEqual({
      'routing.events': { key: 'chan.valid.noEvents' },
      'routing.tags_include': { key: 'chan.valid.tagLength', vars: { max: 64 } },
      'routing.tags_exclude': { plural: 'maxTags', n: 50 },
      'routing.quiet_hours.start': { key: 'chan.valid.time' },
      'routing.quiet_hours.end': { key: 'chan.valid.time' },
      'routing.quiet_hours.timezone': { key: 'chan.valid.timezone' },
    });
    expect(buildRouting({ ...routingDraft(null), quiet: true, quietStart: '22:00', quietEnd: '22:00' }).errors).toEqual({
      'routing.quiet_hours.end': { key: 'chan.valid.sameTime' },
    });
  });

  it('drops quiet hours when unticked, and sends changed rules in a patch', () => {
    const ch = stored('discord', {}, ['url'], { ...ALL, quiet_hours: { start: '23:00', end: '06:00', timezone: 'UTC' } });
    const d = draftFromChannel(ch);
    expect(d.routing.quiet).toBe(true);
    d.routing = { ...d.routing, quiet: false, minSeverity: 'warning' };
    expect(buildPatch(ch, d).body).toEqual({ routing: { ...ALL, min_severity: 'warning' } });
  });
});

describe('the list and the test button', () => {
  it('shows disabled first, then unverified, muted, active', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    const base = { enabled: true, disabled_reason: null, verified: true, muted_until: null };
    expect(channelState({ ...base, enabled: false, disabled_reason: 'HTTP 404 ×5', verified: false }, now)).toBe('disabled');
    expect(channelState({ ...base, verified: false }, now)).toBe('unverified');
    expect(channelState({ ...base, muted_until: '2026-01-01T01:00:00Z' }, now)).toBe('muted');
    expect(channelState({ ...base, muted_until: '2025-12-31T23:00:00Z' }, now)).toBe('active');
  });

  it('says delivered, the error, the wait after 429, and a silent notifier', () => {
    expect(describeTest({ result: { delivered: true, error: null } })).toEqual({ tone: 'ok', msg: { key: 'chan.test.delivered' } });
    expect(describeTest({ result: { delivered: false, error: 'HTTP 403: invalid_token' } })).toEqual({
      tone: 'error',
      msg: { key: 'chan.test.failed', vars: { error: 'HTTP 403: invalid_token' } },
    });
    expect(describeTest({ error: { status: 429, retryAfter: 7, message: '' } })).toEqual({ tone: 'warn', msg: { plural: 'retryIn', n: 7 } });
    expect(describeTest({ error: { status: 429, message: '' } })).toEqual({ tone: 'warn', msg: { plural: 'retryIn', n: 10 } });
    expect(describeTest({ error: { status: 503, message: 'x' } })).toEqual({ tone: 'error', msg: { key: 'chan.test.unavailable' } });
    expect(describeTest({ error: { status: 500, message: 'boom' } })).toEqual({ tone: 'error', msg: { key: 'common.error', vars: { msg: 'boom' } } });
  });
});
