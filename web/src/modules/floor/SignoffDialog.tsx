import { useEffect, useId, useState } from 'react';
import type { ApiError, RouteStep } from '../../api.ts';
import { SignatureFrame, SignaturePasswordField, useSignaturePassword } from '../../components/SignatureDialog.tsx';
import { useSession } from '../../session.tsx';
import type { SignoffSignature } from './api.ts';

/**
 * The sign-off of a route step's sign-off checks, asked for when the unit is completed (pass or
 * fail): the signer (the logged-in operator, or a lead / inspector signing at this screen with
 * their own name) re-enters the password; the reason is kept with the signature. The server
 * checks password and role and refuses the completion without it (SIGNOFF_REQUIRED); its
 * refusal of the signature is shown here and the password is cleared.
 */
export function SignoffDialog({ step, checks, outcome, busy, error, onSign, onCancel }: {
  step: { seq: number; name: string };
  checks: RouteStep['checks'];
  /** What completing means here, e.g. "PASS" or "FAIL with 2 defects". */
  outcome: string;
  busy: boolean;
  error: ApiError | undefined;
  onSign(s: SignoffSignature): void;
  onCancel(): void;
}) {
  const { me } = useSession();
  const id = useId();
  const [username, setUsername] = useState(me?.name ?? '');
  const [reason, setReason] = useState('Checked as the work instructions require');
  const pw = useSignaturePassword(error);
  useEffect(() => pw.ref.current?.focus(), [pw.ref]);
  const sign = () => {
    const u = username.trim();
    onSign({ ...(u && u !== me?.name ? { username: u } : {}), password: pw.password, reason: reason.trim() });
  };
  return (
    <SignatureFrame
      title={`Sign off step ${step.seq} ${step.name}`} className="signoff-dialog" testId="signoff-dialog" busy={busy} error={error}
      submitLabel="Sign and complete" submitClassName="btn-xl" onCancel={onCancel} onSubmit={sign}
      canSubmit={pw.password !== '' && reason.trim().length >= 3 && username.trim() !== ''}
    >
      <p className="modal-text">
        Completing this unit as <strong>{outcome}</strong> needs your signature that these checks were done:
      </p>
      <ul className="signoff-checks" data-testid="signoff-checks">
        {checks.map((c) => (
          <li key={c.code}>
            {c.text} <code className="muted">{c.code}</code>
          </li>
        ))}
      </ul>
      <div className="signoff-fields">
        <div className="field">
          <label className="field-label field-required" htmlFor={`${id}-u`}>
            Signed by (user)
          </label>
          <input id={`${id}-u`} value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="username" autoCapitalize="off" required />
          <span className="field-hint">You, or a lead or inspector signing with their own name.</span>
        </div>
        <SignaturePasswordField id={`${id}-p`} state={pw} hint="Re-entered to sign (electronic signature)." />
      </div>
      <div className="field">
        <label className="field-label field-required" htmlFor={`${id}-r`}>
          Reason
        </label>
        <input id={`${id}-r`} value={reason} onChange={(e) => setReason(e.target.value)} minLength={3} required />
      </div>
    </SignatureFrame>
  );
}
