import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig, type CfxConfig } from '../../src/platform/config.ts';
import { amqpMessage, connectPublisher, createAmqpConsumer, setupBroker } from '../../src/integrations/cfx/amqp.ts';
import rhea from 'rhea';
import { makeReleasedWorkOrder, system, testServices, uniq } from '../helpers.ts';
import { BROKER_URL, makeMachines, reachable, sleep, until } from './support.ts';

/**
 * Against the machine's RabbitMQ (AMQP 1.0 plugin): a durable queue bound to the topic exchange,
 * acknowledgement only after commit, duplicate delivery, a malformed message, and a consumer
 * process killed with SIGKILL in the middle of a 20,000-message stream.
 */

const s = () => testServices();
const up = await reachable('127.0.0.1', 5672);
const queues: string[] = [];
const children = new Set<ChildProcess>();

/** A fresh queue bound to `<prefix>.#` on amq.topic, and the consumer configuration for it. */
async function freshQueue(): Promise<{ cfg: CfxConfig; prefix: string }> {
  const prefix = uniq('T');
  const queue = `mes.test.${prefix}`;
  queues.push(queue);
  const cfg = { ...loadConfig({ MES_CFX_BROKER_URL: BROKER_URL, MES_CFX_QUEUE: queue, MES_CFX_BINDING: `${prefix}.#`, MES_CFX_BATCH: '500' }).cfx, handle: `MES.Test.${prefix}` };
  await setupBroker(cfg);
  return { cfg, prefix };
}

/** Ready + unacknowledged messages of a queue (management-free: re-declare passively). */
async function queueDepth(queue: string): Promise<number> {
  const c = await amqplib.connect(BROKER_URL);
  try {
    const ch = await c.createChannel();
    return (await ch.checkQueue(queue)).messageCount;
  } finally {
    await c.close();
  }
}

/** A machine registered with a handle under the queue's binding prefix. */
async function machine(prefix: string) {
  const { machines } = await makeMachines(['reflow']);
  const handle = `${prefix}.Oven.${uniq('SN')}`;
  await s().factory.equipment.update({ kind: 'system', id: null, name: 'test', role: 'admin' }, machines.reflow!.equipmentId, { cfxHandle: handle });
  return { ...machines.reflow!, handle };
}

const reading = (handle: string, i: number, uniqueId = crypto.randomUUID()) =>
  amqpMessage({
    messageName: 'CFX.Production.ReadingsRecorded', source: handle, uniqueId, timeStamp: new Date(),
    body: { Readings: [{ ReadingIdentifier: 'Zone3Temp', ValueDataType: 'Numeric', Value: String(240 + (i % 10)), ValueUnits: 'C' }] },
  });

const readingsOf = async (handle: string) =>
  (await s().db.one<{ n: number }>('SELECT count(*)::int AS n FROM readings r JOIN equipment e ON e.id = r.equipment_id WHERE e.cfx_handle = $1', [handle]))!.n;
const inboxOf = async (handle: string) => (await s().db.one<{ n: number }>('SELECT count(*)::int AS n FROM cfx_inbox WHERE source = $1', [handle]))!.n;

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  if (!up) return;
  const c = await amqplib.connect(BROKER_URL);
  const ch = await c.createChannel();
  for (const q of queues) await ch.deleteQueue(q).catch(() => undefined);
  await c.close();
});

