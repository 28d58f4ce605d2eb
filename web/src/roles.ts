/**
 * Roles as the server defines them. Imported straight from the server's source so the two
 * cannot drift apart; the server stays the authority (every API call is checked there) and
 * the UI only uses these to decide what to offer.
 */
import { R, ROLES, USER_ROLES, type Role, type UserRole } from '../../src/platform/principal.ts';

export { R, ROLES, USER_ROLES };
export type { Role, UserRole };

/** A list of roles a screen or action is for. */
export type Roles = readonly Role[];

export function allows(roles: Roles | undefined, role: Role | string | undefined): boolean {
  if (!roles || !role) return false;
  return (roles as readonly string[]).includes(role);
}

const LABELS: Record<Role, string> = {
  admin: 'Administrator',
  planner: 'Planner',
  'process-engineer': 'Process engineer',
  'quality-engineer': 'Quality engineer',
  operator: 'Operator',
  technician: 'Technician',
  viewer: 'Viewer',
  machine: 'Machine',
  integration: 'Integration',
};

export function roleLabel(role: string): string {
  return LABELS[role as Role] ?? role;
}

/** Roles allowed to change the alternate permissions of the AVL (mirrors the parts routes). */
export const AVL_PERMISSION_ROLES: Roles = ['admin', 'process-engineer', 'quality-engineer'];
/** Roles allowed to edit a quality plan (mirrors the products routes). */
export const QUALITY_PLAN_ROLES: Roles = ['admin', 'process-engineer', 'quality-engineer'];
/** Roles allowed to read the audit trail (mirrors the audit routes). */
export const AUDIT_ROLES: Roles = ['admin', 'quality-engineer'];
