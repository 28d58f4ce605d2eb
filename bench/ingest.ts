/**
 * `npm run bench -- ingest`: CFX ingestion from RabbitMQ (AMQP 1.0) to committed records.
 *
 * 1. The realistic mix: the line simulator's traffic for the demo line (boards through ten
 *    stations: unit movements, work started / completed applied by the tracking service,
 *    components installed, SPI / AOI inspections, tests, repairs, reflow readings, states,
 *    faults, heartbeats, splices), generated up front and published to a durable queue. Reels
 *    hold what the part's package comes in (`reelQuantity` in the simulator: 10,000 0402 chips on
 *    a 7" reel, 2,500 ICs on a 13" reel, trays of 500 connectors…), each slot's first reel partly
 *    used, as on a running line: about one splice per 20 boards for the demo board's 61 slots
 *    (~0.1 % of the messages), where reels of 60 boards (before) spliced every slot every 60
 *    boards (~2 % of the messages, about half of the database time).
 * 2. The MES ingest process (its own process, as `mes serve` runs it) drains the queue: rate =
 *    messages / (last commit − first delivery).
 * 3. The ceiling: the same messages, same broker, a fresh queue, drained by a consumer that only
 *    accepts (same credit), in its own process.
 * 4. ValidateUnitsRequest round trips over the point-to-point AMQP listener while the MES
 *    ingests 2,000 msg/s from the broker.
 * 2–4. The MES's rate is read from its inbox rows: first delivery (received_at) to last commit
 *    (applied_at); progress is polled every 100 ms by received_at (BRIN), not by counting the table.
 * Env: BENCH_BOARDS (default 800), BENCH_LANES (MES_CFX_LANES, default 3), BENCH_BATCH (MES_CFX_BATCH, default 500),
 * BENCH_CREDIT (the consumers' link credit, default 2000), BENCH_SECONDS (validate phase, default 10),
 * BENCH_TRACE=1 (the MES main thread's statements, i.e. the listener's, timed and printed at the end; phase times),
 * BENCH_CPU_PROF=<dir> (CPU profiles of the MES and ceiling processes, every thread).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import amqplib from 'amqplib';
import rhea from 'rhea';
import type { Message } from 'rhea';
import { scratchDatabase, summarize } from './lib.ts';

const BROKER = process.env.BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const BOARDS = Number(process.env.BENCH_BOARDS ?? 800);
const LANES = process.env.BENCH_LANES ?? '3';
const VALIDATE_SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CREDIT = Number(process.env.BENCH_CREDIT ?? 2000);
const BATCH = process.env.BENCH_BATCH ?? '500';

type Info = Record<string, any>;

function child(mode: string, args: string[], env: Record<string, string> = {}): Promise<{ proc: ChildProcess; next(): Promise<Info> }> {
  // BENCH_CPU_PROF=<dir>: V8 CPU profiles of the children (every thread) written there at exit.
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
  const proc = spawn(process.execPath, [...prof, '--import', 'tsx', fileURLToPath(import.meta.url), mode, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ...env } });
  const inbox: Info[] = [];
  const waiters: ((i: Info) => void)[] = [];
  proc.on('message', (m) => (waiters.length ? waiters.shift()!(m as Info) : inbox.push(m as Info)));
  const next = () => new Promise<Info>((resolve, reject) => {
    if (inbox.length) return resolve(inbox.shift()!);
    waiters.push(resolve);
    proc.once('exit', (code) => reject(new Error(`${mode} exited with ${code}`)));
  });
  return Promise.resolve({ proc, next });
}

async function declare(queue: string, binding: string) {
  const { setupBroker } = await import('../src/integrations/cfx/amqp.ts');
  await setupBroker({ brokerUrl: BROKER, queue, exchange: 'amq.topic', binding, tls: { ca: undefined, cert: undefined, key: undefined } });
}
async function deleteQueues(qs: string[]) {
  const c = await amqplib.connect(BROKER);
  const ch = await c.createChannel();
  for (const q of qs) await ch.deleteQueue(q).catch(() => undefined);
  await c.close();
}

/**
 * Child: the MES as `mes serve` runs it: the broker consumer in its own thread, the request
 * listener on the main thread. Progress is read from the database: `drained` is sent when N
 * more messages have their inbox row (or dead letter), with the time from the first to the last.
 */
