import { makeQualityWorkOrder, system, testDb } from '../helpers.ts';
import { pass, s, units, type Made } from '../quality/support.ts';

/** Shipping test support: units that are ready to pack, cartons, refusals. */

export { s, pass, units, type Made };

/** A work order whose quality plan requires an AOI result (route: print → place → AOI). */
export function makeShippable(plan: Parameters<typeof makeQualityWorkOrder>[0] extends infer O ? O extends { plan?: infer P } ? P : never : never = {}, extra: Omit<Parameters<typeof makeQualityWorkOrder>[0] & object, 'plan'> = {}) {
  return makeQualityWorkOrder({ ...extra, plan: { requiredSteps: ['aoi'], ...plan } });
}

/** Units that passed every step and have a passing AOI result. */
export async function goodUnits(m: Made, n: number, opts: { lotId?: number } = {}): Promise<string[]> {
  const serials = (await s().tracking.generateUnits(system, { workOrder: m.wo.id, count: n, lotId: opts.lotId ?? null })).serials;
  for (const u of serials) await finish(m, u);
  return serials;
}

export async function finish(m: Made, serial: string) {
  for (const t of ['printer', 'placement', 'aoi']) await pass(m, t, serial);
  await s().quality.recordResult(system, { stationId: m.stations.aoi!.id, unit: serial, method: 'aoi', result: 'pass' });
}

/** The refusal codes of a pack attempt ([] when it was packed). */
export async function packCodes(cartonId: number, identifier: string, stationId?: number): Promise<string[]> {
  try {
    await s().shipping.pack(system, cartonId, { identifier, stationId });
    return [];
  } catch (e) {
    const d = (e as { code?: string; details?: { refusals?: { code: string }[] } });
    if (d.code !== 'PACKING_REFUSED') throw e;
    return d.details!.refusals!.map((r) => r.code);
  }
}

export async function lastRefusal(identifier: string) {
  return testDb().one<{ codes: string[]; details: { refusals: { code: string; message: string }[] } }>(
    'SELECT codes, details FROM shipping_pack_refusals WHERE identifier = $1 ORDER BY id DESC LIMIT 1',
    [identifier],
  );
}
