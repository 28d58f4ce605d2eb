import { describe, expect, it } from 'vitest';
import { parseEigp114, SEPARATOR_NOTATIONS } from './eigp114.ts';
import type { ParseResult, ReelLabel } from './eigp114.ts';

const GS = '\x1d';
const RS = '\x1e';
const EOT = '\x04';

/** Builds label content: standard header, fields joined by GS, and a chosen trailer. */
function label(fields: string[], opts: { header?: string; trailer?: string } = {}): string {
  return (opts.header ?? `[)>${RS}06${GS}`) + fields.join(GS) + (opts.trailer ?? RS + EOT);
}

const TYPICAL = [
  'PACME-100-ND',
  '1PGRM155R71C104KA88D',
  '30P490-1532-1-ND',
  'KPO-4711',
  '1K81234567',
  '10K98765432',
  '9D2321',
  '1TL2305A',
  '11K1',
  '4LJP',
  'Q10000',
  '11ZPICK',
  '12Z1234567',
  '13Z987654',
  '20Z0000000000',
];

function ok(r: ParseResult): ReelLabel {
  if (!r.ok) throw new Error(`expected success, got ${r.code}: ${r.message}`);
  return r.label;
}

function expectFail(r: ParseResult, code: string, field?: string): string {
  if (r.ok) throw new Error(`expected ${code}, got success`);
  expect(r.code).toBe(code);
  if (field === undefined) expect(r.field).toBeUndefined();
  else expect(r.field).toBe(field);
  expect(r.message.length).toBeGreaterThan(10);
  return r.message;
}

describe('parseEigp114: envelopes', () => {
  it('parses a typical label with trailer', () => {
    const l = ok(parseEigp114(label(TYPICAL)));
    expect(l).toEqual({
      mpn: 'GRM155R71C104KA88D',
      customerPartNumber: 'ACME-100-ND',
      supplierPartNumber: '490-1532-1-ND',
      quantity: 10000,
      dateCode: { raw: '2321', year: 2023, week: 21 },
      lotCode: 'L2305A',
      manufacturer: null,
      countryOfOrigin: 'JP',
      purchaseOrder: 'PO-4711',
      supplierOrder: '81234567',
      poLine: null,
      packingList: '1',
      shipDate: null,
      packageSerial: null,
      other: { '10K': '98765432', '11Z': 'PICK', '12Z': '1234567', '13Z': '987654', '20Z': '0000000000' },
      envelope: { notation: 'control', legacyHeader: false, trailer: 'RS EOT' },
    });
  });

  it('parses the same label without trailer, with RS only, and with EOT only', () => {
    const full = ok(parseEigp114(label(TYPICAL)));
    for (const [trailer, name] of [
      ['', 'none'],
      [RS, 'RS'],
      [EOT, 'EOT'],
    ] as const) {
      const l = ok(parseEigp114(label(TYPICAL, { trailer })));
      expect(l.envelope.trailer).toBe(name);
      expect({ ...l, envelope: full.envelope }).toEqual(full);
    }
  });

  it('parses the old header variant >[)>06 GS', () => {
    const l = ok(parseEigp114(label(['KPO1', '14K10', '1PBSS138', 'Q3000', '1VNexperia', '4LCN'], { header: `>[)>06${GS}`, trailer: '' })));
    expect(l.envelope).toEqual({ notation: 'control', legacyHeader: true, trailer: 'none' });
    expect(l).toMatchObject({ mpn: 'BSS138', quantity: 3000, manufacturer: 'Nexperia', poLine: '10', purchaseOrder: 'PO1', countryOfOrigin: 'CN' });
    expect(ok(parseEigp114(label(['1PX', 'Q1'], { header: `>[)>${RS}06${GS}` })))).toMatchObject({ mpn: 'X', quantity: 1 });
  });

  it('ignores a trailing CR/LF and a leading AIM symbology identifier', () => {
    const l = ok(parseEigp114(`]d1${label(['1PX', 'Q5'])}\r\n`));
    expect(l).toMatchObject({ mpn: 'X', quantity: 5 });
    expect(ok(parseEigp114(`]Q1${label(['1PX', 'Q5'])}\n`)).mpn).toBe('X');
  });

  it('skips empty fields', () => {
    const l = ok(parseEigp114(`[)>${RS}06${GS}1PX${GS}${GS}Q5${GS}${RS}${EOT}`));
    expect(l).toMatchObject({ mpn: 'X', quantity: 5 });
  });

  it.each(SEPARATOR_NOTATIONS.map((n) => [n.notation, n] as const))('accepts visible substitutes: %s', (notation, n) => {
    const text = `[)>${n.RS}06${n.GS}${TYPICAL.join(n.GS)}${n.RS}${n.EOT}`;
    const l = ok(parseEigp114(text));
    expect(l.envelope.notation).toBe(notation);
    expect({ ...l, envelope: null }).toEqual({ ...ok(parseEigp114(label(TYPICAL))), envelope: null });
    // legacy header and no trailer in the same notation
    const legacy = ok(parseEigp114(`>[)>06${n.GS}1PABC${n.GS}Q7`));
    expect(legacy).toMatchObject({ mpn: 'ABC', quantity: 7, envelope: { notation, legacyHeader: true, trailer: 'none' } });
  });

  it('keeps substitute-looking text as data when real control characters are used', () => {
    const l = ok(parseEigp114(label(['1PAB<GS>C', 'Q1', '1T{RS}7'])));
    expect(l.mpn).toBe('AB<GS>C');
    expect(l.lotCode).toBe('{RS}7');
  });

  it('only replaces the notation announced by the header', () => {
    const l = ok(parseEigp114('[)>{RS}06{GS}1PAB<GS>C{GS}Q1{RS}{EOT}'));
    expect(l.mpn).toBe('AB<GS>C');
  });
});

