// What the sign-in page offers: single sign-on when an issuer is configured, the password form
// unless the installation turned it off, and the refusal code a failed single sign-on came back with.

export interface SignInOptions {
  sso: boolean;
  passwords: boolean;
  ssoError: string | null;
}

export function signInOptions(config: { oidc?: boolean; password_login?: boolean } | null | undefined, search: string): SignInOptions {
  const error = new URLSearchParams(search).get('error');
  return {
    sso: config?.oidc === true,
    // Until the configuration has loaded, the password form shows (the default of every install).
    passwords: config?.password_login !== false,
    // Only a code of the backend's shape is shown: never arbitrary text from the address bar.
    ssoError: error && /^[a-z_]{1,40}$/.test(error) ? error : null,
  };
}
