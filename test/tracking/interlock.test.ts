import { describe, expect, inject, it } from 'vitest';
import { Db } from '../../src/platform/db.ts';
import { createTrackingService, createRuleSet, DEFAULT_INTERLOCK_RULES, INTERLOCK_REASONS, type InterlockRule, type TrackingService } from '../../src/modules/tracking/index.ts';
import type { RouteStepInput } from '../../src/modules/products/index.ts';
import { makeReleasedWorkOrder, system, testDb, testServices, uniq } from '../helpers.ts';

/** Every refusal reason of the interlock, each with its stable code and number, and the rule registration API. */

const s = () => testServices();
/** This module's rules only: other modules (quality, materials) register more into the app's tracking service. */
let own: TrackingService | undefined;
const t = () => (own ??= createTrackingService(testDb(), { workOrders: testServices().workOrders }));
type Made = Awaited<ReturnType<typeof makeReleasedWorkOrder>>;

async function unitOf(made: Made): Promise<string> {
  return (await t().generateUnits(system, { workOrder: made.wo.id, count: 1 })).serials[0]!;
}
/** The codes refusing the unit at the station type (validate phase). */
async function codes(made: Made, type: string, identifier: string, extra: { programName?: string; programRevision?: string } = {}) {
  const v = await t().validate(system, { stationId: made.stations[type]!.id, identifier, ...extra });
  expect(v.go).toBe(v.units.every((u) => u.refusals.length === 0));
  return v.units.flatMap((u) => u.refusals.map((r) => r.code));
}
const pass = (made: Made, type: string, identifier: string, result: 'pass' | 'fail' | 'scrap' = 'pass') =>
  t().complete(system, { stationId: made.stations[type]!.id, identifier, result });

describe('reason table', () => {
  it('has a unique stable number per code, and every built-in rule uses its number', () => {
    const numbers = Object.values(INTERLOCK_REASONS).map((r) => r.number);
    expect(new Set(numbers).size).toBe(numbers.length);
    for (const r of DEFAULT_INTERLOCK_RULES) expect(r.number).toBe(INTERLOCK_REASONS[r.code as keyof typeof INTERLOCK_REASONS].number);
    const listed = t().interlockReasons().map((r) => r.code).sort();
    expect(listed).toEqual(Object.keys(INTERLOCK_REASONS).sort());
    // The app's service carries other modules' rules too, never at the expense of these.
    const app = s().tracking.interlockReasons();
    expect(app.map((r) => r.code)).toEqual(expect.arrayContaining(listed));
    expect(new Set(app.map((r) => r.number)).size).toBe(app.length);
  });
});

