import { useEffect, useState } from 'react';
import { apiUrl } from '../../api.ts';

/** The wire shape of GET /api/v1/live/line/:id (see src/modules/live/snapshot.ts). */
export interface LiveStation {
  id: number; code: string; name: string; type: string;
  equipment: { id: number; code: string; online: boolean | null; e10: string | null; stateCode: number | null; since: string | null; recipe: string | null }[];
  state: 'productive' | 'standby' | 'down' | 'engineering' | 'offline' | 'unknown';
  faults: { code: string | null; description: string | null; since: string | null; equipment: string }[];
  inProcess: number; waiting: number;
  oee: number | null; availability: number | null; performance: number | null; quality: number | null;
}
export interface LiveAlert { kind: string; severity: 'high' | 'medium'; message: string; at: string | null; ref: string }
export interface LineSnapshot {
  line: { id: number; code: string; name: string };
  stations: LiveStation[];
  activeWorkOrder: null | {
    id: number; number: string; state: string; productCode: string; revision: string;
    progress: { quantity: number; created: number; queued: number; inProcess: number; passed: number; failed: number; scrapped: number; onHold: number; remaining: number };
    steps: { seq: number; name: string; stationType: string; isRepair: boolean; queued: number; inProcess: number; failed: number; onHold: number; passedFirst: number; firstPasses: number; fpy: number | null }[];
    fpy: number | null; completedUnits: number; completedFirstPass: number;
  };
  openWorkOrders: { id: number; number: string; state: string; active: boolean; passed: number; quantity: number }[];
  oee: { oee: number | null; availability: number | null; performance: number | null; quality: number | null; since: string };
  alerts: LiveAlert[];
  lastPassage: null | { id: number; serial: string; station: string; stepSeq: number; result: string; recordedAt: string };
}

export interface LiveState {
  snapshot: LineSnapshot | null;
  /** connecting → live; `reconnecting` after a dropped stream (EventSource retries by itself). */
  status: 'connecting' | 'live' | 'reconnecting' | 'error';
  error: string | null;
  /** When the last event arrived (browser clock). */
  receivedAt: number | null;
}

/**
 * A stream opened before the app has rendered (see prewarmLiveLine): the page load of a
 * dashboard asks for the line's snapshot at once, in parallel with loading the session and
 * drawing the shell, instead of after them. The first snapshot is kept until the screen takes
 * the stream over.
 */
let early: { lineId: number; es: EventSource; first: { snapshot: LineSnapshot; at: number } | null } | null = null;

/** Opens the live stream of the dashboard URL being loaded (called once, before the first render). */
export function prewarmLiveLine(pathname: string): void {
  const m = /^\/dashboard\/(\d+)\/?$/.exec(pathname);
  if (!m || typeof EventSource === 'undefined') return;
  const lineId = Number(m[1]);
  const es = new EventSource(apiUrl(`/live/line/${lineId}`));
  const slot: NonNullable<typeof early> = { lineId, es, first: null };
  const onFirst = (e: Event) => {
    slot.first = { snapshot: (JSON.parse((e as MessageEvent<string>).data) as { snapshot: LineSnapshot }).snapshot, at: Date.now() };
    es.removeEventListener('snapshot', onFirst);
  };
  es.addEventListener('snapshot', onFirst);
  early = slot;
  // Not taken over soon (another screen, or logged out): closed.
  setTimeout(() => {
    if (early === slot) {
      early = null;
      es.close();
    }
  }, 10_000);
}

/**
 * Subscribes to the line's server-sent events. The browser's EventSource sends the session
 * cookie and reconnects by itself; a refused stream (401 / 404) ends with `error`.
 */
export function useLiveLine(lineId: number | null): LiveState {
  const [state, setState] = useState<LiveState>(() =>
    early && early.lineId === lineId && early.first
      ? { snapshot: early.first.snapshot, status: 'live', error: null, receivedAt: early.first.at }
      : { snapshot: null, status: 'connecting', error: null, receivedAt: null },
  );
  useEffect(() => {
    if (lineId === null) return;
    let es: EventSource;
    const taken = early && early.lineId === lineId && early.es.readyState !== EventSource.CLOSED ? early : null;
    if (taken) {
      early = null;
      es = taken.es;
      if (taken.first) setState({ snapshot: taken.first.snapshot, status: 'live', error: null, receivedAt: taken.first.at });
    } else {
      setState({ snapshot: null, status: 'connecting', error: null, receivedAt: null });
      es = new EventSource(apiUrl(`/live/line/${lineId}`));
    }
    es.addEventListener('snapshot', (e) => {
      const msg = JSON.parse((e as MessageEvent<string>).data) as { snapshot: LineSnapshot };
      setState({ snapshot: msg.snapshot, status: 'live', error: null, receivedAt: Date.now() });
    });
    es.addEventListener('error', () => {
      if (es.readyState === EventSource.CLOSED) {
        setState((s) => ({ ...s, status: 'error', error: 'The live stream was refused (logged out, or the line no longer exists).' }));
      } else setState((s) => ({ ...s, status: 'reconnecting' }));
    });
    return () => es.close();
  }, [lineId]);
  return state;
}
