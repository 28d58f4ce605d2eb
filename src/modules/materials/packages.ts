import type { Queryable, Tx } from '../../platform/db.ts';
import { notFound } from '../../platform/errors.ts';
import type { Principal } from '../../platform/principal.ts';
import { HOUR_MS, mslBlocksUse, tryMslStatus, type MslEvent, type MslEventType, type MslLevel, type MslOptions, type MslState } from './lib/msl.ts';

/**
 * The package record shared by the materials service's parts: reading packages with their lot,
 * part, location and MSD state, and writing the movement log. Internal to the module.
 */

export const PACKAGE_KINDS = ['reel', 'tray', 'tube', 'bulk', 'paste-jar'] as const;
export type PackageKind = (typeof PACKAGE_KINDS)[number];
export const PACKAGE_STATUSES = ['available', 'in-use', 'blocked', 'quarantined', 'empty', 'scrapped'] as const;
export type PackageStatus = (typeof PACKAGE_STATUSES)[number];
export type LocationKind = 'store' | 'line' | 'equipment';

/** Where a package is: a store (optionally a place such as a shelf), a line, or a machine slot. */
export interface PackageLocation {
  kind: LocationKind;
  /** Store place, e.g. shelf `A-03-2`; null = the store in general. */
  place: string | null;
  lineId: number | null;
  lineCode: string | null;
  equipmentId: number | null;
  equipmentCode: string | null;
  slot: string | null;
}

/** Where a package may be put by hand; machine slots only through a verified load. */
export type LocationInput = { kind: 'store'; place?: string | null } | { kind: 'line'; lineId: number };

/** The J-STD-033 state of a package at one instant. */
export interface MsdView {
  /** Effective MSL level (the lot's when given, else the part's). */
  level: MslLevel;
  /** `unknown` when the history cannot be evaluated: such a package must not be used. */
  state: MslState | 'unknown';
  exposedMs: number | null;
  floorLifeMs: number | null;
  /** Floor life left; null when unlimited or unknown. */
  remainingMs: number | null;
  /** When the floor life runs out if nothing changes (only while the clock runs). */
  expiresAt: Date | null;
  /** Less than the warning threshold left. */
  warn: boolean;
  /** Expired, bake required or unknown: loading and placement are refused. */
  blocksUse: boolean;
  /** Why the state is unknown. */
  error: { code: string; message: string } | null;
}

export interface PasteInfo {
  minThawHours: number;
  maxOpenHours: number;
  thawStartedAt: Date | null;
  openedAt: Date | null;
}

export interface MaterialPackage {
  id: number;
  /** The unique package ID (the Data Matrix on the MES label). */
  code: string;
  kind: PackageKind;
  quantity: number;
  initialQuantity: number;
  status: PackageStatus;
  statusReason: string | null;
  lotId: number;
  partId: number;
  ipn: string;
  manufacturerPartId: number;
  manufacturer: string;
  mpn: string;
  lotCode: string | null;
  dateCode: string | null;
  supplier: string | null;
  lotExpiresAt: Date | null;
  lotOnHold: boolean;
  lotHoldReason: string | null;
  rohs: boolean | null;
  location: PackageLocation;
  parentId: number | null;
  supplierSerial: string | null;
  receivedAt: Date;
  createdBy: string;
  msd: MsdView;
  paste: PasteInfo | null;
}

/** The stored row before the MSD state is computed. */
export type PackageRow = Omit<MaterialPackage, 'msd' | 'location' | 'paste'> & {
  mslLevel: MslLevel;
  mslTimeOnLabelHours: number | null;
  locationKind: LocationKind;
  storePlace: string | null;
  lineId: number | null;
  lineCode: string | null;
  equipmentId: number | null;
  equipmentCode: string | null;
  slot: string | null;
  pasteMinThawHours: number | null;
  pasteMaxOpenHours: number | null;
  pasteThawStartedAt: Date | null;
  pasteOpenedAt: Date | null;
};

