import { describe, expect, it } from 'vitest';
import { makeQualityWorkOrder, makeUser, system, testDb, uniq } from '../helpers.ts';
import { codes, pass, s, thrown, units, type Made } from './support.ts';

/** Holds of every scope: refused by the interlock and by loading; time windows; where-used; signed release. */

async function withMachine(m: Made) {
  const eq = await s().factory.equipment.create(system, { stationId: m.stations.placement!.id, code: uniq('EQ'), name: 'placer' });
  const receive = (i: number, lotCode = uniq('LOT')) =>
    s().materials.receive(system, { ipn: m.partIpns[i]!, manufacturer: 'Acme', mpn: `${m.product.code}-MPN${i}`, quantity: 500, lotCode });
  const load = (packageId: number, slot = 'S2') => s().materials.verifyLoad(system, { equipmentId: eq.id, slot, packageId, programId: m.program.id, workOrderId: m.wo.id });
  return { eq, receive, load };
}

async function release(holdId: number) {
  const qe = await makeUser('quality-engineer');
  return s().quality.releaseHold(qe.principal, holdId, { signature: qe.signature('investigated, released') });
}

describe('each hold scope is refused by the interlock, and released with a signature', () => {
  it('unit, units, panel, lot, work order, product revision, station', async () => {
    const m = await makeQualityWorkOrder();
    const lot = await s().tracking.createLot(system, { workOrder: m.wo.id, code: uniq('LOT') });
    const panel = await s().tracking.createPanel(system, { workOrder: m.wo.id, code: uniq('PNL'), positions: 2, lotId: lot.id });
    const [a] = await units(m);
    const onPanel = panel.units[0]!.serial;
    const cases = [
      { input: { scope: 'unit' as const, serial: a! }, unit: a!, code: 'HOLD_UNIT' },
      { input: { scope: 'units' as const, serials: [a!, onPanel] }, unit: onPanel, code: 'HOLD_UNIT' },
      { input: { scope: 'panel' as const, panel: panel.code }, unit: onPanel, code: 'HOLD_PANEL' },
      { input: { scope: 'lot' as const, lot: lot.code }, unit: onPanel, code: 'HOLD_LOT' },
      { input: { scope: 'work_order' as const, workOrder: m.wo.number }, unit: a!, code: 'HOLD_WORK_ORDER' },
      { input: { scope: 'product_revision' as const, productRevisionId: m.revision.id }, unit: a!, code: 'HOLD_PRODUCT_REVISION' },
      { input: { scope: 'station' as const, station: m.stations.printer!.code }, unit: a!, code: 'HOLD_STATION' },
    ];
    for (const c of cases) {
      expect(await codes(m, 'printer', c.unit)).toEqual([]);
      const hold = await s().quality.placeHold(system, { ...c.input, reasonCode: 'SUSPECT_MATERIAL', reason: `checking ${c.code}` });
      expect(hold.number).toMatch(/^H-\d{6}$/);
      const v = await s().tracking.validate(system, { stationId: m.stations.printer!.id, identifier: c.unit });
      expect(v.units[0]!.refusals.map((r) => r.code)).toEqual([c.code]);
      expect(v.units[0]!.refusals[0]!.message).toContain(hold.number);
      expect(v.units[0]!.refusals[0]!.message).toContain(`checking ${c.code}`);
      expect(await thrown(s().tracking.complete(system, { stationId: m.stations.printer!.id, identifier: c.unit, result: 'pass' }))).toMatchObject({ code: 'INTERLOCK_REFUSED' });
      await release(hold.id);
      expect(await codes(m, 'printer', c.unit)).toEqual([]);
    }
    // A station hold stops that station only.
    const st = await s().quality.placeHold(system, { scope: 'station', stationId: m.stations.placement!.id, reasonCode: 'EQUIPMENT_ISSUE', reason: 'nozzle camera fault' });
    expect(await codes(m, 'printer', a!)).toEqual([]);
    await pass(m, 'printer', a!);
    expect(await codes(m, 'placement', a!)).toEqual(['HOLD_STATION']);
    await release(st.id);
  });

  it('release: signed by a quality engineer (wrong role or password refused), once, with the signature in the audit trail', async () => {
    const m = await makeQualityWorkOrder();
    const [a] = await units(m);
    const hold = await s().quality.placeHold(system, { scope: 'unit', serial: a!, reasonCode: 'CUSTOMER_COMPLAINT', reason: 'returned by customer' });
    const op = await makeUser('operator');
    const qe = await makeUser('quality-engineer');
    expect(await thrown(s().quality.releaseHold(op.principal, hold.id, { signature: op.signature() }))).toMatchObject({ code: 'FORBIDDEN' });
    expect(await thrown(s().quality.releaseHold(qe.principal, hold.id, { signature: { password: 'not-it-at-all', reason: 'fine' } }))).toMatchObject({ code: 'SIGNATURE_INVALID' });
    expect(await codes(m, 'printer', a!)).toEqual(['HOLD_UNIT']);
    expect((await s().quality.unitQuality(a!)).holds.map((h) => h.number)).toEqual([hold.number]);
    const done = await s().quality.releaseHold(qe.principal, hold.id, { signature: qe.signature('analysed: no fault found') });
    expect(done).toMatchObject({ releasedBy: qe.username, releaseReason: 'analysed: no fault found' });
    expect(done.releaseSignatureId).not.toBeNull();
    expect(await thrown(s().quality.releaseHold(qe.principal, hold.id, { signature: qe.signature() }))).toMatchObject({ code: 'STATE_CONFLICT' });
    const audit = await testDb().one<{ signature: { signer: string; meaning: string; name: string } }>(`SELECT signature FROM audit_log WHERE entity = 'quality_hold' AND entity_id = $1 AND action = 'release_hold'`, [String(hold.id)]);
    expect(audit!.signature).toMatchObject({ signer: qe.username, meaning: 'released' });
    expect(await thrown(s().quality.placeHold(system, { scope: 'unit', serial: a!, reasonCode: 'NOPE', reason: 'bad reason code' }))).toMatchObject({ code: 'VALIDATION_FAILED' });
  });
});

