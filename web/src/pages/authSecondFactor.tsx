// The login's second step for an account with two-factor sign-in: a code from the authenticator
// app, or one of the recovery codes; errors said plainly (wrong code, too many attempts, the
// challenge gone: back to the password).

import { useState } from 'preact/hooks';
import { api } from '../api/client';
import type { User } from '../api/model';
import { CodeInput } from '../components/twoFactor';
import { Field, errorMessage, useBusy, val } from '../components/ui';
import { t } from '../i18n';
import { isCompleteCode, secondFactorBody, secondStepError, type FactorMode } from '../state/twoFactor';

export function SecondFactorForm(props: { challenge: string; onSignedIn: (u: User) => void; onRestart: (message: string) => void }) {
  const [mode, setMode] = useState<FactorMode>('code');
  const [value, setValue] = useState('');
  const [error, setError] = useState<{ text: string; onField: boolean } | null>(null);
  const [busy, whileBusy] = useBusy();

  async function submit(e: Event) {
    e.preventDefault();
    setError(null);
    if (mode === 'code' && !isCompleteCode(value)) {
      setError({ text: t('tfa.codeInvalid'), onField: true });
      return;
    }
    await whileBusy(async () => {
      try {
        props.onSignedIn(await api.loginSecondFactor(secondFactorBody(props.challenge, mode, value)));
      } catch (err) {
        const known = secondStepError(err, mode);
        if (known?.restart) {
          props.onRestart(t(known.key, known.vars));
          return;
        }
        setError(known ? { text: t(known.key, known.vars), onField: known.onField } : { text: errorMessage(err), onField: false });
        setValue('');
      }
    });
  }

  const fieldError = error?.onField ? error.text : undefined;
  return (
    <form class="card auth-card" onSubmit={submit} data-testid="second-factor-form" data-mode={mode}>
      <h1 class="brand-big">
        <span class="logo" aria-hidden="true" /> PingTower
      </h1>
      <h2>{t('tfa.login.title')}</h2>
      <p class="muted">{mode === 'code' ? t('tfa.login.hint') : t('tfa.login.recoveryHint')}</p>
      {mode === 'code' ? (
        <Field label={t('tfa.code')} name="code" error={fieldError}>
          <CodeInput name="code" value={value} onInput={setValue} autoFocus />
        </Field>
      ) : (
        <Field label={t('tfa.recoveryCode')} name="recovery_code" error={fieldError}>
          <input
            type="text"
            name="recovery_code"
            class="mono"
            autocomplete="off"
            autoCapitalize="none"
            spellcheck={false}
            maxLength={64}
            required
            autoFocus
            value={value}
            onInput={(e) => setValue(val(e))}
          />
        </Field>
      )}
      {error && !error.onField ? (
        <div class="notice notice-error" role="alert" data-testid="second-factor-error">
          {error.text}
        </div>
      ) : null}
      <button class="btn btn-primary" type="submit" disabled={busy}>
        {t('tfa.login.verify')}
      </button>
      <p class="muted">
        <button
          type="button"
          class="btn btn-small"
          data-testid="use-recovery"
          onClick={() => {
            setMode(mode === 'code' ? 'recovery' : 'code');
            setValue('');
            setError(null);
          }}
        >
          {mode === 'code' ? t('tfa.useRecovery') : t('tfa.useApp')}
        </button>{' '}
        <button type="button" class="btn btn-small" data-testid="second-factor-back" onClick={() => props.onRestart('')}>
          {t('tfa.login.back')}
        </button>
      </p>
    </form>
  );
}
