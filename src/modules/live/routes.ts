import { Type, type TSchema } from 'typebox';
import { notFound } from '../../platform/errors.ts';
import { errors, type App } from '../../platform/http.ts';
import { R } from '../../platform/principal.ts';
import type { EquipmentService } from '../equipment/index.ts';
import type { LiveHub } from './hub.ts';

const Id = Type.Integer({ minimum: 1 });
const Open = (props: Record<string, TSchema>, description?: string) => Type.Object(props, { additionalProperties: true, ...(description ? { description } : {}) });
const Snapshot = Open(
  {
    line: Open({ id: Type.Integer(), code: Type.String(), name: Type.String() }),
    stations: Type.Array(Open({}), { description: 'Per station: machines with E10 state, active faults, recipe; WIP in process and waiting; OEE today' }),
    activeWorkOrder: Type.Union([Open({}), Type.Null()], { description: 'Progress, WIP and first-pass yield per route step, first-pass yield of the completed units' }),
    openWorkOrders: Type.Array(Open({})),
    oee: Open({}),
    alerts: Type.Array(Open({ kind: Type.String(), severity: Type.String(), message: Type.String() })),
    lastPassage: Type.Union([Open({}), Type.Null()]),
  },
  'The line dashboard data',
);

/**
 * The live line dashboard: `GET /api/v1/live/line/:id` is a text/event-stream (server-sent
 * events). The first event is the current snapshot; each later `snapshot` event is sent when
 * anything the dashboard shows has changed (checked every tick, 250 ms by default, by one query
 * per line shared by all subscribers). Authenticated like every route (session cookie or
 * Bearer token), declared roles.
 */
export function registerLiveRoutes(app: App, hub: LiveHub, deps: { db: { one<R extends object>(sql: string, params?: readonly unknown[]): Promise<R | undefined> }; equipment: Pick<EquipmentService, 'activeRecipe'> }) {
  const tags = ['live'];
  const read = R.masterDataRead;

  // Open streams end when the server closes (otherwise closing would wait for every dashboard).
  const streams = new Set<{ end(): void }>();
  app.addHook('preClose', async () => {
    hub.close();
    for (const res of streams) res.end();
    streams.clear();
  });

  app.get('/api/v1/live/line/:id', {
    config: { roles: read },
    schema: {
      tags, summary: 'Live line dashboard as server-sent events (text/event-stream): `snapshot` events with the whole dashboard, sent on every change',
      description: 'Event data: `{ seq, at, snapshot }` (see GET /api/v1/live/line/{id}/snapshot for the fields). A comment line every 15 s keeps idle connections open.',
      params: Type.Object({ id: Id }),
      response: { 200: Type.String({ description: 'text/event-stream' }), ...errors(404) },
    },
    handler: async (req, reply) => {
      const line = await deps.db.one<{ id: number }>('SELECT id FROM lines WHERE id = $1', [req.params.id]);
      if (!line) throw notFound('line', req.params.id);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no',
        'x-request-id': String(req.id),
      });
      res.write('retry: 2000\n\n');
      streams.add(res);
      let open = true;
      const sub = {
        send: (event: string, data: string, id?: number) => {
          if (open) res.write(`${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${data}\n\n`);
        },
        comment: (text: string) => {
          if (open) res.write(`: ${text}\n\n`);
        },
      };
      let unsubscribe: (() => void) | null = null;
      req.raw.on('close', () => {
        open = false;
        streams.delete(res);
        unsubscribe?.();
      });
      try {
        unsubscribe = await hub.subscribe(line.id, sub);
        if (!open) unsubscribe();
      } catch (e) {
        req.log.error({ err: e }, 'live subscription failed');
        sub.send('error', JSON.stringify({ code: 'INTERNAL', detail: 'The dashboard data could not be read; retrying' }));
        open = false;
        res.end();
      }
    },
  });

  app.get('/api/v1/live/line/:id/snapshot', {
    config: { roles: read },
    schema: { tags, summary: 'The line dashboard data now (what the event stream sends), as JSON', params: Type.Object({ id: Id }), response: { 200: Snapshot, ...errors(404) } },
    handler: async (req) => (await hub.snapshot(req.params.id)) as unknown as Record<string, unknown>,
  });

  app.get('/api/v1/live/equipment/:id/recipe', {
    config: { roles: read },
    schema: {
      tags, summary: 'The recipe (program) and revision a machine reported last (CFX RecipeActivated): the changeover check compares it with the build basis',
      params: Type.Object({ id: Id }),
      response: {
        200: Type.Object({ equipmentId: Type.Integer(), recipeName: Type.Union([Type.String(), Type.Null()]), revision: Type.Union([Type.String(), Type.Null()]), activatedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]) }),
        ...errors(404),
      },
    },
    handler: async (req) => {
      const eq = await deps.db.one<{ id: number }>('SELECT id FROM equipment WHERE id = $1', [req.params.id]);
      if (!eq) throw notFound('equipment', req.params.id);
      const r = await deps.equipment.activeRecipe(eq.id);
      return { equipmentId: eq.id, recipeName: r?.recipeName ?? null, revision: r?.revision ?? null, activatedAt: r ? r.activatedAt.toISOString() : null };
    },
  });
}
