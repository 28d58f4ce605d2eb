import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Db } from '../../src/platform/db.ts';
import { AppError } from '../../src/platform/errors.ts';
import type { App } from '../../src/platform/http.ts';
import { createServices } from '../../src/main.ts';
import { createTrackingService, type TrackingService } from '../../src/modules/tracking/index.ts';
import { bearer, makeReleasedWorkOrder, system, testApp, testConfig, testDb, testServices, tokenFor, uniq } from '../helpers.ts';
import { inject } from 'vitest';

/** Units moving through a routed line: start / complete, repair loops, panels, the race, WIP, station-bound tokens. */

const s = () => testServices();
/** This module's rules only: other modules (quality, materials) register more into the app's tracking service. */
let own: TrackingService | undefined;
const t = () => (own ??= createTrackingService(testDb(), { workOrders: testServices().workOrders }));

async function refusalOf(p: Promise<unknown>): Promise<AppError> {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(AppError);
  return e as AppError;
}
const codesOf = (e: AppError) => ((e.details as { verdict: { units: { refusals: { code: string }[] }[] } }).verdict.units.flatMap((u) => u.refusals.map((r) => r.code)));

describe('a unit through its route', () => {
  it('passes printer → placement → AOI, appending one process record per passage, and completes', async () => {
    const { wo, stations } = await makeReleasedWorkOrder();
    const [serial] = (await t().generateUnits(system, { workOrder: wo.id, count: 1 })).serials as [string];
    for (const [type, next] of [['printer', 20], ['placement', 30], ['aoi', null]] as const) {
      const started = await t().start(system, { stationId: stations[type]!.id, identifier: serial, operator: 'op-7' });
      expect(started.go).toBe(true);
      const r = await t().complete(system, { stationId: stations[type]!.id, identifier: serial, result: 'pass' });
      expect(r.records).toHaveLength(1);
      expect(r.records[0]!.nextStepSeq).toBe(next);
    }
    const unit = await t().getUnit(serial);
    expect(unit.status).toBe('completed');
    expect(unit.visits).toBe(3);
    expect(unit.passedSteps).toEqual([10, 20, 30]);
    expect(unit.history.map((h) => [h.visit, h.stepSeq, h.stationCode, h.result, h.outcome])).toEqual([
      [1, 10, stations.printer!.code, 'pass', 'next'],
      [2, 20, stations.placement!.code, 'pass', 'next'],
      [3, 30, stations.aoi!.code, 'pass', 'completed'],
    ]);
    expect(unit.history.every((h) => h.startedAt !== null && new Date(h.startedAt) <= new Date(h.completedAt))).toBe(true);
    expect(unit.history.every((h) => h.basisId === wo.basisId)).toBe(true);
    // The first passage moved the work order to in progress, audited.
    expect((await s().workOrders.get(wo.id)).state).toBe('in_progress');
    const audit = await testDb().query<{ action: string; reason: string }>(`SELECT action, reason FROM audit_log WHERE entity = 'work_order' AND entity_id = $1 ORDER BY id`, [String(wo.id)]);
    expect(audit.rows.map((r) => r.action)).toEqual(['create', 'release', 'create_units', 'start']);
  });

  it('keeps process records append-only: UPDATE and DELETE are refused by the database', async () => {
    const { wo, stations } = await makeReleasedWorkOrder();
    const [serial] = (await t().generateUnits(system, { workOrder: wo.id, count: 1 })).serials as [string];
    const r = await t().complete(system, { stationId: stations.printer!.id, identifier: serial, result: 'pass' });
    const id = r.records[0]!.recordId;
    await expect(testDb().query(`UPDATE process_records SET result = 'fail' WHERE id = $1`, [id])).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(testDb().query('DELETE FROM process_records WHERE id = $1', [id])).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect((await testDb().one<{ result: string }>('SELECT result FROM process_records WHERE id = $1', [id]))!.result).toBe('pass');
  });

  it('routes failures into the repair loop and back, up to maxRepairLoops, then holds the unit', async () => {
    const { wo, stations } = await makeReleasedWorkOrder({
      route: [
        { seq: 10, name: 'Place', stationType: 'placement' },
        { seq: 20, name: 'AOI', stationType: 'aoi', onFail: 'repair', repairStepSeq: 90, returnStepSeq: 20, maxRepairLoops: 2 },
        { seq: 30, name: 'ICT', stationType: 'ict' },
        { seq: 90, name: 'Repair', stationType: 'rework', isRepair: true },
      ],
    });
    const [serial] = (await t().generateUnits(system, { workOrder: wo.id, count: 1 })).serials as [string];
    const at = (type: string, result: 'pass' | 'fail' | 'scrap') => t().complete(system, { stationId: stations[type]!.id, identifier: serial, result });
    await at('placement', 'pass');
    for (const loop of [1, 2]) {
      const f = await at('aoi', 'fail');
      expect(f.records[0]).toMatchObject({ outcome: 'repair', nextStepSeq: 90, status: 'queued' });
      // In the loop the unit may not skip the repair.
      expect((await t().validate(system, { stationId: stations.ict!.id, identifier: serial })).primary?.code).toBe('STEP_OUT_OF_ORDER');
      const r = await at('rework', 'pass');
      expect(r.records[0]).toMatchObject({ outcome: 'returned', nextStepSeq: 20 });
      expect((await t().getUnit(serial)).repairLoops).toEqual({ '20': loop });
    }
    const last = await at('aoi', 'fail');
    expect(last.records[0]).toMatchObject({ outcome: 'loops_exhausted', status: 'failed', onHold: true });
    const v = await t().validate(system, { stationId: stations.rework!.id, identifier: serial });
    expect(v.go).toBe(false);
    expect(v.primary?.code).toBe('REPAIR_LOOPS_EXHAUSTED');
    expect(v.units[0]!.refusals.map((r) => r.code)).toContain('UNIT_ON_HOLD');
    const unit = await t().getUnit(serial);
    expect(unit.history.map((h) => h.outcome)).toEqual(['next', 'repair', 'returned', 'repair', 'returned', 'loops_exhausted']);
    expect(unit.history.filter((h) => h.outcome === 'repair').map((h) => h.repairLoop)).toEqual([1, 2]);
  });

  it('holds a unit whose step says hold on failure, and scraps where it says scrap', async () => {
    const { wo, stations } = await makeReleasedWorkOrder({
      route: [
        { seq: 10, name: 'Place', stationType: 'placement', onFail: 'scrap' },
        { seq: 20, name: 'ICT', stationType: 'ict', onFail: 'hold' },
      ],
    });
    const [a, b] = (await t().generateUnits(system, { workOrder: wo.id, count: 2 })).serials as [string, string];
    await t().complete(system, { stationId: stations.placement!.id, identifier: a, result: 'pass' });
    const held = await t().complete(system, { stationId: stations.ict!.id, identifier: a, result: 'fail' });
    expect(held.records[0]).toMatchObject({ outcome: 'hold', status: 'failed', onHold: true });
    const va = await t().validate(system, { stationId: stations.ict!.id, identifier: a });
    expect(va.units[0]!.refusals.map((r) => r.code)).toEqual(['FAILED_NO_DISPOSITION', 'UNIT_ON_HOLD']);
    const scrapped = await t().complete(system, { stationId: stations.placement!.id, identifier: b, result: 'fail' });
    expect(scrapped.records[0]).toMatchObject({ outcome: 'scrap', status: 'scrapped', nextStepSeq: null });
    expect((await t().validate(system, { stationId: stations.ict!.id, identifier: b })).primary?.code).toBe('UNIT_SCRAPPED');
  });
});

