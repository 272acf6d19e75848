import { describe, expect, it } from 'vitest';
import type { EscalationPolicy } from '../api/model';
import {
  LIMITS,
  addStep,
  apiErrors,
  buildPolicyBody,
  channelName,
  draftFromPolicy,
  emptyPolicyDraft,
  errorSlot,
  normalizeField,
  reminderText,
  removeStep,
  stepsSummary,
  toggleId,
  updateStep,
  type PolicyDraft,
} from './escalationForm';

const TG = '00000000-0000-7000-8000-000000000001';
const PD = '00000000-0000-7000-8000-000000000002';
const SL = '00000000-0000-7000-8000-000000000003';
const MAIL = '00000000-0000-7000-8000-000000000004';
const T1 = '00000000-0000-7000-8000-0000000000a1';
const ANN = '00000000-0000-7000-8000-0000000000b1';
const BEN = '00000000-0000-7000-8000-0000000000b2';

const channels = [
  { id: TG, kind: 'telegram' as const, label: null },
  { id: PD, kind: 'pagerduty' as const, label: '' },
  { id: SL, kind: 'slack' as const, label: 'Team Slack' },
  { id: MAIL, kind: 'email' as const, label: null },
];

/** A valid draft of three steps, reminders every 15 minutes, one target and two tags. */
function draft(): PolicyDraft {
  return {
    name: '  On-call  ',
    steps: [
      { after: '0', channelIds: [TG] },
      { after: '10', channelIds: [PD] },
      { after: ' 30 ', channelIds: [SL, MAIL, SL] },
    ],
    reminders: true,
    reminderMinutes: '15',
    targetIds: [T1, T1],
    tags: 'prod, eu\nprod',
  };
}

