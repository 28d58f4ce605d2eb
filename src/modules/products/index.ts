export {
  createProductsService, type ProductsService, type Product, type ProductRevision, type BomLine, type Route, type RouteStep,
  type RouteStepInput, type Program, type ProgramInput, type QualityPlan, type ParameterRange, TRACE_PACKAGE_SECTIONS,
} from './service.ts';
export { registerProductsRoutes } from './routes.ts';
export { mergeBomErrors, parseBomCsv, parseRefdes, validateBomLines, BOM_FIELDS, type BomLineInput, type BomField } from './bom.ts';
