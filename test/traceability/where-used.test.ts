import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/platform/http.ts';
import type { TraceQuery } from '../../src/modules/traceability/index.ts';
import { bearer, makeUser, system, testApp, testDb, tokenFor, uniq } from '../helpers.ts';
import { build, makeTraceLine, newUnits, s, step, thrown, type Line } from './support.ts';

/** Where-used from every starting point (exact unit sets, with near misses), recall impact by state, containment. */

let app: App;
beforeAll(async () => {
  app = await testApp();
});
afterAll(async () => app.close());

const serialsOf = async (query: TraceQuery) => (await s().traceability.whereUsed(query)).units.map((u) => u.serial).sort();
const H = 3600_000;

describe('where-used from each starting point', () => {
  let l: Line;
  const u: Record<'A' | 'B' | 'C' | 'D' | 'E', string> = {} as never;
  let p2: Awaited<ReturnType<Line['receive']>>;
  let jar2: { id: number; code: string };
  let stencil2: { id: number; code: string };
  const t0 = Date.now();
  // Operator names unique to this test (other test files share the database).
  const alice = uniq('alice-');
  const bob = uniq('bob-');
  const aoiProgram = uniq('AOI-');

  beforeAll(async () => {
    l = await makeTraceLine();
    const [a, b, c, d, e] = await newUnits(l, 5);
    Object.assign(u, { A: a, B: b, C: c, D: d, E: e });
    // E: printed two hours ago by alice, before the paste and stencil were mounted; never placed.
    await step(l, 'printer', u.E, 'pass', { operator: alice, completedAt: new Date(t0 - 2 * H) });
    // A and B: placed with the first reels, reporting the placement program.
    const prog = { programName: l.program.name, programRevision: '1' };
    await step(l, 'printer', u.A, 'pass', { operator: alice });
    await step(l, 'placement', u.A, 'pass', { operator: alice, ...prog });
    await step(l, 'printer', u.B, 'pass', { operator: bob });
    await step(l, 'placement', u.B, 'pass', { operator: bob, ...prog });
    // A new reel of part 1 (another lot, date code 2412) replaces the first one in S2; C is placed with it.
    p2 = await l.receive(1, { dateCode: '2412' });
    await l.load(p2.package.id, 'S2');
    await step(l, 'printer', u.C, 'pass', { operator: bob });
    await step(l, 'placement', u.C, 'pass', { operator: bob });
    await step(l, 'aoi', u.C, 'pass', { operator: bob });
    await s().quality.recordResult(system, { stationId: l.stations.aoi!.id, unit: u.C, method: 'aoi', result: 'pass', programName: aoiProgram, programRevision: '3' });
    // Another paste jar and stencil go on the printer; D is printed with them.
    const ipn = uniq('PASTE');
    await s().parts.parts.create(system, { ipn, description: 'paste', placed: false });
    await s().parts.upsertAvlEntry(system, { ipn, manufacturer: 'Solderco', mpn: `${ipn}-500G` });
    jar2 = (await s().materials.receive(system, { ipn, mpn: `${ipn}-500G`, quantity: 500, kind: 'paste-jar', lotCode: uniq('PL'), expiresAt: new Date(t0 + 90 * 86400_000) })).package;
    await s().materials.thawPaste(system, jar2.id, { at: new Date(t0 - 6 * H) });
    await s().materials.mountPaste(system, { equipmentId: l.printer.id, packageId: jar2.id });
    stencil2 = await s().materials.createStencil(system, { code: uniq('STN-'), productRevisionId: l.revision.id, cleaningInterval: 1000 });
    await s().materials.mountStencil(system, { equipmentId: l.printer.id, stencilId: stencil2.id, productRevisionId: l.revision.id });
    await step(l, 'printer', u.D, 'pass', { operator: bob });
  });

  const sorted = (...k: (keyof typeof u)[]) => k.map((x) => u[x]).sort();

  it('material lot and package', async () => {
    expect(await serialsOf({ kind: 'material_lot', materialLotId: l.reels[1]!.lot.id })).toEqual(sorted('A', 'B'));
    expect(await serialsOf({ kind: 'material_lot', materialLotId: p2.lot.id })).toEqual(sorted('C'));
    expect(await serialsOf({ kind: 'material_lot', materialLotId: l.reels[0]!.lot.id })).toEqual(sorted('A', 'B', 'C'));
    expect(await serialsOf({ kind: 'package', package: l.reels[1]!.package.code })).toEqual(sorted('A', 'B'));
    expect(await serialsOf({ kind: 'package', package: p2.package.id })).toEqual(sorted('C'));
    const r = await s().traceability.whereUsed({ kind: 'package', package: p2.package.id });
    expect(r.units[0]).toMatchObject({ serial: u.C, via: 'M2', state: 'finished', workOrderNumber: l.wo.number });
  });

  it('MPN with a date-code range (inclusive)', async () => {
    const mpn1 = `${l.product.code}-MPN1`;
    expect(await serialsOf({ kind: 'mpn', mpn: mpn1 })).toEqual(sorted('A', 'B', 'C'));
    expect(await serialsOf({ kind: 'mpn', mpn: mpn1, dateCodeFrom: '2401', dateCodeTo: '2405' })).toEqual(sorted('A', 'B'));
    expect(await serialsOf({ kind: 'mpn', mpn: mpn1, dateCodeFrom: '2406', dateCodeTo: '2412' })).toEqual(sorted('C'));
    expect(await serialsOf({ kind: 'mpn', mpn: mpn1, dateCodeFrom: '2413' })).toEqual([]);
    expect(await serialsOf({ kind: 'mpn', mpn: mpn1, dateCodeTo: '2404' })).toEqual([]);
    expect(await thrown(s().traceability.whereUsed({ kind: 'mpn', mpn: mpn1, dateCodeFrom: '2420', dateCodeTo: '2401' }))).toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('paste jar and stencil: the units printed while they were on the printer', async () => {
    expect(await serialsOf({ kind: 'paste_jar', package: l.paste!.code })).toEqual(sorted('A', 'B', 'C'));
    expect(await serialsOf({ kind: 'paste_jar', package: jar2.id })).toEqual(sorted('D'));
    expect(await serialsOf({ kind: 'stencil', stencil: l.stencil!.code })).toEqual(sorted('A', 'B', 'C'));
    expect(await serialsOf({ kind: 'stencil', stencil: stencil2.id })).toEqual(sorted('D'));
    // A reel is not a paste jar.
    expect(await thrown(s().traceability.whereUsed({ kind: 'paste_jar', package: l.reels[0]!.package.code }))).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('program revision (optionally on one machine), from passages and from results', async () => {
    expect(await serialsOf({ kind: 'program', program: l.program.name, revision: '1' })).toEqual(sorted('A', 'B'));
    expect(await serialsOf({ kind: 'program', program: l.program.name })).toEqual(sorted('A', 'B'));
    expect(await serialsOf({ kind: 'program', program: l.program.name, revision: '2' })).toEqual([]);
    expect(await serialsOf({ kind: 'program', program: l.program.name, revision: '1', equipment: l.placer.code })).toEqual(sorted('A', 'B'));
    expect(await serialsOf({ kind: 'program', program: l.program.name, revision: '1', equipment: l.printer.id })).toEqual([]);
    expect(await serialsOf({ kind: 'program', program: aoiProgram, revision: '3' })).toEqual(sorted('C'));
  });

  it('operator, with and without a time window', async () => {
    expect(await serialsOf({ kind: 'operator', operator: alice })).toEqual(sorted('A', 'E'));
    expect(await serialsOf({ kind: 'operator', operator: alice, from: new Date(t0 - H).toISOString(), to: new Date(t0 + H).toISOString() })).toEqual(sorted('A'));
    expect(await serialsOf({ kind: 'operator', operator: alice, to: new Date(t0 - H).toISOString() })).toEqual(sorted('E'));
    expect(await serialsOf({ kind: 'operator', operator: bob })).toEqual(sorted('B', 'C', 'D'));
  });

  it('station and time window [from, to)', async () => {
    const printer = l.stations.printer!.code;
    expect(await serialsOf({ kind: 'station_window', station: printer, from: new Date(t0 - 3 * H).toISOString(), to: new Date(t0 - H).toISOString() })).toEqual(sorted('E'));
    expect(await serialsOf({ kind: 'station_window', station: printer, from: new Date(t0 - 2 * H).toISOString(), to: new Date(t0 - 2 * H + 1).toISOString() })).toEqual(sorted('E'));
    expect(await serialsOf({ kind: 'station_window', station: printer, from: new Date(t0 - 2 * H + 1).toISOString(), to: new Date(t0 - H).toISOString() })).toEqual([]);
    expect(await serialsOf({ kind: 'station_window', station: l.stations.printer!.id, from: new Date(t0 - H).toISOString(), to: new Date(Date.now() + H).toISOString() })).toEqual(sorted('A', 'B', 'C', 'D'));
  });

  it('REST: a TypeBox-validated union; unknown references are 404; pages by unit id', async () => {
    const t = bearer(await tokenFor('viewer'));
    const bad = await app.inject({ method: 'POST', url: '/api/v1/trace/where-used', headers: t, payload: { query: { kind: 'colour', colour: 'red' } } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('VALIDATION_FAILED');
    const extra = await app.inject({ method: 'POST', url: '/api/v1/trace/where-used', headers: t, payload: { query: { kind: 'package', package: 'X', more: 1 } } });
    expect(extra.statusCode).toBe(400);
    const unknown = await app.inject({ method: 'POST', url: '/api/v1/trace/where-used', headers: t, payload: { query: { kind: 'package', package: 'NO-SUCH-PACKAGE' } } });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe('NOT_FOUND');
    const q = { kind: 'material_lot', materialLotId: l.reels[0]!.lot.id };
    const p1 = (await app.inject({ method: 'POST', url: '/api/v1/trace/where-used', headers: t, payload: { query: q, limit: 2 } })).json();
    expect(p1.total).toBe(3);
    expect(p1.units).toHaveLength(2);
    const p2r = (await app.inject({ method: 'POST', url: '/api/v1/trace/where-used', headers: t, payload: { query: q, limit: 2, afterId: p1.nextAfterId } })).json();
    expect([...p1.units, ...p2r.units].map((x: { serial: string }) => x.serial).sort()).toEqual(sorted('A', 'B', 'C'));
    const counts = (await app.inject({ method: 'POST', url: '/api/v1/trace/where-used', headers: t, payload: { query: q, countsOnly: true } })).json();
    expect(counts.total).toBe(3);
    expect(counts.units).toBeUndefined();
  });
});

describe('recall impact by state', () => {
  it('counts units in WIP, finished, packed, shipped, scrapped and on hold, per work order, customer, carton and shipment', async () => {
    const l = await makeTraceLine({ mount: false });
    const qe = await makeUser('quality-engineer');
    const [wip, fin, packed, shipped, scrapped, held, nearMiss] = await newUnits(l, 7);
    await step(l, 'printer', wip!);
    await step(l, 'placement', wip!);
    for (const x of [fin, packed, shipped, held]) await build(l, x!);
    await step(l, 'printer', scrapped!);
    await step(l, 'placement', scrapped!);
    await step(l, 'aoi', scrapped!, 'scrap');
    await step(l, 'printer', nearMiss!); // printed only: no material of the reels
    const c1 = await s().shipping.createCarton(system, { workOrder: l.wo.id, capacity: 10 });
    await s().shipping.pack(system, c1.id, { identifier: packed! });
    const c2 = await s().shipping.createCarton(system, { workOrder: l.wo.id, capacity: 10 });
    await s().shipping.pack(system, c2.id, { identifier: shipped! });
    const sh = await s().shipping.createShipment(system, { customer: l.wo.customer, customerPo: l.wo.customerPo });
    await s().shipping.addCartons(system, sh.id, [c2.id]);
    await s().shipping.releaseShipment(qe.principal, sh.id, { signature: qe.signature('ship') });
    await s().quality.placeHold(system, { scope: 'unit', serial: held!, reasonCode: 'OTHER', reason: 'under review' });

    const q: TraceQuery = { kind: 'material_lot', materialLotId: l.reels[0]!.lot.id };
    const impact = await s().traceability.impact(q);
    expect(impact.total).toBe(6);
    expect(impact.byState).toEqual({ wip: 1, finished: 1, packed: 1, shipped: 1, scrapped: 1, on_hold: 1 });
    expect(impact.byWorkOrder).toEqual([expect.objectContaining({ workOrderId: l.wo.id, number: l.wo.number, customer: l.wo.customer, units: 6 })]);
    expect(impact.byWorkOrder[0]!.byState).toEqual({ wip: 1, finished: 1, packed: 1, shipped: 1, scrapped: 1, on_hold: 1 });
    expect(impact.byCustomer).toEqual([{ customer: l.wo.customer, units: 6, shipped: 1 }]);
    expect(impact.cartons.map((c) => [c.code, c.units]).sort()).toEqual([[c1.code, 1], [c2.code, 1]].sort());
    expect(impact.shipments).toEqual([expect.objectContaining({ number: sh.number, state: 'released', units: 1, customer: l.wo.customer })]);
    expect(impact).not.toHaveProperty('units');
    const wu = await s().traceability.whereUsed(q);
    const stateOf = Object.fromEntries(wu.units.map((x) => [x.serial, x.state]));
    expect(stateOf).toEqual({ [wip!]: 'wip', [fin!]: 'finished', [packed!]: 'packed', [shipped!]: 'shipped', [scrapped!]: 'scrapped', [held!]: 'on_hold' });
    expect(wu.units.find((x) => x.serial === shipped)).toMatchObject({ carton: c2.code, shipment: sh.number });
  });

  it('tracking holds on a panel, a production lot and the work order put exactly their units on hold; units apart in id are all counted', async () => {
    const l = await makeTraceLine({ mount: false });
    const lot = await s().tracking.createLot(system, { workOrder: l.wo.id, code: uniq('PL') });
    const panel = await s().tracking.createPanel(system, { workOrder: l.wo.id, code: uniq('PNL'), positions: 2 });
    const [p1, p2] = panel.units.map((x) => x.serial);
    const [gap1] = await newUnits(l, 1); // printed only: not found, splits the unit ids into runs
    const [inLot] = await newUnits(l, 1, lot.id);
    const [gap2] = await newUnits(l, 1);
    const [free1, free2] = await newUnits(l, 2);
    for (const x of [p1, p2, inLot, free1, free2]) await build(l, x!);
    for (const x of [gap1, gap2]) await step(l, 'printer', x!);
    const q: TraceQuery = { kind: 'material_lot', materialLotId: l.reels[0]!.lot.id };
    const carton = await s().shipping.createCarton(system, { workOrder: l.wo.id, capacity: 10 });
    await s().shipping.pack(system, carton.id, { identifier: free2! });
    expect((await s().traceability.impact(q)).byState).toEqual({ wip: 0, finished: 4, packed: 1, shipped: 0, scrapped: 0, on_hold: 0 });

    await s().tracking.setHold(system, { scope: 'panel', identifier: panel.code, hold: true, reason: 'panel dropped' });
    await s().tracking.setHold(system, { scope: 'lot', identifier: lot.code, hold: true, reason: 'lot under review' });
    const held = await s().traceability.whereUsed(q);
    expect(held.total).toBe(5);
    expect(held.byState).toEqual({ wip: 0, finished: 1, packed: 1, shipped: 0, scrapped: 0, on_hold: 3 });
    expect(Object.fromEntries(held.units.map((x) => [x.serial, x.state]))).toEqual({ [p1!]: 'on_hold', [p2!]: 'on_hold', [inLot!]: 'on_hold', [free1!]: 'finished', [free2!]: 'packed' });
    expect(held.units.find((x) => x.serial === free2)).toMatchObject({ carton: carton.code, shipment: null, customer: l.wo.customer, workOrderNumber: l.wo.number, via: 'M2' });
    expect(held.cartons).toEqual([{ id: carton.id, code: carton.code, state: expect.any(String), units: 1 }]);

    await s().workOrders.transition(system, l.wo.id, 'hold', 'customer asked to stop');
    const all = await s().traceability.impact(q);
    expect(all.byState).toEqual({ wip: 0, finished: 0, packed: 0, shipped: 0, scrapped: 0, on_hold: 5 });
    expect(all.byWorkOrder).toEqual([expect.objectContaining({ workOrderId: l.wo.id, units: 5, byState: { on_hold: 5 } })]);
  });
});

describe('containment: one action holds exactly the where-used result', () => {
  it('places a units hold recording the query, audited; the interlock then refuses exactly those units', async () => {
    const l = await makeTraceLine({ mount: false });
    const [a, b, c] = await newUnits(l, 3);
    for (const x of [a, b]) {
      await step(l, 'printer', x!);
      await step(l, 'placement', x!);
    }
    const p2 = await l.receive(2);
    await l.load(p2.package.id, 'S3');
    await step(l, 'printer', c!);
    await step(l, 'placement', c!);
    const query: TraceQuery = { kind: 'package', package: l.reels[2]!.package.code };
    const qe = await makeUser('quality-engineer');
    const hold = await s().traceability.holdWhereUsed(qe.principal, { query, reasonCode: 'RECALL', reason: 'supplier recall of the reel' });
    expect(hold).toMatchObject({ scope: 'units', units: 2, source: 'where-used', query, reasonCode: 'RECALL', placedBy: qe.username });
    expect((await s().quality.holdUnits(hold.id)).map((x) => x.serial).sort()).toEqual([a, b].sort());
    for (const [x, codes] of [[a, ['HOLD_UNIT']], [b, ['HOLD_UNIT']], [c, []]] as const) {
      const v = await s().tracking.validate(system, { stationId: l.stations.aoi!.id, identifier: x! });
      expect(v.units[0]!.refusals.map((r) => r.code)).toEqual(codes);
    }
    expect(await thrown(step(l, 'aoi', a!))).toMatchObject({ code: 'INTERLOCK_REFUSED' });
    const audit = await testDb().one<{ actor_name: string; after: { units: number } }>(`SELECT actor_name, after FROM audit_log WHERE entity = 'quality_hold' AND entity_id = $1 AND action = 'hold'`, [String(hold.id)]);
    expect(audit).toMatchObject({ actor_name: qe.username, after: { units: 2 } });
    // The impact now shows them on hold.
    expect((await s().traceability.impact(query)).byState).toMatchObject({ on_hold: 2, wip: 0 });
  });

  it('REST: quality roles only; an empty result is a 409 and places nothing', async () => {
    const l = await makeTraceLine({ mount: false });
    const [a] = await newUnits(l, 1);
    await step(l, 'printer', a!);
    await step(l, 'placement', a!, 'pass', { operator: 'dora' });
    const body = { query: { kind: 'operator', operator: 'dora' }, reasonCode: 'RECALL', reason: 'operator used the wrong torque' };
    const op = await app.inject({ method: 'POST', url: '/api/v1/trace/where-used/hold', headers: bearer(await tokenFor('operator')), payload: body });
    expect(op.statusCode).toBe(403);
    const res = await app.inject({ method: 'POST', url: '/api/v1/trace/where-used/hold', headers: bearer(await tokenFor('quality-engineer')), payload: body });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ scope: 'units', units: 1, query: body.query });
    const before = await testDb().one<{ n: string }>('SELECT count(*) AS n FROM quality_holds');
    const none = await app.inject({ method: 'POST', url: '/api/v1/trace/where-used/hold', headers: bearer(await tokenFor('admin')), payload: { ...body, query: { kind: 'operator', operator: uniq('nobody') } } });
    expect(none.statusCode).toBe(409);
    expect(none.json().code).toBe('STATE_CONFLICT');
    expect((await testDb().one<{ n: string }>('SELECT count(*) AS n FROM quality_holds'))!.n).toBe(before!.n);
    const badReason = await app.inject({ method: 'POST', url: '/api/v1/trace/where-used/hold', headers: bearer(await tokenFor('admin')), payload: { ...body, reasonCode: 'NOT_A_REASON' } });
    expect(badReason.statusCode).toBe(400);
  });
});
