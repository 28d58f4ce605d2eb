/**
 * `npm run bench -- records [--units N]`: the traceability records at factory scale.
 *
 * On a generated history of ≥ 1,000,000 units (the history generator, once, into the dedicated
 * database mes_bench_records, reused while it holds enough units):
 * 1. genealogy of many random serials (traceability.genealogy), against the ceiling of a bare
 *    indexed SELECT of a unit's process records and results (other random serials, alternating
 *    with the genealogies, so that both read cold pages under the same load);
 * 2. where-used / impact of material lots used on ~10,000 units (traceability.impact on the
 *    lots' first read, then whereUsed on the same lots again), against the bare M2 join returning
 *    a lot's unit ids (on other lots, alternating, first read and again);
 * 3. the signed trace package of a 10,000-unit work order, built in a child process whose peak
 *    RSS is measured (process.resourceUsage().maxRSS), against the ceiling of bare COPY of the
 *    same sections into a null sink (no ZIP, hashing or signing) in another child.
 *
 * Options: --units N (history size, default 1,000,000), --db NAME (default mes_bench_records).
 * `--child-package <url> <work order> [--bare]` is the child mode.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { summarize } from './lib.ts';
import { Db } from '../src/platform/db.ts';
import { migrate } from '../src/platform/migrate.ts';
import { createServices, type Services } from '../src/main.ts';
import { generateHistory } from '../src/modules/demo/index.ts';
import { copyOut, workOrderScope, SOURCES } from '../src/modules/records/sources.ts';
import type { Principal } from '../src/platform/principal.ts';
import { TRACE_PACKAGE_SECTIONS } from '../src/modules/products/index.ts';

export const benchWho: Principal = { kind: 'system', id: null, name: 'bench', role: 'admin' };

export async function historyDatabase(opts: { name?: string; units?: number } = {}): Promise<{ url: string; db: Db; services: Services; units: number; generated: null | Awaited<ReturnType<typeof generateHistory>> }> {
  const name = opts.name ?? 'mes_bench_records';
  const want = opts.units ?? 1_000_000;
  const admin = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  if (!(await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount) await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  const u = new URL(admin);
  u.pathname = `/${name}`;
  const url = u.toString();
  try {
    await migrate(url);
  } catch (e) {
    // A migration edited or added below the last applied one after this database was generated: measure the schema it has.
    if (!/changed after it was applied|numbered below the last applied/.test((e as Error).message)) throw e;
    console.log(`warning: ${(e as Error).message}; benchmarking the schema the history was generated with`);
  }
  const db = new Db(url, 8);
  const services = createServices(db, { sessionTtlSeconds: 3600, dataDir: path.join(os.tmpdir(), `mes-bench-${name}`) });
  const have = Number((await db.one<{ n: string }>(`SELECT count(*) AS n FROM units u JOIN work_orders w ON w.id = u.work_order_id WHERE w.source = 'generator'`))!.n);
  let generated = null;
  if (have < want) {
    console.log(`generating ${want - have} units of history into ${name} (once; later runs reuse it)…`);
    let last = 0;
    generated = await generateHistory(services, benchWho, {
      units: want - have, onProgress: (done, total, what) => {
        if (done - last >= total / 20 || done === total) {
          last = done;
          console.log(`  ${done}/${total} ${what}`);
        }
      },
    });
    console.log(`generated ${generated.units} units in ${generated.seconds.toFixed(0)} s; database ${(generated.databaseBytesAfter / 2 ** 30).toFixed(2)} GiB (${generated.bytesPerUnit} bytes per unit)`);
  }
  return { url, db, services, units: Math.max(have, want), generated };
}

export function pick<T>(xs: T[], n: number): T[] {
  const out: T[] = [];
  for (let i = 0; i < n && xs.length; i++) out.push(xs[Math.floor(Math.random() * xs.length)]!);
  return out;
}

const ms = (t: number) => Math.round((performance.now() - t) * 100) / 100;
const fmt = (s: ReturnType<typeof summarize>) => `p50 ${s.p50.toFixed(2)} ms · p99 ${s.p99.toFixed(2)} ms · max ${s.max.toFixed(2)} ms (n=${s.n})`;

export default async function records(args: string[]): Promise<void> {
  const at = (f: string) => args.indexOf(f);
  if (at('--child-package') >= 0) return childPackage(args[at('--child-package') + 1]!, args[at('--child-package') + 2]!, args.includes('--bare'));
  const started = performance.now();
  const h = await historyDatabase({ ...(at('--units') >= 0 ? { units: Number(args[at('--units') + 1]) } : {}), ...(at('--db') >= 0 ? { name: args[at('--db') + 1]! } : {}) });
  const { db, services: s } = h;
  const size = Number((await db.one<{ n: string }>('SELECT pg_database_size(current_database()) AS n'))!.n);
  const units = Number((await db.one<{ n: string }>('SELECT count(*) AS n FROM units'))!.n);
  console.log(`history: ${units} units, database ${(size / 2 ** 30).toFixed(2)} GiB (${Math.round(size / units)} bytes per unit)`);
  const out: Record<string, unknown> = { units, databaseBytes: size };

  // 1. Genealogy of random serials.
  const ids = (await db.query<{ lo: number; hi: number }>(`SELECT min(id) AS lo, max(id) AS hi FROM units`)).rows[0]!;
  const serialsOf = async (n: number) => (await db.query<{ serial: string }>(
    `SELECT serial FROM units WHERE id = ANY($1)`, [Array.from({ length: n }, () => ids.lo + Math.floor(Math.random() * (ids.hi - ids.lo + 1)))])).rows.map((r) => r.serial);
  const warm = await serialsOf(50);
  for (const serial of warm) await s.traceability.genealogy({ serial });
  // Genealogy and its ceiling alternate, each on its own random serials: both read pages nobody read
  // before (as a genealogy of an old unit does) and both see the same machine load over the run.
  const serials = await serialsOf(1000);
  const others = await serialsOf(1000);
  const genLat: number[] = [];
  const bareLat: number[] = [];
  let g: unknown;
  for (let i = 0; i < Math.min(serials.length, others.length); i++) {
    let t = performance.now();
    g = await s.traceability.genealogy({ serial: serials[i]! });
    genLat.push(performance.now() - t);
    t = performance.now();
    const u = await db.query<{ id: number }>(`SELECT id FROM units WHERE serial = $1`, [others[i]], 'bench_unit');
    await db.query(`SELECT * FROM process_records WHERE unit_id = $1 ORDER BY visit`, [u.rows[0]!.id], 'bench_pr');
    await db.query(`SELECT * FROM quality_results WHERE unit_id = $1 ORDER BY id`, [u.rows[0]!.id], 'bench_qr');
    bareLat.push(performance.now() - t);
  }
  const gen = { lat: genLat }, bare = { lat: bareLat };
  const gs = summarize(gen.lat), gb = summarize(bare.lat);
  console.log(`genealogy (${gs.n} random serials): ${fmt(gs)}`);
  console.log(`  ceiling, bare indexed SELECT of a unit's process records and results (other random serials, alternating): ${fmt(gb)}`);
  out.genealogy = { ...gs, ceiling: gb, sample: { process: (g as { process?: unknown[] } | undefined)?.process?.length } };

  // 2. Where-used / impact of material lots used on ~10,000 units. Impact runs first on each lot (its
  // pages cold, as for a recall of an old lot), alternating with the bare M2 join of another lot
  // (cold too); where-used then runs on the impact's lots again (warm), alternating with the bare
  // join of the ceiling's lots again (warm).
  const lotRows = (await db.query<{ id: number; code: string }>(
    `SELECT l.id, l.lot_code AS code FROM material_lots l WHERE l.lot_code ~ '-F[0-9]{2}-[0-9]+$' AND NOT EXISTS (SELECT 1 FROM material_packages p WHERE p.material_lot_id = l.id AND p.status <> 'empty') ORDER BY random() LIMIT 41`)).rows;
  const lots = lotRows.slice(1, 21);
  const ceilingLots = lotRows.slice(21);
  await s.traceability.impact({ kind: 'material_lot', materialLotId: lotRows[0]!.id });
  const bareM2 = (lot: number) => db.query(
    `SELECT DISTINCT pr.unit_id FROM material_packages p JOIN feeder_setups fs ON fs.package_id = p.id
       JOIN process_records pr ON pr.equipment_id = fs.equipment_id AND pr.completed_at >= fs.loaded_at
        AND pr.completed_at < COALESCE(fs.unloaded_at, 'infinity') + interval '8 hours' AND COALESCE(pr.started_at, pr.completed_at) < COALESCE(fs.unloaded_at, 'infinity')
      WHERE p.material_lot_id = $1`, [lot], 'bench_wu');
  const counts: number[] = [];
  const pairs = Math.min(lots.length, ceilingLots.length);
  const imp = { lat: [] as number[] }, bareCold = { lat: [] as number[] }, wu = { lat: [] as number[] }, bareWu = { lat: [] as number[] };
  for (let i = 0; i < pairs; i++) {
    let t = performance.now();
    const r = await s.traceability.impact({ kind: 'material_lot', materialLotId: lots[i]!.id });
    imp.lat.push(performance.now() - t);
    counts.push(r.total);
    t = performance.now();
    await bareM2(ceilingLots[i]!.id);
    bareCold.lat.push(performance.now() - t);
  }
  for (let i = 0; i < pairs; i++) {
    let t = performance.now();
    await s.traceability.whereUsed({ kind: 'material_lot', materialLotId: lots[i]!.id }, { limit: 10_000 });
    wu.lat.push(performance.now() - t);
    t = performance.now();
    await bareM2(ceilingLots[i]!.id);
    bareWu.lat.push(performance.now() - t);
  }
  const is = summarize(imp.lat), ws = summarize(wu.lat), bs = summarize(bareWu.lat), bc = summarize(bareCold.lat);
  const avg = Math.round(counts.reduce((a, b) => a + b, 0) / counts.length);
  console.log(`impact of a material lot (${lots.length} lots, ${Math.min(...counts)}–${Math.max(...counts)} units, mean ${avg}; first read of each lot): ${fmt(is)}`);
  console.log(`  ceiling, bare M2 join (distinct unit ids) of other lots, first read, alternating: ${fmt(bc)}`);
  console.log(`where-used of the same lots again, first 10,000 units with state: ${fmt(ws)}`);
  console.log(`  ceiling, bare M2 join of the ceiling's lots again, alternating: ${fmt(bs)}`);
  out.whereUsed = { lots: lots.length, unitsMin: Math.min(...counts), unitsMax: Math.max(...counts), unitsMean: avg, impact: is, ceilingCold: bc, whereUsed: ws, ceiling: bs };

  // 3. Trace package of a 10,000-unit work order, in a child process (peak RSS of the builder).
  const wo = (await db.one<{ number: string; n: number }>(
    `SELECT w.number, w.units_created AS n FROM work_orders w WHERE w.source = 'generator' AND w.state = 'completed' AND w.units_created >= 1000 ORDER BY w.units_created DESC, w.id DESC LIMIT 1`))!;
  await db.close();
  const pkg = await child(['--child-package', h.url, wo.number]);
  const copy = await child(['--child-package', h.url, wo.number, '--bare']);
  console.log(`trace package of ${wo.number} (${wo.n} units): ${pkg.ms} ms, ${pkg.rows} rows, ${(pkg.bytes / 2 ** 20).toFixed(1)} MiB ZIP (${(pkg.raw / 2 ** 20).toFixed(1)} MiB of files), peak RSS ${pkg.maxRssMB} MB (baseline before building ${pkg.baseRssMB} MB)`);
  console.log(`  ceiling, bare COPY of the same sections into a null sink: ${copy.ms} ms, ${(copy.raw / 2 ** 20).toFixed(1)} MiB, peak RSS ${copy.maxRssMB} MB`);
  out.tracePackage = { workOrder: wo.number, units: wo.n, ...pkg, ceiling: copy };
  console.log(JSON.stringify({ bench: 'records', ...out, generated: h.generated ? { seconds: h.generated.seconds, bytesPerUnit: h.generated.bytesPerUnit, rows: h.generated.rows } : 'reused', seconds: Math.round((performance.now() - started) / 1000) }));
}

interface ChildResult { ms: number; rows: number; bytes: number; raw: number; maxRssMB: number; baseRssMB: number }

function child(args: string[]): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'run.ts'), 'records', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    p.stdout.on('data', (c: Buffer) => (text += c.toString()));
    p.on('exit', (code) => {
      const last = text.trim().split('\n').at(-1) ?? '';
      if (code !== 0) return reject(new Error(`child exited with ${code}: ${text}`));
      resolve(JSON.parse(last) as ChildResult);
    });
  });
}

async function childPackage(url: string, wo: string, bare: boolean): Promise<void> {
  const db = new Db(url, 2);
  const s = createServices(db, { sessionTtlSeconds: 3600, dataDir: path.join(os.tmpdir(), 'mes-bench-mes_bench_records') });
  const target = await s.records.resolve({ scope: 'work-order', ref: wo });
  global.gc?.();
  const baseRssMB = Math.round(process.memoryUsage().rss / 2 ** 20);
  const t = performance.now();
  let raw = 0, rows = 0, bytes = 0;
  if (bare) {
    const client = await db.pool.connect();
    await client.query(`BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`);
    await client.query(`SET LOCAL TIME ZONE 'UTC'`);
    const scope = workOrderScope(target.scope.workOrderIds);
    const sql: Record<string, string> = {
      'work-order-sheet': SOURCES.workOrderSheet(scope), 'material-loading-log': SOURCES.materialLoadingLog(scope), 'panel-traveler': SOURCES.traveler(scope),
      'inspection-trace': SOURCES.results(scope, 'inspection'), 'test-trace': SOURCES.results(scope, 'test'), 'rework-ncr-log': SOURCES.reworkNcrLog(scope),
      'shipment-trace': SOURCES.shipmentTrace(scope), 'open-issues': SOURCES.openIssues(scope),
    };
    for (const section of TRACE_PACKAGE_SECTIONS) {
      for (const format of ['csv', 'json'] as const) {
        const sink = new Writable({ write: (c: Buffer, _e, cb) => ((raw += c.length), cb()) });
        copyOut(client, sql[section]!, format, () => format === 'csv' && rows++).pipe(sink);
        await finished(sink);
      }
    }
    await client.query('COMMIT');
    client.release();
  } else {
    const file = path.join(os.tmpdir(), `bench-trace-${process.pid}.zip`);
    const r = await s.records.writePackage(benchWho, { scope: 'work-order', ref: wo }, fs.createWriteStream(file));
    rows = r.rows;
    bytes = r.bytes;
    raw = r.files.reduce((a, f) => a + f.size, 0);
    fs.rmSync(file);
  }
  const elapsed = ms(t);
  await db.close();
  console.log(JSON.stringify({ ms: elapsed, rows, bytes, raw, maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024), baseRssMB }));
}
