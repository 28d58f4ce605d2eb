import { gzipSync } from 'node:zlib';
import { describe, it, expect } from 'vitest';
import {
  CfxDecodeError,
  decodeCfxEnvelope,
  decodeCfxPayload,
  encodeCfxEnvelope,
  encodeCfxPayload,
  makeNotSupportedResponse,
  makeResponse,
  normalizeCfxBody,
  parseCfxDateTime,
  parseResourceState,
  parseTimeSpan,
} from './codec.ts';
import type { CfxDecodeCode } from './codec.ts';

const ID = '6f1b3f4e-2b1a-4d1e-9c57-1f0c4a0b9e11';

function envelope(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    MessageName: 'CFX.Production.UnitsDeparted',
    Version: '2.1',
    TimeStamp: '2018-10-31T15:13:31.0552292-04:00',
    UniqueID: ID,
    Source: 'SMTPlus.Model_21232.SN23123',
    Target: null,
    RequestID: null,
    MessageBody: {
      $type: 'CFX.Production.UnitsDeparted, CFX',
      PrimaryIdentifier: 'PANEL1',
      Units: [{ UnitIdentifier: 'PANEL1', PositionNumber: 1 }],
    },
    ...overrides,
  };
}

/** Runs fn and returns the CfxDecodeError it throws (fails the test otherwise). */
function decodeError(fn: () => unknown): CfxDecodeError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CfxDecodeError);
    return err as CfxDecodeError;
  }
  throw new Error('expected a CfxDecodeError');
}

function expectCode(fn: () => unknown, code: CfxDecodeCode, field?: string): CfxDecodeError {
  const err = decodeError(fn);
  expect(err.code).toBe(code);
  if (field !== undefined) expect(err.field).toBe(field);
  return err;
}

