import crypto from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { E10 } from '../../src/modules/equipment/index.ts';
import { bearer, makeQualityWorkOrder, system, testApp, testServices, tokenFor, uniq } from '../helpers.ts';

/**
 * The report queries against a small known history: every expected number below is worked out
 * by hand from the records this file writes (in February 2019, a period no other test uses, and
 * filtered to this file's products and line).
 */

const s = () => testServices();
const T = (day: number, hhmm: string) => new Date(`2019-02-${String(day).padStart(2, '0')}T${hhmm}:00.000Z`);

type Made = Awaited<ReturnType<typeof makeQualityWorkOrder>>;
let a: Made;
let b: Made;
let serials: string[];

async function result(m: Made, unit: string, method: 'aoi' | 'ict', result: 'pass' | 'fail', at: Date, defects: { code: string; refdes: string }[] = []) {
  const station = method === 'aoi' ? m.stations.aoi! : m.stations.ict!;
  return s().quality.recordResult(system, { stationId: station.id, unit, method, result, completedAt: at, defects });
}

beforeAll(async () => {
  a = await makeQualityWorkOrder();
  b = await makeQualityWorkOrder();
  serials = (await s().tracking.generateUnits(system, { workOrder: a.wo.id, count: 5 })).serials;
  const [u1, u2, u3, u4, u5] = serials as [string, string, string, string, string];
  // Day 1: u1 passes; u2 fails (real defects) and passes its retest; u3 fails on a call that is then a false call.
  await result(a, u1, 'aoi', 'pass', T(1, '08:00'));
  await result(a, u2, 'aoi', 'fail', T(1, '08:10'), [{ code: 'BRIDGE', refdes: 'R1' }, { code: 'BRIDGE', refdes: 'R2' }, { code: 'MISSING', refdes: 'R1' }]);
  await result(a, u2, 'aoi', 'pass', T(1, '09:00'));
  const r3 = await result(a, u3, 'aoi', 'fail', T(1, '08:20'), [{ code: 'TOMBSTONE', refdes: 'R5' }]);
  const call = (await s().quality.listDefects({ serial: u3 }))[0]!;
  expect(r3.results[0]!.result).toBe('fail');
  await s().quality.verifyDefects(system, [{ defectId: call.id, verdict: 'false_call' }]);
  // u1's later ICT pass keeps it first-pass; u4 passes AOI on day 2 but fails its first ICT.
  await result(a, u1, 'ict', 'pass', T(2, '07:00'));
  await result(a, u4, 'aoi', 'pass', T(2, '08:00'));
  await result(a, u4, 'ict', 'fail', T(2, '09:00'), [{ code: 'OPEN', refdes: 'R1' }]);
  // u5 was first tested before the range: not counted in it.
  await result(a, u5, 'aoi', 'fail', new Date('2019-01-31T23:00:00Z'));
  await result(a, u5, 'aoi', 'pass', T(1, '10:00'));
  // Product b: one unit, passes on day 1.
  const [v1] = (await s().tracking.generateUnits(system, { workOrder: b.wo.id, count: 1 })).serials as [string];
  await result(b, v1, 'aoi', 'pass', T(1, '11:00'));
});

describe('first-pass yield', () => {
  it('counts a unit on the day of its first result; false calls do not hurt it; earlier units are left out', async () => {
    const r = await s().reports.fpy({ from: T(1, '00:00'), to: T(3, '00:00'), productId: a.product.id });
    expect(r.days).toEqual(['2019-02-01', '2019-02-02']);
    expect(r.series).toHaveLength(1);
    expect(r.series[0]!.points.map((p) => [p.day, p.units, p.firstPass])).toEqual([
      ['2019-02-01', 3, 2],
      ['2019-02-02', 1, 0],
    ]);
    expect(r.series[0]!.points[0]!.fpy).toBeCloseTo(2 / 3, 10);
    expect(r.series[0]!.points[1]!.fpy).toBe(0);
    expect(r.total).toEqual({ units: 4, firstPass: 2, fpy: 0.5 });
  });

  it('per method, per product and per line; days in the asked time zone', async () => {
    const ict = await s().reports.fpy({ from: T(1, '00:00'), to: T(3, '00:00'), productId: a.product.id, method: 'ict' });
    expect(ict.total).toEqual({ units: 2, firstPass: 1, fpy: 0.5 });
    const both = await s().reports.fpy({ from: T(1, '00:00'), to: T(3, '00:00'), groupBy: 'product' });
    const mine = both.series.filter((x) => x.key === a.product.code || x.key === b.product.code).map((x) => [x.key, x.units, x.firstPass]);
    expect(mine.sort()).toEqual([[a.product.code, 4, 2], [b.product.code, 1, 1]].sort());
    const line = await s().reports.fpy({ from: T(1, '00:00'), to: T(3, '00:00'), groupBy: 'line', lineId: b.line.id });
    expect(line.series.map((x) => [x.key, x.units, x.firstPass])).toEqual([[b.line.code, 1, 1]]);
    // In Tokyo (UTC+9) u4's 08:00 and 09:00 UTC are still 2 February; u1..u3 at 08:xx UTC on 1 February.
    const tokyo = await s().reports.fpy({ from: T(1, '00:00'), to: T(3, '00:00'), productId: a.product.id, timezone: 'Asia/Tokyo' });
    expect(tokyo.days).toEqual(['2019-02-01', '2019-02-02', '2019-02-03']);
    expect(tokyo.series[0]!.points.map((p) => p.units)).toEqual([3, 1, 0]);
    // In Los Angeles (UTC-8) the day-1 units fall on 1 February 00:xx local, u4 on 2 February 00:00/01:00 local.
    const la = await s().reports.fpy({ from: T(1, '00:00'), to: T(3, '00:00'), productId: a.product.id, timezone: 'America/Los_Angeles' });
    expect(la.days[0]).toBe('2019-01-31');
  });
});