async function mesProcess(dbUrl: string, queue: string, expected: string) {
  // BENCH_TRACE=1: the main thread's statements (the request listener's, the progress reads) timed on the pg client, printed at stop.
  const trace = new Map<string, { n: number; ms: number; max: number }>();
  if (process.env.BENCH_TRACE) {
    const pg = (await import('pg')).default;
    const query = pg.Client.prototype.query as (...a: unknown[]) => unknown;
    pg.Client.prototype.query = function (this: unknown, ...a: unknown[]) {
      const c = a[0] as string | { name?: string; text?: string };
      const key = (typeof c === 'string' ? c : (c.name ?? c.text ?? '')).replace(/\s+/g, ' ').slice(0, 90);
      const t0 = performance.now();
      const r = query.apply(this, a) as Promise<unknown> | undefined;
      const done = () => {
        const x = trace.get(key) ?? { n: 0, ms: 0, max: 0 };
        const ms = performance.now() - t0;
        x.n++;
        x.ms += ms;
        x.max = Math.max(x.max, ms);
        trace.set(key, x);
      };
      if (r && typeof r.then === 'function') r.then(done, done);
      return r;
    } as typeof pg.Client.prototype.query;
  }
  const { loadConfig } = await import('../src/platform/config.ts');
  const { Db } = await import('../src/platform/db.ts');
  const { createServices } = await import('../src/main.ts');
  const { createThreadedConsumer, createRequestListener } = await import('../src/integrations/cfx/amqp.ts');
  const config = loadConfig({
    DATABASE_URL: dbUrl, MES_LOG_LEVEL: 'silent', MES_CFX_BROKER_URL: BROKER, MES_CFX_QUEUE: queue, MES_CFX_LANES: LANES, MES_CFX_CREDIT: String(CREDIT), MES_CFX_BATCH: BATCH,
    MES_CFX_HANDLE: 'Bench.MES.1', MES_CFX_LISTEN_PORT: '0', MES_DB_POOL: String(Number(LANES) + 4),
  });
  const db = new Db(dbUrl, 4);
  const services = createServices(db, config);
  // Progress from the database, cheaply (a full count every few milliseconds would take a core of
  // its own from the MES it measures): the phase's inbox rows by received_at (BRIN), every 100 ms.
  // The time is then read from the rows: first delivery (received_at, set at delivery) to the
  // last commit (applied_at, clock time of the batch's last statement).
  const count = async (since: Date) =>
    (await db.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM cfx_inbox WHERE received_at >= $1) + (SELECT count(*) FROM cfx_dead_letters WHERE unique_id IS NULL AND received_at >= $1) AS n`,
      [since],
    )).rows[0]!.n;
  let watch = 0;
  const expect = async (n: number, since = new Date()) => {
    const mine = ++watch;
    for (;;) {
      if (mine !== watch) return;
      const c = await count(since);
      if (c >= n) {
        const w = (await db.query<{ first: Date; last: Date }>('SELECT min(received_at) AS first, max(applied_at) AS last FROM cfx_inbox WHERE received_at >= $1', [since])).rows[0]!;
        return process.send!({ event: 'drained', ms: w.last.getTime() - w.first.getTime(), done: c });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const started = new Date();
  // As `mes serve` wires them: the listener's requests go before the consumer's batches.
  const { RequestPriority } = await import('../src/integrations/cfx/priority.ts');
  const priority = new RequestPriority();
  const consumer = createThreadedConsumer(config, dbUrl, { priority });
  const listener = createRequestListener(services.integrations.cfx.ingest, config.cfx, { priority });
  await listener.start();
  await consumer.start();
  // As `mes serve` does: table statistics kept when the server's autovacuum is off.
  const { startTableMaintenance } = await import('../src/platform/maintenance.ts');
  const maintenance = startTableMaintenance(db, config, (msg, err) => console.error(msg, err),
    process.env.BENCH_TRACE ? (r) => console.log(`maintenance ${new Date().toISOString()}: analyzed ${r.analyzed.join(' ')}; vacuumed ${r.vacuumed.join(' ')}`) : undefined);
  process.send!({ event: 'ready', port: listener.address().port });
  void expect(Number(expected), started);
  process.on('message', async (m: Info) => {
    if (m.cmd === 'expect') void expect(m.n);
    if (m.cmd === 'stats') {
      const outcomes = await db.query<{ outcome: string; n: number }>('SELECT outcome, count(*)::int AS n FROM cfx_inbox GROUP BY 1 ORDER BY 1');
      const reasons = await db.query<{ reason_code: string; n: number }>('SELECT reason_code, count(*)::int AS n FROM cfx_dead_letters GROUP BY 1 ORDER BY 2 DESC LIMIT 5');
      process.send!({ event: 'stats', outcomes: outcomes.rows, reasons: reasons.rows });
    }
    if (m.cmd === 'stop') {
      if (process.env.BENCH_TRACE) {
        for (const [k, x] of [...trace].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15)) console.log(`main thread: ${x.n} × ${(x.ms / x.n).toFixed(2)} ms (max ${x.max.toFixed(1)}) ${k}`);
      }
      await maintenance.stop();
      await consumer.stop();
      await listener.stop();
      await db.close();
      process.exit(0);
    }
  });
}

/** Child: the ceiling, a consumer that only accepts. */
async function ackOnly(queue: string, expected: string) {
  const c = rhea.create_container({ id: `bench-ack-${process.pid}` });
  let first = 0;
  let n = 0;
  const N = Number(expected);
  c.on('receiver_open', (ctx) => ctx.receiver!.add_credit(CREDIT));
  c.on('message', (ctx) => {
    if (!first) first = performance.now();
    ctx.delivery!.accept();
    // Credit back in one grant when used up, as the MES consumer does (RabbitMQ 3.x adds flow credit up).
    const r = ctx.receiver! as unknown as { credit: number; add_credit(n: number): void };
    if (r.credit === 0) r.add_credit(CREDIT);
    if (++n === N) process.send!({ event: 'drained', ms: performance.now() - first, done: n });
  });
  const u = new URL(BROKER);
  const conn = c.connect({ host: u.hostname, port: Number(u.port || 5672), username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) } as never);
  conn.open_receiver({ source: { address: `/queue/${queue}`, durable: 2, expiry_policy: 'never' }, autoaccept: false, credit_window: 0 } as never);
  process.send!({ event: 'ready' });
  process.on('message', (m: Info) => m.cmd === 'stop' && process.exit(0));
}

async function publishAll(messages: Message[], address: string, rate = 0): Promise<number> {
  const { connectPublisher } = await import('../src/integrations/cfx/amqp.ts');
  const pub = await connectPublisher(BROKER, { address, maxInFlight: 2000 });
  const t0 = performance.now();
  for (const [i, m] of messages.entries()) {
    await pub.send(m);
    if (rate > 0 && i % 50 === 0) {
      const wait = t0 + (i / rate) * 1000 - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }
  await pub.flush();
  await pub.close();
  return performance.now() - t0;
}

/** BENCH_TRACE=1: the phases' wall-clock bounds, to line them up with CPU samples taken beside the run. */
const phase = (name: string) => process.env.BENCH_TRACE && console.log(`phase ${name} ${new Date().toISOString()}`);

export default async function bench(): Promise<void> {
  const db = await scratchDatabase('bench_ingest');
  const prefix = `B${crypto.randomBytes(3).toString('hex')}`;
  const qMes = `bench.${prefix}.mes`;
  const qCeil = `bench.${prefix}.ceiling`;
  const { migrate } = await import('../src/platform/migrate.ts');
  const { Db } = await import('../src/platform/db.ts');
  const { loadConfig } = await import('../src/platform/config.ts');
  const { createServices } = await import('../src/main.ts');
  const { prepareDemoRun, LineSimulator } = await import('../src/integrations/simulator/index.ts');
  const { amqpMessage } = await import('../src/integrations/cfx/amqp.ts');
  const system = { kind: 'system' as const, id: null, name: 'bench', role: 'admin' as const };
  await migrate(db.url);
  const pdb = new Db(db.url, 4);
  const services = createServices(pdb, loadConfig({ DATABASE_URL: db.url }));
  let mes: Awaited<ReturnType<typeof child>> | null = null;
  try {
    // The traffic: the demo line building BOARDS boards, plus a second run for the validate phase.
    const plan = await prepareDemoRun(services, system, { boards: BOARDS });
    const sim = new LineSimulator(plan, { seed: 1, heartbeatTicks: 30 });
    // The line is set up before it produces, as a real line is: machines online, recipes active,
    // feeders loaded and verified (applied before any board is sent), then the boards.
    const setup = sim.startup().map((e) => amqpMessage(e));
    // Warm-up: the line's start until the first board passed the first-article gate (AOI), whose
    // FAI the inspector then approves; the measured mix is everything after.
    const warm: Message[] = [];
    const mix: Message[] = [];
    const mixEnvs: import('../src/integrations/cfx/codec.ts').CfxOutgoingEnvelope[] = [];
    const names = new Map<string, number>();
    let fa: { serial: string; seq: number } | null = null;
    while (!sim.finished) {
      const envs = sim.tick();
      for (const e of envs) {
        (fa ? mix : warm).push(amqpMessage(e));
        if (fa) {
          names.set(e.messageName, (names.get(e.messageName) ?? 0) + 1);
          mixEnvs.push(e);
        }
      }
      if (!fa && sim.firstArticlesDue.length) fa = sim.firstArticlesDue[0]!;
    }
    const N = mix.length;
    await declare(qMes, '#.never');
    await declare(qCeil, '#.never');

    // 1–2. The MES drains the warm-up, the FAI is approved, then it drains the realistic mix.
    await publishAll(setup, `/queue/${qMes}`);
    mes = await child('--mes', [db.url, qMes, String(setup.length)]);
    const ready = await mes.next();
    await mes.next();
    mes.proc.send({ cmd: 'expect', n: warm.length });
    await publishAll(warm, `/queue/${qMes}`);
    await mes.next();
    if (fa) await plan.approveFirstArticle(fa.serial, fa.seq);
    mes.proc.send({ cmd: 'expect', n: N });
    phase('mix');
    await publishAll(mix, `/queue/${qMes}`);
    const drained = await mes.next();
    phase('mix-end');
    mes.proc.send({ cmd: 'stats' });
    const stats = await mes.next();
    const mesRate = N / (drained.ms / 1000);

    // 2b. The door alone: the messages of the mix that no domain service applies (states, faults,
    // readings, unit movements, heartbeats, kept results), as new messages.
    const DOMAIN = new Set(['CFX.Production.WorkStarted', 'CFX.Production.WorkCompleted', 'CFX.Production.TestAndInspection.UnitsInspected',
      'CFX.Production.TestAndInspection.UnitsTested', 'CFX.Production.ReworkAndRepair.UnitsRepaired', 'CFX.Materials.Storage.SplicePointDetected', 'CFX.Materials.Storage.MaterialsEmpty']);
    const light = mixEnvs.filter((e) => !DOMAIN.has(e.messageName)).map((e) => amqpMessage({ ...e, uniqueId: crypto.randomUUID() }));
    mes.proc.send({ cmd: 'expect', n: light.length });
    phase('door');
    await publishAll(light, `/queue/${qMes}`);
    const lightDrained = await mes.next();
    phase('door-end');
    const lightRate = light.length / (lightDrained.ms / 1000);

    // 3. The ceiling: same messages, fresh queue, ack-only consumer.
    await publishAll(mix, `/queue/${qCeil}`);
    const ceil = await child('--ack-only', [qCeil, String(N)]);
    await ceil.next();
    const ceilDrained = await ceil.next();
    ceil.proc.send({ cmd: 'stop' });
    const ceilRate = N / (ceilDrained.ms / 1000);

    // 4. ValidateUnitsRequest round trips while the MES is fed 2,000 msg/s: (a) of the realistic
    // mix, (b) of the door-only mix.
    const plan2 = await prepareDemoRun(services, system, { boards: 4000 });
    const sim2 = new LineSimulator(plan2, { seed: 2, heartbeatTicks: 30 });
    // The second work order's setup (its reels loaded and verified) is applied before its boards.
    const setup2 = sim2.startup().map((e) => amqpMessage(e));
    const warm2: Message[] = [];
    const realistic: Message[] = [];
    const lightEnvs: import('../src/integrations/cfx/codec.ts').CfxOutgoingEnvelope[] = [];
    let fa2: { serial: string; seq: number } | null = null;
    while (realistic.length < 2000 * VALIDATE_SECONDS && !sim2.finished) {
      for (const e of sim2.tick()) {
        (fa2 ? realistic : warm2).push(amqpMessage(e));
        if (fa2 && !DOMAIN.has(e.messageName)) lightEnvs.push(e);
      }
      if (!fa2 && sim2.firstArticlesDue.length) fa2 = sim2.firstArticlesDue[0]!;
    }
    while (lightEnvs.length < 2000 * VALIDATE_SECONDS) lightEnvs.push(...lightEnvs.slice(0, 2000 * VALIDATE_SECONDS - lightEnvs.length));
    const lightBackground = lightEnvs.map((e) => amqpMessage({ ...e, uniqueId: crypto.randomUUID() }));
    mes.proc.send({ cmd: 'expect', n: setup2.length });
    await publishAll(setup2, `/queue/${qMes}`);
    await mes.next();
    mes.proc.send({ cmd: 'expect', n: warm2.length });
    await publishAll(warm2, `/queue/${qMes}`);
    await mes.next();
    if (fa2) {
      try {
        await plan2.approveFirstArticle(fa2.serial, fa2.seq);
      } catch (e) {
        mes.proc.send({ cmd: 'stats' });
        const st = await mes.next();
        const u = await services.tracking.getUnit(fa2.serial);
        const dl = await pdb.query<{ reason_code: string; message_name: string; reason: string }>('SELECT reason_code, message_name, left(reason, 300) AS reason FROM cfx_dead_letters ORDER BY id DESC LIMIT 5');
        console.error('first article of the validate phase not approvable:', JSON.stringify({ stats: st, unit: { status: u.status, history: u.history.map((h) => [h.stepSeq, h.result]) }, deadLetters: dl.rows }, null, 1));
        throw e;
      }
    }
    const { connectRequester } = await import('../src/integrations/cfx/amqp.ts');
    const req = await connectRequester({ host: '127.0.0.1', port: ready.port, target: 'Bench.MES.1', handle: 'DemoLaser.LM20.0042', timeoutMs: 30_000 });
    const unstarted = plan2.serials.slice(-1000);
    for (let i = 0; i < 50; i++) await req.request({ messageName: 'CFX.InformationSystem.UnitValidation.ValidateUnitsRequest', body: { PrimaryIdentifier: unstarted[i]!, Units: [] } });
    const codes = new Map<number, number>();
    const validateWhile = async (background: Message[]) => {
      mes!.proc.send({ cmd: 'expect', n: background.length });
      const publishing = publishAll(background, `/queue/${qMes}`, 2000);
      const lat: number[] = [];
      const t0 = performance.now();
      let i = 0;
      while (performance.now() - t0 < VALIDATE_SECONDS * 1000) {
        const serial = i % 5 === 4 ? `UNKNOWN-${i}` : unstarted[i % unstarted.length]!;
        const s0 = performance.now();
        const r = await req.request({ messageName: 'CFX.InformationSystem.UnitValidation.ValidateUnitsRequest', body: { PrimaryIdentifier: serial, Units: [] } });
        lat.push(performance.now() - s0);
        const code = (r.MessageBody as { PrimaryResult: { FailureCode: number } }).PrimaryResult.FailureCode;
        codes.set(code, (codes.get(code) ?? 0) + 1);
        i++;
        await new Promise((r2) => setTimeout(r2, 5));
      }
      const publishMs = await publishing;
      const drainedAt = await mes!.next();
      return { v: summarize(lat), offered: background.length / (publishMs / 1000), drainMs: drainedAt.ms, n: background.length };
    };
    const va = await validateWhile(realistic);
    const vb = await validateWhile(lightBackground);
    await req.close();

    console.log(`\nmix: ${N} messages from ${BOARDS} boards (${[...names.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k.replace(/^CFX\./, '')} ${n}`).join(', ')})`);
    console.log(`MES lanes ${LANES}, credit ${CREDIT}, batch ≤ ${BATCH}; outcomes: ${stats.outcomes.map((o: Info) => `${o.outcome} ${o.n}`).join(', ')}`);
    if (stats.reasons.length) console.log(`dead-letter reasons: ${stats.reasons.map((o: Info) => `${o.reason_code} ${o.n}`).join(', ')}`);
    console.log('\n| measurement | messages | seconds | msg/s |');
    console.log('|---|---:|---:|---:|');
    console.log(`| MES: broker → committed (inbox + effects) | ${N} | ${(drained.ms / 1000).toFixed(2)} | ${Math.round(mesRate)} |`);
    console.log(`| ceiling: same broker, accept-only consumer | ${N} | ${(ceilDrained.ms / 1000).toFixed(2)} | ${Math.round(ceilRate)} |`);
    console.log(`| MES, the door alone: the mix without tracking / quality / materials messages | ${light.length} | ${(lightDrained.ms / 1000).toFixed(2)} | ${Math.round(lightRate)} |`);
    console.log(`\nMES / ceiling = ${(mesRate / ceilRate).toFixed(2)} (targets: ≥ 5,000 msg/s and ≥ 0.50)`);
    for (const [label, x] of [['realistic mix', va], ['door-only mix', vb]] as const) {
      console.log(
        `\nValidateUnitsRequest over the point-to-point listener while ${Math.round(x.offered)} msg/s of the ${label} are offered ` +
          `(${x.n} messages, applied in ${(x.drainMs / 1000).toFixed(1)} s = ${Math.round(x.n / (x.drainMs / 1000))} msg/s): ` +
          `n=${x.v.n}, p50 ${x.v.p50.toFixed(2)} ms, p99 ${x.v.p99.toFixed(2)} ms, max ${x.v.max.toFixed(2)} ms (target p99 ≤ 10 ms)`,
      );
    }
    console.log(`FailureCodes returned: ${[...codes.entries()].map(([k, n]) => `${k}: ${n}`).join(', ')}`);
    console.log(JSON.stringify({ messages: N, mesRate: Math.round(mesRate), doorRate: Math.round(lightRate), ceilingRate: Math.round(ceilRate), ratio: +(mesRate / ceilRate).toFixed(2), validateP99RealisticMs: +va.v.p99.toFixed(2), validateP99DoorMs: +vb.v.p99.toFixed(2) }));
  } finally {
    mes?.proc.send({ cmd: 'stop' });
    await new Promise((r) => setTimeout(r, 500));
    mes?.proc.kill();
    await pdb.close();
    await deleteQueues([qMes, qCeil]);
    await db.drop();
  }
}

const [mode, ...args] = process.argv.slice(2);
if (mode === '--mes') await mesProcess(args[0]!, args[1]!, args[2]!);
else if (mode === '--ack-only') await ackOnly(args[0]!, args[1]!);