describe('decodeCfxPayload: payload forms', () => {
  it('decodes a single envelope from a string', () => {
    const res = decodeCfxPayload(JSON.stringify(envelope()));
    expect(res.batch).toBe(false);
    expect(res.rejected).toEqual([]);
    expect(res.envelopes).toHaveLength(1);
    const env = res.envelopes[0]!;
    expect(env.messageName).toBe('CFX.Production.UnitsDeparted');
    expect(env.messageNameFromType).toBe(false);
    expect(env.version).toBe('2.1');
    expect(env.uniqueId).toBe(ID);
    expect(env.source).toBe('SMTPlus.Model_21232.SN23123');
    expect(env.target).toBeNull();
    expect(env.requestId).toBeNull();
    expect(env.bodyType).toBe('CFX.Production.UnitsDeparted');
    expect(env.body).toEqual({ PrimaryIdentifier: 'PANEL1', Units: [{ UnitIdentifier: 'PANEL1', PositionNumber: 1 }] });
  });

  it('decodes UTF-8 bytes, with or without a BOM, and non-ASCII text', () => {
    const json = JSON.stringify(envelope({ Source: 'Fábrica.Línea_1.SN1' }));
    expect(decodeCfxPayload(Buffer.from(json, 'utf8')).envelopes[0]!.source).toBe('Fábrica.Línea_1.SN1');
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json, 'utf8')]);
    expect(decodeCfxPayload(withBom).envelopes[0]!.uniqueId).toBe(ID);
    expect(decodeCfxPayload(new Uint8Array(Buffer.from(json))).envelopes).toHaveLength(1);
  });

  it('gunzips with content-encoding gzip (any case) and by magic bytes without it', () => {
    const gz = gzipSync(Buffer.from(JSON.stringify(envelope())));
    expect(decodeCfxPayload(gz, 'gzip').envelopes[0]!.uniqueId).toBe(ID);
    expect(decodeCfxPayload(gz, 'GZIP').envelopes[0]!.uniqueId).toBe(ID);
    expect(decodeCfxPayload(gz).envelopes[0]!.uniqueId).toBe(ID);
    expect(decodeCfxPayload(gz, 'identity').envelopes[0]!.uniqueId).toBe(ID);
  });

  it('refuses broken gzip with CFX_GZIP', () => {
    const gz = gzipSync(Buffer.from(JSON.stringify(envelope())));
    expectCode(() => decodeCfxPayload(gz.subarray(0, gz.length - 12), 'gzip'), 'CFX_GZIP');
    expectCode(() => decodeCfxPayload(Buffer.from(JSON.stringify(envelope())), 'gzip'), 'CFX_GZIP');
  });

  it('refuses unknown content encodings and oversized payloads', () => {
    expectCode(() => decodeCfxPayload(Buffer.from('{}'), 'br'), 'CFX_UNSUPPORTED_ENCODING');
    const big = gzipSync(Buffer.from(JSON.stringify(envelope({ Source: 'x'.repeat(10_000) }))));
    expectCode(() => decodeCfxPayload(big, 'gzip', { maxDecodedBytes: 1000 }), 'CFX_TOO_LARGE');
    expectCode(() => decodeCfxPayload(Buffer.from(JSON.stringify(envelope())), undefined, { maxDecodedBytes: 10 }), 'CFX_TOO_LARGE');
  });

  it('refuses invalid UTF-8, empty payloads, non-JSON and JSON scalars', () => {
    expectCode(() => decodeCfxPayload(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), 'CFX_BAD_UTF8');
    expectCode(() => decodeCfxPayload(''), 'CFX_EMPTY');
    expectCode(() => decodeCfxPayload(Buffer.alloc(0)), 'CFX_EMPTY');
    expectCode(() => decodeCfxPayload('{"MessageName": '), 'CFX_NOT_JSON');
    expectCode(() => decodeCfxPayload('<xml/>'), 'CFX_NOT_JSON');
    expectCode(() => decodeCfxPayload('42'), 'CFX_BAD_PAYLOAD');
    expectCode(() => decodeCfxPayload('"text"'), 'CFX_BAD_PAYLOAD');
  });

  it('decodes an array and reports a bad element by index without losing the others', () => {
    const bad = envelope({ MessageName: 'CFX.Production.UnitsArrived', MessageBody: { PrimaryIdentifier: 'P1' } });
    delete bad['UniqueID'];
    const payload = [envelope({ UniqueID: 'a' }), bad, envelope({ UniqueID: 'c' }), 17];
    const res = decodeCfxPayload(JSON.stringify(payload));
    expect(res.batch).toBe(true);
    expect(res.envelopes.map((e) => e.uniqueId)).toEqual(['a', 'c']);
    expect(res.rejected).toHaveLength(2);
    const [first, second] = res.rejected;
    expect(first).toMatchObject({ index: 1, code: 'CFX_BAD_ENVELOPE', field: 'UniqueID', uniqueId: null, messageName: 'CFX.Production.UnitsArrived' });
    expect(first!.message).toMatch(/^UniqueID: required non-empty string/);
    expect(first!.raw).toEqual(JSON.parse(JSON.stringify(bad)));
    expect(second).toMatchObject({ index: 3, code: 'CFX_BAD_ENVELOPE', field: '', raw: 17 });
  });

  it('accepts an empty array as an empty batch', () => {
    expect(decodeCfxPayload('[]')).toEqual({ envelopes: [], rejected: [], batch: true });
  });

  it('accepts a gzipped array of envelopes', () => {
    const gz = gzipSync(Buffer.from(JSON.stringify([envelope({ UniqueID: '1' }), envelope({ UniqueID: '2' })])));
    expect(decodeCfxPayload(gz, 'gzip').envelopes.map((e) => e.uniqueId)).toEqual(['1', '2']);
  });
});