describe('defect Pareto', () => {
  it('by code and by reference designator, false calls only on request, with running percentages', async () => {
    const byCode = await s().reports.defectPareto({ from: T(1, '00:00'), to: T(3, '00:00'), productId: a.product.id });
    expect(byCode.items.map((i) => [i.key, i.value, i.count])).toEqual([
      ['BRIDGE', 2, 1],
      ['MISSING', 1, 1],
      ['OPEN', 1, 1],
    ]);
    expect(byCode.total).toBe(4);
    expect(byCode.items.map((i) => i.cumulativePercent)).toEqual([50, 75, 100]);
    const withFalse = await s().reports.defectPareto({ from: T(1, '00:00'), to: T(3, '00:00'), productId: a.product.id, includeFalseCalls: true });
    expect(withFalse.items.find((i) => i.key === 'TOMBSTONE')?.value).toBe(1);
    expect(withFalse.total).toBe(5);
    const byRefdes = await s().reports.defectPareto({ from: T(1, '00:00'), to: T(3, '00:00'), productId: a.product.id, by: 'refdes' });
    expect(byRefdes.items.map((i) => [i.key, i.value, i.count])).toEqual([
      ['R1', 3, 2],
      ['R2', 1, 1],
    ]);
    const day2 = await s().reports.defectPareto({ from: T(2, '00:00'), to: T(3, '00:00'), productId: a.product.id });
    expect(day2.items.map((i) => [i.key, i.value])).toEqual([['OPEN', 1]]);
  });
});

describe('OEE and downtime', () => {
  let lineId: number;
  let stationId: number;
  beforeAll(async () => {
    lineId = a.line.id;
    stationId = a.stations.reflow!.id;
    const eq = await s().factory.equipment.create(system, { stationId, code: uniq('OVEN-'), name: 'reflow oven' });
    const db = s().db;
    const change = (at: Date, code: number, e10: E10, fault?: string) =>
      s().equipment.recordStateChange(db, { stationId, equipmentId: eq.id, at, newState: { code, e10 }, ...(fault ? { relatedFault: { code: fault, occurrenceId: 'occ-1' } } : {}) });
    await change(T(1, '06:00'), 1100, 'Productive');
    await change(T(1, '10:00'), 5300, 'UnscheduledDowntime', 'E42');
    await change(T(1, '10:30'), 1100, 'Productive');
    await change(T(1, '14:00'), 4300, 'ScheduledDowntime');
    await change(T(1, '15:00'), 6000, 'NonScheduled');
    await change(T(2, '00:00'), 6000, 'NonScheduled');
    await s().equipment.recordFaultOccurred(db, {
      stationId, equipmentId: eq.id, occurrenceId: 'occ-1', code: 'E42', severity: 'Error', cause: null, description: 'conveyor jam', lane: null, stage: null, kind: null, details: null, occurredAt: T(1, '10:00'),
    });
    await s().equipment.recordFaultEnd(db, { stationId, equipmentId: eq.id, occurrenceId: 'occ-1', what: 'cleared', at: T(1, '10:30'), by: 'tech-7' });
    await s().equipment.recordCounts(db, [
      { stationId, equipmentId: eq.id, at: T(1, '09:00'), kind: 'completed', units: 98, recipeName: null, messageId: crypto.randomUUID() },
      { stationId, equipmentId: eq.id, at: T(1, '09:00'), kind: 'failed', units: 2, recipeName: null, messageId: crypto.randomUUID() },
    ]);
    await s().equipment.setIdealCycleTime(system, stationId, { seconds: 30 });
  });

  it('OEE by station: availability, performance and quality from the equipment module', async () => {
    const r = await s().reports.oeeByStation({ from: T(1, '00:00'), to: T(2, '00:00'), lineId });
    expect(r.stations.map((x) => x.stationId)).toContain(stationId);
    const st = r.stations.find((x) => x.stationId === stationId)!;
    expect(st).toMatchObject({ plannedSeconds: 8 * 3600, runSeconds: 7.5 * 3600, totalCount: 100, goodCount: 98 });
    expect(st.availability).toBeCloseTo(7.5 / 8, 10);
    expect(st.performance).toBeCloseTo((30 * 100) / (7.5 * 3600), 10);
    expect(st.quality).toBeCloseTo(0.98, 10);
    expect(st.oee).toBeCloseTo((7.5 / 8) * ((30 * 100) / (7.5 * 3600)) * 0.98, 10);
    // A station of the line without machine data has no ratios.
    const printer = r.stations.find((x) => x.stationId === a.stations.printer!.id)!;
    expect([printer.availability, printer.oee]).toEqual([null, null]);
  });

  it('downtime Pareto by fault code and by state', async () => {
    const byFault = await s().reports.downtimePareto({ from: T(1, '00:00'), to: T(2, '00:00'), lineId });
    expect(byFault.items.map((i) => [i.key, i.value, i.count])).toEqual([
      ['unattributed', 3600, 0],
      ['E42', 1800, 1],
    ]);
    expect(byFault.items[0]!.percent).toBeCloseTo(200 / 3, 10);
    const byState = await s().reports.downtimePareto({ from: T(1, '00:00'), to: T(2, '00:00'), lineId, by: 'state' });
    expect(byState.items.map((i) => [i.key, i.label, i.value])).toEqual([
      ['6000', 'NonScheduled', 9 * 3600],
      ['4300', 'ScheduledDowntime', 3600],
      ['5300', 'UnscheduledDowntime', 1800],
    ]);
    expect(byState.total).toBe(9 * 3600 + 3600 + 1800);
  });
});

