import type { WebModule } from '../../app/registry.ts';
import { R } from '../../roles.ts';
import { OperatorPage } from './OperatorPage.tsx';
import { PartCheckPage } from './PartCheckPage.tsx';
import { SetupPage } from './SetupPage.tsx';

/** Shop-floor tools: the operator station, setup verification and the AVL check. */
export const floorModule: WebModule = {
  id: 'floor',
  screens: [
    {
      path: '/floor/station/:code?', title: 'Operator station', roles: R.floor, component: OperatorPage,
      nav: { section: 'floor', label: 'Operator station', order: 10, description: 'Scan units, go / no-go, pass or fail', to: '/floor/station' },
    },
    {
      path: '/floor/setup', title: 'Setup verification', roles: R.floor, component: SetupPage,
      nav: { section: 'floor', label: 'Setup verification', order: 20, description: 'Scan slot and reel; changeover checklist' },
    },
    { path: '/floor/avl-check', title: 'AVL check', roles: R.floor, component: PartCheckPage, nav: { section: 'floor', label: 'AVL check', order: 50, description: 'Scan a part number and a reel MPN' } },
  ],
};
