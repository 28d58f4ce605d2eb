import type { ApplyInput, InstallInput, ManualMsdEvent, MaterialPackage, MaterialsService, SpliceInput, SpliceResult, UninstallInput } from '../../../modules/materials/index.ts';
import type { MaterialLocation, SupportedMessageName } from '../messages.ts';
import { refusalOf } from './production.ts';
import { applied, pending, recorded, rejected, type HandlerContext, type HandlerResult, type HandlerSpec, type Machine, type Rejection } from './types.ts';

/**
 * Material messages → the materials service: feeder loading is verified exactly as a scan at
 * the machine is (`verifyLoad`, against the program of the line's active work order), unloads,
 * empties, splices, joins, splits and MSD events go through the same functions as the REST API.
 * Component-level traceability (MaterialsInstalled / Uninstalled / Applied) goes to the same
 * M3 service functions as POST /api/v1/materials/installs, /uninstalls and /applied.
 */

const m = (ctx: HandlerContext): Machine => ctx.machine!;
const NO_MATERIALS = 'materials service not available: message kept for later';

/** The placement program the machine runs: from the line's active work order's build basis, else by its active recipe. */
export interface ResolvedProgram {
  programId: number;
  programName: string;
  revision: string;
  workOrderId: number | null;
  slots: { slot: string; ipn: string; partId: number }[];
  /** Permitted MPNs per part id, from the work order's build basis (empty without one). */
  mpns: Map<number, string[]>;
}

export async function resolveProgram(ctx: HandlerContext): Promise<ResolvedProgram | Rejection> {
  // Once per machine and batch (a RecipeActivated in the batch makes it read again).
  return ctx.remember(`program:${m(ctx).equipmentId}`, () => findProgram(ctx));
}

async function findProgram(ctx: HandlerContext): Promise<ResolvedProgram | Rejection> {
  const mc = m(ctx);
  const { workOrders, equipment, products } = ctx.deps;
  if (workOrders && mc.lineId !== null) {
    const wo = await workOrders.activeOnLine(mc.lineId, ctx.tx);
    if (wo?.basisId && wo.basisHash) {
      const basis = await workOrders.loadBasis(wo.basisId, wo.basisHash, ctx.tx);
      const fits = basis.basis.programs.filter(
        (p) => p.stationType === mc.stationType && (p.stationId === null || p.stationId === mc.stationId) && (p.equipmentId === null || p.equipmentId === mc.equipmentId),
      );
      const p = fits.find((x) => x.equipmentId === mc.equipmentId) ?? fits.find((x) => x.stationId === mc.stationId) ?? fits[0];
      if (p) {
        const mpns = new Map<number, string[]>();
        for (const a of basis.basis.avl) if (a.permitted) mpns.set(a.partId, [...(mpns.get(a.partId) ?? []), a.mpn]);
        return { programId: p.id, programName: p.name, revision: p.revision, workOrderId: wo.id, slots: p.slots, mpns };
      }
    }
  }
  const recipe = await ctx.activeRecipe(mc.equipmentId, new Date());
  if (recipe) {
    const ps = (await products.listPrograms({ name: recipe.recipeName }, ctx.tx)).filter(
      (p) => p.state === 'released' && p.stationType === mc.stationType && (recipe.revision === null || p.revision === recipe.revision),
    );
    const p = ps.find((x) => x.equipmentId === mc.equipmentId) ?? ps.find((x) => x.stationId === mc.stationId) ?? ps.at(-1);
    if (p) return { programId: p.id, programName: p.name, revision: p.revision, workOrderId: null, slots: p.slots, mpns: new Map() };
  }
  return {
    code: 'NO_PROGRAM',
    message: `no program for ${mc.equipmentCode}: the line has no active work order with a ${mc.stationType} program, and no released program matches the machine's active recipe`,
  };
}

