import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeLine, makeProduct, system, testServices, uniq } from '../helpers.ts';
import { createUser, launchBrowser, login, menu, newPage, screenshot, startUiServer, type UiPage, type UiServer } from './support.ts';

let server: UiServer;
let browser: Browser;
let ui: UiPage;
let page: Page;

beforeAll(async () => {
  [server, browser] = await Promise.all([startUiServer(), launchBrowser()]);
  const planner = await createUser('planner', 'Paula Planner');
  ui = await newPage(browser);
  page = ui.page;
  await login(page, server.url, planner.username);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('work orders', () => {
  it('created from the screen, release refused with every reason, released, held and resumed; progress and build basis shown', async () => {
    const s = testServices();
    const made = await makeProduct();
    const { line } = await makeLine(['printer', 'placement', 'aoi', 'rework']);
    const number = uniq('WO-UI-');

    await menu(page).getByRole('link', { name: 'Work orders', exact: true }).click();
    await page.getByRole('heading', { name: 'Work orders', exact: true }).waitFor();
    await page.getByRole('button', { name: 'New work order' }).click();
    const form = page.getByTestId('wo-form');
    await form.getByLabel('Work order number').fill(number);
    await form.getByLabel('Product revision').selectOption({ label: `${made.product.code} rev A` });
    await form.getByLabel('Quantity').fill('12');
    await form.getByLabel('Due date').fill('2030-06-30');
    await form.getByLabel('Customer', { exact: true }).fill('Acme Drives');
    // No line: the release will be refused for it.
    await form.getByRole('button', { name: 'Create work order' }).click();
    await page.getByRole('heading', { name: new RegExp(number) }).waitFor();
    const wo = (await s.workOrders.list({ number }))[0]!;
    expect(wo).toMatchObject({ state: 'planned', quantity: 12, dueDate: '2030-06-30', lineId: null, customer: 'Acme Drives' });

    // The release check lists the reason before anyone tries; trying gives the server's refusal with it.
    const refused = page.locator('[data-verdict="nogo"]');
    await refused.getByText('Cannot be released').waitFor();
    await page.getByRole('button', { name: 'Release', exact: true }).click();
    await page.locator('[data-verdict="nogo"][data-verdict]').waitFor();
    await page.locator('.verdict-code', { hasText: 'RULE_VIOLATION' }).waitFor();
    const codes = await Promise.all((await page.getByTestId('release-blockers').locator('li').all()).map((li) => li.getAttribute('data-code')));
    expect(codes).toContain('line_missing');
    expect(await page.getByTestId('release-blockers').innerText()).toContain('the work order has no line');
    expect((await s.workOrders.get(wo.id)).state).toBe('planned');
    await screenshot(page, 'work-order-release-refused');

    // The planner assigns the line, then releases.
    await page.getByRole('button', { name: 'Edit', exact: true }).click();
    const edit = page.getByTestId('wo-edit');
    await edit.getByLabel('Line').selectOption(String(line.id));
    await edit.getByRole('button', { name: 'Save' }).click();
    await page.getByText(`${number} saved.`).waitFor();
    expect((await s.workOrders.get(wo.id)).lineId).toBe(line.id);
    await page.locator('[data-verdict="go"]').getByText('Ready to release').waitFor();
    await page.getByRole('button', { name: 'Release', exact: true }).click();
    await page.getByText(`Release: ${number} is now released.`).waitFor();
    const released = await s.workOrders.get(wo.id);
    expect(released.state).toBe('released');
    expect(released.basisHash).toMatch(/^[0-9a-f]{64}$/);

    // Hold needs a reason; release hold brings it back.
    await page.getByRole('button', { name: 'Hold', exact: true }).click();
    await page.getByLabel('Reason').fill('Customer asked to stop: ECO pending');
    await page.locator('form.wo-reason').getByRole('button', { name: 'Hold' }).click();
    await page.getByText(`Hold: ${number} is now on hold.`).waitFor();
    expect((await s.workOrders.get(wo.id)).state).toBe('on_hold');
    await page.getByRole('button', { name: 'Release hold' }).click();
    await page.getByText(`Release hold: ${number} is now released.`).waitFor();
    expect((await s.workOrders.get(wo.id)).state).toBe('released');

    // Progress per state and per step.
    await s.tracking.generateUnits(system, { workOrder: wo.id, count: 5 });
    const [first] = (await s.tracking.listUnits({ workOrderId: wo.id })).map((u) => u.serial);
    const printer = (await s.factory.stations.list({ lineId: line.id })).find((x) => x.type === 'printer')!;
    await s.tracking.complete(system, { stationId: printer.id, identifier: first!, result: 'pass' });
    await page.getByRole('link', { name: 'Progress' }).click();
    const counts = page.getByTestId('wo-counts');
    await counts.waitFor();
    expect(await counts.innerText()).toMatch(/Created\s*5/);
    const steps = page.getByTestId('wo-steps');
    expect(await steps.locator('tbody tr').first().innerText()).toMatch(/10 Print\s+printer\s+4\s+0/);
    expect(await steps.locator('tbody tr').nth(1).innerText()).toMatch(/20 Place\s+placement\s+1/);
    await screenshot(page, 'work-order-progress');

    // The build basis: contents and the hash the server stored.
    await page.getByRole('link', { name: 'Build basis' }).click();
    await page.getByTestId('basis-hash').waitFor();
    expect(await page.getByTestId('basis-hash').innerText()).toBe(released.basisHash);
    expect(await page.locator('.kv').innerText()).toMatch(new RegExp(`${made.product.code} rev A[\\s\\S]*3 lines, 6 placements[\\s\\S]*10 Print → 20 Place → 30 AOI → 90 Repair`));
    await screenshot(page, 'work-order-basis');

    // The list filters by state and product, on the server.
    const other = await s.workOrders.create(system, { number: uniq('WO-UI-'), productRevisionId: made.revision.id, quantity: 3, lineId: line.id, dueDate: '2031-01-31' });
    await menu(page).getByRole('link', { name: 'Work orders', exact: true }).click();
    const searched = page.waitForRequest((req) => req.url().includes('/api/v1/work-orders?') && new URL(req.url()).searchParams.get('q') === made.product.code);
    await page.getByLabel('Product').fill(made.product.code);
    await searched;
    const table = page.getByTestId('work-orders');
    await table.getByText(other.number).waitFor();
    // The first passage started the order (in progress); the other one is still planned.
    const state = (await s.workOrders.get(wo.id)).state;
    expect(['released', 'in_progress']).toContain(state);
    await page.getByLabel('State').selectOption(state);
    await table.getByText(other.number).waitFor({ state: 'detached' });
    await table.getByText(number).waitFor();
    await page.getByLabel('State').selectOption('');
    const dueFiltered = page.waitForRequest((req) => req.url().includes('/api/v1/work-orders?') && new URL(req.url()).searchParams.get('dueBy') === '2030-12-31');
    await page.getByLabel('Due by').fill('2030-12-31');
    await dueFiltered;
    await table.getByText(other.number).waitFor({ state: 'detached' });
    await table.getByText(number).waitFor();
    await page.getByLabel('Due by').fill('');
    await table.getByText(other.number).waitFor();
    await screenshot(page, 'work-orders');

    // Cancel needs a reason.
    await table.getByText(other.number).click();
    await page.getByRole('button', { name: 'Cancel order' }).click();
    await page.getByLabel('Reason').fill('Duplicate of the ERP order');
    await page.locator('form.wo-reason').getByRole('button', { name: 'Cancel order' }).click();
    await page.getByText(`Cancel order: ${other.number} is now cancelled.`).waitFor();
    expect((await s.workOrders.get(other.id)).state).toBe('cancelled');
    expect(ui.errors).toEqual([]);
  });
});
