import { Type, type TObject, type TSchema } from 'typebox';
import type { Db, Queryable, Tx } from './db.ts';
import { inTx } from './db.ts';
import { AppError, notFound } from './errors.ts';
import type { App } from './http.ts';
import { errors, who } from './http.ts';
import type { Principal, Role } from './principal.ts';
import { recordAudit } from '../modules/audit/index.ts';

/**
 * A plain master-data entity stored in one table: create, read, update, delete, each
 * audited with the record before and after. Used for the simple records (sites, lines,
 * stations, equipment, parts, manufacturer parts, products); anything with rules of its own
 * gets a hand-written service.
 */
export interface EntitySpec<T> {
  /** Audit entity name, e.g. `station`. */
  entity: string;
  table: string;
  /** API field name → column name (id excluded). */
  columns: Record<keyof Omit<T, 'id'> & string, string>;
  /** The human key (e.g. `code`), unique in the table. */
  key: keyof T & string;
  orderBy?: string;
  /**
   * Keep rows read by id in memory. Safe for master data that changes rarely: every write in any
   * instance sends NOTIFY (trigger `notify_change`), which empties the cache; while the change
   * feed is down nothing is cached.
   */
  cache?: boolean;
}

export interface EntityService<T extends { id: number }> {
  spec: EntitySpec<T>;
  create(who: Principal, input: Partial<Omit<T, 'id'>>, q?: Queryable): Promise<T>;
  update(who: Principal, id: number, patch: Partial<Omit<T, 'id'>>, q?: Queryable): Promise<T>;
  get(id: number, q?: Queryable): Promise<T>;
  getByKey(key: string, q?: Queryable): Promise<T | undefined>;
  list(filter?: Partial<Record<keyof T & string, unknown>>, q?: Queryable): Promise<T[]>;
  remove(who: Principal, id: number): Promise<void>;
  /** Creates or updates by the human key; returns the row and whether it changed. */
  upsert(who: Principal, input: Partial<Omit<T, 'id'>>, tx: Tx): Promise<{ row: T; change: 'created' | 'updated' | 'unchanged' }>;
}

export function defineEntity<T extends { id: number }>(db: Db, spec: EntitySpec<T>): EntityService<T> {
  const fields = Object.keys(spec.columns) as (keyof Omit<T, 'id'> & string)[];
  const select = ['id', ...fields.map((f) => `${spec.columns[f]} AS "${f}"`)].join(', ');
  const orderBy = spec.orderBy ?? spec.columns[spec.key as keyof Omit<T, 'id'> & string] ?? 'id';

  const cache = new Map<number, T>();
  let generation = 0;
  if (spec.cache) {
    db.onChange(spec.table, () => {
      generation++;
      cache.clear();
    });
  }

  async function get(id: number, q: Queryable = db): Promise<T> {
    const cacheable = spec.cache && q === db && db.changeFeedLive;
    if (cacheable) {
      const hit = cache.get(id);
      if (hit) return hit;
    }
    const gen = generation;
    const r = await q.query<T>(`SELECT ${select} FROM ${spec.table} WHERE id = $1`, [id], `${spec.table}.get`);
    if (!r.rows[0]) throw notFound(spec.entity, id);
    // Only cache what was read with no change notified meanwhile.
    if (cacheable && gen === generation && db.changeFeedLive) {
      if (cache.size > 50_000) cache.clear();
      cache.set(id, r.rows[0]);
    }
    return r.rows[0];
  }

  async function getByKey(key: string, q: Queryable = db): Promise<T | undefined> {
    const col = spec.columns[spec.key as keyof Omit<T, 'id'> & string];
    const r = await q.query<T>(`SELECT ${select} FROM ${spec.table} WHERE ${col} = $1`, [key]);
    return r.rows[0];
  }

  async function list(filter: Partial<Record<string, unknown>> = {}, q: Queryable = db): Promise<T[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    for (const [k, v] of Object.entries(filter)) {
      if (v === undefined) continue;
      const col = (spec.columns as Record<string, string>)[k];
      if (!col) continue;
      params.push(v);
      where.push(`${col} = $${params.length}`);
    }
    const r = await q.query<T>(`SELECT ${select} FROM ${spec.table} ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY ${orderBy}`, params);
    return r.rows;
  }

  /** Own writes empty the cache at once; other instances learn through the change feed. */
  const invalidate = () => {
    generation++;
    cache.clear();
  };

  async function create(who: Principal, input: Partial<Omit<T, 'id'>>, q?: Queryable): Promise<T> {
    return inTx(db, q, async (tx) => {
      const given = fields.filter((f) => (input as Record<string, unknown>)[f] !== undefined);
      const cols = given.map((f) => spec.columns[f]);
      const vals = given.map((f) => (input as Record<string, unknown>)[f]);
      const r = await tx.query<{ id: number }>(
        `INSERT INTO ${spec.table} (${cols.join(', ')}) VALUES (${vals.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING id`,
        vals,
      );
      const row = await get(r.rows[0]!.id, tx);
      await recordAudit(tx, who, { action: 'create', entity: spec.entity, entityId: row.id, after: row });
      return row;
    });
  }

  async function update(who: Principal, id: number, patch: Partial<Omit<T, 'id'>>, q?: Queryable): Promise<T> {
    return inTx(db, q, async (tx) => {
      const before = (await tx.query<T>(`SELECT ${select} FROM ${spec.table} WHERE id = $1 FOR UPDATE`, [id])).rows[0];
      if (!before) throw notFound(spec.entity, id);
      const given = fields.filter((f) => (patch as Record<string, unknown>)[f] !== undefined);
      if (given.length === 0) return before;
      const sets = given.map((f, i) => `${spec.columns[f]} = $${i + 2}`);
      await tx.query(`UPDATE ${spec.table} SET ${sets.join(', ')} WHERE id = $1`, [id, ...given.map((f) => (patch as Record<string, unknown>)[f])]);
      invalidate();
      const after = await get(id, tx);
      await recordAudit(tx, who, { action: 'update', entity: spec.entity, entityId: id, before, after });
      return after;
    });
  }

  async function remove(who: Principal, id: number): Promise<void> {
    await db.tx(async (tx) => {
      const before = (await tx.query<T>(`SELECT ${select} FROM ${spec.table} WHERE id = $1 FOR UPDATE`, [id])).rows[0];
      if (!before) throw notFound(spec.entity, id);
      await tx.query(`DELETE FROM ${spec.table} WHERE id = $1`, [id]);
      invalidate();
      await recordAudit(tx, who, { action: 'delete', entity: spec.entity, entityId: id, before });
    });
  }

  async function upsert(who: Principal, input: Partial<Omit<T, 'id'>>, tx: Tx) {
    const key = (input as Record<string, unknown>)[spec.key];
    if (typeof key !== 'string') throw new AppError('VALIDATION_FAILED', `${spec.entity} needs a ${spec.key}`, { errors: [{ field: spec.key, code: 'required', message: 'is required' }] });
    const existing = await tx.query<T>(`SELECT ${select} FROM ${spec.table} WHERE ${spec.columns[spec.key as keyof Omit<T, 'id'> & string]} = $1 FOR UPDATE`, [key]);
    const cur = existing.rows[0];
    if (!cur) return { row: await create(who, input, tx), change: 'created' as const };
    const changed = fields.some((f) => {
      const v = (input as Record<string, unknown>)[f];
      return v !== undefined && JSON.stringify(v) !== JSON.stringify((cur as Record<string, unknown>)[f]);
    });
    if (!changed) return { row: cur, change: 'unchanged' as const };
    return { row: await update(who, cur.id, input, tx), change: 'updated' as const };
  }

  return { spec, create, update, get, getByKey, list, remove, upsert };
}

