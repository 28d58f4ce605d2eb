import type { Db, Queryable, Tx } from '../../platform/db.ts';
import { inTx } from '../../platform/db.ts';
import { AppError, notFound, validationFailed, type ErrorCode } from '../../platform/errors.ts';
import type { Principal } from '../../platform/principal.ts';
import { recordAudit, recordAudits, type AuditEntry } from '../audit/index.ts';
import type { FactoryService } from '../factory/index.ts';
import type { PartsService } from '../parts/index.ts';
import type { ProductsService } from '../products/index.ts';
import { parseEigp114, type ReelLabel } from './lib/eigp114.ts';
import { PackageLabelError, PrinterError, packageLabelPdf, packageLabelPng, packageLabelZpl, sendZplToPrinter, type PackageLabelData } from './lib/labels.ts';
import { HOUR_MS, MslError, mslStatus, type MslEventType, type MslLevel, type MslOptions } from './lib/msl.ts';
import { createConsumableService, PASTE_DEFAULTS } from './consumables.ts';
import {
  createPackageStore, PACKAGE_FROM, PACKAGE_SELECT, type LocationInput, type LocationKind, type MaterialPackage, type MovementKind, type PackageKind,
  type PackageRow, type PackageStatus, type StoredMsdEvent,
} from './packages.ts';
import { createSetupService, type FirstArticleHook, type LoadVerdict } from './setups.ts';
import type { SetupInterlockDeps, SetupInterlockScope } from './interlock.ts';
import { createShortageService } from './shortage.ts';
import { createTraceService } from './trace.ts';

/**
 * Materials: receiving (by scanning the manufacturer's EIGP 114 label, or by fields), the MES's
 * own package labels, split / merge / corrections / consumption, stock, moisture-sensitive
 * devices (J-STD-033 floor life with an injectable clock), solder paste and stencils, and
 * feeder setup verification (see setups.ts).
 *
 * Time: every instant this module records or judges by comes from the `now` option (default: the
 * real clock), so tests control floor-life arithmetic, expiry and setup intervals.
 */

export interface MaterialLot {
  id: number;
  partId: number;
  ipn: string;
  manufacturerPartId: number;
  manufacturer: string;
  mpn: string;
  supplier: string | null;
  lotCode: string | null;
  dateCode: string | null;
  receivedAt: Date;
  expiresAt: Date | null;
  rohs: boolean | null;
  countryOfOrigin: string | null;
  notes: string;
  /** The lot's own MSL (from its dry pack) when it differs from the part's; null = the part's. */
  mslLevel: MslLevel | null;
  mslTimeOnLabelHours: number | null;
  onHold: boolean;
  holdReason: string | null;
  heldAt: Date | null;
  heldBy: string | null;
  createdAt: Date;
  createdBy: string;
}

export interface ReceiveInput {
  /** The internal part the material is received for; optional when the MPN is on exactly one part's AVL. */
  partId?: number;
  ipn?: string;
  /** Manufacturer; optional when the MPN is unambiguous on the AVL. */
  manufacturer?: string | null;
  mpn: string;
  quantity: number;
  lotCode?: string | null;
  dateCode?: string | null;
  supplier?: string | null;
  expiresAt?: Date | null;
  rohs?: boolean | null;
  countryOfOrigin?: string | null;
  notes?: string;
  kind?: PackageKind;
  /** The package ID to use (e.g. a pre-printed label); generated (PK00000001…) when absent. */
  code?: string;
  location?: LocationInput;
  /** Receive into quarantine (e.g. pending incoming inspection) instead of available. */
  quarantine?: boolean;
  mslLevel?: MslLevel | null;
  mslTimeOnLabelHours?: number | null;
  /** Paste jars: limits (defaults 4 h thaw, 24 h open). */
  paste?: { minThawHours?: number; maxOpenHours?: number };
  supplierSerial?: string | null;
}

export type ReceiveByLabelInput = Omit<ReceiveInput, 'mpn' | 'quantity' | 'lotCode' | 'dateCode' | 'supplierSerial' | 'countryOfOrigin'> & {
  /** The decoded content of the manufacturer's 2D label, control characters included. */
  scan: string;
};

export interface ReceiveResult {
  package: MaterialPackage;
  lot: MaterialLot;
  /** False when a matching lot (same part, MPN, lot code and date code) was reused. */
  lotCreated: boolean;
  /** The parsed manufacturer label (receiving by scan only). */
  label: ReelLabel | null;
}

export interface Movement {
  id: number;
  packageId: number;
  at: Date;
  kind: MovementKind;
  delta: number;
  quantityAfter: number;
  statusAfter: PackageStatus;
  locationKind: LocationKind;
  storePlace: string | null;
  lineId: number | null;
  equipmentId: number | null;
  slot: string | null;
  relatedPackageId: number | null;
  workOrderId: number | null;
  reason: string | null;
  actorName: string;
}

export interface BakeRecord {
  id: number;
  oven: string;
  temperatureC: number;
  durationMinutes: number;
  startedAt: Date;
  finishedAt: Date;
  notes: string;
  actorName: string;
}

export interface StockRow {
  partId: number;
  ipn: string;
  location: { kind: LocationKind; place: string | null; lineId: number | null; lineCode: string | null; equipmentId: number | null; equipmentCode: string | null };
  packages: number;
  /** Pieces in available and in-use packages. */
  usableQuantity: number;
  /** Pieces in blocked and quarantined packages. */
  blockedQuantity: number;
}

export interface MaterialWarning {
  kind: 'msd-expired' | 'msd-expiring' | 'msd-bake-required' | 'lot-expired' | 'lot-expiring';
  packageId: number;
  packageCode: string;
  ipn: string;
  mpn: string;
  status: PackageStatus;
  location: MaterialPackage['location'];
  /** When it expires / expired; null when not time-bound (bake required, clock paused). */
  at: Date | null;
  remainingMs: number | null;
  message: string;
}

export interface MaterialsOptions {
  /** The clock; tests pass a controllable one. Default: real time. */
  now?: () => Date;
  /** J-STD-033 options: derating, warning threshold (default 8 h), desiccation policy. */
  msl?: MslOptions;
  /** Warn about lots expiring within this time. Default 7 days. */
  lotExpiryWarningMs?: number;
  /** Default paste limits for new jars. */
  paste?: { minThawHours?: number; maxOpenHours?: number };
  /** Which machines the setup interlock checks: `managed` (default: machines with setups or mounts recorded) or `all`. */
  setupInterlockScope?: SetupInterlockScope;
}

export interface MaterialsDeps {
  parts: PartsService;
  products: ProductsService;
  factory: FactoryService;
  /**
   * A setup change that needs a new first article (program change on a placement machine, a new
   * work order set up on it): the quality module's requireFirstArticle / requireFirstArticleForLine,
   * passed in at wiring so materials does not import quality. Absent: nothing is required.
   */
  firstArticle?: FirstArticleHook;
}

const LOT_SELECT = `SELECT l.id, l.part_id AS "partId", p.ipn, l.manufacturer_part_id AS "manufacturerPartId", m.manufacturer, m.mpn, l.supplier,
  l.lot_code AS "lotCode", l.date_code AS "dateCode", l.received_at AS "receivedAt", l.expires_at AS "expiresAt", l.rohs,
  l.country_of_origin AS "countryOfOrigin", l.notes, l.msl_level AS "mslLevel", l.msl_time_on_label_hours AS "mslTimeOnLabelHours",
  l.on_hold AS "onHold", l.hold_reason AS "holdReason", l.held_at AS "heldAt", l.held_by AS "heldBy", l.created_at AS "createdAt", l.created_by AS "createdBy"
  FROM material_lots l JOIN parts p ON p.id = l.part_id JOIN manufacturer_parts m ON m.id = l.manufacturer_part_id`;

const MOVEMENT_SELECT = `SELECT id, package_id AS "packageId", at, kind, delta, quantity_after AS "quantityAfter", status_after AS "statusAfter",
  location_kind AS "locationKind", store_place AS "storePlace", line_id AS "lineId", equipment_id AS "equipmentId", slot,
  related_package_id AS "relatedPackageId", work_order_id AS "workOrderId", reason, actor_name AS "actorName" FROM package_movements`;

