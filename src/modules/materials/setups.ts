import type { Db, Queryable, Tx } from '../../platform/db.ts';
import { inTx } from '../../platform/db.ts';
import { AppError, notFound, validationFailed } from '../../platform/errors.ts';
import type { Principal } from '../../platform/principal.ts';
import { recordAudit } from '../audit/index.ts';
import type { Equipment, FactoryService } from '../factory/index.ts';
import type { PartsService } from '../parts/index.ts';
import type { Program, ProductsService } from '../products/index.ts';
import type { MslEventType } from './lib/msl.ts';
import { PACKAGE_SELECT, type MaterialPackage, type PackageRow, type PackageStore } from './packages.ts';
import { loadRefusal, type LoadRefusal } from './reasons.ts';

/**
 * Feeder setup verification: which package sits in which slot (and feeder) of which machine,
 * over time, checked against a placement program's feeder setup and the AVL. Every loading
 * attempt is kept with its verdict; an accepted load opens a setup interval.
 *
 * Splices: a package spliced onto the running one is verified the same way and kept as a
 * second open interval on the slot (position `spliced`) until the running package empties or is
 * unloaded; then the splice becomes the feeding package. During that window both packages are
 * material candidates for the units placed (IPC-1782 M2), see {@link candidatesAt}.
 */

export interface LoadInput {
  equipmentId: number;
  slot: string;
  /** The feeder (carrier) scanned with the slot, if the line uses feeder IDs. */
  feederId?: string | null;
  /** The package by id, or by its package ID (`packageCode`, as scanned). */
  packageId?: number;
  packageCode?: string;
  /** The placement program whose feeder setup is required (from the work order's build basis). */
  programId: number;
  /** Scope of alternate permissions; defaults to the program's product revision. */
  productRevisionId?: number | null;
  /** Scope of work-order alternate permissions; recorded with the setup. */
  workOrderId?: number | null;
  /** Join the package to the one running on this slot instead of replacing it. */
  splice?: boolean;
}

export interface SetupInterval {
  id: number;
  equipmentId: number;
  equipmentCode: string;
  slot: string;
  feederId: string | null;
  packageId: number;
  packageCode: string;
  partId: number;
  ipn: string;
  manufacturer: string;
  mpn: string;
  lotId: number;
  lotCode: string | null;
  dateCode: string | null;
  programId: number;
  productRevisionId: number | null;
  workOrderId: number | null;
  attemptId: number;
  position: 'feeding' | 'spliced';
  spliceOfId: number | null;
  loadedAt: Date;
  loadedBy: string;
  unloadedAt: Date | null;
  unloadedBy: string | null;
  unloadReason: 'unloaded' | 'replaced' | 'emptied' | 'scrapped' | 'reverified' | null;
}

export interface LoadVerdict {
  accepted: boolean;
  /** The recorded attempt (kept for accepted and refused loads). */
  attemptId: number;
  message: string;
  /** The first refusal reason (null when accepted). */
  reason: LoadRefusal | null;
  /** Every refusal reason found, in the order of the reason table. */
  reasons: LoadRefusal[];
  /** The setup interval of the package on the slot (new, or the existing one on a re-scan). */
  setup: SetupInterval | null;
  /** Intervals this load closed (the previous package of the slot). */
  replaced: SetupInterval[];
  /** The package was already verified on this very slot; nothing changed. */
  alreadyLoaded: boolean;
  /** The setup change this load made that needs a new first article (program change, new work order), or null. */
  firstArticleRequired: string | null;
}

export interface LoadAttempt {
  id: number;
  at: Date;
  equipmentId: number;
  slot: string;
  feederId: string | null;
  packageId: number | null;
  packageCode: string | null;
  programId: number;
  productRevisionId: number | null;
  workOrderId: number | null;
  splice: boolean;
  accepted: boolean;
  reasonCode: string | null;
  failureCode: number | null;
  reasons: LoadRefusal[];
  message: string;
  actorName: string;
}

export interface SlotPackageStatus {
  setupId: number;
  packageId: number;
  packageCode: string;
  feederId: string | null;
  mpn: string;
  lotCode: string | null;
  loadedAt: Date;
  ok: boolean;
  reasons: LoadRefusal[];
}

