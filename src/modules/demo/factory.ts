import type { FactoryDocument } from '../imports/index.ts';

/**
 * The demo factory: one SMT line (marking, printer, SPI, two placement machines, reflow, AOI,
 * ICT, FCT, rework, packing) building a controller board with 60 BOM lines and about 300
 * placements, an AVL with approved alternates, a route with repair loops, programs with feeder
 * setups and process-parameter ranges, and a quality plan. Deterministic: the same document
 * every time, so `mes demo seed` is idempotent.
 */

interface PartDef { prefix: string; ipnBase: string; desc: string; pkg: string; msl: '1' | '2' | '2a' | '3' | '4' | '5'; mfr: string; mpn: string; alt?: { mfr: string; mpn: string } }

// Part families: [count of distinct parts, placements per part, template]
const FAMILIES: { n: number; per: number[]; make: (i: number) => PartDef }[] = [
  { n: 18, per: [12, 8, 14, 6, 16, 8, 6, 5, 9, 4, 11, 5, 8, 3, 6, 4, 5, 3], make: (i) => ({ prefix: 'R', ipnBase: `RES-0402-${String(10 + i * 7).padStart(3, '0')}K`, desc: `Resistor ${10 + i * 7}k 1% 0402`, pkg: '0402', msl: '1', mfr: 'Yageo', mpn: `RC0402FR-07${10 + i * 7}KL`, ...(i % 3 === 0 ? { alt: { mfr: 'Vishay', mpn: `CRCW0402${10 + i * 7}KFKED` } } : {}) }) },
  { n: 16, per: [14, 12, 10, 8, 11, 7, 6, 5, 8, 5, 7, 4, 6, 3, 5, 4], make: (i) => ({ prefix: 'C', ipnBase: `CAP-0402-${String(100 + i * 33)}N`, desc: `Capacitor ${100 + i * 33}nF X7R 0402`, pkg: '0402', msl: '1', mfr: 'Murata', mpn: `GRM155R71C${100 + i * 33}KA01D`, ...(i % 4 === 1 ? { alt: { mfr: 'Samsung', mpn: `CL05B${100 + i * 33}KO5NNNC` } } : {}) }) },
  { n: 6, per: [3, 2, 4, 2, 1, 2], make: (i) => ({ prefix: 'L', ipnBase: `IND-0805-${i + 1}U`, desc: `Inductor ${i + 1}uH 0805`, pkg: '0805', msl: '1', mfr: 'TDK', mpn: `MLZ2012M${i + 1}R0WT000` }) },
  { n: 8, per: [1, 1, 2, 1, 1, 1, 1, 2], make: (i) => ({ prefix: 'U', ipnBase: `IC-${['MCU-QFN48', 'PMIC-QFN24', 'LDO-SOT23', 'CAN-SOIC8', 'EEPROM-SOIC8', 'OPAMP-SOT23', 'RS485-SOIC8', 'BUF-TSSOP14'][i]}`, desc: `${['Microcontroller', 'Power management IC', 'LDO regulator', 'CAN transceiver', 'EEPROM 64k', 'Op-amp', 'RS-485 transceiver', 'Buffer'][i]}`, pkg: ['QFN-48', 'QFN-24', 'SOT-23-5', 'SOIC-8', 'SOIC-8', 'SOT-23-5', 'SOIC-8', 'TSSOP-14'][i]!, msl: (['3', '3', '1', '2', '1', '1', '2a', '3'] as const)[i]!, mfr: ['STMicroelectronics', 'Texas Instruments', 'Texas Instruments', 'NXP', 'Microchip', 'Analog Devices', 'Maxim', 'Nexperia'][i]!, mpn: ['STM32G431CBU6', 'TPS65263RHBR', 'TLV75533PDBVR', 'TJA1051T/3', '24LC64-I/SN', 'ADA4077-1ARZ', 'MAX3485ESA+', '74HC244PW'][i]!, ...(i === 2 ? { alt: { mfr: 'Diodes Inc', mpn: 'AP2112K-3.3TRG1' } } : {}) }) },
  { n: 5, per: [4, 3, 2, 6, 2], make: (i) => ({ prefix: 'D', ipnBase: `DIODE-${['TVS-SOD323', 'SCHOTTKY-SMA', 'LED-GRN-0603', 'ESD-SOD882', 'LED-RED-0603'][i]}`, desc: ['TVS diode', 'Schottky diode', 'LED green', 'ESD protection', 'LED red'][i]!, pkg: ['SOD-323', 'SMA', '0603', 'SOD-882', '0603'][i]!, msl: (['1', '1', '2', '1', '2'] as const)[i]!, mfr: ['Littelfuse', 'Vishay', 'Kingbright', 'Nexperia', 'Kingbright'][i]!, mpn: ['SMF5.0A', 'SS14-E3/61T', 'APT1608SGC', 'PESD5V0S1BL', 'APT1608EC'][i]! }) },
  { n: 3, per: [2, 3, 2], make: (i) => ({ prefix: 'Q', ipnBase: `FET-${['NCH-SOT23', 'PCH-SOT23', 'NPN-SOT23'][i]}`, desc: ['N-channel MOSFET', 'P-channel MOSFET', 'NPN transistor'][i]!, pkg: 'SOT-23', msl: '1', mfr: ['onsemi', 'Vishay', 'Nexperia'][i]!, mpn: ['2N7002LT1G', 'SI2301CDS-T1-GE3', 'BC847C,215'][i]! }) },
  { n: 4, per: [1, 1, 1, 2], make: (i) => ({ prefix: 'J', ipnBase: `CONN-${['USB-C', 'HDR-2X5', 'TERM-3P', 'JST-4P'][i]}`, desc: ['USB-C receptacle', '2x5 header 1.27mm', '3-pin terminal block', 'JST 4-pin connector'][i]!, pkg: 'THT/SMD', msl: '1', mfr: ['GCT', 'Samtec', 'Phoenix Contact', 'JST'][i]!, mpn: ['USB4105-GF-A', 'FTSH-105-01-F-DV-K', '1935174', 'SM04B-SRSS-TB'][i]! }) },
];

