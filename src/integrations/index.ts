import type { Config } from '../platform/config.ts';
import type { Adapter, AdapterHealth } from './adapter.ts';
import { createAmqpConsumer, createRequestListener, createThreadedConsumer } from './cfx/amqp.ts';
import { CFX_VERSION, type CfxOutgoingEnvelope } from './cfx/codec.ts';
import type { CfxDeps } from './cfx/handlers/types.ts';
import { RequestPriority } from './cfx/priority.ts';
import { createCfxService } from './cfx/service.ts';
import { createMqttAdapter } from './mqtt/adapter.ts';
import { createTelemetryIngest } from './mqtt/telemetry.ts';

/**
 * Machine integration, the public face: the CFX door (pipeline, dead letters, unassigned
 * messages, replay), MQTT telemetry, and the adapters `mes serve` starts when configured
 * (AMQP broker consumer + publisher, point-to-point request listener, MQTT subscriber).
 */

export type { Adapter, AdapterHealth } from './adapter.ts';
export type { CfxService } from './cfx/service.ts';
export type { IngestResult, IncomingPayload, InboxOutcome, MessageOutcome, Transport } from './cfx/ingest.ts';
export type { TelemetryIngest } from './mqtt/telemetry.ts';
export { withTransactionScopes, runInTransaction, isScopedDb } from './tx-scope.ts';
export { registerIntegrationRoutes } from './cfx/routes.ts';
export { setupBroker, connectPublisher, connectRequester, amqpMessage } from './cfx/amqp.ts';

export function createIntegrations(deps: CfxDeps, config: Pick<Config, 'cfx' | 'mqtt'> & Partial<Config>, opts: { version: string; log?: (msg: string, err?: unknown) => void }) {
  let logger = opts.log ?? (() => undefined);
  const log = (msg: string, err?: unknown) => logger(msg, err);
  let requestUri: string | null = null;
  const telemetry = createTelemetryIngest(deps, { topics: config.mqtt.topics });
  const cfx = createCfxService(deps, {
    handle: config.cfx.handle,
    endpoint: () => ({ requestUri, version: opts.version }),
    log,
    replayOther: async (_transport, letter) => {
      const [r] = await telemetry.ingest([{ topic: letter.topic ?? '', payload: letter.payload, stationKey: letter.source }]);
      return r!.ok ? { ok: true, outcome: 'applied', detail: `${r!.readings} reading(s) stored` } : { ok: false, outcome: 'rejected', detail: `${r!.code}: ${r!.message} (now dead letter ${r!.deadLetterId})` };
    },
  });
  const adapters: Adapter[] = [];
  let publisher: { publish(envs: CfxOutgoingEnvelope[]): Promise<void> } | null = null;

  const own = (messageName: string, body: Record<string, unknown>): CfxOutgoingEnvelope => ({ messageName, version: CFX_VERSION, source: config.cfx.handle, body });

  /**
   * Starts the configured adapters. What cannot be reached at boot fails the start with a sentence
   * naming it (fail fast, like configuration); once running, connection losses are retried in the
   * background and shown by the adapters' health.
   */
  async function start(o: { log?: (msg: string, err?: unknown) => void; databaseUrl?: string } = {}): Promise<void> {
    if (o.log) logger = o.log;
    // Requests answered by the listener go before the broker consumer's batches (priority.ts).
    const priority = new RequestPriority();
    if (config.cfx.listenPort !== undefined) {
      const listener = createRequestListener(cfx.ingest, config.cfx, { log, priority });
      await listener.start();
      requestUri = `amqp://${config.cfx.listenHost}:${listener.address().port}/`;
      adapters.push(listener);
    }
    if (config.cfx.brokerUrl) {
      // With the database URL (mes serve) the consumer runs in its own thread, so bulk ingestion
      // never delays HTTP and the request listener; without it, in this thread.
      const consumer = o.databaseUrl && isFullConfig(config)
        ? createThreadedConsumer(config, o.databaseUrl, { log, priority })
        : createAmqpConsumer(cfx.ingest, config.cfx, {
            log,
            publishHeartbeat: () => own('CFX.Heartbeat', { CFXHandle: config.cfx.handle, HeartbeatFrequency: secondsToSpan(config.cfx.heartbeatSeconds), ActiveFaults: [], ActiveRecipes: [] }),
          });
      adapters.push(consumer);
      publisher = consumer;
      await consumer.start();
      await consumer
        .publish([own('CFX.EndpointConnected', { CFXHandle: config.cfx.handle, RequestNetworkUri: requestUri, RequestTargetAddress: requestUri ? config.cfx.handle : null })])
        .catch((e) => log('could not publish EndpointConnected', e));
    }
    if (config.mqtt.url) {
      const m = createMqttAdapter(telemetry, config.mqtt, { log });
      adapters.push(m);
      await m.start();
    }
  }

  async function stop(): Promise<void> {
    if (publisher) await publisher.publish([own('CFX.EndpointShuttingDown', { CFXHandle: config.cfx.handle })]).catch(() => undefined);
    for (const a of [...adapters].reverse()) await a.stop().catch((e) => log(`stopping ${a.name} failed`, e));
    adapters.length = 0;
    publisher = null;
  }

  return {
    cfx, telemetry, adapters, start, stop,
    health: (): AdapterHealth[] => adapters.map((a) => a.health()),
    /** Publishes the MES's own CFX messages through the broker (when one is configured). */
    publish: (envs: CfxOutgoingEnvelope[]) => (publisher ? publisher.publish(envs) : Promise.reject(new Error('no CFX broker configured'))),
  };
}
export type Integrations = ReturnType<typeof createIntegrations>;

function isFullConfig(c: Partial<Config>): c is Config {
  return c.dbPoolSize !== undefined && c.sessionTtlSeconds !== undefined;
}

function secondsToSpan(s: number): string {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}`;
}
