import { api, MSL_LEVELS, type Part } from '../../api.ts';
import { EntityManager } from '../../components/EntityManager.tsx';
import { Badge, PageHeader } from '../../components/ui.tsx';
import { R } from '../../roles.ts';
import { Link } from '../../router.tsx';
import { useCan } from '../../session.tsx';

export function PartsPage() {
  const canWrite = useCan(R.masterDataWrite);
  return (
    <>
      <PageHeader
        title="Parts"
        subtitle={
          <>
            Internal part numbers (IPN) with package and moisture sensitivity. Approved manufacturer parts are on the <Link to="/avl">AVL</Link>.
          </>
        }
      />
      <EntityManager<Part>
        noun="part"
        canWrite={canWrite}
        load={() => api.parts.list()}
        create={(b) => api.parts.create(b)}
        update={(id, b) => api.parts.update(id, b)}
        remove={(id) => api.parts.remove(id)}
        defaults={{ mslLevel: '1', placed: true }}
        searchText={(r) => `${r.ipn} ${r.description} ${r.package ?? ''}`}
        testId="parts"
        columns={[
          { key: 'ipn', header: 'IPN', render: (r) => <Link to={`/avl?ipn=${encodeURIComponent(r.ipn)}`}><strong>{r.ipn}</strong></Link> },
          { key: 'description', header: 'Description' },
          { key: 'package', header: 'Package' },
          { key: 'mslLevel', header: 'MSL', render: (r) => (r.mslLevel === '1' ? '1' : <Badge tone="warn">MSL {r.mslLevel}</Badge>) },
          { key: 'placed', header: 'Placed', render: (r) => (r.placed ? 'yes' : <span className="muted">not placed</span>) },
        ]}
        fields={[
          { name: 'ipn', label: 'IPN', required: true },
          { name: 'description', label: 'Description', wide: true },
          { name: 'package', label: 'Package', emptyAs: null, placeholder: '0402, QFN-32…' },
          { name: 'mslLevel', label: 'MSL level', type: 'select', required: true, options: MSL_LEVELS },
          { name: 'placed', label: 'Placed by the line (not a label, screw or bare PCB)', type: 'checkbox', wide: true },
        ]}
      />
    </>
  );
}
