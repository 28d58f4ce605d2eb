import crypto from 'node:crypto';
import net from 'node:net';
import { makeLine, system, testServices, uniq } from '../helpers.ts';
import type { CfxOutgoingEnvelope } from '../../src/integrations/cfx/codec.ts';

/** Test support for the machine-integration tests: machines with CFX handles, envelopes, brokers. */

export const BROKER_URL = process.env.MES_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
export const MQTT_URL = process.env.MES_TEST_MQTT_URL ?? 'mqtt://127.0.0.1:1883';

/** A line with stations of the given types, each with one machine that has a fresh CFX handle. */
export async function makeMachines(types: readonly string[] = ['printer', 'spi', 'placement', 'reflow', 'aoi']) {
  const s = testServices();
  const { line, stations } = await makeLine(types);
  const machines: Record<string, { stationId: number; stationCode: string; equipmentId: number; equipmentCode: string; handle: string }> = {};
  for (const [type, st] of Object.entries(stations)) {
    const handle = `Test.${type.replace(/[^A-Za-z0-9]/g, '')}.${uniq('SN')}`;
    const eq = await s.factory.equipment.create(system, { stationId: st.id, code: uniq(`EQ-${type}-`), name: `${type} machine`, cfxHandle: handle });
    machines[type] = { stationId: st.id, stationCode: st.code, equipmentId: eq.id, equipmentCode: eq.code, handle };
  }
  return { line, stations, machines };
}

/** One CFX envelope in wire form (what a machine sends). */
export function envelope(messageName: string, source: string | null, body: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    MessageName: messageName,
    Version: '2.1',
    TimeStamp: new Date().toISOString(),
    UniqueID: crypto.randomUUID(),
    Source: source,
    Target: null,
    RequestID: null,
    MessageBody: body,
    ...extra,
  };
}

export const out = (messageName: string, source: string, body: Record<string, unknown>, extra: Partial<CfxOutgoingEnvelope> = {}): CfxOutgoingEnvelope => ({
  messageName, source, body, uniqueId: crypto.randomUUID(), timeStamp: new Date(), ...extra,
});

/** Removes every `$type` key, recursively (a sender that does not annotate). */
export function stripTypes(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripTypes);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).filter(([k]) => k !== '$type').map(([k, x]) => [k, stripTypes(x)]));
  return v;
}

/** Whether a TCP service answers on the port (tests of brokers skip clearly when one is absent). */
export function reachable(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000, stepMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > end) return v;
    await sleep(stepMs);
  }
}
