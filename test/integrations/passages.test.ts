import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { IncomingPayload } from '../../src/integrations/index.ts';
import { makeReleasedWorkOrder, system, testServices, uniq } from '../helpers.ts';
import { envelope } from './support.ts';

/**
 * Tracking passages from CFX applied in waves (set-based batch operations of the tracking
 * service), and the messages applied since: UnitsDisqualified (scrap), WorkCompleted Aborted /
 * Skipped (abort of the started step), UnitsProcessed (process-data readings).
 */

const s = () => testServices();
const ingest = (envs: Record<string, unknown>[], extra: Partial<IncomingPayload> = {}) =>
  s().integrations.cfx.ingest([{ payload: JSON.stringify(envs.length === 1 ? envs[0] : envs), transport: 'amqp', ...extra }]).then((r) => r[0]!);
const at = (ms: number) => new Date(Date.UTC(2030, 0, 1, 8, 0, 0) + ms).toISOString();
const units = (serial: string, status = 'Pass') => ({ PrimaryIdentifier: serial, Units: [{ UnitIdentifier: serial, PositionNumber: 1, Status: status }] });
const tid = () => crypto.randomUUID();

async function line(count: number, quantity = count) {
  const made = await makeReleasedWorkOrder({ quantity });
  const handles: Record<string, string> = {};
  for (const type of ['printer', 'placement', 'aoi', 'rework']) {
    handles[type] = `Test.${type}.${uniq('SN')}`;
    await s().factory.equipment.create(system, { stationId: made.stations[type]!.id, code: uniq(`EQ-${type}-`), name: type, cfxHandle: handles[type] });
  }
  const serials = (await s().tracking.generateUnits(system, { workOrder: made.wo.id, count })).serials;
  return { ...made, handles, serials };
}