describe('decodeCfxEnvelope: required fields', () => {
  it('refuses a single envelope without UniqueID, or with an empty or non-string one', () => {
    const noId = envelope();
    delete noId['UniqueID'];
    const err = expectCode(() => decodeCfxPayload(JSON.stringify(noId)), 'CFX_BAD_ENVELOPE', 'UniqueID');
    expect(err.message).toBe('UniqueID: required non-empty string, got nothing');
    expectCode(() => decodeCfxEnvelope(envelope({ UniqueID: '  ' })), 'CFX_BAD_ENVELOPE', 'UniqueID');
    expectCode(() => decodeCfxEnvelope(envelope({ UniqueID: 12 })), 'CFX_BAD_ENVELOPE', 'UniqueID');
  });

  it('refuses a missing, null, array or scalar MessageBody', () => {
    const noBody = envelope();
    delete noBody['MessageBody'];
    expectCode(() => decodeCfxEnvelope(noBody), 'CFX_BAD_ENVELOPE', 'MessageBody');
    expectCode(() => decodeCfxEnvelope(envelope({ MessageBody: null })), 'CFX_BAD_ENVELOPE', 'MessageBody');
    expectCode(() => decodeCfxEnvelope(envelope({ MessageBody: [] })), 'CFX_BAD_ENVELOPE', 'MessageBody');
    expectCode(() => decodeCfxEnvelope(envelope({ MessageBody: '{}' })), 'CFX_BAD_ENVELOPE', 'MessageBody');
    expectCode(() => decodeCfxEnvelope('not an object'), 'CFX_BAD_ENVELOPE', '');
  });

  it('accepts an empty body object (e.g. StationOffline)', () => {
    const env = decodeCfxEnvelope(envelope({ MessageName: 'CFX.ResourcePerformance.StationOffline', MessageBody: {} }));
    expect(env.body).toEqual({});
    expect(env.bodyType).toBeNull();
  });

  it('refuses bad optional envelope fields by name, and accepts a numeric Version', () => {
    expectCode(() => decodeCfxEnvelope(envelope({ Source: 5 })), 'CFX_BAD_ENVELOPE', 'Source');
    expectCode(() => decodeCfxEnvelope(envelope({ Target: {} })), 'CFX_BAD_ENVELOPE', 'Target');
    expectCode(() => decodeCfxEnvelope(envelope({ RequestID: true })), 'CFX_BAD_ENVELOPE', 'RequestID');
    expect(decodeCfxEnvelope(envelope({ Version: 2.1 })).version).toBe('2.1');
    expect(decodeCfxEnvelope(envelope({ Version: undefined })).version).toBeNull();
  });

  it('matches envelope keys case-insensitively, like Newtonsoft', () => {
    const env = decodeCfxEnvelope({
      messageName: 'CFX.Heartbeat',
      uniqueId: 'abc',
      timestamp: '2024-03-01T10:00:00Z',
      requestId: 'r1',
      messagebody: { CFXHandle: 'A.B.C' },
    });
    expect(env).toMatchObject({ messageName: 'CFX.Heartbeat', uniqueId: 'abc', requestId: 'r1', body: { CFXHandle: 'A.B.C' } });
    expect(env.timeStamp.toISOString()).toBe('2024-03-01T10:00:00.000Z');
  });
});

