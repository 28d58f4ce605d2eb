import type { Db, Queryable } from '../../platform/db.ts';
import { AppError, validationFailed, type FieldError } from '../../platform/errors.ts';
import type { Principal } from '../../platform/principal.ts';
import { recordAudit } from '../audit/index.ts';
import type { CompleteResult, InterlockCall, InterlockRule, InterlockSubject, LoadedUnit, StationSelector, TrackingService } from '../tracking/index.ts';
import { QUALITY_INTERLOCK_REASONS, type Method } from './reasons.ts';
import type { DefectInput, RecordOutcome, ResultInput, Results } from './results.ts';
import { auditSignature, type Signature, type SignatureInput, type Signatures } from './signatures.ts';

/**
 * A station passage together with its inspection result, in one transaction: the operator
 * screen's pass and fail (with defect codes), and the sign-off of the route step's sign-off
 * checks. Either everything is written (sign-off, process record, result with its defects, the
 * rules' alerts) or nothing is.
 *
 * Sign-offs: a check of a route step marked `signoff: true` must be signed (password
 * re-entered, SIGNING_POLICY 'step.signoff') by whoever completes the step. The interlock rule
 * SIGNOFF_REQUIRED (phase complete) refuses every completion of such a step, through any door,
 * that has no sign-off row for the unit's passage (quality_step_signoffs, unit + visit).
 */

export interface StepCheck { code: string; text: string; signoff?: boolean }

export interface CompletionPosition {
  position: number;
  result: 'pass' | 'fail';
  /** Defects of a failed position (required then). */
  defects?: DefectInput[];
}

export interface CompletionInput extends StationSelector {
  /** Unit serial or panel ID as scanned. */
  identifier: string;
  /** Result of the unit, or of every panel position not listed in `positions`. */
  result: 'pass' | 'fail';
  /** Defects of a failed unit (required then); on a panel, of every failed position that lists none. */
  defects?: DefectInput[];
  positions?: CompletionPosition[];
  /** The inspection method of the result; by default the station type's (SPI, AOI, ICT, …), `other` for a failure elsewhere. */
  method?: Method;
  operator?: string | null;
  notes?: string | null;
  programName?: string | null;
  programRevision?: string | null;
  /** The signed sign-off of the step's sign-off checks. */
  signoff?: { stepSeq: number; checks: string[]; signature: SignatureInput };
  /** Where the result came from (kept on the result row); `operator-station` by default. */
  source?: string | null;
}

export interface CompletionOutcome {
  passage: CompleteResult;
  /** The inspection results written with the passage (none at a station that inspects nothing and passed). */
  results: RecordOutcome['results'];
  alerts: RecordOutcome['alerts'];
  signature: Signature | null;
}

/** Inspection and test station types record a result with every passage (the quality plan asks for them). */
const METHOD_OF_STATION_TYPE: Record<string, Method> = { spi: 'spi', aoi: 'aoi', axi: 'axi', visual: 'visual', ict: 'ict', fct: 'fct', 'flying-probe': 'flying-probe' };

/** The checks of a step that need a signature. */
export const signoffChecks = (step: { checks?: readonly StepCheck[] }): StepCheck[] => (step.checks ?? []).filter((c) => c.signoff === true);

const DATA = 'quality.signoffs';
const where = (u: LoadedUnit) => (u.panelCode ? `unit ${u.serial} (panel ${u.panelCode} position ${u.panelPosition})` : `unit ${u.serial}`);

/**
 * SIGNOFF_REQUIRED: a step with sign-off checks completes only with a signed sign-off of the
 * passage. Loads nothing unless a unit of the call is at such a step (machines' passages cost
 * no query).
 */
