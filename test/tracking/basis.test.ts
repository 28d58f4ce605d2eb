import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/platform/errors.ts';
import { basisHash, canonicalJson, type BuildBasis } from '../../src/modules/work-orders/index.ts';
import { makeReleasedWorkOrder, system, testDb, testServices, uniq } from '../helpers.ts';

/** The build basis: what it freezes, its hash, immutability after master-data edits, and explicit re-basing. */

const s = () => testServices();

describe('canonical JSON', () => {
  it('sorts keys at every level so that equal content hashes equally', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { y: 1, x: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[2,{"x":2,"y":1}]},"b":1}');
    expect(basisHash({ a: 1, b: 2 })).toBe(basisHash({ b: 2, a: 1 }));
    expect(basisHash({ a: 1, b: 2 })).not.toBe(basisHash({ a: 1, b: 3 }));
  });
});

describe('the frozen basis', () => {
  it('holds revision, files, BOM, AVL, route, programs with slots and the quality plan, hashed over its canonical JSON', async () => {
    const { wo, revision, partIpns, program } = await makeReleasedWorkOrder();
    const stored = await s().workOrders.getBasis(wo.id);
    expect(stored.version).toBe(1);
    expect(stored.hash).toBe(wo.basisHash);
    // The stored JSONB re-hashes to the stored hash: anyone can verify it.
    expect(basisHash(stored.basis)).toBe(stored.hash);
    const b = stored.basis;
    expect(b.productRevision).toMatchObject({ id: revision.id, revision: 'A', state: 'released', bomRevision: 'A' });
    expect(b.bom.map((l) => [l.lineNo, l.ipn, l.quantity, l.refdes])).toEqual(partIpns.map((ipn, i) => [i + 1, ipn, 2, [`R${i * 2 + 1}`, `R${i * 2 + 2}`]]));
    expect(b.avl.map((a) => [a.ipn, a.alternate, a.permitted])).toEqual(partIpns.map((ipn) => [ipn, false, true]));
    expect(b.route.steps.map((x) => [x.seq, x.stationType, x.onFail, x.repairStepSeq])).toEqual([[10, 'printer', 'hold', null], [20, 'placement', 'hold', null], [30, 'aoi', 'repair', 90], [90, 'rework', 'hold', null]]);
    expect(b.programs).toHaveLength(1);
    expect(b.programs[0]).toMatchObject({ name: program.name, revision: '1', state: 'released', slots: partIpns.map((ipn, i) => ({ slot: `S${i + 1}`, ipn })) });
    expect(b.qualityPlan).toMatchObject({ requiredSteps: ['aoi'], traceDepth: 'unit' });
  });

  it('does not change when master data changes after release: new revision with another BOM, AVL and permissions', async () => {
    const { wo, revision, partIpns } = await makeReleasedWorkOrder();
    const before = await s().workOrders.getBasis(wo.id);
    // Engineering change: derive revision B, change its BOM, release it.
    const revB = await s().products.deriveRevision(system, revision.id, { revision: 'B', reason: 'ECO-1: drop R5/R6' });
    await s().products.replaceBom(system, revB.id, [
      { lineNo: 1, ipn: partIpns[0]!, quantity: 2, refdes: ['R1', 'R2'] },
      { lineNo: 2, ipn: partIpns[1]!, quantity: 1, refdes: ['R3'] },
    ]);
    await s().products.releaseRevision(system, revB.id);
    // AVL changes: a new alternate with a global permission, one entry deactivated.
    const alt = await s().parts.upsertAvlEntry(system, { ipn: partIpns[0]!, manufacturer: 'Other', mpn: uniq('ALT'), alternate: true });
    await s().parts.grantAlternate(system, { avlEntryId: alt.entry.id, scope: 'global', reason: 'second source' });
    await s().parts.upsertAvlEntry(system, { ipn: partIpns[2]!, manufacturer: 'Acme', mpn: `${revision.productCode}-MPN2`, active: false });

    const after = await s().workOrders.getBasis(wo.id);
    expect(after.id).toBe(before.id);
    expect(after.hash).toBe(before.hash);
    expect(after.basis).toEqual(before.basis);
    expect(after.basis.bom).toHaveLength(3);
    expect(after.basis.avl.some((a) => a.alternate)).toBe(false);
    const current = await s().workOrders.get(wo.id);
    expect([current.productRevisionId, current.basisHash]).toEqual([revision.id, before.hash]);
    // The same snapshot taken now would differ: the basis really is frozen, not recomputed.
    const fresh = await s().workOrders.releaseCheck(wo.id);
    expect(fresh.map((f) => f.code)).toEqual(['no_approved_mpn']);
  });

  it('cannot be changed or deleted directly in the database', async () => {
    const { wo } = await makeReleasedWorkOrder();
    const upd = await testDb().query(`UPDATE build_bases SET basis = jsonb_set(basis, '{bom}', '[]') WHERE id = $1`, [wo.basisId]).catch((e: unknown) => e);
    expect(upd).toBeInstanceOf(AppError);
    expect(upd).toMatchObject({ code: 'BASIS_FROZEN', status: 409 });
    const del = await testDb().query('DELETE FROM build_bases WHERE id = $1', [wo.basisId]).catch((e: unknown) => e);
    expect(del).toMatchObject({ code: 'BASIS_FROZEN' });
    const row = await testDb().one<{ basis: BuildBasis; hash: string }>('SELECT basis, hash FROM build_bases WHERE id = $1', [wo.basisId]);
    expect(row!.basis.bom).toHaveLength(3);
    expect(basisHash(row!.basis)).toBe(row!.hash);
  });

  it('includes alternates permitted for this work order as permitted, others as not', async () => {
    const { wo, partIpns } = await makeReleasedWorkOrder({ release: false });
    const permitted = await s().parts.upsertAvlEntry(system, { ipn: partIpns[0]!, manufacturer: 'Alt', mpn: uniq('ALT'), alternate: true });
    const notPermitted = await s().parts.upsertAvlEntry(system, { ipn: partIpns[1]!, manufacturer: 'Alt', mpn: uniq('ALT'), alternate: true });
    await s().parts.grantAlternate(system, { avlEntryId: permitted.entry.id, scope: 'work_order', workOrderId: wo.id, reason: 'allocation' });
    await s().workOrders.release(system, wo.id);
    const b = (await s().workOrders.getBasis(wo.id)).basis;
    expect(b.avl.find((a) => a.avlEntryId === permitted.entry.id)).toMatchObject({ permitted: true, permissions: [{ scope: 'work_order', reason: 'allocation' }] });
    expect(b.avl.find((a) => a.avlEntryId === notPermitted.entry.id)).toMatchObject({ permitted: false, permissions: [] });
  });
});

