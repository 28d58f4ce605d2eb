import type { WebModule } from '../../app/registry.ts';
import { R } from '../../roles.ts';
import { HomePage } from './HomePage.tsx';

export const homeModule: WebModule = {
  id: 'home',
  screens: [{ path: '/', title: 'Start', roles: R.people, component: HomePage, nav: { section: 'start', label: 'Start', order: 0 } }],
};
