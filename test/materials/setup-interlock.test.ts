import { describe, expect, it } from 'vitest';
import { MATERIALS_INTERLOCK_REASONS } from '../../src/modules/materials/index.ts';
import { makeProduct, makeQualityWorkOrder, makeReleasedWorkOrder, system, testDb, testServices, uniq } from '../helpers.ts';

/**
 * The setup-completeness interlock (SETUP_INCOMPLETE, SETUP_PROGRAM_MISMATCH, STENCIL_NOT_READY,
 * PASTE_NOT_READY) through the app's tracking service; first article required by a setup change;
 * loading refused for quality holds of package, material lot and station.
 */

const s = () => testServices();
type Made = Awaited<ReturnType<typeof makeReleasedWorkOrder>>;

async function machines(m: Made) {
  const eq = await s().factory.equipment.create(system, { stationId: m.stations.placement!.id, code: uniq('EQ'), name: 'placer' });
  const pr = await s().factory.equipment.create(system, { stationId: m.stations.printer!.id, code: uniq('PR'), name: 'printer' });
  const receive = async (i: number) =>
    (await s().materials.receive(system, { ipn: m.partIpns[i]!, manufacturer: 'Acme', mpn: `${m.product.code}-MPN${i}`, quantity: 500, lotCode: uniq('LOT') })).package;
  const load = (packageId: number, slot: string, programId = m.program.id) =>
    s().materials.verifyLoad(system, { equipmentId: eq.id, slot, packageId, programId, workOrderId: m.wo.id });
  return { eq, pr, receive, load };
}

async function refusals(equipment: string, identifier: string): Promise<Record<string, string>> {
  const v = await s().tracking.validate(system, { equipment, identifier });
  expect(v.go).toBe(v.units.every((u) => u.refusals.length === 0));
  return Object.fromEntries(v.units.flatMap((u) => u.refusals.map((r) => [r.code, r.message])));
}

async function freshPaste(m: Made) {
  const p = (await s().materials.receive(system, { ipn: m.partIpns[2]!, manufacturer: 'Acme', mpn: `${m.product.code}-MPN2`, quantity: 1, lotCode: uniq('PASTE'), kind: 'paste-jar' })).package;
  await s().materials.thawPaste(system, p.id, { at: new Date(Date.now() - 5 * 3_600_000) });
  await s().materials.openPaste(system, p.id, { at: new Date(Date.now() - 60_000) });
  return p;
}

describe('the reason codes', () => {
  it('are in the materials range, unique, and listed in the app interlock reason table', () => {
    const numbers = Object.values(MATERIALS_INTERLOCK_REASONS).map((r) => r.number);
    for (const n of numbers) expect(n).toBeGreaterThanOrEqual(1400), expect(n).toBeLessThan(1500);
    const table = s().tracking.interlockReasons();
    for (const [code, r] of Object.entries(MATERIALS_INTERLOCK_REASONS)) expect(table).toContainEqual({ code, number: r.number, title: r.title });
    expect(new Set(table.map((r) => r.number)).size).toBe(table.length);
  });
});

