import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, it, expect } from 'vitest';
import { decodeCfxEnvelope, decodeCfxPayload, encodeCfxEnvelope, makeNotSupportedResponse } from './codec.ts';
import { SUPPORTED_MESSAGES, classifyMessage, isSupportedMessage, validateMessage } from './messages.ts';
import type { CfxBodies, CfxFieldError, SupportedMessageName, TypedMessage } from './messages.ts';

const TX = '2c24590d-39c5-4039-96a5-91900cecedfa';
const FAULT_ID = 'ea170e0a-43fb-4b02-af2c-928a8401dd51';

function envOf(name: string, body: Record<string, unknown>) {
  return decodeCfxEnvelope({ MessageName: name, UniqueID: 'u-1', TimeStamp: '2024-01-01T00:00:00Z', MessageBody: body });
}

/** Validates and returns the typed body, failing the test with the errors if invalid. */
function okBody<K extends SupportedMessageName>(name: K, body: Record<string, unknown>, zonelessOffsetMinutes?: number): CfxBodies[K] {
  const res = validateMessage(envOf(name, body), zonelessOffsetMinutes === undefined ? {} : { zonelessOffsetMinutes });
  if (!res.ok) throw new Error(`expected ${name} to validate: ${res.errors.map((e) => e.message).join('; ')}`);
  expect(res.message.name).toBe(name);
  return res.message.body as CfxBodies[K];
}

function errorsOf(name: string, body: Record<string, unknown>): CfxFieldError[] {
  const res = validateMessage(envOf(name, body));
  if (res.ok) throw new Error(`expected ${name} to be refused`);
  return res.errors;
}

const unit = (id: string, pos: number, extra: Record<string, unknown> = {}) => ({ UnitIdentifier: id, PositionNumber: pos, ...extra });
const pkg = (id: string) => ({ UniqueIdentifier: id, InternalPartNumber: 'IPN1', Quantity: 100 });
const location = (id: string) => ({ LocationIdentifier: 'L1', LocationName: 'SLOT1', MaterialPackage: pkg(id), CarrierInformation: null });
const detail = (state: string) => ({
  UniqueIdentifier: 'MAT1',
  MaterialData: { $type: 'CFX.Structures.MaterialPackageMSDData, CFX', MSDLevel: 'MSL3', MSDState: state, RemainingExposureTime: '6.00:00:00' },
});

/** A minimal valid body for every supported message. */
const MINIMAL: { [K in SupportedMessageName]: Record<string, unknown> } = {
  'CFX.Production.UnitsArrived': { Units: [unit('P1', 1)] },
  'CFX.Production.UnitsDeparted': { PrimaryIdentifier: 'P1' },
  'CFX.Production.WorkStarted': { TransactionID: TX },
  'CFX.Production.WorkCompleted': { TransactionID: TX, Result: 'Completed' },
  'CFX.Production.UnitsDisqualified': { PrimaryIdentifier: 'P1', Reason: 'DefectiveMaterials' },
  'CFX.Production.Processing.UnitsProcessed': { TransactionId: TX, OverallResult: 'Succeeded' },
  'CFX.Production.RecipeActivated': { RecipeName: 'R1' },
  'CFX.Sensor.Identification.IdentifiersRead': { PrimaryIdentifier: 'P1' },
  'CFX.Materials.Storage.MaterialsLoaded': { Materials: [location('MAT1')] },
  'CFX.Materials.Storage.MaterialsUnloaded': { MaterialPackageIdentifiers: ['MAT1'] },
  'CFX.Materials.Storage.MaterialsEmpty': { EmptyMaterials: [location('MAT1')] },
  'CFX.Materials.Storage.SplicePointDetected': { DepletedMaterial: location('MAT1'), NewlyActiveMaterial: location('MAT2') },
  'CFX.Materials.Management.MaterialsJoined': { LeadingMaterialPackage: pkg('MAT1'), TrailingMaterialPackage: pkg('MAT2') },
  'CFX.Materials.Management.MaterialsSplit': { SourceMaterialPackageIdentifier: 'MAT1', NewMaterialPackageIdentifier: 'MAT2' },
  'CFX.Materials.Management.MSDManagement.MaterialsOpened': { Materials: [detail('Exposed')] },
  'CFX.Materials.Management.MSDManagement.MaterialsPlacedInDryStorage': { Materials: [detail('InDryStorage')] },
  'CFX.Materials.Management.MSDManagement.MaterialsRemovedFromDryStorage': { Materials: [detail('Exposed')] },
  'CFX.Materials.Management.MSDManagement.MaterialsExpired': { Materials: [detail('Expired')] },
  'CFX.Materials.Management.MSDManagement.MaterialsRestored': { Materials: [detail('Exposed')] },
  'CFX.Production.Assembly.MaterialsInstalled': {
    TransactionId: TX,
    InstalledMaterials: [{ UnitIdentifier: 'P1', UnitPositionNumber: 1, Material: pkg('MAT1'), InstalledComponents: [{ ReferenceDesignator: 'R1' }] }],
  },
  'CFX.Production.Assembly.MaterialsUninstalled': {
    TransactionId: TX,
    UninstalledMaterials: [{ UnitIdentifier: 'P1', Material: pkg('MAT1'), Reason: 'DefectiveMaterial' }],
  },
  'CFX.Production.Application.MaterialsApplied': {
    TransactionId: TX,
    AppliedMaterials: [{ UnitIdentifier: 'P1', Material: pkg('PASTE1'), QuantityApplied: { Value: 3.5, ValueUnits: 'g' } }],
  },
  'CFX.Production.TestAndInspection.UnitsInspected': {
    TransactionId: TX,
    InspectionMethod: 'AOI',
    InspectedUnits: [{ UnitIdentifier: 'P1', UnitPositionNumber: 1, OverallResult: 'Passed', Inspections: [{ Result: 'Passed' }] }],
  },
  'CFX.Production.TestAndInspection.UnitsTested': {
    TransactionId: TX,
    TestMethod: 'ICT',
    TestedUnits: [{ UnitIdentifier: 'P1', OverallResult: 'Failed', Tests: [{ TestName: 'T1', Result: 'Failed' }] }],
  },
  'CFX.Production.ReworkAndRepair.UnitsRepaired': {
    TransactionId: TX,
    RepairedUnits: [{ UnitIdentifier: 'P1', OverallResult: 'RepairSuccessful', Repairs: [{ Result: 'RepairSuccessful' }] }],
  },
  'CFX.Production.ReadingsRecorded': { TransactionId: TX, Readings: [{ ReadingIdentifier: 'Temp', Value: '21.5' }] },
  'CFX.ResourcePerformance.StationStateChanged': { OldState: '2200', NewState: 1100, OldStateDuration: '00:01:25' },
  'CFX.ResourcePerformance.FaultOccurred': { Fault: { Severity: 'Error', FaultOccurrenceId: FAULT_ID } },
  'CFX.ResourcePerformance.FaultCleared': { FaultOccurrenceId: FAULT_ID },
  'CFX.ResourcePerformance.FaultAcknowledged': { FaultOccurrenceId: FAULT_ID },
  'CFX.ResourcePerformance.StationOnline': { OfflineDuration: '00:23:00' },
  'CFX.ResourcePerformance.StationOffline': {},
  'CFX.Heartbeat': { CFXHandle: 'A.B.C', HeartbeatFrequency: '00:01:00' },
  'CFX.EndpointConnected': { CFXHandle: 'A.B.C' },
  'CFX.EndpointShuttingDown': { CFXHandle: 'A.B.C' },
  'CFX.InformationSystem.UnitValidation.ValidateUnitsRequest': { Validations: ['All'], PrimaryIdentifier: 'P1' },
  'CFX.Materials.Storage.ValidateStationSetupRequest': { SetupRequirements: { SetupName: 'S1' } },
  'CFX.Production.GetRequiredSetupRequest': { Lane: 1 },
  'CFX.GetEndpointInformationRequest': { CFXHandle: 'A.B.C' },
  'CFX.AreYouThereRequest': { CFXHandle: 'A.B.C' },
  'CFX.WhoIsThereRequest': { SupportedTopicQueryType: 'All', SupportedTopics: [] },
};

