import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { IncomingPayload } from '../../src/integrations/index.ts';
import { bearer, makeReleasedWorkOrder, system, testApp, testServices, tokenFor, uniq } from '../helpers.ts';
import { envelope, makeMachines } from './support.ts';

/** The ingestion pipeline through its in-process door: tracking dispatch, out-of-order arrival, duplicates, dead letters, replay. */

const s = () => testServices();
const ingest = (envs: Record<string, unknown>[], extra: Partial<IncomingPayload> = {}) =>
  s().integrations.cfx.ingest([{ payload: JSON.stringify(envs.length === 1 ? envs[0] : envs), transport: 'amqp', ...extra }]).then((r) => r[0]!);
const at = (ms: number) => new Date(Date.UTC(2030, 0, 1, 8, 0, 0) + ms).toISOString();

/** A released work order whose printer, placement and AOI stations have machines with CFX handles. */
async function lineWithMachines() {
  const made = await makeReleasedWorkOrder();
  const handles: Record<string, string> = {};
  for (const type of ['printer', 'placement', 'aoi', 'rework']) {
    handles[type] = `Test.${type}.${uniq('SN')}`;
    await s().factory.equipment.create(system, { stationId: made.stations[type]!.id, code: uniq(`EQ-${type}-`), name: type, cfxHandle: handles[type] });
  }
  const [serial] = (await s().tracking.generateUnits(system, { workOrder: made.wo.id, count: 1 })).serials as [string];
  return { ...made, handles, serial };
}

const unitsBody = (serial: string) => ({ PrimaryIdentifier: serial, Units: [{ UnitIdentifier: serial, PositionNumber: 1, Status: 'Pass' }] });