describe('refusal reasons', () => {
  it('go: a fresh unit at its first step', async () => {
    const m = await makeReleasedWorkOrder();
    const serial = await unitOf(m);
    const v = await t().validate(system, { stationId: m.stations.printer!.id, identifier: serial });
    expect(v).toMatchObject({ go: true, result: 'passed', primary: null, kind: 'unit', workOrder: { id: m.wo.id }, units: [{ serial, step: { seq: 10, name: 'Print' }, refusals: [] }] });
    expect((await testDb().one<{ n: number }>('SELECT count(*)::int AS n FROM interlock_refusals WHERE identifier = $1', [serial]))!.n).toBe(0);
  });

  it('UNKNOWN_UNIT (recorded with its code)', async () => {
    const m = await makeReleasedWorkOrder();
    const id = uniq('NOPE');
    const v = await t().validate(system, { station: m.stations.printer!.code, identifier: id });
    expect(v).toMatchObject({ go: false, kind: 'unknown', primary: { code: 'UNKNOWN_UNIT', number: 1001 } });
    expect(v.primary!.message).toContain(id);
    const rec = await testDb().one<{ codes: string[]; phase: string; station_id: number }>('SELECT codes, phase, station_id FROM interlock_refusals WHERE identifier = $1', [id]);
    expect(rec).toEqual({ codes: ['UNKNOWN_UNIT'], phase: 'validate', station_id: m.stations.printer!.id });
  });

  it('UNIT_SKIPPED', async () => {
    const m = await makeReleasedWorkOrder();
    const p = await t().createPanel(system, { workOrder: m.wo.id, code: uniq('PNL'), positions: 2, skipped: [2] });
    expect(await codes(m, 'printer', p.units[1]!.serial)).toEqual(['UNIT_SKIPPED']);
  });

  it('WORK_ORDER_NOT_RELEASED (defence in depth: state forced back in the database)', async () => {
    const m = await makeReleasedWorkOrder();
    const serial = await unitOf(m);
    await testDb().query(`UPDATE work_orders SET state = 'planned' WHERE id = $1`, [m.wo.id]);
    expect(await codes(m, 'printer', serial)).toEqual(['WORK_ORDER_NOT_RELEASED']);
  });

  it('WORK_ORDER_ON_HOLD, and go again after resume', async () => {
    const m = await makeReleasedWorkOrder();
    const serial = await unitOf(m);
    await s().workOrders.transition(system, m.wo.id, 'hold', 'customer stop');
    expect(await codes(m, 'printer', serial)).toEqual(['WORK_ORDER_ON_HOLD']);
    await s().workOrders.transition(system, m.wo.id, 'resume');
    expect(await codes(m, 'printer', serial)).toEqual([]);
  });

  it('WORK_ORDER_COMPLETED and WORK_ORDER_CANCELLED (and the line is freed)', async () => {
    const m = await makeReleasedWorkOrder();
    const serial = await unitOf(m);
    await s().workOrders.transition(system, m.wo.id, 'start');
    await s().workOrders.transition(system, m.wo.id, 'complete');
    expect(await codes(m, 'printer', serial)).toEqual(['WORK_ORDER_COMPLETED', 'NO_ACTIVE_WORK_ORDER']);
    const m2 = await makeReleasedWorkOrder();
    const serial2 = await unitOf(m2);
    await s().workOrders.transition(system, m2.wo.id, 'cancel', 'order withdrawn');
    expect(await codes(m2, 'printer', serial2)).toEqual(['WORK_ORDER_CANCELLED', 'NO_ACTIVE_WORK_ORDER']);
  });

  it('NO_ACTIVE_WORK_ORDER and WRONG_PRODUCT (other product, and same product other work order)', async () => {
    const m = await makeReleasedWorkOrder();
    const serial = await unitOf(m);
    // A second work order of the same product on the same line.
    const same = await s().workOrders.release(system, (await s().workOrders.create(system, { number: uniq('WO-'), productRevisionId: m.revision.id, quantity: 2, lineId: m.line.id })).id);
    const sameSerial = (await t().generateUnits(system, { workOrder: same.id, count: 1 })).serials[0]!;
    const sameRefusal = (await t().validate(system, { stationId: m.stations.printer!.id, identifier: sameSerial })).primary!;
    expect(sameRefusal).toMatchObject({ code: 'WRONG_PRODUCT', number: 1021 });
    expect(sameRefusal.message).toContain(`running work order ${m.wo.number}`);
    // A work order of another product, released on this line.
    const other = await makeReleasedWorkOrder();
    const otherWo = await s().workOrders.release(system, (await s().workOrders.create(system, { number: uniq('WO-'), productRevisionId: other.revision.id, quantity: 2, lineId: m.line.id })).id);
    const otherSerial = (await t().generateUnits(system, { workOrder: otherWo.id, count: 1 })).serials[0]!;
    const otherRefusal = (await t().validate(system, { stationId: m.stations.printer!.id, identifier: otherSerial })).primary!;
    expect(otherRefusal.code).toBe('WRONG_PRODUCT');
    expect(otherRefusal.message).toContain(`is ${other.revision.productCode} revision A`);
    // Switching the line to the other work order turns the verdicts around.
    await s().workOrders.activate(system, otherWo.id);
    expect(await codes(m, 'printer', otherSerial)).toEqual([]);
    expect(await codes(m, 'printer', serial)).toEqual(['WRONG_PRODUCT']);
    // No work order running at all.
    await s().workOrders.transition(system, otherWo.id, 'cancel', 'line cleared');
    expect(await codes(m, 'printer', serial)).toEqual(['NO_ACTIVE_WORK_ORDER']);
  });

  it('STATION_NOT_IN_ROUTE', async () => {
    const m = await makeReleasedWorkOrder();
    const serial = await unitOf(m);
    const v = await t().validate(system, { stationId: m.stations.ict!.id, identifier: serial });
    expect(v.primary).toMatchObject({ code: 'STATION_NOT_IN_ROUTE', number: 1030 });
    expect(v.units[0]!.step).toBeNull();
  });

  it('UNIT_SCRAPPED', async () => {
    const m = await makeReleasedWorkOrder();
    const serial = await unitOf(m);
    await pass(m, 'printer', serial, 'scrap');
    expect(await codes(m, 'placement', serial)).toEqual(['UNIT_SCRAPPED']);
  });

  it('FAILED_NO_DISPOSITION and UNIT_ON_HOLD (step fails with hold)', async () => {
    const m = await makeReleasedWorkOrder();
    const serial = await unitOf(m);
    await pass(m, 'printer', serial, 'fail');
    expect(await codes(m, 'printer', serial)).toEqual(['FAILED_NO_DISPOSITION', 'UNIT_ON_HOLD']);
  });

  it('REPAIR_LOOPS_EXHAUSTED', async () => {
    const m = await makeReleasedWorkOrder({
      route: [
        { seq: 10, name: 'Place', stationType: 'placement' },
        { seq: 20, name: 'AOI', stationType: 'aoi', onFail: 'repair', repairStepSeq: 90, maxRepairLoops: 1 },
        { seq: 90, name: 'Repair', stationType: 'rework', isRepair: true },
      ],
    });
    const serial = await unitOf(m);
    await pass(m, 'placement', serial);
    await pass(m, 'aoi', serial, 'fail');
    await pass(m, 'rework', serial);
    await pass(m, 'aoi', serial, 'fail');
    expect(await codes(m, 'rework', serial)).toEqual(['REPAIR_LOOPS_EXHAUSTED', 'UNIT_ON_HOLD']);
  });

  it('UNIT_ON_HOLD, PANEL_ON_HOLD and LOT_ON_HOLD, each with the hold reason, lifted on release', async () => {
    const m = await makeReleasedWorkOrder();
    const lot = await t().createLot(system, { workOrder: m.wo.id, code: uniq('LOT') });
    const panel = await t().createPanel(system, { workOrder: m.wo.id, code: uniq('PNL'), positions: 2, lotId: lot.id });
    const serial = panel.units[0]!.serial;
    await t().setHold(system, { scope: 'unit', identifier: serial, hold: true, reason: 'dropped on the floor' });
    await t().setHold(system, { scope: 'panel', identifier: panel.code, hold: true, reason: 'warped' });
    await t().setHold(system, { scope: 'lot', identifier: lot.code, hold: true, reason: 'paste expired' });
    const v = await t().validate(system, { stationId: m.stations.printer!.id, identifier: serial });
    expect(v.units[0]!.refusals.map((r) => [r.code, r.number])).toEqual([['UNIT_ON_HOLD', 1060], ['PANEL_ON_HOLD', 1061], ['LOT_ON_HOLD', 1062]]);
    expect(v.units[0]!.refusals.map((r) => r.message.split(': ')[1])).toEqual(['dropped on the floor', 'warped', 'paste expired']);
    for (const [scope, identifier] of [['unit', serial], ['panel', panel.code], ['lot', lot.code]] as const) {
      await t().setHold(system, { scope, identifier, hold: false, reason: 'checked, fine' });
    }
    expect(await codes(m, 'printer', serial)).toEqual([]);
    const unitId = (await t().getUnit(serial)).id;
    const audit = await testDb().query<{ action: string; entity: string }>(
      `SELECT action, entity FROM audit_log WHERE (entity, entity_id) IN (('unit', $1), ('panel', $2), ('production_lot', $3)) AND action IN ('hold', 'release_hold') ORDER BY id`,
      [String(unitId), String(panel.id), String(lot.id)],
    );
    expect(audit.rows.map((r) => `${r.action}:${r.entity}`)).toEqual([
      'hold:unit', 'hold:panel', 'hold:production_lot', 'release_hold:unit', 'release_hold:panel', 'release_hold:production_lot',
    ]);
  });

  it('STEP_IN_PROGRESS: started at one station, refused at another of the same type', async () => {
    const m = await makeReleasedWorkOrder({ lineTypes: ['printer', 'placement', 'aoi', 'rework'] });
    const second = await s().factory.stations.create(system, { lineId: m.line.id, code: uniq('ST-printer2-'), name: 'printer 2', type: 'printer' });
    const serial = await unitOf(m);
    await t().start(system, { stationId: m.stations.printer!.id, identifier: serial });
    const v = await t().validate(system, { stationId: second.id, identifier: serial });
    expect(v.primary).toMatchObject({ code: 'STEP_IN_PROGRESS', number: 1070 });
    expect(v.primary!.message).toContain(m.stations.printer!.code);
    expect(await codes(m, 'printer', serial)).toEqual([]);
  });

  it('STEP_ALREADY_PASSED and STEP_OUT_OF_ORDER, naming the missing step', async () => {
    const m = await makeReleasedWorkOrder();
    const serial = await unitOf(m);
    const v = await t().validate(system, { stationId: m.stations.aoi!.id, identifier: serial });
    expect(v.primary).toMatchObject({ code: 'STEP_OUT_OF_ORDER', number: 1072 });
    expect(v.primary!.message).toContain('step 10 Print, step 20 Place before step 30 AOI');
    await pass(m, 'printer', serial);
    expect(await codes(m, 'printer', serial)).toEqual(['STEP_ALREADY_PASSED']);
    // A repair loop that returns to an earlier step makes it due again.
  });

  it('a repair loop may send a unit back to a step it already passed', async () => {
    const route: RouteStepInput[] = [
      { seq: 10, name: 'Place', stationType: 'placement' },
      { seq: 20, name: 'AOI', stationType: 'aoi' },
      { seq: 30, name: 'ICT', stationType: 'ict', onFail: 'repair', repairStepSeq: 90, returnStepSeq: 20 },
      { seq: 90, name: 'Repair', stationType: 'rework', isRepair: true },
    ];
    const m = await makeReleasedWorkOrder({ route });
    const serial = await unitOf(m);
    await pass(m, 'placement', serial);
    await pass(m, 'aoi', serial);
    expect(await codes(m, 'aoi', serial)).toEqual(['STEP_ALREADY_PASSED']);
    await pass(m, 'ict', serial, 'fail');
    await pass(m, 'rework', serial);
    expect(await codes(m, 'aoi', serial)).toEqual([]);
    expect(await codes(m, 'ict', serial)).toEqual(['STEP_OUT_OF_ORDER']);
  });

  it('optional and sampled steps may be left out; required ones may not', async () => {
    const m = await makeReleasedWorkOrder({
      route: [
        { seq: 10, name: 'Place', stationType: 'placement' },
        { seq: 20, name: 'SPI', stationType: 'spi', required: false },
        { seq: 30, name: 'AOI', stationType: 'aoi', samplingRate: 0.1 },
        { seq: 40, name: 'ICT', stationType: 'ict' },
        { seq: 50, name: 'Pack', stationType: 'packing' },
      ],
    });
    const serial = await unitOf(m);
    await pass(m, 'placement', serial);
    const r = await pass(m, 'ict', serial);
    expect(r.records[0]).toMatchObject({ stepSeq: 40, nextStepSeq: 50 });
    expect(await codes(m, 'aoi', serial)).toEqual(['STEP_OUT_OF_ORDER']);
    const other = await unitOf(m);
    expect(await codes(m, 'packing', other)).toEqual(['STEP_OUT_OF_ORDER']);
  });

  it('PROGRAM_MISMATCH: the reported program must be one the basis prescribes for the step', async () => {
    const m = await makeReleasedWorkOrder();
    const serial = await unitOf(m);
    await pass(m, 'printer', serial);
    expect(await codes(m, 'placement', serial, { programName: m.program.name, programRevision: '1' })).toEqual([]);
    expect(await codes(m, 'placement', serial, { programRevision: '1' })).toEqual([]);
    expect(await codes(m, 'placement', serial, { programName: m.program.name, programRevision: '2' })).toEqual(['PROGRAM_MISMATCH']);
    expect(await codes(m, 'placement', serial, { programName: 'OTHER', programRevision: '1' })).toEqual(['PROGRAM_MISMATCH']);
    // Program revision 2 released after the work order: the frozen basis still prescribes revision 1.
    const p2 = await s().products.createProgram(system, { productRevisionId: m.revision.id, name: m.program.name, revision: '2', kind: 'placement', stationType: 'placement', slots: m.partIpns.map((ipn, i) => ({ slot: `S${i + 1}`, ipn })) });
    await s().products.setProgramState(system, p2.id, 'released');
    expect(await codes(m, 'placement', serial, { programName: m.program.name, programRevision: '2' })).toEqual(['PROGRAM_MISMATCH']);
    const e = await t().complete(system, { stationId: m.stations.placement!.id, identifier: serial, result: 'pass', programName: m.program.name, programRevision: '2' }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'INTERLOCK_REFUSED', details: { verdict: { primary: { code: 'PROGRAM_MISMATCH', number: 1080 } } } });
    const ok = await t().complete(system, { stationId: m.stations.placement!.id, identifier: serial, result: 'pass', programName: m.program.name, programRevision: '1' });
    const rec = (await t().getUnit(serial)).history.find((h) => h.id === ok.records[0]!.recordId)!;
    expect([rec.programName, rec.programRevision]).toEqual([m.program.name, '1']);
  });

  it('FIRST_ARTICLE_PENDING: on a gated step the first unit goes alone until it passes', async () => {
    const m = await makeReleasedWorkOrder({
      route: [
        { seq: 10, name: 'Place', stationType: 'placement', firstArticleGate: true },
        { seq: 20, name: 'AOI', stationType: 'aoi' },
      ],
    });
    const [first, second] = (await t().generateUnits(system, { workOrder: m.wo.id, count: 2 })).serials as [string, string];
    expect(await codes(m, 'placement', second)).toEqual([]); // nobody claimed the first article yet
    await t().start(system, { stationId: m.stations.placement!.id, identifier: first });
    const v = await t().validate(system, { stationId: m.stations.placement!.id, identifier: second });
    expect(v.primary).toMatchObject({ code: 'FIRST_ARTICLE_PENDING', number: 1300 });
    const refused = await t().complete(system, { stationId: m.stations.placement!.id, identifier: second, result: 'pass' }).catch((x: unknown) => x);
    expect(refused).toMatchObject({ code: 'INTERLOCK_REFUSED' });
    await pass(m, 'placement', first);
    expect(await codes(m, 'placement', second)).toEqual([]);
    await pass(m, 'placement', second);
  });
});

