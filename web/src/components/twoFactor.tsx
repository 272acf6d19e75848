// Two-factor pieces shared by the sign-in page and the account security page: the code field,
// and the banner the shell shows once an organisation refused the session for lacking it.

import { effect, signal } from '@preact/signals';
import type { ApiClient } from '../api/client';
import { t } from '../i18n';
import { user } from '../session';
import { normalizeCode } from '../state/twoFactor';

/** Set when an organisation route answered 403 "requires two-factor sign-in"; cleared on enabling it or another user. */
export const twoFactorRequired = signal(false);

/** Watches the client's 403s for the organisation's two-factor requirement (keeps any earlier hook). */
export function installTwoFactorGate(client: ApiClient): void {
  const earlier = client.onForbidden;
  client.onForbidden = (message) => {
    earlier?.(message);
    if (/two-factor/i.test(message)) twoFactorRequired.value = true;
  };
  let who: string | null | undefined;
  effect(() => {
    const id = user.value?.id ?? null;
    if (who !== undefined && id !== who) twoFactorRequired.value = false;
    who = id;
  });
}

export function TwoFactorBanner() {
  if (!twoFactorRequired.value) return null;
  return (
    <div class="notice notice-warn" role="alert" data-testid="tfa-required-banner">
      <span class="grow">{t('tfa.banner')}</span>{' '}
      <a class="btn btn-small" href="/account/security">
        {t('tfa.bannerLink')}
      </a>
    </div>
  );
}

/** A 6-digit code field: digits only, the browser's one-time-code autofill, the numeric keyboard on a phone. */
export function CodeInput(props: { name: string; value: string; onInput: (v: string) => void; autoFocus?: boolean; required?: boolean }) {
  return (
    <input
      type="text"
      name={props.name}
      inputMode="numeric"
      autocomplete="one-time-code"
      pattern="[0-9]{6}"
      maxLength={6}
      size={8}
      class="mono"
      required={props.required ?? true}
      autoFocus={props.autoFocus}
      value={props.value}
      onInput={(e) => {
        // Set the field too: a rejected character leaves the state as it was, so no render would undo it.
        const v = normalizeCode(e.currentTarget.value);
        e.currentTarget.value = v;
        props.onInput(v);
      }}
    />
  );
}
