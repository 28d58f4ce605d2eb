import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Db } from '../../src/platform/db.ts';
import type { AppError } from '../../src/platform/errors.ts';
import type { App } from '../../src/platform/http.ts';
import { createServices } from '../../src/main.ts';
import { createTrackingService, type BatchResult, type CompleteResult, type TrackingService } from '../../src/modules/tracking/index.ts';
import { bearer, makeReleasedWorkOrder, system, testApp, testConfig, testDb, testServices, tokenFor, uniq } from '../helpers.ts';

/** Set-based start / complete: many passages in one call, each with its own verdict. */

const s = () => testServices();
let own: TrackingService | undefined;
const t = () => (own ??= createTrackingService(testDb(), { workOrders: testServices().workOrders }));

const codes = (r: BatchResult<unknown>) => {
  expect(r.ok).toBe(false);
  const e = (r as { error: AppError }).error;
  return ((e.details as { verdict: { units: { refusals: { code: string }[] }[] } } | undefined)?.verdict.units ?? []).flatMap((u) => u.refusals.map((x) => x.code));
};
const value = <T>(r: BatchResult<T>): T => {
  expect(r.ok).toBe(true);
  return (r as { value: T }).value;
};

describe('completeBatch', () => {
  it('when the locked part of a round fails, the units already written keep their results and the others carry the error', async () => {
    const { wo, stations } = await makeReleasedWorkOrder({ quantity: 6 });
    const serials = (await t().generateUnits(system, { workOrder: wo.id, count: 2 })).serials;
    const panel = await t().createPanel(system, { workOrder: wo.id, code: uniq('PNL'), positions: 2 });
    const p = stations.printer!.id;
    // The work order's first passage (taken under locks) before the batch: serials[1] is then a simple passage.
    await t().complete(system, { stationId: p, identifier: serials[0]!, result: 'pass' });
    // Tracking on a connection that waits at most 300 ms for a row lock; another session holds the panel's units.
    const url = new URL(inject('databaseUrl'));
    url.searchParams.set('options', '-c lock_timeout=300');
    const impatient = new Db(url.toString(), 4);
    const holder = await testDb().pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM units WHERE panel_id = $1 FOR UPDATE', [panel.id]);
      const tracking = createTrackingService(impatient, { workOrders: testServices().workOrders });
      const results = await tracking.completeBatch(system, [
        { stationId: p, identifier: serials[1]!, result: 'pass' },
        { stationId: p, identifier: panel.code, result: 'pass' }, // panels take the locked path
      ]);
      expect(value(results[0]!).records[0]).toMatchObject({ serial: serials[1], stepSeq: 10 });
      expect(results[1]).toMatchObject({ ok: false, error: { code: 'INTERNAL' } });
      expect((results[1] as { error: AppError }).error.message).toMatch(/lock/);
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
      await impatient.close();
    }
    const recs = await testDb().query<{ serial: string }>(`SELECT u.serial FROM process_records r JOIN units u ON u.id = r.unit_id WHERE u.work_order_id = $1 ORDER BY r.id`, [wo.id]);
    expect(recs.rows.map((r) => r.serial)).toEqual([serials[0], serials[1]]);
  });

  it('gives each unit its own verdict: refused ones are recorded and do not hold back the others', async () => {
    const { wo, stations } = await makeReleasedWorkOrder({ quantity: 6 });
    const serials = (await t().generateUnits(system, { workOrder: wo.id, count: 6 })).serials;
    // Move the work order into progress and one unit past the printer.
    await t().complete(system, { stationId: stations.printer!.id, identifier: serials[0]!, result: 'pass' });
    await t().setHold(system, { scope: 'unit', identifier: serials[2]!, hold: true, reason: 'suspect paste' });
    const p = stations.printer!.id;
    const results = await t().completeBatch(system, [
      { stationId: p, identifier: serials[1]!, result: 'pass' },
      { stationId: p, identifier: serials[0]!, result: 'pass' }, // already passed
      { stationId: p, identifier: serials[2]!, result: 'pass' }, // on hold
      { stationId: p, identifier: 'NO-SUCH-UNIT', result: 'pass' },
      { stationId: stations.aoi!.id, identifier: serials[3]!, result: 'pass' }, // out of order
      { stationId: p, identifier: serials[4]!, result: 'fail' },
      { stationId: 999_999_999, identifier: serials[5]!, result: 'pass' }, // unknown station
    ]);
    expect(results).toHaveLength(7);
    expect(value(results[0]!).records[0]).toMatchObject({ serial: serials[1], stepSeq: 10, outcome: 'next', nextStepSeq: 20 });
    expect(codes(results[1]!)).toEqual(['STEP_ALREADY_PASSED']);
    expect(codes(results[2]!)).toEqual(['UNIT_ON_HOLD']);
    expect(codes(results[3]!)).toEqual(['UNKNOWN_UNIT']);
    expect(codes(results[4]!)).toEqual(['STEP_OUT_OF_ORDER']);
    expect(value(results[5]!).records[0]).toMatchObject({ serial: serials[4], result: 'fail', stepSeq: 10 });
    expect(results[6]).toMatchObject({ ok: false, error: { code: 'NOT_FOUND', status: 404 } });
    // Exactly the go units have records; every refusal is kept.
    const recs = await testDb().query<{ serial: string }>(`SELECT u.serial FROM process_records r JOIN units u ON u.id = r.unit_id WHERE u.work_order_id = $1 ORDER BY r.id`, [wo.id]);
    expect(recs.rows.map((r) => r.serial)).toEqual([serials[0], serials[1], serials[4]]);
    const refused = await testDb().query<{ identifier: string; codes: string[] }>(
      `SELECT identifier, codes FROM interlock_refusals WHERE identifier = ANY($1) AND phase = 'complete' ORDER BY id`, [[...serials, 'NO-SUCH-UNIT']],
    );
    expect(refused.rows.map((r) => [r.identifier, r.codes])).toEqual([
      [serials[0], ['STEP_ALREADY_PASSED']], [serials[2], ['UNIT_ON_HOLD']], ['NO-SUCH-UNIT', ['UNKNOWN_UNIT']], [serials[3], ['STEP_OUT_OF_ORDER']],
    ]);
  });

  it('applies passages of the same unit in the order given: the same step twice is recorded once, successive steps both', async () => {
    const { wo, stations } = await makeReleasedWorkOrder({ quantity: 2 });
    const [a, b] = (await t().generateUnits(system, { workOrder: wo.id, count: 2 })).serials as [string, string];
    const results = await t().completeBatch(system, [
      { stationId: stations.printer!.id, identifier: a, result: 'pass' },
      { stationId: stations.printer!.id, identifier: a, result: 'pass' },
      { stationId: stations.printer!.id, identifier: b, result: 'pass' },
      { stationId: stations.placement!.id, identifier: b, result: 'pass' },
    ]);
    expect(value(results[0]!).records[0]!.visit).toBe(1);
    expect(codes(results[1]!)).toEqual(['STEP_ALREADY_PASSED']);
    expect(value(results[2]!).records[0]!.stepSeq).toBe(10);
    expect(value(results[3]!).records[0]).toMatchObject({ stepSeq: 20, visit: 2, nextStepSeq: 30 });
    expect((await t().getUnit(a)).history).toHaveLength(1);
    expect((await t().getUnit(b)).history.map((h) => h.stepSeq)).toEqual([10, 20]);
  });

  it('takes panels with skipped positions and per-position results, next to single units', async () => {
    const { wo, stations } = await makeReleasedWorkOrder({ quantity: 10 });
    const code = uniq('PNL');
    await t().createPanel(system, { workOrder: wo.id, code, positions: 4, skipped: [2] });
    const [single] = (await t().generateUnits(system, { workOrder: wo.id, count: 1 })).serials as [string];
    for (const type of ['printer', 'placement'] as const) {
      const r = await t().completeBatch(system, [
        { stationId: stations[type]!.id, identifier: code, result: 'pass' },
        { stationId: stations[type]!.id, identifier: single, result: 'pass' },
      ]);
      expect(value(r[0]!).records.map((x) => x.position)).toEqual([1, 3, 4]);
      expect(value(r[1]!).records).toHaveLength(1);
    }
    const [aoi] = await t().completeBatch(system, [{ stationId: stations.aoi!.id, identifier: code, result: 'pass', positions: [{ position: 3, result: 'fail' }] }]);
    const v = value(aoi!);
    expect(v.kind).toBe('panel');
    expect(v.units.map((u) => [u.position, u.result])).toEqual([[1, 'passed'], [2, 'skipped'], [3, 'passed'], [4, 'passed']]);
    expect(v.records.map((x) => [x.position, x.result, x.outcome])).toEqual([[1, 'pass', 'completed'], [3, 'fail', 'repair'], [4, 'pass', 'completed']]);
    const panel = await t().getPanel(code);
    expect(panel.units.map((u) => [u.position, u.status])).toEqual([[1, 'completed'], [2, 'skipped'], [3, 'queued'], [4, 'completed']]);
    // A panel and one of its own units in one batch: applied one after the other, never twice at once.
    const code2 = uniq('PNL');
    const p2 = await t().createPanel(system, { workOrder: wo.id, code: code2, positions: 2 });
    const both = await t().completeBatch(system, [
      { stationId: stations.printer!.id, identifier: code2, result: 'pass' },
      { stationId: stations.printer!.id, identifier: p2.units[0]!.serial, result: 'pass' },
    ]);
    expect(value(both[0]!).records).toHaveLength(2);
    expect(codes(both[1]!)).toEqual(['STEP_ALREADY_PASSED']);
    // An unknown position refuses only its own item.
    const bad = await t().completeBatch(system, [
      { stationId: stations.placement!.id, identifier: code2, result: 'pass', positions: [{ position: 9, result: 'fail' }] },
      { stationId: stations.aoi!.id, identifier: single, result: 'pass' },
    ]);
    expect(bad[0]).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED' } });
    expect(value(bad[1]!).records[0]!.outcome).toBe('completed');
  });

  it('never records more passages than units: a batch covering a whole work order at its quantity limit', async () => {
    const { wo, stations } = await makeReleasedWorkOrder({ quantity: 5 });
    const serials = (await t().generateUnits(system, { workOrder: wo.id, count: 5 })).serials;
    expect((await testServices().tracking.generateUnits(system, { workOrder: wo.id, count: 1 }).catch((e: AppError) => e.code))).toBe('QUANTITY_EXCEEDED');
    for (const type of ['printer', 'placement', 'aoi'] as const) {
      // Each unit twice: the second is refused, nothing is counted twice.
      const r = await t().completeBatch(system, [...serials, ...serials].map((identifier) => ({ stationId: stations[type]!.id, identifier, result: 'pass' as const })));
      expect(r.slice(0, 5).every((x) => x.ok)).toBe(true);
      expect(r.slice(5).map((x) => codes(x)[0])).toEqual(Array(5).fill('STEP_ALREADY_PASSED'));
    }
    const wip = await t().wipForWorkOrder(wo.id);
    expect(wip.progress).toMatchObject({ quantity: 5, created: 5, passed: 5, remaining: 0 });
    const n = await testDb().one<{ n: number }>('SELECT count(*)::int AS n FROM process_records WHERE work_order_id = $1', [wo.id]);
    expect(n!.n).toBe(15);
  });

  it('first passage of a work order (locked path) moves it into progress once, audited once', async () => {
    const { wo, stations } = await makeReleasedWorkOrder({ quantity: 4 });
    const serials = (await t().generateUnits(system, { workOrder: wo.id, count: 4 })).serials;
    const r = await t().completeBatch(system, serials.map((identifier) => ({ stationId: stations.printer!.id, identifier, result: 'pass' as const })));
    expect(r.every((x) => x.ok)).toBe(true);
    expect((await s().workOrders.get(wo.id)).state).toBe('in_progress');
    const audit = await testDb().query(`SELECT 1 FROM audit_log WHERE entity = 'work_order' AND entity_id = $1 AND action = 'start'`, [String(wo.id)]);
    expect(audit.rowCount).toBe(1);
  });

  for (const path of ['locked (first passage of the work order)', 'compare-and-set (work order in progress)']) {
    it(`of parallel batches completing the same unit, from two MES instances, exactly one wins: ${path}`, async () => {
      const { wo, stations } = await makeReleasedWorkOrder({ quantity: 30 });
      const serials = (await t().generateUnits(system, { workOrder: wo.id, count: 26 })).serials;
      if (path.startsWith('compare')) await t().complete(system, { stationId: stations.printer!.id, identifier: serials[25]!, result: 'pass' });
      const contested = serials[0]!;
      const otherDb = new Db(inject('databaseUrl'), 10);
      const other = createTrackingService(otherDb, { workOrders: createServices(otherDb, testConfig()).workOrders });
      try {
        // 12 batches, each with the contested unit and two units of its own.
        const batches = Array.from({ length: 12 }, (_, i) => [contested, serials[1 + 2 * i]!, serials[2 + 2 * i]!]);
        const results = await Promise.all(
          batches.map((ids, i) => (i % 2 ? other : t()).completeBatch(system, ids.map((identifier) => ({ stationId: stations.printer!.id, identifier, result: 'pass' as const })))),
        );
        const contestedWins = results.filter((r) => r[0]!.ok);
        expect(contestedWins).toHaveLength(1);
        for (const r of results) {
          if (!r[0]!.ok) expect(codes(r[0]!)).toEqual(['STEP_ALREADY_PASSED']);
          // The batch's other units went through regardless.
          expect([r[1], r[2]]).toEqual([expect.objectContaining({ ok: true }), expect.objectContaining({ ok: true })]);
        }
        const unit = await t().getUnit(contested);
        expect(unit.visits).toBe(1);
        expect(unit.history).toHaveLength(1);
        const records = await testDb().one<{ n: number; units: number }>('SELECT count(*)::int AS n, count(DISTINCT unit_id)::int AS units FROM process_records WHERE work_order_id = $1 AND step_seq = 10', [wo.id]);
        expect(records).toEqual({ n: path.startsWith('compare') ? 26 : 25, units: path.startsWith('compare') ? 26 : 25 });
      } finally {
        await otherDb.close();
      }
    });
  }
});

