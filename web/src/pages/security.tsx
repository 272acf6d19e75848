// Account security: two-factor sign-in — enrolment (QR code and the key for manual entry,
// confirmed with a first code), the recovery codes shown once (copy, download), new recovery
// codes, and turning it off.

import { useState } from 'preact/hooks';
import { ApiError, api } from '../api/client';
import type { TwoFactorDisable, TwoFactorSetup } from '../api/model';
import { CodeInput, twoFactorRequired } from '../components/twoFactor';
import { CopyButton, ErrorBox, Field, Section, Spinner, errorMessage, useAsync, useBusy, useTitle, val } from '../components/ui';
import { formatDateTime } from '../format';
import { lang, t } from '../i18n';
import { toast, user } from '../session';
import { groupSecret, isCompleteCode, normalizeRecoveryCode, qrImageUrl, recoveryCodesFile, type FactorMode } from '../state/twoFactor';

/** An API error for a field of this page (`code`, `recovery_code`, `password`), or the message above the button. */
type FormError = { field?: string; text: string } | null;

function formError(err: unknown): FormError {
  if (err instanceof ApiError && err.status === 429) return { text: t('auth.rateLimited', { s: err.retryAfter ?? 60 }) };
  if (err instanceof ApiError && err.field) return { field: err.field, text: err.message };
  return { text: errorMessage(err) };
}

function ErrorAlert({ error }: { error: FormError }) {
  return error && !error.field ? (
    <div class="notice notice-error" role="alert">
      {error.text}
    </div>
  ) : null;
}

export function SecurityPage() {
  useTitle(t('tfa.title'));
  const status = useAsync(() => api.twoFactorStatus(), []);
  // Shown once, right after enabling or regenerating; gone on "I have saved them" or leaving the page.
  const [codes, setCodes] = useState<string[] | null>(null);

  return (
    <div class="page" data-testid="security-page">
      <h1>{t('tfa.title')}</h1>
      {codes ? <RecoveryCodesPanel codes={codes} onDone={() => setCodes(null)} /> : null}
      <Section title={t('tfa.section')}>
        <p class="muted">{t('tfa.intro')}</p>
        <ErrorBox error={status.error} onRetry={status.reload} />
        {!status.data ? (
          status.error ? null : <Spinner />
        ) : status.data.enabled ? (
          <div data-testid="tfa-status" data-enabled="true">
            <p>
              <strong>{status.data.enabled_at ? t('tfa.on', { at: formatDateTime(status.data.enabled_at, lang.value) }) : t('tfa.on', { at: '' })}</strong>
            </p>
            <p class="muted" data-testid="tfa-codes-left">
              {t('tfa.codesLeft', { n: status.data.recovery_codes_left })}
            </p>
          </div>
        ) : (
          <div data-testid="tfa-status" data-enabled="false">
            <p>
              <strong>{t('tfa.off')}</strong>
            </p>
            <Enrolment
              onEnabled={(c) => {
                setCodes(c);
                twoFactorRequired.value = false;
                toast(t('tfa.enabled'));
                status.reload();
              }}
            />
          </div>
        )}
      </Section>
      {status.data?.enabled ? (
        <>
          <Regenerate
            onCodes={(c) => {
              setCodes(c);
              status.reload();
            }}
          />
          <Disable
            onDisabled={() => {
              setCodes(null);
              toast(t('tfa.disabled'));
              status.reload();
            }}
          />
        </>
      ) : null}
    </div>
  );
}

function Enrolment({ onEnabled }: { onEnabled: (codes: string[]) => void }) {
  const [setup, setSetup] = useState<TwoFactorSetup | null>(null);
  const [code, setCode] = useState('');
  const [error, setError] = useState<FormError>(null);
  const [busy, whileBusy] = useBusy();

  const start = () =>
    whileBusy(async () => {
      setError(null);
      try {
        setSetup(await api.twoFactorSetup());
        setCode('');
      } catch (e) {
        setError(formError(e));
      }
    });

  async function confirm(e: Event) {
    e.preventDefault();
    setError(null);
    if (!isCompleteCode(code)) {
      setError({ field: 'code', text: t('tfa.codeInvalid') });
      return;
    }
    await whileBusy(async () => {
      try {
        const enabled = await api.twoFactorEnable(code);
        setSetup(null);
        onEnabled(enabled.recovery_codes);
      } catch (err) {
        setError(formError(err));
        setCode('');
      }
    });
  }

  if (!setup) {
    return (
      <>
        <ErrorAlert error={error} />
        <button type="button" class="btn btn-primary" data-testid="tfa-setup" disabled={busy} onClick={() => void start()}>
          {t('tfa.start')}
        </button>
      </>
    );
  }
  const qr = qrImageUrl(setup.qr_svg);
  return (
    <form onSubmit={confirm} data-testid="tfa-enrol">
      <p>{t('tfa.scan')}</p>
      {qr ? <img class="tfa-qr" src={qr} alt={t('tfa.qrAlt')} width={200} height={200} data-testid="tfa-qr" /> : null}
      <Field label={t('tfa.secret')}>
        <div class="row">
          <div class="token-box grow" data-testid="tfa-secret" data-secret={setup.secret}>
            {groupSecret(setup.secret)}
          </div>
          <CopyButton text={setup.secret} />
        </div>
      </Field>
      <Field label={t('tfa.code')} name="code" hint={t('tfa.confirmHint')} error={error?.field === 'code' ? error.text : undefined}>
        <CodeInput name="tfa-code" value={code} onInput={setCode} />
      </Field>
      <ErrorAlert error={error} />
      <div class="row">
        <button class="btn btn-primary" type="submit" data-testid="tfa-enable" disabled={busy}>
          {t('tfa.enable')}
        </button>
        <button type="button" class="btn" onClick={() => setSetup(null)}>
          {t('common.cancel')}
        </button>
      </div>
    </form>
  );
}

