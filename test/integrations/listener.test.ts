import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRequester, createRequestListener } from '../../src/integrations/cfx/amqp.ts';
import { INTERLOCK_REASONS } from '../../src/modules/tracking/index.ts';
import { makeReleasedWorkOrder, system, testDb, testServices, uniq } from '../helpers.ts';

/**
 * The point-to-point AMQP 1.0 request listener at the MES's handle (no broker): AreYouThere,
 * NotSupportedResponse, and ValidateUnitsRequest answered with each interlock FailureCode.
 */

const s = () => testServices();
type Made = Awaited<ReturnType<typeof makeReleasedWorkOrder>>;
let listener: ReturnType<typeof createRequestListener>;
let requester: Awaited<ReturnType<typeof connectRequester>>;
const mes = () => s().integrations.cfx.handle;

beforeAll(async () => {
  listener = createRequestListener(s().integrations.cfx.ingest, { handle: mes(), listenPort: 0, listenHost: '127.0.0.1', tls: { ca: undefined, cert: undefined, key: undefined } });
  await listener.start();
  requester = await connectRequester({ host: '127.0.0.1', port: listener.address().port, target: mes(), handle: 'Test.Requester.1', timeoutMs: 10_000 });
});
afterAll(async () => {
  await requester?.close();
  await listener?.stop();
});

/** A machine (CFX handle) on each station of the work order's line. */
async function handlesOf(m: Made): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [type, st] of Object.entries(m.stations)) {
    out[type] = `Test.${type.replace(/[^A-Za-z]/g, '')}.${uniq('SN')}`;
    await s().factory.equipment.create(system, { stationId: st.id, code: uniq(`EQ-${type}-`), name: type, cfxHandle: out[type] });
  }
  return out;
}

async function validate(handle: string, identifier: string) {
  const r = await requester.request({ messageName: 'CFX.InformationSystem.UnitValidation.ValidateUnitsRequest', source: handle, body: { Validations: ['All'], PrimaryIdentifier: identifier, Units: [] } });
  expect(r.MessageName).toBe('CFX.InformationSystem.UnitValidation.ValidateUnitsResponse');
  const body = r.MessageBody as { Result: { Result: string; ResultCode: number }; PrimaryResult: { FailureCode: number; Result: string; Message: string }; ValidationResults: { FailureCode: number }[] };
  return body;
}
const unitOf = async (m: Made) => (await s().tracking.generateUnits(system, { workOrder: m.wo.id, count: 1 })).serials[0]!;
const complete = (m: Made, type: string, serial: string, result: 'pass' | 'fail' | 'scrap' = 'pass') => s().tracking.complete(system, { stationId: m.stations[type]!.id, identifier: serial, result });

describe('the point-to-point request listener', () => {
  it('answers AreYouThereRequest with its handle, correlated to the request', async () => {
    const requestId = crypto.randomUUID();
    const r = await requester.request({ messageName: 'CFX.AreYouThereRequest', requestId, body: { CFXHandle: mes() } });
    expect(r).toMatchObject({ MessageName: 'CFX.AreYouThereResponse', Source: mes(), Target: 'Test.Requester.1', RequestID: requestId });
    expect(r.MessageBody).toMatchObject({ Result: { Result: 'Success' }, CFXHandle: mes(), RequestNetworkUri: null });
  });

  it('answers a request it does not support with CFX.NotSupportedResponse', async () => {
    const r = await requester.request({ messageName: 'CFX.Production.GetActiveRecipeRequest', body: {} });
    expect(r).toMatchObject({ MessageName: 'CFX.NotSupportedResponse', MessageBody: { RequestResult: { Result: 'Failed' } } });
  });

  it('answers a ValidateUnitsRequest from an unregistered handle with FailureCode 9001', async () => {
    const b = await validate(`Nobody.${uniq()}`, 'X1');
    expect(b.PrimaryResult.FailureCode).toBe(9001);
    expect(b.Result.Result).toBe('Failed');
  });
});

