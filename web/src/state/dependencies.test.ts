import { describe, expect, it } from 'vitest';
import { buildInput, emptyForm, formFromTarget } from './targetForm';
import { MAX_DEPENDS_ON, dependencyErrors, dependencyField, normalizeDependencies, notificationNote } from './dependencies';

const DB = '00000000-0000-7000-8000-0000000000d1';
const CACHE = '00000000-0000-7000-8000-0000000000c1';
const SELF = '00000000-0000-7000-8000-0000000000a1';

function form(dependsOn: string[]) {
  const f = emptyForm();
  f.name = 'api';
  f.http.url = 'https://api.example/';
  f.dependsOn = dependsOn;
  return f;
}

describe('the target form’s dependencies', () => {
  it('sends the chosen targets once each, in the order chosen', () => {
    const { input, errors } = buildInput(form([CACHE, DB, CACHE]));
    expect(errors).toEqual({});
    expect(input.depends_on).toEqual([CACHE, DB]);
    expect(normalizeDependencies([DB, DB])).toEqual([DB]);
  });

  it('sends none as an empty list, which removes the stored ones', () => {
    expect(buildInput(form([])).input.depends_on).toEqual([]);
  });

  it('refuses more than the API takes, and the target itself, by the API’s field names', () => {
    const many = Array.from({ length: MAX_DEPENDS_ON + 1 }, (_, i) => `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`);
    expect(buildInput(form(many)).errors['depends_on']).toEqual({ key: 'deps.max', vars: { max: MAX_DEPENDS_ON } });
    expect(buildInput(form(many.slice(0, MAX_DEPENDS_ON))).errors).toEqual({});
    expect(dependencyErrors([DB, SELF], SELF)).toEqual({ 'depends_on[1]': { key: 'deps.self' } });
    expect(dependencyErrors([DB, SELF])).toEqual({});
  });

  it('opens a saved target with its dependencies, and an import entry without any', () => {
    const f = formFromTarget({ name: 'api', spec: { kind: 'http', url: 'https://api.example/' }, tags: [], paused: false, depends_on: [DB] });
    expect(f.dependsOn).toEqual([DB]);
    expect(buildInput(f).input.depends_on).toEqual([DB]);
    expect(formFromTarget({ name: 'x', spec: { kind: 'http', url: 'https://x.example/' }, tags: [], paused: false }).dependsOn).toEqual([]);
  });

  it('puts the API’s errors on a dependency under the picker', () => {
    expect(dependencyField('depends_on')).toBe('depends_on');
    expect(dependencyField('depends_on[3]')).toBe('depends_on');
    expect(dependencyField('depends_on_names[0]')).toBe('depends_on');
    expect(dependencyField('tags')).toBeNull();
    expect(dependencyField('spec.depends_on')).toBeNull();
  });
});

describe('the incident page’s note on notifications', () => {
  const cause = { incident_id: DB, target_id: DB, target_name: 'db' };

  it('says why nothing was sent yet, when it was, or that nothing ever was', () => {
    expect(notificationNote({ notification: 'held', caused_by: cause })).toEqual({ key: 'deps.held', vars: { name: 'db' } });
    expect(notificationNote({ notification: 'released', caused_by: cause })).toEqual({ key: 'deps.released', vars: { name: 'db' } });
    expect(notificationNote({ notification: 'silent', caused_by: cause })).toEqual({ key: 'deps.silent', vars: { name: 'db' } });
  });

  it('says nothing of an incident notified as usual, linked or not', () => {
    expect(notificationNote({ notification: 'notified', caused_by: cause })).toBeNull();
    expect(notificationNote({ notification: 'notified', caused_by: null })).toBeNull();
  });
});
