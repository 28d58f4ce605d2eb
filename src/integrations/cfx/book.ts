import type { Tx } from '../../platform/db.ts';

/**
 * The CFX production transactions of a batch (`cfx_transactions`: which units a TransactionID
 * is about, its recipe, start and completion), read with one statement for every TransactionID
 * of the batch and written back with one or two statements at its end, instead of a read and a
 * write per WorkStarted / WorkCompleted.
 *
 * Rows that exist are read `FOR UPDATE` (in key order, so two batches never deadlock on them);
 * handlers read and change the batch's copy (`get`, `put`); `flush` writes the changed rows:
 * rows that were read are overwritten (this transaction holds their lock, its copy is what they
 * are now), new rows are inserted, merging with a row another batch may have inserted meanwhile
 * (start facts from this batch, completion facts kept from the first).
 *
 * In safe mode (a savepoint per message) the pipeline flushes after each message, inside its
 * savepoint, and calls `forget` when a message is rolled back, so the copy never holds what the
 * database undid.
 */

export interface TransactionRow {
  identifiers: string[];
  recipe_name: string | null;
  recipe_revision: string | null;
  started_at: Date | null;
  started_message: string | null;
  completed_at: Date | null;
  completed_message: string | null;
  parked_completion: ParkedCompletion | null;
}

export interface ParkedCompletion {
  uniqueId: string;
  at: string;
  body: Record<string, unknown> & { transactionId: string };
}

type Recipe = { recipeName: string; revision: string | null; activatedAt: Date };

interface Entry {
  equipmentId: number;
  transactionId: string;
  /** The row as in the database when read (null: no row). */
  read: TransactionRow | null;
  /** The batch's copy (null: no row). */
  row: TransactionRow | null;
  dirty: boolean;
}

const COLUMNS = 'identifiers, recipe_name, recipe_revision, started_at, started_message, completed_at, completed_message, parked_completion';

export function emptyTransaction(): TransactionRow {
  return { identifiers: [], recipe_name: null, recipe_revision: null, started_at: null, started_message: null, completed_at: null, completed_message: null, parked_completion: null };
}

