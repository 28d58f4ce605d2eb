import { Type, type TSchema } from 'typebox';
import { errors, who, type App } from '../../platform/http.ts';
import { R } from '../../platform/principal.ts';
import { DateTime, Enum, NullableDateTime } from '../../platform/schema.ts';
import type { BatchResult, TrackingService } from './service.ts';

const Id = Type.Integer({ minimum: 1 });
const NullableInt = Type.Union([Type.Integer(), Type.Null()]);
const NullableString = Type.Union([Type.String(), Type.Null()]);
const Reason = Type.String({ minLength: 3, maxLength: 2000, description: 'Why (kept in the audit trail)' });
const WorkOrderRef = Type.Union([Id, Type.String({ minLength: 1 })], { description: 'Work order id or number' });
const Serial = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._/+-]{0,79}$' });
const UNIT_STATUSES = ['queued', 'in_process', 'failed', 'completed', 'scrapped', 'skipped'] as const;
const RESULTS = ['pass', 'fail', 'scrap'] as const;

/** Who may hold (anyone responsible on the floor) and release holds (quality). */
const HOLD_ROLES = ['admin', 'quality-engineer', 'process-engineer', 'operator', 'technician'] as const;

const StationFields = {
  stationId: Type.Optional(Type.Integer({ minimum: 1, description: 'The station by id' })),
  station: Type.Optional(Type.String({ minLength: 1, description: 'The station by code' })),
  equipment: Type.Optional(Type.String({ minLength: 1, description: 'The machine reporting: equipment code or CFX handle (selects its station)' })),
};
const ValidateFields = {
  ...StationFields,
  identifier: Type.String({ minLength: 1, maxLength: 80, description: 'Unit serial or panel ID, as scanned' }),
  programName: Type.Optional(Type.Union([Type.String({ maxLength: 128 }), Type.Null()], { description: 'Program / recipe name active on the equipment' })),
  programRevision: Type.Optional(Type.Union([Type.String({ maxLength: 32 }), Type.Null()], { description: 'Program revision active on the equipment' })),
};
const RefusalSchema = Type.Object({
  code: Type.String({ description: 'Stable reason code, e.g. STEP_OUT_OF_ORDER' }),
  number: Type.Integer({ description: 'Stable integer of the reason (CFX FailureCode)' }),
  message: Type.String({ description: 'The refusal as a sentence' }),
});
const VerdictFields = {
  phase: Type.String(),
  go: Type.Boolean({ description: 'Whether the unit / every processable panel position may be processed' }),
  result: Enum(['passed', 'partial', 'failed'] as const),
  identifier: Type.String(),
  kind: Enum(['unit', 'panel', 'unknown'] as const),
  station: Type.Object({ id: Type.Integer(), code: Type.String(), type: Type.String() }),
  workOrder: Type.Union([Type.Object({ id: Type.Integer(), number: Type.String() }), Type.Null()]),
  primary: Type.Union([RefusalSchema, Type.Null()], { description: 'The first refusal, for single-code channels' }),
  units: Type.Array(
    Type.Object({
      unitId: NullableInt, serial: Type.String(), position: NullableInt, result: Enum(['passed', 'failed', 'skipped'] as const),
      step: Type.Union([Type.Object({ seq: Type.Integer(), name: Type.String() }), Type.Null()]), refusals: Type.Array(RefusalSchema),
    }),
  ),
};
const VerdictSchema = Type.Object(VerdictFields);
const CompleteSchema = Type.Object({
  ...VerdictFields,
  records: Type.Array(
    Type.Object({
      unitId: Type.Integer(), serial: Type.String(), position: NullableInt, recordId: Type.Integer(), visit: Type.Integer(), stepSeq: Type.Integer(),
      result: Type.String(), outcome: Type.String({ description: 'next, completed, repair, returned, hold, scrap or loops_exhausted' }), status: Type.String(),
      nextStepSeq: NullableInt, onHold: Type.Boolean(),
    }),
  ),
});
const UnitSchema = Type.Object({
  id: Type.Integer(), serial: Type.String(), workOrderId: Type.Integer(), workOrderNumber: Type.String(), lotId: NullableInt, lotCode: NullableString,
  panelId: NullableInt, panelCode: NullableString, panelPosition: NullableInt, source: Type.String(), status: Enum(UNIT_STATUSES),
  nextStepSeq: NullableInt, returnStepSeq: NullableInt, failedStepSeq: NullableInt, visits: Type.Integer(), passedSteps: Type.Array(Type.Integer()),
  repairLoops: Type.Record(Type.String(), Type.Integer(), { description: 'Repair loops used, per failing step seq' }), onHold: Type.Boolean(), holdReason: NullableString,
  startedStepSeq: NullableInt, startedStationId: NullableInt, startedAt: NullableDateTime(), createdAt: DateTime(), updatedAt: DateTime(),
});
const RecordSchema = Type.Object({
  id: Type.Integer(), visit: Type.Integer(), stepSeq: Type.Integer(), stepName: Type.String(), stationId: Type.Integer(), stationCode: Type.String(),
  equipmentId: NullableInt, equipmentCode: NullableString, programName: NullableString, programRevision: NullableString, operator: NullableString,
  actorName: Type.String(), panelPosition: NullableInt, result: Type.String(), outcome: Type.String(), nextStepSeq: NullableInt, repairLoop: NullableInt,
  startedAt: NullableDateTime(), completedAt: DateTime(), basisId: Type.Integer(),
});
const PanelSchema = Type.Object({
  id: Type.Integer(), code: Type.String(), workOrderId: Type.Integer(), workOrderNumber: Type.String(), positions: Type.Integer(), lotId: NullableInt,
  onHold: Type.Boolean(), holdReason: NullableString, createdAt: DateTime(),
  units: Type.Array(Type.Object({ position: Type.Integer(), serial: Type.String(), status: Type.String(), onHold: Type.Boolean(), nextStepSeq: NullableInt })),
});
const LotSchema = Type.Object({
  id: Type.Integer(), code: Type.String(), workOrderId: Type.Integer(), workOrderNumber: Type.String(), plannedQuantity: NullableInt,
  onHold: Type.Boolean(), holdReason: NullableString, createdAt: DateTime(), units: Type.Integer(),
});
const Created = Type.Object({ workOrderId: Type.Integer(), serials: Type.Array(Type.String()) });
const Progress = Type.Object({
  quantity: Type.Integer(), maxUnits: Type.Integer(), created: Type.Integer(), skipped: Type.Integer(), started: Type.Integer(), queued: Type.Integer(),
  inProcess: Type.Integer(), passed: Type.Integer({ description: 'Units that completed the route' }), failed: Type.Integer(), scrapped: Type.Integer(),
  onHold: Type.Integer(), remaining: Type.Integer({ description: 'quantity − passed, not below 0' }),
});
const HoldResult = Type.Object({ scope: Type.String(), identifier: Type.String(), onHold: Type.Boolean(), holdReason: NullableString });

