import { describe, expect, it } from 'vitest';
import {
  FLOOR_LIFE_MS,
  HOUR_MS,
  MslError,
  mslBlocksUse,
  mslStatus,
  tryMslStatus,
} from './msl.ts';
import type { MslEvent, MslEventType, MslLevel, MslOptions } from './msl.ts';

const T0 = Date.UTC(2025, 0, 6, 8, 0, 0);
/** A controllable clock: time as hours after T0. */
const h = (hours: number): Date => new Date(T0 + hours * HOUR_MS);
const ev = (type: MslEventType, hours: number): MslEvent => ({ type, at: h(hours) });

function expectMslError(fn: () => unknown, code: string, eventIndex?: number): MslError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(MslError);
    const err = e as MslError;
    expect(err.code).toBe(code);
    expect(err.message.length).toBeGreaterThan(10);
    if (eventIndex !== undefined) expect(err.eventIndex).toBe(eventIndex);
    return err;
  }
  throw new Error(`expected MslError ${code}, nothing was thrown`);
}

describe('floor life table', () => {
  it('matches J-STD-033 Table 5-1 at 30 °C/60 %RH', () => {
    expect(FLOOR_LIFE_MS['1']).toBeNull();
    expect(FLOOR_LIFE_MS['2']).toBe(8760 * HOUR_MS);
    expect(FLOOR_LIFE_MS['2a']).toBe(672 * HOUR_MS);
    expect(FLOOR_LIFE_MS['3']).toBe(168 * HOUR_MS);
    expect(FLOOR_LIFE_MS['4']).toBe(72 * HOUR_MS);
    expect(FLOOR_LIFE_MS['5']).toBe(48 * HOUR_MS);
    expect(FLOOR_LIFE_MS['5a']).toBe(24 * HOUR_MS);
    expect(FLOOR_LIFE_MS['6']).toBeNull();
  });
});

describe('mslStatus: MSL 3 with dry storage', () => {
  const events = [ev('opened', 0), ev('dry-storage-in', 100), ev('dry-storage-out', 150)];

  it('is never-opened with the full floor life before the bag is opened', () => {
    const s = mslStatus('3', [], h(1000));
    expect(s).toEqual({
      state: 'never-opened',
      exposedMs: 0,
      floorLifeMs: 168 * HOUR_MS,
      remainingMs: 168 * HOUR_MS,
      expiresAt: null,
      warn: false,
    });
  });

  it('runs the clock while exposed', () => {
    const s = mslStatus('3', [ev('opened', 0)], h(40));
    expect(s.state).toBe('exposed');
    expect(s.exposedMs).toBe(40 * HOUR_MS);
    expect(s.remainingMs).toBe(128 * HOUR_MS);
    expect(s.expiresAt).toEqual(h(168));
  });

  it('pauses in dry storage: no expiry date while paused', () => {
    const s = mslStatus('3', events.slice(0, 2), h(140));
    expect(s.state).toBe('dry-storage');
    expect(s.exposedMs).toBe(100 * HOUR_MS);
    expect(s.remainingMs).toBe(68 * HOUR_MS);
    expect(s.expiresAt).toBeNull();
  });

  it('open → 100 h → dry storage 50 h → out → expires at exactly 168 h of exposure', () => {
    const atOut = mslStatus('3', events, h(150));
    expect(atOut.state).toBe('exposed');
    expect(atOut.exposedMs).toBe(100 * HOUR_MS);
    expect(atOut.expiresAt).toEqual(h(218));

    const justBefore = mslStatus('3', events, new Date(h(218).getTime() - 1));
    expect(justBefore.state).toBe('exposed');
    expect(justBefore.remainingMs).toBe(1);
    expect(justBefore.warn).toBe(true);

    const atExpiry = mslStatus('3', events, h(218));
    expect(atExpiry.state).toBe('expired');
    expect(atExpiry.exposedMs).toBe(168 * HOUR_MS);
    expect(atExpiry.remainingMs).toBe(0);
    expect(atExpiry.expiresAt).toBeNull();
    expect(mslBlocksUse(atExpiry)).toBe(true);
  });

  it('stays expired after going back into dry storage', () => {
    const s = mslStatus('3', [...events, ev('dry-storage-in', 230)], h(300));
    expect(s.state).toBe('expired');
    expect(s.exposedMs).toBe(168 * HOUR_MS + 12 * HOUR_MS);
  });

  it('resealing in a dry pack pauses the clock; opening the pack restarts it', () => {
    const list = [ev('opened', 0), ev('resealed-dry-pack', 10), ev('opened', 500)];
    expect(mslStatus('3', list.slice(0, 2), h(400)).state).toBe('dry-storage');
    const s = mslStatus('3', list, h(510));
    expect(s.state).toBe('exposed');
    expect(s.exposedMs).toBe(20 * HOUR_MS);
    expect(s.expiresAt).toEqual(h(500 + 158));
  });

  it('accepts several events at the same instant, in the given order', () => {
    const s = mslStatus('3', [ev('opened', 0), ev('dry-storage-in', 0), ev('dry-storage-out', 0)], h(1));
    expect(s.exposedMs).toBe(1 * HOUR_MS);
  });
});

