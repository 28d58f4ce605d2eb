import { useEffect, useState } from 'react';
import type { ApiError } from '../../api.ts';
import { DataTable } from '../../components/DataTable.tsx';
import { ErrorPanel } from '../../components/ErrorPanel.tsx';
import { Button, Field, KeyValues, Loading, Notice, PageHeader, Panel, formatDateTime } from '../../components/ui.tsx';
import { Verdict } from '../../components/Verdict.tsx';
import type { ScreenProps } from '../../app/registry.ts';
import { useAction, useQuery } from '../../hooks.ts';
import { Link } from '../../router.tsx';
import { useCan } from '../../session.tsx';
import { QUALITY_ROLES, qualityApi, type NcrDetail, type NcrUnit } from './api.ts';
import { DispositionForm, NcrUnitBadge, QBadge, SignedAction, splitSerials } from './common.tsx';

const TEXT_FIELDS = [
  ['description', 'Description'],
  ['containment', 'Containment'],
  ['rootCause', 'Root cause'],
  ['correctiveAction', 'Corrective action'],
  ['repairInstructions', 'Repair instructions'],
] as const;
type TextKey = (typeof TEXT_FIELDS)[number][0];

function Investigation({ ncr, canEdit, onSaved }: { ncr: NcrDetail; canEdit: boolean; onSaved(n: NcrDetail): void }) {
  const [v, setV] = useState<Record<TextKey, string>>(() => Object.fromEntries(TEXT_FIELDS.map(([k]) => [k, ncr[k] ?? ''])) as Record<TextKey, string>);
  useEffect(() => setV(Object.fromEntries(TEXT_FIELDS.map(([k]) => [k, ncr[k] ?? ''])) as Record<TextKey, string>), [ncr]);
  const [save, state] = useAction(async () => {
    const patch: Partial<Record<TextKey, string>> = {};
    for (const [k] of TEXT_FIELDS) if (v[k] !== (ncr[k] ?? '')) patch[k] = v[k];
    onSaved(await qualityApi.updateNcr(ncr.id, patch));
  });
  const editable = canEdit && ncr.state === 'open';
  const dirty = TEXT_FIELDS.some(([k]) => v[k] !== (ncr[k] ?? ''));
  return (
    <Panel title="Investigation">
      {editable ? (
        <form
          className="record-form"
          onSubmit={(e) => {
            e.preventDefault();
            void save();
          }}
        >
          <div className="form-grid">
            {TEXT_FIELDS.map(([k, label]) => (
              <Field key={k} label={label} wide>
                <textarea rows={2} value={v[k]} onChange={(e) => setV((s) => ({ ...s, [k]: e.target.value }))} />
              </Field>
            ))}
          </div>
          <ErrorPanel error={state.error} />
          <div className="form-actions">
            <Button type="submit" variant="primary" busy={state.busy} disabled={!dirty}>
              Save investigation
            </Button>
          </div>
        </form>
      ) : (
        <KeyValues items={TEXT_FIELDS.map(([k, label]) => [label, <span className="text-block">{ncr[k]}</span>])} />
      )}
    </Panel>
  );
}

