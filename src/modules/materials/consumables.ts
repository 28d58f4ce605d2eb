import type { Db, Queryable, Tx } from '../../platform/db.ts';
import { AppError, notFound } from '../../platform/errors.ts';
import type { Principal } from '../../platform/principal.ts';
import { recordAudit } from '../audit/index.ts';
import type { FactoryService } from '../factory/index.ts';
import type { ProductsService } from '../products/index.ts';
import { HOUR_MS } from './lib/msl.ts';
import type { MaterialPackage, PackageStore } from './packages.ts';
import type { ConsumableProblem } from './reasons.ts';

/**
 * Solder paste and stencils: their validity checks at setup, and which jar / stencil is mounted
 * on which printer over time.
 *
 * Paste defaults (per jar, overridable at receiving): at least 4 h thawing at room temperature
 * before opening, and at most 24 h open. Both are typical of paste data sheets for 500 g jars;
 * set the values of the paste actually used.
 *
 * Stencil rules: usage since the last cleaning must be below the cleaning interval (at the
 * interval the stencil is due: clean it before printing again); usage must be below max_usage
 * when set; a stencil is only valid for its own product revision.
 */

export const PASTE_DEFAULTS = { minThawHours: 4, maxOpenHours: 24 } as const;

export interface Stencil {
  id: number;
  code: string;
  productRevisionId: number;
  thicknessUm: number | null;
  usageCount: number;
  cleaningInterval: number;
  usageAtLastCleaning: number;
  /** Prints since the last cleaning. */
  usageSinceCleaning: number;
  lastCleanedAt: Date | null;
  maxUsage: number | null;
  status: 'active' | 'retired';
  notes: string;
  createdAt: Date;
}

export interface StencilInput {
  code: string;
  productRevisionId: number;
  thicknessUm?: number | null;
  cleaningInterval: number;
  maxUsage?: number | null;
  notes?: string;
}

export interface ConsumableCheck {
  ok: boolean;
  at: Date;
  problems: ConsumableProblem[];
}

export interface ConsumableMount {
  id: number;
  equipmentId: number;
  kind: 'paste' | 'stencil';
  packageId: number | null;
  packageCode: string | null;
  stencilId: number | null;
  stencilCode: string | null;
  productRevisionId: number | null;
  mountedAt: Date;
  mountedBy: string;
  unmountedAt: Date | null;
  unmountedBy: string | null;
}

const STENCIL_SELECT = `SELECT id, code, product_revision_id AS "productRevisionId", thickness_um AS "thicknessUm", usage_count AS "usageCount",
  cleaning_interval AS "cleaningInterval", usage_at_last_cleaning AS "usageAtLastCleaning", usage_count - usage_at_last_cleaning AS "usageSinceCleaning",
  last_cleaned_at AS "lastCleanedAt", max_usage AS "maxUsage", status, notes, created_at AS "createdAt" FROM stencils`;

const MOUNT_SELECT = `SELECT c.id, c.equipment_id AS "equipmentId", c.kind, c.package_id AS "packageId", pk.code AS "packageCode", c.stencil_id AS "stencilId",
  s.code AS "stencilCode", c.product_revision_id AS "productRevisionId", c.mounted_at AS "mountedAt", c.mounted_by AS "mountedBy",
  c.unmounted_at AS "unmountedAt", c.unmounted_by AS "unmountedBy"
  FROM consumable_mounts c LEFT JOIN material_packages pk ON pk.id = c.package_id LEFT JOIN stencils s ON s.id = c.stencil_id`;

/** What the paste check reads of a package (a MaterialPackage, or the interlock's lighter row). */
export type PasteSubject = Pick<MaterialPackage, 'code' | 'kind' | 'status' | 'lotOnHold' | 'lotExpiresAt' | 'paste'>;
export type StencilSubject = Pick<Stencil, 'code' | 'status' | 'productRevisionId' | 'usageSinceCleaning' | 'cleaningInterval' | 'maxUsage' | 'usageCount'>;