async function packageByCode(materials: MaterialsService, code: string): Promise<MaterialPackage | Rejection> {
  try {
    return await materials.getPackageByCode(code);
  } catch (e) {
    const r = refusalOf(e);
    if (!r) throw e;
    return r.code === 'NOT_FOUND' ? { code: 'PACKAGE_UNKNOWN', message: `package ${code} is not known to the MES` } : r;
  }
}
export const isRejection = (x: unknown): x is Rejection => typeof x === 'object' && x !== null && 'code' in x && 'message' in x && !('id' in x);

/** Runs one step per item; refusals are collected so one bad reel does not hide the others' outcome. */
async function each<T>(items: readonly T[], fn: (item: T) => Promise<Rejection | string | null>): Promise<HandlerResult> {
  const refusals: Rejection[] = [];
  const notes: string[] = [];
  for (const item of items) {
    try {
      const r = await fn(item);
      if (typeof r === 'string') notes.push(r);
      else if (r) refusals.push(r);
    } catch (e) {
      const r = refusalOf(e);
      if (!r) throw e;
      refusals.push(r);
    }
  }
  if (refusals.length) return rejected(refusals[0]!.code, refusals.map((r) => r.message).join('; '), refusals[0]!.errors ? { errors: refusals[0]!.errors } : {});
  return applied(notes.length ? notes.join('; ') : undefined);
}

async function load(ctx: HandlerContext, materials: MaterialsService, loc: MaterialLocation): Promise<Rejection | string | null> {
  const mc = m(ctx);
  const slot = loc.locationName ?? loc.locationIdentifier;
  if (!slot) return { code: 'CFX_NO_SLOT', message: `material ${loc.materialPackage.uniqueIdentifier} has no LocationName / LocationIdentifier (slot)` };
  const prog = await resolveProgram(ctx);
  if (isRejection(prog)) return prog;
  const v = await materials.verifyLoad(
    ctx.principal,
    {
      equipmentId: mc.equipmentId, slot, feederId: loc.carrierInformation?.uniqueIdentifier ?? null, packageCode: loc.materialPackage.uniqueIdentifier,
      programId: prog.programId, workOrderId: prog.workOrderId, splice: false,
    },
    ctx.tx,
  );
  if (v.accepted) return v.alreadyLoaded ? `${loc.materialPackage.uniqueIdentifier} already verified on ${slot}` : null;
  return { code: v.reason?.code ?? 'LOAD_REFUSED', message: `${loc.materialPackage.uniqueIdentifier} on ${slot}: ${v.message} (FailureCode ${v.reason?.failureCode ?? 0})` };
}

async function empty(ctx: HandlerContext, materials: MaterialsService, code: string): Promise<Rejection | string | null> {
  const pkg = await packageByCode(materials, code);
  if (isRejection(pkg)) return pkg;
  if (pkg.status === 'empty') return `${code} was already empty`;
  await materials.markEmpty(ctx.principal, pkg.id, { reason: `CFX ${ctx.envelope.messageName.split('.').at(-1)} from ${m(ctx).equipmentCode}` });
  return null;
}

/** A splice's outcome, as the two steps (empty the depleted reel, load the new one) gave it. */
function spliceOutcome(r: SpliceResult, slot: string | null, prog: ResolvedProgram | Rejection): HandlerResult {
  const refusals: Rejection[] = [];
  const notes: string[] = [];
  const d = r.depleted;
  if (d.outcome === 'unknown') refusals.push({ code: 'PACKAGE_UNKNOWN', message: `package ${r.input.depletedCode} is not known to the MES` });
  else if (d.outcome === 'already-empty') notes.push(`${r.input.depletedCode} was already empty`);
  else if (d.outcome === 'refused') refusals.push(refusalOf(d.error) ?? { code: d.error.code, message: d.error.message });
  const l = r.load;
  if (l.outcome === 'unknown') refusals.push({ code: 'PACKAGE_UNKNOWN', message: `package ${r.input.newCode} is not known to the MES` });
  else if (l.outcome === 'no-program') {
    refusals.push(!slot ? { code: 'CFX_NO_SLOT', message: `material ${r.input.newCode} has no LocationName / LocationIdentifier (slot)` } : isRejection(prog) ? prog : { code: 'NO_PROGRAM', message: 'no program' });
  } else if (l.outcome === 'verified') {
    const v = l.verdict;
    if (!v.accepted) refusals.push({ code: v.reason?.code ?? 'LOAD_REFUSED', message: `${r.input.newCode} on ${slot}: ${v.message} (FailureCode ${v.reason?.failureCode ?? 0})` });
    else if (v.alreadyLoaded) notes.push(`${r.input.newCode} already verified on ${slot}`);
  }
  if (refusals.length) return rejected(refusals[0]!.code, refusals.map((x) => x.message).join('; '), refusals[0]!.errors ? { errors: refusals[0]!.errors } : {});
  return applied(notes.length ? notes.join('; ') : undefined);
}

