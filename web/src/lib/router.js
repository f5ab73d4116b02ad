// router: client-side routes under /ui/ on the History API. Links are plain
// <a href="/ui/..."> elements; a click on one is turned into pushState, so
// every view has a URL that can be reloaded, bookmarked and shared (the
// server answers index.html for any /ui/ path).
import { useEffect, useState } from 'preact/hooks';

const listeners = new Set();

export function navigate(href, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  listeners.forEach((fn) => fn());
  window.scrollTo(0, 0);
}

export function useLocation() {
  const [, setTick] = useState(0);
  useEffect(() => {
    const fn = () => setTick((t) => t + 1);
    listeners.add(fn);
    window.addEventListener('popstate', fn);
    return () => { listeners.delete(fn); window.removeEventListener('popstate', fn); };
  }, []);
  return { path: location.pathname, query: Object.fromEntries(new URLSearchParams(location.search)) };
}

export function installLinkHandler() {
  document.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = e.target.closest && e.target.closest('a[href]');
    if (!a || a.target || a.hasAttribute('download')) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || !(url.pathname === '/' || url.pathname.startsWith('/ui'))) return;
    e.preventDefault();
    navigate(url.pathname + url.search + url.hash);
  });
}

// Matches "/ui/tasks/:id" style patterns; returns params or null.
export function match(pattern, path) {
  const p = pattern.split('/'), s = path.replace(/\/+$/, '').split('/');
  if (p.length !== s.length) return null;
  const params = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i].startsWith(':')) params[p[i].slice(1)] = decodeURIComponent(s[i]);
    else if (p[i] !== s[i]) return null;
  }
  return params;
}

export const href = {
  services: () => '/ui/services',
  service: (s, tab = '') => `/ui/services/${encodeURIComponent(s)}${tab ? '/' + tab : ''}`,
  process: (id, tab = '') => `/ui/processes/${encodeURIComponent(id)}${tab ? '/' + tab : ''}`,
  task: (id) => `/ui/tasks/${encodeURIComponent(id)}`,
  compare: (a, b) => `/ui/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`,
};