describe('placement: setup completeness', () => {
  it('refused until the last slot is verified; a blocked package or a wrong recipe revision refuses; start refused too', async () => {
    const m = await makeReleasedWorkOrder();
    const { eq, receive, load } = await machines(m);
    const [u] = (await s().tracking.generateUnits(system, { workOrder: m.wo.id, count: 1 })).serials;
    await s().tracking.complete(system, { stationId: m.stations.printer!.id, identifier: u!, result: 'pass' });
    // A machine the MES never set up is not under setup control (scope "managed").
    expect(await refusals(eq.code, u!)).toEqual({});

    const p1 = await receive(0);
    expect((await load(p1.id, 'S1')).accepted).toBe(true);
    let r = await refusals(eq.code, u!);
    expect(Object.keys(r)).toEqual(['SETUP_INCOMPLETE']);
    expect(r.SETUP_INCOMPLETE).toContain(`machine ${eq.code} is not set up for program ${m.program.name} revision 1`);
    expect(r.SETUP_INCOMPLETE).toContain('slot(s) S2, S3 not verified');
    const start = await s().tracking.start(system, { equipment: eq.code, identifier: u! }).catch((e) => e);
    expect(start).toMatchObject({ code: 'INTERLOCK_REFUSED', details: { verdict: { primary: { code: 'SETUP_INCOMPLETE', number: 1401 } } } });

    const p2 = await receive(1);
    expect((await load(p2.id, 'S2')).accepted).toBe(true);
    expect(Object.keys(await refusals(eq.code, u!))).toEqual(['SETUP_INCOMPLETE']);
    expect((await load((await receive(2)).id, 'S3')).accepted).toBe(true);
    expect(await refusals(eq.code, u!)).toEqual({});

    await s().materials.block(system, p2.id, 'tape damaged');
    r = await refusals(eq.code, u!);
    expect(r.SETUP_INCOMPLETE).toContain(`S2 (${p2.code} is blocked)`);
    await s().materials.release(system, p2.id, 'tape repaired');
    expect(await refusals(eq.code, u!)).toEqual({});

    // The machine reports another revision of the program (CFX RecipeActivated).
    await testDb().query(
      `INSERT INTO equipment_recipes (station_id, equipment_id, recipe_name, revision, activated_at) VALUES ($1, $2, $3, '2', now() - interval '1 minute')`,
      [m.stations.placement!.id, eq.id, m.program.name],
    );
    r = await refusals(eq.code, u!);
    expect(Object.keys(r)).toEqual(['SETUP_PROGRAM_MISMATCH']);
    expect(r.SETUP_PROGRAM_MISMATCH).toContain(`runs program ${m.program.name} revision 2; the build basis prescribes ${m.program.name} revision 1`);
    await testDb().query(
      `INSERT INTO equipment_recipes (station_id, equipment_id, recipe_name, revision, activated_at) VALUES ($1, $2, $3, '1', now())`,
      [m.stations.placement!.id, eq.id, m.program.name],
    );
    expect(await refusals(eq.code, u!)).toEqual({});
    await s().tracking.start(system, { equipment: eq.code, identifier: u! });

    // Taking a reel off makes the setup incomplete again (validate of the next unit).
    const [u2] = (await s().tracking.generateUnits(system, { workOrder: m.wo.id, count: 1 })).serials;
    await s().tracking.complete(system, { stationId: m.stations.printer!.id, identifier: u2!, result: 'pass' });
    await s().materials.unload(system, { equipmentId: eq.id, slot: 'S1' });
    expect((await refusals(eq.code, u2!)).SETUP_INCOMPLETE).toContain('slot(s) S1 not verified');
  });

  it('a setup verified against another program of the slot does not count: SETUP_PROGRAM_MISMATCH and SETUP_INCOMPLETE', async () => {
    const m = (await makeQualityWorkOrder({
      beforeRelease: async (revisionId) => {
        const ipns = (await s().products.getBom(revisionId)).map((l) => l.ipn);
        const p = await s().products.createProgram(system, {
          productRevisionId: revisionId, name: uniq('PNP-OLD'), revision: '7', kind: 'placement', stationType: 'placement', slots: ipns.map((ipn, i) => ({ slot: `S${i + 1}`, ipn })),
        });
        await s().products.setProgramState(system, p.id, 'released');
      },
    })) as unknown as Made;
    // The basis holds two placement programs; the interlock requires the one it chooses for the machine (the first fitting one).
    const programs = (await s().workOrders.loadBasis(m.wo.basisId!, m.wo.basisHash!)).basis.programs.filter((p) => p.stationType === 'placement');
    expect(programs).toHaveLength(2);
    const [chosen, other] = programs as [typeof programs[0], typeof programs[0]];
    const { eq, receive, load } = await machines(m);
    const [u] = (await s().tracking.generateUnits(system, { workOrder: m.wo.id, count: 1 })).serials;
    await s().tracking.complete(system, { stationId: m.stations.printer!.id, identifier: u!, result: 'pass' });
    for (const [i, slot] of ['S1', 'S2', 'S3'].entries()) expect((await load((await receive(i)).id, slot, other.id)).accepted).toBe(true);
    const r = await refusals(eq.code, u!);
    expect(Object.keys(r)).toEqual(['SETUP_PROGRAM_MISMATCH', 'SETUP_INCOMPLETE']);
    expect(r.SETUP_PROGRAM_MISMATCH).toBe(`machine ${eq.code} is set up for program ${other.name} revision ${other.revision}; the build basis prescribes ${chosen.name} revision ${chosen.revision}`);
    expect(r.SETUP_INCOMPLETE).toContain('slot(s) S1, S2, S3 not verified');
    // Re-verifying the same reels against the basis program completes the setup.
    for (const slot of ['S1', 'S2', 'S3']) {
      const on = (await s().materials.listSetups({ equipmentId: eq.id, slot, active: true }))[0]!;
      expect((await load(on.packageId, slot, chosen.id)).accepted).toBe(true);
    }
    expect(await refusals(eq.code, u!)).toEqual({});
  });
});

