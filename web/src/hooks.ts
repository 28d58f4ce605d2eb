import { useCallback, useEffect, useRef, useState, type DependencyList } from 'react';
import { ApiError } from './api.ts';

function asApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  return new ApiError({ status: 0, code: 'CLIENT_ERROR', detail: e instanceof Error ? e.message : String(e) });
}

export interface QueryState<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  /** Fetches again, keeping the current data on screen meanwhile. */
  reload(): void;
}

/** Loads data when the dependencies change; stale answers are dropped. */
export function useQuery<T>(load: (signal: AbortSignal) => Promise<T>, deps: DependencyList): QueryState<T> {
  const [state, setState] = useState<{ data: T | undefined; error: ApiError | undefined; loading: boolean }>({ data: undefined, error: undefined, loading: true });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    const ac = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    loadRef.current(ac.signal).then(
      (data) => !ac.signal.aborted && setState({ data, error: undefined, loading: false }),
      (e) => !ac.signal.aborted && (e as Error)?.name !== 'AbortError' && setState((s) => ({ data: s.data, error: asApiError(e), loading: false })),
    );
    return () => ac.abort();
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

export interface ActionState {
  busy: boolean;
  error: ApiError | undefined;
  clearError(): void;
}

/**
 * Runs a user action (save, release, import): tracks busy and the error to show. The returned
 * function resolves to the action's result, or undefined when it failed.
 */
export function useAction<A extends unknown[], R>(fn: (...args: A) => Promise<R>): [(...args: A) => Promise<R | undefined>, ActionState] {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | undefined>();
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const run = useCallback(async (...args: A) => {
    setBusy(true);
    setError(undefined);
    try {
      return await fnRef.current(...args);
    } catch (e) {
      setError(asApiError(e));
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  const clearError = useCallback(() => setError(undefined), []);
  return [run, { busy, error, clearError }];
}

/** The value, once it has not changed for `ms` (a search field asks the server after typing pauses). */
export function useDebounced<T>(value: T, ms = 250): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}