describe('mslStatus: expiry boundary per level', () => {
  const cases: [MslLevel, number][] = [
    ['2', 8760],
    ['2a', 672],
    ['3', 168],
    ['4', 72],
    ['5', 48],
    ['5a', 24],
  ];
  it.each(cases)('MSL %s expires at exactly %i h, not 1 ms earlier', (level, hours) => {
    const opened = [ev('opened', 0)];
    expect(mslStatus(level, opened, new Date(h(hours).getTime() - 1)).state).toBe('exposed');
    expect(mslStatus(level, opened, h(hours)).state).toBe('expired');
  });
});

describe('mslStatus: bake', () => {
  it('resets the exposure to zero and restarts the clock at the bake time', () => {
    const events = [ev('opened', 0), ev('baked', 160)];
    const s = mslStatus('3', events, h(160));
    expect(s.state).toBe('baked');
    expect(s.exposedMs).toBe(0);
    expect(s.remainingMs).toBe(168 * HOUR_MS);
    expect(s.expiresAt).toEqual(h(160 + 168));

    const later = mslStatus('3', events, h(170));
    expect(later.state).toBe('baked');
    expect(later.exposedMs).toBe(10 * HOUR_MS);
  });

  it('recovers an expired package', () => {
    const events = [ev('opened', 0), ev('baked', 400)];
    expect(mslStatus('3', events.slice(0, 1), h(399)).state).toBe('expired');
    const s = mslStatus('3', events, h(401));
    expect(s.state).toBe('baked');
    expect(s.exposedMs).toBe(1 * HOUR_MS);
    expect(mslBlocksUse(s)).toBe(false);
  });

  it('baked parts put straight back into dry storage keep zero exposure', () => {
    const s = mslStatus('3', [ev('opened', 0), ev('baked', 200), ev('resealed-dry-pack', 200)], h(900));
    expect(s.state).toBe('dry-storage');
    expect(s.exposedMs).toBe(0);
  });

  it('after a bake, leaving dry storage reports plain exposure again', () => {
    const s = mslStatus('3', [ev('opened', 0), ev('baked', 10), ev('dry-storage-in', 12), ev('dry-storage-out', 20)], h(21));
    expect(s.state).toBe('exposed');
    expect(s.exposedMs).toBe(3 * HOUR_MS);
  });

  it('an explicit expiry declaration holds until a bake', () => {
    const list = [ev('opened', 0), ev('expired', 1), ev('dry-storage-in', 2), ev('dry-storage-out', 3)];
    expect(mslStatus('3', list, h(4)).state).toBe('expired');
    expect(mslStatus('3', [...list, ev('baked', 5)], h(6)).state).toBe('baked');
  });
});

