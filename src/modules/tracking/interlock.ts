import type { Queryable } from '../../platform/db.ts';
import type { Principal } from '../../platform/principal.ts';
import type { ParsedBasis } from '../work-orders/index.ts';
import { INTERLOCK_REASONS, type BuiltInReasonCode } from './reasons.ts';
import { loopsExhausted, type Resolution, type UnitStatus } from './routing.ts';

/**
 * The interlock as an ordered list of rules. Each rule looks at one unit (with everything the
 * validate call loaded once) and returns a refusal sentence or null. Later modules (holds,
 * dispositions, first article, materials setup) add their rules with `register`, placed before
 * or after a named rule; nothing here needs to change for that.
 */

export type Phase = 'validate' | 'start' | 'complete';

export interface StationRef { id: number; code: string; name: string; type: string; lineId: number | null }
export interface EquipmentRef { id: number; code: string; cfxHandle: string | null; stationId: number }

/** A unit as loaded for the interlock: its state, its work order, panel and lot in one row. */
export interface LoadedUnit {
  id: number; serial: string; status: UnitStatus; onHold: boolean; holdReason: string | null;
  nextStepSeq: number | null; returnStepSeq: number | null; failedStepSeq: number | null; visits: number;
  passedSteps: number[]; repairLoops: Record<string, number>;
  startedStepSeq: number | null; startedStationId: number | null; startedStationCode: string | null; startedAt: Date | null;
  panelId: number | null; panelPosition: number | null; lotId: number | null;
  woId: number; woNumber: string; woState: string; woLineId: number | null; basisId: number | null; basisHash: string | null;
  panelCode: string | null; panelOnHold: boolean | null; panelHoldReason: string | null;
  lotCode: string | null; lotOnHold: boolean | null; lotHoldReason: string | null;
  /** First-article claims of the work order: step seq → [unit id, panel id, state]. */
  firstArticles: Record<string, [number, number | null, 'pending' | 'passed']> | null;
}

/** What a validate / start / complete call is about; shared by all its units. */
export interface InterlockCall {
  phase: Phase;
  who: Principal;
  station: StationRef;
  equipment: EquipmentRef | null;
  identifier: string;
  kind: 'unit' | 'panel';
  /** Program reported by the equipment (or the request), if any. */
  programName: string | null;
  programRevision: string | null;
  /** The work order the station's line is running. */
  lineActive: { workOrderId: number; number: string; productRevisionId: number; productCode: string; revision: string } | null;
  /** Data loaded once per call by rules' `prepare` hooks, keyed as each rule likes. */
  data: Map<string, unknown>;
  /**
   * The interlock data epoch read with the units (migration 0043): it moves with every committed
   * change to data rules may keep in memory (holds, dispositions, first articles, setups, …). A
   * rule may reuse what it loaded at the same `value`, unless `own` — this call's transaction has
   * changed such data itself and must see exactly that.
   */
  epoch: { value: number; own: boolean };
}

/** One unit under judgement. */
export interface InterlockSubject {
  unit: LoadedUnit;
  basis: ParsedBasis;
  /** Which route step this station would perform for the unit (see routing.ts). */
  resolution: Resolution;
}

export interface Refusal { code: string; number: number; message: string }

export interface InterlockRule {
  /** Stable reason code, e.g. `UNIT_ON_HOLD`. */
  code: string;
  /** Stable integer (CFX FailureCode); unique across rules. */
  number: number;
  /** One line for the reason table (built-in codes take theirs from INTERLOCK_REASONS). */
  title?: string;
  /** Phases the rule applies to; all by default. */
  phases?: readonly Phase[];
  /** When it refuses, later rules are not evaluated for this unit. */
  terminal?: boolean;
  /** Runs once per call, before any check, in the call's transaction: load extra data into `call.data` (under its own key). */
  prepare?(q: Queryable, call: InterlockCall, subjects: readonly InterlockSubject[]): Promise<void>;
  /** The refusal sentence, or null when this rule has nothing against the unit. */
  check(s: InterlockSubject, call: InterlockCall): string | null;
}

const reason = (code: BuiltInReasonCode) => ({ code, number: INTERLOCK_REASONS[code].number });
const stepName = (s: { seq: number; name: string }) => `step ${s.seq} ${s.name}`;
const where = (u: LoadedUnit) => (u.panelCode ? `unit ${u.serial} (panel ${u.panelCode} position ${u.panelPosition})` : `unit ${u.serial}`);

