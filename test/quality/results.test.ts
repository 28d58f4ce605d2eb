import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/platform/http.ts';
import { bearer, makeQualityWorkOrder, system, testApp, testDb, tokenFor, uniq } from '../helpers.ts';
import { s, thrown, units } from './support.ts';

/** Inspection / test results with defects and measurements; verification of machine calls; the catalogue; the REST door. */

let app: App;
beforeAll(async () => {
  app = await testApp();
});
afterAll(async () => app.close());

describe('results', () => {
  it('stores a batch with defects and measurements; category from the catalogue; pass / fail from the limits; retests derived', async () => {
    const m = await makeQualityWorkOrder();
    const [a, b] = await units(m, 2);
    const panel = await s().tracking.createPanel(system, { workOrder: m.wo.id, code: uniq('PNL'), positions: 2 });
    const out = await s().quality.recordResults(system, [
      {
        stationId: m.stations.aoi!.id, unit: a!, method: 'aoi', result: 'fail', programName: 'AOI-TOP', programRevision: '7', operator: 'anna', fixture: null,
        defects: [
          { code: 'BRIDGE', refdes: 'U7', partNumber: 'IC-1', imageRef: 'img://1', description: 'pins 3-4' },
          { code: 'VENDOR-42', category: 'offset', refdes: 'R1' },
          { code: 'UNKNOWN-X' },
        ],
        measurements: [
          { name: 'Offset-X', value: 0.05, unit: 'mm', lowerLimit: -0.1, upperLimit: 0.1 },
          { name: 'Offset-Y', value: 0.1, unit: 'mm', lowerLimit: -0.1, upperLimit: 0.1 },
          { name: 'Offset-R', value: 0.11, unit: 'mm', upperLimit: 0.1 },
          { name: 'Note', value: 3 },
          { name: 'Reported', value: 1, upperLimit: 0.5, passed: true },
        ],
        source: 'cfx', sourceId: 'msg-1',
      },
      { equipment: undefined, station: m.stations.aoi!.code, unit: panel.code, position: 2, method: 'aoi', result: 'pass' },
      { stationId: m.stations.ict!.id, unit: b!, method: 'ict', result: 'pass', fixture: 'FX-9', measurements: [{ name: 'R12', test: 'resistors', value: 10, nominal: 10, unit: 'kOhm' }] },
    ]);
    expect(out.results.map((r) => [r.serial, r.method, r.result])).toEqual([[a, 'aoi', 'fail'], [panel.units[1]!.serial, 'aoi', 'pass'], [b, 'ict', 'pass']]);
    const r0 = await s().quality.getResult(out.results[0]!.id);
    expect(r0).toMatchObject({
      kind: 'inspection', method: 'aoi', stationType: 'aoi', programName: 'AOI-TOP', programRevision: '7', operator: 'anna', result: 'fail', effectiveResult: 'fail',
      retest: false, retestCount: 0, defectCount: 3, failedMeasurements: 1, source: 'cfx', sourceId: 'msg-1', workOrderId: m.wo.id,
    });
    expect(r0.defects.map((d) => [d.code, d.category, d.refdes, d.verification])).toEqual([
      ['BRIDGE', 'bridging', 'U7', 'not_verified'], ['VENDOR-42', 'offset', 'R1', 'not_verified'], ['UNKNOWN-X', null, null, 'not_verified'],
    ]);
    expect(r0.measurements.map((x) => [x.name, x.passed])).toEqual([['Offset-X', true], ['Offset-Y', true], ['Offset-R', false], ['Note', null], ['Reported', true]]);
    const r1 = await s().quality.getResult(out.results[1]!.id);
    expect(r1).toMatchObject({ panelId: panel.id, panelPosition: 2 });
    expect((await s().quality.getResult(out.results[2]!.id))).toMatchObject({ kind: 'test', fixture: 'FX-9' });
    // A second AOI result of the same unit is a retest.
    const again = await s().quality.recordResult(system, { stationId: m.stations.aoi!.id, unit: a!, method: 'aoi', result: 'pass' });
    expect(await s().quality.getResult(again.results[0]!.id)).toMatchObject({ retest: true, retestCount: 1 });
  });

  it('refuses the whole batch when a unit is unknown, and joins the caller’s transaction', async () => {
    const m = await makeQualityWorkOrder();
    const [a] = await units(m);
    const bad = await thrown(s().quality.recordResults(system, [
      { stationId: m.stations.aoi!.id, unit: a!, method: 'aoi', result: 'pass' },
      { stationId: m.stations.aoi!.id, unit: 'NO-SUCH-UNIT', method: 'aoi', result: 'pass' },
    ]));
    expect(bad).toMatchObject({ code: 'REFERENCE_NOT_FOUND' });
    expect((await s().quality.listResults({ serial: a! })).length).toBe(0);
    const rolledBack = await testDb().tx(async (tx) => {
      await s().quality.recordResult(system, { stationId: m.stations.aoi!.id, unit: a!, method: 'aoi', result: 'pass' }, tx);
      throw new Error('the message failed later');
    }).catch((e: Error) => e.message);
    expect(rolledBack).toBe('the message failed later');
    expect((await s().quality.listResults({ serial: a! })).length).toBe(0);
  });
});

