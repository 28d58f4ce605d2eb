import { expect } from 'vitest';
import { makeQualityWorkOrder, system, testServices } from '../helpers.ts';

/** Quality test support: moving units, reading interlock verdicts. */

export const s = () => testServices();
export type Made = Awaited<ReturnType<typeof makeQualityWorkOrder>>;

export async function units(m: Made, count = 1): Promise<string[]> {
  return (await s().tracking.generateUnits(system, { workOrder: m.wo.id, count })).serials;
}

export const pass = (m: Made, type: string, identifier: string, result: 'pass' | 'fail' | 'scrap' = 'pass', extra: { completedAt?: Date; startedAt?: Date } = {}) =>
  s().tracking.complete(system, { stationId: m.stations[type]!.id, identifier, result, ...extra });

/** The codes refusing the unit at the station type (validate phase). */
export async function codes(m: Made, type: string, identifier: string): Promise<string[]> {
  const v = await s().tracking.validate(system, { stationId: m.stations[type]!.id, identifier });
  expect(v.go).toBe(v.units.every((u) => u.refusals.length === 0 || u.result === 'skipped'));
  return v.units.flatMap((u) => u.refusals.map((r) => r.code));
}

/** The refusal (code + message) complete gets, or null when it went through. */
export async function completeRefusal(m: Made, type: string, identifier: string): Promise<{ code: string; message: string } | null> {
  try {
    await pass(m, type, identifier);
    return null;
  } catch (e) {
    const v = (e as { details?: { verdict?: { primary?: { code: string; message: string } } } }).details?.verdict?.primary;
    if (!v) throw e;
    return v;
  }
}

export async function thrown(p: Promise<unknown>): Promise<{ code: string; message: string; details?: Record<string, unknown>; status?: number }> {
  try {
    await p;
  } catch (e) {
    return e as { code: string; message: string; details?: Record<string, unknown> };
  }
  throw new Error('expected a refusal');
}
