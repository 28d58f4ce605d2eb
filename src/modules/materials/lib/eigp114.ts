/**
 * Parser for manufacturer / distributor reel labels: ECIA EIGP 114 content in an
 * ISO/IEC 15434 envelope, format 06 (ANSI MH10.8.2 data identifiers).
 *
 * Receiving scans this label instead of typing MPN, lot, date code and quantity, so the
 * parser never guesses: anything it does not understand is refused with a stable code
 * and a sentence that names the data identifier (DI) at fault.
 *
 * Accepted envelopes (RS = 0x1E, GS = 0x1D, EOT = 0x04):
 * - standard: `[)>` RS `06` GS field GS field … RS EOT
 * - legacy:   `>[)>06` GS field … (also `>[)>` RS `06` GS …)
 * - the trailer may be RS EOT, RS alone, EOT alone or missing (scanners often drop it);
 * - trailing CR/LF (keyboard-wedge "Enter" suffix) and a leading AIM symbology
 *   identifier such as `]d1` or `]Q1` are ignored;
 * - empty fields (GS GS) carry nothing and are skipped.
 *
 * Visible substitutes for the control characters, for keyboard-wedge scanners configured
 * to transmit them (see {@link SEPARATOR_NOTATIONS}). The notation is recognised from the
 * header only, one notation per message, and only when the message holds no real control
 * characters, so data that happens to contain e.g. `<GS>` in a raw message stays data.
 *
 * Refused: any other format (05 = GS1, 12, …), a second format envelope, control
 * characters inside a field, a field that does not start with a DI, a DI repeated with a
 * different value, malformed values of the interpreted DIs, and labels without `1P` (MPN)
 * or `Q` (quantity), which receiving needs.
 */

const GS = '\x1d';
const RS = '\x1e';
const EOT = '\x04';

export type LabelErrorCode =
  | 'LABEL_NOT_15434'
  | 'LABEL_FORMAT_UNSUPPORTED'
  | 'LABEL_FIELD_INVALID'
  | 'LABEL_FIELD_MISSING'
  | 'LABEL_DUPLICATE_FIELD';

export type SeparatorNotation = 'control' | 'braces' | 'angle' | 'control-pictures' | 'caret';

/** Visible substitutes a scanner may send instead of GS / RS / EOT. Exact, upper-case spellings only. */
export const SEPARATOR_NOTATIONS: ReadonlyArray<{
  notation: Exclude<SeparatorNotation, 'control'>;
  GS: string;
  RS: string;
  EOT: string;
}> = [
  { notation: 'braces', GS: '{GS}', RS: '{RS}', EOT: '{EOT}' },
  { notation: 'angle', GS: '<GS>', RS: '<RS>', EOT: '<EOT>' },
  // Unicode "Control Pictures" block: U+241D, U+241E, U+2404.
  { notation: 'control-pictures', GS: '\u241d', RS: '\u241e', EOT: '\u2404' },
  // Caret notation: GS = Ctrl+], RS = Ctrl+^, EOT = Ctrl+D.
  { notation: 'caret', GS: '^]', RS: '^^', EOT: '^D' },
];

export interface DateCode {
  /** As printed, YYWW. */
  raw: string;
  /** 2000 + YY. */
  year: number;
  /** 1–53. */
  week: number;
}

export interface ReelLabel {
  /** 1P: manufacturer part number. */
  mpn: string;
  /** P: customer part number (distributors often put their own part number here). */
  customerPartNumber: string | null;
  /** 30P: supplier part number. */
  supplierPartNumber: string | null;
  /** Q: quantity, a positive integer. */
  quantity: number;
  /** 9D or 10D: date code YYWW. */
  dateCode: DateCode | null;
  /** 1T: lot code. */
  lotCode: string | null;
  /** 1V: manufacturer. */
  manufacturer: string | null;
  /** 4L: country of origin, ISO 3166-1 alpha-2. */
  countryOfOrigin: string | null;
  /** K: customer purchase order number. */
  purchaseOrder: string | null;
  /**
   * 1K: supplier (e.g. distributor sales) order number. Kept apart from K because both
   * appear on the same label with different values (e.g. Digi-Key).
   */
  supplierOrder: string | null;
  /** 4K or 14K: purchase order line. */
  poLine: string | null;
  /** 11K: packing list number. */
  packingList: string | null;
  /** 6D: ship date as ISO `YYYY-MM-DD`. */
  shipDate: string | null;
  /** 3S or S: package serial / package ID. */
  packageSerial: string | null;
  /** Every other DI, verbatim (after trimming spaces), keyed by DI. */
  other: Record<string, string>;
  /** How the message was framed, for diagnostics. */
  envelope: {
    notation: SeparatorNotation;
    legacyHeader: boolean;
    trailer: 'RS EOT' | 'RS' | 'EOT' | 'none';
  };
}