const PACKAGE_COLUMNS = `pk.id, pk.code, pk.kind, pk.quantity, pk.initial_quantity AS "initialQuantity", pk.status, pk.status_reason AS "statusReason",
  pk.material_lot_id AS "lotId", l.part_id AS "partId", p.ipn, l.manufacturer_part_id AS "manufacturerPartId", m.manufacturer, m.mpn,
  l.lot_code AS "lotCode", l.date_code AS "dateCode", l.supplier, l.expires_at AS "lotExpiresAt", l.on_hold AS "lotOnHold", l.hold_reason AS "lotHoldReason",
  l.rohs, COALESCE(l.msl_level, p.msl_level) AS "mslLevel", l.msl_time_on_label_hours AS "mslTimeOnLabelHours",
  pk.location_kind AS "locationKind", pk.store_place AS "storePlace", pk.line_id AS "lineId", ln.code AS "lineCode",
  pk.equipment_id AS "equipmentId", e.code AS "equipmentCode", pk.slot, pk.parent_package_id AS "parentId", pk.supplier_serial AS "supplierSerial",
  pk.received_at AS "receivedAt", pk.created_by AS "createdBy",
  pj.min_thaw_hours AS "pasteMinThawHours", pj.max_open_hours AS "pasteMaxOpenHours", pj.thaw_started_at AS "pasteThawStartedAt", pj.opened_at AS "pasteOpenedAt"`;

export const PACKAGE_FROM = `material_packages pk JOIN material_lots l ON l.id = pk.material_lot_id JOIN parts p ON p.id = l.part_id
  JOIN manufacturer_parts m ON m.id = l.manufacturer_part_id LEFT JOIN lines ln ON ln.id = pk.line_id LEFT JOIN equipment e ON e.id = pk.equipment_id
  LEFT JOIN paste_jars pj ON pj.package_id = pk.id`;

export const PACKAGE_SELECT = `SELECT ${PACKAGE_COLUMNS} FROM ${PACKAGE_FROM}`;

export interface StoreOptions {
  now: () => Date;
  msl: MslOptions;
}

export interface StoredMsdEvent extends MslEvent {
  id: number;
  packageId: number;
  bakeRecordId: number | null;
  implicit: boolean;
  note: string;
  actorName: string;
  recordedAt: Date;
}

/** What a movement row records besides the package's state after the change. */
export interface MovementInput { kind: MovementKind; delta?: number; relatedPackageId?: number | null; workOrderId?: number | null; reason?: string | null; at?: Date }

/** Movement kinds of the append-only package log. */
export type MovementKind =
  | 'received' | 'split-out' | 'split-in' | 'merge-out' | 'merge-in' | 'corrected' | 'consumed' | 'emptied' | 'scrapped' | 'moved' | 'loaded' | 'unloaded' | 'status';

