import { parse as parseCsv } from 'csv-parse/sync';
import { parse as parseYaml } from 'yaml';
import { Type } from 'typebox';
import { Compile } from 'typebox/compile';
import type { Db, Tx } from '../../platform/db.ts';
import { AppError, type FieldError } from '../../platform/errors.ts';
import { errors, who, type App } from '../../platform/http.ts';
import { R, type Principal } from '../../platform/principal.ts';
import type { FactoryService, StationType } from '../factory/index.ts';
import type { MslLevel, PartsService } from '../parts/index.ts';
import type { ProductsService, RouteStepInput } from '../products/index.ts';
import { FactoryDocument } from './schema.ts';
import { Enum } from '../../platform/schema.ts';

export { FactoryDocument } from './schema.ts';

export type ImportKind = 'factory' | 'parts' | 'avl';
export const IMPORT_KINDS: ImportKind[] = ['factory', 'parts', 'avl'];

export interface ImportReport {
  kind: ImportKind;
  created: number;
  updated: number;
  unchanged: number;
  notes: string[];
}

export type Progress = (done: number, total: number, what: string) => void;

const checkFactory = Compile(FactoryDocument);

/** Parses JSON or YAML text into a factory document, listing every schema error by path. */
export function parseFactoryDocument(text: string): FactoryDocument {
  let data: unknown;
  try {
    data = text.trimStart().startsWith('{') ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new AppError('IMPORT_INVALID', `The factory document is not valid JSON or YAML: ${(e as Error).message}`, {
      errors: [{ field: 'file', code: 'syntax', message: (e as Error).message }],
    });
  }
  if (!checkFactory.Check(data)) {
    const errs: FieldError[] = [...checkFactory.Errors(data)].slice(0, 200).map((e) => ({
      field: e.instancePath || '/',
      code: e.keyword,
      message: e.keyword === 'additionalProperties' ? `unknown field ${JSON.stringify((e.params as { additionalProperties?: string[] }).additionalProperties ?? '')}` : (e.message ?? 'invalid'),
    }));
    throw new AppError('IMPORT_INVALID', `The factory document has ${errs.length} error(s); nothing was imported`, { errors: errs });
  }
  return data as FactoryDocument;
}

function csvRecords(text: string): Record<string, string>[] {
  try {
    return parseCsv(text.replace(/^\uFEFF/, ''), { columns: (h: string[]) => h.map((x) => x.trim().toLowerCase()), skip_empty_lines: true, trim: true, relax_column_count: true });
  } catch (e) {
    throw new AppError('IMPORT_INVALID', `The CSV file cannot be read: ${(e as Error).message}`, { errors: [{ field: 'file', code: 'csv_syntax', message: (e as Error).message }] });
  }
}

const pick = (r: Record<string, string>, ...names: string[]) => {
  for (const n of names) if (r[n] !== undefined && r[n] !== '') return r[n]!;
  return undefined;
};
const bool = (v: string | undefined) => (v === undefined ? undefined : /^(y|yes|true|1|x)$/i.test(v));

/**
 * Imports of whole files: the factory document (JSON/YAML), parts CSV and AVL CSV. Each import
 * runs in one transaction; any error aborts it whole and lists every problem found.
 */