describe('parseEigp114: data identifiers', () => {
  it('parses DIs as the longest run of up to three digits plus one letter', () => {
    const l = ok(
      parseEigp114(
        label(['P1P-IS-DATA', '1PP-STARTS-WITH-P', '30P30P', 'Q1', '10D2401', '11K7', '1K8', 'K9', '14K3', '3SPKG1', '999Z9']),
      ),
    );
    expect(l).toMatchObject({
      customerPartNumber: '1P-IS-DATA',
      mpn: 'P-STARTS-WITH-P',
      supplierPartNumber: '30P',
      dateCode: { raw: '2401', year: 2024, week: 1 },
      packingList: '7',
      supplierOrder: '8',
      purchaseOrder: '9',
      poLine: '3',
      packageSerial: 'PKG1',
      other: { '999Z': '9' },
    });
  });

  it('accepts quantities with leading zeros', () => {
    expect(ok(parseEigp114(label(['1PX', 'Q0005000']))).quantity).toBe(5000);
  });

  it('maps 9D, 4K and S and accepts agreeing synonyms', () => {
    const l = ok(parseEigp114(label(['1PX', 'Q1', '9D1953', '10D1953', '4K2', '14K2', 'S77', '3S77'])));
    expect(l).toMatchObject({ dateCode: { year: 2019, week: 53 }, poLine: '2', packageSerial: '77' });
  });

  it('parses the ship date 6D as an ISO date, leap days included', () => {
    expect(ok(parseEigp114(label(['1PX', 'Q1', '6D20240229']))).shipDate).toBe('2024-02-29');
  });

  it('treats empty optional fields as absent and trims surrounding spaces', () => {
    const l = ok(parseEigp114(label(['K', '1P  LM358DR ', 'Q 2500 ', '1T', '20Z'])));
    expect(l).toMatchObject({ purchaseOrder: null, mpn: 'LM358DR', quantity: 2500, lotCode: null, other: { '20Z': '' } });
  });

  it('accepts a repeated DI with the same value', () => {
    expect(ok(parseEigp114(label(['1PX', 'Q10', 'Q10']))).quantity).toBe(10);
  });
});

