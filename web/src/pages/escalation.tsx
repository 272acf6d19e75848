// Escalation policies: the list (steps on one line, reminders, what the policy applies to), and
// the add / edit form — ordered steps of channels, reminders, targets and tags. The form's
// checks, body, summary and the API's 422 on it live in state/escalationForm.ts.

import { useEffect, useState } from 'preact/hooks';
import { ApiError, api } from '../api/client';
import type { Channel, EscalationPolicy, Member } from '../api/model';
import { Check, ErrorBox, Field, NewLink, PageHead, RowDeleteButton, Section, Spinner, Table, errorMessage, useAsync, useBusy, useTitle, val } from '../components/ui';
import { lang, t, tn } from '../i18n';
import { navigate } from '../router';
import { role, toast } from '../session';
import { canManage } from '../state/organisation';
import {
  LIMITS,
  addStep,
  apiErrors,
  buildPolicyBody,
  channelName,
  draftFromPolicy,
  emptyPolicyDraft,
  reminderText,
  removeStep,
  stepsSummary,
  toggleId,
  updateStep,
  type FieldErrors,
  type Msg,
  type PolicyDraft,
} from '../state/escalationForm';
import { KindBadge, msgText } from './channels';

/** Deletes `p` once confirmed; `done` runs after. */
async function deletePolicy(p: Pick<EscalationPolicy, 'id' | 'name'>, done: () => void): Promise<void> {
  if (!confirm(t('common.confirmDelete', { name: p.name }))) return;
  try {
    await api.deleteEscalationPolicy(p.id);
    toast(t('esc.deleted'));
    done();
  } catch (e) {
    toast(errorMessage(e), 'error');
  }
}

// ---------------------------------------------------------------------------------------------
// The list
// ---------------------------------------------------------------------------------------------

export function EscalationPage() {
  useTitle(t('esc.title'));
  const policies = useAsync(() => api.escalationPolicies(), []);
  const channels = useAsync(() => api.channels(), []);
  const members = useAsync(() => api.members(), []);
  const list = policies.data ?? [];
  const chans = channels.data?.items ?? [];
  const people = members.data?.items ?? [];
  return (
    <div class="page">
      <PageHead title={t('esc.title')}>
        {canManage(role.value) ? <NewLink href="/escalation/new" testid="add-policy" label={t('esc.add')} /> : null}
      </PageHead>
      <p class="muted">{t('esc.intro')}</p>
      <ErrorBox error={policies.error} onRetry={policies.reload} />
      {policies.loading && !policies.data ? <Spinner /> : null}
      <section class="card">
        {policies.data && list.length === 0 ? <p class="muted">{t('esc.empty')}</p> : null}
        {list.length ? (
          <Table testid="policies" head={[t('common.name'), t('esc.col.steps'), t('esc.col.reminders'), t('esc.col.appliesTo'), '']}>
            {list.map((p) => (
              <tr data-policy={p.id}>
                <td>
                  <a href={`/escalation/${encodeURIComponent(p.id)}`}>
                    <b>{p.name}</b>
                  </a>
                </td>
                <td data-testid="policy-steps">{channels.data ? stepsSummary(p.steps, chans, lang.value, people) : '…'}</td>
                <td class="muted" data-testid="policy-reminders">
                  {reminderText(p.reminder_minutes, lang.value)}
                </td>
                <td data-testid="policy-applies">
                  <AppliesTo policy={p} />
                </td>
                <td class="num">
                  {canManage(role.value) ? (
                    <div class="row">
                      <a class="btn btn-small" href={`/escalation/${encodeURIComponent(p.id)}`} data-testid="policy-edit">
                        {t('common.edit')}
                      </a>
                      <RowDeleteButton onClick={() => void deletePolicy(p, policies.reload)} />
                    </div>
                  ) : null}
                </td>
              </tr>
            ))}
          </Table>
        ) : null}
      </section>
    </div>
  );
}

