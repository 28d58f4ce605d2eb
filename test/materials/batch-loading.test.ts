import { beforeAll, describe, expect, it } from 'vitest';
import type { LoadInput, MaterialsService } from '../../src/modules/materials/index.ts';
import { system, testDb } from '../helpers.ts';
import { clockedMaterials, makeScenario, receivePart, testClock, type Scenario } from './fixtures.ts';

/**
 * The batch forms of the splice path: `verifyLoads` (verifyLoad is it with one load),
 * `markEmptyMany` (markEmpty) and `splices` (what a CFX SplicePointDetected needs). A batch's
 * verdicts are those of the same calls one after the other; a refused item changes nothing but
 * its recorded attempt.
 */

const clock = testClock();
let svc: MaterialsService;
beforeAll(() => {
  svc = clockedMaterials(clock);
});

const input = (sc: Scenario, over: Partial<LoadInput>): LoadInput => ({ equipmentId: sc.equipment.id, slot: 'S1', programId: sc.program.id, ...over });

async function movementKinds(packageId: number): Promise<string[]> {
  return (await svc.movements(packageId)).map((m) => m.kind);
}
async function activeSetups(packageId: number) {
  return svc.listSetups({ packageId, active: true });
}

describe('verifyLoads: several loads in one call', () => {
  it('accepts and refuses in one batch; the refused loads change nothing but their recorded attempt', async () => {
    const sc = await makeScenario();
    const a = (await receivePart(svc, sc, 0)).package; // part 0 (MSL 3) for S1
    const wrong = (await receivePart(svc, sc, 0)).package; // part 0 offered for S2 (part 1)
    const c = (await receivePart(svc, sc, 2)).package; // part 2 for S3
    const attemptsBefore = (await svc.listAttempts({ equipmentId: sc.equipment.id })).length;
    const v = await svc.verifyLoads(system, [
      input(sc, { packageId: a.id, slot: 'S1', feederId: 'F1' }),
      input(sc, { packageId: wrong.id, slot: 'S2' }),
      input(sc, { packageCode: c.code, slot: 'S3' }),
      input(sc, { packageCode: 'NO-SUCH-REEL-BATCH', slot: 'S2' }),
    ]);
    expect(v.map((x) => [x.accepted, x.reason?.code ?? null])).toEqual([[true, null], [false, 'PART_MISMATCH'], [true, null], [false, 'PACKAGE_UNKNOWN']]);
    expect(v[0]!.setup).toMatchObject({ packageId: a.id, slot: 'S1', feederId: 'F1', position: 'feeding', unloadedAt: null });
    expect(v[2]!.setup).toMatchObject({ packageId: c.id, slot: 'S3', position: 'feeding' });
    // Every attempt recorded, with its own verdict.
    const attempts = await svc.listAttempts({ equipmentId: sc.equipment.id });
    expect(attempts.length - attemptsBefore).toBe(4);
    const byId = new Map(attempts.map((x) => [x.id, x]));
    for (const x of v) expect(byId.get(x.attemptId)).toMatchObject({ accepted: x.accepted, reasonCode: x.reason?.code ?? null });
    expect(new Set(v.map((x) => x.attemptId)).size).toBe(4);
    // Accepted: in use on the machine, movement logged, the MSL 3 reel opened implicitly.
    expect(await svc.getPackage(a.id)).toMatchObject({ status: 'in-use', location: { kind: 'equipment', equipmentId: sc.equipment.id, slot: 'S1' } });
    expect(await movementKinds(a.id)).toEqual(['received', 'loaded']);
    const msd = await testDb().query<{ type: string; implicit: boolean }>('SELECT type, implicit FROM msd_events WHERE package_id = $1', [a.id]);
    expect(msd.rows).toEqual([{ type: 'opened', implicit: true }]);
    // Refused: untouched.
    expect(await svc.getPackage(wrong.id)).toMatchObject({ status: 'available', location: { kind: 'store' } });
    expect(await movementKinds(wrong.id)).toEqual(['received']);
    expect(await activeSetups(wrong.id)).toEqual([]);
    const audit = await testDb().query<{ action: string }>(
      `SELECT action FROM audit_log WHERE entity = 'load_attempt' AND entity_id = ANY($1::text[]) ORDER BY id`, [[String(v[1]!.attemptId), String(v[3]!.attemptId)]],
    );
    expect(audit.rows.map((r) => r.action)).toEqual(['load_refused', 'load_refused']);
    // A single load is the batch of one: the same verdict as the batch gave.
    const again = await svc.verifyLoad(system, input(sc, { packageId: wrong.id, slot: 'S2' }));
    expect([again.accepted, again.reason?.code, again.message]).toEqual([false, 'PART_MISMATCH', v[1]!.message]);
  });

  it('a slot or package named twice is decided after the earlier load, as one call after the other', async () => {
    const sc = await makeScenario();
    const a = (await receivePart(svc, sc, 1)).package;
    const b = (await receivePart(svc, sc, 1)).package;
    const c = (await receivePart(svc, sc, 1)).package;
    const v = await svc.verifyLoads(system, [
      input(sc, { packageId: a.id, slot: 'S2' }),
      input(sc, { packageId: b.id, slot: 'S2' }), // replaces a
      input(sc, { packageId: b.id, slot: 'S2' }), // a re-scan: already verified
      input(sc, { packageId: c.id, slot: 'S2', splice: true }), // spliced onto b
      input(sc, { packageId: a.id, slot: 'S1' }), // a again, on another slot: part mismatch (S1 needs part 0)
    ]);
    expect(v.map((x) => [x.accepted, x.alreadyLoaded, x.reason?.code ?? null])).toEqual([
      [true, false, null], [true, false, null], [true, true, null], [true, false, null], [false, false, 'PART_MISMATCH'],
    ]);
    expect(v[1]!.replaced.map((r) => [r.packageId, r.unloadReason])).toEqual([[a.id, 'replaced']]);
    expect(v[2]!.setup!.id).toBe(v[1]!.setup!.id);
    expect(v[3]!.setup).toMatchObject({ packageId: c.id, position: 'spliced', spliceOfId: v[1]!.setup!.id });
    expect(await svc.getPackage(a.id)).toMatchObject({ status: 'available', location: { kind: 'line', lineId: sc.line.id } });
    expect(await movementKinds(a.id)).toEqual(['received', 'loaded', 'unloaded']);
    const status = await svc.setupStatus(sc.equipment.id, sc.program.id);
    expect(status.slots[1]).toMatchObject({ state: 'verified', feeding: { packageId: b.id }, spliced: { packageId: c.id } });
  });
});

