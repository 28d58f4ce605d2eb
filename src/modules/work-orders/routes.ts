import { Type } from 'typebox';
import { AppError } from '../../platform/errors.ts';
import { errors, who, type App } from '../../platform/http.ts';
import { R } from '../../platform/principal.ts';
import { DateTime, Enum, NullableDateTime } from '../../platform/schema.ts';
import { IMPORT_FORMATS, type ImportFormat } from './import.ts';
import { legalActions, WORK_ORDER_ACTIONS, WORK_ORDER_STATES, type WorkOrder, type WorkOrderState, type WorkOrdersService } from './service.ts';

const Id = Type.Integer({ minimum: 1 });
const IdParams = Type.Object({ id: Id });
const NullableInt = Type.Union([Type.Integer(), Type.Null()]);
const NullableString = Type.Union([Type.String(), Type.Null()]);
const Reason = Type.String({ minLength: 3, maxLength: 2000, description: 'Why (kept in the audit trail)' });
const FieldErrors = Type.Array(Type.Object({ field: Type.String(), code: Type.String(), message: Type.String() }));

export const WorkOrderSchema = Type.Object({
  id: Type.Integer(),
  number: Type.String({ description: 'Work order number (from ERP), unique' }),
  customer: Type.String(),
  customerPo: Type.String({ description: 'Customer purchase order' }),
  productRevisionId: Type.Integer(),
  productCode: Type.String(),
  revision: Type.String(),
  quantity: Type.Integer({ description: 'Ordered quantity' }),
  overrunUnits: Type.Integer({ description: 'Allowed overrun in units' }),
  overrunPercent: Type.Number({ description: 'Allowed overrun as a percentage of the quantity' }),
  maxUnits: Type.Integer({ description: 'Most units that may ever be created: quantity + overrun' }),
  dueDate: Type.Union([Type.String({ format: 'date' }), Type.Null()]),
  lineId: NullableInt,
  lineCode: NullableString,
  state: Enum(WORK_ORDER_STATES),
  holdReturnState: Type.Union([Enum(WORK_ORDER_STATES), Type.Null()], { description: 'State a held work order resumes to' }),
  serialPattern: Type.Union([Type.String(), Type.Null()], { description: 'Own serial pattern; null = the product\'s or the default' }),
  unitsCreated: Type.Integer({ description: 'Units created so far (skipped panel positions excluded)' }),
  serialSeq: Type.Integer({ description: 'Last serial sequence number used' }),
  basisId: NullableInt,
  basisHash: Type.Union([Type.String(), Type.Null()], { description: 'SHA-256 of the frozen build basis' }),
  notes: Type.String(),
  source: Type.String(),
  createdAt: DateTime(),
  createdBy: Type.String(),
  releasedAt: NullableDateTime(),
  releasedBy: NullableString,
  completedAt: NullableDateTime(),
  closedAt: NullableDateTime(),
  activeOnLine: Type.Boolean({ description: 'Whether this is the work order its line is running' }),
  actions: Type.Array(Type.String(), { description: 'Actions allowed in the current state' }),
});

const withActions = (wo: WorkOrder) => ({ ...wo, actions: legalActions(wo.state) });

