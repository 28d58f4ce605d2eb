import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createServices } from '../../src/main.ts';
import { Db } from '../../src/platform/db.ts';
import type { App } from '../../src/platform/http.ts';
import { bearer, makeQualityWorkOrder, makeUser, system, testApp, testConfig, testDb, tokenFor } from '../helpers.ts';
import { pass, s, thrown, units, type Made } from './support.ts';

/**
 * The operator station's pass / fail as one transaction: passage + inspection result + defects
 * (+ the step's signed sign-off). A refusal of any part leaves nothing written.
 */

let app: App;
beforeAll(async () => {
  app = await testApp();
});
afterAll(async () => app.close());

/** Everything a completion could have written for the unit. */
async function written(serial: string) {
  const db = testDb();
  const one = async (sql: string) => (await db.one<{ n: number }>(sql, [serial]))!.n;
  return {
    records: await one('SELECT count(*)::int AS n FROM process_records r JOIN units u ON u.id = r.unit_id WHERE u.serial = $1'),
    results: await one('SELECT count(*)::int AS n FROM quality_results r JOIN units u ON u.id = r.unit_id WHERE u.serial = $1'),
    defects: await one('SELECT count(*)::int AS n FROM quality_defects d JOIN units u ON u.id = d.unit_id WHERE u.serial = $1'),
    signoffs: await one('SELECT count(*)::int AS n FROM quality_step_signoffs x JOIN units u ON u.id = x.unit_id WHERE u.serial = $1'),
    signatures: await one(`SELECT count(*)::int AS n FROM quality_signatures g JOIN units u ON g.entity = 'unit' AND g.entity_id = u.id::text WHERE u.serial = $1`),
  };
}

/** A unit that passed print and placement: due at AOI (step 30). */
async function atAoi(m: Made): Promise<string> {
  const [serial] = await units(m, 1);
  await pass(m, 'printer', serial!);
  await pass(m, 'placement', serial!);
  return serial!;
}

const SIGNOFF_ROUTE = [
  { seq: 10, name: 'Print', stationType: 'printer' },
  { seq: 20, name: 'Place', stationType: 'placement' },
  {
    seq: 30, name: 'Visual inspection', stationType: 'aoi', onFail: 'repair' as const, repairStepSeq: 90, returnStepSeq: 30,
    checks: [{ code: 'POL', text: 'Polarity of D1 matches the drawing' }, { code: 'CC', text: 'Conformal coating free of bubbles', signoff: true }, { code: 'TQ', text: 'Screws torqued to 0.6 Nm', signoff: true }],
  },
  { seq: 90, name: 'Repair', stationType: 'rework', isRepair: true },
];

