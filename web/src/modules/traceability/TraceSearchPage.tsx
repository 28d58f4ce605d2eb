import { useState } from 'react';
import { ErrorPanel } from '../../components/ErrorPanel.tsx';
import { ScanInput } from '../../components/ScanInput.tsx';
import { Button, Notice, PageHeader, Panel } from '../../components/ui.tsx';
import { useAction } from '../../hooks.ts';
import { navigate } from '../../router.tsx';
import { traceApi, type LookupMatch } from './api.ts';
import './trace.css';

const KIND_LABEL: Record<LookupMatch['kind'], string> = {
  unit: 'Unit', panel: 'Panel', lot: 'Production lot', package: 'Material package', material_lot: 'Supplier lot', mpn: 'Manufacturer part number',
};

/** Where a match leads: genealogy for units, panels and lots; where-used for material. */
export function targetOf(m: LookupMatch): string {
  const e = encodeURIComponent;
  switch (m.kind) {
    case 'unit': return `/trace/units/${e(m.key)}`;
    case 'panel': return `/trace/panels/${e(m.key)}`;
    case 'lot': return `/trace/lots/${e(m.key)}`;
    case 'package': return `/where-used?kind=package&package=${e(m.key)}`;
    case 'material_lot': return `/where-used?kind=material_lot&materialLotId=${m.id}`;
    case 'mpn': return `/where-used?kind=mpn&mpn=${e(m.key)}`;
  }
}

/** One search box: a serial, panel ID, lot code, package ID or MPN; several matches → a choice. */
export function TraceSearchPage() {
  const [matches, setMatches] = useState<{ text: string; list: LookupMatch[] } | null>(null);
  const [search, state] = useAction(async (text: string) => {
    const list = await traceApi.lookup(text);
    if (list.length === 1) navigate(targetOf(list[0]!));
    else setMatches({ text, list });
  });
  return (
    <div>
      <PageHeader title="Trace" subtitle="Scan or type a unit serial, panel ID, lot code, package ID or manufacturer part number" />
      <Panel>
        <ScanInput label="Search" onScan={(t) => void search(t)} holdFocus={false} id="trace-search" placeholder="Serial, panel, lot, package or MPN, then Enter" />
        <ErrorPanel error={state.error} />
        {matches && matches.list.length === 0 ? <Notice tone="warn">Nothing is known as “{matches.text}”.</Notice> : null}
        {matches && matches.list.length > 1 ? (
          <div className="trace-choices" data-testid="trace-choices">
            <p>“{matches.text}” names several records. Which one?</p>
            {matches.list.map((m) => (
              <Button key={`${m.kind}-${m.id ?? m.key}`} onClick={() => navigate(targetOf(m))}>
                {KIND_LABEL[m.kind]}: {m.key} <span className="muted">· {m.label}</span>
              </Button>
            ))}
          </div>
        ) : null}
      </Panel>
    </div>
  );
}
