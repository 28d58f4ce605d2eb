import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bearer, testApp, testServices, tokenFor } from '../helpers.ts';
import { envelope, makeMachines } from './support.ts';

/** SEMI E10 timeline, faults, downtime and OEE from CFX messages, arriving out of order. */

const s = () => testServices();
const T = (hhmm: string, day = '2024-03-05') => `${day}T${hhmm}:00.000Z`;
const ingest = async (envs: Record<string, unknown>[]) => (await s().integrations.cfx.ingest([{ payload: JSON.stringify(envs), transport: 'http' }]))[0]!;
const state = (handle: string, at: string, oldState: number, newState: number, fault?: { code: string; id: string }) =>
  envelope('CFX.ResourcePerformance.StationStateChanged', handle, {
    OldState: String(oldState), NewState: newState,
    ...(fault ? { RelatedFault: { $type: 'CFX.Structures.Fault, CFX', FaultCode: fault.code, FaultOccurrenceId: fault.id, Severity: 'Error', Cause: 'MechanicalFailure' } } : {}),
  }, { TimeStamp: at });

describe('equipment states from CFX', () => {
  it('keeps a correct timeline when changes arrive late, faults when cleared before reported, and computes downtime and OEE', async () => {
    const { machines } = await makeMachines(['reflow']);
    const mc = machines.reflow!;
    const h = mc.handle;
    const faultId = crypto.randomUUID();
    const units = (n: number, failed: number) => Array.from({ length: n }, (_, i) => ({ UnitIdentifier: `U${crypto.randomUUID()}`, PositionNumber: 1, Status: i < failed ? 'Fail' : 'Pass' }));
    const r = await ingest([
      envelope('CFX.Production.RecipeActivated', h, { RecipeName: 'LEADFREE-SAC305', Revision: '7', ExpectedCycleTime: 30 }, { TimeStamp: T('05:59') }),
      state(h, T('06:00'), 6000, 1100),
      // The return to production arrives before the breakdown it ends.
      state(h, T('10:30'), 5300, 1100),
      state(h, T('10:00'), 1100, 5300, { code: 'E42', id: faultId }),
      envelope('CFX.ResourcePerformance.FaultCleared', h, { FaultOccurrenceId: faultId, Operator: { OperatorIdentifier: 'tech-7' } }, { TimeStamp: T('10:30') }),
      envelope('CFX.ResourcePerformance.FaultOccurred', h, { Fault: { FaultCode: 'E42', FaultOccurrenceId: faultId, Severity: 'Error', OccurredAt: T('10:00') } }, { TimeStamp: T('10:00') }),
      state(h, T('14:00'), 1100, 4300),
      state(h, T('15:00'), 4300, 6000),
      ...Array.from({ length: 10 }, (_, i) =>
        envelope('CFX.Production.WorkCompleted', h, { TransactionID: crypto.randomUUID(), Result: 'Completed', Units: units(10, i < 2 ? 1 : 0) }, { TimeStamp: T(`${String(7 + i).padStart(2, '0')}:00`) }),
      ),
      envelope('CFX.Production.UnitsDisqualified', h, { Units: units(1, 0), Reason: 'DefectiveRepairNotPossible' }, { TimeStamp: T('12:00') }),
    ]);
    // Production messages apply as counts; the tracking refuses these unknown units (kept as dead letters).
    expect(r.messages.filter((m) => m.outcome === 'rejected').every((m) => m.reasonCode === 'UNKNOWN_UNIT')).toBe(true);

    const tl = await s().equipment.timeline(mc.stationId, { from: T('00:00'), to: T('00:00', '2024-03-06') });
    expect(tl.intervals.map((i) => [i.stateCode, new Date(i.from).toISOString(), i.to && new Date(i.to).toISOString()])).toEqual([
      [1100, T('06:00'), T('10:00')],
      [5300, T('10:00'), T('10:30')],
      [1100, T('10:30'), T('14:00')],
      [4300, T('14:00'), T('15:00')],
      [6000, T('15:00'), null],
    ]);
    const faults = await s().equipment.faults(mc.stationId, { from: T('00:00'), to: T('00:00', '2024-03-06') });
    expect(faults).toHaveLength(1);
    expect(faults[0]).toMatchObject({ code: 'E42', severity: 'Error', clearedBy: 'tech-7', seconds: 1800 });

    const dt = await s().equipment.downtime(mc.stationId, { from: T('00:00'), to: T('00:00', '2024-03-06') });
    const secs = (code: number) => dt.byState.find((b) => b.stateCode === code)?.seconds;
    expect([secs(1100), secs(5300), secs(4300), secs(6000)]).toEqual([7.5 * 3600, 1800, 3600, 9 * 3600]);
    expect(dt.byFaultCode.find((f) => f.faultCode === 'E42')).toMatchObject({ downtimeSeconds: 1800, occurrences: 1, faultSeconds: 1800 });
    expect(dt.byFaultCode.find((f) => f.faultCode === 'unattributed')).toMatchObject({ downtimeSeconds: 3600 });

    const day = await s().equipment.oee(mc.stationId, { from: T('00:00'), to: T('00:00', '2024-03-06') });
    expect(day.buckets).toHaveLength(1);
    const b = day.buckets[0]!;
    expect(b).toMatchObject({ day: '2024-03-05', knownSeconds: 18 * 3600, plannedSeconds: 8 * 3600, runSeconds: 7.5 * 3600, totalCount: 100, goodCount: 97 });
    expect(b.availability).toBeCloseTo(7.5 / 8, 6);
    expect(b.performance).toBeCloseTo((30 * 100) / (7.5 * 3600), 6);
    expect(b.quality).toBeCloseTo(0.97, 6);
    expect(b.oee).toBeCloseTo((7.5 / 8) * ((30 * 100) / (7.5 * 3600)) * 0.97, 6);

    // Shifts in the site's time zone; without a reported cycle time the master data is used.
    const app = await testApp();
    const token = await tokenFor('process-engineer');
    const put = await app.inject({ method: 'PUT', url: `/api/v1/stations/${mc.stationId}/ideal-cycle-times`, payload: { seconds: 20 }, headers: bearer(token) });
    expect(put.statusCode).toBe(200);
    const shifts = await app.inject({
      method: 'GET', url: `/api/v1/stations/${mc.stationId}/oee?granularity=shift&from=${T('06:00')}&to=${T('22:00')}&shiftStarts=06:00&shiftStarts=14:00&shiftStarts=22:00`,
      headers: bearer(token),
    });
    expect(shifts.statusCode).toBe(200);
    const sb = shifts.json().buckets as { shift: string; runSeconds: number; plannedSeconds: number; availability: number | null }[];
    expect(sb.map((x) => [x.shift, x.runSeconds, x.plannedSeconds])).toEqual([
      ['S1 06:00', 7.5 * 3600, 8 * 3600],
      ['S2 14:00', 0, 0],
    ]);
    expect(sb[1]!.availability).toBeNull();
    const range = `from=${T('00:00')}&to=${T('23:00')}`;
    for (const path of [`states?${range}`, `downtime?${range}`, `faults?${range}`, `readings?${range}`, 'status', 'ideal-cycle-times']) {
      const res = await app.inject({ method: 'GET', url: `/api/v1/stations/${mc.stationId}/${path}`, headers: bearer(token) });
      expect(res.statusCode, `${path}: ${res.body}`).toBe(200);
    }
    await app.close();
  });

  it('records heartbeats, online / offline and the active faults a heartbeat lists', async () => {
    const { machines } = await makeMachines(['aoi']);
    const h = machines.aoi!.handle;
    const fid = crypto.randomUUID();
    await ingest([
      envelope('CFX.EndpointConnected', h, { CFXHandle: h, RequestNetworkUri: 'amqp://aoi:5672/', RequestTargetAddress: h }),
      envelope('CFX.Heartbeat', h, { CFXHandle: h, HeartbeatFrequency: '00:01:00', ActiveFaults: [{ FaultCode: 'LAMP', FaultOccurrenceId: fid, Severity: 'Warning' }] }),
      envelope('CFX.ResourcePerformance.StationOffline', h, {}),
    ]);
    const st = await s().equipment.status(machines.aoi!.stationId);
    expect(st[0]).toMatchObject({ online: false, activeFaults: 1 });
    const row = await s().db.one<{ heartbeat_ms: number; request_uri: string }>('SELECT heartbeat_ms, request_uri FROM equipment_status WHERE equipment_id = $1', [machines.aoi!.equipmentId]);
    expect(row).toEqual({ heartbeat_ms: 60_000, request_uri: 'amqp://aoi:5672/' });
  });
});
