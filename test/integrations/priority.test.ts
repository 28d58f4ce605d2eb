import { describe, expect, it } from 'vitest';
import { RequestPriority } from '../../src/integrations/cfx/priority.ts';

/** Requests before bulk (src/integrations/cfx/priority.ts): the consumer's batches wait while a request is answered, never longer than the bound. */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('request priority', () => {
  it('a batch waits at its level boundary while a request is answered, and goes on when it is done', async () => {
    const p = new RequestPriority();
    let answered = false;
    const request = p.run(async () => {
      await sleep(30);
      answered = true;
    });
    // The consumer thread shares only the buffer.
    const other = new RequestPriority(p.buffer);
    const t0 = performance.now();
    await other.yield(1000);
    expect(answered).toBe(true);
    expect(performance.now() - t0).toBeLessThan(500);
    await request;
    const t1 = performance.now();
    await other.yield(1000);
    expect(performance.now() - t1).toBeLessThan(20);
  });

  it('waits at most maxWaitMs: a stream of requests slows a batch down, never stops it', async () => {
    const p = new RequestPriority();
    let stop = false;
    const stream = p.run(async () => {
      while (!stop) await sleep(5);
    });
    const t0 = performance.now();
    await p.yield(40);
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(35);
    expect(waited).toBeLessThan(400);
    stop = true;
    await stream;
  });
});
