// Organisations as data: the roles' order and what each may do in the dashboard (the server
// enforces the same: a control hidden here would be answered 403), what the members table offers
// on each row, the audit log's query and filters.

export const ROLES = ['owner', 'admin', 'editor', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

const RANK: Record<Role, number> = { viewer: 0, editor: 1, admin: 2, owner: 3 };

export function isRole(v: unknown): v is Role {
  return typeof v === 'string' && (ROLES as readonly string[]).includes(v);
}

/** `role` is `min` or above; an unknown role (not loaded yet) is none. */
export function atLeast(role: Role | string | null | undefined, min: Role): boolean {
  return isRole(role) && RANK[role] >= RANK[min];
}

/** Targets, status pages, maintenance windows, import: editor and above. */
export const canEdit = (role: Role | string | null | undefined): boolean => atLeast(role, 'editor');
/** Channels, escalation, members, the organisation's settings, the audit log: admin and above. */
export const canManage = (role: Role | string | null | undefined): boolean => atLeast(role, 'admin');

/** Roles someone of `by` may give by an invitation or a change: at most their own, never the owner's. */
export function grantableRoles(by: Role | string | null | undefined): Role[] {
  if (!canManage(by)) return [];
  return ROLES.filter((r) => r !== 'owner' && RANK[r] <= RANK[by as Role]);
}

export interface MemberRow {
  user_id: string;
  role: Role | string;
}

export interface MemberActions {
  /** The roles the role select offers; empty: the role is shown as text. */
  roles: Role[];
  /** A "Remove" button (someone else, by an admin or the owner). */
  remove: boolean;
  /** A "Leave" button (one's own row, not the owner's). */
  leave: boolean;
}

/**
 * What the members table offers on `member`'s row to `me` (mirrors the backend: the owner's row
 * changes only by a transfer; an admin changes and removes no one above them).
 */
export function memberActions(me: MemberRow, member: MemberRow, personal: boolean): MemberActions {
  const self = me.user_id === member.user_id;
  if (self) return { roles: [], remove: false, leave: !personal && member.role !== 'owner' };
  if (!canManage(me.role) || member.role === 'owner' || !isRole(member.role)) return { roles: [], remove: false, leave: false };
  if (RANK[member.role] > RANK[me.role as Role]) return { roles: [], remove: false, leave: false };
  return { roles: grantableRoles(me.role), remove: true, leave: false };
}

export interface AuditFilters {
  user_id: string;
  resource: string;
}

/** The resources the audit log's filter offers (the first segment after `/api/`). */
export const AUDIT_RESOURCES = [
  'targets',
  'channels',
  'escalation-policies',
  'status-pages',
  'maintenance',
  'incidents',
  'tokens',
  'organisation',
  'organisations',
  'session',
  'invitations',
] as const;

/** The query of one page of the audit log: filters left out when empty, `before` for "older". */
export function auditQuery(f: AuditFilters, before: number | null, limit = 50): Record<string, string | number> {
  const q: Record<string, string | number> = { limit };
  if (f.user_id) q.user_id = f.user_id;
  if (f.resource.trim()) q.resource = f.resource.trim();
  if (before !== null) q.before = before;
  return q;
}

/** An audit entry's fields, as `name=value` pairs for a table cell (`null`: not recorded). */
export function auditFields(fields: unknown): string {
  if (!fields || typeof fields !== 'object' || Array.isArray(fields)) return '';
  return Object.entries(fields as Record<string, unknown>)
    .map(([k, v]) => `${k}=${v === null ? '•••' : typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
}

/** Validates a new organisation's name as the backend does (1 to 100 characters after trimming). */
export function orgNameError(name: string): 'required' | 'tooLong' | null {
  const n = name.trim();
  if (!n) return 'required';
  if ([...n].length > 100) return 'tooLong';
  return null;
}
