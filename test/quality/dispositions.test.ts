import { describe, expect, it } from 'vitest';
import { makeQualityWorkOrder, makeUser, system, testDb, uniq } from '../helpers.ts';
import { codes, completeRefusal, pass, s, thrown, units } from './support.ts';

/** Failed units need a disposition; repairs need verification; NCRs close only when every unit is done; signatures. */

describe('a failed unit is blocked until its disposition', () => {
  it('retest: the failed step is due again, and passes', async () => {
    const m = await makeQualityWorkOrder();
    const [u] = await units(m);
    await pass(m, 'printer', u!);
    await pass(m, 'placement', u!, 'fail');
    expect(await codes(m, 'placement', u!)).toEqual(['FAILED_NO_DISPOSITION', 'UNIT_ON_HOLD']);
    expect(await codes(m, 'aoi', u!)).toContain('FAILED_NO_DISPOSITION');
    const d = await s().quality.dispose(system, { serial: u!, decision: 'retest', reason: 'nozzle cleaned' });
    expect(d).toMatchObject({ decision: 'retest', failedStepSeq: 20, verifyStepSeq: 20, verified: false });
    expect(await codes(m, 'placement', u!)).toEqual([]);
    expect(await codes(m, 'aoi', u!)).toEqual(['STEP_OUT_OF_ORDER']);
    await pass(m, 'placement', u!);
    expect((await s().quality.getDisposition(d.id)).verified).toBe(true);
    expect(await codes(m, 'aoi', u!)).toEqual([]);
  });

  it('repair: to the repair step, then back to the failed step, which must pass again', async () => {
    const m = await makeQualityWorkOrder();
    const [u] = await units(m);
    await pass(m, 'printer', u!);
    await pass(m, 'placement', u!, 'fail');
    await s().quality.dispose(system, { serial: u!, decision: 'repair', reason: 'replace U1', instructions: 'reflow by hand' });
    expect(await codes(m, 'rework', u!)).toEqual([]);
    expect(await codes(m, 'aoi', u!)).toEqual(['STEP_OUT_OF_ORDER']);
    await pass(m, 'rework', u!);
    expect(await codes(m, 'aoi', u!)).toEqual(['STEP_OUT_OF_ORDER']);
    expect(await codes(m, 'placement', u!)).toEqual([]);
    const unit = await s().tracking.getUnit(u!);
    expect(unit).toMatchObject({ status: 'queued', nextStepSeq: 20, onHold: false, repairLoops: { 20: 1 } });
  });

  it('a disposition releases the hold the failure placed, never a hold a person placed, whatever its wording', async () => {
    const m = await makeQualityWorkOrder();
    const [a, b] = await units(m, 2);
    for (const u of [a!, b!]) {
      await pass(m, 'printer', u);
      await pass(m, 'placement', u, 'fail');
    }
    // b: a quality engineer holds it as well, with words that look like the route's own.
    await s().tracking.setHold(system, { scope: 'unit', identifier: b!, hold: true, reason: 'failed at step 20 twice this shift: keep for review' });
    for (const u of [a!, b!]) await s().quality.dispose(system, { serial: u, decision: 'retest', reason: 'nozzle cleaned' });
    expect(await s().tracking.getUnit(a!)).toMatchObject({ onHold: false, holdReason: null });
    expect(await s().tracking.getUnit(b!)).toMatchObject({ onHold: true, holdReason: 'failed at step 20 twice this shift: keep for review' });
    expect(await codes(m, 'placement', b!)).toEqual(['UNIT_ON_HOLD']);
  });

  it('scrap: the unit is scrapped', async () => {
    const m = await makeQualityWorkOrder();
    const [u] = await units(m);
    await pass(m, 'printer', u!, 'fail');
    await s().quality.dispose(system, { serial: u!, decision: 'scrap', reason: 'board cracked' });
    expect(await codes(m, 'printer', u!)).toEqual(['UNIT_SCRAPPED']);
  });

  it('use-as-is: only a quality engineer, re-authenticated, signs it; the unit continues after the failed step', async () => {
    const m = await makeQualityWorkOrder();
    const [u] = await units(m);
    await pass(m, 'printer', u!);
    await pass(m, 'placement', u!, 'fail');
    const tech = await makeUser('technician');
    const qe = await makeUser('quality-engineer');
    expect(await thrown(s().quality.dispose(tech.principal, { serial: u!, decision: 'use-as-is', reason: 'cosmetic only' }))).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(await thrown(s().quality.dispose(tech.principal, { serial: u!, decision: 'use-as-is', reason: 'cosmetic only', signature: tech.signature() }))).toMatchObject({ code: 'FORBIDDEN' });
    expect(await thrown(s().quality.dispose(qe.principal, { serial: u!, decision: 'use-as-is', reason: 'cosmetic only', signature: { password: 'wrong-password', reason: 'okay' } }))).toMatchObject({ code: 'SIGNATURE_INVALID' });
    // A quality engineer cannot sign as somebody else.
    const other = await makeUser('quality-engineer');
    expect(await thrown(s().quality.dispose(qe.principal, { serial: u!, decision: 'use-as-is', reason: 'cosmetic only', signature: { username: other.username, password: other.password, reason: 'okay' } }))).toMatchObject({ code: 'SIGNATURE_INVALID' });
    expect(await codes(m, 'placement', u!)).toContain('FAILED_NO_DISPOSITION');
    const d = await s().quality.dispose(qe.principal, { serial: u!, decision: 'use-as-is', reason: 'cosmetic only', signature: qe.signature('MRB accepts class 2 cosmetic') });
    expect(d.signatureId).not.toBeNull();
    expect(await codes(m, 'aoi', u!)).toEqual([]);
    expect((await s().tracking.getUnit(u!)).passedSteps).toEqual([10, 20]);
    const sig = await testDb().one<{ signer_username: string; meaning: string; reason: string; action: string }>('SELECT signer_username, meaning, reason, action FROM quality_signatures WHERE id = $1', [d.signatureId]);
    expect(sig).toEqual({ signer_username: qe.username, meaning: 'accepted', reason: 'MRB accepts class 2 cosmetic', action: 'disposition.use-as-is' });
    const audit = await testDb().one<{ signature: { signer: string; meaning: string } }>(`SELECT signature FROM audit_log WHERE action = 'disposition_use-as-is' AND entity = 'unit' AND entity_id = $1`, [String((await s().tracking.getUnit(u!)).id)]);
    expect(audit!.signature).toMatchObject({ signer: qe.username, meaning: 'accepted' });
  });

  it('a unit without a failure cannot be dispositioned; repair beyond the loop limit needs the review board', async () => {
    const m = await makeQualityWorkOrder({
      route: [
        { seq: 10, name: 'Place', stationType: 'placement' },
        { seq: 20, name: 'AOI', stationType: 'aoi', onFail: 'repair', repairStepSeq: 90, maxRepairLoops: 1 },
        { seq: 90, name: 'Repair', stationType: 'rework', isRepair: true },
      ],
    });
    const [u, ok] = await units(m, 2);
    expect(await thrown(s().quality.dispose(system, { serial: ok!, decision: 'scrap', reason: 'just because' }))).toMatchObject({ code: 'STATE_CONFLICT' });
    await pass(m, 'placement', u!);
    await pass(m, 'aoi', u!, 'fail');
    await pass(m, 'rework', u!);
    await pass(m, 'aoi', u!, 'fail');
    expect(await codes(m, 'rework', u!)).toEqual(['REPAIR_LOOPS_EXHAUSTED', 'UNIT_ON_HOLD']);
    const tech = await makeUser('technician');
    expect(await thrown(s().quality.dispose(tech.principal, { serial: u!, decision: 'repair', reason: 'try once more' }))).toMatchObject({ code: 'VALIDATION_FAILED' });
    const qe = await makeUser('quality-engineer');
    await s().quality.dispose(qe.principal, { serial: u!, decision: 'repair', reason: 'one more loop approved', signature: qe.signature() });
    expect(await codes(m, 'rework', u!)).toEqual([]);
  });
});

