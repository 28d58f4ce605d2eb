import type { Db } from '../../platform/db.ts';
import { notFound } from '../../platform/errors.ts';
import type { EquipmentService } from '../equipment/index.ts';
import type { MaterialsService } from '../materials/index.ts';
import type { TrackingService } from '../tracking/index.ts';

/**
 * What the line dashboard shows, read in one go: station states and faults, the active work
 * order's progress, WIP per route step with first-pass yield per step, OEE, and the alerts of
 * the line (holds, quality-rule alerts, machine faults, moisture floor life running out,
 * shortages). Read-only aggregation over the other modules' tables and services.
 */

export interface LiveDeps {
  db: Db;
  tracking: Pick<TrackingService, 'wipForLine' | 'wipForWorkOrder'>;
  equipment: Pick<EquipmentService, 'oee'>;
  materials: Pick<MaterialsService, 'warnings'>;
}

export interface LiveStation {
  id: number; code: string; name: string; type: string;
  equipment: { id: number; code: string; online: boolean | null; e10: string | null; stateCode: number | null; since: string | null; recipe: string | null }[];
  /** The worst state of its machines, for the tile colour. */
  state: 'productive' | 'standby' | 'down' | 'engineering' | 'offline' | 'unknown';
  faults: { code: string | null; description: string | null; since: string | null; equipment: string }[];
  inProcess: number; waiting: number;
  oee: number | null; availability: number | null; performance: number | null; quality: number | null;
}

export interface LiveAlert { kind: 'hold' | 'work-order-hold' | 'rule' | 'fault' | 'msl' | 'lot' | 'shortage'; severity: 'high' | 'medium'; message: string; at: string | null; ref: string }

export interface LineSnapshot {
  line: { id: number; code: string; name: string };
  stations: LiveStation[];
  activeWorkOrder: null | {
    id: number; number: string; state: string; productCode: string; revision: string;
    progress: { quantity: number; created: number; queued: number; inProcess: number; passed: number; failed: number; scrapped: number; onHold: number; remaining: number };
    steps: { seq: number; name: string; stationType: string; isRepair: boolean; queued: number; inProcess: number; failed: number; onHold: number; passedFirst: number; firstPasses: number; fpy: number | null }[];
    /** Units that completed the route without any failed passage ÷ units that completed it. */
    fpy: number | null; completedUnits: number; completedFirstPass: number;
  };
  openWorkOrders: { id: number; number: string; state: string; active: boolean; passed: number; quantity: number }[];
  /** OEE of the line today: the mean over its stations that have one. */
  oee: { oee: number | null; availability: number | null; performance: number | null; quality: number | null; since: string };
  alerts: LiveAlert[];
  /** The newest passage recorded at a station of the line (what moves the dashboard). */
  lastPassage: null | { id: number; serial: string; station: string; stepSeq: number; result: string; recordedAt: string };
}

const STATE_RANK: Record<LiveStation['state'], number> = { down: 5, engineering: 4, offline: 3, standby: 2, productive: 1, unknown: 0 };
function stateOf(e10: string | null, online: boolean | null): LiveStation['state'] {
  if (online === false) return 'offline';
  switch (e10) {
    case 'Productive': return 'productive';
    case 'Standby': return 'standby';
    case 'Engineering': return 'engineering';
    case 'ScheduledDowntime':
    case 'UnscheduledDowntime':
    case 'NonScheduled': return 'down';
    default: return 'unknown';
  }
}

const iso = (d: Date | string | null | undefined) => (d ? new Date(d).toISOString() : null);
const mean = (xs: (number | null)[]) => {
  const v = xs.filter((x): x is number => x !== null && Number.isFinite(x));
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
};

/** Start of today (server local midnight): the OEE window of the dashboard. */
export function startOfToday(now = new Date()): Date {
  const d = new Date(now);
  d.setHours(0, 0, 0, 0);
  return d;
}

export type OeeCache = Map<number, { oee: number | null; availability: number | null; performance: number | null; quality: number | null }>;

