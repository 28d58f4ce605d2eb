/**
 * `npm run bench -- interlock`: the interlock under load.
 *
 * 1. A scratch database gets a released work order with 100,000 completed units of history
 *    (300,000 process records, written by bulk SQL) and a live work order with 300,000 units
 *    and 20,000 4-up panels waiting at the printer.
 * 2. The MES (the real app: auth, TypeBox validation, problem+json) runs in a child process;
 *    load comes from this process over loopback, so client and server do not share an event loop.
 * 3. Phases: bare-Fastify ceiling (autocannon, max) and its latency at 1,000 req/s; validate
 *    at a steady 1,000 req/s alone; validate at 1,000 req/s while complete runs at 500 units/s
 *    (one unit per request, then 10 units per request through /complete-batch);
 *    complete alone at full speed (autocannon, closed loop): single units, batches of 50 units
 *    through /complete-batch, and 4-up panels.
 *    Each MES phase also reports the CPU the MES process and PostgreSQL spent per request and
 *    the load average, since the machine may be shared.
 *
 * Fixed-rate phases use an open-loop paced client (requests leave on schedule whether or not
 * earlier ones have answered; latency from send to last byte, measured with performance.now()),
 * because autocannon's rate limit sends each second's quota in one burst and counts whole ms.
 *
 * Options: --duration <s> (mixed phase, default 20), BENCH_POOL=<n> (the MES's main pool, default 20; its
 * read pool is half of it), --keep (keep the scratch database),
 * --setup-only (build and keep the scratch database, print its URL; for profiling by hand).
 * Server mode (used internally): --serve <databaseUrl> | --bare.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import { benchProduct, scratchDatabase, summarize } from './lib.ts';
import { loadConfig } from '../src/platform/config.ts';
import { Db } from '../src/platform/db.ts';
import { migrate } from '../src/platform/migrate.ts';
import { startTableMaintenance } from '../src/platform/maintenance.ts';
import { createApp, createServices, type Services } from '../src/main.ts';
import type { Principal } from '../src/platform/principal.ts';

const HISTORY_UNITS = 100_000;
const LIVE_UNITS = 300_000;
const VALIDATE_POOL_FROM = 250_001; // validate targets: live units complete never touches (complete gets 250,000)
const PANELS = 20_000;
const PANEL_POSITIONS = 4;
const who: Principal = { kind: 'system', id: null, name: 'bench', role: 'admin' };

export default async function interlock(args: string[]): Promise<void> {
  const flag = (name: string) => args.indexOf(name);
  if (flag('--serve') >= 0) return serve(args[flag('--serve') + 1]!, Number(args[flag('--pool') + 1] ?? 20));
  if (flag('--bare') >= 0) return serveBare();
  const duration = flag('--duration') >= 0 ? Number(args[flag('--duration') + 1]) : 20;
  const started = performance.now();
  const scratch = await scratchDatabase('bench_interlock');
  const children: ChildProcess[] = [];
  // An exception thrown inside the load generator ends this process without `finally`: the servers go with it.
  process.once('exit', () => {
    for (const ch of children) if (ch.exitCode === null) ch.kill('SIGTERM');
  });
  try {
    await migrate(scratch.url);
    const db = new Db(scratch.url, 4);
    const services = createServices(db, { sessionTtlSeconds: 3600 });
    const t0 = performance.now();
    const fx = await buildFactory(services);
    console.log(`setup: ${HISTORY_UNITS} units of history (${HISTORY_UNITS * 3} process records) + ${LIVE_UNITS} live units + ${PANELS} ${PANEL_POSITIONS}-up panels in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    await db.close();
    if (args.includes('--setup-only')) {
      // For profiling by hand: the scratch database is kept, its URL and the token printed.
      console.log(JSON.stringify({ url: scratch.url, token: fx.token, printer: fx.printer, liveWo: fx.liveWo }));
      return;
    }

    const bare = await child(['--bare'], children);
    const mes = await child(['--serve', scratch.url, '--pool', process.env.BENCH_POOL ?? '20'], children);
    const mesChild = children.at(-1)!;
    const mesPid = mesChild.pid!;
    const dbName = new URL(scratch.url).pathname.slice(1);
    const auth = { authorization: `Bearer ${fx.token}`, 'content-type': 'application/json' };
    const validateBody = () => JSON.stringify({ stationId: fx.printer, identifier: serial(VALIDATE_POOL_FROM + Math.floor(Math.random() * (LIVE_UNITS - VALIDATE_POOL_FROM))) });
    let nextComplete = 1;
    const completeBody = () => {
      if (nextComplete >= VALIDATE_POOL_FROM) throw new Error('out of live units for complete');
      return JSON.stringify({ stationId: fx.printer, identifier: serial(nextComplete++), result: 'pass' });
    };
    const rows: Row[] = [];

    // Bare Fastify: the ceiling of this machine for one HTTP route, and its latency at the target rate.
    const ceil = await autocannon({ url: `http://127.0.0.1:${bare}/ping`, connections: 50, duration: 5 });
    rows.push({ phase: 'bare Fastify, max (autocannon, 50 conn)', rate: ceil.requests.average, seconds: ceil.duration, p50: ceil.latency.p50, p99: ceil.latency.p99, max: ceil.latency.max, errors: ceil.errors + ceil.non2xx });
    rows.push(row('bare Fastify @ 1000/s (paced)', await paced({ port: bare, method: 'GET', path: '/ping', rate: 1000, seconds: 5 })));

    // Warm the MES (JIT, pools, basis cache), then validate alone.
    await paced({ port: mes, method: 'POST', path: '/api/v1/tracking/validate', headers: auth, body: validateBody, rate: 500, seconds: 3 });
    rows.push(await measured(mesPid, dbName, async () => row('validate @ 1000/s alone', await paced({ port: mes, method: 'POST', path: '/api/v1/tracking/validate', headers: auth, body: validateBody, rate: 1000, seconds: 10 }))));

    // The scenario: validate at 1000/s while complete runs at 500 units/s.
    let v!: PacedResult;
    let c!: PacedResult;
    const mixed = await measured(mesPid, dbName, async () => {
      [v, c] = await Promise.all([
        paced({ port: mes, method: 'POST', path: '/api/v1/tracking/validate', headers: auth, body: validateBody, rate: 1000, seconds: duration }),
        paced({ port: mes, method: 'POST', path: '/api/v1/tracking/complete', headers: auth, body: completeBody, rate: 500, seconds: duration }),
      ]);
      // CPU per request counts both kinds of request.
      return { ...row('', v), rate: (v.sent + c.sent) / v.seconds };
    });
    rows.push({ ...row('validate @ 1000/s + complete @ 500/s', v), mesCpuMs: mixed.mesCpuMs, pgCpuMs: mixed.pgCpuMs, load: mixed.load });
    rows.push(row('  complete @ 500/s (same run)', c));

    // The same 500 units/s of completes arriving as a line's door delivers them in bulk (the CFX
    // waves; here 10 units per request through /complete-batch), beside validate at 1000/s.
    const WAVE = 10;
    let v2!: PacedResult;
    let c2!: PacedResult;
    let waveAck = 0;
    const mixedWaves = await measured(mesPid, dbName, async () => {
      [v2, c2] = await Promise.all([
        paced({ port: mes, method: 'POST', path: '/api/v1/tracking/validate', headers: auth, body: validateBody, rate: 1000, seconds: duration }),
        paced({
          port: mes, method: 'POST', path: '/api/v1/tracking/complete-batch', headers: auth, rate: 500 / WAVE, seconds: duration,
          body: () => JSON.stringify({ items: Array.from({ length: WAVE }, () => JSON.parse(completeBody())) }),
          onBody: (status, body) => {
            if (status === 200) waveAck += (JSON.parse(body) as { results: { ok: boolean }[] }).results.filter((x) => x.ok).length;
          },
        }),
      ]);
      return { ...row('', v2), rate: (v2.sent + c2.sent) / v2.seconds };
    });
    rows.push({ ...row(`validate @ 1000/s + complete-batch of ${WAVE} @ ${500 / WAVE}/s (500 units/s)`, v2), mesCpuMs: mixedWaves.mesCpuMs, pgCpuMs: mixedWaves.pgCpuMs, load: mixedWaves.load });
    rows.push(row(`  complete-batch of ${WAVE} @ ${500 / WAVE}/s (same run)`, c2));

    // Complete alone, closed loop at full speed.
    let fullAck = 0;
    rows.push(
      await measured(mesPid, dbName, async () => {
        const full = await autocannon({
          url: `http://127.0.0.1:${mes}`, connections: 32, duration: 10,
          requests: [{ method: 'POST', path: '/api/v1/tracking/complete', headers: auth, setupRequest: (req) => ({ ...req, body: completeBody() }) }],
        });
        fullAck = full['2xx'];
        return { phase: 'complete, max (autocannon, 32 conn)', rate: full['2xx'] / full.duration, seconds: full.duration, p50: full.latency.p50, p99: full.latency.p99, max: full.latency.max, errors: full.errors + full.non2xx };
      }),
    );

    // Complete through the set-based door: 50 units per request, 8 connections.
    const BATCH = 50;
    let batchAck = 0;
    const batchRow = await measured(mesPid, dbName, async () => {
      const r = await autocannon({
        url: `http://127.0.0.1:${mes}`, connections: 8, duration: 10,
        requests: [{
          method: 'POST', path: '/api/v1/tracking/complete-batch', headers: auth,
          setupRequest: (req) => ({ ...req, body: JSON.stringify({ items: Array.from({ length: BATCH }, () => JSON.parse(completeBody())) }) }),
          onResponse: (status, body) => {
            if (status === 200) batchAck += (JSON.parse(body) as { results: { ok: boolean }[] }).results.filter((x) => x.ok).length;
          },
        }],
      });
      return { phase: `complete-batch of ${BATCH}, max (8 conn)`, rate: r['2xx'] / r.duration, seconds: r.duration, p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max, errors: r.errors + r.non2xx };
    });
    rows.push(batchRow, { ...batchRow, phase: '  = units/s', rate: batchAck / batchRow.seconds, mesCpuMs: (batchRow.mesCpuMs! * batchRow.rate) / (batchAck / batchRow.seconds), pgCpuMs: (batchRow.pgCpuMs! * batchRow.rate) / (batchAck / batchRow.seconds) });

    // Panels: one request completes the four boards of a panel (the locked path).
    let nextPanel = 1;
    let panelAck = 0;
    const panelRow = await measured(mesPid, dbName, async () => {
      const r = await autocannon({
        url: `http://127.0.0.1:${mes}`, connections: 16, duration: 8,
        requests: [{
          method: 'POST', path: '/api/v1/tracking/complete', headers: auth,
          setupRequest: (req) => ({ ...req, body: JSON.stringify({ stationId: fx.printer, identifier: `PNL-${String(nextPanel++).padStart(6, '0')}`, result: 'pass' }) }),
        }],
      });
      panelAck = r['2xx'];
      return { phase: `complete ${PANEL_POSITIONS}-up panels, max (16 conn)`, rate: r['2xx'] / r.duration, seconds: r.duration, p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max, errors: r.errors + r.non2xx };
    });
    rows.push(panelRow, { ...panelRow, phase: '  = units/s', rate: panelRow.rate * PANEL_POSITIONS, mesCpuMs: panelRow.mesCpuMs! / PANEL_POSITIONS, pgCpuMs: panelRow.pgCpuMs! / PANEL_POSITIONS });

    // Stop the server (it finishes requests in flight), then check: every unit advanced has
    // exactly one record, and the records lie between the completes acknowledged and sent.
    await stop(children.splice(children.indexOf(mesChild), 1));
    const check = new Db(scratch.url, 1);
    const recorded = (await check.one<{ n: number }>(`SELECT count(*)::int AS n FROM process_records WHERE work_order_id = $1`, [fx.liveWo]))!.n;
    const advanced = (await check.one<{ n: number }>(`SELECT count(*)::int AS n FROM units WHERE work_order_id = $1 AND next_step_seq = 20 AND visits = 1`, [fx.liveWo]))!.n;
    await check.close();
    const acknowledged = c.ok + waveAck + fullAck + batchAck + panelAck * PANEL_POSITIONS;
    const sent = nextComplete - 1 + (nextPanel - 1) * PANEL_POSITIONS;
    const consistent = recorded === advanced && recorded >= acknowledged && recorded <= sent;
    console.log(`consistency: ${sent} completes sent, ${acknowledged} acknowledged, ${recorded} process records, ${advanced} units advanced: ${consistent ? 'ok' : 'MISMATCH'}`);
    print(rows);
    console.log(JSON.stringify({ bench: 'interlock', historyUnits: HISTORY_UNITS, liveUnits: LIVE_UNITS, rows, seconds: Math.round((performance.now() - started) / 1000) }));
    if (!consistent) process.exitCode = 1;
  } finally {
    await stop(children);
    if (!args.includes('--keep') && !args.includes('--setup-only')) await scratch.drop();
  }
}

async function stop(children: ChildProcess[]): Promise<void> {
  const exits = children.map((ch) => new Promise((r) => (ch.exitCode !== null ? r(null) : ch.once('exit', r))));
  for (const ch of children) ch.kill('SIGTERM');
  await Promise.all(exits);
}

const serial = (i: number) => `LIVE-${String(i).padStart(7, '0')}`;

/** Master data through the services, then the bulk history with plain SQL. */
async function buildFactory(s: Services) {
  const site = await s.factory.sites.create(who, { code: 'BENCH', name: 'bench site' });
  const line = await s.factory.lines.create(who, { siteId: site.id, code: 'SMT1', name: 'SMT line 1' });
  const st: Record<string, number> = {};
  for (const [i, type] of (['printer', 'placement', 'aoi', 'rework'] as const).entries()) {
    st[type] = (await s.factory.stations.create(who, { lineId: line.id, code: `SMT1-${type}`, name: type, type, seq: i + 1 })).id;
  }
  const { rev } = await benchProduct(s, who, 'BENCH-CTRL');
  await s.products.putQualityPlan(who, rev.id, { requiredSteps: ['aoi'] });
  await s.products.releaseRevision(who, rev.id);

  // History: a finished work order with 100k units, each through three steps.
  const hist = await s.workOrders.release(who, (await s.workOrders.create(who, { number: 'WO-HISTORY', productRevisionId: rev.id, quantity: HISTORY_UNITS, lineId: line.id })).id);
  await s.db.tx(async (tx) => {
    await tx.query(`UPDATE work_orders SET units_created = $2, serial_seq = $2, state = 'in_progress' WHERE id = $1`, [hist.id, HISTORY_UNITS]);
    await tx.query(
      `INSERT INTO units (serial, work_order_id, status, next_step_seq, visits, passed_steps, created_at, updated_at)
       SELECT 'HIST-' || lpad(g::text, 7, '0'), $1, 'completed', NULL, 3, '{10,20,30}', now() - interval '2 days', now() - interval '1 day'
         FROM generate_series(1, $2::int) g`,
      [hist.id, HISTORY_UNITS],
    );
    await tx.query(
      `INSERT INTO process_records (unit_id, visit, work_order_id, basis_id, step_seq, step_name, station_id, actor_kind, actor_name, result, outcome, next_step_seq, started_at, completed_at)
       SELECT u.id, v.visit, $1, $2, v.seq, v.name, v.station, 'system', 'bench', 'pass', v.outcome, v.next,
              now() - interval '1 day' - (u.id % 3600) * interval '1 second', now() - interval '1 day' - (u.id % 3600) * interval '1 second' + interval '20 seconds'
         FROM units u CROSS JOIN (VALUES (1, 10, 'Print', $3::bigint, 'next', 20), (2, 20, 'Place', $4::bigint, 'next', 30), (3, 30, 'AOI', $5::bigint, 'completed', NULL)) AS v(visit, seq, name, station, outcome, next)
        WHERE u.work_order_id = $1`,
      [hist.id, hist.basisId, st.printer, st.placement, st.aoi],
    );
  });
  await s.workOrders.transition(who, hist.id, 'complete');

  // Live: the line's active work order, 150k single units and 5k 4-up panels waiting at the printer.
  const total = LIVE_UNITS + PANELS * PANEL_POSITIONS;
  const live = await s.workOrders.release(who, (await s.workOrders.create(who, { number: 'WO-LIVE', productRevisionId: rev.id, quantity: total, lineId: line.id })).id);
  await s.db.query(`UPDATE work_orders SET units_created = $2, serial_seq = $2 WHERE id = $1`, [live.id, total]);
  await s.db.query(
    `INSERT INTO units (serial, work_order_id, status, next_step_seq) SELECT 'LIVE-' || lpad(g::text, 7, '0'), $1, 'queued', 10 FROM generate_series(1, $2::int) g`,
    [live.id, LIVE_UNITS],
  );
  await s.db.query(`INSERT INTO panels (work_order_id, code, positions, created_by) SELECT $1, 'PNL-' || lpad(g::text, 6, '0'), $3, 'bench' FROM generate_series(1, $2::int) g`, [
    live.id, PANELS, PANEL_POSITIONS,
  ]);
  await s.db.query(
    `INSERT INTO units (serial, work_order_id, panel_id, panel_position, status, next_step_seq)
     SELECT p.code || '-' || pos, $1, p.id, pos, 'queued', 10 FROM panels p CROSS JOIN generate_series(1, $2::int) pos WHERE p.work_order_id = $1`,
    [live.id, PANEL_POSITIONS],
  );
  await s.db.query('VACUUM ANALYZE units');
  await s.db.query('VACUUM ANALYZE process_records');
  const token = await s.auth.createToken(who, { name: 'printer-1', role: 'machine', stationCodes: ['SMT1-printer'] });
  return { token: token.token, printer: st.printer!, liveWo: live.id };
}

