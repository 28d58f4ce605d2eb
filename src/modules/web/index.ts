import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../platform/http.ts';

/**
 * Serves the web UI (the Vite build in dist/web) at `/`: files as they are, any other non-API
 * GET path gets index.html so the single-page app's own router can show it (history routing).
 *
 * These routes are outside /api, so they declare no roles: the UI itself is public, every piece
 * of data it shows comes from the API, which authenticates and authorises each call.
 *
 * Caching: Vite puts content-hashed files under /assets/, which never change and are cached for a
 * year (immutable); index.html and other unhashed files are revalidated on every load, so a new
 * release is picked up on the next navigation of a page load.
 */

/** Where `npm run build:web` writes the UI: <repo>/dist/web. */
export const WEB_DIST_DIR = fileURLToPath(new URL('../../../dist/web', import.meta.url));

const HASHED_ASSETS = '/assets/';

const MISSING_BUILD_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SMT MES</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:18px/1.5 system-ui,sans-serif;margin:3rem;max-width:44rem;color:#111}code{background:#eee;padding:.1em .3em}</style>
</head><body>
<h1>SMT MES</h1>
<p>The web UI has not been built yet. Run <code>npm run build:web</code> and reload this page.</p>
<p>The REST API is available under <a href="/api/v1/docs">/api/v1/docs</a>.</p>
</body></html>
`;

function securityHeaders(reply: FastifyReply) {
  reply.header('x-content-type-options', 'nosniff');
  reply.header('x-frame-options', 'DENY');
  reply.header('referrer-policy', 'same-origin');
}

/** Resolves a URL path to a regular file inside distDir, or null (never escapes the directory). */
function fileIn(distDir: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  const rel = path.posix.normalize(decoded).replace(/^\/+/, '');
  if (rel === '' || rel.split('/').some((seg) => seg === '..' || seg.startsWith('.'))) return null;
  const abs = path.resolve(distDir, rel);
  if (!abs.startsWith(distDir + path.sep)) return null;
  try {
    return fs.statSync(abs).isFile() ? rel : null;
  } catch {
    return null;
  }
}

export function registerWebRoutes(app: App, opts: { distDir?: string } = {}): void {
  const distDir = path.resolve(opts.distDir ?? WEB_DIST_DIR);
  // Only the reply.sendFile decorator: routing (and the SPA fallback) is ours.
  void app.register(fastifyStatic, { root: distDir, serve: false, suppressWarning: true });

  const sendIndex = (reply: FastifyReply) => {
    securityHeaders(reply);
    if (!fs.existsSync(path.join(distDir, 'index.html'))) {
      return reply.code(200).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(MISSING_BUILD_PAGE);
    }
    return reply.header('cache-control', 'no-cache').sendFile('index.html', distDir, { cacheControl: false });
  };

  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const urlPath = req.url.split('?')[0]!;
    // Unknown API paths keep their problem+json 404; they are never the app's HTML.
    if (urlPath === '/api' || urlPath.startsWith('/api/')) return reply.callNotFound();
    if (urlPath === '/' || urlPath === '/index.html') return sendIndex(reply);
    const rel = fileIn(distDir, urlPath);
    if (rel) {
      securityHeaders(reply);
      const hashed = urlPath.startsWith(HASHED_ASSETS);
      reply.header('cache-control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache');
      return reply.sendFile(rel, distDir, { cacheControl: false });
    }
    // A missing hashed asset (e.g. an old chunk after an upgrade) is a 404, not the HTML page.
    if (urlPath.startsWith(HASHED_ASSETS)) return reply.callNotFound();
    return sendIndex(reply);
  };

  app.get('/', handler);
  app.get('/*', handler);
}