describe('panels', () => {
  it('applies operations to the panel\'s units, skips X-out positions and keeps per-position results', async () => {
    const { wo, stations } = await makeReleasedWorkOrder({ quantity: 10 });
    const code = uniq('PNL');
    const panel = await t().createPanel(system, { workOrder: wo.number, code, positions: 4, skipped: [2] });
    expect(panel.units.map((u) => [u.position, u.status])).toEqual([[1, 'queued'], [2, 'skipped'], [3, 'queued'], [4, 'queued']]);
    // X-out positions do not count against the quantity.
    expect((await s().workOrders.get(wo.id)).unitsCreated).toBe(3);

    const v = await t().validate(system, { stationId: stations.printer!.id, identifier: code });
    expect(v).toMatchObject({ kind: 'panel', go: true, result: 'passed' });
    expect(v.units.map((u) => [u.position, u.result])).toEqual([[1, 'passed'], [2, 'skipped'], [3, 'passed'], [4, 'passed']]);

    await t().complete(system, { stationId: stations.printer!.id, identifier: code, result: 'pass' });
    const placed = await t().complete(system, { stationId: stations.placement!.id, identifier: code, result: 'pass' });
    expect(placed.records.map((r) => r.position)).toEqual([1, 3, 4]);
    const aoi = await t().complete(system, { stationId: stations.aoi!.id, identifier: code, result: 'pass', positions: [{ position: 3, result: 'fail' }] });
    expect(aoi.records.map((r) => [r.position, r.result, r.outcome])).toEqual([[1, 'pass', 'completed'], [3, 'fail', 'repair'], [4, 'pass', 'completed']]);

    const after = await t().getPanel(code);
    expect(after.units.map((u) => [u.position, u.status, u.nextStepSeq])).toEqual([[1, 'completed', null], [2, 'skipped', null], [3, 'queued', 90], [4, 'completed', null]]);
    // Per-position records carry the panel and position.
    const rec = await testDb().query<{ panel_position: number; result: string }>(
      `SELECT r.panel_position, r.result FROM process_records r JOIN panels p ON p.id = r.panel_id WHERE p.code = $1 AND r.step_seq = 30 ORDER BY 1`, [code]);
    expect(rec.rows).toEqual([{ panel_position: 1, result: 'pass' }, { panel_position: 3, result: 'fail' }, { panel_position: 4, result: 'pass' }]);
    // A board that has been processed cannot be declared X-out afterwards.
    expect((await refusalOf(t().skipPosition(system, code, 3, 'bad board'))).code).toBe('STATE_CONFLICT');
  });

  it('marks a position X-out before processing, freeing its quantity, and refuses a position that does not exist', async () => {
    const { wo, stations } = await makeReleasedWorkOrder({ quantity: 3 });
    const code = uniq('PNL');
    await t().createPanel(system, { workOrder: wo.id, code, positions: 3 });
    expect((await refusalOf(t().generateUnits(system, { workOrder: wo.id, count: 1 }))).code).toBe('QUANTITY_EXCEEDED');
    const p = await t().skipPosition(system, code, 2, 'X-out marked by the PCB supplier');
    expect(p.units[1]!.status).toBe('skipped');
    expect((await s().workOrders.get(wo.id)).unitsCreated).toBe(2);
    await t().generateUnits(system, { workOrder: wo.id, count: 1 });
    const bad = await refusalOf(t().complete(system, { stationId: stations.printer!.id, identifier: code, result: 'pass', positions: [{ position: 9, result: 'fail' }] }));
    expect(bad.code).toBe('VALIDATION_FAILED');
    const audit = await testDb().query(`SELECT 1 FROM audit_log WHERE action = 'skip_position' AND reason = 'X-out marked by the PCB supplier'`);
    expect(audit.rowCount).toBe(1);
  });

  it('refuses the whole panel when one processable position is refused', async () => {
    const { wo, stations } = await makeReleasedWorkOrder();
    const code = uniq('PNL');
    const panel = await t().createPanel(system, { workOrder: wo.id, code, positions: 3 });
    await t().setHold(system, { scope: 'unit', identifier: panel.units[1]!.serial, hold: true, reason: 'suspect solder paste' });
    const v = await t().validate(system, { stationId: stations.printer!.id, identifier: code });
    expect(v).toMatchObject({ go: false, result: 'partial' });
    expect(v.units.map((u) => u.result)).toEqual(['passed', 'failed', 'passed']);
    const e = await refusalOf(t().complete(system, { stationId: stations.printer!.id, identifier: code, result: 'pass' }));
    expect(e.code).toBe('INTERLOCK_REFUSED');
    expect(codesOf(e)).toEqual(['UNIT_ON_HOLD']);
    expect((await testDb().query('SELECT 1 FROM process_records r JOIN units u ON u.id = r.unit_id WHERE u.panel_id = $1', [panel.id])).rowCount).toBe(0);
  });
});

