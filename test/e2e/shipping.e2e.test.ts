import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { system, testServices } from '../helpers.ts';
import { goodUnits, makeShippable, units } from '../shipping/support.ts';
import { createUser, launchBrowser, login, newPage, openMenu, PASSWORD, screenshot, startUiServer, type UiPage, type UiServer } from './support.ts';

/** Shipping screens in the browser: packing by scan with refusals, clearance blockers, signed release. */

let server: UiServer;
let browser: Browser;
let ui: UiPage;
let page: Page;
let qe: { username: string; id: number };

beforeAll(async () => {
  [server, browser] = await Promise.all([startUiServer(), launchBrowser()]);
  qe = await createUser('quality-engineer');
  ui = await newPage(browser);
  page = ui.page;
  await login(page, server.url, qe.username);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const s = () => testServices();

async function scan(id: string, code: string) {
  await page.locator(`#${id}`).fill(code);
  await page.locator(`#${id}`).press('Enter');
}

describe('packing', () => {
  it('refuses an unfinished unit with every reason, shown big, and packs a finished one', async () => {
    const m = await makeShippable();
    const [good] = await goodUnits(m, 1);
    const [raw] = await units(m, 1);
    await openMenu(page, 'Packing');
    await page.getByLabel('Work order', { exact: true }).fill(m.wo.number);
    await page.getByLabel('Capacity', { exact: true }).fill('5');
    await page.getByRole('button', { name: 'Open carton' }).click();
    await page.getByTestId('carton-count').waitFor();
    expect(await page.getByTestId('carton-count').innerText()).toBe('0 / 5');

    await scan('pack-scan', raw!);
    const nogo = page.locator('[data-verdict="nogo"]');
    await nogo.waitFor();
    expect(await nogo.innerText()).toMatch(/not packed/i);
    expect(await nogo.innerText()).toContain('PACKING_REFUSED');
    const codes = await Promise.all((await page.getByTestId('pack-refusals').locator('li').all()).map((li) => li.getAttribute('data-code')));
    expect(codes).toEqual(expect.arrayContaining(['ROUTE_INCOMPLETE', 'MISSING_REQUIRED_RESULT']));
    expect(await page.getByTestId('pack-refusals').innerText()).toContain(raw!);
    await screenshot(page, 'pack-refused');

    await scan('pack-scan', good!);
    const go = page.locator('[data-verdict="go"]');
    await go.waitFor();
    expect(await go.innerText()).toContain(`${good} is in carton`);
    await page.getByTestId('carton-count').getByText('1 / 5').waitFor();
    await page.getByTestId('carton-units').getByText(good!, { exact: true }).waitFor();
    // The carton label preview: the PNG of its Data Matrix.
    await page.waitForFunction(`(document.querySelector('[data-testid="label-preview"]')?.naturalWidth ?? 0) > 0`);
    await screenshot(page, 'pack');
    const cartons = await s().shipping.listCartons({ workOrderId: m.wo.id });
    expect(cartons.map((c) => c.packed)).toEqual([1]);

    // Another carton, then back to this one by scanning its label (looked up by code on the server).
    await page.getByRole('button', { name: 'Other carton' }).click();
    await page.locator('#carton-scan').waitFor();
    await scan('carton-scan', 'NO-SUCH-CARTON');
    await page.locator('[data-verdict="nogo"]').getByText('There is no carton NO-SUCH-CARTON.').waitFor();
    const lookedUp = page.waitForRequest((req) => req.url().endsWith(`/api/v1/shipping/cartons/by-code/${encodeURIComponent(cartons[0]!.code)}`));
    await scan('carton-scan', cartons[0]!.code);
    await lookedUp;
    await page.getByTestId('carton-count').getByText('1 / 5').waitFor();
    expect(ui.errors).toEqual([]);
  });
});

describe('shipment', () => {
  it('lists every clearance blocker, then releases with a signature once clear', async () => {
    const m = await makeShippable({}, { customer: 'Acme Drives' });
    const serials = await goodUnits(m, 2);
    const carton = await s().shipping.createCarton(system, { workOrder: m.wo.id, capacity: 2 });
    for (const u of serials) await s().shipping.pack(system, carton.id, { identifier: u });
    const hold = await s().quality.placeHold(system, { scope: 'unit', serial: serials[1]!, reasonCode: 'CUSTOMER_COMPLAINT', reason: 'Returned board of the same batch: check before shipping' });

    await openMenu(page, 'Shipments');
    await page.getByRole('button', { name: 'New shipment' }).click();
    await page.getByLabel('Customer', { exact: true }).fill('Acme Drives');
    await page.getByLabel('Customer PO', { exact: true }).fill('PO-4711');
    await page.getByRole('button', { name: 'Create shipment' }).click();
    await scan('shipment-carton-scan', carton.code);
    await page.getByTestId('shipment-cartons').getByText(carton.code, { exact: true }).waitFor();
    const blockers = page.getByTestId('clearance-blockers');
    await blockers.waitFor();
    const items = await blockers.locator('li').all();
    const rows = await Promise.all(items.map(async (li) => ({ code: await li.getAttribute('data-code'), text: await li.innerText() })));
    expect(rows.map((r) => r.code)).toEqual(['ON_HOLD']);
    expect(rows[0]!.text).toContain(serials[1]!);
    await screenshot(page, 'shipment-blocked');

    await s().quality.releaseHold({ kind: 'user', id: qe.id, name: qe.username, role: 'quality-engineer' }, hold.id, { signature: { password: PASSWORD, reason: 'Checked: not affected' } });
    await page.getByRole('button', { name: 'Check again' }).click();
    await page.locator('[data-verdict="go"]').getByText('Clear to ship').waitFor();

    await page.getByRole('button', { name: 'Release shipment' }).click();
    const dialog = page.getByTestId('signature-dialog');
    await dialog.getByLabel('Reason', { exact: true }).fill('Clearance clean; paperwork checked');
    await dialog.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await dialog.getByRole('button', { name: /^Sign/ }).click();
    await page.getByText(/Shipment .* released \(signed\)/).waitFor();
    const shipments = await s().shipping.listShipments({ customer: 'Acme Drives' });
    const released = shipments.find((x) => x.cartons === 1 && x.state === 'released');
    expect(released?.releasedBy).toBe(qe.username);
    expect((await s().shipping.unitShipping(serials[0]!)).shipped).toBe(true);
    await screenshot(page, 'shipment-released');
    await openMenu(page, 'Shipments');
    await page.getByLabel('State').selectOption('');
    await page.getByTestId('shipments').getByText(released!.number, { exact: true }).waitFor();
    await screenshot(page, 'shipments');
    expect(ui.errors).toEqual([]);
  });
});
