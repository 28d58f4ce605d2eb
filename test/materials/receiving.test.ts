import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/platform/http.ts';
import { bearer, makeProduct, system, testApp, testDb, testServices, tokenFor, uniq } from '../helpers.ts';
import { eigpLabel, receivePart, makeScenario } from './fixtures.ts';

let app: App;
let operator: string;
beforeAll(async () => {
  app = await testApp();
  operator = await tokenFor('operator');
});
afterAll(async () => app.close());

const scan = (payload: Record<string, unknown>, token = operator) =>
  app.inject({ method: 'POST', url: '/api/v1/packages/receive-scan', headers: bearer(token), payload });

describe('receiving by scanning the manufacturer label (EIGP 114)', () => {
  it('creates the lot and the package from the label, logs the receipt, and reuses the lot for the next reel of it', async () => {
    const { product, partIpns } = await makeProduct();
    const mpn = `${product.code}-MPN1`;
    const lot = uniq('LOT');
    const serial = uniq('SER');
    const res = await scan({ scan: eigpLabel([`1P${mpn}`, 'Q4000', '10D2412', `1T${lot}`, '1VAcme', '4LJP', `3S${serial}`, 'KPO-77']), supplier: 'Digi-Key' });
    expect(res.statusCode, res.body).toBe(201);
    const body = res.json();
    expect(body.lotCreated).toBe(true);
    expect(body.package).toMatchObject({
      kind: 'reel', quantity: 4000, initialQuantity: 4000, status: 'available', ipn: partIpns[1], mpn, manufacturer: 'Acme', lotCode: lot, dateCode: '2412',
      supplier: 'Digi-Key', supplierSerial: serial, location: { kind: 'store', place: null },
    });
    expect(body.package.code).toMatch(/^PK\d{8}$/);
    expect(body.lot).toMatchObject({ lotCode: lot, dateCode: '2412', countryOfOrigin: 'JP', onHold: false });
    expect(body.label).toMatchObject({ mpn, quantity: 4000, purchaseOrder: 'PO-77', envelope: { trailer: 'RS EOT', legacyHeader: false } });
    const moves = await testServices().materials.movements(body.package.id);
    expect(moves.map((m) => [m.kind, m.delta, m.quantityAfter])).toEqual([['received', 4000, 4000]]);

    // A second reel of the same lot (no trailer, old header variant): same lot, new package.
    const again = await scan({ scan: eigpLabel([`1P${mpn}`, 'Q2500', '10D2412', `1T${lot}`, '1VACME'], { trailer: false, legacy: true }) });
    expect(again.statusCode, again.body).toBe(201);
    expect(again.json().lotCreated).toBe(false);
    expect(again.json().lot.id).toBe(body.lot.id);
    expect(again.json().package.code).not.toBe(body.package.code);
    // Stored rows: two packages on one lot.
    const n = await testDb().query<{ n: number }>('SELECT count(*)::int AS n FROM material_packages WHERE material_lot_id = $1', [body.lot.id]);
    expect(n.rows[0]!.n).toBe(2);

    // The very same label (same supplier serial) scanned again is refused.
    const dup = await scan({ scan: eigpLabel([`1P${mpn}`, 'Q4000', '10D2412', `1T${lot}`, '1VAcme', `3S${serial}`]) });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().code).toBe('DUPLICATE');
    expect(dup.json().detail).toContain(body.package.code);
  });

  it('refuses malformed content with the parser code, its sentence and the field, and stores nothing', async () => {
    const before = (await testDb().query<{ n: number }>('SELECT count(*)::int AS n FROM material_packages')).rows[0]!.n;
    const cases: [string, string, string][] = [
      ['HELLO WORLD', 'LABEL_NOT_15434', '/scan'],
      [`[)>${'\x1e'}05${'\x1d'}01095011010209171719050810ABCD1234`, 'LABEL_FORMAT_UNSUPPORTED', '/scan'],
      [eigpLabel(['1PX-1', 'Q12x']), 'LABEL_FIELD_INVALID', '/scan/Q'],
      [eigpLabel(['Q100', '1TL1']), 'LABEL_FIELD_MISSING', '/scan/1P'],
      [eigpLabel(['1PX-1', 'Q100', 'Q200']), 'LABEL_DUPLICATE_FIELD', '/scan/Q'],
      [eigpLabel(['1PX-1', 'Q100', '9D2460']), 'LABEL_FIELD_INVALID', '/scan/9D'],
    ];
    for (const [content, code, field] of cases) {
      const res = await scan({ scan: content });
      expect(res.statusCode, content).toBe(422);
      const p = res.json();
      expect(p.code).toBe(code);
      expect(p.errors[0]).toMatchObject({ field, code });
      expect(p.detail.length).toBeGreaterThan(15);
      expect(res.headers['content-type']).toContain('application/problem+json');
    }
    const after = (await testDb().query<{ n: number }>('SELECT count(*)::int AS n FROM material_packages')).rows[0]!.n;
    expect(after).toBe(before);
  });

  it('refuses an MPN that is on no AVL, asks for the part when it is on several, and accepts it for a named part only when on that part\'s AVL', async () => {
    const unknown = await scan({ scan: eigpLabel([`1P${uniq('NOPE')}`, 'Q10']) });
    expect(unknown.statusCode).toBe(422);
    expect(unknown.json()).toMatchObject({ code: 'MPN_NOT_ON_AVL', errors: [{ field: '/scan/mpn' }] });

    // The same MPN approved for two parts.
    const { product, partIpns } = await makeProduct();
    const shared = `${product.code}-MPN0`;
    await testServices().parts.upsertAvlEntry(system, { ipn: partIpns[2]!, manufacturer: 'Acme', mpn: shared });
    const ambiguous = await scan({ scan: eigpLabel([`1P${shared}`, 'Q10', '1VAcme']) });
    expect(ambiguous.statusCode).toBe(422);
    expect(ambiguous.json().code).toBe('PART_AMBIGUOUS');
    expect(ambiguous.json().detail).toContain(partIpns[0]);
    expect(ambiguous.json().detail).toContain(partIpns[2]);
    const named = await scan({ scan: eigpLabel([`1P${shared}`, 'Q10', '1VAcme']), ipn: partIpns[2] });
    expect(named.statusCode, named.body).toBe(201);
    expect(named.json().package.ipn).toBe(partIpns[2]);
    // Named part whose AVL does not carry the MPN.
    const wrongPart = await scan({ scan: eigpLabel([`1P${shared}`, 'Q10']), ipn: partIpns[1] });
    expect(wrongPart.statusCode).toBe(422);
    expect(wrongPart.json().code).toBe('MPN_NOT_ON_AVL');
    expect(wrongPart.json().detail).toContain(partIpns[1]);
    // A label naming another manufacturer than the AVL's: refused, never guessed; the AVL's maker is named.
    const otherMaker = await scan({ scan: eigpLabel([`${'1P'}${product.code}-MPN1`, 'Q10', '1VOther Corp']) });
    expect(otherMaker.statusCode).toBe(422);
    expect(otherMaker.json().detail).toContain('Acme');
  });

  it('receives by explicit fields, into a store place or quarantine, and refuses unknown parts', async () => {
    const sc = await makeScenario();
    const res = await app.inject({
      method: 'POST', url: '/api/v1/packages/receive', headers: bearer(operator),
      payload: {
        ipn: sc.partIpns[0], manufacturer: 'acme', mpn: sc.mpns[0], quantity: 250, lotCode: 'L-77', dateCode: '2351', kind: 'tray', expiresAt: '2032-01-01T00:00:00Z',
        rohs: true, location: { kind: 'store', place: 'A-03-2' }, quarantine: true, code: uniq('MYPKG-'),
      },
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().package).toMatchObject({ kind: 'tray', quantity: 250, status: 'quarantined', rohs: true, location: { kind: 'store', place: 'A-03-2' } });
    expect(res.json().package.code).toMatch(/^MYPKG-/);
    expect(res.json().lot.expiresAt).toBe('2032-01-01T00:00:00.000Z');
    const bad = await app.inject({ method: 'POST', url: '/api/v1/packages/receive', headers: bearer(operator), payload: { ipn: uniq('NOPART'), mpn: sc.mpns[0], quantity: 5 } });
    expect(bad.statusCode).toBe(422);
    expect(bad.json()).toMatchObject({ code: 'REFERENCE_NOT_FOUND', errors: [{ field: '/ipn' }] });
    const viewer = await app.inject({ method: 'POST', url: '/api/v1/packages/receive', headers: bearer(await tokenFor('viewer')), payload: { ipn: sc.partIpns[0], mpn: sc.mpns[0], quantity: 5 } });
    expect(viewer.statusCode).toBe(403);
  });
});

