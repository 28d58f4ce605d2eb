import type { WebModule } from '../../app/registry.ts';
import { AlertsPage } from './AlertsPage.tsx';
import { QUALITY_ROLES } from './api.ts';
import { DispositionsPage } from './DispositionsPage.tsx';
import { FirstArticlePage } from './FirstArticlePage.tsx';
import { HoldsPage } from './HoldsPage.tsx';
import { NcrPage } from './NcrPage.tsx';
import { NcrsPage } from './NcrsPage.tsx';
import { ReviewPage } from './ReviewPage.tsx';

/** The quality office: defect review, dispositions, NCRs, holds, rule alerts, first article. */
export const qualityModule: WebModule = {
  id: 'quality',
  screens: [
    { path: '/quality/review', title: 'Defect review', roles: QUALITY_ROLES.verify, component: ReviewPage, nav: { section: 'quality', label: 'Defect review', order: 10, description: 'Confirm machine calls or mark false calls' } },
    { path: '/quality/dispositions', title: 'Dispositions', roles: QUALITY_ROLES.read, component: DispositionsPage, nav: { section: 'quality', label: 'Dispositions', order: 20, description: 'Repair, retest, scrap or use as is' } },
    { path: '/quality/ncrs', title: 'NCRs', roles: QUALITY_ROLES.read, component: NcrsPage, nav: { section: 'quality', label: 'NCRs', order: 30, description: 'Nonconformance reports with signed closure' } },
    { path: '/quality/ncrs/:id', title: 'NCR', roles: QUALITY_ROLES.read, component: NcrPage, menu: '/quality/ncrs' },
    { path: '/quality/holds', title: 'Holds', roles: QUALITY_ROLES.read, component: HoldsPage, nav: { section: 'quality', label: 'Holds', order: 40, description: 'Place and release holds' } },
    { path: '/quality/alerts', title: 'Rule alerts', roles: QUALITY_ROLES.read, component: AlertsPage, nav: { section: 'quality', label: 'Rule alerts', order: 50, description: 'What the quality rules found' } },
    { path: '/quality/first-article', title: 'First article', roles: QUALITY_ROLES.read, component: FirstArticlePage, nav: { section: 'quality', label: 'First article', order: 60, description: 'Signed first-article decisions' } },
  ],
};
