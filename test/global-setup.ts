import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrate } from '../src/platform/migrate.ts';
import { startEmbeddedPostgres, type EmbeddedHandle } from '../src/platform/embedded-pg.ts';

/**
 * Creates one fresh, migrated database for the test run and hands its URL to the tests.
 * With DATABASE_URL set (CI: the machine's PostgreSQL 15) the database is created there;
 * without it, the embedded PostgreSQL under .tmp/test-pg is started, so `npm test` works on
 * a machine with no PostgreSQL installed.
 */
let embedded: EmbeddedHandle | null = null;
let adminUrl = '';
let dbName = '';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    adminDatabaseUrl: string;
  }
}

function withDb(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.DATABASE_URL) {
    adminUrl = process.env.DATABASE_URL;
  } else {
    embedded = await startEmbeddedPostgres(new URL('../.tmp/test-pg', import.meta.url).pathname, 54339);
    adminUrl = embedded.connectionString;
  }
  dbName = `mes_test_${Date.now()}_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const url = withDb(adminUrl, dbName);
  await migrate(url);
  project.provide('databaseUrl', url);
  project.provide('adminDatabaseUrl', adminUrl);
  return async () => {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    // Databases made by individual tests (migration races) follow the same naming.
    const extra = await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`${dbName}_%`]);
    for (const r of extra.rows) await c.query(`DROP DATABASE IF EXISTS ${r.datname} WITH (FORCE)`);
    await c.end();
    await embedded?.stop();
  };
}
