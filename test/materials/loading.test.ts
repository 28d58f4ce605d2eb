import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOAD_REFUSAL_REASONS, type LoadInput, type MaterialsService } from '../../src/modules/materials/index.ts';
import type { App } from '../../src/platform/http.ts';
import { bearer, system, testApp, testDb, testServices, tokenFor, uniq } from '../helpers.ts';
import { clockedMaterials, makeMachine, makeScenario, makeWorkOrderId, receivePart, testClock, type Scenario } from './fixtures.ts';

const clock = testClock();
let svc: MaterialsService;
beforeAll(() => {
  svc = clockedMaterials(clock);
});

const load = (sc: Scenario, over: Partial<LoadInput> & { packageId?: number }) =>
  svc.verifyLoad(system, { equipmentId: sc.equipment.id, slot: 'S1', programId: sc.program.id, ...over });

async function attemptRow(id: number) {
  return (await testDb().query<{ accepted: boolean; reason_code: string | null; failure_code: number | null; package_id: number | null }>(
    'SELECT accepted, reason_code, failure_code, package_id FROM load_attempts WHERE id = $1', [id],
  )).rows[0]!;
}

/** Asserts a refusal with `code` as its first reason, recorded in the attempt log. */
async function expectRefused(p: ReturnType<typeof load>, code: string) {
  const v = await p;
  expect(v.accepted, v.message).toBe(false);
  expect(v.reason!.code).toBe(code);
  expect(v.reason!.failureCode).toBe(LOAD_REFUSAL_REASONS.find((r) => r.code === code)!.failureCode);
  expect(v.message.length).toBeGreaterThan(10);
  expect(v.setup).toBeNull();
  const row = await attemptRow(v.attemptId);
  expect(row).toMatchObject({ accepted: false, reason_code: code, failure_code: v.reason!.failureCode });
  return v;
}

describe('the reason-code table', () => {
  it('has unique codes and unique integers, each with a sentence', () => {
    expect(new Set(LOAD_REFUSAL_REASONS.map((r) => r.code)).size).toBe(LOAD_REFUSAL_REASONS.length);
    expect(new Set(LOAD_REFUSAL_REASONS.map((r) => r.failureCode)).size).toBe(LOAD_REFUSAL_REASONS.length);
    for (const r of LOAD_REFUSAL_REASONS) expect(r.sentence).toMatch(/^[A-Z].+\.$/);
  });
});

