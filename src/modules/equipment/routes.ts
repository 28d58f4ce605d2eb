import { Type } from 'typebox';
import { errors, who, type App } from '../../platform/http.ts';
import { R } from '../../platform/principal.ts';
import { DateTime, Enum, NullableDateTime } from '../../platform/schema.ts';
import { E10_STATES, type EquipmentService } from './service.ts';

const StationParams = Type.Object({ id: Type.Integer({ minimum: 1, description: 'Station id' }) });
const Range = {
  from: Type.Optional(Type.String({ format: 'date-time', description: 'Start of the range (default: 24 h before `to`; 7 days for faults and OEE)' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'End of the range (default: now)' })),
};
const NullableString = Type.Union([Type.String(), Type.Null()]);
const NullableNumber = Type.Union([Type.Number(), Type.Null()]);
const E10 = Enum(E10_STATES, { description: 'SEMI E10 major state' });

const IntervalSchema = Type.Object({
  id: Type.Integer(), equipmentId: Type.Integer(), equipmentCode: Type.String(),
  stateCode: Type.Integer({ description: 'CFX ResourceState code, e.g. 1100 (productive, regular work), 5300 (repair)' }),
  e10: E10, from: DateTime(), to: NullableDateTime({ description: 'Null for the current state' }),
  seconds: Type.Number({ description: 'Seconds of the interval inside the requested range' }),
  faultCode: NullableString, inferred: Type.Boolean({ description: 'Reconstructed from OldState / OldStateDuration of the first change seen' }),
});
const FaultSchema = Type.Object({
  id: Type.Integer(), equipmentId: Type.Integer(), equipmentCode: Type.String(), occurrenceId: Type.String(), code: NullableString, severity: NullableString,
  cause: NullableString, description: NullableString, occurredAt: NullableDateTime({ description: 'Null while only the clearing has been reported' }),
  clearedAt: NullableDateTime(), clearedBy: NullableString, acknowledgedAt: NullableDateTime(), acknowledgedBy: NullableString,
  seconds: Type.Union([Type.Number(), Type.Null()], { description: 'Duration until cleared (or now)' }),
});
const OeeBucketSchema = Type.Object({
  day: Type.String({ description: 'Local calendar day in the site time zone' }), shift: NullableString, from: DateTime(), to: DateTime(),
  knownSeconds: Type.Number(), plannedSeconds: Type.Number(), runSeconds: Type.Number(), totalCount: Type.Number(), goodCount: Type.Number(),
  idealSeconds: Type.Number(), availability: NullableNumber, performance: NullableNumber, quality: NullableNumber, oee: NullableNumber,
});

