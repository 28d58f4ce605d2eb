import type { WebModule } from '../../app/registry.ts';
import { R } from '../../roles.ts';
import { PartCheckPage } from './PartCheckPage.tsx';

/** Shop-floor tools. The operator station and setup verification screens join this section. */
export const floorModule: WebModule = {
  id: 'floor',
  screens: [
    { path: '/floor/avl-check', title: 'AVL check', roles: R.floor, component: PartCheckPage, nav: { section: 'floor', label: 'AVL check', order: 50, description: 'Scan a part number and a reel MPN' } },
  ],
};