describe('decodeCfxEnvelope: MessageName and $type', () => {
  it('accepts MessageName without a body $type', () => {
    const env = decodeCfxEnvelope(envelope({ MessageBody: { PrimaryIdentifier: 'P' } }));
    expect(env.messageName).toBe('CFX.Production.UnitsDeparted');
    expect(env.bodyType).toBeNull();
    expect(env.body).toEqual({ PrimaryIdentifier: 'P' });
  });

  it('derives MessageName from the body $type when MessageName is absent, null or empty', () => {
    for (const name of [undefined, null, '']) {
      const env = decodeCfxEnvelope(envelope({ MessageName: name }));
      expect(env.messageName).toBe('CFX.Production.UnitsDeparted');
      expect(env.messageNameFromType).toBe(true);
    }
  });

  it('refuses an envelope with neither MessageName nor $type', () => {
    const err = expectCode(
      () => decodeCfxEnvelope(envelope({ MessageName: undefined, MessageBody: { Units: [] } })),
      'CFX_BAD_ENVELOPE',
      'MessageName',
    );
    expect(err.message).toMatch(/no \$type/);
    expectCode(() => decodeCfxEnvelope(envelope({ MessageName: 7 })), 'CFX_BAD_ENVELOPE', 'MessageName');
    expectCode(() => decodeCfxEnvelope(envelope({ MessageName: 'not a name', MessageBody: {} })), 'CFX_BAD_ENVELOPE', 'MessageName');
  });

  it('refuses a MessageName that contradicts the body $type', () => {
    expectCode(() => decodeCfxEnvelope(envelope({ MessageName: 'CFX.Production.UnitsArrived' })), 'CFX_NAME_MISMATCH', 'MessageName');
  });

  it('strips an assembly-qualified suffix from MessageName and $type', () => {
    const env = decodeCfxEnvelope(
      envelope({
        MessageName: 'CFX.Production.UnitsDeparted, CFX',
        MessageBody: { $type: 'CFX.Production.UnitsDeparted, CFX, Version=2.1.1.0, Culture=neutral, PublicKeyToken=null' },
      }),
    );
    expect(env.messageName).toBe('CFX.Production.UnitsDeparted');
    expect(env.bodyType).toBe('CFX.Production.UnitsDeparted');
  });

  it('refuses a non-string $type', () => {
    expectCode(() => decodeCfxEnvelope(envelope({ MessageBody: { $type: 5 } })), 'CFX_BAD_ENVELOPE', 'MessageBody.$type');
  });

  it('strips $type recursively, keeps sub-object types as kind, and does not modify its input', () => {
    const body = {
      $type: 'CFX.Production.TestAndInspection.UnitsTested, CFX',
      TestedUnits: [
        {
          Tests: [
            {
              Measurements: [
                { $type: 'CFX.Structures.NumericMeasurement, CFX', MeasuredValue: { Value: 1 } },
                { MeasurementName: 'untyped' },
              ],
            },
          ],
        },
      ],
    };
    const copy = structuredClone(body);
    const env = decodeCfxEnvelope(envelope({ MessageName: undefined, MessageBody: body }));
    expect(env.messageName).toBe('CFX.Production.TestAndInspection.UnitsTested');
    expect(env.body).toEqual({
      TestedUnits: [
        { Tests: [{ Measurements: [{ kind: 'CFX.Structures.NumericMeasurement', MeasuredValue: { Value: 1 } }, { MeasurementName: 'untyped' }] }] },
      ],
    });
    expect(JSON.stringify(env.body)).not.toContain('$type');
    expect(body).toEqual(copy);
  });

  it('unwraps Newtonsoft {$type, $values} collection wrappers', () => {
    expect(
      normalizeCfxBody({
        Units: { $type: 'System.Collections.Generic.List`1[[CFX.Structures.UnitPosition, CFX]], mscorlib', $values: [{ UnitIdentifier: 'U1' }] },
      }),
    ).toEqual({ Units: [{ UnitIdentifier: 'U1' }] });
  });

  it('keeps a __proto__ key as data and does not pollute prototypes', () => {
    const env = decodeCfxPayload('{"MessageName":"CFX.X","UniqueID":"1","MessageBody":{"__proto__":{"polluted":true},"A":1}}').envelopes[0]!;
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.getPrototypeOf(env.body)).toBe(Object.prototype);
    expect(Object.keys(env.body)).toEqual(['__proto__', 'A']);
  });

  it('refuses absurdly deep bodies with an error instead of crashing', () => {
    const deep = '{"MessageName":"CFX.X","UniqueID":"1","MessageBody":' + '{"a":'.repeat(500) + '1' + '}'.repeat(500) + '}';
    expectCode(() => decodeCfxPayload(deep), 'CFX_BAD_ENVELOPE', 'MessageBody');
  });
});