export function signoffRule(): InterlockRule {
  const r = QUALITY_INTERLOCK_REASONS.SIGNOFF_REQUIRED;
  return {
    code: 'SIGNOFF_REQUIRED', number: r.number, title: r.title, phases: ['complete'],
    async prepare(q: Queryable, call: InterlockCall, subjects: readonly InterlockSubject[]) {
      const need = subjects.filter((s) => s.resolution.kind === 'ok' && signoffChecks(s.resolution.step).length > 0);
      if (need.length === 0) return;
      const rows = (
        await q.query<{ unitId: number; visit: number; stepSeq: number; codes: string[] }>(
          `SELECT s.unit_id AS "unitId", s.visit, s.step_seq AS "stepSeq", s.check_codes AS codes
             FROM unnest($1::bigint[], $2::int[]) AS x(unit_id, visit) JOIN quality_step_signoffs s ON s.unit_id = x.unit_id AND s.visit = x.visit`,
          [need.map((s) => s.unit.id), need.map((s) => s.unit.visits + 1)],
        )
      ).rows;
      call.data.set(DATA, new Map(rows.map((x) => [x.unitId, x])));
    },
    check: (s, call) => {
      if (s.resolution.kind !== 'ok') return null;
      const step = s.resolution.step;
      const need = signoffChecks(step);
      if (need.length === 0) return null;
      const row = (call.data.get(DATA) as Map<number, { stepSeq: number; codes: string[] }> | undefined)?.get(s.unit.id);
      const missing = row && row.stepSeq === step.seq ? need.filter((c) => !row.codes.includes(c.code)) : need;
      if (missing.length === 0) return null;
      return `step ${step.seq} ${step.name} of ${where(s.unit)} needs a signed sign-off of ${missing.map((c) => `${c.code} (${c.text})`).join(', ')}`;
    },
  };
}

