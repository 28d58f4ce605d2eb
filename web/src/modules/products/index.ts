import type { WebModule } from '../../app/registry.ts';
import { R } from '../../roles.ts';
import { ProductPage } from './ProductPage.tsx';
import { ProductsPage } from './ProductsPage.tsx';
import { RevisionPage } from './RevisionPage.tsx';

/** Products, revisions, BOM (view and CSV import), route, programs, quality plan, release. */
export const productsModule: WebModule = {
  id: 'products',
  screens: [
    { path: '/products', title: 'Products', roles: R.masterDataRead, component: ProductsPage, nav: { section: 'master-data', label: 'Products', order: 10, description: 'Revisions, BOM, route, programs and release' } },
    { path: '/products/:id', title: 'Product', roles: R.masterDataRead, component: ProductPage, menu: '/products' },
    { path: '/revisions/:id/:tab?', title: 'Product revision', roles: R.masterDataRead, component: RevisionPage, menu: '/products' },
  ],
};
