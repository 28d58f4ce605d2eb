import path from 'node:path';

/** Runtime configuration, read once from the environment and validated at boot. */
export interface Config {
  /** PostgreSQL connection string; absent means "start the embedded PostgreSQL". */
  databaseUrl: string | undefined;
  port: number;
  host: string;
  /** Directory for the embedded database, files and keys. */
  dataDir: string;
  /** Port of the embedded PostgreSQL (never the system's 5432). */
  embeddedPgPort: number;
  adminPassword: string | undefined;
  /** Largest accepted request body, in bytes. */
  bodyLimit: number;
  /** Pool size of the application's PostgreSQL connections. */
  dbPoolSize: number;
  /**
   * Seconds between rounds of table maintenance (ANALYZE / VACUUM of the MES's tables, done only
   * when the server's autovacuum is off; see platform/maintenance.ts); 0 = never.
   */
  dbMaintenanceSeconds: number;
  /** Log level for the HTTP server (pino levels) or 'silent'. */
  logLevel: string;
  /** Session lifetime for UI logins, in seconds. */
  sessionTtlSeconds: number;
  /** Mark session cookies Secure (set when the MES is served over HTTPS). */
  secureCookies: boolean;
  /** IPC-CFX: broker subscription, the MES's own handle and its point-to-point request listener. */
  cfx: CfxConfig;
  /** MQTT telemetry subscriber. */
  mqtt: MqttConfig;
}

export interface CfxConfig {
  /** AMQP 1.0 broker, e.g. amqp://user:pass@host:5672 or amqps://… ; absent = no broker consumer / publisher. */
  brokerUrl: string | undefined;
  /** Durable queue the MES consumes (declared by `mes cfx setup`). */
  queue: string;
  /** Exchange CFX endpoints publish to; the queue is bound to it. */
  exchange: string;
  /** Binding key of the queue on the exchange (topic pattern). */
  binding: string;
  /** AMQP 1.0 source address of the consumer; default `/queue/<queue>` (RabbitMQ 3.x AMQP 1.0 plugin). */
  consumerAddress: string;
  /** AMQP 1.0 target address for the MES's own messages; default `/exchange/<exchange>` (routing key = subject). */
  publishAddress: string;
  /** The MES's CFX handle (Source of what it sends, target address of its request listener). */
  handle: string;
  /** Port of the point-to-point AMQP 1.0 request listener; absent = no listener. */
  listenPort: number | undefined;
  listenHost: string;
  /** Deliveries the consumer holds unacknowledged at most (AMQP link credit). */
  credit: number;
  /** Messages applied per transaction at most. */
  batchSize: number;
  /** Parallel ordered lanes (messages of one source handle always share a lane). */
  lanes: number;
  /** Seconds between the MES's own CFX.Heartbeat messages (0 = none). */
  heartbeatSeconds: number;
  /** TLS material for amqps:// and the listener (file paths). */
  tls: { ca: string | undefined; cert: string | undefined; key: string | undefined };
}

export interface MqttConfig {
  /** mqtt://host:1883 or mqtts://…; absent = no MQTT subscriber. */
  url: string | undefined;
  /** Topic filters to subscribe to. */
  topics: string[];
  /** QoS of the subscriptions (1: acknowledged after commit). */
  qos: 0 | 1;
  /** Messages received but not yet committed, at most. */
  maxInFlight: number;
  username: string | undefined;
  password: string | undefined;
}

export class ConfigError extends Error {}

function intVar(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return n;
}

function optionalUrl(env: NodeJS.ProcessEnv, name: string, protocols: string[]): string | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  try {
    const u = new URL(raw);
    if (!protocols.includes(u.protocol.replace(/:$/, ''))) throw new Error('protocol');
  } catch {
    throw new ConfigError(`${name} must be a ${protocols.map((p) => `${p}://`).join(' or ')} URL, got "${raw}"`);
  }
  return raw;
}

function text(env: NodeJS.ProcessEnv, name: string, fallback: string, pattern?: RegExp): string {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (pattern && !pattern.test(raw)) throw new ConfigError(`${name} has an invalid value "${raw}"`);
  return raw;
}

