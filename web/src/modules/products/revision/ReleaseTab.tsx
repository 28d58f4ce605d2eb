import { useState } from 'react';
import { api, type FieldError, type ProductRevision } from '../../../api.ts';
import { ErrorPanel } from '../../../components/ErrorPanel.tsx';
import { RecordForm, initialValues, toBody, type FieldSpec } from '../../../components/RecordForm.tsx';
import { Button, Loading, Panel, formatDateTime } from '../../../components/ui.tsx';
import { Verdict } from '../../../components/Verdict.tsx';
import { useAction, useQuery } from '../../../hooks.ts';
import { R } from '../../../roles.ts';
import { Link, navigate } from '../../../router.tsx';
import { useCan } from '../../../session.tsx';

/** Which tab fixes a blocker, from the blocker's field (bom/line 3, route, programs/X, qualityPlan/...). */
function tabFor(b: FieldError): { tab: string; label: string } | null {
  const f = b.field.toLowerCase();
  if (f.startsWith('bom')) return { tab: 'bom', label: 'BOM' };
  if (f.startsWith('route')) return { tab: 'route', label: 'Route' };
  if (f.startsWith('programs')) return { tab: 'programs', label: 'Programs' };
  if (f.startsWith('qualityplan')) return { tab: 'quality', label: 'Quality plan' };
  return null;
}

export function BlockerList({ blockers, revId }: { blockers: FieldError[]; revId: number }) {
  return (
    <ol className="blockers" data-testid="blockers">
      {blockers.map((b, i) => {
        const t = tabFor(b);
        return (
          <li key={i} data-code={b.code}>
            <span className="blocker-message">{b.message}</span>
            <span className="blocker-meta">
              <code>{b.code}</code> · {b.field}
              {t ? (
                <>
                  {' '}
                  · <Link to={`/revisions/${revId}/${t.tab}`}>open {t.label}</Link>
                </>
              ) : null}
            </span>
          </li>
        );
      })}
    </ol>
  );
}

const DERIVE_FIELDS: FieldSpec[] = [
  { name: 'revision', label: 'New revision', required: true, placeholder: 'B' },
  { name: 'reason', label: 'Reason for the change', required: true, wide: true },
];

function LifecycleActions({ rev, onChanged }: { rev: ProductRevision; onChanged(): void }) {
  const canWrite = useCan(R.masterDataWrite);
  const [mode, setMode] = useState<'none' | 'derive' | 'obsolete'>('none');
  const [derive, deriveState] = useAction(async (v: Record<string, string | boolean>) => {
    const b = toBody(DERIVE_FIELDS, v) as { revision: string; reason: string };
    const next = await api.revisions.derive(rev.id, b.revision, b.reason);
    navigate(`/revisions/${next.id}`);
  });
  const [obsolete, obsoleteState] = useAction(async (v: Record<string, string | boolean>) => {
    await api.revisions.obsolete(rev.id, String(v.reason ?? '').trim());
    setMode('none');
    onChanged();
  });
  if (!canWrite) return null;
  return (
    <Panel title="Change">
      {mode === 'none' ? (
        <div className="form-actions">
          <Button variant="primary" onClick={() => setMode('derive')}>
            Derive a new revision…
          </Button>
          {rev.state === 'released' ? (
            <Button variant="danger" onClick={() => setMode('obsolete')}>
              Mark obsolete…
            </Button>
          ) : null}
        </div>
      ) : null}
      {mode === 'derive' ? (
        <RecordForm
          title="Derive a new draft revision (copies BOM, route, programs, quality plan and files)"
          fields={DERIVE_FIELDS}
          initial={initialValues(DERIVE_FIELDS)}
          submitLabel="Derive revision"
          onSubmit={derive}
          onCancel={() => setMode('none')}
          busy={deriveState.busy}
          error={deriveState.error}
        />
      ) : null}
      {mode === 'obsolete' ? (
        <RecordForm
          title="Mark this revision obsolete: it can no longer be built"
          fields={[{ name: 'reason', label: 'Reason', required: true, wide: true }]}
          initial={{ reason: '' }}
          submitLabel="Mark obsolete"
          onSubmit={obsolete}
          onCancel={() => setMode('none')}
          busy={obsoleteState.busy}
          error={obsoleteState.error}
        />
      ) : null}
    </Panel>
  );
}

/**
 * Release of a draft revision: what still blocks it, listed one by one; the release itself,
 * which the server refuses with the same list if anything changed meanwhile.
 */
export function ReleaseTab({ rev, onChanged }: { rev: ProductRevision; onChanged(): void }) {
  const canWrite = useCan(R.masterDataWrite);
  const check = useQuery(() => (rev.state === 'draft' ? api.revisions.releaseCheck(rev.id) : Promise.resolve(null)), [rev.id, rev.state]);
  const [release, releaseState] = useAction(async () => {
    await api.revisions.release(rev.id);
    onChanged();
  });

  if (rev.state !== 'draft') {
    return (
      <>
        {rev.state === 'released' ? (
          <Verdict kind="go" title="Released" reason={`${rev.productCode} revision ${rev.revision} was released ${formatDateTime(rev.releasedAt)} by ${rev.releasedBy}. It is frozen and can be built.`} />
        ) : (
          <Verdict kind="warn" title="Obsolete" reason={`${rev.productCode} revision ${rev.revision} is obsolete and can no longer be built.`} />
        )}
        <LifecycleActions rev={rev} onChanged={onChanged} />
      </>
    );
  }
  if (check.error) return <ErrorPanel error={check.error} />;
  if (!check.data) return <Loading what="Checking" />;
  const { releasable, blockers } = check.data;
  const refused = releaseState.error;
  return (
    <>
      {refused ? (
        <Verdict kind="nogo" title="Release refused" reason={refused.detail} code={refused.code}>
          {refused.errors.length ? <BlockerList blockers={refused.errors} revId={rev.id} /> : null}
        </Verdict>
      ) : releasable ? (
        <Verdict kind="go" title="Ready to release" reason={`Nothing blocks the release of ${rev.productCode} revision ${rev.revision}.`}>
          {canWrite ? (
            <Button variant="primary" className="btn-xl" busy={releaseState.busy} onClick={() => void release()}>
              Release revision {rev.revision}
            </Button>
          ) : (
            <span>A process engineer or administrator releases it.</span>
          )}
        </Verdict>
      ) : (
        <Verdict
          kind="nogo"
          title="Cannot be released"
          reason={`${blockers.length} ${blockers.length === 1 ? 'thing blocks' : 'things block'} the release of ${rev.productCode} revision ${rev.revision}:`}
        >
          <BlockerList blockers={blockers} revId={rev.id} />
        </Verdict>
      )}
      <div className="form-actions">
        <Button onClick={() => (releaseState.clearError(), check.reload())} busy={check.loading}>
          Check again
        </Button>
      </div>
    </>
  );
}
