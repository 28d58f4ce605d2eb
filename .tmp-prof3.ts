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
const units = (await db.query<{ serial: string }>(`SELECT serial FROM units WHERE serial LIKE 'IN-%' AND id NOT IN (SELECT unit_id FROM quality_results) ORDER BY id LIMIT 1200`)).rows.map((r) => r.serial);
let i = 0;
const mk = () => ({ stationId: aoi, unit: units[i++]!, method: 'aoi' as const, result: 'fail' as const, programName: 'AOI-TOP',
  defects: Array.from({ length: 5 }, (_, k) => ({ code: 'BRIDGE', refdes: `R${(i * 7 + k) % 400}` })),
  measurements: Array.from({ length: 20 }, (_, j) => ({ name: `M${j}`, value: 100 + (Math.random() - 0.5) * 40, lowerLimit: 82, upperLimit: 118 })) });
const mkb = () => Array.from({ length: 50 }, mk);
for (let k = 0; k < 3; k++) await s.quality.recordResults(who, mkb());
stats.clear();
const t = performance.now();
const mon = new Db(url, 1);
const waits = new Map<string, number>();
let running = true;
const sampler = (async () => { while (running) { const r = await mon.query<{ w: string }>(`SELECT coalesce(wait_event_type || ':' || wait_event, state) AS w FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`); for (const x of r.rows) waits.set(x.w, (waits.get(x.w) ?? 0) + 1); await new Promise((r) => setTimeout(r, 5)); } })();
await Promise.all(Array.from({ length: 4 }, async () => { for (let k = 0; k < 5; k++) await s.quality.recordResults(who, mkb()); }));
running = false; await sampler; await mon.close();
console.log([...waits].sort((a, b) => b[1] - a[1]).slice(0, 12));
console.log('per batch of 50', ((performance.now() - t) / 20).toFixed(2), 'ms');
for (const [k, v] of [...stats].sort((a, b) => b[1].ms - a[1].ms)) console.log(v.n, (v.ms / v.n).toFixed(2), 'ms avg', k);
await db.close();
