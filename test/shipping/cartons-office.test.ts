import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/platform/http.ts';
import { bearer, system, testApp, tokenFor } from '../helpers.ts';
import { goodUnits, makeShippable, s } from './support.ts';

/** Office look-ups of cartons: by the code on the label, the label's PNG preview. */

let app: App;
beforeAll(async () => {
  app = await testApp();
});
afterAll(async () => app.close());

describe('cartons in the office', () => {
  it('finds a carton by its code (with its units), filters the list by code, 404 for an unknown code', async () => {
    const m = await makeShippable();
    const [a, b] = await goodUnits(m, 2);
    const c = await s().shipping.createCarton(system, { workOrder: m.wo.number, capacity: 5 });
    const other = await s().shipping.createCarton(system, { workOrder: m.wo.number, capacity: 5 });
    await s().shipping.pack(system, c.id, { identifier: a! });
    await s().shipping.pack(system, c.id, { identifier: b! });
    const headers = bearer(await tokenFor('viewer'));
    const res = await app.inject({ method: 'GET', url: `/api/v1/shipping/cartons/by-code/${encodeURIComponent(c.code)}`, headers });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ id: c.id, code: c.code, packed: 2, workOrderNumber: m.wo.number });
    expect(res.json().units.map((u: { serial: string }) => u.serial).sort()).toEqual([a, b].sort());
    const list = await app.inject({ method: 'GET', url: `/api/v1/shipping/cartons?code=${encodeURIComponent(other.code)}`, headers });
    expect(list.json().map((x: { id: number }) => x.id)).toEqual([other.id]);
    const missing = await app.inject({ method: 'GET', url: '/api/v1/shipping/cartons/by-code/NO-SUCH-CARTON', headers });
    expect([missing.statusCode, missing.json().code]).toEqual([404, 'NOT_FOUND']);
  });

  it('the label as a PNG: the Data Matrix of the carton ID on an opaque white background', async () => {
    const m = await makeShippable();
    const c = await s().shipping.createCarton(system, { workOrder: m.wo.number, capacity: 5 });
    const res = await app.inject({ method: 'GET', url: `/api/v1/shipping/cartons/${c.id}/label?format=png`, headers: bearer(await tokenFor('viewer')) });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/png');
    const png = res.rawPayload;
    expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    const width = png.readUInt32BE(16);
    const height = png.readUInt32BE(20);
    expect(width).toBe(height); // a square Data Matrix
    expect(width).toBeGreaterThan(60);
    const bad = await app.inject({ method: 'GET', url: `/api/v1/shipping/cartons/${c.id}/label?format=gif`, headers: bearer(await tokenFor('viewer')) });
    expect(bad.statusCode).toBe(400);
  });
});
