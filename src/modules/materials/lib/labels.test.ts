import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  PackageLabelError,
  PrinterError,
  packageLabelPdf,
  packageLabelPng,
  packageLabelZpl,
  sendZplToPrinter,
  zplEscape,
} from './labels.ts';
import type { PackageLabelData } from './labels.ts';
import { decodePng } from '../../../../test/png.ts';

const SAMPLE: PackageLabelData = {
  packageId: 'PKG-000123',
  ipn: 'IPN-10042',
  mpn: 'GRM155R71C104KA88D',
  quantity: 10000,
  lotCode: 'L2305A',
  dateCode: '2321',
  mslLevel: '3',
  receivedAt: new Date(Date.UTC(2025, 0, 6, 8, 30)),
};

const withData = (patch: Partial<PackageLabelData>): PackageLabelData => ({ ...SAMPLE, ...patch });

function expectLabelError(fn: () => unknown, field: keyof PackageLabelData): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PackageLabelError);
    expect((e as PackageLabelError).code).toBe('PACKAGE_LABEL_INVALID');
    expect((e as PackageLabelError).field).toBe(field);
    return;
  }
  throw new Error(`expected PackageLabelError for ${field}`);
}


describe('zplEscape', () => {
  it('hex-escapes ZPL prefixes, the hex indicator and non-ASCII as UTF-8 bytes', () => {
    expect(zplEscape('AB^XZ~JA_1')).toBe('AB_5EXZ_7EJA_5F1');
    expect(zplEscape('10µF')).toBe('10_C2_B5F');
    expect(zplEscape('€')).toBe('_E2_82_AC');
    expect(zplEscape('plain text, 1/2 (ok)')).toBe('plain text, 1/2 (ok)');
  });

  it('refuses control characters', () => {
    expect(() => zplEscape('A\nB')).toThrow(RangeError);
    expect(() => zplEscape('A\x1dB')).toThrow(RangeError);
  });
});

