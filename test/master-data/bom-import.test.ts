import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/platform/http.ts';
import { parseRefdes } from '../../src/modules/products/index.ts';
import { bearer, makeProduct, system, testApp, testDb, testServices, tokenFor, uniq } from '../helpers.ts';

let app: App;
let eng: string;
beforeAll(async () => {
  app = await testApp();
  eng = await tokenFor('process-engineer');
});
afterAll(async () => app.close());

async function draftRevision() {
  const s = testServices();
  const code = uniq('B');
  const p = await s.products.products.create(system, { code, name: code });
  return s.products.createRevision(system, { productId: p.id, revision: 'A' });
}

const csv = (rows: string[]) => ['Item,Part Number,Description,Qty,Reference Designators,Manufacturer,MPN,Alternates', ...rows].join('\n');

describe('BOM CSV import', () => {
  it('imports a PLM export with ranges, creates parts and AVL entries from the manufacturer columns', async () => {
    const rev = await draftRevision();
    const p = uniq('X');
    const body = csv([
      `1,${p}-R10K,Resistor 10k,4,"R1-R4",Yageo,${p}-RC0402,Vishay:${p}-CRCW`,
      `2,${p}-C100N,Cap 100n,2,"C1, C2",Murata,${p}-GRM155,`,
      `3,${p}-PCB,Bare board,1,,Fab,${p}-PCB1,`,
    ]);
    // The bare board has no designators: mark it non-placed first so the count rule does not apply.
    await testServices().parts.parts.create(system, { ipn: `${p}-PCB`, description: 'board', placed: false });
    const res = await app.inject({ method: 'POST', url: `/api/v1/product-revisions/${rev.id}/bom/import`, headers: { ...bearer(eng), 'content-type': 'text/csv' }, payload: body });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().summary).toEqual({ lines: 3, partsCreated: 2, avlEntriesCreated: 4, placements: 6 });
    const bom = await testServices().products.getBom(rev.id);
    expect(bom.map((l) => [l.lineNo, l.ipn, l.quantity, l.refdes])).toEqual([
      [1, `${p}-R10K`, 4, ['R1', 'R2', 'R3', 'R4']],
      [2, `${p}-C100N`, 2, ['C1', 'C2']],
      [3, `${p}-PCB`, 1, []],
    ]);
    const avl = await testServices().parts.listAvl({ ipn: `${p}-R10K` });
    expect(avl.map((a) => [a.mpn, a.alternate])).toEqual([[`${p}-RC0402`, false], [`${p}-CRCW`, true]]);
  });

  it('rejects a bad file whole, listing every error by line number, and changes nothing', async () => {
    const rev = await draftRevision();
    const p = uniq('Y');
    const good = `1,${p}-OK,ok,2,"R1 R2",Yageo,${p}-M1,`;
    await app.inject({ method: 'POST', url: `/api/v1/product-revisions/${rev.id}/bom/import`, headers: { ...bearer(eng), 'content-type': 'text/csv' }, payload: csv([good]) });
    const partsBefore = (await testDb().query(`SELECT count(*)::int AS n FROM parts WHERE ipn LIKE $1`, [`${p}%`])).rows[0]!.n;
    // The audit rows an import would add: about the revision, or naming this test's parts (other
    // test files write audit rows meanwhile, so the table as a whole is no measure).
    const audits = async () =>
      (await testDb().query<{ n: number }>(
        `SELECT count(*)::int AS n FROM audit_log WHERE (entity = 'product_revision' AND entity_id = $1) OR before::text LIKE $2 OR after::text LIKE $2`,
        [String(rev.id), `%${p}%`],
      )).rows[0]!.n;
    const auditBefore = await audits();
    expect(auditBefore).toBeGreaterThan(0); // the good import's own rows are found this way
    const bad = csv([
      `1,${p}-NEW1,new part,2,"R10",Yageo,${p}-M2,`, // line 2: 1 designator for quantity 2
      `2,${p}-NEW2,x,abc,"C1",,,`, // line 3: quantity not a number
      `2,${p}-NEW3,x,1,"R10",Acme,${p}-M3,`, // line 4: duplicate line number and designator R10 reused
      `4,${p}-NEW4,x,1,"Q1",Acme,${p}-M4,bad-alternate`, // line 5: alternate not Manufacturer:MPN
      `5,${p}-NEW5,x,1,"U1",,${p}-M5,`, // line 6: MPN without manufacturer
    ]);
    const res = await app.inject({ method: 'POST', url: `/api/v1/product-revisions/${rev.id}/bom/import`, headers: { ...bearer(eng), 'content-type': 'text/csv' }, payload: bad });
    expect(res.statusCode).toBe(422);
    const body = res.json();
    expect(body.code).toBe('IMPORT_INVALID');
    const byLine = body.errors.map((e: { line: number; code: string }) => `${e.line}:${e.code}`).sort();
    // Format errors and rule errors are reported together, in one round.
    expect(byLine).toEqual(['2:refdes_count', '3:invalid', '4:duplicate', '4:duplicate_refdes', '5:invalid', '6:required']);
    // A file that parses cleanly still gets the rule errors.
    const ruleBad = csv([`1,${p}-NEW1,new part,2,"R10",Yageo,${p}-M2,`, `1,${p}-NEW3,x,1,"R10",Acme,${p}-M3,`]);
    const res2 = await app.inject({ method: 'POST', url: `/api/v1/product-revisions/${rev.id}/bom/import`, headers: { ...bearer(eng), 'content-type': 'text/csv' }, payload: ruleBad });
    expect(res2.statusCode).toBe(422);
    expect(res2.json().errors.map((e: { line: number; code: string }) => `${e.line}:${e.code}`).sort()).toEqual(['2:refdes_count', '3:duplicate', '3:duplicate_refdes'].sort());
    // Nothing changed: the earlier BOM, the parts and the audit trail are as before.
    expect((await testServices().products.getBom(rev.id)).map((l) => l.ipn)).toEqual([`${p}-OK`]);
    expect((await testDb().query(`SELECT count(*)::int AS n FROM parts WHERE ipn LIKE $1`, [`${p}%`])).rows[0]!.n).toBe(partsBefore);
    expect(await audits()).toBe(auditBefore);
  });

  it('honours an explicit column mapping and reports a mapped column that is missing', async () => {
    const rev = await draftRevision();
    const p = uniq('Z');
    const body = ['Pos;PN;Menge;Bauteile', `1;${p}-A;2;R1,R2`].join('\n').replace(/;/g, '\t');
    const url = `/api/v1/product-revisions/${rev.id}/bom/import?map.line=Pos&map.ipn=PN&map.quantity=Menge&map.refdes=Bauteile`;
    const tsvAsCsv = body.replace(/\t/g, ';').replace('R1,R2', '"R1,R2"').replace(/;/g, ',');
    const ok = await app.inject({ method: 'POST', url, headers: { ...bearer(eng), 'content-type': 'text/csv' }, payload: tsvAsCsv });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json().columns).toMatchObject({ line: 'Pos', ipn: 'PN', quantity: 'Menge', refdes: 'Bauteile' });
    const missing = await app.inject({ method: 'POST', url: url.replace('map.refdes=Bauteile', 'map.refdes=RefDes'), headers: { ...bearer(eng), 'content-type': 'text/csv' }, payload: tsvAsCsv });
    expect(missing.statusCode).toBe(422);
    expect(missing.json().errors[0]).toMatchObject({ field: 'mapping.refdes', code: 'unknown_column', line: 1 });
  });

  it('parses designator lists and ranges, refusing descending ranges and junk', () => {
    expect(parseRefdes('R1-R3, C5;C6 U7')).toEqual({ refdes: ['R1', 'R2', 'R3', 'C5', 'C6', 'U7'], errors: [] });
    expect(parseRefdes('R5-7').refdes).toEqual(['R5', 'R6', 'R7']);
    expect(parseRefdes('R9-R3').errors).toHaveLength(1);
    expect(parseRefdes('1R, R$').errors).toHaveLength(2);
  });
});