describe('ValidateUnitsRequest returns each interlock FailureCode', () => {
  const seen = new Set<string>();
  const expectCode = async (handle: string, identifier: string, code: keyof typeof INTERLOCK_REASONS | 'GO') => {
    const b = await validate(handle, identifier);
    if (code === 'GO') {
      expect(b).toMatchObject({ Result: { Result: 'Success', ResultCode: 0 }, PrimaryResult: { Result: 'Passed', FailureCode: 0 } });
      return;
    }
    const n = INTERLOCK_REASONS[code].number;
    expect({ code, failure: b.PrimaryResult.FailureCode, result: b.Result.ResultCode }).toEqual({ code, failure: n, result: n });
    expect(b.PrimaryResult.Result).toBe('Failed');
    seen.add(code);
  };

  it('go, UNKNOWN_UNIT, STATION_NOT_IN_ROUTE, STEP_OUT_OF_ORDER, STEP_ALREADY_PASSED', async () => {
    const m = await makeReleasedWorkOrder();
    const h = await handlesOf(m);
    const serial = await unitOf(m);
    await expectCode(h.printer!, serial, 'GO');
    await expectCode(h.printer!, uniq('NOPE'), 'UNKNOWN_UNIT');
    await expectCode(h.ict!, serial, 'STATION_NOT_IN_ROUTE');
    await expectCode(h.aoi!, serial, 'STEP_OUT_OF_ORDER');
    await complete(m, 'printer', serial);
    await expectCode(h.printer!, serial, 'STEP_ALREADY_PASSED');
  });

  it('UNIT_SKIPPED, UNIT_ON_HOLD, PANEL_ON_HOLD, LOT_ON_HOLD', async () => {
    const m = await makeReleasedWorkOrder();
    const h = await handlesOf(m);
    const lot = await s().tracking.createLot(system, { workOrder: m.wo.id, code: uniq('LOT') });
    const panel = await s().tracking.createPanel(system, { workOrder: m.wo.id, code: uniq('PNL'), positions: 3, skipped: [3], lotId: lot.id });
    await expectCode(h.printer!, panel.units[2]!.serial, 'UNIT_SKIPPED');
    const [u1, u2] = [panel.units[0]!.serial, panel.units[1]!.serial];
    await s().tracking.setHold(system, { scope: 'unit', identifier: u1, hold: true, reason: 'dropped' });
    await expectCode(h.printer!, u1, 'UNIT_ON_HOLD');
    await s().tracking.setHold(system, { scope: 'unit', identifier: u1, hold: false, reason: 'fine' });
    await s().tracking.setHold(system, { scope: 'panel', identifier: panel.code, hold: true, reason: 'warped' });
    await expectCode(h.printer!, u2, 'PANEL_ON_HOLD');
    await s().tracking.setHold(system, { scope: 'panel', identifier: panel.code, hold: false, reason: 'flat' });
    await s().tracking.setHold(system, { scope: 'lot', identifier: lot.code, hold: true, reason: 'paste' });
    await expectCode(h.printer!, u2, 'LOT_ON_HOLD');
  });

  it('WORK_ORDER_NOT_RELEASED, WORK_ORDER_ON_HOLD, WORK_ORDER_COMPLETED, WORK_ORDER_CANCELLED', async () => {
    const a = await makeReleasedWorkOrder();
    const ha = await handlesOf(a);
    const sa = await unitOf(a);
    await s().workOrders.transition(system, a.wo.id, 'hold', 'customer stop');
    await expectCode(ha.printer!, sa, 'WORK_ORDER_ON_HOLD');
    await s().workOrders.transition(system, a.wo.id, 'resume');
    await testDb().query(`UPDATE work_orders SET state = 'planned' WHERE id = $1`, [a.wo.id]);
    await expectCode(ha.printer!, sa, 'WORK_ORDER_NOT_RELEASED');
    const b = await makeReleasedWorkOrder();
    const hb = await handlesOf(b);
    const sb = await unitOf(b);
    await s().workOrders.transition(system, b.wo.id, 'start');
    await s().workOrders.transition(system, b.wo.id, 'complete');
    await expectCode(hb.printer!, sb, 'WORK_ORDER_COMPLETED');
    const c = await makeReleasedWorkOrder();
    const hc = await handlesOf(c);
    const sc = await unitOf(c);
    await s().workOrders.transition(system, c.wo.id, 'cancel', 'withdrawn');
    await expectCode(hc.printer!, sc, 'WORK_ORDER_CANCELLED');
  });

  it('NO_ACTIVE_WORK_ORDER and WRONG_PRODUCT', async () => {
    const m = await makeReleasedWorkOrder();
    const h = await handlesOf(m);
    const serial = await unitOf(m);
    const other = await makeReleasedWorkOrder();
    const otherWo = await s().workOrders.release(system, (await s().workOrders.create(system, { number: uniq('WO-'), productRevisionId: other.revision.id, quantity: 2, lineId: m.line.id })).id);
    await s().workOrders.activate(system, otherWo.id);
    await expectCode(h.printer!, serial, 'WRONG_PRODUCT');
    await s().workOrders.transition(system, otherWo.id, 'cancel', 'line cleared');
    await expectCode(h.printer!, serial, 'NO_ACTIVE_WORK_ORDER');
  });

  it('UNIT_SCRAPPED, FAILED_NO_DISPOSITION, STEP_IN_PROGRESS', async () => {
    const m = await makeReleasedWorkOrder();
    const h = await handlesOf(m);
    const scrapped = await unitOf(m);
    await complete(m, 'printer', scrapped, 'scrap');
    await expectCode(h.placement!, scrapped, 'UNIT_SCRAPPED');
    const failed = await unitOf(m);
    await complete(m, 'printer', failed, 'fail');
    await expectCode(h.printer!, failed, 'FAILED_NO_DISPOSITION');
    const busy = await unitOf(m);
    const second = await s().factory.stations.create(system, { lineId: m.line.id, code: uniq('ST-printer2-'), name: 'printer 2', type: 'printer' });
    const h2 = `Test.printer2.${uniq('SN')}`;
    await s().factory.equipment.create(system, { stationId: second.id, code: uniq('EQ-p2-'), name: 'printer 2', cfxHandle: h2 });
    await s().tracking.start(system, { stationId: m.stations.printer!.id, identifier: busy });
    await expectCode(h2, busy, 'STEP_IN_PROGRESS');
  });

  it('REPAIR_LOOPS_EXHAUSTED and FIRST_ARTICLE_PENDING', async () => {
    const m = await makeReleasedWorkOrder({
      route: [
        { seq: 10, name: 'Place', stationType: 'placement' },
        { seq: 20, name: 'AOI', stationType: 'aoi', onFail: 'repair', repairStepSeq: 90, maxRepairLoops: 1, firstArticleGate: true },
        { seq: 90, name: 'Repair', stationType: 'rework', isRepair: true },
      ],
    });
    const h = await handlesOf(m);
    const first = await unitOf(m);
    const second = await unitOf(m);
    await complete(m, 'placement', first);
    await complete(m, 'placement', second);
    await s().tracking.start(system, { stationId: m.stations.aoi!.id, identifier: first });
    await expectCode(h.aoi!, second, 'FIRST_ARTICLE_PENDING');
    await complete(m, 'aoi', first, 'fail');
    await complete(m, 'rework', first);
    await complete(m, 'aoi', first, 'fail');
    await expectCode(h.rework!, first, 'REPAIR_LOOPS_EXHAUSTED');
  });

  it('PROGRAM_MISMATCH: the recipe the machine reported is not the build basis program', async () => {
    const m = await makeReleasedWorkOrder();
    const h = await handlesOf(m);
    const serial = await unitOf(m);
    await complete(m, 'printer', serial);
    await s().integrations.cfx.ingest([{
      transport: 'http',
      payload: JSON.stringify({ MessageName: 'CFX.Production.RecipeActivated', UniqueID: crypto.randomUUID(), Source: h.placement, TimeStamp: new Date(Date.now() - 1000).toISOString(), MessageBody: { RecipeName: m.program.name, Revision: '99' } }),
    }]);
    await expectCode(h.placement!, serial, 'PROGRAM_MISMATCH');
  });

  it('covered every reason of the interlock', () => {
    expect([...seen].sort()).toEqual(Object.keys(INTERLOCK_REASONS).sort());
  });
});
