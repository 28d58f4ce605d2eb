import { useState } from 'react';
import { api, type ProductRevision, type RouteStep } from '../../../api.ts';
import { DataTable } from '../../../components/DataTable.tsx';
import { ErrorPanel } from '../../../components/ErrorPanel.tsx';
import { Badge, Empty, Loading, Panel } from '../../../components/ui.tsx';
import { useQuery } from '../../../hooks.ts';

function StepDetail({ step }: { step: RouteStep }) {
  return (
    <div className="step-detail">
      {step.instructions ? (
        <div>
          <h4>Work instructions</h4>
          <p className="instructions">{step.instructions}</p>
        </div>
      ) : null}
      {step.checks.length ? (
        <div>
          <h4>Required checks</h4>
          <ul>
            {step.checks.map((c) => (
              <li key={c.code}>
                <code>{c.code}</code> {c.text} {c.signoff ? <Badge tone="warn">signed off at completion</Badge> : null}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      {step.attachments.length ? (
        <div>
          <h4>Attachments</h4>
          <ul>
            {step.attachments.map((a) => (
              <li key={a.fileId}>
                <a href={api.fileUrl(a.fileId)} download={a.filename}>
                  {a.filename}
                </a>{' '}
                <span className="muted mono">sha256 {a.sha256.slice(0, 12)}…</span>
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      {!step.instructions && !step.checks.length && !step.attachments.length ? <p className="muted">No instructions, checks or attachments for this step.</p> : null}
    </div>
  );
}

/** The ordered steps a unit passes, with failure handling, gates and work instructions. */
export function RouteTab({ rev }: { rev: ProductRevision }) {
  const q = useQuery(async () => {
    const [route, stations] = await Promise.all([api.revisions.route(rev.id).catch((e) => (e?.code === 'NOT_FOUND' ? null : Promise.reject(e))), api.stations.list()]);
    return { route, stations };
  }, [rev.id]);
  const [open, setOpen] = useState<number | null>(null);
  if (q.error) return <ErrorPanel error={q.error} />;
  if (!q.data) return <Loading />;
  const { route, stations } = q.data;
  if (!route) return <Empty>This revision has no route yet. Routes are set through the API or a factory document import.</Empty>;
  const stationCode = (id: number | null) => (id === null ? '' : (stations.find((s) => s.id === id)?.code ?? `#${id}`));
  return (
    <Panel title={`Route “${route.name}” · ${route.steps.filter((s) => !s.isRepair).length} production steps`}>
      <DataTable
        testId="route"
        rows={route.steps}
        rowKey={(s) => s.id}
        onRowClick={(s) => setOpen(open === s.id ? null : s.id)}
        expanded={(s) => (open === s.id ? <StepDetail step={s} /> : null)}
        columns={[
          { key: 'seq', header: 'Seq', align: 'right' },
          { key: 'name', header: 'Step', render: (s) => <strong>{s.name}</strong> },
          { key: 'stationType', header: 'Station type', render: (s) => <Badge tone="info">{s.stationType}</Badge> },
          { key: 'station', header: 'Station', render: (s) => stationCode(s.stationId) || <span className="muted">any</span> },
          {
            key: 'kind',
            header: 'Kind',
            render: (s) => (
              <>
                {s.isRepair ? <Badge tone="warn">repair</Badge> : s.required ? 'required' : <span className="muted">optional</span>}
                {s.firstArticleGate ? (
                  <>
                    {' '}
                    <Badge tone="info">first article</Badge>
                  </>
                ) : null}
              </>
            ),
          },
          {
            key: 'onFail',
            header: 'On failure',
            render: (s) =>
              s.onFail === 'repair' ? `repair at ${s.repairStepSeq ?? '?'} → back to ${s.returnStepSeq ?? '?'} (max ${s.maxRepairLoops})` : s.onFail,
          },
          { key: 'samplingRate', header: 'Sampling', align: 'right', render: (s) => (s.samplingRate >= 1 ? 'every unit' : `${Math.round(s.samplingRate * 100)} %`) },
          { key: 'wi', header: 'Instructions', render: (s) => [s.instructions ? 'text' : '', s.checks.length ? `${s.checks.length} checks` : '', s.attachments.length ? `${s.attachments.length} files` : ''].filter(Boolean).join(', ') },
        ]}
      />
    </Panel>
  );
}
