import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/platform/config.ts';
import { createMqttAdapter } from '../../src/integrations/mqtt/adapter.ts';
import { createTelemetryIngest, topicParts } from '../../src/integrations/mqtt/telemetry.ts';
import { testServices, uniq } from '../helpers.ts';
import { MQTT_URL, makeMachines, reachable, until } from './support.ts';

/** MQTT telemetry against the machine's Mosquitto: readings with station and unit, dead letters, bounded in-flight. */

const s = () => testServices();
const up = await reachable('127.0.0.1', 1883);

describe('topic mapping', () => {
  it('takes the station from the first wildcard level and names the reading by the rest', () => {
    expect(topicParts(['mes/telemetry/#'], 'mes/telemetry/RFL1/zone3/temp')).toEqual({ stationKey: 'RFL1', name: 'zone3.temp' });
    expect(topicParts(['factory/+/sensors/#'], 'factory/DRY1/sensors/humidity')).toEqual({ stationKey: 'DRY1', name: 'sensors.humidity' });
    expect(topicParts(['mes/telemetry/#'], 'other/x')).toEqual({ stationKey: null, name: null });
  });
});

describe.skipIf(!up)('MQTT telemetry with Mosquitto', () => {
  async function setup(qos: 0 | 1, maxInFlight: number) {
    const { machines } = await makeMachines(['reflow']);
    const root = `mes-test/${uniq()}`;
    const cfg = { ...loadConfig({ MES_MQTT_URL: MQTT_URL, MES_MQTT_TOPICS: `${root}/#`, MES_MQTT_QOS: String(qos), MES_MQTT_MAX_INFLIGHT: String(maxInFlight) }).mqtt };
    const telemetry = createTelemetryIngest(s(), { topics: cfg.topics });
    const adapter = createMqttAdapter(telemetry, cfg, { clientId: uniq('mes-test-'), clean: true });
    await adapter.start();
    const pub = await mqtt.connectAsync(MQTT_URL, { clientId: uniq('pub-') });
    return { machines, root, adapter, pub };
  }
  const readings = async (stationId: number) =>
    (await s().db.query<{ name: string; value: number | null; unit: string | null; unit_identifier: string | null; text_value: string | null }>(
      'SELECT name, value, unit, unit_identifier, text_value FROM readings WHERE station_id = $1 AND source = $2 ORDER BY id', [stationId, 'mqtt'],
    )).rows;

  it('stores JSON telemetry as readings of the station, with the unit when given; malformed payloads become dead letters', async () => {
    const { machines, root, adapter, pub } = await setup(1, 20);
    const st = machines.reflow!;
    await pub.publishAsync(`${root}/${st.stationCode}/zone3/temp`, JSON.stringify({ value: 245.5, unit: 'C', serial: 'SN-1' }), { qos: 1 });
    await pub.publishAsync(`${root}/${st.equipmentCode}/zones`, JSON.stringify({ zone1: 150, zone2: 160.5, unit: 'C', at: '2024-03-05T10:00:00Z' }), { qos: 1 });
    await pub.publishAsync(`${root}/${st.handle}/conveyor`, JSON.stringify({ readings: [{ name: 'speed', value: 0.8, unit: 'm/min' }, { name: 'mode', value: 'auto' }] }), { qos: 1 });
    await pub.publishAsync(`${root}/${st.stationCode}/o2`, '812', { qos: 1 });
    await pub.publishAsync(`${root}/${st.stationCode}/bad`, '{not json', { qos: 1 });
    const late = uniq('LATE');
    await pub.publishAsync(`${root}/${late}/temp`, JSON.stringify({ value: 1 }), { qos: 1 });
    await until(async () => adapter.health().counters.messages ?? 0, (n) => n >= 6, 10_000);
    const rows = await readings(st.stationId);
    expect(rows.map((r) => [r.name, r.value ?? r.text_value, r.unit, r.unit_identifier])).toEqual([
      ['zone3.temp', 245.5, 'C', 'SN-1'],
      ['zones.zone1', 150, 'C', null],
      ['zones.zone2', 160.5, 'C', null],
      ['speed', 0.8, 'm/min', null],
      ['mode', 'auto', null, null],
      ['o2', 812, null, null],
    ]);
    const dead = await s().db.query<{ reason_code: string; topic: string }>(`SELECT reason_code, topic FROM cfx_dead_letters WHERE transport = 'mqtt' AND topic LIKE $1 ORDER BY id`, [`${root}/%`]);
    expect(dead.rows.map((d) => d.reason_code)).toEqual(['MQTT_NOT_JSON', 'MQTT_UNKNOWN_STATION']);
    // The unknown station is created: the dead letter replays into a reading.
    const letter = (await s().db.one<{ id: number }>(`SELECT id FROM cfx_dead_letters WHERE transport = 'mqtt' AND topic = $1`, [`${root}/${late}/temp`]))!;
    const created = await s().factory.stations.create({ kind: 'system', id: null, name: 'test', role: 'admin' }, { lineId: null, code: late, name: 'late', type: 'manual' });
    const replay = await s().integrations.cfx.replayDeadLetter({ kind: 'system', id: null, name: 'test', role: 'admin' }, letter.id);
    expect(replay).toMatchObject({ ok: true, outcome: 'applied' });
    expect((await readings(created.id)).map((r) => [r.name, r.value])).toEqual([['temp', 1]]);
    await pub.endAsync();
    await adapter.stop();
  });

  it('bounds the messages received but not yet committed', async () => {
    const { machines, root, adapter, pub } = await setup(0, 25);
    const st = machines.reflow!;
    for (let i = 0; i < 2000; i++) pub.publish(`${root}/${st.stationCode}/temp`, JSON.stringify({ value: i }), { qos: 0 });
    await until(async () => (await readings(st.stationId)).length, (n) => n >= 2000, 30_000, 200);
    expect((await readings(st.stationId)).length).toBe(2000);
    expect(adapter.health().counters.maxUncommitted).toBeLessThanOrEqual(25);
    await pub.endAsync();
    await adapter.stop();
  });
});
