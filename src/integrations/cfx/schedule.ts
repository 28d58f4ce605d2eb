/**
 * The order in which the messages of a batch are applied (fast path; see ingest.ts).
 *
 * What must hold is the order of each unit's messages: a unit's WorkStarted, its station's
 * results and installed materials, its WorkCompleted, then the next station's. Messages about
 * different units may be applied together. So the messages are placed in *levels*, applied one
 * after the other; in a level no unit appears twice, and the messages of one kind in a level are
 * applied with one service call (all starts with one tracking call, all results with one quality
 * call, all installations with one materials call).
 *
 * The levels follow the line: every station gets a rank from the order in which units move
 * through the stations in this batch (a topological order of the observed moves; a repair loop
 * going back is the one move left out), and each rank has three slots, one after the other:
 * starts (0), the station's other messages (1), completions and aborts (2). A message takes the
 * first slot of its station and kind that comes after the unit's previous message; a unit that
 * goes back (repair loop) continues in the next cycle of slots. So a batch of hundreds of
 * messages from a line of ten stations is applied in about thirty levels, each of one station
 * and one kind, whatever the number of units.
 *
 * - Messages that change nothing another message reads (event-log and reading appends, states,
 *   faults, heartbeats) and messages that are not applied (unsupported, invalid, unassigned, own)
 *   are applied first, in the order received (`free`).
 * - A request (ValidateUnitsRequest …) is a barrier: everything received before it is applied
 *   before it, everything after it after it.
 * - A message of a station that names no unit (a splice, a material loaded, a recipe
 *   activated: what the station's interlock reads) comes after the station's messages received
 *   before it, and the station's messages received after it come after it. It closes the
 *   station's segment: the station's slots are split into segments (start, others, complete,
 *   then the unit-less message), and units that reach the station after it take the next
 *   segment, still in the same cycle, so they go on to the next stations with the others.
 *
 * A level is (cycle, station rank, segment, phase), compared in that order.
 */

export type ScheduleKind = 'free' | 'barrier' | 'start' | 'effect' | 'complete';

export interface ScheduleItem {
  kind: ScheduleKind;
  /** The station of the sending machine (null: none). */
  stationId: number | null;
  /** Unit keys: canonical identifiers of the units the message is about (a panel's units share the panel's key). */
  units: string[];
}

type Level = [cycle: number, rank: number, segment: number, phase: number];

const cmp = (a: Level, b: Level): number => a[0] - b[0] || a[1] - b[1] || a[2] - b[2] || a[3] - b[3];
const max = (a: Level | null, b: Level | null): Level | null => (!a ? b : !b ? a : cmp(a, b) >= 0 ? a : b);

/** Levels in the order to apply them; each level lists item indexes in the order received. */
export function schedule(items: readonly ScheduleItem[]): number[][] {
  const free: number[] = [];
  const ranks = stationRanks(items);
  const rankOf = (it: ScheduleItem): number => (it.stationId === null ? 0 : (ranks.get(it.stationId) ?? 0));
  const unitLast = new Map<string, Level>();
  /** Every message at the station so far (a unit-less message comes after them). */
  const stationLast = new Map<number, Level>();
  /** The station's last unit-less message (every later message at the station comes after it). */
  const stationMin = new Map<number, Level>();
  /** The station's open segment per cycle: a unit-less message closes it. */
  const segments = new Map<string, number>();
  const segOf = (station: number | null, cycle: number) => segments.get(`${station}/${cycle}`) ?? 0;
  let floor: Level | null = null;
  let top: Level | null = null;
  const levels = new Map<string, { level: Level; items: number[] }>();
  const put = (level: Level, i: number) => {
    const k = level.join('/');
    const l = levels.get(k);
    if (l) l.items.push(i);
    else levels.set(k, { level, items: [i] });
    top = max(top, level);
  };
  items.forEach((it, i) => {
    if (it.kind === 'free') return free.push(i);
    if (it.kind === 'barrier') {
      // A level of its own, before a cycle of its own: after everything so far, everything after it after it.
      const level: Level = [(top?.[0] ?? -1) + 1, -1, 0, 0];
      put(level, i);
      floor = level;
      return;
    }
    const st = it.stationId;
    const rank = rankOf(it);
    if (it.units.length === 0) {
      // A station's unit-less message: after the station's messages so far, closing its segment.
      const b = max(max(floor, st === null ? null : (stationLast.get(st) ?? null)), st === null ? null : (stationMin.get(st) ?? null));
      const cycle = b ? Math.max(b[0], 0) : 0;
      const level: Level = [cycle, rank, segOf(st, cycle), 3];
      put(level, i);
      segments.set(`${st}/${cycle}`, segOf(st, cycle) + 1);
      if (st !== null) {
        stationMin.set(st, level);
        stationLast.set(st, level);
      }
      return;
    }
    const phase = it.kind === 'start' ? 0 : it.kind === 'complete' ? 2 : 1;
    let b: Level | null = max(floor, st === null ? null : (stationMin.get(st) ?? null));
    for (const u of it.units) b = max(b, unitLast.get(u) ?? null);
    // The first level of this station and kind after the bound: in the bound's cycle if it still fits, else the next.
    let level: Level | null = null;
    for (let cycle = b ? Math.max(b[0], 0) : 0; !level; cycle++) {
      const cand: Level = [cycle, rank, segOf(st, cycle), phase];
      if (!b || cmp(cand, b) > 0) level = cand;
    }
    put(level, i);
    for (const u of it.units) unitLast.set(u, level);
    if (st !== null) stationLast.set(st, max(stationLast.get(st) ?? null, level)!);
  });
  const out = [...levels.values()].sort((x, y) => cmp(x.level, y.level)).map((l) => l.items);
  return free.length ? [free, ...out] : out;
}

/**
 * Station ranks in line order: stations ordered by the moves units make between them in this
 * batch (an edge from a unit's station to its next one, weighted by the number of such moves),
 * taking each time the station with the least weight still coming in from stations not yet
 * ranked (a topological order where there is one; in a repair loop, the move back weighs least).
 */
function stationRanks(items: readonly ScheduleItem[]): Map<number, number> {
  const stations: number[] = [];
  const seen = new Set<number>();
  const edges = new Map<number, Map<number, number>>();
  const lastStation = new Map<string, number>();
  for (const it of items) {
    if (it.stationId === null || it.kind === 'free' || it.kind === 'barrier') continue;
    if (!seen.has(it.stationId)) {
      seen.add(it.stationId);
      stations.push(it.stationId);
    }
    for (const u of it.units) {
      const prev = lastStation.get(u);
      if (prev !== undefined && prev !== it.stationId) {
        let m = edges.get(prev);
        if (!m) edges.set(prev, (m = new Map()));
        m.set(it.stationId, (m.get(it.stationId) ?? 0) + 1);
      }
      lastStation.set(u, it.stationId);
    }
  }
  const ranks = new Map<number, number>();
  const left = new Set(stations);
  while (left.size) {
    let best: number | null = null;
    let bestIn = Infinity;
    for (const s of left) {
      let w = 0;
      for (const from of left) if (from !== s) w += edges.get(from)?.get(s) ?? 0;
      if (w < bestIn || (w === bestIn && best !== null && s < best)) {
        best = s;
        bestIn = w;
      }
    }
    ranks.set(best!, ranks.size);
    left.delete(best!);
  }
  return ranks;
}
