import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { Db } from '../../src/platform/db.ts';
import { createServices } from '../../src/main.ts';
import { SETUP_INTERLOCK_SQL } from '../../src/modules/materials/interlock.ts';
import { SNAPSHOT_SQL as QUALITY_SNAPSHOT_SQL } from '../../src/modules/quality/interlock.ts';
import { freshDatabase, makeQualityWorkOrder, makeUser, system, testConfig, testDb, uniq } from '../helpers.ts';
import { migrate } from '../../src/platform/migrate.ts';
import { prepareDemoRun } from '../../src/integrations/simulator/index.ts';
import { s, units } from '../quality/support.ts';

/**
 * The interlock data epoch (migration 0043): rules keep holds, repairs, first articles and machine
 * setups in memory per epoch, so the epoch must move with every committed change to them — seen
 * at once by another MES instance on the same database — and never because of a change that
 * rolled back; a transaction that changed such data itself is told so.
 */

// A second MES instance on the same database: its caches are warmed, then changes are made through the first.
const otherDb = new Db(inject('databaseUrl'), 2);
const other = createServices(otherDb, testConfig());
afterAll(() => otherDb.close());

const epoch = async (q: { query: pg.Client['query'] } | Db = testDb()) =>
  Number((await (q as Db).query<{ epoch: string }>('SELECT epoch FROM interlock_epoch')).rows[0]!.epoch);

async function otherCodes(stationId: number, identifier: string, equipment?: string): Promise<string[]> {
  const v = await other.tracking.validate(system, equipment ? { equipment, identifier } : { stationId, identifier });
  return v.units.flatMap((u) => u.refusals.map((r) => r.code));
}

describe('another instance sees every committed change at its next call', () => {
  it('holds placed and released through one instance are honoured by the other at once', async () => {
    const m = await makeQualityWorkOrder();
    const [a, b] = await units(m, 2);
    const printer = m.stations.printer!.id;
    expect(await otherCodes(printer, a!)).toEqual([]);
    expect(await otherCodes(printer, b!)).toEqual([]);
    const hold = await s().quality.placeHold(system, { scope: 'work_order', workOrder: m.wo.number, reasonCode: 'SUSPECT_MATERIAL', reason: 'epoch check' });
    expect(await otherCodes(printer, a!)).toEqual(['HOLD_WORK_ORDER']);
    const unitHold = await s().quality.placeHold(system, { scope: 'units', serials: [b!], reasonCode: 'SUSPECT_MATERIAL', reason: 'listed unit' });
    expect(await otherCodes(printer, b!)).toEqual(['HOLD_UNIT', 'HOLD_WORK_ORDER']);
    const qe = await makeUser('quality-engineer');
    await s().quality.releaseHold(qe.principal, hold.id, { signature: qe.signature('epoch check done') });
    expect(await otherCodes(printer, a!)).toEqual([]);
    expect(await otherCodes(printer, b!)).toEqual(['HOLD_UNIT']);
    await s().quality.releaseHold(qe.principal, unitHold.id, { signature: qe.signature('epoch check done') });
    expect(await otherCodes(printer, b!)).toEqual([]);
  });

  it('machine setups: loading the last slot and blocking a loaded reel change the other instance’s verdict at once', async () => {
    const m = await makeQualityWorkOrder();
    const eq = await s().factory.equipment.create(system, { stationId: m.stations.placement!.id, code: uniq('EQ'), name: 'placer' });
    const [u] = await units(m);
    await s().tracking.complete(system, { stationId: m.stations.printer!.id, identifier: u!, result: 'pass' });
    const receive = (i: number) => s().materials.receive(system, { ipn: m.partIpns[i]!, manufacturer: 'Acme', mpn: `${m.product.code}-MPN${i}`, quantity: 500, lotCode: uniq('LOT') });
    const load = (packageId: number, slot: string) => s().materials.verifyLoad(system, { equipmentId: eq.id, slot, packageId, programId: m.program.id, workOrderId: m.wo.id });
    const slots = m.partIpns.map((_ipn, i) => `S${i + 1}`);
    const packages: number[] = [];
    for (const [i, slot] of slots.entries()) {
      const p = await receive(i);
      packages.push(p.package.id);
      if (i < slots.length - 1) expect((await load(p.package.id, slot)).accepted).toBe(true);
    }
    expect(await otherCodes(0, u!, eq.code)).toEqual(['SETUP_INCOMPLETE']);
    expect((await load(packages.at(-1)!, slots.at(-1)!)).accepted).toBe(true);
    expect(await otherCodes(0, u!, eq.code)).toEqual([]);
    await s().materials.block(system, packages[0]!, 'dropped on the floor');
    expect(await otherCodes(0, u!, eq.code)).toEqual(['SETUP_INCOMPLETE']);
  });
});

/**
 * The counter's exact moves, in a database of its own: the other test files running beside this
 * one change rule data (setups, holds, MSD events …) and so move the shared database's counter.
 */
