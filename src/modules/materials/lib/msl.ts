/**
 * Moisture-sensitive device (MSD) floor-life arithmetic after IPC/JEDEC J-STD-033.
 *
 * Pure: the state of one package is recomputed from its event history and an explicit
 * `now`, so the same history always gives the same answer, tests control the clock, and
 * the service layer can validate a new event by appending it and re-evaluating.
 *
 * Model (floor life at ≤30 °C / 60 %RH, J-STD-033 Table 5-1):
 * - The clock runs while the parts are out of a dry pack and outside a dry cabinet.
 * - `dry-storage-in` (cabinet ≤5 %RH) and `resealed-dry-pack` pause it; it resumes on
 *   `dry-storage-out` / `opened`.
 * - `baked` resets the exposure to zero. The parts leave the oven into room air, so the
 *   clock restarts at the bake time (conservative: J-STD-033 counts floor life from the
 *   end of the bake). Record `resealed-dry-pack` or `dry-storage-in` at the same instant
 *   if the baked parts go straight back into dry storage.
 * - Reaching the (derated) floor life exactly counts as expired; an expired package stays
 *   expired until it is baked, whatever else happens to it.
 * - MSL 6: always baked before use, then usable for the time on the label. No pause rule
 *   for level 6 is applied (J-STD-033 gives none that we could verify), so dry storage does
 *   not stop its clock.
 * - Reset by desiccation (short exposures dried out in a dry pack / ≤5 %RH cabinet) is a
 *   policy that is OFF by default; see {@link DEFAULT_DESICCATION_RULES}.
 *
 * Not modelled: dry-pack shelf life (the sealed bag's own expiry), humidity indicator
 * card readings, bake-time selection by package thickness (Tables 4-1/4-2), and the
 * temperature/humidity table 7-1 itself (use `deratingFactor`).
 */

export const MSL_LEVELS = ['1', '2', '2a', '3', '4', '5', '5a', '6'] as const;
export type MslLevel = (typeof MSL_LEVELS)[number];

export const HOUR_MS = 3_600_000;

/**
 * Floor life at ≤30 °C / 60 %RH per level, in ms; `null` = unlimited (MSL 1, ≤30 °C/85 %RH),
 * and for MSL 6 the time on the label applies instead (see `timeOnLabelMs`).
 */
export const FLOOR_LIFE_MS: Readonly<Record<MslLevel, number | null>> = {
  '1': null,
  '2': 8760 * HOUR_MS, // 1 year
  '2a': 672 * HOUR_MS, // 4 weeks
  '3': 168 * HOUR_MS,
  '4': 72 * HOUR_MS,
  '5': 48 * HOUR_MS,
  '5a': 24 * HOUR_MS,
  '6': null,
};

export type MslEventType =
  | 'opened'
  | 'dry-storage-in'
  | 'dry-storage-out'
  | 'resealed-dry-pack'
  | 'baked'
  | 'expired';

export const MSL_EVENT_TYPES: readonly MslEventType[] = [
  'opened',
  'dry-storage-in',
  'dry-storage-out',
  'resealed-dry-pack',
  'baked',
  'expired',
];

export interface MslEvent {
  type: MslEventType;
  /** When it happened. Events must be in non-decreasing time order. */
  at: Date;
}

/** One rule of the reset-by-desiccation policy for a level. */
export interface DesiccationRule {
  /** Largest exposure (equivalent at 30 °C/60 %RH) that desiccation can reset. */
  maxExposureMs: number;
  /** The package must stay dry for `factor` × exposure without interruption. */
  factor: number;
}

/**
 * Reset-by-desiccation rules as we read J-STD-033 (clause 4.1.2 / Table 4-3 in the C/D
 * revisions): levels 2, 2a, 3 with exposure ≤12 h are reset by ≥5× that time in a dry pack
 * or a ≤5 %RH cabinet; levels 4, 5, 5a with exposure ≤8 h by ≥10×. We could not check the
 * text of revision D itself, so the policy is disabled by default and must be switched on
 * deliberately (`desiccationReset: { enabled: true }`) after checking the standard.
 */
