import type { Config } from './config.ts';
import type { Db } from './db.ts';

/**
 * Table maintenance when the database server does not do it: on a PostgreSQL server running with
 * `autovacuum = off`, nothing refreshes the planner's statistics or the visibility maps of the
 * MES's tables. Their plans then follow the table sizes of the day they were first made (a cached
 * plan made while the inbox held a few hundred rows keeps scanning it whole at millions), and rows
 * updated many times in a unit's life (units, transactions) are never reclaimed.
 *
 * Every `intervalMs` the MES looks at its own schema's tables and, if the server's autovacuum is
 * off, does what autovacuum would, with autovacuum's default thresholds:
 * - ANALYZE a table whose rows changed since its last analysis exceed 50 + 10 % of its rows;
 * - VACUUM (ANALYZE) a table whose dead rows exceed 50 + 20 % of its rows, or whose rows inserted
 *   since its last vacuum exceed 1,000 + 20 % of its rows (the visibility map index-only scans need).
 * An ANALYZE invalidates the cached plans of statements over the table, so they are planned again
 * with the new figures. With autovacuum on (PostgreSQL's default) it does nothing.
 */
export interface TableMaintenance {
  start(): void;
  stop(): Promise<void>;
  /** One round; `force` also runs with autovacuum on (tests). */
  runOnce(force?: boolean): Promise<MaintenanceRound>;
}

export interface MaintenanceRound {
  /** Not run: the server's autovacuum is on, or another MES instance is maintaining the tables. */
  skipped: boolean;
  analyzed: string[];
  vacuumed: string[];
}

/** Session advisory lock key of a maintenance round ('MESM'). */
const MAINTENANCE_LOCK = 0x4d45534d;

/**
 * The tables due, by autovacuum's default thresholds (pg_stat_user_tables of the current schema):
 * `vacuum` when VACUUM (ANALYZE) is due, else ANALYZE alone.
 */
const DUE_SQL = `
  SELECT s.relname AS name,
         (s.n_dead_tup > 50 + 0.2 * t.rows OR s.n_ins_since_vacuum > 1000 + 0.2 * t.rows) AS vacuum
    FROM pg_stat_user_tables s
    JOIN pg_class c ON c.oid = s.relid
    CROSS JOIN LATERAL (SELECT GREATEST(c.reltuples, 0) AS rows) t
   WHERE s.schemaname = current_schema()
     AND (s.n_dead_tup > 50 + 0.2 * t.rows OR s.n_ins_since_vacuum > 1000 + 0.2 * t.rows OR s.n_mod_since_analyze > 50 + 0.1 * t.rows)
   ORDER BY s.relname`;

export function createTableMaintenance(
  db: Db,
  opts: { intervalMs: number; log: (msg: string, err?: unknown) => void; onRound?: (round: MaintenanceRound) => void },
): TableMaintenance {
  const log = opts.log;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;
  let stopped = false;

  async function runOnce(force = false): Promise<MaintenanceRound> {
    const round: MaintenanceRound = { skipped: false, analyzed: [], vacuumed: [] };
    if (!force) {
      const on = (await db.query<{ on: string }>(`SELECT current_setting('autovacuum') AS on`)).rows[0]!.on;
      if (on === 'on') return { ...round, skipped: true };
    }
    // A connection of its own for the round (a VACUUM may take seconds: it must not hold one of
    // the pool's), holding a session advisory lock: of several MES instances on one database,
    // one maintains the tables at a time (the others skip the round).
    const client = await db.dedicatedClient();
    try {
      const locked = (await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [MAINTENANCE_LOCK])).rows[0]!.ok;
      if (!locked) return { ...round, skipped: true };
      try {
        const due = (await client.query<{ name: string; vacuum: boolean }>(DUE_SQL)).rows;
        for (const t of due) {
          if (stopped) break;
          // Identifiers from the catalogue, quoted; VACUUM runs outside a transaction (one statement).
          const ident = `"${t.name.replace(/"/g, '""')}"`;
          if (t.vacuum) {
            await client.query(`VACUUM (ANALYZE) ${ident}`);
            round.vacuumed.push(t.name);
          } else {
            await client.query(`ANALYZE ${ident}`);
            round.analyzed.push(t.name);
          }
        }
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [MAINTENANCE_LOCK]);
      }
      return round;
    } finally {
      await client.end();
    }
  }

  function schedule() {
    if (stopped) return;
    timer = setTimeout(() => {
      running = runOnce()
        .then((r) => opts.onRound?.(r))
        .catch((e) => log('table maintenance failed (retried at the next round)', e))
        .finally(() => {
          running = null;
          schedule();
        });
    }, opts.intervalMs);
    timer.unref();
  }

  return {
    start() {
      if (opts.intervalMs > 0 && !timer) schedule();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
    runOnce,
  };
}

/** Table maintenance as `mes serve` runs it: every `dbMaintenanceSeconds` (0 = never), started. */
export function startTableMaintenance(
  db: Db,
  config: Pick<Config, 'dbMaintenanceSeconds'>,
  log: (msg: string, err?: unknown) => void,
  onRound?: (round: MaintenanceRound) => void,
): TableMaintenance {
  const m = createTableMaintenance(db, { intervalMs: config.dbMaintenanceSeconds * 1000, log, ...(onRound ? { onRound } : {}) });
  m.start();
  return m;
}
