import net, { type AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProduct, system, testServices, uniq } from '../helpers.ts';
import { createUser, launchBrowser, login, newPage, openMenu, screenshot, startUiServer, type UiPage, type UiServer } from './support.ts';

/** Materials screens in the browser: receiving by label scan, inventory, MSL countdowns, bakes. */

let server: UiServer;
let browser: Browser;
let ui: UiPage;
let page: Page;

beforeAll(async () => {
  [server, browser] = await Promise.all([startUiServer(), launchBrowser()]);
  const tech = await createUser('technician');
  ui = await newPage(browser);
  page = ui.page;
  await login(page, server.url, tech.username);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const s = () => testServices();
const RS = '\x1e', GS = '\x1d', EOT = '\x04';
/** An EIGP 114 label as a 2D scanner delivers it (ISO/IEC 15434 envelope, format 06). */
const eigp = (fields: string[]) => `[)>${RS}06${GS}${fields.join(GS)}${RS}${EOT}`;

async function scanLabel(raw: string) {
  await page.locator('#label-scan').fill(raw);
  await page.locator('#label-scan').press('Enter');
}

describe('receiving', () => {
  it('receives a package by scanning the manufacturer label, shows the parsed fields and the MES label; refusals name the problem', async () => {
    const p = await makeProduct();
    const mpn = `${p.product.code}-MPN0`;
    const lot = uniq('LOT');
    await openMenu(page, 'Receive');
    await page.getByLabel('Store place').fill('A-03-2');
    await scanLabel(eigp([`1P${mpn}`, 'Q2500', `1T${lot}`, '9D2312', '1VAcme', '4LCN', `3S${uniq('SN')}`]));
    const go = page.locator('[data-verdict="go"]');
    await go.waitFor();
    const text = await go.innerText();
    expect(text).toMatch(/received/i);
    expect(text).toContain(`2500 × ${mpn} for ${p.partIpns[0]}`);
    expect(text).toContain('store A-03-2');
    const parsed = page.getByTestId('parsed-label');
    expect(await parsed.locator('[data-field="mpn"]').innerText()).toBe(mpn);
    expect(await parsed.locator('[data-field="quantity"]').innerText()).toBe('2500');
    expect(await parsed.locator('[data-field="lotCode"]').innerText()).toBe(lot);
    expect(await parsed.locator('[data-field="dateCode"]').innerText()).toBe('2312');
    expect(await parsed.locator('[data-field="countryOfOrigin"]').innerText()).toBe('CN');
    // The MES label preview (PNG with a Data Matrix) is loaded.
    const img = page.getByTestId('label-preview');
    await img.waitFor();
    await page.waitForFunction(`(document.querySelector('[data-testid="label-preview"]')?.naturalWidth ?? 0) > 0`);
    const [pkg] = await s().materials.listPackages({ ipn: p.partIpns[0]! });
    expect(pkg).toMatchObject({ quantity: 2500, mpn, lotCode: lot, dateCode: '2312', status: 'available' });
    expect(pkg!.location).toMatchObject({ kind: 'store', place: 'A-03-2' });
    await screenshot(page, 'receive');

    // Printed on the workstation's network label printer: the ZPL arrives over raw TCP.
    const received: Buffer[] = [];
    const printer = net.createServer((sock) => sock.on('data', (d) => received.push(d)));
    await new Promise<void>((r) => printer.listen(0, '127.0.0.1', r));
    try {
      const port = (printer.address() as AddressInfo).port;
      await page.getByLabel('Label printer (host or host:port)').fill(`127.0.0.1:${port}`);
      await page.getByRole('button', { name: 'Use printer' }).click();
      await page.getByRole('button', { name: `Print on 127.0.0.1:${port}` }).click();
      await page.getByText(new RegExp(`^Label sent to 127\\.0\\.0\\.1:${port} \\(\\d+ bytes\\)$`)).waitFor();
      const zpl = Buffer.concat(received).toString('utf8');
      expect(zpl.startsWith('^XA')).toBe(true);
      expect(zpl).toContain(pkg!.code);
    } finally {
      printer.close();
    }

    // An MPN that is not on the AVL is refused.
    await scanLabel(eigp([`1P${uniq('NOPE-')}`, 'Q100', `1T${lot}`]));
    const refused = page.locator('[data-verdict="nogo"]');
    await refused.waitFor();
    expect(await refused.innerText()).toContain('MPN_NOT_ON_AVL');
    // A label without a quantity: the parser names the missing data identifier.
    await scanLabel(eigp([`1P${mpn}`, `1T${lot}`]));
    await page.locator('[data-verdict="nogo"] .verdict-code').getByText('LABEL_FIELD_MISSING', { exact: true }).waitFor();
    expect(await page.locator('[data-verdict="nogo"]').innerText()).toMatch(/\bQ\b/);
    await screenshot(page, 'receive-refused');
    expect((await s().materials.listPackages({ ipn: p.partIpns[0]! })).length).toBe(1);

    // Check only: what receiving would do (same lot again), nothing written; then received on request.
    await page.getByLabel('Check only: show what would be received, receive nothing').check();
    await scanLabel(eigp([`1P${mpn}`, 'Q1200', `1T${lot}`, '9D2312', '1VAcme']));
    const preview = page.locator('[data-verdict="warn"]');
    await preview.getByText('Preview', { exact: true }).waitFor();
    expect(await preview.innerText()).toContain(`Not received. Receiving would book 1200 × ${mpn} for ${p.partIpns[0]}, existing lot ${lot}`);
    expect(await page.getByTestId('parsed-label').locator('[data-field="quantity"]').innerText()).toBe('1200');
    expect((await s().materials.listPackages({ ipn: p.partIpns[0]! })).length).toBe(1);
    await screenshot(page, 'receive-preview');
    await preview.getByRole('button', { name: 'Receive it now' }).click();
    await page.locator('[data-verdict="go"]').getByText('Received').waitFor();
    expect((await s().materials.listPackages({ ipn: p.partIpns[0]! })).map((x) => x.quantity).sort()).toEqual([1200, 2500]);
    await page.getByLabel('Check only: show what would be received, receive nothing').uncheck();
    expect(ui.errors).toEqual([]);
  });
});

describe('inventory and floor life', () => {
  it('lists packages and stock; counts down the floor life of an exposed MSL 3 reel, amber when under eight hours', async () => {
    const p = await makeProduct();
    const ipn = p.partIpns[0]!; // MSL 3: 168 h floor life
    const r = await s().materials.receive(system, { ipn, mpn: `${p.product.code}-MPN0`, quantity: 3000, lotCode: uniq('L'), location: { kind: 'store', place: 'B-01' } });
    const other = await s().materials.receive(system, { ipn: p.partIpns[1]!, mpn: `${p.product.code}-MPN1`, quantity: 5000, lotCode: uniq('L') });
    // Opened 161 hours ago: 7 hours left.
    await s().materials.recordMsdEvent(system, r.package.id, { type: 'opened', at: new Date(Date.now() - 161 * 3600_000) });

    await openMenu(page, 'Inventory');
    // The search is the server's: the list request carries it.
    const searched = page.waitForRequest((req) => req.url().includes('/api/v1/packages?') && new URL(req.url()).searchParams.get('q') === p.product.code);
    await page.getByLabel('Part number').fill(p.product.code);
    await searched;
    const table = page.getByTestId('packages');
    await table.getByText(r.package.code, { exact: true }).waitFor();
    await table.getByText(other.package.code, { exact: true }).waitFor();
    await screenshot(page, 'inventory');
    await page.getByLabel('View').selectOption('stock');
    const stock = page.getByTestId('stock');
    await stock.getByText(ipn, { exact: true }).waitFor();
    expect(await stock.locator('tr', { hasText: ipn }).innerText()).toContain('3000');
    await screenshot(page, 'stock');

    await openMenu(page, 'MSL floor life');
    const row = page.getByTestId(`msl-${r.package.code}`);
    await row.waitFor();
    const countdown = row.locator('.countdown');
    expect(await countdown.getAttribute('class')).toContain('countdown-warn');
    const left = Number(await countdown.getAttribute('data-remaining-ms'));
    expect(left).toBeGreaterThan(6.9 * 3600_000);
    expect(left).toBeLessThanOrEqual(7 * 3600_000);
    expect(await countdown.innerText()).toMatch(/^0[67]:\d\d:\d\d$/);
    // It counts down live.
    await page.waitForTimeout(1500);
    const later = Number(await countdown.getAttribute('data-remaining-ms'));
    expect(later).toBeLessThan(left);
    expect(await page.getByTestId('msl').getByText(other.package.code).count()).toBe(0);
    await screenshot(page, 'msl');

    // Into dry storage: the clock stops, the package leaves the countdown list.
    await row.getByRole('button', { name: 'Dry storage' }).click();
    await page.getByText(`${r.package.code}: into dry storage, clock stopped`).waitFor();
    await page.getByTestId(`msl-${r.package.code}`).waitFor({ state: 'detached' });
    expect((await s().materials.getPackage(r.package.id)).msd.state).toBe('dry-storage');

    await openMenu(page, 'Bakes');
    await page.locator('#bake-scan').fill(r.package.code);
    await page.locator('#bake-scan').press('Enter');
    await page.getByTestId('bake-batch').getByText(r.package.code).waitFor();
    await page.getByLabel('Oven', { exact: true }).fill('OVEN-2');
    await page.getByLabel('Duration (minutes)').fill('540');
    await page.getByRole('button', { name: 'Record bake of 1 package' }).click();
    await page.getByText(/^Bake \d+ recorded: 1 package/).waitFor();
    await page.getByTestId('bakes').getByText(r.package.code).waitFor();
    await screenshot(page, 'bakes');

    // A stencil due for cleaning and a paste jar: the screen says which is usable now.
    const stencil = await s().materials.createStencil(system, { code: uniq('STN-'), productRevisionId: p.revision.id, thicknessUm: 120, cleaningInterval: 10, maxUsage: 50000 });
    await s().materials.recordStencilUse(system, stencil.id, { prints: 12 });
    const jar = await s().materials.receive(system, { ipn: p.partIpns[2]!, mpn: `${p.product.code}-MPN2`, quantity: 1, lotCode: uniq('PASTE'), kind: 'paste-jar', expiresAt: new Date(Date.now() + 90 * 86400_000) });
    await openMenu(page, 'Paste and stencils');
    const stencilRow = page.getByTestId('stencils').locator('tr', { hasText: stencil.code });
    await stencilRow.waitFor();
    expect(await stencilRow.innerText()).toContain('12 / 10');
    expect(await stencilRow.locator('.badge-bad').count()).toBe(1);
    const jarRow = page.getByTestId('paste-jars').locator('tr', { hasText: jar.package.code });
    await jarRow.getByRole('button', { name: 'Thaw' }).click();
    await page.getByText(`${jar.package.code}: thawing started`).waitFor();
    await stencilRow.getByRole('button', { name: 'Cleaned' }).click();
    await page.getByText(`${stencil.code}: cleaned`).waitFor();
    await page.getByTestId('stencils').locator('tr', { hasText: stencil.code }).locator('.badge-good').waitFor();
    await screenshot(page, 'paste-stencils');
    expect(ui.errors).toEqual([]);
  });
});
