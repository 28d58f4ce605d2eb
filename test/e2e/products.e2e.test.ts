import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProduct, system, testServices, uniq } from '../helpers.ts';
import { createUser, eventually, launchBrowser, login, newPage, screenshot, startUiServer, type UiPage, type UiServer } from './support.ts';

let server: UiServer;
let browser: Browser;
let ui: UiPage;
let page: Page;

beforeAll(async () => {
  [server, browser] = await Promise.all([startUiServer(), launchBrowser()]);
  const engineer = await createUser('process-engineer');
  ui = await newPage(browser);
  page = ui.page;
  await login(page, server.url, engineer.username);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** A product with a draft revision and nothing else in it. */
async function draftRevision() {
  const s = testServices();
  const code = uniq('CTRL-');
  const product = await s.products.products.create(system, { code, name: 'Motor controller board', customer: 'Acme Drives' });
  const rev = await s.products.createRevision(system, { productId: product.id, revision: 'A', bomRevision: 'A', gerberRevision: '3' });
  return { product, rev, code };
}

const csv = (rows: string[]) => ({ name: 'bom.csv', mimeType: 'text/csv', buffer: Buffer.from(rows.join('\n') + '\n') });

async function importFile(file: ReturnType<typeof csv>) {
  await page.getByLabel('BOM file (CSV)', { exact: true }).setInputFiles(file);
  await page.getByTestId('import-file').getByText(file.name).waitFor();
  await page.getByRole('button', { name: 'Import BOM' }).click();
}

describe('BOM import', () => {
  it('a bad file is refused whole with every error by line; a good one is imported and shown', async () => {
    const { rev, code } = await draftRevision();
    await page.goto(`${server.url}/revisions/${rev.id}`);
    await page.getByRole('link', { name: 'Import BOM' }).click();
    await page.getByRole('heading', { name: /Import a BOM/ }).waitFor();

    const header = 'Item,Part Number,Description,Qty,Reference Designators,Manufacturer,MPN';
    await importFile(
      csv([
        header,
        `1,${code}-R10K,Resistor 10k 0402,2,"R1, R2",Yageo,RC0402FR-0710KL`,
        `2,${code}-C100N,Capacitor 100n 0402,3,"C1, C2",Murata,GRM155R71C104KA88D`,
        `3,${code}-U1,MCU QFN-48,0,,ST,STM32G431CBU6`,
        `4,${code}-D1,LED 0603,1,R1,Kingbright,APT1608SGC`,
      ]),
    );
    const refused = page.locator('[data-verdict="nogo"]');
    await refused.waitFor();
    expect(await refused.innerText()).toMatch(/nothing was imported/i);
    const rows = refused.getByTestId('field-errors').locator('tbody tr');
    const cells = await Promise.all((await rows.all()).map(async (tr) => (await tr.locator('td').allTextContents()).map((t) => t.trim())));
    // Line 3: 2 designators for quantity 3; line 4: quantity 0; line 5: R1 used twice.
    expect(cells.map((c) => c[0])).toEqual(['3', '4', '5']);
    expect(cells.find((c) => c[0] === '3')?.join(' ')).toMatch(/2 reference designators for quantity 3/);
    expect(cells.find((c) => c[0] === '4')?.join(' ')).toMatch(/quantity must be a positive number, got 0/);
    expect(cells.find((c) => c[0] === '5')?.join(' ')).toMatch(/R1 is also on BOM line 1/);
    await screenshot(page, 'bom-import-errors');
    expect((await testServices().products.getBom(rev.id)).length).toBe(0);

    await importFile(
      csv([
        header + ',Alternates',
        `1,${code}-R10K,Resistor 10k 0402,4,"R1-R4",Yageo,RC0402FR-0710KL,Vishay:CRCW040210K0FKED`,
        `2,${code}-C100N,Capacitor 100n 0402,3,"C1, C2, C3",Murata,GRM155R71C104KA88D,`,
        `3,${code}-U1,MCU QFN-48,1,U1,ST,STM32G431CBU6,`,
        `4,${code}-D1,LED green 0603,2,"D1 D2",Kingbright,APT1608SGC,`,
        `5,${code}-J1,Connector 2x5,1,J1,Amphenol,20021121-00010C4LF,`,
      ]),
    );
    const ok = page.locator('[data-verdict="go"]');
    await ok.waitFor();
    expect(await ok.innerText()).toMatch(/5 lines, 11 placements; 5 parts and 6 AVL entries created/);
    await screenshot(page, 'bom-import-success');

    await ok.getByRole('link', { name: 'View the BOM' }).click();
    const bom = page.getByTestId('bom');
    await bom.waitFor();
    expect(await eventually(() => bom.locator('tbody tr').count(), (n) => n === 5)).toBe(5);
    expect(await bom.innerText()).toContain('R1 R2 R3 R4');
    await page.getByRole('heading', { name: '5 BOM lines · 11 placements', exact: true }).waitFor();
    await screenshot(page, 'bom');
    expect(ui.errors).toEqual([]);
  });
});

describe('release', () => {
  it('an incomplete revision shows every blocker; a complete one is released from the screen', async () => {
    const { rev, code } = await draftRevision();
    const s = testServices();
    await s.parts.parts.create(system, { ipn: `${code}-NOAVL`, description: 'Part without an approved source' });
    await s.products.replaceBom(system, rev.id, [{ lineNo: 1, ipn: `${code}-NOAVL`, quantity: 1, refdes: ['U7'] }]);
    await page.goto(`${server.url}/revisions/${rev.id}/release`);
    const blocked = page.locator('[data-verdict="nogo"]');
    await blocked.waitFor();
    expect(await blocked.innerText()).toMatch(/cannot be released/i);
    const codes = await Promise.all((await page.getByTestId('blockers').locator('li').all()).map((li) => li.getAttribute('data-code')));
    expect(codes).toEqual(expect.arrayContaining(['route_missing', 'quality_plan_missing', 'no_approved_mpn']));
    expect(await blocked.innerText()).toContain(`part ${code}-NOAVL has no active AVL entry`);
    expect(await page.getByRole('button', { name: /Release revision/ }).count()).toBe(0);
    await screenshot(page, 'release-blockers');

    const ready = await makeProduct({ release: false });
    await page.goto(`${server.url}/revisions/${ready.revision.id}/release`);
    await page.locator('[data-verdict="go"]').getByText('Ready to release').waitFor();
    await page.getByRole('button', { name: 'Release revision A' }).click();
    await page.locator('[data-verdict="go"]').getByText('Released', { exact: true }).waitFor();
    expect((await s.products.getRevision(ready.revision.id)).state).toBe('released');
    expect(await page.locator('h1').innerText()).toContain('released');
    await screenshot(page, 'release-done');
    expect(ui.errors).toEqual([]);
  });
});

describe('engineering views', () => {
  it('products, route with work instructions, and programs with the feeder setup', async () => {
    const p = await makeProduct({ release: false });
    const s = testServices();
    await s.products.replaceRoute(system, p.revision.id, {
      name: 'main',
      steps: [
        { seq: 10, name: 'Print', stationType: 'printer', instructions: 'Stencil ST-100, 0.12 mm. Check paste age on the jar label.' },
        { seq: 20, name: 'Place', stationType: 'placement' },
        {
          seq: 30, name: 'AOI', stationType: 'aoi', onFail: 'repair', repairStepSeq: 90, returnStepSeq: 30, maxRepairLoops: 2, firstArticleGate: true,
          instructions: 'Review every call on the verification station.\nFalse calls are confirmed by a second look, never skipped.',
          checks: [{ code: 'POL', text: 'Polarity of D1 and D2 matches the assembly drawing' }, { code: 'U1', text: 'U1 pin 1 mark at the silkscreen dot' }],
        },
        { seq: 90, name: 'Repair', stationType: 'rework', isRepair: true },
      ],
    });
    await s.products.releaseRevision(system, p.revision.id);
    await page.goto(`${server.url}/products`);
    await page.getByTestId('products').getByText(p.product.code, { exact: true }).waitFor();
    await screenshot(page, 'products');

    await page.getByTestId('products').getByText(p.product.code, { exact: true }).click();
    await page.getByTestId('revisions').waitFor();
    await page.getByTestId('revisions').getByText('released', { exact: true }).click();
    await page.getByRole('heading', { name: 'Engineering package', exact: true }).waitFor();
    await screenshot(page, 'revision');

    await page.getByRole('link', { name: 'Route', exact: true }).click();
    const route = page.getByTestId('route');
    await route.waitFor();
    expect(await eventually(() => route.locator('tbody tr').count(), (n) => n === 4)).toBe(4);
    expect(await route.innerText()).toMatch(/repair at 90 → back to 30 \(max 2\)/);
    await route.getByText('AOI', { exact: true }).click();
    await route.getByRole('heading', { name: 'Required checks', exact: true }).waitFor();
    expect(await route.innerText()).toContain('Polarity of D1 and D2 matches the assembly drawing');
    await screenshot(page, 'route');

    await page.getByRole('link', { name: 'Programs', exact: true }).click();
    const programs = page.getByTestId('programs');
    await programs.getByText(`${p.product.code}-PNP`).click();
    await programs.getByRole('heading', { name: 'Feeder setup (3 slots)', exact: true }).waitFor();
    expect(await programs.innerText()).toContain(`${p.product.code}-PART2`);
    await screenshot(page, 'programs');
    expect(ui.errors).toEqual([]);
  });
});
