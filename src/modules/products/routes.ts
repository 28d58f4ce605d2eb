import { Type } from 'typebox';
import { registerCrudRoutes } from '../../platform/crud.ts';
import { AppError } from '../../platform/errors.ts';
import { errors, who, type App } from '../../platform/http.ts';
import { R } from '../../platform/principal.ts';
import { StationTypeSchema } from '../factory/index.ts';
import { BOM_FIELDS, mergeBomErrors, parseBomCsv, type BomField } from './bom.ts';
import { TRACE_PACKAGE_SECTIONS, type ProductsService } from './service.ts';
import { DateTime, NullableDateTime, Enum } from '../../platform/schema.ts';

const Id = Type.Integer({ minimum: 1 });
const IdParams = Type.Object({ id: Id });
const RevCode = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$' });

export const ProductSchema = Type.Object({ id: Type.Integer(), code: Type.String(), name: Type.String(), customer: Type.String() });
const ProductBody = Type.Object(
  { code: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' }), name: Type.String({ minLength: 1, maxLength: 200 }), customer: Type.Optional(Type.String({ maxLength: 200 })) },
  { additionalProperties: false },
);
export const RevisionSchema = Type.Object({
  id: Type.Integer(), productId: Type.Integer(), productCode: Type.String(), revision: Type.String(),
  state: Type.Union([Type.Literal('draft'), Type.Literal('released'), Type.Literal('obsolete')]),
  bomRevision: Type.String(), gerberRevision: Type.String(), assemblyDrawingRevision: Type.String(), centroidRevision: Type.String(),
  derivedFromId: Type.Union([Type.Integer(), Type.Null()]), changeReason: Type.Union([Type.String(), Type.Null()]),
  createdAt: DateTime(), releasedAt: NullableDateTime(), releasedBy: Type.Union([Type.String(), Type.Null()]),
});
const EngFields = {
  bomRevision: Type.Optional(Type.String({ maxLength: 32, description: 'BOM revision' })),
  gerberRevision: Type.Optional(Type.String({ maxLength: 32, description: 'Gerber (fabrication data) revision' })),
  assemblyDrawingRevision: Type.Optional(Type.String({ maxLength: 32 })),
  centroidRevision: Type.Optional(Type.String({ maxLength: 32, description: 'Centroid / pick-and-place file revision' })),
};
const BomLineSchema = Type.Object({
  id: Type.Integer(), lineNo: Type.Integer(), partId: Type.Integer(), ipn: Type.String(), description: Type.String(), mslLevel: Type.String(),
  quantity: Type.Number(), refdes: Type.Array(Type.String()), side: Type.String(), doNotPlace: Type.Boolean(), placed: Type.Boolean(), notes: Type.String(),
});
const BomLineBody = Type.Object(
  {
    lineNo: Type.Integer({ minimum: 1 }), ipn: Type.String({ minLength: 1 }), quantity: Type.Number({ minimum: 0 }),
    refdes: Type.Array(Type.String({ minLength: 1, maxLength: 32 }), { description: 'One per unit of quantity on placed lines' }),
    side: Type.Optional(Type.Union([Type.Literal('top'), Type.Literal('bottom'), Type.Literal('both'), Type.Literal('none')])),
    doNotPlace: Type.Optional(Type.Boolean()), placed: Type.Optional(Type.Boolean()), notes: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);
const ImportSummary = Type.Object({ lines: Type.Integer(), partsCreated: Type.Integer(), avlEntriesCreated: Type.Integer(), placements: Type.Integer() });
const StepBody = Type.Object(
  {
    seq: Type.Integer({ minimum: 1 }), name: Type.String({ minLength: 1, maxLength: 100 }), stationType: StationTypeSchema,
    stationId: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { description: 'Pin the step to one station of that type' })),
    required: Type.Optional(Type.Boolean()), isRepair: Type.Optional(Type.Boolean({ description: 'Entered only through a failure elsewhere' })),
    onFail: Type.Optional(Type.Union([Type.Literal('repair'), Type.Literal('hold'), Type.Literal('scrap')])),
    repairStepSeq: Type.Optional(Type.Union([Type.Integer(), Type.Null()])), returnStepSeq: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
    maxRepairLoops: Type.Optional(Type.Integer({ minimum: 0, maximum: 50 })), firstArticleGate: Type.Optional(Type.Boolean()),
    samplingRate: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1 })), instructions: Type.Optional(Type.String({ maxLength: 20000 })),
    checks: Type.Optional(Type.Array(Type.Object({
      code: Type.String({ minLength: 1 }), text: Type.String({ minLength: 1 }),
      signoff: Type.Optional(Type.Boolean({ description: 'The operator signs this check (password re-entered) when completing the step; completion without it is refused (SIGNOFF_REQUIRED)' })),
    }, { additionalProperties: false }))),
  },
  { additionalProperties: false },
);
const StepSchema = Type.Object({
  id: Type.Integer(), seq: Type.Integer(), name: Type.String(), stationType: Type.String(), stationId: Type.Union([Type.Integer(), Type.Null()]), required: Type.Boolean(), isRepair: Type.Boolean(), onFail: Type.String(),
  repairStepSeq: Type.Union([Type.Integer(), Type.Null()]), returnStepSeq: Type.Union([Type.Integer(), Type.Null()]), maxRepairLoops: Type.Integer(),
  firstArticleGate: Type.Boolean(), samplingRate: Type.Number(), instructions: Type.String(),
  checks: Type.Array(Type.Object({ code: Type.String(), text: Type.String(), signoff: Type.Optional(Type.Boolean()) })),
  attachments: Type.Array(Type.Object({ fileId: Type.Integer(), filename: Type.String(), sha256: Type.String() })),
});
const RouteSchema = Type.Object({ id: Type.Integer(), productRevisionId: Type.Integer(), name: Type.String(), steps: Type.Array(StepSchema) });
const ParamRange = Type.Object(
  { name: Type.String({ minLength: 1 }), unit: Type.Optional(Type.String()), min: Type.Optional(Type.Number()), max: Type.Optional(Type.Number()) },
  { additionalProperties: false },
);
const SlotBody = Type.Object({ slot: Type.String({ minLength: 1, maxLength: 32 }), ipn: Type.String({ minLength: 1 }), refdes: Type.Optional(Type.Array(Type.String())) }, { additionalProperties: false });
const ProgramKinds = ['printer', 'spi', 'placement', 'reflow', 'aoi', 'axi', 'ict', 'fct', 'flying-probe', 'marking', 'coating', 'other'] as const;
const ProgramBody = Type.Object(
  {
    productRevisionId: Id, name: Type.String({ minLength: 1, maxLength: 128 }), revision: Type.String({ minLength: 1, maxLength: 32 }),
    kind: Enum(ProgramKinds), checksum: Type.Optional(Type.String({ maxLength: 128 })), stationType: StationTypeSchema,
    stationId: Type.Optional(Type.Union([Id, Type.Null()])), equipmentId: Type.Optional(Type.Union([Id, Type.Null()])),
    parameterRanges: Type.Optional(Type.Array(ParamRange)), slots: Type.Optional(Type.Array(SlotBody, { description: 'Feeder setup: slot → part' })),
  },
  { additionalProperties: false },
);
const ProgramSchema = Type.Object({
  id: Type.Integer(), productRevisionId: Type.Integer(), name: Type.String(), revision: Type.String(), kind: Type.String(), checksum: Type.String(),
  stationType: Type.String(), stationId: Type.Union([Type.Integer(), Type.Null()]), equipmentId: Type.Union([Type.Integer(), Type.Null()]), state: Type.String(),
  parameterRanges: Type.Array(ParamRange), createdAt: DateTime(), releasedAt: NullableDateTime(),
  slots: Type.Array(Type.Object({ slot: Type.String(), partId: Type.Integer(), ipn: Type.String(), refdes: Type.Array(Type.String()) })),
});
const QualityPlanBody = Type.Object(
  {
    requiredSteps: Type.Optional(Type.Array(StationTypeSchema, { description: 'Station types whose passing result every unit needs' })),
    traceDepth: Type.Optional(Type.Union([Type.Literal('lot'), Type.Literal('panel'), Type.Literal('unit')])),
    materialLevel: Type.Optional(Enum(['M1', 'M2', 'M3', 'M4'] as const, { description: 'IPC-1782 material traceability level' })),
    processLevel: Type.Optional(Enum(['P1', 'P2', 'P3', 'P4'] as const, { description: 'IPC-1782 process traceability level' })),
    acceptanceClass: Type.Optional(Type.Integer({ minimum: 1, maximum: 3, description: 'IPC-A-610 class' })),
    mixedLotsAllowed: Type.Optional(Type.Boolean({ description: 'May a carton mix production lots' })),
    tracePackage: Type.Optional(Type.Array(Enum(TRACE_PACKAGE_SECTIONS), { description: 'Sections the trace package must contain' })),
    notes: Type.Optional(Type.String({ maxLength: 5000 })),
  },
  { additionalProperties: false },
);
const QualityPlanSchema = Type.Object({
  productRevisionId: Type.Integer(), requiredSteps: Type.Array(Type.String()), traceDepth: Type.String(), materialLevel: Type.String(), processLevel: Type.String(),
  acceptanceClass: Type.Integer(), mixedLotsAllowed: Type.Boolean(), tracePackage: Type.Array(Type.String()), notes: Type.String(),
});
const FileSchema = Type.Object({
  id: Type.Integer(), filename: Type.String(), contentType: Type.String(), size: Type.Integer(), sha256: Type.String(), createdAt: DateTime(), createdBy: Type.String(),
  kind: Type.Optional(Type.String()),
});
const FileQuery = Type.Object({ filename: Type.String({ minLength: 1, maxLength: 255 }) }, { additionalProperties: true });

