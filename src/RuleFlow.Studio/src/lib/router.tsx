import { useEffect, useState, type AnchorHTMLAttributes, type MouseEvent } from 'react';

// A small router over the History API: paths under /studio/ (the server answers every one with index.html).
const BASE = import.meta.env.BASE_URL.replace(/\/$/, ''); // '/studio'

export function currentRoute(): string {
  const p = window.location.pathname;
  const route = p.startsWith(BASE) ? p.slice(BASE.length) : p;
  return route === '' ? '/' : route;
}

export function navigate(to: string) {
  window.history.pushState(null, '', BASE + to);
  window.dispatchEvent(new PopStateEvent('popstate'));
}

export function useRoute(): { path: string; query: URLSearchParams } {
  const [state, setState] = useState(() => ({ path: currentRoute(), search: window.location.search }));
  useEffect(() => {
    const on = () => setState({ path: currentRoute(), search: window.location.search });
    window.addEventListener('popstate', on);
    return () => window.removeEventListener('popstate', on);
  }, []);
  return { path: state.path, query: new URLSearchParams(state.search) };
}

export function Link({ to, ...rest }: { to: string } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return <a href={BASE + to} onClick={onClick} {...rest} />;
}
