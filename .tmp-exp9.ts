import pg from 'pg';
import { DEFECT_REPEAT_SQL } from './src/modules/quality/rules.ts';
const c = new pg.Client({ connectionString: process.argv[2] });
await c.connect();
const wo = (await c.query(`SELECT id FROM work_orders WHERE number = 'WO-INGEST'`)).rows[0].id;
const rule = (await c.query(`SELECT id FROM quality_rules WHERE code = 'DEFECT-REPEAT'`)).rows[0].id;
const keys = Array.from({ length: 250 }, (_, i) => ({ code: ['BRIDGE','SHIFT','MISSING','INSUFF'][i % 4], refdes: `R${i}` }));
const p = [{ rule_id: Number(rule), wo: Number(wo), method: 'aoi', n: 5, m: 50, keys }];
for (let i = 0; i < 5; i++) { const t = process.hrtime.bigint(); await c.query({ name: 'd', text: DEFECT_REPEAT_SQL, values: [JSON.stringify(p)] }); console.log(Number(process.hrtime.bigint() - t) / 1e6); }
const r = await c.query(`EXPLAIN (ANALYZE) ${DEFECT_REPEAT_SQL}`, [JSON.stringify(p)]);
console.log(r.rows.map((x: any) => x['QUERY PLAN']).join('\n'));
await c.end();
