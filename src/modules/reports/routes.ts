import { Type, type TSchema } from 'typebox';
import { errors, type App } from '../../platform/http.ts';
import { R } from '../../platform/principal.ts';
import { DateTime, Enum } from '../../platform/schema.ts';
import type { ReportsService } from './service.ts';

const tags = ['reports'];
/** Reports are for people and integrations (ERP, BI); machines do not read them. */
const READ = [...R.people, 'integration'] as const;
const Id = Type.Integer({ minimum: 1 });
const NullableNumber = Type.Union([Type.Number(), Type.Null()]);
const METHODS = ['spi', 'aoi', 'axi', 'visual', 'fai', 'ict', 'fct', 'flying-probe', 'boundary-scan', 'other'] as const;
const Range = {
  from: Type.Optional(Type.String({ format: 'date-time', description: 'Start (inclusive); default 14 days before `to`' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'End (exclusive); default now' })),
};
const Query = (props: Record<string, TSchema>) => Type.Object({ ...Range, ...props }, { additionalProperties: false });
const ParetoSchema = (extra: Record<string, TSchema> = {}) =>
  Type.Object({
    from: DateTime(), to: DateTime(), by: Type.String(), total: Type.Number({ description: 'Sum of the values' }), ...extra,
    items: Type.Array(Type.Object({
      key: Type.String(), label: Type.String(), value: Type.Number({ description: 'Defects, or downtime seconds' }),
      count: Type.Integer({ description: 'Units with the defect, fault occurrences or state intervals' }), percent: Type.Number(), cumulativePercent: Type.Number(),
    })),
  });

export function registerReportsRoutes(app: App, svc: ReportsService) {
  app.get('/api/v1/reports/fpy', {
    config: { roles: READ },
    schema: {
      tags, summary: 'First-pass yield per local day, overall or per product / line (first result of every method passed; verified results count)',
      querystring: Query({
        timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone of the days (default UTC)' })),
        groupBy: Type.Optional(Enum(['none', 'product', 'line'] as const, { description: 'One series overall (default), per product or per line' })),
        method: Type.Optional(Enum(METHODS, { description: 'Only results of this method' })),
        productId: Type.Optional(Id), lineId: Type.Optional(Id),
      }),
      response: {
        200: Type.Object({
          from: DateTime(), to: DateTime(), timezone: Type.String(), groupBy: Type.String(), method: Type.Union([Type.String(), Type.Null()]), days: Type.Array(Type.String()),
          series: Type.Array(Type.Object({
            key: Type.String(), label: Type.String(), units: Type.Integer(), firstPass: Type.Integer(), fpy: NullableNumber,
            points: Type.Array(Type.Object({ day: Type.String(), units: Type.Integer(), firstPass: Type.Integer(), fpy: NullableNumber })),
          })),
          total: Type.Object({ units: Type.Integer(), firstPass: Type.Integer(), fpy: NullableNumber }),
        }),
        ...errors(400),
      },
    },
    handler: async (req) => svc.fpy(req.query),
  });
  app.get('/api/v1/reports/defect-pareto', {
    config: { roles: READ },
    schema: {
      tags, summary: 'Defect Pareto by defect code or reference designator (false calls left out unless asked for)',
      querystring: Query({
        by: Type.Optional(Enum(['code', 'refdes'] as const, { description: 'Group by defect code (default) or reference designator' })),
        includeFalseCalls: Type.Optional(Type.Boolean({ description: 'Count machine calls verified as false calls too' })),
        method: Type.Optional(Enum(METHODS)), productId: Type.Optional(Id), lineId: Type.Optional(Id), workOrderId: Type.Optional(Id),
      }),
      response: { 200: ParetoSchema(), ...errors(400) },
    },
    handler: async (req) => svc.defectPareto(req.query),
  });
  app.get('/api/v1/reports/oee', {
    config: { roles: READ },
    schema: {
      tags, summary: 'OEE by station over the range (availability × performance × quality, from the equipment module)',
      querystring: Query({ lineId: Type.Optional(Type.Integer({ minimum: 1, description: 'Every station of this line (default: stations with machine data in the range)' })) }),
      response: {
        200: Type.Object({
          from: DateTime(), to: DateTime(),
          stations: Type.Array(Type.Object({
            stationId: Type.Integer(), code: Type.String(), name: Type.String(), type: Type.String(), lineCode: Type.Union([Type.String(), Type.Null()]),
            availability: NullableNumber, performance: NullableNumber, quality: NullableNumber, oee: NullableNumber,
            plannedSeconds: Type.Number(), runSeconds: Type.Number(), totalCount: Type.Number(), goodCount: Type.Number(),
          })),
        }),
        ...errors(400),
      },
    },
    handler: async (req) => svc.oeeByStation(req.query),
  });
  app.get('/api/v1/reports/downtime-pareto', {
    config: { roles: READ },
    schema: {
      tags, summary: 'Downtime Pareto by fault code or machine state (seconds), over the stations of a line or with machine data',
      querystring: Query({
        by: Type.Optional(Enum(['fault', 'state'] as const, { description: 'Downtime per fault code (default) or time per non-productive state' })),
        lineId: Type.Optional(Id), stationId: Type.Optional(Id),
      }),
      response: { 200: ParetoSchema({ stations: Type.Integer({ description: 'Stations summed' }) }), ...errors(400) },
    },
    handler: async (req) => svc.downtimePareto(req.query),
  });
  app.get('/api/v1/reports/bakes', {
    config: { roles: READ },
    schema: {
      tags, summary: 'Bake records of the last days with the packages baked',
      querystring: Type.Object({ days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3660, description: 'How far back (default 30)' })) }, { additionalProperties: false }),
      response: {
        200: Type.Array(Type.Object({
          id: Type.Integer(), oven: Type.String(), temperatureC: Type.Number(), durationMinutes: Type.Integer(), startedAt: DateTime(), finishedAt: DateTime(),
          notes: Type.String(), actorName: Type.String(), packages: Type.Array(Type.String()),
        })),
      },
    },
    handler: async (req) => svc.bakes(req.query),
  });
}
