import pg from 'pg';
import { INTERLOCK_SQL } from './src/modules/quality/interlock.ts';
const c = new pg.Client({ connectionString: process.argv[2] });
await c.connect();
const us = (await c.query(`SELECT u.id, u.serial, u.work_order_id, w.product_revision_id FROM units u JOIN work_orders w ON w.id = u.work_order_id WHERE w.number = 'WO-INGEST' AND visits = 0 ORDER BY u.id DESC LIMIT 200`)).rows;
const st = (await c.query(`SELECT id FROM stations WHERE code = 'SMT1-printer'`)).rows[0].id;
const parts = INTERLOCK_SQL.split('  UNION ALL\n');
const head = parts[0]!;
const variants: Record<string, string> = {
  full: INTERLOCK_SQL,
  h1: head,
  h1h2dw: [head, parts[1], parts[5], parts[6]].join('  UNION ALL\n'),
  mat: [head, parts[3]].join('  UNION ALL\n'),
  sw: [head, parts[2]].join('  UNION ALL\n'),
  r: [head, parts[4]].join('  UNION ALL\n'),
  f: [head, parts[7]].join('  UNION ALL\n'),
};
const TRACK = `SELECT u.id FROM units u JOIN work_orders w ON w.id = u.work_order_id WHERE u.serial = $1`;
for (const [name, sql] of Object.entries(variants)) {
  const ts: number[] = [];
  for (const u of us) {
    const params = [[u.id], [], [], [u.work_order_id], [u.product_revision_id], st, [], []];
    const t = process.hrtime.bigint(); await c.query({ name, text: sql, values: params.slice(0, Math.max(...[...sql.matchAll(/\$(\d)/g)].map((m) => Number(m[1])))) }); ts.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  ts.sort((a, b) => a - b);
  console.log(name.padEnd(8), 'p50', ts[100]!.toFixed(2), 'p90', ts[180]!.toFixed(2));
}
await c.end();
