import type { Db, Queryable } from '../../platform/db.ts';
import { notFound, validationFailed } from '../../platform/errors.ts';
import type { Principal } from '../../platform/principal.ts';
import { recordAudit } from '../audit/index.ts';

/**
 * Equipment performance: the SEMI E10 state timeline of every machine, its faults, its
 * connectivity and active recipe, production counts, process readings, and what is computed
 * from them (downtime by state and by fault code, OEE per station per day or shift).
 *
 * The write functions are the one implementation behind every door (CFX messages today, a
 * manual entry screen or another protocol tomorrow). They take the caller's transaction and
 * are idempotent where a machine may report the same fact twice, and order-independent where
 * messages may arrive late: a state change is inserted at its event time and its neighbours'
 * bounds adjusted; a fault cleared before it was reported occurred is kept and completed later.
 * Machine-reported facts carry the message they came from instead of an audit row each.
 */

export const E10_STATES = ['Productive', 'Standby', 'Engineering', 'ScheduledDowntime', 'UnscheduledDowntime', 'NonScheduled'] as const;
export type E10 = (typeof E10_STATES)[number];
export const FAULT_SEVERITIES = ['Information', 'Warning', 'Error', 'Alarm'] as const;

export interface MachineRef {
  stationId: number;
  equipmentId: number;
}

export interface StateChangeInput extends MachineRef {
  at: Date;
  newState: { code: number; e10: E10 };
  /** The state before, and how long it lasted: fills the start of the timeline when nothing earlier is known. */
  oldState?: { code: number; e10: E10 } | null;
  oldStateDurationMs?: number | null;
  relatedFault?: { code: string | null; occurrenceId: string | null } | null;
  messageId?: string | null;
}

export interface FaultInput extends MachineRef {
  occurrenceId: string;
  code: string | null;
  severity: (typeof FAULT_SEVERITIES)[number];
  cause: string | null;
  description: string | null;
  lane: number | null;
  stage: string | null;
  kind: string | null;
  details: Record<string, unknown> | null;
  occurredAt: Date;
}

export interface ReadingInput {
  at: Date;
  stationId: number;
  equipmentId: number | null;
  unitIdentifier: string | null;
  name: string;
  value: number | null;
  textValue: string | null;
  unit: string | null;
  source: 'cfx' | 'mqtt';
  origin: string | null;
}

export interface MovementInput extends MachineRef {
  at: Date;
  kind: 'arrived' | 'departed' | 'identified';
  identifier: string;
  position: number | null;
  lane: number | null;
  messageId: string | null;
}

export interface CountInput {
  stationId: number;
  equipmentId: number | null;
  at: Date;
  kind: 'completed' | 'failed' | 'disqualified';
  units: number;
  recipeName: string | null;
  messageId: string | null;
}

export interface RecipeInput extends MachineRef {
  recipeName: string;
  revision: string | null;
  lane: number | null;
  activatedAt: Date;
  expectedCycleSeconds: number | null;
  unitsPerTransaction: number | null;
  workOrder: string | null;
  messageId: string | null;
}

export interface StateInterval {
  id: number;
  equipmentId: number;
  equipmentCode: string;
  stateCode: number;
  e10: E10;
  from: Date;
  to: Date | null;
  seconds: number;
  faultCode: string | null;
  inferred: boolean;
}

export interface FaultRecord {
  id: number;
  equipmentId: number;
  equipmentCode: string;
  occurrenceId: string;
  code: string | null;
  severity: string | null;
  cause: string | null;
  description: string | null;
  occurredAt: Date | null;
  clearedAt: Date | null;
  clearedBy: string | null;
  acknowledgedAt: Date | null;
  acknowledgedBy: string | null;
  seconds: number | null;
}

export interface Downtime {
  stationId: number;
  from: Date;
  to: Date;
  /** Seconds per ResourceState code within the range. */
  byState: { stateCode: number; e10: E10; seconds: number; intervals: number }[];
  /** Seconds per SEMI E10 major state. */
  byE10: { e10: E10; seconds: number }[];
  /** Unscheduled and scheduled downtime attributed to a fault code (the state's RelatedFault, else the fault active when it began). */
  byFaultCode: { faultCode: string; downtimeSeconds: number; occurrences: number; faultSeconds: number }[];
}

