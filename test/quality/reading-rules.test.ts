import { describe, expect, it } from 'vitest';
import type { RuleInput } from '../../src/modules/quality/index.ts';
import { bearer, makeLine, makeQualityWorkOrder, system, testDb, testApp, tokenFor, uniq } from '../helpers.ts';
import { codes, pass, s, thrown, units, type Made } from './support.ts';

/**
 * reading_out_of_limits: equipment readings (oven zones, dry cabinets) outside their limits fire
 * a rule as they are stored — through the MQTT telemetry door and the equipment module's
 * storage function — and not on near misses (at the limit, another station, another name,
 * another piece of equipment). Each test watches its own stations, so parallel tests never meet.
 */

type ReadingRule = Omit<RuleInput, 'code' | 'name' | 'kind'>;
const rule = (input: ReadingRule) => s().quality.createRule(system, { code: uniq('RR-'), name: 'reading test', kind: 'reading_out_of_limits', ...input });

const t0 = new Date(Date.now() - 3600_000);
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);

/** Stores readings the way CFX and MQTT do (equipment.recordReadings in a transaction); returns the alerts of the rule. */
async function store(rows: { stationId: number; name: string; value: number; at?: Date; equipmentId?: number | null }[], ruleId: number) {
  await testDb().tx((tx) =>
    s().equipment.recordReadings(tx, rows.map((r, i) => ({
      at: r.at ?? at(i), stationId: r.stationId, equipmentId: r.equipmentId ?? null, unitIdentifier: null, name: r.name, value: r.value, textValue: null, unit: 'C', source: 'cfx', origin: 'test',
    }))),
  );
  return s().quality.listAlerts({ ruleId });
}

/** One MQTT telemetry message, as the broker adapter hands it over. */
async function mqtt(station: string, name: string, value: number, when: Date) {
  const [r] = await s().integrations.telemetry.ingest([
    { topic: `mes/telemetry/${station}/${name.replace('.', '/')}`, payload: Buffer.from(JSON.stringify({ station, name, value, unit: 'C', at: when.toISOString() })) },
  ]);
  expect(r).toMatchObject({ ok: true, readings: 1 });
}