describe('printer: stencil and paste', () => {
  it('refused without paste, with a blocked paste, a stencil due for cleaning or for another revision', async () => {
    const m = await makeReleasedWorkOrder();
    const { pr } = await machines(m);
    const [u] = (await s().tracking.generateUnits(system, { workOrder: m.wo.id, count: 1 })).serials;
    const stencil = await s().materials.createStencil(system, { code: uniq('STC'), productRevisionId: m.revision.id, cleaningInterval: 5 });
    await s().materials.mountStencil(system, { equipmentId: pr.id, stencilId: stencil.id, productRevisionId: m.revision.id });
    let r = await refusals(pr.code, u!);
    expect(Object.keys(r)).toEqual(['PASTE_NOT_READY']);
    expect(r.PASTE_NOT_READY).toBe(`no solder paste is mounted on printer ${pr.code}`);

    const paste = await freshPaste(m);
    await s().materials.mountPaste(system, { equipmentId: pr.id, packageId: paste.id });
    expect(await refusals(pr.code, u!)).toEqual({});
    await s().materials.block(system, paste.id, 'dropped');
    expect((await refusals(pr.code, u!)).PASTE_NOT_READY).toContain(`Paste jar ${paste.code} is blocked`);
    await s().materials.release(system, paste.id, 'fine');
    expect(await refusals(pr.code, u!)).toEqual({});

    await s().materials.recordStencilUse(system, stencil.id, { prints: 5 });
    expect((await refusals(pr.code, u!)).STENCIL_NOT_READY).toContain('since its last cleaning');
    await s().materials.cleanStencil(system, stencil.id);
    expect(await refusals(pr.code, u!)).toEqual({});

    const elsewhere = await makeProduct();
    const foreign = await s().materials.createStencil(system, { code: uniq('STC'), productRevisionId: elsewhere.revision.id, cleaningInterval: 100 });
    await s().materials.mountStencil(system, { equipmentId: pr.id, stencilId: foreign.id, productRevisionId: elsewhere.revision.id });
    expect((await refusals(pr.code, u!)).STENCIL_NOT_READY).toContain(`made for product revision ${elsewhere.revision.id}`);
    await s().materials.unmount(system, { equipmentId: pr.id, kind: 'stencil' });
    expect((await refusals(pr.code, u!)).STENCIL_NOT_READY).toBe(`no stencil is mounted on printer ${pr.code}`);
  });
});