describe('passages from many messages in one batch', () => {
  it('a refused WorkCompleted does not book its TransactionID: the machine\'s resent completion is applied once the cause is gone', async () => {
    const m = await line(1);
    const [a] = m.serials as [string];
    const t = tid();
    await ingest([envelope('CFX.Production.WorkStarted', m.handles.printer!, { TransactionID: t, ...units(a) }, { TimeStamp: at(0) })]);
    await s().tracking.setHold(system, { scope: 'unit', identifier: a, hold: true, reason: 'suspect paste' });
    const refused = await ingest([envelope('CFX.Production.WorkCompleted', m.handles.printer!, { TransactionID: t, Result: 'Completed', ...units(a) }, { TimeStamp: at(1) })]);
    expect(refused.messages.map((x) => [x.outcome, x.reasonCode])).toEqual([['rejected', 'UNIT_ON_HOLD']]);
    await s().tracking.setHold(system, { scope: 'unit', identifier: a, hold: false, reason: 'paste checked' });
    // Two batches of the resend: the first applies it, the second finds it booked.
    const resent = await ingest([envelope('CFX.Production.WorkCompleted', m.handles.printer!, { TransactionID: t, Result: 'Completed', ...units(a) }, { TimeStamp: at(2) })]);
    expect(resent.messages.map((x) => x.outcome)).toEqual(['applied']);
    expect((await s().tracking.getUnit(a)).history.map((x) => [x.stepSeq, x.result])).toEqual([[10, 'pass']]);
    const again = await ingest([envelope('CFX.Production.WorkCompleted', m.handles.printer!, { TransactionID: t, Result: 'Completed', ...units(a) }, { TimeStamp: at(3) })]);
    expect(again.messages[0]!.detail).toContain(`already completed by ${resent.messages[0]!.uniqueId}`);
    expect((await s().tracking.getUnit(a)).history).toHaveLength(1);
  });

  it('applies each message with its own outcome, in order per unit, refusals kept as dead letters', async () => {
    const m = await line(4);
    const [a, b, c, d] = m.serials as [string, string, string, string];
    const h = m.handles;
    const tx = [tid(), tid(), tid(), tid(), tid()];
    const r = await ingest([
      envelope('CFX.Production.WorkStarted', h.printer!, { TransactionID: tx[0], ...units(a) }, { TimeStamp: at(0) }),
      envelope('CFX.Production.WorkStarted', h.printer!, { TransactionID: tx[1], ...units(b) }, { TimeStamp: at(1) }),
      envelope('CFX.Production.WorkCompleted', h.printer!, { TransactionID: tx[0], Result: 'Completed', ...units(a) }, { TimeStamp: at(2) }),
      // Out of route: refused, the others go on.
      envelope('CFX.Production.WorkCompleted', h.aoi!, { TransactionID: tx[2], Result: 'Completed', ...units(c) }, { TimeStamp: at(3) }),
      envelope('CFX.Production.WorkCompleted', h.printer!, { TransactionID: tx[1], Result: 'Completed', ...units(b) }, { TimeStamp: at(4) }),
      // The same unit again in the same batch: placement after printer.
      envelope('CFX.Production.WorkCompleted', h.placement!, { TransactionID: tx[3], Result: 'Completed', ...units(a) }, { TimeStamp: at(5) }),
      envelope('CFX.Production.WorkCompleted', h.printer!, { TransactionID: tx[4], Result: 'Failed', ...units(d, 'Fail') }, { TimeStamp: at(6) }),
    ]);
    expect(r.messages.map((x) => x.outcome)).toEqual(['applied', 'applied', 'applied', 'rejected', 'applied', 'applied', 'applied']);
    expect(r.messages[3]!.reasonCode).toBe('STEP_OUT_OF_ORDER');
    expect(r.messages[3]!.deadLetterId).toBeGreaterThan(0);
    expect((await s().tracking.getUnit(a)).history.map((x) => x.stepSeq)).toEqual([10, 20]);
    expect((await s().tracking.getUnit(b)).history.map((x) => [x.stepSeq, x.result])).toEqual([[10, 'pass']]);
    expect((await s().tracking.getUnit(c)).history).toHaveLength(0);
    expect((await s().tracking.getUnit(d)).history.map((x) => x.result)).toEqual(['fail']);
    // The start's time is carried into the record of its completion.
    const rec = (await s().tracking.getUnit(a)).history[0]!;
    expect(rec.startedAt).not.toBeNull();
    expect(new Date(rec.completedAt).toISOString()).toBe(at(2));
    const inbox = await s().db.query<{ outcome: string }>('SELECT outcome FROM cfx_inbox WHERE unique_id = ANY($1) ORDER BY received_at', [r.messages.map((x) => x.uniqueId)]);
    expect(inbox.rowCount).toBe(7);
  });

  it('a message that reads units (here a validation request) sees the passages queued before it', async () => {
    const m = await line(1);
    const [a] = m.serials as [string];
    const t0 = tid();
    const r = await ingest([
      envelope('CFX.Production.WorkCompleted', m.handles.printer!, { TransactionID: t0, Result: 'Completed', ...units(a) }, { TimeStamp: at(0) }),
      envelope('CFX.InformationSystem.UnitValidation.ValidateUnitsRequest', m.handles.printer!, { PrimaryIdentifier: a, Units: [] }, { Target: 'OpenMES.MES.1', RequestID: tid() }),
    ]);
    expect(r.messages.map((x) => x.outcome)).toEqual(['applied', 'answered']);
    const resp = r.responses[0] as { MessageBody: { PrimaryResult: { Result: string; FailureCode: number } } };
    // Already printed: the printer may not take it again.
    expect(resp.MessageBody.PrimaryResult).toMatchObject({ Result: 'Failed', FailureCode: 1071 });
  });

  it('a duplicated batch has no effect on the passages', async () => {
    const m = await line(3);
    const envs = m.serials.map((serial, i) => envelope('CFX.Production.WorkCompleted', m.handles.printer!, { TransactionID: tid(), Result: 'Completed', ...units(serial) }, { TimeStamp: at(i) }));
    const first = await ingest(envs);
    expect(first.messages.every((x) => x.outcome === 'applied')).toBe(true);
    const again = await ingest(envs);
    expect(again.messages.every((x) => x.outcome === 'duplicate')).toBe(true);
    const n = await s().db.one<{ n: number }>('SELECT count(*)::int AS n FROM process_records WHERE work_order_id = $1', [m.wo.id]);
    expect(n!.n).toBe(3);
  });
});

