import { useState } from 'react';
import { DataTable } from '../../components/DataTable.tsx';
import { ErrorPanel } from '../../components/ErrorPanel.tsx';
import { Button, Loading, Notice, PageHeader, Panel, formatDateTime } from '../../components/ui.tsx';
import { useAction, useQuery } from '../../hooks.ts';
import { useCan } from '../../session.tsx';
import { QUALITY_ROLES, qualityApi, type Alert } from './api.ts';
import { QBadge } from './common.tsx';

/** Alerts fired by the quality rules (repeated defects, low first-pass yield, repeated test failures, parameters out of range). */
export function AlertsPage() {
  const canAct = useCan(QUALITY_ROLES.alerts);
  const [state, setState] = useState<'open' | 'acknowledged' | 'closed' | ''>('open');
  const q = useQuery(() => qualityApi.alerts({ state: state || undefined, limit: 500 }), [state]);
  const [openId, setOpenId] = useState<number | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [act, actState] = useAction(async (a: Alert, action: 'acknowledge' | 'close') => {
    await qualityApi.alertAction(a.id, action);
    setNotice(`Alert ${a.id} ${action === 'close' ? 'closed' : 'acknowledged'}`);
    q.reload();
  });
  return (
    <>
      <PageHeader title="Rule alerts" subtitle="What the closed-loop quality rules found, with their evidence and the actions they took." />
      {notice ? <Notice onClose={() => setNotice(null)}>{notice}</Notice> : null}
      <ErrorPanel error={actState.error} onClose={actState.clearError} />
      <Panel
        title={q.data ? `${q.data.length} alert${q.data.length === 1 ? '' : 's'}` : undefined}
        actions={
          <select value={state} onChange={(e) => setState(e.target.value as typeof state)} aria-label="State">
            <option value="open">open</option>
            <option value="acknowledged">acknowledged</option>
            <option value="closed">closed</option>
            <option value="">all</option>
          </select>
        }
      >
        <ErrorPanel error={q.error} />
        {q.loading && !q.data ? (
          <Loading />
        ) : (
          <DataTable<Alert>
            testId="alerts"
            rows={q.data}
            rowKey={(a) => a.id}
            onRowClick={(a) => setOpenId(openId === a.id ? null : a.id)}
            expanded={(a) => (openId === a.id ? <pre className="audit-json">{JSON.stringify({ evidence: a.evidence, actionsTaken: a.actionsTaken }, null, 2)}</pre> : null)}
            empty="No alert."
            columns={[
              { key: 'firedAt', header: 'Fired', render: (a) => formatDateTime(a.firedAt) },
              { key: 'ruleCode', header: 'Rule', render: (a) => <strong>{a.ruleCode}</strong> },
              { key: 'workOrderNumber', header: 'Work order' },
              { key: 'message', header: 'What' },
              { key: 'state', header: 'State', render: (a) => <QBadge state={a.state} /> },
              {
                key: 'act', header: '', align: 'right',
                render: (a) =>
                  canAct && a.state !== 'closed' ? (
                    <span className="row-actions" onClick={(e) => e.stopPropagation()}>
                      {a.state === 'open' ? (
                        <Button variant="ghost" onClick={() => void act(a, 'acknowledge')} disabled={actState.busy}>
                          Acknowledge
                        </Button>
                      ) : null}
                      <Button variant="ghost" onClick={() => void act(a, 'close')} disabled={actState.busy}>
                        Close
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
