import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/platform/http.ts';
import { bearer, makeQualityWorkOrder, makeUser, system, testApp, tokenFor, uniq } from '../helpers.ts';
import { finish, goodUnits, lastRefusal, makeShippable, packCodes, pass, s, units } from './support.ts';

/** Packing by scan: only units that passed every required step with no open disposition, NCR or hold; every refusal named and recorded. */

let app: App;
beforeAll(async () => {
  app = await testApp();
});
afterAll(async () => app.close());

describe('packing', () => {
  it('packs good units, closes the full carton, and prints its label (ZPL and PDF)', async () => {
    const m = await makeShippable();
    const [a, b] = await goodUnits(m, 2);
    const c = await s().shipping.createCarton(system, { workOrder: m.wo.number, capacity: 2 });
    expect(c).toMatchObject({ state: 'open', packed: 0, capacity: 2, workOrderId: m.wo.id, productRevisionId: m.revision.id });
    expect(c.code).toMatch(/^CTN-\d{7}$/);
    expect(await packCodes(c.id, a!)).toEqual([]);
    expect(await packCodes(c.id, b!)).toEqual([]);
    const full = await s().shipping.getCarton(c.id);
    expect(full).toMatchObject({ state: 'closed', packed: 2 });
    expect((await s().shipping.cartonUnits(c.id)).map((u) => u.serial).sort()).toEqual([a, b].sort());
    const zpl = await app.inject({ method: 'GET', url: `/api/v1/shipping/cartons/${c.id}/label`, headers: bearer(await tokenFor('viewer')) });
    expect(zpl.statusCode).toBe(200);
    expect(zpl.body).toContain(`^FD${c.code}^FS`);
    expect(zpl.body).toContain(`${m.product.code} rev A`);
    expect(zpl.body).toContain('QTY 2 / 2');
    const pdf = await app.inject({ method: 'GET', url: `/api/v1/shipping/cartons/${c.id}/label?format=pdf`, headers: bearer(await tokenFor('viewer')) });
    expect(pdf.headers['content-type']).toBe('application/pdf');
    expect(pdf.rawPayload.subarray(0, 5).toString()).toBe('%PDF-');
  });

  it('refuses, naming every reason, and records each refusal', async () => {
    const m = await makeShippable();
    const other = await makeShippable();
    const c = await s().shipping.createCarton(system, { workOrder: m.wo.id, capacity: 20 });
    const [good, failedResult, noResult, atPlacement, failed, underNcr, held, repaired] = await units(m, 8);
    await finish(m, good!);
    expect(await packCodes(c.id, uniq('NOPE'))).toEqual(['UNKNOWN_UNIT']);

    for (const t of ['printer', 'placement', 'aoi']) await pass(m, t, failedResult!);
    await s().quality.recordResult(system, { stationId: m.stations.aoi!.id, unit: failedResult!, method: 'aoi', result: 'fail', defects: [{ code: 'BRIDGE', refdes: 'U1' }] });
    expect(await packCodes(c.id, failedResult!)).toEqual(['FAILED_REQUIRED_RESULT']);
    // The call was a false call: the result counts as passed.
    const d = await s().quality.listDefects({ serial: failedResult! });
    await s().quality.verifyDefects(system, [{ defectId: d[0]!.id, verdict: 'false_call' }]);
    expect(await packCodes(c.id, failedResult!)).toEqual([]);

    for (const t of ['printer', 'placement', 'aoi']) await pass(m, t, noResult!);
    expect(await packCodes(c.id, noResult!)).toEqual(['MISSING_REQUIRED_RESULT']);
    const rec = await lastRefusal(noResult!);
    expect(rec!.codes).toEqual(['MISSING_REQUIRED_RESULT']);
    expect(rec!.details.refusals[0]!.message).toContain(`unit ${noResult} has no aoi result`);

    await pass(m, 'printer', atPlacement!);
    expect(await packCodes(c.id, atPlacement!)).toEqual(['ROUTE_INCOMPLETE', 'MISSING_REQUIRED_RESULT']);

    await pass(m, 'printer', failed!);
    await pass(m, 'placement', failed!, 'fail');
    expect(await packCodes(c.id, failed!)).toContain('UNIT_FAILED');

    await finish(m, underNcr!);
    const ncr = await s().quality.createNcr(system, { title: 'scratched housing', subject: { kind: 'unit', serial: underNcr! } });
    expect(await packCodes(c.id, underNcr!)).toEqual(['OPEN_NCR']);
    expect((await lastRefusal(underNcr!))!.details.refusals[0]!.message).toContain(ncr.number);

    await finish(m, held!);
    const h = await s().quality.placeHold(system, { scope: 'unit', serial: held!, reasonCode: 'OTHER', reason: 'customer asked to check' });
    expect(await packCodes(c.id, held!)).toEqual(['ON_HOLD']);
    expect((await lastRefusal(held!))!.details.refusals[0]!.message).toContain(h.number);

    await finish(m, repaired!);
    await s().quality.recordRework(system, { serial: repaired!, action: 'touched up R1', verifyStepSeq: 30 });
    expect(await packCodes(c.id, repaired!)).toEqual(['ROUTE_INCOMPLETE', 'UNVERIFIED_REPAIR']);
    await pass(m, 'aoi', repaired!);
    expect(await packCodes(c.id, repaired!)).toEqual([]);

    const [foreign] = await goodUnits(other, 1);
    expect(await packCodes(c.id, foreign!)).toEqual(['WRONG_PRODUCT', 'WRONG_WORK_ORDER']);
    expect(await packCodes(c.id, good!)).toEqual([]);
    expect(await packCodes(c.id, good!)).toEqual(['ALREADY_PACKED']);

    // The packing station is held.
    const st = await s().quality.placeHold(system, { scope: 'station', stationId: m.stations.packing!.id, reasonCode: 'EQUIPMENT_ISSUE', reason: 'scale out of calibration' });
    const [next] = await goodUnits(m, 1);
    expect(await packCodes(c.id, next!, m.stations.packing!.id)).toEqual(['STATION_HELD']);
    const qe = await makeUser('quality-engineer');
    await s().quality.releaseHold(qe.principal, st.id, { signature: qe.signature() });
    expect(await packCodes(c.id, next!, m.stations.packing!.id)).toEqual([]);
  });

  it('capacity and closed cartons', async () => {
    const m = await makeShippable();
    const [a, b, x] = await goodUnits(m, 3);
    const c = await s().shipping.createCarton(system, { workOrder: m.wo.id, capacity: 2 });
    await s().shipping.pack(system, c.id, { identifier: a! });
    await s().shipping.pack(system, c.id, { identifier: b! });
    expect(await packCodes(c.id, x!)).toEqual(['CARTON_NOT_OPEN']);
    await s().shipping.unpack(system, c.id, { serial: b!, reason: 'label damaged' });
    expect(await packCodes(c.id, x!)).toEqual([]);
    const c2 = await s().shipping.createCarton(system, { workOrder: m.wo.id, capacity: 5 });
    await s().shipping.pack(system, c2.id, { identifier: b! });
    await s().shipping.closeCarton(system, c2.id);
    const [y] = await goodUnits(m, 1);
    expect(await packCodes(c2.id, y!)).toEqual(['CARTON_NOT_OPEN']);
  });

  it('lots may not mix in a carton when the quality plan says so', async () => {
    const strict = await makeShippable({ mixedLotsAllowed: false });
    const l1 = await s().tracking.createLot(system, { workOrder: strict.wo.id, code: uniq('LOT') });
    const l2 = await s().tracking.createLot(system, { workOrder: strict.wo.id, code: uniq('LOT') });
    const [a, b] = await goodUnits(strict, 2, { lotId: l1.id });
    const [c] = await goodUnits(strict, 1, { lotId: l2.id });
    const carton = await s().shipping.createCarton(system, { workOrder: strict.wo.id, capacity: 10 });
    expect(await packCodes(carton.id, a!)).toEqual([]);
    expect(await packCodes(carton.id, c!)).toEqual(['MIXED_LOTS']);
    expect(await packCodes(carton.id, b!)).toEqual([]);
    const loose = await makeShippable({ mixedLotsAllowed: true });
    const k1 = await s().tracking.createLot(system, { workOrder: loose.wo.id, code: uniq('LOT') });
    const k2 = await s().tracking.createLot(system, { workOrder: loose.wo.id, code: uniq('LOT') });
    const [d] = await goodUnits(loose, 1, { lotId: k1.id });
    const [e] = await goodUnits(loose, 1, { lotId: k2.id });
    const lc = await s().shipping.createCarton(system, { workOrder: loose.wo.id, capacity: 10 });
    expect(await packCodes(lc.id, d!)).toEqual([]);
    expect(await packCodes(lc.id, e!)).toEqual([]);
  });

  it('traceability below the plan: no lot for a lot-traced plan; no recorded material for an M2+ plan', async () => {
    const byLot = await makeShippable({ traceDepth: 'lot' });
    const [noLot] = await goodUnits(byLot, 1);
    const c = await s().shipping.createCarton(system, { workOrder: byLot.wo.id, capacity: 10 });
    expect(await packCodes(c.id, noLot!)).toEqual(['TRACE_BELOW_DEPTH']);
    const lot = await s().tracking.createLot(system, { workOrder: byLot.wo.id, code: uniq('LOT') });
    await s().tracking.assignToLot(system, lot.id, [noLot!]);
    expect(await packCodes(c.id, noLot!)).toEqual([]);

    const m2 = await makeShippable({ materialLevel: 'M2' });
    const eq = await s().factory.equipment.create(system, { stationId: m2.stations.placement!.id, code: uniq('EQ'), name: 'placer' });
    const [bare, traced] = await units(m2, 2);
    for (const u of [bare, traced]) await pass(m2, 'printer', u!);
    await s().tracking.complete(system, { equipment: eq.code, identifier: bare!, result: 'pass' });
    const pkg = await s().materials.receive(system, { ipn: m2.partIpns[1]!, manufacturer: 'Acme', mpn: `${m2.product.code}-MPN1`, quantity: 100, lotCode: uniq('L') });
    expect((await s().materials.verifyLoad(system, { equipmentId: eq.id, slot: 'S2', packageId: pkg.package.id, programId: m2.program.id })).accepted).toBe(true);
    await s().tracking.complete(system, { equipment: eq.code, identifier: traced!, result: 'pass' });
    for (const u of [bare, traced]) {
      await pass(m2, 'aoi', u!);
      await s().quality.recordResult(system, { stationId: m2.stations.aoi!.id, unit: u!, method: 'aoi', result: 'pass' });
    }
    const c2 = await s().shipping.createCarton(system, { workOrder: m2.wo.id, capacity: 10 });
    expect(await packCodes(c2.id, bare!)).toEqual(['MATERIAL_TRACE_MISSING']);
    expect(await packCodes(c2.id, traced!)).toEqual([]);
  });

  it('REST: floor roles pack; a refusal is 409 PACKING_REFUSED with the reasons', async () => {
    const m = await makeQualityWorkOrder({ plan: { requiredSteps: ['aoi'] } });
    const [u] = await units(m);
    const op = bearer(await tokenFor('operator'));
    const created = await app.inject({ method: 'POST', url: '/api/v1/shipping/cartons', headers: op, payload: { workOrder: m.wo.number, capacity: 5 } });
    expect(created.statusCode).toBe(201);
    const res = await app.inject({ method: 'POST', url: `/api/v1/shipping/cartons/${created.json().id}/pack`, headers: op, payload: { identifier: u } });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ code: 'PACKING_REFUSED', details: { refusals: [{ code: 'ROUTE_INCOMPLETE' }, { code: 'MISSING_REQUIRED_RESULT' }] } });
    expect((await app.inject({ method: 'POST', url: `/api/v1/shipping/cartons/${created.json().id}/pack`, headers: bearer(await tokenFor('viewer')), payload: { identifier: u } })).statusCode).toBe(403);
  });
});