describe('a setup change requires a new first article', () => {
  it('program change on the placement machine removes the claim; a new work order set up is reported too', async () => {
    let second = 0;
    const m = await makeQualityWorkOrder({
      route: [
        { seq: 10, name: 'Print', stationType: 'printer' },
        { seq: 20, name: 'Place', stationType: 'placement', firstArticleGate: true },
        { seq: 30, name: 'AOI', stationType: 'aoi' },
      ],
      beforeRelease: async (revisionId) => {
        const ipns = (await s().products.getBom(revisionId)).map((l) => l.ipn);
        const p = await s().products.createProgram(system, {
          productRevisionId: revisionId, name: uniq('PNP-B'), revision: '1', kind: 'placement', stationType: 'placement', slots: ipns.map((ipn, i) => ({ slot: `S${i + 1}`, ipn })),
        });
        await s().products.setProgramState(system, p.id, 'released');
        second = p.id;
      },
    });
    const { eq, receive, load } = await machines(m as unknown as Made);
    for (const [i, slot] of ['S1', 'S2', 'S3'].entries()) {
      const v = await load((await receive(i)).id, slot);
      expect(v.accepted).toBe(true);
      expect(v.firstArticleRequired).toBeNull();
    }
    const [u] = (await s().tracking.generateUnits(system, { workOrder: m.wo.id, count: 1 })).serials;
    await s().tracking.complete(system, { stationId: m.stations.printer!.id, identifier: u!, result: 'pass' });
    await s().tracking.complete(system, { equipment: eq.code, identifier: u!, result: 'pass' });
    const claims = () => testDb().query<{ step_seq: number }>('SELECT step_seq FROM first_articles WHERE work_order_id = $1', [m.wo.id]);
    expect((await claims()).rows).toEqual([{ step_seq: 20 }]);

    const v = await load((await receive(0)).id, 'S1', second);
    expect(v.accepted).toBe(true);
    expect(v.firstArticleRequired).toContain(`program change on ${eq.code}`);
    expect((await claims()).rows).toEqual([]);
    const reset = await testDb().query<{ steps: number[]; source: string; reason: string }>(
      'SELECT steps, source, reason FROM quality_first_article_resets WHERE work_order_id = $1 ORDER BY id', [m.wo.id],
    );
    expect(reset.rows).toEqual([{ steps: [20], source: 'setup-change', reason: `Setup change: ${v.firstArticleRequired}` }]);
    // The next slot of the same program is no further change.
    expect((await load((await receive(1)).id, 'S2', second)).firstArticleRequired).toBeNull();

    // Another work order set up on the machine (the reel stays, re-verified for it).
    const wo2 = await s().workOrders.release(system, (await s().workOrders.create(system, {
      number: uniq('WO-'), customer: 'c', customerPo: uniq('PO'), productRevisionId: m.revision.id, quantity: 5, lineId: m.line.id,
    })).id);
    const onS3 = (await s().materials.listSetups({ equipmentId: eq.id, slot: 'S3', active: true }))[0]!;
    const re = await s().materials.verifyLoad(system, { equipmentId: eq.id, slot: 'S3', packageId: onS3.packageId, programId: second, workOrderId: wo2.id });
    expect(re.accepted).toBe(true);
    expect(re.alreadyLoaded).toBe(false);
    expect(re.firstArticleRequired).toBe(`work order #${wo2.id} set up on ${eq.code}`);
    expect(re.setup).toMatchObject({ packageId: onS3.packageId, workOrderId: wo2.id, programId: second });
    expect((await s().materials.getSetup(onS3.id)).unloadReason).toBe('reverified');
    const resets2 = await testDb().query('SELECT 1 FROM quality_first_article_resets WHERE work_order_id = $1 AND source = $2', [wo2.id, 'setup-change']);
    expect(resets2.rowCount).toBe(1);
  });
});

describe('loading refuses material and stations under quality holds', () => {
  it('PACKAGE_ON_HOLD, LOT_ON_HOLD (quality hold), STATION_ON_HOLD — even after the block or lot flag was lifted by hand', async () => {
    const m = await makeReleasedWorkOrder();
    const { receive, load } = await machines(m);
    const codes = async (packageId: number) => (await load(packageId, 'S1')).reasons.map((r) => r.code);

    const held = await receive(0);
    await s().quality.placeHold(system, { scope: 'package', packageId: held.id, reasonCode: 'SUSPECT_MATERIAL', reason: 'supplier notice' });
    expect(await codes(held.id)).toEqual(['PACKAGE_BLOCKED', 'PACKAGE_ON_HOLD']);
    await s().materials.release(system, held.id, 'released by hand');
    expect(await codes(held.id)).toEqual(['PACKAGE_ON_HOLD']);

    const lotPkg = await receive(0);
    await s().quality.placeHold(system, { scope: 'material_lot', materialLotId: lotPkg.lotId, reasonCode: 'SUSPECT_MATERIAL', reason: 'lot under investigation' });
    expect(await codes(lotPkg.id)).toEqual(['LOT_ON_HOLD']);
    await s().materials.releaseLotHold(system, lotPkg.lotId, 'lifted by hand');
    const v = await load(lotPkg.id, 'S1');
    expect(v.reasons.map((r) => r.code)).toEqual(['LOT_ON_HOLD']);
    expect(v.message).toContain('quality hold H-');

    const fine = await receive(0);
    await s().quality.placeHold(system, { scope: 'station', stationId: m.stations.placement!.id, reasonCode: 'SUSPECT_MATERIAL', reason: 'nozzle check' });
    const st = await load(fine.id, 'S1');
    expect(st.accepted).toBe(false);
    expect(st.reason).toMatchObject({ code: 'STATION_ON_HOLD', failureCode: 22 });
  });
});