function ReworkForm({ ncr, onDone }: { ncr: NcrDetail; onDone(msg: string): void }) {
  const [v, setV] = useState({ serial: ncr.units[0]?.serial ?? '', action: '', refdes: '', newPackage: '', removedPackage: '', verifyStepSeq: '' });
  const set = (k: keyof typeof v, s: string) => setV((x) => ({ ...x, [k]: s }));
  const [run, state] = useAction(async () => {
    const r = await qualityApi.rework({
      serial: v.serial, action: v.action.trim(), ncrId: ncr.id, ...(v.refdes.trim() ? { refdes: v.refdes.trim() } : {}), ...(v.newPackage.trim() ? { newPackage: v.newPackage.trim() } : {}),
      ...(v.removedPackage.trim() ? { removedPackage: v.removedPackage.trim() } : {}), ...(v.verifyStepSeq ? { verifyStepSeq: Number(v.verifyStepSeq) } : {}),
    });
    onDone(`Rework recorded on ${r.serial}; verified when step ${r.verifyStepSeq} passes again`);
  });
  return (
    <form
      className="record-form"
      onSubmit={(e) => {
        e.preventDefault();
        void run();
      }}
    >
      <h3 className="form-title">Record a rework action</h3>
      <div className="form-grid">
        <Field label="Unit" required>
          <select value={v.serial} onChange={(e) => set('serial', e.target.value)}>
            {ncr.units.map((u) => (
              <option key={u.unitId} value={u.serial}>
                {u.serial}
              </option>
            ))}
          </select>
        </Field>
        <Field label="What was done" required wide>
          <input value={v.action} onChange={(e) => set('action', e.target.value)} />
        </Field>
        <Field label="Reference designator">
          <input value={v.refdes} onChange={(e) => set('refdes', e.target.value)} />
        </Field>
        <Field label="New component from package">
          <input value={v.newPackage} onChange={(e) => set('newPackage', e.target.value)} />
        </Field>
        <Field label="Removed component's package">
          <input value={v.removedPackage} onChange={(e) => set('removedPackage', e.target.value)} />
        </Field>
        <Field label="Verification step" hint="Default: where the route returns the unit">
          <input type="number" min={1} value={v.verifyStepSeq} onChange={(e) => set('verifyStepSeq', e.target.value)} />
        </Field>
      </div>
      <ErrorPanel error={state.error} />
      <div className="form-actions">
        <Button type="submit" busy={state.busy} disabled={!v.serial || v.action.trim().length < 3}>
          Record rework
        </Button>
      </div>
    </form>
  );
}

