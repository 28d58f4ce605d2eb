/**
 * `npm run bench -- quality`: the quality loop under load.
 *
 * 1. Results ingestion with the quality rules enabled (defect repeat, FPY, test repeat,
 *    parameter range; all four active for the product): every result carries 5 defects and 20
 *    measurements. Measured through `quality.recordResults` in batches (one CFX UnitsInspected
 *    of a 50-up panel = one call) and one result per call, against the raw ceiling: bare
 *    multi-row INSERTs of the same rows into the same tables (results with their measurements
 *    as JSON, defects, failed measurements; no unit lookup, no rules, no per-unit index), in
 *    the same run, with the same concurrency, alternating in rounds so both see the same load.
 *    The tables start with a finished 100,000-unit work order (results, defects, process records).
 * 2. Clearance of a 10,000-unit shipment (100 cartons of 100 units; plan: AOI result required,
 *    trace by lot, material level M2) built with set-based SQL, with other holds, an NCR,
 *    dispositions and verified repairs around it so every branch of the check runs; against a
 *    bare read of the same units with their results and process records.
 * 3. Interlock validate latency with and without the quality rules (their one extra query).
 * 4. Equipment readings stored with the reading rules on (ten `reading_out_of_limits` rules,
 *    consecutive 3, on an oven reporting 20 readings a message, 1 % of the zone values outside)
 *    against the same storage function without the hook, alternating in rounds.
 *
 * Options: --results <n> (batched phase, default 20000), --batch <n> (default 50),
 * --concurrency <n> (default 4), --keep (keep the scratch database).
 */
import { performance } from 'node:perf_hooks';
import { benchProduct, scratchDatabase, summarize } from './lib.ts';
import { Db } from '../src/platform/db.ts';
import { migrate } from '../src/platform/migrate.ts';
import { createServices, type Services } from '../src/main.ts';
import { createTrackingService } from '../src/modules/tracking/index.ts';
import { createEquipmentService, type ReadingInput } from '../src/modules/equipment/index.ts';
import type { ResultInput } from '../src/modules/quality/index.ts';
import type { Principal } from '../src/platform/principal.ts';

const who: Principal = { kind: 'system', id: null, name: 'bench', role: 'admin' };
const CODES = ['BRIDGE', 'INSUFF', 'TOMBSTONE', 'MISSING', 'POLARITY', 'SHIFT', 'LIFTED', 'NONWET', 'BALLS', 'DAMAGE'];