describe('packageLabelZpl', () => {
  it('frames the label with ^XA … ^XZ and puts the package ID in the Data Matrix', () => {
    const zpl = packageLabelZpl(SAMPLE);
    expect(zpl.startsWith('^XA\n')).toBe(true);
    expect(zpl.trimEnd().endsWith('^XZ')).toBe(true);
    expect(zpl.match(/\^XA/g)).toHaveLength(1);
    expect(zpl.match(/\^XZ/g)).toHaveLength(1);
    expect(zpl).toContain('^BXN,6,200^FDPKG-000123^FS');
    expect(zpl).toContain('^PW812');
    expect(zpl).toContain('^LL406');
    expect(zpl).toContain('^CI28');
  });

  it('prints the human-readable lines', () => {
    const zpl = packageLabelZpl(SAMPLE);
    for (const s of ['^FDIPN-10042^FS', '^FDMPN GRM155R71C104KA88D^FS', '^FDQTY 10000^FS', '^FDLOT L2305A^FS', '^FDD/C 2321^FS', '^FDRCV 2025-01-06 08:30Z^FS', '^FDPKG-000123^FS']) {
      expect(zpl).toContain(s);
    }
  });

  it('prints the MSL reversed for sensitive parts, plainly for MSL 1, and "?" when unknown', () => {
    expect(packageLabelZpl(SAMPLE)).toMatch(/\^FR[^\n]*\^FDMSL 3\^FS/);
    const one = packageLabelZpl(withData({ mslLevel: '1' }));
    expect(one).toContain('^FDMSL 1^FS');
    expect(one).not.toContain('^FR');
    expect(packageLabelZpl(withData({ mslLevel: null }))).toContain('^FDMSL ?^FS');
    expect(packageLabelZpl(withData({ lotCode: null, dateCode: null }))).toContain('^FDLOT -^FS');
  });

  it('escapes ^, ~ and _ in label data so it cannot inject ZPL commands', () => {
    const zpl = packageLabelZpl(withData({ mpn: 'AB^XZ~JA_1', lotCode: '^FS^XA', ipn: 'Ω-7' }));
    expect(zpl.match(/\^XZ/g)).toHaveLength(1);
    expect(zpl.match(/\^XA/g)).toHaveLength(1);
    expect(zpl).not.toContain('~');
    expect(zpl).toContain('^FH_^FDMPN AB_5EXZ_7EJA_5F1^FS');
    expect(zpl).toContain('^FDLOT _5EFS_5EXA^FS');
    expect(zpl).toContain('^FD_CE_A9-7^FS');
    // every ^FD except the Data Matrix one is preceded by ^FH
    const fds = zpl.match(/\^F[DH][^\n]*?\^FD/g) ?? [];
    expect(fds.length).toBeGreaterThan(0);
    for (const line of zpl.split('\n').filter((s) => s.includes('^FD') && !s.includes('^BX'))) {
      expect(line).toContain('^FH_^FD');
    }
  });

  it('condenses long values to fit the line instead of overprinting them', () => {
    const zpl = packageLabelZpl(withData({ mpn: 'GRM155R71C104KA88D-VERY-LONG-MPN-SUFFIX-XYZ' }));
    const m = /\^A0N,30,(\d+)\^FB556,1,0,L,0\^FH_\^FDMPN GRM/.exec(zpl);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeLessThan(30);
    expect(packageLabelZpl(SAMPLE)).toContain('^A0N,30,30^FB556,1,0,L,0^FH_^FDQTY 10000^FS');
  });

  it('refuses package IDs that would break ZPL or the Data Matrix', () => {
    for (const packageId of ['', 'PKG^1', 'PKG~1', 'PKG 1', '-leading', 'x'.repeat(81), 'PKG\n1']) {
      expectLabelError(() => packageLabelZpl(withData({ packageId })), 'packageId');
    }
    expect(() => packageLabelZpl(withData({ packageId: '0b7e6a1c-2f0d-4a7e-9d2a-5b3c8e1f4a90' }))).not.toThrow();
  });

  it('refuses invalid data with the field named', () => {
    expectLabelError(() => packageLabelZpl(withData({ ipn: '' })), 'ipn');
    expectLabelError(() => packageLabelZpl(withData({ mpn: '   ' })), 'mpn');
    expectLabelError(() => packageLabelZpl(withData({ mpn: 'A\tB' })), 'mpn');
    expectLabelError(() => packageLabelZpl(withData({ lotCode: 'x'.repeat(81) })), 'lotCode');
    expectLabelError(() => packageLabelZpl(withData({ quantity: 0 })), 'quantity');
    expectLabelError(() => packageLabelZpl(withData({ quantity: 1.5 })), 'quantity');
    expectLabelError(() => packageLabelZpl(withData({ mslLevel: '7' as never })), 'mslLevel');
    expectLabelError(() => packageLabelZpl(withData({ receivedAt: new Date(Number.NaN) })), 'receivedAt');
  });
});

describe('packageLabelPng', () => {
  it('is a PNG with an opaque white background and a white quiet zone', async () => {
    const png = await packageLabelPng(SAMPLE);
    const img = decodePng(png);
    expect(img.width).toBeGreaterThan(40);
    expect(img.height).toBe(img.width);
    expect(img.rgba(0, 0)).toEqual([255, 255, 255, 255]);
    expect(img.rgba(img.width - 1, img.height - 1)).toEqual([255, 255, 255, 255]);
    let dark = 0;
    let transparent = 0;
    let nonWhiteBorder = 0;
    for (let y = 0; y < img.height; y++) {
      for (let x = 0; x < img.width; x++) {
        const [r, g, b, a] = img.rgba(x, y);
        if (a !== 255) transparent++;
        if (r! < 128 && g! < 128 && b! < 128) dark++;
        // 2 modules × 2 units × scale 4 = 16 px of white on every side
        const border = x < 16 || y < 16 || x >= img.width - 16 || y >= img.height - 16;
        if (border && (r !== 255 || g !== 255 || b !== 255)) nonWhiteBorder++;
      }
    }
    expect(transparent).toBe(0); // no transparency anywhere
    expect(nonWhiteBorder).toBe(0); // quiet zone
    expect(dark).toBeGreaterThan(img.width); // the symbol is there
  });

  it('refuses an unprintable package ID', async () => {
    await expect(packageLabelPng({ packageId: 'A^B' })).rejects.toBeInstanceOf(PackageLabelError);
  });
});

