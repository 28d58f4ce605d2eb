/**
 * Equipment performance: SEMI E10 state timeline, faults, connectivity, recipes, counts,
 * readings; downtime and OEE. Other modules import only this file.
 */
export {
  createEquipmentService, E10_STATES, FAULT_SEVERITIES, type EquipmentService, type E10, type MachineRef, type StateChangeInput, type FaultInput,
  type ReadingInput, type MovementInput, type CountInput, type RecipeInput, type StateInterval, type FaultRecord, type Downtime, type OeeBucket, type ReadingRow,
} from './service.ts';
export { registerEquipmentRoutes } from './routes.ts';
