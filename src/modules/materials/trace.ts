import type { Db, Queryable, Tx } from '../../platform/db.ts';
import { inTx } from '../../platform/db.ts';
import { AppError, notFound, validationFailed, type FieldError } from '../../platform/errors.ts';
import type { Principal } from '../../platform/principal.ts';
import { recordAudit } from '../audit/index.ts';
import type { MslEvent, MslLevel } from './lib/msl.ts';
import type { PackageStore } from './packages.ts';

/**
 * Material-to-board traceability (IPC-1782 material levels M2 and M3).
 *
 * M3 (exact): `material_installs` rows reported by the machine (CFX MaterialsInstalled), the REST
 * API, or a rework replacement (quality's rework actions with a new package, read at query time).
 * M2 (derived, no per-unit rows): a unit's passage at a placement machine (process_records with
 * equipment, start and completion) × the feeder-setup intervals of that machine covering the
 * passage → the slot → the part of that slot in the unit's build-basis program → the reference
 * designators of that part. During a splice window both packages of a slot are candidates.
 *
 * Every answer is computed by set-based SQL, one round trip per step, never per unit.
 */

export interface UnitMaterialCandidate {
  packageId: number;
  packageCode: string;
  lotId: number;
  lotCode: string | null;
  mpn: string;
  manufacturer: string;
  dateCode: string | null;
  equipmentId: number | null;
  equipmentCode: string | null;
  slot: string | null;
  /** M2: the setup interval of the package on the slot; M3: when it was installed (to: removed). */
  from: Date;
  to: Date | null;
  /** Floor life left (minutes) when the unit was placed; null for MSL 1 / not moisture-sensitive or unknown. */
  mslFloorLifeRemainingMinutesAtPlacement: number | null;
}

export interface UnitMaterial {
  refdes: string;
  partId: number;
  ipn: string;
  source: 'M3' | 'M2';
  candidates: UnitMaterialCandidate[];
}

export type MaterialWhereUsedQuery =
  | { lotId: number }
  | { packageId: number }
  | { mpn: string; dateCodeFrom?: string; dateCodeTo?: string }
  | { pasteJarPackageId: number }
  | { stencilId: number };

export interface MaterialWhereUsed {
  units: Array<{ unitId: number; via: 'M3' | 'M2' }>;
  /** The packages the question resolved to (the lot's, the MPN's, the paste jar); none for a stencil. */
  packages: number[];
}

export interface UsageLogRow {
  mpn: string;
  manufacturer: string;
  lotCode: string | null;
  packageCode: string;
  equipmentCode: string;
  slot: string;
  loadedAt: Date;
  unloadedAt: Date | null;
  /** Pieces in the package when it was loaded. */
  loadedQty: number;
  /** Pieces consumed (consumption and emptying recorded) while it was loaded. */
  consumedQty: number;
}

export interface InstallInput {
  /** Unit serial, or a panel ID with `position`. */
  unit: string;
  position?: number | null;
  packageId?: number;
  packageCode?: string;
  refdes: string[];
  equipmentId?: number | null;
  stationId?: number | null;
  slot?: string | null;
  installedAt?: Date;
}

export interface UninstallInput {
  unit: string;
  position?: number | null;
  /** The package the components came from, when known (CFX names it). */
  packageId?: number;
  packageCode?: string;
  refdes: string[];
  /** When they had been installed (CFX InstallationTime), for a removal of M2-derived material. */
  installedAt?: Date | null;
  reason: string;
  at?: Date;
}

export interface ApplyInput {
  unit: string;
  position?: number | null;
  packageId?: number;
  packageCode?: string;
  quantity?: number | null;
  quantityUnit?: string | null;
  equipmentId?: number | null;
  stationId?: number | null;
  appliedAt?: Date;
}

export interface InstallRecord {
  id: number; unitId: number; serial: string; kind: 'installed' | 'applied'; refdes: string | null; packageId: number; packageCode: string; equipmentId: number | null;
  stationId: number | null; slot: string | null; quantity: number | null; quantityUnit: string | null; installedAt: Date; source: 'cfx' | 'rest' | 'rework';
  removedAt: Date | null; removalReason: string | null;
}

type Source = 'cfx' | 'rest' | 'rework';

/** R2 before R10. */
const REFDES_ORDER = new Intl.Collator('en', { numeric: true });

/** The parts of a build basis the trace needs, parsed once per basis (a basis never changes). */
interface BasisTrace {
  /** refdes → part of the placed, not-DNP BOM lines. */
  bom: Map<string, { partId: number; ipn: string }>;
  /** Placement programs with slots: what each slot places (refdes of the slot, else of its part). */
  programs: Array<{ id: number; stationType: string; stationId: number | null; equipmentId: number | null; slots: Array<{ slot: string; partId: number; ipn: string; refdes: string[] }> }>;
}

const INSTALL_SELECT = `SELECT mi.id, mi.unit_id AS "unitId", u.serial, mi.kind, mi.refdes, mi.package_id AS "packageId", pk.code AS "packageCode", mi.equipment_id AS "equipmentId",
  mi.station_id AS "stationId", mi.slot, mi.quantity, mi.quantity_unit AS "quantityUnit", mi.installed_at AS "installedAt", mi.source, mi.removed_at AS "removedAt",
  mi.removal_reason AS "removalReason" FROM material_installs mi JOIN units u ON u.id = mi.unit_id JOIN material_packages pk ON pk.id = mi.package_id`;

/**
 * Where-used from the setup side scans a machine's passages completed from the interval's start up
 * to this long after its end (a passage that started inside the interval may complete later). A
 * placement passage (start → complete) longer than this, at the end of a setup interval, is not
 * found from that interval; the unit side (unitMaterials) has no such bound.
 */
