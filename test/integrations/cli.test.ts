import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import { promisify } from 'node:util';
import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/platform/migrate.ts';
import { freshDatabase } from '../helpers.ts';
import { BROKER_URL, reachable } from './support.ts';

/** `mes cfx setup`, `mes simulate` and `mes cfx status` as an operator runs them (own database: the demo factory). */

const run = promisify(execFile);
let fresh: Awaited<ReturnType<typeof freshDatabase>>;
const mes = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, ['bin/mes.mjs', ...args], { env: { ...process.env, DATABASE_URL: fresh.url, MES_LOG_LEVEL: 'silent', ...env }, timeout: 60_000 });
const up = await reachable('127.0.0.1', 5672);

beforeAll(async () => {
  fresh = await freshDatabase();
  await migrate(fresh.url);
});
afterAll(async () => fresh?.drop());

describe('mes cfx and mes simulate', () => {
  it.skipIf(!up)('cfx setup declares the durable queue and its binding, idempotently', async () => {
    const queue = `mes.test.cli.${crypto.randomBytes(3).toString('hex')}`;
    try {
      const env = { MES_CFX_BROKER_URL: BROKER_URL, MES_CFX_QUEUE: queue, MES_CFX_BINDING: 'cli-test.never.#' };
      const first = await mes(['cfx', 'setup'], env);
      expect(first.stdout).toContain(`Queue ${queue} is bound to exchange amq.topic with key cli-test.never.#`);
      const again = await mes(['cfx', 'setup'], env);
      expect(again.stdout).toContain('0 message(s) waiting');
    } finally {
      const c = await amqplib.connect(BROKER_URL);
      await (await c.createChannel()).deleteQueue(queue);
      await c.close();
    }
  });

  it('cfx setup without a broker fails naming the variable', async () => {
    const err = await mes(['cfx', 'setup'], { MES_CFX_BROKER_URL: '' }).then(() => null, (e: { code: number; stderr: string }) => e);
    expect(err?.code).toBe(1);
    expect(err?.stderr).toMatch(/MES_CFX_BROKER_URL/);
  });

  it('simulate builds boards on the demo line, and cfx status shows what was received', async () => {
    const sim = await mes(['simulate', '--transport', 'direct', '--boards', '3', '--rate', '0']).catch((e: { stderr: string; stdout: string }) => {
      throw new Error(`mes simulate failed: ${e.stderr}\n${e.stdout}`);
    });
    expect(sim.stdout).toMatch(/Done: \d+ messages, 3 board\(s\) packed/);
    const status = await mes(['cfx', 'status']);
    expect(status.stdout).toMatch(/applied\s+\d+/);
    expect(status.stdout).toContain('Open dead letters: 0');
  });
});