describe('escalation policy body', () => {
  it('builds the API body: trimmed name, numbers, deduplicated ids and tags', () => {
    const { body, errors } = buildPolicyBody(draft());
    expect(errors).toEqual({});
    expect(body).toEqual({
      name: 'On-call',
      steps: [
        { after_minutes: 0, channel_ids: [TG], member_ids: [] },
        { after_minutes: 10, channel_ids: [PD], member_ids: [] },
        { after_minutes: 30, channel_ids: [SL, MAIL], member_ids: [] },
      ],
      reminder_minutes: 15,
      target_ids: [T1],
      tags: ['prod', 'eu'],
    });
  });

  it('sends null reminders when they are off, whatever the minutes say', () => {
    const { body } = buildPolicyBody({ ...draft(), reminders: false, reminderMinutes: 'nonsense' });
    expect(body?.reminder_minutes).toBeNull();
  });

  it('requires a name of at most 100 characters', () => {
    expect(buildPolicyBody({ ...draft(), name: '   ' }).errors['name']).toEqual({ key: 'valid.required' });
    expect(buildPolicyBody({ ...draft(), name: 'x'.repeat(101) }).errors['name']).toEqual({ plural: 'maxChars', n: LIMITS.name });
    expect(buildPolicyBody({ ...draft(), name: 'x'.repeat(100) }).errors['name']).toBeUndefined();
  });

  it('keys step errors by the API path and wants minutes strictly increasing', () => {
    const d = draft();
    d.steps[1]!.after = '0';
    d.steps[2]!.after = '1441';
    const { body, errors } = buildPolicyBody(d);
    expect(body).toBeNull();
    expect(errors['steps[1].after_minutes']).toEqual({ key: 'esc.valid.increasing', vars: { minutes: 0 } });
    expect(errors['steps[2].after_minutes']).toEqual({ key: 'esc.valid.minutes', vars: { min: 0, max: 1440 } });
    expect(errors['steps[0].after_minutes']).toBeUndefined();
  });

  it('compares a step with the last step whose minutes are valid', () => {
    const d = draft();
    d.steps[1]!.after = 'ten';
    d.steps[2]!.after = '5';
    const { errors } = buildPolicyBody(d);
    expect(errors['steps[1].after_minutes']).toEqual({ key: 'esc.valid.minutes', vars: { min: 0, max: 1440 } });
    expect(errors['steps[2].after_minutes']).toBeUndefined();
    expect(buildPolicyBody({ ...draft(), steps: [{ after: '-1', channelIds: [TG] }] }).errors['steps[0].after_minutes']).toBeDefined();
    expect(buildPolicyBody({ ...draft(), steps: [{ after: '2.5', channelIds: [TG] }] }).errors['steps[0].after_minutes']).toBeDefined();
  });

  it('wants 1 to 10 channels in each step, and 1 to 10 steps', () => {
    const d = draft();
    d.steps[0]!.channelIds = [];
    expect(buildPolicyBody(d).errors['steps[0].channel_ids']).toEqual({ key: 'esc.valid.noChannels' });
    d.steps[0]!.channelIds = Array.from({ length: 11 }, (_, i) => `c${i}`);
    expect(buildPolicyBody(d).errors['steps[0].channel_ids']).toEqual({ key: 'esc.valid.maxChannels', vars: { max: 10 } });
    expect(buildPolicyBody({ ...draft(), steps: [] }).errors['steps']).toEqual({ key: 'esc.valid.noSteps' });
    const eleven = Array.from({ length: 11 }, (_, i) => ({ after: String(i), channelIds: [TG] }));
    expect(buildPolicyBody({ ...draft(), steps: eleven }).errors['steps']).toEqual({ key: 'esc.valid.maxSteps', vars: { max: 10 } });
  });

  it('takes a step of members only, deduplicated, at most 10 of them', () => {
    const d = draft();
    d.steps[1] = { after: '10', channelIds: [], memberIds: [ANN, BEN, ANN] };
    const { body, errors } = buildPolicyBody(d);
    expect(errors).toEqual({});
    expect(body?.steps[1]).toEqual({ after_minutes: 10, channel_ids: [], member_ids: [ANN, BEN] });
    d.steps[1] = { after: '10', channelIds: [], memberIds: Array.from({ length: 11 }, (_, i) => `m${i}`) };
    expect(buildPolicyBody(d).errors['steps[1].member_ids']).toEqual({ key: 'esc.valid.maxMembers', vars: { max: 10 } });
    d.steps[1] = { after: '10', channelIds: [], memberIds: [] };
    expect(buildPolicyBody(d).errors['steps[1].channel_ids']).toEqual({ key: 'esc.valid.noChannels' });
    expect(errorSlot('steps[1].member_ids[0]', 3)).toBe('steps[1].member_ids');
  });

  it('bounds reminders to 5..1440 minutes', () => {
    expect(buildPolicyBody({ ...draft(), reminderMinutes: '4' }).errors['reminder_minutes']).toEqual({ key: 'esc.valid.minutes', vars: { min: 5, max: 1440 } });
    expect(buildPolicyBody({ ...draft(), reminderMinutes: '1441' }).errors['reminder_minutes']).toBeDefined();
    expect(buildPolicyBody({ ...draft(), reminderMinutes: '1440' }).body?.reminder_minutes).toBe(1440);
    expect(buildPolicyBody({ ...draft(), reminderMinutes: '5' }).body?.reminder_minutes).toBe(5);
  });

  it('bounds targets to 500 and tags to 20 of 1..50 characters', () => {
    const many = Array.from({ length: 501 }, (_, i) => `t${i}`);
    expect(buildPolicyBody({ ...draft(), targetIds: many }).errors['target_ids']).toEqual({ key: 'esc.valid.maxTargets', vars: { max: 500 } });
    expect(buildPolicyBody({ ...draft(), targetIds: many.slice(0, 500) }).errors['target_ids']).toBeUndefined();
    const tags = Array.from({ length: 21 }, (_, i) => `tag${i}`).join(', ');
    expect(buildPolicyBody({ ...draft(), tags }).errors['tags']).toEqual({ plural: 'maxTags', n: 20 });
    expect(buildPolicyBody({ ...draft(), tags: `ok, ${'x'.repeat(51)}` }).errors['tags']).toEqual({ key: 'chan.valid.tagLength', vars: { max: 50 } });
    expect(buildPolicyBody({ ...draft(), tags: 'x'.repeat(50) }).body?.tags).toEqual(['x'.repeat(50)]);
  });
});

describe('escalation policy drafts', () => {
  const policy: EscalationPolicy = {
    id: 'p1',
    name: 'Night',
    steps: [
      { after_minutes: 0, channel_ids: [TG], member_ids: [] },
      { after_minutes: 45, channel_ids: [PD, SL], member_ids: [ANN] },
    ],
    reminder_minutes: null,
    target_ids: [T1],
    tags: ['db', 'prod'],
    created_at: '2026-12-01T00:00:00Z',
    updated_at: '2026-12-01T00:00:00Z',
  };

  it('edits a stored policy and gives back the same body', () => {
    const d = draftFromPolicy(policy);
    expect(d.reminders).toBe(false);
    expect(d.tags).toBe('db, prod');
    expect(d.steps.map((s) => s.after)).toEqual(['0', '45']);
    expect(buildPolicyBody(d).body).toEqual({ name: 'Night', steps: policy.steps, reminder_minutes: null, target_ids: [T1], tags: ['db', 'prod'] });
    const withReminder = draftFromPolicy({ ...policy, reminder_minutes: 60 });
    expect([withReminder.reminders, withReminder.reminderMinutes]).toEqual([true, '60']);
  });

  it('adds steps 10 minutes apart, at most 10, and keeps the last one', () => {
    let d = emptyPolicyDraft();
    expect(d.steps).toEqual([{ after: '0', channelIds: [] }]);
    d = addStep(d);
    d = addStep(d);
    expect(d.steps.map((s) => s.after)).toEqual(['0', '10', '20']);
    for (let i = 0; i < 20; i++) d = addStep(d);
    expect(d.steps).toHaveLength(LIMITS.steps);
    d = updateStep(d, 9, { after: '1435' });
    expect(addStep(d)).toBe(d);
    let one = emptyPolicyDraft();
    one = removeStep(one, 0);
    expect(one.steps).toHaveLength(1);
    const two = removeStep(addStep(updateStep(emptyPolicyDraft(), 0, { channelIds: [TG] })), 0);
    expect(two.steps).toEqual([{ after: '10', channelIds: [] }]);
    expect(addStep({ ...emptyPolicyDraft(), steps: [{ after: '1435', channelIds: [] }] }).steps[1]!.after).toBe('1440');
  });

  it('toggles ids without duplicates and up to a limit', () => {
    expect(toggleId([TG], PD, true)).toEqual([TG, PD]);
    expect(toggleId([TG, PD], TG, true)).toEqual([TG, PD]);
    expect(toggleId([TG, PD], TG, false)).toEqual([PD]);
    expect(toggleId([TG, PD], SL, true, 2)).toEqual([TG, PD]);
  });
});

