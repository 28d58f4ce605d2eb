import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/platform/http.ts';
import { bearer, system, testApp, tokenFor } from '../helpers.ts';
import { goodUnits, makeShippable, s } from './support.ts';
import { decodePng } from '../png.ts';

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
    const img = decodePng(res.rawPayload);
    expect(img.width).toBe(img.height); // a square Data Matrix
    expect(img.width).toBeGreaterThan(60);
    // Opaque white corners (the quiet zone), dark modules inside.
    for (const [x, y] of [[0, 0], [img.width - 1, 0], [0, img.height - 1], [img.width - 1, img.height - 1]] as const) expect(img.rgba(x, y)).toEqual([255, 255, 255, 255]);
    let dark = 0;
    for (let y = 0; y < img.height; y++) for (let x = 0; x < img.width; x++) if (img.rgba(x, y)[0]! < 128) dark++;
    expect(dark).toBeGreaterThan(img.width);
    const bad = await app.inject({ method: 'GET', url: `/api/v1/shipping/cartons/${c.id}/label?format=gif`, headers: bearer(await tokenFor('viewer')) });
    expect(bad.statusCode).toBe(400);
  });
});
