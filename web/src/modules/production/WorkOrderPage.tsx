import { useState } from 'react';
import { api } from '../../api.ts';
import { RecordForm, initialValues, toBody, type FieldSpec } from '../../components/RecordForm.tsx';
import type { ScreenProps } from '../../app/registry.ts';
import { ErrorPanel } from '../../components/ErrorPanel.tsx';
import { Tabs } from '../../components/Tabs.tsx';
import { Button, Empty, KeyValues, Loading, Notice, PageHeader, Panel, formatDateTime } from '../../components/ui.tsx';
import { Verdict } from '../../components/Verdict.tsx';
import { useAction, useQuery } from '../../hooks.ts';
import { Link } from '../../router.tsx';
import { useCan } from '../../session.tsx';
import { ACTIVATE_ROLES, PLANNING_ROLES, workOrdersApi, type WorkOrder, type WorkOrderAction } from './api.ts';
import { WoStateBadge } from './WorkOrdersPage.tsx';

const ACTION_LABEL: Record<WorkOrderAction, string> = {
  release: 'Release', start: 'Start', hold: 'Hold', resume: 'Release hold', complete: 'Complete', close: 'Close', cancel: 'Cancel order',
};
const NEEDS_REASON: WorkOrderAction[] = ['hold', 'cancel'];

/** One work order: state and actions (release refusals listed), progress per state and step, the frozen build basis. */
export function WorkOrderPage({ params }: ScreenProps) {
  const id = Number(params.id);
  const tab = params.tab ?? 'overview';
  const wo = useQuery(() => workOrdersApi.get(id), [id]);
  if (wo.error) return <ErrorPanel error={wo.error} />;
  if (!wo.data) return <Loading />;
  const w = wo.data;
  return (
    <>
      <PageHeader
        title={
          <>
            {w.number} <WoStateBadge state={w.state} />
          </>
        }
        subtitle={`${w.productCode} rev ${w.revision} · ${w.quantity} units${w.lineCode ? ` · line ${w.lineCode}${w.activeOnLine ? ' (active)' : ''}` : ''}${w.dueDate ? ` · due ${w.dueDate}` : ''}`}
        actions={
          <Link className="btn btn-ghost" to="/work-orders">
            All work orders
          </Link>
        }
      />
      <Tabs
        active={tab}
        tabs={[
          { id: 'overview', label: 'Overview', to: `/work-orders/${id}` },
          { id: 'progress', label: 'Progress', to: `/work-orders/${id}/progress` },
          { id: 'basis', label: 'Build basis', to: `/work-orders/${id}/basis` },
        ]}
      />
      {tab === 'progress' ? <ProgressTab id={id} /> : tab === 'basis' ? <BasisTab w={w} /> : <Overview w={w} reload={wo.reload} />}
    </>
  );
}