const BAKE_SELECT = `SELECT id, oven, temperature_c AS "temperatureC", duration_minutes AS "durationMinutes", started_at AS "startedAt",
  finished_at AS "finishedAt", notes, actor_name AS "actorName" FROM bake_records`;

/** The MSD events a person or device may record directly (bakes go through `bake`). */
export const MANUAL_MSD_EVENTS = ['opened', 'dry-storage-in', 'dry-storage-out', 'resealed-dry-pack', 'expired'] as const;
export type ManualMsdEvent = (typeof MANUAL_MSD_EVENTS)[number];

function mslAppError(e: MslError): AppError {
  const code: ErrorCode =
    e.code === 'MSL_EVENT_NOT_ALLOWED' || e.code === 'MSL_EVENT_OUT_OF_ORDER' || e.code === 'MSL_EVENT_AFTER_NOW' ? e.code : 'VALIDATION_FAILED';
  return new AppError(code, e.message, { errors: [{ field: '/at', code: e.code, message: e.message }] });
}

/** One package of {@link MaterialsService.markEmptyMany}: emptied, or refused (nothing changed). */
export type EmptyResult = { ok: true; package: MaterialPackage } | { ok: false; error: AppError };

/** A splice detected at a machine (CFX SplicePointDetected): the depleted package and the one now feeding the slot. */
export interface SpliceInput {
  equipmentId: number;
  /** The slot the new package feeds. */
  slot: string;
  depletedCode: string;
  newCode: string;
  feederId?: string | null;
  /** The program the machine runs (the new package is verified against it); null: none known, the load is not made. */
  programId: number | null;
  workOrderId: number | null;
  /** Recorded with the emptied package. */
  reason?: string | null;
}

export interface SpliceResult {
  input: SpliceInput;
  /** `unknown`: no such package; `already-empty`: nothing to do; `refused`: it could not be marked empty (nothing changed). */
  depleted: { outcome: 'unknown' | 'already-empty' } | { outcome: 'emptied'; package: MaterialPackage } | { outcome: 'refused'; error: AppError };
  /** `unknown`: no such package; `already-active`: already set up on this machine; `no-program`: not verified (no program); else the load's verdict. */
  load: { outcome: 'unknown' | 'already-active' | 'no-program' } | { outcome: 'verified'; verdict: LoadVerdict };
}

/** Thrown inside a label preview's transaction so that it rolls back. */
class PreviewRollback extends Error {}