describe('startBatch, abort and scrap', () => {
  it('starts many units at once, each with its verdict; a started unit may be aborted and started again', async () => {
    const { wo, stations } = await makeReleasedWorkOrder({ quantity: 3 });
    const [a, b, c] = (await t().generateUnits(system, { workOrder: wo.id, count: 3 })).serials as [string, string, string];
    await t().start(system, { stationId: stations.printer!.id, identifier: c });
    const r = await t().startBatch(system, [
      { stationId: stations.printer!.id, identifier: a, operator: 'op-1' },
      { stationId: stations.placement!.id, identifier: b }, // out of order
      { stationId: stations.printer!.id, identifier: b },
    ]);
    expect(value(r[0]!).go).toBe(true);
    expect(codes(r[1]!)).toEqual(['STEP_OUT_OF_ORDER']);
    expect(value(r[2]!).go).toBe(true);
    expect((await t().getUnit(a)).status).toBe('in_process');
    // In process here: another station may not start it.
    const [elsewhere] = await t().startBatch(system, [{ stationId: stations.placement!.id, identifier: a }]);
    expect(codes(elsewhere!)).toContain('STEP_IN_PROGRESS');
    // Abort: back to waiting for the same step, audited, no process record.
    const wrong = await t().abort(system, { stationId: stations.placement!.id, identifier: a }).catch((e: AppError) => e);
    expect(wrong).toMatchObject({ code: 'STATE_CONFLICT' });
    const ab = await t().abort(system, { stationId: stations.printer!.id, identifier: a, reason: 'board jammed' });
    expect(ab.units).toEqual([expect.objectContaining({ serial: a, stepSeq: 10 })]);
    const unit = await t().getUnit(a);
    expect(unit).toMatchObject({ status: 'queued', nextStepSeq: 10, startedStationId: null, visits: 0 });
    expect(unit.history).toHaveLength(0);
    const audit = await testDb().query<{ reason: string }>(`SELECT reason FROM audit_log WHERE entity = 'unit' AND entity_id = $1 AND action = 'abort'`, [String(unit.id)]);
    expect(audit.rows).toEqual([{ reason: 'board jammed' }]);
    expect(await t().abort(system, { stationId: stations.printer!.id, identifier: a }).catch((e: AppError) => e)).toMatchObject({ code: 'STATE_CONFLICT', details: { inProcess: false } });
    expect((await t().start(system, { stationId: stations.printer!.id, identifier: a })).go).toBe(true);
    const done = await t().complete(system, { stationId: stations.printer!.id, identifier: a, result: 'pass' });
    expect(done.records[0]!.visit).toBe(1);
  });

  it('scraps a unit or a panel\'s live positions with a reason; the interlock then refuses them; repeating it changes nothing', async () => {
    const { wo, stations } = await makeReleasedWorkOrder({ quantity: 6 });
    const [u] = (await t().generateUnits(system, { workOrder: wo.id, count: 1 })).serials as [string];
    const code = uniq('PNL');
    await t().createPanel(system, { workOrder: wo.id, code, positions: 3, skipped: [3] });
    const r = await t().scrap(system, { stationId: stations.aoi!.id, identifier: u, reason: 'DefectiveRepairNotPossible' });
    expect(r.scrapped).toEqual([expect.objectContaining({ serial: u, before: 'queued' })]);
    expect((await t().validate(system, { stationId: stations.printer!.id, identifier: u })).primary?.code).toBe('UNIT_SCRAPPED');
    const again = await t().scrap(system, { identifier: u, reason: 'again' });
    expect(again).toMatchObject({ scrapped: [], unchanged: [{ serial: u, status: 'scrapped' }] });
    const p = await t().scrap(system, { identifier: code, reason: 'dropped' });
    expect(p.scrapped.map((x) => x.position)).toEqual([1, 2]);
    expect(p.unchanged.map((x) => [x.position, x.status])).toEqual([[3, 'skipped']]);
    const audit = await testDb().query(`SELECT 1 FROM audit_log WHERE action = 'scrap' AND reason = 'dropped'`);
    expect(audit.rowCount).toBe(2);
    expect(await t().scrap(system, { identifier: 'NO-SUCH', reason: 'x y z' }).catch((e: AppError) => e.code)).toBe('NOT_FOUND');
  });
});

