import crypto from 'node:crypto';
import type { Db } from '../../platform/db.ts';
import { AppError, notFound } from '../../platform/errors.ts';
import { ROLES, USER_ROLES, type Principal, type Role, type UserRole } from '../../platform/principal.ts';
import { recordAudit } from '../audit/index.ts';
import { DUMMY_HASH, hashPassword, newSecret, sha256, verifyPassword } from './passwords.ts';

export interface User {
  id: number;
  username: string;
  displayName: string;
  role: UserRole;
  active: boolean;
  createdAt: Date;
}

export interface ApiToken {
  id: number;
  name: string;
  role: Role;
  prefix: string;
  stationIds: number[];
  createdAt: Date;
  createdBy: string;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

/** Failed logins per username within the window before further attempts are refused. */
export const LOGIN_MAX_FAILURES = 5;
export const LOGIN_WINDOW_SECONDS = 15 * 60;
/** Failed logins from one address (any username) within the window. */
export const LOGIN_MAX_FAILURES_PER_IP = 30;

const USER_COLS = `id, username, display_name AS "displayName", role, active, created_at AS "createdAt"`;

/** How long an authenticated credential is trusted from memory before it is looked up again. */
const CREDENTIAL_CACHE_MS = 5_000;

export interface AuthServiceOptions {
  sessionTtlSeconds: number;
}

/**
 * Users, sessions, API tokens and login throttling. Credentials are stored only as hashes
 * (scrypt for passwords, SHA-256 for random session and API tokens).
 */
export function createAuthService(db: Db, opts: AuthServiceOptions) {
  const cache = new Map<string, { principal: Principal; until: number }>();

  function cached(key: string): Principal | undefined {
    const hit = cache.get(key);
    if (!hit) return undefined;
    if (hit.until < Date.now()) {
      cache.delete(key);
      return undefined;
    }
    return hit.principal;
  }
  function remember(key: string, principal: Principal) {
    if (cache.size > 10_000) cache.clear();
    cache.set(key, { principal, until: Date.now() + CREDENTIAL_CACHE_MS });
  }

  function validatePassword(pw: string) {
    if (pw.length < 8) throw new AppError('VALIDATION_FAILED', 'Password too short', { errors: [{ field: '/password', code: 'min_length', message: 'must be at least 8 characters' }] });
  }

  async function createUser(
    who: Principal,
    input: { username: string; displayName?: string; role: UserRole; password: string },
  ): Promise<User> {
    if (!USER_ROLES.includes(input.role)) {
      throw new AppError('VALIDATION_FAILED', `Unknown role ${input.role}`, { errors: [{ field: '/role', code: 'enum', message: `must be one of ${USER_ROLES.join(', ')}` }] });
    }
    validatePassword(input.password);
    const hash = await hashPassword(input.password);
    return db.tx(async (tx) => {
      const r = await tx.query<User>(
        `INSERT INTO users (username, display_name, role, password_hash) VALUES ($1, $2, $3, $4) RETURNING ${USER_COLS}`,
        [input.username.toLowerCase(), input.displayName ?? input.username, input.role, hash],
      );
      const user = r.rows[0]!;
      await recordAudit(tx, who, { action: 'create', entity: 'user', entityId: user.id, after: user });
      return user;
    });
  }

  async function listUsers(): Promise<User[]> {
    return (await db.query<User>(`SELECT ${USER_COLS} FROM users ORDER BY username`)).rows;
  }

  async function getUser(id: number): Promise<User> {
    const u = await db.one<User>(`SELECT ${USER_COLS} FROM users WHERE id = $1`, [id]);
    if (!u) throw notFound('user', id);
    return u;
  }

  async function updateUser(
    who: Principal,
    id: number,
    patch: { displayName?: string; role?: UserRole; active?: boolean; password?: string },
  ): Promise<User> {
    if (patch.password !== undefined) validatePassword(patch.password);
    const hash = patch.password !== undefined ? await hashPassword(patch.password) : null;
    const user = await db.tx(async (tx) => {
      const before = (await tx.query<User>(`SELECT ${USER_COLS} FROM users WHERE id = $1 FOR UPDATE`, [id])).rows[0];
      if (!before) throw notFound('user', id);
      if (before.role === 'admin' && ((patch.role && patch.role !== 'admin') || patch.active === false)) {
        const admins = await tx.query(`SELECT 1 FROM users WHERE role = 'admin' AND active AND id <> $1`, [id]);
        if (admins.rowCount === 0) throw new AppError('STATE_CONFLICT', 'The last active admin cannot be demoted or deactivated');
      }
      const r = await tx.query<User>(
        `UPDATE users SET display_name = COALESCE($2, display_name), role = COALESCE($3, role), active = COALESCE($4, active),
                password_hash = COALESCE($5, password_hash), updated_at = now()
          WHERE id = $1 RETURNING ${USER_COLS}`,
        [id, patch.displayName ?? null, patch.role ?? null, patch.active ?? null, hash],
      );
      const after = r.rows[0]!;
      if (patch.active === false || patch.password !== undefined || patch.role !== undefined) {
        await tx.query('DELETE FROM sessions WHERE user_id = $1', [id]);
      }
      await recordAudit(tx, who, {
        action: patch.password !== undefined ? 'update+password' : 'update',
        entity: 'user',
        entityId: id,
        before,
        after,
      });
      return after;
    });
    cache.clear();
    return user;
  }

  async function throttleCheck(username: string, ip: string | null) {
    const r = await db.one<{ user_failures: number; ip_failures: number; oldest: Date | null }>(
      `SELECT
         (SELECT count(*) FROM login_attempts WHERE username = $1 AND NOT success AND at > now() - make_interval(secs => $3)
            AND at > COALESCE((SELECT max(at) FROM login_attempts WHERE username = $1 AND success), '-infinity'))::int AS user_failures,
         (SELECT count(*) FROM login_attempts WHERE ip = $2 AND NOT success AND at > now() - make_interval(secs => $3))::int AS ip_failures,
         (SELECT min(at) FROM (SELECT at FROM login_attempts WHERE username = $1 AND NOT success AND at > now() - make_interval(secs => $3)
            ORDER BY at DESC LIMIT $4) t) AS oldest`,
      [username, ip, LOGIN_WINDOW_SECONDS, LOGIN_MAX_FAILURES],
    );
    if (r && (r.user_failures >= LOGIN_MAX_FAILURES || r.ip_failures >= LOGIN_MAX_FAILURES_PER_IP)) {
      const retryAfter = r.oldest ? Math.max(1, Math.ceil((r.oldest.getTime() + LOGIN_WINDOW_SECONDS * 1000 - Date.now()) / 1000)) : LOGIN_WINDOW_SECONDS;
      throw new AppError('LOGIN_THROTTLED', 'Too many failed login attempts; try again later', { details: { retryAfterSeconds: retryAfter } });
    }
  }

  /** Checks a username and password (with throttling) and returns the user; does not start a session. */
  async function checkPassword(usernameRaw: string, password: string, ip: string | null): Promise<User> {
    const username = usernameRaw.trim().toLowerCase();
    await throttleCheck(username, ip);
    const row = await db.one<User & { password_hash: string }>(`SELECT ${USER_COLS}, password_hash FROM users WHERE username = $1`, [username]);
    const ok = await verifyPassword(password, row?.password_hash ?? DUMMY_HASH);
    const success = ok && row !== undefined && row.active;
    await db.query('INSERT INTO login_attempts (username, ip, success) VALUES ($1, $2, $3)', [username, ip, success]);
    if (!success) throw new AppError('INVALID_CREDENTIALS', 'Unknown user or wrong password');
    const { password_hash: _ignored, ...user } = row;
    return user;
  }

  async function login(username: string, password: string, meta: { ip: string | null; userAgent: string | null }) {
    const user = await checkPassword(username, password, meta.ip);
    const token = newSecret('mss');
    const expiresAt = new Date(Date.now() + opts.sessionTtlSeconds * 1000);
    await db.tx(async (tx) => {
      await tx.query('INSERT INTO sessions (token_hash, user_id, expires_at, ip, user_agent) VALUES ($1, $2, $3, $4, $5)', [
        sha256(token),
        user.id,
        expiresAt,
        meta.ip,
        meta.userAgent?.slice(0, 300) ?? null,
      ]);
      await tx.query(`DELETE FROM sessions WHERE expires_at < now()`);
      await recordAudit(tx, { kind: 'user', id: user.id, name: user.username, role: user.role }, { action: 'login', entity: 'session', entityId: user.id });
    });
    return { token, user, expiresAt };
  }

  async function logout(sessionToken: string) {
    const h = sha256(sessionToken);
    cache.delete('s:' + h);
    await db.query('DELETE FROM sessions WHERE token_hash = $1', [h]);
  }

  async function authenticateSession(token: string): Promise<Principal | null> {
    const h = sha256(token);
    const hit = cached('s:' + h);
    if (hit) return hit;
    // The read pool: every request waits for this, never behind writers waiting for a WAL flush.
    const r = (await db.reads.query<{ id: number; username: string; role: UserRole }>(
      `SELECT u.id, u.username, u.role FROM sessions s JOIN users u ON u.id = s.user_id
        WHERE s.token_hash = $1 AND s.expires_at > now() AND u.active`,
      [h],
    )).rows[0];
    if (!r) return null;
    const p: Principal = { kind: 'user', id: r.id, name: r.username, role: r.role };
    remember('s:' + h, p);
    return p;
  }

  const lastUsedWrites = new Map<number, number>();
  async function authenticateToken(token: string): Promise<Principal | null> {
    const h = sha256(token);
    const hit = cached('t:' + h);
    if (hit) return hit;
    const r = (await db.reads.query<{ id: number; name: string; role: Role; station_ids: number[] | null }>(
      `SELECT t.id, t.name, t.role,
              (SELECT array_agg(station_id ORDER BY station_id) FROM api_token_stations s WHERE s.token_id = t.id) AS station_ids
         FROM api_tokens t
        WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())`,
      [h],
    )).rows[0];
    if (!r) return null;
    const p: Principal = { kind: 'token', id: r.id, name: r.name, role: r.role };
    if (r.station_ids && r.station_ids.length > 0) p.stationIds = r.station_ids.map(Number);
    remember('t:' + h, p);
    const last = lastUsedWrites.get(r.id) ?? 0;
    if (Date.now() - last > 60_000) {
      lastUsedWrites.set(r.id, Date.now());
      db.query('UPDATE api_tokens SET last_used_at = now() WHERE id = $1', [r.id]).catch(() => undefined);
    }
    return p;
  }

  const TOKEN_COLS = `t.id, t.name, t.role, t.prefix, t.created_at AS "createdAt", t.created_by AS "createdBy", t.expires_at AS "expiresAt",
    t.revoked_at AS "revokedAt", t.last_used_at AS "lastUsedAt",
    COALESCE((SELECT array_agg(station_id ORDER BY station_id) FROM api_token_stations s WHERE s.token_id = t.id), '{}') AS "stationIds"`;

  /** Creates an API token; the secret is returned once and only its hash is stored. */
  async function createToken(
    who: Principal,
    input: { name: string; role: Role; stationCodes?: string[]; expiresAt?: Date | null },
  ): Promise<{ token: string; info: ApiToken }> {
    if (!ROLES.includes(input.role)) {
      throw new AppError('VALIDATION_FAILED', `Unknown role ${input.role}`, { errors: [{ field: '/role', code: 'enum', message: `must be one of ${ROLES.join(', ')}` }] });
    }
    const token = newSecret('mes');
    const info = await db.tx(async (tx) => {
      const ins = await tx.query<{ id: number }>(
        `INSERT INTO api_tokens (name, role, token_hash, prefix, created_by, expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
        [input.name, input.role, sha256(token), token.slice(0, 8), who.name, input.expiresAt ?? null],
      );
      const id = ins.rows[0]!.id;
      for (const code of input.stationCodes ?? []) {
        const st = await tx.query<{ id: number }>('SELECT id FROM stations WHERE code = $1', [code]);
        if (st.rowCount === 0) {
          throw new AppError('REFERENCE_NOT_FOUND', `Station ${code} does not exist`, { errors: [{ field: '/stations', code: 'unknown_station', message: `station ${code} does not exist` }] });
        }
        await tx.query('INSERT INTO api_token_stations (token_id, station_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [id, st.rows[0]!.id]);
      }
      const info = (await tx.query<ApiToken>(`SELECT ${TOKEN_COLS} FROM api_tokens t WHERE t.id = $1`, [id])).rows[0]!;
      await recordAudit(tx, who, { action: 'create', entity: 'api_token', entityId: id, after: info });
      return info;
    });
    return { token, info };
  }

  async function listTokens(): Promise<ApiToken[]> {
    return (await db.query<ApiToken>(`SELECT ${TOKEN_COLS} FROM api_tokens t ORDER BY t.name`)).rows;
  }

  async function revokeToken(who: Principal, id: number): Promise<ApiToken> {
    const info = await db.tx(async (tx) => {
      const before = (await tx.query<ApiToken>(`SELECT ${TOKEN_COLS} FROM api_tokens t WHERE t.id = $1 FOR UPDATE`, [id])).rows[0];
      if (!before) throw notFound('api token', id);
      if (before.revokedAt) throw new AppError('STATE_CONFLICT', `Token ${before.name} is already revoked`);
      await tx.query('UPDATE api_tokens SET revoked_at = now() WHERE id = $1', [id]);
      const after = (await tx.query<ApiToken>(`SELECT ${TOKEN_COLS} FROM api_tokens t WHERE t.id = $1`, [id])).rows[0]!;
      await recordAudit(tx, who, { action: 'revoke', entity: 'api_token', entityId: id, before, after });
      return after;
    });
    cache.clear();
    return info;
  }

  /**
   * On first start with no users, creates `admin`. The password comes from MES_ADMIN_PASSWORD
   * or is generated; a generated password is returned so the caller can print it once.
   */
  async function ensureAdmin(password: string | undefined): Promise<{ created: boolean; generatedPassword?: string }> {
    const any = await db.one('SELECT 1 FROM users LIMIT 1');
    if (any) return { created: false };
    const generated = password === undefined ? crypto.randomBytes(12).toString('base64url') : undefined;
    try {
      await createUser({ kind: 'system', id: null, name: 'bootstrap', role: 'admin' }, { username: 'admin', displayName: 'Administrator', role: 'admin', password: password ?? generated! });
    } catch (e) {
      // Another instance created it at the same moment.
      if (e instanceof AppError && e.code === 'DUPLICATE') return { created: false };
      throw e;
    }
    return generated ? { created: true, generatedPassword: generated } : { created: true };
  }

  return {
    createUser,
    listUsers,
    getUser,
    updateUser,
    checkPassword,
    login,
    logout,
    authenticateSession,
    authenticateToken,
    createToken,
    listTokens,
    revokeToken,
    ensureAdmin,
  };
}

export type AuthService = ReturnType<typeof createAuthService>;