describe("the API's 422 on the form", () => {
  it('normalises the field paths the API may name', () => {
    expect(normalizeField('body.steps.1.after_minutes')).toBe('steps[1].after_minutes');
    expect(normalizeField('steps[1].after_minutes')).toBe('steps[1].after_minutes');
    expect(normalizeField('steps.0.channel_ids.2')).toBe('steps[0].channel_ids[2]');
  });

  it('shows an error next to the field, else the nearest enclosing one, else above the buttons', () => {
    expect(errorSlot('steps[1].after_minutes', 3)).toBe('steps[1].after_minutes');
    expect(errorSlot('steps[0].channel_ids[3]', 3)).toBe('steps[0].channel_ids');
    expect(errorSlot('steps[5].after_minutes', 3)).toBe('steps');
    expect(errorSlot('tags[2]', 1)).toBe('tags');
    expect(errorSlot('target_ids[7]', 1)).toBe('target_ids');
    expect(errorSlot('reminder_minutes', 1)).toBe('reminder_minutes');
    expect(errorSlot('owner', 1)).toBe('_form');
    expect(errorSlot(undefined, 1)).toBe('_form');
    expect(apiErrors({ field: 'steps[1].after_minutes', message: 'must be greater than steps[0]' }, 2)).toEqual({
      'steps[1].after_minutes': { text: 'must be greater than steps[0]' },
    });
  });
});

describe('escalation policy summary', () => {
  const steps = [
    { after_minutes: 0, channel_ids: [TG] },
    { after_minutes: 10, channel_ids: [PD] },
    { after_minutes: 30, channel_ids: [SL] },
  ];

  it('names channels by label, else by kind', () => {
    expect(channelName(channels[0]!, 'en')).toBe('Telegram');
    expect(channelName(channels[2]!, 'en')).toBe('Team Slack');
    expect(channelName(channels[3]!, 'ru')).toBe('Эл. почта');
    expect(channelName({ kind: 'carrier_pigeon' as 'slack', label: null }, 'en')).toBe('carrier_pigeon');
  });

  it('says the steps on one line, in either language', () => {
    expect(stepsSummary(steps, channels, 'en')).toBe('Telegram now → PagerDuty after 10 min → Team Slack after 30 min');
    expect(stepsSummary(steps, channels, 'ru')).toBe('Telegram сразу → PagerDuty через 10 мин → Team Slack через 30 мин');
  });

  it('joins a step\'s channels, writes whole hours as hours and marks deleted channels', () => {
    const s = [
      { after_minutes: 0, channel_ids: [TG, MAIL] },
      { after_minutes: 120, channel_ids: ['gone'] },
      { after_minutes: 90, channel_ids: [PD] },
    ];
    expect(stepsSummary(s, channels, 'en')).toBe('Telegram + Email now → deleted channel after 2 h → PagerDuty after 90 min');
  });

  it('names the members a step reaches by email, and a member not listed as such', () => {
    const s = [{ after_minutes: 10, channel_ids: [PD], member_ids: [ANN, BEN] }];
    const members = [{ user_id: ANN, email: 'ann@example.com' }];
    expect(stepsSummary(s, channels, 'en', members)).toBe('PagerDuty + ann@example.com + a member after 10 min');
    expect(stepsSummary(s, channels, 'ru', members)).toBe('PagerDuty + ann@example.com + участник через 10 мин');
  });

  it('says reminders', () => {
    expect(reminderText(30, 'en')).toBe('every 30 min');
    expect(reminderText(null, 'en')).toBe('no reminders');
    expect(reminderText(15, 'ru')).toBe('каждые 15 мин');
  });
});
