import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, makeUser, system, tokenFor } from '../helpers.ts';
import { makeTraceLine, newUnits, s, step, type Line } from '../traceability/support.ts';
import { createUser, launchBrowser, login, newPage, openMenu, screenshot, startUiServer, type UiPage, type UiServer } from './support.ts';

/** Traceability in the browser: search → unit genealogy (repair, replaced component); where-used → hold all → refused by the interlock. */

let server: UiServer;
let browser: Browser;
let ui: UiPage;
let page: Page;
let l: Line;
let repaired: string;
let spareCode: string;

beforeAll(async () => {
  [server, browser] = await Promise.all([startUiServer(), launchBrowser()]);
  const qe = await createUser('quality-engineer', 'Quinn Quality');
  // A unit that failed AOI, was repaired (R3 replaced from another reel) and passed the retest.
  l = await makeTraceLine({ customer: 'Northwind Instruments' });
  [repaired] = (await newUnits(l)) as [string];
  await step(l, 'printer', repaired, 'pass', { operator: 'alice' });
  await step(l, 'placement', repaired, 'pass', { operator: 'alice' });
  await step(l, 'aoi', repaired, 'fail', { operator: 'bob' });
  await s().quality.recordResult(system, { stationId: l.stations.aoi!.id, unit: repaired, method: 'aoi', result: 'fail', defects: [{ code: 'MISSING', refdes: 'R3', imageRef: 'img://aoi/R3.png' }] });
  const disp = await s().quality.dispose(system, { serial: repaired, decision: 'repair', reason: 'replace the missing R3' });
  const spare = await l.receive(1, { dateCode: '2410' });
  spareCode = spare.package.code;
  await s().quality.recordRework(system, { serial: repaired, action: 'replaced R3', refdes: 'R3', removedPackage: l.reels[1]!.package.id, newPackage: spareCode, dispositionId: disp.id, operator: 'carol' });
  await step(l, 'rework', repaired, 'pass', { operator: 'carol' });
  await step(l, 'aoi', repaired, 'pass', { operator: 'bob' });
  await s().quality.recordResult(system, { stationId: l.stations.aoi!.id, unit: repaired, method: 'aoi', result: 'pass' });
  ui = await newPage(browser);
  page = ui.page;
  await login(page, server.url, qe.username);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('trace search → unit genealogy', () => {
  it('shows the timeline, the replaced component at its refdes (the removed package kept) and the repair', async () => {
    await openMenu(page, 'Trace');
    await page.getByLabel('Search').fill(repaired);
    await page.getByLabel('Search').press('Enter');
    await page.getByTestId('genealogy').waitFor();
    expect(page.url()).toContain(`/trace/units/${repaired}`);
    const r3 = page.getByTestId('refdes-row-R3');
    await r3.waitFor();
    await expect(r3.getByTestId(`candidate-${spareCode}`).innerText()).resolves.toContain('placed by repair');
    await expect(r3.getByTestId(`candidate-${l.reels[1]!.package.code}`).innerText()).resolves.toContain('removed by repair');
    expect(await page.getByTestId('repairs-table').innerText()).toContain('replaced R3');
    expect(await page.getByTestId('repairs-table').innerText()).toContain(`${l.reels[1]!.package.code} → ${spareCode}`);
    expect(await page.getByTestId('results-table').innerText()).toContain('MISSING');
    const timeline = await page.getByTestId('timeline').innerText();
    for (const t of ['Print (step 10)', 'Place (step 20)', 'AOI (step 30)', 'Repair (step 90)', 'Disposition: repair', 'Repair']) expect(timeline).toContain(t);
    await screenshot(page, 'trace-genealogy');
    await r3.scrollIntoViewIfNeeded();
    await screenshot(page, 'trace-materials');
    expect(ui.errors).toEqual([]);
  });
});

describe('where-used → hold all', () => {
  it('finds the units of a package with counts by state, holds them all in one action, and the interlock then refuses them', async () => {
    const [other] = await newUnits(l);
    await step(l, 'printer', other!);
    await step(l, 'placement', other!);
    const pkg = l.reels[0]!.package.code; // part 0, on S1 for both units
    await openMenu(page, 'Where-used and recall');
    await page.getByTestId('where-used-form').locator('select[name=kind]').selectOption('package');
    await page.getByTestId('where-used-form').locator('input[name=package]').fill(pkg);
    await page.getByRole('button', { name: 'Find units' }).click();
    await page.getByTestId('impact-counts').waitFor();
    expect(await page.getByTestId('count-wip').innerText()).toContain('1');
    expect(await page.getByTestId('count-finished').innerText()).toContain('1');
    expect(await page.getByTestId('where-used-units').innerText()).toContain(other!);
    await screenshot(page, 'trace-where-used');

    await page.getByTestId('hold-all-form').locator('input[name=hold-reason]').fill('Supplier recall of the reel');
    await page.getByRole('button', { name: /^Hold all 2 units/ }).click();
    const created = page.getByTestId('created-hold');
    await created.waitFor();
    const number = (await created.innerText()).replace('Hold ', '').trim();
    expect(number).toMatch(/^H-\d{6}$/);
    // The counts are asked again after the hold: both units are now on hold.
    await page.getByTestId('count-on_hold').locator('.trace-count-value').getByText('2', { exact: true }).waitFor();
    await page.getByTestId('impact-counts').evaluate((el) => el.closest('.panel')?.scrollIntoView({ block: 'start' }));
    await screenshot(page, 'trace-hold-all');

    // The hold covers exactly the two units; the interlock refuses them (checked through the API).
    const hold = (await s().quality.listHolds({ active: true })).find((h) => h.number === number)!;
    expect(hold).toMatchObject({ scope: 'units', source: 'where-used', unitCount: 2 });
    const token = bearer(await tokenFor('operator'));
    for (const serial of [repaired, other!]) {
      const v = await server.app.inject({ method: 'POST', url: '/api/v1/tracking/validate', headers: token, payload: { stationId: l.stations.aoi!.id, identifier: serial } });
      expect(v.statusCode).toBe(200);
      expect(v.json().units[0].refusals.map((r: { code: string }) => r.code)).toContain('HOLD_UNIT');
    }
    const qe = await makeUser('quality-engineer');
    await s().quality.releaseHold(qe.principal, hold.id, { signature: qe.signature('recall closed') });
    expect(ui.errors).toEqual([]);
  });
});
