import os from 'node:os';
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import type { MqttConfig } from '../../platform/config.ts';
import { HealthState, type Adapter } from '../adapter.ts';
import type { TelemetryIngest, TelemetryMessage } from './telemetry.ts';

/**
 * The MQTT subscriber. Messages are committed before they are acknowledged:
 * - QoS 1: MQTT.js sends PUBACK when `handleMessage` calls back, and handles the next packet
 *   only then; we call back after the message's readings (or its dead letter) committed, so the
 *   broker redelivers anything not stored (at-least-once; telemetry tolerates a repeat);
 * - QoS 0 (no acknowledgement exists): messages are batched; at most `maxInFlight` wait
 *   uncommitted, beyond that the socket is not read until the queue drains.
 * Either way the number of received-but-uncommitted messages is bounded.
 */
export function createMqttAdapter(
  telemetry: TelemetryIngest,
  cfg: MqttConfig,
  opts: { log?: (msg: string, err?: unknown) => void; clientId?: string; clean?: boolean } = {},
): Adapter & { client(): MqttClient | null } {
  const log = opts.log ?? (() => undefined);
  const health = new HealthState('mqtt');
  let client: MqttClient | null = null;
  let stopped = false;
  const queue: { msg: TelemetryMessage; ack: (() => void) | null }[] = [];
  const blocked: (() => void)[] = [];
  let running: Promise<void> | null = null;
  /** Received and not yet committed (queued plus the batch being stored). */
  let uncommitted = 0;
  let maxSeen = 0;

  const kick = () => {
    if (!running) running = drain().finally(() => (running = null));
  };

  async function drain(): Promise<void> {
    while (queue.length && !stopped) {
      const batch = queue.splice(0, Math.min(500, cfg.maxInFlight));
      let delay = 250;
      for (;;) {
        try {
          const out = await telemetry.ingest(batch.map((b) => b.msg));
          for (const o of out) {
            health.count('messages');
            if (o.ok) health.count('readings', o.readings);
            else health.count('deadLettered');
          }
          break;
        } catch (e) {
          health.set('degraded', `storing telemetry failed, retrying; nothing acknowledged: ${(e as Error).message}`);
          log('MQTT telemetry batch failed; retrying', e);
          if (stopped) return;
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(delay * 2, 15_000);
        }
      }
      if (health.state === 'degraded') health.set('up', `subscribed to ${cfg.topics.join(', ')}`);
      uncommitted -= batch.length;
      for (const b of batch) b.ack?.();
      while (blocked.length && uncommitted < cfg.maxInFlight) blocked.shift()!();
    }
  }

  async function start(): Promise<void> {
    if (!cfg.url) throw new Error('MES_MQTT_URL is not set');
    stopped = false;
    health.set('starting', cfg.url);
    const c = mqtt.connect(cfg.url, {
      clientId: opts.clientId ?? `mes-${os.hostname()}-telemetry`,
      clean: opts.clean ?? false,
      reconnectPeriod: 2_000,
      connectTimeout: 10_000,
      ...(cfg.username ? { username: cfg.username, password: cfg.password ?? '' } : {}),
    });
    client = c;
    c.handleMessage = (packet: IPublishPacket, callback: (err?: Error) => void) => {
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      const msg: TelemetryMessage = { topic: packet.topic, payload, receivedAt: new Date() };
      health.count('received');
      uncommitted++;
      maxSeen = Math.max(maxSeen, uncommitted);
      if (packet.qos > 0) {
        queue.push({ msg, ack: () => callback() });
      } else {
        queue.push({ msg, ack: null });
        // No acknowledgement exists at QoS 0: stop reading the socket while the bound is reached.
        if (uncommitted < cfg.maxInFlight) callback();
        else blocked.push(() => callback());
      }
      kick();
    };
    c.on('error', (e) => {
      health.set('down', e.message);
      log('MQTT error', e);
    });
    c.on('offline', () => health.set('down', 'offline; reconnecting'));
    c.on('connect', () => health.set('up', `subscribed to ${cfg.topics.join(', ')}`));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`cannot connect to ${cfg.url} within 10 s`)), 10_000);
      c.once('connect', () => {
        clearTimeout(t);
        resolve();
      });
    }).catch(async (e) => {
      await stop();
      throw e;
    });
    const granted = await c.subscribeAsync(Object.fromEntries(cfg.topics.map((t) => [t, { qos: cfg.qos }])));
    const refused = granted.filter((g) => g.qos === 128);
    if (refused.length) throw new Error(`the broker refused the subscription to ${refused.map((g) => g.topic).join(', ')}`);
  }

  async function stop(): Promise<void> {
    stopped = true;
    await running;
    if (client) {
      const c = client;
      client = null;
      await c.endAsync().catch(() => undefined);
    }
    health.set('stopped');
  }

  return { name: 'mqtt', start, stop, health: () => ({ ...health.snapshot(), counters: { ...health.counters, uncommitted, maxUncommitted: maxSeen } }), client: () => client };
}
