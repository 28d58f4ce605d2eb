import type { Config } from '../../platform/config.ts';
import type { Principal } from '../../platform/principal.ts';
import type { Services } from '../../main.ts';
import * as sim from '../../integrations/simulator/index.ts';

/**
 * The moving demo line of `mes demo start`: the line simulator builds one work order of
 * `boards` units after another on line SMT1, talking CFX to the running MES like real machines
 * do: over the broker when MES_CFX_BROKER_URL is set and reachable (the MES consumes that queue),
 * else over the HTTP CFX door with a machine token created for the run (revoked at stop). A
 * finished work order is completed and the next one starts. Errors are reported in one line
 * and the run is retried; `stop()` ends it between two steps.
 */

export interface DemoLineOptions {
  boards?: number;
  /** Messages per second at most. */
  rate?: number;
  faultRate?: number;
  log?: (line: string) => void;
}

export interface DemoLine {
  /** How the machines talk to the MES: `amqp …` or `http …`. */
  transport: string;
  stop(): Promise<void>;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });

async function openTransport(s: Services, who: Principal, config: Config, url: string, log: (l: string) => void): Promise<{ transport: sim.SimTransport; tokenId: number | null }> {
  if (config.cfx.brokerUrl) {
    try {
      const t = await Promise.race([
        sim.amqpTransport(config.cfx.brokerUrl, config.cfx.publishAddress),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer within 5 s')), 5_000).unref()),
      ]);
      return { transport: t, tokenId: null };
    } catch (e) {
      log(`Line simulator: the CFX broker is not reachable (${e instanceof Error ? e.message : String(e)}); using the HTTP CFX door instead.`);
    }
  }
  const tok = await s.auth.createToken(who, { name: `demo-line-simulator-${Date.now()}`, role: 'machine' });
  return { transport: sim.httpTransport(url, tok.token), tokenId: tok.info.id };
}

export async function startDemoLine(s: Services, who: Principal, config: Config, url: string, opts: DemoLineOptions = {}): Promise<DemoLine> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const boards = opts.boards ?? 25;
  const stop = new AbortController();
  const { transport, tokenId } = await openTransport(s, who, config, url, log);

  const loop = (async () => {
    while (!stop.signal.aborted) {
      let plan: Awaited<ReturnType<typeof sim.prepareDemoRun>> | null = null;
      try {
        plan = await sim.prepareDemoRun(s, who, { boards });
        log(`Line simulator: work order ${plan.workOrder}, ${plan.serials.length} boards on SMT1 via ${transport.name}`);
        const r = await sim.runSimulation(plan, transport, {
          rate: opts.rate ?? 40, faultRate: opts.faultRate ?? 0.01, seed: Math.floor(Math.random() * 1e9), signal: stop.signal, approveFirstArticle: plan.approveFirstArticle,
        });
        if (stop.signal.aborted) break;
        log(`Line simulator: ${plan.workOrder} done, ${r.completed} boards packed in ${(r.elapsedMs / 1000).toFixed(0)} s`);
      } catch (e) {
        if (stop.signal.aborted) break;
        log(`Line simulator: ${e instanceof Error ? e.message : String(e)}; retrying in 5 s`);
        await sleep(5_000, stop.signal);
      }
      if (plan) {
        // The finished (or broken-off) order leaves the line so the next one becomes active.
        try {
          const wo = (await s.workOrders.list({ number: plan.workOrder }))[0];
          if (wo && ['released', 'in_progress'].includes(wo.state)) await s.workOrders.transition(who, wo.id, 'complete');
        } catch (e) {
          log(`Line simulator: could not complete ${plan.workOrder}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    }
  })();

  return {
    transport: transport.name,
    stop: async () => {
      stop.abort();
      await loop;
      await transport.close().catch(() => undefined);
      if (tokenId !== null) await s.auth.revokeToken(who, tokenId).catch(() => undefined);
    },
  };
}
