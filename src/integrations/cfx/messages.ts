/**
 * Typed validation of the CFX messages the MES understands.
 *
 * Input is a normalised envelope from codec.ts (`$type` removed, polymorphic sub-objects carry
 * `kind`); output is a camelCase, typed object per message, or a list of field errors whose
 * paths name the wire field (`MessageBody.Units[2].UnitIdentifier`) so a machine vendor can fix
 * the sender. Nothing here throws for bad input.
 *
 * Wire leniency, chosen to match what the CFX SDK (Newtonsoft.Json) itself accepts:
 * - body keys match case-insensitively (TransactionID / TransactionId / transactionid), the
 *   SDK spelling wins; two spellings with different values are an `ambiguous` error;
 * - enums accept their names case-insensitively and their integer index (number or digit
 *   string), and are output as the canonical name;
 * - `null` and absent are the same for optional fields; lists that are null become [].
 * Strictness on purpose: strings must be JSON strings, numbers JSON numbers, booleans JSON
 * booleans (no coercion), and the enums the MES acts on (results, statuses, methods, MSD data,
 * severities, validations) refuse unknown values. Other enums (fault cause, surface, reasons…)
 * pass unknown strings through, so a newer CFX version does not break ingestion.
 */
import { cfxDateTimeHasZone, isPlainObject, parseCfxDateTime, parseResourceState, parseTimeSpan, describe } from './codec.ts';
import type { CfxEnvelope, ResourceStateInfo } from './codec.ts';

// ---------------------------------------------------------------------------------------------
// Enums
// ---------------------------------------------------------------------------------------------

/** An enum as the SDK declares it: names in declaration order (the integer form is the index). */
interface EnumDef<T extends string> {
  name: string;
  values: readonly T[];
}

function defineEnum<const T extends string>(name: string, values: readonly T[]): EnumDef<T> {
  return { name, values };
}

export const TEST_RESULT = defineEnum('TestResult', ['Passed', 'Failed', 'Error', 'Aborted', 'Skipped']);
export const WORK_RESULT = defineEnum('WorkResult', ['Completed', 'Failed', 'Aborted', 'Skipped']);
export const PROCESSING_RESULT = defineEnum('ProcessingResult', ['Succeeded', 'Failed', 'Error', 'Aborted', 'Skipped']);
export const UNIT_STATUS = defineEnum('UnitStatus', ['Pass', 'Fail', 'Scrap', 'Skip']);
export const INSPECTION_METHOD = defineEnum('InspectionMethod', ['Human', 'AOI', 'SPI', 'AXI']);
export const TEST_METHOD = defineEnum('TestMethod', ['Human', 'Automated', 'ICT', 'FPT', 'FCT', 'BST']);
export const VERIFICATION = defineEnum('VerificationResult', [
  'NotVerifiedYet', 'DefectConfirmed', 'DefectRejected', 'DefectAccepted', 'DefectRepaired', 'DefectClosed',
]);
export const MSD_LEVEL = defineEnum('MSDLevel', ['Unspecified', 'MSL1', 'MSL2', 'MSL2A', 'MSL3', 'MSL4', 'MSL5', 'MSL5A', 'MSL6']);
export const MSD_STATE = defineEnum('MSDState', ['Unspecified', 'NeverOpened', 'Exposed', 'InDryStorage', 'Expired']);
export const FAULT_SEVERITY = defineEnum('FaultSeverity', ['Information', 'Warning', 'Error', 'Alarm']);
export const VALIDATION_TYPE = defineEnum('ValidationType', [
  'UnitRouteValidation', 'UnitStatusValidation', 'UnitAndSubsStatusValidation', 'UnitTraceValidation', 'All',
]);
export const REPAIR_RESULT = defineEnum('RepairResult', ['RepairSuccessful', 'UnableToRepair', 'Scrap', 'Error', 'Aborted']);
export const MATERIAL_STATUS = defineEnum('MaterialStatus', ['Active', 'Blocked', 'Depleted']);

// Open enums: known names are canonicalised, unknown strings pass through unchanged.
const SURFACE = defineEnum('Surface', ['Unspecified', 'PrimarySurface', 'SecondarySurface']);
const STAGE_TYPE = defineEnum('StageType', ['Work', 'Buffer']);
const ACTOR_TYPE = defineEnum('ActorType', ['Human', 'Robot', 'RemoteSystem']);
const DISQUALIFICATION_REASON = defineEnum('DisqualificationReason', [
  'DefectiveRepairNotPossible', 'DefectiveRepairNotFeasible', 'DefectiveMaterials',
]);
const HAZARDOUS_MATERIAL_TYPE = defineEnum('HazardousMaterialType', ['NotHazardous', 'Hazardous', 'RoHS']);
const UNINSTALLED_REASON = defineEnum('UninstalledReason', ['DefectiveMaterial', 'DefectiveInstallation', 'IncorrectMaterial', 'Other']);
const FAULT_CAUSE = defineEnum('FaultCause', [
  'LoadError', 'UnloadError', 'AutoSafetyStop', 'SafetyStop', 'QualityCheck', 'RemoteStop', 'MechanicalFailure',
  'SoftwareFailure', 'PowerFailure', 'MissingDocumentation', 'Refill', 'MsdExpired', 'MaterialExpired', 'MissingComponent',
  'ElectricalFailure', 'ServicesFailure', 'ProcessError', 'RejectedComponent',
]);
const SIDE_LOCATION = defineEnum('SideLocation', ['Unknown', 'Right', 'Left', 'Both']);
const ACCESS_TYPE = defineEnum('AccessType', ['Unknown', 'Ignore', 'Local', 'Remote']);
const ISSUE_STATUS = defineEnum('IssueStatus', ['NewlyDiscovered', 'Confirmed', 'False', 'Repaired', 'Closed']);
const SAMPLING_METHOD = defineEnum('SamplingMethod', ['NoSampling', 'ANSI_Z14', 'MIL_STD_105', 'MIL_STD_1916', 'Squeglia', 'FixedSample']);
const NON_INSTALLED_LOCATION = defineEnum('NonInstalledComponentLocation', ['Lost', 'MaterialCarrier', 'RejectionBox']);
const DATA_TYPE = defineEnum('DataType', ['String', 'StringList', 'Numeric', 'Integer', 'Boolean', 'Enumeration', 'Binary', 'Guid']);
const SUPPORTED_TOPIC_QUERY_TYPE = defineEnum('SupportedTopicQueryType', ['All', 'Any', 'Ignore']);
const TOPIC_SUPPORT_TYPE = defineEnum('TopicSupportType', ['Publisher', 'Consumer', 'PublisherConsumer']);

export type TestResult = (typeof TEST_RESULT.values)[number];
export type WorkResult = (typeof WORK_RESULT.values)[number];
export type ProcessingResult = (typeof PROCESSING_RESULT.values)[number];
export type UnitStatus = (typeof UNIT_STATUS.values)[number];
export type InspectionMethod = (typeof INSPECTION_METHOD.values)[number];
export type TestMethod = (typeof TEST_METHOD.values)[number];
export type Verification = (typeof VERIFICATION.values)[number];
export type MSDLevel = (typeof MSD_LEVEL.values)[number];
export type MSDState = (typeof MSD_STATE.values)[number];
export type FaultSeverity = (typeof FAULT_SEVERITY.values)[number];
export type ValidationType = (typeof VALIDATION_TYPE.values)[number];
export type RepairResult = (typeof REPAIR_RESULT.values)[number];
export type MaterialStatus = (typeof MATERIAL_STATUS.values)[number];

// ---------------------------------------------------------------------------------------------
// Shared structures
// ---------------------------------------------------------------------------------------------

/** Wire fields of a structure that the typed mapping does not name (PascalCase, as sent). */
export type Extra = Record<string, unknown>;

/** A polymorphic CFX object the MES stores but does not interpret (process data, conditions, …). */
export interface CfxPolymorphic {
  /** CFX type from `$type`, e.g. `CFX.Structures.SolderReflow.ReflowProcessData`; null when the sender omitted `$type`. */
  kind: string | null;
  /** All wire fields (PascalCase), `$type` removed. */
  data: Extra;
}

export interface UnitPosition {
  unitIdentifier: string;
  positionNumber: number | null;
  positionName: string | null;
  x: number | null;
  y: number | null;
  z: number | null;
  rotation: number | null;
  flipX: boolean | null;
  flipY: boolean | null;
  status: UnitStatus | null;
}

export interface Stage {
  stageSequence: number | null;
  stageName: string | null;
  stageType: string | null;
}

export interface WorkOrderIdentifier {
  workOrderId: string | null;
  batch: string | null;
}

export interface Operator {
  operatorIdentifier: string | null;
  actorType: string | null;
  lastName: string | null;
  firstName: string | null;
  loginName: string | null;
}

export interface MaterialPackage {
  uniqueIdentifier: string;
  internalPartNumber: string | null;
  internalPackageName: string | null;
  quantity: number | null;
  batchId: string | null;
  extra: Extra;
}

export interface MaterialCarrier {
  /** e.g. `CFX.Structures.SMTPlacement.SMDTapeFeeder`; null when `$type` was absent. */
  kind: string | null;
  uniqueIdentifier: string | null;
  name: string | null;
  /** Type-specific fields (BaseUniqueIdentifier, LaneNumber, TapeWidth, …) as sent. */
  extra: Extra;
}

export interface MaterialLocation {
  locationIdentifier: string | null;
  /** The slot, e.g. "SLOT45". */
  locationName: string | null;
  materialPackage: MaterialPackage;
  carrierInformation: MaterialCarrier | null;
}

export interface MsdData {
  expirationDateTime: Date | null;
  originalExposureDateTime: Date | null;
  lastExposureDateTime: Date | null;
  remainingExposureTimeMs: number | null;
  msdLevel: MSDLevel | null;
  msdState: MSDState | null;
}

export interface MaterialPackageDetail {
  uniqueIdentifier: string;
  internalPartNumber: string | null;
  internalPackageName: string | null;
  manufacturer: string | null;
  manufacturerPartNumber: string | null;
  vendor: string | null;
  vendorPartNumber: string | null;
  manufacturerLotCode: string | null;
  created: Date | null;
  manufactureDate: Date | null;
  receivedDate: Date | null;
  expiryDate: Date | null;
  units: string | null;
  initialQuantity: number | null;
  quantity: number | null;
  status: MaterialStatus | null;
  hazardousMaterialType: string | null;
  /** MSD data when MaterialData is a MaterialPackageMSDData (or looks like one without `$type`). */
  msd: MsdData | null;
  /** MaterialData of any other kind, as sent. */
  materialData: CfxPolymorphic | null;
  extra: Extra;
}

