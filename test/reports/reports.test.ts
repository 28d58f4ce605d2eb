import { beforeAll, describe, expect, it } from 'vitest';
import { bearer, system, testApp, testServices, tokenFor, uniq } from '../helpers.ts';
import { seedHistory, T } from './history.ts';

/**
 * The report queries against the small known history of history.ts: every expected number below
 * is worked out by hand from those records (filtered to their products and line).
 */

const s = () => testServices();

let a: Awaited<ReturnType<typeof seedHistory>>['a'];
let b: Awaited<ReturnType<typeof seedHistory>>['b'];
let stationId: number;

beforeAll(async () => {
  ({ a, b, stationId } = await seedHistory());
});

describe('first-pass yield', () => {
  it('counts a unit on the day of its first result; false calls do not hurt it; earlier units are left out', async () => {
    const r = await s().reports.fpy({ from: T(1, '00:00'), to: T(3, '00:00'), productId: a.product.id });
    expect(r.days).toEqual(['2019-02-01', '2019-02-02']);
    expect(r.series).toHaveLength(1);
    expect(r.series[0]!.label).toBe(`${a.product.code} ${a.product.name}`);
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
  beforeAll(() => {
    lineId = a.line.id;
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
