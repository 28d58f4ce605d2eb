/**
 * `npm run bench -- api`: an authenticated read route and a write route of the MES under load
 * from autocannon on loopback, against the bare-Fastify ceiling measured in the same run.
 * Each server runs in its own process so the load generator does not share its event loop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import { scratchDatabase } from './lib.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 50;

async function serveBare() {
  const app = Fastify({ logger: false });
  app.get('/hello', async () => ({ hello: 'world' }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const a = app.server.address();
  process.send!({ port: typeof a === 'object' && a ? a.port : 0 });
}

async function serveMes(dbUrl: string) {
  const { loadConfig } = await import('../src/platform/config.ts');
  const { startServer } = await import('../src/main.ts');
  const system = { kind: 'system' as const, id: null, name: 'bench', role: 'admin' as const };
  const running = await startServer(loadConfig({ DATABASE_URL: dbUrl, PORT: '0', MES_LOG_LEVEL: 'silent', MES_ADMIN_PASSWORD: 'bench-password', MES_DB_POOL: '10' }), () => undefined);
  const s = running.services;
  const { token } = await s.auth.createToken(system, { name: 'bench-reader', role: 'viewer' });
  const { token: writer } = await s.auth.createToken(system, { name: 'bench-writer', role: 'process-engineer' });
  const part = await s.parts.parts.create(system, { ipn: 'BENCH-READ-1', description: 'benchmark part', package: '0402', mslLevel: '3' });
  process.send!({ port: Number(new URL(running.url).port), token, writer, partId: part.id });
}

function child(mode: string, arg = ''): Promise<{ proc: ChildProcess; info: Record<string, any> }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), mode, arg], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    proc.once('message', (info) => resolve({ proc, info: info as Record<string, any> }));
    proc.once('exit', (code) => reject(new Error(`${mode} server exited with ${code}`)));
  });
}

async function load(opts: autocannon.Options) {
  const r = await autocannon({ connections: CONNECTIONS, duration: SECONDS, ...opts });
  return { rps: Math.round(r.requests.average), p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx, total: r.requests.total };
}

export default async function bench(): Promise<void> {
  const db = await scratchDatabase('bench_api');
  const bare = await child('--serve-bare');
  const mes = await child('--serve-mes', db.url);
  try {
    // Warm-up so JIT and the credential cache are in steady state.
    await autocannon({ url: `http://127.0.0.1:${bare.info.port}/hello`, connections: 10, duration: 2 });
    await autocannon({ url: `http://127.0.0.1:${mes.info.port}/api/v1/parts/${mes.info.partId}`, headers: { authorization: `Bearer ${mes.info.token}` }, connections: 10, duration: 2 });
    const ceiling = await load({ url: `http://127.0.0.1:${bare.info.port}/hello` });
    const me = await load({ url: `http://127.0.0.1:${mes.info.port}/api/v1/auth/me`, headers: { authorization: `Bearer ${mes.info.token}` } });
    const read = await load({ url: `http://127.0.0.1:${mes.info.port}/api/v1/parts/${mes.info.partId}`, headers: { authorization: `Bearer ${mes.info.token}` } });
    let n = 0;
    const write = await load({
      url: `http://127.0.0.1:${mes.info.port}/api/v1/parts`,
      method: 'POST',
      headers: { authorization: `Bearer ${mes.info.writer}`, 'content-type': 'application/json' },
      // A new IPN per request, so every request is a real insert.
      requests: [{ setupRequest: (req) => ({ ...req, body: JSON.stringify({ ipn: `BENCH-W-${++n}`, description: 'write bench' }) }) }],
    });
    const rows = [
      ['bare Fastify GET /hello (ceiling)', ceiling],
      ['MES GET /api/v1/auth/me (Bearer; auth + framework, no query)', me],
      ['MES GET /api/v1/parts/:id (Bearer, viewer; one indexed query)', read],
      ['MES POST /api/v1/parts (Bearer, audited insert)', write],
    ] as const;
    console.log(`\n${CONNECTIONS} connections, ${SECONDS} s each, loopback\n`);
    console.log('| route | req/s | p50 ms | p99 ms | errors |');
    console.log('|---|---:|---:|---:|---:|');
    for (const [name, r] of rows) console.log(`| ${name} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.errors} |`);
    console.log(`\nauthenticated read / ceiling = ${(read.rps / ceiling.rps).toFixed(2)} (target ≥ 0.50)`);
    console.log(`write / ceiling = ${(write.rps / ceiling.rps).toFixed(2)}`);
    console.log(JSON.stringify({ bench: 'api', ceiling, me, read, write, readRatio: read.rps / ceiling.rps }));
  } finally {
    bare.proc.kill();
    mes.proc.kill();
    await new Promise((r) => setTimeout(r, 300));
    await db.drop();
  }
}

if (process.argv[2] === '--serve-bare') await serveBare();
if (process.argv[2] === '--serve-mes') await serveMes(process.argv[3]!);
