import { useState } from 'react';
import type { Check, Package, Stencil } from './api.ts';
import { DataTable } from '../../components/DataTable.tsx';
import { ErrorPanel } from '../../components/ErrorPanel.tsx';
import { Button, Loading, Notice, PageHeader, Panel, formatDateTime } from '../../components/ui.tsx';
import { useAction, useQuery } from '../../hooks.ts';
import { useCan } from '../../session.tsx';
import { locationText, materialsApi, MATERIALS_ROLES } from './api.ts';
import { StatusBadge } from './InventoryPage.tsx';

function CheckResult({ check }: { check: Check | undefined }) {
  if (!check) return null;
  return check.ok ? (
    <span className="badge badge-good">usable</span>
  ) : (
    <span className="badge badge-bad" title={check.problems.map((p) => `${p.code}: ${p.message}`).join('\n')}>
      {check.problems.map((p) => p.code).join(', ')}
    </span>
  );
}

/** Solder paste jars (thaw, open, usable now?) and stencils (cleaning interval, wear). */
export function PasteStencilsPage() {
  const canFloor = useCan(MATERIALS_ROLES.floor);
  const jars = useQuery(async () => {
    const all = await materialsApi.packages({ kind: 'paste-jar', limit: 2000 });
    const checks = await Promise.all(all.map((p) => materialsApi.pasteCheck(p.id)));
    return all.map((p, i) => ({ ...p, check: checks[i] }));
  }, []);
  const stencils = useQuery(async () => {
    const all = await materialsApi.stencils();
    const checks = await Promise.all(all.map((s) => materialsApi.stencilCheck(s.id)));
    return all.map((s, i) => ({ ...s, check: checks[i] }));
  }, []);
  const [notice, setNotice] = useState<string | null>(null);
  const [act, state] = useAction(async (what: 'thaw' | 'open' | 'clean', id: number, code: string) => {
    if (what === 'thaw') await materialsApi.thaw(id);
    else if (what === 'open') await materialsApi.openPaste(id);
    else await materialsApi.cleanStencil(id);
    setNotice(`${code}: ${what === 'thaw' ? 'thawing started' : what === 'open' ? 'opened' : 'cleaned'}`);
    jars.reload();
    stencils.reload();
  });
  return (
    <>
      <PageHeader title="Paste and stencils" subtitle="A paste jar is usable after its thaw time and within its open time; a stencil within its cleaning interval and wear limit." />
      {notice ? <Notice onClose={() => setNotice(null)}>{notice}</Notice> : null}
      <ErrorPanel error={state.error} onClose={state.clearError} />
      <Panel title="Paste jars">
        <ErrorPanel error={jars.error} />
        {jars.loading && !jars.data ? (
          <Loading />
        ) : (
          <DataTable<Package & { check: Check | undefined }>
            testId="paste-jars"
            rows={jars.data}
            rowKey={(p) => p.id}
            empty="No paste jar in stock."
            columns={[
              { key: 'code', header: 'Jar', render: (p) => <span className="mono">{p.code}</span> },
              { key: 'mpn', header: 'Paste', render: (p) => `${p.manufacturer} ${p.mpn}` },
              { key: 'lotExpiresAt', header: 'Expires', render: (p) => formatDateTime(p.lotExpiresAt) },
              { key: 'thaw', header: 'Thaw started', render: (p) => formatDateTime(p.paste?.thawStartedAt) },
              { key: 'open', header: 'Opened', render: (p) => formatDateTime(p.paste?.openedAt) },
              { key: 'status', header: 'Status', render: (p) => <StatusBadge status={p.status} /> },
              { key: 'location', header: 'Location', render: (p) => locationText(p.location) },
              { key: 'check', header: 'Now', render: (p) => <CheckResult check={p.check} /> },
              {
                key: 'act', header: '', align: 'right',
                render: (p) =>
                  canFloor ? (
                    <span className="row-actions">
                      {!p.paste?.thawStartedAt ? <Button variant="ghost" onClick={() => void act('thaw', p.id, p.code)}>Thaw</Button> : null}
                      {p.paste?.thawStartedAt && !p.paste.openedAt ? <Button variant="ghost" onClick={() => void act('open', p.id, p.code)}>Open</Button> : null}
                    </span>
                  ) : null,
              },
            ]}
          />
        )}
      </Panel>
      <Panel title="Stencils">
        <ErrorPanel error={stencils.error} />
        {stencils.loading && !stencils.data ? (
          <Loading />
        ) : (
          <DataTable<Stencil & { check: Check | undefined }>
            testId="stencils"
            rows={stencils.data}
            rowKey={(s) => s.id}
            empty="No stencil registered."
            columns={[
              { key: 'code', header: 'Stencil', render: (s) => <strong className="mono">{s.code}</strong> },
              { key: 'thicknessUm', header: 'µm', align: 'right' },
              { key: 'usageCount', header: 'Prints', align: 'right', render: (s) => `${s.usageCount}${s.maxUsage ? ` / ${s.maxUsage}` : ''}` },
              { key: 'usageSinceCleaning', header: 'Since cleaning', align: 'right', render: (s) => `${s.usageSinceCleaning} / ${s.cleaningInterval}` },
              { key: 'lastCleanedAt', header: 'Cleaned', render: (s) => formatDateTime(s.lastCleanedAt) },
              { key: 'status', header: 'Status' },
              { key: 'check', header: 'Now', render: (s) => <CheckResult check={s.check} /> },
              { key: 'act', header: '', align: 'right', render: (s) => (canFloor && s.status !== 'retired' ? <Button variant="ghost" onClick={() => void act('clean', s.id, s.code)}>Cleaned</Button> : null) },
            ]}
          />
        )}
      </Panel>
    </>
  );
}
