import pg from 'pg';
import { INTERLOCK_SQL } from './src/modules/quality/interlock.ts';
const c = new pg.Client({ connectionString: process.argv[2] });
await c.connect();
const u = (await c.query(`SELECT u.id, u.work_order_id, w.product_revision_id FROM units u JOIN work_orders w ON w.id = u.work_order_id WHERE w.number = 'WO-INGEST' AND visits = 0 ORDER BY u.id DESC LIMIT 1`)).rows[0];
const st = (await c.query(`SELECT id FROM stations WHERE code = 'SMT1-printer'`)).rows[0].id;
const params = [[u.id], [], [], [u.work_order_id], [u.product_revision_id], st, [], []];
for (let i = 0; i < 3; i++) { const t = process.hrtime.bigint(); await c.query(INTERLOCK_SQL, params); console.log('run', Number(process.hrtime.bigint() - t) / 1e6, 'ms'); }
const r = await c.query(`EXPLAIN (ANALYZE) ${INTERLOCK_SQL}`, params);
console.log(r.rows.map((x) => x['QUERY PLAN']).join('\n'));
await c.end();