describe('verification of machine calls', () => {
  it('false calls turn a failed result into a pass; a confirmed call keeps it failed; false calls are counted per station and program', async () => {
    const m = await makeQualityWorkOrder();
    const [a, b] = await units(m, 2);
    const rec = (serial: string) => s().quality.recordResult(system, {
      stationId: m.stations.aoi!.id, unit: serial, method: 'aoi', result: 'fail', programName: 'AOI-TOP', programRevision: '7',
      defects: [{ code: 'BRIDGE', refdes: 'U7' }, { code: 'SHIFT', refdes: 'R2' }],
    });
    const ra = (await rec(a!)).results[0]!.id;
    const rb = (await rec(b!)).results[0]!.id;
    const da = (await s().quality.getResult(ra)).defects;
    const db = (await s().quality.getResult(rb)).defects;
    await s().quality.verifyDefects(system, [{ defectId: da[0]!.id, verdict: 'false_call' }]);
    expect((await s().quality.getResult(ra)).effectiveResult).toBe('fail');
    await s().quality.verifyDefects(system, [{ defectId: da[1]!.id, verdict: 'false_call' }]);
    expect(await s().quality.getResult(ra)).toMatchObject({ verifiedResult: 'pass', effectiveResult: 'pass' });
    await s().quality.verifyDefects(system, [{ defectId: db[0]!.id, verdict: 'false_call' }, { defectId: db[1]!.id, verdict: 'confirmed' }]);
    expect(await s().quality.getResult(rb)).toMatchObject({ verifiedResult: 'fail', effectiveResult: 'fail' });
    const stats = await s().quality.falseCallStats({ workOrderId: m.wo.id });
    expect(stats.map((x) => [x.code, x.calls, x.confirmed, x.falseCalls, x.unverified, x.falseCallRate])).toEqual([['BRIDGE', 2, 0, 2, 0, 1], ['SHIFT', 2, 1, 1, 0, 0.5]]);
    expect(stats[0]).toMatchObject({ stationCode: m.stations.aoi!.code, programName: 'AOI-TOP', programRevision: '7' });
    expect(await thrown(s().quality.verifyDefects(system, [{ defectId: 999999999, verdict: 'confirmed' }]))).toMatchObject({ code: 'REFERENCE_NOT_FOUND' });
  });
});

describe('defect catalogue', () => {
  it('has the usual categories and is editable', async () => {
    const cats = (await s().quality.listDefectCategories()).map((c) => c.code);
    for (const c of ['bridging', 'insufficient-solder', 'tombstone', 'missing', 'wrong-part', 'polarity', 'offset', 'lifted-lead', 'non-wetting', 'voiding', 'solder-balls', 'damage']) expect(cats).toContain(c);
    const code = uniq('HEAD').slice(0, 12);
    const c = await s().quality.createDefectCode(system, { code, category: 'non-wetting', description: 'head in pillow', active: true });
    const m = await makeQualityWorkOrder();
    const [a] = await units(m);
    const r = await s().quality.recordResult(system, { stationId: m.stations.aoi!.id, unit: a!, method: 'axi', result: 'fail', defects: [{ code, refdes: 'U1' }] });
    expect((await s().quality.getResult(r.results[0]!.id)).defects[0]!.category).toBe('non-wetting');
    await s().quality.updateDefectCode(system, c.id, { category: 'voiding' });
    const r2 = await s().quality.recordResult(system, { stationId: m.stations.aoi!.id, unit: a!, method: 'axi', result: 'fail', defects: [{ code, refdes: 'U1' }] });
    expect((await s().quality.getResult(r2.results[0]!.id)).defects[0]!.category).toBe('voiding');
    expect(await thrown(s().quality.createDefectCode(system, { code: uniq('X'), category: 'no-such-category', description: '', active: true }))).toMatchObject({ code: 'REFERENCE_NOT_FOUND' });
  });
});

describe('REST', () => {
  it('machines record results; viewers may not; the stored rows match', async () => {
    const m = await makeQualityWorkOrder();
    const [a] = await units(m);
    const body = { results: [{ station: m.stations.aoi!.code, unit: a, method: 'aoi', result: 'fail', defects: [{ code: 'MISSING', refdes: 'C3' }], measurements: [{ name: 'h', value: 1 }] }] };
    const res = await app.inject({ method: 'POST', url: '/api/v1/quality/results', headers: bearer(await tokenFor('machine')), payload: body });
    expect(res.statusCode).toBe(201);
    const id = res.json().results[0].id;
    const row = await testDb().one<{ defect_count: number; actor_name: string }>('SELECT defect_count, actor_name FROM quality_results WHERE id = $1', [id]);
    expect(row!.defect_count).toBe(1);
    expect((await app.inject({ method: 'POST', url: '/api/v1/quality/results', headers: bearer(await tokenFor('viewer')), payload: body })).statusCode).toBe(403);
    const bad = await app.inject({ method: 'POST', url: '/api/v1/quality/results', headers: bearer(await tokenFor('machine')), payload: { results: [{ ...body.results[0], method: 'xray' }] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('VALIDATION_FAILED');
    const got = await app.inject({ method: 'GET', url: `/api/v1/quality/results/${id}`, headers: bearer(await tokenFor('viewer')) });
    expect(got.json()).toMatchObject({ id, serial: a, defects: [{ code: 'MISSING', category: 'missing', refdes: 'C3' }], measurements: [{ name: 'h', value: 1 }] });
    const unit = await app.inject({ method: 'GET', url: `/api/v1/quality/units/${a}`, headers: bearer(await tokenFor('viewer')) });
    expect(unit.json()).toMatchObject({ clear: false, blockers: [{ code: 'ROUTE_INCOMPLETE' }] });
  });
});