/** OEE per station of the line since midnight (slower to compute: refreshed every few seconds, not every event). */
export async function stationOee(deps: LiveDeps, stationIds: number[], since: Date): Promise<OeeCache> {
  const out: OeeCache = new Map();
  for (const id of stationIds) {
    const r = await deps.equipment.oee(id, { from: since, to: new Date(), granularity: 'day' });
    out.set(id, { oee: r.total.oee, availability: r.total.availability, performance: r.total.performance, quality: r.total.quality });
  }
  return out;
}

export type Shortage = { ipn: string; shortBy: number; message: string; workOrders: { id: number }[] };
export type Warning = Awaited<ReturnType<MaterialsService['warnings']>>[number];

/**
 * The slow parts of a snapshot, refreshed every few seconds instead of on every change: OEE
 * (one equipment-module computation per station), material warnings and shortages (they read
 * every package in stock). Their clocks move in minutes, not in the second a passage takes.
 */
export interface SlowParts { oee: OeeCache; oeeSince: Date; warnings: Warning[]; shortages: Shortage[] }

export async function slowParts(deps: LiveDeps, lineId: number, shortages?: () => Promise<Shortage[]>): Promise<SlowParts> {
  const stationIds = (await deps.db.query<{ id: number }>('SELECT id FROM stations WHERE line_id = $1', [lineId])).rows.map((r) => r.id);
  const oeeSince = startOfToday();
  const [oee, warnings, short] = await Promise.all([stationOee(deps, stationIds, oeeSince), deps.materials.warnings(), shortages ? shortages() : Promise.resolve([])]);
  return { oee, oeeSince, warnings, shortages: short };
}

