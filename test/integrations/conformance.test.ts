import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { classifyMessage, SUPPORTED_MESSAGES } from '../../src/integrations/cfx/messages.ts';
import { bearer, testApp, testServices, tokenFor, uniq } from '../helpers.ts';
import { envelope, makeMachines, stripTypes } from './support.ts';

/**
 * Conformance: every example body of the CFX SDK (../shared/cfx-examples), wrapped in an
 * envelope with and without `$type`, goes through the ingestion path. Supported messages are
 * processed or refused with a specific reason, unsupported ones recorded, requests answered;
 * nothing crashes and nothing is silently dropped: every message sent has exactly one inbox
 * row, and every refused one a dead letter with its reason.
 */

const DIR = path.resolve(import.meta.dirname, '../../../shared/cfx-examples');
const examples = fs
  .readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({ file: f, ...(JSON.parse(fs.readFileSync(path.join(DIR, f), 'utf8')) as { MessageName: string; MessageBody: Record<string, unknown> }) }));

type Sent = { file: string; variant: string; uniqueId: string; name: string; requestId: string | null };

describe('CFX conformance over the SDK examples', () => {
  let handle: string;
  const sent: Sent[] = [];
  const responses = new Map<string, Record<string, unknown>>();

  beforeAll(async () => {
    const { machines } = await makeMachines(['placement']);
    handle = machines.placement!.handle;
    const s = testServices();
    const mes = s.integrations.cfx.handle;
    const make = (variant: 'typed' | 'untyped' | 'unknown-handle') =>
      examples.map((ex) => {
        const body = variant === 'untyped' ? (stripTypes(ex.MessageBody) as Record<string, unknown>) : { $type: `${ex.MessageName}, CFX`, ...ex.MessageBody };
        const env = envelope(ex.MessageName, variant === 'unknown-handle' ? `Unknown.Vendor.${uniq()}` : handle, body, { Target: mes, RequestID: ex.MessageName.endsWith('Request') ? uniq('REQ') : null });
        sent.push({ file: ex.file, variant, uniqueId: env.UniqueID as string, name: ex.MessageName, requestId: env.RequestID as string | null });
        return env;
      });
    // With $type, as one array payload through the pipeline (the broker path).
    const typed = make('typed');
    const [r1] = await s.integrations.cfx.ingest([{ payload: JSON.stringify(typed), transport: 'amqp' }]);
    // Without $type, gzipped, one envelope per HTTP request (the HTTP door).
    const untyped = make('untyped');
    const app = await testApp();
    const token = await tokenFor('machine');
    for (const env of untyped) {
      const res = await app.inject({
        method: 'POST', url: '/api/v1/cfx', payload: gzipSync(Buffer.from(JSON.stringify(env))),
        headers: { ...bearer(token), 'content-type': 'application/json', 'content-encoding': 'gzip' },
      });
      expect(res.statusCode, `${env.MessageName}: ${res.body}`).toBe(200);
      for (const resp of res.json().responses) responses.set(String(resp.RequestID), resp);
    }
    await app.close();
    // From a handle no equipment has: kept as unassigned (requests are still answered).
    const unknown = make('unknown-handle');
    const [r3] = await s.integrations.cfx.ingest([{ payload: JSON.stringify(unknown), transport: 'amqp' }]);
    for (const resp of [...r1!.responses, ...r3!.responses]) responses.set(String(resp.RequestID), resp);
  }, 60_000);

  it('reads the whole corpus', () => {
    expect(examples.length).toBeGreaterThanOrEqual(200);
    expect(sent.length).toBe(examples.length * 3);
  });

  it('accounts for every message: one inbox row each, a dead letter for each refusal, an unassigned row for each unknown handle', async () => {
    const db = testServices().db;
    const ids = sent.map((x) => x.uniqueId);
    const inbox = (await db.query<{ unique_id: string; outcome: string; detail: string | null }>('SELECT unique_id, outcome, detail FROM cfx_inbox WHERE unique_id = ANY($1)', [ids])).rows;
    const dead = (await db.query<{ unique_id: string; reason_code: string }>('SELECT unique_id, reason_code FROM cfx_dead_letters WHERE unique_id = ANY($1)', [ids])).rows;
    const unassigned = (await db.query<{ unique_id: string }>('SELECT unique_id FROM cfx_unassigned WHERE unique_id = ANY($1)', [ids])).rows;
    expect(inbox.length).toBe(sent.length);
    const byOutcome = (o: string) => inbox.filter((r) => r.outcome === o).length;
    expect(byOutcome('rejected')).toBe(new Set(dead.map((d) => d.unique_id)).size);
    expect(byOutcome('unassigned')).toBe(unassigned.length);
    // inbox (applied + recorded + answered) + dead letters + unassigned + unsupported = sent
    const total = byOutcome('applied') + byOutcome('recorded') + byOutcome('answered') + byOutcome('unsupported') + dead.length + unassigned.length;
    expect(total).toBe(sent.length);
  });

  it('never crashes: no refusal is an internal failure, every refusal has a specific reason', async () => {
    const dead = (await testServices().db.query<{ reason_code: string; reason: string; message_name: string }>(
      'SELECT reason_code, reason, message_name FROM cfx_dead_letters WHERE unique_id = ANY($1)', [sent.map((x) => x.uniqueId)],
    )).rows;
    expect(dead.filter((d) => d.reason_code === 'HANDLER_FAILED' || d.reason_code === 'INTERNAL')).toEqual([]);
    for (const d of dead) expect(d.reason.length).toBeGreaterThan(10);
  });

  it('processes or refuses every supported message, records the others, answers every request', async () => {
    const inbox = new Map(
      (await testServices().db.query<{ unique_id: string; outcome: string }>('SELECT unique_id, outcome FROM cfx_inbox WHERE unique_id = ANY($1)', [sent.map((x) => x.uniqueId)])).rows.map((r) => [r.unique_id, r.outcome]),
    );
    const problems: string[] = [];
    for (const m of sent) {
      const outcome = inbox.get(m.uniqueId);
      const cls = classifyMessage(m.name);
      const known = m.variant !== 'unknown-handle';
      let ok: boolean;
      if (cls === 'unsupported') ok = outcome === 'unsupported';
      else if (cls === 'request-unsupported') ok = outcome === 'answered';
      else if (SUPPORTED_MESSAGES[m.name as keyof typeof SUPPORTED_MESSAGES].request) ok = outcome === 'answered';
      else ok = known ? ['applied', 'recorded', 'rejected'].includes(outcome ?? '') : outcome === 'unassigned';
      if (!ok) problems.push(`${m.file} (${m.variant}): ${cls} → ${outcome}`);
    }
    expect(problems).toEqual([]);
  });

  it('answers unsupported requests with CFX.NotSupportedResponse and supported ones with their response', () => {
    const requests = sent.filter((m) => m.name.endsWith('Request'));
    expect(requests.length).toBeGreaterThan(20);
    const wrong: string[] = [];
    for (const m of requests) {
      const resp = responses.get(m.requestId!);
      const expected = classifyMessage(m.name) === 'supported' ? m.name.replace(/Request$/, 'Response') : 'CFX.NotSupportedResponse';
      if (resp?.MessageName !== expected) wrong.push(`${m.file} (${m.variant}): got ${String(resp?.MessageName)}`);
      else if (resp.Target !== m.variant.replace(/.*/, '') && resp.Source === undefined) wrong.push(`${m.file}: no Source`);
    }
    expect(wrong).toEqual([]);
  });
});