/** Paste validity at `now`: kind, usability, lot expiry, thaw time, open time. */
export function pasteProblems(pkg: PasteSubject, now: Date): ConsumableProblem[] {
  const out: ConsumableProblem[] = [];
  if (pkg.kind !== 'paste-jar' || !pkg.paste) return [{ code: 'PASTE_NOT_PASTE', message: `Package ${pkg.code} is a ${pkg.kind}, not a solder-paste jar` }];
  if (['blocked', 'quarantined', 'empty', 'scrapped'].includes(pkg.status)) out.push({ code: 'PASTE_UNUSABLE', message: `Paste jar ${pkg.code} is ${pkg.status}` });
  if (pkg.lotOnHold) out.push({ code: 'PASTE_UNUSABLE', message: `The lot of paste jar ${pkg.code} is on hold` });
  if (pkg.lotExpiresAt && pkg.lotExpiresAt.getTime() <= now.getTime()) {
    out.push({ code: 'PASTE_EXPIRED', message: `Paste jar ${pkg.code} expired at ${pkg.lotExpiresAt.toISOString()}` });
  }
  const p = pkg.paste;
  const minThawMs = p.minThawHours * HOUR_MS;
  if (!p.thawStartedAt) {
    out.push({ code: 'PASTE_NOT_THAWED', message: `Paste jar ${pkg.code} has no recorded thaw start` });
  } else {
    // Thawed up to the moment it was opened (opening cold spoils it), or up to now while closed.
    const until = p.openedAt ?? now;
    const thawed = until.getTime() - p.thawStartedAt.getTime();
    if (thawed < minThawMs) {
      out.push({
        code: 'PASTE_NOT_THAWED',
        message: `Paste jar ${pkg.code} ${p.openedAt ? 'was opened after' : 'has thawed for'} ${(thawed / HOUR_MS).toFixed(1)} h; it needs ${p.minThawHours} h`,
      });
    }
  }
  if (p.openedAt && now.getTime() - p.openedAt.getTime() >= p.maxOpenHours * HOUR_MS) {
    out.push({ code: 'PASTE_OPEN_TOO_LONG', message: `Paste jar ${pkg.code} has been open since ${p.openedAt.toISOString()}, longer than ${p.maxOpenHours} h` });
  }
  return out;
}

/** Stencil validity for a product revision (null: any). */
export function stencilProblems(s: StencilSubject, productRevisionId: number | null): ConsumableProblem[] {
  const out: ConsumableProblem[] = [];
  if (s.status === 'retired') out.push({ code: 'STENCIL_RETIRED', message: `Stencil ${s.code} is retired` });
  if (productRevisionId !== null && s.productRevisionId !== productRevisionId) {
    out.push({ code: 'STENCIL_WRONG_REVISION', message: `Stencil ${s.code} is made for product revision ${s.productRevisionId}, not ${productRevisionId}` });
  }
  if (s.usageSinceCleaning >= s.cleaningInterval) {
    out.push({ code: 'STENCIL_CLEANING_DUE', message: `Stencil ${s.code} made ${s.usageSinceCleaning} prints since its last cleaning; the interval is ${s.cleaningInterval}` });
  }
  if (s.maxUsage !== null && s.usageCount >= s.maxUsage) {
    out.push({ code: 'STENCIL_WORN_OUT', message: `Stencil ${s.code} made ${s.usageCount} prints; its limit is ${s.maxUsage}` });
  }
  return out;
}

