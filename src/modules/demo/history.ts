import crypto from 'node:crypto';
import type { Db } from '../../platform/db.ts';
import { AppError } from '../../platform/errors.ts';
import type { Principal } from '../../platform/principal.ts';
import type { AuthService } from '../auth/index.ts';
import type { ImportService } from '../imports/index.ts';
import type { PartsService } from '../parts/index.ts';
import type { WorkOrdersService } from '../work-orders/index.ts';
import { copyLines, line } from './copy.ts';
import { demoFactoryDocument } from './factory.ts';
import { reelQuantity } from './reels.ts';

/**
 * The history generator (`mes demo generate --units N`): years of realistic production of the
 * demo board CTRL-100 on line SMT1, written with COPY at high speed, for benchmarks and demos.
 *
 * Master data goes through the services (demo factory import, work orders created and released
 * with their frozen build basis, the signing quality engineer); the history itself is written
 * with COPY into the same tables the services write, obeying every trigger, CHECK and foreign
 * key (append-only logs are only appended to; package statuses move along legal transitions).
 *
 * What one run writes, per unit: a serial on a 4-up panel in a production lot of 1,000, the
 * route's process records (marking → print → SPI → two placements → reflow → AOI → ICT → FCT →
 * pack) with station, equipment, program revision, operator of the shift and times; SPI, AOI,
 * ICT and FCT results (measurements for ICT / FCT) with defects at realistic rates: AOI false
 * calls 4 %, AOI real defects 2.5 %, ICT failures 1.2 %, FCT failures 0.8 %, SPI failures 0.4 %
 * (held, retest disposition); failures go through the repair step with a rework action (a
 * fifth of AOI repairs replace the component with a new package) and are retested; a unit
 * failing ICT three times exhausts its loops and is scrapped under a closed NCR. Materials: every
 * placement slot's reels over time with splices (six of seven reel changes; the last three boards of
 * the old reel have both reels as M2 candidates) or plain replacements, each reel received in a
 * supplier lot covering about 10,000 boards, loaded by a verified loading attempt, consumed and
 * emptied; MSD "opened" events for moisture-sensitive reels; paste jars (one per ~1,500 boards)
 * and stencils mounted on the printer. Cartons of 50 units of one lot; every finished work order
 * is shipped in a released shipment. The last work order stays in progress: units in WIP, units
 * failed awaiting disposition with open NCRs, two active unit holds and an open rule alert.
 * When the materials module's exact install table (material_installs, M3) exists, 5 % of the
 * units get exact installs for the fine-pitch machine's parts.
 */

export interface GenerateOptions {
  units: number;
  /** Work orders to spread the units over (default: one per 10,000 units). */
  workOrders?: number;
  /** Prefix of every generated key (serials, work orders, packages); default from the clock. */
  prefix?: string;
  seed?: number;
  onProgress?: (done: number, total: number, what: string) => void;
}

export interface GenerateReport {
  prefix: string;
  units: number;
  workOrders: { id: number; number: string; units: number; state: string }[];
  rows: Record<string, number>;
  seconds: number;
  databaseBytesBefore: number;
  databaseBytesAfter: number;
  bytesPerUnit: number;
  m3Fraction: number;
}

export interface GeneratorDeps {
  db: Db;
  imports: ImportService;
  workOrders: WorkOrdersService;
  auth: AuthService;
  parts: PartsService;
}

const TAKT_S = 20;
const CYCLE_S = 15;
const WO_GAP_S = 1800;
const PANEL_SIZE = 4;
const LOT_SIZE = 1000;
const CARTON_SIZE = 50;
const M3_FRACTION = 0.05;
const OPERATORS = ['a.keller', 'b.nguyen', 'c.silva', 'd.okafor', 'e.schmidt', 'f.rossi', 'g.tanaka', 'h.kowalski', 'i.haddad', 'j.larsen', 'k.mehta', 'l.dubois'];
/** Seconds after marking at which each main step completes. */
const OFFSETS: Record<number, number> = { 10: 0, 20: 60, 30: 120, 40: 200, 50: 300, 60: 700, 70: 800, 80: 1000, 90: 1200, 100: 1500 };
const MAIN = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
const REPAIR = 200;
const METHOD_OF: Record<number, { method: string; kind: 'inspection' | 'test' }> = {
  30: { method: 'spi', kind: 'inspection' }, 70: { method: 'aoi', kind: 'inspection' }, 80: { method: 'ict', kind: 'test' }, 90: { method: 'fct', kind: 'test' },
};
const AOI_DEFECTS = [['BRIDGE', 'bridging'], ['INSUFF', 'insufficient-solder'], ['TOMBSTONE', 'tombstone'], ['SHIFT', 'offset'], ['MISSING', 'missing'], ['POLARITY', 'polarity']] as const;
const ICT_NETS = [['R1', 'Ohm', 10000], ['R2', 'Ohm', 17000], ['C1', 'nF', 100], ['C2', 'nF', 133], ['NET_3V3', 'V', 3.3], ['NET_5V', 'V', 5]] as const;

function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sha = () => crypto.randomBytes(32).toString('hex');

interface Step { seq: number; name: string; stationId: number; stationType: string; equipmentId: number | null; equipmentCode: string | null; program: { name: string; revision: string } | null }
interface Slot { programId: number; equipmentId: number; stationId: number; slot: string; partId: number; ipn: string; pkg: string; msl: string; perBoard: number; refdes: string[]; mpId: number; mfr: string }
interface Visit { seq: number; result: 'pass' | 'fail'; outcome: string; next: number | null; loop: number | null; t: number }
interface QResult { seq: number; result: 'pass' | 'fail'; verified: 'pass' | 'fail' | null; t: number; defects: { code: string; category: string; refdes: string | null; test: string | null; verification: string }[]; measurements: unknown[]; failedNames: string[] }
interface Plan {
  visits: Visit[]; results: QResult[]; status: 'completed' | 'scrapped' | 'failed' | 'queued'; next: number | null; failedStep: number | null; passed: number[];
  loops: Record<string, number>; onHold: boolean; holdReason: string | null; failureHold: boolean;
  reworks: { visitAt: number; verify: number; refdes: string; replace: boolean; t: number; defectIdx: number[] }[];
  spiRetest: { visitAt: number; t: number } | null; exhausted: { t: number; visitAt: number } | null; end: number;
}

