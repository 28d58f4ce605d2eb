import type { WebModule } from '../../app/registry.ts';
import { R } from '../../roles.ts';
import { AvlPage } from './AvlPage.tsx';
import { FactoryPage } from './FactoryPage.tsx';
import { ImportPage } from './ImportPage.tsx';
import { PartsPage } from './PartsPage.tsx';

/** Factory layout, parts, AVL and master-data imports. */
export const masterDataModule: WebModule = {
  id: 'master-data',
  screens: [
    { path: '/parts', title: 'Parts', roles: R.masterDataRead, component: PartsPage, nav: { section: 'master-data', label: 'Parts', order: 20, description: 'Internal part numbers, packages and MSL levels' } },
    { path: '/avl', title: 'AVL', roles: R.masterDataRead, component: AvlPage, nav: { section: 'master-data', label: 'AVL', order: 30, description: 'Approved manufacturer parts and alternates' } },
    { path: '/factory/:tab?', title: 'Factory', roles: R.masterDataRead, component: FactoryPage, nav: { section: 'master-data', label: 'Factory', order: 40, description: 'Sites, lines, stations and equipment' } },
    { path: '/import', title: 'Import', roles: R.masterDataWrite, component: ImportPage, nav: { section: 'master-data', label: 'Import', order: 50, description: 'Factory document, parts and AVL files' } },
  ],
};