describe('reading_out_of_limits: a reading outside its limits', () => {
  it('fires on the MQTT door for a value past the limit, not at the limit nor at another station or reading; holds the station and the work order', async () => {
    const m: Made = await makeQualityWorkOrder({
      route: [{ seq: 10, name: 'Print', stationType: 'printer' }, { seq: 20, name: 'Reflow', stationType: 'reflow' }, { seq: 30, name: 'AOI', stationType: 'aoi' }],
    });
    const other = await makeLine(['reflow']);
    const oven = m.stations.reflow!;
    const r = await rule({ stationId: oven.id, readingName: 'zone3.temp', params: { min: 230, max: 250 }, actions: ['alert', 'hold_station', 'hold_work_order'] });
    const [u, v] = await units(m, 2);
    await pass(m, 'printer', u!);
    const alerts = () => s().quality.listAlerts({ ruleId: r.id });

    await mqtt(oven.code, 'zone3.temp', 250, at(0)); // exactly at the limits: inside
    await mqtt(oven.code, 'zone3.temp', 230, at(1));
    await mqtt(oven.code, 'zone4.temp', 275, at(2)); // another reading name
    await mqtt(other.stations.reflow!.code, 'zone3.temp', 275, at(3)); // another station
    expect(await alerts()).toEqual([]);
    expect(await codes(m, 'reflow', u!)).toEqual([]);

    await mqtt(oven.code, 'zone3.temp', 250.5, at(4));
    const [alert] = await alerts();
    expect(alert).toMatchObject({ kind: 'reading_out_of_limits', workOrderId: m.wo.id, workOrderNumber: m.wo.number, stationId: oven.id, key: `${oven.code}:zone3.temp`, state: 'open' });
    expect(alert!.message).toContain('250.5');
    expect(alert!.evidence).toMatchObject({ station: oven.code, name: 'zone3.temp', min: 230, max: 250, readings: [{ value: 250.5, unit: 'C' }] });
    expect(alert!.actionsTaken.map((a) => (a as { action: string }).action)).toEqual(['alert', 'hold_station', 'hold_work_order']);
    // Both holds are real: the work order's units are refused, and the oven is stopped.
    expect(await codes(m, 'printer', v!)).toEqual(['HOLD_WORK_ORDER']);
    expect(await codes(m, 'reflow', u!)).toEqual(['HOLD_WORK_ORDER', 'HOLD_STATION']);
    const holds = await s().quality.listHolds({ active: true, workOrderId: m.wo.id });
    expect(holds.map((h) => [h.scope, h.source, h.alertId])).toEqual([['work_order', `rule:${r.code}`, alert!.id]]);
    expect((await s().quality.listHolds({ active: true, scope: 'station' })).filter((h) => h.stationId === oven.id)).toHaveLength(1);

    // While the alert is open the excursion does not fire again; once closed, it does.
    await mqtt(oven.code, 'zone3.temp', 229, at(5));
    expect(await alerts()).toHaveLength(1);
    await s().quality.closeAlert(system, alert!.id, 'zone 3 heater replaced');
    await mqtt(oven.code, 'zone3.temp', 229.9, at(6));
    expect((await alerts()).map((a) => a.state)).toEqual(['open', 'closed']);
  });

  it('one-sided limits; a rule on one piece of equipment ignores the others at the station; text readings are not judged', async () => {
    const line = await makeLine(['reflow', 'manual']);
    const cabinet = line.stations.manual!;
    const eqA = await s().factory.equipment.create(system, { stationId: cabinet.id, code: uniq('DC-A'), name: 'dry cabinet A' });
    const eqB = await s().factory.equipment.create(system, { stationId: cabinet.id, code: uniq('DC-B'), name: 'dry cabinet B' });
    const r = await rule({ stationId: cabinet.id, equipmentId: eqA.id, readingName: 'humidity', params: { max: 5 }, actions: ['alert', 'hold_work_order'] });
    expect(await store([{ stationId: cabinet.id, equipmentId: eqB.id, name: 'humidity', value: 40 }, { stationId: cabinet.id, equipmentId: eqA.id, name: 'humidity', value: 5 }, { stationId: cabinet.id, equipmentId: eqA.id, name: 'humidity', value: -3 }], r.id)).toEqual([]);
    await testDb().tx((tx) => s().equipment.recordReadings(tx, [{ at: at(10), stationId: cabinet.id, equipmentId: eqA.id, unitIdentifier: null, name: 'humidity', value: null, textValue: 'sensor error', unit: null, source: 'mqtt', origin: 'test' }]));
    expect(await s().quality.listAlerts({ ruleId: r.id })).toEqual([]);
    const [a] = await store([{ stationId: cabinet.id, equipmentId: eqA.id, name: 'humidity', value: 5.1, at: at(20) }], r.id);
    // No work order runs on this line: the alert stands alone and the work-order hold is skipped, saying why.
    expect(a).toMatchObject({ workOrderId: null, workOrderNumber: null, stationId: cabinet.id });
    expect(a!.actionsTaken).toEqual([{ action: 'alert', alertId: a!.id }, { action: 'hold_work_order', hold: null, skipped: 'no work order runs at the station' }]);
    // Still open with no work order: a second excursion does not add an alert.
    expect(await store([{ stationId: cabinet.id, equipmentId: eqA.id, name: 'humidity', value: 9, at: at(21) }], r.id)).toHaveLength(1);
  });
});

