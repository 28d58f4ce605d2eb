import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode, type RefObject } from 'react';
import type { ApiError } from '../api.ts';
import { useSession } from '../session.tsx';
import { ErrorPanel } from './ErrorPanel.tsx';
import { Button } from './ui.tsx';
import './office.css';

/** What the server's SignatureBody takes: re-entered password, meaning, reason. */
export interface SignatureInput {
  password: string;
  reason: string;
  meaning?: SignatureMeaning;
}
export type SignatureMeaning = 'approved' | 'rejected' | 'released' | 'closed' | 'accepted' | 'verified';

export interface SignatureDialogProps {
  /** What is being signed, e.g. "Close NCR-000012". */
  title: ReactNode;
  /** The meanings this action allows; the first is preselected. */
  meanings: readonly SignatureMeaning[];
  /** Extra text above the fields (what the signature applies to). */
  children?: ReactNode;
  /** Sends the signed request; a rejection (wrong password, refused action) is shown in the dialog. */
  onSign(signature: SignatureInput): Promise<unknown>;
  onCancel(): void;
  busy?: boolean;
  error?: ApiError | undefined;
  submitLabel?: string;
}

/**
 * The re-entered password of a signature: cleared and focused again when the server refuses the
 * signature (`error` changes), so a wrong password is never resent.
 */
export function useSignaturePassword(error: ApiError | undefined): { password: string; setPassword(p: string): void; ref: RefObject<HTMLInputElement | null> } {
  const [password, setPassword] = useState('');
  const ref = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (error) {
      setPassword('');
      ref.current?.focus();
    }
  }, [error]);
  return { password, setPassword, ref };
}

/** The password field of a signature (state from useSignaturePassword). */
export function SignaturePasswordField({ id, state, hint }: { id: string; state: ReturnType<typeof useSignaturePassword>; hint: string }) {
  return (
    <div className="field">
      <label className="field-label field-required" htmlFor={id}>
        Password
      </label>
      <input id={id} ref={state.ref} type="password" required autoComplete="current-password" value={state.password} onChange={(e) => state.setPassword(e.target.value)} />
      <span className="field-hint">{hint}</span>
    </div>
  );
}

/**
 * The frame every signature dialog shares: a modal form titled with the signature mark, the
 * server's refusal, the submit and cancel buttons; Escape cancels unless busy. The fields are the
 * caller's (`children`).
 */
export function SignatureFrame({ title, className, testId, onSubmit, onCancel, busy, error, submitLabel, submitClassName, canSubmit, children }: {
  title: ReactNode;
  className?: string;
  testId: string;
  onSubmit(): void;
  onCancel(): void;
  busy?: boolean | undefined;
  error?: ApiError | undefined;
  submitLabel: string;
  submitClassName?: string;
  canSubmit: boolean;
  children: ReactNode;
}) {
  const id = useId();
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && !busy && onCancel();
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [busy, onCancel]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onSubmit();
  };
  return (
    <div className="modal-backdrop">
      <form className={`modal signature${className ? ` ${className}` : ''}`} role="dialog" aria-modal="true" aria-labelledby={`${id}-t`} onSubmit={submit} data-testid={testId}>
        <h2 id={`${id}-t`} className="modal-title">
          <span className="signature-mark" aria-hidden="true">✍</span> {title}
        </h2>
        {children}
        <ErrorPanel error={error} />
        <div className="form-actions">
          <Button type="submit" variant="primary" {...(submitClassName ? { className: submitClassName } : {})} busy={busy} disabled={!canSubmit}>
            {submitLabel}
          </Button>
          <Button variant="ghost" onClick={onCancel} disabled={busy}>
            Cancel
          </Button>
        </div>
      </form>
    </div>
  );
}

/**
 * An electronic signature (21 CFR Part 11): the signer sees their printed name, chooses the
 * meaning, gives a reason and re-enters the password at the moment of signing. The server checks
 * the password and the signer's role; its refusal is shown here and the password field is cleared.
 */
export function SignatureDialog({ title, meanings, children, onSign, onCancel, busy, error, submitLabel = 'Sign' }: SignatureDialogProps) {
  const { me } = useSession();
  const id = useId();
  const [meaning, setMeaning] = useState<SignatureMeaning>(meanings[0] ?? 'approved');
  const [reason, setReason] = useState('');
  const pw = useSignaturePassword(error);
  const reasonRef = useRef<HTMLTextAreaElement>(null);
  useEffect(() => reasonRef.current?.focus(), []);
  return (
    <SignatureFrame
      title={title} testId="signature-dialog" busy={busy} error={error} submitLabel={submitLabel} onCancel={onCancel}
      canSubmit={reason.trim().length >= 3 && pw.password !== ''} onSubmit={() => void onSign({ password: pw.password, reason: reason.trim(), meaning })}
    >
      {children ? <div className="modal-text">{children}</div> : null}
      <div className="signature-signer">
        Signing as <strong>{me?.name ?? '—'}</strong>
        <span className="muted"> · electronic signature, equivalent to a handwritten one</span>
      </div>
      <div className="field">
        <label className="field-label field-required" htmlFor={`${id}-m`}>
          Meaning
        </label>
        <select id={`${id}-m`} value={meaning} onChange={(e) => setMeaning(e.target.value as SignatureMeaning)} disabled={meanings.length < 2}>
          {meanings.map((m) => (
            <option key={m} value={m}>
              {m}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label className="field-label field-required" htmlFor={`${id}-r`}>
          Reason
        </label>
        <textarea id={`${id}-r`} ref={reasonRef} rows={3} required minLength={3} value={reason} onChange={(e) => setReason(e.target.value)} />
      </div>
      <SignaturePasswordField id={`${id}-p`} state={pw} hint="Re-enter your password to sign." />
    </SignatureFrame>
  );
}
