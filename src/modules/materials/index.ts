/**
 * Materials: the public face. Other modules import only from here.
 *
 * - receiving (EIGP 114 label scan or fields), lots with a simple hold, packages with location,
 *   status and an append-only quantity / movement log; split, merge, corrections, consumption;
 * - MES package labels (ZPL / PNG / PDF, raw printing);
 * - moisture-sensitive devices: MSD events, bakes, floor life at any instant (injectable clock);
 * - solder paste and stencils with validity checks, mounted on printers over time;
 * - feeder setup verification against a program (`verifyLoad`), setup completeness
 *   (`setupStatus`), splices, and the setup history per slot (`candidatesAt`);
 * - the setup interlock rules (SETUP_INCOMPLETE, SETUP_PROGRAM_MISMATCH, STENCIL_NOT_READY,
 *   PASTE_NOT_READY) registered into tracking by `registerMaterialsInterlockRules`;
 * - material-to-board trace: M3 installs (`recordInstalls`, `recordUninstalls`, `recordApplied`),
 *   `unitMaterials` (M3 over M2 per reference designator), `materialWhereUsed`, `usageLog`;
 * - `shortages`: open work orders' remaining need against usable stock.
 * See README.md.
 */
export {
  createMaterialsService, MANUAL_MSD_EVENTS, type MaterialsService, type MaterialsOptions, type MaterialsDeps, type MaterialLot, type ReceiveInput,
  type ReceiveByLabelInput, type ReceiveResult, type Movement, type BakeRecord, type StockRow, type MaterialWarning, type ManualMsdEvent,
  type EmptyResult, type SpliceInput, type SpliceResult,
} from './service.ts';
export { registerMaterialsRoutes } from './routes.ts';
export { registerMaterialsInterlockRules, materialsInterlockRules, type SetupInterlockScope } from './interlock.ts';
export {
  LOAD_REFUSAL_REASONS, CONSUMABLE_PROBLEMS, MATERIALS_INTERLOCK_REASONS, loadRefusal, type MaterialsInterlockCode, type LoadRefusal, type LoadRefusalCode, type ConsumableProblem, type ConsumableProblemCode,
} from './reasons.ts';
export type { LoadInput, LoadVerdict, LoadAttempt, SetupInterval, SetupStatus, SlotStatus, SlotPackageStatus } from './setups.ts';
export type {
  UnitMaterial, UnitMaterialCandidate, MaterialWhereUsedQuery, MaterialWhereUsed, UsageLogRow, InstallInput, UninstallInput, ApplyInput, InstallRecord,
} from './trace.ts';
export type { ShortageWarning } from './shortage.ts';
export { PASTE_DEFAULTS, type Stencil, type StencilInput, type ConsumableCheck, type ConsumableMount } from './consumables.ts';
export {
  PACKAGE_KINDS, PACKAGE_STATUSES, type MaterialPackage, type PackageKind, type PackageStatus, type PackageLocation, type LocationInput, type LocationKind,
  type MsdView, type PasteInfo,
} from './packages.ts';
/** The raw network label printer client (ZPL to host:9100), also used for carton labels. */
export { sendZplToPrinter, PrinterError, type PrinterErrorCode } from './lib/labels.ts';
