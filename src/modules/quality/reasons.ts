/**
 * The stable vocabularies of the quality module: its interlock reasons (code + CFX FailureCode,
 * in the ranges tracking reserved: 1100–1199 holds, 1200–1299 dispositions / NCR, 1300–1399
 * first article and step sign-offs), the reasons a unit may not be packed or shipped, inspection methods, and who
 * may sign what. Never rename or renumber an entry; add new ones.
 */

export const QUALITY_INTERLOCK_REASONS = {
  HOLD_UNIT: { number: 1101, title: 'The unit is held (unit hold or a held list of units)' },
  HOLD_PANEL: { number: 1102, title: "The unit's panel is held" },
  HOLD_LOT: { number: 1103, title: "The unit's production lot is held" },
  HOLD_WORK_ORDER: { number: 1104, title: "The unit's work order is held" },
  HOLD_PRODUCT_REVISION: { number: 1105, title: "The unit's product revision is held" },
  HOLD_MATERIAL_LOT: { number: 1106, title: 'The unit contains material of a held material lot' },
  HOLD_PACKAGE: { number: 1107, title: 'The unit contains material of a held package' },
  HOLD_STATION: { number: 1108, title: 'The station is held' },
  HOLD_STATION_WINDOW: { number: 1109, title: 'The unit was processed at a station during a held time window' },
  REPAIR_NOT_VERIFIED: { number: 1201, title: 'The unit was repaired and must first pass its re-inspection or retest' },
  FIRST_ARTICLE_NOT_APPROVED: { number: 1301, title: 'The first article of this step has no signed first-article inspection approval' },
  SIGNOFF_REQUIRED: { number: 1310, title: 'The route step needs a signed sign-off of its sign-off checks before the unit may complete it' },
} as const satisfies Record<string, { number: number; title: string }>;

export type QualityInterlockCode = keyof typeof QUALITY_INTERLOCK_REASONS;

export const HOLD_SCOPES = ['unit', 'units', 'panel', 'lot', 'work_order', 'product_revision', 'material_lot', 'package', 'station', 'station_window'] as const;
export type HoldScope = (typeof HOLD_SCOPES)[number];

/** The interlock reason each hold scope refuses with. */
export const HOLD_SCOPE_REASON: Record<HoldScope, QualityInterlockCode> = {
  unit: 'HOLD_UNIT', units: 'HOLD_UNIT', panel: 'HOLD_PANEL', lot: 'HOLD_LOT', work_order: 'HOLD_WORK_ORDER', product_revision: 'HOLD_PRODUCT_REVISION',
  material_lot: 'HOLD_MATERIAL_LOT', package: 'HOLD_PACKAGE', station: 'HOLD_STATION', station_window: 'HOLD_STATION_WINDOW',
};

/**
 * Why a unit may not be packed or shipped (the clearance check and packing share them). Each
 * blocker names the unit and the item in its sentence.
 */
export const UNIT_BLOCKERS = {
  UNIT_SCRAPPED: 'The unit is scrapped',
  UNIT_FAILED: 'The unit failed a step and has no disposition',
  ROUTE_INCOMPLETE: 'The unit has not passed every required step of its route',
  MISSING_REQUIRED_RESULT: 'The unit has no inspection / test result for a step the quality plan requires',
  FAILED_REQUIRED_RESULT: "The unit's latest result for a required step failed and was not accepted",
  OPEN_DISPOSITION: 'A repair or retest disposition of the unit is not verified yet',
  UNVERIFIED_REPAIR: 'The unit was repaired and has not passed its re-inspection / retest',
  OPEN_NCR: 'An open NCR covers the unit (directly, or its lot or work order)',
  ON_HOLD: 'A quality hold covers the unit',
  TRACKING_HOLD: 'The unit, its panel, lot or work order is flagged on hold in tracking',
  TRACE_BELOW_DEPTH: 'The unit is traced below the depth its quality plan requires',
  MATERIAL_TRACE_MISSING: 'A placement passage of the unit has no recorded material (feeder setup) for the material level the plan requires',
} as const;
export type UnitBlockerCode = keyof typeof UNIT_BLOCKERS;

export const INSPECTION_METHODS = ['spi', 'aoi', 'axi', 'visual', 'fai'] as const;
export const TEST_METHODS = ['ict', 'fct', 'flying-probe', 'boundary-scan'] as const;
export const METHODS = [...INSPECTION_METHODS, ...TEST_METHODS, 'other'] as const;
export type Method = (typeof METHODS)[number];
export const RESULTS = ['pass', 'fail', 'error', 'aborted', 'skipped'] as const;
export type ResultValue = (typeof RESULTS)[number];
export const VERIFICATIONS = ['not_verified', 'confirmed', 'false_call', 'accepted', 'repaired'] as const;
export type Verification = (typeof VERIFICATIONS)[number];

/**
 * CFX → quality vocabulary, so a CFX handler translates UnitsInspected / UnitsTested with table
 * lookups (InspectionMethod, TestMethod, TestResult, VerificationResult).
 */
export const CFX_INSPECTION_METHOD: Record<string, Method> = { Human: 'visual', AOI: 'aoi', SPI: 'spi', AXI: 'axi' };
export const CFX_TEST_METHOD: Record<string, Method> = { Human: 'other', Automated: 'fct', ICT: 'ict', FPT: 'flying-probe', FCT: 'fct', BST: 'boundary-scan' };
export const CFX_TEST_RESULT: Record<string, ResultValue> = { Passed: 'pass', Failed: 'fail', Error: 'error', Aborted: 'aborted', Skipped: 'skipped' };

/** What may be signed, with the signature's meaning and the roles whose users may sign it. */
export const SIGNING_POLICY = {
  'disposition.use-as-is': { meanings: ['accepted'], roles: ['quality-engineer'] },
  /** Repair or retest beyond the route's repair-loop limit: a review-board decision. */
  'disposition.beyond-loop-limit': { meanings: ['approved'], roles: ['quality-engineer'] },
  'ncr.close': { meanings: ['closed'], roles: ['quality-engineer'] },
  'hold.release': { meanings: ['released'], roles: ['quality-engineer'] },
  'first-article.decide': { meanings: ['approved', 'rejected'], roles: ['quality-engineer', 'technician'] },
  'shipment.release': { meanings: ['released'], roles: ['quality-engineer'] },
  /** The sign-off checks of a route step, signed when a unit completes it (the operator, or a lead / inspector at the station). */
  'step.signoff': { meanings: ['verified'], roles: ['operator', 'technician', 'quality-engineer', 'process-engineer'] },
} as const satisfies Record<string, { meanings: readonly string[]; roles: readonly string[] }>;
export type SignedAction = keyof typeof SIGNING_POLICY;
export type SignatureMeaning = 'approved' | 'rejected' | 'released' | 'closed' | 'accepted' | 'verified';