describe('WorkCompleted with Result Aborted / Skipped', () => {
  it('aborts the started step: the unit waits for it again, no record; a unit never started stays as it is', async () => {
    const m = await line(2);
    const [a, b] = m.serials as [string, string];
    const t1 = tid();
    const started = await ingest([envelope('CFX.Production.WorkStarted', m.handles.printer!, { TransactionID: t1, ...units(a) }, { TimeStamp: at(0) })]);
    expect(started.messages[0]!.outcome).toBe('applied');
    expect((await s().tracking.getUnit(a)).status).toBe('in_process');
    const aborted = await ingest([envelope('CFX.Production.WorkCompleted', m.handles.printer!, { TransactionID: t1, Result: 'Aborted', PrimaryIdentifier: a, Units: [] }, { TimeStamp: at(10) })]);
    expect(aborted.messages[0]).toMatchObject({ outcome: 'applied' });
    expect(aborted.messages[0]!.detail).toMatch(/1 started passage\(s\) aborted/);
    const ua = await s().tracking.getUnit(a);
    expect(ua).toMatchObject({ status: 'queued', nextStepSeq: 10, visits: 0, startedStationId: null });
    expect(ua.history).toHaveLength(0);
    const audit = await s().db.query<{ reason: string }>(`SELECT reason FROM audit_log WHERE entity = 'unit' AND entity_id = $1 AND action = 'abort'`, [String(ua.id)]);
    expect(audit.rows[0]!.reason).toMatch(/Result Aborted/);
    // Skipped, for a unit that was never started: nothing to undo, not a refusal.
    const skipped = await ingest([envelope('CFX.Production.WorkCompleted', m.handles.printer!, { TransactionID: tid(), Result: 'Skipped', ...units(b, 'Skip') }, { TimeStamp: at(20) })]);
    expect(skipped.messages[0]!.outcome).toBe('applied');
    expect(skipped.messages[0]!.detail).toMatch(/1 unit\(s\) were not in process/);
    expect((await s().tracking.getUnit(b)).status).toBe('queued');
    // Started elsewhere: the abort is refused and kept.
    await ingest([envelope('CFX.Production.WorkStarted', m.handles.printer!, { TransactionID: tid(), ...units(b) }, { TimeStamp: at(30) })]);
    const wrong = await ingest([envelope('CFX.Production.WorkCompleted', m.handles.placement!, { TransactionID: tid(), Result: 'Aborted', ...units(b, 'Skip') }, { TimeStamp: at(40) })]);
    expect(wrong.messages[0]).toMatchObject({ outcome: 'rejected', reasonCode: 'STATE_CONFLICT' });
    expect((await s().tracking.getUnit(b)).status).toBe('in_process');
  });
});

describe('UnitsDisqualified', () => {
  it('scraps the units with the reason through the tracking service; unknown units are refused', async () => {
    const m = await line(2);
    const [a, b] = m.serials as [string, string];
    const r = await ingest([
      envelope('CFX.Production.UnitsDisqualified', m.handles.aoi!, { Units: [{ UnitIdentifier: a, PositionNumber: 1 }], Reason: 'DefectiveRepairNotPossible', Comments: 'lifted BGA' }),
    ]);
    expect(r.messages[0]).toMatchObject({ outcome: 'applied' });
    const ua = await s().tracking.getUnit(a);
    expect(ua.status).toBe('scrapped');
    const audit = await s().db.query<{ reason: string; actor_name: string }>(`SELECT reason, actor_name FROM audit_log WHERE entity = 'unit' AND entity_id = $1 AND action = 'scrap'`, [String(ua.id)]);
    expect(audit.rows).toHaveLength(1);
    expect(audit.rows[0]!.reason).toMatch(/DefectiveRepairNotPossible.*lifted BGA/);
    expect(audit.rows[0]!.actor_name).toBe(`cfx:${m.handles.aoi}`);
    // The interlock refuses it from now on.
    const v = await s().tracking.validate(system, { stationId: m.stations.printer!.id, identifier: a });
    expect(v.primary?.code).toBe('UNIT_SCRAPPED');
    expect((await s().tracking.getUnit(b)).status).toBe('queued');
    // Counted for OEE quality.
    const c = await s().db.one<{ n: number }>(`SELECT sum(units)::int AS n FROM production_counts WHERE station_id = $1 AND kind = 'disqualified'`, [m.stations.aoi!.id]);
    expect(c!.n).toBe(1);
    const unknown = await ingest([envelope('CFX.Production.UnitsDisqualified', m.handles.aoi!, { Units: [{ UnitIdentifier: 'NO-SUCH-BOARD', PositionNumber: 1 }] })]);
    expect(unknown.messages[0]).toMatchObject({ outcome: 'rejected', reasonCode: 'UNKNOWN_UNIT' });
  });
});

