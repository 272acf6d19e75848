import { describe, expect, it } from 'vitest';
import { QUOTA_KEYS, type AdminUser } from '../api/model';
import { adminFieldKey, quotaDraft, quotaPatch } from './adminUsers';

function adminUser(overrides: AdminUser['quota_overrides'] = {}, mayPrivate = false): AdminUser {
  const quotas = Object.fromEntries(QUOTA_KEYS.map((k) => [k, 10])) as AdminUser['quotas'];
  return {
    id: 'u1',
    email: 'a@example.com',
    is_admin: false,
    may_private_targets: mayPrivate,
    quotas,
    quota_overrides: overrides,
    target_count: 3,
    created_at: '2026-12-01T00:00:00Z',
  };
}

describe('admin quota form', () => {
  it('shows overrides as text and the defaults as empty inputs', () => {
    const d = quotaDraft(adminUser({ max_targets: 5, max_headers: null }));
    expect(d.max_targets).toBe('5');
    expect(d.max_headers).toBe('');
    expect(d.test_now_per_minute).toBe('');
    expect(Object.keys(d).sort()).toEqual([...QUOTA_KEYS].sort());
  });

  it('patches only what changed: a new override, an emptied one back to null', () => {
    const u = adminUser({ max_targets: 5, max_channels: 2 });
    const d = quotaDraft(u);
    d.max_targets = '';
    d.test_now_per_minute = ' 30 ';
    d.max_channels = '2';

    const { patch, errors } = quotaPatch(u, d);

    expect(errors).toEqual({});
    expect(patch).toEqual({ quota_overrides: { max_targets: null, test_now_per_minute: 30 } });
  });

  it('patches the private-address permission on its own', () => {
    const u = adminUser({}, false);
    expect(quotaPatch(u, quotaDraft(u), true).patch).toEqual({ may_private_targets: true });
    expect(quotaPatch(u, quotaDraft(u), false).patch).toBeNull();
  });

  it('names every input that is not a whole number and sends nothing for it', () => {
    const u = adminUser();
    const d = quotaDraft(u);
    d.max_targets = '-1';
    d.max_spec_bytes = '1.5';
    d.max_headers = '99999999999';
    d.max_assertions = '0';

    const { patch, errors } = quotaPatch(u, d);

    expect(Object.keys(errors).sort()).toEqual(['quota_overrides.max_headers', 'quota_overrides.max_spec_bytes', 'quota_overrides.max_targets']);
    expect(patch).toEqual({ quota_overrides: { max_assertions: 0 } });
  });

  it('puts an API error next to the field it names', () => {
    expect(adminFieldKey('quota_overrides.max_targets')).toBe('quota_overrides.max_targets');
    expect(adminFieldKey('quota_overrides[max_channels]')).toBe('quota_overrides.max_channels');
    expect(adminFieldKey('may_private_targets')).toBe('may_private_targets');
    expect(adminFieldKey('quota_overrides.unknown')).toBe('_form');
    expect(adminFieldKey(undefined)).toBe('_form');
  });
});
