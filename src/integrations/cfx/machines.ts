import type { Db } from '../../platform/db.ts';
import type { Principal } from '../../platform/principal.ts';
import type { Machine } from './handlers/types.ts';

/**
 * CFX handle → machine (equipment.cfx_handle) and its station. Looked up on every message, so
 * kept in memory; emptied whenever equipment or stations change in any MES instance (the NOTIFY
 * change feed), and trusted only briefly while that feed is down. Unknown handles are
 * remembered for a few seconds so a flood from an unregistered sender costs no query each.
 */
export function createMachineResolver(db: Db, opts: { ttlMs?: number; negativeTtlMs?: number } = {}) {
  const ttl = opts.ttlMs ?? 60_000;
  const negativeTtl = opts.negativeTtlMs ?? 3_000;
  const cache = new Map<string, { at: number; machine: Machine | null }>();
  const clear = () => cache.clear();
  db.onChange('equipment', clear);
  db.onChange('stations', clear);

  async function resolve(handle: string | null): Promise<Machine | null> {
    if (handle === null || handle === '') return null;
    const hit = cache.get(handle);
    const now = Date.now();
    if (hit && now - hit.at < (hit.machine ? (db.changeFeedLive ? ttl : 2_000) : negativeTtl)) return hit.machine;
    const r = await db.query<Machine>(
      `SELECT e.id AS "equipmentId", e.code AS "equipmentCode", e.cfx_handle AS "cfxHandle", e.lanes, s.id AS "stationId", s.code AS "stationCode",
              s.type AS "stationType", s.line_id AS "lineId"
         FROM equipment e JOIN stations s ON s.id = e.station_id WHERE e.cfx_handle = $1 LIMIT 1`,
      [handle],
      'cfx_machine_by_handle',
    );
    const machine = r.rows[0] ?? null;
    if (cache.size > 10_000) cache.clear();
    cache.set(handle, { at: now, machine });
    return machine;
  }

  return { resolve, invalidate: clear };
}
export type MachineResolver = ReturnType<typeof createMachineResolver>;

/** A machine acting through CFX: role machine, limited to its own station. */
export function machinePrincipal(handle: string, machine: Machine | null): Principal {
  return { kind: 'system', id: null, name: `cfx:${handle}`, role: 'machine', ...(machine ? { stationIds: [machine.stationId] } : { stationIds: [] }) };
}