export interface NumericValue {
  value: number | null;
  valueUnits: string | null;
  expectedValue: number | null;
  expectedValueUnits: string | null;
  minimumAcceptableValue: number | null;
  minimumAcceptableValueUnits: string | null;
  maximumAcceptableValue: number | null;
  maximumAcceptableValueUnits: string | null;
}

export interface Measurement {
  /** e.g. `CFX.Structures.NumericMeasurement`, `CFX.Structures.SolderPasteInspection.SolderPasteMeasurement`. */
  kind: string | null;
  uniqueIdentifier: string | null;
  measurementName: string | null;
  timeRecorded: Date | null;
  sequence: number | null;
  result: TestResult | null;
  /** Comma-separated component reference designators, as sent. */
  crds: string | null;
  /** Present for NumericMeasurement (and any measurement with an object MeasuredValue). */
  measuredValue: NumericValue | null;
  /** Type-specific fields (X, Y, Vol, DX, …) as sent. */
  extra: Extra;
}

export interface ComponentDesignator {
  referenceDesignator: string | null;
  partNumber: string | null;
  unitPosition: Omit<UnitPosition, 'unitIdentifier'> & { unitIdentifier: string | null } | null;
}

export interface Defect {
  uniqueIdentifier: string | null;
  defectCode: string | null;
  defectCategory: string | null;
  description: string | null;
  comments: string | null;
  componentOfInterest: ComponentDesignator | null;
  /** Region as sent (StartPointX/Y, RegionSegments). */
  regionOfInterest: Extra | null;
  defectImages: Array<{ mimeType: string | null; imageData: string | null; imageUrl: string | null }>;
  priority: number | null;
  confidenceLevel: number | null;
  relatedMeasurements: Measurement[];
  verification: Verification | null;
  verificationDetail: string | null;
}

export interface Symptom {
  uniqueIdentifier: string | null;
  symptomCode: string | null;
  symptomCategory: string | null;
  description: string | null;
  comments: string | null;
  status: string | null;
  componentsOfInterest: ComponentDesignator[];
  regionOfInterest: Extra | null;
  priority: number | null;
  relatedMeasurements: Measurement[];
}

export interface Inspection {
  uniqueIdentifier: string | null;
  inspectionName: string | null;
  inspectionStartTime: Date | null;
  inspectionEndTime: Date | null;
  testProcedure: string | null;
  comments: string | null;
  result: TestResult;
  verification: Verification | null;
  verificationDetail: string | null;
  error: string | null;
  defectsFound: Defect[];
  symptoms: Symptom[];
  measurements: Measurement[];
  refNo: number | null;
}

export interface InspectedUnit {
  /** Null only when the message has a TransactionId to resolve the unit from. */
  unitIdentifier: string | null;
  unitPositionNumber: number | null;
  overallResult: TestResult;
  inspections: Inspection[];
  verification: Verification | null;
  totalInspectionCount: number | null;
}

export interface InspectedPanel {
  unitIdentifier: string | null;
  overallResult: TestResult;
  inspections: Inspection[];
  verification: Verification | null;
  totalInspectionCount: number | null;
  pcbVariant: string | null;
  /** Stretch, RecognizedStrokeDirection, Fiducials, … as sent. */
  extra: Extra;
}

export interface SamplingInformation {
  samplingMethod: string | null;
  lotSize: number | null;
  sampleSize: number | null;
}

export interface Test {
  uniqueIdentifier: string | null;
  testName: string | null;
  testStartTime: Date | null;
  testEndTime: Date | null;
  /** Environmental conditions (Temperature, Humidity, …) with their `kind`. */
  testConditions: CfxPolymorphic[];
  testProcedure: string | null;
  comments: string | null;
  result: TestResult;
  error: string | null;
  symptomsFound: Symptom[];
  defectsFound: Defect[];
  measurements: Measurement[];
}

export interface TestedUnit {
  unitIdentifier: string | null;
  unitPositionNumber: number | null;
  overallResult: TestResult;
  tests: Test[];
}

export interface Repair {
  uniqueIdentifier: string | null;
  repairName: string | null;
  repairStartTime: Date | null;
  repairEndTime: Date | null;
  comments: string | null;
  componentOfInterest: ComponentDesignator | null;
  regionOfInterest: Extra | null;
  relatedDefectIdentifiers: string[];
  reclassifiedDefects: Defect[];
  relatedSymptomIdentifiers: string[];
  reclassifiedSymptoms: Symptom[];
  result: RepairResult | null;
  error: string | null;
}

export interface RepairedUnit {
  unitIdentifier: string | null;
  unitPositionNumber: number | null;
  overallResult: RepairResult;
  repairs: Repair[];
}

export interface InstalledComponent {
  referenceDesignator: string;
  installedUnitIdentifier: string | null;
  installationTime: Date | null;
  stage: Stage | null;
  extra: Extra;
}

export interface NonInstalledComponent {
  referenceDesignator: string | null;
  nonInstallationTime: Date | null;
  location: string | null;
  stage: Stage | null;
  rejectionBoxId: string | null;
  rejectionComment: string | null;
  rejectionReason: string | null;
  rejectionDetails: CfxPolymorphic | null;
}

export interface InstalledMaterial {
  /** Kind of the entry (`CFX.Structures.AppliedMaterial` in MaterialsApplied 2.0+), null when `$type` was absent. */
  kind: string | null;
  /** Null only when the message has a TransactionId to resolve the unit from. */
  unitIdentifier: string | null;
  unitPositionNumber: number | null;
  quantityInstalled: number | null;
  quantityNonInstalled: number | null;
  material: MaterialPackage;
  carrierLocation: { locationIdentifier: string | null; locationName: string | null; carrierInformation: MaterialCarrier | null } | null;
  installedComponents: InstalledComponent[];
  nonInstalledComponents: NonInstalledComponent[];
  referencePartNumber: string | null;
  /** MaterialsApplied (AppliedMaterial, CFX 2.0+): the measured applied quantity. */
  quantityApplied: NumericValue | null;
}

export interface UninstalledMaterial {
  unitIdentifier: string | null;
  unitPositionNumber: number | null;
  quantityUninstalled: number | null;
  reason: string | null;
  material: MaterialPackage;
  uninstalledComponents: InstalledComponent[];
}

export interface Fault {
  /** Specialised fault type, e.g. `CFX.Structures.SMTPlacement.SMTPlacementFault`; null for a plain Fault. */
  kind: string | null;
  transactionId: string | null;
  cause: string | null;
  severity: FaultSeverity;
  faultCode: string | null;
  faultOccurrenceId: string;
  lane: number | null;
  stage: Stage | null;
  sideLocation: string | null;
  accessType: string | null;
  description: string | null;
  descriptionTranslations: Record<string, string>;
  occurredAt: Date | null;
  dueDateTime: Date | null;
  /** Type-specific fields (PlacementFaultType, ProgramStep, MaterialLocation, …) as sent. */
  extra: Extra;
}

export interface Reading {
  kind: string | null;
  readingIdentifier: string | null;
  timeRecorded: Date | null;
  readingSequence: number | null;
  result: TestResult | null;
  unitIdentifier: string | null;
  unitPositionNumber: number | null;
  components: ComponentDesignator[];
  valueDataType: string | null;
  valueUnits: string | null;
  valueMimeType: string | null;
  /** The SDK types these as strings; JSON numbers/booleans are converted to their text. */
  value: string | null;
  /** Base64 as sent. */
  binaryValue: string | null;
  expectedValue: string | null;
  expectedValueUnits: string | null;
  minimumAcceptableValue: string | null;
  maximumAcceptableValue: string | null;
  extra: Extra;
}

export interface SupportedTopic {
  topicName: string | null;
  topicSupportType: string | null;
  supportedMessages: string[];
}

// ---------------------------------------------------------------------------------------------
// Message bodies
// ---------------------------------------------------------------------------------------------

/** UnitsArrived, UnitsDeparted (and the shape shared by several unit-list messages). */
export interface UnitsMovedBody {
  primaryIdentifier: string | null;
  hermesIdentifier: string | null;
  lane: number | null;
  /** The SDK derives UnitCount from Units; the wire UnitCount is ignored. */
  units: UnitPosition[];
}