describe('a unit through its route by CFX messages', () => {
  it('applies WorkStarted / WorkCompleted through the tracking service, in order and out of order', async () => {
    const m = await lineWithMachines();
    const { serial, handles } = m;
    const tid = () => crypto.randomUUID();
    // Printer: in order.
    const t1 = tid();
    const r1 = await ingest([
      envelope('CFX.Production.UnitsArrived', handles.printer!, unitsBody(serial), { TimeStamp: at(0) }),
      envelope('CFX.Production.WorkStarted', handles.printer!, { TransactionID: t1, ...unitsBody(serial) }, { TimeStamp: at(1000) }),
      envelope('CFX.Production.WorkCompleted', handles.printer!, { TransactionID: t1, Result: 'Completed', ...unitsBody(serial) }, { TimeStamp: at(20_000) }),
      envelope('CFX.Production.UnitsDeparted', handles.printer!, unitsBody(serial), { TimeStamp: at(21_000) }),
    ]);
    expect(r1.messages.map((x) => x.outcome)).toEqual(['applied', 'applied', 'applied', 'applied']);
    // Placement: departed before completed, completed before started.
    const t2 = tid();
    const r2 = await ingest([
      envelope('CFX.Production.UnitsDeparted', handles.placement!, unitsBody(serial), { TimeStamp: at(61_000) }),
      envelope('CFX.Production.WorkCompleted', handles.placement!, { TransactionID: t2, Result: 'Completed', ...unitsBody(serial) }, { TimeStamp: at(60_000) }),
      envelope('CFX.Production.WorkStarted', handles.placement!, { TransactionID: t2, ...unitsBody(serial) }, { TimeStamp: at(30_000) }),
    ]);
    expect(r2.messages.map((x) => x.outcome)).toEqual(['applied', 'applied', 'applied']);
    expect(r2.messages[2]!.detail).toMatch(/stale/);
    // AOI: a completion that names no units arrives first (separate deliveries): parked, applied when the start names the unit.
    const t3 = tid();
    const parked = await ingest([envelope('CFX.Production.WorkCompleted', handles.aoi!, { TransactionID: t3, Result: 'Completed', Units: [] }, { TimeStamp: at(90_000) })]);
    expect(parked.messages[0]).toMatchObject({ outcome: 'recorded' });
    expect(parked.messages[0]!.detail).toMatch(/waiting for the WorkStarted/);
    const started = await ingest([envelope('CFX.Production.WorkStarted', handles.aoi!, { TransactionID: t3, ...unitsBody(serial) }, { TimeStamp: at(70_000) })]);
    expect(started.messages[0]!.outcome).toBe('applied');
    const inbox = await s().db.one<{ outcome: string }>('SELECT outcome FROM cfx_inbox WHERE unique_id = $1', [parked.messages[0]!.uniqueId]);
    expect(inbox!.outcome).toBe('applied');

    const unit = await s().tracking.getUnit(serial);
    expect(unit.status).toBe('completed');
    expect(unit.history.map((h) => [h.stepSeq, h.result, new Date(h.completedAt).toISOString()])).toEqual([
      [10, 'pass', at(20_000)],
      [20, 'pass', at(60_000)],
      [30, 'pass', at(90_000)],
    ]);
    // Machine identity and principal: the passage names the equipment, the actor is the machine.
    expect(unit.history[0]!.equipmentCode).toMatch(/^EQ-printer-/);
    expect(unit.history[0]!.actorName).toBe(`cfx:${handles.printer}`);
    const moves = await s().db.query<{ kind: string }>('SELECT kind FROM unit_movements WHERE identifier = $1 ORDER BY at', [serial]);
    expect(moves.rows.map((r) => r.kind)).toEqual(['arrived', 'departed', 'departed']);
    // OEE counts were recorded from the completions.
    const counts = await s().db.one<{ n: number }>(`SELECT sum(units)::int AS n FROM production_counts WHERE station_id = ANY($1) AND kind = 'completed'`, [
      [m.stations.printer!.id, m.stations.placement!.id, m.stations.aoi!.id],
    ]);
    expect(counts!.n).toBe(3);
  });

  it('refuses what the interlock refuses, with its reason, keeps the message and applies it on replay once the cause is fixed', async () => {
    const m = await lineWithMachines();
    const t = crypto.randomUUID();
    // AOI before print: out of route order.
    const r = await ingest([envelope('CFX.Production.WorkStarted', m.handles.aoi!, { TransactionID: t, ...unitsBody(m.serial) })]);
    expect(r.messages[0]).toMatchObject({ outcome: 'rejected', reasonCode: 'STEP_OUT_OF_ORDER' });
    const deadId = r.messages[0]!.deadLetterId!;
    const letter = await s().integrations.cfx.getDeadLetter(deadId);
    expect(letter).toMatchObject({ reasonCode: 'STEP_OUT_OF_ORDER', transport: 'amqp', messageName: 'CFX.Production.WorkStarted', source: m.handles.aoi });
    expect(JSON.parse(letter.payloadText!).UniqueID).toBe(r.messages[0]!.uniqueId);
    // The interlock kept its own refusal record too.
    expect((await s().db.one<{ n: number }>('SELECT count(*)::int AS n FROM interlock_refusals WHERE identifier = $1', [m.serial]))!.n).toBe(1);
    // Fix the cause: the unit passes print and placement; then replay.
    for (const type of ['printer', 'placement']) await s().tracking.complete(system, { stationId: m.stations[type]!.id, identifier: m.serial, result: 'pass' });
    const replay = await s().integrations.cfx.replayDeadLetter(system, deadId);
    expect(replay).toMatchObject({ ok: true, outcome: 'applied' });
    expect((await s().tracking.getUnit(m.serial)).status).toBe('in_process');
    const closed = await s().integrations.cfx.getDeadLetter(deadId);
    expect(closed.replayedAt).not.toBeNull();
    expect(closed.replayOutcome).toBe('applied');
    // The same message again has no effect.
    const again = await s().integrations.cfx.ingest([{ payload: letter.payloadText!, transport: 'amqp' }]);
    expect(again[0]!.messages[0]!.outcome).toBe('duplicate');
  });

  it('a duplicated batch has no effect and a repeated request gets the same response', async () => {
    const m = await lineWithMachines();
    const t = crypto.randomUUID();
    const envs = [
      envelope('CFX.Production.WorkStarted', m.handles.printer!, { TransactionID: t, ...unitsBody(m.serial) }),
      envelope('CFX.Production.WorkCompleted', m.handles.printer!, { TransactionID: t, Result: 'Completed', ...unitsBody(m.serial) }),
      envelope('CFX.AreYouThereRequest', m.handles.printer!, { CFXHandle: s().integrations.cfx.handle }, { RequestID: 'R1' }),
    ];
    const first = await ingest(envs);
    const second = await ingest(envs);
    expect(first.messages.map((x) => x.outcome)).toEqual(['applied', 'applied', 'answered']);
    expect(second.messages.map((x) => x.outcome)).toEqual(['duplicate', 'duplicate', 'duplicate']);
    expect(second.responses).toEqual(first.responses);
    expect((await s().tracking.getUnit(m.serial)).history).toHaveLength(1);
    // Within one batch, too.
    const r = await ingest([envs[0]!, envs[0]!]);
    expect(r.messages.map((x) => x.outcome)).toEqual(['duplicate', 'duplicate']);
  });
});