export const DEFAULT_DESICCATION_RULES: Readonly<Partial<Record<MslLevel, DesiccationRule>>> = {
  '2': { maxExposureMs: 12 * HOUR_MS, factor: 5 },
  '2a': { maxExposureMs: 12 * HOUR_MS, factor: 5 },
  '3': { maxExposureMs: 12 * HOUR_MS, factor: 5 },
  '4': { maxExposureMs: 8 * HOUR_MS, factor: 10 },
  '5': { maxExposureMs: 8 * HOUR_MS, factor: 10 },
  '5a': { maxExposureMs: 8 * HOUR_MS, factor: 10 },
};

export interface MslOptions {
  /** MSL 6 only: time on the label after a bake. Without it an MSL 6 package is always `bake-required`. */
  timeOnLabelMs?: number | null;
  /**
   * Multiplies the floor life for rooms hotter or wetter than 30 °C/60 %RH (J-STD-033
   * clause 7), e.g. 0.5. Must be in (0, 1]: longer floor lives for cooler rooms are not
   * granted here.
   */
  deratingFactor?: number;
  /** `warn` becomes true when less than this remains. Default 8 h. */
  warnThresholdMs?: number;
  /** Reset-by-desiccation policy. Default: disabled. */
  desiccationReset?: {
    enabled: boolean;
    /** Per-level rules; defaults to {@link DEFAULT_DESICCATION_RULES}. */
    rules?: Partial<Record<MslLevel, DesiccationRule>>;
  };
}

export type MslState =
  | 'never-opened'
  | 'exposed'
  | 'dry-storage'
  | 'expired'
  | 'baked'
  | 'bake-required'
  | 'not-sensitive';

export interface MslStatus {
  state: MslState;
  /** Exposure (wall-clock ms in room air) since the last reset. */
  exposedMs: number;
  /** Derated floor life; null when unlimited (MSL 1) or unknown (MSL 6 without time on label). */
  floorLifeMs: number | null;
  /** Floor life left (0 when expired or bake-required); null when unlimited. */
  remainingMs: number | null;
  /** When the floor life runs out if nothing changes; only while the clock is running. */
  expiresAt: Date | null;
  /** True when a usable package has less than the warning threshold left. */
  warn: boolean;
}

export type MslErrorCode =
  | 'MSL_LEVEL_UNKNOWN'
  | 'MSL_OPTION_INVALID'
  | 'MSL_EVENT_INVALID'
  | 'MSL_EVENT_OUT_OF_ORDER'
  | 'MSL_EVENT_AFTER_NOW'
  | 'MSL_EVENT_NOT_ALLOWED';

/** A history or input that cannot be evaluated; never a silently wrong answer. */
export class MslError extends Error {
  readonly code: MslErrorCode;
  /** Index of the offending event in the input list, when one is to blame. */
  readonly eventIndex: number | undefined;

  constructor(code: MslErrorCode, message: string, eventIndex?: number) {
    super(message);
    this.name = 'MslError';
    this.code = code;
    this.eventIndex = eventIndex;
  }
}

export function isMslLevel(value: unknown): value is MslLevel {
  return typeof value === 'string' && (MSL_LEVELS as readonly string[]).includes(value);
}

type Location = 'sealed' | 'ambient' | 'dry-cabinet' | 'dry-pack';

const DEFAULT_WARN_MS = 8 * HOUR_MS;

function describeLocation(loc: Location): string {
  switch (loc) {
    case 'sealed':
      return 'in its unopened dry pack';
    case 'ambient':
      return 'in room air';
    case 'dry-cabinet':
      return 'in a dry cabinet';
    case 'dry-pack':
      return 'in a resealed dry pack';
  }
}

function checkPositiveFinite(name: string, v: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new MslError('MSL_OPTION_INVALID', `${name} must be a positive finite number, got ${String(v)}`);
  }
}

/**
 * Computes the J-STD-033 state of one package from its MSL level, its event history and
 * an explicit `now`. Throws {@link MslError} when the level, options or history are
 * invalid (unknown event, events out of time order, events after `now`, or an event that
 * is impossible in the package's state at that moment).
 */
