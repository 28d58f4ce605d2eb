import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { gzipSync } from 'node:zlib';
import type { AddressInfo, Server } from 'node:net';
import amqplib from 'amqplib';
import rhea from 'rhea';
import type { Connection, Delivery, EventContext, Message, Receiver, Sender } from 'rhea';
import { Worker } from 'node:worker_threads';
import type { CfxConfig, Config } from '../../platform/config.ts';
import { HealthState, type Adapter, type AdapterHealth } from '../adapter.ts';
import { LaneBatcher } from './batcher.ts';
import { RequestPriority } from './priority.ts';
import { encodeCfxEnvelope, type CfxOutgoingEnvelope } from './codec.ts';
import { decodeForIngest, orderingKey, type IncomingPayload, type IngestResult } from './ingest.ts';

/**
 * IPC-CFX over AMQP 1.0 (rhea):
 * - the broker consumer: a durable queue bound to the CFX exchange (declared by `mes cfx setup`
 *   with AMQP 0-9-1, since AMQP 1.0 cannot declare), read with bounded link credit; each
 *   delivery is accepted only after the batch holding it committed;
 * - the publisher of the MES's own CFX messages (heartbeat, endpoint connected / shutting down,
 *   responses to requests that came through the broker): subject `<handle>.<MessageName>`, the
 *   routing key on the topic exchange;
 * - the point-to-point request listener at the MES's handle, answering on the requester's
 *   reply-to link with the correlation id.
 * Message body: one Data section of UTF-8 JSON (optionally gzip, content-encoding), an envelope
 * or an array of envelopes. Addresses are configurable (RabbitMQ 4 uses other address forms).
 */

export type Ingest = (inputs: IncomingPayload[]) => Promise<IngestResult[]>;
export type Log = (msg: string, err?: unknown) => void;

/** Connection options for rhea from an amqp:// or amqps:// URL (user, password, vhost, TLS files). */
export function rheaConnectOptions(url: string, tls: CfxConfig['tls'] = { ca: undefined, cert: undefined, key: undefined }): Record<string, unknown> {
  const u = new URL(url);
  const secure = u.protocol === 'amqps:';
  const vhost = decodeURIComponent(u.pathname.replace(/^\//, ''));
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : secure ? 5671 : 5672,
    ...(u.username ? { username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) } : {}),
    ...(vhost ? { hostname: `vhost:${vhost}` } : {}),
    ...(secure
      ? {
          transport: 'tls',
          servername: u.hostname,
          ...(tls.ca ? { ca: fs.readFileSync(tls.ca) } : {}),
          ...(tls.cert ? { cert: fs.readFileSync(tls.cert) } : {}),
          ...(tls.key ? { key: fs.readFileSync(tls.key) } : {}),
        }
      : {}),
    // Dispositions and flow frames are small: without it Nagle and delayed ACKs add ~40 ms.
    tcp_no_delay: true,
    reconnect: true,
    initial_reconnect_delay: 200,
    max_reconnect_delay: 5_000,
    idle_time_out: 60_000,
  };
}

/** The bytes of an AMQP message body: a Data section (the CFX form), or an AMQP value. */
export function bodyBytes(message: Message): Buffer | string {
  const b = message.body as unknown;
  if (b && typeof b === 'object' && 'typecode' in b && 'content' in b) {
    const s = b as { typecode: number; content: unknown; multiple?: boolean };
    if (s.multiple && Array.isArray(s.content)) return Buffer.concat(s.content.map((c) => Buffer.from(c as Uint8Array)));
    if (Buffer.isBuffer(s.content) || s.content instanceof Uint8Array) return Buffer.from(s.content);
    return typeof s.content === 'string' ? s.content : JSON.stringify(s.content);
  }
  if (Buffer.isBuffer(b)) return b;
  if (b instanceof Uint8Array) return Buffer.from(b);
  if (typeof b === 'string') return b;
  return JSON.stringify(b ?? null);
}