function AppliesTo({ policy: p }: { policy: EscalationPolicy }) {
  const targets = p.target_ids?.length ?? 0;
  const tags = p.tags ?? [];
  if (!targets && !tags.length) return <span class="muted">{t('common.none')}</span>;
  return (
    <div class="chips">
      {targets ? <span class="muted">{tn('targets', targets)}</span> : null}
      {tags.map((tag) => (
        <span class="pill" data-tag={tag}>
          #{tag}
        </span>
      ))}
    </div>
  );
}

// ---------------------------------------------------------------------------------------------
// Add and edit
// ---------------------------------------------------------------------------------------------

export function EscalationNewPage() {
  useTitle(t('esc.newTitle'));
  const channels = useAsync(() => api.channels(), []);
  const members = useAsync(() => api.members(), []);
  return (
    <div class="page">
      <PageHead title={t('esc.newTitle')}>
        <a class="btn" href="/escalation">
          {t('common.back')}
        </a>
      </PageHead>
      <ErrorBox error={channels.error} onRetry={channels.reload} />
      {channels.data ? (
        <PolicyForm
          initial={emptyPolicyDraft()}
          channels={channels.data.items}
          members={members.data?.items ?? []}
          onSaved={() => {
            toast(t('esc.created'));
            navigate('/escalation');
          }}
        />
      ) : channels.error ? null : (
        <Spinner />
      )}
    </div>
  );
}

export function EscalationEditPage({ id }: { id: string }) {
  const policy = useAsync(() => api.escalationPolicy(id), [id]);
  const channels = useAsync(() => api.channels(), []);
  const members = useAsync(() => api.members(), []);
  const p = policy.data;
  useTitle(p ? t('esc.editTitle', { name: p.name }) : t('esc.title'));
  const error = policy.error ?? channels.error;
  if (error) {
    return (
      <div class="page">
        <ErrorBox error={error} onRetry={policy.error ? policy.reload : channels.reload} />
        <a href="/escalation">{t('common.back')}</a>
      </div>
    );
  }
  if (!p || !channels.data) return <Spinner />;
  return (
    <div class="page">
      <PageHead title={t('esc.editTitle', { name: p.name })}>
        <div class="actions">
          <a class="btn" href="/escalation">
            {t('common.back')}
          </a>
          <button type="button" class="btn btn-danger" data-testid="policy-delete" onClick={() => void deletePolicy(p, () => navigate('/escalation'))}>
            {t('common.delete')}
          </button>
        </div>
      </PageHead>
      <PolicyForm
        key={`${p.id}:${p.updated_at}`}
        policy={p}
        initial={draftFromPolicy(p)}
        channels={channels.data.items}
        members={members.data?.items ?? []}
        onSaved={() => {
          toast(t('common.saved'));
          navigate('/escalation');
        }}
      />
    </div>
  );
}

// ---------------------------------------------------------------------------------------------
// The form
// ---------------------------------------------------------------------------------------------