describe('REST', () => {
  it('serves the reports to people, refuses machines, and names the field of a bad query', async () => {
    const app = await testApp();
    try {
      const viewer = await tokenFor('viewer');
      const url = `/api/v1/reports/fpy?from=${T(1, '00:00').toISOString()}&to=${T(3, '00:00').toISOString()}&productId=${a.product.id}`;
      const ok = await app.inject({ method: 'GET', url, headers: bearer(viewer) });
      expect(ok.statusCode).toBe(200);
      expect(ok.json().total).toEqual({ units: 4, firstPass: 2, fpy: 0.5 });
      const pareto = await app.inject({ method: 'GET', url: `/api/v1/reports/defect-pareto?by=refdes&from=${T(1, '00:00').toISOString()}&to=${T(3, '00:00').toISOString()}&productId=${a.product.id}`, headers: bearer(viewer) });
      expect(pareto.json().items.map((i: { key: string }) => i.key)).toEqual(['R1', 'R2']);
      const machine = await app.inject({ method: 'GET', url, headers: bearer(await tokenFor('machine')) });
      expect(machine.statusCode).toBe(403);
      const backwards = await app.inject({ method: 'GET', url: `/api/v1/reports/oee?from=${T(3, '00:00').toISOString()}&to=${T(1, '00:00').toISOString()}`, headers: bearer(viewer) });
      expect(backwards.statusCode).toBe(400);
      expect(backwards.json().errors[0]).toMatchObject({ field: '/querystring/from', code: 'range' });
      const zone = await app.inject({ method: 'GET', url: `/api/v1/reports/fpy?timezone=Mars/Olympus`, headers: bearer(viewer) });
      expect(zone.statusCode).toBe(400);
      expect(zone.json().errors[0]).toMatchObject({ field: '/querystring/timezone' });
      const extra = await app.inject({ method: 'GET', url: `/api/v1/reports/downtime-pareto?by=colour`, headers: bearer(viewer) });
      expect(extra.statusCode).toBe(400);
    } finally {
      await app.close();
    }
  });

  it('lists bake records with their packages', async () => {
    const rec = await s().materials.receive(system, { ipn: a.partIpns[0]!, mpn: `${a.product.code}-MPN0`, quantity: 1000, lotCode: uniq('L') });
    const oven = uniq('OVEN-');
    const baked = await s().materials.bake(system, { packageIds: [rec.package.id], oven, temperatureC: 125, durationMinutes: 480 });
    const app = await testApp();
    try {
      const r = await app.inject({ method: 'GET', url: '/api/v1/reports/bakes?days=7', headers: bearer(await tokenFor('viewer')) });
      expect(r.statusCode).toBe(200);
      const row = (r.json() as { id: number; oven: string; temperatureC: number; durationMinutes: number; packages: string[] }[]).find((x) => x.id === baked.bake.id);
      expect(row).toMatchObject({ oven, temperatureC: 125, durationMinutes: 480, packages: [rec.package.code] });
    } finally {
      await app.close();
    }
  });
});
