import pg from 'pg';
import { BLOCKERS_SQL } from './src/modules/quality/status.ts';
const c = new pg.Client({ connectionString: process.argv[2] });
await c.connect();
const ids = (await c.query(`SELECT cu.unit_id FROM shipping_carton_units cu JOIN shipping_cartons c ON c.id = cu.carton_id JOIN work_orders w ON w.id = c.work_order_id WHERE w.number = 'WO-SHIP'`)).rows.map((r) => Number(r.unit_id));
const wo = (await c.query(`SELECT id FROM work_orders WHERE number = 'WO-SHIP'`)).rows[0].id;
const req = JSON.stringify([{ wo: Number(wo), seqs: [10, 20, 30], types: ['aoi'], depth: 'lot', material: 'M2' }]);
const head = BLOCKERS_SQL.slice(0, BLOCKERS_SQL.indexOf('  b AS ('));
const body = BLOCKERS_SQL.slice(BLOCKERS_SQL.indexOf('  b AS (') + 9, BLOCKERS_SQL.lastIndexOf('  )\n  SELECT b.unit_id'));
// split top-level UNION ALL
const parts: string[] = []; let depth = 0, cur = '';
const toks = body.split(/(\(|\)|UNION ALL)/);
for (const t of toks) { if (t === '(') depth++; if (t === ')') depth--; if (t === 'UNION ALL' && depth === 0) { parts.push(cur); cur = ''; continue; } cur += t; }
parts.push(cur);
for (const p of parts) {
  const sql = `${head} b AS (${p}) SELECT count(*) FROM b`;
  const t = Date.now();
  await c.query(sql, [ids, req]);
  console.log(Date.now() - t, 'ms', p.trim().slice(0, 110).replace(/\s+/g, ' '));
}
await c.end();
