import { describe, expect, it } from 'vitest';
import { ApiError } from '../api/client';
import { dictionaries } from '../i18n';
import {
  groupSecret,
  isCompleteCode,
  isTwoFactorRequired,
  normalizeCode,
  normalizeRecoveryCode,
  qrImageUrl,
  recoveryCodesFile,
  secondFactorBody,
  secondStepError,
} from './twoFactor';

describe('code fields', () => {
  it('keeps digits only, at most six', () => {
    expect(normalizeCode('123 456')).toBe('123456');
    expect(normalizeCode('12a-34')).toBe('1234');
    expect(normalizeCode('12345678')).toBe('123456');
  });
  it('knows a complete code', () => {
    expect(isCompleteCode('123456')).toBe(true);
    expect(isCompleteCode('123 456')).toBe(true);
    expect(isCompleteCode('12345')).toBe(false);
    expect(isCompleteCode('12345a')).toBe(false);
  });
  it('trims and bounds a recovery code', () => {
    expect(normalizeRecoveryCode('  abcd-efgh-ijkl-mnop \n')).toBe('abcd-efgh-ijkl-mnop');
    expect(normalizeRecoveryCode('x'.repeat(100))).toHaveLength(64);
  });
});

describe('the login second step', () => {
  it('sends exactly one factor', () => {
    expect(secondFactorBody('ch', 'code', ' 123 456')).toEqual({ challenge: 'ch', code: '123456' });
    expect(secondFactorBody('ch', 'recovery', ' AbCd-efgh ')).toEqual({ challenge: 'ch', recovery_code: 'AbCd-efgh' });
  });

  it('says what a 401 means by its field', () => {
    expect(secondStepError(new ApiError(401, 'unauthorized', 'bad', 'code'), 'code')).toMatchObject({ key: 'tfa.login.wrongCode', restart: false, onField: true });
    expect(secondStepError(new ApiError(401, 'unauthorized', 'bad', 'recovery_code'), 'recovery')).toMatchObject({
      key: 'tfa.login.wrongRecovery',
      onField: true,
    });
    expect(secondStepError(new ApiError(401, 'unauthorized', 'gone', 'challenge'), 'code')).toMatchObject({ key: 'tfa.login.expired', restart: true });
    // Without a field the mode decides.
    expect(secondStepError(new ApiError(401, 'unauthorized', 'bad'), 'recovery')?.key).toBe('tfa.login.wrongRecovery');
  });

  it('gives the wait of a 429', () => {
    expect(secondStepError(new ApiError(429, 'rate_limited', 'slow', undefined, 42), 'code')).toEqual({
      key: 'auth.rateLimited',
      vars: { s: 42 },
      restart: false,
      onField: false,
    });
  });

  it('leaves other failures to the generic message', () => {
    expect(secondStepError(new ApiError(500, 'internal', 'boom'), 'code')).toBeNull();
    expect(secondStepError(new Error('x'), 'code')).toBeNull();
  });

  it('has every message it names in both languages', () => {
    for (const k of ['tfa.login.wrongCode', 'tfa.login.wrongRecovery', 'tfa.login.expired', 'auth.rateLimited'] as const) {
      expect(dictionaries.en[k]).toBeTruthy();
      expect(dictionaries.ru[k]).toBeTruthy();
    }
  });
});

describe('the organisation requirement', () => {
  it('is a 403 that mentions two-factor sign-in', () => {
    expect(isTwoFactorRequired(new ApiError(403, 'forbidden', 'this organisation requires two-factor sign-in: enable it for your account first'))).toBe(true);
    expect(isTwoFactorRequired(new ApiError(403, 'forbidden', 'viewers may not do this'))).toBe(false);
    expect(isTwoFactorRequired(new ApiError(401, 'unauthorized', 'two-factor'))).toBe(false);
  });
});

describe('enrolment', () => {
  const svg = '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10"/></svg>';

  it('turns the SVG into an image URL that decodes to the same markup', () => {
    const url = qrImageUrl(svg)!;
    expect(url.startsWith('data:image/svg+xml;base64,')).toBe(true);
    expect(Buffer.from(url.slice(url.indexOf(',') + 1), 'base64').toString('utf8')).toBe(svg);
    expect(qrImageUrl('<svg><text>é</text></svg>')).not.toBeNull();
  });

  it('refuses anything but an SVG document', () => {
    expect(qrImageUrl('<html><script>alert(1)</script></html>')).toBeNull();
    expect(qrImageUrl('')).toBeNull();
    expect(qrImageUrl('not svg <svg>')).toBeNull();
  });

  it('groups the key in fours for typing', () => {
    expect(groupSecret('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP')).toBe('JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP');
    expect(groupSecret('ABCDEF')).toBe('ABCD EF');
  });

  it('writes the recovery codes one a line', () => {
    const text = recoveryCodesFile(['aaaa-bbbb', 'cccc-dddd'], 'a@b.c', new Date('2026-01-02T03:04:05Z'));
    expect(text.split('\n')).toEqual(['PingTower recovery codes for a@b.c', 'Created 2026-01-02T03:04:05.000Z; each works once.', '', 'aaaa-bbbb', 'cccc-dddd', '']);
  });
});