describe.skipIf(!up)('CFX over AMQP 1.0 with RabbitMQ', () => {
  it('acknowledges a delivery only after its batch committed: nothing acknowledged while the database refuses', async () => {
    const { cfg, prefix } = await freshQueue();
    const m = await machine(prefix);
    const pub = await connectPublisher(BROKER_URL, { address: '/exchange/amq.topic' });
    for (let i = 0; i < 50; i++) await pub.send(reading(m.handle, i));
    await pub.close();
    // A consumer whose commits fail: every batch is retried, nothing may be acknowledged.
    let failing = true;
    const consumer = createAmqpConsumer(async (inputs) => {
      if (failing) throw new Error('database unavailable');
      return s().integrations.cfx.ingest(inputs);
    }, { ...cfg, credit: 20 });
    await consumer.start();
    await until(async () => consumer.health().counters.batchFailures ?? 0, (n) => n >= 2, 10_000);
    expect(consumer.health().state).toBe('degraded');
    expect(await readingsOf(m.handle)).toBe(0);
    // Held deliveries go back to the queue when the consumer goes away.
    await consumer.stop();
    expect(await until(() => queueDepth(cfg.queue), (n) => n === 50, 10_000)).toBe(50);
    // The database is back: everything is applied once, then acknowledged.
    failing = false;
    const again = createAmqpConsumer(s().integrations.cfx.ingest, cfg);
    await again.start();
    expect(await until(() => readingsOf(m.handle), (n) => n === 50, 20_000)).toBe(50);
    expect(await until(() => queueDepth(cfg.queue), (n) => n === 0, 10_000)).toBe(0);
    await again.stop();
  });

  it('applies 1,000 messages delivered twice exactly once', async () => {
    const { cfg, prefix } = await freshQueue();
    const m = await machine(prefix);
    const ids = Array.from({ length: 1000 }, () => crypto.randomUUID());
    const pub = await connectPublisher(BROKER_URL, { address: '/exchange/amq.topic', maxInFlight: 500 });
    for (const round of [0, 1]) for (const [i, id] of ids.entries()) await pub.send(reading(m.handle, i + round, id));
    await pub.close();
    const consumer = createAmqpConsumer(s().integrations.cfx.ingest, cfg);
    await consumer.start();
    await until(() => queueDepth(cfg.queue), (n) => n === 0, 30_000);
    await until(async () => consumer.health().counters.duplicate ?? 0, (n) => n === 1000, 10_000);
    await consumer.stop();
    expect(await readingsOf(m.handle)).toBe(1000);
    expect(await inboxOf(m.handle)).toBe(1000);
    expect(consumer.health().counters).toMatchObject({ applied: 1000, duplicate: 1000 });
  });

  it('puts a malformed message in the dead-letter store with its reason, and goes on', async () => {
    const { cfg, prefix } = await freshQueue();
    const m = await machine(prefix);
    const pub = await connectPublisher(BROKER_URL, { address: '/exchange/amq.topic' });
    const marker = uniq('GARBAGE');
    await pub.send({ subject: `${m.handle}.CFX.Production.ReadingsRecorded`, body: rhea.message.data_section(Buffer.from(`{"MessageName": "${marker}", oops`)) });
    await pub.send({ subject: `${m.handle}.CFX.Heartbeat`, content_encoding: 'gzip', body: rhea.message.data_section(Buffer.from('not gzip at all')) });
    await pub.send(reading(m.handle, 1));
    await pub.close();
    const consumer = createAmqpConsumer(s().integrations.cfx.ingest, cfg);
    await consumer.start();
    await until(() => queueDepth(cfg.queue), (n) => n === 0, 10_000);
    await until(() => readingsOf(m.handle), (n) => n === 1, 10_000);
    // The three take different lanes (the unreadable ones are ordered by their subject): wait for all.
    await until(async () => (consumer.health().counters.messages ?? 0) + (consumer.health().counters.payloadErrors ?? 0), (n) => n >= 3, 10_000);
    await consumer.stop();
    const letters = await s().db.query<{ reason_code: string; reason: string; payload: Buffer; content_encoding: string | null }>(
      `SELECT reason_code, reason, payload, content_encoding FROM cfx_dead_letters WHERE transport = 'amqp' AND (convert_from(payload, 'UTF8') LIKE $1 OR payload = $2) ORDER BY id`,
      [`%${marker}%`, Buffer.from('not gzip at all')],
    );
    expect(letters.rows.map((r) => r.reason_code)).toEqual(['CFX_NOT_JSON', 'CFX_GZIP']);
    expect(letters.rows[0]!.reason).toMatch(/not valid JSON/);
    expect(letters.rows[1]!.content_encoding).toBe('gzip');
  });

  it('loses nothing and duplicates nothing when the ingest process is killed (SIGKILL) in the middle of 20,000 messages', async () => {
    const { cfg, prefix } = await freshQueue();
    const m = await machine(prefix);
    const N = 20_000;
    const env = {
      ...process.env, DATABASE_URL: inject('databaseUrl'), MES_LOG_LEVEL: 'silent', MES_CFX_BROKER_URL: BROKER_URL, MES_CFX_QUEUE: cfg.queue,
      MES_CFX_BINDING: cfg.binding, MES_CFX_HANDLE: cfg.handle, MES_CFX_BATCH: '500', MES_CFX_CREDIT: '2000',
    };
    const script = path.resolve(import.meta.dirname, 'fixtures/consumer-process.ts');
    const spawnConsumer = async (): Promise<ChildProcess> => {
      const child = spawn(process.execPath, ['--import', 'tsx', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(child);
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error('consumer did not start'));
        }, 20_000);
        child.stdout!.on('data', (d: Buffer) => {
          if (d.toString().includes('ready')) {
            clearTimeout(t);
            resolve();
          }
        });
        child.once('exit', (code) => reject(new Error(`consumer exited with ${code}`)));
      });
      return child;
    };
    // Publish the stream while the consumer runs; every message is confirmed by the broker.
    let child = await spawnConsumer();
    const pub = await connectPublisher(BROKER_URL, { address: '/exchange/amq.topic', maxInFlight: 1000 });
    let published = 0;
    const publishing = (async () => {
      for (let i = 0; i < N; i++) {
        await pub.send(reading(m.handle, i));
        published++;
      }
      await pub.flush();
    })();
    // Kill it hard once part of the stream is committed.
    await until(() => inboxOf(m.handle), (n) => n >= 4000, 30_000, 20);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const atKill = await inboxOf(m.handle);
    expect(atKill).toBeGreaterThan(0);
    expect(atKill).toBeLessThan(N);
    child = await spawnConsumer();
    await publishing;
    await pub.close();
    expect(published).toBe(N);
    const done = await until(() => inboxOf(m.handle), (n) => n >= N, 45_000, 100);
    await until(() => queueDepth(cfg.queue), (n) => n === 0, 10_000);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    expect(done).toBe(N);
    expect(await readingsOf(m.handle)).toBe(N);
    const dupes = await s().db.one<{ n: number }>(
      'SELECT count(*)::int AS n FROM (SELECT origin FROM readings WHERE equipment_id = $1 GROUP BY origin HAVING count(*) > 1) d', [m.equipmentId],
    );
    expect(dupes!.n).toBe(0);
  }, 120_000);

  it("carries a unit's full life through the broker: arrived, started, completed, departed at every station of its route", async () => {
    const { cfg, prefix } = await freshQueue();
    const made = await makeReleasedWorkOrder();
    const handles: Record<string, string> = {};
    for (const type of ['printer', 'placement', 'aoi']) {
      handles[type] = `${prefix}.${type}.${uniq('SN')}`;
      await s().factory.equipment.create(system, { stationId: made.stations[type]!.id, code: uniq(`EQ-${type}-`), name: type, cfxHandle: handles[type] });
    }
    const [serial] = (await s().tracking.generateUnits(system, { workOrder: made.wo.id, count: 1 })).serials as [string];
    const units = { PrimaryIdentifier: serial, Units: [{ UnitIdentifier: serial, PositionNumber: 1 }] };
    const consumer = createAmqpConsumer(s().integrations.cfx.ingest, cfg);
    await consumer.start();
    const pub = await connectPublisher(BROKER_URL, { address: '/exchange/amq.topic' });
    let t = Date.now() - 60_000;
    for (const type of ['printer', 'placement', 'aoi']) {
      const tid = crypto.randomUUID();
      const h = handles[type]!;
      for (const [name, body] of [
        ['CFX.Production.UnitsArrived', units],
        ['CFX.Production.WorkStarted', { TransactionID: tid, ...units }],
        ['CFX.Production.WorkCompleted', { TransactionID: tid, Result: 'Completed', ...units }],
        ['CFX.Production.UnitsDeparted', units],
      ] as const) {
        await pub.publish({ messageName: name, source: h, timeStamp: new Date((t += 1000)), uniqueId: crypto.randomUUID(), body }, { gzip: name.endsWith('Completed') });
      }
    }
    await pub.close();
    const unit = await until(() => s().tracking.getUnit(serial), (u) => u.status === 'completed', 15_000);
    await consumer.stop();
    expect(unit.history.map((h) => [h.stepSeq, h.result, h.actorName])).toEqual([
      [10, 'pass', `cfx:${handles.printer}`],
      [20, 'pass', `cfx:${handles.placement}`],
      [30, 'pass', `cfx:${handles.aoi}`],
    ]);
    const moves = await s().db.query<{ kind: string }>('SELECT kind FROM unit_movements WHERE identifier = $1 ORDER BY at', [serial]);
    expect(moves.rows.map((r) => r.kind)).toEqual(['arrived', 'departed', 'arrived', 'departed', 'arrived', 'departed']);
  });

  it('mes cfx setup is idempotent and reports the queue', async () => {
    const { cfg } = await freshQueue();
    const again = await setupBroker(cfg);
    expect(again).toMatchObject({ queue: cfg.queue, exchange: 'amq.topic', messages: 0 });
  });
});