export const MAX_PASSAGE_MS = 8 * 3_600_000;

/**
 * Units processed at a machine during time intervals: `$1` equipment ids, `$2` from, `$3` until
 * (null = still open), `$4` the (equipment, slot, part) filter as three arrays or nulls. Passages
 * recorded with the machine, and passages recorded at the machine's station without a machine.
 */
function passagesSql(intervals: string, filtered: boolean): string {
  const tail = `interval '${MAX_PASSAGE_MS / 1000} seconds'`;
  // One index range scan per interval (LATERAL with OFFSET 0: never a hash join over the whole
  // table, whatever the estimates), then the filter on the units' work orders as one hash join.
  const scan = `
      SELECT iv.i, pr.unit_id, pr.work_order_id FROM ${intervals} iv CROSS JOIN LATERAL (
        SELECT pr.unit_id, pr.work_order_id FROM process_records pr WHERE pr.equipment_id = iv.equipment_id
           AND pr.completed_at >= iv.since AND pr.completed_at < iv.until + ${tail} AND COALESCE(pr.started_at, pr.completed_at) < iv.until OFFSET 0) pr
      UNION ALL
      SELECT iv.i, pr.unit_id, pr.work_order_id FROM ${intervals} iv CROSS JOIN LATERAL (
        SELECT pr.unit_id, pr.work_order_id FROM process_records pr WHERE pr.station_id = iv.station_id AND pr.equipment_id IS NULL
           AND pr.completed_at >= iv.since AND pr.completed_at < iv.until + ${tail} AND COALESCE(pr.started_at, pr.completed_at) < iv.until OFFSET 0) pr
      OFFSET 0`;
  return filtered
    ? `SELECT DISTINCT x.unit_id FROM (${scan}) x JOIN wos ON wos.i = x.i AND wos.id = x.work_order_id`
    : `SELECT DISTINCT x.unit_id FROM (${scan}) x`;
}

/**
 * M2 where-used of packages: their setup intervals; the product revisions whose programs place
 * the package's part from that slot on that machine; the passages of units of those revisions
 * at the machine during the interval.
 */
export const M2_WHERE_USED_SQL = `
  WITH iv AS (
    SELECT row_number() OVER () AS i, fs.equipment_id, fs.slot, l.part_id, fs.loaded_at AS since, COALESCE(fs.unloaded_at, 'infinity'::timestamptz) AS until,
           e.station_id, st.type AS station_type
      FROM feeder_setups fs JOIN material_packages pk ON pk.id = fs.package_id JOIN material_lots l ON l.id = pk.material_lot_id
      JOIN equipment e ON e.id = fs.equipment_id JOIN stations st ON st.id = e.station_id
     WHERE fs.package_id = ANY($1::bigint[])),
  rv AS (
    SELECT DISTINCT iv.i, p.product_revision_id FROM iv
      JOIN program_slots ps ON ps.slot = iv.slot AND ps.part_id = iv.part_id
      JOIN programs p ON p.id = ps.program_id AND p.state <> 'draft' AND p.station_type = iv.station_type
       AND (p.equipment_id IS NULL OR p.equipment_id = iv.equipment_id) AND (p.station_id IS NULL OR p.station_id = iv.station_id)),
  wos AS (SELECT DISTINCT rv.i, w.id FROM rv JOIN work_orders w ON w.product_revision_id = rv.product_revision_id)
  ${passagesSql('iv', true)}`;

/** Units that received material of the packages exactly: M3 installs (active or removed) and rework replacements. */
const M3_WHERE_USED_SQL = `SELECT unit_id FROM material_installs WHERE package_id = ANY($1::bigint[])
  UNION SELECT unit_id FROM quality_rework_actions WHERE new_package_id = ANY($1::bigint[])`;

/** Units processed at a printer while a paste jar / stencil was mounted on it. */
const MOUNT_WHERE_USED_SQL = (column: 'package_id' | 'stencil_id') => `
  WITH iv AS (SELECT row_number() OVER () AS i, c.equipment_id, e.station_id, c.mounted_at AS since, COALESCE(c.unmounted_at, 'infinity'::timestamptz) AS until
                FROM consumable_mounts c JOIN equipment e ON e.id = c.equipment_id WHERE c.${column} = $1)
  ${passagesSql('iv', false)}`;

/**
 * M3 installations of a call (recordInstalls): per (unit, designator) the latest row of the call;
 * the designator's active row is probed in the unique active-row index; a row of another package
 * is marked replaced (found by the tuple address the probe read, `ctid = ANY(array)`: a TID scan,
 * whatever the planner thinks of the table's size — `id = ANY(array)` was planned as a scan of the
 * whole table under stale statistics, even with nothing to replace), the same package again is
 * left as it is, the rest is inserted. No step joins the table as a whole, so neither its size nor
 * the planner's guess of the call's size matters. (A row changed by another transaction after the
 * probe is not updated again; its unique active-row index then refuses the insert, and the caller
 * retries or reports it.)
 */
