import type { Principal } from '../../platform/principal.ts';
import { recordAudit } from '../../modules/audit/index.ts';
import { getDeadLetter, listDeadLetters, markReplayed } from '../store.ts';
import { defaultHandlers, CFX_FAILURE_CODES, type CfxDeps, type EndpointInfo, type HandlerRegistry } from './handlers/index.ts';
import { createCfxPipeline, INBOX_OUTCOMES, type IncomingPayload, type IngestResult, type InboxOutcome } from './ingest.ts';
import { createMachineResolver } from './machines.ts';
import { LOAD_REFUSAL_REASONS } from '../../modules/materials/index.ts';

/**
 * The CFX door as a service: the ingestion pipeline, the kept messages (dead letters,
 * unassigned) with their replay, and the figures an operator watches.
 */

export interface CfxServiceOptions {
  handle: string;
  /** What the MES reports about itself (the request listener's URI is known only once it listens). */
  endpoint?: () => EndpointInfo;
  registry?: HandlerRegistry;
  log?: (msg: string, err?: unknown) => void;
  /** Replays dead letters of other transports (MQTT) through their own ingestion. */
  replayOther?: (transport: string, letter: { payload: Buffer; topic: string | null; source: string | null; contentEncoding: string | null }) => Promise<{ ok: boolean; outcome: string; detail: string | null }>;
}

export interface UnassignedMessage {
  uniqueId: string;
  source: string;
  messageName: string;
  transport: string;
  eventAt: Date | null;
  receivedAt: Date;
  replayedAt: Date | null;
  replayOutcome: string | null;
  replayDetail: string | null;
  /** Whether the handle is registered now (the message can be replayed). */
  registered: boolean;
}

const outcomeSummary = (r: IngestResult): { ok: boolean; outcome: string; detail: string | null } => {
  if (r.payloadError) return { ok: false, outcome: 'rejected', detail: `${r.payloadError.code}: ${r.payloadError.message} (dead letter ${r.payloadError.deadLetterId})` };
  const bad = r.messages.filter((m) => m.outcome === 'rejected' || m.outcome === 'unassigned');
  const outcomes = [...new Set(r.messages.map((m) => m.outcome))].join(',');
  if (bad.length === 0) return { ok: true, outcome: outcomes || 'empty', detail: r.messages.map((m) => m.detail).filter(Boolean).join('; ') || null };
  return {
    ok: false,
    outcome: bad[0]!.outcome === 'rejected' ? 'rejected' : 'unassigned',
    detail: bad.map((m) => `${m.messageName ?? '?'} ${m.uniqueId ?? ''}: ${m.reasonCode ?? m.outcome}${m.deadLetterId ? ` (now dead letter ${m.deadLetterId})` : ''} ${m.detail ?? ''}`.trim()).join('; '),
  };
};

