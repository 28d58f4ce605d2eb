import { Type } from 'typebox';
import type { Db, Queryable, Tx } from '../../platform/db.ts';
import { inTx } from '../../platform/db.ts';
import { defineEntity, registerCrudRoutes } from '../../platform/crud.ts';
import { AppError, notFound } from '../../platform/errors.ts';
import { errors, who, type App } from '../../platform/http.ts';
import { R, type Principal } from '../../platform/principal.ts';
import { recordAudit } from '../audit/index.ts';
import { DateTime, Enum } from '../../platform/schema.ts';

/**
 * Parts (internal part numbers), manufacturer parts (MPN + manufacturer) and the AVL that
 * says which MPNs may be used for which part. Alternates may be used only with a permission
 * scoped globally, to a product revision, or to a work order.
 */

export const MSL_LEVELS = ['1', '2', '2a', '3', '4', '5', '5a', '6'] as const;
export type MslLevel = (typeof MSL_LEVELS)[number];

export interface Part { id: number; ipn: string; description: string; package: string | null; mslLevel: MslLevel; placed: boolean }
export interface ManufacturerPart { id: number; manufacturer: string; mpn: string; description: string }
export interface AvlEntry {
  id: number; partId: number; ipn: string; manufacturerPartId: number; manufacturer: string; mpn: string;
  alternate: boolean; active: boolean; preference: number; notes: string;
}
export interface AlternatePermission {
  id: number; avlEntryId: number; scope: 'global' | 'product_revision' | 'work_order';
  productRevisionId: number | null; workOrderId: number | null; reason: string; grantedBy: string; grantedAt: Date;
}

export const PartSchema = Type.Object({
  id: Type.Integer(), ipn: Type.String(), description: Type.String(), package: Type.Union([Type.String(), Type.Null()]),
  mslLevel: Type.String(), placed: Type.Boolean(),
});
const PartBody = Type.Object(
  {
    ipn: Type.String({ minLength: 1, maxLength: 64, description: 'Internal part number' }),
    description: Type.Optional(Type.String({ maxLength: 500 })),
    package: Type.Optional(Type.Union([Type.String({ maxLength: 64, description: 'Package, e.g. 0402, QFN-32' }), Type.Null()])),
    mslLevel: Type.Optional(Enum(MSL_LEVELS, { description: 'J-STD-033 moisture sensitivity level' })),
    placed: Type.Optional(Type.Boolean({ description: 'False for non-placed items (labels, screws, PCB)' })),
  },
  { additionalProperties: false },
);
export const ManufacturerPartSchema = Type.Object({ id: Type.Integer(), manufacturer: Type.String(), mpn: Type.String(), description: Type.String() });
const ManufacturerPartBody = Type.Object(
  { manufacturer: Type.String({ minLength: 1, maxLength: 100 }), mpn: Type.String({ minLength: 1, maxLength: 100, description: 'Manufacturer part number' }), description: Type.Optional(Type.String({ maxLength: 500 })) },
  { additionalProperties: false },
);
export const AvlEntrySchema = Type.Object({
  id: Type.Integer(), partId: Type.Integer(), ipn: Type.String(), manufacturerPartId: Type.Integer(), manufacturer: Type.String(), mpn: Type.String(),
  alternate: Type.Boolean(), active: Type.Boolean(), preference: Type.Integer(), notes: Type.String(),
});
const PermissionSchema = Type.Object({
  id: Type.Integer(), avlEntryId: Type.Integer(), scope: Type.String(), productRevisionId: Type.Union([Type.Integer(), Type.Null()]),
  workOrderId: Type.Union([Type.Integer(), Type.Null()]), reason: Type.String(), grantedBy: Type.String(), grantedAt: DateTime(),
});

const AVL_SELECT = `a.id, a.part_id AS "partId", p.ipn, a.manufacturer_part_id AS "manufacturerPartId", m.manufacturer, m.mpn,
  a.alternate, a.active, a.preference, a.notes
  FROM avl_entries a JOIN parts p ON p.id = a.part_id JOIN manufacturer_parts m ON m.id = a.manufacturer_part_id`;
const PERM_SELECT = `id, avl_entry_id AS "avlEntryId", scope, product_revision_id AS "productRevisionId", work_order_id AS "workOrderId",
  reason, granted_by AS "grantedBy", granted_at AS "grantedAt" FROM alternate_permissions`;

