import type { Db, Queryable, Tx } from '../../platform/db.ts';
import { AppError, notFound, validationFailed } from '../../platform/errors.ts';
import type { Principal } from '../../platform/principal.ts';
import { recordAudit } from '../audit/index.ts';
import { renderSerial, type ParsedBasis, type WorkOrder, type WorkOrdersService } from '../work-orders/index.ts';
import { createRuleSet, type EquipmentRef, type InterlockCall, type InterlockRule, type InterlockSubject, type LoadedUnit, type Phase, type Refusal, type StationRef } from './interlock.ts';
import { INTERLOCK_REASONS } from './reasons.ts';
import { resolveStep, routeAfter, type Outcome, type Result, type RouteState, type UnitStatus } from './routing.ts';

/**
 * Units, panels and production lots of released work orders, and the interlock that decides
 * at every station whether a unit may be processed now. `validate`, `start` and `complete`
 * are the one implementation behind every door (REST, CFX, CLI, operator UI).
 */

export interface StationSelector {
  /** The station by id, */
  stationId?: number;
  /** or by code, */
  station?: string;
  /** or through one of its machines: equipment code or CFX handle. */
  equipment?: string;
}
export interface ValidateInput extends StationSelector {
  /** Unit serial or panel ID as scanned. */
  identifier: string;
  /** Program (recipe) the equipment reports, checked against the build basis. */
  programName?: string | null;
  programRevision?: string | null;
}
export interface StartInput extends ValidateInput { operator?: string | null }
export interface CompleteInput extends ValidateInput {
  result: Result;
  /** Per-position results of a panel; positions not listed take `result`. */
  positions?: { position: number; result: Result }[];
  operator?: string | null;
  startedAt?: string | Date | null;
  completedAt?: string | Date | null;
  notes?: string | null;
}

export interface UnitVerdict {
  unitId: number | null;
  serial: string;
  position: number | null;
  result: 'passed' | 'failed' | 'skipped';
  step: { seq: number; name: string } | null;
  refusals: Refusal[];
}
export interface Verdict {
  phase: Phase;
  go: boolean;
  /** passed = every processable unit may go; partial = some (CFX PartialSuccess); failed = none. */
  result: 'passed' | 'partial' | 'failed';
  identifier: string;
  kind: 'unit' | 'panel' | 'unknown';
  station: { id: number; code: string; type: string };
  workOrder: { id: number; number: string } | null;
  /** The first refusal: what a single-code channel (CFX FailureCode) reports. */
  primary: Refusal | null;
  units: UnitVerdict[];
}
export interface PassageRecord {
  unitId: number; serial: string; position: number | null; recordId: number; visit: number; stepSeq: number;
  result: Result; outcome: Outcome; status: UnitStatus; nextStepSeq: number | null; onHold: boolean;
}
export interface CompleteResult extends Verdict { records: PassageRecord[] }
/** One input's outcome in a batch: its result, or the refusal / error that input alone got. */
export type BatchResult<T> = { ok: true; value: T } | { ok: false; error: AppError };

export interface Unit {
  id: number; serial: string; workOrderId: number; workOrderNumber: string; lotId: number | null; lotCode: string | null; panelId: number | null; panelCode: string | null;
  panelPosition: number | null; source: 'generated' | 'registered'; status: UnitStatus; nextStepSeq: number | null; returnStepSeq: number | null; failedStepSeq: number | null;
  visits: number; passedSteps: number[]; repairLoops: Record<string, number>; onHold: boolean; holdReason: string | null;
  startedStepSeq: number | null; startedStationId: number | null; startedAt: Date | null; createdAt: Date; updatedAt: Date;
}
export interface ProcessRecord {
  id: number; visit: number; stepSeq: number; stepName: string; stationId: number; stationCode: string; equipmentId: number | null; equipmentCode: string | null;
  programName: string | null; programRevision: string | null; operator: string | null; actorName: string; panelPosition: number | null; result: Result; outcome: Outcome;
  nextStepSeq: number | null; repairLoop: number | null; startedAt: Date | null; completedAt: Date; basisId: number;
}
export interface Panel {
  id: number; code: string; workOrderId: number; workOrderNumber: string; positions: number; lotId: number | null; onHold: boolean; holdReason: string | null;
  createdAt: Date; units: { position: number; serial: string; status: UnitStatus; onHold: boolean; nextStepSeq: number | null }[];
}
export interface Lot {
  id: number; code: string; workOrderId: number; workOrderNumber: string; plannedQuantity: number | null; onHold: boolean; holdReason: string | null;
  createdAt: Date; units: number;
}
export type HoldScope = 'unit' | 'panel' | 'lot';

const UNIT_SELECT = `u.id, u.serial, u.work_order_id AS "workOrderId", w.number AS "workOrderNumber", u.lot_id AS "lotId", l.code AS "lotCode",
  u.panel_id AS "panelId", p.code AS "panelCode", u.panel_position AS "panelPosition", u.source, u.status, u.next_step_seq AS "nextStepSeq",
  u.return_step_seq AS "returnStepSeq", u.failed_step_seq AS "failedStepSeq", u.visits, u.passed_steps AS "passedSteps", u.repair_loops AS "repairLoops",
  u.on_hold AS "onHold", u.hold_reason AS "holdReason", u.started_step_seq AS "startedStepSeq", u.started_station_id AS "startedStationId",
  u.started_at AS "startedAt", u.created_at AS "createdAt", u.updated_at AS "updatedAt"
  FROM units u JOIN work_orders w ON w.id = u.work_order_id LEFT JOIN production_lots l ON l.id = u.lot_id LEFT JOIN panels p ON p.id = u.panel_id`;

/**
 * The interlock's one query, for any number of identifiers at once (a database function,
 * migration 0033): every unit whose serial is one of them, or of a panel whose ID is one of
 * them, with its work order, basis hash, panel, lot and first-article claims, and the active
 * work order of each station line involved. With $3 the units are locked FOR UPDATE in id
 * order, so concurrent batches never deadlock on them.
 */
const LOAD_SQL = 'SELECT * FROM tracking_load_units($1::text[], $2::bigint[], $3::boolean)';

/**
 * Writes the passages of any number of units in one statement: each unit's new state, but only
 * if the unit is still as it was read (visit count, status and hold flag: a compare-and-set),
 * and the append-only process record of exactly the units that were updated. A concurrent hold
 * is never cleared (on_hold is OR-ed).
 */
const COMPLETE_SQL = `WITH d AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS t(unit_id bigint, visit int, prev_status text, prev_on_hold boolean, wo_id bigint, basis_id bigint,
      station_id bigint, equipment_id bigint, program_name text, program_revision text, operator text, actor_kind text, actor_name text,
      completed_at timestamptz, notes text,
      step_seq int, step_name text, panel_id bigint, panel_position int, result text, outcome text, next_step_seq int, repair_loop int, started_at timestamptz,
      status text, return_step_seq int, failed_step_seq int, passed_steps int[], repair_loops jsonb, on_hold boolean, hold_reason text)
  ), upd AS (
    UPDATE units u SET status = d.status, next_step_seq = d.next_step_seq, return_step_seq = d.return_step_seq, failed_step_seq = d.failed_step_seq,
           visits = d.visit, passed_steps = d.passed_steps, repair_loops = d.repair_loops, on_hold = u.on_hold OR d.on_hold,
           hold_reason = CASE WHEN d.on_hold THEN d.hold_reason ELSE u.hold_reason END, failure_hold = u.failure_hold OR d.on_hold,
           started_step_seq = NULL, started_station_id = NULL, started_at = NULL, started_by = NULL, updated_at = now()
      FROM d WHERE u.id = d.unit_id AND u.visits = d.visit - 1 AND u.status = d.prev_status AND u.on_hold = d.prev_on_hold
    RETURNING u.id
  )
  INSERT INTO process_records (unit_id, visit, work_order_id, basis_id, step_seq, step_name, station_id, equipment_id, program_name, program_revision,
                               operator, actor_kind, actor_name, panel_id, panel_position, result, outcome, next_step_seq, repair_loop, started_at, completed_at, notes)
  SELECT d.unit_id, d.visit, d.wo_id, d.basis_id, d.step_seq, d.step_name, d.station_id, d.equipment_id, d.program_name, d.program_revision, d.operator, d.actor_kind, d.actor_name,
         d.panel_id, d.panel_position, d.result, d.outcome, d.next_step_seq, d.repair_loop, d.started_at, COALESCE(d.completed_at, clock_timestamp()), d.notes
    FROM d JOIN upd ON upd.id = d.unit_id
  RETURNING unit_id AS "unitId", id AS "recordId"`;

