import type { Db, Queryable, Tx } from '../../platform/db.ts';
import { inTx } from '../../platform/db.ts';
import { AppError, notFound, validationFailed, type FieldError } from '../../platform/errors.ts';
import type { Principal } from '../../platform/principal.ts';
import { systemPrincipal } from '../../platform/principal.ts';
import { recordAudit } from '../audit/index.ts';
import type { WorkOrdersService } from '../work-orders/index.ts';
import { METHODS, type Method, type ResultValue } from './reasons.ts';

/**
 * Closed-loop quality rules, evaluated on every batch of results as it is recorded, in the same
 * transaction. Four kinds:
 *
 * - `defect_repeat` {count N, window M}: N or more of the last M units of a work order (at the
 *   rule's method, or any) carry a defect with the same code at the same reference designator
 *   (calls verified as false calls do not count);
 * - `fpy_below` {percent X, window M}: of the last M units that entered the method's step, less
 *   than X % passed at their first result (fires only once M units are there);
 * - `test_repeat` {units K, window M}: the same failed test / net (failed measurement name) on K
 *   or more of the last M units;
 * - `parameter_out_of_range` {}: a measurement whose name has an approved range in the build
 *   basis (the step's programs' parameterRanges) lies outside it (limits inclusive);
 * - `reading_out_of_limits` {min, max, consecutive N | count N + windowSeconds W}: an equipment
 *   reading (oven zone temperature, dry-cabinet humidity, … from CFX or MQTT) of one name at one
 *   station (optionally one piece of equipment) lies outside [min, max] (limits inclusive) —
 *   once, on the last N readings in a row, or N times within W seconds. Evaluated when readings
 *   are stored (`evaluateReadings`, handed to the equipment module at wiring), in their
 *   transaction; the work order is the one the station's line runs.
 *
 * A firing stores an alert with its evidence (one open alert per rule, work order and key: a
 * pattern that persists does not flood) and performs the rule's actions: alert, hold the work
 * order, hold the station, require a new first article.
 */

export const RULE_KINDS = ['defect_repeat', 'fpy_below', 'test_repeat', 'parameter_out_of_range', 'reading_out_of_limits'] as const;
export type RuleKind = (typeof RULE_KINDS)[number];
export const RULE_ACTIONS = ['alert', 'hold_work_order', 'hold_station', 'require_first_article'] as const;
export type RuleAction = (typeof RULE_ACTIONS)[number];

export interface RuleParams {
  count?: number; window?: number; percent?: number; units?: number;
  /** reading_out_of_limits: the limits (inclusive; at least one), and optionally N in a row or N within windowSeconds. */
  min?: number; max?: number; consecutive?: number; windowSeconds?: number;
}
export interface QualityRule {
  id: number; code: string; name: string; kind: RuleKind; active: boolean; productId: number | null; method: Method | null; params: RuleParams; actions: RuleAction[];
  /** reading_out_of_limits: the station (and optionally equipment) and the reading name watched. */
  stationId: number | null; equipmentId: number | null; readingName: string | null;
  createdAt: Date; createdBy: string; updatedAt: Date;
}
export interface RuleInput {
  code: string; name: string; kind: RuleKind; active?: boolean; productId?: number | null; method?: Method | null; params?: RuleParams; actions?: RuleAction[];
  stationId?: number | null; equipmentId?: number | null; readingName?: string | null;
}

/** A stored equipment reading as the reading rules see it (the equipment module's ReadingInput fits). */
export interface ReadingForRules { at: Date; stationId: number; equipmentId: number | null; name: string; value: number | null; unit: string | null }

export interface Alert {
  id: number; ruleId: number; ruleCode: string; kind: RuleKind; workOrderId: number | null; workOrderNumber: string | null; stationId: number | null; key: string; message: string;
  evidence: Record<string, unknown>; actionsTaken: unknown[]; state: 'open' | 'acknowledged' | 'closed'; firedAt: Date; acknowledgedAt: Date | null; acknowledgedBy: string | null; note: string | null;
}

/** One recorded result as the rules see it. */
export interface RuleResult {
  id: number; unitId: number; serial: string; workOrderId: number; productId: number; basisId: number | null; basisHash: string | null; method: Method;
  stationId: number; stationCode: string; stationType: string; programName: string | null; result: ResultValue; first: boolean;
  defects: { code: string; refdes: string | null }[]; failedNames: string[]; readings: { name: string; value: number | null; unit: string | null }[];
}

/** What the rules may do besides storing the alert (provided by the holds and first-article parts). */
export interface RuleActions {
  holdWorkOrder(tx: Tx, who: Principal, workOrderId: number, reason: string, alertId: number, ruleCode: string): Promise<string | null>;
  holdStation(tx: Tx, who: Principal, stationId: number, reason: string, alertId: number, ruleCode: string): Promise<string | null>;
  requireFirstArticle(tx: Tx, who: Principal, workOrderId: number, reason: string, source: string): Promise<number[]>;
}