describe('feeder loading refusals: each reason, recorded', () => {
  let sc: Scenario;
  beforeAll(async () => {
    sc = await makeScenario();
  });

  it('PROGRAM_NOT_RELEASED and PROGRAM_NOT_FOR_EQUIPMENT', async () => {
    const { package: p } = await receivePart(svc, sc, 1);
    const draft = await testServices().products.createProgram(system, {
      productRevisionId: sc.revision.id, name: uniq('DRAFT'), revision: '1', kind: 'placement', stationType: 'placement', slots: [{ slot: 'S1', ipn: sc.partIpns[1]! }],
    });
    await expectRefused(load(sc, { packageId: p.id, programId: draft.id }), 'PROGRAM_NOT_RELEASED');
    const elsewhere = await testServices().products.createProgram(system, {
      productRevisionId: sc.revision.id, name: uniq('OTHER'), revision: '1', kind: 'placement', stationType: 'placement', equipmentId: sc.other.id,
      slots: [{ slot: 'S1', ipn: sc.partIpns[1]! }],
    });
    await testServices().products.setProgramState(system, elsewhere.id, 'released');
    await expectRefused(load(sc, { packageId: p.id, programId: elsewhere.id }), 'PROGRAM_NOT_FOR_EQUIPMENT');
  });

  it('SLOT_NOT_IN_PROGRAM, PACKAGE_UNKNOWN', async () => {
    const { package: p } = await receivePart(svc, sc, 1);
    await expectRefused(load(sc, { packageId: p.id, slot: 'S99' }), 'SLOT_NOT_IN_PROGRAM');
    const v = await expectRefused(load(sc, { packageCode: 'NO-SUCH-REEL' }), 'PACKAGE_UNKNOWN');
    expect((await attemptRow(v.attemptId)).package_id).toBeNull();
    const stored = await testDb().query<{ package_code: string }>('SELECT package_code FROM load_attempts WHERE id = $1', [v.attemptId]);
    expect(stored.rows[0]!.package_code).toBe('NO-SUCH-REEL');
  });

  it('PACKAGE_SCRAPPED, PACKAGE_EMPTY, PACKAGE_BLOCKED, PACKAGE_QUARANTINED', async () => {
    const scrapped = (await receivePart(svc, sc, 0)).package;
    await svc.scrap(system, scrapped.id, 'dropped on the floor');
    await expectRefused(load(sc, { packageId: scrapped.id }), 'PACKAGE_SCRAPPED');
    const empty = (await receivePart(svc, sc, 0)).package;
    await svc.markEmpty(system, empty.id);
    await expectRefused(load(sc, { packageId: empty.id }), 'PACKAGE_EMPTY');
    const blocked = (await receivePart(svc, sc, 0)).package;
    await svc.block(system, blocked.id, 'damaged tape');
    await expectRefused(load(sc, { packageId: blocked.id }), 'PACKAGE_BLOCKED');
    const quarantined = (await receivePart(svc, sc, 0)).package;
    await svc.quarantine(system, quarantined.id, 'incoming inspection');
    await expectRefused(load(sc, { packageId: quarantined.id }), 'PACKAGE_QUARANTINED');
  });

  it('PART_MISMATCH: a package of another part in the slot', async () => {
    const { package: p } = await receivePart(svc, sc, 2);
    const v = await expectRefused(load(sc, { packageId: p.id, slot: 'S1' }), 'PART_MISMATCH');
    expect(v.message).toContain(sc.partIpns[2]);
    expect(v.message).toContain(sc.partIpns[0]);
  });

  it('MPN_NOT_ON_AVL, AVL_ENTRY_INACTIVE, ALTERNATE_NOT_PERMITTED (and accepted with a revision or work-order permission)', async () => {
    const parts = testServices().parts;
    // An approved second source of part 1, received, then removed from the AVL.
    const gone = `${uniq('GONE')}`;
    await parts.upsertAvlEntry(system, { ipn: sc.partIpns[1]!, manufacturer: 'Beta', mpn: gone });
    const pGone = (await svc.receive(system, { ipn: sc.partIpns[1]!, mpn: gone, quantity: 100 })).package;
    await testDb().query('DELETE FROM avl_entries WHERE manufacturer_part_id = $1', [pGone.manufacturerPartId]);
    await expectRefused(load(sc, { packageId: pGone.id, slot: 'S2' }), 'MPN_NOT_ON_AVL');
    // Inactive entry.
    const old = uniq('OLD');
    await parts.upsertAvlEntry(system, { ipn: sc.partIpns[1]!, manufacturer: 'Gamma', mpn: old });
    const pOld = (await svc.receive(system, { ipn: sc.partIpns[1]!, mpn: old, quantity: 100 })).package;
    await parts.upsertAvlEntry(system, { ipn: sc.partIpns[1]!, manufacturer: 'Gamma', mpn: old, active: false });
    await expectRefused(load(sc, { packageId: pOld.id, slot: 'S2' }), 'AVL_ENTRY_INACTIVE');
    // Alternate: refused without permission, accepted with one for this revision or this work order.
    const alt = uniq('ALT');
    const { entry } = await parts.upsertAvlEntry(system, { ipn: sc.partIpns[1]!, manufacturer: 'Delta', mpn: alt, alternate: true });
    const pAlt = (await svc.receive(system, { ipn: sc.partIpns[1]!, mpn: alt, quantity: 100 })).package;
    await expectRefused(load(sc, { packageId: pAlt.id, slot: 'S2' }), 'ALTERNATE_NOT_PERMITTED');
    const workOrderId = await makeWorkOrderId(sc);
    const perm = await parts.grantAlternate(system, { avlEntryId: entry.id, scope: 'work_order', workOrderId, reason: 'shortage of the approved source' });
    await expectRefused(load(sc, { packageId: pAlt.id, slot: 'S2', workOrderId: await makeWorkOrderId(sc) }), 'ALTERNATE_NOT_PERMITTED');
    const ok = await load(sc, { packageId: pAlt.id, slot: 'S2', workOrderId });
    expect(ok.accepted, ok.message).toBe(true);
    expect(ok.setup!.workOrderId).toBe(workOrderId);
    await svc.unload(system, { equipmentId: sc.equipment.id, slot: 'S2' });
    await parts.revokePermission(system, perm.id, 'shortage over');
    await parts.grantAlternate(system, { avlEntryId: entry.id, scope: 'product_revision', productRevisionId: sc.revision.id, reason: 'qualified for this revision' });
    expect((await load(sc, { packageId: pAlt.id, slot: 'S2' })).accepted).toBe(true);
    await svc.unload(system, { equipmentId: sc.equipment.id, slot: 'S2' });
  });

  it('LOT_ON_HOLD and LOT_EXPIRED', async () => {
    const { package: held, lot } = await receivePart(svc, sc, 1);
    await svc.holdLot(system, lot.id, 'supplier notice: suspect solderability');
    await expectRefused(load(sc, { packageId: held.id, slot: 'S2' }), 'LOT_ON_HOLD');
    await svc.releaseLotHold(system, lot.id, 'supplier cleared the lot');
    expect((await load(sc, { packageId: held.id, slot: 'S2' })).accepted).toBe(true);
    await svc.unload(system, { equipmentId: sc.equipment.id, slot: 'S2' });
    const { package: old } = await receivePart(svc, sc, 1, { expiresAt: new Date(clock.now().getTime() - 1000) });
    await expectRefused(load(sc, { packageId: old.id, slot: 'S2' }), 'LOT_EXPIRED');
  });

  it('MSL_BAKE_REQUIRED (MSL 6 lot) and MSD_STATE_UNKNOWN (a history that cannot be evaluated)', async () => {
    const { package: six } = await receivePart(svc, sc, 0, { mslLevel: '6' });
    await expectRefused(load(sc, { packageId: six.id }), 'MSL_BAKE_REQUIRED');
    const { package: odd } = await receivePart(svc, sc, 0);
    // An impossible history written behind the service's back (out of a dry cabinet it never entered).
    await testDb().query(`INSERT INTO msd_events (package_id, type, at, actor_kind, actor_name) VALUES ($1, 'dry-storage-out', $2, 'system', 'test')`, [odd.id, clock.now()]);
    expect((await svc.getPackage(odd.id)).msd.state).toBe('unknown');
    await expectRefused(load(sc, { packageId: odd.id }), 'MSD_STATE_UNKNOWN');
  });

  it('PACKAGE_LOADED_ELSEWHERE; a re-scan on the same slot is accepted without a new interval', async () => {
    const { package: p } = await receivePart(svc, sc, 2);
    const first = await load(sc, { packageId: p.id, slot: 'S3' });
    expect(first.accepted).toBe(true);
    const again = await load(sc, { packageCode: p.code, slot: 'S3' });
    expect(again).toMatchObject({ accepted: true, alreadyLoaded: true });
    expect(again.setup!.id).toBe(first.setup!.id);
    await expectRefused(load(sc, { packageId: p.id, slot: 'S3', equipmentId: sc.other.id }), 'PACKAGE_LOADED_ELSEWHERE');
    await svc.unload(system, { equipmentId: sc.equipment.id, slot: 'S3' });
  });

  it('SPLICE_PENDING and SPLICE_FEEDER_MISMATCH', async () => {
    const a = (await receivePart(svc, sc, 2)).package;
    const b = (await receivePart(svc, sc, 2)).package;
    const c = (await receivePart(svc, sc, 2)).package;
    expect((await load(sc, { packageId: a.id, slot: 'S3', feederId: 'F-100' })).accepted).toBe(true);
    await expectRefused(load(sc, { packageId: b.id, slot: 'S3', feederId: 'F-200', splice: true }), 'SPLICE_FEEDER_MISMATCH');
    const spliced = await load(sc, { packageId: b.id, slot: 'S3', feederId: 'F-100', splice: true });
    expect(spliced.accepted, spliced.message).toBe(true);
    await expectRefused(load(sc, { packageId: c.id, slot: 'S3', splice: true }), 'SPLICE_PENDING');
    await svc.unload(system, { equipmentId: sc.equipment.id, slot: 'S3' });
  });

  it('lists every reason found, first the most fundamental', async () => {
    const { package: p } = await receivePart(svc, sc, 2);
    await svc.block(system, p.id, 'test');
    const v = await load(sc, { packageId: p.id, slot: 'S1' });
    expect(v.reasons.map((r) => r.code)).toEqual(['PACKAGE_BLOCKED', 'PART_MISMATCH']);
  });
});