/** Marks units in process at a station, with the same compare-and-set as COMPLETE_SQL. */
const START_SQL = `UPDATE units u SET status = 'in_process', started_step_seq = d.step_seq, started_station_id = d.station_id, started_at = clock_timestamp(),
         started_by = d.started_by, updated_at = now()
    FROM jsonb_to_recordset($1::jsonb) AS d(unit_id bigint, visits int, prev_status text, prev_on_hold boolean, step_seq int, station_id bigint, started_by text)
   WHERE u.id = d.unit_id AND u.visits = d.visits AND u.status = d.prev_status AND u.on_hold = d.prev_on_hold
  RETURNING u.id`;

/**
 * Every refusal of a batch, appended in one statement. Refusals are records: whatever transaction
 * they join (e.g. a CFX batch of requests that would commit without waiting for the WAL flush),
 * the statement sets synchronous_commit back on for it, so its commit is durable.
 */
const REFUSALS_SQL = `WITH durable AS (SELECT set_config('synchronous_commit', 'on', true) AS v)
  INSERT INTO interlock_refusals (phase, station_id, identifier, unit_id, work_order_id, codes, details, actor_name)
  SELECT t.phase, t.station_id, t.identifier, t.unit_id, t.work_order_id, ARRAY(SELECT jsonb_array_elements_text(t.codes)), t.details, t.actor_name
    FROM jsonb_to_recordset($1::jsonb) AS t(phase text, station_id bigint, identifier text, unit_id bigint, work_order_id bigint, codes jsonb, details jsonb, actor_name text)
    CROSS JOIN durable`;

export interface TrackingOptions {
  /** Replaces the default rule list (rarely wanted: prefer `registerInterlockRule`). */
  rules?: readonly InterlockRule[];
  /** How long a station / equipment lookup is trusted from memory. */
  stationCacheMs?: number;
}

/** Marks a refusal thrown inside a transaction so that it is recorded after the rollback. */
class Refused extends AppError {
  constructor(readonly verdict: Verdict) {
    super('INTERLOCK_REFUSED', verdict.primary?.message ?? 'The interlock refused the operation', { details: { verdict } });
  }
}