describe('concurrency', () => {
  // A work order's first passage takes the locked path; later ones the compare-and-set path. Race both.
  for (const path of ['locked (first passage of the work order)', 'compare-and-set (work order in progress)']) {
  it(`of many parallel completes of one step of one unit, from two MES instances, exactly one wins: ${path}`, async () => {
    const { wo, stations } = await makeReleasedWorkOrder();
    const [serial, other0] = (await t().generateUnits(system, { workOrder: wo.id, count: 2 })).serials as [string, string];
    if (path.startsWith('compare')) await t().complete(system, { stationId: stations.printer!.id, identifier: other0, result: 'pass' });
    // A second, independent instance: its own pool and its own caches, same database.
    const otherDb = new Db(inject('databaseUrl'), 10);
    const other = { tracking: createTrackingService(otherDb, { workOrders: createServices(otherDb, testConfig()).workOrders }) };
    try {
      const attempts = Array.from({ length: 24 }, (_, i) =>
        (i % 2 ? other.tracking : t()).complete(system, { stationId: stations.printer!.id, identifier: serial, result: 'pass' }).then(
          () => 'ok',
          (e: unknown) => e,
        ),
      );
      const results = await Promise.all(attempts);
      const wins = results.filter((r) => r === 'ok');
      const losses = results.filter((r) => r !== 'ok') as AppError[];
      expect(wins).toHaveLength(1);
      expect(losses).toHaveLength(23);
      for (const e of losses) {
        expect(e).toBeInstanceOf(AppError);
        expect(e.status).toBe(409);
        expect(e.code).toBe('INTERLOCK_REFUSED');
        expect(codesOf(e)).toEqual(['STEP_ALREADY_PASSED']);
      }
      const unit = await t().getUnit(serial);
      expect(unit.visits).toBe(1);
      expect(unit.history).toHaveLength(1);
      expect(unit.nextStepSeq).toBe(20);
      const refused = await testDb().one<{ n: number }>(`SELECT count(*)::int AS n FROM interlock_refusals WHERE identifier = $1 AND phase = 'complete'`, [serial]);
      expect(refused!.n).toBe(23);
    } finally {
      await otherDb.close();
    }
  });
  }

  it('the (unit, visit) key refuses a second record of the same visit even without the service', async () => {
    const { wo, stations } = await makeReleasedWorkOrder();
    const [serial] = (await t().generateUnits(system, { workOrder: wo.id, count: 1 })).serials as [string];
    await t().complete(system, { stationId: stations.printer!.id, identifier: serial, result: 'pass' });
    const e = await testDb()
      .query(
        `INSERT INTO process_records (unit_id, visit, work_order_id, basis_id, step_seq, step_name, station_id, actor_kind, actor_name, result, outcome, completed_at)
         SELECT u.id, 1, u.work_order_id, $2, 10, 'Print', $3, 'system', 'x', 'pass', 'next', now() FROM units u WHERE u.serial = $1`,
        [serial, wo.basisId, stations.printer!.id],
      )
      .catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'DUPLICATE', status: 409 });
  });
});

