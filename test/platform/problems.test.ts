import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/platform/http.ts';
import { bearer, testApp, tokenFor, uniq } from '../helpers.ts';

let app: App;
let admin: string;

beforeAll(async () => {
  app = await testApp((a) => {
    a.get('/api/v1/__test/boom', { config: { roles: ['admin'] } }, async () => {
      throw new Error('secret internal detail: password=hunter2 at /srv/db.ts:42');
    });
  }, { bodyLimit: 4096 });
  admin = await tokenFor('admin');
});
afterAll(async () => app.close());

function expectProblem(res: { statusCode: number; headers: Record<string, unknown>; json(): any }, status: number, code: string) {
  expect(res.statusCode).toBe(status);
  expect(String(res.headers['content-type'])).toMatch(/^application\/problem\+json/);
  const body = res.json();
  expect(body).toMatchObject({ status, code, type: expect.stringMatching(/^urn:mes:problem:/), title: expect.any(String), detail: expect.any(String) });
  return body;
}

describe('RFC 9457 problem responses', () => {
  it('validation errors list every failing field path', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/parts', headers: bearer(admin), payload: { description: 5, mslLevel: '9', bogus: true } });
    const body = expectProblem(res, 400, 'VALIDATION_FAILED');
    const fields = body.errors.map((e: { field: string }) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['/body/ipn', '/body/description', '/body/mslLevel', '/body/bogus']));
  });

  it('unknown routes are 404 ROUTE_NOT_FOUND', async () => {
    expectProblem(await app.inject({ method: 'GET', url: '/api/v1/nothing-here', headers: bearer(admin) }), 404, 'ROUTE_NOT_FOUND');
  });

  it('missing records are 404 NOT_FOUND', async () => {
    expectProblem(await app.inject({ method: 'GET', url: '/api/v1/parts/999999999', headers: bearer(admin) }), 404, 'NOT_FOUND');
  });

  it('a unique violation is 409 DUPLICATE, not 500', async () => {
    const ipn = uniq('DUP');
    const first = await app.inject({ method: 'POST', url: '/api/v1/parts', headers: bearer(admin), payload: { ipn } });
    expect(first.statusCode).toBe(201);
    expectProblem(await app.inject({ method: 'POST', url: '/api/v1/parts', headers: bearer(admin), payload: { ipn } }), 409, 'DUPLICATE');
  });

  it('a foreign-key violation is 422 REFERENCE_NOT_FOUND, and deleting a referenced record 409 STILL_REFERENCED', async () => {
    expectProblem(
      await app.inject({ method: 'POST', url: '/api/v1/lines', headers: bearer(admin), payload: { siteId: 987654321, code: uniq('L'), name: 'x' } }),
      422,
      'REFERENCE_NOT_FOUND',
    );
    const site = (await app.inject({ method: 'POST', url: '/api/v1/sites', headers: bearer(admin), payload: { code: uniq('S'), name: 'site' } })).json();
    const line = await app.inject({ method: 'POST', url: '/api/v1/lines', headers: bearer(admin), payload: { siteId: site.id, code: uniq('L'), name: 'line' } });
    expect(line.statusCode).toBe(201);
    expectProblem(await app.inject({ method: 'DELETE', url: `/api/v1/sites/${site.id}`, headers: bearer(admin) }), 409, 'STILL_REFERENCED');
  });

  it('bodies over the limit are 413, malformed JSON 400 INVALID_JSON, wrong media type 415', async () => {
    expectProblem(
      await app.inject({ method: 'POST', url: '/api/v1/parts', headers: { ...bearer(admin), 'content-type': 'application/json' }, payload: JSON.stringify({ ipn: 'x', description: 'y'.repeat(10_000) }) }),
      413,
      'PAYLOAD_TOO_LARGE',
    );
    expectProblem(
      await app.inject({ method: 'POST', url: '/api/v1/parts', headers: { ...bearer(admin), 'content-type': 'application/json' }, payload: '{"ipn": ' }),
      400,
      'INVALID_JSON',
    );
    expectProblem(
      await app.inject({ method: 'POST', url: '/api/v1/parts', headers: { ...bearer(admin), 'content-type': 'text/plain' }, payload: 'ipn=x' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
  });

  it('5xx responses never reveal internals', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/__test/boom', headers: bearer(admin) });
    const body = expectProblem(res, 500, 'INTERNAL');
    expect(res.body).not.toMatch(/hunter2|secret|db\.ts|stack/i);
    expect(body.requestId).toBeTruthy();
  });
});