describe('decodeCfxEnvelope: TimeStamp', () => {
  it('parses .NET timestamps with 7 fractional digits and an offset', () => {
    const env = decodeCfxEnvelope(envelope());
    expect(env.timeStamp.toISOString()).toBe('2018-10-31T19:13:31.055Z');
    expect(env.timeStampSource).toBe('envelope');
    expect(env.rawTimeStamp).toBe('2018-10-31T15:13:31.0552292-04:00');
  });

  it('uses the receive time, flagged, when TimeStamp is missing', () => {
    const receivedAt = new Date('2024-05-05T05:05:05.000Z');
    for (const ts of [undefined, null, '']) {
      const env = decodeCfxEnvelope(envelope({ TimeStamp: ts }), { receivedAt });
      expect(env.timeStamp).toEqual(receivedAt);
      expect(env.timeStampSource).toBe('receive');
      expect(env.rawTimeStamp).toBeNull();
    }
    const before = Date.now();
    const env = decodeCfxEnvelope(envelope({ TimeStamp: undefined }));
    expect(env.timeStamp.getTime()).toBeGreaterThanOrEqual(before);
  });

  it('reads zoneless timestamps as UTC by default, or at the configured offset, and flags them', () => {
    const env = decodeCfxEnvelope(envelope({ TimeStamp: '2018-10-31T15:13:31.0552292' }));
    expect(env.timeStampSource).toBe('envelope-no-zone');
    expect(env.timeStamp.toISOString()).toBe('2018-10-31T15:13:31.055Z');
    const cet = decodeCfxEnvelope(envelope({ TimeStamp: '2018-10-31T15:13:31' }), { zonelessOffsetMinutes: 60 });
    expect(cet.timeStamp.toISOString()).toBe('2018-10-31T14:13:31.000Z');
  });

  it('refuses malformed or impossible timestamps, naming TimeStamp', () => {
    for (const ts of ['yesterday', '2018-02-30T00:00:00Z', '2018-10-31T25:00:00Z', 1540998811, '2018-10-31T15:13:31+25:00']) {
      expectCode(() => decodeCfxEnvelope(envelope({ TimeStamp: ts })), 'CFX_BAD_ENVELOPE', 'TimeStamp');
    }
  });
});

describe('parseCfxDateTime', () => {
  it('handles Z, ±hh:mm, ±hhmm, fractions of any length and early years', () => {
    expect(parseCfxDateTime('2021-06-23T15:39:23.0062167-04:00').toISOString()).toBe('2021-06-23T19:39:23.006Z');
    expect(parseCfxDateTime('2021-06-23T15:39:23Z').toISOString()).toBe('2021-06-23T15:39:23.000Z');
    expect(parseCfxDateTime('2021-06-23T15:39:23.5+0530').toISOString()).toBe('2021-06-23T10:09:23.500Z');
    expect(parseCfxDateTime('2018-10-31T09:30:27.05191-04:00').toISOString()).toBe('2018-10-31T13:30:27.051Z');
    expect(parseCfxDateTime('0001-01-01T00:00:00').toISOString()).toBe('0001-01-01T00:00:00.000Z');
    expect(parseCfxDateTime('2024-02-29T00:00:00Z').getUTCDate()).toBe(29);
    expect(parseCfxDateTime('2016-11-05').toISOString()).toBe('2016-11-05T00:00:00.000Z');
  });

  it('throws CFX_BAD_DATETIME for bad input', () => {
    for (const s of ['', '2023-02-29T00:00:00Z', '2023-13-01T00:00:00Z', '2023-01-01T00:60:00Z', '2023-01-01T00:00:00+1']) {
      expectCode(() => parseCfxDateTime(s), 'CFX_BAD_DATETIME');
    }
  });
});

describe('parseTimeSpan', () => {
  it.each([
    ['00:01:25', 85_000],
    ['6.00:00:00', 518_400_000],
    ['00:00:00.5000000', 500],
    ['-00:00:01', -1_000],
    ['00:01:44.2000000', 104_200],
    ['1.02:03:04.0050000', 93_784_005],
    ['00:00:00.0000001', 0.0001],
    ['00:00:00', 0],
    ['23:59', 86_340_000],
    ['-1.00:00:00', -86_400_000],
    ['6', 518_400_000],
    ['PT1M25S', 85_000],
    ['P1DT2H', 93_600_000],
    ['PT0.5S', 500],
  ])('%s → %d ms', (input, ms) => {
    expect(parseTimeSpan(input)).toBeCloseTo(ms, 6);
  });

  it.each(['', 'abc', '25:00:00', '00:60:00', '00:00:60', '1.2.3', '00:00:00.12345678', 'P', 'PT', '1:2:3:4'])(
    'refuses %j with CFX_BAD_TIMESPAN',
    (input) => {
      expectCode(() => parseTimeSpan(input), 'CFX_BAD_TIMESPAN');
    },
  );

  it('refuses non-strings', () => {
    expectCode(() => parseTimeSpan(85 as unknown as string), 'CFX_BAD_TIMESPAN');
  });
});

