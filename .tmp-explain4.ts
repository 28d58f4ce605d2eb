import pg from 'pg';
import { INTERLOCK_SQL } from './src/modules/quality/interlock.ts';
const c = new pg.Client({ connectionString: process.argv[2] });
await c.connect();
const us = (await c.query(`SELECT u.id, u.work_order_id, w.product_revision_id FROM units u JOIN work_orders w ON w.id = u.work_order_id WHERE w.number = 'WO-INGEST' AND visits = 0 ORDER BY u.id DESC LIMIT 40`)).rows;
const st = (await c.query(`SELECT id FROM stations WHERE code = 'SMT1-printer'`)).rows[0].id;
const ts: number[] = [];
for (const u of us) {
  const params = [[u.id], [], [], [u.work_order_id], [u.product_revision_id], st, [], []];
  const t = process.hrtime.bigint(); await c.query({ name: 'q', text: INTERLOCK_SQL, values: params }); ts.push(Number(process.hrtime.bigint() - t) / 1e6);
}
console.log(ts.map((x) => x.toFixed(2)).join(' '));
await c.end();