const REQUESTS = [
  'CFX.InformationSystem.UnitValidation.ValidateUnitsRequest',
  'CFX.Materials.Storage.ValidateStationSetupRequest',
  'CFX.Production.GetRequiredSetupRequest',
  'CFX.GetEndpointInformationRequest',
  'CFX.AreYouThereRequest',
  'CFX.WhoIsThereRequest',
];

describe('SUPPORTED_MESSAGES and classifyMessage', () => {
  it('lists 41 messages, 6 of them requests', () => {
    const names = Object.keys(SUPPORTED_MESSAGES);
    expect(names).toHaveLength(41);
    expect(names.filter((n) => SUPPORTED_MESSAGES[n as SupportedMessageName].request).sort()).toEqual([...REQUESTS].sort());
    for (const n of names) expect(SUPPORTED_MESSAGES[n as SupportedMessageName].name).toBe(n);
  });

  it('classifies supported, unsupported requests and other messages', () => {
    expect(classifyMessage('CFX.Production.UnitsDeparted')).toBe('supported');
    expect(classifyMessage('CFX.AreYouThereRequest')).toBe('supported');
    expect(classifyMessage('CFX.Production.LockStationRequest')).toBe('request-unsupported');
    expect(classifyMessage('CFX.Materials.Management.BlockMaterialsRequest')).toBe('request-unsupported');
    expect(classifyMessage('CFX.ResourcePerformance.SMTPlacement.ComponentsPlaced')).toBe('unsupported');
    expect(classifyMessage('CFX.AreYouThereResponse')).toBe('unsupported');
    expect(classifyMessage('cfx.production.unitsdeparted')).toBe('unsupported');
    expect(classifyMessage('')).toBe('unsupported');
    expect(classifyMessage('toString')).toBe('unsupported');
    expect(isSupportedMessage('constructor')).toBe(false);
  });

  it.each(Object.keys(MINIMAL))('accepts a minimal %s', (name) => {
    okBody(name as SupportedMessageName, MINIMAL[name as SupportedMessageName]);
  });

  it('SUPPORTED_MESSAGES map() works on a bare body too', () => {
    const res = SUPPORTED_MESSAGES['CFX.Production.WorkCompleted'].map({ TransactionID: TX, Result: 1 });
    expect(res).toMatchObject({ ok: true, value: { transactionId: TX, result: 'Failed' } });
    expect(SUPPORTED_MESSAGES['CFX.Production.WorkCompleted'].map([] as unknown as Record<string, unknown>)).toMatchObject({
      ok: false,
      errors: [{ field: 'MessageBody', code: 'type' }],
    });
  });

  it('validateMessage refuses unsupported names with code unsupported', () => {
    const res = validateMessage(envOf('CFX.Production.ToolsLoaded', {}));
    expect(res).toEqual({
      ok: false,
      errors: [{ field: 'MessageName', code: 'unsupported', message: 'MessageName: CFX.Production.ToolsLoaded is not supported by this MES' }],
    });
  });
});

