/** Work orders and their frozen build basis. Other modules import only this file. */
export {
  createWorkOrdersService, legalActions, TRANSITIONS, WORK_ORDER_ACTIONS, WORK_ORDER_STATES,
  type WorkOrdersService, type WorkOrdersOptions, type WorkOrder, type WorkOrderInput, type WorkOrderPatch, type WorkOrderState, type WorkOrderAction,
  type StoredBasis, type ImportResult,
} from './service.ts';
export { registerWorkOrdersRoutes, WorkOrderSchema } from './routes.ts';
export { basisHash, canonicalJson, parseBasis, DEFAULT_PROGRAM_REQUIRED_FOR, type BuildBasis, type BasisStep, type ParsedBasis, type BasisAvlEntry } from './basis.ts';
export { checkSerialPattern, renderSerial, checkChar, verifyCheckChar, DEFAULT_SERIAL_PATTERN, type SerialVars } from './serial.ts';
export { parseWorkOrderFile, IMPORT_FORMATS, type ImportFormat, type WorkOrderImportRow } from './import.ts';
