/**
 * Quality: the public face. Other modules import only from here.
 *
 * - inspection / test results with defects and measurements (`recordResults`, the door for CFX
 *   UnitsInspected / UnitsTested too), the defect catalogue, verification of machine calls;
 * - a station passage with its result and defects in one transaction (`completeWithResults`, the
 *   operator station's pass / fail), with the signed sign-off a route step may require
 *   (interlock rule SIGNOFF_REQUIRED);
 * - dispositions of failed units, NCRs, rework actions and their verification;
 * - electronic signatures (re-authentication, meaning, reason; SIGNING_POLICY);
 * - scoped holds with signed release, where-used and holding its result;
 * - first-article approval on top of tracking's first-article claims;
 * - closed-loop quality rules and their alerts;
 * - the interlock rules (HOLD_*, REPAIR_NOT_VERIFIED, FIRST_ARTICLE_NOT_APPROVED) and the per-unit
 *   blockers that packing and shipment clearance apply.
 */
export { createQualityService, type QualityService, type QualityDeps, type DefectCode } from './service.ts';
export { registerQualityRoutes, SignatureBody } from './routes.ts';
export { registerQualityInterlockRules, qualityInterlockRules } from './interlock.ts';
export {
  QUALITY_INTERLOCK_REASONS, HOLD_SCOPES, HOLD_SCOPE_REASON, UNIT_BLOCKERS, METHODS, INSPECTION_METHODS, TEST_METHODS, RESULTS, VERIFICATIONS, SIGNING_POLICY,
  CFX_INSPECTION_METHOD, CFX_TEST_METHOD, CFX_TEST_RESULT,
  type QualityInterlockCode, type HoldScope, type UnitBlockerCode, type Method, type ResultValue, type Verification, type SignedAction, type SignatureMeaning,
} from './reasons.ts';
export type { ResultInput, DefectInput, MeasurementInput, RecordOutcome, RecordedResult, Result, Defect, Measurement } from './results.ts';
export type { SignatureInput, Signature, Signer } from './signatures.ts';
export type { CompletionInput, CompletionOutcome, CompletionPosition } from './completions.ts';
export type { Hold, HoldInput, WhereUsedQuery, WhereUsedUnit } from './holds.ts';
export type { Disposition, DispositionInput, Decision, Ncr, NcrInput, NcrPatch, NcrUnitStatus, ReworkInput } from './dispositions.ts';
export type { QualityRule, RuleInput, RuleKind, RuleAction, Alert, ReadingForRules, FiredAlert } from './rules.ts';
export type { FirstArticleDecisionInput, FirstArticleState } from './first-article.ts';
export type { UnitBlocker } from './status.ts';
export { auditSignature } from './signatures.ts';
