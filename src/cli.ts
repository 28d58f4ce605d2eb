import fs from 'node:fs/promises';
import os from 'node:os';
import { Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import { loadConfig, ConfigError, type Config } from './platform/config.ts';
import { Db } from './platform/db.ts';
import { AppError } from './platform/errors.ts';
import { migrate } from './platform/migrate.ts';
import { ROLES, USER_ROLES, type Principal, type Role, type UserRole } from './platform/principal.ts';
import { createServices, openDatabase, startServer, VERSION, type Services } from './main.ts';
import { IMPORT_KINDS, type ImportKind, type Progress } from './modules/imports/index.ts';
import { seedDemo } from './modules/demo/index.ts';
import { BOM_FIELDS, mergeBomErrors, parseBomCsv, type BomField } from './modules/products/index.ts';

/** The command line: the same services as the HTTP API, for operators and scripts. */

const cliPrincipal = (): Principal => ({ kind: 'system', id: null, name: `cli:${os.userInfo().username}`, role: 'admin' });

/** Opens the database (embedded or DATABASE_URL), migrates it, builds the services, runs `fn`. */
async function withServices<T>(fn: (s: Services, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const { url, embedded } = await openDatabase(config);
  const db = new Db(url, 4);
  try {
    await migrate(url);
    return await fn(createServices(db, config), config);
  } finally {
    await db.close();
    await embedded?.stop();
  }
}

function progressBar(label: string): { progress: Progress; stop(): void } {
  if (!process.stderr.isTTY) {
    let last = 0;
    return {
      progress: (done, total, what) => {
        const pct = Math.floor((done / Math.max(total, 1)) * 10);
        if (pct > last || done === total) {
          last = pct;
          process.stderr.write(`${label}: ${done}/${total} (${what})\n`);
        }
      },
      stop: () => undefined,
    };
  }
  const bar = new cliProgress.SingleBar({ format: `${label} [{bar}] {value}/{total} {what}`, stream: process.stderr }, cliProgress.Presets.shades_classic);
  let started = false;
  return {
    progress: (done, total, what) => {
      if (!started) {
        bar.start(total, 0, { what });
        started = true;
      }
      bar.update(done, { what });
    },
    stop: () => started && bar.stop(),
  };
}

function waitForSignal(stop: () => Promise<void>) {
  let stopping = false;
  const handler = async () => {
    if (stopping) return;
    stopping = true;
    await stop().catch((e) => console.error(e));
    process.exit(0);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

const program = new Command();
program.name('mes').description('SMT manufacturing execution system').version(VERSION);

program
  .command('serve')
  .description('Start the MES server (no demo data). Configure with DATABASE_URL, PORT, HOST, MES_DATA_DIR, MES_ADMIN_PASSWORD.')
  .action(async () => {
    const running = await startServer(loadConfig());
    console.log(`MES listening on ${running.url} (API docs: ${running.url}/api/v1/docs)`);
    waitForSignal(running.stop);
  });

program
  .command('migrate')
  .description('Apply pending database migrations and exit')
  .action(async () => {
    const config = loadConfig();
    const { url, embedded } = await openDatabase(config);
    try {
      const applied = await migrate(url, console.log);
      console.log(applied.length ? `Applied ${applied.length} migration(s)` : 'Database is up to date');
    } finally {
      await embedded?.stop();
    }
  });

program
  .command('import')
  .description(
    `Import a file: ${[...IMPORT_KINDS, 'bom'].join(' | ')}. factory = JSON/YAML factory document; parts, avl, bom = CSV ` +
      '(bom needs --revision PRODUCT:REV of a draft revision). All or nothing; errors listed by line.',
  )
  .argument('<kind>', [...IMPORT_KINDS, 'bom'].join(' | '))
  .argument('<file>', 'path of the file')
  .option('--revision <product:rev>', 'for bom: the draft product revision, e.g. CTRL-100:B')
  .option('--map <field=column...>', 'for bom: explicit column mapping, e.g. ipn="Part No" refdes=Designators')
  .action(async (kind: string, file: string, opts: { revision?: string; map?: string[] }) => {
    const text = await fs.readFile(file, 'utf8');
    if (kind === 'bom') {
      const m = /^(.+):([^:]+)$/.exec(opts.revision ?? '');
      if (!m) throw new AppError('VALIDATION_FAILED', 'bom import needs --revision PRODUCT:REV');
      const mapping: Partial<Record<BomField, string>> = {};
      for (const kv of opts.map ?? []) {
        const [f, ...rest] = kv.split('=');
        if (!(BOM_FIELDS as readonly string[]).includes(f!)) throw new AppError('VALIDATION_FAILED', `Unknown BOM field ${f}; use ${BOM_FIELDS.join(', ')}`);
        mapping[f as BomField] = rest.join('=');
      }
      await withServices(async (s) => {
        const rev = await s.products.findRevision(m[1]!, m[2]!);
        if (!rev) throw new AppError('NOT_FOUND', `Product revision ${opts.revision} does not exist`);
        const parsed = parseBomCsv(text, mapping);
        if (parsed.errors.length) {
          const all = mergeBomErrors(parsed.errors, await s.products.checkBomLines(parsed.lines));
          throw new AppError('IMPORT_INVALID', `The BOM file has ${all.length} error(s); nothing was imported`, { errors: all });
        }
        const r = await s.products.replaceBom(cliPrincipal(), rev.id, parsed.lines, { createParts: true, source: `csv:${file}` });
        console.log(`Imported BOM ${file} into ${opts.revision}: ${r.lines} lines, ${r.placements} placements, ${r.partsCreated} parts and ${r.avlEntriesCreated} AVL entries created`);
      });
      return;
    }
    if (!IMPORT_KINDS.includes(kind as ImportKind)) throw new AppError('VALIDATION_FAILED', `Unknown import kind "${kind}"; use one of ${[...IMPORT_KINDS, 'bom'].join(', ')}`);
    await withServices(async (s) => {
      const bar = progressBar(`import ${kind}`);
      try {
        const r = await s.imports.importText(cliPrincipal(), kind as ImportKind, text, bar.progress);
        bar.stop();
        console.log(`Imported ${file}: ${r.created} created, ${r.updated} updated, ${r.unchanged} unchanged`);
        for (const n of r.notes) console.log(`note: ${n}`);
      } finally {
        bar.stop();
      }
    });
  });

const user = program.command('user').description('Manage users');
user
  .command('add')
  .description('Create a user; the password comes from --password, MES_USER_PASSWORD, or is generated and printed once')
  .argument('<username>')
  .addOption(new Option('--role <role>', 'role').choices([...USER_ROLES]).makeOptionMandatory())
  .option('--name <displayName>', 'display name')
  .option('--password <password>', 'password (prefer MES_USER_PASSWORD to keep it out of the shell history)')
  .action(async (username: string, opts: { role: UserRole; name?: string; password?: string }) => {
    const generated = opts.password ?? process.env.MES_USER_PASSWORD ? undefined : (await import('node:crypto')).randomBytes(12).toString('base64url');
    const password = opts.password ?? process.env.MES_USER_PASSWORD ?? generated!;
    await withServices(async (s) => {
      const u = await s.auth.createUser(cliPrincipal(), { username, role: opts.role, password, ...(opts.name ? { displayName: opts.name } : {}) });
      console.log(`Created user ${u.username} (${u.role})`);
      if (generated) console.log(`Password: ${generated}`);
    });
  });

const token = program.command('token').description('Manage API tokens for machines, ERP and scripts');
token
  .command('create')
  .description('Create an API token; the token is printed alone on the last line')
  .requiredOption('--name <name>', 'token name, e.g. the machine or integration it belongs to')
  .addOption(new Option('--role <role>', 'role').choices([...ROLES]).makeOptionMandatory())
  .option('--station <code...>', 'limit the token to these stations')
  .action(async (opts: { name: string; role: Role; station?: string[] }) => {
    await withServices(async (s) => {
      const r = await s.auth.createToken(cliPrincipal(), { name: opts.name, role: opts.role, stationCodes: opts.station ?? [] });
      console.log(`Created token "${r.info.name}" with role ${r.info.role}${r.info.stationIds.length ? ` for ${r.info.stationIds.length} station(s)` : ''}`);
      console.log(r.token);
    });
  });

const demo = program.command('demo').description('Demo factory');
demo
  .command('seed')
  .description('Load the demo factory (one SMT line, a 60-line BOM product with ~300 placements, AVL, route, programs, quality plan); idempotent')
  .action(async () => {
    await withServices(async (s) => {
      const bar = progressBar('demo seed');
      const r = await seedDemo(s.imports, cliPrincipal(), bar.progress);
      bar.stop();
      console.log(`Demo factory loaded: ${r.created} created, ${r.updated} updated, ${r.unchanged} unchanged`);
    });
  });
demo
  .command('start')
  .description('The newcomer demo: start the server on the embedded database, load the demo factory, and run the line simulator so the dashboard moves (--no-simulate: without it)')
  .option('--no-simulate', 'do not run the line simulator')
  .option('--boards <n>', 'boards per simulated work order', '25')
  .option('--rate <msgPerSecond>', 'CFX messages per second of the simulated line', '40')
  .action(async (opts: { simulate: boolean; boards: string; rate: string }) => {
    const config = loadConfig();
    const running = await startServer(config);
    const r = await seedDemo(running.services.imports, cliPrincipal());
    console.log(`Demo factory ready (${r.created} created, ${r.unchanged} unchanged).`);
    let line: { stop(): Promise<void> } | null = null;
    if (opts.simulate) {
      const { startDemoLine } = await import('./modules/demo/live-line.ts');
      const boards = Number(opts.boards);
      const rate = Number(opts.rate);
      line = await startDemoLine(running.services, cliPrincipal(), config, running.url, {
        boards: Number.isInteger(boards) && boards > 0 ? boards : 25, rate: Number.isFinite(rate) && rate > 0 ? rate : 40,
      });
    }
    console.log(`MES listening on ${running.url}  ·  API docs ${running.url}/api/v1/docs  ·  health ${running.url}/api/v1/health`);
    if (line) console.log(`Line dashboard (live): ${running.url}/dashboard  ·  Ctrl-C stops the simulator and the server.`);
    if (!config.adminPassword) console.log('Log in as "admin" (password printed above on first start, or set MES_ADMIN_PASSWORD).');
    waitForSignal(async () => {
      await line?.stop();
      await running.stop();
    });
  });

const cfx = program.command('cfx').description('IPC-CFX machine integration');
cfx
  .command('setup')
  .description('Declare the durable CFX queue and bind it to the exchange on the broker (MES_CFX_BROKER_URL, MES_CFX_QUEUE, MES_CFX_EXCHANGE, MES_CFX_BINDING); idempotent')
  .action(async () => {
    const { setupBroker } = await import('./integrations/index.ts');
    const config = loadConfig();
    if (!config.cfx.brokerUrl) throw new ConfigError('MES_CFX_BROKER_URL must be set for `mes cfx setup` (e.g. amqp://user:password@broker:5672)');
    const r = await setupBroker(config.cfx);
    console.log(`Queue ${r.queue} is bound to exchange ${r.exchange} with key ${r.binding} (${r.messages} message(s) waiting, ${r.consumers} consumer(s))`);
    console.log(`The MES consumes it at AMQP 1.0 address ${config.cfx.consumerAddress}.`);
  });
cfx
  .command('status')
  .description('Messages per outcome in the last 24 h, open dead letters and unassigned messages')
  .action(async () => {
    await withServices(async (s) => {
      const st = await s.integrations.cfx.stats();
      console.log(`CFX handle ${s.integrations.cfx.handle}`);
      for (const [o, n] of Object.entries(st.byOutcome)) console.log(`  ${o.padEnd(12)} ${n}`);
      console.log(`Open dead letters: ${st.openDeadLetters}; unassigned messages: ${st.openUnassigned}`);
    });
  });

program
  .command('simulate')
  .description(
    'Play the demo line\'s CFX traffic: a work order of --boards units on line SMT1 through every station, with materials, inspections, tests, repairs, states and faults. ' +
      'Over the broker when MES_CFX_BROKER_URL is set (or --transport amqp), else over HTTP to a running MES with a machine token (--url, --token), or --transport direct into this process.',
  )
  .option('--boards <n>', 'units to build', '20')
  .option('--rate <msgPerSecond>', 'messages per second at most (0: as fast as possible)', '50')
  .addOption(new Option('--transport <kind>', 'how the machines talk to the MES').choices(['amqp', 'http', 'direct']))
  .option('--url <url>', 'the MES for --transport http (default http://HOST:PORT)')
  .option('--token <token>', 'machine API token for --transport http (default: one is created)')
  .option('--seed <n>', 'random seed (a run is reproducible)', '42')
  .option('--aoi-defects <rate>', 'share of boards with a real AOI defect', '0.05')
  .option('--test-failures <rate>', 'share of ICT / FCT failures', '0.02')
  .option('--faults <rate>', 'chance per board and station of a machine fault', '0.004')
  .action(async (opts: { boards: string; rate: string; transport?: 'amqp' | 'http' | 'direct'; url?: string; token?: string; seed: string; aoiDefects: string; testFailures: string; faults: string }) => {
    const sim = await import('./integrations/simulator/index.ts');
    const num = (v: string, name: string) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw new AppError('VALIDATION_FAILED', `--${name} must be a number ≥ 0, got ${v}`);
      return n;
    };
    await withServices(async (s, config) => {
      const kind = opts.transport ?? (config.cfx.brokerUrl ? 'amqp' : 'http');
      const plan = await sim.prepareDemoRun(s, cliPrincipal(), { boards: Math.max(1, Math.floor(num(opts.boards, 'boards'))) });
      let transport;
      if (kind === 'amqp') {
        if (!config.cfx.brokerUrl) throw new ConfigError('MES_CFX_BROKER_URL must be set for --transport amqp');
        transport = await sim.amqpTransport(config.cfx.brokerUrl, config.cfx.publishAddress);
      } else if (kind === 'http') {
        const token = opts.token ?? (await s.auth.createToken(cliPrincipal(), { name: `simulator-${Date.now()}`, role: 'machine' })).token;
        transport = sim.httpTransport(opts.url ?? `http://${config.host}:${config.port}`, token);
      } else {
        transport = sim.directTransport(s);
      }
      console.log(`Simulating work order ${plan.workOrder}: ${plan.serials.length} board(s) on SMT1 via ${transport.name}`);
      const stop = new AbortController();
      process.once('SIGINT', () => stop.abort());
      const r = await sim.runSimulation(plan, transport, {
        rate: num(opts.rate, 'rate'), seed: num(opts.seed, 'seed'), aoiDefectRate: num(opts.aoiDefects, 'aoi-defects'), testFailRate: num(opts.testFailures, 'test-failures'),
        faultRate: num(opts.faults, 'faults'), signal: stop.signal, approveFirstArticle: plan.approveFirstArticle,
        onProgress: (p) => console.log(`${(p.elapsedMs / 1000).toFixed(0)} s: ${p.messages} messages, ${p.completed} board(s) packed`),
      });
      await transport.close();
      console.log(`Done: ${r.messages} messages, ${r.completed} board(s) packed in ${(r.elapsedMs / 1000).toFixed(1)} s (${Math.round(r.messages / Math.max(r.elapsedMs / 1000, 0.001))} msg/s)`);
    });
  });

(await import('./modules/quality/cli.ts')).registerQualityCommands(program, { run: (fn) => withServices((s) => fn(s.quality)), principal: cliPrincipal });

(await import('./modules/records/cli.ts')).registerRecordsCommands(program);

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof ConfigError) console.error(`Configuration error: ${e.message}`);
  else if (e instanceof AppError) {
    console.error(`${e.code}: ${e.message}`);
    for (const fe of e.errors ?? []) console.error(`  ${fe.field}: ${fe.message}`);
  } else console.error(e instanceof Error ? e.message : e);
  // Exit explicitly: an exit hook of the embedded PostgreSQL would otherwise end with code 0.
  process.exit(1);
});
