import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MaterialsService } from '../../src/modules/materials/index.ts';
import type { App } from '../../src/platform/http.ts';
import { bearer, system, testApp, testDb, testServices, tokenFor, uniq } from '../helpers.ts';
import { clockedMaterials, makeScenario, makeWorkOrderId, receivePart, testClock, type Scenario } from './fixtures.ts';

const clock = testClock();
let svc: MaterialsService;
let sc: Scenario;
beforeAll(async () => {
  svc = clockedMaterials(clock);
  sc = await makeScenario();
});

/** The movement log replayed: the sum of deltas must be the package's quantity. */
async function replay(packageId: number): Promise<number> {
  return (await svc.movements(packageId)).reduce((q, m) => q + m.delta, 0);
}

describe('the quantity log', () => {
  it('is append-only: UPDATE, DELETE and TRUNCATE are refused (as are changes to MSD events and loading attempts)', async () => {
    const { package: p } = await receivePart(svc, sc, 1);
    await svc.recordMsdEvent(system, p.id, { type: 'opened' });
    const attempt = await svc.verifyLoad(system, { equipmentId: sc.equipment.id, slot: 'S99', packageId: p.id, programId: sc.program.id });
    expect(attempt.accepted).toBe(false);
    const db = testDb();
    for (const sql of [
      'UPDATE package_movements SET delta = 5 WHERE package_id = $1',
      'DELETE FROM package_movements WHERE package_id = $1',
      'UPDATE msd_events SET at = now() WHERE package_id = $1',
      'DELETE FROM msd_events WHERE package_id = $1',
      'DELETE FROM load_attempts WHERE package_id = $1',
      'UPDATE load_attempts SET accepted = true, reason_code = NULL, failure_code = NULL WHERE package_id = $1',
    ]) {
      await expect(db.query(sql, [p.id]), sql).rejects.toMatchObject({ code: 'FORBIDDEN' });
    }
    await expect(db.query('TRUNCATE package_movements CASCADE')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await replay(p.id)).toBe(1000);
    // A row that does not add up is refused too.
    await expect(
      db.query(`INSERT INTO package_movements (package_id, at, kind, delta, quantity_after, status_after, location_kind, actor_kind, actor_name)
                VALUES ($1, now(), 'corrected', -1, 990, 'available', 'store', 'system', 'x')`, [p.id]),
    ).rejects.toMatchObject({ code: 'STATE_CONFLICT' });
  });

  it('corrections need a reason and are logged with it; zero empties, a count above zero revives an empty package', async () => {
    const { package: p } = await receivePart(svc, sc, 1);
    await expect(svc.correctQuantity(system, p.id, { quantity: 990, reason: ' ' })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    const c = await svc.correctQuantity(system, p.id, { quantity: 990, reason: 'counted on the reel counter' });
    expect(c.quantity).toBe(990);
    const z = await svc.correctQuantity(system, p.id, { quantity: 0, reason: 'reel found empty at stocktake' });
    expect(z).toMatchObject({ quantity: 0, status: 'empty' });
    const back = await svc.correctQuantity(system, p.id, { quantity: 12, reason: 'twelve loose parts in the reel' });
    expect(back).toMatchObject({ quantity: 12, status: 'available' });
    const log = await svc.movements(p.id);
    expect(log.map((m) => [m.kind, m.delta, m.quantityAfter, m.statusAfter, m.reason])).toEqual([
      ['received', 1000, 1000, 'available', 'received'],
      ['corrected', -10, 990, 'available', 'counted on the reel counter'],
      ['corrected', -990, 0, 'empty', 'reel found empty at stocktake'],
      ['corrected', 12, 12, 'available', 'twelve loose parts in the reel'],
    ]);
    // Audited with the reason.
    const audit = await testDb().query<{ reason: string }>(`SELECT reason FROM audit_log WHERE entity = 'material_package' AND entity_id = $1 AND action = 'correct_quantity' ORDER BY id`, [String(p.id)]);
    expect(audit.rows.map((r) => r.reason)).toEqual(['counted on the reel counter', 'reel found empty at stocktake', 'twelve loose parts in the reel']);
  });

  it('consumption books per work order, refuses more than is there, and empties at zero', async () => {
    const { package: p } = await receivePart(svc, sc, 1, { quantity: 50 });
    const wo = await makeWorkOrderId(sc);
    const after = await svc.consume(system, p.id, { quantity: 20, workOrderId: wo });
    expect(after.quantity).toBe(30);
    await expect(svc.consume(system, p.id, { quantity: 31 })).rejects.toMatchObject({ code: 'RULE_VIOLATION' });
    expect((await svc.consume(system, p.id, { quantity: 30 })).status).toBe('empty');
    await expect(svc.consume(system, p.id, { quantity: 1 })).rejects.toMatchObject({ code: 'STATE_CONFLICT' });
    const log = await svc.movements(p.id);
    expect(log.filter((m) => m.kind === 'consumed').map((m) => [m.delta, m.workOrderId])).toEqual([[-20, wo], [-30, null]]);
  });

  it('scrapped is final (service and database)', async () => {
    const { package: p } = await receivePart(svc, sc, 1);
    await svc.scrap(system, p.id, 'water damage');
    await expect(svc.release(system, p.id, 'oops')).rejects.toMatchObject({ code: 'STATE_CONFLICT' });
    await expect(testDb().query(`UPDATE material_packages SET status = 'available' WHERE id = $1`, [p.id])).rejects.toMatchObject({ code: 'STATE_CONFLICT' });
  });
});

describe('split and merge conserve quantity', () => {
  it('split takes pieces into a new package of the same lot; merge joins them back; the lot total never changes', async () => {
    const { package: p, lot } = await receivePart(svc, sc, 2);
    const lotTotal = async () =>
      (await testDb().query<{ n: number }>('SELECT sum(quantity)::int AS n FROM material_packages WHERE material_lot_id = $1', [lot.id])).rows[0]!.n;
    const a = await svc.split(system, p.id, { quantity: 300, reason: 'kit for line 2' });
    expect(a.source.quantity).toBe(700);
    expect(a.created).toMatchObject({ quantity: 300, initialQuantity: 300, lotId: lot.id, parentId: p.id, status: 'available', kind: 'reel' });
    const b = await svc.split(system, p.id, { quantity: 100, code: uniq('SPLIT-') });
    expect(b.created.code).toMatch(/^SPLIT-/);
    expect(await lotTotal()).toBe(1000);
    await expect(svc.split(system, p.id, { quantity: 600 })).rejects.toMatchObject({ code: 'RULE_VIOLATION' });
    await expect(svc.split(system, p.id, { quantity: 0 })).rejects.toMatchObject({ code: 'RULE_VIOLATION' });

    const merged = await svc.merge(system, p.id, { sourceIds: [a.created.id, b.created.id], reason: 'back to one reel' });
    expect(merged.quantity).toBe(1000);
    expect(await lotTotal()).toBe(1000);
    for (const id of [p.id, a.created.id, b.created.id]) expect(await replay(id)).toBe((await svc.getPackage(id)).quantity);
    expect(await svc.getPackage(a.created.id)).toMatchObject({ quantity: 0, status: 'empty' });
    const log = await svc.movements(p.id);
    expect(log.map((m) => [m.kind, m.delta, m.relatedPackageId])).toEqual([
      ['received', 1000, null], ['split-out', -300, a.created.id], ['split-out', -100, b.created.id], ['merge-in', 300, a.created.id], ['merge-in', 100, b.created.id],
    ]);

    // Across lots: refused, nothing changed.
    const other = (await receivePart(svc, sc, 2)).package;
    await expect(svc.merge(system, p.id, { sourceIds: [other.id] })).rejects.toMatchObject({ code: 'RULE_VIOLATION' });
    expect((await svc.getPackage(other.id)).quantity).toBe(1000);
    await expect(svc.merge(system, p.id, { sourceIds: [p.id] })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('refuses to merge moisture-sensitive packages with different exposure histories', async () => {
    const { package: p } = await receivePart(svc, sc, 0);
    const { created } = await svc.split(system, p.id, { quantity: 10 });
    await svc.recordMsdEvent(system, created.id, { type: 'opened' });
    await expect(svc.merge(system, p.id, { sourceIds: [created.id] })).rejects.toMatchObject({ code: 'RULE_VIOLATION' });
  });
});

describe('stock, locations and lot holds through the API', () => {
  let app: App;
  beforeAll(async () => {
    app = await testApp();
  });
  afterAll(async () => app.close());

  it('reports stock per part and location; moves between store and line; holds lots (quality only)', async () => {
    const s = await makeScenario();
    const m = testServices().materials;
    const a = (await receivePart(m, s, 1, { location: { kind: 'store', place: 'A-1' } })).package;
    const b = (await receivePart(m, s, 1, { location: { kind: 'store', place: 'A-1' } })).package;
    const c = (await receivePart(m, s, 1)).package;
    await m.block(system, c.id, 'bent tape');
    const op = bearer(await tokenFor('operator'));
    const moved = await app.inject({ method: 'POST', url: `/api/v1/packages/${b.id}/move`, headers: op, payload: { location: { kind: 'line', lineId: s.line.id } } });
    expect(moved.statusCode, moved.body).toBe(200);
    expect(moved.json().location).toMatchObject({ kind: 'line', lineId: s.line.id, lineCode: s.line.code });
    const loaded = await m.verifyLoad(system, { equipmentId: s.equipment.id, slot: 'S2', packageId: b.id, programId: s.program.id });
    expect(loaded.accepted).toBe(true);
    const notMovable = await app.inject({ method: 'POST', url: `/api/v1/packages/${b.id}/move`, headers: op, payload: { location: { kind: 'store' } } });
    expect(notMovable.statusCode).toBe(409);

    const stock = await app.inject({ method: 'GET', url: `/api/v1/stock?ipn=${encodeURIComponent(s.partIpns[1]!)}`, headers: bearer(await tokenFor('viewer')) });
    expect(stock.statusCode).toBe(200);
    const rows = stock.json().map((r: { location: { kind: string; place: string | null; equipmentCode: string | null }; packages: number; usableQuantity: number; blockedQuantity: number }) =>
      [r.location.kind, r.location.place ?? r.location.equipmentCode, r.packages, r.usableQuantity, r.blockedQuantity]);
    expect(rows).toEqual([
      ['store', null, 1, 0, 1000],
      ['store', 'A-1', 1, 1000, 0],
      ['equipment', s.equipment.code, 1, 1000, 0],
    ]);
    void a;
    const byLine = await app.inject({ method: 'GET', url: `/api/v1/stock?ipn=${encodeURIComponent(s.partIpns[1]!)}&lineId=${s.line.id}`, headers: op });
    expect(byLine.json()).toHaveLength(1);

    // Lot hold: operators may not, quality engineers may; the hold shows on packages.
    const lotId = c.lotId;
    const denied = await app.inject({ method: 'POST', url: `/api/v1/material-lots/${lotId}/hold`, headers: op, payload: { reason: 'supplier notice' } });
    expect(denied.statusCode).toBe(403);
    const held = await app.inject({ method: 'POST', url: `/api/v1/material-lots/${lotId}/hold`, headers: bearer(await tokenFor('quality-engineer')), payload: { reason: 'supplier notice' } });
    expect(held.statusCode, held.body).toBe(200);
    expect(held.json()).toMatchObject({ onHold: true, holdReason: 'supplier notice' });
    expect((await m.getPackage(c.id)).lotOnHold).toBe(true);
    const list = await app.inject({ method: 'GET', url: `/api/v1/packages?code=${encodeURIComponent(c.code)}`, headers: op });
    expect(list.json().map((x: { id: number }) => x.id)).toEqual([c.id]);
  });
});