export interface OeeBucket {
  /** Local calendar day (site time zone) and shift name (null for day buckets). */
  day: string;
  shift: string | null;
  from: Date;
  to: Date;
  /** Seconds covered by known machine states (summed over the station's machines). */
  knownSeconds: number;
  plannedSeconds: number;
  runSeconds: number;
  totalCount: number;
  goodCount: number;
  /** Sum of ideal cycle time × count over the counts whose ideal cycle time is known. */
  idealSeconds: number;
  availability: number | null;
  performance: number | null;
  quality: number | null;
  oee: number | null;
}

export interface ReadingRow {
  id: number;
  at: Date;
  equipmentId: number | null;
  unitIdentifier: string | null;
  name: string;
  value: number | null;
  textValue: string | null;
  unit: string | null;
  source: string;
}

const secondsBetween = (a: string, b: string) => `GREATEST(0, EXTRACT(EPOCH FROM (LEAST(${b}) - GREATEST(${a}))))`;

function range(input: { from?: Date | string; to?: Date | string }, defaultHours = 24): { from: Date; to: Date } {
  const to = input.to ? new Date(input.to) : new Date();
  const from = input.from ? new Date(input.from) : new Date(to.getTime() - defaultHours * 3600_000);
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || from >= to) {
    throw validationFailed([{ field: '/querystring/from', code: 'range', message: 'from must be before to' }]);
  }
  if (to.getTime() - from.getTime() > 400 * 86400_000) throw validationFailed([{ field: '/querystring/to', code: 'range', message: 'at most 400 days at once' }]);
  return { from, to };
}

export interface EquipmentOptions {
  /** Called with every batch of readings just stored, in the same transaction (main.ts hands it quality's reading rules). */
  afterReadings?: (q: Queryable, rows: ReadingInput[]) => Promise<unknown>;
}

