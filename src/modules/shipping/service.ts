import { performance } from 'node:perf_hooks';
import type { Db, Queryable, Tx } from '../../platform/db.ts';
import { AppError, notFound, validationFailed } from '../../platform/errors.ts';
import type { Principal } from '../../platform/principal.ts';
import { recordAudit } from '../audit/index.ts';
import { PrinterError, sendZplToPrinter } from '../materials/index.ts';
import { auditSignature, type QualityService, type SignatureInput, type UnitBlocker } from '../quality/index.ts';
import type { WorkOrdersService } from '../work-orders/index.ts';
import { cartonLabelPdf, cartonLabelPng, cartonLabelZpl } from './labels.ts';

/**
 * Packing and shipment release.
 *
 * A carton belongs to one work order (and so one product revision) and has a capacity. Units
 * are packed by scanning: only units of the carton's work order that passed every required step
 * of their route with no open disposition, NCR or hold (quality's blockers), never twice, and,
 * when the quality plan forbids mixing lots, only of the carton's production lot. Each refusal
 * is recorded with its codes.
 *
 * A shipment (customer, PO) collects cartons. Its clearance check lists every blocker of every
 * unit by name, in one set-based pass; release is signed (quality engineer) and allowed only
 * when the clearance is clean. Released cartons and their units are shipped.
 */

export const PACK_REFUSALS = {
  CARTON_NOT_OPEN: 'The carton is closed or shipped',
  CARTON_FULL: 'The carton is full',
  UNKNOWN_UNIT: 'No unit has this serial',
  ALREADY_PACKED: 'The unit is already in a carton',
  WRONG_WORK_ORDER: "The unit belongs to another work order than the carton's",
  WRONG_PRODUCT: "The unit is another product revision than the carton's",
  MIXED_LOTS: 'The quality plan forbids mixing production lots in a carton',
  STATION_HELD: 'The packing station is held',
} as const;
export type PackRefusalCode = keyof typeof PACK_REFUSALS | UnitBlocker['code'];
export interface PackRefusal { code: PackRefusalCode; message: string }

export const SHIPMENT_BLOCKERS = {
  EMPTY_SHIPMENT: 'The shipment has no cartons (or only empty ones)',
  CUSTOMER_MISMATCH: "A carton's work order is for another customer",
} as const;

export interface Carton {
  id: number; code: string; workOrderId: number; workOrderNumber: string; productRevisionId: number; productCode: string; revision: string; capacity: number; packed: number;
  productionLotId: number | null; stationId: number | null; state: 'open' | 'closed' | 'shipped'; shipmentId: number | null; shipmentNumber: string | null;
  createdAt: Date; createdBy: string; closedAt: Date | null; closedBy: string | null;
}
export interface Shipment {
  id: number; number: string; customer: string; customerPo: string; shipTo: string; state: 'open' | 'released' | 'cancelled'; notes: string; cartons: number; units: number;
  createdAt: Date; createdBy: string; releasedAt: Date | null; releasedBy: string | null; releaseSignatureId: number | null;
}
export interface Blocker { code: string; message: string; unitId?: number; serial?: string; carton?: string }
export interface Clearance {
  shipmentId: number; number: string; clear: boolean; cartons: number; units: number;
  /** Every blocker, by name (the first `limit`; `total` counts all). */
  blockers: Blocker[]; total: number; counts: Record<string, number>; checkedAt: Date; elapsedMs: number;
}

const CARTON_SELECT = `c.id, c.code, c.work_order_id AS "workOrderId", w.number AS "workOrderNumber", c.product_revision_id AS "productRevisionId", p.code AS "productCode",
  r.revision, c.capacity, c.packed, c.production_lot_id AS "productionLotId", c.station_id AS "stationId", c.state, c.shipment_id AS "shipmentId", s.number AS "shipmentNumber",
  c.created_at AS "createdAt", c.created_by AS "createdBy", c.closed_at AS "closedAt", c.closed_by AS "closedBy"
  FROM shipping_cartons c JOIN work_orders w ON w.id = c.work_order_id JOIN product_revisions r ON r.id = c.product_revision_id JOIN products p ON p.id = r.product_id
  LEFT JOIN shipping_shipments s ON s.id = c.shipment_id`;
