import bwipjs from 'bwip-js';

/**
 * PNG of `text` as a Data Matrix, as every label and screen of the MES shows one: black modules on
 * a white, opaque background with a 2-module quiet zone (bwip-js renders transparent PNGs without
 * padding by default, which most scanners and decoders cannot read once printed or shown on a dark
 * screen). `scale` is pixels per bwip-js unit (a module is 2 units), an integer 1–20.
 */
export async function dataMatrixPng(text: string, opts: { scale?: number } = {}): Promise<Buffer> {
  const scale = opts.scale ?? 4;
  if (!Number.isInteger(scale) || scale < 1 || scale > 20) {
    throw new RangeError(`scale must be an integer 1–20, got ${String(scale)}`);
  }
  return bwipjs.toBuffer({
    bcid: 'datamatrix',
    text,
    scale,
    barcolor: '000000',
    backgroundcolor: 'FFFFFF',
    // 4 units = 2 modules of quiet zone.
    paddingwidth: 4,
    paddingheight: 4,
  });
}
