import os from 'node:os';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpTransport, runSimulation, type LinePlan, type SimStation } from '../../src/integrations/simulator/index.ts';
import { makeLine, makeProduct, system, testServices, uniq } from '../helpers.ts';
import { createUser, launchBrowser, login, newPage, screenshot, startUiServer, type UiPage, type UiServer } from './support.ts';

/**
 * The live line dashboard while the line simulator runs: machines talk CFX to the real server
 * over its HTTP door; the browser measures how long the dashboard takes to show each passage
 * after it was committed, and how long the first render takes.
 */

let server: UiServer;
let browser: Browser;
let ui: UiPage;
let page: Page;

beforeAll(async () => {
  [server, browser] = await Promise.all([startUiServer(), launchBrowser()]);
  const viewer = await createUser('viewer', 'Victor Viewer');
  ui = await newPage(browser);
  page = ui.page;
  await login(page, server.url, viewer.username);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** Its own line (not the demo line, which other test files use): printer → placement → AOI (repair) → packing, machines with CFX handles, reels for every slot. */
async function simulatedLine(boards: number) {
  const s = testServices();
  const made = await makeProduct({ release: false });
  await s.products.replaceRoute(system, made.revision.id, {
    name: 'live',
    steps: [
      { seq: 10, name: 'Print', stationType: 'printer' },
      { seq: 20, name: 'Place', stationType: 'placement' },
      { seq: 30, name: 'AOI', stationType: 'aoi', onFail: 'repair', repairStepSeq: 90, returnStepSeq: 30, maxRepairLoops: 3 },
      { seq: 40, name: 'Pack', stationType: 'packing' },
      { seq: 90, name: 'Repair', stationType: 'rework', isRepair: true },
    ],
  });
  await s.products.putQualityPlan(system, made.revision.id, { requiredSteps: [], traceDepth: 'unit', materialLevel: 'M1', mixedLotsAllowed: true });
  const revision = await s.products.releaseRevision(system, made.revision.id);
  const { line, stations } = await makeLine(['printer', 'placement', 'aoi', 'packing', 'rework']);
  const sim: Record<string, SimStation> = {};
  for (const [type, st] of Object.entries(stations)) {
    const handle = `Live.${type}.${uniq('')}`;
    await s.factory.equipment.create(system, { stationId: st.id, code: uniq(`EQ-${type}-`), name: `${type} machine`, cfxHandle: handle });
    sim[type] = { code: st.code, type, handle, program: null, slots: [] };
  }
  sim.placement!.program = { name: made.program.name, revision: made.program.revision };
  for (const slot of made.program.slots) {
    const avl = (await s.parts.listAvl({ ipn: slot.ipn }))[0]!;
    const packages = [];
    for (let i = 0; i < 2; i++) {
      const r = await s.materials.receive(system, { ipn: slot.ipn, manufacturer: avl.manufacturer, mpn: avl.mpn, quantity: 2 * boards + 10, lotCode: uniq('LOT') });
      packages.push({ code: r.package.code, quantity: r.package.quantity, msl: '1' });
    }
    sim.placement!.slots.push({ slot: slot.slot, ipn: slot.ipn, refdes: slot.refdes, packages });
  }
  const wo = await s.workOrders.create(system, { number: uniq('WO-LIVE-'), customer: 'Acme', productRevisionId: revision.id, quantity: boards, lineId: line.id });
  await s.workOrders.release(system, wo.id);
  const { serials } = await s.tracking.generateUnits(system, { workOrder: wo.id, count: boards });
  const plan: LinePlan = {
    route: [
      { seq: 10, station: sim.printer!, onFail: null, returnStepSeq: null },
      { seq: 20, station: sim.placement!, onFail: null, returnStepSeq: null },
      { seq: 30, station: sim.aoi!, onFail: 'repair', returnStepSeq: 30 },
      { seq: 40, station: sim.packing!, onFail: null, returnStepSeq: null },
    ],
    repair: sim.rework!,
    serials,
  };
  return { line, wo, plan };
}

const median = (xs: number[]) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
};

describe('line dashboard', () => {
  it('renders within 1.5 s and shows each passage within 1 s of its commit (median; bounded max) while the simulator runs', async () => {
    const s = testServices();
    const boards = 30;
    const { line, wo, plan } = await simulatedLine(boards);
    const token = (await s.auth.createToken(system, { name: uniq('sim-'), role: 'machine' })).token;
    const stop = new AbortController();
    const t0 = new Date();
    const run = runSimulation(plan, httpTransport(server.url, token), { rate: 40, seed: 11, aoiDefectRate: 0.15, falseCallRate: 0.1, faultRate: 0.03, heartbeatTicks: 4, signal: stop.signal });

    // First render: navigation start → dashboard populated (a performance mark set by the screen), five loads.
    const firstRender: number[] = [];
    for (let i = 0; i < 5; i++) {
      await page.goto(`${server.url}/dashboard/${line.id}`);
      await page.locator('[data-testid="dashboard"][data-ready="true"]').waitFor();
      firstRender.push(await page.evaluate(`performance.getEntriesByName('dashboard-populated')[0].startTime`));
    }
    expect(await page.getByTestId('live-status').innerText()).toMatch(/Live/);

    // Live updates: the browser notes when each passage id appears on the screen.
    await page.evaluate(`(() => {
      window.__seen = [];
      const el = document.querySelector('[data-testid="last-passage"]');
      const note = () => window.__seen.push({ id: Number(el.dataset.id || 0), t: performance.timeOrigin + performance.now() });
      note();
      new MutationObserver(note).observe(el, { attributes: true, childList: true, characterData: true, subtree: true });
    })()`);
    const from = new Date();
    await page.getByTestId('passed').filter({ hasText: /^([5-9]|[1-9]\d)$/ }).waitFor({ timeout: 60_000 });
    await screenshot(page, 'dashboard');
    const result = await run;
    await page.getByTestId('passed').filter({ hasText: new RegExp(`^${result.completed}$`) }).waitFor({ timeout: 10_000 });
    expect(result.completed).toBe(boards);
    stop.abort();

    const seen = (await page.evaluate('window.__seen')) as { id: number; t: number }[];
    const records = (
      await s.db.query<{ id: number; at: Date }>(
        `SELECT pr.id, pr.recorded_at AS at FROM process_records pr JOIN units u ON u.id = pr.unit_id WHERE u.work_order_id = $1 AND pr.recorded_at >= $2 ORDER BY pr.id`,
        [wo.id, from],
      )
    ).rows;
    // For each passage committed while observed: the first moment the screen showed it (or a later one).
    const latencies = records.map((r) => {
      const shown = seen.find((x) => x.id >= r.id);
      return shown ? shown.t - r.at.getTime() : Number.POSITIVE_INFINITY;
    });
    const figures = {
      machine: `${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, Debian Chromium`,
      boards, messages: result.messages, passages: records.length, screenUpdates: seen.length,
      firstRenderMs: { median: Math.round(median(firstRender)), max: Math.round(Math.max(...firstRender)), runs: firstRender.map(Math.round) },
      liveUpdateMs: { median: Math.round(median(latencies)), max: Math.round(Math.max(...latencies)), p95: Math.round([...latencies].sort((a, b) => a - b)[Math.floor(latencies.length * 0.95)]!) },
      simulationSeconds: Math.round((Date.now() - t0.getTime()) / 1000),
    };
    console.log(`dashboard figures ${JSON.stringify(figures)}`);
    expect(records.length).toBeGreaterThan(50);
    // Targets: first render ≤ 1.5 s, live update ≤ 1 s. The median must meet them; single
    // outliers on a shared, overloaded machine may not, but never by more than twice (the
    // figures, max included, go to BENCHMARKS.md).
    expect(median(firstRender)).toBeLessThanOrEqual(1_500);
    expect(median(latencies)).toBeLessThanOrEqual(1_000);
    expect(Math.max(...firstRender)).toBeLessThanOrEqual(3_000);
    expect(Math.max(...latencies)).toBeLessThanOrEqual(2_000);

    // What the screen shows matches the database at the end.
    const stationTiles = page.getByTestId('stations').locator('[data-station]');
    expect(await stationTiles.count()).toBe(5);
    const wipRows = page.getByTestId('wip-steps').locator('tbody tr');
    expect(await wipRows.count()).toBe(5);
    const aoiFirst = await s.db.one<{ n: number; p: number }>(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE result = 'pass')::int AS p FROM (SELECT DISTINCT ON (pr.unit_id) pr.result FROM process_records pr JOIN units u ON u.id = pr.unit_id
        WHERE u.work_order_id = $1 AND pr.step_seq = 30 ORDER BY pr.unit_id, pr.visit) f`,
      [wo.id],
    );
    const aoiCell = await page.getByTestId('wip-steps').locator('tr[data-seq="30"] td').last().innerText();
    expect(aoiCell).toBe(`${((aoiFirst!.p / aoiFirst!.n) * 100).toFixed(1)} %`);

    // Alerts arrive the same way: a work-order hold and a quality hold on a station of the line.
    await s.workOrders.transition(system, wo.id, 'hold', 'Customer stopped the order');
    await page.getByTestId('alerts').locator('li[data-kind="work-order-hold"]', { hasText: wo.number }).waitFor({ timeout: 3_000 });
    const aoiStation = (await s.factory.stations.list({ lineId: line.id })).find((x) => x.type === 'aoi')!;
    await s.quality.placeHold(system, { scope: 'station', stationId: aoiStation.id, reasonCode: 'EQUIPMENT_ISSUE', reason: 'AOI camera recalibration' });
    await page.getByTestId('alerts').locator('li[data-kind="hold"]', { hasText: 'AOI camera recalibration' }).waitFor({ timeout: 3_000 });
    // (machine faults of the simulator may still be open beside them)
    const listed = await page.getByTestId('alerts').locator('li[data-kind]').count();
    expect(listed).toBeGreaterThanOrEqual(2);
    expect(await page.getByTestId('kpi-alerts').locator('.kpi-value').innerText()).toBe(String(listed));
    expect(ui.errors).toEqual([]);
    // The simulated run itself takes about 17 s of the budget.
  }, 90_000);
});
