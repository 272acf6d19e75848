import { describe, expect, it } from 'vitest';
import { HEARTBEAT_EVENTS, type FailureKind, type Phase } from './api/model';
import { dictionaries, initialLang, translate } from './i18n';

describe('i18n', () => {
  it('has a Russian string for every English one, none empty', () => {
    const en = Object.keys(dictionaries.en).sort();
    expect(Object.keys(dictionaries.ru).sort()).toEqual(en);
    for (const [k, v] of Object.entries(dictionaries.ru)) expect(v, k).not.toBe('');
  });
  it('keeps the placeholders of every message', () => {
    const ph = (s: string) => (s.match(/\{\w+\}/g) ?? []).sort().join();
    for (const k of Object.keys(dictionaries.en) as (keyof typeof dictionaries.en)[]) {
      expect(ph(dictionaries.ru[k]), k).toBe(ph(dictionaries.en[k]));
    }
  });
  it('substitutes variables', () => {
    expect(translate('en', 'common.confirmDelete', { name: 'api' })).toBe('Delete “api”?');
    expect(translate('ru', 'common.confirmDelete', { name: 'api' })).toBe('Удалить «api»?');
  });
  it('picks the saved language, then the browser one', () => {
    expect(initialLang('ru', 'en-US')).toBe('ru');
    expect(initialLang(null, 'ru-RU')).toBe('ru');
    expect(initialLang('xx', 'de')).toBe('en');
  });
});

describe('failure kinds', () => {
  it('has a name for every failure kind and phase of the API document in both languages', () => {
    // Typed by the generated schema: a kind or phase the backend adds fails to compile here until it is listed.
    const kinds: Record<FailureKind, true> = {
      dns_nxdomain: true,
      dns_servfail: true,
      dns_timeout: true,
      dns_no_records: true,
      dns_unexpected_answer: true,
      dns_error: true,
      connect_refused: true,
      connect_timeout: true,
      connect_error: true,
      tls_expired: true,
      tls_not_yet_valid: true,
      tls_untrusted: true,
      tls_hostname: true,
      tls_expiring: true,
      tls_handshake: true,
      http_status: true,
      http_protocol: true,
      assertion_failed: true,
      redirect_loop: true,
      too_many_redirects: true,
      insecure_redirect: true,
      unexpected_final_url: true,
      slow_response: true,
      banner_mismatch: true,
      packet_loss: true,
      heartbeat_missed: true,
      heartbeat_failed: true,
      heartbeat_late: true,
      timeout: true,
      blocked_address: true,
      internal: true,
      other: true,
    };
    const phases: Record<Phase, true> = { dns: true, connect: true, tls: true, ttfb: true, transfer: true, redirect: true, validation: true, setup: true, schedule: true };
    const keys = [...Object.keys(kinds).map((k) => `failure.${k}`), ...Object.keys(phases).map((p) => `phase.${p}`)];
    expect(keys).toContain('failure.heartbeat_late');
    for (const k of keys) {
      expect(Object.keys(dictionaries.en), k).toContain(k);
      expect(Object.keys(dictionaries.ru), k).toContain(k);
    }
  });

  it('names every heartbeat event in both languages', () => {
    for (const e of HEARTBEAT_EVENTS) {
      expect(dictionaries.en, e).toHaveProperty([`hb.event.${e}`]);
      expect(dictionaries.ru, e).toHaveProperty([`hb.event.${e}`]);
    }
  });
});
