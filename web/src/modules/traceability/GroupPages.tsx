import { useState } from 'react';
import type { ScreenProps } from '../../app/registry.ts';
import { DataTable, type Column } from '../../components/DataTable.tsx';
import { ErrorPanel } from '../../components/ErrorPanel.tsx';
import { Button, KeyValues, Loading, PageHeader, Panel, formatDateTime } from '../../components/ui.tsx';
import { useQuery } from '../../hooks.ts';
import { navigate } from '../../router.tsx';
import { traceApi, type UnitSummary } from './api.ts';
import { StateBadge } from './UnitPage.tsx';
import './trace.css';

const COLUMNS: Column<UnitSummary>[] = [
  { key: 'serial', header: 'Serial', render: (u) => <span className="mono">{u.serial}</span> },
  { key: 'position', header: 'Panel · position', render: (u) => (u.panel ? `${u.panel} · ${u.position}` : '') },
  { key: 'state', header: 'State', render: (u) => <StateBadge state={u.state} /> },
  { key: 'status', header: 'Route status' },
  { key: 'lastPassageAt', header: 'Last passage', render: (u) => formatDateTime(u.lastPassageAt) },
  { key: 'failedResults', header: 'Failed results', align: 'right' },
  { key: 'reworkActions', header: 'Repairs', align: 'right' },
  { key: 'carton', header: 'Carton', render: (u) => u.carton ?? '' },
  { key: 'shipment', header: 'Shipment', render: (u) => u.shipment ?? '' },
];
const open = (u: UnitSummary) => navigate(`/trace/units/${encodeURIComponent(u.serial)}`);

/** A panel: its positions and their units. */
export function PanelPage({ params }: ScreenProps) {
  const code = params.code ?? '';
  const q = useQuery(() => traceApi.panel(code), [code]);
  if (q.error) return <ErrorPanel error={q.error} />;
  if (!q.data) return <Loading />;
  const { panel, units } = q.data;
  return (
    <div>
      <PageHeader title={`Panel ${panel.code}`} subtitle={`${panel.positions} positions · work order ${panel.workOrder.number}`} />
      <Panel>
        <KeyValues items={[['Work order', panel.workOrder.number], ['Customer', panel.workOrder.customer], ['Production lot', panel.lot?.code ?? '']]} />
      </Panel>
      <Panel title="Positions">
        <DataTable testId="panel-units" rows={units} rowKey={(u) => u.unitId} columns={COLUMNS} onRowClick={open} />
      </Panel>
    </div>
  );
}

/** A production lot: its data and its units, a page at a time. */
export function LotPage({ params }: ScreenProps) {
  const code = params.code ?? '';
  const [afterId, setAfterId] = useState<number | undefined>();
  const q = useQuery(() => traceApi.lot(code, afterId), [code, afterId]);
  if (q.error) return <ErrorPanel error={q.error} />;
  if (!q.data) return <Loading />;
  const { lot, units, nextAfterId } = q.data;
  return (
    <div>
      <PageHeader title={`Production lot ${lot.code}`} subtitle={`${lot.workOrder.productCode} rev ${lot.workOrder.revision} · work order ${lot.workOrder.number}`} />
      <Panel>
        <KeyValues items={[['Work order', lot.workOrder.number], ['Customer', lot.workOrder.customer], ['Units', lot.units], ['Panels', lot.panels]]} />
      </Panel>
      <Panel title="Units" actions={nextAfterId ? <Button onClick={() => setAfterId(nextAfterId)}>Next page</Button> : afterId ? <Button onClick={() => setAfterId(undefined)}>First page</Button> : null}>
        <DataTable testId="lot-units" rows={units} rowKey={(u) => u.unitId} columns={COLUMNS} onRowClick={open} />
      </Panel>
    </div>
  );
}