export interface CfxBodies {
  'CFX.Production.UnitsArrived': UnitsMovedBody;
  'CFX.Production.UnitsDeparted': UnitsMovedBody;
  'CFX.Production.WorkStarted': {
    transactionId: string;
    primaryIdentifier: string | null;
    hermesIdentifier: string | null;
    lane: number | null;
    units: UnitPosition[];
    recipeName: string | null;
    revision: string | null;
    relevantSurface: string | null;
    workOrderIdentifier: WorkOrderIdentifier | null;
  };
  'CFX.Production.WorkCompleted': {
    transactionId: string;
    result: WorkResult;
    primaryIdentifier: string | null;
    hermesIdentifier: string | null;
    units: UnitPosition[];
    /** Not in the SDK class, but present in SDK examples. */
    stage: Stage | null;
    performanceImpacts: Array<{ cause: string | null }>;
  };
  'CFX.Production.UnitsDisqualified': {
    primaryIdentifier: string | null;
    hermesIdentifier: string | null;
    reason: string | null;
    comments: string | null;
    units: UnitPosition[];
  };
  'CFX.Production.Processing.UnitsProcessed': {
    transactionId: string | null;
    overallResult: ProcessingResult;
    commonProcessData: CfxPolymorphic | null;
    unitProcessData: Array<{
      unitIdentifier: string | null;
      unitPositionNumber: number | null;
      unitResult: ProcessingResult | null;
      unitProcessData: CfxPolymorphic | null;
    }>;
  };
  'CFX.Production.RecipeActivated': {
    recipeName: string;
    revision: string | null;
    lane: number | null;
    stage: Stage | null;
    /** Unit not fixed by the SDK docs (seconds in practice). */
    expectedCycleTime: number | null;
    expectedWorkTime: number | null;
    expectedUnitsPerWorkTransaction: number | null;
    numberOfComponentsPerUnit: number | null;
    workOrderIdentifier: WorkOrderIdentifier | null;
    targetQuantity: number | null;
    relevantSurface: string | null;
    recipeStagesInformation: Array<{
      stage: Stage | null;
      expectedCycleTime: number | null;
      expectedWorkTime: number | null;
      numberOfComponentsPerUnit: number | null;
    }>;
  };
  'CFX.Sensor.Identification.IdentifiersRead': {
    primaryIdentifier: string | null;
    hermesIdentifier: string | null;
    units: UnitPosition[];
  };
  'CFX.Materials.Storage.MaterialsLoaded': { materials: MaterialLocation[] };
  'CFX.Materials.Storage.MaterialsUnloaded': { materialPackageIdentifiers: string[] };
  'CFX.Materials.Storage.MaterialsEmpty': { emptyMaterials: MaterialLocation[] };
  'CFX.Materials.Storage.SplicePointDetected': { depletedMaterial: MaterialLocation; newlyActiveMaterial: MaterialLocation };
  'CFX.Materials.Management.MaterialsJoined': { leadingMaterialPackage: MaterialPackage; trailingMaterialPackage: MaterialPackage };
  'CFX.Materials.Management.MaterialsSplit': {
    sourceMaterialPackageIdentifier: string;
    sourceMaterialPackageRemainingQuantity: number | null;
    newMaterialPackageIdentifier: string;
    newMaterialPackageQuantity: number | null;
  };
  'CFX.Materials.Management.MSDManagement.MaterialsOpened': { materials: MaterialPackageDetail[] };
  'CFX.Materials.Management.MSDManagement.MaterialsPlacedInDryStorage': { materials: MaterialPackageDetail[] };
  'CFX.Materials.Management.MSDManagement.MaterialsRemovedFromDryStorage': { materials: MaterialPackageDetail[] };
  'CFX.Materials.Management.MSDManagement.MaterialsExpired': { materials: MaterialPackageDetail[] };
  'CFX.Materials.Management.MSDManagement.MaterialsRestored': { materials: MaterialPackageDetail[] };
  'CFX.Production.Assembly.MaterialsInstalled': { transactionId: string | null; installedMaterials: InstalledMaterial[] };
  'CFX.Production.Assembly.MaterialsUninstalled': { transactionId: string | null; uninstalledMaterials: UninstalledMaterial[] };
  'CFX.Production.Application.MaterialsApplied': { transactionId: string | null; appliedMaterials: InstalledMaterial[] };
  'CFX.Production.TestAndInspection.UnitsInspected': {
    transactionId: string | null;
    inspectionMethod: InspectionMethod;
    samplingInformation: SamplingInformation | null;
    inspector: Operator | null;
    recipeName: string | null;
    recipeRevision: string | null;
    inspectedUnits: InspectedUnit[];
    inspectedPanel: InspectedPanel | null;
  };
  'CFX.Production.TestAndInspection.UnitsTested': {
    transactionId: string | null;
    testMethod: TestMethod;
    tester: Operator | null;
    recipeName: string | null;
    recipeRevision: string | null;
    samplingInformation: SamplingInformation | null;
    testedUnits: TestedUnit[];
  };
  'CFX.Production.ReworkAndRepair.UnitsRepaired': {
    transactionId: string | null;
    repairOperator: Operator | null;
    repairedUnits: RepairedUnit[];
  };
  'CFX.Production.ReadingsRecorded': { transactionId: string | null; readings: Reading[] };
  'CFX.ResourcePerformance.StationStateChanged': {
    oldState: ResourceStateInfo;
    oldStateDurationMs: number | null;
    newState: ResourceStateInfo;
    relatedFault: Fault | null;
  };
  'CFX.ResourcePerformance.FaultOccurred': { fault: Fault };
  'CFX.ResourcePerformance.FaultCleared': { faultOccurrenceId: string; operator: Operator | null };
  'CFX.ResourcePerformance.FaultAcknowledged': { faultOccurrenceId: string; operator: Operator | null };
  'CFX.ResourcePerformance.StationOnline': { offlineDurationMs: number | null };
  'CFX.ResourcePerformance.StationOffline': Record<string, never>;
  'CFX.Heartbeat': {
    cfxHandle: string | null;
    heartbeatFrequencyMs: number | null;
    activeFaults: Fault[];
    /** ActiveRecipe objects as sent (Lane, Stage, RecipeIdentifier, Recipe). */
    activeRecipes: Extra[];
  };
  'CFX.EndpointConnected': { cfxHandle: string; requestNetworkUri: string | null; requestTargetAddress: string | null };
  'CFX.EndpointShuttingDown': { cfxHandle: string };
  'CFX.InformationSystem.UnitValidation.ValidateUnitsRequest': {
    validations: ValidationType[];
    primaryIdentifier: string | null;
    hermesIdentifier: string | null;
    units: UnitPosition[];
    lane: number | null;
  };
  'CFX.Materials.Storage.ValidateStationSetupRequest': {
    setupRequirements: {
      lane: number | null;
      stage: Stage | null;
      setupName: string | null;
      materialSetupRequirements: Array<{
        position: string | null;
        partNumber: string | null;
        approvedAlternateParts: string[];
        approvedManufacturerParts: string[];
      }>;
      toolSetupRequirements: Array<{ position: string | null; partNumber: string | null; toolIdentifier: string | null }>;
    };
  };
  'CFX.Production.GetRequiredSetupRequest': { lane: number | null; stage: Stage | null };
  'CFX.GetEndpointInformationRequest': { cfxHandle: string | null };
  'CFX.AreYouThereRequest': { cfxHandle: string | null };
  'CFX.WhoIsThereRequest': { supportedTopicQueryType: string | null; supportedTopics: SupportedTopic[] };
}

export type SupportedMessageName = keyof CfxBodies;

/** A validated message: discriminate on `name`, then `body` is typed. */
export type TypedMessage = { [K in SupportedMessageName]: { name: K; body: CfxBodies[K] } }[SupportedMessageName];
export type TypedMessageOf<K extends SupportedMessageName> = { name: K; body: CfxBodies[K] };

// ---------------------------------------------------------------------------------------------
// Validation results
// ---------------------------------------------------------------------------------------------

export type CfxFieldErrorCode = 'required' | 'type' | 'enum' | 'format' | 'range' | 'ambiguous' | 'unsupported';

/** One refused field. Structurally compatible with the platform's FieldError. */
export interface CfxFieldError {
  /** Wire path, e.g. `MessageBody.Units[2].UnitIdentifier`. */
  field: string;
  code: CfxFieldErrorCode;
  /** Human sentence starting with the path, e.g. `MessageBody.Units[2].UnitIdentifier: required string`. */
  message: string;
}

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; errors: CfxFieldError[] };

export interface ValidateOptions {
  /** Offset (minutes east of UTC) assumed for zoneless body date-times. Default 0 (UTC). */
  zonelessOffsetMinutes?: number;
}

export interface MessageSpec<K extends SupportedMessageName> {
  name: K;
  /** True for request messages: the MES must answer them. */
  request: boolean;
  /** Validates a normalised body (from codec.ts) and maps it to the typed body. */
  map(body: Record<string, unknown>, options?: ValidateOptions): ValidationResult<CfxBodies[K]>;
}

// ---------------------------------------------------------------------------------------------
// Reader: field access with path tracking and error collection
// ---------------------------------------------------------------------------------------------

type Obj = Record<string, unknown>;

class Reader {
  readonly errors: CfxFieldError[] = [];
  /** Set while mapping a message whose TransactionId can resolve units without identifiers. */
  hasTransaction = false;
  constructor(readonly zonelessOffsetMinutes: number) {}

  fail(field: string, code: CfxFieldErrorCode, what: string): void {
    this.errors.push({ field, code, message: `${field}: ${what}` });
  }
}

const ZERO_GUID = /^\{?0{8}-0{4}-0{4}-0{4}-0{12}\}?$/;
const GUID = /^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$/;

const at = (path: string, key: string) => `${path}.${key}`;

/** Reads `key` with the SDK spelling first, then any other letter case (as Newtonsoft does). */
function field(r: Reader, o: Obj, key: string, path: string): unknown {
  const lower = key.toLowerCase();
  const matches = Object.keys(o).filter((k) => k.toLowerCase() === lower);
  if (matches.length === 0) return undefined;
  if (matches.length > 1) {
    const first = JSON.stringify(o[matches[0] as string]);
    if (matches.some((k) => JSON.stringify(o[k]) !== first)) {
      r.fail(at(path, key), 'ambiguous', `sent more than once with different letter case (${matches.join(', ')}) and different values`);
    }
  }
  return Object.hasOwn(o, key) ? o[key] : o[matches[0] as string];
}

function isAbsent(v: unknown): v is null | undefined {
  return v === undefined || v === null;
}

function optStr(r: Reader, o: Obj, key: string, path: string): string | null {
  const v = field(r, o, key, path);
  if (isAbsent(v)) return null;
  if (typeof v !== 'string') {
    r.fail(at(path, key), 'type', `expected string, got ${describe(v)}`);
    return null;
  }
  return v;
}

/** Required non-empty string; the placeholder '' is never returned to callers when errors exist. */
function reqStr(r: Reader, o: Obj, key: string, path: string): string {
  const v = field(r, o, key, path);
  if (typeof v === 'string' && v.trim() !== '') return v;
  r.fail(at(path, key), 'required', `required string${isAbsent(v) ? '' : `, got ${describe(v)}`}`);
  return '';
}

function optNum(r: Reader, o: Obj, key: string, path: string): number | null {
  const v = field(r, o, key, path);
  if (isAbsent(v)) return null;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    r.fail(at(path, key), 'type', `expected number, got ${describe(v)}`);
    return null;
  }
  return v;
}

function optInt(r: Reader, o: Obj, key: string, path: string): number | null {
  const v = field(r, o, key, path);
  if (isAbsent(v)) return null;
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    r.fail(at(path, key), 'type', `expected integer, got ${describe(v)}`);
    return null;
  }
  return v;
}

function optBool(r: Reader, o: Obj, key: string, path: string): boolean | null {
  const v = field(r, o, key, path);
  if (isAbsent(v)) return null;
  if (typeof v !== 'boolean') {
    r.fail(at(path, key), 'type', `expected boolean, got ${describe(v)}`);
    return null;
  }
  return v;
}

function optDate(r: Reader, o: Obj, key: string, path: string): Date | null {
  const v = field(r, o, key, path);
  if (isAbsent(v) || v === '') return null;
  if (typeof v !== 'string') {
    r.fail(at(path, key), 'type', `expected ISO 8601 date-time string, got ${describe(v)}`);
    return null;
  }
  try {
    return parseCfxDateTime(v, cfxDateTimeHasZone(v) ? 0 : r.zonelessOffsetMinutes);
  } catch (err) {
    r.fail(at(path, key), 'format', (err as Error).message);
    return null;
  }
}

