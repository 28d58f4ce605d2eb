/**
 * Stable refusal reasons of feeder loading and of consumable (paste / stencil) checks.
 *
 * The codes and integers never change once shipped (add new ones at the end): the integer is
 * what a CFX ValidateStationSetupResponse / ValidateUnitsResponse carries as FailureCode, the
 * code is what the REST API and the attempt log carry, the sentence is the generic meaning
 * (each refusal also carries a specific message naming the package, slot and part).
 */

export const LOAD_REFUSAL_REASONS = [
  { code: 'PROGRAM_NOT_RELEASED', failureCode: 1, sentence: 'The program is not released for production.' },
  { code: 'PROGRAM_NOT_FOR_EQUIPMENT', failureCode: 2, sentence: 'The program belongs to another machine or station.' },
  { code: 'SLOT_NOT_IN_PROGRAM', failureCode: 3, sentence: "The slot is not part of the program's feeder setup." },
  { code: 'PACKAGE_UNKNOWN', failureCode: 4, sentence: 'The scanned package ID is not known to the MES.' },
  { code: 'PACKAGE_SCRAPPED', failureCode: 5, sentence: 'The package has been scrapped.' },
  { code: 'PACKAGE_EMPTY', failureCode: 6, sentence: 'The package is empty.' },
  { code: 'PACKAGE_BLOCKED', failureCode: 7, sentence: 'The package is blocked.' },
  { code: 'PACKAGE_QUARANTINED', failureCode: 8, sentence: 'The package is in quarantine.' },
  { code: 'PART_MISMATCH', failureCode: 9, sentence: 'The package holds a different part than the slot requires.' },
  { code: 'MPN_NOT_ON_AVL', failureCode: 10, sentence: "The package's manufacturer part is not on the AVL of the slot's part." },
  { code: 'AVL_ENTRY_INACTIVE', failureCode: 11, sentence: "The AVL entry of the package's manufacturer part is inactive." },
  { code: 'ALTERNATE_NOT_PERMITTED', failureCode: 12, sentence: 'The manufacturer part is an alternate without permission for this product revision or work order.' },
  { code: 'LOT_ON_HOLD', failureCode: 13, sentence: "The package's material lot is on hold." },
  { code: 'LOT_EXPIRED', failureCode: 14, sentence: "The package's material lot is past its expiry date." },
  { code: 'MSL_EXPIRED', failureCode: 15, sentence: 'The floor life of the moisture-sensitive package has run out; bake it before use.' },
  { code: 'MSL_BAKE_REQUIRED', failureCode: 16, sentence: 'The moisture-sensitive package must be baked before use (MSL 6).' },
  { code: 'MSD_STATE_UNKNOWN', failureCode: 17, sentence: "The package's moisture-sensitivity state cannot be determined from its history." },
  { code: 'PACKAGE_LOADED_ELSEWHERE', failureCode: 18, sentence: 'The package is loaded in another slot or machine; unload it there first.' },
  { code: 'SPLICE_PENDING', failureCode: 19, sentence: 'A splice is already waiting on this slot; the running package must empty first.' },
  { code: 'SPLICE_FEEDER_MISMATCH', failureCode: 20, sentence: 'A splice must join the package running on the same feeder.' },
  { code: 'PACKAGE_ON_HOLD', failureCode: 21, sentence: 'An active quality hold covers the package.' },
  { code: 'STATION_ON_HOLD', failureCode: 22, sentence: "An active quality hold covers the machine's station." },
] as const;

export type LoadRefusalCode = (typeof LOAD_REFUSAL_REASONS)[number]['code'];

/** One refusal: the stable code, its integer (CFX FailureCode) and a specific sentence. */
export interface LoadRefusal {
  code: LoadRefusalCode;
  failureCode: number;
  message: string;
}

const LOAD_BY_CODE = new Map<string, (typeof LOAD_REFUSAL_REASONS)[number]>(LOAD_REFUSAL_REASONS.map((r) => [r.code, r]));

export function loadRefusal(code: LoadRefusalCode, message?: string): LoadRefusal {
  const r = LOAD_BY_CODE.get(code)!;
  return { code, failureCode: r.failureCode, message: message ?? r.sentence };
}

/** Validity problems of solder paste and stencils, checked at setup (mounting on a printer). */
export const CONSUMABLE_PROBLEMS = [
  { code: 'PASTE_NOT_PASTE', sentence: 'The package is not a solder-paste jar.' },
  { code: 'PASTE_UNUSABLE', sentence: 'The paste jar is blocked, quarantined, empty or scrapped, or its lot is on hold.' },
  { code: 'PASTE_EXPIRED', sentence: "The paste lot is past its expiry date." },
  { code: 'PASTE_NOT_THAWED', sentence: 'The paste has not been thawed for the minimum time (or was opened before that).' },
  { code: 'PASTE_OPEN_TOO_LONG', sentence: 'The paste jar has been open longer than allowed.' },
  { code: 'STENCIL_RETIRED', sentence: 'The stencil is retired.' },
  { code: 'STENCIL_WRONG_REVISION', sentence: 'The stencil is made for another product revision.' },
  { code: 'STENCIL_CLEANING_DUE', sentence: 'The stencil has reached its cleaning interval; clean it first.' },
  { code: 'STENCIL_WORN_OUT', sentence: 'The stencil has reached its maximum number of prints.' },
] as const;

export type ConsumableProblemCode = (typeof CONSUMABLE_PROBLEMS)[number]['code'];

export interface ConsumableProblem {
  code: ConsumableProblemCode;
  message: string;
}

/**
 * The materials module's interlock reasons (tracking's range 1400–1499), registered with the
 * rules into tracking's ordered rule list (see interlock.ts); GET /api/v1/tracking reason tables
 * list them with the others.
 */
export const MATERIALS_INTERLOCK_REASONS = {
  SETUP_INCOMPLETE: { number: 1401, title: "A required slot of the build-basis program is not loaded with a verified, usable package on the machine" },
  SETUP_PROGRAM_MISMATCH: { number: 1402, title: 'The machine is set up for, or reports, another program or program revision than the build basis prescribes' },
  STENCIL_NOT_READY: { number: 1403, title: 'No stencil valid for the product revision is mounted on the printer' },
  PASTE_NOT_READY: { number: 1404, title: 'No usable solder paste (thawed, not expired, not open too long) is mounted on the printer' },
} as const satisfies Record<string, { number: number; title: string }>;
export type MaterialsInterlockCode = keyof typeof MATERIALS_INTERLOCK_REASONS;
