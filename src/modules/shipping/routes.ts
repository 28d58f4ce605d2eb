import { Type, type TSchema } from 'typebox';
import { errors, who, type App } from '../../platform/http.ts';
import { R, type Role } from '../../platform/principal.ts';
import { DateTime, Enum, NullableDateTime } from '../../platform/schema.ts';
import { SignatureBody } from '../quality/index.ts';
import type { ShippingService } from './service.ts';

const Id = Type.Integer({ minimum: 1 });
const IdParams = Type.Object({ id: Id });
const NullableInt = Type.Union([Type.Integer(), Type.Null()]);
const NullableString = Type.Union([Type.String(), Type.Null()]);
const Open = (props: Record<string, TSchema>) => Type.Unsafe<unknown>(Type.Object(props, { additionalProperties: true }));
const CartonRef = Type.Union([Id, Type.String({ minLength: 1 })], { description: 'Carton id or code' });

/** Pack and handle cartons: the floor. */
const PACK: readonly Role[] = ['admin', 'operator', 'technician', 'quality-engineer', 'planner', 'machine'];
/** Create and fill shipments: planning / logistics. */
const SHIP: readonly Role[] = ['admin', 'planner', 'quality-engineer', 'integration'];
const read = R.masterDataRead;
const tags = ['shipping'];

const CartonSchema = Type.Object({
  id: Type.Integer(), code: Type.String(), workOrderId: Type.Integer(), workOrderNumber: Type.String(), productRevisionId: Type.Integer(), productCode: Type.String(),
  revision: Type.String(), capacity: Type.Integer(), packed: Type.Integer(), productionLotId: NullableInt, stationId: NullableInt,
  state: Enum(['open', 'closed', 'shipped'] as const), shipmentId: NullableInt, shipmentNumber: NullableString, createdAt: DateTime(), createdBy: Type.String(),
  closedAt: NullableDateTime(), closedBy: NullableString,
});
const ShipmentSchema = Type.Object({
  id: Type.Integer(), number: Type.String(), customer: Type.String(), customerPo: Type.String(), shipTo: Type.String(), state: Enum(['open', 'released', 'cancelled'] as const),
  notes: Type.String(), cartons: Type.Integer(), units: Type.Integer(), createdAt: DateTime(), createdBy: Type.String(), releasedAt: NullableDateTime(),
  releasedBy: NullableString, releaseSignatureId: NullableInt,
});
const ClearanceSchema = Type.Object({
  shipmentId: Type.Integer(), number: Type.String(), clear: Type.Boolean({ description: 'No blocker: the shipment may be released' }), cartons: Type.Integer(), units: Type.Integer(),
  blockers: Type.Array(Type.Object({
    code: Type.String({ description: 'Stable blocker code' }), message: Type.String({ description: 'The blocker as a sentence, naming the unit and item' }),
    unitId: Type.Optional(Type.Integer()), serial: Type.Optional(Type.String()), carton: Type.Optional(Type.String()),
  })),
  total: Type.Integer({ description: 'All blockers (the list may be cut at limit)' }), counts: Type.Record(Type.String(), Type.Integer()), checkedAt: DateTime(), elapsedMs: Type.Number(),
});

