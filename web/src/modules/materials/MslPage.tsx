import { useState } from 'react';
import { Countdown } from '../../components/Countdown.tsx';
import { DataTable } from '../../components/DataTable.tsx';
import { ErrorPanel } from '../../components/ErrorPanel.tsx';
import { Button, Loading, Notice, PageHeader, Panel } from '../../components/ui.tsx';
import { useAction, useQuery } from '../../hooks.ts';
import { useCan } from '../../session.tsx';
import { locationText, materialsApi, MATERIALS_ROLES, type Package, type Warning } from './api.ts';
import { StatusBadge } from './InventoryPage.tsx';

const WARN_MS = 8 * 3600_000;

/**
 * MSL countdowns (J-STD-033): every moisture-sensitive package whose floor-life clock runs, with
 * the time left counting down live; under eight hours amber, run out red. Dry storage stops the clock.
 */
export function MslPage() {
  const canFloor = useCan(MATERIALS_ROLES.floor);
  // Out of their dry pack: floor life counting (or stopped in dry storage after exposure), run out, or bake required.
  const q = useQuery((signal) => materialsApi.packages({ msdState: 'exposed,baked,expired,bake-required,unknown', limit: 2000 }, signal), []);
  const warnings = useQuery(() => materialsApi.warnings(), []);
  const [notice, setNotice] = useState<string | null>(null);
  const [event, eventState] = useAction(async (p: Package, type: 'dry-storage-in' | 'resealed-dry-pack') => {
    await materialsApi.msdEvent(p.id, type);
    setNotice(`${p.code}: ${type === 'dry-storage-in' ? 'into dry storage, clock stopped' : 'resealed in dry pack'}`);
    q.reload();
    warnings.reload();
  });
  const rows = q.data?.slice().sort((a, b) => (a.msd.expiresAt ? new Date(a.msd.expiresAt).getTime() : -1) - (b.msd.expiresAt ? new Date(b.msd.expiresAt).getTime() : -1));
  return (
    <>
      <PageHeader title="MSL floor life" subtitle="Exposed moisture-sensitive packages and the floor life they have left (J-STD-033)." />
      {notice ? <Notice onClose={() => setNotice(null)}>{notice}</Notice> : null}
      <ErrorPanel error={eventState.error} onClose={eventState.clearError} />
      <Panel title={rows ? `${rows.length} package${rows.length === 1 ? '' : 's'} on the clock` : undefined}>
        <ErrorPanel error={q.error} />
        {q.loading && !rows ? (
          <Loading />
        ) : (
          <DataTable<Package>
            testId="msl"
            rows={rows}
            rowKey={(p) => p.id}
            rowTestId={(p) => `msl-${p.code}`}
            empty="No moisture-sensitive package is exposed."
            columns={[
              { key: 'code', header: 'Package', render: (p) => <strong className="mono">{p.code}</strong> },
              { key: 'ipn', header: 'Part' },
              { key: 'level', header: 'MSL', render: (p) => p.msd.level },
              { key: 'state', header: 'State', render: (p) => p.msd.state },
              {
                key: 'left', header: 'Floor life left',
                render: (p) => (p.msd.expiresAt ? <Countdown until={p.msd.expiresAt} warnMs={WARN_MS} /> : p.msd.blocksUse ? <span className="countdown countdown-bad">{p.msd.state}</span> : '—'),
              },
              { key: 'status', header: 'Status', render: (p) => <StatusBadge status={p.status} /> },
              { key: 'location', header: 'Location', render: (p) => locationText(p.location) },
              {
                key: 'act', header: '', align: 'right',
                render: (p) =>
                  canFloor && p.msd.expiresAt ? (
                    <Button variant="ghost" onClick={() => void event(p, 'dry-storage-in')} disabled={eventState.busy}>
                      Dry storage
                    </Button>
                  ) : null,
              },
            ]}
          />
        )}
      </Panel>
      <Panel title="Warnings: floor life and lot expiry">
        <ErrorPanel error={warnings.error} />
        <DataTable<Warning>
          testId="material-warnings"
          rows={warnings.data}
          rowKey={(w) => `${w.kind}-${w.packageId}`}
          empty="Nothing expires soon."
          columns={[
            { key: 'packageCode', header: 'Package', render: (w) => <span className="mono">{w.packageCode}</span> },
            { key: 'kind', header: 'What' },
            { key: 'message', header: 'Warning' },
            { key: 'at', header: 'Left', render: (w) => (w.at ? <Countdown until={w.at} warnMs={WARN_MS} /> : '') },
          ]}
        />
      </Panel>
    </>
  );
}
