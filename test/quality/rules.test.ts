import { describe, expect, it } from 'vitest';
import type { ResultInput, RuleInput } from '../../src/modules/quality/index.ts';
import { makeQualityWorkOrder, system, testDb, testServices, uniq } from '../helpers.ts';
import { codes, pass, s, thrown, units, type Made } from './support.ts';

/**
 * Each rule kind fires on the right data, and not on near misses. Rules are scoped to the test's
 * product so that tests running in parallel never trigger each other's rules.
 */

async function rule(m: Made, input: Omit<RuleInput, 'code' | 'name' | 'productId'>) {
  return s().quality.createRule(system, { code: uniq('R-'), name: `${input.kind} test`, productId: m.product.id, ...input });
}

function recorder(m: Made, method: ResultInput['method'], stationType: string) {
  return async (serial: string, over: Partial<ResultInput> = {}) =>
    (await s().quality.recordResult(system, { stationId: m.stations[stationType]!.id, unit: serial, method, result: 'pass', ...over })).alerts;
}

describe('defect_repeat: N units with the same defect code at the same refdes within the last M units', () => {
  it('fires at the Nth unit (false calls, other refdes and other codes do not count), holds the work order, and does not repeat while open', async () => {
    const m = await makeQualityWorkOrder();
    const r = await rule(m, { kind: 'defect_repeat', method: 'aoi', params: { count: 3, window: 10 }, actions: ['alert', 'hold_work_order'] });
    const us = await units(m, 8);
    const aoi = recorder(m, 'aoi', 'aoi');
    const bridge = (refdes = 'U7', code = 'BRIDGE') => ({ result: 'fail' as const, defects: [{ code, refdes }, { code: 'INSUFF', refdes: uniq('C') }] });
    expect(await aoi(us[0]!, bridge())).toEqual([]);
    expect(await aoi(us[1]!, bridge())).toEqual([]);
    expect(await aoi(us[2]!, bridge('U8'))).toEqual([]);
    expect(await aoi(us[3]!, bridge('U7', 'TOMBSTONE'))).toEqual([]);
    // The second call was a false call: it does not count.
    const d = await s().quality.listDefects({ serial: us[1]!, code: 'BRIDGE' });
    await s().quality.verifyDefects(system, [{ defectId: d[0]!.id, verdict: 'false_call' }]);
    expect(await aoi(us[4]!, bridge())).toEqual([]);
    // Another method does not count for an AOI rule either.
    expect((await s().quality.recordResult(system, { stationId: m.stations.spi!.id, unit: us[5]!, method: 'spi', result: 'fail', defects: [{ code: 'BRIDGE', refdes: 'U7' }] })).alerts).toEqual([]);
    const fired = await aoi(us[6]!, bridge());
    expect(fired).toEqual([expect.objectContaining({ ruleCode: r.code, kind: 'defect_repeat', key: 'BRIDGE@U7', actions: ['alert', 'hold_work_order'] })]);
    const alert = await s().quality.getAlert(fired[0]!.id);
    expect(alert.evidence).toMatchObject({ code: 'BRIDGE', refdes: 'U7', units: 3, threshold: 3, window: 10 });
    expect((alert.evidence.serials as string[]).sort()).toEqual([us[0], us[4], us[6]].sort());
    expect(await codes(m, 'printer', us[7]!)).toEqual(['HOLD_WORK_ORDER']);
    expect(await aoi(us[7]!, bridge())).toEqual([]); // the open alert is not repeated
    expect((await s().quality.listAlerts({ workOrderId: m.wo.id })).length).toBe(1);
  });

  it('does not fire when the earlier defects fall outside the last M units', async () => {
    const m = await makeQualityWorkOrder();
    await rule(m, { kind: 'defect_repeat', params: { count: 2, window: 3 } });
    const us = await units(m, 5);
    const aoi = recorder(m, 'aoi', 'aoi');
    expect(await aoi(us[0]!, { result: 'fail', defects: [{ code: 'SHIFT', refdes: 'R1' }] })).toEqual([]);
    expect(await aoi(us[1]!)).toEqual([]);
    expect(await aoi(us[2]!)).toEqual([]);
    expect(await aoi(us[3]!, { result: 'fail', defects: [{ code: 'SHIFT', refdes: 'R1' }] })).toEqual([]);
    expect(await aoi(us[4]!, { result: 'fail', defects: [{ code: 'SHIFT', refdes: 'R1' }] })).toHaveLength(1);
  });
});