describe('re-basing', () => {
  it('is an explicit, audited action with a reason; the old basis stays readable', async () => {
    const { wo, revision, partIpns } = await makeReleasedWorkOrder();
    const revB = await s().products.deriveRevision(system, revision.id, { revision: 'B', reason: 'ECO-2' });
    await s().products.replaceBom(system, revB.id, [{ lineNo: 1, ipn: partIpns[0]!, quantity: 1, refdes: ['R1'] }]);
    await s().products.releaseRevision(system, revB.id);
    const e = await s().workOrders.rebase(system, wo.id, { reason: '' }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'VALIDATION_FAILED' });
    const after = await s().workOrders.rebase(system, wo.id, { reason: 'customer accepted ECO-2 for this order', productRevisionId: revB.id });
    expect(after.productRevisionId).toBe(revB.id);
    expect(after.basisHash).not.toBe(wo.basisHash);
    const bases = await s().workOrders.listBases(wo.id);
    expect(bases.map((b) => [b.version, b.reason])).toEqual([[1, null], [2, 'customer accepted ECO-2 for this order']]);
    expect((await s().workOrders.getBasis(wo.id, wo.basisId!)).basis.bom).toHaveLength(3);
    expect((await s().workOrders.getBasis(wo.id)).basis.bom).toHaveLength(1);
    const audit = await testDb().one<{ reason: string; before: { basisHash: string }; after: { basisHash: string } }>(
      `SELECT reason, before, after FROM audit_log WHERE entity = 'work_order' AND entity_id = $1 AND action = 'rebase'`, [String(wo.id)]);
    expect(audit).toMatchObject({ reason: 'customer accepted ECO-2 for this order', before: { basisHash: wo.basisHash }, after: { basisHash: after.basisHash } });
  });

  it('is refused once a unit has been processed, so no unit is built against two bases', async () => {
    const { wo, stations } = await makeReleasedWorkOrder();
    const [serial] = (await s().tracking.generateUnits(system, { workOrder: wo.id, count: 1 })).serials as [string];
    await s().workOrders.rebase(system, wo.id, { reason: 'program revision 2 released' }); // units exist but none started: allowed
    await s().tracking.start(system, { stationId: stations.printer!.id, identifier: serial });
    const e = await s().workOrders.rebase(system, wo.id, { reason: 'again' }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'STATE_CONFLICT' });
    expect((await s().workOrders.listBases(wo.id)).length).toBe(2);
  });
});
