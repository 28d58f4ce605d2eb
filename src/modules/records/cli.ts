import fs from 'node:fs';
import os from 'node:os';
import { Command } from 'commander';
import cliProgress from 'cli-progress';
import { loadConfig, type Config } from '../../platform/config.ts';
import { Db } from '../../platform/db.ts';
import { AppError } from '../../platform/errors.ts';
import { migrate } from '../../platform/migrate.ts';
import type { Principal } from '../../platform/principal.ts';
import { createServices, openDatabase, type Services } from '../../main.ts';
import { generateHistory } from '../demo/index.ts';
import { EXTRACTS, TRACE_SCOPES, verifyPackage, type ExtractName, type TraceScope } from './index.ts';

/**
 * Commands of the records door: `mes trace-package`, `mes verify`, `mes extract`,
 * `mes signing-key`, and `mes demo generate` (the history generator). They call the same
 * service functions as the REST routes.
 */

const cliPrincipal = (): Principal => ({ kind: 'system', id: null, name: `cli:${os.userInfo().username}`, role: 'admin' });

async function withServices<T>(fn: (s: Services, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const { url, embedded } = await openDatabase(config);
  const db = new Db(url, 6);
  try {
    await migrate(url);
    return await fn(createServices(db, config), config);
  } finally {
    await db.close();
    await embedded?.stop();
  }
}

function bar(label: string) {
  if (!process.stderr.isTTY) {
    let last = -1;
    return {
      update: (done: number, total: number, what: string) => {
        const pct = Math.floor((done / Math.max(total, 1)) * 20);
        if (pct > last) {
          last = pct;
          process.stderr.write(`${label}: ${done}/${total} ${what}\n`);
        }
      },
      stop: () => undefined,
    };
  }
  const b = new cliProgress.SingleBar({ format: `${label} [{bar}] {percentage}% {value}/{total} {what}`, stream: process.stderr }, cliProgress.Presets.shades_classic);
  let started = false;
  return {
    update: (done: number, total: number, what: string) => {
      if (!started) {
        b.start(Math.max(total, 1), 0, { what });
        started = true;
      }
      b.setTotal(Math.max(total, 1));
      b.update(done, { what });
    },
    stop: () => started && b.stop(),
  };
}

const int = (v: string, name: string, min = 1) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new AppError('VALIDATION_FAILED', `--${name} must be an integer ≥ ${min}, got ${v}`, { errors: [{ field: `/${name}`, code: 'type', message: `must be an integer ≥ ${min}` }] });
  return n;
};