function loadCfxConfig(env: NodeJS.ProcessEnv): CfxConfig {
  const queue = text(env, 'MES_CFX_QUEUE', 'mes.cfx', /^[A-Za-z0-9._:-]{1,200}$/);
  const exchange = text(env, 'MES_CFX_EXCHANGE', 'amq.topic', /^[A-Za-z0-9._:-]{1,200}$/);
  const listen = env.MES_CFX_LISTEN_PORT?.trim();
  return {
    brokerUrl: optionalUrl(env, 'MES_CFX_BROKER_URL', ['amqp', 'amqps']),
    queue,
    exchange,
    binding: text(env, 'MES_CFX_BINDING', '#'),
    consumerAddress: text(env, 'MES_CFX_CONSUMER_ADDRESS', `/queue/${queue}`),
    publishAddress: text(env, 'MES_CFX_PUBLISH_ADDRESS', `/exchange/${exchange}`),
    handle: text(env, 'MES_CFX_HANDLE', 'OpenMES.MES.1', /^[^\s.]+(\.[^\s.]+)+$/),
    listenPort: listen ? intVar(env, 'MES_CFX_LISTEN_PORT', 0, 0, 65535) : undefined,
    listenHost: text(env, 'MES_CFX_LISTEN_HOST', '127.0.0.1'),
    credit: intVar(env, 'MES_CFX_CREDIT', 2000, 1, 100_000),
    batchSize: intVar(env, 'MES_CFX_BATCH', 500, 1, 10_000),
    lanes: intVar(env, 'MES_CFX_LANES', 2, 1, 32),
    heartbeatSeconds: intVar(env, 'MES_CFX_HEARTBEAT', 60, 0, 86_400),
    tls: { ca: env.MES_CFX_TLS_CA || undefined, cert: env.MES_CFX_TLS_CERT || undefined, key: env.MES_CFX_TLS_KEY || undefined },
  };
}

function loadMqttConfig(env: NodeJS.ProcessEnv): MqttConfig {
  const topics = (env.MES_MQTT_TOPICS ?? 'mes/telemetry/#').split(',').map((t) => t.trim()).filter((t) => t !== '');
  if (topics.length === 0) throw new ConfigError('MES_MQTT_TOPICS must name at least one topic filter');
  const qos = intVar(env, 'MES_MQTT_QOS', 1, 0, 1) as 0 | 1;
  return {
    url: optionalUrl(env, 'MES_MQTT_URL', ['mqtt', 'mqtts', 'ws', 'wss']),
    topics,
    qos,
    maxInFlight: intVar(env, 'MES_MQTT_MAX_INFLIGHT', 100, 1, 10_000),
    username: env.MES_MQTT_USERNAME || undefined,
    password: env.MES_MQTT_PASSWORD || undefined,
  };
}

/** Reads and validates the configuration; throws ConfigError naming the bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const databaseUrl = env.DATABASE_URL && env.DATABASE_URL.trim() !== '' ? env.DATABASE_URL.trim() : undefined;
  if (databaseUrl !== undefined) {
    try {
      const u = new URL(databaseUrl);
      if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') throw new Error('protocol');
    } catch {
      throw new ConfigError(`DATABASE_URL must be a postgres:// or postgresql:// URL, got "${databaseUrl}"`);
    }
  }
  const logLevel = env.MES_LOG_LEVEL ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new ConfigError(`MES_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent; got "${logLevel}"`);
  }
  const adminPassword = env.MES_ADMIN_PASSWORD && env.MES_ADMIN_PASSWORD !== '' ? env.MES_ADMIN_PASSWORD : undefined;
  if (adminPassword !== undefined && adminPassword.length < 8) {
    throw new ConfigError('MES_ADMIN_PASSWORD must be at least 8 characters');
  }
  return {
    databaseUrl,
    port: intVar(env, 'PORT', 8080, 0, 65535),
    host: env.HOST && env.HOST !== '' ? env.HOST : '127.0.0.1',
    dataDir: path.resolve(env.MES_DATA_DIR && env.MES_DATA_DIR !== '' ? env.MES_DATA_DIR : './data'),
    embeddedPgPort: intVar(env, 'MES_EMBEDDED_PG_PORT', 54329, 1024, 65535),
    adminPassword,
    bodyLimit: intVar(env, 'MES_BODY_LIMIT', 5 * 1024 * 1024, 1024, 512 * 1024 * 1024),
    dbPoolSize: intVar(env, 'MES_DB_POOL', 10, 1, 200),
    dbMaintenanceSeconds: intVar(env, 'MES_DB_MAINTENANCE_SECONDS', 10, 0, 86_400),
    logLevel,
    sessionTtlSeconds: intVar(env, 'MES_SESSION_TTL', 12 * 3600, 60, 30 * 24 * 3600),
    secureCookies: env.MES_SECURE_COOKIES === '1' || env.MES_SECURE_COOKIES === 'true',
    cfx: loadCfxConfig(env),
    mqtt: loadMqttConfig(env),
  };
}
