import type { FieldError } from '../../platform/errors.ts';

/**
 * Serial-number patterns. A pattern is literal text with tokens:
 *
 * | token | value |
 * |---|---|
 * | `{WO}` | work order number |
 * | `{PRODUCT}` / `{REV}` | product code / product revision |
 * | `{SEQ:n}` | the work order's serial sequence, zero-padded to n digits (1–12; required) |
 * | `{YYYY}` `{YY}` `{MM}` `{DD}` `{WW}` | date of generation (UTC), `WW` = ISO week |
 * | `{CHECK}` | check character, ISO/IEC 7064 MOD 37,36 over the letters and digits before it (must be last) |
 *
 * MOD 37,36 was chosen over Luhn because serials are alphanumeric: it yields one character
 * 0–9/A–Z, detects every single-character substitution and nearly all adjacent transpositions.
 */

export const DEFAULT_SERIAL_PATTERN = '{WO}-{SEQ:5}';
const TOKEN = /\{([A-Z]+)(?::(\d{1,2}))?\}/g;
const LITERAL = /^[A-Za-z0-9._/+-]*$/;
const KNOWN = new Set(['WO', 'PRODUCT', 'REV', 'SEQ', 'YYYY', 'YY', 'MM', 'DD', 'WW', 'CHECK']);

/** Every problem with a pattern; empty when it is usable. */
export function checkSerialPattern(pattern: string, field = 'serialPattern'): FieldError[] {
  const errs: FieldError[] = [];
  const err = (code: string, message: string) => errs.push({ field, code, message });
  if (pattern.length === 0 || pattern.length > 80) err('length', 'a serial pattern has 1 to 80 characters');
  let seq = 0;
  let last = '';
  let end = 0;
  for (const m of pattern.matchAll(TOKEN)) {
    const lit = pattern.slice(end, m.index);
    if (!LITERAL.test(lit)) err('literal', `"${lit}" may only contain letters, digits and . _ / + -`);
    end = m.index + m[0].length;
    const name = m[1]!;
    if (!KNOWN.has(name)) err('unknown_token', `unknown token {${name}}; known: ${[...KNOWN].join(', ')}`);
    if (name === 'SEQ') {
      seq++;
      const w = Number(m[2] ?? 6);
      if (w < 1 || w > 12) err('seq_width', '{SEQ:n} needs a width from 1 to 12');
    } else if (m[2] !== undefined) err('width', `{${name}} takes no width`);
    last = name;
  }
  const tail = pattern.slice(end);
  if (!LITERAL.test(tail)) err('literal', `"${tail}" may only contain letters, digits and . _ / + -`);
  if (seq !== 1) err('seq_required', 'the pattern needs exactly one {SEQ:n}, or serials would repeat');
  if (pattern.includes('{CHECK}') && (last !== 'CHECK' || tail !== '')) err('check_last', '{CHECK} must be the last thing in the pattern');
  return errs;
}

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** ISO/IEC 7064 MOD 37,36 (hybrid system) check character over the letters and digits of `text`. */
export function checkChar(text: string): string {
  let p = 36;
  for (const ch of text.toUpperCase()) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) continue;
    let s = (p + v) % 36;
    if (s === 0) s = 36;
    p = (s * 2) % 37;
  }
  return ALPHABET[(37 - p) % 36]!;
}

/** Whether the last letter/digit of `serial` is the MOD 37,36 check character of the ones before it. */
export function verifyCheckChar(serial: string): boolean {
  const chars = [...serial.toUpperCase()].filter((c) => ALPHABET.includes(c));
  if (chars.length < 2) return false;
  let p = 36;
  let s = 0;
  for (const ch of chars) {
    s = (p + ALPHABET.indexOf(ch)) % 36;
    if (s === 0) s = 36;
    p = (s * 2) % 37;
  }
  return s === 1;
}

function isoWeek(d: Date): number {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  return Math.ceil(((t.getTime() - yearStart) / 86_400_000 + 1) / 7);
}

export interface SerialVars {
  workOrder: string;
  product: string;
  revision: string;
  seq: number;
  date: Date;
}

/** Renders one serial from a (checked) pattern. */
export function renderSerial(pattern: string, v: SerialVars): string {
  const pad = (n: number, w: number) => String(n).padStart(w, '0');
  let out = '';
  let end = 0;
  for (const m of pattern.matchAll(TOKEN)) {
    out += pattern.slice(end, m.index);
    end = m.index + m[0].length;
    switch (m[1]) {
      case 'WO': out += v.workOrder; break;
      case 'PRODUCT': out += v.product; break;
      case 'REV': out += v.revision; break;
      case 'SEQ': out += pad(v.seq, Number(m[2] ?? 6)); break;
      case 'YYYY': out += String(v.date.getUTCFullYear()); break;
      case 'YY': out += pad(v.date.getUTCFullYear() % 100, 2); break;
      case 'MM': out += pad(v.date.getUTCMonth() + 1, 2); break;
      case 'DD': out += pad(v.date.getUTCDate(), 2); break;
      case 'WW': out += pad(isoWeek(v.date), 2); break;
      case 'CHECK': out += checkChar(out); break;
    }
  }
  return out + pattern.slice(end);
}
