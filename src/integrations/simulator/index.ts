import crypto from 'node:crypto';
import type { Principal } from '../../platform/principal.ts';
import { AppError } from '../../platform/errors.ts';
import { seedDemo, demoFactoryDocument, reelQuantity } from '../../modules/demo/index.ts';

export { reelQuantity };
import type { Services } from '../../main.ts';
import { connectPublisher } from '../cfx/amqp.ts';
import { encodeCfxPayload, type CfxOutgoingEnvelope } from '../cfx/codec.ts';
import { LineSimulator, type LinePlan, type SimOptions, type SimStation } from './line.ts';

export { LineSimulator, type LinePlan, type SimOptions, type SimStation } from './line.ts';

/**
 * `mes simulate`: prepares a run on the demo line (a released, active work order for the demo
 * product with its units, and reels received for every feeder slot of the placement programs)
 * and plays the line's CFX traffic to the MES over a transport: the broker (AMQP 1.0), HTTP with
 * a machine token, or directly into the ingestion pipeline (same process).
 */

/** Where simulated machines send their messages. */
export interface SimTransport {
  readonly name: string;
  send(envs: CfxOutgoingEnvelope[]): Promise<void>;
  close(): Promise<void>;
}

/** POSTs each step of the line to /api/v1/cfx as one array (one transaction, in order). */
export function httpTransport(baseUrl: string, token: string): SimTransport {
  const url = `${baseUrl.replace(/\/$/, '')}/api/v1/cfx`;
  return {
    name: `http ${url}`,
    async send(envs) {
      if (envs.length === 0) return;
      const { body } = encodeCfxPayload(envs);
      const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } });
      if (!res.ok) throw new AppError('SERVICE_UNAVAILABLE', `POST ${url} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
    },
    close: async () => undefined,
  };
}

/** Publishes each message to the CFX exchange, subject `<handle>.<MessageName>`, as machines do. */
export async function amqpTransport(brokerUrl: string, address: string): Promise<SimTransport> {
  const pub = await connectPublisher(brokerUrl, { address, maxInFlight: 2000 });
  return {
    name: `amqp ${brokerUrl.replace(/\/\/[^@]*@/, '//')} ${address}`,
    async send(envs) {
      for (const e of envs) await pub.publish(e);
    },
    close: () => pub.close(),
  };
}

/** Straight into the pipeline of this process (tests, benchmarks). */
export function directTransport(services: Pick<Services, 'integrations'>): SimTransport {
  return {
    name: 'direct',
    async send(envs) {
      if (envs.length) await services.integrations.cfx.ingest([{ payload: encodeCfxPayload(envs).body, transport: 'http' }]);
    },
    close: async () => undefined,
  };
}

/**
 * Builds a run on the demo line: loads the demo factory (idempotent), creates, releases and
 * activates a work order of `boards` units on line SMT1, generates their serials, and receives
 * enough reels per placement slot for the run and one to spare (each next one is spliced on when
 * the one before runs out): as many pieces per reel as the part's package comes in
 * (`reelQuantity`), the first reel partly used; or, with `reelBoards`, reels of that many boards.
 */
export async function prepareDemoRun(s: Services, who: Principal, opts: { boards: number; reelBoards?: number }): Promise<LinePlan & { workOrder: string; approveFirstArticle: FirstArticleApprover }> {
  await seedDemo(s.imports, who);
  const doc = demoFactoryDocument();
  const productDoc = doc.products![0]!;
  const revDoc = productDoc.revisions![0]!;
  const rev = await s.products.findRevision(productDoc.code, revDoc.revision);
  if (!rev) throw new AppError('NOT_FOUND', `Demo product ${productDoc.code} revision ${revDoc.revision} is missing`);
  const line = await s.factory.lines.getByKey(doc.lines![0]!.code);
  if (!line) throw new AppError('NOT_FOUND', 'Demo line SMT1 is missing');
  const number = `SIM-${new Date().toISOString().replace(/[-:T.Z]/g, '').slice(0, 14)}-${Math.floor(Math.random() * 1000)}`;
  const wo = await s.workOrders.create(who, { number, customer: productDoc.customer ?? '', productRevisionId: rev.id, quantity: opts.boards, lineId: line.id });
  await s.workOrders.release(who, wo.id, 'line simulator');
  await s.workOrders.activate(who, wo.id);
  const serials: string[] = [];
  for (let left = opts.boards; left > 0; left -= 10_000) {
    serials.push(...(await s.tracking.generateUnits(who, { workOrder: wo.id, count: Math.min(left, 10_000) })).serials);
  }
  const handles = new Map(doc.equipment!.map((e) => [e.station, e.cfxHandle!]));
  const types = new Map(doc.stations!.map((st) => [st.code, st.type]));
  const programs = await s.products.listPrograms({ productRevisionId: rev.id });
  const station = async (code: string): Promise<SimStation> => {
    const st = await s.factory.stations.getByKey(code);
    const prog = programs.find((p) => p.stationId === st?.id && p.state === 'released') ?? null;
    const slots: SimStation['slots'] = [];
    for (const sl of prog?.slots ?? []) {
      const part = await s.parts.parts.getByKey(sl.ipn);
      const avl = (await s.parts.listAvl({ ipn: sl.ipn })).find((a) => !a.alternate && a.active);
      if (!avl) continue;
      const per = Math.max(sl.refdes.length, 1);
      // Pieces per package: a fixed number of boards per reel when asked (tests), else what the
      // part's package comes in (see reelQuantity), the first reel one already in use.
      const supply = opts.reelBoards ? { quantity: per * opts.reelBoards, kind: 'reel' as const } : reelQuantity(part?.package ?? null);
      const first = opts.reelBoards ? supply.quantity : firstReelLeft(supply.quantity, per, `${code}:${sl.slot}`);
      // Enough reels for the whole run (a slot that runs empty stops the machine: the setup
      // interlock refuses it), with one to spare (a reel is reported empty when what is left
      // cannot place one more board, so a run that uses exactly its last reel would empty it);
      // with a fixed number of boards per reel at least two, so every slot sees a splice.
      const reels = opts.reelBoards ? Math.max(2, Math.floor(opts.boards / opts.reelBoards) + 1) : reelsFor(opts.boards, per, first, supply.quantity) + 1;
      const packages = [];
      for (let i = 0; i < reels; i++) {
        const quantity = i === 0 ? first : supply.quantity;
        const r = await s.materials.receive(who, { ipn: sl.ipn, manufacturer: avl.manufacturer, mpn: avl.mpn, quantity, kind: supply.kind, lotCode: `${number}-${i + 1}`, dateCode: '2501' });
        packages.push({ code: r.package.code, quantity, msl: part?.mslLevel ?? '1' });
      }
      slots.push({ slot: sl.slot, ipn: sl.ipn, refdes: sl.refdes, packages });
    }
    return { code, type: types.get(code)!, handle: handles.get(code)!, program: prog ? { name: prog.name, revision: prog.revision } : null, slots };
  };
  const route: LinePlan['route'] = [];
  let repair: SimStation | null = null;
  for (const step of revDoc.route!.steps) {
    const st = await station(step.station!);
    if (step.isRepair) repair = st;
    else {
      route.push({
        seq: step.seq, station: st, onFail: (step.onFail as 'repair' | 'hold' | 'scrap' | undefined) ?? null, returnStepSeq: step.returnStepSeq ?? null,
        firstArticleGate: step.firstArticleGate ?? false,
      });
    }
  }
  route.sort((a, b) => a.seq - b.seq);
  // The first-article inspector: a quality engineer who signs the FAI approval of gated steps.
  const inspector = { username: 'sim-inspector', password: crypto.randomBytes(12).toString('base64url') };
  const existing = await s.db.one<{ id: number }>('SELECT id FROM users WHERE username = $1', [inspector.username]);
  if (existing) await s.auth.updateUser(who, existing.id, { password: inspector.password, role: 'quality-engineer', active: true });
  else await s.auth.createUser(who, { username: inspector.username, displayName: 'Simulated FAI inspector', role: 'quality-engineer', password: inspector.password });
  const approveFirstArticle = async (serial: string, stepSeq: number) => {
    await s.quality.decideFirstArticle(who, {
      serial, stepSeq, decision: 'approved', signature: { username: inspector.username, password: inspector.password, reason: 'Simulated first-article inspection passed' },
    });
  };
  return { route, repair, serials, workOrder: number, approveFirstArticle };
}


/**
 * What is left on the first reel of a slot: a running line's reels are at every fill level, so a
 * run starts on a reel already in use, from 5 to 100 % full (deterministic per slot), never less
 * than one board's pieces.
 */
function firstReelLeft(quantity: number, per: number, key: string): number {
  let h = 2166136261;
  for (const c of key) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  return Math.max(per, Math.round(quantity * (0.05 + 0.95 * (h / 4294967296))));
}

/** Reels a slot uses for `boards` boards, as the simulator places them (a reel ends when it cannot place one more board). */
function reelsFor(boards: number, per: number, first: number, quantity: number): number {
  let reels = 1;
  let left = first;
  for (let b = 0; b < boards; b++) {
    left -= per;
    if (left < per && b < boards - 1) {
      reels++;
      left = quantity;
    }
  }
  return reels;
}

/** Signs the FAI approval of a first article (the quality module's gate). */
export type FirstArticleApprover = (serial: string, stepSeq: number) => Promise<void>;

export interface RunOptions extends SimOptions {
  /** Called when the first board passed a first-article gate; retried until it succeeds (its completion may still be on the way). */
  approveFirstArticle?: FirstArticleApprover;
  /** Messages per second at most (0 = as fast as the transport takes them). */
  rate?: number;
  /** Stop after this many seconds (default: when every board is packed). */
  seconds?: number;
  signal?: AbortSignal;
  onProgress?: (p: { messages: number; completed: number; elapsedMs: number }) => void;
}

/** Plays the line until every board is packed (or the time is up / aborted), at the given rate. */
export async function runSimulation(plan: LinePlan, transport: SimTransport, opts: RunOptions = {}): Promise<{ messages: number; completed: number; elapsedMs: number }> {
  const sim = new LineSimulator(plan, opts);
  const t0 = Date.now();
  let lastReport = t0;
  const deadline = opts.seconds ? t0 + opts.seconds * 1000 : Number.POSITIVE_INFINITY;
  while (!sim.finished && !opts.signal?.aborted && Date.now() < deadline) {
    const envs = sim.tick();
    await transport.send(envs);
    while (sim.firstArticlesDue.length && opts.approveFirstArticle) {
      const fa = sim.firstArticlesDue[0]!;
      await retry(() => opts.approveFirstArticle!(fa.serial, fa.seq), 30_000);
      sim.firstArticlesDue.shift();
    }
    if (opts.rate && opts.rate > 0) {
      const due = t0 + (sim.messages / opts.rate) * 1000;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    if (opts.onProgress && Date.now() - lastReport >= 1000) {
      lastReport = Date.now();
      opts.onProgress({ messages: sim.messages, completed: sim.completed, elapsedMs: Date.now() - t0 });
    }
  }
  return { messages: sim.messages, completed: sim.completed, elapsedMs: Date.now() - t0 };
}

async function retry(fn: () => Promise<void>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
