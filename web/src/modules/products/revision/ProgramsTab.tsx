import { useState } from 'react';
import { api, type Program, type ProductRevision } from '../../../api.ts';
import { DataTable } from '../../../components/DataTable.tsx';
import { ErrorPanel } from '../../../components/ErrorPanel.tsx';
import { Button, Loading, Notice, Panel, StateBadge } from '../../../components/ui.tsx';
import { useAction, useQuery } from '../../../hooks.ts';
import { R } from '../../../roles.ts';
import { useCan } from '../../../session.tsx';

function ProgramDetail({ p }: { p: Program }) {
  return (
    <div className="step-detail">
      {p.slots.length ? (
        <div>
          <h4>Feeder setup ({p.slots.length} slots)</h4>
          <table className="table table-compact">
            <thead>
              <tr>
                <th>Slot</th>
                <th>IPN</th>
                <th>Reference designators</th>
              </tr>
            </thead>
            <tbody>
              {p.slots.map((s) => (
                <tr key={s.slot}>
                  <td>
                    <strong>{s.slot}</strong>
                  </td>
                  <td>{s.ipn}</td>
                  <td className="refdes">{s.refdes.join(' ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {p.parameterRanges.length ? (
        <div>
          <h4>Approved parameter ranges</h4>
          <ul>
            {p.parameterRanges.map((r) => (
              <li key={r.name}>
                {r.name}: {r.min ?? '−∞'} … {r.max ?? '+∞'} {r.unit ?? ''}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      {!p.slots.length && !p.parameterRanges.length ? <p className="muted">No feeder setup or parameter ranges.</p> : null}
    </div>
  );
}

/** Programs / recipes of the revision with their feeder setups; drafts can be released here. */
export function ProgramsTab({ rev }: { rev: ProductRevision }) {
  const canWrite = useCan(R.masterDataWrite);
  const q = useQuery(() => api.programs.list({ productRevisionId: rev.id }), [rev.id]);
  const [open, setOpen] = useState<number | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [release, releaseState] = useAction(async (p: Program) => {
    const r = await api.programs.release(p.id);
    setNotice(`Program ${r.name} revision ${r.revision} released`);
    q.reload();
  });
  return (
    <Panel title="Programs and recipes">
      {notice ? <Notice onClose={() => setNotice(null)}>{notice}</Notice> : null}
      <ErrorPanel error={q.error ?? releaseState.error} onClose={releaseState.error ? releaseState.clearError : undefined} />
      {q.loading && !q.data ? (
        <Loading />
      ) : (
        <DataTable
          testId="programs"
          rows={q.data}
          rowKey={(p) => p.id}
          empty="No programs for this revision."
          onRowClick={(p) => setOpen(open === p.id ? null : p.id)}
          expanded={(p) => (open === p.id ? <ProgramDetail p={p} /> : null)}
          columns={[
            { key: 'name', header: 'Program', render: (p) => <strong>{p.name}</strong> },
            { key: 'revision', header: 'Rev.' },
            { key: 'kind', header: 'Kind' },
            { key: 'stationType', header: 'Station type' },
            { key: 'checksum', header: 'Checksum', render: (p) => (p.checksum ? <code>{p.checksum.slice(0, 16)}</code> : <span className="muted">—</span>) },
            { key: 'slots', header: 'Slots', align: 'right', render: (p) => (p.kind === 'placement' ? p.slots.length : '') },
            { key: 'state', header: 'State', render: (p) => <StateBadge state={p.state} /> },
            ...(canWrite
              ? [
                  {
                    key: 'actions',
                    header: '',
                    align: 'right' as const,
                    render: (p: Program) =>
                      p.state === 'draft' ? (
                        <Button
                          variant="primary"
                          busy={releaseState.busy}
                          onClick={(e) => {
                            e.stopPropagation();
                            void release(p);
                          }}
                        >
                          Release
                        </Button>
                      ) : null,
                  },
                ]
              : []),
          ]}
        />
      )}
    </Panel>
  );
}
