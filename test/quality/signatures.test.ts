import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/platform/principal.ts';
import type { SignatureInput } from '../../src/modules/quality/index.ts';
import type { App } from '../../src/platform/http.ts';
import { bearer, makeQualityWorkOrder, makeUser, system, testApp, testDb, tokenFor, uniq } from '../helpers.ts';
import { pass, s, thrown, units } from './support.ts';

/**
 * Every signed action (use-as-is, NCR closure, hold release, shipment release) refuses the same
 * way: wrong password → SIGNATURE_INVALID, a signer whose role may not sign it → FORBIDDEN,
 * signing as someone else → SIGNATURE_INVALID, an API token that names nobody → VALIDATION_FAILED;
 * and a refused signature changes nothing and leaves no signature row.
 */

let app: App;
beforeAll(async () => {
  app = await testApp();
});
afterAll(async () => app.close());

type Sign = (who: Principal, signature: SignatureInput) => Promise<unknown>;
interface Case { action: string; entity: string; entityId: number; sign: Sign; unchanged: () => Promise<void> }

async function signatureRows(entity: string, entityId: number) {
  return (await testDb().query('SELECT id FROM quality_signatures WHERE entity = $1 AND entity_id = $2', [entity, String(entityId)])).rows.length;
}

async function cases(): Promise<Case[]> {
  const m = await makeQualityWorkOrder({ plan: { requiredSteps: ['aoi'] } });
  const [failed, ncrUnit, held, good] = await units(m, 4);
  await pass(m, 'printer', failed!);
  await pass(m, 'placement', failed!, 'fail');
  const failedId = (await s().tracking.getUnit(failed!)).id;

  const ncr = await s().quality.createNcr(system, { title: 'lifted lead U3', subject: { kind: 'unit', serial: ncrUnit! } });
  await s().quality.dispose(system, { serial: ncrUnit!, decision: 'scrap', reason: 'lead broken off', ncrId: ncr.id });

  const hold = await s().quality.placeHold(system, { scope: 'unit', serial: held!, reasonCode: 'CUSTOMER_COMPLAINT', reason: 'sister unit returned' });

  for (const t of ['printer', 'placement', 'aoi']) await pass(m, t, good!);
  await s().quality.recordResult(system, { stationId: m.stations.aoi!.id, unit: good!, method: 'aoi', result: 'pass' });
  const carton = await s().shipping.createCarton(system, { workOrder: m.wo.id, capacity: 1 });
  await s().shipping.pack(system, carton.id, { identifier: good! });
  const sh = await s().shipping.createShipment(system, { customer: 'Test customer', customerPo: uniq('PO') });
  await s().shipping.addCartons(system, sh.id, [carton.id]);
  expect((await s().shipping.clearance(sh.id)).clear).toBe(true);

  return [
    {
      action: 'disposition.use-as-is', entity: 'unit', entityId: failedId,
      sign: (who, signature) => s().quality.dispose(who, { serial: failed!, decision: 'use-as-is', reason: 'cosmetic', signature }),
      unchanged: async () => {
        expect(await s().tracking.getUnit(failed!)).toMatchObject({ status: 'failed', passedSteps: [10] });
        expect(await s().quality.listDispositions({ serial: failed! })).toEqual([]);
      },
    },
    {
      action: 'ncr.close', entity: 'ncr', entityId: ncr.id,
      sign: (who, signature) => s().quality.closeNcr(who, ncr.id, { signature }),
      unchanged: async () => expect((await s().quality.getNcr(ncr.id)).state).toBe('open'),
    },
    {
      action: 'hold.release', entity: 'quality_hold', entityId: hold.id,
      sign: (who, signature) => s().quality.releaseHold(who, hold.id, { signature }),
      unchanged: async () => expect((await s().quality.getHold(hold.id)).releasedAt).toBeNull(),
    },
    {
      action: 'shipment.release', entity: 'shipment', entityId: sh.id,
      sign: (who, signature) => s().shipping.releaseShipment(who, sh.id, { signature }),
      unchanged: async () => expect((await s().shipping.getShipment(sh.id)).state).toBe('open'),
    },
  ];
}