export async function lineSnapshot(deps: LiveDeps, lineId: number, slowIn: SlowParts | Promise<SlowParts>): Promise<LineSnapshot> {
  const { db } = deps;
  const slowP = Promise.resolve(slowIn);
  slowP.catch(() => undefined); // awaited below; a failure must not surface as unhandled meanwhile
  const [line, wip] = await Promise.all([
    db.one<{ id: number; code: string; name: string }>('SELECT id, code, name FROM lines WHERE id = $1', [lineId]),
    deps.tracking.wipForLine(lineId).catch((e: unknown) => e as Error),
  ]);
  if (!line) throw notFound('line', lineId);
  if (wip instanceof Error) throw wip;
  const stationIds = wip.stations.map((s) => s.id);
  const openIds = wip.workOrders.map((w) => w.id);
  const activeId = wip.activeWorkOrder?.id ?? null;
  const [machinesRes, woWip, firstsRes, done, holdsRes, rulesRes, last] = await Promise.all([
    db.query<{ stationId: number; id: number; code: string; online: boolean | null; e10: string | null; stateCode: number | null; since: Date | null; recipe: string | null; faults: { code: string | null; description: string | null; since: string | null }[] }>(
      `SELECT e.station_id AS "stationId", e.id, e.code, es.online, cs.e10, cs.state_code AS "stateCode", cs.from_at AS since,
              (SELECT r.recipe_name FROM equipment_recipes r WHERE r.equipment_id = e.id ORDER BY r.activated_at DESC LIMIT 1) AS recipe,
              COALESCE((SELECT json_agg(json_build_object('code', f.code, 'description', f.description, 'since', f.occurred_at) ORDER BY f.occurred_at)
                          FROM faults f WHERE f.equipment_id = e.id AND f.cleared_at IS NULL AND f.occurred_at IS NOT NULL), '[]') AS faults
         FROM equipment e LEFT JOIN equipment_status es ON es.equipment_id = e.id
         LEFT JOIN station_states cs ON cs.equipment_id = e.id AND cs.to_at IS NULL
        WHERE e.station_id = ANY($1) ORDER BY e.code`,
      [stationIds],
      'live_machines',
    ),
    activeId === null ? null : deps.tracking.wipForWorkOrder(activeId),
    activeId === null ? null : db.query<{ seq: number; firsts: number; passed: number }>(
      // First passage of each unit at each step: pass or not.
      `SELECT step_seq AS seq, count(*)::int AS firsts, count(*) FILTER (WHERE result = 'pass')::int AS passed
         FROM (SELECT DISTINCT ON (pr.unit_id, pr.step_seq) pr.step_seq, pr.result
                 FROM units u JOIN process_records pr ON pr.unit_id = u.id
                WHERE u.work_order_id = $1 ORDER BY pr.unit_id, pr.step_seq, pr.visit) f
        GROUP BY step_seq`,
      [activeId],
      'live_first_passes',
    ),
    activeId === null ? null : db.one<{ completed: number; clean: number }>(
      // Units that completed the route, and those of them without any failed passage.
      `SELECT count(*)::int AS completed,
              count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM process_records pr WHERE pr.unit_id = u.id AND pr.result <> 'pass'))::int AS clean
         FROM units u WHERE u.work_order_id = $1 AND u.status = 'completed'`,
      [activeId],
    ),
    db.query<{ id: number; number: string; scope: string; reason: string; placedAt: Date }>(
      `SELECT h.id, h.number, h.scope, h.reason, h.placed_at AS "placedAt" FROM quality_holds h
        WHERE h.released_at IS NULL
          AND (h.station_id = ANY($1) OR h.work_order_id = ANY($2) OR h.scope IN ('material_lot', 'package')
               OR h.product_revision_id IN (SELECT product_revision_id FROM work_orders WHERE id = ANY($2))
               OR h.unit_id IN (SELECT id FROM units WHERE work_order_id = ANY($2)))
        ORDER BY h.placed_at DESC LIMIT 20`,
      [stationIds, openIds],
    ),
    db.query<{ id: number; message: string; firedAt: Date; state: string }>(
      `SELECT a.id, a.message, a.fired_at AS "firedAt", a.state FROM quality_alerts a
        WHERE a.state <> 'closed' AND (a.work_order_id = ANY($2) OR a.station_id = ANY($1))
        ORDER BY a.fired_at DESC LIMIT 20`,
      [stationIds, openIds],
    ),
    db.one<{ id: number; serial: string; station: string; stepSeq: number; result: string; recordedAt: Date }>(
      `SELECT pr.id, u.serial, s.code AS station, pr.step_seq AS "stepSeq", pr.result, pr.recorded_at AS "recordedAt"
         FROM stations s CROSS JOIN LATERAL (SELECT * FROM process_records p WHERE p.station_id = s.id ORDER BY p.completed_at DESC, p.id DESC LIMIT 1) pr
         JOIN units u ON u.id = pr.unit_id
        WHERE s.id = ANY($1) ORDER BY pr.id DESC LIMIT 1`,
      [stationIds],
    ),
  ]);
  const machines = machinesRes.rows;
  // The slow parts may still be computing (first build): they ran alongside the queries above.
  const slow = await slowP;
  const { oee, oeeSince } = slow;

  const stations: LiveStation[] = wip.stations.map((s) => {
    const ms = machines.filter((m) => m.stationId === s.id);
    const states = ms.map((m) => stateOf(m.e10, m.online));
    const state = states.reduce<LiveStation['state']>((w, x) => (STATE_RANK[x] > STATE_RANK[w] ? x : w), 'unknown');
    const o = oee.get(s.id);
    return {
      id: s.id, code: s.code, name: s.name, type: s.type,
      equipment: ms.map((m) => ({ id: m.id, code: m.code, online: m.online, e10: m.e10, stateCode: m.stateCode, since: iso(m.since), recipe: m.recipe })),
      state,
      faults: ms.flatMap((m) => m.faults.map((f) => ({ ...f, since: iso(f.since), equipment: m.code }))),
      inProcess: s.inProcess, waiting: s.waiting,
      oee: o?.oee ?? null, availability: o?.availability ?? null, performance: o?.performance ?? null, quality: o?.quality ?? null,
    };
  });

  let active: LineSnapshot['activeWorkOrder'] = null;
  if (woWip && firstsRes) {
    const w = woWip;
    const firsts = firstsRes.rows;
    active = {
      id: w.workOrder.id, number: w.workOrder.number, state: w.workOrder.state, productCode: w.workOrder.productCode, revision: w.workOrder.revision,
      progress: {
        quantity: w.progress.quantity, created: w.progress.created, queued: w.progress.queued, inProcess: w.progress.inProcess, passed: w.progress.passed,
        failed: w.progress.failed, scrapped: w.progress.scrapped, onHold: w.progress.onHold, remaining: w.progress.remaining,
      },
      steps: w.steps.map((s) => {
        const f = firsts.find((x) => x.seq === s.seq);
        return { ...s, firstPasses: f?.firsts ?? 0, passedFirst: f?.passed ?? 0, fpy: f && f.firsts > 0 ? f.passed / f.firsts : null };
      }),
      fpy: done && done.completed > 0 ? done.clean / done.completed : null,
      completedUnits: done?.completed ?? 0,
      completedFirstPass: done?.clean ?? 0,
    };
  }

  const alerts: LiveAlert[] = [];
  for (const w of wip.workOrders.filter((x) => x.state === 'on_hold')) {
    alerts.push({ kind: 'work-order-hold', severity: 'high', message: `Work order ${w.number} is on hold`, at: null, ref: `wo:${w.id}` });
  }
  const holds = holdsRes.rows;
  for (const h of holds) alerts.push({ kind: 'hold', severity: 'high', message: `Hold ${h.number} (${h.scope.replace('_', ' ')}): ${h.reason}`, at: iso(h.placedAt), ref: `hold:${h.id}` });
  const rules = rulesRes.rows;
  for (const a of rules) alerts.push({ kind: 'rule', severity: a.state === 'open' ? 'high' : 'medium', message: `Quality rule: ${a.message}`, at: iso(a.firedAt), ref: `alert:${a.id}` });
  for (const s of stations) {
    for (const f of s.faults) alerts.push({ kind: 'fault', severity: 'high', message: `${s.code}: fault ${f.code ?? ''}${f.description ? ` ${f.description}` : ''}`.trim(), at: f.since, ref: `fault:${s.id}:${f.code}:${f.since}` });
  }
  const equipmentIds = new Set(machines.map((m) => m.id));
  const warnings = slow.warnings.filter((w) => w.location.lineId === lineId || (w.location.equipmentId !== null && equipmentIds.has(w.location.equipmentId)));
  for (const w of warnings.slice(0, 20)) {
    alerts.push({ kind: w.kind.startsWith('msd') ? 'msl' : 'lot', severity: w.kind.endsWith('expired') || w.kind === 'msd-bake-required' ? 'high' : 'medium', message: w.message, at: iso(w.at), ref: `pkg:${w.packageId}:${w.kind}` });
  }
  {
    for (const s of slow.shortages.filter((x) => x.workOrders.some((w) => openIds.includes(w.id))).slice(0, 10)) {
      alerts.push({ kind: 'shortage', severity: 'medium', message: s.message, at: null, ref: `short:${s.ipn}` });
    }
  }

  return {
    line: { id: line.id, code: line.code, name: line.name },
    stations,
    activeWorkOrder: active,
    openWorkOrders: wip.workOrders.map((w) => ({ id: w.id, number: w.number, state: w.state, active: w.active, passed: w.progress.passed, quantity: w.progress.quantity })),
    oee: {
      oee: mean(stations.map((s) => s.oee)), availability: mean(stations.map((s) => s.availability)), performance: mean(stations.map((s) => s.performance)),
      quality: mean(stations.map((s) => s.quality)), since: oeeSince.toISOString(),
    },
    alerts,
    lastPassage: last ? { id: last.id, serial: last.serial, station: last.station, stepSeq: last.stepSeq, result: last.result, recordedAt: new Date(last.recordedAt).toISOString() } : null,
  };
}
