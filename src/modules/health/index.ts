import { Type } from 'typebox';
import type { Db } from '../../platform/db.ts';
import type { App } from '../../platform/http.ts';

export function registerHealthRoutes(app: App, db: Db, version: string) {
  app.get('/api/v1/health', {
    config: { roles: 'public' },
    schema: {
      tags: ['health'],
      summary: 'Liveness and database reachability (no authentication)',
      response: {
        200: Type.Object({ status: Type.Literal('ok'), version: Type.String(), database: Type.Object({ reachable: Type.Boolean(), version: Type.String(), schemaVersion: Type.Integer() }) }),
        503: Type.Object({ status: Type.Literal('degraded'), version: Type.String(), database: Type.Object({ reachable: Type.Boolean(), error: Type.String() }) }),
      },
    },
    handler: async (_req, reply) => {
      try {
        const r = await db.one<{ v: string; m: number }>(`SELECT current_setting('server_version') AS v, (SELECT COALESCE(max(version), 0) FROM schema_migrations)::int AS m`);
        return { status: 'ok' as const, version, database: { reachable: true, version: r!.v, schemaVersion: r!.m } };
      } catch {
        return reply.code(503).send({ status: 'degraded' as const, version, database: { reachable: false, error: 'database unreachable' } });
      }
    },
  });
  app.get('/api/v1/openapi.json', {
    config: { roles: 'public' },
    schema: { tags: ['health'], summary: 'This API as an OpenAPI 3 document', hide: true } as Record<string, unknown>,
    handler: async () => app.swagger(),
  });
}
