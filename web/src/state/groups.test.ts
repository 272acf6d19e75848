import { describe, expect, it, vi } from 'vitest';
import { ApiClient } from '../api/client';
import { translate } from '../i18n';
import { describeCause, groupPhase, groupState, unnamedMembers } from './groups';

const label = (kind: string) => `<${kind}>`;

describe('a group’s cause in words', () => {
  it('reads every kind of cause signal back into a message of the catalog', () => {
    expect(describeCause('ip:203.0.113.7:connect_refused', 's', label)).toEqual({
      key: 'groups.cause.ip',
      vars: { where: '203.0.113.7', failure: '<connect_refused>' },
    });
    expect(describeCause('ip:2001:db8::1:timeout', 's', label)).toEqual({ key: 'groups.cause.ip', vars: { where: '2001:db8::1', failure: '<timeout>' } });
    expect(describeCause('host:shop.example.com:http_status', 's', label)).toEqual({
      key: 'groups.cause.host',
      vars: { where: 'shop.example.com', failure: '<http_status>' },
    });
    expect(describeCause('dns:192.0.2.53:53:SERVFAIL', 's', label)).toEqual({ key: 'groups.cause.dns', vars: { resolver: '192.0.2.53:53', rcode: 'SERVFAIL' } });
    expect(describeCause(`cert:${'ab'.repeat(32)}`, 's', label)).toEqual({ key: 'groups.cause.cert', vars: { fingerprint: `${'ab'.repeat(8)}…` } });
    expect(describeCause('region:eu-west:connect_timeout:connect', 's', label)).toEqual({
      key: 'groups.cause.region',
      vars: { region: 'eu-west', failure: '<connect_timeout>', phase: 'connect' },
    });
  });

  it('shows the server’s summary for a signal it cannot read', () => {
    for (const cause of ['asn:64500:down', 'ip:', 'ip:203.0.113.7', 'host::timeout', 'region:eu:timeout', 'nonsense', 'cert:']) {
      expect(describeCause(cause, 'all share something', label), cause).toEqual({ key: 'groups.cause.other', vars: { summary: 'all share something' } });
    }
    expect(describeCause('weird', '', label)).toEqual({ key: 'groups.cause.other', vars: { summary: 'weird' } });
  });

  it('says it in English and Russian', () => {
    const m = describeCause('ip:203.0.113.7:connect_refused', 's', () => 'Connection refused');
    expect(translate('en', m.key, m.vars)).toBe('All resolve to 203.0.113.7: Connection refused');
    const ru = describeCause('ip:203.0.113.7:connect_refused', 's', () => 'Соединение отклонено');
    expect(translate('ru', ru.key, ru.vars)).toBe('Все указывают на адрес 203.0.113.7: Соединение отклонено');
    const region = describeCause('region:ap:timeout:ttfb', 's', () => 'Timeout');
    expect(translate('en', region.key, region.vars)).toBe('Down from ap only: Timeout (in the ttfb phase)');
    const other = describeCause('x', 'all are on a.example, which refuses connections', label);
    expect(translate('ru', other.key, other.vars)).toBe('all are on a.example, which refuses connections');
  });
});

describe('the grouped outages list', () => {
  it('maps the status tab to the list’s state', () => {
    expect(groupState('open')).toBe('open');
    expect(groupState('resolved')).toBe('resolved');
    expect(groupState('')).toBe('all');
    expect(groupState('bogus')).toBe('all');
  });

  it('counts the members a row does not name, and tells open from resolved', () => {
    const first = [{ incident_id: 'i', target_id: 't', target_name: 'a' }];
    expect(unnamedMembers({ member_count: 7, first_members: [...first, ...first, ...first, ...first, ...first] })).toBe(2);
    expect(unnamedMembers({ member_count: 1, first_members: first })).toBe(0);
    expect(unnamedMembers({ member_count: 0, first_members: first })).toBe(0);
    expect(groupPhase({ resolved_at: null })).toBe('open');
    expect(groupPhase({ resolved_at: '2026-12-01T00:00:00Z' })).toBe('resolved');
  });

  it('asks for a page with the state, limit and cursor in the query', async () => {
    const calls: string[] = [];
    const fetch = vi.fn(async (url: string) => {
      calls.push(url);
      return new Response(JSON.stringify({ items: [], total: 0, next_cursor: null }), { status: 200, headers: { 'content-type': 'application/json' } });
    });
    const c = new ApiClient({ fetch });
    await c.incidentGroups({ state: 'open', limit: 50 });
    await c.incidentGroups({ state: 'all', limit: 50, cursor: 'Zzo' });
    await c.incidentGroups();
    expect(calls).toEqual(['/api/incident-groups?state=open&limit=50', '/api/incident-groups?state=all&limit=50&cursor=Zzo', '/api/incident-groups']);
  });
});
