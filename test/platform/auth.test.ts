import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/platform/http.ts';
import { createAuthService } from '../../src/modules/auth/index.ts';
import { LOGIN_MAX_FAILURES } from '../../src/modules/auth/service.ts';
import { Db } from '../../src/platform/db.ts';
import { migrate } from '../../src/platform/migrate.ts';
import { bearer, freshDatabase, system, testApp, testServices, tokenFor, uniq } from '../helpers.ts';

let app: App;
beforeAll(async () => {
  app = await testApp();
});
afterAll(async () => app.close());

describe('login', () => {
  it('refuses a wrong password and an unknown user alike, then throttles after repeated failures', async () => {
    const username = uniq('th').toLowerCase();
    await testServices().auth.createUser(system, { username, role: 'operator', password: 'the right one' });
    const wrong = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password: 'nope' } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().code).toBe('INVALID_CREDENTIALS');
    const unknown = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: uniq('nobody').toLowerCase(), password: 'nope' } });
    expect(unknown.json()).toMatchObject({ code: 'INVALID_CREDENTIALS', detail: wrong.json().detail });
    for (let i = 1; i < LOGIN_MAX_FAILURES; i++) {
      expect((await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password: `nope${i}` } })).statusCode).toBe(401);
    }
    // Now even the right password is refused until the window passes.
    const throttled = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password: 'the right one' } });
    expect(throttled.statusCode).toBe(429);
    expect(throttled.json().code).toBe('LOGIN_THROTTLED');
    expect(Number(throttled.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('a deactivated user cannot log in and loses open sessions', async () => {
    const username = uniq('de').toLowerCase();
    const u = await testServices().auth.createUser(system, { username, role: 'viewer', password: 'password1' });
    const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password: 'password1' } });
    const cookie = login.cookies.find((c) => c.name === 'mes_session')!.value;
    await testServices().auth.updateUser(system, u.id, { active: false });
    expect((await app.inject({ method: 'GET', url: '/api/v1/auth/me', cookies: { mes_session: cookie } })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password: 'password1' } })).statusCode).toBe(401);
  });

  it('the last active admin cannot be demoted', async () => {
    const fresh = await freshDatabase();
    try {
      await migrate(fresh.url);
      const db = new Db(fresh.url, 2);
      const auth = createAuthService(db, { sessionTtlSeconds: 60 });
      await auth.ensureAdmin('initial-pass');
      const [admin] = await auth.listUsers();
      await expect(auth.updateUser(system, admin!.id, { role: 'viewer' })).rejects.toMatchObject({ code: 'STATE_CONFLICT' });
      await db.close();
    } finally {
      await fresh.drop();
    }
  });
});

describe('first start', () => {
  it('creates admin with MES_ADMIN_PASSWORD, or a generated password printed once; never twice', async () => {
    const fresh = await freshDatabase();
    try {
      await migrate(fresh.url);
      const db = new Db(fresh.url, 2);
      const auth = createAuthService(db, { sessionTtlSeconds: 60 });
      const first = await auth.ensureAdmin(undefined);
      expect(first.created).toBe(true);
      expect(first.generatedPassword).toMatch(/^[A-Za-z0-9_-]{16}$/);
      expect((await auth.checkPassword('admin', first.generatedPassword!, null)).role).toBe('admin');
      expect(await auth.ensureAdmin('other-password')).toEqual({ created: false });
      await db.close();
    } finally {
      await fresh.drop();
    }
  });
});

describe('API tokens', () => {
  it('stores only a hash, stops working when revoked, and can be bound to stations', async () => {
    const s = testServices();
    const admin = await tokenFor('admin');
    const site = await s.factory.sites.create(system, { code: uniq('S'), name: 's' });
    const line = await s.factory.lines.create(system, { siteId: site.id, code: uniq('L'), name: 'l' });
    const st = await s.factory.stations.create(system, { lineId: line.id, code: uniq('ST'), name: 'aoi', type: 'aoi' });
    const res = await app.inject({ method: 'POST', url: '/api/v1/tokens', headers: bearer(admin), payload: { name: uniq('aoi-'), role: 'machine', stations: [st.code] } });
    expect(res.statusCode, res.body).toBe(201);
    const { token, info } = res.json();
    expect(info.stationIds).toEqual([st.id]);
    const stored = await s.db.query(`SELECT token_hash FROM api_tokens WHERE id = $1`, [info.id]);
    expect(stored.rows[0]!.token_hash).not.toContain(token);
    const me = await app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(token) });
    expect(me.json()).toMatchObject({ kind: 'token', role: 'machine', stationIds: [st.id] });
    const bad = await app.inject({ method: 'POST', url: '/api/v1/tokens', headers: bearer(admin), payload: { name: uniq('x'), role: 'machine', stations: ['NO-SUCH-STATION'] } });
    expect(bad.statusCode).toBe(422);
    await app.inject({ method: 'DELETE', url: `/api/v1/tokens/${info.id}`, headers: bearer(admin) });
    expect((await app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(token) })).statusCode).toBe(401);
  });
});
