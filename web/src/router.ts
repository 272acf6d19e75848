// A tiny history-API router: a path pattern matcher and a `useRoute` hook. Enough for a dozen
// pages and ~1 KB, instead of a router dependency.

import { useEffect, useState } from 'preact/hooks';

export type Params = Record<string, string>;

/** Matches `/targets/:id/edit` against a path; returns the params or null. */
export function matchPath(pattern: string, path: string): Params | null {
  const p = pattern.split('/').filter(Boolean);
  const s = path.split('/').filter(Boolean);
  if (p.length !== s.length) return null;
  const params: Params = {};
  for (let i = 0; i < p.length; i++) {
    const pp = p[i]!;
    const ss = s[i]!;
    if (pp.startsWith(':')) {
      try {
        params[pp.slice(1)] = decodeURIComponent(ss);
      } catch {
        return null;
      }
    } else if (pp !== ss) {
      return null;
    }
  }
  return params;
}

export interface Location {
  path: string;
  search: URLSearchParams;
}

function current(): Location {
  return { path: window.location.pathname, search: new URLSearchParams(window.location.search) };
}

const listeners = new Set<() => void>();

export function navigate(to: string, replace = false): void {
  if (replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  for (const l of listeners) l();
  if (!replace) window.scrollTo(0, 0);
}

export function useLocation(): Location {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const update = () => setLoc(current());
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return loc;
}

/** Intercepts clicks on same-origin `<a href>` so that links navigate without a reload. */
export function installLinkInterceptor(): void {
  document.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = (e.target as Element | null)?.closest?.('a');
    if (!a || a.target || a.hasAttribute('download')) return;
    const href = a.getAttribute('href');
    if (!href || !href.startsWith('/') || href.startsWith('//')) return;
    if (/^\/(api|status|badge)\//.test(href)) return;
    e.preventDefault();
    navigate(href);
  });
}
