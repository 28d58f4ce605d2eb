import { describe, expect, inject, it } from 'vitest';
import { Db } from '../../src/platform/db.ts';

describe('database handle', () => {
  it('every session of each pool runs with JIT off (short statements, some with plan costs above jit_above_cost)', async () => {
    const db = new Db(inject('databaseUrl'), 2);
    try {
      const jit = async (q: { query: Db['query'] }) => (await q.query<{ jit: string }>(`SELECT current_setting('jit') AS jit`)).rows[0]!.jit;
      expect(await jit(db)).toBe('off');
      expect(await jit(db.reads)).toBe('off');
      expect(await jit(db.autonomous)).toBe('off');
      expect(await db.tx((tx) => jit(tx))).toBe('off');
      // New connections too (both of the main pool's at once).
      const both = await Promise.all([db.tx((tx) => jit(tx)), db.tx((tx) => jit(tx))]);
      expect(both).toEqual(['off', 'off']);
    } finally {
      await db.close();
    }
  });

  it('keeps the session options the connection string gives', async () => {
    const url = new URL(inject('databaseUrl'));
    url.searchParams.set('options', '-c lock_timeout=1234');
    const db = new Db(url.toString(), 1);
    try {
      const r = (await db.query<{ jit: string; lt: string }>(`SELECT current_setting('jit') AS jit, current_setting('lock_timeout') AS lt`)).rows[0]!;
      expect(r).toEqual({ jit: 'off', lt: '1234ms' });
    } finally {
      await db.close();
    }
  });
});
