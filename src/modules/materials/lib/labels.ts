/**
 * The MES's own package label (one per reel / tray / tube), in three renderings:
 * ZPL II for Zebra printers, a PNG Data Matrix, and a PDF for office printers; plus
 * raw ZPL printing over TCP port 9100.
 *
 * The Data Matrix holds only the package ID: every other fact is looked up from the
 * MES at scan time, so a label can never disagree with the record. The human-readable
 * lines are for people.
 */
import net from 'node:net';
import { dataMatrixPng } from '../../../platform/barcodes.ts';
import PDFDocument from 'pdfkit';
import { isMslLevel } from './msl.ts';
import type { MslLevel } from './msl.ts';

export interface PackageLabelData {
  /** The MES package ID; the only content of the Data Matrix. */
  packageId: string;
  /** Internal part number. */
  ipn: string;
  /** Manufacturer part number. */
  mpn: string;
  /** Pieces in the package. */
  quantity: number;
  lotCode: string | null;
  dateCode: string | null;
  /** null when the part's MSL is not known (printed as "?"). */
  mslLevel: MslLevel | null;
  receivedAt: Date;
}

export type PackageLabelErrorCode = 'PACKAGE_LABEL_INVALID';

/** Label data that cannot be printed safely; `field` names the input property. */
export class PackageLabelError extends Error {
  readonly code: PackageLabelErrorCode = 'PACKAGE_LABEL_INVALID';
  readonly field: keyof PackageLabelData;

  constructor(field: keyof PackageLabelData, message: string) {
    super(message);
    this.name = 'PackageLabelError';
    this.field = field;
  }
}

export type PrinterErrorCode = 'PRINTER_ARGUMENT_INVALID' | 'PRINTER_UNREACHABLE' | 'PRINTER_TIMEOUT' | 'PRINTER_SEND_FAILED';

/** Sending a label to a printer failed; `code` tells the operator what to check. */
export class PrinterError extends Error {
  readonly code: PrinterErrorCode;

  constructor(code: PrinterErrorCode, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'PrinterError';
    this.code = code;
  }
}

/**
 * Package IDs go into the Data Matrix and the ZPL verbatim, so they are restricted to
 * characters that mean nothing to ZPL (`^`, `~`) or to the Data Matrix escape mechanism.
 */
export const PACKAGE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._\-/:+]{0,79}$/;

const MAX_TEXT_LENGTH = 80;

// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\x00-\x1f\x7f-\x9f]/;

function checkPackageId(packageId: unknown): string {
  if (typeof packageId !== 'string' || !PACKAGE_ID_PATTERN.test(packageId)) {
    throw new PackageLabelError(
      'packageId',
      `Package ID ${JSON.stringify(packageId)} is not printable: use 1–80 characters A–Z, a–z, 0–9 and . _ - / : + (starting with a letter or digit)`,
    );
  }
  return packageId;
}

function checkText(field: keyof PackageLabelData, value: unknown, required: boolean): string | null {
  if (value === null || value === undefined || value === '') {
    if (required) throw new PackageLabelError(field, `${field} is required on the package label`);
    return null;
  }
  if (typeof value !== 'string') throw new PackageLabelError(field, `${field} must be a string`);
  if (required && value.trim() === '') throw new PackageLabelError(field, `${field} is required on the package label`);
  if (CONTROL_CHARS.test(value)) throw new PackageLabelError(field, `${field} contains a control character`);
  if (value.length > MAX_TEXT_LENGTH) {
    throw new PackageLabelError(field, `${field} is longer than ${MAX_TEXT_LENGTH} characters and would not fit the label`);
  }
  return value;
}

interface CheckedLabel {
  packageId: string;
  ipn: string;
  mpn: string;
  quantity: number;
  lotCode: string | null;
  dateCode: string | null;
  mslLevel: MslLevel | null;
  receivedAt: Date;
}

function checkLabel(data: PackageLabelData): CheckedLabel {
  const packageId = checkPackageId(data.packageId);
  const ipn = checkText('ipn', data.ipn, true)!;
  const mpn = checkText('mpn', data.mpn, true)!;
  if (typeof data.quantity !== 'number' || !Number.isSafeInteger(data.quantity) || data.quantity <= 0) {
    throw new PackageLabelError('quantity', `quantity must be a positive whole number, got ${String(data.quantity)}`);
  }
  const lotCode = checkText('lotCode', data.lotCode, false);
  const dateCode = checkText('dateCode', data.dateCode, false);
  if (data.mslLevel !== null && !isMslLevel(data.mslLevel)) {
    throw new PackageLabelError('mslLevel', `mslLevel ${JSON.stringify(data.mslLevel)} is not an MSL level`);
  }
  if (!(data.receivedAt instanceof Date) || Number.isNaN(data.receivedAt.getTime())) {
    throw new PackageLabelError('receivedAt', 'receivedAt must be a valid Date');
  }
  return { packageId, ipn, mpn, quantity: data.quantity, lotCode, dateCode, mslLevel: data.mslLevel, receivedAt: data.receivedAt };
}