const RULE_COLS = `id, code, name, kind, active, product_id AS "productId", method, params, actions, station_id AS "stationId", equipment_id AS "equipmentId",
  reading_name AS "readingName", created_at AS "createdAt", created_by AS "createdBy", updated_at AS "updatedAt"`;
const ALERT_SELECT = `a.id, a.rule_id AS "ruleId", r.code AS "ruleCode", a.kind, a.work_order_id AS "workOrderId", w.number AS "workOrderNumber", a.station_id AS "stationId", a.key,
  a.message, a.evidence, a.actions_taken AS "actionsTaken", a.state, a.fired_at AS "firedAt", a.acknowledged_at AS "acknowledgedAt", a.acknowledged_by AS "acknowledgedBy", a.note
  FROM quality_alerts a JOIN quality_rules r ON r.id = a.rule_id LEFT JOIN work_orders w ON w.id = a.work_order_id`;

// LATERAL subqueries end in LIMIT / OFFSET 0 so that PostgreSQL keeps them as per-row index lookups
// instead of flattening them into a join that may scan a whole table.
const LAST_UNITS = `lu AS MATERIALIZED (SELECT p.rule_id, p.wo, p.method, q.unit_id FROM p CROSS JOIN LATERAL (
    SELECT unit_id FROM quality_unit_methods WHERE work_order_id = p.wo AND method = COALESCE(p.method, '*') ORDER BY last_result_id DESC LIMIT p.m) q)`;

// Unit ids are aggregated, not joined to units: the serials of the evidence are read only when a rule fires.
// The steps are materialized in order (last units → their defects → matching keys): the planner
// cannot size the JSON inputs and must not re-run the per-unit lookups for every key.
export const DEFECT_REPEAT_SQL = `WITH p AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS p(rule_id bigint, wo bigint, method text, n int, m int, keys jsonb)),
  ${LAST_UNITS},
  ld AS MATERIALIZED (
    SELECT lu.rule_id, lu.wo, d.id, d.unit_id, d.code, d.refdes FROM lu CROSS JOIN LATERAL (
      SELECT d.id, d.unit_id, d.code, d.refdes FROM quality_defects d
       WHERE d.unit_id = lu.unit_id AND (lu.method IS NULL OR d.method = lu.method) AND d.verification <> 'false_call' AND d.refdes IS NOT NULL OFFSET 0) d),
  k AS MATERIALIZED (SELECT p.rule_id, p.wo, p.n, x.code, x.refdes FROM p CROSS JOIN LATERAL jsonb_to_recordset(p.keys) AS x(code text, refdes text))
  SELECT k.rule_id AS "ruleId", k.wo AS "workOrderId", k.code, k.refdes, count(DISTINCT ld.unit_id)::int AS units, array_agg(DISTINCT ld.unit_id) AS "unitIds",
         array_agg(ld.id ORDER BY ld.id) AS "defectIds"
    FROM ld JOIN k ON k.rule_id = ld.rule_id AND k.wo = ld.wo AND k.code = ld.code AND k.refdes = ld.refdes
   GROUP BY k.rule_id, k.wo, k.code, k.refdes, k.n HAVING count(DISTINCT ld.unit_id) >= k.n`;

export const TEST_REPEAT_SQL = `WITH p AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS p(rule_id bigint, wo bigint, method text, n int, m int, keys jsonb)),
  ${LAST_UNITS},
  lf AS MATERIALIZED (
    SELECT lu.rule_id, lu.wo, m.unit_id, m.name FROM lu CROSS JOIN LATERAL (
      SELECT m.unit_id, m.name FROM quality_measurement_failures m
       WHERE m.unit_id = lu.unit_id AND (lu.method IS NULL OR EXISTS (SELECT 1 FROM quality_results r WHERE r.id = m.result_id AND r.method = lu.method)) OFFSET 0) m),
  k AS MATERIALIZED (SELECT p.rule_id, p.wo, p.n, x.name FROM p CROSS JOIN LATERAL jsonb_array_elements_text(p.keys) AS x(name))
  SELECT k.rule_id AS "ruleId", k.wo AS "workOrderId", k.name, count(DISTINCT lf.unit_id)::int AS units, array_agg(DISTINCT lf.unit_id) AS "unitIds"
    FROM lf JOIN k ON k.rule_id = lf.rule_id AND k.wo = lf.wo AND k.name = lf.name
   GROUP BY k.rule_id, k.wo, k.name, k.n HAVING count(DISTINCT lf.unit_id) >= k.n`;

const FPY_SQL = `WITH p AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS p(rule_id bigint, wo bigint, method text, m int))
  SELECT p.rule_id AS "ruleId", p.wo AS "workOrderId", count(*)::int AS units, count(*) FILTER (WHERE q.first_pass)::int AS passed,
         COALESCE(array_agg(q.unit_id) FILTER (WHERE NOT q.first_pass), '{}') AS "failedIds"
    FROM p CROSS JOIN LATERAL (SELECT unit_id, first_pass FROM quality_unit_methods WHERE work_order_id = p.wo AND method = p.method ORDER BY first_result_id DESC LIMIT p.m) q
   GROUP BY p.rule_id, p.wo`;

