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
 *   activated) comes after the station's messages received before it, and after the station's
 *   earlier unit-less messages; messages received after it about other units may be applied
 *   before it (as they may be when they travel on another lane).
 */

export type ScheduleKind = 'free' | 'barrier' | 'start' | 'effect' | 'complete';

export interface ScheduleItem {
  kind: ScheduleKind;
  /** The station of the sending machine (null: none). */
  stationId: number | null;
  /** Unit keys: canonical identifiers of the units the message is about (a panel's units share the panel's key). */
  units: string[];
}

/** Levels in the order to apply them; each level lists item indexes in the order received. */
export function schedule(items: readonly ScheduleItem[]): number[][] {
  const free: number[] = [];
  const ranks = stationRanks(items);
  const C = Math.max(1, ranks.size) * 3;
  const slotOf = (it: ScheduleItem): number => {
    const phase = it.kind === 'start' ? 0 : it.kind === 'complete' ? 2 : 1;
    return (it.stationId === null ? 0 : (ranks.get(it.stationId) ?? 0)) * 3 + phase;
  };
  // The first level ≥ bound + 1 with this slot.
  const place = (slot: number, bound: number): number => (bound < slot ? slot : slot + C * Math.ceil((bound + 1 - slot) / C));
  const unitLast = new Map<string, number>();
  const stationLast = new Map<number, number>();
  const stationUnitless = new Map<number, number>();
  let floor = -1;
  let top = -1;
  const levels = new Map<number, number[]>();
  const put = (level: number, i: number) => {
    const l = levels.get(level);
    if (l) l.push(i);
    else levels.set(level, [i]);
    if (level > top) top = level;
  };
  items.forEach((it, i) => {
    if (it.kind === 'free') return free.push(i);
    if (it.kind === 'barrier') {
      // A level of its own: after every level used so far, and every later message after it (floor).
      const level = place(0, top);
      put(level, i);
      floor = level;
      return;
    }
    let bound = floor;
    const unitless = it.units.length === 0;
    for (const u of it.units) bound = Math.max(bound, unitLast.get(u) ?? -1);
    if (unitless && it.stationId !== null) bound = Math.max(bound, stationLast.get(it.stationId) ?? -1, stationUnitless.get(it.stationId) ?? -1);
    const level = place(slotOf(it), bound);
    put(level, i);
    for (const u of it.units) unitLast.set(u, level);
    if (it.stationId !== null) {
      stationLast.set(it.stationId, Math.max(stationLast.get(it.stationId) ?? -1, level));
      if (unitless) stationUnitless.set(it.stationId, level);
    }
  });
  const out = [...levels.entries()].sort((a, b) => a[0] - b[0]).map(([, l]) => l);
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
