import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/platform/http.ts';
import type { HoldInput } from '../../src/modules/quality/index.ts';
import { bearer, makeUser, system, testApp, testDb, tokenFor, uniq } from '../helpers.ts';
import { goodUnits, makeShippable, packCodes, pass, s, units, type Made } from './support.ts';

/** Shipments: the clearance check lists every blocker by name; release is signed and only when clear; released units are shipped. */

let app: App;
beforeAll(async () => {
  app = await testApp();
});
afterAll(async () => app.close());

async function packed(m: Made, serials: string[], capacity = 100) {
  const c = await s().shipping.createCarton(system, { workOrder: m.wo.id, capacity });
  for (const u of serials) expect(await packCodes(c.id, u)).toEqual([]);
  return c;
}

async function shipmentWith(_m: Made, cartons: (number | string)[]) {
  const sh = await s().shipping.createShipment(system, { customer: 'Test customer', customerPo: uniq('PO') });
  await s().shipping.addCartons(system, sh.id, cartons);
  return sh;
}

describe('clearance and release', () => {
  it('lists every blocker by name; release is refused until clear, then signed; the units are shipped', async () => {
    const m = await makeShippable();
    const [a, b, c, d, e] = await goodUnits(m, 5);
    const carton = await packed(m, [a!, b!, c!, d!, e!]);
    const sh = await shipmentWith(m, [carton.code]);
    expect(await s().shipping.clearance(sh.id)).toMatchObject({ clear: true, units: 5, cartons: 1, total: 0, blockers: [] });

    // Problems that appear after packing.
    const hold = await s().quality.placeHold(system, { scope: 'unit', serial: a!, reasonCode: 'CUSTOMER_COMPLAINT', reason: 'field return of a sister unit' });
    const ncr = await s().quality.createNcr(system, { title: 'conformal coat bubbles', subject: { kind: 'unit', serial: b! } });
    await s().quality.recordRework(system, { serial: c!, action: 'recoated', verifyStepSeq: 30 });
    await s().quality.recordResult(system, { stationId: m.stations.aoi!.id, unit: d!, method: 'aoi', result: 'fail', defects: [{ code: 'DAMAGE', refdes: 'J1' }] });
    await s().tracking.setHold(system, { scope: 'unit', identifier: e!, hold: true, reason: 'dropped' });

    const cl = await s().shipping.clearance(sh.id);
    expect(cl.clear).toBe(false);
    const by = (serial: string) => cl.blockers.filter((x) => x.serial === serial).map((x) => x.code);
    expect(by(a!)).toEqual(['ON_HOLD']);
    expect(by(b!)).toEqual(['OPEN_NCR']);
    expect(by(c!)).toEqual(['ROUTE_INCOMPLETE', 'UNVERIFIED_REPAIR']);
    expect(by(d!)).toEqual(['FAILED_REQUIRED_RESULT']);
    expect(by(e!)).toEqual(['TRACKING_HOLD']);
    expect(cl.counts).toEqual({ ON_HOLD: 1, OPEN_NCR: 1, ROUTE_INCOMPLETE: 1, UNVERIFIED_REPAIR: 1, FAILED_REQUIRED_RESULT: 1, TRACKING_HOLD: 1 });
    const text = cl.blockers.map((x) => x.message).join('\n');
    expect(text).toContain(`unit ${a} is held by ${hold.number}`);
    expect(text).toContain(`unit ${b} is under open NCR ${ncr.number}`);
    expect(text).toContain(`carton ${carton.code}`);

    const qe = await makeUser('quality-engineer');
    const planner = await makeUser('planner');
    expect(await s().shipping.releaseShipment(planner.principal, sh.id, { signature: planner.signature() }).catch((x) => x)).toMatchObject({ code: 'FORBIDDEN' });
    const blocked = await s().shipping.releaseShipment(qe.principal, sh.id, { signature: qe.signature() }).catch((x) => x);
    expect(blocked).toMatchObject({ code: 'SHIPMENT_BLOCKED', details: { total: 6 } });

    // Clear each item.
    await s().quality.releaseHold(qe.principal, hold.id, { signature: qe.signature() });
    await s().quality.dispose(system, { serial: b!, decision: 'retest', reason: 'recheck coating', ncrId: ncr.id, verifyStepSeq: 30 });
    await pass(m, 'aoi', b!);
    await s().quality.closeNcr(qe.principal, ncr.id, { signature: qe.signature() });
    await pass(m, 'aoi', c!);
    await s().quality.dispose(qe.principal, { serial: d!, decision: 'use-as-is', reason: 'scratch on connector shell, class 2 ok', signature: qe.signature() });
    await s().tracking.setHold(system, { scope: 'unit', identifier: e!, hold: false, reason: 'inspected' });
    expect(await s().shipping.clearance(sh.id)).toMatchObject({ clear: true, total: 0 });

    expect(await s().shipping.releaseShipment(qe.principal, sh.id, { signature: { password: 'bad-password', reason: 'ship it' } }).catch((x) => x)).toMatchObject({ code: 'SIGNATURE_INVALID' });
    const released = await s().shipping.releaseShipment(qe.principal, sh.id, { signature: qe.signature('all clear, ship') });
    expect(released).toMatchObject({ state: 'released', releasedBy: qe.username, units: 5 });
    expect((await s().shipping.getCarton(carton.id)).state).toBe('shipped');
    expect(await s().shipping.unitShipping(a!)).toMatchObject({ carton: carton.code, shipment: sh.number, shipped: true });
    const audit = await testDb().one<{ signature: { meaning: string; signer: string } }>(`SELECT signature FROM audit_log WHERE entity = 'shipment' AND entity_id = $1 AND action = 'release'`, [String(sh.id)]);
    expect(audit!.signature).toMatchObject({ meaning: 'released', signer: qe.username });
    expect(await s().shipping.addCartons(system, sh.id, [carton.id]).catch((x) => x)).toMatchObject({ code: 'STATE_CONFLICT' });
    expect(await s().shipping.unpack(system, carton.id, { serial: a!, reason: 'oops' }).catch((x) => x)).toMatchObject({ code: 'STATE_CONFLICT' });
  });

  it('an empty shipment and a carton of another customer are blockers', async () => {
    const m = await makeShippable({}, { customer: 'Other customer' });
    const sh = await s().shipping.createShipment(system, { customer: 'Test customer' });
    expect((await s().shipping.clearance(sh.id)).blockers.map((b) => b.code)).toEqual(['EMPTY_SHIPMENT']);
    const [a] = await goodUnits(m, 1);
    const c = await packed(m, [a!]);
    await s().shipping.addCartons(system, sh.id, [c.id]);
    expect((await s().shipping.clearance(sh.id)).blockers.map((b) => b.code)).toEqual(['CUSTOMER_MISMATCH']);
  });

  it('REST: clearance is readable; release needs the quality role and a signature', async () => {
    const m = await makeShippable();
    const [a] = await goodUnits(m, 1);
    const c = await packed(m, [a!]);
    const sh = await shipmentWith(m, [c.id]);
    const res = await app.inject({ method: 'GET', url: `/api/v1/shipping/shipments/${sh.id}/clearance`, headers: bearer(await tokenFor('viewer')) });
    expect(res.json()).toMatchObject({ clear: true, units: 1 });
    const noSig = await app.inject({ method: 'POST', url: `/api/v1/shipping/shipments/${sh.id}/release`, headers: bearer(await tokenFor('quality-engineer')), payload: {} });
    expect(noSig.statusCode).toBe(400);
    expect((await app.inject({ method: 'POST', url: `/api/v1/shipping/shipments/${sh.id}/release`, headers: bearer(await tokenFor('planner')), payload: {} })).statusCode).toBe(403);
    // An API token cannot sign for nobody: it must name the user, who re-authenticates.
    const qe = await makeUser('quality-engineer');
    const viaToken = await app.inject({
      method: 'POST', url: `/api/v1/shipping/shipments/${sh.id}/release`, headers: bearer(await tokenFor('quality-engineer')),
      payload: { signature: { username: qe.username, password: qe.password, reason: 'released from the ERP screen' } },
    });
    expect(viaToken.statusCode).toBe(200);
    expect(viaToken.json()).toMatchObject({ state: 'released', releasedBy: qe.username });
  });
});