const MSD_EVENTS: Partial<Record<SupportedMessageName, ManualMsdEvent>> = {
  'CFX.Materials.Management.MSDManagement.MaterialsOpened': 'opened',
  'CFX.Materials.Management.MSDManagement.MaterialsPlacedInDryStorage': 'dry-storage-in',
  'CFX.Materials.Management.MSDManagement.MaterialsRemovedFromDryStorage': 'dry-storage-out',
  'CFX.Materials.Management.MSDManagement.MaterialsExpired': 'expired',
};

type MsdName =
  | 'CFX.Materials.Management.MSDManagement.MaterialsOpened'
  | 'CFX.Materials.Management.MSDManagement.MaterialsPlacedInDryStorage'
  | 'CFX.Materials.Management.MSDManagement.MaterialsRemovedFromDryStorage'
  | 'CFX.Materials.Management.MSDManagement.MaterialsExpired';

function msdHandler<K extends MsdName>(name: K): HandlerSpec<K> {
  return {
    name,
    async handle(ctx, b) {
      const materials = ctx.deps.materials;
      if (!materials) return recorded(NO_MATERIALS);
      const type = MSD_EVENTS[name]!;
      // A machine clock slightly ahead must not make the event "in the future".
      const at = new Date(Math.min(ctx.envelope.timeStamp.getTime(), materials.now().getTime()));
      return each(b.materials, async (d) => {
        const pkg = await packageByCode(materials, d.uniqueIdentifier);
        if (isRejection(pkg)) return pkg;
        await materials.recordMsdEvent(ctx.principal, pkg.id, { type, at, note: `CFX from ${ctx.machine?.equipmentCode ?? ctx.envelope.source ?? 'unknown'}` });
        return null;
      });
    },
  };
}

const keep = <K extends SupportedMessageName>(name: K, detail: string): HandlerSpec<K> => ({ name, handle: async () => recorded(detail) });