describe('signed actions refuse wrong passwords, wrong roles and borrowed identities', () => {
  it('use-as-is, NCR closure, hold release, shipment release: each refusal changes nothing; the quality engineer then signs', async () => {
    const qe = await makeUser('quality-engineer');
    const otherQe = await makeUser('quality-engineer');
    const signers = {
      operator: await makeUser('operator'), technician: await makeUser('technician'), planner: await makeUser('planner'), admin: await makeUser('admin'),
    };
    const erp: Principal = { kind: 'token', id: null, name: 'erp-bridge', role: 'integration' };
    for (const c of await cases()) {
      const refusals: [string, () => Promise<unknown>, string][] = [
        ['wrong password', () => c.sign(qe.principal, { password: 'not-the-password', reason: 'looks fine' }), 'SIGNATURE_INVALID'],
        ['empty password', () => c.sign(qe.principal, { password: '', reason: 'looks fine' }), 'VALIDATION_FAILED'],
        ['no reason', () => c.sign(qe.principal, { password: qe.password, reason: ' ' }), 'VALIDATION_FAILED'],
        ['as another quality engineer', () => c.sign(qe.principal, { username: otherQe.username, password: otherQe.password, reason: 'on behalf' }), 'SIGNATURE_INVALID'],
        ['token naming nobody', () => c.sign(erp, { password: qe.password, reason: 'from ERP' }), 'VALIDATION_FAILED'],
        ['token, wrong password', () => c.sign(erp, { username: qe.username, password: 'guess-guess', reason: 'from ERP' }), 'SIGNATURE_INVALID'],
        ['token naming an operator', () => c.sign(erp, { username: signers.operator.username, password: signers.operator.password, reason: 'from ERP' }), 'FORBIDDEN'],
        ...Object.entries(signers).map(([role, u]) => [`role ${role}`, () => c.sign(u.principal, u.signature()), 'FORBIDDEN'] as [string, () => Promise<unknown>, string]),
      ];
      for (const [what, attempt, code] of refusals) expect([c.action, what, (await thrown(attempt())).code]).toEqual([c.action, what, code]);
      await c.unchanged();
      expect([c.action, await signatureRows(c.entity, c.entityId)]).toEqual([c.action, 0]);

      // A token may sign for a quality engineer who re-enters the password.
      await c.sign(erp, { username: qe.username, password: qe.password, reason: 'reviewed in the MRB' });
      expect([c.action, await signatureRows(c.entity, c.entityId)]).toEqual([c.action, 1]);
      const sig = (await s().quality.listSignatures({ entity: c.entity, entityId: String(c.entityId) }))[0]!;
      expect(sig).toMatchObject({ action: c.action, signerUsername: qe.username, signerRole: 'quality-engineer', reason: 'reviewed in the MRB' });
    }
  });

  it('REST: 401 for a wrong password, 403 for a signer whose role may not sign', async () => {
    const m = await makeQualityWorkOrder();
    const [u] = await units(m);
    const hold = await s().quality.placeHold(system, { scope: 'unit', serial: u!, reasonCode: 'OTHER', reason: 'checking' });
    const op = await makeUser('operator');
    const qe = await makeUser('quality-engineer');
    const url = `/api/v1/quality/holds/${hold.id}/release`;
    const headers = bearer(await tokenFor('quality-engineer'));
    const wrong = await app.inject({ method: 'POST', url, headers, payload: { signature: { username: qe.username, password: 'wrong-wrong', reason: 'ok to go' } } });
    expect([wrong.statusCode, wrong.json().code]).toEqual([401, 'SIGNATURE_INVALID']);
    const role = await app.inject({ method: 'POST', url, headers, payload: { signature: { username: op.username, password: op.password, reason: 'ok to go' } } });
    expect([role.statusCode, role.json().code]).toEqual([403, 'FORBIDDEN']);
    expect((await s().quality.getHold(hold.id)).releasedAt).toBeNull();
    const ok = await app.inject({ method: 'POST', url, headers, payload: { signature: { username: qe.username, password: qe.password, reason: 'ok to go' } } });
    expect(ok.statusCode, ok.body).toBe(200);
  });
});

describe('station + time window: the boundaries', () => {
  it('a passage counts when it completed at or after `from` and started (else completed) before `to`', async () => {
    const m = await makeQualityWorkOrder();
    const t0 = new Date(Date.now() - 5 * 3600_000);
    const at = (min: number) => new Date(t0.getTime() + min * 60_000);
    // [started, completed] in minutes relative to the window [0, 60).
    const passages: { start: number | null; end: number; inside: boolean }[] = [
      { start: -30, end: -0.001, inside: false }, // ended just before the window
      { start: -30, end: 0, inside: true }, // ended exactly at `from`
      { start: -30, end: 90, inside: true }, // spans the whole window
      { start: 59.99, end: 70, inside: true }, // started just before `to`
      { start: 60, end: 70, inside: false }, // started exactly at `to`
      { start: null, end: 60, inside: false }, // no start, completed at `to`
      { start: null, end: 59.999, inside: true },
    ];
    const us = await units(m, passages.length);
    for (const [i, p] of passages.entries()) {
      await pass(m, 'printer', us[i]!, 'pass', { completedAt: at(p.end), ...(p.start === null ? {} : { startedAt: at(p.start) }) });
    }
    const inside = us.filter((_u, i) => passages[i]!.inside).sort();
    const hold = await s().quality.placeHold(system, { scope: 'station_window', stationId: m.stations.printer!.id, from: at(0), to: at(60), reasonCode: 'PROCESS_DEVIATION', reason: 'stencil wiped late' });
    expect((await s().quality.holdUnits(hold.id)).map((u) => u.serial).sort()).toEqual(inside);
    for (const [i, u] of us.entries()) {
      const v = await s().tracking.validate(system, { stationId: m.stations.placement!.id, identifier: u! });
      expect([i, v.units[0]!.refusals.map((r) => r.code)]).toEqual([i, passages[i]!.inside ? ['HOLD_STATION_WINDOW'] : []]);
      expect([i, (await s().quality.unitQuality(u!)).blockers.some((b) => b.code === 'ON_HOLD')]).toEqual([i, passages[i]!.inside]);
    }
    // The same window at another station holds nothing.
    const elsewhere = await s().quality.placeHold(system, { scope: 'station_window', stationId: m.stations.placement!.id, from: at(0), to: at(60), reasonCode: 'PROCESS_DEVIATION', reason: 'nothing there' });
    expect(await s().quality.holdUnits(elsewhere.id)).toEqual([]);
  });
});
