import { describe, expect, it } from 'vitest';
import { runInTransaction } from '../../src/integrations/tx-scope.ts';
import { makeQualityWorkOrder, system, testDb, testServices } from '../helpers.ts';

/**
 * Interlock refusals are records: a refusal written inside a transaction that was set to commit
 * without waiting for the WAL flush (as a CFX batch of requests is) turns that back on.
 */
describe('refusal records are committed durably', () => {
  it('a refusal recorded in a transaction with synchronous_commit off sets it back on', async () => {
    const m = await makeQualityWorkOrder();
    const seen = await testDb().tx(async (tx) => {
      await tx.query(`SET LOCAL synchronous_commit = off`);
      const before = (await tx.query<{ v: string }>(`SELECT current_setting('synchronous_commit') AS v`)).rows[0]!.v;
      const v = await runInTransaction(tx, () => testServices().tracking.validate(system, { stationId: m.stations.printer!.id, identifier: 'NO-SUCH-UNIT-4711' }));
      const after = (await tx.query<{ v: string }>(`SELECT current_setting('synchronous_commit') AS v`)).rows[0]!.v;
      const logged = (await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM interlock_refusals WHERE identifier = 'NO-SUCH-UNIT-4711'`)).rows[0]!.n;
      return { before, after, go: v.go, logged };
    });
    expect(seen).toEqual({ before: 'off', after: 'on', go: false, logged: 1 });
  });
});
