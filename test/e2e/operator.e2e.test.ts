import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeLine, makeProduct, system, testServices, uniq } from '../helpers.ts';
import { createUser, eventually, hasFocus, launchBrowser, login, menu, newPage, screenshot, startUiServer, type UiPage, type UiServer } from './support.ts';

let server: UiServer;
let browser: Browser;
let ui: UiPage;
let page: Page;

const SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="420" height="150" viewBox="0 0 420 150">
<rect width="420" height="150" fill="#f4f6f9"/><rect x="150" y="30" width="120" height="90" fill="#222"/>
<circle cx="165" cy="45" r="6" fill="#fff"/><text x="20" y="140" font-family="sans-serif" font-size="16">U1: pin 1 mark at the silkscreen dot</text></svg>`;

/** A released work order whose visual inspection has a tick check and a sign-off check (signed when the unit completes). */
async function signoffWorkOrder() {
  const s = testServices();
  const made = await makeProduct({ release: false });
  await s.products.replaceRoute(system, made.revision.id, {
    name: 'signoff',
    steps: [
      { seq: 10, name: 'Print', stationType: 'printer' },
      { seq: 20, name: 'Visual inspection', stationType: 'visual', onFail: 'repair', repairStepSeq: 90, returnStepSeq: 20,
        instructions: 'Coated board: inspect the coating under UV light.',
        checks: [{ code: 'UV', text: 'Coating covers every pad under UV light' }, { code: 'KEEP-OUT', text: 'Connector J1 keep-out area free of coating', signoff: true }] },
      { seq: 90, name: 'Repair', stationType: 'rework', isRepair: true },
    ],
  });
  await s.products.putQualityPlan(system, made.revision.id, { requiredSteps: ['visual'], traceDepth: 'unit' });
  const revision = await s.products.releaseRevision(system, made.revision.id);
  const { line, stations } = await makeLine(['printer', 'visual', 'rework']);
  const wo = await s.workOrders.create(system, { number: uniq('WO-'), customer: 'Acme', productRevisionId: revision.id, quantity: 10, lineId: line.id });
  await s.workOrders.release(system, wo.id);
  const { serials } = await s.tracking.generateUnits(system, { workOrder: wo.id, count: 3 });
  for (const serial of serials) await s.tracking.complete(system, { stationId: stations.printer!.id, identifier: serial, result: 'pass' });
  return { wo, line, stations, serials };
}

/** A released work order on its own line: print → place → AOI (instructions, two checks, a picture; fail → repair) → repair. */
async function aoiWorkOrder() {
  const s = testServices();
  const made = await makeProduct({ release: false });
  await s.products.replaceRoute(system, made.revision.id, {
    name: 'operator',
    steps: [
      { seq: 10, name: 'Print', stationType: 'printer' },
      { seq: 20, name: 'Place', stationType: 'placement' },
      {
        seq: 30, name: 'Visual inspection', stationType: 'aoi', onFail: 'repair', repairStepSeq: 90, returnStepSeq: 30, maxRepairLoops: 2,
        instructions: 'Inspect the board under the magnifier.\nFalse calls of the AOI are confirmed by a second look, never skipped.',
        checks: [{ code: 'POL', text: 'Polarity of D1 and D2 matches the drawing' }, { code: 'U1', text: 'U1 pin 1 at the silkscreen dot' }],
      },
      { seq: 90, name: 'Repair', stationType: 'rework', isRepair: true },
    ],
  });
  await s.products.addStepAttachment(system, made.revision.id, 30, { filename: 'u1-orientation.svg', contentType: 'image/svg+xml', content: Buffer.from(SVG) });
  await s.products.putQualityPlan(system, made.revision.id, { requiredSteps: ['aoi'], traceDepth: 'unit' });
  const revision = await s.products.releaseRevision(system, made.revision.id);
  const { line, stations } = await makeLine(['printer', 'placement', 'aoi', 'rework']);
  const wo = await s.workOrders.create(system, { number: uniq('WO-'), customer: 'Acme', productRevisionId: revision.id, quantity: 10, lineId: line.id });
  await s.workOrders.release(system, wo.id);
  const { serials } = await s.tracking.generateUnits(system, { workOrder: wo.id, count: 4 });
  return { wo, line, stations, serials };
}

let operator: { username: string; password: string; id: number };

beforeAll(async () => {
  [server, browser] = await Promise.all([startUiServer(), launchBrowser()]);
  operator = await createUser('operator', 'Olga Operator');
  ui = await newPage(browser);
  page = ui.page;
  await login(page, server.url, operator.username);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const verdict = (p: Page) => p.locator('.operator-main [data-verdict]').first();
async function scan(p: Page, code: string) {
  await p.locator('#operator-scan').fill(code);
  await p.locator('#operator-scan').press('Enter');
}

describe('operator station', () => {
  it('picks a station (remembered), refuses a unit that skipped a step with the reason, passes a unit after its checks, records a fail with defects', async () => {
    const s = testServices();
    const m = await aoiWorkOrder();
    const [good, skipped, bad] = m.serials as [string, string, string];
    for (const serial of [good, bad]) {
      await s.tracking.complete(system, { stationId: m.stations.printer!.id, identifier: serial, result: 'pass' });
      await s.tracking.complete(system, { stationId: m.stations.placement!.id, identifier: serial, result: 'pass' });
    }
    await s.tracking.complete(system, { stationId: m.stations.printer!.id, identifier: skipped, result: 'pass' });
    const aoi = m.stations.aoi!;

    await menu(page).getByRole('link', { name: 'Operator station', exact: true }).click();
    await page.getByTestId('station-picker').waitFor();
    await page.getByRole('button', { name: new RegExp(`^${aoi.code}`) }).click();
    await page.getByRole('heading', { name: new RegExp(aoi.code) }).waitFor();
    expect(await eventually(() => hasFocus(page, 'operator-scan'), (f) => f)).toBe(true);

    // The unit that skipped placement: red, with the interlock's sentence and code.
    await scan(page, skipped);
    const refused = verdict(page);
    await page.locator('.operator-main [data-verdict="nogo"]').waitFor();
    const refusedText = await refused.innerText();
    expect(refusedText).toContain('NO GO');
    expect(refusedText).toContain('STEP_OUT_OF_ORDER');
    expect(refusedText).toMatch(/step 20 Place/i);
    expect(await page.getByTestId('operator-actions').count()).toBe(0);
    expect(await eventually(() => hasFocus(page, 'operator-scan'), (f) => f)).toBe(true);
    await screenshot(page, 'operator-nogo');

    // The good unit: green, the step's instructions, checks and picture; pass only after the checks.
    await scan(page, good);
    await page.locator('.operator-main [data-verdict="go"]').waitFor();
    expect(await verdict(page).innerText()).toMatch(new RegExp(`${good} may be processed at step 30 Visual inspection`));
    const wi = page.getByTestId('work-instructions');
    await wi.getByText('Inspect the board under the magnifier.', { exact: false }).waitFor();
    await wi.locator('img[alt="u1-orientation.svg"]').waitFor();
    expect(await wi.locator('img').evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBeGreaterThan(0);
    const pass = page.getByRole('button', { name: 'PASS', exact: true });
    expect(await pass.isDisabled()).toBe(true);
    await page.getByLabel(/Polarity of D1 and D2/).check();
    expect(await eventually(() => hasFocus(page, 'operator-scan'), (f) => f)).toBe(true);
    expect(await pass.isDisabled()).toBe(true);
    await page.getByLabel(/U1 pin 1 at the silkscreen dot/).check();
    await screenshot(page, 'operator-go');
    await pass.click();
    await page.locator('.operator-main [data-verdict="go"]').getByText('PASSED').waitFor();
    expect(await verdict(page).innerText()).toContain('has completed its route');
    expect(await eventually(() => hasFocus(page, 'operator-scan'), (f) => f)).toBe(true);
    const unit = await s.tracking.getUnit(good);
    expect(unit.status).toBe('completed');
    expect(unit.history.at(-1)).toMatchObject({ stepSeq: 30, result: 'pass', stationCode: aoi.code });
    const passResults = await s.quality.listResults({ serial: good });
    expect(passResults.map((r) => [r.method, r.result])).toEqual([['aoi', 'pass']]);

    // Scanning the passed unit again: refused, the step is done.
    await scan(page, good);
    await page.locator('.operator-main [data-verdict="nogo"]').waitFor();
    expect(await verdict(page).innerText()).toMatch(/STEP_ALREADY_PASSED|UNIT_COMPLETED|completed/);

    // A fail with two defects from the searchable list.
    await scan(page, bad);
    await page.locator('.operator-main [data-verdict="go"]').waitFor();
    await page.getByRole('button', { name: 'FAIL…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Record a failure' });
    await dialog.getByLabel('Reference designator').fill('r2');
    await dialog.getByLabel('Defect code').fill('tombst');
    await dialog.getByRole('option', { name: /TOMBSTONE/ }).click();
    await dialog.getByLabel('Reference designator').fill('U1');
    await dialog.getByLabel('Defect code').fill('bridg');
    await dialog.getByLabel('Defect code').press('Enter');
    expect(await dialog.getByTestId('chosen-defects').innerText()).toMatch(/TOMBSTONE @ R2[\s\S]*BRIDGE @ U1/);
    await screenshot(page, 'operator-fail');
    await dialog.getByRole('button', { name: 'Record FAIL' }).click();
    await page.locator('.operator-main [data-verdict="warn"]').getByText('FAIL RECORDED').waitFor();
    expect(await verdict(page).innerText()).toContain('goes to repair at step 90');
    expect(await eventually(() => hasFocus(page, 'operator-scan'), (f) => f)).toBe(true);
    const failed = await s.tracking.getUnit(bad);
    expect(failed.nextStepSeq).toBe(90);
    const defects = await s.quality.listDefects({ serial: bad });
    expect(defects.map((d) => `${d.code}@${d.refdes}`).sort()).toEqual(['BRIDGE@U1', 'TOMBSTONE@R2']);

    // A panel: each position with its own verdict; one held position makes the panel a no-go.
    const panelCode = uniq('PNL');
    const panel = await s.tracking.createPanel(system, { workOrder: m.wo.id, code: panelCode, positions: 4, skipped: [4] });
    await s.tracking.complete(system, { stationId: m.stations.printer!.id, identifier: panelCode, result: 'pass' });
    await s.tracking.complete(system, { stationId: m.stations.placement!.id, identifier: panelCode, result: 'pass' });
    const held = panel.units.find((u) => u.position === 2)!.serial;
    await s.tracking.setHold(system, { scope: 'unit', identifier: held, hold: true, reason: 'Suspected cracked capacitor' });
    await scan(page, panelCode);
    await page.locator('.operator-main [data-verdict="nogo"]').waitFor();
    const positions = page.getByTestId('positions').locator('li');
    expect(await positions.count()).toBe(4);
    expect(await positions.nth(0).getAttribute('data-result')).toBe('passed');
    expect(await positions.nth(1).getAttribute('data-result')).toBe('failed');
    expect(await positions.nth(1).innerText()).toMatch(/UNIT_ON_HOLD|HOLD_UNIT/);
    expect(await positions.nth(3).getAttribute('data-result')).toBe('skipped');
    await screenshot(page, 'operator-panel');
    // Released, the whole panel passes in one go.
    await s.tracking.setHold(system, { scope: 'unit', identifier: held, hold: false, reason: 'Capacitor checked under the microscope' });
    await scan(page, panelCode);
    await page.locator('.operator-main [data-verdict="go"]').waitFor();
    expect(await verdict(page).innerText()).toMatch(/3 of 4 positions may be processed at step 30/);
    await page.getByLabel(/Polarity of D1 and D2/).check();
    await page.getByLabel(/U1 pin 1 at the silkscreen dot/).check();
    await page.getByRole('button', { name: 'PASS', exact: true }).click();
    await page.locator('.operator-main [data-verdict="go"]').getByText('PASSED').waitFor();
    for (const u of (await s.tracking.getPanel(panelCode)).units) expect(u.status).toBe(u.position === 4 ? 'skipped' : 'completed');

    // The station is remembered: opening the entry again goes straight to it.
    await page.goto(`${server.url}/floor/station`);
    await page.getByRole('heading', { name: new RegExp(aoi.code) }).waitFor();
    expect(page.url()).toContain(`/floor/station/${aoi.code}`);
    expect(ui.errors).toEqual([]);
  });

  it('a step with a sign-off: PASS asks for the signature (wrong password refused in the dialog), a refused fail writes nothing', async () => {
    const s = testServices();
    const m = await signoffWorkOrder();
    const [good, failing] = m.serials as [string, string];
    const station = m.stations.visual!;
    await page.goto(`${server.url}/floor/station/${encodeURIComponent(station.code)}`);
    await page.getByRole('heading', { name: new RegExp(station.code) }).waitFor();

    await scan(page, good);
    await page.locator('.operator-main [data-verdict="go"]').waitFor();
    const wi = page.getByTestId('work-instructions');
    expect(await wi.getByTestId('signoff-required').innerText()).toContain('Connector J1 keep-out area free of coating');
    await page.getByLabel(/Coating covers every pad/).check();
    await page.getByRole('button', { name: 'PASS', exact: true }).click();
    const dialog = page.getByTestId('signoff-dialog');
    await dialog.waitFor();
    expect(await dialog.getByTestId('signoff-checks').innerText()).toContain('KEEP-OUT');
    expect(await dialog.getByLabel('Signed by (user)').inputValue()).toBe(operator.username);
    // A wrong password: refused in the dialog, nothing written, the password cleared.
    await dialog.getByLabel('Password').fill('not-my-password');
    await dialog.getByRole('button', { name: 'Sign and complete' }).click();
    await dialog.getByText('SIGNATURE_INVALID').waitFor();
    // The field is cleared on the render after the refusal shows.
    expect(await eventually(() => dialog.getByLabel('Password').inputValue(), (v) => v === '')).toBe('');
    expect((await s.tracking.getUnit(good)).nextStepSeq).toBe(20);
    await dialog.getByLabel('Password').fill(operator.password);
    await screenshot(page, 'operator-signoff');
    await dialog.getByRole('button', { name: 'Sign and complete' }).click();
    await page.locator('.operator-main [data-verdict="go"]').getByText('PASSED').waitFor();
    expect(await verdict(page).innerText()).toContain('Signed off by Olga Operator');
    expect(await dialog.count()).toBe(0);
    expect(await eventually(() => hasFocus(page, 'operator-scan'), (f) => f)).toBe(true);
    const unit = await s.tracking.getUnit(good);
    expect(unit.status).toBe('completed');
    const signed = await s.quality.listSignatures({ entity: 'unit', entityId: String(unit.id) });
    expect(signed.map((x) => [x.signerUsername, x.action])).toEqual([[operator.username, 'step.signoff']]);

    // A fail whose defect code was withdrawn meanwhile: the one operation is refused, no passage is left behind.
    const code = uniq('DC');
    const dc = await s.quality.createDefectCode(system, { code, category: 'bridging', description: 'Coating on connector pins', active: true });
    await scan(page, failing);
    await page.locator('.operator-main [data-verdict="go"]').waitFor();
    const historyBefore = (await s.tracking.getUnit(failing)).history.length;
    await page.getByRole('button', { name: 'FAIL…' }).click();
    const fail = page.getByRole('dialog', { name: 'Record a failure' });
    await fail.getByLabel('Reference designator').fill('J1');
    await fail.getByLabel('Defect code').fill(code);
    await fail.getByRole('option', { name: new RegExp(code) }).click();
    await s.quality.updateDefectCode(system, dc.id, { active: false });
    await fail.getByRole('button', { name: 'Record FAIL' }).click();
    await dialog.waitFor();
    await dialog.getByLabel('Password').fill(operator.password);
    await dialog.getByRole('button', { name: 'Sign and complete' }).click();
    await page.locator('.operator-main [data-verdict="nogo"]').getByText('Fail refused').waitFor();
    expect(await verdict(page).innerText()).toContain('REFERENCE_NOT_FOUND');
    const after = await s.tracking.getUnit(failing);
    expect([after.history.length, after.nextStepSeq, after.status]).toEqual([historyBefore, 20, 'queued']);
    expect(await s.quality.listResults({ serial: failing })).toEqual([]);
    expect(ui.errors).toEqual([]);
  });
});