describe('reference designator count rule', () => {
  it('a placed line needs one designator per unit of quantity; DNP and non-placed lines are exempt (API and database)', async () => {
    const rev = await draftRevision();
    const p = uniq('Q');
    const s = testServices();
    await s.parts.parts.create(system, { ipn: `${p}-R` });
    await s.parts.parts.create(system, { ipn: `${p}-LBL`, placed: false });
    const res = await app.inject({
      method: 'PUT', url: `/api/v1/product-revisions/${rev.id}/bom`, headers: bearer(eng),
      payload: { lines: [{ lineNo: 1, ipn: `${p}-R`, quantity: 3, refdes: ['R1', 'R2'] }] },
    });
    expect(res.statusCode).toBe(422);
    expect(res.json().errors[0]).toMatchObject({ code: 'refdes_count', field: '/lines/0: refdes' });
    const ok = await app.inject({
      method: 'PUT', url: `/api/v1/product-revisions/${rev.id}/bom`, headers: bearer(eng),
      payload: { lines: [
        { lineNo: 1, ipn: `${p}-R`, quantity: 2, refdes: ['R1', 'R2'] },
        { lineNo: 2, ipn: `${p}-R`, quantity: 1, refdes: ['R3'], doNotPlace: true },
        { lineNo: 3, ipn: `${p}-LBL`, quantity: 1, refdes: [] },
      ] },
    });
    expect(ok.statusCode, ok.body).toBe(200);
    // The database enforces the same rule even if a writer skipped the service.
    await expect(
      testDb().query(`INSERT INTO bom_lines (product_revision_id, line_no, part_id, quantity, refdes) SELECT $1, 9, id, 2, '{R9}' FROM parts WHERE ipn = $2`, [rev.id, `${p}-R`]),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
  });
});

describe('release and revision immutability', () => {
  it('lists every blocker when a revision is incomplete', async () => {
    const rev = await draftRevision();
    const res = await app.inject({ method: 'POST', url: `/api/v1/product-revisions/${rev.id}/release`, headers: bearer(eng) });
    expect(res.statusCode).toBe(422);
    expect(res.json().errors.map((e: { code: string }) => e.code).sort()).toEqual(['bom_empty', 'quality_plan_missing', 'route_missing']);
    const check = await app.inject({ method: 'GET', url: `/api/v1/product-revisions/${rev.id}/release-check`, headers: bearer(eng) });
    expect(check.json().releasable).toBe(false);
  });

  it('a released revision refuses BOM, route, quality-plan and program changes, by API and in the database', async () => {
    const { revision, program, partIpns } = await makeProduct();
    expect(revision.state).toBe('released');
    const bom = await app.inject({ method: 'PUT', url: `/api/v1/product-revisions/${revision.id}/bom`, headers: bearer(eng), payload: { lines: [] } });
    expect(bom.statusCode).toBe(409);
    expect(bom.json().code).toBe('REVISION_RELEASED');
    const route = await app.inject({ method: 'PUT', url: `/api/v1/product-revisions/${revision.id}/route`, headers: bearer(eng), payload: { name: 'x', steps: [{ seq: 1, name: 'x', stationType: 'aoi' }] } });
    expect(route.json().code).toBe('REVISION_RELEASED');
    const qp = await app.inject({ method: 'PUT', url: `/api/v1/product-revisions/${revision.id}/quality-plan`, headers: bearer(eng), payload: { acceptanceClass: 3 } });
    expect(qp.json().code).toBe('REVISION_RELEASED');
    const prog = await app.inject({ method: 'PATCH', url: `/api/v1/programs/${program.id}`, headers: bearer(eng), payload: { checksum: 'changed' } });
    expect(prog.json().code).toBe('REVISION_RELEASED');
    const db = testDb();
    await expect(db.query(`UPDATE bom_lines SET quantity = quantity WHERE product_revision_id = $1`, [revision.id])).rejects.toMatchObject({ code: 'REVISION_RELEASED' });
    await expect(db.query(`DELETE FROM route_steps WHERE route_id = (SELECT id FROM routes WHERE product_revision_id = $1)`, [revision.id])).rejects.toMatchObject({ code: 'REVISION_RELEASED' });
    await expect(db.query(`UPDATE quality_plans SET acceptance_class = 3 WHERE product_revision_id = $1`, [revision.id])).rejects.toMatchObject({ code: 'REVISION_RELEASED' });
    await expect(db.query(`UPDATE program_slots SET slot = 'Z' WHERE program_id = $1`, [program.id])).rejects.toMatchObject({ code: 'REVISION_RELEASED' });
    await expect(db.query(`UPDATE programs SET checksum = 'x' WHERE id = $1`, [program.id])).rejects.toMatchObject({ code: 'REVISION_RELEASED' });
    expect((await testServices().products.getBom(revision.id)).map((l) => l.ipn)).toEqual(partIpns);
  });

  it('derive copies the released content into a new draft that can change, leaving the original intact', async () => {
    const { revision, partIpns } = await makeProduct();
    const res = await app.inject({ method: 'POST', url: `/api/v1/product-revisions/${revision.id}/derive`, headers: bearer(eng), payload: { revision: 'B', reason: 'ECO-1234 swap R1' } });
    expect(res.statusCode, res.body).toBe(201);
    const b = res.json();
    expect(b).toMatchObject({ state: 'draft', derivedFromId: revision.id, changeReason: 'ECO-1234 swap R1' });
    const s = testServices();
    expect((await s.products.getBom(b.id)).map((l) => l.ipn)).toEqual(partIpns);
    expect((await s.products.getRoute(b.id))!.steps.map((x) => x.seq)).toEqual([10, 20, 30, 90]);
    const progs = await s.products.listPrograms({ productRevisionId: b.id });
    expect(progs.map((p) => [p.state, p.slots.length])).toEqual([['released', partIpns.length]]);
    const edit = await app.inject({
      method: 'PUT', url: `/api/v1/product-revisions/${b.id}/bom`, headers: bearer(eng),
      payload: { lines: [{ lineNo: 1, ipn: partIpns[0], quantity: 1, refdes: ['R1'] }] },
    });
    expect(edit.statusCode, edit.body).toBe(200);
    expect((await s.products.getBom(revision.id)).length).toBe(partIpns.length);
    const audit = await testDb().query(`SELECT action, reason FROM audit_log WHERE entity = 'product_revision' AND entity_id = $1 ORDER BY id`, [String(b.id)]);
    expect(audit.rows.map((r) => r.action)).toEqual(['derive', 'replace_bom']);
    expect(audit.rows[0]!.reason).toBe('ECO-1234 swap R1');
  });
});