function RecoveryCodesPanel({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  const text = codes.join('\n');
  const download = () => {
    const file = recoveryCodesFile(codes, user.value?.email ?? '', new Date());
    const url = URL.createObjectURL(new Blob([file], { type: 'text/plain' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = 'pingtower-recovery-codes.txt';
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 0);
  };
  return (
    <div class="notice notice-warn" data-testid="recovery-codes">
      <div class="grow">
        <h2>{t('tfa.codesTitle')}</h2>
        <p>{t('tfa.codesOnce')}</p>
        <ol class="tfa-codes mono">
          {codes.map((c) => (
            <li data-testid="recovery-code">{c}</li>
          ))}
        </ol>
        <div class="row">
          <CopyButton text={text} />
          <button type="button" class="btn btn-small" data-testid="download-codes" onClick={download}>
            {t('tfa.download')}
          </button>
          <button type="button" class="btn btn-small btn-primary" data-testid="codes-saved" onClick={onDone}>
            {t('tfa.codesSaved')}
          </button>
        </div>
      </div>
    </div>
  );
}

function Regenerate({ onCodes }: { onCodes: (codes: string[]) => void }) {
  const [code, setCode] = useState('');
  const [error, setError] = useState<FormError>(null);
  const [busy, whileBusy] = useBusy();
  async function submit(e: Event) {
    e.preventDefault();
    setError(null);
    if (!isCompleteCode(code)) {
      setError({ field: 'code', text: t('tfa.codeInvalid') });
      return;
    }
    await whileBusy(async () => {
      try {
        onCodes((await api.regenerateRecoveryCodes(code)).recovery_codes);
        setCode('');
      } catch (err) {
        setError(formError(err));
        setCode('');
      }
    });
  }
  return (
    <Section title={t('tfa.regenerate')}>
      <form onSubmit={submit} data-testid="tfa-regenerate-form">
        <p class="muted">{t('tfa.regenerateHint')}</p>
        <Field label={t('tfa.code')} name="code" error={error?.field === 'code' ? error.text : undefined}>
          <CodeInput name="regen-code" value={code} onInput={setCode} />
        </Field>
        <ErrorAlert error={error} />
        <button class="btn" type="submit" data-testid="tfa-regenerate" disabled={busy}>
          {t('tfa.regenerate')}
        </button>
      </form>
    </Section>
  );
}

function Disable({ onDisabled }: { onDisabled: () => void }) {
  const [password, setPassword] = useState('');
  const [mode, setMode] = useState<FactorMode>('code');
  const [factor, setFactor] = useState('');
  const [error, setError] = useState<FormError>(null);
  const [busy, whileBusy] = useBusy();
  async function submit(e: Event) {
    e.preventDefault();
    setError(null);
    if (mode === 'code' && !isCompleteCode(factor)) {
      setError({ field: 'code', text: t('tfa.codeInvalid') });
      return;
    }
    const body: TwoFactorDisable = mode === 'code' ? { password, code: factor } : { password, recovery_code: normalizeRecoveryCode(factor) };
    await whileBusy(async () => {
      try {
        await api.twoFactorDisable(body);
        setPassword('');
        setFactor('');
        onDisabled();
      } catch (err) {
        setError(formError(err));
        setFactor('');
      }
    });
  }
  const factorField = mode === 'code' ? 'code' : 'recovery_code';
  return (
    <Section title={t('tfa.disable')}>
      <form onSubmit={submit} data-testid="tfa-disable-form">
        <p class="muted">{t('tfa.disableHint')}</p>
        <Field label={t('auth.password')} name="password" error={error?.field === 'password' ? error.text : undefined}>
          <input type="password" name="disable-password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(val(e))} />
        </Field>
        <Field
          label={mode === 'code' ? t('tfa.code') : t('tfa.recoveryCode')}
          name={factorField}
          error={error?.field === factorField ? error.text : undefined}
        >
          {mode === 'code' ? (
            <CodeInput name="disable-code" value={factor} onInput={setFactor} />
          ) : (
            <input type="text" name="disable-recovery-code" class="mono" autocomplete="off" maxLength={64} required value={factor} onInput={(e) => setFactor(val(e))} />
          )}
        </Field>
        <ErrorAlert error={error} />
        <div class="row">
          <button class="btn btn-danger" type="submit" data-testid="tfa-disable" disabled={busy}>
            {t('tfa.disable')}
          </button>
          <button
            type="button"
            class="btn btn-small"
            onClick={() => {
              setMode(mode === 'code' ? 'recovery' : 'code');
              setFactor('');
              setError(null);
            }}
          >
            {mode === 'code' ? t('tfa.useRecovery') : t('tfa.useApp')}
          </button>
        </div>
      </form>
    </Section>
  );
}