const INSTALL_SQL = `
  WITH x AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::timestamptz[])
                             AS x(unit_id, refdes, package_id, equipment_id, station_id, slot, at)),
       d AS (SELECT DISTINCT ON (unit_id, refdes) * FROM x ORDER BY unit_id, refdes, at DESC),
       cur AS MATERIALIZED (
         SELECT d.*, a.id AS active_id, a.tid AS active_tid, a.package_id AS active_package FROM d
           LEFT JOIN LATERAL (SELECT mi.id, mi.ctid AS tid, mi.package_id FROM material_installs mi
                               WHERE mi.unit_id = d.unit_id AND mi.refdes = d.refdes AND mi.kind = 'installed' AND mi.removed_at IS NULL LIMIT 1) a ON true),
       old AS (UPDATE material_installs mi SET removed_at = GREATEST((SELECT c.at FROM cur c WHERE c.active_id = mi.id), mi.installed_at), removal_reason = 'replaced'
                WHERE mi.ctid = ANY (ARRAY(SELECT c.active_tid FROM cur c WHERE c.active_package <> c.package_id)) AND mi.removed_at IS NULL
               RETURNING mi.id),
       ins AS (INSERT INTO material_installs (unit_id, kind, refdes, package_id, equipment_id, station_id, slot, installed_at, source, recorded_by)
               SELECT c.unit_id, 'installed', c.refdes, c.package_id, c.equipment_id, c.station_id, c.slot, c.at, $8, $9 FROM cur c
                WHERE c.active_id IS NULL OR c.active_package <> c.package_id
               RETURNING id)
  SELECT (SELECT count(*)::int FROM old) AS replaced, (SELECT count(*)::int FROM ins) AS inserted`;

export interface TraceDeps {
  store: PackageStore;
}

