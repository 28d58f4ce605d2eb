import { inject, describe, expect, it } from 'vitest';
import { Db } from '../../src/platform/db.ts';
import { createPartsService } from '../../src/modules/parts/index.ts';
import { system, uniq } from '../helpers.ts';

describe('master-data read cache', () => {
  it('serves reads from memory yet sees a change made by another instance (NOTIFY) and its own writes at once', async () => {
    const dbA = new Db(inject('databaseUrl'), 2);
    const dbB = new Db(inject('databaseUrl'), 2);
    try {
      const a = createPartsService(dbA);
      const b = createPartsService(dbB);
      const part = await a.parts.create(system, { ipn: uniq('C'), description: 'v1' });
      // Wait for instance A's change feed, then fill its cache.
      for (let i = 0; i < 100 && !dbA.changeFeedLive; i++) await new Promise((r) => setTimeout(r, 20));
      expect(dbA.changeFeedLive).toBe(true);
      expect((await a.parts.get(part.id)).description).toBe('v1');
      // A change behind A's back (raw SQL, as another tool would) is served from cache only until the notification.
      await dbB.query(`UPDATE parts SET description = 'v2' WHERE id = $1`, [part.id]);
      let seen = '';
      for (let i = 0; i < 100; i++) {
        seen = (await a.parts.get(part.id)).description;
        if (seen === 'v2') break;
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(seen).toBe('v2');
      // Through the other instance's service.
      await b.parts.update(system, part.id, { description: 'v3' });
      for (let i = 0; i < 100 && (await a.parts.get(part.id)).description !== 'v3'; i++) await new Promise((r) => setTimeout(r, 10));
      expect((await a.parts.get(part.id)).description).toBe('v3');
      // Own write: visible on the very next read.
      await a.parts.update(system, part.id, { description: 'v4' });
      expect((await a.parts.get(part.id)).description).toBe('v4');
    } finally {
      await dbA.close();
      await dbB.close();
    }
  });
});