describe('pass / fail with the result in one transaction', () => {
  it('a fail writes the passage, the result and its defects together; the unit goes to repair', async () => {
    const m = await makeQualityWorkOrder();
    const serial = await atAoi(m);
    const out = await s().quality.completeWithResults(system, {
      stationId: m.stations.aoi!.id, identifier: serial, result: 'fail', defects: [{ code: 'TOMBSTONE', refdes: 'R2' }, { code: 'BRIDGE', refdes: 'U1' }],
    });
    expect(out.passage.records).toMatchObject([{ serial, stepSeq: 30, result: 'fail', outcome: 'repair', nextStepSeq: 90 }]);
    expect(out.results).toMatchObject([{ serial, method: 'aoi', result: 'fail' }]);
    expect(out.signature).toBeNull();
    const defects = await s().quality.listDefects({ serial });
    expect(defects.map((d) => `${d.code}@${d.refdes}:${d.category}`).sort()).toEqual(['BRIDGE@U1:bridging', 'TOMBSTONE@R2:tombstone']);
    expect((await s().quality.getResult(out.results[0]!.id)).stepSeq).toBe(30);
    expect(await written(serial)).toMatchObject({ records: 3, results: 1, defects: 2 });
    // A pass at a station that inspects nothing writes the passage only.
    const [other] = await units(m, 1);
    const p = await s().quality.completeWithResults(system, { stationId: m.stations.printer!.id, identifier: other!, result: 'pass' });
    expect([p.passage.records.length, p.results.length]).toEqual([1, 0]);
  });

  it('a refusal in the second part (an unknown defect code) leaves no passage, no result, no defect', async () => {
    const m = await makeQualityWorkOrder();
    const serial = await atAoi(m);
    const before = await s().tracking.getUnit(serial);
    const e = await thrown(
      s().quality.completeWithResults(system, { stationId: m.stations.aoi!.id, identifier: serial, result: 'fail', defects: [{ code: 'BRIDGE', refdes: 'U1' }, { code: 'NO-SUCH-CODE' }] }),
    );
    expect(e.code).toBe('REFERENCE_NOT_FOUND');
    expect(e.message).toContain('NO-SUCH-CODE');
    const after = await s().tracking.getUnit(serial);
    expect({ visits: after.visits, status: after.status, next: after.nextStepSeq, history: after.history.length }).toEqual({
      visits: before.visits, status: before.status, next: 30, history: before.history.length,
    });
    expect(await written(serial)).toEqual({ records: 2, results: 0, defects: 0, signoffs: 0, signatures: 0 });
    // A failure named without defects is refused the same way.
    expect((await thrown(s().quality.completeWithResults(system, { stationId: m.stations.aoi!.id, identifier: serial, result: 'fail' }))).code).toBe('VALIDATION_FAILED');
    expect(await written(serial)).toMatchObject({ records: 2, results: 0 });
    // The unit is untouched: the same completion with known codes goes through.
    const ok = await s().quality.completeWithResults(system, { stationId: m.stations.aoi!.id, identifier: serial, result: 'fail', defects: [{ code: 'BRIDGE', refdes: 'U1' }] });
    expect(ok.passage.records[0]).toMatchObject({ visit: before.visits + 1, outcome: 'repair' });
    expect(await written(serial)).toMatchObject({ records: 3, results: 1, defects: 1 });
  });

  it('an interlock refusal writes nothing but is itself recorded (kept after the rollback)', async () => {
    const m = await makeQualityWorkOrder();
    const [serial] = await units(m, 1);
    await pass(m, 'printer', serial!);
    const e = await thrown(s().quality.completeWithResults(system, { stationId: m.stations.aoi!.id, identifier: serial!, result: 'pass' }));
    expect(e.code).toBe('INTERLOCK_REFUSED');
    expect((e.details as { verdict: { primary: { code: string } } }).verdict.primary.code).toBe('STEP_OUT_OF_ORDER');
    expect(await written(serial!)).toMatchObject({ records: 1, results: 0 });
    const refusals = (await testDb().query<{ phase: string; codes: string[] }>('SELECT phase, codes FROM interlock_refusals WHERE identifier = $1', [serial])).rows;
    expect(refusals).toEqual([{ phase: 'complete', codes: ['STEP_OUT_OF_ORDER'] }]);
  });

  it('refusals inside completions never wait for a second connection of the pool the completions hold', async () => {
    // A pool of two: before, four refused completions at once held both connections and each
    // waited for a third to record its refusal (forever).
    const m = await makeQualityWorkOrder();
    const serials = await units(m, 4);
    for (const serial of serials) await pass(m, 'printer', serial);
    const small = new Db(inject('databaseUrl'), 2);
    try {
      const services = createServices(small, testConfig());
      const all = Promise.allSettled(serials.map((serial) => services.quality.completeWithResults(system, { stationId: m.stations.aoi!.id, identifier: serial, result: 'pass' })));
      const outcome = await Promise.race([all, new Promise<'stuck'>((r) => setTimeout(() => r('stuck'), 20_000).unref())]);
      expect(outcome).not.toBe('stuck');
      const settled = outcome as PromiseSettledResult<unknown>[];
      expect(settled.map((x) => (x.status === 'rejected' ? (x.reason as { code: string }).code : 'written'))).toEqual(serials.map(() => 'INTERLOCK_REFUSED'));
      const kept = (await testDb().query<{ n: number }>(`SELECT count(*)::int AS n FROM interlock_refusals WHERE identifier = ANY($1::text[]) AND phase = 'complete'`, [serials])).rows[0]!.n;
      expect(kept).toBe(4);
    } finally {
      await small.close();
    }
  });

  it('a panel: the failed positions get their own defects, the others pass', async () => {
    const m = await makeQualityWorkOrder();
    const code = `PNL-${m.wo.number}`;
    const panel = await s().tracking.createPanel(system, { workOrder: m.wo.id, code, positions: 3 });
    await pass(m, 'printer', code);
    await pass(m, 'placement', code);
    const out = await s().quality.completeWithResults(system, {
      stationId: m.stations.aoi!.id, identifier: code, result: 'pass', positions: [{ position: 2, result: 'fail', defects: [{ code: 'MISSING', refdes: 'C4' }] }],
    });
    expect(out.passage.records.map((r) => [r.position, r.result])).toEqual([[1, 'pass'], [2, 'fail'], [3, 'pass']]);
    expect(out.results.map((r) => r.result)).toEqual(['pass', 'fail', 'pass']);
    const second = panel.units.find((u) => u.position === 2)!.serial;
    expect((await s().quality.listDefects({ serial: second })).map((d) => d.code)).toEqual(['MISSING']);
    expect((await s().quality.listDefects({ serial: panel.units[0]!.serial })).length).toBe(0);
  });

  it('two concurrent completions of the same step: exactly one is written', async () => {
    const m = await makeQualityWorkOrder();
    const serial = await atAoi(m);
    const go = () => s().quality.completeWithResults(system, { stationId: m.stations.aoi!.id, identifier: serial, result: 'pass' });
    const settled = await Promise.allSettled([go(), go()]);
    expect(settled.filter((x) => x.status === 'fulfilled').length).toBe(1);
    const lost = settled.find((x) => x.status === 'rejected') as PromiseRejectedResult;
    expect(['INTERLOCK_REFUSED', 'CONCURRENT_UPDATE', 'DUPLICATE']).toContain((lost.reason as { code: string }).code);
    expect(await written(serial)).toMatchObject({ records: 3, results: 1 });
  });
});

