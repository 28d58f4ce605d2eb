import fs from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');

/** Arbitrary constant key of the advisory lock that serialises migration runs. */
const MIGRATION_LOCK_KEY = 7_340_211_009;

export interface MigrationFile {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

/** Lists `NNNN_name.sql` files in order; refuses duplicate numbers (gaps are allowed). */
export async function readMigrations(dir = MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const out: MigrationFile[] = [];
  for (const f of files) {
    const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(f);
    if (!m) throw new Error(`Migration file name ${f} must look like 0001_name.sql`);
    const version = Number(m[1]);
    if (out.some((m) => m.version === version)) throw new Error(`Migration number ${m[1]} is used twice (${f})`);
    const sql = await fs.readFile(path.join(dir, f), 'utf8');
    out.push({ version, name: m[2]!, sql, checksum: crypto.createHash('sha256').update(sql).digest('hex') });
  }
  return out;
}

/**
 * Applies pending forward-only migrations, each in its own transaction, while holding a
 * session advisory lock so that several MES instances starting together apply each file
 * exactly once. An already-applied file whose content changed is an error: migrations are
 * never edited after they ship.
 */
export async function migrate(connectionString: string, log: (s: string) => void = () => undefined): Promise<number[]> {
  const migrations = await readMigrations();
  const client = new pg.Client({ connectionString });
  await client.connect();
  const applied: number[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const done = new Map<number, string>();
    for (const r of (await client.query<{ version: number; checksum: string }>('SELECT version, checksum FROM schema_migrations')).rows) {
      done.set(r.version, r.checksum);
    }
    const highestApplied = Math.max(0, ...done.keys());
    for (const m of migrations) {
      const prior = done.get(m.version);
      if (prior === undefined && m.version < highestApplied) {
        throw new Error(`Migration ${m.version}_${m.name} is new but numbered below the last applied one (${highestApplied}); renumber it`);
      }
      if (prior !== undefined) {
        if (prior !== m.checksum) throw new Error(`Migration ${m.version}_${m.name} was changed after it was applied`);
        continue;
      }
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK');
        throw new Error(`Migration ${m.version}_${m.name} failed: ${(e as Error).message}`);
      }
      applied.push(m.version);
      log(`applied migration ${m.version}_${m.name}`);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await client.end();
  }
  return applied;
}
