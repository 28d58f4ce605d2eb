import pg from 'pg';
const c = new pg.Client({ connectionString: process.argv[2] });
await c.connect();
const ids = (await c.query(`SELECT id, unit_id FROM quality_results ORDER BY id LIMIT 1000`)).rows;
const rows = ids.flatMap((r: any) => Array.from({ length: 20 }, (_, j) => ({ result_id: r.id, unit_id: r.unit_id, seq: j + 1, name: `M${j}`, value: 100 + j, unit: '%', lower_limit: 82, upper_limit: 118, passed: j % 10 !== 0 })));
async function run(label: string) {
  const t = Date.now();
  for (let i = 0; i < 5; i++) {
    await c.query(`INSERT INTO quality_measurements (result_id, unit_id, seq, name, value, unit, lower_limit, upper_limit, passed)
      SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(result_id bigint, unit_id bigint, seq int, name text, value float8, unit text, lower_limit float8, upper_limit float8, passed boolean)`, [JSON.stringify(rows)]);
  }
  console.log(label, ((Date.now() - t) / 5).toFixed(0), 'ms per 20,000 rows');
}
await c.query('BEGIN');
await run('with FK   ');
await c.query('ALTER TABLE quality_measurements DROP CONSTRAINT quality_measurements_result_id_fkey');
await run('no FK     ');
await c.query('DROP INDEX quality_measurements_failed_idx');
await run('no FK, 1 index');
await c.query('DROP INDEX quality_measurements_result_idx');
await run('no FK, no index');
await c.query('ROLLBACK');
const js = ids.map((r: any) => ({ id: r.id, m: Array.from({ length: 20 }, (_, j) => ({ name: `M${j}`, value: 100 + j, unit: '%', lower: 82, upper: 118, passed: j % 10 !== 0 })) }));
await c.query('BEGIN');
await c.query('ALTER TABLE quality_results ADD COLUMN mj jsonb');
let t = Date.now();
for (let i = 0; i < 5; i++) await c.query(`UPDATE quality_results r SET mj = x.m FROM jsonb_to_recordset($1::jsonb) AS x(id bigint, m jsonb) WHERE r.id = x.id`, [JSON.stringify(js)]);
console.log('jsonb column (update, as proxy)', ((Date.now() - t) / 5).toFixed(0), 'ms per 1,000 results');
await c.query('ROLLBACK');
t = Date.now();
for (let i = 0; i < 5; i++) JSON.stringify(rows);
console.log('JSON.stringify rows', ((Date.now() - t) / 5).toFixed(0), 'ms');
await c.end();
