import type { IncomingPayload, IngestResult } from './ingest.ts';

/**
 * Groups incoming payloads into batches applied in one transaction each, on parallel ordered
 * lanes: payloads with the same key always take the same lane and are applied in the order
 * received (the key is the unit a message is about, else its sender: orderingKey in ingest.ts),
 * while other units and machines proceed in parallel. A lane starts a batch as soon as it is idle; what arrives meanwhile forms the next
 * batch (up to batchSize), so batches grow with load and latency stays low without it.
 *
 * `settle` is called only after the batch committed (the transport acknowledges then). When
 * a batch fails (database unreachable), it is retried with backoff and the lane waits: nothing
 * is acknowledged, the broker keeps the messages.
 */
export interface BatchItem<T> {
  input: IncomingPayload;
  tag: T;
}

export interface BatcherOptions<T> {
  lanes: number;
  batchSize: number;
  ingest(inputs: IncomingPayload[]): Promise<IngestResult[]>;
  settle(items: BatchItem<T>[], results: IngestResult[]): void;
  /** Items that no longer need processing (their delivery's connection is gone). */
  isStale?(tag: T): boolean;
  onError?(err: unknown, attempt: number): void;
}

interface Lane<T> {
  queue: BatchItem<T>[];
  busy: Promise<void> | null;
}

export class LaneBatcher<T> {
  private readonly lanes: Lane<T>[];
  private stopped = false;
  private retrying = 0;

  constructor(private readonly opts: BatcherOptions<T>) {
    this.lanes = Array.from({ length: Math.max(1, opts.lanes) }, () => ({ queue: [], busy: null }));
  }

  /** Items waiting or in progress. */
  get pending(): number {
    return this.lanes.reduce((n, l) => n + l.queue.length, 0);
  }

  /** True while some lane is retrying a failed batch. */
  get degraded(): boolean {
    return this.retrying > 0;
  }

  push(item: BatchItem<T>, key: string | null): void {
    const lane = this.lanes[key === null ? 0 : hash(key) % this.lanes.length]!;
    lane.queue.push(item);
    if (!lane.busy) lane.busy = this.run(lane).finally(() => (lane.busy = null));
  }

  private async run(lane: Lane<T>): Promise<void> {
    while (lane.queue.length && !this.stopped) {
      let batch = lane.queue.splice(0, this.opts.batchSize);
      let delay = 250;
      for (let attempt = 1; ; attempt++) {
        if (this.opts.isStale) batch = batch.filter((b) => !this.opts.isStale!(b.tag));
        if (batch.length === 0) break;
        try {
          const results = await this.opts.ingest(batch.map((b) => b.input));
          if (attempt > 1) this.retrying--;
          this.opts.settle(batch, results);
          break;
        } catch (e) {
          if (attempt === 1) this.retrying++;
          this.opts.onError?.(e, attempt);
          if (this.stopped) {
            this.retrying--;
            return;
          }
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(delay * 2, 15_000);
        }
      }
    }
  }

  /** Waits until every lane is idle (what was queued is committed and settled). */
  async drain(): Promise<void> {
    for (;;) {
      const busy = this.lanes.map((l) => l.busy).filter((b): b is Promise<void> => b !== null);
      if (busy.length === 0) return;
      await Promise.all(busy);
    }
  }

  /** Drops queued items whose tag matches (e.g. deliveries of a closed connection, which the broker will redeliver). */
  discard(pred: (tag: T) => boolean): number {
    let n = 0;
    for (const l of this.lanes) {
      const keep = l.queue.filter((b) => !pred(b.tag));
      n += l.queue.length - keep.length;
      l.queue = keep;
    }
    return n;
  }

  /** Stops starting new batches; a running batch finishes. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.lanes.map((l) => l.busy).filter(Boolean));
  }
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
