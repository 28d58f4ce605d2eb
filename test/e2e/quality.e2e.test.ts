import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeQualityWorkOrder, system, testDb, testServices } from '../helpers.ts';
import { createUser, launchBrowser, login, newPage, openMenu, PASSWORD, screenshot, startUiServer, type UiPage, type UiServer } from './support.ts';

/** Quality office screens in the browser: NCR closure with an electronic signature, review queue, holds. */

let server: UiServer;
let browser: Browser;
let ui: UiPage;
let page: Page;
let qe: { username: string; id: number };

beforeAll(async () => {
  [server, browser] = await Promise.all([startUiServer(), launchBrowser()]);
  qe = await createUser('quality-engineer', 'Quinn Quality');
  ui = await newPage(browser);
  page = ui.page;
  await login(page, server.url, qe.username);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const s = () => testServices();

async function signWith(password: string, reason: string) {
  const dialog = page.getByTestId('signature-dialog');
  await dialog.waitFor();
  await dialog.getByLabel('Reason', { exact: true }).fill(reason);
  await dialog.getByLabel('Password', { exact: true }).fill(password);
  await dialog.getByRole('button', { name: /^Sign/ }).click();
}

describe('NCR closure', () => {
  it('is refused while a linked unit is open, a wrong password is refused, and the signed closure goes through', async () => {
    const m = await makeQualityWorkOrder();
    const [a, b] = (await s().tracking.generateUnits(system, { workOrder: m.wo.id, count: 2 })).serials as [string, string];
    const ncr = await s().quality.createNcr(system, {
      title: 'Solder bridges on U1 after stencil change', subject: { kind: 'unit', serial: a }, serials: [b],
      description: 'AOI found bridges between U1 pins 4-5 on two boards.', containment: 'Line stopped; boards of the shift held.',
    });

    await openMenu(page, 'NCRs');
    await page.getByTestId('ncrs').getByText(ncr.number, { exact: true }).click();
    await page.getByTestId('ncr-units').waitFor();
    await screenshot(page, 'ncr');

    // Root cause and corrective action are recorded on the screen.
    await page.getByLabel('Root cause', { exact: true }).fill('Stencil aperture for U1 too large after the change');
    await page.getByLabel('Corrective action', { exact: true }).fill('Stencil reworked to 0.10 mm; first article required');
    await page.getByRole('button', { name: 'Save investigation' }).click();
    await page.getByText('Investigation saved').waitFor();
    expect((await s().quality.getNcr(ncr.id)).rootCause).toBe('Stencil aperture for U1 too large after the change');

    // Closing with both units open: refused, every open unit named.
    await page.getByRole('button', { name: 'Close NCR' }).click();
    await page.getByTestId('signature-dialog').getByText('Signing as').waitFor();
    await screenshot(page, 'ncr-signature');
    await signWith(PASSWORD, 'Investigation complete');
    const refused = page.locator('[data-verdict="nogo"]');
    await refused.waitFor();
    expect(await refused.innerText()).toMatch(/NCR not closed/i);
    expect(await refused.innerText()).toContain('NCR_NOT_CLOSABLE');
    const open = await page.getByTestId('ncr-open-units').locator('li').allInnerTexts();
    expect(open.map((t) => t.split('\n')[0]).sort()).toEqual([a, b].sort());
    await screenshot(page, 'ncr-close-refused');
    expect((await s().quality.getNcr(ncr.id)).state).toBe('open');

    // Scrap one unit from the screen: still refused, now naming only the other one.
    await page.getByTestId(`ncr-unit-${a}`).getByRole('button', { name: 'Disposition…' }).click();
    const form = page.getByTestId('disposition-form');
    await form.getByLabel('Decision').selectOption('scrap');
    await form.getByLabel('Reason', { exact: true }).fill('Bridged pins lifted the pad; not repairable');
    await form.getByRole('button', { name: 'Disposition: scrap' }).click();
    await page.getByText(`Unit ${a}: scrap`).waitFor();
    await page.getByTestId(`ncr-unit-${a}`).getByText('scrapped', { exact: true }).first().waitFor();
    await page.getByRole('button', { name: 'Close NCR' }).click();
    await signWith(PASSWORD, 'Investigation complete');
    await page.getByTestId('ncr-open-units').waitFor();
    expect((await page.getByTestId('ncr-open-units').locator('li').allInnerTexts()).map((t) => t.split('\n')[0])).toEqual([b]);

    await page.getByTestId(`ncr-unit-${b}`).getByRole('button', { name: 'Disposition…' }).click();
    await form.getByLabel('Decision').selectOption('scrap');
    await form.getByLabel('Reason', { exact: true }).fill('Same defect, board scrapped');
    await form.getByRole('button', { name: 'Disposition: scrap' }).click();
    await page.getByText(`Unit ${b}: scrap`).waitFor();

    // A wrong password is refused in the dialog; nothing closes.
    await page.getByRole('button', { name: 'Close NCR' }).click();
    await signWith('not-my-password', 'All affected units scrapped; corrective action in place');
    const dialog = page.getByTestId('signature-dialog');
    await dialog.locator('.error-panel[data-code="SIGNATURE_INVALID"]').waitFor();
    expect(await dialog.getByLabel('Password', { exact: true }).inputValue()).toBe('');
    await screenshot(page, 'ncr-signature-refused');
    expect((await s().quality.getNcr(ncr.id)).state).toBe('open');

    // The password re-entered: closed and signed.
    await dialog.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await dialog.getByRole('button', { name: /^Sign/ }).click();
    await page.getByText(`${ncr.number} closed and signed`).waitFor();
    await page.locator('[data-verdict="go"]').getByText('Closed', { exact: true }).waitFor();
    const closed = await s().quality.getNcr(ncr.id);
    expect(closed.state).toBe('closed');
    expect(closed.closedBy).toBe(qe.username);
    const sig = await testDb().one<{ meaning: string; reason: string; signer_username: string }>('SELECT meaning, reason, signer_username FROM quality_signatures WHERE id = $1', [closed.closeSignatureId]);
    expect(sig).toEqual({ meaning: 'closed', reason: 'All affected units scrapped; corrective action in place', signer_username: qe.username });
    expect(await page.getByRole('button', { name: 'Close NCR' }).count()).toBe(0);
    await screenshot(page, 'ncr-closed');
    expect(ui.errors).toEqual([]);
  });
});

describe('review queue and holds', () => {
  it('confirms and false-calls machine calls; places a hold by scope and releases it signed', async () => {
    const m = await makeQualityWorkOrder();
    const [u1, u2] = (await s().tracking.generateUnits(system, { workOrder: m.wo.id, count: 2 })).serials as [string, string];
    await s().quality.recordResults(system, [
      { stationId: m.stations.aoi!.id, unit: u1, method: 'aoi', result: 'fail', defects: [{ code: 'BRIDGE', refdes: 'R1' }, { code: 'TOMBSTONE', refdes: 'R2' }] },
      { stationId: m.stations.aoi!.id, unit: u2, method: 'aoi', result: 'fail', defects: [{ code: 'MISSING', refdes: 'R3' }] },
    ]);
    await openMenu(page, 'Defect review');
    const queue = page.getByTestId('review-queue');
    await queue.getByText(u2, { exact: true }).waitFor();
    await screenshot(page, 'defect-review');
    const defects = await s().quality.listDefects({ serial: u1 });
    const bridge = defects.find((d) => d.code === 'BRIDGE')!;
    const tomb = defects.find((d) => d.code === 'TOMBSTONE')!;
    await page.getByTestId(`call-${bridge.id}`).getByRole('button', { name: 'Confirm' }).click();
    await page.getByText('1 call marked confirmed defect').waitFor();
    await page.getByTestId(`call-${tomb.id}`).getByRole('button', { name: 'False call' }).click();
    await page.getByText('1 call marked false call').waitFor();
    const after = await s().quality.listDefects({ serial: u1 });
    expect(Object.fromEntries(after.map((d) => [d.code, d.verification]))).toEqual({ BRIDGE: 'confirmed', TOMBSTONE: 'false_call' });
    expect(await page.getByTestId(`call-${bridge.id}`).count()).toBe(0);

    await openMenu(page, 'Holds');
    await page.getByRole('button', { name: 'Place a hold' }).click();
    const form = page.getByTestId('hold-form');
    await form.getByLabel('Scope').selectOption('work_order');
    await form.getByLabel('Work order number').fill(m.wo.number);
    await form.getByLabel('Reason', { exact: true }).fill('Bridges found on U1; hold until the stencil is checked');
    await form.getByRole('button', { name: 'Place hold' }).click();
    const notice = page.getByText(/^Hold .* placed$/);
    await notice.waitFor();
    const number = (await notice.innerText()).split(' ')[1]!;
    const row = page.getByTestId('holds').locator('tr', { hasText: number });
    await row.waitFor();
    await screenshot(page, 'holds');
    await row.getByRole('button', { name: 'Release' }).click();
    await signWith(PASSWORD, 'Stencil checked and cleaned; units re-inspected');
    await page.getByText(`Hold ${number} released (signed)`).waitFor();
    const held = (await s().quality.listHolds({ workOrderId: m.wo.id })).find((h) => h.number === number)!;
    expect(held.releasedBy).toBe(qe.username);
    expect(held.releaseSignatureId).not.toBeNull();
    expect(ui.errors).toEqual([]);
  });
});
