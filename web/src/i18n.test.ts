import { describe, expect, it } from 'vitest';
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
  it('has a name for every failure kind of common::messages in both languages', async () => {
    const kinds = ['dns_nxdomain', 'dns_servfail', 'dns_timeout', 'dns_no_records', 'dns_unexpected_answer', 'dns_error', 'connect_refused', 'connect_timeout', 'connect_error', 'tls_expired', 'tls_not_yet_valid', 'tls_untrusted', 'tls_hostname', 'tls_expiring', 'tls_handshake', 'http_status', 'http_protocol', 'assertion_failed', 'redirect_loop', 'too_many_redirects', 'insecure_redirect', 'unexpected_final_url', 'slow_response', 'banner_mismatch', 'packet_loss', 'timeout', 'blocked_address', 'internal', 'other'];
    for (const k of kinds) {
      expect(Object.keys(dictionaries.en), k).toContain(`failure.${k}`);
      expect(Object.keys(dictionaries.ru), k).toContain(`failure.${k}`);
    }
  });
});