describe('station + time window', () => {
  it('catches exactly the units processed at the station in the window', async () => {
    const m = await makeQualityWorkOrder();
    const t0 = new Date(Date.now() - 6 * 3600_000);
    const at = (min: number) => new Date(t0.getTime() + min * 60_000);
    const us = await units(m, 7);
    // completedAt (and startedAt) relative to the window [t0, t0 + 90 min).
    const passages: [number | null, number][] = [[null, -10], [null, 0], [null, 45], [-5, 1], [null, 89.99], [null, 90], [null, 120]];
    for (const [i, [start, end]] of passages.entries()) {
      await pass(m, 'printer', us[i]!, 'pass', { completedAt: at(end), ...(start === null ? {} : { startedAt: at(start) }) });
    }
    const inside = [us[1], us[2], us[3], us[4]];
    const wu = await s().quality.whereUsed({ kind: 'station_window', stationId: m.stations.printer!.id, from: at(0), to: at(90) });
    expect(wu.map((u) => u.serial).sort()).toEqual([...inside].sort());
    const hold = await s().quality.placeHold(system, { scope: 'station_window', stationId: m.stations.printer!.id, from: at(0).toISOString(), to: at(90).toISOString(), reasonCode: 'PROCESS_DEVIATION', reason: 'printer squeegee pressure drifted' });
    expect((await s().quality.holdUnits(hold.id)).map((u) => u.serial).sort()).toEqual([...inside].sort());
    for (const u of us) {
      expect(await codes(m, 'placement', u!)).toEqual(inside.includes(u) ? ['HOLD_STATION_WINDOW'] : []);
    }
    expect((await s().quality.unitQuality(us[2]!)).blockers.map((b) => b.code)).toContain('ON_HOLD');
    await release(hold.id);
    expect(await codes(m, 'placement', us[2]!)).toEqual([]);
  });

  it('a where-used result is held in one action', async () => {
    const m = await makeQualityWorkOrder();
    const t0 = new Date(Date.now() - 3600_000);
    const us = await units(m, 3);
    await pass(m, 'printer', us[0]!, 'pass', { completedAt: new Date(t0.getTime() - 60_000) });
    await pass(m, 'printer', us[1]!, 'pass', { completedAt: new Date(t0.getTime() + 60_000) });
    await pass(m, 'printer', us[2]!, 'pass', { completedAt: new Date(t0.getTime() + 120_000) });
    const hold = await s().quality.holdWhereUsed(system, {
      query: { kind: 'station_window', stationId: m.stations.printer!.id, from: t0.toISOString(), to: new Date(t0.getTime() + 600_000).toISOString() },
      reasonCode: 'RECALL', reason: 'recall containment',
    });
    expect(hold).toMatchObject({ scope: 'units', units: 2, source: 'where-used' });
    expect(await codes(m, 'placement', us[0]!)).toEqual([]);
    expect(await codes(m, 'placement', us[1]!)).toEqual(['HOLD_UNIT']);
    expect(await codes(m, 'placement', us[2]!)).toEqual(['HOLD_UNIT']);
  });
});

