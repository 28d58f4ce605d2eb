import { describe, expect, it } from 'vitest';
import { Db } from '../../src/platform/db.ts';
import { createTableMaintenance } from '../../src/platform/maintenance.ts';
import { freshDatabase } from '../helpers.ts';

/** The plan of a prepared statement's generic plan (what a cached statement of the MES runs). */
async function genericPlan(db: Db, sql: string): Promise<string> {
  const c = await db.pool.connect();
  try {
    await c.query(`SET plan_cache_mode = force_generic_plan`);
    await c.query(`PREPARE q(int[]) AS ${sql}`);
    const r = await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN EXECUTE q('{1,2,3}')`);
    await c.query('DEALLOCATE q');
    await c.query('RESET plan_cache_mode');
    return r.rows.map((x) => x['QUERY PLAN']).join('\n');
  } finally {
    c.release();
  }
}

/** Rounds run by the test only (no timer, so nothing is left for a log). */
const BY_HAND = { intervalMs: 0, log: (msg: string) => { throw new Error(`unexpected scheduled round: ${msg}`); } };

describe('table maintenance (servers with autovacuum off)', () => {
  it('analyzes and vacuums the tables that changed past autovacuum thresholds, and the planner then sees their size', async () => {
    const fresh = await freshDatabase();
    const db = new Db(fresh.url, 2);
    try {
      await db.query('CREATE TABLE grown (id int PRIMARY KEY, v text)');
      await db.query('CREATE TABLE quiet (id int PRIMARY KEY)');
      // Statistics of the empty table: a generic plan for `id = ANY($1)` scans it whole.
      await db.query('ANALYZE grown');
      await db.query('ANALYZE quiet');
      expect(await genericPlan(db, 'SELECT v FROM grown WHERE id = ANY($1)')).toMatch(/Seq Scan on grown/);
      // The table grows; pending statistics reach the server at once.
      const c = await db.pool.connect();
      try {
        await c.query(`INSERT INTO grown SELECT g, repeat('x', 20) FROM generate_series(1, 20000) g`);
        await c.query(`UPDATE grown SET v = 'y' WHERE id <= 8000`);
        await c.query('SELECT pg_stat_force_next_flush()');
      } finally {
        c.release();
      }
      const m = createTableMaintenance(db, BY_HAND);
      // Each table is acted on once, by the threshold it crossed.
      let round = await m.runOnce(true);
      for (let i = 0; i < 20 && !round.vacuumed.includes('grown'); i++) {
        // The statistics collector may take a moment to publish the counters.
        await new Promise((r) => setTimeout(r, 250));
        round = await m.runOnce(true);
      }
      expect(round.vacuumed).toContain('grown');
      expect(round.analyzed).not.toContain('grown');
      expect([...round.vacuumed, ...round.analyzed]).not.toContain('quiet');
      const st = (await db.query<{ dead: number; analyzed: boolean }>(
        `SELECT n_dead_tup::int AS dead, last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL AS analyzed FROM pg_stat_user_tables WHERE relname = 'grown'`,
      )).rows[0]!;
      expect(st.analyzed).toBe(true);
      const cls = (await db.query<{ reltuples: number }>(`SELECT reltuples::int FROM pg_class WHERE relname = 'grown'`)).rows[0]!;
      expect(cls.reltuples).toBe(20000);
      expect(await genericPlan(db, 'SELECT v FROM grown WHERE id = ANY($1)')).toMatch(/Index Scan using grown_pkey/);
      // Nothing is due any more.
      const again = await m.runOnce(true);
      expect([...again.vacuumed, ...again.analyzed]).not.toContain('grown');
    } finally {
      await db.close();
      await fresh.drop();
    }
  });

  it('one MES instance at a time: a round is skipped while another holds the maintenance lock', async () => {
    const fresh = await freshDatabase();
    const db = new Db(fresh.url, 2);
    const other = new Db(fresh.url, 1);
    try {
      await db.query('CREATE TABLE busy (id int PRIMARY KEY)');
      await db.query('INSERT INTO busy SELECT generate_series(1, 5000)');
      const holder = await other.pool.connect();
      try {
        await holder.query('SELECT pg_advisory_lock($1)', [0x4d45534d]);
        const skipped = await createTableMaintenance(db, BY_HAND).runOnce(true);
        expect(skipped).toEqual({ skipped: true, analyzed: [], vacuumed: [] });
        await holder.query('SELECT pg_advisory_unlock($1)', [0x4d45534d]);
      } finally {
        holder.release();
      }
      await db.query('SELECT pg_stat_force_next_flush()');
      const m = createTableMaintenance(db, BY_HAND);
      let round = await m.runOnce(true);
      for (let i = 0; i < 20 && !round.vacuumed.includes('busy'); i++) {
        await new Promise((r) => setTimeout(r, 250));
        round = await m.runOnce(true);
      }
      expect(round.skipped).toBe(false);
      expect(round.vacuumed).toContain('busy');
    } finally {
      await other.close();
      await db.close();
      await fresh.drop();
    }
  });

  it('does nothing unless forced when the server runs autovacuum', async () => {
    const fresh = await freshDatabase();
    const db = new Db(fresh.url, 2);
    try {
      const on = (await db.query<{ on: string }>(`SELECT current_setting('autovacuum') AS on`)).rows[0]!.on === 'on';
      const round = await createTableMaintenance(db, BY_HAND).runOnce();
      expect(round.skipped).toBe(on);
    } finally {
      await db.close();
      await fresh.drop();
    }
  });
});