/** `2025-01-06 08:00Z`: UTC, so a label printed anywhere reads the same. */
function formatReceived(d: Date): string {
  return `${d.toISOString().slice(0, 16).replace('T', ' ')}Z`;
}

/** The human-readable lines shared by the ZPL and PDF renderings. */
function textLines(l: CheckedLabel): { ipn: string; details: string[]; msl: string; id: string } {
  return {
    ipn: l.ipn,
    details: [
      `MPN ${l.mpn}`,
      `QTY ${l.quantity}`,
      `LOT ${l.lotCode ?? '-'}`,
      `D/C ${l.dateCode ?? '-'}`,
      `RCV ${formatReceived(l.receivedAt)}`,
    ],
    msl: `MSL ${l.mslLevel ?? '?'}`,
    id: l.packageId,
  };
}

/**
 * Escapes text for a ZPL `^FH_` field: `^` and `~` (ZPL command prefixes, recognised
 * anywhere, even inside field data), `_` (the hex indicator itself) and every non-ASCII
 * character become `_XX` hex bytes of their UTF-8 encoding (the label selects UTF-8 with
 * `^CI28`). Control characters are refused: they have no business on a label.
 */
export function zplEscape(text: string): string {
  if (CONTROL_CHARS.test(text)) throw new RangeError('ZPL field data must not contain control characters');
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (code >= 0x20 && code <= 0x7e && ch !== '^' && ch !== '~' && ch !== '_') {
      out += ch;
    } else {
      for (const byte of Buffer.from(ch, 'utf8')) out += `_${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    }
  }
  return out;
}

/**
 * Character width for ZPL font 0 so that a line fits its field block: long values are
 * condensed rather than overprinted (a one-line ^FB prints overflow on top of itself).
 * 0.62 × width is a generous estimate of font 0's average advance.
 */
function zplFontWidth(s: string, size: number, blockDots: number): number {
  const chars = [...s].length;
  if (chars === 0) return size;
  return Math.max(10, Math.min(size, Math.floor(blockDots / (chars * 0.62))));
}

/** Label geometry: 4 × 2 inch at 203 dpi. */
export const ZPL_LABEL = { dpi: 203, widthDots: 812, heightDots: 406 } as const;

/**
 * ZPL II for a 4 × 2 inch package label at 203 dpi: Data Matrix (ECC 200) with the package
 * ID, the IPN in large type, MPN / quantity / lot / date code / received date, the MSL level
 * (reversed, i.e. white on black, when the part is moisture-sensitive) and the package ID
 * in clear text. Every text field is `^FH` hex-escaped, so label data cannot inject ZPL.
 */
export function packageLabelZpl(data: PackageLabelData): string {
  const l = checkLabel(data);
  const t = textLines(l);
  const x = 236;
  const w = ZPL_LABEL.widthDots - x - 20;
  const text = (y: number, size: number, s: string, fx = x, fw = w): string =>
    `^FO${fx},${y}^A0N,${size},${zplFontWidth(s, size, fw)}^FB${fw},1,0,L,0^FH_^FD${zplEscape(s)}^FS`;

  const lines = [
    '^XA',
    '^CI28',
    `^PW${ZPL_LABEL.widthDots}`,
    `^LL${ZPL_LABEL.heightDots}`,
    '^LH0,0',
    // Data Matrix: normal orientation, 6-dot modules, ECC 200. The ID charset needs no escaping.
    `^FO24,24^BXN,6,200^FD${l.packageId}^FS`,
    text(20, 44, t.ipn),
    ...t.details.map((s, i) => text(74 + i * 40, 30, s)),
  ];
  const mslY = 280;
  if (l.mslLevel !== null && l.mslLevel !== '1') {
    lines.push(`^FO${x},${mslY}^GB180,48,48^FS`);
    lines.push(`^FO${x},${mslY + 8}^A0N,36,36^FR^FB180,1,0,C,0^FH_^FD${zplEscape(t.msl)}^FS`);
  } else {
    lines.push(`^FO${x},${mslY + 8}^A0N,36,36^FB${w},1,0,L,0^FH_^FD${zplEscape(t.msl)}^FS`);
  }
  lines.push(text(352, 36, t.id, 24, ZPL_LABEL.widthDots - 48));
  lines.push('^PQ1', '^XZ');
  return `${lines.join('\n')}\n`;
}

/** PNG of the package ID as a Data Matrix (platform/barcodes.ts: opaque, with its quiet zone). */
export async function packageLabelPng(data: Pick<PackageLabelData, 'packageId'>, opts: { scale?: number } = {}): Promise<Buffer> {
  return dataMatrixPng(checkPackageId(data.packageId), opts);
}

function checkPdfText(field: keyof PackageLabelData, s: string): void {
  // The built-in PDF fonts (WinAnsi) cannot show characters beyond Latin-1.
  for (const ch of s) {
    if (ch.codePointAt(0)! > 0xff) {
      throw new PackageLabelError(field, `${field} contains ${JSON.stringify(ch)}, which the PDF label font cannot print`);
    }
  }
}

/**
 * PDF of the package label (4 × 2 inch page) for office printers: the Data Matrix PNG
 * from {@link packageLabelPng} plus the same text as the ZPL label.
 */
export async function packageLabelPdf(data: PackageLabelData): Promise<Buffer> {
  const l = checkLabel(data);
  for (const f of ['ipn', 'mpn', 'lotCode', 'dateCode'] as const) {
    const v = l[f];
    if (v !== null) checkPdfText(f, v);
  }
  const png = await packageLabelPng(l, { scale: 4 });
  const t = textLines(l);

  const doc = new PDFDocument({
    size: [288, 144], // 4 × 2 inch in points
    margin: 0,
    info: { Title: `Package ${l.packageId}`, Subject: `${l.ipn} / ${l.mpn}`, Creator: 'smt-mes' },
  });
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });

  doc.image(png, 8, 8, { width: 76, height: 76 });
  const x = 92;
  const w = 288 - x - 8;
  // Long values shrink to fit (down to 5 pt) rather than being cut off.
  const fit = (font: string, size: number, s: string, width: number): number => {
    doc.font(font).fontSize(size);
    const natural = doc.widthOfString(s);
    const fitted = natural > width ? Math.max(5, Math.floor(((size * width) / natural) * 10) / 10) : size;
    doc.fontSize(fitted);
    return fitted;
  };
  const line = (y: number, font: string, size: number, s: string): void => {
    const used = fit(font, size, s, w);
    doc.text(s, x, y + (size - used) / 2, { width: w, height: size + 2, lineBreak: false, ellipsis: true });
  };
  line(8, 'Helvetica-Bold', 13, t.ipn);
  t.details.forEach((s, i) => line(26 + i * 13, 'Helvetica', 9, s));
  const sensitive = l.mslLevel !== null && l.mslLevel !== '1';
  if (sensitive) {
    doc.rect(x, 93, 56, 16).fill('#000000');
    doc.fillColor('#FFFFFF').font('Helvetica-Bold').fontSize(11).text(t.msl, x, 96, { width: 56, align: 'center', lineBreak: false });
    doc.fillColor('#000000');
  } else {
    line(96, 'Helvetica-Bold', 11, t.msl);
  }
  fit('Helvetica', 9, t.id, 272);
  doc.text(t.id, 8, 124, { width: 272, height: 11, lineBreak: false, ellipsis: true });
  doc.end();
  return done;
}

function describeSocketError(host: string, port: number, e: NodeJS.ErrnoException): PrinterError {
  const where = `${host}:${port}`;
  switch (e.code) {
    case 'ECONNREFUSED':
      return new PrinterError(
        'PRINTER_UNREACHABLE',
        `Printer ${where} refused the connection: check that it is switched on and that raw printing on port ${port} is enabled`,
        e,
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new PrinterError('PRINTER_UNREACHABLE', `Printer host ${JSON.stringify(host)} cannot be resolved`, e);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ETIMEDOUT':
      return new PrinterError('PRINTER_UNREACHABLE', `Printer ${where} is unreachable on the network (${e.code})`, e);
    default:
      return new PrinterError('PRINTER_SEND_FAILED', `Sending the label to printer ${where} failed: ${e.message}`, e);
  }
}

/**
 * Sends raw ZPL to a network label printer (Zebra "raw" port, 9100 by default). Resolves
 * once every byte has been handed to the network and the connection closed on our side;
 * rejects with a {@link PrinterError} on refusal, unreachable host or when connecting and
 * sending together take longer than `timeoutMs`.
 */
export function sendZplToPrinter(
  host: string,
  port: number = 9100,
  zpl: string,
  timeoutMs: number = 10_000,
): Promise<{ bytesWritten: number }> {
  if (typeof host !== 'string' || host.trim() === '') {
    return Promise.reject(new PrinterError('PRINTER_ARGUMENT_INVALID', 'Printer host is empty'));
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return Promise.reject(new PrinterError('PRINTER_ARGUMENT_INVALID', `Printer port must be 1–65535, got ${String(port)}`));
  }
  if (typeof zpl !== 'string' || zpl.length === 0) {
    return Promise.reject(new PrinterError('PRINTER_ARGUMENT_INVALID', 'There is no ZPL to send'));
  }
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    return Promise.reject(new PrinterError('PRINTER_ARGUMENT_INVALID', `timeoutMs must be positive, got ${String(timeoutMs)}`));
  }

  return new Promise((resolve, reject) => {
    let settled = false;
    const socket = net.createConnection({ host, port });
    const settle = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const bytesWritten = socket.bytesWritten;
      socket.destroy();
      if (err) reject(err);
      else resolve({ bytesWritten });
    };
    const timer = setTimeout(() => {
      settle(
        new PrinterError(
          'PRINTER_TIMEOUT',
          `Printer ${host}:${port} did not ${socket.connecting ? 'accept the connection' : 'take the label'} within ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    socket.on('error', (e: NodeJS.ErrnoException) => settle(describeSocketError(host, port, e)));
    socket.once('connect', () => {
      // end() flushes the data and half-closes; its callback runs on 'finish'.
      socket.end(zpl, 'utf8', (...args: unknown[]) => {
        const err = args[0];
        settle(err instanceof Error ? describeSocketError(host, port, err) : undefined);
      });
    });
  });
}