export function createTrackingService(db: Db, deps: { workOrders: WorkOrdersService }, opts: TrackingOptions = {}) {
  const { workOrders } = deps;
  const rules = createRuleSet(opts.rules);
  const stationCacheMs = opts.stationCacheMs ?? 5_000;

  // ── stations ───────────────────────────────────────────────────────────────────────────
  const stationCache = new Map<string, { at: number; v: { station: StationRef; equipment: EquipmentRef | null } }>();
  const STATION_COLS = `s.id, s.code, s.name, s.type, s.line_id AS "lineId"`;

  /** A read on the read pool (see Db.reads): station look-ups precede every verdict. */
  const one = async <R extends object>(text: string, params: readonly unknown[]): Promise<R | undefined> => (await db.reads.query<R>(text, params)).rows[0];

  /** Finds the station (and machine) a call is for; cached briefly, as stations rarely change. */
  async function resolveStation(sel: StationSelector): Promise<{ station: StationRef; equipment: EquipmentRef | null }> {
    const key = `${sel.stationId ?? ''}|${sel.station ?? ''}|${sel.equipment ?? ''}`;
    const hit = stationCache.get(key);
    if (hit && Date.now() - hit.at < stationCacheMs) return hit.v;
    let station: StationRef | undefined;
    let equipment: EquipmentRef | null = null;
    if (sel.equipment !== undefined) {
      const r = await one<StationRef & { eId: number; eCode: string; eCfx: string | null }>(
        `SELECT ${STATION_COLS}, e.id AS "eId", e.code AS "eCode", e.cfx_handle AS "eCfx" FROM equipment e JOIN stations s ON s.id = e.station_id
          WHERE e.code = $1 OR e.cfx_handle = $1 LIMIT 1`,
        [sel.equipment],
      );
      if (!r) throw notFound('equipment', sel.equipment);
      const { eId, eCode, eCfx, ...st } = r;
      station = st;
      equipment = { id: eId, code: eCode, cfxHandle: eCfx, stationId: st.id };
    }
    if (sel.stationId !== undefined || sel.station !== undefined) {
      const st = await one<StationRef>(`SELECT ${STATION_COLS} FROM stations s WHERE ${sel.stationId !== undefined ? 's.id = $1' : 's.code = $1'}`, [sel.stationId ?? sel.station]);
      if (!st) throw notFound('station', sel.stationId ?? sel.station!);
      if (station && station.id !== st.id) throw validationFailed([{ field: '/equipment', code: 'not_on_station', message: `equipment ${sel.equipment} is not on station ${st.code}` }]);
      station = st;
    }
    if (!station) throw validationFailed([{ field: '/station', code: 'required', message: 'give stationId, station (code) or equipment (code or CFX handle)' }]);
    const v = { station, equipment };
    if (stationCache.size > 5_000) stationCache.clear();
    stationCache.set(key, { at: Date.now(), v });
    return v;
  }

  /** A station-bound token may act only for its stations. */
  function permit(who: Principal, station: StationRef) {
    if (who.stationIds && !who.stationIds.includes(station.id)) {
      throw new AppError('STATION_NOT_PERMITTED', `${who.name} may not act for station ${station.code}`, { details: { stationId: station.id } });
    }
  }

  // ── the interlock ──────────────────────────────────────────────────────────────────────
  type At = { station: StationRef; equipment: EquipmentRef | null };
  type Judged = { verdict: Verdict; subjects: InterlockSubject[] };
  /** What any of validate / start / complete takes (start and complete add their fields). */
  type AnyInput = ValidateInput & Partial<Omit<CompleteInput, keyof ValidateInput>>;
  /** One item of a batch while it is being decided: its own caller and phase. */
  interface Item { index: number; input: AnyInput; at: At; who: Principal; phase: Phase; judged?: Judged }
  interface Entry { who: Principal; phase: Phase; input: AnyInput }

  const fail = (error: unknown): BatchResult<never> => ({ ok: false, error: error instanceof AppError ? error : new AppError('INTERNAL', String((error as Error)?.message ?? error)) });
  const whoKey = (w: Principal) => `${w.kind}:${w.id ?? ''}:${w.name}:${w.stationIds?.join(',') ?? '*'}`;

  /** Resolves and permits each entry's station; an entry that fails gets its error in `out`. */
  async function resolveItems(entries: readonly Entry[], out: BatchResult<unknown>[]): Promise<Item[]> {
    const items: Item[] = [];
    for (const [index, e] of entries.entries()) {
      try {
        const at = await resolveStation(e.input);
        permit(e.who, at.station);
        items.push({ index, input: e.input, at, who: e.who, phase: e.phase });
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        out[index] = fail(err);
      }
    }
    return items;
  }

  /**
   * Judges every item of a batch: one query loads the units of all identifiers (locked when
   * `lock`), the basis comes from memory, and the rules run once per call, a call being the
   * items that share phase, caller, station, machine and reported program (rules' `prepare`
   * hooks load their data once for all its units). Each item gets its own verdict.
   */
  async function judgeMany(q: Queryable, items: Item[], lock: boolean): Promise<void> {
    if (items.length === 0) return;
    const identifiers = [...new Set(items.map((it) => it.input.identifier))];
    const lines = [...new Set(items.map((it) => it.at.station.lineId).filter((l): l is number => l !== null))];
    const rows = (
      await q.query<LoadedUnit & { lineActive: Record<string, NonNullable<InterlockCall['lineActive']>> | null; epoch: number; epochOwn: boolean }>(
        // A named statement: parsed once per connection.
        LOAD_SQL, [identifiers, lines, lock], 'tracking.load',
      )
    ).rows;
    const bySerial = new Map<string, LoadedUnit>();
    const byPanel = new Map<string, LoadedUnit[]>();
    for (const r of rows) {
      bySerial.set(r.serial, r);
      if (r.panelCode !== null) {
        const list = byPanel.get(r.panelCode) ?? [];
        list.push(r);
        byPanel.set(r.panelCode, list);
      }
    }
    for (const list of byPanel.values()) list.sort((a, b) => (a.panelPosition ?? 0) - (b.panelPosition ?? 0) || a.id - b.id);
    const lineActive = rows[0]?.lineActive ?? {};
    const epoch = { value: rows[0]?.epoch ?? 0, own: rows[0]?.epochOwn ?? true };
    const groups = new Map<string, { call: InterlockCall; subjects: InterlockSubject[]; items: { it: Item; kind: 'unit' | 'panel'; subjects: InterlockSubject[] }[] }>();
    for (const it of items) {
      const { input, at, phase } = it;
      const unit = bySerial.get(input.identifier);
      const units = unit ? [unit] : (byPanel.get(input.identifier) ?? []);
      const st = { id: at.station.id, code: at.station.code, type: at.station.type };
      if (units.length === 0) {
        const refusal: Refusal = { code: 'UNKNOWN_UNIT', number: INTERLOCK_REASONS.UNKNOWN_UNIT.number, message: `no unit or panel is known as ${input.identifier}` };
        it.judged = {
          subjects: [],
          verdict: {
            phase, go: false, result: 'failed', identifier: input.identifier, kind: 'unknown', station: st, workOrder: null, primary: refusal,
            units: [{ unitId: null, serial: input.identifier, position: null, result: 'failed', step: null, refusals: [refusal] }],
          },
        };
        continue;
      }
      const kind = unit ? 'unit' : 'panel';
      const programName = input.programName ?? null;
      const programRevision = input.programRevision ?? null;
      const key = JSON.stringify([phase, whoKey(it.who), at.station.id, at.equipment?.id ?? null, programName, programRevision]);
      let g = groups.get(key);
      if (!g) {
        const active = at.station.lineId === null ? null : (lineActive[String(at.station.lineId)] ?? null);
        // A call may carry several passages (a batch); `identifier` and `kind` are the first one's.
        const call: InterlockCall = { phase, who: it.who, station: at.station, equipment: at.equipment, identifier: input.identifier, kind, programName, programRevision, lineActive: active, data: new Map(), epoch };
        groups.set(key, (g = { call, subjects: [], items: [] }));
      }
      const subjects: InterlockSubject[] = [];
      for (const u of units) {
        if (u.basisId === null || u.basisHash === null) throw new AppError('STATE_CONFLICT', `Work order ${u.woNumber} has no build basis`);
        const basis = await workOrders.loadBasis(u.basisId, u.basisHash, q);
        subjects.push({ unit: u, basis, resolution: resolveStep(basis, at.station, u) });
      }
      g.subjects.push(...subjects);
      g.items.push({ it, kind, subjects });
    }
    for (const g of groups.values()) {
      // One call after the other: `q` may be a transaction's single connection.
      const refusals = await rules.evaluate(q, g.call, g.subjects);
      let k = 0;
      for (const { it, kind, subjects } of g.items) {
        const mine = refusals.slice(k, k + subjects.length);
        k += subjects.length;
        it.judged = { verdict: verdictOf(it.phase, it.at.station, it.input.identifier, kind, subjects, mine), subjects };
      }
    }
  }

  function verdictOf(phase: Phase, station: StationRef, identifier: string, kind: 'unit' | 'panel', subjects: InterlockSubject[], refusals: Refusal[][]): Verdict {
    const units: UnitVerdict[] = subjects.map((s, i) => {
      const r = refusals[i]!;
      // On a panel, an X-out or scrapped board rides along and is not processed.
      const skipped = kind === 'panel' && (s.unit.status === 'skipped' || s.unit.status === 'scrapped');
      const step = s.resolution.kind === 'not_in_route' ? null : { seq: s.resolution.step.seq, name: s.resolution.step.name };
      return { unitId: s.unit.id, serial: s.unit.serial, position: s.unit.panelPosition, result: skipped ? 'skipped' : r.length ? 'failed' : 'passed', step, refusals: r };
    });
    const active = units.filter((u) => u.result !== 'skipped');
    const passed = active.filter((u) => u.result === 'passed').length;
    const go = active.length > 0 && passed === active.length;
    const primary = go ? null : (active.find((u) => u.refusals.length)?.refusals[0] ?? units.find((u) => u.refusals.length)?.refusals[0] ?? null);
    const u0 = subjects[0]!.unit;
    return {
      phase, go, result: go ? 'passed' : passed > 0 ? 'partial' : 'failed', identifier, kind,
      station: { id: station.id, code: station.code, type: station.type }, workOrder: { id: u0.woId, number: u0.woNumber }, primary, units,
    };
  }

  /** Every refusal is kept (append-only): all of a batch in one statement. */
  async function recordRefusals(refused: { who: Principal; verdict: Verdict }[], q: Queryable = db): Promise<void> {
    if (refused.length === 0) return;
    const rows = refused.map(({ who, verdict: v }) => {
      const failing = v.units.filter((u) => u.result === 'failed');
      return {
        phase: v.phase, station_id: v.station.id, identifier: v.identifier, unit_id: v.kind === 'unit' ? v.units[0]!.unitId : null, work_order_id: v.workOrder?.id ?? null,
        codes: [...new Set(failing.flatMap((u) => u.refusals.map((r) => r.code)))], actor_name: who.name,
        details: { result: v.result, units: failing.slice(0, 100).map((u) => ({ serial: u.serial, position: u.position, refusals: u.refusals })) },
      };
    });
    await q.query(REFUSALS_SQL, [JSON.stringify(rows)], 'tracking.refusals');
  }

  const unwrap = <T>(r: BatchResult<T>): T => {
    if (!r.ok) throw r.error;
    return r.value;
  };

  /**
   * May these units or panels be processed at these stations now? Go / no-go per input, for
   * the unit and each panel position, every refusal with its stable code, number and sentence.
   * Read-only apart from recording the refusals (one statement for the batch).
   */
  async function validateBatch(who: Principal, inputs: readonly ValidateInput[]): Promise<BatchResult<Verdict>[]> {
    const out: BatchResult<Verdict>[] = new Array(inputs.length);
    const items = await resolveItems(inputs.map((input) => ({ who, phase: 'validate' as const, input })), out);
    // Read-only: on the read pool, so a verdict never waits behind writers waiting for their WAL flush.
    await judgeMany(db.reads, items, false);
    for (const it of items) out[it.index] = { ok: true, value: it.judged!.verdict };
    await recordRefusals(items.filter((it) => !it.judged!.verdict.go).map((it) => ({ who, verdict: it.judged!.verdict })));
    return out;
  }

  /** validate for one unit or panel (a batch of one). */
  async function validate(who: Principal, input: ValidateInput): Promise<Verdict> {
    return unwrap((await validateBatch(who, [input]))[0]!);
  }


  /** The subjects a start / complete acts on: the ones that passed (skipped panel positions ride along). */
  const acting = (j: Judged) => j.subjects.filter((_s, i) => j.verdict.units[i]!.result === 'passed');

  /**
   * Claims or settles first-article gates for the acting units of one passage. Two units
   * racing for the same gate are decided by the primary key of first_articles; the loser is
   * refused: the returned verdict (nothing of this passage may then be written).
   */
  async function firstArticles(tx: Tx, j: Judged, results: Map<number, { result: Result; outcome: Outcome }> | null): Promise<Verdict | null> {
    const claimed = new Set<number>();
    for (const s of acting(j)) {
      if (s.resolution.kind !== 'ok' || !s.resolution.step.firstArticleGate) continue;
      const seq = s.resolution.step.seq;
      const fa = s.unit.firstArticles?.[String(seq)];
      const r = results?.get(s.unit.id);
      if (!fa && !claimed.has(seq)) {
        const ins = await tx.query(
          `INSERT INTO first_articles (work_order_id, step_seq, unit_id, panel_id, state, passed_at) VALUES ($1, $2, $3, $4, $5, CASE WHEN $5 = 'passed' THEN now() END)
           ON CONFLICT (work_order_id, step_seq) DO NOTHING`,
          [s.unit.woId, seq, s.unit.id, s.unit.panelId, r?.result === 'pass' ? 'passed' : 'pending'],
        );
        if (ins.rowCount) {
          claimed.add(seq);
          continue;
        }
        const other = (await tx.query<{ unit_id: number; panel_id: number | null; state: string }>('SELECT unit_id, panel_id, state FROM first_articles WHERE work_order_id = $1 AND step_seq = $2', [s.unit.woId, seq])).rows[0];
        if (other && other.state === 'pending' && other.unit_id !== s.unit.id && !(other.panel_id !== null && other.panel_id === s.unit.panelId)) {
          const refusal = { code: 'FIRST_ARTICLE_PENDING', number: INTERLOCK_REASONS.FIRST_ARTICLE_PENDING.number, message: `step ${seq} of work order ${s.unit.woNumber} waits for its first article (unit #${other.unit_id}) to pass` };
          const units = j.verdict.units.map((u) => (u.unitId === s.unit.id ? { ...u, result: 'failed' as const, refusals: [...u.refusals, refusal] } : u));
          return { ...j.verdict, units, go: false, result: 'failed', primary: refusal };
        }
      } else if (fa && fa[2] === 'pending' && fa[0] === s.unit.id && r) {
        // The first article's own result settles the gate: passed opens it, scrapped frees it for the next unit.
        if (r.result === 'pass') await tx.query(`UPDATE first_articles SET state = 'passed', passed_at = now() WHERE work_order_id = $1 AND step_seq = $2`, [s.unit.woId, seq]);
        else if (r.outcome === 'scrap') await tx.query('DELETE FROM first_articles WHERE work_order_id = $1 AND step_seq = $2', [s.unit.woId, seq]);
      }
    }
    return null;
  }

  /**
   * Splits a batch into rounds in which no identifier appears twice; a later round sees what
   * the earlier ones wrote, so a batch means the same as its passages one after the other.
   */
  function rounds(items: Item[]): Item[][] {
    const out: Item[][] = [];
    for (const it of items) {
      let r = out.find((round) => !round.some((x) => x.input.identifier === it.input.identifier));
      if (!r) out.push((r = []));
      r.push(it);
    }
    return out;
  }


  /** A passage of a single unit whose work order is under way at a step without a first-article gate: the compare-and-set path suffices. */
  const simple = (j: Judged) => {
    const s0 = j.subjects[0]!;
    return j.subjects.length === 1 && s0.unit.woState === 'in_progress' && s0.resolution.kind === 'ok' && !s0.resolution.step.firstArticleGate;
  };

  type StartRow = { unit_id: number; visits: number; prev_status: string; prev_on_hold: boolean; step_seq: number; station_id: number; started_by: string };
  type CompleteRow = ReturnType<typeof planRow>;
  type Plan = { kind: 'start'; rows: StartRow[] } | { kind: 'complete'; rows: CompleteRow[] };
  interface Planned { it: Item; j: Judged; plan: Plan }

  function planRow(s: InterlockSubject, result: Result, it: Item) {
    const { at, input, who } = it;
    const step = (s.resolution as { step: ParsedBasis['steps'][number] }).step;
    const { state, outcome, repairLoop } = routeAfter(s.basis, s.unit as RouteState, step, result);
    const ownStart = s.unit.status === 'in_process' && s.unit.startedStepSeq === step.seq && s.unit.startedStationId === at.station.id;
    return {
      unit_id: s.unit.id, visit: s.unit.visits + 1, prev_status: s.unit.status, prev_on_hold: s.unit.onHold, wo_id: s.unit.woId, basis_id: s.unit.basisId,
      station_id: at.station.id, equipment_id: at.equipment?.id ?? null, program_name: input.programName ?? null, program_revision: input.programRevision ?? null,
      operator: input.operator ?? (who.kind === 'user' ? who.name : null), actor_kind: who.kind, actor_name: who.name, completed_at: input.completedAt ?? null,
      notes: input.notes ?? null, step_seq: step.seq, step_name: step.name, panel_id: s.unit.panelId, panel_position: s.unit.panelPosition, result, outcome,
      next_step_seq: state.nextStepSeq, repair_loop: repairLoop, started_at: ownStart ? s.unit.startedAt : (input.startedAt ?? null), status: state.status,
      return_step_seq: state.returnStepSeq, failed_step_seq: state.failedStepSeq, passed_steps: state.passedSteps, repair_loops: state.repairLoops,
      on_hold: state.onHold, hold_reason: state.holdReason, serial: s.unit.serial,
    };
  }

  /**
   * What an item will write. start: the acting units marked in process at the step. complete:
   * where each acting unit goes, the route's answer to its result (per position on a panel).
   */
  function plan(j: Judged, it: Item): Plan {
    const { input } = it;
    if (it.phase === 'start') {
      return {
        kind: 'start',
        rows: acting(j).map((s) => ({
          unit_id: s.unit.id, visits: s.unit.visits, prev_status: s.unit.status, prev_on_hold: s.unit.onHold,
          step_seq: (s.resolution as { step: { seq: number } }).step.seq, station_id: it.at.station.id, started_by: input.operator ?? it.who.name,
        })),
      };
    }
    const byPosition = new Map((input.positions ?? []).map((p) => [p.position, p.result]));
    const known = new Set(j.subjects.map((s) => s.unit.panelPosition));
    const unknown = [...byPosition.keys()].filter((p) => !known.has(p));
    if (unknown.length) throw validationFailed(unknown.map((p) => ({ field: '/positions', code: 'unknown_position', message: `${input.identifier} has no position ${p}` })));
    return { kind: 'complete', rows: acting(j).map((s) => planRow(s, (s.unit.panelPosition !== null ? byPosition.get(s.unit.panelPosition) : undefined) ?? input.result!, it)) };
  }

  /**
   * Writes planned passages: all starts with one statement, all completes with another (each a
   * compare-and-set, see START_SQL / COMPLETE_SQL). The result per item, or null when one of
   * its units changed since it was read (nothing of it is written then).
   */
  async function write(q: Queryable, entries: Planned[]): Promise<Map<Item, Verdict | CompleteResult | null>> {
    const done = new Map<Item, Verdict | CompleteResult | null>();
    const starts = entries.filter((e) => e.plan.kind === 'start');
    const completes = entries.filter((e) => e.plan.kind === 'complete');
    if (starts.length) {
      const rows = starts.flatMap((e) => e.plan.rows as StartRow[]);
      const written = new Set((await q.query<{ id: number }>(START_SQL, [JSON.stringify(rows)], 'tracking.start')).rows.map((r) => r.id));
      for (const e of starts) done.set(e.it, (e.plan.rows as StartRow[]).every((p) => written.has(p.unit_id)) ? e.j.verdict : null);
    }
    if (completes.length) {
      const rows = completes.flatMap((e) => e.plan.rows as CompleteRow[]);
      const written = await q.query<{ unitId: number; recordId: number }>(COMPLETE_SQL, [JSON.stringify(rows.map(({ serial: _s, ...r }) => r))], 'tracking.complete');
      const ids = new Map(written.rows.map((r) => [r.unitId, r.recordId]));
      for (const e of completes) {
        const mine = e.plan.rows as CompleteRow[];
        if (!mine.every((d) => ids.has(d.unit_id))) {
          done.set(e.it, null);
          continue;
        }
        const records: PassageRecord[] = mine.map((d) => ({
          unitId: d.unit_id, serial: d.serial, position: d.panel_position, recordId: ids.get(d.unit_id)!, visit: d.visit,
          stepSeq: d.step_seq, result: d.result, outcome: d.outcome, status: d.status, nextStepSeq: d.next_step_seq, onHold: d.on_hold,
        }));
        done.set(e.it, { ...e.j.verdict, records });
      }
    }
    return done;
  }

  /**
   * Runs one round (no identifier twice): judged without locks, the simple passages written
   * with one compare-and-set statement per kind, the others (panels, a work order's first
   * passage, first-article steps, lost compare-and-sets) judged again under row locks and
   * written in one transaction. Returns the items that must wait for the next round because a
   * unit of theirs is already acted on in this one (a panel and one of its own units).
   */
  async function passRound(round: Item[], out: BatchResult<Verdict | CompleteResult>[]): Promise<Item[]> {
    const refused: { who: Principal; verdict: Verdict }[] = [];
    const later: Item[] = [];
    const taken = new Set<number>();
    await judgeMany(db, round, false);
    const fast: Planned[] = [];
    const locked: Item[] = [];
    for (const it of round) {
      const j = it.judged!;
      if (!j.verdict.go) {
        out[it.index] = fail(new Refused(j.verdict));
        refused.push({ who: it.who, verdict: j.verdict });
        continue;
      }
      const ids = acting(j).map((s) => s.unit.id);
      if (ids.some((id) => taken.has(id))) {
        later.push(it);
        continue;
      }
      for (const id of ids) taken.add(id);
      let p: Plan;
      try {
        p = plan(j, it);
      } catch (e) {
        if (!(e instanceof AppError)) throw e;
        out[it.index] = fail(e);
        continue;
      }
      if (simple(j)) fast.push({ it, j, plan: p });
      else locked.push(it);
    }
    if (fast.length) {
      const done = await write(db, fast);
      for (const e of fast) {
        const r = done.get(e.it);
        if (r) out[e.it.index] = { ok: true, value: r };
        else locked.push(e.it); // changed since read: judged again under lock
      }
    }
    if (locked.length) {
      locked.sort((a, b) => a.index - b.index);
      // The fast path above is committed: if this transaction fails, its items fail with the
      // error and the others keep their results, so the caller can tell what was written.
      const results = await db.tx(async (tx) => {
        const res = new Map<Item, BatchResult<Verdict | CompleteResult>>();
        const lockedRefused: { who: Principal; verdict: Verdict }[] = [];
        for (const it of locked) delete it.judged;
        await judgeMany(tx, locked, true);
        const entries: Planned[] = [];
        for (const it of locked) {
          const j = it.judged!;
          if (!j.verdict.go) {
            res.set(it, fail(new Refused(j.verdict)));
            lockedRefused.push({ who: it.who, verdict: j.verdict });
            continue;
          }
          let p: Plan;
          try {
            p = plan(j, it);
          } catch (e) {
            if (!(e instanceof AppError)) throw e;
            res.set(it, fail(e));
            continue;
          }
          const outcomes = p.kind === 'complete' ? new Map(p.rows.map((d) => [d.unit_id, { result: d.result, outcome: d.outcome }])) : null;
          const fa = await firstArticles(tx, j, outcomes);
          if (fa) {
            res.set(it, fail(new Refused(fa)));
            lockedRefused.push({ who: it.who, verdict: fa });
            continue;
          }
          entries.push({ it, j, plan: p });
        }
        const done = await write(tx, entries);
        for (const e of entries) {
          const r = done.get(e.it);
          if (!r) throw new AppError('CONCURRENT_UPDATE', 'A unit changed while it was being processed; retry');
          res.set(e.it, { ok: true, value: r });
        }
        const started = new Map<number, Principal>();
        for (const e of entries) if (e.j.subjects[0]!.unit.woState === 'released' && !started.has(e.j.subjects[0]!.unit.woId)) started.set(e.j.subjects[0]!.unit.woId, e.it.who);
        for (const [wo, w] of started) await workOrders.markStarted(tx, w, wo);
        return { res, lockedRefused };
      }).catch((error: unknown) => ({ res: new Map(locked.map((it) => [it, fail(error)] as const)), lockedRefused: [] }));
      for (const [it, r] of results.res) out[it.index] = r;
      refused.push(...results.lockedRefused);
    }
    await recordRefusals(refused);
    return later;
  }

  /** Runs a batch of passages round by round (see rounds and passRound). */
  async function passBatch(entries: readonly Entry[]): Promise<BatchResult<Verdict | CompleteResult>[]> {
    const out: BatchResult<Verdict | CompleteResult>[] = new Array(entries.length);
    let pending = await resolveItems(entries, out);
    while (pending.length) {
      const [round, ...rest] = rounds(pending);
      for (const it of round!) delete it.judged;
      const later = await passRound(round!, out);
      pending = [...later, ...rest.flat()].sort((a, b) => a.index - b.index);
    }
    return out;
  }

  /** One passage of a mixed batch, with its own caller (e.g. the machine that reported it). */
  type Passage = { kind: 'start'; input: StartInput; who: Principal } | { kind: 'complete'; input: CompleteInput; who: Principal };

  /**
   * Starts and completes of any units, by any callers, as one batch (the CFX door's waves):
   * the same as the passages one after the other, with a few set-based statements per round.
   */
  async function passages(items: readonly Passage[]): Promise<BatchResult<Verdict | CompleteResult>[]> {
    return passBatch(items.map((p) => ({ who: p.who, phase: p.kind, input: p.input as AnyInput })));
  }

  /**
   * Units or panels begin a step at a station: the interlock must say go; the units are marked
   * in process. Each input gets its own verdict; a refused one does not hold back the others.
   */
  async function startBatch(who: Principal, inputs: readonly StartInput[]): Promise<BatchResult<Verdict>[]> {
    return passBatch(inputs.map((input) => ({ who, phase: 'start' as const, input }))) as Promise<BatchResult<Verdict>[]>;
  }

  /** start for one unit or panel (a batch of one); refused with 409 INTERLOCK_REFUSED on no-go. */
  async function start(who: Principal, input: StartInput): Promise<Verdict> {
    return unwrap((await startBatch(who, [input]))[0]!);
  }

  /**
   * Units or panels finish a step with pass / fail / scrap; the route decides where each goes
   * next, and each passage becomes an append-only process record with the unit's new state.
   *
   * Set-based: one statement reads the units of the whole batch, the rules run once per
   * station call, and one statement writes every passage whose units are still as read (a
   * compare-and-set on visit count, status and hold flag) together with its process records.
   * Panels, a work order's first passage, first-article steps and lost compare-and-sets take
   * the locked path: those units are read `FOR UPDATE` (in id order), judged again, and written
   * with the same statement. Of concurrent completes of one step exactly one wins; the others
   * are refused (STEP_ALREADY_PASSED), and (unit_id, visit) is unique besides. Each input gets
   * its own result; a refused one does not hold back the others.
   */
  async function completeBatch(who: Principal, inputs: readonly CompleteInput[]): Promise<BatchResult<CompleteResult>[]> {
    return passBatch(inputs.map((input) => ({ who, phase: 'complete' as const, input }))) as Promise<BatchResult<CompleteResult>[]>;
  }

  /**
   * complete for one unit or panel (a batch of one); refused with 409 INTERLOCK_REFUSED on no-go.
   * With `tx` the passage is written in the caller's transaction (see completeIn).
   */
  async function complete(who: Principal, input: CompleteInput, tx?: Tx): Promise<CompleteResult> {
    if (tx) return completeIn(tx, who, input);
    return unwrap((await completeBatch(who, [input]))[0]!);
  }

  /**
   * complete inside the caller's transaction, for a larger operation that must commit or roll
   * back together with the passage (quality's completion with its inspection result). Judged
   * on the transaction's connection without row locks and written with the compare-and-set
   * statement: a unit changed since it was read fails the call with CONCURRENT_UPDATE (which
   * db.tx retries). A refusal is recorded through `db.autonomous` (its own small pool, never the
   * main pool the caller holds a connection of), so it is kept when the caller rolls back.
   */
  async function completeIn(tx: Tx, who: Principal, input: CompleteInput): Promise<CompleteResult> {
    const out: BatchResult<unknown>[] = [];
    const [it] = await resolveItems([{ who, phase: 'complete', input }], out);
    if (!it) throw (out[0] as { ok: false; error: AppError }).error;
    await judgeMany(tx, [it], false);
    const j = it.judged!;
    let verdict = j.verdict;
    if (verdict.go) {
      const p = plan(j, it) as Extract<Plan, { kind: 'complete' }>;
      const fa = await firstArticles(tx, j, new Map(p.rows.map((d) => [d.unit_id, { result: d.result, outcome: d.outcome }])));
      if (!fa) {
        const done = (await write(tx, [{ it, j, plan: p }])).get(it);
        if (!done) throw new AppError('CONCURRENT_UPDATE', 'A unit changed while it was being processed; retry');
        const u0 = j.subjects[0]!.unit;
        if (u0.woState === 'released') await workOrders.markStarted(tx, who, u0.woId);
        return done as CompleteResult;
      }
      verdict = fa;
    }
    // Kept whatever the caller's transaction does, without a second connection of the main pool
    // (the caller holds one: under load every connection could be held by such a caller).
    await recordRefusals([{ who, verdict }], db.autonomous);
    throw new Refused(verdict);
  }

  interface LockedUnit { id: number; serial: string; position: number | null; status: UnitStatus; nextStepSeq: number | null; startedStepSeq: number | null; startedStationId: number | null; startedStationCode: string | null }

  /** The unit, or every unit of the panel, locked. */
  async function lockUnits(tx: Tx, identifier: string): Promise<LockedUnit[]> {
    const rows = (
      await tx.query<LockedUnit>(
        `SELECT u.id, u.serial, u.panel_position AS position, u.status, u.next_step_seq AS "nextStepSeq", u.started_step_seq AS "startedStepSeq",
                u.started_station_id AS "startedStationId", s.code AS "startedStationCode"
           FROM units u LEFT JOIN stations s ON s.id = u.started_station_id
          WHERE u.serial = $1 OR u.panel_id = (SELECT id FROM panels WHERE code = $1) ORDER BY u.id FOR UPDATE OF u`,
        [identifier],
      )
    ).rows;
    if (rows.length === 0) throw notFound('unit or panel', identifier);
    return rows;
  }

  /**
   * Aborts a started passage (CFX WorkCompleted with Result Aborted / Skipped, or an operator
   * taking a board off): the units in process at this station go back to waiting for the same
   * step. No process record is written (nothing was done); the audit trail keeps who, when and why.
   */
  async function abort(who: Principal, input: StationSelector & { identifier: string; reason?: string | null }) {
    const at = await resolveStation(input);
    permit(who, at.station);
    return db.tx(async (tx) => {
      const rows = await lockUnits(tx, input.identifier);
      const started = rows.filter((u) => u.status === 'in_process');
      if (started.length === 0) throw new AppError('STATE_CONFLICT', `${input.identifier} is not in process at any station; there is nothing to abort`, { details: { inProcess: false } });
      const elsewhere = started.find((u) => u.startedStationId !== at.station.id);
      if (elsewhere) throw new AppError('STATE_CONFLICT', `unit ${elsewhere.serial} is in process at station ${elsewhere.startedStationCode}, not at ${at.station.code}; abort it there`);
      await tx.query(
        `UPDATE units SET status = 'queued', started_step_seq = NULL, started_station_id = NULL, started_at = NULL, started_by = NULL, updated_at = now() WHERE id = ANY($1)`,
        [started.map((u) => u.id)],
      );
      for (const u of started) {
        await recordAudit(tx, who, {
          action: 'abort', entity: 'unit', entityId: u.id, before: { status: u.status, startedStepSeq: u.startedStepSeq, stationId: u.startedStationId },
          after: { status: 'queued', nextStepSeq: u.nextStepSeq }, reason: input.reason ?? null,
        });
      }
      return {
        identifier: input.identifier, station: { id: at.station.id, code: at.station.code, type: at.station.type },
        units: started.map((u) => ({ unitId: u.id, serial: u.serial, position: u.position, stepSeq: u.startedStepSeq! })),
      };
    });
  }

  /**
   * Scraps a unit, or every live position of a panel, outside a step (CFX UnitsDisqualified, a
   * board broken on the floor), with a reason. Units already scrapped or skipped are left as
   * they are (repeating it changes nothing); a pending first-article claim of a scrapped unit
   * is freed for the next unit. Audited per unit.
   */
  async function scrap(who: Principal, input: StationSelector & { identifier: string; reason: string }) {
    const selects = input.stationId !== undefined || input.station !== undefined || input.equipment !== undefined;
    const at = selects ? await resolveStation(input) : null;
    if (at) permit(who, at.station);
    if (!input.reason?.trim()) throw validationFailed([{ field: '/reason', code: 'required', message: 'scrapping needs a reason' }]);
    return db.tx(async (tx) => {
      const rows = await lockUnits(tx, input.identifier);
      const targets = rows.filter((u) => u.status !== 'scrapped' && u.status !== 'skipped');
      if (targets.length) {
        const ids = targets.map((u) => u.id);
        await tx.query(
          `UPDATE units SET status = 'scrapped', next_step_seq = NULL, return_step_seq = NULL, started_step_seq = NULL, started_station_id = NULL,
                  started_at = NULL, started_by = NULL, updated_at = now() WHERE id = ANY($1)`,
          [ids],
        );
        await tx.query(`DELETE FROM first_articles WHERE unit_id = ANY($1) AND state = 'pending'`, [ids]);
        for (const u of targets) {
          await recordAudit(tx, who, {
            action: 'scrap', entity: 'unit', entityId: u.id, before: { status: u.status, nextStepSeq: u.nextStepSeq },
            after: { status: 'scrapped', stationId: at?.station.id ?? null }, reason: input.reason,
          });
        }
      }
      return {
        identifier: input.identifier,
        scrapped: targets.map((u) => ({ unitId: u.id, serial: u.serial, position: u.position, before: u.status })),
        unchanged: rows.filter((u) => !targets.includes(u)).map((u) => ({ unitId: u.id, serial: u.serial, position: u.position, status: u.status })),
      };
    });
  }

  // ── units, panels, lots ────────────────────────────────────────────────────────────────

  /** Reserves `count` units (and `seqCount` serial numbers) on the work order, atomically, within quantity + overrun. */
  async function reserve(tx: Tx, wo: WorkOrder, count: number, seqCount: number): Promise<number> {
    const r = await tx.query<{ serial_seq: number }>(
      `UPDATE work_orders SET units_created = units_created + $2, serial_seq = serial_seq + $3
        WHERE id = $1 AND state IN ('released', 'in_progress') AND units_created + $2 <= max_units RETURNING serial_seq`,
      [wo.id, count, seqCount],
    );
    if (r.rowCount) return r.rows[0]!.serial_seq - seqCount + 1;
    const cur = await workOrders.get(wo.id, tx);
    if (!['released', 'in_progress'].includes(cur.state)) throw new AppError('STATE_CONFLICT', `Work order ${cur.number} is ${cur.state}; units can be created only for a released work order`);
    throw new AppError('QUANTITY_EXCEEDED', `Work order ${cur.number} allows ${cur.maxUnits} units (quantity ${cur.quantity} plus overrun); ${cur.unitsCreated} exist, ${count} more would exceed it`, {
      details: { maxUnits: cur.maxUnits, unitsCreated: cur.unitsCreated, requested: count },
    });
  }

  async function firstStepOf(wo: WorkOrder, q: Queryable): Promise<number> {
    const b = await workOrders.loadBasis(wo.basisId!, wo.basisHash!, q);
    const first = b.main[0];
    if (!first) throw new AppError('STATE_CONFLICT', `The route of work order ${wo.number} has no production step`);
    return first.seq;
  }

  async function renderSerials(tx: Tx, wo: WorkOrder, firstSeq: number, n: number): Promise<string[]> {
    const pattern = await workOrders.serialPatternFor(wo, tx);
    const now = new Date();
    return Array.from({ length: n }, (_, i) => renderSerial(pattern, { workOrder: wo.number, product: wo.productCode, revision: wo.revision, seq: firstSeq + i, date: now }));
  }

  async function lotOf(tx: Tx, wo: WorkOrder, lotId: number | null | undefined): Promise<number | null> {
    if (lotId == null) return null;
    const l = (await tx.query<{ work_order_id: number }>('SELECT work_order_id FROM production_lots WHERE id = $1', [lotId])).rows[0];
    if (!l) throw notFound('production lot', lotId);
    if (l.work_order_id !== wo.id) throw validationFailed([{ field: '/lotId', code: 'other_work_order', message: `lot ${lotId} belongs to another work order` }]);
    return lotId;
  }

  /** Serials and panel IDs share one namespace for scanners: refuse a serial that is a panel ID and vice versa. */
  async function assertNoClash(tx: Tx, serials: string[], panelCode?: string) {
    const seen = new Set<string>();
    for (const s of serials) {
      if (seen.has(s)) throw validationFailed([{ field: '/serials', code: 'duplicate', message: `serial ${s} is given twice` }]);
      seen.add(s);
    }
    const p = await tx.query<{ code: string }>('SELECT code FROM panels WHERE code = ANY($1)', [serials]);
    if (p.rowCount) throw new AppError('DUPLICATE', `Serial ${p.rows[0]!.code} is already a panel ID`);
    if (panelCode !== undefined) {
      const u = await tx.query('SELECT 1 FROM units WHERE serial = $1', [panelCode]);
      if (u.rowCount || serials.includes(panelCode)) throw new AppError('DUPLICATE', `Panel ID ${panelCode} is already a unit serial`);
    }
  }

  async function insertUnits(tx: Tx, wo: WorkOrder, rows: { serial: string; position: number | null; skipped: boolean }[], x: { lotId: number | null; panelId: number | null; source: 'generated' | 'registered'; firstStep: number }) {
    return (
      await tx.query<{ id: number; serial: string }>(
        `INSERT INTO units (serial, work_order_id, lot_id, panel_id, panel_position, source, status, next_step_seq)
         SELECT t.s, $4, $5, $6, t.pos, $7, CASE WHEN t.skip THEN 'skipped' ELSE 'queued' END, CASE WHEN t.skip THEN NULL ELSE $8::int END
           FROM unnest($1::text[], $2::int[], $3::boolean[]) AS t(s, pos, skip) RETURNING id, serial`,
        [rows.map((r) => r.serial), rows.map((r) => r.position), rows.map((r) => r.skipped), wo.id, x.lotId, x.panelId, x.source, x.firstStep],
      )
    ).rows;
  }

  /** Generates `count` serials from the work order's pattern and creates the units (never beyond quantity + overrun). */
  async function generateUnits(who: Principal, input: { workOrder: number | string; count: number; lotId?: number | null }): Promise<{ workOrderId: number; serials: string[] }> {
    if (!Number.isInteger(input.count) || input.count < 1 || input.count > 10_000) throw validationFailed([{ field: '/count', code: 'range', message: 'count must be 1 to 10000' }]);
    return db.tx(async (tx) => {
      const wo = await workOrders.resolve(input.workOrder, tx);
      const firstSeq = await reserve(tx, wo, input.count, input.count);
      const lotId = await lotOf(tx, wo, input.lotId);
      const serials = await renderSerials(tx, wo, firstSeq, input.count);
      await assertNoClash(tx, serials);
      await insertUnits(tx, wo, serials.map((serial) => ({ serial, position: null, skipped: false })), { lotId, panelId: null, source: 'generated', firstStep: await firstStepOf(wo, tx) });
      await recordAudit(tx, who, { action: 'create_units', entity: 'work_order', entityId: wo.id, after: { count: serials.length, first: serials[0], last: serials.at(-1), lotId, source: 'generated' } });
      return { workOrderId: wo.id, serials };
    });
  }

  /** Registers serials reported by a marking station or scanner as units of the work order. */
  async function registerUnits(who: Principal, input: { workOrder: number | string; serials: string[]; lotId?: number | null }): Promise<{ workOrderId: number; serials: string[] }> {
    if (input.serials.length < 1 || input.serials.length > 10_000) throw validationFailed([{ field: '/serials', code: 'range', message: 'give 1 to 10000 serials' }]);
    return db.tx(async (tx) => {
      const wo = await workOrders.resolve(input.workOrder, tx);
      await reserve(tx, wo, input.serials.length, 0);
      const lotId = await lotOf(tx, wo, input.lotId);
      await assertNoClash(tx, input.serials);
      await insertUnits(tx, wo, input.serials.map((serial) => ({ serial, position: null, skipped: false })), { lotId, panelId: null, source: 'registered', firstStep: await firstStepOf(wo, tx) });
      await recordAudit(tx, who, { action: 'create_units', entity: 'work_order', entityId: wo.id, after: { count: input.serials.length, serials: input.serials.slice(0, 1000), lotId, source: 'registered' } });
      return { workOrderId: wo.id, serials: input.serials };
    });
  }

  /**
   * Creates a panel with N positions, one unit per position (serials generated, or given per
   * position). Skipped (X-out) positions get a unit marked skipped that does not count
   * against the quantity.
   */
  async function createPanel(
    who: Principal,
    input: { workOrder: number | string; code: string; positions: number; skipped?: number[]; serials?: string[]; lotId?: number | null },
  ): Promise<Panel> {
    const skipped = new Set(input.skipped ?? []);
    const errs = [...skipped].filter((p) => !Number.isInteger(p) || p < 1 || p > input.positions).map((p) => ({ field: '/skipped', code: 'range', message: `position ${p} is not on a ${input.positions}-position panel` }));
    if (input.serials && input.serials.length !== input.positions) errs.push({ field: '/serials', code: 'count', message: `give one serial per position (${input.positions})` });
    if (errs.length) throw validationFailed(errs);
    return db.tx(async (tx) => {
      const wo = await workOrders.resolve(input.workOrder, tx);
      const firstSeq = await reserve(tx, wo, input.positions - skipped.size, input.serials ? 0 : input.positions);
      const lotId = await lotOf(tx, wo, input.lotId);
      const serials = input.serials ?? (await renderSerials(tx, wo, firstSeq, input.positions));
      await assertNoClash(tx, serials, input.code);
      const p = await tx.query<{ id: number }>('INSERT INTO panels (work_order_id, code, positions, lot_id, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING id', [wo.id, input.code, input.positions, lotId, who.name]);
      const panelId = p.rows[0]!.id;
      await insertUnits(tx, wo, serials.map((serial, i) => ({ serial, position: i + 1, skipped: skipped.has(i + 1) })), {
        lotId, panelId, source: input.serials ? 'registered' : 'generated', firstStep: await firstStepOf(wo, tx),
      });
      const panel = await getPanel(input.code, tx);
      await recordAudit(tx, who, { action: 'create', entity: 'panel', entityId: panelId, after: { code: input.code, positions: input.positions, skipped: [...skipped], serials, lotId } });
      return panel;
    });
  }

  async function getPanel(code: string, q: Queryable = db): Promise<Panel> {
    const p = (
      await q.query<Omit<Panel, 'units'>>(
        `SELECT p.id, p.code, p.work_order_id AS "workOrderId", w.number AS "workOrderNumber", p.positions, p.lot_id AS "lotId", p.on_hold AS "onHold",
                p.hold_reason AS "holdReason", p.created_at AS "createdAt" FROM panels p JOIN work_orders w ON w.id = p.work_order_id WHERE p.code = $1`,
        [code],
      )
    ).rows[0];
    if (!p) throw notFound('panel', code);
    const units = (
      await q.query<Panel['units'][number]>(
        `SELECT panel_position AS position, serial, status, on_hold AS "onHold", next_step_seq AS "nextStepSeq" FROM units WHERE panel_id = $1 ORDER BY panel_position`,
        [p.id],
      )
    ).rows;
    return { ...p, units };
  }

  /** Marks a not-yet-processed panel position as X-out; it no longer counts against the quantity. */
  async function skipPosition(who: Principal, panelCode: string, position: number, reason: string): Promise<Panel> {
    return db.tx(async (tx) => {
      const u = (
        await tx.query<{ id: number; serial: string; status: string; visits: number; work_order_id: number }>(
          `SELECT u.id, u.serial, u.status, u.visits, u.work_order_id FROM units u JOIN panels p ON p.id = u.panel_id WHERE p.code = $1 AND u.panel_position = $2 FOR UPDATE OF u`,
          [panelCode, position],
        )
      ).rows[0];
      if (!u) throw notFound('panel position', `${panelCode}/${position}`);
      if (u.status !== 'queued' || u.visits > 0) throw new AppError('STATE_CONFLICT', `Unit ${u.serial} at position ${position} is ${u.status} after ${u.visits} step(s); scrap it instead of skipping`);
      await tx.query(`UPDATE units SET status = 'skipped', next_step_seq = NULL, updated_at = now() WHERE id = $1`, [u.id]);
      await tx.query('UPDATE work_orders SET units_created = units_created - 1 WHERE id = $1', [u.work_order_id]);
      await recordAudit(tx, who, { action: 'skip_position', entity: 'unit', entityId: u.id, before: { status: u.status }, after: { status: 'skipped', panel: panelCode, position }, reason });
      return getPanel(panelCode, tx);
    });
  }

  async function createLot(who: Principal, input: { workOrder: number | string; code: string; plannedQuantity?: number | null }): Promise<Lot> {
    return db.tx(async (tx) => {
      const wo = await workOrders.resolve(input.workOrder, tx);
      if (['closed', 'cancelled'].includes(wo.state)) throw new AppError('STATE_CONFLICT', `Work order ${wo.number} is ${wo.state}`);
      const r = await tx.query<{ id: number }>('INSERT INTO production_lots (work_order_id, code, planned_quantity, created_by) VALUES ($1, $2, $3, $4) RETURNING id', [
        wo.id, input.code, input.plannedQuantity ?? null, who.name,
      ]);
      const lot = await getLot(r.rows[0]!.id, tx);
      await recordAudit(tx, who, { action: 'create', entity: 'production_lot', entityId: lot.id, after: lot });
      return lot;
    });
  }

  const LOT_SELECT = `l.id, l.code, l.work_order_id AS "workOrderId", w.number AS "workOrderNumber", l.planned_quantity AS "plannedQuantity", l.on_hold AS "onHold",
    l.hold_reason AS "holdReason", l.created_at AS "createdAt", (SELECT count(*) FROM units u WHERE u.lot_id = l.id)::int AS units
    FROM production_lots l JOIN work_orders w ON w.id = l.work_order_id`;

  async function getLot(id: number, q: Queryable = db): Promise<Lot> {
    const r = (await q.query<Lot>(`SELECT ${LOT_SELECT} WHERE l.id = $1`, [id])).rows[0];
    if (!r) throw notFound('production lot', id);
    return r;
  }

  async function listLots(workOrderId: number): Promise<Lot[]> {
    return (await db.query<Lot>(`SELECT ${LOT_SELECT} WHERE l.work_order_id = $1 ORDER BY l.code`, [workOrderId])).rows;
  }

  /** Puts units of the lot's work order into the lot (a unit is in at most one lot). */
  async function assignToLot(who: Principal, lotId: number, serials: string[]): Promise<Lot> {
    return db.tx(async (tx) => {
      const lot = await getLot(lotId, tx);
      const r = await tx.query<{ serial: string; work_order_id: number; lot_id: number | null }>('SELECT serial, work_order_id, lot_id FROM units WHERE serial = ANY($1) FOR UPDATE', [serials]);
      const found = new Map(r.rows.map((u) => [u.serial, u]));
      const errs = serials.flatMap((s, i) => {
        const u = found.get(s);
        if (!u) return [{ field: `/serials/${i}`, code: 'unknown_unit', message: `unit ${s} does not exist` }];
        if (u.work_order_id !== lot.workOrderId) return [{ field: `/serials/${i}`, code: 'other_work_order', message: `unit ${s} belongs to another work order` }];
        return [];
      });
      if (errs.length) throw validationFailed(errs, `Cannot put these units into lot ${lot.code}: ${errs.map((e) => e.message).join('; ')}`);
      await tx.query('UPDATE units SET lot_id = $1, updated_at = now() WHERE serial = ANY($2)', [lotId, serials]);
      await recordAudit(tx, who, { action: 'assign_units', entity: 'production_lot', entityId: lotId, after: { serials: serials.slice(0, 1000), count: serials.length } });
      return getLot(lotId, tx);
    });
  }

  /**
   * Places or releases a hold on a unit, panel or lot: a minimal hold flag with a reason, read
   * by the interlock. The quality module will bring holds with scopes and signed releases.
   */
  async function setHold(who: Principal, input: { scope: HoldScope; identifier: string; hold: boolean; reason: string }): Promise<{ scope: HoldScope; identifier: string; onHold: boolean; holdReason: string | null }> {
    const table = { unit: 'units', panel: 'panels', lot: 'production_lots' }[input.scope];
    const key = input.scope === 'unit' ? 'serial' : 'code';
    return db.tx(async (tx) => {
      const before = (await tx.query<{ id: number; on_hold: boolean; hold_reason: string | null }>(`SELECT id, on_hold, hold_reason FROM ${table} WHERE ${key} = $1 FOR UPDATE`, [input.identifier])).rows[0];
      if (!before) throw notFound(input.scope, input.identifier);
      // A person's hold or release replaces a failure hold: it is no longer the route's to release.
      await tx.query(`UPDATE ${table} SET on_hold = $2, hold_reason = $3${table === 'units' ? ', failure_hold = false' : ''} WHERE id = $1`, [
        before.id, input.hold, input.hold ? input.reason : null,
      ]);
      await recordAudit(tx, who, {
        action: input.hold ? 'hold' : 'release_hold', entity: input.scope === 'lot' ? 'production_lot' : input.scope, entityId: before.id,
        before: { onHold: before.on_hold, holdReason: before.hold_reason }, after: { onHold: input.hold, holdReason: input.hold ? input.reason : null }, reason: input.reason,
      });
      return { scope: input.scope, identifier: input.identifier, onHold: input.hold, holdReason: input.hold ? input.reason : null };
    });
  }

  async function getUnit(serial: string): Promise<Unit & { history: ProcessRecord[] }> {
    const u = await db.one<Unit>(`SELECT ${UNIT_SELECT} WHERE u.serial = $1`, [serial]);
    if (!u) throw notFound('unit', serial);
    const history = (
      await db.query<ProcessRecord>(
        `SELECT r.id, r.visit, r.step_seq AS "stepSeq", r.step_name AS "stepName", r.station_id AS "stationId", s.code AS "stationCode", r.equipment_id AS "equipmentId",
                e.code AS "equipmentCode", r.program_name AS "programName", r.program_revision AS "programRevision", r.operator, r.actor_name AS "actorName",
                r.panel_position AS "panelPosition", r.result, r.outcome, r.next_step_seq AS "nextStepSeq", r.repair_loop AS "repairLoop", r.started_at AS "startedAt",
                r.completed_at AS "completedAt", r.basis_id AS "basisId"
           FROM process_records r JOIN stations s ON s.id = r.station_id LEFT JOIN equipment e ON e.id = r.equipment_id WHERE r.unit_id = $1 ORDER BY r.visit`,
        [u.id],
      )
    ).rows;
    return { ...u, history };
  }

  async function listUnits(f: { workOrderId?: number; status?: UnitStatus; lotId?: number; onHold?: boolean; limit?: number; afterId?: number }): Promise<Unit[]> {
    return (
      await db.query<Unit>(
        `SELECT ${UNIT_SELECT} WHERE ($1::bigint IS NULL OR u.work_order_id = $1) AND ($2::text IS NULL OR u.status = $2) AND ($3::bigint IS NULL OR u.lot_id = $3)
           AND ($4::boolean IS NULL OR u.on_hold = $4) AND u.id > $5 ORDER BY u.id LIMIT $6`,
        [f.workOrderId ?? null, f.status ?? null, f.lotId ?? null, f.onHold ?? null, f.afterId ?? 0, Math.min(f.limit ?? 500, 5000)],
      )
    ).rows;
  }

  // ── WIP ────────────────────────────────────────────────────────────────────────────────
  interface Count { seq: number | null; status: UnitStatus; onHold: boolean; n: number; started: number }
  const COUNT_SQL = `SELECT CASE status WHEN 'in_process' THEN started_step_seq WHEN 'failed' THEN failed_step_seq ELSE next_step_seq END AS seq,
      status, on_hold AS "onHold", count(*)::int AS n, count(*) FILTER (WHERE visits > 0 OR status = 'in_process')::int AS started
    FROM units WHERE work_order_id = $1 GROUP BY 1, 2, 3`;

  function progressOf(wo: WorkOrder, counts: Count[]) {
    const sum = (pred: (c: Count) => boolean, f: (c: Count) => number = (c) => c.n) => counts.filter(pred).reduce((n, c) => n + f(c), 0);
    const passed = sum((c) => c.status === 'completed');
    return {
      quantity: wo.quantity, maxUnits: wo.maxUnits, created: sum((c) => c.status !== 'skipped'), skipped: sum((c) => c.status === 'skipped'),
      started: sum((c) => c.status !== 'skipped', (c) => c.started), queued: sum((c) => c.status === 'queued'), inProcess: sum((c) => c.status === 'in_process'),
      passed, failed: sum((c) => c.status === 'failed'), scrapped: sum((c) => c.status === 'scrapped'), onHold: sum((c) => c.onHold),
      remaining: Math.max(0, wo.quantity - passed),
    };
  }

  /** Work-order progress and, per route step, how many units wait there, are in process, failed or on hold. */
  async function wipForWorkOrder(id: number) {
    const wo = await workOrders.get(id);
    const counts = (await db.query<Count>(COUNT_SQL, [id])).rows;
    const basis = wo.basisId ? await workOrders.loadBasis(wo.basisId, wo.basisHash!) : null;
    const at = (seq: number, status: UnitStatus, hold?: boolean) =>
      counts.filter((c) => c.seq === seq && (hold ? c.onHold && c.status !== 'completed' && c.status !== 'scrapped' : c.status === status)).reduce((n, c) => n + c.n, 0);
    return {
      workOrder: { id: wo.id, number: wo.number, state: wo.state, productCode: wo.productCode, revision: wo.revision, lineCode: wo.lineCode },
      progress: progressOf(wo, counts),
      steps: (basis?.steps ?? []).map((s) => ({
        seq: s.seq, name: s.name, stationType: s.stationType, isRepair: s.isRepair,
        queued: at(s.seq, 'queued'), inProcess: at(s.seq, 'in_process'), failed: at(s.seq, 'failed'), onHold: at(s.seq, 'queued', true),
      })),
    };
  }

  /**
   * What is where on a line: per station the units in process there and the units whose next
   * step it can do (a unit may show at several stations of the same type), plus the progress
   * of each open work order of the line.
   */
  async function wipForLine(lineId: number) {
    const line = await db.one<{ id: number; code: string; name: string }>('SELECT id, code, name FROM lines WHERE id = $1', [lineId]);
    if (!line) throw notFound('line', lineId);
    const stations = (await db.query<StationRef & { seq: number }>(`SELECT ${STATION_COLS}, s.seq FROM stations s WHERE s.line_id = $1 ORDER BY s.seq, s.code`, [lineId])).rows;
    const active = await workOrders.activeOnLine(lineId);
    const wos = await workOrders.list({ lineId });
    const open = wos.filter((w) => ['released', 'in_progress', 'on_hold'].includes(w.state));
    const inProcess = (
      await db.query<{ stationId: number; n: number; serials: string[] }>(
        `SELECT started_station_id AS "stationId", count(*)::int AS n, (array_agg(serial ORDER BY started_at))[1:20] AS serials
           FROM units WHERE started_station_id = ANY($1) GROUP BY 1`,
        [stations.map((s) => s.id)],
      )
    ).rows;
    const waiting = new Map<number, number>();
    const workOrdersOut = [];
    for (const wo of open) {
      const counts = (await db.query<Count>(COUNT_SQL, [wo.id])).rows;
      workOrdersOut.push({ id: wo.id, number: wo.number, state: wo.state, active: wo.activeOnLine, progress: progressOf(wo, counts) });
      const basis = await workOrders.loadBasis(wo.basisId!, wo.basisHash!);
      for (const c of counts) {
        if (c.status !== 'queued' || c.onHold || c.seq === null) continue;
        const step = basis.bySeq.get(c.seq);
        if (!step) continue;
        for (const st of stations) if (st.type === step.stationType && (step.stationId === null || step.stationId === st.id)) waiting.set(st.id, (waiting.get(st.id) ?? 0) + c.n);
      }
    }
    return {
      line,
      activeWorkOrder: active ? { id: active.id, number: active.number } : null,
      stations: stations.map((s) => {
        const ip = inProcess.find((x) => x.stationId === s.id);
        return { id: s.id, code: s.code, name: s.name, type: s.type, inProcess: ip?.n ?? 0, inProcessSerials: ip?.serials ?? [], waiting: waiting.get(s.id) ?? 0 };
      }),
      workOrders: workOrdersOut,
    };
  }

  return {
    validate, start, complete, validateBatch, startBatch, completeBatch, passages, abort, scrap, resolveStation,
    generateUnits, registerUnits, createPanel, getPanel, skipPosition, createLot, getLot, listLots, assignToLot, setHold, getUnit, listUnits,
    wipForWorkOrder, wipForLine,
    /** Adds an interlock rule (e.g. from the quality or materials module), optionally before / after a named rule. */
    registerInterlockRule: rules.register,
    /** The rules in evaluation order. */
    interlockRules: rules.list,
    /** The reason table (code, number, title) of the registered rules, UNKNOWN_UNIT first. */
    interlockReasons: rules.reasons,
  };
}
export type TrackingService = ReturnType<typeof createTrackingService>;
