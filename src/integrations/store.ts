import type { Queryable } from '../platform/db.ts';
import { notFound } from '../platform/errors.ts';

/**
 * The dead-letter store shared by every message door (CFX over AMQP / HTTP, MQTT): the message
 * as received, and why it was not applied. Rows are only ever appended and marked replayed.
 */

export interface NewDeadLetter {
  transport: string;
  payload: Buffer;
  contentEncoding: string | null;
  uniqueId: string | null;
  source: string | null;
  messageName: string | null;
  topic?: string | null;
  reasonCode: string;
  reason: string;
  field: string | null;
  errors: unknown;
}

export interface DeadLetter {
  id: number;
  receivedAt: Date;
  transport: string;
  contentEncoding: string | null;
  uniqueId: string | null;
  source: string | null;
  messageName: string | null;
  topic: string | null;
  reasonCode: string;
  reason: string;
  field: string | null;
  errors: unknown;
  size: number;
  replayCount: number;
  replayedAt: Date | null;
  replayedBy: string | null;
  replayOutcome: string | null;
  replayDetail: string | null;
}

export interface DeadLetterWithPayload extends DeadLetter {
  /** The payload as UTF-8 text when it is (and not compressed); else null (see payloadBase64). */
  payloadText: string | null;
  payloadBase64: string;
}

/** Appends dead letters in one statement; returns their ids in the order given. */
export async function insertDeadLetters(q: Queryable, rows: readonly NewDeadLetter[]): Promise<number[]> {
  if (rows.length === 0) return [];
  const r = await q.query<{ id: number }>(
    `WITH d AS (
       SELECT * FROM unnest($1::text[], $2::bytea[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
         WITH ORDINALITY AS t(transport, payload, content_encoding, unique_id, source, message_name, topic, reason_code, reason, field, errors, ord)
     ), ins AS (
       INSERT INTO cfx_dead_letters (transport, payload, content_encoding, unique_id, source, message_name, topic, reason_code, reason, field, errors)
       SELECT transport, payload, content_encoding, unique_id, source, message_name, topic, reason_code, left(reason, 4000), field, errors::jsonb FROM d ORDER BY ord
       RETURNING id
     ) SELECT id FROM ins ORDER BY id`,
    [
      rows.map((x) => x.transport), rows.map((x) => x.payload), rows.map((x) => x.contentEncoding), rows.map((x) => x.uniqueId), rows.map((x) => x.source),
      rows.map((x) => x.messageName), rows.map((x) => x.topic ?? null), rows.map((x) => x.reasonCode), rows.map((x) => x.reason), rows.map((x) => x.field),
      rows.map((x) => (x.errors === null || x.errors === undefined ? null : JSON.stringify(x.errors))),
    ],
    'dead_letters_insert',
  );
  return r.rows.map((x) => x.id);
}

const SELECT = `id, received_at AS "receivedAt", transport, content_encoding AS "contentEncoding", unique_id AS "uniqueId", source, message_name AS "messageName",
  topic, reason_code AS "reasonCode", reason, field, errors, octet_length(payload) AS size, replay_count AS "replayCount", replayed_at AS "replayedAt",
  replayed_by AS "replayedBy", replay_outcome AS "replayOutcome", replay_detail AS "replayDetail"`;

export async function listDeadLetters(
  q: Queryable,
  f: { open?: boolean; transport?: string; reasonCode?: string; source?: string; beforeId?: number; limit?: number } = {},
): Promise<DeadLetter[]> {
  return (
    await q.query<DeadLetter>(
      `SELECT ${SELECT} FROM cfx_dead_letters
        WHERE ($1::boolean IS NULL OR (replayed_at IS NULL) = $1) AND ($2::text IS NULL OR transport = $2) AND ($3::text IS NULL OR reason_code = $3)
          AND ($4::text IS NULL OR source = $4) AND ($5::bigint IS NULL OR id < $5)
        ORDER BY id DESC LIMIT $6`,
      [f.open ?? null, f.transport ?? null, f.reasonCode ?? null, f.source ?? null, f.beforeId ?? null, Math.min(Math.max(f.limit ?? 100, 1), 1000)],
    )
  ).rows;
}

export async function getDeadLetter(q: Queryable, id: number): Promise<DeadLetterWithPayload & { payload: Buffer }> {
  const r = (await q.query<DeadLetter & { payload: Buffer }>(`SELECT ${SELECT}, payload FROM cfx_dead_letters WHERE id = $1`, [id])).rows[0];
  if (!r) throw notFound('dead letter', id);
  let payloadText: string | null = null;
  const compressed = r.payload.length >= 2 && r.payload[0] === 0x1f && r.payload[1] === 0x8b;
  if (!compressed) {
    try {
      payloadText = new TextDecoder('utf-8', { fatal: true }).decode(r.payload);
    } catch {
      payloadText = null;
    }
  }
  return { ...r, payloadText, payloadBase64: r.payload.toString('base64') };
}

/** Marks a dead letter replayed, with what the replay made of it. */
export async function markReplayed(q: Queryable, id: number, who: string, outcome: string, detail: string | null, resolved: boolean): Promise<void> {
  await q.query(
    `UPDATE cfx_dead_letters SET replay_count = replay_count + 1, replayed_by = $2, replay_outcome = $3, replay_detail = left($4, 4000),
            replayed_at = CASE WHEN $5 THEN now() ELSE replayed_at END
      WHERE id = $1`,
    [id, who, outcome, detail, resolved],
  );
}