function PolicyForm(props: { initial: PolicyDraft; policy?: EscalationPolicy; channels: Channel[]; members: Member[]; onSaved: (p: EscalationPolicy) => void }) {
  const [d, setDraft] = useState<PolicyDraft>(props.initial);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [submitted, setSubmitted] = useState(false);
  // A message, not its text: it follows a change of language.
  const [formError, setFormError] = useState<Msg | null>(null);
  const [busy, whileBusy] = useBusy();
  // Once the form was submitted, each change re-checks it so that a fixed field loses its error.
  const setD = (next: PolicyDraft) => {
    setDraft(next);
    if (!submitted) return;
    const errs = buildPolicyBody(next).errors;
    setErrors(errs);
    if (!Object.keys(errs).length) setFormError(null);
  };
  const err = (field: string) => (errors[field] ? msgText(errors[field]) : undefined);

  async function submit(ev: Event) {
    ev.preventDefault();
    setFormError(null);
    setSubmitted(true);
    const { body, errors: errs } = buildPolicyBody(d);
    setErrors(errs);
    if (!body) return setFormError({ key: 'valid.fix' });
    await whileBusy(async () => {
      try {
        const saved = props.policy ? await api.updateEscalationPolicy(props.policy.id, body) : await api.createEscalationPolicy(body);
        props.onSaved(saved);
      } catch (e) {
        if (e instanceof ApiError && e.isValidation) {
          const mapped = apiErrors(e, d.steps.length);
          setErrors(mapped);
          setFormError(mapped['_form'] ? (e.field ? { key: 'chan.fieldError', vars: { field: e.field, msg: e.message } } : { text: e.message }) : { key: 'valid.fix' });
        } else {
          setFormError({ text: errorMessage(e) });
        }
      }
    });
  }

  return (
    <form class="page" onSubmit={submit} data-testid="policy-form" novalidate>
      <Section title={t('esc.settings')}>
        <div class="grid">
          <Field label={t('common.name')} error={err('name')} name="name">
            <input name="name" value={d.name} maxLength={LIMITS.name + 20} onInput={(e) => setD({ ...d, name: val(e) })} />
          </Field>
        </div>
      </Section>

      <Section
        title={t('esc.steps')}
        actions={
          <button type="button" class="btn btn-small" data-testid="add-step" disabled={d.steps.length >= LIMITS.steps} onClick={() => setD(addStep(d))}>
            + {t('esc.addStep')}
          </button>
        }
      >
        <p class="muted">{t('esc.stepsHint')}</p>
        {err('steps') ? (
          <p class="error-text" role="alert" data-field="steps">
            {err('steps')}
          </p>
        ) : null}
        {props.channels.length === 0 ? (
          <div class="notice notice-warn">
            {t('esc.noChannelsYet')} <a href="/channels">{t('nav.channels')}</a>
          </div>
        ) : null}
        <ol class="esc-steps">
          {d.steps.map((s, i) => (
            <li class="esc-step" data-testid="policy-step" data-step={i}>
              <div class="row">
                <b class="grow">{t('esc.step', { n: i + 1 })}</b>
                {d.steps.length > 1 ? <RowDeleteButton label={t('esc.removeStep')} onClick={() => setD(removeStep(d, i))} /> : null}
              </div>
              <div class="grid">
                <Field label={t('esc.after')} error={err(`steps[${i}].after_minutes`)} name={`steps[${i}].after_minutes`}>
                  <input
                    name={`steps[${i}].after_minutes`}
                    type="number"
                    inputMode="numeric"
                    min={0}
                    max={LIMITS.afterMinutes}
                    value={s.after}
                    onInput={(e) => setD(updateStep(d, i, { after: val(e) }))}
                  />
                </Field>
                <fieldset class="wide esc-channels" data-field={`steps[${i}].channel_ids`}>
                  <legend class="label">{t('esc.channels')}</legend>
                  <StepChannels
                    channels={props.channels}
                    chosen={s.channelIds}
                    name={`steps[${i}].channel_ids`}
                    onChange={(ids) => setD(updateStep(d, i, { channelIds: ids }))}
                  />
                  {err(`steps[${i}].channel_ids`) ? (
                    <span class="error-text" role="alert">
                      {err(`steps[${i}].channel_ids`)}
                    </span>
                  ) : null}
                </fieldset>
                <fieldset class="wide esc-channels" data-field={`steps[${i}].member_ids`}>
                  <legend class="label">{t('esc.members')}</legend>
                  <p class="muted">{t('esc.membersHint')}</p>
                  <StepMembers
                    members={props.members}
                    chosen={s.memberIds ?? []}
                    name={`steps[${i}].member_ids`}
                    onChange={(ids) => setD(updateStep(d, i, { memberIds: ids }))}
                  />
                  {err(`steps[${i}].member_ids`) ? (
                    <span class="error-text" role="alert">
                      {err(`steps[${i}].member_ids`)}
                    </span>
                  ) : null}
                </fieldset>
              </div>
            </li>
          ))}
        </ol>
      </Section>

      <Section title={t('esc.reminders')}>
        <div class="grid">
          <div class="wide">
            <Check name="reminders" label={t('esc.remindersOn')} checked={d.reminders} onChange={(reminders) => setD({ ...d, reminders })} />
          </div>
          {d.reminders ? (
            <Field
              label={t('esc.reminderEvery')}
              hint={t('esc.reminderHint', { min: LIMITS.reminderMin, max: LIMITS.reminderMax })}
              error={err('reminder_minutes')}
              name="reminder_minutes"
            >
              <input
                name="reminder_minutes"
                type="number"
                inputMode="numeric"
                min={LIMITS.reminderMin}
                max={LIMITS.reminderMax}
                value={d.reminderMinutes}
                onInput={(e) => setD({ ...d, reminderMinutes: val(e) })}
              />
            </Field>
          ) : null}
        </div>
      </Section>

      <Section title={t('esc.appliesTo')}>
        <div class="grid">
          <div class="wide field" data-field="target_ids">
            <span class="label">{t('esc.targets')}</span>
            <TargetPicker ids={d.targetIds} onChange={(targetIds) => setD({ ...d, targetIds })} />
            {err('target_ids') ? (
              <span class="error-text" role="alert">
                {err('target_ids')}
              </span>
            ) : null}
          </div>
          <Field label={t('esc.tags')} hint={t('esc.tagsHint', { max: LIMITS.tags })} error={err('tags')} name="tags" wide>
            <input name="tags" value={d.tags} placeholder="prod, db" onInput={(e) => setD({ ...d, tags: val(e) })} />
          </Field>
        </div>
        {d.targetIds.length === 0 && d.tags.trim() === '' ? <p class="muted">{t('esc.nothingAttached')}</p> : null}
      </Section>

      {formError ? (
        <div class="notice notice-error" role="alert" data-testid="policy-form-error">
          {msgText(formError)}
        </div>
      ) : null}
      <div class="form-actions">
        <button class="btn btn-primary" type="submit" disabled={busy} data-testid="save-policy">
          {props.policy ? t('common.save') : t('common.create')}
        </button>
      </div>
    </form>
  );
}

