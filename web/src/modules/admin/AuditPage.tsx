import { useState } from 'react';
import { api, type AuditRow } from '../../api.ts';
import { DataTable } from '../../components/DataTable.tsx';
import { ErrorPanel } from '../../components/ErrorPanel.tsx';
import { Button, Field, Loading, PageHeader, Panel, formatDateTime } from '../../components/ui.tsx';
import { useQuery } from '../../hooks.ts';

const PAGE = 100;

function Change({ row }: { row: AuditRow }) {
  return (
    <div className="audit-change">
      {row.reason ? (
        <p>
          <strong>Reason:</strong> {row.reason}
        </p>
      ) : null}
      <div className="audit-json">
        <div>
          <h4>Before</h4>
          <pre>{row.before === null || row.before === undefined ? '—' : JSON.stringify(row.before, null, 2)}</pre>
        </div>
        <div>
          <h4>After</h4>
          <pre>{row.after === null || row.after === undefined ? '—' : JSON.stringify(row.after, null, 2)}</pre>
        </div>
      </div>
    </div>
  );
}

/** Who changed what and when, newest first. */
export function AuditPage() {
  const [entity, setEntity] = useState('');
  const [actor, setActor] = useState('');
  const [filter, setFilter] = useState<{ entity?: string; actor?: string }>({});
  const [pages, setPages] = useState<number[]>([]); // beforeId of each older page shown
  const [open, setOpen] = useState<number | null>(null);
  const beforeId = pages[pages.length - 1];
  const q = useQuery(() => api.audit.list({ ...filter, limit: PAGE, ...(beforeId ? { beforeId } : {}) }), [filter, beforeId]);
  const rows = q.data;
  return (
    <>
      <PageHeader title="Audit trail" subtitle="Every change to master data, users and tokens, with the record before and after." />
      <Panel
        title={
          <form
            className="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              setPages([]);
              setFilter({ ...(entity.trim() ? { entity: entity.trim() } : {}), ...(actor.trim() ? { actor: actor.trim() } : {}) });
            }}
          >
            <Field label="Record type">
              <input value={entity} onChange={(e) => setEntity(e.target.value)} placeholder="e.g. product_revision" />
            </Field>
            <Field label="By">
              <input value={actor} onChange={(e) => setActor(e.target.value)} placeholder="user or token name" />
            </Field>
            <Button type="submit">Show</Button>
          </form>
        }
      >
        <ErrorPanel error={q.error} />
        {q.loading && !rows ? (
          <Loading />
        ) : (
          <DataTable
            rows={rows}
            rowKey={(r) => r.id}
            empty="No entries."
            onRowClick={(r) => setOpen(open === r.id ? null : r.id)}
            expanded={(r) => (open === r.id ? <Change row={r} /> : null)}
            columns={[
              { key: 'at', header: 'When', render: (r) => formatDateTime(r.at) },
              { key: 'actor', header: 'By', render: (r) => `${r.actorName}${r.actorKind !== 'user' ? ` (${r.actorKind})` : ''}` },
              { key: 'action', header: 'Action', render: (r) => <strong>{r.action}</strong> },
              { key: 'entity', header: 'Record', render: (r) => `${r.entity}${r.entityId ? ` #${r.entityId}` : ''}` },
              { key: 'reason', header: 'Reason', render: (r) => r.reason ?? '' },
            ]}
          />
        )}
        <div className="form-actions">
          {pages.length ? <Button onClick={() => setPages((p) => p.slice(0, -1))}>← Newer</Button> : null}
          {rows && rows.length === PAGE ? <Button onClick={() => setPages((p) => [...p, rows[rows.length - 1]!.id])}>Older →</Button> : null}
        </div>
      </Panel>
    </>
  );
}