export class TransactionBook {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly tx: Tx) {}

  private static key(equipmentId: number, transactionId: string): string {
    return `${equipmentId}\u0000${transactionId}`;
  }

  /** Reads (and locks) the rows of these TransactionIDs that are not read yet, with one statement. */
  async load(pairs: readonly { equipmentId: number; transactionId: string }[]): Promise<void> {
    const want = new Map<string, { equipmentId: number; transactionId: string }>();
    for (const p of pairs) {
      const k = TransactionBook.key(p.equipmentId, p.transactionId);
      if (!this.entries.has(k)) want.set(k, p);
    }
    if (want.size === 0) return;
    const list = [...want.values()].sort((a, b) => a.equipmentId - b.equipmentId || (a.transactionId < b.transactionId ? -1 : a.transactionId > b.transactionId ? 1 : 0));
    const rows = (
      await this.tx.query<TransactionRow & { equipment_id: number; transaction_id: string }>(
        `SELECT c.equipment_id, c.transaction_id, ${COLUMNS.split(', ').map((c) => `c.${c}`).join(', ')}
           FROM cfx_transactions c JOIN unnest($1::bigint[], $2::text[]) AS k(e, t) ON c.equipment_id = k.e AND c.transaction_id = k.t
          ORDER BY c.equipment_id, c.transaction_id FOR UPDATE OF c`,
        [list.map((p) => p.equipmentId), list.map((p) => p.transactionId)],
        'cfx_tx_load',
      )
    ).rows;
    for (const p of list) this.entries.set(TransactionBook.key(p.equipmentId, p.transactionId), { ...p, read: null, row: null, dirty: false });
    for (const r of rows) {
      const { equipment_id, transaction_id, ...row } = r;
      const e = this.entries.get(TransactionBook.key(equipment_id, transaction_id))!;
      e.read = row;
      e.row = { ...row, identifiers: [...row.identifiers] };
    }
  }

  /** The transaction as the batch sees it (null: unknown), read from the database if it was not. */
  async get(equipmentId: number, transactionId: string): Promise<TransactionRow | null> {
    const k = TransactionBook.key(equipmentId, transactionId);
    if (!this.entries.has(k)) await this.load([{ equipmentId, transactionId }]);
    const row = this.entries.get(k)!.row;
    return row ? { ...row } : null;
  }

  /** The transaction's new state (written by `flush`). */
  put(equipmentId: number, transactionId: string, row: TransactionRow): void {
    const k = TransactionBook.key(equipmentId, transactionId);
    const e = this.entries.get(k);
    if (!e) throw new Error(`cfx_transactions ${equipmentId}/${transactionId} changed before it was read`);
    e.row = { ...row };
    e.dirty = true;
  }

  /** Writes the changed rows: one UPDATE for rows that were read, one INSERT for new ones. */
  async flush(): Promise<void> {
    const dirty = [...this.entries.values()].filter((e) => e.dirty && e.row);
    if (dirty.length === 0) return;
    const params = (list: Entry[]) => [
      list.map((e) => e.equipmentId), list.map((e) => e.transactionId), list.map((e) => JSON.stringify(e.row!.identifiers)),
      list.map((e) => e.row!.recipe_name), list.map((e) => e.row!.recipe_revision), list.map((e) => e.row!.started_at), list.map((e) => e.row!.started_message),
      list.map((e) => e.row!.completed_at), list.map((e) => e.row!.completed_message), list.map((e) => (e.row!.parked_completion ? JSON.stringify(e.row!.parked_completion) : null)),
    ];
    const SOURCE = `unnest($1::bigint[], $2::text[], $3::jsonb[], $4::text[], $5::text[], $6::timestamptz[], $7::text[], $8::timestamptz[], $9::text[], $10::jsonb[])
                      AS x(e, t, ids, rn, rr, sa, sm, ca, cm, pc)`;
    const old = dirty.filter((e) => e.read);
    const fresh = dirty.filter((e) => !e.read);
    if (old.length) {
      await this.tx.query(
        `UPDATE cfx_transactions c SET identifiers = ARRAY(SELECT jsonb_array_elements_text(x.ids)), recipe_name = x.rn, recipe_revision = x.rr, started_at = x.sa,
                started_message = x.sm, completed_at = x.ca, completed_message = x.cm, parked_completion = x.pc
           FROM ${SOURCE} WHERE c.equipment_id = x.e AND c.transaction_id = x.t`,
        params(old),
        'cfx_tx_update',
      );
    }
    if (fresh.length) {
      await this.tx.query(
        `INSERT INTO cfx_transactions AS c (equipment_id, transaction_id, ${COLUMNS})
         SELECT x.e, x.t, ARRAY(SELECT jsonb_array_elements_text(x.ids)), x.rn, x.rr, x.sa, x.sm, x.ca, x.cm, x.pc FROM ${SOURCE}
         ON CONFLICT (equipment_id, transaction_id) DO UPDATE SET
           identifiers = CASE WHEN cardinality(EXCLUDED.identifiers) > 0 AND EXCLUDED.started_message IS NOT NULL THEN EXCLUDED.identifiers
                              WHEN cardinality(c.identifiers) = 0 THEN EXCLUDED.identifiers ELSE c.identifiers END,
           recipe_name = COALESCE(EXCLUDED.recipe_name, c.recipe_name), recipe_revision = COALESCE(EXCLUDED.recipe_revision, c.recipe_revision),
           started_at = COALESCE(EXCLUDED.started_at, c.started_at), started_message = COALESCE(EXCLUDED.started_message, c.started_message),
           completed_at = COALESCE(c.completed_at, EXCLUDED.completed_at), completed_message = COALESCE(c.completed_message, EXCLUDED.completed_message),
           parked_completion = COALESCE(c.parked_completion, EXCLUDED.parked_completion)`,
        params(fresh),
        'cfx_tx_insert',
      );
    }
    for (const e of dirty) {
      e.read = { ...e.row! };
      e.dirty = false;
    }
  }

  /** Drops the copy (safe mode: a message's savepoint was rolled back); rows are read again when needed. */
  forget(): void {
    this.entries.clear();
    this.recipes.clear();
    this.memo.clear();
  }

  private readonly recipes = new Map<number, Promise<Recipe | undefined>>();

  /**
   * The recipe active on a machine at a time, with one read per machine and batch: the latest
   * activation answers for every time after it; an earlier time is read as asked.
   */
  async activeRecipe(equipmentId: number, at: Date, latest: () => Promise<Recipe | undefined>, asOf: () => Promise<Recipe | undefined>): Promise<Recipe | undefined> {
    let p = this.recipes.get(equipmentId);
    if (!p) this.recipes.set(equipmentId, (p = latest()));
    const r = await p;
    if (!r || r.activatedAt.getTime() <= at.getTime()) return r;
    return asOf();
  }

  /** A recipe was activated on the machine in this batch: what was remembered about machines is read again. */
  forgetRecipe(equipmentId: number): void {
    this.recipes.delete(equipmentId);
    this.memo.clear();
  }

  private readonly memo = new Map<string, Promise<unknown>>();

  /** A read remembered for the rest of the batch (see HandlerContext.remember). */
  remember<T>(key: string, load: () => Promise<T>): Promise<T> {
    let p = this.memo.get(key) as Promise<T> | undefined;
    if (!p) {
      p = load();
      this.memo.set(key, p);
      // A failed read is not remembered.
      p.catch(() => this.memo.delete(key));
    }
    return p;
  }
}
