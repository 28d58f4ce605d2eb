import type { Db } from '../../platform/db.ts';
import type { EquipmentService, ReadingInput } from '../../modules/equipment/index.ts';
import { insertDeadLetters } from '../store.ts';

/**
 * MQTT telemetry (oven zone temperatures, dry-cabinet humidity, line sensors) → readings.
 *
 * Topic → station: the first topic level matched by a wildcard of the subscription is the
 * station key (station code, equipment code or equipment CFX handle), unless the payload names
 * `station` or `equipment`; the levels after it name the reading. With the default filter
 * `mes/telemetry/#`, the topic `mes/telemetry/RFL1/zone3/temp` is station RFL1, reading
 * `zone3.temp`.
 *
 * Payload (JSON, UTF-8), one of:
 * - `{"value": 245.3, "unit": "C", "name": "zone3.temp"}` — one reading;
 * - `{"readings": [{"name": "zone1", "value": 150.2, "unit": "C"}, …]}` — several;
 * - `{"zone1": 150.2, "zone2": 160.1}` — every numeric field is a reading;
 * - `245.3` — a bare number, named by the topic.
 * Optional in every object: `at` / `timestamp` (ISO 8601 or epoch milliseconds; default: time
 * received), `unit_id` / `serial` / `unitIdentifier` (the unit the value belongs to),
 * `station` / `equipment`. A payload that yields no reading, or whose station is unknown, is a
 * dead letter with its reason (replayable once the station exists).
 */

export interface TelemetryMessage {
  topic: string;
  payload: Buffer;
  receivedAt?: Date;
  /** The station key, when the topic cannot tell it (a replay under other subscriptions). */
  stationKey?: string | null;
}

export type TelemetryOutcome = { ok: true; readings: number } | { ok: false; code: string; message: string; deadLetterId: number };

interface Parsed {
  readings: Omit<ReadingInput, 'stationId' | 'equipmentId'>[];
  stationKey: string | null;
}
class TelemetryError extends Error {
  constructor(readonly code: string, message: string, readonly stationKey: string | null = null) {
    super(message);
  }
}

const META = new Set(['at', 'timestamp', 'ts', 'time', 'unit_id', 'unitid', 'serial', 'unitidentifier', 'station', 'equipment', 'unit', 'name', 'value', 'readings']);

function parseTime(v: unknown, fallback: Date): Date {
  if (v === undefined || v === null) return fallback;
  const d = typeof v === 'number' ? new Date(v) : typeof v === 'string' ? new Date(v) : new Date(NaN);
  if (Number.isNaN(d.getTime())) throw new TelemetryError('MQTT_BAD_TIME', `timestamp ${JSON.stringify(v)} is neither ISO 8601 nor epoch milliseconds`);
  return d;
}

const pick = (o: Record<string, unknown>, ...keys: string[]): unknown => {
  for (const k of Object.keys(o)) if (keys.includes(k.toLowerCase())) return o[k];
  return undefined;
};
const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null);

/** The levels of a topic: station key (at the first wildcard of the matching filter) and the reading name after it. */
export function topicParts(filters: readonly string[], topic: string): { stationKey: string | null; name: string | null } {
  const t = topic.split('/');
  for (const f of filters) {
    const fl = f.split('/');
    let ok = true;
    for (let i = 0; i < fl.length; i++) {
      if (fl[i] === '#') break;
      if (i >= t.length || (fl[i] !== '+' && fl[i] !== t[i])) {
        ok = false;
        break;
      }
      if (i === fl.length - 1 && t.length !== fl.length) ok = false;
    }
    if (!ok) continue;
    const at = fl.findIndex((x) => x === '+' || x === '#');
    if (at < 0 || at >= t.length) return { stationKey: null, name: t.at(-1) ?? null };
    const rest = t.slice(at + 1).filter((x) => x !== '');
    return { stationKey: t[at]!, name: rest.length ? rest.join('.') : null };
  }
  return { stationKey: null, name: null };
}

