import type { Db } from '../../platform/db.ts';
import { lineSnapshot, startOfToday, stationOee, type LineSnapshot, type LiveDeps, type OeeCache } from './snapshot.ts';

/**
 * The push side of the line dashboard. One channel per line, shared by every subscriber of
 * that line in this instance: a short tick (default 250 ms) runs one cheap statement that reads
 * the high-water marks of what the dashboard shows (newest process record, state change, fault,
 * hold, alert, audit row; open fault / hold / alert counts; the active work order's newest unit
 * change). Only when that signature moved (or every `refreshMs`, for clocks such as moisture
 * floor life) is the snapshot rebuilt, and only a snapshot that differs from the last one is
 * sent. The cost is per line, not per browser: a hundred open dashboards of one line cost one
 * signature query per tick. Several instances each run their own channels over the same
 * database, so this needs no coordination.
 */

export interface LiveOptions {
  tickMs?: number;
  /** Rebuild at least this often even without a signature change (floor-life countdowns). */
  refreshMs?: number;
  /** How often OEE (the slowest part) is recomputed. */
  oeeMs?: number;
  /** Comment line sent to keep idle connections open through proxies. */
  keepAliveMs?: number;
  shortages?: () => Promise<{ ipn: string; shortBy: number; message: string; workOrders: { id: number }[] }[]>;
  onError?: (e: unknown) => void;
}

export interface Subscriber {
  send(event: string, data: string, id?: number): void;
  comment(text: string): void;
}

const SIGNATURE_SQL = `SELECT concat_ws(':',
    (SELECT max(id) FROM process_records), (SELECT max(id) FROM station_states), (SELECT max(id) FROM faults),
    (SELECT count(*) FROM faults WHERE cleared_at IS NULL), (SELECT max(id) FROM audit_log), (SELECT max(id) FROM quality_alerts),
    (SELECT count(*) FROM quality_alerts WHERE state = 'open'), (SELECT max(id) FROM quality_holds), (SELECT count(*) FROM quality_holds WHERE released_at IS NULL),
    (SELECT max(id) FROM equipment_recipes), (SELECT max(changed_at) FROM equipment_status), (SELECT max(id) FROM load_attempts),
    (SELECT max(u.updated_at) FROM units u WHERE u.work_order_id = (SELECT work_order_id FROM line_active_work_orders WHERE line_id = $1)),
    (SELECT work_order_id FROM line_active_work_orders WHERE line_id = $1)) AS sig`;

class Channel {
  readonly subscribers = new Set<Subscriber>();
  private timer: NodeJS.Timeout | null = null;
  private keepAlive: NodeJS.Timeout | null = null;
  private running = false;
  private signature = '';
  private builtAt = 0;
  private oeeAt = 0;
  private oee: OeeCache = new Map();
  private oeeSince = startOfToday();
  private lastJson = '';
  private seq = 0;
  last: LineSnapshot | null = null;

  constructor(private readonly hub: LiveHub, readonly lineId: number) {}

  start() {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.hub.tickMs);
    this.timer.unref();
    this.keepAlive = setInterval(() => {
      for (const s of this.subscribers) s.comment('keep-alive');
    }, this.hub.keepAliveMs);
    this.keepAlive.unref();
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.timer = this.keepAlive = null;
  }

  /** Builds (or reuses a fresh) snapshot: what a new subscriber gets first. */
  async current(): Promise<LineSnapshot> {
    if (this.last && Date.now() - this.builtAt < this.hub.tickMs) return this.last;
    await this.rebuild();
    return this.last!;
  }

  async tick() {
    if (this.running || this.subscribers.size === 0) return;
    this.running = true;
    try {
      const sig = (await this.hub.db.query<{ sig: string }>(SIGNATURE_SQL, [this.lineId], 'live_signature')).rows[0]!.sig;
      if (sig !== this.signature || Date.now() - this.builtAt >= this.hub.refreshMs) {
        this.signature = sig;
        await this.rebuild();
      }
    } catch (e) {
      this.hub.onError(e);
    } finally {
      this.running = false;
    }
  }

  private async rebuild() {
    const now = Date.now();
    const ids = this.last?.stations.map((s) => s.id);
    if (now - this.oeeAt >= this.hub.oeeMs && ids) {
      this.oeeSince = startOfToday();
      this.oee = await stationOee(this.hub.deps, ids, this.oeeSince);
      this.oeeAt = now;
    }
    let snap = await lineSnapshot(this.hub.deps, this.lineId, this.oee, this.oeeSince, this.hub.shortages);
    if (!ids && snap.stations.length) {
      // First build: OEE right away, so the first screen is complete.
      this.oee = await stationOee(this.hub.deps, snap.stations.map((s) => s.id), this.oeeSince);
      this.oeeAt = now;
      snap = await lineSnapshot(this.hub.deps, this.lineId, this.oee, this.oeeSince, this.hub.shortages);
    }
    this.builtAt = now;
    this.last = snap;
    const json = JSON.stringify(snap);
    if (json === this.lastJson) return;
    this.lastJson = json;
    this.seq++;
    const data = JSON.stringify({ seq: this.seq, at: new Date().toISOString(), snapshot: snap });
    for (const s of this.subscribers) s.send('snapshot', data, this.seq);
  }

  payload(snap: LineSnapshot) {
    return JSON.stringify({ seq: this.seq, at: new Date().toISOString(), snapshot: snap });
  }
}

export class LiveHub {
  readonly tickMs: number;
  readonly refreshMs: number;
  readonly oeeMs: number;
  readonly keepAliveMs: number;
  readonly shortages: LiveOptions['shortages'];
  readonly onError: (e: unknown) => void;
  private readonly channels = new Map<number, Channel>();
  private closed = false;

  constructor(readonly db: Db, readonly deps: LiveDeps, opts: LiveOptions = {}) {
    this.tickMs = opts.tickMs ?? 250;
    this.refreshMs = opts.refreshMs ?? 5_000;
    this.oeeMs = opts.oeeMs ?? 10_000;
    this.keepAliveMs = opts.keepAliveMs ?? 15_000;
    this.shortages = opts.shortages;
    this.onError = opts.onError ?? (() => undefined);
  }

  /** The snapshot of a line now (the same data the stream sends). */
  async snapshot(lineId: number): Promise<LineSnapshot> {
    const ch = this.channels.get(lineId);
    if (ch) return ch.current();
    return new Channel(this, lineId).current();
  }

  /** Adds a subscriber: it gets the current snapshot at once, then each change. Returns the unsubscribe function. */
  async subscribe(lineId: number, sub: Subscriber): Promise<() => void> {
    if (this.closed) throw new Error('live hub closed');
    let ch = this.channels.get(lineId);
    if (!ch) {
      ch = new Channel(this, lineId);
      this.channels.set(lineId, ch);
    }
    let snap;
    try {
      snap = await ch.current();
    } catch (e) {
      if (ch.subscribers.size === 0) this.channels.delete(lineId);
      throw e;
    }
    ch.subscribers.add(sub);
    sub.send('snapshot', ch.payload(snap));
    ch.start();
    return () => {
      ch.subscribers.delete(sub);
      if (ch.subscribers.size === 0) {
        ch.stop();
        this.channels.delete(lineId);
      }
    };
  }

  /** Subscribers per line (for tests and health). */
  stats(): { lineId: number; subscribers: number }[] {
    return [...this.channels.values()].map((c) => ({ lineId: c.lineId, subscribers: c.subscribers.size }));
  }

  close() {
    this.closed = true;
    for (const ch of this.channels.values()) ch.stop();
    this.channels.clear();
  }
}
