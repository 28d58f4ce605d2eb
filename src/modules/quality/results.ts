import type { Db, Queryable, Tx } from '../../platform/db.ts';
import { inTx } from '../../platform/db.ts';
import { AppError, notFound, validationFailed, type FieldError } from '../../platform/errors.ts';
import type { Principal } from '../../platform/principal.ts';
import { recordAudit } from '../audit/index.ts';
import type { StationSelector, TrackingService } from '../tracking/index.ts';
import { INSPECTION_METHODS, METHODS, RESULTS, type Method, type ResultValue, type Verification } from './reasons.ts';
import type { Rules, RuleResult } from './rules.ts';

/**
 * Inspection and test results per unit (or panel position): SPI, AOI, AXI, visual, FAI; ICT,
 * FCT, flying probe, boundary scan. One function, `recordResults`, takes a batch (a CFX
 * UnitsInspected / UnitsTested message maps to one batch, one element per unit) and writes the
 * results, their defects and measurements with one statement; the quality rules are then
 * evaluated on the batch in the same transaction.
 */

export interface DefectInput {
  /** Defect code (the catalogue's, or the machine's own). */
  code: string;
  /** Category; taken from the catalogue when omitted. */
  category?: string | null;
  /** Reference designator of the component, e.g. `U7`. */
  refdes?: string | null;
  partNumber?: string | null;
  /** Where the image is (URL or image-store key). */
  imageRef?: string | null;
  description?: string | null;
  /** The test that found it (tests). */
  test?: string | null;
  /** The machine's own verification (CFX VerificationResult), kept as sent. */
  machineVerification?: string | null;
}

export interface MeasurementInput {
  /** Measurement name: the test / net / parameter, e.g. `NET_3V3`, `Vol` (the rules key on it). */
  name: string;
  /** The test it belongs to, when the test has several. */
  test?: string | null;
  value?: number | null;
  unit?: string | null;
  lowerLimit?: number | null;
  upperLimit?: number | null;
  nominal?: number | null;
  /** Pass / fail as reported; derived from the limits when omitted. */
  passed?: boolean | null;
}

export interface ResultInput extends StationSelector {
  /** Unit serial, or a panel ID together with `position`. */
  unit: string;
  position?: number | null;
  method: Method;
  /** Route step the result belongs to, when known. */
  stepSeq?: number | null;
  programName?: string | null;
  programRevision?: string | null;
  operator?: string | null;
  result: ResultValue;
  /** Retest of the same unit at the same method; derived from earlier results when omitted. */
  retest?: boolean | null;
  retestCount?: number | null;
  fixture?: string | null;
  startedAt?: string | Date | null;
  completedAt?: string | Date | null;
  defects?: DefectInput[];
  measurements?: MeasurementInput[];
  /** Where the record came from, e.g. `cfx` with the message's UniqueID. */
  source?: string | null;
  sourceId?: string | null;
  notes?: string | null;
}

export interface RecordedResult { id: number; unitId: number; serial: string; workOrderId: number; method: Method; result: ResultValue }
export interface RecordOutcome { results: RecordedResult[]; alerts: { id: number; ruleCode: string; kind: string; key: string; message: string; actions: string[] }[] }

export interface Result {
  id: number; unitId: number; serial: string; workOrderId: number; panelId: number | null; panelPosition: number | null; kind: 'inspection' | 'test'; method: Method;
  stationId: number; stationCode: string; stationType: string; equipmentId: number | null; stepSeq: number | null; programName: string | null; programRevision: string | null;
  operator: string | null; result: ResultValue; verifiedResult: 'pass' | 'fail' | null; effectiveResult: ResultValue; retest: boolean; retestCount: number; fixture: string | null;
  defectCount: number; failedMeasurements: number; startedAt: Date | null; completedAt: Date; recordedAt: Date; actorName: string; source: string; sourceId: string | null;
  signatureId: number | null; notes: string | null;
}
export interface Defect {
  id: number; resultId: number; unitId: number; method: string; code: string; category: string | null; refdes: string | null; partNumber: string | null; imageRef: string | null;
  description: string | null; testName: string | null; machineVerification: string | null; verification: Verification; verifiedBy: string | null; verifiedAt: Date | null;
}
export interface Measurement {
  seq: number; testName: string | null; name: string; value: number | null; unit: string | null; lowerLimit: number | null; upperLimit: number | null; nominal: number | null; passed: boolean | null;
}

