import type { Queryable } from '../../platform/db.ts';
import type { Principal } from '../../platform/principal.ts';

/** One state change: who did what to which record, with the record before and after. */
export interface AuditEntry {
  action: string;
  entity: string;
  entityId: string | number | null;
  before?: unknown;
  after?: unknown;
  reason?: string | null;
  signature?: unknown;
}

/**
 * Writes an audit row in the caller's transaction, so the audit trail and the change commit
 * or roll back together. The table is append-only (enforced by triggers).
 */
export async function recordAudit(q: Queryable, who: Principal, e: AuditEntry): Promise<void> {
  await q.query(
    `INSERT INTO audit_log (actor_kind, actor_id, actor_name, action, entity, entity_id, before, after, reason, signature)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [
      who.kind,
      who.id,
      who.name,
      e.action,
      e.entity,
      e.entityId === null ? null : String(e.entityId),
      e.before === undefined ? null : JSON.stringify(e.before),
      e.after === undefined ? null : JSON.stringify(e.after),
      e.reason ?? null,
      e.signature === undefined ? null : JSON.stringify(e.signature),
    ],
  );
}

/** Several audit rows of one actor with one statement (in the order given), as {@link recordAudit} writes each. */
export async function recordAudits(q: Queryable, who: Principal, entries: readonly AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
  await q.query(
    `INSERT INTO audit_log (actor_kind, actor_id, actor_name, action, entity, entity_id, before, after, reason, signature)
     SELECT $1, $2, $3, x.action, x.entity, x.entity_id, x.before::jsonb, x.after::jsonb, x.reason, x.signature::jsonb
       FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[]) WITH ORDINALITY
            AS x(action, entity, entity_id, before, after, reason, signature, ord)
      ORDER BY x.ord`,
    [
      who.kind, who.id, who.name, entries.map((e) => e.action), entries.map((e) => e.entity),
      entries.map((e) => (e.entityId === null ? null : String(e.entityId))), entries.map((e) => json(e.before)), entries.map((e) => json(e.after)),
      entries.map((e) => e.reason ?? null), entries.map((e) => json(e.signature)),
    ],
  );
}

export interface AuditRow {
  id: number;
  at: Date;
  actorKind: string;
  actorName: string;
  action: string;
  entity: string;
  entityId: string | null;
  before: unknown;
  after: unknown;
  reason: string | null;
  signature: unknown;
}

export interface AuditQuery {
  entity?: string;
  entityId?: string;
  actor?: string;
  since?: string;
  until?: string;
  afterId?: number;
  limit?: number;
}

/** Reads the audit trail, newest first, filtered by entity, actor and time. */
export async function queryAudit(q: Queryable, f: AuditQuery): Promise<AuditRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (cond: string, v: unknown) => {
    params.push(v);
    where.push(cond.replace('?', `$${params.length}`));
  };
  if (f.entity) add('entity = ?', f.entity);
  if (f.entityId) add('entity_id = ?', f.entityId);
  if (f.actor) add('actor_name = ?', f.actor);
  if (f.since) add('at >= ?', f.since);
  if (f.until) add('at < ?', f.until);
  if (f.afterId) add('id < ?', f.afterId);
  params.push(Math.min(f.limit ?? 100, 1000));
  const r = await q.query<AuditRow>(
    `SELECT id, at, actor_kind AS "actorKind", actor_name AS "actorName", action, entity, entity_id AS "entityId",
            before, after, reason, signature
       FROM audit_log ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
      ORDER BY id DESC LIMIT $${params.length}`,
    params,
  );
  return r.rows;
}
