/**
 * The one interface of every external door (AMQP consumer and listener, MQTT subscriber, …):
 * `mes serve` starts the configured ones, stops them on shutdown, and reports their health.
 */

export type AdapterState = 'starting' | 'up' | 'degraded' | 'down' | 'stopped';

export interface AdapterHealth {
  name: string;
  state: AdapterState;
  /** Why it is not up, or where it is connected. */
  detail: string | null;
  since: Date;
  /** Running totals, e.g. received, committed, duplicates, deadLettered. */
  counters: Record<string, number>;
}

export interface Adapter {
  readonly name: string;
  /** Resolves once the adapter is ready to receive (or keeps retrying in the background, state `down`). */
  start(): Promise<void>;
  /** Stops receiving, finishes (commits and acknowledges) what is in progress, disconnects. */
  stop(): Promise<void>;
  health(): AdapterHealth;
}

/** Small helper for adapters: state with the time it was entered, and counters. */
export class HealthState {
  state: AdapterState = 'stopped';
  detail: string | null = null;
  since = new Date();
  readonly counters: Record<string, number> = {};

  constructor(readonly name: string) {}

  set(state: AdapterState, detail: string | null = null): void {
    if (state !== this.state) this.since = new Date();
    this.state = state;
    this.detail = detail;
  }

  count(name: string, n = 1): void {
    this.counters[name] = (this.counters[name] ?? 0) + n;
  }

  snapshot(): AdapterHealth {
    return { name: this.name, state: this.state, detail: this.detail, since: this.since, counters: { ...this.counters } };
  }
}