export default async function quality(args: string[]): Promise<void> {
  const opt = (name: string, d: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : d);
  const total = opt('--results', 20_000);
  const batch = opt('--batch', 50);
  const concurrency = opt('--concurrency', 4);
  const scratch = await scratchDatabase('bench_quality');
  const db = new Db(scratch.url, concurrency * 2 + 2);
  try {
    await migrate(scratch.url);
    const s = createServices(db, { sessionTtlSeconds: 3600 });
    const t0 = performance.now();
    const fx = await factory(s);
    const ingestUnits = total * 2 + 5000;
    await insertUnits(s, fx.ingestWo, ingestUnits, 'IN');
    await history(s, fx);
    console.log(`setup: factory, ${HISTORY.toLocaleString('en')} units of history (results, defects, process records) + ${ingestUnits} units in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    // ── 1. ingestion ─────────────────────────────────────────────────────────────────────
    const rng = mulberry32(42);
    const makeResult = (serial: string): ResultInput => ({
      stationId: fx.aoi, unit: serial, method: 'aoi', result: 'fail', programName: 'AOI-TOP', programRevision: '1', source: 'bench',
      defects: Array.from({ length: 5 }, () => ({ code: CODES[Math.floor(rng() * CODES.length)]!, refdes: `R${1 + Math.floor(rng() * 400)}`, imageRef: 'img://bench' })),
      measurements: Array.from({ length: 20 }, (_, j) => {
        const v = 100 + (rng() - 0.5) * 40;
        return { name: j === 0 ? 'Volume' : `M${String(j).padStart(2, '0')}`, value: Math.round(v * 100) / 100, unit: '%', lowerLimit: 82, upperLimit: 118 };
      }),
    });
    let next = 1;
    const serial = () => `IN-${String(next++).padStart(7, '0')}`;

    // Warm-up (prepared statements, caches), then statistics as a running database has them
    // (autovacuum would analyze the growing tables within a minute).
    await runPhase(concurrency, 20, async () => void (await s.quality.recordResults(who, Array.from({ length: batch }, () => makeResult(serial())))));
    await db.query('ANALYZE');

    // Service and raw ceiling alternate in rounds, so that both see the same load on a shared machine.
    const unitIds = (await db.query<{ id: number; serial: string }>(`SELECT id, serial FROM units WHERE work_order_id = $1 ORDER BY id`, [fx.ingestWo])).rows;
    let rawNext = unitIds.length - 1;
    const rounds = 4;
    const batched = { n: 0, seconds: 0 };
    const raw = { n: 0, seconds: 0 };
    for (let round = 0; round < rounds; round++) {
      const b = await runPhase(concurrency, Math.ceil(total / batch / rounds), async () => void (await s.quality.recordResults(who, Array.from({ length: batch }, () => makeResult(serial())))));
      const r = await runPhase(concurrency, Math.ceil(total / batch / rounds), async () => {
        const rows = Array.from({ length: batch }, () => ({ unit: unitIds[rawNext--]!, r: makeResult('') }));
        await rawInsert(db, fx, rows);
      });
      batched.n += b.n;
      batched.seconds += b.seconds;
      raw.n += r.n;
      raw.seconds += r.seconds;
    }
    const singleN = Math.min(4000, Math.floor(total / 5));
    const single = await runPhase(concurrency * 2, singleN, async () => void (await s.quality.recordResult(who, makeResult(serial()))));
    const alerts = (await db.one<{ n: number }>('SELECT count(*)::int AS n FROM quality_alerts'))!.n;
    const rows = await db.one<{ r: number; d: number; m: number; f: number }>('SELECT (SELECT count(*) FROM quality_results)::int AS r, (SELECT count(*) FROM quality_defects)::int AS d, (SELECT sum(jsonb_array_length(measurements)) FROM quality_results)::int AS m, (SELECT count(*) FROM quality_measurement_failures)::int AS f');

    // ── 2. clearance of a 10,000-unit shipment ───────────────────────────────────────────
    const tc = performance.now();
    const ship = await buildShipment(s, fx);
    console.log(`setup: shipment of ${ship.units} units in ${ship.cartons} cartons in ${((performance.now() - tc) / 1000).toFixed(1)} s`);
    const clean: number[] = [];
    let lastClean = await s.shipping.clearance(ship.id);
    for (let i = 0; i < 5; i++) {
      const a = performance.now();
      lastClean = await s.shipping.clearance(ship.id);
      clean.push(performance.now() - a);
    }
    // One percent of the units held (a where-used style list), plus a work-order NCR: every unit blocked.
    const heldSerials = (await db.query<{ serial: string }>(`SELECT serial FROM units WHERE work_order_id = $1 ORDER BY id LIMIT 100`, [ship.wo])).rows.map((r) => r.serial);
    await s.quality.placeHold(who, { scope: 'units', serials: heldSerials, reasonCode: 'RECALL', reason: 'bench: 1 % held' });
    const dirty: number[] = [];
    let lastDirty = await s.shipping.clearance(ship.id);
    for (let i = 0; i < 5; i++) {
      const a = performance.now();
      lastDirty = await s.shipping.clearance(ship.id, { limit: 100_000 });
      dirty.push(performance.now() - a);
    }
    const bare: number[] = [];
    for (let i = 0; i < 5; i++) {
      const a = performance.now();
      await db.query(
        `SELECT count(DISTINCT u.id), count(DISTINCT r.id), count(DISTINCT pr.id)
           FROM shipping_cartons c JOIN shipping_carton_units cu ON cu.carton_id = c.id JOIN units u ON u.id = cu.unit_id
           LEFT JOIN quality_results r ON r.unit_id = u.id LEFT JOIN process_records pr ON pr.unit_id = u.id WHERE c.shipment_id = $1`,
        [ship.id],
      );
      bare.push(performance.now() - a);
    }

    // ── 3. interlock overhead ────────────────────────────────────────────────────────────
    const plain = createTrackingService(s.db, { workOrders: s.workOrders });
    const probe = (await db.query<{ serial: string }>(`SELECT serial FROM units WHERE work_order_id = $1 AND visits = 0 ORDER BY id DESC LIMIT 500`, [fx.ingestWo])).rows.map((r) => r.serial);
    await s.workOrders.activate(who, fx.ingestWo);
    const lat = async (svc: { validate: Services['tracking']['validate'] }) => {
      for (const p of probe.slice(0, 50)) await svc.validate(who, { stationId: fx.printer, identifier: p });
      const out: number[] = [];
      for (const p of probe) {
        const a = performance.now();
        await svc.validate(who, { stationId: fx.printer, identifier: p });
        out.push(performance.now() - a);
      }
      return summarize(out);
    };
    const withoutQ = await lat(plain);
    const withQ = await lat(s.tracking);

    // ── 4. readings with reading rules ───────────────────────────────────────────────────
    const oven = (await s.factory.stations.create(who, { lineId: fx.line, code: 'SMT1-reflow', name: 'reflow oven', type: 'reflow', seq: 9 })).id;
    for (let z = 1; z <= 10; z++) {
      await s.quality.createRule(who, { code: `OVEN-Z${z}`, name: `zone ${z} temperature`, kind: 'reading_out_of_limits', stationId: oven, readingName: `zone${z}.temp`, params: { min: 150, max: 260, consecutive: 3 }, actions: ['alert'] });
    }
    const bareEquipment = createEquipmentService(s.db);
    let tick = 0;
    const t00 = Date.now() - 86400_000;
    const ovenMessage = (): ReadingInput[] => {
      const at = new Date(t00 + tick++ * 1000);
      return Array.from({ length: 20 }, (_, k) => ({
        at, stationId: oven, equipmentId: null, unitIdentifier: null, name: k < 10 ? `zone${k + 1}.temp` : `zone${k - 9}.blower`,
        value: k < 10 ? (rng() < 0.01 ? 275 : 200 + rng() * 20) : 40 + rng() * 10, textValue: null, unit: k < 10 ? 'C' : '%', source: 'mqtt', origin: 'bench',
      }));
    };
    const readingBatches = opt('--reading-batches', 4000);
    await runPhase(concurrency, 100, async () => void (await db.tx((tx) => s.equipment.recordReadings(tx, ovenMessage()))));
    const withRules = { n: 0, seconds: 0 };
    const withoutRules = { n: 0, seconds: 0 };
    for (let round = 0; round < rounds; round++) {
      const a = await runPhase(concurrency, Math.ceil(readingBatches / rounds), async () => void (await db.tx((tx) => s.equipment.recordReadings(tx, ovenMessage()))));
      const b = await runPhase(concurrency, Math.ceil(readingBatches / rounds), async () => void (await db.tx((tx) => bareEquipment.recordReadings(tx, ovenMessage()))));
      withRules.n += a.n;
      withRules.seconds += a.seconds;
      withoutRules.n += b.n;
      withoutRules.seconds += b.seconds;
    }
    const readingAlerts = (await db.one<{ n: number }>(`SELECT count(*)::int AS n FROM quality_alerts WHERE kind = 'reading_out_of_limits'`))!.n;

    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const summary = {
      ingestion: {
        perResult: { defects: 5, measurements: 20 }, rulesActive: 4, batch, concurrency,
        batched: { results: batched.n * batch, seconds: batched.seconds, perSecond: Math.round((batched.n * batch) / batched.seconds) },
        single: { results: single.n, seconds: single.seconds, perSecond: Math.round(single.n / single.seconds), concurrency: concurrency * 2 },
        rawCeiling: { results: raw.n * batch, seconds: raw.seconds, perSecond: Math.round((raw.n * batch) / raw.seconds) },
        alertsFired: alerts, rowsStored: rows,
      },
      clearance: {
        units: ship.units, cartons: ship.cartons,
        clean: { ms: { min: Math.min(...clean), median: med(clean) }, clear: lastClean.clear },
        dirty: { ms: { min: Math.min(...dirty), median: med(dirty) }, blockers: lastDirty.total, counts: lastDirty.counts },
        bareRead: { ms: { min: Math.min(...bare), median: med(bare) } },
      },
      interlock: { validateWithoutQualityMs: withoutQ, validateWithQualityMs: withQ },
      readings: {
        perMessage: 20, rules: 10, concurrency,
        withRules: { messages: withRules.n, perSecond: Math.round((withRules.n * 20) / withRules.seconds) },
        withoutRules: { messages: withoutRules.n, perSecond: Math.round((withoutRules.n * 20) / withoutRules.seconds) },
        alertsFired: readingAlerts,
      },
    };
    console.log(JSON.stringify(summary, null, 2));
    const f = (x: number) => x.toFixed(1);
    console.log('\n| measure | value |\n|---|---:|');
    console.log(`| ingestion, recordResults in batches of ${batch} (${concurrency} in parallel), rules on | ${summary.ingestion.batched.perSecond.toLocaleString('en')} results/s |`);
    console.log(`| ingestion, one result per call (${concurrency * 2} in parallel), rules on | ${summary.ingestion.single.perSecond.toLocaleString('en')} results/s |`);
    console.log(`| raw ceiling: bare multi-row INSERTs of the same rows | ${summary.ingestion.rawCeiling.perSecond.toLocaleString('en')} results/s |`);
    console.log(`| batched / ceiling | ${(summary.ingestion.batched.perSecond / summary.ingestion.rawCeiling.perSecond).toFixed(2)} |`);
    console.log(`| clearance, ${ship.units} units, clean (median of 5) | ${f(summary.clearance.clean.ms.median)} ms |`);
    console.log(`| clearance, ${ship.units} units, ${lastDirty.total} blockers listed (median of 5) | ${f(summary.clearance.dirty.ms.median)} ms |`);
    console.log(`| bare read of the same units, results, process records (median of 5) | ${f(summary.clearance.bareRead.ms.median)} ms |`);
    console.log(`| validate p50 / p99 without quality rules | ${f(withoutQ.p50)} / ${f(withoutQ.p99)} ms |`);
    console.log(`| validate p50 / p99 with quality rules | ${f(withQ.p50)} / ${f(withQ.p99)} ms |`);
    console.log(`| readings stored, 20 per message (${concurrency} in parallel), 10 reading rules on | ${summary.readings.withRules.perSecond.toLocaleString('en')} readings/s |`);
    console.log(`| readings stored, same, without the reading-rule hook | ${summary.readings.withoutRules.perSecond.toLocaleString('en')} readings/s |`);
  } finally {
    await db.close();
    if (!args.includes('--keep')) await scratch.drop();
    else console.log(`kept ${scratch.url}`);
  }
}

async function runPhase(concurrency: number, tasks: number, fn: () => Promise<void>): Promise<{ n: number; seconds: number }> {
  let left = tasks;
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (left > 0) {
      left--;
      await fn();
    }
  }));
  return { n: tasks, seconds: (performance.now() - start) / 1000 };
}

function mulberry32(a: number) {
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Fx { productId: number; revisionId: number; programId: number; line: number; printer: number; placement: number; aoi: number; ingestWo: number; ingestWoNumber: string; eq: number; ipns: string[] }

async function factory(s: Services): Promise<Fx> {
  const site = await s.factory.sites.create(who, { code: 'BENCH', name: 'bench site' });
  const line = await s.factory.lines.create(who, { siteId: site.id, code: 'SMT1', name: 'SMT line 1' });
  const st: Record<string, number> = {};
  for (const [i, type] of (['printer', 'placement', 'aoi', 'rework', 'packing'] as const).entries()) {
    st[type] = (await s.factory.stations.create(who, { lineId: line.id, code: `SMT1-${type}`, name: type, type, seq: i + 1 })).id;
  }
  const eq = await s.factory.equipment.create(who, { stationId: st.placement!, code: 'PNP-1', name: 'placer 1' });
  const { product, rev, ipns, program: prog } = await benchProduct(s, who, 'BENCH-Q');
  const aoiProg = await s.products.createProgram(who, { productRevisionId: rev.id, name: 'AOI-TOP', revision: '1', kind: 'aoi', stationType: 'aoi', parameterRanges: [{ name: 'Volume', unit: '%', min: 75, max: 125 }] });
  await s.products.setProgramState(who, aoiProg.id, 'released');
  await s.products.putQualityPlan(who, rev.id, { requiredSteps: ['aoi'], traceDepth: 'lot', materialLevel: 'M2', mixedLotsAllowed: false });
  await s.products.releaseRevision(who, rev.id);
  // The quality rules, all four kinds, for this product.
  await s.quality.createRule(who, { code: 'DEFECT-REPEAT', name: 'same defect at same refdes', kind: 'defect_repeat', productId: product.id, method: 'aoi', params: { count: 5, window: 50 }, actions: ['alert'] });
  await s.quality.createRule(who, { code: 'FPY-AOI', name: 'AOI first-pass yield', kind: 'fpy_below', productId: product.id, method: 'aoi', params: { percent: 90, window: 100 }, actions: ['alert'] });
  await s.quality.createRule(who, { code: 'TEST-REPEAT', name: 'same failed measurement', kind: 'test_repeat', productId: product.id, params: { units: 10, window: 100 }, actions: ['alert'] });
  await s.quality.createRule(who, { code: 'PARAM-RANGE', name: 'reading outside approved range', kind: 'parameter_out_of_range', productId: product.id, actions: ['alert'] });
  const wo = await s.workOrders.release(who, (await s.workOrders.create(who, { number: 'WO-INGEST', productRevisionId: rev.id, quantity: 100_000, lineId: line.id })).id);
  return { productId: product.id, revisionId: rev.id, programId: prog.id, line: line.id, printer: st.printer!, placement: st.placement!, aoi: st.aoi!, ingestWo: wo.id, ingestWoNumber: wo.number, eq: eq.id, ipns };
}

const HISTORY = 100_000;

/** A finished work order of the same product: 100,000 units with process records, AOI results and defects, so the tables are not toy-sized. */
async function history(s: Services, fx: Fx) {
  const wo = await s.workOrders.release(who, (await s.workOrders.create(who, { number: 'WO-HISTORY', productRevisionId: fx.revisionId, quantity: HISTORY, lineId: fx.line })).id);
  const basis = (await s.workOrders.get(wo.id)).basisId!;
  await s.db.tx(async (tx) => {
    await tx.query(`UPDATE work_orders SET units_created = $2, serial_seq = $2, state = 'in_progress' WHERE id = $1`, [wo.id, HISTORY]);
    await tx.query(
      `INSERT INTO units (serial, work_order_id, status, next_step_seq, visits, passed_steps) SELECT 'HI-' || lpad(g::text, 7, '0'), $1, 'completed', NULL, 3, '{10,20,30}' FROM generate_series(1, $2::int) g`,
      [wo.id, HISTORY],
    );
    await tx.query(
      `INSERT INTO process_records (unit_id, visit, work_order_id, basis_id, step_seq, step_name, station_id, actor_kind, actor_name, result, outcome, next_step_seq, started_at, completed_at)
       SELECT u.id, v.visit, $1, $2, v.seq, v.name, v.station, 'system', 'bench', 'pass', v.outcome, v.next, now() - interval '2 days', now() - interval '2 days' + interval '20 seconds'
         FROM units u CROSS JOIN (VALUES (1, 10, 'Print', $3::bigint, 'next', 20), (2, 20, 'Place', $4::bigint, 'next', 30), (3, 30, 'AOI', $5::bigint, 'completed', NULL)) AS v(visit, seq, name, station, outcome, next)
        WHERE u.work_order_id = $1`,
      [wo.id, basis, fx.printer, fx.placement, fx.aoi],
    );
    await tx.query(
      `INSERT INTO quality_results (unit_id, work_order_id, kind, method, station_id, station_type, result, defect_count, completed_at, actor_name)
       SELECT id, $1, 'inspection', 'aoi', $2, 'aoi', 'pass', 2, now() - interval '2 days', 'bench' FROM units WHERE work_order_id = $1`,
      [wo.id, fx.aoi],
    );
    await tx.query(
      `INSERT INTO quality_defects (result_id, unit_id, work_order_id, method, code, refdes, verification)
       SELECT r.id, r.unit_id, $1, 'aoi', (ARRAY['BRIDGE','SHIFT','MISSING'])[1 + (r.id + g) % 3], 'R' || ((r.id * 7 + g) % 400), 'false_call'
         FROM quality_results r CROSS JOIN generate_series(1, 2) g WHERE r.work_order_id = $1`,
      [wo.id],
    );
  });
  await s.db.query('ANALYZE');
}

async function insertUnits(s: Services, wo: number, n: number, prefix: string) {
  await s.db.query(
    `INSERT INTO units (serial, work_order_id, status, next_step_seq) SELECT $3 || '-' || lpad(g::text, 7, '0'), $1, 'queued', 10 FROM generate_series(1, $2::int) g`,
    [wo, n, prefix],
  );
}

/** The same rows as recordResults writes (results with their measurements, defects, failed measurements), as bare multi-row INSERTs. */
async function rawInsert(db: Db, fx: Fx, rows: { unit: { id: number }; r: ResultInput }[]) {
  await db.tx(async (tx) => {
    const rp: unknown[] = [];
    const rv = rows.map((x, i) => {
      const ms = x.r.measurements!.map((m, j) => ({ seq: j + 1, name: m.name, value: m.value, unit: m.unit, lower: m.lowerLimit, upper: m.upperLimit, passed: m.value! >= m.lowerLimit! && m.value! <= m.upperLimit! }));
      rp.push(x.unit.id, fx.ingestWo, fx.aoi, x.r.result, x.r.defects!.length, JSON.stringify(ms));
      const b = i * 6;
      return `($${b + 1}, $${b + 2}, 'inspection', 'aoi', $${b + 3}, 'aoi', $${b + 4}, $${b + 5}, $${b + 6}::jsonb, clock_timestamp(), 'bench')`;
    });
    const ids = (await tx.query<{ id: number }>(
      `INSERT INTO quality_results (unit_id, work_order_id, kind, method, station_id, station_type, result, defect_count, measurements, completed_at, actor_name) VALUES ${rv.join(', ')} RETURNING id`,
      rp,
    )).rows.map((r) => r.id);
    const dp: unknown[] = [];
    const dv: string[] = [];
    rows.forEach((x, i) => x.r.defects!.forEach((d) => {
      const b = dp.length;
      dp.push(ids[i], x.unit.id, fx.ingestWo, d.code, d.refdes, d.imageRef);
      dv.push(`($${b + 1}, $${b + 2}, $${b + 3}, 'aoi', $${b + 4}, $${b + 5}, $${b + 6})`);
    }));
    await tx.query(`INSERT INTO quality_defects (result_id, unit_id, work_order_id, method, code, refdes, image_ref) VALUES ${dv.join(', ')}`, dp);
    const fp: unknown[] = [];
    const fv: string[] = [];
    rows.forEach((x, i) => x.r.measurements!.forEach((m) => {
      if (m.value! >= m.lowerLimit! && m.value! <= m.upperLimit!) return;
      const b = fp.length;
      fp.push(ids[i], x.unit.id, m.name);
      fv.push(`($${b + 1}, $${b + 2}, $${b + 3})`);
    }));
    if (fv.length) await tx.query(`INSERT INTO quality_measurement_failures (result_id, unit_id, name) VALUES ${fv.join(', ')}`, fp);
  });
}

/**
 * A 10,000-unit shipment, set-based: 100 lots of 100 units, each unit through print, place (on a
 * machine with a verified feeder setup) and AOI, with a passing AOI result; one carton per lot.
 * Around it: dispositions and verified repairs on some units, holds and an NCR elsewhere.
 */
async function buildShipment(s: Services, fx: Fx) {
  const N = 10_000;
  const wo = await s.workOrders.release(who, (await s.workOrders.create(who, { number: 'WO-SHIP', customer: 'ACME', productRevisionId: fx.revisionId, quantity: N, lineId: fx.line })).id);
  await s.workOrders.activate(who, wo.id);
  // Material on the placer (verified loads), so the M2 material check finds it.
  for (const [i, ipn] of fx.ipns.entries()) {
    const p = await s.materials.receive(who, { ipn, manufacturer: 'Acme', mpn: `ACME-${i}`, quantity: 100_000, lotCode: `BL-${i}` });
    const v = await s.materials.verifyLoad(who, { equipmentId: fx.eq, slot: `S${i}`, packageId: p.package.id, programId: fx.programId, workOrderId: wo.id });
    if (!v.accepted) throw new Error(`bench load refused: ${v.message}`);
  }
  // A held material lot that is not on this machine (the material-hold branch runs and finds nothing).
  const other = await s.materials.receive(who, { ipn: fx.ipns[0]!, manufacturer: 'Acme', mpn: 'ACME-0', quantity: 10, lotCode: 'BL-HELD' });
  await s.quality.placeHold(who, { scope: 'material_lot', materialLotId: other.lot.id, reasonCode: 'SUSPECT_MATERIAL', reason: 'bench: other lot' });
  await s.quality.placeHold(who, { scope: 'station_window', stationId: fx.aoi, from: '2020-01-01T00:00:00Z', to: '2020-01-02T00:00:00Z', reasonCode: 'PROCESS_DEVIATION', reason: 'bench: old window' });
  await s.quality.createNcr(who, { title: 'bench NCR elsewhere', subject: { kind: 'work_order', workOrder: fx.ingestWo } });
  const basis = (await s.workOrders.get(wo.id)).basisId!;
  await s.db.tx(async (tx) => {
    await tx.query(`UPDATE work_orders SET units_created = $2, serial_seq = $2, state = 'in_progress' WHERE id = $1`, [wo.id, N]);
    await tx.query(`INSERT INTO production_lots (work_order_id, code, created_by) SELECT $1, 'SL-' || lpad(g::text, 3, '0'), 'bench' FROM generate_series(1, 100) g`, [wo.id]);
    await tx.query(
      `INSERT INTO units (serial, work_order_id, lot_id, status, next_step_seq, visits, passed_steps)
       SELECT 'SH-' || lpad(g::text, 6, '0'), $1, (SELECT id FROM production_lots WHERE code = 'SL-' || lpad((1 + (g - 1) / 100)::text, 3, '0')), 'completed', NULL, 3, '{10,20,30}'
         FROM generate_series(1, $2::int) g`,
      [wo.id, N],
    );
    await tx.query(
      `INSERT INTO process_records (unit_id, visit, work_order_id, basis_id, step_seq, step_name, station_id, equipment_id, actor_kind, actor_name, result, outcome, next_step_seq, started_at, completed_at)
       SELECT u.id, v.visit, $1, $2, v.seq, v.name, v.station, v.eq, 'system', 'bench', 'pass', v.outcome, v.next,
              clock_timestamp() + (u.id % 3600) * interval '1 second', clock_timestamp() + (u.id % 3600) * interval '1 second' + interval '20 seconds'
         FROM units u CROSS JOIN (VALUES (1, 10, 'Print', $3::bigint, NULL::bigint, 'next', 20), (2, 20, 'Place', $4::bigint, $6::bigint, 'next', 30), (3, 30, 'AOI', $5::bigint, NULL::bigint, 'completed', NULL)) AS v(visit, seq, name, station, eq, outcome, next)
        WHERE u.work_order_id = $1`,
      [wo.id, basis, fx.printer, fx.placement, fx.aoi, fx.eq],
    );
    await tx.query(
      `INSERT INTO quality_results (unit_id, work_order_id, kind, method, station_id, station_type, result, completed_at, actor_name)
       SELECT id, $1, 'inspection', 'aoi', $2, 'aoi', 'pass', clock_timestamp(), 'bench' FROM units WHERE work_order_id = $1`,
      [wo.id, fx.aoi],
    );
    // 200 units were repaired at AOI earlier and passed again (verified): dispositions and rework actions.
    await tx.query(
      `INSERT INTO quality_dispositions (unit_id, work_order_id, decision, failed_step_seq, verify_step_seq, visit_at, reason, created_by)
       SELECT id, $1, 'retest', 30, 30, 2, 'bench retest', 'bench' FROM units WHERE work_order_id = $1 ORDER BY id LIMIT 200`,
      [wo.id],
    );
    await tx.query(
      `INSERT INTO quality_rework_actions (unit_id, work_order_id, action, verify_step_seq, visit_at, recorded_by)
       SELECT id, $1, 'bench touch-up', 30, 2, 'bench' FROM units WHERE work_order_id = $1 ORDER BY id DESC LIMIT 200`,
      [wo.id],
    );
    await tx.query(
      `INSERT INTO shipping_cartons (code, work_order_id, product_revision_id, capacity, production_lot_id, state, packed, created_by)
       SELECT 'BC-' || l.code, $1, $2, 100, l.id, 'closed', 100, 'bench' FROM production_lots l WHERE l.work_order_id = $1`,
      [wo.id, fx.revisionId],
    );
    await tx.query(
      `INSERT INTO shipping_carton_units (carton_id, unit_id, packed_by) SELECT c.id, u.id, 'bench' FROM units u JOIN shipping_cartons c ON c.production_lot_id = u.lot_id WHERE u.work_order_id = $1`,
      [wo.id],
    );
  });
  await s.db.query('ANALYZE');
  const sh = await s.shipping.createShipment(who, { customer: 'ACME', customerPo: 'PO-BENCH' });
  const cartons = (await s.db.query<{ id: number }>('SELECT id FROM shipping_cartons WHERE work_order_id = $1', [wo.id])).rows.map((r) => r.id);
  await s.shipping.addCartons(who, sh.id, cartons);
  return { id: sh.id, wo: wo.id, units: N, cartons: cartons.length };
}
