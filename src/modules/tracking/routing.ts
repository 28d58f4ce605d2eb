import type { BasisStep, ParsedBasis } from '../work-orders/index.ts';

/**
 * Route logic as pure functions over a parsed build basis and a unit's state: which step a
 * station would perform for a unit, and where the unit goes after a result. Kept free of I/O so
 * every case can be tested directly and the interlock stays a matter of reading memory.
 */

export type UnitStatus = 'queued' | 'in_process' | 'failed' | 'completed' | 'scrapped' | 'skipped';

/** The part of a unit's state the route logic needs. */
export interface RouteState {
  status: UnitStatus;
  nextStepSeq: number | null;
  returnStepSeq: number | null;
  failedStepSeq: number | null;
  passedSteps: number[];
  repairLoops: Record<string, number>;
  onHold: boolean;
  holdReason: string | null;
}

/** A step may be left out when it is not required or only sampled. */
export const isOptional = (s: BasisStep): boolean => !s.required || Number(s.samplingRate) < 1;

export function nextMainStep(b: ParsedBasis, afterSeq: number): BasisStep | null {
  return b.main.find((s) => s.seq > afterSeq) ?? null;
}

export type Resolution =
  | { kind: 'ok'; step: BasisStep; skipped: BasisStep[] }
  | { kind: 'not_in_route' }
  | { kind: 'already_passed'; step: BasisStep; expected: BasisStep | null }
  | { kind: 'out_of_order'; step: BasisStep; expected: BasisStep | null; missing: BasisStep[] };

/**
 * Which route step this station would perform for the unit now. A station matches steps of
 * its type (pinned steps only their station). The unit's next step matches; so does a later
 * main-path step when every step in between may be left out. Otherwise the step was already
 * passed (and no repair loop sent the unit back), or it is out of order.
 */
export function resolveStep(b: ParsedBasis, station: { id: number; type: string }, unit: Pick<RouteState, 'status' | 'nextStepSeq' | 'passedSteps'>): Resolution {
  const candidates = b.steps.filter((s) => s.stationType === station.type && (s.stationId === null || s.stationId === station.id));
  if (candidates.length === 0) return { kind: 'not_in_route' };
  const next = unit.nextStepSeq;
  const expected = next === null ? null : (b.bySeq.get(next) ?? null);
  if (expected) {
    const exact = candidates.find((s) => s.seq === next);
    if (exact) return { kind: 'ok', step: exact, skipped: [] };
    if (!expected.isRepair) {
      for (const c of candidates) {
        if (c.isRepair || c.seq < next!) continue;
        const between = b.main.filter((s) => s.seq >= next! && s.seq < c.seq);
        if (between.every(isOptional)) return { kind: 'ok', step: c, skipped: between };
      }
    }
  }
  const passed = candidates.find((s) => unit.passedSteps.includes(s.seq));
  if (passed) return { kind: 'already_passed', step: passed, expected };
  const step = candidates.find((s) => !s.isRepair) ?? candidates[0]!;
  const missing = next === null ? [] : b.main.filter((s) => s.seq >= next && s.seq < step.seq && !isOptional(s));
  return { kind: 'out_of_order', step, expected, missing };
}

export type Result = 'pass' | 'fail' | 'scrap';
export type Outcome = 'next' | 'completed' | 'repair' | 'returned' | 'hold' | 'scrap' | 'loops_exhausted';

/** The unit's state after a result at a step, and what the route made of it. */
export function routeAfter(b: ParsedBasis, unit: RouteState, step: BasisStep, result: Result): { state: RouteState; outcome: Outcome; repairLoop: number | null } {
  const base: RouteState = { ...unit, status: 'queued', failedStepSeq: null };
  const passedSteps = unit.passedSteps.includes(step.seq) ? unit.passedSteps : [...unit.passedSteps, step.seq];
  if (result === 'scrap' || (result === 'fail' && step.onFail === 'scrap')) {
    return { state: { ...base, status: 'scrapped', nextStepSeq: null, returnStepSeq: null, failedStepSeq: step.seq }, outcome: 'scrap', repairLoop: null };
  }
  if (result === 'pass') {
    if (step.isRepair) {
      // Back to where the failure said to return; a repair entered some other way continues the main path.
      const back = unit.returnStepSeq ?? nextMainStep(b, step.seq)?.seq ?? null;
      return { state: { ...base, passedSteps, nextStepSeq: back, returnStepSeq: null, status: back === null ? 'completed' : 'queued' }, outcome: back === null ? 'completed' : 'returned', repairLoop: null };
    }
    const n = nextMainStep(b, step.seq);
    if (!n) return { state: { ...base, passedSteps, nextStepSeq: null, returnStepSeq: null, status: 'completed' }, outcome: 'completed', repairLoop: null };
    return { state: { ...base, passedSteps, nextStepSeq: n.seq }, outcome: 'next', repairLoop: null };
  }
  // fail
  const failed = (holdReason: string, outcome: Outcome) => ({
    state: { ...base, status: 'failed' as const, nextStepSeq: step.seq, failedStepSeq: step.seq, onHold: true, holdReason },
    outcome,
    repairLoop: null,
  });
  if (step.onFail === 'repair' && step.repairStepSeq !== null) {
    const loops = unit.repairLoops[String(step.seq)] ?? 0;
    if (loops >= step.maxRepairLoops) {
      return failed(`failed at step ${step.seq} ${step.name} after ${loops} repair loop(s); the route allows ${step.maxRepairLoops}`, 'loops_exhausted');
    }
    return {
      state: {
        ...base, nextStepSeq: step.repairStepSeq, returnStepSeq: step.returnStepSeq ?? step.seq,
        repairLoops: { ...unit.repairLoops, [String(step.seq)]: loops + 1 },
      },
      outcome: 'repair',
      repairLoop: loops + 1,
    };
  }
  return failed(`failed at step ${step.seq} ${step.name}`, 'hold');
}

/** Whether a failed unit has used up the repair loops of the step it failed at. */
export function loopsExhausted(b: ParsedBasis, unit: Pick<RouteState, 'failedStepSeq' | 'repairLoops'>): boolean {
  const s = unit.failedStepSeq === null ? undefined : b.bySeq.get(unit.failedStepSeq);
  return !!s && s.onFail === 'repair' && (unit.repairLoops[String(s.seq)] ?? 0) >= s.maxRepairLoops;
}
