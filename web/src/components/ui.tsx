// Small shared building blocks: status pills, form fields, async loading, errors.

import type { ComponentChildren, JSX } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api/client';
import type { TargetStatus } from '../api/model';
import { statusTone } from '../format';
import { t, type MessageKey } from '../i18n';

export function StatusPill({ status }: { status: TargetStatus | string }) {
  const tone = statusTone(status);
  const key = `status.${status}` as MessageKey;
  return (
    <span class={`pill pill-${tone}`} data-status={status}>
      <span class="dot" aria-hidden="true" />
      {t(key) ?? status}
    </span>
  );
}

export function Field(props: {
  label: string;
  error?: string | undefined;
  hint?: string | undefined;
  children: ComponentChildren;
  wide?: boolean;
  name?: string;
}) {
  return (
    <label class={`field${props.wide ? ' wide' : ''}${props.error ? ' invalid' : ''}`} data-field={props.name}>
      <span class="label">{props.label}</span>
      {props.children}
      {props.error ? (
        <span class="error-text" role="alert">
          {props.error}
        </span>
      ) : props.hint ? (
        <span class="hint">{props.hint}</span>
      ) : null}
    </label>
  );
}

export function Check(props: { label: string; checked: boolean; onChange: (v: boolean) => void; name?: string }) {
  return (
    <label class="check">
      <input
        type="checkbox"
        name={props.name}
        checked={props.checked}
        onChange={(e) => props.onChange((e.currentTarget as HTMLInputElement).checked)}
      />
      <span>{props.label}</span>
    </label>
  );
}

export function errorMessage(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

export function ErrorBox({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  if (!error) return null;
  const notFound = error instanceof ApiError && error.status === 404;
  return (
    <div class="notice notice-error" role="alert">
      {notFound ? t('common.notFound') : t('common.error', { msg: errorMessage(error) })}
      {onRetry && !notFound ? (
        <button type="button" class="btn btn-small" onClick={onRetry}>
          {t('common.retry')}
        </button>
      ) : null}
    </div>
  );
}

export function Spinner() {
  return (
    <div class="loading" aria-busy="true">
      {t('common.loading')}
    </div>
  );
}

export interface AsyncState<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
  set: (v: T) => void;
}

/** Runs `fn` when `deps` change (and on `reload`), keeping the last data while reloading. */
export function useAsync<T>(fn: (signal: AbortSignal) => Promise<T>, deps: unknown[], pollMs?: number): AsyncState<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  useEffect(() => {
    const ctl = new AbortController();
    setLoading(true);
    fnRef.current(ctl.signal).then(
      (v) => {
        if (ctl.signal.aborted) return;
        setData(v);
        setError(null);
        setLoading(false);
      },
      (e: unknown) => {
        if (ctl.signal.aborted) return;
        setError(e);
        setLoading(false);
      },
    );
    return () => ctl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  useEffect(() => {
    if (!pollMs) return;
    const id = setInterval(() => {
      if (document.visibilityState === 'visible') setTick((x) => x + 1);
    }, pollMs);
    return () => clearInterval(id);
  }, [pollMs]);
  const reload = useCallback(() => setTick((x) => x + 1), []);
  return { data, error, loading, reload, set: setData };
}

/** A flag that is up while the work given to `run` is under way: a form's buttons are disabled meanwhile. */
export function useBusy(): [busy: boolean, run: (work: () => Promise<void>) => Promise<void>] {
  const [busy, setBusy] = useState(false);
  const run = useCallback(async (work: () => Promise<void>) => {
    setBusy(true);
    try {
      await work();
    } finally {
      setBusy(false);
    }
  }, []);
  return [busy, run];
}

export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · PingTower` : 'PingTower';
  }, [title]);
}

export function CopyButton({ text }: { text: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      class="btn btn-small"
      onClick={() => {
        void navigator.clipboard?.writeText(text).then(() => {
          setDone(true);
          setTimeout(() => setDone(false), 1500);
        });
      }}
    >
      {done ? t('common.copied') : t('common.copy')}
    </button>
  );
}

export function Section(props: { title: string; children: ComponentChildren; actions?: ComponentChildren; id?: string }) {
  return (
    <section class="card" id={props.id}>
      <header class="card-head">
        <h2>{props.title}</h2>
        {props.actions ? <div class="actions">{props.actions}</div> : null}
      </header>
      {props.children}
    </section>
  );
}

export function Tabs<T extends string>(props: { value: T; options: { value: T; label: string }[]; onChange: (v: T) => void }) {
  return (
    <div class="tabs" role="tablist">
      {props.options.map((o) => (
        <button
          type="button"
          role="tab"
          aria-selected={o.value === props.value}
          class={o.value === props.value ? 'tab active' : 'tab'}
          onClick={() => props.onChange(o.value)}
        >
          {o.label}
        </button>
      ))}
    </div>
  );
}

/** A form's last row when all it holds is the form's submit button. */
export function SubmitRow(props: { label: string; primary?: boolean; wide?: boolean; disabled?: boolean; testid?: string }) {
  return (
    <div class={props.wide ? 'form-actions wide' : 'form-actions'}>
      <button class={props.primary ? 'btn btn-primary' : 'btn'} type="submit" disabled={props.disabled} data-testid={props.testid}>
        {props.label}
      </button>
    </div>
  );
}

/** A page's title line: its heading, then what acts on the page (a link or buttons). */
export function PageHead(props: { title: string; children: ComponentChildren }) {
  return (
    <div class="page-head">
      <h1>{props.title}</h1>
      {props.children}
    </div>
  );
}

/** The page head's link to a form that creates one more of what the page lists. */
export function NewLink(props: { href: string; testid: string; label: string }) {
  return (
    <a class="btn btn-primary" href={props.href} data-testid={props.testid}>
      + {props.label}
    </a>
  );
}

/** A table in its scrolling wrapper; `head` names the columns (an empty name leaves its header cell empty). */
export function Table(props: { head?: string[]; testid?: string; children: ComponentChildren }) {
  return (
    <div class="table-wrap">
      <table data-testid={props.testid}>
        {props.head ? (
          <thead>
            <tr>
              {props.head.map((h) => (
                <th>{h || null}</th>
              ))}
            </tr>
          </thead>
        ) : null}
        <tbody>{props.children}</tbody>
      </table>
    </div>
  );
}

/** The small red button that deletes (or, given `label`, removes) the row it stands in. */
export function RowDeleteButton(props: { onClick: () => void; label?: string }) {
  return (
    <button type="button" class="btn btn-small btn-danger" onClick={props.onClick}>
      {props.label ?? t('common.delete')}
    </button>
  );
}

export type InputEvent = JSX.TargetedEvent<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement, Event>;
export const val = (e: InputEvent): string => e.currentTarget.value;