describe('package labels', () => {
  it('returns ZPL, PNG and PDF, and prints ZPL to a printer on host:port', async () => {
    const sc = await makeScenario();
    const { package: pkg } = await receivePart(testServices().materials, sc, 0);
    const zpl = await app.inject({ method: 'GET', url: `/api/v1/packages/${pkg.id}/label?format=zpl`, headers: bearer(operator) });
    expect(zpl.statusCode).toBe(200);
    expect(zpl.headers['content-type']).toContain('application/zpl');
    expect(zpl.body.startsWith('^XA')).toBe(true);
    expect(zpl.body).toContain(`^BXN,6,200^FD${pkg.code}^FS`);
    expect(zpl.body).toContain('MSL 3');
    const dflt = await app.inject({ method: 'GET', url: `/api/v1/packages/${pkg.id}/label`, headers: bearer(await tokenFor('viewer')) });
    expect(dflt.body).toBe(zpl.body);
    const png = await app.inject({ method: 'GET', url: `/api/v1/packages/${pkg.id}/label?format=png`, headers: bearer(operator) });
    expect(png.statusCode).toBe(200);
    expect(png.headers['content-type']).toBe('image/png');
    expect(png.rawPayload.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    const pdf = await app.inject({ method: 'GET', url: `/api/v1/packages/${pkg.id}/label?format=pdf`, headers: bearer(operator) });
    expect(pdf.statusCode).toBe(200);
    expect(pdf.headers['content-type']).toBe('application/pdf');
    expect(pdf.rawPayload.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect((await app.inject({ method: 'GET', url: `/api/v1/packages/999999999/label`, headers: bearer(operator) })).statusCode).toBe(404);

    // A fake Zebra on a local port receives exactly the ZPL.
    const received: Buffer[] = [];
    const printer = net.createServer((sock) => sock.on('data', (d) => received.push(d)));
    await new Promise<void>((r) => printer.listen(0, '127.0.0.1', r));
    const port = (printer.address() as AddressInfo).port;
    try {
      const printed = await app.inject({ method: 'POST', url: `/api/v1/packages/${pkg.id}/label/print`, headers: bearer(operator), payload: { host: '127.0.0.1', port } });
      expect(printed.statusCode, printed.body).toBe(200);
      for (let i = 0; i < 50 && Buffer.concat(received).length < zpl.body.length; i++) await new Promise((r) => setTimeout(r, 10));
      expect(Buffer.concat(received).toString('utf8')).toBe(zpl.body);
    } finally {
      await new Promise((r) => printer.close(r));
    }
    // Nobody listening: 502 with the printer's code.
    const down = await app.inject({ method: 'POST', url: `/api/v1/packages/${pkg.id}/label/print`, headers: bearer(operator), payload: { host: '127.0.0.1', port } });
    expect(down.statusCode).toBe(502);
    expect(down.json().code).toBe('PRINTER_UNREACHABLE');
  });
});
