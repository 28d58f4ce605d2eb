import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable, Transform, type Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import PDFDocument from 'pdfkit';
import type pg from 'pg';
import yazl from 'yazl';
import type { Db } from '../../platform/db.ts';
import { AppError, notFound } from '../../platform/errors.ts';
import type { Principal } from '../../platform/principal.ts';
import { recordAudit } from '../audit/index.ts';
import type { MaterialsService } from '../materials/index.ts';
import { TRACE_PACKAGE_SECTIONS } from '../products/index.ts';
import { siteKey, sign, type SiteKey } from './signing.ts';
import { allScope, copyOut, lotScope, shipmentScope, SOURCES, workOrderScope, type Scope } from './sources.ts';
import { MANIFEST, PUBLIC_KEY, SIGNATURE, type Manifest, type ManifestFile } from './verify.ts';

export const TRACE_SCOPES = ['work-order', 'lot', 'shipment'] as const;
export type TraceScope = (typeof TRACE_SCOPES)[number];
export type TraceSection = (typeof TRACE_PACKAGE_SECTIONS)[number];
export const EXTRACTS = ['wip', 'lot-traveler', 'material-usage', 'open-issues', 'order-progress'] as const;
export type ExtractName = (typeof EXTRACTS)[number];
export const MANIFEST_FORMAT = 'smt-mes-trace-package/1';

export interface PackageTarget { scope: TraceScope; ref: string }
export interface PackageProgress { file: string; filesDone: number; files: number; rows: number }
export interface PackageResult {
  scope: TraceScope; ref: string; files: ManifestFile[]; rows: number; bytes: number; sha256: string; keyId: string; site: string;
  sections: TraceSection[]; sectionsFrom: 'quality-plan' | 'default';
}
export interface Job {
  id: number; kind: string; scope: TraceScope; ref: string; state: 'queued' | 'running' | 'done' | 'failed'; progress: Partial<PackageProgress>;
  size: number | null; sha256: string | null; keyId: string | null; error: string | null; createdAt: Date; createdBy: string; startedAt: Date | null; finishedAt: Date | null;
}

/** Which SQL source fills each section of the trace package. */
const SECTION_SOURCES: Record<TraceSection, (s: Scope) => string> = {
  'work-order-sheet': SOURCES.workOrderSheet,
  'material-loading-log': SOURCES.materialLoadingLog,
  'panel-traveler': SOURCES.traveler,
  'inspection-trace': (s) => SOURCES.results(s, 'inspection'),
  'test-trace': (s) => SOURCES.results(s, 'test'),
  'rework-ncr-log': SOURCES.reworkNcrLog,
  'shipment-trace': SOURCES.shipmentTrace,
  'open-issues': SOURCES.openIssues,
};

const SECTION_TITLES: Record<TraceSection, string> = {
  'work-order-sheet': 'Work-order sheet', 'material-loading-log': 'Material loading log', 'panel-traveler': 'Panel traveler (station scans)',
  'inspection-trace': 'Inspection trace sheet', 'test-trace': 'Test trace sheet', 'rework-ncr-log': 'Rework / NCR log', 'shipment-trace': 'Shipment trace', 'open-issues': 'Open issues',
};

const STALE_MS = 60_000;

const USAGE_COLUMNS = ['mpn', 'manufacturer', 'lotCode', 'packageCode', 'equipmentCode', 'slot', 'loadedAt', 'unloadedAt', 'loadedQty', 'consumedQty'] as const;
const csvCell = (v: unknown) => {
  if (v === null || v === undefined) return '';
  const s = v instanceof Date ? v.toISOString() : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};
function* csvLines(rows: object[], cols: readonly string[]): Generator<string> {
  yield cols.join(',') + '\n';
  for (const r of rows) yield cols.map((c) => csvCell((r as Record<string, unknown>)[c])).join(',') + '\n';
}
function* jsonLines(rows: object[]): Generator<string> {
  if (!rows.length) {
    yield '[]\n';
    return;
  }
  for (const [i, r] of rows.entries()) yield (i ? ',\n' : '[\n') + JSON.stringify(r);
  yield '\n]\n';
}

export interface RecordsOptions { dataDir: string }
/** What records reads through other modules' public faces. */
export interface RecordsDeps { materials: Pick<MaterialsService, 'usageLog'> }