export interface SlotStatus {
  slot: string;
  partId: number;
  ipn: string;
  /** verified: a valid package feeds the slot; missing: nothing loaded; wrong: a loaded package fails a check now. */
  state: 'verified' | 'missing' | 'wrong';
  feeding: SlotPackageStatus | null;
  spliced: SlotPackageStatus | null;
}

export interface SetupStatus {
  equipmentId: number;
  programId: number;
  at: Date;
  /** Every slot verified and the program usable on this machine: the placement interlock may pass. */
  complete: boolean;
  /** Problems of the program itself on this machine (not released, another machine). */
  problems: LoadRefusal[];
  slots: SlotStatus[];
  /** Packages loaded in slots the program does not use (not an obstacle; listed for the operator). */
  unexpected: SetupInterval[];
  counts: { verified: number; missing: number; wrong: number };
}

const SETUP_SELECT = `SELECT fs.id, fs.equipment_id AS "equipmentId", e.code AS "equipmentCode", fs.slot, fs.feeder_id AS "feederId",
  fs.package_id AS "packageId", pk.code AS "packageCode", l.part_id AS "partId", p.ipn, m.manufacturer, m.mpn, pk.material_lot_id AS "lotId",
  l.lot_code AS "lotCode", l.date_code AS "dateCode", fs.program_id AS "programId", fs.product_revision_id AS "productRevisionId",
  fs.work_order_id AS "workOrderId", fs.attempt_id AS "attemptId", fs.position, fs.splice_of_id AS "spliceOfId", fs.loaded_at AS "loadedAt",
  fs.loaded_by AS "loadedBy", fs.unloaded_at AS "unloadedAt", fs.unloaded_by AS "unloadedBy", fs.unload_reason AS "unloadReason"
  FROM feeder_setups fs JOIN equipment e ON e.id = fs.equipment_id JOIN material_packages pk ON pk.id = fs.package_id
  JOIN material_lots l ON l.id = pk.material_lot_id JOIN parts p ON p.id = l.part_id JOIN manufacturer_parts m ON m.id = l.manufacturer_part_id`;

const ATTEMPT_SELECT = `SELECT id, at, equipment_id AS "equipmentId", slot, feeder_id AS "feederId", package_id AS "packageId", package_code AS "packageCode",
  program_id AS "programId", product_revision_id AS "productRevisionId", work_order_id AS "workOrderId", splice, accepted, reason_code AS "reasonCode",
  failure_code AS "failureCode", reasons, message, actor_name AS "actorName" FROM load_attempts`;

/** The quality module's first-article requirement, passed in at wiring (materials does not import quality). */
export interface FirstArticleHook {
  requireForWorkOrder(who: Principal, workOrderId: number, reason: string): Promise<unknown>;
  requireForLine(who: Principal, lineId: number, reason: string): Promise<unknown>;
}

export interface SetupDeps {
  parts: PartsService;
  products: ProductsService;
  factory: FactoryService;
  firstArticle?: FirstArticleHook;
}