/** The sender's handle from the AMQP properties (for lane choice before decoding). */
function senderKey(m: Message): string | null {
  const props = m.application_properties as Record<string, unknown> | undefined;
  const h = props?.['cfx-handle'];
  if (typeof h === 'string') return `s:${h}`;
  const subject = typeof m.subject === 'string' ? m.subject : null;
  const i = subject ? subject.indexOf('.CFX.') : -1;
  return subject && i > 0 ? `s:${subject.slice(0, i)}` : null;
}

interface WireMeta {
  messageName: string;
  uniqueId: string;
  source: string | null;
  target: string | null;
  requestId: string | null;
}
export interface MessageOptions {
  gzip?: boolean;
  replyTo?: string;
  correlationId?: string | null;
}

function messageFor(json: Buffer, meta: WireMeta, opts: MessageOptions): Message {
  const body = opts.gzip ? gzipSync(json) : json;
  const source = meta.source ?? '';
  const correlation = opts.correlationId ?? meta.requestId;
  return {
    message_id: meta.uniqueId,
    subject: `${source}.${meta.messageName}`,
    ...(meta.target ? { to: meta.target } : {}),
    ...(opts.replyTo ? { reply_to: opts.replyTo } : {}),
    ...(correlation ? { correlation_id: correlation } : {}),
    creation_time: new Date(),
    content_type: 'application/json',
    ...(opts.gzip ? { content_encoding: 'gzip' } : {}),
    durable: true,
    application_properties: {
      'cfx-topic': meta.messageName.split('.').slice(0, -1).join('.'),
      'cfx-message': meta.messageName,
      'cfx-handle': source,
      ...(meta.target ? { 'cfx-target': meta.target } : {}),
    },
    body: rhea.message.data_section(body),
  } as Message;
}

/** The AMQP message for an outgoing envelope, with the CFX properties mirrored (message-id = UniqueID, subject = `<Source>.<MessageName>`, …). */
export function amqpMessage(env: CfxOutgoingEnvelope, opts: MessageOptions = {}): Message {
  const uniqueId = env.uniqueId ?? randomUUID();
  const json = Buffer.from(encodeCfxEnvelope({ ...env, uniqueId }), 'utf8');
  return messageFor(json, { messageName: env.messageName, uniqueId, source: env.source ?? null, target: env.target ?? null, requestId: env.requestId ?? null }, opts);
}

/** The same for an envelope already in wire form (e.g. a stored response). */
export function amqpMessageFromWire(w: Record<string, unknown>, opts: MessageOptions = {}): Message {
  const str = (k: string) => (typeof w[k] === 'string' ? (w[k] as string) : null);
  return messageFor(
    Buffer.from(JSON.stringify(w), 'utf8'),
    { messageName: str('MessageName') ?? 'CFX.Unknown', uniqueId: str('UniqueID') ?? randomUUID(), source: str('Source'), target: str('Target'), requestId: str('RequestID') },
    opts,
  );
}

/**
 * Declares the durable queue and binds it to the CFX exchange (AMQP 0-9-1, amqplib): the
 * deployment step behind `mes cfx setup`. Idempotent.
 */
export async function setupBroker(cfg: Pick<CfxConfig, 'brokerUrl' | 'queue' | 'exchange' | 'binding' | 'tls'>): Promise<{ queue: string; exchange: string; binding: string; messages: number; consumers: number }> {
  if (!cfg.brokerUrl) throw new Error('MES_CFX_BROKER_URL is not set');
  const socketOptions = cfg.brokerUrl.startsWith('amqps:')
    ? { ...(cfg.tls.ca ? { ca: [fs.readFileSync(cfg.tls.ca)] } : {}), ...(cfg.tls.cert ? { cert: fs.readFileSync(cfg.tls.cert) } : {}), ...(cfg.tls.key ? { key: fs.readFileSync(cfg.tls.key) } : {}) }
    : {};
  const conn = await amqplib.connect(cfg.brokerUrl, socketOptions);
  try {
    const ch = await conn.createChannel();
    if (!cfg.exchange.startsWith('amq.')) await ch.assertExchange(cfg.exchange, 'topic', { durable: true });
    const q = await ch.assertQueue(cfg.queue, { durable: true, autoDelete: false });
    await ch.bindQueue(cfg.queue, cfg.exchange, cfg.binding);
    await ch.close();
    return { queue: cfg.queue, exchange: cfg.exchange, binding: cfg.binding, messages: q.messageCount, consumers: q.consumerCount };
  } finally {
    await conn.close();
  }
}