describe('accepted loads, setup completeness, splices', () => {
  it('setup status goes missing → verified per slot, complete when every slot is verified, wrong when a loaded package turns bad', async () => {
    const sc = await makeScenario();
    const status0 = await svc.setupStatus(sc.equipment.id, sc.program.id);
    expect(status0).toMatchObject({ complete: false, counts: { verified: 0, missing: 3, wrong: 0 } });
    const pkgs = [];
    for (let i = 0; i < 3; i++) pkgs.push((await receivePart(svc, sc, i)).package);
    for (let i = 0; i < 2; i++) {
      const v = await load(sc, { packageId: pkgs[i]!.id, slot: `S${i + 1}`, feederId: `F${i}` });
      expect(v.accepted, v.message).toBe(true);
      expect(v.setup).toMatchObject({ slot: `S${i + 1}`, feederId: `F${i}`, position: 'feeding', packageCode: pkgs[i]!.code, programId: sc.program.id, unloadedAt: null });
    }
    const status1 = await svc.setupStatus(sc.equipment.id, sc.program.id);
    expect(status1.complete).toBe(false);
    expect(status1.slots.map((s) => s.state)).toEqual(['verified', 'verified', 'missing']);
    expect((await load(sc, { packageId: pkgs[2]!.id, slot: 'S3' })).accepted).toBe(true);
    const status2 = await svc.setupStatus(sc.equipment.id, sc.program.id);
    expect(status2).toMatchObject({ complete: true, counts: { verified: 3, missing: 0, wrong: 0 }, problems: [] });
    // The loaded package is in the slot, in use.
    const onMachine = await svc.getPackage(pkgs[0]!.id);
    expect(onMachine).toMatchObject({ status: 'in-use', location: { kind: 'equipment', equipmentId: sc.equipment.id, slot: 'S1' } });
    // Loading an MSL 3 reel counted as opening its dry pack.
    expect(onMachine.msd.state).toBe('exposed');
    expect((await svc.msd(pkgs[0]!.id)).events.map((e) => [e.type, e.implicit])).toEqual([['opened', true]]);
    // A loaded package blocked afterwards makes its slot wrong and the setup incomplete.
    await svc.block(system, pkgs[1]!.id, 'AOI finds tombstones from this reel');
    const status3 = await svc.setupStatus(sc.equipment.id, sc.program.id);
    expect(status3.complete).toBe(false);
    expect(status3.slots[1]).toMatchObject({ state: 'wrong', feeding: { ok: false, reasons: [{ code: 'PACKAGE_BLOCKED' }] } });
    await svc.release(system, pkgs[1]!.id, 'false alarm');
    expect((await svc.getPackage(pkgs[1]!.id)).status).toBe('in-use');
    expect((await svc.setupStatus(sc.equipment.id, sc.program.id)).complete).toBe(true);
    // Replacing the package of a slot closes the previous interval and puts the old reel at the line.
    const next = (await receivePart(svc, sc, 0)).package;
    const v = await load(sc, { packageId: next.id, slot: 'S1' });
    expect(v.replaced.map((r) => [r.packageId, r.unloadReason])).toEqual([[pkgs[0]!.id, 'replaced']]);
    expect(await svc.getPackage(pkgs[0]!.id)).toMatchObject({ status: 'available', location: { kind: 'line', lineId: sc.line.id } });
    // The stored intervals: one feeding per slot.
    const active = await testDb().query<{ n: number }>(`SELECT count(*)::int AS n FROM feeder_setups WHERE equipment_id = $1 AND unloaded_at IS NULL`, [sc.equipment.id]);
    expect(active.rows[0]!.n).toBe(3);
    // The partial unique index refuses a second feeding package on a slot whatever the code does.
    await expect(
      testDb().query(
        `INSERT INTO feeder_setups (equipment_id, slot, package_id, program_id, attempt_id, position, loaded_at, loaded_by)
         SELECT equipment_id, slot, $2, program_id, (SELECT max(id) FROM load_attempts WHERE accepted = false), 'feeding', now(), 'x' FROM feeder_setups WHERE id = $1`,
        [v.setup!.id, pkgs[0]!.id],
      ),
    ).rejects.toMatchObject({ code: 'DUPLICATE' });
  });

  it('a splice keeps both packages as candidates until the old one empties, then the new one feeds alone', async () => {
    const sc = await makeScenario();
    const a = (await receivePart(svc, sc, 1)).package;
    const b = (await receivePart(svc, sc, 1)).package;
    const t0 = clock.now();
    const la = await load(sc, { packageId: a.id, slot: 'S2', feederId: 'F7' });
    expect(la.accepted).toBe(true);
    clock.advanceHours(1);
    const t1 = clock.now();
    const lb = await load(sc, { packageId: b.id, slot: 'S2', splice: true });
    expect(lb.accepted, lb.message).toBe(true);
    expect(lb.setup).toMatchObject({ position: 'spliced', spliceOfId: la.setup!.id, feederId: 'F7' });
    expect(lb.replaced).toEqual([]);
    clock.advanceHours(1);
    const t2 = clock.now();
    const mid = new Date(t1.getTime() + 1000);
    expect((await svc.candidatesAt(sc.equipment.id, 'S2', mid)).map((c) => c.packageId)).toEqual([a.id, b.id]);
    expect((await svc.candidatesAt(sc.equipment.id, 'S2', new Date(t0.getTime() + 1000))).map((c) => c.packageId)).toEqual([a.id]);
    const status = await svc.setupStatus(sc.equipment.id, sc.program.id);
    expect(status.slots[1]).toMatchObject({ state: 'verified', feeding: { packageId: a.id }, spliced: { packageId: b.id } });
    // The old reel runs out: its interval closes, the splice becomes the feeding package.
    await svc.markEmpty(system, a.id, { reason: 'machine reported empty' });
    const after = new Date(t2.getTime() + 1000);
    expect((await svc.candidatesAt(sc.equipment.id, 'S2', after)).map((c) => [c.packageId, c.position])).toEqual([[b.id, 'feeding']]);
    expect((await svc.candidatesAt(sc.equipment.id, 'S2', mid)).map((c) => c.packageId)).toEqual([a.id, b.id]);
    const hist = await svc.listSetups({ equipmentId: sc.equipment.id, slot: 'S2' });
    expect(hist.map((h) => [h.packageId, h.unloadReason])).toEqual([[b.id, null], [a.id, 'emptied']]);
    expect(await svc.getPackage(a.id)).toMatchObject({ status: 'empty', quantity: 0, location: { kind: 'line' } });
    expect((await svc.setupStatus(sc.equipment.id, sc.program.id)).slots[1]).toMatchObject({ state: 'verified', feeding: { packageId: b.id }, spliced: null });
    // A new splice is possible again.
    const c = (await receivePart(svc, sc, 1)).package;
    expect((await load(sc, { packageId: c.id, slot: 'S2', splice: true })).setup!.spliceOfId).toBe(lb.setup!.id);
  });

  it('lists packages on slots the program does not use as unexpected', async () => {
    const sc = await makeScenario();
    const other = await testServices().products.createProgram(system, {
      productRevisionId: sc.revision.id, name: uniq('P2'), revision: '1', kind: 'placement', stationType: 'placement', slots: [{ slot: 'X9', ipn: sc.partIpns[1]! }],
    });
    await testServices().products.setProgramState(system, other.id, 'released');
    const p = (await receivePart(svc, sc, 1)).package;
    expect((await load(sc, { packageId: p.id, slot: 'X9', programId: other.id })).accepted).toBe(true);
    const status = await svc.setupStatus(sc.equipment.id, sc.program.id);
    expect(status.unexpected.map((u) => u.slot)).toEqual(['X9']);
    expect(status.counts.missing).toBe(3);
  });
});