describe('WIP', () => {
  it('counts units per step and state, and work-order progress', async () => {
    const { wo, stations, line } = await makeReleasedWorkOrder({ quantity: 6 });
    const serials = (await t().generateUnits(system, { workOrder: wo.id, count: 6 })).serials;
    const done = (serial: string, type: string, result: 'pass' | 'fail' | 'scrap' = 'pass') => t().complete(system, { stationId: stations[type]!.id, identifier: serial, result });
    // 0: completed; 1: at AOI; 2: in process at placement; 3: in repair; 4: scrapped; 5: untouched
    for (const t of ['printer', 'placement', 'aoi']) await done(serials[0]!, t);
    for (const t of ['printer', 'placement']) await done(serials[1]!, t);
    await done(serials[2]!, 'printer');
    await t().start(system, { stationId: stations.placement!.id, identifier: serials[2]! });
    for (const t of ['printer', 'placement']) await done(serials[3]!, t);
    await done(serials[3]!, 'aoi', 'fail');
    await done(serials[4]!, 'printer', 'scrap');
    await t().setHold(system, { scope: 'unit', identifier: serials[5]!, hold: true, reason: 'wrong label' });

    const wip = await t().wipForWorkOrder(wo.id);
    expect(wip.progress).toEqual({
      quantity: 6, maxUnits: 6, created: 6, skipped: 0, started: 5, queued: 3, inProcess: 1, passed: 1, failed: 0, scrapped: 1, onHold: 1, remaining: 5,
    });
    const bySeq = Object.fromEntries(wip.steps.map((x) => [x.seq, [x.queued, x.inProcess, x.failed, x.onHold]]));
    expect(bySeq).toEqual({ 10: [1, 0, 0, 1], 20: [0, 1, 0, 0], 30: [1, 0, 0, 0], 90: [1, 0, 0, 0] });

    const lw = await t().wipForLine(line.id);
    expect(lw.activeWorkOrder).toEqual({ id: wo.id, number: wo.number });
    const st = Object.fromEntries(lw.stations.map((x) => [x.type, [x.inProcess, x.waiting]]));
    expect(st.placement).toEqual([1, 0]);
    expect(st.aoi).toEqual([0, 1]);
    expect(st.rework).toEqual([0, 1]);
    expect(st.printer).toEqual([0, 0]); // the only unit waiting for the printer is on hold
    expect(lw.stations.find((x) => x.type === 'placement')!.inProcessSerials).toEqual([serials[2]]);
    expect(lw.workOrders).toHaveLength(1);
    expect(lw.workOrders[0]!.progress.passed).toBe(1);
  });
});

