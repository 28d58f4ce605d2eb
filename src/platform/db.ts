import pg from 'pg';
import { translateDbError } from './errors.ts';

// bigint ids and counts fit in a JS number for any plausible factory volume (2^53).
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => Number(v));

/** Anything that can run a query: the pool or a transaction's client. */
export interface Queryable {
  /** `name` makes it a prepared statement, parsed and planned once per connection (hot paths). */
  query<R extends object = Record<string, unknown>>(text: string, params?: readonly unknown[], name?: string): Promise<pg.QueryResult<R>>;
}

export type Tx = Queryable & { readonly inTransaction: true };

/**
 * The database handle every service receives. Queries translate PostgreSQL errors into
 * AppErrors; `tx` runs a function in one transaction and retries it on serialization
 * failures and deadlocks.
 */
export class Db implements Queryable {
  readonly pool: pg.Pool;
  /**
   * A second, smaller pool for short read-only statements that answer a waiting machine or
   * operator (the interlock's verdicts): they never queue for a connection behind writers that
   * wait for their commit's WAL flush (under a slow disk, every connection of the main pool
   * can be such a writer). Never use it for a write or a transaction.
   */
  readonly reads: Queryable;
  /**
   * A third pool, of two connections, for single statements that must be committed whatever the
   * caller's transaction does, issued while the caller holds a connection of the main pool (an
   * interlock refusal inside a larger operation that is about to roll back). Taking a second
   * connection of the main pool there could wait forever once every connection is held by such
   * a caller; these connections are held for one statement only. Never use it for a transaction.
   */
  readonly autonomous: Queryable;
  private readonly readPool: pg.Pool;
  private readonly autonomousPool: pg.Pool;
  private readonly poolQuery: Queryable;
  private readonly connectionString: string;
  private listener: pg.Client | null = null;
  private listenerReady: Promise<void> | null = null;
  private readonly changeHandlers = new Map<string, Set<() => void>>();
  private closed = false;
  /** False while the change feed is not connected: caches must not trust themselves then. */
  changeFeedLive = false;

  constructor(connectionString: string, poolSize = 10) {
    this.connectionString = connectionString;
    const readPoolSize = Math.max(2, Math.ceil(poolSize / 2));
    const sessions = withJitOff(connectionString);
    this.pool = new pg.Pool({ connectionString: sessions, max: poolSize, idleTimeoutMillis: 30_000 });
    this.readPool = new pg.Pool({ connectionString: sessions, max: readPoolSize, idleTimeoutMillis: 30_000 });
    this.autonomousPool = new pg.Pool({ connectionString: sessions, max: 2, idleTimeoutMillis: 30_000 });
    // An idle client's error (e.g. the server restarted) must not crash the process.
    for (const p of [this.pool, this.readPool, this.autonomousPool]) p.on('error', () => undefined);
    this.poolQuery = poolQueryable(this.pool);
    this.reads = poolQueryable(this.readPool);
    this.autonomous = poolQueryable(this.autonomousPool);
  }

  query<R extends object = Record<string, unknown>>(text: string, params?: readonly unknown[], name?: string): Promise<pg.QueryResult<R>> {
    return this.poolQuery.query<R>(text, params, name);
  }