describe('loading through the API', () => {
  let app: App;
  beforeAll(async () => {
    app = await testApp();
  });
  afterAll(async () => app.close());

  it('operators and technicians load, viewers cannot; a refusal is a 422 problem with the reason code and the recorded attempt', async () => {
    const sc = await makeScenario();
    const materials = testServices().materials;
    const p1 = (await receivePart(materials, sc, 0)).package;
    const p2 = (await receivePart(materials, sc, 1)).package;
    const body = (packageId: number, slot: string) => ({ equipmentId: sc.equipment.id, slot, packageId, programId: sc.program.id });
    const viewer = await app.inject({ method: 'POST', url: '/api/v1/feeder-setups/load', headers: bearer(await tokenFor('viewer')), payload: body(p1.id, 'S1') });
    expect(viewer.statusCode).toBe(403);
    const op = await app.inject({ method: 'POST', url: '/api/v1/feeder-setups/load', headers: bearer(await tokenFor('operator')), payload: body(p1.id, 'S1') });
    expect(op.statusCode, op.body).toBe(200);
    expect(op.json()).toMatchObject({ accepted: true, setup: { slot: 'S1', packageId: p1.id, loadedBy: expect.stringContaining('tok-operator') } });
    const tech = await app.inject({ method: 'POST', url: '/api/v1/feeder-setups/load', headers: bearer(await tokenFor('technician')), payload: body(p2.id, 'S2') });
    expect(tech.statusCode, tech.body).toBe(200);
    const wrong = await app.inject({
      method: 'POST', url: '/api/v1/feeder-setups/load', headers: bearer(await tokenFor('operator')),
      payload: { equipmentId: sc.equipment.id, slot: 'S3', packageCode: p1.code, programId: sc.program.id },
    });
    expect(wrong.statusCode).toBe(422);
    const prob = wrong.json();
    expect(prob.code).toBe('LOAD_REFUSED');
    expect(prob.details).toMatchObject({ reason: 'PART_MISMATCH', failureCode: 9 });
    expect(prob.errors.map((e: { field: string; code: string }) => [e.field, e.code])).toEqual([['/packageCode', 'PART_MISMATCH'], ['/packageCode', 'PACKAGE_LOADED_ELSEWHERE']]);
    const attempts = await app.inject({ method: 'GET', url: `/api/v1/feeder-setups/attempts?equipmentId=${sc.equipment.id}`, headers: bearer(await tokenFor('viewer')) });
    expect(attempts.json().map((a: { id: number; accepted: boolean; reasonCode: string | null }) => [a.accepted, a.reasonCode])).toEqual([
      [false, 'PART_MISMATCH'], [true, null], [true, null],
    ]);
    expect(attempts.json()[0].id).toBe(prob.details.attemptId);
    const status = await app.inject({ method: 'GET', url: `/api/v1/feeder-setups/status?equipmentId=${sc.equipment.id}&programId=${sc.program.id}`, headers: bearer(await tokenFor('viewer')) });
    expect(status.statusCode).toBe(200);
    expect(status.json()).toMatchObject({ complete: false, counts: { verified: 2, missing: 1 } });
    const codes = await app.inject({ method: 'GET', url: '/api/v1/feeder-setups/reason-codes', headers: bearer(await tokenFor('viewer')) });
    expect(codes.json().load).toHaveLength(LOAD_REFUSAL_REASONS.length);
    // Unload: the slot is free, the reel back at the line.
    const un = await app.inject({ method: 'POST', url: '/api/v1/feeder-setups/unload', headers: bearer(await tokenFor('technician')), payload: { equipmentId: sc.equipment.id, slot: 'S1' } });
    expect(un.statusCode, un.body).toBe(200);
    expect(un.json()[0]).toMatchObject({ packageId: p1.id, unloadReason: 'unloaded' });
    expect((await materials.getPackage(p1.id)).location).toMatchObject({ kind: 'line', lineId: sc.line.id });
  });

  it('a token limited to other stations may not load on this machine', async () => {
    const sc = await makeScenario();
    const elsewhere = await makeMachine();
    const t = await testServices().auth.createToken(system, { name: uniq('tok-station-'), role: 'machine', stationCodes: [elsewhere.station.code] });
    const p = (await receivePart(testServices().materials, sc, 0)).package;
    const res = await app.inject({
      method: 'POST', url: '/api/v1/feeder-setups/load', headers: bearer(t.token), payload: { equipmentId: sc.equipment.id, slot: 'S1', packageId: p.id, programId: sc.program.id },
    });
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('STATION_NOT_PERMITTED');
  });
});