describe('typed mapping', () => {
  it('maps WorkStarted 2.1 to camelCase', () => {
    const body = okBody('CFX.Production.WorkStarted', {
      PrimaryIdentifier: 'CARRIER5566',
      HermesIdentifier: null,
      TransactionID: TX.toUpperCase(),
      Lane: 1,
      UnitCount: 99,
      Units: [unit('CARRIER5566', 1, { PositionName: 'CIRCUIT1', X: 50.45, Y: 80.66, Z: null, Rotation: 0, FlipX: false, FlipY: false, Status: 'Pass' })],
      RecipeName: 'Recipe1',
      Revision: '2.0',
      RelevantSurface: 'PrimarySurface',
      WorkOrderIdentifier: { WorkOrderId: 'WO-1', Batch: 'B1' },
    });
    expect(body).toEqual({
      transactionId: TX,
      primaryIdentifier: 'CARRIER5566',
      hermesIdentifier: null,
      lane: 1,
      units: [
        { unitIdentifier: 'CARRIER5566', positionNumber: 1, positionName: 'CIRCUIT1', x: 50.45, y: 80.66, z: null, rotation: 0, flipX: false, flipY: false, status: 'Pass' },
      ],
      recipeName: 'Recipe1',
      revision: '2.0',
      relevantSurface: 'PrimarySurface',
      workOrderIdentifier: { workOrderId: 'WO-1', batch: 'B1' },
    });
  });

  it('normalises TransactionID / TransactionId / any casing to transactionId', () => {
    for (const key of ['TransactionID', 'TransactionId', 'transactionid', 'TRANSACTIONID']) {
      expect(okBody('CFX.Production.WorkStarted', { [key]: TX }).transactionId).toBe(TX);
      expect(okBody('CFX.Production.Processing.UnitsProcessed', { [key]: TX, OverallResult: 'Succeeded' }).transactionId).toBe(TX);
      expect(okBody('CFX.Production.Assembly.MaterialsInstalled', { [key]: TX, InstalledMaterials: [] }).transactionId).toBe(TX);
    }
    const fault = okBody('CFX.ResourcePerformance.FaultOccurred', { Fault: { TransactionId: TX, Severity: 'Alarm', FaultOccurrenceId: FAULT_ID } }).fault;
    expect(fault.transactionId).toBe(TX);
  });

  it('accepts the same ID under two casings when equal, refuses it when different', () => {
    expect(okBody('CFX.Production.WorkStarted', { TransactionID: TX, TransactionId: TX }).transactionId).toBe(TX);
    const errors = errorsOf('CFX.Production.WorkStarted', { TransactionID: TX, TransactionId: FAULT_ID });
    expect(errors).toEqual([expect.objectContaining({ field: 'MessageBody.TransactionID', code: 'ambiguous' })]);
  });

  it('lower-cases and unbraces GUIDs; the all-zero GUID means no transaction', () => {
    expect(okBody('CFX.Production.WorkStarted', { TransactionID: `{${TX.toUpperCase()}}` }).transactionId).toBe(TX);
    const inspected = okBody('CFX.Production.TestAndInspection.UnitsInspected', {
      TransactionId: '00000000-0000-0000-0000-000000000000',
      InspectionMethod: 'Human',
      InspectedUnits: [{ UnitIdentifier: 'P1', OverallResult: 'Passed' }],
    });
    expect(inspected.transactionId).toBeNull();
    const errors = errorsOf('CFX.Production.WorkStarted', { TransactionID: '00000000-0000-0000-0000-000000000000' });
    expect(errors).toMatchObject([{ field: 'MessageBody.TransactionID', code: 'required' }]);
    expect(errorsOf('CFX.Production.WorkCompleted', { Result: 'Completed' })).toMatchObject([{ field: 'MessageBody.TransactionID', code: 'required' }]);
  });

  it('keeps polymorphic sub-object types as kind, with or without $type on the wire', () => {
    const testsBody = (typed: boolean) => ({
      TransactionId: TX,
      TestMethod: 'Automated',
      TestedUnits: [
        {
          UnitIdentifier: 'P1',
          OverallResult: 'Passed',
          Tests: [
            {
              Result: 'Passed',
              TestConditions: [{ ...(typed ? { $type: 'CFX.Structures.Temperature, CFX' } : {}), MeanValue: 45.2 }],
              Measurements: [
                {
                  ...(typed ? { $type: 'CFX.Structures.NumericMeasurement, CFX' } : {}),
                  MeasurementName: 'R21',
                  Result: 'Passed',
                  CRDs: 'R21',
                  MeasuredValue: { Value: 28300, ValueUnits: 'Ohm', ExpectedValue: 28.2, ExpectedValueUnits: 'kOhm' },
                },
              ],
            },
          ],
        },
      ],
    });
    const typed = okBody('CFX.Production.TestAndInspection.UnitsTested', testsBody(true));
    const test = typed.testedUnits[0]!.tests[0]!;
    expect(test.measurements[0]).toMatchObject({
      kind: 'CFX.Structures.NumericMeasurement',
      measurementName: 'R21',
      crds: 'R21',
      measuredValue: { value: 28300, valueUnits: 'Ohm', expectedValue: 28.2, expectedValueUnits: 'kOhm' },
      extra: {},
    });
    expect(test.testConditions).toEqual([{ kind: 'CFX.Structures.Temperature', data: { MeanValue: 45.2 } }]);
    const untyped = okBody('CFX.Production.TestAndInspection.UnitsTested', testsBody(false));
    expect(untyped.testedUnits[0]!.tests[0]!.measurements[0]!.kind).toBeNull();
    expect(untyped.testedUnits[0]!.tests[0]!.measurements[0]!.measuredValue!.value).toBe(28300);
  });

  it('keeps type-specific measurement and carrier fields in extra', () => {
    const inspected = okBody('CFX.Production.TestAndInspection.UnitsInspected', {
      TransactionId: TX,
      InspectionMethod: 'SPI',
      InspectedUnits: [
        {
          UnitIdentifier: 'P1',
          OverallResult: 'Passed',
          Inspections: [{ Result: 'Passed', Measurements: [{ $type: 'CFX.Structures.SolderPasteInspection.SolderPasteMeasurement, CFX', Vol: 5.11, EVol: 5.1 }] }],
        },
      ],
    });
    expect(inspected.inspectedUnits[0]!.inspections[0]!.measurements[0]).toMatchObject({
      kind: 'CFX.Structures.SolderPasteInspection.SolderPasteMeasurement',
      extra: { Vol: 5.11, EVol: 5.1 },
    });
    const loaded = okBody('CFX.Materials.Storage.MaterialsLoaded', {
      Materials: [
        {
          LocationName: 'SLOT44',
          MaterialPackage: pkg('MAT1'),
          CarrierInformation: { $type: 'CFX.Structures.SMTPlacement.SMDTapeFeeder, CFX', BaseUniqueIdentifier: '123334', LaneNumber: 1, UniqueIdentifier: 'F1', Name: 'TAPE' },
        },
      ],
    });
    expect(loaded.materials[0]!.carrierInformation).toEqual({
      kind: 'CFX.Structures.SMTPlacement.SMDTapeFeeder',
      uniqueIdentifier: 'F1',
      name: 'TAPE',
      extra: { BaseUniqueIdentifier: '123334', LaneNumber: 1 },
    });
  });

  it('reads MSD data, also without $type, and zoneless dates at the configured offset', () => {
    const body = {
      Materials: [
        {
          UniqueIdentifier: 'MAT1',
          Status: 'active',
          MaterialData: { MSDLevel: 4, MSDState: 'InDryStorage', LastExposureDateTime: '2017-05-01T08:22:12', RemainingExposureTime: '3.00:00:00' },
        },
      ],
    };
    const utc = okBody('CFX.Materials.Management.MSDManagement.MaterialsPlacedInDryStorage', body);
    expect(utc.materials[0]).toMatchObject({
      status: 'Active',
      msd: { msdLevel: 'MSL3', msdState: 'InDryStorage', remainingExposureTimeMs: 259_200_000 },
      materialData: null,
    });
    expect(utc.materials[0]!.msd!.lastExposureDateTime!.toISOString()).toBe('2017-05-01T08:22:12.000Z');
    const est = okBody('CFX.Materials.Management.MSDManagement.MaterialsPlacedInDryStorage', body, -240);
    expect(est.materials[0]!.msd!.lastExposureDateTime!.toISOString()).toBe('2017-05-01T12:22:12.000Z');
  });

  it('maps StationStateChanged with numeric, string and legacy states', () => {
    expect(okBody('CFX.ResourcePerformance.StationStateChanged', { OldState: '22A0', NewState: '1100', OldStateDuration: '00:00:25' })).toEqual({
      oldState: { code: 2201, e10: 'Standby', legacy: '22A0' },
      oldStateDurationMs: 25_000,
      newState: { code: 1100, e10: 'Productive' },
      relatedFault: null,
    });
    expect(errorsOf('CFX.ResourcePerformance.StationStateChanged', { OldState: 1100, NewState: '9999' })).toMatchObject([
      { field: 'MessageBody.NewState', code: 'enum' },
    ]);
    expect(errorsOf('CFX.ResourcePerformance.StationStateChanged', { NewState: 1100 })).toMatchObject([{ field: 'MessageBody.OldState', code: 'required' }]);
    expect(errorsOf('CFX.ResourcePerformance.StationStateChanged', { OldState: 1100, NewState: 1100, OldStateDuration: 25 })).toMatchObject([
      { field: 'MessageBody.OldStateDuration', code: 'type' },
    ]);
  });

  it('parses TimeSpans and refuses bad ones with a format error', () => {
    expect(okBody('CFX.Heartbeat', { CFXHandle: 'A.B.C', HeartbeatFrequency: '00:00:30.5000000' }).heartbeatFrequencyMs).toBe(30_500);
    expect(errorsOf('CFX.ResourcePerformance.StationOnline', { OfflineDuration: '23 minutes' })).toMatchObject([
      { field: 'MessageBody.OfflineDuration', code: 'format' },
    ]);
  });

  it('maps faults with their specialised kind and extra fields', () => {
    const { fault } = okBody('CFX.ResourcePerformance.FaultOccurred', {
      Fault: {
        $type: 'CFX.Structures.SMTPlacement.SMTPlacementFault, CFX',
        PlacementFaultType: 'PickupError',
        Cause: 'CosmicRays',
        Severity: 'warning',
        FaultCode: 'E1',
        FaultOccurrenceId: FAULT_ID,
        DescriptionTranslations: { de: 'Fehler' },
        OccurredAt: '2018-10-31T15:13:31.0083597-04:00',
      },
    });
    expect(fault).toMatchObject({
      kind: 'CFX.Structures.SMTPlacement.SMTPlacementFault',
      cause: 'CosmicRays',
      severity: 'Warning',
      faultOccurrenceId: FAULT_ID,
      descriptionTranslations: { de: 'Fehler' },
      extra: { PlacementFaultType: 'PickupError' },
    });
    expect(fault.occurredAt!.toISOString()).toBe('2018-10-31T19:13:31.008Z');
    expect(errorsOf('CFX.ResourcePerformance.FaultOccurred', {})).toMatchObject([{ field: 'MessageBody.Fault', code: 'required' }]);
    expect(errorsOf('CFX.ResourcePerformance.FaultCleared', {})).toMatchObject([{ field: 'MessageBody.FaultOccurrenceId', code: 'required' }]);
  });

  it('maps ReadingsRecorded (no SDK example exists), turning numeric values into text', () => {
    const body = okBody('CFX.Production.ReadingsRecorded', {
      TransactionId: null,
      Readings: [
        {
          $type: 'CFX.Structures.Reading, CFX',
          ReadingIdentifier: 'OvenTemp',
          TimeRecorded: '2024-01-01T10:00:00.1234567+00:00',
          ReadingSequence: 3,
          Result: 'Passed',
          UnitIdentifier: 'P1',
          UnitPositionNumber: 1,
          ValueDataType: 'Numeric',
          ValueUnits: 'Cel',
          Value: 245.5,
          ExpectedValue: '245',
          MinimumAcceptableValue: 240,
          MaximumAcceptableValue: 250,
          Vendor_Extension: true,
        },
      ],
    });
    expect(body.transactionId).toBeNull();
    expect(body.readings[0]).toMatchObject({
      kind: 'CFX.Structures.Reading',
      readingIdentifier: 'OvenTemp',
      readingSequence: 3,
      result: 'Passed',
      valueDataType: 'Numeric',
      value: '245.5',
      expectedValue: '245',
      minimumAcceptableValue: '240',
      maximumAcceptableValue: '250',
      extra: { Vendor_Extension: true },
    });
    expect(errorsOf('CFX.Production.ReadingsRecorded', {})).toMatchObject([{ field: 'MessageBody.Readings', code: 'required' }]);
  });

  it('maps installed materials down to reference designators', () => {
    const body = okBody('CFX.Production.Assembly.MaterialsInstalled', {
      TransactionId: TX,
      InstalledMaterials: [
        {
          UnitIdentifier: 'PANEL1',
          UnitPositionNumber: 2,
          QuantityInstalled: 2,
          Material: pkg('MAT1'),
          CarrierLocation: { LocationIdentifier: 'UID1', LocationName: 'SLOT45', CarrierInformation: { UniqueIdentifier: 'F1' } },
          InstalledComponents: [
            { ReferenceDesignator: 'R1', InstallationTime: '2018-10-03T16:03:05.1091909-04:00' },
            { ReferenceDesignator: 'R2' },
          ],
          NonInstalledComponents: [{ ReferenceDesignator: 'R3', Location: 'RejectionBox', RejectionDetails: { $type: 'X.Y, CFX', result: 'false' } }],
        },
      ],
    });
    const m = body.installedMaterials[0]!;
    expect(m).toMatchObject({ unitIdentifier: 'PANEL1', unitPositionNumber: 2, material: { uniqueIdentifier: 'MAT1' }, carrierLocation: { locationName: 'SLOT45' } });
    expect(m.installedComponents.map((c) => c.referenceDesignator)).toEqual(['R1', 'R2']);
    expect(m.installedComponents[0]!.installationTime!.toISOString()).toBe('2018-10-03T20:03:05.109Z');
    expect(m.nonInstalledComponents[0]!.rejectionDetails).toEqual({ kind: 'X.Y', data: { result: 'false' } });
  });

  it('lets per-unit records omit UnitIdentifier only when a TransactionId can resolve the unit', () => {
    const noUnit = { UnitPositionNumber: 1, Material: pkg('MAT1') };
    expect(okBody('CFX.Production.Assembly.MaterialsInstalled', { TransactionId: TX, InstalledMaterials: [noUnit] }).installedMaterials[0]!.unitIdentifier).toBeNull();
    expect(errorsOf('CFX.Production.Assembly.MaterialsInstalled', { InstalledMaterials: [noUnit] })).toEqual([
      {
        field: 'MessageBody.InstalledMaterials[0].UnitIdentifier',
        code: 'required',
        message: 'MessageBody.InstalledMaterials[0].UnitIdentifier: required string (no TransactionId to resolve the unit from)',
      },
    ]);
    expect(
      errorsOf('CFX.Production.TestAndInspection.UnitsTested', { TestMethod: 'FCT', TestedUnits: [{ OverallResult: 'Passed' }] }),
    ).toMatchObject([{ field: 'MessageBody.TestedUnits[0].UnitIdentifier', code: 'required' }]);
  });
});