const BOARD = { ipn: 'PCB-CTRL-100-A', desc: 'Bare board CTRL-100 rev A', mfr: 'Demo PCB Fab', mpn: 'DPF-CTRL100-A' };
const CRYSTAL = { ipn: 'XTAL-8M-3225', desc: 'Crystal 8 MHz 3225', mfr: 'Abracon', mpn: 'ABM8-8.000MHZ-B2-T' };
const LABEL = { ipn: 'LBL-SERIAL-20x8', desc: 'Serial number label 20x8 mm', mfr: 'Brady', mpn: 'THT-17-423-10' };

export function demoFactoryDocument(): FactoryDocument {
  const parts: NonNullable<FactoryDocument['parts']> = [];
  const avl: NonNullable<FactoryDocument['avl']> = [];
  const bom: NonNullable<NonNullable<NonNullable<FactoryDocument['products']>[number]['revisions']>[number]['bom']> = [];
  const counters = new Map<string, number>();
  let line = 0;
  for (const fam of FAMILIES) {
    for (let i = 0; i < fam.n; i++) {
      const d = fam.make(i);
      parts.push({ ipn: d.ipnBase, description: d.desc, package: d.pkg, mslLevel: d.msl });
      avl.push({ ipn: d.ipnBase, manufacturer: d.mfr, mpn: d.mpn, preference: 1 });
      if (d.alt) avl.push({ ipn: d.ipnBase, manufacturer: d.alt.mfr, mpn: d.alt.mpn, alternate: true, preference: 2, ...(i % 2 === 0 ? { permitGlobally: 'Qualified second source' } : {}) });
      const qty = fam.per[i]!;
      const refdes: string[] = [];
      for (let k = 0; k < qty; k++) {
        const n = (counters.get(d.prefix) ?? 0) + 1;
        counters.set(d.prefix, n);
        refdes.push(`${d.prefix}${n}`);
      }
      bom.push({ line: ++line, ipn: d.ipnBase, quantity: qty, refdes, side: d.prefix === 'J' || (d.prefix === 'C' && i >= 12) ? 'bottom' : 'top' });
    }
  }
  parts.push({ ipn: CRYSTAL.ipn, description: CRYSTAL.desc, package: '3225', mslLevel: '1' });
  avl.push({ ipn: CRYSTAL.ipn, manufacturer: CRYSTAL.mfr, mpn: CRYSTAL.mpn });
  bom.push({ line: ++line, ipn: CRYSTAL.ipn, quantity: 1, refdes: ['Y1'], side: 'top' });
  parts.push({ ipn: BOARD.ipn, description: BOARD.desc, package: 'PCB', mslLevel: '1', placed: false });
  avl.push({ ipn: BOARD.ipn, manufacturer: BOARD.mfr, mpn: BOARD.mpn });
  bom.push({ line: ++line, ipn: BOARD.ipn, quantity: 1, placed: false, side: 'none' });
  parts.push({ ipn: LABEL.ipn, description: LABEL.desc, package: 'label', mslLevel: '1', placed: false });
  avl.push({ ipn: LABEL.ipn, manufacturer: LABEL.mfr, mpn: LABEL.mpn });
  bom.push({ line: ++line, ipn: LABEL.ipn, quantity: 1, placed: false, side: 'none' });
  // One do-not-place position, as on many real boards.
  bom.push({ line: ++line, ipn: parts[0]!.ipn, quantity: 1, refdes: ['R999'], doNotPlace: true, notes: 'DNP: pull-up option' });

  // Feeder setups: top-side placed lines split over the two placement machines by part family.
  const placedTop = bom.filter((b) => b.placed !== false && !b.doNotPlace && b.side === 'top');
  const placedBottom = bom.filter((b) => b.placed !== false && !b.doNotPlace && b.side === 'bottom');
  const chip = placedTop.filter((b) => /^(RES|CAP|IND)/.test(b.ipn));
  const other = [...placedTop.filter((b) => !/^(RES|CAP|IND)/.test(b.ipn)), ...placedBottom];
  const slots = (lines: typeof bom, bank: string) => lines.map((b, i) => ({ slot: `${bank}${String(i + 1).padStart(2, '0')}`, ipn: b.ipn, refdes: b.refdes ?? [] }));

  return {
    sites: [{ code: 'PLANT1', name: 'Demo Electronics Plant', timezone: 'Europe/Berlin' }],
    lines: [{ code: 'SMT1', site: 'PLANT1', name: 'SMT line 1' }],
    stations: [
      { code: 'MARK1', line: 'SMT1', name: 'Laser marker', type: 'marking', seq: 10 },
      { code: 'PRN1', line: 'SMT1', name: 'Stencil printer', type: 'printer', seq: 20 },
      { code: 'SPI1', line: 'SMT1', name: 'Solder paste inspection', type: 'spi', seq: 30 },
      { code: 'PNP1', line: 'SMT1', name: 'Placement 1 (chip shooter)', type: 'placement', seq: 40 },
      { code: 'PNP2', line: 'SMT1', name: 'Placement 2 (fine pitch)', type: 'placement', seq: 50 },
      { code: 'RFL1', line: 'SMT1', name: 'Reflow oven', type: 'reflow', seq: 60 },
      { code: 'AOI1', line: 'SMT1', name: 'Automated optical inspection', type: 'aoi', seq: 70 },
      { code: 'ICT1', line: 'SMT1', name: 'In-circuit test', type: 'ict', seq: 80 },
      { code: 'FCT1', line: 'SMT1', name: 'Functional test', type: 'fct', seq: 90 },
      { code: 'REW1', line: 'SMT1', name: 'Rework bench', type: 'rework', seq: 95 },
      { code: 'PACK1', line: 'SMT1', name: 'Packing', type: 'packing', seq: 100 },
    ],
    equipment: [
      { code: 'MARK1-M', station: 'MARK1', name: 'Laser marker', vendor: 'DemoLaser', model: 'LM-20', serialNumber: 'LM20-0042', cfxHandle: 'DemoLaser.LM20.0042' },
      { code: 'PRN1-M', station: 'PRN1', name: 'Stencil printer', vendor: 'DemoPrint', model: 'SP-710', serialNumber: 'SP710-1187', cfxHandle: 'DemoPrint.SP710.1187' },
      { code: 'SPI1-M', station: 'SPI1', name: 'SPI', vendor: 'DemoVision', model: 'SPI-3D', serialNumber: '3D-5521', cfxHandle: 'DemoVision.SPI3D.5521' },
      { code: 'PNP1-M', station: 'PNP1', name: 'Chip shooter', vendor: 'DemoPlace', model: 'CP-40', serialNumber: 'CP40-3310', cfxHandle: 'DemoPlace.CP40.3310', lanes: 2 },
      { code: 'PNP2-M', station: 'PNP2', name: 'Fine-pitch placer', vendor: 'DemoPlace', model: 'FP-12', serialNumber: 'FP12-0716', cfxHandle: 'DemoPlace.FP12.0716' },
      { code: 'RFL1-M', station: 'RFL1', name: 'Reflow oven 10 zones', vendor: 'DemoHeat', model: 'RF-10N', serialNumber: 'RF10-2209', cfxHandle: 'DemoHeat.RF10N.2209' },
      { code: 'AOI1-M', station: 'AOI1', name: 'AOI', vendor: 'DemoVision', model: 'AOI-8', serialNumber: 'AOI8-4431', cfxHandle: 'DemoVision.AOI8.4431' },
      { code: 'ICT1-M', station: 'ICT1', name: 'ICT', vendor: 'DemoTest', model: 'ICT-500', serialNumber: 'ICT5-0098', cfxHandle: 'DemoTest.ICT500.0098' },
      { code: 'FCT1-M', station: 'FCT1', name: 'FCT rack', vendor: 'DemoTest', model: 'FCT-2', serialNumber: 'FCT2-0311', cfxHandle: 'DemoTest.FCT2.0311' },
      { code: 'REW1-M', station: 'REW1', name: 'Rework station', vendor: 'DemoRework', model: 'RW-1', serialNumber: 'RW1-0007', cfxHandle: 'DemoRework.RW1.0007' },
      { code: 'PACK1-M', station: 'PACK1', name: 'Packing scanner', vendor: 'DemoPack', model: 'PK-1', serialNumber: 'PK1-0001', cfxHandle: 'DemoPack.PK1.0001' },
    ],
    parts,
    avl,
    products: [
      {
        code: 'CTRL-100',
        name: 'Controller board CTRL-100',
        customer: 'Acme Instruments',
        revisions: [
          {
            revision: 'A',
            bomRevision: 'A.2',
            gerberRevision: 'A',
            assemblyDrawingRevision: 'A.1',
            centroidRevision: 'A.2',
            bom,
            route: {
              name: 'CTRL-100 SMT + test',
              steps: [
                { seq: 10, name: 'Laser marking', stationType: 'marking', station: 'MARK1', instructions: 'Mark the serial Data Matrix on the top side, position 1 of each panel.' },
                { seq: 20, name: 'Solder paste print', stationType: 'printer', station: 'PRN1', instructions: 'Check stencil ID and paste jar before the first print.', checks: [{ code: 'STENCIL', text: 'Stencil ID matches the work order' }] },
                { seq: 30, name: 'Solder paste inspection', stationType: 'spi', station: 'SPI1', onFail: 'hold' },
                { seq: 40, name: 'Placement chips', stationType: 'placement', station: 'PNP1' },
                { seq: 50, name: 'Placement ICs and connectors', stationType: 'placement', station: 'PNP2' },
                { seq: 60, name: 'Reflow', stationType: 'reflow', station: 'RFL1' },
                { seq: 70, name: 'AOI', stationType: 'aoi', station: 'AOI1', onFail: 'repair', repairStepSeq: 200, returnStepSeq: 70, maxRepairLoops: 2, firstArticleGate: true },
                { seq: 80, name: 'In-circuit test', stationType: 'ict', station: 'ICT1', onFail: 'repair', repairStepSeq: 200, returnStepSeq: 80, maxRepairLoops: 2 },
                { seq: 90, name: 'Functional test', stationType: 'fct', station: 'FCT1', onFail: 'repair', repairStepSeq: 200, returnStepSeq: 90, maxRepairLoops: 2 },
                { seq: 100, name: 'Pack', stationType: 'packing', station: 'PACK1' },
                { seq: 200, name: 'Repair', stationType: 'rework', station: 'REW1', isRepair: true, onFail: 'scrap', instructions: 'Repair per defect list; record removed and new packages for replaced parts.' },
              ],
            },
            programs: [
              { name: 'CTRL100-PRINT', revision: '3', kind: 'printer', stationType: 'printer', station: 'PRN1', checksum: 'sha256:5c1e9a', release: true, parameterRanges: [{ name: 'PrintSpeed', unit: 'mm/s', min: 30, max: 60 }, { name: 'SqueegeePressure', unit: 'kg', min: 5, max: 9 }] },
              { name: 'CTRL100-SPI', revision: '2', kind: 'spi', stationType: 'spi', station: 'SPI1', checksum: 'sha256:77ab01', release: true, parameterRanges: [{ name: 'VolumePercent', unit: '%', min: 70, max: 140 }] },
              { name: 'CTRL100-TOP-CHIP', revision: '5', kind: 'placement', stationType: 'placement', station: 'PNP1', equipment: 'PNP1-M', checksum: 'sha256:a1f00d', release: true, slots: slots(chip, 'F') },
              { name: 'CTRL100-FINE', revision: '4', kind: 'placement', stationType: 'placement', station: 'PNP2', equipment: 'PNP2-M', checksum: 'sha256:b2e11c', release: true, slots: slots(other, 'T') },
              {
                name: 'LEADFREE-SAC305', revision: '7', kind: 'reflow', stationType: 'reflow', station: 'RFL1', checksum: 'sha256:0ff1ce', release: true,
                parameterRanges: Array.from({ length: 10 }, (_, z) => ({ name: `Zone${z + 1}Temp`, unit: 'C', min: [150, 160, 170, 180, 190, 200, 225, 245, 240, 200][z]! - 10, max: [150, 160, 170, 180, 190, 200, 225, 245, 240, 200][z]! + 10 })),
              },
              { name: 'CTRL100-AOI', revision: '6', kind: 'aoi', stationType: 'aoi', station: 'AOI1', checksum: 'sha256:aa0160', release: true },
              { name: 'CTRL100-ICT', revision: '2', kind: 'ict', stationType: 'ict', station: 'ICT1', checksum: 'sha256:1c7002', release: true },
              { name: 'CTRL100-FCT', revision: '3', kind: 'fct', stationType: 'fct', station: 'FCT1', checksum: 'sha256:fc7003', release: true, parameterRanges: [{ name: 'Supply3V3', unit: 'V', min: 3.2, max: 3.4 }, { name: 'IdleCurrent', unit: 'mA', min: 20, max: 45 }] },
            ],
            qualityPlan: {
              requiredSteps: ['spi', 'aoi', 'ict', 'fct'], traceDepth: 'unit', materialLevel: 'M3', processLevel: 'P3', acceptanceClass: 2, mixedLotsAllowed: false,
              tracePackage: ['work-order-sheet', 'material-loading-log', 'panel-traveler', 'inspection-trace', 'test-trace', 'rework-ncr-log', 'shipment-trace', 'open-issues'],
              notes: 'IPC-A-610 class 2. Unit-level traceability with exact reel per reference designator.',
            },
            release: true,
          },
        ],
      },
    ],
  };
}