/** One NCR: investigation, linked units with their status, dispositions, rework, signed closure. */
export function NcrPage({ params }: ScreenProps) {
  const id = Number(params.id);
  const q = useQuery(() => qualityApi.ncr(id), [id]);
  const [ncr, setNcr] = useState<NcrDetail | undefined>();
  useEffect(() => setNcr(q.data), [q.data]);
  const canEdit = useCan(QUALITY_ROLES.quality);
  const canRepair = useCan(QUALITY_ROLES.repair);
  const canSign = useCan(QUALITY_ROLES.signer);
  const [notice, setNotice] = useState<string | null>(null);
  const [refusal, setRefusal] = useState<ApiError | null>(null);
  const [disposing, setDisposing] = useState<string | null>(null);
  const [serials, setSerials] = useState('');
  const [link, linkState] = useAction(async () => {
    setNcr(await qualityApi.linkUnits(id, splitSerials(serials)));
    setSerials('');
    setNotice('Units linked');
  });
  const done = (msg: string) => {
    setNotice(msg);
    setDisposing(null);
    setRefusal(null);
    q.reload();
  };

  if (!ncr) return q.error ? <ErrorPanel error={q.error} /> : <Loading />;
  const open = ncr.state === 'open';
  const openUnits = ncr.units.filter((u) => u.status === 'open' || u.status === 'repaired');
  const refusedUnits = (refusal?.details?.openUnits as { serial: string; status: string }[] | undefined) ?? [];
  return (
    <>
      <PageHeader
        title={
          <>
            {ncr.number} · {ncr.title} <QBadge state={ncr.state} />
          </>
        }
        subtitle={
          <>
            <Link to="/quality/ncrs">NCRs</Link> · raised against {ncr.subjectKind.replace('_', ' ')} by {ncr.createdBy} on {formatDateTime(ncr.createdAt)}
            {ncr.closedAt ? ` · closed by ${ncr.closedBy} on ${formatDateTime(ncr.closedAt)} (signed)` : ''}
          </>
        }
        actions={
          open && canEdit ? (
            <SignedAction
              label="Close NCR"
              title={`Close ${ncr.number}`}
              meanings={['closed']}
              sign={(s) => qualityApi.closeNcr(id, s)}
              refusalCodes={['NCR_NOT_CLOSABLE']}
              onRefused={(e) => (setRefusal(e), setNotice(null))}
              onDone={(n) => {
                setNcr(n);
                setRefusal(null);
                setNotice(`${n.number} closed and signed`);
              }}
            >
              Closing needs every linked unit verified, scrapped or accepted ({ncr.units.length - openUnits.length} of {ncr.units.length} are).
            </SignedAction>
          ) : null
        }
      />
      {notice ? <Notice onClose={() => setNotice(null)}>{notice}</Notice> : null}
      {refusal ? (
        <Verdict kind="nogo" title="NCR not closed" reason={refusedUnits.length ? `${refusedUnits.length} linked unit${refusedUnits.length === 1 ? " is" : "s are"} not verified, scrapped or accepted yet:` : refusal.detail} code={refusal.code}>
          {refusedUnits.length ? (
            <ol className="blockers" data-testid="ncr-open-units">
              {refusedUnits.map((u) => (
                <li key={u.serial} data-code={u.status}>
                  <span className="blocker-message">{u.serial}</span>
                  <span className="blocker-meta">{u.status === 'open' ? 'no repair or disposition yet' : 'repair not verified yet'}</span>
                </li>
              ))}
            </ol>
          ) : null}
        </Verdict>
      ) : null}
      {!open ? <Verdict kind="go" size="compact" title="Closed" reason={`Closed by ${ncr.closedBy} on ${formatDateTime(ncr.closedAt)}, signed (signature ${ncr.closeSignatureId}).`} /> : null}
      <Panel
        title={`${ncr.units.length} linked unit${ncr.units.length === 1 ? '' : 's'} · ${openUnits.length} open`}
      >
        <ErrorPanel error={linkState.error} onClose={linkState.clearError} />
        <DataTable<NcrUnit>
          testId="ncr-units"
          rows={ncr.units}
          rowKey={(u) => u.unitId}
          rowTestId={(u) => `ncr-unit-${u.serial}`}
          empty="No unit linked."
          expanded={(u) => (disposing === u.serial ? <DispositionForm serial={u.serial} ncrId={ncr.id} canSign={canSign} onDone={done} needsVerifyStep={u.unitStatus !== 'failed'} /> : null)}
          columns={[
            { key: 'serial', header: 'Serial', render: (u) => <strong className="mono">{u.serial}</strong> },
            { key: 'unitStatus', header: 'Unit status' },
            { key: 'status', header: 'For this NCR', render: (u) => <NcrUnitBadge status={u.status} /> },
            { key: 'linkedAt', header: 'Linked', render: (u) => formatDateTime(u.linkedAt) },
            {
              key: 'act', header: '', align: 'right',
              render: (u) =>
                open && canRepair && (u.status === 'open' || u.status === 'repaired') ? (
                  <Button variant="ghost" onClick={() => setDisposing(disposing === u.serial ? null : u.serial)}>
                    {disposing === u.serial ? 'Cancel' : 'Disposition…'}
                  </Button>
                ) : null,
            },
          ]}
        />
        {open && canEdit ? (
          <form
            className="toolbar link-units"
            onSubmit={(e) => {
              e.preventDefault();
              void link();
            }}
          >
            <Field label="Link more units" hint="Serials separated by spaces or commas">
              <input value={serials} onChange={(e) => setSerials(e.target.value)} />
            </Field>
            <Button type="submit" busy={linkState.busy} disabled={!splitSerials(serials).length}>
              Link units
            </Button>
          </form>
        ) : null}
      </Panel>
      <Investigation ncr={ncr} canEdit={canEdit} onSaved={(n) => (setNcr(n), setNotice('Investigation saved'))} />
      <Panel title="Dispositions">
        <DataTable
          rows={ncr.dispositions}
          rowKey={(d) => d.id}
          empty="No disposition yet."
          columns={[
            { key: 'serial', header: 'Serial' },
            { key: 'decision', header: 'Decision' },
            { key: 'reason', header: 'Reason' },
            { key: 'verified', header: 'Verified', render: (d) => (d.verified === null ? '—' : d.verified ? 'yes' : 'not yet') },
            { key: 'signatureId', header: 'Signed', render: (d) => (d.signatureId ? 'yes' : '') },
            { key: 'createdAt', header: 'When', render: (d) => `${formatDateTime(d.createdAt)} · ${d.createdBy}` },
          ]}
        />
      </Panel>
      <Panel title="Rework actions">
        <DataTable
          rows={ncr.rework}
          rowKey={(r) => r.id}
          empty="No rework recorded."
          columns={[
            { key: 'serial', header: 'Serial' },
            { key: 'action', header: 'Action' },
            { key: 'refdes', header: 'Refdes' },
            { key: 'newPackageCode', header: 'New package' },
            { key: 'verified', header: 'Verified', render: (r) => (r.verified ? 'yes' : `when step ${r.verifyStepSeq} passes`) },
            { key: 'performedAt', header: 'When', render: (r) => `${formatDateTime(r.performedAt)} · ${r.recordedBy}` },
          ]}
        />
        {open && canRepair && ncr.units.length ? <ReworkForm ncr={ncr} onDone={done} /> : null}
      </Panel>
    </>
  );
}
