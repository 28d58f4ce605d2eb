import crypto from 'node:crypto';
import type { E10 } from '../../src/modules/equipment/index.ts';
import { makeQualityWorkOrder, system, testServices, uniq } from '../helpers.ts';

/**
 * A small known history for the reports (February 2019, a period no other test uses):
 *
 * Product A (line of `a`): day 1 u1 passes AOI; u2 fails AOI (BRIDGE R1, BRIDGE R2, MISSING R1) and
 * passes the retest; u3 fails AOI on a call that is then a false call (TOMBSTONE R5). Day 2 u1
 * passes ICT; u4 passes AOI and fails ICT (OPEN R1). u5 was first tested on 31 January.
 * → FPY day 1: 3 units, 2 first pass; day 2: 1 unit, 0; total 4 / 2 = 50 %.
 * → Defects (no false calls): BRIDGE 2, MISSING 1, OPEN 1; by refdes R1 3, R2 1.
 * Product B (line of `b`): one unit passes AOI on day 1.
 * Reflow oven of line A on day 1: productive 06:00–10:00, down (fault E42) 10:00–10:30, productive
 * 10:30–14:00, scheduled down 14:00–15:00, non-scheduled from 15:00; 98 good + 2 failed units;
 * ideal cycle 30 s. → availability 7.5 / 8, performance 3000 / 27000, quality 0.98;
 * downtime by fault: unattributed 1 h, E42 30 min.
 */
export const T = (day: number, hhmm: string) => new Date(`2019-02-${String(day).padStart(2, '0')}T${hhmm}:00.000Z`);

type Made = Awaited<ReturnType<typeof makeQualityWorkOrder>>;

export async function seedHistory() {
  const s = testServices();
  const a = await makeQualityWorkOrder();
  const b = await makeQualityWorkOrder();
  const result = (m: Made, unit: string, method: 'aoi' | 'ict', res: 'pass' | 'fail', at: Date, defects: { code: string; refdes: string }[] = []) =>
    s.quality.recordResult(system, { stationId: (method === 'aoi' ? m.stations.aoi : m.stations.ict)!.id, unit, method, result: res, completedAt: at, defects });
  const serials = (await s.tracking.generateUnits(system, { workOrder: a.wo.id, count: 5 })).serials;
  const [u1, u2, u3, u4, u5] = serials as [string, string, string, string, string];
  await result(a, u1, 'aoi', 'pass', T(1, '08:00'));
  await result(a, u2, 'aoi', 'fail', T(1, '08:10'), [{ code: 'BRIDGE', refdes: 'R1' }, { code: 'BRIDGE', refdes: 'R2' }, { code: 'MISSING', refdes: 'R1' }]);
  await result(a, u2, 'aoi', 'pass', T(1, '09:00'));
  await result(a, u3, 'aoi', 'fail', T(1, '08:20'), [{ code: 'TOMBSTONE', refdes: 'R5' }]);
  const call = (await s.quality.listDefects({ serial: u3 }))[0]!;
  await s.quality.verifyDefects(system, [{ defectId: call.id, verdict: 'false_call' }]);
  await result(a, u1, 'ict', 'pass', T(2, '07:00'));
  await result(a, u4, 'aoi', 'pass', T(2, '08:00'));
  await result(a, u4, 'ict', 'fail', T(2, '09:00'), [{ code: 'OPEN', refdes: 'R1' }]);
  await result(a, u5, 'aoi', 'fail', new Date('2019-01-31T23:00:00Z'));
  await result(a, u5, 'aoi', 'pass', T(1, '10:00'));
  const [v1] = (await s.tracking.generateUnits(system, { workOrder: b.wo.id, count: 1 })).serials as [string];
  await result(b, v1, 'aoi', 'pass', T(1, '11:00'));

  const stationId = a.stations.reflow!.id;
  const eq = await s.factory.equipment.create(system, { stationId, code: uniq('OVEN-'), name: 'reflow oven' });
  const change = (at: Date, code: number, e10: E10, fault?: string) =>
    s.equipment.recordStateChange(s.db, { stationId, equipmentId: eq.id, at, newState: { code, e10 }, ...(fault ? { relatedFault: { code: fault, occurrenceId: 'occ-1' } } : {}) });
  await change(T(1, '06:00'), 1100, 'Productive');
  await change(T(1, '10:00'), 5300, 'UnscheduledDowntime', 'E42');
  await change(T(1, '10:30'), 1100, 'Productive');
  await change(T(1, '14:00'), 4300, 'ScheduledDowntime');
  await change(T(1, '15:00'), 6000, 'NonScheduled');
  await change(T(2, '00:00'), 6000, 'NonScheduled');
  await s.equipment.recordFaultOccurred(s.db, {
    stationId, equipmentId: eq.id, occurrenceId: 'occ-1', code: 'E42', severity: 'Error', cause: null, description: 'conveyor jam', lane: null, stage: null, kind: null, details: null, occurredAt: T(1, '10:00'),
  });
  await s.equipment.recordFaultEnd(s.db, { stationId, equipmentId: eq.id, occurrenceId: 'occ-1', what: 'cleared', at: T(1, '10:30'), by: 'tech-7' });
  await s.equipment.recordCounts(s.db, [
    { stationId, equipmentId: eq.id, at: T(1, '09:00'), kind: 'completed', units: 98, recipeName: null, messageId: crypto.randomUUID() },
    { stationId, equipmentId: eq.id, at: T(1, '09:00'), kind: 'failed', units: 2, recipeName: null, messageId: crypto.randomUUID() },
  ]);
  await s.equipment.setIdealCycleTime(system, stationId, { seconds: 30 });
  return { a, b, serials, stationId, equipmentId: eq.id };
}
