import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../../platform/config.ts';
import type { AdapterHealth } from '../adapter.ts';
import type { CfxOutgoingEnvelope } from './codec.ts';

/**
 * The broker consumer's thread (see createThreadedConsumer): its own event loop, database pool
 * and services, so bulk ingestion never delays the interactive doors of the main thread (HTTP,
 * the request listener). Messages: in `{cmd: 'publish', id, envs}` / `{cmd: 'stop'}`; out
 * `{event: 'ready'}`, `{event: 'failed', message}`, `{event: 'health', health}`,
 * `{event: 'published', id, error?}`, `{event: 'log', message, error?}`.
 */

interface Init {
  config: Config;
  databaseUrl: string;
  /** The request listener's counter (RequestPriority): batches give way to requests being answered. */
  priority?: SharedArrayBuffer;
}

const { config, databaseUrl, priority } = workerData as Init;
const port = parentPort!;
const { Db } = await import('../../platform/db.ts');
const { createServices } = await import('../../main.ts');
const { createAmqpConsumer } = await import('./amqp.ts');
const { CFX_VERSION } = await import('./codec.ts');
const { setIngestGate } = await import('./ingest.ts');
const { RequestPriority } = await import('./priority.ts');
if (priority) {
  const p = new RequestPriority(priority);
  setIngestGate((maxWaitMs) => p.yield(Math.min(50, maxWaitMs)));
}

const db = new Db(databaseUrl, config.dbPoolSize);
const services = createServices(db, config);
const log = (message: string, error?: unknown) => port.postMessage({ event: 'log', message, error: error ? String((error as Error)?.message ?? error) : undefined });
const consumer = createAmqpConsumer(services.integrations.cfx.ingest, config.cfx, {
  log,
  publishHeartbeat: () => ({
    messageName: 'CFX.Heartbeat', version: CFX_VERSION, source: config.cfx.handle,
    body: { CFXHandle: config.cfx.handle, HeartbeatFrequency: new Date(config.cfx.heartbeatSeconds * 1000).toISOString().slice(11, 19), ActiveFaults: [], ActiveRecipes: [] },
  }),
});
const report = () => port.postMessage({ event: 'health', health: consumer.health() satisfies AdapterHealth });
const timer = setInterval(report, 1000);

port.on('message', async (m: { cmd: 'publish'; id: number; envs: CfxOutgoingEnvelope[] } | { cmd: 'stop' }) => {
  if (m.cmd === 'publish') {
    try {
      await consumer.publish(m.envs.map((e) => ({ ...e, timeStamp: e.timeStamp ? new Date(e.timeStamp) : new Date() })));
      port.postMessage({ event: 'published', id: m.id });
    } catch (e) {
      port.postMessage({ event: 'published', id: m.id, error: (e as Error).message });
    }
  } else if (m.cmd === 'stop') {
    clearInterval(timer);
    await consumer.stop();
    report();
    await db.close();
    port.postMessage({ event: 'stopped' });
    port.close();
  }
});

try {
  await consumer.start();
  report();
  port.postMessage({ event: 'ready' });
} catch (e) {
  clearInterval(timer);
  await db.close().catch(() => undefined);
  port.postMessage({ event: 'failed', message: (e as Error).message });
}