export function registerEquipmentRoutes(app: App, svc: EquipmentService) {
  const tags = ['equipment'];
  app.get('/api/v1/stations/:id/states', {
    config: { roles: R.masterDataRead },
    schema: {
      tags, summary: 'SEMI E10 state timeline of the station\'s machines (from CFX StationStateChanged)', params: StationParams,
      querystring: Type.Object(Range, { additionalProperties: false }),
      response: { 200: Type.Object({ stationId: Type.Integer(), from: DateTime(), to: DateTime(), intervals: Type.Array(IntervalSchema) }), ...errors(400, 404) },
    },
    handler: async (req) => svc.timeline(req.params.id, req.query),
  });
  app.get('/api/v1/stations/:id/status', {
    config: { roles: R.masterDataRead },
    schema: {
      tags, summary: 'Connectivity, current state, active faults and recipe of each machine of the station', params: StationParams,
      response: {
        200: Type.Array(Type.Object({
          equipmentId: Type.Integer(), equipmentCode: Type.String(), cfxHandle: NullableString, online: Type.Union([Type.Boolean(), Type.Null()]),
          lastSeenAt: NullableDateTime(), changedAt: NullableDateTime(), stateCode: Type.Union([Type.Integer(), Type.Null()]), e10: Type.Union([E10, Type.Null()]),
          stateSince: NullableDateTime(), activeFaults: Type.Integer(), recipeName: NullableString,
        })),
        ...errors(404),
      },
    },
    handler: async (req) => svc.status(req.params.id),
  });
  app.get('/api/v1/stations/:id/faults', {
    config: { roles: R.masterDataRead },
    schema: {
      tags, summary: 'Faults of the station\'s machines (CFX FaultOccurred / FaultCleared / FaultAcknowledged)', params: StationParams,
      querystring: Type.Object({ ...Range, active: Type.Optional(Type.Boolean({ description: 'Only faults not cleared yet' })) }, { additionalProperties: false }),
      response: { 200: Type.Array(FaultSchema), ...errors(400, 404) },
    },
    handler: async (req) => svc.faults(req.params.id, req.query),
  });
  app.get('/api/v1/stations/:id/downtime', {
    config: { roles: R.masterDataRead },
    schema: {
      tags, summary: 'Time per machine state, per E10 state, and downtime per fault code', params: StationParams,
      querystring: Type.Object(Range, { additionalProperties: false }),
      response: {
        200: Type.Object({
          stationId: Type.Integer(), from: DateTime(), to: DateTime(),
          byState: Type.Array(Type.Object({ stateCode: Type.Integer(), e10: E10, seconds: Type.Number(), intervals: Type.Integer() })),
          byE10: Type.Array(Type.Object({ e10: E10, seconds: Type.Number() })),
          byFaultCode: Type.Array(Type.Object({
            faultCode: Type.String({ description: 'Fault code, `unattributed` for downtime without a known fault' }),
            downtimeSeconds: Type.Number({ description: 'Scheduled and unscheduled downtime attributed to the code' }),
            occurrences: Type.Integer(), faultSeconds: Type.Number({ description: 'Time faults of this code were active' }),
          })),
        }),
        ...errors(400, 404),
      },
    },
    handler: async (req) => svc.downtime(req.params.id, req.query),
  });
  app.get('/api/v1/stations/:id/oee', {
    config: { roles: R.masterDataRead },
    schema: {
      tags, summary: 'OEE = availability × performance × quality per day or shift (site time zone)', params: StationParams,
      querystring: Type.Object(
        {
          ...Range,
          granularity: Type.Optional(Enum(['day', 'shift'] as const, { description: 'Bucket size (default day)' })),
          shiftStarts: Type.Optional(Type.Array(Type.String({ pattern: '^\\d{1,2}:\\d{2}$' }), { description: 'Local shift start times, ascending (default 06:00, 14:00, 22:00)' })),
        },
        { additionalProperties: false },
      ),
      response: {
        200: Type.Object({ stationId: Type.Integer(), timezone: Type.String(), granularity: Type.String(), buckets: Type.Array(OeeBucketSchema), total: OeeBucketSchema }),
        ...errors(400, 404),
      },
    },
    handler: async (req) => svc.oee(req.params.id, req.query),
  });
  app.get('/api/v1/stations/:id/readings', {
    config: { roles: R.masterDataRead },
    schema: {
      tags, summary: 'Process readings of the station (CFX readings and measurements, MQTT telemetry), newest first', params: StationParams,
      querystring: Type.Object(
        { ...Range, name: Type.Optional(Type.String()), unitIdentifier: Type.Optional(Type.String()), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000 })) },
        { additionalProperties: false },
      ),
      response: {
        200: Type.Array(Type.Object({
          id: Type.Integer(), at: DateTime(), equipmentId: Type.Union([Type.Integer(), Type.Null()]), unitIdentifier: NullableString, name: Type.String(),
          value: NullableNumber, textValue: NullableString, unit: NullableString, source: Type.String(),
        })),
        ...errors(400, 404),
      },
    },
    handler: async (req) => svc.readings(req.params.id, req.query),
  });
  app.get('/api/v1/stations/:id/ideal-cycle-times', {
    config: { roles: R.masterDataRead },
    schema: {
      tags, summary: 'Ideal cycle times of the station (master data for OEE)', params: StationParams,
      response: { 200: Type.Array(Type.Object({ recipeName: Type.String(), seconds: Type.Number(), updatedAt: DateTime(), updatedBy: Type.String() })) },
    },
    handler: async (req) => svc.listIdealCycleTimes(req.params.id),
  });
  app.put('/api/v1/stations/:id/ideal-cycle-times', {
    config: { roles: R.masterDataWrite },
    schema: {
      tags, summary: 'Set the ideal cycle time of the station, or of one recipe on it (used when machines do not report ExpectedCycleTime)', params: StationParams,
      body: Type.Object(
        {
          recipeName: Type.Optional(Type.Union([Type.String({ maxLength: 128, description: 'Recipe (program) name; absent for the station default' }), Type.Null()])),
          seconds: Type.Number({ exclusiveMinimum: 0, maximum: 86400, description: 'Ideal seconds per unit' }),
        },
        { additionalProperties: false },
      ),
      response: { 200: Type.Object({ stationId: Type.Integer(), recipeName: Type.String(), seconds: Type.Number() }), ...errors(400, 404) },
    },
    handler: async (req) => svc.setIdealCycleTime(who(req), req.params.id, req.body),
  });
}
