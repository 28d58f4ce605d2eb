import { parse } from 'csv-parse/sync';
import type { FieldError } from '../../platform/errors.ts';

/** One BOM line as the MES stores it, before part ids are resolved. */
export interface BomLineInput {
  lineNo: number;
  ipn: string;
  quantity: number;
  refdes: string[];
  side?: 'top' | 'bottom' | 'both' | 'none';
  doNotPlace?: boolean;
  /** Defaults to the part's own `placed` flag. */
  placed?: boolean;
  notes?: string;
  description?: string;
  /** Approved sources from the BOM file: manufacturer + MPN. */
  sources?: { manufacturer: string; mpn: string; alternate: boolean }[];
  /** 1-based line number in the source file, for error messages. */
  sourceLine?: number;
}

const REFDES = /^[A-Za-z]{1,6}[0-9]{1,6}[A-Za-z0-9_]*$/;

/**
 * Splits a reference-designator cell ("R1, R2 R3;R4", "R5-R8") into designators. Ranges are
 * expanded only when both ends share the same letters, e.g. R5-R8 or R5-8.
 */
export function parseRefdes(cell: string): { refdes: string[]; errors: string[] } {
  const out: string[] = [];
  const errors: string[] = [];
  for (const tok of cell.split(/[\s,;]+/).filter(Boolean)) {
    const range = /^([A-Za-z]+)(\d+)-(?:\1)?(\d+)$/.exec(tok);
    if (range) {
      const [, prefix, a, b] = range as unknown as [string, string, string, string];
      const from = Number(a);
      const to = Number(b);
      if (to < from || to - from > 10_000) {
        errors.push(`range ${tok} is not ascending`);
        continue;
      }
      for (let i = from; i <= to; i++) out.push(`${prefix}${i}`);
      continue;
    }
    if (!REFDES.test(tok)) {
      errors.push(`"${tok}" is not a reference designator`);
      continue;
    }
    out.push(tok);
  }
  return { refdes: out, errors };
}

/**
 * Checks BOM lines against the rules that do not need the database: positive unique line
 * numbers, quantities, the reference-designator count equal to the quantity for placed lines,
 * and each designator used once across the BOM. Errors name the source line when known.
 */
export function validateBomLines(lines: BomLineInput[], placedByIpn: (ipn: string) => boolean | undefined): FieldError[] {
  const errs: FieldError[] = [];
  const seenLine = new Map<number, number>();
  const seenRef = new Map<string, number>();
  lines.forEach((l, i) => {
    const where = l.sourceLine !== undefined ? `line ${l.sourceLine}` : `/lines/${i}`;
    const err = (field: string, code: string, message: string) =>
      errs.push({ field: `${where}: ${field}`, code, message, ...(l.sourceLine !== undefined ? { line: l.sourceLine } : {}) });
    if (!Number.isInteger(l.lineNo) || l.lineNo <= 0) err('line', 'invalid', `line number must be a positive integer, got ${l.lineNo}`);
    else if (seenLine.has(l.lineNo)) err('line', 'duplicate', `line number ${l.lineNo} is used twice`);
    else seenLine.set(l.lineNo, i);
    if (!l.ipn) err('ipn', 'required', 'part number is required');
    const dnp = l.doNotPlace ?? false;
    if (!Number.isFinite(l.quantity) || l.quantity < 0 || (l.quantity === 0 && !dnp)) err('quantity', 'invalid', `quantity must be a positive number, got ${l.quantity}`);
    const placed = l.placed ?? placedByIpn(l.ipn) ?? true;
    if (placed && !dnp && Number.isFinite(l.quantity) && l.refdes.length !== l.quantity) {
      err('refdes', 'refdes_count', `${l.refdes.length} reference designators for quantity ${l.quantity}`);
    }
    for (const r of l.refdes) {
      const key = r.toUpperCase();
      if (seenRef.has(key)) err('refdes', 'duplicate_refdes', `${r} is also on BOM line ${seenRef.get(key)}`);
      else seenRef.set(key, l.lineNo);
    }
  });
  return errs;
}

/** The fields a BOM CSV column can be mapped to. */
export const BOM_FIELDS = ['line', 'ipn', 'quantity', 'refdes', 'manufacturer', 'mpn', 'alternates', 'side', 'dnp', 'description', 'notes'] as const;
export type BomField = (typeof BOM_FIELDS)[number];

/** Column headers seen in common PLM / CAD exports, per field (compared case-insensitively). */
const SYNONYMS: Record<BomField, string[]> = {
  line: ['item', 'line', 'line no', 'line number', '#', 'find number', 'find no', 'pos', 'position'],
  ipn: ['part number', 'ipn', 'internal part number', 'part no', 'part', 'pn', 'item number'],
  quantity: ['quantity', 'qty', 'quantity per', 'qty per'],
  refdes: ['reference designators', 'reference designator', 'refdes', 'ref des', 'designator', 'designators', 'references', 'reference'],
  manufacturer: ['manufacturer', 'mfr', 'mfg', 'manufacturer name', 'mfr name'],
  mpn: ['mpn', 'manufacturer part number', 'mfr part number', 'mfr pn', 'mfg part number', 'mfr part #'],
  alternates: ['alternates', 'alternate', 'alternate mpn', 'alternate parts', 'alt mpn'],
  side: ['side', 'layer', 'placement side'],
  dnp: ['dnp', 'do not place', 'do-not-place', 'not fitted', 'dnf', 'no pop'],
  description: ['description', 'desc', 'part description'],
  notes: ['notes', 'note', 'comment', 'comments'],
};