function optSpan(r: Reader, o: Obj, key: string, path: string): number | null {
  const v = field(r, o, key, path);
  if (isAbsent(v)) return null;
  if (typeof v !== 'string') {
    r.fail(at(path, key), 'type', `expected TimeSpan string like "00:01:25", got ${describe(v)}`);
    return null;
  }
  try {
    return parseTimeSpan(v);
  } catch (err) {
    r.fail(at(path, key), 'format', (err as Error).message);
    return null;
  }
}

/**
 * A correlation GUID (TransactionId, FaultOccurrenceId): GUID-shaped values are lower-cased and
 * unbraced; the all-zero GUID (the .NET default for "none") becomes null.
 */
function guidish(r: Reader, o: Obj, key: string, path: string, required: boolean): string | null {
  const v = field(r, o, key, path);
  if (typeof v === 'string' && v.trim() !== '' && !ZERO_GUID.test(v.trim())) {
    const m = GUID.exec(v.trim());
    return m ? (m[1] as string).toLowerCase() : v.trim();
  }
  if (!isAbsent(v) && typeof v !== 'string') {
    r.fail(at(path, key), required ? 'required' : 'type', `${required ? 'required ' : 'expected '}GUID string, got ${describe(v)}`);
  } else if (required) {
    r.fail(at(path, key), 'required', `required GUID string${typeof v === 'string' && v.trim() !== '' ? ' (the all-zero GUID means "none")' : ''}`);
  }
  return null;
}

/** Parses an enum value: a name (case-insensitive) or its integer index. Returns null on error. */
function parseEnum<T extends string>(def: EnumDef<T>, v: unknown): T | null {
  if (typeof v === 'string') {
    const t = v.trim();
    const exact = def.values.find((x) => x === t);
    if (exact) return exact;
    const ci = def.values.find((x) => x.toLowerCase() === t.toLowerCase());
    if (ci) return ci;
    if (/^\d+$/.test(t)) return def.values[Number(t)] ?? null;
    return null;
  }
  if (typeof v === 'number' && Number.isInteger(v)) return def.values[v] ?? null;
  return null;
}

function enumError<T extends string>(r: Reader, def: EnumDef<T>, fieldPath: string, v: unknown): void {
  r.fail(fieldPath, 'enum', `expected ${def.name} ${def.values.join('|')} (or 0–${def.values.length - 1}), got ${describe(v)}`);
}

function optEnum<T extends string>(r: Reader, o: Obj, key: string, path: string, def: EnumDef<T>): T | null {
  const v = field(r, o, key, path);
  if (isAbsent(v)) return null;
  const parsed = parseEnum(def, v);
  if (parsed === null) enumError(r, def, at(path, key), v);
  return parsed;
}

function reqEnum<T extends string>(r: Reader, o: Obj, key: string, path: string, def: EnumDef<T>): T {
  const v = field(r, o, key, path);
  if (isAbsent(v)) {
    r.fail(at(path, key), 'required', `required ${def.name} ${def.values.join('|')}`);
    return def.values[0] as T;
  }
  const parsed = parseEnum(def, v);
  if (parsed === null) {
    enumError(r, def, at(path, key), v);
    return def.values[0] as T;
  }
  return parsed;
}

/** Open enum: canonicalises known names and indexes, passes other strings through unchanged. */
function openEnum(r: Reader, o: Obj, key: string, path: string, def: EnumDef<string>): string | null {
  const v = field(r, o, key, path);
  if (isAbsent(v)) return null;
  const parsed = parseEnum(def, v);
  if (parsed !== null) return parsed;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return String(v);
  r.fail(at(path, key), 'type', `expected ${def.name} string, got ${describe(v)}`);
  return null;
}

type ItemFn<T> = (r: Reader, o: Obj, path: string) => T;

function optObj<T>(r: Reader, o: Obj, key: string, path: string, fn: ItemFn<T>): T | null {
  const v = field(r, o, key, path);
  if (isAbsent(v)) return null;
  if (!isPlainObject(v)) {
    r.fail(at(path, key), 'type', `expected object, got ${describe(v)}`);
    return null;
  }
  return fn(r, v, at(path, key));
}

function reqObj<T>(r: Reader, o: Obj, key: string, path: string, fn: ItemFn<T>): T {
  const v = field(r, o, key, path);
  if (!isPlainObject(v)) {
    r.fail(at(path, key), 'required', `required object${isAbsent(v) ? '' : `, got ${describe(v)}`}`);
    return fn(new Reader(r.zonelessOffsetMinutes), {}, at(path, key)); // placeholder, errors discarded
  }
  return fn(r, v, at(path, key));
}

/** A list of objects. Null/absent → [] unless required. Bad elements are reported and skipped. */
function list<T>(r: Reader, o: Obj, key: string, path: string, fn: ItemFn<T>, required = false): T[] {
  const v = field(r, o, key, path);
  if (isAbsent(v)) {
    if (required) r.fail(at(path, key), 'required', 'required array');
    return [];
  }
  if (!Array.isArray(v)) {
    r.fail(at(path, key), required ? 'required' : 'type', `${required ? 'required' : 'expected'} array, got ${describe(v)}`);
    return [];
  }
  const out: T[] = [];
  v.forEach((item, i) => {
    const p = `${at(path, key)}[${i}]`;
    if (!isPlainObject(item)) r.fail(p, 'type', `expected object, got ${describe(item)}`);
    else out.push(fn(r, item, p));
  });
  return out;
}

function stringList(r: Reader, o: Obj, key: string, path: string, required = false): string[] {
  const v = field(r, o, key, path);
  if (isAbsent(v)) {
    if (required) r.fail(at(path, key), 'required', 'required array of strings');
    return [];
  }
  if (!Array.isArray(v)) {
    r.fail(at(path, key), required ? 'required' : 'type', `${required ? 'required' : 'expected'} array of strings, got ${describe(v)}`);
    return [];
  }
  const out: string[] = [];
  v.forEach((item, i) => {
    if (typeof item === 'string') out.push(item);
    else r.fail(`${at(path, key)}[${i}]`, 'type', `expected string, got ${describe(item)}`);
  });
  return out;
}

