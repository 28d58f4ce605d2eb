import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directTransport, prepareDemoRun, reelQuantity, runSimulation } from '../../src/integrations/simulator/index.ts';
import { createServices, type Services } from '../../src/main.ts';
import { Db } from '../../src/platform/db.ts';
import { migrate } from '../../src/platform/migrate.ts';
import { freshDatabase, system, testConfig } from '../helpers.ts';

/**
 * The line simulator on the demo line, straight into the pipeline: boards built end to end from
 * CFX alone. In a database of its own: the demo factory and its reels must not meet the other
 * test files' counts.
 */

let fresh: Awaited<ReturnType<typeof freshDatabase>>;
let db: Db;
let services: Services;
const s = () => services;
beforeAll(async () => {
  fresh = await freshDatabase();
  await migrate(fresh.url);
  db = new Db(fresh.url, 4);
  services = createServices(db, testConfig());
});
afterAll(async () => {
  await db?.close();
  await fresh?.drop();
});

describe('line simulator', () => {
  it('builds boards through every station of the demo route, with materials, inspections, tests and repairs', async () => {
    const plan = await prepareDemoRun(s(), system, { boards: 6, reelBoards: 2 });
    expect(plan.route.map((r) => r.station.code)).toEqual(['MARK1', 'PRN1', 'SPI1', 'PNP1', 'PNP2', 'RFL1', 'AOI1', 'ICT1', 'FCT1', 'PACK1']);
    expect(plan.route.find((r) => r.station.code === 'PNP1')!.station.slots.flatMap((x) => x.refdes)).toContain('R1');
    const result = await runSimulation(plan, directTransport(s()), { seed: 7, aoiDefectRate: 0.4, testFailRate: 0.3, faultRate: 0.1, heartbeatTicks: 5, approveFirstArticle: plan.approveFirstArticle });
    expect(result.completed).toBe(6);
    const dl = await s().db.query<{ reason_code: string; message_name: string; reason: string }>('SELECT reason_code, message_name, reason FROM cfx_dead_letters ORDER BY id');
    expect(dl.rows).toEqual([]);
    // Every board is completed by the tracking service, passage by passage, from the machines' messages.
    for (const serial of plan.serials) {
      const u = await s().tracking.getUnit(serial);
      expect(u.status, serial).toBe('completed');
      expect(u.passedSteps.filter((x) => x !== 200)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    }
    const repaired = await s().db.one<{ n: number }>(
      `SELECT count(*)::int AS n FROM process_records r JOIN units u ON u.id = r.unit_id WHERE u.serial = ANY($1) AND r.step_seq = 200`, [plan.serials],
    );
    expect(repaired!.n).toBeGreaterThan(0);
    // Feeders were verified by the materials service, reels spliced when they ran out.
    const pnp1 = (await s().factory.equipment.getByKey('PNP1-M'))!;
    const setups = await s().materials.listSetups({ equipmentId: pnp1.id });
    expect(setups.length).toBeGreaterThan(plan.route.find((r) => r.station.code === 'PNP1')!.station.slots.length);
    const splices = await s().db.query<{ outcome: string; n: number }>(
      `SELECT outcome, count(*)::int AS n FROM cfx_inbox WHERE message_name = 'CFX.Materials.Storage.SplicePointDetected' GROUP BY 1`,
    );
    expect(splices.rows.map((r) => r.outcome)).toEqual(['applied']);
    expect(splices.rows[0]!.n).toBeGreaterThan(0);
    // Nothing of the run was refused.
    const dead = await s().db.query<{ reason_code: string; message_name: string; reason: string }>(
      `SELECT d.reason_code, d.message_name, d.reason FROM cfx_dead_letters d WHERE d.source LIKE 'Demo%' AND d.received_at > now() - interval '5 minutes'`,
    );
    expect(dead.rows).toEqual([]);
    // Equipment data for OEE: states, SPI readings, reflow zones.
    const rfl = (await s().factory.stations.getByKey('RFL1'))!;
    expect((await s().equipment.readings(rfl.id, {})).length).toBeGreaterThanOrEqual(60);
    const oee = await s().equipment.oee(rfl.id, {});
    expect(oee.total.totalCount).toBeGreaterThanOrEqual(6);
  }, 60_000);

  it('receives reels as the parts come packed, the first one of each slot partly used, enough for the run and one to spare', async () => {
    expect(reelQuantity('0402')).toEqual({ quantity: 10_000, kind: 'reel' });
    expect(reelQuantity('SOIC-8')).toEqual({ quantity: 2_500, kind: 'reel' });
    expect(reelQuantity('THT/SMD')).toEqual({ quantity: 500, kind: 'tray' });
    const boards = 300;
    const plan = await prepareDemoRun(s(), system, { boards });
    const slots = plan.route.flatMap((r) => r.station.slots);
    expect(slots.length).toBeGreaterThan(50);
    for (const sl of slots) {
      const per = sl.refdes.length;
      const [first, ...rest] = sl.packages;
      const full = rest[0]!.quantity;
      expect(rest.every((p) => p.quantity === full), sl.ipn).toBe(true);
      expect(first!.quantity, sl.ipn).toBeGreaterThanOrEqual(per);
      expect(first!.quantity, sl.ipn).toBeLessThanOrEqual(full);
      // Placing the run as the simulator does (a reel ends when it cannot place one more board) leaves a reel to spare.
      let used = 1;
      let left = first!.quantity;
      for (let b = 0; b < boards; b++) {
        left -= per;
        if (left < per) {
          used++;
          left = full;
        }
      }
      expect(used, sl.ipn).toBeLessThanOrEqual(sl.packages.length);
    }
    const jst = slots.find((x) => x.ipn === 'CONN-JST-4P')!;
    expect(jst.packages[1]!.quantity).toBe(500);
    const chip = slots.find((x) => x.ipn.startsWith('RES-0402'))!;
    expect(chip.packages[1]!.quantity).toBe(10_000);
    // About one splice per 20 boards for the whole line (sum over slots of pieces per board / pieces per reel).
    const perBoard = slots.reduce((n, x) => n + x.refdes.length / x.packages[1]!.quantity, 0);
    expect(perBoard).toBeGreaterThan(0.03);
    expect(perBoard).toBeLessThan(0.08);
  }, 120_000);
});
