import { Type, type TSchema } from 'typebox';
import { errors, who, type App } from '../../platform/http.ts';
import { R, type Role } from '../../platform/principal.ts';
import type { TraceabilityService } from './service.ts';
import { UNIT_STATES } from './states.ts';
import type { TraceQuery } from './where-used.ts';

const Id = Type.Integer({ minimum: 1 });
const Code = (description: string) => Type.String({ minLength: 1, maxLength: 80, description });
const Ref = (description: string) => Type.Union([Id, Code('code')], { description });
const Time = (description: string) => Type.String({ format: 'date-time', description });
const Open = (props: Record<string, TSchema>, description?: string) => Type.Unsafe<unknown>(Type.Object(props, { additionalProperties: true, ...(description ? { description } : {}) }));
const StateCounts = Type.Object(Object.fromEntries(UNIT_STATES.map((s) => [s, Type.Integer()])), { description: 'Units per state bucket' });

/** Everyone who reads production records (people and ERP / integration tokens; machines do not). */
const READ: readonly Role[] = [...R.people, 'integration'];
const tags = ['traceability'];

/** A where-used question (the starting point of a recall). */
export const TraceQueryBody = Type.Union([
  Type.Object({ kind: Type.Literal('material_lot'), materialLotId: Id }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('package'), package: Ref('Package id or ID (code)') }, { additionalProperties: false }),
  Type.Object({
    kind: Type.Literal('mpn'), mpn: Type.String({ minLength: 1, maxLength: 100 }),
    dateCodeFrom: Type.Optional(Type.String({ minLength: 1, maxLength: 16, description: 'Lowest date code (inclusive, compared as text: YYWW)' })),
    dateCodeTo: Type.Optional(Type.String({ minLength: 1, maxLength: 16, description: 'Highest date code (inclusive)' })),
  }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('paste_jar'), package: Ref('Paste jar package id or ID') }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('stencil'), stencil: Ref('Stencil id or code') }, { additionalProperties: false }),
  Type.Object({
    kind: Type.Literal('program'), program: Type.String({ minLength: 1, maxLength: 128, description: 'Program name' }),
    revision: Type.Optional(Type.String({ minLength: 1, maxLength: 32, description: 'Program revision (all revisions when omitted)' })),
    equipment: Type.Optional(Ref('Equipment id or code (any when omitted)')),
  }, { additionalProperties: false }),
  Type.Object({
    kind: Type.Literal('operator'), operator: Type.String({ minLength: 1, maxLength: 200 }),
    from: Type.Optional(Time('From (inclusive)')), to: Type.Optional(Time('To (exclusive)')),
  }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('station_window'), station: Ref('Station id or code'), from: Time('From (inclusive)'), to: Time('To (exclusive)') }, { additionalProperties: false }),
], { description: 'Where-used starting point' });

const CountsProps = {
  query: Open({}), total: Type.Integer(), byState: StateCounts,
  byWorkOrder: Type.Array(Open({ workOrderId: Type.Integer(), number: Type.String(), units: Type.Integer() })),
  byCustomer: Type.Array(Open({ customer: Type.String(), units: Type.Integer(), shipped: Type.Integer() })),
  cartons: Type.Array(Open({ code: Type.String(), units: Type.Integer() })),
  shipments: Type.Array(Open({ number: Type.String(), units: Type.Integer() })),
};

export function registerTraceabilityRoutes(app: App, svc: TraceabilityService) {
  app.get('/api/v1/trace/lookup', {
    config: { roles: READ },
    schema: {
      tags, summary: 'What a scanned or typed text names: unit, panel, lot, package, material lot or MPN (several when ambiguous)',
      querystring: Type.Object({ q: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false }),
      response: { 200: Type.Array(Type.Object({ kind: Type.String(), key: Type.String(), id: Type.Union([Type.Integer(), Type.Null()]), label: Type.String() })), ...errors(400) },
    },
    handler: async (req) => svc.lookup(req.query.q),
  });
  app.get('/api/v1/trace/units/:serial', {
    config: { roles: READ },
    schema: {
      tags, summary: 'Unit genealogy: work order and build basis, every step, materials per refdes, consumables, results with defects, dispositions, NCRs, repairs, holds, carton and shipment',
      params: Type.Object({ serial: Code('Unit serial') }),
      response: { 200: Open({ unit: Open({ serial: Type.String(), state: Type.String() }) }), ...errors(404) },
    },
    handler: async (req) => svc.genealogy({ serial: req.params.serial }),
  });
  app.get('/api/v1/trace/panels/:code', {
    config: { roles: READ },
    schema: {
      tags, summary: 'Panel genealogy: the panel, its work order and lot, and each position with its unit',
      params: Type.Object({ code: Code('Panel ID') }),
      response: { 200: Open({ panel: Open({ code: Type.String() }), units: Type.Array(Open({ serial: Type.String() })) }), ...errors(404) },
    },
    handler: async (req) => svc.genealogyOfPanel(req.params.code),
  });
  app.get('/api/v1/trace/lots/:code', {
    config: { roles: READ },
    schema: {
      tags, summary: 'Production lot genealogy: the lot and one summary row per unit (paged by unit id)',
      params: Type.Object({ code: Code('Production lot code') }),
      querystring: Type.Object({ afterId: Type.Optional(Id), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000 })) }, { additionalProperties: false }),
      response: { 200: Open({ lot: Open({ code: Type.String() }), units: Type.Array(Open({ serial: Type.String() })), nextAfterId: Type.Union([Type.Integer(), Type.Null()]) }), ...errors(400, 404) },
    },
    handler: async (req) => svc.genealogyOfLot(req.params.code, req.query),
  });
  app.post('/api/v1/trace/where-used', {
    config: { roles: READ },
    schema: {
      tags, summary: 'Where-used and recall impact: affected units with their state, counts per state, work order, customer, cartons and shipments',
      body: Type.Object({
        query: TraceQueryBody,
        countsOnly: Type.Optional(Type.Boolean({ description: 'Only the counts (no unit list)' })),
        afterId: Type.Optional(Id), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, description: 'Units per page (default 500)' })),
      }, { additionalProperties: false }),
      response: {
        200: Open({ ...CountsProps, units: Type.Optional(Type.Array(Open({ serial: Type.String(), state: Type.String() }))), nextAfterId: Type.Optional(Type.Union([Type.Integer(), Type.Null()])) }),
        ...errors(400, 404),
      },
    },
    handler: async (req) => {
      const { query, countsOnly, ...page } = req.body;
      return countsOnly ? svc.impact(query as TraceQuery) : svc.whereUsed(query as TraceQuery, page);
    },
  });
  app.post('/api/v1/trace/where-used/hold', {
    config: { roles: R.quality },
    schema: {
      tags, summary: 'Containment: place one quality hold (scope units) on exactly the units the where-used query finds, recording the query',
      body: Type.Object({
        query: TraceQueryBody,
        reasonCode: Type.String({ minLength: 2, maxLength: 40, description: 'Hold reason code (GET /api/v1/quality/hold-reasons)' }),
        reason: Type.String({ minLength: 3, maxLength: 2000, description: 'Why the units are held' }),
      }, { additionalProperties: false }),
      response: { 201: Open({ id: Type.Integer(), number: Type.String(), scope: Type.String(), units: Type.Integer({ description: 'Units held' }) }), ...errors(400, 404, 409) },
    },
    handler: async (req, reply) => reply.code(201).send(await svc.holdWhereUsed(who(req), { ...req.body, query: req.body.query as TraceQuery })),
  });
}
