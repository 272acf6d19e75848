// The escalation policy form as plain data: drafts (numbers kept as the text typed), validation
// mirroring the backend's limits and keyed by the field paths the API names in `error.field`
// (`name`, `steps[1].after_minutes`, `steps[0].channel_ids`, `steps[0].member_ids`, `reminder_minutes`, `target_ids`,
// `tags`), the body of POST / PUT `/api/escalation-policies`, the one-line summary of a
// policy's steps ("Telegram now → PagerDuty after 10 min → Slack after 30 min"), and where a
// 422 of the API shows on the form.

import type { Channel, EscalationPolicy, EscalationPolicyBody, EscalationStep, Member } from '../api/model';
import { splitList, type Lang } from '../format';
import { translate, type MessageKey } from '../i18n';
import type { FieldErrors } from './channelForm';

export type { FieldErrors, Msg } from './channelForm';

/** The backend's limits of a policy. */
export const LIMITS = {
  name: 100,
  steps: 10,
  stepChannels: 10,
  stepMembers: 10,
  afterMinutes: 1440,
  reminderMin: 5,
  reminderMax: 1440,
  targets: 500,
  tags: 20,
  tag: 50,
} as const;

/** Minutes a new step waits after the one before it. */
export const STEP_GAP_MINUTES = 10;

export interface StepDraft {
  /** Minutes after the incident opened, as typed. */
  after: string;
  channelIds: string[];
  /** Members reached on their own channels (absent: none). */
  memberIds?: string[];
}

export interface PolicyDraft {
  name: string;
  steps: StepDraft[];
  /** Reminders on (every `reminderMinutes`) or off (null sent). */
  reminders: boolean;
  reminderMinutes: string;
  targetIds: string[];
  /** Tags as typed, comma separated (like the target form's). */
  tags: string;
}

/** A blank policy: one step at once, no channels yet, reminders off. */
export function emptyPolicyDraft(): PolicyDraft {
  return { name: '', steps: [{ after: '0', channelIds: [] }], reminders: false, reminderMinutes: '30', targetIds: [], tags: '' };
}

/** The form for editing `p`. */
export function draftFromPolicy(p: EscalationPolicy): PolicyDraft {
  const reminder = p.reminder_minutes ?? null;
  return {
    name: p.name,
    steps: (p.steps ?? []).map((s) => ({ after: String(s.after_minutes), channelIds: [...(s.channel_ids ?? [])], memberIds: [...(s.member_ids ?? [])] })),
    reminders: reminder !== null,
    reminderMinutes: String(reminder ?? 30),
    targetIds: [...(p.target_ids ?? [])],
    tags: (p.tags ?? []).join(', '),
  };
}

/** `list` with `id` in (`on`) or out, without duplicates; an id past `max` is not added. */
export function toggleId(list: readonly string[], id: string, on: boolean, max = Infinity): string[] {
  if (!on) return list.filter((x) => x !== id);
  if (list.includes(id) || list.length >= max) return [...list];
  return [...list, id];
}

/** `d` with one more step, {@link STEP_GAP_MINUTES} after the last; unchanged at {@link LIMITS.steps}. */
export function addStep(d: PolicyDraft): PolicyDraft {
  if (d.steps.length >= LIMITS.steps) return d;
  const last = d.steps.length ? Number(d.steps[d.steps.length - 1]!.after.trim()) : -STEP_GAP_MINUTES;
  const after = Number.isInteger(last) ? Math.min(LIMITS.afterMinutes, Math.max(0, last + STEP_GAP_MINUTES)) : 0;
  return { ...d, steps: [...d.steps, { after: String(after), channelIds: [] }] };
}

/** `d` without step `i` (the last step stays: a policy has at least one). */
export function removeStep(d: PolicyDraft, i: number): PolicyDraft {
  if (d.steps.length <= 1) return d;
  return { ...d, steps: d.steps.filter((_, j) => j !== i) };
}

