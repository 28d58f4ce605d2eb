import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MaterialsService } from '../../src/modules/materials/index.ts';
import { HOUR_MS } from '../../src/modules/materials/lib/msl.ts';
import type { App } from '../../src/platform/http.ts';
import { bearer, system, testApp, testServices, tokenFor } from '../helpers.ts';
import { clockedMaterials, makeScenario, receivePart, testClock, type Scenario } from './fixtures.ts';

/**
 * J-STD-033 floor life through the service, with a controlled clock: part 0 of the scenario is
 * MSL 3 (168 h floor life at ≤30 °C/60 %RH).
 */
describe('MSL clock through the service', () => {
  const clock = testClock();
  const h = clock.at;
  let svc: MaterialsService;
  let sc: Scenario;
  beforeAll(async () => {
    svc = clockedMaterials(clock);
    sc = await makeScenario();
  });
  const load = (packageId: number) => svc.verifyLoad(system, { equipmentId: sc.equipment.id, slot: 'S1', packageId, programId: sc.program.id });

  it('open → 100 h → dry storage 50 h → out → warns, then expires at 168 h of exposure and blocks loading; a bake resets it', async () => {
    clock.set(h(0));
    const { package: p } = await receivePart(svc, sc, 0);
    expect(p.msd).toMatchObject({ level: '3', state: 'never-opened', remainingMs: 168 * HOUR_MS, expiresAt: null, warn: false, blocksUse: false });

    await svc.recordMsdEvent(system, p.id, { type: 'opened' });
    clock.set(h(100));
    let s = (await svc.getPackage(p.id)).msd;
    expect(s).toMatchObject({ state: 'exposed', exposedMs: 100 * HOUR_MS, remainingMs: 68 * HOUR_MS });
    expect(s.expiresAt).toEqual(h(168));

    await svc.recordMsdEvent(system, p.id, { type: 'dry-storage-in' });
    clock.set(h(150));
    s = (await svc.getPackage(p.id)).msd;
    expect(s).toMatchObject({ state: 'dry-storage', exposedMs: 100 * HOUR_MS, remainingMs: 68 * HOUR_MS, expiresAt: null });

    await svc.recordMsdEvent(system, p.id, { type: 'dry-storage-out' });
    clock.set(h(210));
    s = (await svc.getPackage(p.id)).msd;
    expect(s).toMatchObject({ state: 'exposed', remainingMs: 8 * HOUR_MS, warn: false });
    expect(s.expiresAt).toEqual(h(218));

    clock.set(h(211));
    s = (await svc.getPackage(p.id)).msd;
    expect(s).toMatchObject({ remainingMs: 7 * HOUR_MS, warn: true });
    const warned = (await svc.warnings()).filter((w) => w.packageId === p.id);
    expect(warned.map((w) => [w.kind, w.remainingMs])).toEqual([['msd-expiring', 7 * HOUR_MS]]);
    expect(warned[0]!.at).toEqual(h(218));
    // Still usable: it loads.
    expect((await load(p.id)).accepted).toBe(true);
    await svc.unload(system, { equipmentId: sc.equipment.id, slot: 'S1' });

    // Exactly 168 h of exposure: expired, loading refused, listed as expired.
    clock.set(h(218));
    s = (await svc.getPackage(p.id)).msd;
    expect(s).toMatchObject({ state: 'expired', remainingMs: 0, blocksUse: true });
    const refused = await load(p.id);
    expect(refused.accepted).toBe(false);
    expect(refused.reason!.code).toBe('MSL_EXPIRED');
    expect((await svc.warnings()).filter((w) => w.packageId === p.id).map((w) => w.kind)).toEqual(['msd-expired']);

    // The state at any past instant is still derivable.
    expect((await svc.msd(p.id, h(120))).status).toMatchObject({ state: 'dry-storage', remainingMs: 68 * HOUR_MS });
    expect((await svc.msd(p.id, h(50))).status).toMatchObject({ state: 'exposed', remainingMs: 118 * HOUR_MS });

    // Bake at 220 h: the clock restarts at the end of the bake.
    clock.set(h(220));
    const baked = await svc.bake(system, { packageIds: [p.id], oven: 'OVEN-2', temperatureC: 125, durationMinutes: 24 * 60 });
    expect(baked.bake).toMatchObject({ oven: 'OVEN-2', temperatureC: 125, durationMinutes: 1440, actorName: 'test' });
    expect(baked.bake.startedAt).toEqual(h(196));
    expect(baked.packages[0]!.msd).toMatchObject({ state: 'baked', exposedMs: 0, remainingMs: 168 * HOUR_MS });
    clock.set(h(230));
    expect((await svc.getPackage(p.id)).msd).toMatchObject({ state: 'baked', remainingMs: 158 * HOUR_MS });
    expect((await load(p.id)).accepted).toBe(true);
    expect((await svc.msd(p.id)).events.map((e) => e.type)).toEqual(['opened', 'dry-storage-in', 'dry-storage-out', 'baked']);
  });

  it('refuses impossible, out-of-order and future events with the MSL codes', async () => {
    clock.set(h(1000));
    const { package: p } = await receivePart(svc, sc, 0);
    await expect(svc.recordMsdEvent(system, p.id, { type: 'dry-storage-out' })).rejects.toMatchObject({ code: 'MSL_EVENT_NOT_ALLOWED', status: 409 });
    await svc.recordMsdEvent(system, p.id, { type: 'opened' });
    await expect(svc.recordMsdEvent(system, p.id, { type: 'dry-storage-in', at: h(999) })).rejects.toMatchObject({ code: 'MSL_EVENT_OUT_OF_ORDER' });
    await expect(svc.recordMsdEvent(system, p.id, { type: 'dry-storage-in', at: h(1001) })).rejects.toMatchObject({ code: 'MSL_EVENT_AFTER_NOW', status: 422 });
    // A late entry with an explicit past time is fine.
    clock.set(h(1010));
    const late = await svc.recordMsdEvent(system, p.id, { type: 'dry-storage-in', at: h(1004) });
    expect(late.msd).toMatchObject({ state: 'dry-storage', exposedMs: 4 * HOUR_MS });
  });

  it('loading a reel from a dry cabinet takes it out (implicit event); a split copies the history', async () => {
    clock.set(h(2000));
    const { package: p } = await receivePart(svc, sc, 0);
    await svc.recordMsdEvent(system, p.id, { type: 'opened' });
    clock.set(h(2010));
    await svc.recordMsdEvent(system, p.id, { type: 'dry-storage-in' });
    clock.set(h(2100));
    const { created } = await svc.split(system, p.id, { quantity: 100 });
    expect(created.msd).toMatchObject({ state: 'dry-storage', exposedMs: 10 * HOUR_MS });
    expect((await svc.msd(created.id)).events.map((e) => [e.type, e.at.getTime()])).toEqual([['opened', h(2000).getTime()], ['dry-storage-in', h(2010).getTime()]]);
    expect((await load(created.id)).accepted).toBe(true);
    const events = (await svc.msd(created.id)).events;
    expect(events.at(-1)).toMatchObject({ type: 'dry-storage-out', implicit: true });
    clock.set(h(2105));
    expect((await svc.getPackage(created.id)).msd).toMatchObject({ state: 'exposed', exposedMs: 15 * HOUR_MS });
    await svc.unload(system, { equipmentId: sc.equipment.id, slot: 'S1' });
  });

  it('derating shortens the floor life (service option), MSL 1 parts are not sensitive', async () => {
    const derated = clockedMaterials(clock, { msl: { deratingFactor: 0.5 } });
    clock.set(h(3000));
    const { package: p } = await receivePart(derated, sc, 0);
    await derated.recordMsdEvent(system, p.id, { type: 'opened' });
    clock.set(h(3084));
    expect((await derated.getPackage(p.id)).msd).toMatchObject({ state: 'expired', floorLifeMs: 84 * HOUR_MS });
    const { package: one } = await receivePart(derated, sc, 1);
    expect(one.msd).toMatchObject({ level: '1', state: 'not-sensitive', remainingMs: null, blocksUse: false });
  });
});

