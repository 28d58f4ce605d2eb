import bwipjs from 'bwip-js';
import PDFDocument from 'pdfkit';
import { dataMatrixPng } from '../../platform/barcodes.ts';

/**
 * The carton label, 4 × 6 inch: a Data Matrix and a Code 128 of the carton ID (the only content
 * of the barcodes; everything else is looked up in the MES at scan time), and the human-readable
 * facts: product and revision, work order, customer and PO, quantity, lot(s), packed date.
 * ZPL II for Zebra printers (every text field hex-escaped with ^FH, so data cannot inject ZPL)
 * and PDF for office printers.
 */

export interface CartonLabelData {
  cartonCode: string;
  productCode: string;
  revision: string;
  workOrder: string;
  customer: string;
  customerPo: string;
  quantity: number;
  capacity: number;
  lots: string[];
  packedAt: Date | null;
  shipment: string | null;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f-\x9f]/;

/** Escapes text for a ^FH_ field: ^, ~, _ and non-ASCII become _XX bytes (UTF-8, ^CI28). */
export function zplText(text: string): string {
  let out = '';
  for (const ch of text.replace(CONTROL, ' ')) {
    const c = ch.codePointAt(0)!;
    if (c >= 0x20 && c <= 0x7e && ch !== '^' && ch !== '~' && ch !== '_') out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += `_${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function lines(d: CartonLabelData): { big: string; rows: string[] } {
  const lots = d.lots.length === 0 ? '-' : d.lots.length <= 3 ? d.lots.join(', ') : `${d.lots.slice(0, 3).join(', ')} +${d.lots.length - 3}`;
  return {
    big: `${d.productCode} rev ${d.revision}`,
    rows: [
      `WO ${d.workOrder}`,
      `CUSTOMER ${d.customer || '-'}`,
      `PO ${d.customerPo || '-'}`,
      `QTY ${d.quantity} / ${d.capacity}`,
      `LOT ${lots}`,
      `PACKED ${d.packedAt ? `${d.packedAt.toISOString().slice(0, 16).replace('T', ' ')}Z` : '-'}`,
      ...(d.shipment ? [`SHIPMENT ${d.shipment}`] : []),
    ],
  };
}

/** ZPL II, 4 × 6 inch at 203 dpi (812 × 1218 dots). */
export function cartonLabelZpl(d: CartonLabelData): string {
  const t = lines(d);
  const field = (x: number, y: number, size: number, s: string) => `^FO${x},${y}^A0N,${size},${size}^FB760,1,0,L,0^FH_^FD${zplText(s)}^FS`;
  const out = ['^XA', '^CI28', '^PW812', '^LL1218', '^LH0,0', field(30, 30, 60, t.big)];
  t.rows.forEach((r, i) => out.push(field(30, 120 + i * 56, 40, r)));
  // The carton ID as Data Matrix and Code 128 (IDs are restricted to ZPL-safe characters).
  out.push(`^FO30,560^BXN,10,200^FD${d.cartonCode}^FS`);
  out.push(`^FO30,900^BY3^BCN,160,Y,N,N^FD${d.cartonCode}^FS`);
  out.push('^PQ1', '^XZ');
  return `${out.join('\n')}\n`;
}

/** PDF, one 4 × 6 inch page. */
export async function cartonLabelPdf(d: CartonLabelData): Promise<Buffer> {
  const t = lines(d);
  const dm = await dataMatrixPng(d.cartonCode, { scale: 4 });
  const c128 = await bwipjs.toBuffer({ bcid: 'code128', text: d.cartonCode, scale: 2, height: 12, includetext: true, backgroundcolor: 'FFFFFF', paddingwidth: 6, paddingheight: 4 });
  const doc = new PDFDocument({ size: [288, 432], margin: 0, info: { Title: `Carton ${d.cartonCode}`, Creator: 'smt-mes' } });
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  // Built-in PDF fonts print Latin-1 only.
  const latin1 = (s: string) => [...s].map((ch) => (ch.codePointAt(0)! > 0xff ? '?' : ch)).join('');
  doc.font('Helvetica-Bold').fontSize(18).text(latin1(t.big), 14, 14, { width: 260, lineBreak: false, ellipsis: true });
  doc.font('Helvetica').fontSize(11);
  t.rows.forEach((r, i) => doc.text(latin1(r), 14, 44 + i * 16, { width: 260, lineBreak: false, ellipsis: true }));
  doc.image(dm, 14, 170, { width: 110, height: 110 });
  doc.image(c128, 14, 300, { width: 260 });
  doc.end();
  return done;
}

/** PNG of the carton ID as a Data Matrix (the label's 2D code), for the screen preview. */
export async function cartonLabelPng(cartonCode: string, opts: { scale?: number } = {}): Promise<Buffer> {
  return dataMatrixPng(cartonCode, { scale: opts.scale ?? 6 });
}
