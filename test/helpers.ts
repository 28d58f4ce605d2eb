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

/**
 * A site and line with one station per type (codes unique), for tracking tests.
 * `stations.placement` etc.; the line's id is `line.id`.
 */
export async function makeLine(types: readonly string[] = ['printer', 'spi', 'placement', 'reflow', 'aoi', 'rework', 'ict', 'fct', 'packing']) {
  const s = testServices();
  const site = await s.factory.sites.create(system, { code: uniq('S'), name: 'site' });
  const line = await s.factory.lines.create(system, { siteId: site.id, code: uniq('L'), name: 'line' });
  const stations: Record<string, Awaited<ReturnType<typeof s.factory.stations.create>>> = {};
  for (const [i, type] of types.entries()) {
    stations[type] = await s.factory.stations.create(system, { lineId: line.id, code: uniq(`ST-${type}-`), name: type, type: type as never, seq: i + 1 });
  }
  return { site, line, stations };
}

/**
 * A released work order on its own line: product from makeProduct (optionally with another
 * route, given as route steps), quantity 10 unless told otherwise.
 */
export async function makeReleasedWorkOrder(
  opts: {
    quantity?: number; overrunUnits?: number; overrunPercent?: number; serialPattern?: string | null; release?: boolean;
    route?: Parameters<Services['products']['replaceRoute']>[2]['steps']; lineTypes?: readonly string[];
  } = {},
) {
  const s = testServices();
  const made = await makeProduct({ release: false });
  if (opts.route) {
    await s.products.replaceRoute(system, made.revision.id, { name: 'custom', steps: opts.route });
    const types = [...new Set(opts.route.filter((x) => !x.isRepair).map((x) => x.stationType))];
    await s.products.putQualityPlan(system, made.revision.id, { requiredSteps: types.includes('aoi') ? ['aoi'] : [] });
  }
  const revision = await s.products.releaseRevision(system, made.revision.id);
  const { line, stations } = await makeLine(opts.lineTypes);
  const wo = await s.workOrders.create(system, {
    number: uniq('WO-'), customer: 'Test customer', customerPo: uniq('PO'), productRevisionId: revision.id, quantity: opts.quantity ?? 10,
    overrunUnits: opts.overrunUnits ?? 0, overrunPercent: opts.overrunPercent ?? 0, lineId: line.id, dueDate: '2030-01-31', serialPattern: opts.serialPattern ?? null,
  });
  const released = opts.release === false ? wo : await s.workOrders.release(system, wo.id);
  return { ...made, revision, line, stations, wo: released };
}

/**
 * Quality / shipping tests: a released work order on its own line whose product has the given
 * route (default: makeProduct's print → place → AOI with repair loop) and quality plan (default:
 * no required results, unit depth, material level M1, lots may mix).
 */
export async function makeQualityWorkOrder(
  opts: {
    route?: Parameters<Services['products']['replaceRoute']>[2]['steps'];
    plan?: Parameters<Services['products']['putQualityPlan']>[2];
    quantity?: number; lineTypes?: readonly string[]; customer?: string;
    /** Runs on the draft revision before it is released (e.g. to add programs with parameter ranges). */
    beforeRelease?: (revisionId: number) => Promise<void>;
  } = {},
) {
  const s = testServices();
  const made = await makeProduct({ release: false });
  if (opts.route) await s.products.replaceRoute(system, made.revision.id, { name: 'quality', steps: opts.route });
  await opts.beforeRelease?.(made.revision.id);
  await s.products.putQualityPlan(system, made.revision.id, { requiredSteps: [], traceDepth: 'unit', materialLevel: 'M1', mixedLotsAllowed: true, ...opts.plan });
  const revision = await s.products.releaseRevision(system, made.revision.id);
  const { line, stations } = await makeLine(opts.lineTypes);
  const wo = await s.workOrders.create(system, {
    number: uniq('WO-'), customer: opts.customer ?? 'Test customer', customerPo: uniq('PO'), productRevisionId: revision.id, quantity: opts.quantity ?? 50, lineId: line.id,
  });
  return { ...made, revision, line, stations, wo: await s.workOrders.release(system, wo.id) };
}

/** A user with a known password, e.g. to sign electronically (`signature()` gives the signature input). */
export async function makeUser(role: 'admin' | 'planner' | 'process-engineer' | 'quality-engineer' | 'operator' | 'technician' | 'viewer', password = 'sign-here-123') {
  const username = uniq('u').toLowerCase();
  const user = await testServices().auth.createUser(system, { username, role, password });
  const principal: Principal = { kind: 'user', id: user.id, name: user.username, role };
  return { user, username, password, principal, signature: (reason = 'checked, fine to go') => ({ password, reason }) };
}
