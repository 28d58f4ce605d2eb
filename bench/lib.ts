import crypto from 'node:crypto';
import pg from 'pg';
import type { Services } from '../src/main.ts';
import type { Principal } from '../src/platform/principal.ts';

/** Shared benchmark helpers: a scratch database and percentile maths. */

export async function scratchDatabase(prefix: string): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `${prefix}_${crypto.randomBytes(3).toString('hex')}`;
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  const u = new URL(admin);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const d = new pg.Client({ connectionString: admin });
      await d.connect();
      await d.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await d.end();
    },
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function summarize(latenciesMs: number[]) {
  const s = [...latenciesMs].sort((a, b) => a - b);
  return { n: s.length, p50: percentile(s, 50), p99: percentile(s, 99), max: s[s.length - 1] ?? NaN };
}

/**
 * The benchmarks' product: three one-placement parts on the AVL, a route print → place → AOI
 * (repair loop to rework), a released placement program; the caller adds what it needs and
 * sets the quality plan, then releases the revision.
 */
export async function benchProduct(s: Services, who: Principal, code: string) {
  const product = await s.products.products.create(who, { code, name: `bench board ${code}`, customer: 'ACME' });
  const rev = await s.products.createRevision(who, { productId: product.id, revision: 'A', bomRevision: 'A' });
  const ipns = ['R-10K', 'C-100N', 'U-MCU'];
  for (const [i, ipn] of ipns.entries()) {
    await s.parts.parts.create(who, { ipn, description: ipn, mslLevel: '1' });
    await s.parts.upsertAvlEntry(who, { ipn, manufacturer: 'Acme', mpn: `ACME-${i}` });
  }
  await s.products.replaceBom(who, rev.id, ipns.map((ipn, i) => ({ lineNo: i + 1, ipn, quantity: 1, refdes: [`X${i + 1}`] })));
  await s.products.replaceRoute(who, rev.id, {
    name: 'main',
    steps: [
      { seq: 10, name: 'Print', stationType: 'printer' },
      { seq: 20, name: 'Place', stationType: 'placement' },
      { seq: 30, name: 'AOI', stationType: 'aoi', onFail: 'repair', repairStepSeq: 90, returnStepSeq: 30 },
      { seq: 90, name: 'Repair', stationType: 'rework', isRepair: true },
    ],
  });
  const prog = await s.products.createProgram(who, {
    productRevisionId: rev.id, name: 'PNP', revision: '1', kind: 'placement', stationType: 'placement', slots: ipns.map((ipn, i) => ({ slot: `S${i}`, ipn })),
  });
  await s.products.setProgramState(who, prog.id, 'released');
  return { product, rev, ipns, program: prog };
}