export function createRecordsService(db: Db, deps: RecordsDeps, opts: RecordsOptions) {
  const instance = `${process.pid}-${crypto.randomBytes(4).toString('hex')}`;

  interface Resolved { scope: Scope; target: PackageTarget; id: number; label: string; revisionIds: number[]; siteId: number | null }

  async function resolve(target: PackageTarget): Promise<Resolved> {
    const ref = target.ref.trim();
    if (!ref) throw new AppError('VALIDATION_FAILED', 'ref is empty', { errors: [{ field: '/ref', code: 'minLength', message: 'must name a work order, lot or shipment' }] });
    const byId = /^\d{1,15}$/.test(ref) ? Number(ref) : null;
    if (target.scope === 'work-order') {
      const w = await db.one<{ id: number; number: string; rev: number; site: number | null }>(
        `SELECT w.id, w.number, w.product_revision_id AS rev, l.site_id AS site FROM work_orders w LEFT JOIN lines l ON l.id = w.line_id WHERE w.number = $1 OR w.id = $2 ORDER BY (w.number = $1) DESC LIMIT 1`,
        [ref, byId],
      );
      if (!w) throw notFound('work order', ref);
      return { scope: workOrderScope([w.id]), target, id: w.id, label: `work order ${w.number}`, revisionIds: [w.rev], siteId: w.site };
    }
    if (target.scope === 'lot') {
      const l = await db.one<{ id: number; code: string; wo: number; rev: number; site: number | null }>(
        `SELECT pl.id, pl.code, pl.work_order_id AS wo, w.product_revision_id AS rev, ln.site_id AS site FROM production_lots pl JOIN work_orders w ON w.id = pl.work_order_id
           LEFT JOIN lines ln ON ln.id = w.line_id WHERE pl.code = $1 OR pl.id = $2 ORDER BY (pl.code = $1) DESC LIMIT 1`,
        [ref, byId],
      );
      if (!l) throw notFound('production lot', ref);
      return { scope: lotScope(l.id, l.wo), target, id: l.id, label: `production lot ${l.code}`, revisionIds: [l.rev], siteId: l.site };
    }
    const sh = await db.one<{ id: number; number: string }>(`SELECT id, number FROM shipping_shipments WHERE number = $1 OR id = $2 ORDER BY (number = $1) DESC LIMIT 1`, [ref, byId]);
    if (!sh) throw notFound('shipment', ref);
    const wos = (await db.query<{ id: number; rev: number; site: number | null }>(
      `SELECT DISTINCT w.id, w.product_revision_id AS rev, l.site_id AS site FROM shipping_cartons c JOIN work_orders w ON w.id = c.work_order_id LEFT JOIN lines l ON l.id = w.line_id
        WHERE c.shipment_id = $1 ORDER BY w.id`, [sh.id])).rows;
    return { scope: shipmentScope(sh.id, wos.map((w) => w.id)), target, id: sh.id, label: `shipment ${sh.number}`, revisionIds: [...new Set(wos.map((w) => w.rev))], siteId: wos[0]?.site ?? null };
  }

  /** The sections the quality plan(s) require, in the canonical order; all of them when no plan lists any. */
  async function sectionsFor(revisionIds: number[]): Promise<{ sections: TraceSection[]; from: 'quality-plan' | 'default' }> {
    const plans = (await db.query<{ trace_package: string[] }>(`SELECT trace_package FROM quality_plans WHERE product_revision_id = ANY($1)`, [revisionIds])).rows;
    const wanted = new Set(plans.flatMap((p) => p.trace_package));
    if (wanted.size === 0) return { sections: [...TRACE_PACKAGE_SECTIONS], from: 'default' };
    return { sections: TRACE_PACKAGE_SECTIONS.filter((s) => wanted.has(s)), from: 'quality-plan' };
  }

  /** A read-only connection for a package; with `snapshot`, it reads the snapshot another one exported. */
  async function readClient(snapshot?: string): Promise<pg.PoolClient> {
    const client = await db.pool.connect();
    try {
      // One snapshot for every file of a package; timestamps written in UTC.
      await client.query(`BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`);
      if (snapshot !== undefined) await client.query(`SET TRANSACTION SNAPSHOT '${snapshot.replace(/'/g, '')}'`);
      await client.query(`SET LOCAL TIME ZONE 'UTC'`);
      // Sorting a section's rows (by unit and visit) in memory rather than on disk.
      await client.query(`SET LOCAL work_mem = '64MB'`);
      return client;
    } catch (e) {
      client.release();
      throw e;
    }
  }

  /**
   * Builds the signed trace package into `out`: each required section as CSV and JSON, a PDF
   * summary, manifest.json (SHA-256 and size of every file), manifest.sig (Ed25519 over the
   * manifest's bytes) and the public key. Rows stream from COPY into the ZIP: memory stays flat.
   */
  /**
   * Packages built at once. Each holds two pool connections and takes the second while holding
   * the first: unbounded, enough concurrent builds would hold every connection and wait for
   * another forever. Builds beyond the limit wait for a slot, holding nothing.
   */
  const MAX_BUILDS = Math.max(1, Math.floor(db.pool.options.max / 4));
  let building = 0;
  const slotFreed: (() => void)[] = [];
  async function writePackage(who: Principal, target: PackageTarget, out: Writable, o: { onProgress?: (p: PackageProgress) => void; dataDir?: string } = {}): Promise<PackageResult> {
    while (building >= MAX_BUILDS) await new Promise<void>((r) => slotFreed.push(r));
    building++;
    try {
      return await buildPackage(who, target, out, o);
    } finally {
      building--;
      slotFreed.shift()?.();
    }
  }

  async function buildPackage(who: Principal, target: PackageTarget, out: Writable, o: { onProgress?: (p: PackageProgress) => void; dataDir?: string }): Promise<PackageResult> {
    const r = await resolve(target);
    const { sections, from } = await sectionsFor(r.revisionIds);
    const key = await siteKey(db, who, o.dataDir ?? opts.dataDir, r.siteId ? { siteId: r.siteId } : undefined);
    const zip = new yazl.ZipFile();
    const zipHash = crypto.createHash('sha256');
    let zipBytes = 0;
    const counted = new Transform({
      transform(c: Buffer, _e, cb) {
        zipHash.update(c);
        zipBytes += c.length;
        cb(null, c);
      },
    });
    const written = finished(out);
    zip.outputStream.pipe(counted).pipe(out);
    const mtime = new Date();
    const files: ManifestFile[] = [];
    const total = sections.length * 2 + 1;
    let rows = 0;
    const progress = (file: string) => o.onProgress?.({ file, filesDone: files.length, files: total, rows });
    // Two connections on one snapshot: each section's JSON is spooled to a temporary file while its
    // CSV streams into the ZIP, so PostgreSQL produces both at once; the spool then follows into the ZIP.
    const client = await readClient();
    let second: pg.PoolClient | null = null;
    const spool = fs.mkdtempSync(path.join(os.tmpdir(), 'mes-trace-'));
    const hashing = (onDone: (sha256: string, size: number) => void) => {
      const h = crypto.createHash('sha256');
      let size = 0;
      // Hash and count in the stream itself: its consumer is the only reader.
      return new Transform({
        transform(c: Buffer, _e, cb) {
          h.update(c);
          size += c.length;
          cb(null, c);
        },
        flush(cb) {
          onDone(h.digest('hex'), size);
          cb();
        },
      });
    };
    try {
      const snapshot = (await client.query<{ s: string }>('SELECT pg_export_snapshot() AS s')).rows[0]!.s;
      second = await readClient(snapshot);
      for (const [i, section] of sections.entries()) {
        const sql = SECTION_SOURCES[section](r.scope);
        progress(`${section}.csv`);
        let csvRows = 0, jsonRows = 0;
        let csvFile: ManifestFile | null = null, jsonFile: ManifestFile | null = null;
        const jsonPath = path.join(spool, `${i}.json`);
        const jsonSrc = copyOut(second, sql, 'json', () => jsonRows++);
        const jsonTap = hashing((sha256, size) => (jsonFile = { name: `${section}.json`, section, format: 'json', rows: jsonRows, sha256, size }));
        jsonSrc.on('error', (e) => jsonTap.destroy(e));
        const jsonDone = pipeline(jsonSrc, jsonTap, fs.createWriteStream(jsonPath, { mode: 0o600 }));
        const csvSrc = copyOut(client, sql, 'csv', () => {
          csvRows++;
          rows++;
        });
        const csvTap = hashing((sha256, size) => (csvFile = { name: `${section}.csv`, section, format: 'csv', rows: csvRows, sha256, size }));
        csvSrc.on('error', (e) => csvTap.destroy(e));
        csvSrc.pipe(csvTap);
        zip.addReadStream(csvTap, `${section}.csv`, { mtime, compressionLevel: 1 });
        await Promise.all([finished(csvTap), jsonDone]);
        files.push(csvFile!);
        progress(`${section}.json`);
        const spooled = fs.createReadStream(jsonPath);
        zip.addReadStream(spooled, `${section}.json`, { mtime, compressionLevel: 1 });
        await finished(spooled);
        fs.rmSync(jsonPath);
        files.push(jsonFile!);
      }
      await client.query('COMMIT');
      await second.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      await second?.query('ROLLBACK').catch(() => undefined);
      (zip.outputStream as unknown as Readable).destroy(e as Error);
      throw e;
    } finally {
      client.release();
      second?.release();
      fs.rmSync(spool, { recursive: true, force: true });
    }
    progress('summary.pdf');
    const generatedAt = new Date();
    const pdf = await summaryPdf(r, sections, from, files, key, generatedAt, who);
    files.push({ name: 'summary.pdf', format: 'pdf', sha256: crypto.createHash('sha256').update(pdf).digest('hex'), size: pdf.length });
    zip.addBuffer(pdf, 'summary.pdf', { mtime, compress: false });
    const manifest: Manifest = {
      format: MANIFEST_FORMAT, scope: { kind: target.scope, ref: target.ref, id: r.id, label: r.label }, site: key.site, keyId: key.keyId, algorithm: 'Ed25519',
      generatedAt: generatedAt.toISOString(), generatedBy: who.name, sections, sectionsFrom: from, files,
    };
    const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 2) + '\n', 'utf8');
    zip.addBuffer(manifestBytes, MANIFEST, { mtime });
    zip.addBuffer(Buffer.from(sign(key, manifestBytes).toString('base64') + '\n'), SIGNATURE, { mtime });
    zip.addBuffer(Buffer.from(key.publicKeyPem), PUBLIC_KEY, { mtime });
    zip.end();
    await written;
    progress('done');
    const result: PackageResult = { scope: target.scope, ref: target.ref, files, rows, bytes: zipBytes, sha256: zipHash.digest('hex'), keyId: key.keyId, site: key.site, sections, sectionsFrom: from };
    await recordAudit(db, who, {
      action: 'export', entity: 'trace_package', entityId: `${target.scope}:${target.ref}`,
      after: { label: r.label, sha256: result.sha256, bytes: result.bytes, keyId: key.keyId, manifestSha256: crypto.createHash('sha256').update(manifestBytes).digest('hex'), files: files.map((f) => ({ name: f.name, sha256: f.sha256 })) },
    });
    return result;
  }

  function summaryPdf(r: Resolved, sections: TraceSection[], from: string, files: ManifestFile[], key: SiteKey, at: Date, who: Principal): Promise<Buffer> {
    return new Promise((resolvePdf, reject) => {
      const doc = new PDFDocument({ size: 'A4', margin: 48, info: { Title: `Trace package — ${r.label}`, Producer: 'SMT MES', CreationDate: at } });
      const chunks: Buffer[] = [];
      doc.on('data', (c: Buffer) => chunks.push(c));
      doc.on('end', () => resolvePdf(Buffer.concat(chunks)));
      doc.on('error', reject);
      doc.fontSize(18).text(`Trace package: ${r.label}`);
      doc.moveDown(0.5).fontSize(10).text(`Generated ${at.toISOString()} by ${who.name} · site ${key.site} · Ed25519 key ${key.keyId}`);
      doc.text(`Contents: ${from === 'quality-plan' ? 'as required by the quality plan' : 'default set (the quality plan lists no sections)'}`);
      doc.moveDown();
      doc.fontSize(12).text('Sections');
      doc.fontSize(9);
      for (const s of sections) {
        const csv = files.find((f) => f.name === `${s}.csv`);
        doc.text(`${SECTION_TITLES[s]}: ${csv?.rows ?? 0} rows  (${s}.csv, ${s}.json)`);
      }
      doc.moveDown();
      doc.fontSize(12).text('Files (SHA-256)');
      doc.font('Courier').fontSize(7);
      for (const f of files) doc.text(`${f.sha256}  ${String(f.size).padStart(10)}  ${f.name}`);
      doc.font('Helvetica').fontSize(9).moveDown();
      doc.text('manifest.json lists every file with its SHA-256 and size; manifest.sig is the Ed25519 signature of manifest.json; signing-key.pem is the public key. Check offline with: mes verify <package.zip> --key <site public key>.');
      doc.end();
    });
  }

  // ── extracts ─────────────────────────────────────────────────────────────────────────────
  async function extractScope(name: ExtractName, f: { workOrder?: string; lot?: string }): Promise<Scope> {
    if (f.lot) return (await resolve({ scope: 'lot', ref: f.lot })).scope;
    if (f.workOrder) return (await resolve({ scope: 'work-order', ref: f.workOrder })).scope;
    if (name === 'lot-traveler') throw new AppError('VALIDATION_FAILED', 'the lot traveler needs a lot (or a work order)', { errors: [{ field: '/lot', code: 'required', message: 'give lot or workOrder' }] });
    if (name === 'material-usage') throw new AppError('VALIDATION_FAILED', 'the material usage log needs a work order', { errors: [{ field: '/workOrder', code: 'required', message: 'give workOrder (or lot)' }] });
    return allScope();
  }
  const EXTRACT_SQL: Record<Exclude<ExtractName, 'material-usage'>, (s: Scope) => string> = {
    wip: SOURCES.wip, 'lot-traveler': SOURCES.traveler, 'open-issues': SOURCES.openIssues, 'order-progress': SOURCES.orderProgress,
  };

  /** A production extract as a stream (CSV with header, or a JSON array); the connection is released when it ends. */
  async function extract(name: ExtractName, format: 'csv' | 'json', f: { workOrder?: string; lot?: string } = {}): Promise<Readable> {
    if (!(EXTRACTS as readonly string[]).includes(name)) throw new AppError('VALIDATION_FAILED', `unknown extract ${name}`, { errors: [{ field: '/name', code: 'enum', message: `one of ${EXTRACTS.join(', ')}` }] });
    const scope = await extractScope(name, f);
    if (name === 'material-usage') {
      // The materials module's usage log (MPN, lot, package, slot, loaded and consumed quantities): a work order's few hundred rows.
      const rows = await deps.materials.usageLog(scope.workOrderIds[0]!);
      return Readable.from(format === 'json' ? jsonLines(rows) : csvLines(rows, USAGE_COLUMNS));
    }
    const client = await readClient();
    const stream = copyOut(client, EXTRACT_SQL[name](scope), format);
    let released = false;
    const release = (err?: unknown) => {
      if (released) return;
      released = true;
      void client.query(err ? 'ROLLBACK' : 'COMMIT').catch(() => undefined).finally(() => client.release(err ? (err as Error) : undefined));
    };
    stream.on('end', () => release());
    stream.on('error', (e) => release(e));
    stream.on('close', () => release());
    return stream;
  }

  async function writeExtract(name: ExtractName, format: 'csv' | 'json', f: { workOrder?: string; lot?: string }, out: Writable): Promise<void> {
    const s = await extract(name, format, f);
    s.pipe(out);
    await finished(s);
    if (out !== process.stdout) {
      out.end();
      await finished(out);
    }
  }

  // ── background jobs ──────────────────────────────────────────────────────────────────────
  const JOB_SELECT = `id, kind, scope, ref, state, progress, size, sha256, key_id AS "keyId", error, created_at AS "createdAt", created_by AS "createdBy",
    started_at AS "startedAt", finished_at AS "finishedAt" FROM records_jobs`;
  const jobsDir = () => path.join(opts.dataDir, 'records', 'packages');

  async function getJob(id: number): Promise<Job> {
    // A job whose instance stopped (no heartbeat for a minute) will not finish: record it so.
    await db.query(
      `UPDATE records_jobs SET state = 'failed', error = 'interrupted: the instance building it stopped; start the export again', finished_at = clock_timestamp()
        WHERE id = $1 AND state IN ('queued','running') AND heartbeat_at < clock_timestamp() - make_interval(secs => $2)`, [id, STALE_MS / 1000]);
    const j = await db.one<Job>(`SELECT ${JOB_SELECT} WHERE id = $1`, [id]);
    if (!j) throw notFound('trace package job', id);
    return j;
  }

  async function listJobs(limit = 50): Promise<Job[]> {
    return (await db.query<Job>(`SELECT ${JOB_SELECT} ORDER BY id DESC LIMIT $1`, [Math.min(Math.max(limit, 1), 500)])).rows;
  }

  /** Starts building a trace package in the background; answers at once with the job. */
  async function startPackageJob(who: Principal, target: PackageTarget): Promise<Job> {
    if (!(TRACE_SCOPES as readonly string[]).includes(target.scope)) throw new AppError('VALIDATION_FAILED', `unknown scope ${target.scope}`, { errors: [{ field: '/scope', code: 'enum', message: TRACE_SCOPES.join(', ') }] });
    await resolve(target); // unknown work order / lot / shipment → 404 now, not a failed job later
    const id = await db.tx(async (tx) => {
      const row = (await tx.query<{ id: number }>(`INSERT INTO records_jobs (scope, ref, instance, created_by) VALUES ($1, $2, $3, $4) RETURNING id`, [target.scope, target.ref, instance, who.name])).rows[0]!;
      await recordAudit(tx, who, { action: 'create', entity: 'trace_package_job', entityId: row.id, after: { scope: target.scope, ref: target.ref } });
      return row.id;
    });
    void runJob(who, id, target);
    return getJob(id);
  }

  async function runJob(who: Principal, id: number, target: PackageTarget): Promise<void> {
    const dir = jobsDir();
    const file = path.join(dir, `job-${id}.zip`);
    const beat = setInterval(() => void db.query(`UPDATE records_jobs SET heartbeat_at = clock_timestamp() WHERE id = $1 AND state = 'running'`, [id]).catch(() => undefined), 10_000);
    beat.unref();
    let lastWrite = 0;
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      await db.query(`UPDATE records_jobs SET state = 'running', started_at = clock_timestamp(), heartbeat_at = clock_timestamp() WHERE id = $1`, [id]);
      const out = fs.createWriteStream(`${file}.part`, { mode: 0o600 });
      const r = await writePackage(who, target, out, {
        onProgress: (p) => {
          const now = Date.now();
          if (now - lastWrite < 250 && p.file !== 'done') return;
          lastWrite = now;
          void db.query(`UPDATE records_jobs SET progress = $2, heartbeat_at = clock_timestamp() WHERE id = $1 AND state = 'running'`, [id, JSON.stringify(p)]).catch(() => undefined);
        },
      });
      fs.renameSync(`${file}.part`, file);
      await db.query(
        `UPDATE records_jobs SET state = 'done', file_path = $2, size = $3, sha256 = $4, key_id = $5, finished_at = clock_timestamp(),
                progress = jsonb_build_object('file', 'done', 'filesDone', $6::int, 'files', $6::int, 'rows', $7::int) WHERE id = $1`,
        [id, file, r.bytes, r.sha256, r.keyId, r.files.length, r.rows],
      );
    } catch (e) {
      fs.rmSync(`${file}.part`, { force: true });
      await db.query(`UPDATE records_jobs SET state = 'failed', error = $2, finished_at = clock_timestamp() WHERE id = $1`, [id, (e as Error).message || String(e)]).catch(() => undefined);
    } finally {
      clearInterval(beat);
    }
  }

  /** The finished package of a job, as a file stream. */
  async function jobDownload(id: number): Promise<{ stream: Readable; size: number; filename: string; sha256: string }> {
    const j = await getJob(id);
    if (j.state !== 'done') throw new AppError('STATE_CONFLICT', `Trace package job ${id} is ${j.state}${j.error ? ` (${j.error})` : ''}; download it when done`, { details: { state: j.state } });
    const row = (await db.one<{ file_path: string }>(`SELECT file_path FROM records_jobs WHERE id = $1`, [id]))!;
    if (!fs.existsSync(row.file_path)) throw new AppError('NOT_FOUND', `The file of trace package job ${id} is no longer on this server`);
    return { stream: fs.createReadStream(row.file_path), size: j.size!, sha256: j.sha256!, filename: `trace-${j.scope}-${j.ref.replace(/[^A-Za-z0-9._-]/g, '_')}.zip` };
  }

  async function publicKey(o: { site?: string; dataDir?: string } = {}, who: Principal = { kind: 'system', id: null, name: 'records', role: 'admin' }) {
    const k = await siteKey(db, who, o.dataDir ?? opts.dataDir, o.site ? { site: o.site } : undefined);
    return { site: k.site, keyId: k.keyId, algorithm: 'Ed25519' as const, publicKeyPem: k.publicKeyPem };
  }

  async function listKeys() {
    return (await db.query<{ site: string; keyId: string; publicKeyPem: string; createdAt: Date }>(
      `SELECT s.code AS site, k.key_id AS "keyId", k.public_key_pem AS "publicKeyPem", k.created_at AS "createdAt" FROM records_signing_keys k JOIN sites s ON s.id = k.site_id ORDER BY k.id`,
    )).rows;
  }

  return { writePackage, startPackageJob, getJob, listJobs, jobDownload, extract, writeExtract, publicKey, listKeys, sectionsFor, resolve };
}

export type RecordsService = ReturnType<typeof createRecordsService>;