describe('reading_out_of_limits: the CFX door', () => {
  it('CFX ReadingsRecorded from the oven fires the rule in the message\'s transaction', async () => {
    const { stations } = await makeLine(['reflow']);
    const oven = stations.reflow!;
    const handle = `Acme.Oven.${uniq('SN')}`;
    const eq = await s().factory.equipment.create(system, { stationId: oven.id, code: uniq('OVEN'), name: 'reflow oven', cfxHandle: handle });
    const r = await rule({ stationId: oven.id, equipmentId: eq.id, readingName: 'Zone3Temp', params: { min: 235, max: 255 }, actions: ['alert', 'hold_station'] });
    const send = async (value: string) => {
      const [res] = await s().integrations.cfx.ingest([{
        transport: 'amqp',
        payload: JSON.stringify({
          MessageName: 'CFX.Production.ReadingsRecorded', Version: '2.1', TimeStamp: new Date().toISOString(), UniqueID: crypto.randomUUID(), Source: handle, Target: null, RequestID: null,
          MessageBody: { Readings: [{ ReadingIdentifier: 'Zone3Temp', ValueDataType: 'Numeric', Value: value, ValueUnits: 'C' }, { ReadingIdentifier: 'Zone4Temp', ValueDataType: 'Numeric', Value: '300', ValueUnits: 'C' }] },
        }),
      }]);
      expect(res).toMatchObject({ payloadError: null, messages: [{ outcome: 'applied' }] });
    };
    await send('255');
    expect(await s().quality.listAlerts({ ruleId: r.id })).toEqual([]);
    await send('255.4');
    const [a] = await s().quality.listAlerts({ ruleId: r.id });
    expect(a).toMatchObject({ stationId: oven.id, key: `${oven.code}:Zone3Temp`, evidence: { readings: [{ value: 255.4, unit: 'C' }] } });
    expect((await s().quality.listHolds({ active: true, scope: 'station' })).filter((h) => h.stationId === oven.id && h.alertId === a!.id)).toHaveLength(1);
  });
});

describe('reading_out_of_limits: N in a row, N within a window', () => {
  it('consecutive N: fires only when the last N readings are all outside', async () => {
    const { stations } = await makeLine(['reflow']);
    const oven = stations.reflow!;
    const r = await rule({ stationId: oven.id, readingName: 'zone1.temp', params: { min: 140, max: 160, consecutive: 3 } });
    const z = (value: number, sec: number) => ({ stationId: oven.id, name: 'zone1.temp', value, at: at(sec) });
    // out, out, in, out, out: never three in a row (the readings of another zone do not break or make a run).
    expect(await store([z(161, 0), z(162, 1), z(160, 2), z(170, 3), { stationId: oven.id, name: 'zone2.temp', value: 500, at: at(3.5) }, z(171, 4)], r.id)).toEqual([]);
    const [a] = await store([z(139, 5)], r.id);
    expect(a!.evidence).toMatchObject({ consecutive: 3, readings: [{ value: 139 }, { value: 171 }, { value: 170 }] });
    expect(a!.message).toContain('the last 3 readings in a row');
  });

  it('count N within windowSeconds: counts the readings outside in (latest − W, latest]', async () => {
    const { stations } = await makeLine(['reflow']);
    const oven = stations.reflow!;
    const r = await rule({ stationId: oven.id, readingName: 'o2.ppm', params: { max: 1000, count: 3, windowSeconds: 60 } });
    const o2 = (value: number, sec: number) => ({ stationId: oven.id, name: 'o2.ppm', value, at: at(sec) });
    expect(await store([o2(1200, 0), o2(900, 10), o2(1000, 20), o2(1300, 30)], r.id)).toEqual([]);
    // At 60 s the window (0, 60] holds 30 and 60 only: the reading at 0 s is just outside it.
    expect(await store([o2(1100, 60)], r.id)).toEqual([]);
    const [a] = await store([o2(1001, 75)], r.id);
    expect(a!.evidence).toMatchObject({ count: 3, windowSeconds: 60, readings: [{ value: 1001 }, { value: 1100 }, { value: 1300 }] });
  });
});

