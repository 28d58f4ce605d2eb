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
  /** Log level for the HTTP server (pino levels) or 'silent'. */
  logLevel: string;
  /** Session lifetime for UI logins, in seconds. */
  sessionTtlSeconds: number;
  /** Mark session cookies Secure (set when the MES is served over HTTPS). */
  secureCookies: boolean;
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
    logLevel,
    sessionTtlSeconds: intVar(env, 'MES_SESSION_TTL', 12 * 3600, 60, 30 * 24 * 3600),
    secureCookies: env.MES_SECURE_COOKIES === '1' || env.MES_SECURE_COOKIES === 'true',
  };
}
