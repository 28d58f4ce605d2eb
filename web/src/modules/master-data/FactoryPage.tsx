import { api, STATION_TYPES, type Equipment, type Line, type Site, type Station } from '../../api.ts';
import type { ScreenProps } from '../../app/registry.ts';
import { EntityManager } from '../../components/EntityManager.tsx';
import { Tabs } from '../../components/Tabs.tsx';
import { Badge, PageHeader } from '../../components/ui.tsx';
import { useQuery } from '../../hooks.ts';
import { R } from '../../roles.ts';
import { useCan } from '../../session.tsx';

const CODE_HINT = 'Letters, digits, . _ -';
const TABS = ['stations', 'equipment', 'lines', 'sites'] as const;

/** Sites, lines, stations and equipment: read for every role, changed by administrators. */
export function FactoryPage({ params }: ScreenProps) {
  const tab = (TABS as readonly string[]).includes(params.tab ?? '') ? params.tab! : 'stations';
  const canWrite = useCan(R.admin);
  // Reference data for pick lists and for showing codes instead of ids.
  const ref = useQuery(async () => {
    const [sites, lines, stations] = await Promise.all([api.sites.list(), api.lines.list(), api.stations.list()]);
    return { sites, lines, stations };
  }, [tab]);
  const sites = ref.data?.sites ?? [];
  const lines = ref.data?.lines ?? [];
  const stations = ref.data?.stations ?? [];
  const siteCode = (id: number) => sites.find((s) => s.id === id)?.code ?? `#${id}`;
  const lineCode = (id: number | null) => (id === null ? '' : (lines.find((l) => l.id === id)?.code ?? `#${id}`));
  const stationCode = (id: number) => stations.find((s) => s.id === id)?.code ?? `#${id}`;

  return (
    <>
      <PageHeader title="Factory" subtitle="Where work happens: sites, lines, stations and their machines." />
      <Tabs
        active={tab}
        tabs={[
          { id: 'stations', label: 'Stations', to: '/factory/stations' },
          { id: 'equipment', label: 'Equipment', to: '/factory/equipment' },
          { id: 'lines', label: 'Lines', to: '/factory/lines' },
          { id: 'sites', label: 'Sites', to: '/factory/sites' },
        ]}
      />
      {tab === 'sites' ? (
        <EntityManager<Site>
          key="sites"
          noun="site"
          canWrite={canWrite}
          load={() => api.sites.list()}
          create={(b) => api.sites.create(b)}
          update={(id, b) => api.sites.update(id, b)}
          remove={(id) => api.sites.remove(id)}
          defaults={{ timezone: Intl.DateTimeFormat().resolvedOptions().timeZone }}
          columns={[
            { key: 'code', header: 'Code', render: (r) => <strong>{r.code}</strong> },
            { key: 'name', header: 'Name' },
            { key: 'timezone', header: 'Time zone' },
          ]}
          fields={[
            { name: 'code', label: 'Code', required: true, hint: CODE_HINT },
            { name: 'name', label: 'Name', required: true },
            { name: 'timezone', label: 'Time zone', hint: 'IANA name, e.g. Europe/Berlin' },
          ]}
        />
      ) : null}
      {tab === 'lines' ? (
        <EntityManager<Line>
          key="lines"
          noun="line"
          canWrite={canWrite}
          load={() => api.lines.list()}
          create={(b) => api.lines.create(b)}
          update={(id, b) => api.lines.update(id, b)}
          remove={(id) => api.lines.remove(id)}
          searchText={(r) => `${r.code} ${r.name} ${siteCode(r.siteId)}`}
          columns={[
            { key: 'code', header: 'Code', render: (r) => <strong>{r.code}</strong> },
            { key: 'name', header: 'Name' },
            { key: 'site', header: 'Site', render: (r) => siteCode(r.siteId) },
          ]}
          fields={[
            { name: 'siteId', label: 'Site', type: 'select', numeric: true, required: true, options: sites.map((s) => ({ value: String(s.id), label: `${s.code} — ${s.name}` })) },
            { name: 'code', label: 'Code', required: true, hint: CODE_HINT },
            { name: 'name', label: 'Name', required: true },
          ]}
        />
      ) : null}
      {tab === 'stations' ? (
        <EntityManager<Station>
          key="stations"
          noun="station"
          canWrite={canWrite}
          load={() => api.stations.list()}
          create={(b) => api.stations.create(b)}
          update={(id, b) => api.stations.update(id, b)}
          remove={(id) => api.stations.remove(id)}
          defaults={{ type: 'placement', seq: 0 }}
          searchText={(r) => `${r.code} ${r.name} ${r.type} ${lineCode(r.lineId)}`}
          testId="stations"
          columns={[
            { key: 'line', header: 'Line', render: (r) => lineCode(r.lineId) || <span className="muted">none</span> },
            { key: 'seq', header: 'Order', align: 'right' },
            { key: 'code', header: 'Code', render: (r) => <strong>{r.code}</strong> },
            { key: 'name', header: 'Name' },
            { key: 'type', header: 'Type', render: (r) => <Badge tone="info">{r.type}</Badge> },
          ]}
          fields={[
            { name: 'lineId', label: 'Line', type: 'select', numeric: true, emptyAs: null, emptyLabel: 'No line (off-line station)', options: lines.map((l) => ({ value: String(l.id), label: `${l.code} — ${l.name}` })) },
            { name: 'code', label: 'Code', required: true, hint: CODE_HINT },
            { name: 'name', label: 'Name', required: true },
            { name: 'type', label: 'Type', type: 'select', required: true, options: STATION_TYPES },
            { name: 'seq', label: 'Order on the line', type: 'number', min: 0 },
          ]}
        />
      ) : null}
      {tab === 'equipment' ? (
        <EntityManager<Equipment>
          key="equipment"
          noun="machine"
          canWrite={canWrite}
          load={() => api.equipment.list()}
          create={(b) => api.equipment.create(b)}
          update={(id, b) => api.equipment.update(id, b)}
          remove={(id) => api.equipment.remove(id)}
          defaults={{ lanes: 1 }}
          searchText={(r) => `${r.code} ${r.name} ${r.vendor ?? ''} ${r.model ?? ''} ${r.cfxHandle ?? ''} ${stationCode(r.stationId)}`}
          columns={[
            { key: 'station', header: 'Station', render: (r) => stationCode(r.stationId) },
            { key: 'code', header: 'Code', render: (r) => <strong>{r.code}</strong> },
            { key: 'name', header: 'Name' },
            { key: 'vendor', header: 'Vendor / model', render: (r) => [r.vendor, r.model].filter(Boolean).join(' ') },
            { key: 'cfxHandle', header: 'CFX handle', render: (r) => (r.cfxHandle ? <code>{r.cfxHandle}</code> : '') },
            { key: 'lanes', header: 'Lanes', align: 'right' },
          ]}
          fields={[
            { name: 'stationId', label: 'Station', type: 'select', numeric: true, required: true, options: stations.map((s) => ({ value: String(s.id), label: `${s.code} — ${s.name}` })) },
            { name: 'code', label: 'Code', required: true, hint: CODE_HINT },
            { name: 'name', label: 'Name', required: true },
            { name: 'vendor', label: 'Vendor', emptyAs: null },
            { name: 'model', label: 'Model', emptyAs: null },
            { name: 'serialNumber', label: 'Serial number', emptyAs: null },
            { name: 'cfxHandle', label: 'CFX handle', emptyAs: null, placeholder: 'Vendor.Model.Serial' },
            { name: 'lanes', label: 'Lanes', type: 'number', min: 1, max: 8 },
          ]}
        />
      ) : null}
    </>
  );
}
