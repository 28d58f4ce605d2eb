import pg from 'pg';
import { translateDbError } from './errors.ts';

// bigint ids and counts fit in a JS number for any plausible factory volume (2^53).
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => Number(v));

/** Anything that can run a query: the pool or a transaction's client. */
export interface Queryable {
  query<R extends object = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<pg.QueryResult<R>>;
}

export type Tx = Queryable & { readonly inTransaction: true };

/**
 * The database handle every service receives. Queries translate PostgreSQL errors into
 * AppErrors; `tx` runs a function in one transaction and retries it on serialization
 * failures and deadlocks.
 */
export class Db implements Queryable {
  readonly pool: pg.Pool;

  constructor(connectionString: string, poolSize = 10) {
    this.pool = new pg.Pool({ connectionString, max: poolSize, idleTimeoutMillis: 30_000 });
    // An idle client's error (e.g. the server restarted) must not crash the process.
    this.pool.on('error', () => undefined);
  }

  async query<R extends object = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(text, params as unknown[]);
    } catch (e) {
      throw translateDbError(e);
    }
  }

  async one<R extends object>(text: string, params?: readonly unknown[]): Promise<R | undefined> {
    const r = await this.query<R>(text, params);
    return r.rows[0];
  }

  /** Runs `fn` in a transaction. Retries up to 3 times on 40001/40P01. */
  async tx<T>(fn: (tx: Tx) => Promise<T>, opts: { isolation?: 'read committed' | 'repeatable read' | 'serializable' } = {}): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      const tx: Tx = {
        inTransaction: true,
        query: async <R extends object>(text: string, params?: readonly unknown[]) => {
          try {
            return await client.query<R>(text, params as unknown[]);
          } catch (e) {
            throw translateDbError(e);
          }
        },
      };
      try {
        await client.query(opts.isolation ? `BEGIN ISOLATION LEVEL ${opts.isolation.toUpperCase()}` : 'BEGIN');
        const result = await fn(tx);
        await client.query('COMMIT');
        client.release();
        return result;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        client.release();
        const code = (e as { code?: string }).code;
        const retryable = code === 'CONCURRENT_UPDATE' || code === '40001' || code === '40P01';
        if (retryable && attempt < 3) continue;
        throw translateDbError(e);
      }
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** Runs `fn` inside a transaction: reuses `q` when it already is one, else opens one on `db`. */
export async function inTx<T>(db: Db, q: Queryable | undefined, fn: (tx: Tx) => Promise<T>): Promise<T> {
  if (q && (q as Tx).inTransaction) return fn(q as Tx);
  return db.tx(fn);
}