describe('markEmptyMany', () => {
  it('empties several packages at once; one that cannot be emptied is refused alone and changes nothing', async () => {
    const sc = await makeScenario();
    const a = (await receivePart(svc, sc, 1)).package;
    const s = (await receivePart(svc, sc, 1)).package;
    const b = (await receivePart(svc, sc, 2)).package;
    const done = (await receivePart(svc, sc, 2)).package;
    expect((await svc.verifyLoad(system, input(sc, { packageId: a.id, slot: 'S2' }))).accepted).toBe(true);
    expect((await svc.verifyLoad(system, input(sc, { packageId: s.id, slot: 'S2', splice: true }))).accepted).toBe(true);
    await svc.markEmpty(system, done.id);
    const r = await svc.markEmptyMany(system, [{ id: a.id, reason: 'ran out' }, { id: done.id }, { id: 987654321 }, { id: b.id }, { id: a.id }]);
    expect(r.map((x) => (x.ok ? 'ok' : x.error.code))).toEqual(['ok', 'STATE_CONFLICT', 'NOT_FOUND', 'ok', 'STATE_CONFLICT']);
    expect(r[0]!.ok && r[0]!.package).toMatchObject({ id: a.id, status: 'empty', quantity: 0, location: { kind: 'line', lineId: sc.line.id } });
    expect(r[3]!.ok && r[3]!.package).toMatchObject({ id: b.id, status: 'empty', quantity: 0, location: { kind: 'store' } });
    // The splice took over the slot; the refused package kept its one emptying.
    expect((await svc.setupStatus(sc.equipment.id, sc.program.id)).slots[1]).toMatchObject({ feeding: { packageId: s.id }, spliced: null });
    expect(await movementKinds(a.id)).toEqual(['received', 'loaded', 'emptied']);
    expect(await movementKinds(done.id)).toEqual(['received', 'emptied']);
    const audit = await testDb().query<{ action: string; entity: string; reason: string | null }>(
      `SELECT action, entity, reason FROM audit_log WHERE (entity = 'material_package' AND entity_id = $1) OR (entity = 'feeder_setup' AND after->>'packageId' = $1) ORDER BY id`, [String(a.id)],
    );
    expect(audit.rows.filter((x) => x.action === 'empty').map((x) => [x.entity, x.reason])).toEqual([['feeder_setup', null], ['material_package', 'ran out']]);
    // The single form throws the batch's refusal.
    await expect(svc.markEmpty(system, done.id)).rejects.toMatchObject({ code: 'STATE_CONFLICT' });
  });
});