const INSERT_ALERTS_SQL = `INSERT INTO quality_alerts (rule_id, kind, work_order_id, station_id, key, message, evidence)
  SELECT rule_id, kind, work_order_id, station_id, key, message, evidence
    FROM jsonb_to_recordset($1::jsonb) AS x(rule_id bigint, kind text, work_order_id bigint, station_id bigint, key text, message text, evidence jsonb)
  ON CONFLICT (rule_id, work_order_id, key) WHERE state <> 'closed' DO NOTHING
  RETURNING id, rule_id AS "ruleId", work_order_id AS "workOrderId", key`;

/** The middle of a rule's limits (or its only limit): the reading farthest from it is quoted. */
const mid = (r: QualityRule) => (r.params.min != null && r.params.max != null ? (r.params.min + r.params.max) / 2 : (r.params.min ?? r.params.max ?? 0));

export interface FiredAlert { id: number; ruleCode: string; kind: string; key: string; message: string; actions: string[] }

function prepared(name: string, text: string, values: unknown[]): string {
  return { name, text, values } as unknown as string;
}

interface Firing { rule: QualityRule; workOrderId: number | null; stationId: number | null; key: string; message: string; evidence: Record<string, unknown> }

export function validateRule(input: Partial<RuleInput>, partial = false): FieldError[] {
  const errs: FieldError[] = [];
  const int = (v: unknown, min: number, max: number) => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
  if (!partial || input.kind !== undefined) {
    if (!RULE_KINDS.includes(input.kind as RuleKind)) errs.push({ field: '/kind', code: 'enum', message: `must be one of ${RULE_KINDS.join(', ')}` });
  }
  if (input.method != null && !(METHODS as readonly string[]).includes(input.method)) errs.push({ field: '/method', code: 'enum', message: `must be one of ${METHODS.join(', ')}` });
  for (const a of input.actions ?? []) if (!RULE_ACTIONS.includes(a)) errs.push({ field: '/actions', code: 'enum', message: `${a} is not one of ${RULE_ACTIONS.join(', ')}` });
  const p = input.params ?? {};
  switch (input.kind) {
    case 'defect_repeat':
      if (!int(p.count, 1, 10_000)) errs.push({ field: '/params/count', code: 'range', message: 'count N: a whole number 1–10000' });
      if (!int(p.window, 1, 100_000)) errs.push({ field: '/params/window', code: 'range', message: 'window M (units): a whole number 1–100000' });
      break;
    case 'fpy_below':
      if (typeof p.percent !== 'number' || !(p.percent > 0 && p.percent <= 100)) errs.push({ field: '/params/percent', code: 'range', message: 'percent X: above 0, at most 100' });
      if (!int(p.window, 1, 100_000)) errs.push({ field: '/params/window', code: 'range', message: 'window M (units): a whole number 1–100000' });
      if (!input.method) errs.push({ field: '/method', code: 'required', message: 'fpy_below needs the method (step) it watches' });
      break;
    case 'test_repeat':
      if (!int(p.units, 1, 10_000)) errs.push({ field: '/params/units', code: 'range', message: 'units K: a whole number 1–10000' });
      if (!int(p.window, 1, 100_000)) errs.push({ field: '/params/window', code: 'range', message: 'window M (units): a whole number 1–100000' });
      break;
    case 'reading_out_of_limits': {
      const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
      if (input.stationId == null) errs.push({ field: '/stationId', code: 'required', message: 'reading_out_of_limits needs the station whose readings it watches' });
      if (typeof input.readingName !== 'string' || input.readingName.trim() === '' || input.readingName.length > 200) {
        errs.push({ field: '/readingName', code: 'required', message: 'reading_out_of_limits needs the reading name (1–200 characters), e.g. zone3.temp' });
      }
      if (p.min != null && !num(p.min)) errs.push({ field: '/params/min', code: 'type', message: 'min: a number' });
      if (p.max != null && !num(p.max)) errs.push({ field: '/params/max', code: 'type', message: 'max: a number' });
      if (p.min == null && p.max == null) errs.push({ field: '/params/min', code: 'required', message: 'give min, max or both (the limits are inclusive)' });
      if (num(p.min) && num(p.max) && p.min! > p.max!) errs.push({ field: '/params/max', code: 'range', message: 'max must not be below min' });
      if (p.consecutive != null && !int(p.consecutive, 1, 1000)) errs.push({ field: '/params/consecutive', code: 'range', message: 'consecutive N: a whole number 1–1000' });
      if (p.windowSeconds != null || p.count != null) {
        if (p.consecutive != null) errs.push({ field: '/params/consecutive', code: 'conflict', message: 'give either consecutive N or count N within windowSeconds, not both' });
        if (!int(p.count, 1, 10_000)) errs.push({ field: '/params/count', code: 'range', message: 'count N (readings outside the limits within the window): a whole number 1–10000' });
        if (!int(p.windowSeconds, 1, 7 * 86400)) errs.push({ field: '/params/windowSeconds', code: 'range', message: 'windowSeconds: a whole number 1–604800' });
      }
      if (input.method != null) errs.push({ field: '/method', code: 'invalid', message: 'a reading rule watches equipment readings, not results of a method' });
      break;
    }
    default:
      break;
  }
  if (input.kind !== 'reading_out_of_limits' && (input.stationId != null || input.equipmentId != null || input.readingName != null)) {
    errs.push({ field: '/stationId', code: 'invalid', message: 'stationId, equipmentId and readingName belong to reading_out_of_limits rules' });
  }
  return errs;
}