describe('field errors', () => {
  it('names the exact path of a missing unit identifier', () => {
    const errors = errorsOf('CFX.Production.UnitsArrived', { Units: [unit('P1', 1), unit('P1', 2), { PositionNumber: 3 }] });
    expect(errors).toEqual([
      { field: 'MessageBody.Units[2].UnitIdentifier', code: 'required', message: 'MessageBody.Units[2].UnitIdentifier: required string' },
    ]);
  });

  it('refuses wrong JSON types without coercion, and reports every error at once', () => {
    const errors = errorsOf('CFX.Production.WorkStarted', {
      TransactionID: TX,
      Lane: '1',
      Units: [{ UnitIdentifier: 5, PositionNumber: 1.5, FlipX: 'no' }, 'P2'],
      WorkOrderIdentifier: 'WO-1',
    });
    expect(errors.map((e) => [e.field, e.code])).toEqual([
      ['MessageBody.Lane', 'type'],
      ['MessageBody.Units[0].UnitIdentifier', 'required'],
      ['MessageBody.Units[0].PositionNumber', 'type'],
      ['MessageBody.Units[0].FlipX', 'type'],
      ['MessageBody.Units[1]', 'type'],
      ['MessageBody.WorkOrderIdentifier', 'type'],
    ]);
    expect(errors[1]!.message).toBe('MessageBody.Units[0].UnitIdentifier: required string, got number 5');
  });

  it('requires an identifier on unit-list messages', () => {
    for (const name of ['CFX.Production.UnitsArrived', 'CFX.Production.UnitsDeparted', 'CFX.Sensor.Identification.IdentifiersRead', 'CFX.Production.UnitsDisqualified']) {
      expect(errorsOf(name, { PrimaryIdentifier: null, Units: null })).toMatchObject([{ field: 'MessageBody.PrimaryIdentifier', code: 'required' }]);
    }
    expect(okBody('CFX.Sensor.Identification.IdentifiersRead', { PrimaryIdentifier: 'C1', Units: null }).units).toEqual([]);
  });

  it('requires material identity where traceability depends on it', () => {
    expect(errorsOf('CFX.Materials.Storage.MaterialsLoaded', { Materials: [{ LocationName: 'SLOT1' }] })).toMatchObject([
      { field: 'MessageBody.Materials[0].MaterialPackage', code: 'required' },
    ]);
    expect(errorsOf('CFX.Materials.Storage.MaterialsLoaded', { Materials: [{ MaterialPackage: { Quantity: 5 } }] })).toMatchObject([
      { field: 'MessageBody.Materials[0].MaterialPackage.UniqueIdentifier', code: 'required' },
    ]);
    expect(errorsOf('CFX.Materials.Storage.MaterialsUnloaded', { MaterialPackageIdentifiers: ['A', 7] })).toMatchObject([
      { field: 'MessageBody.MaterialPackageIdentifiers[1]', code: 'type' },
    ]);
    expect(errorsOf('CFX.Materials.Management.MaterialsSplit', { SourceMaterialPackageIdentifier: 'A' })).toMatchObject([
      { field: 'MessageBody.NewMaterialPackageIdentifier', code: 'required' },
    ]);
    expect(errorsOf('CFX.Production.Assembly.MaterialsInstalled', { TransactionId: TX, InstalledMaterials: [{ Material: pkg('M'), InstalledComponents: [{}] }] })).toMatchObject([
      { field: 'MessageBody.InstalledMaterials[0].InstalledComponents[0].ReferenceDesignator', code: 'required' },
    ]);
    expect(errorsOf('CFX.Production.RecipeActivated', { RecipeName: '' })).toMatchObject([{ field: 'MessageBody.RecipeName', code: 'required' }]);
  });

  it('refuses malformed dates in bodies', () => {
    expect(
      errorsOf('CFX.Production.ReworkAndRepair.UnitsRepaired', {
        TransactionId: TX,
        RepairedUnits: [{ UnitIdentifier: 'P1', OverallResult: 'Scrap', Repairs: [{ RepairStartTime: '31/10/2018' }] }],
      }),
    ).toMatchObject([{ field: 'MessageBody.RepairedUnits[0].Repairs[0].RepairStartTime', code: 'format' }]);
  });
});

