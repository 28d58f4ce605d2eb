import { parse } from 'csv-parse/sync';
import type { FieldError } from '../../platform/errors.ts';

/** Parsing of work-order files from ERP exports: CSV (header row) or JSON (array of objects). */

export type ImportFormat = 'csv' | 'json';
export const IMPORT_FORMATS: ImportFormat[] = ['csv', 'json'];

export interface WorkOrderImportRow {
  /** Where the row came from, for messages: `line 7` (CSV) or `item 3` (JSON). */
  where: string;
  /** 1-based line (CSV) or item number (JSON). */
  sourceLine: number;
  number: string;
  customer?: string;
  customerPo?: string;
  product: string;
  revision: string;
  quantity: number;
  overrunUnits?: number;
  overrunPercent?: number;
  dueDate?: string | null;
  /** Production line code. */
  lineCode?: string;
  serialPattern?: string;
  notes?: string;
}

/** Column headers (lower case) accepted per field. */
const SYNONYMS: Record<string, string[]> = {
  number: ['number', 'work order', 'workorder', 'work order number', 'wo', 'order'],
  customer: ['customer', 'customer name'],
  customerPo: ['customer po', 'customerpo', 'po', 'purchase order', 'customer_po'],
  product: ['product', 'product code', 'item', 'assembly'],
  revision: ['revision', 'rev', 'product revision'],
  quantity: ['quantity', 'qty'],
  overrun: ['overrun', 'allowed overrun', 'overrun allowed'],
  dueDate: ['due date', 'due', 'duedate', 'due_date'],
  lineCode: ['line', 'line code', 'smt line'],
  serialPattern: ['serial pattern', 'serialpattern', 'serial_pattern'],
  notes: ['notes', 'note', 'comment'],
};

type Raw = Record<string, unknown>;

/** `5` → 5 units, `2%` or `2.5 %` → a percentage. */
function parseOverrun(v: string): { units?: number; percent?: number } | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(v);
  if (!m) return null;
  const n = Number(m[1]);
  if (m[2]) return n <= 100 ? { percent: n } : null;
  return Number.isInteger(n) ? { units: n } : null;
}

function toRow(raw: Raw, where: string, sourceLine: number, errs: FieldError[]): WorkOrderImportRow {
  const err = (field: string, code: string, message: string) => errs.push({ field: `${where}: ${field}`, code, message, line: sourceLine });
  const str = (k: string) => {
    const v = raw[k];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string' && typeof v !== 'number') {
      err(k, 'type', `${k} must be text`);
      return undefined;
    }
    return String(v).trim();
  };
  const number = str('number') ?? '';
  if (!number) err('number', 'required', 'work order number is required');
  else if (!/^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$/.test(number)) err('number', 'format', `"${number}" is not a valid work order number`);
  const product = str('product') ?? '';
  if (!product) err('product', 'required', 'product is required');
  const revision = str('revision') ?? '';
  if (!revision) err('revision', 'required', 'revision is required');
  const qRaw = str('quantity');
  const quantity = Number(qRaw);
  if (qRaw === undefined || !Number.isInteger(quantity) || quantity <= 0) err('quantity', 'invalid', `quantity "${qRaw ?? ''}" must be a positive whole number`);
  const row: WorkOrderImportRow = { where, sourceLine, number, product, revision, quantity };
  const set = <K extends keyof WorkOrderImportRow>(k: K, v: WorkOrderImportRow[K] | undefined) => {
    if (v !== undefined) row[k] = v;
  };
  set('customer', str('customer'));
  set('customerPo', str('customerPo'));
  set('lineCode', str('lineCode'));
  set('serialPattern', str('serialPattern'));
  set('notes', str('notes'));
  const due = str('dueDate');
  if (due !== undefined) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(due) || Number.isNaN(Date.parse(`${due}T00:00:00Z`))) err('dueDate', 'format', `due date "${due}" must be YYYY-MM-DD`);
    else row.dueDate = due;
  }
  const overrun = str('overrun');
  if (overrun !== undefined) {
    const o = parseOverrun(overrun);
    if (!o) err('overrun', 'invalid', `overrun "${overrun}" must be a number of units (5) or a percentage up to 100 (2%)`);
    else {
      set('overrunUnits', o.units);
      set('overrunPercent', o.percent);
    }
  }
  for (const k of ['overrunUnits', 'overrunPercent'] as const) {
    const v = raw[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || v < 0 || (k === 'overrunUnits' && !Number.isInteger(v)) || (k === 'overrunPercent' && v > 100)) err(k, 'invalid', `${k} must be a non-negative number`);
    else row[k] = v;
  }
  return row;
}

