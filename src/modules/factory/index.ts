import { Type } from 'typebox';
import type { Db } from '../../platform/db.ts';
import { defineEntity, registerCrudRoutes } from '../../platform/crud.ts';
import type { App } from '../../platform/http.ts';
import { R } from '../../platform/principal.ts';
import { Enum } from '../../platform/schema.ts';

/** Where work happens: sites, lines, stations (typed) and their equipment (with CFX handles). */

export const STATION_TYPES = [
  'printer', 'spi', 'placement', 'reflow', 'aoi', 'axi', 'ict', 'fct', 'flying-probe',
  'visual', 'rework', 'depanel', 'coating', 'marking', 'packing', 'manual',
] as const;
export type StationType = (typeof STATION_TYPES)[number];

export interface Site { id: number; code: string; name: string; timezone: string }
export interface Line { id: number; siteId: number; code: string; name: string }
export interface Station { id: number; lineId: number | null; code: string; name: string; type: StationType; seq: number }
export interface Equipment {
  id: number; stationId: number; code: string; name: string; vendor: string | null; model: string | null;
  serialNumber: string | null; cfxHandle: string | null; lanes: number;
}

const Code = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$', description: 'Unique short code' });
const Name = Type.String({ minLength: 1, maxLength: 200 });
export const StationTypeSchema = Enum(STATION_TYPES, { description: 'Station type' });
const NullableString = Type.Union([Type.String({ maxLength: 200 }), Type.Null()]);

const SiteBody = Type.Object({ code: Code, name: Name, timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone, e.g. Europe/Berlin' })) }, { additionalProperties: false });
const LineBody = Type.Object({ siteId: Type.Integer({ minimum: 1 }), code: Code, name: Name }, { additionalProperties: false });
const StationBody = Type.Object(
  { lineId: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]), code: Code, name: Name, type: StationTypeSchema, seq: Type.Optional(Type.Integer({ minimum: 0, description: 'Order of the station on its line' })) },
  { additionalProperties: false },
);
const EquipmentBody = Type.Object(
  {
    stationId: Type.Integer({ minimum: 1 }),
    code: Code,
    name: Name,
    vendor: Type.Optional(NullableString),
    model: Type.Optional(NullableString),
    serialNumber: Type.Optional(NullableString),
    cfxHandle: Type.Optional(Type.Union([Type.String({ pattern: '^[^\\s]+\\.[^\\s]+$', description: 'CFX handle, e.g. Vendor.Model.Serial' }), Type.Null()])),
    lanes: Type.Optional(Type.Integer({ minimum: 1, maximum: 8 })),
  },
  { additionalProperties: false },
);

export const SiteSchema = Type.Object({ id: Type.Integer(), code: Type.String(), name: Type.String(), timezone: Type.String() });
export const LineSchema = Type.Object({ id: Type.Integer(), siteId: Type.Integer(), code: Type.String(), name: Type.String() });
export const StationSchema = Type.Object({ id: Type.Integer(), lineId: Type.Union([Type.Integer(), Type.Null()]), code: Type.String(), name: Type.String(), type: Type.String(), seq: Type.Integer() });
export const EquipmentSchema = Type.Object({
  id: Type.Integer(), stationId: Type.Integer(), code: Type.String(), name: Type.String(), vendor: NullableString, model: NullableString,
  serialNumber: NullableString, cfxHandle: NullableString, lanes: Type.Integer(),
});

export function createFactoryService(db: Db) {
  return {
    sites: defineEntity<Site>(db, { entity: 'site', table: 'sites', key: 'code', cache: true, columns: { code: 'code', name: 'name', timezone: 'timezone' } }),
    lines: defineEntity<Line>(db, { entity: 'line', table: 'lines', key: 'code', cache: true, columns: { siteId: 'site_id', code: 'code', name: 'name' } }),
    stations: defineEntity<Station>(db, {
      entity: 'station', table: 'stations', key: 'code', cache: true, orderBy: 'line_id, seq, code',
      columns: { lineId: 'line_id', code: 'code', name: 'name', type: 'type', seq: 'seq' },
    }),
    equipment: defineEntity<Equipment>(db, {
      entity: 'equipment', table: 'equipment', key: 'code', cache: true,
      columns: { stationId: 'station_id', code: 'code', name: 'name', vendor: 'vendor', model: 'model', serialNumber: 'serial_number', cfxHandle: 'cfx_handle', lanes: 'lanes' },
    }),
  };
}
export type FactoryService = ReturnType<typeof createFactoryService>;

export function registerFactoryRoutes(app: App, f: FactoryService) {
  const common = { tag: 'factory', read: R.masterDataRead, write: R.admin, deletable: true } as const;
  registerCrudRoutes(app, f.sites, { ...common, path: '/api/v1/sites', noun: 'site', schema: SiteSchema, createBody: SiteBody });
  registerCrudRoutes(app, f.lines, {
    ...common, path: '/api/v1/lines', noun: 'line', schema: LineSchema, createBody: LineBody,
    filters: Type.Object({ siteId: Type.Optional(Type.Integer()) }, { additionalProperties: false }),
  });
  registerCrudRoutes(app, f.stations, {
    ...common, path: '/api/v1/stations', noun: 'station', schema: StationSchema, createBody: StationBody,
    filters: Type.Object({ lineId: Type.Optional(Type.Integer()), type: Type.Optional(StationTypeSchema) }, { additionalProperties: false }),
  });
  registerCrudRoutes(app, f.equipment, {
    ...common, path: '/api/v1/equipment', noun: 'equipment', schema: EquipmentSchema, createBody: EquipmentBody,
    filters: Type.Object({ stationId: Type.Optional(Type.Integer()), cfxHandle: Type.Optional(Type.String()) }, { additionalProperties: false }),
  });
}