export function registerShippingRoutes(app: App, svc: ShippingService) {
  app.post('/api/v1/shipping/cartons', {
    config: { roles: PACK },
    schema: {
      tags, summary: 'Open a carton for a work order',
      body: Type.Object({
        workOrder: Type.Union([Id, Type.String({ minLength: 1 })], { description: 'Work order id or number' }),
        capacity: Type.Integer({ minimum: 1, maximum: 100000, description: 'Units the carton holds' }),
        code: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$', description: 'Carton ID (generated when omitted)' })),
        stationId: Type.Optional(Type.Union([Id, Type.Null()], { description: 'Packing station' })),
      }, { additionalProperties: false }),
      response: { 201: CartonSchema, ...errors(400, 404, 409) },
    },
    handler: async (req, reply) => reply.code(201).send(await svc.createCarton(who(req), req.body)),
  });
  app.get('/api/v1/shipping/cartons', {
    config: { roles: read },
    schema: {
      tags, summary: 'Cartons, newest first',
      querystring: Type.Object({
        workOrderId: Type.Optional(Id), shipmentId: Type.Optional(Id), state: Type.Optional(Enum(['open', 'closed', 'shipped'] as const)),
        code: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Exact carton ID (as scanned from its label)' })),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000 })),
      }, { additionalProperties: false }),
      response: { 200: Type.Array(CartonSchema) },
    },
    handler: async (req) => svc.listCartons(req.query),
  });
  app.get('/api/v1/shipping/cartons/by-code/:code', {
    config: { roles: read },
    schema: {
      tags, summary: 'One carton by its ID (the code on its label) with its units',
      params: Type.Object({ code: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
      response: { 200: Open({ ...CartonSchema.properties, units: Type.Array(Open({ serial: Type.String() })) }), ...errors(404) },
    },
    handler: async (req) => svc.getCartonByCode(req.params.code),
  });
  app.get('/api/v1/shipping/cartons/:id', {
    config: { roles: read },
    schema: { tags, summary: 'One carton with its units', params: IdParams, response: { 200: Open({ ...CartonSchema.properties, units: Type.Array(Open({ serial: Type.String() })) }), ...errors(404) } },
    handler: async (req) => ({ ...(await svc.getCarton(req.params.id)), units: await svc.cartonUnits(req.params.id) }),
  });
  app.post('/api/v1/shipping/cartons/:id/pack', {
    config: { roles: PACK },
    schema: {
      tags, summary: 'Pack a scanned unit (refused with 409 PACKING_REFUSED naming every reason)', params: IdParams,
      body: Type.Object({ identifier: Type.String({ minLength: 1, maxLength: 80, description: 'Unit serial, as scanned' }), stationId: Type.Optional(Type.Union([Id, Type.Null()], { description: 'Packing station' })) }, { additionalProperties: false }),
      response: { 200: Type.Object({ carton: CartonSchema, serial: Type.String(), unitId: Type.Integer() }), ...errors(400, 404, 409) },
    },
    handler: async (req) => svc.pack(who(req), req.params.id, req.body),
  });
  app.post('/api/v1/shipping/cartons/:id/unpack', {
    config: { roles: PACK },
    schema: {
      tags, summary: 'Take a unit out of a carton that has not shipped', params: IdParams,
      body: Type.Object({ serial: Type.String({ minLength: 1, description: 'Unit serial' }), reason: Type.String({ minLength: 3, maxLength: 2000, description: 'Why' }) }, { additionalProperties: false }),
      response: { 200: CartonSchema, ...errors(400, 404, 409) },
    },
    handler: async (req) => svc.unpack(who(req), req.params.id, req.body),
  });
  app.post('/api/v1/shipping/cartons/:id/close', {
    config: { roles: PACK },
    schema: { tags, summary: 'Close a carton', params: IdParams, response: { 200: CartonSchema, ...errors(404, 409) } },
    handler: async (req) => svc.closeCarton(who(req), req.params.id),
  });
  app.get('/api/v1/shipping/cartons/:id/label', {
    config: { roles: read },
    schema: {
      tags, summary: 'The carton label: ZPL for Zebra printers, PDF, or PNG (the Data Matrix of the carton ID, for a screen preview)', params: IdParams,
      querystring: Type.Object({ format: Type.Optional(Enum(['zpl', 'pdf', 'png'] as const, { default: 'zpl' })) }, { additionalProperties: false }),
      response: { ...errors(404) },
    },
    handler: async (req, reply) => {
      const l = await svc.label(req.params.id, req.query.format ?? 'zpl');
      reply.header('content-type', l.contentType).header('content-disposition', `inline; filename="${l.filename}"`);
      return reply.send(l.body);
    },
  });

  app.post('/api/v1/shipping/cartons/:id/label/print', {
    config: { roles: PACK },
    schema: {
      tags, summary: 'Send the carton label (ZPL) to a network label printer (raw TCP, port 9100 by default)', params: IdParams,
      body: Type.Object({
        host: Type.String({ minLength: 1, maxLength: 253, description: 'Printer host name or address' }),
        port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, default: 9100, description: 'Raw printing port' })),
        timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 60_000, description: 'Connecting and sending together, at most (default 10 s)' })),
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ bytesWritten: Type.Integer(), printer: Type.String() }), ...errors(400, 404, 422, 502, 504) },
    },
    handler: async (req) => svc.printLabel(who(req), req.params.id, req.body),
  });

  app.post('/api/v1/shipping/shipments', {
    config: { roles: SHIP },
    schema: {
      tags, summary: 'Create a shipment',
      body: Type.Object({
        number: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$', description: 'Shipment number (generated when omitted)' })),
        customer: Type.String({ minLength: 1, maxLength: 200, description: 'Customer' }),
        customerPo: Type.Optional(Type.String({ maxLength: 100, description: 'Customer purchase order' })),
        shipTo: Type.Optional(Type.String({ maxLength: 2000, description: 'Ship-to address' })),
        notes: Type.Optional(Type.String({ maxLength: 4000, description: 'Free text' })),
      }, { additionalProperties: false }),
      response: { 201: ShipmentSchema, ...errors(400, 409) },
    },
    handler: async (req, reply) => reply.code(201).send(await svc.createShipment(who(req), req.body)),
  });
  app.get('/api/v1/shipping/shipments', {
    config: { roles: read },
    schema: { tags, summary: 'Shipments', querystring: Type.Object({ state: Type.Optional(Enum(['open', 'released', 'cancelled'] as const)), customer: Type.Optional(Type.String()), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }, { additionalProperties: false }), response: { 200: Type.Array(ShipmentSchema) } },
    handler: async (req) => svc.listShipments(req.query),
  });
  app.get('/api/v1/shipping/shipments/:id', {
    config: { roles: read },
    schema: { tags, summary: 'One shipment', params: IdParams, response: { 200: ShipmentSchema, ...errors(404) } },
    handler: async (req) => svc.getShipment(req.params.id),
  });
  app.post('/api/v1/shipping/shipments/:id/cartons', {
    config: { roles: SHIP },
    schema: { tags, summary: 'Add cartons to an open shipment', params: IdParams, body: Type.Object({ cartons: Type.Array(CartonRef, { minItems: 1, maxItems: 10000 }) }, { additionalProperties: false }), response: { 200: ShipmentSchema, ...errors(400, 404, 409) } },
    handler: async (req) => svc.addCartons(who(req), req.params.id, req.body.cartons),
  });
  app.post('/api/v1/shipping/shipments/:id/cartons/remove', {
    config: { roles: SHIP },
    schema: { tags, summary: 'Take cartons out of an open shipment', params: IdParams, body: Type.Object({ cartons: Type.Array(CartonRef, { minItems: 1, maxItems: 10000 }) }, { additionalProperties: false }), response: { 200: ShipmentSchema, ...errors(400, 404, 409) } },
    handler: async (req) => svc.removeCartons(who(req), req.params.id, req.body.cartons),
  });
  app.get('/api/v1/shipping/shipments/:id/clearance', {
    config: { roles: read },
    schema: {
      tags, summary: 'Clearance check: every blocker of the shipment by name (units missing a required result, open dispositions / NCRs / holds, unverified repairs, traceability below the plan)',
      params: IdParams, querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, description: 'Most blockers to list' })) }, { additionalProperties: false }),
      response: { 200: ClearanceSchema, ...errors(404) },
    },
    handler: async (req) => svc.clearance(req.params.id, { limit: req.query.limit }),
  });
  app.post('/api/v1/shipping/shipments/:id/release', {
    config: { roles: R.quality },
    schema: {
      tags, summary: 'Release a shipment (signed by a quality engineer); refused with 409 SHIPMENT_BLOCKED listing the blockers', params: IdParams,
      body: Type.Object({ signature: SignatureBody }, { additionalProperties: false }), response: { 200: ShipmentSchema, ...errors(400, 401, 403, 404, 409) },
    },
    handler: async (req) => svc.releaseShipment(who(req), req.params.id, req.body),
  });
  app.get('/api/v1/shipping/units/:serial', {
    config: { roles: read },
    schema: {
      tags, summary: 'Where a unit was packed and shipped', params: Type.Object({ serial: Type.String({ minLength: 1 }) }),
      response: { 200: Type.Object({ serial: Type.String(), carton: NullableString, shipment: NullableString, shipmentState: NullableString, shippedAt: NullableDateTime(), shipped: Type.Boolean() }), ...errors(404) },
    },
    handler: async (req) => svc.unitShipping(req.params.serial),
  });
}
