import { performance } from 'node:perf_hooks';
import { Db } from './src/platform/db.ts';
import { createServices } from './src/main.ts';
const url = process.argv[2]!;
const db = new Db(url, 4);
const s = createServices(db, { sessionTtlSeconds: 3600 });
const who = { kind: 'system' as const, id: null, name: 'prof', role: 'admin' as const };
// Count statements and their time.
const stats = new Map<string, { n: number; ms: number }>();
db.pool.on('connect', (c: any) => { const q = c.query.bind(c); c.query = (...a: any[]) => { const t = performance.now(); const k = (typeof a[0] === 'string' ? a[0] : a[0].name ?? a[0].text).slice(0, 60).replace(/\s+/g, ' '); const p = q(...a); if (p && p.then) p.then(() => { const e = stats.get(k) ?? { n: 0, ms: 0 }; e.n++; e.ms += performance.now() - t; stats.set(k, e); }, () => undefined); return p; }; });
const aoi = (await db.one<{ id: number }>(`SELECT id FROM stations WHERE code = 'SMT1-aoi'`))!.id;
const units = (await db.query<{ serial: string }>(`SELECT serial FROM units WHERE serial LIKE 'IN-%' AND id NOT IN (SELECT unit_id FROM quality_results) ORDER BY id LIMIT 300`)).rows.map((r) => r.serial);
let i = 0;
const mk = () => ({ stationId: aoi, unit: units[i++]!, method: 'aoi' as const, result: 'fail' as const, programName: 'AOI-TOP',
  defects: Array.from({ length: 5 }, (_, k) => ({ code: 'BRIDGE', refdes: `R${(i * 7 + k) % 400}` })),
  measurements: Array.from({ length: 20 }, (_, j) => ({ name: `M${j}`, value: 100, lowerLimit: 82, upperLimit: 118 })) });
for (let k = 0; k < 20; k++) await s.quality.recordResult(who, mk());
stats.clear();
const t = performance.now();
for (let k = 0; k < 200; k++) await s.quality.recordResult(who, mk());
console.log('per call', ((performance.now() - t) / 200).toFixed(2), 'ms');
for (const [k, v] of [...stats].sort((a, b) => b[1].ms - a[1].ms)) console.log(v.n, (v.ms / v.n).toFixed(2), 'ms avg', k);
await db.close();
