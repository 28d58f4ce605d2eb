import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import type { Db } from '../../platform/db.ts';
import { translateDbError } from '../../platform/errors.ts';

/**
 * COPY FROM STDIN in PostgreSQL's text format: the fast path of the history generator. Rows are
 * built as text lines (`line(...)`) and streamed in chunks of about 1 MB; the table's triggers,
 * CHECKs and foreign keys apply as for any INSERT.
 */

function esc(v: unknown): string {
  if (v === null || v === undefined) return '\\N';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '\\N';
  if (typeof v === 'boolean') return v ? 't' : 'f';
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return `{${v.map((x) => (typeof x === 'number' ? String(x) : `"${String(x).replace(/["\\]/g, '\\$&')}"`)).join(',')}}`.replace(/\\/g, '\\\\');
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/** One row of COPY text: values in column order (null → \N, Date → ISO, arrays, objects as JSON). */
export function line(...values: unknown[]): string {
  return values.map(esc).join('\t') + '\n';
}

/** Streams `lines` into `table (columns)` with COPY on its own connection (its own transaction). */
export async function copyLines(db: Db, table: string, columns: readonly string[], lines: Iterable<string>): Promise<number> {
  const client = await db.pool.connect();
  let n = 0;
  try {
    const stream = client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`));
    function* chunks() {
      let buf = '';
      for (const l of lines) {
        buf += l;
        n++;
        if (buf.length >= 1 << 20) {
          yield buf;
          buf = '';
        }
      }
      if (buf) yield buf;
    }
    await pipeline(Readable.from(chunks()), stream);
    return n;
  } catch (e) {
    throw translateDbError(e);
  } finally {
    client.release();
  }
}
