import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/platform/config.ts';
import { startServer } from '../../src/main.ts';

describe('zero-configuration start on the embedded PostgreSQL', () => {
  it('initialises a cluster in the data directory, migrates, creates admin and answers health', async () => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mes-embedded-'));
    const lines: string[] = [];
    const port = 20000 + Math.floor(Math.random() * 20000);
    const config = loadConfig({ MES_DATA_DIR: dataDir, PORT: '0', MES_EMBEDDED_PG_PORT: String(port), MES_LOG_LEVEL: 'silent' });
    expect(config.databaseUrl).toBeUndefined();
    const running = await startServer(config, (s) => lines.push(s));
    try {
      const health = (await fetch(`${running.url}/api/v1/health`).then((r) => r.json())) as { status: string; database: { version: string } };
      expect(health.status).toBe('ok');
      expect(Number.parseInt(health.database.version, 10)).toBeGreaterThanOrEqual(15);
      expect(lines.some((l) => /generated password: \S{16}/.test(l))).toBe(true);
      const stat = await fs.stat(path.join(dataDir, 'pg', 'PG_VERSION'));
      if (process.getuid?.() === 0) expect(stat.uid).not.toBe(0); // runs as the postgres user, never root
    } finally {
      await running.stop();
    }
    // A second start reuses the cluster and does not create admin again.
    const again = await startServer(config, (s) => lines.push(`2:${s}`));
    try {
      expect(lines.filter((l) => l.startsWith('2:') && /admin/.test(l))).toEqual([]);
      expect((await fetch(`${again.url}/api/v1/health`)).status).toBe(200);
    } finally {
      await again.stop();
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
