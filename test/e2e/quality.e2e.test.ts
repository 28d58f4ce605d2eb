import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeQualityWorkOrder, system, testDb, testServices, uniq } from '../helpers.ts';
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
    const [a, b, c] = (await s().tracking.generateUnits(system, { workOrder: m.wo.id, count: 3 })).serials as [string, string, string];
    await openMenu(page, 'NCRs');
    await page.getByRole('button', { name: 'New NCR' }).click();
    await page.getByLabel('Title', { exact: true }).fill('Solder bridges on U1 after stencil change');
    await page.getByLabel('Serial', { exact: true }).fill(a);
    await page.getByLabel('Description', { exact: true }).fill('AOI found bridges between U1 pins 4-5 on two boards.');
    await page.getByLabel('Containment', { exact: true }).fill('Line stopped; boards of the shift held.');
    await page.getByLabel('Further affected units').fill(b);
    await page.getByRole('button', { name: 'Raise NCR' }).click();
    await page.getByTestId('ncr-units').waitFor();
    const [ncr] = await s().quality.listNcrs({ serial: a });
    expect(ncr).toMatchObject({ title: 'Solder bridges on U1 after stencil change', subjectKind: 'unit', state: 'open', createdBy: qe.username });
    expect((await s().quality.getNcr(ncr!.id)).units.map((u) => u.serial).sort()).toEqual([a, b].sort());
    await page.getByTestId(`ncr-unit-${b}`).waitFor();
    await screenshot(page, 'ncr');

    // Root cause and corrective action are recorded on the screen.
    await page.getByLabel('Root cause', { exact: true }).fill('Stencil aperture for U1 too large after the change');
    await page.getByLabel('Corrective action', { exact: true }).fill('Stencil reworked to 0.10 mm; first article required');
    await page.getByRole('button', { name: 'Save investigation' }).click();
    await page.getByText('Investigation saved').waitFor();
    expect((await s().quality.getNcr(ncr!.id)).rootCause).toBe('Stencil aperture for U1 too large after the change');

    // A third unit is linked, and a rework action recorded on it: repaired, not verified yet.
    await page.getByLabel('Link more units').fill(c);
    await page.getByRole('button', { name: 'Link units' }).click();
    await page.getByTestId(`ncr-unit-${c}`).waitFor();
    await page.getByLabel('Unit', { exact: true }).selectOption(c);
    await page.getByLabel('What was done', { exact: true }).fill('Bridge on U1 pins 4-5 removed with wick');
    await page.getByLabel('Reference designator', { exact: true }).fill('U1');
    await page.getByLabel('Verification step', { exact: true }).fill('30');
    await page.getByRole('button', { name: 'Record rework' }).click();
    await page.getByText(`Rework recorded on ${c}; verified when step 30 passes again`).waitFor();
    await page.getByTestId(`ncr-unit-${c}`).getByText('repaired', { exact: true }).waitFor();

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
    expect(open.map((t) => t.split('\n')[0]).sort()).toEqual([a, b, c].sort());
    expect(open.find((t) => t.startsWith(c))).toContain('repair not verified yet');
    await screenshot(page, 'ncr-close-refused');
    expect((await s().quality.getNcr(ncr!.id)).state).toBe('open');

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
    expect((await page.getByTestId('ncr-open-units').locator('li').allInnerTexts()).map((t) => t.split('\n')[0]).sort()).toEqual([b, c].sort());

    await page.getByTestId(`ncr-unit-${b}`).getByRole('button', { name: 'Disposition…' }).click();
    await form.getByLabel('Decision').selectOption('scrap');
    await form.getByLabel('Reason', { exact: true }).fill('Same defect, board scrapped');
    await form.getByRole('button', { name: 'Disposition: scrap' }).click();
    await page.getByText(`Unit ${b}: scrap`).waitFor();
    await page.getByTestId(`ncr-unit-${c}`).getByRole('button', { name: 'Disposition…' }).click();
    await form.getByLabel('Decision').selectOption('scrap');
    await form.getByLabel('Reason', { exact: true }).fill('Pad damaged by the rework, scrapped');
    await form.getByRole('button', { name: 'Disposition: scrap' }).click();
    await page.getByText(`Unit ${c}: scrap`).waitFor();

    // A wrong password is refused in the dialog; nothing closes.
    await page.getByRole('button', { name: 'Close NCR' }).click();
    await signWith('not-my-password', 'All affected units scrapped; corrective action in place');
    const dialog = page.getByTestId('signature-dialog');
    await dialog.locator('.error-panel[data-code="SIGNATURE_INVALID"]').waitFor();
    expect(await dialog.getByLabel('Password', { exact: true }).inputValue()).toBe('');
    await screenshot(page, 'ncr-signature-refused');
    expect((await s().quality.getNcr(ncr!.id)).state).toBe('open');

    // The password re-entered: closed and signed.
    await dialog.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await dialog.getByRole('button', { name: /^Sign/ }).click();
    await page.getByText(`${ncr!.number} closed and signed`).waitFor();
    await page.locator('[data-verdict="go"]').getByText('Closed', { exact: true }).waitFor();
    const closed = await s().quality.getNcr(ncr!.id);
    expect(closed.state).toBe('closed');
    expect(closed.closedBy).toBe(qe.username);
    const sig = await testDb().one<{ meaning: string; reason: string; signer_username: string }>('SELECT meaning, reason, signer_username FROM quality_signatures WHERE id = $1', [closed.closeSignatureId]);
    expect(sig).toEqual({ meaning: 'closed', reason: 'All affected units scrapped; corrective action in place', signer_username: qe.username });
    expect(await page.getByRole('button', { name: 'Close NCR' }).count()).toBe(0);
    await screenshot(page, 'ncr-closed');
    await page.getByRole('link', { name: 'NCRs', exact: true }).first().click();
    await page.getByLabel('State').selectOption('');
    await page.getByTestId('ncrs').getByText(ncr!.number, { exact: true }).waitFor();
    await screenshot(page, 'ncrs');
    expect(ui.errors).toEqual([]);
  });
});

