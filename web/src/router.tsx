/**
 * A tiny history-based router: the address bar holds the screen (/products/12/bom), links
 * change it with pushState (no page reload), back / forward work. The server answers every
 * non-API path with index.html, so a bookmarked address opens the same screen.
 */
import { useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent, type ReactNode } from 'react';

const listeners = new Set<() => void>();
function notify() {
  for (const l of listeners) l();
}
if (typeof window !== 'undefined') window.addEventListener('popstate', notify);

function subscribe(fn: () => void) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
const snapshot = () => window.location.pathname + window.location.search;

export function navigate(to: string, opts: { replace?: boolean } = {}) {
  if (to === snapshot()) return;
  if (opts.replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  window.scrollTo(0, 0);
  notify();
}

export interface Location {
  path: string;
  query: URLSearchParams;
}

/** The current location; re-renders on navigation. */
export function useLocation(): Location {
  const href = useSyncExternalStore(subscribe, snapshot);
  const i = href.indexOf('?');
  return { path: i < 0 ? href : href.slice(0, i), query: new URLSearchParams(i < 0 ? '' : href.slice(i + 1)) };
}

/**
 * Matches a pattern such as `/revisions/:id/:tab?` against a path; returns the parameters or
 * null. A trailing `*` matches the rest.
 */
export function matchPath(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split('/').filter(Boolean);
  const s = path.split('/').filter(Boolean);
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    const seg = p[i]!;
    if (seg === '*') {
      params['*'] = s.slice(i).map(decodeURIComponent).join('/');
      return params;
    }
    const optional = seg.endsWith('?');
    const name = optional ? seg.slice(1, -1) : seg.slice(1);
    const v = s[i];
    if (seg.startsWith(':')) {
      if (v === undefined) {
        if (optional) continue;
        return null;
      }
      params[name] = decodeURIComponent(v);
    } else if (v !== seg) {
      return null;
    }
  }
  return s.length <= p.length ? params : null;
}

/** Builds a path from a pattern and values, e.g. path('/revisions/:id', { id: 3 }). */
export function buildPath(pattern: string, values: Record<string, string | number | undefined>): string {
  return (
    '/' +
    pattern
      .split('/')
      .filter(Boolean)
      .map((seg) => (seg.startsWith(':') ? values[seg.replace(/^:|\?$/g, '')] : seg))
      .filter((v) => v !== undefined && v !== '')
      .map((v) => encodeURIComponent(String(v)))
      .join('/')
  );
}

type LinkProps = Omit<AnchorHTMLAttributes<HTMLAnchorElement>, 'href'> & { to: string; children: ReactNode };

/** An <a> that navigates inside the app; a new tab (ctrl / middle click) still works. */
export function Link({ to, onClick, children, ...rest }: LinkProps) {
  const click = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={click} {...rest}>
      {children}
    </a>
  );
}