/** Starts this file in server mode in a child process; resolves with its port. */
async function child(args: string[], children: ChildProcess[]): Promise<number> {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const ch = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'bench/run.ts'), 'interlock', ...args], {
    cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, MES_LOG_LEVEL: 'silent' },
  });
  children.push(ch);
  return new Promise((resolve, reject) => {
    let buf = '';
    ch.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /LISTENING (\d+)/.exec(buf);
      if (m) resolve(Number(m[1]));
    });
    ch.once('exit', (code) => reject(new Error(`server child exited with ${code}`))); // no effect once resolved
  });
}

async function serve(url: string, pool: number): Promise<void> {
  const config = loadConfig({ DATABASE_URL: url, MES_LOG_LEVEL: 'silent', MES_DB_POOL: String(pool) });
  const db = new Db(url, config.dbPoolSize);
  const app = await createApp(createServices(db, config), config);
  // As `mes serve` does: table statistics kept when the server's autovacuum is off.
  const maintenance = startTableMaintenance(db, config, (msg, err) => console.error(msg, err));
  await app.listen({ port: 0, host: '127.0.0.1' });
  console.log(`LISTENING ${(app.server.address() as { port: number }).port}`);
  await new Promise((r) => process.once('SIGTERM', r));
  await maintenance.stop();
  await app.close();
  await db.close();
}