export interface CrudRoutesSpec {
  /** Collection path, e.g. `/api/v1/stations`. */
  path: string;
  tag: string;
  /** Singular noun for summaries, e.g. `station`. */
  noun: string;
  read: readonly Role[];
  write: readonly Role[];
  /** Full record schema (with id). */
  schema: TObject;
  /** Create body schema; update uses the same fields, all optional. */
  createBody: TObject;
  /** Query-string filters on list. */
  filters?: TObject;
  /** Whether DELETE is offered (records referenced elsewhere are refused with STILL_REFERENCED). */
  deletable?: boolean;
}

/** Registers list / get / create / update (/ delete) routes for an entity service. */
export function registerCrudRoutes<T extends { id: number }>(app: App, svc: EntityService<T>, r: CrudRoutesSpec): void {
  const Id = Type.Object({ id: Type.Integer({ minimum: 1 }) });
  const patchBody = Type.Partial(r.createBody, { additionalProperties: false }) as TSchema;
  app.get(r.path, {
    config: { roles: r.read },
    schema: { tags: [r.tag], summary: `List ${r.noun}s`, querystring: r.filters ?? Type.Object({}, { additionalProperties: false }), response: { 200: Type.Array(r.schema) } },
    handler: async (req) => svc.list(req.query as Partial<Record<keyof T & string, unknown>>),
  });
  app.get(`${r.path}/:id`, {
    config: { roles: r.read },
    schema: { tags: [r.tag], summary: `Get one ${r.noun}`, params: Id, response: { 200: r.schema, ...errors(404) } },
    handler: async (req) => svc.get((req.params as { id: number }).id),
  });
  app.post(r.path, {
    config: { roles: r.write },
    schema: { tags: [r.tag], summary: `Create a ${r.noun}`, body: r.createBody, response: { 201: r.schema, ...errors(400, 409, 422) } },
    handler: async (req, reply) => reply.code(201).send(await svc.create(who(req), req.body as Partial<Omit<T, 'id'>>)),
  });
  app.patch(`${r.path}/:id`, {
    config: { roles: r.write },
    schema: { tags: [r.tag], summary: `Change a ${r.noun}`, params: Id, body: patchBody, response: { 200: r.schema, ...errors(400, 404, 409, 422) } },
    handler: async (req) => svc.update(who(req), (req.params as { id: number }).id, req.body as Partial<Omit<T, 'id'>>),
  });
  if (r.deletable) {
    app.delete(`${r.path}/:id`, {
      config: { roles: r.write },
      schema: { tags: [r.tag], summary: `Delete a ${r.noun} that nothing refers to`, params: Id, response: { 204: Type.Null(), ...errors(404, 409) } },
      handler: async (req, reply) => {
        await svc.remove(who(req), (req.params as { id: number }).id);
        return reply.code(204).send(null);
      },
    });
  }
}