export function createCompletions(db: Db, deps: { tracking: TrackingService; results: Results; signatures: Signatures }) {
  function check(input: CompletionInput): void {
    const errs: FieldError[] = [];
    const seen = new Set<number>();
    (input.positions ?? []).forEach((p, i) => {
      if (seen.has(p.position)) errs.push({ field: `/positions/${i}/position`, code: 'duplicate', message: `position ${p.position} is listed twice` });
      seen.add(p.position);
      if (p.result === 'pass' && p.defects?.length) errs.push({ field: `/positions/${i}/defects`, code: 'not_allowed', message: 'a passing position has no defects' });
    });
    if (input.result === 'pass' && input.defects?.length && !input.positions?.some((p) => p.result === 'fail')) {
      errs.push({ field: '/defects', code: 'not_allowed', message: 'a passing unit has no defects' });
    }
    if (input.signoff) {
      const codes = input.signoff.checks;
      if (codes.length === 0) errs.push({ field: '/signoff/checks', code: 'required', message: 'name the checks signed' });
      if (new Set(codes).size !== codes.length) errs.push({ field: '/signoff/checks', code: 'duplicate', message: 'a check is named twice' });
    }
    if (errs.length) throw validationFailed(errs);
  }

  /**
   * Completes the unit or panel at the station and records the inspection result with its
   * defects (and the step's signed sign-off, when given) in one transaction: a refusal of any
   * part (interlock, sign-off, unknown defect code, signature) leaves nothing written.
   */
  async function completeWithResults(who: Principal, input: CompletionInput): Promise<CompletionOutcome> {
    check(input);
    const at = await deps.tracking.resolveStation(input);
    // Re-authentication first: a wrong password is refused before any row is touched.
    const signer = input.signoff ? await deps.signatures.authenticate(who, 'step.signoff', input.signoff.signature, 'verified', { anySigner: true }) : null;
    const byPosition = new Map((input.positions ?? []).map((p) => [p.position, p]));
    const method: Method | null = input.method ?? METHOD_OF_STATION_TYPE[at.station.type] ?? (input.result === 'fail' || [...byPosition.values()].some((p) => p.result === 'fail') ? 'other' : null);

    return db.tx(async (tx) => {
      let signature: Signature | null = null;
      if (signer && input.signoff) {
        const units = (
          await tx.query<{ id: number; serial: string; visits: number }>(
            `SELECT id, serial, visits FROM units WHERE serial = $1
             UNION ALL
             SELECT u.id, u.serial, u.visits FROM panels p JOIN units u ON u.panel_id = p.id WHERE p.code = $1 AND u.status NOT IN ('skipped','scrapped')
             ORDER BY id`,
            [input.identifier],
          )
        ).rows;
        if (units.length === 0) throw new AppError('REFERENCE_NOT_FOUND', `No unit or panel is known as ${input.identifier}`, { errors: [{ field: '/identifier', code: 'unknown_unit', message: `no unit or panel ${input.identifier}` }] });
        const content = { identifier: input.identifier, station: at.station.code, stepSeq: input.signoff.stepSeq, checks: input.signoff.checks, units: units.map((u) => ({ serial: u.serial, visit: u.visits + 1 })) };
        signature = await deps.signatures.record(tx, signer, { entity: 'unit', entityId: units[0]!.id, content });
        await tx.query(
          `INSERT INTO quality_step_signoffs (unit_id, visit, step_seq, station_id, check_codes, signature_id)
           SELECT x.id, x.visit, $3, $4, $5, $6 FROM unnest($1::bigint[], $2::int[]) AS x(id, visit)`,
          [units.map((u) => u.id), units.map((u) => u.visits + 1), input.signoff.stepSeq, at.station.id, input.signoff.checks, signature.id],
        );
        for (const u of units) {
          await recordAudit(tx, who, {
            action: 'sign_off', entity: 'unit', entityId: u.id, after: { ...content, units: undefined, serial: u.serial, visit: u.visits + 1 }, reason: signer.reason, signature: auditSignature(signature),
          });
        }
      }

      // 1. The passage (the interlock judges it again here, SIGNOFF_REQUIRED included).
      const passage = await deps.tracking.complete(
        who,
        {
          stationId: at.station.id, ...(at.equipment ? { equipment: at.equipment.code } : {}), identifier: input.identifier, result: input.result,
          ...(input.positions ? { positions: input.positions.map((p) => ({ position: p.position, result: p.result })) } : {}),
          operator: input.operator ?? null, notes: input.notes ?? null, programName: input.programName ?? null, programRevision: input.programRevision ?? null,
        },
        tx,
      );
      if (input.signoff && passage.records.some((r) => r.stepSeq !== input.signoff!.stepSeq)) {
        throw validationFailed([{ field: '/signoff/stepSeq', code: 'step_mismatch', message: `the sign-off is for step ${input.signoff.stepSeq}; ${input.identifier} completed step ${passage.records[0]?.stepSeq}` }]);
      }

      // 2. The inspection result of every unit of the passage, with the defects of the failed ones.
      const failedWithout: FieldError[] = [];
      const inputs: ResultInput[] = method === null ? [] : passage.records.map((r) => {
        const failed = r.result === 'fail';
        const defects = failed ? ((r.position !== null ? byPosition.get(r.position)?.defects : undefined) ?? input.defects ?? []) : [];
        if (failed && defects.length === 0) {
          failedWithout.push({ field: r.position !== null ? '/positions' : '/defects', code: 'required', message: `${r.serial}${r.position !== null ? ` (position ${r.position})` : ''} failed: name at least one defect` });
        }
        return {
          stationId: at.station.id, unit: r.serial, method, stepSeq: r.stepSeq, result: failed ? 'fail' : 'pass', operator: input.operator ?? null,
          programName: input.programName ?? null, programRevision: input.programRevision ?? null, source: input.source ?? 'operator-station', notes: input.notes ?? null,
          defects,
        };
      });
      if (failedWithout.length) throw validationFailed(failedWithout, 'A failure needs its defect codes');
      // Defect codes from the operator station are the catalogue's active codes.
      const codes = [...new Set(inputs.flatMap((x) => (x.defects ?? []).map((d) => d.code)))];
      if (codes.length) {
        const known = new Set((await tx.query<{ code: string }>('SELECT code FROM quality_defect_codes WHERE code = ANY($1) AND active', [codes])).rows.map((r) => r.code));
        const unknown = codes.filter((c) => !known.has(c));
        if (unknown.length) {
          throw new AppError('REFERENCE_NOT_FOUND', `Unknown or inactive defect code(s): ${unknown.join(', ')}`, {
            errors: unknown.map((c) => ({ field: '/defects', code: 'unknown_defect_code', message: `${c} is not an active code of the defect catalogue` })),
          });
        }
      }
      const recorded = inputs.length ? await deps.results.recordResults(who, inputs, tx) : { results: [], alerts: [] };
      return { passage, results: recorded.results, alerts: recorded.alerts, signature };
    });
  }

  return { completeWithResults };
}
export type Completions = ReturnType<typeof createCompletions>;
