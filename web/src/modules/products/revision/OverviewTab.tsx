import { useState } from 'react';
import { api, type ProductRevision } from '../../../api.ts';
import { RecordForm, initialValues, toBody, type FieldSpec } from '../../../components/RecordForm.tsx';
import { Button, KeyValues, Panel, formatDateTime } from '../../../components/ui.tsx';
import { useAction } from '../../../hooks.ts';
import { Link } from '../../../router.tsx';

const ENG_FIELDS: FieldSpec[] = [
  { name: 'bomRevision', label: 'BOM revision' },
  { name: 'gerberRevision', label: 'Gerber revision' },
  { name: 'assemblyDrawingRevision', label: 'Assembly drawing revision' },
  { name: 'centroidRevision', label: 'Centroid revision' },
];

export function OverviewTab({ rev, editable, onChanged }: { rev: ProductRevision; editable: boolean; onChanged(): void }) {
  const [editing, setEditing] = useState(false);
  const [save, state] = useAction(async (v: Record<string, string | boolean>) => {
    await api.revisions.update(rev.id, toBody(ENG_FIELDS, v, { onlyChanged: initialValues(ENG_FIELDS, rev as unknown as Record<string, unknown>) }));
    setEditing(false);
    onChanged();
  });
  return (
    <Panel title="Engineering package" actions={editable && !editing ? <Button onClick={() => setEditing(true)}>Edit</Button> : undefined}>
      {editing ? (
        <RecordForm fields={ENG_FIELDS} initial={initialValues(ENG_FIELDS, rev as unknown as Record<string, unknown>)} submitLabel="Save" onSubmit={save} onCancel={() => setEditing(false)} busy={state.busy} error={state.error} />
      ) : (
        <KeyValues
          items={[
            ['Product', rev.productCode],
            ['Revision', rev.revision],
            ['State', rev.state],
            ['BOM revision', rev.bomRevision],
            ['Gerber revision', rev.gerberRevision],
            ['Assembly drawing revision', rev.assemblyDrawingRevision],
            ['Centroid revision', rev.centroidRevision],
            ['Created', formatDateTime(rev.createdAt)],
            ['Released', rev.releasedAt ? `${formatDateTime(rev.releasedAt)} by ${rev.releasedBy}` : ''],
            ['Derived from', rev.derivedFromId ? <Link to={`/revisions/${rev.derivedFromId}`}>revision #{rev.derivedFromId}</Link> : ''],
            ['Change reason', rev.changeReason ?? ''],
          ]}
        />
      )}
    </Panel>
  );
}