describe('over HTTP', () => {
  let app: App;
  beforeAll(async () => {
    app = await testApp();
  });
  afterAll(async () => app.close());

  it('complete-batch and start-batch answer one result per item; a station-bound token is refused per item', async () => {
    const { wo, stations } = await makeReleasedWorkOrder({ quantity: 3 });
    const serials = (await s().tracking.generateUnits(system, { workOrder: wo.id, count: 3 })).serials;
    const tok = await s().auth.createToken(system, { name: uniq('printer-'), role: 'machine', stationCodes: [stations.printer!.code] });
    const started = await app.inject({
      method: 'POST', url: '/api/v1/tracking/start-batch', headers: bearer(tok.token),
      payload: { items: [{ stationId: stations.printer!.id, identifier: serials[0] }, { stationId: stations.placement!.id, identifier: serials[1] }] },
    });
    expect(started.statusCode).toBe(200);
    expect(started.json().results).toMatchObject([{ ok: true, value: { go: true } }, { ok: false, error: { code: 'STATION_NOT_PERMITTED', status: 403 } }]);
    const res = await app.inject({
      method: 'POST', url: '/api/v1/tracking/complete-batch', headers: bearer(tok.token),
      payload: { items: serials.map((identifier) => ({ stationId: stations.printer!.id, identifier, result: 'pass' })).concat([{ stationId: stations.printer!.id, identifier: serials[0]!, result: 'pass' }]) },
    });
    expect(res.statusCode).toBe(200);
    const results = res.json().results as BatchResult<CompleteResult>[];
    expect(results.slice(0, 3).map((r) => r.ok)).toEqual([true, true, true]);
    expect(results[3]).toMatchObject({ ok: false, error: { code: 'INTERLOCK_REFUSED', status: 409, details: { verdict: { primary: { code: 'STEP_ALREADY_PASSED' } } } } });
    const empty = await app.inject({ method: 'POST', url: '/api/v1/tracking/complete-batch', headers: bearer(await tokenFor('operator')), payload: { items: [] } });
    expect(empty.statusCode).toBe(400);
    const viewer = await app.inject({ method: 'POST', url: '/api/v1/tracking/complete-batch', headers: bearer(await tokenFor('viewer')), payload: { items: [{ stationId: 1, identifier: 'X', result: 'pass' }] } });
    expect(viewer.statusCode).toBe(403);
  });

  it('abort and scrap over REST', async () => {
    const { wo, stations } = await makeReleasedWorkOrder({ quantity: 2 });
    const [a, b] = (await s().tracking.generateUnits(system, { workOrder: wo.id, count: 2 })).serials as [string, string];
    const op = bearer(await tokenFor('operator'));
    await app.inject({ method: 'POST', url: '/api/v1/tracking/start', headers: op, payload: { stationId: stations.printer!.id, identifier: a } });
    const ab = await app.inject({ method: 'POST', url: '/api/v1/tracking/abort', headers: op, payload: { stationId: stations.printer!.id, identifier: a, reason: 'jam' } });
    expect(ab.statusCode).toBe(200);
    expect(ab.json()).toMatchObject({ identifier: a, units: [{ serial: a, stepSeq: 10 }] });
    const again = await app.inject({ method: 'POST', url: '/api/v1/tracking/abort', headers: op, payload: { stationId: stations.printer!.id, identifier: a } });
    expect(again.statusCode).toBe(409);
    const sc = await app.inject({ method: 'POST', url: '/api/v1/tracking/scrap', headers: op, payload: { identifier: b, reason: 'cracked board' } });
    expect(sc.statusCode).toBe(200);
    expect(sc.json().scrapped).toMatchObject([{ serial: b, before: 'queued' }]);
    const noReason = await app.inject({ method: 'POST', url: '/api/v1/tracking/scrap', headers: op, payload: { identifier: b } });
    expect(noReason.statusCode).toBe(400);
  });
});
