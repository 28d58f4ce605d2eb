import { Type } from 'typebox';
import type { Db } from '../../platform/db.ts';
import type { App } from '../../platform/http.ts';
import { queryAudit, type AuditQuery } from './index.ts';
import { DateTime } from '../../platform/schema.ts';

const AuditRowSchema = Type.Object({
  id: Type.Integer(),
  at: DateTime(),
  actorKind: Type.String(),
  actorName: Type.String(),
  action: Type.String(),
  entity: Type.String(),
  entityId: Type.Union([Type.String(), Type.Null()]),
  before: Type.Unknown(),
  after: Type.Unknown(),
  reason: Type.Union([Type.String(), Type.Null()]),
  signature: Type.Unknown(),
});

export function registerAuditRoutes(app: App, db: Db) {
  app.get('/api/v1/audit', {
    config: { roles: ['admin', 'quality-engineer'] },
    schema: {
      tags: ['audit'],
      summary: 'Read the audit trail, newest first',
      querystring: Type.Object(
        {
          entity: Type.Optional(Type.String({ description: 'e.g. user, part, product_revision' })),
          entityId: Type.Optional(Type.String()),
          actor: Type.Optional(Type.String()),
          since: Type.Optional(DateTime()),
          until: Type.Optional(DateTime()),
          beforeId: Type.Optional(Type.Integer({ description: 'Page: rows with a smaller id' })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
        },
        { additionalProperties: false },
      ),
      response: { 200: Type.Array(AuditRowSchema) },
    },
    handler: async (req) => {
      const { beforeId, ...rest } = req.query;
      return queryAudit(db, { ...(rest as Omit<AuditQuery, "afterId">), ...(beforeId ? { afterId: beforeId } : {}) });
    },
  });
}