describe('a repaired unit must pass its re-inspection before moving on', () => {
  const route = [
    { seq: 10, name: 'Place', stationType: 'placement' },
    { seq: 20, name: 'AOI', stationType: 'aoi', samplingRate: 0.5, onFail: 'repair' as const, repairStepSeq: 90 },
    { seq: 30, name: 'ICT', stationType: 'ict' },
    { seq: 90, name: 'Repair', stationType: 'rework', isRepair: true },
  ];

  it('a sampled inspection may be left out, but not after a repair (REPAIR_NOT_VERIFIED)', async () => {
    const m = await makeQualityWorkOrder({ route });
    const [u, v] = await units(m, 2);
    await pass(m, 'placement', v!);
    expect(await codes(m, 'ict', v!)).toEqual([]); // near miss: no repair, the sampled AOI may be skipped
    await pass(m, 'placement', u!);
    await pass(m, 'aoi', u!, 'fail');
    await pass(m, 'rework', u!);
    expect(await codes(m, 'ict', u!)).toEqual(['REPAIR_NOT_VERIFIED']);
    const r = await completeRefusal(m, 'ict', u!);
    expect(r).toMatchObject({ code: 'REPAIR_NOT_VERIFIED' });
    expect(r!.message).toContain('step 20 AOI');
    const n = await testDb().one<{ n: number }>(`SELECT count(*)::int AS n FROM interlock_refusals WHERE identifier = $1 AND 'REPAIR_NOT_VERIFIED' = ANY(codes)`, [u]);
    expect(n!.n).toBeGreaterThanOrEqual(2);
    await pass(m, 'aoi', u!);
    expect(await codes(m, 'ict', u!)).toEqual([]);
  });

  it('a retest disposition on a sampled step must be done, too', async () => {
    const m = await makeQualityWorkOrder({ route: route.map((x) => (x.seq === 20 ? { ...x, onFail: 'hold' as const } : x)) });
    const [u] = await units(m);
    await pass(m, 'placement', u!);
    await pass(m, 'aoi', u!, 'fail');
    await s().quality.dispose(system, { serial: u!, decision: 'retest', reason: 'false call suspected' });
    expect(await codes(m, 'ict', u!)).toEqual(['REPAIR_NOT_VERIFIED']);
    await pass(m, 'aoi', u!);
    expect(await codes(m, 'ict', u!)).toEqual([]);
  });
});

