import { useState } from 'react';
import { http, isApiError, type ApiError } from '../../api.ts';
import { DataTable } from '../../components/DataTable.tsx';
import { ErrorPanel } from '../../components/ErrorPanel.tsx';
import { ScanInput } from '../../components/ScanInput.tsx';
import { Badge, Loading, Notice, PageHeader, Panel, formatDateTime } from '../../components/ui.tsx';
import { Verdict } from '../../components/Verdict.tsx';
import { useQuery } from '../../hooks.ts';
import { useCan } from '../../session.tsx';
import { QUALITY_ROLES, qualityApi, type UnitQuality } from './api.ts';
import { DispositionForm } from './common.tsx';

interface FailedUnit { id: number; serial: string; workOrderId: number; workOrderNumber: string; status: string; failedStepSeq: number | null; updatedAt?: string }

/**
 * Dispositions of failed units: scan (or pick) a unit, see why it is blocked, decide repair,
 * retest or scrap; use-as-is is offered to quality engineers only and is signed.
 */
export function DispositionsPage() {
  const canRepair = useCan(QUALITY_ROLES.repair);
  const canSign = useCan(QUALITY_ROLES.signer);
  const failed = useQuery(() => http.get<FailedUnit[]>('/units', { status: 'failed', limit: 500 }), []);
  const recent = useQuery(() => qualityApi.dispositions({ limit: 20 }), []);
  const [unit, setUnit] = useState<UnitQuality | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const open = async (serial: string, keepNotice = false) => {
    if (!keepNotice) setNotice(null);
    try {
      setUnit(await qualityApi.unit(serial));
      setError(null);
    } catch (e) {
      setUnit(null);
      if (isApiError(e)) setError(e);
      else throw e;
    }
  };
  const u = unit?.unit;
  return (
    <>
      <PageHeader title="Dispositions" subtitle="Failed units wait for a decision: repair, retest, scrap, or use as is (signed)." />
      <Panel className="scan-panel">
        <ScanInput id="disposition-scan" label="Scan the unit's serial" onScan={(code) => open(code)} holdFocus={false} />
      </Panel>
      {notice ? <Notice onClose={() => setNotice(null)}>{notice}</Notice> : null}
      {error ? <Verdict kind="nogo" size="compact" title="Unit not found" reason={error.detail} code={error.code} /> : null}
      {unit && u ? (
        <Panel title={`Unit ${u.serial} · ${u.status}`}>
          {unit.blockers.length ? (
            <ol className="blockers" data-testid="unit-blockers">
              {unit.blockers.map((b, i) => (
                <li key={i} data-code={b.code}>
                  <span className="blocker-message">{b.message}</span>
                  <span className="blocker-meta">{b.code}</span>
                </li>
              ))}
            </ol>
          ) : (
            <p>Nothing blocks this unit.</p>
          )}
          {canRepair && u.status !== 'scrapped' ? (
            <DispositionForm
              key={u.serial}
              serial={u.serial}
              canSign={canSign}
              needsVerifyStep={u.status !== 'failed'}
              onDone={(m) => {
                setNotice(m);
                failed.reload();
                recent.reload();
                void open(u.serial, true);
              }}
            />
          ) : null}
        </Panel>
      ) : null}
      <Panel title={failed.data ? `${failed.data.length} failed unit${failed.data.length === 1 ? '' : 's'} without disposition` : 'Failed units'}>
        <ErrorPanel error={failed.error} />
        {failed.loading && !failed.data ? (
          <Loading />
        ) : (
          <DataTable<FailedUnit>
            rows={failed.data}
            rowKey={(x) => x.id}
            onRowClick={(x) => void open(x.serial)}
            empty="No failed unit waits for a disposition."
            columns={[
              { key: 'serial', header: 'Serial', render: (x) => <strong className="mono">{x.serial}</strong> },
              { key: 'workOrderNumber', header: 'Work order' },
              { key: 'failedStepSeq', header: 'Failed at step' },
              { key: 'status', header: 'Status', render: () => <Badge tone="bad">failed</Badge> },
            ]}
          />
        )}
      </Panel>
      <Panel title="Recent dispositions">
        <DataTable
          rows={recent.data}
          rowKey={(d) => d.id}
          empty="None yet."
          columns={[
            { key: 'serial', header: 'Serial' },
            { key: 'decision', header: 'Decision' },
            { key: 'reason', header: 'Reason' },
            { key: 'verified', header: 'Verified', render: (d) => (d.verified === null ? '—' : d.verified ? 'yes' : 'not yet') },
            { key: 'signatureId', header: 'Signed', render: (d) => (d.signatureId ? 'yes' : '') },
            { key: 'createdAt', header: 'When', render: (d) => `${formatDateTime(d.createdAt)} · ${d.createdBy}` },
          ]}
        />
      </Panel>
    </>
  );
}
