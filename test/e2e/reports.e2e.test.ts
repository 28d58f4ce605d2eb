import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedHistory } from '../reports/history.ts';
import { createUser, launchBrowser, login, newPage, openMenu, screenshot, startUiServer, type UiPage, type UiServer } from './support.ts';

/** Report screens in the browser, over the known history of test/reports/history.ts. */

let server: UiServer;
let browser: Browser;
let ui: UiPage;
let page: Page;
let h: Awaited<ReturnType<typeof seedHistory>>;

beforeAll(async () => {
  [server, browser, h] = await Promise.all([startUiServer(), launchBrowser(), seedHistory()]);
  const viewer = await createUser('viewer');
  ui = await newPage(browser);
  page = ui.page;
  await login(page, server.url, viewer.username);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const cells = async (testId: string) =>
  Promise.all((await page.getByTestId(testId).locator('tbody tr').all()).map(async (tr) => (await tr.locator('td').allInnerTexts()).map((t) => t.trim())));

describe('reports', () => {
  it('first-pass yield trend shows the known numbers', async () => {
    await openMenu(page, 'First-pass yield');
    await page.getByTestId('report-filter').waitFor();
    await page.goto(`${server.url}/reports/fpy?from=2019-02-01&to=2019-02-02&productId=${h.a.product.id}`);
    await page.getByTestId('fpy-total').getByText('50.0 %').waitFor();
    expect(await page.getByTestId('fpy-units').innerText()).toMatch(/4$/);
    expect(await page.getByTestId('fpy-first-pass').innerText()).toMatch(/2$/);
    expect(await cells('fpy-table')).toEqual([
      ['2019-02-01', `${h.a.product.code} ${h.a.product.name}`, '3', '2', '66.7 %'],
      ['2019-02-02', `${h.a.product.code} ${h.a.product.name}`, '1', '0', '0.0 %'],
    ]);
    const points = await page.getByTestId('fpy-chart').locator('.chart-point').evaluateAll((els) => els.map((e) => [e.getAttribute('data-category'), Number(e.getAttribute('data-value'))]));
    expect(points).toEqual([['02-01', 66.7], ['02-02', 0]]);
    await screenshot(page, 'report-fpy');

    // Per product: both products of the history in their own series.
    await page.goto(`${server.url}/reports/fpy?from=2019-02-01&to=2019-02-02&by=product&lineId=${h.b.line.id}`);
    await page.getByTestId('fpy-total').getByText('100.0 %').waitFor();
    expect((await cells('fpy-table')).map((r) => [r[0], r[1]!.split(' ')[0], r[2], r[3]])).toEqual([['2019-02-01', h.b.product.code, '1', '1']]);
    expect(ui.errors).toEqual([]);
  });

  it('defect Pareto by code and by refdes', async () => {
    await page.goto(`${server.url}/reports/defects?from=2019-02-01&to=2019-02-02&productId=${h.a.product.id}`);
    await page.getByTestId('defect-pareto-table').waitFor();
    expect((await cells('defect-pareto-table')).map((r) => r.slice(0, 5))).toEqual([
      ['BRIDGE', '2', '1', '50.0 %', '50.0 %'],
      ['MISSING', '1', '1', '25.0 %', '75.0 %'],
      ['OPEN', '1', '1', '25.0 %', '100.0 %'],
    ]);
    const bars = await page.getByTestId('defect-pareto').locator('.chart-item').evaluateAll((els) => els.map((e) => [e.getAttribute('data-label'), Number(e.getAttribute('data-value'))]));
    expect(bars).toEqual([['BRIDGE', 2], ['MISSING', 1], ['OPEN', 1]]);
    await screenshot(page, 'report-defects');
    await page.getByLabel('By', { exact: true }).selectOption('refdes');
    await page.getByTestId('defect-pareto-table').getByText('R2', { exact: true }).waitFor();
    expect((await cells('defect-pareto-table')).map((r) => r.slice(0, 3))).toEqual([
      ['R1', '3', '2'],
      ['R2', '1', '1'],
    ]);
    expect(ui.errors).toEqual([]);
  });

  it('OEE by station and downtime Pareto', async () => {
    await page.goto(`${server.url}/reports/oee?from=2019-02-01&to=2019-02-01&lineId=${h.a.line.id}`);
    const oee = page.getByTestId('oee-table');
    await oee.waitFor();
    const reflow = (await cells('oee-table')).find((r) => r[1] === 'reflow')!;
    expect(reflow.slice(2)).toEqual(['93.8 %', '11.1 %', '98.0 %', '10.2 %', '7.5 h / 8 h', '98 / 100']);
    await screenshot(page, 'report-oee');

    await page.goto(`${server.url}/reports/downtime?from=2019-02-01&to=2019-02-01&lineId=${h.a.line.id}`);
    await page.getByTestId('downtime-table').waitFor();
    expect((await cells('downtime-table')).map((r) => r.slice(0, 4))).toEqual([
      ['unattributed', '1 h', '0', '66.7 %'],
      ['E42', '30 min', '1', '33.3 %'],
    ]);
    await screenshot(page, 'report-downtime');
    await page.getByLabel('By', { exact: true }).selectOption('state');
    await page.getByTestId('downtime-table').getByText('6000', { exact: true }).waitFor();
    expect((await cells('downtime-table')).map((r) => r.slice(0, 2))).toEqual([
      ['6000', '9 h'],
      ['4300', '1 h'],
      ['5300', '30 min'],
    ]);
    expect(ui.errors).toEqual([]);
  });
});