describe('review queue and holds', () => {
  it('confirms and false-calls machine calls; places a hold by scope and releases it signed', async () => {
    const m = await makeQualityWorkOrder();
    const [u1, u2] = (await s().tracking.generateUnits(system, { workOrder: m.wo.id, count: 2 })).serials as [string, string];
    await s().quality.createRule(system, { code: uniq('BRIDGE-R1-'), name: 'Bridges repeating at R1', kind: 'defect_repeat', productId: m.product.id, method: 'aoi', params: { count: 2, window: 10 }, actions: ['alert'] });
    await s().quality.recordResults(system, [
      { stationId: m.stations.aoi!.id, unit: u1, method: 'aoi', result: 'fail', defects: [{ code: 'BRIDGE', refdes: 'R1' }, { code: 'TOMBSTONE', refdes: 'R2' }] },
      { stationId: m.stations.aoi!.id, unit: u2, method: 'aoi', result: 'fail', defects: [{ code: 'BRIDGE', refdes: 'R1' }, { code: 'MISSING', refdes: 'R3' }] },
    ]);
    await openMenu(page, 'Defect review');
    const queue = page.getByTestId('review-queue');
    await queue.getByText(u2, { exact: true }).first().waitFor();
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

    // The repeated bridge at R1 fired the rule: its alert is listed and acknowledged from the screen.
    await openMenu(page, 'Rule alerts');
    const alert = page.getByTestId('alerts').locator('tr', { hasText: m.wo.number });
    await alert.waitFor();
    await screenshot(page, 'alerts');
    await alert.getByRole('button', { name: 'Acknowledge' }).click();
    await page.getByText(/^Alert \d+ acknowledged$/).waitFor();
    expect((await s().quality.listAlerts({ workOrderId: m.wo.id })).map((x) => x.state)).toEqual(['acknowledged']);

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

describe('dispositions', () => {
  it('offers use-as-is only to quality engineers, signed; a technician sees repair, retest and scrap', async () => {
    // AOI failures stop the unit (failed, waiting for a disposition).
    const m = await makeQualityWorkOrder({
      route: [
        { seq: 10, name: 'Print', stationType: 'printer' },
        { seq: 20, name: 'Place', stationType: 'placement' },
        { seq: 30, name: 'AOI', stationType: 'aoi', onFail: 'hold' },
        { seq: 90, name: 'Repair', stationType: 'rework', isRepair: true },
      ],
    });
    const [u, v] = (await s().tracking.generateUnits(system, { workOrder: m.wo.id, count: 2 })).serials as [string, string];
    for (const x of [u, v]) {
      await s().tracking.complete(system, { stationId: m.stations.printer!.id, identifier: x, result: 'pass' });
      await s().tracking.complete(system, { stationId: m.stations.placement!.id, identifier: x, result: 'pass' });
      await s().tracking.complete(system, { stationId: m.stations.aoi!.id, identifier: x, result: 'fail' });
    }
    // A technician: no use-as-is.
    const tech = await createUser('technician');
    const other = await newPage(browser);
    await login(other.page, server.url, tech.username, PASSWORD, '/quality/dispositions');
    await other.page.locator('#disposition-scan').fill(u);
    await other.page.locator('#disposition-scan').press('Enter');
    await other.page.getByTestId('disposition-form').waitFor();
    const techOptions = await other.page.getByTestId('disposition-form').getByLabel('Decision').locator('option').evaluateAll((os) => os.map((o) => (o as unknown as { value: string }).value));
    expect(techOptions).toEqual(['repair', 'retest', 'scrap']);
    await other.context.close();

    await openMenu(page, 'Dispositions');
    await page.locator('#disposition-scan').fill(u);
    await page.locator('#disposition-scan').press('Enter');
    await page.getByTestId('unit-blockers').waitFor();
    expect(await page.getByTestId('unit-blockers').locator('li').evaluateAll((ls) => ls.map((l) => l.getAttribute('data-code')))).toContain('UNIT_FAILED');
    const form = page.getByTestId('disposition-form');
    expect(await form.getByLabel('Decision').locator('option').evaluateAll((os) => os.map((o) => (o as unknown as { value: string }).value))).toEqual(['repair', 'retest', 'scrap', 'use-as-is']);
    await form.getByLabel('Decision').selectOption('use-as-is');
    await form.getByLabel('Reason', { exact: true }).fill('Cosmetic flux residue only; MRB accepts');
    await screenshot(page, 'dispositions');
    await form.getByRole('button', { name: 'Sign use-as-is…' }).click();
    const dialog = page.getByTestId('signature-dialog');
    expect(await dialog.getByLabel('Meaning').inputValue()).toBe('accepted');
    await dialog.getByLabel('Reason', { exact: true }).fill('Reviewed by the material review board');
    await dialog.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await dialog.getByRole('button', { name: /^Sign/ }).click();
    await page.getByText(`Unit ${u}: use-as-is (signed)`).waitFor();
    const [d] = await s().quality.listDispositions({ serial: u });
    expect(d).toMatchObject({ decision: 'use-as-is', createdBy: qe.username });
    expect(d!.signatureId).not.toBeNull();
    // A repair needs no signature.
    await page.locator('#disposition-scan').fill(v);
    await page.locator('#disposition-scan').press('Enter');
    await page.getByRole('heading', { name: `Unit ${v} · failed` }).waitFor();
    await page.getByTestId('disposition-form').getByLabel('Reason', { exact: true }).fill('Bridge on R1: reflow by hand');
    await page.getByTestId('disposition-form').getByRole('button', { name: 'Disposition: repair' }).click();
    await page.getByText(`Unit ${v}: repair`).waitFor();
    expect((await s().quality.listDispositions({ serial: v }))[0]).toMatchObject({ decision: 'repair', signatureId: null });
    expect(ui.errors).toEqual([]);
  });
});

describe('first article', () => {
  it('the inspector approves the first article of a gated step with a signature', async () => {
    const m = await makeQualityWorkOrder({
      route: [
        { seq: 10, name: 'Print', stationType: 'printer' },
        { seq: 20, name: 'Place', stationType: 'placement', firstArticleGate: true },
        { seq: 30, name: 'AOI', stationType: 'aoi' },
      ],
    });
    const [u1, u2] = (await s().tracking.generateUnits(system, { workOrder: m.wo.id, count: 2 })).serials as [string, string];
    for (const u of [u1, u2]) await s().tracking.complete(system, { stationId: m.stations.printer!.id, identifier: u, result: 'pass' });
    await s().tracking.complete(system, { stationId: m.stations.placement!.id, identifier: u1, result: 'pass' });
    expect((await s().tracking.validate(system, { stationId: m.stations.placement!.id, identifier: u2 })).go).toBe(false);

    await openMenu(page, 'First article');
    await page.getByLabel('Work order').selectOption(String(m.wo.id));
    const row = page.getByTestId('first-articles').locator('tr', { hasText: u1 });
    await row.waitFor();
    await screenshot(page, 'first-article');
    await row.getByRole('button', { name: 'Approve' }).click();
    const dialog = page.getByTestId('signature-dialog');
    expect(await dialog.getByLabel('Meaning').inputValue()).toBe('approved');
    await dialog.getByLabel('Reason', { exact: true }).fill('All parts present, polarity checked against the drawing');
    await dialog.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await dialog.getByRole('button', { name: /^Sign/ }).click();
    await page.getByText(`First article ${u1} approved (signed)`).waitFor();
    await row.getByText('approved', { exact: true }).waitFor();
    const [claim] = await s().quality.firstArticleStatus(m.wo.id);
    expect(claim).toMatchObject({ serial: u1, approval: { decision: 'approved', decidedBy: qe.username } });
    expect((await s().tracking.validate(system, { stationId: m.stations.placement!.id, identifier: u2 })).go).toBe(true);
    expect(ui.errors).toEqual([]);
  });
});
