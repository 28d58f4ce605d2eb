import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { makeReleasedWorkOrder, system, testDb, testServices, uniq } from '../helpers.ts';

/** CFX MaterialsInstalled / MaterialsUninstalled / MaterialsApplied → the same M3 service functions as REST. */

const s = () => testServices();
const ingest = (envs: Record<string, unknown>[]) =>
  s().integrations.cfx.ingest([{ payload: JSON.stringify(envs.length === 1 ? envs[0] : envs), transport: 'amqp' }]).then((r) => r[0]!);
const envelope = (messageName: string, source: string, body: Record<string, unknown>) => ({
  MessageName: messageName, Version: '2.1', TimeStamp: new Date(Date.now() - 1000).toISOString(), UniqueID: crypto.randomUUID(), Source: source, Target: null, RequestID: null,
  MessageBody: body,
});

describe('CFX component traceability', () => {
  it('MaterialsInstalled records M3 rows that win over M2; MaterialsUninstalled removes; MaterialsApplied records paste per unit; bad content is rejected', async () => {
    const m = await makeReleasedWorkOrder();
    const handle = `Test.placement.${uniq('SN')}`;
    const ph = `Test.printer.${uniq('SN')}`;
    const eq = await s().factory.equipment.create(system, { stationId: m.stations.placement!.id, code: uniq('EQ'), name: 'placer', cfxHandle: handle });
    await s().factory.equipment.create(system, { stationId: m.stations.printer!.id, code: uniq('PR'), name: 'printer', cfxHandle: ph });
    const reel = (await s().materials.receive(system, { ipn: m.partIpns[0]!, manufacturer: 'Acme', mpn: `${m.product.code}-MPN0`, quantity: 100, lotCode: uniq('L') })).package;
    const paste = (await s().materials.receive(system, { ipn: m.partIpns[2]!, manufacturer: 'Acme', mpn: `${m.product.code}-MPN2`, quantity: 1, lotCode: uniq('P'), kind: 'paste-jar' })).package;
    const [serial] = (await s().tracking.generateUnits(system, { workOrder: m.wo.id, count: 1 })).serials;
    const unitId = (await s().tracking.getUnit(serial!)).id;
    const installedAt = new Date(Date.now() - 60_000).toISOString();

    const r = await ingest([
      envelope('CFX.Production.Assembly.MaterialsInstalled', handle, {
        TransactionId: crypto.randomUUID(),
        InstalledMaterials: [{
          UnitIdentifier: serial, UnitPositionNumber: 1, QuantityInstalled: 2, QuantityNonInstalled: 0,
          Material: { UniqueIdentifier: reel.code, InternalPartNumber: m.partIpns[0], Quantity: 98 },
          CarrierLocation: { LocationIdentifier: 'UID1', LocationName: 'S1', CarrierInformation: null },
          InstalledComponents: [{ ReferenceDesignator: 'R1', InstallationTime: installedAt }, { ReferenceDesignator: 'R2', InstallationTime: installedAt }],
        }],
      }),
    ]);
    expect(r.messages[0], JSON.stringify(r.messages[0])).toMatchObject({ outcome: 'applied' });
    const rows = await testDb().query<{ refdes: string; source: string; slot: string; equipment_id: number; installed_at: Date }>(
      'SELECT refdes, source, slot, equipment_id, installed_at FROM material_installs WHERE unit_id = $1 ORDER BY refdes', [unitId],
    );
    expect(rows.rows.map((x) => [x.refdes, x.source, x.slot, x.equipment_id])).toEqual([['R1', 'cfx', 'S1', eq.id], ['R2', 'cfx', 'S1', eq.id]]);
    expect(rows.rows[0]!.installed_at.toISOString()).toBe(installedAt);
    const list = await s().materials.unitMaterials(unitId);
    expect(list.map((x) => [x.refdes, x.source, x.candidates.map((c) => c.packageCode)])).toEqual([['R1', 'M3', [reel.code]], ['R2', 'M3', [reel.code]]]);
    expect(list[0]!.candidates[0]).toMatchObject({ equipmentId: eq.id, equipmentCode: eq.code, slot: 'S1', lotId: reel.lotId });

    const un = await ingest([
      envelope('CFX.Production.Assembly.MaterialsUninstalled', handle, {
        TransactionId: crypto.randomUUID(),
        UninstalledMaterials: [{
          UnitIdentifier: serial, UnitPositionNumber: 1, QuantityUninstalled: 1, Reason: 'DefectiveMaterial',
          Material: { UniqueIdentifier: reel.code, InternalPartNumber: m.partIpns[0], Quantity: 98 },
          UninstalledComponents: [{ ReferenceDesignator: 'R2', InstallationTime: installedAt }],
        }],
      }),
    ]);
    expect(un.messages[0]).toMatchObject({ outcome: 'applied' });
    expect((await s().materials.unitMaterials(unitId)).map((x) => x.refdes)).toEqual(['R1']);

    const ap = await ingest([
      envelope('CFX.Production.Application.MaterialsApplied', ph, {
        TransactionId: crypto.randomUUID(),
        AppliedMaterials: [{
          $type: 'CFX.Structures.AppliedMaterial, CFX', UnitIdentifier: serial, UnitPositionNumber: 1, QuantityInstalled: 0, QuantityNonInstalled: 0,
          Material: { UniqueIdentifier: paste.code, InternalPartNumber: null, Quantity: 500 }, CarrierLocation: null, InstalledComponents: [], NonInstalledComponents: [],
          QuantityApplied: { Value: 3.57, ValueUnits: 'g', ExpectedValue: 3.6, ExpectedValueUnits: 'g', MinimumAcceptableValue: 3.4, MaximumAcceptableValue: 3.8 },
        }],
      }),
    ]);
    expect(ap.messages[0], JSON.stringify(ap.messages[0])).toMatchObject({ outcome: 'applied' });
    const applied = await testDb().query<{ kind: string; quantity: number; quantity_unit: string; package_id: number }>(
      `SELECT kind, quantity, quantity_unit, package_id FROM material_installs WHERE unit_id = $1 AND kind = 'applied'`, [unitId],
    );
    expect(applied.rows).toEqual([{ kind: 'applied', quantity: 3.57, quantity_unit: 'g', package_id: paste.id }]);
    expect((await s().materials.materialWhereUsed({ pasteJarPackageId: paste.id })).units).toEqual([{ unitId, via: 'M3' }]);

    // A designator not on the BOM: rejected whole (dead letter), nothing written.
    const before = (await testDb().query('SELECT 1 FROM material_installs WHERE unit_id = $1', [unitId])).rowCount;
    const bad = await ingest([
      envelope('CFX.Production.Assembly.MaterialsInstalled', handle, {
        TransactionId: crypto.randomUUID(),
        InstalledMaterials: [{
          UnitIdentifier: serial, UnitPositionNumber: 1, Material: { UniqueIdentifier: reel.code, InternalPartNumber: null, Quantity: 90 },
          InstalledComponents: [{ ReferenceDesignator: 'R1', InstallationTime: installedAt }, { ReferenceDesignator: 'X99', InstallationTime: installedAt }],
        }],
      }),
    ]);
    expect(bad.messages[0]).toMatchObject({ outcome: 'rejected' });
    expect(JSON.stringify(bad.messages[0])).toContain('X99');
    expect((await testDb().query('SELECT 1 FROM material_installs WHERE unit_id = $1', [unitId])).rowCount).toBe(before);
  });

  it('MaterialsInstalled of many units in one batch: one call for all; a refused message is refused alone, the others are applied', async () => {
    const m = await makeReleasedWorkOrder();
    const handle = `Test.placement.${uniq('SN')}`;
    await s().factory.equipment.create(system, { stationId: m.stations.placement!.id, code: uniq('EQ'), name: 'placer', cfxHandle: handle });
    const reel = (await s().materials.receive(system, { ipn: m.partIpns[0]!, manufacturer: 'Acme', mpn: `${m.product.code}-MPN0`, quantity: 100, lotCode: uniq('L') })).package;
    const serials = (await s().tracking.generateUnits(system, { workOrder: m.wo.id, count: 4 })).serials;
    const installed = (serial: string, refdes: string[]) =>
      envelope('CFX.Production.Assembly.MaterialsInstalled', handle, {
        TransactionId: crypto.randomUUID(),
        InstalledMaterials: [{
          UnitIdentifier: serial, UnitPositionNumber: 1, QuantityInstalled: refdes.length, Material: { UniqueIdentifier: reel.code, InternalPartNumber: m.partIpns[0], Quantity: 90 },
          CarrierLocation: { LocationName: 'S1' }, InstalledComponents: refdes.map((d) => ({ ReferenceDesignator: d })),
        }],
      });
    const r = await ingest([installed(serials[0]!, ['R1', 'R2']), installed(serials[1]!, ['R1', 'X99']), installed(serials[2]!, ['R2']), installed(serials[3]!, ['R1'])]);
    expect(r.messages.map((x) => x.outcome)).toEqual(['applied', 'rejected', 'applied', 'applied']);
    expect(r.messages[1]!.reasonCode).toBe('VALIDATION_FAILED');
    expect(r.messages[1]!.detail).toContain('X99');
    const rows = await testDb().query<{ serial: string; refdes: string }>(
      'SELECT u.serial, mi.refdes FROM material_installs mi JOIN units u ON u.id = mi.unit_id WHERE u.serial = ANY($1) ORDER BY u.serial, mi.refdes', [serials],
    );
    expect(rows.rows.map((x) => `${x.serial}:${x.refdes}`)).toEqual([`${serials[0]}:R1`, `${serials[0]}:R2`, `${serials[2]}:R2`, `${serials[3]}:R1`].sort());
    // A machine repeating its report: applied, nothing new.
    const again = await ingest([installed(serials[0]!, ['R1', 'R2'])]);
    expect(again.messages[0]!.outcome).toBe('applied');
    expect((await testDb().query('SELECT 1 FROM material_installs mi JOIN units u ON u.id = mi.unit_id WHERE u.serial = $1', [serials[0]])).rowCount).toBe(2);
  });
});
