import { Type, type TSchema } from 'typebox';
import { errors, who, type App } from '../../platform/http.ts';
import { R, type Role } from '../../platform/principal.ts';
import { DateTime, Enum, NullableDateTime } from '../../platform/schema.ts';
import { HOLD_SCOPES, METHODS, RESULTS } from './reasons.ts';
import { RULE_ACTIONS, RULE_KINDS } from './rules.ts';
import type { QualityService } from './service.ts';

const Id = Type.Integer({ minimum: 1 });
const IdParams = Type.Object({ id: Id });
const NullableInt = Type.Union([Type.Integer(), Type.Null()]);
const NullableString = Type.Union([Type.String(), Type.Null()]);
const NullableNumber = Type.Union([Type.Number(), Type.Null()]);
const OptStr = (description: string, maxLength = 200) => Type.Optional(Type.Union([Type.String({ maxLength }), Type.Null()], { description }));
const Reason = (description = 'Why (kept in the audit trail)') => Type.String({ minLength: 3, maxLength: 2000, description });
const Serial = Type.String({ minLength: 1, maxLength: 80, description: 'Unit serial' });
const WorkOrderRef = Type.Union([Id, Type.String({ minLength: 1 })], { description: 'Work order id or number' });
/** Anything the response carries beyond the documented fields is passed through. */
const Open = (props: Record<string, TSchema>, description?: string) => Type.Unsafe<unknown>(Type.Object(props, { additionalProperties: true, ...(description ? { description } : {}) }));
const Limit = Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, description: 'Most rows to return' }));

const read = R.masterDataRead;
const people = R.people;
/** Record results: the floor, machines and integrations. */
const RECORD: readonly Role[] = ['admin', 'operator', 'technician', 'process-engineer', 'quality-engineer', 'machine', 'integration'];
/** Complete a passage with its result at a station (the operator screen; machines too). */
const COMPLETE: readonly Role[] = ['admin', 'operator', 'technician', 'process-engineer', 'quality-engineer', 'machine'];
/** Verify machine calls. */
const VERIFY: readonly Role[] = ['admin', 'operator', 'technician', 'process-engineer', 'quality-engineer'];
/** Disposition failed units and record rework. */
const REPAIR: readonly Role[] = ['admin', 'technician', 'quality-engineer'];
/** Place holds (anyone responsible on the floor); releasing one is signed by a quality engineer. */
const HOLD: readonly Role[] = ['admin', 'quality-engineer', 'process-engineer', 'technician', 'operator'];
/** Decide a first article (signed by the inspector: quality engineer or technician). */
const INSPECT: readonly Role[] = ['admin', 'quality-engineer', 'technician'];
/** Ask for a new first article (setup change, changeover). */
const REQUIRE_FA: readonly Role[] = ['admin', 'quality-engineer', 'process-engineer', 'technician', 'integration'];
/** Work on alerts. */
const ALERTS: readonly Role[] = ['admin', 'quality-engineer', 'process-engineer'];

export const SignatureBody = Type.Object(
  {
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 63, description: 'The signing user; a logged-in user signs as themself (may be omitted)' })),
    password: Type.String({ minLength: 1, maxLength: 1000, description: "The signer's password, re-entered at the moment of signing" }),
    reason: Reason('Why the signer signs'),
    meaning: Type.Optional(Enum(['approved', 'rejected', 'released', 'closed', 'accepted', 'verified'] as const, { description: 'What the signature means (defaults to the action’s meaning)' })),
  },
  { additionalProperties: false, description: 'Electronic signature (21 CFR Part 11): re-authentication, meaning and reason' },
);

