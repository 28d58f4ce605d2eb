import { describe, expect, it } from 'vitest';
import { makeQualityWorkOrder, makeUser, system, testDb } from '../helpers.ts';
import { codes, pass, s, thrown, units } from './support.ts';

/** The first-article gate: the first unit's FAI, signed by the inspector, opens the gated step for the others. */

const route = [
  { seq: 10, name: 'Print', stationType: 'printer' },
  { seq: 20, name: 'Place', stationType: 'placement', firstArticleGate: true },
  { seq: 30, name: 'AOI', stationType: 'aoi' },
];

describe('first article', () => {
  it('after the work order starts, further units wait for the signed FAI of the first; a rejection makes the next unit the first article', async () => {
    const m = await makeQualityWorkOrder({ route });
    const [u1, u2, u3] = await units(m, 3);
    for (const u of [u1, u2, u3]) await pass(m, 'printer', u!);
    await pass(m, 'placement', u1!);
    expect(await codes(m, 'placement', u2!)).toEqual(['FIRST_ARTICLE_NOT_APPROVED']);
    expect(await thrown(s().tracking.complete(system, { stationId: m.stations.placement!.id, identifier: u2!, result: 'pass' }))).toMatchObject({
      code: 'INTERLOCK_REFUSED', details: { verdict: { primary: { code: 'FIRST_ARTICLE_NOT_APPROVED', number: 1301 } } },
    });
    // The first article itself moves on.
    expect(await codes(m, 'aoi', u1!)).toEqual([]);

    const op = await makeUser('operator');
    const inspector = await makeUser('technician');
    expect(await thrown(s().quality.decideFirstArticle(op.principal, { serial: u1!, decision: 'approved', signature: op.signature() }))).toMatchObject({ code: 'FORBIDDEN' });
    expect(await thrown(s().quality.decideFirstArticle(inspector.principal, { serial: u1!, decision: 'approved', signature: { password: 'wrong-one', reason: 'looks good' } }))).toMatchObject({ code: 'SIGNATURE_INVALID' });
    expect(await thrown(s().quality.decideFirstArticle(inspector.principal, { serial: u2!, decision: 'approved', signature: inspector.signature() }))).toMatchObject({ code: 'STATE_CONFLICT' });
    expect(await codes(m, 'placement', u2!)).toEqual(['FIRST_ARTICLE_NOT_APPROVED']);

    // Rejected: the claim is freed; the next unit becomes the first article.
    await s().quality.decideFirstArticle(inspector.principal, { serial: u1!, decision: 'rejected', defects: [{ code: 'POLARITY', refdes: 'R1' }], signature: inspector.signature('D1 reversed') });
    expect(await codes(m, 'placement', u2!)).toEqual([]);
    await pass(m, 'placement', u2!);
    expect(await codes(m, 'placement', u3!)).toEqual(['FIRST_ARTICLE_NOT_APPROVED']);
    const approved = await s().quality.decideFirstArticle(inspector.principal, {
      serial: u2!, decision: 'approved', measurements: [{ name: 'height', value: 1.2, lowerLimit: 1, upperLimit: 1.5 }], signature: inspector.signature('all dimensions in tolerance'),
    });
    expect(await codes(m, 'placement', u3!)).toEqual([]);
    const fai = await s().quality.getResult(approved.resultId);
    expect(fai).toMatchObject({ method: 'fai', result: 'pass', serial: u2, stepSeq: 20, stationId: m.stations.placement!.id });
    expect(fai.signatureId).toBe(approved.signature.id);
    const status = await s().quality.firstArticleStatus(m.wo.id);
    expect(status).toMatchObject([{ stepSeq: 20, serial: u2, state: 'passed', approval: { decision: 'approved', decidedBy: inspector.username } }]);
    const audit = await testDb().query<{ action: string }>(`SELECT action FROM audit_log WHERE entity = 'work_order' AND entity_id = $1 AND action LIKE '%first_article' ORDER BY id`, [String(m.wo.id)]);
    expect(audit.rows.map((r) => r.action)).toEqual(['reject_first_article', 'approve_first_article']);
  });

  it('after a setup change (require first article), the next unit is the first article again and needs its own approval', async () => {
    const m = await makeQualityWorkOrder({ route });
    const us = await units(m, 4);
    for (const u of us) await pass(m, 'printer', u!);
    const qe = await makeUser('quality-engineer');
    await pass(m, 'placement', us[0]!);
    await s().quality.decideFirstArticle(qe.principal, { serial: us[0]!, decision: 'approved', signature: qe.signature() });
    await pass(m, 'placement', us[1]!);
    const r = await s().quality.requireFirstArticle(system, { workOrder: m.wo.id, reason: 'feeder setup changed (new program revision)', source: 'setup-change' });
    expect(r.steps).toEqual([20]);
    // The earlier approval does not count for the new claim.
    await pass(m, 'placement', us[2]!);
    expect(await codes(m, 'placement', us[3]!)).toEqual(['FIRST_ARTICLE_NOT_APPROVED']);
    await s().quality.decideFirstArticle(qe.principal, { serial: us[2]!, decision: 'approved', signature: qe.signature() });
    expect(await codes(m, 'placement', us[3]!)).toEqual([]);
    // Changeover on the line: every open work order of the line.
    const all = await s().quality.requireFirstArticleForLine(system, { lineId: m.line.id, reason: 'changeover' });
    expect(all).toEqual([{ workOrderId: m.wo.id, steps: [20] }]);
  });
});
