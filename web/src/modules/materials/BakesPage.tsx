import { useState } from 'react';
import { http } from '../../api.ts';
import { DataTable } from '../../components/DataTable.tsx';
import { ErrorPanel } from '../../components/ErrorPanel.tsx';
import { ScanInput } from '../../components/ScanInput.tsx';
import { Button, Field, Loading, Notice, PageHeader, Panel, formatDateTime } from '../../components/ui.tsx';
import { Verdict } from '../../components/Verdict.tsx';
import { useAction, useQuery } from '../../hooks.ts';
import { useCan } from '../../session.tsx';
import { locationText, materialsApi, MATERIALS_ROLES, type Package } from './api.ts';

export interface BakeRow { id: number; oven: string; temperatureC: number; durationMinutes: number; startedAt: string; finishedAt: string; actorName: string; notes: string; packages: string[] }

/** Bake records: packages that need a bake, recording an oven run (floor life restarts), and recent bakes. */
export function BakesPage() {
  const canBake = useCan(MATERIALS_ROLES.floor);
  const needing = useQuery((signal) => materialsApi.packages({ msdState: 'bake-required,expired', limit: 2000 }, signal), []);
  const recent = useQuery(() => http.get<BakeRow[]>('/reports/bakes', { days: 90 }), []);
  const [batch, setBatch] = useState<Package[]>([]);
  const [scanError, setScanError] = useState<string | null>(null);
  const [v, setV] = useState({ oven: '', temperatureC: '125', durationMinutes: '1440', notes: '' });
  const [notice, setNotice] = useState<string | null>(null);
  const add = async (code: string) => {
    const [p] = await materialsApi.packages({ code, includeFinished: true });
    if (!p) return setScanError(`There is no package ${code}.`);
    setScanError(null);
    setBatch((b) => (b.some((x) => x.id === p.id) ? b : [...b, p]));
  };
  const [bake, state] = useAction(async () => {
    const r = await materialsApi.bake({ packageIds: batch.map((p) => p.id), oven: v.oven.trim(), temperatureC: Number(v.temperatureC), durationMinutes: Number(v.durationMinutes), ...(v.notes.trim() ? { notes: v.notes.trim() } : {}) });
    setNotice(`Bake ${r.bake.id} recorded: ${r.packages.length} package(s), floor life restarted at ${formatDateTime(r.bake.finishedAt)}`);
    setBatch([]);
    needing.reload();
    recent.reload();
  });
  return (
    <>
      <PageHeader title="Bakes" subtitle="A bake (J-STD-033 table 4-1) restarts the floor life of the packages in the oven run." />
      {notice ? <Notice onClose={() => setNotice(null)}>{notice}</Notice> : null}
      {canBake ? (
        <Panel title="Record a bake">
          <ScanInput id="bake-scan" label="Scan the packages going into the oven" onScan={add} holdFocus={false} />
          {scanError ? <Verdict kind="nogo" size="compact" title="Unknown package" reason={scanError} /> : null}
          <DataTable<Package>
            testId="bake-batch"
            rows={batch}
            rowKey={(p) => p.id}
            empty="No package scanned yet."
            columns={[
              { key: 'code', header: 'Package', render: (p) => <span className="mono">{p.code}</span> },
              { key: 'ipn', header: 'Part' },
              { key: 'msd', header: 'MSL', render: (p) => `${p.msd.level} · ${p.msd.state}` },
              { key: 'rm', header: '', align: 'right', render: (p) => <Button variant="ghost" onClick={() => setBatch((b) => b.filter((x) => x.id !== p.id))}>Remove</Button> },
            ]}
          />
          <form
            className="record-form"
            onSubmit={(e) => {
              e.preventDefault();
              void bake();
            }}
          >
            <div className="form-grid">
              <Field label="Oven" required>
                <input value={v.oven} onChange={(e) => setV((s) => ({ ...s, oven: e.target.value }))} />
              </Field>
              <Field label="Temperature (°C)" required>
                <input type="number" min={30} max={250} value={v.temperatureC} onChange={(e) => setV((s) => ({ ...s, temperatureC: e.target.value }))} />
              </Field>
              <Field label="Duration (minutes)" required>
                <input type="number" min={1} value={v.durationMinutes} onChange={(e) => setV((s) => ({ ...s, durationMinutes: e.target.value }))} />
              </Field>
              <Field label="Notes" wide>
                <input value={v.notes} onChange={(e) => setV((s) => ({ ...s, notes: e.target.value }))} />
              </Field>
            </div>
            <ErrorPanel error={state.error} />
            <div className="form-actions">
              <Button type="submit" variant="primary" busy={state.busy} disabled={!batch.length || !v.oven.trim()}>
                Record bake of {batch.length} package{batch.length === 1 ? '' : 's'}
              </Button>
            </div>
          </form>
        </Panel>
      ) : null}
      <Panel title="Packages that need a bake">
        <ErrorPanel error={needing.error} />
        {needing.loading && !needing.data ? (
          <Loading />
        ) : (
          <DataTable<Package>
            rows={needing.data}
            rowKey={(p) => p.id}
            onRowClick={canBake ? (p) => void add(p.code) : undefined}
            empty="No package needs a bake."
            columns={[
              { key: 'code', header: 'Package', render: (p) => <span className="mono">{p.code}</span> },
              { key: 'ipn', header: 'Part' },
              { key: 'msd', header: 'MSL', render: (p) => `${p.msd.level} · ${p.msd.state}` },
              { key: 'location', header: 'Location', render: (p) => locationText(p.location) },
            ]}
          />
        )}
      </Panel>
      <Panel title="Recent bakes (90 days)">
        <ErrorPanel error={recent.error} />
        <DataTable<BakeRow>
          testId="bakes"
          rows={recent.data}
          rowKey={(b) => b.id}
          empty="No bake recorded."
          columns={[
            { key: 'finishedAt', header: 'Finished', render: (b) => formatDateTime(b.finishedAt) },
            { key: 'oven', header: 'Oven' },
            { key: 'temperatureC', header: '°C', align: 'right' },
            { key: 'durationMinutes', header: 'Minutes', align: 'right' },
            { key: 'packages', header: 'Packages', render: (b) => <span className="mono">{b.packages.join(' ')}</span> },
            { key: 'actorName', header: 'By' },
          ]}
        />
      </Panel>
    </>
  );
}
