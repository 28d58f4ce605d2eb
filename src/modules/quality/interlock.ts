import type { Queryable } from '../../platform/db.ts';
import type { InterlockCall, InterlockRule, InterlockSubject, LoadedUnit, TrackingService } from '../tracking/index.ts';
import { signoffRule } from './completions.ts';
import { HOLD_SCOPE_REASON, QUALITY_INTERLOCK_REASONS, type HoldScope, type QualityInterlockCode } from './reasons.ts';

/**
 * The quality module's interlock rules, registered into tracking's ordered rule list:
 * HOLD_* (1101–1109) after LOT_ON_HOLD, REPAIR_NOT_VERIFIED (1201) after STEP_OUT_OF_ORDER,
 * FIRST_ARTICLE_NOT_APPROVED (1301) after FIRST_ARTICLE_PENDING, SIGNOFF_REQUIRED (1310, completions.ts) after it.
 *
 * What they need is kept in memory per interlock data epoch (tracking reads the epoch with the
 * units; it moves with every committed change to holds, hold lists, dispositions, rework actions
 * and first articles): the active holds of plain scopes (unit, unit list, panel, lot, work order,
 * product revision, station), the units of work orders still in production that had a repair /
 * retest disposition or a rework action, and the first-article approvals of those work orders.
 * A call whose units are all plain is judged from memory, with no statement of its own.
 *
 * The per-call statement (one prepared call of quality_interlock_data, migration 0030) runs
 * when a call needs more: a unit that was repaired (route loop, disposition, rework) and may still
 * owe its verification step, holds by station time window or held material (through the units'
 * process records) while any exist, very long hold lists, or a transaction that changed quality
 * data itself.
 */

const DATA = 'quality';

/** One call of the database function (migration 0030) that gathers it all with a generic plan. */
export const INTERLOCK_SQL = `SELECT k, id, ref, scope, code, reason, unit_id AS "unitId", key, seq, ok FROM quality_interlock_data($1, $2, $3, $4, $5, $6, $7, $8)`;

interface Row {
  k: 'H' | 'R' | 'D' | 'W' | 'F' | 'X' | 'P'; id: number | null; ref: string | null; scope: HoldScope | null; code: string | null; reason: string | null;
  unitId: number | null; key: number | null; seq: number | null; ok: boolean | null;
}

interface Loaded {
  holds: Row[];
  /** unit id → steps whose pass verifies a repair, with what asked for it. */
  verify: Map<number, { seq: number; what: string }[]>;
  /** `wo:step` → approved? (claims in state passed). */
  approvals: Map<string, { unitId: number; ok: boolean }>;
}

/** Everything the rules keep per epoch, in one statement. */
export const SNAPSHOT_SQL = `
  SELECT 'H' AS k, h.id, h.number AS ref, h.scope, h.reason_code AS code, h.reason, h.unit_id AS "unitId",
         COALESCE(h.panel_id, h.production_lot_id, h.work_order_id, h.product_revision_id, h.station_id) AS key, NULL::integer AS seq, NULL::boolean AS ok
    FROM quality_holds h WHERE h.released_at IS NULL AND h.scope IN ('unit','panel','lot','work_order','product_revision','station')
  UNION ALL
  SELECT 'H', h.id, h.number, h.scope, h.reason_code, h.reason, hu.unit_id, NULL, NULL, NULL
    FROM quality_holds h JOIN quality_hold_units hu ON hu.hold_id = h.id WHERE h.released_at IS NULL
  UNION ALL
  SELECT 'X', h.id, h.number, h.scope, NULL, NULL, NULL, NULL, NULL, NULL
    FROM quality_holds h WHERE h.released_at IS NULL AND h.scope NOT IN ('unit','units','panel','lot','work_order','product_revision','station')
  UNION ALL
  SELECT 'P', NULL, NULL, NULL, NULL, NULL, d.unit_id, NULL, NULL, NULL
    FROM work_orders w JOIN quality_dispositions d ON d.work_order_id = w.id AND d.decision IN ('repair','retest')
   WHERE w.state NOT IN ('completed','closed','cancelled')
  UNION ALL
  SELECT 'P', NULL, NULL, NULL, NULL, NULL, ra.unit_id, NULL, NULL, NULL
    FROM work_orders w JOIN quality_rework_actions ra ON ra.work_order_id = w.id
   WHERE w.state NOT IN ('completed','closed','cancelled')
  UNION ALL
  SELECT 'F', NULL, NULL, NULL, NULL, NULL, fa.unit_id, fa.work_order_id, fa.step_seq,
         EXISTS (SELECT 1 FROM quality_first_articles a WHERE a.work_order_id = fa.work_order_id AND a.step_seq = fa.step_seq AND a.unit_id = fa.unit_id
                    AND a.claimed_at = fa.claimed_at AND a.decision = 'approved')
    FROM work_orders w JOIN first_articles fa ON fa.work_order_id = w.id AND fa.state = 'passed'
   WHERE w.state NOT IN ('completed','closed','cancelled')`;