describe('mslStatus: derating', () => {
  it('multiplies the floor life by the factor', () => {
    const opts: MslOptions = { deratingFactor: 0.5 };
    const s = mslStatus('3', [ev('opened', 0)], h(80), opts);
    expect(s.floorLifeMs).toBe(84 * HOUR_MS);
    expect(s.remainingMs).toBe(4 * HOUR_MS);
    expect(s.expiresAt).toEqual(h(84));
    expect(s.warn).toBe(true);
    expect(mslStatus('3', [ev('opened', 0)], h(84), opts).state).toBe('expired');
  });

  it('rounds a derated floor life down, never up', () => {
    const s = mslStatus('5a', [], h(0), { deratingFactor: 1 / 3 });
    expect(s.floorLifeMs).toBe(Math.floor(24 * HOUR_MS * (1 / 3)));
  });

  it('refuses factors that would extend the floor life or are not positive', () => {
    expectMslError(() => mslStatus('3', [], h(0), { deratingFactor: 1.5 }), 'MSL_OPTION_INVALID');
    expectMslError(() => mslStatus('3', [], h(0), { deratingFactor: 0 }), 'MSL_OPTION_INVALID');
    expectMslError(() => mslStatus('3', [], h(0), { deratingFactor: Number.NaN }), 'MSL_OPTION_INVALID');
  });
});

describe('mslStatus: MSL 1 and MSL 6', () => {
  it('MSL 1 is not sensitive: unlimited floor life', () => {
    const s = mslStatus('1', [ev('opened', 0)], h(24 * 365 * 10));
    expect(s).toMatchObject({ state: 'not-sensitive', floorLifeMs: null, remainingMs: null, expiresAt: null, warn: false });
    expect(s.exposedMs).toBe(24 * 365 * 10 * HOUR_MS);
  });

  it('MSL 1 still honours an explicit expiry declaration', () => {
    expect(mslStatus('1', [ev('opened', 0), ev('expired', 1)], h(2)).state).toBe('expired');
  });

  it('MSL 6 requires a bake before use', () => {
    expect(mslStatus('6', [], h(0), { timeOnLabelMs: 6 * HOUR_MS }).state).toBe('bake-required');
    const opened = mslStatus('6', [ev('opened', 0)], h(1), { timeOnLabelMs: 6 * HOUR_MS });
    expect(opened.state).toBe('bake-required');
    expect(opened.remainingMs).toBe(0);
    expect(mslBlocksUse(opened)).toBe(true);
  });

  it('MSL 6 without a time on the label stays bake-required even after a bake', () => {
    const s = mslStatus('6', [ev('opened', 0), ev('baked', 1)], h(2));
    expect(s.state).toBe('bake-required');
    expect(s.floorLifeMs).toBeNull();
  });

  it('MSL 6 after a bake is usable for the time on the label, and dry storage does not pause it', () => {
    const opts: MslOptions = { timeOnLabelMs: 6 * HOUR_MS };
    const baked = [ev('opened', 0), ev('baked', 1)];
    const s = mslStatus('6', baked, h(3), opts);
    expect(s.state).toBe('baked');
    expect(s.remainingMs).toBe(4 * HOUR_MS);
    expect(s.expiresAt).toEqual(h(7));
    const stored = [...baked, ev('dry-storage-in', 3)];
    expect(mslStatus('6', stored, h(6), opts).state).toBe('exposed');
    expect(mslStatus('6', stored, h(7), opts).state).toBe('expired');
    expect(mslStatus('6', [...stored, ev('dry-storage-out', 8), ev('baked', 9)], h(10), opts).state).toBe('baked');
  });
});

