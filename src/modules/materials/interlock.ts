import type { Queryable } from '../../platform/db.ts';
import type { InterlockCall, InterlockRule, InterlockSubject, TrackingService } from '../tracking/index.ts';
import { pasteProblems, stencilProblems, type PasteSubject, type StencilSubject } from './consumables.ts';
import type { MslEvent, MslLevel } from './lib/msl.ts';
import type { MsdView } from './packages.ts';
import { MATERIALS_INTERLOCK_REASONS, type MaterialsInterlockCode } from './reasons.ts';

/**
 * The setup-completeness interlock: at a placement or printer station, `validate` and `start`
 * refuse units until the machine is set up for the work order's build basis.
 *
 * - Placement (SETUP_INCOMPLETE, SETUP_PROGRAM_MISMATCH): every slot of the basis program for
 *   that machine has an active feeder setup verified against that very program, and the package
 *   on it is still usable now (not blocked / quarantined / empty / scrapped, lot not on hold or
 *   expired, MSD floor life not run out); the machine's active setups and its reported recipe
 *   (CFX RecipeActivated) are for the basis program and revision.
 * - Printer (STENCIL_NOT_READY, PASTE_NOT_READY, SETUP_PROGRAM_MISMATCH): a stencil valid for the
 *   product revision and a usable paste jar are mounted; the reported recipe matches the basis
 *   printer program when the basis has one.
 *
 * Which machines: the call's machine, else every machine of the station. By default only
 * machines under MES setup control are checked, i.e. machines that have had a feeder setup or a
 * consumable mount recorded (scope `managed`); scope `all` checks every machine (a machine with
 * nothing recorded is then refused). Stations without registered machines are not checked.
 *
 * Cost: one named query per machine (active setups with their packages, mounts, the last recipe)
 * per interlock data epoch — tracking reads the epoch with the units and it moves with every
 * committed change to equipment, setups, mounts, stencils, paste jars, MSD events, package
 * status, lot hold / expiry / MSL and recipes (migration 0043) — the rest in memory, judged
 * against the clock at each call (expiry, floor life, thaw and open times); nothing per unit.
 */

export type SetupInterlockScope = 'managed' | 'all';

const DATA = 'materials.setup';
const TYPES = ['placement', 'printer'];

interface SetupRow {
  slot: string; programId: number; partId: number; packageCode: string; status: string; lotOnHold: boolean; lotExpiresAt: string | null;
  mslLevel: MslLevel; mslTimeOnLabelHours: number | null; events: Array<{ type: MslEvent['type']; at: string }> | null;
}
interface MachineRow {
  id: number; code: string; managed: boolean;
  setups: SetupRow[] | null;
  programs: Array<{ id: number; name: string; revision: string }> | null;
  stencil: (Omit<StencilSubject, 'productRevisionId'> & { productRevisionId: number }) | null;
  paste: (Omit<PasteSubject, 'lotExpiresAt' | 'paste'> & { lotExpiresAt: string | null; minThawHours: number; maxOpenHours: number; thawStartedAt: string | null; openedAt: string | null }) | null;
  recipe: { name: string; revision: string | null } | null;
}

