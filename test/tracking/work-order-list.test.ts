import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/platform/http.ts';
import { bearer, makeLine, makeProduct, system, testApp, testServices, tokenFor, uniq } from '../helpers.ts';

/** The work-order list filtered by the server: search, due date, several states. */

let app: App;
beforeAll(async () => {
  app = await testApp();
});
afterAll(async () => app.close());

describe('work-order list filters', () => {
  it('q searches number, product, customer and PO; dueBy keeps those due by a day; states any of several', async () => {
    const s = testServices();
    const made = await makeProduct();
    const { line } = await makeLine(['printer']);
    const customer = uniq('Cust_');
    const mk = (due: string, extra: Record<string, unknown> = {}) =>
      s.workOrders.create(system, { number: uniq('WO-'), customer, customerPo: uniq('PO'), productRevisionId: made.revision.id, quantity: 5, dueDate: due, ...extra });
    const early = await mk('2031-03-01');
    const late = await mk('2031-06-01', { lineId: line.id });
    await s.workOrders.release(system, late.id);
    const headers = bearer(await tokenFor('viewer'));
    const get = async (qs: string) => {
      const res = await app.inject({ method: 'GET', url: `/api/v1/work-orders?${qs}`, headers });
      expect(res.statusCode, res.body).toBe(200);
      return (res.json() as { id: number }[]).map((w) => w.id);
    };
    expect(await get(`q=${encodeURIComponent(customer.toLowerCase())}`)).toEqual([early.id, late.id]);
    expect(await get(`q=${encodeURIComponent(made.product.code.toLowerCase())}`)).toEqual([early.id, late.id]);
    expect(await get(`q=${encodeURIComponent(early.customerPo)}`)).toEqual([early.id]);
    expect(await get(`q=${encodeURIComponent(customer)}&dueBy=2031-04-01`)).toEqual([early.id]);
    expect(await get(`q=${encodeURIComponent(customer)}&states=released,in_progress`)).toEqual([late.id]);
    // The underscore of the customer name is a character, not a wildcard.
    expect(await get(`q=${encodeURIComponent(customer.replace('_', 'X'))}`)).toEqual([]);
    for (const bad of ['dueBy=tomorrow', 'states=running']) {
      const res = await app.inject({ method: 'GET', url: `/api/v1/work-orders?${bad}`, headers });
      expect([bad, res.statusCode]).toEqual([bad, 400]);
    }
  });
});