/** Longer hold lists than this are not kept in memory (calls then ask the database). */
const MAX_LISTED_UNITS = 50_000;

interface Snapshot {
  epoch: number;
  /** Active holds of plain scopes, and one row per listed unit of unit-list holds. */
  holds: Row[];
  /** Station-window / material holds exist, or the lists are too long: every call asks the database. */
  complex: boolean;
  /** Units (of work orders in production) that had a repair / retest disposition or a rework action. */
  repaired: Set<number>;
  /** `wo:step` → the passed first article's approval. */
  approvals: Map<string, { unitId: number; ok: boolean }>;
}

function prepared(name: string, text: string, values: unknown[]): string {
  return { name, text, values } as unknown as string;
}

const where = (u: LoadedUnit) => (u.panelCode ? `unit ${u.serial} (panel ${u.panelCode} position ${u.panelPosition})` : `unit ${u.serial}`);

/** The in-memory part: one snapshot per epoch, shared by the calls that see that epoch. */
function createCache() {
  let current: Snapshot | null = null;
  /** The read under way for an epoch: calls arriving meanwhile share it instead of reading again. */
  let pending: { epoch: number; snap: Promise<Snapshot> } | null = null;

  async function read(q: Queryable, epoch: number): Promise<Snapshot> {
    const rows = (await q.query<Row>(prepared('quality.interlock_snapshot', SNAPSHOT_SQL, []))).rows;
    const snap: Snapshot = { epoch, holds: [], complex: false, repaired: new Set(), approvals: new Map() };
    for (const r of rows) {
      if (r.k === 'H') snap.holds.push(r);
      else if (r.k === 'X') snap.complex = true;
      else if (r.k === 'P') snap.repaired.add(r.unitId!);
      else if (r.k === 'F') snap.approvals.set(`${r.key}:${r.seq}`, { unitId: r.unitId!, ok: r.ok === true });
    }
    if (snap.holds.filter((h) => h.scope === 'units').length > MAX_LISTED_UNITS) {
      snap.complex = true;
      snap.holds = [];
    }
    return snap;
  }

  return {
    /** The snapshot for the call's epoch, or null when the call must ask the database itself. */
    async get(q: Queryable, call: InterlockCall): Promise<Snapshot | null> {
      const { value, own } = call.epoch;
      if (own) return null;
      if (current && current.epoch === value) return current;
      // One read per epoch: a call arriving while it runs shares it (and reads on its own if that
      // read fails, e.g. on a transaction that had already failed).
      if (pending && pending.epoch === value) return pending.snap.catch(() => read(q, value));
      // Read on the call's own connection (it may be a transaction's only one). What is read is at
      // least as new as the epoch the call saw; a snapshot of a later epoch is never replaced by
      // an earlier one.
      const snap = read(q, value);
      const mine = { epoch: value, snap };
      pending = mine;
      try {
        const s = await snap;
        if (!current || current.epoch < s.epoch) current = s;
        return s;
      } finally {
        if (pending === mine) pending = null;
      }
    },
  };
}