describe('parseResourceState', () => {
  it('accepts string and number codes', () => {
    expect(parseResourceState('1100')).toEqual({ code: 1100, e10: 'Productive' });
    expect(parseResourceState(1100)).toEqual({ code: 1100, e10: 'Productive' });
    expect(parseResourceState(' 2202 ')).toEqual({ code: 2202, e10: 'Standby' });
    expect(parseResourceState(3000)).toEqual({ code: 3000, e10: 'Engineering' });
    expect(parseResourceState('4500')).toEqual({ code: 4500, e10: 'ScheduledDowntime' });
    expect(parseResourceState(5500)).toEqual({ code: 5500, e10: 'UnscheduledDowntime' });
    expect(parseResourceState('6000')).toEqual({ code: 6000, e10: 'NonScheduled' });
  });

  it('maps the SDK legacy codes 22A0/22B0 exactly, case-insensitively', () => {
    expect(parseResourceState('22A0')).toEqual({ code: 2201, e10: 'Standby', legacy: '22A0' });
    expect(parseResourceState('22b0')).toEqual({ code: 2202, e10: 'Standby', legacy: '22b0' });
  });

  it('maps other legacy hex-style codes to their sub-state, else their major state', () => {
    expect(parseResourceState('23C0')).toEqual({ code: 2300, e10: 'Standby', legacy: '23C0' });
    expect(parseResourceState('47F0')).toEqual({ code: 4700, e10: 'ScheduledDowntime', legacy: '47F0' });
    expect(parseResourceState('29A0')).toEqual({ code: 2000, e10: 'Standby', legacy: '29A0' });
    expect(parseResourceState('11AF')).toEqual({ code: 1100, e10: 'Productive', legacy: '11AF' });
  });

  it('accepts SDK enum names', () => {
    expect(parseResourceState('PRD_RegularWork')).toEqual({ code: 1100, e10: 'Productive' });
    expect(parseResourceState('usd_repair')).toEqual({ code: 5300, e10: 'UnscheduledDowntime' });
  });

  it.each(['7000', 7000, 1150, '1150', 0, 1100.5, '', 'ABC', '72A0', '0A00', '2A', -1100])('refuses %j', (v) => {
    expectCode(() => parseResourceState(v), 'CFX_BAD_RESOURCE_STATE');
  });
});