export function createPartsService(db: Db) {
  const parts = defineEntity<Part>(db, {
    entity: 'part', table: 'parts', key: 'ipn', cache: true,
    columns: { ipn: 'ipn', description: 'description', package: 'package', mslLevel: 'msl_level', placed: 'placed' },
  });
  const manufacturerParts = defineEntity<ManufacturerPart>(db, {
    entity: 'manufacturer_part', table: 'manufacturer_parts', key: 'mpn', orderBy: 'manufacturer, mpn',
    columns: { manufacturer: 'manufacturer', mpn: 'mpn', description: 'description' },
  });

  async function getAvlEntry(id: number, q: Queryable = db): Promise<AvlEntry> {
    const r = await q.query<AvlEntry>(`SELECT ${AVL_SELECT} WHERE a.id = $1`, [id]);
    if (!r.rows[0]) throw notFound('avl entry', id);
    return r.rows[0];
  }

  async function listAvl(f: { partId?: number; ipn?: string; mpn?: string } = {}): Promise<AvlEntry[]> {
    const r = await db.query<AvlEntry>(
      `SELECT ${AVL_SELECT} WHERE ($1::bigint IS NULL OR a.part_id = $1) AND ($2::text IS NULL OR p.ipn = $2) AND ($3::text IS NULL OR m.mpn = $3)
        ORDER BY p.ipn, a.alternate, a.preference, m.mpn`,
      [f.partId ?? null, f.ipn ?? null, f.mpn ?? null],
    );
    return r.rows;
  }

  /** Finds or creates the manufacturer part, then adds (or updates) its AVL entry for the part. */
  async function upsertAvlEntry(
    who: Principal,
    input: { ipn: string; manufacturer: string; mpn: string; alternate?: boolean; active?: boolean; preference?: number; notes?: string },
    q?: Queryable,
  ): Promise<{ entry: AvlEntry; change: 'created' | 'updated' | 'unchanged' }> {
    return inTx(db, q, async (tx) => {
      const part = await parts.getByKey(input.ipn, tx);
      if (!part) throw new AppError('REFERENCE_NOT_FOUND', `Part ${input.ipn} does not exist`, { errors: [{ field: 'ipn', code: 'unknown_part', message: `part ${input.ipn} does not exist` }] });
      let mp = (await tx.query<{ id: number }>('SELECT id FROM manufacturer_parts WHERE lower(manufacturer) = lower($1) AND mpn = $2', [input.manufacturer, input.mpn])).rows[0];
      if (!mp) mp = await manufacturerParts.create(who, { manufacturer: input.manufacturer, mpn: input.mpn }, tx);
      const existing = (await tx.query<AvlEntry>(`SELECT ${AVL_SELECT} WHERE a.part_id = $1 AND a.manufacturer_part_id = $2 FOR UPDATE OF a`, [part.id, mp.id])).rows[0];
      if (!existing) {
        const r = await tx.query<{ id: number }>(
          `INSERT INTO avl_entries (part_id, manufacturer_part_id, alternate, active, preference, notes) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
          [part.id, mp.id, input.alternate ?? false, input.active ?? true, input.preference ?? 1, input.notes ?? ''],
        );
        const entry = await getAvlEntry(r.rows[0]!.id, tx);
        await recordAudit(tx, who, { action: 'create', entity: 'avl_entry', entityId: entry.id, after: entry });
        return { entry, change: 'created' as const };
      }
      const next = {
        alternate: input.alternate ?? existing.alternate,
        active: input.active ?? existing.active,
        preference: input.preference ?? existing.preference,
        notes: input.notes ?? existing.notes,
      };
      if (next.alternate === existing.alternate && next.active === existing.active && next.preference === existing.preference && next.notes === existing.notes) {
        return { entry: existing, change: 'unchanged' as const };
      }
      await tx.query('UPDATE avl_entries SET alternate = $2, active = $3, preference = $4, notes = $5 WHERE id = $1', [existing.id, next.alternate, next.active, next.preference, next.notes]);
      const entry = await getAvlEntry(existing.id, tx);
      await recordAudit(tx, who, { action: 'update', entity: 'avl_entry', entityId: entry.id, before: existing, after: entry });
      return { entry, change: 'updated' as const };
    });
  }

  async function grantAlternate(
    who: Principal,
    input: { avlEntryId: number; scope: AlternatePermission['scope']; productRevisionId?: number | null; workOrderId?: number | null; reason: string },
    q?: Queryable,
  ): Promise<AlternatePermission> {
    return inTx(db, q, async (tx: Tx) => {
      const entry = await getAvlEntry(input.avlEntryId, tx);
      if (!entry.alternate) throw new AppError('STATE_CONFLICT', `AVL entry ${entry.ipn} / ${entry.mpn} is an approved source, not an alternate; it needs no permission`);
      const r = await tx.query<AlternatePermission>(
        `INSERT INTO alternate_permissions (avl_entry_id, scope, product_revision_id, work_order_id, reason, granted_by)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${PERM_SELECT.replace(' FROM alternate_permissions', '')}`,
        [input.avlEntryId, input.scope, input.scope === 'product_revision' ? input.productRevisionId ?? null : null, input.scope === 'work_order' ? input.workOrderId ?? null : null, input.reason, who.name],
      );
      const perm = r.rows[0]!;
      await recordAudit(tx, who, { action: 'grant', entity: 'alternate_permission', entityId: perm.id, after: perm, reason: input.reason });
      return perm;
    });
  }

  async function listPermissions(avlEntryId: number): Promise<AlternatePermission[]> {
    return (await db.query<AlternatePermission>(`SELECT ${PERM_SELECT} WHERE avl_entry_id = $1 ORDER BY id`, [avlEntryId])).rows;
  }

  async function revokePermission(who: Principal, id: number, reason: string): Promise<void> {
    await db.tx(async (tx) => {
      const before = (await tx.query<AlternatePermission>(`SELECT ${PERM_SELECT} WHERE id = $1 FOR UPDATE`, [id])).rows[0];
      if (!before) throw notFound('alternate permission', id);
      await tx.query('DELETE FROM alternate_permissions WHERE id = $1', [id]);
      await recordAudit(tx, who, { action: 'revoke', entity: 'alternate_permission', entityId: id, before, reason });
    });
  }

  /**
   * Whether an MPN may be used for a part in a given context: approved entries always, alternates
   * only with a global permission or one for this product revision or work order.
   */
  async function checkApproved(
    q: Queryable,
    input: { partId: number; manufacturer?: string | null; mpn: string; productRevisionId?: number | null; workOrderId?: number | null },
  ): Promise<{ ok: true; entry: AvlEntry } | { ok: false; reason: 'MPN_NOT_ON_AVL' | 'AVL_ENTRY_INACTIVE' | 'ALTERNATE_NOT_PERMITTED'; message: string }> {
    const rows = (
      await q.query<AvlEntry>(`SELECT ${AVL_SELECT} WHERE a.part_id = $1 AND m.mpn = $2 AND ($3::text IS NULL OR lower(m.manufacturer) = lower($3))`, [
        input.partId,
        input.mpn,
        input.manufacturer ?? null,
      ])
    ).rows;
    if (rows.length === 0) return { ok: false, reason: 'MPN_NOT_ON_AVL', message: `MPN ${input.mpn} is not on the AVL for this part` };
    const active = rows.filter((r) => r.active);
    if (active.length === 0) return { ok: false, reason: 'AVL_ENTRY_INACTIVE', message: `MPN ${input.mpn} is on the AVL but inactive` };
    const approved = active.find((r) => !r.alternate);
    if (approved) return { ok: true, entry: approved };
    for (const alt of active) {
      const p = await q.query(
        `SELECT 1 FROM alternate_permissions WHERE avl_entry_id = $1 AND (scope = 'global'
           OR (scope = 'product_revision' AND product_revision_id = $2) OR (scope = 'work_order' AND work_order_id = $3)) LIMIT 1`,
        [alt.id, input.productRevisionId ?? null, input.workOrderId ?? null],
      );
      if (p.rowCount) return { ok: true, entry: alt };
    }
    return { ok: false, reason: 'ALTERNATE_NOT_PERMITTED', message: `MPN ${input.mpn} is an alternate without permission for this build` };
  }

  return { parts, manufacturerParts, getAvlEntry, listAvl, upsertAvlEntry, grantAlternate, listPermissions, revokePermission, checkApproved };
}
export type PartsService = ReturnType<typeof createPartsService>;

export function registerPartsRoutes(app: App, svc: PartsService) {
  registerCrudRoutes(app, svc.parts, {
    path: '/api/v1/parts', tag: 'parts', noun: 'part', read: R.masterDataRead, write: R.masterDataWrite, deletable: true, schema: PartSchema, createBody: PartBody,
    filters: Type.Object({ ipn: Type.Optional(Type.String()), mslLevel: Type.Optional(Type.String()) }, { additionalProperties: false }),
  });
  registerCrudRoutes(app, svc.manufacturerParts, {
    path: '/api/v1/manufacturer-parts', tag: 'parts', noun: 'manufacturer part', read: R.masterDataRead, write: R.masterDataWrite, deletable: true,
    schema: ManufacturerPartSchema, createBody: ManufacturerPartBody,
    filters: Type.Object({ mpn: Type.Optional(Type.String()), manufacturer: Type.Optional(Type.String()) }, { additionalProperties: false }),
  });
  app.get('/api/v1/avl', {
    config: { roles: R.masterDataRead },
    schema: {
      tags: ['parts'], summary: 'List AVL entries',
      querystring: Type.Object({ partId: Type.Optional(Type.Integer()), ipn: Type.Optional(Type.String()), mpn: Type.Optional(Type.String()) }, { additionalProperties: false }),
      response: { 200: Type.Array(AvlEntrySchema) },
    },
    handler: async (req) => svc.listAvl(req.query),
  });
  app.put('/api/v1/avl', {
    config: { roles: R.masterDataWrite },
    schema: {
      tags: ['parts'], summary: 'Add or change an AVL entry (creates the manufacturer part if new)',
      body: Type.Object(
        {
          ipn: Type.String({ minLength: 1 }), manufacturer: Type.String({ minLength: 1, maxLength: 100 }), mpn: Type.String({ minLength: 1, maxLength: 100 }),
          alternate: Type.Optional(Type.Boolean({ description: 'Alternates need a permission to be used' })), active: Type.Optional(Type.Boolean()),
          preference: Type.Optional(Type.Integer({ minimum: 1, maximum: 99 })), notes: Type.Optional(Type.String({ maxLength: 500 })),
        },
        { additionalProperties: false },
      ),
      response: { 200: Type.Object({ entry: AvlEntrySchema, change: Type.String() }), ...errors(400, 422) },
    },
    handler: async (req) => svc.upsertAvlEntry(who(req), req.body),
  });
  app.get('/api/v1/avl/:id/permissions', {
    config: { roles: R.masterDataRead },
    schema: { tags: ['parts'], summary: 'Alternate permissions of an AVL entry', params: Type.Object({ id: Type.Integer() }), response: { 200: Type.Array(PermissionSchema) } },
    handler: async (req) => svc.listPermissions(req.params.id),
  });
  app.post('/api/v1/avl/:id/permissions', {
    config: { roles: ['admin', 'process-engineer', 'quality-engineer'] },
    schema: {
      tags: ['parts'], summary: 'Permit an alternate MPN globally, for a product revision, or for a work order',
      params: Type.Object({ id: Type.Integer() }),
      body: Type.Object(
        {
          scope: Type.Union([Type.Literal('global'), Type.Literal('product_revision'), Type.Literal('work_order')]),
          productRevisionId: Type.Optional(Type.Integer({ minimum: 1 })), workOrderId: Type.Optional(Type.Integer({ minimum: 1 })),
          reason: Type.String({ minLength: 3, maxLength: 1000 }),
        },
        { additionalProperties: false },
      ),
      response: { 201: PermissionSchema, ...errors(400, 404, 409, 422) },
    },
    handler: async (req, reply) => reply.code(201).send(await svc.grantAlternate(who(req), { avlEntryId: req.params.id, ...req.body })),
  });
  app.delete('/api/v1/alternate-permissions/:id', {
    config: { roles: ['admin', 'process-engineer', 'quality-engineer'] },
    schema: {
      tags: ['parts'], summary: 'Withdraw an alternate permission', params: Type.Object({ id: Type.Integer() }),
      querystring: Type.Object({ reason: Type.String({ minLength: 3 }) }, { additionalProperties: false }), response: { 204: Type.Null(), ...errors(404) },
    },
    handler: async (req, reply) => {
      await svc.revokePermission(who(req), req.params.id, req.query.reason);
      return reply.code(204).send(null);
    },
  });
}