interface Tag {
  delivery: Delivery;
  generation: number;
}

/**
 * The broker consumer and the MES's publisher on one AMQP 1.0 connection. At most `credit`
 * deliveries are held unacknowledged; a delivery is accepted after its batch committed, and
 * credit is given back then. A connection loss voids the held deliveries (the broker
 * redelivers them; the inbox makes the redelivery harmless).
 */
export function createAmqpConsumer(ingest: Ingest, cfg: CfxConfig, opts: { log?: Log; publishHeartbeat?: () => CfxOutgoingEnvelope | null } = {}) {
  const log = opts.log ?? (() => undefined);
  const health = new HealthState('cfx-amqp');
  let conn: Connection | null = null;
  let receiver: Receiver | null = null;
  let sender: Sender | null = null;
  let generation = 0;
  /** Deliveries of the current connection received and not yet settled. */
  let held = 0;
  let heartbeat: NodeJS.Timeout | null = null;
  const unsettledSends = new Map<Delivery, { resolve(): void; reject(e: Error): void }>();
  let firstOpen: { resolve(): void; reject(e: Error): void } | null = null;

  const batcher = new LaneBatcher<Tag>({
    lanes: cfg.lanes,
    batchSize: cfg.batchSize,
    ingest,
    isStale: (t) => t.generation !== generation,
    settle(items, results) {
      let current = 0;
      items.forEach((it, i) => {
        const r = results[i]!;
        health.count('received');
        health.count('messages', r.messages.length || 1);
        for (const m of r.messages) health.count(m.outcome);
        if (r.payloadError) health.count('payloadErrors');
        if (it.tag.generation !== generation) return;
        it.tag.delivery.accept();
        current++;
        // Responses to requests that came through the broker go back through it.
        for (const resp of r.responses) void publishWire([resp]).catch((e) => log('could not publish a CFX response', e));
      });
      held -= current;
      topUp();
      if (health.state === 'degraded') health.set('up', `consuming ${cfg.consumerAddress}`);
    },
    onError(err, attempt) {
      health.count('batchFailures');
      health.set('degraded', `applying a batch failed (attempt ${attempt}), retrying; nothing acknowledged: ${(err as Error).message}`);
      log('CFX batch failed; retrying', err);
    },
  });

  async function start(): Promise<void> {
    if (!cfg.brokerUrl) throw new Error('MES_CFX_BROKER_URL is not set');
    health.set('starting', cfg.brokerUrl.replace(/\/\/[^@]*@/, '//'));
    const container = rhea.create_container({ id: `${cfg.handle}#${process.pid}` });
    const ready = new Promise<void>((resolve, reject) => (firstOpen = { resolve, reject }));
    container.on('receiver_open', (ctx: EventContext) => {
      generation++;
      held = 0;
      ctx.receiver!.add_credit(cfg.credit);
      health.set('up', `consuming ${cfg.consumerAddress}`);
      firstOpen?.resolve();
      firstOpen = null;
    });
    container.on('message', (ctx: EventContext) => {
      held++;
      incoming.push({ message: ctx.message!, tag: { delivery: ctx.delivery!, generation } });
      if (!dispatching) {
        dispatching = true;
        void dispatch();
      }
    });
    container.on('accepted', (ctx: EventContext) => settleSend(ctx, null));
    container.on('rejected', (ctx: EventContext) => settleSend(ctx, new Error(`the broker rejected a message: ${JSON.stringify(ctx.delivery?.remote_state?.error ?? '')}`)));
    container.on('released', (ctx: EventContext) => settleSend(ctx, new Error('the broker released a message (no route?)')));
    container.on('modified', (ctx: EventContext) => settleSend(ctx, new Error('the broker did not take a message')));
    container.on('disconnected', (ctx: EventContext) => {
      generation++; // deliveries of the lost connection are void: the broker redelivers them
      const dropped = batcher.discard((t) => t.generation !== generation);
      if (dropped) health.count('voidedByDisconnect', dropped);
      for (const [, p] of unsettledSends) p.reject(new Error('disconnected'));
      unsettledSends.clear();
      const why = (ctx.error as Error | undefined)?.message ?? 'connection lost';
      health.set('down', `${why}; reconnecting`);
      firstOpen?.reject(new Error(`cannot connect to the CFX broker: ${why}`));
      firstOpen = null;
    });
    container.on('receiver_error', (ctx: EventContext) => {
      const err = ctx.receiver?.error as { description?: string } | undefined;
      health.set('down', `consumer link refused: ${err?.description ?? 'unknown'} (did \`mes cfx setup\` declare ${cfg.queue}?)`);
      firstOpen?.reject(new Error(`the broker refused the consumer link on ${cfg.consumerAddress}: ${err?.description ?? 'unknown'}`));
      firstOpen = null;
    });
    const refused = (what: string, e: unknown) => {
      const why = (e as { description?: string; message?: string })?.description ?? (e as Error)?.message ?? String(e);
      health.set('down', `${what}: ${why}`);
      log(`AMQP ${what}`, e);
      firstOpen?.reject(new Error(`the CFX broker refused the ${what === 'error' ? 'connection' : what}: ${why} (did \`mes cfx setup\` declare ${cfg.queue}?)`));
      firstOpen = null;
    };
    container.on('session_error', (ctx: EventContext) => refused('session', ctx.session?.error));
    container.on('connection_error', (ctx: EventContext) => refused('connection', ctx.connection?.error));
    container.on('error', (e: unknown) => refused('error', e));
    conn = container.connect(rheaConnectOptions(cfg.brokerUrl, cfg.tls) as never);
    // A durable terminus: RabbitMQ's AMQP 1.0 plugin checks it against the durable queue.
    receiver = conn.open_receiver({ source: { address: cfg.consumerAddress, durable: 2, expiry_policy: 'never' }, autoaccept: false, credit_window: 0 } as never);
    sender = conn.open_sender({ target: { address: cfg.publishAddress, durable: 2 } } as never);
    try {
      await ready;
    } catch (e) {
      await stop();
      throw e;
    }
    if (cfg.heartbeatSeconds > 0 && opts.publishHeartbeat) {
      heartbeat = setInterval(() => {
        const hb = opts.publishHeartbeat!();
        if (hb) void publish([hb]).catch(() => undefined);
      }, cfg.heartbeatSeconds * 1000);
      heartbeat.unref();
    }
  }

  const incoming: { message: Message; tag: Tag }[] = [];
  let dispatching = false;
  /**
   * Decodes deliveries (once: the pipeline reuses it) to order them by unit (see orderingKey) and
   * hands them to the lanes; yields to I/O every few, so a burst from the socket does not hold the
   * event loop the request listener shares.
   */
  async function dispatch(): Promise<void> {
    let n = 0;
    try {
      while (incoming.length) {
        const { message: m, tag } = incoming.shift()!;
        const payload = bodyBytes(m);
        const contentEncoding = typeof m.content_encoding === 'string' ? m.content_encoding : null;
        const receivedAt = new Date();
        const decoded = decodeForIngest(payload, contentEncoding, receivedAt);
        batcher.push({ input: { payload, contentEncoding, transport: 'amqp', receivedAt, decoded }, tag }, orderingKey(decoded) ?? senderKey(m));
        if (++n % 25 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      // Reset in the same tick the queue was seen empty, so the next delivery starts a new round.
      dispatching = false;
    }
  }

  /**
   * Gives credit back, in one grant when the link's credit is used up. RabbitMQ 3.x's AMQP 1.0
   * plugin adds each flow's link-credit to what it still holds instead of replacing it (measured:
   * credit 500 granted one by one let 2,048 deliveries through); granting only at zero keeps the
   * number of unacknowledged deliveries at `credit` with it, and is correct for any broker.
   */
  function topUp(): void {
    if (!receiver || (receiver as unknown as { credit: number }).credit > 0) return;
    const want = cfg.credit - held;
    if (want >= Math.ceil(cfg.credit / 2)) receiver.add_credit(want);
  }

  function settleSend(ctx: EventContext, err: Error | null): void {
    if (!ctx.sender || !ctx.delivery) return;
    const p = unsettledSends.get(ctx.delivery);
    if (!p) return;
    unsettledSends.delete(ctx.delivery);
    if (err) p.reject(err);
    else p.resolve();
  }

  async function sendAll(messages: Message[]): Promise<void> {
    if (!sender || !conn?.is_open()) throw new Error('not connected to the CFX broker');
    await Promise.all(messages.map((msg) => new Promise<void>((resolve, reject) => unsettledSends.set(sender!.send(msg), { resolve, reject }))));
    health.count('published', messages.length);
  }

  /** Publishes envelopes to the exchange (Source defaults to the MES's handle); resolves when the broker accepted each. */
  async function publish(envs: CfxOutgoingEnvelope[]): Promise<void> {
    await sendAll(envs.map((env) => amqpMessage({ ...env, source: env.source ?? cfg.handle })));
  }

  async function publishWire(envs: Record<string, unknown>[]): Promise<void> {
    await sendAll(envs.map((w) => amqpMessageFromWire(w)));
  }

  async function stop(): Promise<void> {
    if (heartbeat) clearInterval(heartbeat);
    heartbeat = null;
    await batcher.stop();
    if (conn) {
      const c = conn;
      conn = null;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 2_000);
        c.once('connection_close', () => {
          clearTimeout(t);
          resolve();
        });
        try {
          c.close();
        } catch {
          clearTimeout(t);
          resolve();
        }
      });
      (c as unknown as { options: { reconnect: boolean } }).options.reconnect = false;
    }
    health.set('stopped');
  }

  const adapter: Adapter & { publish: typeof publish; batcher: LaneBatcher<Tag> } = {
    name: 'cfx-amqp',
    start,
    stop,
    health: () => ({ ...health.snapshot(), counters: { ...health.snapshot().counters, pending: batcher.pending } }),
    publish,
    batcher,
  };
  return adapter;
}