/** The rules of this module, in evaluation order. */
export const DEFAULT_INTERLOCK_RULES: readonly InterlockRule[] = [
  {
    ...reason('UNIT_SKIPPED'), terminal: true,
    check: ({ unit }) => (unit.status === 'skipped' ? `${where(unit)} is a skipped (X-out) position` : null),
  },
  {
    ...reason('WORK_ORDER_NOT_RELEASED'),
    check: ({ unit }) => (unit.woState === 'planned' ? `work order ${unit.woNumber} of ${where(unit)} is not released` : null),
  },
  {
    ...reason('WORK_ORDER_ON_HOLD'),
    check: ({ unit }) => (unit.woState === 'on_hold' ? `work order ${unit.woNumber} of ${where(unit)} is on hold` : null),
  },
  {
    ...reason('WORK_ORDER_COMPLETED'),
    check: ({ unit }) => (unit.woState === 'completed' || unit.woState === 'closed' ? `work order ${unit.woNumber} of ${where(unit)} is ${unit.woState}` : null),
  },
  {
    ...reason('WORK_ORDER_CANCELLED'),
    check: ({ unit }) => (unit.woState === 'cancelled' ? `work order ${unit.woNumber} of ${where(unit)} is cancelled` : null),
  },
  {
    ...reason('NO_ACTIVE_WORK_ORDER'),
    check: (_s, c) => (c.station.lineId !== null && c.lineActive === null ? `the line of station ${c.station.code} has no active work order` : null),
  },
  {
    ...reason('WRONG_PRODUCT'),
    check: ({ unit, basis }, c) => {
      const a = c.lineActive;
      if (c.station.lineId === null || !a || a.workOrderId === unit.woId) return null;
      const p = basis.basis.productRevision;
      if (a.productRevisionId !== p.id) {
        return `${where(unit)} is ${p.productCode} revision ${p.revision}; the line of station ${c.station.code} is running ${a.productCode} revision ${a.revision} (work order ${a.number})`;
      }
      return `${where(unit)} belongs to work order ${unit.woNumber}; the line of station ${c.station.code} is running work order ${a.number}`;
    },
  },
  {
    ...reason('STATION_NOT_IN_ROUTE'), terminal: true,
    check: ({ unit, resolution }, c) =>
      resolution.kind === 'not_in_route' ? `the route of ${where(unit)} has no step for station ${c.station.code} (${c.station.type})` : null,
  },
  {
    ...reason('UNIT_SCRAPPED'),
    check: ({ unit }) => (unit.status === 'scrapped' ? `${where(unit)} is scrapped` : null),
  },
  {
    ...reason('REPAIR_LOOPS_EXHAUSTED'),
    check: ({ unit, basis }) => {
      if (unit.status !== 'failed' || !loopsExhausted(basis, unit)) return null;
      const s = basis.bySeq.get(unit.failedStepSeq!)!;
      return `${where(unit)} failed ${stepName(s)} after ${s.maxRepairLoops} repair loop(s), the most its route allows`;
    },
  },
  {
    ...reason('FAILED_NO_DISPOSITION'),
    check: ({ unit, basis }) => {
      if (unit.status !== 'failed' || loopsExhausted(basis, unit)) return null;
      const s = unit.failedStepSeq === null ? undefined : basis.bySeq.get(unit.failedStepSeq);
      return `${where(unit)} failed${s ? ` ${stepName(s)}` : ''} and has no disposition`;
    },
  },
  {
    ...reason('UNIT_ON_HOLD'),
    check: ({ unit }) => (unit.onHold ? `${where(unit)} is on hold${unit.holdReason ? `: ${unit.holdReason}` : ''}` : null),
  },
  {
    ...reason('PANEL_ON_HOLD'),
    check: ({ unit }) => (unit.panelOnHold ? `panel ${unit.panelCode} of ${where(unit)} is on hold${unit.panelHoldReason ? `: ${unit.panelHoldReason}` : ''}` : null),
  },
  {
    ...reason('LOT_ON_HOLD'),
    check: ({ unit }) => (unit.lotOnHold ? `lot ${unit.lotCode} of ${where(unit)} is on hold${unit.lotHoldReason ? `: ${unit.lotHoldReason}` : ''}` : null),
  },
  {
    ...reason('STEP_IN_PROGRESS'),
    check: ({ unit }, c) =>
      unit.status === 'in_process' && unit.startedStationId !== c.station.id
        ? `${where(unit)} is being processed at station ${unit.startedStationCode} (step ${unit.startedStepSeq}); complete it there first`
        : null,
  },
  {
    ...reason('STEP_ALREADY_PASSED'),
    check: ({ unit, resolution: r }) => {
      if (r.kind !== 'already_passed' || !['queued', 'in_process', 'completed'].includes(unit.status)) return null;
      const next = r.expected ? `; its next step is ${stepName(r.expected)}` : '; it has completed its route';
      return `${where(unit)} already passed ${stepName(r.step)}${next}`;
    },
  },
  {
    ...reason('STEP_OUT_OF_ORDER'),
    check: ({ unit, resolution: r }) => {
      if (r.kind !== 'out_of_order' || !['queued', 'in_process', 'completed'].includes(unit.status)) return null;
      if (!r.expected) return `${where(unit)} has completed its route; ${stepName(r.step)} is not due`;
      const missing = r.missing.length ? r.missing : [r.expected];
      return `${where(unit)} must first pass ${missing.map(stepName).join(', ')} before ${stepName(r.step)}`;
    },
  },
  {
    ...reason('PROGRAM_MISMATCH'),
    check: ({ unit, basis, resolution: r }, c) => {
      if (r.kind !== 'ok' || (c.programRevision === null && c.programName === null)) return null;
      const expected = basis.basis.programs.filter(
        (p) => p.stationType === r.step.stationType && (p.stationId === null || p.stationId === c.station.id) && (p.equipmentId === null || !c.equipment || p.equipmentId === c.equipment.id),
      );
      if (expected.length === 0) return null; // the basis prescribes no program for this step
      const reported = `${c.programName ?? '?'} revision ${c.programRevision ?? '?'}`;
      const ok = expected.some((p) => (c.programName === null || p.name === c.programName) && (c.programRevision === null || p.revision === c.programRevision));
      if (ok) return null;
      return `station ${c.station.code} reports program ${reported} for ${where(unit)}; the build basis of work order ${unit.woNumber} prescribes ${expected.map((p) => `${p.name} revision ${p.revision}`).join(' or ')}`;
    },
  },
  {
    ...reason('FIRST_ARTICLE_PENDING'),
    check: ({ unit, resolution: r }) => {
      if (r.kind !== 'ok' || !r.step.firstArticleGate) return null;
      const fa = unit.firstArticles?.[String(r.step.seq)];
      if (!fa || fa[2] === 'passed' || fa[0] === unit.id || (fa[1] !== null && fa[1] === unit.panelId)) return null;
      return `${stepName(r.step)} of work order ${unit.woNumber} waits for its first article (unit #${fa[0]}) to pass`;
    },
  },
];