describe('registering rules', () => {
  it('a later module adds a rule (with a prepare hook run once per call) before a named rule', async () => {
    const m = await makeReleasedWorkOrder();
    const panel = await t().createPanel(system, { workOrder: m.wo.id, code: uniq('PNL'), positions: 3 });
    const db = new Db(inject('databaseUrl'), 2);
    try {
      const tracking = createTrackingService(db, { workOrders: s().workOrders });
      let prepared = 0;
      const setupRule: InterlockRule = {
        code: 'SETUP_NOT_VERIFIED', number: 1401, title: 'The station setup is not verified', phases: ['validate', 'start'],
        prepare: async (q, call) => {
          prepared++;
          const r = await q.query<{ n: number }>('SELECT 0 AS n');
          call.data.set('SETUP_NOT_VERIFIED', r.rows[0]!.n === 0 ? new Set([call.station.id]) : new Set());
        },
        check: (_s, call) => ((call.data.get('SETUP_NOT_VERIFIED') as Set<number>).has(call.station.id) ? `the setup of station ${call.station.code} is not verified` : null),
      };
      tracking.registerInterlockRule(setupRule, { before: 'STEP_ALREADY_PASSED' });
      const order = tracking.interlockRules().map((r) => r.code);
      expect(order.indexOf('SETUP_NOT_VERIFIED')).toBe(order.indexOf('STEP_ALREADY_PASSED') - 1);
      expect(tracking.interlockReasons().find((r) => r.code === 'SETUP_NOT_VERIFIED')).toEqual({ code: 'SETUP_NOT_VERIFIED', number: 1401, title: 'The station setup is not verified' });
      const v = await tracking.validate(system, { stationId: m.stations.printer!.id, identifier: panel.code });
      expect(prepared).toBe(1);
      expect(v.units.map((u) => u.refusals.map((r) => r.code))).toEqual([['SETUP_NOT_VERIFIED'], ['SETUP_NOT_VERIFIED'], ['SETUP_NOT_VERIFIED']]);
      // Not in the complete phase: the rule said so.
      const done = await tracking.complete(system, { stationId: m.stations.printer!.id, identifier: panel.code, result: 'pass' });
      expect(done.records).toHaveLength(3);
      // Other services are untouched.
      expect(t().interlockRules().some((r) => r.code === 'SETUP_NOT_VERIFIED')).toBe(false);
      expect(s().tracking.interlockRules().some((r) => r.code === 'SETUP_NOT_VERIFIED')).toBe(false);
    } finally {
      await db.close();
    }
  });

  it('refuses duplicate codes, duplicate numbers, wrong numbers for built-in codes and unknown anchors', () => {
    const set = createRuleSet();
    const rule = (code: string, number: number): InterlockRule => ({ code, number, check: () => null });
    expect(() => set.register(rule('UNIT_ON_HOLD', 1999))).toThrow(/already registered/);
    expect(() => set.register(rule('NEW_ONE', 1060))).toThrow(/already used by UNIT_ON_HOLD/);
    expect(() => set.register(rule('NEW_ONE', 1001))).toThrow(/reserved/);
    expect(() => set.register(rule('NEW_ONE', 1999), { after: 'NOPE' })).toThrow(/not registered/);
    const fresh = createRuleSet([]);
    expect(() => fresh.register(rule('UNIT_ON_HOLD', 1999))).toThrow(/must use its number 1060/);
    set.register(rule('NEW_ONE', 1999), { after: 'UNIT_SKIPPED' });
    expect(set.list()[1]!.code).toBe('NEW_ONE');
  });
});