export type ParseResult =
  | { ok: true; label: ReelLabel }
  | { ok: false; code: LabelErrorCode; field?: string; message: string };

type KnownField =
  | 'mpn'
  | 'customerPartNumber'
  | 'supplierPartNumber'
  | 'quantity'
  | 'dateCode'
  | 'lotCode'
  | 'manufacturer'
  | 'countryOfOrigin'
  | 'purchaseOrder'
  | 'supplierOrder'
  | 'poLine'
  | 'packingList'
  | 'shipDate'
  | 'packageSerial';

/** The data identifiers this parser interprets, with the label field each one fills. */
export const KNOWN_DATA_IDENTIFIERS: Readonly<Record<string, { field: KnownField; name: string }>> = {
  P: { field: 'customerPartNumber', name: 'customer part number' },
  '1P': { field: 'mpn', name: 'manufacturer part number' },
  '30P': { field: 'supplierPartNumber', name: 'supplier part number' },
  Q: { field: 'quantity', name: 'quantity' },
  '9D': { field: 'dateCode', name: 'date code (YYWW)' },
  '10D': { field: 'dateCode', name: 'date code (YYWW)' },
  '1T': { field: 'lotCode', name: 'lot code' },
  '4L': { field: 'countryOfOrigin', name: 'country of origin' },
  '1V': { field: 'manufacturer', name: 'manufacturer' },
  K: { field: 'purchaseOrder', name: 'purchase order' },
  '1K': { field: 'supplierOrder', name: 'supplier order number' },
  '4K': { field: 'poLine', name: 'purchase order line' },
  '14K': { field: 'poLine', name: 'purchase order line' },
  '11K': { field: 'packingList', name: 'packing list number' },
  '6D': { field: 'shipDate', name: 'ship date (YYYYMMDD)' },
  '3S': { field: 'packageSerial', name: 'package serial' },
  S: { field: 'packageSerial', name: 'package serial' },
};

const FORMAT_NAMES: Readonly<Record<string, string>> = {
  '01': 'transportation',
  '02': 'complete EDI message',
  '03': 'ANSI X12 EDI',
  '04': 'UN/EDIFACT',
  '05': 'GS1 application identifiers',
  '07': 'free-form text',
  '12': 'text element identifiers',
};

/** Largest quantity accepted: fits a 32-bit signed integer column; no reel holds more. */
export const MAX_QUANTITY = 2_147_483_647;

type Failure = Extract<ParseResult, { ok: false }>;

function fail(code: LabelErrorCode, message: string, field?: string): Failure {
  return field === undefined ? { ok: false, code, message } : { ok: false, code, field, message };
}

function diLabel(di: string): string {
  const known = KNOWN_DATA_IDENTIFIERS[di];
  return known ? `${di} (${known.name})` : di;
}

function preview(s: string): string {
  const shown = s.length > 24 ? `${s.slice(0, 24)}…` : s;
  return JSON.stringify(shown);
}

function replaceNotation(s: string, n: (typeof SEPARATOR_NOTATIONS)[number]): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    if (s.startsWith(n.GS, i)) {
      out += GS;
      i += n.GS.length;
    } else if (s.startsWith(n.RS, i)) {
      out += RS;
      i += n.RS.length;
    } else if (s.startsWith(n.EOT, i)) {
      out += EOT;
      i += n.EOT.length;
    } else {
      out += s[i];
      i += 1;
    }
  }
  return out;
}

// C0 controls, DEL and C1 controls never belong inside a field value.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\x00-\x1f\x7f-\x9f]/;
const DATA_IDENTIFIER = /^(\d{0,3}[A-Z])/;

function validShipDate(v: string): string | null {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(v);
  if (!m) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12 || day < 1) return null;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > daysInMonth) return null;
  return `${m[1]}-${m[2]}-${m[3]}`;
}

/**
 * Parses the decoded content of an EIGP 114 / ISO/IEC 15434 format 06 reel label.
 * Returns the label fields, or a refusal with a stable code naming the faulty DI, so a
 * receiving screen can show the operator exactly what is wrong with the label.
 */
