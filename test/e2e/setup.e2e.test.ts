import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeReleasedWorkOrder, system, testServices, uniq } from '../helpers.ts';
import { createUser, eventually, hasFocus, launchBrowser, login, menu, newPage, screenshot, startUiServer, type UiPage, type UiServer } from './support.ts';

let server: UiServer;
let browser: Browser;
let ui: UiPage;
let page: Page;

beforeAll(async () => {
  [server, browser] = await Promise.all([startUiServer(), launchBrowser()]);
  const tech = await createUser('technician', 'Tom Technician');
  ui = await newPage(browser);
  page = ui.page;
  await login(page, server.url, tech.username);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function scan(p: Page, code: string) {
  await p.locator('#setup-scan').fill(code);
  await p.locator('#setup-scan').press('Enter');
}

describe('setup verification', () => {
  it('shows the required setup slot by slot; a wrong reel is refused with its reason, the right ones are verified until complete; changeover checklist', async () => {
    const s = testServices();
    const m = await makeReleasedWorkOrder();
    const placer = await s.factory.equipment.create(system, { stationId: m.stations.placement!.id, code: uniq('PNP-'), name: 'Chip shooter' });
    const printer = await s.factory.equipment.create(system, { stationId: m.stations.printer!.id, code: uniq('PRN-'), name: 'Stencil printer' });
    // The machine reports the program of the basis; a stencil for the revision is on the printer, no paste yet.
    await s.equipment.recordRecipe(s.db, {
      stationId: m.stations.placement!.id, equipmentId: placer.id, recipeName: m.program.name, revision: m.program.revision, lane: null, activatedAt: new Date(),
      expectedCycleSeconds: null, unitsPerTransaction: null, workOrder: null, messageId: null,
    });
    const stencil = await s.materials.createStencil(system, { code: uniq('ST-'), productRevisionId: m.revision.id, cleaningInterval: 50 });
    await s.materials.mountStencil(system, { equipmentId: printer.id, stencilId: stencil.id, productRevisionId: m.revision.id });
    const reels: string[] = [];
    for (const ipn of m.partIpns) {
      const avl = (await s.parts.listAvl({ ipn }))[0]!;
      reels.push((await s.materials.receive(system, { ipn, manufacturer: avl.manufacturer, mpn: avl.mpn, quantity: 500, lotCode: uniq('L') })).package.code);
    }

    await menu(page).getByRole('link', { name: 'Setup verification', exact: true }).click();
    await page.getByLabel('Machine').selectOption(String(placer.id));
    await page.getByLabel('Work order').selectOption(String(m.wo.id));
    const slots = page.getByTestId('setup-slots');
    await slots.locator('tbody tr').nth(2).waitFor();
    expect(await slots.locator('tbody tr').count()).toBe(3);
    expect(await page.getByTestId('setup-counter').innerText()).toBe('0 / 3 verified');

    // Slot S2 needs part 1: the reel of part 2 is refused with the reason.
    await scan(page, 'S2');
    await page.locator('[data-verdict="idle"]').getByText('Slot S2').waitFor();
    await scan(page, reels[2]!);
    const nogo = page.locator('[data-verdict="nogo"]');
    await nogo.waitFor();
    expect(await nogo.innerText()).toContain('PART_MISMATCH');
    expect(await nogo.innerText()).toMatch(new RegExp(`${m.partIpns[1]}|${m.partIpns[2]}`));
    expect(await slots.locator('tr[data-slot="S2"]').innerText()).toContain(`✕ ${reels[2]} · PART_MISMATCH`);
    expect(await eventually(() => hasFocus(page, 'setup-scan'), (f) => f)).toBe(true);
    await screenshot(page, 'setup-wrong-reel');
    const refusals = await s.materials.listAttempts({ equipmentId: placer.id, accepted: false });
    expect(refusals.map((a) => a.reasonCode)).toEqual(['PART_MISMATCH']);

    // The right reels, one slot after the other (slot S1 with a feeder scan in between).
    await scan(page, 'S2');
    await scan(page, reels[1]!);
    await page.locator('[data-verdict="go"]').getByText('Slot S2: GO').waitFor();
    await scan(page, 'S1');
    await scan(page, 'FDR-0815');
    await page.locator('[data-verdict="idle"]').getByText('Feeder FDR-0815', { exact: false }).waitFor();
    await scan(page, reels[0]!);
    await page.locator('[data-verdict="go"]').getByText('Slot S1: GO').waitFor();
    expect(await eventually(() => page.getByTestId('setup-counter').innerText(), (t) => t === '2 / 3 verified')).toBe('2 / 3 verified');
    await scan(page, 'S3');
    await scan(page, reels[2]!);
    await page.locator('[data-verdict="go"]').getByText('Slot S3: GO').waitFor();
    expect(await eventually(() => page.getByTestId('setup-counter').innerText(), (t) => t === '3 / 3 verified')).toBe('3 / 3 verified');
    expect(await slots.locator('tr[data-state="verified"]').count()).toBe(3);
    const active = await s.materials.listSetups({ equipmentId: placer.id, active: true });
    expect(active.map((x) => `${x.slot}:${x.packageCode}`).sort()).toEqual([`S1:${reels[0]}`, `S2:${reels[1]}`, `S3:${reels[2]}`]);
    expect(active.find((x) => x.slot === 'S1')!.feederId).toBe('FDR-0815');

    // Changeover: the program the machine reports matches, the stencil is fine, the paste is missing.
    const checklist = page.getByTestId('changeover');
    await checklist.locator('li[data-state="ok"]').filter({ hasText: 'Feeder setup' }).waitFor();
    expect(await checklist.locator('li').filter({ hasText: `Program on ${placer.code}` }).getAttribute('data-state')).toBe('ok');
    expect(await checklist.locator('li').filter({ hasText: 'Stencil on' }).getAttribute('data-state')).toBe('ok');
    expect(await checklist.locator('li').filter({ hasText: 'Solder paste on' }).getAttribute('data-state')).toBe('bad');
    await screenshot(page, 'setup-complete');
    expect(ui.errors).toEqual([]);
  });
});