const Editable = {
  customer: Type.Optional(Type.String({ maxLength: 200 })),
  customerPo: Type.Optional(Type.String({ maxLength: 100, description: 'Customer purchase order' })),
  quantity: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000 })),
  overrunUnits: Type.Optional(Type.Integer({ minimum: 0, description: 'Allowed overrun in units' })),
  overrunPercent: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'Allowed overrun in percent of the quantity' })),
  dueDate: Type.Optional(Type.Union([Type.String({ format: 'date' }), Type.Null()])),
  lineId: Type.Optional(Type.Union([Id, Type.Null()], { description: 'The SMT line that builds it' })),
  productRevisionId: Type.Optional(Id),
  serialPattern: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 80, description: 'e.g. {WO}-{SEQ:6}{CHECK}' }), Type.Null()])),
  notes: Type.Optional(Type.String({ maxLength: 5000 })),
};
const CreateBody = Type.Object(
  { ...Editable, number: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$' }), productRevisionId: Id, quantity: Type.Integer({ minimum: 1, maximum: 10_000_000 }) },
  { additionalProperties: false },
);
const BasisSchema = Type.Object({
  id: Type.Integer(), workOrderId: Type.Integer(), version: Type.Integer(), hash: Type.String(), reason: NullableString, createdAt: DateTime(), createdBy: Type.String(),
  basis: Type.Optional(Type.Unknown({ description: 'The frozen snapshot: product revision, files, BOM, AVL, route, programs, quality plan' })),
});

export function registerWorkOrdersRoutes(app: App, svc: WorkOrdersService) {
  const read = R.masterDataRead;
  app.get('/api/v1/work-orders', {
    config: { roles: read },
    schema: {
      tags: ['work-orders'], summary: 'List work orders',
      querystring: Type.Object(
        {
          state: Type.Optional(Enum(WORK_ORDER_STATES)), lineId: Type.Optional(Type.Integer()), productRevisionId: Type.Optional(Type.Integer()),
          number: Type.Optional(Type.String()), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000 })),
          states: Type.Optional(Type.String({ pattern: `^(${WORK_ORDER_STATES.join('|')})(,(${WORK_ORDER_STATES.join('|')}))*$`, description: 'Comma-separated states (any of them)' })),
          q: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Search: number, product code, customer or customer PO containing this, case-insensitive' })),
          dueBy: Type.Optional(Type.String({ format: 'date', description: 'Due on or before this day (YYYY-MM-DD)' })),
        },
        { additionalProperties: false },
      ),
      response: { 200: Type.Array(WorkOrderSchema) },
    },
    handler: async (req) => {
      const { states, ...rest } = req.query;
      return (await svc.list({ ...rest, ...(states ? { states: states.split(',') as WorkOrderState[] } : {}) })).map(withActions);
    },
  });
  app.get('/api/v1/work-orders/:id', {
    config: { roles: read },
    schema: { tags: ['work-orders'], summary: 'Get a work order', params: IdParams, response: { 200: WorkOrderSchema, ...errors(404) } },
    handler: async (req) => withActions(await svc.get(req.params.id)),
  });
  app.post('/api/v1/work-orders', {
    config: { roles: R.planning },
    schema: { tags: ['work-orders'], summary: 'Create a planned work order', body: CreateBody, response: { 201: WorkOrderSchema, ...errors(400, 409, 422) } },
    handler: async (req, reply) => reply.code(201).send(withActions(await svc.create(who(req), req.body))),
  });
  app.patch('/api/v1/work-orders/:id', {
    config: { roles: R.planning },
    schema: {
      tags: ['work-orders'], summary: 'Change a work order (product, line and serial pattern only while planned; quantities until completed)', params: IdParams,
      body: Type.Object(Editable, { additionalProperties: false }), response: { 200: WorkOrderSchema, ...errors(400, 404, 409, 422) },
    },
    handler: async (req) => withActions(await svc.update(who(req), req.params.id, req.body)),
  });
  app.post('/api/v1/work-orders/:id/transition', {
    config: { roles: R.planning },
    schema: {
      tags: ['work-orders'],
      summary: 'Apply a state transition: release, start, hold, resume, complete, close, cancel (hold and cancel need a reason)',
      description: 'Release freezes the build basis and is refused with every blocker listed (422 RULE_VIOLATION). Illegal transitions are 409 STATE_CONFLICT.',
      params: IdParams,
      body: Type.Object({ action: Enum(WORK_ORDER_ACTIONS), reason: Type.Optional(Reason) }, { additionalProperties: false }),
      response: { 200: WorkOrderSchema, ...errors(400, 404, 409, 422) },
    },
    handler: async (req) => withActions(await svc.transition(who(req), req.params.id, req.body.action, req.body.reason)),
  });
  app.get('/api/v1/work-orders/:id/release-check', {
    config: { roles: read },
    schema: {
      tags: ['work-orders'], summary: 'What would stop this work order\'s build basis from being frozen now', params: IdParams,
      response: { 200: Type.Object({ releasable: Type.Boolean(), blockers: FieldErrors }), ...errors(404) },
    },
    handler: async (req) => {
      const blockers = await svc.releaseCheck(req.params.id);
      return { releasable: blockers.length === 0, blockers };
    },
  });
  app.post('/api/v1/work-orders/:id/rebase', {
    config: { roles: ['admin', 'planner', 'process-engineer'] },
    schema: {
      tags: ['work-orders'], summary: 'Re-freeze the build basis from current master data (only before any unit is processed)', params: IdParams,
      body: Type.Object({ reason: Reason, productRevisionId: Type.Optional(Id) }, { additionalProperties: false }),
      response: { 200: WorkOrderSchema, ...errors(400, 404, 409, 422) },
    },
    handler: async (req) => withActions(await svc.rebase(who(req), req.params.id, req.body)),
  });
  app.post('/api/v1/work-orders/:id/activate', {
    config: { roles: ['admin', 'planner', 'process-engineer', 'operator', 'technician'] },
    schema: {
      tags: ['work-orders'], summary: 'Make this released work order the one its line is running', params: IdParams,
      response: { 200: WorkOrderSchema, ...errors(404, 409) },
    },
    handler: async (req) => withActions(await svc.activate(who(req), req.params.id)),
  });
  app.get('/api/v1/work-orders/:id/basis', {
    config: { roles: read },
    schema: {
      tags: ['work-orders'], summary: 'The frozen build basis (current, or ?basisId= an earlier one)', params: IdParams,
      querystring: Type.Object({ basisId: Type.Optional(Id) }, { additionalProperties: false }), response: { 200: BasisSchema, ...errors(404) },
    },
    handler: async (req) => svc.getBasis(req.params.id, req.query.basisId),
  });
  app.get('/api/v1/work-orders/:id/bases', {
    config: { roles: read },
    schema: { tags: ['work-orders'], summary: 'Every basis the work order has had (versions, hashes, reasons)', params: IdParams, response: { 200: Type.Array(BasisSchema) } },
    handler: async (req) => svc.listBases(req.params.id),
  });
  app.post('/api/v1/work-orders/import', {
    config: { roles: R.planning },
    schema: {
      tags: ['work-orders'],
      summary: 'Import work orders from a CSV (text/csv) or JSON file; all or nothing, every error listed by line or item',
      description: 'CSV columns: number, customer, customer po, product, revision, quantity, overrun (5 or 2%), due date (YYYY-MM-DD), line, serial pattern, notes.',
      querystring: Type.Object({ format: Type.Optional(Enum(IMPORT_FORMATS)) }, { additionalProperties: false }),
      response: {
        200: Type.Object({ format: Type.String(), created: Type.Integer(), updated: Type.Integer(), unchanged: Type.Integer(), numbers: Type.Array(Type.String()) }),
        ...errors(400, 415, 422),
      },
    },
    handler: async (req) => {
      const body = req.body;
      const text = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : body !== undefined && body !== null ? JSON.stringify(body) : '';
      if (text.trim() === '') throw new AppError('BAD_REQUEST', 'The import file is empty');
      const ct = String(req.headers['content-type'] ?? '');
      const format: ImportFormat = req.query.format ?? (ct.includes('json') || (typeof body === 'object' && !Buffer.isBuffer(body)) ? 'json' : 'csv');
      return svc.importWorkOrders(who(req), text, format);
    },
  });
  app.get('/api/v1/serial-patterns/:productId', {
    config: { roles: read },
    schema: {
      tags: ['work-orders'], summary: 'The serial pattern of a product (or the default)', params: Type.Object({ productId: Id }),
      response: { 200: Type.Object({ productId: Type.Integer(), pattern: Type.String() }) },
    },
    handler: async (req) => ({ productId: req.params.productId, pattern: await svc.productSerialPattern(req.params.productId) }),
  });
  app.put('/api/v1/serial-patterns/:productId', {
    config: { roles: R.masterDataWrite },
    schema: {
      tags: ['work-orders'], summary: 'Set (or with null, clear) the serial pattern of a product', params: Type.Object({ productId: Id }),
      body: Type.Object({ pattern: Type.Union([Type.String({ minLength: 1, maxLength: 80 }), Type.Null()]) }, { additionalProperties: false }),
      response: { 200: Type.Object({ productId: Type.Integer(), pattern: Type.String() }), ...errors(400, 404) },
    },
    handler: async (req) => svc.setProductSerialPattern(who(req), req.params.productId, req.body.pattern),
  });
}