describe('MSD and warnings through the API', () => {
  let app: App;
  beforeAll(async () => {
    app = await testApp();
  });
  afterAll(async () => app.close());

  it('records events and bakes, shows floor life in the package, lists lot-expiry warnings', async () => {
    const sc = await makeScenario();
    const materials = testServices().materials;
    const { package: p } = await receivePart(materials, sc, 0, { expiresAt: new Date(Date.now() + 48 * HOUR_MS) });
    const op = bearer(await tokenFor('operator'));
    const opened = await app.inject({ method: 'POST', url: `/api/v1/packages/${p.id}/msd-events`, headers: op, payload: { type: 'opened', at: new Date(Date.now() - 10 * HOUR_MS).toISOString() } });
    expect(opened.statusCode, opened.body).toBe(200);
    expect(opened.json().msd.state).toBe('exposed');
    expect(opened.json().msd.remainingMs).toBeLessThanOrEqual(158 * HOUR_MS);
    expect(opened.json().msd.expiresAt).toMatch(/Z$/);
    const bad = await app.inject({ method: 'POST', url: `/api/v1/packages/${p.id}/msd-events`, headers: op, payload: { type: 'opened' } });
    expect(bad.statusCode).toBe(409);
    expect(bad.json().code).toBe('MSL_EVENT_NOT_ALLOWED');
    const viewer = await app.inject({ method: 'POST', url: `/api/v1/packages/${p.id}/msd-events`, headers: bearer(await tokenFor('viewer')), payload: { type: 'dry-storage-in' } });
    expect(viewer.statusCode).toBe(403);
    const bake = await app.inject({ method: 'POST', url: '/api/v1/bakes', headers: bearer(await tokenFor('technician')), payload: { packageIds: [p.id], oven: 'OV1', temperatureC: 125, durationMinutes: 480 } });
    expect(bake.statusCode, bake.body).toBe(201);
    expect(bake.json().packages[0].msd.state).toBe('baked');
    const history = await app.inject({ method: 'GET', url: `/api/v1/packages/${p.id}/msd`, headers: bearer(await tokenFor('viewer')) });
    expect(history.json().events.map((e: { type: string }) => e.type)).toEqual(['opened', 'baked']);
    expect(history.json().events[1].bakeRecordId).toBe(bake.json().bake.id);
    const warnings = await app.inject({ method: 'GET', url: '/api/v1/material-warnings?withinHours=72', headers: bearer(await tokenFor('viewer')) });
    expect(warnings.statusCode).toBe(200);
    const mine = warnings.json().filter((w: { packageId: number }) => w.packageId === p.id);
    expect(mine.map((w: { kind: string }) => w.kind)).toEqual(['lot-expiring']);
  });
});