export function createSetupService(db: Db, deps: SetupDeps, store: PackageStore) {
  const clock = store.clock;

  async function interval(q: Queryable, id: number): Promise<SetupInterval> {
    const r = await q.query<SetupInterval>(`${SETUP_SELECT} WHERE fs.id = $1`, [id]);
    if (!r.rows[0]) throw notFound('feeder setup', id);
    return r.rows[0];
  }

  async function activeOnSlot(q: Queryable, equipmentId: number, slot: string): Promise<SetupInterval[]> {
    return (await q.query<SetupInterval>(`${SETUP_SELECT} WHERE fs.equipment_id = $1 AND fs.slot = $2 AND fs.unloaded_at IS NULL ORDER BY fs.position, fs.id`, [equipmentId, slot])).rows;
  }

  async function activeOfPackage(q: Queryable, packageId: number): Promise<SetupInterval | undefined> {
    return (await q.query<SetupInterval>(`${SETUP_SELECT} WHERE fs.package_id = $1 AND fs.unloaded_at IS NULL`, [packageId])).rows[0];
  }

  function programReasons(program: Program, equipment: Equipment): LoadRefusal[] {
    const out: LoadRefusal[] = [];
    if (program.state !== 'released') {
      out.push(loadRefusal('PROGRAM_NOT_RELEASED', `Program ${program.name} revision ${program.revision} is ${program.state}, not released`));
    }
    if ((program.equipmentId !== null && program.equipmentId !== equipment.id) || (program.stationId !== null && program.stationId !== equipment.stationId)) {
      out.push(loadRefusal('PROGRAM_NOT_FOR_EQUIPMENT', `Program ${program.name} revision ${program.revision} is not for machine ${equipment.code}`));
    }
    return out;
  }

  /**
   * The package-level checks of a load, shared by loading and by the setup status: status, part,
   * AVL approval in the build's context, lot hold and expiry, MSD state at `now`.
   */
  async function packageReasons(
    q: Queryable,
    pkg: MaterialPackage,
    slot: { slot: string; partId: number; ipn: string } | null,
    ctx: { productRevisionId: number | null; workOrderId: number | null; stationId?: number | null },
    now: Date,
  ): Promise<LoadRefusal[]> {
    const out: LoadRefusal[] = [];
    const p = `Package ${pkg.code}`;
    const statusReason = pkg.statusReason ? ` (${pkg.statusReason})` : '';
    if (pkg.status === 'scrapped') out.push(loadRefusal('PACKAGE_SCRAPPED', `${p} has been scrapped${statusReason}`));
    if (pkg.status === 'empty') out.push(loadRefusal('PACKAGE_EMPTY', `${p} is empty`));
    if (pkg.status === 'blocked') out.push(loadRefusal('PACKAGE_BLOCKED', `${p} is blocked${statusReason}`));
    if (pkg.status === 'quarantined') out.push(loadRefusal('PACKAGE_QUARANTINED', `${p} is in quarantine${statusReason}`));
    if (slot) {
      if (pkg.partId !== slot.partId) {
        out.push(loadRefusal('PART_MISMATCH', `${p} holds part ${pkg.ipn} (${pkg.mpn}); slot ${slot.slot} needs part ${slot.ipn}`));
      } else {
        const avl = await deps.parts.checkApproved(q, {
          partId: slot.partId, manufacturer: pkg.manufacturer, mpn: pkg.mpn, productRevisionId: ctx.productRevisionId, workOrderId: ctx.workOrderId,
        });
        if (!avl.ok) out.push(loadRefusal(avl.reason, `${p}: ${avl.message} (${slot.ipn}, ${pkg.manufacturer})`));
      }
    }
    // Quality holds are the source of truth: they refuse even when the lot flag / package block they
    // set was cleared by hand while the hold is still active (and a station hold refuses any load).
    const holds = (
      await q.query<{ scope: string; number: string; reason: string }>(
        `SELECT scope, number, reason FROM quality_holds WHERE released_at IS NULL AND scope IN ('package','material_lot','station')
            AND ((scope = 'package' AND package_id = $1) OR (scope = 'material_lot' AND material_lot_id = $2) OR (scope = 'station' AND station_id = $3)) ORDER BY id`,
        [pkg.id, pkg.lotId, ctx.stationId ?? null],
      )
    ).rows;
    for (const h of holds.filter((x) => x.scope === 'package')) out.push(loadRefusal('PACKAGE_ON_HOLD', `${p} is held by quality hold ${h.number}: ${h.reason}`));
    const lotHold = holds.find((x) => x.scope === 'material_lot');
    if (pkg.lotOnHold) out.push(loadRefusal('LOT_ON_HOLD', `The lot ${pkg.lotCode ?? `#${pkg.lotId}`} of ${p} is on hold: ${pkg.lotHoldReason ?? ''}`.trim()));
    else if (lotHold) out.push(loadRefusal('LOT_ON_HOLD', `The lot ${pkg.lotCode ?? `#${pkg.lotId}`} of ${p} is held by quality hold ${lotHold.number}: ${lotHold.reason}`));
    for (const h of holds.filter((x) => x.scope === 'station')) out.push(loadRefusal('STATION_ON_HOLD', `The station of this machine is held by quality hold ${h.number}: ${h.reason}`));
    if (pkg.lotExpiresAt && pkg.lotExpiresAt.getTime() <= now.getTime()) {
      out.push(loadRefusal('LOT_EXPIRED', `The lot ${pkg.lotCode ?? `#${pkg.lotId}`} of ${p} expired at ${pkg.lotExpiresAt.toISOString()}`));
    }
    if (pkg.msd.state === 'expired') out.push(loadRefusal('MSL_EXPIRED', `The MSL ${pkg.msd.level} floor life of ${p} has run out; bake it before use`));
    else if (pkg.msd.state === 'bake-required') out.push(loadRefusal('MSL_BAKE_REQUIRED', `${p} (MSL ${pkg.msd.level}) must be baked before use`));
    else if (pkg.msd.state === 'unknown') out.push(loadRefusal('MSD_STATE_UNKNOWN', `The MSD state of ${p} cannot be determined: ${pkg.msd.error?.message ?? 'unknown'}`));
    return out;
  }

  async function packageRows(q: Queryable, ids: readonly number[]): Promise<PackageRow[]> {
    if (ids.length === 0) return [];
    return (await q.query<PackageRow>(`${PACKAGE_SELECT} WHERE pk.id = ANY($1::bigint[])`, [ids])).rows;
  }

  async function closeInterval(tx: Tx, who: Principal, id: number, reason: NonNullable<SetupInterval['unloadReason']>, at: Date): Promise<void> {
    await tx.query(`UPDATE feeder_setups SET unloaded_at = $2, unloaded_by = $3, unload_reason = $4 WHERE id = $1 AND unloaded_at IS NULL`, [id, at, who.name, reason]);
  }

  /** After the feeding package of a slot left it, the package spliced onto it takes over. */
  async function promoteSplice(tx: Tx, equipmentId: number, slot: string): Promise<void> {
    await tx.query(
      `UPDATE feeder_setups SET position = 'feeding' WHERE equipment_id = $1 AND slot = $2 AND unloaded_at IS NULL AND position = 'spliced'
         AND NOT EXISTS (SELECT 1 FROM feeder_setups f WHERE f.equipment_id = $1 AND f.slot = $2 AND f.unloaded_at IS NULL AND f.position = 'feeding')`,
      [equipmentId, slot],
    );
  }

  /** Takes a package off its machine after an unload: in-use becomes available, the location the machine's line. */
  async function takeOff(tx: Tx, who: Principal, iv: SetupInterval, at: Date): Promise<void> {
    await tx.query(`SELECT 1 FROM material_packages WHERE id = $1 FOR NO KEY UPDATE`, [iv.packageId]);
    await tx.query(`UPDATE material_packages SET status = CASE WHEN status = 'in-use' THEN 'available' ELSE status END WHERE id = $1`, [iv.packageId]);
    await store.setLocation(tx, iv.packageId, await store.offMachineLocation(tx, iv.equipmentId));
    await store.logMovement(tx, who, iv.packageId, { kind: 'unloaded', workOrderId: iv.workOrderId, reason: `from ${iv.equipmentCode} slot ${iv.slot}`, at });
  }

  /**
   * Closes the open setup intervals of a package that emptied or was scrapped (the caller updates
   * the package), letting a waiting splice take over. Returns the closed intervals.
   */
  async function endPackageSetups(tx: Tx, who: Principal, packageId: number, reason: 'emptied' | 'scrapped', at: Date): Promise<SetupInterval[]> {
    const open = (await tx.query<SetupInterval>(`${SETUP_SELECT} WHERE fs.package_id = $1 AND fs.unloaded_at IS NULL`, [packageId])).rows;
    for (const iv of open) {
      await closeInterval(tx, who, iv.id, reason, at);
      await promoteSplice(tx, iv.equipmentId, iv.slot);
      await recordAudit(tx, who, { action: reason === 'emptied' ? 'empty' : 'scrap', entity: 'feeder_setup', entityId: iv.id, before: iv, after: await interval(tx, iv.id) });
    }
    return open;
  }

  /**
   * The MSD events a load implies: a reel cannot feed a machine from inside its dry pack or a
   * dry cabinet, so loading counts as opening it / taking it out (recorded as implicit events).
   */
  async function implicitMsdEvent(tx: Tx, who: Principal, pkg: PackageRow, now: Date): Promise<void> {
    if (pkg.mslLevel === '1') return;
    const events = (await store.msdEvents(tx, [pkg.id])).get(pkg.id) ?? [];
    const last = [...events].reverse().find((e) => e.type !== 'expired');
    let type: MslEventType | null = null;
    if (!last || last.type === 'resealed-dry-pack') type = 'opened';
    else if (last.type === 'dry-storage-in') type = 'dry-storage-out';
    if (!type) return;
    const next = store.msdOf(pkg, [...events, { type, at: now }], now);
    if (next.state === 'unknown') return; // the history does not allow it; the check already refused unusable states
    await store.insertMsdEvent(tx, who, pkg.id, { type, at: now, implicit: true, note: 'recorded at loading' });
  }

  /**
   * Verifies a package for a slot of a placement machine against a program, records the attempt,
   * and on acceptance records the setup interval (replacing the slot's previous package, or
   * joining it as a splice). A refusal is a result, not an exception: the attempt is committed.
   */
  async function verifyLoad(who: Principal, input: LoadInput, q?: Queryable): Promise<LoadVerdict> {
    if (input.packageId === undefined && (input.packageCode === undefined || input.packageCode === '')) {
      throw validationFailed([{ field: '/packageId', code: 'required', message: 'give packageId or packageCode' }]);
    }
    return inTx(db, q, async (tx) => {
      const now = clock();
      const equipment = await deps.factory.equipment.get(input.equipmentId, tx);
      if (who.stationIds && !who.stationIds.includes(equipment.stationId)) {
        throw new AppError('STATION_NOT_PERMITTED', `This token may not act for machine ${equipment.code}`);
      }
      const program = await deps.products.getProgram(input.programId, tx);
      if (input.productRevisionId != null && input.productRevisionId !== program.productRevisionId) {
        throw validationFailed([
          { field: '/productRevisionId', code: 'program_revision', message: `program ${program.name} belongs to product revision ${program.productRevisionId}, not ${input.productRevisionId}` },
        ]);
      }
      const ctx = { productRevisionId: program.productRevisionId, workOrderId: input.workOrderId ?? null, stationId: equipment.stationId };
      // One loading decision per slot at a time.
      await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`mes:slot:${equipment.id}:${input.slot}`]);

      let row: PackageRow | undefined;
      if (input.packageId !== undefined) {
        const exists = await tx.query('SELECT 1 FROM material_packages WHERE id = $1 FOR NO KEY UPDATE', [input.packageId]);
        if (exists.rowCount) row = await store.row(tx, input.packageId);
      } else {
        row = await store.rowByCode(tx, input.packageCode!);
        if (row) await tx.query('SELECT 1 FROM material_packages WHERE id = $1 FOR NO KEY UPDATE', [row.id]);
      }
      const scanned = row?.code ?? input.packageCode ?? `#${input.packageId}`;

      const reasons: LoadRefusal[] = [...programReasons(program, equipment)];
      const slotDef = program.slots.find((s) => s.slot === input.slot) ?? null;
      if (!slotDef) reasons.push(loadRefusal('SLOT_NOT_IN_PROGRAM', `Slot ${input.slot} is not in the feeder setup of program ${program.name} revision ${program.revision}`));
      let pkg: MaterialPackage | null = null;
      let alreadyHere: SetupInterval | undefined;
      const current = await activeOnSlot(tx, equipment.id, input.slot);
      const feeding = current.find((c) => c.position === 'feeding');
      const pending = current.find((c) => c.position === 'spliced');
      if (!row) {
        reasons.push(loadRefusal('PACKAGE_UNKNOWN', `Package ${scanned} is not known to the MES`));
      } else {
        pkg = (await store.views(tx, [row], now))[0]!;
        reasons.push(...(await packageReasons(tx, pkg, slotDef, ctx, now)));
        const active = await activeOfPackage(tx, row.id);
        if (active && (active.equipmentId !== equipment.id || active.slot !== input.slot)) {
          reasons.push(loadRefusal('PACKAGE_LOADED_ELSEWHERE', `Package ${row.code} is loaded on ${active.equipmentCode} slot ${active.slot}; unload it there first`));
        } else if (active) {
          alreadyHere = active;
        }
      }
      if (input.splice && feeding && !alreadyHere) {
        if (pending) reasons.push(loadRefusal('SPLICE_PENDING', `Package ${pending.packageCode} is already spliced onto slot ${input.slot}`));
        if (input.feederId && feeding.feederId && input.feederId !== feeding.feederId) {
          reasons.push(loadRefusal('SPLICE_FEEDER_MISMATCH', `Slot ${input.slot} runs on feeder ${feeding.feederId}, not ${input.feederId}`));
        }
      }
      // Order by the reason table so the first reason is the most fundamental one.
      reasons.sort((a, b) => a.failureCode - b.failureCode);

      const accepted = reasons.length === 0;
      const first = reasons[0] ?? null;
      const message = accepted
        ? alreadyHere
          ? `Package ${row!.code} is already verified on ${equipment.code} slot ${input.slot}`
          : `Package ${row!.code} verified for ${equipment.code} slot ${input.slot} (${slotDef!.ipn})`
        : first!.message;
      const attempt = await tx.query<{ id: number }>(
        `INSERT INTO load_attempts (at, equipment_id, slot, feeder_id, package_id, package_code, program_id, product_revision_id, work_order_id, splice,
                                    accepted, reason_code, failure_code, reasons, message, actor_kind, actor_id, actor_name)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) RETURNING id`,
        [
          now, equipment.id, input.slot, input.feederId ?? null, row?.id ?? null, row?.code ?? input.packageCode ?? null, program.id, program.productRevisionId,
          ctx.workOrderId, input.splice ?? false, accepted, first?.code ?? null, first?.failureCode ?? null, JSON.stringify(reasons), message, who.kind, who.id, who.name,
        ],
      );
      const attemptId = attempt.rows[0]!.id;
      const base = { attemptId, message, reasons, reason: first };
      if (!accepted) {
        await recordAudit(tx, who, {
          action: 'load_refused', entity: 'load_attempt', entityId: attemptId,
          after: { equipmentId: equipment.id, slot: input.slot, package: row?.code ?? input.packageCode ?? null, programId: program.id, reasons },
        });
        return { ...base, accepted: false, setup: null, replaced: [], alreadyLoaded: false, firstArticleRequired: null };
      }
      // The same package verified again against another program or work order (a changeover that
      // keeps the reel): its interval closes and a new one opens for the new program.
      const reverify = alreadyHere !== undefined && (alreadyHere.programId !== program.id || (ctx.workOrderId !== null && alreadyHere.workOrderId !== ctx.workOrderId));
      if (alreadyHere && !reverify) return { ...base, accepted: true, setup: alreadyHere, replaced: [], alreadyLoaded: true, firstArticleRequired: null };

      // A setup change that needs a new first article: another program on this machine than the
      // last one loaded, or another work order set up on it.
      const previous = (
        await tx.query<{ programId: number; workOrderId: number | null; name: string; revision: string }>(
          `SELECT fs.program_id AS "programId", fs.work_order_id AS "workOrderId", p.name, p.revision FROM feeder_setups fs JOIN programs p ON p.id = fs.program_id
            WHERE fs.equipment_id = $1 ORDER BY fs.loaded_at DESC, fs.id DESC LIMIT 1`,
          [equipment.id],
        )
      ).rows[0];
      let firstArticleRequired: string | null = null;
      if (previous && previous.programId !== program.id) {
        firstArticleRequired = `program change on ${equipment.code}: ${previous.name} revision ${previous.revision} → ${program.name} revision ${program.revision}`;
      } else if (previous && ctx.workOrderId !== null && previous.workOrderId !== ctx.workOrderId) {
        firstArticleRequired = `work order #${ctx.workOrderId} set up on ${equipment.code}`;
      }

      const splicing = !reverify && Boolean(input.splice && feeding);
      const replaced: SetupInterval[] = [];
      if (reverify) {
        await closeInterval(tx, who, alreadyHere!.id, 'reverified', now);
      } else if (!splicing) {
        for (const c of current) {
          await closeInterval(tx, who, c.id, 'replaced', now);
          await takeOff(tx, who, c, now);
          replaced.push(await interval(tx, c.id));
        }
      }
      if (!reverify) {
        await implicitMsdEvent(tx, who, row!, now);
        await tx.query(`UPDATE material_packages SET status = 'in-use' WHERE id = $1`, [row!.id]);
        await store.setLocation(tx, row!.id, { kind: 'equipment', equipmentId: equipment.id, slot: input.slot });
      }
      const ins = await tx.query<{ id: number }>(
        `INSERT INTO feeder_setups (equipment_id, slot, feeder_id, package_id, program_id, product_revision_id, work_order_id, attempt_id, position, splice_of_id, loaded_at, loaded_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
        [
          equipment.id, input.slot, input.feederId ?? (reverify ? alreadyHere!.feederId : splicing ? feeding!.feederId : null), row!.id, program.id, program.productRevisionId,
          ctx.workOrderId, attemptId, reverify ? alreadyHere!.position : splicing ? 'spliced' : 'feeding', reverify ? alreadyHere!.spliceOfId : splicing ? feeding!.id : null, now, who.name,
        ],
      );
      if (!reverify) {
        await store.logMovement(tx, who, row!.id, {
          kind: 'loaded', workOrderId: ctx.workOrderId, reason: `${splicing ? 'spliced onto' : 'loaded into'} ${equipment.code} slot ${input.slot}`, at: now,
        });
      }
      const setup = await interval(tx, ins.rows[0]!.id);
      await recordAudit(tx, who, {
        action: reverify ? 'reverify' : splicing ? 'splice' : 'load', entity: 'feeder_setup', entityId: setup.id, after: setup,
        before: reverify ? alreadyHere : replaced.length ? replaced : undefined,
      });
      if (firstArticleRequired && deps.firstArticle) {
        const why = `Setup change: ${firstArticleRequired}`;
        if (ctx.workOrderId !== null) await deps.firstArticle.requireForWorkOrder(who, ctx.workOrderId, why);
        else {
          const station = await deps.factory.stations.get(equipment.stationId, tx);
          if (station.lineId !== null) await deps.firstArticle.requireForLine(who, station.lineId, why);
        }
      }
      return { ...base, accepted: true, setup, replaced, alreadyLoaded: false, firstArticleRequired };
    });
  }

  /**
   * Takes packages off a slot: one package (a waiting splice then takes over) or, without
   * `packageId`, everything on the slot (the feeder was removed).
   */
  async function unload(who: Principal, input: { equipmentId: number; slot: string; packageId?: number; reason?: string }, q?: Queryable): Promise<SetupInterval[]> {
    return inTx(db, q, async (tx) => {
      const now = clock();
      const equipment = await deps.factory.equipment.get(input.equipmentId, tx);
      if (who.stationIds && !who.stationIds.includes(equipment.stationId)) {
        throw new AppError('STATION_NOT_PERMITTED', `This token may not act for machine ${equipment.code}`);
      }
      await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`mes:slot:${equipment.id}:${input.slot}`]);
      let open = await activeOnSlot(tx, equipment.id, input.slot);
      if (input.packageId !== undefined) open = open.filter((o) => o.packageId === input.packageId);
      if (open.length === 0) {
        throw new AppError('STATE_CONFLICT', input.packageId !== undefined
          ? `Package ${input.packageId} is not loaded on ${equipment.code} slot ${input.slot}`
          : `Nothing is loaded on ${equipment.code} slot ${input.slot}`);
      }
      const out: SetupInterval[] = [];
      for (const iv of open) {
        await closeInterval(tx, who, iv.id, 'unloaded', now);
        await takeOff(tx, who, iv, now);
        const after = await interval(tx, iv.id);
        await recordAudit(tx, who, { action: 'unload', entity: 'feeder_setup', entityId: iv.id, before: iv, after, reason: input.reason ?? null });
        out.push(after);
      }
      await promoteSplice(tx, equipment.id, input.slot);
      return out;
    });
  }

  /**
   * The state of a machine's setup for a program, re-checked now: per program slot verified /
   * missing / wrong, and whether the setup is complete (what the placement interlock asks).
   */
  async function setupStatus(equipmentId: number, programId: number, ctx: { productRevisionId?: number | null; workOrderId?: number | null } = {}): Promise<SetupStatus> {
    const now = clock();
    const equipment = await deps.factory.equipment.get(equipmentId);
    const program = await deps.products.getProgram(programId);
    const active = (await db.query<SetupInterval>(`${SETUP_SELECT} WHERE fs.equipment_id = $1 AND fs.unloaded_at IS NULL ORDER BY fs.slot, fs.position`, [equipmentId])).rows;
    const pkgs = new Map((await store.views(db, await packageRows(db, active.map((a) => a.packageId)), now)).map((p) => [p.id, p]));
    const check = async (iv: SetupInterval | undefined, slot: Program['slots'][number]): Promise<SlotPackageStatus | null> => {
      if (!iv) return null;
      const reasons = await packageReasons(db, pkgs.get(iv.packageId)!, slot, {
        productRevisionId: ctx.productRevisionId ?? program.productRevisionId, workOrderId: ctx.workOrderId ?? iv.workOrderId,
      }, now);
      return { setupId: iv.id, packageId: iv.packageId, packageCode: iv.packageCode, feederId: iv.feederId, mpn: iv.mpn, lotCode: iv.lotCode, loadedAt: iv.loadedAt, ok: reasons.length === 0, reasons };
    };
    const slots: SlotStatus[] = [];
    for (const s of program.slots) {
      const feeding = await check(active.find((a) => a.slot === s.slot && a.position === 'feeding'), s);
      const spliced = await check(active.find((a) => a.slot === s.slot && a.position === 'spliced'), s);
      const state = !feeding && !spliced ? 'missing' : (feeding?.ok ?? true) && (spliced?.ok ?? true) ? 'verified' : 'wrong';
      slots.push({ slot: s.slot, partId: s.partId, ipn: s.ipn, state, feeding, spliced });
    }
    const used = new Set(program.slots.map((s) => s.slot));
    const problems = programReasons(program, equipment);
    const counts = { verified: 0, missing: 0, wrong: 0 };
    for (const s of slots) counts[s.state]++;
    return {
      equipmentId, programId, at: now, complete: problems.length === 0 && slots.length > 0 && counts.verified === slots.length,
      problems, slots, unexpected: active.filter((a) => !used.has(a.slot)), counts,
    };
  }

  /**
   * The packages that were on a slot at an instant: one, or two during a splice window. This is
   * the M2 material answer for a unit processed on that machine at that time.
   */
  async function candidatesAt(equipmentId: number, slot: string, at: Date, q: Queryable = db): Promise<SetupInterval[]> {
    return (
      await q.query<SetupInterval>(
        `${SETUP_SELECT} WHERE fs.equipment_id = $1 AND fs.slot = $2 AND fs.loaded_at <= $3 AND (fs.unloaded_at IS NULL OR fs.unloaded_at > $3) ORDER BY fs.loaded_at, fs.id`,
        [equipmentId, slot, at],
      )
    ).rows;
  }

  async function listSetups(f: { equipmentId?: number; slot?: string; packageId?: number; active?: boolean; at?: Date; limit?: number } = {}): Promise<SetupInterval[]> {
    return (
      await db.query<SetupInterval>(
        `${SETUP_SELECT} WHERE ($1::bigint IS NULL OR fs.equipment_id = $1) AND ($2::text IS NULL OR fs.slot = $2) AND ($3::bigint IS NULL OR fs.package_id = $3)
           AND ($4::boolean IS NULL OR (fs.unloaded_at IS NULL) = $4)
           AND ($5::timestamptz IS NULL OR (fs.loaded_at <= $5 AND (fs.unloaded_at IS NULL OR fs.unloaded_at > $5)))
         ORDER BY fs.loaded_at DESC, fs.id DESC LIMIT $6`,
        [f.equipmentId ?? null, f.slot ?? null, f.packageId ?? null, f.active ?? null, f.at ?? null, Math.min(f.limit ?? 500, 5000)],
      )
    ).rows;
  }

  async function listAttempts(f: { equipmentId?: number; packageId?: number; accepted?: boolean; limit?: number } = {}): Promise<LoadAttempt[]> {
    return (
      await db.query<LoadAttempt>(
        `${ATTEMPT_SELECT} WHERE ($1::bigint IS NULL OR equipment_id = $1) AND ($2::bigint IS NULL OR package_id = $2) AND ($3::boolean IS NULL OR accepted = $3)
         ORDER BY id DESC LIMIT $4`,
        [f.equipmentId ?? null, f.packageId ?? null, f.accepted ?? null, Math.min(f.limit ?? 100, 1000)],
      )
    ).rows;
  }

  return { verifyLoad, unload, setupStatus, candidatesAt, listSetups, listAttempts, endPackageSetups, getSetup: (id: number) => interval(db, id) };
}
export type SetupService = ReturnType<typeof createSetupService>;