describe('reading_out_of_limits: configuration', () => {
  it('refuses incomplete or contradictory rules, naming the field', async () => {
    const { stations } = await makeLine(['reflow', 'aoi']);
    const oven = stations.reflow!;
    const e1 = await thrown(rule({ readingName: 'zone1.temp', params: { max: 1 } }));
    expect(e1.code).toBe('VALIDATION_FAILED');
    expect(JSON.stringify(e1)).toContain('/stationId');
    expect(JSON.stringify(await thrown(rule({ stationId: oven.id, params: { max: 1 } })))).toContain('/readingName');
    expect(JSON.stringify(await thrown(rule({ stationId: oven.id, readingName: 'x', params: {} })))).toContain('/params/min');
    expect(JSON.stringify(await thrown(rule({ stationId: oven.id, readingName: 'x', params: { min: 5, max: 4 } })))).toContain('/params/max');
    expect(JSON.stringify(await thrown(rule({ stationId: oven.id, readingName: 'x', params: { max: 4, consecutive: 2, count: 2, windowSeconds: 10 } })))).toContain('/params/consecutive');
    expect(JSON.stringify(await thrown(rule({ stationId: oven.id, readingName: 'x', params: { max: 4, count: 2 } })))).toContain('/params/windowSeconds');
    const elsewhere = await s().factory.equipment.create(system, { stationId: stations.aoi!.id, code: uniq('EQ'), name: 'aoi' });
    expect(JSON.stringify(await thrown(rule({ stationId: oven.id, equipmentId: elsewhere.id, readingName: 'x', params: { max: 4 } })))).toContain('/equipmentId');
    expect(await thrown(rule({ stationId: 999999999, readingName: 'x', params: { max: 4 } }))).toMatchObject({ code: 'REFERENCE_NOT_FOUND' });
    // Reading targets belong to reading rules only.
    expect(JSON.stringify(await thrown(s().quality.createRule(system, { code: uniq('R-'), name: 'x', kind: 'test_repeat', params: { units: 2, window: 5 }, stationId: oven.id })))).toContain('/stationId');
  });

  it('REST: a quality engineer adds a reading rule; its alerts are listed', async () => {
    const { stations } = await makeLine(['reflow']);
    const oven = stations.reflow!;
    const app = await testApp();
    const created = await app.inject({
      method: 'POST', url: '/api/v1/quality/rules', headers: bearer(await tokenFor('quality-engineer')),
      payload: { code: uniq('RR-'), name: 'zone 5 peak', kind: 'reading_out_of_limits', stationId: oven.id, readingName: 'zone5.temp', params: { min: 235, max: 255, consecutive: 2 }, actions: ['alert', 'hold_station'] },
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ kind: 'reading_out_of_limits', stationId: oven.id, equipmentId: null, readingName: 'zone5.temp', params: { min: 235, max: 255, consecutive: 2 } });
    expect((await app.inject({
      method: 'POST', url: '/api/v1/quality/rules', headers: bearer(await tokenFor('quality-engineer')),
      payload: { code: uniq('RR-'), name: 'x', kind: 'reading_out_of_limits', stationId: oven.id, readingName: 'zone5.temp', params: { max: 'hot' } },
    })).statusCode).toBe(400);
    await store([{ stationId: oven.id, name: 'zone5.temp', value: 256, at: at(0) }, { stationId: oven.id, name: 'zone5.temp', value: 257, at: at(1) }], created.json().id);
    const list = await app.inject({ method: 'GET', url: `/api/v1/quality/alerts?ruleId=${created.json().id}`, headers: bearer(await tokenFor('viewer')) });
    expect(list.statusCode).toBe(200);
    expect(list.json()).toEqual([expect.objectContaining({ kind: 'reading_out_of_limits', workOrderId: null, stationId: oven.id, key: `${oven.code}:zone5.temp` })]);
  });
});
