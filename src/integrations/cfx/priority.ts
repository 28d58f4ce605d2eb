/**
 * Requests before bulk: the request listener (main thread) counts the requests it is answering in
 * a shared counter; the broker consumer's thread waits before its next message (see ingest.ts,
 * `setIngestGate`) while the counter is not zero, so a ValidateUnitsRequest does not share the
 * database and the processor with a batch of hundreds of messages. The waits are bounded (at most
 * 50 ms each, 100 ms in all per batch, which holds its locks meanwhile), so a stream of requests
 * slows ingestion down, never stops it.
 */
export class RequestPriority {
  readonly buffer: SharedArrayBuffer;
  private readonly count: Int32Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(4)) {
    this.buffer = buffer;
    this.count = new Int32Array(buffer);
  }

  /** Runs a request with priority over bulk ingestion. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    Atomics.add(this.count, 0, 1);
    try {
      return await fn();
    } finally {
      Atomics.sub(this.count, 0, 1);
      Atomics.notify(this.count, 0);
    }
  }

  /** For bulk ingestion: waits (at most `maxWaitMs`) while requests are being answered. */
  async yield(maxWaitMs = 50): Promise<void> {
    const end = performance.now() + maxWaitMs;
    for (;;) {
      const n = Atomics.load(this.count, 0);
      const left = end - performance.now();
      if (n === 0 || left <= 0) return;
      const w = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, t: number): { async: boolean; value: Promise<string> | string } }).waitAsync(this.count, 0, n, left);
      if (w.async) await w.value;
    }
  }
}