const StartBody = Type.Object({ ...ValidateFields, operator: Type.Optional(Type.Union([Type.String({ maxLength: 100 }), Type.Null()])) }, { additionalProperties: false });
const CompleteBody = Type.Object(
  {
    ...ValidateFields,
    result: Enum(RESULTS, { description: 'Result of the unit, or of every panel position not listed in positions' }),
    positions: Type.Optional(Type.Array(Type.Object({ position: Type.Integer({ minimum: 1 }), result: Enum(RESULTS) }, { additionalProperties: false }), { maxItems: 500 })),
    operator: Type.Optional(Type.Union([Type.String({ maxLength: 100 }), Type.Null()], { description: 'Operator badge / name; defaults to the logged-in user' })),
    startedAt: Type.Optional(Type.Union([DateTime(), Type.Null()])),
    completedAt: Type.Optional(Type.Union([DateTime(), Type.Null()])),
    notes: Type.Optional(Type.Union([Type.String({ maxLength: 2000 }), Type.Null()])),
  },
  { additionalProperties: false },
);
const ItemError = Type.Object({
  code: Type.String({ description: 'Stable error code, e.g. INTERLOCK_REFUSED, NOT_FOUND' }), status: Type.Integer({ description: 'The HTTP status the single-item route would answer' }),
  message: Type.String(), details: Type.Optional(Type.Unknown()), errors: Type.Optional(Type.Array(Type.Unknown())),
});
const BatchOf = <T extends TSchema>(value: T) =>
  Type.Object({ results: Type.Array(Type.Union([Type.Object({ ok: Type.Literal(true), value }), Type.Object({ ok: Type.Literal(false), error: ItemError })]), { description: 'One per item, in order' }) });
