// Global app state: the signed-in user, the server's public configuration, theme and toasts.

import { computed, signal } from '@preact/signals';
import { api } from './api/client';
import type { Me, ServerConfig, User } from './api/model';
import { isLang, setLang } from './i18n';

/** `undefined` while the first /api/auth/me is in flight, `null` when signed out. */
export const user = signal<User | null | undefined>(undefined);
export const serverConfig = signal<ServerConfig | null>(null);

export type Theme = 'light' | 'dark';
export const theme = signal<Theme>('light');

export function initTheme(): void {
  const saved = document.documentElement.dataset.theme;
  if (saved === 'dark' || saved === 'light') theme.value = saved;
  else theme.value = window.matchMedia?.('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  document.documentElement.dataset.theme = theme.value;
}

export function setTheme(t: Theme): void {
  theme.value = t;
  document.documentElement.dataset.theme = t;
  try {
    localStorage.setItem('pt.theme', t);
  } catch {
    /* private mode */
  }
}

/** The caller's role in the organisation they work in (`GET /api/auth/me`); undefined until known. */
export const role = computed<Me['role'] | undefined>(() => {
  const u = user.value;
  return u && 'role' in u ? (u as Me).role : undefined;
});

export function signedIn(u: User | Me): void {
  user.value = u;
  if (isLang(u.language)) setLang(u.language);
  // Sign-in and sign-up answer the user alone: their role and organisation come from /me.
  if (!('role' in u)) {
    api.me().then(
      (m) => {
        if (user.value && user.value.id === m.id) user.value = m;
      },
      () => undefined,
    );
  }
}

/** Keeps what /me added (role, organisation, quotas) when an answer of the user alone replaces it. */
export function updateUser(u: User): void {
  user.value = user.value ? { ...user.value, ...u } : u;
}

export async function loadSession(): Promise<void> {
  api.config().then(
    (c) => (serverConfig.value = c),
    () => undefined,
  );
  try {
    signedIn(await api.me());
  } catch {
    user.value = null;
  }
}

export interface Toast {
  id: number;
  text: string;
  tone: 'ok' | 'error';
}
export const toasts = signal<Toast[]>([]);
let toastId = 0;

export function toast(text: string, tone: Toast['tone'] = 'ok'): void {
  const id = ++toastId;
  toasts.value = [...toasts.value, { id, text, tone }];
  setTimeout(() => (toasts.value = toasts.value.filter((x) => x.id !== id)), tone === 'error' ? 6000 : 3000);
}