describe('step sign-offs', () => {
  it('a step with sign-off checks completes only with a valid signature; every door is refused without it (SIGNOFF_REQUIRED)', async () => {
    const m = await makeQualityWorkOrder({ route: SIGNOFF_ROUTE });
    const op = await makeUser('operator');
    const serial = await atAoi(m);
    const aoi = m.stations.aoi!.id;
    // Validate says go (nothing is signed before the step is done); complete says no.
    expect((await s().tracking.validate(op.principal, { stationId: aoi, identifier: serial })).go).toBe(true);
    const plain = await thrown(s().tracking.complete(op.principal, { stationId: aoi, identifier: serial, result: 'pass' }));
    const primary = (plain.details as { verdict: { primary: { code: string; number: number; message: string } } }).verdict.primary;
    expect([plain.code, primary.code, primary.number]).toEqual(['INTERLOCK_REFUSED', 'SIGNOFF_REQUIRED', 1310]);
    expect(primary.message).toMatch(/step 30 Visual inspection .* needs a signed sign-off of CC \(Conformal coating free of bubbles\), TQ/);
    const noSig = await thrown(s().quality.completeWithResults(op.principal, { stationId: aoi, identifier: serial, result: 'pass' }));
    expect((noSig.details as { verdict: { primary: { code: string } } }).verdict.primary.code).toBe('SIGNOFF_REQUIRED');

    // Only one of the two sign-off checks signed: still refused, naming the other.
    const half = await thrown(
      s().quality.completeWithResults(op.principal, { stationId: aoi, identifier: serial, result: 'pass', signoff: { stepSeq: 30, checks: ['CC'], signature: op.signature('coating checked') } }),
    );
    expect((half.details as { verdict: { primary: { message: string } } }).verdict.primary.message).toMatch(/sign-off of TQ \(Screws torqued/);
    // Wrong password; a signer whose role may not sign sign-offs.
    const wrong = await thrown(
      s().quality.completeWithResults(op.principal, { stationId: aoi, identifier: serial, result: 'pass', signoff: { stepSeq: 30, checks: ['CC', 'TQ'], signature: { password: 'not-it', reason: 'checked' } } }),
    );
    expect(wrong.code).toBe('SIGNATURE_INVALID');
    const viewer = await makeUser('viewer');
    const forbidden = await thrown(
      s().quality.completeWithResults(op.principal, {
        stationId: aoi, identifier: serial, result: 'pass', signoff: { stepSeq: 30, checks: ['CC', 'TQ'], signature: { username: viewer.username, password: viewer.password, reason: 'checked' } },
      }),
    );
    expect(forbidden.code).toBe('FORBIDDEN');
    expect(await written(serial)).toEqual({ records: 2, results: 0, defects: 0, signoffs: 0, signatures: 0 });

    // Signed by the operator: passage, result, sign-off and signature together; the audit row carries the signature.
    const out = await s().quality.completeWithResults(op.principal, {
      stationId: aoi, identifier: serial, result: 'pass', signoff: { stepSeq: 30, checks: ['CC', 'TQ'], signature: op.signature('coating and torque checked') },
    });
    expect(out.signature).toMatchObject({ signerUsername: op.username, meaning: 'verified', reason: 'coating and torque checked', action: 'step.signoff' });
    expect(out.passage.records[0]).toMatchObject({ stepSeq: 30, outcome: 'completed' });
    expect(await written(serial)).toEqual({ records: 3, results: 1, defects: 0, signoffs: 1, signatures: 1 });
    const row = await testDb().one<{ visit: number; stepSeq: number; codes: string[]; signatureId: number }>(
      `SELECT x.visit, x.step_seq AS "stepSeq", x.check_codes AS codes, x.signature_id AS "signatureId" FROM quality_step_signoffs x JOIN units u ON u.id = x.unit_id WHERE u.serial = $1`,
      [serial],
    );
    expect(row).toEqual({ visit: out.passage.records[0]!.visit, stepSeq: 30, codes: ['CC', 'TQ'], signatureId: out.signature!.id });
    const audit = await testDb().one<{ actor: string; signature: { signer: string; meaning: string } }>(
      `SELECT actor_name AS actor, signature FROM audit_log WHERE action = 'sign_off' AND entity = 'unit' AND entity_id = $1::text`,
      [(await s().tracking.getUnit(serial)).id],
    );
    expect(audit).toMatchObject({ actor: op.username, signature: { signer: op.username, meaning: 'verified' } });
    // Append-only.
    expect((await thrown(testDb().query('DELETE FROM quality_step_signoffs WHERE signature_id = $1', [out.signature!.id]))).message).toMatch(/append-only/);
  });

  it('a lead may sign at the operator’s screen with their own password; a sign-off for another step is refused', async () => {
    const m = await makeQualityWorkOrder({ route: SIGNOFF_ROUTE });
    const op = await makeUser('operator');
    const lead = await makeUser('technician');
    const [a, b] = [await atAoi(m), await atAoi(m)];
    const aoi = m.stations.aoi!.id;
    const out = await s().quality.completeWithResults(op.principal, {
      stationId: aoi, identifier: a, result: 'fail', defects: [{ code: 'BRIDGE', refdes: 'U1' }],
      signoff: { stepSeq: 30, checks: ['CC', 'TQ'], signature: { username: lead.username, password: lead.password, reason: 'witnessed' } },
    });
    expect(out.signature).toMatchObject({ signerUsername: lead.username, signerRole: 'technician' });
    expect((await s().tracking.getUnit(a)).nextStepSeq).toBe(90);
    const mismatch = await thrown(
      s().quality.completeWithResults(op.principal, { stationId: aoi, identifier: b, result: 'pass', signoff: { stepSeq: 20, checks: ['CC', 'TQ'], signature: op.signature() } }),
    );
    expect(mismatch.code).toBe('INTERLOCK_REFUSED'); // the sign-off names step 20; step 30 stays unsigned
    expect(await written(b)).toMatchObject({ records: 2, signoffs: 0, signatures: 0 });
  });

  it('REST: POST /quality/completions — strict body, 409 SIGNOFF_REQUIRED without the sign-off, 201 with it', async () => {
    const m = await makeQualityWorkOrder({ route: SIGNOFF_ROUTE });
    const op = await makeUser('operator');
    const serial = await atAoi(m);
    const headers = bearer(await tokenFor('operator'));
    const url = '/api/v1/quality/completions';
    const station = m.stations.aoi!.code;
    const extra = await app.inject({ method: 'POST', url, headers, payload: { station, identifier: serial, result: 'pass', surprise: true } });
    expect([extra.statusCode, extra.json().code]).toEqual([400, 'VALIDATION_FAILED']);
    const refused = await app.inject({ method: 'POST', url, headers, payload: { station, identifier: serial, result: 'pass' } });
    expect([refused.statusCode, refused.json().code, refused.json().details.verdict.primary.code]).toEqual([409, 'INTERLOCK_REFUSED', 'SIGNOFF_REQUIRED']);
    // An API token must name the signer.
    const unnamed = await app.inject({ method: 'POST', url, headers, payload: { station, identifier: serial, result: 'pass', signoff: { stepSeq: 30, checks: ['CC', 'TQ'], signature: op.signature() } } });
    expect([unnamed.statusCode, unnamed.json().code]).toEqual([400, 'VALIDATION_FAILED']);
    const ok = await app.inject({
      method: 'POST', url, headers,
      payload: { station, identifier: serial, result: 'pass', signoff: { stepSeq: 30, checks: ['CC', 'TQ'], signature: { username: op.username, password: op.password, reason: 'all checked' } } },
    });
    expect(ok.statusCode, ok.body).toBe(201);
    expect(ok.json()).toMatchObject({ passage: { records: [{ serial, stepSeq: 30, outcome: 'completed' }] }, results: [{ serial, method: 'aoi', result: 'pass' }], signature: { signerUsername: op.username } });
    const viewer = await app.inject({ method: 'POST', url, headers: bearer(await tokenFor('viewer')), payload: { station, identifier: serial, result: 'pass' } });
    expect(viewer.statusCode).toBe(403);
  });
});