export function createConsumableService(db: Db, deps: { products: ProductsService; factory: FactoryService }, store: PackageStore) {
  const clock = store.clock;

  async function checkPaste(packageId: number): Promise<ConsumableCheck> {
    const now = clock();
    const pkg = await store.get(db, packageId, now);
    const problems = pasteProblems(pkg, now);
    return { ok: problems.length === 0, at: now, problems };
  }

  async function pasteRow(tx: Tx, packageId: number): Promise<MaterialPackage> {
    const row = await store.row(tx, packageId, true);
    if (row.kind !== 'paste-jar') throw new AppError('STATE_CONFLICT', `Package ${row.code} is a ${row.kind}, not a solder-paste jar`);
    return (await store.views(tx, [row]))[0]!;
  }

  /** Records when the jar was taken out of the refrigerator (again, if it was put back unopened). */
  async function thawPaste(who: Principal, packageId: number, input: { at?: Date } = {}): Promise<MaterialPackage> {
    return db.tx(async (tx) => {
      const at = input.at ?? clock();
      const before = await pasteRow(tx, packageId);
      if (before.paste!.openedAt) throw new AppError('STATE_CONFLICT', `Paste jar ${before.code} is already open`);
      if (at.getTime() > clock().getTime()) throw new AppError('VALIDATION_FAILED', 'The thaw start cannot be in the future', { errors: [{ field: '/at', code: 'future', message: 'is later than now' }] });
      await tx.query('UPDATE paste_jars SET thaw_started_at = $2 WHERE package_id = $1', [packageId, at]);
      const after = await store.get(tx, packageId);
      await recordAudit(tx, who, { action: 'paste_thaw', entity: 'material_package', entityId: packageId, before: before.paste, after: after.paste });
      return after;
    });
  }

  async function openPaste(who: Principal, packageId: number, input: { at?: Date } = {}): Promise<MaterialPackage> {
    return db.tx(async (tx) => {
      const at = input.at ?? clock();
      const before = await pasteRow(tx, packageId);
      if (before.paste!.openedAt) throw new AppError('STATE_CONFLICT', `Paste jar ${before.code} was opened at ${before.paste!.openedAt.toISOString()}`);
      if (at.getTime() > clock().getTime()) throw new AppError('VALIDATION_FAILED', 'The opening time cannot be in the future', { errors: [{ field: '/at', code: 'future', message: 'is later than now' }] });
      await tx.query('UPDATE paste_jars SET opened_at = $2 WHERE package_id = $1', [packageId, at]);
      const after = await store.get(tx, packageId);
      await recordAudit(tx, who, { action: 'paste_open', entity: 'material_package', entityId: packageId, before: before.paste, after: after.paste });
      return after;
    });
  }

  async function getStencil(id: number, q: Queryable = db): Promise<Stencil> {
    const r = await q.query<Stencil>(`${STENCIL_SELECT} WHERE id = $1`, [id]);
    if (!r.rows[0]) throw notFound('stencil', id);
    return r.rows[0];
  }

  async function listStencils(f: { productRevisionId?: number; code?: string } = {}): Promise<Stencil[]> {
    return (await db.query<Stencil>(`${STENCIL_SELECT} WHERE ($1::bigint IS NULL OR product_revision_id = $1) AND ($2::text IS NULL OR code = $2) ORDER BY code`, [
      f.productRevisionId ?? null, f.code ?? null,
    ])).rows;
  }

  async function createStencil(who: Principal, input: StencilInput): Promise<Stencil> {
    return db.tx(async (tx) => {
      await deps.products.getRevision(input.productRevisionId, tx);
      const r = await tx.query<{ id: number }>(
        `INSERT INTO stencils (code, product_revision_id, thickness_um, cleaning_interval, max_usage, notes) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
        [input.code, input.productRevisionId, input.thicknessUm ?? null, input.cleaningInterval, input.maxUsage ?? null, input.notes ?? ''],
      );
      const s = await getStencil(r.rows[0]!.id, tx);
      await recordAudit(tx, who, { action: 'create', entity: 'stencil', entityId: s.id, after: s });
      return s;
    });
  }

  async function updateStencil(who: Principal, id: number, patch: { cleaningInterval?: number; maxUsage?: number | null; notes?: string; status?: 'active' | 'retired'; thicknessUm?: number | null }): Promise<Stencil> {
    return db.tx(async (tx) => {
      await tx.query('SELECT 1 FROM stencils WHERE id = $1 FOR UPDATE', [id]);
      const before = await getStencil(id, tx);
      await tx.query(
        `UPDATE stencils SET cleaning_interval = COALESCE($2, cleaning_interval), max_usage = CASE WHEN $3::boolean THEN $4 ELSE max_usage END,
           notes = COALESCE($5, notes), status = COALESCE($6, status), thickness_um = CASE WHEN $7::boolean THEN $8 ELSE thickness_um END WHERE id = $1`,
        [id, patch.cleaningInterval ?? null, patch.maxUsage !== undefined, patch.maxUsage ?? null, patch.notes ?? null, patch.status ?? null, patch.thicknessUm !== undefined, patch.thicknessUm ?? null],
      );
      const after = await getStencil(id, tx);
      await recordAudit(tx, who, { action: 'update', entity: 'stencil', entityId: id, before, after });
      return after;
    });
  }

  async function cleanStencil(who: Principal, id: number, input: { at?: Date } = {}): Promise<Stencil> {
    return db.tx(async (tx) => {
      await tx.query('SELECT 1 FROM stencils WHERE id = $1 FOR UPDATE', [id]);
      const before = await getStencil(id, tx);
      await tx.query('UPDATE stencils SET usage_at_last_cleaning = usage_count, last_cleaned_at = $2 WHERE id = $1', [id, input.at ?? clock()]);
      const after = await getStencil(id, tx);
      await recordAudit(tx, who, { action: 'clean', entity: 'stencil', entityId: id, before, after });
      return after;
    });
  }

  /** Counts prints made with the stencil (from the printer, or by hand). */
  async function recordStencilUse(who: Principal, id: number, input: { prints: number }, q?: Tx): Promise<Stencil> {
    const run = async (tx: Tx) => {
      await tx.query('SELECT 1 FROM stencils WHERE id = $1 FOR UPDATE', [id]);
      const before = await getStencil(id, tx);
      await tx.query('UPDATE stencils SET usage_count = usage_count + $2 WHERE id = $1', [id, input.prints]);
      const after = await getStencil(id, tx);
      await recordAudit(tx, who, { action: 'use', entity: 'stencil', entityId: id, before: { usageCount: before.usageCount }, after: { usageCount: after.usageCount } });
      return after;
    };
    return q ? run(q) : db.tx(run);
  }

  async function checkStencil(id: number, input: { productRevisionId?: number | null } = {}): Promise<ConsumableCheck> {
    const problems = stencilProblems(await getStencil(id), input.productRevisionId ?? null);
    return { ok: problems.length === 0, at: clock(), problems };
  }

  async function mount(id: number, q: Queryable): Promise<ConsumableMount> {
    return (await q.query<ConsumableMount>(`${MOUNT_SELECT} WHERE c.id = $1`, [id])).rows[0]!;
  }

  function refuse(what: string, problems: ConsumableProblem[]): AppError {
    return new AppError('CONSUMABLE_INVALID', `${what} cannot be used: ${problems.map((p) => p.message).join('; ')}`, {
      errors: problems.map((p) => ({ field: '/', code: p.code, message: p.message })),
      details: { problems },
    });
  }

  /** Puts a paste jar on a printer after checking it; the previous jar there is taken off. */
  async function mountPaste(who: Principal, input: { equipmentId: number; packageId: number; productRevisionId?: number | null }): Promise<ConsumableMount> {
    return db.tx(async (tx) => {
      const now = clock();
      const equipment = await deps.factory.equipment.get(input.equipmentId, tx);
      const pkg = (await store.views(tx, [await store.row(tx, input.packageId, true)], now))[0]!;
      const problems = pasteProblems(pkg, now);
      if (problems.length) throw refuse(`Paste jar ${pkg.code}`, problems);
      const elsewhere = (await tx.query<{ code: string }>(
        `SELECT e.code FROM consumable_mounts c JOIN equipment e ON e.id = c.equipment_id WHERE c.package_id = $1 AND c.unmounted_at IS NULL AND c.equipment_id <> $2`,
        [pkg.id, equipment.id],
      )).rows[0];
      if (elsewhere) throw new AppError('STATE_CONFLICT', `Paste jar ${pkg.code} is mounted on ${elsewhere.code}; take it off there first`);
      return replaceMount(tx, who, { equipmentId: equipment.id, kind: 'paste', packageId: pkg.id, stencilId: null, productRevisionId: input.productRevisionId ?? null }, now);
    });
  }

  async function mountStencil(who: Principal, input: { equipmentId: number; stencilId: number; productRevisionId: number }): Promise<ConsumableMount> {
    return db.tx(async (tx) => {
      const now = clock();
      const equipment = await deps.factory.equipment.get(input.equipmentId, tx);
      await tx.query('SELECT 1 FROM stencils WHERE id = $1 FOR UPDATE', [input.stencilId]);
      const s = await getStencil(input.stencilId, tx);
      const problems = stencilProblems(s, input.productRevisionId);
      if (problems.length) throw refuse(`Stencil ${s.code}`, problems);
      const elsewhere = (await tx.query<{ code: string }>(
        `SELECT e.code FROM consumable_mounts c JOIN equipment e ON e.id = c.equipment_id WHERE c.stencil_id = $1 AND c.unmounted_at IS NULL AND c.equipment_id <> $2`,
        [s.id, equipment.id],
      )).rows[0];
      if (elsewhere) throw new AppError('STATE_CONFLICT', `Stencil ${s.code} is mounted on ${elsewhere.code}; take it off there first`);
      return replaceMount(tx, who, { equipmentId: equipment.id, kind: 'stencil', packageId: null, stencilId: s.id, productRevisionId: input.productRevisionId }, now);
    });
  }

  async function replaceMount(
    tx: Tx,
    who: Principal,
    m: { equipmentId: number; kind: 'paste' | 'stencil'; packageId: number | null; stencilId: number | null; productRevisionId: number | null },
    now: Date,
  ): Promise<ConsumableMount> {
    await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`mes:mount:${m.equipmentId}:${m.kind}`]);
    const prev = (await tx.query<{ id: number }>(`UPDATE consumable_mounts SET unmounted_at = $3, unmounted_by = $4 WHERE equipment_id = $1 AND kind = $2 AND unmounted_at IS NULL RETURNING id`, [
      m.equipmentId, m.kind, now, who.name,
    ])).rows;
    const r = await tx.query<{ id: number }>(
      `INSERT INTO consumable_mounts (equipment_id, kind, package_id, stencil_id, product_revision_id, mounted_at, mounted_by) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
      [m.equipmentId, m.kind, m.packageId, m.stencilId, m.productRevisionId, now, who.name],
    );
    const after = await mount(r.rows[0]!.id, tx);
    await recordAudit(tx, who, { action: 'mount', entity: 'consumable_mount', entityId: after.id, after, before: prev.length ? { unmounted: prev.map((p) => p.id) } : undefined });
    return after;
  }

  async function unmount(who: Principal, input: { equipmentId: number; kind: 'paste' | 'stencil' }): Promise<ConsumableMount> {
    return db.tx(async (tx) => {
      const r = (await tx.query<{ id: number }>(`UPDATE consumable_mounts SET unmounted_at = $3, unmounted_by = $4 WHERE equipment_id = $1 AND kind = $2 AND unmounted_at IS NULL RETURNING id`, [
        input.equipmentId, input.kind, clock(), who.name,
      ])).rows[0];
      if (!r) throw new AppError('STATE_CONFLICT', `No ${input.kind} is mounted on machine ${input.equipmentId}`);
      const after = await mount(r.id, tx);
      await recordAudit(tx, who, { action: 'unmount', entity: 'consumable_mount', entityId: r.id, after });
      return after;
    });
  }

  /** What is on a printer now, each with its check: the paste / stencil part of a changeover checklist. */
  async function mountedConsumables(equipmentId: number, input: { productRevisionId?: number | null } = {}) {
    const now = clock();
    await deps.factory.equipment.get(equipmentId);
    const active = (await db.query<ConsumableMount>(`${MOUNT_SELECT} WHERE c.equipment_id = $1 AND c.unmounted_at IS NULL`, [equipmentId])).rows;
    const paste = active.find((a) => a.kind === 'paste') ?? null;
    const stencil = active.find((a) => a.kind === 'stencil') ?? null;
    const pasteCheck = paste ? pasteProblems(await store.get(db, paste.packageId!, now), now) : null;
    const stencilCheck = stencil ? stencilProblems(await getStencil(stencil.stencilId!), input.productRevisionId ?? stencil.productRevisionId) : null;
    return {
      equipmentId, at: now,
      paste: paste ? { mount: paste, ok: pasteCheck!.length === 0, problems: pasteCheck! } : null,
      stencil: stencil ? { mount: stencil, ok: stencilCheck!.length === 0, problems: stencilCheck! } : null,
    };
  }

  async function listMounts(f: { equipmentId?: number; packageId?: number; stencilId?: number; limit?: number } = {}): Promise<ConsumableMount[]> {
    return (await db.query<ConsumableMount>(
      `${MOUNT_SELECT} WHERE ($1::bigint IS NULL OR c.equipment_id = $1) AND ($2::bigint IS NULL OR c.package_id = $2) AND ($3::bigint IS NULL OR c.stencil_id = $3)
       ORDER BY c.mounted_at DESC, c.id DESC LIMIT $4`,
      [f.equipmentId ?? null, f.packageId ?? null, f.stencilId ?? null, Math.min(f.limit ?? 100, 1000)],
    )).rows;
  }

  return {
    checkPaste, thawPaste, openPaste, getStencil, listStencils, createStencil, updateStencil, cleanStencil, recordStencilUse, checkStencil,
    mountPaste, mountStencil, unmount, mountedConsumables, listMounts,
  };
}
export type ConsumableService = ReturnType<typeof createConsumableService>;