/** Fields of `o` not in `known` (case-insensitive), without `kind`. */
function extraOf(o: Obj, known: readonly string[]): Extra {
  const k = new Set(known.map((s) => s.toLowerCase()));
  k.add('kind');
  const out: Extra = {};
  for (const [key, v] of Object.entries(o)) {
    if (!k.has(key.toLowerCase())) Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function kindOf(o: Obj): string | null {
  return typeof o['kind'] === 'string' ? o['kind'] : null;
}

function polymorphic(_r: Reader, o: Obj): CfxPolymorphic {
  return { kind: kindOf(o), data: extraOf(o, []) };
}

/**
 * A per-unit record's UnitIdentifier: required, unless the message carries a TransactionId
 * from which the ingestion layer can resolve the unit (via WorkStarted) and a position.
 */
function unitIdForRecord(r: Reader, o: Obj, path: string): string | null {
  if (r.hasTransaction) return optStr(r, o, 'UnitIdentifier', path);
  const v = field(r, o, 'UnitIdentifier', path);
  if (typeof v === 'string' && v.trim() !== '') return v;
  r.fail(at(path, 'UnitIdentifier'), 'required', `required string (no TransactionId to resolve the unit from)${isAbsent(v) ? '' : `, got ${describe(v)}`}`);
  return null;
}

// ---------------------------------------------------------------------------------------------
// Structure mappers
// ---------------------------------------------------------------------------------------------

function positionFields(r: Reader, o: Obj, path: string): Omit<UnitPosition, 'unitIdentifier'> {
  return {
    positionNumber: optInt(r, o, 'PositionNumber', path),
    positionName: optStr(r, o, 'PositionName', path),
    x: optNum(r, o, 'X', path),
    y: optNum(r, o, 'Y', path),
    z: optNum(r, o, 'Z', path),
    rotation: optNum(r, o, 'Rotation', path),
    flipX: optBool(r, o, 'FlipX', path),
    flipY: optBool(r, o, 'FlipY', path),
    status: optEnum(r, o, 'Status', path, UNIT_STATUS),
  };
}

const unitPosition: ItemFn<UnitPosition> = (r, o, path) => ({
  unitIdentifier: reqStr(r, o, 'UnitIdentifier', path),
  ...positionFields(r, o, path),
});

const stage: ItemFn<Stage> = (r, o, path) => ({
  stageSequence: optInt(r, o, 'StageSequence', path),
  stageName: optStr(r, o, 'StageName', path),
  stageType: openEnum(r, o, 'StageType', path, STAGE_TYPE),
});

const workOrderIdentifier: ItemFn<WorkOrderIdentifier> = (r, o, path) => ({
  workOrderId: optStr(r, o, 'WorkOrderId', path),
  batch: optStr(r, o, 'Batch', path),
});

const operator: ItemFn<Operator> = (r, o, path) => ({
  operatorIdentifier: optStr(r, o, 'OperatorIdentifier', path),
  actorType: openEnum(r, o, 'ActorType', path, ACTOR_TYPE),
  lastName: optStr(r, o, 'LastName', path),
  firstName: optStr(r, o, 'FirstName', path),
  loginName: optStr(r, o, 'LoginName', path),
});

const MATERIAL_PACKAGE_KEYS = ['UniqueIdentifier', 'InternalPartNumber', 'InternalPackageName', 'Quantity', 'BatchId'] as const;
const materialPackage: ItemFn<MaterialPackage> = (r, o, path) => ({
  uniqueIdentifier: reqStr(r, o, 'UniqueIdentifier', path),
  internalPartNumber: optStr(r, o, 'InternalPartNumber', path),
  internalPackageName: optStr(r, o, 'InternalPackageName', path),
  quantity: optNum(r, o, 'Quantity', path),
  batchId: optStr(r, o, 'BatchId', path),
  extra: extraOf(o, MATERIAL_PACKAGE_KEYS),
});

const materialCarrier: ItemFn<MaterialCarrier> = (r, o, path) => ({
  kind: kindOf(o),
  uniqueIdentifier: optStr(r, o, 'UniqueIdentifier', path),
  name: optStr(r, o, 'Name', path),
  extra: extraOf(o, ['UniqueIdentifier', 'Name']),
});

const materialLocation: ItemFn<MaterialLocation> = (r, o, path) => ({
  locationIdentifier: optStr(r, o, 'LocationIdentifier', path),
  locationName: optStr(r, o, 'LocationName', path),
  materialPackage: reqObj(r, o, 'MaterialPackage', path, materialPackage),
  carrierInformation: optObj(r, o, 'CarrierInformation', path, materialCarrier),
});

const MSD_KEYS = ['ExpirationDateTime', 'OriginalExposureDateTime', 'LastExposureDateTime', 'RemainingExposureTime', 'MSDLevel', 'MSDState'];
const msdData: ItemFn<MsdData> = (r, o, path) => ({
  expirationDateTime: optDate(r, o, 'ExpirationDateTime', path),
  originalExposureDateTime: optDate(r, o, 'OriginalExposureDateTime', path),
  lastExposureDateTime: optDate(r, o, 'LastExposureDateTime', path),
  remainingExposureTimeMs: optSpan(r, o, 'RemainingExposureTime', path),
  msdLevel: optEnum(r, o, 'MSDLevel', path, MSD_LEVEL),
  msdState: optEnum(r, o, 'MSDState', path, MSD_STATE),
});

const DETAIL_KEYS = [
  'UniqueIdentifier', 'InternalPartNumber', 'InternalPackageName', 'Manufacturer', 'ManufacturerPartNumber', 'Vendor',
  'VendorPartNumber', 'ManufacturerLotCode', 'Created', 'ManufactureDate', 'ReceivedDate', 'ExpiryDate', 'Units',
  'InitialQuantity', 'Quantity', 'Status', 'HazardousMaterialType', 'MaterialData',
];
const materialPackageDetail: ItemFn<MaterialPackageDetail> = (r, o, path) => {
  let msd: MsdData | null = null;
  let materialData: CfxPolymorphic | null = null;
  const md = field(r, o, 'MaterialData', path);
  if (isPlainObject(md)) {
    const kind = kindOf(md);
    const looksMsd = kind === null
      ? MSD_KEYS.some((k) => Object.keys(md).some((mk) => mk.toLowerCase() === k.toLowerCase()))
      : kind.endsWith('MaterialPackageMSDData');
    if (looksMsd) msd = msdData(r, md, at(path, 'MaterialData'));
    else materialData = polymorphic(r, md);
  } else if (!isAbsent(md)) {
    r.fail(at(path, 'MaterialData'), 'type', `expected object, got ${describe(md)}`);
  }
  return {
    uniqueIdentifier: reqStr(r, o, 'UniqueIdentifier', path),
    internalPartNumber: optStr(r, o, 'InternalPartNumber', path),
    internalPackageName: optStr(r, o, 'InternalPackageName', path),
    manufacturer: optStr(r, o, 'Manufacturer', path),
    manufacturerPartNumber: optStr(r, o, 'ManufacturerPartNumber', path),
    vendor: optStr(r, o, 'Vendor', path),
    vendorPartNumber: optStr(r, o, 'VendorPartNumber', path),
    manufacturerLotCode: optStr(r, o, 'ManufacturerLotCode', path),
    created: optDate(r, o, 'Created', path),
    manufactureDate: optDate(r, o, 'ManufactureDate', path),
    receivedDate: optDate(r, o, 'ReceivedDate', path),
    expiryDate: optDate(r, o, 'ExpiryDate', path),
    units: optStr(r, o, 'Units', path),
    initialQuantity: optNum(r, o, 'InitialQuantity', path),
    quantity: optNum(r, o, 'Quantity', path),
    status: optEnum(r, o, 'Status', path, MATERIAL_STATUS),
    hazardousMaterialType: openEnum(r, o, 'HazardousMaterialType', path, HAZARDOUS_MATERIAL_TYPE),
    msd,
    materialData,
    extra: extraOf(o, DETAIL_KEYS),
  };
};

const numericValue: ItemFn<NumericValue> = (r, o, path) => ({
  value: optNum(r, o, 'Value', path),
  valueUnits: optStr(r, o, 'ValueUnits', path),
  expectedValue: optNum(r, o, 'ExpectedValue', path),
  expectedValueUnits: optStr(r, o, 'ExpectedValueUnits', path),
  minimumAcceptableValue: optNum(r, o, 'MinimumAcceptableValue', path),
  minimumAcceptableValueUnits: optStr(r, o, 'MinimumAcceptableValueUnits', path),
  maximumAcceptableValue: optNum(r, o, 'MaximumAcceptableValue', path),
  maximumAcceptableValueUnits: optStr(r, o, 'MaximumAcceptableValueUnits', path),
});

const MEASUREMENT_KEYS = ['UniqueIdentifier', 'MeasurementName', 'TimeRecorded', 'Sequence', 'Result', 'CRDs'];
const measurement: ItemFn<Measurement> = (r, o, path) => {
  const mv = field(r, o, 'MeasuredValue', path);
  const structured = isPlainObject(mv);
  return {
    kind: kindOf(o),
    uniqueIdentifier: optStr(r, o, 'UniqueIdentifier', path),
    measurementName: optStr(r, o, 'MeasurementName', path),
    timeRecorded: optDate(r, o, 'TimeRecorded', path),
    sequence: optInt(r, o, 'Sequence', path),
    result: optEnum(r, o, 'Result', path, TEST_RESULT),
    crds: optStr(r, o, 'CRDs', path),
    measuredValue: structured ? numericValue(r, mv, at(path, 'MeasuredValue')) : null,
    extra: extraOf(o, structured ? [...MEASUREMENT_KEYS, 'MeasuredValue'] : MEASUREMENT_KEYS),
  };
};

const componentDesignator: ItemFn<ComponentDesignator> = (r, o, path) => ({
  referenceDesignator: optStr(r, o, 'ReferenceDesignator', path),
  partNumber: optStr(r, o, 'PartNumber', path),
  unitPosition: optObj(r, o, 'UnitPosition', path, (r2, o2, p2) => ({
    unitIdentifier: optStr(r2, o2, 'UnitIdentifier', p2),
    ...positionFields(r2, o2, p2),
  })),
});

const region = (r: Reader, o: Obj, key: string, path: string): Extra | null => optObj(r, o, key, path, (_r, v) => extraOf(v, []));

const symptom: ItemFn<Symptom> = (r, o, path) => ({
  uniqueIdentifier: optStr(r, o, 'UniqueIdentifier', path),
  symptomCode: optStr(r, o, 'SymptomCode', path),
  symptomCategory: optStr(r, o, 'SymptomCategory', path),
  description: optStr(r, o, 'Description', path),
  comments: optStr(r, o, 'Comments', path),
  status: openEnum(r, o, 'Status', path, ISSUE_STATUS),
  componentsOfInterest: list(r, o, 'ComponentsOfInterest', path, componentDesignator),
  regionOfInterest: region(r, o, 'RegionOfInterest', path),
  priority: optInt(r, o, 'Priority', path),
  relatedMeasurements: list(r, o, 'RelatedMeasurements', path, measurement),
});

const defect: ItemFn<Defect> = (r, o, path) => ({
  uniqueIdentifier: optStr(r, o, 'UniqueIdentifier', path),
  defectCode: optStr(r, o, 'DefectCode', path),
  defectCategory: optStr(r, o, 'DefectCategory', path),
  description: optStr(r, o, 'Description', path),
  comments: optStr(r, o, 'Comments', path),
  componentOfInterest: optObj(r, o, 'ComponentOfInterest', path, componentDesignator),
  regionOfInterest: region(r, o, 'RegionOfInterest', path),
  defectImages: list(r, o, 'DefectImages', path, (r2, o2, p2) => ({
    mimeType: optStr(r2, o2, 'MimeType', p2),
    imageData: optStr(r2, o2, 'ImageData', p2),
    imageUrl: optStr(r2, o2, 'ImageURL', p2),
  })),
  priority: optInt(r, o, 'Priority', path),
  confidenceLevel: optNum(r, o, 'ConfidenceLevel', path),
  relatedMeasurements: list(r, o, 'RelatedMeasurements', path, measurement),
  verification: optEnum(r, o, 'Verification', path, VERIFICATION),
  verificationDetail: optStr(r, o, 'VerificationDetail', path),
});

const inspection: ItemFn<Inspection> = (r, o, path) => ({
  uniqueIdentifier: optStr(r, o, 'UniqueIdentifier', path),
  inspectionName: optStr(r, o, 'InspectionName', path),
  inspectionStartTime: optDate(r, o, 'InspectionStartTime', path),
  inspectionEndTime: optDate(r, o, 'InspectionEndTime', path),
  testProcedure: optStr(r, o, 'TestProcedure', path),
  comments: optStr(r, o, 'Comments', path),
  result: reqEnum(r, o, 'Result', path, TEST_RESULT),
  verification: optEnum(r, o, 'Verification', path, VERIFICATION),
  verificationDetail: optStr(r, o, 'VerificationDetail', path),
  error: optStr(r, o, 'Error', path),
  defectsFound: list(r, o, 'DefectsFound', path, defect),
  symptoms: list(r, o, 'Symptoms', path, symptom),
  measurements: list(r, o, 'Measurements', path, measurement),
  refNo: optInt(r, o, 'RefNo', path),
});

const inspectedUnit: ItemFn<InspectedUnit> = (r, o, path) => ({
  unitIdentifier: unitIdForRecord(r, o, path),
  unitPositionNumber: optInt(r, o, 'UnitPositionNumber', path),
  overallResult: reqEnum(r, o, 'OverallResult', path, TEST_RESULT),
  inspections: list(r, o, 'Inspections', path, inspection),
  verification: optEnum(r, o, 'Verification', path, VERIFICATION),
  totalInspectionCount: optInt(r, o, 'TotalInspectionCount', path),
});

const INSPECTED_PANEL_KEYS = ['UnitIdentifier', 'OverallResult', 'Inspections', 'Verification', 'TotalInspectionCount', 'PCBVariant'];
const inspectedPanel: ItemFn<InspectedPanel> = (r, o, path) => ({
  unitIdentifier: optStr(r, o, 'UnitIdentifier', path),
  overallResult: reqEnum(r, o, 'OverallResult', path, TEST_RESULT),
  inspections: list(r, o, 'Inspections', path, inspection),
  verification: optEnum(r, o, 'Verification', path, VERIFICATION),
  totalInspectionCount: optInt(r, o, 'TotalInspectionCount', path),
  pcbVariant: optStr(r, o, 'PCBVariant', path),
  extra: extraOf(o, INSPECTED_PANEL_KEYS),
});

const samplingInformation: ItemFn<SamplingInformation> = (r, o, path) => ({
  samplingMethod: openEnum(r, o, 'SamplingMethod', path, SAMPLING_METHOD),
  lotSize: optNum(r, o, 'LotSize', path),
  sampleSize: optNum(r, o, 'SampleSize', path),
});

const test: ItemFn<Test> = (r, o, path) => ({
  uniqueIdentifier: optStr(r, o, 'UniqueIdentifier', path),
  testName: optStr(r, o, 'TestName', path),
  testStartTime: optDate(r, o, 'TestStartTime', path),
  testEndTime: optDate(r, o, 'TestEndTime', path),
  testConditions: list(r, o, 'TestConditions', path, (r2, o2) => polymorphic(r2, o2)),
  testProcedure: optStr(r, o, 'TestProcedure', path),
  comments: optStr(r, o, 'Comments', path),
  result: reqEnum(r, o, 'Result', path, TEST_RESULT),
  error: optStr(r, o, 'Error', path),
  symptomsFound: list(r, o, 'SymptomsFound', path, symptom),
  defectsFound: list(r, o, 'DefectsFound', path, defect),
  measurements: list(r, o, 'Measurements', path, measurement),
});

const testedUnit: ItemFn<TestedUnit> = (r, o, path) => ({
  unitIdentifier: unitIdForRecord(r, o, path),
  unitPositionNumber: optInt(r, o, 'UnitPositionNumber', path),
  overallResult: reqEnum(r, o, 'OverallResult', path, TEST_RESULT),
  tests: list(r, o, 'Tests', path, test),
});

const repair: ItemFn<Repair> = (r, o, path) => ({
  uniqueIdentifier: optStr(r, o, 'UniqueIdentifier', path),
  repairName: optStr(r, o, 'RepairName', path),
  repairStartTime: optDate(r, o, 'RepairStartTime', path),
  repairEndTime: optDate(r, o, 'RepairEndTime', path),
  comments: optStr(r, o, 'Comments', path),
  componentOfInterest: optObj(r, o, 'ComponentOfInterest', path, componentDesignator),
  regionOfInterest: region(r, o, 'RegionOfInterest', path),
  relatedDefectIdentifiers: stringList(r, o, 'RelatedDefectIdentifiers', path),
  reclassifiedDefects: list(r, o, 'ReclassifiedDefects', path, defect),
  relatedSymptomIdentifiers: stringList(r, o, 'RelatedSymptomIdentifiers', path),
  reclassifiedSymptoms: list(r, o, 'ReclassifiedSymptoms', path, symptom),
  result: optEnum(r, o, 'Result', path, REPAIR_RESULT),
  error: optStr(r, o, 'Error', path),
});

const repairedUnit: ItemFn<RepairedUnit> = (r, o, path) => ({
  unitIdentifier: unitIdForRecord(r, o, path),
  unitPositionNumber: optInt(r, o, 'UnitPositionNumber', path),
  overallResult: reqEnum(r, o, 'OverallResult', path, REPAIR_RESULT),
  repairs: list(r, o, 'Repairs', path, repair),
});

const installedComponent: ItemFn<InstalledComponent> = (r, o, path) => ({
  referenceDesignator: reqStr(r, o, 'ReferenceDesignator', path),
  installedUnitIdentifier: optStr(r, o, 'InstalledUnitIdentifier', path),
  installationTime: optDate(r, o, 'InstallationTime', path),
  stage: optObj(r, o, 'Stage', path, stage),
  extra: extraOf(o, ['ReferenceDesignator', 'InstalledUnitIdentifier', 'InstallationTime', 'Stage']),
});

const nonInstalledComponent: ItemFn<NonInstalledComponent> = (r, o, path) => ({
  referenceDesignator: optStr(r, o, 'ReferenceDesignator', path),
  nonInstallationTime: optDate(r, o, 'NonInstallationTime', path),
  location: openEnum(r, o, 'Location', path, NON_INSTALLED_LOCATION),
  stage: optObj(r, o, 'Stage', path, stage),
  rejectionBoxId: optStr(r, o, 'RejectionBoxId', path),
  rejectionComment: optStr(r, o, 'RejectionComment', path),
  rejectionReason: optStr(r, o, 'RejectionReason', path),
  rejectionDetails: optObj(r, o, 'RejectionDetails', path, polymorphic),
});

const installedMaterial: ItemFn<InstalledMaterial> = (r, o, path) => ({
  kind: kindOf(o),
  unitIdentifier: unitIdForRecord(r, o, path),
  unitPositionNumber: optInt(r, o, 'UnitPositionNumber', path),
  quantityInstalled: optNum(r, o, 'QuantityInstalled', path),
  quantityNonInstalled: optNum(r, o, 'QuantityNonInstalled', path),
  material: reqObj(r, o, 'Material', path, materialPackage),
  carrierLocation: optObj(r, o, 'CarrierLocation', path, (r2, o2, p2) => ({
    locationIdentifier: optStr(r2, o2, 'LocationIdentifier', p2),
    locationName: optStr(r2, o2, 'LocationName', p2),
    carrierInformation: optObj(r2, o2, 'CarrierInformation', p2, materialCarrier),
  })),
  installedComponents: list(r, o, 'InstalledComponents', path, installedComponent),
  nonInstalledComponents: list(r, o, 'NonInstalledComponents', path, nonInstalledComponent),
  referencePartNumber: optStr(r, o, 'ReferencePartNumber', path),
  quantityApplied: optObj(r, o, 'QuantityApplied', path, numericValue),
});

const uninstalledMaterial: ItemFn<UninstalledMaterial> = (r, o, path) => ({
  unitIdentifier: unitIdForRecord(r, o, path),
  unitPositionNumber: optInt(r, o, 'UnitPositionNumber', path),
  quantityUninstalled: optNum(r, o, 'QuantityUninstalled', path),
  reason: openEnum(r, o, 'Reason', path, UNINSTALLED_REASON),
  material: reqObj(r, o, 'Material', path, materialPackage),
  uninstalledComponents: list(r, o, 'UninstalledComponents', path, installedComponent),
});

const FAULT_KEYS = [
  'TransactionID', 'Cause', 'Severity', 'FaultCode', 'FaultOccurrenceId', 'Lane', 'Stage', 'SideLocation', 'AccessType',
  'Description', 'DescriptionTranslations', 'OccurredAt', 'DueDateTime',
];
const fault: ItemFn<Fault> = (r, o, path) => {
  const translations: Record<string, string> = {};
  optObj(r, o, 'DescriptionTranslations', path, (r2, o2, p2) => {
    for (const [lang, text] of Object.entries(o2)) {
      if (typeof text === 'string') Object.defineProperty(translations, lang, { value: text, enumerable: true, writable: true, configurable: true });
      else if (text !== null) r2.fail(at(p2, lang), 'type', `expected string, got ${describe(text)}`);
    }
  });
  return {
    kind: kindOf(o),
    transactionId: guidish(r, o, 'TransactionID', path, false),
    cause: openEnum(r, o, 'Cause', path, FAULT_CAUSE),
    severity: reqEnum(r, o, 'Severity', path, FAULT_SEVERITY),
    faultCode: optStr(r, o, 'FaultCode', path),
    faultOccurrenceId: guidish(r, o, 'FaultOccurrenceId', path, true) ?? '',
    lane: optInt(r, o, 'Lane', path),
    stage: optObj(r, o, 'Stage', path, stage),
    sideLocation: openEnum(r, o, 'SideLocation', path, SIDE_LOCATION),
    accessType: openEnum(r, o, 'AccessType', path, ACCESS_TYPE),
    description: optStr(r, o, 'Description', path),
    descriptionTranslations: translations,
    occurredAt: optDate(r, o, 'OccurredAt', path),
    dueDateTime: optDate(r, o, 'DueDateTime', path),
    extra: extraOf(o, FAULT_KEYS),
  };
};

function readingText(r: Reader, o: Obj, key: string, path: string): string | null {
  const v = field(r, o, key, path);
  if (isAbsent(v)) return null;
  if (typeof v === 'string') return v;
  if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean') return String(v);
  r.fail(at(path, key), 'type', `expected string, got ${describe(v)}`);
  return null;
}

const READING_KEYS = [
  'ReadingIdentifier', 'TimeRecorded', 'ReadingSequence', 'Result', 'UnitIdentifier', 'UnitPositionNumber', 'Components',
  'ValueDataType', 'ValueUnits', 'ValueMimeType', 'Value', 'BinaryValue', 'ExpectedValue', 'ExpectedValueUnits',
  'MinimumAcceptableValue', 'MaximumAcceptableValue',
];
const reading: ItemFn<Reading> = (r, o, path) => ({
  kind: kindOf(o),
  readingIdentifier: optStr(r, o, 'ReadingIdentifier', path),
  timeRecorded: optDate(r, o, 'TimeRecorded', path),
  readingSequence: optInt(r, o, 'ReadingSequence', path),
  result: optEnum(r, o, 'Result', path, TEST_RESULT),
  unitIdentifier: optStr(r, o, 'UnitIdentifier', path),
  unitPositionNumber: optInt(r, o, 'UnitPositionNumber', path),
  components: list(r, o, 'Components', path, componentDesignator),
  valueDataType: openEnum(r, o, 'ValueDataType', path, DATA_TYPE),
  valueUnits: optStr(r, o, 'ValueUnits', path),
  valueMimeType: optStr(r, o, 'ValueMimeType', path),
  value: readingText(r, o, 'Value', path),
  binaryValue: optStr(r, o, 'BinaryValue', path),
  expectedValue: readingText(r, o, 'ExpectedValue', path),
  expectedValueUnits: optStr(r, o, 'ExpectedValueUnits', path),
  minimumAcceptableValue: readingText(r, o, 'MinimumAcceptableValue', path),
  maximumAcceptableValue: readingText(r, o, 'MaximumAcceptableValue', path),
  extra: extraOf(o, READING_KEYS),
});

function resourceState(r: Reader, o: Obj, key: string, path: string): ResourceStateInfo {
  const v = field(r, o, key, path);
  const placeholder: ResourceStateInfo = { code: 6000, e10: 'NonScheduled' };
  if (isAbsent(v)) {
    r.fail(at(path, key), 'required', 'required ResourceState (e.g. "1100" or 1100)');
    return placeholder;
  }
  if (typeof v !== 'string' && typeof v !== 'number') {
    r.fail(at(path, key), 'type', `expected ResourceState string or number, got ${describe(v)}`);
    return placeholder;
  }
  try {
    return parseResourceState(v);
  } catch (err) {
    r.fail(at(path, key), 'enum', (err as Error).message);
    return placeholder;
  }
}

/** Unit-list messages must identify something: a carrier/panel barcode or at least one unit. */
function requireSomeIdentifier(r: Reader, primary: string | null, units: UnitPosition[], path: string): void {
  if ((primary === null || primary.trim() === '') && units.length === 0) {
    r.fail(at(path, 'PrimaryIdentifier'), 'required', 'required string when Units is empty');
  }
}

// ---------------------------------------------------------------------------------------------
// Message mappers
// ---------------------------------------------------------------------------------------------

type BodyFn<K extends SupportedMessageName> = (r: Reader, body: Obj, path: string) => CfxBodies[K];

const unitsMoved = (r: Reader, b: Obj, p: string): UnitsMovedBody => {
  const out = {
    primaryIdentifier: optStr(r, b, 'PrimaryIdentifier', p),
    hermesIdentifier: optStr(r, b, 'HermesIdentifier', p),
    lane: optInt(r, b, 'Lane', p),
    units: list(r, b, 'Units', p, unitPosition),
  };
  requireSomeIdentifier(r, out.primaryIdentifier, out.units, p);
  return out;
};

const msdMessage = (r: Reader, b: Obj, p: string) => ({ materials: list(r, b, 'Materials', p, materialPackageDetail, true) });

/** Sets up TransactionId handling for messages whose per-unit records may omit UnitIdentifier. */
function withTransaction(r: Reader, b: Obj, p: string, key: 'TransactionId' | 'TransactionID'): string | null {
  const id = guidish(r, b, key, p, false);
  r.hasTransaction = id !== null;
  return id;
}

const MAPPERS: { [K in SupportedMessageName]: { request: boolean; fn: BodyFn<K> } } = {
  'CFX.Production.UnitsArrived': { request: false, fn: unitsMoved },
  'CFX.Production.UnitsDeparted': { request: false, fn: unitsMoved },
  'CFX.Production.WorkStarted': {
    request: false,
    fn: (r, b, p) => ({
      transactionId: guidish(r, b, 'TransactionID', p, true) ?? '',
      primaryIdentifier: optStr(r, b, 'PrimaryIdentifier', p),
      hermesIdentifier: optStr(r, b, 'HermesIdentifier', p),
      lane: optInt(r, b, 'Lane', p),
      units: list(r, b, 'Units', p, unitPosition),
      recipeName: optStr(r, b, 'RecipeName', p),
      revision: optStr(r, b, 'Revision', p),
      relevantSurface: openEnum(r, b, 'RelevantSurface', p, SURFACE),
      workOrderIdentifier: optObj(r, b, 'WorkOrderIdentifier', p, workOrderIdentifier),
    }),
  },
  'CFX.Production.WorkCompleted': {
    request: false,
    fn: (r, b, p) => ({
      transactionId: guidish(r, b, 'TransactionID', p, true) ?? '',
      result: reqEnum(r, b, 'Result', p, WORK_RESULT),
      primaryIdentifier: optStr(r, b, 'PrimaryIdentifier', p),
      hermesIdentifier: optStr(r, b, 'HermesIdentifier', p),
      units: list(r, b, 'Units', p, unitPosition),
      stage: optObj(r, b, 'Stage', p, stage),
      performanceImpacts: list(r, b, 'PerformanceImpacts', p, (r2, o2, p2) => ({ cause: optStr(r2, o2, 'Cause', p2) })),
    }),
  },
  'CFX.Production.UnitsDisqualified': {
    request: false,
    fn: (r, b, p) => {
      const out = {
        primaryIdentifier: optStr(r, b, 'PrimaryIdentifier', p),
        hermesIdentifier: optStr(r, b, 'HermesIdentifier', p),
        reason: openEnum(r, b, 'Reason', p, DISQUALIFICATION_REASON),
        comments: optStr(r, b, 'Comments', p),
        units: list(r, b, 'Units', p, unitPosition),
      };
      requireSomeIdentifier(r, out.primaryIdentifier, out.units, p);
      return out;
    },
  },
  'CFX.Production.Processing.UnitsProcessed': {
    request: false,
    fn: (r, b, p) => ({
      transactionId: withTransaction(r, b, p, 'TransactionId'),
      overallResult: reqEnum(r, b, 'OverallResult', p, PROCESSING_RESULT),
      commonProcessData: optObj(r, b, 'CommonProcessData', p, polymorphic),
      unitProcessData: list(r, b, 'UnitProcessData', p, (r2, o2, p2) => ({
        unitIdentifier: unitIdForRecord(r2, o2, p2),
        unitPositionNumber: optInt(r2, o2, 'UnitPositionNumber', p2),
        unitResult: optEnum(r2, o2, 'UnitResult', p2, PROCESSING_RESULT),
        unitProcessData: optObj(r2, o2, 'UnitProcessData', p2, polymorphic),
      })),
    }),
  },
  'CFX.Production.RecipeActivated': {
    request: false,
    fn: (r, b, p) => ({
      recipeName: reqStr(r, b, 'RecipeName', p),
      revision: optStr(r, b, 'Revision', p),
      lane: optInt(r, b, 'Lane', p),
      stage: optObj(r, b, 'Stage', p, stage),
      expectedCycleTime: optNum(r, b, 'ExpectedCycleTime', p),
      expectedWorkTime: optNum(r, b, 'ExpectedWorkTime', p),
      expectedUnitsPerWorkTransaction: optNum(r, b, 'ExpectedUnitsPerWorkTransaction', p),
      numberOfComponentsPerUnit: optNum(r, b, 'NumberOfComponentsPerUnit', p),
      workOrderIdentifier: optObj(r, b, 'WorkOrderIdentifier', p, workOrderIdentifier),
      targetQuantity: optNum(r, b, 'TargetQuantity', p),
      relevantSurface: openEnum(r, b, 'RelevantSurface', p, SURFACE),
      recipeStagesInformation: list(r, b, 'RecipeStagesInformation', p, (r2, o2, p2) => ({
        stage: optObj(r2, o2, 'Stage', p2, stage),
        expectedCycleTime: optNum(r2, o2, 'ExpectedCycleTime', p2),
        expectedWorkTime: optNum(r2, o2, 'ExpectedWorkTime', p2),
        numberOfComponentsPerUnit: optNum(r2, o2, 'NumberOfComponentsPerUnit', p2),
      })),
    }),
  },
  'CFX.Sensor.Identification.IdentifiersRead': {
    request: false,
    fn: (r, b, p) => {
      const out = {
        primaryIdentifier: optStr(r, b, 'PrimaryIdentifier', p),
        hermesIdentifier: optStr(r, b, 'HermesIdentifier', p),
        units: list(r, b, 'Units', p, unitPosition),
      };
      requireSomeIdentifier(r, out.primaryIdentifier, out.units, p);
      return out;
    },
  },
  'CFX.Materials.Storage.MaterialsLoaded': {
    request: false,
    fn: (r, b, p) => ({ materials: list(r, b, 'Materials', p, materialLocation, true) }),
  },
  'CFX.Materials.Storage.MaterialsUnloaded': {
    request: false,
    fn: (r, b, p) => ({ materialPackageIdentifiers: stringList(r, b, 'MaterialPackageIdentifiers', p, true) }),
  },
  'CFX.Materials.Storage.MaterialsEmpty': {
    request: false,
    fn: (r, b, p) => ({ emptyMaterials: list(r, b, 'EmptyMaterials', p, materialLocation, true) }),
  },
  'CFX.Materials.Storage.SplicePointDetected': {
    request: false,
    fn: (r, b, p) => ({
      depletedMaterial: reqObj(r, b, 'DepletedMaterial', p, materialLocation),
      newlyActiveMaterial: reqObj(r, b, 'NewlyActiveMaterial', p, materialLocation),
    }),
  },
  'CFX.Materials.Management.MaterialsJoined': {
    request: false,
    fn: (r, b, p) => ({
      leadingMaterialPackage: reqObj(r, b, 'LeadingMaterialPackage', p, materialPackage),
      trailingMaterialPackage: reqObj(r, b, 'TrailingMaterialPackage', p, materialPackage),
    }),
  },
  'CFX.Materials.Management.MaterialsSplit': {
    request: false,
    fn: (r, b, p) => ({
      sourceMaterialPackageIdentifier: reqStr(r, b, 'SourceMaterialPackageIdentifier', p),
      sourceMaterialPackageRemainingQuantity: optNum(r, b, 'SourceMaterialPackageRemainingQuantity', p),
      newMaterialPackageIdentifier: reqStr(r, b, 'NewMaterialPackageIdentifier', p),
      newMaterialPackageQuantity: optNum(r, b, 'NewMaterialPackageQuantity', p),
    }),
  },
  'CFX.Materials.Management.MSDManagement.MaterialsOpened': { request: false, fn: msdMessage },
  'CFX.Materials.Management.MSDManagement.MaterialsPlacedInDryStorage': { request: false, fn: msdMessage },
  'CFX.Materials.Management.MSDManagement.MaterialsRemovedFromDryStorage': { request: false, fn: msdMessage },
  'CFX.Materials.Management.MSDManagement.MaterialsExpired': { request: false, fn: msdMessage },
  'CFX.Materials.Management.MSDManagement.MaterialsRestored': { request: false, fn: msdMessage },
  'CFX.Production.Assembly.MaterialsInstalled': {
    request: false,
    fn: (r, b, p) => ({
      transactionId: withTransaction(r, b, p, 'TransactionId'),
      installedMaterials: list(r, b, 'InstalledMaterials', p, installedMaterial, true),
    }),
  },
  'CFX.Production.Assembly.MaterialsUninstalled': {
    request: false,
    fn: (r, b, p) => ({
      transactionId: withTransaction(r, b, p, 'TransactionId'),
      uninstalledMaterials: list(r, b, 'UninstalledMaterials', p, uninstalledMaterial, true),
    }),
  },
  'CFX.Production.Application.MaterialsApplied': {
    request: false,
    fn: (r, b, p) => ({
      transactionId: withTransaction(r, b, p, 'TransactionId'),
      appliedMaterials: list(r, b, 'AppliedMaterials', p, installedMaterial, true),
    }),
  },
  'CFX.Production.TestAndInspection.UnitsInspected': {
    request: false,
    fn: (r, b, p) => ({
      transactionId: withTransaction(r, b, p, 'TransactionId'),
      inspectionMethod: reqEnum(r, b, 'InspectionMethod', p, INSPECTION_METHOD),
      samplingInformation: optObj(r, b, 'SamplingInformation', p, samplingInformation),
      inspector: optObj(r, b, 'Inspector', p, operator),
      recipeName: optStr(r, b, 'RecipeName', p),
      recipeRevision: optStr(r, b, 'RecipeRevision', p),
      inspectedUnits: list(r, b, 'InspectedUnits', p, inspectedUnit),
      inspectedPanel: optObj(r, b, 'InspectedPanel', p, inspectedPanel),
    }),
  },
  'CFX.Production.TestAndInspection.UnitsTested': {
    request: false,
    fn: (r, b, p) => ({
      transactionId: withTransaction(r, b, p, 'TransactionId'),
      testMethod: reqEnum(r, b, 'TestMethod', p, TEST_METHOD),
      tester: optObj(r, b, 'Tester', p, operator),
      recipeName: optStr(r, b, 'RecipeName', p),
      recipeRevision: optStr(r, b, 'RecipeRevision', p),
      samplingInformation: optObj(r, b, 'SamplingInformation', p, samplingInformation),
      testedUnits: list(r, b, 'TestedUnits', p, testedUnit),
    }),
  },
  'CFX.Production.ReworkAndRepair.UnitsRepaired': {
    request: false,
    fn: (r, b, p) => ({
      transactionId: withTransaction(r, b, p, 'TransactionId'),
      repairOperator: optObj(r, b, 'RepairOperator', p, operator),
      repairedUnits: list(r, b, 'RepairedUnits', p, repairedUnit),
    }),
  },
  'CFX.Production.ReadingsRecorded': {
    request: false,
    fn: (r, b, p) => ({
      transactionId: guidish(r, b, 'TransactionId', p, false),
      readings: list(r, b, 'Readings', p, reading, true),
    }),
  },
  'CFX.ResourcePerformance.StationStateChanged': {
    request: false,
    fn: (r, b, p) => ({
      oldState: resourceState(r, b, 'OldState', p),
      oldStateDurationMs: optSpan(r, b, 'OldStateDuration', p),
      newState: resourceState(r, b, 'NewState', p),
      relatedFault: optObj(r, b, 'RelatedFault', p, fault),
    }),
  },
  'CFX.ResourcePerformance.FaultOccurred': {
    request: false,
    fn: (r, b, p) => ({ fault: reqObj(r, b, 'Fault', p, fault) }),
  },
  'CFX.ResourcePerformance.FaultCleared': {
    request: false,
    fn: (r, b, p) => ({
      faultOccurrenceId: guidish(r, b, 'FaultOccurrenceId', p, true) ?? '',
      operator: optObj(r, b, 'Operator', p, operator),
    }),
  },
  'CFX.ResourcePerformance.FaultAcknowledged': {
    request: false,
    fn: (r, b, p) => ({
      faultOccurrenceId: guidish(r, b, 'FaultOccurrenceId', p, true) ?? '',
      operator: optObj(r, b, 'Operator', p, operator),
    }),
  },
  'CFX.ResourcePerformance.StationOnline': {
    request: false,
    fn: (r, b, p) => ({ offlineDurationMs: optSpan(r, b, 'OfflineDuration', p) }),
  },
  'CFX.ResourcePerformance.StationOffline': { request: false, fn: () => ({}) },
  'CFX.Heartbeat': {
    request: false,
    fn: (r, b, p) => ({
      cfxHandle: optStr(r, b, 'CFXHandle', p),
      heartbeatFrequencyMs: optSpan(r, b, 'HeartbeatFrequency', p),
      activeFaults: list(r, b, 'ActiveFaults', p, fault),
      activeRecipes: list(r, b, 'ActiveRecipes', p, (_r2, o2) => extraOf(o2, [])),
    }),
  },
  'CFX.EndpointConnected': {
    request: false,
    fn: (r, b, p) => ({
      cfxHandle: reqStr(r, b, 'CFXHandle', p),
      requestNetworkUri: optStr(r, b, 'RequestNetworkUri', p),
      requestTargetAddress: optStr(r, b, 'RequestTargetAddress', p),
    }),
  },
  'CFX.EndpointShuttingDown': { request: false, fn: (r, b, p) => ({ cfxHandle: reqStr(r, b, 'CFXHandle', p) }) },
  'CFX.InformationSystem.UnitValidation.ValidateUnitsRequest': {
    request: true,
    fn: (r, b, p) => {
      const validations: ValidationType[] = [];
      const raw = field(r, b, 'Validations', p);
      if (Array.isArray(raw)) {
        raw.forEach((v, i) => {
          const parsed = parseEnum(VALIDATION_TYPE, v);
          if (parsed === null) enumError(r, VALIDATION_TYPE, `${at(p, 'Validations')}[${i}]`, v);
          else validations.push(parsed);
        });
      } else if (!isAbsent(raw)) {
        r.fail(at(p, 'Validations'), 'type', `expected array of ValidationType, got ${describe(raw)}`);
      }
      const out = {
        validations,
        primaryIdentifier: optStr(r, b, 'PrimaryIdentifier', p),
        hermesIdentifier: optStr(r, b, 'HermesIdentifier', p),
        units: list(r, b, 'Units', p, unitPosition),
        lane: optInt(r, b, 'Lane', p),
      };
      requireSomeIdentifier(r, out.primaryIdentifier, out.units, p);
      return out;
    },
  },
  'CFX.Materials.Storage.ValidateStationSetupRequest': {
    request: true,
    fn: (r, b, p) => ({
      setupRequirements: reqObj(r, b, 'SetupRequirements', p, (r2, o2, p2) => ({
        lane: optInt(r2, o2, 'Lane', p2),
        stage: optObj(r2, o2, 'Stage', p2, stage),
        setupName: optStr(r2, o2, 'SetupName', p2),
        materialSetupRequirements: list(r2, o2, 'MaterialSetupRequirements', p2, (r3, o3, p3) => ({
          position: optStr(r3, o3, 'Position', p3),
          partNumber: optStr(r3, o3, 'PartNumber', p3),
          approvedAlternateParts: stringList(r3, o3, 'ApprovedAlternateParts', p3),
          approvedManufacturerParts: stringList(r3, o3, 'ApprovedManufacturerParts', p3),
        })),
        toolSetupRequirements: list(r2, o2, 'ToolSetupRequirements', p2, (r3, o3, p3) => ({
          position: optStr(r3, o3, 'Position', p3),
          partNumber: optStr(r3, o3, 'PartNumber', p3),
          toolIdentifier: optStr(r3, o3, 'ToolIdentifier', p3),
        })),
      })),
    }),
  },
  'CFX.Production.GetRequiredSetupRequest': {
    request: true,
    fn: (r, b, p) => ({ lane: optInt(r, b, 'Lane', p), stage: optObj(r, b, 'Stage', p, stage) }),
  },
  'CFX.GetEndpointInformationRequest': { request: true, fn: (r, b, p) => ({ cfxHandle: optStr(r, b, 'CFXHandle', p) }) },
  'CFX.AreYouThereRequest': { request: true, fn: (r, b, p) => ({ cfxHandle: optStr(r, b, 'CFXHandle', p) }) },
  'CFX.WhoIsThereRequest': {
    request: true,
    fn: (r, b, p) => ({
      supportedTopicQueryType: openEnum(r, b, 'SupportedTopicQueryType', p, SUPPORTED_TOPIC_QUERY_TYPE),
      supportedTopics: list(r, b, 'SupportedTopics', p, (r2, o2, p2) => ({
        topicName: optStr(r2, o2, 'TopicName', p2),
        topicSupportType: openEnum(r2, o2, 'TopicSupportType', p2, TOPIC_SUPPORT_TYPE),
        supportedMessages: stringList(r2, o2, 'SupportedMessages', p2),
      })),
    }),
  },
};

function makeSpec<K extends SupportedMessageName>(name: K): MessageSpec<K> {
  const { request, fn } = MAPPERS[name];
  return {
    name,
    request,
    map(body, options = {}) {
      const r = new Reader(options.zonelessOffsetMinutes ?? 0);
      if (!isPlainObject(body)) {
        r.fail('MessageBody', 'type', `expected object, got ${describe(body)}`);
        return { ok: false, errors: r.errors };
      }
      const value = fn(r, body, 'MessageBody');
      return r.errors.length > 0 ? { ok: false, errors: r.errors } : { ok: true, value };
    },
  };
}

/** The messages the MES validates and maps, by full CFX name. */
export const SUPPORTED_MESSAGES: { readonly [K in SupportedMessageName]: MessageSpec<K> } = Object.freeze(
  Object.fromEntries(Object.keys(MAPPERS).map((name) => [name, makeSpec(name as SupportedMessageName)])) as {
    [K in SupportedMessageName]: MessageSpec<K>;
  },
);

/** True when `name` is one of SUPPORTED_MESSAGES. */
export function isSupportedMessage(name: string): name is SupportedMessageName {
  return Object.hasOwn(SUPPORTED_MESSAGES, name);
}

/**
 * How the ingestion layer must treat a message name: `supported` → validate and process;
 * `request-unsupported` → answer CFX.NotSupportedResponse; `unsupported` → record as received
 * but not interpreted.
 */
export function classifyMessage(name: string): 'supported' | 'request-unsupported' | 'unsupported' {
  if (isSupportedMessage(name)) return 'supported';
  return name.endsWith('Request') ? 'request-unsupported' : 'unsupported';
}

/**
 * Validates a decoded envelope's body against its message definition and returns the typed
 * message, or every field error found (not just the first) so one reply can tell a vendor all
 * that is wrong. Unsupported names yield one error with code `unsupported`.
 */
export function validateMessage(
  env: Pick<CfxEnvelope, 'messageName' | 'body'>,
  options: ValidateOptions = {},
): { ok: true; message: TypedMessage } | { ok: false; errors: CfxFieldError[] } {
  if (!isSupportedMessage(env.messageName)) {
    return {
      ok: false,
      errors: [{ field: 'MessageName', code: 'unsupported', message: `MessageName: ${env.messageName} is not supported by this MES` }],
    };
  }
  const spec = SUPPORTED_MESSAGES[env.messageName] as MessageSpec<SupportedMessageName>;
  const result = spec.map(env.body, options);
  if (!result.ok) return result;
  return { ok: true, message: { name: env.messageName, body: result.value } as TypedMessage };
}