export const SETUP_INTERLOCK_SQL = `
  SELECT e.id, e.code,
         (EXISTS (SELECT 1 FROM feeder_setups f WHERE f.equipment_id = e.id) OR EXISTS (SELECT 1 FROM consumable_mounts c WHERE c.equipment_id = e.id)) AS managed,
         (SELECT json_agg(json_build_object('slot', fs.slot, 'programId', fs.program_id, 'partId', l.part_id, 'packageCode', pk.code, 'status', pk.status,
                   'lotOnHold', l.on_hold OR EXISTS (SELECT 1 FROM quality_holds h WHERE h.released_at IS NULL
                                                       AND ((h.scope = 'material_lot' AND h.material_lot_id = l.id) OR (h.scope = 'package' AND h.package_id = pk.id))),
                   'lotExpiresAt', l.expires_at, 'mslLevel', COALESCE(l.msl_level, p.msl_level), 'mslTimeOnLabelHours', l.msl_time_on_label_hours,
                   'events', CASE WHEN COALESCE(l.msl_level, p.msl_level) <> '1' THEN
                     (SELECT json_agg(json_build_object('type', me.type, 'at', me.at) ORDER BY me.at, me.id) FROM msd_events me WHERE me.package_id = pk.id) END))
            FROM feeder_setups fs JOIN material_packages pk ON pk.id = fs.package_id JOIN material_lots l ON l.id = pk.material_lot_id JOIN parts p ON p.id = l.part_id
           WHERE fs.equipment_id = e.id AND fs.unloaded_at IS NULL) AS setups,
         (SELECT json_agg(json_build_object('id', g.id, 'name', g.name, 'revision', g.revision)) FROM programs g
           WHERE g.id IN (SELECT fs.program_id FROM feeder_setups fs WHERE fs.equipment_id = e.id AND fs.unloaded_at IS NULL)) AS programs,
         (SELECT json_build_object('code', s.code, 'status', s.status, 'productRevisionId', s.product_revision_id, 'usageSinceCleaning', s.usage_count - s.usage_at_last_cleaning,
                   'cleaningInterval', s.cleaning_interval, 'maxUsage', s.max_usage, 'usageCount', s.usage_count)
            FROM consumable_mounts c JOIN stencils s ON s.id = c.stencil_id WHERE c.equipment_id = e.id AND c.kind = 'stencil' AND c.unmounted_at IS NULL) AS stencil,
         (SELECT json_build_object('code', pk.code, 'kind', pk.kind, 'status', pk.status, 'lotOnHold', l.on_hold, 'lotExpiresAt', l.expires_at,
                   'minThawHours', pj.min_thaw_hours, 'maxOpenHours', pj.max_open_hours, 'thawStartedAt', pj.thaw_started_at, 'openedAt', pj.opened_at)
            FROM consumable_mounts c JOIN material_packages pk ON pk.id = c.package_id JOIN material_lots l ON l.id = pk.material_lot_id
            LEFT JOIN paste_jars pj ON pj.package_id = pk.id
           WHERE c.equipment_id = e.id AND c.kind = 'paste' AND c.unmounted_at IS NULL) AS paste,
         (SELECT json_build_object('name', r.recipe_name, 'revision', r.revision) FROM equipment_recipes r WHERE r.equipment_id = e.id
           ORDER BY r.activated_at DESC LIMIT 1) AS recipe
    FROM equipment e
   WHERE ($1::bigint IS NOT NULL AND e.id = $1) OR ($1::bigint IS NULL AND e.station_id = $2)
   ORDER BY e.id`;

function prepared(name: string, text: string, values: unknown[]): string {
  return { name, text, values } as unknown as string;
}

export interface SetupInterlockDeps {
  now: () => Date;
  msdOf(row: { mslLevel: MslLevel; mslTimeOnLabelHours: number | null }, events: readonly MslEvent[], at: Date): MsdView;
  scope?: SetupInterlockScope;
}

type Findings = Partial<Record<MaterialsInterlockCode, string>>;