describe('enums', () => {
  const inspected = (over: Record<string, unknown> = {}, inspection: Record<string, unknown> = {}, unitOver: Record<string, unknown> = {}) => ({
    TransactionId: TX,
    InspectionMethod: 'AOI',
    InspectedUnits: [{ UnitIdentifier: 'P1', OverallResult: 'Passed', Inspections: [{ Result: 'Passed', ...inspection }], ...unitOver }],
    ...over,
  });

  it('accepts names case-insensitively and integer forms (number or digit string)', () => {
    expect(okBody('CFX.Production.TestAndInspection.UnitsInspected', inspected({ InspectionMethod: 2 })).inspectionMethod).toBe('SPI');
    expect(okBody('CFX.Production.TestAndInspection.UnitsInspected', inspected({ InspectionMethod: '3' })).inspectionMethod).toBe('AXI');
    expect(okBody('CFX.Production.TestAndInspection.UnitsInspected', inspected({ InspectionMethod: 'aoi' })).inspectionMethod).toBe('AOI');
    const v = okBody('CFX.Production.TestAndInspection.UnitsInspected', inspected({}, { Result: 1, Verification: 5 }, { OverallResult: 'FAILED' }));
    expect(v.inspectedUnits[0]).toMatchObject({ overallResult: 'Failed', inspections: [{ result: 'Failed', verification: 'DefectClosed' }] });
    expect(okBody('CFX.Production.WorkCompleted', { TransactionID: TX, Result: 3 }).result).toBe('Skipped');
    expect(okBody('CFX.Production.TestAndInspection.UnitsTested', { TransactionId: TX, TestMethod: 5 }).testMethod).toBe('BST');
    expect(
      okBody('CFX.InformationSystem.UnitValidation.ValidateUnitsRequest', { Validations: [0, 'unitstatusvalidation', 'All'], PrimaryIdentifier: 'P' }).validations,
    ).toEqual(['UnitRouteValidation', 'UnitStatusValidation', 'All']);
    expect(okBody('CFX.Production.UnitsArrived', { Units: [unit('P1', 1, { Status: 3 })] }).units[0]!.status).toBe('Skip');
  });

  it('passes unknown values of open enums through', () => {
    const body = okBody('CFX.Production.UnitsDisqualified', { PrimaryIdentifier: 'P', Reason: 'DroppedOnFloor' });
    expect(body.reason).toBe('DroppedOnFloor');
    expect(okBody('CFX.Production.UnitsDisqualified', { PrimaryIdentifier: 'P', Reason: 2 }).reason).toBe('DefectiveMaterials');
  });

  const cases: Array<[string, string, Record<string, unknown>, string]> = [
    ['TestResult (inspection)', 'CFX.Production.TestAndInspection.UnitsInspected', inspected({}, { Result: 'Maybe' }), 'MessageBody.InspectedUnits[0].Inspections[0].Result'],
    ['TestResult (unit)', 'CFX.Production.TestAndInspection.UnitsInspected', inspected({}, {}, { OverallResult: 'Pass' }), 'MessageBody.InspectedUnits[0].OverallResult'],
    [
      'TestResult (test)',
      'CFX.Production.TestAndInspection.UnitsTested',
      { TransactionId: TX, TestMethod: 'ICT', TestedUnits: [{ UnitIdentifier: 'P', OverallResult: 'Passed', Tests: [{ Result: 'Unknown' }] }] },
      'MessageBody.TestedUnits[0].Tests[0].Result',
    ],
    [
      'TestResult (measurement)',
      'CFX.Production.TestAndInspection.UnitsInspected',
      inspected({}, { Measurements: [{ Result: 'OK' }] }),
      'MessageBody.InspectedUnits[0].Inspections[0].Measurements[0].Result',
    ],
    ['WorkResult', 'CFX.Production.WorkCompleted', { TransactionID: TX, Result: 'Done' }, 'MessageBody.Result'],
    ['WorkResult (index out of range)', 'CFX.Production.WorkCompleted', { TransactionID: TX, Result: 4 }, 'MessageBody.Result'],
    ['ProcessingResult', 'CFX.Production.Processing.UnitsProcessed', { TransactionId: TX, OverallResult: 'Passed' }, 'MessageBody.OverallResult'],
    ['UnitStatus', 'CFX.Production.WorkStarted', { TransactionID: TX, Units: [unit('P', 1, { Status: 'Good' })] }, 'MessageBody.Units[0].Status'],
    ['InspectionMethod', 'CFX.Production.TestAndInspection.UnitsInspected', inspected({ InspectionMethod: 'XRay' }), 'MessageBody.InspectionMethod'],
    ['InspectionMethod (negative)', 'CFX.Production.TestAndInspection.UnitsInspected', inspected({ InspectionMethod: -1 }), 'MessageBody.InspectionMethod'],
    ['TestMethod', 'CFX.Production.TestAndInspection.UnitsTested', { TransactionId: TX, TestMethod: 'Boundary' }, 'MessageBody.TestMethod'],
    ['Verification', 'CFX.Production.TestAndInspection.UnitsInspected', inspected({}, { DefectsFound: [{ Verification: 'Fixed' }] }), 'MessageBody.InspectedUnits[0].Inspections[0].DefectsFound[0].Verification'],
    [
      'MSDLevel',
      'CFX.Materials.Management.MSDManagement.MaterialsOpened',
      { Materials: [{ UniqueIdentifier: 'M', MaterialData: { MSDLevel: 'MSL7' } }] },
      'MessageBody.Materials[0].MaterialData.MSDLevel',
    ],
    [
      'MSDState',
      'CFX.Materials.Management.MSDManagement.MaterialsOpened',
      { Materials: [{ UniqueIdentifier: 'M', MaterialData: { $type: 'CFX.Structures.MaterialPackageMSDData, CFX', MSDState: 'Open' } }] },
      'MessageBody.Materials[0].MaterialData.MSDState',
    ],
    ['MaterialStatus', 'CFX.Materials.Management.MSDManagement.MaterialsExpired', { Materials: [{ UniqueIdentifier: 'M', Status: 'Gone' }] }, 'MessageBody.Materials[0].Status'],
    ['FaultSeverity', 'CFX.ResourcePerformance.FaultOccurred', { Fault: { Severity: 'Critical', FaultOccurrenceId: FAULT_ID } }, 'MessageBody.Fault.Severity'],
    [
      'FaultSeverity (heartbeat active fault)',
      'CFX.Heartbeat',
      { CFXHandle: 'A.B.C', ActiveFaults: [{ Severity: 9, FaultOccurrenceId: FAULT_ID }] },
      'MessageBody.ActiveFaults[0].Severity',
    ],
    [
      'ValidationType',
      'CFX.InformationSystem.UnitValidation.ValidateUnitsRequest',
      { Validations: ['UnitRouteValidation', 'UnitColourValidation'], PrimaryIdentifier: 'P' },
      'MessageBody.Validations[1]',
    ],
    [
      'RepairResult',
      'CFX.Production.ReworkAndRepair.UnitsRepaired',
      { TransactionId: TX, RepairedUnits: [{ UnitIdentifier: 'P', OverallResult: 'Fixed' }] },
      'MessageBody.RepairedUnits[0].OverallResult',
    ],
  ];

  it.each(cases)('refuses an unknown %s with a named field error', (_label, name, body, fieldPath) => {
    const errors = errorsOf(name, body);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ field: fieldPath, code: 'enum' });
    expect(errors[0]!.message.startsWith(`${fieldPath}: expected `)).toBe(true);
  });

  it('refuses a missing required enum with code required', () => {
    expect(errorsOf('CFX.Production.TestAndInspection.UnitsInspected', { TransactionId: TX })).toMatchObject([
      { field: 'MessageBody.InspectionMethod', code: 'required' },
    ]);
    expect(errorsOf('CFX.InformationSystem.UnitValidation.ValidateUnitsRequest', { Validations: 'All', PrimaryIdentifier: 'P' })).toMatchObject([
      { field: 'MessageBody.Validations', code: 'type' },
    ]);
  });
});

