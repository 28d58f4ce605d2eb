import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { system, testServices, uniq } from '../helpers.ts';
import { createUser, eventually, hasFocus, launchBrowser, login, newPage, openMenu, screenshot, startUiServer, type UiPage, type UiServer } from './support.ts';

let server: UiServer;
let browser: Browser;
let ui: UiPage;
let page: Page;

beforeAll(async () => {
  [server, browser] = await Promise.all([startUiServer(), launchBrowser()]);
  const admin = await createUser('admin');
  ui = await newPage(browser);
  page = ui.page;
  await login(page, server.url, admin.username);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('administration', () => {
  it('creates a user and an API token (secret shown once); refusals show the server reason', async () => {
    await openMenu(page, 'Users');
    await page.getByRole('button', { name: 'Add user' }).click();
    const username = `op.${uniq('').toLowerCase()}`;
    await page.getByLabel('Username', { exact: true }).fill(username);
    await page.getByLabel('Full name', { exact: true }).fill('Olivia Operator');
    await page.getByLabel('Role', { exact: true }).selectOption('operator');
    await page.getByLabel('Initial password', { exact: true }).fill('short');
    await page.getByRole('button', { name: 'Add user' }).last().click();
    // The browser's own check (minlength) is not used: the server's refusal is shown.
    const refusal = page.locator('.error-panel');
    await refusal.waitFor();
    expect(await refusal.innerText()).toMatch(/VALIDATION_FAILED/);
    await page.getByLabel('Initial password', { exact: true }).fill('long enough 1');
    await page.getByRole('button', { name: 'Add user' }).last().click();
    await page.getByTestId('users').getByText(username, { exact: true }).waitFor();
    await screenshot(page, 'users');

    const station = await testServices().factory.stations.create(system, { lineId: null, code: uniq('AOI-'), name: 'AOI', type: 'aoi' });
    await openMenu(page, 'API tokens');
    await page.getByRole('button', { name: 'New token' }).click();
    await page.getByLabel('Name', { exact: true }).fill('AOI-1 CFX bridge');
    await page.getByLabel('Role', { exact: true }).selectOption('machine');
    await page.getByLabel('Limited to stations', { exact: true }).fill(station.code);
    await page.getByRole('button', { name: 'Create token' }).click();
    const secret = page.getByTestId('token-secret');
    await secret.waitFor();
    const token = (await secret.locator('code').innerText()).trim();
    expect(token.length).toBeGreaterThan(20);
    const row = page.getByTestId('tokens').locator('tr', { hasText: 'AOI-1 CFX bridge' });
    expect(await row.innerText()).toContain(station.code);
    await screenshot(page, 'tokens');
    // The secret is a working credential.
    const me = await fetch(`${server.url}/api/v1/auth/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(((await me.json()) as { role: string }).role).toBe('machine');
    expect(ui.errors).toEqual([]);
  });

  it('factory, parts and AVL screens list and change master data', async () => {
    const s = testServices();
    const site = await s.factory.sites.create(system, { code: uniq('PLANT-'), name: 'Main plant', timezone: 'Europe/Berlin' });
    const line = await s.factory.lines.create(system, { siteId: site.id, code: uniq('SMT1-'), name: 'SMT line 1' });
    const types = ['printer', 'spi', 'placement', 'reflow', 'aoi'] as const;
    for (const [i, type] of types.entries()) {
      await s.factory.stations.create(system, { lineId: line.id, code: `${line.code}-${type.toUpperCase()}`, name: `${type} ${i + 1}`, type, seq: (i + 1) * 10 });
    }
    await openMenu(page, 'Factory');
    await page.getByRole('button', { name: 'Add station' }).click();
    await page.getByLabel('Line', { exact: true }).selectOption({ label: `${line.code} — SMT line 1` });
    await page.getByLabel('Code', { exact: true }).fill(`${line.code}-AXI`);
    await page.getByLabel('Name', { exact: true }).fill('X-ray');
    await page.getByLabel('Type', { exact: true }).selectOption('axi');
    await page.getByLabel('Order on the line', { exact: true }).fill('60');
    await page.getByRole('button', { name: 'Add station' }).last().click();
    await page.getByText(`Added station ${line.code}-AXI`).waitFor();
    await page.getByRole('searchbox', { name: 'Filter stations' }).fill(line.code);
    const stationRows = page.getByTestId('stations').locator('tbody tr');
    expect(await eventually(() => stationRows.count(), (n) => n === 6)).toBe(6);
    await screenshot(page, 'factory');

    const ipn = uniq('R-10K-');
    await openMenu(page, 'Parts');
    await page.getByRole('button', { name: 'Add part' }).click();
    await page.getByLabel('IPN', { exact: true }).fill(ipn);
    await page.getByLabel('Description', { exact: true }).fill('Resistor 10k 1% 0402');
    await page.getByLabel('Package', { exact: true }).fill('0402');
    await page.getByRole('button', { name: 'Add part' }).last().click();
    await page.getByText(`Added part ${ipn}`).waitFor();
    // A duplicate IPN is refused with the server's reason.
    await page.getByRole('button', { name: 'Add part' }).click();
    await page.getByLabel('IPN', { exact: true }).fill(ipn);
    await page.getByRole('button', { name: 'Add part' }).last().click();
    await page.locator('.error-panel[data-code="DUPLICATE"]').waitFor();
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('searchbox', { name: 'Filter parts' }).fill(ipn);
    await page.getByTestId('parts').getByText(ipn, { exact: true }).waitFor();
    await screenshot(page, 'parts');

    await page.getByTestId('parts').getByText(ipn, { exact: true }).click(); // → AVL of this part
    await page.getByRole('heading', { name: 'Approved vendor list', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Add AVL entry' }).click();
    await page.getByLabel('Manufacturer', { exact: true }).fill('Yageo');
    await page.getByLabel('MPN', { exact: true }).last().fill('RC0402FR-0710KL');
    await page.getByRole('button', { name: 'Save entry' }).click();
    await page.getByText(`AVL entry ${ipn} / RC0402FR-0710KL: created`).waitFor();
    await s.parts.upsertAvlEntry(system, { ipn, manufacturer: 'Vishay', mpn: 'CRCW040210K0FKED', alternate: true, preference: 2 });
    await page.getByRole('button', { name: 'Show' }).click();
    const avl = page.getByTestId('avl');
    await avl.getByText('CRCW040210K0FKED').click();
    await page.getByText('No permission: this alternate may not be used in any build.').waitFor();
    await screenshot(page, 'avl');
    expect(ui.errors).toEqual([]);
  });
  it('imports a parts file with per-line errors, and shows the change in the audit trail', async () => {
    await openMenu(page, 'Import');
    await page.getByLabel('What to import', { exact: true }).selectOption('parts');
    const ipn = uniq('IMP-');
    const file = (rows: string[]) => ({ name: 'parts.csv', mimeType: 'text/csv', buffer: Buffer.from(rows.join('\n') + '\n') });
    await page.getByLabel('Parts (CSV)', { exact: true }).setInputFiles(file(['IPN,Description,Package,MSL', `${ipn}-1,Resistor,0402,1`, `,No number,0603,1`, `${ipn}-3,MCU,QFN-48,7`]));
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    const refused = page.locator('[data-verdict="nogo"]');
    await refused.waitFor();
    const lines = await Promise.all((await refused.getByTestId('field-errors').locator('tbody tr').all()).map(async (tr) => (await tr.locator('td').first().textContent())?.trim()));
    expect(lines).toEqual(['3', '4']);
    expect(await refused.innerText()).toContain('MSL "7" is not one of');

    await page.getByLabel('Parts (CSV)', { exact: true }).setInputFiles(file(['IPN,Description,Package,MSL', `${ipn}-1,Resistor,0402,1`, `${ipn}-3,MCU,QFN-48,3`]));
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page.locator('[data-verdict="go"]').getByText('2 created, 0 updated, 0 unchanged.').waitFor();

    await openMenu(page, 'Audit trail');
    await page.getByLabel('Record type', { exact: true }).fill('part');
    await page.getByRole('button', { name: 'Show', exact: true }).click();
    await page.getByRole('cell', { name: /^part #/ }).first().waitFor();
    await page.getByRole('cell', { name: /^part #/ }).first().click();
    await page.getByRole('heading', { name: 'After', exact: true }).waitFor();
    await screenshot(page, 'audit');
    expect(ui.errors).toEqual([]);
  });
});

describe('shop floor', () => {
  it('the AVL check takes scans (code + Enter), keeps the focus, and shows green or red with the reason', async () => {
    const s = testServices();
    const ipn = uniq('C-100N-');
    await s.parts.parts.create(system, { ipn, description: 'Capacitor 100n 0402 X7R', package: '0402', mslLevel: '1' });
    await s.parts.upsertAvlEntry(system, { ipn, manufacturer: 'Murata', mpn: `${ipn}-GRM155` });
    const op = await createUser('operator');
    const { page: p, context, errors } = await newPage(browser);
    await login(p, server.url, op.username);
    await openMenu(p, 'AVL check');
    const scan = p.locator('#part-check-scan');
    await scan.waitFor();
    expect(await eventually(() => hasFocus(p, 'part-check-scan'), (f) => f)).toBe(true);

    // A keyboard-wedge scanner types fast and ends with Enter.
    await p.keyboard.type(ipn, { delay: 2 });
    await p.keyboard.press('Enter');
    await p.getByText(`Scan the MPN of the reel for ${ipn}`).waitFor();
    expect(await eventually(() => hasFocus(p, 'part-check-scan'), (f) => f)).toBe(true);

    await p.keyboard.type(`${ipn}-GRM155`, { delay: 2 });
    await p.keyboard.press('Enter');
    await p.locator('[data-verdict="go"]').waitFor();
    expect(await p.locator('[data-verdict="go"]').innerText()).toContain(`Murata ${ipn}-GRM155 is an approved source for ${ipn}`);
    expect(await eventually(() => hasFocus(p, 'part-check-scan'), (f) => f)).toBe(true);
    expect(await scan.inputValue()).toBe('');
    await screenshot(p, 'avl-check-go');

    // A tap elsewhere on the page gives the focus back to the scan field.
    await p.locator('.page-header h1').click();
    expect(await eventually(() => hasFocus(p, 'part-check-scan'), (f) => f)).toBe(true);
    await p.keyboard.type('WRONG-REEL-123', { delay: 2 });
    await p.keyboard.press('Enter');
    const nogo = p.locator('[data-verdict="nogo"]');
    await nogo.waitFor();
    expect(await nogo.innerText()).toContain(`WRONG-REEL-123 is not on the AVL for ${ipn}`);
    expect(await nogo.innerText()).toContain('MPN_NOT_ON_AVL');
    expect(await eventually(() => hasFocus(p, 'part-check-scan'), (f) => f)).toBe(true);
    await screenshot(p, 'avl-check-nogo');
    expect(errors).toEqual([]);
    await context.close();
  });
});
