import { describe, expect, it } from 'vitest';
import { schedule, type ScheduleItem } from '../../src/integrations/cfx/schedule.ts';

/** The levels of a batch (src/integrations/cfx/schedule.ts): per-unit order, few levels along the line. */

/** The simulator's shape: boards entering one per tick, each tick moving every board one station on (furthest first). */
function line(stations: number, boards: number, ticks: number, opts: { effectAt?: number[]; repairAt?: { board: number; station: number; repair: number } } = {}) {
  const items: (ScheduleItem & { label: string })[] = [];
  const pos = new Map<number, number>();
  let entered = 0;
  for (let t = 0; t < ticks; t++) {
    if (entered < boards) pos.set(entered++, 0);
    const order = [...pos.entries()].sort((a, b) => b[1] - a[1]);
    for (const [b, s] of order) {
      const unit = `U${b}`;
      const visit = (st: number) => {
        items.push({ kind: 'free', stationId: st, units: [], label: `${unit} arrived ${st}` });
        items.push({ kind: 'start', stationId: st, units: [unit], label: `${unit} start ${st}` });
        if (opts.effectAt?.includes(st)) items.push({ kind: 'effect', stationId: st, units: [unit], label: `${unit} result ${st}` });
        items.push({ kind: 'complete', stationId: st, units: [unit], label: `${unit} complete ${st}` });
      };
      visit(s);
      if (opts.repairAt && opts.repairAt.board === b && opts.repairAt.station === s) {
        visit(opts.repairAt.repair);
        visit(s);
      }
      if (s + 1 >= stations) pos.delete(b);
      else pos.set(b, s + 1);
    }
  }
  return items;
}

function check(items: (ScheduleItem & { label: string })[]) {
  const levels = schedule(items);
  // Every item exactly once.
  expect(levels.flat().sort((a, b) => a - b)).toEqual(items.map((_, i) => i));
  const levelOf = new Map<number, number>();
  levels.forEach((l, k) => l.forEach((i) => levelOf.set(i, k)));
  for (const [k, l] of levels.entries()) {
    // Within a level, arrival order; no unit twice (free items aside, which are all in the first level).
    expect([...l].sort((a, b) => a - b)).toEqual(l);
    const units = l.filter((i) => items[i]!.kind !== 'free').flatMap((i) => items[i]!.units);
    expect(new Set(units).size, `level ${k}`).toBe(units.length);
  }
  // A unit's messages in the order received.
  const last = new Map<string, number>();
  items.forEach((it, i) => {
    if (it.kind === 'free') return;
    for (const u of it.units) {
      const before = last.get(u);
      if (before !== undefined) expect(levelOf.get(i)!, `${it.label} after ${items[before]!.label}`).toBeGreaterThan(levelOf.get(before)!);
      last.set(u, i);
    }
  });
  return { levels, levelOf };
}

describe('CFX batch levels', () => {
  it('keeps each unit in order and applies a line of ten stations in one level per station and kind', () => {
    const items = line(10, 40, 30, { effectAt: [2, 4, 6] });
    const { levels } = check(items);
    // free level + 10 stations × (start, complete) + 3 stations with results
    expect(levels.length).toBe(1 + 10 * 2 + 3);
    // Each level is one station and one kind.
    for (const l of levels.slice(1)) expect(new Set(l.map((i) => `${items[i]!.stationId}/${items[i]!.kind}`)).size).toBe(1);
    // Free messages first, in the order received.
    expect(levels[0]!.every((i) => items[i]!.kind === 'free')).toBe(true);
  });

  it('a repair loop goes back to an earlier station in the next cycle, still in order', () => {
    const items = line(6, 10, 12, { repairAt: { board: 3, station: 4, repair: 9 } });
    const { levels, levelOf } = check(items);
    expect(levels.length).toBeLessThanOrEqual(1 + 2 * 3 * 7);
    const second = items.findIndex((it, i) => it.label === 'U3 start 4' && items.slice(0, i).some((x) => x.label === 'U3 start 9'));
    const repair = items.findIndex((it) => it.label === 'U3 complete 9');
    expect(levelOf.get(second)!).toBeGreaterThan(levelOf.get(repair)!);
  });

  it('a station message naming no unit (a splice) divides its station: before it what came before, after it what came after; the others go on in the same cycle', () => {
    const items = line(10, 40, 30);
    // Splices at station 3 after every 7th item received at station 3.
    const withSplices: (ScheduleItem & { label: string })[] = [];
    let seen = 0;
    for (const it of items) {
      withSplices.push(it);
      if (it.kind === 'complete' && it.stationId === 3 && ++seen % 7 === 0) withSplices.push({ kind: 'effect', stationId: 3, units: [], label: `splice ${seen}` });
    }
    const { levels, levelOf } = check(withSplices);
    const splices = withSplices.map((it, i) => [it, i] as const).filter(([it]) => it.label.startsWith('splice'));
    expect(splices.length).toBeGreaterThan(2);
    for (const [, si] of splices) {
      withSplices.forEach((it, i) => {
        if (it.stationId !== 3 || it.kind === 'free' || i === si) return;
        if (i < si) expect(levelOf.get(i)!, `${it.label} before the splice`).toBeLessThan(levelOf.get(si)!);
        else expect(levelOf.get(i)!, `${it.label} after the splice`).toBeGreaterThan(levelOf.get(si)!);
      });
    }
    // Each splice adds its own level and the station's next segment (start, complete), not a cycle of every station.
    expect(levels.length).toBeLessThanOrEqual(1 + 10 * 2 + splices.length * 3);
  });

  it('a request is a barrier; a station message naming no unit comes after the station messages received before it', () => {
    const items: (ScheduleItem & { label: string })[] = [
      { kind: 'start', stationId: 1, units: ['A'], label: 'A start 1' },
      { kind: 'complete', stationId: 1, units: ['A'], label: 'A complete 1' },
      { kind: 'effect', stationId: 1, units: [], label: 'splice at 1' },
      { kind: 'start', stationId: 2, units: ['A'], label: 'A start 2' },
      { kind: 'barrier', stationId: 2, units: [], label: 'validate' },
      { kind: 'start', stationId: 1, units: ['B'], label: 'B start 1' },
      { kind: 'effect', stationId: 1, units: [], label: 'second splice at 1' },
    ];
    const { levels, levelOf } = check(items);
    expect(levelOf.get(2)!).toBeGreaterThan(levelOf.get(1)!);
    expect(levels[levelOf.get(4)!]).toEqual([4]);
    for (const i of [0, 1, 2, 3]) expect(levelOf.get(i)!).toBeLessThan(levelOf.get(4)!);
    for (const i of [5, 6]) expect(levelOf.get(i)!).toBeGreaterThan(levelOf.get(4)!);
    expect(levelOf.get(6)!).toBeGreaterThan(levelOf.get(5)!);
    expect(levelOf.get(3)!).toBeGreaterThan(levelOf.get(2)!);
  });
});