export function createRules(db: Db, deps: { workOrders: WorkOrdersService; actions: () => RuleActions }) {
  let cache: QualityRule[] | null = null;
  db.onChange('quality_rules', () => {
    cache = null;
  });
  // Alerts known not to be closed (rule:work order:key). Emptied when any alert changes state
  // (in any instance: NOTIFY) and not used while the change feed is down.
  const openAlerts = new Set<string>();
  db.onChange('quality_alerts', () => openAlerts.clear());
  const isOpen = (ruleId: number, wo: number | null, key: string) => db.changeFeedLive && openAlerts.has(`${ruleId}:${wo}:${key}`);
  async function activeRules(q: Queryable): Promise<QualityRule[]> {
    if (cache && db.changeFeedLive) return cache;
    const rows = (await q.query<QualityRule>(`SELECT ${RULE_COLS} FROM quality_rules WHERE active ORDER BY id`, [], 'quality.active_rules')).rows;
    if (db.changeFeedLive) cache = rows;
    return rows;
  }

  /** A reading rule's equipment must stand at its station (unknown ids are refused by the foreign keys). */
  async function checkEquipment(tx: Tx, r: Partial<RuleInput>) {
    if (r.equipmentId == null || r.stationId == null) return;
    const e = (await tx.query<{ stationId: number | null }>('SELECT station_id AS "stationId" FROM equipment WHERE id = $1', [r.equipmentId])).rows[0];
    if (e && e.stationId !== null && Number(e.stationId) !== Number(r.stationId)) {
      throw validationFailed([{ field: '/equipmentId', code: 'invalid', message: `equipment ${r.equipmentId} stands at another station than ${r.stationId}` }]);
    }
  }

  async function getRule(id: number, q: Queryable = db): Promise<QualityRule> {
    const r = (await q.query<QualityRule>(`SELECT ${RULE_COLS} FROM quality_rules WHERE id = $1`, [id])).rows[0];
    if (!r) throw notFound('quality rule', id);
    return r;
  }

  async function listRules(): Promise<QualityRule[]> {
    return (await db.query<QualityRule>(`SELECT ${RULE_COLS} FROM quality_rules ORDER BY code`)).rows;
  }

  async function createRule(who: Principal, input: RuleInput, q?: Queryable): Promise<QualityRule> {
    const errs = validateRule(input);
    if (errs.length) throw validationFailed(errs);
    return inTx(db, q, async (tx) => {
      const r = await tx.query<{ id: number }>(
        `INSERT INTO quality_rules (code, name, kind, active, product_id, method, params, actions, created_by, station_id, equipment_id, reading_name)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
        [
          input.code, input.name, input.kind, input.active ?? true, input.productId ?? null, input.method ?? null, JSON.stringify(input.params ?? {}), input.actions ?? ['alert'], who.name,
          input.stationId ?? null, input.equipmentId ?? null, input.readingName?.trim() ?? null,
        ],
      );
      await checkEquipment(tx, input);
      cache = null;
      const rule = await getRule(r.rows[0]!.id, tx);
      await recordAudit(tx, who, { action: 'create', entity: 'quality_rule', entityId: rule.id, after: rule });
      return rule;
    });
  }

  async function updateRule(who: Principal, id: number, patch: Partial<Omit<RuleInput, 'code'>>): Promise<QualityRule> {
    return db.tx(async (tx) => {
      await tx.query('SELECT 1 FROM quality_rules WHERE id = $1 FOR UPDATE', [id]);
      const before = await getRule(id, tx);
      const merged = { ...before, ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) } as RuleInput;
      const errs = validateRule(merged);
      if (errs.length) throw validationFailed(errs);
      await tx.query(
        `UPDATE quality_rules SET name = $2, kind = $3, active = $4, product_id = $5, method = $6, params = $7, actions = $8, station_id = $9, equipment_id = $10,
           reading_name = $11, updated_at = now() WHERE id = $1`,
        [
          id, merged.name, merged.kind, merged.active, merged.productId ?? null, merged.method ?? null, JSON.stringify(merged.params ?? {}), merged.actions,
          merged.stationId ?? null, merged.equipmentId ?? null, merged.readingName?.trim() ?? null,
        ],
      );
      await checkEquipment(tx, merged);
      cache = null;
      const after = await getRule(id, tx);
      await recordAudit(tx, who, { action: 'update', entity: 'quality_rule', entityId: id, before, after });
      return after;
    });
  }

  /** Serials of the units in a firing's evidence (read only when something fires). */
  async function serials(tx: Tx, ids: number[]): Promise<(ids: number[]) => string[]> {
    // bigint[] columns arrive as strings (pg parses only scalar int8 as numbers).
    const m = new Map<number, string>();
    const uniq = [...new Set(ids.map(Number))];
    if (uniq.length) for (const r of (await tx.query<{ id: number; serial: string }>('SELECT id, serial FROM units WHERE id = ANY($1::bigint[])', [uniq])).rows) m.set(Number(r.id), r.serial);
    return (xs) => xs.map((x) => m.get(Number(x)) ?? `#${x}`).sort();
  }

  const applies = (r: QualityRule, b: RuleResult) => (r.productId === null || r.productId === b.productId) && (r.method === null || r.method === b.method);

  /** Groups the batch per (rule, work order) for the rules of one kind. */
  function groups(rules: QualityRule[], batch: readonly RuleResult[], kind: RuleKind) {
    const out = new Map<string, { rule: QualityRule; wo: number; results: RuleResult[] }>();
    for (const r of rules) {
      if (r.kind !== kind) continue;
      for (const b of batch) {
        if (!applies(r, b)) continue;
        const k = `${r.id}:${b.workOrderId}`;
        let g = out.get(k);
        if (!g) out.set(k, (g = { rule: r, wo: b.workOrderId, results: [] }));
        g.results.push(b);
      }
    }
    return [...out.values()];
  }

  async function defectRepeat(tx: Tx, rules: QualityRule[], batch: readonly RuleResult[]): Promise<Firing[]> {
    const gs = groups(rules, batch, 'defect_repeat').map((g) => {
      const keys = new Map<string, { code: string; refdes: string }>();
      for (const b of g.results) for (const d of b.defects) if (d.refdes) keys.set(`${d.code}@${d.refdes}`, { code: d.code, refdes: d.refdes });
      return { ...g, keys: [...keys.values()] };
    }).filter((g) => g.keys.length > 0);
    if (gs.length === 0) return [];
    const rows = (
      await tx.query<{ ruleId: number; workOrderId: number; code: string; refdes: string; units: number; unitIds: number[]; defectIds: number[] }>(
        prepared('quality.rule_defect_repeat', DEFECT_REPEAT_SQL, [JSON.stringify(gs.map((g) => ({ rule_id: g.rule.id, wo: g.wo, method: g.rule.method, n: g.rule.params.count, m: g.rule.params.window, keys: g.keys })))]),
      )
    ).rows.filter((r) => !isOpen(r.ruleId, r.workOrderId, `${r.code}@${r.refdes}`));
    const serialsOf = await serials(tx, rows.flatMap((r) => r.unitIds));
    return rows.map((r) => {
      const g = gs.find((x) => x.rule.id === r.ruleId && x.wo === r.workOrderId)!;
      const station = [...g.results].reverse().find((b) => b.defects.some((d) => d.code === r.code && d.refdes === r.refdes))?.stationId ?? null;
      return {
        rule: g.rule, workOrderId: r.workOrderId, stationId: station, key: `${r.code}@${r.refdes}`,
        message: `${r.units} of the last ${g.rule.params.window} unit(s) have defect ${r.code} at ${r.refdes} (rule ${g.rule.code}: ${g.rule.params.count} or more)`,
        evidence: { code: r.code, refdes: r.refdes, units: r.units, threshold: g.rule.params.count, window: g.rule.params.window, method: g.rule.method, serials: serialsOf(r.unitIds), defectIds: r.defectIds.map(Number) },
      };
    });
  }

  async function testRepeat(tx: Tx, rules: QualityRule[], batch: readonly RuleResult[]): Promise<Firing[]> {
    const gs = groups(rules, batch, 'test_repeat').map((g) => ({ ...g, keys: [...new Set(g.results.flatMap((b) => b.failedNames))] })).filter((g) => g.keys.length > 0);
    if (gs.length === 0) return [];
    const rows = (
      await tx.query<{ ruleId: number; workOrderId: number; name: string; units: number; unitIds: number[] }>(
        prepared('quality.rule_test_repeat', TEST_REPEAT_SQL, [JSON.stringify(gs.map((g) => ({ rule_id: g.rule.id, wo: g.wo, method: g.rule.method, n: g.rule.params.units, m: g.rule.params.window, keys: g.keys })))]),
      )
    ).rows.filter((r) => !isOpen(r.ruleId, r.workOrderId, r.name));
    const serialsOf = await serials(tx, rows.flatMap((r) => r.unitIds));
    return rows.map((r) => {
      const g = gs.find((x) => x.rule.id === r.ruleId && x.wo === r.workOrderId)!;
      const station = [...g.results].reverse().find((b) => b.failedNames.includes(r.name))?.stationId ?? null;
      return {
        rule: g.rule, workOrderId: r.workOrderId, stationId: station, key: r.name,
        message: `${r.units} of the last ${g.rule.params.window} unit(s) failed ${r.name} (rule ${g.rule.code}: ${g.rule.params.units} or more)`,
        evidence: { name: r.name, units: r.units, threshold: g.rule.params.units, window: g.rule.params.window, method: g.rule.method, serials: serialsOf(r.unitIds) },
      };
    });
  }

  async function fpyBelow(tx: Tx, rules: QualityRule[], batch: readonly RuleResult[]): Promise<Firing[]> {
    const gs = groups(rules, batch, 'fpy_below').filter((g) => g.results.some((b) => b.first));
    if (gs.length === 0) return [];
    const rows = (
      await tx.query<{ ruleId: number; workOrderId: number; units: number; passed: number; failedIds: number[] }>(
        prepared('quality.rule_fpy', FPY_SQL, [JSON.stringify(gs.map((g) => ({ rule_id: g.rule.id, wo: g.wo, method: g.rule.method, m: g.rule.params.window })))]),
      )
    ).rows;
    const out: Firing[] = [];
    const firing = rows.filter((r) => {
      const g = gs.find((x) => x.rule.id === r.ruleId && x.wo === r.workOrderId)!;
      return r.units >= g.rule.params.window! && r.passed * 100 < g.rule.params.percent! * r.units && !isOpen(r.ruleId, r.workOrderId, `fpy:${g.rule.method}`);
    });
    const serialsOf = await serials(tx, firing.flatMap((r) => r.failedIds));
    for (const r of firing) {
      const g = gs.find((x) => x.rule.id === r.ruleId && x.wo === r.workOrderId)!;
      const window = g.rule.params.window!;
      const pct = g.rule.params.percent!;
      const fpy = Math.round((r.passed * 10000) / r.units) / 100;
      out.push({
        rule: g.rule, workOrderId: r.workOrderId, stationId: g.results.at(-1)!.stationId, key: `fpy:${g.rule.method}`,
        message: `First-pass yield at ${g.rule.method} is ${fpy} % over the last ${window} unit(s), below ${pct} % (rule ${g.rule.code})`,
        evidence: { method: g.rule.method, fpyPercent: fpy, threshold: pct, window, units: r.units, passed: r.passed, failedSerials: serialsOf(r.failedIds) },
      });
    }
    return out;
  }

  async function parameterOutOfRange(tx: Tx, rules: QualityRule[], batch: readonly RuleResult[]): Promise<Firing[]> {
    const gs = groups(rules, batch, 'parameter_out_of_range');
    const out: Firing[] = [];
    for (const g of gs) {
      const viol = new Map<string, { stationId: number; items: Record<string, unknown>[] }>();
      for (const b of g.results) {
        if (b.readings.length === 0 || b.basisId === null || b.basisHash === null) continue;
        const basis = await deps.workOrders.loadBasis(b.basisId, b.basisHash, tx);
        const programs = basis.basis.programs.filter((p) => p.stationType === b.stationType && (b.programName === null || p.name === b.programName));
        if (programs.length === 0) continue;
        const ranges = new Map<string, { min?: number; max?: number; unit?: string; program: string }>();
        for (const p of programs) for (const r of p.parameterRanges ?? []) if (!ranges.has(r.name)) ranges.set(r.name, { ...r, program: `${p.name} revision ${p.revision}` });
        for (const m of b.readings) {
          const r = ranges.get(m.name);
          if (!r || m.value === null) continue;
          if ((r.min !== undefined && r.min !== null && m.value < r.min) || (r.max !== undefined && r.max !== null && m.value > r.max)) {
            const key = `${b.stationCode}:${m.name}`;
            let v = viol.get(key);
            if (!v) viol.set(key, (v = { stationId: b.stationId, items: [] }));
            v.items.push({ resultId: b.id, serial: b.serial, name: m.name, value: m.value, unit: m.unit ?? r.unit ?? null, min: r.min ?? null, max: r.max ?? null, program: r.program });
          }
        }
      }
      for (const [key, v] of viol) {
        const first = v.items[0]!;
        out.push({
          rule: g.rule, workOrderId: g.wo, stationId: v.stationId, key,
          message: `${first.name} = ${first.value} on unit ${first.serial} is outside its approved range ${first.min ?? '−∞'} … ${first.max ?? '+∞'} (${first.program}; rule ${g.rule.code})`,
          evidence: { readings: v.items },
        });
      }
    }
    return out;
  }

  /**
   * Evaluates every active rule on a batch of just-recorded results (in the batch's transaction),
   * stores the alerts that fire (not when an open alert of the same rule, work order and key
   * exists) and performs their actions.
   */
  async function evaluate(tx: Tx, who: Principal, batch: readonly RuleResult[]) {
    const rules = await activeRules(tx);
    if (rules.length === 0) return [];
    const firings = [
      ...(await defectRepeat(tx, rules, batch)),
      ...(await fpyBelow(tx, rules, batch)),
      ...(await testRepeat(tx, rules, batch)),
      ...(await parameterOutOfRange(tx, rules, batch)),
    ].filter((f) => !isOpen(f.rule.id, f.workOrderId, f.key));
    return fire(tx, who, firings);
  }

  /** Stores the alerts of the firings (not when one of the same rule, work order and key is open) and performs their actions. */
  async function fire(tx: Tx, who: Principal, firings: Firing[]): Promise<FiredAlert[]> {
    if (firings.length === 0) return [];
    const known = db.changeFeedLive ? openAlerts : null;
    const inserted = (
      await tx.query<{ id: number; ruleId: number; workOrderId: number | null; key: string }>(
        INSERT_ALERTS_SQL,
        [JSON.stringify(firings.map((f) => ({ rule_id: f.rule.id, kind: f.rule.kind, work_order_id: f.workOrderId, station_id: f.stationId, key: f.key, message: f.message, evidence: f.evidence })))],
      )
    ).rows;
    // A pattern that persists keeps firing. A firing refused by the unique index proves an alert that
    // is not closed exists (committed): later batches skip that key until some alert changes state.
    if (known) {
      const fresh = new Set(inserted.map((a) => `${a.ruleId}:${a.workOrderId}:${a.key}`));
      for (const f of firings) if (!fresh.has(`${f.rule.id}:${f.workOrderId}:${f.key}`)) known.add(`${f.rule.id}:${f.workOrderId}:${f.key}`);
    }
    const out: FiredAlert[] = [];
    const act = deps.actions();
    for (const a of inserted) {
      // bigint columns arrive as numbers (int8 parser), but compare loosely in case a driver hands strings.
      const f = firings.find((x) => Number(x.rule.id) === Number(a.ruleId) && (x.workOrderId === null ? a.workOrderId === null : Number(x.workOrderId) === Number(a.workOrderId)) && x.key === a.key)!;
      const taken: Record<string, unknown>[] = [{ action: 'alert', alertId: a.id }];
      const wo = f.workOrderId;
      for (const action of f.rule.actions) {
        if (action === 'hold_work_order') {
          taken.push(wo === null ? { action, hold: null, skipped: 'no work order runs at the station' } : { action, hold: await act.holdWorkOrder(tx, who, wo, f.message, a.id, f.rule.code) });
        } else if (action === 'hold_station' && f.stationId !== null) taken.push({ action, hold: await act.holdStation(tx, who, f.stationId, f.message, a.id, f.rule.code) });
        else if (action === 'require_first_article') {
          taken.push(wo === null ? { action, steps: [], skipped: 'no work order runs at the station' } : { action, steps: await act.requireFirstArticle(tx, who, wo, f.message, `rule:${f.rule.code}`) });
        }
      }
      await tx.query('UPDATE quality_alerts SET actions_taken = $2 WHERE id = $1', [a.id, JSON.stringify(taken)]);
      await recordAudit(tx, who, { action: 'fire', entity: 'quality_alert', entityId: a.id, after: { rule: f.rule.code, key: f.key, message: f.message, actions: taken } });
      out.push({ id: a.id, ruleCode: f.rule.code, kind: f.rule.kind, key: f.key, message: f.message, actions: taken.map((t) => String(t.action)) });
    }
    return out;
  }

  /**
   * The reading rules, on readings just stored (in their transaction). Only rules whose station,
   * equipment and reading name match a new reading that lies outside the limits are looked at
   * further: a batch of in-limit readings costs no query.
   */
  async function evaluateReadings(q: Queryable, readings: readonly ReadingForRules[]): Promise<FiredAlert[]> {
    if (readings.length === 0) return [];
    const rules = (await activeRules(q)).filter((r) => r.kind === 'reading_out_of_limits');
    if (rules.length === 0) return [];
    const outside = (r: QualityRule, v: number) => (r.params.min != null && v < r.params.min) || (r.params.max != null && v > r.params.max);
    const candidates: { rule: QualityRule; fresh: ReadingForRules[]; latest: Date }[] = [];
    for (const rule of rules) {
      const mine = readings.filter((x) => x.value !== null && Number(x.stationId) === Number(rule.stationId) && x.name === rule.readingName
        && (rule.equipmentId === null || (x.equipmentId !== null && Number(x.equipmentId) === Number(rule.equipmentId))));
      const fresh = mine.filter((x) => outside(rule, x.value!));
      if (fresh.length === 0) continue;
      candidates.push({ rule, fresh, latest: new Date(Math.max(...mine.map((x) => x.at.getTime()))) });
    }
    if (candidates.length === 0) return [];
    return inTx(db, q, async (tx) => {
      const firings: Firing[] = [];
      for (const { rule, fresh, latest } of candidates) {
        const p = rule.params;
        const limits = `${p.min ?? '−∞'} … ${p.max ?? '+∞'}`;
        let evidence: { at: Date; value: number; unit: string | null }[];
        let how: string;
        if (p.consecutive != null && p.consecutive > 1) {
          const last = (
            await tx.query<{ at: Date; value: number; unit: string | null }>(
              `SELECT at, value, unit FROM readings WHERE station_id = $1 AND name = $2 AND ($3::bigint IS NULL OR equipment_id = $3) AND value IS NOT NULL AND at <= $4
                ORDER BY at DESC, id DESC LIMIT $5`,
              [rule.stationId, rule.readingName, rule.equipmentId, latest, p.consecutive],
              'quality.rule_reading_last',
            )
          ).rows;
          if (last.length < p.consecutive || !last.every((x) => outside(rule, x.value))) continue;
          evidence = last;
          how = `the last ${p.consecutive} readings in a row`;
        } else if (p.windowSeconds != null && p.count != null) {
          const from = new Date(latest.getTime() - p.windowSeconds * 1000);
          const hits = (
            await tx.query<{ at: Date; value: number; unit: string | null }>(
              `SELECT at, value, unit FROM readings WHERE station_id = $1 AND name = $2 AND ($3::bigint IS NULL OR equipment_id = $3) AND value IS NOT NULL
                  AND at > $4 AND at <= $5 AND (value < $6::float8 OR value > $7::float8) ORDER BY at DESC, id DESC LIMIT 1000`,
              [rule.stationId, rule.readingName, rule.equipmentId, from, latest, p.min ?? null, p.max ?? null],
              'quality.rule_reading_window',
            )
          ).rows;
          if (hits.length < p.count) continue;
          evidence = hits;
          how = `${hits.length} readings within ${p.windowSeconds} s (limit ${p.count})`;
        } else {
          evidence = fresh.map((x) => ({ at: x.at, value: x.value!, unit: x.unit }));
          how = evidence.length === 1 ? 'a reading' : `${evidence.length} readings`;
        }
        const station = (
          await tx.query<{ code: string; wo: number | null; woNumber: string | null }>(
            `SELECT s.code, w.id AS wo, w.number AS "woNumber" FROM stations s
               LEFT JOIN line_active_work_orders a ON a.line_id = s.line_id LEFT JOIN work_orders w ON w.id = a.work_order_id
              WHERE s.id = $1`,
            [rule.stationId],
            'quality.rule_reading_station',
          )
        ).rows[0]!;
        const worst = evidence.reduce((a, b) => (Math.abs(b.value - mid(rule)) > Math.abs(a.value - mid(rule)) ? b : a));
        const unit = worst.unit ? ` ${worst.unit}` : '';
        firings.push({
          rule, workOrderId: station.wo, stationId: rule.stationId, key: `${station.code}:${rule.readingName}`,
          message: `${rule.readingName} at ${station.code} is outside its limits ${limits}${unit}: ${how}, e.g. ${worst.value}${unit} at ${worst.at.toISOString()} (rule ${rule.code})`,
          evidence: {
            station: station.code, stationId: rule.stationId, equipmentId: rule.equipmentId, name: rule.readingName, min: p.min ?? null, max: p.max ?? null,
            consecutive: p.consecutive ?? null, count: p.count ?? null, windowSeconds: p.windowSeconds ?? null, workOrder: station.woNumber,
            readings: evidence.slice(0, 50).map((x) => ({ at: x.at, value: x.value, unit: x.unit })),
          },
        });
      }
      const open = firings.filter((f) => !isOpen(f.rule.id, f.workOrderId, f.key));
      return fire(tx, systemPrincipal('quality-rules'), open);
    });
  }

  async function listAlerts(f: { workOrderId?: number; ruleId?: number; state?: string; limit?: number; afterId?: number }): Promise<Alert[]> {
    return (
      await db.query<Alert>(
        `SELECT ${ALERT_SELECT} WHERE ($1::bigint IS NULL OR a.work_order_id = $1) AND ($2::bigint IS NULL OR a.rule_id = $2) AND ($3::text IS NULL OR a.state = $3)
           AND ($4::bigint IS NULL OR a.id < $4) ORDER BY a.id DESC LIMIT $5`,
        [f.workOrderId ?? null, f.ruleId ?? null, f.state ?? null, f.afterId ?? null, Math.min(f.limit ?? 100, 1000)],
      )
    ).rows;
  }

  async function getAlert(id: number, q: Queryable = db): Promise<Alert> {
    const a = (await q.query<Alert>(`SELECT ${ALERT_SELECT} WHERE a.id = $1`, [id])).rows[0];
    if (!a) throw notFound('quality alert', id);
    return a;
  }

  /** Acknowledges (someone is on it) or closes (dealt with) an alert; a closed alert lets the rule fire again. */
  async function setAlertState(who: Principal, id: number, state: 'acknowledged' | 'closed', note: string | null): Promise<Alert> {
    return db.tx(async (tx) => {
      const before = await getAlert(id, tx);
      if (before.state === 'closed') throw new AppError('STATE_CONFLICT', `Alert ${id} is closed`);
      if (before.state === state) throw new AppError('STATE_CONFLICT', `Alert ${id} is already ${state}`);
      await tx.query(
        `UPDATE quality_alerts SET state = $2, note = COALESCE($3, note), acknowledged_at = COALESCE(acknowledged_at, clock_timestamp()), acknowledged_by = COALESCE(acknowledged_by, $4) WHERE id = $1`,
        [id, state, note, who.name],
      );
      openAlerts.clear();
      const after = await getAlert(id, tx);
      await recordAudit(tx, who, { action: state === 'closed' ? 'close' : 'acknowledge', entity: 'quality_alert', entityId: id, before: { state: before.state }, after: { state, note }, reason: note });
      return after;
    });
  }

  return { createRule, updateRule, getRule, listRules, evaluate, evaluateReadings, listAlerts, getAlert, setAlertState, invalidate: () => { cache = null; } };
}
export type Rules = ReturnType<typeof createRules>;