describe('packageLabelPdf', () => {
  it('produces a PDF with the Data Matrix image embedded', async () => {
    const pdf = await packageLabelPdf(SAMPLE);
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    const text = pdf.toString('latin1');
    expect(text.trimEnd().endsWith('%%EOF')).toBe(true);
    expect(text).toMatch(/\/Subtype \/Image/);
    expect(text).toContain('/MediaBox [0 0 288 144]');
  });

  it('refuses characters the PDF font cannot print', async () => {
    await expect(packageLabelPdf(withData({ mpn: 'Ω-7' }))).rejects.toMatchObject({ code: 'PACKAGE_LABEL_INVALID', field: 'mpn' });
    await expect(packageLabelPdf(withData({ mpn: 'µ-7' }))).resolves.toBeInstanceOf(Buffer);
  });
});

describe('sendZplToPrinter', () => {
  const servers: net.Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
  });

  function listen(onConnection: (socket: net.Socket) => void): Promise<number> {
    const server = net.createServer(onConnection);
    servers.push(server);
    return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
  }

  it('delivers exactly the ZPL to a raw TCP printer', async () => {
    let received!: Promise<Buffer>;
    const port = await listen((socket) => {
      received = new Promise((resolve) => {
        const chunks: Buffer[] = [];
        socket.on('data', (c) => chunks.push(c));
        socket.on('end', () => {
          resolve(Buffer.concat(chunks));
          socket.end();
        });
      });
    });
    const zpl = packageLabelZpl(withData({ mpn: 'Ω^~' }));
    const r = await sendZplToPrinter('127.0.0.1', port, zpl, 5000);
    expect(r.bytesWritten).toBe(Buffer.byteLength(zpl));
    expect((await received).toString('utf8')).toBe(zpl);
  });

  it('reports a refused connection clearly', async () => {
    const server = net.createServer();
    const port = await new Promise<number>((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
    );
    await new Promise<void>((r) => server.close(() => r()));
    const err = await sendZplToPrinter('127.0.0.1', port, '^XA^XZ', 5000).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PrinterError);
    expect((err as PrinterError).code).toBe('PRINTER_UNREACHABLE');
    expect((err as PrinterError).message).toContain('refused');
    expect((err as PrinterError).message).toContain(`127.0.0.1:${port}`);
  });

  it('times out when the printer does not take the data', async () => {
    const sockets: net.Socket[] = [];
    const port = await listen((socket) => {
      socket.pause(); // never read: the send buffers fill up
      sockets.push(socket);
    });
    const huge = `^XA${'X'.repeat(64 * 1024 * 1024)}^XZ`;
    const started = Date.now();
    await expect(sendZplToPrinter('127.0.0.1', port, huge, 300)).rejects.toMatchObject({ code: 'PRINTER_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(5000);
    for (const s of sockets) s.destroy();
  });

  it('refuses invalid arguments before connecting', async () => {
    await expect(sendZplToPrinter('', 9100, '^XA^XZ')).rejects.toMatchObject({ code: 'PRINTER_ARGUMENT_INVALID' });
    await expect(sendZplToPrinter('127.0.0.1', 0, '^XA^XZ')).rejects.toMatchObject({ code: 'PRINTER_ARGUMENT_INVALID' });
    await expect(sendZplToPrinter('127.0.0.1', 9100, '')).rejects.toMatchObject({ code: 'PRINTER_ARGUMENT_INVALID' });
    await expect(sendZplToPrinter('127.0.0.1', 9100, '^XA^XZ', 0)).rejects.toMatchObject({ code: 'PRINTER_ARGUMENT_INVALID' });
  });
});