function bodyBuffer(body: unknown): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send the file as the raw request body (e.g. application/octet-stream, application/pdf, image/png)');
}

export function registerProductsRoutes(app: App, svc: ProductsService) {
  registerCrudRoutes(app, svc.products, {
    path: '/api/v1/products', tag: 'products', noun: 'product', read: R.masterDataRead, write: R.masterDataWrite, schema: ProductSchema, createBody: ProductBody,
    filters: Type.Object({ code: Type.Optional(Type.String()), customer: Type.Optional(Type.String()) }, { additionalProperties: false }),
  });

  app.get('/api/v1/product-revisions', {
    config: { roles: R.masterDataRead },
    schema: {
      tags: ['products'], summary: 'List product revisions',
      querystring: Type.Object({ productId: Type.Optional(Type.Integer()), state: Type.Optional(Type.String()) }, { additionalProperties: false }),
      response: { 200: Type.Array(RevisionSchema) },
    },
    handler: async (req) => svc.listRevisions(req.query),
  });
  app.get('/api/v1/product-revisions/:id', {
    config: { roles: R.masterDataRead },
    schema: { tags: ['products'], summary: 'Get a product revision', params: IdParams, response: { 200: RevisionSchema, ...errors(404) } },
    handler: async (req) => svc.getRevision(req.params.id),
  });
  app.post('/api/v1/product-revisions', {
    config: { roles: R.masterDataWrite },
    schema: {
      tags: ['products'], summary: 'Create a draft product revision',
      body: Type.Object({ productId: Id, revision: RevCode, ...EngFields }, { additionalProperties: false }),
      response: { 201: RevisionSchema, ...errors(400, 409, 422) },
    },
    handler: async (req, reply) => reply.code(201).send(await svc.createRevision(who(req), req.body)),
  });
  app.patch('/api/v1/product-revisions/:id', {
    config: { roles: R.masterDataWrite },
    schema: {
      tags: ['products'], summary: 'Change the engineering-package revisions of a draft revision', params: IdParams,
      body: Type.Object(EngFields, { additionalProperties: false }), response: { 200: RevisionSchema, ...errors(404, 409) },
    },
    handler: async (req) => svc.updateRevision(who(req), req.params.id, req.body),
  });
  app.get('/api/v1/product-revisions/:id/release-check', {
    config: { roles: R.masterDataRead },
    schema: {
      tags: ['products'], summary: 'What still stops this revision from being released', params: IdParams,
      response: { 200: Type.Object({ releasable: Type.Boolean(), blockers: Type.Array(Type.Object({ field: Type.String(), code: Type.String(), message: Type.String() })) }) },
    },
    handler: async (req) => {
      await svc.getRevision(req.params.id);
      const blockers = await svc.checkRelease(req.params.id);
      return { releasable: blockers.length === 0, blockers };
    },
  });
  app.post('/api/v1/product-revisions/:id/release', {
    config: { roles: R.masterDataWrite },
    schema: { tags: ['products'], summary: 'Release a draft revision (refused with every blocker listed)', params: IdParams, response: { 200: RevisionSchema, ...errors(404, 409, 422) } },
    handler: async (req) => svc.releaseRevision(who(req), req.params.id),
  });
  app.post('/api/v1/product-revisions/:id/obsolete', {
    config: { roles: R.masterDataWrite },
    schema: {
      tags: ['products'], summary: 'Mark a released revision obsolete', params: IdParams,
      body: Type.Object({ reason: Type.String({ minLength: 3, maxLength: 1000 }) }, { additionalProperties: false }), response: { 200: RevisionSchema, ...errors(404, 409) },
    },
    handler: async (req) => svc.obsoleteRevision(who(req), req.params.id, req.body.reason),
  });
  app.post('/api/v1/product-revisions/:id/derive', {
    config: { roles: R.masterDataWrite },
    schema: {
      tags: ['products'], summary: 'Start a new draft revision from this one (copies BOM, route, programs, quality plan, files)', params: IdParams,
      body: Type.Object({ revision: RevCode, reason: Type.String({ minLength: 3, maxLength: 2000 }) }, { additionalProperties: false }),
      response: { 201: RevisionSchema, ...errors(404, 409) },
    },
    handler: async (req, reply) => reply.code(201).send(await svc.deriveRevision(who(req), req.params.id, req.body)),
  });

  app.get('/api/v1/product-revisions/:id/bom', {
    config: { roles: R.masterDataRead },
    schema: { tags: ['products'], summary: 'The BOM of a revision', params: IdParams, response: { 200: Type.Array(BomLineSchema), ...errors(404) } },
    handler: async (req) => {
      await svc.getRevision(req.params.id);
      return svc.getBom(req.params.id);
    },
  });
  app.put('/api/v1/product-revisions/:id/bom', {
    config: { roles: R.masterDataWrite },
    schema: {
      tags: ['products'], summary: 'Replace the BOM of a draft revision (all or nothing)', params: IdParams,
      body: Type.Object({ lines: Type.Array(BomLineBody, { maxItems: 20000 }) }, { additionalProperties: false }),
      response: { 200: ImportSummary, ...errors(400, 404, 409, 422) },
    },
    handler: async (req) => svc.replaceBom(who(req), req.params.id, req.body.lines),
  });
  app.post('/api/v1/product-revisions/:id/bom/import', {
    config: { roles: R.masterDataWrite },
    schema: {
      tags: ['products'],
      summary: 'Import a BOM CSV (text/csv body) into a draft revision; a bad file is rejected whole with every error by line number',
      description: `Columns are recognised by their usual PLM header names, or mapped explicitly with query parameters map.<field>=<header>. Fields: ${BOM_FIELDS.join(', ')}.`,
      params: IdParams,
      querystring: Type.Object({ createParts: Type.Optional(Type.Boolean({ default: true })) }, { additionalProperties: Type.String() }),
      response: { 200: Type.Object({ summary: ImportSummary, columns: Type.Record(Type.String(), Type.String()) }), ...errors(400, 404, 409, 415, 422) },
    },
    handler: async (req) => {
      if (typeof req.body !== 'string') throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send the BOM as text/csv');
      const mapping: Partial<Record<BomField, string>> = {};
      for (const [k, v] of Object.entries(req.query as Record<string, unknown>)) {
        const m = /^map\.(.+)$/.exec(k);
        if (!m) continue;
        if (!(BOM_FIELDS as readonly string[]).includes(m[1]!)) throw new AppError('VALIDATION_FAILED', `Unknown mapping field ${m[1]}`, { errors: [{ field: `/querystring/${k}`, code: 'enum', message: `must be one of ${BOM_FIELDS.join(', ')}` }] });
        mapping[m[1] as BomField] = String(v);
      }
      const parsed = parseBomCsv(req.body, mapping);
      if (parsed.errors.length) {
        const all = mergeBomErrors(parsed.errors, await svc.checkBomLines(parsed.lines));
        throw new AppError('IMPORT_INVALID', `The BOM file has ${all.length} error(s); nothing was imported`, { errors: all });
      }
      const summary = await svc.replaceBom(who(req), req.params.id, parsed.lines, { createParts: (req.query as { createParts?: boolean }).createParts ?? true, source: 'csv' });
      return { summary, columns: parsed.columns as Record<string, string> };
    },
  });

  app.get('/api/v1/product-revisions/:id/route', {
    config: { roles: R.masterDataRead },
    schema: { tags: ['products'], summary: 'The route of a revision', params: IdParams, response: { 200: RouteSchema, ...errors(404) } },
    handler: async (req) => {
      const r = await svc.getRoute(req.params.id);
      if (!r) throw new AppError('NOT_FOUND', `Product revision ${req.params.id} has no route`);
      return r;
    },
  });
  app.put('/api/v1/product-revisions/:id/route', {
    config: { roles: R.masterDataWrite },
    schema: {
      tags: ['products'], summary: 'Set the route (ordered steps) of a draft revision', params: IdParams,
      body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }), steps: Type.Array(StepBody, { minItems: 1, maxItems: 200 }) }, { additionalProperties: false }),
      response: { 200: RouteSchema, ...errors(400, 404, 409) },
    },
    handler: async (req) => svc.replaceRoute(who(req), req.params.id, req.body),
  });
  app.post('/api/v1/product-revisions/:id/route/steps/:seq/attachments', {
    config: { roles: R.masterDataWrite },
    schema: {
      tags: ['products'], summary: 'Attach a work-instruction file (raw body: image or PDF) to a route step', params: Type.Object({ id: Id, seq: Id }),
      querystring: FileQuery, response: { 201: FileSchema, ...errors(404, 409, 415) },
    },
    handler: async (req, reply) =>
      reply.code(201).send(
        await svc.addStepAttachment(who(req), req.params.id, req.params.seq, {
          filename: req.query.filename, contentType: req.headers['content-type'] ?? 'application/octet-stream', content: bodyBuffer(req.body),
        }),
      ),
  });

  app.get('/api/v1/product-revisions/:id/quality-plan', {
    config: { roles: R.masterDataRead },
    schema: { tags: ['products'], summary: 'The quality plan of a revision', params: IdParams, response: { 200: QualityPlanSchema, ...errors(404) } },
    handler: async (req) => {
      const p = await svc.getQualityPlan(req.params.id);
      if (!p) throw new AppError('NOT_FOUND', `Product revision ${req.params.id} has no quality plan`);
      return p;
    },
  });
  app.put('/api/v1/product-revisions/:id/quality-plan', {
    config: { roles: ['admin', 'process-engineer', 'quality-engineer'] },
    schema: { tags: ['products'], summary: 'Set the quality plan of a draft revision', params: IdParams, body: QualityPlanBody, response: { 200: QualityPlanSchema, ...errors(400, 404, 409) } },
    handler: async (req) => svc.putQualityPlan(who(req), req.params.id, req.body),
  });

  app.get('/api/v1/product-revisions/:id/files', {
    config: { roles: R.masterDataRead },
    schema: { tags: ['products'], summary: 'Engineering-package files of a revision', params: IdParams, response: { 200: Type.Array(FileSchema) } },
    handler: async (req) => svc.listRevisionFiles(req.params.id),
  });
  app.post('/api/v1/product-revisions/:id/files', {
    config: { roles: R.masterDataWrite },
    schema: {
      tags: ['products'], summary: 'Add a file (raw body) to the engineering package of a draft revision; stored with its SHA-256', params: IdParams,
      querystring: Type.Object(
        { filename: Type.String({ minLength: 1, maxLength: 255 }), kind: Enum(['gerber', 'assembly-drawing', 'centroid', 'bom', 'schematic', 'other'] as const) },
        { additionalProperties: false },
      ),
      response: { 201: FileSchema, ...errors(404, 409, 415) },
    },
    handler: async (req, reply) =>
      reply.code(201).send(
        await svc.addRevisionFile(who(req), req.params.id, req.query.kind, {
          filename: req.query.filename, contentType: req.headers['content-type'] ?? 'application/octet-stream', content: bodyBuffer(req.body),
        }),
      ),
  });
  app.get('/api/v1/files/:id', {
    config: { roles: R.masterDataRead },
    schema: { tags: ['products'], summary: 'Download a stored file', params: IdParams },
    handler: async (req, reply) => {
      const f = await svc.getFile(req.params.id);
      reply.header('content-type', f.contentType).header('x-content-sha256', f.sha256);
      reply.header('content-disposition', `attachment; filename="${f.filename.replace(/["\\\r\n]/g, '_')}"`);
      return reply.send(f.content);
    },
  });

  app.get('/api/v1/programs', {
    config: { roles: R.masterDataRead },
    schema: {
      tags: ['programs'], summary: 'List programs / recipes',
      querystring: Type.Object({ productRevisionId: Type.Optional(Type.Integer()), name: Type.Optional(Type.String()) }, { additionalProperties: false }),
      response: { 200: Type.Array(ProgramSchema) },
    },
    handler: async (req) => svc.listPrograms(req.query),
  });
  app.get('/api/v1/programs/:id', {
    config: { roles: R.masterDataRead },
    schema: { tags: ['programs'], summary: 'Get a program with its feeder setup', params: IdParams, response: { 200: ProgramSchema, ...errors(404) } },
    handler: async (req) => svc.getProgram(req.params.id),
  });
  app.post('/api/v1/programs', {
    config: { roles: R.masterDataWrite },
    schema: { tags: ['programs'], summary: 'Create a program revision (draft)', body: ProgramBody, response: { 201: ProgramSchema, ...errors(400, 404, 409, 422) } },
    handler: async (req, reply) => reply.code(201).send(await svc.createProgram(who(req), req.body)),
  });
  app.patch('/api/v1/programs/:id', {
    config: { roles: R.masterDataWrite },
    schema: {
      tags: ['programs'], summary: 'Change a draft program', params: IdParams,
      body: Type.Object(
        {
          kind: Type.Optional(Enum(ProgramKinds)), checksum: Type.Optional(Type.String({ maxLength: 128 })),
          stationType: Type.Optional(StationTypeSchema), stationId: Type.Optional(Type.Union([Id, Type.Null()])), equipmentId: Type.Optional(Type.Union([Id, Type.Null()])),
          parameterRanges: Type.Optional(Type.Array(ParamRange)), slots: Type.Optional(Type.Array(SlotBody)),
        },
        { additionalProperties: false },
      ),
      response: { 200: ProgramSchema, ...errors(400, 404, 409) },
    },
    handler: async (req) => svc.updateProgram(who(req), req.params.id, req.body),
  });
  app.post('/api/v1/programs/:id/release', {
    config: { roles: R.masterDataWrite },
    schema: { tags: ['programs'], summary: 'Release a program revision', params: IdParams, response: { 200: ProgramSchema, ...errors(404, 409, 422) } },
    handler: async (req) => svc.setProgramState(who(req), req.params.id, 'released'),
  });
  app.post('/api/v1/programs/:id/obsolete', {
    config: { roles: R.masterDataWrite },
    schema: { tags: ['programs'], summary: 'Mark a program revision obsolete', params: IdParams, response: { 200: ProgramSchema, ...errors(404, 409) } },
    handler: async (req) => svc.setProgramState(who(req), req.params.id, 'obsolete'),
  });
}