describe('material holds: loading refuses, and units built with the material are held', () => {
  it('material lot: the lot flag is set and cleared with the hold; built units are refused', async () => {
    const m = await makeQualityWorkOrder();
    const { eq, receive, load } = await withMachine(m);
    const lotCode = uniq('LOT');
    const p1 = await receive(1, lotCode);
    const p1b = await receive(1, lotCode);
    expect(p1b.lot.id).toBe(p1.lot.id);
    const [before, built] = await units(m, 2);
    for (const u of [before, built]) await pass(m, 'printer', u!);
    await pass(m, 'placement', before!); // placed before the reel was loaded: no material of the lot
    expect((await load(p1.package.id)).accepted).toBe(true);
    await s().tracking.complete(system, { equipment: eq.code, identifier: built!, result: 'pass' });

    const hold = await s().quality.placeHold(system, { scope: 'material_lot', materialLotId: p1.lot.id, reasonCode: 'SUSPECT_MATERIAL', reason: 'supplier alert: cracked caps' });
    expect((await s().materials.getLot(p1.lot.id)).onHold).toBe(true);
    const refused = await load(p1b.package.id, 'S3');
    expect(refused.accepted).toBe(false);
    expect(refused.reasons.map((r) => r.code)).toContain('LOT_ON_HOLD');
    expect(await codes(m, 'aoi', built!)).toEqual(['HOLD_MATERIAL_LOT']);
    expect(await codes(m, 'aoi', before!)).toEqual([]);
    expect((await s().quality.holdUnits(hold.id)).map((u) => u.serial)).toEqual([built]);
    expect((await s().quality.unitQuality(built!)).holds.map((h) => h.number)).toEqual([hold.number]);
    expect((await s().quality.unitQuality(before!)).holds).toEqual([]);

    await release(hold.id);
    expect((await s().materials.getLot(p1.lot.id)).onHold).toBe(false);
    expect(await codes(m, 'aoi', built!)).toEqual([]);
  });

  it('package: the package is blocked with the hold and released with it; built units are refused', async () => {
    const m = await makeQualityWorkOrder();
    const { eq, receive, load } = await withMachine(m);
    const p = await receive(1);
    const spare = await receive(2);
    const [built] = await units(m);
    await pass(m, 'printer', built!);
    expect((await load(p.package.id)).accepted).toBe(true);
    await s().tracking.complete(system, { equipment: eq.code, identifier: built!, result: 'pass' });
    const hold = await s().quality.placeHold(system, { scope: 'package', packageCode: spare.package.code, reasonCode: 'SUSPECT_MATERIAL', reason: 'reel dropped' });
    expect((await s().materials.getPackage(spare.package.id)).status).toBe('blocked');
    const refused = await load(spare.package.id, 'S3');
    expect(refused.reasons.map((r) => r.code)).toContain('PACKAGE_BLOCKED');
    expect(await codes(m, 'aoi', built!)).toEqual([]); // near miss: built with another package
    const held = await s().quality.placeHold(system, { scope: 'package', packageId: p.package.id, reasonCode: 'SUSPECT_MATERIAL', reason: 'wrong date code' });
    expect(await codes(m, 'aoi', built!)).toEqual(['HOLD_PACKAGE']);
    await release(hold.id);
    expect((await s().materials.getPackage(spare.package.id)).status).toBe('available');
    expect((await load(spare.package.id, 'S3')).accepted).toBe(true);
    await release(held.id);
    expect(await codes(m, 'aoi', built!)).toEqual([]);
  });
});