describe('parseEigp114: refusals', () => {
  it('LABEL_NOT_15434 without the header', () => {
    expectFail(parseEigp114(''), 'LABEL_NOT_15434');
    expectFail(parseEigp114('GRM155R71C104KA88D'), 'LABEL_NOT_15434');
    expectFail(parseEigp114(`1PX${GS}Q1`), 'LABEL_NOT_15434');
  });

  it('LABEL_NOT_15434 when the header has no separator the parser recognises', () => {
    expectFail(parseEigp114('[)>06P123'), 'LABEL_NOT_15434');
    expectFail(parseEigp114('[)>|06|1PX|Q1'), 'LABEL_NOT_15434');
    expectFail(parseEigp114(`[)>06${GS}1PX${GS}Q1`), 'LABEL_NOT_15434');
    expectFail(parseEigp114(`[)>${RS}06${RS}1PX`), 'LABEL_NOT_15434');
  });

  it('LABEL_NOT_15434 for stray RS or EOT inside the data', () => {
    expectFail(parseEigp114(`[)>${RS}06${GS}1PX${RS}Q1${RS}${EOT}`), 'LABEL_NOT_15434');
    expectFail(parseEigp114(`[)>${RS}06${GS}1PX${EOT}${GS}Q1${RS}${EOT}`), 'LABEL_NOT_15434');
  });

  it('LABEL_FORMAT_UNSUPPORTED for a format other than 06', () => {
    const m = expectFail(parseEigp114(`[)>${RS}05${GS}0109501101020917${RS}${EOT}`), 'LABEL_FORMAT_UNSUPPORTED');
    expect(m).toContain('05');
    expectFail(parseEigp114(`[)>${RS}12${GS}X${RS}${EOT}`), 'LABEL_FORMAT_UNSUPPORTED');
    expectFail(parseEigp114(`>[)>05${GS}X`), 'LABEL_FORMAT_UNSUPPORTED');
  });

  it('LABEL_FORMAT_UNSUPPORTED for a second envelope', () => {
    expectFail(parseEigp114(`[)>${RS}06${GS}1PX${GS}Q1${RS}05${GS}01123${RS}${EOT}`), 'LABEL_FORMAT_UNSUPPORTED');
  });

  it('LABEL_FIELD_INVALID for malformed quantities, naming Q', () => {
    for (const q of ['Q12A', 'Q0', 'Q-5', 'Q1.5', 'Q1e3', 'Q99999999999']) {
      const m = expectFail(parseEigp114(label(['1PX', q])), 'LABEL_FIELD_INVALID', 'Q');
      expect(m).toContain('Q (quantity)');
    }
  });

  it('LABEL_FIELD_INVALID for bad date codes, naming the DI', () => {
    const m = expectFail(parseEigp114(label(['1PX', 'Q1', '9D2360'])), 'LABEL_FIELD_INVALID', '9D');
    expect(m).toContain('60');
    expectFail(parseEigp114(label(['1PX', 'Q1', '10D2300'])), 'LABEL_FIELD_INVALID', '10D');
    expectFail(parseEigp114(label(['1PX', 'Q1', '9D232'])), 'LABEL_FIELD_INVALID', '9D');
    expectFail(parseEigp114(label(['1PX', 'Q1', '9D2023-21'])), 'LABEL_FIELD_INVALID', '9D');
  });

  it('LABEL_FIELD_INVALID for a bad country or ship date', () => {
    expectFail(parseEigp114(label(['1PX', 'Q1', '4LChina'])), 'LABEL_FIELD_INVALID', '4L');
    expectFail(parseEigp114(label(['1PX', 'Q1', '6D20230229'])), 'LABEL_FIELD_INVALID', '6D');
    expectFail(parseEigp114(label(['1PX', 'Q1', '6D231301'])), 'LABEL_FIELD_INVALID', '6D');
  });

  it('LABEL_FIELD_INVALID for a field without a data identifier', () => {
    expectFail(parseEigp114(label(['1PX', 'Q1', 'lower'])), 'LABEL_FIELD_INVALID');
    expectFail(parseEigp114(label(['1PX', 'Q1', '1234P5'])), 'LABEL_FIELD_INVALID');
    expectFail(parseEigp114(label(['1PX', 'Q1', '123'])), 'LABEL_FIELD_INVALID');
  });

  it('LABEL_FIELD_INVALID for control characters inside a field', () => {
    expectFail(parseEigp114(label(['1PX\x07Y', 'Q1'])), 'LABEL_FIELD_INVALID', '1P');
    expectFail(parseEigp114(label(['1PX', 'Q1', '1TA\tB'])), 'LABEL_FIELD_INVALID', '1T');
  });

  it('LABEL_FIELD_MISSING without MPN or quantity', () => {
    expectFail(parseEigp114(label(['PCUST', 'Q100'])), 'LABEL_FIELD_MISSING', '1P');
    expectFail(parseEigp114(label(['1P', 'Q100'])), 'LABEL_FIELD_MISSING', '1P');
    expectFail(parseEigp114(label(['1PX', '1T123'])), 'LABEL_FIELD_MISSING', 'Q');
    expectFail(parseEigp114(label(['1PX', 'Q'])), 'LABEL_FIELD_MISSING', 'Q');
  });

  it('LABEL_DUPLICATE_FIELD when a DI repeats with a different value', () => {
    const m = expectFail(parseEigp114(label(['1PX', 'Q100', 'Q200'])), 'LABEL_DUPLICATE_FIELD', 'Q');
    expect(m).toContain('"100"');
    expect(m).toContain('"200"');
    expectFail(parseEigp114(label(['1PX', '1PY', 'Q1'])), 'LABEL_DUPLICATE_FIELD', '1P');
  });

  it('LABEL_DUPLICATE_FIELD when synonyms disagree', () => {
    expectFail(parseEigp114(label(['1PX', 'Q1', '9D2321', '10D2322'])), 'LABEL_DUPLICATE_FIELD', '10D');
    expectFail(parseEigp114(label(['1PX', 'Q1', '4K1', '14K2'])), 'LABEL_DUPLICATE_FIELD', '14K');
    expectFail(parseEigp114(label(['1PX', 'Q1', '3SA', 'SB'])), 'LABEL_DUPLICATE_FIELD', 'S');
  });
});