export const RESULT_SELECT = `r.id, r.unit_id AS "unitId", u.serial, r.work_order_id AS "workOrderId", r.panel_id AS "panelId", r.panel_position AS "panelPosition", r.kind, r.method,
  r.station_id AS "stationId", s.code AS "stationCode", r.station_type AS "stationType", r.equipment_id AS "equipmentId", r.step_seq AS "stepSeq", r.program_name AS "programName",
  r.program_revision AS "programRevision", r.operator, r.result, r.verified_result AS "verifiedResult", COALESCE(r.verified_result, r.result) AS "effectiveResult",
  r.retest, r.retest_count AS "retestCount", r.fixture, r.defect_count AS "defectCount", r.failed_measurements AS "failedMeasurements", r.started_at AS "startedAt",
  r.completed_at AS "completedAt", r.recorded_at AS "recordedAt", r.actor_name AS "actorName", r.source, r.source_id AS "sourceId", r.signature_id AS "signatureId", r.notes
  FROM quality_results r JOIN units u ON u.id = r.unit_id JOIN stations s ON s.id = r.station_id`;
const DEFECT_SELECT = `id, result_id AS "resultId", unit_id AS "unitId", method, code, category, refdes, part_number AS "partNumber", image_ref AS "imageRef", description,
  test_name AS "testName", machine_verification AS "machineVerification", verification, verified_by AS "verifiedBy", verified_at AS "verifiedAt" FROM quality_defects`;

/**
 * The whole batch in one statement (one round trip): the units are resolved (serial, or panel ID +
 * position) and, only if all are known, result ids are drawn from the sequence, so
 * defects and failed measurements (joined by input index) go in with them (measurements travel
 * inside the result row as JSON); the per-unit first / last
 * result index (quality_unit_methods, what the rules' "last M units" read) is upserted, rows in
 * key order so concurrent batches lock in the same order.
 */