  /**
   * A connection of its own, outside every pool, for long work that must not hold a pool's
   * connection (table maintenance); the caller ends it.
   */
  async dedicatedClient(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: withJitOff(this.connectionString) });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  async one<R extends object>(text: string, params?: readonly unknown[]): Promise<R | undefined> {
    const r = await this.query<R>(text, params);
    return r.rows[0];
  }

  /** Runs `fn` in a transaction. Retries up to 3 times on 40001/40P01. */
  async tx<T>(fn: (tx: Tx) => Promise<T>, opts: { isolation?: 'read committed' | 'repeatable read' | 'serializable' } = {}): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      // A connection lost while checked out (the server stopping) fails the transaction below; it must not crash the process.
      const onLost = () => undefined;
      client.on('error', onLost);
      const tx: Tx = {
        inTransaction: true,
        query: async <R extends object>(text: string, params?: readonly unknown[], name?: string) => {
          try {
            return name ? await client.query<R>({ name, text, values: params as unknown[] }) : await client.query<R>(text, params as unknown[]);
          } catch (e) {
            throw translateDbError(e);
          }
        },
      };
      try {
        await client.query(opts.isolation ? `BEGIN ISOLATION LEVEL ${opts.isolation.toUpperCase()}` : 'BEGIN');
        const result = await fn(tx);
        await client.query('COMMIT');
        client.off('error', onLost);
        client.release();
        return result;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        client.off('error', onLost);
        client.release();
        const code = (e as { code?: string }).code;
        const retryable = code === 'CONCURRENT_UPDATE' || code === '40001' || code === '40P01';
        if (retryable && attempt < 3) continue;
        throw translateDbError(e);
      }
    }
  }

  /**
   * Calls `fn` whenever a row of `table` changes in any MES instance (tables whose trigger sends
   * NOTIFY mes_changes). Also called for every table when the feed reconnects, since
   * notifications may have been missed meanwhile.
   */
  onChange(table: string, fn: () => void): void {
    let set = this.changeHandlers.get(table);
    if (!set) this.changeHandlers.set(table, (set = new Set()));
    set.add(fn);
    this.listenerReady ??= this.connectListener();
  }

  private flushAll() {
    for (const set of this.changeHandlers.values()) for (const fn of set) fn();
  }

  private async connectListener(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({ connectionString: this.connectionString });
    client.on('notification', (n) => {
      const set = this.changeHandlers.get(n.payload ?? '');
      if (set) for (const fn of set) fn();
    });
    const retry = () => {
      if (this.closed) return;
      this.changeFeedLive = false;
      this.listener = null;
      this.flushAll();
      if (!this.closed) setTimeout(() => void (this.listenerReady = this.connectListener()), 1000).unref();
    };
    client.on('error', () => undefined);
    client.on('end', retry);
    try {
      this.listener = client;
      await client.connect();
      await client.query('LISTEN mes_changes');
      if (this.closed) {
        await client.end();
        return;
      }
      this.flushAll();
      this.changeFeedLive = true;
    } catch {
      await client.end().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.changeFeedLive = false;
    await this.listener?.end().catch(() => undefined);
    await Promise.all([this.pool.end(), this.readPool.end(), this.autonomousPool.end()]);
  }
}

/**
 * The connection string with `jit=off` added to the session options (keeping any the string
 * already gives): the MES's statements are short, and batch statements carrying JSON or arrays the
 * planner cannot size, or questions over years of history, pass jit_above_cost with plans that run
 * in milliseconds while compiling them takes tens of milliseconds.
 */
export function withJitOff(connectionString: string): string {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    return connectionString; // key=value form: used as given
  }
  const given = url.searchParams.get('options');
  url.searchParams.set('options', `${given ? `${given} ` : ''}-c jit=off`);
  return url.toString();
}

/** One statement at a time on `pool`, errors translated (each pool's `query`). */
function poolQueryable(pool: pg.Pool): Queryable {
  return {
    async query<R extends object = Record<string, unknown>>(text: string, params?: readonly unknown[], name?: string): Promise<pg.QueryResult<R>> {
      try {
        return name ? await pool.query<R>({ name, text, values: params as unknown[] }) : await pool.query<R>(text, params as unknown[]);
      } catch (e) {
        throw translateDbError(e);
      }
    },
  };
}

/** Runs `fn` inside a transaction: reuses `q` when it already is one, else opens one on `db`. */
export async function inTx<T>(db: Db, q: Queryable | undefined, fn: (tx: Tx) => Promise<T>): Promise<T> {
  if (q && (q as Tx).inTransaction) return fn(q as Tx);
  return db.tx(fn);
}