export async function generateHistory(deps: GeneratorDeps, who: Principal, opts: GenerateOptions): Promise<GenerateReport> {
  const { db } = deps;
  const N = Math.floor(opts.units);
  if (!(N >= 1) || N > 50_000_000) throw new AppError('VALIDATION_FAILED', '--units must be between 1 and 50,000,000', { errors: [{ field: '/units', code: 'range', message: 'must be 1 … 50,000,000' }] });
  const K = Math.max(1, Math.min(N, Math.floor(opts.workOrders ?? Math.ceil(N / 10_000))));
  const prefix = (opts.prefix ?? `G${Date.now().toString(36).toUpperCase()}`).toUpperCase();
  if (!/^[A-Z0-9]{1,12}$/.test(prefix)) throw new AppError('VALIDATION_FAILED', 'prefix must be 1–12 letters or digits', { errors: [{ field: '/prefix', code: 'pattern', message: 'letters and digits, at most 12' }] });
  const rand = rng(opts.seed ?? 20261122);
  const progress = opts.onProgress ?? (() => undefined);
  const started = Date.now();
  const size = async () => Number((await db.one<{ n: string }>('SELECT pg_database_size(current_database()) AS n'))!.n);
  const bytesBefore = await size();
  const rows: Record<string, number> = {};
  const count = (t: string, n: number) => (rows[t] = (rows[t] ?? 0) + n);

  // ── master data through the services ────────────────────────────────────────────────────
  progress(0, N, 'demo factory');
  await deps.imports.importFactory(who, demoFactoryDocument());
  const rev = (await db.one<{ id: number }>(`SELECT r.id FROM product_revisions r JOIN products p ON p.id = r.product_id WHERE p.code = 'CTRL-100' AND r.revision = 'A'`))!;
  const lineRow = (await db.one<{ id: number }>(`SELECT id FROM lines WHERE code = 'SMT1'`))!;
  const steps = (
    await db.query<Step>(
      `SELECT rs.seq, rs.name, rs.station_id AS "stationId", rs.station_type AS "stationType", e.id AS "equipmentId", e.code AS "equipmentCode",
              (SELECT json_build_object('name', p.name, 'revision', p.revision) FROM programs p WHERE p.product_revision_id = $1 AND p.station_id = rs.station_id AND p.state = 'released' LIMIT 1) AS program
         FROM route_steps rs JOIN routes r ON r.id = rs.route_id LEFT JOIN LATERAL (SELECT id, code FROM equipment WHERE station_id = rs.station_id ORDER BY id LIMIT 1) e ON true
        WHERE r.product_revision_id = $1 ORDER BY rs.seq`,
      [rev.id],
    )
  ).rows;
  const step = new Map(steps.map((s) => [s.seq, s]));
  for (const seq of [...MAIN, REPAIR]) if (!step.get(seq)?.stationId) throw new AppError('STATE_CONFLICT', `the demo route has no station for step ${seq}`);
  const slots = (
    await db.query<Slot>(
      `SELECT p.id AS "programId", p.equipment_id AS "equipmentId", p.station_id AS "stationId", ps.slot, ps.part_id AS "partId", pt.ipn, COALESCE(pt.package, '') AS pkg,
              pt.msl_level AS msl, cardinality(ps.refdes) AS "perBoard", ps.refdes, a.manufacturer_part_id AS "mpId", mp.manufacturer AS mfr
         FROM programs p JOIN program_slots ps ON ps.program_id = p.id JOIN parts pt ON pt.id = ps.part_id
         JOIN LATERAL (SELECT manufacturer_part_id FROM avl_entries WHERE part_id = ps.part_id AND active AND NOT alternate ORDER BY preference, id LIMIT 1) a ON true
         JOIN manufacturer_parts mp ON mp.id = a.manufacturer_part_id
        WHERE p.product_revision_id = $1 AND p.kind = 'placement' AND p.state = 'released' ORDER BY p.id, ps.slot`,
      [rev.id],
    )
  ).rows.filter((s) => s.perBoard > 0);
  const refdesAll = slots.flatMap((s) => s.refdes);
  const printer = step.get(20)!;

  // The signing quality engineer.
  let qe = await db.one<{ id: number; username: string; display_name: string }>(`SELECT id, username, display_name FROM users WHERE username = 'gen.quality'`);
  if (!qe) {
    await deps.auth.createUser(who, { username: 'gen.quality', displayName: 'Quality Engineer (generated history)', role: 'quality-engineer', password: crypto.randomBytes(18).toString('base64url') });
    qe = (await db.one<{ id: number; username: string; display_name: string }>(`SELECT id, username, display_name FROM users WHERE username = 'gen.quality'`))!;
  }
  const sign = async (n: number, action: string, meaning: string, entity: string, reason: string, at: (i: number) => Date, entityIds: (i: number) => string): Promise<number[]> => {
    if (n === 0) return [];
    const r = await db.query<{ id: number }>(
      `INSERT INTO quality_signatures (signer_id, signer_username, signer_name, signer_role, meaning, reason, action, entity, entity_id, content_sha256, signed_at)
       SELECT $1, $2, $3, 'quality-engineer', $4, $5, $6, $7, e, s, t FROM unnest($8::text[], $9::text[], $10::timestamptz[]) WITH ORDINALITY AS x(e, s, t, o) ORDER BY o RETURNING id`,
      [qe.id, qe.username, qe.display_name, meaning, reason, action, entity, Array.from({ length: n }, (_, i) => entityIds(i)), Array.from({ length: n }, () => sha()), Array.from({ length: n }, (_, i) => at(i))],
    );
    count('quality_signatures', n);
    return r.rows.map((x) => x.id);
  };

  // The paste part (solder paste is received as material like any part).
  const pastePart = await db.one<{ id: number }>(`SELECT id FROM parts WHERE ipn = 'PASTE-SAC305-T4'`);
  if (!pastePart) {
    await deps.parts.parts.create(who, { ipn: 'PASTE-SAC305-T4', description: 'Solder paste SAC305 type 4, 500 g jar', mslLevel: '1', placed: false });
  }
  await deps.parts.upsertAvlEntry(who, { ipn: 'PASTE-SAC305-T4', manufacturer: 'Indium', mpn: 'INDALLOY-SAC305-T4-500G' });
  const paste = (await db.one<{ partId: number; mpId: number }>(
    `SELECT a.part_id AS "partId", a.manufacturer_part_id AS "mpId" FROM avl_entries a JOIN parts p ON p.id = a.part_id WHERE p.ipn = 'PASTE-SAC305-T4' ORDER BY a.id LIMIT 1`,
  ))!;

  // The timeline ends before any history already on these stations (a second run goes further back).
  const earliest = await db.one<{ t: Date | null }>(
    `SELECT LEAST((SELECT min(completed_at) FROM process_records WHERE station_id = ANY($1)), (SELECT min(loaded_at) FROM feeder_setups WHERE equipment_id = ANY($2)),
                  (SELECT min(mounted_at) FROM consumable_mounts WHERE equipment_id = $3)) AS t`,
    [steps.map((s) => s.stationId), slots.map((s) => s.equipmentId), printer.equipmentId],
  );
  const end = Math.min(Date.now() - 3600_000, earliest?.t ? earliest.t.getTime() - 86_400_000 : Infinity);
  const T0 = end - (N * TAKT_S + K * WO_GAP_S + 4000) * 1000;

  // ── work orders: created and released through the service ──────────────────────────────
  const perWo = Array.from({ length: K }, (_, k) => Math.floor(N / K) + (k < N % K ? 1 : 0));
  const wos: { id: number; number: string; basisId: number; units: number; first: number; po: string }[] = [];
  let first = 0;
  for (let k = 0; k < K; k++) {
    const number = `${prefix}-WO${String(k + 1).padStart(4, '0')}`;
    const po = `PO-${prefix}-${String(1000 + k)}`;
    const wo = await deps.workOrders.create(who, { number, customer: 'Acme Instruments', customerPo: po, productRevisionId: rev.id, quantity: perWo[k]!, lineId: lineRow.id, source: 'generator', notes: 'generated history' });
    const rel = await deps.workOrders.release(who, wo.id, 'generated history');
    wos.push({ id: wo.id, number, basisId: rel.basisId!, units: perWo[k]!, first, po });
    first += perWo[k]!;
  }
  const woOfBoard = (i: number) => {
    let lo = 0, hi = wos.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (wos[mid]!.first <= i) lo = mid; else hi = mid - 1;
    }
    return lo;
  };
  const base = (i: number) => T0 + (i * TAKT_S + woOfBoard(i) * WO_GAP_S) * 1000;
  const at = (i: number, seq: number) => base(i) + OFFSETS[seq]! * 1000;
  const operatorAt = (t: number, station: number) => OPERATORS[(Math.floor(t / (8 * 3600_000)) * 3 + (station % 3)) % OPERATORS.length]!;

  // ── materials: reels per placement slot over time, with splices ─────────────────────────
  progress(0, N, 'materials');
  await materials();

  // ── units and their history, one work order at a time ───────────────────────────────────
  const ncrSeq = { n: 0 };
  for (const [k, wo] of wos.entries()) {
    await workOrder(k, wo);
    progress(wo.first + wo.units, N, `work order ${wo.number}`);
  }

  // What autovacuum does after a bulk load on a default server: statistics, and the visibility map
  // that lets index-only scans skip the heap (without it every index probe of a query over
  // history reads the table page as well).
  await db.query(`VACUUM (ANALYZE) ${Object.keys(rows).filter((t) => /^[a-z_]+$/.test(t)).join(', ')}`);
  const bytesAfter = await size();
  return {
    prefix, units: N, workOrders: (await db.query<{ id: number; number: string; state: string; units: number }>(
      `SELECT id, number, state, units_created AS units FROM work_orders WHERE id = ANY($1) ORDER BY id`, [wos.map((w) => w.id)])).rows,
    rows, seconds: (Date.now() - started) / 1000, databaseBytesBefore: bytesBefore, databaseBytesAfter: bytesAfter,
    bytesPerUnit: Math.round((bytesAfter - bytesBefore) / N), m3Fraction: rows.material_installs ? M3_FRACTION : 0,
  };

  // ────────────────────────────────────────────────────────────────────────────────────────
  async function materials() {
    const pnpDone = (i: number, seq: number) => at(i, seq);
    const lots: { partId: number; mpId: number; code: string; dateCode: string; received: number; supplier: string; mfr: string }[] = [];
    interface Reel { code: string; lot: number; kind: string; cap: number; used: number; slot: Slot; loaded: number; unloaded: number; reason: string; splice: boolean; wo: number; operator: string }
    const reels: Reel[] = [];
    let reelNo = 0;
    for (const s of slots) {
      const seq = s.stationId === step.get(40)!.stationId ? 40 : 50;
      const { quantity: cap, kind } = reelQuantity(s.pkg);
      const bpr = Math.max(1, Math.floor(cap / s.perBoard));
      let lotBoards = 0, lotTarget = 0;
      for (let j = 0; j * bpr < N; j++) {
        const b0 = j * bpr, b1 = Math.min(N, (j + 1) * bpr);
        if (lotBoards >= lotTarget) {
          lotTarget = 8000 + Math.floor(rand() * 4000);
          lotBoards = 0;
          const received = pnpDone(b0, seq) - (5 + Math.floor(rand() * 20)) * 86_400_000;
          const d = new Date(received - 60 * 86_400_000);
          const week = Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / (7 * 86_400_000)) + 1;
          lots.push({ partId: s.partId, mpId: s.mpId, code: `${prefix}-${s.slot}-${lots.length + 1}`, dateCode: `${String(d.getUTCFullYear()).slice(2)}${String(week).padStart(2, '0')}`, received, supplier: ['Avnet', 'Arrow', 'Digi-Key', 'Mouser'][lots.length % 4]!, mfr: s.mfr });
        }
        lotBoards += b1 - b0;
        const splice = j > 0 && j % 7 !== 0; // six of seven reel changes are splices
        const loaded = j === 0 ? pnpDone(0, seq) - 3600_000 : splice ? pnpDone(Math.max(0, b0 - 3), seq) - 2000 : pnpDone(b0 - 1, seq) + 2000;
        const last = b1 >= N;
        const unloaded = last ? end + 600_000 : pnpDone(b1 - 1, seq) + 1000;
        reels.push({
          code: `${prefix}-R${String(++reelNo).padStart(7, '0')}`, lot: lots.length - 1, kind, cap, used: (b1 - b0) * s.perBoard, slot: s, loaded, unloaded,
          reason: last ? 'unloaded' : 'emptied', splice, wo: woOfBoard(Math.max(0, b0 - 1)), operator: operatorAt(loaded, s.stationId),
        });
      }
    }
    // Paste jars (one per ~1,500 boards) and the lots they come from.
    const jars: { code: string; lot: number; from: number; to: number }[] = [];
    for (let j = 0; j * 1500 < N; j++) {
      if (j % 20 === 0) {
        const received = at(j * 1500, 20) - 10 * 86_400_000;
        lots.push({ partId: paste.partId, mpId: paste.mpId, code: `${prefix}-PASTE-${j / 20 + 1}`, dateCode: '', received, supplier: 'Indium', mfr: 'Indium' });
      }
      jars.push({ code: `${prefix}-J${String(j + 1).padStart(6, '0')}`, lot: lots.length - 1, from: at(j * 1500, 20) - 600_000, to: Math.min(N, (j + 1) * 1500) >= N ? end + 600_000 : at((j + 1) * 1500, 20) - 600_000 });
    }
    const lotIds = (
      await db.query<{ id: number }>(
        `INSERT INTO material_lots (part_id, manufacturer_part_id, supplier, lot_code, date_code, received_at, rohs, country_of_origin, notes, created_by)
         SELECT p, m, s, c, NULLIF(d, ''), r, true, 'TW', 'generated history', $7 FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::timestamptz[]) WITH ORDINALITY AS x(p, m, s, c, d, r, o)
         ORDER BY o RETURNING id`,
        [lots.map((l) => l.partId), lots.map((l) => l.mpId), lots.map((l) => l.supplier), lots.map((l) => l.code), lots.map((l) => l.dateCode), lots.map((l) => new Date(l.received)), who.name],
      )
    ).rows.map((r) => r.id);
    count('material_lots', lotIds.length);
    const pkgCols = ['code', 'material_lot_id', 'kind', 'quantity', 'initial_quantity', 'status', 'location_kind', 'store_place', 'received_at', 'created_by'];
    count('material_packages', await copyLines(db, 'material_packages', pkgCols, (function* () {
      for (const r of reels) yield line(r.code, lotIds[r.lot], r.kind, r.cap, r.cap, 'available', 'store', 'MAIN-STORE', new Date(lots[r.lot]!.received), who.name);
      for (const j of jars) yield line(j.code, lotIds[j.lot], 'paste-jar', 500, 500, 'available', 'store', 'FRIDGE-1', new Date(lots[j.lot]!.received), who.name);
    })()));
    const pkgId = new Map((await db.query<{ id: number; code: string }>(`SELECT id, code FROM material_packages WHERE code LIKE $1`, [`${prefix}-%`])).rows.map((r) => [r.code, r.id]));
    progress(0, N, 'materials: setups');
    // Loading attempts: one accepted per reel, and a refused wrong-part scan now and then.
    const laCols = ['at', 'equipment_id', 'slot', 'feeder_id', 'package_id', 'package_code', 'program_id', 'product_revision_id', 'work_order_id', 'splice', 'accepted', 'reason_code', 'failure_code', 'reasons', 'message', 'actor_kind', 'actor_name'];
    count('load_attempts', await copyLines(db, 'load_attempts', laCols, (function* () {
      for (const [n, r] of reels.entries()) {
        if (n > 0 && rand() < 0.01) {
          const wrong = reels[n - 1]!;
          if (wrong.slot.partId !== r.slot.partId) {
            const msg = `Package ${wrong.code} holds ${wrong.slot.ipn}; slot ${r.slot.slot} needs ${r.slot.ipn}`;
            yield line(new Date(r.loaded - 30_000), r.slot.equipmentId, r.slot.slot, `FDR-${r.slot.slot}`, pkgId.get(wrong.code), wrong.code, r.slot.programId, rev.id, wos[r.wo]!.id, r.splice, false, 'PART_MISMATCH', 9,
              JSON.stringify([{ code: 'PART_MISMATCH', failureCode: 9, message: msg }]), msg, 'user', r.operator);
          }
        }
        yield line(new Date(r.loaded), r.slot.equipmentId, r.slot.slot, `FDR-${r.slot.slot}`, pkgId.get(r.code), r.code, r.slot.programId, rev.id, wos[r.wo]!.id, r.splice, true, null, null, '[]', 'Loading verified', 'user', r.operator);
      }
    })()));
    const attempt = new Map((await db.query<{ id: number; package_id: number }>(
      `SELECT a.id, a.package_id FROM load_attempts a JOIN material_packages p ON p.id = a.package_id WHERE p.code LIKE $1 AND a.accepted`, [`${prefix}-%`])).rows.map((r) => [r.package_id, r.id]));
    const fsCols = ['equipment_id', 'slot', 'feeder_id', 'package_id', 'program_id', 'product_revision_id', 'work_order_id', 'attempt_id', 'position', 'loaded_at', 'loaded_by', 'unloaded_at', 'unloaded_by', 'unload_reason'];
    count('feeder_setups', await copyLines(db, 'feeder_setups', fsCols, (function* () {
      for (const r of reels) {
        const id = pkgId.get(r.code)!;
        yield line(r.slot.equipmentId, r.slot.slot, `FDR-${r.slot.slot}`, id, r.slot.programId, rev.id, wos[r.wo]!.id, attempt.get(id), 'feeding', new Date(r.loaded), r.operator, new Date(r.unloaded), r.operator, r.reason);
      }
    })()));
    // A splice keeps the interval it was joined to.
    await db.query(
      `UPDATE feeder_setups f SET splice_of_id = x.prev FROM (
         SELECT fs.id, lag(fs.id) OVER (PARTITION BY fs.equipment_id, fs.slot ORDER BY fs.loaded_at, fs.id) AS prev, la.splice
           FROM feeder_setups fs JOIN material_packages p ON p.id = fs.package_id JOIN load_attempts la ON la.id = fs.attempt_id WHERE p.code LIKE $1) x
        WHERE f.id = x.id AND x.splice AND x.prev IS NOT NULL`,
      [`${prefix}-R%`],
    );
    // Quantity log: received → loaded → consumed → emptied (or unloaded back to the store).
    const mvCols = ['package_id', 'at', 'kind', 'delta', 'quantity_after', 'status_after', 'location_kind', 'store_place', 'equipment_id', 'slot', 'work_order_id', 'actor_kind', 'actor_name'];
    count('package_movements', await copyLines(db, 'package_movements', mvCols, (function* () {
      for (const r of reels) {
        const id = pkgId.get(r.code)!;
        const used = Math.min(r.cap, r.reason === 'emptied' ? r.cap : r.used);
        const woId = wos[r.wo]!.id;
        yield line(id, new Date(lots[r.lot]!.received), 'received', r.cap, r.cap, 'available', 'store', 'MAIN-STORE', null, null, null, 'user', 'w.store');
        yield line(id, new Date(r.loaded), 'loaded', 0, r.cap, 'in-use', 'equipment', null, r.slot.equipmentId, r.slot.slot, woId, 'user', r.operator);
        yield line(id, new Date(r.unloaded - 500), 'consumed', -used, r.cap - used, 'in-use', 'equipment', null, r.slot.equipmentId, r.slot.slot, woId, 'token', `cfx:${r.slot.equipmentId}`);
        if (r.reason === 'emptied') yield line(id, new Date(r.unloaded), 'emptied', 0, 0, 'empty', 'store', null, null, null, woId, 'user', r.operator);
        else yield line(id, new Date(r.unloaded), 'unloaded', 0, r.cap - used, 'available', 'store', 'MAIN-STORE', null, null, woId, 'user', r.operator);
      }
      for (const j of jars) {
        const id = pkgId.get(j.code)!;
        yield line(id, new Date(lots[j.lot]!.received), 'received', 500, 500, 'available', 'store', 'FRIDGE-1', null, null, null, 'user', 'w.store');
        yield line(id, new Date(j.to), 'consumed', -500, 0, 'available', 'store', 'FRIDGE-1', null, null, null, 'user', operatorAt(j.to, printer.stationId));
        yield line(id, new Date(j.to + 1000), 'emptied', 0, 0, 'empty', 'store', null, null, null, null, 'user', operatorAt(j.to, printer.stationId));
      }
    })()));
    const emptied = reels.filter((r) => r.reason === 'emptied').map((r) => pkgId.get(r.code)!).concat(jars.map((j) => pkgId.get(j.code)!));
    await db.query(`UPDATE material_packages SET status = 'empty', quantity = 0 WHERE id = ANY($1)`, [emptied]);
    const left = reels.filter((r) => r.reason !== 'emptied');
    await db.query(`UPDATE material_packages p SET quantity = x.q FROM unnest($1::bigint[], $2::int[]) AS x(id, q) WHERE p.id = x.id`, [
      left.map((r) => pkgId.get(r.code)!), left.map((r) => r.cap - Math.min(r.cap, r.used)),
    ]);
    const msd = reels.filter((r) => r.slot.msl !== '1');
    count('msd_events', await copyLines(db, 'msd_events', ['package_id', 'type', 'at', 'implicit', 'note', 'actor_kind', 'actor_name'], (function* () {
      for (const r of msd) yield line(pkgId.get(r.code), 'opened', new Date(r.loaded), true, 'dry pack opened at loading', 'system', 'materials');
    })()));
    // Paste jars and stencils on the printer.
    count('paste_jars', await copyLines(db, 'paste_jars', ['package_id', 'min_thaw_hours', 'max_open_hours', 'thaw_started_at', 'opened_at'], (function* () {
      for (const j of jars) yield line(pkgId.get(j.code), 4, 24, new Date(j.from - 5 * 3600_000), new Date(j.from));
    })()));
    const stencilCount = Math.max(1, Math.ceil(N / 250_000));
    const stencilIds: number[] = [];
    for (let k = 0; k < stencilCount; k++) {
      const prints = Math.min(N, (k + 1) * 250_000) - k * 250_000;
      const r = await db.query<{ id: number }>(
        `INSERT INTO stencils (code, product_revision_id, thickness_um, usage_count, cleaning_interval, usage_at_last_cleaning, last_cleaned_at, max_usage, status, notes)
         VALUES ($1, $2, 120, $3, 10, $4, $5, 300000, $6, 'generated history') RETURNING id`,
        [`${prefix}-STN${k + 1}`, rev.id, prints, prints - (prints % 10), new Date(at(k * 250_000 + prints - 1 - (prints % 10), 20)), k < stencilCount - 1 ? 'retired' : 'active'],
      );
      stencilIds.push(r.rows[0]!.id);
    }
    count('stencils', stencilCount);
    count('consumable_mounts', await copyLines(db, 'consumable_mounts', ['equipment_id', 'kind', 'package_id', 'stencil_id', 'product_revision_id', 'mounted_at', 'mounted_by', 'unmounted_at', 'unmounted_by'], (function* () {
      for (const j of jars) yield line(printer.equipmentId, 'paste', pkgId.get(j.code), null, rev.id, new Date(j.from), operatorAt(j.from, printer.stationId), new Date(j.to), operatorAt(j.to, printer.stationId));
      for (let k = 0; k < stencilCount; k++) {
        const from = at(k * 250_000, 20) - 900_000;
        const to = Math.min(N, (k + 1) * 250_000) >= N ? end + 600_000 : at((k + 1) * 250_000, 20) - 900_000;
        yield line(printer.equipmentId, 'stencil', null, stencilIds[k], rev.id, new Date(from), operatorAt(from, printer.stationId), new Date(to), operatorAt(to, printer.stationId));
      }
    })()));
  }

  // ── one work order ──────────────────────────────────────────────────────────────────────
  async function workOrder(k: number, wo: (typeof wos)[number]) {
    const last = k === wos.length - 1;
    const n = wo.units;
    // Lots of 1,000 and 4-up panels.
    const lotCount = Math.ceil(n / LOT_SIZE);
    const lotIds = (await db.query<{ id: number }>(
      `INSERT INTO production_lots (work_order_id, code, planned_quantity, created_at, created_by)
       SELECT $1, $2 || '-L' || lpad(g::text, 3, '0'), LEAST($3, $7 - (g - 1) * $3), $4, $5 FROM generate_series(1, $6::int) g ORDER BY g RETURNING id`,
      [wo.id, wo.number, LOT_SIZE, new Date(base(wo.first) - 3600_000), who.name, lotCount, n],
    )).rows.map((r) => r.id);
    count('production_lots', lotCount);
    const panelCount = Math.ceil(n / PANEL_SIZE);
    const panelIds = (await db.query<{ id: number }>(
      `INSERT INTO panels (work_order_id, code, positions, lot_id, created_at, created_by)
       SELECT $1, $2 || '-P' || lpad(g::text, 6, '0'), $3, ($4::bigint[])[((g - 1) * $3) / $7 + 1], $5, $6 FROM generate_series(1, $8::int) g ORDER BY g RETURNING id`,
      [wo.id, wo.number, PANEL_SIZE, lotIds, new Date(base(wo.first) - 3600_000), who.name, LOT_SIZE, panelCount],
    )).rows.map((r) => r.id);
    count('panels', panelCount);

    // Plan every unit's history.
    const plans: Plan[] = [];
    const wipFrom = last ? Math.floor(n * 0.97) : n;
    for (let u = 0; u < n; u++) plans.push(planUnit(wo.first + u, u >= wipFrom ? MAIN[Math.floor(rand() * MAIN.length)]! : null, last));

    const serial = (u: number) => `${prefix}${String(wo.first + u + 1).padStart(9, '0')}`;
    const unitCols = ['serial', 'work_order_id', 'lot_id', 'panel_id', 'panel_position', 'source', 'status', 'next_step_seq', 'failed_step_seq', 'visits', 'passed_steps', 'repair_loops', 'on_hold', 'hold_reason', 'failure_hold', 'created_at', 'updated_at'];
    count('units', await copyLines(db, 'units', unitCols, (function* () {
      for (let u = 0; u < n; u++) {
        const p = plans[u]!;
        yield line(serial(u), wo.id, lotIds[Math.floor(u / LOT_SIZE)], panelIds[Math.floor(u / PANEL_SIZE)], (u % PANEL_SIZE) + 1, 'generated', p.status, p.next, p.failedStep, p.visits.length, p.passed, p.loops,
          p.onHold, p.holdReason, p.failureHold, new Date(base(wo.first + u) - 3600_000), new Date(p.end));
      }
    })()));
    await db.query(`UPDATE work_orders SET units_created = $2, serial_seq = $2, state = 'in_progress' WHERE id = $1`, [wo.id, n]);
    const unitIds = (await db.query<{ id: number }>(`SELECT id FROM units WHERE work_order_id = $1 ORDER BY serial`, [wo.id])).rows.map((r) => r.id);
    if (unitIds.length !== n) throw new AppError('STATE_CONFLICT', `work order ${wo.number} has ${unitIds.length} units, expected ${n}`);

    // Result ids are taken from the results' own sequence first, so defects can name them.
    const nResults = plans.reduce((a, p) => a + p.results.length, 0);
    const resultIds = (await db.query<{ id: number }>(`SELECT nextval('quality_results_id_seq'::regclass) AS id FROM generate_series(1, $1::int)`, [nResults])).rows.map((r) => r.id);
    const resultIdOf: number[][] = [];
    let ri = 0;
    for (const p of plans) resultIdOf.push(p.results.map(() => resultIds[ri++]!));

    const prCols = ['unit_id', 'visit', 'work_order_id', 'basis_id', 'step_seq', 'step_name', 'station_id', 'equipment_id', 'program_name', 'program_revision', 'operator', 'actor_kind', 'actor_name',
      'panel_id', 'panel_position', 'result', 'outcome', 'next_step_seq', 'repair_loop', 'started_at', 'completed_at', 'recorded_at'];
    const qrCols = ['id', 'unit_id', 'work_order_id', 'panel_id', 'panel_position', 'kind', 'method', 'station_id', 'station_type', 'equipment_id', 'step_seq', 'program_name', 'program_revision', 'operator',
      'result', 'verified_result', 'retest', 'retest_count', 'fixture', 'defect_count', 'failed_measurements', 'measurements', 'started_at', 'completed_at', 'recorded_at', 'actor_name', 'source', 'source_id'];
    await Promise.all([
      copyLines(db, 'process_records', prCols, (function* () {
        for (let u = 0; u < n; u++) {
          const p = plans[u]!;
          for (const [v, x] of p.visits.entries()) {
            const s = step.get(x.seq)!;
            const op = operatorAt(x.t, s.stationId);
            yield line(unitIds[u], v + 1, wo.id, wo.basisId, x.seq, s.name, s.stationId, s.equipmentId, s.program?.name ?? null, s.program?.revision ?? null, op,
              x.seq === REPAIR ? 'user' : 'token', x.seq === REPAIR ? op : `cfx:${s.equipmentCode}`, panelIds[Math.floor(u / PANEL_SIZE)], (u % PANEL_SIZE) + 1, x.result, x.outcome, x.next, x.loop,
              new Date(x.t - CYCLE_S * 1000), new Date(x.t), new Date(x.t + 200));
          }
        }
      })()).then((c) => count('process_records', c)),
      copyLines(db, 'quality_results', qrCols, (function* () {
        for (let u = 0; u < n; u++) {
          const p = plans[u]!;
          const seen: Record<string, number> = {};
          for (const [j, r] of p.results.entries()) {
            const s = step.get(r.seq)!;
            const m = METHOD_OF[r.seq]!;
            const prior = seen[m.method] ?? 0;
            seen[m.method] = prior + 1;
            yield line(resultIdOf[u]![j], unitIds[u], wo.id, panelIds[Math.floor(u / PANEL_SIZE)], (u % PANEL_SIZE) + 1, m.kind, m.method, s.stationId, s.stationType, s.equipmentId, r.seq,
              s.program?.name ?? null, s.program?.revision ?? null, operatorAt(r.t, s.stationId), r.result, r.verified, prior > 0, prior, m.kind === 'test' ? `FX-${s.equipmentCode}-1` : null,
              r.defects.length, r.failedNames.length, JSON.stringify(r.measurements), new Date(r.t - CYCLE_S * 1000), new Date(r.t), new Date(r.t + 300), `cfx:${s.equipmentCode}`, 'cfx', crypto.randomUUID());
          }
        }
      })()).then((c) => count('quality_results', c)),
    ]);
    const defectCols = ['result_id', 'unit_id', 'work_order_id', 'method', 'code', 'category', 'refdes', 'part_number', 'test_name', 'machine_verification', 'verification', 'verified_by', 'verified_at'];
    const umCols = ['work_order_id', 'method', 'unit_id', 'first_result_id', 'first_pass', 'last_result_id', 'results'];
    await Promise.all([
      copyLines(db, 'quality_defects', defectCols, (function* () {
        for (let u = 0; u < n; u++) {
          for (const [j, r] of plans[u]!.results.entries()) {
            for (const d of r.defects) {
              yield line(resultIdOf[u]![j], unitIds[u], wo.id, METHOD_OF[r.seq]!.method, d.code, d.category, d.refdes, null, d.test, 'Defective', d.verification,
                d.verification === 'not_verified' ? null : operatorAt(r.t, step.get(r.seq)!.stationId), d.verification === 'not_verified' ? null : new Date(r.t + 120_000));
            }
          }
        }
      })()).then((c) => count('quality_defects', c)),
      copyLines(db, 'quality_measurement_failures', ['result_id', 'unit_id', 'name'], (function* () {
        for (let u = 0; u < n; u++) for (const [j, r] of plans[u]!.results.entries()) for (const f of r.failedNames) yield line(resultIdOf[u]![j], unitIds[u], f);
      })()).then((c) => count('quality_measurement_failures', c)),
      copyLines(db, 'quality_unit_methods', umCols, (function* () {
        for (let u = 0; u < n; u++) {
          const rs = plans[u]!.results;
          if (!rs.length) continue;
          const by = new Map<string, number[]>();
          for (const [j, r] of rs.entries()) {
            for (const m of [METHOD_OF[r.seq]!.method, '*']) {
              if (!by.has(m)) by.set(m, []);
              by.get(m)!.push(j);
            }
          }
          for (const [m, js] of by) {
            const f = rs[js[0]!]!;
            yield line(wo.id, m, unitIds[u], resultIdOf[u]![js[0]!], (f.verified ?? f.result) === 'pass', resultIdOf[u]![js.at(-1)!], js.length);
          }
        }
      })()).then((c) => count('quality_unit_methods', c)),
    ]);

    // NCRs for exhausted units (closed with a scrap disposition, or open in the running order).
    const exhausted = plans.map((p, u) => ({ p, u })).filter((x) => x.p.exhausted);
    if (exhausted.length) {
      const closed = exhausted.filter((x) => x.p.status === 'scrapped');
      const sigs = await sign(closed.length, 'ncr.close', 'closed', 'ncr', 'Unit scrapped after repeated ICT failure; no systemic cause', (i) => new Date(closed[i]!.p.end), (i) => serial(closed[i]!.u));
      const sigOf = new Map(closed.map((x, i) => [x.u, sigs[i]!]));
      const ncr = await db.query<{ id: number; unit_id: number }>(
        `INSERT INTO quality_ncrs (number, title, subject_kind, unit_id, work_order_id, description, containment, root_cause, corrective_action, state, created_at, created_by, closed_at, closed_by, close_signature_id)
         SELECT 'NCR-' || lpad(nextval('quality_ncr_number_seq')::text, 6, '0'), 'Repeated ICT failure', 'unit', u, $1, 'ICT failed after two repairs', 'Unit held',
                CASE WHEN s IS NULL THEN '' ELSE 'Component damage during repair' END, CASE WHEN s IS NULL THEN '' ELSE 'Scrap' END,
                CASE WHEN s IS NULL THEN 'open' ELSE 'closed' END, c, $2, CASE WHEN s IS NULL THEN NULL ELSE c + interval '1 day' END, CASE WHEN s IS NULL THEN NULL ELSE $3 END, s
           FROM unnest($4::bigint[], $5::timestamptz[], $6::bigint[]) AS x(u, c, s) RETURNING id, unit_id`,
        [wo.id, qe!.username, qe!.username, exhausted.map((x) => unitIds[x.u]), exhausted.map((x) => new Date(x.p.exhausted!.t + 600_000)), exhausted.map((x) => sigOf.get(x.u) ?? null)],
      );
      ncrSeq.n += ncr.rowCount ?? 0;
      count('quality_ncrs', ncr.rowCount ?? 0);
      const ncrOf = new Map(ncr.rows.map((r) => [r.unit_id, r.id]));
      await db.query(`INSERT INTO quality_ncr_units (ncr_id, unit_id, linked_at, linked_by) SELECT n, u, t, $3 FROM unnest($1::bigint[], $2::bigint[], $4::timestamptz[]) AS x(n, u, t)`, [
        exhausted.map((x) => ncrOf.get(unitIds[x.u]!)), exhausted.map((x) => unitIds[x.u]), qe!.username, exhausted.map((x) => new Date(x.p.exhausted!.t + 600_000)),
      ]);
      count('quality_ncr_units', exhausted.length);
      if (closed.length) {
        await db.query(
          `INSERT INTO quality_dispositions (unit_id, work_order_id, decision, failed_step_seq, visit_at, result_id, ncr_id, reason, created_at, created_by)
           SELECT u, $1, 'scrap', 80, v, r, n, 'Failed ICT after the repair loops; scrapped', t, $2 FROM unnest($3::bigint[], $4::int[], $5::bigint[], $6::bigint[], $7::timestamptz[]) AS x(u, v, r, n, t)`,
          [wo.id, qe!.username, closed.map((x) => unitIds[x.u]), closed.map((x) => x.p.exhausted!.visitAt), closed.map((x) => resultIdOf[x.u]!.at(-1)), closed.map((x) => ncrOf.get(unitIds[x.u]!)),
            closed.map((x) => new Date(x.p.exhausted!.t + 1200_000))],
        );
        count('quality_dispositions', closed.length);
      }
    }
    // SPI holds released by a retest disposition.
    const spi = plans.map((p, u) => ({ p, u })).filter((x) => x.p.spiRetest);
    if (spi.length) {
      await db.query(
        `INSERT INTO quality_dispositions (unit_id, work_order_id, decision, failed_step_seq, verify_step_seq, visit_at, result_id, reason, created_at, created_by)
         SELECT u, $1, 'retest', 30, 30, v, r, 'Paste deposit re-measured after board cleaning', t, $2 FROM unnest($3::bigint[], $4::int[], $5::bigint[], $6::timestamptz[]) AS x(u, v, r, t)`,
        [wo.id, qe!.username, spi.map((x) => unitIds[x.u]), spi.map((x) => x.p.spiRetest!.visitAt), spi.map((x) => resultIdOf[x.u]![0]), spi.map((x) => new Date(x.p.spiRetest!.t))],
      );
      count('quality_dispositions', spi.length);
    }
    // Rework actions at the repair step (a fifth of AOI repairs replace the component).
    const spare = (await db.query<{ id: number; refdes: string[] }>(
      `SELECT p.id, ps.refdes FROM material_packages p JOIN material_lots l ON l.id = p.material_lot_id JOIN program_slots ps ON ps.part_id = l.part_id
        WHERE p.code LIKE $1 AND p.status = 'available' AND ps.program_id = ANY($2)`, [`${prefix}-R%`, [...new Set(slots.map((s) => s.programId))]])).rows;
    const spareFor = new Map<string, number>();
    for (const s of spare) for (const r of s.refdes) spareFor.set(r, s.id);
    const rw = plans.flatMap((p, u) => p.reworks.map((w) => ({ u, w })));
    if (rw.length) {
      count('quality_rework_actions', await copyLines(db, 'quality_rework_actions', ['unit_id', 'work_order_id', 'action', 'refdes', 'new_package_id', 'station_id', 'operator', 'verify_step_seq', 'visit_at', 'performed_at', 'recorded_by', 'notes'], (function* () {
        for (const { u, w } of rw) {
          const np = w.replace ? spareFor.get(w.refdes) ?? null : null;
          yield line(unitIds[u], wo.id, np ? 'Replaced component' : 'Reflowed joint', w.refdes, np, step.get(REPAIR)!.stationId, operatorAt(w.t, step.get(REPAIR)!.stationId), w.verify, w.visitAt,
            new Date(w.t), operatorAt(w.t, step.get(REPAIR)!.stationId), 'generated history');
        }
      })()));
    }
    // First article of the AOI gate, approved with a signature.
    const fa = plans[0]!;
    const faIdx = fa.results.findIndex((r) => r.seq === 70 && (r.verified ?? r.result) === 'pass');
    if (faIdx >= 0) {
      const t = fa.results[faIdx]!.t;
      const [sig] = await sign(1, 'first-article.decide', 'approved', 'first_article', 'First article conforms to the drawing and BOM', () => new Date(t + 900_000), () => `${wo.id}:70`);
      await db.query(`INSERT INTO first_articles (work_order_id, step_seq, unit_id, state, claimed_at, passed_at) VALUES ($1, 70, $2, 'passed', $3, $4)`, [wo.id, unitIds[0], new Date(t - 60_000), new Date(t)]);
      await db.query(`INSERT INTO quality_first_articles (work_order_id, step_seq, unit_id, claimed_at, decision, result_id, signature_id, decided_at, decided_by) VALUES ($1, 70, $2, $3, 'approved', $4, $5, $6, $7)`, [
        wo.id, unitIds[0], new Date(t - 60_000), resultIdOf[0]![faIdx], sig, new Date(t + 900_000), qe!.username,
      ]);
      count('first_articles', 1);
    }

    // Cartons of 50 completed units of one lot; finished orders ship in one released shipment.
    const packable = plans.map((p, u) => ({ p, u })).filter((x) => x.p.status === 'completed');
    const cartons: { lot: number; units: number[] }[] = [];
    for (const x of packable) {
      const lot = Math.floor(x.u / LOT_SIZE);
      const c = cartons.at(-1);
      if (c && c.lot === lot && c.units.length < CARTON_SIZE) c.units.push(x.u);
      else cartons.push({ lot, units: [x.u] });
    }
    let shipmentId: number | null = null;
    const shipAt = new Date(Math.max(...plans.map((p) => p.end)) + 86_400_000);
    if (!last && cartons.length) {
      const [sig] = await sign(1, 'shipment.release', 'released', 'shipment', 'Clearance clean; released to customer', () => shipAt, () => wo.number);
      shipmentId = (await db.one<{ id: number }>(
        `INSERT INTO shipping_shipments (number, customer, customer_po, ship_to, state, created_at, created_by, released_at, released_by, release_signature_id)
         VALUES ('SHP-' || lpad(nextval('shipping_shipment_number_seq')::text, 6, '0'), 'Acme Instruments', $1, 'Acme Instruments, Receiving dock 3', 'released', $2, $3, $4, $3, $5) RETURNING id`,
        [wo.po, new Date(shipAt.getTime() - 3600_000), qe!.username, shipAt, sig],
      ))!.id;
      count('shipping_shipments', 1);
    }
    const cartonIds = (await db.query<{ id: number }>(
      `INSERT INTO shipping_cartons (code, work_order_id, product_revision_id, capacity, production_lot_id, station_id, state, packed, shipment_id, created_at, created_by, closed_at, closed_by)
       SELECT $1 || '-C' || lpad(o::text, 5, '0'), $2, $3, $4, l, $5, CASE WHEN $6::bigint IS NOT NULL THEN 'shipped' WHEN p = $4 THEN 'closed' ELSE 'open' END, p, $6, t, 'packer',
              CASE WHEN $6::bigint IS NOT NULL OR p = $4 THEN t + interval '1 hour' END, CASE WHEN $6::bigint IS NOT NULL OR p = $4 THEN 'packer' END
         FROM unnest($7::bigint[], $8::int[], $9::timestamptz[]) WITH ORDINALITY AS x(l, p, t, o) ORDER BY o RETURNING id`,
      [wo.number, wo.id, rev.id, CARTON_SIZE, step.get(100)!.stationId, shipmentId, cartons.map((c) => lotIds[c.lot]), cartons.map((c) => c.units.length), cartons.map((c) => new Date(at(wo.first + c.units[0]!, 100)))],
    )).rows.map((r) => r.id);
    count('shipping_cartons', cartonIds.length);
    count('shipping_carton_units', await copyLines(db, 'shipping_carton_units', ['carton_id', 'unit_id', 'packed_at', 'packed_by'], (function* () {
      for (const [c, ct] of cartons.entries()) for (const u of ct.units) yield line(cartonIds[c], unitIds[u], new Date(plans[u]!.end), 'packer');
    })()));

    if (last) {
      // Open issues of the running order: two unit holds and a rule alert.
      const candidates = packable.slice(-10).map((x) => unitIds[x.u]!);
      for (const uid of candidates.slice(0, 2)) {
        await db.query(
          `INSERT INTO quality_holds (number, scope, unit_id, reason_code, reason, source, placed_at, placed_by)
           VALUES ('H-' || lpad(nextval('quality_hold_number_seq')::text, 6, '0'), 'unit', $1, 'CUSTOMER_COMPLAINT', 'Field return of a sibling unit: inspect connector J1', 'manual', $2, $3)`,
          [uid, new Date(end - 3600_000), qe!.username],
        );
        count('quality_holds', 1);
      }
      let rule = await db.one<{ id: number }>(`SELECT id FROM quality_rules WHERE code = 'GEN-BRIDGE-REPEAT'`);
      rule ??= (await db.one<{ id: number }>(
        `INSERT INTO quality_rules (code, name, kind, method, params, actions, created_by) VALUES ('GEN-BRIDGE-REPEAT', 'Repeated bridging at one refdes', 'defect_repeat', 'aoi', '{"count":3,"window":50}', '{alert}', $1) RETURNING id`,
        [who.name],
      ))!;
      await db.query(
        `INSERT INTO quality_alerts (rule_id, kind, work_order_id, station_id, key, message, evidence, state, fired_at)
         VALUES ($1, 'defect_repeat', $2, $3, 'BRIDGE@U1', '3 of the last 50 units show BRIDGE at U1', '{"count":3,"window":50}', 'open', $4) ON CONFLICT DO NOTHING`,
        [rule.id, wo.id, step.get(70)!.stationId, new Date(end - 7200_000)],
      );
      count('quality_alerts', 1);
    } else {
      await deps.workOrders.transition(who, wo.id, 'complete', 'generated history');
      await db.query(`UPDATE work_orders SET completed_at = $2 WHERE id = $1`, [wo.id, shipAt]);
    }

    // M3: exact installs for a fraction of the units, when the materials module stores them.
    await m3(wo, plans, unitIds);
  }

  async function m3(wo: (typeof wos)[number], plans: Plan[], unitIds: number[]) {
    const exists = await db.one<{ t: string | null }>(`SELECT to_regclass('material_installs')::text AS t`);
    if (!exists?.t) return;
    const pnp2 = step.get(50)!;
    const fine = slots.filter((s) => s.stationId === pnp2.stationId);
    const ivs = (await db.query<{ package_id: number; slot: string; loaded_at: Date; unloaded_at: Date | null }>(
      `SELECT fs.package_id, fs.slot, fs.loaded_at, fs.unloaded_at FROM feeder_setups fs JOIN material_packages p ON p.id = fs.package_id
        WHERE p.code LIKE $1 AND fs.equipment_id = $2 AND fs.loaded_at <= $4 AND (fs.unloaded_at IS NULL OR fs.unloaded_at >= $3) ORDER BY fs.loaded_at DESC`,
      [`${prefix}-R%`, pnp2.equipmentId, new Date(base(wo.first)), new Date(base(wo.first + wo.units - 1) + 7200_000)],
    )).rows;
    const cols = ['unit_id', 'kind', 'refdes', 'package_id', 'equipment_id', 'station_id', 'slot', 'installed_at', 'source', 'recorded_at', 'recorded_by'];
    count('material_installs', await copyLines(db, 'material_installs', cols, (function* () {
      for (let u = 0; u < plans.length; u++) {
        if ((u * 37) % 100 >= M3_FRACTION * 100) continue;
        const v = plans[u]!.visits.find((x) => x.seq === 50);
        if (!v) continue;
        for (const s of fine) {
          // The machine reports the package that actually fed: the latest loaded one covering the placement.
          const iv = ivs.find((x) => x.slot === s.slot && x.loaded_at.getTime() <= v.t && (!x.unloaded_at || x.unloaded_at.getTime() > v.t - CYCLE_S * 1000));
          if (!iv) continue;
          for (const r of s.refdes) yield line(unitIds[u], 'installed', r, iv.package_id, pnp2.equipmentId, pnp2.stationId, s.slot, new Date(v.t - 5000), 'cfx', new Date(v.t + 200), `cfx:${pnp2.equipmentCode}`);
        }
      }
    })()));
  }

  // ── one unit's route, decided by the dice ───────────────────────────────────────────────
  function planUnit(i: number, stopAt: number | null, running: boolean): Plan {
    const p: Plan = { visits: [], results: [], status: 'completed', next: null, failedStep: null, passed: [], loops: {}, onHold: false, holdReason: null, failureHold: false, reworks: [], spiRetest: null, exhausted: null, end: 0 };
    let delay = 0;
    const t = (seq: number) => at(i, seq) + delay;
    const visit = (seq: number, result: 'pass' | 'fail', outcome: string, next: number | null, loop: number | null, time: number) => p.visits.push({ seq, result, outcome, next, loop, t: time });
    const measure = (seq: number, fail: boolean): { m: unknown[]; failed: string[] } => {
      if (seq === 80) {
        const bad = fail ? Math.floor(rand() * ICT_NETS.length) : -1;
        const m = ICT_NETS.map(([name, unit, nom], k) => {
          const value = k === bad ? nom * (rand() < 0.5 ? 0.5 : 1.6) : nom * (1 + (rand() - 0.5) * 0.02);
          return { seq: k + 1, test: 'ICT', name, value: Math.round(value * 1000) / 1000, unit, lower: nom * 0.95, upper: nom * 1.05, nominal: nom, passed: k !== bad };
        });
        return { m, failed: bad >= 0 ? [ICT_NETS[bad]![0]] : [] };
      }
      if (seq === 90) {
        const bad = fail ? (rand() < 0.5 ? 0 : 1) : -1;
        const m = [
          { seq: 1, test: 'POWER', name: 'Supply3V3', value: bad === 0 ? 3.05 : 3.3 + (rand() - 0.5) * 0.06, unit: 'V', lower: 3.2, upper: 3.4, nominal: 3.3, passed: bad !== 0 },
          { seq: 2, test: 'POWER', name: 'IdleCurrent', value: bad === 1 ? 58 : 30 + rand() * 8, unit: 'mA', lower: 20, upper: 45, nominal: 32, passed: bad !== 1 },
          { seq: 3, test: 'COMMS', name: 'CAN_Loopback', value: 1, unit: '', lower: 1, upper: 1, nominal: 1, passed: true },
          { seq: 4, test: 'COMMS', name: 'RS485_Loopback', value: 1, unit: '', lower: 1, upper: 1, nominal: 1, passed: true },
        ];
        return { m, failed: bad === 0 ? ['Supply3V3'] : bad === 1 ? ['IdleCurrent'] : [] };
      }
      return { m: [], failed: [] };
    };
    const result = (seq: number, res: 'pass' | 'fail', verified: 'pass' | 'fail' | null, time: number, defects: QResult['defects'] = []) => {
      const { m, failed } = measure(seq, res === 'fail' && seq !== 30 && seq !== 70);
      p.results.push({ seq, result: res, verified, t: time, defects, measurements: m, failedNames: failed });
    };
    const repairLoop = (seq: number, defects: QResult['defects'], replaceShare: number): boolean => {
      // Fail at `seq` → repair → back to `seq`. Returns false when the loops are exhausted.
      const loops = (p.loops[String(seq)] ?? 0);
      const max = 2;
      if (loops >= max) {
        visit(seq, 'fail', 'loops_exhausted', null, null, t(seq));
        result(seq, 'fail', 'fail', t(seq), defects);
        return false;
      }
      p.loops[String(seq)] = loops + 1;
      visit(seq, 'fail', 'repair', REPAIR, loops + 1, t(seq));
      result(seq, 'fail', 'fail', t(seq), defects);
      delay += 900;
      const tr = t(seq) - 300_000;
      visit(REPAIR, 'pass', 'returned', seq, null, tr);
      const refdes = defects.find((d) => d.refdes)?.refdes ?? refdesAll[Math.floor(rand() * refdesAll.length)]!;
      p.reworks.push({ visitAt: p.visits.length, verify: seq, refdes, replace: rand() < replaceShare, t: tr, defectIdx: [] });
      return true;
    };
    for (const seq of MAIN) {
      if (stopAt !== null && seq === stopAt) {
        p.status = 'queued';
        p.next = seq;
        break;
      }
      if (seq === 30 && rand() < 0.004) {
        visit(30, 'fail', 'hold', null, null, t(30));
        result(30, 'fail', 'fail', t(30), [{ code: 'PASTE', category: 'paste', refdes: refdesAll[Math.floor(rand() * refdesAll.length)]!, test: null, verification: 'confirmed' }]);
        p.spiRetest = { visitAt: p.visits.length, t: t(30) + 600_000 };
        delay += 1200;
        visit(30, 'pass', 'next', 40, null, t(30));
        result(30, 'pass', null, t(30));
        p.passed.push(30);
        continue;
      }
      if (seq === 70) {
        const r = rand();
        if (r < 0.025) {
          const [code, category] = AOI_DEFECTS[Math.floor(rand() * AOI_DEFECTS.length)]!;
          const d = [{ code, category, refdes: refdesAll[Math.floor(rand() * refdesAll.length)]!, test: null, verification: 'repaired' }];
          repairLoop(70, d, 0.2);
        } else if (r < 0.065) {
          const [code, category] = AOI_DEFECTS[Math.floor(rand() * AOI_DEFECTS.length)]!;
          visit(70, 'pass', 'next', 80, null, t(70));
          result(70, 'fail', 'pass', t(70), [{ code, category, refdes: refdesAll[Math.floor(rand() * refdesAll.length)]!, test: null, verification: 'false_call' }]);
          p.passed.push(70);
          continue;
        }
      }
      if (seq === 80 && rand() < 0.012) {
        let ok = true;
        for (let attempt = 0; attempt < 3 && ok; attempt++) {
          const d = [{ code: rand() < 0.5 ? 'OPEN' : 'SHORT', category: 'electrical-open', refdes: refdesAll[Math.floor(rand() * refdesAll.length)]!, test: 'ICT', verification: 'confirmed' }];
          d[0]!.category = d[0]!.code === 'OPEN' ? 'electrical-open' : 'electrical-short';
          ok = repairLoop(80, d, 0.5);
          if (ok && rand() >= 0.25) break;
        }
        if (!ok) {
          p.exhausted = { t: t(80), visitAt: p.visits.length };
          if (running) {
            p.status = 'failed'; p.failedStep = 80; p.onHold = true; p.failureHold = true; p.holdReason = 'failed at step 80 (In-circuit test): repair loops exhausted';
          } else {
            p.status = 'scrapped';
          }
          break;
        }
      }
      if (seq === 90 && rand() < 0.008) {
        repairLoop(90, [{ code: 'PARAM', category: 'parametric', refdes: null, test: 'POWER', verification: 'confirmed' }], 0.3);
      }
      const next = seq === 100 ? null : MAIN[MAIN.indexOf(seq) + 1]!;
      visit(seq, 'pass', next === null ? 'completed' : 'next', next, null, t(seq));
      if (METHOD_OF[seq]) result(seq, 'pass', null, t(seq));
      p.passed.push(seq);
    }
    p.end = Math.max(base(i), ...p.visits.map((v) => v.t));
    return p;
  }
}
