import { useState } from 'react';
import { DataTable } from '../../components/DataTable.tsx';
import { ErrorPanel } from '../../components/ErrorPanel.tsx';
import { Field, Loading, Notice, PageHeader, Panel, formatDateTime } from '../../components/ui.tsx';
import { useQuery } from '../../hooks.ts';
import { useCan } from '../../session.tsx';
import { ACTIVE_WORK_ORDER_STATES } from '../production/api.ts';
import { QUALITY_ROLES, qualityApi, type FirstArticleClaim } from './api.ts';
import { QBadge, SignedAction } from './common.tsx';

/** First-article decisions: the claims of a work order's gated steps and the inspector's signed verdict. */
export function FirstArticlePage() {
  const canSign = useCan(QUALITY_ROLES.faiSigner);
  const wos = useQuery(() => qualityApi.workOrders({ states: ACTIVE_WORK_ORDER_STATES, limit: 5000 }), []);
  const [woId, setWoId] = useState<number | null>(null);
  const claims = useQuery(() => (woId ? qualityApi.firstArticles(woId) : Promise.resolve([] as FirstArticleClaim[])), [woId]);
  const [notice, setNotice] = useState<string | null>(null);
  return (
    <>
      <PageHeader title="First article" subtitle="The first unit at a gated step waits for the inspector's signed approval before the rest may follow." />
      {notice ? <Notice onClose={() => setNotice(null)}>{notice}</Notice> : null}
      <Panel>
        <ErrorPanel error={wos.error} />
        <Field label="Work order">
          <select value={woId ?? ''} onChange={(e) => setWoId(e.target.value ? Number(e.target.value) : null)}>
            <option value="">— choose —</option>
            {(wos.data ?? []).map((w) => (
              <option key={w.id} value={w.id}>
                {w.number} ({w.state})
              </option>
            ))}
          </select>
        </Field>
      </Panel>
      {woId ? (
        <Panel title="First-article claims">
          <ErrorPanel error={claims.error} />
          {claims.loading && !claims.data ? (
            <Loading />
          ) : (
            <DataTable<FirstArticleClaim>
              testId="first-articles"
              rows={claims.data}
              rowKey={(c) => `${c.stepSeq}-${c.unitId}`}
              empty="No first article claimed yet for this work order."
              columns={[
                { key: 'stepSeq', header: 'Step' },
                { key: 'serial', header: 'Unit', render: (c) => <strong className="mono">{c.serial}</strong> },
                { key: 'state', header: 'State', render: (c) => <QBadge state={c.state} /> },
                { key: 'claimedAt', header: 'Claimed', render: (c) => formatDateTime(c.claimedAt) },
                { key: 'approval', header: 'Decision', render: (c) => (c.approval ? String((c.approval as { decision?: string }).decision ?? 'decided') : '') },
                {
                  key: 'act', header: '', align: 'right',
                  render: (c) =>
                    canSign && !c.approval ? (
                      <span className="row-actions">
                        {(['approved', 'rejected'] as const).map((d) => (
                          <SignedAction
                            key={d}
                            label={d === 'approved' ? 'Approve' : 'Reject'}
                            variant={d === 'approved' ? 'primary' : 'danger'}
                            title={`First article ${c.serial}, step ${c.stepSeq}: ${d}`}
                            meanings={[d]}
                            sign={(s) => qualityApi.decideFirstArticle({ serial: c.serial, stepSeq: c.stepSeq, decision: d, signature: s })}
                            onDone={() => (setNotice(`First article ${c.serial} ${d} (signed)`), claims.reload())}
                          />
                        ))}
                      </span>
                    ) : null,
                },
              ]}
            />
          )}
        </Panel>
      ) : null}
    </>
  );
}