export function createImportService(db: Db, deps: { factory: FactoryService; parts: PartsService; products: ProductsService }) {
  const { factory, parts, products } = deps;

  async function importFactory(who: Principal, doc: FactoryDocument, progress: Progress = () => undefined): Promise<ImportReport> {
    const report: ImportReport = { kind: 'factory', created: 0, updated: 0, unchanged: 0, notes: [] };
    const count = (c: 'created' | 'updated' | 'unchanged') => void (report[c] += 1);
    const total =
      (doc.sites?.length ?? 0) + (doc.lines?.length ?? 0) + (doc.stations?.length ?? 0) + (doc.equipment?.length ?? 0) + (doc.parts?.length ?? 0) + (doc.avl?.length ?? 0) +
      (doc.products ?? []).reduce((n, p) => n + 1 + (p.revisions?.length ?? 0), 0);
    let done = 0;
    const tick = (what: string) => progress(++done, total, what);
    await db.tx(async (tx) => {
      const ref = async <T extends { id: number }>(svc: { getByKey(k: string, q: Tx): Promise<T | undefined> }, what: string, key: string, field: string) => {
        const r = await svc.getByKey(key, tx);
        if (!r) throw new AppError('IMPORT_INVALID', `${field}: ${what} ${key} does not exist`, { errors: [{ field, code: 'unknown_reference', message: `${what} ${key} does not exist` }] });
        return r.id;
      };
      for (const s of doc.sites ?? []) {
        count((await factory.sites.upsert(who, { code: s.code, name: s.name, ...(s.timezone ? { timezone: s.timezone } : {}) }, tx)).change);
        tick('sites');
      }
      for (const [i, l] of (doc.lines ?? []).entries()) {
        const siteId = await ref(factory.sites, 'site', l.site, `/lines/${i}/site`);
        count((await factory.lines.upsert(who, { code: l.code, name: l.name, siteId }, tx)).change);
        tick('lines');
      }
      for (const [i, s] of (doc.stations ?? []).entries()) {
        const lineId = s.line ? await ref(factory.lines, 'line', s.line, `/stations/${i}/line`) : null;
        count((await factory.stations.upsert(who, { code: s.code, name: s.name, type: s.type as StationType, lineId, seq: s.seq ?? 0 }, tx)).change);
        tick('stations');
      }
      for (const [i, e] of (doc.equipment ?? []).entries()) {
        const stationId = await ref(factory.stations, 'station', e.station, `/equipment/${i}/station`);
        const { station: _s, ...rest } = e;
        count((await factory.equipment.upsert(who, { ...rest, stationId }, tx)).change);
        tick('equipment');
      }
      for (const p of doc.parts ?? []) {
        count((await parts.parts.upsert(who, { ...p, mslLevel: p.mslLevel as MslLevel | undefined }, tx)).change);
        tick('parts');
      }
      for (const a of doc.avl ?? []) {
        const r = await parts.upsertAvlEntry(who, a, tx);
        count(r.change);
        if (a.permitGlobally && a.alternate) {
          const has = await tx.query(`SELECT 1 FROM alternate_permissions WHERE avl_entry_id = $1 AND scope = 'global'`, [r.entry.id]);
          if (!has.rowCount) await parts.grantAlternate(who, { avlEntryId: r.entry.id, scope: 'global', reason: a.permitGlobally }, tx);
        }
        tick('avl');
      }
      for (const [pi, p] of (doc.products ?? []).entries()) {
        const prod = await products.products.upsert(who, { code: p.code, name: p.name, customer: p.customer ?? '' }, tx);
        count(prod.change);
        tick('products');
        for (const [ri, r] of (p.revisions ?? []).entries()) {
          const where = `/products/${pi}/revisions/${ri}`;
          let rev = await products.findRevision(p.code, r.revision, tx);
          if (rev && rev.state !== 'draft') {
            report.notes.push(`${p.code} revision ${r.revision} is ${rev.state}; its contents were left unchanged`);
            count('unchanged');
            tick('revisions');
            continue;
          }
          const eng = { bomRevision: r.bomRevision, gerberRevision: r.gerberRevision, assemblyDrawingRevision: r.assemblyDrawingRevision, centroidRevision: r.centroidRevision };
          if (!rev) {
            rev = await products.createRevision(who, { productId: prod.row.id, revision: r.revision, ...eng }, tx);
            count('created');
          } else {
            count('updated');
          }
          try {
            if (r.bom) {
              await products.replaceBom(
                who, rev.id,
                r.bom.map((b) => ({ lineNo: b.line, ipn: b.ipn, quantity: b.quantity, refdes: b.refdes ?? [], side: b.side, doNotPlace: b.doNotPlace, placed: b.placed, notes: b.notes })),
                { createParts: false, source: 'factory-document' }, tx,
              );
            }
            if (r.route) {
              const steps: RouteStepInput[] = [];
              for (const [si, st] of r.route.steps.entries()) {
                const { station, ...rest } = st;
                const stationId = station ? await ref(factory.stations, 'station', station, `${where}/route/steps/${si}/station`) : null;
                steps.push({ ...rest, stationId });
              }
              await products.replaceRoute(who, rev.id, { name: r.route.name, steps }, tx);
            }
            for (const pr of r.programs ?? []) {
              const existing = (await products.listPrograms({ productRevisionId: rev.id, name: pr.name }, tx)).find((x) => x.revision === pr.revision);
              if (existing) continue;
              const stationId = pr.station ? await ref(factory.stations, 'station', pr.station, `${where}/programs/${pr.name}/station`) : null;
              const equipmentId = pr.equipment ? await ref(factory.equipment, 'equipment', pr.equipment, `${where}/programs/${pr.name}/equipment`) : null;
              const prog = await products.createProgram(
                who,
                { productRevisionId: rev.id, name: pr.name, revision: pr.revision, kind: pr.kind, stationType: pr.stationType, stationId, equipmentId, checksum: pr.checksum, parameterRanges: pr.parameterRanges, slots: pr.slots },
                tx,
              );
              if (pr.release) await products.setProgramState(who, prog.id, 'released', tx);
            }
            if (r.qualityPlan) await products.putQualityPlan(who, rev.id, r.qualityPlan as Parameters<ProductsService['putQualityPlan']>[2], tx);
            if (r.release) {
              const blockers = await products.releaseBlockersIn(tx, rev.id);
              if (blockers.length) throw new AppError('IMPORT_INVALID', `${p.code} revision ${r.revision} cannot be released`, { errors: blockers.map((b) => ({ ...b, field: `${where}: ${b.field}` })) });
              await products.releaseRevision(who, rev.id, tx);
            }
          } catch (e) {
            if (e instanceof AppError && e.errors) {
              throw new AppError(e.code === 'VALIDATION_FAILED' ? 'IMPORT_INVALID' : e.code, `${where}: ${e.message}`, { errors: e.errors.map((x) => ({ ...x, field: `${where}: ${x.field}` })) });
            }
            throw e;
          }
          tick('revisions');
        }
      }
    });
    return report;
  }

  async function importParts(who: Principal, text: string, progress: Progress = () => undefined): Promise<ImportReport> {
    const rows = csvRecords(text);
    const errs: FieldError[] = [];
    const items = rows.map((r, i) => {
      const line = i + 2;
      const ipn = pick(r, 'ipn', 'part number', 'internal part number', 'part');
      const msl = (pick(r, 'msl', 'msl level', 'msllevel', 'msl_level') ?? '1').toLowerCase().replace(/^msl\s*/, '');
      if (!ipn) errs.push({ field: `line ${line}: ipn`, code: 'required', message: 'part number is required', line });
      if (!['1', '2', '2a', '3', '4', '5', '5a', '6'].includes(msl)) errs.push({ field: `line ${line}: msl`, code: 'enum', message: `MSL "${msl}" is not one of 1, 2, 2a, 3, 4, 5, 5a, 6`, line });
      return { ipn: ipn ?? '', description: pick(r, 'description', 'desc') ?? '', package: pick(r, 'package', 'footprint') ?? null, mslLevel: msl as MslLevel, placed: bool(pick(r, 'placed')) ?? true };
    });
    const seen = new Map<string, number>();
    items.forEach((it, i) => {
      if (it.ipn && seen.has(it.ipn)) errs.push({ field: `line ${i + 2}: ipn`, code: 'duplicate', message: `part ${it.ipn} is also on line ${seen.get(it.ipn)}`, line: i + 2 });
      seen.set(it.ipn, i + 2);
    });
    if (errs.length) throw new AppError('IMPORT_INVALID', `The parts file has ${errs.length} error(s); nothing was imported`, { errors: errs });
    const report: ImportReport = { kind: 'parts', created: 0, updated: 0, unchanged: 0, notes: [] };
    await db.tx(async (tx) => {
      for (const [i, it] of items.entries()) {
        report[(await parts.parts.upsert(who, it, tx)).change]++;
        progress(i + 1, items.length, 'parts');
      }
    });
    return report;
  }

  async function importAvl(who: Principal, text: string, progress: Progress = () => undefined): Promise<ImportReport> {
    const rows = csvRecords(text);
    const errs: FieldError[] = [];
    const items = rows.map((r, i) => {
      const line = i + 2;
      const it = {
        ipn: pick(r, 'ipn', 'part number', 'internal part number') ?? '',
        manufacturer: pick(r, 'manufacturer', 'mfr') ?? '',
        mpn: pick(r, 'mpn', 'manufacturer part number', 'mfr part number') ?? '',
        alternate: bool(pick(r, 'alternate', 'alt')) ?? false,
        preference: Number(pick(r, 'preference', 'rank') ?? 1),
      };
      for (const f of ['ipn', 'manufacturer', 'mpn'] as const) if (!it[f]) errs.push({ field: `line ${line}: ${f}`, code: 'required', message: `${f} is required`, line });
      if (!Number.isInteger(it.preference) || it.preference < 1) errs.push({ field: `line ${line}: preference`, code: 'invalid', message: 'preference must be a positive integer', line });
      return it;
    });
    if (errs.length) throw new AppError('IMPORT_INVALID', `The AVL file has ${errs.length} error(s); nothing was imported`, { errors: errs });
    const report: ImportReport = { kind: 'avl', created: 0, updated: 0, unchanged: 0, notes: [] };
    await db.tx(async (tx) => {
      for (const [i, it] of items.entries()) {
        try {
          report[(await parts.upsertAvlEntry(who, it, tx)).change]++;
        } catch (e) {
          if (e instanceof AppError) throw new AppError('IMPORT_INVALID', `line ${i + 2}: ${e.message}`, { errors: [{ field: `line ${i + 2}: ipn`, code: 'unknown_part', message: e.message, line: i + 2 }] });
          throw e;
        }
        progress(i + 1, items.length, 'avl');
      }
    });
    return report;
  }

  /** One entry point for every door (CLI, REST): kind + file text. */
  async function importText(who: Principal, kind: ImportKind, text: string, progress?: Progress): Promise<ImportReport> {
    switch (kind) {
      case 'factory':
        return importFactory(who, parseFactoryDocument(text), progress);
      case 'parts':
        return importParts(who, text, progress);
      case 'avl':
        return importAvl(who, text, progress);
    }
  }

  return { importFactory, importParts, importAvl, importText };
}
export type ImportService = ReturnType<typeof createImportService>;

const ReportSchema = Type.Object({ kind: Type.String(), created: Type.Integer(), updated: Type.Integer(), unchanged: Type.Integer(), notes: Type.Array(Type.String()) });

export function registerImportRoutes(app: App, svc: ImportService) {
  app.post('/api/v1/imports/:kind', {
    config: { roles: R.masterDataWrite },
    schema: {
      tags: ['imports'],
      summary: 'Import a file: factory (JSON or YAML factory document), parts (CSV), avl (CSV). All or nothing; errors listed by line or path.',
      params: Type.Object({ kind: Enum(IMPORT_KINDS) }),
      response: { 200: ReportSchema, ...errors(400, 415, 422) },
    },
    handler: async (req) => {
      const body = req.body;
      const text = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : body && typeof body === 'object' ? JSON.stringify(body) : '';
      if (text === '') throw new AppError('BAD_REQUEST', 'The import file is empty');
      return svc.importText(who(req), req.params.kind, text);
    },
  });
}
