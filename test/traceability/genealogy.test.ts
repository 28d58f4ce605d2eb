import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/platform/http.ts';
import { bearer, makeUser, system, testApp, tokenFor, uniq } from '../helpers.ts';
import { build, makeTraceLine, newUnits, s, step, thrown } from './support.ts';

/** Unit genealogy: one call returns every section of a unit's history; panels and lots too. */

let app: App;
beforeAll(async () => {
  app = await testApp();
});
afterAll(async () => app.close());

type Row = Record<string, unknown>;

describe('unit genealogy', () => {
  it('a unit with a failed inspection, a repair that replaced a component, a retest, a carton and a shipment: every section', async () => {
    const l = await makeTraceLine();
    const qe = await makeUser('quality-engineer');
    const [u] = await newUnits(l);
    // A refusal: AOI before printing.
    expect(await thrown(step(l, 'aoi', u!))).toMatchObject({ code: 'INTERLOCK_REFUSED' });
    await step(l, 'printer', u!, 'pass', { operator: 'alice' });
    await step(l, 'placement', u!, 'pass', { operator: 'alice', programName: l.program.name, programRevision: '1' });
    await step(l, 'aoi', u!, 'fail', { operator: 'bob' });
    const failed = await s().quality.recordResult(system, {
      stationId: l.stations.aoi!.id, unit: u!, method: 'aoi', result: 'fail', programName: 'AOI-PROG', programRevision: '7', operator: 'bob',
      defects: [
        { code: 'MISSING', refdes: 'R3', imageRef: 'img://aoi/1/R3.png' },
        { code: 'BRIDGE', refdes: 'R1', imageRef: 'img://aoi/1/R1.png' },
      ],
      measurements: [{ name: 'R3.height', value: 0, unit: 'um', lowerLimit: 80, upperLimit: 200, passed: false }],
    });
    const defects = (await s().quality.listDefects({ serial: u! })).sort((a, b) => a.id - b.id);
    await s().quality.verifyDefects(system, [{ defectId: defects[0]!.id, verdict: 'confirmed' }, { defectId: defects[1]!.id, verdict: 'false_call' }]);
    const ncr = await s().quality.createNcr(system, { title: 'missing chip resistor', subject: { kind: 'unit', serial: u! } });
    const disp = await s().quality.dispose(system, { serial: u!, decision: 'repair', reason: 'replace R3', ncrId: ncr.id });
    // The repair replaces the component at R3 (part 1) with a package from another reel.
    const spare = await l.receive(1, { dateCode: '2410' });
    const rw = await s().quality.recordRework(system, {
      serial: u!, action: 'replaced R3', refdes: 'R3', removedPackage: l.reels[1]!.package.id, newPackage: spare.package.code, defectIds: [defects[0]!.id],
      dispositionId: disp.id, ncrId: ncr.id, stationId: l.stations.rework!.id, operator: 'carol',
    });
    await step(l, 'rework', u!, 'pass', { operator: 'carol' });
    await step(l, 'aoi', u!, 'pass', { operator: 'bob' });
    await s().quality.recordResult(system, { stationId: l.stations.aoi!.id, unit: u!, method: 'aoi', result: 'pass', operator: 'bob' });
    await s().quality.closeNcr(qe.principal, ncr.id, { signature: qe.signature('repaired and verified') });
    // A hold placed and released (kept in the genealogy as released), and one on another unit's scope (not shown).
    const hold = await s().quality.placeHold(system, { scope: 'unit', serial: u!, reasonCode: 'CUSTOMER_COMPLAINT', reason: 'sister unit returned' });
    await s().quality.releaseHold(qe.principal, hold.id, { signature: qe.signature('not affected') });
    const [other] = await newUnits(l);
    await s().quality.placeHold(system, { scope: 'unit', serial: other!, reasonCode: 'OTHER', reason: 'not this unit' });
    // Packed and shipped.
    const carton = await s().shipping.createCarton(system, { workOrder: l.wo.id, capacity: 5 });
    await s().shipping.pack(system, carton.id, { identifier: u! });
    const shipment = await s().shipping.createShipment(system, { customer: l.wo.customer, customerPo: l.wo.customerPo });
    await s().shipping.addCartons(system, shipment.id, [carton.id]);
    await s().shipping.releaseShipment(qe.principal, shipment.id, { signature: qe.signature('clear to ship') });

    const g = await s().traceability.genealogy({ serial: u! });
    expect(g.unit).toMatchObject({ serial: u, status: 'completed', state: 'shipped' });
    expect(g.workOrder).toMatchObject({ number: l.wo.number, customer: l.wo.customer, customerPo: l.wo.customerPo, revision: 'A' });
    const wo = await s().workOrders.get(l.wo.id);
    expect(g.buildBasis).toMatchObject({ id: wo.basisId, productRevision: { revision: 'A' } });
    expect((g.buildBasis as { hash: string }).hash).toMatch(/^[0-9a-f]{64}$/);
    expect((g.buildBasis as { programs: Row[] }).programs).toContainEqual(expect.objectContaining({ name: l.program.name, revision: '1' }));

    // Every passage, in visit order, with station, machine, program, operator and outcome.
    expect(g.process.map((p) => [p.visit, p.stepName, p.result, p.outcome])).toEqual([
      [1, 'Print', 'pass', 'next'], [2, 'Place', 'pass', 'next'], [3, 'AOI', 'fail', 'hold'], [4, 'Repair', 'pass', 'returned'], [5, 'AOI', 'pass', 'completed'],
    ]);
    expect(g.process[0]).toMatchObject({ equipmentCode: l.printer.code, operator: 'alice' });
    expect(g.process[1]).toMatchObject({ equipmentCode: l.placer.code, programName: l.program.name, programRevision: '1', stationCode: l.stations.placement!.code });
    expect(g.process[3]).toMatchObject({ operator: 'carol', stationType: 'rework' });
    expect(g.refusals).toHaveLength(1);
    expect(g.refusals[0]).toMatchObject({ phase: 'complete', codes: ['STEP_OUT_OF_ORDER'] });

    // Materials per refdes: R3 shows the repair's package, the removed one kept as removed.
    const byRef = new Map(g.materials.map((r) => [r.refdes, r]));
    expect([...byRef.keys()]).toEqual(['R1', 'R2', 'R3', 'R4', 'R5', 'R6']);
    const r1 = byRef.get('R1')!;
    expect(r1).toMatchObject({ ipn: l.partIpns[0], source: 'M2' });
    expect(r1.candidates).toEqual([expect.objectContaining({
      packageId: l.reels[0]!.package.id, lotCode: l.reels[0]!.lot.lotCode, mpn: `${l.product.code}-MPN0`, manufacturer: 'Acme', dateCode: '2405',
      equipmentCode: l.placer.code, slot: 'S1', state: 'placed',
    })]);
    expect(r1.candidates[0]).toHaveProperty('mslFloorLifeRemainingMinutesAtPlacement');
    const r3 = byRef.get('R3')!;
    expect(r3.candidates.map((c) => [c.packageCode, c.state, c.reworkActionId])).toEqual([
      [l.reels[1]!.package.code, 'removed', rw.id], [spare.package.code, 'rework', rw.id],
    ]);
    expect(r3.candidates[1]).toMatchObject({ dateCode: '2410', lotCode: spare.lot.lotCode });
    expect(byRef.get('R4')!.candidates.map((c) => [c.packageCode, c.state])).toEqual([[l.reels[1]!.package.code, 'placed']]);
    // Consumables on the printer at the print passage.
    expect(g.consumables.map((c) => [c.visit, c.kind, c.kind === 'paste' ? c.packageCode : c.stencilCode])).toEqual([[1, 'paste', l.paste!.code], [1, 'stencil', l.stencil!.code]]);

    // Results with defects, image references, measurements and false calls.
    expect(g.results.map((r) => [r.result, r.retest])).toEqual([['fail', false], ['pass', true]]);
    expect(g.results[0]).toMatchObject({ id: failed.results[0]!.id, method: 'aoi', programName: 'AOI-PROG', programRevision: '7', operator: 'bob', falseCalls: 1 });
    expect(g.results[0]!.defects.map((d) => [d.code, d.category, d.refdes, d.imageRef, d.verification])).toEqual([
      ['MISSING', 'missing', 'R3', 'img://aoi/1/R3.png', 'repaired'], ['BRIDGE', 'bridging', 'R1', 'img://aoi/1/R1.png', 'false_call'],
    ]);
    expect(g.results[0]!.measurements).toEqual([expect.objectContaining({ name: 'R3.height', value: 0, passed: false })]);

    // Disposition, NCR, rework and their verification.
    expect(g.dispositions).toEqual([expect.objectContaining({ id: disp.id, decision: 'repair', reason: 'replace R3', ncrId: ncr.id, verified: true, signature: null })]);
    expect(g.ncrs).toEqual([expect.objectContaining({ number: ncr.number, state: 'closed', closedBy: qe.username })]);
    expect(g.rework).toEqual([expect.objectContaining({
      id: rw.id, refdes: 'R3', operator: 'carol', verified: true,
      removedPackage: expect.objectContaining({ packageCode: l.reels[1]!.package.code }), newPackage: expect.objectContaining({ packageCode: spare.package.code, dateCode: '2410' }),
    })]);
    // Holds covering the unit: the released one, with scope and reason.
    expect(g.holds.map((h) => [h.number, h.scope, h.reason, h.active])).toEqual([[hold.number, 'unit', 'sister unit returned', false]]);
    expect(g.carton).toMatchObject({ code: carton.code, state: 'shipped' });
    expect(g.shipment).toMatchObject({ number: shipment.number, state: 'released', customer: l.wo.customer });

    // The same over REST, by serial; by id too.
    const res = await app.inject({ method: 'GET', url: `/api/v1/trace/units/${encodeURIComponent(u!)}`, headers: bearer(await tokenFor('viewer')) });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.unit.state).toBe('shipped');
    expect(body.materials.find((r: Row) => r.refdes === 'R3').candidates.map((c: Row) => c.state)).toEqual(['removed', 'rework']);
    expect(body.results[0].defects).toHaveLength(2);
    expect(body.holds[0].number).toBe(hold.number);
    expect((await s().traceability.genealogy({ unitId: g.unit.id })).process).toHaveLength(5);
  });

  it('a signed use-as-is disposition and active holds of several scopes (lot, material lot)', async () => {
    const l = await makeTraceLine({ mount: false });
    const qe = await makeUser('quality-engineer');
    const lot = await s().tracking.createLot(system, { workOrder: l.wo.id, code: uniq('PL') });
    const [u] = await newUnits(l, 1, lot.id);
    await step(l, 'printer', u!);
    await step(l, 'placement', u!);
    await step(l, 'aoi', u!, 'fail');
    await s().quality.recordResult(system, { stationId: l.stations.aoi!.id, unit: u!, method: 'aoi', result: 'fail', defects: [{ code: 'SHIFT', refdes: 'R2' }] });
    const disp = await s().quality.dispose(qe.principal, { serial: u!, decision: 'use-as-is', reason: 'within customer tolerance', signature: qe.signature('accepted per deviation 12') });
    const lotHold = await s().quality.placeHold(system, { scope: 'lot', lot: lot.code, reasonCode: 'PROCESS_DEVIATION', reason: 'reflow profile drift' });
    const matHold = await s().quality.placeHold(system, { scope: 'material_lot', materialLotId: l.reels[0]!.lot.id, reasonCode: 'SUSPECT_MATERIAL', reason: 'supplier alert' });
    const g = await s().traceability.genealogy({ serial: u! });
    expect(g.unit.state).toBe('on_hold');
    expect(g.lot).toMatchObject({ code: lot.code });
    expect(g.dispositions).toEqual([expect.objectContaining({ id: disp.id, decision: 'use-as-is', verified: null, signature: expect.objectContaining({ signer: qe.username, meaning: 'accepted', reason: 'accepted per deviation 12' }) })]);
    expect(g.holds.map((h) => [h.number, h.scope, h.active])).toEqual([[lotHold.number, 'lot', true], [matHold.number, 'material_lot', true]]);
    expect(g.carton).toBeNull();
    expect(g.shipment).toBeNull();
    expect(g.consumables).toEqual([]);
  });

  it('unknown units, panels and lots: 404 NOT_FOUND', async () => {
    const t = bearer(await tokenFor('operator'));
    for (const url of ['/api/v1/trace/units/NOPE-1', '/api/v1/trace/panels/NOPE-1', '/api/v1/trace/lots/NOPE-1']) {
      const r = await app.inject({ method: 'GET', url, headers: t });
      expect(r.statusCode).toBe(404);
      expect(r.json().code).toBe('NOT_FOUND');
    }
    expect(await thrown(s().traceability.genealogy({ unitId: 999999999 }))).toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('panel and lot genealogy', () => {
  it('a panel lists its positions with their units; a lot pages its units with state, carton and failures', async () => {
    const l = await makeTraceLine({ mount: false });
    const lot = await s().tracking.createLot(system, { workOrder: l.wo.id, code: uniq('PL') });
    const panel = await s().tracking.createPanel(system, { workOrder: l.wo.id, code: uniq('PNL'), positions: 3, lotId: lot.id });
    const serials = panel.units.map((x) => x.serial);
    const [loose] = await newUnits(l, 1, lot.id);
    await build(l, serials[0]!);
    await build(l, serials[1]!);
    await s().tracking.complete(system, { stationId: l.stations.printer!.id, identifier: loose!, result: 'scrap' });
    const carton = await s().shipping.createCarton(system, { workOrder: l.wo.id, capacity: 5 });
    await s().shipping.pack(system, carton.id, { identifier: serials[0]! });
    await s().quality.placeHold(system, { scope: 'unit', serial: serials[1]!, reasonCode: 'OTHER', reason: 'looked at twice' });

    const p = await s().traceability.genealogyOfPanel(panel.code);
    expect(p.panel).toMatchObject({ code: panel.code, positions: 3, lot: { code: lot.code }, workOrder: { number: l.wo.number } });
    expect(p.units.map((x) => [x.position, x.serial, x.state, x.carton])).toEqual([
      [1, serials[0], 'packed', carton.code], [2, serials[1], 'on_hold', null], [3, serials[2], 'wip', null],
    ]);

    const first = await s().traceability.genealogyOfLot(lot.code, { limit: 2 });
    expect(first.lot).toMatchObject({ code: lot.code, units: 4, panels: 1, workOrder: { number: l.wo.number } });
    expect(first.units.map((x) => x.serial)).toEqual(serials.slice(0, 2));
    expect(first.nextAfterId).not.toBeNull();
    const second = await s().traceability.genealogyOfLot(lot.code, { limit: 2, afterId: first.nextAfterId! });
    expect(second.units.map((x) => [x.serial, x.state])).toEqual([[serials[2], 'wip'], [loose, 'scrapped']]);
    expect(first.units[0]).toMatchObject({ panel: panel.code, position: 1, carton: carton.code, failedResults: 0 });

    const res = await app.inject({ method: 'GET', url: `/api/v1/trace/lots/${lot.code}?limit=10`, headers: bearer(await tokenFor('integration')) });
    expect(res.statusCode).toBe(200);
    expect(res.json().units).toHaveLength(4);
    const pr = await app.inject({ method: 'GET', url: `/api/v1/trace/panels/${panel.code}`, headers: bearer(await tokenFor('viewer')) });
    expect(pr.json().units.map((x: Row) => x.serial)).toEqual(serials);
  });
});

describe('lookup', () => {
  it('names what a text is: unit, panel, lot, package, MPN; several when ambiguous', async () => {
    const l = await makeTraceLine({ mount: false });
    const [u] = await newUnits(l);
    const pkg = l.reels[0]!.package;
    expect((await s().traceability.lookup(u!)).map((x) => x.kind)).toEqual(['unit']);
    expect((await s().traceability.lookup(pkg.code)).map((x) => [x.kind, x.id])).toEqual([['package', pkg.id]]);
    expect((await s().traceability.lookup(`${l.product.code}-MPN1`)).map((x) => x.kind)).toEqual(['mpn']);
    // A production lot code that is also a supplier lot code: both, for the user to choose.
    const code = l.reels[2]!.lot.lotCode!;
    await s().tracking.createLot(system, { workOrder: l.wo.id, code });
    expect((await s().traceability.lookup(code)).map((x) => x.kind).sort()).toEqual(['lot', 'material_lot']);
    expect(await s().traceability.lookup('NOTHING-HERE')).toEqual([]);
  });
});
