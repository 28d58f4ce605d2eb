import type { Db, Queryable, Tx } from '../../platform/db.ts';
import { inTx } from '../../platform/db.ts';
import { AppError, notFound, validationFailed } from '../../platform/errors.ts';
import type { Principal } from '../../platform/principal.ts';
import { recordAudit, recordAudits, type AuditEntry } from '../audit/index.ts';
import type { Equipment, FactoryService } from '../factory/index.ts';
import type { PartsService } from '../parts/index.ts';
import type { Program, ProductsService } from '../products/index.ts';
import type { MslEventType } from './lib/msl.ts';
import { PACKAGE_SELECT, type MaterialPackage, type PackageRow, type PackageStore, type StoredMsdEvent } from './packages.ts';
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
    return (await packageReasonsMany(q, [{ pkg, slot, ctx }], now))[0]!;
  }

  /**
   * {@link packageReasons} of several packages with one read of the AVL and one of the quality
   * holds: an active approved (not alternate) AVL entry of the MPN passes at once; anything else
   * (alternates, unknown or inactive MPNs) is judged by the parts module's `checkApproved`.
   */
  async function packageReasonsMany(
    q: Queryable,
    items: readonly { pkg: MaterialPackage; slot: { slot: string; partId: number; ipn: string } | null; ctx: { productRevisionId: number | null; workOrderId: number | null; stationId?: number | null } }[],
    now: Date,
  ): Promise<LoadRefusal[][]> {
    if (items.length === 0) return [];
    const avlAsked = items.filter((it) => it.slot && it.pkg.partId === it.slot.partId);
    const approved = new Set<string>();
    if (avlAsked.length) {
      const r = await q.query<{ partId: number; mpn: string; manufacturer: string }>(
        `SELECT a.part_id AS "partId", m.mpn, m.manufacturer FROM avl_entries a JOIN manufacturer_parts m ON m.id = a.manufacturer_part_id
          WHERE a.active AND NOT a.alternate AND (a.part_id, m.mpn) IN (SELECT * FROM unnest($1::bigint[], $2::text[]))`,
        [avlAsked.map((it) => it.slot!.partId), avlAsked.map((it) => it.pkg.mpn)],
      );
      for (const x of r.rows) approved.add(`${x.partId}|${x.mpn}|${x.manufacturer.toLowerCase()}`);
    }
    const holds = (
      await q.query<{ scope: string; number: string; reason: string; packageId: number | null; lotId: number | null; stationId: number | null }>(
        `SELECT scope, number, reason, package_id AS "packageId", material_lot_id AS "lotId", station_id AS "stationId" FROM quality_holds
          WHERE released_at IS NULL AND scope IN ('package','material_lot','station')
            AND ((scope = 'package' AND package_id = ANY($1::bigint[])) OR (scope = 'material_lot' AND material_lot_id = ANY($2::bigint[]))
                 OR (scope = 'station' AND station_id = ANY($3::bigint[])))
          ORDER BY id`,
        [items.map((it) => it.pkg.id), items.map((it) => it.pkg.lotId), items.flatMap((it) => (it.ctx.stationId == null ? [] : [it.ctx.stationId]))],
      )
    ).rows;
    const out: LoadRefusal[][] = [];
    for (const { pkg, slot, ctx } of items) {
      const reasons: LoadRefusal[] = [];
      const p = `Package ${pkg.code}`;
      const statusReason = pkg.statusReason ? ` (${pkg.statusReason})` : '';
      if (pkg.status === 'scrapped') reasons.push(loadRefusal('PACKAGE_SCRAPPED', `${p} has been scrapped${statusReason}`));
      if (pkg.status === 'empty') reasons.push(loadRefusal('PACKAGE_EMPTY', `${p} is empty`));
      if (pkg.status === 'blocked') reasons.push(loadRefusal('PACKAGE_BLOCKED', `${p} is blocked${statusReason}`));
      if (pkg.status === 'quarantined') reasons.push(loadRefusal('PACKAGE_QUARANTINED', `${p} is in quarantine${statusReason}`));
      if (slot) {
        if (pkg.partId !== slot.partId) {
          reasons.push(loadRefusal('PART_MISMATCH', `${p} holds part ${pkg.ipn} (${pkg.mpn}); slot ${slot.slot} needs part ${slot.ipn}`));
        } else if (!approved.has(`${slot.partId}|${pkg.mpn}|${pkg.manufacturer.toLowerCase()}`)) {
          const avl = await deps.parts.checkApproved(q, {
            partId: slot.partId, manufacturer: pkg.manufacturer, mpn: pkg.mpn, productRevisionId: ctx.productRevisionId, workOrderId: ctx.workOrderId,
          });
          if (!avl.ok) reasons.push(loadRefusal(avl.reason, `${p}: ${avl.message} (${slot.ipn}, ${pkg.manufacturer})`));
        }
      }
      // Quality holds are the source of truth: they refuse even when the lot flag / package block they
      // set was cleared by hand while the hold is still active (and a station hold refuses any load).
      const station = ctx.stationId ?? null;
      const mine = holds.filter(
        (h) => (h.scope === 'package' && h.packageId === pkg.id) || (h.scope === 'material_lot' && h.lotId === pkg.lotId) || (h.scope === 'station' && station !== null && h.stationId === station),
      );
      for (const h of mine.filter((x) => x.scope === 'package')) reasons.push(loadRefusal('PACKAGE_ON_HOLD', `${p} is held by quality hold ${h.number}: ${h.reason}`));
      const lotHold = mine.find((x) => x.scope === 'material_lot');
      if (pkg.lotOnHold) reasons.push(loadRefusal('LOT_ON_HOLD', `The lot ${pkg.lotCode ?? `#${pkg.lotId}`} of ${p} is on hold: ${pkg.lotHoldReason ?? ''}`.trim()));
      else if (lotHold) reasons.push(loadRefusal('LOT_ON_HOLD', `The lot ${pkg.lotCode ?? `#${pkg.lotId}`} of ${p} is held by quality hold ${lotHold.number}: ${lotHold.reason}`));
      for (const h of mine.filter((x) => x.scope === 'station')) reasons.push(loadRefusal('STATION_ON_HOLD', `The station of this machine is held by quality hold ${h.number}: ${h.reason}`));
      if (pkg.lotExpiresAt && pkg.lotExpiresAt.getTime() <= now.getTime()) {
        reasons.push(loadRefusal('LOT_EXPIRED', `The lot ${pkg.lotCode ?? `#${pkg.lotId}`} of ${p} expired at ${pkg.lotExpiresAt.toISOString()}`));
      }
      if (pkg.msd.state === 'expired') reasons.push(loadRefusal('MSL_EXPIRED', `The MSL ${pkg.msd.level} floor life of ${p} has run out; bake it before use`));
      else if (pkg.msd.state === 'bake-required') reasons.push(loadRefusal('MSL_BAKE_REQUIRED', `${p} (MSL ${pkg.msd.level}) must be baked before use`));
      else if (pkg.msd.state === 'unknown') reasons.push(loadRefusal('MSD_STATE_UNKNOWN', `The MSD state of ${p} cannot be determined: ${pkg.msd.error?.message ?? 'unknown'}`));
      out.push(reasons);
    }
    return out;
  }

  async function packageRows(q: Queryable, ids: readonly number[]): Promise<PackageRow[]> {
    if (ids.length === 0) return [];
    return (await q.query<PackageRow>(`${PACKAGE_SELECT} WHERE pk.id = ANY($1::bigint[])`, [ids])).rows;
  }

  async function closeInterval(tx: Tx, who: Principal, id: number, reason: NonNullable<SetupInterval['unloadReason']>, at: Date): Promise<void> {
    await closeIntervals(tx, who, [{ id, reason }], at);
  }

  /** Closes open setup intervals, each with its reason, with one statement. */
  async function closeIntervals(tx: Tx, who: Principal, items: readonly { id: number; reason: NonNullable<SetupInterval['unloadReason']> }[], at: Date): Promise<void> {
    if (items.length === 0) return;
    await tx.query(
      `UPDATE feeder_setups fs SET unloaded_at = $3, unloaded_by = $4, unload_reason = x.reason
         FROM unnest($1::bigint[], $2::text[]) AS x(id, reason) WHERE fs.id = x.id AND fs.unloaded_at IS NULL`,
      [items.map((i) => i.id), items.map((i) => i.reason), at, who.name],
    );
  }

  /** After the feeding package of a slot left it, the package spliced onto it takes over. */
  async function promoteSplice(tx: Tx, equipmentId: number, slot: string): Promise<void> {
    await promoteSplices(tx, [{ equipmentId, slot }]);
  }

  /** {@link promoteSplice} on several slots with one statement. */
  async function promoteSplices(tx: Tx, slots: readonly { equipmentId: number; slot: string }[]): Promise<void> {
    const uniq = [...new Map(slots.map((s) => [`${s.equipmentId}:${s.slot}`, s])).values()];
    if (uniq.length === 0) return;
    await tx.query(
      `UPDATE feeder_setups fs SET position = 'feeding' FROM unnest($1::bigint[], $2::text[]) AS x(equipment_id, slot)
        WHERE fs.equipment_id = x.equipment_id AND fs.slot = x.slot AND fs.unloaded_at IS NULL AND fs.position = 'spliced'
          AND NOT EXISTS (SELECT 1 FROM feeder_setups f WHERE f.equipment_id = x.equipment_id AND f.slot = x.slot AND f.unloaded_at IS NULL AND f.position = 'feeding')`,
      [uniq.map((s) => s.equipmentId), uniq.map((s) => s.slot)],
    );
  }

  /** Setup intervals by id (one statement). */
  async function intervals(q: Queryable, ids: readonly number[]): Promise<Map<number, SetupInterval>> {
    if (ids.length === 0) return new Map();
    return new Map((await q.query<SetupInterval>(`${SETUP_SELECT} WHERE fs.id = ANY($1::bigint[])`, [ids])).rows.map((r) => [r.id, r]));
  }

  /** Takes packages off their machine after an unload: in-use becomes available, the location the machine's line. */
  async function takeOff(tx: Tx, who: Principal, iv: SetupInterval, at: Date): Promise<void> {
    await takeOffs(tx, who, [iv], at);
  }

  async function takeOffs(tx: Tx, who: Principal, ivs: readonly SetupInterval[], at: Date): Promise<void> {
    if (ivs.length === 0) return;
    const ids = ivs.map((iv) => iv.packageId);
    await tx.query(`SELECT 1 FROM material_packages WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE`, [ids]);
    await tx.query(`UPDATE material_packages SET status = CASE WHEN status = 'in-use' THEN 'available' ELSE status END WHERE id = ANY($1::bigint[])`, [ids]);
    const off = await store.offMachineLocations(tx, ivs.map((iv) => iv.equipmentId));
    await store.setLocations(tx, ivs.map((iv) => ({ packageId: iv.packageId, loc: off.get(iv.equipmentId)! })));
    await store.logMovements(tx, who, ivs.map((iv) => ({ packageId: iv.packageId, kind: 'unloaded' as const, workOrderId: iv.workOrderId, reason: `from ${iv.equipmentCode} slot ${iv.slot}`, at })));
  }

  /**
   * Closes the open setup intervals of packages that emptied or were scrapped (the caller updates
   * the packages), letting a waiting splice take over, in a few statements. The audit rows are written,
   * or added to `audits` when given (the caller writes them with its own).
   */
  async function endPackageSetupsMany(
    tx: Tx, who: Principal, packageIds: readonly number[], reason: 'emptied' | 'scrapped', at: Date, audits?: AuditEntry[],
  ): Promise<Map<number, SetupInterval[]>> {
    const out = new Map<number, SetupInterval[]>();
    if (packageIds.length === 0) return out;
    const open = (await tx.query<SetupInterval>(`${SETUP_SELECT} WHERE fs.package_id = ANY($1::bigint[]) AND fs.unloaded_at IS NULL ORDER BY fs.id`, [packageIds])).rows;
    if (open.length === 0) return out;
    await closeIntervals(tx, who, open.map((iv) => ({ id: iv.id, reason })), at);
    await promoteSplices(tx, open);
    const after = await intervals(tx, open.map((iv) => iv.id));
    const entries = open.map((iv) => ({ action: reason === 'emptied' ? 'empty' : 'scrap', entity: 'feeder_setup', entityId: iv.id, before: iv, after: after.get(iv.id) }));
    if (audits) audits.push(...entries);
    else await recordAudits(tx, who, entries);
    for (const iv of open) out.set(iv.packageId, [...(out.get(iv.packageId) ?? []), iv]);
    return out;
  }

  /**
   * The MSD event a load implies: a reel cannot feed a machine from inside its dry pack or a
   * dry cabinet, so loading counts as opening it / taking it out (recorded as an implicit event).
   */
  function implicitMsdEvent(pkg: PackageRow, events: readonly StoredMsdEvent[], now: Date): MslEventType | null {
    if (pkg.mslLevel === '1') return null;
    const last = [...events].reverse().find((e) => e.type !== 'expired');
    let type: MslEventType | null = null;
    if (!last || last.type === 'resealed-dry-pack') type = 'opened';
    else if (last.type === 'dry-storage-in') type = 'dry-storage-out';
    if (!type) return null;
    const next = store.msdOf(pkg, [...events, { type, at: now }], now);
    if (next.state === 'unknown') return null; // the history does not allow it; the check already refused unusable states
    return type;
  }

  /**
   * Verifies a package for a slot of a placement machine against a program, records the attempt,
   * and on acceptance records the setup interval (replacing the slot's previous package, or
   * joining it as a splice). A refusal is a result, not an exception: the attempt is committed.
   */
  async function verifyLoad(who: Principal, input: LoadInput, q?: Queryable): Promise<LoadVerdict> {
    return (await verifyLoads(who, [input], q))[0]!;
  }

  /**
   * {@link verifyLoad} of several loads, in a few statements per round: verdicts in the order of
   * `inputs`, each as if the loads had been made one after the other. Loads naming a slot or a
   * package an earlier load of the call names are decided in a later round, after it. A refused
   * load changes nothing but its recorded attempt (and audit row); the others are applied.
   */
  async function verifyLoads(who: Principal, inputs: readonly LoadInput[], q?: Queryable): Promise<LoadVerdict[]> {
    for (const input of inputs) {
      if (input.packageId === undefined && (input.packageCode === undefined || input.packageCode === '')) {
        throw validationFailed([{ field: '/packageId', code: 'required', message: 'give packageId or packageCode' }]);
      }
    }
    if (inputs.length === 0) return [];
    return inTx(db, q, async (tx) => {
      const now = clock();
      const equipments = new Map<number, Equipment>();
      const programs = new Map<number, Program>();
      for (const input of inputs) {
        let equipment = equipments.get(input.equipmentId);
        if (!equipment) equipments.set(input.equipmentId, (equipment = await deps.factory.equipment.get(input.equipmentId, tx)));
        if (who.stationIds && !who.stationIds.includes(equipment.stationId)) {
          throw new AppError('STATION_NOT_PERMITTED', `This token may not act for machine ${equipment.code}`);
        }
        let program = programs.get(input.programId);
        if (!program) programs.set(input.programId, (program = await deps.products.getProgram(input.programId, tx)));
        if (input.productRevisionId != null && input.productRevisionId !== program.productRevisionId) {
          throw validationFailed([
            { field: '/productRevisionId', code: 'program_revision', message: `program ${program.name} belongs to product revision ${program.productRevisionId}, not ${input.productRevisionId}` },
          ]);
        }
      }
      const out: LoadVerdict[] = new Array(inputs.length);
      let pending = inputs.map((input, i) => ({ input, i }));
      while (pending.length) {
        const round: typeof pending = [];
        const later: typeof pending = [];
        const slots = new Set<string>();
        const pkgs = new Set<string>();
        for (const p of pending) {
          const sk = `${p.input.equipmentId}:${p.input.slot}`;
          const pk = p.input.packageId !== undefined ? `#${p.input.packageId}` : `@${p.input.packageCode}`;
          (slots.has(sk) || pkgs.has(pk) ? later : round).push(p);
          slots.add(sk);
          pkgs.add(pk);
        }
        const deferred = await loadRound(tx, who, round, equipments, programs, now, out);
        pending = [...deferred, ...later].sort((a, b) => a.i - b.i);
      }
      return out;
    });
  }

  /** One round of {@link verifyLoads}: loads on distinct slots and packages. Returns the loads left for a later round. */
  async function loadRound(
    tx: Tx, who: Principal, round: readonly { input: LoadInput; i: number }[], equipments: Map<number, Equipment>, programs: Map<number, Program>, now: Date,
    out: LoadVerdict[],
  ): Promise<{ input: LoadInput; i: number }[]> {
    // One loading decision per slot at a time (keys in one order, so that concurrent calls do not deadlock).
    const keys = [...new Set(round.map((r) => `mes:slot:${r.input.equipmentId}:${r.input.slot}`))].sort();
    await tx.query('SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest($1::text[]) AS k', [keys]);
    const ids = round.flatMap((r) => (r.input.packageId !== undefined ? [r.input.packageId] : []));
    const codes = round.flatMap((r) => (r.input.packageId === undefined ? [r.input.packageCode!] : []));
    const rows = (
      await tx.query<PackageRow>(`${PACKAGE_SELECT} WHERE pk.id = ANY($1::bigint[]) OR pk.code = ANY($2::text[]) ORDER BY pk.id FOR NO KEY UPDATE OF pk`, [ids, codes])
    ).rows;
    const byId = new Map(rows.map((r) => [r.id, r]));
    const byCode = new Map(rows.map((r) => [r.code, r]));
    const located = round.map((r) => ({ ...r, row: r.input.packageId !== undefined ? byId.get(r.input.packageId) : byCode.get(r.input.packageCode!) }));
    const found = [...new Set(rows.map((r) => r.id))];
    const events = await store.msdEvents(tx, found);
    const open = (
      await tx.query<SetupInterval>(
        `${SETUP_SELECT} WHERE fs.id IN (
           SELECT id FROM feeder_setups WHERE package_id = ANY($1::bigint[]) AND unloaded_at IS NULL
           UNION
           SELECT f.id FROM unnest($2::bigint[], $3::text[]) AS x(e, s) JOIN feeder_setups f ON f.equipment_id = x.e AND f.slot = x.s AND f.unloaded_at IS NULL)
         ORDER BY fs.position, fs.id`,
        [found, located.map((it) => it.input.equipmentId), located.map((it) => it.input.slot)],
      )
    ).rows;
    // A load touches its slot and package, the packages on that slot and the slot its package is
    // on; one touching what an earlier load of the round touches waits for the next round (the
    // same package named by id and by code, a package another load replaces…).
    const deferred: { input: LoadInput; i: number }[] = [];
    const items: typeof located = [];
    const usedSlots = new Set<string>();
    const usedPkgs = new Set<number>();
    for (const it of located) {
      const slots = [`${it.input.equipmentId}:${it.input.slot}`];
      const pkgs = open.filter((o) => o.equipmentId === it.input.equipmentId && o.slot === it.input.slot).map((o) => o.packageId);
      if (it.row) {
        pkgs.push(it.row.id);
        for (const o of open) if (o.packageId === it.row.id) slots.push(`${o.equipmentId}:${o.slot}`);
      }
      if (slots.some((x) => usedSlots.has(x)) || pkgs.some((x) => usedPkgs.has(x))) {
        deferred.push({ input: it.input, i: it.i });
        continue;
      }
      for (const x of slots) usedSlots.add(x);
      for (const x of pkgs) usedPkgs.add(x);
      items.push(it);
    }

    // The checks, as verifyLoad makes them for one load.
    const judged = items.map((it) => {
      const equipment = equipments.get(it.input.equipmentId)!;
      const program = programs.get(it.input.programId)!;
      const ctx = { productRevisionId: program.productRevisionId, workOrderId: it.input.workOrderId ?? null, stationId: equipment.stationId };
      const slotDef = program.slots.find((s) => s.slot === it.input.slot) ?? null;
      const current = open.filter((c) => c.equipmentId === equipment.id && c.slot === it.input.slot);
      const pkg = it.row ? store.toView(it.row, events.get(it.row.id) ?? [], now) : null;
      return { ...it, equipment, program, ctx, slotDef, current, feeding: current.find((c) => c.position === 'feeding'), pending: current.find((c) => c.position === 'spliced'), pkg };
    });
    const withPkg = judged.filter((j) => j.pkg);
    const pkgReasons = new Map(
      (await packageReasonsMany(tx, withPkg.map((j) => ({ pkg: j.pkg!, slot: j.slotDef, ctx: j.ctx })), now)).map((r, k) => [withPkg[k]!.i, r]),
    );
    const decided = judged.map((j) => {
      const { input, equipment, program, slotDef, row, feeding, pending } = j;
      const scanned = row?.code ?? input.packageCode ?? `#${input.packageId}`;
      const reasons: LoadRefusal[] = [...programReasons(program, equipment)];
      if (!slotDef) reasons.push(loadRefusal('SLOT_NOT_IN_PROGRAM', `Slot ${input.slot} is not in the feeder setup of program ${program.name} revision ${program.revision}`));
      let alreadyHere: SetupInterval | undefined;
      if (!row) {
        reasons.push(loadRefusal('PACKAGE_UNKNOWN', `Package ${scanned} is not known to the MES`));
      } else {
        reasons.push(...pkgReasons.get(j.i)!);
        const active = open.find((o) => o.packageId === row.id);
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
      return { ...j, reasons, accepted, first, message, alreadyHere };
    });

    const attempts = (
      await tx.query<{ id: number }>(
        `INSERT INTO load_attempts (at, equipment_id, slot, feeder_id, package_id, package_code, program_id, product_revision_id, work_order_id, splice,
                                    accepted, reason_code, failure_code, reasons, message, actor_kind, actor_id, actor_name)
         SELECT $1, x.e, x.slot, x.feeder, x.pkg, x.code, x.prog, x.rev, x.wo, x.splice, x.accepted, x.reason_code, x.failure_code, x.reasons::jsonb, x.message, $16, $17, $18
           FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::bigint[], $8::bigint[], $9::bigint[], $10::boolean[], $11::boolean[],
                       $12::text[], $13::int[], $14::text[], $15::text[]) WITH ORDINALITY
                AS x(e, slot, feeder, pkg, code, prog, rev, wo, splice, accepted, reason_code, failure_code, reasons, message, ord)
          ORDER BY x.ord
         RETURNING id`,
        [
          now, decided.map((d) => d.equipment.id), decided.map((d) => d.input.slot), decided.map((d) => d.input.feederId ?? null), decided.map((d) => d.row?.id ?? null),
          decided.map((d) => d.row?.code ?? d.input.packageCode ?? null), decided.map((d) => d.program.id), decided.map((d) => d.program.productRevisionId),
          decided.map((d) => d.ctx.workOrderId), decided.map((d) => d.input.splice ?? false), decided.map((d) => d.accepted), decided.map((d) => d.first?.code ?? null),
          decided.map((d) => d.first?.failureCode ?? null), decided.map((d) => JSON.stringify(d.reasons)), decided.map((d) => d.message), who.kind, who.id, who.name,
        ],
      )
    ).rows.map((r) => r.id).sort((a, b) => a - b);
    const audits: AuditEntry[] = [];
    const changes: (typeof decided[number] & { attemptId: number; reverify: boolean; splicing: boolean; firstArticleRequired: string | null })[] = [];
    for (const [k, d] of decided.entries()) {
      const attemptId = attempts[k]!;
      const base = { attemptId, message: d.message, reasons: d.reasons, reason: d.first };
      if (!d.accepted) {
        audits.push({
          action: 'load_refused', entity: 'load_attempt', entityId: attemptId,
          after: { equipmentId: d.equipment.id, slot: d.input.slot, package: d.row?.code ?? d.input.packageCode ?? null, programId: d.program.id, reasons: d.reasons },
        });
        out[d.i] = { ...base, accepted: false, setup: null, replaced: [], alreadyLoaded: false, firstArticleRequired: null };
        continue;
      }
      // The same package verified again against another program or work order (a changeover that
      // keeps the reel): its interval closes and a new one opens for the new program.
      const reverify = d.alreadyHere !== undefined && (d.alreadyHere.programId !== d.program.id || (d.ctx.workOrderId !== null && d.alreadyHere.workOrderId !== d.ctx.workOrderId));
      if (d.alreadyHere && !reverify) {
        out[d.i] = { ...base, accepted: true, setup: d.alreadyHere, replaced: [], alreadyLoaded: true, firstArticleRequired: null };
        continue;
      }
      changes.push({ ...d, attemptId, reverify, splicing: !reverify && Boolean(d.input.splice && d.feeding), firstArticleRequired: null });
    }

    if (changes.length) {
      // A setup change that needs a new first article: another program on this machine than the
      // last one loaded, or another work order set up on it (an earlier load of this call counts).
      const machines = [...new Set(changes.map((c) => c.equipment.id))];
      const prev = new Map(
        (
          await tx.query<{ equipmentId: number; programId: number; workOrderId: number | null; name: string; revision: string; loadedAt: Date }>(
            `SELECT e.id AS "equipmentId", x.* FROM unnest($1::bigint[]) AS e(id) CROSS JOIN LATERAL (
               SELECT fs.program_id AS "programId", fs.work_order_id AS "workOrderId", p.name, p.revision, fs.loaded_at AS "loadedAt"
                 FROM feeder_setups fs JOIN programs p ON p.id = fs.program_id WHERE fs.equipment_id = e.id ORDER BY fs.loaded_at DESC, fs.id DESC LIMIT 1) x`,
            [machines],
          )
        ).rows.map((r) => [r.equipmentId, r]),
      );
      for (const c of changes) {
        const previous = prev.get(c.equipment.id);
        if (previous && previous.programId !== c.program.id) {
          c.firstArticleRequired = `program change on ${c.equipment.code}: ${previous.name} revision ${previous.revision} → ${c.program.name} revision ${c.program.revision}`;
        } else if (previous && c.ctx.workOrderId !== null && previous.workOrderId !== c.ctx.workOrderId) {
          c.firstArticleRequired = `work order #${c.ctx.workOrderId} set up on ${c.equipment.code}`;
        }
        if (!previous || previous.loadedAt.getTime() <= now.getTime()) {
          prev.set(c.equipment.id, { equipmentId: c.equipment.id, programId: c.program.id, workOrderId: c.ctx.workOrderId, name: c.program.name, revision: c.program.revision, loadedAt: now });
        }
      }

      const closing: { id: number; reason: NonNullable<SetupInterval['unloadReason']> }[] = [];
      const takenOff: SetupInterval[] = [];
      for (const c of changes) {
        if (c.reverify) closing.push({ id: c.alreadyHere!.id, reason: 'reverified' });
        else if (!c.splicing) for (const cur of c.current) {
          closing.push({ id: cur.id, reason: 'replaced' });
          takenOff.push(cur);
        }
      }
      await closeIntervals(tx, who, closing, now);
      await takeOffs(tx, who, takenOff, now);
      const loading = changes.filter((c) => !c.reverify);
      for (const c of loading) {
        const type = implicitMsdEvent(c.row!, events.get(c.row!.id) ?? [], now);
        if (type) await store.insertMsdEvent(tx, who, c.row!.id, { type, at: now, implicit: true, note: 'recorded at loading' });
      }
      if (loading.length) {
        await tx.query(
          `UPDATE material_packages pk SET status = 'in-use', location_kind = 'equipment', store_place = NULL, line_id = NULL, equipment_id = x.e, slot = x.slot
             FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS x(id, e, slot) WHERE pk.id = x.id`,
          [loading.map((c) => c.row!.id), loading.map((c) => c.equipment.id), loading.map((c) => c.input.slot)],
        );
      }
      const inserted = new Map(
        (
          await tx.query<{ id: number; attemptId: number }>(
            `INSERT INTO feeder_setups (equipment_id, slot, feeder_id, package_id, program_id, product_revision_id, work_order_id, attempt_id, position, splice_of_id, loaded_at, loaded_by)
             SELECT x.e, x.slot, x.feeder, x.pkg, x.prog, x.rev, x.wo, x.attempt, x.position, x.splice_of, $11, $12
               FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::text[], $10::bigint[]) WITH ORDINALITY
                    AS x(e, slot, feeder, pkg, prog, rev, wo, attempt, position, splice_of, ord)
              ORDER BY x.ord
             RETURNING id, attempt_id AS "attemptId"`,
            [
              changes.map((c) => c.equipment.id), changes.map((c) => c.input.slot),
              changes.map((c) => c.input.feederId ?? (c.reverify ? c.alreadyHere!.feederId : c.splicing ? c.feeding!.feederId : null)),
              changes.map((c) => c.row!.id), changes.map((c) => c.program.id), changes.map((c) => c.program.productRevisionId), changes.map((c) => c.ctx.workOrderId),
              changes.map((c) => c.attemptId), changes.map((c) => (c.reverify ? c.alreadyHere!.position : c.splicing ? 'spliced' : 'feeding')),
              changes.map((c) => (c.reverify ? c.alreadyHere!.spliceOfId : c.splicing ? c.feeding!.id : null)), now, who.name,
            ],
          )
        ).rows.map((r) => [r.attemptId, r.id]),
      );
      await store.logMovements(tx, who, loading.map((c) => ({
        packageId: c.row!.id, kind: 'loaded' as const, workOrderId: c.ctx.workOrderId, reason: `${c.splicing ? 'spliced onto' : 'loaded into'} ${c.equipment.code} slot ${c.input.slot}`, at: now,
      })));
      const after = await intervals(tx, [...inserted.values(), ...takenOff.map((t) => t.id)]);
      for (const c of changes) {
        const setup = after.get(inserted.get(c.attemptId)!)!;
        const replaced = c.reverify || c.splicing ? [] : c.current.map((cur) => after.get(cur.id)!);
        audits.push({
          action: c.reverify ? 'reverify' : c.splicing ? 'splice' : 'load', entity: 'feeder_setup', entityId: setup.id, after: setup,
          before: c.reverify ? c.alreadyHere : replaced.length ? replaced : undefined,
        });
        out[c.i] = { attemptId: c.attemptId, message: c.message, reasons: c.reasons, reason: c.first, accepted: true, setup, replaced, alreadyLoaded: false, firstArticleRequired: c.firstArticleRequired };
      }
    }
    await recordAudits(tx, who, audits);
    for (const c of changes) {
      if (!c.firstArticleRequired || !deps.firstArticle) continue;
      const why = `Setup change: ${c.firstArticleRequired}`;
      if (c.ctx.workOrderId !== null) await deps.firstArticle.requireForWorkOrder(who, c.ctx.workOrderId, why);
      else {
        const station = await deps.factory.stations.get(c.equipment.stationId, tx);
        if (station.lineId !== null) await deps.firstArticle.requireForLine(who, station.lineId, why);
      }
    }
    return deferred;
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

  return { verifyLoad, verifyLoads, unload, setupStatus, candidatesAt, listSetups, listAttempts, endPackageSetupsMany, getSetup: (id: number) => interval(db, id) };
}
export type SetupService = ReturnType<typeof createSetupService>;