export const INSERT_SQL = `WITH t AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS t(i int, ident text, pos int, kind text, method text,
      station_id bigint, station_type text, equipment_id bigint, step_seq int, program_name text, program_revision text, operator text, result text, retest boolean,
      retest_count int, fixture text, defect_count int, failed_measurements int, measurements jsonb, started_at timestamptz, completed_at timestamptz, source text,
      source_id text, notes text)
  ), tu AS (
    -- Index lookups per row (LATERAL): a join would let the planner scan all units for a big batch estimate.
    SELECT t.*, u.id AS unit_id, u.serial, u.work_order_id, u.panel_id, u.panel_position
      FROM t LEFT JOIN LATERAL (
        SELECT x.id, x.serial, x.work_order_id, x.panel_id, x.panel_position FROM units x WHERE x.serial = t.ident
        UNION ALL
        SELECT x.id, x.serial, x.work_order_id, x.panel_id, x.panel_position FROM panels p JOIN units x ON x.panel_id = p.id AND x.panel_position = t.pos
         WHERE t.pos IS NOT NULL AND p.code = t.ident
        LIMIT 1) u ON true
  ), r AS MATERIALIZED (
    -- Nothing is written unless every unit is known (the unknown ones are reported below).
    SELECT nextval('quality_results_id_seq'::regclass) AS id, tu.*,
           COALESCE(q.results, 0) + (row_number() OVER (PARTITION BY tu.unit_id, tu.method ORDER BY tu.i) - 1)::int AS prior
      FROM tu LEFT JOIN LATERAL (SELECT q.results FROM quality_unit_methods q WHERE q.work_order_id = tu.work_order_id AND q.method = tu.method AND q.unit_id = tu.unit_id LIMIT 1) q ON true
     WHERE NOT EXISTS (SELECT 1 FROM tu x WHERE x.unit_id IS NULL)
  ), ins AS (
    INSERT INTO quality_results (id, unit_id, work_order_id, panel_id, panel_position, kind, method, station_id, station_type, equipment_id, step_seq, program_name,
                                 program_revision, operator, result, retest, retest_count, fixture, defect_count, failed_measurements, measurements, started_at,
                                 completed_at, actor_name, source, source_id, notes)
    SELECT id, unit_id, work_order_id, panel_id, panel_position, kind, method, station_id, station_type, equipment_id, step_seq, program_name, program_revision, operator,
           result, COALESCE(retest, prior > 0), COALESCE(retest_count, prior), fixture, defect_count, failed_measurements, COALESCE(measurements, '[]'), started_at,
           COALESCE(completed_at, clock_timestamp()),
           $4, COALESCE(source, 'api'), source_id, notes
      FROM r
  ), d AS (
    INSERT INTO quality_defects (result_id, unit_id, work_order_id, method, code, category, refdes, part_number, image_ref, description, test_name, machine_verification)
    SELECT r.id, r.unit_id, r.work_order_id, r.method, x.code, x.category, x.refdes, x.part_number, x.image_ref, x.description, x.test_name, x.machine_verification
      FROM jsonb_to_recordset($2::jsonb) AS x(n int, i int, code text, category text, refdes text, part_number text, image_ref text, description text, test_name text, machine_verification text)
      JOIN r ON r.i = x.i ORDER BY x.n
  ), f AS (
    INSERT INTO quality_measurement_failures (result_id, unit_id, name)
    SELECT r.id, r.unit_id, x.name FROM jsonb_to_recordset($3::jsonb) AS x(i int, name text) JOIN r ON r.i = x.i
  ), um AS (
    INSERT INTO quality_unit_methods (work_order_id, method, unit_id, first_result_id, first_pass, last_result_id, results)
    SELECT r.work_order_id, v.method, r.unit_id, min(r.id), (array_agg(r.result = 'pass' ORDER BY r.id))[1], max(r.id), count(*)::int
      FROM r CROSS JOIN LATERAL (VALUES (r.method), ('*')) AS v(method)
     GROUP BY r.work_order_id, v.method, r.unit_id ORDER BY 1, 2, 3
    ON CONFLICT (work_order_id, method, unit_id) DO UPDATE
       SET last_result_id = GREATEST(quality_unit_methods.last_result_id, EXCLUDED.last_result_id), results = quality_unit_methods.results + EXCLUDED.results
  )
  SELECT r.i, r.id, (r.prior = 0) AS "first", r.unit_id AS "unitId", r.serial, r.work_order_id AS "workOrderId", w.basis_id AS "basisId", b.hash AS "basisHash",
         pv.product_id AS "productId"
    FROM r JOIN work_orders w ON w.id = r.work_order_id JOIN product_revisions pv ON pv.id = w.product_revision_id LEFT JOIN build_bases b ON b.id = w.basis_id
  UNION ALL
  SELECT tu.i, NULL, NULL, NULL, tu.ident, NULL, NULL, NULL, NULL FROM tu WHERE tu.unit_id IS NULL`;

function prepared(name: string, text: string, values: unknown[]): string {
  return { name, text, values } as unknown as string;
}

const isFiniteOrNull = (v: unknown) => v === undefined || v === null || (typeof v === 'number' && Number.isFinite(v));

/** Pass / fail of a measurement: as reported, else from its limits (inclusive), else unknown. */
export function measurementPassed(m: MeasurementInput): boolean | null {
  if (typeof m.passed === 'boolean') return m.passed;
  const lo = m.lowerLimit ?? null;
  const hi = m.upperLimit ?? null;
  if (m.value === null || m.value === undefined || (lo === null && hi === null)) return null;
  return (lo === null || m.value >= lo) && (hi === null || m.value <= hi);
}

export interface ResultsDeps {
  tracking: TrackingService;
  rules: Rules;
}

