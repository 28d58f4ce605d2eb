import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/platform/http.ts';
import { bearer, testApp, testDb, tokenFor, uniq } from '../helpers.ts';

let app: App;
let admin: string;
beforeAll(async () => {
  app = await testApp();
  admin = await tokenFor('admin');
});
afterAll(async () => app.close());

async function auditFor(entity: string, id: number | string) {
  return (
    await testDb().query<{ action: string; actor_kind: string; actor_name: string; before: any; after: any }>(
      `SELECT action, actor_kind, actor_name, before, after FROM audit_log WHERE entity = $1 AND entity_id = $2 ORDER BY id`,
      [entity, String(id)],
    )
  ).rows;
}

describe('audit trail', () => {
  it('records who, what, before and after for create, update and delete', async () => {
    const ipn = uniq('AUD');
    const created = (await app.inject({ method: 'POST', url: '/api/v1/parts', headers: bearer(admin), payload: { ipn, description: 'first' } })).json();
    await app.inject({ method: 'PATCH', url: `/api/v1/parts/${created.id}`, headers: bearer(admin), payload: { description: 'second', mslLevel: '3' } });
    await app.inject({ method: 'DELETE', url: `/api/v1/parts/${created.id}`, headers: bearer(admin) });
    const rows = await auditFor('part', created.id);
    expect(rows.map((r) => r.action)).toEqual(['create', 'update', 'delete']);
    expect(rows.every((r) => r.actor_kind === 'token' && r.actor_name.startsWith('tok-admin-'))).toBe(true);
    expect(rows[0]!.before).toBeNull();
    expect(rows[0]!.after).toMatchObject({ ipn, description: 'first' });
    expect(rows[1]!.before).toMatchObject({ description: 'first', mslLevel: '1' });
    expect(rows[1]!.after).toMatchObject({ description: 'second', mslLevel: '3' });
    expect(rows[2]!.before).toMatchObject({ description: 'second' });
    expect(rows[2]!.after).toBeNull();
    const api = await app.inject({ method: 'GET', url: `/api/v1/audit?entity=part&entityId=${created.id}`, headers: bearer(admin) });
    expect(api.json().map((r: { action: string }) => r.action)).toEqual(['delete', 'update', 'create']);
  });

  it('records user, token and alternate-permission changes', async () => {
    const username = uniq('au').toLowerCase();
    const user = (await app.inject({ method: 'POST', url: '/api/v1/users', headers: bearer(admin), payload: { username, role: 'operator', password: 'long enough' } })).json();
    await app.inject({ method: 'PATCH', url: `/api/v1/users/${user.id}`, headers: bearer(admin), payload: { role: 'technician' } });
    const users = await auditFor('user', user.id);
    expect(users.map((r) => r.action)).toEqual(['create', 'update']);
    expect(JSON.stringify(users)).not.toMatch(/long enough|scrypt/);
    expect(users[1]!.before.role).toBe('operator');
    expect(users[1]!.after.role).toBe('technician');
    const tok = (await app.inject({ method: 'POST', url: '/api/v1/tokens', headers: bearer(admin), payload: { name: uniq('m'), role: 'machine' } })).json();
    await app.inject({ method: 'DELETE', url: `/api/v1/tokens/${tok.info.id}`, headers: bearer(admin) });
    const toks = await auditFor('api_token', tok.info.id);
    expect(toks.map((r) => r.action)).toEqual(['create', 'revoke']);
    expect(JSON.stringify(toks)).not.toContain(tok.token);
  });

  it('is append-only: UPDATE, DELETE and TRUNCATE are refused for every role, the owner included', async () => {
    const db = testDb();
    await expect(db.query(`UPDATE audit_log SET actor_name = 'someone else'`)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(db.query(`DELETE FROM audit_log`)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(db.query(`TRUNCATE audit_log`)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect((await db.query(`SELECT count(*)::int AS n FROM audit_log`)).rows[0]!.n).toBeGreaterThan(0);
  });

  it('a failed operation writes no audit row and no partial data', async () => {
    const db = testDb();
    const before = (await db.query(`SELECT max(id) AS m FROM audit_log`)).rows[0]!.m;
    const res = await app.inject({ method: 'POST', url: '/api/v1/lines', headers: bearer(admin), payload: { siteId: 999999999, code: uniq('L'), name: 'x' } });
    expect(res.statusCode).toBe(422);
    const after = (await db.query(`SELECT count(*)::int AS n FROM audit_log WHERE id > $1 AND entity = 'line'`, [before])).rows[0]!.n;
    expect(after).toBe(0);
  });
});
