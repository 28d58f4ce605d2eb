import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/platform/http.ts';
import { bearer, makeReleasedWorkOrder, system, testApp, testServices, tokenFor } from '../helpers.ts';

let app: App;
let base: string;

beforeAll(async () => {
  app = await testApp();
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});
afterAll(async () => app.close());

/** Reads server-sent events from a fetch response body. */
function eventReader(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  return async function next(timeoutMs = 5_000): Promise<{ event: string; data: string; id?: string }> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const i = buf.indexOf('\n\n');
      if (i >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const fields: Record<string, string> = {};
        for (const line of block.split('\n')) {
          if (line.startsWith(':') || !line.includes(':')) continue;
          const k = line.slice(0, line.indexOf(':'));
          fields[k] = line.slice(line.indexOf(':') + 1).trimStart();
        }
        if (fields.event) return { event: fields.event, data: fields.data ?? '', ...(fields.id ? { id: fields.id } : {}) };
        continue;
      }
      const left = until - Date.now();
      if (left <= 0) throw new Error('no event in time');
      const r = await Promise.race([reader.read(), new Promise<'timeout'>((res) => setTimeout(() => res('timeout'), left))]);
      if (r === 'timeout') throw new Error('no event in time');
      if (r.done) throw new Error('stream ended');
      buf += decoder.decode(r.value, { stream: true });
    }
  };
}

describe('live line stream', () => {
  it('is text/event-stream, sends the snapshot at once and a new one within a second of a passage', async () => {
    const m = await makeReleasedWorkOrder({ quantity: 5 });
    const { serials } = await testServices().tracking.generateUnits(system, { workOrder: m.wo.id, count: 3 });
    const ac = new AbortController();
    const res = await fetch(`${base}/api/v1/live/line/${m.line.id}`, { headers: bearer(await tokenFor('viewer')), signal: ac.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const next = eventReader(res.body!);
    try {
      const first = await next();
      expect(first.event).toBe('snapshot');
      const snap = JSON.parse(first.data).snapshot;
      expect(snap.line.id).toBe(m.line.id);
      expect(snap.activeWorkOrder).toMatchObject({ id: m.wo.id, progress: { created: 3, passed: 0 } });
      expect(snap.stations.map((s: { code: string }) => s.code)).toEqual(Object.values(m.stations).map((s) => s.code));
      const printStep = snap.activeWorkOrder.steps.find((s: { seq: number }) => s.seq === 10);
      expect(printStep).toMatchObject({ queued: 3, firstPasses: 0, fpy: null });

      const t0 = Date.now();
      await testServices().tracking.complete(system, { stationId: m.stations.printer!.id, identifier: serials[0]!, result: 'pass' });
      // Queries of one snapshot run in parallel, so a snapshot built while the passage committed
      // may show part of it; the next tick sends the whole of it.
      let ev;
      do ev = JSON.parse((await next(2_000)).data).snapshot;
      while (!ev.lastPassage || ev.activeWorkOrder.steps.find((s: { seq: number }) => s.seq === 10).firstPasses === 0);
      const elapsed = Date.now() - t0;
      expect(elapsed).toBeLessThan(1_000);
      expect(ev.lastPassage).toMatchObject({ serial: serials[0], station: m.stations.printer!.code, stepSeq: 10, result: 'pass' });
      expect(ev.activeWorkOrder.steps.find((s: { seq: number }) => s.seq === 10)).toMatchObject({ queued: 2, firstPasses: 1, passedFirst: 1, fpy: 1 });
    } finally {
      ac.abort();
    }
  });

  it('the snapshot route gives the same data; unknown lines are 404 before any stream starts', async () => {
    const m = await makeReleasedWorkOrder({ quantity: 2 });
    const token = await tokenFor('operator');
    const snap = await app.inject({ method: 'GET', url: `/api/v1/live/line/${m.line.id}/snapshot`, headers: bearer(token) });
    expect(snap.statusCode).toBe(200);
    expect(snap.json()).toMatchObject({ line: { id: m.line.id }, activeWorkOrder: { id: m.wo.id } });
    const missing = await app.inject({ method: 'GET', url: '/api/v1/live/line/999999999', headers: bearer(token) });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('NOT_FOUND');
    const anonymous = await app.inject({ method: 'GET', url: `/api/v1/live/line/${m.line.id}` });
    expect(anonymous.statusCode).toBe(401);
  });
});
