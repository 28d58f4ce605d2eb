import type { WebModule } from '../../app/registry.ts';
import { AUDIT_ROLES, R } from '../../roles.ts';
import { AuditPage } from './AuditPage.tsx';
import { TokensPage } from './TokensPage.tsx';
import { UsersPage } from './UsersPage.tsx';

/** Users, API tokens and the audit trail. */
export const adminModule: WebModule = {
  id: 'admin',
  screens: [
    { path: '/admin/users', title: 'Users', roles: R.admin, component: UsersPage, nav: { section: 'admin', label: 'Users', order: 10, description: 'Accounts and roles' } },
    { path: '/admin/tokens', title: 'API tokens', roles: R.admin, component: TokensPage, nav: { section: 'admin', label: 'API tokens', order: 20, description: 'Machines, ERP and scripts' } },
    { path: '/admin/audit', title: 'Audit trail', roles: AUDIT_ROLES, component: AuditPage, nav: { section: 'admin', label: 'Audit trail', order: 30, description: 'Who changed what, when' } },
  ],
};
