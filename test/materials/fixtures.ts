import { createMaterialsService, type MaterialsService, type ReceiveInput } from '../../src/modules/materials/index.ts';
import { HOUR_MS } from '../../src/modules/materials/lib/msl.ts';
import { makeProduct, system, testDb, testServices, uniq } from '../helpers.ts';

/** Materials test support: a machine on a line, a controllable clock, labels, receipts. */

export const GS = '\x1d';
export const RS = '\x1e';
export const EOT = '\x04';

/** An EIGP 114 label: `[)>` RS `06` GS fields… RS EOT (trailer optional, legacy header optional). */
export function eigpLabel(fields: string[], opts: { trailer?: boolean; legacy?: boolean } = {}): string {
  const head = opts.legacy ? `>[)>06${GS}` : `[)>${RS}06${GS}`;
  return `${head}${fields.join(GS)}${opts.trailer === false ? '' : `${RS}${EOT}`}`;
}

/** A controllable clock: starts at `start`, moves only when told. */
export function testClock(start = new Date(Date.UTC(2031, 0, 6, 8, 0, 0))) {
  let t = start.getTime();
  return {
    now: () => new Date(t),
    set: (d: Date) => void (t = d.getTime()),
    advanceHours: (h: number) => void (t += h * HOUR_MS),
    /** `start` + hours. */
    at: (h: number) => new Date(start.getTime() + h * HOUR_MS),
  };
}

/** A materials service over the test database judging by the given clock. */
export function clockedMaterials(clock: { now: () => Date }, opts: Parameters<typeof createMaterialsService>[2] = {}): MaterialsService {
  const s = testServices();
  return createMaterialsService(testDb(), { parts: s.parts, products: s.products, factory: s.factory }, { ...opts, now: clock.now });
}

/** Site → line → placement station → machine (and a second machine on the same line). */
export async function makeMachine() {
  const s = testServices();
  const site = await s.factory.sites.create(system, { code: uniq('S'), name: 'site' });
  const line = await s.factory.lines.create(system, { siteId: site.id, code: uniq('L'), name: 'line' });
  const station = await s.factory.stations.create(system, { lineId: line.id, code: uniq('ST'), name: 'placement', type: 'placement' });
  const equipment = await s.factory.equipment.create(system, { stationId: station.id, code: uniq('EQ'), name: 'placement 1' });
  const other = await s.factory.equipment.create(system, { stationId: station.id, code: uniq('EQ'), name: 'placement 2' });
  return { site, line, station, equipment, other };
}

/**
 * A released product (3 parts: part 0 is MSL 3, the others MSL 1; AVL Acme `${code}-MPN${i}`),
 * its released placement program with slots S1–S3, and a machine.
 */
export async function makeScenario() {
  const product = await makeProduct();
  const machine = await makeMachine();
  const code = product.product.code;
  const mpns = product.partIpns.map((_, i) => `${code}-MPN${i}`);
  return { ...product, ...machine, mpns };
}

export type Scenario = Awaited<ReturnType<typeof makeScenario>>;

/** Receives a package of part `i` of the scenario (its approved Acme MPN) with a fresh lot code. */
export async function receivePart(svc: MaterialsService, sc: Scenario, i: number, over: Partial<ReceiveInput> = {}) {
  return svc.receive(system, { ipn: sc.partIpns[i]!, manufacturer: 'Acme', mpn: sc.mpns[i]!, quantity: 1000, lotCode: uniq('LOT'), dateCode: '2405', ...over });
}

/** A real (planned) work order of the scenario's product revision, for columns that reference work orders. */
export async function makeWorkOrderId(sc: { revision: { id: number } }): Promise<number> {
  const wo = await testServices().workOrders.create(system, { number: uniq('WO-'), customer: 'c', customerPo: uniq('PO'), productRevisionId: sc.revision.id, quantity: 1 });
  return wo.id;
}
