import { useState, type ReactNode } from 'react';
import { isApiError, type ApiError } from '../../api.ts';
import { ErrorPanel } from '../../components/ErrorPanel.tsx';
import { SignatureDialog, type SignatureInput, type SignatureMeaning } from '../../components/SignatureDialog.tsx';
import { Badge, Button, Field, type Tone } from '../../components/ui.tsx';
import { useAction } from '../../hooks.ts';
import { Verdict } from '../../components/Verdict.tsx';
import { qualityApi, type Decision } from './api.ts';

const NCR_UNIT_TONE: Record<string, Tone> = { open: 'bad', repaired: 'warn', verified: 'good', scrapped: 'neutral', accepted: 'good' };
export function NcrUnitBadge({ status }: { status: string }) {
  return <Badge tone={NCR_UNIT_TONE[status] ?? 'neutral'}>{status}</Badge>;
}
const STATE_TONE: Record<string, Tone> = { open: 'warn', closed: 'good', acknowledged: 'info', active: 'bad', released: 'good' };
export function QBadge({ state }: { state: string }) {
  return <Badge tone={STATE_TONE[state] ?? 'neutral'}>{state}</Badge>;
}

/** Splits a pasted or scanned list of serials (spaces, commas, new lines). */
export function splitSerials(s: string): string[] {
  return [...new Set(s.split(/[\s,;]+/).map((x) => x.trim()).filter(Boolean))];
}

/**
 * A signed action: a button that opens the signature dialog; wrong passwords and other
 * refusals stay in the dialog, except the codes in `refusalCodes`, which close it and are
 * handed to `onRefused` (e.g. an NCR that cannot close yet shows its open units in a Verdict).
 */
export function SignedAction<R>({
  label, title, meanings, children, sign, onDone, onRefused, refusalCodes = [], variant = 'primary', disabled,
}: {
  label: string; title: ReactNode; meanings: readonly SignatureMeaning[]; children?: ReactNode; sign(s: SignatureInput): Promise<R>;
  onDone(r: R): void; onRefused?: (e: ApiError) => void; refusalCodes?: string[]; variant?: 'primary' | 'danger' | 'secondary'; disabled?: boolean;
}) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | undefined>();
  const run = async (s: SignatureInput) => {
    setBusy(true);
    setError(undefined);
    try {
      const r = await sign(s);
      setOpen(false);
      onDone(r);
    } catch (e) {
      if (isApiError(e) && refusalCodes.includes(e.code) && onRefused) {
        setOpen(false);
        onRefused(e);
      } else if (isApiError(e)) setError(e);
      else throw e;
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <Button variant={variant} onClick={() => (setError(undefined), setOpen(true))} disabled={disabled}>
        {label}
      </Button>
      {open ? (
        <SignatureDialog title={title} meanings={meanings} onSign={run} onCancel={() => setOpen(false)} busy={busy} error={error} submitLabel={`Sign — ${label}`}>
          {children}
        </SignatureDialog>
      ) : null}
    </>
  );
}

const DECISION_TEXT: Record<Decision, string> = {
  repair: 'Repair: to the repair step, then the failed step must pass again',
  retest: 'Retest: the failed step again',
  scrap: 'Scrap: the unit is scrapped (final)',
  'use-as-is': 'Use as is: accepted by the review board (signed by a quality engineer)',
};

/**
 * Disposition of one unit: repair, retest, scrap; use-as-is only for quality engineers, signed.
 * `ncrId` links the disposition to an NCR.
 */
export function DispositionForm({ serial, ncrId, canSign, onDone, needsVerifyStep }: { serial: string; ncrId?: number; canSign: boolean; onDone(message: string): void; needsVerifyStep?: boolean }) {
  const [decision, setDecision] = useState<Decision>('repair');
  const [reason, setReason] = useState('');
  const [instructions, setInstructions] = useState('');
  const [verifyStep, setVerifyStep] = useState('');
  const [sigOpen, setSigOpen] = useState(false);
  const body = (signature?: SignatureInput) => ({
    serial, decision, reason: reason.trim(), ...(instructions.trim() ? { instructions: instructions.trim() } : {}), ...(ncrId ? { ncrId } : {}),
    ...(verifyStep.trim() ? { verifyStepSeq: Number(verifyStep) } : {}), ...(signature ? { signature } : {}),
  });
  const [submit, state] = useAction(async (signature?: SignatureInput) => {
    const d = await qualityApi.dispose(body(signature));
    setSigOpen(false);
    onDone(`Unit ${d.serial}: ${d.decision}${d.signatureId ? ' (signed)' : ''}`);
    return d;
  });
  const decisions: Decision[] = canSign ? ['repair', 'retest', 'scrap', 'use-as-is'] : ['repair', 'retest', 'scrap'];
  return (
    <div className="subpanel" data-testid="disposition-form">
      <div className="form-grid">
        <Field label="Decision" required>
          <select value={decision} onChange={(e) => setDecision(e.target.value as Decision)} aria-label="Decision">
            {decisions.map((d) => (
              <option key={d} value={d}>
                {DECISION_TEXT[d]}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Reason" required wide>
          <input value={reason} onChange={(e) => setReason(e.target.value)} placeholder="Why (kept in the audit trail)" />
        </Field>
        {decision === 'repair' || decision === 'retest' ? (
          <>
            <Field label="Repair instructions" wide>
              <input value={instructions} onChange={(e) => setInstructions(e.target.value)} />
            </Field>
            <Field label="Verification step" hint={needsVerifyStep ? 'The route step whose pass verifies it (the unit has no failed step)' : 'Optional: default is the failed step'}>
              <input type="number" min={1} value={verifyStep} onChange={(e) => setVerifyStep(e.target.value)} />
            </Field>
          </>
        ) : null}
      </div>
      {!sigOpen ? <ErrorPanel error={state.error} /> : null}
      <div className="form-actions">
        <Button
          variant={decision === 'scrap' ? 'danger' : 'primary'}
          busy={state.busy}
          disabled={reason.trim().length < 3}
          onClick={() => (decision === 'use-as-is' ? (state.clearError(), setSigOpen(true)) : void submit())}
        >
          {decision === 'use-as-is' ? 'Sign use-as-is…' : `Disposition: ${decision}`}
        </Button>
      </div>
      {sigOpen ? (
        <SignatureDialog title={`Use unit ${serial} as is`} meanings={['accepted']} onSign={(s) => submit(s)} onCancel={() => setSigOpen(false)} busy={state.busy} error={state.error} submitLabel="Sign: accept as is">
          The unit continues after its failed step as if it had passed. Reason: <strong>{reason}</strong>
        </SignatureDialog>
      ) : null}
    </div>
  );
}

/** A refusal shown big, with the server's sentence and code. */
export function Refusal({ error, title = 'Refused' }: { error: ApiError | undefined; title?: string }) {
  if (!error) return null;
  return <Verdict kind="nogo" size="compact" title={title} reason={error.detail} code={error.code} />;
}
