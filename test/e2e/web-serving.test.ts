import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerWebRoutes } from '../../src/modules/web/index.ts';
import type { App } from '../../src/platform/http.ts';

/** Serving of the UI build: files, SPA fallback, caching, and what never becomes HTML. */

let dir: string;
let app: App;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mes-web-'));
  fs.mkdirSync(path.join(dir, 'assets'));
  fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>SMT MES</title><div id="root"></div>');
  fs.writeFileSync(path.join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
  fs.writeFileSync(path.join(dir, 'robots.txt'), 'User-agent: *');
  fs.writeFileSync(path.join(dir, '.secret'), 'hidden');
  app = Fastify() as unknown as App;
  app.setNotFoundHandler((_req, reply) => reply.code(404).type('application/problem+json').send({ code: 'ROUTE_NOT_FOUND' }));
  registerWebRoutes(app, { distDir: dir });
  await app.ready();
});
afterAll(async () => {
  await app.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('web UI serving', () => {
  it('serves index.html at / and for any app path (history routing), never cached', async () => {
    for (const url of ['/', '/products/12', '/revisions/3/bom?x=1', '/admin/users']) {
      const r = await app.inject({ url });
      expect(r.statusCode, url).toBe(200);
      expect(r.headers['content-type']).toMatch(/^text\/html/);
      expect(r.headers['cache-control']).toBe('no-cache');
      expect(r.body).toContain('<div id="root">');
    }
  });

  it('serves hashed assets as immutable, other files revalidated', async () => {
    const js = await app.inject({ url: '/assets/index-abc123.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const txt = await app.inject({ url: '/robots.txt' });
    expect(txt.headers['cache-control']).toBe('no-cache');
    expect(txt.body).toBe('User-agent: *');
  });

  it('a missing asset and an unknown API path are 404s, not the page', async () => {
    expect((await app.inject({ url: '/assets/index-old999.js' })).statusCode).toBe(404);
    const api = await app.inject({ url: '/api/v1/nothing' });
    expect(api.statusCode).toBe(404);
    expect(api.json()).toEqual({ code: 'ROUTE_NOT_FOUND' });
  });

  it('never serves files outside the build or dotfiles', async () => {
    for (const url of ['/../package.json', '/assets/..%2f..%2fpackage.json', '/%2e%2e/%2e%2e/etc/passwd', '/.secret']) {
      const r = await app.inject({ url });
      expect(r.body, url).not.toContain('hidden');
      expect(r.body, url).not.toContain('"name"');
      expect(r.body, url).not.toContain('root:');
    }
  });

  it('without a build, says how to make one', async () => {
    const bare = Fastify() as unknown as App;
    registerWebRoutes(bare, { distDir: path.join(dir, 'does-not-exist') });
    await bare.ready();
    const r = await bare.inject({ url: '/work-orders' });
    expect(r.statusCode).toBe(200);
    expect(r.body).toContain('npm run build:web');
    await bare.close();
  });
});
