import { describe, expect, it } from 'vitest';
import { bearer, makeReleasedWorkOrder, system, testApp, testServices, tokenFor, uniq } from '../helpers.ts';

/** Shortage warning: remaining need of open work orders per part against usable stock. */

const s = () => testServices();

describe('shortage warning', () => {
  it('appears when stock cannot cover the remaining need, disappears with stock or progress, counts holds and expiry', async () => {
    const m = await makeReleasedWorkOrder({ quantity: 10 });
    const receive = async (i: number, quantity: number, over: { expiresAt?: Date } = {}) =>
      (await s().materials.receive(system, { ipn: m.partIpns[i]!, manufacturer: 'Acme', mpn: `${m.product.code}-MPN${i}`, quantity, lotCode: uniq('LOT'), ...over })).package;
    const short = async () => Object.fromEntries((await s().materials.shortages({ workOrderId: m.wo.id })).map((w) => [w.ipn, [w.needed, w.available, w.shortBy]]));
    const [p0, p1, p2] = m.partIpns as [string, string, string];

    // 10 units × 2 designators per part; nothing in stock.
    expect(await short()).toEqual({ [p0]: [20, 0, 20], [p1]: [20, 0, 20], [p2]: [20, 0, 20] });
    await receive(0, 15);
    await receive(1, 20);
    await receive(2, 30);
    expect(await short()).toEqual({ [p0]: [20, 15, 5] });
    const w = (await s().materials.shortages({ workOrderId: m.wo.id }))[0]!;
    expect(w).toMatchObject({ kind: 'shortage', workOrders: [{ id: m.wo.id, number: m.wo.number, remainingUnits: 10, needed: 20 }] });
    expect(w.message).toContain(`short by 5`);

    // Three units placed: 7 remain → 14 needed per part; 15 cover part 0.
    const serials = (await s().tracking.generateUnits(system, { workOrder: m.wo.id, count: 3 })).serials;
    for (const u of serials) {
      await s().tracking.complete(system, { stationId: m.stations.printer!.id, identifier: u, result: 'pass' });
      await s().tracking.complete(system, { stationId: m.stations.placement!.id, identifier: u, result: 'pass' });
    }
    expect(await short()).toEqual({});

    // A quality hold on a lot and an expired lot do not count as stock.
    const held = await receive(1, 100);
    await s().quality.placeHold(system, { scope: 'material_lot', materialLotId: held.lotId, reasonCode: 'SUSPECT_MATERIAL', reason: 'supplier notice' });
    await receive(2, 100, { expiresAt: new Date(Date.now() - 3_600_000) });
    const p1pkg = (await s().materials.listPackages({ ipn: p1 })).find((p) => p.quantity === 20)!;
    await s().materials.consume(system, p1pkg.id, { quantity: 10 });
    expect(await short()).toEqual({ [p1]: [14, 10, 4] });

    const app = await testApp();
    const r = await app.inject({ method: 'GET', url: `/api/v1/material-shortages?workOrderId=${m.wo.id}`, headers: bearer(await tokenFor('viewer')) });
    expect(r.statusCode).toBe(200);
    expect(r.json().map((x: { ipn: string; shortBy: number }) => [x.ipn, x.shortBy])).toEqual([[p1, 4]]);
    await app.close();
  });
});