describe('fpy_below: first-pass yield at a step below X % over the last M units', () => {
  it('fires only with M units and strictly below X; retests do not change the first pass; holds the station', async () => {
    const m = await makeQualityWorkOrder();
    await rule(m, { kind: 'fpy_below', method: 'aoi', params: { percent: 80, window: 5 }, actions: ['alert', 'hold_station'] });
    const us = await units(m, 7);
    const aoi = recorder(m, 'aoi', 'aoi');
    for (const [i, res] of (['pass', 'pass', 'pass', 'pass'] as const).entries()) expect(await aoi(us[i]!, { result: res })).toEqual([]);
    expect(await aoi(us[4]!, { result: 'fail' })).toEqual([]); // exactly 80 %: not below
    expect(await aoi(us[4]!, { result: 'pass' })).toEqual([]); // retest: FPY unchanged, nothing new
    const fired = await aoi(us[5]!, { result: 'fail' }); // last 5: P P P F F = 60 %
    expect(fired).toEqual([expect.objectContaining({ kind: 'fpy_below', key: 'fpy:aoi', actions: ['alert', 'hold_station'] })]);
    expect((await s().quality.getAlert(fired[0]!.id)).evidence).toMatchObject({ fpyPercent: 60, threshold: 80, window: 5, units: 5, passed: 3 });
    await pass(m, 'printer', us[6]!);
    await pass(m, 'placement', us[6]!);
    expect(await codes(m, 'aoi', us[6]!)).toEqual(['HOLD_STATION']);
  });

  it('does not fire on fewer than M units, however bad', async () => {
    const m = await makeQualityWorkOrder();
    await rule(m, { kind: 'fpy_below', method: 'aoi', params: { percent: 90, window: 5 } });
    const us = await units(m, 5);
    const aoi = recorder(m, 'aoi', 'aoi');
    for (const u of us.slice(0, 4)) expect(await aoi(u, { result: 'fail' })).toEqual([]);
    expect(await aoi(us[4]!, { result: 'pass' })).toHaveLength(1);
  });

  it('needs a method', async () => {
    const m = await makeQualityWorkOrder();
    expect(await thrown(rule(m, { kind: 'fpy_below', params: { percent: 90, window: 5 } }))).toMatchObject({ code: 'VALIDATION_FAILED' });
  });
});

