import { useState, type ReactNode } from 'react';
import { useAction, useQuery } from '../hooks.ts';
import { DataTable, type Column } from './DataTable.tsx';
import { ErrorPanel } from './ErrorPanel.tsx';
import { RecordForm, initialValues, toBody, type FieldSpec } from './RecordForm.tsx';
import { Button, Loading, Notice, Panel } from './ui.tsx';

export interface EntityManagerProps<T extends { id: number }> {
  /** Singular noun: "station". */
  noun: string;
  load(): Promise<T[]>;
  columns: Column<T>[];
  /** Fields of the create form; the edit form uses the same unless editFields is given. */
  fields: FieldSpec[];
  editFields?: FieldSpec[];
  create?(body: Record<string, unknown>): Promise<unknown>;
  update?(id: number, body: Record<string, unknown>): Promise<unknown>;
  remove?(id: number): Promise<unknown>;
  /** Whether the role may change these records (the buttons are hidden otherwise). */
  canWrite: boolean;
  /** Text the quick filter matches against. */
  searchText?(row: T): string;
  /** Defaults for a new record. */
  defaults?: Record<string, unknown>;
  title?: ReactNode;
  /** Reload trigger from outside (e.g. after another tab changed data). */
  deps?: unknown[];
  testId?: string;
}

/**
 * List, filter, add, change and delete one kind of master record. Refusals (duplicate code,
 * still referenced, validation) are shown with the server's reason.
 */
export function EntityManager<T extends { id: number }>(p: EntityManagerProps<T>) {
  const q = useQuery(() => p.load(), p.deps ?? []);
  const [mode, setMode] = useState<{ kind: 'none' } | { kind: 'create' } | { kind: 'edit'; row: T }>({ kind: 'none' });
  const [filter, setFilter] = useState('');
  const [notice, setNotice] = useState<string | null>(null);
  const [save, saveState] = useAction(async (values: Record<string, string | boolean>) => {
    if (mode.kind === 'create') {
      await p.create!(toBody(p.fields, values));
      setNotice(`Added ${p.noun} ${String(values.code ?? values.ipn ?? values.username ?? values.name ?? '')}`.trim());
    } else if (mode.kind === 'edit') {
      const fields = p.editFields ?? p.fields;
      await p.update!(mode.row.id, toBody(fields, values, { onlyChanged: initialValues(fields, mode.row as unknown as Record<string, unknown>) }));
      setNotice(`Saved ${p.noun}`);
    }
    setMode({ kind: 'none' });
    q.reload();
    return true;
  });
  const [remove, removeState] = useAction(async (row: T) => {
    await p.remove!(row.id);
    setMode({ kind: 'none' });
    setNotice(`Deleted ${p.noun}`);
    q.reload();
  });

  const rows = q.data?.filter((r) => !filter || (p.searchText?.(r) ?? JSON.stringify(r)).toLowerCase().includes(filter.toLowerCase()));
  const columns: Column<T>[] = [...p.columns];
  if (p.canWrite && (p.update || p.remove)) {
    columns.push({
      key: '_actions',
      header: '',
      align: 'right',
      render: (row) => (
        <span className="row-actions">
          {p.update ? (
            <Button variant="ghost" onClick={(e) => (e.stopPropagation(), setNotice(null), saveState.clearError(), setMode({ kind: 'edit', row }))}>
              Edit
            </Button>
          ) : null}
          {p.remove ? (
            <Button
              variant="ghost"
              className="btn-danger-text"
              busy={removeState.busy}
              onClick={(e) => {
                e.stopPropagation();
                if (window.confirm(`Delete this ${p.noun}?`)) void remove(row);
              }}
            >
              Delete
            </Button>
          ) : null}
        </span>
      ),
    });
  }

  return (
    <Panel
      title={p.title ?? (rows && q.data ? (rows.length === q.data.length ? `${q.data.length} ${p.noun}${q.data.length === 1 ? '' : 's'}` : `${rows.length} of ${q.data.length} ${p.noun}s`) : undefined)}
      actions={
        <>
          <input className="filter" type="search" placeholder="Filter…" value={filter} onChange={(e) => setFilter(e.target.value)} aria-label={`Filter ${p.noun}s`} />
          {p.canWrite && p.create ? (
            <Button variant="primary" onClick={() => (setNotice(null), saveState.clearError(), setMode({ kind: 'create' }))}>
              Add {p.noun}
            </Button>
          ) : null}
        </>
      }
    >
      <div data-testid={p.testId}>
        {notice ? <Notice onClose={() => setNotice(null)}>{notice}</Notice> : null}
        <ErrorPanel error={removeState.error} onClose={removeState.clearError} />
        {mode.kind === 'create' ? (
          <RecordForm
            key="create"
            title={`New ${p.noun}`}
            fields={p.fields}
            initial={initialValues(p.fields, p.defaults)}
            submitLabel={`Add ${p.noun}`}
            onSubmit={save}
            onCancel={() => setMode({ kind: 'none' })}
            busy={saveState.busy}
            error={saveState.error}
          />
        ) : null}
        {mode.kind === 'edit' ? (
          <RecordForm
            key={`edit-${mode.row.id}`}
            title={`Change ${p.noun}`}
            fields={p.editFields ?? p.fields}
            initial={initialValues(p.editFields ?? p.fields, mode.row as unknown as Record<string, unknown>)}
            submitLabel="Save"
            onSubmit={save}
            onCancel={() => setMode({ kind: 'none' })}
            busy={saveState.busy}
            error={saveState.error}
          />
        ) : null}
        <ErrorPanel error={q.error} />
        {q.loading && !q.data ? <Loading /> : <DataTable columns={columns} rows={rows} rowKey={(r) => r.id} empty={filter ? 'Nothing matches the filter.' : `No ${p.noun}s yet.`} />}
      </div>
    </Panel>
  );
}
