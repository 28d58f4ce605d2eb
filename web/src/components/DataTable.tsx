import { Fragment, type ReactNode } from 'react';

export interface Column<T> {
  key: string;
  header: ReactNode;
  render?: (row: T) => ReactNode;
  align?: 'left' | 'right' | 'center';
  width?: string | number;
}

export interface DataTableProps<T> {
  columns: Column<T>[];
  rows: T[] | undefined;
  rowKey: (row: T) => string | number;
  empty?: ReactNode;
  onRowClick?: (row: T) => void;
  /** Shows at most this many rows, with a note of how many there are. */
  limit?: number;
  /** Extra content under a row (expanded details), or null. */
  expanded?: (row: T) => ReactNode | null;
  testId?: string;
  rowTestId?: (row: T) => string;
}

/** A plain, readable table with large rows; clickable rows are touch targets. */
export function DataTable<T>({ columns, rows, rowKey, empty = 'Nothing here yet.', onRowClick, limit = 500, expanded, testId, rowTestId }: DataTableProps<T>) {
  if (!rows) return null;
  if (rows.length === 0) return <div className="empty">{empty}</div>;
  const shown = rows.slice(0, limit);
  return (
    <div className="table-wrap">
      <table className={`table${onRowClick ? ' table-clickable' : ''}`} data-testid={testId}>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.key} style={{ textAlign: c.align ?? 'left', width: c.width }}>
                {c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {shown.map((row) => {
            const extra = expanded?.(row) ?? null;
            return (
              <Fragment key={rowKey(row)}>
                <tr
                  onClick={onRowClick ? () => onRowClick(row) : undefined}
                  tabIndex={onRowClick ? 0 : undefined}
                  onKeyDown={onRowClick ? (e) => e.key === 'Enter' && onRowClick(row) : undefined}
                  data-testid={rowTestId?.(row)}
                  className={extra ? 'row-open' : undefined}
                >
                  {columns.map((c) => (
                    <td key={c.key} style={{ textAlign: c.align ?? 'left' }}>
                      {c.render ? c.render(row) : String((row as Record<string, unknown>)[c.key] ?? '')}
                    </td>
                  ))}
                </tr>
                {extra ? (
                  <tr className="row-detail">
                    <td colSpan={columns.length}>{extra}</td>
                  </tr>
                ) : null}
              </Fragment>
            );
          })}
        </tbody>
      </table>
      {rows.length > shown.length ? (
        <p className="muted table-note">
          Showing {shown.length} of {rows.length}; narrow the filter to see the rest.
        </p>
      ) : null}
    </div>
  );
}
