import crypto from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { loadConfig, type Config } from '../src/platform/config.ts';
import { Db } from '../src/platform/db.ts';
import type { App } from '../src/platform/http.ts';
import type { Principal, Role } from '../src/platform/principal.ts';
import { createApp, createServices, type Services } from '../src/main.ts';

/** Test support: the run's migrated database, services and app over it, and record factories. */

export const system: Principal = { kind: 'system', id: null, name: 'test', role: 'admin' };

let db: Db | undefined;
let services: Services | undefined;

export function testDb(): Db {
  db ??= new Db(inject('databaseUrl'), 5);
  return db;
}

export function testConfig(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({ DATABASE_URL: inject('databaseUrl'), MES_LOG_LEVEL: 'silent' }), ...overrides };
}

export function testServices(): Services {
  services ??= createServices(testDb(), testConfig());
  return services;
}

/** The real HTTP app on the test database; `extend` may add routes before it is ready. */
export async function testApp(extend?: (app: App) => void, config: Partial<Config> = {}): Promise<App> {
  const app = await createApp(testServices(), testConfig(config));
  extend?.(app);
  await app.ready();
  return app;
}

/** A short unique suffix so each test builds its own records and never collides. */
export function uniq(prefix = 'T'): string {
  return `${prefix}${crypto.randomBytes(4).toString('hex').toUpperCase()}`;
}

const tokens = new Map<Role, string>();
/** An API token of the given role (one per role per test file). */
export async function tokenFor(role: Role): Promise<string> {
  const t = tokens.get(role);
  if (t) return t;
  const r = await testServices().auth.createToken(system, { name: uniq(`tok-${role}-`), role });
  tokens.set(role, r.token);
  return r.token;
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A separate database, created empty, for tests that need a fresh schema (migrations). */
export async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const base = new URL(inject('databaseUrl'));
  const name = `${base.pathname.slice(1)}_${crypto.randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: inject('adminDatabaseUrl') });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(base.toString());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: inject('adminDatabaseUrl') });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/**
 * Builds a complete, releasable product revision: parts with AVL entries, a BOM, a route with a
 * repair loop, a released placement program with a feeder setup, and a quality plan.
 */
export async function makeProduct(opts: { release?: boolean; parts?: number } = {}) {
  const s = testServices();
  const code = uniq('P');
  const product = await s.products.products.create(system, { code, name: `Product ${code}`, customer: 'Test customer' });
  const rev = await s.products.createRevision(system, { productId: product.id, revision: 'A', bomRevision: 'A' });
  const partIpns: string[] = [];
  for (let i = 0; i < (opts.parts ?? 3); i++) {
    const ipn = `${code}-PART${i}`;
    await s.parts.parts.create(system, { ipn, description: `part ${i}`, mslLevel: i === 0 ? '3' : '1' });
    await s.parts.upsertAvlEntry(system, { ipn, manufacturer: 'Acme', mpn: `${code}-MPN${i}` });
    partIpns.push(ipn);
  }
  await s.products.replaceBom(
    system,
    rev.id,
    partIpns.map((ipn, i) => ({ lineNo: i + 1, ipn, quantity: 2, refdes: [`R${i * 2 + 1}`, `R${i * 2 + 2}`] })),
  );
  await s.products.replaceRoute(system, rev.id, {
    name: 'main',
    steps: [
      { seq: 10, name: 'Print', stationType: 'printer' },
      { seq: 20, name: 'Place', stationType: 'placement' },
      { seq: 30, name: 'AOI', stationType: 'aoi', onFail: 'repair', repairStepSeq: 90, returnStepSeq: 30 },
      { seq: 90, name: 'Repair', stationType: 'rework', isRepair: true },
    ],
  });
  const program = await s.products.createProgram(system, {
    productRevisionId: rev.id, name: `${code}-PNP`, revision: '1', kind: 'placement', stationType: 'placement',
    slots: partIpns.map((ipn, i) => ({ slot: `S${i + 1}`, ipn })),
  });
  await s.products.setProgramState(system, program.id, 'released');
  await s.products.putQualityPlan(system, rev.id, { requiredSteps: ['aoi'], traceDepth: 'unit' });
  const revision = opts.release === false ? rev : await s.products.releaseRevision(system, rev.id);
  return { product, revision, partIpns, program };
}