const SHIPMENT_SELECT = `s.id, s.number, s.customer, s.customer_po AS "customerPo", s.ship_to AS "shipTo", s.state, s.notes,
  (SELECT count(*)::int FROM shipping_cartons c WHERE c.shipment_id = s.id) AS cartons,
  (SELECT COALESCE(sum(c.packed), 0)::int FROM shipping_cartons c WHERE c.shipment_id = s.id) AS units,
  s.created_at AS "createdAt", s.created_by AS "createdBy", s.released_at AS "releasedAt", s.released_by AS "releasedBy", s.release_signature_id AS "releaseSignatureId"
  FROM shipping_shipments s`;

class PackRefused extends AppError {
  constructor(readonly record: { cartonId: number | null; identifier: string; unitId: number | null; refusals: PackRefusal[] }) {
    super('PACKING_REFUSED', `Cannot pack ${record.identifier}: ${record.refusals.map((r) => r.message).join('; ')}`, { details: { refusals: record.refusals } });
  }
}

export function createShippingService(db: Db, deps: { quality: QualityService; workOrders: WorkOrdersService }) {
  const { quality } = deps;

  async function getCarton(id: number, q: Queryable = db): Promise<Carton> {
    const c = (await q.query<Carton>(`SELECT ${CARTON_SELECT} WHERE c.id = $1`, [id])).rows[0];
    if (!c) throw notFound('carton', id);
    return c;
  }

  async function cartonRef(q: Queryable, ref: number | string): Promise<Carton> {
    const c = (await q.query<Carton>(`SELECT ${CARTON_SELECT} WHERE ${typeof ref === 'number' ? 'c.id = $1' : 'c.code = $1'}`, [ref])).rows[0];
    if (!c) throw notFound('carton', ref);
    return c;
  }

  async function cartonUnits(id: number, q: Queryable = db) {
    return (
      await q.query<{ unitId: number; serial: string; lotCode: string | null; packedAt: Date; packedBy: string }>(
        `SELECT cu.unit_id AS "unitId", u.serial, l.code AS "lotCode", cu.packed_at AS "packedAt", cu.packed_by AS "packedBy"
           FROM shipping_carton_units cu JOIN units u ON u.id = cu.unit_id LEFT JOIN production_lots l ON l.id = u.lot_id WHERE cu.carton_id = $1 ORDER BY cu.packed_at, u.serial`,
        [id],
      )
    ).rows;
  }

  /** Cartons, newest first; `code` is the exact carton ID (as scanned from its label). */
  async function listCartons(f: { workOrderId?: number; shipmentId?: number; state?: string; code?: string; limit?: number } = {}): Promise<Carton[]> {
    return (
      await db.query<Carton>(
        `SELECT ${CARTON_SELECT} WHERE ($1::bigint IS NULL OR c.work_order_id = $1) AND ($2::bigint IS NULL OR c.shipment_id = $2) AND ($3::text IS NULL OR c.state = $3)
            AND ($5::text IS NULL OR c.code = $5)
          ORDER BY c.id DESC LIMIT $4`,
        [f.workOrderId ?? null, f.shipmentId ?? null, f.state ?? null, Math.min(f.limit ?? 200, 5000), f.code ?? null],
      )
    ).rows;
  }

  /** A carton by its ID (the code on its label), with its units. */
  async function getCartonByCode(code: string) {
    const c = await cartonRef(db, code);
    return { ...c, units: await cartonUnits(c.id) };
  }

  /** Opens a carton for a work order's units. */
  async function createCarton(who: Principal, input: { workOrder: number | string; capacity: number; code?: string; stationId?: number | null }): Promise<Carton> {
    if (!Number.isInteger(input.capacity) || input.capacity < 1) throw validationFailed([{ field: '/capacity', code: 'range', message: 'capacity: a whole number of at least 1' }]);
    return db.tx(async (tx) => {
      const wo = await deps.workOrders.resolve(input.workOrder, tx);
      if (['planned', 'cancelled'].includes(wo.state)) throw new AppError('STATE_CONFLICT', `Work order ${wo.number} is ${wo.state}`);
      const r = await tx.query<{ id: number }>(
        `INSERT INTO shipping_cartons (code, work_order_id, product_revision_id, capacity, station_id, created_by)
         VALUES (COALESCE($1, 'CTN-' || lpad(nextval('shipping_carton_number_seq')::text, 7, '0')), $2, $3, $4, $5, $6) RETURNING id`,
        [input.code ?? null, wo.id, wo.productRevisionId, input.capacity, input.stationId ?? null, who.name],
      );
      const c = await getCarton(r.rows[0]!.id, tx);
      await recordAudit(tx, who, { action: 'create', entity: 'carton', entityId: c.id, after: c });
      return c;
    });
  }

  /** Every refusal is kept (append-only), outside the refused transaction. */
  async function recordRefusal(who: Principal, r: PackRefused['record']): Promise<void> {
    await db.query(
      'INSERT INTO shipping_pack_refusals (carton_id, identifier, unit_id, codes, details, actor_name) VALUES ($1, $2, $3, $4, $5, $6)',
      [r.cartonId, r.identifier, r.unitId, [...new Set(r.refusals.map((x) => x.code))], JSON.stringify({ refusals: r.refusals }), who.name],
    );
  }

  /**
   * Packs a scanned unit into a carton, or refuses with PACKING_REFUSED (409) listing every
   * reason (carton state and capacity, work order / product, lot mixing, station hold, and the
   * unit's quality blockers). The refusal is recorded.
   */
  async function pack(who: Principal, cartonId: number, input: { identifier: string; stationId?: number | null }) {
    try {
      return await db.tx(async (tx) => {
        const c = (await tx.query<{ id: number }>('SELECT id FROM shipping_cartons WHERE id = $1 FOR UPDATE', [cartonId])).rows[0];
        if (!c) throw notFound('carton', cartonId);
        const carton = await getCarton(cartonId, tx);
        const refusals: PackRefusal[] = [];
        const refuse = (code: PackRefusalCode, message: string) => refusals.push({ code, message });
        const unit = (
          await tx.query<{ id: number; serial: string; work_order_id: number; lot_id: number | null; lot_code: string | null; product_revision_id: number; wo_number: string; basis_id: number | null; hash: string | null; carton: string | null }>(
            `SELECT u.id, u.serial, u.work_order_id, u.lot_id, l.code AS lot_code, w.product_revision_id, w.number AS wo_number, w.basis_id, b.hash,
                    (SELECT c2.code FROM shipping_carton_units cu JOIN shipping_cartons c2 ON c2.id = cu.carton_id WHERE cu.unit_id = u.id) AS carton
               FROM units u JOIN work_orders w ON w.id = u.work_order_id LEFT JOIN production_lots l ON l.id = u.lot_id LEFT JOIN build_bases b ON b.id = w.basis_id
              WHERE u.serial = $1 FOR UPDATE OF u`,
            [input.identifier],
          )
        ).rows[0];
        if (carton.state !== 'open') refuse('CARTON_NOT_OPEN', `carton ${carton.code} is ${carton.state}`);
        else if (carton.packed >= carton.capacity) refuse('CARTON_FULL', `carton ${carton.code} is full (${carton.capacity})`);
        if (!unit) {
          refuse('UNKNOWN_UNIT', `no unit has the serial ${input.identifier}`);
          throw new PackRefused({ cartonId, identifier: input.identifier, unitId: null, refusals });
        }
        if (unit.carton) refuse('ALREADY_PACKED', `unit ${unit.serial} is already packed in carton ${unit.carton}`);
        if (unit.product_revision_id !== carton.productRevisionId) refuse('WRONG_PRODUCT', `unit ${unit.serial} is not ${carton.productCode} revision ${carton.revision}`);
        if (unit.work_order_id !== carton.workOrderId) refuse('WRONG_WORK_ORDER', `unit ${unit.serial} belongs to work order ${unit.wo_number}; carton ${carton.code} is for ${carton.workOrderNumber}`);
        // Lot mixing, as the build basis's quality plan says.
        if (unit.work_order_id === carton.workOrderId && unit.basis_id !== null && unit.hash !== null) {
          const basis = await deps.workOrders.loadBasis(unit.basis_id, unit.hash, tx);
          if (basis.basis.qualityPlan && !basis.basis.qualityPlan.mixedLotsAllowed && carton.packed > 0 && carton.productionLotId !== unit.lot_id) {
            const lot = carton.productionLotId === null ? 'no lot' : `lot ${(await tx.query<{ code: string }>('SELECT code FROM production_lots WHERE id = $1', [carton.productionLotId])).rows[0]?.code}`;
            refuse('MIXED_LOTS', `unit ${unit.serial} is of ${unit.lot_code ? `lot ${unit.lot_code}` : 'no lot'}; carton ${carton.code} holds ${lot} and the quality plan forbids mixing lots`);
          }
        }
        const station = input.stationId ?? carton.stationId;
        if (station != null) {
          const held = (await tx.query<{ number: string; reason: string }>(`SELECT number, reason FROM quality_holds WHERE scope = 'station' AND station_id = $1 AND released_at IS NULL LIMIT 1`, [station])).rows[0];
          if (held) refuse('STATION_HELD', `the packing station is held by ${held.number}: ${held.reason}`);
        }
        for (const b of await quality.blockers(tx, [unit.id])) refuse(b.code, b.message);
        if (refusals.length) throw new PackRefused({ cartonId, identifier: input.identifier, unitId: unit.id, refusals });
        await tx.query('INSERT INTO shipping_carton_units (carton_id, unit_id, packed_by) VALUES ($1, $2, $3)', [cartonId, unit.id, who.name]);
        const full = carton.packed + 1 >= carton.capacity;
        await tx.query(
          `UPDATE shipping_cartons SET packed = packed + 1, production_lot_id = CASE WHEN packed = 0 THEN $2 ELSE production_lot_id END,
                  state = CASE WHEN $3 THEN 'closed' ELSE state END, closed_at = CASE WHEN $3 THEN now() ELSE closed_at END, closed_by = CASE WHEN $3 THEN $4 ELSE closed_by END
            WHERE id = $1`,
          [cartonId, unit.lot_id, full, who.name],
        );
        await recordAudit(tx, who, { action: 'pack', entity: 'carton', entityId: cartonId, after: { serial: unit.serial, packed: carton.packed + 1, closed: full } });
        return { carton: await getCarton(cartonId, tx), serial: unit.serial, unitId: unit.id };
      });
    } catch (e) {
      if (e instanceof PackRefused) await recordRefusal(who, e.record);
      throw e;
    }
  }

  /** Takes a unit out of a carton that has not shipped. */
  async function unpack(who: Principal, cartonId: number, input: { serial: string; reason: string }): Promise<Carton> {
    return db.tx(async (tx) => {
      await tx.query('SELECT 1 FROM shipping_cartons WHERE id = $1 FOR UPDATE', [cartonId]);
      const c = await getCarton(cartonId, tx);
      if (c.state === 'shipped') throw new AppError('STATE_CONFLICT', `Carton ${c.code} has shipped`);
      const r = await tx.query('DELETE FROM shipping_carton_units WHERE carton_id = $1 AND unit_id = (SELECT id FROM units WHERE serial = $2)', [cartonId, input.serial]);
      if (!r.rowCount) throw new AppError('STATE_CONFLICT', `Unit ${input.serial} is not in carton ${c.code}`);
      await tx.query(
        `UPDATE shipping_cartons SET packed = packed - 1, state = 'open', closed_at = NULL, closed_by = NULL, production_lot_id = CASE WHEN packed = 1 THEN NULL ELSE production_lot_id END WHERE id = $1`,
        [cartonId],
      );
      await recordAudit(tx, who, { action: 'unpack', entity: 'carton', entityId: cartonId, after: { serial: input.serial }, reason: input.reason });
      return getCarton(cartonId, tx);
    });
  }

  async function closeCarton(who: Principal, cartonId: number): Promise<Carton> {
    return db.tx(async (tx) => {
      await tx.query('SELECT 1 FROM shipping_cartons WHERE id = $1 FOR UPDATE', [cartonId]);
      const c = await getCarton(cartonId, tx);
      if (c.state !== 'open') throw new AppError('STATE_CONFLICT', `Carton ${c.code} is ${c.state}`);
      if (c.packed === 0) throw new AppError('STATE_CONFLICT', `Carton ${c.code} is empty`);
      await tx.query(`UPDATE shipping_cartons SET state = 'closed', closed_at = now(), closed_by = $2 WHERE id = $1`, [cartonId, who.name]);
      await recordAudit(tx, who, { action: 'close', entity: 'carton', entityId: cartonId });
      return getCarton(cartonId, tx);
    });
  }

  async function label(cartonId: number, format: 'zpl' | 'pdf' | 'png'): Promise<{ contentType: string; filename: string; body: string | Buffer }> {
    const c = await getCarton(cartonId);
    // The preview image: the carton ID's Data Matrix, as on the label (no other lookup needed).
    if (format === 'png') return { contentType: 'image/png', filename: `${c.code}.png`, body: await cartonLabelPng(c.code) };
    const wo = await deps.workOrders.get(c.workOrderId);
    const info = (
      await db.query<{ lots: string[] | null; last: Date | null }>(
        `SELECT array_agg(DISTINCT l.code) FILTER (WHERE l.code IS NOT NULL) AS lots, max(cu.packed_at) AS last
           FROM shipping_carton_units cu JOIN units u ON u.id = cu.unit_id LEFT JOIN production_lots l ON l.id = u.lot_id WHERE cu.carton_id = $1`,
        [cartonId],
      )
    ).rows[0]!;
    const data = {
      cartonCode: c.code, productCode: c.productCode, revision: c.revision, workOrder: c.workOrderNumber, customer: wo.customer, customerPo: wo.customerPo,
      quantity: c.packed, capacity: c.capacity, lots: info.lots ?? [], packedAt: info.last, shipment: c.shipmentNumber,
    };
    if (format === 'pdf') return { contentType: 'application/pdf', filename: `${c.code}.pdf`, body: await cartonLabelPdf(data) };
    return { contentType: 'application/zpl; charset=utf-8', filename: `${c.code}.zpl`, body: cartonLabelZpl(data) };
  }

  /**
   * Sends the carton's ZPL label to a network label printer (raw TCP, port 9100 by default) with
   * materials' printer client. Refusals: PRINTER_UNREACHABLE / PRINTER_SEND_FAILED (502),
   * PRINTER_TIMEOUT (504), a bad host or port is a validation failure.
   */
  async function printLabel(who: Principal, cartonId: number, input: { host: string; port?: number; timeoutMs?: number }): Promise<{ bytesWritten: number; printer: string }> {
    const l = await label(cartonId, 'zpl');
    const port = input.port ?? 9100;
    const printer = `${input.host}:${port}`;
    try {
      const r = await sendZplToPrinter(input.host, port, l.body as string, input.timeoutMs ?? 10_000);
      await db.tx((tx) => recordAudit(tx, who, { action: 'print_label', entity: 'carton', entityId: cartonId, after: { printer, bytes: r.bytesWritten } }));
      return { bytesWritten: r.bytesWritten, printer };
    } catch (e) {
      if (e instanceof PrinterError) {
        if (e.code === 'PRINTER_ARGUMENT_INVALID') throw validationFailed([{ field: '/host', code: 'invalid', message: e.message }], e.message);
        throw new AppError(e.code, e.message);
      }
      throw e;
    }
  }

  // ── shipments ──────────────────────────────────────────────────────────────────────────

  async function getShipment(id: number, q: Queryable = db): Promise<Shipment> {
    const s = (await q.query<Shipment>(`SELECT ${SHIPMENT_SELECT} WHERE s.id = $1`, [id])).rows[0];
    if (!s) throw notFound('shipment', id);
    return s;
  }

  async function listShipments(f: { state?: string; customer?: string; limit?: number } = {}): Promise<Shipment[]> {
    return (
      await db.query<Shipment>(
        `SELECT ${SHIPMENT_SELECT} WHERE ($1::text IS NULL OR s.state = $1) AND ($2::text IS NULL OR s.customer = $2) ORDER BY s.id DESC LIMIT $3`,
        [f.state ?? null, f.customer ?? null, Math.min(f.limit ?? 100, 1000)],
      )
    ).rows;
  }

  async function createShipment(who: Principal, input: { number?: string; customer: string; customerPo?: string; shipTo?: string; notes?: string }): Promise<Shipment> {
    if (!input.customer?.trim()) throw validationFailed([{ field: '/customer', code: 'required', message: 'a shipment names its customer' }]);
    return db.tx(async (tx) => {
      const r = await tx.query<{ id: number }>(
        `INSERT INTO shipping_shipments (number, customer, customer_po, ship_to, notes, created_by)
         VALUES (COALESCE($1, 'SHP-' || lpad(nextval('shipping_shipment_number_seq')::text, 6, '0')), $2, $3, $4, $5, $6) RETURNING id`,
        [input.number ?? null, input.customer.trim(), input.customerPo ?? '', input.shipTo ?? '', input.notes ?? '', who.name],
      );
      const s = await getShipment(r.rows[0]!.id, tx);
      await recordAudit(tx, who, { action: 'create', entity: 'shipment', entityId: s.id, after: s });
      return s;
    });
  }

  async function lockOpenShipment(tx: Tx, id: number): Promise<Shipment> {
    await tx.query('SELECT 1 FROM shipping_shipments WHERE id = $1 FOR UPDATE', [id]);
    const s = await getShipment(id, tx);
    if (s.state !== 'open') throw new AppError('STATE_CONFLICT', `Shipment ${s.number} is ${s.state}`);
    return s;
  }

  /** Puts cartons (id or code) into an open shipment; a carton is in at most one shipment. */
  async function addCartons(who: Principal, id: number, cartons: (number | string)[]): Promise<Shipment> {
    return db.tx(async (tx) => {
      const s = await lockOpenShipment(tx, id);
      for (const ref of cartons) {
        const c = await cartonRef(tx, ref);
        await tx.query('SELECT 1 FROM shipping_cartons WHERE id = $1 FOR UPDATE', [c.id]);
        if (c.state === 'shipped') throw new AppError('STATE_CONFLICT', `Carton ${c.code} has shipped`);
        if (c.shipmentId !== null && c.shipmentId !== id) throw new AppError('STATE_CONFLICT', `Carton ${c.code} is in shipment ${c.shipmentNumber}`);
        await tx.query('UPDATE shipping_cartons SET shipment_id = $2 WHERE id = $1', [c.id, id]);
      }
      await recordAudit(tx, who, { action: 'add_cartons', entity: 'shipment', entityId: id, after: { cartons } });
      return getShipment(s.id, tx);
    });
  }

  async function removeCartons(who: Principal, id: number, cartons: (number | string)[]): Promise<Shipment> {
    return db.tx(async (tx) => {
      await lockOpenShipment(tx, id);
      for (const ref of cartons) {
        const c = await cartonRef(tx, ref);
        if (c.shipmentId !== id) throw new AppError('STATE_CONFLICT', `Carton ${c.code} is not in this shipment`);
        await tx.query('UPDATE shipping_cartons SET shipment_id = NULL WHERE id = $1', [c.id]);
      }
      await recordAudit(tx, who, { action: 'remove_cartons', entity: 'shipment', entityId: id, after: { cartons } });
      return getShipment(id, tx);
    });
  }

  /**
   * The clearance check: every blocker of every unit in the shipment's cartons, by name
   * (quality's set-based blockers over all units at once), plus shipment-level blockers.
   */
  async function clearance(id: number, opts: { limit?: number } = {}, q: Queryable = db): Promise<Clearance> {
    const t0 = performance.now();
    const s = await getShipment(id, q);
    const limit = Math.min(opts.limit ?? 1000, 100_000);
    const rows = (
      await q.query<{ unitId: number; carton: string; customer: string }>(
        `SELECT cu.unit_id AS "unitId", c.code AS carton, w.customer FROM shipping_cartons c JOIN shipping_carton_units cu ON cu.carton_id = c.id
           JOIN work_orders w ON w.id = c.work_order_id WHERE c.shipment_id = $1`,
        [id],
      )
    ).rows;
    const cartonOf = new Map(rows.map((r) => [r.unitId, r.carton]));
    const all: Blocker[] = [];
    if (rows.length === 0) all.push({ code: 'EMPTY_SHIPMENT', message: `shipment ${s.number} has no packed units` });
    const mismatch = [...new Set(rows.filter((r) => r.customer && r.customer !== s.customer).map((r) => `${r.carton}:${r.customer}`))];
    for (const m of mismatch) {
      const [carton, customer] = m.split(':') as [string, string];
      all.push({ code: 'CUSTOMER_MISMATCH', carton, message: `carton ${carton} is for customer ${customer}; shipment ${s.number} is for ${s.customer}` });
    }
    for (const b of await quality.blockers(q, rows.map((r) => r.unitId))) {
      all.push({ code: b.code, unitId: b.unitId, serial: b.serial, carton: cartonOf.get(b.unitId), message: `${b.message} (carton ${cartonOf.get(b.unitId)})` });
    }
    const counts: Record<string, number> = {};
    for (const b of all) counts[b.code] = (counts[b.code] ?? 0) + 1;
    const cartons = new Set(rows.map((r) => r.carton)).size;
    return {
      shipmentId: s.id, number: s.number, clear: all.length === 0, cartons, units: rows.length, blockers: all.slice(0, limit), total: all.length, counts,
      checkedAt: new Date(), elapsedMs: Math.round((performance.now() - t0) * 10) / 10,
    };
  }

  /** Releases a shipment (signed, meaning "released") when its clearance is clean; its cartons and units are shipped. */
  async function releaseShipment(who: Principal, id: number, input: { signature: SignatureInput }) {
    const signer = await quality.signatures.authenticate(who, 'shipment.release', input.signature);
    return db.tx(async (tx) => {
      const s = await lockOpenShipment(tx, id);
      // Cartons of the shipment are locked so nothing is packed or unpacked while it is judged.
      await tx.query('SELECT 1 FROM shipping_cartons WHERE shipment_id = $1 ORDER BY id FOR UPDATE', [id]);
      const c = await clearance(id, { limit: 500 }, tx);
      if (!c.clear) {
        throw new AppError('SHIPMENT_BLOCKED', `Shipment ${s.number} cannot be released: ${c.total} blocker(s), e.g. ${c.blockers.slice(0, 3).map((b) => b.message).join('; ')}`, {
          details: { total: c.total, counts: c.counts, blockers: c.blockers },
        });
      }
      const sig = await quality.signatures.record(tx, signer, { entity: 'shipment', entityId: id, content: { shipment: s, units: c.units, cartons: c.cartons } });
      await tx.query(`UPDATE shipping_shipments SET state = 'released', released_at = $2, released_by = $3, release_signature_id = $4 WHERE id = $1`, [id, sig.signedAt, signer.user.username, sig.id]);
      await tx.query(
        `UPDATE shipping_cartons SET state = 'shipped', closed_at = COALESCE(closed_at, now()), closed_by = COALESCE(closed_by, $2) WHERE shipment_id = $1`,
        [id, signer.user.username],
      );
      const after = await getShipment(id, tx);
      await recordAudit(tx, who, { action: 'release', entity: 'shipment', entityId: id, before: { state: 'open' }, after: { ...after, units: c.units }, reason: signer.reason, signature: auditSignature(sig) });
      return after;
    });
  }

  /** Where a unit was packed and shipped. */
  async function unitShipping(serial: string) {
    const r = (
      await db.query<{ serial: string; carton: string | null; shipment: string | null; shipmentState: string | null; shippedAt: Date | null }>(
        `SELECT u.serial, c.code AS carton, s.number AS shipment, s.state AS "shipmentState", s.released_at AS "shippedAt"
           FROM units u LEFT JOIN shipping_carton_units cu ON cu.unit_id = u.id LEFT JOIN shipping_cartons c ON c.id = cu.carton_id
           LEFT JOIN shipping_shipments s ON s.id = c.shipment_id WHERE u.serial = $1`,
        [serial],
      )
    ).rows[0];
    if (!r) throw notFound('unit', serial);
    return { ...r, shipped: r.shipmentState === 'released' };
  }

  return {
    createCarton, getCarton: (id: number) => getCarton(id), cartonUnits: (id: number) => cartonUnits(id), listCartons, getCartonByCode, pack, unpack, closeCarton, label, printLabel,
    createShipment, getShipment: (id: number) => getShipment(id), listShipments, addCartons, removeCartons, clearance: (id: number, opts?: { limit?: number }) => clearance(id, opts),
    releaseShipment, unitShipping,
  };
}
export type ShippingService = ReturnType<typeof createShippingService>;
