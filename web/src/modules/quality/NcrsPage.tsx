import { useState } from 'react';
import { DataTable } from '../../components/DataTable.tsx';
import { ErrorPanel } from '../../components/ErrorPanel.tsx';
import { Button, Field, Loading, PageHeader, Panel, formatDateTime } from '../../components/ui.tsx';
import { useAction, useQuery } from '../../hooks.ts';
import { navigate } from '../../router.tsx';
import { useCan } from '../../session.tsx';
import { QUALITY_ROLES, qualityApi, type Ncr } from './api.ts';
import { QBadge, splitSerials } from './common.tsx';

type SubjectKind = 'unit' | 'lot' | 'work_order' | 'material_lot';

/** NCRs: the list (open first) and raising a new one against a unit, lot, work order or material lot. */
export function NcrsPage() {
  const canCreate = useCan(QUALITY_ROLES.quality);
  const [state, setState] = useState<'open' | 'closed' | ''>('open');
  const q = useQuery(() => qualityApi.ncrs({ state: state || undefined, limit: 500 }), [state]);
  const [adding, setAdding] = useState(false);
  const [kind, setKind] = useState<SubjectKind>('unit');
  const [v, setV] = useState({ title: '', subject: '', description: '', containment: '', serials: '', linkAll: false });
  const set = (k: keyof typeof v, val: string | boolean) => setV((s) => ({ ...s, [k]: val }));
  const [create, createState] = useAction(async () => {
    const subj = v.subject.trim();
    const subject =
      kind === 'unit' ? { kind, serial: subj } as const : kind === 'lot' ? { kind, lot: subj } as const : kind === 'work_order' ? { kind, workOrder: subj } as const : { kind, materialLotId: Number(subj) } as const;
    const n = await qualityApi.createNcr({
      title: v.title.trim(), subject, ...(v.description.trim() ? { description: v.description.trim() } : {}), ...(v.containment.trim() ? { containment: v.containment.trim() } : {}),
      ...(splitSerials(v.serials).length ? { serials: splitSerials(v.serials) } : {}), ...(kind !== 'unit' && v.linkAll ? { linkSubjectUnits: true } : {}),
    });
    navigate(`/quality/ncrs/${n.id}`);
  });
  return (
    <>
      <PageHeader
        title="Nonconformance reports"
        subtitle="Containment, root cause, corrective action and rework; an NCR closes with a signature once every linked unit is verified, scrapped or accepted."
        actions={canCreate ? <Button variant="primary" onClick={() => setAdding(true)}>New NCR</Button> : null}
      />
      {adding ? (
        <Panel title="New NCR">
          <form
            className="record-form"
            onSubmit={(e) => {
              e.preventDefault();
              void create();
            }}
          >
            <div className="form-grid">
              <Field label="Title" required wide>
                <input value={v.title} onChange={(e) => set('title', e.target.value)} />
              </Field>
              <Field label="Raised against" required>
                <select value={kind} onChange={(e) => setKind(e.target.value as SubjectKind)}>
                  <option value="unit">a unit (serial)</option>
                  <option value="lot">a production lot (code)</option>
                  <option value="work_order">a work order (number)</option>
                  <option value="material_lot">a material lot (id)</option>
                </select>
              </Field>
              <Field label={kind === 'unit' ? 'Serial' : kind === 'lot' ? 'Lot code' : kind === 'work_order' ? 'Work order' : 'Material lot id'} required>
                <input value={v.subject} onChange={(e) => set('subject', e.target.value)} />
              </Field>
              {kind !== 'unit' ? (
                <div className="field-checkbox">
                  <label className="checkbox">
                    <input type="checkbox" checked={v.linkAll} onChange={(e) => set('linkAll', e.target.checked)} />
                    <span>Link every unit of it</span>
                  </label>
                </div>
              ) : null}
              <Field label="Description" wide>
                <textarea rows={3} value={v.description} onChange={(e) => set('description', e.target.value)} />
              </Field>
              <Field label="Containment" wide>
                <textarea rows={2} value={v.containment} onChange={(e) => set('containment', e.target.value)} />
              </Field>
              <Field label="Further affected units" hint="Serials separated by spaces, commas or new lines" wide>
                <textarea rows={2} value={v.serials} onChange={(e) => set('serials', e.target.value)} />
              </Field>
            </div>
            <ErrorPanel error={createState.error} />
            <div className="form-actions">
              <Button type="submit" variant="primary" busy={createState.busy}>
                Raise NCR
              </Button>
              <Button variant="ghost" onClick={() => setAdding(false)}>
                Cancel
              </Button>
            </div>
          </form>
        </Panel>
      ) : null}
      <Panel
        title={q.data ? `${q.data.length} NCR${q.data.length === 1 ? '' : 's'}` : undefined}
        actions={
          <select value={state} onChange={(e) => setState(e.target.value as typeof state)} aria-label="State">
            <option value="open">open</option>
            <option value="closed">closed</option>
            <option value="">all</option>
          </select>
        }
      >
        <ErrorPanel error={q.error} />
        {q.loading && !q.data ? (
          <Loading />
        ) : (
          <DataTable<Ncr>
            testId="ncrs"
            rows={q.data}
            rowKey={(n) => n.id}
            onRowClick={(n) => navigate(`/quality/ncrs/${n.id}`)}
            empty="No NCR."
            columns={[
              { key: 'number', header: 'NCR', render: (n) => <strong>{n.number}</strong> },
              { key: 'title', header: 'Title' },
              { key: 'subjectKind', header: 'Against', render: (n) => n.subjectKind.replace('_', ' ') },
              { key: 'state', header: 'State', render: (n) => <QBadge state={n.state} /> },
              { key: 'createdAt', header: 'Raised', render: (n) => `${formatDateTime(n.createdAt)} · ${n.createdBy}` },
            ]}
          />
        )}
      </Panel>
    </>
  );
}