describe('UnitsProcessed', () => {
  it('stores the process data as readings of the unit, common data for every unit named', async () => {
    const m = await line(2);
    const [a, b] = m.serials as [string, string];
    const r = await ingest([
      envelope('CFX.Production.Processing.UnitsProcessed', m.handles.placement!, {
        TransactionId: tid(), OverallResult: 'Succeeded',
        CommonProcessData: { $type: 'CFX.Structures.SolderReflow.ReflowProcessData, CFX', ConveyorSpeed: 0.8, Zones: [{ Setpoint: 245.5, Actual: 244.9 }] },
        UnitProcessData: [
          { UnitIdentifier: a, UnitPositionNumber: 1, UnitResult: 'Succeeded', UnitProcessData: { $type: 'CFX.Structures.ProcessData, CFX', PeakTemp: 247.1, Profile: 'SAC305' } },
          { UnitIdentifier: b, UnitPositionNumber: 2, UnitResult: 'Failed' },
        ],
      }),
    ]);
    expect(r.messages[0]).toMatchObject({ outcome: 'applied' });
    const rows = await s().db.query<{ unit_identifier: string | null; name: string; value: number | null; text_value: string | null }>(
      `SELECT unit_identifier, name, value, text_value FROM readings WHERE origin = $1 ORDER BY unit_identifier NULLS FIRST, name`, [r.messages[0]!.uniqueId],
    );
    const of = (u: string | null) => rows.rows.filter((x) => x.unit_identifier === u).map((x) => [x.name, x.value ?? x.text_value]);
    expect(of(a)).toEqual([
      ['common.ReflowProcessData.ConveyorSpeed', 0.8], ['common.ReflowProcessData.Zones.0.Actual', 244.9], ['common.ReflowProcessData.Zones.0.Setpoint', 245.5],
      ['unit.ProcessData.PeakTemp', 247.1], ['unit.ProcessData.Profile', 'SAC305'], ['unit.result', 'Succeeded'],
    ]);
    expect(of(b)).toEqual([
      ['common.ReflowProcessData.ConveyorSpeed', 0.8], ['common.ReflowProcessData.Zones.0.Actual', 244.9], ['common.ReflowProcessData.Zones.0.Setpoint', 245.5], ['unit.result', 'Failed'],
    ]);
    expect(of(null)).toEqual([['overall.result', 'Succeeded']]);
  });
});

describe('an effect beyond the unit applies the batch in order', () => {
  it('a quality rule holding the work order: passages received after the result are refused, those received before are applied', async () => {
    const m = await line(4);
    const [u0, u1, u2, u3] = m.serials as [string, string, string, string];
    await s().quality.createRule(system, {
      code: uniq('R-'), name: 'repeat bridge', productId: m.product.id, kind: 'defect_repeat', method: 'aoi', params: { count: 2, window: 10 }, actions: ['alert', 'hold_work_order'],
    });
    const inspected = (serial: string) =>
      envelope('CFX.Production.TestAndInspection.UnitsInspected', m.handles.aoi!, {
        TransactionId: tid(), InspectionMethod: 'AOI',
        InspectedUnits: [{
          UnitIdentifier: serial, UnitPositionNumber: 1, OverallResult: 'Failed',
          Inspections: [{ InspectionName: 'board', Result: 'Failed', Measurements: [], DefectsFound: [{ DefectCode: 'BRIDGE', Verification: 'DefectConfirmed', ComponentOfInterest: { ReferenceDesignator: 'U7' } }] }],
        }],
      });
    const r = await ingest([
      envelope('CFX.Production.WorkCompleted', m.handles.printer!, { TransactionID: tid(), Result: 'Completed', ...units(u0) }, { TimeStamp: at(0) }),
      inspected(u1),
      inspected(u2),
      // Applied in levels, this printer start (the line's first station) would come before the AOI results.
      envelope('CFX.Production.WorkStarted', m.handles.printer!, { TransactionID: tid(), ...units(u3) }, { TimeStamp: at(3) }),
    ]);
    expect(r.messages.map((x) => x.outcome)).toEqual(['applied', 'applied', 'applied', 'rejected']);
    expect(r.messages[3]!.reasonCode).toBe('HOLD_WORK_ORDER');
    expect((await s().tracking.getUnit(u0)).history.map((x) => x.stepSeq)).toEqual([10]);
    // The refused start left the unit as it was: waiting at its first step, never started.
    expect(await s().tracking.getUnit(u3)).toMatchObject({ status: 'queued', startedStepSeq: null, nextStepSeq: 10, history: [] });
  });
});