export function createMaterialsService(db: Db, deps: MaterialsDeps, opts: MaterialsOptions = {}) {
  const clock = opts.now ?? (() => new Date());
  const mslOptions = opts.msl ?? {};
  // Fail at construction, not at the first package: the options are configuration.
  mslStatus('3', [], new Date(0), mslOptions);
  const store = createPackageStore({ now: clock, msl: mslOptions });
  const setups = createSetupService(db, deps, store);
  const trace = createTraceService(db, { store });
  const shortage = createShortageService(db, { now: clock });
  const consumables = createConsumableService(db, deps, store);
  const lotWarnMs = opts.lotExpiryWarningMs ?? 7 * 24 * HOUR_MS;
  const pasteDefaults = { ...PASTE_DEFAULTS, ...opts.paste };

  // ---------------------------------------------------------------- lots

  async function getLot(id: number, q: Queryable = db): Promise<MaterialLot> {
    const r = await q.query<MaterialLot>(`${LOT_SELECT} WHERE l.id = $1`, [id]);
    if (!r.rows[0]) throw notFound('material lot', id);
    return r.rows[0];
  }

  async function listLots(f: { partId?: number; ipn?: string; mpn?: string; lotCode?: string; onHold?: boolean; limit?: number } = {}): Promise<MaterialLot[]> {
    return (
      await db.query<MaterialLot>(
        `${LOT_SELECT} WHERE ($1::bigint IS NULL OR l.part_id = $1) AND ($2::text IS NULL OR p.ipn = $2) AND ($3::text IS NULL OR m.mpn = $3)
           AND ($4::text IS NULL OR l.lot_code = $4) AND ($5::boolean IS NULL OR l.on_hold = $5) ORDER BY l.id DESC LIMIT $6`,
        [f.partId ?? null, f.ipn ?? null, f.mpn ?? null, f.lotCode ?? null, f.onHold ?? null, Math.min(f.limit ?? 200, 2000)],
      )
    ).rows;
  }

  type LotPatch = Partial<Pick<MaterialLot, 'supplier' | 'expiresAt' | 'rohs' | 'notes' | 'mslLevel' | 'mslTimeOnLabelHours' | 'countryOfOrigin'>>;

  async function updateLot(who: Principal, id: number, patch: LotPatch): Promise<MaterialLot> {
    return db.tx(async (tx) => {
      await tx.query('SELECT 1 FROM material_lots WHERE id = $1 FOR UPDATE', [id]);
      const before = await getLot(id, tx);
      const has = (k: keyof LotPatch) => patch[k] !== undefined;
      await tx.query(
        `UPDATE material_lots SET
           supplier = CASE WHEN $2::boolean THEN $3 ELSE supplier END, expires_at = CASE WHEN $4::boolean THEN $5::timestamptz ELSE expires_at END,
           rohs = CASE WHEN $6::boolean THEN $7::boolean ELSE rohs END, notes = COALESCE($8, notes),
           msl_level = CASE WHEN $9::boolean THEN $10 ELSE msl_level END,
           msl_time_on_label_hours = CASE WHEN $11::boolean THEN $12::numeric ELSE msl_time_on_label_hours END,
           country_of_origin = CASE WHEN $13::boolean THEN $14 ELSE country_of_origin END
         WHERE id = $1`,
        [
          id, has('supplier'), patch.supplier ?? null, has('expiresAt'), patch.expiresAt ?? null, has('rohs'), patch.rohs ?? null, patch.notes ?? null,
          has('mslLevel'), patch.mslLevel ?? null, has('mslTimeOnLabelHours'), patch.mslTimeOnLabelHours ?? null, has('countryOfOrigin'), patch.countryOfOrigin ?? null,
        ],
      );
      const after = await getLot(id, tx);
      await recordAudit(tx, who, { action: 'update', entity: 'material_lot', entityId: id, before, after });
      return after;
    });
  }

  /** Puts a lot on hold: loading refuses its packages (LOT_ON_HOLD) until the hold is released. */
  async function holdLot(who: Principal, id: number, reason: string): Promise<MaterialLot> {
    return db.tx(async (tx) => {
      await tx.query('SELECT 1 FROM material_lots WHERE id = $1 FOR UPDATE', [id]);
      const before = await getLot(id, tx);
      if (before.onHold) throw new AppError('STATE_CONFLICT', `Lot ${before.lotCode ?? `#${id}`} is already on hold: ${before.holdReason}`);
      await tx.query('UPDATE material_lots SET on_hold = true, hold_reason = $2, held_at = $3, held_by = $4 WHERE id = $1', [id, reason, clock(), who.name]);
      const after = await getLot(id, tx);
      await recordAudit(tx, who, { action: 'hold', entity: 'material_lot', entityId: id, before, after, reason });
      return after;
    });
  }

  async function releaseLotHold(who: Principal, id: number, reason: string): Promise<MaterialLot> {
    return db.tx(async (tx) => {
      await tx.query('SELECT 1 FROM material_lots WHERE id = $1 FOR UPDATE', [id]);
      const before = await getLot(id, tx);
      if (!before.onHold) throw new AppError('STATE_CONFLICT', `Lot ${before.lotCode ?? `#${id}`} is not on hold`);
      await tx.query('UPDATE material_lots SET on_hold = false, hold_reason = NULL, held_at = NULL, held_by = NULL WHERE id = $1', [id]);
      const after = await getLot(id, tx);
      await recordAudit(tx, who, { action: 'release_hold', entity: 'material_lot', entityId: id, before, after, reason });
      return after;
    });
  }

  // ---------------------------------------------------------------- receiving

  /**
   * Finds the part and manufacturer part for a receipt. The MPN must be on the AVL: of the named
   * part, or (no part named) of exactly one part. Nothing is guessed: ambiguity is refused with
   * the candidates named.
   */
  async function resolveSource(q: Queryable, input: { partId?: number; ipn?: string; manufacturer?: string | null; mpn: string }, fieldPrefix: string) {
    let part: { id: number; ipn: string } | undefined;
    if (input.partId !== undefined || input.ipn !== undefined) {
      part = (await q.query<{ id: number; ipn: string }>('SELECT id, ipn FROM parts WHERE ($1::bigint IS NULL OR id = $1) AND ($2::text IS NULL OR ipn = $2)', [input.partId ?? null, input.ipn ?? null])).rows[0];
      if (!part) {
        const field = input.partId !== undefined ? '/partId' : '/ipn';
        throw new AppError('REFERENCE_NOT_FOUND', `Part ${input.partId ?? input.ipn} does not exist`, { errors: [{ field, code: 'unknown_part', message: 'no such part' }] });
      }
    }
    const rows = (
      await q.query<{ partId: number; ipn: string; mpId: number; manufacturer: string; mpn: string }>(
        `SELECT a.part_id AS "partId", p.ipn, m.id AS "mpId", m.manufacturer, m.mpn FROM avl_entries a JOIN parts p ON p.id = a.part_id
           JOIN manufacturer_parts m ON m.id = a.manufacturer_part_id
          WHERE m.mpn = $1 AND ($2::text IS NULL OR lower(m.manufacturer) = lower($2)) AND ($3::bigint IS NULL OR a.part_id = $3) ORDER BY p.ipn, m.manufacturer`,
        [input.mpn, input.manufacturer ?? null, part?.id ?? null],
      )
    ).rows;
    const who = `MPN ${input.mpn}${input.manufacturer ? ` (${input.manufacturer})` : ''}`;
    if (rows.length === 0) {
      const others = (await q.query<{ manufacturer: string }>(
        `SELECT DISTINCT m.manufacturer FROM manufacturer_parts m JOIN avl_entries a ON a.manufacturer_part_id = m.id WHERE m.mpn = $1 AND ($2::bigint IS NULL OR a.part_id = $2)`,
        [input.mpn, part?.id ?? null],
      )).rows.map((r) => r.manufacturer);
      const hint = input.manufacturer && others.length ? `; the AVL knows it from ${others.join(', ')} (name the manufacturer to override the label)` : '';
      throw new AppError('MPN_NOT_ON_AVL', `${who} is not on the AVL of ${part ? `part ${part.ipn}` : 'any part'}${hint}`, {
        errors: [{ field: `${fieldPrefix}mpn`, code: 'MPN_NOT_ON_AVL', message: `not on the AVL of ${part ? `part ${part.ipn}` : 'any part'}` }],
      });
    }
    const parts = [...new Set(rows.map((r) => r.ipn))];
    if (parts.length > 1) {
      throw new AppError('PART_AMBIGUOUS', `${who} is on the AVL of parts ${parts.join(', ')}; name the part it is received for`, {
        errors: [{ field: '/ipn', code: 'PART_AMBIGUOUS', message: `one of ${parts.join(', ')}` }],
      });
    }
    const makers = [...new Set(rows.map((r) => r.manufacturer))];
    if (rows.length > 1) {
      throw new AppError('PART_AMBIGUOUS', `${who} is made by ${makers.join(', ')} on the AVL of part ${parts[0]}; name the manufacturer`, {
        errors: [{ field: '/manufacturer', code: 'PART_AMBIGUOUS', message: `one of ${makers.join(', ')}` }],
      });
    }
    const r = rows[0]!;
    return { partId: r.partId, ipn: r.ipn, manufacturerPartId: r.mpId, manufacturer: r.manufacturer };
  }

  async function receiveIn(tx: Tx, who: Principal, input: ReceiveInput, label: ReelLabel | null, fieldPrefix: string): Promise<ReceiveResult> {
    const now = clock();
    const src = await resolveSource(tx, input, fieldPrefix);
    if (input.supplierSerial) {
      const dup = (await tx.query<{ code: string }>(
        `SELECT pk.code FROM material_packages pk JOIN material_lots l ON l.id = pk.material_lot_id WHERE pk.supplier_serial = $1 AND l.manufacturer_part_id = $2 LIMIT 1`,
        [input.supplierSerial, src.manufacturerPartId],
      )).rows[0];
      if (dup) {
        throw new AppError('DUPLICATE', `This package (supplier serial ${input.supplierSerial}, ${input.mpn}) was already received as ${dup.code}`, {
          errors: [{ field: `${fieldPrefix}3S`, code: 'duplicate', message: `already received as ${dup.code}` }],
        });
      }
    }
    const lotValues = [
      src.partId, src.manufacturerPartId, input.supplier ?? null, input.lotCode ?? null, input.dateCode ?? null, now, input.expiresAt ?? null, input.rohs ?? null,
      input.countryOfOrigin ?? null, input.notes ?? '', input.mslLevel ?? null, input.mslTimeOnLabelHours ?? null, who.name,
    ];
    const insertLot = `INSERT INTO material_lots (part_id, manufacturer_part_id, supplier, lot_code, date_code, received_at, expires_at, rohs, country_of_origin, notes,
                                               msl_level, msl_time_on_label_hours, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`;
    let lotId: number;
    let lotCreated = true;
    if (input.lotCode) {
      const ins = await tx.query<{ id: number }>(
        `${insertLot} ON CONFLICT (part_id, manufacturer_part_id, lot_code, (COALESCE(date_code, ''))) WHERE lot_code IS NOT NULL DO NOTHING RETURNING id`,
        lotValues,
      );
      if (ins.rows[0]) {
        lotId = ins.rows[0].id;
      } else {
        lotCreated = false;
        const found = await tx.query<{ id: number }>(
          `SELECT id FROM material_lots WHERE part_id = $1 AND manufacturer_part_id = $2 AND lot_code = $3 AND COALESCE(date_code, '') = COALESCE($4, '') FOR UPDATE`,
          [src.partId, src.manufacturerPartId, input.lotCode, input.dateCode ?? null],
        );
        lotId = found.rows[0]!.id;
        // A later receipt may know what the first did not (expiry, RoHS, supplier); it never overwrites.
        await tx.query(
          `UPDATE material_lots SET expires_at = COALESCE(expires_at, $2), rohs = COALESCE(rohs, $3), supplier = COALESCE(supplier, $4),
             country_of_origin = COALESCE(country_of_origin, $5) WHERE id = $1`,
          [lotId, input.expiresAt ?? null, input.rohs ?? null, input.supplier ?? null, input.countryOfOrigin ?? null],
        );
      }
    } else {
      lotId = (await tx.query<{ id: number }>(`${insertLot} RETURNING id`, lotValues)).rows[0]!.id;
    }
    const code = input.code ?? `PK${String((await tx.query<{ n: number }>(`SELECT nextval('material_package_code_seq') AS n`)).rows[0]!.n).padStart(8, '0')}`;
    const loc = input.location ?? { kind: 'store' as const, place: null };
    const pk = await tx.query<{ id: number }>(
      `INSERT INTO material_packages (code, material_lot_id, kind, quantity, initial_quantity, status, status_reason, location_kind, store_place, line_id,
                                      supplier_serial, source_label, received_at, created_by)
       VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
      [
        code, lotId, input.kind ?? 'reel', input.quantity, input.quarantine ? 'quarantined' : 'available', input.quarantine ? 'received into quarantine' : null,
        loc.kind, loc.kind === 'store' ? loc.place ?? null : null, loc.kind === 'line' ? loc.lineId : null, input.supplierSerial ?? null,
        label ? JSON.stringify(label) : null, now, who.name,
      ],
    );
    const id = pk.rows[0]!.id;
    if ((input.kind ?? 'reel') === 'paste-jar') {
      await tx.query('INSERT INTO paste_jars (package_id, min_thaw_hours, max_open_hours) VALUES ($1, $2, $3)', [
        id, input.paste?.minThawHours ?? pasteDefaults.minThawHours, input.paste?.maxOpenHours ?? pasteDefaults.maxOpenHours,
      ]);
    }
    await store.logMovement(tx, who, id, { kind: 'received', delta: input.quantity, reason: label ? 'received by label scan' : 'received', at: now });
    const pkg = await store.get(tx, id, now);
    const lot = await getLot(lotId, tx);
    await recordAudit(tx, who, { action: 'receive', entity: 'material_package', entityId: id, after: { package: pkg, lotId, lotCreated } });
    return { package: pkg, lot, lotCreated, label };
  }

  /** Receives one package from explicit fields (manual receiving, ERP goods receipt). */
  async function receive(who: Principal, input: ReceiveInput, q?: Queryable): Promise<ReceiveResult> {
    return inTx(db, q, (tx) => receiveIn(tx, who, input, null, '/'));
  }

  /**
   * Receives one package by the manufacturer's 2D label (EIGP 114): MPN, quantity, lot, date code,
   * manufacturer and supplier serial come from the scan. A label the parser does not accept is
   * refused with the parser's code and sentence (422), never guessed.
   */
  async function receiveByLabel(who: Principal, input: ReceiveByLabelInput, q?: Queryable): Promise<ReceiveResult> {
    const parsed = parseEigp114(input.scan);
    if (!parsed.ok) {
      throw new AppError(parsed.code, parsed.message, {
        errors: [{ field: parsed.field ? `/scan/${parsed.field}` : '/scan', code: parsed.code, message: parsed.message }],
        details: parsed.field ? { dataIdentifier: parsed.field } : undefined,
      });
    }
    const l = parsed.label;
    const { scan: _scan, ...rest } = input;
    return inTx(db, q, (tx) =>
      receiveIn(
        tx,
        who,
        {
          ...rest,
          manufacturer: input.manufacturer ?? l.manufacturer,
          mpn: l.mpn,
          quantity: l.quantity,
          lotCode: l.lotCode,
          dateCode: l.dateCode?.raw ?? null,
          countryOfOrigin: l.countryOfOrigin,
          supplierSerial: l.packageSerial,
        },
        l,
        '/scan/',
      ),
    );
  }

  /**
   * What receiving this label scan would do, without receiving anything: the receiving path runs
   * in a transaction that is then rolled back, so the preview is exactly what receiving answers
   * (parsed fields, part by AVL, lot reused or new, or the refusal with its code). The package ID
   * shown is not reserved.
   */
  async function previewLabel(who: Principal, input: ReceiveByLabelInput): Promise<ReceiveResult> {
    let out: ReceiveResult | undefined;
    try {
      await db.tx(async (tx) => {
        out = await receiveByLabel(who, input, tx);
        throw new PreviewRollback();
      });
    } catch (e) {
      if (!(e instanceof PreviewRollback)) throw e;
    }
    return out!;
  }

  // ---------------------------------------------------------------- packages

  async function getPackage(id: number): Promise<MaterialPackage> {
    return store.get(db, id);
  }

  async function getPackageByCode(code: string): Promise<MaterialPackage> {
    const r = await store.rowByCode(db, code);
    if (!r) throw notFound('package', code);
    return (await store.views(db, [r]))[0]!;
  }

  /**
   * Packages, newest first. `q` searches the package ID (prefix) and the IPN / MPN (anywhere in
   * them), case-insensitive; `msdState` keeps packages whose moisture state (computed now) is one
   * of those given: the database narrows to moisture-sensitive packages first, the states are
   * then computed for those and the limit applied after.
   */
  async function listPackages(
    f: {
      code?: string; partId?: number; ipn?: string; lotId?: number; status?: PackageStatus; locationKind?: LocationKind; lineId?: number; equipmentId?: number;
      includeFinished?: boolean; q?: string; kind?: PackageKind; msdState?: readonly string[]; limit?: number;
    } = {},
  ): Promise<MaterialPackage[]> {
    const limit = Math.min(f.limit ?? 200, 2000);
    const msd = f.msdState?.length ? new Set(f.msdState) : null;
    // Level-1 parts are only ever 'not-sensitive' or 'expired': skip them unless those are asked for.
    const sensitiveOnly = msd !== null && !msd.has('not-sensitive') && !msd.has('expired');
    const q = f.q?.trim() ? f.q.trim().toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`) : null;
    const rows = (
      await db.query<PackageRow>(
        `${PACKAGE_SELECT} WHERE ($1::text IS NULL OR pk.code = $1) AND ($2::bigint IS NULL OR l.part_id = $2) AND ($3::text IS NULL OR p.ipn = $3)
           AND ($4::bigint IS NULL OR pk.material_lot_id = $4) AND ($5::text IS NULL OR pk.status = $5) AND ($6::text IS NULL OR pk.location_kind = $6)
           AND ($7::bigint IS NULL OR pk.line_id = $7) AND ($8::bigint IS NULL OR pk.equipment_id = $8)
           AND ($9::boolean OR $5::text IS NOT NULL OR $1::text IS NOT NULL OR pk.status NOT IN ('empty','scrapped'))
           AND ($11::text IS NULL OR pk.id IN (
                 SELECT x.id FROM material_packages x WHERE lower(x.code) LIKE $11 || '%'
                 UNION ALL
                 SELECT x.id FROM material_lots l2 JOIN material_packages x ON x.material_lot_id = l2.id
                  WHERE l2.part_id IN (SELECT id FROM parts WHERE lower(ipn) LIKE '%' || $11 || '%')
                     OR l2.manufacturer_part_id IN (SELECT id FROM manufacturer_parts WHERE lower(mpn) LIKE '%' || $11 || '%')))
           AND ($12::text IS NULL OR pk.kind = $12)
           AND (NOT $13::boolean OR COALESCE(l.msl_level, p.msl_level) <> '1')
         ORDER BY pk.id DESC LIMIT $10`,
        [
          f.code ?? null, f.partId ?? null, f.ipn ?? null, f.lotId ?? null, f.status ?? null, f.locationKind ?? null, f.lineId ?? null, f.equipmentId ?? null,
          f.includeFinished ?? false, msd ? 20_000 : limit, q, f.kind ?? null, sensitiveOnly,
        ],
      )
    ).rows;
    const views = await store.views(db, rows);
    return msd ? views.filter((p) => msd.has(p.msd.state)).slice(0, limit) : views;
  }

  async function movements(packageId: number): Promise<Movement[]> {
    await store.row(db, packageId);
    return (await db.query<Movement>(`${MOVEMENT_SELECT} WHERE package_id = $1 ORDER BY id`, [packageId])).rows;
  }

  function refuseStatus(pkg: PackageRow, allowed: readonly PackageStatus[], what: string): void {
    if (!allowed.includes(pkg.status)) throw new AppError('STATE_CONFLICT', `Package ${pkg.code} is ${pkg.status}; it cannot be ${what}`);
  }

  /** Runs one change of one package: lock, change, audit with before/after. */
  async function change(
    who: Principal, id: number, action: string, fn: (tx: Tx, before: PackageRow) => Promise<void>, reason?: string | null, q?: Queryable,
  ): Promise<MaterialPackage> {
    return inTx(db, q, async (tx) => {
      const beforeRow = await store.row(tx, id, true);
      const before = (await store.views(tx, [beforeRow]))[0]!;
      await fn(tx, beforeRow);
      const after = await store.get(tx, id);
      await recordAudit(tx, who, { action, entity: 'material_package', entityId: id, before, after, reason: reason ?? null });
      return after;
    });
  }

  /** A package that reached zero leaves its machine slot (a waiting splice takes over) and goes to the machine's line. */
  async function leaveMachine(tx: Tx, who: Principal, pkg: PackageRow, reason: 'emptied' | 'scrapped'): Promise<void> {
    await leaveMachines(tx, who, [pkg], reason);
  }

  /** {@link leaveMachine} of several packages in a few statements; setup audit rows go to `audits` when given. */
  async function leaveMachines(tx: Tx, who: Principal, pkgs: readonly PackageRow[], reason: 'emptied' | 'scrapped', audits?: AuditEntry[]): Promise<void> {
    const closed = await setups.endPackageSetupsMany(tx, who, pkgs.map((p) => p.id), reason, clock(), audits);
    const moves = pkgs.flatMap((p) => {
      const machine = p.locationKind === 'equipment' ? p.equipmentId : (closed.get(p.id)?.[0]?.equipmentId ?? null);
      return machine === null ? [] : [{ packageId: p.id, machine }];
    });
    const off = await store.offMachineLocations(tx, moves.map((m) => m.machine));
    await store.setLocations(tx, moves.map((m) => ({ packageId: m.packageId, loc: off.get(m.machine)! })));
  }

  /** Splits `quantity` pieces off into a new package of the same lot, with the same MSD history. */
  async function split(who: Principal, id: number, input: { quantity: number; code?: string; reason?: string }, q?: Queryable): Promise<{ source: MaterialPackage; created: MaterialPackage }> {
    return inTx(db, q, async (tx) => {
      const now = clock();
      const src = await store.row(tx, id, true);
      refuseStatus(src, ['available', 'blocked', 'quarantined'], 'split');
      if (src.locationKind === 'equipment') throw new AppError('STATE_CONFLICT', `Package ${src.code} is loaded on a machine; unload it before splitting`);
      if (!(input.quantity > 0 && input.quantity < src.quantity)) {
        throw new AppError('RULE_VIOLATION', `A split takes between 1 and ${src.quantity - 1} pieces of package ${src.code} (it holds ${src.quantity})`, {
          errors: [{ field: '/quantity', code: 'range', message: `must be 1–${src.quantity - 1}` }],
        });
      }
      const before = (await store.views(tx, [src], now))[0]!;
      const code = input.code ?? `PK${String((await tx.query<{ n: number }>(`SELECT nextval('material_package_code_seq') AS n`)).rows[0]!.n).padStart(8, '0')}`;
      const ins = await tx.query<{ id: number }>(
        `INSERT INTO material_packages (code, material_lot_id, kind, quantity, initial_quantity, status, status_reason, location_kind, store_place, line_id,
                                        parent_package_id, received_at, created_by)
         SELECT $2, material_lot_id, kind, $3, $3, status, status_reason, location_kind, store_place, line_id, id, received_at, $4 FROM material_packages WHERE id = $1
         RETURNING id`,
        [id, code, input.quantity, who.name],
      );
      const childId = ins.rows[0]!.id;
      await tx.query(`UPDATE material_packages SET quantity = quantity - $2 WHERE id = $1`, [id, input.quantity]);
      await tx.query(
        `INSERT INTO paste_jars (package_id, min_thaw_hours, max_open_hours, thaw_started_at, opened_at)
         SELECT $2, min_thaw_hours, max_open_hours, thaw_started_at, opened_at FROM paste_jars WHERE package_id = $1`,
        [id, childId],
      );
      for (const e of (await store.msdEvents(tx, [id])).get(id) ?? []) {
        await store.insertMsdEvent(tx, who, childId, { type: e.type, at: e.at, bakeRecordId: e.bakeRecordId, implicit: e.implicit, copiedFromEventId: e.id, note: `copied from ${src.code} at split` });
      }
      await store.logMovement(tx, who, id, { kind: 'split-out', delta: -input.quantity, relatedPackageId: childId, reason: input.reason ?? null, at: now });
      await store.logMovement(tx, who, childId, { kind: 'split-in', delta: input.quantity, relatedPackageId: id, reason: input.reason ?? null, at: now });
      const source = await store.get(tx, id, now);
      const created = await store.get(tx, childId, now);
      await recordAudit(tx, who, { action: 'split', entity: 'material_package', entityId: id, before, after: { source, created }, reason: input.reason ?? null });
      return { source, created };
    });
  }

  /**
   * Joins packages of one lot into `targetId` (CFX MaterialsJoined): the sources are emptied into
   * it. Refused across lots (the lot is the unit of traceability), for loaded or unusable packages,
   * and for moisture-sensitive packages whose MSD histories differ.
   */
  async function merge(who: Principal, targetId: number, input: { sourceIds: number[]; reason?: string }, q?: Queryable): Promise<MaterialPackage> {
    return inTx(db, q, async (tx) => {
      const now = clock();
      const ids = [...new Set([targetId, ...input.sourceIds])];
      if (ids.length !== input.sourceIds.length + 1) {
        throw validationFailed([{ field: '/sourceIds', code: 'duplicate', message: 'sources must be distinct and differ from the target' }]);
      }
      await tx.query('SELECT 1 FROM material_packages WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE', [ids]);
      const rows = new Map<number, PackageRow>();
      for (const pid of ids) rows.set(pid, await store.row(tx, pid));
      const target = rows.get(targetId)!;
      const events = await store.msdEvents(tx, ids);
      const history = (pid: number) => JSON.stringify((events.get(pid) ?? []).map((e: StoredMsdEvent) => [e.type, e.at.getTime()]));
      const before = (await store.views(tx, [...rows.values()], now));
      for (const r of rows.values()) {
        refuseStatus(r, ['available'], 'merged');
        if (r.locationKind === 'equipment') throw new AppError('STATE_CONFLICT', `Package ${r.code} is loaded on a machine; unload it before merging`);
        if (r.kind === 'paste-jar') throw new AppError('RULE_VIOLATION', 'Paste jars are not merged');
        if (r.lotId !== target.lotId) {
          throw new AppError('RULE_VIOLATION', `Package ${r.code} is of another lot than ${target.code}; only packages of one lot can be merged`, {
            errors: [{ field: '/sourceIds', code: 'other_lot', message: `${r.code} is of lot ${r.lotCode ?? r.lotId}` }],
          });
        }
        if (r.kind !== target.kind) throw new AppError('RULE_VIOLATION', `Package ${r.code} is a ${r.kind}, ${target.code} a ${target.kind}`);
        if (r.mslLevel !== '1' && history(r.id) !== history(targetId)) {
          throw new AppError('RULE_VIOLATION', `Packages ${r.code} and ${target.code} have different moisture exposure histories and cannot be merged`, {
            errors: [{ field: '/sourceIds', code: 'msd_history_differs', message: `${r.code} has another MSD history` }],
          });
        }
      }
      for (const sid of input.sourceIds) {
        const s = rows.get(sid)!;
        await tx.query(`UPDATE material_packages SET quantity = 0, status = 'empty', status_reason = $2 WHERE id = $1`, [sid, `merged into ${target.code}`]);
        await store.logMovement(tx, who, sid, { kind: 'merge-out', delta: -s.quantity, relatedPackageId: targetId, reason: input.reason ?? null, at: now });
        await tx.query(`UPDATE material_packages SET quantity = quantity + $2 WHERE id = $1`, [targetId, s.quantity]);
        await store.logMovement(tx, who, targetId, { kind: 'merge-in', delta: s.quantity, relatedPackageId: sid, reason: input.reason ?? null, at: now });
      }
      const after = await store.get(tx, targetId, now);
      await recordAudit(tx, who, { action: 'merge', entity: 'material_package', entityId: targetId, before, after, reason: input.reason ?? null });
      return after;
    });
  }

  /** Sets the counted quantity, with the reason in the log; zero empties the package, more than zero revives an empty one. */
  async function correctQuantity(who: Principal, id: number, input: { quantity: number; reason: string }, q?: Queryable): Promise<MaterialPackage> {
    if (input.reason.trim().length < 3) throw validationFailed([{ field: '/reason', code: 'required', message: 'a correction needs a reason' }]);
    return change(who, id, 'correct_quantity', async (tx, p) => {
      refuseStatus(p, ['available', 'in-use', 'blocked', 'quarantined', 'empty'], 'corrected');
      const delta = input.quantity - p.quantity;
      if (delta === 0) throw new AppError('STATE_CONFLICT', `Package ${p.code} already holds ${p.quantity}; nothing to correct`);
      const status: PackageStatus = input.quantity === 0 ? 'empty' : p.status === 'empty' ? 'available' : p.status;
      await tx.query('UPDATE material_packages SET quantity = $2, status = $3 WHERE id = $1', [id, input.quantity, status]);
      if (status === 'empty' && p.status !== 'empty') await leaveMachine(tx, who, p, 'emptied');
      await store.logMovement(tx, who, id, { kind: 'corrected', delta, reason: input.reason });
    }, input.reason, q);
  }

  /** Books consumption (e.g. per work order); reaching zero empties the package. */
  async function consume(who: Principal, id: number, input: { quantity: number; workOrderId?: number | null; reason?: string | null }, q?: Queryable): Promise<MaterialPackage> {
    return change(who, id, 'consume', async (tx, p) => {
      refuseStatus(p, ['available', 'in-use', 'blocked', 'quarantined'], 'consumed from');
      if (input.quantity > p.quantity) {
        throw new AppError('RULE_VIOLATION', `Package ${p.code} holds ${p.quantity}; ${input.quantity} cannot be consumed (correct the count first)`, {
          errors: [{ field: '/quantity', code: 'range', message: `at most ${p.quantity}` }],
        });
      }
      const left = p.quantity - input.quantity;
      // Status is written only when it changes: a booking that leaves stock does not move the interlock data epoch.
      if (left === 0) await tx.query(`UPDATE material_packages SET quantity = 0, status = 'empty' WHERE id = $1`, [id]);
      else await tx.query('UPDATE material_packages SET quantity = $2 WHERE id = $1', [id, left]);
      if (left === 0) await leaveMachine(tx, who, p, 'emptied');
      await store.logMovement(tx, who, id, { kind: 'consumed', delta: -input.quantity, workOrderId: input.workOrderId ?? null, reason: input.reason ?? null });
    }, input.reason ?? null, q);
  }

  /** The package is used up (or found empty): the rest is written off; it leaves its slot, a splice takes over. */
  async function markEmpty(who: Principal, id: number, input: { reason?: string | null } = {}, q?: Queryable): Promise<MaterialPackage> {
    const r = (await markEmptyMany(who, [{ id, reason: input.reason ?? null }], q))[0]!;
    if (!r.ok) throw r.error;
    return r.package;
  }

  /**
   * {@link markEmpty} of several packages in a few statements: results in the order given; a
   * package that cannot be marked empty (unknown, already empty, scrapped) is refused alone and
   * changes nothing, the others are applied.
   */
  async function markEmptyMany(who: Principal, items: readonly { id: number; reason?: string | null }[], q?: Queryable): Promise<EmptyResult[]> {
    if (items.length === 0) return [];
    return inTx(db, q, async (tx) => {
      const rows = new Map(
        (await tx.query<PackageRow>(`${PACKAGE_SELECT} WHERE pk.id = ANY($1::bigint[]) ORDER BY pk.id FOR NO KEY UPDATE OF pk`, [[...new Set(items.map((i) => i.id))]])).rows.map((r) => [r.id, r]),
      );
      const events = await store.msdEvents(tx, [...rows.keys()]);
      const out: (EmptyResult | null)[] = [];
      const doing: { k: number; row: PackageRow; reason: string | null }[] = [];
      const done = new Set<number>();
      for (const it of items) {
        const row = rows.get(it.id);
        if (!row) {
          out.push({ ok: false, error: notFound('package', it.id) });
          continue;
        }
        try {
          // Named twice: the second finds it empty, as one call after the other would.
          refuseStatus(done.has(row.id) ? { ...row, status: 'empty' } : row, ['available', 'in-use', 'blocked', 'quarantined'], 'marked empty');
        } catch (e) {
          if (!(e instanceof AppError)) throw e;
          out.push({ ok: false, error: e });
          continue;
        }
        done.add(row.id);
        doing.push({ k: out.length, row, reason: it.reason ?? null });
        out.push(null);
      }
      if (doing.length) {
        const ids = doing.map((d) => d.row.id);
        const audits: AuditEntry[] = [];
        await tx.query(`UPDATE material_packages SET quantity = 0, status = 'empty' WHERE id = ANY($1::bigint[])`, [ids]);
        await leaveMachines(tx, who, doing.map((d) => d.row), 'emptied', audits);
        await store.logMovements(tx, who, doing.map((d) => ({ packageId: d.row.id, kind: 'emptied' as const, delta: -d.row.quantity, reason: d.reason })));
        const now = clock();
        const after = new Map((await tx.query<PackageRow>(`${PACKAGE_SELECT} WHERE pk.id = ANY($1::bigint[])`, [ids])).rows.map((r) => [r.id, r]));
        for (const d of doing) {
          const before = store.toView(d.row, events.get(d.row.id) ?? [], now);
          const pkg = store.toView(after.get(d.row.id)!, events.get(d.row.id) ?? [], now);
          audits.push({ action: 'empty', entity: 'material_package', entityId: d.row.id, before, after: pkg, reason: d.reason });
          out[d.k] = { ok: true, package: pkg };
        }
        await recordAudits(tx, who, audits);
      }
      return out as EmptyResult[];
    });
  }

  /**
   * What a splice detected at a machine needs, for several splices in a few statements: each
   * depleted package is marked empty (it leaves its slot; a package spliced onto it takes over),
   * then each new package not already set up on that machine is verified for the slot against the
   * program and loaded (`verifyLoads`). Results in the order given, each splice on its own. A
   * refused load (a wrong part spliced on) changes nothing of the new package but its recorded
   * load attempt; the depleted package is emptied all the same, since the machine reported it ran
   * out: the slot is then left without a verified reel, and the setup rules of the interlock stop
   * the machine's units until a correct one is loaded (never the old reel's verification
   * standing for the new one). Unknown packages change nothing. The same operations as
   * `markEmpty` and `verifyLoad` (which are these with one item).
   */
  async function splices(who: Principal, items: readonly SpliceInput[], q?: Queryable): Promise<SpliceResult[]> {
    if (items.length === 0) return [];
    return inTx(db, q, async (tx) => {
      const codes = [...new Set(items.flatMap((i) => [i.depletedCode, i.newCode]))];
      const known = new Map(
        (await tx.query<{ id: number; code: string; status: PackageStatus }>(`SELECT id, code, status FROM material_packages WHERE code = ANY($1::text[])`, [codes])).rows.map((r) => [r.code, r]),
      );
      const results: SpliceResult[] = items.map((input) => ({ input, depleted: { outcome: 'unknown' }, load: { outcome: 'unknown' } }));
      // 1. The depleted packages empty.
      const emptying: number[] = [];
      for (const [k, it] of items.entries()) {
        const p = known.get(it.depletedCode);
        if (!p) continue;
        if (p.status === 'empty') results[k]!.depleted = { outcome: 'already-empty' };
        else emptying.push(k);
      }
      const emptied = await markEmptyMany(who, emptying.map((k) => ({ id: known.get(items[k]!.depletedCode)!.id, reason: items[k]!.reason ?? null })), tx);
      for (const [n, k] of emptying.entries()) {
        const r = emptied[n]!;
        results[k]!.depleted = r.ok ? { outcome: 'emptied', package: r.package } : { outcome: 'refused', error: r.error };
      }
      // 2. The new packages not yet on the machine are verified for the slot and loaded.
      const candidates = items.flatMap((it, k) => (known.has(it.newCode) ? [k] : []));
      const active = new Set(
        candidates.length
          ? (
              await tx.query<{ k: number }>(
                `SELECT x.k FROM unnest($1::int[], $2::bigint[], $3::bigint[]) AS x(k, pkg, e)
                  WHERE EXISTS (SELECT 1 FROM feeder_setups f WHERE f.package_id = x.pkg AND f.equipment_id = x.e AND f.unloaded_at IS NULL)`,
                [candidates, candidates.map((k) => known.get(items[k]!.newCode)!.id), candidates.map((k) => items[k]!.equipmentId)],
              )
            ).rows.map((r) => r.k)
          : [],
      );
      const loads: number[] = [];
      for (const k of candidates) {
        if (active.has(k)) results[k]!.load = { outcome: 'already-active' };
        else if (items[k]!.programId === null) results[k]!.load = { outcome: 'no-program' };
        else loads.push(k);
      }
      const verdicts = await setups.verifyLoads(
        who,
        loads.map((k) => {
          const it = items[k]!;
          return { equipmentId: it.equipmentId, slot: it.slot, feederId: it.feederId ?? null, packageCode: it.newCode, programId: it.programId!, workOrderId: it.workOrderId, splice: false };
        }),
        tx,
      );
      for (const [n, k] of loads.entries()) results[k]!.load = { outcome: 'verified', verdict: verdicts[n]! };
      return results;
    });
  }

  async function setStatus(who: Principal, id: number, target: 'blocked' | 'quarantined', reason: string, q?: Queryable): Promise<MaterialPackage> {
    return change(who, id, target === 'blocked' ? 'block' : 'quarantine', async (tx, p) => {
      refuseStatus(p, target === 'blocked' ? ['available', 'in-use', 'quarantined'] : ['available', 'in-use', 'blocked'], target);
      await tx.query('UPDATE material_packages SET status = $2, status_reason = $3 WHERE id = $1', [id, target, reason]);
      await store.logMovement(tx, who, id, { kind: 'status', reason });
    }, reason, q);
  }

  /** Ends a block or quarantine: back to in-use when still loaded, else available. */
  async function release(who: Principal, id: number, reason: string, q?: Queryable): Promise<MaterialPackage> {
    return change(who, id, 'release', async (tx, p) => {
      refuseStatus(p, ['blocked', 'quarantined'], 'released');
      const loaded = await tx.query('SELECT 1 FROM feeder_setups WHERE package_id = $1 AND unloaded_at IS NULL', [id]);
      await tx.query('UPDATE material_packages SET status = $2, status_reason = NULL WHERE id = $1', [id, loaded.rowCount ? 'in-use' : 'available']);
      await store.logMovement(tx, who, id, { kind: 'status', reason });
    }, reason, q);
  }

  async function scrap(who: Principal, id: number, reason: string, q?: Queryable): Promise<MaterialPackage> {
    return change(who, id, 'scrap', async (tx, p) => {
      refuseStatus(p, ['available', 'in-use', 'blocked', 'quarantined', 'empty'], 'scrapped');
      await tx.query(`UPDATE material_packages SET quantity = 0, status = 'scrapped', status_reason = $2 WHERE id = $1`, [id, reason]);
      await leaveMachine(tx, who, p, 'scrapped');
      await store.logMovement(tx, who, id, { kind: 'scrapped', delta: -p.quantity, reason });
    }, reason, q);
  }

  /** Moves a package between stores and lines; machine slots are reached only through a verified load. */
  async function move(who: Principal, id: number, input: { location: LocationInput; reason?: string | null }, q?: Queryable): Promise<MaterialPackage> {
    return change(who, id, 'move', async (tx, p) => {
      if (p.locationKind === 'equipment') throw new AppError('STATE_CONFLICT', `Package ${p.code} is loaded on ${p.equipmentCode} slot ${p.slot}; unload it first`);
      refuseStatus(p, ['available', 'blocked', 'quarantined', 'empty'], 'moved');
      await store.setLocation(tx, id, input.location);
      await store.logMovement(tx, who, id, { kind: 'moved', reason: input.reason ?? null });
    }, input.reason ?? null, q);
  }

  // ---------------------------------------------------------------- MSD

  async function msd(packageId: number, at?: Date) {
    const when = at ?? clock();
    const row = await store.row(db, packageId);
    const events = (await store.msdEvents(db, [packageId])).get(packageId) ?? [];
    return { packageId, packageCode: row.code, status: store.msdOf(row, events, when), events };
  }

  /** Validates a new event against the history (J-STD-033 state machine) before it is stored. */
  function checkMsdAppend(row: PackageRow, events: readonly StoredMsdEvent[], type: MslEventType, at: Date, now: Date): void {
    if (at.getTime() > now.getTime()) {
      throw new AppError('MSL_EVENT_AFTER_NOW', `The event time ${at.toISOString()} is later than now`, { errors: [{ field: '/at', code: 'MSL_EVENT_AFTER_NOW', message: 'is in the future' }] });
    }
    const options: MslOptions = { ...mslOptions };
    if (row.mslTimeOnLabelHours !== null) options.timeOnLabelMs = row.mslTimeOnLabelHours * HOUR_MS;
    try {
      mslStatus(row.mslLevel, [...events, { type, at }], now, options);
    } catch (e) {
      if (e instanceof MslError) throw mslAppError(e);
      throw e;
    }
  }

  /** Records an MSD event (opened, dry storage in/out, resealed, expired) at `at` (default now). */
  async function recordMsdEvent(who: Principal, packageId: number, input: { type: ManualMsdEvent; at?: Date; note?: string }, q?: Queryable): Promise<MaterialPackage> {
    return change(who, packageId, `msd_${input.type}`, async (tx, p) => {
      refuseStatus(p, ['available', 'in-use', 'blocked', 'quarantined'], `given MSD event ${input.type}`);
      const now = clock();
      const at = input.at ?? now;
      checkMsdAppend(p, (await store.msdEvents(tx, [packageId])).get(packageId) ?? [], input.type, at, now);
      await store.insertMsdEvent(tx, who, packageId, { type: input.type, at, note: input.note ?? '' });
    }, input.note ?? null, q);
  }

  /** Records one oven run for one or more packages: each gets a `baked` event (floor life reset). */
  async function bake(
    who: Principal,
    input: { packageIds: number[]; oven: string; temperatureC: number; durationMinutes: number; finishedAt?: Date; notes?: string },
    q?: Queryable,
  ): Promise<{ bake: BakeRecord; packages: MaterialPackage[] }> {
    return inTx(db, q, async (tx) => {
      const now = clock();
      const finishedAt = input.finishedAt ?? now;
      const ids = [...new Set(input.packageIds)];
      await tx.query('SELECT 1 FROM material_packages WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE', [ids]);
      const rows: PackageRow[] = [];
      for (const id of ids) rows.push(await store.row(tx, id));
      const events = await store.msdEvents(tx, ids);
      for (const r of rows) {
        refuseStatus(r, ['available', 'blocked', 'quarantined'], 'baked');
        if (r.locationKind === 'equipment') throw new AppError('STATE_CONFLICT', `Package ${r.code} is loaded on a machine; unload it before baking`);
        checkMsdAppend(r, events.get(r.id) ?? [], 'baked', finishedAt, now);
      }
      const b = await tx.query<{ id: number }>(
        `INSERT INTO bake_records (oven, temperature_c, duration_minutes, started_at, finished_at, notes, actor_kind, actor_id, actor_name)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
        [input.oven, input.temperatureC, input.durationMinutes, new Date(finishedAt.getTime() - input.durationMinutes * 60_000), finishedAt, input.notes ?? '', who.kind, who.id, who.name],
      );
      const bakeRec = (await tx.query<BakeRecord>(`${BAKE_SELECT} WHERE id = $1`, [b.rows[0]!.id])).rows[0]!;
      for (const r of rows) await store.insertMsdEvent(tx, who, r.id, { type: 'baked', at: finishedAt, bakeRecordId: bakeRec.id, note: `${input.oven} ${input.temperatureC} °C ${input.durationMinutes} min` });
      const packages = await store.views(tx, await Promise.all(ids.map((id) => store.row(tx, id))), now);
      await recordAudit(tx, who, { action: 'bake', entity: 'bake_record', entityId: bakeRec.id, after: { bake: bakeRec, packages: rows.map((r) => r.code) } });
      return { bake: bakeRec, packages };
    });
  }

  async function getBake(id: number): Promise<BakeRecord> {
    const r = await db.query<BakeRecord>(`${BAKE_SELECT} WHERE id = $1`, [id]);
    if (!r.rows[0]) throw notFound('bake record', id);
    return r.rows[0];
  }

  // ---------------------------------------------------------------- stock and warnings

  /** Pieces per part and location (store place, line, machine), from packages that are not empty or scrapped. */
  async function stock(f: { partId?: number; ipn?: string; locationKind?: LocationKind; lineId?: number; q?: string } = {}): Promise<StockRow[]> {
    const q = f.q?.trim() ? f.q.trim().toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`) : null;
    const r = await db.query<StockRow & { locationKind: LocationKind; storePlace: string | null; lineId: number | null; lineCode: string | null; equipmentId: number | null; equipmentCode: string | null }>(
      `SELECT l.part_id AS "partId", p.ipn, pk.location_kind AS "locationKind", pk.store_place AS "storePlace", pk.line_id AS "lineId", ln.code AS "lineCode",
              pk.equipment_id AS "equipmentId", e.code AS "equipmentCode", count(*)::int AS packages,
              COALESCE(sum(pk.quantity) FILTER (WHERE pk.status IN ('available','in-use')), 0)::int AS "usableQuantity",
              COALESCE(sum(pk.quantity) FILTER (WHERE pk.status IN ('blocked','quarantined')), 0)::int AS "blockedQuantity"
         FROM ${PACKAGE_FROM}
        WHERE pk.status NOT IN ('empty','scrapped') AND ($1::bigint IS NULL OR l.part_id = $1) AND ($2::text IS NULL OR p.ipn = $2)
          AND ($3::text IS NULL OR pk.location_kind = $3) AND ($4::bigint IS NULL OR pk.line_id = $4 OR e.station_id IN (SELECT id FROM stations WHERE line_id = $4))
          AND ($5::text IS NULL OR l.part_id IN (SELECT id FROM parts WHERE lower(ipn) LIKE '%' || $5 || '%'))
        GROUP BY l.part_id, p.ipn, pk.location_kind, pk.store_place, pk.line_id, ln.code, pk.equipment_id, e.code
        ORDER BY p.ipn, pk.location_kind DESC, pk.store_place NULLS FIRST, ln.code, e.code`,
      [f.partId ?? null, f.ipn ?? null, f.locationKind ?? null, f.lineId ?? null, q],
    );
    return r.rows.map(({ locationKind, storePlace, lineId, lineCode, equipmentId, equipmentCode, ...rest }) => ({
      ...rest, location: { kind: locationKind, place: storePlace, lineId, lineCode, equipmentId, equipmentCode },
    }));
  }

  /**
   * Packages whose moisture floor life or lot expires within the threshold (or already has),
   * soonest first. Only packages with an MSD history count for floor life: sealed dry packs in
   * stock (including unbaked MSL 6) are not expiring. Thresholds: `withinMs`, else the MSL warning threshold (default 8 h) for floor
   * life and `lotExpiryWarningMs` (default 7 days) for lot expiry.
   */
  async function warnings(f: { withinMs?: number } = {}): Promise<MaterialWarning[]> {
    const now = clock();
    const mslWithin = f.withinMs ?? mslOptions.warnThresholdMs ?? 8 * HOUR_MS;
    const lotWithin = f.withinMs ?? lotWarnMs;
    const rows = (
      await db.query<PackageRow>(
        `${PACKAGE_SELECT} WHERE pk.status NOT IN ('empty','scrapped')
           AND ((COALESCE(l.msl_level, p.msl_level) <> '1' AND EXISTS (SELECT 1 FROM msd_events x WHERE x.package_id = pk.id))
                OR l.expires_at <= $1)
         ORDER BY pk.id`,
        [new Date(now.getTime() + lotWithin)],
      )
    ).rows;
    const out: MaterialWarning[] = [];
    for (const p of await store.views(db, rows, now)) {
      const base = { packageId: p.id, packageCode: p.code, ipn: p.ipn, mpn: p.mpn, status: p.status, location: p.location };
      const s = p.msd;
      if (s.state === 'expired' || s.state === 'unknown') {
        out.push({ ...base, kind: 'msd-expired', at: null, remainingMs: 0, message: `Package ${p.code}: MSL ${s.level} floor life ${s.state === 'expired' ? 'has run out' : 'is unknown'}; bake before use` });
      } else if (s.state === 'bake-required') {
        out.push({ ...base, kind: 'msd-bake-required', at: null, remainingMs: 0, message: `Package ${p.code} (MSL ${s.level}) must be baked before use` });
      } else if (s.remainingMs !== null && s.state !== 'never-opened' && s.remainingMs < mslWithin) {
        out.push({
          ...base, kind: 'msd-expiring', at: s.expiresAt, remainingMs: s.remainingMs,
          message: `Package ${p.code}: ${(s.remainingMs / HOUR_MS).toFixed(1)} h of MSL ${s.level} floor life left${s.expiresAt ? `, expires ${s.expiresAt.toISOString()}` : ' (clock paused)'}`,
        });
      }
      if (p.lotExpiresAt && p.lotExpiresAt.getTime() <= now.getTime() + lotWithin) {
        const expired = p.lotExpiresAt.getTime() <= now.getTime();
        out.push({
          ...base, kind: expired ? 'lot-expired' : 'lot-expiring', at: p.lotExpiresAt, remainingMs: Math.max(0, p.lotExpiresAt.getTime() - now.getTime()),
          message: `Package ${p.code}: lot ${p.lotCode ?? `#${p.lotId}`} ${expired ? 'expired' : 'expires'} ${p.lotExpiresAt.toISOString()}`,
        });
      }
    }
    const key = (w: MaterialWarning) => (w.at ? w.at.getTime() : now.getTime());
    return out.sort((a, b) => key(a) - key(b) || a.packageId - b.packageId);
  }

  // ---------------------------------------------------------------- labels

  function labelData(p: MaterialPackage): PackageLabelData {
    return { packageId: p.code, ipn: p.ipn, mpn: p.mpn, quantity: p.quantity, lotCode: p.lotCode, dateCode: p.dateCode, mslLevel: p.msd.level, receivedAt: p.receivedAt };
  }

  function labelError(e: unknown): unknown {
    if (e instanceof PackageLabelError) return new AppError('PACKAGE_LABEL_INVALID', e.message, { errors: [{ field: `/${e.field}`, code: e.code, message: e.message }] });
    return e;
  }

  /** The MES package label: ZPL (Zebra), PNG (Data Matrix only) or PDF. */
  async function label(id: number, format: 'zpl' | 'png' | 'pdf'): Promise<{ contentType: string; filename: string; body: string | Buffer }> {
    const p = await getPackage(id);
    try {
      if (format === 'zpl') return { contentType: 'application/zpl; charset=utf-8', filename: `${p.code}.zpl`, body: packageLabelZpl(labelData(p)) };
      if (format === 'png') return { contentType: 'image/png', filename: `${p.code}.png`, body: await packageLabelPng(labelData(p)) };
      return { contentType: 'application/pdf', filename: `${p.code}.pdf`, body: await packageLabelPdf(labelData(p)) };
    } catch (e) {
      throw labelError(e);
    }
  }

  /** Sends the ZPL label to a network printer (raw port, 9100 by default). */
  async function printLabel(who: Principal, id: number, input: { host: string; port?: number; timeoutMs?: number }): Promise<{ bytesWritten: number; printer: string }> {
    const p = await getPackage(id);
    let zpl: string;
    try {
      zpl = packageLabelZpl(labelData(p));
    } catch (e) {
      throw labelError(e);
    }
    const port = input.port ?? 9100;
    try {
      const r = await sendZplToPrinter(input.host, port, zpl, input.timeoutMs ?? 10_000);
      await db.tx((tx) => recordAudit(tx, who, { action: 'print_label', entity: 'material_package', entityId: id, after: { printer: `${input.host}:${port}`, bytes: r.bytesWritten } }));
      return { bytesWritten: r.bytesWritten, printer: `${input.host}:${port}` };
    } catch (e) {
      if (e instanceof PrinterError) {
        if (e.code === 'PRINTER_ARGUMENT_INVALID') throw validationFailed([{ field: '/host', code: 'invalid', message: e.message }], e.message);
        throw new AppError(e.code, e.message);
      }
      throw e;
    }
  }

  return {
    // lots
    getLot, listLots, updateLot, holdLot, releaseLotHold,
    // receiving and packages
    receive, receiveByLabel, previewLabel, getPackage, getPackageByCode, listPackages, movements,
    split, merge, correctQuantity, consume, markEmpty, markEmptyMany, splices,
    block: (who: Principal, id: number, reason: string, q?: Queryable) => setStatus(who, id, 'blocked', reason, q),
    quarantine: (who: Principal, id: number, reason: string, q?: Queryable) => setStatus(who, id, 'quarantined', reason, q), release, scrap, move,
    // MSD
    msd, recordMsdEvent, bake, getBake,
    // stock, warnings, labels
    stock, warnings, label, printLabel,
    // feeder setups
    verifyLoad: setups.verifyLoad, verifyLoads: setups.verifyLoads, unload: setups.unload, setupStatus: setups.setupStatus, candidatesAt: setups.candidatesAt,
    listSetups: setups.listSetups, listAttempts: setups.listAttempts, getSetup: setups.getSetup,
    // paste and stencils
    ...consumables,
    // material-to-board traceability (M3 installs, M2 derived), where-used, usage log
    recordInstalls: trace.recordInstalls, recordUninstalls: trace.recordUninstalls, recordApplied: trace.recordApplied, listInstalls: trace.listInstalls,
    unitMaterials: trace.unitMaterials, materialWhereUsed: trace.materialWhereUsed, usageLog: trace.usageLog,
    // shortage warning against open work orders
    shortages: shortage.shortages,
    /** The clock this service judges by (for callers that record in the same time base). */
    now: clock,
    /** What the setup interlock rules need (see registerMaterialsInterlockRules). */
    interlockDeps: (): SetupInterlockDeps => ({ now: clock, msdOf: store.msdOf, scope: opts.setupInterlockScope }),
  };
}
export type MaterialsService = ReturnType<typeof createMaterialsService>;
