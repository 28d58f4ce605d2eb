import { Type } from 'typebox';
import { errors, who, type App } from '../../platform/http.ts';
import { R, type Role } from '../../platform/principal.ts';
import { DateTime, Enum, NullableDateTime } from '../../platform/schema.ts';
import { EXTRACTS, TRACE_SCOPES, type RecordsService } from './service.ts';

/** Who may export records: people who answer for quality, planning and the process, and integrations (ERP, customer portals). */
const EXPORT: readonly Role[] = ['admin', 'quality-engineer', 'planner', 'process-engineer', 'integration'];
const tags = ['records'];
const NullableInt = Type.Union([Type.Integer(), Type.Null()]);
const NullableString = Type.Union([Type.String(), Type.Null()]);

const JobSchema = Type.Object({
  id: Type.Integer(), kind: Type.String(), scope: Enum(TRACE_SCOPES), ref: Type.String(), state: Enum(['queued', 'running', 'done', 'failed'] as const),
  progress: Type.Object({
    file: Type.Optional(Type.String({ description: 'File being written' })), filesDone: Type.Optional(Type.Integer()), files: Type.Optional(Type.Integer()),
    rows: Type.Optional(Type.Integer({ description: 'Rows written so far' })),
  }),
  size: NullableInt, sha256: NullableString, keyId: NullableString, error: NullableString, createdAt: DateTime(), createdBy: Type.String(),
  startedAt: NullableDateTime(), finishedAt: NullableDateTime(),
});
const KeySchema = Type.Object({ site: Type.String(), keyId: Type.String(), algorithm: Type.Literal('Ed25519'), publicKeyPem: Type.String() });

export function registerRecordsRoutes(app: App, svc: RecordsService) {
  app.get('/api/v1/records/signing-key', {
    config: { roles: R.masterDataRead },
    schema: {
      tags, summary: "The site's public Ed25519 key that signs trace packages (created on first use)",
      querystring: Type.Object({ site: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) }, { additionalProperties: false }),
      response: { 200: KeySchema, ...errors(404, 409) },
    },
    handler: async (req) => svc.publicKey({ ...(req.query.site ? { site: req.query.site } : {}) }, who(req)),
  });
  app.post('/api/v1/records/packages', {
    config: { roles: EXPORT },
    schema: {
      tags, summary: 'Start building a signed trace package in the background (202 with the job; poll it, then download)',
      body: Type.Object({
        scope: Enum(TRACE_SCOPES, { description: 'What the package is for' }),
        ref: Type.String({ minLength: 1, maxLength: 80, description: 'Work order number, production lot code or shipment number (or id)' }),
      }, { additionalProperties: false }),
      response: { 202: JobSchema, ...errors(400, 404, 409) },
    },
    handler: async (req, reply) => reply.code(202).send(await svc.startPackageJob(who(req), req.body)),
  });
  app.get('/api/v1/records/packages', {
    config: { roles: EXPORT },
    schema: { tags, summary: 'Recent trace package jobs', querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })) }, { additionalProperties: false }), response: { 200: Type.Array(JobSchema) } },
    handler: async (req) => svc.listJobs(req.query.limit),
  });
  app.get('/api/v1/records/packages/:id', {
    config: { roles: EXPORT },
    schema: { tags, summary: 'Status and progress of a trace package job', params: Type.Object({ id: Type.Integer({ minimum: 1 }) }), response: { 200: JobSchema, ...errors(404) } },
    handler: async (req) => svc.getJob(req.params.id),
  });
  app.get('/api/v1/records/packages/:id/download', {
    config: { roles: EXPORT },
    schema: {
      tags, summary: 'The finished trace package (application/zip)', params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
      response: { 200: Type.Unsafe<unknown>({ type: 'string', format: 'binary' }), ...errors(404, 409) },
    },
    handler: async (req, reply) => {
      const f = await svc.jobDownload(req.params.id);
      return reply.header('content-type', 'application/zip').header('content-length', f.size).header('content-disposition', `attachment; filename="${f.filename}"`)
        .header('x-content-sha256', f.sha256).send(f.stream);
    },
  });
  app.get('/api/v1/records/extracts/:name', {
    config: { roles: EXPORT },
    schema: {
      tags, summary: `Production extract, streamed as CSV or a JSON array: ${EXTRACTS.join(', ')}`,
      params: Type.Object({ name: Enum(EXTRACTS) }),
      querystring: Type.Object({
        format: Type.Optional(Enum(['csv', 'json'] as const, { description: 'csv (default) or json' })),
        workOrder: Type.Optional(Type.String({ minLength: 1, maxLength: 80, description: 'Limit to a work order (number or id); required for material-usage' })),
        lot: Type.Optional(Type.String({ minLength: 1, maxLength: 80, description: 'Limit to a production lot (code or id); lot-traveler needs a lot or a work order' })),
      }, { additionalProperties: false }),
      response: { 200: Type.Unsafe<unknown>({ type: 'string' }), ...errors(400, 404) },
    },
    handler: async (req, reply) => {
      const format = req.query.format ?? 'csv';
      const stream = await svc.extract(req.params.name, format, { ...(req.query.workOrder ? { workOrder: req.query.workOrder } : {}), ...(req.query.lot ? { lot: req.query.lot } : {}) });
      return reply.header('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8')
        .header('content-disposition', `attachment; filename="${req.params.name}.${format}"`).send(stream);
    },
  });
}
