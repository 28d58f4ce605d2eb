import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/platform/http.ts';
import { bearer, system, testApp, testDb, tokenFor } from '../helpers.ts';
import { goodUnits, makeShippable, s } from './support.ts';

/** Carton labels sent as raw ZPL to a network label printer (a real TCP listener on loopback plays the Zebra). */

let app: App;
beforeAll(async () => {
  app = await testApp();
});
afterAll(async () => app.close());

/** A listener that collects what one connection sends until the sender closes it. */
async function fakePrinter() {
  let resolveJob!: (b: Buffer) => void;
  const job = new Promise<Buffer>((r) => (resolveJob = r));
  const server = net.createServer((sock) => {
    const chunks: Buffer[] = [];
    sock.on('data', (d) => chunks.push(d));
    sock.on('end', () => {
      resolveJob(Buffer.concat(chunks));
      sock.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, job, close: () => new Promise((r) => server.close(r)) };
}

describe('carton label printing', () => {
  it('sends exactly the carton ZPL to host:port, audited; an unreachable printer is a clear 502', async () => {
    const m = await makeShippable();
    const [a] = await goodUnits(m, 1);
    const c = await s().shipping.createCarton(system, { workOrder: m.wo.number, capacity: 5 });
    await s().shipping.pack(system, c.id, { identifier: a! });
    const zpl = (await s().shipping.label(c.id, 'zpl')).body as string;
    expect(zpl.startsWith('^XA')).toBe(true);

    const printer = await fakePrinter();
    try {
      const res = await app.inject({
        method: 'POST', url: `/api/v1/shipping/cartons/${c.id}/label/print`, headers: bearer(await tokenFor('operator')), payload: { host: '127.0.0.1', port: printer.port },
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toEqual({ bytesWritten: Buffer.byteLength(zpl), printer: `127.0.0.1:${printer.port}` });
      expect((await printer.job).toString('utf8')).toBe(zpl);
    } finally {
      await printer.close();
    }
    const audit = await testDb().one<{ after: { printer: string; bytes: number } }>(
      `SELECT after FROM audit_log WHERE entity = 'carton' AND entity_id = $1 AND action = 'print_label' ORDER BY id DESC LIMIT 1`, [String(c.id)],
    );
    expect(audit!.after).toEqual({ printer: `127.0.0.1:${printer.port}`, bytes: Buffer.byteLength(zpl) });

    // The listener is gone: the connection is refused, and the operator is told what to check.
    const down = await app.inject({
      method: 'POST', url: `/api/v1/shipping/cartons/${c.id}/label/print`, headers: bearer(await tokenFor('operator')), payload: { host: '127.0.0.1', port: printer.port },
    });
    expect(down.statusCode).toBe(502);
    expect(down.json()).toMatchObject({ code: 'PRINTER_UNREACHABLE' });
    expect(down.json().detail ?? down.json().message ?? down.body).toMatch(/refused the connection/);
  });

  it('refuses bad input: no host, a port out of range, an unknown carton, a role that does not pack', async () => {
    const m = await makeShippable();
    const c = await s().shipping.createCarton(system, { workOrder: m.wo.number, capacity: 5 });
    const op = bearer(await tokenFor('operator'));
    expect((await app.inject({ method: 'POST', url: `/api/v1/shipping/cartons/${c.id}/label/print`, headers: op, payload: { port: 9100 } })).statusCode).toBe(400);
    expect((await app.inject({ method: 'POST', url: `/api/v1/shipping/cartons/${c.id}/label/print`, headers: op, payload: { host: '127.0.0.1', port: 70000 } })).statusCode).toBe(400);
    expect((await app.inject({ method: 'POST', url: `/api/v1/shipping/cartons/999999999/label/print`, headers: op, payload: { host: '127.0.0.1' } })).statusCode).toBe(404);
    expect((await app.inject({ method: 'POST', url: `/api/v1/shipping/cartons/${c.id}/label/print`, headers: bearer(await tokenFor('viewer')), payload: { host: '127.0.0.1' } })).statusCode).toBe(403);
  });
});