const StationFields = {
  stationId: Type.Optional(Type.Integer({ minimum: 1, description: 'The station by id' })),
  station: Type.Optional(Type.String({ minLength: 1, description: 'The station by code' })),
  equipment: Type.Optional(Type.String({ minLength: 1, description: 'The machine: equipment code or CFX handle (selects its station)' })),
};
const DefectBody = Type.Object(
  {
    code: Type.String({ minLength: 1, maxLength: 64, description: 'Defect code (catalogue or machine code)' }),
    category: OptStr('Defect category; taken from the catalogue when omitted', 64),
    refdes: OptStr('Reference designator, e.g. U7', 32),
    partNumber: OptStr('Part number of the component', 100),
    imageRef: OptStr('Where the defect image is (URL or key)', 1000),
    description: OptStr('Free text', 2000),
    test: OptStr('The test that found it', 200),
    machineVerification: OptStr('The machine’s verification, as sent (CFX VerificationResult)', 40),
  },
  { additionalProperties: false },
);
const MeasurementBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200, description: 'Measurement / test / net name' }),
    test: OptStr('The test it belongs to', 200),
    value: Type.Optional(Type.Union([Type.Number(), Type.Null()], { description: 'Measured value' })),
    unit: OptStr('Unit of the value', 32),
    lowerLimit: Type.Optional(Type.Union([Type.Number(), Type.Null()], { description: 'Lowest acceptable value' })),
    upperLimit: Type.Optional(Type.Union([Type.Number(), Type.Null()], { description: 'Highest acceptable value' })),
    nominal: Type.Optional(Type.Union([Type.Number(), Type.Null()], { description: 'Expected value' })),
    passed: Type.Optional(Type.Union([Type.Boolean(), Type.Null()], { description: 'Pass / fail as reported; derived from the limits when omitted' })),
  },
  { additionalProperties: false },
);
const ResultBody = Type.Object(
  {
    ...StationFields,
    unit: Type.String({ minLength: 1, maxLength: 80, description: 'Unit serial, or a panel ID together with position' }),
    position: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { description: 'Panel position when unit is a panel ID' })),
    method: Enum(METHODS, { description: 'Inspection or test method' }),
    stepSeq: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { description: 'Route step the result belongs to' })),
    programName: OptStr('Inspection / test program name', 128),
    programRevision: OptStr('Program revision', 32),
    operator: OptStr('Operator or inspector', 100),
    result: Enum(RESULTS, { description: 'Overall result' }),
    retest: Type.Optional(Type.Union([Type.Boolean(), Type.Null()], { description: 'A retest; derived from earlier results when omitted' })),
    retestCount: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'Earlier attempts; derived when omitted' })),
    fixture: OptStr('Test fixture', 100),
    startedAt: Type.Optional(NullableDateTime({ description: 'When the inspection / test began' })),
    completedAt: Type.Optional(NullableDateTime({ description: 'When it ended (default: now)' })),
    defects: Type.Optional(Type.Array(DefectBody, { maxItems: 1000, description: 'Defects found (machine calls)' })),
    measurements: Type.Optional(Type.Array(MeasurementBody, { maxItems: 10000, description: 'Measurements with limits' })),
    source: OptStr('Where the record came from, e.g. cfx', 40),
    sourceId: OptStr('Its id there, e.g. the CFX message UniqueID', 200),
    notes: OptStr('Free text', 2000),
  },
  { additionalProperties: false },
);
const ResultProps = {
  id: Type.Integer(), unitId: Type.Integer(), serial: Type.String(), workOrderId: Type.Integer(), method: Type.String(), stationId: Type.Integer(), stationCode: Type.String(),
  stationType: Type.String(), result: Type.String(), verifiedResult: NullableString, effectiveResult: Type.String({ description: 'The verified result when calls were verified, else the result' }),
  retest: Type.Boolean(), retestCount: Type.Integer(), defectCount: Type.Integer(), failedMeasurements: Type.Integer(), completedAt: DateTime(), recordedAt: DateTime(),
};
const ResultSchema = Open(ResultProps);
const DefectSchema = Open({
  id: Type.Integer(), resultId: Type.Integer(), unitId: Type.Integer(), code: Type.String(), category: NullableString, refdes: NullableString,
  verification: Type.String({ description: 'not_verified, confirmed, false_call, accepted or repaired' }), verifiedBy: NullableString, verifiedAt: NullableDateTime(),
});
const DefectWithResultSchema = Open({
  id: Type.Integer(), resultId: Type.Integer(), unitId: Type.Integer(), code: Type.String(), category: NullableString, refdes: NullableString,
  verification: Type.String({ description: 'not_verified, confirmed, false_call, accepted or repaired' }), verifiedBy: NullableString, verifiedAt: NullableDateTime(),
  serial: Type.String(), stationId: Type.Integer(), stationCode: Type.String(), completedAt: DateTime({ description: 'When the result that found it was completed' }),
});
const HoldProps = {
  id: Type.Integer(), number: Type.String(), scope: Type.String(), reasonCode: Type.String(), reason: Type.String(), source: Type.String(), placedAt: DateTime(), placedBy: Type.String(),
  releasedAt: NullableDateTime(), releasedBy: NullableString, releaseReason: NullableString, releaseSignatureId: NullableInt,
};
const HoldSchema = Open(HoldProps);
const UnitRef = Type.Object({ unitId: Type.Integer(), serial: Type.String(), workOrderId: Type.Integer(), workOrderNumber: Type.String(), status: Type.String() });
const DispositionSchema = Open({
  id: Type.Integer(), unitId: Type.Integer(), serial: Type.String(), decision: Type.String(), failedStepSeq: NullableInt, verifyStepSeq: NullableInt, reason: Type.String(),
  signatureId: NullableInt, createdAt: DateTime(), createdBy: Type.String(), verified: Type.Union([Type.Boolean(), Type.Null()], { description: 'Repair / retest verified by a later pass' }),
});
const NcrSchema = Open({ id: Type.Integer(), number: Type.String(), title: Type.String(), subjectKind: Type.String(), state: Type.String(), createdAt: DateTime(), createdBy: Type.String() });
const RuleSchema = Open({
  id: Type.Integer(), code: Type.String(), name: Type.String(), kind: Type.String(), active: Type.Boolean(), productId: NullableInt, method: NullableString,
  params: Open({}), actions: Type.Array(Type.String()), stationId: NullableInt, equipmentId: NullableInt, readingName: NullableString,
});
const AlertSchema = Open({
  id: Type.Integer(), ruleId: Type.Integer(), ruleCode: Type.String(), kind: Type.String(), workOrderId: NullableInt, workOrderNumber: NullableString, stationId: NullableInt,
  key: Type.String(), message: Type.String(), evidence: Open({}, 'What fired the rule'), actionsTaken: Type.Array(Type.Unknown()), state: Type.String(), firedAt: DateTime(),
});
const DefectCodeSchema = Type.Object({ id: Type.Integer(), code: Type.String(), category: Type.String(), description: Type.String(), active: Type.Boolean() });
const BlockerSchema = Type.Object({ unitId: Type.Integer(), serial: Type.String(), code: Type.String({ description: 'Stable blocker code' }), message: Type.String() });
const RecordOutcomeSchema = Type.Object({
  results: Type.Array(Type.Object({ id: Type.Integer(), unitId: Type.Integer(), serial: Type.String(), workOrderId: Type.Integer(), method: Type.String(), result: Type.String() })),
  alerts: Type.Array(Type.Object({ id: Type.Integer(), ruleCode: Type.String(), kind: Type.String(), key: Type.String(), message: Type.String(), actions: Type.Array(Type.String()) }), {
    description: 'Alerts the quality rules fired on this batch',
  }),
});
const SignoffChecks = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 100, description: 'Codes of the step checks signed' });
const CompletionBody = Type.Object(
  {
    ...StationFields,
    identifier: Type.String({ minLength: 1, maxLength: 80, description: 'Unit serial or panel ID as scanned' }),
    result: Enum(['pass', 'fail'] as const, { description: 'Result of the unit, or of every panel position not listed in positions' }),
    defects: Type.Optional(Type.Array(DefectBody, { maxItems: 200, description: 'Defects of a failed unit (required then); codes of the active defect catalogue' })),
    positions: Type.Optional(Type.Array(Type.Object({
      position: Type.Integer({ minimum: 1 }), result: Enum(['pass', 'fail'] as const),
      defects: Type.Optional(Type.Array(DefectBody, { maxItems: 200, description: 'Defects of a failed position (or the top-level defects)' })),
    }, { additionalProperties: false }), { maxItems: 500 })),
    method: Type.Optional(Enum(METHODS, { description: "Inspection method of the result; default: the station type's, or other for a failure elsewhere" })),
    operator: OptStr('Operator badge / name; defaults to the logged-in user', 100),
    notes: OptStr('Free text, kept on the process record and the result', 2000),
    programName: OptStr('Program the station runs', 128),
    programRevision: OptStr('Program revision', 32),
    signoff: Type.Optional(Type.Object({
      stepSeq: Type.Integer({ minimum: 1, description: 'The route step signed (as the validate verdict named it)' }),
      checks: SignoffChecks,
      signature: SignatureBody,
    }, { additionalProperties: false, description: "Signed sign-off of the step's sign-off checks (required where the step has any: SIGNOFF_REQUIRED)" })),
  },
  { additionalProperties: false },
);
const CompletionSchema = Type.Object({
  passage: Open({
    go: Type.Boolean(), identifier: Type.String(), kind: Type.String(), station: Open({ id: Type.Integer(), code: Type.String(), type: Type.String() }),
    workOrder: Type.Union([Type.Object({ id: Type.Integer(), number: Type.String() }), Type.Null()]), units: Type.Array(Open({ serial: Type.String(), result: Type.String() })),
    records: Type.Array(Type.Object({
      unitId: Type.Integer(), serial: Type.String(), position: NullableInt, recordId: Type.Integer(), visit: Type.Integer(), stepSeq: Type.Integer(),
      result: Type.String(), outcome: Type.String({ description: 'next, completed, repair, returned, hold, scrap or loops_exhausted' }), status: Type.String(),
      nextStepSeq: NullableInt, onHold: Type.Boolean(),
    })),
  }, 'The passage, as /tracking/complete returns it'),
  results: RecordOutcomeSchema.properties.results,
  alerts: RecordOutcomeSchema.properties.alerts,
  signature: Type.Union([Open({ id: Type.Integer(), signerUsername: Type.String(), signerName: Type.String(), meaning: Type.String(), reason: Type.String(), signedAt: DateTime() }), Type.Null()]),
});
const tags = ['quality'];