describe('encoding', () => {
  it('writes PascalCase envelope keys in SDK order with $type first in the body', () => {
    const json = encodeCfxEnvelope({
      messageName: 'CFX.Heartbeat',
      uniqueId: 'u1',
      timeStamp: new Date('2024-01-02T03:04:05.678Z'),
      source: 'Acme.MES.1',
      body: { CFXHandle: 'Acme.MES.1', HeartbeatFrequency: '00:01:00' },
    });
    const parsed = JSON.parse(json) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual(['MessageName', 'Version', 'TimeStamp', 'UniqueID', 'Source', 'Target', 'RequestID', 'MessageBody']);
    expect(parsed).toMatchObject({ MessageName: 'CFX.Heartbeat', Version: '2.1', TimeStamp: '2024-01-02T03:04:05.678Z', UniqueID: 'u1', Target: null });
    expect(Object.keys(parsed['MessageBody'] as object)[0]).toBe('$type');
    expect((parsed['MessageBody'] as Record<string, unknown>)['$type']).toBe('CFX.Heartbeat, CFX');
  });

  it('turns kind back into $type, or drops both without type annotations', () => {
    const body = { Fault: { kind: 'CFX.Structures.SMTPlacement.SMTPlacementFault', FaultCode: 'E1' } };
    const typed = JSON.parse(encodeCfxEnvelope({ messageName: 'CFX.ResourcePerformance.FaultOccurred', body }));
    expect(typed.MessageBody.Fault).toEqual({ $type: 'CFX.Structures.SMTPlacement.SMTPlacementFault, CFX', FaultCode: 'E1' });
    const plain = JSON.parse(encodeCfxEnvelope({ messageName: 'CFX.ResourcePerformance.FaultOccurred', body }, { typeAnnotations: false }));
    expect(plain.MessageBody).toEqual({ Fault: { FaultCode: 'E1' } });
    expect(typeof plain.UniqueID).toBe('string');
  });

  it('round-trips through decode', () => {
    const original = decodeCfxEnvelope(envelope());
    const again = decodeCfxPayload(encodeCfxEnvelope(original)).envelopes[0]!;
    expect(again.messageName).toBe(original.messageName);
    expect(again.uniqueId).toBe(original.uniqueId);
    expect(again.timeStamp).toEqual(original.timeStamp);
    expect(again.body).toEqual(original.body);
    expect(again.bodyType).toBe('CFX.Production.UnitsDeparted');
  });

  it('encodes one or many envelopes into an AMQP body, optionally gzipped', () => {
    const a = { messageName: 'CFX.Heartbeat', uniqueId: 'a', body: {} };
    const b = { messageName: 'CFX.Heartbeat', uniqueId: 'b', body: {} };
    const single = encodeCfxPayload([a]);
    expect(single.contentEncoding).toBeUndefined();
    expect(single.body.toString('utf8').startsWith('{')).toBe(true);
    const batch = encodeCfxPayload([a, b], { gzip: true });
    expect(batch.contentEncoding).toBe('gzip');
    const res = decodeCfxPayload(batch.body, batch.contentEncoding);
    expect(res.batch).toBe(true);
    expect(res.envelopes.map((e) => e.uniqueId)).toEqual(['a', 'b']);
  });
});

describe('responses', () => {
  const request = decodeCfxEnvelope({
    MessageName: 'CFX.AreYouThereRequest',
    UniqueID: 'req-1',
    TimeStamp: '2024-01-01T00:00:00Z',
    Source: 'Vendor.Line1.Printer',
    Target: 'OpenMES.Server.1',
    RequestID: 'corr-42',
    MessageBody: { CFXHandle: 'OpenMES.Server.1' },
  });

  it('makeResponse addresses the requester and copies RequestID', () => {
    const before = Date.now();
    const res = makeResponse(request, 'CFX.AreYouThereResponse', { Result: { Result: 'Success', ResultCode: 0, Message: null } }, 'OpenMES.Server.1');
    expect(res).toMatchObject({
      messageName: 'CFX.AreYouThereResponse',
      version: '2.1',
      source: 'OpenMES.Server.1',
      target: 'Vendor.Line1.Printer',
      requestId: 'corr-42',
    });
    expect(res.uniqueId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(res.uniqueId).not.toBe(request.uniqueId);
    expect((res.timeStamp as Date).getTime()).toBeGreaterThanOrEqual(before);
    const wire = JSON.parse(encodeCfxEnvelope(res));
    expect(wire.RequestID).toBe('corr-42');
    expect(wire.Target).toBe('Vendor.Line1.Printer');
    expect(wire.TimeStamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it('two responses get different UniqueIDs', () => {
    const a = makeResponse(request, 'CFX.AreYouThereResponse', {}, 'Me.Me.1');
    const b = makeResponse(request, 'CFX.AreYouThereResponse', {}, 'Me.Me.1');
    expect(a.uniqueId).not.toBe(b.uniqueId);
  });

  it('makeNotSupportedResponse answers with CFX.NotSupportedResponse', () => {
    const res = makeNotSupportedResponse({ ...request, messageName: 'CFX.Production.LockStationRequest' }, 'OpenMES.Server.1');
    expect(res.messageName).toBe('CFX.NotSupportedResponse');
    expect(res.requestId).toBe('corr-42');
    expect(res.body).toEqual({
      RequestResult: { Result: 'Failed', ResultCode: 0, Message: 'Request CFX.Production.LockStationRequest is not supported by this endpoint' },
    });
  });
});
