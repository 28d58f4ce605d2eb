/** Units, panels, lots, the interlock and WIP. Other modules import only this file. */
export {
  createTrackingService, type TrackingService, type TrackingOptions, type StationSelector, type ValidateInput, type StartInput, type CompleteInput,
  type Verdict, type UnitVerdict, type CompleteResult, type BatchResult, type PassageRecord, type Unit, type ProcessRecord, type Panel, type Lot, type HoldScope,
} from './service.ts';
export { registerTrackingRoutes } from './routes.ts';
export {
  createRuleSet, DEFAULT_INTERLOCK_RULES, type RuleSet, type InterlockRule, type InterlockCall, type InterlockSubject, type LoadedUnit, type Refusal,
  type Phase, type StationRef, type EquipmentRef,
} from './interlock.ts';
export { INTERLOCK_REASONS, type BuiltInReasonCode } from './reasons.ts';
export { resolveStep, routeAfter, nextMainStep, isOptional, loopsExhausted, type Resolution, type RouteState, type UnitStatus, type Result, type Outcome } from './routing.ts';
export { applyDisposition, type DispositionState } from './dispose.ts';
