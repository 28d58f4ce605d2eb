import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import yauzl from 'yauzl';
import { afterAll, describe, expect, it } from 'vitest';
import { bearer, makeQualityWorkOrder, system, testApp, testServices, tokenFor } from '../helpers.ts';
import { verifyPackage } from '../../src/modules/records/index.ts';

/** The quality plan decides the contents of the trace package. */

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mes-records-plan-'));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

async function entries(file: string): Promise<Map<string, Buffer>> {
  const zip = await new Promise<yauzl.ZipFile>((res, rej) => yauzl.open(file, { lazyEntries: true }, (e, z) => (e ? rej(e) : res(z!))));
  const out = new Map<string, Buffer>();
  await new Promise<void>((resolve, reject) => {
    zip.on('end', () => resolve());
    zip.on('error', reject);
    zip.on('entry', (en: yauzl.Entry) =>
      zip.openReadStream(en, (err, st) => {
        if (err) return reject(err);
        const parts: Buffer[] = [];
        st!.on('data', (c: Buffer) => parts.push(c));
        st!.on('end', () => {
          out.set(en.fileName, Buffer.concat(parts));
          zip.readEntry();
        });
      }),
    );
    zip.readEntry();
  });
  return out;
}

async function build(ref: string) {
  const file = path.join(dataDir, `${ref}.zip`);
  const r = await testServices().records.writePackage(system, { scope: 'work-order', ref }, fs.createWriteStream(file), { dataDir });
  return { r, files: await entries(file) };
}

describe('trace package contents follow the quality plan', () => {
  it('a plan listing two sections gives exactly those files (CSV + JSON), the PDF summary and the signed manifest', async () => {
    const s = testServices();
    const { wo } = await makeQualityWorkOrder({ plan: { tracePackage: ['open-issues', 'work-order-sheet'] }, quantity: 5 });
    const { serials } = await s.tracking.generateUnits(system, { workOrder: wo.id, count: 3 });
    const hold = await s.quality.placeHold(system, { scope: 'unit', serial: serials[1]!, reasonCode: 'SUSPECT_MATERIAL', reason: 'reel of doubtful origin' });
    const { r, files } = await build(wo.number);
    expect(r.sectionsFrom).toBe('quality-plan');
    expect(r.sections).toEqual(['work-order-sheet', 'open-issues']);
    expect([...files.keys()].sort()).toEqual(
      ['manifest.json', 'manifest.sig', 'open-issues.csv', 'open-issues.json', 'signing-key.pem', 'summary.pdf', 'work-order-sheet.csv', 'work-order-sheet.json'],
    );
    const manifest = JSON.parse(files.get('manifest.json')!.toString());
    expect(manifest.files.map((f: { name: string }) => f.name)).toEqual(['work-order-sheet.csv', 'work-order-sheet.json', 'open-issues.csv', 'open-issues.json', 'summary.pdf']);
    // The open-issue list names the hold, with its reason and owner.
    const issues = parse(files.get('open-issues.csv')!, { columns: true }) as Record<string, string>[];
    expect(issues).toEqual([expect.objectContaining({ kind: 'hold', ref: hold.number, subject: serials[1], reason_code: 'SUSPECT_MATERIAL', reason: 'reel of doubtful origin', owner: 'test', work_order: wo.number })]);
    const sheet = JSON.parse(files.get('work-order-sheet.json')!.toString()) as Record<string, unknown>[];
    expect(sheet).toEqual([expect.objectContaining({ work_order: wo.number, quantity: 5, units_created: 3, units_in_scope: 3, state: 'released' })]);
  });

  it('a plan that lists no section gets the default set: all eight', async () => {
    const { wo } = await makeQualityWorkOrder({ plan: { tracePackage: [] }, quantity: 2 });
    const { r, files } = await build(wo.number);
    expect(r.sectionsFrom).toBe('default');
    expect(r.sections).toEqual(['work-order-sheet', 'material-loading-log', 'panel-traveler', 'inspection-trace', 'test-trace', 'rework-ncr-log', 'shipment-trace', 'open-issues']);
    expect(files.size).toBe(8 * 2 + 4);
    // Empty sections are still files: a CSV header and an empty JSON array.
    expect(JSON.parse(files.get('panel-traveler.json')!.toString())).toEqual([]);
    expect(files.get('panel-traveler.csv')!.toString().split('\n')[0]).toMatch(/^serial,panel,panel_position,lot,work_order,visit,step_seq/);
  });

  it("the site's public key is served to every role and verifies the packages signed with it", async () => {
    const { wo } = await makeQualityWorkOrder({ plan: { tracePackage: ['work-order-sheet'] }, quantity: 1 });
    const file = path.join(dataDir, 'key-check.zip');
    // Both the package and the route use the service's data directory (MES_DATA_DIR).
    const r = await testServices().records.writePackage(system, { scope: 'work-order', ref: wo.number }, fs.createWriteStream(file));
    const app = await testApp();
    try {
      const res = await app.inject({ method: 'GET', url: `/api/v1/records/signing-key?site=${r.site}`, headers: bearer(await tokenFor('viewer')) });
      expect(res.statusCode).toBe(200);
      const key = res.json() as { keyId: string; publicKeyPem: string; algorithm: string };
      expect(key).toMatchObject({ keyId: r.keyId, algorithm: 'Ed25519' });
      expect((await verifyPackage(file, { publicKeyPem: key.publicKeyPem })).ok).toBe(true);
      expect((await app.inject({ method: 'GET', url: '/api/v1/records/signing-key?site=NO-SUCH-SITE', headers: bearer(await tokenFor('viewer')) })).statusCode).toBe(404);
    } finally {
      await app.close();
    }
  });
});