/** `d` with step `i` changed by `patch`. */
export function updateStep(d: PolicyDraft, i: number, patch: Partial<StepDraft>): PolicyDraft {
  return { ...d, steps: d.steps.map((s, j) => (j === i ? { ...s, ...patch } : s)) };
}

// Validation and the body ----------------------------------------------------------------------

/** A whole number from `min` to `max` written in `text`, or null. */
function wholeNumber(text: string, min: number, max: number): number | null {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return null;
  const n = Number(t);
  return n >= min && n <= max ? n : null;
}

/**
 * The body of POST / PUT `/api/escalation-policies` for `d`, or null and everything wrong with
 * it, keyed by the API's field paths.
 */
export function buildPolicyBody(d: PolicyDraft): { body: EscalationPolicyBody | null; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const name = d.name.trim();
  if (!name) errors['name'] = { key: 'valid.required' };
  else if ([...name].length > LIMITS.name) errors['name'] = { plural: 'maxChars', n: LIMITS.name };

  if (d.steps.length === 0) errors['steps'] = { key: 'esc.valid.noSteps' };
  else if (d.steps.length > LIMITS.steps) errors['steps'] = { key: 'esc.valid.maxSteps', vars: { max: LIMITS.steps } };
  const steps: EscalationStep[] = [];
  let previous: number | null = null;
  d.steps.forEach((s, i) => {
    const after = wholeNumber(s.after, 0, LIMITS.afterMinutes);
    if (after === null) {
      errors[`steps[${i}].after_minutes`] = { key: 'esc.valid.minutes', vars: { min: 0, max: LIMITS.afterMinutes } };
    } else if (previous !== null && after <= previous) {
      errors[`steps[${i}].after_minutes`] = { key: 'esc.valid.increasing', vars: { minutes: previous } };
    }
    if (after !== null) previous = after;
    const channelIds = [...new Set(s.channelIds)];
    const memberIds = [...new Set(s.memberIds ?? [])];
    if (channelIds.length === 0 && memberIds.length === 0) errors[`steps[${i}].channel_ids`] = { key: 'esc.valid.noChannels' };
    else if (channelIds.length > LIMITS.stepChannels) errors[`steps[${i}].channel_ids`] = { key: 'esc.valid.maxChannels', vars: { max: LIMITS.stepChannels } };
    if (memberIds.length > LIMITS.stepMembers) errors[`steps[${i}].member_ids`] = { key: 'esc.valid.maxMembers', vars: { max: LIMITS.stepMembers } };
    steps.push({ after_minutes: after ?? 0, channel_ids: channelIds, member_ids: memberIds });
  });

  let reminder: number | null = null;
  if (d.reminders) {
    reminder = wholeNumber(d.reminderMinutes, LIMITS.reminderMin, LIMITS.reminderMax);
    if (reminder === null) errors['reminder_minutes'] = { key: 'esc.valid.minutes', vars: { min: LIMITS.reminderMin, max: LIMITS.reminderMax } };
  }

  const targetIds = [...new Set(d.targetIds)];
  if (targetIds.length > LIMITS.targets) errors['target_ids'] = { key: 'esc.valid.maxTargets', vars: { max: LIMITS.targets } };

  const tags = splitList(d.tags);
  if (tags.length > LIMITS.tags) errors['tags'] = { plural: 'maxTags', n: LIMITS.tags };
  else if (tags.some((t) => [...t].length > LIMITS.tag)) errors['tags'] = { key: 'chan.valid.tagLength', vars: { max: LIMITS.tag } };

  if (Object.keys(errors).length) return { body: null, errors };
  return { body: { name, steps, reminder_minutes: reminder, target_ids: targetIds, tags }, errors };
}

// The API's 422 on the form --------------------------------------------------------------------

