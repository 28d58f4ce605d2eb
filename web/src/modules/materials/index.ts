import type { WebModule } from '../../app/registry.ts';
import { MATERIALS_ROLES } from './api.ts';
import { BakesPage } from './BakesPage.tsx';
import { InventoryPage } from './InventoryPage.tsx';
import { MslPage } from './MslPage.tsx';
import { PasteStencilsPage } from './PasteStencilsPage.tsx';
import { ReceivePage } from './ReceivePage.tsx';

/** Materials: receiving by label scan, package labels, inventory, MSL countdowns, bakes, paste and stencils. */
export const materialsModule: WebModule = {
  id: 'materials',
  screens: [
    { path: '/materials/receive', title: 'Receive', roles: MATERIALS_ROLES.stores, component: ReceivePage, nav: { section: 'materials', label: 'Receive', order: 10, description: 'Scan the manufacturer label' } },
    { path: '/materials/inventory', title: 'Inventory', roles: MATERIALS_ROLES.read, component: InventoryPage, nav: { section: 'materials', label: 'Inventory', order: 20, description: 'Packages, stock per part and place' } },
    { path: '/materials/msl', title: 'MSL floor life', roles: MATERIALS_ROLES.read, component: MslPage, nav: { section: 'materials', label: 'MSL floor life', order: 30, description: 'Countdowns of exposed packages' } },
    { path: '/materials/bakes', title: 'Bakes', roles: MATERIALS_ROLES.read, component: BakesPage, nav: { section: 'materials', label: 'Bakes', order: 40, description: 'Bake records' } },
    { path: '/materials/paste-stencils', title: 'Paste and stencils', roles: MATERIALS_ROLES.read, component: PasteStencilsPage, nav: { section: 'materials', label: 'Paste and stencils', order: 50, description: 'Thaw, open time, cleaning' } },
  ],
};