export function mslStatus(
  level: MslLevel,
  events: readonly MslEvent[],
  now: Date,
  options: MslOptions = {},
): MslStatus {
  if (!isMslLevel(level)) {
    throw new MslError('MSL_LEVEL_UNKNOWN', `Unknown MSL level ${JSON.stringify(level)}; expected one of ${MSL_LEVELS.join(', ')}`);
  }
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) {
    throw new MslError('MSL_OPTION_INVALID', '`now` must be a valid Date');
  }
  const derating = options.deratingFactor ?? 1;
  checkPositiveFinite('deratingFactor', derating);
  if (derating > 1) {
    throw new MslError('MSL_OPTION_INVALID', `deratingFactor must be at most 1 (floor life is never extended), got ${derating}`);
  }
  const warnThresholdMs = options.warnThresholdMs ?? DEFAULT_WARN_MS;
  if (typeof warnThresholdMs !== 'number' || !Number.isFinite(warnThresholdMs) || warnThresholdMs < 0) {
    throw new MslError('MSL_OPTION_INVALID', `warnThresholdMs must be a finite number ≥ 0, got ${String(warnThresholdMs)}`);
  }
  const timeOnLabelMs = options.timeOnLabelMs ?? null;
  if (timeOnLabelMs !== null) checkPositiveFinite('timeOnLabelMs', timeOnLabelMs);

  let rule: DesiccationRule | null = null;
  if (options.desiccationReset?.enabled) {
    const rules = options.desiccationReset.rules ?? DEFAULT_DESICCATION_RULES;
    const r = rules[level];
    if (r) {
      if (typeof r.maxExposureMs !== 'number' || !Number.isFinite(r.maxExposureMs) || r.maxExposureMs < 0) {
        throw new MslError('MSL_OPTION_INVALID', `desiccation rule for MSL ${level}: maxExposureMs must be a finite number ≥ 0`);
      }
      if (typeof r.factor !== 'number' || !Number.isFinite(r.factor) || r.factor < 1) {
        throw new MslError('MSL_OPTION_INVALID', `desiccation rule for MSL ${level}: factor must be a finite number ≥ 1`);
      }
      rule = r;
    }
  }

  const baseFloorLife = level === '6' ? timeOnLabelMs : FLOOR_LIFE_MS[level];
  // Floor down: a derated floor life is never rounded up.
  const floorLifeMs = baseFloorLife === null ? null : Math.floor(baseFloorLife * derating);
  const isSix = level === '6';

  // --- state machine ---
  // `as` keeps TypeScript from narrowing these to their initial values: they change inside closures.
  let loc = 'sealed' as Location;
  let exposedMs = 0;
  let expired = false as boolean; // sticky until a bake
  let bakedEver = false as boolean;
  let justBaked = false as boolean; // no location change since the last bake
  let t: number | null = null; // time up to which the clock has been evaluated
  let dryResetAt: number | null = null; // pending reset by desiccation

  const clockRunning = (): boolean => {
    if (isSix) return bakedEver && loc !== 'sealed';
    return loc === 'ambient';
  };

  const advance = (to: number): void => {
    if (t === null) {
      t = to;
      return;
    }
    if (to > t) {
      if (clockRunning()) {
        exposedMs += to - t;
        if (floorLifeMs !== null && exposedMs >= floorLifeMs) expired = true;
      } else if (dryResetAt !== null && dryResetAt <= to && !expired) {
        exposedMs = 0;
        dryResetAt = null;
      }
    }
    t = to;
  };

  /** Called when the package enters dry storage (from room air): schedule a desiccation reset if the policy allows. */
  const startDrying = (at: number): void => {
    dryResetAt = null;
    if (!rule || isSix || expired || exposedMs === 0) return;
    const equivalent = exposedMs / derating; // exposure as if at 30 °C/60 %RH
    if (equivalent > rule.maxExposureMs) return;
    dryResetAt = at + Math.ceil(equivalent * rule.factor);
  };

  const notAllowed = (i: number, ev: MslEvent, why: string): never => {
    throw new MslError(
      'MSL_EVENT_NOT_ALLOWED',
      `Event ${i} (${ev.type} at ${ev.at.toISOString()}) is impossible: the package is ${describeLocation(loc)}${why ? `; ${why}` : ''}`,
      i,
    );
  };

  let previous: number | null = null;
  for (let i = 0; i < events.length; i++) {
    const ev = events[i]!;
    if (ev === null || typeof ev !== 'object' || !MSL_EVENT_TYPES.includes(ev.type)) {
      throw new MslError(
        'MSL_EVENT_INVALID',
        `Event ${i} has unknown type ${JSON.stringify((ev as { type?: unknown } | null)?.type)}; expected one of ${MSL_EVENT_TYPES.join(', ')}`,
        i,
      );
    }
    if (!(ev.at instanceof Date) || Number.isNaN(ev.at.getTime())) {
      throw new MslError('MSL_EVENT_INVALID', `Event ${i} (${ev.type}) has no valid time`, i);
    }
    const at = ev.at.getTime();
    if (previous !== null && at < previous) {
      throw new MslError(
        'MSL_EVENT_OUT_OF_ORDER',
        `Event ${i} (${ev.type} at ${ev.at.toISOString()}) is earlier than event ${i - 1} (${new Date(previous).toISOString()}); events must be in time order`,
        i,
      );
    }
    if (at > now.getTime()) {
      throw new MslError(
        'MSL_EVENT_AFTER_NOW',
        `Event ${i} (${ev.type} at ${ev.at.toISOString()}) is later than now (${now.toISOString()})`,
        i,
      );
    }
    previous = at;
    advance(at);

    switch (ev.type) {
      case 'opened':
        if (loc !== 'sealed' && loc !== 'dry-pack') notAllowed(i, ev, 'only a dry pack can be opened');
        loc = 'ambient';
        dryResetAt = null;
        justBaked = false;
        break;
      case 'dry-storage-in':
        if (loc !== 'ambient') notAllowed(i, ev, 'only parts in room air can go into a dry cabinet');
        loc = 'dry-cabinet';
        startDrying(at);
        justBaked = false;
        break;
      case 'dry-storage-out':
        if (loc !== 'dry-cabinet') notAllowed(i, ev, 'it is not in a dry cabinet');
        loc = 'ambient';
        dryResetAt = null;
        justBaked = false;
        break;
      case 'resealed-dry-pack':
        if (loc !== 'ambient' && loc !== 'dry-cabinet') notAllowed(i, ev, 'only opened parts can be resealed');
        // From a cabinet straight into a bag the parts stay dry: the drying period continues.
        if (loc === 'ambient') startDrying(at);
        loc = 'dry-pack';
        justBaked = false;
        break;
      case 'baked':
        loc = 'ambient';
        exposedMs = 0;
        expired = false;
        bakedEver = true;
        justBaked = true;
        dryResetAt = null;
        break;
      case 'expired':
        expired = true;
        dryResetAt = null;
        break;
    }
  }
  advance(now.getTime());

  // --- result ---
  const base = { exposedMs, floorLifeMs };
  if (level === '1') {
    if (expired) return { ...base, state: 'expired', remainingMs: 0, expiresAt: null, warn: false };
    return { ...base, state: 'not-sensitive', remainingMs: null, expiresAt: null, warn: false };
  }
  if (isSix && (floorLifeMs === null || !bakedEver)) {
    return { ...base, state: 'bake-required', remainingMs: 0, expiresAt: null, warn: false };
  }
  if (expired || floorLifeMs === null) {
    // floorLifeMs is only null here for level 1 / 6, handled above; kept for the type checker.
    return { ...base, state: 'expired', remainingMs: 0, expiresAt: null, warn: false };
  }
  const remainingMs = Math.max(0, floorLifeMs - exposedMs);
  const running = clockRunning();
  let state: MslState;
  if (loc === 'sealed') state = 'never-opened';
  else if (justBaked) state = 'baked';
  else if (!isSix && (loc === 'dry-cabinet' || loc === 'dry-pack')) state = 'dry-storage';
  else state = 'exposed';
  return {
    ...base,
    state,
    remainingMs,
    expiresAt: running ? new Date(now.getTime() + remainingMs) : null,
    warn: remainingMs < warnThresholdMs,
  };
}

/** Non-throwing variant of {@link mslStatus} for callers that prefer a result value. */
export function tryMslStatus(
  level: MslLevel,
  events: readonly MslEvent[],
  now: Date,
  options?: MslOptions,
): { ok: true; status: MslStatus } | { ok: false; code: MslErrorCode; message: string; eventIndex?: number } {
  try {
    return { ok: true, status: mslStatus(level, events, now, options) };
  } catch (e) {
    if (e instanceof MslError) {
      return e.eventIndex === undefined
        ? { ok: false, code: e.code, message: e.message }
        : { ok: false, code: e.code, message: e.message, eventIndex: e.eventIndex };
    }
    throw e;
  }
}

/** True when the package must not be loaded or placed: expired, or bake required (domain rule: expired MSD state blocks use). */
export function mslBlocksUse(status: MslStatus): boolean {
  return status.state === 'expired' || status.state === 'bake-required';
}