describe('the epoch itself', () => {
  let fresh: Awaited<ReturnType<typeof freshDatabase>>;
  let freshDb: Db;
  let serial: string;
  beforeAll(async () => {
    fresh = await freshDatabase();
    await migrate(fresh.url);
    freshDb = new Db(fresh.url, 2);
    serial = (await prepareDemoRun(createServices(freshDb, testConfig()), system, { boards: 1 })).serials[0]!;
  });
  afterAll(async () => {
    await freshDb?.close();
    await fresh?.drop();
  });
  const client = async () => {
    const c = new pg.Client({ connectionString: fresh.url });
    await c.connect();
    return c;
  };
  const freshEpoch = () => epoch(freshDb);

  it('moves once per committed transaction that changed rule data, not for a rollback, and tells the changing transaction', async () => {
    const a = serial;
    const c = await client();
    try {
      const own = async () => (await c.query<{ epochOwn: boolean; epoch: string }>(`SELECT "epochOwn", epoch FROM tracking_load_units($1, '{}', false)`, [[a]])).rows[0]!;
      const e0 = await freshEpoch();
      expect((await own()).epochOwn).toBe(false);
      await c.query('BEGIN');
      await c.query(`UPDATE stencils SET status = status WHERE false`);
      await c.query(`UPDATE feeder_setups SET slot = slot WHERE false`);
      expect(await own()).toMatchObject({ epochOwn: true, epoch: e0 });
      await c.query('ROLLBACK');
      expect(await freshEpoch()).toBe(e0);
      expect((await own()).epochOwn).toBe(false);
      await c.query('BEGIN');
      await c.query(`UPDATE stencils SET status = status WHERE false`);
      await c.query(`UPDATE quality_holds SET reason = reason WHERE false`);
      await c.query('COMMIT');
      expect(await freshEpoch()).toBe(e0 + 1);
      expect((await own()).epochOwn).toBe(false);
      // Quantities are booked all day and do not matter to the rules: they leave the epoch alone.
      await c.query(`UPDATE material_packages SET quantity = quantity WHERE false`);
      expect(await freshEpoch()).toBe(e0 + 1);
    } finally {
      await c.end();
    }
  });

  it('writers do not wait for each other before commit (the counter is locked only while committing)', async () => {
    const [c1, c2] = [await client(), await client()];
    try {
      const e0 = await freshEpoch();
      await c1.query('BEGIN');
      await c1.query(`UPDATE msd_events SET at = at WHERE false`);
      await c2.query(`SET lock_timeout = '2s'`);
      await c2.query('BEGIN');
      await c2.query(`UPDATE consumable_mounts SET kind = kind WHERE false`);
      await c2.query('COMMIT'); // would time out if c1 held the counter's lock
      expect(await freshEpoch()).toBe(e0 + 1);
      await c1.query('COMMIT');
      expect(await freshEpoch()).toBe(e0 + 2);
    } finally {
      await c1.end();
      await c2.end();
    }
  });

  it('every table the cached rule statements read moves it (read off their plans)', async () => {
    const c = await client();
    try {
      const relations = new Set<string>();
      const walk = (n: unknown): void => {
        if (Array.isArray(n)) n.forEach(walk);
        else if (n && typeof n === 'object') {
          const o = n as Record<string, unknown>;
          if (typeof o['Relation Name'] === 'string') relations.add(o['Relation Name']);
          Object.values(o).forEach(walk);
        }
      };
      await c.query(`PREPARE quality_snapshot AS ${QUALITY_SNAPSHOT_SQL}`);
      await c.query(`PREPARE setup_interlock(bigint, bigint) AS ${SETUP_INTERLOCK_SQL}`);
      for (const e of ['EXECUTE quality_snapshot', 'EXECUTE setup_interlock(NULL, 1)', 'EXECUTE setup_interlock(1, NULL)']) {
        walk((await c.query(`EXPLAIN (FORMAT JSON) ${e}`)).rows[0]['QUERY PLAN']);
      }
      const touched = new Set((await c.query<{ t: string }>(
        `SELECT DISTINCT c.relname AS t FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid WHERE p.proname = 'interlock_epoch_touch'`,
      )).rows.map((r) => r.t));
      // work_orders: the snapshot reads only whether an order is finished (completed, closed,
      // cancelled), states no order ever leaves, so a change can only make the cache cautious.
      const exempt = new Set(['work_orders']);
      expect(relations.size).toBeGreaterThan(10);
      expect([...relations].filter((r) => !touched.has(r) && !exempt.has(r)).sort()).toEqual([]);
    } finally {
      await c.end();
    }
  });

  it('every table the rules keep in memory moves it', async () => {
    const rows = (await testDb().query<{ table: string }>(
      `SELECT DISTINCT c.relname AS table FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid
        WHERE p.proname = 'interlock_epoch_touch' ORDER BY 1`,
    )).rows.map((r) => r.table);
    expect(rows).toEqual([
      'consumable_mounts', 'equipment', 'equipment_recipes', 'feeder_setups', 'first_articles', 'material_lots', 'material_packages', 'msd_events', 'parts',
      'paste_jars', 'programs', 'quality_dispositions', 'quality_first_articles', 'quality_hold_units', 'quality_holds', 'quality_rework_actions', 'stencils',
    ]);
  });
});