/**
 * Parses a work-order file. CSV columns are found by their usual ERP header names; JSON is an
 * array of objects (or `{ "workOrders": [...] }`) with the field names of the REST API and
 * `product`/`revision`/`line` given as codes. Every problem is reported with its position.
 */
export function parseWorkOrderFile(text: string, format: ImportFormat): { rows: WorkOrderImportRow[]; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const rows: WorkOrderImportRow[] = [];
  if (format === 'json') {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (e) {
      return { rows, errors: [{ field: 'file', code: 'syntax', message: `not valid JSON: ${(e as Error).message}` }] };
    }
    const items = Array.isArray(data) ? data : (data as { workOrders?: unknown })?.workOrders;
    if (!Array.isArray(items)) return { rows, errors: [{ field: 'file', code: 'shape', message: 'expected an array of work orders or { "workOrders": [...] }' }] };
    items.forEach((it, i) => {
      if (!it || typeof it !== 'object' || Array.isArray(it)) {
        errors.push({ field: `item ${i + 1}`, code: 'type', message: 'each work order must be an object', line: i + 1 });
        return;
      }
      const o = it as Raw;
      rows.push(toRow({ ...o, lineCode: o.line ?? o.lineCode }, `item ${i + 1}`, i + 1, errors));
    });
  } else {
    let records: string[][];
    try {
      records = parse(text.replace(/^\uFEFF/, ''), { skip_empty_lines: true, trim: true, relax_column_count: true, delimiter: text.includes(';') && !text.includes(',') ? ';' : ',' });
    } catch (e) {
      return { rows, errors: [{ field: 'file', code: 'csv_syntax', message: (e as Error).message }] };
    }
    if (records.length === 0) return { rows, errors: [{ field: 'file', code: 'empty', message: 'the file has no header row' }] };
    const header = records[0]!.map((h) => h.trim().toLowerCase());
    const index: Record<string, number> = {};
    for (const [field, names] of Object.entries(SYNONYMS)) {
      const i = header.findIndex((h) => names.includes(h));
      if (i >= 0) index[field] = i;
    }
    for (const f of ['number', 'product', 'revision', 'quantity']) {
      if (index[f] === undefined) errors.push({ field: `column ${f}`, code: 'missing_column', message: `no column for ${f} (expected one of: ${SYNONYMS[f]!.join(', ')})`, line: 1 });
    }
    if (errors.length) return { rows, errors };
    records.slice(1).forEach((rec, k) => {
      const raw: Raw = {};
      for (const [f, i] of Object.entries(index)) raw[f] = rec[i] ?? '';
      rows.push(toRow(raw, `line ${k + 2}`, k + 2, errors));
    });
  }
  const seen = new Map<string, string>();
  for (const r of rows) {
    if (!r.number) continue;
    const prior = seen.get(r.number);
    if (prior) errors.push({ field: `${r.where}: number`, code: 'duplicate', message: `work order ${r.number} is also at ${prior}`, line: r.sourceLine });
    else seen.set(r.number, r.where);
  }
  if (rows.length === 0 && errors.length === 0) errors.push({ field: 'file', code: 'empty', message: 'the file contains no work orders' });
  return { rows, errors };
}
