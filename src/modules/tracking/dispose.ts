import type { Tx } from '../../platform/db.ts';
import type { UnitStatus } from './routing.ts';

/** The route state a disposition (repair, retest, scrap, use-as-is) gives a failed unit. */
export interface DispositionState {
  status: UnitStatus;
  nextStepSeq: number | null;
  returnStepSeq?: number | null;
  failedStepSeq?: number | null;
  repairLoops?: Record<string, number>;
  passedSteps?: number[];
}

const COLUMNS: Record<Exclude<keyof DispositionState, 'status' | 'nextStepSeq'>, string> = {
  returnStepSeq: 'return_step_seq',
  failedStepSeq: 'failed_step_seq',
  repairLoops: 'repair_loops',
  passedSteps: 'passed_steps',
};

/**
 * Moves a unit on after a disposition, in the caller's transaction. Tracking owns the unit's
 * route state, so this is the one place outside complete() that writes it. The hold the route
 * placed on failure is released with it; a hold a person placed stays.
 */
export async function applyDisposition(tx: Tx, unitId: number, next: DispositionState): Promise<void> {
  const sets = ['status = $2', 'next_step_seq = $3'];
  const params: unknown[] = [unitId, next.status, next.nextStepSeq];
  for (const [key, column] of Object.entries(COLUMNS) as [keyof typeof COLUMNS, string][]) {
    if (next[key] === undefined) continue;
    params.push(key === 'repairLoops' ? JSON.stringify(next[key]) : next[key]);
    sets.push(`${column} = $${params.length}`);
  }
  await tx.query(
    `UPDATE units SET ${sets.join(', ')}, on_hold = on_hold AND NOT failure_hold,
            hold_reason = CASE WHEN failure_hold THEN NULL ELSE hold_reason END, failure_hold = false, updated_at = now()
      WHERE id = $1`,
    params,
  );
}