async function serveBare(): Promise<void> {
  const app = Fastify({ logger: false });
  app.get('/ping', async () => ({ ok: true }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  console.log(`LISTENING ${(app.server.address() as { port: number }).port}`);
  await new Promise((r) => process.once('SIGTERM', r));
  await app.close();
}

/**
 * CPU seconds (user + system) used so far by a process, or by the PostgreSQL backends serving
 * one database (their command line names it; other databases on a shared server are left out).
 */
function cpuSeconds(pid: number | { database: string }): number {
  const tick = 100; // USER_HZ on Linux
  const read = (p: string) => {
    try {
      const f = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
      return (Number(rest[11]) + Number(rest[12])) / tick;
    } catch {
      return 0;
    }
  };
  if (typeof pid === 'number') return read(String(pid));
  let sum = 0;
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let cmd = '';
    try {
      cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmd.startsWith('postgres: ') && cmd.includes(` ${pid.database} `)) sum += read(d);
  }
  return sum;
}

/** Runs a phase and adds the CPU the MES process and PostgreSQL spent per request to its row. */
async function measured(mesPid: number, database: string, fn: () => Promise<Row>): Promise<Row> {
  const [m0, p0, l0] = [cpuSeconds(mesPid), cpuSeconds({ database }), os.loadavg()[0]!];
  const r = await fn();
  const n = r.rate * r.seconds;
  return { ...r, mesCpuMs: ((cpuSeconds(mesPid) - m0) * 1000) / n, pgCpuMs: ((cpuSeconds({ database }) - p0) * 1000) / n, load: Math.max(l0, os.loadavg()[0]!) };
}

interface PacedResult { latencies: number[]; ok: number; failed: number; seconds: number; sent: number; lagMs: number }

/**
 * An open-loop client: requests leave at `rate` per second on schedule, independent of
 * responses, over keep-alive connections; latency is send → full response.
 */
async function paced(o: { port: number; method: string; path: string; headers?: Record<string, string>; body?: () => string; rate: number; seconds: number; onBody?: (status: number, body: string) => void }): Promise<PacedResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  let sent = 0;
  let lagMs = 0;
  const total = Math.round(o.rate * o.seconds);
  const interval = 1000 / o.rate;
  const start = performance.now();
  const inflight = new Set<Promise<void>>();
  const fire = () => {
    const body = o.body?.();
    const t0 = performance.now();
    const p = new Promise<void>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port: o.port, method: o.method, path: o.path, agent, headers: { ...o.headers, ...(body ? { 'content-length': Buffer.byteLength(body) } : {}) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => (o.onBody ? chunks.push(c) : undefined));
        res.on('end', () => {
          latencies.push(performance.now() - t0);
          o.onBody?.(res.statusCode!, Buffer.concat(chunks).toString());
          if (res.statusCode! >= 200 && res.statusCode! < 300) ok++;
          else failed++;
          resolve();
        });
      });
      req.on('error', () => {
        failed++;
        resolve();
      });
      req.end(body);
    });
    inflight.add(p);
    void p.then(() => inflight.delete(p));
  };
  while (sent < total) {
    const now = performance.now();
    const due = Math.min(total, Math.floor((now - start) / interval) + 1);
    if (due - sent > 1) lagMs = Math.max(lagMs, now - start - (sent + 1) * interval);
    while (sent < due) {
      fire();
      sent++;
    }
    await new Promise((r) => setTimeout(r, Math.max(0, start + sent * interval - performance.now())));
  }
  const seconds = (performance.now() - start) / 1000;
  await Promise.all(inflight);
  agent.destroy();
  return { latencies, ok, failed, seconds, sent, lagMs };
}

interface Row { phase: string; rate: number; seconds: number; p50: number; p99: number; max: number; errors: number; mesCpuMs?: number; pgCpuMs?: number; load?: number }

function row(phase: string, r: PacedResult): Row {
  const s = summarize(r.latencies);
  return { phase, rate: r.sent / r.seconds, seconds: r.seconds, p50: s.p50, p99: s.p99, max: s.max, errors: r.failed };
}

function print(rows: Row[]) {
  const f = (n: number | undefined) => (n !== undefined && Number.isFinite(n) ? n.toFixed(2) : '-');
  console.log('\n| phase | req/s | p50 ms | p99 ms | max ms | errors | MES CPU ms/req | PostgreSQL CPU ms/req | load avg |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.phase} | ${Math.round(r.rate)} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.max)} | ${r.errors} | ${f(r.mesCpuMs)} | ${f(r.pgCpuMs)} | ${f(r.load)} |`);
  console.log('');
}
