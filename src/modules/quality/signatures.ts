import crypto from 'node:crypto';
import type { Queryable } from '../../platform/db.ts';
import { AppError, validationFailed } from '../../platform/errors.ts';
import type { Principal } from '../../platform/principal.ts';
import type { AuthService, User } from '../auth/index.ts';
import { canonicalJson } from '../work-orders/index.ts';
import { SIGNING_POLICY, type SignatureMeaning, type SignedAction } from './reasons.ts';

/**
 * Electronic signatures (21 CFR Part 11 §11.50, §11.200): at the moment of signing the signer
 * re-enters the password; the signature carries the printed name, the time, the meaning and the
 * reason, is stored in `quality_signatures` (append-only) next to the record it signs, and goes
 * into the audit row of the signed change. Roles decide who may sign what (SIGNING_POLICY).
 */

export interface SignatureInput {
  /** Who signs. A logged-in user signs as themself (may be omitted); API tokens must name the user. */
  username?: string;
  /** The signer's password, checked now (re-authentication). */
  password: string;
  /** Why the signer signs (free text, at least 3 characters). */
  reason: string;
  /** What the signature means; defaults to the action's only meaning. */
  meaning?: SignatureMeaning;
}

export interface Signature {
  id: number;
  signerId: number;
  signerUsername: string;
  signerName: string;
  signerRole: string;
  meaning: SignatureMeaning;
  reason: string;
  action: string;
  entity: string;
  entityId: string;
  contentSha256: string;
  signedAt: Date;
}

/** A signer whose password and role were checked, not yet bound to a record. */
export interface Signer {
  user: User;
  action: SignedAction;
  meaning: SignatureMeaning;
  reason: string;
}

const SIG_COLS = `id, signer_id AS "signerId", signer_username AS "signerUsername", signer_name AS "signerName", signer_role AS "signerRole", meaning,
  reason, action, entity, entity_id AS "entityId", content_sha256 AS "contentSha256", signed_at AS "signedAt"`;

export function createSignatures(deps: { auth: AuthService }, policy: Record<SignedAction, { meanings: readonly string[]; roles: readonly string[] }> = SIGNING_POLICY) {
  /**
   * Re-authenticates the signer and checks that their role may sign `action` with this meaning.
   * Wrong password: SIGNATURE_INVALID (401); role not allowed: FORBIDDEN (403). Call it before
   * opening the transaction that records the signed change. With `anySigner` a logged-in user
   * may have another user sign at their screen (a lead or inspector signing a step sign-off):
   * that user's own password is checked.
   */
  async function authenticate(who: Principal, action: SignedAction, input: SignatureInput | undefined, meaning?: SignatureMeaning, opts: { anySigner?: boolean } = {}): Promise<Signer> {
    if (!input || typeof input.password !== 'string' || input.password.length === 0) {
      throw validationFailed([{ field: '/signature/password', code: 'required', message: 'this action must be signed: give your password' }], 'This action needs an electronic signature');
    }
    const reason = (input.reason ?? '').trim();
    if (reason.length < 3) throw validationFailed([{ field: '/signature/reason', code: 'required', message: 'a signature needs a reason (at least 3 characters)' }]);
    const p = policy[action];
    const m = (meaning ?? input.meaning ?? p.meanings[0]) as SignatureMeaning;
    if (!p.meanings.includes(m) || (input.meaning !== undefined && input.meaning !== m)) {
      throw validationFailed([{ field: '/signature/meaning', code: 'enum', message: `a ${action} signature means ${meaning ?? p.meanings.join(' or ')}` }]);
    }
    let username = input.username?.trim().toLowerCase();
    if (who.kind === 'user' && !(opts.anySigner && username)) {
      if (username !== undefined && username !== who.name.toLowerCase()) {
        throw new AppError('SIGNATURE_INVALID', `${who.name} cannot sign as ${username}: sign with your own credentials`);
      }
      username = who.name.toLowerCase();
    }
    if (!username) throw validationFailed([{ field: '/signature/username', code: 'required', message: 'name the signing user' }]);
    let user: User;
    try {
      user = await deps.auth.checkPassword(username, input.password, null);
    } catch (e) {
      if (e instanceof AppError && e.code === 'INVALID_CREDENTIALS') {
        throw new AppError('SIGNATURE_INVALID', `The signature of ${username} is invalid: unknown user or wrong password`);
      }
      throw e;
    }
    if (!p.roles.includes(user.role)) {
      throw new AppError('FORBIDDEN', `${user.username} (role ${user.role}) may not sign ${action}; it needs the role ${p.roles.join(' or ')}`, {
        details: { action, role: user.role, allowed: p.roles },
      });
    }
    return { user, action, meaning: m, reason };
  }

  /** Binds an authenticated signer to the record (entity, id, content) in the caller's transaction. */
  async function record(q: Queryable, signer: Signer, target: { entity: string; entityId: string | number; content: unknown }): Promise<Signature> {
    const sha = crypto.createHash('sha256').update(canonicalJson(target.content)).digest('hex');
    const r = await q.query<Signature>(
      `INSERT INTO quality_signatures (signer_id, signer_username, signer_name, signer_role, meaning, reason, action, entity, entity_id, content_sha256)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ${SIG_COLS}`,
      [signer.user.id, signer.user.username, signer.user.displayName, signer.user.role, signer.meaning, signer.reason, signer.action, target.entity, String(target.entityId), sha],
    );
    return r.rows[0]!;
  }

  async function get(q: Queryable, id: number): Promise<Signature | undefined> {
    return (await q.query<Signature>(`SELECT ${SIG_COLS} FROM quality_signatures WHERE id = $1`, [id])).rows[0];
  }

  async function list(q: Queryable, f: { entity?: string; entityId?: string; limit?: number }): Promise<Signature[]> {
    return (
      await q.query<Signature>(
        `SELECT ${SIG_COLS} FROM quality_signatures WHERE ($1::text IS NULL OR entity = $1) AND ($2::text IS NULL OR entity_id = $2) ORDER BY id DESC LIMIT $3`,
        [f.entity ?? null, f.entityId ?? null, Math.min(f.limit ?? 100, 1000)],
      )
    ).rows;
  }

  return { authenticate, record, get, list };
}
export type Signatures = ReturnType<typeof createSignatures>;

/** The signature as kept in the audit row: enough to read it without a join. */
export function auditSignature(s: Signature) {
  return { id: s.id, signer: s.signerUsername, name: s.signerName, role: s.signerRole, meaning: s.meaning, reason: s.reason, at: s.signedAt, sha256: s.contentSha256 };
}
