import { describe, expect, it } from 'vitest';
import { demoFactoryDocument, seedDemo } from '../../src/modules/demo/index.ts';
import { parseFactoryDocument } from '../../src/modules/imports/index.ts';
import { system, testDb, testServices, uniq } from '../helpers.ts';

describe('factory document import', () => {
  it('the demo factory has one SMT line, ~60 BOM lines, ~300 placements and releases; a second seed changes nothing', async () => {
    const doc = demoFactoryDocument();
    const bom = doc.products![0]!.revisions![0]!.bom!;
    expect(bom.length).toBeGreaterThanOrEqual(55);
    expect(bom.length).toBeLessThanOrEqual(70);
    const placements = bom.filter((b) => b.placed !== false && !b.doNotPlace).reduce((n, b) => n + (b.refdes?.length ?? 0), 0);
    expect(placements).toBeGreaterThanOrEqual(280);
    expect(placements).toBeLessThanOrEqual(320);
    expect(doc.stations!.map((s) => s.type)).toEqual(expect.arrayContaining(['marking', 'printer', 'spi', 'placement', 'reflow', 'aoi', 'ict', 'fct', 'packing']));
    expect(doc.stations!.filter((s) => s.type === 'placement')).toHaveLength(2);

    const s = testServices();
    await seedDemo(s.imports, system);
    const rev = await s.products.findRevision('CTRL-100', 'A');
    expect(rev?.state).toBe('released');
    expect((await s.products.getBom(rev!.id)).length).toBe(bom.length);
    const programs = await s.products.listPrograms({ productRevisionId: rev!.id });
    const slotParts = new Set(programs.filter((p) => p.kind === 'placement').flatMap((p) => p.slots.map((x) => x.ipn)));
    const placedParts = new Set(bom.filter((b) => b.placed !== false && !b.doNotPlace).map((b) => b.ipn));
    expect([...placedParts].filter((p) => !slotParts.has(p))).toEqual([]); // every placed part has a feeder slot
    const again = await seedDemo(s.imports, system);
    expect(again.created).toBe(0);
    expect(again.updated).toBe(0);
  });

  it('a document with an error is rejected whole, with the path of each problem', async () => {
    const code = uniq('F');
    const text = JSON.stringify({
      sites: [{ code, name: 'ok' }],
      lines: [{ code: `${code}-L`, site: code, name: 'ok' }],
      stations: [{ code: `${code}-S`, line: `${code}-L`, name: 'x', type: 'toaster' }],
    });
    expect(() => parseFactoryDocument(text)).toThrow(expect.objectContaining({ code: 'IMPORT_INVALID' }));
    try {
      parseFactoryDocument(text);
    } catch (e) {
      expect((e as { errors: { field: string }[] }).errors.some((x) => x.field.startsWith('/stations/0/type'))).toBe(true);
    }
    // Valid shape but a dangling reference: nothing from the document is stored.
    const dangling = { sites: [{ code, name: 'ok' }], lines: [{ code: `${code}-L`, site: 'NO-SUCH-SITE', name: 'x' }] };
    await expect(testServices().imports.importFactory(system, dangling)).rejects.toMatchObject({ code: 'IMPORT_INVALID' });
    expect((await testDb().query('SELECT 1 FROM sites WHERE code = $1', [code])).rowCount).toBe(0);
  });

  it('accepts YAML', async () => {
    const code = uniq('Y');
    const r = await testServices().imports.importText(system, 'factory', `sites:\n  - code: ${code}\n    name: Yaml site\n`);
    expect(r.created).toBe(1);
  });
});
