import { api } from '../../api.ts';
import type { ScreenProps } from '../../app/registry.ts';
import { ErrorPanel } from '../../components/ErrorPanel.tsx';
import { Tabs } from '../../components/Tabs.tsx';
import { Loading, PageHeader, StateBadge } from '../../components/ui.tsx';
import { useQuery } from '../../hooks.ts';
import { R } from '../../roles.ts';
import { Link } from '../../router.tsx';
import { useCan } from '../../session.tsx';
import { BomImportTab } from './revision/BomImportTab.tsx';
import { BomTab } from './revision/BomTab.tsx';
import { FilesTab } from './revision/FilesTab.tsx';
import { OverviewTab } from './revision/OverviewTab.tsx';
import { ProgramsTab } from './revision/ProgramsTab.tsx';
import { QualityPlanTab } from './revision/QualityPlanTab.tsx';
import { ReleaseTab } from './revision/ReleaseTab.tsx';
import { RouteTab } from './revision/RouteTab.tsx';

const TAB_IDS = ['overview', 'bom', 'import', 'route', 'programs', 'quality', 'files', 'release'] as const;
type TabId = (typeof TAB_IDS)[number];

/** One product revision with its engineering package, BOM, route, programs, quality plan and release. */
export function RevisionPage({ params }: ScreenProps) {
  const id = Number(params.id);
  const canWrite = useCan(R.masterDataWrite);
  const q = useQuery(() => api.revisions.get(id), [id]);
  const rev = q.data;
  const editable = canWrite && rev?.state === 'draft';
  let tab: TabId = (TAB_IDS as readonly string[]).includes(params.tab ?? '') ? (params.tab as TabId) : 'overview';
  if (tab === 'import' && rev && !editable) tab = 'bom';

  if (q.error && !rev) return <ErrorPanel error={q.error} />;
  if (!rev) return <Loading />;
  const base = `/revisions/${id}`;
  const tabs = [
    { id: 'overview', label: 'Overview', to: base },
    { id: 'bom', label: 'BOM', to: `${base}/bom` },
    ...(editable ? [{ id: 'import', label: 'Import BOM', to: `${base}/import` }] : []),
    { id: 'route', label: 'Route', to: `${base}/route` },
    { id: 'programs', label: 'Programs', to: `${base}/programs` },
    { id: 'quality', label: 'Quality plan', to: `${base}/quality` },
    { id: 'files', label: 'Files', to: `${base}/files` },
    { id: 'release', label: 'Release', to: `${base}/release` },
  ];
  return (
    <>
      <PageHeader
        title={
          <>
            {rev.productCode} · revision {rev.revision} <StateBadge state={rev.state} />
          </>
        }
        subtitle={<Link to={`/products/${rev.productId}`}>← {rev.productCode}: all revisions</Link>}
      />
      <Tabs tabs={tabs} active={tab} />
      {tab === 'overview' ? <OverviewTab rev={rev} editable={editable} onChanged={q.reload} /> : null}
      {tab === 'bom' ? <BomTab rev={rev} editable={editable} /> : null}
      {tab === 'import' ? <BomImportTab rev={rev} /> : null}
      {tab === 'route' ? <RouteTab rev={rev} /> : null}
      {tab === 'programs' ? <ProgramsTab rev={rev} /> : null}
      {tab === 'quality' ? <QualityPlanTab rev={rev} /> : null}
      {tab === 'files' ? <FilesTab rev={rev} /> : null}
      {tab === 'release' ? <ReleaseTab rev={rev} onChanged={q.reload} /> : null}
    </>
  );
}