/** A step's channels: one checkbox each, and the ids of channels since deleted, to untick. */
function StepChannels(props: { channels: Channel[]; chosen: string[]; name: string; onChange: (ids: string[]) => void }) {
  const known = new Set(props.channels.map((c) => c.id));
  const gone = props.chosen.filter((id) => !known.has(id));
  const full = props.chosen.length >= LIMITS.stepChannels;
  return (
    <div class="esc-channel-list">
      {props.channels.map((c) => {
        const on = props.chosen.includes(c.id);
        return (
          <label class="check esc-channel" data-channel={c.id} title={c.address}>
            <input
              type="checkbox"
              name={props.name}
              value={c.id}
              checked={on}
              disabled={!on && full}
              onChange={(e) => props.onChange(toggleId(props.chosen, c.id, e.currentTarget.checked, LIMITS.stepChannels))}
            />
            <KindBadge kind={c.kind} />
            {c.label?.trim() ? <span class="esc-channel-name">{channelName(c, lang.value)}</span> : <span class="esc-channel-name muted mono">{c.address}</span>}
            {c.enabled === false || c.disabled_reason ? <span class="pill pill-down">{t('chan.state.disabled')}</span> : !c.verified ? <span class="pill pill-degraded">{t('chan.state.unverified')}</span> : null}
          </label>
        );
      })}
      {gone.map((id) => (
        <label class="check esc-channel" data-channel={id}>
          <input type="checkbox" checked onChange={() => props.onChange(props.chosen.filter((x) => x !== id))} />
          <span class="muted">{t('esc.deletedChannel')}</span>
        </label>
      ))}
    </div>
  );
}

/** A step's members: one checkbox each, and members no longer listed, to untick. */
function StepMembers(props: { members: Member[]; chosen: string[]; name: string; onChange: (ids: string[]) => void }) {
  const known = new Set(props.members.map((m) => m.user_id));
  const gone = props.chosen.filter((id) => !known.has(id));
  const full = props.chosen.length >= LIMITS.stepMembers;
  return (
    <div class="esc-channel-list">
      {props.members.map((m) => {
        const on = props.chosen.includes(m.user_id);
        return (
          <label class="check esc-channel" data-member={m.user_id}>
            <input
              type="checkbox"
              name={props.name}
              value={m.user_id}
              checked={on}
              disabled={!on && full}
              onChange={(e) => props.onChange(toggleId(props.chosen, m.user_id, e.currentTarget.checked, LIMITS.stepMembers))}
            />
            <span class="esc-channel-name">{m.email}</span>
          </label>
        );
      })}
      {gone.map((id) => (
        <label class="check esc-channel" data-member={id}>
          <input type="checkbox" checked onChange={() => props.onChange(props.chosen.filter((x) => x !== id))} />
          <span class="muted">{t('esc.aMember')}</span>
        </label>
      ))}
    </div>
  );
}