/**
 * The point-to-point AMQP 1.0 request listener at the MES's CFX handle. A requester opens a
 * sender to the handle and a receiver for the answers (its target is the reply-to address, or
 * a dynamic source the listener names); each request is applied at once (its own transaction)
 * and the response sent back with the request's message-id (or RequestID) as correlation-id.
 */
export function createRequestListener(
  ingest: Ingest,
  cfg: Pick<CfxConfig, 'handle' | 'listenPort' | 'listenHost' | 'tls'>,
  opts: { log?: Log; /** Shared with the broker consumer's thread: its batches give way while requests are answered. */ priority?: RequestPriority } = {},
) {
  const log = opts.log ?? (() => undefined);
  const health = new HealthState('cfx-listener');
  let server: Server | null = null;
  const replyLinks = new WeakMap<Connection, Map<string, Sender>>();
  const connections = new Set<Connection>();

  function links(c: Connection): Map<string, Sender> {
    let m = replyLinks.get(c);
    if (!m) replyLinks.set(c, (m = new Map()));
    return m;
  }

  async function start(): Promise<void> {
    health.set('starting');
    const container = rhea.create_container({ id: cfg.handle });
    container.on('connection_open', (ctx: EventContext) => connections.add(ctx.connection));
    container.on('connection_close', (ctx: EventContext) => connections.delete(ctx.connection));
    container.on('disconnected', (ctx: EventContext) => connections.delete(ctx.connection));
    container.on('sender_open', (ctx: EventContext) => {
      const s = ctx.sender!;
      const src = s.source as { address?: string; dynamic?: boolean } | undefined;
      const tgt = s.target as { address?: string } | undefined;
      let address = src?.address;
      if (src?.dynamic) address = `${cfg.handle}/reply/${randomUUID()}`;
      s.set_source({ address: address ?? cfg.handle });
      s.set_target({ address: tgt?.address ?? '' });
      const m = links(ctx.connection);
      if (address) m.set(address, s);
      if (tgt?.address) m.set(tgt.address, s);
    });
    container.on('receiver_open', (ctx: EventContext) => {
      const r = ctx.receiver!;
      const tgt = r.target as { address?: string } | undefined;
      r.set_target({ address: tgt?.address ?? cfg.handle });
      r.set_source({ address: (r.source as { address?: string } | undefined)?.address ?? '' });
    });
    container.on('message', (ctx: EventContext) => void handle(ctx));
    container.on('error', (e: unknown) => log('AMQP listener error', e));
    const port = cfg.listenPort ?? 0;
    const tlsOpts = cfg.tls.cert && cfg.tls.key ? { transport: 'tls', cert: fs.readFileSync(cfg.tls.cert), key: fs.readFileSync(cfg.tls.key), ...(cfg.tls.ca ? { ca: fs.readFileSync(cfg.tls.ca) } : {}) } : {};
    // tcp_no_delay: a response is one small frame; Nagle with delayed ACKs would add ~40 ms to each.
    server = container.listen({ port, host: cfg.listenHost, tcp_no_delay: true, ...tlsOpts } as never) as unknown as Server;
    await new Promise<void>((resolve, reject) => {
      server!.once('listening', resolve);
      server!.once('error', reject);
    });
    health.set('up', `amqp://${cfg.listenHost}:${address().port}/ (target ${cfg.handle})`);
  }

  async function handle(ctx: EventContext): Promise<void> {
    const m = ctx.message!;
    const delivery = ctx.delivery!;
    health.count('requests');
    try {
      const input = { payload: bodyBytes(m), contentEncoding: typeof m.content_encoding === 'string' ? m.content_encoding : null, transport: 'amqp-p2p' as const, receivedAt: new Date() };
      const [r] = opts.priority ? await opts.priority.run(() => ingest([input])) : await ingest([input]);
      delivery.accept();
      const replyTo = typeof m.reply_to === 'string' ? m.reply_to : null;
      const ls = links(ctx.connection);
      const out = (replyTo ? ls.get(replyTo) : undefined) ?? ctx.connection.find_sender(() => true);
      if (r!.responses.length && !out) {
        health.count('unanswerable');
        log(`CFX request without a reply link (reply-to ${replyTo ?? 'none'}); response not sent`);
        return;
      }
      for (const resp of r!.responses) {
        const body = Buffer.from(JSON.stringify(resp), 'utf8');
        out!.send({
          message_id: String(resp.UniqueID ?? randomUUID()),
          correlation_id: (m.message_id ?? m.correlation_id ?? resp.RequestID ?? undefined) as string,
          ...(replyTo ? { to: replyTo } : {}),
          subject: `${cfg.handle}.${String(resp.MessageName)}`,
          content_type: 'application/json',
          creation_time: new Date(),
          application_properties: { 'cfx-message': String(resp.MessageName), 'cfx-handle': cfg.handle },
          body: rhea.message.data_section(body),
        } as Message);
        health.count('responses');
      }
    } catch (e) {
      health.count('failures');
      log('CFX request failed', e);
      // Not committed: release it so the requester may retry.
      delivery.release({ delivery_failed: true });
    }
  }

  function address(): AddressInfo {
    return server!.address() as AddressInfo;
  }

  async function stop(): Promise<void> {
    for (const c of connections) {
      try {
        c.close();
      } catch {
        /* already closed */
      }
    }
    connections.clear();
    if (server) {
      const s = server;
      server = null;
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
    health.set('stopped');
  }

  const adapter: Adapter & { address: typeof address } = { name: 'cfx-listener', start, stop, health: () => health.snapshot(), address };
  return adapter;
}

/**
 * A CFX requester (what a machine or line controller does): connects to an endpoint's
 * listener, sends requests to its handle and waits for the response by correlation id. Used by
 * the simulator, the tests and the benchmark.
 */
export async function connectRequester(opts: { host: string; port: number; target: string; handle: string; timeoutMs?: number }) {
  const container = rhea.create_container({ id: `${opts.handle}#req` });
  const conn = container.connect({ host: opts.host, port: opts.port, reconnect: false, tcp_no_delay: true } as never);
  const replyTo = `${opts.handle}/replies/${randomUUID()}`;
  const waiting = new Map<string, { resolve(v: Record<string, unknown>): void; reject(e: Error): void; timer: NodeJS.Timeout }>();
  const receiver = conn.open_receiver({ source: { address: opts.target }, target: { address: replyTo } } as never);
  const sender = conn.open_sender({ target: { address: opts.target } });
  receiver.on('message', (ctx: EventContext) => {
    const m = ctx.message!;
    const text = bodyBytes(m);
    const env = JSON.parse(typeof text === 'string' ? text : text.toString('utf8')) as Record<string, unknown>;
    const key = String(m.correlation_id ?? env.RequestID ?? '');
    const w = waiting.get(key);
    if (!w) return;
    waiting.delete(key);
    clearTimeout(w.timer);
    w.resolve(env);
  });
  await new Promise<void>((resolve, reject) => {
    let n = 0;
    const done = () => ++n === 2 && resolve();
    sender.once('sendable', done);
    receiver.once('receiver_open', done);
    conn.once('connection_error', (ctx: EventContext) => reject(ctx.connection.error));
    conn.once('disconnected', (ctx: EventContext) => reject((ctx.error as Error) ?? new Error('disconnected')));
  });

  /** Sends one request envelope; resolves with the response envelope (wire form). */
  function request(env: CfxOutgoingEnvelope): Promise<Record<string, unknown>> {
    const uniqueId = env.uniqueId ?? randomUUID();
    const full: CfxOutgoingEnvelope = { ...env, uniqueId, source: env.source ?? opts.handle, target: env.target ?? opts.target, requestId: env.requestId ?? uniqueId };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(uniqueId);
        reject(new Error(`no response to ${env.messageName} within ${opts.timeoutMs ?? 30_000} ms`));
      }, opts.timeoutMs ?? 30_000);
      waiting.set(uniqueId, { resolve, reject, timer });
      sender.send(amqpMessage(full, { replyTo }));
    });
  }

  async function close(): Promise<void> {
    for (const w of waiting.values()) {
      clearTimeout(w.timer);
      w.reject(new Error('closed'));
    }
    waiting.clear();
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 1000);
      conn.once('connection_close', () => {
        clearTimeout(t);
        resolve();
      });
      conn.close();
    });
  }
  return { request, close };
}