/** `body.steps.1.after_minutes` (or `steps[1].after_minutes`) as the form keys it: `steps[1].after_minutes`. */
export function normalizeField(field: string): string {
  return field
    .trim()
    .replace(/^body\./, '')
    .replace(/\.(\d+)(?=\.|\[|$)/g, '[$1]');
}

/** The slots the form shows an error next to, for a form of `stepCount` steps. */
export function errorSlots(stepCount: number): Set<string> {
  const slots = new Set(['name', 'steps', 'reminder_minutes', 'target_ids', 'tags']);
  for (let i = 0; i < stepCount; i++) {
    slots.add(`steps[${i}].after_minutes`);
    slots.add(`steps[${i}].channel_ids`);
    slots.add(`steps[${i}].member_ids`);
  }
  return slots;
}

/**
 * Where the form shows the error the API named `field`: that slot, else the nearest enclosing one
 * (`steps[0].channel_ids[3]` → `steps[0].channel_ids`, `tags[2]` → `tags`, a step the form no
 * longer has → `steps`), else `_form` (above the buttons).
 */
export function errorSlot(field: string | undefined | null, stepCount: number): string {
  if (!field) return '_form';
  const slots = errorSlots(stepCount);
  let f = normalizeField(field);
  while (f) {
    if (slots.has(f)) return f;
    const cut = Math.max(f.lastIndexOf('.'), f.lastIndexOf('['));
    if (cut <= 0) break;
    f = f.slice(0, cut);
  }
  return '_form';
}

/** The form's errors for an API error (`field` and `message` of its 422 body). */
export function apiErrors(e: { field?: string | undefined; message: string }, stepCount: number): FieldErrors {
  return { [errorSlot(e.field, stepCount)]: { text: e.message } };
}

// Showing a policy -----------------------------------------------------------------------------

/** The channel fields a summary names a channel by. */
export type ChannelRef = Pick<Channel, 'id' | 'kind' | 'label'>;

/** A channel's name: its label, else its kind's name (the kind itself when no name is known). */
export function channelName(ch: Pick<Channel, 'kind' | 'label'>, lang: Lang): string {
  const label = ch.label?.trim();
  if (label) return label;
  const key = `chan.kind.${ch.kind}` as MessageKey;
  const name = translate(lang, key);
  return name === undefined || name === key ? ch.kind : name;
}

/** "now", "after 10 min", "after 2 h". */
export function delayText(minutes: number, lang: Lang): string {
  if (minutes <= 0) return translate(lang, 'esc.now');
  if (minutes % 60 === 0) return translate(lang, 'esc.afterHours', { n: minutes / 60 });
  return translate(lang, 'esc.afterMinutes', { n: minutes });
}

/** The member fields a summary names a member by. */
export type MemberRef = Pick<Member, 'user_id' | 'email'>;

/**
 * One step: "Telegram + Email now", "PagerDuty + ann@example.com after 10 min"; a channel since
 * deleted shows as such, a member not among `members` (not known yet) as "a member".
 */
export function stepText(step: EscalationStep, channels: readonly ChannelRef[], lang: Lang, members: readonly MemberRef[] = []): string {
  const byId = new Map(channels.map((c) => [c.id, c]));
  const names = (step.channel_ids ?? []).map((id) => {
    const ch = byId.get(id);
    return ch ? channelName(ch, lang) : translate(lang, 'esc.deletedChannel');
  });
  const emails = new Map(members.map((m) => [m.user_id, m.email]));
  for (const id of step.member_ids ?? []) names.push(emails.get(id) ?? translate(lang, 'esc.aMember'));
  return `${names.join(' + ') || '—'} ${delayText(step.after_minutes, lang)}`;
}

/** The policy's steps on one line: "Telegram now → PagerDuty after 10 min → Slack after 30 min". */
export function stepsSummary(steps: readonly EscalationStep[], channels: readonly ChannelRef[], lang: Lang, members: readonly MemberRef[] = []): string {
  return steps.map((s) => stepText(s, channels, lang, members)).join(' → ');
}

/** "every 30 min", or "no reminders". */
export function reminderText(minutes: number | null | undefined, lang: Lang): string {
  if (minutes === null || minutes === undefined) return translate(lang, 'esc.noReminders');
  return translate(lang, 'esc.everyMinutes', { n: minutes });
}
