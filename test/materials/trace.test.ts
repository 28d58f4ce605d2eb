import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MaterialsService } from '../../src/modules/materials/index.ts';
import type { App } from '../../src/platform/http.ts';
import { bearer, makeReleasedWorkOrder, system, testApp, testDb, testServices, tokenFor, uniq } from '../helpers.ts';
import { clockedMaterials, testClock } from './fixtures.ts';

/**
 * Material-to-board traceability: M2 (derived from feeder setups × passages, splice windows), M3
 * (installed through REST and CFX) overriding M2, rework replacements, where-used by lot,
 * package, MPN + date code, paste jar and stencil, and the usage log of a work order.
 */

const clock = testClock(new Date(Date.UTC(2026, 0, 5, 8, 0, 0)));
const s = () => testServices();
let svc: MaterialsService;
let app: App;
beforeAll(async () => {
  svc = clockedMaterials(clock);
  app = await testApp();
});
afterAll(async () => {
  await app.close();
});

const H = (h: number) => clock.at(h);

/**
 * A released work order (3 parts, BOM R1–R6: part i → R(2i+1), R(2i+2); program slots S1–S3),
 * a placement machine and a printer, four units, and this history:
 *  0 h   S1 ← A (part 0, MSL 3, date code 2405), S2 ← B (part 1), S3 ← C (part 2); paste P1, stencil ST on the printer
 *  1 h   D spliced onto S2           2 h  B emptied (D feeds S2); paste P2 replaces P1
 *  3 h   E (part 0, date code 2410) replaces A in S1
 *  unit k (k = 0…3) printed at k + 0.1 h, placed from k + 0.5 h to k + 0.6 h.
 */
async function history() {
  clock.set(H(0));
  const m = await makeReleasedWorkOrder();
  const eq = await s().factory.equipment.create(system, { stationId: m.stations.placement!.id, code: uniq('EQ'), name: 'placer' });
  const pr = await s().factory.equipment.create(system, { stationId: m.stations.printer!.id, code: uniq('PR'), name: 'printer' });
  const mpn = (i: number) => `${m.product.code}-MPN${i}`;
  const receive = async (i: number, dateCode = '2405', lotCode = uniq('LOT')) =>
    (await svc.receive(system, { ipn: m.partIpns[i]!, manufacturer: 'Acme', mpn: mpn(i), quantity: 1000, lotCode, dateCode })).package;
  const load = (packageId: number, slot: string, splice = false) =>
    svc.verifyLoad(system, { equipmentId: eq.id, slot, packageId, programId: m.program.id, workOrderId: m.wo.id, splice });
  const A = await receive(0, '2405');
  const B = await receive(1);
  const C = await receive(2);
  const D = await receive(1, '2405', (await svc.getLot(B.lotId)).lotCode!); // same lot as B
  const E = await receive(0, '2410');
  const paste = async () => {
    const p = await svc.receive(system, { ipn: m.partIpns[2]!, manufacturer: 'Acme', mpn: mpn(2), quantity: 1, lotCode: uniq('PASTE'), kind: 'paste-jar' });
    await svc.thawPaste(system, p.package.id, { at: new Date(clock.now().getTime() - 5 * 3_600_000) });
    await svc.openPaste(system, p.package.id, { at: new Date(clock.now().getTime() - 600_000) });
    return p.package;
  };
  for (const [p, slot] of [[A, 'S1'], [B, 'S2'], [C, 'S3']] as const) expect((await load(p.id, slot)).accepted).toBe(true);
  const P1 = await paste();
  await svc.mountPaste(system, { equipmentId: pr.id, packageId: P1.id });
  const ST = await svc.createStencil(system, { code: uniq('STC'), productRevisionId: m.revision.id, cleaningInterval: 1000 });
  await svc.mountStencil(system, { equipmentId: pr.id, stencilId: ST.id, productRevisionId: m.revision.id });

  const serials = (await s().tracking.generateUnits(system, { workOrder: m.wo.id, count: 4 })).serials;
  const pass = (serial: string, equipment: string, from: number, to: number) =>
    s().tracking.complete(system, { equipment, identifier: serial, result: 'pass', startedAt: H(from), completedAt: H(to) });
  const unitIds: number[] = [];
  for (const [k, serial] of serials.entries()) {
    clock.set(H(k));
    if (k === 1) expect((await load(D.id, 'S2', true)).accepted).toBe(true);
    if (k === 2) {
      await svc.markEmpty(system, B.id);
      await svc.mountPaste(system, { equipmentId: pr.id, packageId: (await paste()).id });
    }
    if (k === 3) expect((await load(E.id, 'S1')).replaced.map((r) => r.packageId)).toEqual([A.id]);
    await pass(serial, pr.code, k + 0.05, k + 0.1);
    await pass(serial, eq.code, k + 0.5, k + 0.6);
    unitIds.push((await s().tracking.getUnit(serial)).id);
  }
  return { m, eq, pr, A, B, C, D, E, P1, ST, serials, unitIds, mpn };
}
type History = Awaited<ReturnType<typeof history>>;