export function registerQualityRoutes(app: App, svc: QualityService) {
  // ── results, defects, verification ──
  app.post('/api/v1/quality/results', {
    config: { roles: RECORD },
    schema: {
      tags, summary: 'Record inspection / test results (one per unit) with defects and measurements; the quality rules run on them',
      body: Type.Object({ results: Type.Array(ResultBody, { minItems: 1, maxItems: 5000 }) }, { additionalProperties: false }),
      response: { 201: RecordOutcomeSchema, ...errors(400, 403, 404, 422) },
    },
    handler: async (req, reply) => reply.code(201).send(await svc.recordResults(who(req), req.body.results)),
  });
  app.post('/api/v1/quality/completions', {
    config: { roles: COMPLETE },
    schema: {
      tags, summary: 'A unit or panel completes its step at a station together with its inspection result and defects, in one transaction',
      description:
        "The operator station's pass and fail. The passage (interlock judged, route decides where the unit goes), the result of each unit (method from the station type, defects of the failed ones from the active catalogue) and the signed sign-off of the step's sign-off checks are written together, or nothing is: INTERLOCK_REFUSED (with the verdict; SIGNOFF_REQUIRED when a sign-off is missing), REFERENCE_NOT_FOUND for an unknown defect code, SIGNATURE_INVALID for a wrong password, VALIDATION_FAILED for a failure without defects.",
      body: CompletionBody, response: { 201: CompletionSchema, ...errors(400, 401, 403, 404, 409, 422) },
    },
    handler: async (req, reply) => reply.code(201).send(await svc.completeWithResults(who(req), req.body)),
  });
  app.get('/api/v1/quality/results', {
    config: { roles: read },
    schema: {
      tags, summary: 'Results, newest first',
      querystring: Type.Object({
        serial: Type.Optional(Type.String()), workOrderId: Type.Optional(Id), stationId: Type.Optional(Id), method: Type.Optional(Enum(METHODS)), result: Type.Optional(Enum(RESULTS)),
        afterId: Type.Optional(Id), limit: Limit,
      }, { additionalProperties: false }),
      response: { 200: Type.Array(ResultSchema) },
    },
    handler: async (req) => svc.listResults(req.query),
  });
  app.get('/api/v1/quality/results/:id', {
    config: { roles: read },
    schema: { tags, summary: 'One result with its defects and measurements', params: IdParams, response: { 200: Open({ ...ResultProps, defects: Type.Array(DefectSchema), measurements: Type.Array(Open({})) }), ...errors(404) } },
    handler: async (req) => svc.getResult(req.params.id),
  });
  app.get('/api/v1/quality/defects', {
    config: { roles: read },
    schema: {
      tags, summary: 'Defects (machine calls) with the unit, station and time of their result',
      querystring: Type.Object({
        serial: Type.Optional(Type.String()), workOrderId: Type.Optional(Id), code: Type.Optional(Type.String()), refdes: Type.Optional(Type.String()),
        verification: Type.Optional(Enum(['not_verified', 'confirmed', 'false_call', 'accepted', 'repaired'] as const)), stationId: Type.Optional(Id),
        order: Type.Optional(Enum(['newest', 'oldest'] as const, { description: 'newest first (default) or oldest first (a review queue)' })), limit: Limit,
      }, { additionalProperties: false }),
      response: { 200: Type.Array(DefectWithResultSchema) },
    },
    handler: async (req) => svc.listDefects(req.query),
  });
  app.post('/api/v1/quality/defects/verify', {
    config: { roles: VERIFY },
    schema: {
      tags, summary: 'Verify machine calls: confirmed defect or false call (false calls are kept and counted)',
      body: Type.Object({
        items: Type.Array(Type.Object({ defectId: Id, verdict: Enum(['confirmed', 'false_call', 'accepted'] as const, { description: 'The operator’s verdict' }) }, { additionalProperties: false }), { minItems: 1, maxItems: 1000 }),
      }, { additionalProperties: false }),
      response: { 200: Type.Array(DefectSchema), ...errors(400, 409, 422) },
    },
    handler: async (req) => svc.verifyDefects(who(req), req.body.items),
  });
  app.get('/api/v1/quality/false-calls', {
    config: { roles: read },
    schema: {
      tags, summary: 'Machine calls and their verification per station, program and defect code (false-call rate, for AOI tuning)',
      querystring: Type.Object({
        workOrderId: Type.Optional(Id), stationId: Type.Optional(Id), method: Type.Optional(Enum(METHODS)),
        since: Type.Optional(Type.String({ format: 'date-time' })), until: Type.Optional(Type.String({ format: 'date-time' })),
      }, { additionalProperties: false }),
      response: { 200: Type.Array(Open({ stationCode: Type.String(), method: Type.String(), code: Type.String(), calls: Type.Integer(), confirmed: Type.Integer(), falseCalls: Type.Integer(), unverified: Type.Integer(), falseCallRate: NullableNumber })) },
    },
    handler: async (req) => svc.falseCallStats(req.query),
  });

  // ── defect catalogue ──
  app.get('/api/v1/quality/defect-categories', {
    config: { roles: read },
    schema: { tags, summary: 'Defect categories', response: { 200: Type.Array(Type.Object({ code: Type.String(), name: Type.String(), description: Type.String() })) } },
    handler: async () => svc.listDefectCategories(),
  });
  app.get('/api/v1/quality/defect-codes', {
    config: { roles: read },
    schema: { tags, summary: 'The defect-code catalogue', response: { 200: Type.Array(DefectCodeSchema) } },
    handler: async () => svc.listDefectCodes(),
  });
  const DefectCodeBody = {
    code: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$', description: 'Defect code' }),
    category: Type.String({ minLength: 2, maxLength: 40, description: 'Category code (see defect-categories)' }),
    description: Type.Optional(Type.String({ maxLength: 500, description: 'What it means' })),
    active: Type.Optional(Type.Boolean({ description: 'Offered for new findings' })),
  };
  app.post('/api/v1/quality/defect-codes', {
    config: { roles: R.quality },
    schema: { tags, summary: 'Add a defect code', body: Type.Object(DefectCodeBody, { additionalProperties: false }), response: { 201: DefectCodeSchema, ...errors(400, 409, 422) } },
    handler: async (req, reply) => reply.code(201).send(await svc.createDefectCode(who(req), { description: '', active: true, ...req.body })),
  });
  app.patch('/api/v1/quality/defect-codes/:id', {
    config: { roles: R.quality },
    schema: {
      tags, summary: 'Change a defect code', params: IdParams,
      body: Type.Object({ category: Type.Optional(DefectCodeBody.category), description: DefectCodeBody.description, active: DefectCodeBody.active }, { additionalProperties: false }),
      response: { 200: DefectCodeSchema, ...errors(400, 404, 422) },
    },
    handler: async (req) => svc.updateDefectCode(who(req), req.params.id, req.body),
  });

  // ── dispositions, NCRs, rework ──
  app.post('/api/v1/quality/dispositions', {
    config: { roles: REPAIR },
    schema: {
      tags, summary: 'Disposition a failed unit: repair, retest, scrap or use-as-is (signed by a quality engineer)',
      body: Type.Object({
        serial: Serial,
        decision: Enum(['repair', 'retest', 'scrap', 'use-as-is'] as const, { description: 'What happens to the unit' }),
        reason: Reason(),
        instructions: Type.Optional(Type.String({ maxLength: 4000, description: 'Repair instructions' })),
        ncrId: Type.Optional(Type.Union([Id, Type.Null()], { description: 'The NCR this belongs to (links the unit)' })),
        resultId: Type.Optional(Type.Union([Id, Type.Null()], { description: 'The failed result it answers' })),
        verifyStepSeq: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { description: 'For a unit not failed in tracking: the step whose pass verifies it' })),
        signature: Type.Optional(SignatureBody),
      }, { additionalProperties: false }),
      response: { 201: DispositionSchema, ...errors(400, 401, 403, 404, 409, 422) },
    },
    handler: async (req, reply) => reply.code(201).send(await svc.dispose(who(req), req.body)),
  });
  app.get('/api/v1/quality/dispositions', {
    config: { roles: read },
    schema: { tags, summary: 'Dispositions', querystring: Type.Object({ serial: Type.Optional(Type.String()), workOrderId: Type.Optional(Id), ncrId: Type.Optional(Id), limit: Limit }, { additionalProperties: false }), response: { 200: Type.Array(DispositionSchema) } },
    handler: async (req) => svc.listDispositions(req.query),
  });
  app.get('/api/v1/quality/dispositions/:id', {
    config: { roles: read },
    schema: { tags, summary: 'One disposition', params: IdParams, response: { 200: DispositionSchema, ...errors(404) } },
    handler: async (req) => svc.getDisposition(req.params.id),
  });
  const NcrText = {
    description: Type.Optional(Type.String({ maxLength: 10000, description: 'What is nonconforming' })),
    containment: Type.Optional(Type.String({ maxLength: 10000, description: 'Containment actions' })),
    rootCause: Type.Optional(Type.String({ maxLength: 10000, description: 'Root cause' })),
    correctiveAction: Type.Optional(Type.String({ maxLength: 10000, description: 'Corrective action' })),
    repairInstructions: Type.Optional(Type.String({ maxLength: 10000, description: 'How to repair affected units' })),
  };
  app.post('/api/v1/quality/ncrs', {
    config: { roles: R.quality },
    schema: {
      tags, summary: 'Raise an NCR against a unit, production lot, work order or material lot',
      body: Type.Object({
        title: Type.String({ minLength: 3, maxLength: 200, description: 'Short title' }),
        subject: Type.Union([
          Type.Object({ kind: Type.Literal('unit'), serial: Serial }, { additionalProperties: false }),
          Type.Object({ kind: Type.Literal('lot'), lot: Type.String({ minLength: 1, description: 'Production lot code' }) }, { additionalProperties: false }),
          Type.Object({ kind: Type.Literal('work_order'), workOrder: WorkOrderRef }, { additionalProperties: false }),
          Type.Object({ kind: Type.Literal('material_lot'), materialLotId: Id }, { additionalProperties: false }),
        ], { description: 'What the NCR is raised against' }),
        ...NcrText,
        serials: Type.Optional(Type.Array(Serial, { maxItems: 100000, description: 'Affected units to link' })),
        linkSubjectUnits: Type.Optional(Type.Boolean({ description: 'Link every unit of the lot / work order (or built with the material lot)' })),
      }, { additionalProperties: false }),
      response: { 201: NcrSchema, ...errors(400, 404, 422) },
    },
    handler: async (req, reply) => reply.code(201).send(await svc.createNcr(who(req), req.body)),
  });
  app.get('/api/v1/quality/ncrs', {
    config: { roles: read },
    schema: { tags, summary: 'NCRs', querystring: Type.Object({ state: Type.Optional(Enum(['open', 'closed'] as const)), workOrderId: Type.Optional(Id), serial: Type.Optional(Type.String()), limit: Limit }, { additionalProperties: false }), response: { 200: Type.Array(NcrSchema) } },
    handler: async (req) => svc.listNcrs(req.query),
  });
  app.get('/api/v1/quality/ncrs/:id', {
    config: { roles: read },
    schema: { tags, summary: 'One NCR with its units (and each unit’s status), dispositions and rework', params: IdParams, response: { 200: NcrSchema, ...errors(404) } },
    handler: async (req) => svc.getNcr(req.params.id),
  });
  app.patch('/api/v1/quality/ncrs/:id', {
    config: { roles: R.quality },
    schema: { tags, summary: 'Update an open NCR (containment, root cause, corrective action, repair instructions)', params: IdParams, body: Type.Object({ title: Type.Optional(Type.String({ minLength: 3, maxLength: 200 })), ...NcrText }, { additionalProperties: false }), response: { 200: NcrSchema, ...errors(400, 404, 409) } },
    handler: async (req) => svc.updateNcr(who(req), req.params.id, req.body),
  });
  app.post('/api/v1/quality/ncrs/:id/units', {
    config: { roles: R.quality },
    schema: { tags, summary: 'Link units to an open NCR', params: IdParams, body: Type.Object({ serials: Type.Array(Serial, { minItems: 1, maxItems: 100000 }) }, { additionalProperties: false }), response: { 200: NcrSchema, ...errors(400, 404, 409, 422) } },
    handler: async (req) => svc.linkNcrUnits(who(req), req.params.id, req.body.serials),
  });
  app.post('/api/v1/quality/ncrs/:id/close', {
    config: { roles: R.quality },
    schema: {
      tags, summary: 'Close an NCR (signed); refused while a linked unit is not verified, scrapped or accepted', params: IdParams,
      body: Type.Object({ signature: SignatureBody }, { additionalProperties: false }), response: { 200: NcrSchema, ...errors(400, 401, 403, 404, 409) },
    },
    handler: async (req) => svc.closeNcr(who(req), req.params.id, req.body),
  });
  app.post('/api/v1/quality/rework', {
    config: { roles: REPAIR },
    schema: {
      tags, summary: 'Record a repair action on a unit (a replaced component names the removed and the new package)',
      body: Type.Object({
        serial: Serial,
        action: Type.String({ minLength: 3, maxLength: 2000, description: 'What was done' }),
        refdes: OptStr('Reference designator worked on', 32),
        removedPackage: Type.Optional(Type.Union([Id, Type.String({ minLength: 1 }), Type.Null()], { description: 'Package the removed component came from (id or code)' })),
        newPackage: Type.Optional(Type.Union([Id, Type.String({ minLength: 1 }), Type.Null()], { description: 'Package the new component came from (id or code)' })),
        defectIds: Type.Optional(Type.Array(Id, { maxItems: 1000, description: 'Defects this repair addresses' })),
        ncrId: Type.Optional(Type.Union([Id, Type.Null()], { description: 'The NCR it belongs to' })),
        dispositionId: Type.Optional(Type.Union([Id, Type.Null()], { description: 'The disposition it carries out' })),
        stationId: Type.Optional(Type.Union([Id, Type.Null()], { description: 'Rework station' })),
        operator: OptStr('Who repaired', 100),
        verifyStepSeq: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { description: 'Step whose pass verifies the repair (default: where the route returns the unit)' })),
        notes: Type.Optional(Type.String({ maxLength: 4000, description: 'Free text' })),
      }, { additionalProperties: false }),
      response: { 201: Open({ id: Type.Integer(), serial: Type.String(), action: Type.String(), verifyStepSeq: Type.Integer(), verified: Type.Boolean() }), ...errors(400, 404, 409, 422) },
    },
    handler: async (req, reply) => reply.code(201).send(await svc.recordRework(who(req), req.body)),
  });
  app.get('/api/v1/quality/rework', {
    config: { roles: read },
    schema: { tags, summary: 'Rework actions', querystring: Type.Object({ serial: Type.Optional(Type.String()), ncrId: Type.Optional(Id), limit: Limit }, { additionalProperties: false }), response: { 200: Type.Array(Open({ id: Type.Integer(), serial: Type.String(), verified: Type.Boolean() })) } },
    handler: async (req) => svc.listRework(req.query),
  });

  // ── holds and where-used ──
  const HoldBody = Type.Object({
    scope: Enum(HOLD_SCOPES, { description: 'What the hold covers' }),
    serial: Type.Optional(Type.String({ minLength: 1, description: 'unit: the serial' })),
    serials: Type.Optional(Type.Array(Serial, { minItems: 1, maxItems: 100000, description: 'units: the serials' })),
    panel: Type.Optional(Type.String({ minLength: 1, description: 'panel: its ID' })),
    lot: Type.Optional(Type.String({ minLength: 1, description: 'lot: the production lot code' })),
    workOrder: Type.Optional(WorkOrderRef),
    productRevisionId: Type.Optional(Id),
    materialLotId: Type.Optional(Id),
    packageId: Type.Optional(Id),
    packageCode: Type.Optional(Type.String({ minLength: 1, description: 'package: its ID (code)' })),
    stationId: Type.Optional(Id),
    station: Type.Optional(Type.String({ minLength: 1, description: 'station / station_window: the station code' })),
    from: Type.Optional(Type.String({ format: 'date-time', description: 'station_window: from (inclusive)' })),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'station_window: to (exclusive)' })),
    reasonCode: Type.String({ minLength: 2, maxLength: 40, description: 'Hold reason code (see hold-reasons)' }),
    reason: Reason('Why the hold is placed'),
  }, { additionalProperties: false });
  app.post('/api/v1/quality/holds', {
    config: { roles: HOLD },
    schema: { tags, summary: 'Place a hold (unit, units, panel, lot, work order, product revision, material lot, package, station, station + time window)', body: HoldBody, response: { 201: HoldSchema, ...errors(400, 404, 409, 422) } },
    handler: async (req, reply) => reply.code(201).send(await svc.placeHold(who(req), req.body)),
  });
  const WhereUsedQuery = Type.Union([
    Type.Object({ kind: Type.Literal('material_lot'), materialLotId: Id }, { additionalProperties: false }),
    Type.Object({ kind: Type.Literal('package'), packageId: Id }, { additionalProperties: false }),
    Type.Object({ kind: Type.Literal('station_window'), stationId: Id, from: Type.String({ format: 'date-time' }), to: Type.String({ format: 'date-time' }) }, { additionalProperties: false }),
  ], { description: 'The where-used question' });
  app.post('/api/v1/quality/holds/where-used', {
    config: { roles: HOLD },
    schema: {
      tags, summary: 'Recall containment: hold every unit a where-used query finds, in one action',
      body: Type.Object({ query: WhereUsedQuery, reasonCode: HoldBody.properties.reasonCode, reason: Reason('Why the units are held') }, { additionalProperties: false }),
      response: { 201: Open({ ...HoldProps, units: Type.Integer({ description: 'Units held' }) }), ...errors(400, 409, 422) },
    },
    handler: async (req, reply) => reply.code(201).send(await svc.holdWhereUsed(who(req), req.body)),
  });
  app.post('/api/v1/quality/where-used', {
    config: { roles: read },
    schema: { tags, summary: 'Where-used: the units built with a material lot or package, or processed at a station in a time window', body: Type.Object({ query: WhereUsedQuery }, { additionalProperties: false }), response: { 200: Type.Array(UnitRef), ...errors(400) } },
    handler: async (req) => svc.whereUsed(req.body.query),
  });
  app.get('/api/v1/quality/holds', {
    config: { roles: read },
    schema: {
      tags, summary: 'Holds, newest first',
      querystring: Type.Object({ active: Type.Optional(Type.Boolean()), scope: Type.Optional(Enum(HOLD_SCOPES)), workOrderId: Type.Optional(Id), serial: Type.Optional(Type.String()), afterId: Type.Optional(Id), limit: Limit }, { additionalProperties: false }),
      response: { 200: Type.Array(HoldSchema) },
    },
    handler: async (req) => svc.listHolds(req.query),
  });
  app.get('/api/v1/quality/holds/:id', {
    config: { roles: read },
    schema: { tags, summary: 'One hold', params: IdParams, response: { 200: HoldSchema, ...errors(404) } },
    handler: async (req) => svc.getHold(req.params.id),
  });
  app.get('/api/v1/quality/holds/:id/units', {
    config: { roles: read },
    schema: { tags, summary: 'The units a hold covers now', params: IdParams, response: { 200: Type.Array(UnitRef), ...errors(404) } },
    handler: async (req) => svc.holdUnits(req.params.id),
  });
  app.post('/api/v1/quality/holds/:id/release', {
    config: { roles: R.quality },
    schema: { tags, summary: 'Release a hold (signed by a quality engineer)', params: IdParams, body: Type.Object({ signature: SignatureBody }, { additionalProperties: false }), response: { 200: HoldSchema, ...errors(400, 401, 403, 404, 409) } },
    handler: async (req) => svc.releaseHold(who(req), req.params.id, req.body),
  });
  app.get('/api/v1/quality/hold-reasons', {
    config: { roles: read },
    schema: { tags, summary: 'Hold reason codes', response: { 200: Type.Array(Type.Object({ code: Type.String(), description: Type.String() })) } },
    handler: async () => svc.listHoldReasons(),
  });

  // ── first article ──
  app.get('/api/v1/quality/first-articles/:id', {
    config: { roles: read },
    schema: {
      tags, summary: 'First-article claims of a work order (id) with the inspector’s decision', params: IdParams,
      response: { 200: Type.Array(Open({ stepSeq: Type.Integer(), unitId: Type.Integer(), serial: Type.String(), state: Type.String(), claimedAt: DateTime(), approval: Type.Union([Open({}), Type.Null()]) })) },
    },
    handler: async (req) => svc.firstArticleStatus(req.params.id),
  });
  app.post('/api/v1/quality/first-articles/decide', {
    config: { roles: INSPECT },
    schema: {
      tags, summary: 'First-article inspection verdict (signed by the inspector): approval opens the gate, rejection frees the claim',
      body: Type.Object({
        serial: Serial,
        stepSeq: Type.Optional(Type.Integer({ minimum: 1, description: 'The gated step, when the unit claimed several' })),
        decision: Enum(['approved', 'rejected'] as const, { description: 'The verdict' }),
        stationId: Type.Optional(Id), station: Type.Optional(Type.String({ minLength: 1, description: 'Where the FAI was done (default: the gated step’s station)' })),
        defects: Type.Optional(Type.Array(DefectBody, { maxItems: 1000 })),
        measurements: Type.Optional(Type.Array(MeasurementBody, { maxItems: 10000 })),
        notes: OptStr('Free text', 4000),
        signature: SignatureBody,
      }, { additionalProperties: false }),
      response: { 201: Open({ id: Type.Integer(), decision: Type.String(), resultId: Type.Integer() }), ...errors(400, 401, 403, 404, 409) },
    },
    handler: async (req, reply) => reply.code(201).send(await svc.decideFirstArticle(who(req), req.body)),
  });
  app.post('/api/v1/quality/first-articles/require', {
    config: { roles: REQUIRE_FA },
    schema: {
      tags, summary: 'A new first article is needed (setup change, changeover): for a work order, or every open work order of a line',
      body: Type.Object({
        workOrder: Type.Optional(WorkOrderRef), lineId: Type.Optional(Id), reason: Reason('Why, e.g. feeder setup changed'),
        source: Type.Optional(Type.String({ maxLength: 40, description: 'What asked for it, e.g. setup-change' })),
      }, { additionalProperties: false }),
      response: { 200: Type.Array(Type.Object({ workOrderId: Type.Integer(), steps: Type.Array(Type.Integer()) })), ...errors(400, 404) },
    },
    handler: async (req) => {
      if (req.body.workOrder !== undefined) return [await svc.requireFirstArticle(who(req), { workOrder: req.body.workOrder, reason: req.body.reason, source: req.body.source })];
      if (req.body.lineId !== undefined) return svc.requireFirstArticleForLine(who(req), { lineId: req.body.lineId, reason: req.body.reason, source: req.body.source });
      const { validationFailed } = await import('../../platform/errors.ts');
      throw validationFailed([{ field: '/workOrder', code: 'required', message: 'give workOrder or lineId' }]);
    },
  });

  // ── rules and alerts ──
  const RuleBody = {
    name: Type.String({ minLength: 1, maxLength: 200, description: 'What the rule watches for' }),
    kind: Enum(RULE_KINDS, { description: 'defect_repeat, fpy_below, test_repeat, parameter_out_of_range or reading_out_of_limits' }),
    active: Type.Optional(Type.Boolean({ description: 'Evaluated on new results' })),
    productId: Type.Optional(Type.Union([Id, Type.Null()], { description: 'Only this product (null: all)' })),
    method: Type.Optional(Type.Union([Enum(METHODS), Type.Null()], { description: 'Only results of this method (fpy_below needs one)' })),
    params: Type.Optional(Type.Object({
      count: Type.Optional(Type.Integer({ minimum: 1, description: 'defect_repeat: N units with the same code at the same refdes' })),
      window: Type.Optional(Type.Integer({ minimum: 1, description: 'The last M units of the work order' })),
      percent: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 100, description: 'fpy_below: X %' })),
      units: Type.Optional(Type.Integer({ minimum: 1, description: 'test_repeat: K units with the same failed test / net' })),
      min: Type.Optional(Type.Number({ description: 'reading_out_of_limits: lowest allowed value (inclusive)' })),
      max: Type.Optional(Type.Number({ description: 'reading_out_of_limits: highest allowed value (inclusive)' })),
      consecutive: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'reading_out_of_limits: fire when the last N readings in a row are outside' })),
      windowSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 604800, description: 'reading_out_of_limits: fire when `count` readings within this many seconds are outside' })),
    }, { additionalProperties: false })),
    stationId: Type.Optional(Type.Union([Id, Type.Null()], { description: 'reading_out_of_limits: the station whose readings are watched' })),
    equipmentId: Type.Optional(Type.Union([Id, Type.Null()], { description: 'reading_out_of_limits: only readings of this equipment (at the station)' })),
    readingName: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Null()], { description: 'reading_out_of_limits: the reading name, e.g. zone3.temp' })),
    actions: Type.Optional(Type.Array(Enum(RULE_ACTIONS), { description: 'alert, hold_work_order, hold_station, require_first_article' })),
  };
  app.get('/api/v1/quality/rules', {
    config: { roles: read },
    schema: { tags, summary: 'Quality rules', response: { 200: Type.Array(RuleSchema) } },
    handler: async () => svc.listRules(),
  });
  app.get('/api/v1/quality/rules/:id', {
    config: { roles: read },
    schema: { tags, summary: 'One quality rule', params: IdParams, response: { 200: RuleSchema, ...errors(404) } },
    handler: async (req) => svc.getRule(req.params.id),
  });
  app.post('/api/v1/quality/rules', {
    config: { roles: R.quality },
    schema: { tags, summary: 'Add a quality rule', body: Type.Object({ code: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$', description: 'Unique code' }), ...RuleBody }, { additionalProperties: false }), response: { 201: RuleSchema, ...errors(400, 409, 422) } },
    handler: async (req, reply) => reply.code(201).send(await svc.createRule(who(req), req.body)),
  });
  app.patch('/api/v1/quality/rules/:id', {
    config: { roles: R.quality },
    schema: { tags, summary: 'Change a quality rule', params: IdParams, body: Type.Partial(Type.Object(RuleBody), { additionalProperties: false }), response: { 200: RuleSchema, ...errors(400, 404, 422) } },
    handler: async (req) => svc.updateRule(who(req), req.params.id, req.body),
  });
  app.get('/api/v1/quality/alerts', {
    config: { roles: read },
    schema: {
      tags, summary: 'Alerts fired by the quality rules, with their evidence',
      querystring: Type.Object({ workOrderId: Type.Optional(Id), ruleId: Type.Optional(Id), state: Type.Optional(Enum(['open', 'acknowledged', 'closed'] as const)), afterId: Type.Optional(Id), limit: Limit }, { additionalProperties: false }),
      response: { 200: Type.Array(AlertSchema) },
    },
    handler: async (req) => svc.listAlerts(req.query),
  });
  app.get('/api/v1/quality/alerts/:id', {
    config: { roles: read },
    schema: { tags, summary: 'One alert', params: IdParams, response: { 200: AlertSchema, ...errors(404) } },
    handler: async (req) => svc.getAlert(req.params.id),
  });
  for (const action of ['acknowledge', 'close'] as const) {
    app.post(`/api/v1/quality/alerts/:id/${action}`, {
      config: { roles: ALERTS },
      schema: {
        tags, summary: action === 'acknowledge' ? 'Acknowledge an alert (someone is on it)' : 'Close an alert (dealt with; the rule may fire again)', params: IdParams,
        body: Type.Object({ note: Type.Optional(Type.String({ maxLength: 2000, description: 'What is being done' })) }, { additionalProperties: false }),
        response: { 200: AlertSchema, ...errors(404, 409) },
      },
      handler: async (req) => (action === 'acknowledge' ? svc.acknowledgeAlert(who(req), req.params.id, req.body.note ?? null) : svc.closeAlert(who(req), req.params.id, req.body.note ?? null)),
    });
  }

  // ── per unit, signatures ──
  app.get('/api/v1/quality/units/:serial', {
    config: { roles: read },
    schema: {
      tags, summary: 'Quality view of a unit: results, dispositions, rework, NCRs, holds covering it, and what blocks packing / shipping',
      params: Type.Object({ serial: Type.String({ minLength: 1 }) }),
      response: { 200: Open({ clear: Type.Boolean(), blockers: Type.Array(BlockerSchema) }), ...errors(404) },
    },
    handler: async (req) => svc.unitQuality(req.params.serial),
  });
  app.get('/api/v1/quality/signatures', {
    config: { roles: people },
    schema: {
      tags, summary: 'Electronic signatures, newest first',
      querystring: Type.Object({ entity: Type.Optional(Type.String()), entityId: Type.Optional(Type.String()), limit: Limit }, { additionalProperties: false }),
      response: { 200: Type.Array(Open({ id: Type.Integer(), signerUsername: Type.String(), signerName: Type.String(), meaning: Type.String(), reason: Type.String(), signedAt: DateTime() })) },
    },
    handler: async (req) => svc.listSignatures(req.query),
  });
}
