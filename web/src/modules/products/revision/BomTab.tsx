import { useState } from 'react';
import { api, type ProductRevision } from '../../../api.ts';
import { DataTable } from '../../../components/DataTable.tsx';
import { ErrorPanel } from '../../../components/ErrorPanel.tsx';
import { Badge, Loading, Panel } from '../../../components/ui.tsx';
import { useQuery } from '../../../hooks.ts';
import { Link } from '../../../router.tsx';

export function BomTab({ rev, editable }: { rev: ProductRevision; editable: boolean }) {
  const q = useQuery(() => api.revisions.bom(rev.id), [rev.id]);
  const [filter, setFilter] = useState('');
  const lines = q.data;
  const placements = lines?.filter((l) => l.placed && !l.doNotPlace).reduce((n, l) => n + l.refdes.length, 0) ?? 0;
  const f = filter.trim().toLowerCase();
  const rows = lines?.filter((l) => !f || `${l.ipn} ${l.description} ${l.refdes.join(' ')}`.toLowerCase().includes(f));
  return (
    <Panel
      title={lines ? `${lines.length} BOM lines · ${placements} placements` : 'BOM'}
      actions={
        <>
          <input className="filter" type="search" placeholder="IPN or designator…" value={filter} onChange={(e) => setFilter(e.target.value)} aria-label="Filter BOM" />
          {editable ? (
            <Link to={`/revisions/${rev.id}/import`} className="btn btn-primary">
              Import BOM
            </Link>
          ) : null}
        </>
      }
    >
      <ErrorPanel error={q.error} />
      {q.loading && !lines ? (
        <Loading />
      ) : (
        <DataTable
          testId="bom"
          rows={rows}
          rowKey={(l) => l.id}
          limit={2000}
          empty={filter ? 'No line matches.' : editable ? 'The BOM is empty: import a BOM file.' : 'The BOM is empty.'}
          columns={[
            { key: 'lineNo', header: 'Line', align: 'right' },
            { key: 'ipn', header: 'IPN', render: (l) => <Link to={`/avl?ipn=${encodeURIComponent(l.ipn)}`}><strong>{l.ipn}</strong></Link> },
            { key: 'description', header: 'Description' },
            { key: 'quantity', header: 'Qty', align: 'right' },
            { key: 'refdes', header: 'Reference designators', render: (l) => <span className="refdes">{l.refdes.join(' ')}</span> },
            { key: 'side', header: 'Side' },
            {
              key: 'flags',
              header: '',
              render: (l) => (
                <>
                  {l.doNotPlace ? <Badge tone="warn">DNP</Badge> : null} {!l.placed ? <Badge>not placed</Badge> : null}{' '}
                  {l.mslLevel !== '1' ? <Badge tone="warn">MSL {l.mslLevel}</Badge> : null}
                </>
              ),
            },
          ]}
        />
      )}
    </Panel>
  );
}
