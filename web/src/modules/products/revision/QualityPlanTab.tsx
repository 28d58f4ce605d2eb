import { api, type ProductRevision } from '../../../api.ts';
import { ErrorPanel } from '../../../components/ErrorPanel.tsx';
import { Badge, Empty, KeyValues, Loading, Panel } from '../../../components/ui.tsx';
import { useQuery } from '../../../hooks.ts';

export function QualityPlanTab({ rev }: { rev: ProductRevision }) {
  const q = useQuery(() => api.revisions.qualityPlan(rev.id).catch((e) => (e?.code === 'NOT_FOUND' ? null : Promise.reject(e))), [rev.id]);
  if (q.error) return <ErrorPanel error={q.error} />;
  if (q.data === undefined) return <Loading />;
  const p = q.data;
  if (!p) return <Empty>This revision has no quality plan yet.</Empty>;
  return (
    <Panel title="Quality plan">
      <KeyValues
        items={[
          ['Required steps', p.requiredSteps.length ? p.requiredSteps.map((s) => <Badge key={s} tone="info">{s}</Badge>) : ''],
          ['Traceability depth', p.traceDepth],
          ['IPC-1782 levels', `material ${p.materialLevel}, process ${p.processLevel}`],
          ['IPC-A-610 class', `Class ${p.acceptanceClass}`],
          ['Mixed lots in a carton', p.mixedLotsAllowed ? 'allowed' : 'not allowed'],
          ['Trace package', p.tracePackage.join(', ')],
          ['Notes', p.notes],
        ]}
      />
    </Panel>
  );
}