/** The rule list of one tracking service, open for registration by other modules. */
export function createRuleSet(initial: readonly InterlockRule[] = DEFAULT_INTERLOCK_RULES) {
  const rules: InterlockRule[] = [];

  /**
   * Adds a rule, by default at the end; `before` / `after` name an existing rule's code. Codes
   * and numbers must be unique, and a built-in code keeps its number from INTERLOCK_REASONS.
   */
  function register(rule: InterlockRule, at: { before?: string; after?: string } = {}): void {
    if (rules.some((r) => r.code === rule.code)) throw new Error(`Interlock rule ${rule.code} is already registered`);
    const clash = rules.find((r) => r.number === rule.number);
    if (clash) throw new Error(`Interlock rule ${rule.code} uses number ${rule.number}, already used by ${clash.code}`);
    const known = (INTERLOCK_REASONS as Record<string, { number: number }>)[rule.code];
    if (known && known.number !== rule.number) throw new Error(`Interlock rule ${rule.code} must use its number ${known.number}`);
    if (rule.number === INTERLOCK_REASONS.UNKNOWN_UNIT.number) throw new Error(`Number ${rule.number} is reserved for UNKNOWN_UNIT`);
    const anchor = at.before ?? at.after;
    if (anchor === undefined) {
      rules.push(rule);
      return;
    }
    const i = rules.findIndex((r) => r.code === anchor);
    if (i < 0) throw new Error(`Interlock rule ${anchor} (to place ${rule.code} next to) is not registered`);
    rules.splice(at.before !== undefined ? i : i + 1, 0, rule);
  }

  for (const r of initial) register(r);

  function applicable(phase: Phase): InterlockRule[] {
    return rules.filter((r) => !r.phases || r.phases.includes(phase));
  }

  /**
   * Runs the prepare hooks once, one after the other (a transaction's connection takes one
   * query at a time), then every applicable rule for every subject.
   */
  async function evaluate(q: Queryable, call: InterlockCall, subjects: readonly InterlockSubject[]): Promise<Refusal[][]> {
    const active = applicable(call.phase);
    for (const r of active) if (r.prepare) await r.prepare(q, call, subjects);
    return subjects.map((s) => {
      const out: Refusal[] = [];
      for (const r of active) {
        const message = r.check(s, call);
        if (message === null) continue;
        out.push({ code: r.code, number: r.number, message });
        if (r.terminal) break;
      }
      return out;
    });
  }

  /** The reason table of this rule set: code, number and title, in evaluation order. */
  function reasons(): { code: string; number: number; title: string }[] {
    return [
      { code: 'UNKNOWN_UNIT', number: INTERLOCK_REASONS.UNKNOWN_UNIT.number, title: INTERLOCK_REASONS.UNKNOWN_UNIT.title },
      ...rules.map((r) => ({ code: r.code, number: r.number, title: r.title ?? (INTERLOCK_REASONS as Record<string, { title: string }>)[r.code]?.title ?? r.code })),
    ];
  }

  return { register, evaluate, reasons, list: (): readonly InterlockRule[] => [...rules] };
}
export type RuleSet = ReturnType<typeof createRuleSet>;