describe('TypedMessage', () => {
  it('narrows on name', () => {
    const res = validateMessage(envOf('CFX.Production.WorkCompleted', { TransactionID: TX, Result: 'Aborted' }));
    expect(res.ok).toBe(true);
    if (!res.ok) return;
    const msg: TypedMessage = res.message;
    let result: string | undefined;
    switch (msg.name) {
      case 'CFX.Production.WorkCompleted':
        result = msg.body.result;
        break;
      default:
        result = undefined;
    }
    expect(result).toBe('Aborted');
  });
});

// ---------------------------------------------------------------------------------------------
// Conformance: the 208 SDK examples in ../shared/cfx-examples
// ---------------------------------------------------------------------------------------------

const EXAMPLES_DIR = resolve(process.cwd(), '../shared/cfx-examples');

interface Example {
  file: string;
  MessageName: string;
  MessageBody: Record<string, unknown>;
}

function loadExamples(): Example[] {
  return readdirSync(EXAMPLES_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const parsed = JSON.parse(readFileSync(resolve(EXAMPLES_DIR, file), 'utf8')) as Omit<Example, 'file'>;
      return { file, MessageName: parsed.MessageName, MessageBody: parsed.MessageBody };
    });
}

function stripTypes(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripTypes);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).filter(([k]) => k !== '$type').map(([k, x]) => [k, stripTypes(x)]));
}