function Overview({ w, reload }: { w: WorkOrder; reload(): void }) {
  const canPlan = useCan(PLANNING_ROLES);
  const canActivate = useCan(ACTIVATE_ROLES);
  const [asking, setAsking] = useState<WorkOrderAction | null>(null);
  const [reason, setReason] = useState('');
  const [done, setDone] = useState<string | null>(null);
  const check = useQuery(() => (w.state === 'planned' ? workOrdersApi.releaseCheck(w.id) : Promise.resolve(null)), [w.id, w.state]);
  const [run, runState] = useAction(async (action: WorkOrderAction, why?: string) => {
    const after = await workOrdersApi.transition(w.id, action, why);
    setAsking(null);
    setReason('');
    setDone(`${ACTION_LABEL[action]}: ${w.number} is now ${after.state.replace('_', ' ')}.`);
    reload();
  });
  const [activate, activateState] = useAction(async () => {
    await workOrdersApi.activate(w.id);
    setDone(`${w.number} is now the active work order of line ${w.lineCode}.`);
    reload();
  });
  const [editing, setEditing] = useState(false);
  const lines = useQuery(() => (editing ? api.lines.list() : Promise.resolve([])), [editing]);
  // Line and product only while planned (the server says so too); quantities and dates until completed.
  const editFields: FieldSpec[] = [
    ...(w.state === 'planned'
      ? [{ name: 'lineId', label: 'Line', type: 'select' as const, numeric: true, emptyAs: null, options: (lines.data ?? []).map((l) => ({ value: String(l.id), label: `${l.code} · ${l.name}` })), emptyLabel: 'No line' }]
      : []),
    { name: 'quantity', label: 'Quantity', type: 'number', min: 1, required: true },
    { name: 'dueDate', label: 'Due date', placeholder: 'YYYY-MM-DD', pattern: '\\d{4}-\\d{2}-\\d{2}', emptyAs: null },
    { name: 'customerPo', label: 'Customer PO' },
  ];
  const [save, saveState] = useAction(async (v: Record<string, string | boolean>) => {
    await workOrdersApi.update(w.id, toBody(editFields, v, { onlyChanged: initialValues(editFields, w as unknown as Record<string, unknown>) }));
    setEditing(false);
    setDone(`${w.number} saved.`);
    runState.clearError();
    reload();
    check.reload();
  });
  const blockers = runState.error?.code === 'RULE_VIOLATION' ? runState.error.errors : check.data?.blockers ?? [];
  return (
    <>
      {done ? <Notice onClose={() => setDone(null)}>{done}</Notice> : null}
      {w.state === 'planned' ? (
        check.data && check.data.releasable && !runState.error ? (
          <Verdict kind="go" size="compact" title="Ready to release" reason="Everything the build basis needs is in place: releasing freezes it with its hash." />
        ) : blockers.length ? (
          <Verdict kind="nogo" size="compact" title="Cannot be released" reason={`${blockers.length} reason${blockers.length === 1 ? ' stops' : 's stop'} the release:`} code={runState.error?.code ?? 'RULE_VIOLATION'}>
            <ul className="blockers" data-testid="release-blockers">
              {blockers.map((b, i) => (
                <li key={i} data-code={b.code}>
                  <span className="blocker-message">{b.message}</span>
                  <span className="blocker-meta">
                    {b.field} · {b.code}
                  </span>
                </li>
              ))}
            </ul>
          </Verdict>
        ) : null
      ) : null}
      <Panel title="Actions">
        <div className="form-actions wo-actions">
          {canPlan
            ? w.actions.map((a) => (
                <Button
                  key={a}
                  variant={a === 'cancel' ? 'danger' : a === 'release' || a === 'resume' ? 'primary' : 'secondary'}
                  busy={runState.busy && asking === null}
                  onClick={() => {
                    runState.clearError();
                    if (NEEDS_REASON.includes(a)) setAsking(a);
                    else void run(a);
                  }}
                >
                  {ACTION_LABEL[a]}
                </Button>
              ))
            : null}
          {canActivate && ['released', 'in_progress'].includes(w.state) && w.lineId !== null && !w.activeOnLine ? (
            <Button variant="secondary" busy={activateState.busy} onClick={() => void activate()}>
              Make active on {w.lineCode}
            </Button>
          ) : null}
          {canPlan && !['completed', 'closed', 'cancelled'].includes(w.state) ? (
            <Button variant="ghost" onClick={() => setEditing(true)}>
              Edit
            </Button>
          ) : null}
          {!canPlan && w.actions.length ? <span className="muted">Planners change the state of work orders.</span> : null}
        </div>
        {editing && (w.state !== 'planned' || lines.data) ? (
          <RecordForm title={`Edit ${w.number}`} fields={editFields} initial={initialValues(editFields, w as unknown as Record<string, unknown>)} submitLabel="Save" onSubmit={save} onCancel={() => setEditing(false)} busy={saveState.busy} error={saveState.error} testId="wo-edit" />
        ) : null}
        {asking ? (
          <form
            className="inline-form wo-reason"
            onSubmit={(e) => {
              e.preventDefault();
              void run(asking, reason.trim());
            }}
          >
            <label className="field field-wide-input">
              <span className="field-label field-required">Reason for “{ACTION_LABEL[asking]}”</span>
              <input value={reason} onChange={(e) => setReason(e.target.value)} minLength={3} required autoFocus aria-label="Reason" />
            </label>
            <Button type="submit" variant={asking === 'cancel' ? 'danger' : 'primary'} busy={runState.busy}>
              {ACTION_LABEL[asking]}
            </Button>
            <Button variant="ghost" onClick={() => setAsking(null)}>
              Back
            </Button>
          </form>
        ) : null}
        {runState.error && runState.error.code !== 'RULE_VIOLATION' ? <ErrorPanel error={runState.error} onClose={runState.clearError} /> : null}
        <ErrorPanel error={activateState.error} />
      </Panel>
      <Panel title="Details">
        <KeyValues
          items={[
            ['Customer', `${w.customer}${w.customerPo ? ` · PO ${w.customerPo}` : ''}`],
            ['Quantity', `${w.quantity} (most ${w.maxUnits} with overrun)`],
            ['Units created', w.unitsCreated],
            ['Serial pattern', w.serialPattern ?? 'product default'],
            ['Created', `${formatDateTime(w.createdAt)} by ${w.createdBy}`],
            ['Released', w.releasedAt ? `${formatDateTime(w.releasedAt)} by ${w.releasedBy}` : ''],
            ['On hold returns to', w.holdReturnState ?? ''],
            ['Build basis', w.basisHash ? <code>{w.basisHash}</code> : 'not frozen yet'],
            ['Notes', w.notes],
          ]}
        />
      </Panel>
    </>
  );
}