describe('NCR', () => {
  it('closes only when every linked unit is verified, scrapped or accepted; closure is signed', async () => {
    const m = await makeQualityWorkOrder();
    const [a, b, c] = await units(m, 3);
    for (const u of [a, b, c]) for (const t of ['printer', 'placement', 'aoi']) await pass(m, t, u!);
    const ncr = await s().quality.createNcr(system, {
      title: 'Solder balls near U7', subject: { kind: 'work_order', workOrder: m.wo.number }, serials: [a!, b!, c!],
      description: 'Found at final visual', containment: 'lot held', rootCause: 'paste humidity', correctiveAction: 'dry storage', repairInstructions: 'clean with IPA',
    });
    expect(ncr.number).toMatch(/^NCR-\d{6}$/);
    expect(ncr.units.map((u) => u.status)).toEqual(['open', 'open', 'open']);
    const qe = await makeUser('quality-engineer');
    const e1 = await thrown(s().quality.closeNcr(qe.principal, ncr.id, { signature: qe.signature() }));
    expect(e1).toMatchObject({ code: 'NCR_NOT_CLOSABLE' });
    expect(e1.message).toContain(a!);

    await s().quality.dispose(system, { serial: a!, decision: 'scrap', reason: 'not repairable', ncrId: ncr.id });
    await s().quality.dispose(qe.principal, { serial: b!, decision: 'use-as-is', reason: 'balls are fixed in flux', ncrId: ncr.id, signature: qe.signature() });
    const rw = await s().quality.recordRework(system, { serial: c!, action: 'cleaned with IPA', ncrId: ncr.id, verifyStepSeq: 30 });
    expect(rw).toMatchObject({ verified: false, verifyStepSeq: 30 });
    const mid = await s().quality.getNcr(ncr.id);
    expect(Object.fromEntries(mid.units.map((u) => [u.serial, u.status]))).toEqual({ [a!]: 'scrapped', [b!]: 'accepted', [c!]: 'repaired' });
    const e2 = await thrown(s().quality.closeNcr(qe.principal, ncr.id, { signature: qe.signature() }));
    expect(e2).toMatchObject({ code: 'NCR_NOT_CLOSABLE' });
    expect(e2.message).toContain(`${c} (repair not verified)`);
    expect(e2.message).not.toContain(a!);

    // The reworked (completed) unit went back to AOI; its pass verifies the repair.
    expect((await s().tracking.getUnit(c!)).nextStepSeq).toBe(30);
    await pass(m, 'aoi', c!);
    const tech = await makeUser('technician');
    expect(await thrown(s().quality.closeNcr(tech.principal, ncr.id, { signature: tech.signature() }))).toMatchObject({ code: 'FORBIDDEN' });
    expect(await thrown(s().quality.closeNcr(qe.principal, ncr.id, { signature: { password: 'nope-nope', reason: 'done' } }))).toMatchObject({ code: 'SIGNATURE_INVALID' });
    const closed = await s().quality.closeNcr(qe.principal, ncr.id, { signature: qe.signature('all units dealt with') });
    expect(closed).toMatchObject({ state: 'closed', closedBy: qe.username });
    expect(closed.units.map((u) => u.status).sort()).toEqual(['accepted', 'scrapped', 'verified']);
    const audit = await testDb().one<{ signature: { meaning: string; reason: string } }>(`SELECT signature FROM audit_log WHERE entity = 'ncr' AND entity_id = $1 AND action = 'close'`, [String(ncr.id)]);
    expect(audit!.signature).toMatchObject({ meaning: 'closed', reason: 'all units dealt with' });
    expect(await thrown(s().quality.linkNcrUnits(system, ncr.id, [a!]))).toMatchObject({ code: 'STATE_CONFLICT' });
  });

  it('rework that replaces a component records the removed and new package; the new one must hold the BOM part', async () => {
    const m = await makeQualityWorkOrder();
    const [u] = await units(m);
    await pass(m, 'printer', u!);
    await pass(m, 'placement', u!, 'fail');
    const code = m.product.code;
    const rec = (i: number) => s().materials.receive(system, { ipn: m.partIpns[i]!, manufacturer: 'Acme', mpn: `${code}-MPN${i}`, quantity: 100, lotCode: uniq('LOT') });
    const p1 = await rec(1);
    const p2 = await rec(2);
    // Part 1 carries R3 and R4 (makeProduct's BOM).
    expect(await thrown(s().quality.recordRework(system, { serial: u!, action: 'replaced R3', refdes: 'R3', newPackage: p2.package.code }))).toMatchObject({ code: 'RULE_VIOLATION' });
    expect(await thrown(s().quality.recordRework(system, { serial: u!, action: 'replaced R9', refdes: 'R9', newPackage: p1.package.code }))).toMatchObject({ code: 'RULE_VIOLATION' });
    const rw = await s().quality.recordRework(system, { serial: u!, action: 'replaced R3', refdes: 'R3', removedPackage: p2.package.id, newPackage: p1.package.code });
    expect(rw).toMatchObject({ refdes: 'R3', newPackageCode: p1.package.code, removedPackageCode: p2.package.code, verifyStepSeq: 20 });
    // The unit is now where-used of the new package's lot.
    const wu = await s().quality.whereUsed({ kind: 'material_lot', materialLotId: p1.lot.id });
    expect(wu.map((x) => x.serial)).toEqual([u]);
  });
});