describe('test_repeat: the same failed test / net on K units', () => {
  it('fires at the Kth unit; other nets and passing readings do not count; requires a new first article', async () => {
    const m = await makeQualityWorkOrder({
      route: [
        { seq: 10, name: 'Place', stationType: 'placement', firstArticleGate: true },
        { seq: 20, name: 'ICT', stationType: 'ict' },
      ],
    });
    await rule(m, { kind: 'test_repeat', method: 'ict', params: { units: 3, window: 20 }, actions: ['alert', 'require_first_article'] });
    const us = await units(m, 5);
    await pass(m, 'placement', us[0]!);
    expect(await testDb().one('SELECT 1 FROM first_articles WHERE work_order_id = $1', [m.wo.id])).toBeTruthy();
    const ict = recorder(m, 'ict', 'ict');
    const v = (name: string, value: number) => ({ name, value, unit: 'V', lowerLimit: 3.2, upperLimit: 3.4 });
    expect(await ict(us[0]!, { result: 'fail', measurements: [v('NET_3V3', 2.9), v('NET_5V', 3.3)] })).toEqual([]);
    expect(await ict(us[1]!, { result: 'fail', measurements: [v('NET_3V3', 0.1)] })).toEqual([]);
    expect(await ict(us[2]!, { result: 'fail', measurements: [v('NET_5V', 0.0), v('NET_3V3', 3.4)] })).toEqual([]); // 3.4 is inside (limits inclusive)
    expect(await ict(us[3]!, { result: 'pass', measurements: [v('NET_3V3', 3.3)] })).toEqual([]);
    const fired = await ict(us[4]!, { result: 'fail', measurements: [{ name: 'NET_3V3', passed: false }] });
    expect(fired).toEqual([expect.objectContaining({ kind: 'test_repeat', key: 'NET_3V3', actions: ['alert', 'require_first_article'] })]);
    expect((await s().quality.getAlert(fired[0]!.id)).evidence).toMatchObject({ name: 'NET_3V3', units: 3 });
    expect(await testDb().one('SELECT 1 FROM first_articles WHERE work_order_id = $1', [m.wo.id])).toBeUndefined();
    const reset = await testDb().one<{ source: string; steps: number[] }>('SELECT source, steps FROM quality_first_article_resets WHERE work_order_id = $1', [m.wo.id]);
    expect(reset).toMatchObject({ source: expect.stringMatching(/^rule:/), steps: [10] });
  });
});

describe('parameter_out_of_range: a reading outside its approved range in the build basis', () => {
  it('fires outside the range (limits inclusive), names the program, repeats only after the alert is closed', async () => {
    const m = await makeQualityWorkOrder({
      beforeRelease: async (revisionId) => {
        const p = await testServices().products.createProgram(system, {
          productRevisionId: revisionId, name: uniq('SPI-'), revision: '3', kind: 'spi', stationType: 'spi',
          parameterRanges: [{ name: 'Volume', unit: '%', min: 70, max: 130 }, { name: 'Height', unit: 'um', min: 80 }],
        });
        await testServices().products.setProgramState(system, p.id, 'released');
      },
    });
    await rule(m, { kind: 'parameter_out_of_range', actions: ['alert'] });
    const us = await units(m, 5);
    const spi = recorder(m, 'spi', 'spi');
    expect(await spi(us[0]!, { measurements: [{ name: 'Volume', value: 130 }, { name: 'Volume', value: 70 }, { name: 'Height', value: 80 }, { name: 'Offset', value: 999 }] })).toEqual([]);
    // The same reading at another station type is not judged by the SPI program's ranges.
    expect(await recorder(m, 'aoi', 'aoi')(us[1]!, { measurements: [{ name: 'Volume', value: 500 }] })).toEqual([]);
    const fired = await spi(us[1]!, { measurements: [{ name: 'Volume', value: 131.5 }] });
    expect(fired).toEqual([expect.objectContaining({ kind: 'parameter_out_of_range', key: `${m.stations.spi!.code}:Volume` })]);
    const alert = await s().quality.getAlert(fired[0]!.id);
    expect(alert.message).toContain('131.5');
    expect(alert.evidence).toMatchObject({ readings: [{ name: 'Volume', value: 131.5, min: 70, max: 130, serial: us[1] }] });
    expect(await spi(us[2]!, { measurements: [{ name: 'Volume', value: 20 }] })).toEqual([]); // same key, alert still open
    expect(await spi(us[2]!, { measurements: [{ name: 'Height', value: 79 }] })).toHaveLength(1); // another parameter
    await s().quality.acknowledgeAlert(system, alert.id, 'checking the printer');
    expect(await spi(us[3]!, { measurements: [{ name: 'Volume', value: 20 }] })).toEqual([]);
    await s().quality.closeAlert(system, alert.id, 'squeegee replaced');
    expect(await spi(us[4]!, { measurements: [{ name: 'Volume', value: 20 }] })).toHaveLength(1);
  });
});