type Variant = 'typed' | 'stripped' | 'name-from-type';

/** Wraps an example body in an envelope the way a sender would. */
function wrap(ex: Example, variant: Variant, i: number): Record<string, unknown> {
  const typedBody = { $type: `${ex.MessageName}, CFX`, ...ex.MessageBody };
  return {
    ...(variant === 'name-from-type' ? {} : { MessageName: ex.MessageName }),
    Version: '2.1',
    TimeStamp: '2024-06-01T08:00:00.1234567+02:00',
    UniqueID: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    Source: 'Conformance.Sender.1',
    Target: null,
    RequestID: ex.MessageName.endsWith('Request') ? `req-${i}` : null,
    MessageBody: variant === 'stripped' ? stripTypes(ex.MessageBody) : typedBody,
  };
}

/**
 * Supported examples that are expected NOT to validate, with the documented reason.
 * Empty: every SDK example of a supported message validates.
 */
const KNOWN_INVALID_EXAMPLES: Record<string, string> = {};

describe('conformance with the CFX SDK examples', () => {
  const examples = loadExamples();

  it('finds the 208-example corpus', () => {
    expect(examples).toHaveLength(208);
    for (const ex of examples) expect(ex.file.startsWith(`${ex.MessageName}.`)).toBe(true);
  });

  it.each<Variant>(['typed', 'stripped', 'name-from-type'])('decodes, classifies and validates every example (%s)', (variant) => {
    const outcome = { supported: 0, invalid: 0, 'request-unsupported': 0, unsupported: 0 };
    const supportedNames = new Set<string>();
    const failures: string[] = [];
    examples.forEach((ex, i) => {
      let res;
      try {
        res = decodeCfxPayload(JSON.stringify(wrap(ex, variant, i)));
      } catch (err) {
        failures.push(`${ex.file}: decode threw ${(err as Error).message}`);
        return;
      }
      expect(res.envelopes).toHaveLength(1);
      const env = res.envelopes[0]!;
      expect(env.messageName).toBe(ex.MessageName);
      expect(JSON.stringify(env.body)).not.toContain('"$type"');
      const cls = classifyMessage(env.messageName);
      if (cls !== 'supported') {
        outcome[cls]++;
        if (cls === 'request-unsupported') {
          const answer = JSON.parse(encodeCfxEnvelope(makeNotSupportedResponse(env, 'OpenMES.Server.1')));
          expect(answer).toMatchObject({ MessageName: 'CFX.NotSupportedResponse', RequestID: `req-${i}`, Target: 'Conformance.Sender.1' });
        }
        return;
      }
      const v = validateMessage(env);
      if (v.ok) {
        outcome.supported++;
        supportedNames.add(env.messageName);
        expect(v.message.name).toBe(env.messageName);
        return;
      }
      outcome.invalid++;
      for (const e of v.errors) {
        expect(e.field.startsWith('MessageBody')).toBe(true);
        expect(e.message.startsWith(`${e.field}: `)).toBe(true);
      }
      if (!(ex.file in KNOWN_INVALID_EXAMPLES)) failures.push(`${ex.file}: ${v.errors.map((e) => e.message).join('; ')}`);
    });
    expect(failures).toEqual([]);
    expect(outcome).toEqual({ supported: 60, invalid: Object.keys(KNOWN_INVALID_EXAMPLES).length, 'request-unsupported': 38, unsupported: 110 });
    // Every supported message has an SDK example except ReadingsRecorded (tested above by hand).
    const missing = Object.keys(SUPPORTED_MESSAGES).filter((n) => !supportedNames.has(n));
    expect(missing).toEqual(['CFX.Production.ReadingsRecorded']);
  });

  it('decodes the whole corpus as one gzipped batch without rejections', () => {
    const payload = gzipSync(Buffer.from(JSON.stringify(examples.map((ex, i) => wrap(ex, 'typed', i)))));
    const res = decodeCfxPayload(payload, 'gzip');
    expect(res.rejected).toEqual([]);
    expect(res.envelopes).toHaveLength(208);
    expect(new Set(res.envelopes.map((e) => e.uniqueId)).size).toBe(208);
  });

  it('maps key fields of representative examples', () => {
    const byFile = new Map(examples.map((ex, i) => [ex.file, validateMessage(decodeCfxEnvelope(wrap(ex, 'typed', i)))]));
    const body = <K extends SupportedMessageName>(file: string, _name: K): CfxBodies[K] => {
      const v = byFile.get(file);
      if (!v?.ok) throw new Error(`${file} did not validate`);
      return v.message.body as CfxBodies[K];
    };
    expect(body('CFX.Production.WorkStarted.2.json', 'CFX.Production.WorkStarted').workOrderIdentifier).toEqual({ workOrderId: 'WO-1000-1000', batch: 'WO-1000-1000-B1' });
    expect(body('CFX.ResourcePerformance.StationStateChanged.json', 'CFX.ResourcePerformance.StationStateChanged')).toMatchObject({
      oldState: { code: 2200, e10: 'Standby' },
      oldStateDurationMs: 85_000,
      newState: { code: 1100, e10: 'Productive' },
    });
    const loaded = body('CFX.Materials.Storage.MaterialsLoaded.json', 'CFX.Materials.Storage.MaterialsLoaded');
    expect(loaded.materials.map((m) => m.carrierInformation?.kind ?? null)).toEqual([
      null,
      'CFX.Structures.SMTPlacement.SMDTapeFeeder',
      'CFX.Structures.SMTPlacement.SMDTapeFeeder',
      'CFX.Structures.SMTPlacement.SMDTapeFeeder',
      'CFX.Structures.SMTPlacement.SMDTubeFeeder',
      'CFX.Structures.SMTPlacement.SMDTrayFeeder',
    ]);
    const installed = body('CFX.Production.Assembly.MaterialsInstalled.json', 'CFX.Production.Assembly.MaterialsInstalled');
    expect(installed.installedMaterials.flatMap((m) => m.installedComponents.map((c) => c.referenceDesignator))).toEqual(['R1', 'R2', 'R3', 'R1', 'R2', 'R3']);
    const processed = body('CFX.Production.Processing.UnitsProcessed.json', 'CFX.Production.Processing.UnitsProcessed');
    expect(processed.commonProcessData?.kind).toBe('CFX.Structures.SolderReflow.ReflowProcessData');
    const expired = body('CFX.Materials.Management.MSDManagement.MaterialsExpired.json', 'CFX.Materials.Management.MSDManagement.MaterialsExpired');
    expect(expired.materials.map((m) => [m.msd?.msdLevel, m.msd?.msdState])).toEqual([
      ['MSL3', 'Expired'],
      ['MSL2A', 'Expired'],
    ]);
    const inspected = body('CFX.Production.TestAndInspection.UnitsInspected.4.json', 'CFX.Production.TestAndInspection.UnitsInspected');
    expect(inspected.transactionId).toBeNull();
    const validate = body('CFX.InformationSystem.UnitValidation.ValidateUnitsRequest.json', 'CFX.InformationSystem.UnitValidation.ValidateUnitsRequest');
    expect(validate.validations).toEqual(['UnitRouteValidation', 'UnitStatusValidation']);
  });
});