/** The rules, each with its place in tracking's list. */
export function materialsInterlockRules(deps: SetupInterlockDeps): { rule: InterlockRule; at: { before?: string; after?: string } }[] {
  const scope = deps.scope ?? 'managed';

  /** Machine rows per call target (machine, else station), as read at an epoch. */
  const cache = new Map<string, { epoch: number; rows: MachineRow[] }>();
  /** Reads under way per target and epoch: calls arriving meanwhile share them. */
  const pending = new Map<string, { epoch: number; rows: Promise<MachineRow[]> }>();

  async function machines(q: Queryable, call: InterlockCall): Promise<MachineRow[]> {
    const key = `${call.equipment?.id ?? ''}|${call.station.id}`;
    const { value, own } = call.epoch;
    const hit = own ? undefined : cache.get(key);
    if (hit && hit.epoch === value) return hit.rows;
    const read = async () => (await q.query<MachineRow>(prepared('materials.setup_interlock', SETUP_INTERLOCK_SQL, [call.equipment?.id ?? null, call.station.id]))).rows;
    if (own) return read();
    // One read per target and epoch (a failed shared read is done again on the call's own connection).
    const running = pending.get(key);
    if (running && running.epoch === value) return running.rows.catch(read);
    const mine = { epoch: value, rows: read() };
    pending.set(key, mine);
    let rows: MachineRow[];
    try {
      rows = await mine.rows;
    } finally {
      if (pending.get(key) === mine) pending.delete(key);
    }
    // (A transaction that changed setup data itself may roll back: what it read is never shared, above.)
    if (!hit || hit.epoch < value) {
      if (cache.size > 10_000) cache.clear();
      cache.set(key, { epoch: value, rows });
    }
    return rows;
  }

  async function prepare(q: Queryable, call: InterlockCall): Promise<void> {
    if (!TYPES.includes(call.station.type)) return;
    const rows = await machines(q, call);
    call.data.set(DATA, { rows: rows.filter((r) => scope === 'all' || r.managed), now: deps.now(), byBasis: new Map<string, Findings>() });
  }

  /** What is wrong with the machines for one build basis (the same for every unit of the call with that basis). */
  function judge(s: InterlockSubject, call: InterlockCall): Findings | null {
    const d = call.data.get(DATA) as { rows: MachineRow[]; now: Date; byBasis: Map<string, Findings> } | undefined;
    if (!d || d.rows.length === 0 || s.resolution.kind !== 'ok') return null;
    const key = `${s.basis.hash}:${s.resolution.step.seq}`;
    const hit = d.byBasis.get(key);
    if (hit) return hit;
    const f: Findings = {};
    const add = (code: MaterialsInterlockCode, text: string) => (f[code] = f[code] ? `${f[code]}; ${text}` : text);
    const basis = s.basis.basis;
    for (const m of d.rows) {
      const fits = basis.programs.filter(
        (p) => p.stationType === call.station.type && (p.stationId === null || p.stationId === call.station.id) && (p.equipmentId === null || p.equipmentId === m.id),
      );
      const prog = fits.find((p) => p.equipmentId === m.id) ?? fits.find((p) => p.stationId === call.station.id) ?? fits[0];
      if (prog && m.recipe && (m.recipe.name !== prog.name || (m.recipe.revision !== null && m.recipe.revision !== prog.revision))) {
        add('SETUP_PROGRAM_MISMATCH', `machine ${m.code} runs program ${m.recipe.name} revision ${m.recipe.revision ?? '?'}; the build basis prescribes ${prog.name} revision ${prog.revision}`);
      }
      if (call.station.type === 'placement' && prog && prog.slots.length > 0) {
        const setups = m.setups ?? [];
        const others = (m.programs ?? []).filter((p) => p.id !== prog.id && setups.some((x) => x.programId === p.id && prog.slots.some((ps) => ps.slot === x.slot)));
        if (others.length) {
          add('SETUP_PROGRAM_MISMATCH', `machine ${m.code} is set up for ${others.map((p) => `program ${p.name} revision ${p.revision}`).join(', ')}; the build basis prescribes ${prog.name} revision ${prog.revision}`);
        }
        const missing: string[] = [];
        const unverified: string[] = [];
        for (const ps of prog.slots) {
          const on = setups.filter((x) => x.slot === ps.slot && x.programId === prog.id);
          if (on.length === 0) {
            missing.push(ps.slot);
            continue;
          }
          const problems: string[] = [];
          for (const x of on) {
            if (x.partId !== ps.partId) problems.push(`${x.packageCode} holds another part`);
            if (['blocked', 'quarantined', 'empty', 'scrapped'].includes(x.status)) problems.push(`${x.packageCode} is ${x.status}`);
            if (x.lotOnHold) problems.push(`the lot of ${x.packageCode} is on hold`);
            if (x.lotExpiresAt && new Date(x.lotExpiresAt).getTime() <= d.now.getTime()) problems.push(`the lot of ${x.packageCode} has expired`);
            if (x.events) {
              const msd = deps.msdOf(x, x.events.map((e) => ({ type: e.type, at: new Date(e.at) })), d.now);
              if (msd.blocksUse) problems.push(`${x.packageCode} is ${msd.state === 'expired' ? 'past its MSL floor life' : msd.state === 'bake-required' ? 'to be baked' : 'of unknown MSD state'}`);
            }
          }
          if (problems.length) unverified.push(`${ps.slot} (${problems.join(', ')})`);
        }
        if (missing.length || unverified.length) {
          const parts = [missing.length ? `slot(s) ${missing.join(', ')} not verified for it` : '', unverified.length ? `slot(s) ${unverified.join('; ')} not usable` : ''].filter(Boolean);
          add('SETUP_INCOMPLETE', `machine ${m.code} is not set up for program ${prog.name} revision ${prog.revision}: ${parts.join('; ')}`);
        }
      }
      if (call.station.type === 'printer') {
        if (!m.stencil) add('STENCIL_NOT_READY', `no stencil is mounted on printer ${m.code}`);
        else {
          const p = stencilProblems(m.stencil, basis.productRevision.id);
          if (p.length) add('STENCIL_NOT_READY', `printer ${m.code}: ${p.map((x) => x.message).join('; ')}`);
        }
        if (!m.paste) add('PASTE_NOT_READY', `no solder paste is mounted on printer ${m.code}`);
        else {
          const x = m.paste;
          const p = pasteProblems({
            code: x.code, kind: x.kind, status: x.status, lotOnHold: x.lotOnHold, lotExpiresAt: x.lotExpiresAt ? new Date(x.lotExpiresAt) : null,
            paste: x.minThawHours === null ? null : {
              minThawHours: Number(x.minThawHours), maxOpenHours: Number(x.maxOpenHours),
              thawStartedAt: x.thawStartedAt ? new Date(x.thawStartedAt) : null, openedAt: x.openedAt ? new Date(x.openedAt) : null,
            },
          }, d.now);
          if (p.length) add('PASTE_NOT_READY', `printer ${m.code}: ${p.map((y) => y.message).join('; ')}`);
        }
      }
    }
    d.byBasis.set(key, f);
    return f;
  }

  const rule = (code: MaterialsInterlockCode, first: boolean): InterlockRule => ({
    code, number: MATERIALS_INTERLOCK_REASONS[code].number, title: MATERIALS_INTERLOCK_REASONS[code].title, phases: ['validate', 'start'],
    ...(first ? { prepare: (q: Queryable, call: InterlockCall) => prepare(q, call) } : {}),
    check: (s, call) => judge(s, call)?.[code] ?? null,
  });
  return [
    { rule: rule('SETUP_PROGRAM_MISMATCH', true), at: { after: 'PROGRAM_MISMATCH' } },
    { rule: rule('SETUP_INCOMPLETE', false), at: { after: 'SETUP_PROGRAM_MISMATCH' } },
    { rule: rule('STENCIL_NOT_READY', false), at: { after: 'SETUP_INCOMPLETE' } },
    { rule: rule('PASTE_NOT_READY', false), at: { after: 'STENCIL_NOT_READY' } },
  ];
}

/** Registers the setup rules with a tracking service (main.ts calls it once). */
export function registerMaterialsInterlockRules(
  tracking: Pick<TrackingService, 'registerInterlockRule'>,
  materials: { now: () => Date; interlockDeps: () => SetupInterlockDeps },
): void {
  for (const { rule, at } of materialsInterlockRules(materials.interlockDeps())) tracking.registerInterlockRule(rule, at);
}