export function createTraceService(db: Db, deps: TraceDeps) {
  const { store } = deps;
  const clock = store.clock;
  const basisCache = new Map<number, BasisTrace>();

  async function basisTrace(q: Queryable, basisId: number): Promise<BasisTrace> {
    const hit = basisCache.get(basisId);
    if (hit) return hit;
    const r = await q.query<{ bom: Array<{ partId: number; ipn: string; refdes: string[]; doNotPlace: boolean; placed: boolean }>; programs: BasisTrace['programs'] }>(
      `SELECT basis->'bom' AS bom, basis->'programs' AS programs FROM build_bases WHERE id = $1`,
      [basisId],
    );
    const row = r.rows[0];
    if (!row) throw notFound('build basis', basisId);
    const bom = new Map<string, { partId: number; ipn: string }>();
    for (const l of row.bom ?? []) {
      if (l.doNotPlace || !l.placed) continue;
      for (const d of l.refdes ?? []) bom.set(d, { partId: l.partId, ipn: l.ipn });
    }
    const programs = (row.programs ?? []).filter((p) => Array.isArray(p.slots) && p.slots.length > 0).map((p) => ({
      id: p.id, stationType: p.stationType, stationId: p.stationId, equipmentId: p.equipmentId,
      slots: p.slots.map((s) => {
        const own = (s.refdes ?? []).filter((d) => bom.has(d));
        return { slot: s.slot, partId: s.partId, ipn: s.ipn, refdes: own.length ? own : [...bom].filter(([, v]) => v.partId === s.partId).map(([d]) => d) };
      }),
    }));
    const out = { bom, programs };
    if (basisCache.size > 500) basisCache.delete(basisCache.keys().next().value!);
    basisCache.set(basisId, out);
    return out;
  }

  // ---------------------------------------------------------------- unit resolution

  interface ResolvedUnit { id: number; serial: string; basisId: number; workOrderId: number }

  /** Resolves units by serial, or panel ID + position, in one query; unknown ones are reported per index. */
  async function resolveUnits(q: Queryable, all: Array<{ unit: string; position?: number | null }>): Promise<Array<ResolvedUnit | null>> {
    // Each distinct reference once (a machine's report names the same unit for every slot).
    const keyOf = (x: { unit: string; position?: number | null }) => `${x.position ?? ''}|${x.unit}`;
    const distinct = new Map<string, { unit: string; position?: number | null }>();
    for (const x of all) if (!distinct.has(keyOf(x))) distinct.set(keyOf(x), x);
    const refs = [...distinct.values()];
    const r = await q.query<ResolvedUnit & { i: number }>(
      `SELECT x.i::int AS i, u.id, u.serial, w.basis_id AS "basisId", u.work_order_id AS "workOrderId"
         FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS x(ident, pos, i)
         JOIN LATERAL (
           SELECT u.* FROM units u WHERE u.serial = x.ident AND (x.pos IS NULL OR u.panel_position IS NULL OR u.panel_position = x.pos)
           UNION ALL
           SELECT u.* FROM panels p JOIN units u ON u.panel_id = p.id
            WHERE p.code = x.ident AND (u.panel_position = x.pos OR (x.pos IS NULL AND p.positions = 1))
           LIMIT 1) u ON true
         JOIN work_orders w ON w.id = u.work_order_id`,
      [refs.map((x) => x.unit), refs.map((x) => x.position ?? null)],
    );
    const found = new Map<string, ResolvedUnit>();
    for (const row of r.rows) if (row.basisId !== null) found.set(keyOf(refs[row.i - 1]!), { id: row.id, serial: row.serial, basisId: row.basisId, workOrderId: row.workOrderId });
    return all.map((x) => found.get(keyOf(x)) ?? null);
  }

  async function resolvePackages(q: Queryable, all: Array<{ packageId?: number; packageCode?: string }>) {
    const keyOf = (x: { packageId?: number; packageCode?: string }) => (x.packageId !== undefined ? `#${x.packageId}` : `:${x.packageCode ?? ''}`);
    const distinct = new Map<string, { packageId?: number; packageCode?: string }>();
    for (const x of all) if (!distinct.has(keyOf(x))) distinct.set(keyOf(x), x);
    const refs = [...distinct.values()];
    // One index probe per distinct package: by id, else by code.
    const r = await q.query<{ i: number; id: number; code: string; partId: number; ipn: string }>(
      `SELECT x.i::int AS i, pk.id, pk.code, l.part_id AS "partId", p.ipn
         FROM unnest($1::bigint[], $2::text[]) WITH ORDINALITY AS x(pid, pcode, i)
         JOIN LATERAL (SELECT pk.id, pk.code, pk.material_lot_id FROM material_packages pk WHERE pk.id = x.pid
                       UNION ALL
                       SELECT pk.id, pk.code, pk.material_lot_id FROM material_packages pk WHERE x.pid IS NULL AND pk.code = x.pcode
                       LIMIT 1) pk ON true
         JOIN material_lots l ON l.id = pk.material_lot_id JOIN parts p ON p.id = l.part_id`,
      [refs.map((x) => x.packageId ?? null), refs.map((x) => (x.packageId === undefined ? x.packageCode ?? null : null))],
    );
    const found = new Map<string, { id: number; code: string; partId: number; ipn: string }>();
    for (const row of r.rows) found.set(keyOf(refs[row.i - 1]!), row);
    return all.map((x) => found.get(keyOf(x)) ?? null);
  }

  function refuse(errors: FieldError[]): never {
    const missing = errors.some((e) => e.code === 'unknown_unit' || e.code === 'unknown_package');
    const message = errors.slice(0, 5).map((e) => `${e.field}: ${e.message}`).join('; ') + (errors.length > 5 ? `; and ${errors.length - 5} more` : '');
    if (missing) throw new AppError('REFERENCE_NOT_FOUND', message, { errors });
    throw validationFailed(errors, message);
  }

  // ---------------------------------------------------------------- M3 writes

  /**
   * Records which package installed which reference designators on which unit (a batch, all or
   * nothing). Checked: the unit exists (serial, or panel ID + position), the package exists, each
   * reference designator is a placed designator of the unit's build-basis BOM, and the package holds
   * that designator's part. A designator already installed from another package is superseded
   * (the earlier row gets removed_at = the new installation time, reason `replaced`); the same
   * package again is ignored (a machine repeating its report).
   */
  async function recordInstalls(who: Principal, items: InstallInput[], source: Source, q?: Queryable): Promise<{ installed: number; unchanged: number; replaced: number }> {
    if (items.length === 0) throw validationFailed([{ field: '/installs', code: 'required', message: 'at least one installation' }]);
    return inTx(db, q, async (tx) => {
      const now = clock();
      const units = await resolveUnits(tx, items);
      const pkgs = await resolvePackages(tx, items);
      const errors: FieldError[] = [];
      const rows: Array<{ unitId: number; refdes: string; packageId: number; item: InstallInput }> = [];
      for (const [i, it] of items.entries()) {
        const u = units[i];
        const p = pkgs[i];
        if (!u) errors.push({ field: `/installs/${i}/unit`, code: 'unknown_unit', message: `no unit ${it.unit}${it.position ? ` position ${it.position}` : ''} (with a released work order)` });
        if (!p) errors.push({ field: `/installs/${i}/${it.packageId !== undefined ? 'packageId' : 'packageCode'}`, code: 'unknown_package', message: `no package ${it.packageId ?? it.packageCode}` });
        if (it.refdes.length === 0) errors.push({ field: `/installs/${i}/refdes`, code: 'required', message: 'at least one reference designator' });
        if (!u || !p) continue;
        const b = await basisTrace(tx, u.basisId);
        for (const [j, d] of it.refdes.entries()) {
          const line = b.bom.get(d);
          if (!line) errors.push({ field: `/installs/${i}/refdes/${j}`, code: 'refdes_not_in_bom', message: `${d} is not a placed reference designator of unit ${u.serial}'s BOM` });
          else if (line.partId !== p.partId) errors.push({ field: `/installs/${i}/refdes/${j}`, code: 'part_mismatch', message: `${d} needs part ${line.ipn}; package ${p.code} holds ${p.ipn}` });
          else rows.push({ unitId: u.id, refdes: d, packageId: p.id, item: it });
        }
      }
      if (errors.length) refuse(errors);
      // One statement: supersede other packages' active rows, skip exact repeats, insert the rest.
      // The active row of each (unit, designator) is found by one probe of the unique active-row
      // index (LATERAL … LIMIT 1): the cost follows the rows of the call, never the table's size,
      // whatever the planner thinks of the unnest's row count or of stale statistics.
      const at = rows.map((r) => r.item.installedAt ?? now);
      const r = await tx.query<{ replaced: number; inserted: number }>(
        INSTALL_SQL,
        [
          rows.map((x) => x.unitId), rows.map((x) => x.refdes), rows.map((x) => x.packageId), rows.map((x) => x.item.equipmentId ?? null),
          rows.map((x) => x.item.stationId ?? null), rows.map((x) => x.item.slot ?? null), at, source, who.name,
        ],
        'materials.record_installs',
      );
      const { replaced, inserted } = r.rows[0]!;
      const unitsTouched = [...new Set(rows.map((x) => x.unitId))];
      await recordAudit(tx, who, {
        action: 'install_materials', entity: 'unit', entityId: unitsTouched.length === 1 ? unitsTouched[0]! : unitsTouched.join(','),
        after: { source, installed: inserted, replaced, items: items.map((it) => ({ unit: it.unit, position: it.position ?? null, package: it.packageCode ?? it.packageId, refdes: it.refdes })) },
      });
      return { installed: inserted, unchanged: rows.length - inserted, replaced };
    });
  }

  /**
   * Records components taken off a unit (CFX MaterialsUninstalled, rework). Active M3 rows of the
   * designators get removed_at; a designator without one (its material was known only by M2) gets a
   * closed row for the named package, so the unit's material list no longer shows it.
   */
  async function recordUninstalls(who: Principal, items: UninstallInput[], source: Source, q?: Queryable): Promise<{ removed: number }> {
    if (items.length === 0) throw validationFailed([{ field: '/uninstalls', code: 'required', message: 'at least one removal' }]);
    return inTx(db, q, async (tx) => {
      const now = clock();
      const units = await resolveUnits(tx, items);
      const pkgs = await resolvePackages(tx, items.map((it) => (it.packageId !== undefined || it.packageCode ? it : { packageId: -1 })));
      const errors: FieldError[] = [];
      let removed = 0;
      for (const [i, it] of items.entries()) {
        const u = units[i];
        if (!u) {
          errors.push({ field: `/uninstalls/${i}/unit`, code: 'unknown_unit', message: `no unit ${it.unit}` });
          continue;
        }
        const named = it.packageId !== undefined || Boolean(it.packageCode);
        if (named && !pkgs[i]) {
          errors.push({ field: `/uninstalls/${i}/packageCode`, code: 'unknown_package', message: `no package ${it.packageId ?? it.packageCode}` });
          continue;
        }
        const b = await basisTrace(tx, u.basisId);
        const bad = it.refdes.filter((d) => !b.bom.has(d));
        if (bad.length) {
          errors.push({ field: `/uninstalls/${i}/refdes`, code: 'refdes_not_in_bom', message: `${bad.join(', ')} not in unit ${u.serial}'s BOM` });
          continue;
        }
        const at = it.at ?? now;
        const closed = await tx.query<{ refdes: string }>(
          `UPDATE material_installs SET removed_at = GREATEST($3::timestamptz, installed_at), removal_reason = $4
            WHERE unit_id = $1 AND refdes = ANY($2::text[]) AND kind = 'installed' AND removed_at IS NULL AND ($5::bigint IS NULL OR package_id = $5) RETURNING refdes`,
          [u.id, it.refdes, at, it.reason, pkgs[i]?.id ?? null],
        );
        removed += closed.rowCount ?? 0;
        const open = it.refdes.filter((d) => !closed.rows.some((c) => c.refdes === d));
        if (open.length && pkgs[i]) {
          const ins = await tx.query(
            `INSERT INTO material_installs (unit_id, kind, refdes, package_id, installed_at, source, removed_at, removal_reason, recorded_by)
             SELECT $1, 'installed', d, $3, LEAST(COALESCE($4::timestamptz, $5::timestamptz), $5::timestamptz), $6, $5, $7, $8 FROM unnest($2::text[]) d`,
            [u.id, open, pkgs[i]!.id, it.installedAt ?? null, at, source, it.reason, who.name],
          );
          removed += ins.rowCount ?? 0;
        } else if (open.length) {
          errors.push({ field: `/uninstalls/${i}/packageCode`, code: 'required', message: `${open.join(', ')} of unit ${u.serial} have no recorded installation: name the package they came from` });
        }
      }
      if (errors.length) refuse(errors);
      await recordAudit(tx, who, { action: 'uninstall_materials', entity: 'unit', entityId: units.filter(Boolean).map((u) => u!.id).join(','), after: { source, items } });
      return { removed };
    });
  }

  /** Records material applied to a unit (solder paste, adhesive, coating) with its quantity. */
  async function recordApplied(who: Principal, items: ApplyInput[], source: Source, q?: Queryable): Promise<{ applied: number }> {
    if (items.length === 0) throw validationFailed([{ field: '/applied', code: 'required', message: 'at least one application' }]);
    return inTx(db, q, async (tx) => {
      const now = clock();
      const units = await resolveUnits(tx, items);
      const pkgs = await resolvePackages(tx, items);
      const errors: FieldError[] = [];
      items.forEach((it, i) => {
        if (!units[i]) errors.push({ field: `/applied/${i}/unit`, code: 'unknown_unit', message: `no unit ${it.unit}` });
        if (!pkgs[i]) errors.push({ field: `/applied/${i}/packageCode`, code: 'unknown_package', message: `no package ${it.packageId ?? it.packageCode}` });
        if (it.quantity !== undefined && it.quantity !== null && !(it.quantity >= 0)) errors.push({ field: `/applied/${i}/quantity`, code: 'range', message: 'must be ≥ 0' });
      });
      if (errors.length) refuse(errors);
      const r = await tx.query(
        `INSERT INTO material_installs (unit_id, kind, package_id, equipment_id, station_id, quantity, quantity_unit, installed_at, source, recorded_by)
         SELECT u, 'applied', p, e, s, qty, qu, at, $9, $10 FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::numeric[], $6::text[], $7::timestamptz[], $8::int[]) AS x(u, p, e, s, qty, qu, at, i)`,
        [
          units.map((u) => u!.id), pkgs.map((p) => p!.id), items.map((x) => x.equipmentId ?? null), items.map((x) => x.stationId ?? null), items.map((x) => x.quantity ?? null),
          items.map((x) => x.quantityUnit ?? null), items.map((x) => x.appliedAt ?? now), items.map((_, i) => i), source, who.name,
        ],
      );
      await recordAudit(tx, who, { action: 'apply_materials', entity: 'unit', entityId: [...new Set(units.map((u) => u!.id))].join(','), after: { source, items } });
      return { applied: r.rowCount ?? 0 };
    });
  }

  async function listInstalls(f: { unitId?: number; packageId?: number; limit?: number }): Promise<InstallRecord[]> {
    return (
      await db.query<InstallRecord>(
        `${INSTALL_SELECT} WHERE ($1::bigint IS NULL OR mi.unit_id = $1) AND ($2::bigint IS NULL OR mi.package_id = $2) ORDER BY mi.id DESC LIMIT $3`,
        [f.unitId ?? null, f.packageId ?? null, Math.min(f.limit ?? 500, 5000)],
      )
    ).rows;
  }

  // ---------------------------------------------------------------- unit material list

  interface CandidateRow {
    k: 'M2' | 'M3' | 'RW';
    refdes: string | null;
    slot: string | null;
    equipmentId: number | null;
    equipmentCode: string | null;
    packageId: number;
    packageCode: string;
    lotId: number;
    lotCode: string | null;
    mpn: string;
    manufacturer: string;
    dateCode: string | null;
    partId: number;
    from: Date;
    to: Date | null;
    placedAt: Date;
    mslLevel: MslLevel;
    mslTimeOnLabelHours: number | null;
    events: Array<{ type: MslEvent['type']; at: string }> | null;
    removedPackageId: number | null;
  }

  const CANDIDATE_COLUMNS = `pk.id AS "packageId", pk.code AS "packageCode", l.id AS "lotId", l.lot_code AS "lotCode", m.mpn, m.manufacturer, l.date_code AS "dateCode",
    l.part_id AS "partId", COALESCE(l.msl_level, p.msl_level) AS "mslLevel", l.msl_time_on_label_hours::float8 AS "mslTimeOnLabelHours",
    CASE WHEN COALESCE(l.msl_level, p.msl_level) <> '1' THEN
      (SELECT json_agg(json_build_object('type', me.type, 'at', me.at) ORDER BY me.at, me.id) FROM msd_events me WHERE me.package_id = pk.id) END AS events`;
  const CANDIDATE_FROM = `JOIN material_packages pk ON pk.id = x.package_id JOIN material_lots l ON l.id = pk.material_lot_id JOIN parts p ON p.id = l.part_id
    JOIN manufacturer_parts m ON m.id = l.manufacturer_part_id`;

  /**
   * One row per reference designator of the unit with its material: M3 (installed, exact) wins
   * over M2 (derived from the setups, one or two candidates per slot); rework replacements are
   * applied in time order; a designator whose M3 material was removed and not replaced is left out.
   */
  async function unitMaterials(unitId: number, q: Queryable = db): Promise<UnitMaterial[]> {
    // The unit's basis and its passages at machines (the record's machine, else every machine of its station), one statement.
    const rows = (
      await q.query<{ basisId: number | null; prId: number | null; equipmentId: number; stationId: number; stationType: string; start: Date; placedAt: Date }>(
        `SELECT w.basis_id AS "basisId", p.* FROM units u JOIN work_orders w ON w.id = u.work_order_id
           LEFT JOIN LATERAL (
             SELECT pr.id AS "prId", e.id AS "equipmentId", e.station_id AS "stationId", st.type AS "stationType",
                    COALESCE(pr.started_at, pr.completed_at) AS start, pr.completed_at AS "placedAt", pr.visit
               FROM process_records pr JOIN stations st ON st.id = pr.station_id
               JOIN equipment e ON (pr.equipment_id IS NOT NULL AND e.id = pr.equipment_id) OR (pr.equipment_id IS NULL AND e.station_id = pr.station_id)
              WHERE pr.unit_id = u.id) p ON true
          WHERE u.id = $1
          ORDER BY p.visit`,
        [unitId],
        'materials.unit_passages',
      )
    ).rows;
    if (rows.length === 0) throw notFound('unit', unitId);
    const basisId = rows[0]!.basisId;
    if (basisId === null) return [];
    const basis = await basisTrace(q, basisId);
    const types = new Set(basis.programs.map((p) => p.stationType));
    const passages = rows.filter((r) => r.prId !== null && types.has(r.stationType));
    // (passage, slot) pairs the unit's program places.
    const ix: number[] = [];
    const eqs: number[] = [];
    const slots: string[] = [];
    const starts: Date[] = [];
    const ends: Date[] = [];
    const want: Array<{ slot: string; partId: number; refdes: string[] }> = [];
    for (const ps of passages) {
      const fits = basis.programs.filter(
        (p) => p.stationType === ps.stationType && (p.stationId === null || p.stationId === ps.stationId) && (p.equipmentId === null || p.equipmentId === ps.equipmentId),
      );
      const prog = fits.find((p) => p.equipmentId === ps.equipmentId) ?? fits.find((p) => p.stationId === ps.stationId) ?? fits[0];
      if (!prog) continue;
      for (const s of prog.slots) {
        ix.push(want.length);
        want.push(s);
        eqs.push(ps.equipmentId);
        slots.push(s.slot);
        starts.push(ps.start);
        ends.push(ps.placedAt);
      }
    }
    // One statement: M2 candidates per (passage, slot) — the setups overlapping the passage, walked
    // from the newest load before the passage's end backwards through the slot's history (index-only
    // scan of (equipment, slot, loaded_at) including unloaded_at and package_id) — then M3 rows (installed, active or removed) and rework
    // replacements, oldest first.
    const all = (
      await q.query<CandidateRow & { w: number | null }>(
        `SELECT x.w, x.k, x.refdes, x.slot, x.equipment_id AS "equipmentId", e.code AS "equipmentCode", x.since AS "from", x.until AS "to", x.placed_at AS "placedAt",
                x.removed_package_id AS "removedPackageId", ${CANDIDATE_COLUMNS}
           FROM (SELECT q.w, 'M2' AS k, NULL::text AS refdes, q.slot, fs.equipment_id, fs.package_id, fs.loaded_at AS since, fs.unloaded_at AS until, q.placed_at,
                        NULL::bigint AS removed_package_id, 0::bigint AS ord
                   FROM unnest($1::int[], $2::bigint[], $3::text[], $4::timestamptz[], $5::timestamptz[]) AS q(w, eq, slot, start, placed_at)
                   CROSS JOIN LATERAL (SELECT fs.equipment_id, fs.package_id, fs.loaded_at, fs.unloaded_at FROM feeder_setups fs
                                         WHERE fs.equipment_id = q.eq AND fs.slot = q.slot AND fs.loaded_at <= q.placed_at
                                        ORDER BY fs.loaded_at DESC LIMIT 16) fs
                  WHERE fs.unloaded_at IS NULL OR fs.unloaded_at > q.start
                 UNION ALL
                 SELECT NULL, 'M3', mi.refdes, mi.slot, mi.equipment_id, mi.package_id, mi.installed_at, mi.removed_at, mi.installed_at, NULL, mi.id
                   FROM material_installs mi WHERE mi.unit_id = $6 AND mi.kind = 'installed'
                 UNION ALL
                 SELECT NULL, 'RW', ra.refdes, NULL, NULL, ra.new_package_id, ra.performed_at, NULL, ra.performed_at, ra.removed_package_id, ra.id
                   FROM quality_rework_actions ra WHERE ra.unit_id = $6 AND ra.refdes IS NOT NULL AND ra.new_package_id IS NOT NULL) x
           LEFT JOIN equipment e ON e.id = x.equipment_id ${CANDIDATE_FROM}
          ORDER BY x.w NULLS LAST, x.since, x.k, x.ord, x.package_id`,
        [ix, eqs, slots, starts, ends, unitId],
        'materials.unit_candidates',
      )
    ).rows;
    const m2 = all.filter((r) => r.k === 'M2') as Array<CandidateRow & { w: number }>;
    const exact = all.filter((r) => r.k !== 'M2');

    const toCandidate = (r: CandidateRow): UnitMaterialCandidate => {
      let remaining: number | null = null;
      if (r.events) {
        const view = store.msdOf(r, r.events.map((e) => ({ type: e.type, at: new Date(e.at) })), r.placedAt);
        remaining = view.remainingMs === null ? null : Math.floor(view.remainingMs / 60_000);
      }
      return {
        packageId: r.packageId, packageCode: r.packageCode, lotId: r.lotId, lotCode: r.lotCode, mpn: r.mpn, manufacturer: r.manufacturer, dateCode: r.dateCode,
        equipmentId: r.equipmentId, equipmentCode: r.equipmentCode, slot: r.slot, from: r.from, to: r.to, mslFloorLifeRemainingMinutesAtPlacement: remaining,
      };
    };

    const out = new Map<string, UnitMaterial>();
    for (const r of m2) {
      const s = want[r.w]!;
      if (r.partId !== s.partId) continue; // a package left in a slot the unit's program uses for another part
      const c = toCandidate(r);
      for (const d of s.refdes) {
        const line = basis.bom.get(d)!;
        let um = out.get(d);
        if (!um) out.set(d, (um = { refdes: d, partId: line.partId, ipn: line.ipn, source: 'M2', candidates: [] }));
        if (!um.candidates.some((x) => x.packageId === c.packageId && x.from.getTime() === c.from.getTime())) um.candidates.push({ ...c });
      }
    }
    // M3: the latest row per designator decides (removed → nothing installed); rework replaces in time order.
    const decided = new Map<string, CandidateRow | null>();
    for (const r of exact) decided.set(r.refdes!, r.k === 'M3' && r.to !== null ? null : r);
    for (const [d, r] of decided) {
      const line = basis.bom.get(d);
      if (!line) continue;
      if (r === null) out.delete(d);
      else out.set(d, { refdes: d, partId: line.partId, ipn: line.ipn, source: 'M3', candidates: [toCandidate(r)] });
    }
    return [...out.values()].sort((a, b) => REFDES_ORDER.compare(a.refdes, b.refdes));
  }

  // ---------------------------------------------------------------- where-used

  /**
   * The units that contain (or may contain) material of a lot, a package, an MPN within a
   * date-code range (inclusive, compared as text: use one date-code format per MPN), a paste jar,
   * or a stencil. `via` is M3 when an exact record names the unit, else M2 (setup-derived). The
   * answer is a superset for recall: M2 units stay listed even when M3 data exists for them, and
   * units whose component was later replaced by rework are kept.
   *
   * Called outside a transaction, it runs in a repeatable-read transaction of its own (one
   * snapshot for its statements); a caller's transaction is used as it is.
   */
  async function materialWhereUsed(query: MaterialWhereUsedQuery, q: Queryable = db): Promise<MaterialWhereUsed> {
    if ((q as Partial<Tx>).inTransaction) return whereUsedIn(query, q);
    return db.tx((tx) => whereUsedIn(query, tx), { isolation: 'repeatable read' });
  }

  async function whereUsedIn(query: MaterialWhereUsedQuery, q: Queryable): Promise<MaterialWhereUsed> {
    const keys = Object.keys(query).filter((k) => (query as Record<string, unknown>)[k] !== undefined);
    const one = (k: string, extra: string[] = []) => keys.includes(k) && keys.every((x) => x === k || extra.includes(x));
    let packages: number[];
    let mount: { column: 'package_id' | 'stencil_id'; id: number } | null = null;
    if (one('lotId')) {
      const id = (query as { lotId: number }).lotId;
      if (!(await q.query('SELECT 1 FROM material_lots WHERE id = $1', [id])).rowCount) throw notFound('material lot', id);
      packages = (await q.query<{ id: number }>('SELECT id FROM material_packages WHERE material_lot_id = $1 ORDER BY id', [id])).rows.map((r) => r.id);
    } else if (one('packageId')) {
      const id = (query as { packageId: number }).packageId;
      if (!(await q.query('SELECT 1 FROM material_packages WHERE id = $1', [id])).rowCount) throw notFound('package', id);
      packages = [id];
    } else if (one('mpn', ['dateCodeFrom', 'dateCodeTo'])) {
      const f = query as { mpn: string; dateCodeFrom?: string; dateCodeTo?: string };
      packages = (
        await q.query<{ id: number }>(
          `SELECT pk.id FROM manufacturer_parts m JOIN material_lots l ON l.manufacturer_part_id = m.id JOIN material_packages pk ON pk.material_lot_id = l.id
            WHERE m.mpn = $1 AND ($2::text IS NULL OR l.date_code >= $2) AND ($3::text IS NULL OR l.date_code <= $3) ORDER BY pk.id`,
          [f.mpn, f.dateCodeFrom ?? null, f.dateCodeTo ?? null],
        )
      ).rows.map((r) => r.id);
    } else if (one('pasteJarPackageId')) {
      const id = (query as { pasteJarPackageId: number }).pasteJarPackageId;
      const k = (await q.query<{ kind: string }>('SELECT kind FROM material_packages WHERE id = $1', [id])).rows[0];
      if (!k) throw notFound('package', id);
      if (k.kind !== 'paste-jar') throw validationFailed([{ field: '/pasteJarPackageId', code: 'not_paste', message: `package ${id} is a ${k.kind}, not a paste jar` }]);
      packages = [id];
      mount = { column: 'package_id', id };
    } else if (one('stencilId')) {
      const id = (query as { stencilId: number }).stencilId;
      if (!(await q.query('SELECT 1 FROM stencils WHERE id = $1', [id])).rowCount) throw notFound('stencil', id);
      packages = [];
      mount = { column: 'stencil_id', id };
    } else {
      throw validationFailed([{ field: '/', code: 'one_of', message: 'give exactly one of lotId, packageId, mpn (with optional dateCodeFrom / dateCodeTo), pasteJarPackageId, stencilId' }]);
    }
    const via = new Map<number, 'M3' | 'M2'>();
    if (mount) {
      for (const r of (await q.query<{ unit_id: number }>(MOUNT_WHERE_USED_SQL(mount.column), [mount.id])).rows) via.set(r.unit_id, 'M2');
    } else if (packages.length) {
      for (const r of (await q.query<{ unit_id: number }>(M2_WHERE_USED_SQL, [packages], 'materials.where_used_m2')).rows) via.set(r.unit_id, 'M2');
    }
    if (packages.length) for (const r of (await q.query<{ unit_id: number }>(M3_WHERE_USED_SQL, [packages], 'materials.where_used_m3')).rows) via.set(r.unit_id, 'M3');
    return { units: [...via].map(([unitId, v]) => ({ unitId, via: v })).sort((a, b) => a.unitId - b.unitId), packages };
  }

  // ---------------------------------------------------------------- usage log

  /**
   * The material a work order used: every setup interval recorded for it (or, without a work
   * order on the setup, overlapping its passages on that machine), with the quantity in the package
   * at loading and what was consumed or emptied while it was loaded.
   */
  async function usageLog(workOrderId: number, q: Queryable = db): Promise<UsageLogRow[]> {
    if (!(await q.query('SELECT 1 FROM work_orders WHERE id = $1', [workOrderId])).rowCount) throw notFound('work order', workOrderId);
    return (
      await q.query<UsageLogRow>(
        `SELECT m.mpn, m.manufacturer, l.lot_code AS "lotCode", pk.code AS "packageCode", e.code AS "equipmentCode", fs.slot, fs.loaded_at AS "loadedAt", fs.unloaded_at AS "unloadedAt",
                COALESCE((SELECT pm.quantity_after FROM package_movements pm WHERE pm.package_id = fs.package_id AND pm.at <= fs.loaded_at ORDER BY pm.at DESC, pm.id DESC LIMIT 1), 0) AS "loadedQty",
                COALESCE((SELECT -sum(pm.delta) FROM package_movements pm WHERE pm.package_id = fs.package_id AND pm.kind IN ('consumed','emptied')
                           AND pm.at >= fs.loaded_at AND (fs.unloaded_at IS NULL OR pm.at <= fs.unloaded_at)), 0)::int AS "consumedQty"
           FROM feeder_setups fs JOIN equipment e ON e.id = fs.equipment_id JOIN material_packages pk ON pk.id = fs.package_id
           JOIN material_lots l ON l.id = pk.material_lot_id JOIN manufacturer_parts m ON m.id = l.manufacturer_part_id
          WHERE fs.work_order_id = $1
             OR (fs.work_order_id IS NULL AND EXISTS (SELECT 1 FROM process_records pr WHERE pr.equipment_id = fs.equipment_id AND pr.work_order_id = $1
                   AND pr.completed_at >= fs.loaded_at AND COALESCE(pr.started_at, pr.completed_at) < COALESCE(fs.unloaded_at, 'infinity')))
          ORDER BY fs.loaded_at, fs.id`,
        [workOrderId],
      )
    ).rows;
  }

  return { recordInstalls, recordUninstalls, recordApplied, listInstalls, unitMaterials, materialWhereUsed, usageLog };
}
export type TraceService = ReturnType<typeof createTraceService>;