async function load(cache: ReturnType<typeof createCache>, q: Queryable, call: InterlockCall, subjects: readonly InterlockSubject[]): Promise<void> {
  const snap = await cache.get(q, call);
  if (snap && !snap.complex && subjects.every((s) => !snap.repaired.has(s.unit.id) && Object.keys(s.unit.repairLoops ?? {}).length === 0)) {
    call.data.set(DATA, { holds: snap.holds, verify: new Map(), approvals: snap.approvals } satisfies Loaded);
    return;
  }
  await query(q, call, subjects);
}

/** The per-call statement: everything for the call's units, straight from the database. */
async function query(q: Queryable, call: InterlockCall, subjects: readonly InterlockSubject[]): Promise<void> {
  const units = subjects.map((s) => s.unit);
  const uniq = (xs: (number | null)[]) => [...new Set(xs.filter((x): x is number => x !== null))];
  const gatedWos = uniq(subjects.filter((s) => s.resolution.kind === 'ok' && s.resolution.step.firstArticleGate).map((s) => s.unit.woId));
  const rows = (
    await q.query<Row>(
      prepared('quality.interlock', INTERLOCK_SQL, [
        units.map((u) => u.id), uniq(units.map((u) => u.panelId)), uniq(units.map((u) => u.lotId)), uniq(units.map((u) => u.woId)),
        uniq(subjects.map((s) => s.basis.basis.productRevision.id)), call.station.id,
        units.filter((u) => Object.keys(u.repairLoops ?? {}).length > 0).map((u) => u.id), gatedWos,
      ]),
    )
  ).rows;
  const data: Loaded = { holds: [], verify: new Map(), approvals: new Map() };
  for (const r of rows) {
    if (r.k === 'H') data.holds.push(r);
    else if (r.k === 'F') data.approvals.set(`${r.key}:${r.seq}`, { unitId: r.unitId!, ok: r.ok === true });
    else if (r.seq !== null && r.unitId !== null) {
      const what = r.k === 'R' ? 'a repair loop' : r.k === 'D' ? `${r.ref} disposition #${r.id}` : `rework #${r.id}`;
      const list = data.verify.get(r.unitId) ?? [];
      list.push({ seq: r.seq, what });
      data.verify.set(r.unitId, list);
    }
  }
  call.data.set(DATA, data);
}

const loaded = (call: InterlockCall) => call.data.get(DATA) as Loaded;

/** Does this active hold row cover the subject? */
function covers(h: Row, s: InterlockSubject, call: InterlockCall): boolean {
  const u = s.unit;
  switch (h.scope) {
    case 'unit': case 'units': case 'station_window': case 'material_lot': case 'package':
      return h.unitId === u.id;
    case 'panel': return h.key === u.panelId;
    case 'lot': return h.key === u.lotId;
    case 'work_order': return h.key === u.woId;
    case 'product_revision': return h.key === s.basis.basis.productRevision.id;
    case 'station': return h.key === call.station.id;
    default: return false;
  }
}

const SCOPE_WORDS: Record<HoldScope, (s: InterlockSubject, call: InterlockCall) => string> = {
  unit: (s) => `${where(s.unit)} is held`,
  units: (s) => `${where(s.unit)} is held (with a list of units)`,
  panel: (s) => `panel ${s.unit.panelCode} of ${where(s.unit)} is held`,
  lot: (s) => `production lot ${s.unit.lotCode} of ${where(s.unit)} is held`,
  work_order: (s) => `work order ${s.unit.woNumber} of ${where(s.unit)} is held`,
  product_revision: (s) => `${s.basis.basis.productRevision.productCode} revision ${s.basis.basis.productRevision.revision} of ${where(s.unit)} is held`,
  material_lot: (s) => `${where(s.unit)} contains material of a held material lot`,
  package: (s) => `${where(s.unit)} contains material of a held package`,
  station: (_s, c) => `station ${c.station.code} is held`,
  station_window: (s) => `${where(s.unit)} was processed in a held station time window`,
};

