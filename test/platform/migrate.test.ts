import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { migrate, readMigrations } from '../../src/platform/migrate.ts';
import { freshDatabase } from '../helpers.ts';

describe('migrations', () => {
  it('two instances starting together apply each migration exactly once', async () => {
    const fresh = await freshDatabase();
    try {
      const results = await Promise.all([migrate(fresh.url), migrate(fresh.url), migrate(fresh.url)]);
      const all = (await readMigrations()).map((m) => m.version);
      // Exactly one runner applied everything; the others found nothing to do.
      expect(results.map((r) => r.length).sort()).toEqual([0, 0, all.length]);
      expect(results.flat().sort((a, b) => a - b)).toEqual(all);
      const c = new pg.Client({ connectionString: fresh.url });
      await c.connect();
      const rows = (await c.query('SELECT version FROM schema_migrations ORDER BY version')).rows.map((r) => r.version);
      await c.end();
      expect(rows).toEqual(all);
      // Idempotent afterwards.
      expect(await migrate(fresh.url)).toEqual([]);
    } finally {
      await fresh.drop();
    }
  });

  it('refuses a migration file that changed after it was applied', async () => {
    const fresh = await freshDatabase();
    try {
      await migrate(fresh.url);
      const c = new pg.Client({ connectionString: fresh.url });
      await c.connect();
      await c.query(`UPDATE schema_migrations SET checksum = 'tampered' WHERE version = 1`);
      await c.end();
      await expect(migrate(fresh.url)).rejects.toThrow(/was changed after it was applied/);
    } finally {
      await fresh.drop();
    }
  });

  it('refuses duplicate numbers, and a new file numbered below an applied one', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mig-'));
    await fs.writeFile(path.join(dir, '0001_a.sql'), 'SELECT 1');
    await fs.writeFile(path.join(dir, '0001_b.sql'), 'SELECT 1');
    await expect(readMigrations(dir)).rejects.toThrow(/used twice/);
    await fs.rm(dir, { recursive: true });
    const fresh = await freshDatabase();
    try {
      await migrate(fresh.url);
      const c = new pg.Client({ connectionString: fresh.url });
      await c.connect();
      await c.query(`INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')`);
      await c.end();
      await expect(migrate(fresh.url)).resolves.toEqual([]);
      const c2 = new pg.Client({ connectionString: fresh.url });
      await c2.connect();
      await c2.query(`DELETE FROM schema_migrations WHERE version = 1`);
      await c2.end();
      await expect(migrate(fresh.url)).rejects.toThrow(/numbered below the last applied/);
    } finally {
      await fresh.drop();
    }
  });
});