describe('each hold scope blocks packing and shipment clearance', () => {
  it('unit, units, panel, lot, work order, product revision, station window, material lot, package', async () => {
    const m = await makeShippable();
    const lot = await s().tracking.createLot(system, { workOrder: m.wo.id, code: uniq('LOT') });
    const panel = await s().tracking.createPanel(system, { workOrder: m.wo.id, code: uniq('PNL'), positions: 1, lotId: lot.id });
    const eq = await s().factory.equipment.create(system, { stationId: m.stations.placement!.id, code: uniq('EQ'), name: 'placer' });
    const pkg = await s().materials.receive(system, { ipn: m.partIpns[1]!, manufacturer: 'Acme', mpn: `${m.product.code}-MPN1`, quantity: 100, lotCode: uniq('L') });
    expect((await s().materials.verifyLoad(system, { equipmentId: eq.id, slot: 'S2', packageId: pkg.package.id, programId: m.program.id })).accepted).toBe(true);
    const unit = panel.units[0]!.serial;
    const t0 = new Date();
    await pass(m, 'printer', unit);
    await s().tracking.complete(system, { equipment: eq.code, identifier: unit, result: 'pass' });
    await pass(m, 'aoi', unit);
    await s().quality.recordResult(system, { stationId: m.stations.aoi!.id, unit, method: 'aoi', result: 'pass' });
    const t1 = new Date(Date.now() + 1000);
    const [spare] = await units(m, 1);
    const scopes: HoldInput[] = [
      { scope: 'unit', serial: unit, reasonCode: 'OTHER', reason: 'unit' },
      { scope: 'units', serials: [unit, spare!], reasonCode: 'RECALL', reason: 'units' },
      { scope: 'panel', panel: panel.code, reasonCode: 'OTHER', reason: 'panel' },
      { scope: 'lot', lot: lot.code, reasonCode: 'OTHER', reason: 'lot' },
      { scope: 'work_order', workOrder: m.wo.id, reasonCode: 'OTHER', reason: 'work order' },
      { scope: 'product_revision', productRevisionId: m.revision.id, reasonCode: 'OTHER', reason: 'revision' },
      { scope: 'station_window', stationId: m.stations.printer!.id, from: t0.toISOString(), to: t1.toISOString(), reasonCode: 'PROCESS_DEVIATION', reason: 'window' },
      { scope: 'material_lot', materialLotId: pkg.lot.id, reasonCode: 'SUSPECT_MATERIAL', reason: 'material lot' },
      { scope: 'package', packageId: pkg.package.id, reasonCode: 'SUSPECT_MATERIAL', reason: 'package' },
    ];
    const carton = await s().shipping.createCarton(system, { workOrder: m.wo.id, capacity: 10 });
    const qe = await makeUser('quality-engineer');
    for (const h of scopes) {
      const hold = await s().quality.placeHold(system, h);
      expect([h.scope, await packCodes(carton.id, unit)]).toEqual([h.scope, ['ON_HOLD']]);
      await s().quality.releaseHold(qe.principal, hold.id, { signature: qe.signature() });
    }
    expect(await packCodes(carton.id, unit)).toEqual([]);
    const sh = await shipmentWith(m, [carton.id]);
    for (const h of scopes) {
      const hold = await s().quality.placeHold(system, h);
      const cl = await s().shipping.clearance(sh.id);
      expect([h.scope, cl.blockers.map((b) => [b.code, b.serial])]).toEqual([h.scope, [['ON_HOLD', unit]]]);
      expect(cl.blockers[0]!.message).toContain(hold.number);
      await s().quality.releaseHold(qe.principal, hold.id, { signature: qe.signature() });
    }
    expect((await s().shipping.clearance(sh.id)).clear).toBe(true);
  });
});
