import type { WebModule } from './registry.ts';
import { homeModule } from '../modules/home/index.ts';
import { floorModule } from '../modules/floor/index.ts';
import { masterDataModule } from '../modules/master-data/index.ts';
import { productsModule } from '../modules/products/index.ts';
import { adminModule } from '../modules/admin/index.ts';
import { dashboardModule } from '../modules/dashboard/index.ts';
import { productionModule } from '../modules/production/index.ts';
import { qualityModule } from '../modules/quality/index.ts';
import { shippingModule } from '../modules/shipping/index.ts';
import { materialsModule } from '../modules/materials/index.ts';
import { reportsModule } from '../modules/reports/index.ts';
import { traceabilityModule } from '../modules/traceability/index.ts';

/**
 * Every screen module of the UI. To add one: create web/src/modules/<name>/index.ts exporting
 * a WebModule (its screens, their roles and menu entries) and list it here.
 */
export const MODULES: WebModule[] = [homeModule, dashboardModule, floorModule, productionModule, productsModule, masterDataModule, adminModule, qualityModule, shippingModule, materialsModule, traceabilityModule, reportsModule];