describe('mslStatus: warning threshold', () => {
  it('warns when less than 8 h remain by default', () => {
    const opened = [ev('opened', 0)];
    expect(mslStatus('3', opened, h(160)).warn).toBe(false); // exactly 8 h left
    expect(mslStatus('3', opened, new Date(h(160).getTime() + 1)).warn).toBe(true);
  });

  it('uses a configurable threshold', () => {
    const opened = [ev('opened', 0)];
    expect(mslStatus('3', opened, h(150), { warnThresholdMs: 24 * HOUR_MS }).warn).toBe(true);
    expect(mslStatus('3', opened, h(140), { warnThresholdMs: 24 * HOUR_MS }).warn).toBe(false);
  });

  it('warns for a nearly used-up package in dry storage too, but not for expired ones', () => {
    expect(mslStatus('3', [ev('opened', 0), ev('dry-storage-in', 165)], h(300)).warn).toBe(true);
    expect(mslStatus('3', [ev('opened', 0)], h(300)).warn).toBe(false);
  });
});

describe('mslStatus: reset by desiccation (policy)', () => {
  const on: MslOptions = { desiccationReset: { enabled: true } };

  it('is off by default: dry storage only pauses', () => {
    const s = mslStatus('3', [ev('opened', 0), ev('dry-storage-in', 10), ev('dry-storage-out', 100)], h(100));
    expect(s.exposedMs).toBe(10 * HOUR_MS);
  });

  it('MSL 3: ≤12 h exposure is reset after 5× that time dry', () => {
    const list = [ev('opened', 0), ev('dry-storage-in', 10)];
    expect(mslStatus('3', list, h(59.99), on).exposedMs).toBe(10 * HOUR_MS);
    expect(mslStatus('3', list, h(60), on).exposedMs).toBe(0);
    const out = mslStatus('3', [...list, ev('dry-storage-out', 70)], h(72), on);
    expect(out.exposedMs).toBe(2 * HOUR_MS);
  });

  it('does not reset when the dry period is interrupted early', () => {
    const s = mslStatus('3', [ev('opened', 0), ev('dry-storage-in', 10), ev('dry-storage-out', 59)], h(59), on);
    expect(s.exposedMs).toBe(10 * HOUR_MS);
  });

  it('does not reset exposures longer than the limit', () => {
    const s = mslStatus('3', [ev('opened', 0), ev('dry-storage-in', 13)], h(1000), on);
    expect(s.exposedMs).toBe(13 * HOUR_MS);
  });

  it('MSL 4: ≤8 h exposure needs 10× that time', () => {
    const list = [ev('opened', 0), ev('resealed-dry-pack', 8)];
    expect(mslStatus('4', list, h(87), on).exposedMs).toBe(8 * HOUR_MS);
    expect(mslStatus('4', list, h(88), on).exposedMs).toBe(0);
    expect(mslStatus('4', [ev('opened', 0), ev('resealed-dry-pack', 9)], h(1000), on).exposedMs).toBe(9 * HOUR_MS);
  });

  it('judges derated exposures as their 30 °C/60 %RH equivalent', () => {
    const opts: MslOptions = { ...on, deratingFactor: 0.5 };
    // 7 h at factor 0.5 counts as 14 h: more than the 12 h limit.
    expect(mslStatus('3', [ev('opened', 0), ev('dry-storage-in', 7)], h(1000), opts).exposedMs).toBe(7 * HOUR_MS);
    // 5 h counts as 10 h: reset after 50 h.
    const list = [ev('opened', 0), ev('dry-storage-in', 5)];
    expect(mslStatus('3', list, h(54), opts).exposedMs).toBe(5 * HOUR_MS);
    expect(mslStatus('3', list, h(55), opts).exposedMs).toBe(0);
  });

  it('keeps drying when parts move from the cabinet straight into a dry pack', () => {
    const s = mslStatus('3', [ev('opened', 0), ev('dry-storage-in', 10), ev('resealed-dry-pack', 30)], h(60), on);
    expect(s.exposedMs).toBe(0);
  });

  it('never revives an expired package', () => {
    const s = mslStatus('5a', [ev('opened', 0), ev('dry-storage-in', 6)], h(500), { ...on, deratingFactor: 0.2 });
    expect(s.state).toBe('expired');
    const declared = mslStatus('3', [ev('opened', 0), ev('expired', 1), ev('dry-storage-in', 2)], h(500), on);
    expect(declared.state).toBe('expired');
    expect(declared.exposedMs).toBe(2 * HOUR_MS);
  });

  it('accepts custom rules and validates them', () => {
    const custom: MslOptions = { desiccationReset: { enabled: true, rules: { '3': { maxExposureMs: 2 * HOUR_MS, factor: 3 } } } };
    expect(mslStatus('3', [ev('opened', 0), ev('dry-storage-in', 2)], h(8), custom).exposedMs).toBe(0);
    expect(mslStatus('3', [ev('opened', 0), ev('dry-storage-in', 3)], h(100), custom).exposedMs).toBe(3 * HOUR_MS);
    expectMslError(
      () => mslStatus('3', [], h(0), { desiccationReset: { enabled: true, rules: { '3': { maxExposureMs: 1, factor: 0.5 } } } }),
      'MSL_OPTION_INVALID',
    );
  });
});