export function createEquipmentService(db: Db, opts: EquipmentOptions = {}) {
  async function station(id: number, q: Queryable = db): Promise<{ id: number; code: string; timezone: string }> {
    const s = (
      await q.query<{ id: number; code: string; timezone: string }>(
        `SELECT s.id, s.code, COALESCE(si.timezone, 'UTC') AS timezone FROM stations s LEFT JOIN lines l ON l.id = s.line_id LEFT JOIN sites si ON si.id = l.site_id WHERE s.id = $1`,
        [id],
      )
    ).rows[0];
    if (!s) throw notFound('station', id);
    return s;
  }

  // ── writes (machine-reported facts) ─────────────────────────────────────────────────────

  /**
   * Inserts a state change at its event time. The interval before it ends there; the new one
   * ends where the next known change begins (null when it is the latest). A change already
   * recorded at the same instant is left as it is (idempotent).
   */
  async function recordStateChange(q: Queryable, input: StateChangeInput): Promise<void> {
    const prev = (
      await q.query<{ id: number; to_at: Date | null }>(
        'SELECT id, to_at FROM station_states WHERE equipment_id = $1 AND from_at < $2 ORDER BY from_at DESC LIMIT 1',
        [input.equipmentId, input.at],
        'eq_state_prev',
      )
    ).rows[0];
    if (prev) {
      if (prev.to_at === null || prev.to_at > input.at) {
        await q.query('UPDATE station_states SET to_at = $2 WHERE id = $1', [prev.id, input.at], 'eq_state_close');
      }
    } else if (input.oldState && input.oldStateDurationMs && input.oldStateDurationMs > 0) {
      const from = new Date(input.at.getTime() - input.oldStateDurationMs);
      await q.query(
        `INSERT INTO station_states (station_id, equipment_id, state_code, e10, from_at, to_at, inferred, message_id)
         VALUES ($1, $2, $3, $4, $5, $6, true, $7) ON CONFLICT (equipment_id, from_at) DO NOTHING`,
        [input.stationId, input.equipmentId, input.oldState.code, input.oldState.e10, from, input.at, input.messageId ?? null],
      );
    }
    await q.query(
      `INSERT INTO station_states (station_id, equipment_id, state_code, e10, from_at, to_at, fault_code, fault_occurrence_id, message_id)
       VALUES ($1, $2, $3, $4, $5, (SELECT min(from_at) FROM station_states WHERE equipment_id = $2 AND from_at > $5), $6, $7, $8)
       ON CONFLICT (equipment_id, from_at) DO NOTHING`,
      [
        input.stationId, input.equipmentId, input.newState.code, input.newState.e10, input.at,
        input.relatedFault?.code ?? null, input.relatedFault?.occurrenceId ?? null, input.messageId ?? null,
      ],
      'eq_state_insert',
    );
  }

  /** A fault occurred; completes a placeholder left by an earlier FaultCleared / FaultAcknowledged. */
  async function recordFaultOccurred(q: Queryable, f: FaultInput): Promise<void> {
    await q.query(
      `INSERT INTO faults (station_id, equipment_id, occurrence_id, code, severity, cause, description, lane, stage, kind, details, occurred_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (equipment_id, occurrence_id) DO UPDATE SET code = EXCLUDED.code, severity = EXCLUDED.severity, cause = EXCLUDED.cause,
         description = EXCLUDED.description, lane = EXCLUDED.lane, stage = EXCLUDED.stage, kind = EXCLUDED.kind, details = EXCLUDED.details,
         occurred_at = EXCLUDED.occurred_at
       WHERE faults.occurred_at IS NULL`,
      [
        f.stationId, f.equipmentId, f.occurrenceId, f.code, f.severity, f.cause, f.description, f.lane, f.stage, f.kind,
        f.details === null ? null : JSON.stringify(f.details), f.occurredAt,
      ],
      'eq_fault_occurred',
    );
  }

  /** A fault was cleared (or acknowledged). The first report of each wins; order of arrival does not matter. */
  async function recordFaultEnd(q: Queryable, input: MachineRef & { occurrenceId: string; what: 'cleared' | 'acknowledged'; at: Date; by: string | null }): Promise<void> {
    const col = input.what === 'cleared' ? 'cleared' : 'acknowledged';
    await q.query(
      `INSERT INTO faults (station_id, equipment_id, occurrence_id, ${col}_at, ${col}_by) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (equipment_id, occurrence_id) DO UPDATE SET ${col}_at = EXCLUDED.${col}_at, ${col}_by = EXCLUDED.${col}_by
       WHERE faults.${col}_at IS NULL`,
      [input.stationId, input.equipmentId, input.occurrenceId, input.at, input.by],
    );
  }

  /** Online / offline and last contact of a machine; a later-dated report never overwrites a newer one. */
  async function recordConnectivity(
    q: Queryable,
    input: { equipmentId: number; at: Date; online?: boolean; heartbeatMs?: number | null; requestUri?: string | null; requestAddress?: string | null },
  ): Promise<void> {
    await q.query(
      `INSERT INTO equipment_status AS s (equipment_id, online, changed_at, last_seen_at, heartbeat_ms, request_uri, request_address)
       VALUES ($1, COALESCE($2, true), $3, $3, $4, $5, $6)
       ON CONFLICT (equipment_id) DO UPDATE SET
         online = CASE WHEN $2::boolean IS NOT NULL AND $3 >= s.changed_at THEN $2 ELSE s.online END,
         changed_at = CASE WHEN $2::boolean IS NOT NULL AND $3 >= s.changed_at AND $2 <> s.online THEN $3 ELSE s.changed_at END,
         last_seen_at = GREATEST(s.last_seen_at, $3),
         heartbeat_ms = COALESCE($4, s.heartbeat_ms), request_uri = COALESCE($5, s.request_uri), request_address = COALESCE($6, s.request_address)`,
      [input.equipmentId, input.online ?? null, input.at, input.heartbeatMs == null ? null : Math.round(input.heartbeatMs), input.requestUri ?? null, input.requestAddress ?? null],
      'eq_connectivity',
    );
  }

  async function recordRecipe(q: Queryable, r: RecipeInput): Promise<void> {
    await q.query(
      `INSERT INTO equipment_recipes (station_id, equipment_id, recipe_name, revision, lane, activated_at, expected_cycle_s, units_per_transaction, work_order, message_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (equipment_id, activated_at, recipe_name) DO NOTHING`,
      [r.stationId, r.equipmentId, r.recipeName, r.revision, r.lane, r.activatedAt, r.expectedCycleSeconds && r.expectedCycleSeconds > 0 ? r.expectedCycleSeconds : null, r.unitsPerTransaction, r.workOrder, r.messageId],
    );
  }

  /** The recipe a machine reported last (at or before `at`, default now). */
  async function activeRecipe(equipmentId: number, at: Date = new Date(), q: Queryable = db): Promise<{ recipeName: string; revision: string | null; activatedAt: Date } | undefined> {
    return (
      await q.query<{ recipeName: string; revision: string | null; activatedAt: Date }>(
        `SELECT recipe_name AS "recipeName", revision, activated_at AS "activatedAt" FROM equipment_recipes
          WHERE equipment_id = $1 AND activated_at <= $2 ORDER BY activated_at DESC LIMIT 1`,
        [equipmentId, at],
        'eq_active_recipe',
      )
    ).rows[0];
  }

  /** Counts are idempotent per (message, kind): a replayed message does not count twice. */
  async function recordCounts(q: Queryable, rows: CountInput[]): Promise<void> {
    if (rows.length === 0) return;
    await q.query(
      `INSERT INTO production_counts (station_id, equipment_id, at, kind, units, recipe_name, message_id)
       SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[], $4::text[], $5::int[], $6::text[], $7::text[])
       ON CONFLICT DO NOTHING`,
      [rows.map((r) => r.stationId), rows.map((r) => r.equipmentId), rows.map((r) => r.at), rows.map((r) => r.kind), rows.map((r) => r.units), rows.map((r) => r.recipeName), rows.map((r) => r.messageId)],
      'eq_counts',
    );
  }

  async function recordReadings(q: Queryable, rows: ReadingInput[]): Promise<number> {
    if (rows.length === 0) return 0;
    const r = await q.query(
      `INSERT INTO readings (at, station_id, equipment_id, unit_identifier, name, value, text_value, unit, source, origin)
       SELECT * FROM unnest($1::timestamptz[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::float8[], $7::text[], $8::text[], $9::text[], $10::text[])`,
      [
        rows.map((r) => r.at), rows.map((r) => r.stationId), rows.map((r) => r.equipmentId), rows.map((r) => r.unitIdentifier), rows.map((r) => r.name.slice(0, 200)),
        rows.map((r) => r.value), rows.map((r) => r.textValue), rows.map((r) => r.unit), rows.map((r) => r.source), rows.map((r) => r.origin),
      ],
      'eq_readings',
    );
    if (opts.afterReadings) await opts.afterReadings(q, rows);
    return r.rowCount ?? 0;
  }

  async function recordMovements(q: Queryable, rows: MovementInput[]): Promise<void> {
    if (rows.length === 0) return;
    await q.query(
      `INSERT INTO unit_movements (at, station_id, equipment_id, kind, identifier, position, lane, message_id)
       SELECT * FROM unnest($1::timestamptz[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::int[], $7::int[], $8::text[])`,
      [rows.map((r) => r.at), rows.map((r) => r.stationId), rows.map((r) => r.equipmentId), rows.map((r) => r.kind), rows.map((r) => r.identifier), rows.map((r) => r.position), rows.map((r) => r.lane), rows.map((r) => r.messageId)],
      'eq_movements',
    );
  }

  // ── master data ─────────────────────────────────────────────────────────────────────────

  /** Sets the ideal cycle time of a station (optionally for one recipe), used when machines do not report it. */
  async function setIdealCycleTime(who: Principal, stationId: number, input: { recipeName?: string | null; seconds: number }): Promise<{ stationId: number; recipeName: string; seconds: number }> {
    if (!(input.seconds > 0)) throw validationFailed([{ field: '/body/seconds', code: 'range', message: 'must be greater than 0' }]);
    return db.tx(async (tx) => {
      await station(stationId, tx);
      const recipe = input.recipeName ?? '';
      const before = (await tx.query<{ seconds: number }>('SELECT seconds FROM ideal_cycle_times WHERE station_id = $1 AND recipe_name = $2', [stationId, recipe])).rows[0];
      await tx.query(
        `INSERT INTO ideal_cycle_times (station_id, recipe_name, seconds, updated_by) VALUES ($1, $2, $3, $4)
         ON CONFLICT (station_id, recipe_name) DO UPDATE SET seconds = EXCLUDED.seconds, updated_at = now(), updated_by = EXCLUDED.updated_by`,
        [stationId, recipe, input.seconds, who.name],
      );
      const after = { stationId, recipeName: recipe, seconds: input.seconds };
      await recordAudit(tx, who, { action: before ? 'update' : 'create', entity: 'ideal_cycle_time', entityId: `${stationId}:${recipe}`, before, after });
      return after;
    });
  }

  async function listIdealCycleTimes(stationId: number): Promise<{ recipeName: string; seconds: number; updatedAt: Date; updatedBy: string }[]> {
    return (
      await db.query<{ recipeName: string; seconds: number; updatedAt: Date; updatedBy: string }>(
        `SELECT recipe_name AS "recipeName", seconds, updated_at AS "updatedAt", updated_by AS "updatedBy" FROM ideal_cycle_times WHERE station_id = $1 ORDER BY recipe_name`,
        [stationId],
      )
    ).rows;
  }

  // ── reads ───────────────────────────────────────────────────────────────────────────────

  /** The state intervals of a station's machines overlapping [from, to), clipped to it. */
  async function timeline(stationId: number, input: { from?: Date | string; to?: Date | string } = {}): Promise<{ stationId: number; from: Date; to: Date; intervals: StateInterval[] }> {
    await station(stationId);
    const { from, to } = range(input);
    const r = await db.query<StateInterval>(
      `SELECT s.id, s.equipment_id AS "equipmentId", e.code AS "equipmentCode", s.state_code AS "stateCode", s.e10, s.from_at AS "from", s.to_at AS "to",
              ${secondsBetween('s.from_at, $2', 'COALESCE(s.to_at, now()), $3')}::float8 AS seconds, s.fault_code AS "faultCode", s.inferred
         FROM station_states s JOIN equipment e ON e.id = s.equipment_id
        WHERE s.station_id = $1 AND s.from_at < $3 AND (s.to_at IS NULL OR s.to_at > $2)
        ORDER BY s.equipment_id, s.from_at`,
      [stationId, from, to],
    );
    return { stationId, from, to, intervals: r.rows };
  }

  async function faults(stationId: number, input: { from?: Date | string; to?: Date | string; active?: boolean } = {}): Promise<FaultRecord[]> {
    await station(stationId);
    const { from, to } = range(input, 24 * 7);
    return (
      await db.query<FaultRecord>(
        `SELECT f.id, f.equipment_id AS "equipmentId", e.code AS "equipmentCode", f.occurrence_id AS "occurrenceId", f.code, f.severity, f.cause, f.description,
                f.occurred_at AS "occurredAt", f.cleared_at AS "clearedAt", f.cleared_by AS "clearedBy", f.acknowledged_at AS "acknowledgedAt",
                f.acknowledged_by AS "acknowledgedBy",
                CASE WHEN f.occurred_at IS NULL THEN NULL ELSE EXTRACT(EPOCH FROM (COALESCE(f.cleared_at, now()) - f.occurred_at))::float8 END AS seconds
           FROM faults f JOIN equipment e ON e.id = f.equipment_id
          WHERE f.station_id = $1 AND ($4::boolean IS NOT TRUE OR f.cleared_at IS NULL)
            AND (f.occurred_at IS NULL OR (f.occurred_at < $3 AND (f.cleared_at IS NULL OR f.cleared_at > $2)))
          ORDER BY f.occurred_at DESC NULLS FIRST, f.id DESC LIMIT 1000`,
        [stationId, from, to, input.active ?? null],
      )
    ).rows;
  }

  async function downtime(stationId: number, input: { from?: Date | string; to?: Date | string } = {}): Promise<Downtime> {
    await station(stationId);
    const { from, to } = range(input);
    const overlap = secondsBetween('s.from_at, $2', 'COALESCE(s.to_at, now()), $3');
    const where = `s.station_id = $1 AND s.from_at < $3 AND (s.to_at IS NULL OR s.to_at > $2)`;
    const byState = (
      await db.query<Downtime['byState'][number]>(
        `SELECT s.state_code AS "stateCode", s.e10, sum(${overlap})::float8 AS seconds, count(*)::int AS intervals
           FROM station_states s WHERE ${where} GROUP BY s.state_code, s.e10 ORDER BY s.state_code`,
        [stationId, from, to],
      )
    ).rows;
    const byE10 = E10_STATES.map((e10) => ({ e10, seconds: byState.filter((b) => b.e10 === e10).reduce((n, b) => n + b.seconds, 0) }));
    const byFaultCode = (
      await db.query<Downtime['byFaultCode'][number]>(
        `WITH down AS (
           SELECT COALESCE(s.fault_code, af.code, 'unattributed') AS code, ${overlap} AS secs
             FROM station_states s
             LEFT JOIN LATERAL (
               SELECT f.code FROM faults f WHERE f.equipment_id = s.equipment_id AND f.occurred_at <= s.from_at + interval '5 seconds'
                  AND (f.cleared_at IS NULL OR f.cleared_at > s.from_at) AND f.code IS NOT NULL ORDER BY f.occurred_at DESC LIMIT 1
             ) af ON s.fault_code IS NULL
            WHERE ${where} AND s.e10 IN ('UnscheduledDowntime', 'ScheduledDowntime')
         ), occ AS (
           SELECT COALESCE(f.code, 'unknown') AS code, count(*)::int AS n, sum(${secondsBetween('f.occurred_at, $2', 'COALESCE(f.cleared_at, now()), $3')}) AS secs
             FROM faults f WHERE f.station_id = $1 AND f.occurred_at < $3 AND (f.cleared_at IS NULL OR f.cleared_at > $2) GROUP BY 1
         )
         SELECT COALESCE(d.code, o.code) AS "faultCode", COALESCE(d.secs, 0)::float8 AS "downtimeSeconds", COALESCE(o.n, 0) AS occurrences, COALESCE(o.secs, 0)::float8 AS "faultSeconds"
           FROM (SELECT code, sum(secs) AS secs FROM down GROUP BY code) d FULL JOIN occ o ON o.code = d.code
          ORDER BY 2 DESC, 4 DESC`,
        [stationId, from, to],
      )
    ).rows;
    return { stationId, from, to, byState, byE10, byFaultCode };
  }

  /**
   * OEE per day or shift in the site's time zone. For each bucket, over the station's machines:
   * planned time = known state time − non-scheduled − scheduled downtime; run time = productive
   * time; availability = run / planned; performance = Σ(ideal cycle × count) / run, the ideal
   * cycle time of each count being the machine's RecipeActivated.ExpectedCycleTime active then,
   * else the station's master data for that recipe, else its default; quality = good / total,
   * with good = completed − disqualified. A ratio is null when its denominator is zero.
   */
  async function oee(
    stationId: number,
    input: { from?: Date | string; to?: Date | string; granularity?: 'day' | 'shift'; shiftStarts?: string[] } = {},
  ): Promise<{ stationId: number; timezone: string; granularity: 'day' | 'shift'; buckets: OeeBucket[]; total: OeeBucket }> {
    const st = await station(stationId);
    const { from, to } = range(input, 24 * 7);
    const granularity = input.granularity ?? 'day';
    const starts = granularity === 'day' ? ['00:00'] : (input.shiftStarts?.length ? input.shiftStarts : ['06:00', '14:00', '22:00']);
    const minutes = starts.map((s, i) => {
      const m = /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(s.trim());
      if (!m) throw validationFailed([{ field: `/querystring/shiftStarts/${i}`, code: 'format', message: 'expected HH:MM' }]);
      return Number(m[1]) * 60 + Number(m[2]);
    });
    if (new Set(minutes).size !== minutes.length || minutes.some((m, i) => i > 0 && m <= minutes[i - 1]!)) {
      throw validationFailed([{ field: '/querystring/shiftStarts', code: 'order', message: 'shift starts must be distinct and ascending' }]);
    }
    const names = granularity === 'day' ? [null] : starts.map((s, i) => `S${i + 1} ${s}`);
    const rows = (
      await db.query<{
        day: string; shift: string | null; from: Date; to: Date; known: number; planned: number; run: number; total: number; good: number; ideal: number;
      }>(
        `WITH b0 AS (
           SELECT d::date AS day, k, (d::date + make_interval(mins => ($5::int[])[k])) AT TIME ZONE $4::text AS b_from,
                  (CASE WHEN k < cardinality($5::int[]) THEN d::date + make_interval(mins => ($5::int[])[k + 1])
                        ELSE d::date + 1 + make_interval(mins => ($5::int[])[1]) END) AT TIME ZONE $4::text AS b_to
             FROM generate_series(($2::timestamptz AT TIME ZONE $4::text)::date - 1, ($3::timestamptz AT TIME ZONE $4::text)::date, interval '1 day') d,
                  generate_series(1, cardinality($5::int[])) k
         ), b AS (
           SELECT day, k, GREATEST(b_from, $2::timestamptz) AS f, LEAST(b_to, $3::timestamptz) AS t FROM b0 WHERE b_from < $3 AND b_to > $2
         ), st AS (
           SELECT b.day, b.k, s.e10, sum(${secondsBetween('s.from_at, b.f', 'COALESCE(s.to_at, now()), b.t')}) AS secs
             FROM b JOIN station_states s ON s.station_id = $1 AND s.from_at < b.t AND (s.to_at IS NULL OR s.to_at > b.f)
            GROUP BY 1, 2, 3
         ), c AS (
           SELECT b.day, b.k,
                  sum(pc.units) FILTER (WHERE pc.kind IN ('completed', 'failed')) AS total,
                  sum(pc.units) FILTER (WHERE pc.kind = 'completed') AS completed,
                  sum(pc.units) FILTER (WHERE pc.kind = 'disqualified') AS disq,
                  sum(pc.units * ic.secs) FILTER (WHERE pc.kind IN ('completed', 'failed')) AS ideal
             FROM b JOIN production_counts pc ON pc.station_id = $1 AND pc.at >= b.f AND pc.at < b.t
             LEFT JOIN LATERAL (
               SELECT COALESCE(
                 (SELECT r.expected_cycle_s FROM equipment_recipes r WHERE r.equipment_id = pc.equipment_id AND r.activated_at <= pc.at ORDER BY r.activated_at DESC LIMIT 1),
                 (SELECT i.seconds FROM ideal_cycle_times i WHERE i.station_id = $1 AND i.recipe_name = pc.recipe_name),
                 (SELECT i.seconds FROM ideal_cycle_times i WHERE i.station_id = $1 AND i.recipe_name = '')) AS secs
             ) ic ON true
            GROUP BY 1, 2
         )
         SELECT to_char(b.day, 'YYYY-MM-DD') AS day, ($6::text[])[b.k] AS shift, b.f AS "from", b.t AS "to",
                COALESCE((SELECT sum(secs) FROM st WHERE st.day = b.day AND st.k = b.k), 0)::float8 AS known,
                COALESCE((SELECT sum(secs) FROM st WHERE st.day = b.day AND st.k = b.k AND st.e10 NOT IN ('NonScheduled', 'ScheduledDowntime')), 0)::float8 AS planned,
                COALESCE((SELECT sum(secs) FROM st WHERE st.day = b.day AND st.k = b.k AND st.e10 = 'Productive'), 0)::float8 AS run,
                COALESCE(c.total, 0)::float8 AS total, GREATEST(COALESCE(c.completed, 0) - COALESCE(c.disq, 0), 0)::float8 AS good, COALESCE(c.ideal, 0)::float8 AS ideal
           FROM b LEFT JOIN c ON c.day = b.day AND c.k = b.k
          ORDER BY b.f`,
        [stationId, from, to, st.timezone, minutes, names],
      )
    ).rows;
    const bucket = (r: (typeof rows)[number]): OeeBucket => {
      const availability = r.planned > 0 ? r.run / r.planned : null;
      const performance = r.run > 0 && r.ideal > 0 ? r.ideal / r.run : null;
      const quality = r.total > 0 ? r.good / r.total : null;
      return {
        day: r.day, shift: r.shift, from: r.from, to: r.to, knownSeconds: r.known, plannedSeconds: r.planned, runSeconds: r.run, totalCount: r.total,
        goodCount: r.good, idealSeconds: r.ideal, availability, performance, quality,
        oee: availability !== null && performance !== null && quality !== null ? availability * performance * quality : null,
      };
    };
    const buckets = rows.map(bucket);
    const sum = (k: 'known' | 'planned' | 'run' | 'total' | 'good' | 'ideal') => rows.reduce((n, r) => n + r[k], 0);
    const total = bucket({ day: '', shift: null, from, to, known: sum('known'), planned: sum('planned'), run: sum('run'), total: sum('total'), good: sum('good'), ideal: sum('ideal') });
    return { stationId, timezone: st.timezone, granularity, buckets, total };
  }

  async function readings(
    stationId: number,
    input: { from?: Date | string; to?: Date | string; name?: string; unitIdentifier?: string; limit?: number } = {},
  ): Promise<ReadingRow[]> {
    await station(stationId);
    const { from, to } = range(input);
    const limit = Math.min(Math.max(input.limit ?? 1000, 1), 10_000);
    return (
      await db.query<ReadingRow>(
        `SELECT id, at, equipment_id AS "equipmentId", unit_identifier AS "unitIdentifier", name, value, text_value AS "textValue", unit, source
           FROM readings WHERE station_id = $1 AND at >= $2 AND at < $3 AND ($4::text IS NULL OR name = $4) AND ($5::text IS NULL OR unit_identifier = $5)
          ORDER BY at DESC, id DESC LIMIT $6`,
        [stationId, from, to, input.name ?? null, input.unitIdentifier ?? null, limit],
      )
    ).rows;
  }

  /** Connectivity and current state of every machine of a station. */
  async function status(stationId: number) {
    await station(stationId);
    return (
      await db.query<{
        equipmentId: number; equipmentCode: string; cfxHandle: string | null; online: boolean | null; lastSeenAt: Date | null; changedAt: Date | null;
        stateCode: number | null; e10: E10 | null; stateSince: Date | null; activeFaults: number; recipeName: string | null;
      }>(
        `SELECT e.id AS "equipmentId", e.code AS "equipmentCode", e.cfx_handle AS "cfxHandle", es.online, es.last_seen_at AS "lastSeenAt", es.changed_at AS "changedAt",
                cs.state_code AS "stateCode", cs.e10, cs.from_at AS "stateSince",
                (SELECT count(*) FROM faults f WHERE f.equipment_id = e.id AND f.cleared_at IS NULL AND f.occurred_at IS NOT NULL)::int AS "activeFaults",
                (SELECT r.recipe_name FROM equipment_recipes r WHERE r.equipment_id = e.id ORDER BY r.activated_at DESC LIMIT 1) AS "recipeName"
           FROM equipment e LEFT JOIN equipment_status es ON es.equipment_id = e.id
           LEFT JOIN station_states cs ON cs.equipment_id = e.id AND cs.to_at IS NULL
          WHERE e.station_id = $1 ORDER BY e.code`,
        [stationId],
      )
    ).rows;
  }

  return {
    recordStateChange, recordFaultOccurred, recordFaultEnd, recordConnectivity, recordRecipe, activeRecipe, recordCounts, recordReadings, recordMovements,
    setIdealCycleTime, listIdealCycleTimes, timeline, faults, downtime, oee, readings, status,
  };
}
export type EquipmentService = ReturnType<typeof createEquipmentService>;