describe('splices: what a splice detected at the machine needs', () => {
  it('empties the depleted reels and verifies and loads the new ones, mixed accepted and refused in one call', async () => {
    const sc = await makeScenario();
    const old1 = (await receivePart(svc, sc, 0)).package;
    const new1 = (await receivePart(svc, sc, 0)).package;
    const old2 = (await receivePart(svc, sc, 1)).package;
    const bad2 = (await receivePart(svc, sc, 2)).package; // wrong part for S2
    const old3 = (await receivePart(svc, sc, 2)).package;
    const pre3 = (await receivePart(svc, sc, 2)).package; // already spliced on by the operator
    for (const [p, slot] of [[old1, 'S1'], [old2, 'S2'], [old3, 'S3']] as const) {
      expect((await svc.verifyLoad(system, input(sc, { packageId: p.id, slot, feederId: `F-${slot}` }))).accepted).toBe(true);
    }
    expect((await svc.verifyLoad(system, input(sc, { packageId: pre3.id, slot: 'S3', splice: true }))).accepted).toBe(true);
    const base = { equipmentId: sc.equipment.id, programId: sc.program.id, workOrderId: null, reason: 'CFX SplicePointDetected' };
    const r = await svc.splices(system, [
      { ...base, slot: 'S1', depletedCode: old1.code, newCode: new1.code, feederId: 'F-S1' },
      { ...base, slot: 'S2', depletedCode: old2.code, newCode: bad2.code },
      { ...base, slot: 'S3', depletedCode: old3.code, newCode: pre3.code },
      { ...base, slot: 'S1', depletedCode: 'NO-SUCH-OLD', newCode: 'NO-SUCH-NEW' },
    ]);
    expect(r.map((x) => [x.depleted.outcome, x.load.outcome === 'verified' ? (x.load.verdict.accepted ? 'accepted' : x.load.verdict.reason!.code) : x.load.outcome])).toEqual([
      ['emptied', 'accepted'], ['emptied', 'PART_MISMATCH'], ['emptied', 'already-active'], ['unknown', 'unknown'],
    ]);
    const status = await svc.setupStatus(sc.equipment.id, sc.program.id);
    // S1: the new reel feeds; S2: the wrong reel was refused, the slot is empty; S3: the operator's splice took over.
    expect(status.slots.map((s) => [s.slot, s.state, s.feeding?.packageId ?? null])).toEqual([['S1', 'verified', new1.id], ['S2', 'missing', null], ['S3', 'verified', pre3.id]]);
    for (const p of [old1, old2, old3]) expect(await svc.getPackage(p.id)).toMatchObject({ status: 'empty', quantity: 0 });
    expect(await svc.getPackage(new1.id)).toMatchObject({ status: 'in-use', location: { kind: 'equipment', slot: 'S1' } });
    // The refused new reel: nothing changed but its recorded attempt.
    expect(await svc.getPackage(bad2.id)).toMatchObject({ status: 'available', location: { kind: 'store' } });
    expect(await movementKinds(bad2.id)).toEqual(['received']);
    expect(await activeSetups(bad2.id)).toEqual([]);
    expect((await svc.listAttempts({ packageId: bad2.id })).map((x) => [x.accepted, x.reasonCode])).toEqual([[false, 'PART_MISMATCH']]);
    // A splice of the same reels again changes nothing.
    const again = await svc.splices(system, [{ ...base, slot: 'S1', depletedCode: old1.code, newCode: new1.code, feederId: 'F-S1' }]);
    expect(again.map((x) => [x.depleted.outcome, x.load.outcome])).toEqual([['already-empty', 'already-active']]);
    expect(await movementKinds(new1.id)).toEqual(['received', 'loaded']);
  });

  it('without a program the new reel is not loaded (and the depleted one still empties)', async () => {
    const sc = await makeScenario();
    const old = (await receivePart(svc, sc, 1)).package;
    const next = (await receivePart(svc, sc, 1)).package;
    expect((await svc.verifyLoad(system, input(sc, { packageId: old.id, slot: 'S2' }))).accepted).toBe(true);
    const [r] = await svc.splices(system, [{ equipmentId: sc.equipment.id, slot: 'S2', depletedCode: old.code, newCode: next.code, programId: null, workOrderId: null }]);
    expect([r!.depleted.outcome, r!.load.outcome]).toEqual(['emptied', 'no-program']);
    expect(await svc.getPackage(next.id)).toMatchObject({ status: 'available', location: { kind: 'store' } });
    expect(await svc.listAttempts({ packageId: next.id })).toEqual([]);
  });
});
