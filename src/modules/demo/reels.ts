/**
 * Pieces per package of a part as a plant receives it, by the part's package (EIA-481 tape on
 * reels, JEDEC trays): what decides how often a slot is spliced. 0201 / 0402 chips: 8 mm paper
 * tape at 2 mm pitch, 10,000 on a 7" reel; 0603 / 0805: 4 mm pitch, 4,000; small discretes
 * (SOT-23 and SOT-23-5, SOD-323, SOD-882, SMA): 3,000 (embossed tape, 7" reel); 3225 crystals: 1,000 (the demo
 * crystal's "-T" packing); ICs (QFN, SOIC, TSSOP): 2,500 (12–16 mm tape, 13" reel);
 * connectors and anything else: trays or tubes of 500. The demo board places up to 16 pieces of
 * one part (303 placements over 64 BOM lines), so a slot is spliced every 250 (a connector placed
 * twice per board) to ~10,000 boards (a crystal or IC placed once), on average about once per 20
 * boards for the whole line; a reel of 60 boards, as the ingest bench had, splices ~20 times as
 * often as a plant does. Used by the line simulator and the demo history generator.
 */
export function reelQuantity(pkg: string | null): { quantity: number; kind: 'reel' | 'tray' } {
  const p = (pkg ?? '').toUpperCase();
  if (/^(0201|0402)$/.test(p)) return { quantity: 10_000, kind: 'reel' };
  if (/^(0603|0805)$/.test(p)) return { quantity: 4_000, kind: 'reel' };
  if (/^(SOT-23|SOD-|SMA)/.test(p)) return { quantity: 3_000, kind: 'reel' };
  if (p === '3225') return { quantity: 1_000, kind: 'reel' };
  if (/^(QFN|SOIC|TSSOP)/.test(p)) return { quantity: 2_500, kind: 'reel' };
  return { quantity: 500, kind: 'tray' };
}
