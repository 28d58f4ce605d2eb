import { beforeAll, describe, expect, it } from 'vitest';
import type { MaterialsService } from '../../src/modules/materials/index.ts';
import { system, testServices, uniq } from '../helpers.ts';
import { clockedMaterials, makeScenario, testClock, type Scenario } from './fixtures.ts';

const clock = testClock();
const h = clock.at;
let svc: MaterialsService;
let sc: Scenario;
beforeAll(async () => {
  svc = clockedMaterials(clock);
  sc = await makeScenario();
});

async function pasteJar(over: { expiresAt?: Date; maxOpenHours?: number } = {}) {
  // Solder paste as a part of its own, received as a paste jar.
  const ipn = uniq('PASTE');
  await testServices().parts.parts.create(system, { ipn, description: 'SAC305 type 4 paste', placed: false });
  await testServices().parts.upsertAvlEntry(system, { ipn, manufacturer: 'Solderco', mpn: `${ipn}-500G` });
  const r = await svc.receive(system, {
    ipn, mpn: `${ipn}-500G`, quantity: 500, kind: 'paste-jar', lotCode: uniq('PL'), expiresAt: over.expiresAt ?? h(24 * 180),
    ...(over.maxOpenHours ? { paste: { maxOpenHours: over.maxOpenHours } } : {}),
  });
  return r.package;
}

const codes = (c: { problems: { code: string }[] }) => c.problems.map((p) => p.code);

describe('solder paste validity', () => {
  it('needs its minimum thaw time (default 4 h), expires with its lot, and may stay open only so long (default 24 h)', async () => {
    clock.set(h(0));
    const jar = await pasteJar();
    expect(jar.paste).toMatchObject({ minThawHours: 4, maxOpenHours: 24, thawStartedAt: null, openedAt: null });
    expect(codes(await svc.checkPaste(jar.id))).toEqual(['PASTE_NOT_THAWED']);
    await svc.thawPaste(system, jar.id);
    clock.set(h(3));
    expect(codes(await svc.checkPaste(jar.id))).toEqual(['PASTE_NOT_THAWED']);
    clock.set(h(4));
    expect(await svc.checkPaste(jar.id)).toMatchObject({ ok: true, problems: [] });
    await svc.openPaste(system, jar.id);
    clock.set(h(27.9));
    expect((await svc.checkPaste(jar.id)).ok).toBe(true);
    clock.set(h(28));
    expect(codes(await svc.checkPaste(jar.id))).toEqual(['PASTE_OPEN_TOO_LONG']);
    await expect(svc.openPaste(system, jar.id)).rejects.toMatchObject({ code: 'STATE_CONFLICT' });
  });

  it('opened before it thawed enough stays refused; an expired lot is refused; a mount checks it', async () => {
    clock.set(h(100));
    const cold = await pasteJar();
    await svc.thawPaste(system, cold.id);
    clock.set(h(101));
    await svc.openPaste(system, cold.id);
    clock.set(h(110));
    expect(codes(await svc.checkPaste(cold.id))).toEqual(['PASTE_NOT_THAWED']);
    await expect(svc.mountPaste(system, { equipmentId: sc.equipment.id, packageId: cold.id })).rejects.toMatchObject({ code: 'CONSUMABLE_INVALID', status: 422 });

    const old = await pasteJar({ expiresAt: h(105) });
    await svc.thawPaste(system, old.id, { at: h(100) });
    expect(codes(await svc.checkPaste(old.id))).toEqual(['PASTE_EXPIRED']);

    const good = await pasteJar();
    await svc.thawPaste(system, good.id, { at: h(104) });
    clock.set(h(110));
    const mount = await svc.mountPaste(system, { equipmentId: sc.equipment.id, packageId: good.id });
    expect(mount).toMatchObject({ kind: 'paste', packageId: good.id, unmountedAt: null });
    const now = await svc.mountedConsumables(sc.equipment.id);
    expect(now.paste).toMatchObject({ ok: true, mount: { packageId: good.id } });
    expect(now.stencil).toBeNull();
    // Another jar replaces it; the history keeps both.
    const second = await pasteJar();
    await svc.thawPaste(system, second.id, { at: h(100) });
    await svc.mountPaste(system, { equipmentId: sc.equipment.id, packageId: second.id });
    expect((await svc.listMounts({ equipmentId: sc.equipment.id })).map((m) => [m.packageId, m.unmountedAt === null])).toEqual([[second.id, true], [good.id, false]]);
    // A reel is not paste.
    const { package: reel } = await svc.receive(system, { ipn: sc.partIpns[1]!, mpn: sc.mpns[1]!, quantity: 10 });
    expect(codes(await svc.checkPaste(reel.id))).toEqual(['PASTE_NOT_PASTE']);
  });
});

describe('stencil validity', () => {
  it('refuses another product revision, a due cleaning, wear-out and retirement', async () => {
    const st = await svc.createStencil(system, { code: uniq('STN-'), productRevisionId: sc.revision.id, cleaningInterval: 10, maxUsage: 25, thicknessUm: 120 });
    expect(await svc.checkStencil(st.id, { productRevisionId: sc.revision.id })).toMatchObject({ ok: true });
    const other = await makeScenario();
    expect(codes(await svc.checkStencil(st.id, { productRevisionId: other.revision.id }))).toEqual(['STENCIL_WRONG_REVISION']);
    await expect(svc.mountStencil(system, { equipmentId: sc.equipment.id, stencilId: st.id, productRevisionId: other.revision.id })).rejects.toMatchObject({ code: 'CONSUMABLE_INVALID' });
    await svc.recordStencilUse(system, st.id, { prints: 9 });
    expect((await svc.checkStencil(st.id)).ok).toBe(true);
    await svc.recordStencilUse(system, st.id, { prints: 1 });
    expect(codes(await svc.checkStencil(st.id))).toEqual(['STENCIL_CLEANING_DUE']);
    const cleaned = await svc.cleanStencil(system, st.id);
    expect(cleaned).toMatchObject({ usageCount: 10, usageSinceCleaning: 0, lastCleanedAt: clock.now() });
    const mounted = await svc.mountStencil(system, { equipmentId: sc.equipment.id, stencilId: st.id, productRevisionId: sc.revision.id });
    expect(mounted).toMatchObject({ kind: 'stencil', stencilId: st.id });
    await svc.recordStencilUse(system, st.id, { prints: 15 });
    expect(codes(await svc.checkStencil(st.id))).toEqual(['STENCIL_CLEANING_DUE', 'STENCIL_WORN_OUT']);
    expect((await svc.mountedConsumables(sc.equipment.id)).stencil).toMatchObject({ ok: false });
    await svc.updateStencil(system, st.id, { status: 'retired' });
    expect(codes(await svc.checkStencil(st.id))).toContain('STENCIL_RETIRED');
    const off = await svc.unmount(system, { equipmentId: sc.equipment.id, kind: 'stencil' });
    expect(off.unmountedAt).not.toBeNull();
  });
});
