import { describe, expect, it } from 'vitest';
import { signInOptions } from './signIn';

describe('signInOptions', () => {
  it('offers single sign-on only when an issuer is configured', () => {
    expect(signInOptions({ oidc: true, password_login: true }, '').sso).toBe(true);
    expect(signInOptions({ oidc: false, password_login: true }, '').sso).toBe(false);
    expect(signInOptions(null, '').sso).toBe(false);
  });

  it('hides the password form only when the installation turned it off', () => {
    expect(signInOptions({ oidc: true, password_login: false }, '').passwords).toBe(false);
    expect(signInOptions({ oidc: true, password_login: true }, '').passwords).toBe(true);
    expect(signInOptions(undefined, '').passwords).toBe(true);
  });

  it('shows a refusal code from the callback, never other text', () => {
    expect(signInOptions(null, '?error=invalid_id_token').ssoError).toBe('invalid_id_token');
    expect(signInOptions(null, '?error=%3Cscript%3E').ssoError).toBe(null);
    expect(signInOptions(null, '?next=/targets').ssoError).toBe(null);
  });
});