export function parseTelemetry(filters: readonly string[], msg: TelemetryMessage): Parsed {
  const received = msg.receivedAt ?? new Date();
  let data: unknown;
  try {
    data = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(msg.payload));
  } catch {
    throw new TelemetryError('MQTT_NOT_JSON', 'the payload is not UTF-8 JSON');
  }
  let tp = topicParts(filters, msg.topic);
  if (tp.stationKey === null && msg.stationKey) {
    // Replayed under other subscriptions: the reading is named by the levels after the station's.
    const levels = msg.topic.split('/');
    const at = levels.indexOf(msg.stationKey);
    tp = { stationKey: msg.stationKey, name: at >= 0 && at < levels.length - 1 ? levels.slice(at + 1).join('.') : tp.name };
  }
  const baseName = tp.name;
  if (typeof data === 'number') {
    if (!Number.isFinite(data)) throw new TelemetryError('MQTT_NO_VALUES', 'the number is not finite');
    return { stationKey: tp.stationKey, readings: [{ at: received, unitIdentifier: null, name: baseName ?? 'value', value: data, textValue: null, unit: null, source: 'mqtt', origin: msg.topic }] };
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new TelemetryError('MQTT_NO_VALUES', 'the payload must be a JSON object or a number');
  const o = data as Record<string, unknown>;
  const at = parseTime(pick(o, 'at', 'timestamp', 'ts', 'time'), received);
  const unit = str(pick(o, 'unit_id', 'unitid', 'serial', 'unitidentifier'));
  const stationKey = str(pick(o, 'station', 'equipment')) ?? tp.stationKey;
  const readings: Parsed['readings'] = [];
  const add = (name: string, v: unknown, unitName: unknown, when: Date) => {
    if (typeof v === 'number' && Number.isFinite(v)) readings.push({ at: when, unitIdentifier: unit, name, value: v, textValue: null, unit: str(unitName), source: 'mqtt', origin: msg.topic });
    else if (typeof v === 'boolean') readings.push({ at: when, unitIdentifier: unit, name, value: v ? 1 : 0, textValue: null, unit: str(unitName), source: 'mqtt', origin: msg.topic });
    else if (typeof v === 'string' && v !== '') readings.push({ at: when, unitIdentifier: unit, name, value: null, textValue: v.slice(0, 4000), unit: str(unitName), source: 'mqtt', origin: msg.topic });
  };
  const list = pick(o, 'readings');
  if (Array.isArray(list)) {
    list.forEach((r, i) => {
      if (typeof r !== 'object' || r === null) return;
      const ro = r as Record<string, unknown>;
      add(str(pick(ro, 'name')) ?? `${baseName ?? 'reading'}.${i}`, pick(ro, 'value'), pick(ro, 'unit'), parseTime(pick(ro, 'at', 'timestamp', 'ts', 'time'), at));
    });
  } else if (pick(o, 'value') !== undefined) {
    add(str(pick(o, 'name')) ?? baseName ?? 'value', pick(o, 'value'), pick(o, 'unit'), at);
  } else {
    for (const [k, v] of Object.entries(o)) if (!META.has(k.toLowerCase()) && typeof v === 'number') add(baseName ? `${baseName}.${k}` : k, v, pick(o, 'unit'), at);
  }
  if (readings.length === 0) throw new TelemetryError('MQTT_NO_VALUES', 'the payload holds no reading (no numeric `value`, `readings[]` or numeric field)');
  return { stationKey, readings };
}

export function createTelemetryIngest(deps: { db: Db; equipment: EquipmentService }, opts: { topics: readonly string[] }) {
  const { db } = deps;
  const cache = new Map<string, { at: number; v: { stationId: number; equipmentId: number | null } | null }>();
  db.onChange('stations', () => cache.clear());
  db.onChange('equipment', () => cache.clear());

  async function station(key: string): Promise<{ stationId: number; equipmentId: number | null } | null> {
    const hit = cache.get(key);
    if (hit && Date.now() - hit.at < (hit.v && db.changeFeedLive ? 60_000 : 3_000)) return hit.v;
    const r = await db.query<{ stationId: number; equipmentId: number | null }>(
      `SELECT id AS "stationId", NULL::bigint AS "equipmentId", 1 AS o FROM stations WHERE code = $1
       UNION ALL SELECT station_id, id, 2 FROM equipment WHERE code = $1 OR cfx_handle = $1 ORDER BY o LIMIT 1`,
      [key],
      'mqtt_station',
    );
    const v = r.rows[0] ? { stationId: r.rows[0].stationId, equipmentId: r.rows[0].equipmentId } : null;
    if (cache.size > 10_000) cache.clear();
    cache.set(key, { at: Date.now(), v });
    return v;
  }

  /** Stores a batch of messages in one transaction: readings, or a dead letter per bad message. */
  async function ingest(msgs: TelemetryMessage[]): Promise<TelemetryOutcome[]> {
    const rows: ReadingInput[] = [];
    const bad: { i: number; code: string; message: string; stationKey: string | null }[] = [];
    const counts: number[] = [];
    for (const [i, m] of msgs.entries()) {
      try {
        const p = parseTelemetry(opts.topics, m);
        if (!p.stationKey) throw new TelemetryError('MQTT_NO_STATION', `no station in topic ${m.topic} nor in the payload (station / equipment)`);
        const st = await station(p.stationKey);
        if (!st) throw new TelemetryError('MQTT_UNKNOWN_STATION', `no station, equipment or CFX handle is called ${p.stationKey}`, p.stationKey);
        for (const r of p.readings) rows.push({ ...r, stationId: st.stationId, equipmentId: st.equipmentId });
        counts[i] = p.readings.length;
      } catch (e) {
        if (!(e instanceof TelemetryError)) throw e;
        bad.push({ i, code: e.code, message: e.message, stationKey: e.stationKey });
      }
    }
    const ids = await db.tx(async (tx) => {
      await deps.equipment.recordReadings(tx, rows);
      return insertDeadLetters(
        tx,
        bad.map((b) => ({
          // source: the station key the topic named, so a replay finds the station whatever the subscriptions are then.
          transport: 'mqtt', payload: msgs[b.i]!.payload, contentEncoding: null, uniqueId: null, source: b.stationKey, messageName: null, topic: msgs[b.i]!.topic,
          reasonCode: b.code, reason: b.message, field: null, errors: null,
        })),
      );
    });
    const out: TelemetryOutcome[] = msgs.map((_m, i) => ({ ok: true, readings: counts[i] ?? 0 }));
    bad.forEach((b, k) => (out[b.i] = { ok: false, code: b.code, message: b.message, deadLetterId: ids[k]! }));
    return out;
  }

  return { ingest, topics: opts.topics };
}
export type TelemetryIngest = ReturnType<typeof createTelemetryIngest>;
