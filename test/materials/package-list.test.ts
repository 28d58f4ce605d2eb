import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/platform/http.ts';
import { bearer, makeProduct, system, testApp, testDb, testServices, tokenFor, uniq } from '../helpers.ts';
import { eigpLabel, makeScenario, receivePart } from './fixtures.ts';

/** The package list filtered by the server (search, kind, moisture state) and the parse-only label preview. */

let app: App;
beforeAll(async () => {
  app = await testApp();
});
afterAll(async () => app.close());

const s = () => testServices().materials;
const list = async (query: string) => {
  const res = await app.inject({ method: 'GET', url: `/api/v1/packages?${query}`, headers: bearer(await tokenFor('viewer')) });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as { id: number; code: string; ipn: string; kind: string; msd: { state: string } }[];
};

describe('package list filters on the server', () => {
  it('q finds by package ID prefix and by IPN / MPN anywhere, case-insensitive; LIKE wildcards are literal', async () => {
    const sc = await makeScenario();
    const a = await receivePart(s(), sc, 1);
    const b = await receivePart(s(), sc, 2);
    // MPN middle part, lower case.
    const byMpn = await list(`q=${encodeURIComponent(sc.mpns[1]!.slice(2).toLowerCase())}&limit=50`);
    expect(byMpn.map((p) => p.id)).toContain(a.package.id);
    expect(byMpn.map((p) => p.id)).not.toContain(b.package.id);
    // IPN.
    expect((await list(`q=${encodeURIComponent(sc.partIpns[2]!)}`)).map((p) => p.id)).toEqual([b.package.id]);
    // Package ID prefix, lower case.
    const prefix = a.package.code.slice(0, -1).toLowerCase();
    expect((await list(`q=${prefix}&limit=2000`)).map((p) => p.id)).toContain(a.package.id);
    // % is a character, not a wildcard.
    expect(await list('q=%25')).toEqual([]);
    // Stock per part and location: the same search on the IPN.
    const stock = await app.inject({ method: 'GET', url: `/api/v1/stock?q=${encodeURIComponent(sc.partIpns[2]!.toLowerCase())}`, headers: bearer(await tokenFor('viewer')) });
    expect(stock.json().map((r: { ipn: string }) => r.ipn)).toEqual([sc.partIpns[2]]);
  });

  it('kind keeps one kind; msdState keeps packages in those moisture states (computed now)', async () => {
    const sc = await makeScenario();
    const jar = await receivePart(s(), sc, 1, { kind: 'paste-jar' });
    const sealed = await receivePart(s(), sc, 0);
    const opened = await receivePart(s(), sc, 0);
    await s().recordMsdEvent(system, opened.package.id, { type: 'opened' });
    const jars = await list('kind=paste-jar&limit=2000');
    expect(jars.every((p) => p.kind === 'paste-jar')).toBe(true);
    expect(jars.map((p) => p.id)).toContain(jar.package.id);
    const exposed = await list(`msdState=exposed,bake-required&q=${encodeURIComponent(sc.partIpns[0]!)}`);
    expect(exposed.map((p) => [p.id, p.msd.state])).toEqual([[opened.package.id, 'exposed']]);
    const never = await list(`msdState=never-opened&q=${encodeURIComponent(sc.partIpns[0]!)}`);
    expect(never.map((p) => p.id)).toEqual([sealed.package.id]);
    const bad = await app.inject({ method: 'GET', url: '/api/v1/packages?msdState=soggy', headers: bearer(await tokenFor('viewer')) });
    expect([bad.statusCode, bad.json().code]).toEqual([400, 'VALIDATION_FAILED']);
  });
});

describe('label preview (parse only)', () => {
  it('answers what receiving would, writes nothing; refusals are the same as receiving', async () => {
    const { product, partIpns } = await makeProduct();
    const mpn = `${product.code}-MPN1`;
    const lot = uniq('LOT');
    const headers = bearer(await tokenFor('operator'));
    const label = eigpLabel([`1P${mpn}`, 'Q3000', '10D2412', `1T${lot}`, '1VAcme', `3S${uniq('SER')}`]);
    const count = async () => (await testDb().one<{ n: number }>('SELECT count(*)::int AS n FROM material_lots WHERE lot_code = $1', [lot]))!.n;
    const audits = async () => (await testDb().one<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log WHERE entity = 'material_package' AND action = 'receive' AND after->'package'->>'lotCode' = $1`, [lot]))!.n;
    const preview = await app.inject({ method: 'POST', url: '/api/v1/packages/receive-scan/preview', headers, payload: { scan: label } });
    expect(preview.statusCode, preview.body).toBe(200);
    expect(preview.json()).toMatchObject({ lotCreated: true, package: { ipn: partIpns[1], mpn, quantity: 3000, lotCode: lot, dateCode: '2412' }, label: { mpn, quantity: 3000 } });
    expect([await count(), await audits()]).toEqual([0, 0]);
    // Receiving it for real, then previewing the next reel of the lot: the lot would be reused.
    const real = await app.inject({ method: 'POST', url: '/api/v1/packages/receive-scan', headers, payload: { scan: label } });
    expect(real.statusCode, real.body).toBe(201);
    expect([await count(), await audits()]).toEqual([1, 1]);
    const next = await app.inject({ method: 'POST', url: '/api/v1/packages/receive-scan/preview', headers, payload: { scan: eigpLabel([`1P${mpn}`, 'Q100', '10D2412', `1T${lot}`, '1VAcme']) } });
    expect(next.json()).toMatchObject({ lotCreated: false, lot: { id: real.json().lot.id } });
    expect(await count()).toBe(1);
    // The same label again: refused as receiving refuses it (its supplier serial is known); an MPN off the AVL too.
    const dup = await app.inject({ method: 'POST', url: '/api/v1/packages/receive-scan/preview', headers, payload: { scan: label } });
    expect(dup.statusCode).toBe(409);
    const off = await app.inject({ method: 'POST', url: '/api/v1/packages/receive-scan/preview', headers, payload: { scan: eigpLabel([`1P${uniq('NOPE')}`, 'Q10']) } });
    expect([off.statusCode, off.json().code]).toEqual([422, 'MPN_NOT_ON_AVL']);
    const viewer = await app.inject({ method: 'POST', url: '/api/v1/packages/receive-scan/preview', headers: bearer(await tokenFor('viewer')), payload: { scan: label } });
    expect(viewer.statusCode).toBe(403);
  });
});
