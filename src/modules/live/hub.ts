import type { Db } from '../../platform/db.ts';
import { lineSnapshot, slowParts, type LineSnapshot, type LiveDeps, type Shortage, type SlowParts } from './snapshot.ts';

/**
 * The push side of the line dashboard. One channel per line, shared by every subscriber of
 * that line in this instance: a short tick (default 100 ms) runs one cheap statement that reads
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
  /** How often the slow parts (OEE, material warnings, shortages) are recomputed, in the background. */
  slowMs?: number;
  /** How long the first build of a channel waits for the slow parts before sending without them. */
  slowWaitMs?: number;
  /** A channel keeps running this long after its last subscriber left (page reloads, reconnects find it warm). */
  lingerMs?: number;
  /** Comment line sent to keep idle connections open through proxies. */
  keepAliveMs?: number;
  shortages?: () => Promise<Shortage[]>;
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
  private linger: NodeJS.Timeout | null = null;
  private running = false;
  private signature = '';
  private builtAt = 0;
  private slow: SlowParts | null = null;
  private slowAt = 0;
  /** The slow parts being computed, shared by every caller until they are done. */
  private slowPending: Promise<SlowParts> | null = null;
  private building: Promise<void> | null = null;
  private lastJson = '';
  private seq = 0;
  last: LineSnapshot | null = null;

  constructor(private readonly hub: LiveHub, readonly lineId: number, private readonly onIdle: () => void) {}

  start() {
    if (this.linger) clearTimeout(this.linger);
    this.linger = null;
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.hub.tickMs);
    this.timer.unref();
    this.keepAlive = setInterval(() => {
      for (const s of this.subscribers) s.comment('keep-alive');
    }, this.hub.keepAliveMs);
    this.keepAlive.unref();
  }

  /** The last subscriber left: keep the channel warm for a while, then stop. */
  idle() {
    if (this.linger) clearTimeout(this.linger);
    this.linger = setTimeout(() => {
      if (this.subscribers.size === 0) {
        this.stop();
        this.onIdle();
      }
    }, this.hub.lingerMs);
    this.linger.unref();
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    if (this.keepAlive) clearInterval(this.keepAlive);
    if (this.linger) clearTimeout(this.linger);
    this.timer = this.keepAlive = this.linger = null;
  }

  /** The snapshot for a new subscriber: the last one when the channel is running (ticks keep it current), else built now. */
  async current(): Promise<LineSnapshot> {
    if (this.last && this.timer && Date.now() - this.builtAt < this.hub.refreshMs) return this.last;
    await this.rebuild();
    return this.last!;
  }

  async tick() {
    if (this.running) return;
    this.running = true;
    try {
      if (Date.now() - this.slowAt >= this.hub.slowMs) void this.refreshSlow();
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

  /**
   * OEE, warnings and shortages in the background; the next tick sends them. One computation at
   * a time: callers while it runs share it. A failure is reported once and answers the parts as
   * they were (or empty), so the snapshot still goes out; the next tick tries again.
   */
  private refreshSlow(): Promise<SlowParts> {
    this.slowPending ??= slowParts(this.hub.deps, this.lineId, this.hub.shortages)
      .then(
        (x) => {
          this.slow = x;
          this.slowAt = Date.now();
          this.builtAt = 0;
          return x;
        },
        (e: unknown) => {
          this.hub.onError(e);
          return this.slow ?? emptySlow();
        },
      )
      .finally(() => (this.slowPending = null));
    return this.slowPending;
  }

  private rebuild(): Promise<void> {
    // Concurrent callers (a tick and a new subscriber) share one build.
    this.building ??= this.build().finally(() => (this.building = null));
    return this.building;
  }

  private async build() {
    // First build: the slow parts run alongside the snapshot queries; if they take longer than
    // `slowWaitMs`, the first snapshot goes out without them and the next tick adds them.
    const slow: SlowParts | Promise<SlowParts> = this.slow
      ?? Promise.race([this.refreshSlow(), new Promise<SlowParts>((resolve) => setTimeout(() => resolve(emptySlow()), this.hub.slowWaitMs).unref())]);
    const snap = await lineSnapshot(this.hub.deps, this.lineId, slow);
    this.builtAt = Date.now();
    this.last = snap;
    const json = JSON.stringify(snap);
    if (json === this.lastJson) return;
    this.lastJson = json;
    this.seq++;
    const data = this.payload(snap);
    for (const s of this.subscribers) s.send('snapshot', data, this.seq);
  }

  payload(snap: LineSnapshot) {
    return JSON.stringify({ seq: this.seq, at: new Date().toISOString(), snapshot: snap });
  }
}

const emptySlow = (): SlowParts => ({ oee: new Map(), oeeSince: new Date(), warnings: [], shortages: [] });

export class LiveHub {
  readonly tickMs: number;
  readonly refreshMs: number;
  readonly slowMs: number;
  readonly lingerMs: number;
  readonly slowWaitMs: number;
  readonly keepAliveMs: number;
  readonly shortages: LiveOptions['shortages'];
  readonly onError: (e: unknown) => void;
  private readonly channels = new Map<number, Channel>();
  private closed = false;

  constructor(readonly db: Db, readonly deps: LiveDeps, opts: LiveOptions = {}) {
    this.tickMs = opts.tickMs ?? 100;
    this.refreshMs = opts.refreshMs ?? 5_000;
    this.slowMs = opts.slowMs ?? 10_000;
    this.lingerMs = opts.lingerMs ?? 60_000;
    this.slowWaitMs = opts.slowWaitMs ?? 300;
    this.keepAliveMs = opts.keepAliveMs ?? 15_000;
    this.shortages = opts.shortages;
    this.onError = opts.onError ?? (() => undefined);
  }

  /** The snapshot of a line now (the same data the stream sends). */
  async snapshot(lineId: number): Promise<LineSnapshot> {
    const ch = this.channels.get(lineId);
    if (ch) return ch.current();
    return new Channel(this, lineId, () => undefined).current();
  }

  /** Adds a subscriber: it gets the current snapshot at once, then each change. Returns the unsubscribe function. */
  async subscribe(lineId: number, sub: Subscriber): Promise<() => void> {
    if (this.closed) throw new Error('live hub closed');
    let ch = this.channels.get(lineId);
    if (!ch) {
      const created = new Channel(this, lineId, () => {
        if (this.channels.get(lineId) === created) this.channels.delete(lineId);
      });
      ch = created;
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
      if (ch.subscribers.size === 0) ch.idle();
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