function holdRule(code: QualityInterlockCode, scopes: HoldScope[], prepare: InterlockRule['prepare'] | null): InterlockRule {
  return {
    code, number: QUALITY_INTERLOCK_REASONS[code].number, title: QUALITY_INTERLOCK_REASONS[code].title,
    ...(prepare ? { prepare } : {}),
    check: (s, call) => {
      const hits = loaded(call).holds.filter((h) => scopes.includes(h.scope!) && covers(h, s, call));
      if (hits.length === 0) return null;
      const h = hits[0]!;
      const more = hits.length > 1 ? ` (and ${hits.length - 1} more hold(s))` : '';
      return `${SCOPE_WORDS[h.scope!](s, call)} by ${h.ref} (${h.code}): ${h.reason}${more}`;
    },
  };
}

/** The rules, in the order they are registered. */
export function qualityInterlockRules(): { rule: InterlockRule; at: { before?: string; after?: string } }[] {
  const holdCodes = (Object.keys(HOLD_SCOPE_REASON) as HoldScope[]).reduce((m, scope) => {
    const code = HOLD_SCOPE_REASON[scope];
    m.set(code, [...(m.get(code) ?? []), scope]);
    return m;
  }, new Map<QualityInterlockCode, HoldScope[]>());
  const out: { rule: InterlockRule; at: { before?: string; after?: string } }[] = [];
  const cache = createCache();
  const prepare: InterlockRule['prepare'] = (q, call, subjects) => load(cache, q, call, subjects);
  let prev = 'LOT_ON_HOLD';
  let first = true;
  for (const [code, scopes] of holdCodes) {
    out.push({ rule: holdRule(code, scopes, first ? prepare : null), at: { after: prev } });
    first = false;
    prev = code;
  }
  out.push({
    rule: {
      code: 'REPAIR_NOT_VERIFIED', number: QUALITY_INTERLOCK_REASONS.REPAIR_NOT_VERIFIED.number, title: QUALITY_INTERLOCK_REASONS.REPAIR_NOT_VERIFIED.title,
      check: ({ unit, basis, resolution: r }, call) => {
        if (r.kind !== 'ok' || r.step.isRepair) return null;
        const pending = loaded(call).verify.get(unit.id);
        if (!pending || pending.length === 0 || pending.some((p) => p.seq === r.step.seq)) return null;
        const p = pending[0]!;
        const v = basis.bySeq.get(p.seq);
        return `${where(unit)} was repaired (${p.what}) and must first pass ${v ? `step ${v.seq} ${v.name}` : `step ${p.seq}`} again before step ${r.step.seq} ${r.step.name}`;
      },
    },
    at: { after: 'STEP_OUT_OF_ORDER' },
  });
  out.push({
    rule: {
      code: 'FIRST_ARTICLE_NOT_APPROVED', number: QUALITY_INTERLOCK_REASONS.FIRST_ARTICLE_NOT_APPROVED.number, title: QUALITY_INTERLOCK_REASONS.FIRST_ARTICLE_NOT_APPROVED.title,
      check: ({ unit, resolution: r }, call) => {
        if (r.kind !== 'ok' || !r.step.firstArticleGate) return null;
        const fa = unit.firstArticles?.[String(r.step.seq)];
        // No claim yet (this unit will claim), this unit's own claim, or tracking's own pending refusal.
        if (!fa || fa[2] !== 'passed' || fa[0] === unit.id || (fa[1] !== null && fa[1] === unit.panelId)) return null;
        const a = loaded(call).approvals.get(`${unit.woId}:${r.step.seq}`);
        if (a?.ok) return null;
        return `step ${r.step.seq} ${r.step.name} of work order ${unit.woNumber} waits for the signed first-article inspection of unit #${fa[0]}`;
      },
    },
    at: { after: 'FIRST_ARTICLE_PENDING' },
  });
  // Step sign-offs, judged at every completion whichever door it comes through (completions.ts).
  out.push({ rule: signoffRule(), at: { after: 'FIRST_ARTICLE_NOT_APPROVED' } });
  return out;
}

/** Registers the quality rules with a tracking service (main.ts calls it once). */
export function registerQualityInterlockRules(tracking: Pick<TrackingService, 'registerInterlockRule'>): void {
  for (const { rule, at } of qualityInterlockRules()) tracking.registerInterlockRule(rule, at);
}