function ProgressTab({ id }: { id: number }) {
  const q = useQuery(() => workOrdersApi.wip(id), [id]);
  if (q.error) return <ErrorPanel error={q.error} />;
  if (!q.data) return <Loading />;
  const p = q.data.progress;
  const cells: [string, number][] = [
    ['Created', p.created], ['Queued', p.queued], ['In process', p.inProcess], ['Passed', p.passed], ['Failed', p.failed], ['Scrapped', p.scrapped], ['On hold', p.onHold], ['Remaining', p.remaining],
  ];
  return (
    <>
      <Panel title={`Units per state · ${p.passed} of ${p.quantity} passed`} actions={<Button onClick={q.reload}>Refresh</Button>}>
        <div className="progress wo-progress" aria-hidden="true">
          <div className="progress-bar" style={{ width: `${Math.min(100, (p.passed / Math.max(p.quantity, 1)) * 100).toFixed(1)}%` }} />
        </div>
        <dl className="wo-counts" data-testid="wo-counts">
          {cells.map(([k, v]) => (
            <div key={k}>
              <dt>{k}</dt>
              <dd>{v}</dd>
            </div>
          ))}
        </dl>
      </Panel>
      <Panel title="Units per route step">
        {q.data.steps.length ? (
          <table className="table" data-testid="wo-steps">
            <thead>
              <tr>
                <th>Step</th>
                <th>Station type</th>
                <th className="num">Waiting</th>
                <th className="num">In process</th>
                <th className="num">Failed</th>
                <th className="num">On hold</th>
              </tr>
            </thead>
            <tbody>
              {q.data.steps.map((s) => (
                <tr key={s.seq} className={s.isRepair ? 'muted' : undefined}>
                  <td>
                    {s.seq} {s.name}
                  </td>
                  <td>{s.stationType}</td>
                  <td className="num">{s.queued}</td>
                  <td className="num">{s.inProcess}</td>
                  <td className="num">{s.failed}</td>
                  <td className="num">{s.onHold}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <Empty>The route steps appear once the work order is released (its build basis is frozen).</Empty>
        )}
      </Panel>
    </>
  );
}

function BasisTab({ w }: { w: WorkOrder }) {
  const q = useQuery(() => (w.basisId ? Promise.all([workOrdersApi.basis(w.id), workOrdersApi.bases(w.id)]) : Promise.resolve(null)), [w.id, w.basisId]);
  if (!w.basisId) return <Empty>The build basis is frozen when the work order is released.</Empty>;
  if (q.error) return <ErrorPanel error={q.error} />;
  if (!q.data) return <Loading />;
  const [stored, history] = q.data;
  const b = stored.basis;
  return (
    <>
      <Panel title={`Build basis v${stored.version}`}>
        <KeyValues
          items={[
            ['SHA-256', <code data-testid="basis-hash">{stored.hash}</code>],
            ['Frozen', `${formatDateTime(stored.createdAt)} by ${stored.createdBy}${stored.reason ? ` (${stored.reason})` : ''}`],
            ['Product revision', b ? `${b.productRevision.productCode} rev ${b.productRevision.revision} · ${b.productRevision.productName}` : ''],
            ['Document revisions', b ? `BOM ${b.productRevision.bomRevision} · Gerber ${b.productRevision.gerberRevision} · assembly drawing ${b.productRevision.assemblyDrawingRevision} · centroid ${b.productRevision.centroidRevision}` : ''],
            ['BOM', b ? `${b.bom.length} lines, ${b.bom.reduce((n, l) => n + (l.doNotPlace ? 0 : l.refdes.length), 0)} placements` : ''],
            ['AVL', b ? `${b.avl.filter((a) => a.permitted).length} permitted sources (${b.avl.filter((a) => a.alternate && a.permitted).length} alternates)` : ''],
            ['Route', b ? `${b.route.name}: ${b.route.steps.map((s) => `${s.seq} ${s.name}`).join(' → ')}` : ''],
            ['Programs', b ? b.programs.map((p) => `${p.name} rev ${p.revision} (${p.kind})`).join(', ') : ''],
            ['Quality plan', b?.qualityPlan ? `required: ${b.qualityPlan.requiredSteps.join(', ') || 'none'} · trace ${b.qualityPlan.traceDepth} · class ${b.qualityPlan.acceptanceClass}` : 'none'],
            ['Files', b ? b.files.map((f) => `${f.kind}: ${f.filename}`).join(', ') : ''],
          ]}
        />
        <details className="basis-json">
          <summary>The whole snapshot (JSON)</summary>
          <pre className="audit-json">{JSON.stringify(b, null, 2)}</pre>
        </details>
      </Panel>
      {history.length > 1 ? (
        <Panel title="Earlier bases">
          <ul>
            {history.map((h) => (
              <li key={h.id}>
                v{h.version} · <code>{h.hash.slice(0, 16)}…</code> · {formatDateTime(h.createdAt)} {h.reason ?? ''}
              </li>
            ))}
          </ul>
        </Panel>
      ) : null}
    </>
  );
}