describe('mslStatus: refused histories', () => {
  it('refuses events out of time order', () => {
    expectMslError(() => mslStatus('3', [ev('opened', 10), ev('dry-storage-in', 5)], h(20)), 'MSL_EVENT_OUT_OF_ORDER', 1);
  });

  it('refuses events later than now', () => {
    expectMslError(() => mslStatus('3', [ev('opened', 10)], h(5)), 'MSL_EVENT_AFTER_NOW', 0);
  });

  it('refuses dry-storage-out while not in dry storage', () => {
    const err = expectMslError(() => mslStatus('3', [ev('opened', 0), ev('dry-storage-out', 1)], h(2)), 'MSL_EVENT_NOT_ALLOWED', 1);
    expect(err.message).toContain('dry-storage-out');
    expect(err.message).toContain('room air');
  });

  it('refuses opening a package that is already open', () => {
    expectMslError(() => mslStatus('3', [ev('opened', 0), ev('opened', 1)], h(2)), 'MSL_EVENT_NOT_ALLOWED', 1);
  });

  it('refuses putting a sealed bag into a dry cabinet or resealing it', () => {
    expectMslError(() => mslStatus('3', [ev('dry-storage-in', 0)], h(1)), 'MSL_EVENT_NOT_ALLOWED', 0);
    expectMslError(() => mslStatus('3', [ev('resealed-dry-pack', 0)], h(1)), 'MSL_EVENT_NOT_ALLOWED', 0);
  });

  it('refuses opening a package that sits in a dry cabinet', () => {
    expectMslError(() => mslStatus('3', [ev('opened', 0), ev('dry-storage-in', 1), ev('opened', 2)], h(3)), 'MSL_EVENT_NOT_ALLOWED', 2);
  });

  it('refuses unknown event types and invalid times', () => {
    const bad = [{ type: 'washed', at: h(0) }] as unknown as MslEvent[];
    expectMslError(() => mslStatus('3', bad, h(1)), 'MSL_EVENT_INVALID', 0);
    expectMslError(() => mslStatus('3', [{ type: 'opened', at: new Date(Number.NaN) }], h(1)), 'MSL_EVENT_INVALID', 0);
  });

  it('refuses unknown levels and an invalid now', () => {
    expectMslError(() => mslStatus('7' as MslLevel, [], h(0)), 'MSL_LEVEL_UNKNOWN');
    expectMslError(() => mslStatus('3', [], new Date(Number.NaN)), 'MSL_OPTION_INVALID');
    expectMslError(() => mslStatus('6', [], h(0), { timeOnLabelMs: -1 }), 'MSL_OPTION_INVALID');
    expectMslError(() => mslStatus('3', [], h(0), { warnThresholdMs: -1 }), 'MSL_OPTION_INVALID');
  });

  it('tryMslStatus returns the error as a value', () => {
    const r = tryMslStatus('3', [ev('opened', 10), ev('baked', 5)], h(20));
    expect(r).toMatchObject({ ok: false, code: 'MSL_EVENT_OUT_OF_ORDER', eventIndex: 1 });
    const ok = tryMslStatus('3', [], h(0));
    expect(ok).toMatchObject({ ok: true, status: { state: 'never-opened' } });
  });
});