export interface CsvParseResult {
  lines: BomLineInput[];
  errors: FieldError[];
  columns: Partial<Record<BomField, string>>;
}

function truthy(v: string): boolean {
  return /^(y|yes|true|1|x|dnp)$/i.test(v.trim());
}

/**
 * Parses a BOM CSV. Columns are found by the usual header names or by an explicit mapping
 * (field → header). Alternates are written `Manufacturer:MPN` separated by `;` or `|`. Every
 * problem is reported with its CSV line number; the caller imports nothing if any is found.
 */
export function parseBomCsv(text: string, mapping: Partial<Record<BomField, string>> = {}): CsvParseResult {
  const errors: FieldError[] = [];
  let records: string[][];
  try {
    records = parse(text.replace(/^\uFEFF/, ''), { relax_column_count: true, skip_empty_lines: true, trim: true, delimiter: text.includes(';') && !text.includes(',') ? ';' : ',' });
  } catch (e) {
    const m = /line (\d+)/i.exec((e as Error).message);
    return { lines: [], columns: {}, errors: [{ field: 'file', code: 'csv_syntax', message: (e as Error).message, ...(m ? { line: Number(m[1]) } : {}) }] };
  }
  if (records.length === 0) return { lines: [], columns: {}, errors: [{ field: 'file', code: 'empty', message: 'the file has no header row' }] };
  const header = records[0]!.map((h) => h.trim());
  const lower = header.map((h) => h.toLowerCase());
  const columns: Partial<Record<BomField, string>> = {};
  const index: Partial<Record<BomField, number>> = {};
  for (const f of BOM_FIELDS) {
    const wanted = mapping[f];
    let i = -1;
    if (wanted !== undefined) {
      i = lower.indexOf(wanted.toLowerCase());
      if (i < 0) errors.push({ field: `mapping.${f}`, code: 'unknown_column', message: `column "${wanted}" is not in the header`, line: 1 });
    } else {
      i = lower.findIndex((h) => SYNONYMS[f].includes(h));
    }
    if (i >= 0) {
      columns[f] = header[i]!;
      index[f] = i;
    }
  }
  for (const f of ['ipn', 'quantity', 'refdes'] as const) {
    if (index[f] === undefined && mapping[f] === undefined) {
      errors.push({ field: `column ${f}`, code: 'missing_column', message: `no column for ${f} (expected one of: ${SYNONYMS[f].join(', ')})`, line: 1 });
    }
  }
  if (errors.length) return { lines: [], columns, errors };
  const lines: BomLineInput[] = [];
  records.slice(1).forEach((row, k) => {
    const sourceLine = k + 2;
    const cell = (f: BomField) => (index[f] !== undefined ? (row[index[f]!] ?? '').trim() : '');
    const err = (field: string, code: string, message: string) => errors.push({ field: `line ${sourceLine}: ${field}`, code, message, line: sourceLine });
    const qtyRaw = cell('quantity');
    const quantity = Number(qtyRaw);
    if (qtyRaw === '' || !Number.isFinite(quantity)) err('quantity', 'invalid', `quantity "${qtyRaw}" is not a number`);
    const lineRaw = cell('line');
    const lineNo = lineRaw === '' ? k + 1 : Number(lineRaw);
    if (lineRaw !== '' && !Number.isInteger(lineNo)) err('line', 'invalid', `line "${lineRaw}" is not an integer`);
    const rd = parseRefdes(cell('refdes'));
    for (const m of rd.errors) err('refdes', 'invalid', m);
    const sideRaw = cell('side').toLowerCase();
    let side: BomLineInput['side'];
    if (sideRaw !== '') {
      const s = ({ top: 'top', t: 'top', bottom: 'bottom', bot: 'bottom', b: 'bottom', both: 'both', none: 'none' } as const)[sideRaw as 'top'];
      if (!s) err('side', 'invalid', `side "${cell('side')}" is not top, bottom or both`);
      else side = s;
    }
    const sources: NonNullable<BomLineInput['sources']> = [];
    const mpn = cell('mpn');
    const mfr = cell('manufacturer');
    if (mpn !== '' && mfr === '') err('manufacturer', 'required', `MPN ${mpn} has no manufacturer`);
    if (mpn !== '' && mfr !== '') sources.push({ manufacturer: mfr, mpn, alternate: false });
    for (const alt of cell('alternates').split(/[;|]/).map((s) => s.trim()).filter(Boolean)) {
      const m = /^([^:]+):(.+)$/.exec(alt);
      if (!m) err('alternates', 'invalid', `alternate "${alt}" must be written Manufacturer:MPN`);
      else sources.push({ manufacturer: m[1]!.trim(), mpn: m[2]!.trim(), alternate: true });
    }
    lines.push({
      lineNo,
      ipn: cell('ipn'),
      quantity,
      refdes: rd.refdes,
      ...(side ? { side } : {}),
      doNotPlace: index.dnp !== undefined ? truthy(cell('dnp')) : false,
      notes: cell('notes'),
      description: cell('description'),
      sources,
      sourceLine,
    });
  });
  return { lines, columns, errors };
}

/** Parse errors plus rule errors of the lines that parsed, without repeating a field twice. */
export function mergeBomErrors(parseErrors: FieldError[], ruleErrors: FieldError[]): FieldError[] {
  const seen = new Set(parseErrors.map((e) => `${e.line}|${e.field}`));
  return [...parseErrors, ...ruleErrors.filter((e) => !seen.has(`${e.line}|${e.field}`))].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}
