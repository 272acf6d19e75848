import { describe, expect, it } from 'vitest';
import { atLeast, auditFields, auditQuery, canEdit, canManage, grantableRoles, memberActions, orgNameError } from './organisation';

describe('roles', () => {
  it('orders owner > admin > editor > viewer', () => {
    expect(atLeast('owner', 'admin')).toBe(true);
    expect(atLeast('admin', 'owner')).toBe(false);
    expect(atLeast('editor', 'editor')).toBe(true);
    expect(atLeast('viewer', 'editor')).toBe(false);
    expect(atLeast(undefined, 'viewer')).toBe(false);
    expect(atLeast('root', 'viewer')).toBe(false);
  });
  it('lets editors edit and admins manage', () => {
    expect([canEdit('viewer'), canEdit('editor'), canEdit('admin'), canEdit('owner')]).toEqual([false, true, true, true]);
    expect([canManage('viewer'), canManage('editor'), canManage('admin'), canManage('owner')]).toEqual([false, false, true, true]);
    expect(canEdit(null)).toBe(false);
  });
  it('grants at most one’s own role, never the owner’s', () => {
    expect(grantableRoles('owner')).toEqual(['admin', 'editor', 'viewer']);
    expect(grantableRoles('admin')).toEqual(['admin', 'editor', 'viewer']);
    expect(grantableRoles('editor')).toEqual([]);
    expect(grantableRoles(undefined)).toEqual([]);
  });
});

describe('memberActions', () => {
  const owner = { user_id: 'o', role: 'owner' };
  const admin = { user_id: 'a', role: 'admin' };
  const viewer = { user_id: 'v', role: 'viewer' };
  it('lets the owner change and remove others but not themselves', () => {
    expect(memberActions(owner, viewer, false)).toEqual({ roles: ['admin', 'editor', 'viewer'], remove: true, leave: false });
    expect(memberActions(owner, owner, false)).toEqual({ roles: [], remove: false, leave: false });
  });
  it('never lets an admin touch the owner', () => {
    expect(memberActions(admin, owner, false)).toEqual({ roles: [], remove: false, leave: false });
    expect(memberActions(admin, viewer, false).remove).toBe(true);
  });
  it('offers a viewer only to leave, and never in a personal organisation', () => {
    expect(memberActions(viewer, admin, false)).toEqual({ roles: [], remove: false, leave: false });
    expect(memberActions(viewer, viewer, false)).toEqual({ roles: [], remove: false, leave: true });
    expect(memberActions(viewer, viewer, true).leave).toBe(false);
  });
});

describe('audit', () => {
  it('builds the page query, leaving out empty filters', () => {
    expect(auditQuery({ user_id: '', resource: ' ' }, null)).toEqual({ limit: 50 });
    expect(auditQuery({ user_id: 'u1', resource: 'targets' }, 120, 20)).toEqual({ limit: 20, user_id: 'u1', resource: 'targets', before: 120 });
  });
  it('shows fields as pairs, unrecorded values masked', () => {
    expect(auditFields({ name: 'api', interval_seconds: 60, password: null })).toBe('name=api, interval_seconds=60, password=•••');
    expect(auditFields(null)).toBe('');
    expect(auditFields([1])).toBe('');
  });
});

describe('orgNameError', () => {
  it('mirrors the backend’s 1 to 100 characters', () => {
    expect(orgNameError('  ')).toBe('required');
    expect(orgNameError('Team')).toBeNull();
    expect(orgNameError('я'.repeat(100))).toBeNull();
    expect(orgNameError('x'.repeat(101))).toBe('tooLong');
  });
});
