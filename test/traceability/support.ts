import { makeQualityWorkOrder, system, testServices, uniq } from '../helpers.ts';

/**
 * Traceability test support: a line with a printer (paste jar and stencil mounted) and a
 * placement machine loaded with one package per program slot, for a work order whose AOI holds
 * a failed unit (onFail hold) and has a repair step.
 */

export const s = () => testServices();
export type Line = Awaited<ReturnType<typeof makeTraceLine>>;

export const TRACE_ROUTE = [
  { seq: 10, name: 'Print', stationType: 'printer' as const },
  { seq: 20, name: 'Place', stationType: 'placement' as const },
  { seq: 30, name: 'AOI', stationType: 'aoi' as const, onFail: 'hold' as const, repairStepSeq: 90, returnStepSeq: 30 },
  { seq: 90, name: 'Repair', stationType: 'rework' as const, isRepair: true },
];

export async function makeTraceLine(opts: { customer?: string; mount?: boolean } = {}) {
  const m = await makeQualityWorkOrder({ route: TRACE_ROUTE, plan: { requiredSteps: ['aoi'] }, customer: opts.customer ?? uniq('Customer ') });
  const printer = await s().factory.equipment.create(system, { stationId: m.stations.printer!.id, code: uniq('PRN'), name: 'printer' });
  const placer = await s().factory.equipment.create(system, { stationId: m.stations.placement!.id, code: uniq('PNP'), name: 'placer' });
  const code = m.product.code;
  const receive = (i: number, over: { lotCode?: string; dateCode?: string } = {}) =>
    s().materials.receive(system, { ipn: m.partIpns[i]!, manufacturer: 'Acme', mpn: `${code}-MPN${i}`, quantity: 1000, lotCode: over.lotCode ?? uniq('LOT'), dateCode: over.dateCode ?? '2405' });
  const load = async (packageId: number, slot: string) => {
    const v = await s().materials.verifyLoad(system, { equipmentId: placer.id, slot, packageId, programId: m.program.id, workOrderId: m.wo.id });
    if (!v.accepted) throw new Error(`load refused: ${JSON.stringify(v.reasons)}`);
    return v;
  };
  // One package per slot (part i in slot S(i+1)).
  const reels = [];
  for (let i = 0; i < 3; i++) {
    const r = await receive(i);
    await load(r.package.id, `S${i + 1}`);
    reels.push(r);
  }
  let paste: { id: number; code: string } | null = null;
  let stencil: { id: number; code: string } | null = null;
  if (opts.mount !== false) {
    const ipn = uniq('PASTE');
    await s().parts.parts.create(system, { ipn, description: 'SAC305 paste', placed: false });
    await s().parts.upsertAvlEntry(system, { ipn, manufacturer: 'Solderco', mpn: `${ipn}-500G` });
    const jar = (await s().materials.receive(system, { ipn, mpn: `${ipn}-500G`, quantity: 500, kind: 'paste-jar', lotCode: uniq('PL'), expiresAt: new Date(Date.now() + 90 * 86400_000) })).package;
    await s().materials.thawPaste(system, jar.id, { at: new Date(Date.now() - 6 * 3600_000) });
    await s().materials.mountPaste(system, { equipmentId: printer.id, packageId: jar.id });
    const st = await s().materials.createStencil(system, { code: uniq('STN-'), productRevisionId: m.revision.id, cleaningInterval: 1000, thicknessUm: 120 });
    await s().materials.mountStencil(system, { equipmentId: printer.id, stencilId: st.id, productRevisionId: m.revision.id });
    paste = { id: jar.id, code: jar.code };
    stencil = { id: st.id, code: st.code };
  }
  return { ...m, printer, placer, receive, load, reels, paste, stencil };
}

export const newUnits = async (l: Line, n = 1, lotId?: number) => (await s().tracking.generateUnits(system, { workOrder: l.wo.id, count: n, lotId: lotId ?? null })).serials;

/** Completes a step of the unit at the station type (with the machine for printer / placement). */
export async function step(l: Line, type: 'printer' | 'placement' | 'aoi' | 'rework', serial: string, result: 'pass' | 'fail' | 'scrap' = 'pass', extra: { operator?: string; completedAt?: Date; programName?: string; programRevision?: string } = {}) {
  const at = type === 'printer' ? { equipment: l.printer.code } : type === 'placement' ? { equipment: l.placer.code } : { stationId: l.stations[type]!.id };
  return s().tracking.complete(system, { ...at, identifier: serial, result, ...extra });
}

/** Print, place and a passing AOI (result recorded): a finished unit. */
export async function build(l: Line, serial: string, extra: { operator?: string } = {}) {
  await step(l, 'printer', serial, 'pass', extra);
  await step(l, 'placement', serial, 'pass', extra);
  await step(l, 'aoi', serial, 'pass', extra);
  await s().quality.recordResult(system, { stationId: l.stations.aoi!.id, unit: serial, method: 'aoi', result: 'pass' });
}

export async function thrown(p: Promise<unknown>): Promise<{ code: string; message: string; status?: number; details?: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    return e as { code: string; message: string };
  }
  throw new Error('expected a refusal');
}