export function parseEigp114(input: string): ParseResult {
  if (typeof input !== 'string' || input.length === 0) {
    return fail('LABEL_NOT_15434', 'The scan is empty');
  }
  // Keyboard-wedge scanners usually end the scan with Enter.
  let s = input.replace(/[\r\n]+$/, '');
  // Optional AIM symbology identifier, e.g. ]d1 (Data Matrix) or ]Q1 (QR).
  const aim = /^\][A-Za-z][0-9A-Za-z](?=>?\[\)>)/.exec(s);
  if (aim) s = s.slice(aim[0].length);

  if (!s.startsWith('[)>') && !s.startsWith('>[)>')) {
    return fail('LABEL_NOT_15434', `The scan ${preview(s)} does not start with the ISO/IEC 15434 header "[)>": not an EIGP 114 reel label`);
  }

  let notation: SeparatorNotation = 'control';
  if (!s.includes(GS) && !s.includes(RS) && !s.includes(EOT)) {
    const found = SEPARATOR_NOTATIONS.find(
      (n) => s.startsWith(`[)>${n.RS}`) || s.startsWith(`>[)>${n.RS}`) || s.startsWith(`>[)>06${n.GS}`),
    );
    if (!found) {
      return fail(
        'LABEL_NOT_15434',
        'The header "[)>" is not followed by a record separator (RS, 0x1E) or a recognised visible substitute ' +
          `(${SEPARATOR_NOTATIONS.map((n) => n.RS).join(' ')}); check that the scanner transmits control characters`,
      );
    }
    notation = found.notation;
    s = replaceNotation(s, found);
  }

  let rest: string;
  let legacyHeader = false;
  if (s.startsWith(`[)>${RS}`)) {
    rest = s.slice(4);
  } else if (s.startsWith('>[)>')) {
    legacyHeader = true;
    rest = s.slice(4);
    if (rest.startsWith(RS)) rest = rest.slice(1);
  } else {
    return fail('LABEL_NOT_15434', 'The header "[)>" must be followed by the record separator RS (0x1E)');
  }

  const format = rest.slice(0, 2);
  if (format !== '06') {
    if (/^[0-9A-Z]{2}$/.test(format)) {
      const name = FORMAT_NAMES[format];
      return fail(
        'LABEL_FORMAT_UNSUPPORTED',
        `The label uses ISO/IEC 15434 format ${format}${name ? ` (${name})` : ''}; only format 06 (ANSI MH10.8.2 data identifiers, EIGP 114) is supported`,
      );
    }
    return fail('LABEL_NOT_15434', `The header "[)>" must be followed by a two-character format indicator, found ${preview(format)}`);
  }
  if (rest[2] !== GS) {
    return fail('LABEL_NOT_15434', 'The format indicator 06 must be followed by the group separator GS (0x1D)');
  }
  let body = rest.slice(3);

  let trailer: ReelLabel['envelope']['trailer'] = 'none';
  if (body.endsWith(RS + EOT)) {
    trailer = 'RS EOT';
    body = body.slice(0, -2);
  } else if (body.endsWith(EOT)) {
    trailer = 'EOT';
    body = body.slice(0, -1);
  } else if (body.endsWith(RS)) {
    trailer = 'RS';
    body = body.slice(0, -1);
  }
  const rsAt = body.indexOf(RS);
  if (rsAt >= 0) {
    if (/^\d{2}\x1d/.test(body.slice(rsAt + 1))) {
      return fail('LABEL_FORMAT_UNSUPPORTED', 'The label holds more than one ISO/IEC 15434 format envelope; only a single format 06 envelope is supported');
    }
    return fail('LABEL_NOT_15434', 'A record separator (RS, 0x1E) appears inside the data; the message is malformed');
  }
  if (body.includes(EOT)) {
    return fail('LABEL_NOT_15434', 'An end-of-transmission (EOT, 0x04) appears before the end of the message');
  }

  // --- fields ---
  const values = new Map<string, string>(); // DI → trimmed value
  const seenOrder: string[] = [];
  const rawFields = body.split(GS);
  for (let i = 0; i < rawFields.length; i++) {
    const field = rawFields[i]!;
    if (field === '') continue;
    const m = DATA_IDENTIFIER.exec(field);
    if (!m) {
      return fail(
        'LABEL_FIELD_INVALID',
        `Field ${i + 1} ${preview(field)} does not start with a data identifier (up to three digits and one upper-case letter)`,
      );
    }
    const di = m[1]!;
    const raw = field.slice(di.length);
    if (CONTROL_CHARS.test(raw)) {
      return fail('LABEL_FIELD_INVALID', `Field ${diLabel(di)} contains a control character`, di);
    }
    const value = raw.replace(/^ +| +$/g, '');
    const previous = values.get(di);
    if (previous !== undefined) {
      if (previous !== value) {
        return fail(
          'LABEL_DUPLICATE_FIELD',
          `Data identifier ${diLabel(di)} appears twice with different values ${preview(previous)} and ${preview(value)}`,
          di,
        );
      }
      continue;
    }
    values.set(di, value);
    seenOrder.push(di);
  }

  // Synonyms (9D/10D, 4K/14K, 3S/S) must agree.
  const byField = new Map<KnownField, { di: string; value: string }>();
  const other: Record<string, string> = {};
  for (const di of seenOrder) {
    const value = values.get(di)!;
    const known = KNOWN_DATA_IDENTIFIERS[di];
    if (!known) {
      other[di] = value;
      continue;
    }
    const already = byField.get(known.field);
    if (already && value === '') continue; // an empty synonym adds nothing
    if (already && already.value !== '') {
      if (already.value !== value) {
        return fail(
          'LABEL_DUPLICATE_FIELD',
          `Data identifiers ${already.di} and ${di} both give the ${known.name}, with different values ${preview(already.value)} and ${preview(value)}`,
          di,
        );
      }
      continue;
    }
    byField.set(known.field, { di, value });
  }

  const text = (f: KnownField): string | null => {
    const v = byField.get(f)?.value;
    return v === undefined || v === '' ? null : v;
  };

  // --- value checks, in label order ---
  let quantity: number | null = null;
  let dateCode: DateCode | null = null;
  let countryOfOrigin: string | null = null;
  let shipDate: string | null = null;
  for (const [f, { di, value }] of byField) {
    if (value === '') continue; // empty = absent; required ones are reported below
    switch (f) {
      case 'quantity': {
        if (!/^\d+$/.test(value)) {
          return fail('LABEL_FIELD_INVALID', `Field ${diLabel(di)} must be a whole number of pieces, got ${preview(value)}`, di);
        }
        const n = Number(value);
        if (n <= 0) return fail('LABEL_FIELD_INVALID', `Field ${diLabel(di)} must be greater than zero, got ${preview(value)}`, di);
        if (n > MAX_QUANTITY) {
          return fail('LABEL_FIELD_INVALID', `Field ${diLabel(di)} is implausibly large: ${preview(value)}`, di);
        }
        quantity = n;
        break;
      }
      case 'dateCode': {
        const m = /^(\d{2})(\d{2})$/.exec(value);
        if (!m) return fail('LABEL_FIELD_INVALID', `Field ${diLabel(di)} must be four digits YYWW, got ${preview(value)}`, di);
        const week = Number(m[2]);
        if (week < 1 || week > 53) {
          return fail('LABEL_FIELD_INVALID', `Field ${diLabel(di)} has week ${m[2]}; a week must be 01–53`, di);
        }
        dateCode = { raw: value, year: 2000 + Number(m[1]), week };
        break;
      }
      case 'countryOfOrigin':
        if (!/^[A-Z]{2}$/.test(value)) {
          return fail('LABEL_FIELD_INVALID', `Field ${diLabel(di)} must be a two-letter ISO 3166 country code, got ${preview(value)}`, di);
        }
        countryOfOrigin = value;
        break;
      case 'shipDate': {
        const iso = validShipDate(value);
        if (!iso) return fail('LABEL_FIELD_INVALID', `Field ${diLabel(di)} must be a valid date YYYYMMDD, got ${preview(value)}`, di);
        shipDate = iso;
        break;
      }
      default:
        break;
    }
  }

  const mpn = text('mpn');
  if (mpn === null) {
    const present = byField.has('mpn');
    return fail(
      'LABEL_FIELD_MISSING',
      present
        ? 'Field 1P (manufacturer part number) is empty; receiving needs the MPN'
        : 'The label has no 1P (manufacturer part number); receiving needs the MPN',
      '1P',
    );
  }
  if (quantity === null) {
    const present = byField.has('quantity');
    return fail(
      'LABEL_FIELD_MISSING',
      present ? 'Field Q (quantity) is empty; receiving needs the quantity' : 'The label has no Q (quantity); receiving needs the quantity',
      'Q',
    );
  }

  return {
    ok: true,
    label: {
      mpn,
      customerPartNumber: text('customerPartNumber'),
      supplierPartNumber: text('supplierPartNumber'),
      quantity,
      dateCode,
      lotCode: text('lotCode'),
      manufacturer: text('manufacturer'),
      countryOfOrigin,
      purchaseOrder: text('purchaseOrder'),
      supplierOrder: text('supplierOrder'),
      poLine: text('poLine'),
      packingList: text('packingList'),
      shipDate,
      packageSerial: text('packageSerial'),
      other,
      envelope: { notation, legacyHeader, trailer },
    },
  };
}
