import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/platform/errors.ts';
import { checkChar, checkSerialPattern, renderSerial, verifyCheckChar } from '../../src/modules/work-orders/index.ts';
import { makeReleasedWorkOrder, system, testDb, testServices, uniq } from '../helpers.ts';

/** Serial patterns, the check character, registration, duplicates and the quantity limit with overrun. */

const s = () => testServices();

async function errorOf(p: Promise<unknown>): Promise<AppError> {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(AppError);
  return e as AppError;
}

describe('serial patterns', () => {
  const vars = { workOrder: 'WO-77', product: 'CTRL', revision: 'B', seq: 42, date: new Date('2025-03-09T12:00:00Z') };

  it('renders tokens', () => {
    expect(renderSerial('{WO}-{SEQ:6}', vars)).toBe('WO-77-000042');
    expect(renderSerial('{PRODUCT}{REV}.{YYYY}{MM}{DD}.{SEQ:3}', vars)).toBe('CTRLB.20250309.042');
    expect(renderSerial('{YY}{WW}{SEQ:4}', vars)).toBe('25100042');
    expect(renderSerial('{SEQ:2}', { ...vars, seq: 1234 })).toBe('1234');
  });

  it('finds every problem with a pattern', () => {
    expect(checkSerialPattern('{WO}-{SEQ:5}')).toEqual([]);
    expect(checkSerialPattern('{WO}-{SEQ:5}{CHECK}')).toEqual([]);
    expect(checkSerialPattern('{WO}').map((e) => e.code)).toEqual(['seq_required']);
    expect(checkSerialPattern('{SEQ:0}{SEQ:3}').map((e) => e.code)).toEqual(['seq_width', 'seq_required']);
    expect(checkSerialPattern('{CHECK}{SEQ:4}').map((e) => e.code)).toEqual(['check_last']);
    expect(checkSerialPattern('A B{SEQ:4}').map((e) => e.code)).toEqual(['literal']);
    expect(checkSerialPattern('{FOO}{SEQ}').map((e) => e.code)).toEqual(['unknown_token']);
  });

  it('appends an ISO 7064 MOD 37,36 check character that detects every single-character substitution', () => {
    const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let n = 0; n < 300; n++) {
      const body = Array.from({ length: 4 + Math.floor(rnd() * 10) }, () => alphabet[Math.floor(rnd() * 36)]).join('');
      const serial = body + checkChar(body);
      expect(verifyCheckChar(serial)).toBe(true);
      for (let i = 0; i < serial.length; i++) {
        for (const c of alphabet) {
          if (c === serial[i]) continue;
          expect(verifyCheckChar(serial.slice(0, i) + c + serial.slice(i + 1))).toBe(false);
        }
      }
    }
    // Separators are ignored and case does not matter.
    const s1 = renderSerial('{WO}-{SEQ:4}{CHECK}', { ...vars, workOrder: 'wo-9' });
    expect(verifyCheckChar(s1)).toBe(true);
    expect(verifyCheckChar(s1.toUpperCase().replace('-', '/'))).toBe(true);
  });
});

