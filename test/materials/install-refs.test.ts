import pg from 'pg';
import { inject } from 'vitest';
import { describe, expect, it } from 'vitest';
import { makeReleasedWorkOrder, system, testDb, testServices, uniq } from '../helpers.ts';

/**
 * M3 rows' references (unit, package, equipment, station) are checked once per statement and their
 * parents locked as a foreign key would (migration 0057): an unknown reference is refused with the
 * statement's every row; a parent still referenced is not deleted, also when the referencing row
 * was uncommitted when the delete began.
 */
async function fixture() {
  const s = testServices();
  const m = await makeReleasedWorkOrder({ quantity: 4 });
  const { serials } = await s.tracking.generateUnits(system, { workOrder: m.wo.id, count: 2 });
  const units = (await testDb().query<{ id: number }>('SELECT id FROM units WHERE serial = ANY($1::text[]) ORDER BY id', [serials])).rows.map((r) => r.id);
  const eq = await s.factory.equipment.create(system, { stationId: m.stations.placement!.id, code: uniq('EQ'), name: 'placer' });
  const pkg = (await s.materials.receive(system, { ipn: m.partIpns[0]!, manufacturer: 'Acme', mpn: `${m.product.code}-MPN0`, quantity: 100, lotCode: uniq('LOT') })).package;
  return { s, m, units, eq, pkg, station: m.stations.placement!.id };
}

const INSERT = `INSERT INTO material_installs (unit_id, refdes, package_id, equipment_id, station_id, installed_at, source, recorded_by)
  SELECT u, $5::text || g, $2, $3, $4, now(), 'rest', 'test' FROM unnest($1::bigint[]) u, generate_series(1, 3) g`;
let prefix = 0;
/** Each statement installs designators of its own (the active-row index refuses a designator installed twice from one package). */
const args = (...a: unknown[]) => [...a, `D${++prefix}-`];

describe('M3 references (statement-level foreign keys)', () => {
  it('accepts rows whose references exist and refuses any statement naming a missing unit, package, machine or station', async () => {
    const { units, eq, pkg, station } = await fixture();
    const db = testDb();
    const count = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM material_installs WHERE unit_id = ANY($1::bigint[])', [units])).rows[0]!.n;
    expect((await db.query(INSERT, args(units, pkg.id, eq.id, station))).rowCount).toBe(6);
    const missing = 9_000_000_000;
    await expect(db.query(INSERT, args([...units, missing], pkg.id, eq.id, station))).rejects.toMatchObject({
      code: 'REFERENCE_NOT_FOUND', message: expect.stringContaining(`Key (unit_id)=(${missing})`),
    });
    await expect(db.query(INSERT, args(units, missing, eq.id, station))).rejects.toMatchObject({ code: 'REFERENCE_NOT_FOUND', message: expect.stringContaining('package_id') });
    await expect(db.query(INSERT, args(units, pkg.id, missing, station))).rejects.toMatchObject({ code: 'REFERENCE_NOT_FOUND', message: expect.stringContaining('equipment_id') });
    await expect(db.query(INSERT, args(units, pkg.id, eq.id, missing))).rejects.toMatchObject({ code: 'REFERENCE_NOT_FOUND', message: expect.stringContaining('station_id') });
    // None of the refused statements' rows was kept.
    expect(await count()).toBe(6);
    // Absent optional references are not checked.
    expect((await db.query(INSERT, args(units, pkg.id, null, null))).rowCount).toBe(6);
    expect(await count()).toBe(12);
  });

  it('refuses to delete a unit, package, machine or station an installation refers to; an unreferenced machine is deleted', async () => {
    const { s, units, eq, pkg, station } = await fixture();
    const db = testDb();
    await db.query(INSERT, args(units.slice(0, 1), pkg.id, eq.id, station));
    await expect(db.query('DELETE FROM material_installs WHERE unit_id = $1', [units[0]])).rejects.toMatchObject({ code: 'FORBIDDEN' });
    for (const [table, id] of [['units', units[0]], ['material_packages', pkg.id], ['equipment', eq.id], ['stations', station]] as const) {
      await expect(db.query(`DELETE FROM ${table} WHERE id = $1`, [id]), table).rejects.toMatchObject({ code: 'STILL_REFERENCED' });
    }
    await expect(s.factory.equipment.remove(system, eq.id)).rejects.toMatchObject({ code: 'STILL_REFERENCED' });
    const spare = await s.factory.equipment.create(system, { stationId: station, code: uniq('EQ'), name: 'spare' });
    await s.factory.equipment.remove(system, spare.id);
    expect((await db.query('SELECT 1 FROM equipment WHERE id = $1', [spare.id])).rowCount).toBe(0);
  });

  it('a delete that began while an installation naming the machine was uncommitted waits for it and is then refused', async () => {
    const { s, units, pkg, station } = await fixture();
    const eq = await s.factory.equipment.create(system, { stationId: station, code: uniq('EQ'), name: 'placer 2' });
    const a = new pg.Client({ connectionString: inject('databaseUrl') });
    const b = new pg.Client({ connectionString: inject('databaseUrl') });
    await a.connect();
    await b.connect();
    try {
      await a.query('BEGIN');
      await a.query(INSERT, args(units.slice(1, 2), pkg.id, eq.id, station));
      await b.query(`SET lock_timeout = '10s'`);
      let settled = false;
      const deleting = b.query('DELETE FROM equipment WHERE id = $1', [eq.id]).finally(() => (settled = true));
      deleting.catch(() => undefined);
      await new Promise((r) => setTimeout(r, 300));
      expect(settled).toBe(false); // waits for the installing transaction's lock on the machine
      await a.query('COMMIT');
      await expect(deleting).rejects.toMatchObject({ code: '23503', detail: expect.stringContaining('is still referenced from table "material_installs"') });
      expect((await testDb().query('SELECT 1 FROM equipment WHERE id = $1', [eq.id])).rowCount).toBe(1);
    } finally {
      await a.end();
      await b.end();
    }
  });
});