export function createPackageStore(opts: StoreOptions) {
  const clock = opts.now;

  function msdOf(row: Pick<PackageRow, 'mslLevel' | 'mslTimeOnLabelHours'>, events: readonly MslEvent[], at: Date): MsdView {
    const options: MslOptions = { ...opts.msl };
    if (row.mslTimeOnLabelHours !== null) options.timeOnLabelMs = row.mslTimeOnLabelHours * HOUR_MS;
    const upTo = events.filter((e) => e.at.getTime() <= at.getTime());
    const r = tryMslStatus(row.mslLevel, upTo, at, options);
    if (!r.ok) {
      return {
        level: row.mslLevel, state: 'unknown', exposedMs: null, floorLifeMs: null, remainingMs: null, expiresAt: null, warn: true, blocksUse: true,
        error: { code: r.code, message: r.message },
      };
    }
    const s = r.status;
    return {
      level: row.mslLevel, state: s.state, exposedMs: s.exposedMs, floorLifeMs: s.floorLifeMs, remainingMs: s.remainingMs, expiresAt: s.expiresAt,
      warn: s.warn, blocksUse: mslBlocksUse(s), error: null,
    };
  }

  async function msdEvents(q: Queryable, packageIds: readonly number[]): Promise<Map<number, StoredMsdEvent[]>> {
    const out = new Map<number, StoredMsdEvent[]>();
    if (packageIds.length === 0) return out;
    const r = await q.query<StoredMsdEvent>(
      `SELECT id, package_id AS "packageId", type, at, bake_record_id AS "bakeRecordId", implicit, note, actor_name AS "actorName", recorded_at AS "recordedAt"
         FROM msd_events WHERE package_id = ANY($1::bigint[]) ORDER BY package_id, at, id`,
      [packageIds],
    );
    for (const e of r.rows) {
      let list = out.get(e.packageId);
      if (!list) out.set(e.packageId, (list = []));
      list.push(e);
    }
    return out;
  }

  function toView(row: PackageRow, events: readonly MslEvent[], at: Date): MaterialPackage {
    const {
      mslLevel: _l, mslTimeOnLabelHours: _t, locationKind, storePlace, lineId, lineCode, equipmentId, equipmentCode, slot,
      pasteMinThawHours, pasteMaxOpenHours, pasteThawStartedAt, pasteOpenedAt, ...rest
    } = row;
    return {
      ...rest,
      location: { kind: locationKind, place: storePlace, lineId, lineCode, equipmentId, equipmentCode, slot },
      msd: msdOf(row, events, at),
      paste:
        pasteMinThawHours === null || pasteMaxOpenHours === null
          ? null
          : { minThawHours: pasteMinThawHours, maxOpenHours: pasteMaxOpenHours, thawStartedAt: pasteThawStartedAt, openedAt: pasteOpenedAt },
    };
  }

  /** Rows with their MSD state at `at` (default: now), in the order given by the query. */
  async function views(q: Queryable, rows: PackageRow[], at: Date = clock()): Promise<MaterialPackage[]> {
    const ev = await msdEvents(q, rows.map((r) => r.id));
    return rows.map((r) => toView(r, ev.get(r.id) ?? [], at));
  }

  async function row(q: Queryable, id: number, lock = false): Promise<PackageRow> {
    if (lock) await q.query('SELECT 1 FROM material_packages WHERE id = $1 FOR NO KEY UPDATE', [id]);
    const r = await q.query<PackageRow>(`${PACKAGE_SELECT} WHERE pk.id = $1`, [id]);
    if (!r.rows[0]) throw notFound('package', id);
    return r.rows[0];
  }

  async function rowByCode(q: Queryable, code: string): Promise<PackageRow | undefined> {
    return (await q.query<PackageRow>(`${PACKAGE_SELECT} WHERE pk.code = $1`, [code])).rows[0];
  }

  async function get(q: Queryable, id: number, at?: Date): Promise<MaterialPackage> {
    return (await views(q, [await row(q, id)], at))[0]!;
  }

  /** Appends one row to the movement log with the package's quantity, status and location after the change. */
  async function logMovement(tx: Tx, who: Principal, packageId: number, m: MovementInput): Promise<void> {
    await logMovements(tx, who, [{ packageId, ...m }]);
  }

  /** {@link logMovement} for several packages with one statement (rows in the order given). */
  async function logMovements(tx: Tx, who: Principal, items: readonly ({ packageId: number } & MovementInput)[]): Promise<void> {
    if (items.length === 0) return;
    await tx.query(
      `INSERT INTO package_movements (package_id, at, kind, delta, quantity_after, status_after, location_kind, store_place, line_id, equipment_id, slot,
                                      related_package_id, work_order_id, reason, actor_kind, actor_id, actor_name)
       SELECT pk.id, x.at, x.kind, x.delta, pk.quantity, pk.status, pk.location_kind, pk.store_place, pk.line_id, pk.equipment_id, pk.slot,
              x.related, x.wo, x.reason, $8, $9, $10
         FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::int[], $5::bigint[], $6::bigint[], $7::text[]) WITH ORDINALITY
              AS x(package_id, at, kind, delta, related, wo, reason, ord)
         JOIN material_packages pk ON pk.id = x.package_id
        ORDER BY x.ord`,
      [
        items.map((m) => m.packageId), items.map((m) => m.at ?? clock()), items.map((m) => m.kind), items.map((m) => m.delta ?? 0),
        items.map((m) => m.relatedPackageId ?? null), items.map((m) => m.workOrderId ?? null), items.map((m) => m.reason ?? null), who.kind, who.id, who.name,
      ],
    );
  }

  /** Sets the location columns of a package (store / line), or the machine slot for a load. */
  async function setLocation(tx: Tx, packageId: number, loc: LocationInput | { kind: 'equipment'; equipmentId: number; slot: string }): Promise<void> {
    await setLocations(tx, [{ packageId, loc }]);
  }

  /** {@link setLocation} of several packages with one statement. */
  async function setLocations(tx: Tx, items: readonly { packageId: number; loc: LocationInput | { kind: 'equipment'; equipmentId: number; slot: string } }[]): Promise<void> {
    if (items.length === 0) return;
    await tx.query(
      `UPDATE material_packages pk SET location_kind = x.kind, store_place = x.place, line_id = x.line_id, equipment_id = x.equipment_id, slot = x.slot
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[]) AS x(id, kind, place, line_id, equipment_id, slot)
        WHERE pk.id = x.id`,
      [
        items.map((i) => i.packageId), items.map((i) => i.loc.kind), items.map((i) => (i.loc.kind === 'store' ? i.loc.place ?? null : null)),
        items.map((i) => (i.loc.kind === 'line' ? i.loc.lineId : null)), items.map((i) => (i.loc.kind === 'equipment' ? i.loc.equipmentId : null)),
        items.map((i) => (i.loc.kind === 'equipment' ? i.loc.slot : null)),
      ],
    );
  }

  /** Where packages taken off machines go: each machine's line, or the store when its station has no line (one statement). */
  async function offMachineLocations(q: Queryable, equipmentIds: readonly number[]): Promise<Map<number, LocationInput>> {
    const ids = [...new Set(equipmentIds)];
    const out = new Map<number, LocationInput>(ids.map((id) => [id, { kind: 'store', place: null }]));
    if (ids.length === 0) return out;
    const r = await q.query<{ id: number; lineId: number | null }>(
      `SELECT e.id, s.line_id AS "lineId" FROM equipment e JOIN stations s ON s.id = e.station_id WHERE e.id = ANY($1::bigint[])`,
      [ids],
    );
    for (const x of r.rows) if (x.lineId !== null) out.set(Number(x.id), { kind: 'line', lineId: x.lineId });
    return out;
  }

  async function insertMsdEvent(
    tx: Tx,
    who: Principal,
    packageId: number,
    e: { type: MslEventType; at: Date; bakeRecordId?: number | null; implicit?: boolean; copiedFromEventId?: number | null; note?: string },
  ): Promise<number> {
    const r = await tx.query<{ id: number }>(
      `INSERT INTO msd_events (package_id, type, at, bake_record_id, implicit, copied_from_event_id, note, actor_kind, actor_id, actor_name)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
      [packageId, e.type, e.at, e.bakeRecordId ?? null, e.implicit ?? false, e.copiedFromEventId ?? null, e.note ?? '', who.kind, who.id, who.name],
    );
    return r.rows[0]!.id;
  }

  return { clock, msdOf, msdEvents, toView, views, row, rowByCode, get, logMovement, logMovements, setLocation, setLocations, offMachineLocations, insertMsdEvent };
}
export type PackageStore = ReturnType<typeof createPackageStore>;