describe('units of a work order', () => {
  it('generates serials from the work order\'s pattern, continuing its sequence', async () => {
    const { wo } = await makeReleasedWorkOrder({ quantity: 10, serialPattern: '{WO}-{SEQ:4}{CHECK}' });
    const a = await s().tracking.generateUnits(system, { workOrder: wo.id, count: 3 });
    const b = await s().tracking.generateUnits(system, { workOrder: wo.number, count: 2 });
    const all = [...a.serials, ...b.serials];
    expect(all.map((x) => x.slice(0, -1))).toEqual([1, 2, 3, 4, 5].map((n) => `${wo.number}-${String(n).padStart(4, '0')}`));
    expect(all.every(verifyCheckChar)).toBe(true);
    const units = await s().tracking.listUnits({ workOrderId: wo.id });
    expect(units.map((u) => [u.serial, u.status, u.nextStepSeq, u.source])).toEqual(all.map((x) => [x, 'queued', 10, 'generated']));
    const audit = await testDb().query<{ after: { count: number; first: string; last: string } }>(`SELECT after FROM audit_log WHERE entity = 'work_order' AND entity_id = $1 AND action = 'create_units' ORDER BY id`, [String(wo.id)]);
    expect(audit.rows.map((r) => [r.after.count, r.after.first, r.after.last])).toEqual([[3, all[0], all[2]], [2, all[3], all[4]]]);
  });

  it('uses the product\'s pattern when the work order has none', async () => {
    const { wo, product } = await makeReleasedWorkOrder();
    await s().workOrders.setProductSerialPattern(system, product.id, `${product.code}-{SEQ:3}`);
    const r = await s().tracking.generateUnits(system, { workOrder: wo.id, count: 2 });
    expect(r.serials).toEqual([`${product.code}-001`, `${product.code}-002`]);
  });

  it('registers serials reported by a marking station and refuses duplicates', async () => {
    const { wo } = await makeReleasedWorkOrder();
    const [x, y] = [uniq('SN'), uniq('SN')];
    const r = await s().tracking.registerUnits(system, { workOrder: wo.id, serials: [x, y] });
    expect(r.serials).toEqual([x, y]);
    expect((await s().tracking.getUnit(x)).source).toBe('registered');
    const dup = await errorOf(s().tracking.registerUnits(system, { workOrder: wo.id, serials: [uniq('SN'), x] }));
    expect(dup.code).toBe('DUPLICATE');
    expect(dup.status).toBe(409);
    expect((await errorOf(s().tracking.registerUnits(system, { workOrder: wo.id, serials: ['A1', 'A1'] }))).code).toBe('VALIDATION_FAILED');
    // Nothing of the refused calls remains, not even the reserved quantity.
    expect((await s().workOrders.get(wo.id)).unitsCreated).toBe(2);
    // A panel ID may not be a serial, nor the reverse.
    expect((await errorOf(s().tracking.createPanel(system, { workOrder: wo.id, code: x, positions: 2 }))).code).toBe('DUPLICATE');
  });

  it('never creates more units than quantity plus overrun (units)', async () => {
    const { wo } = await makeReleasedWorkOrder({ quantity: 10, overrunUnits: 2 });
    await s().tracking.generateUnits(system, { workOrder: wo.id, count: 10 });
    await s().tracking.generateUnits(system, { workOrder: wo.id, count: 2 });
    const e = await errorOf(s().tracking.generateUnits(system, { workOrder: wo.id, count: 1 }));
    expect(e.code).toBe('QUANTITY_EXCEEDED');
    expect(e.details).toMatchObject({ maxUnits: 12, unitsCreated: 12, requested: 1 });
    expect((await errorOf(s().tracking.registerUnits(system, { workOrder: wo.id, serials: [uniq('SN')] }))).code).toBe('QUANTITY_EXCEEDED');
    expect((await testDb().one<{ n: number }>('SELECT count(*)::int AS n FROM units WHERE work_order_id = $1', [wo.id]))!.n).toBe(12);
  });

  it('applies a percentage overrun (rounded down) and holds under parallel generation from many callers', async () => {
    const { wo } = await makeReleasedWorkOrder({ quantity: 10, overrunPercent: 25 });
    expect(wo.maxUnits).toBe(12);
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => s().tracking.generateUnits(system, { workOrder: wo.id, count: 1 })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(12);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(refused.map((r) => (r.reason as AppError).code)).toEqual(Array(8).fill('QUANTITY_EXCEEDED'));
    expect((await testDb().one<{ n: number }>('SELECT count(*)::int AS n FROM units WHERE work_order_id = $1', [wo.id]))!.n).toBe(12);
    // The database itself refuses a counter beyond the limit.
    const direct = await testDb().query('UPDATE work_orders SET units_created = 13 WHERE id = $1', [wo.id]).catch((e: unknown) => e);
    expect(direct).toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('creates no units for a work order that is not released', async () => {
    const { wo } = await makeReleasedWorkOrder({ release: false });
    expect((await errorOf(s().tracking.generateUnits(system, { workOrder: wo.id, count: 1 }))).code).toBe('STATE_CONFLICT');
  });
});
