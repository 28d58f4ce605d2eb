import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/platform/http.ts';
import { bearer, makeQualityWorkOrder, system, testApp, tokenFor } from '../helpers.ts';
import { s, units } from './support.ts';

/** The defect list filtered and ordered by the server, each call with its unit, station and time (the review queue in one request). */

let app: App;
beforeAll(async () => {
  app = await testApp();
});
afterAll(async () => app.close());

describe('defect list', () => {
  it('the review queue: unverified calls of a work order, oldest first, with serial, station and time; filtered by station', async () => {
    const m = await makeQualityWorkOrder();
    const [a, b] = await units(m, 2);
    await s().quality.recordResult(system, { stationId: m.stations.aoi!.id, unit: a!, method: 'aoi', result: 'fail', defects: [{ code: 'BRIDGE', refdes: 'U1' }, { code: 'MISSING', refdes: 'C3' }] });
    await s().quality.recordResult(system, { stationId: m.stations.ict!.id, unit: b!, method: 'ict', result: 'fail', defects: [{ code: 'OPEN', refdes: 'R9' }] });
    const all = await s().quality.listDefects({ workOrderId: m.wo.id, verification: 'not_verified' });
    await s().quality.verifyDefects(system, [{ defectId: all.find((d) => d.code === 'MISSING')!.id, verdict: 'false_call' }]);
    const headers = bearer(await tokenFor('viewer'));
    const res = await app.inject({ method: 'GET', url: `/api/v1/quality/defects?workOrderId=${m.wo.id}&verification=not_verified&order=oldest`, headers });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().map((d: { code: string; serial: string; stationCode: string }) => [d.code, d.serial, d.stationCode])).toEqual([
      ['BRIDGE', a, m.stations.aoi!.code],
      ['OPEN', b, m.stations.ict!.code],
    ]);
    expect(typeof res.json()[0].completedAt).toBe('string');
    const newest = await app.inject({ method: 'GET', url: `/api/v1/quality/defects?workOrderId=${m.wo.id}`, headers });
    expect(newest.json().map((d: { code: string }) => d.code)).toEqual(['OPEN', 'MISSING', 'BRIDGE']);
    const atIct = await app.inject({ method: 'GET', url: `/api/v1/quality/defects?workOrderId=${m.wo.id}&stationId=${m.stations.ict!.id}`, headers });
    expect(atIct.json().map((d: { code: string }) => d.code)).toEqual(['OPEN']);
    const bad = await app.inject({ method: 'GET', url: `/api/v1/quality/defects?order=sideways`, headers });
    expect(bad.statusCode).toBe(400);
  });
});
