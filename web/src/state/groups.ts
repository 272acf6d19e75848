// Group incidents (cause correlation) in the dashboard: a group's cause signal in words, the
// incidents page's filter as the list's `state`, and how many members a list row names.

import type { IncidentGroupSummary } from '../api/model';
import type { Msg } from './dependencies';

/** The `state` filter of `GET /api/incident-groups`. */
export type GroupState = 'open' | 'resolved' | 'all';

/** The incidents page's status tab (`open`, `resolved`, `` for all) as the groups' `state`. */
export function groupState(status: string): GroupState {
  return status === 'open' || status === 'resolved' ? status : 'all';
}

/** `a:b:c` split at its last `:` (addresses may hold colons: `ip:2001:db8::1:timeout`). */
function lastColon(s: string): [string, string] | null {
  const i = s.lastIndexOf(':');
  return i > 0 && i < s.length - 1 ? [s.slice(0, i), s.slice(i + 1)] : null;
}

/**
 * What a group's members share, in words of the catalog: the cause signal
 * (`ip:203.0.113.7:connect_refused`, `host:…`, `dns:<resolver>:<rcode>`, `cert:<fingerprint>`,
 * `region:<region>:<kind>:<phase>`) read back into a message; `failure` names a failure kind in
 * the UI's language. A signal this version does not know shows the server's `summary`.
 */
export function describeCause(cause: string, summary: string, failure: (kind: string) => string): Msg {
  const colon = cause.indexOf(':');
  const kind = colon > 0 ? cause.slice(0, colon) : '';
  const rest = colon > 0 ? cause.slice(colon + 1) : '';
  switch (kind) {
    case 'cert':
      if (rest) return { key: 'groups.cause.cert', vars: { fingerprint: rest.length > 16 ? `${rest.slice(0, 16)}…` : rest } };
      break;
    case 'dns': {
      const p = lastColon(rest);
      if (p) return { key: 'groups.cause.dns', vars: { resolver: p[0], rcode: p[1] } };
      break;
    }
    case 'ip':
    case 'host': {
      const p = lastColon(rest);
      if (p) return { key: kind === 'ip' ? 'groups.cause.ip' : 'groups.cause.host', vars: { where: p[0], failure: failure(p[1]) } };
      break;
    }
    case 'region': {
      const p = lastColon(rest);
      const q = p ? lastColon(p[0]) : null;
      if (p && q) return { key: 'groups.cause.region', vars: { region: q[0], failure: failure(q[1]), phase: p[1] } };
      break;
    }
  }
  return { key: 'groups.cause.other', vars: { summary: summary || cause } };
}

/** How many members a list row does not name (it names at most the first five). */
export function unnamedMembers(g: Pick<IncidentGroupSummary, 'member_count' | 'first_members'>): number {
  return Math.max(0, g.member_count - g.first_members.length);
}

/** The row's state: `open` while a member is, `resolved` once the last one resolved. */
export function groupPhase(g: Pick<IncidentGroupSummary, 'resolved_at'>): 'open' | 'resolved' {
  return g.resolved_at ? 'resolved' : 'open';
}
