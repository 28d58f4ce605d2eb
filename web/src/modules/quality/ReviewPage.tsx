import { useState } from 'react';
import { DataTable } from '../../components/DataTable.tsx';
import { ErrorPanel } from '../../components/ErrorPanel.tsx';
import { Button, Loading, Notice, PageHeader, Panel } from '../../components/ui.tsx';
import { useAction, useQuery } from '../../hooks.ts';
import { useCan } from '../../session.tsx';
import { QUALITY_ROLES, qualityApi, type Defect } from './api.ts';

type Row = Defect & { serial: string; station: string; completedAt: string };

/**
 * The defect review queue: machine calls not yet verified, oldest first. The reviewer confirms a
 * real defect or marks a false call (kept and counted for tuning the inspection program).
 */
export function ReviewPage() {
  const canVerify = useCan(QUALITY_ROLES.verify);
  // One request: the server's queue of unverified calls, oldest first, each with its unit, station and time.
  const q = useQuery(async (signal) => (await qualityApi.reviewQueue(signal)).map((d): Row => ({ ...d, station: d.stationCode })), []);
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [notice, setNotice] = useState<string | null>(null);
  const [verify, state] = useAction(async (ids: number[], verdict: 'confirmed' | 'false_call') => {
    await qualityApi.verify(ids.map((defectId) => ({ defectId, verdict })));
    setNotice(`${ids.length} call${ids.length === 1 ? '' : 's'} marked ${verdict === 'confirmed' ? 'confirmed defect' : 'false call'}`);
    setSelected(new Set());
    q.reload();
  });
  const toggle = (id: number) => setSelected((s) => {
    const n = new Set(s);
    if (n.has(id)) n.delete(id);
    else n.add(id);
    return n;
  });
  const rows = q.data;
  return (
    <>
      <PageHeader title="Defect review" subtitle="Machine calls waiting for a verdict: confirm a real defect or mark a false call." />
      {notice ? <Notice onClose={() => setNotice(null)}>{notice}</Notice> : null}
      <ErrorPanel error={state.error} onClose={state.clearError} />
      <Panel
        title={rows ? `${rows.length} call${rows.length === 1 ? '' : 's'} to review` : undefined}
        actions={
          canVerify && selected.size ? (
            <>
              <Button variant="danger" busy={state.busy} onClick={() => void verify([...selected], 'confirmed')}>
                Confirm {selected.size}
              </Button>
              <Button busy={state.busy} onClick={() => void verify([...selected], 'false_call')}>
                False call {selected.size}
              </Button>
            </>
          ) : null
        }
      >
        <ErrorPanel error={q.error} />
        {q.loading && !rows ? (
          <Loading />
        ) : (
          <DataTable<Row>
            testId="review-queue"
            rows={rows}
            rowKey={(d) => d.id}
            rowTestId={(d) => `call-${d.id}`}
            empty="No machine call waits for review."
            columns={[
              ...(canVerify
                ? [{ key: 'sel', header: '', width: 40, render: (d: Row) => <input type="checkbox" aria-label={`Select call ${d.id}`} checked={selected.has(d.id)} onChange={() => toggle(d.id)} /> }]
                : []),
              { key: 'serial', header: 'Unit', render: (d) => <strong className="mono">{d.serial}</strong> },
              { key: 'station', header: 'Station' },
              { key: 'method', header: 'Method' },
              { key: 'code', header: 'Defect', render: (d) => <strong>{d.code}</strong> },
              { key: 'refdes', header: 'Refdes' },
              { key: 'category', header: 'Category' },
              { key: 'image', header: 'Image', render: (d) => (d.imageRef ? <a href={d.imageRef} target="_blank" rel="noreferrer">view</a> : '') },
              {
                key: 'act', header: '', align: 'right',
                render: (d) =>
                  canVerify ? (
                    <span className="row-actions">
                      <Button variant="danger" onClick={() => void verify([d.id], 'confirmed')} disabled={state.busy}>
                        Confirm
                      </Button>
                      <Button onClick={() => void verify([d.id], 'false_call')} disabled={state.busy}>
                        False call
                      </Button>
                    </span>
                  ) : null,
              },
            ]}
          />
        )}
      </Panel>
    </>
  );
}