/**
 * A publisher to the broker with a bounded number of unsettled messages (what machines do; used
 * by the simulator, tests and the benchmark).
 */
export async function connectPublisher(url: string, opts: { address: string; maxInFlight?: number; tls?: CfxConfig['tls'] }) {
  const container = rhea.create_container({ id: `cfx-publisher-${randomUUID()}` });
  const conn = container.connect({ ...rheaConnectOptions(url, opts.tls), reconnect: false } as never);
  const sender = conn.open_sender({ target: { address: opts.address, durable: 2 } } as never);
  const max = opts.maxInFlight ?? 1000;
  let inFlight = 0;
  let failed: Error | null = null;
  const waiters: (() => void)[] = [];
  const release = () => {
    inFlight--;
    waiters.shift()?.();
  };
  sender.on('accepted', release);
  sender.on('rejected', (ctx: EventContext) => {
    failed = new Error(`rejected: ${JSON.stringify(ctx.delivery?.remote_state ?? '')}`);
    release();
  });
  sender.on('released', (ctx: EventContext) => {
    failed = new Error(`released: ${JSON.stringify(ctx.delivery?.remote_state ?? '')}`);
    release();
  });
  await new Promise<void>((resolve, reject) => {
    sender.once('sendable', () => resolve());
    conn.once('disconnected', (ctx: EventContext) => reject((ctx.error as Error) ?? new Error('disconnected')));
    sender.once('sender_error', (ctx: EventContext) => reject(new Error(String((ctx.sender?.error as { description?: string })?.description))));
  });
  async function send(m: Message): Promise<void> {
    if (failed) throw failed;
    while (inFlight >= max || !sender.sendable()) await new Promise<void>((r) => (inFlight >= max ? waiters.push(r) : setTimeout(r, 1)));
    inFlight++;
    sender.send(m);
  }
  async function flush(): Promise<void> {
    while (inFlight > 0) await new Promise<void>((r) => waiters.push(r));
    if (failed) throw failed;
  }
  async function close(): Promise<void> {
    await flush().catch(() => undefined);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 1000);
      conn.once('connection_close', () => {
        clearTimeout(t);
        resolve();
      });
      conn.close();
    });
  }
  return { send, flush, close, publish: (env: CfxOutgoingEnvelope, o: { gzip?: boolean } = {}) => send(amqpMessage(env, o)) };
}