export function registerRecordsCommands(program: Command): void {
  const demo = program.commands.find((c) => c.name() === 'demo') ?? program.command('demo').description('Demo factory');
  demo
    .command('generate')
    .description('Write realistic production history of the demo board at high speed (COPY): units on panels, routes, materials with splices, results, repairs, NCRs, cartons, shipments')
    .requiredOption('--units <n>', 'units to generate')
    .option('--work-orders <k>', 'work orders to spread them over (default: one per 10,000 units)')
    .option('--prefix <p>', 'prefix of the generated keys (letters and digits, at most 12)')
    .option('--seed <n>', 'random seed', '20261122')
    .action(async (opts: { units: string; workOrders?: string; prefix?: string; seed: string }) => {
      await withServices(async (s) => {
        const b = bar('generate');
        const r = await generateHistory(s, cliPrincipal(), {
          units: int(opts.units, 'units'), ...(opts.workOrders ? { workOrders: int(opts.workOrders, 'work-orders') } : {}), ...(opts.prefix ? { prefix: opts.prefix } : {}),
          seed: int(opts.seed, 'seed', 0), onProgress: b.update,
        });
        b.stop();
        console.log(`Generated ${r.units} units in ${r.workOrders.length} work order(s) (prefix ${r.prefix}) in ${r.seconds.toFixed(1)} s`);
        for (const [t, n] of Object.entries(r.rows)) console.log(`  ${t.padEnd(30)} ${n}`);
        console.log(`Database grew by ${((r.databaseBytesAfter - r.databaseBytesBefore) / 2 ** 20).toFixed(1)} MiB (${r.bytesPerUnit} bytes per unit); now ${(r.databaseBytesAfter / 2 ** 30).toFixed(2)} GiB`);
        console.log(JSON.stringify({ generate: { ...r, workOrders: r.workOrders.length } }));
      });
    });

  program
    .command('trace-package')
    .description('Build the signed trace package (ZIP) of a work order, production lot or shipment; contents follow the quality plan')
    .option('--work-order <number>', 'work order number')
    .option('--lot <code>', 'production lot code')
    .option('--shipment <number>', 'shipment number')
    .requiredOption('--out <file>', 'where to write the ZIP')
    .action(async (opts: { workOrder?: string; lot?: string; shipment?: string; out: string }) => {
      const given = ([['work-order', opts.workOrder], ['lot', opts.lot], ['shipment', opts.shipment]] as const).filter((x) => x[1] !== undefined);
      if (given.length !== 1) throw new AppError('VALIDATION_FAILED', 'give exactly one of --work-order, --lot, --shipment');
      const [scope, ref] = given[0]! as [TraceScope, string];
      if (!TRACE_SCOPES.includes(scope)) throw new AppError('VALIDATION_FAILED', `unknown scope ${scope}`);
      await withServices(async (s, config) => {
        const b = bar('trace package');
        const out = fs.createWriteStream(opts.out);
        const r = await s.records.writePackage(cliPrincipal(), { scope, ref }, out, { dataDir: config.dataDir, onProgress: (p) => b.update(p.filesDone, p.files, `${p.file} · ${p.rows} rows`) });
        b.stop();
        console.log(`Wrote ${opts.out}: ${r.files.length} files, ${r.rows} rows, ${r.bytes} bytes; signed with key ${r.keyId}`);
      });
    });

  program
    .command('verify')
    .description('Check a trace package offline: every file against the manifest (SHA-256, size), no missing or extra file, and the Ed25519 signature of the manifest')
    .argument('<zip>', 'the trace package')
    .option('--key <file>', 'trusted public key (PEM); default: the key inside the package, whose fingerprint is printed')
    .action(async (zip: string, opts: { key?: string }) => {
      const r = await verifyPackage(zip, opts.key ? { publicKeyPem: fs.readFileSync(opts.key, 'utf8') } : {});
      for (const l of r.problems) console.log(`FAIL ${l}`);
      if (r.ok) console.log(`OK: ${r.files} files match the manifest; signature valid (key ${r.keyId}${opts.key ? ', trusted key given' : ', key from the package'})`);
      else {
        // Exit explicitly (an exit hook of the embedded PostgreSQL would end with 0), once the report is written.
        process.stdout.write(`INVALID: ${r.problems.length} problem(s)\n`, () => process.exit(1));
        await new Promise(() => undefined);
      }
    });

  program
    .command('extract')
    .description(`Production extract as CSV or JSON: ${EXTRACTS.join(', ')}`)
    .argument('<name>', EXTRACTS.join(' | '))
    .option('--format <f>', 'csv | json', 'csv')
    .option('--work-order <number>', 'limit to a work order (required for material-usage)')
    .option('--out <file>', 'write to a file instead of standard output')
    .action(async (name: string, opts: { format: string; workOrder?: string; out?: string }) => {
      if (!(EXTRACTS as readonly string[]).includes(name)) throw new AppError('VALIDATION_FAILED', `unknown extract ${name}; use ${EXTRACTS.join(', ')}`);
      if (opts.format !== 'csv' && opts.format !== 'json') throw new AppError('VALIDATION_FAILED', '--format must be csv or json');
      await withServices(async (s) => {
        const out = opts.out ? fs.createWriteStream(opts.out) : process.stdout;
        await s.records.writeExtract(name as ExtractName, opts.format as 'csv' | 'json', { ...(opts.workOrder ? { workOrder: opts.workOrder } : {}) }, out);
      });
    });

  program
    .command('signing-key')
    .description("Print the site's public Ed25519 key (PEM) that signs trace packages; created on first use")
    .option('--site <code>', 'site code (default: the only / first site)')
    .action(async (opts: { site?: string }) => {
      await withServices(async (s, config) => {
        const k = await s.records.publicKey({ dataDir: config.dataDir, ...(opts.site ? { site: opts.site } : {}) });
        process.stdout.write(k.publicKeyPem);
        console.error(`site ${k.site}, key ${k.keyId}`);
      });
    });
}