export function createCfxService(deps: CfxDeps, opts: CfxServiceOptions) {
  const db = deps.db;
  const resolver = createMachineResolver(db);
  const registry = opts.registry ?? defaultHandlers();
  const pipeline = createCfxPipeline(deps, registry, resolver, {
    handle: opts.handle,
    endpoint: opts.endpoint ?? (() => ({ requestUri: null, version: '0' })),
    ...(opts.log ? { log: opts.log } : {}),
  });

  /** Replays one dead letter through the ingestion path of its transport. */
  async function replayDeadLetter(who: Principal, id: number): Promise<{ id: number; ok: boolean; outcome: string; detail: string | null; result: IngestResult | null }> {
    const letter = await getDeadLetter(db, id);
    let summary: { ok: boolean; outcome: string; detail: string | null };
    let result: IngestResult | null = null;
    if (letter.transport === 'mqtt') {
      if (!opts.replayOther) summary = { ok: false, outcome: 'unavailable', detail: 'MQTT telemetry ingestion is not available' };
      else summary = await opts.replayOther('mqtt', { payload: letter.payload, topic: letter.topic, source: letter.source, contentEncoding: letter.contentEncoding });
    } else {
      result = (await pipeline.ingest([{ payload: letter.payload, contentEncoding: letter.contentEncoding, transport: 'replay', replay: true }]))[0]!;
      summary = outcomeSummary(result);
    }
    // The letter is closed either way: a new refusal is a new dead letter with its own reason.
    await db.tx(async (tx) => {
      await markReplayed(tx, id, who.name, summary.outcome, summary.detail, true);
      await recordAudit(tx, who, { action: 'replay', entity: 'cfx_dead_letter', entityId: id, after: summary });
    });
    return { id, ...summary, result };
  }

  async function listUnassigned(f: { source?: string; open?: boolean; limit?: number; beforeReceivedAt?: Date } = {}): Promise<UnassignedMessage[]> {
    return (
      await db.query<UnassignedMessage>(
        `SELECT u.unique_id AS "uniqueId", u.source, u.message_name AS "messageName", u.transport, u.event_at AS "eventAt", u.received_at AS "receivedAt",
                u.replayed_at AS "replayedAt", u.replay_outcome AS "replayOutcome", u.replay_detail AS "replayDetail",
                EXISTS (SELECT 1 FROM equipment e WHERE e.cfx_handle = u.source) AS registered
           FROM cfx_unassigned u
          WHERE ($1::text IS NULL OR u.source = $1) AND ($2::boolean IS NULL OR (u.replayed_at IS NULL) = $2)
          ORDER BY u.received_at DESC, u.unique_id LIMIT $3`,
        [f.source ?? null, f.open ?? null, Math.min(Math.max(f.limit ?? 100, 1), 1000)],
      )
    ).rows;
  }

  /** Unassigned messages per source handle, with whether the handle is registered now. */
  async function unassignedSources(): Promise<{ source: string; messages: number; first: Date; last: Date; registered: boolean }[]> {
    return (
      await db.query<{ source: string; messages: number; first: Date; last: Date; registered: boolean }>(
        `SELECT u.source, count(*)::int AS messages, min(u.received_at) AS first, max(u.received_at) AS last,
                EXISTS (SELECT 1 FROM equipment e WHERE e.cfx_handle = u.source) AS registered
           FROM cfx_unassigned u WHERE u.replayed_at IS NULL GROUP BY u.source ORDER BY u.source`,
      )
    ).rows;
  }

  /**
   * Replays the kept messages of handles that are registered now (optionally one handle or one
   * message), oldest first, in batches. Messages of handles still unknown stay kept.
   */
  async function replayUnassigned(who: Principal, f: { source?: string; uniqueId?: string; limit?: number } = {}): Promise<{ replayed: number; outcomes: Record<string, number> }> {
    resolver.invalidate();
    const limit = Math.min(Math.max(f.limit ?? 10_000, 1), 100_000);
    const outcomes: Record<string, number> = {};
    let replayed = 0;
    while (replayed < limit) {
      const rows = (
        await db.query<{ unique_id: string; envelope: unknown }>(
          `SELECT u.unique_id, u.envelope FROM cfx_unassigned u
            WHERE u.replayed_at IS NULL AND ($1::text IS NULL OR u.source = $1) AND ($2::text IS NULL OR u.unique_id = $2)
              AND EXISTS (SELECT 1 FROM equipment e WHERE e.cfx_handle = u.source)
            ORDER BY u.received_at, u.unique_id LIMIT $3`,
          [f.source ?? null, f.uniqueId ?? null, Math.min(500, limit - replayed)],
        )
      ).rows;
      if (rows.length === 0) break;
      const results = await pipeline.ingest(rows.map((r) => ({ payload: JSON.stringify(r.envelope), transport: 'replay', replay: true }) satisfies IncomingPayload));
      await db.tx(async (tx) => {
        for (const [i, r] of results.entries()) {
          const s = outcomeSummary(r);
          const outcome = r.messages[0]?.outcome ?? s.outcome;
          outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
          if (outcome === 'unassigned') continue;
          await tx.query('UPDATE cfx_unassigned SET replayed_at = now(), replay_outcome = $2, replay_detail = $3 WHERE unique_id = $1', [rows[i]!.unique_id, outcome, s.detail]);
        }
        await recordAudit(tx, who, { action: 'replay', entity: 'cfx_unassigned', entityId: f.uniqueId ?? f.source ?? null, after: { count: rows.length, outcomes } });
      });
      replayed += rows.length;
      if (f.uniqueId) break;
    }
    return { replayed, outcomes };
  }

  /** Messages by outcome since an instant (default: the last 24 h), open dead letters and unassigned messages. */
  async function stats(since: Date = new Date(Date.now() - 24 * 3600_000)) {
    const byOutcome = Object.fromEntries(INBOX_OUTCOMES.map((o) => [o, 0])) as Record<InboxOutcome, number>;
    const r = await db.query<{ outcome: InboxOutcome; n: number }>('SELECT outcome, count(*)::int AS n FROM cfx_inbox WHERE received_at >= $1 GROUP BY outcome', [since]);
    for (const row of r.rows) byOutcome[row.outcome] = row.n;
    const open = (
      await db.query<{ dead: number; unassigned: number }>(
        `SELECT (SELECT count(*) FROM cfx_dead_letters WHERE replayed_at IS NULL)::int AS dead, (SELECT count(*) FROM cfx_unassigned WHERE replayed_at IS NULL)::int AS unassigned`,
      )
    ).rows[0]!;
    return { since, byOutcome, openDeadLetters: open.dead, openUnassigned: open.unassigned };
  }

  /** Every FailureCode / ResultCode the MES may send in a CFX response, with its meaning. */
  function failureCodes(): { number: number; code: string; title: string; source: 'interlock' | 'materials' | 'cfx' }[] {
    const interlock = deps.tracking ? deps.tracking.interlockReasons().map((r) => ({ ...r, source: 'interlock' as const })) : [];
    const materials = LOAD_REFUSAL_REASONS.map((r) => ({ number: r.failureCode, code: r.code, title: r.sentence, source: 'materials' as const }));
    const cfx = Object.entries(CFX_FAILURE_CODES).map(([code, v]) => ({ number: v.number, code, title: v.title, source: 'cfx' as const }));
    return [...interlock, ...materials, ...cfx].sort((a, b) => a.number - b.number);
  }

  return {
    handle: opts.handle, registry, resolver,
    ingest: pipeline.ingest,
    listDeadLetters: (f: Parameters<typeof listDeadLetters>[1]) => listDeadLetters(db, f),
    getDeadLetter: (id: number) => getDeadLetter(db, id),
    replayDeadLetter, listUnassigned, unassignedSources, replayUnassigned, stats, failureCodes,
  };
}
export type CfxService = ReturnType<typeof createCfxService>;
