import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, setUnauthenticatedHandler, type Me } from './api.ts';
import { allows, type Roles } from './roles.ts';

export interface Session {
  /** 'loading' until the first who-am-I answer. */
  status: 'loading' | 'anonymous' | 'authenticated';
  me: Me | null;
  /** Set when a running session ended (expired, user deactivated): the login says so. */
  ended: boolean;
  login(username: string, password: string): Promise<void>;
  logout(): Promise<void>;
}

const SessionContext = createContext<Session | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null>(null);
  const [status, setStatus] = useState<Session['status']>('loading');
  const [ended, setEnded] = useState(false);

  useEffect(() => {
    let live = true;
    api.auth.me().then(
      (m) => {
        if (!live) return;
        setMe(m);
        setStatus('authenticated');
      },
      () => live && setStatus('anonymous'),
    );
    setUnauthenticatedHandler(() => {
      setMe(null);
      setStatus('anonymous');
      setEnded(true);
    });
    return () => {
      live = false;
      setUnauthenticatedHandler(null);
    };
  }, []);

  const login = useCallback(async (username: string, password: string) => {
    await api.auth.login(username, password);
    const m = await api.auth.me();
    setMe(m);
    setEnded(false);
    setStatus('authenticated');
  }, []);

  const logout = useCallback(async () => {
    try {
      await api.auth.logout();
    } finally {
      setMe(null);
      setEnded(false);
      setStatus('anonymous');
    }
  }, []);

  const value = useMemo(() => ({ status, me, ended, login, logout }), [status, me, ended, login, logout]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside SessionProvider');
  return s;
}

/** Whether the logged-in role is one of these (to offer an action; the server still decides). */
export function useCan(roles: Roles): boolean {
  return allows(roles, useSession().me?.role);
}