function batchOut<T>(results: BatchResult<T>[]) {
  return results.map((r) =>
    r.ok ? r : { ok: false as const, error: { code: r.error.code, status: r.error.status, message: r.error.message, ...(r.error.details ? { details: r.error.details } : {}), ...(r.error.errors ? { errors: r.error.errors } : {}) } },
  );
}

export function registerTrackingRoutes(app: App, svc: TrackingService) {
  const read = R.masterDataRead;

  app.post('/api/v1/tracking/validate', {
    config: { roles: R.floor },
    schema: {
      tags: ['tracking'], summary: 'The interlock: may this unit or panel be processed at this station now?',
      description: 'Returns go / no-go for the unit and each panel position, each refusal with a stable code, number and sentence. A no-go is a 200 answer, not an error.',
      body: Type.Object(ValidateFields, { additionalProperties: false }), response: { 200: VerdictSchema, ...errors(400, 403, 404) },
    },
    handler: async (req) => svc.validate(who(req), req.body),
  });
  app.post('/api/v1/tracking/start', {
    config: { roles: R.floor },
    schema: {
      tags: ['tracking'], summary: 'A unit or panel starts a step at a station (refused with 409 INTERLOCK_REFUSED on no-go)',
      body: StartBody,
      response: { 200: VerdictSchema, ...errors(400, 403, 404, 409) },
    },
    handler: async (req) => svc.start(who(req), req.body),
  });
  app.post('/api/v1/tracking/complete', {
    config: { roles: R.floor },
    schema: {
      tags: ['tracking'], summary: 'A unit or panel completes a step with pass / fail / scrap; the route decides where it goes next',
      description: 'Re-runs the interlock under the unit lock: of concurrent completes of one step exactly one succeeds, the others get 409 INTERLOCK_REFUSED.',
      body: CompleteBody, response: { 200: CompleteSchema, ...errors(400, 403, 404, 409) },
    },
    handler: async (req) => svc.complete(who(req), req.body),
  });
  app.post('/api/v1/tracking/start-batch', {
    config: { roles: R.floor },
    schema: {
      tags: ['tracking'], summary: 'Many units or panels start steps in one call (set-based); each item gets its own verdict or refusal',
      description: 'Items are judged and written together; a refused item (INTERLOCK_REFUSED with its verdict) does not hold back the others. Items naming the same unit are applied in order.',
      body: Type.Object({ items: Type.Array(StartBody, { minItems: 1, maxItems: 500 }) }, { additionalProperties: false }),
      response: { 200: BatchOf(VerdictSchema), ...errors(400) },
    },
    handler: async (req) => ({ results: batchOut(await svc.startBatch(who(req), req.body.items)) }),
  });
  app.post('/api/v1/tracking/complete-batch', {
    config: { roles: R.floor },
    schema: {
      tags: ['tracking'], summary: 'Many units or panels complete steps in one call (set-based); each item gets its own result or refusal',
      description:
        'The same rules as /complete for every item, with a few statements for the whole batch. A refused item (INTERLOCK_REFUSED with its verdict) does not hold back the others; items naming the same unit are applied in order.',
      body: Type.Object({ items: Type.Array(CompleteBody, { minItems: 1, maxItems: 500 }) }, { additionalProperties: false }),
      response: { 200: BatchOf(CompleteSchema), ...errors(400) },
    },
    handler: async (req) => ({ results: batchOut(await svc.completeBatch(who(req), req.body.items)) }),
  });
  app.post('/api/v1/tracking/abort', {
    config: { roles: R.floor },
    schema: {
      tags: ['tracking'], summary: 'Abort the started step of a unit or panel at this station: it waits for the same step again (no process record; audited)',
      body: Type.Object({ ...StationFields, identifier: ValidateFields.identifier, reason: Type.Optional(Type.Union([Type.String({ maxLength: 2000 }), Type.Null()])) }, { additionalProperties: false }),
      response: {
        200: Type.Object({
          identifier: Type.String(), station: Type.Object({ id: Type.Integer(), code: Type.String(), type: Type.String() }),
          units: Type.Array(Type.Object({ unitId: Type.Integer(), serial: Type.String(), position: NullableInt, stepSeq: Type.Integer() })),
        }),
        ...errors(400, 403, 404, 409),
      },
    },
    handler: async (req) => svc.abort(who(req), req.body),
  });
  app.post('/api/v1/tracking/scrap', {
    config: { roles: R.floor },
    schema: {
      tags: ['tracking'], summary: 'Scrap (disqualify) a unit or every live position of a panel outside a step, with a reason (audited)',
      body: Type.Object({ ...StationFields, identifier: ValidateFields.identifier, reason: Reason }, { additionalProperties: false }),
      response: {
        200: Type.Object({
          identifier: Type.String(),
          scrapped: Type.Array(Type.Object({ unitId: Type.Integer(), serial: Type.String(), position: NullableInt, before: Type.String() })),
          unchanged: Type.Array(Type.Object({ unitId: Type.Integer(), serial: Type.String(), position: NullableInt, status: Type.String() }), { description: 'Already scrapped or skipped' }),
        }),
        ...errors(400, 403, 404),
      },
    },
    handler: async (req) => svc.scrap(who(req), req.body),
  });
  app.get('/api/v1/tracking/reasons', {
    config: { roles: read },
    schema: {
      tags: ['tracking'], summary: 'Every interlock reason code with its stable number, in evaluation order',
      response: { 200: Type.Array(Type.Object({ code: Type.String(), number: Type.Integer(), title: Type.String() })) },
    },
    handler: async () => svc.interlockReasons(),
  });
  app.post('/api/v1/tracking/holds', {
    config: { roles: HOLD_ROLES },
    schema: {
      tags: ['tracking'], summary: 'Put a unit, panel or production lot on hold',
      body: Type.Object({ scope: Enum(['unit', 'panel', 'lot'] as const), identifier: Type.String({ minLength: 1, description: 'Serial, panel ID or lot code' }), reason: Reason }, { additionalProperties: false }),
      response: { 200: HoldResult, ...errors(400, 404) },
    },
    handler: async (req) => svc.setHold(who(req), { ...req.body, hold: true }),
  });
  app.post('/api/v1/tracking/holds/release', {
    config: { roles: R.quality },
    schema: {
      tags: ['tracking'], summary: 'Release the hold of a unit, panel or production lot',
      body: Type.Object({ scope: Enum(['unit', 'panel', 'lot'] as const), identifier: Type.String({ minLength: 1 }), reason: Reason }, { additionalProperties: false }),
      response: { 200: HoldResult, ...errors(400, 404) },
    },
    handler: async (req) => svc.setHold(who(req), { ...req.body, hold: false }),
  });

  app.post('/api/v1/units/generate', {
    config: { roles: ['admin', 'planner', 'process-engineer', 'operator', 'technician', 'machine', 'integration'] },
    schema: {
      tags: ['units'], summary: 'Generate serials from the work order\'s pattern and create the units (never beyond quantity + overrun)',
      body: Type.Object({ workOrder: WorkOrderRef, count: Type.Integer({ minimum: 1, maximum: 10_000 }), lotId: Type.Optional(Type.Union([Id, Type.Null()])) }, { additionalProperties: false }),
      response: { 201: Created, ...errors(400, 404, 409) },
    },
    handler: async (req, reply) => reply.code(201).send(await svc.generateUnits(who(req), req.body)),
  });
  app.post('/api/v1/units/register', {
    config: { roles: ['admin', 'planner', 'process-engineer', 'operator', 'technician', 'machine', 'integration'] },
    schema: {
      tags: ['units'], summary: 'Register serials reported by a marking station or scanner as units (duplicates refused)',
      body: Type.Object({ workOrder: WorkOrderRef, serials: Type.Array(Serial, { minItems: 1, maxItems: 10_000 }), lotId: Type.Optional(Type.Union([Id, Type.Null()])) }, { additionalProperties: false }),
      response: { 201: Created, ...errors(400, 404, 409) },
    },
    handler: async (req, reply) => reply.code(201).send(await svc.registerUnits(who(req), req.body)),
  });
  app.get('/api/v1/units', {
    config: { roles: read },
    schema: {
      tags: ['units'], summary: 'List units (paged by id)',
      querystring: Type.Object(
        {
          workOrderId: Type.Optional(Type.Integer()), status: Type.Optional(Enum(UNIT_STATUSES)), lotId: Type.Optional(Type.Integer()), onHold: Type.Optional(Type.Boolean()),
          afterId: Type.Optional(Type.Integer({ minimum: 0 })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000 })),
        },
        { additionalProperties: false },
      ),
      response: { 200: Type.Array(UnitSchema) },
    },
    handler: async (req) => svc.listUnits(req.query),
  });
  app.get('/api/v1/units/:serial', {
    config: { roles: read },
    schema: {
      tags: ['units'], summary: 'A unit with its state and every passage (process records)', params: Type.Object({ serial: Type.String() }),
      response: { 200: Type.Object({ ...UnitSchema.properties, history: Type.Array(RecordSchema) }), ...errors(404) },
    },
    handler: async (req) => svc.getUnit(req.params.serial),
  });

  app.post('/api/v1/panels', {
    config: { roles: ['admin', 'planner', 'process-engineer', 'operator', 'technician', 'machine', 'integration'] },
    schema: {
      tags: ['units'], summary: 'Create a panel with N positions, one unit each (skipped / X-out positions marked)',
      body: Type.Object(
        {
          workOrder: WorkOrderRef, code: Serial, positions: Type.Integer({ minimum: 1, maximum: 500 }),
          skipped: Type.Optional(Type.Array(Type.Integer({ minimum: 1 }), { description: 'X-out positions' })),
          serials: Type.Optional(Type.Array(Serial, { description: 'One serial per position (registered); omitted = generated' })),
          lotId: Type.Optional(Type.Union([Id, Type.Null()])),
        },
        { additionalProperties: false },
      ),
      response: { 201: PanelSchema, ...errors(400, 404, 409) },
    },
    handler: async (req, reply) => reply.code(201).send(await svc.createPanel(who(req), req.body)),
  });
  app.get('/api/v1/panels/:code', {
    config: { roles: read },
    schema: { tags: ['units'], summary: 'A panel with its positions', params: Type.Object({ code: Type.String() }), response: { 200: PanelSchema, ...errors(404) } },
    handler: async (req) => svc.getPanel(req.params.code),
  });
  app.post('/api/v1/panels/:code/positions/:position/skip', {
    config: { roles: ['admin', 'process-engineer', 'quality-engineer', 'operator', 'technician'] },
    schema: {
      tags: ['units'], summary: 'Mark a not-yet-processed panel position as skipped (X-out)',
      params: Type.Object({ code: Type.String(), position: Type.Integer({ minimum: 1 }) }),
      body: Type.Object({ reason: Reason }, { additionalProperties: false }), response: { 200: PanelSchema, ...errors(404, 409) },
    },
    handler: async (req) => svc.skipPosition(who(req), req.params.code, req.params.position, req.body.reason),
  });

  app.post('/api/v1/lots', {
    config: { roles: ['admin', 'planner', 'process-engineer', 'operator', 'technician', 'integration'] },
    schema: {
      tags: ['units'], summary: 'Create a production lot within a work order',
      body: Type.Object(
        { workOrder: WorkOrderRef, code: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$' }), plannedQuantity: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])) },
        { additionalProperties: false },
      ),
      response: { 201: LotSchema, ...errors(400, 404, 409) },
    },
    handler: async (req, reply) => reply.code(201).send(await svc.createLot(who(req), req.body)),
  });
  app.get('/api/v1/lots', {
    config: { roles: read },
    schema: { tags: ['units'], summary: 'Production lots of a work order', querystring: Type.Object({ workOrderId: Id }, { additionalProperties: false }), response: { 200: Type.Array(LotSchema) } },
    handler: async (req) => svc.listLots(req.query.workOrderId),
  });
  app.get('/api/v1/lots/:id', {
    config: { roles: read },
    schema: { tags: ['units'], summary: 'A production lot', params: Type.Object({ id: Id }), response: { 200: LotSchema, ...errors(404) } },
    handler: async (req) => svc.getLot(req.params.id),
  });
  app.post('/api/v1/lots/:id/units', {
    config: { roles: ['admin', 'planner', 'process-engineer', 'operator', 'technician', 'integration'] },
    schema: {
      tags: ['units'], summary: 'Put units of the lot\'s work order into the lot', params: Type.Object({ id: Id }),
      body: Type.Object({ serials: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: 10_000 }) }, { additionalProperties: false }),
      response: { 200: LotSchema, ...errors(400, 404) },
    },
    handler: async (req) => svc.assignToLot(who(req), req.params.id, req.body.serials),
  });

  app.get('/api/v1/wip/work-orders/:id', {
    config: { roles: read },
    schema: {
      tags: ['wip'], summary: 'Work-order progress and units per route step and state', params: Type.Object({ id: Id }),
      response: {
        200: Type.Object({
          workOrder: Type.Object({ id: Type.Integer(), number: Type.String(), state: Type.String(), productCode: Type.String(), revision: Type.String(), lineCode: NullableString }),
          progress: Progress,
          steps: Type.Array(
            Type.Object({
              seq: Type.Integer(), name: Type.String(), stationType: Type.String(), isRepair: Type.Boolean(), queued: Type.Integer(), inProcess: Type.Integer(),
              failed: Type.Integer(), onHold: Type.Integer({ description: 'Queued units on hold at this step' }),
            }),
          ),
        }),
        ...errors(404),
      },
    },
    handler: async (req) => svc.wipForWorkOrder(req.params.id),
  });
  app.get('/api/v1/wip/lines/:id', {
    config: { roles: read },
    schema: {
      tags: ['wip'], summary: 'What is where on a line: per station in process and waiting; open work orders with progress', params: Type.Object({ id: Id }),
      response: {
        200: Type.Object({
          line: Type.Object({ id: Type.Integer(), code: Type.String(), name: Type.String() }),
          activeWorkOrder: Type.Union([Type.Object({ id: Type.Integer(), number: Type.String() }), Type.Null()]),
          stations: Type.Array(
            Type.Object({
              id: Type.Integer(), code: Type.String(), name: Type.String(), type: Type.String(), inProcess: Type.Integer(), inProcessSerials: Type.Array(Type.String()),
              waiting: Type.Integer({ description: 'Queued units whose next step this station can do' }),
            }),
          ),
          workOrders: Type.Array(Type.Object({ id: Type.Integer(), number: Type.String(), state: Type.String(), active: Type.Boolean(), progress: Progress })),
        }),
        ...errors(404),
      },
    },
    handler: async (req) => svc.wipForLine(req.params.id),
  });
}
