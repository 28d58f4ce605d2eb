import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/platform/http.ts';
import { ROLES, type Role } from '../../src/platform/principal.ts';
import { bearer, testApp, tokenFor } from '../helpers.ts';

let app: App;
const tokens = new Map<Role, string>();

beforeAll(async () => {
  app = await testApp();
  for (const r of ROLES) tokens.set(r, await tokenFor(r));
});
afterAll(async () => app.close());

/** Fills path parameters with a syntactically valid value (the record need not exist). */
const concrete = (url: string) => url.replace(/:(\w+)/g, (_m, name: string) => (name === 'kind' ? 'parts' : '999999999'));

describe('every route declares its roles and enforces them', () => {
  it('the OpenAPI document lists exactly the routes of the permission table', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).json();
    const fromDoc = new Set<string>();
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      if (!path.startsWith('/api/')) continue;
      for (const m of Object.keys(ops)) fromDoc.add(`${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`);
    }
    const fromTable = new Set(app.routeTable.filter((r) => r.url !== '/api/v1/openapi.json').map((r) => `${r.method} ${r.url}`));
    expect([...fromTable].sort()).toEqual([...fromDoc].sort());
    expect(fromTable.size).toBeGreaterThan(40);
  });

  it('only health, login and the API description are public', () => {
    const pub = app.routeTable.filter((r) => r.roles === 'public').map((r) => `${r.method} ${r.url}`).sort();
    expect(pub).toEqual(['GET /api/v1/health', 'GET /api/v1/openapi.json', 'POST /api/v1/auth/login'].sort());
  });

  it('every non-public route rejects an unauthenticated call with 401 and a bad token with 401', async () => {
    const failures: string[] = [];
    for (const r of app.routeTable.filter((x) => x.roles !== 'public')) {
      const res = await app.inject({ method: r.method as 'GET', url: concrete(r.url), payload: r.method === 'GET' || r.method === 'DELETE' ? undefined : {} });
      if (res.statusCode !== 401 || res.json().code !== 'UNAUTHENTICATED') failures.push(`${r.method} ${r.url} → ${res.statusCode}`);
      const bad = await app.inject({ method: r.method as 'GET', url: concrete(r.url), headers: bearer('mes_not-a-real-token') });
      if (bad.statusCode !== 401) failures.push(`${r.method} ${r.url} with bad token → ${bad.statusCode}`);
    }
    expect(failures).toEqual([]);
  });

  it('every route rejects each role it does not admit with 403, and admits the roles it lists', async () => {
    const failures: string[] = [];
    let checkedDenials = 0;
    for (const r of app.routeTable.filter((x) => x.roles !== 'public')) {
      const admitted = r.roles as readonly Role[];
      for (const role of ROLES) {
        const res = await app.inject({
          method: r.method as 'GET',
          url: concrete(r.url),
          headers: bearer(tokens.get(role)!),
          payload: r.method === 'GET' || r.method === 'DELETE' ? undefined : {},
        });
        if (admitted.includes(role)) {
          if (res.statusCode === 401 || res.statusCode === 403) failures.push(`${role} refused on ${r.method} ${r.url} (${res.statusCode})`);
        } else {
          checkedDenials++;
          if (res.statusCode !== 403 || res.json().code !== 'FORBIDDEN') failures.push(`${role} not refused on ${r.method} ${r.url} (${res.statusCode})`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(checkedDenials).toBeGreaterThan(100);
    // Every route × every role, one request each (a few thousand): its own budget, as it grows with the API.
  }, 180_000);

  it('a session cookie authenticates like a token; logout ends it', async () => {
    const { testServices, uniq, system } = await import('../helpers.ts');
    const username = uniq('u').toLowerCase();
    await testServices().auth.createUser(system, { username, role: 'viewer', password: 'correct horse' });
    const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password: 'correct horse' } });
    expect(login.statusCode).toBe(200);
    const cookie = login.cookies.find((c) => c.name === 'mes_session')!;
    expect(cookie.httpOnly).toBe(true);
    expect(String(cookie.sameSite).toLowerCase()).toBe('strict');
    const me = await app.inject({ method: 'GET', url: '/api/v1/auth/me', cookies: { mes_session: cookie.value } });
    expect(me.json()).toMatchObject({ kind: 'user', name: username, role: 'viewer' });
    expect((await app.inject({ method: 'GET', url: '/api/v1/users', cookies: { mes_session: cookie.value } })).statusCode).toBe(403);
    expect((await app.inject({ method: 'POST', url: '/api/v1/auth/logout', cookies: { mes_session: cookie.value } })).statusCode).toBe(204);
    expect((await app.inject({ method: 'GET', url: '/api/v1/auth/me', cookies: { mes_session: cookie.value } })).statusCode).toBe(401);
  });
});
