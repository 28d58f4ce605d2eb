/**
 * Every reason the interlock can give for a no-go, with its stable integer. The integer is the
 * `FailureCode` of a CFX ValidateUnitsResponse; the code is what the REST API returns. Both
 * are part of the contract: add new reasons here, never renumber or rename one.
 *
 * Ranges: 1000–1099 this module; 1100–1199 holds; 1200–1299 dispositions / NCR;
 * 1300–1399 first article; 1400–1499 materials and setup; 1500–1599 equipment.
 */
export const INTERLOCK_REASONS = {
  UNKNOWN_UNIT: { number: 1001, title: 'No unit or panel has this identifier' },
  UNIT_SKIPPED: { number: 1002, title: 'The unit is a skipped (X-out) panel position' },
  WORK_ORDER_NOT_RELEASED: { number: 1010, title: 'The unit\'s work order is not released' },
  WORK_ORDER_ON_HOLD: { number: 1011, title: 'The unit\'s work order is on hold' },
  WORK_ORDER_COMPLETED: { number: 1012, title: 'The unit\'s work order is completed or closed' },
  WORK_ORDER_CANCELLED: { number: 1013, title: 'The unit\'s work order is cancelled' },
  NO_ACTIVE_WORK_ORDER: { number: 1020, title: 'The station\'s line has no active work order' },
  WRONG_PRODUCT: { number: 1021, title: 'The unit belongs to another product or work order than the line is running' },
  STATION_NOT_IN_ROUTE: { number: 1030, title: 'The route has no step for this station' },
  UNIT_SCRAPPED: { number: 1040, title: 'The unit is scrapped' },
  REPAIR_LOOPS_EXHAUSTED: { number: 1050, title: 'The unit failed more often than its route allows repairs' },
  FAILED_NO_DISPOSITION: { number: 1051, title: 'The unit failed and has no disposition' },
  UNIT_ON_HOLD: { number: 1060, title: 'The unit is on hold' },
  PANEL_ON_HOLD: { number: 1061, title: 'The unit\'s panel is on hold' },
  LOT_ON_HOLD: { number: 1062, title: 'The unit\'s production lot is on hold' },
  STEP_IN_PROGRESS: { number: 1070, title: 'The unit is being processed at another station' },
  STEP_ALREADY_PASSED: { number: 1071, title: 'The unit already passed this step' },
  STEP_OUT_OF_ORDER: { number: 1072, title: 'A required earlier step is missing or failed' },
  PROGRAM_MISMATCH: { number: 1080, title: 'The program revision differs from the build basis' },
  FIRST_ARTICLE_PENDING: { number: 1300, title: 'The first article of this step has not passed yet' },
} as const satisfies Record<string, { number: number; title: string }>;

export type BuiltInReasonCode = keyof typeof INTERLOCK_REASONS;
