import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import yauzl from 'yauzl';
import yazl from 'yazl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Db } from '../../src/platform/db.ts';
import type { App } from '../../src/platform/http.ts';
import { migrate } from '../../src/platform/migrate.ts';
import { createApp, createServices, type Services } from '../../src/main.ts';
import { generateHistory, type GenerateReport } from '../../src/modules/demo/index.ts';
import { verifyPackage } from '../../src/modules/records/index.ts';
import { freshDatabase, system, testConfig } from '../helpers.ts';

/**
 * Records over a generated history in a database of their own: the generator's data read back
 * through the services, a trace package whose files match the database and whose signature
 * verifies (and `mes verify` rejects it after one changed byte), extracts, background jobs.
 */

const run = promisify(execFile);
let fresh: Awaited<ReturnType<typeof freshDatabase>>;
let db: Db;
let s: Services;
let app: App;
let gen: GenerateReport;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mes-records-'));
const zipPath = path.join(dataDir, 'wo1.zip');

beforeAll(async () => {
  fresh = await freshDatabase();
  await migrate(fresh.url);
  db = new Db(fresh.url, 5);
  const config = testConfig({ databaseUrl: fresh.url, dataDir });
  s = createServices(db, config);
  gen = await generateHistory(s, system, { units: 400, workOrders: 2, prefix: 'TST', seed: 7 });
  app = await createApp(s, config);
  await app.ready();
}, 240_000);
afterAll(async () => {
  await app?.close();
  await db?.close();
  await fresh?.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function readZip(file: string): Promise<Map<string, Buffer>> {
  const zip = await new Promise<yauzl.ZipFile>((res, rej) => yauzl.open(file, { lazyEntries: true }, (e, z) => (e ? rej(e) : res(z!))));
  const out = new Map<string, Buffer>();
  await new Promise<void>((resolve, reject) => {
    zip.on('end', () => resolve());
    zip.on('error', reject);
    zip.on('entry', (entry: yauzl.Entry) =>
      zip.openReadStream(entry, (err, st) => {
        if (err) return reject(err);
        const parts: Buffer[] = [];
        st!.on('data', (c: Buffer) => parts.push(c));
        st!.on('end', () => {
          out.set(entry.fileName, Buffer.concat(parts));
          zip.readEntry();
        });
      }),
    );
    zip.readEntry();
  });
  zip.close();
  return out;
}

async function writeZip(file: string, entries: Map<string, Buffer>): Promise<void> {
  const z = new yazl.ZipFile();
  for (const [name, data] of entries) z.addBuffer(data, name);
  z.end();
  await new Promise<void>((resolve, reject) => z.outputStream.pipe(fs.createWriteStream(file)).on('close', resolve).on('error', reject));
}

const csvRows = (b: Buffer) => parse(b, { columns: true }) as Record<string, string>[];
const mes = (args: string[]) => run(process.execPath, ['bin/mes.mjs', ...args], { env: { ...process.env, DATABASE_URL: fresh.url, MES_DATA_DIR: dataDir }, timeout: 60_000 });

describe('history generator', () => {
  it('writes the counts it reports, and the services read the history back consistently', async () => {
    expect(gen.units).toBe(400);
    expect(gen.workOrders.map((w) => w.units)).toEqual([200, 200]);
    expect(gen.workOrders.map((w) => w.state)).toEqual(['completed', 'in_progress']);
    const woIds = gen.workOrders.map((w) => w.id);
    const n = async (sql: string) => Number((await db.one<{ n: string }>(sql, [woIds]))!.n);
    expect(await n(`SELECT count(*) AS n FROM units WHERE work_order_id = ANY($1)`)).toBe(400);
    expect(await n(`SELECT count(*) AS n FROM process_records WHERE work_order_id = ANY($1)`)).toBe(gen.rows.process_records);
    expect(await n(`SELECT count(*) AS n FROM quality_results WHERE work_order_id = ANY($1)`)).toBe(gen.rows.quality_results);
    expect(await n(`SELECT count(*) AS n FROM shipping_carton_units cu JOIN shipping_cartons c ON c.id = cu.carton_id WHERE c.work_order_id = ANY($1)`)).toBe(gen.rows.shipping_carton_units);
    // Every unit's visits equal its process records; the history is complete (no gap in visits).
    expect(await n(`SELECT count(*) AS n FROM units u WHERE u.work_order_id = ANY($1) AND u.visits <> (SELECT count(*) FROM process_records pr WHERE pr.unit_id = u.id)`)).toBe(0);
    expect(await n(`SELECT count(*) AS n FROM units u WHERE u.work_order_id = ANY($1) AND u.visits <> COALESCE((SELECT max(visit) FROM process_records pr WHERE pr.unit_id = u.id), 0)`)).toBe(0);

    // A completed unit, read through tracking: its passing main steps follow the route in order.
    const route = (await s.workOrders.getBasis(woIds[0]!)).basis as unknown as { route: { steps: { seq: number; isRepair: boolean }[] } };
    const main = route.route.steps.filter((x) => !x.isRepair).map((x) => x.seq).sort((a, b) => a - b);
    const completed = (await db.query<{ serial: string }>(`SELECT serial FROM units WHERE work_order_id = $1 AND status = 'completed' ORDER BY id LIMIT 25`, [woIds[0]])).rows;
    expect(completed.length).toBe(25);
    for (const { serial } of completed) {
      const unit = await s.tracking.getUnit(serial);
      expect(unit.status).toBe('completed');
      const passes = unit.history.filter((h) => h.result === 'pass' && main.includes(h.stepSeq)).map((h) => h.stepSeq);
      expect(passes).toEqual(main);
      expect(unit.history.at(-1)!.outcome).toBe('completed');
      // Shipped: its carton belongs to the released shipment of the finished order.
      expect((await s.shipping.unitShipping(serial)).shipped).toBe(true);
    }
    // A unit that went through the repair loop returns to the step that failed and passes it.
    const repaired = await db.one<{ serial: string }>(`SELECT u.serial FROM units u JOIN process_records pr ON pr.unit_id = u.id WHERE u.work_order_id = ANY($1) AND pr.outcome = 'repair' AND u.status = 'completed' LIMIT 1`, [woIds]);
    expect(repaired).toBeDefined();
    const h = (await s.tracking.getUnit(repaired!.serial)).history;
    const fail = h.findIndex((x) => x.outcome === 'repair');
    expect(h[fail + 1]!.outcome).toBe('returned');
    expect(h[fail + 1]!.nextStepSeq).toBe(h[fail]!.stepSeq);
    expect(h[fail + 2]!.stepSeq).toBe(h[fail]!.stepSeq);
    expect(h[fail + 2]!.result).toBe('pass');
    // M2 material data: every placement passage has feeder-setup candidates on its machine.
    expect(await n(`SELECT count(*) AS n FROM process_records pr JOIN stations st ON st.id = pr.station_id AND st.type = 'placement'
                     WHERE pr.work_order_id = ANY($1) AND NOT EXISTS (SELECT 1 FROM feeder_setups fs WHERE fs.equipment_id = pr.equipment_id
                       AND fs.loaded_at <= pr.completed_at AND (fs.unloaded_at IS NULL OR fs.unloaded_at > COALESCE(pr.started_at, pr.completed_at)))`)).toBe(0);
    // The generated history of the running order has open issues.
    const wip = await s.tracking.wipForWorkOrder(woIds[1]!);
    expect(wip).toBeDefined();
  });
});

describe('trace package', () => {
  it('streams every section as CSV and JSON matching the database, signs the manifest, and verifies', async () => {
    const wo = gen.workOrders[0]!;
    const r = await s.records.writePackage(system, { scope: 'work-order', ref: wo.number }, fs.createWriteStream(zipPath), { dataDir });
    expect(r.sectionsFrom).toBe('quality-plan');
    expect(r.sections).toHaveLength(8);
    const files = await readZip(zipPath);
    expect([...files.keys()].sort()).toEqual(
      [...r.sections.flatMap((x) => [`${x}.csv`, `${x}.json`]), 'summary.pdf', 'manifest.json', 'manifest.sig', 'signing-key.pem'].sort(),
    );
    expect(files.get('summary.pdf')!.subarray(0, 5).toString()).toBe('%PDF-');

    // Traveler: one row per process record of the order's units, in unit and visit order.
    const traveler = csvRows(files.get('panel-traveler.csv')!);
    const expected = (await db.query<{ serial: string; visit: number; step_seq: number; station: string; result: string; operator: string | null; panel: string }>(
      `SELECT u.serial, pr.visit, pr.step_seq, st.code AS station, pr.result, pr.operator, pn.code AS panel FROM process_records pr JOIN units u ON u.id = pr.unit_id
         JOIN stations st ON st.id = pr.station_id LEFT JOIN panels pn ON pn.id = pr.panel_id WHERE u.work_order_id = $1 ORDER BY u.id, pr.visit`, [wo.id])).rows;
    expect(traveler.length).toBe(expected.length);
    expect(traveler.map((t) => [t.serial, Number(t.visit), Number(t.step_seq), t.station, t.result, t.operator, t.panel])).toEqual(
      expected.map((e) => [e.serial, e.visit, e.step_seq, e.station, e.result, e.operator ?? '', e.panel]),
    );
    const travelerJson = JSON.parse(files.get('panel-traveler.json')!.toString('utf8')) as Record<string, unknown>[];
    expect(travelerJson.length).toBe(expected.length);
    expect(travelerJson.map((t) => [t.serial, t.visit, t.station])).toEqual(expected.map((e) => [e.serial, e.visit, e.station]));

    // Inspection and test sheets: every result of the kind; the defects listed.
    for (const kind of ['inspection', 'test'] as const) {
      const rows = csvRows(files.get(`${kind}-trace.csv`)!);
      const ids = (await db.query<{ id: number; defects: number }>(`SELECT id, defect_count AS defects FROM quality_results WHERE work_order_id = $1 AND kind = $2 ORDER BY unit_id, id`, [wo.id, kind])).rows;
      expect(rows.map((x) => Number(x.result_id))).toEqual(ids.map((x) => x.id));
      expect(rows.map((x) => (x.defects ? x.defects.split(';').length : 0))).toEqual(ids.map((x) => x.defects));
    }
    const sheet = csvRows(files.get('work-order-sheet.csv')!);
    expect(sheet).toHaveLength(1);
    expect(sheet[0]).toMatchObject({ work_order: wo.number, product: 'CTRL-100', product_revision: 'A', bom_revision: 'A.2', quantity: '200', units_in_scope: '200' });
    const shipped = csvRows(files.get('shipment-trace.csv')!);
    expect(shipped.length).toBe(Number((await db.one<{ n: string }>(`SELECT count(*) AS n FROM shipping_carton_units cu JOIN units u ON u.id = cu.unit_id WHERE u.work_order_id = $1`, [wo.id]))!.n));
    const rework = csvRows(files.get('rework-ncr-log.csv')!);
    expect(rework.filter((x) => x.kind === 'rework').length).toBe(Number((await db.one<{ n: string }>(`SELECT count(*) AS n FROM quality_rework_actions WHERE work_order_id = $1`, [wo.id]))!.n));
    const loading = csvRows(files.get('material-loading-log.csv')!);
    expect(loading.filter((x) => x.kind === 'feeder').length).toBeGreaterThan(50);

    // Manifest: every file with its SHA-256 and size; the signature verifies with the site key.
    const manifest = JSON.parse(files.get('manifest.json')!.toString('utf8'));
    expect(manifest.files.map((f: { name: string }) => f.name).sort()).toEqual([...files.keys()].filter((n) => !['manifest.json', 'manifest.sig', 'signing-key.pem'].includes(n)).sort());
    const key = await s.records.publicKey({ dataDir });
    expect(manifest.keyId).toBe(key.keyId);
    expect((await verifyPackage(zipPath, { publicKeyPem: key.publicKeyPem })).ok).toBe(true);
    // The private key file is readable by its owner only.
    expect(fs.statSync(path.join(dataDir, 'keys', 'site-PLANT1.ed25519.pem')).mode & 0o777).toBe(0o600);
    // Another key does not verify it.
    const other = (await import('node:crypto')).generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }) as string;
    const wrong = await verifyPackage(zipPath, { publicKeyPem: other });
    expect(wrong.ok).toBe(false);
    expect(wrong.problems.join('\n')).toMatch(/signature/);
  });

  it('mes verify accepts the package and, after one changed byte, rejects it naming the file (non-zero exit)', async () => {
    const ok = await mes(['verify', zipPath]);
    expect(ok.stdout).toMatch(/^OK: 17 files match the manifest; signature valid/m);

    const files = await readZip(zipPath);
    const data = Buffer.from(files.get('inspection-trace.csv')!);
    data[data.length - 5] = data[data.length - 5] === 0x30 ? 0x31 : 0x30;
    files.set('inspection-trace.csv', data);
    const tampered = path.join(dataDir, 'tampered.zip');
    await writeZip(tampered, files);
    const bad = await mes(['verify', tampered]).then(() => null, (e: { code: number; stdout: string }) => e);
    expect(bad).not.toBeNull();
    expect(bad!.code).toBe(1);
    expect(bad!.stdout).toContain('FAIL altered: inspection-trace.csv');
    expect(bad!.stdout.match(/^FAIL /gm)).toHaveLength(1);

    // A removed file and an added one are named too; a changed manifest breaks the signature.
    const files2 = await readZip(zipPath);
    files2.delete('test-trace.json');
    files2.set('notes.txt', Buffer.from('added later'));
    const m = JSON.parse(files2.get('manifest.json')!.toString('utf8'));
    m.generatedBy = 'someone else';
    files2.set('manifest.json', Buffer.from(JSON.stringify(m, null, 2) + '\n'));
    const tampered2 = path.join(dataDir, 'tampered2.zip');
    await writeZip(tampered2, files2);
    const bad2 = await mes(['verify', tampered2]).then(() => null, (e: { code: number; stdout: string }) => e);
    expect(bad2!.code).toBe(1);
    expect(bad2!.stdout).toContain('FAIL missing: test-trace.json');
    expect(bad2!.stdout).toContain('FAIL extra: notes.txt');
    expect(bad2!.stdout).toMatch(/FAIL signature: manifest.sig does not verify manifest.json/);
  }, 180_000);

  it('a lot and a shipment package hold only their units', async () => {
    const lot = (await db.one<{ code: string; id: number }>(`SELECT code, id FROM production_lots WHERE work_order_id = $1 ORDER BY id LIMIT 1`, [gen.workOrders[0]!.id]))!;
    const lotZip = path.join(dataDir, 'lot.zip');
    await s.records.writePackage(system, { scope: 'lot', ref: lot.code }, fs.createWriteStream(lotZip), { dataDir });
    const lotFiles = await readZip(lotZip);
    const serials = new Set(csvRows(lotFiles.get('panel-traveler.csv')!).map((r) => r.serial));
    const inLot = (await db.query<{ serial: string }>(`SELECT serial FROM units WHERE lot_id = $1 AND visits > 0`, [lot.id])).rows.map((r) => r.serial);
    expect([...serials].sort()).toEqual(inLot.sort());
    const shipment = (await db.one<{ number: string; id: number }>(`SELECT number, id FROM shipping_shipments ORDER BY id LIMIT 1`))!;
    const shipZip = path.join(dataDir, 'ship.zip');
    await s.records.writePackage(system, { scope: 'shipment', ref: shipment.number }, fs.createWriteStream(shipZip), { dataDir });
    const ship = csvRows((await readZip(shipZip)).get('shipment-trace.csv')!);
    expect(new Set(ship.map((r) => r.shipment))).toEqual(new Set([shipment.number]));
    expect(ship.length).toBe(Number((await db.one<{ n: string }>(`SELECT count(*) AS n FROM shipping_carton_units cu JOIN shipping_cartons c ON c.id = cu.carton_id WHERE c.shipment_id = $1`, [shipment.id]))!.n));
    await expect(s.records.writePackage(system, { scope: 'lot', ref: 'NO-SUCH-LOT' }, fs.createWriteStream(path.join(dataDir, 'x.zip')), { dataDir })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('production extracts', () => {
  const get = async (url: string, token: string) => app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
  let token: string;
  beforeAll(async () => {
    token = (await s.auth.createToken(system, { name: 'records-test', role: 'quality-engineer' })).token;
  });

  it('WIP per lot and station counts the running order\'s unfinished units', async () => {
    const res = await get('/api/v1/records/extracts/wip?format=json', token);
    expect(res.statusCode).toBe(200);
    const rows = res.json() as { work_order: string; lot: string; step_seq: number; queued: number; failed: number; units: number }[];
    const expected = (await db.query<{ lot: string; step: number; n: string; failed: string }>(
      `SELECT pl.code AS lot, COALESCE(u.started_step_seq, u.next_step_seq, u.failed_step_seq) AS step, count(*) AS n, count(*) FILTER (WHERE u.status = 'failed') AS failed
         FROM units u JOIN production_lots pl ON pl.id = u.lot_id WHERE u.work_order_id = $1 AND u.status IN ('queued','in_process','failed') GROUP BY 1, 2 ORDER BY 1, 2`,
      [gen.workOrders[1]!.id])).rows;
    expect(rows.map((r) => [r.lot, r.step_seq, r.units, r.failed])).toEqual(expected.map((e) => [e.lot, e.step, Number(e.n), Number(e.failed)]));
    expect(rows.length).toBeGreaterThan(0);
  });

  it('order progress, open issues, lot traveler and material usage', async () => {
    const progress = csvRows(Buffer.from((await get('/api/v1/records/extracts/order-progress', token)).body));
    for (const w of gen.workOrders) {
      const mine = progress.filter((p) => p.work_order === w.number);
      expect(mine.reduce((a, p) => a + Number(p.units), 0)).toBe(200);
      const shipped = Number((await db.one<{ n: string }>(`SELECT count(*) AS n FROM shipping_carton_units cu JOIN shipping_cartons c ON c.id = cu.carton_id JOIN shipping_shipments sh ON sh.id = c.shipment_id AND sh.state = 'released' WHERE c.work_order_id = $1`, [w.id]))!.n);
      expect(mine.reduce((a, p) => a + Number(p.shipped), 0)).toBe(shipped);
      expect(mine.every((p) => p.customer_po!.startsWith('PO-TST-'))).toBe(true);
    }
    const issues = (await get('/api/v1/records/extracts/open-issues?format=json', token)).json() as { kind: string; ref: string; owner: string; reason: string }[];
    const holds = (await db.query<{ number: string }>(`SELECT number FROM quality_holds WHERE released_at IS NULL`)).rows.map((r) => r.number);
    expect(issues.filter((i) => i.kind === 'hold').map((i) => i.ref).sort()).toEqual(holds.sort());
    expect(issues.filter((i) => i.kind === 'alert')).toHaveLength(1);
    const openNcrs = Number((await db.one<{ n: string }>(`SELECT count(*) AS n FROM quality_ncrs WHERE state = 'open'`))!.n);
    expect(issues.filter((i) => i.kind === 'ncr')).toHaveLength(openNcrs);
    const failed = Number((await db.one<{ n: string }>(`SELECT count(*) AS n FROM units WHERE status = 'failed'`))!.n);
    expect(issues.filter((i) => i.kind === 'failure')).toHaveLength(failed);
    expect(issues.every((i) => i.owner && i.reason)).toBe(true);

    const lot = (await db.one<{ code: string; id: number }>(`SELECT code, id FROM production_lots WHERE work_order_id = $1 ORDER BY id DESC LIMIT 1`, [gen.workOrders[1]!.id]))!;
    const traveler = csvRows(Buffer.from((await get(`/api/v1/records/extracts/lot-traveler?lot=${lot.code}`, token)).body));
    expect(traveler.length).toBe(Number((await db.one<{ n: string }>(`SELECT count(*) AS n FROM process_records pr JOIN units u ON u.id = pr.unit_id WHERE u.lot_id = $1`, [lot.id]))!.n));
    expect(traveler.every((t) => t.lot === lot.code && t.station && t.exited_at)).toBe(true);

    // The materials module's usage log of the order: one row per setup interval recorded for it.
    const usage = csvRows(Buffer.from((await get(`/api/v1/records/extracts/material-usage?workOrder=${gen.workOrders[1]!.number}`, token)).body));
    const intervals = (await db.query<{ code: string }>(`SELECT p.code FROM feeder_setups fs JOIN material_packages p ON p.id = fs.package_id WHERE fs.work_order_id = $1 ORDER BY fs.loaded_at, fs.id`, [gen.workOrders[1]!.id])).rows;
    expect(usage.map((u) => u.packageCode)).toEqual(intervals.map((i) => i.code));
    expect(usage.every((u) => Number(u.loadedQty) > 0 && Number(u.consumedQty) >= 0 && u.mpn && u.slot)).toBe(true);
    const usageJson = (await get(`/api/v1/records/extracts/material-usage?workOrder=${gen.workOrders[1]!.number}&format=json`, token)).json() as { packageCode: string }[];
    expect(usageJson.map((u) => u.packageCode)).toEqual(intervals.map((i) => i.code));
    expect((await get('/api/v1/records/extracts/material-usage', token)).statusCode).toBe(400);
    expect((await get('/api/v1/records/extracts/wip?workOrder=NOPE', token)).statusCode).toBe(404);
  });
});

describe('background trace-package jobs', () => {
  it('go from queued through running to done with progress; the download verifies; unknown refs are 404', async () => {
    const token = (await s.auth.createToken(system, { name: 'records-jobs', role: 'planner' })).token;
    const auth = { authorization: `Bearer ${token}` };
    const start = await app.inject({ method: 'POST', url: '/api/v1/records/packages', headers: auth, payload: { scope: 'work-order', ref: gen.workOrders[1]!.number } });
    expect(start.statusCode).toBe(202);
    const job = start.json() as { id: number; state: string };
    expect(['queued', 'running']).toContain(job.state);
    const seen = new Set<string>([job.state]);
    let st: { state: string; progress: { filesDone?: number; files?: number }; sha256: string | null } = start.json();
    for (let i = 0; i < 600 && st.state !== 'done' && st.state !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      st = (await app.inject({ method: 'GET', url: `/api/v1/records/packages/${job.id}`, headers: auth })).json();
      seen.add(st.state);
    }
    expect(st.state).toBe('done');
    expect(st.progress.filesDone).toBe(st.progress.files);
    const dl = await app.inject({ method: 'GET', url: `/api/v1/records/packages/${job.id}/download`, headers: auth });
    expect(dl.statusCode).toBe(200);
    expect(dl.headers['content-type']).toBe('application/zip');
    const file = path.join(dataDir, 'dl.zip');
    fs.writeFileSync(file, dl.rawPayload);
    expect((await import('node:crypto')).createHash('sha256').update(dl.rawPayload).digest('hex')).toBe(st.sha256);
    expect((await verifyPackage(file)).ok).toBe(true);
    // Reel changes while the order ran: a splice names the reel it was joined to, which was emptied on that slot.
    const loading = csvRows((await readZip(file)).get('material-loading-log.csv')!);
    const spliced = loading.filter((u) => u.spliced_onto);
    expect(spliced.length).toBeGreaterThan(0);
    for (const sp of spliced) expect(loading.find((u) => u.package === sp.spliced_onto)).toMatchObject({ slot: sp.slot, unload_reason: 'emptied' });
    const audit = await db.one<{ n: string }>(`SELECT count(*) AS n FROM audit_log WHERE entity = 'trace_package_job' AND entity_id = $1`, [String(job.id)]);
    expect(Number(audit!.n)).toBe(1);

    expect((await app.inject({ method: 'POST', url: '/api/v1/records/packages', headers: auth, payload: { scope: 'work-order', ref: 'NO-SUCH-WO' } })).statusCode).toBe(404);
    expect((await app.inject({ method: 'POST', url: '/api/v1/records/packages', headers: auth, payload: { scope: 'pallet', ref: 'X' } })).statusCode).toBe(400);
    expect((await app.inject({ method: 'GET', url: '/api/v1/records/packages/999999999/download', headers: auth })).statusCode).toBe(404);
  });

  it('a job whose instance stopped is reported as failed: interrupted, and cannot be downloaded', async () => {
    const id = (await db.one<{ id: number }>(
      `INSERT INTO records_jobs (scope, ref, state, instance, heartbeat_at, started_at, created_by) VALUES ('work-order', 'X', 'running', 'gone', now() - interval '5 minutes', now() - interval '5 minutes', 'test') RETURNING id`,
    ))!.id;
    const j = await s.records.getJob(id);
    expect(j.state).toBe('failed');
    expect(j.error).toMatch(/^interrupted/);
    await expect(s.records.jobDownload(id)).rejects.toMatchObject({ code: 'STATE_CONFLICT' });
    // A live job (recent heartbeat) is left alone.
    const live = (await db.one<{ id: number }>(`INSERT INTO records_jobs (scope, ref, state, instance, created_by) VALUES ('work-order', 'X', 'running', 'other', 'test') RETURNING id`))!.id;
    expect((await s.records.getJob(live)).state).toBe('running');
  });
});