describe('over HTTP', () => {
  let app: App;
  beforeAll(async () => {
    app = await testApp();
  });
  afterAll(async () => app.close());

  it('a station-bound machine token may act only for its stations', async () => {
    const { wo, stations } = await makeReleasedWorkOrder();
    const [serial] = (await s().tracking.generateUnits(system, { workOrder: wo.id, count: 1 })).serials as [string];
    const t = await s().auth.createToken(system, { name: uniq('printer-'), role: 'machine', stationCodes: [stations.printer!.code] });
    const ok = await app.inject({ method: 'POST', url: '/api/v1/tracking/validate', headers: bearer(t.token), payload: { station: stations.printer!.code, identifier: serial } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ go: true, kind: 'unit', units: [{ serial, result: 'passed', step: { seq: 10 } }] });
    for (const url of ['/api/v1/tracking/validate', '/api/v1/tracking/start', '/api/v1/tracking/complete']) {
      const res = await app.inject({ method: 'POST', url, headers: bearer(t.token), payload: { stationId: stations.placement!.id, identifier: serial, ...(url.endsWith('complete') ? { result: 'pass' } : {}) } });
      expect(res.statusCode).toBe(403);
      expect(res.json().code).toBe('STATION_NOT_PERMITTED');
    }
    const done = await app.inject({ method: 'POST', url: '/api/v1/tracking/complete', headers: bearer(t.token), payload: { stationId: stations.printer!.id, identifier: serial, result: 'pass', operator: 'badge-17' } });
    expect(done.statusCode).toBe(200);
    expect(done.json().records[0]).toMatchObject({ stepSeq: 10, outcome: 'next', nextStepSeq: 20 });
    const again = await app.inject({ method: 'POST', url: '/api/v1/tracking/complete', headers: bearer(t.token), payload: { stationId: stations.printer!.id, identifier: serial, result: 'pass' } });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: 'INTERLOCK_REFUSED', details: { verdict: { primary: { code: 'STEP_ALREADY_PASSED', number: 1071 } } } });
    const unit = await app.inject({ method: 'GET', url: `/api/v1/units/${serial}`, headers: bearer(await tokenFor('viewer')) });
    expect(unit.json().history[0]).toMatchObject({ operator: 'badge-17', actorName: t.info.name, stationCode: stations.printer!.code });
  });

  it('a validate no-go is a 200 answer with reasons; viewers may not validate', async () => {
    const { stations } = await makeReleasedWorkOrder();
    const res = await app.inject({ method: 'POST', url: '/api/v1/tracking/validate', headers: bearer(await tokenFor('operator')), payload: { stationId: stations.printer!.id, identifier: 'NO-SUCH-UNIT' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ go: false, kind: 'unknown', primary: { code: 'UNKNOWN_UNIT', number: 1001 } });
    const viewer = await app.inject({ method: 'POST', url: '/api/v1/tracking/validate', headers: bearer(await tokenFor('viewer')), payload: { stationId: stations.printer!.id, identifier: 'X' } });
    expect(viewer.statusCode).toBe(403);
  });

  it('creates units, panels and lots and reads WIP over REST', async () => {
    const { wo, stations } = await makeReleasedWorkOrder({ quantity: 5 });
    const op = bearer(await tokenFor('operator'));
    const lot = await app.inject({ method: 'POST', url: '/api/v1/lots', headers: op, payload: { workOrder: wo.number, code: uniq('LOT') } });
    expect(lot.statusCode).toBe(201);
    const gen = await app.inject({ method: 'POST', url: '/api/v1/units/generate', headers: op, payload: { workOrder: wo.id, count: 2, lotId: lot.json().id } });
    expect(gen.statusCode).toBe(201);
    expect(gen.json().serials).toHaveLength(2);
    const panel = await app.inject({ method: 'POST', url: '/api/v1/panels', headers: op, payload: { workOrder: wo.id, code: uniq('PNL'), positions: 4, skipped: [4] } });
    expect(panel.statusCode).toBe(201);
    const over = await app.inject({ method: 'POST', url: '/api/v1/units/generate', headers: op, payload: { workOrder: wo.id, count: 1 } });
    expect(over.statusCode).toBe(409);
    expect(over.json().code).toBe('QUANTITY_EXCEEDED');
    await app.inject({ method: 'POST', url: '/api/v1/tracking/complete', headers: op, payload: { stationId: stations.printer!.id, identifier: panel.json().code, result: 'pass' } });
    const wip = await app.inject({ method: 'GET', url: `/api/v1/wip/work-orders/${wo.id}`, headers: op });
    expect(wip.statusCode).toBe(200);
    expect(wip.json().progress).toMatchObject({ created: 5, skipped: 1, started: 3, queued: 5 });
    expect((await app.inject({ method: 'GET', url: `/api/v1/lots/${lot.json().id}`, headers: op })).json().units).toBe(2);
    const reasons = await app.inject({ method: 'GET', url: '/api/v1/tracking/reasons', headers: op });
    expect(reasons.json()[0]).toEqual({ code: 'UNKNOWN_UNIT', number: 1001, title: expect.any(String) });
  });
});
