// Sign up and log in.

import { useState } from 'preact/hooks';
import { ApiError, api } from '../api/client';
import { isTwoFactorChallenge, type User } from '../api/model';
import { Field, errorMessage, useBusy, useTitle, val } from '../components/ui';
import { t } from '../i18n';
import { navigate } from '../router';
import { serverConfig, signedIn } from '../session';
import { SecondFactorForm } from './authSecondFactor';
import { signInOptions } from '../state/signIn';

export function AuthPage({ mode, next }: { mode: 'login' | 'register'; next: string | null }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, whileBusy] = useBusy();
  // An error the API gave for one field shows under that field, any other above the button.
  const [error, setError] = useState<{ field?: string; text: string } | null>(null);
  // The login's answer for an account with two-factor sign-in: the second step's challenge.
  const [challenge, setChallenge] = useState<string | null>(null);
  const register = mode === 'register';
  useTitle(register ? t('auth.register') : t('auth.login'));
  const closed = register && serverConfig.value && !serverConfig.value.registration_open;
  // Single sign-on: the button when an issuer is configured; a refused sign-in comes back here
  // as `?error=<code>`. Password sign-in may be turned off for the installation.
  const { sso, passwords, ssoError } = signInOptions(serverConfig.value, window.location.search);

  function done(u: User) {
    signedIn(u);
    navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : '/', true);
  }

  async function submit(e: Event) {
    e.preventDefault();
    setError(null);
    await whileBusy(async () => {
      try {
        const answer = register ? await api.register(email.trim(), password) : await api.login(email.trim(), password);
        if (isTwoFactorChallenge(answer)) {
          setChallenge(answer.challenge);
          return;
        }
        done(answer);
      } catch (err) {
        if (err instanceof ApiError && err.status === 429) {
          setError({ text: t('auth.rateLimited', { s: err.retryAfter ?? 60 }) });
        } else if (err instanceof ApiError && err.field) {
          setError({ field: err.field, text: err.message });
        } else {
          setError({ text: errorMessage(err) });
        }
      }
    });
  }

  if (challenge) {
    return (
      <div class="auth">
        <SecondFactorForm
          challenge={challenge}
          onSignedIn={done}
          onRestart={(message) => {
            setChallenge(null);
            setPassword('');
            setError(message ? { text: message } : null);
          }}
        />
      </div>
    );
  }

  return (
    <div class="auth">
      <form class="card auth-card" onSubmit={submit} data-testid={`${mode}-form`}>
        <h1 class="brand-big">
          <span class="logo" aria-hidden="true" /> PingTower
        </h1>
        <h2>{register ? t('auth.register') : t('auth.login')}</h2>
        {closed ? <div class="notice">{t('auth.registrationClosed')}</div> : null}
        {ssoError ? (
          <div class="notice notice-error" role="alert" data-testid="sso-error">
            {t('auth.ssoError', { code: ssoError })}
          </div>
        ) : null}
        {sso ? (
          <>
            <a class="btn btn-primary" href="/api/auth/oidc/login" data-testid="sso-login">
              {t('auth.sso')}
            </a>
            {passwords ? <p class="muted">{t('auth.or')}</p> : null}
          </>
        ) : null}
        {!passwords ? <div class="notice">{t('auth.passwordOff')}</div> : null}
        {passwords ? (
          <>
            <Field label={t('auth.email')} name="email" error={error?.field === 'email' ? error.text : undefined}>
              <input type="email" name="email" autocomplete="email" required value={email} onInput={(e) => setEmail(val(e))} />
            </Field>
            <Field
              label={t('auth.password')}
              name="password"
              hint={register ? t('auth.passwordHint') : undefined}
              error={error?.field === 'password' ? error.text : undefined}
            >
              <input
                type="password"
                name="password"
                autocomplete={register ? 'new-password' : 'current-password'}
                required
                minLength={register ? 10 : undefined}
                value={password}
                onInput={(e) => setPassword(val(e))}
              />
            </Field>
            {error && !error.field ? (
              <div class="notice notice-error" role="alert">
                {error.text}
              </div>
            ) : null}
            <button class="btn btn-primary" type="submit" disabled={busy}>
              {register ? t('auth.register') : t('auth.login')}
            </button>
            <p class="muted">
              {register ? t('auth.haveAccount') : t('auth.noAccount')}{' '}
              <a href={`${register ? '/login' : '/register'}${next ? `?next=${encodeURIComponent(next)}` : ''}`} data-testid="auth-switch">{register ? t('auth.login') : t('auth.register')}</a>
            </p>
          </>
        ) : null}
      </form>
    </div>
  );
}