describe('kept messages', () => {
  it('keeps messages of unknown handles and replays them once the handle is registered', async () => {
    const { machines } = await makeMachines(['reflow']);
    const handle = `Later.Registered.${uniq()}`;
    const r = await ingest([
      envelope('CFX.ResourcePerformance.StationStateChanged', handle, { OldState: 2200, OldStateDuration: '00:05:00', NewState: 1100 }, { TimeStamp: at(0) }),
      envelope('CFX.ResourcePerformance.FaultOccurred', handle, { Fault: { FaultCode: 'E42', Severity: 'Error', FaultOccurrenceId: crypto.randomUUID() } }),
    ]);
    expect(r.messages.map((x) => x.outcome)).toEqual(['unassigned', 'unassigned']);
    const listed = await s().integrations.cfx.listUnassigned({ source: handle });
    expect(listed.map((u) => [u.messageName, u.registered])).toEqual(
      expect.arrayContaining([['CFX.ResourcePerformance.StationStateChanged', false], ['CFX.ResourcePerformance.FaultOccurred', false]]),
    );
    expect((await s().integrations.cfx.replayUnassigned(system, { source: handle })).replayed).toBe(0);
    await s().factory.equipment.update(system, machines.reflow!.equipmentId, { cfxHandle: handle });
    const replay = await s().integrations.cfx.replayUnassigned(system, { source: handle });
    expect(replay).toEqual({ replayed: 2, outcomes: { applied: 2 } });
    const states = await s().equipment.timeline(machines.reflow!.stationId, { from: at(-3600_000), to: at(3600_000) });
    expect(states.intervals.map((i) => [i.stateCode, i.inferred])).toEqual([[2200, true], [1100, false]]);
    expect((await s().integrations.cfx.listUnassigned({ source: handle, open: true })).length).toBe(0);
  });

  it('puts invalid messages in the dead-letter store with every field error', async () => {
    const { machines } = await makeMachines(['aoi']);
    const bad = envelope('CFX.Production.TestAndInspection.UnitsInspected', machines.aoi!.handle, { InspectionMethod: 'XRAYVISION', InspectedUnits: [{ OverallResult: 'Maybe' }] });
    const r = await ingest([bad]);
    expect(r.messages[0]).toMatchObject({ outcome: 'rejected', reasonCode: 'CFX_INVALID' });
    const letter = await s().integrations.cfx.getDeadLetter(r.messages[0]!.deadLetterId!);
    expect(letter.field).toBe('MessageBody.InspectionMethod');
    expect((letter.errors as { field: string }[]).map((e) => e.field)).toEqual(
      expect.arrayContaining(['MessageBody.InspectionMethod', 'MessageBody.InspectedUnits[0].OverallResult']),
    );
  });
});

describe('the HTTP door', () => {
  it('refuses an unreadable payload with 400 and keeps it; refuses machines outside a station-bound token', async () => {
    const app = await testApp();
    const token = await tokenFor('machine');
    const res = await app.inject({ method: 'POST', url: '/api/v1/cfx', payload: 'not json at all', headers: { ...bearer(token), 'content-type': 'application/json' } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'CFX_PAYLOAD_INVALID', details: { reasonCode: 'CFX_NOT_JSON' } });
    const id = res.json().details.deadLetterId as number;
    const admin = await tokenFor('admin');
    const got = await app.inject({ method: 'GET', url: `/api/v1/cfx/dead-letters/${id}`, headers: bearer(admin) });
    expect(got.json()).toMatchObject({ id, reasonCode: 'CFX_NOT_JSON', transport: 'http', payloadText: 'not json at all' });
    const list = await app.inject({ method: 'GET', url: '/api/v1/cfx/dead-letters?open=true&reasonCode=CFX_NOT_JSON', headers: bearer(admin) });
    expect(list.json().some((d: { id: number }) => d.id === id)).toBe(true);

    const { machines } = await makeMachines(['printer', 'aoi']);
    const bound = await s().auth.createToken(system, { name: uniq('tok-'), role: 'machine', stationCodes: [machines.printer!.stationCode] });
    const env = envelope('CFX.ResourcePerformance.StationOnline', machines.aoi!.handle, {});
    const denied = await app.inject({ method: 'POST', url: '/api/v1/cfx', payload: env, headers: bearer(bound.token) });
    expect(denied.statusCode).toBe(200);
    expect(denied.json().messages[0]).toMatchObject({ outcome: 'rejected', reasonCode: 'STATION_NOT_PERMITTED' });
    const allowed = await app.inject({ method: 'POST', url: '/api/v1/cfx', payload: envelope('CFX.ResourcePerformance.StationOnline', machines.printer!.handle, {}), headers: bearer(bound.token) });
    expect(allowed.json().messages[0].outcome).toBe('applied');
    const status = await app.inject({ method: 'GET', url: '/api/v1/cfx/status', headers: bearer(admin) });
    expect(status.json()).toMatchObject({ handle: s().integrations.cfx.handle, adapters: [] });
    expect(status.json().byOutcome.rejected).toBeGreaterThan(0);
    const codes = await app.inject({ method: 'GET', url: '/api/v1/cfx/failure-codes', headers: bearer(token) });
    expect(codes.json()).toEqual(expect.arrayContaining([expect.objectContaining({ number: 1001, code: 'UNKNOWN_UNIT' }), expect.objectContaining({ number: 9001 })]));
    await app.close();
  });
});