const codesOf = (list: Awaited<ReturnType<MaterialsService['unitMaterials']>>) =>
  Object.fromEntries(list.map((r) => [r.refdes, `${r.source}:${r.candidates.map((c) => c.packageCode).join('+')}`]));

describe('unit material list', () => {
  let h: History;
  beforeAll(async () => {
    h = await history();
  });

  it('M2: every designator from the setup at placement, the MSL floor life left then', async () => {
    const list = await svc.unitMaterials(h.unitIds[0]!);
    expect(codesOf(list)).toEqual({
      R1: `M2:${h.A.code}`, R2: `M2:${h.A.code}`, R3: `M2:${h.B.code}`, R4: `M2:${h.B.code}`, R5: `M2:${h.C.code}`, R6: `M2:${h.C.code}`,
    });
    const r1 = list.find((r) => r.refdes === 'R1')!;
    expect(r1).toMatchObject({ partId: h.A.partId, ipn: h.m.partIpns[0] });
    expect(r1.candidates[0]).toMatchObject({
      packageId: h.A.id, lotId: h.A.lotId, mpn: h.mpn(0), manufacturer: 'Acme', dateCode: '2405', equipmentId: h.eq.id, equipmentCode: h.eq.code, slot: 'S1',
      from: H(0), to: H(3),
    });
    // MSL 3 (168 h), opened at loading (0 h), placed at 0.6 h: 167.4 h left.
    expect(r1.candidates[0]!.mslFloorLifeRemainingMinutesAtPlacement).toBe(167.4 * 60);
    expect(list.find((r) => r.refdes === 'R3')!.candidates[0]!.mslFloorLifeRemainingMinutesAtPlacement).toBeNull();
  });

  it('M2 during a splice window: both packages are candidates; after the old reel emptied only the new one', async () => {
    expect(codesOf(await svc.unitMaterials(h.unitIds[1]!)).R3).toBe(`M2:${h.B.code}+${h.D.code}`);
    expect(codesOf(await svc.unitMaterials(h.unitIds[2]!)).R4).toBe(`M2:${h.D.code}`);
  });

  it('M2 after a reel was replaced: the new reel only', async () => {
    const list = codesOf(await svc.unitMaterials(h.unitIds[3]!));
    expect(list).toMatchObject({ R1: `M2:${h.E.code}`, R2: `M2:${h.E.code}`, R3: `M2:${h.D.code}` });
    expect(codesOf(await svc.unitMaterials(h.unitIds[2]!)).R1).toBe(`M2:${h.A.code}`);
  });

  it('M3 recorded through REST wins over M2 for its designator; errors name the field', async () => {
    const token = await tokenFor('operator');
    const ok = await app.inject({
      method: 'POST', url: '/api/v1/materials/installs', headers: bearer(token),
      payload: { installs: [{ unit: h.serials[1]!, packageCode: h.D.code, refdes: ['R3'], equipmentId: h.eq.id, slot: 'S2', installedAt: H(1.55).toISOString() }] },
    });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json()).toEqual({ installed: 1, unchanged: 0, replaced: 0 });
    const list = codesOf(await svc.unitMaterials(h.unitIds[1]!));
    expect(list.R3).toBe(`M3:${h.D.code}`);
    expect(list.R4).toBe(`M2:${h.B.code}+${h.D.code}`);
    // The same report again changes nothing.
    const again = await app.inject({ method: 'POST', url: '/api/v1/materials/installs', headers: bearer(token), payload: { installs: [{ unit: h.serials[1]!, packageId: h.D.id, refdes: ['R3'] }] } });
    expect(again.json()).toEqual({ installed: 0, unchanged: 1, replaced: 0 });

    const unknown = await app.inject({ method: 'POST', url: '/api/v1/materials/installs', headers: bearer(token), payload: { installs: [{ unit: 'NO-SUCH-UNIT', packageCode: 'NO-SUCH-REEL', refdes: ['R1'] }] } });
    expect(unknown.statusCode).toBe(422);
    expect(unknown.json().errors.map((e: { field: string; code: string }) => `${e.field} ${e.code}`).sort()).toEqual(['/installs/0/packageCode unknown_package', '/installs/0/unit unknown_unit']);
    const bad = await app.inject({ method: 'POST', url: '/api/v1/materials/installs', headers: bearer(token), payload: { installs: [{ unit: h.serials[1]!, packageId: h.D.id, refdes: ['R99', 'R1'] }] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors.map((e: { field: string; code: string }) => `${e.field} ${e.code}`)).toEqual(['/installs/0/refdes/0 refdes_not_in_bom', '/installs/0/refdes/1 part_mismatch']);
    expect(codesOf(await svc.unitMaterials(h.unitIds[1]!)).R1).toBe(`M2:${h.A.code}`);
  });

  it('a rework replacement is reflected; an uninstalled designator leaves the list', async () => {
    const u = h.serials[0]!;
    await s().quality.recordRework(system, { serial: u, action: 'replaced R5', refdes: 'R5', removedPackage: h.C.id, newPackage: h.C.code, verifyStepSeq: 30 });
    const spare = (await svc.receive(system, { ipn: h.m.partIpns[1]!, manufacturer: 'Acme', mpn: h.mpn(1), quantity: 10, lotCode: uniq('SPARE') })).package;
    await s().quality.recordRework(system, { serial: u, action: 'replaced R4', refdes: 'R4', removedPackage: h.B.id, newPackage: spare.id, verifyStepSeq: 30 });
    let list = codesOf(await svc.unitMaterials(h.unitIds[0]!));
    expect(list).toMatchObject({ R4: `M3:${spare.code}`, R3: `M2:${h.B.code}`, R5: `M3:${h.C.code}` });
    await svc.recordUninstalls(system, [{ unit: u, packageId: h.A.id, refdes: ['R2'], reason: 'tombstoned, lifted off', installedAt: H(0.6) }], 'rest');
    list = codesOf(await svc.unitMaterials(h.unitIds[0]!));
    expect(list.R2).toBeUndefined();
    expect(list.R1).toBe(`M2:${h.A.code}`);
  });
});

describe('where-used', () => {
  let h: History;
  beforeAll(async () => {
    h = await history();
  });
  const units = async (q: Parameters<MaterialsService['materialWhereUsed']>[0]) => (await svc.materialWhereUsed(q)).units;
  const ids = (h: History, ks: number[]) => ks.map((k) => ({ unitId: h.unitIds[k]!, via: 'M2' }));

  it('by lot (B and D share it), by package', async () => {
    const lot = await svc.materialWhereUsed({ lotId: h.B.lotId });
    expect(lot.packages).toEqual([h.B.id, h.D.id]);
    expect(lot.units).toEqual(ids(h, [0, 1, 2, 3]));
    expect(await units({ packageId: h.B.id })).toEqual(ids(h, [0, 1]));
    expect(await units({ packageId: h.D.id })).toEqual(ids(h, [1, 2, 3]));
    expect(await units({ packageId: h.A.id })).toEqual(ids(h, [0, 1, 2]));
    expect(await units({ packageId: h.E.id })).toEqual(ids(h, [3]));
  });

  it('by MPN and date-code range, boundaries inclusive, a near miss outside', async () => {
    const mpn = h.mpn(0);
    expect(await units({ mpn })).toEqual(ids(h, [0, 1, 2, 3]));
    expect(await units({ mpn, dateCodeFrom: '2405', dateCodeTo: '2405' })).toEqual(ids(h, [0, 1, 2]));
    expect(await units({ mpn, dateCodeFrom: '2406', dateCodeTo: '2410' })).toEqual(ids(h, [3]));
    expect(await units({ mpn, dateCodeFrom: '2410' })).toEqual(ids(h, [3]));
    expect(await units({ mpn, dateCodeTo: '2404' })).toEqual([]);
    expect(await units({ mpn, dateCodeFrom: '2411' })).toEqual([]);
    expect(await units({ mpn, dateCodeFrom: '2406', dateCodeTo: '2409' })).toEqual([]);
  });

  it('by paste jar and by stencil (mounts on the printer × print passages)', async () => {
    expect(await units({ pasteJarPackageId: h.P1.id })).toEqual(ids(h, [0, 1]));
    const mounts = await svc.listMounts({ equipmentId: h.pr.id });
    const p2 = mounts.find((x) => x.kind === 'paste' && x.packageId !== h.P1.id)!;
    expect(await units({ pasteJarPackageId: p2.packageId! })).toEqual(ids(h, [2, 3]));
    expect(await units({ stencilId: h.ST.id })).toEqual(ids(h, [0, 1, 2, 3]));
  });

  it('M3 installs count as M3; a package installed only by M3 is found; a program not using the slot does not count', async () => {
    const spare = (await svc.receive(system, { ipn: h.m.partIpns[2]!, manufacturer: 'Acme', mpn: h.mpn(2), quantity: 10, lotCode: uniq('M3ONLY') })).package;
    await svc.recordInstalls(system, [{ unit: h.serials[2]!, packageId: spare.id, refdes: ['R6'] }], 'rest');
    expect(await units({ packageId: spare.id })).toEqual([{ unitId: h.unitIds[2]!, via: 'M3' }]);
    await svc.recordInstalls(system, [{ unit: h.serials[1]!, packageId: h.D.id, refdes: ['R3'] }], 'rest');
    expect(await units({ packageId: h.D.id })).toEqual([{ unitId: h.unitIds[1]!, via: 'M3' }, ...ids(h, [2, 3])]);
  });

  it('refuses a question that is not exactly one kind; unknown ids are 404', async () => {
    await expect(svc.materialWhereUsed({ lotId: h.B.lotId, packageId: h.B.id } as never)).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(svc.materialWhereUsed({ lotId: 999999999 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(svc.materialWhereUsed({ pasteJarPackageId: h.A.id })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    const r = await app.inject({ method: 'GET', url: `/api/v1/materials/where-used?packageId=${h.B.id}`, headers: bearer(await tokenFor('viewer')) });
    expect(r.statusCode).toBe(200);
    expect(r.json().units.map((u: { unitId: number }) => u.unitId)).toEqual([h.unitIds[0], h.unitIds[1]]);
  });
});

describe('usage log of a work order', () => {
  it('per setup interval: loaded and consumed quantities; JSON and CSV', async () => {
    const h = await history();
    clock.set(H(4));
    await svc.consume(system, h.E.id, { quantity: 25 });
    await svc.consume(system, h.C.id, { quantity: 40 });
    const log = await svc.usageLog(h.m.wo.id);
    const row = (code: string) => log.find((r) => r.packageCode === code)!;
    expect(log.map((r) => r.packageCode)).toEqual([h.A.code, h.B.code, h.C.code, h.D.code, h.E.code]);
    expect(row(h.A.code)).toMatchObject({ mpn: h.mpn(0), manufacturer: 'Acme', equipmentCode: h.eq.code, slot: 'S1', loadedAt: H(0), unloadedAt: H(3), loadedQty: 1000, consumedQty: 0 });
    expect(row(h.B.code)).toMatchObject({ loadedQty: 1000, consumedQty: 1000, unloadedAt: H(2) });
    expect(row(h.C.code)).toMatchObject({ loadedQty: 1000, consumedQty: 40, unloadedAt: null });
    expect(row(h.E.code)).toMatchObject({ loadedQty: 1000, consumedQty: 25, loadedAt: H(3) });
    const token = await tokenFor('viewer');
    const csv = await app.inject({ method: 'GET', url: `/api/v1/work-orders/${h.m.wo.id}/material-usage`, headers: { ...bearer(token), accept: 'text/csv' } });
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toContain('text/csv');
    const lines = csv.body.trim().split('\r\n');
    expect(lines[0]).toBe('mpn,manufacturer,lotCode,packageCode,equipmentCode,slot,loadedAt,unloadedAt,loadedQty,consumedQty');
    expect(lines).toHaveLength(6);
    expect(lines[2]).toContain(`${h.B.code},${h.eq.code},S2,${H(0).toISOString()},${H(2).toISOString()},1000,1000`);
    const json = await app.inject({ method: 'GET', url: `/api/v1/work-orders/${h.m.wo.id}/material-usage?format=json`, headers: bearer(token) });
    expect(json.json()).toHaveLength(5);
    const missing = await app.inject({ method: 'GET', url: '/api/v1/work-orders/999999999/material-usage', headers: bearer(token) });
    expect(missing.statusCode).toBe(404);
    expect((await testDb().query('SELECT 1 FROM material_installs WHERE unit_id = ANY($1)', [h.unitIds])).rowCount).toBe(0);
  });
});