/**
 * The targets a policy is attached to (or a target depends on): chips of the chosen ones (their
 * names from the first 500 targets, else read one by one) and a search of the user's targets to
 * add more — there may be 10,000. `exclude` is never offered (the target being edited); `max`
 * chosen at most (the policy's limit by default); `testid` prefixes the test ids.
 */
export function TargetPicker(props: { ids: string[]; onChange: (ids: string[]) => void; exclude?: string; max?: number; testid?: string }) {
  const max = props.max ?? LIMITS.targets;
  const testid = props.testid ?? 'policy-target';
  const [names, setNames] = useState<Map<string, string | null>>(new Map());
  const [q, setQ] = useState('');
  const [found, setFound] = useState<{ id: string; name: string }[]>([]);
  const remember = (items: { id: string; name: string }[]) =>
    setNames((m) => {
      const next = new Map(m);
      for (const x of items) next.set(x.id, x.name);
      return next;
    });

  // The names of the chosen targets: the first page of the list, then any still unknown one by one.
  useEffect(() => {
    let live = true;
    void (async () => {
      const known = new Map<string, string | null>();
      try {
        const page = await api.targets({ limit: 500, sort: 'name' });
        for (const x of page.items) known.set(x.id, x.name);
      } catch {
        /* the chips show ids meanwhile */
      }
      const missing = props.ids.filter((id) => !known.has(id));
      for (let i = 0; i < missing.length && live; i += 5) {
        await Promise.all(
          missing.slice(i, i + 5).map((id) =>
            api.target(id).then(
              (x) => known.set(id, x.name),
              (e: unknown) => {
                if (e instanceof ApiError && e.status === 404) known.set(id, null);
              },
            ),
          ),
        );
      }
      if (live) setNames((m) => new Map([...known, ...m]));
    })();
    return () => {
      live = false;
    };
    // Only the ids the form opened with: names of those added later come from the search.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    const h = setTimeout(() => {
      api.targets({ q: q.trim(), limit: 20, sort: 'name' }).then(
        (p) => {
          const items = p.items.map((x) => ({ id: x.id, name: x.name }));
          remember(items);
          setFound(items);
        },
        () => setFound([]),
      );
    }, 150);
    return () => clearTimeout(h);
  }, [q]);

  const chosen = new Set(props.ids);
  const full = props.ids.length >= max;
  const candidates = found.filter((x) => !chosen.has(x.id) && x.id !== props.exclude);
  return (
    <div class="esc-targets" data-testid={`${testid}s`}>
      {props.ids.length ? <p class="muted">{tn('targets', props.ids.length)}</p> : null}
      <div class="chips">
        {props.ids.map((id) => {
          const name = names.get(id);
          return (
            <button
              type="button"
              class="chip"
              data-testid={testid}
              data-target={id}
              title={t('common.remove')}
              onClick={() => props.onChange(props.ids.filter((x) => x !== id))}
            >
              × {name === null ? t('esc.deletedTarget') : (name ?? `${id.slice(0, 8)}…`)}
            </button>
          );
        })}
      </div>
      <input
        type="search"
        name="target-search"
        value={q}
        placeholder={t('esc.findTargets')}
        aria-label={t('esc.findTargets')}
        onInput={(e) => setQ(val(e))}
      />
      <div class="chips">
        {candidates.map((x) => (
          <button type="button" class="chip" data-testid={`${testid}-candidate`} disabled={full} onClick={() => props.onChange(toggleId(props.ids, x.id, true, max))}>
            + {x.name}
          </button>
        ))}
        {found.length > 0 && candidates.length === 0 ? <span class="muted">{t('esc.noTargetsFound')}</span> : null}
      </div>
    </div>
  );
}
