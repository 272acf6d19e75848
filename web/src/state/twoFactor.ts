// Two-factor sign-in (TOTP) as data: what the code fields accept, the login's second step body,
// what its errors mean, the QR code as an image URL (never markup in the page), the recovery
// codes as a file, and the organisation's "enable two-factor first" refusal.

import { ApiError } from '../api/client';
import type { MessageKey } from '../i18n';

/** Which second factor the sign-in form asks for. */
export type FactorMode = 'code' | 'recovery';

/** The authenticator's code as typed: digits only (spaces and dashes some apps show are dropped), at most 6. */
export function normalizeCode(typed: string): string {
  return typed.replace(/\D/g, '').slice(0, 6);
}

/** A complete 6-digit code. */
export function isCompleteCode(typed: string): boolean {
  return /^\d{6}$/.test(typed.replace(/[\s-]/g, ''));
}

/** A recovery code as typed: trimmed, at most 64 characters (the API takes any case, with or without dashes). */
export function normalizeRecoveryCode(typed: string): string {
  return typed.trim().slice(0, 64);
}

/** The body of `POST /api/auth/login/2fa`: exactly one factor. */
export function secondFactorBody(
  challenge: string,
  mode: FactorMode,
  typed: string,
): { challenge: string; code: string } | { challenge: string; recovery_code: string } {
  return mode === 'code' ? { challenge, code: normalizeCode(typed) } : { challenge, recovery_code: normalizeRecoveryCode(typed) };
}

/** What the second step's form shows for an error, and whether the password step must be done again. */
export interface SecondStepError {
  key: MessageKey;
  vars?: Record<string, string | number>;
  /** The challenge is gone (expired, used, out of attempts): back to the password. */
  restart: boolean;
  /** Shown beside the factor's field rather than above the button. */
  onField: boolean;
}

/** Reads an error of `POST /api/auth/login/2fa` (401 `field: challenge | code | recovery_code`, 429 + Retry-After). */
export function secondStepError(err: unknown, mode: FactorMode): SecondStepError | null {
  if (!(err instanceof ApiError)) return null;
  if (err.status === 429) return { key: 'auth.rateLimited', vars: { s: err.retryAfter ?? 60 }, restart: false, onField: false };
  if (err.status === 401 && err.field === 'challenge') return { key: 'tfa.login.expired', restart: true, onField: false };
  if (err.status === 401 || err.status === 422) {
    const recovery = err.field === 'recovery_code' || (err.field !== 'code' && mode === 'recovery');
    return { key: recovery ? 'tfa.login.wrongRecovery' : 'tfa.login.wrongCode', restart: false, onField: true };
  }
  return null;
}

/** The 403 an organisation that requires two-factor sign-in answers a member without it. */
export function isTwoFactorRequired(err: unknown): boolean {
  return err instanceof ApiError && err.status === 403 && /two-factor/i.test(err.message);
}

/**
 * The server's SVG QR code as a `data:` URL for an `<img>`: an image cannot run scripts or reach
 * the page, so the markup is never put into the document. Anything but an SVG document gives null.
 */
export function qrImageUrl(svg: string): string | null {
  const text = svg.trim();
  if (!/^(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*<svg[\s>]/i.test(text) || text.length > 200_000) return null;
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return `data:image/svg+xml;base64,${btoa(bin)}`;
}

/** The base32 secret in groups of four, easier to type into an app by hand. */
export function groupSecret(secret: string): string {
  return (secret.replace(/\s/g, '').match(/.{1,4}/g) ?? []).join(' ');
}

/** The recovery codes as the text file "Download" saves (one a line, with where they belong). */
export function recoveryCodesFile(codes: string[], email: string, when: Date): string {
  return [`PingTower recovery codes for ${email}`, `Created ${when.toISOString()}; each works once.`, '', ...codes, ''].join('\n');
}