export function createResults(db: Db, deps: ResultsDeps) {
  // Defect-code catalogue: code → category, read once and kept until a catalogue change is notified.
  let categories: Map<string, string> | null = null;
  db.onChange('quality_defect_codes', () => {
    categories = null;
  });
  async function categoryMap(q: Queryable): Promise<Map<string, string>> {
    if (categories && db.changeFeedLive) return categories;
    const r = await q.query<{ code: string; category: string }>('SELECT code, category FROM quality_defect_codes', [], 'quality.defect_codes');
    const m = new Map(r.rows.map((x) => [x.code, x.category]));
    if (db.changeFeedLive) categories = m;
    return m;
  }
  const invalidateCatalogue = () => {
    categories = null;
  };

  function validate(inputs: readonly ResultInput[]): void {
    const errs: FieldError[] = [];
    inputs.forEach((x, i) => {
      const at = `/results/${i}`;
      if (typeof x.unit !== 'string' || x.unit.length === 0) errs.push({ field: `${at}/unit`, code: 'required', message: 'give the unit serial (or panel ID and position)' });
      if (!(METHODS as readonly string[]).includes(x.method)) errs.push({ field: `${at}/method`, code: 'enum', message: `must be one of ${METHODS.join(', ')}` });
      if (!(RESULTS as readonly string[]).includes(x.result)) errs.push({ field: `${at}/result`, code: 'enum', message: `must be one of ${RESULTS.join(', ')}` });
      (x.defects ?? []).forEach((d, j) => {
        if (typeof d.code !== 'string' || d.code.length === 0) errs.push({ field: `${at}/defects/${j}/code`, code: 'required', message: 'a defect needs a code' });
      });
      (x.measurements ?? []).forEach((m, j) => {
        if (typeof m.name !== 'string' || m.name.length === 0) errs.push({ field: `${at}/measurements/${j}/name`, code: 'required', message: 'a measurement needs a name' });
        for (const k of ['value', 'lowerLimit', 'upperLimit', 'nominal'] as const) {
          if (!isFiniteOrNull(m[k])) errs.push({ field: `${at}/measurements/${j}/${k}`, code: 'type', message: 'must be a finite number or null' });
        }
      });
    });
    if (errs.length) throw validationFailed(errs);
  }

  /**
   * Records a batch of results (one per unit), with defects and measurements, and evaluates the
   * quality rules on it, all in one transaction (the caller's, when given: a CFX handler passes
   * the message's). Unknown units refuse the whole batch. Returns the result ids and the alerts
   * the rules fired.
   */
  async function recordResults(who: Principal, inputs: readonly ResultInput[], q?: Queryable): Promise<RecordOutcome> {
    if (inputs.length === 0) return { results: [], alerts: [] };
    if (inputs.length > 5000) throw validationFailed([{ field: '/results', code: 'range', message: 'at most 5000 results per call' }]);
    validate(inputs);
    // Stations: few per batch, cached by tracking.
    const stations = new Map<string, Awaited<ReturnType<TrackingService['resolveStation']>>>();
    for (const x of inputs) {
      const key = `${x.stationId ?? ''}|${x.station ?? ''}|${x.equipment ?? ''}`;
      if (stations.has(key)) continue;
      const at = await deps.tracking.resolveStation(x);
      if (who.stationIds && !who.stationIds.includes(at.station.id)) {
        throw new AppError('STATION_NOT_PERMITTED', `${who.name} may not record results for station ${at.station.code}`, { details: { stationId: at.station.id } });
      }
      stations.set(key, at);
    }
    return inTx(db, q, async (tx) => {
      const cats = inputs.some((x) => x.defects?.some((d) => !d.category)) ? await categoryMap(tx) : null;

      const rows: unknown[] = [];
      const defects: unknown[] = [];
      const failures: unknown[] = [];
      const batch: RuleResult[] = [];
      inputs.forEach((x, k) => {
        const i = k + 1;
        const at = stations.get(`${x.stationId ?? ''}|${x.station ?? ''}|${x.equipment ?? ''}`)!;
        const ds = x.defects ?? [];
        const ms = x.measurements ?? [];
        let failed = 0;
        const failedNames: string[] = [];
        const readings: { name: string; value: number | null; unit: string | null }[] = [];
        const stored = ms.map((m, j) => {
          const passed = measurementPassed(m);
          if (passed === false) {
            failed++;
            failedNames.push(m.name);
            failures.push({ i, name: m.name });
          }
          readings.push({ name: m.name, value: m.value ?? null, unit: m.unit ?? null });
          return {
            seq: j + 1, test: m.test ?? null, name: m.name, value: m.value ?? null, unit: m.unit ?? null, lower: m.lowerLimit ?? null, upper: m.upperLimit ?? null,
            nominal: m.nominal ?? null, passed,
          };
        });
        for (const d of ds) {
          defects.push({
            n: defects.length, i, code: d.code, category: d.category ?? cats?.get(d.code) ?? null, refdes: d.refdes ?? null, part_number: d.partNumber ?? null, image_ref: d.imageRef ?? null,
            description: d.description ?? null, test_name: d.test ?? null, machine_verification: d.machineVerification ?? null,
          });
        }
        rows.push({
          i, ident: x.unit, pos: x.position ?? null,
          kind: (INSPECTION_METHODS as readonly string[]).includes(x.method) ? 'inspection' : x.method === 'other' ? 'inspection' : 'test', method: x.method,
          station_id: at.station.id, station_type: at.station.type, equipment_id: at.equipment?.id ?? null, step_seq: x.stepSeq ?? null, program_name: x.programName ?? null,
          program_revision: x.programRevision ?? null, operator: x.operator ?? (who.kind === 'user' ? who.name : null), result: x.result, retest: x.retest ?? null,
          retest_count: x.retestCount ?? null, fixture: x.fixture ?? null, defect_count: ds.length, failed_measurements: failed, measurements: stored, started_at: x.startedAt ?? null,
          completed_at: x.completedAt ?? null, source: x.source ?? null, source_id: x.sourceId ?? null, notes: x.notes ?? null,
        });
        batch.push({
          id: 0, unitId: 0, serial: x.unit, workOrderId: 0, productId: 0, basisId: null, basisHash: null, method: x.method,
          stationId: at.station.id, stationCode: at.station.code, stationType: at.station.type, programName: x.programName ?? null, result: x.result, first: false,
          defects: ds.map((d) => ({ code: d.code, refdes: d.refdes ?? null })), failedNames, readings,
        });
      });
      const ins = await tx.query<{ i: number; id: number | null; first: boolean; unitId: number; serial: string; workOrderId: number; basisId: number | null; basisHash: string | null; productId: number }>(
        prepared('quality.insert_results', INSERT_SQL, [JSON.stringify(rows), JSON.stringify(defects), JSON.stringify(failures), who.name]),
      );
      const unknown = ins.rows.filter((r) => r.id === null).sort((a, b) => a.i - b.i).map((r) => {
        const x = inputs[r.i - 1]!;
        return { field: `/results/${r.i - 1}/unit`, code: 'unknown_unit', message: `no unit ${x.unit}${x.position != null ? ` position ${x.position}` : ''}` };
      });
      if (unknown.length) throw new AppError('REFERENCE_NOT_FOUND', `Unknown unit(s): ${unknown.slice(0, 10).map((u) => u.message.slice(8)).join(', ')}`, { errors: unknown });
      for (const r of ins.rows) Object.assign(batch[r.i - 1]!, { id: r.id, first: r.first, unitId: r.unitId, serial: r.serial, workOrderId: r.workOrderId, basisId: r.basisId, basisHash: r.basisHash, productId: r.productId });
      const alerts = await deps.rules.evaluate(tx, who, batch);
      return {
        results: batch.map((b) => ({ id: b.id, unitId: b.unitId, serial: b.serial, workOrderId: b.workOrderId, method: b.method, result: b.result })),
        alerts,
      };
    });
  }

  /** One result with its defects and measurements. */
  async function getResult(id: number, q: Queryable = db): Promise<Result & { defects: Defect[]; measurements: Measurement[] }> {
    const r = (await q.query<Result>(`SELECT ${RESULT_SELECT} WHERE r.id = $1`, [id])).rows[0];
    if (!r) throw notFound('result', id);
    const defects = (await q.query<Defect>(`SELECT ${DEFECT_SELECT} WHERE result_id = $1 ORDER BY id`, [id])).rows;
    const measurements = (
      await q.query<Measurement>(
        `SELECT m.seq, m.test AS "testName", m.name, m.value, m.unit, m.lower AS "lowerLimit", m.upper AS "upperLimit", m.nominal, m.passed
           FROM quality_results r CROSS JOIN LATERAL jsonb_to_recordset(r.measurements)
             AS m(seq int, test text, name text, value float8, unit text, lower float8, upper float8, nominal float8, passed boolean)
          WHERE r.id = $1 ORDER BY m.seq`,
        [id],
      )
    ).rows;
    return { ...r, defects, measurements };
  }

  async function listResults(f: { serial?: string; workOrderId?: number; stationId?: number; method?: string; result?: string; afterId?: number; limit?: number }): Promise<Result[]> {
    return (
      await db.query<Result>(
        `SELECT ${RESULT_SELECT} WHERE ($1::text IS NULL OR u.serial = $1) AND ($2::bigint IS NULL OR r.work_order_id = $2) AND ($3::bigint IS NULL OR r.station_id = $3)
           AND ($4::text IS NULL OR r.method = $4) AND ($5::text IS NULL OR COALESCE(r.verified_result, r.result) = $5) AND ($6::bigint IS NULL OR r.id < $6)
         ORDER BY r.id DESC LIMIT $7`,
        [f.serial ?? null, f.workOrderId ?? null, f.stationId ?? null, f.method ?? null, f.result ?? null, f.afterId ?? null, Math.min(f.limit ?? 100, 1000)],
      )
    ).rows;
  }

  /**
   * Defects with the unit serial, station and time of their result (what a review queue shows),
   * newest first, or oldest first with `order: 'oldest'` (the queue of calls to verify).
   */
  async function listDefects(f: {
    serial?: string; workOrderId?: number; code?: string; refdes?: string; verification?: Verification; stationId?: number; order?: 'newest' | 'oldest'; limit?: number;
  }): Promise<(Defect & { serial: string; stationId: number; stationCode: string; completedAt: Date })[]> {
    return (
      await db.query<Defect & { serial: string; stationId: number; stationCode: string; completedAt: Date }>(
        `SELECT d.id, d.result_id AS "resultId", d.unit_id AS "unitId", d.method, d.code, d.category, d.refdes, d.part_number AS "partNumber", d.image_ref AS "imageRef",
                d.description, d.test_name AS "testName", d.machine_verification AS "machineVerification", d.verification, d.verified_by AS "verifiedBy",
                d.verified_at AS "verifiedAt", u.serial, r.station_id AS "stationId", s.code AS "stationCode", r.completed_at AS "completedAt"
           FROM quality_defects d JOIN quality_results r ON r.id = d.result_id JOIN units u ON u.id = d.unit_id JOIN stations s ON s.id = r.station_id
          WHERE ($1::text IS NULL OR d.unit_id = (SELECT id FROM units WHERE serial = $1))
           AND ($2::bigint IS NULL OR d.work_order_id = $2) AND ($3::text IS NULL OR d.code = $3) AND ($4::text IS NULL OR d.refdes = $4)
           AND ($5::text IS NULL OR d.verification = $5) AND ($7::bigint IS NULL OR r.station_id = $7)
          ORDER BY d.id ${f.order === 'oldest' ? 'ASC' : 'DESC'} LIMIT $6`,
        [f.serial ?? null, f.workOrderId ?? null, f.code ?? null, f.refdes ?? null, f.verification ?? null, Math.min(f.limit ?? 200, 2000), f.stationId ?? null],
      )
    ).rows;
  }

  /**
   * An operator's verdict on machine calls: confirmed defect or false call. A failed result whose
   * every call is a false call counts as passed (verified result); a confirmed call keeps it
   * failed. False calls are kept and counted (`falseCallStats`) for tuning the machine program.
   */
  async function verifyDefects(who: Principal, items: { defectId: number; verdict: 'confirmed' | 'false_call' | 'accepted' }[], q?: Queryable): Promise<Defect[]> {
    if (items.length === 0) throw validationFailed([{ field: '/items', code: 'required', message: 'give at least one defect verdict' }]);
    return inTx(db, q, async (tx: Tx) => {
      const ids = items.map((x) => x.defectId);
      const before = (await tx.query<Defect>(`SELECT ${DEFECT_SELECT} WHERE id = ANY($1) ORDER BY id FOR UPDATE`, [ids])).rows;
      const missing = ids.filter((id) => !before.some((d) => d.id === id));
      if (missing.length) throw new AppError('REFERENCE_NOT_FOUND', `Unknown defect(s): ${missing.join(', ')}`, { errors: missing.map((id) => ({ field: '/items', code: 'unknown_defect', message: `defect ${id} does not exist` })) });
      const repaired = before.filter((d) => d.verification === 'repaired');
      if (repaired.length) throw new AppError('STATE_CONFLICT', `Defect(s) ${repaired.map((d) => d.id).join(', ')} were repaired already; their verdict stands`);
      await tx.query(
        `UPDATE quality_defects d SET verification = x.verdict, verified_by = $2, verified_at = clock_timestamp()
           FROM jsonb_to_recordset($1::jsonb) AS x(id bigint, verdict text) WHERE d.id = x.id`,
        [JSON.stringify(items.map((x) => ({ id: x.defectId, verdict: x.verdict }))), who.name],
      );
      // The verified result of each affected failed result.
      await tx.query(
        `UPDATE quality_results r SET verified_result = v.res
           FROM (SELECT d.result_id, CASE WHEN bool_and(d.verification = 'false_call') THEN 'pass'
                                          WHEN bool_or(d.verification IN ('confirmed','repaired')) THEN 'fail' END AS res
                   FROM quality_defects d WHERE d.result_id IN (SELECT result_id FROM quality_defects WHERE id = ANY($1)) GROUP BY d.result_id) v
          WHERE r.id = v.result_id AND r.result = 'fail' AND r.failed_measurements = 0`,
        [ids],
      );
      const after = (await tx.query<Defect>(`SELECT ${DEFECT_SELECT} WHERE id = ANY($1) ORDER BY id`, [ids])).rows;
      await recordAudit(tx, who, {
        action: 'verify_calls', entity: 'quality_result', entityId: before[0]!.resultId,
        before: before.map((d) => ({ id: d.id, verification: d.verification })), after: after.map((d) => ({ id: d.id, verification: d.verification })),
      });
      return after;
    });
  }

  /**
   * Machine calls and how they were verified, per station, program, method and defect code: the
   * false-call rate an AOI programmer tunes against.
   */
  async function falseCallStats(f: { workOrderId?: number; stationId?: number; method?: string; since?: string | Date; until?: string | Date }) {
    return (
      await db.query<{ stationId: number; stationCode: string; method: string; programName: string | null; programRevision: string | null; code: string; calls: number; confirmed: number; falseCalls: number; unverified: number; falseCallRate: number | null }>(
        `SELECT r.station_id AS "stationId", s.code AS "stationCode", r.method, r.program_name AS "programName", r.program_revision AS "programRevision", d.code,
                count(*)::int AS calls, count(*) FILTER (WHERE d.verification IN ('confirmed','repaired'))::int AS confirmed,
                count(*) FILTER (WHERE d.verification = 'false_call')::int AS "falseCalls", count(*) FILTER (WHERE d.verification = 'not_verified')::int AS unverified,
                round(count(*) FILTER (WHERE d.verification = 'false_call')::numeric / NULLIF(count(*) FILTER (WHERE d.verification <> 'not_verified'), 0), 4)::float8 AS "falseCallRate"
           FROM quality_defects d JOIN quality_results r ON r.id = d.result_id JOIN stations s ON s.id = r.station_id
          WHERE ($1::bigint IS NULL OR d.work_order_id = $1) AND ($2::bigint IS NULL OR r.station_id = $2) AND ($3::text IS NULL OR r.method = $3)
            AND ($4::timestamptz IS NULL OR r.completed_at >= $4) AND ($5::timestamptz IS NULL OR r.completed_at < $5)
          GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY calls DESC, 1, 6`,
        [f.workOrderId ?? null, f.stationId ?? null, f.method ?? null, f.since ?? null, f.until ?? null],
      )
    ).rows;
  }

  return { recordResults, recordResult: (who: Principal, input: ResultInput, q?: Queryable) => recordResults(who, [input], q), getResult, listResults, listDefects, verifyDefects, falseCallStats, invalidateCatalogue };
}
export type Results = ReturnType<typeof createResults>;
