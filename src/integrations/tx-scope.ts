import { AsyncLocalStorage } from 'node:async_hooks';
import type { Db, Tx } from '../platform/db.ts';

/**
 * Transaction scopes: run service calls inside a transaction the caller already holds.
 *
 * The message doors (CFX, MQTT) must write a message's inbox row in the same transaction as its
 * effects, and the effects are made by the domain services (tracking, materials, equipment),
 * many of which open their own transaction with `db.tx`. A scoped Db handle lets them join
 * the caller's transaction without changing their signatures: inside `runInTransaction(tx, fn)`
 * every `db.query` (and `db.reads.query`) of a scoped handle runs on `tx`, and every `db.tx(fn)` becomes a SAVEPOINT on
 * it (released on success, rolled back on error), so a service stays atomic on its own and the
 * whole message commits or rolls back with its inbox row. Outside a scope the handle behaves
 * exactly like the Db it wraps. `main.ts` wraps the services' Db once; no service knows.
 *
 * Limits: isolation options of `db.tx` are ignored inside a scope (a savepoint has none), and
 * retries on serialization failures are the scope owner's job (it retries the whole batch).
 */

interface Scope {
  tx: Tx;
  open: boolean;
  /** Whether `db.tx` inside the scope makes a savepoint (else it runs flat in the transaction). */
  useSavepoints: boolean;
  savepoints: number;
  /** A flat `db.tx` failed: its partial writes may remain, the transaction must not commit as is. */
  tainted: boolean;
}

const storage = new AsyncLocalStorage<Scope>();
const SCOPED = Symbol.for('mes.scopedDb');

/** True when `db` was made by withTransactionScopes (services built on it can join a scope). */
export function isScopedDb(db: Db): boolean {
  return (db as unknown as Record<symbol, unknown>)[SCOPED] === true;
}

/** Wraps a Db so that service calls made inside runInTransaction join that transaction. */
export function withTransactionScopes(db: Db): Db {
  if (isScopedDb(db)) return db;
  const active = (): Scope | undefined => {
    const s = storage.getStore();
    return s && s.open ? s : undefined;
  };
  const query: Db['query'] = (text, params, name) => {
    const s = active();
    return s ? s.tx.query(text, params, name) : db.query(text, params, name);
  };
  // Reads join the scope too: inside a batch they must see the batch's own writes.
  const reads: Db['reads'] = {
    query: (text, params, name) => {
      const s = active();
      return s ? s.tx.query(text, params, name) : db.reads.query(text, params, name);
    },
  };
  // Inside a batch its records are the batch's (they commit with it; a redo writes them once).
  const autonomous: Db['autonomous'] = {
    query: (text, params, name) => {
      const s = active();
      return s ? s.tx.query(text, params, name) : db.autonomous.query(text, params, name);
    },
  };
  const tx: Db['tx'] = async (fn, opts) => {
    const s = active();
    if (!s) return db.tx(fn, opts);
    if (!s.useSavepoints) {
      try {
        return await fn(s.tx);
      } catch (e) {
        s.tainted = true;
        throw e;
      }
    }
    const sp = `mes_scope_${++s.savepoints}`;
    await s.tx.query(`SAVEPOINT ${sp}`);
    try {
      const result = await fn(s.tx);
      await s.tx.query(`RELEASE SAVEPOINT ${sp}`);
      return result;
    } catch (e) {
      await s.tx.query(`ROLLBACK TO SAVEPOINT ${sp}`).catch(() => undefined);
      throw e;
    }
  };
  return new Proxy(db, {
    get(target, prop, receiver) {
      if (prop === SCOPED) return true;
      if (prop === 'query') return query;
      if (prop === 'reads') return reads;
      if (prop === 'autonomous') return autonomous;
      if (prop === 'tx') return tx;
      return Reflect.get(target, prop, receiver);
    },
  });
}

/**
 * Runs `fn` with `tx` as the ambient transaction of every scoped Db. The scope closes when `fn`
 * settles: work `fn` leaves behind (timers, unawaited promises) falls back to the pool instead of
 * touching a transaction that has ended.
 *
 * `savepoints: false` is the fast path for batches: service transactions run flat in `tx`, no
 * subtransaction each (hundreds of them in one transaction make PostgreSQL slow for every
 * session: its per-backend cache holds 64); when one of them fails the scope is tainted
 * (see isTainted) and the caller must roll back and redo the work with savepoints.
 */
export async function runInTransaction<T>(tx: Tx, fn: () => Promise<T>, opts: { savepoints?: boolean } = {}): Promise<T> {
  const scope: Scope = { tx, open: true, useSavepoints: opts.savepoints ?? true, savepoints: 0, tainted: false };
  try {
    return await storage.run(scope, fn);
  } finally {
    scope.open = false;
  }
}

/** True when a flat service transaction of the current scope failed (see runInTransaction). */
export function isTainted(): boolean {
  return storage.getStore()?.tainted ?? false;
}

/** Runs `fn` in a savepoint of `tx`: its writes are undone if it throws (the transaction stays usable). */
export async function inSavepoint<T>(tx: Tx, name: string, fn: () => Promise<T>): Promise<T> {
  await tx.query(`SAVEPOINT ${name}`);
  try {
    const r = await fn();
    await tx.query(`RELEASE SAVEPOINT ${name}`);
    return r;
  } catch (e) {
    await tx.query(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => undefined);
    throw e;
  }
}