export const materialsHandlers = [
  {
    name: 'CFX.Materials.Storage.MaterialsLoaded',
    async handle(ctx, b) {
      const materials = ctx.deps.materials;
      if (!materials) return recorded(NO_MATERIALS);
      return each(b.materials, (loc) => load(ctx, materials, loc));
    },
  } satisfies HandlerSpec<'CFX.Materials.Storage.MaterialsLoaded'>,
  {
    name: 'CFX.Materials.Storage.MaterialsUnloaded',
    async handle(ctx, b) {
      const materials = ctx.deps.materials;
      if (!materials) return recorded(NO_MATERIALS);
      const mc = m(ctx);
      return each(b.materialPackageIdentifiers, async (code) => {
        const pkg = await packageByCode(materials, code);
        if (isRejection(pkg)) return pkg;
        const setups = await materials.listSetups({ equipmentId: mc.equipmentId, packageId: pkg.id, active: true });
        if (setups.length === 0) return `${code} was not loaded on ${mc.equipmentCode}`;
        for (const s of setups) await materials.unload(ctx.principal, { equipmentId: mc.equipmentId, slot: s.slot, packageId: pkg.id, reason: 'CFX MaterialsUnloaded' });
        return null;
      });
    },
  } satisfies HandlerSpec<'CFX.Materials.Storage.MaterialsUnloaded'>,
  {
    name: 'CFX.Materials.Storage.MaterialsEmpty',
    async handle(ctx, b) {
      const materials = ctx.deps.materials;
      if (!materials) return recorded(NO_MATERIALS);
      return each(b.emptyMaterials, (loc) => empty(ctx, materials, loc.materialPackage.uniqueIdentifier));
    },
  } satisfies HandlerSpec<'CFX.Materials.Storage.MaterialsEmpty'>,
  {
    name: 'CFX.Materials.Storage.SplicePointDetected',
    async handle(ctx, b) {
      const materials = ctx.deps.materials;
      if (!materials) return recorded(NO_MATERIALS);
      const mc = m(ctx);
      // The old reel ran out at the splice: it empties (a verified splice then feeds the slot);
      // a new reel the MES has not seen on this machine is verified for the slot now. The
      // splices of a machine applied together are one call of the materials service (joint).
      const next = b.newlyActiveMaterial;
      const slot = next.locationName ?? next.locationIdentifier ?? b.depletedMaterial.locationName ?? b.depletedMaterial.locationIdentifier;
      const prog = await resolveProgram(ctx);
      const input: SpliceInput = {
        equipmentId: mc.equipmentId, slot: slot ?? '', depletedCode: b.depletedMaterial.materialPackage.uniqueIdentifier, newCode: next.materialPackage.uniqueIdentifier,
        feederId: next.carrierInformation?.uniqueIdentifier ?? null, programId: isRejection(prog) || !slot ? null : prog.programId, workOrderId: isRejection(prog) ? null : prog.workOrderId,
        reason: `CFX SplicePointDetected from ${mc.equipmentCode}`,
      };
      await ctx.joint(`materials.splices:${ctx.principal.name}`, [input], (all) => materials.splices(ctx.principal, all, ctx.tx), async (r) => {
        if (!r.ok) {
          const ref = refusalOf(r.error);
          if (!ref) throw r.error;
          return rejected(ref.code, ref.message, ref.errors ? { errors: ref.errors } : {});
        }
        return spliceOutcome(r.value.find((x) => x.input === input)!, slot, prog);
      });
      return pending();
    },
  } satisfies HandlerSpec<'CFX.Materials.Storage.SplicePointDetected'>,
  {
    name: 'CFX.Materials.Management.MaterialsJoined',
    async handle(ctx, b) {
      const materials = ctx.deps.materials;
      if (!materials) return recorded(NO_MATERIALS);
      const lead = await packageByCode(materials, b.leadingMaterialPackage.uniqueIdentifier);
      if (isRejection(lead)) return rejected(lead.code, lead.message);
      const trail = await packageByCode(materials, b.trailingMaterialPackage.uniqueIdentifier);
      if (isRejection(trail)) return rejected(trail.code, trail.message);
      try {
        await materials.merge(ctx.principal, lead.id, { sourceIds: [trail.id], reason: 'CFX MaterialsJoined' });
      } catch (e) {
        const r = refusalOf(e);
        if (!r) throw e;
        return rejected(r.code, r.message, r.errors ? { errors: r.errors } : {});
      }
      return applied();
    },
  } satisfies HandlerSpec<'CFX.Materials.Management.MaterialsJoined'>,
  {
    name: 'CFX.Materials.Management.MaterialsSplit',
    async handle(ctx, b) {
      const materials = ctx.deps.materials;
      if (!materials) return recorded(NO_MATERIALS);
      if (b.newMaterialPackageQuantity === null || !(b.newMaterialPackageQuantity > 0)) {
        return rejected('CFX_INVALID', 'MaterialsSplit needs NewMaterialPackageQuantity > 0 to split a package', { field: 'MessageBody.NewMaterialPackageQuantity' });
      }
      const src = await packageByCode(materials, b.sourceMaterialPackageIdentifier);
      if (isRejection(src)) return rejected(src.code, src.message);
      try {
        await materials.split(ctx.principal, src.id, { quantity: b.newMaterialPackageQuantity, code: b.newMaterialPackageIdentifier, reason: 'CFX MaterialsSplit' });
      } catch (e) {
        const r = refusalOf(e);
        if (!r) throw e;
        return rejected(r.code, r.message, r.errors ? { errors: r.errors } : {});
      }
      return applied();
    },
  } satisfies HandlerSpec<'CFX.Materials.Management.MaterialsSplit'>,
  msdHandler('CFX.Materials.Management.MSDManagement.MaterialsOpened'),
  msdHandler('CFX.Materials.Management.MSDManagement.MaterialsPlacedInDryStorage'),
  msdHandler('CFX.Materials.Management.MSDManagement.MaterialsRemovedFromDryStorage'),
  msdHandler('CFX.Materials.Management.MSDManagement.MaterialsExpired'),
  keep('CFX.Materials.Management.MSDManagement.MaterialsRestored', 'MSD restore kept with the message: the materials service records floor-life resets only as bakes with oven, temperature and duration, which the message does not carry'),
  {
    name: 'CFX.Production.Assembly.MaterialsInstalled',
    async handle(ctx, b) {
      const materials = ctx.deps.materials;
      if (!materials) return recorded(NO_MATERIALS);
      const mc = m(ctx);
      const items: InstallInput[] = [];
      let skipped = 0;
      for (const [i, e] of b.installedMaterials.entries()) {
        const unit = await unitOf(ctx, e.unitIdentifier, b.transactionId);
        if (isRejection(unit)) return rejected(unit.code, unit.message, { field: `MessageBody.InstalledMaterials[${i}].UnitIdentifier` });
        // Components may name their own unit (InstalledUnitIdentifier); group by unit and time.
        const groups = new Map<string, InstallInput>();
        for (const c of e.installedComponents) {
          const u = c.installedUnitIdentifier && c.installedUnitIdentifier.trim() !== '' ? c.installedUnitIdentifier : unit;
          const at = capped(ctx, materials, c.installationTime ?? ctx.envelope.timeStamp);
          const key = `${u}|${at.getTime()}`;
          let g = groups.get(key);
          if (!g) {
            groups.set(key, (g = {
              unit: u, position: u === unit ? e.unitPositionNumber : null, packageCode: e.material.uniqueIdentifier, refdes: [], equipmentId: mc.equipmentId,
              stationId: mc.stationId, slot: e.carrierLocation?.locationName ?? e.carrierLocation?.locationIdentifier ?? null, installedAt: at,
            }));
          }
          g.refdes.push(c.referenceDesignator);
        }
        if (groups.size === 0) skipped++;
        items.push(...groups.values());
      }
      if (items.length === 0) return recorded('no installed components with reference designators: nothing to trace at M3');
      // One call for the installations of every message of this machine applied together (HandlerContext.joint).
      const designators = items.reduce((n, it) => n + it.refdes.length, 0);
      const note = skipped ? `; ${skipped} entr(ies) without designators` : '';
      await ctx.joint(`materials.installs:${ctx.principal.name}`, items, (all) => materials.recordInstalls(ctx.principal, all, 'cfx', ctx.tx), async (r) => {
        if (!r.ok) {
          const ref = refusalOf(r.error);
          if (!ref) throw r.error;
          return rejected(ref.code, ref.message, ref.errors ? { errors: ref.errors } : {});
        }
        const v = r.value;
        return applied(
          r.joined
            ? `${designators} designator(s) recorded, together with other messages (in all ${v.installed} installed, ${v.replaced} replaced, ${v.unchanged} already known)${note}`
            : `${v.installed} designator(s) installed, ${v.replaced} replaced, ${v.unchanged} already known${note}`,
        );
      });
      return pending();
    },
  } satisfies HandlerSpec<'CFX.Production.Assembly.MaterialsInstalled'>,
  {
    name: 'CFX.Production.Assembly.MaterialsUninstalled',
    async handle(ctx, b) {
      const materials = ctx.deps.materials;
      if (!materials) return recorded(NO_MATERIALS);
      const items: UninstallInput[] = [];
      for (const [i, e] of b.uninstalledMaterials.entries()) {
        const unit = await unitOf(ctx, e.unitIdentifier, null);
        if (isRejection(unit)) return rejected(unit.code, unit.message, { field: `MessageBody.UninstalledMaterials[${i}].UnitIdentifier` });
        if (e.uninstalledComponents.length === 0) continue;
        const installedAt = e.uninstalledComponents.map((c) => c.installationTime).find((t) => t !== null) ?? null;
        items.push({
          unit, position: e.unitPositionNumber, packageCode: e.material.uniqueIdentifier, refdes: e.uninstalledComponents.map((c) => c.referenceDesignator),
          installedAt, reason: `CFX MaterialsUninstalled${e.reason ? `: ${e.reason}` : ''} (${m(ctx).equipmentCode})`, at: capped(ctx, materials, ctx.envelope.timeStamp),
        });
      }
      if (items.length === 0) return recorded('no uninstalled components with reference designators');
      try {
        const r = await materials.recordUninstalls(ctx.principal, items, 'cfx', ctx.tx);
        return applied(`${r.removed} designator(s) removed`);
      } catch (e) {
        const r = refusalOf(e);
        if (!r) throw e;
        return rejected(r.code, r.message, r.errors ? { errors: r.errors } : {});
      }
    },
  } satisfies HandlerSpec<'CFX.Production.Assembly.MaterialsUninstalled'>,
  {
    name: 'CFX.Production.Application.MaterialsApplied',
    async handle(ctx, b) {
      const materials = ctx.deps.materials;
      if (!materials) return recorded(NO_MATERIALS);
      const mc = m(ctx);
      const items: ApplyInput[] = [];
      for (const [i, e] of b.appliedMaterials.entries()) {
        const unit = await unitOf(ctx, e.unitIdentifier, b.transactionId);
        if (isRejection(unit)) return rejected(unit.code, unit.message, { field: `MessageBody.AppliedMaterials[${i}].UnitIdentifier` });
        const measured = e.quantityApplied?.value ?? null;
        items.push({
          unit, position: e.unitPositionNumber, packageCode: e.material.uniqueIdentifier, quantity: measured ?? e.quantityInstalled,
          quantityUnit: measured !== null ? e.quantityApplied?.valueUnits ?? null : null, equipmentId: mc.equipmentId, stationId: mc.stationId,
          appliedAt: capped(ctx, materials, ctx.envelope.timeStamp),
        });
      }
      if (items.length === 0) return recorded('no applied materials');
      try {
        const r = await materials.recordApplied(ctx.principal, items, 'cfx', ctx.tx);
        return applied(`${r.applied} application(s) recorded`);
      } catch (e) {
        const r = refusalOf(e);
        if (!r) throw e;
        return rejected(r.code, r.message, r.errors ? { errors: r.errors } : {});
      }
    },
  } satisfies HandlerSpec<'CFX.Production.Application.MaterialsApplied'>,
];

/** A machine clock slightly ahead must not put an installation in the future of the MES clock. */
function capped(_ctx: HandlerContext, materials: MaterialsService, at: Date): Date {
  return new Date(Math.min(at.getTime(), materials.now().getTime()));
}

/** The unit an entry names, or (no UnitIdentifier) the single unit of its production transaction on this machine. */
async function unitOf(ctx: HandlerContext, identifier: string | null, transactionId: string | null): Promise<string | Rejection> {
  if (identifier && identifier.trim() !== '') return identifier;
  if (transactionId) {
    const ids = (await ctx.transactions.get(transactionId))?.identifiers ?? [];
    if (ids.length === 1) return ids[0]!;
    return { code: 'CFX_NO_UNITS', message: `the entry names no unit and transaction ${transactionId} ${ids.length ? `has ${ids.length} units` : 'is unknown on this machine'}` };
  }
  return { code: 'CFX_NO_UNITS', message: 'the entry names no UnitIdentifier and the message no TransactionId' };
}
