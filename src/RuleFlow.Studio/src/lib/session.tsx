import { createContext, useCallback, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import { api, apiKey, authHeaders, request, setUnauthorizedHandler, type Me } from './api';
import { openStream, type SseMessage } from './sse';

type Listener = (m: SseMessage & { json: Record<string, unknown> }) => void;
interface Session {
  me: Me | null;
  checking: boolean;
  signIn: (key: string) => Promise<void>;
  signOut: () => void;
  /** Subscribe to live events of /api/stream (instance, step, approval, incident, event); returns the unsubscribe. */
  subscribe: (listener: Listener) => () => void;
  streamState: string;
}

const SessionContext = createContext<Session | null>(null);
export const useSession = () => useContext(SessionContext)!;

export function SessionProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null>(null);
  const [checking, setChecking] = useState(true);
  const [streamState, setStreamState] = useState('closed');
  const listeners = useRef(new Set<Listener>());

  const signOut = useCallback(() => { apiKey.clear(); setMe(null); }, []);

  useEffect(() => {
    setUnauthorizedHandler(() => { apiKey.clear(); setMe(null); });
    // Development mode: /api/me answers without a key. Otherwise the key of this tab's session, if any.
    request<Me>('GET', '/api/me', undefined, { quiet401: true })
      .then(m => setMe(m))
      .catch(() => { apiKey.clear(); setMe(null); })
      .finally(() => setChecking(false));
  }, []);

  const signIn = useCallback(async (key: string) => {
    const m = await request<Me>('GET', '/api/me', undefined, { key, quiet401: true });
    apiKey.set(key);
    setMe(m);
  }, []);

  useEffect(() => {
    if (!me) return;
    return openStream({
      url: '/api/stream',
      headers: authHeaders(),
      onState: (s, d) => setStreamState(d ? `${s} (${d})` : s),
      onMessage: m => {
        let json: Record<string, unknown> = {};
        try { json = JSON.parse(m.data); } catch { /* not JSON */ }
        for (const l of listeners.current) l({ ...m, json });
      },
    });
  }, [me]);

  const subscribe = useCallback((listener: Listener) => {
    listeners.current.add(listener);
    return () => { listeners.current.delete(listener); };
  }, []);

  return <SessionContext.Provider value={{ me, checking, signIn, signOut, subscribe, streamState }}>{children}</SessionContext.Provider>;
}

/** Runs `handler` for live events whose name is in `events`. */
export function useLive(events: string[], handler: (json: Record<string, unknown>, event: string) => void) {
  const { subscribe } = useSession();
  const ref = useRef(handler);
  ref.current = handler;
  const key = events.join(',');
  useEffect(() => subscribe(m => { if (key.split(',').includes(m.event)) ref.current(m.json, m.event); }), [subscribe, key]);
}

/** GET a resource; `reload` fetches again (after an action or a live event). */
export function useResource<T>(path: string | null) {
  const [data, setData] = useState<T | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [version, setVersion] = useState(0);
  useEffect(() => {
    if (!path) return;
    let live = true;
    api.get<T>(path).then(d => { if (live) { setData(d); setError(undefined); } }).catch(e => { if (live) setError((e as Error).message); });
    return () => { live = false; };
  }, [path, version]);
  return { data, error, reload: useCallback(() => setVersion(v => v + 1), []), setData };
}