/**
 * The broker consumer in a worker thread (consumer-worker.ts), with its own database pool and
 * services: bulk ingestion then never delays the main thread's interactive doors (HTTP, the
 * request listener's ValidateUnitsRequest answers). Same behaviour and health as
 * createAmqpConsumer; `publish` is forwarded to the thread's connection.
 */
export function createThreadedConsumer(cfg: Config, databaseUrl: string, opts: { log?: Log; /** See createRequestListener. */ priority?: RequestPriority } = {}) {
  const log = opts.log ?? (() => undefined);
  let worker: Worker | null = null;
  let last: AdapterHealth = { name: 'cfx-amqp', state: 'stopped', detail: null, since: new Date(), counters: {} };
  let seq = 0;
  const pending = new Map<number, { resolve(): void; reject(e: Error): void }>();

  async function start(): Promise<void> {
    const w = new Worker(workerBootstrap(), { eval: true, workerData: { config: cfg, databaseUrl, priority: opts.priority?.buffer } });
    worker = w;
    last = { ...last, state: 'starting', since: new Date() };
    await new Promise<void>((resolve, reject) => {
      w.on('message', (m: { event: string; [k: string]: unknown }) => {
        if (m.event === 'ready') resolve();
        else if (m.event === 'failed') reject(new Error(String(m.message)));
        else if (m.event === 'health') last = m.health as AdapterHealth;
        else if (m.event === 'log') log(String(m.message), m.error);
        else if (m.event === 'published') {
          const p = pending.get(m.id as number);
          pending.delete(m.id as number);
          if (m.error) p?.reject(new Error(String(m.error)));
          else p?.resolve();
        }
      });
      w.once('error', (e) => {
        last = { ...last, state: 'down', detail: `consumer thread failed: ${e.message}`, since: new Date() };
        log('CFX consumer thread failed', e);
        reject(e);
      });
      w.once('exit', (code) => {
        if (worker === w && code !== 0) last = { ...last, state: 'down', detail: `consumer thread exited with ${code}`, since: new Date() };
        for (const p of pending.values()) p.reject(new Error('consumer thread stopped'));
        pending.clear();
      });
    });
  }

  async function publish(envs: CfxOutgoingEnvelope[]): Promise<void> {
    if (!worker) throw new Error('not connected to the CFX broker');
    const id = ++seq;
    const done = new Promise<void>((resolve, reject) => pending.set(id, { resolve, reject }));
    worker.postMessage({ cmd: 'publish', id, envs });
    return done;
  }

  async function stop(): Promise<void> {
    const w = worker;
    worker = null;
    if (!w) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => void w.terminate().then(() => resolve()), 10_000);
      w.on('message', (m: { event: string }) => {
        if (m.event === 'stopped') {
          clearTimeout(t);
          resolve();
        }
      });
      w.postMessage({ cmd: 'stop' });
    });
    await w.terminate().catch(() => undefined);
    last = { ...last, state: 'stopped', since: new Date() };
  }

  const adapter: Adapter & { publish: typeof publish } = { name: 'cfx-amqp', start, stop, health: () => last, publish };
  return adapter;
}

/**
 * The thread's entry: consumer-worker.ts run through tsx when this file runs as TypeScript
 * (worker threads do not inherit the loader), the compiled .js otherwise.
 */
function workerBootstrap(): string {
  const ts = import.meta.url.endsWith('.ts');
  const target = new URL(`./consumer-worker.${ts ? 'ts' : 'js'}`, import.meta.url).href;
  if (!ts) return `import(${JSON.stringify(target)});`;
  const tsx = import.meta.resolve('tsx/esm/api');
  return `import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(target)}); });`;
}
